/* TEMPORARY placeholder, replaced by the template work in this same change. */
#include "base/err.h"
#include "qwenc.h"
int qwenc_chat_render(const qwenc_tokenizer *t, const char *request_json, char **out, char *err, size_t errlen) {
    (void)t; (void)request_json; (void)out;
    return qw_errf(err, errlen, QWENC_EUNSUPPORTED, "chat templates not built yet");
}
