/* Matmul micro-kernels for float32 and bf16 weights (Q8_0, Q4_0: qtile.h):
 * a tile of up to QW_TILE_MR weight rows times up to QW_TILE_NT tokens,
 * every row loaded once per step for all the tokens of the tile. Each
 * output (row, token) is one chain of lane-wide partial sums over k, reduced
 * in a fixed order, so its value does not depend on the tile's size, on the
 * weight path (bf16 widened on the fly or beforehand) or on the thread
 * count: batched prefill and one-token decode agree to the bit. Variants are
 * chosen at run time by the CPU's features. */
#ifndef QW_KERNELS_CPU_TILE_H
#define QW_KERNELS_CPU_TILE_H

#include <stdint.h>

#define QW_TILE_MR 4
#define QW_TILE_NT 4

/* y[t * ldy + r] = sum_i w[r * ldw + i] * x[t * ldx + i], r < nr, t < nt, i < k. */
typedef void (*qw_tile_f32_fn)(const float *w, int64_t ldw, int nr, const float *x, int64_t ldx, int nt,
                               int64_t k, float *y, int64_t ldy);
typedef void (*qw_tile_bf16_fn)(const uint16_t *w, int64_t ldw, int nr, const float *x, int64_t ldx, int nt,
                                int64_t k, float *y, int64_t ldy);

typedef struct {
    const char *name;  /* "avx512", "avx2", "portable" */
    qw_tile_f32_fn f32;
    qw_tile_bf16_fn bf16;
} qw_tile_kernels;

const qw_tile_kernels *qw_tile_best(void);
/* Every variant this CPU runs, best first, NULL-terminated (for tests). */
const qw_tile_kernels *const *qw_tile_all(void);

#endif
