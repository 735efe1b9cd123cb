/* llama-quantize itself against qwenc convert: loads llama.cpp's libllama
 * (from the prebuilt node-llama-cpp package), has llama_model_quantize turn
 * a bf16 GGUF into TYPE (q4_k_m: LLAMA_FTYPE_MOSTLY_Q4_K_M; q4_k and q6_k:
 * Q4_K_S / Q6_K with pure set, every matrix one type) without an importance
 * matrix, and compares every tensor of its file with ours: same names, same
 * ggml types, same bytes. Built and run by scripts/check-llamacpp-convert.
 *   usage: llamacpp_quantize_check LIBLLAMA.so BF16.gguf TYPE OURS.gguf THEIRS.gguf */
#include "format/gguf.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* llama.h's llama_model_quantize_params (node-llama-cpp 3.22.1's llama.cpp). */
typedef struct {
    int32_t nthread;
    int32_t ftype;
    int32_t output_tensor_type, token_embedding_type;
    bool allow_requantize, quantize_output_tensor, only_copy, pure, keep_split, dry_run;
    const void *imatrix, *kv_overrides, *tt_overrides;
    const int32_t *prune_layers;
    size_t max_buf_size;
} quantize_params;

typedef quantize_params (*default_params_fn)(void);
typedef uint32_t (*quantize_fn)(const char *in, const char *out, const quantize_params *p);
typedef void (*void_fn)(void);

static int same_tensors(const char *ours_path, const char *theirs_path, const char *type) {
    qw_gguf ours, theirs;
    char err[512];
    if (qw_gguf_open(ours_path, &ours, err, sizeof err) || qw_gguf_open(theirs_path, &theirs, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int bad = ours.n_tensors != theirs.n_tensors, typed[64] = {0};
    for (size_t i = 0; i < ours.n_tensors && !bad; i++) {
        const qw_gguf_tensor *a = &ours.tensors[i], *b = &theirs.tensors[i];  /* both sorted by name */
        if (strcmp(a->name, b->name) || a->type != b->type || a->nbytes != b->nbytes ||
            memcmp(a->data, b->data, a->nbytes)) {
            fprintf(stderr, "%s: tensor %s (ours %s) differs from llama.cpp's %s (%s)\n", type, a->name,
                    qw_gguf_type_name(a->type), b->name, qw_gguf_type_name(b->type));
            bad = 1;
        }
        if (a->type < 64) typed[a->type]++;
    }
    printf("%s: llama-quantize and qwenc convert: %zu tensors,", type, ours.n_tensors);
    for (int t = 0; t < 64; t++)
        if (typed[t]) printf(" %d %s", typed[t], qw_gguf_type_name((uint32_t)t));
    printf(": %s\n", bad ? "DIFFER" : "same types, same bytes");
    qw_gguf_close(&ours);
    qw_gguf_close(&theirs);
    return bad;
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s LIBLLAMA.so BF16.gguf TYPE OURS.gguf THEIRS.gguf\n", argv[0]);
        return 2;
    }
    void *h = dlopen(argv[1], RTLD_NOW);
    if (!h) {
        fprintf(stderr, "%s\n", dlerror());
        return 2;
    }
    default_params_fn defaults = (default_params_fn)(uintptr_t)dlsym(h, "llama_model_quantize_default_params");
    quantize_fn quantize = (quantize_fn)(uintptr_t)dlsym(h, "llama_model_quantize");
    void_fn backend_init = (void_fn)(uintptr_t)dlsym(h, "llama_backend_init");
    if (!defaults || !quantize || !backend_init) {
        fprintf(stderr, "%s: llama_model_quantize is missing\n", argv[1]);
        return 2;
    }
    backend_init();
    quantize_params p = defaults();
    const char *type = argv[3];
    p.nthread = 2;
    if (!strcmp(type, "q4_k_m")) p.ftype = 15;  /* LLAMA_FTYPE_MOSTLY_Q4_K_M */
    else if (!strcmp(type, "q4_k")) p.ftype = 14, p.pure = true;  /* MOSTLY_Q4_K_S, every matrix Q4_K */
    else if (!strcmp(type, "q6_k")) p.ftype = 18, p.pure = true;
    else return fprintf(stderr, "unknown type %s\n", type), 2;
    if (quantize(argv[2], argv[5], &p)) {
        fprintf(stderr, "%s: llama_model_quantize failed\n", type);
        return 1;
    }
    return same_tensors(argv[4], argv[5], type);
}
