/* Qwen3-MoE sparse MLP: a softmax router picks k experts per token; their
 * SwiGLU outputs are summed with the routing weights. */
#ifndef QW_MODEL_MOE_H
#define QW_MODEL_MOE_H

#include "format/config.h"
#include "kernels/backend.h"
#include "model/weights.h"

/* For each of n tokens, the top-k experts and their weights from router
 * logits [n][n_experts]: softmax in float32 over all experts, top-k (ties to
 * the lower index), renormalized to sum 1 when norm_topk_prob. */
void moe_route_topk(const float *router_logits, int n, int n_experts, int k, int norm_topk_prob,
                    int *expert_ids, float *expert_weights);

/* out[n][hidden] = sum over chosen experts of weight * expert(x). Tokens are
 * grouped by expert so that each expert's weights are read once per batch. */
int moe_forward(const qw_backend *be, qw_pool *pool, const qw_config *c, const qw_layer_weights *L,
                const float *x, float *out, int n);

#endif
