/* Growable byte and id buffers used across the tokenizer modules. */
#ifndef QW_TOKENIZER_TOKBUF_H
#define QW_TOKENIZER_TOKBUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *data; /* always NUL-terminated once anything was appended */
    size_t len, cap;
} qw_buf;

typedef struct {
    int32_t *data;
    size_t len, cap;
} qw_idbuf;

/* Each returns 0 or QWENC_ENOMEM. */
int qw_buf_reserve(qw_buf *b, size_t extra);
int qw_buf_append(qw_buf *b, const void *data, size_t n);
void qw_buf_free(qw_buf *b);

int qw_idbuf_reserve(qw_idbuf *b, size_t extra);
int qw_idbuf_push(qw_idbuf *b, int32_t id);
int qw_idbuf_append(qw_idbuf *b, const int32_t *ids, size_t n);
void qw_idbuf_free(qw_idbuf *b);

#endif
