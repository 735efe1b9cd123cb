#include "format/gguf_write.h"
#include "base/err.h"
#include "format/gguf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A growable byte buffer for the header (keys, values, tensor infos): a
 * few MB for a 150k-token vocabulary, never tensor data. */
typedef struct {
    unsigned char *p;
    size_t len, cap;
} bytes;

struct qw_gguf_writer {
    char *path, *tmp_path;
    FILE *f;
    char *err;
    size_t errlen;
    int rc;              /* sticky: the first failure */
    uint32_t alignment;
    bytes kv, info;      /* serialized metadata and tensor infos */
    char **keys;         /* for the uniqueness check */
    uint64_t n_kv, n_tensors;
    uint64_t *tensor_bytes;      /* by tensor, for streaming */
    uint64_t data_end;           /* offset after the last declared tensor (unpadded) */
    int data_started, finished;
    uint64_t cur, cur_left;      /* tensor being written, its bytes still due */
    uint64_t written;            /* bytes of the data section so far (with padding) */
};

__attribute__((format(printf, 3, 4))) static int fail(qw_gguf_writer *w, int code, const char *fmt, ...) {
    if (!w->rc) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        w->rc = qw_errf(w->err, w->errlen, code, "%s: %s", w->path, msg);
    }
    return w->rc;
}

static int nomem(qw_gguf_writer *w) { return fail(w, QWENC_ENOMEM, "out of memory"); }

static int put(qw_gguf_writer *w, bytes *b, const void *p, size_t n) {
    if (w->rc) return w->rc;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) cap *= 2;
        unsigned char *q = realloc(b->p, cap);
        if (!q) return nomem(w);
        b->p = q, b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

/* Little-endian integers, whatever the host. */
static int put_u32(qw_gguf_writer *w, bytes *b, uint32_t v) {
    unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
    return put(w, b, x, 4);
}

static int put_u64(qw_gguf_writer *w, bytes *b, uint64_t v) {
    unsigned char x[8];
    for (int i = 0; i < 8; i++) x[i] = (unsigned char)(v >> 8 * i);
    return put(w, b, x, 8);
}

static int put_str(qw_gguf_writer *w, bytes *b, const char *s, size_t n) {
    put_u64(w, b, n);
    return put(w, b, s, n);
}

int qw_gguf_writer_new(const char *path, uint32_t alignment, qw_gguf_writer **out, char *err, size_t errlen) {
    *out = NULL;
    if (!alignment || alignment & (alignment - 1))
        return qw_errf(err, errlen, QWENC_EINVAL, "%s: alignment %u is not a power of two", path, alignment);
    qw_gguf_writer *w = calloc(1, sizeof *w);
    size_t n = strlen(path);
    if (!w || !(w->path = strdup(path)) || !(w->tmp_path = malloc(n + 16))) {
        if (w) free(w->path);
        free(w);
        return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    }
    w->err = err, w->errlen = errlen, w->alignment = alignment;
    snprintf(w->tmp_path, n + 16, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(w->tmp_path);
    if (fd < 0) {
        int rc = qw_errf(err, errlen, QWENC_EIO, "%s: cannot create the file: %s", path, strerror(errno));
        w->tmp_path[0] = 0;
        qw_gguf_writer_free(w);
        return rc;
    }
    fchmod(fd, 0644);  /* mkstemp's 0600 would hide the model from other users */
    if (!(w->f = fdopen(fd, "wb"))) {
        close(fd);
        qw_gguf_writer_free(w);
        return qw_errf(err, errlen, QWENC_EIO, "%s: cannot open the file: %s", path, strerror(errno));
    }
    setvbuf(w->f, NULL, _IOFBF, 1 << 20);
    *out = w;
    return 0;
}

void qw_gguf_writer_free(qw_gguf_writer *w) {
    if (!w) return;
    if (w->f) fclose(w->f);
    if (!w->finished && w->tmp_path && w->tmp_path[0]) unlink(w->tmp_path);
    for (uint64_t i = 0; i < w->n_kv; i++) free(w->keys[i]);
    free(w->keys);
    free(w->kv.p);
    free(w->info.p);
    free(w->tensor_bytes);
    free(w->tmp_path);
    free(w->path);
    free(w);
}

/* ---- metadata ---- */

static int begin_kv(qw_gguf_writer *w, const char *key, uint32_t type) {
    if (w->rc) return w->rc;
    if (w->data_started) return fail(w, QWENC_EINVAL, "metadata '%s' after the tensor data began", key);
    if (!*key) return fail(w, QWENC_EINVAL, "an empty metadata key");
    for (uint64_t i = 0; i < w->n_kv; i++)
        if (!strcmp(w->keys[i], key)) return fail(w, QWENC_EINVAL, "metadata '%s' set twice", key);
    if (w->n_kv % 64 == 0) {
        char **k = realloc(w->keys, (size_t)(w->n_kv + 64) * sizeof *k);
        if (!k) return nomem(w);
        w->keys = k;
    }
    if (!(w->keys[w->n_kv] = strdup(key))) return nomem(w);
    w->n_kv++;
    put_str(w, &w->kv, key, strlen(key));
    return put_u32(w, &w->kv, type);
}

int qw_gguf_set_str(qw_gguf_writer *w, const char *key, const char *s, size_t len) {
    begin_kv(w, key, QW_GGUF_STRING);
    return put_str(w, &w->kv, s, len);
}

int qw_gguf_set_u32(qw_gguf_writer *w, const char *key, uint32_t v) {
    begin_kv(w, key, QW_GGUF_UINT32);
    return put_u32(w, &w->kv, v);
}

int qw_gguf_set_i32(qw_gguf_writer *w, const char *key, int32_t v) {
    begin_kv(w, key, QW_GGUF_INT32);
    return put_u32(w, &w->kv, (uint32_t)v);
}

int qw_gguf_set_f32(qw_gguf_writer *w, const char *key, float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    begin_kv(w, key, QW_GGUF_FLOAT32);
    return put_u32(w, &w->kv, u);
}

int qw_gguf_set_bool(qw_gguf_writer *w, const char *key, int v) {
    unsigned char b = v != 0;
    begin_kv(w, key, QW_GGUF_BOOL);
    return put(w, &w->kv, &b, 1);
}

int qw_gguf_set_arr_i32(qw_gguf_writer *w, const char *key, const int32_t *v, uint64_t n) {
    begin_kv(w, key, QW_GGUF_ARRAY);
    put_u32(w, &w->kv, QW_GGUF_INT32);
    put_u64(w, &w->kv, n);
    for (uint64_t i = 0; i < n && !w->rc; i++) put_u32(w, &w->kv, (uint32_t)v[i]);
    return w->rc;
}

int qw_gguf_set_arr_str(qw_gguf_writer *w, const char *key, uint64_t n,
                        const char *(*get)(void *ctx, uint64_t i, size_t *len), void *ctx) {
    begin_kv(w, key, QW_GGUF_ARRAY);
    put_u32(w, &w->kv, QW_GGUF_STRING);
    put_u64(w, &w->kv, n);
    for (uint64_t i = 0; i < n && !w->rc; i++) {
        size_t len = 0;
        const char *s = get(ctx, i, &len);
        if (!s) {
            return fail(w, QWENC_EINVAL, "metadata '%s': no element %llu", key, (unsigned long long)i);
        }
        put_str(w, &w->kv, s, len);
    }
    return w->rc;
}

/* ---- tensors ---- */

static uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

int qw_gguf_add_tensor(qw_gguf_writer *w, const char *name, uint32_t type, int n_dims, const int64_t *ne) {
    if (w->rc) return w->rc;
    if (w->data_started) return fail(w, QWENC_EINVAL, "tensor '%s' declared after the data began", name);
    if (n_dims < 1 || n_dims > QW_GGUF_MAX_DIMS) return fail(w, QWENC_EINVAL, "tensor '%s': bad rank", name);
    uint64_t row = qw_gguf_row_size(type, ne[0]), rows = 1;
    for (int d = 1; d < n_dims; d++) {
        if (ne[d] < 1) return fail(w, QWENC_EINVAL, "tensor '%s': empty dimension", name);
        rows *= (uint64_t)ne[d];
    }
    if (!row) return fail(w, QWENC_EINVAL, "tensor '%s' cannot be stored as %s", name, qw_gguf_type_name(type));
    if (w->n_tensors % 256 == 0) {
        uint64_t *tb = realloc(w->tensor_bytes, (size_t)(w->n_tensors + 256) * sizeof *tb);
        if (!tb) return nomem(w);
        w->tensor_bytes = tb;
    }
    uint64_t offset = align_up(w->data_end, w->alignment);
    w->tensor_bytes[w->n_tensors++] = row * rows;
    w->data_end = offset + row * rows;
    put_str(w, &w->info, name, strlen(name));
    put_u32(w, &w->info, (uint32_t)n_dims);
    for (int d = 0; d < n_dims; d++) put_u64(w, &w->info, (uint64_t)ne[d]);
    put_u32(w, &w->info, type);
    return put_u64(w, &w->info, offset);
}

uint64_t qw_gguf_writer_data_bytes(const qw_gguf_writer *w) {
    uint64_t n = 0;
    for (uint64_t i = 0; i < w->n_tensors; i++) n += w->tensor_bytes[i];
    return n;
}

static int out(qw_gguf_writer *w, const void *p, size_t n) {
    if (w->rc) return w->rc;
    if (n && fwrite(p, 1, n, w->f) != n)
        return fail(w, QWENC_EIO, "write failed: %s", strerror(errno));
    return 0;
}

static int pad(qw_gguf_writer *w, uint64_t pos) {
    static const unsigned char zeros[64];
    uint64_t n = align_up(pos, w->alignment) - pos;
    while (n && !w->rc) {
        size_t k = n < sizeof zeros ? (size_t)n : sizeof zeros;
        out(w, zeros, k);
        n -= k;
    }
    return w->rc;
}

/* Skips to the next tensor that still has bytes due (padding before it). */
static void next_tensor(qw_gguf_writer *w) {
    while (!w->cur_left && w->cur < w->n_tensors) {
        if (w->written) {
            pad(w, w->written);
            w->written = align_up(w->written, w->alignment);
        }
        w->cur_left = w->tensor_bytes[w->cur];
        if (!w->cur_left) w->cur++;  /* cannot happen: shapes are non-empty */
    }
}

int qw_gguf_writer_begin_data(qw_gguf_writer *w) {
    if (w->rc) return w->rc;
    if (w->data_started) return fail(w, QWENC_EINVAL, "the data began twice");
    bytes h = {0};
    put(w, &h, "GGUF", 4);
    put_u32(w, &h, 3);
    put_u64(w, &h, w->n_tensors);
    put_u64(w, &h, w->n_kv);
    out(w, h.p, h.len);
    out(w, w->kv.p, w->kv.len);
    out(w, w->info.p, w->info.len);
    pad(w, h.len + w->kv.len + w->info.len);
    free(h.p);
    w->data_started = 1;
    next_tensor(w);
    return w->rc;
}

int qw_gguf_write_data(qw_gguf_writer *w, const void *p, size_t n) {
    const unsigned char *b = p;
    if (w->rc) return w->rc;
    if (!w->data_started) return fail(w, QWENC_EINVAL, "tensor data before the header");
    while (n && !w->rc) {
        if (w->cur >= w->n_tensors) return fail(w, QWENC_EINVAL, "more tensor data than declared");
        size_t k = n < w->cur_left ? n : (size_t)w->cur_left;
        out(w, b, k);
        b += k, n -= k, w->written += k, w->cur_left -= k;
        if (!w->cur_left) {
            w->cur++;
            next_tensor(w);
        }
    }
    return w->rc;
}

int qw_gguf_writer_finish(qw_gguf_writer *w) {
    if (w->rc) return w->rc;
    if (!w->data_started) qw_gguf_writer_begin_data(w);
    if (!w->rc && w->cur < w->n_tensors) return fail(w, QWENC_EINVAL, "tensor data missing");
    if (w->rc) return w->rc;
    FILE *f = w->f;
    w->f = NULL;
    int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad) return fail(w, QWENC_EIO, "write failed: %s", strerror(errno));
    if (rename(w->tmp_path, w->path)) return fail(w, QWENC_EIO, "cannot rename the finished file: %s", strerror(errno));
    w->finished = 1;
    return 0;
}
