/* qwenc_detokenize and the streaming decoder with the real Qwen3 tokenizer
 * on arbitrary ids (negative, past the vocabulary, special): the first byte
 * picks skip_special, every 3 bytes after it make one id. An unknown id is
 * QWENC_ERANGE for the whole decoder and ignored by the stream; the text is
 * always valid UTF-8, and the stream's pieces add up to the whole decoder's
 * text of the known ids. */
#include "fuzz.h"

FUZZ_PRELOAD(fuzz_tokenizer)

/* Mostly ids near the vocabulary (in range, special, just past it), some
 * anywhere in int32. */
static int32_t make_id(const uint8_t *b, int n_tokens) {
    uint32_t v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16;
    if (v < 0xF00000u) return (int32_t)(v % (uint32_t)(n_tokens + 64));
    static const int32_t odd[] = {-1, -2, INT32_MIN, INT32_MAX, INT32_MIN + 1, -151643};
    uint32_t k = v & 0xFFFF;
    return k < 6 ? odd[k] : (int32_t)((int64_t)k * 40503 - (int64_t)(v >> 12 & 0xFF) * 100000);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const qwenc_tokenizer *t = fuzz_tokenizer();
    if (size < 1) return 0;
    int skip = data[0] & 1, n_tokens = qwenc_tokenizer_n_tokens(t);
    size_t n = (size - 1) / 3, n_known = 0;
    int32_t *ids = malloc((n ? n : 1) * sizeof *ids), *known = malloc((n ? n : 1) * sizeof *known);
    if (!ids || !known) abort();
    for (size_t i = 0; i < n; i++) {
        ids[i] = make_id(data + 1 + 3 * i, n_tokens);
        if (qwenc_token_bytes(t, ids[i], NULL)) known[n_known++] = ids[i];
    }
    char *text = NULL, err[512] = "";
    size_t len = 0;
    int rc = qwenc_detokenize(t, ids, n, skip, &text, &len, err, sizeof err);
    if (n_known < n) {
        FUZZ_CHECK(rc == QWENC_ERANGE && !text && fuzz_one_line(err), "unknown id accepted (rc %d)", rc);
        rc = qwenc_detokenize(t, known, n_known, skip, &text, &len, err, sizeof err);
    }
    FUZZ_CHECK(rc == 0 && text && text[len] == 0, "decode of known ids failed: %s", err);
    FUZZ_CHECK(fuzz_utf8_valid(text, len), "decoded text is not UTF-8");
    qwenc_detok_stream *s = qwenc_detok_stream_new(t, skip);
    if (!s) abort();
    size_t at = 0, piece_len;
    for (size_t i = 0; i <= n; i++) {
        const char *piece = i < n ? qwenc_detok_stream_push(s, ids[i], &piece_len) : qwenc_detok_stream_flush(s, &piece_len);
        FUZZ_CHECK(fuzz_utf8_valid(piece, piece_len), "stream piece %zu is not UTF-8", i);
        FUZZ_CHECK(at + piece_len <= len && !memcmp(text + at, piece, piece_len), "stream differs at byte %zu", at);
        at += piece_len;
    }
    FUZZ_CHECK(at == len, "stream gave %zu bytes of %zu", at, len);
    qwenc_detok_stream_free(s);
    free(text);
    free(ids);
    free(known);
    return 0;
}
