#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int qw_errf(char *err, size_t errlen, int code, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

int qw_err_prefix(char *err, size_t errlen, int code, const char *prefix) {
    if (err && errlen) {
        char tmp[1024];
        snprintf(tmp, sizeof tmp, "%s", err);
        snprintf(err, errlen, "%s: %s", prefix, tmp);
    }
    return code;
}
