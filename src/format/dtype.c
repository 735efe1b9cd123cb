#include "format/dtype.h"

#include <math.h>

static const struct {
    qw_dtype t;
    const char *st_name, *name;
    size_t size;
} dtypes[] = {
    {QW_DT_F32, "F32", "f32", 4},   {QW_DT_F16, "F16", "f16", 2},
    {QW_DT_BF16, "BF16", "bf16", 2}, {QW_DT_F64, "F64", "f64", 8},
    {QW_DT_I64, "I64", "i64", 8},   {QW_DT_I32, "I32", "i32", 4},
    {QW_DT_I16, "I16", "i16", 2},   {QW_DT_I8, "I8", "i8", 1},
    {QW_DT_U8, "U8", "u8", 1},      {QW_DT_U16, "U16", "u16", 2},
    {QW_DT_U32, "U32", "u32", 4},   {QW_DT_U64, "U64", "u64", 8},
    {QW_DT_BOOL, "BOOL", "bool", 1}, {QW_DT_F8_E4M3, "F8_E4M3", "f8_e4m3", 1},
    {QW_DT_F8_E5M2, "F8_E5M2", "f8_e5m2", 1},
    {QW_DT_Q8_0, "", "q8_0", 0},    {QW_DT_Q4_0, "", "q4_0", 0},
    {QW_DT_Q5_0, "", "q5_0", 0},    {QW_DT_Q4_K, "", "q4_k", 0},
    {QW_DT_Q6_K, "", "q6_k", 0},
};
#define N_DTYPES (sizeof dtypes / sizeof dtypes[0])

size_t qw_dtype_size(qw_dtype t) {
    for (size_t i = 0; i < N_DTYPES; i++)
        if (dtypes[i].t == t) return dtypes[i].size;
    return 0;
}

const char *qw_dtype_name(qw_dtype t) {
    for (size_t i = 0; i < N_DTYPES; i++)
        if (dtypes[i].t == t) return dtypes[i].name;
    return "unknown";
}

qw_dtype qw_dtype_from_safetensors(const char *s) {
    for (size_t i = 0; i < N_DTYPES; i++)
        if (*s && !strcmp(dtypes[i].st_name, s)) return dtypes[i].t;
    return QW_DT_UNKNOWN;
}

int qw_dtype_block(qw_dtype t) {
    switch (t) {
    case QW_DT_Q8_0: case QW_DT_Q4_0: case QW_DT_Q5_0: return 32;
    case QW_DT_Q4_K: case QW_DT_Q6_K: return 256;
    default: return 0;
    }
}

int64_t qw_dtype_row_bytes(qw_dtype t, int64_t n) {
    switch (t) {
    case QW_DT_Q8_0: return n / 32 * 34;
    case QW_DT_Q4_0: return n / 32 * 18;
    case QW_DT_Q5_0: return n / 32 * 22;
    case QW_DT_Q4_K: return n / 256 * 144;
    case QW_DT_Q6_K: return n / 256 * 210;
    default: return n * (int64_t)qw_dtype_size(t);
    }
}

/* By bit manipulation: this runs once per 32-weight block of Q8_0/Q4_0, so a
 * libm call here would cost more than the block's arithmetic. Exact for
 * every input (tests/test_format.c checks all 65,536). */
float qw_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 31, mant = h & 1023, u;
    if (exp == 31) {
        u = sign | 0x7f800000u | mant << 13;  /* inf, nan */
    } else if (exp) {
        u = sign | (exp + 112) << 23 | mant << 13;
    } else if (!mant) {
        u = sign;  /* +-0 */
    } else {  /* subnormal: mant * 2^-24, normalized */
        uint32_t e = 113;
        while (!(mant & 1024)) mant <<= 1, e--;
        u = sign | e << 23 | (mant & 1023) << 13;
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}
