#include "format/gguf.h"
#include "base/err.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- ggml types ---- */

static const struct {
    uint32_t type;
    const char *name;
    int block;      /* elements per block */
    size_t size;    /* bytes per block */
} ggml_types[] = {
    {QW_GGML_F32, "f32", 1, 4},           {QW_GGML_F16, "f16", 1, 2},
    {QW_GGML_Q4_0, "q4_0", 32, 18},       {QW_GGML_Q4_1, "q4_1", 32, 20},
    {QW_GGML_Q5_0, "q5_0", 32, 22},       {QW_GGML_Q5_1, "q5_1", 32, 24},
    {QW_GGML_Q8_0, "q8_0", 32, 34},       {QW_GGML_Q8_1, "q8_1", 32, 36},
    {QW_GGML_Q2_K, "q2_k", 256, 84},      {QW_GGML_Q3_K, "q3_k", 256, 110},
    {QW_GGML_Q4_K, "q4_k", 256, 144},     {QW_GGML_Q5_K, "q5_k", 256, 176},
    {QW_GGML_Q6_K, "q6_k", 256, 210},     {QW_GGML_Q8_K, "q8_k", 256, 292},
    {QW_GGML_IQ2_XXS, "iq2_xxs", 256, 66}, {QW_GGML_IQ2_XS, "iq2_xs", 256, 74},
    {QW_GGML_IQ3_XXS, "iq3_xxs", 256, 98}, {QW_GGML_IQ1_S, "iq1_s", 256, 50},
    {QW_GGML_IQ4_NL, "iq4_nl", 32, 18},   {QW_GGML_IQ3_S, "iq3_s", 256, 110},
    {QW_GGML_IQ2_S, "iq2_s", 256, 82},    {QW_GGML_IQ4_XS, "iq4_xs", 256, 136},
    {QW_GGML_I8, "i8", 1, 1},             {QW_GGML_I16, "i16", 1, 2},
    {QW_GGML_I32, "i32", 1, 4},           {QW_GGML_I64, "i64", 1, 8},
    {QW_GGML_F64, "f64", 1, 8},           {QW_GGML_IQ1_M, "iq1_m", 256, 56},
    {QW_GGML_BF16, "bf16", 1, 2},         {QW_GGML_TQ1_0, "tq1_0", 256, 54},
    {QW_GGML_TQ2_0, "tq2_0", 256, 66},    {QW_GGML_MXFP4, "mxfp4", 32, 17},
};
#define N_GGML_TYPES (sizeof ggml_types / sizeof ggml_types[0])

static int type_index(uint32_t type) {
    for (size_t i = 0; i < N_GGML_TYPES; i++)
        if (ggml_types[i].type == type) return (int)i;
    return -1;
}

const char *qw_gguf_type_name(uint32_t type) {
    int i = type_index(type);
    return i < 0 ? "unknown" : ggml_types[i].name;
}

int qw_gguf_type_block(uint32_t type) {
    int i = type_index(type);
    return i < 0 ? 0 : ggml_types[i].block;
}

size_t qw_gguf_type_size(uint32_t type) {
    int i = type_index(type);
    return i < 0 ? 0 : ggml_types[i].size;
}

size_t qw_gguf_row_size(uint32_t type, int64_t n) {
    int i = type_index(type);
    if (i < 0 || n < 0 || n % ggml_types[i].block) return 0;
    uint64_t blocks = (uint64_t)n / (uint64_t)ggml_types[i].block;
    if (blocks > SIZE_MAX / ggml_types[i].size) return 0;
    return (size_t)blocks * ggml_types[i].size;
}

/* ---- metadata value types ---- */

static const char *const vtype_names[QW_GGUF_NVTYPES] = {
    "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
    "bool", "string", "array", "uint64", "int64", "float64",
};

const char *qw_gguf_vtype_name(uint32_t vtype) {
    return vtype < QW_GGUF_NVTYPES ? vtype_names[vtype] : "unknown";
}

/* Bytes of a fixed-size value; 0 for string, array and unknown types. */
static size_t vtype_size(uint32_t t) {
    static const unsigned char sizes[QW_GGUF_NVTYPES] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return t < QW_GGUF_NVTYPES ? sizes[t] : 0;
}

/* The fewest bytes one value of type t can take in a file: what bounds an
 * element count before anything is allocated for it. */
static size_t vtype_min_size(uint32_t t) {
    if (t == QW_GGUF_STRING) return 8;        /* the length */
    if (t == QW_GGUF_ARRAY) return 4 + 8;     /* element type and count */
    return vtype_size(t);
}

static uint64_t rd_le(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* Two's complement of the low `bits` bits, without implementation-defined casts. */
static int64_t sign_extend(uint64_t v, int bits) {
    if (bits == 64) return v >> 63 ? -(int64_t)(~v) - 1 : (int64_t)v;
    uint64_t sign = 1ull << (bits - 1);
    return (int64_t)(v & (sign - 1)) - (int64_t)(v & sign);
}

/* One integer value of type t at p (bool is not an integer). */
static bool int_at(uint32_t t, const unsigned char *p, int64_t *out) {
    switch (t) {
    case QW_GGUF_UINT8: case QW_GGUF_UINT16: case QW_GGUF_UINT32:
        *out = (int64_t)rd_le(p, (int)vtype_size(t));
        return true;
    case QW_GGUF_INT8: case QW_GGUF_INT16: case QW_GGUF_INT32: case QW_GGUF_INT64:
        *out = sign_extend(rd_le(p, (int)vtype_size(t)), 8 * (int)vtype_size(t));
        return true;
    case QW_GGUF_UINT64: {
        uint64_t v = rd_le(p, 8);
        if (v > INT64_MAX) return false;
        *out = (int64_t)v;
        return true;
    }
    default:
        return false;
    }
}

static bool float_at(uint32_t t, const unsigned char *p, double *out) {
    int64_t i;
    if (t == QW_GGUF_FLOAT32) {
        uint32_t u = (uint32_t)rd_le(p, 4);
        float f;
        memcpy(&f, &u, 4);
        *out = f;
    } else if (t == QW_GGUF_FLOAT64) {
        uint64_t u = rd_le(p, 8);
        memcpy(out, &u, 8);
    } else if (int_at(t, p, &i)) {
        *out = (double)i;
    } else {
        return false;
    }
    return true;
}

/* ---- the bounds-checked reader ---- */

typedef struct {
    const unsigned char *base;
    size_t size, pos;
    const char *path;
    char *err;
    size_t errlen;
} reader;

/* A span of the file holding a name, before the names are copied. */
typedef struct {
    size_t off, len;
} span;

/* Up to 64 bytes of a name from the file, non-printable bytes as '?', so an
 * error message stays one readable line whatever the file holds. */
static const char *printable(const unsigned char *s, size_t n, char buf[72]) {
    size_t k = n < 64 ? n : 64;
    for (size_t i = 0; i < k; i++) buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? (char)s[i] : '?';
    strcpy(buf + k, n > 64 ? "..." : "");
    return buf;
}

/* "path: message" as QWENC_EFORMAT. */
__attribute__((format(printf, 2, 3))) static int fail(reader *r, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return qw_errf(r->err, r->errlen, QWENC_EFORMAT, "%s: %s", r->path, msg);
}

static int need(reader *r, uint64_t n, const char *what) {
    if (n <= r->size - r->pos) return 0;
    return fail(r, "truncated: %s at offset %zu needs %" PRIu64 " bytes, %zu are left", what, r->pos,
                n, r->size - r->pos);
}

static int rd_u32(reader *r, uint32_t *v, const char *what) {
    int rc = need(r, 4, what);
    if (rc) return rc;
    *v = (uint32_t)rd_le(r->base + r->pos, 4);
    r->pos += 4;
    return 0;
}

static int rd_u64(reader *r, uint64_t *v, const char *what) {
    int rc = need(r, 8, what);
    if (rc) return rc;
    *v = rd_le(r->base + r->pos, 8);
    r->pos += 8;
    return 0;
}

/* A gguf string: uint64 length, then the bytes (no NUL). */
static int rd_str(reader *r, span *s, const char *what) {
    uint64_t len;
    int rc = rd_u64(r, &len, what);
    if (!rc) rc = need(r, len, what);
    if (rc) return rc;
    s->off = r->pos;
    s->len = (size_t)len;
    r->pos += (size_t)len;
    return 0;
}

/* A key or tensor name: not empty, no NUL (it becomes a C string). */
static int rd_name(reader *r, span *s, const char *what) {
    int rc = rd_str(r, s, what);
    if (rc) return rc;
    if (s->len == 0) return fail(r, "%s is empty", what);
    if (memchr(r->base + s->off, 0, s->len)) return fail(r, "%s contains a NUL byte", what);
    return 0;
}

/* ---- metadata ---- */

static int skip_value(reader *r, uint32_t type, int depth, const char *what);

/* An array after its header: count elements of type et, bounded by the bytes
 * left. offs (if not NULL) receives each string element's offset from start. */
static int skip_elements(reader *r, uint32_t et, uint64_t count, int depth, size_t start,
                         uint64_t *offs, const char *what) {
    size_t fixed = vtype_size(et);
    if (fixed) {
        int rc = need(r, count * fixed, what);  /* count <= left / fixed: no overflow */
        if (!rc) r->pos += (size_t)(count * fixed);
        return rc;
    }
    for (uint64_t i = 0; i < count; i++) {
        if (offs) offs[i] = r->pos - start;
        int rc = skip_value(r, et, depth + 1, what);
        if (rc) return rc;
    }
    return 0;
}

/* An array's element type and count, checked against the file before use. */
static int rd_array_head(reader *r, int depth, uint32_t *et, uint64_t *count, const char *what) {
    int rc = rd_u32(r, et, what);
    if (!rc) rc = rd_u64(r, count, what);
    if (rc) return rc;
    if (*et >= QW_GGUF_NVTYPES) return fail(r, "%s: unknown array element type %" PRIu32, what, *et);
    if (*et == QW_GGUF_ARRAY && depth + 1 >= QW_GGUF_MAX_ARRAY_DEPTH)
        return fail(r, "%s: arrays nested more than %d deep", what, QW_GGUF_MAX_ARRAY_DEPTH);
    if (*count > (r->size - r->pos) / vtype_min_size(*et))
        return fail(r, "%s: array of %" PRIu64 " %s elements is larger than the %zu bytes left", what,
                    *count, qw_gguf_vtype_name(*et), r->size - r->pos);
    return 0;
}

static int skip_value(reader *r, uint32_t type, int depth, const char *what) {
    span s;
    uint32_t et;
    uint64_t count;
    int rc;
    switch (type) {
    case QW_GGUF_STRING:
        return rd_str(r, &s, what);
    case QW_GGUF_ARRAY:
        rc = rd_array_head(r, depth, &et, &count, what);
        return rc ? rc : skip_elements(r, et, count, depth, r->pos, NULL, what);
    default:
        if ((rc = need(r, vtype_size(type), what))) return rc;
        r->pos += vtype_size(type);
        return 0;
    }
}

/* The value of a top-level pair; string arrays get an offset table. */
static int parse_value(reader *r, qw_gguf_kv *kv, const char *what) {
    span s;
    int rc;
    kv->val = r->base + r->pos;
    kv->count = 1;
    if (kv->type == QW_GGUF_STRING) {
        if ((rc = rd_str(r, &s, what))) return rc;
        kv->val = r->base + s.off;
        kv->count = s.len;
        return 0;
    }
    if (kv->type != QW_GGUF_ARRAY) return skip_value(r, kv->type, 0, what);
    if ((rc = rd_array_head(r, 0, &kv->arr_type, &kv->count, what))) return rc;
    kv->val = r->base + r->pos;
    if (kv->arr_type == QW_GGUF_STRING) {
        /* count <= bytes left / 8, so this is at most the size of the file */
        kv->str_off = malloc((size_t)(kv->count ? kv->count : 1) * sizeof *kv->str_off);
        if (!kv->str_off) return qw_errf(r->err, r->errlen, QWENC_ENOMEM, "out of memory");
    }
    return skip_elements(r, kv->arr_type, kv->count, 0, r->pos, kv->str_off, what);
}

static int parse_kv(reader *r, size_t i, qw_gguf_kv *kv, span *key) {
    char what[160], buf[72];
    snprintf(what, sizeof what, "the key of metadata entry %zu", i);
    int rc = rd_name(r, key, what);
    if (rc) return rc;
    snprintf(what, sizeof what, "metadata '%s'", printable(r->base + key->off, key->len, buf));
    if ((rc = rd_u32(r, &kv->type, what))) return rc;
    if (kv->type >= QW_GGUF_NVTYPES) return fail(r, "%s has unknown value type %" PRIu32, what, kv->type);
    return parse_value(r, kv, what);
}

/* ---- tensor infos ---- */

/* Shape, element count and byte size of a tensor of a known or unknown type. */
static int check_shape(reader *r, qw_gguf_tensor *t, const uint64_t *dims, const char *what) {
    uint64_t n = 1;
    for (int d = 0; d < QW_GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    for (int d = 0; d < t->n_dims; d++) {
        if (dims[d] > INT64_MAX || (dims[d] && n > INT64_MAX / dims[d]))
            return fail(r, "%s: the number of elements overflows 64 bits", what);
        n *= dims[d];
        t->ne[d] = (int64_t)dims[d];
    }
    int blk = qw_gguf_type_block(t->type);
    if (!blk) return 0;   /* unknown type: reported when used */
    if (t->ne[0] % blk)
        return fail(r, "%s: ne0 = %" PRId64 " is not a whole number of %s blocks of %d", what, t->ne[0],
                    qw_gguf_type_name(t->type), blk);
    uint64_t blocks = n / (uint64_t)blk, bsize = qw_gguf_type_size(t->type);
    if (blocks > SIZE_MAX / bsize) return fail(r, "%s: the byte size overflows", what);
    t->nbytes = (size_t)(blocks * bsize);
    return 0;
}

static int parse_tensor(reader *r, size_t i, qw_gguf_tensor *t, span *name) {
    char what[160], buf[72];
    uint64_t dims[QW_GGUF_MAX_DIMS];
    uint32_t n_dims;
    snprintf(what, sizeof what, "the name of tensor %zu", i);
    int rc = rd_name(r, name, what);
    if (rc) return rc;
    snprintf(what, sizeof what, "tensor '%s'", printable(r->base + name->off, name->len, buf));
    if ((rc = rd_u32(r, &n_dims, what))) return rc;
    if (n_dims == 0 || n_dims > QW_GGUF_MAX_DIMS)
        return fail(r, "%s has %" PRIu32 " dimensions (1 to %d allowed)", what, n_dims, QW_GGUF_MAX_DIMS);
    t->n_dims = (int)n_dims;
    for (uint32_t d = 0; d < n_dims; d++)
        if ((rc = rd_u64(r, &dims[d], what))) return rc;
    if ((rc = rd_u32(r, &t->type, what)) || (rc = rd_u64(r, &t->offset, what))) return rc;
    return check_shape(r, t, dims, what);
}

/* ---- indexing ---- */

static int cmp_kv(const void *a, const void *b) {
    return strcmp(((const qw_gguf_kv *)a)->key, ((const qw_gguf_kv *)b)->key);
}

static int cmp_tensor(const void *a, const void *b) {
    return strcmp(((const qw_gguf_tensor *)a)->name, ((const qw_gguf_tensor *)b)->name);
}

/* Copies the keys and tensor names into one block of C strings. */
static int copy_names(qw_gguf *g, const span *keys, const span *names, char *err, size_t errlen) {
    size_t total = 1;
    for (size_t i = 0; i < g->n_kv; i++) total += keys[i].len + 1;
    for (size_t i = 0; i < g->n_tensors; i++) total += names[i].len + 1;
    if (!(g->names = malloc(total))) return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    char *p = g->names;
    for (size_t i = 0; i < g->n_kv + g->n_tensors; i++) {
        const span *s = i < g->n_kv ? &keys[i] : &names[i - g->n_kv];
        memcpy(p, g->file.data + s->off, s->len);
        p[s->len] = 0;
        if (i < g->n_kv) g->kv[i].key = p;
        else g->tensors[i - g->n_kv].name = p;
        p += s->len + 1;
    }
    return 0;
}

/* Sorts for binary search and rejects a key or tensor name present twice. */
static int index_names(qw_gguf *g, char *err, size_t errlen) {
    char buf[72];
    qsort(g->kv, g->n_kv, sizeof *g->kv, cmp_kv);
    qsort(g->tensors, g->n_tensors, sizeof *g->tensors, cmp_tensor);
    for (size_t i = 1; i < g->n_kv; i++)
        if (!strcmp(g->kv[i - 1].key, g->kv[i].key))
            return qw_errf(err, errlen, QWENC_EFORMAT, "%s: duplicate metadata key '%s'", g->path,
                           printable((const unsigned char *)g->kv[i].key, strlen(g->kv[i].key), buf));
    for (size_t i = 1; i < g->n_tensors; i++)
        if (!strcmp(g->tensors[i - 1].name, g->tensors[i].name))
            return qw_errf(err, errlen, QWENC_EFORMAT, "%s: duplicate tensor name '%s'", g->path,
                           printable((const unsigned char *)g->tensors[i].name,
                                     strlen(g->tensors[i].name), buf));
    return 0;
}

/* general.alignment: optional, a power of two that fits uint32. */
static int read_alignment(qw_gguf *g, char *err, size_t errlen) {
    const qw_gguf_kv *kv = qw_gguf_find(g, "general.alignment");
    int64_t a = QW_GGUF_DEFAULT_ALIGNMENT;
    if (kv && !qw_gguf_kv_i64(kv, &a))
        return qw_errf(err, errlen, QWENC_EFORMAT, "%s: general.alignment is a %s, not an integer",
                       g->path, qw_gguf_vtype_name(kv->type));
    if (a <= 0 || a > UINT32_MAX || (a & (a - 1)))
        return qw_errf(err, errlen, QWENC_EFORMAT,
                       "%s: general.alignment %" PRId64 " is not a power of two", g->path, a);
    g->alignment = (uint32_t)a;
    return 0;
}

static const char *tname(const qw_gguf_tensor *t, char buf[72]) {
    return printable((const unsigned char *)t->name, strlen(t->name), buf);
}

static int cmp_offset(const void *a, const void *b) {
    const qw_gguf_tensor *x = *(const qw_gguf_tensor *const *)a, *y = *(const qw_gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* No two tensors may share bytes (a hostile file could alias a weight). */
static int check_overlap(qw_gguf *g, char *err, size_t errlen) {
    const qw_gguf_tensor **by_off = malloc((g->n_tensors ? g->n_tensors : 1) * sizeof *by_off);
    if (!by_off) return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < g->n_tensors; i++)
        if (g->tensors[i].nbytes) by_off[n++] = &g->tensors[i];
    qsort(by_off, n, sizeof *by_off, cmp_offset);
    int rc = 0;
    for (size_t i = 1; i < n && !rc; i++)
        if (by_off[i]->offset < by_off[i - 1]->offset + by_off[i - 1]->nbytes) {
            char b1[72], b2[72];
            rc = qw_errf(err, errlen, QWENC_EFORMAT, "%s: tensors '%s' and '%s' overlap", g->path,
                         tname(by_off[i - 1], b1), tname(by_off[i], b2));
        }
    free(by_off);
    return rc;
}

/* Places every tensor in the data section: aligned and inside the file. */
static int place_tensors(qw_gguf *g, size_t header_end, char *err, size_t errlen) {
    char buf[72];
    size_t pad = (g->alignment - header_end % g->alignment) % g->alignment;
    if (g->n_tensors && pad > g->file.size - header_end)
        return qw_errf(err, errlen, QWENC_EFORMAT,
                       "%s: truncated: the tensor data would start at offset %zu, the file has %zu bytes",
                       g->path, header_end + pad, g->file.size);
    g->data_offset = header_end + pad;
    size_t data_size = g->file.size > g->data_offset ? g->file.size - g->data_offset : 0;
    for (size_t i = 0; i < g->n_tensors; i++) {
        qw_gguf_tensor *t = &g->tensors[i];
        if (t->offset % g->alignment)
            return qw_errf(err, errlen, QWENC_EFORMAT,
                           "%s: tensor '%s': offset %" PRIu64 " is not a multiple of the alignment %" PRIu32,
                           g->path, tname(t, buf), t->offset, g->alignment);
        if (t->offset > data_size || t->nbytes > data_size - t->offset)
            return qw_errf(err, errlen, QWENC_EFORMAT,
                           "%s: tensor '%s': data at %" PRIu64 "+%zu runs past the end of the file "
                           "(%zu bytes of tensor data)",
                           g->path, tname(t, buf), t->offset, t->nbytes, data_size);
        if (qw_gguf_type_block(t->type)) t->data = g->file.data + g->data_offset + t->offset;
    }
    return check_overlap(g, err, errlen);
}

/* ---- open ---- */

static int parse_header(reader *r, qw_gguf *g, uint64_t *n_kv, uint64_t *n_tensors) {
    if (r->size < 4 || memcmp(r->base, "GGUF", 4)) return fail(r, "not a GGUF file (bad magic)");
    r->pos = 4;
    int rc = rd_u32(r, &g->version, "the version");
    if (rc) return rc;
    if (g->version != 2 && g->version != 3) {
        /* a big-endian file reads as version 0x02000000 or 0x03000000 */
        const char *why = (g->version & 0xffff) == 0 ? " (a big-endian file?)" : "";
        return fail(r, "unsupported GGUF version %" PRIu32 "%s, only 2 and 3 are", g->version, why);
    }
    if ((rc = rd_u64(r, n_tensors, "the tensor count")) || (rc = rd_u64(r, n_kv, "the metadata count")))
        return rc;
    /* Each entry takes some bytes at least: a count needing more than the file
     * holds is rejected before anything is allocated for it. */
    size_t left = r->size - r->pos;
    if (*n_kv > left / (8 + 1 + 4 + 1) || *n_tensors > left / (8 + 1 + 4 + 8 + 4 + 8))
        return fail(r, "%" PRIu64 " metadata entries and %" PRIu64 " tensors cannot fit in the %zu bytes left",
                    *n_kv, *n_tensors, left);
    return 0;
}

static int parse_all(reader *r, qw_gguf *g, span **keys, span **names) {
    uint64_t n_kv = 0, n_tensors = 0;
    int rc = parse_header(r, g, &n_kv, &n_tensors);
    if (rc) return rc;
    g->kv = calloc(n_kv ? n_kv : 1, sizeof *g->kv);
    g->tensors = calloc(n_tensors ? n_tensors : 1, sizeof *g->tensors);
    *keys = calloc(n_kv ? n_kv : 1, sizeof **keys);
    *names = calloc(n_tensors ? n_tensors : 1, sizeof **names);
    if (!g->kv || !g->tensors || !*keys || !*names)
        return qw_errf(r->err, r->errlen, QWENC_ENOMEM, "out of memory");
    for (; g->n_kv < n_kv; g->n_kv++)
        if ((rc = parse_kv(r, g->n_kv, &g->kv[g->n_kv], &(*keys)[g->n_kv]))) {
            g->n_kv++;  /* so close frees its offset table */
            return rc;
        }
    for (; g->n_tensors < n_tensors; g->n_tensors++)
        if ((rc = parse_tensor(r, g->n_tensors, &g->tensors[g->n_tensors], &(*names)[g->n_tensors])))
            return rc;
    return 0;
}

/* Validates the bytes in g->file (mapped or borrowed) as a GGUF file. */
static int open_bytes(const char *path, qw_gguf *g, char *err, size_t errlen) {
    if (!(g->path = strdup(path))) {
        qw_gguf_close(g);
        return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    }
    reader r = {g->file.data, g->file.size, 0, g->path, err, errlen};
    span *keys = NULL, *names = NULL;
    int rc = parse_all(&r, g, &keys, &names);
    if (!rc) rc = copy_names(g, keys, names, err, errlen);
    free(keys);
    free(names);
    if (!rc) rc = index_names(g, err, errlen);
    if (!rc) rc = read_alignment(g, err, errlen);
    if (!rc) rc = place_tensors(g, r.pos, err, errlen);
    if (rc) qw_gguf_close(g);
    return rc;
}

int qw_gguf_open(const char *path, qw_gguf *g, char *err, size_t errlen) {
    memset(g, 0, sizeof *g);
    int rc = qw_file_map(path, &g->file, err, errlen);
    return rc ? rc : open_bytes(path, g, err, errlen);
}

int qw_gguf_open_buffer(const char *name, const void *data, size_t size, qw_gguf *g, char *err, size_t errlen) {
    memset(g, 0, sizeof *g);
    g->file = (qw_mapped_file){.data = data, .size = size, .borrowed = 1};
    return open_bytes(name, g, err, errlen);
}

void qw_gguf_close(qw_gguf *g) {
    for (size_t i = 0; g->kv && i < g->n_kv; i++) free(g->kv[i].str_off);
    free(g->kv);
    free(g->tensors);
    free(g->names);
    free(g->path);
    qw_file_unmap(&g->file);
    memset(g, 0, sizeof *g);
}

/* ---- lookups ---- */

const qw_gguf_kv *qw_gguf_find(const qw_gguf *g, const char *key) {
    qw_gguf_kv k = {.key = key};
    return g->n_kv ? bsearch(&k, g->kv, g->n_kv, sizeof k, cmp_kv) : NULL;
}

const qw_gguf_tensor *qw_gguf_tensor_find(const qw_gguf *g, const char *name) {
    qw_gguf_tensor k = {.name = name};
    return g->n_tensors ? bsearch(&k, g->tensors, g->n_tensors, sizeof k, cmp_tensor) : NULL;
}

int qw_gguf_tensor_get(const qw_gguf *g, const char *name, const qw_gguf_tensor **t, char *err,
                       size_t errlen) {
    *t = qw_gguf_tensor_find(g, name);
    if (!*t) return qw_errf(err, errlen, QWENC_EFORMAT, "%s: no tensor '%s'", g->path, name);
    if (!qw_gguf_type_block((*t)->type))
        return qw_errf(err, errlen, QWENC_EUNSUPPORTED,
                       "%s: tensor '%s' has ggml type %" PRIu32 ", which this reader does not know",
                       g->path, name, (*t)->type);
    return 0;
}

int64_t qw_gguf_tensor_nelements(const qw_gguf_tensor *t) {
    int64_t n = 1;
    for (int d = 0; d < t->n_dims; d++) n *= t->ne[d];   /* checked at open */
    return n;
}

bool qw_gguf_kv_i64(const qw_gguf_kv *kv, int64_t *out) {
    return kv && int_at(kv->type, kv->val, out);
}

bool qw_gguf_kv_f64(const qw_gguf_kv *kv, double *out) {
    return kv && float_at(kv->type, kv->val, out);
}

bool qw_gguf_kv_bool(const qw_gguf_kv *kv, bool *out) {
    if (!kv || kv->type != QW_GGUF_BOOL) return false;
    *out = kv->val[0] != 0;
    return true;
}

bool qw_gguf_kv_str(const qw_gguf_kv *kv, const char **s, size_t *len) {
    if (!kv || kv->type != QW_GGUF_STRING) return false;
    *s = (const char *)kv->val;
    *len = (size_t)kv->count;
    return true;
}

const char *qw_gguf_arr_str(const qw_gguf_kv *kv, uint64_t i, size_t *len) {
    if (!kv || kv->type != QW_GGUF_ARRAY || kv->arr_type != QW_GGUF_STRING || i >= kv->count)
        return NULL;
    const unsigned char *p = kv->val + kv->str_off[i];
    *len = (size_t)rd_le(p, 8);
    return (const char *)p + 8;
}

bool qw_gguf_arr_i64(const qw_gguf_kv *kv, uint64_t i, int64_t *out) {
    if (!kv || kv->type != QW_GGUF_ARRAY || !vtype_size(kv->arr_type) || i >= kv->count) return false;
    return int_at(kv->arr_type, kv->val + i * vtype_size(kv->arr_type), out);
}

bool qw_gguf_arr_f64(const qw_gguf_kv *kv, uint64_t i, double *out) {
    if (!kv || kv->type != QW_GGUF_ARRAY || !vtype_size(kv->arr_type) || i >= kv->count) return false;
    return float_at(kv->arr_type, kv->val + i * vtype_size(kv->arr_type), out);
}

/* ---- required keys ---- */

static const qw_gguf_kv *need_key(const qw_gguf *g, const char *key, char *err, size_t errlen) {
    const qw_gguf_kv *kv = qw_gguf_find(g, key);
    if (!kv) qw_errf(err, errlen, QWENC_EFORMAT, "%s: metadata '%s' is missing", g->path, key);
    return kv;
}

static int wrong_type(const qw_gguf *g, const qw_gguf_kv *kv, const char *want, char *err, size_t errlen) {
    return qw_errf(err, errlen, QWENC_EFORMAT, "%s: metadata '%s' is a %s, expected %s", g->path,
                   kv->key, qw_gguf_vtype_name(kv->type), want);
}

int qw_gguf_get_i64(const qw_gguf *g, const char *key, int64_t *out, char *err, size_t errlen) {
    const qw_gguf_kv *kv = need_key(g, key, err, errlen);
    if (!kv) return QWENC_EFORMAT;
    if (!qw_gguf_kv_i64(kv, out)) return wrong_type(g, kv, "an integer (up to 2^63-1)", err, errlen);
    return 0;
}

int qw_gguf_get_u32(const qw_gguf *g, const char *key, uint32_t *out, char *err, size_t errlen) {
    int64_t v;
    int rc = qw_gguf_get_i64(g, key, &v, err, errlen);
    if (rc) return rc;
    if (v < 0 || v > UINT32_MAX)
        return qw_errf(err, errlen, QWENC_EFORMAT, "%s: metadata '%s' = %" PRId64 " is out of range",
                       g->path, key, v);
    *out = (uint32_t)v;
    return 0;
}

int qw_gguf_get_f32(const qw_gguf *g, const char *key, float *out, char *err, size_t errlen) {
    const qw_gguf_kv *kv = need_key(g, key, err, errlen);
    double d;
    if (!kv) return QWENC_EFORMAT;
    if (!qw_gguf_kv_f64(kv, &d)) return wrong_type(g, kv, "a number", err, errlen);
    *out = (float)d;
    return 0;
}

int qw_gguf_get_bool(const qw_gguf *g, const char *key, bool *out, char *err, size_t errlen) {
    const qw_gguf_kv *kv = need_key(g, key, err, errlen);
    if (!kv) return QWENC_EFORMAT;
    if (!qw_gguf_kv_bool(kv, out)) return wrong_type(g, kv, "a bool", err, errlen);
    return 0;
}

int qw_gguf_get_str(const qw_gguf *g, const char *key, const char **s, size_t *len, char *err,
                    size_t errlen) {
    const qw_gguf_kv *kv = need_key(g, key, err, errlen);
    if (!kv) return QWENC_EFORMAT;
    if (!qw_gguf_kv_str(kv, s, len)) return wrong_type(g, kv, "a string", err, errlen);
    return 0;
}

int qw_gguf_get_arr(const qw_gguf *g, const char *key, int elem, const qw_gguf_kv **kv, char *err,
                    size_t errlen) {
    *kv = need_key(g, key, err, errlen);
    if (!*kv) return QWENC_EFORMAT;
    if ((*kv)->type != QW_GGUF_ARRAY) return wrong_type(g, *kv, "an array", err, errlen);
    uint32_t et = (*kv)->arr_type;
    bool is_int = et != QW_GGUF_FLOAT32 && et != QW_GGUF_BOOL && (et <= QW_GGUF_INT32 || et == QW_GGUF_UINT64 ||
                                                             et == QW_GGUF_INT64);
    if (elem < 0 ? !is_int : et != (uint32_t)elem)
        return qw_errf(err, errlen, QWENC_EFORMAT, "%s: metadata '%s' is an array of %s, expected %s",
                       g->path, key, qw_gguf_vtype_name(et),
                       elem < 0 ? "integers" : qw_gguf_vtype_name((uint32_t)elem));
    return 0;
}
