/* Our quantizers and dequantizers against llama.cpp's own, byte for byte:
 * loads ggml's libggml-base.so (from the prebuilt node-llama-cpp package) and
 * runs, beside qw_quant_row / qw_dequant_row:
 *   - quantize_row_{q8_0,q4_0,q5_0,q4_K,q6_K}_ref and ggml_quantize_chunk
 *     without an importance matrix (what llama-quantize calls to make model
 *     files), ggml_fp32_to_fp16_row and ggml_fp32_to_bf16_row_ref: the bytes
 *     must be equal;
 *   - dequantize_row_{q8_0,q4_0,q5_0,q4_K,q6_K} on those bytes and on blocks
 *     of random bytes (with finite f16 scales): the floats must be equal bit
 *     for bit;
 * on random rows of many scales (exact ties, all-zero, tiny, constant,
 * one-sided and one-outlier rows among them) and on every bf16 tensor of the
 * given safetensors models. Built and run by scripts/check-llamacpp-convert.
 *   usage: llamacpp_quant_check LIBGGML_BASE.so MODEL_DIR... */
#include "format/gguf.h"
#include "format/quant.h"
#include "format/safetensors.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*row_fn)(const float *x, void *y, int64_t k);
typedef void (*dequant_fn)(const void *x, float *y, int64_t k);
typedef size_t (*chunk_fn)(int type, const float *src, void *dst, int64_t start, int64_t nrows, int64_t n_per_row,
                           const float *imatrix);

typedef struct {
    uint32_t type;
    const char *quant_name, *dequant_name;  /* NULL: none */
    row_fn quant;
    dequant_fn dequant;
    long rows, bad, deq_rows, deq_bad, chunk_bad;
} kind;

static kind kinds[] = {
    {QW_GGML_Q8_0, "quantize_row_q8_0_ref", "dequantize_row_q8_0", 0, 0, 0, 0, 0, 0, 0},
    {QW_GGML_Q4_0, "quantize_row_q4_0_ref", "dequantize_row_q4_0", 0, 0, 0, 0, 0, 0, 0},
    {QW_GGML_Q5_0, "quantize_row_q5_0_ref", "dequantize_row_q5_0", 0, 0, 0, 0, 0, 0, 0},
    {QW_GGML_Q4_K, "quantize_row_q4_K_ref", "dequantize_row_q4_K", 0, 0, 0, 0, 0, 0, 0},
    {QW_GGML_Q6_K, "quantize_row_q6_K_ref", "dequantize_row_q6_K", 0, 0, 0, 0, 0, 0, 0},
    {QW_GGML_F16, "ggml_fp32_to_fp16_row", NULL, 0, 0, 0, 0, 0, 0, 0},
    {QW_GGML_BF16, "ggml_fp32_to_bf16_row_ref", NULL, 0, 0, 0, 0, 0, 0, 0},
};
#define N_KINDS (sizeof kinds / sizeof kinds[0])
static chunk_fn ggml_chunk;

static void report(long *bad, const char *what, const kind *k, int64_t n) {
    if ((*bad)++ < 5) fprintf(stderr, "differs: %s %s row of %lld\n", what, qw_gguf_type_name(k->type), (long long)n);
}

/* Both dequantizers on the same bytes: equal floats, bit for bit. */
static void compare_dequant(kind *k, const unsigned char *q, int64_t n, float *a, float *b) {
    qw_dequant_row(k->type, q, n, a);
    k->dequant(q, b, n);
    k->deq_rows++;
    if (memcmp(a, b, (size_t)n * sizeof *a)) report(&k->deq_bad, "dequantized", k, n);
}

static void compare(const float *x, int64_t n) {
    size_t cap = (size_t)n * 4 + 256;
    unsigned char *a = malloc(cap), *b = malloc(cap), *c = malloc(cap);
    float *fa = malloc((size_t)n * sizeof *fa), *fb = malloc((size_t)n * sizeof *fb);
    for (size_t i = 0; i < N_KINDS; i++) {
        kind *k = &kinds[i];
        size_t bytes = qw_gguf_row_size(k->type, n);
        if (!bytes) continue;  /* not whole blocks */
        memset(a, 0, cap), memset(b, 0, cap), memset(c, 0xa5, cap);
        qw_quant_row(k->type, x, n, a);
        k->quant(x, b, n);
        k->rows++;
        if (memcmp(a, b, bytes)) report(&k->bad, "quantized", k, n);
        if (qw_gguf_type_block(k->type) > 1) {  /* llama-quantize's own entry point, 2 rows of n/2 when whole blocks */
            int64_t half = n % (2 * qw_gguf_type_block(k->type)) ? n : n / 2;
            ggml_chunk((int)k->type, x, c, 0, n / half, half, NULL);
            if (memcmp(a, c, bytes)) report(&k->chunk_bad, "ggml_quantize_chunk", k, n);
        }
        if (k->dequant) compare_dequant(k, a, n, fa, fb);
    }
    free(a), free(b), free(c), free(fa), free(fb);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return rng;
}
static float uniform(void) { return (float)((double)(next() >> 11) / 9007199254740992.0 * 2 - 1); }

/* Rows of many kinds: scales 2^-30..2^9, exact ties, and the shapes that
 * take the quantizers' edge branches. */
static void random_rows(void) {
    enum { N = 4096 };
    static float x[N];
    for (int r = 0; r < 2400; r++) {
        float scale = ldexpf(1.0f, r % 40 - 30);
        for (int i = 0; i < N; i++) {
            x[i] = scale * uniform();
            if (r % 7 == 0 && i % 5 == 0) x[i] = roundf(x[i] / scale * 8) * scale / 8;  /* exact ties */
        }
        switch (r % 11) {
        case 1: memset(x, 0, N * sizeof *x); break;                                 /* all zero */
        case 2: for (int i = 0; i < N; i++) x[i] *= 1e-17f; break;                  /* below GROUP_MAX_EPS */
        case 3: for (int i = 0; i < N; i++) x[i] = scale; break;                    /* constant */
        case 4: for (int i = 0; i < N; i++) x[i] = fabsf(x[i]); break;              /* min > 0 */
        case 5: for (int i = 0; i < N; i++) x[i] = -fabsf(x[i]); break;             /* all negative */
        case 6: for (int i = 0; i < N; i += 97) x[i] *= 300; break;                 /* outliers */
        case 7: for (int i = 0; i < N; i++) if (i % 64 < 32) x[i] = 0; break;       /* zero sub-blocks */
        case 8: for (int i = 0; i < N; i++) x[i] = x[i] * x[i] * x[i] / (scale * scale); break;  /* heavy tails */
        default: break;
        }
        compare(x, N);
    }
}

/* Where a block keeps its f16 scales: offsets in a block of `bytes`. */
static int scale_offsets(uint32_t type, size_t *bytes, int off[2]) {
    *bytes = qw_gguf_type_size(type);
    off[0] = type == QW_GGML_Q6_K ? 208 : 0;
    off[1] = type == QW_GGML_Q4_K ? 2 : -1;  /* dmin */
    return 0;
}

/* Blocks of random bytes whose f16 scales are made finite (bit 14 clear):
 * every other bit of the layouts is read by both sides. */
static void random_blocks(void) {
    enum { N = 2048 };
    static unsigned char q[N * 4];
    static float a[N], b[N];
    for (int r = 0; r < 500; r++) {
        for (size_t k = 0; k < N_KINDS; k++) {
            if (!kinds[k].dequant) continue;
            size_t bytes;
            int off[2];
            scale_offsets(kinds[k].type, &bytes, off);
            for (size_t i = 0; i < sizeof q; i++) q[i] = (unsigned char)next();
            for (size_t blk = 0; blk + bytes <= sizeof q; blk += bytes)
                for (int j = 0; j < 2; j++)
                    if (off[j] >= 0) q[blk + (size_t)off[j] + 1] &= 0xbf;
            compare_dequant(&kinds[k], q, N, a, b);
        }
    }
}

static void model_rows(const char *dir) {
    qw_checkpoint ck;
    char err[512];
    if (qw_checkpoint_open(dir, &ck, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        kinds[0].bad++;
        return;
    }
    for (int i = 0; i < ck.n_tensors; i++) {
        const qw_st_tensor *t = &ck.tensors[i];
        if (t->dtype != QW_DT_BF16) continue;
        int64_t ne0 = t->shape[t->rank - 1], rows = (int64_t)(t->nbytes / 2) / ne0;
        float *x = malloc((size_t)ne0 * sizeof *x);
        for (int64_t r = 0; r < rows; r++) {
            qw_dequant_row(QW_GGML_BF16, (const char *)t->data + r * ne0 * 2, ne0, x);
            compare(x, ne0);
        }
        free(x);
    }
    qw_checkpoint_close(&ck);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s LIBGGML_BASE.so [MODEL_DIR...]\n", argv[0]);
        return 2;
    }
    void *h = dlopen(argv[1], RTLD_NOW);
    if (!h) {
        fprintf(stderr, "%s\n", dlerror());
        return 2;
    }
    ggml_chunk = (chunk_fn)(uintptr_t)dlsym(h, "ggml_quantize_chunk");
    for (size_t i = 0; i < N_KINDS; i++) {
        kinds[i].quant = (row_fn)(uintptr_t)dlsym(h, kinds[i].quant_name);
        if (kinds[i].dequant_name) kinds[i].dequant = (dequant_fn)(uintptr_t)dlsym(h, kinds[i].dequant_name);
        if (!kinds[i].quant || (kinds[i].dequant_name && !kinds[i].dequant) || !ggml_chunk) {
            fprintf(stderr, "%s: %s is missing\n", argv[1], kinds[i].quant_name);
            return 2;
        }
    }
    random_rows();
    random_blocks();
    for (int i = 2; i < argc; i++) model_rows(argv[i]);
    long bad = 0;
    for (size_t i = 0; i < N_KINDS; i++) {
        const kind *k = &kinds[i];
        printf("%-5s quantize: %ld rows, %ld differ", qw_gguf_type_name(k->type), k->rows, k->bad + k->chunk_bad);
        if (k->dequant) printf("; dequantize: %ld rows, %ld differ", k->deq_rows, k->deq_bad);
        printf("\n");
        bad += k->bad + k->chunk_bad + k->deq_bad;
    }
    printf("quantizers vs llama.cpp's ggml: %s\n", bad ? "DIFFER" : "all equal");
    return bad != 0;
}
