/* ggml block formats <-> float32, one row at a time.
 *
 * Q8_0: blocks of 32 elements, 34 bytes: an f16 scale d, then 32 int8 q;
 *       x[j] = d * q[j].
 * Q4_0: blocks of 32 elements, 18 bytes: an f16 scale d, then 16 bytes whose
 *       low nibbles are elements 0..15 and high nibbles elements 16..31;
 *       x = d * (nibble - 8).
 * Q5_0: blocks of 32 elements, 22 bytes: an f16 scale d, a little-endian
 *       uint32 whose bit j is the fifth bit of element j, then nibbles as
 *       Q4_0; x = d * (q - 16).
 * Q4_K, Q6_K: super-blocks of 256 elements (format/kquant.h).
 * F32, F16 and BF16 rows are converted as they are.
 *
 * Quantization reproduces ggml's reference quantize_row_q8_0_ref /
 * quantize_row_q4_0_ref (and gguf-py's numpy versions, which llama.cpp's
 * converter runs) bit for bit, so a file we write holds the bytes llama.cpp
 * would have written from the same float32 values:
 *   Q8_0: amax = max |x|, d = amax / 127, id = d ? 1/d : 0, q = roundf(x * id)
 *         (halves away from zero).
 *   Q4_0: max = the x of largest magnitude (the first one on ties, sign
 *         kept), d = max / -8, id = d ? 1/d : 0,
 *         q = min(15, (int8)(x * id + 8.5)) (truncated).
 *   Q5_0: as Q4_0 with d = max / -16 and q = min(31, (int8)(x * id + 16.5)).
 *   d is stored as f16, rounded to nearest even.
 *   Q4_K, Q6_K: quantize_row_q4_K_ref / quantize_row_q6_K_ref (kquant.h). */
#ifndef QW_FORMAT_QUANT_H
#define QW_FORMAT_QUANT_H

#include <stdint.h>

#include "format/dtype.h"

#define QW_QK8_0 32
#define QW_QK4_0 32
#define QW_QK5_0 32

/* Converts n elements of ggml type `type` at src (qw_gguf_row_size(type, n)
 * bytes) to out[0..n). 0, QWENC_EUNSUPPORTED for a type not handled here, or
 * QWENC_EINVAL when n is not a whole number of blocks. */
int qw_dequant_row(uint32_t type, const void *src, int64_t n, float *out);

/* The element of x[0..n) of largest magnitude, sign kept, the first one on
 * ties (ggml's max in Q4_0, Q5_0 and Q6_K's groups); *amax gets |it|. */
static inline float qw_signed_absmax(const float *x, int n, float *amax) {
    float max = 0.0f, a = 0.0f;
    for (int j = 0; j < n; j++) {
        float v = x[j] < 0 ? -x[j] : x[j];
        if (v > a) a = v, max = x[j];
    }
    *amax = a;
    return max;
}

/* Converts x[0..n) to ggml type `type` (F32, F16, BF16, Q8_0, Q4_0, Q5_0,
 * Q4_K, Q6_K) at out
 * (qw_gguf_row_size(type, n) bytes, little-endian). 0, QWENC_EUNSUPPORTED
 * for another type, or QWENC_EINVAL when n is not a whole number of blocks. */
int qw_quant_row(uint32_t type, const float *x, int64_t n, void *out);

/* float32 -> f16 / bf16, rounded to nearest even (NaN stays NaN, quiet;
 * f16 overflows to infinity), as ggml and numpy round. */
uint16_t qw_f32_to_f16(float f);
uint16_t qw_f32_to_bf16(float f);

/* The ggml type of a weight dtype and back: UINT32_MAX / QW_DT_UNKNOWN for
 * the dtypes and types that are not weights qwenc computes with (f32, f16,
 * bf16, q8_0, q4_0, q5_0, q4_k, q6_k). */
uint32_t qw_ggml_type_of(qw_dtype t);
qw_dtype qw_dtype_of_ggml(uint32_t type);

#endif
