/* ggml's k-quant super-blocks <-> float32: QK_K = 256 elements a block.
 *
 * Q4_K, 144 bytes: f16 d, f16 dmin, 12 bytes of 6-bit scales and mins for the
 *   eight sub-blocks of 32 (sub-block j < 4: scale = b[j] & 63, min =
 *   b[j+4] & 63; j >= 4: scale = b[j+4] & 15 | (b[j-4] >> 6) << 4, min =
 *   b[j+4] >> 4 | (b[j] >> 6) << 4), then 128 bytes of 4-bit quants: byte l
 *   of each 32-byte run r holds element 64r + l (low nibble) and 64r + 32 + l
 *   (high nibble); x = d * scale * q - dmin * min.
 * Q6_K, 210 bytes: 128 bytes ql (low 4 bits), 64 bytes qh (high 2 bits), 16
 *   int8 scales (one per 16 elements), f16 d. For each half h of 128
 *   elements and l < 32: ql[64h + l] holds elements l (low nibble) and 64 + l
 *   (high), ql[64h + 32 + l] elements 32 + l and 96 + l, and qh[32h + l]
 *   the high bits of elements l, 32 + l, 64 + l, 96 + l in bit pairs 0..3;
 *   x = d * scale * (q - 32).
 *
 * Quantization is ggml's reference quantize_row_q4_K_ref /
 * quantize_row_q6_K_ref (what llama-quantize runs without an importance
 * matrix), reproduced operation for operation in float32 so that the bytes
 * are the same: per sub-block a weighted least-squares search for scale
 * and min (Q4_K) or a scale search around -32/max (Q6_K), the scales
 * themselves quantized against the super-block's largest, and every element
 * quantized again with the stored scales. Rounding to the nearest integer
 * is ggml's: adding 1.5 * 2^23 (ties to even). */
#ifndef QW_FORMAT_KQUANT_H
#define QW_FORMAT_KQUANT_H

#include <stdint.h>

#define QW_QK_K 256
#define QW_Q4_K_BYTES 144
#define QW_Q6_K_BYTES 210

void qw_dequant_q4_k(const unsigned char *b, int64_t nblocks, float *out);
void qw_dequant_q6_k(const unsigned char *b, int64_t nblocks, float *out);
void qw_quant_q4_k(const float *x, int64_t nblocks, unsigned char *b);
void qw_quant_q6_k(const float *x, int64_t nblocks, unsigned char *b);

#endif
