/* safetensors: an 8-byte little-endian header length, a JSON header mapping
 * tensor names to {dtype, shape, data_offsets}, then the raw bytes. Files are
 * mmapped and tensors point into the mapping; nothing is copied. */
#ifndef QW_FORMAT_SAFETENSORS_H
#define QW_FORMAT_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "base/file.h"
#include "format/dtype.h"

#define QW_MAX_RANK 4

typedef struct {
    char *name;
    qw_dtype dtype;
    int rank;
    int64_t shape[QW_MAX_RANK];
    const void *data;   /* inside the mapping */
    size_t nbytes;
    int file_index;     /* which shard */
} qw_st_tensor;

/* A checkpoint: one or more safetensors files, tensors from all of them. */
typedef struct {
    qw_mapped_file *files;
    char **file_names;
    int n_files;
    qw_st_tensor *tensors;
    int n_tensors;
    struct qw_gguf *gguf;  /* set when the tensors are views of a GGUF file */
    /* Tensors converted at load (model/requant.h) live here instead of in
     * the files; empty otherwise. */
    qw_mapped_file converted;
} qw_checkpoint;

/* Opens dir/model.safetensors, or the shards listed in
 * dir/model.safetensors.index.json. */
int qw_checkpoint_open(const char *dir, qw_checkpoint *ck, char *err, size_t errlen);
void qw_checkpoint_close(qw_checkpoint *ck);

/* One safetensors file already in memory (borrowed: it must outlive the
 * checkpoint), parsed and validated as qw_checkpoint_open does a
 * model.safetensors; name stands for the file in errors. */
int qw_checkpoint_open_buffer(const char *name, const void *data, size_t size, qw_checkpoint *ck, char *err,
                              size_t errlen);

/* Parses one mapped file and appends its tensors. */
int qw_safetensors_parse(qw_checkpoint *ck, int file_index, const char *path,
                         char *err, size_t errlen);

const qw_st_tensor *qw_checkpoint_find(const qw_checkpoint *ck, const char *name);

/* Tells the checkpoint that n bytes of tensor data at p will seldom be read
 * again (the model keeps its own copy): their pages of a GGUF file's mapping
 * go back to the system, read again if touched. Other checkpoints keep them:
 * a synthetic one's memory has no file behind it. */
void qw_checkpoint_drop(const qw_checkpoint *ck, const void *p, size_t n);

/* Reads every page of the mapped files (so the first tokens do not wait on
 * the disk), calling progress as it goes. */
void qw_checkpoint_prefetch(const qw_checkpoint *ck, void (*progress)(void *, int64_t, int64_t), void *ctx);

#endif
