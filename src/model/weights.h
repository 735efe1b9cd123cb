/* The model's weights: typed views into the mapped checkpoint, bound by name
 * and checked against the config's shapes. Nothing is copied, except what
 * the backend packs for itself (qw_weights_pack). */
#ifndef QW_MODEL_WEIGHTS_H
#define QW_MODEL_WEIGHTS_H

#include "format/config.h"
#include "format/safetensors.h"
#include "kernels/backend.h"

typedef struct {
    qw_mat gate, up, down;  /* [inter][hidden], [inter][hidden], [hidden][inter] */
} qw_mlp_weights;

typedef struct {
    qw_vec attn_norm, mlp_norm;
    qw_mat wq, wk, wv, wo;
    qw_vec bq, bk, bv;          /* Qwen2, and Qwen3 with attention_bias */
    qw_vec bo;                  /* Qwen3 with attention_bias only */
    qw_vec q_norm, k_norm;      /* Qwen3 only: per-head RMSNorm over head_dim */
    int is_moe;
    qw_mlp_weights mlp;         /* dense layers */
    qw_mat router;              /* MoE: [n_experts][hidden] */
    qw_mlp_weights *experts;    /* MoE: n_experts entries */
    int n_experts;
} qw_layer_weights;

typedef struct {
    qw_mat embed;               /* [vocab][hidden] */
    qw_vec final_norm;
    qw_mat lm_head;             /* the embedding itself when tied */
    qw_layer_weights *layers;
    int n_layers;
    int64_t n_params, n_params_active, n_bytes;
    /* Bytes one decoded token reads, as stored: every tensor of a dense layer,
     * the router and k of n_experts experts of a MoE layer, the lm_head, and
     * one row of the embedding (none extra when tied: the lm_head reads it all). */
    int64_t n_bytes_active;
    qw_dtype main_dtype;
    void *packed;               /* the backend's copies of the matrices (qw_weights_pack), one allocation */
    int64_t n_bytes_packed;
} qw_weights;

int qw_weights_bind(const qw_config *c, const qw_checkpoint *ck, const char *dir, qw_weights *w,
                    char *err, size_t errlen);
/* Has the backend lay out every matrix the forward pass multiplies by as
 * its matmul reads it fastest (qw_backend.pack), on the pool, all in one
 * allocation; the pages of a matrix so copied go back to ck
 * (qw_checkpoint_drop). 0, or QWENC_ENOMEM. */
int qw_weights_pack(qw_weights *w, const qw_checkpoint *ck, const qw_backend *be, qw_pool *pool, char *err,
                    size_t errlen);
void qw_weights_free(qw_weights *w);

#endif
