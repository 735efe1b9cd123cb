/* A loaded model: config, mapped checkpoint, bound weights, compute
 * resources. Read-only after load; sessions share it. */
#ifndef QW_MODEL_MODEL_H
#define QW_MODEL_MODEL_H

#include "format/config.h"
#include "format/safetensors.h"
#include "kernels/backend.h"
#include "model/kv_cache.h"
#include "model/weights.h"
#include "qwenc.h"

struct qwenc_model {
    char *dir;
    qw_config cfg;
    qw_checkpoint ck;
    qw_weights w;
    const qw_backend *be;
    qw_pool *pool;
    float *inv_freq;            /* head_dim / 2 RoPE frequencies */
    qwenc_tokenizer *tokenizer; /* NULL when the directory has none */
};

/* Longest batch evaluated in one forward pass; longer prompts are split. */
#define QW_MAX_BATCH 512

/* Evaluates ids[0..n) at positions n_past.. (n <= QW_MAX_BATCH), appending
 * their keys and values to kv. logits receives n rows of vocab_size when
 * logits_all, else only the last row; NULL skips the lm_head (a prompt
 * chunk whose logits nobody reads). */
int qw_forward(const qwenc_model *m, qw_kv_cache *kv, int n_past, const int32_t *ids, int n,
               float *logits, int logits_all, char *err, size_t errlen);

#endif
