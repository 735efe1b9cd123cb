/* Plain scalar reference kernels: the definition of what each kernel
 * computes. Fast kernels are tested against these. */
#ifndef QW_KERNELS_CPU_REF_H
#define QW_KERNELS_CPU_REF_H

#include "kernels/backend.h"

void ref_row_to_f32(const qw_mat *w, int64_t row, float *out);
/* Float weights: a double-precision sum over the float32 values; Q8_0 and
 * Q4_0: the int8 scheme of qtile.h on the rows as stored. */
void ref_matmul(qw_pool *pool, const qw_mat *w, const float *x, float *y, int n_tok);
void ref_rmsnorm(qw_pool *pool, float *y, const float *x, const qw_vec *gain, int n_rows, int dim, float eps);
void ref_add_bias(float *y, const qw_vec *bias, int n_rows);
void ref_rope(qw_pool *pool, float *x, int n_tok, int n_heads, int head_dim, const int *pos, const float *inv_freq);
void ref_attention(qw_pool *pool, const qw_attn_args *a);
void ref_swiglu(qw_pool *pool, float *gate, const float *up, int64_t n);
void ref_embed(const qw_mat *emb, const int32_t *ids, int n, float *out);

#endif
