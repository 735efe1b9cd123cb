/* bench_tokenize: load time of a tokenizer and encoding speed on ~1 MB of
 * mixed text (code, English, CJK, emoji, whitespace runs) assembled from
 * the fixture texts.
 *
 * usage: bench_tokenize [TOKENIZER_DIR [TEXTS_JSON]]
 * Defaults: the unpacked Qwen3 tokenizer in the build tree and
 * tests/data/tokenizer_texts.json. */
#include "qwenc.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef QWENC_BENCH_TOKENIZER_DIR
#define QWENC_BENCH_TOKENIZER_DIR "build/testdata/tokenizer"
#endif
#ifndef QWENC_BENCH_TEXTS
#define QWENC_BENCH_TEXTS "tests/data/tokenizer_texts.json"
#endif

#define TARGET_BYTES (1u << 20)
#define LOAD_RUNS 5
#define ENCODE_RUNS 5

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Extra snippets so that every kind of text is well represented. */
static const char *const extra[] = {
    "static int add(int a, int b) {\n    return a + b;\n}\n",
    "for i in range(10):\n        print(f\"{i:>4} {i*i:>6}\")\n\n\n",
    "The quick brown fox jumps over the lazy dog. ",
    "人工智能正在改变世界，大语言模型可以理解和生成自然语言。",
    "東京タワーの高さは333メートルです。",
    "🚀🔥✨ emoji 👍🏽 mixed 🇯🇵 text 😀\n",
    "        \t\t    \n\n   \r\n      ",
};

/* Builds about TARGET_BYTES of text by cycling through the fixtures in a
 * fixed pseudo-random order, with a running number between pieces so that
 * the text is not one short period repeated. */
static char *build_text(const char *texts_path, size_t *len) {
    json_error_t je;
    json_t *root = json_load_file(texts_path, 0, &je);
    json_t *texts = json_object_get(root, "texts");
    if (!json_is_array(texts) || json_array_size(texts) == 0) {
        fprintf(stderr, "bench_tokenize: %s: %s\n", texts_path, root ? "no \"texts\" array" : je.text);
        json_decref(root);
        return NULL;
    }
    size_t n_texts = json_array_size(texts), n_extra = sizeof extra / sizeof extra[0];
    char *buf = malloc(TARGET_BYTES + 4096);
    size_t used = 0;
    uint64_t rng = 88172645463325252ULL;
    for (unsigned k = 0; buf && used < TARGET_BYTES; k++) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        size_t pick = (size_t)(rng % (n_texts + n_extra));
        const char *s = pick < n_texts ? json_string_value(json_array_get(texts, pick)) : extra[pick - n_texts];
        size_t sl = strlen(s);
        if (sl > 3000) sl = 3000;
        memcpy(buf + used, s, sl);
        used += sl;
        used += (size_t)snprintf(buf + used, 64, " %u\n", k);
    }
    json_decref(root);
    *len = used;
    return buf;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : QWENC_BENCH_TOKENIZER_DIR;
    const char *texts = argc > 2 ? argv[2] : QWENC_BENCH_TEXTS;
    char err[512];
    qwenc_tokenizer *t = NULL;
    double best_load = 1e30;
    for (int i = 0; i < LOAD_RUNS; i++) {
        qwenc_tokenizer_free(t);
        double t0 = now_ms();
        if (qwenc_tokenizer_open(dir, &t, err, sizeof err)) {
            fprintf(stderr, "bench_tokenize: %s\n", err);
            return 1;
        }
        double dt = now_ms() - t0;
        if (dt < best_load) best_load = dt;
    }
    size_t len;
    char *text = build_text(texts, &len);
    if (!text) {
        qwenc_tokenizer_free(t);
        return 1;
    }
    double best_enc = 1e30;
    size_t n_ids = 0;
    for (int i = 0; i < ENCODE_RUNS; i++) {
        int32_t *ids;
        double t0 = now_ms();
        if (qwenc_tokenize(t, text, len, &ids, &n_ids, err, sizeof err)) {
            fprintf(stderr, "bench_tokenize: %s\n", err);
            return 1;
        }
        double dt = now_ms() - t0;
        if (dt < best_enc) best_enc = dt;
        free(ids);
    }
    printf("tokenizer: %s (%d tokens)\n", dir, qwenc_tokenizer_n_tokens(t));
    printf("load: %.1f ms (best of %d)\n", best_load, LOAD_RUNS);
    printf("encode: %zu bytes -> %zu ids in %.1f ms = %.2f MB/s (best of %d)\n", len, n_ids, best_enc,
           len / 1e6 / (best_enc / 1e3), ENCODE_RUNS);
    free(text);
    qwenc_tokenizer_free(t);
    return 0;
}
