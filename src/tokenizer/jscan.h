/* A small pull scanner over JSON text. tokenizer.json holds ~150k vocab
 * entries and ~150k merges; building a jansson tree for them costs more
 * than the whole load-time budget, so the loader walks the file with this
 * scanner, reads those two members directly, and hands every other
 * (small) value's text to jansson. */
#ifndef QW_TOKENIZER_JSCAN_H
#define QW_TOKENIZER_JSCAN_H

#include <stddef.h>

#include "tokenizer/tokbuf.h"

typedef struct {
    const char *path; /* names the file in errors */
    const char *begin, *p, *end;
    char *err;
    size_t errlen;
} jscan;

void jscan_init(jscan *s, const char *path, const char *text, size_t n, char *err, size_t errlen);

/* Records "path:line:col: msg" for the current position; returns QWENC_EFORMAT. */
int jscan_fail(jscan *s, const char *msg);

/* Skips whitespace and returns the next byte without consuming it (0 at the end). */
char jscan_peek(jscan *s);

/* Consumes c (after whitespace) or fails with "expected 'c'". */
int jscan_expect(jscan *s, char c);

/* After '{' or '[' was consumed: returns 1 if another member follows
 * (consuming the ',' between members), 0 at the closing bracket (consumed),
 * or a negative error code. first is 1 before the first member. */
int jscan_next_member(jscan *s, char close, int first);

/* Reads a string value into out (replacing its contents), decoding
 * escapes; the result is NUL-terminated and may contain NUL bytes. */
int jscan_string(jscan *s, qw_buf *out);

/* Skips one value of any type; start and len receive its text. */
int jscan_skip_value(jscan *s, const char **start, size_t *len);

#endif
