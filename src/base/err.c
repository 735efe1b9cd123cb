#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* A message often quotes what a file holds (a tensor name, a JSON token, a
 * template line): control characters become '?', so the message stays one
 * line and cannot drive a terminal, whatever the input. */
static void one_line(char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) *s = '?';
}

int qw_errf(char *err, size_t errlen, int code, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
        one_line(err);
    }
    return code;
}

int qw_err_prefix(char *err, size_t errlen, int code, const char *prefix) {
    if (err && errlen) {
        char tmp[1024];
        snprintf(tmp, sizeof tmp, "%s", err);
        snprintf(err, errlen, "%s: %s", prefix, tmp);
        one_line(err);
    }
    return code;
}
