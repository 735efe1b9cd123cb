/* A growable byte string (always NUL-terminated), for building responses
 * and collecting request bodies. */
#ifndef QW_SERVER_STRBUF_H
#define QW_SERVER_STRBUF_H

#include <stddef.h>

typedef struct {
    char *p;
    size_t len, cap;
} strbuf;

/* Appends n bytes; -1 when out of memory (the string is unchanged). */
int strbuf_add(strbuf *b, const char *s, size_t n);
/* Appends printf-formatted text; -1 when out of memory. */
int strbuf_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strbuf_free(strbuf *b);

#endif
