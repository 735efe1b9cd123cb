/* Quantizers (float32 -> f16, bf16, Q8_0, Q4_0, Q5_0, Q4_K, Q6_K): rounding
 * of every f16 value and of the halfway points between them, blocks whose
 * bytes are known by hand (nibble order, halves away from zero, the Q4_0 and
 * Q5_0 clamps and fifth bits, the k-quants' packed 6-bit scales and mins and
 * split 6-bit quants, read back element by element from the layout), error
 * bounds of dequant(quant(x)), edge rows (zero, tiny, NaN), and llama.cpp's
 * own Q8_0 bytes: the tensors of the GGUF written by llama.cpp's converter
 * quantize back to themselves. (scripts/check-llamacpp-convert compares every
 * type with ggml's own code.) */
#include "check.h"
#include "format/dtype.h"
#include "format/gguf.h"
#include "format/kquant.h"
#include "format/quant.h"
#include "qwenc.h"

#include <math.h>
#include <string.h>

static float f32_of(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint32_t u32_of(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* Every finite f16 converts back to itself; halfway between two neighbours
 * goes to the even one, one f32 ulp either side to the nearer one. */
static void test_f16_rounding(void) {
    int bad_exact = 0, bad_half = 0;
    for (uint32_t h = 0; h < 0x7c00; h++) {
        for (uint32_t s = 0; s <= 0x8000; s += 0x8000) {
            if (qw_f32_to_f16(qw_f16_to_f32((uint16_t)(h | s))) != (h | s)) bad_exact++;
        }
        if (h + 1 == 0x7c00) break;
        float lo = qw_f16_to_f32((uint16_t)h), hi = qw_f16_to_f32((uint16_t)(h + 1));
        float mid = lo + (hi - lo) / 2;  /* exact: f16 neighbours are 11-bit numbers */
        uint16_t even = (uint16_t)((h & 1) ? h + 1 : h);
        if (qw_f32_to_f16(mid) != even || qw_f32_to_f16(-mid) != (even | 0x8000)) bad_half++;
        if (qw_f32_to_f16(nextafterf(mid, 0)) != h || qw_f32_to_f16(nextafterf(mid, 1e9f)) != h + 1) bad_half++;
    }
    CHECK(bad_exact == 0, "%d f16 values do not convert back to themselves", bad_exact);
    CHECK(bad_half == 0, "%d halfway points between f16 neighbours rounded wrong", bad_half);
    CHECK(qw_f32_to_f16(65519.0f) == 0x7bff && qw_f32_to_f16(65520.0f) == 0x7c00, "overflow boundary");
    CHECK(qw_f32_to_f16(-INFINITY) == 0xfc00 && qw_f32_to_f16(1e-30f) == 0, "infinity and underflow");
    CHECK(qw_f32_to_f16(ldexpf(1, -25)) == 0 && qw_f32_to_f16(nextafterf(ldexpf(1, -25), 1)) == 1,
          "half the smallest subnormal rounds to even (0), just above it to 1");
    uint16_t nan = qw_f32_to_f16(NAN);
    CHECK((nan & 0x7c00) == 0x7c00 && (nan & 0x3ff), "NaN stays NaN: %04x", nan);
}

/* bf16: the nearer of the two truncations, ties to even, against a sweep
 * of bit patterns. */
static void test_bf16_rounding(void) {
    int bad = 0;
    for (uint64_t k = 0; k < 4000000; k++) {
        uint32_t u = (uint32_t)(k * 2654435761u);
        if ((u & 0x7fffffffu) >= 0x7f7f8000u) continue;  /* rounds to inf or is inf/NaN: below */
        uint32_t lo = u & 0xffff0000u, rem = u & 0xffff;
        uint32_t want = rem > 0x8000 || (rem == 0x8000 && (lo >> 16 & 1)) ? (lo >> 16) + 1 : lo >> 16;
        if (qw_f32_to_bf16(f32_of(u)) != want) bad++;
    }
    CHECK(bad == 0, "%d bf16 roundings wrong", bad);
    CHECK(qw_f32_to_bf16(f32_of(0x7f7fffffu)) == 0x7f80, "the largest float rounds to infinity");
    uint16_t nan = qw_f32_to_bf16(f32_of(0x7f800001u));
    CHECK((nan & 0x7f80) == 0x7f80 && (nan & 0x7f), "a signalling NaN stays NaN: %04x", nan);
    CHECK(qw_bf16_to_f32(qw_f32_to_bf16(1.0f)) == 1.0f, "1.0");
}

/* amax 127 gives d = 1: q = x rounded, halves away from zero. */
static void test_q8_0_known_block(void) {
    float x[32];
    for (int j = 0; j < 32; j++) x[j] = (float)(j - 16) + (j % 2 ? 0.5f : 0.25f);
    x[0] = -127.0f, x[1] = 2.5f, x[2] = -2.5f, x[3] = 0.49f;
    unsigned char b[34];
    CHECK(qw_quant_row(QW_GGML_Q8_0, x, 32, b) == 0, "quant");
    CHECK(b[0] == 0x00 && b[1] == 0x3c, "d = 1.0 as f16 (00 3c): %02x %02x", b[0], b[1]);
    CHECK((int8_t)b[2] == -127 && (int8_t)b[3] == 3 && (int8_t)b[4] == -3 && (int8_t)b[5] == 0, "q[0..3]");
    int bad = 0;
    for (int j = 4; j < 32; j++) bad += (int8_t)b[2 + j] != (int)(j - 16 + (j % 2 ? (j - 16 >= 0 ? 1 : 0) : 0));
    CHECK(bad == 0, "%d of q[4..31] wrong", bad);
    memset(x, 0, sizeof x);
    CHECK(qw_quant_row(QW_GGML_Q8_0, x, 32, b) == 0, "zeros");
    int nz = 0;
    for (int j = 0; j < 34; j++) nz += b[j] != 0;
    CHECK(nz == 0, "an all-zero block is all-zero bytes");
}

/* max -8 gives d = 1 (q = trunc(x + 8.5)); max +8 gives d = -1, where the
 * opposite extreme clamps to 15. Low nibbles hold elements 0..15. */
static void test_q4_0_known_block(void) {
    float x[32] = {0};
    x[0] = -8.0f, x[1] = 7.0f, x[2] = 7.4f, x[3] = -0.5f, x[4] = -0.6f, x[5] = 0.5f;
    x[16] = 1.0f, x[17] = -7.9f;
    unsigned char b[18];
    CHECK(qw_quant_row(QW_GGML_Q4_0, x, 32, b) == 0, "quant");
    CHECK(b[0] == 0x00 && b[1] == 0x3c, "d = 1.0: %02x %02x", b[0], b[1]);
    CHECK(b[2] == (0 | 9 << 4), "x0 -8 -> 0, x16 1 -> 9: %02x", b[2]);
    CHECK(b[3] == (15 | 0 << 4), "x1 7 -> 15, x17 -7.9 -> 0: %02x", b[3]);
    CHECK((b[4] & 15) == 15 && (b[5] & 15) == 8 && (b[6] & 15) == 7 && (b[7] & 15) == 9, "x2..x5");
    CHECK(b[8] == (8 | 8 << 4), "zeros -> 8");
    for (int j = 0; j < 32; j++) x[j] = 0;
    x[0] = 8.0f, x[1] = -8.0f;
    CHECK(qw_quant_row(QW_GGML_Q4_0, x, 32, b) == 0, "quant");
    CHECK(b[0] == 0x00 && b[1] == 0xbc, "d = -1.0: %02x %02x", b[0], b[1]);
    CHECK((b[2] & 15) == 0 && (b[3] & 15) == 15, "8 -> 0, -8 -> 16 clamped to 15");
}

static uint64_t rng = 88172645463325252ull;
static float frand(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)((double)(rng >> 11) / 9007199254740992.0 * 2 - 1);
}

/* |x - dequant(quant(x))| <= d/2 (d rounded to f16 adds < 127 * 2^-11 d);
 * Q4_0's clamped extreme is off by up to d. */
static void test_error_bounds(void) {
    enum { N = 32 * 512 };
    static float x[N], y[N];
    static unsigned char q[N * 4];  /* room for f32 */
    for (int i = 0; i < N; i++) x[i] = frand() * (i % 64 < 32 ? 1.0f : 1e-3f) * (float)(1 + i % 7);
    int bad8 = 0, bad4 = 0, badf = 0;
    CHECK(qw_quant_row(QW_GGML_Q8_0, x, N, q) == 0 && qw_dequant_row(QW_GGML_Q8_0, q, N, y) == 0, "q8_0");
    for (int b = 0; b < N / 32; b++) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[b * 32 + j]));
        for (int j = 0; j < 32; j++) bad8 += fabsf(x[b * 32 + j] - y[b * 32 + j]) > 0.57f * amax / 127;
    }
    CHECK(qw_quant_row(QW_GGML_Q4_0, x, N, q) == 0 && qw_dequant_row(QW_GGML_Q4_0, q, N, y) == 0, "q4_0");
    for (int b = 0; b < N / 32; b++) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[b * 32 + j]));
        for (int j = 0; j < 32; j++) bad4 += fabsf(x[b * 32 + j] - y[b * 32 + j]) > 1.01f * amax / 8;
    }
    for (uint32_t t = 0; t <= QW_GGML_BF16; t += QW_GGML_BF16) {  /* F32 exact, BF16 within 2^-8 relative */
        CHECK(qw_quant_row(t, x, N, q) == 0 && qw_dequant_row(t, q, N, y) == 0, "type %u", t);
        for (int i = 0; i < N; i++) badf += t ? fabsf(x[i] - y[i]) > fabsf(x[i]) / 256 : u32_of(x[i]) != u32_of(y[i]);
    }
    CHECK(qw_quant_row(QW_GGML_F16, x, N, q) == 0 && qw_dequant_row(QW_GGML_F16, q, N, y) == 0, "f16");
    for (int i = 0; i < N; i++) badf += fabsf(x[i] - y[i]) > fabsf(x[i]) / 2048 + 3e-8f;
    CHECK(bad8 == 0 && bad4 == 0 && badf == 0, "outside the bounds: q8_0 %d, q4_0 %d, float types %d", bad8, bad4,
          badf);
    CHECK(qw_quant_row(QW_GGML_Q8_0, x, 33, q) == QWENC_EINVAL, "a partial block");
    CHECK(qw_quant_row(QW_GGML_Q5_K, x, 256, q) == QWENC_EUNSUPPORTED, "q5_k is not written");
}

/* max -16 gives d = 1: q = trunc(x + 16.5), at most 31; bit j of the
 * little-endian qh word is the fifth bit of element j. */
static void test_q5_0_known_block(void) {
    float x[32] = {0};
    x[0] = -16.0f, x[1] = 15.0f, x[2] = 15.4f, x[3] = -0.5f, x[4] = -0.6f, x[5] = 0.5f;
    x[16] = 1.0f, x[17] = -15.9f, x[20] = 7.2f;
    int q[32];
    for (int j = 0; j < 32; j++) q[j] = 16;
    q[0] = 0, q[1] = 31, q[2] = 31, q[3] = 16, q[4] = 15, q[5] = 17, q[16] = 17, q[17] = 0, q[20] = 23;
    unsigned char b[22];
    float y[32];
    CHECK(qw_quant_row(QW_GGML_Q5_0, x, 32, b) == 0 && qw_dequant_row(QW_GGML_Q5_0, b, 32, y) == 0, "q5_0");
    CHECK(b[0] == 0x00 && b[1] == 0x3c, "d = 1.0: %02x %02x", b[0], b[1]);
    uint32_t qh = (uint32_t)b[2] | (uint32_t)b[3] << 8 | (uint32_t)b[4] << 16 | (uint32_t)b[5] << 24;
    int bad = 0;
    for (int j = 0; j < 32; j++) {
        int nib = j < 16 ? b[6 + j] & 15 : b[6 + j - 16] >> 4;
        bad += (nib | (int)(qh >> j & 1) << 4) != q[j];
        bad += y[j] != (float)(q[j] - 16);
    }
    CHECK(bad == 0, "%d q5_0 quants or values wrong (qh %08x)", bad, qh);
}

/* Q4_K: sub-block j of x = q * c_j / 1008 - e_j / 252 (q in 0..15, every
 * value present) is fitted exactly: the 6-bit scales come out as c_j (the
 * largest, 63, sets d = (1/16) / 63) and the mins as e_j (the largest, 63,
 * sets dmin = 0.25 / 63), the quants as q. Read back from the layout: the
 * packed scale bytes, and element 64r + 32h + l in nibble h of byte 32r + l. */
static void test_q4_k_known_block(void) {
    static const int c[8] = {63, 50, 40, 33, 20, 17, 9, 5}, e[8] = {0, 63, 10, 17, 31, 47, 5, 60};
    float x[256], y[256];
    int q[256];
    for (int j = 0; j < 8; j++)
        for (int l = 0; l < 32; l++) {
            q[32 * j + l] = (7 * l + j) % 16;
            x[32 * j + l] = (float)q[32 * j + l] * (float)c[j] / 1008.0f - (float)e[j] / 252.0f;
        }
    unsigned char b[QW_Q4_K_BYTES];
    CHECK(qw_quant_row(QW_GGML_Q4_K, x, 256, b) == 0 && qw_dequant_row(QW_GGML_Q4_K, b, 256, y) == 0, "q4_k");
    float d = qw_f16_to_f32((uint16_t)(b[0] | b[1] << 8)), dmin = qw_f16_to_f32((uint16_t)(b[2] | b[3] << 8));
    CHECK(fabsf(d * 63 - 1.0f / 16) < 1e-4f && fabsf(dmin * 63 - 0.25f) < 4e-4f, "d %g, dmin %g", d, dmin);
    const unsigned char *sc = b + 4, *qs = b + 16;
    int bad_sc = 0, bad_q = 0, bad_y = 0;
    for (int j = 0; j < 8; j++) {
        int s = j < 4 ? sc[j] & 63 : (sc[j + 4] & 15) | (sc[j - 4] >> 6) << 4;
        int m = j < 4 ? sc[j + 4] & 63 : (sc[j + 4] >> 4) | (sc[j] >> 6) << 4;
        bad_sc += s != c[j] || m != e[j];
        for (int l = 0; l < 32; l++) {
            int el = 32 * j + l, r = el / 64, h = el % 64 / 32, k = el % 32;
            bad_q += (qs[32 * r + k] >> (4 * h) & 15) != q[el];
            float want = d * (float)c[j] * (float)q[el] - dmin * (float)e[j];
            bad_y += y[el] != want || fabsf(y[el] - x[el]) > 2e-3f;
        }
    }
    CHECK(bad_sc == 0, "%d of 8 scale/min pairs wrong", bad_sc);
    CHECK(bad_q == 0 && bad_y == 0, "%d quants, %d values wrong", bad_q, bad_y);
}

/* Q6_K: every 16-element group holds -1 and values k / 32 with |k| <= 17,
 * so -32 / max = 32 fits exactly: all group scales 1/32, stored as -128
 * under d = -2^-12, and quant k + 32. Element 128h + 32s + l: low nibble
 * in byte 64h + 32(s % 2) + l (high half when s >= 2), top two bits in
 * bits 2s of qh byte 32h + l. */
static void test_q6_k_known_block(void) {
    float x[256], y[256];
    int L[256];
    for (int g = 0; g < 16; g++)
        for (int l = 0; l < 16; l++) {
            int k = l == 0 ? -32 : (g * 5 + l * 7) % 35 - 17;
            x[16 * g + l] = (float)k / 32;
            L[16 * g + l] = k + 32;
        }
    unsigned char b[QW_Q6_K_BYTES];
    CHECK(qw_quant_row(QW_GGML_Q6_K, x, 256, b) == 0 && qw_dequant_row(QW_GGML_Q6_K, b, 256, y) == 0, "q6_k");
    CHECK(b[208] == 0x00 && b[209] == 0x8c, "d = -2^-12 (00 8c): %02x %02x", b[208], b[209]);
    int bad_sc = 0, bad_q = 0, bad_y = 0;
    for (int g = 0; g < 16; g++) bad_sc += b[192 + g] != 0x80;
    for (int el = 0; el < 256; el++) {
        int h = el / 128, s = el % 128 / 32, l = el % 32;
        int lo = b[64 * h + 32 * (s % 2) + l] >> (4 * (s / 2)) & 15, hi = b[128 + 32 * h + l] >> (2 * s) & 3;
        bad_q += (lo | hi << 4) != L[el];
        bad_y += y[el] != x[el];
    }
    CHECK(bad_sc == 0 && bad_q == 0 && bad_y == 0, "%d scales, %d quants, %d values wrong", bad_sc, bad_q, bad_y);
}

static double rms_error(uint32_t type, const float *x, int n, unsigned char *q, float *y) {
    CHECK(qw_quant_row(type, x, n, q) == 0 && qw_dequant_row(type, q, n, y) == 0, "%s", qw_gguf_type_name(type));
    double se = 0, sx = 0;
    for (int i = 0; i < n; i++) se += ((double)x[i] - y[i]) * ((double)x[i] - y[i]), sx += (double)x[i] * x[i];
    return sqrt(se / sx);
}

/* Relative RMS error of dequant(quant(x)) on bell-shaped rows (a sum of
 * uniforms, as trained weights look), with some outliers, at two scales. */
static void test_kquant_error(void) {
    enum { N = 256 * 64 };
    static float x[N], y[N];
    static unsigned char q[N * 2];
    for (int i = 0; i < N; i++) {
        x[i] = (frand() + frand() + frand() + frand()) * (i < N / 2 ? 0.02f : 3e-5f);
        if (i % 997 == 0) x[i] *= 12;
    }
    double e4 = rms_error(QW_GGML_Q4_K, x, N, q, y), e6 = rms_error(QW_GGML_Q6_K, x, N, q, y);
    double e5 = rms_error(QW_GGML_Q5_0, x, N, q, y), e40 = rms_error(QW_GGML_Q4_0, x, N, q, y);
    CHECK(e6 < 0.03 && e5 < 0.065 && e4 < 0.095 && e4 < e40, "rms errors: q6_k %.4f, q5_0 %.4f, q4_k %.4f, q4_0 %.4f",
          e6, e5, e4, e40);
}

/* Zero and tiny rows give zero blocks; NaN and infinity give some bytes
 * without undefined behaviour (the sanitizer build checks); partial blocks
 * are refused. */
static void test_kquant_edges(void) {
    float x[512] = {0}, y[512];
    unsigned char q[640], zero[640] = {0};  /* Q8_0 of 512 takes 544 bytes */
    for (uint32_t t = QW_GGML_Q4_K; t <= QW_GGML_Q6_K; t += QW_GGML_Q6_K - QW_GGML_Q4_K) {
        size_t nb = qw_gguf_row_size(t, 512);
        memset(q, 0xff, sizeof q);
        CHECK(qw_quant_row(t, x, 512, q) == 0 && !memcmp(q, zero, nb), "%s: zeros", qw_gguf_type_name(t));
        CHECK(qw_quant_row(t, x, 255, q) == QWENC_EINVAL && qw_dequant_row(t, q, 300, y) == QWENC_EINVAL,
              "%s: partial super-block", qw_gguf_type_name(t));
    }
    for (int i = 0; i < 256; i++) x[i] = frand() * 1e-20f;
    CHECK(qw_quant_row(QW_GGML_Q6_K, x, 256, q) == 0 && !memcmp(q, zero, QW_Q6_K_BYTES), "q6_k: below 1e-15");
    for (int i = 0; i < 512; i++) x[i] = frand();
    x[3] = NAN, x[300] = INFINITY, x[301] = -INFINITY;
    uint32_t types[] = {QW_GGML_Q8_0, QW_GGML_Q4_0, QW_GGML_Q5_0, QW_GGML_Q4_K, QW_GGML_Q6_K};
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++)
        CHECK(qw_quant_row(types[k], x, 512, q) == 0 && qw_dequant_row(types[k], q, 512, y) == 0, "%s: NaN row",
              qw_gguf_type_name(types[k]));
}

/* llama.cpp's converter quantized these tensors from float32 with its
 * reference rounding; their dequantized values quantize back to the same
 * bytes only if scale, rounding, layout and f16 conversion all agree. */
static void test_llamacpp_q8_0_bytes(void) {
    qw_gguf g;
    char err[512];
    const char *path = check_env("QWENC_GGUF_FIXTURE");
    if (qw_gguf_open(path, &g, err, sizeof err)) {
        CHECK(0, "%s", err);
        return;
    }
    int n_q8 = 0, bad = 0;
    for (size_t i = 0; i < g.n_tensors; i++) {
        const qw_gguf_tensor *t = &g.tensors[i];
        if (t->type != QW_GGML_Q8_0) continue;
        int64_t n = qw_gguf_tensor_nelements(t);
        float *x = malloc((size_t)n * sizeof *x);
        unsigned char *q = malloc(t->nbytes);
        CHECK(qw_dequant_row(t->type, t->data, n, x) == 0 && qw_quant_row(t->type, x, n, q) == 0, "%s", t->name);
        bad += memcmp(q, t->data, t->nbytes) != 0;
        n_q8++;
        free(x);
        free(q);
    }
    CHECK(n_q8 == 15 && bad == 0, "%d of %d q8_0 tensors differ from llama.cpp's bytes", bad, n_q8);
    qw_gguf_close(&g);
}

int main(void) {
    test_f16_rounding();
    test_bf16_rounding();
    test_q8_0_known_block();
    test_q4_0_known_block();
    test_error_bounds();
    test_q5_0_known_block();
    test_q4_k_known_block();
    test_q6_k_known_block();
    test_kquant_error();
    test_kquant_edges();
    test_llamacpp_q8_0_bytes();
    return check_summary();
}
