/* Matmul micro-kernels: a tile of up to QW_TILE_MR weight rows times up to
 * QW_TILE_NT tokens, every row loaded once per step for all the tokens of
 * the tile. Each output (row, token) is one chain of lane-wide partial sums
 * over k, reduced in a fixed order, so its value does not depend on the
 * tile's size, on the weight type (bf16 widened on the fly or beforehand)
 * or on the thread count: batched prefill and one-token decode agree to the
 * bit. Variants are chosen at run time by the CPU's features. */
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

/* Q8_0 rows (blocks of 32: an f16 scale, 32 int8), ldw in bytes, k a
 * multiple of 32. Each weight is formed as scale * q, the value row
 * dequantization gives, so results equal the f32 kernel on dequantized rows. */
typedef void (*qw_tile_q8_0_fn)(const uint8_t *w, int64_t ldw, int nr, const float *x, int64_t ldx, int nt,
                                int64_t k, float *y, int64_t ldy);

/* Q4_0 rows (blocks of 32: an f16 scale, 16 bytes whose low nibbles are
 * elements 0..15 and high nibbles 16..31), ldw in bytes, k a multiple of 32.
 * Each weight is formed as scale * (nibble - 8), as row dequantization gives
 * it, so results equal the f32 kernel on dequantized rows. */
typedef void (*qw_tile_q4_0_fn)(const uint8_t *w, int64_t ldw, int nr, const float *x, int64_t ldx, int nt,
                                int64_t k, float *y, int64_t ldy);

typedef struct {
    const char *name;  /* "avx512", "avx2", "portable" */
    qw_tile_f32_fn f32;
    qw_tile_bf16_fn bf16;
    qw_tile_q8_0_fn q8_0;  /* NULL: dequantize rows and use f32 */
    qw_tile_q4_0_fn q4_0;  /* likewise */
} qw_tile_kernels;

const qw_tile_kernels *qw_tile_best(void);
/* Every variant this CPU runs, best first, NULL-terminated (for tests). */
const qw_tile_kernels *const *qw_tile_all(void);

#endif
