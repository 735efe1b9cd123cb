/* Encoding and decoding with a loaded tokenizer (see tokenizer_load.c). */
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/utf8.h"
#include "base/err.h"

#include <stdlib.h>
#include <string.h>

int qwenc_tokenizer_n_tokens(const qwenc_tokenizer *t) { return t ? t->n_ids : 0; }

int32_t qwenc_token_id(const qwenc_tokenizer *t, const char *text) {
    if (!t || !text) return -1;
    size_t n = strlen(text);
    const added_token *a = added_vocab_by_content(&t->added, text, n);
    return a ? a->id : bpe_token_id(t->bpe, text, n);
}

int qwenc_token_is_added(const qwenc_tokenizer *t, int32_t id) {
    return t && id >= 0 && id < t->n_ids && t->is_added[id];
}

const char *qwenc_token_bytes(const qwenc_tokenizer *t, int32_t id, size_t *len) {
    if (!t || id < 0 || id >= t->n_ids || t->bytes_off[id] == UINT32_MAX) return NULL;
    if (len) *len = t->bytes_len[id];
    return t->token_bytes.data + t->bytes_off[id];
}

/* ---- encoding ------------------------------------------------------------ */

typedef struct {
    const qwenc_tokenizer *t;
    bpe_cache *cache;
    qw_idbuf ids;
    qw_buf scratch;
} encode_state;

/* With ignore_merges, a piece that is itself a vocabulary token is used
 * whole; the vocabulary is spelled in the byte-level alphabet. */
static int whole_token(encode_state *es, const char *piece, size_t n, int32_t *id) {
    es->scratch.len = 0;
    if (bytelevel_encode(&es->t->bytelevel, piece, n, &es->scratch)) return QWENC_ENOMEM;
    *id = bpe_token_id(es->t->bpe, es->scratch.data, es->scratch.len);
    return 0;
}

static int encode_piece(void *ctx, const char *piece, size_t n) {
    encode_state *es = ctx;
    if (es->t->ignore_merges) {
        int32_t id;
        if (whole_token(es, piece, n, &id)) return QWENC_ENOMEM;
        if (id >= 0) return qw_idbuf_push(&es->ids, id);
    }
    return bpe_encode_piece(es->t->bpe, es->cache, (const unsigned char *)piece, n, &es->ids);
}

static int encode_text(encode_state *es, const char *text, size_t n, char *err, size_t errlen) {
    int rc = pretokenize_run(es->t->pre, text, n, encode_piece, es, err, errlen);
    if (rc == QWENC_ENOMEM) qw_errf(err, errlen, rc, "tokenize: out of memory");
    return rc;
}

/* Splits on added tokens first; only the text between them is normalized,
 * pre-tokenized and merged. */
static int encode_all(encode_state *es, const char *text, size_t len, char *err, size_t errlen) {
    added_iter it;
    added_iter_init(&it, &es->t->added, text, len);
    size_t start, end, done = 0;
    const added_token *tok;
    int rc = 0;
    while (!rc && added_iter_next(&it, &start, &end, &tok)) {
        rc = encode_text(es, text + done, start - done, err, errlen);
        if (!rc && qw_idbuf_push(&es->ids, tok->id)) rc = qw_errf(err, errlen, QWENC_ENOMEM, "tokenize: out of memory");
        done = end;
    }
    if (!rc) rc = encode_text(es, text + done, len - done, err, errlen);
    return rc;
}

int qwenc_tokenize(const qwenc_tokenizer *t, const char *text, size_t len, int32_t **ids,
                   size_t *n_ids, char *err, size_t errlen) {
    if (ids) *ids = NULL;
    if (n_ids) *n_ids = 0;
    if (!t || !ids || !n_ids || (!text && len))
        return qw_errf(err, errlen, QWENC_EINVAL, "tokenize: NULL argument");
    size_t bad;
    if (!utf8_validate(text, len, &bad))
        return qw_errf(err, errlen, QWENC_EINVAL, "tokenize: invalid UTF-8 at byte %zu", bad);
    encode_state es = {.t = t, .cache = len > 4096 ? bpe_cache_new() : NULL};
    int rc = encode_all(&es, text ? text : "", len, err, errlen);
    bpe_cache_free(es.cache);
    qw_buf_free(&es.scratch);
    if (rc) {
        qw_idbuf_free(&es.ids);
        return rc;
    }
    /* Hand back a real allocation even for empty text. */
    if (!es.ids.data && !(es.ids.data = malloc(sizeof(int32_t))))
        return qw_errf(err, errlen, QWENC_ENOMEM, "tokenize: out of memory");
    *ids = es.ids.data;
    *n_ids = es.ids.len;
    return 0;
}

/* ---- decoding ------------------------------------------------------------ */

static int known_id(const qwenc_tokenizer *t, int32_t id) {
    return id >= 0 && id < t->n_ids && t->bytes_off[id] != UINT32_MAX;
}

/* Appends the bytes of one token unless it is skipped. */
static int append_token(const qwenc_tokenizer *t, int32_t id, int skip_special, qw_buf *out) {
    if (skip_special && t->special[id]) return 0;
    return qw_buf_append(out, t->token_bytes.data + t->bytes_off[id], t->bytes_len[id]);
}

int qwenc_detokenize(const qwenc_tokenizer *t, const int32_t *ids, size_t n_ids, int skip_special,
                     char **text, size_t *text_len, char *err, size_t errlen) {
    if (text) *text = NULL;
    if (text_len) *text_len = 0;
    if (!t || !text || (!ids && n_ids)) return qw_errf(err, errlen, QWENC_EINVAL, "detokenize: NULL argument");
    for (size_t i = 0; i < n_ids; i++)
        if (!known_id(t, ids[i]))
            return qw_errf(err, errlen, QWENC_ERANGE, "detokenize: token id %d at position %zu is out of range [0, %d)",
                           ids[i], i, t->n_ids);
    qw_buf bytes = {0}, out = {0};
    int rc = qw_buf_append(&bytes, "", 0) || qw_buf_append(&out, "", 0);
    for (size_t i = 0; i < n_ids && !rc; i++) rc = append_token(t, ids[i], skip_special, &bytes);
    if (!rc) rc = utf8_append_lossy(&out, bytes.data, bytes.len);
    qw_buf_free(&bytes);
    if (rc) {
        qw_buf_free(&out);
        return qw_errf(err, errlen, QWENC_ENOMEM, "detokenize: out of memory");
    }
    *text = out.data;
    if (text_len) *text_len = out.len;
    return 0;
}

/* ---- streaming ----------------------------------------------------------- */

struct qwenc_detok_stream {
    const qwenc_tokenizer *t;
    int skip_special;
    qw_buf pending; /* bytes not yet returned: an unfinished UTF-8 sequence */
    qw_buf out;     /* the text returned by the last call */
};

qwenc_detok_stream *qwenc_detok_stream_new(const qwenc_tokenizer *t, int skip_special) {
    if (!t) return NULL;
    qwenc_detok_stream *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->t = t;
    s->skip_special = skip_special;
    if (qw_buf_append(&s->pending, "", 0) || qw_buf_append(&s->out, "", 0)) {
        qwenc_detok_stream_free(s);
        return NULL;
    }
    return s;
}

void qwenc_detok_stream_free(qwenc_detok_stream *s) {
    if (!s) return;
    qw_buf_free(&s->pending);
    qw_buf_free(&s->out);
    free(s);
}

/* Moves the first n pending bytes, decoded lossily, into out. */
static const char *emit_pending(qwenc_detok_stream *s, size_t n, size_t *len) {
    s->out.len = 0;
    s->out.data[0] = 0;
    if (len) *len = 0;
    if (utf8_append_lossy(&s->out, s->pending.data, n)) return "";
    if (len) *len = s->out.len;
    memmove(s->pending.data, s->pending.data + n, s->pending.len - n);
    s->pending.len -= n;
    s->pending.data[s->pending.len] = 0;
    return s->out.data;
}

/* Unknown ids are ignored (there is no error channel), as tokenizers'
 * decode drops ids it has no token for. */
const char *qwenc_detok_stream_push(qwenc_detok_stream *s, int32_t id, size_t *len) {
    if (len) *len = 0;
    if (!s) return "";
    if (known_id(s->t, id) && append_token(s->t, id, s->skip_special, &s->pending)) return "";
    /* Invalid bytes become U+FFFD as soon as they are seen (nothing that
     * follows can make them valid); only a valid unfinished tail waits. */
    return emit_pending(s, utf8_complete_prefix(s->pending.data, s->pending.len), len);
}

const char *qwenc_detok_stream_flush(qwenc_detok_stream *s, size_t *len) {
    if (len) *len = 0;
    if (!s) return "";
    return emit_pending(s, s->pending.len, len);
}
