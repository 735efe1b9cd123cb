/* One-line error messages: every fallible internal call takes (err, errlen)
 * and returns 0 or a negative QWENC_E* code. */
#ifndef QW_BASE_ERR_H
#define QW_BASE_ERR_H

#include <stddef.h>
#include "qwenc.h"

/* Formats into err (if non-NULL) and returns code. Control characters in
 * the message (quoted from a file, say) become '?': it is always one line. */
int qw_errf(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Prepends "prefix: " to the message already in err. Returns code. */
int qw_err_prefix(char *err, size_t errlen, int code, const char *prefix);

#endif
