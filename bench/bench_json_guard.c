/* bench_json_guard: the cost of constraining decoding to a JSON object over
 * the real Qwen3 vocabulary: building the per-tokenizer tables once, and
 * one json_guard_mask (the whole vocabulary) in each kind of state.
 *
 * usage: bench_json_guard [TOKENIZER_DIR]
 * Default: the unpacked Qwen3 tokenizer in the build tree. */
#include "qwenc.h"
#include "server/json_guard.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef QWENC_BENCH_TOKENIZER_DIR
#define QWENC_BENCH_TOKENIZER_DIR "build/testdata/tokenizer"
#endif

#define MASK_RUNS 50

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The text so far, and what it leaves the validator expecting. */
static const struct {
    const char *name, *text;
} states[] = {
    {"start", ""},
    {"object opened", "{"},
    {"in a key", "{\"na"},
    {"after a key", "{\"name\""},
    {"value expected", "{\"name\": "},
    {"in a string", "{\"name\": \"Wh"},
    {"in a number", "{\"age\": 12"},
    {"after a value", "{\"a\": [1, 2]"},
    {"in an array", "{\"a\": [1, "},
    {"complete", "{\"a\": 1}"},
};

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : QWENC_BENCH_TOKENIZER_DIR;
    char err[512];
    qwenc_tokenizer *t = NULL;
    if (qwenc_tokenizer_open(dir, &t, err, sizeof err)) {
        fprintf(stderr, "bench_json_guard: %s\n", err);
        return 1;
    }
    int n = qwenc_tokenizer_n_tokens(t);
    double t0 = now_ms();
    json_vocab *v = json_vocab_new(t, n);
    double build_ms = now_ms() - t0;
    int32_t eos = qwenc_token_id(t, "<|im_end|>");
    float *logits = malloc((size_t)n * sizeof *logits);
    if (!v || !logits) {
        fprintf(stderr, "bench_json_guard: out of memory\n");
        return 1;
    }
    printf("vocabulary: %d tokens; tables built in %.1f ms\n", n, build_ms);
    printf("%-16s %10s %10s\n", "state", "mask ms", "allowed");
    double worst = 0;
    for (size_t k = 0; k < sizeof states / sizeof *states; k++) {
        json_guard *g = json_guard_new(v, &eos, 1);
        if (!g || json_guard_feed(g, states[k].text, strlen(states[k].text))) {
            fprintf(stderr, "bench_json_guard: state '%s' rejected\n", states[k].name);
            return 1;
        }
        double best = 1e9;
        int allowed = 0;
        for (int r = 0; r < MASK_RUNS; r++) {
            for (int i = 0; i < n; i++) logits[i] = 0.0f;
            double a = now_ms();
            json_guard_mask(g, logits);
            double ms = now_ms() - a;
            best = ms < best ? ms : best;
        }
        for (int i = 0; i < n; i++) allowed += isfinite(logits[i]) != 0;
        printf("%-16s %10.3f %10d\n", states[k].name, best, allowed);
        worst = best > worst ? best : worst;
        json_guard_free(g);
    }
    printf("slowest mask: %.3f ms (best of %d runs each)\n", worst, MASK_RUNS);
    free(logits);
    json_vocab_free(v);
    qwenc_tokenizer_free(t);
    return 0;
}
