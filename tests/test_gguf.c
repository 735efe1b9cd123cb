/* GGUF reading: the tiny Qwen3 written by llama.cpp's converter opens with
 * the metadata, tokenizer and tensors its HF config implies; Q8_0/Q4_0
 * dequantization is exact; hostile files (hand-made and corrupted copies of
 * the fixture; k-quant rows that are not whole super-blocks among them) fail
 * with one line naming the file and the problem. */
#include "check.h"
#include "format/gguf.h"
#include "format/gguf_model.h"
#include "format/quant.h"
#include "qwenc.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp[256];

/* ---- a tiny GGUF writer ---- */

typedef struct {
    unsigned char *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *data, size_t n) {
    if (n == 0) return;   /* data may be NULL (an empty buffer) */
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p) exit(2);
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
}

static void put_le(buf *b, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; i++) {
        unsigned char c = (unsigned char)(v >> (8 * i));
        put(b, &c, 1);
    }
}

static void put_u32(buf *b, uint32_t v) { put_le(b, v, 4); }
static void put_u64(buf *b, uint64_t v) { put_le(b, v, 8); }

static void put_str(buf *b, const char *s) {
    put_u64(b, strlen(s));
    put(b, s, strlen(s));
}

static void kv_u32(buf *b, const char *key, uint32_t v) {
    put_str(b, key);
    put_u32(b, QW_GGUF_UINT32);
    put_u32(b, v);
}

static void kv_str(buf *b, const char *key, const char *v) {
    put_str(b, key);
    put_u32(b, QW_GGUF_STRING);
    put_str(b, v);
}

typedef struct {
    const char *name;
    uint32_t n_dims;
    uint64_t ne[5];
    uint32_t type;
    uint64_t offset;
} tinfo;

/* header, the KV bytes already in kvs, tensor infos, padding to align, then
 * data_bytes bytes of data (a byte pattern). */
static buf build(uint32_t version, const buf *kvs, uint64_t n_kv, const tinfo *t, uint64_t nt,
                 uint32_t align, size_t data_bytes) {
    buf b = {0};
    put(&b, "GGUF", 4);
    put_u32(&b, version);
    put_u64(&b, nt);
    put_u64(&b, n_kv);
    put(&b, kvs->p, kvs->n);
    for (uint64_t i = 0; i < nt; i++) {
        put_str(&b, t[i].name);
        put_u32(&b, t[i].n_dims);
        for (uint32_t d = 0; d < t[i].n_dims; d++) put_u64(&b, t[i].ne[d]);
        put_u32(&b, t[i].type);
        put_u64(&b, t[i].offset);
    }
    while (b.n % align) put(&b, "", 1);
    for (size_t i = 0; i < data_bytes; i++) {
        unsigned char c = (unsigned char)(i * 7 + 1);
        put(&b, &c, 1);
    }
    return b;
}

static const char *write_tmp(const char *name, const void *data, size_t n) {
    static char path[600];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n)) { perror(path); exit(2); }
    fclose(f);
    return path;
}

/* The metadata of the small valid file: 5 entries. */
static buf small_kvs(void) {
    buf k = {0};
    kv_str(&k, "general.architecture", "test");
    kv_u32(&k, "general.alignment", 32);
    put_str(&k, "ints");                       /* int32 array [-1, 7, 2^31-1] */
    put_u32(&k, QW_GGUF_ARRAY);
    put_u32(&k, QW_GGUF_INT32);
    put_u64(&k, 3);
    put_u32(&k, 0xffffffffu);
    put_u32(&k, 7);
    put_u32(&k, 0x7fffffffu);
    put_str(&k, "strs");                       /* string array ["a", "bc", ""] */
    put_u32(&k, QW_GGUF_ARRAY);
    put_u32(&k, QW_GGUF_STRING);
    put_u64(&k, 3);
    put_str(&k, "a");
    put_str(&k, "bc");
    put_str(&k, "");
    put_str(&k, "big");                        /* uint64 2^40 */
    put_u32(&k, QW_GGUF_UINT64);
    put_u64(&k, 1ull << 40);
    return k;
}

/* f32 [4, 2] at 0 (32 bytes), q8_0 [32, 2] at 32 (68), q4_0 [64] at 128 (36). */
static const tinfo small_tensors[] = {
    {"a", 2, {4, 2}, QW_GGML_F32, 0},
    {"b", 2, {32, 2}, QW_GGML_Q8_0, 32},
    {"c", 1, {64}, QW_GGML_Q4_0, 128},
};
#define SMALL_DATA 164

static buf small_file(void) {
    buf k = small_kvs();
    buf b = build(3, &k, 5, small_tensors, 3, 32, SMALL_DATA);
    free(k.p);
    return b;
}

/* Opening must fail with a message naming the file and containing `why`. */
static void expect_fail_path(const char *path, const char *why, const char *label) {
    qw_gguf g;
    char err[512] = "";
    int rc = qw_gguf_open(path, &g, err, sizeof err);
    CHECK(rc != 0, "%s: opened, expected failure with '%s'", label, why);
    if (!rc) {
        qw_gguf_close(&g);
        return;
    }
    CHECK(strstr(err, path) != NULL, "%s: message does not name the file: %s", label, err);
    CHECK(strstr(err, why) != NULL, "%s: expected '%s' in: %s", label, why, err);
    CHECK(!strchr(err, '\n'), "%s: message is more than one line: %s", label, err);
    CHECK(g.kv == NULL && g.file.data == NULL, "%s: a failed open left g open", label);
}

static void expect_fail(const buf *b, const char *why, const char *label) {
    expect_fail_path(write_tmp("bad.gguf", b->p, b->n), why, label);
}

/* ---- the small hand-made file ---- */

static void test_small_valid(void) {
    buf b = small_file();
    const char *path = write_tmp("small.gguf", b.p, b.n);
    qw_gguf g;
    char err[512] = "";
    int rc = qw_gguf_open(path, &g, err, sizeof err);
    CHECK(rc == 0, "small file: %s", err);
    free(b.p);
    if (rc) return;
    CHECK(g.version == 3 && g.n_kv == 5 && g.n_tensors == 3 && g.alignment == 32,
          "v%u %zu kv %zu tensors align %u", g.version, g.n_kv, g.n_tensors, g.alignment);
    CHECK(g.data_offset % 32 == 0, "data offset %zu", g.data_offset);
    const char *s;
    size_t len;
    CHECK(qw_gguf_get_str(&g, "general.architecture", &s, &len, err, sizeof err) == 0 && len == 4 &&
              !memcmp(s, "test", 4), "architecture");
    const qw_gguf_kv *ints = qw_gguf_find(&g, "ints"), *strs = qw_gguf_find(&g, "strs");
    int64_t v = 0;
    CHECK(ints && ints->count == 3 && qw_gguf_arr_i64(ints, 0, &v) && v == -1, "ints[0] = %lld", (long long)v);
    CHECK(qw_gguf_arr_i64(ints, 2, &v) && v == 0x7fffffff, "ints[2]");
    CHECK(!qw_gguf_arr_i64(ints, 3, &v), "ints[3] is out of range");
    CHECK(qw_gguf_arr_str(ints, 0, &len) == NULL, "ints is not a string array");
    CHECK(strs && strs->count == 3, "strs");
    const char *e1 = qw_gguf_arr_str(strs, 1, &len);
    CHECK(e1 && len == 2 && !memcmp(e1, "bc", 2), "strs[1]");
    CHECK(qw_gguf_arr_str(strs, 2, &len) && len == 0, "strs[2] is empty");
    CHECK(qw_gguf_arr_str(strs, 3, &len) == NULL, "strs[3] is out of range");
    uint32_t u = 0;
    CHECK(qw_gguf_get_u32(&g, "big", &u, err, sizeof err) == QWENC_EFORMAT && strstr(err, "out of range"),
          "2^40 as u32: %s", err);
    CHECK(qw_gguf_get_i64(&g, "big", &v, err, sizeof err) == 0 && v == 1ll << 40, "2^40 as i64");
    CHECK(qw_gguf_get_u32(&g, "missing", &u, err, sizeof err) && strstr(err, "'missing' is missing") &&
              strstr(err, path), "missing: %s", err);
    CHECK(qw_gguf_get_u32(&g, "general.architecture", &u, err, sizeof err) && strstr(err, "is a string"),
          "wrong type: %s", err);
    const qw_gguf_kv *arr;
    CHECK(qw_gguf_get_arr(&g, "ints", -1, &arr, err, sizeof err) == 0 && arr == ints, "ints as integers");
    CHECK(qw_gguf_get_arr(&g, "strs", -1, &arr, err, sizeof err) && strstr(err, "array of string"),
          "strs as integers: %s", err);
    const qw_gguf_tensor *t = qw_gguf_tensor_find(&g, "b");
    CHECK(t && t->type == QW_GGML_Q8_0 && t->n_dims == 2 && t->ne[0] == 32 && t->ne[1] == 2 &&
              t->ne[2] == 1 && t->nbytes == 68 && (const unsigned char *)t->data == g.file.data + g.data_offset + 32,
          "tensor b");
    t = qw_gguf_tensor_find(&g, "c");
    CHECK(t && t->nbytes == 36 && qw_gguf_tensor_nelements(t) == 64, "tensor c");
    CHECK(qw_gguf_tensor_find(&g, "d") == NULL, "no tensor d");
    CHECK(qw_gguf_tensor_get(&g, "d", &t, err, sizeof err) == QWENC_EFORMAT && strstr(err, "no tensor 'd'"),
          "get d: %s", err);
    qw_gguf_close(&g);
}

/* The same bytes from memory: the same file, and a truncated copy fails the
 * same way, naming the buffer. */
static void test_small_buffer(void) {
    buf b = small_file();
    qw_gguf g;
    char err[512] = "";
    int rc = qw_gguf_open_buffer("mem.gguf", b.p, b.n, &g, err, sizeof err);
    CHECK(rc == 0, "small buffer: %s", err);
    if (!rc) {
        const qw_gguf_tensor *t = qw_gguf_tensor_find(&g, "b");
        CHECK(g.n_kv == 5 && g.n_tensors == 3 && t && (const unsigned char *)t->data == b.p + g.data_offset + 32,
              "tensors point into the buffer");
        qw_gguf_close(&g);
    }
    CHECK(b.p[0] == 'G', "closing left the buffer alone");
    rc = qw_gguf_open_buffer("mem.gguf", b.p, b.n - 1, &g, err, sizeof err);
    CHECK(rc == QWENC_EFORMAT && strstr(err, "mem.gguf: ") == err && strstr(err, "runs past the end"),
          "truncated buffer: %s", err);
    free(b.p);
}

/* A small qwen3moe file of `layers` layers whose one stacked expert tensor is `experts`:
 * qw_gguf_model_open's result and message. Found by fuzzing: a stack of an
 * unknown type became views at NULL, and a stack of empty experts could
 * claim any number of them. */
static int moe_file(uint32_t layers, const tinfo *experts, size_t data, char *err, size_t errlen) {
    buf k = {0};
    kv_str(&k, "general.architecture", "qwen3moe");
    const char *keys[] = {"qwen3moe.block_count", "qwen3moe.embedding_length", "qwen3moe.attention.head_count",
                          "qwen3moe.expert_count", "qwen3moe.expert_used_count", "qwen3moe.expert_feed_forward_length"};
    const uint32_t vals[] = {layers, 32, 2, 2, 1, 32};
    for (int i = 0; i < 6; i++) kv_u32(&k, keys[i], vals[i]);
    tinfo t[2] = {{"token_embd.weight", 2, {32, 4}, QW_GGML_F32, 0}, *experts};
    buf b = build(3, &k, 7, t, 2, 32, data);
    qw_config c;
    qw_checkpoint ck;
    int rc = qw_gguf_model_open(write_tmp("moe.gguf", b.p, b.n), &c, &ck, err, errlen);
    if (!rc) {
        qw_config_free(&c);
        qw_checkpoint_close(&ck);
    }
    free(k.p);
    free(b.p);
    return rc;
}

static int moe_with_experts(const tinfo *experts, size_t data, char *err, size_t errlen) {
    return moe_file(1, experts, data, err, errlen);
}

static void test_expert_stacks(void) {
    char err[512] = "";
    tinfo good = {"blk.0.ffn_up_exps.weight", 3, {32, 32, 2}, QW_GGML_Q8_0, 512};
    CHECK(moe_with_experts(&good, 512 + 2 * 32 * 34, err, sizeof err) == 0, "two q8_0 experts: %s", err);
    tinfo unknown = {"blk.0.ffn_up_exps.weight", 3, {32, 32, 2}, 99, 512};
    CHECK(moe_with_experts(&unknown, 512, err, sizeof err) == QWENC_EUNSUPPORTED && strstr(err, "ffn_up_exps") &&
              strstr(err, "cannot compute"), "experts of an unknown type: %s", err);
    tinfo q4k = {"blk.0.ffn_up_exps.weight", 3, {256, 32, 2}, QW_GGML_Q4_K, 512};
    CHECK(moe_with_experts(&q4k, 512 + 2 * 32 * 144, err, sizeof err) == 0, "two q4_k experts: %s", err);
    tinfo count = {"blk.0.ffn_up_exps.weight", 3, {32, 32, 3}, QW_GGML_Q8_0, 512};
    CHECK(moe_with_experts(&count, 512 + 3 * 32 * 34, err, sizeof err) == QWENC_EFORMAT &&
              strstr(err, "stacks 3 experts, but the metadata says 2"), "3 experts for 2: %s", err);
    tinfo empty = {"blk.0.ffn_up_exps.weight", 3, {32, 0, 2}, QW_GGML_Q8_0, 512};
    CHECK(moe_with_experts(&empty, 512, err, sizeof err) == QWENC_EFORMAT && strstr(err, "holds empty experts"),
          "empty experts: %s", err);
    /* Found by fuzzing: a block_count of a billion had the loader allocate a gigabyte table. */
    CHECK(moe_file(1000000000, &good, 512 + 2 * 32 * 34, err, sizeof err) == QWENC_EFORMAT &&
              strstr(err, "'qwen3moe.block_count' is not a count up to 65536"), "a billion layers: %s", err);
}

/* Version 2 has the same layout; 64-byte alignment moves the data section;
 * an unknown tensor type opens but fails on use; nested arrays are allowed. */
static void test_small_variants(void) {
    qw_gguf g;
    char err[512] = "";
    buf k = small_kvs(), b = build(2, &k, 5, small_tensors, 3, 32, SMALL_DATA);
    int rc = qw_gguf_open(write_tmp("v2.gguf", b.p, b.n), &g, err, sizeof err);
    CHECK(rc == 0 && g.version == 2, "version 2: %s", err);
    if (!rc) qw_gguf_close(&g);
    free(b.p);
    free(k.p);

    k = (buf){0};
    kv_u32(&k, "general.alignment", 64);
    put_str(&k, "nested");   /* [[1, 2], []] of uint8 */
    put_u32(&k, QW_GGUF_ARRAY);
    put_u32(&k, QW_GGUF_ARRAY);
    put_u64(&k, 2);
    put_u32(&k, QW_GGUF_UINT8);
    put_u64(&k, 2);
    put(&k, "\1\2", 2);
    put_u32(&k, QW_GGUF_UINT8);
    put_u64(&k, 0);
    tinfo t[] = {{"x", 1, {32}, QW_GGML_F32, 0}, {"odd", 1, {7}, 99, 128}};
    b = build(3, &k, 2, t, 2, 64, 256);
    rc = qw_gguf_open(write_tmp("a64.gguf", b.p, b.n), &g, err, sizeof err);
    CHECK(rc == 0, "alignment 64 / nested / unknown type: %s", err);
    if (!rc) {
        CHECK(g.alignment == 64 && g.data_offset % 64 == 0, "data offset %zu", g.data_offset);
        const qw_gguf_kv *nested = qw_gguf_find(&g, "nested");
        CHECK(nested && nested->arr_type == QW_GGUF_ARRAY && nested->count == 2, "nested array");
        const qw_gguf_tensor *odd = qw_gguf_tensor_find(&g, "odd");
        CHECK(odd && odd->data == NULL && odd->type == 99, "unknown type recorded");
        CHECK(qw_gguf_tensor_get(&g, "odd", &odd, err, sizeof err) == QWENC_EUNSUPPORTED &&
                  strstr(err, "ggml type 99"), "unknown type on use: %s", err);
        qw_gguf_close(&g);
    }
    free(b.p);
    free(k.p);
}

/* A copy of the small file with a u32/u64 at `at` replaced. */
static void small_patched(size_t at, uint64_t v, int bytes, const char *why, const char *label) {
    buf b = small_file();
    for (int i = 0; i < bytes; i++) b.p[at + (size_t)i] = (unsigned char)(v >> (8 * i));
    expect_fail(&b, why, label);
    free(b.p);
}

static void test_small_header(void) {
    buf empty = {0};
    expect_fail(&empty, "bad magic", "empty file");
    small_patched(0, 'G' | 'G' << 8 | 'M' << 16 | (uint64_t)'L' << 24, 4, "bad magic", "magic");
    small_patched(4, 1, 4, "unsupported GGUF version 1", "version 1");
    small_patched(4, 0x03000000, 4, "big-endian", "big-endian");
    small_patched(8, 1ull << 40, 8, "cannot fit", "tensor count");
    small_patched(16, 1ull << 40, 8, "cannot fit", "kv count");
    small_patched(24, 1ull << 62, 8, "truncated", "key length");
    small_patched(24, 0, 8, "is empty", "empty key");
    small_patched(24 + 8 + 20, 13, 4, "unknown value type 13", "value type");
    buf b = small_file();
    unsigned char *ints = memmem(b.p, b.n, "ints", 4);
    size_t at = (size_t)(ints - b.p) + 4 + 4;      /* element type */
    free(b.p);
    small_patched(at, 77, 4, "unknown array element type 77", "element type");
    small_patched(at + 4, 1ull << 61, 8, "is larger than", "array count");
    small_patched(at + 4, 1000, 8, "is larger than", "array count 1000");
}

/* What a file cut short may report: a read past the end, or a count or
 * size that the bytes left cannot hold. */
static bool truncation_message(const char *err) {
    const char *whys[] = {"truncated", "bad magic", "past the end", "cannot fit", "is larger than the"};
    for (size_t i = 0; i < sizeof whys / sizeof *whys; i++)
        if (strstr(err, whys[i])) return true;
    return false;
}

/* Every prefix of the small file fails cleanly (the last tensor ends at the
 * end of the file, so even a missing last byte is an error). */
static void test_small_truncated(void) {
    buf b = small_file();
    int bad = 0;
    for (size_t n = 0; n < b.n; n++) {
        const char *path = write_tmp("trunc.gguf", b.p, n);
        qw_gguf g;
        char err[512] = "";
        int rc = qw_gguf_open(path, &g, err, sizeof err);
        if (!rc) qw_gguf_close(&g);
        if (!rc || !strstr(err, path) ||
            !truncation_message(err)) {
            if (bad++ < 5) fprintf(stderr, "prefix %zu: rc %d: %s\n", n, rc, err);
        }
    }
    CHECK(bad == 0, "%d of %zu prefixes did not fail as truncated", bad, b.n);
    free(b.p);
}

static void one_tensor_case(const tinfo *t, uint64_t nt, size_t data, const char *why, const char *label) {
    buf k = {0};
    kv_str(&k, "general.architecture", "test");
    buf b = build(3, &k, 1, t, nt, 32, data);
    expect_fail(&b, why, label);
    free(b.p);
    free(k.p);
}

static void test_small_tensors(void) {
    tinfo t5[] = {{"x", 5, {1, 1, 1, 1, 32}, QW_GGML_F32, 0}};
    one_tensor_case(t5, 1, 128, "has 5 dimensions", "5 dims");
    tinfo t0[] = {{"x", 0, {0}, QW_GGML_F32, 0}};
    one_tensor_case(t0, 1, 128, "has 0 dimensions", "0 dims");
    tinfo ov[] = {{"x", 2, {1ull << 32, 1ull << 32}, QW_GGML_F32, 0}};
    one_tensor_case(ov, 1, 128, "overflows 64 bits", "element count overflow");
    tinfo neg[] = {{"x", 1, {1ull << 63}, QW_GGML_F32, 0}};
    one_tensor_case(neg, 1, 128, "overflows 64 bits", "dimension above INT64_MAX");
    tinfo big[] = {{"x", 2, {1ull << 30, 1ull << 30}, QW_GGML_F32, 0}};
    one_tensor_case(big, 1, 128, "past the end", "huge tensor");
    tinfo huge[] = {{"x", 2, {1ull << 31, 1ull << 31}, QW_GGML_F32, 0}};
    one_tensor_case(huge, 1, 128, "the byte size overflows", "byte size overflow");
    tinfo blk[] = {{"x", 2, {33, 2}, QW_GGML_Q8_0, 0}};
    one_tensor_case(blk, 1, 128, "not a whole number of q8_0 blocks of 32", "partial block");
    tinfo blk4[] = {{"x", 2, {48, 2}, QW_GGML_Q4_0, 0}};
    one_tensor_case(blk4, 1, 128, "not a whole number of q4_0 blocks of 32", "partial q4_0 block");
    /* k-quant rows are super-blocks of 256: a Q4_K/Q6_K matrix of shorter
     * rows (as a llama.cpp file never has) is refused at open */
    tinfo k4[] = {{"blk.0.attn_q.weight", 2, {32, 32}, QW_GGML_Q4_K, 0}};
    one_tensor_case(k4, 1, 4096, "tensor 'blk.0.attn_q.weight': ne0 = 32 is not a whole number of q4_k blocks of 256",
                    "q4_k rows of 32");
    tinfo k6[] = {{"x", 2, {384, 2}, QW_GGML_Q6_K, 0}};
    one_tensor_case(k6, 1, 4096, "ne0 = 384 is not a whole number of q6_k blocks of 256", "q6_k rows of 384");
    tinfo q5[] = {{"x", 1, {48}, QW_GGML_Q5_0, 0}};
    one_tensor_case(q5, 1, 128, "ne0 = 48 is not a whole number of q5_0 blocks of 32", "q5_0 rows of 48");
    tinfo k4short[] = {{"x", 2, {256, 4}, QW_GGML_Q4_K, 0}};  /* 576 bytes of data needed */
    one_tensor_case(k4short, 1, 512, "past the end", "q4_k data cut short");
    tinfo mis[] = {{"x", 1, {4}, QW_GGML_F32, 4}};
    one_tensor_case(mis, 1, 128, "not a multiple of the alignment 32", "misaligned");
    tinfo past[] = {{"x", 1, {32}, QW_GGML_F32, 128}};
    one_tensor_case(past, 1, 128, "past the end", "past the end");
    tinfo far[] = {{"x", 1, {8}, QW_GGML_F32, 1ull << 62}};
    one_tensor_case(far, 1, 128, "past the end", "offset far past the end");
    tinfo lap[] = {{"x", 1, {16}, QW_GGML_F32, 0}, {"y", 1, {8}, QW_GGML_F32, 32}};
    one_tensor_case(lap, 2, 128, "tensors 'x' and 'y' overlap", "overlap");
    tinfo dup[] = {{"x", 1, {8}, QW_GGML_F32, 0}, {"x", 1, {8}, QW_GGML_F32, 32}};
    one_tensor_case(dup, 2, 128, "duplicate tensor name 'x'", "duplicate tensor");
    tinfo nul[] = {{"", 1, {8}, QW_GGML_F32, 0}};
    one_tensor_case(nul, 1, 128, "the name of tensor 0 is empty", "empty tensor name");
}

static void alignment_case(const buf *k, const char *why, const char *label) {
    tinfo t[] = {{"x", 1, {8}, QW_GGML_F32, 0}};
    buf b = build(3, k, 1, t, 1, 32, 32);
    expect_fail(&b, why, label);
    free(b.p);
}

static void test_small_metadata(void) {
    buf k = {0};
    kv_u32(&k, "general.alignment", 0);
    alignment_case(&k, "general.alignment 0 is not a power of two", "alignment 0");
    k.n = 0;
    kv_u32(&k, "general.alignment", 48);
    alignment_case(&k, "general.alignment 48 is not a power of two", "alignment 48");
    k.n = 0;
    kv_str(&k, "general.alignment", "32");
    alignment_case(&k, "general.alignment is a string", "alignment string");
    free(k.p);

    /* duplicate keys (two entries) */
    buf d = {0};
    kv_u32(&d, "same", 1);
    kv_u32(&d, "same", 2);
    buf b = build(3, &d, 2, NULL, 0, 32, 0);
    expect_fail(&b, "duplicate metadata key 'same'", "duplicate key");
    free(b.p);
    free(d.p);

    /* a key with a NUL byte, a key with a newline shown as '?' */
    d = (buf){0};
    put_u64(&d, 3);
    put(&d, "a\0b", 3);
    put_u32(&d, QW_GGUF_UINT8);
    put(&d, "\1", 1);
    b = build(3, &d, 1, NULL, 0, 32, 0);
    expect_fail(&b, "contains a NUL byte", "NUL in key");
    free(b.p);
    free(d.p);
    d = (buf){0};
    put_str(&d, "line\nbreak");
    put_u32(&d, 42);
    b = build(3, &d, 1, NULL, 0, 32, 0);
    expect_fail(&b, "metadata 'line?break' has unknown value type 42", "newline in key");
    free(b.p);
    free(d.p);

    /* arrays of arrays: 4 levels are allowed, 5 are not */
    for (int levels = 4; levels <= 5; levels++) {
        d = (buf){0};
        put_str(&d, "deep");
        put_u32(&d, QW_GGUF_ARRAY);
        for (int l = 0; l < levels; l++) {
            put_u32(&d, l == levels - 1 ? QW_GGUF_UINT8 : QW_GGUF_ARRAY);
            put_u64(&d, 1);
        }
        put(&d, "\7", 1);
        b = build(3, &d, 1, NULL, 0, 32, 0);
        const char *path = write_tmp("deep.gguf", b.p, b.n);
        qw_gguf g;
        char err[512] = "";
        int rc = qw_gguf_open(path, &g, err, sizeof err);
        if (!rc) qw_gguf_close(&g);
        if (levels == 4) CHECK(rc == 0, "4 nested arrays: %s", err);
        else CHECK(rc && strstr(err, "nested more than 4 deep"), "5 nested arrays: %s", err);
        free(b.p);
        free(d.p);
    }
}

/* A model-level GGUF (qwen3 metadata, a small token_embd) whose dimensions
 * multiply past what the model code counts in: refused by name, before any
 * size is computed from them. */
static void model_dims_case(uint32_t heads, uint32_t key_length, uint64_t vocab, const char *why, const char *label) {
    buf k = {0};
    kv_str(&k, "general.architecture", "qwen3");
    kv_u32(&k, "qwen3.block_count", 1);
    kv_u32(&k, "qwen3.embedding_length", 32);
    kv_u32(&k, "qwen3.feed_forward_length", 64);
    kv_u32(&k, "qwen3.attention.head_count", heads);
    kv_u32(&k, "qwen3.attention.head_count_kv", 1);
    kv_u32(&k, "qwen3.attention.key_length", key_length);
    tinfo t[] = {{"token_embd.weight", 2, {32, vocab}, QW_GGML_Q4_0, 0}};
    buf b = build(3, &k, 7, t, 1, 32, 0);
    const char *path = write_tmp("dims.gguf", b.p, b.n);
    CHECK(truncate(path, (off_t)(b.n + 18 * vocab)) == 0, "%s: data as a sparse tail", label);
    qw_config c;
    qw_checkpoint ck;
    char err[512] = "";
    int rc = qw_gguf_model_open(path, &c, &ck, err, sizeof err);
    if (!rc) {
        qw_config_free(&c);
        qw_checkpoint_close(&ck);
    }
    CHECK(rc == QWENC_EFORMAT && strstr(err, path) && strstr(err, why), "%s: rc %d: %s", label, rc, err);
    free(b.p);
    free(k.p);
}

static void test_small_model_dims(void) {
    model_dims_case(65536, 65536, 4, "num_attention_heads * head_dim = 4294967296 is more than 2097152",
                    "heads x key_length overflow");
    model_dims_case(1000000000, 2, 4, "num_attention_heads * head_dim = 2000000000 is more than", "a billion heads");
    model_dims_case(2, 16, (1u << 21) + 1, "token_embd.weight has 2097153 rows, more than 2097152", "vocab too large");
}

/* Random byte changes of the small file: open either succeeds or fails
 * with the file named; the sanitizers catch any stray read. */
static void test_small_fuzz(void) {
    buf b = small_file();
    uint64_t s = 0x9e3779b97f4a7c15ull;
    int unnamed = 0, failed = 0;
    for (int it = 0; it < 3000; it++) {
        unsigned char *c = malloc(b.n);
        memcpy(c, b.p, b.n);
        for (int k = 0; k < 1 + it % 4; k++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            c[(s >> 33) % b.n] = (unsigned char)(s >> 24);
        }
        const char *path = write_tmp("fuzz.gguf", c, b.n);
        qw_gguf g;
        char err[512] = "";
        if (qw_gguf_open(path, &g, err, sizeof err) == 0) {
            qw_gguf_close(&g);
        } else {
            failed++;
            if (!strstr(err, path) && !strstr(err, "out of memory")) unnamed++;
        }
        free(c);
    }
    CHECK(unnamed == 0, "%d fuzzed failures did not name the file", unnamed);
    CHECK(failed > 500, "only %d of 3000 fuzzed files failed", failed);
    free(b.p);
}

/* ---- dequantization ---- */

static void test_dequant_blocks(void) {
    unsigned char q8[2 * 34], q4[2 * 18];
    float out[64];
    q8[0] = 0x00, q8[1] = 0x38;                 /* 0.5 */
    q8[34] = 0x00, q8[35] = 0xbc;               /* -1.0 */
    for (int j = 0; j < 32; j++) {
        q8[2 + j] = (unsigned char)(int8_t)(j - 16);
        q8[36 + j] = (unsigned char)(int8_t)(j * 4 - 100);
    }
    CHECK(qw_dequant_row(QW_GGML_Q8_0, q8, 64, out) == 0, "q8_0");
    int bad = 0;
    for (int j = 0; j < 32; j++) {
        if (out[j] != 0.5f * (float)(j - 16)) bad++;
        if (out[32 + j] != -1.0f * (float)(j * 4 - 100)) bad++;
    }
    CHECK(bad == 0, "q8_0: %d wrong values (out[1] = %g, out[33] = %g)", bad, out[1], out[33]);

    q4[0] = 0x00, q4[1] = 0x40;                 /* 2.0 */
    q4[18] = 0x00, q4[19] = 0xb8;               /* -0.5 */
    for (int j = 0; j < 16; j++) {
        q4[2 + j] = (unsigned char)(j | (15 - j) << 4);
        q4[20 + j] = (unsigned char)((j * 3) % 16 | ((j * 5) % 16) << 4);
    }
    CHECK(qw_dequant_row(QW_GGML_Q4_0, q4, 64, out) == 0, "q4_0");
    bad = 0;
    for (int j = 0; j < 16; j++) {
        if (out[j] != 2.0f * (float)(j - 8)) bad++;           /* low nibbles: 0..15 */
        if (out[16 + j] != 2.0f * (float)(15 - j - 8)) bad++; /* high nibbles: 16..31 */
        if (out[32 + j] != -0.5f * (float)((j * 3) % 16 - 8)) bad++;
        if (out[48 + j] != -0.5f * (float)((j * 5) % 16 - 8)) bad++;
    }
    CHECK(bad == 0, "q4_0: %d wrong values (out[0] = %g, out[16] = %g)", bad, out[0], out[16]);
    CHECK(qw_dequant_row(QW_GGML_Q8_0, q8, 33, out) == QWENC_EINVAL, "partial block");
    CHECK(qw_dequant_row(QW_GGML_Q2_K, q8, 256, out) == QWENC_EUNSUPPORTED, "q2_k is not dequantized");
    CHECK(qw_gguf_row_size(QW_GGML_Q8_0, 64) == 68 && qw_gguf_row_size(QW_GGML_Q4_0, 64) == 36 &&
              qw_gguf_row_size(QW_GGML_Q4_K, 256) == 144 && qw_gguf_row_size(QW_GGML_Q6_K, 512) == 420 &&
              qw_gguf_row_size(QW_GGML_BF16, 3) == 6 && qw_gguf_row_size(QW_GGML_Q8_0, 33) == 0 &&
              qw_gguf_row_size(4, 32) == 0, "row sizes");
    CHECK(!strcmp(qw_gguf_type_name(QW_GGML_Q8_0), "q8_0") && !strcmp(qw_gguf_type_name(30), "bf16") &&
              !strcmp(qw_gguf_type_name(14), "q6_k") && !strcmp(qw_gguf_type_name(5), "unknown"),
          "type names");
}

/* ---- the fixture ---- */

static int64_t cfg_int(json_t *cfg, const char *key) {
    json_t *v = json_object_get(cfg, key);
    return json_is_integer(v) ? json_integer_value(v) : -12345;
}

static void check_u32(const qw_gguf *g, const char *key, int64_t want) {
    uint32_t v = 0;
    char err[512] = "";
    int rc = qw_gguf_get_u32(g, key, &v, err, sizeof err);
    CHECK(rc == 0 && (int64_t)v == want, "%s = %u, config says %lld (%s)", key, v, (long long)want, err);
}

static void check_metadata(const qw_gguf *g, json_t *cfg) {
    char err[512] = "";
    const char *s;
    size_t len;
    CHECK(g->version == 3, "version %u", g->version);
    CHECK(qw_gguf_get_str(g, "general.architecture", &s, &len, err, sizeof err) == 0 && len == 5 &&
              !memcmp(s, "qwen3", 5), "architecture: %s", err);
    check_u32(g, "qwen3.block_count", cfg_int(cfg, "num_hidden_layers"));
    check_u32(g, "qwen3.embedding_length", cfg_int(cfg, "hidden_size"));
    check_u32(g, "qwen3.feed_forward_length", cfg_int(cfg, "intermediate_size"));
    check_u32(g, "qwen3.attention.head_count", cfg_int(cfg, "num_attention_heads"));
    check_u32(g, "qwen3.attention.head_count_kv", cfg_int(cfg, "num_key_value_heads"));
    check_u32(g, "qwen3.context_length", cfg_int(cfg, "max_position_embeddings"));
    check_u32(g, "qwen3.attention.key_length", cfg_int(cfg, "head_dim"));
    check_u32(g, "qwen3.attention.value_length", cfg_int(cfg, "head_dim"));
    check_u32(g, "tokenizer.ggml.eos_token_id", cfg_int(cfg, "eos_token_id"));
    check_u32(g, "tokenizer.ggml.bos_token_id", cfg_int(cfg, "bos_token_id"));
    float eps = 0, theta = 0;
    double want_eps = json_real_value(json_object_get(cfg, "rms_norm_eps"));
    double want_theta = json_number_value(json_object_get(json_object_get(cfg, "rope_parameters"), "rope_theta"));
    CHECK(qw_gguf_get_f32(g, "qwen3.attention.layer_norm_rms_epsilon", &eps, err, sizeof err) == 0 &&
              fabs(eps - want_eps) < 1e-12, "rms eps %g vs %g", eps, want_eps);
    CHECK(qw_gguf_get_f32(g, "qwen3.rope.freq_base", &theta, err, sizeof err) == 0 && theta == want_theta,
          "rope theta %g vs %g", theta, want_theta);
    bool add_bos = true;
    CHECK(qw_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &add_bos, err, sizeof err) == 0 && !add_bos,
          "add_bos_token: %s", err);
    CHECK(qw_gguf_get_str(g, "tokenizer.ggml.model", &s, &len, err, sizeof err) == 0 && len == 4 &&
              !memcmp(s, "gpt2", 4), "tokenizer model");
    CHECK(qw_gguf_get_str(g, "tokenizer.ggml.pre", &s, &len, err, sizeof err) == 0 && len > 0, "pre");
    CHECK(qw_gguf_get_str(g, "tokenizer.chat_template", &s, &len, err, sizeof err) == 0 &&
              memmem(s, len, "<|im_start|>", 12), "chat template");
}

static void check_tokenizer(const qw_gguf *g, json_t *cfg) {
    char err[512] = "";
    const qw_gguf_kv *tok, *types, *merges;
    size_t len = 0;
    int64_t vocab = cfg_int(cfg, "vocab_size");
    CHECK(qw_gguf_get_arr(g, "tokenizer.ggml.tokens", QW_GGUF_STRING, &tok, err, sizeof err) == 0 &&
              (int64_t)tok->count == vocab && vocab == 151936, "tokens: %s", err);
    if (!tok) return;
    const char *s = qw_gguf_arr_str(tok, 151645, &len);
    CHECK(s && len == 10 && !memcmp(s, "<|im_end|>", 10), "token 151645 = '%.*s'", (int)len, s ? s : "");
    s = qw_gguf_arr_str(tok, 0, &len);
    CHECK(s && len == 1 && s[0] == '!', "token 0");
    size_t total = 0;
    for (uint64_t i = 0; i < tok->count; i++) {
        qw_gguf_arr_str(tok, i, &len);
        total += len;
    }
    CHECK(total > 500000 && total < 2000000, "%zu bytes of tokens", total);
    CHECK(qw_gguf_get_arr(g, "tokenizer.ggml.token_type", -1, &types, err, sizeof err) == 0 &&
              types->count == tok->count && types->arr_type == QW_GGUF_INT32, "token_type: %s", err);
    int64_t t0 = 0, t1 = 0;
    CHECK(types && qw_gguf_arr_i64(types, 0, &t0) && qw_gguf_arr_i64(types, 151645, &t1) && t0 == 1 && t1 == 3,
          "token types %lld %lld (normal 1, control 3)", (long long)t0, (long long)t1);
    CHECK(qw_gguf_get_arr(g, "tokenizer.ggml.merges", QW_GGUF_STRING, &merges, err, sizeof err) == 0 &&
              merges->count == 151387, "merges: %s", err);
    s = merges ? qw_gguf_arr_str(merges, 0, &len) : NULL;
    CHECK(s && len == 5 && !memcmp(s, "\xc4\xa0 \xc4\xa0", 5), "merge 0");
}

/* Expected tensors: name, type, ne0, ne1 (0: 1-D). */
static void check_tensor(const qw_gguf *g, const char *name, uint32_t type, int64_t ne0, int64_t ne1) {
    char err[512] = "";
    const qw_gguf_tensor *t = NULL;
    int rc = qw_gguf_tensor_get(g, name, &t, err, sizeof err);
    CHECK(rc == 0, "%s", err);
    if (rc) return;
    int dims = ne1 ? 2 : 1;
    CHECK(t->type == type && t->n_dims == dims && t->ne[0] == ne0 && t->ne[1] == (ne1 ? ne1 : 1),
          "%s: %s %d dims [%lld, %lld], expected %s [%lld, %lld]", name, qw_gguf_type_name(t->type),
          t->n_dims, (long long)t->ne[0], (long long)t->ne[1], qw_gguf_type_name(type), (long long)ne0,
          (long long)ne1);
    CHECK(t->nbytes == qw_gguf_row_size(type, ne0) * (size_t)(ne1 ? ne1 : 1) && t->data, "%s: %zu bytes",
          name, t->nbytes);
}

static void check_tensors(const qw_gguf *g, json_t *cfg) {
    int64_t h = cfg_int(cfg, "hidden_size"), inter = cfg_int(cfg, "intermediate_size"),
            nh = cfg_int(cfg, "num_attention_heads"), nkv = cfg_int(cfg, "num_key_value_heads"),
            hd = cfg_int(cfg, "head_dim"), layers = cfg_int(cfg, "num_hidden_layers");
    CHECK((int64_t)g->n_tensors == 11 * layers + 2, "%zu tensors", g->n_tensors);
    check_tensor(g, "token_embd.weight", QW_GGML_Q8_0, h, cfg_int(cfg, "vocab_size"));
    check_tensor(g, "output_norm.weight", QW_GGML_F32, h, 0);
    CHECK(qw_gguf_tensor_find(g, "output.weight") == NULL, "tied embeddings: no output.weight");
    for (int64_t l = 0; l < layers; l++) {
        char n[96];
#define T(suffix, type, a, b) (snprintf(n, sizeof n, "blk.%lld.%s.weight", (long long)l, suffix), \
                               check_tensor(g, n, type, a, b))
        T("attn_norm", QW_GGML_F32, h, 0);
        T("attn_q", QW_GGML_Q8_0, h, nh * hd);
        T("attn_k", QW_GGML_Q8_0, h, nkv * hd);
        T("attn_v", QW_GGML_Q8_0, h, nkv * hd);
        T("attn_output", QW_GGML_Q8_0, nh * hd, h);
        T("attn_q_norm", QW_GGML_F32, hd, 0);
        T("attn_k_norm", QW_GGML_F32, hd, 0);
        T("ffn_norm", QW_GGML_F32, h, 0);
        T("ffn_gate", QW_GGML_Q8_0, h, inter);
        T("ffn_up", QW_GGML_Q8_0, h, inter);
        T("ffn_down", QW_GGML_Q8_0, inter, h);
#undef T
    }
}

/* Rows of the fixture against values decoded independently (Python's
 * struct 'e' for the f16 scales): exact, since d * q fits a float. */
static void check_fixture_dequant(const qw_gguf *g) {
    const qw_gguf_tensor *emb = qw_gguf_tensor_find(g, "token_embd.weight"),
                         *down = qw_gguf_tensor_find(g, "blk.1.ffn_down.weight"),
                         *norm = qw_gguf_tensor_find(g, "blk.0.attn_norm.weight");
    if (!emb || !down || !norm) return;
    float row[64];
    size_t rs = qw_gguf_row_size(emb->type, emb->ne[0]);
    CHECK(qw_dequant_row(emb->type, (const char *)emb->data + 151645 * rs, emb->ne[0], row) == 0, "embd row");
    double sum = 0, maxabs = 0;
    for (int i = 0; i < 32; i++) {
        CHECK(isfinite(row[i]), "embd[151645][%d] = %g", i, row[i]);
        sum += row[i];
        maxabs = fmax(maxabs, fabs(row[i]));
    }
    CHECK(row[0] == 0.476318359375f && row[31] == 0.43166351318359375f, "embd row %g %g", row[0], row[31]);
    CHECK(fabs(sum - 0.3870086669921875) < 1e-5 && maxabs > 0.01 && maxabs < 100, "sum %g max %g", sum, maxabs);
    rs = qw_gguf_row_size(down->type, down->ne[0]);
    CHECK(qw_dequant_row(down->type, (const char *)down->data + 3 * rs, down->ne[0], row) == 0, "down row");
    CHECK(row[0] == -0.20801925659179688f && row[33] == 0.15928268432617188f &&
              row[63] == -0.23209762573242188f, "ffn_down[3] %g %g %g", row[0], row[33], row[63]);
    CHECK(qw_dequant_row(norm->type, norm->data, norm->ne[0], row) == 0 && row[0] == 1.125f &&
              row[1] == 0.8515625f, "attn_norm %g %g", row[0], row[1]);
}

static void test_fixture(const char *path, json_t *cfg) {
    qw_gguf g;
    char err[512] = "";
    int rc = qw_gguf_open(path, &g, err, sizeof err);
    CHECK(rc == 0, "fixture: %s", err);
    if (rc) return;
    check_metadata(&g, cfg);
    check_tokenizer(&g, cfg);
    check_tensors(&g, cfg);
    check_fixture_dequant(&g);
    qw_gguf_close(&g);
}

/* ---- the fixture, corrupted ---- */

static unsigned char *fx;
static size_t fx_n;

/* Offset of a gguf string (length + bytes) in the fixture. */
static size_t find_gstr(const char *s) {
    buf b = {0};
    put_str(&b, s);
    unsigned char *at = memmem(fx, fx_n, b.p, b.n);
    free(b.p);
    if (!at) { fprintf(stderr, "'%s' not in the fixture\n", s); exit(2); }
    return (size_t)(at - fx);
}

static void fx_patch(size_t at, uint64_t v, int bytes, const char *why, const char *label) {
    unsigned char old[8];
    memcpy(old, fx + at, (size_t)bytes);
    for (int i = 0; i < bytes; i++) fx[at + (size_t)i] = (unsigned char)(v >> (8 * i));
    expect_fail_path(write_tmp("fixture-bad.gguf", fx, fx_n), why, label);
    memcpy(fx + at, old, (size_t)bytes);
}

static void fx_rename(const char *from, const char *to, const char *why, const char *label) {
    size_t at = find_gstr(from) + 8, n = strlen(from);
    unsigned char old[128];
    memcpy(old, fx + at, n);
    memcpy(fx + at, to, n);
    expect_fail_path(write_tmp("fixture-bad.gguf", fx, fx_n), why, label);
    memcpy(fx + at, old, n);
}

static void test_fixture_truncated(void) {
    size_t tinfo_end = find_gstr("output_norm.weight") + 8 + 18 + 4 + 8 + 4 + 8;
    size_t cuts[200], n = 0;
    for (size_t c = 0; c < 64 * 1024; c += 1024) cuts[n++] = c;
    size_t more[] = {1, 3, 4, 7, 8, 23, 24, 25, 1000000, 3000000, 5000000, tinfo_end - 9, tinfo_end - 1,
                     tinfo_end, tinfo_end + 1, tinfo_end + 5, fx_n / 2, fx_n - 100, fx_n - 1};
    for (size_t i = 0; i < sizeof more / sizeof *more; i++) cuts[n++] = more[i];
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        const char *path = write_tmp("fixture-trunc.gguf", fx, cuts[i]);
        qw_gguf g;
        char err[512] = "";
        int rc = qw_gguf_open(path, &g, err, sizeof err);
        if (!rc) qw_gguf_close(&g);
        if (!rc || !strstr(err, path) ||
            !truncation_message(err)) {
            if (bad++ < 5) fprintf(stderr, "cut at %zu: rc %d: %s\n", cuts[i], rc, err);
        }
    }
    CHECK(bad == 0, "%d of %zu truncated copies did not fail as truncated", bad, n);
}

static void test_fixture_corrupt(void) {
    fx_patch(0, 'g', 1, "bad magic", "fixture magic");
    fx_patch(4, 1, 4, "unsupported GGUF version 1", "fixture version");
    fx_patch(8, 1ull << 50, 8, "cannot fit", "fixture tensor count");
    fx_patch(16, 1ull << 50, 8, "cannot fit", "fixture kv count");
    fx_patch(24, 1ull << 40, 8, "truncated", "fixture first key length");
    size_t arch = find_gstr("general.architecture") + 8 + 20;
    fx_patch(arch, 99, 4, "metadata 'general.architecture' has unknown value type 99", "fixture value type");
    size_t tokens = find_gstr("tokenizer.ggml.tokens") + 8 + 21 + 4;
    fx_patch(tokens + 4, 1ull << 60, 8, "array of 1152921504606846976 string elements is larger",
             "fixture token count");
    fx_patch(tokens + 4, 151937, 8, "", "fixture one token too many");
    size_t emb = find_gstr("token_embd.weight") + 8 + 17;     /* n_dims */
    fx_patch(emb, 5, 4, "tensor 'token_embd.weight' has 5 dimensions", "fixture n_dims");
    fx_patch(emb + 4 + 16, QW_GGML_F32, 4, "tensor 'token_embd.weight': data at 0+19447808 runs past the end",
             "fixture type to f32");
    fx_patch(emb + 4, 33, 8, "ne0 = 33 is not a whole number of q8_0 blocks", "fixture ne0");
    size_t k0 = find_gstr("blk.0.attn_k.weight") + 8 + 19 + 4 + 16 + 4;   /* offset */
    fx_patch(k0, 5172672 + 16, 8, "is not a multiple of the alignment 32", "fixture misaligned");
    fx_patch(k0, 5172480, 8, "overlap", "fixture overlap");
    fx_patch(k0, 1ull << 40, 8, "past the end", "fixture offset past the end");
    fx_rename("blk.1.attn_k.weight", "blk.0.attn_k.weight", "duplicate tensor name 'blk.0.attn_k.weight'",
              "fixture duplicate tensor");
    fx_rename("general.sampling.top_k", "general.sampling.top_p", "duplicate metadata key 'general.sampling.top_p'",
              "fixture duplicate key");
}

int main(void) {
    snprintf(tmp, sizeof tmp, "/tmp/qwenc-gguf-XXXXXX");
    if (!mkdtemp(tmp)) { perror("mkdtemp"); return 2; }
    test_small_valid();
    test_small_buffer();
    test_expert_stacks();
    test_small_variants();
    test_small_header();
    test_small_truncated();
    test_small_tensors();
    test_small_metadata();
    test_small_model_dims();
    test_small_fuzz();
    test_dequant_blocks();

    const char *fixture = check_env("QWENC_GGUF_FIXTURE");
    char cfg_path[600];
    snprintf(cfg_path, sizeof cfg_path, "%s/gguf/qwen3-gguf-tiny.config.json", check_env("QWENC_TEST_DATA"));
    json_error_t je;
    json_t *cfg = json_load_file(cfg_path, 0, &je);
    CHECK(cfg != NULL, "%s: %s", cfg_path, je.text);
    FILE *f = fopen(fixture, "rb");
    CHECK(f != NULL, "cannot open %s", fixture);
    if (cfg && f) {
        test_fixture(fixture, cfg);
        fseek(f, 0, SEEK_END);
        fx_n = (size_t)ftell(f);
        fseek(f, 0, SEEK_SET);
        fx = malloc(fx_n);
        if (fread(fx, 1, fx_n, f) == fx_n) {
            test_fixture_truncated();
            test_fixture_corrupt();
        }
        free(fx);
    }
    if (f) fclose(f);
    json_decref(cfg);

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
    return check_summary();
}
