#include "tokenizer/tokbuf.h"
#include "qwenc.h"

#include <stdlib.h>
#include <string.h>

/* Grows *cap geometrically until it holds need elements. */
static int grow(void **data, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t ncap = *cap ? *cap : 64;
    while (ncap < need) ncap *= 2;
    void *nd = realloc(*data, ncap * elem);
    if (!nd) return QWENC_ENOMEM;
    *data = nd;
    *cap = ncap;
    return 0;
}

int qw_buf_reserve(qw_buf *b, size_t extra) {
    /* +1 keeps room for the terminating NUL. */
    return grow((void **)&b->data, &b->cap, b->len + extra + 1, 1);
}

int qw_buf_append(qw_buf *b, const void *data, size_t n) {
    if (qw_buf_reserve(b, n)) return QWENC_ENOMEM;
    if (n) memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = 0;
    return 0;
}

void qw_buf_free(qw_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int qw_idbuf_reserve(qw_idbuf *b, size_t extra) {
    return grow((void **)&b->data, &b->cap, b->len + extra, sizeof(int32_t));
}

int qw_idbuf_push(qw_idbuf *b, int32_t id) {
    if (b->len == b->cap && qw_idbuf_reserve(b, 1)) return QWENC_ENOMEM;
    b->data[b->len++] = id;
    return 0;
}

int qw_idbuf_append(qw_idbuf *b, const int32_t *ids, size_t n) {
    if (qw_idbuf_reserve(b, n)) return QWENC_ENOMEM;
    if (n) memcpy(b->data + b->len, ids, n * sizeof *ids);
    b->len += n;
    return 0;
}

void qw_idbuf_free(qw_idbuf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
