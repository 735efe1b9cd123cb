/* The tokenizer from GGUF metadata: the tiny Qwen3 GGUF written by llama.cpp's
 * converter (full 151,936-id Qwen3 vocabulary and the chat template in its
 * metadata) must tokenize, decode and render chats exactly as transformers
 * does (the golden files the tokenizer.json path is held to); small
 * hand-made GGUFs check the loader's rules and its one-line errors. */
#include "qwenc.h"
#include "tokenizer/tokenizer.h"

#include <jansson.h>

#include "check.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char err[1024];

static void check_encode(const qwenc_tokenizer *t, const json_t *text, const json_t *expect, const char *what) {
    int32_t *ids = NULL;
    size_t n = 0, n_want;
    int rc = qwenc_tokenize(t, json_string_value(text), json_string_length(text), &ids, &n, err, sizeof err);
    int32_t *want = check_ids_from_json(expect, &n_want);
    CHECK(rc == 0, "%s: tokenize failed: %s", what, err);
    CHECK(rc || (n == n_want && !memcmp(ids, want, n * sizeof *ids)), "%s: ids differ (got %zu, want %zu)", what, n,
          n_want);
    free(want);
    free(ids);
}

static void check_decode(const qwenc_tokenizer *t, const json_t *ids_json, int skip, const json_t *expect,
                         const char *what) {
    size_t n, len = 0, want = json_string_length(expect);
    int32_t *ids = check_ids_from_json(ids_json, &n);
    char *text = NULL;
    int rc = qwenc_detokenize(t, ids, n, skip, &text, &len, err, sizeof err);
    CHECK(rc == 0, "%s: detokenize failed: %s", what, err);
    CHECK(rc || (len == want && !memcmp(text, json_string_value(expect), want)),
          "%s: decoded text differs (skip_special=%d)", what, skip);
    free(text);
    free(ids);
}

static void test_golden(const char *data, const qwenc_tokenizer *t) {
    json_t *g = check_load_json(data, "tokenizer_golden.json");
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(g, "cases"), i, c) {
        char what[64];
        snprintf(what, sizeof what, "tokenizer_golden case %zu", i);
        check_encode(t, json_object_get(c, "text"), json_object_get(c, "ids"), what);
        check_decode(t, json_object_get(c, "ids"), 0, json_object_get(c, "decoded"), what);
    }
    CHECK(i > 50, "too few golden cases (%zu)", i);
    json_decref(g);
}

static void check_render(const qwenc_tokenizer *t, const json_t *c, const char *what) {
    char *req = check_chat_request(c), *out = NULL;
    const char *expected = json_string_value(json_object_get(c, "rendered"));
    int rc = qwenc_chat_render(t, req, &out, err, sizeof err);
    CHECK(rc == 0, "%s: render failed: %s", what, err);
    CHECK(rc || !strcmp(out, expected), "%s: rendered differently:\n[%s]\nexpected\n[%s]", what, out, expected);
    free(out);
    free(req);
}

static void test_chat_golden(const char *data, const qwenc_tokenizer *t) {
    json_t *g = check_load_json(data, "chat_golden.json");
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(g, "cases"), i, c) {
        char what[96];
        snprintf(what, sizeof what, "chat_golden %s", json_string_value(json_object_get(c, "name")));
        check_encode(t, json_object_get(c, "rendered"), json_object_get(c, "ids"), what);
        check_render(t, c, what);
    }
    CHECK(i >= 11, "chat_golden.json has its cases (%zu)", i);
    json_array_foreach(json_object_get(g, "decode_cases"), i, c) {
        char what[64];
        snprintf(what, sizeof what, "chat_golden decode_cases[%zu]", i);
        check_decode(t, json_object_get(c, "ids"), 0, json_object_get(c, "decoded"), what);
        check_decode(t, json_object_get(c, "ids"), 1, json_object_get(c, "decoded_skip_special"), what);
    }
    json_decref(g);
}

static void expect_special(const qwenc_tokenizer *t, const char *key, const char *want) {
    const char *got = qw_tokenizer_special_text(t, key);
    CHECK(got && !strcmp(got, want), "%s is '%s', want '%s'", key, got ? got : "(null)", want);
}

/* What the fixture's metadata says beyond the golden files. */
static void test_fixture_details(const qwenc_tokenizer *t, const char *tokdir) {
    CHECK(qwenc_tokenizer_n_tokens(t) == 151936, "n_tokens %d, the file has 151936", qwenc_tokenizer_n_tokens(t));
    CHECK(qwenc_token_id(t, "<|im_end|>") == 151645, "<|im_end|> id");
    CHECK(qwenc_token_id(t, "<think>") == 151667, "<think> id");
    expect_special(t, "eos_token", "<|im_end|>");
    expect_special(t, "pad_token", "<|endoftext|>");
    /* tokenizer_config.json has bos_token null; the GGUF names <|endoftext|>
     * (unused by Qwen's template, which never reads bos_token). */
    expect_special(t, "bos_token", "<|endoftext|>");
    /* Unused ids past the tokenizer.json vocabulary ([PAD151669]...) decode
     * to nothing, as in llama.cpp; ids past the file's count are errors. */
    int32_t ids[] = {9707, 151669, 151935};
    char *text = NULL;
    int rc = qwenc_detokenize(t, ids, 3, 0, &text, NULL, err, sizeof err);
    CHECK(rc == 0 && !strcmp(text, "Hello"), "unused ids decode to nothing: %s", rc ? err : text);
    free(text);
    ids[0] = 151936;
    rc = qwenc_detokenize(t, ids, 1, 0, &text, NULL, err, sizeof err);
    CHECK(rc == QWENC_ERANGE, "id 151936 is out of range (rc %d)", rc);
    /* The template in the GGUF is the one of tokenizer_config.json. */
    qwenc_tokenizer *dir_tok = NULL;
    if (qwenc_tokenizer_open(tokdir, &dir_tok, err, sizeof err) == 0) {
        const char *a = qw_tokenizer_chat_template(t), *b = qw_tokenizer_chat_template(dir_tok);
        CHECK(a && b && !strcmp(a, b), "GGUF chat template equals tokenizer_config.json's");
    }
    qwenc_tokenizer_free(dir_tok);
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void test_fixture(const char *data, const char *gguf, const char *tokdir) {
    qwenc_tokenizer *t = NULL;
    double t0 = now_ms();
    int rc = qwenc_tokenizer_open(gguf, &t, err, sizeof err);
    printf("GGUF tokenizer loaded in %.1f ms\n", now_ms() - t0);
    CHECK(rc == 0 && t, "open %s: %s", gguf, err);
    if (rc) return;
    test_fixture_details(t, tokdir);
    test_golden(data, t);
    test_chat_golden(data, t);
    qwenc_tokenizer_free(t);
}

/* ---- hand-made GGUFs ------------------------------------------------------ */

typedef struct {
    unsigned char *p;
    size_t n, cap;
    uint64_t n_kv;
} gbuf;

static void put(gbuf *b, const void *data, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        if (!(b->p = realloc(b->p, b->cap))) exit(2);
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
}

static void put_le(gbuf *b, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; i++) put(b, &(unsigned char){(unsigned char)(v >> (8 * i))}, 1);
}

static void put_str(gbuf *b, const char *s) {
    put_le(b, strlen(s), 8);
    put(b, s, strlen(s));
}

enum { V_U32 = 4, V_I32 = 5, V_BOOL = 7, V_STR = 8, V_ARR = 9 };

static void kv_head(gbuf *b, const char *key, uint32_t type) {
    put_str(b, key);
    put_le(b, type, 4);
    b->n_kv++;
}

static void kv_str(gbuf *b, const char *key, const char *v) {
    kv_head(b, key, V_STR);
    put_str(b, v);
}

static void kv_u32(gbuf *b, const char *key, uint32_t v) {
    kv_head(b, key, V_U32);
    put_le(b, v, 4);
}

static void kv_strs(gbuf *b, const char *key, const char *const *v, size_t n) {
    kv_head(b, key, V_ARR);
    put_le(b, V_STR, 4);
    put_le(b, n, 8);
    for (size_t i = 0; i < n; i++) put_str(b, v[i]);
}

static void kv_i32s(gbuf *b, const char *key, const int32_t *v, size_t n) {
    kv_head(b, key, V_ARR);
    put_le(b, V_I32, 4);
    put_le(b, n, 8);
    for (size_t i = 0; i < n; i++) put_le(b, (uint32_t)v[i], 4);
}

/* Writes magic, version 3, no tensors, the KVs, padding to 32 bytes. */
static void write_gguf(const char *path, const gbuf *kvs) {
    gbuf f = {0};
    put(&f, "GGUF", 4);
    put_le(&f, 3, 4);
    put_le(&f, 0, 8);
    put_le(&f, kvs->n_kv, 8);
    put(&f, kvs->p, kvs->n);
    while (f.n % 32) put(&f, "", 1);
    FILE *fp = fopen(path, "wb");
    if (!fp || fwrite(f.p, 1, f.n, fp) != f.n || fclose(fp)) exit(2);
    free(f.p);
}

/* What a test GGUF leaves out or changes from the small valid one. */
typedef struct {
    const char *model, *pre; /* NULL: key absent */
    int no_tokens, short_types, bad_merge;
} variant;

static const char *const tiny_tokens[] = {"a", "b", "ab", "\xc4\xa0", "<|end|>", "<x>", "[PAD6]"};
static const int32_t tiny_types[] = {1, 1, 1, 1, 3, 4, 5};
#define N_TINY 7

static void make_tiny(const char *path, variant v) {
    gbuf b = {0};
    const char *merges[] = {v.bad_merge ? "a c" : "a b"};
    kv_str(&b, "general.architecture", "qwen3");
    if (v.model) kv_str(&b, "tokenizer.ggml.model", v.model);
    if (v.pre) kv_str(&b, "tokenizer.ggml.pre", v.pre);
    if (!v.no_tokens) kv_strs(&b, "tokenizer.ggml.tokens", tiny_tokens, N_TINY);
    kv_i32s(&b, "tokenizer.ggml.token_type", tiny_types, N_TINY - (v.short_types ? 1 : 0));
    kv_strs(&b, "tokenizer.ggml.merges", merges, 1);
    kv_u32(&b, "tokenizer.ggml.eos_token_id", 4);
    kv_str(&b, "tokenizer.chat_template", "{{ messages[0].content }}{{ eos_token }}");
    write_gguf(path, &b);
    free(b.p);
}

static void test_tiny_ok(const char *path) {
    make_tiny(path, (variant){.model = "gpt2", .pre = "qwen2"});
    qwenc_tokenizer *t = NULL;
    int rc = qwenc_tokenizer_open(path, &t, err, sizeof err);
    CHECK(rc == 0, "tiny GGUF: %s", err);
    if (rc) return;
    CHECK(qwenc_tokenizer_n_tokens(t) == N_TINY, "tiny n_tokens %d", qwenc_tokenizer_n_tokens(t));
    int32_t *ids = NULL, want[] = {2, 5, 3, 0, 4, 1};
    size_t n = 0;
    rc = qwenc_tokenize(t, "ab<x> a<|end|>b", 15, &ids, &n, err, sizeof err);
    CHECK(rc == 0 && n == 6 && !memcmp(ids, want, sizeof want), "tiny tokenize (%zu ids)", n);
    char *text = NULL;
    rc = qwenc_detokenize(t, want, 6, 1, &text, NULL, err, sizeof err);
    CHECK(rc == 0 && !strcmp(text, "ab<x> ab"), "skip_special keeps user-defined, drops control: %s", text);
    free(text);
    char *out = NULL;
    rc = qwenc_chat_render(t, "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}", &out, err, sizeof err);
    CHECK(rc == 0 && !strcmp(out, "hi<|end|>"), "tiny template: %s", rc ? err : out);
    free(out);
    free(ids);
    qwenc_tokenizer_free(t);
}

static void expect_error(const char *path, variant v, int want_rc, const char *want_text) {
    make_tiny(path, v);
    qwenc_tokenizer *t = NULL;
    err[0] = 0;
    int rc = qwenc_tokenizer_open(path, &t, err, sizeof err);
    CHECK(rc == want_rc && !t, "%s: rc %d, want %d", want_text, rc, want_rc);
    CHECK(strstr(err, path) && strstr(err, want_text) && !strchr(err, '\n'), "error names file and problem: %s", err);
    qwenc_tokenizer_free(t);
}

static void test_tiny_errors(const char *path) {
    expect_error(path, (variant){0}, QWENC_EFORMAT, "no tokenizer in the GGUF metadata");
    expect_error(path, (variant){.model = "gpt2", .pre = "qwen2", .no_tokens = 1}, QWENC_EFORMAT,
                 "tokenizer.ggml.tokens");
    expect_error(path, (variant){.model = "llama", .pre = "qwen2"}, QWENC_EUNSUPPORTED,
                 "tokenizer.ggml.model 'llama' is not supported");
    expect_error(path, (variant){.model = "gpt2", .pre = "llama-bpe"}, QWENC_EUNSUPPORTED,
                 "tokenizer.ggml.pre 'llama-bpe' is not supported");
    expect_error(path, (variant){.model = "gpt2"}, QWENC_EUNSUPPORTED, "no tokenizer.ggml.pre");
    expect_error(path, (variant){.model = "gpt2", .pre = "qwen2", .short_types = 1}, QWENC_EFORMAT,
                 "token_type has 6 entries but tokenizer.ggml.tokens has 7");
    expect_error(path, (variant){.model = "gpt2", .pre = "qwen2", .bad_merge = 1}, QWENC_EFORMAT,
                 "token 'c' is not in the vocab");
}

int main(void) {
    const char *data = check_env("QWENC_TEST_DATA");
    const char *gguf = check_env("QWENC_GGUF_FIXTURE");
    const char *tokdir = check_env("QWENC_TOKENIZER_DIR");
    test_fixture(data, gguf, tokdir);

    char dir[] = "/tmp/qwenc-ggtok-XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp failed");
        return check_summary();
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/tiny.gguf", dir);
    test_tiny_ok(path);
    test_tiny_errors(path);
    remove(path);
    rmdir(dir);
    return check_summary();
}
