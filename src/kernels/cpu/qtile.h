/* Int8 matmul for Q8_0 and Q4_0 weights: the activation format, the packed
 * weight layout and the micro-kernels.
 *
 * What every variant computes, bit for bit (ref_matmul spells it out on rows
 * as stored):
 *  - a token's activations are quantized per block of 32 (qw_qx_quantize):
 *    d = max|x| / 127, id = d ? 1/d : 0, q = x * id rounded to nearest even,
 *    kept in [-127, 127]; d stays float32;
 *  - a weight block times an activation block is the exact int32 sum of its
 *    32 products (Q4_0 weights are nibble - 8);
 *  - each output is one float32 chain over the blocks in order, from 0:
 *    acc = fmaf(dw * dx, (float)isum, acc), dw the block's f16 scale.
 * The int32 sums are exact however a kernel forms them, and the float chain is
 * the same in every variant, tile size and thread count, so one-token decode
 * and batched prefill give bit-identical logits.
 *
 * Weights are packed in groups of QW_QGROUP rows so that one 64-byte load
 * holds four consecutive quants of each of the 16 rows, and one dpbusd with
 * four activation bytes broadcast adds them into 16 per-row int32 lanes. A
 * block of a group is
 *   Q8_0: 8 chunks of 64 bytes: chunk s holds, row after row, the row's
 *         quants 4s..4s+3 plus 128 (as unsigned bytes);
 *   Q4_0: 4 chunks: chunk s holds the row's stored bytes 4s..4s+3, whose
 *         low nibbles are elements 4s.. and high nibbles elements 16+4s..;
 * blocks go in pairs, each pair's quants followed by its 2 x 16 f16 scales
 * in one 64-byte line (an odd last block is paired with zeros), so a group
 * is read front to back. Rows past the matrix are zero. A packed group
 * takes the bytes of its rows as stored (plus the odd block's padding), so a
 * packed copy costs the size of the matrix. */
#ifndef QW_KERNELS_CPU_QTILE_H
#define QW_KERNELS_CPU_QTILE_H

#include <stdint.h>

#include "kernels/backend.h"

#define QW_QGROUP 16
/* Tokens one kernel call takes at most. */
#define QW_QTILE_NT 8

/* Bytes of one packed group of a Q8_0 / Q4_0 matrix of `cols` columns (a
 * multiple of 32) and of the whole packed matrix. */
int64_t qw_qpack_group_bytes(qw_dtype t, int64_t cols);
int64_t qw_qpack_bytes(const qw_mat *w);
/* Packs rows [16 g, 16 g + 16) of w (as stored) into dst. */
void qw_qpack_group(const qw_mat *w, int64_t g, uint8_t *dst);

/* One token's quantized activations: k int8 quants, then k/32 float scales,
 * then k/32 int32 block biases (-128 or -8 times the block's sum of quants,
 * for Q8_0 or Q4_0 weights: what the unsigned form of the weights adds). */
int64_t qw_qx_bytes(int64_t k);
void qw_qx_quantize(qw_dtype wt, const float *x, int64_t k, uint8_t *rec);

/* A packed group w of nb blocks times nt <= QW_QTILE_NT tokens, whose
 * records start at x, ldx bytes apart: y[t * ldy + r] for r < nr <= 16. */
typedef void (*qw_qtile_fn)(const uint8_t *w, int64_t nb, const uint8_t *x, int64_t ldx, int nt, float *y,
                            int64_t ldy, int nr);

typedef struct {
    const char *name;  /* "avx512-vnni", "avx2-vnni", "avx2", "portable" */
    qw_qtile_fn q8_0, q4_0;
    void (*quantize)(qw_dtype wt, const float *x, int64_t k, uint8_t *rec);  /* qw_qx_quantize's very bytes */
} qw_qtile_kernels;

#define QW_QTILE_VARIANTS 4
const qw_qtile_kernels *qw_qtile_best(void);
/* Every variant this CPU runs, best first, into out[QW_QTILE_VARIANTS]; how many. */
int qw_qtile_all(const qw_qtile_kernels **out);

#endif
