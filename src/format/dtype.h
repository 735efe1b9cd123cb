/* Element types of stored tensors. */
#ifndef QW_FORMAT_DTYPE_H
#define QW_FORMAT_DTYPE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef enum {
    QW_DT_UNKNOWN = 0,
    QW_DT_F32, QW_DT_F16, QW_DT_BF16,
    /* valid in safetensors, not usable as weights */
    QW_DT_F64, QW_DT_I64, QW_DT_I32, QW_DT_I16, QW_DT_I8, QW_DT_U8, QW_DT_U16, QW_DT_U32,
    QW_DT_U64, QW_DT_BOOL, QW_DT_F8_E4M3, QW_DT_F8_E5M2,
    /* ggml block formats (from GGUF files): 32 elements a block, and the
     * k-quants' super-blocks of 256 */
    QW_DT_Q8_0, QW_DT_Q4_0, QW_DT_Q5_0, QW_DT_Q4_K, QW_DT_Q6_K,
    QW_DT_COUNT
} qw_dtype;

/* Bytes of one element; 0 for block formats (see qw_dtype_row_bytes). */
size_t qw_dtype_size(qw_dtype t);
/* Elements per block of a block format; 0 for plain types. */
int qw_dtype_block(qw_dtype t);
/* Bytes of a row of n elements (n a whole number of blocks). */
int64_t qw_dtype_row_bytes(qw_dtype t, int64_t n);
const char *qw_dtype_name(qw_dtype t);          /* "bf16" */
qw_dtype qw_dtype_from_safetensors(const char *s); /* "BF16" -> QW_DT_BF16 */

static inline float qw_bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float qw_f16_to_f32(uint16_t h);

#endif
