/* qwenc_tokenize with the real Qwen3 tokenizer on arbitrary bytes: invalid
 * UTF-8 is QWENC_EINVAL with one line, valid UTF-8 gives ids in range that
 * decode back to the text when the text is in NFC (the tokenizer's
 * normalizer), and the streaming decoder agrees with the whole one. */
#include "fuzz.h"

FUZZ_PRELOAD(fuzz_tokenizer)

static int is_nfc(const char *s, size_t n) {
    utf8proc_uint8_t *nfc = NULL;
    utf8proc_ssize_t m = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &nfc,
                                      UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    int same = m >= 0 && (size_t)m == n && !memcmp(nfc, s, n);
    free(nfc);
    return same;
}

static void check_stream(const qwenc_tokenizer *t, const int32_t *ids, size_t n, const char *whole, size_t whole_len) {
    qwenc_detok_stream *s = qwenc_detok_stream_new(t, 0);
    if (!s) abort();
    size_t at = 0, len;
    for (size_t i = 0; i <= n; i++) {
        const char *piece = i < n ? qwenc_detok_stream_push(s, ids[i], &len) : qwenc_detok_stream_flush(s, &len);
        FUZZ_CHECK(at + len <= whole_len && !memcmp(whole + at, piece, len), "stream differs at byte %zu", at);
        at += len;
    }
    FUZZ_CHECK(at == whole_len, "stream gave %zu bytes of %zu", at, whole_len);
    qwenc_detok_stream_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const qwenc_tokenizer *t = fuzz_tokenizer();
    const char *text = (const char *)data;
    int32_t *ids = NULL;
    size_t n = 0;
    char err[512] = "";
    int rc = qwenc_tokenize(t, text, size, &ids, &n, err, sizeof err);
    if (!fuzz_utf8_valid(text, size)) {
        FUZZ_CHECK(rc == QWENC_EINVAL && fuzz_one_line(err) && !ids, "invalid UTF-8 accepted (rc %d)", rc);
        return 0;
    }
    FUZZ_CHECK(rc == 0, "valid UTF-8 refused: %s", err);
    FUZZ_CHECK(size == 0 || n > 0, "no ids for %zu bytes", size);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(ids[i] >= 0 && ids[i] < qwenc_tokenizer_n_tokens(t), "id %d out of range", ids[i]);
    char *back = NULL;
    size_t back_len = 0;
    FUZZ_CHECK(qwenc_detokenize(t, ids, n, 0, &back, &back_len, err, sizeof err) == 0, "decode: %s", err);
    if (is_nfc(text, size))
        FUZZ_CHECK(back_len == size && !memcmp(back, text, size), "decode(encode(text)) != text (%zu bytes, %zu back)",
                   size, back_len);
    check_stream(t, ids, n, back, back_len);
    free(back);
    free(ids);
    return 0;
}
