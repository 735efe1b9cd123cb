/* TEMPORARY placeholder, replaced by the tokenizer work in this same change. */
#include "tokenizer/tokenizer.h"
#include "base/err.h"
#include <stddef.h>
int qwenc_tokenizer_open(const char *path, qwenc_tokenizer **out, char *err, size_t errlen) {
    *out = NULL;
    return qw_errf(err, errlen, QWENC_EUNSUPPORTED, "%s: tokenizer not built yet", path);
}
void qwenc_tokenizer_free(qwenc_tokenizer *t) { (void)t; }
