#include "format/quant.h"
#include "format/dtype.h"
#include "format/gguf.h"
#include "qwenc.h"

#include <string.h>

/* Little-endian loads: the blocks are byte arrays, possibly unaligned. */
static uint16_t ld16(const unsigned char *p) {
    return (uint16_t)(p[0] | p[1] << 8);
}

static float ld_f32(const unsigned char *p) {
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void dequant_q8_0(const unsigned char *b, int64_t nblocks, float *out) {
    for (int64_t i = 0; i < nblocks; i++, b += 2 + QW_QK8_0, out += QW_QK8_0) {
        float d = qw_f16_to_f32(ld16(b));
        for (int j = 0; j < QW_QK8_0; j++) out[j] = d * (float)(int8_t)b[2 + j];
    }
}

static void dequant_q4_0(const unsigned char *b, int64_t nblocks, float *out) {
    for (int64_t i = 0; i < nblocks; i++, b += 2 + QW_QK4_0 / 2, out += QW_QK4_0) {
        float d = qw_f16_to_f32(ld16(b));
        for (int j = 0; j < QW_QK4_0 / 2; j++) {
            out[j] = d * (float)((b[2 + j] & 0x0f) - 8);
            out[j + QW_QK4_0 / 2] = d * (float)((b[2 + j] >> 4) - 8);
        }
    }
}

int qw_dequant_row(uint32_t type, const void *src, int64_t n, float *out) {
    const unsigned char *p = src;
    int blk = qw_gguf_type_block(type);
    if (blk && (n < 0 || n % blk)) return QWENC_EINVAL;
    switch (type) {
    case QW_GGML_F32:
        for (int64_t i = 0; i < n; i++) out[i] = ld_f32(p + 4 * i);
        return 0;
    case QW_GGML_F16:
        for (int64_t i = 0; i < n; i++) out[i] = qw_f16_to_f32(ld16(p + 2 * i));
        return 0;
    case QW_GGML_BF16:
        for (int64_t i = 0; i < n; i++) out[i] = qw_bf16_to_f32(ld16(p + 2 * i));
        return 0;
    case QW_GGML_Q8_0:
        dequant_q8_0(p, n / QW_QK8_0, out);
        return 0;
    case QW_GGML_Q4_0:
        dequant_q4_0(p, n / QW_QK4_0, out);
        return 0;
    default:
        return QWENC_EUNSUPPORTED;
    }
}
