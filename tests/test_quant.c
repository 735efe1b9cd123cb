/* Quantizers (float32 -> f16, bf16, Q8_0, Q4_0): rounding of every f16
 * value and of the halfway points between them, blocks whose bytes are known
 * by hand (nibble order, halves away from zero, the Q4_0 clamp), error
 * bounds of dequant(quant(x)), and llama.cpp's own Q8_0 bytes: the tensors of
 * the GGUF written by llama.cpp's converter quantize back to themselves. */
#include "check.h"
#include "format/dtype.h"
#include "format/gguf.h"
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
    CHECK(qw_quant_row(QW_GGML_Q4_K, x, 256, q) == QWENC_EUNSUPPORTED, "q4_k is not written");
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
    test_llamacpp_q8_0_bytes();
    return check_summary();
}
