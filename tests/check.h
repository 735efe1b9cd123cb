/* A minimal test harness: CHECK records a failure and goes on; main returns
 * check_summary(), which prints "N passed, N failed" and the exit status. */
#ifndef QW_TEST_CHECK_H
#define QW_TEST_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static int check_passed, check_failed;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (cond) {                                                        \
            check_passed++;                                                \
        } else {                                                           \
            check_failed++;                                                \
            fprintf(stderr, "%s:%d: FAILED: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                  \
            fputc('\n', stderr);                                           \
        }                                                                  \
    } while (0)

static inline const char *check_env(const char *name) {
    const char *v = getenv(name);
    if (!v || !*v) {
        fprintf(stderr, "environment variable %s is not set (run through ctest)\n", name);
        exit(2);
    }
    return v;
}

/* Helpers for tests that run models through the public API (include
 * qwenc.h before this header to get them). */
#ifdef QWENC_H
static inline qwenc_model *check_open_model(const char *path, int threads) {
    char err[512];
    qwenc_model_params p;
    qwenc_model_params_init(&p);
    p.n_threads = threads;
    qwenc_model *m = NULL;
    CHECK(qwenc_model_open(path, &p, &m, err, sizeof err) == 0, "open %s: %s", path, err);
    return m;
}

/* Logits of every position of ids, evaluated in one batch (malloc'd). */
static inline float *check_eval_all(qwenc_model *m, const int32_t *ids, int n, int vocab) {
    char err[512];
    qwenc_session *s = NULL;
    float *lg = malloc((size_t)n * vocab * sizeof *lg);
    int rc = qwenc_session_new(m, 0, &s, err, sizeof err);
    if (!rc) rc = qwenc_session_eval(s, ids, n, lg, err, sizeof err);
    CHECK(rc == 0, "eval: %s", err);
    qwenc_session_free(s);
    return lg;
}

static inline int check_argmax(const float *x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}
#endif

/* Helpers for tests that read JSON fixtures (include jansson.h before this
 * header to get them). */
#ifdef JANSSON_H
/* dir/name parsed; a missing or broken fixture ends the test (exit 2). */
static inline json_t *check_load_json(const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    json_error_t je;
    json_t *j = json_load_file(path, JSON_ALLOW_NUL, &je);
    if (!j) {
        fprintf(stderr, "%s: %s\n", path, je.text);
        exit(2);
    }
    return j;
}

/* The chat_golden request transformers was given: the case without its
 * name and expected outputs, as JSON text (malloc'd). */
static inline char *check_chat_request(const json_t *c) {
    json_t *req = json_deep_copy(c);
    json_object_del(req, "name");
    json_object_del(req, "rendered");
    json_object_del(req, "ids");
    char *s = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    return s;
}

/* A JSON array of token ids as a malloc'd int32 array. */
static inline int32_t *check_ids_from_json(const json_t *arr, size_t *n) {
    *n = json_array_size(arr);
    int32_t *ids = malloc((*n + 1) * sizeof *ids);
    for (size_t i = 0; i < *n; i++) ids[i] = (int32_t)json_integer_value(json_array_get(arr, i));
    return ids;
}
#endif

static inline int check_summary(void) {
    printf("%d passed, %d failed\n", check_passed, check_failed);
    return check_failed ? 1 : (check_passed ? 0 : 1);
}

#endif
