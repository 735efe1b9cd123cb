/* config.json (both the hub's style and newer transformers' style) and
 * generation_config.json, validated into one struct. */
#ifndef QW_FORMAT_CONFIG_H
#define QW_FORMAT_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "qwenc.h"

typedef enum { QW_ARCH_QWEN2, QW_ARCH_QWEN3, QW_ARCH_QWEN3_MOE } qw_arch;

/* More layers or experts than any model has, but few enough that tables
 * sized by them (allocated before a tensor is read) stay small: a hostile
 * config must not make the loader allocate gigabytes. */
#define QW_MAX_LAYERS 65536
#define QW_MAX_EXPERTS (1 << 20)

#define QW_MAX_EOS (int)(sizeof ((qwenc_gen_defaults *)0)->eos_ids / sizeof(int))

typedef struct {
    qw_arch arch;
    const char *arch_name;   /* "qwen3", "qwen2", "qwen3_moe" */
    int vocab_size;
    int hidden_size;
    int intermediate_size;
    int n_layers;
    int n_heads;
    int n_kv_heads;
    int head_dim;
    int max_position_embeddings;
    double rope_theta;
    double rms_norm_eps;
    int tie_word_embeddings;
    int attention_bias;      /* q/k/v biases (Qwen2 always; Qwen3 when attention_bias) */
    int qk_norm;             /* per-head RMSNorm on q and k (Qwen3) */
    int sliding_window;      /* 0 = full attention on every layer */
    int max_window_layers;
    /* mixture of experts (qwen3_moe) */
    int n_experts;
    int n_experts_per_tok;
    int moe_intermediate_size;
    int norm_topk_prob;
    int decoder_sparse_step;
    unsigned char *mlp_only;  /* n_layers flags: layer uses the dense MLP */
    int bos_id, eos_id;       /* -1 when absent */
    char dtype[16];           /* torch_dtype / dtype as written */
    qwenc_gen_defaults gen;   /* generation_config.json */
} qw_config;

/* The widest any dimension may be (vocab, hidden, intermediate, heads x
 * head_dim): a batch of 512 rows of it still counts in an int. Real models
 * are under 2^18. */
#define QW_MAX_DIM (1 << 21)

/* Every dimension within QW_MAX_DIM and the layers within QW_MAX_LAYERS,
 * products included; else QWENC_EFORMAT naming path and the field. */
int qw_config_check_dims(const char *path, const qw_config *c, char *err, size_t errlen);

/* Reads dir/config.json and dir/generation_config.json (optional). */
int qw_config_load(const char *dir, qw_config *c, char *err, size_t errlen);
void qw_config_free(qw_config *c);

/* The same from text in memory (path names the source in errors):
 * config.json into c (with default generation settings), then
 * generation_config.json's fields over c's generation settings. */
int qw_config_parse(const char *path, const char *text, size_t len, qw_config *c, char *err, size_t errlen);
int qw_config_parse_generation(const char *path, const char *text, size_t len, qw_config *c, char *err,
                               size_t errlen);

/* Generation defaults when no generation_config.json says otherwise:
 * transformers' GenerationConfig defaults (greedy), eos from the config. */
void qw_config_default_generation(qw_config *c);

/* Is layer i a mixture-of-experts layer? */
int qw_config_layer_is_moe(const qw_config *c, int layer);

#endif
