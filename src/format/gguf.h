/* GGUF (versions 2 and 3, little-endian): "GGUF", uint32 version, uint64
 * tensor count, uint64 metadata count, the metadata key/value pairs, the
 * tensor infos, padding to general.alignment, then the tensor data.
 *
 * The file is mmapped and validated as a whole when opened: every read is
 * bounds-checked, counts are checked against the bytes left before anything is
 * allocated, tensors must lie inside the data section, aligned and without
 * overlap. After a successful open nothing needs checking again.
 *
 * Ownership: metadata keys and tensor names are copied once into
 * NUL-terminated strings (so they can be printed and compared with strcmp);
 * string values and tensor data point into the mapping and are NOT
 * NUL-terminated (pointer + length). Everything lives until qw_gguf_close. */
#ifndef QW_FORMAT_GGUF_H
#define QW_FORMAT_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/file.h"

#define QW_GGUF_MAX_DIMS 4
#define QW_GGUF_DEFAULT_ALIGNMENT 32
#define QW_GGUF_MAX_ARRAY_DEPTH 4   /* arrays of arrays nest at most this deep */

/* Metadata value types (gguf_metadata_value_type). */
typedef enum {
    QW_GGUF_UINT8 = 0, QW_GGUF_INT8 = 1, QW_GGUF_UINT16 = 2, QW_GGUF_INT16 = 3,
    QW_GGUF_UINT32 = 4, QW_GGUF_INT32 = 5, QW_GGUF_FLOAT32 = 6, QW_GGUF_BOOL = 7,
    QW_GGUF_STRING = 8, QW_GGUF_ARRAY = 9, QW_GGUF_UINT64 = 10, QW_GGUF_INT64 = 11,
    QW_GGUF_FLOAT64 = 12,
    QW_GGUF_NVTYPES
} qw_gguf_vtype;

/* ggml tensor types (the ids are fixed by the file format). */
typedef enum {
    QW_GGML_F32 = 0, QW_GGML_F16 = 1, QW_GGML_Q4_0 = 2, QW_GGML_Q4_1 = 3,
    QW_GGML_Q5_0 = 6, QW_GGML_Q5_1 = 7, QW_GGML_Q8_0 = 8, QW_GGML_Q8_1 = 9,
    QW_GGML_Q2_K = 10, QW_GGML_Q3_K = 11, QW_GGML_Q4_K = 12, QW_GGML_Q5_K = 13,
    QW_GGML_Q6_K = 14, QW_GGML_Q8_K = 15, QW_GGML_IQ2_XXS = 16, QW_GGML_IQ2_XS = 17,
    QW_GGML_IQ3_XXS = 18, QW_GGML_IQ1_S = 19, QW_GGML_IQ4_NL = 20, QW_GGML_IQ3_S = 21,
    QW_GGML_IQ2_S = 22, QW_GGML_IQ4_XS = 23, QW_GGML_I8 = 24, QW_GGML_I16 = 25,
    QW_GGML_I32 = 26, QW_GGML_I64 = 27, QW_GGML_F64 = 28, QW_GGML_IQ1_M = 29,
    QW_GGML_BF16 = 30, QW_GGML_TQ1_0 = 34, QW_GGML_TQ2_0 = 35, QW_GGML_MXFP4 = 39,
} qw_ggml_type;

typedef struct {
    const char *key;            /* NUL-terminated copy, never empty */
    uint32_t type;              /* qw_gguf_vtype */
    uint32_t arr_type;          /* element type when type == QW_GGUF_ARRAY */
    /* STRING: the length in bytes; ARRAY: the number of elements; else 1. */
    uint64_t count;
    /* Into the mapping: a scalar's bytes, a string's bytes, or an array's
     * first element (for string arrays: the first element's length prefix). */
    const unsigned char *val;
    /* Top-level string arrays only: each element's offset from val (so
     * element i is O(1)). Owned by the qw_gguf. */
    uint64_t *str_off;
} qw_gguf_kv;

typedef struct {
    const char *name;           /* NUL-terminated copy */
    uint32_t type;              /* qw_ggml_type, or an id this reader does not know */
    int n_dims;
    /* ne[0] is the fastest-moving dimension: for a weight matrix
     * [out][in] in row-major terms, ne[0] = in and ne[1] = out. Unused
     * dimensions are 1. */
    int64_t ne[QW_GGUF_MAX_DIMS];
    uint64_t offset;            /* from the start of the data section */
    /* Into the mapping; NULL (and nbytes 0) when the type is unknown, so its
     * size cannot be known: qw_gguf_tensor_get reports that on use. */
    const void *data;
    size_t nbytes;
} qw_gguf_tensor;

typedef struct qw_gguf {
    qw_mapped_file file;
    char *path;                 /* for error messages */
    uint32_t version;
    uint32_t alignment;
    size_t data_offset;         /* file offset of the data section */
    size_t n_kv, n_tensors;
    qw_gguf_kv *kv;             /* sorted by key */
    qw_gguf_tensor *tensors;    /* sorted by name */
    char *names;                /* storage for the keys and tensor names */
} qw_gguf;

/* Maps and validates path. On failure g is left closed and err holds one
 * line naming the file and the problem. */
int qw_gguf_open(const char *path, qw_gguf *g, char *err, size_t errlen);
void qw_gguf_close(qw_gguf *g);
/* The same for a file already in memory (borrowed: it must outlive g);
 * name stands for the file in errors. */
int qw_gguf_open_buffer(const char *name, const void *data, size_t size, qw_gguf *g, char *err, size_t errlen);

/* ---- metadata ---- */

const qw_gguf_kv *qw_gguf_find(const qw_gguf *g, const char *key);   /* NULL if absent */
const char *qw_gguf_vtype_name(uint32_t vtype);                     /* "uint32" */

/* Value accessors: false when the value has another type or does not fit.
 * Integer ones accept any integer type whose value fits; the float one
 * accepts float32/float64 and integers. */
bool qw_gguf_kv_i64(const qw_gguf_kv *kv, int64_t *out);
bool qw_gguf_kv_f64(const qw_gguf_kv *kv, double *out);
bool qw_gguf_kv_bool(const qw_gguf_kv *kv, bool *out);
bool qw_gguf_kv_str(const qw_gguf_kv *kv, const char **s, size_t *len);

/* Required keys: 0, or QWENC_EFORMAT with "path: metadata 'key' ..." when
 * the key is missing, has the wrong type or is out of range. */
int qw_gguf_get_u32(const qw_gguf *g, const char *key, uint32_t *out, char *err, size_t errlen);
int qw_gguf_get_i64(const qw_gguf *g, const char *key, int64_t *out, char *err, size_t errlen);
int qw_gguf_get_f32(const qw_gguf *g, const char *key, float *out, char *err, size_t errlen);
int qw_gguf_get_bool(const qw_gguf *g, const char *key, bool *out, char *err, size_t errlen);
int qw_gguf_get_str(const qw_gguf *g, const char *key, const char **s, size_t *len, char *err,
                    size_t errlen);
/* A required array: 0 and its element count, or QWENC_EFORMAT when missing,
 * not an array, or its elements are not of type elem (-1: integers of any type). */
int qw_gguf_get_arr(const qw_gguf *g, const char *key, int elem, const qw_gguf_kv **kv,
                    char *err, size_t errlen);

/* Array elements (NULL / false when kv is not such an array or i >= count).
 * Arrays of arrays are validated but their elements are not accessible. */
const char *qw_gguf_arr_str(const qw_gguf_kv *kv, uint64_t i, size_t *len);
bool qw_gguf_arr_i64(const qw_gguf_kv *kv, uint64_t i, int64_t *out);
bool qw_gguf_arr_f64(const qw_gguf_kv *kv, uint64_t i, double *out);

/* ---- tensors ---- */

const qw_gguf_tensor *qw_gguf_tensor_find(const qw_gguf *g, const char *name);  /* NULL if absent */
/* A tensor about to be used: 0, or QWENC_EFORMAT (missing) / QWENC_EUNSUPPORTED
 * (a type whose layout this reader does not know), naming file and tensor. */
int qw_gguf_tensor_get(const qw_gguf *g, const char *name, const qw_gguf_tensor **t, char *err,
                       size_t errlen);
int64_t qw_gguf_tensor_nelements(const qw_gguf_tensor *t);

/* ---- ggml types ---- */

const char *qw_gguf_type_name(uint32_t type);   /* "q8_0"; "unknown" if not known */
/* Elements per block (1 for plain types) and bytes per block; 0 for an
 * unknown type. */
int qw_gguf_type_block(uint32_t type);
size_t qw_gguf_type_size(uint32_t type);
/* Bytes of a row of n elements: 0 when the type is unknown or n is not a
 * whole number of blocks. */
size_t qw_gguf_row_size(uint32_t type, int64_t n);

#endif
