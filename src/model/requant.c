#include "model/requant.h"
#include "base/err.h"
#include "base/file.h"
#include "format/gguf.h"
#include "format/gguf_model.h"
#include "format/quant.h"
#include "format/quant_recipe.h"

#include <stdlib.h>
#include <string.h>

/* One tensor to convert. */
typedef struct {
    qw_st_tensor *t;
    uint32_t src_type, dst_type;
    int64_t ne0, rows;
    size_t src_row, dst_row, offset;  /* offset: in the converted mapping */
} conversion;

#define ALIGN 64            /* converted tensors start on a cache line */
#define SLAB_BYTES (16u << 20)  /* source bytes converted between progress reports */

/* The GGUF name qwenc convert gives a checkpoint tensor and its number of
 * dimensions there (experts are stacked: one more); "" when the model does
 * not use the tensor (convert leaves it out). */
static int gguf_name(const qw_config *c, const qw_st_tensor *t, char *g, size_t n) {
    int layer, expert;
    if (qw_gguf_expert_name(t->name, &layer, &expert, g, n)) return t->rank + 1;
    qw_gguf_name_from_hf(t->name, g, n);
    if (c->tie_word_embeddings && !strcmp(g, "output.weight")) g[0] = 0;
    return t->rank;
}

/* What convert would do to tensor t: 1 and *cv filled when it changes type,
 * 0 when it stays as stored. */
static int plan_one(const qw_config *c, const qw_quant_recipe *r, qw_st_tensor *t, conversion *cv) {
    char g[160];
    int n_dims = gguf_name(c, t, g, sizeof g);
    /* not the model's, or an empty tensor: left for binding to judge */
    if (!g[0] || t->rank < 1 || t->rank > 2 || t->shape[t->rank - 1] <= 0 || t->shape[0] <= 0) return 0;
    uint32_t src = qw_ggml_type_of(t->dtype);
    if (src == UINT32_MAX) return 0;  /* not a weight type: binding says so, naming the file */
    int64_t ne0 = t->shape[t->rank - 1];
    uint32_t dst = qw_quant_recipe_type(r, g, n_dims, ne0, c->tie_word_embeddings);
    if (dst == src) return 0;
    *cv = (conversion){t, src, dst, ne0, t->rank == 2 ? t->shape[0] : 1, qw_gguf_row_size(src, ne0),
                       qw_gguf_row_size(dst, ne0), 0};
    return cv->src_row && cv->dst_row;
}

static int plan_all(const qw_config *c, qw_checkpoint *ck, const qw_quant_recipe *r, conversion **out, int *n,
                    size_t *total, char *err, size_t errlen) {
    conversion *cv = calloc((size_t)(ck->n_tensors ? ck->n_tensors : 1), sizeof *cv);
    if (!cv) return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    *n = 0;
    *total = 0;
    for (int i = 0; i < ck->n_tensors; i++) {
        if (!plan_one(c, r, &ck->tensors[i], &cv[*n])) continue;
        cv[*n].offset = *total;
        *total += ((size_t)cv[*n].rows * cv[*n].dst_row + ALIGN - 1) / ALIGN * ALIGN;
        (*n)++;
    }
    *out = cv;
    return 0;
}

/* ---- converting ---- */

typedef struct {
    const conversion *cv;
    unsigned char *dst;
    int64_t row0, n_rows;
    qw_pool *pool;  /* its per-thread scratch holds one float32 row */
    int n_tasks;
} slab_job;

static void convert_task(void *ctx, int task, int thread) {
    const slab_job *j = ctx;
    const conversion *cv = j->cv;
    const unsigned char *src = cv->t->data;
    float *x = qw_pool_scratch(j->pool, thread);
    int64_t a = j->row0 + j->n_rows * task / j->n_tasks, b = j->row0 + j->n_rows * (task + 1) / j->n_tasks;
    for (int64_t r = a; r < b; r++) {
        qw_dequant_row(cv->src_type, src + (size_t)r * cv->src_row, cv->ne0, x);
        qw_quant_row(cv->dst_type, x, cv->ne0, j->dst + (size_t)r * cv->dst_row);
    }
}

typedef struct {
    void (*fn)(void *ctx, int64_t done, int64_t total);
    void *ctx;
    int64_t done, total;
} progress_state;

/* Converts one tensor a slab at a time, releasing each slab's source pages
 * as it goes, and points the tensor at the converted copy. */
static void convert_tensor(const conversion *cv, unsigned char *base, qw_pool *pool, progress_state *ps) {
    const unsigned char *src = cv->t->data;
    int64_t per_slab = (int64_t)(SLAB_BYTES / cv->src_row) + 1;
    slab_job j = {cv, base + cv->offset, 0, 0, pool, 0};
    for (; j.row0 < cv->rows; j.row0 += j.n_rows) {
        j.n_rows = cv->rows - j.row0 < per_slab ? cv->rows - j.row0 : per_slab;
        j.n_tasks = (int)(j.n_rows < 4 * qw_pool_size(pool) ? j.n_rows : 4 * qw_pool_size(pool));
        qw_pool_run(pool, convert_task, &j, j.n_tasks);
        qw_pages_release(src + (size_t)j.row0 * cv->src_row, (size_t)j.n_rows * cv->src_row);
        ps->done += (int64_t)((size_t)j.n_rows * cv->src_row);
        if (ps->fn) ps->fn(ps->ctx, ps->done, ps->total);
    }
    qw_pages_release(src, (size_t)cv->rows * cv->src_row);  /* the pages slabs shared */
    cv->t->data = base + cv->offset;
    cv->t->dtype = qw_dtype_of_ggml(cv->dst_type);
    cv->t->nbytes = (size_t)cv->rows * cv->dst_row;
}

int qw_requant(const qw_config *c, qw_checkpoint *ck, const char *type, qw_pool *pool,
               void (*progress)(void *ctx, int64_t done, int64_t total), void *progress_ctx, char *err,
               size_t errlen) {
    qw_quant_recipe r;
    conversion *cv = NULL;
    int n = 0;
    size_t total = 0;
    int rc = qw_quant_recipe_init(type, c->n_layers, c->n_experts, &r, err, errlen);
    if (!rc) rc = plan_all(c, ck, &r, &cv, &n, &total, err, errlen);
    if (rc || !n) {
        free(cv);
        return rc;
    }
    progress_state ps = {progress, progress_ctx, 0, 0};
    int64_t max_ne0 = 1;
    for (int i = 0; i < n; i++) {
        ps.total += (int64_t)((size_t)cv[i].rows * cv[i].src_row);
        if (cv[i].ne0 > max_ne0) max_ne0 = cv[i].ne0;
    }
    if (qw_anon_map(total, &ck->converted) ||
        qw_pool_reserve(pool, (size_t)max_ne0 * sizeof(float))) {
        free(cv);
        return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory for %.1f MiB of %s weights",
                       (double)total / (1 << 20), r.name);
    }
    unsigned char *base = (unsigned char *)ck->converted.data;  /* ours until sealed */
    for (int i = 0; i < n; i++) convert_tensor(&cv[i], base, pool, &ps);
    qw_anon_seal(&ck->converted);
    free(cv);
    return 0;
}
