/* Our quantizers against llama.cpp's own, byte for byte: loads ggml's
 * libggml-base.so (from the prebuilt node-llama-cpp package) and runs its
 * quantize_row_q8_0_ref / quantize_row_q4_0_ref (what llama.cpp's tools use
 * to make model files) and ggml_fp32_to_fp16_row / ggml_fp32_to_bf16_row
 * beside qw_quant_row on random rows of many scales and on every bf16 tensor
 * of the given safetensors models. Built and run by
 * scripts/check-llamacpp-convert.
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
static row_fn ggml_q8_0, ggml_q4_0, ggml_f16, ggml_bf16;
static long n_rows, n_bad;

static void compare(const float *x, int64_t n) {
    static const struct { uint32_t type; row_fn *fn; } kinds[] = {
        {QW_GGML_Q8_0, &ggml_q8_0}, {QW_GGML_Q4_0, &ggml_q4_0}, {QW_GGML_F16, &ggml_f16}, {QW_GGML_BF16, &ggml_bf16}};
    size_t cap = (size_t)n * 4 + 64;
    unsigned char *a = malloc(cap), *b = malloc(cap);
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        size_t bytes = qw_gguf_row_size(kinds[k].type, n);
        if (!bytes) continue;  /* not whole blocks */
        memset(a, 0, cap), memset(b, 0, cap);
        qw_quant_row(kinds[k].type, x, n, a);
        (*kinds[k].fn)(x, b, n);
        n_rows++;
        if (memcmp(a, b, bytes)) {
            if (n_bad++ < 5) fprintf(stderr, "differs: %s row of %lld\n", qw_gguf_type_name(kinds[k].type), (long long)n);
        }
    }
    free(a), free(b);
}

static void random_rows(void) {
    uint64_t s = 0x9e3779b97f4a7c15ull;
    float x[4096];
    for (int r = 0; r < 2000; r++) {
        float scale = ldexpf(1.0f, r % 40 - 30);
        for (int i = 0; i < 4096; i++) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            x[i] = scale * (float)((double)(s >> 11) / 9007199254740992.0 * 2 - 1);
            if (r % 7 == 0 && i % 5 == 0) x[i] = roundf(x[i] / scale * 8) * scale / 8;  /* exact ties */
        }
        compare(x, 4096);
    }
}

static void model_rows(const char *dir) {
    qw_checkpoint ck;
    char err[512];
    if (qw_checkpoint_open(dir, &ck, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        n_bad++;
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
    ggml_q8_0 = (row_fn)(uintptr_t)dlsym(h, "quantize_row_q8_0_ref");
    ggml_q4_0 = (row_fn)(uintptr_t)dlsym(h, "quantize_row_q4_0_ref");
    ggml_f16 = (row_fn)(uintptr_t)dlsym(h, "ggml_fp32_to_fp16_row");
    ggml_bf16 = (row_fn)(uintptr_t)dlsym(h, "ggml_fp32_to_bf16_row_ref");
    if (!ggml_q8_0 || !ggml_q4_0 || !ggml_f16 || !ggml_bf16) {
        fprintf(stderr, "%s: a quantizer is missing\n", argv[1]);
        return 2;
    }
    random_rows();
    for (int i = 2; i < argc; i++) model_rows(argv[i]);
    printf("quantizers vs llama.cpp's ggml: %ld rows (q8_0, q4_0, f16, bf16), %ld differ\n", n_rows, n_bad);
    return n_bad != 0;
}
