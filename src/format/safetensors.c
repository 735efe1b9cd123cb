#include "format/safetensors.h"
#include "base/err.h"
#include "base/json.h"
#include "format/gguf.h"

#include <stdlib.h>
#include <string.h>

/* Headers of real checkpoints are a few MB at most (18,000+ tensors for the
 * largest MoE models fit in well under this); the reference implementation
 * refuses more than 100 MB. */
#define ST_MAX_HEADER (100u << 20)

static int add_tensor(qw_checkpoint *ck, qw_st_tensor *t, char *err, size_t errlen) {
    if ((ck->n_tensors & (ck->n_tensors - 1)) == 0) {  /* grow at powers of two */
        size_t cap = ck->n_tensors ? 2 * (size_t)ck->n_tensors : 64;
        qw_st_tensor *nt = realloc(ck->tensors, cap * sizeof *nt);
        if (!nt) return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
        ck->tensors = nt;
    }
    ck->tensors[ck->n_tensors++] = *t;
    return 0;
}

/* Parses {"dtype": "BF16", "shape": [...], "data_offsets": [b, e]} of one tensor. */
static int parse_entry(const char *path, const char *name, json_t *v, uint64_t data_size,
                       qw_st_tensor *t, uint64_t *begin, char *err, size_t errlen) {
    json_t *jd = json_object_get(v, "dtype"), *js = json_object_get(v, "shape"),
           *jo = json_object_get(v, "data_offsets");
    if (!json_is_object(v) || !json_is_string(jd) || !json_is_array(js) || !json_is_array(jo) ||
        json_array_size(jo) != 2)
        return qw_errf(err, errlen, QWENC_EFORMAT,
                       "%s: tensor '%s': header entry needs dtype, shape and data_offsets", path, name);
    t->dtype = qw_dtype_from_safetensors(json_string_value(jd));
    if (t->dtype == QW_DT_UNKNOWN)
        return qw_errf(err, errlen, QWENC_EFORMAT, "%s: tensor '%s': unknown dtype '%s'", path, name,
                       json_string_value(jd));
    size_t rank = json_array_size(js);
    if (rank > QW_MAX_RANK)
        return qw_errf(err, errlen, QWENC_EFORMAT, "%s: tensor '%s': rank %zu is more than %d", path,
                       name, rank, QW_MAX_RANK);
    t->rank = (int)rank;
    uint64_t count = 1;
    for (size_t i = 0; i < rank; i++) {
        json_t *d = json_array_get(js, i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return qw_errf(err, errlen, QWENC_EFORMAT, "%s: tensor '%s': bad shape", path, name);
        uint64_t dim = (uint64_t)json_integer_value(d);
        t->shape[i] = (int64_t)dim;
        if (dim && count > UINT64_MAX / dim)
            return qw_errf(err, errlen, QWENC_EFORMAT, "%s: tensor '%s': the element count overflows 64 bits", path,
                           name);
        count *= dim;
    }
    json_t *jb = json_array_get(jo, 0), *je = json_array_get(jo, 1);
    if (!json_is_integer(jb) || !json_is_integer(je) || json_integer_value(jb) < 0 ||
        json_integer_value(je) < json_integer_value(jb))
        return qw_errf(err, errlen, QWENC_EFORMAT, "%s: tensor '%s': bad data_offsets", path, name);
    uint64_t b = (uint64_t)json_integer_value(jb), e = (uint64_t)json_integer_value(je);
    size_t esize = qw_dtype_size(t->dtype);
    if (count > UINT64_MAX / esize)
        return qw_errf(err, errlen, QWENC_EFORMAT, "%s: tensor '%s': %llu elements of %zu bytes overflow 64 bits",
                       path, name, (unsigned long long)count, esize);
    if (count * esize != e - b)
        return qw_errf(err, errlen, QWENC_EFORMAT,
                       "%s: tensor '%s': data_offsets [%llu, %llu] do not match shape and dtype", path,
                       name, (unsigned long long)b, (unsigned long long)e);
    if (e > data_size)
        return qw_errf(err, errlen, QWENC_EFORMAT,
                       "%s: tensor '%s': data ends at %llu, past the end of the file (%llu data bytes)",
                       path, name, (unsigned long long)e, (unsigned long long)data_size);
    t->nbytes = (size_t)(e - b);
    *begin = b;
    return 0;
}

static int cmp_offset(const void *a, const void *b) {
    const qw_st_tensor *x = a, *y = b;
    const char *px = x->data, *py = y->data;
    return px < py ? -1 : px > py;
}

/* As the format requires, the tensors of a file tile its data exactly: no two
 * share a byte, no byte belongs to none (a gap could hide a second file), and
 * the last one ends at the end of the file. */
static int check_coverage(const char *path, const qw_st_tensor *tensors, int n, const unsigned char *data,
                          uint64_t data_size, char *err, size_t errlen) {
    qw_st_tensor *sorted = malloc((size_t)(n ? n : 1) * sizeof *sorted);
    if (!sorted) return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    if (n) memcpy(sorted, tensors, (size_t)n * sizeof *sorted);
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_offset);
    int rc = 0;
    uint64_t end = 0;  /* where the bytes covered so far end */
    for (int i = 0; i < n && !rc; i++) {
        uint64_t b = (uint64_t)((const unsigned char *)sorted[i].data - data);
        if (b < end)
            rc = qw_errf(err, errlen, QWENC_EFORMAT, "%s: tensors '%s' and '%s' overlap", path, sorted[i - 1].name,
                         sorted[i].name);
        else if (b > end)
            rc = qw_errf(err, errlen, QWENC_EFORMAT,
                         "%s: data bytes [%llu, %llu) before tensor '%s' belong to no tensor (safetensors allows "
                         "no gaps)", path, (unsigned long long)end, (unsigned long long)b, sorted[i].name);
        end = b + sorted[i].nbytes;
    }
    if (!rc && end != data_size)
        rc = qw_errf(err, errlen, QWENC_EFORMAT,
                     "%s: %llu data bytes after the last tensor belong to no tensor (safetensors allows no gaps)",
                     path, (unsigned long long)(data_size - end));
    free(sorted);
    return rc;
}

int qw_safetensors_parse(qw_checkpoint *ck, int file_index, const char *path, char *err,
                         size_t errlen) {
    const qw_mapped_file *f = &ck->files[file_index];
    if (f->size < 8)
        return qw_errf(err, errlen, QWENC_EFORMAT, "%s: truncated: %zu bytes, no header", path, f->size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | f->data[i];
    if (hlen > f->size - 8)
        return qw_errf(err, errlen, QWENC_EFORMAT,
                       "%s: header length %llu is larger than the file (%zu bytes)", path,
                       (unsigned long long)hlen, f->size);
    if (hlen > ST_MAX_HEADER)
        return qw_errf(err, errlen, QWENC_EFORMAT, "%s: header length %llu is more than the %u MiB allowed", path,
                       (unsigned long long)hlen, ST_MAX_HEADER >> 20);
    /* The format requires the JSON to start at once with '{' (so a file
     * cannot also be read as something else). */
    if (hlen < 2 || f->data[8] != '{')
        return qw_errf(err, errlen, QWENC_EFORMAT, "%s: header (%llu bytes) does not start with '{'", path,
                       (unsigned long long)hlen);
    json_error_t je;
    json_t *root = json_loadb((const char *)f->data + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return qw_errf(err, errlen, QWENC_EFORMAT, "%s: invalid JSON header: %s", path, je.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return qw_errf(err, errlen, QWENC_EFORMAT, "%s: header is not a JSON object", path);
    }
    const unsigned char *data = f->data + 8 + hlen;
    uint64_t data_size = f->size - 8 - hlen;
    int first = ck->n_tensors, rc = 0;
    const char *name;
    json_t *v;
    json_object_foreach(root, name, v) {
        if (!strcmp(name, "__metadata__")) continue;
        qw_st_tensor t = {0};
        uint64_t begin = 0;
        if ((rc = parse_entry(path, name, v, data_size, &t, &begin, err, errlen))) break;
        t.data = data + begin;
        t.file_index = file_index;
        if (!(t.name = strdup(name))) {
            rc = qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
            break;
        }
        if ((rc = add_tensor(ck, &t, err, errlen))) {
            free(t.name);
            break;
        }
    }
    json_decref(root);
    if (rc) return rc;
    int n = ck->n_tensors - first;
    /* (ck->tensors is NULL while no file has had a tensor: no arithmetic on it) */
    return check_coverage(path, n ? ck->tensors + first : NULL, n, data, data_size, err, errlen);
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(((const qw_st_tensor *)a)->name, ((const qw_st_tensor *)b)->name);
}

/* Sorts tensors by name (for binary search; a 235B MoE has 18,000+) and
 * rejects a name present twice, within or across shards. */
static int index_tensors(qw_checkpoint *ck, const char *dir, char *err, size_t errlen) {
    if (ck->n_tensors < 2) return 0;  /* (and ck->tensors may be NULL, which qsort must not get) */
    qsort(ck->tensors, (size_t)ck->n_tensors, sizeof *ck->tensors, cmp_name);
    for (int i = 1; i < ck->n_tensors; i++)
        if (!strcmp(ck->tensors[i - 1].name, ck->tensors[i].name))
            return qw_errf(err, errlen, QWENC_EFORMAT, "%s: tensor '%s' appears in %s and %s", dir,
                           ck->tensors[i].name, ck->file_names[ck->tensors[i - 1].file_index],
                           ck->file_names[ck->tensors[i].file_index]);
    return 0;
}

const qw_st_tensor *qw_checkpoint_find(const qw_checkpoint *ck, const char *name) {
    qw_st_tensor key = {.name = (char *)name};
    if (!ck->n_tensors) return NULL;
    return bsearch(&key, ck->tensors, (size_t)ck->n_tensors, sizeof key, cmp_name);
}

/* Adds a file that is mapped (or borrowed) and parses it; the checkpoint
 * owns f from here on, even on failure. Returns the file's index or <0. */
static int add_file(qw_checkpoint *ck, const char *fname, const char *path, const qw_mapped_file *f, char *err,
                    size_t errlen) {
    qw_mapped_file *nf = realloc(ck->files, (size_t)(ck->n_files + 1) * sizeof *nf);
    if (nf) ck->files = nf;
    char **nn = nf ? realloc(ck->file_names, (size_t)(ck->n_files + 1) * sizeof *nn) : NULL;
    if (nn) ck->file_names = nn;
    if (!nf || !nn) {
        qw_mapped_file lost = *f;
        qw_file_unmap(&lost);
        return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    }
    ck->files[ck->n_files] = *f;
    ck->file_names[ck->n_files] = strdup(fname);
    int idx = ck->n_files++;
    int rc = ck->file_names[idx] ? qw_safetensors_parse(ck, idx, path, err, errlen)
                                 : qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    return rc ? rc : idx;
}

static int open_file(qw_checkpoint *ck, const char *dir, const char *fname, char *err, size_t errlen) {
    if (strchr(fname, '/') || !strcmp(fname, "..") || !*fname)
        return qw_errf(err, errlen, QWENC_EFORMAT, "%s: shard name '%s' is not a plain file name", dir,
                       fname);
    for (int i = 0; i < ck->n_files; i++)
        if (!strcmp(ck->file_names[i], fname)) return i;
    char *path = qw_path_join(dir, fname);
    if (!path) return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    qw_mapped_file f;
    int rc = qw_file_map(path, &f, err, errlen);
    if (!rc) rc = add_file(ck, fname, path, &f, err, errlen);
    free(path);
    return rc;
}

/* model.safetensors.index.json: {"weight_map": {tensor: file}}. Every listed
 * tensor must be in the file the index names. */
static int open_sharded(qw_checkpoint *ck, const char *dir, const char *index_path, char *err,
                        size_t errlen) {
    json_t *root;
    int rc = qw_json_load_file(index_path, &root, err, errlen);
    if (rc) return rc;
    json_t *map = json_object_get(root, "weight_map");
    if (!json_is_object(map) || json_object_size(map) == 0) {
        json_decref(root);
        return qw_errf(err, errlen, QWENC_EFORMAT, "%s: no weight_map object", index_path);
    }
    const char *name;
    json_t *v;
    json_object_foreach(map, name, v) {
        if (!json_is_string(v)) {
            rc = qw_errf(err, errlen, QWENC_EFORMAT, "%s: weight_map['%s'] is not a file name",
                         index_path, name);
            break;
        }
        int idx = open_file(ck, dir, json_string_value(v), err, errlen);
        if (idx < 0) {
            rc = idx;
            break;
        }
    }
    if (!rc) rc = index_tensors(ck, dir, err, errlen);
    json_object_foreach(map, name, v) {
        if (rc) break;
        const qw_st_tensor *t = qw_checkpoint_find(ck, name);
        if (!t || strcmp(ck->file_names[t->file_index], json_string_value(v))) {
            rc = qw_errf(err, errlen, QWENC_EFORMAT, "%s: tensor '%s' is not in %s as the index says",
                         index_path, name, json_string_value(v));
            break;
        }
    }
    json_decref(root);
    return rc;
}

int qw_checkpoint_open(const char *dir, qw_checkpoint *ck, char *err, size_t errlen) {
    memset(ck, 0, sizeof *ck);
    char *index = qw_path_join(dir, "model.safetensors.index.json");
    char *single = qw_path_join(dir, "model.safetensors");
    int rc;
    if (!index || !single) rc = qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    else if (qw_path_present(index)) rc = open_sharded(ck, dir, index, err, errlen);
    else if (qw_path_present(single)) {
        rc = open_file(ck, dir, "model.safetensors", err, errlen);
        if (rc >= 0) rc = index_tensors(ck, dir, err, errlen);
    }
    else
        rc = qw_errf(err, errlen, QWENC_EIO,
                     "%s: no model.safetensors or model.safetensors.index.json", dir);
    free(index);
    free(single);
    if (rc) qw_checkpoint_close(ck);
    return rc;
}

int qw_checkpoint_open_buffer(const char *name, const void *data, size_t size, qw_checkpoint *ck, char *err,
                              size_t errlen) {
    memset(ck, 0, sizeof *ck);
    qw_mapped_file f = {.data = data, .size = size, .borrowed = 1};
    int rc = add_file(ck, name, name, &f, err, errlen);
    if (rc >= 0) rc = index_tensors(ck, name, err, errlen);
    if (rc) qw_checkpoint_close(ck);
    return rc;
}

void qw_checkpoint_prefetch(const qw_checkpoint *ck, void (*progress)(void *, int64_t, int64_t), void *ctx) {
    int64_t total = 0, done = 0;
    for (int i = 0; i < ck->n_files; i++) total += (int64_t)ck->files[i].size;
    const size_t chunk = 16u << 20, page = 4096;
    volatile unsigned char sink = 0;
    for (int i = 0; i < ck->n_files; i++) {
        const qw_mapped_file *f = &ck->files[i];
        for (size_t off = 0; off < f->size; off += chunk) {
            size_t end = off + chunk < f->size ? off + chunk : f->size;
            for (size_t p = off; p < end; p += page) sink ^= f->data[p];
            done += (int64_t)(end - off);
            if (progress) progress(ctx, done, total);
        }
    }
    (void)sink;
}

void qw_checkpoint_drop(const qw_checkpoint *ck, const void *p, size_t n) {
    if (ck->gguf) qw_pages_release(p, n);
}

void qw_checkpoint_close(qw_checkpoint *ck) {
    if (ck->gguf) {  /* the GGUF owns the mapping; file_names[0] names it */
        qw_gguf_close(ck->gguf);
        free(ck->gguf);
        if (ck->file_names) free(ck->file_names[0]);
    }
    for (int i = 0; i < ck->n_tensors; i++) free(ck->tensors[i].name);
    for (int i = 0; i < ck->n_files; i++) {
        qw_file_unmap(&ck->files[i]);
        free(ck->file_names[i]);
    }
    qw_file_unmap(&ck->converted);
    free(ck->tensors);
    free(ck->files);
    free(ck->file_names);
    memset(ck, 0, sizeof *ck);
}
