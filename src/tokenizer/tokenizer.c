/* TEMPORARY placeholder, replaced by the tokenizer work in this same change. */
#include "tokenizer/tokenizer.h"
#include "base/err.h"
#include <stddef.h>
int qwenc_tokenizer_open(const char *path, qwenc_tokenizer **out, char *err, size_t errlen) {
    *out = NULL;
    return qw_errf(err, errlen, QWENC_EUNSUPPORTED, "%s: tokenizer not built yet", path);
}
void qwenc_tokenizer_free(qwenc_tokenizer *t) { (void)t; }
int qwenc_tokenize(const qwenc_tokenizer *t, const char *text, size_t len, int32_t **ids, size_t *n_ids, char *err, size_t errlen) {
    (void)t; (void)text; (void)len; (void)ids; (void)n_ids;
    return qw_errf(err, errlen, QWENC_EUNSUPPORTED, "tokenizer not built yet");
}
int qwenc_chat_render(const qwenc_tokenizer *t, const char *request_json, char **out, char *err, size_t errlen) {
    (void)t; (void)request_json; (void)out;
    return qw_errf(err, errlen, QWENC_EUNSUPPORTED, "tokenizer not built yet");
}
qwenc_detok_stream *qwenc_detok_stream_new(const qwenc_tokenizer *t, int skip_special) { (void)t; (void)skip_special; return NULL; }
void qwenc_detok_stream_free(qwenc_detok_stream *s) { (void)s; }
const char *qwenc_detok_stream_push(qwenc_detok_stream *s, int32_t id) { (void)s; (void)id; return ""; }
const char *qwenc_detok_stream_flush(qwenc_detok_stream *s) { (void)s; return ""; }
