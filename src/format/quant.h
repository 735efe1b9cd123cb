/* Dequantization of ggml block formats to float32, one row at a time.
 *
 * Q8_0: blocks of 32 elements, 34 bytes: an f16 scale d, then 32 int8 q;
 *       x[j] = d * q[j].
 * Q4_0: blocks of 32 elements, 18 bytes: an f16 scale d, then 16 bytes whose
 *       low nibbles are elements 0..15 and high nibbles elements 16..31;
 *       x = d * (nibble - 8).
 * F32, F16 and BF16 rows are converted as they are. */
#ifndef QW_FORMAT_QUANT_H
#define QW_FORMAT_QUANT_H

#include <stdint.h>

#define QW_QK8_0 32
#define QW_QK4_0 32

/* Converts n elements of ggml type `type` at src (qw_gguf_row_size(type, n)
 * bytes) to out[0..n). 0, QWENC_EUNSUPPORTED for a type not handled here, or
 * QWENC_EINVAL when n is not a whole number of blocks. */
int qw_dequant_row(uint32_t type, const void *src, int64_t n, float *out);

#endif
