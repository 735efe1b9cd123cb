#include "format/quant.h"
#include "format/dtype.h"
#include "format/gguf.h"
#include "format/kquant.h"
#include "qwenc.h"

#include <math.h>
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

static void dequant_q5_0(const unsigned char *b, int64_t nblocks, float *out) {
    for (int64_t i = 0; i < nblocks; i++, b += 6 + QW_QK5_0 / 2, out += QW_QK5_0) {
        float d = qw_f16_to_f32(ld16(b));
        uint32_t qh = (uint32_t)b[2] | (uint32_t)b[3] << 8 | (uint32_t)b[4] << 16 | (uint32_t)b[5] << 24;
        for (int j = 0; j < QW_QK5_0 / 2; j++) {
            int lo = (b[6 + j] & 0x0f) | (int)(qh >> j & 1) << 4, hi = (b[6 + j] >> 4) | (int)(qh >> (j + 16) & 1) << 4;
            out[j] = d * (float)(lo - 16);
            out[j + QW_QK5_0 / 2] = d * (float)(hi - 16);
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
    case QW_GGML_Q5_0:
        dequant_q5_0(p, n / QW_QK5_0, out);
        return 0;
    case QW_GGML_Q4_K:
        qw_dequant_q4_k(p, n / QW_QK_K, out);
        return 0;
    case QW_GGML_Q6_K:
        qw_dequant_q6_k(p, n / QW_QK_K, out);
        return 0;
    default:
        return QWENC_EUNSUPPORTED;
    }
}

/* ---- float32 -> ggml types ---- */

uint16_t qw_f32_to_f16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint16_t sign = (uint16_t)(u >> 16 & 0x8000);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return sign | 0x7e00 | (uint16_t)(a >> 13 & 0x3ff);  /* NaN, quiet */
    if (a >= 0x477ff000u) return sign | 0x7c00;  /* >= 65520 rounds to infinity */
    if (a >= 0x38800000u) {                       /* a normal f16: rebias, round the 13 dropped bits */
        uint32_t r = a - (112u << 23);
        r += 0xfff + (r >> 13 & 1);
        return sign | (uint16_t)(r >> 13);
    }
    /* below 2^-14: a subnormal f16 counts units of 2^-24 */
    uint32_t e = a >> 23, shift = 126 - e;
    if (shift > 24) return sign;  /* below 2^-25 (f32 subnormals too): rounds to zero */
    uint32_t m = (a & 0x7fffff) | 0x800000, q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1))) q++;  /* 0x400 is the smallest normal: still right */
    return sign | (uint16_t)q;
}

uint16_t qw_f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)(u >> 16 | 64);  /* NaN, forced quiet */
    return (uint16_t)((u + 0x7fff + (u >> 16 & 1)) >> 16);
}

static void st16(unsigned char *p, uint16_t v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

/* roundf's result as int8; only non-finite input (no defined result in
 * ggml either) needs the guard. */
static int8_t to_i8(float v) {
    if (!(v == v)) return 0;
    return (int8_t)(v > 127.0f ? 127.0f : v < -128.0f ? -128.0f : v);
}

static void quant_q8_0(const float *x, int64_t nblocks, unsigned char *b) {
    for (int64_t i = 0; i < nblocks; i++, x += QW_QK8_0, b += 2 + QW_QK8_0) {
        float amax = 0.0f;
        for (int j = 0; j < QW_QK8_0; j++) {
            float v = fabsf(x[j]);
            amax = amax > v ? amax : v;  /* ggml's MAX(amax, v) */
        }
        float d = amax / 127, id = d != 0.0f ? 1.0f / d : 0.0f;
        st16(b, qw_f32_to_f16(d));
        for (int j = 0; j < QW_QK8_0; j++) b[2 + j] = (unsigned char)to_i8(roundf(x[j] * id));
    }
}

/* (int8_t)(v + half), then min(top, .): v + half >= 0.5 for finite input
 * (Q4_0: half 8.5, top 15; Q5_0: 16.5, 31). */
static unsigned char level(float v, float half, int top) {
    float t = v + half;
    if (!(t == t) || t <= 0.0f) return 0;
    return t >= (float)top ? (unsigned char)top : (unsigned char)(int)t;
}

static unsigned char nibble(float v) { return level(v, 8.5f, 15); }

static void quant_q4_0(const float *x, int64_t nblocks, unsigned char *b) {
    enum { H = QW_QK4_0 / 2 };
    for (int64_t i = 0; i < nblocks; i++, x += QW_QK4_0, b += 2 + H) {
        float amax, max = qw_signed_absmax(x, QW_QK4_0, &amax);
        float d = max / -8, id = d != 0.0f ? 1.0f / d : 0.0f;
        st16(b, qw_f32_to_f16(d));
        for (int j = 0; j < H; j++) b[2 + j] = (unsigned char)(nibble(x[j] * id) | nibble(x[H + j] * id) << 4);
    }
}

static void quant_q5_0(const float *x, int64_t nblocks, unsigned char *b) {
    enum { H = QW_QK5_0 / 2 };
    for (int64_t i = 0; i < nblocks; i++, x += QW_QK5_0, b += 6 + H) {
        float amax, max = qw_signed_absmax(x, QW_QK5_0, &amax);
        float d = max / -16, id = d != 0.0f ? 1.0f / d : 0.0f;
        st16(b, qw_f32_to_f16(d));
        uint32_t qh = 0;
        for (int j = 0; j < H; j++) {
            unsigned char lo = level(x[j] * id, 16.5f, 31), hi = level(x[H + j] * id, 16.5f, 31);
            b[6 + j] = (unsigned char)((lo & 0x0f) | (hi & 0x0f) << 4);
            qh |= (uint32_t)(lo >> 4) << j | (uint32_t)(hi >> 4) << (j + H);
        }
        for (int k = 0; k < 4; k++) b[2 + k] = (unsigned char)(qh >> 8 * k);
    }
}

int qw_quant_row(uint32_t type, const float *x, int64_t n, void *out) {
    unsigned char *p = out;
    int blk = qw_gguf_type_block(type);
    if (blk && (n < 0 || n % blk)) return QWENC_EINVAL;
    switch (type) {
    case QW_GGML_F32:
        for (int64_t i = 0; i < n; i++) {
            uint32_t u;
            memcpy(&u, &x[i], 4);
            st16(p + 4 * i, (uint16_t)u);
            st16(p + 4 * i + 2, (uint16_t)(u >> 16));
        }
        return 0;
    case QW_GGML_F16:
        for (int64_t i = 0; i < n; i++) st16(p + 2 * i, qw_f32_to_f16(x[i]));
        return 0;
    case QW_GGML_BF16:
        for (int64_t i = 0; i < n; i++) st16(p + 2 * i, qw_f32_to_bf16(x[i]));
        return 0;
    case QW_GGML_Q8_0:
        quant_q8_0(x, n / QW_QK8_0, p);
        return 0;
    case QW_GGML_Q4_0:
        quant_q4_0(x, n / QW_QK4_0, p);
        return 0;
    case QW_GGML_Q5_0:
        quant_q5_0(x, n / QW_QK5_0, p);
        return 0;
    case QW_GGML_Q4_K:
        qw_quant_q4_k(x, n / QW_QK_K, p);
        return 0;
    case QW_GGML_Q6_K:
        qw_quant_q6_k(x, n / QW_QK_K, p);
        return 0;
    default:
        return QWENC_EUNSUPPORTED;
    }
}

/* ---- dtypes <-> ggml types ---- */

static const struct {
    qw_dtype dtype;
    uint32_t ggml;
} weight_types[] = {
    {QW_DT_F32, QW_GGML_F32},   {QW_DT_F16, QW_GGML_F16},   {QW_DT_BF16, QW_GGML_BF16},
    {QW_DT_Q8_0, QW_GGML_Q8_0}, {QW_DT_Q4_0, QW_GGML_Q4_0}, {QW_DT_Q5_0, QW_GGML_Q5_0},
    {QW_DT_Q4_K, QW_GGML_Q4_K}, {QW_DT_Q6_K, QW_GGML_Q6_K},
};

uint32_t qw_ggml_type_of(qw_dtype t) {
    for (size_t i = 0; i < sizeof weight_types / sizeof weight_types[0]; i++)
        if (weight_types[i].dtype == t) return weight_types[i].ggml;
    return UINT32_MAX;
}

qw_dtype qw_dtype_of_ggml(uint32_t type) {
    for (size_t i = 0; i < sizeof weight_types / sizeof weight_types[0]; i++)
        if (weight_types[i].ggml == type) return weight_types[i].dtype;
    return QW_DT_UNKNOWN;
}
