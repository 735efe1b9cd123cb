/* Writing GGUF v3 files (the layout gguf.h reads): metadata and tensor infos
 * are collected first, then the header is written and the tensor data is
 * streamed in declaration order, each tensor padded to the alignment, so no
 * more than the caller's current slab of data is ever in memory.
 *
 * The file is written under a temporary name in the target's directory and
 * renamed over path only by qw_gguf_writer_finish: a failed or abandoned
 * write leaves no partial file behind.
 *
 * Errors are sticky: after the first failure every call returns the same
 * code without doing anything, and err (given at creation) holds its one
 * line, so a caller may check once after a run of calls. */
#ifndef QW_FORMAT_GGUF_WRITE_H
#define QW_FORMAT_GGUF_WRITE_H

#include <stddef.h>
#include <stdint.h>

typedef struct qw_gguf_writer qw_gguf_writer;

/* Creates the temporary file beside path. err must outlive the writer. */
int qw_gguf_writer_new(const char *path, uint32_t alignment, qw_gguf_writer **out, char *err, size_t errlen);
/* Closes the writer; removes the temporary file unless finished. NULL is fine. */
void qw_gguf_writer_free(qw_gguf_writer *w);

/* ---- metadata (before qw_gguf_writer_begin_data); keys must be unique ---- */
int qw_gguf_set_str(qw_gguf_writer *w, const char *key, const char *s, size_t len);
int qw_gguf_set_u32(qw_gguf_writer *w, const char *key, uint32_t v);
int qw_gguf_set_i32(qw_gguf_writer *w, const char *key, int32_t v);
int qw_gguf_set_f32(qw_gguf_writer *w, const char *key, float v);
int qw_gguf_set_bool(qw_gguf_writer *w, const char *key, int v);
int qw_gguf_set_arr_i32(qw_gguf_writer *w, const char *key, const int32_t *v, uint64_t n);
/* An array of n strings; element i is get(ctx, i, &len) (read before the
 * next call; NULL is QWENC_EINVAL naming the key and the element). */
int qw_gguf_set_arr_str(qw_gguf_writer *w, const char *key, uint64_t n,
                        const char *(*get)(void *ctx, uint64_t i, size_t *len), void *ctx);

/* ---- tensors ---- */

/* Declares the next tensor: ne[0] is the fastest-moving dimension (the
 * input dimension of a weight matrix). QWENC_EINVAL when the type is not
 * one whose size is known or ne[0] is not a whole number of blocks. */
int qw_gguf_add_tensor(qw_gguf_writer *w, const char *name, uint32_t type, int n_dims, const int64_t *ne);
/* Bytes of data the declared tensors take (without padding). */
uint64_t qw_gguf_writer_data_bytes(const qw_gguf_writer *w);

/* Writes the header; after this only tensor data may follow. */
int qw_gguf_writer_begin_data(qw_gguf_writer *w);
/* Appends n bytes of tensor data: tensors follow each other in declaration
 * order, a write may span several. Writing more than declared is an error. */
int qw_gguf_write_data(qw_gguf_writer *w, const void *p, size_t n);
/* Checks that every declared byte was written, flushes, syncs and renames
 * the file to its path. */
int qw_gguf_writer_finish(qw_gguf_writer *w);

#endif
