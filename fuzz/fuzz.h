/* Helpers shared by the fuzz harnesses (fuzz_<target>.c). Everything is
 * static so that each harness stays one translation unit, linked either
 * with libFuzzer (QWENC_FUZZ=ON) or with replay.c (every other build).
 *
 * A harness checks what the module promises; a broken promise aborts, which
 * libFuzzer reports as a crash and replay.c as a failed test. */
#ifndef QW_FUZZ_H
#define QW_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "qwenc.h"

#define FUZZ_CHECK(cond, ...)                                                   \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "%s:%d: fuzz check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                       \
            fputc('\n', stderr);                                                \
            abort();                                                            \
        }                                                                       \
    } while (0)

/* The library's promise for err: one line of printable text. */
static inline int fuzz_one_line(const char *err) {
    if (!err[0]) return 0;
    for (const unsigned char *p = (const unsigned char *)err; *p; p++)
        if (*p < 0x20 || *p == 0x7f) return 0;
    return 1;
}

/* Well-formed UTF-8 (U+0000 included), judged by utf8proc, not by the
 * library's own decoder. */
static inline int fuzz_utf8_valid(const char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0) return 0;
        i += (size_t)k;
    }
    return 1;
}

/* The real Qwen3 tokenizer, loaded once per process: $QWENC_TOKENIZER_DIR,
 * else the copy this build unpacked (tests/CMakeLists.txt). */
static inline const qwenc_tokenizer *fuzz_tokenizer(void) {
    static qwenc_tokenizer *tok;
    if (tok) return tok;
    const char *dir = getenv("QWENC_TOKENIZER_DIR");
    if (!dir || !*dir) dir = QWENC_FUZZ_TOKENIZER_DIR;
    char err[512];
    if (qwenc_tokenizer_open(dir, &tok, err, sizeof err)) {
        fprintf(stderr, "fuzz: cannot load the tokenizer: %s\n", err);
        exit(2);
    }
    return tok;
}

/* Runs fn before main, so that libFuzzer does not count loading the
 * tokenizer (seconds under ASan) against the first input's -timeout. */
#define FUZZ_PRELOAD(fn) \
    __attribute__((constructor)) static void fuzz_preload(void) { (void)fn(); }

/* A deterministic generator seeded by the input, for cut points and the
 * like (splitmix64). */
static inline uint64_t fuzz_rand(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t fuzz_seed(const uint8_t *data, size_t size) {
    uint64_t h = 1469598103934665603ull;  /* FNV-1a */
    for (size_t i = 0; i < size; i++) h = (h ^ data[i]) * 1099511628211ull;
    return h;
}

/* Splits the input at its first NUL byte: a (NUL-terminated copy of the
 * bytes before) and b (of the bytes after; "" when there is no NUL). */
static inline void fuzz_split(const uint8_t *data, size_t size, char **a, size_t *an, char **b, size_t *bn) {
    const uint8_t *nul = memchr(data, 0, size);
    *an = nul ? (size_t)(nul - data) : size;
    *bn = nul ? size - *an - 1 : 0;
    *a = malloc(*an + 1);
    *b = malloc(*bn + 1);
    if (!*a || !*b) abort();
    if (*an) memcpy(*a, data, *an);
    if (*bn) memcpy(*b, nul + 1, *bn);
    (*a)[*an] = 0;
    (*b)[*bn] = 0;
}

#endif
