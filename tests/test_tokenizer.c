/* Tokenizer tests: golden ids and decodes from Hugging Face tokenizers
 * (real Qwen3 tokenizer, chat renders, the demo model's pruned tokenizer),
 * plus small hand-written tokenizer.json files for the loader's rules. */
#include "qwenc.h"
#include "tokenizer/tokenizer.h"

#include <jansson.h>

#include "check.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char err[1024];

static qwenc_tokenizer *open_or_report(const char *dir) {
    qwenc_tokenizer *t = NULL;
    int rc = qwenc_tokenizer_open(dir, &t, err, sizeof err);
    CHECK(rc == 0 && t, "open %s: %s", dir, err);
    return t;
}

static int ids_equal(const int32_t *ids, size_t n, const json_t *expect) {
    if (n != json_array_size(expect)) return 0;
    for (size_t i = 0; i < n; i++)
        if (ids[i] != json_integer_value(json_array_get(expect, i))) return 0;
    return 1;
}

/* Tokenizes text and compares with the expected ids. */
static void check_encode(const qwenc_tokenizer *t, const char *text, size_t len, const json_t *expect,
                         const char *what) {
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = qwenc_tokenize(t, text, len, &ids, &n, err, sizeof err);
    CHECK(rc == 0, "%s: tokenize failed: %s", what, err);
    CHECK(rc != 0 || ids_equal(ids, n, expect), "%s: ids differ (got %zu ids, want %zu)", what, n,
          json_array_size(expect));
    free(ids);
}

/* Decodes ids and compares with the expected text (which may hold NULs). */
static void check_decode(const qwenc_tokenizer *t, const json_t *ids_json, int skip, const json_t *expect,
                         const char *what) {
    size_t n;
    int32_t *ids = check_ids_from_json(ids_json, &n);
    char *text = NULL;
    size_t len = 0;
    int rc = qwenc_detokenize(t, ids, n, skip, &text, &len, err, sizeof err);
    CHECK(rc == 0, "%s: detokenize failed: %s", what, err);
    size_t want = json_string_length(expect);
    CHECK(rc != 0 || (len == want && !memcmp(text, json_string_value(expect), want) && text[want] == 0),
          "%s: decoded text differs (skip_special=%d)", what, skip);
    free(text);
    free(ids);
}

static int utf8_well_formed(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = *p < 0x80 ? 1 : (*p & 0xE0) == 0xC0 ? 2 : (*p & 0xF0) == 0xE0 ? 3 : (*p & 0xF8) == 0xF0 ? 4 : 0;
        if (!n) return 0;
        for (int i = 1; i < n; i++)
            if ((p[i] & 0xC0) != 0x80) return 0;
        p += n;
    }
    return 1;
}

/* Feeds ids one at a time: every chunk is whole characters, and the chunks
 * plus the flush equal the one-shot decode. */
static void check_stream(const qwenc_tokenizer *t, const int32_t *ids, size_t n, int skip, const char *what) {
    char *full = NULL;
    if (qwenc_detokenize(t, ids, n, skip, &full, NULL, err, sizeof err)) return;
    qwenc_detok_stream *s = qwenc_detok_stream_new(t, skip);
    size_t cap = strlen(full) + 64, used = 0;
    char *cat = calloc(1, cap);
    int whole = 1;
    for (size_t i = 0; i <= n; i++) {
        size_t pl;
        const char *piece = i < n ? qwenc_detok_stream_push(s, ids[i], &pl) : qwenc_detok_stream_flush(s, &pl);
        whole &= utf8_well_formed(piece) && pl == strlen(piece);
        if (used + pl < cap) memcpy(cat + used, piece, pl);
        used += pl;
    }
    CHECK(whole, "%s: stream returned part of a character", what);
    CHECK(used == strlen(full) && !memcmp(cat, full, used), "%s: stream != decode", what);
    qwenc_detok_stream_free(s);
    free(cat);
    free(full);
}

static void test_golden(const char *data, const qwenc_tokenizer *t) {
    json_t *g = check_load_json(data, "tokenizer_golden.json");
    CHECK(g != NULL, "tokenizer_golden.json");
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(g, "cases"), i, c) {
        const json_t *text = json_object_get(c, "text");
        char what[64];
        snprintf(what, sizeof what, "tokenizer_golden case %zu", i);
        check_encode(t, json_string_value(text), json_string_length(text), json_object_get(c, "ids"), what);
        check_decode(t, json_object_get(c, "ids"), 0, json_object_get(c, "decoded"), what);
        size_t n;
        int32_t *ids = check_ids_from_json(json_object_get(c, "ids"), &n);
        if (!memchr(json_string_value(json_object_get(c, "decoded")), 0, 1) || n == 0)
            check_stream(t, ids, n, 0, what);
        free(ids);
    }
    CHECK(json_array_size(json_object_get(g, "cases")) > 50, "too few golden cases");
    json_decref(g);
}

static void test_chat_golden(const char *data, const qwenc_tokenizer *t) {
    json_t *g = check_load_json(data, "chat_golden.json");
    CHECK(g != NULL, "chat_golden.json");
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(g, "cases"), i, c) {
        const json_t *text = json_object_get(c, "rendered");
        char what[96];
        snprintf(what, sizeof what, "chat_golden %s", json_string_value(json_object_get(c, "name")));
        check_encode(t, json_string_value(text), json_string_length(text), json_object_get(c, "ids"), what);
        size_t n;
        int32_t *ids = check_ids_from_json(json_object_get(c, "ids"), &n);
        check_stream(t, ids, n, 0, what);
        check_stream(t, ids, n, 1, what);
        free(ids);
    }
    json_array_foreach(json_object_get(g, "decode_cases"), i, c) {
        char what[64];
        snprintf(what, sizeof what, "chat_golden decode_cases[%zu]", i);
        check_decode(t, json_object_get(c, "ids"), 0, json_object_get(c, "decoded"), what);
        check_decode(t, json_object_get(c, "ids"), 1, json_object_get(c, "decoded_skip_special"), what);
        size_t n;
        int32_t *ids = check_ids_from_json(json_object_get(c, "ids"), &n);
        if (n < 100) check_stream(t, ids, n, 0, what);
        free(ids);
    }
    json_decref(g);
}

static void test_demo_model(const char *root) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/models/qwenc-demo", root);
    qwenc_tokenizer *t = open_or_report(dir);
    json_t *g = check_load_json(dir, "golden.json");
    if (!t || !g) goto done;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(g, "prompts"), i, c) {
        const json_t *text = json_object_get(c, "text");
        check_encode(t, json_string_value(text), json_string_length(text), json_object_get(c, "ids"), "demo prompt");
    }
    CHECK(qwenc_token_id(t, "<|im_end|>") == 16002, "demo <|im_end|> id %d", qwenc_token_id(t, "<|im_end|>"));
    CHECK(qwenc_tokenizer_n_tokens(t) == 16026, "demo n_tokens %d", qwenc_tokenizer_n_tokens(t));
done:
    json_decref(g);
    qwenc_tokenizer_free(t);
}

static void test_api_details(const qwenc_tokenizer *t) {
    CHECK(qwenc_tokenizer_n_tokens(t) == 151669, "n_tokens %d", qwenc_tokenizer_n_tokens(t));
    CHECK(qwenc_token_id(t, "<|im_end|>") == 151645, "<|im_end|>");
    CHECK(qwenc_token_id(t, "<think>") == 151667, "<think>");
    CHECK(qwenc_token_id(t, "Hello") == 9707, "Hello");
    CHECK(qwenc_token_id(t, "no such token here") == -1, "unknown token");
    size_t len = 0;
    const char *b = qwenc_token_bytes(t, 21927, &len); /* "ĠHello" */
    CHECK(b && len == 6 && !memcmp(b, " Hello", 6), "token bytes of ' Hello'");
    CHECK(qwenc_token_bytes(t, 151669, &len) == NULL, "token bytes past the end");
    CHECK(qwenc_token_bytes(t, -1, &len) == NULL, "token bytes of -1");
    const char *eos = qw_tokenizer_special_text(t, "eos_token");
    CHECK(eos && !strcmp(eos, "<|im_end|>"), "eos_token");
    CHECK(qw_tokenizer_special_text(t, "bos_token") == NULL, "bos_token is null");
    const char *pad = qw_tokenizer_special_text(t, "pad_token");
    CHECK(pad && !strcmp(pad, "<|endoftext|>"), "pad_token");
    const char *tmpl = qw_tokenizer_chat_template(t);
    CHECK(tmpl && strstr(tmpl, "<|im_start|>"), "chat template");
}

static void test_errors(const qwenc_tokenizer *t) {
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = qwenc_tokenize(t, "Hello\xff world", 12, &ids, &n, err, sizeof err);
    CHECK(rc == QWENC_EINVAL && strstr(err, "invalid UTF-8 at byte 5"), "invalid UTF-8: %d %s", rc, err);
    rc = qwenc_tokenize(t, "ab\xe4\xbd", 4, &ids, &n, err, sizeof err); /* truncated at the end */
    CHECK(rc == QWENC_EINVAL && strstr(err, "at byte 2"), "truncated UTF-8: %s", err);
    rc = qwenc_tokenize(t, "\xed\xa0\x80", 3, &ids, &n, err, sizeof err); /* a surrogate */
    CHECK(rc == QWENC_EINVAL && strstr(err, "at byte 0"), "surrogate: %s", err);
    rc = qwenc_tokenize(t, "", 0, &ids, &n, err, sizeof err);
    CHECK(rc == 0 && n == 0, "empty text");
    free(ids);
    rc = qwenc_tokenize(t, "a\0b", 3, &ids, &n, err, sizeof err); /* NUL is ordinary text */
    CHECK(rc == 0 && n == 3, "text with NUL: %zu ids", n);
    free(ids);

    int32_t bad[] = {9707, 151669};
    char *text = NULL;
    rc = qwenc_detokenize(t, bad, 2, 0, &text, NULL, err, sizeof err);
    CHECK(rc == QWENC_ERANGE && strstr(err, "151669") && text == NULL, "out of range id: %s", err);
    int32_t neg[] = {-3};
    rc = qwenc_detokenize(t, neg, 1, 0, &text, NULL, err, sizeof err);
    CHECK(rc == QWENC_ERANGE && strstr(err, "-3"), "negative id: %s", err);
    rc = qwenc_detokenize(t, NULL, 0, 0, &text, NULL, err, sizeof err);
    CHECK(rc == 0 && text && text[0] == 0, "decode nothing");
    free(text);
    /* U+0000 inside decoded text is counted, not a terminator */
    int32_t with_nul[] = {64, qwenc_token_id(t, "\xc4\x80"), 65}; /* "a", byte 0x00 (U+0100 in byte-level), "b" */
    size_t len = 0;
    rc = qwenc_detokenize(t, with_nul, 3, 0, &text, &len, err, sizeof err);
    CHECK(rc == 0 && len == 3 && !memcmp(text, "a\0b", 3), "decoded NUL kept: len %zu", len);
    free(text);

    /* A stream ignores unknown ids and flushes a dangling byte as U+FFFD. */
    qwenc_detok_stream *s = qwenc_detok_stream_new(t, 0);
    CHECK(!strcmp(qwenc_detok_stream_push(s, 999999, NULL), ""), "stream unknown id");
    int32_t e4 = qwenc_token_id(t, "\xc3\xa4"); /* "ä": the single byte 0xE4 */
    CHECK(!strcmp(qwenc_detok_stream_push(s, e4, NULL), ""), "stream holds back a partial character");
    CHECK(!strcmp(qwenc_detok_stream_flush(s, NULL), "\xef\xbf\xbd"), "stream flush gives U+FFFD");
    qwenc_detok_stream_free(s);
}

/* ---- hand-written tokenizer.json files ----------------------------------- */

static const char *tiny_vocab =
    "{\"a\": 0, \"b\": 1, \"c\": 2, \"\\u0120\": 3, \"ab\": 4, \"bc\": 5, \"abc\": 6, \"\\u0120a\": 7}";

static const char *tiny_added =
    "[{\"id\": 8, \"content\": \"<x>\", \"special\": true},"
    " {\"id\": 9, \"content\": \"<xy>\", \"special\": false},"
    " {\"id\": 10, \"content\": \"[m]\", \"special\": false, \"lstrip\": true, \"rstrip\": true},"
    " {\"id\": 11, \"content\": \"ab\", \"special\": false, \"single_word\": true}]";

static const char *qwen_pre =
    "{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", \"pattern\": {\"Regex\": "
    "\"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|"
    "\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"}, \"behavior\": \"Isolated\", \"invert\": false},"
    " {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": false, \"use_regex\": false}]}";

static void write_file(const char *dir, const char *name, const char *text) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static void write_tiny(const char *dir, const char *merges, const char *added) {
    char buf[8192];
    snprintf(buf, sizeof buf,
             "{\"version\": \"1.0\", \"added_tokens\": %s, \"normalizer\": {\"type\": \"NFC\"},"
             " \"pre_tokenizer\": %s, \"post_processor\": null,"
             " \"decoder\": {\"type\": \"ByteLevel\"},"
             " \"model\": {\"type\": \"BPE\", \"dropout\": null, \"unk_token\": null,"
             " \"vocab\": %s, \"merges\": %s}}",
             added, qwen_pre, tiny_vocab, merges);
    write_file(dir, "tokenizer.json", buf);
}

static void expect_ids(const qwenc_tokenizer *t, const char *text, const int32_t *want, size_t n_want,
                       const char *what) {
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = qwenc_tokenize(t, text, strlen(text), &ids, &n, err, sizeof err);
    int same = rc == 0 && n == n_want && (n == 0 || !memcmp(ids, want, n * sizeof *ids));
    CHECK(same, "%s: '%s' gave %zu ids (first %d), want %zu", what, text, n, n ? ids[0] : -1, n_want);
    free(ids);
}

static void test_merge_forms(const char *dir) {
    static const char *forms[] = {"[\"a b\", \"b c\", \"ab c\", \"\\u0120 a\"]",
                                  "[[\"a\", \"b\"], [\"b\", \"c\"], [\"ab\", \"c\"], [\"\\u0120\", \"a\"]]"};
    for (int f = 0; f < 2; f++) {
        write_tiny(dir, forms[f], "[]");
        qwenc_tokenizer *t = open_or_report(dir);
        if (!t) continue;
        expect_ids(t, "abc", (int32_t[]){6}, 1, forms[f]);
        expect_ids(t, "bc a", (int32_t[]){5, 7}, 2, forms[f]);
        expect_ids(t, "cab", (int32_t[]){2, 4}, 2, forms[f]);
        qwenc_tokenizer_free(t);
    }
    /* Rank decides: with "b c" first, "abc" becomes a + bc and stops. */
    write_tiny(dir, "[\"b c\", \"a b\", \"ab c\"]", "[]");
    qwenc_tokenizer *t = open_or_report(dir);
    if (t) expect_ids(t, "abc", (int32_t[]){0, 5}, 2, "merge rank order");
    qwenc_tokenizer_free(t);
}

static void test_added_tokens(const char *dir) {
    write_tiny(dir, "[\"a b\", \"b c\", \"ab c\", \"\\u0120 a\"]", tiny_added);
    qwenc_tokenizer *t = open_or_report(dir);
    if (!t) return;
    expect_ids(t, "<x><xy>c", (int32_t[]){8, 9, 2}, 3, "longest added token");
    expect_ids(t, "a<xy", (int32_t[]){0}, 1, "unfinished added token is plain text");
    expect_ids(t, "a  [m]  c", (int32_t[]){0, 10, 2}, 3, "lstrip/rstrip swallow spaces");
    expect_ids(t, "ab cab", (int32_t[]){11, 3, 2, 4}, 4, "single_word");
    CHECK(qwenc_token_id(t, "<xy>") == 9, "added token id");
    CHECK(qwenc_tokenizer_n_tokens(t) == 12, "tiny n_tokens");
    char *text = NULL;
    int32_t ids[] = {8, 9, 3, 0};
    qwenc_detokenize(t, ids, 4, 1, &text, NULL, err, sizeof err);
    CHECK(text && !strcmp(text, "<xy> a"), "skip special: '%s'", text ? text : "(null)");
    free(text);
    qwenc_detokenize(t, ids, 4, 0, &text, NULL, err, sizeof err);
    CHECK(text && !strcmp(text, "<x><xy> a"), "keep special: '%s'", text ? text : "(null)");
    free(text);
    CHECK(qw_tokenizer_chat_template(t) == NULL, "no tokenizer_config.json: no template");
    qwenc_tokenizer_free(t);
}

static void expect_open_error(const char *dir, int want_rc, const char *want_text, const char *what) {
    qwenc_tokenizer *t = NULL;
    err[0] = 0;
    int rc = qwenc_tokenizer_open(dir, &t, err, sizeof err);
    CHECK(rc == want_rc && t == NULL && strstr(err, want_text) && !strchr(err, '\n'), "%s: rc %d, '%s'", what,
          rc, err);
    qwenc_tokenizer_free(t);
}

static void test_bad_files(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    remove(path);
    expect_open_error(dir, QWENC_EIO, "tokenizer.json", "missing tokenizer.json");
    expect_open_error("/nonexistent/qwenc", QWENC_EIO, "/nonexistent/qwenc", "missing directory");
    write_file(dir, "tokenizer.json", "{\"model\": {\"vocab\": {\"a\": 0,,}}}");
    expect_open_error(dir, QWENC_EFORMAT, "tokenizer.json:1:", "corrupt JSON");
    write_file(dir, "tokenizer.json", "{\"model\": {\"vocab\": {\"a\": 0}, \"merges\": []}, \"decoder\": [1,}");
    expect_open_error(dir, QWENC_EFORMAT, "tokenizer.json:1:", "corrupt JSON outside the model");
    write_file(dir, "tokenizer.json", "{\"version\": \"1.0\"}");
    expect_open_error(dir, QWENC_EFORMAT, "no model.vocab", "no model");
    write_file(dir, "tokenizer.json", "{\"model\": {\"vocab\": {\"a\": 0}, \"merges\": [\"a b\"]}}");
    expect_open_error(dir, QWENC_EFORMAT, "not in the vocab", "merge of unknown token");
    write_file(dir, "tokenizer.json", "{\"model\": {\"vocab\": {\"a\": 0}, \"merges\": [\"a a a\"]}}");
    expect_open_error(dir, QWENC_EFORMAT, "one space", "bad merge string");
    write_file(dir, "tokenizer.json", "{\"model\": {\"vocab\": {\"a\": 0, \"b\": 0}, \"merges\": []}}");
    expect_open_error(dir, QWENC_EFORMAT, "used twice", "duplicate id");
    write_file(dir, "tokenizer.json", "");
    expect_open_error(dir, QWENC_EFORMAT, "tokenizer.json", "empty file");
    write_tiny(dir, "[]", "[]");
    write_file(dir, "tokenizer_config.json", "{\"chat_template\": ");
    expect_open_error(dir, QWENC_EFORMAT, "tokenizer_config.json", "corrupt tokenizer_config.json");
    write_file(dir, "tokenizer_config.json",
               "{\"chat_template\": \"T\", \"eos_token\": {\"content\": \"<x>\"}, \"bos_token\": null}");
    qwenc_tokenizer *t = open_or_report(dir);
    if (t) {
        CHECK(!strcmp(qw_tokenizer_chat_template(t), "T"), "template from config");
        const char *eos = qw_tokenizer_special_text(t, "eos_token");
        CHECK(eos && !strcmp(eos, "<x>"), "eos_token given as an object");
        CHECK(qw_tokenizer_special_text(t, "bos_token") == NULL, "bos_token null");
    }
    qwenc_tokenizer_free(t);
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    remove(path);
}

int main(void) {
    const char *data = check_env("QWENC_TEST_DATA");
    const char *tokdir = check_env("QWENC_TOKENIZER_DIR");
    const char *root = check_env("QWENC_ROOT");

    qwenc_tokenizer *t = open_or_report(tokdir);
    if (t) {
        test_golden(data, t);
        test_chat_golden(data, t);
        test_api_details(t);
        test_errors(t);
    }
    qwenc_tokenizer_free(t);
    test_demo_model(root);

    char dir[] = "/tmp/qwenc-tok-XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp failed");
        return check_summary();
    }
    test_merge_forms(dir);
    test_added_tokens(dir);
    test_bad_files(dir);
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    remove(path);
    rmdir(dir);
    return check_summary();
}
