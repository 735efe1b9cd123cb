/* The CPU backend: portable C written so the compiler vectorizes the inner
 * loops, split across the thread pool by output rows (so every output
 * element is computed the same way whatever the thread count). */
#include "kernels/backend.h"
#include "kernels/cpu/ref.h"
#include "kernels/cpu/tile.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Rows are handed out to threads in runs of whole micro-tiles; bf16, Q8_0
 * and Q4_0 rows feed the micro-kernel straight from the mapping when the batch is one
 * tile of tokens or less (decode), else they are widened once into a
 * per-thread buffer and reused for every tile of tokens (prefill). */
#define ROW_BLOCK QW_TILE_MR

typedef struct {
    const qw_tile_kernels *tile;
    const qw_mat *w;
    const float *x;
    float *y;
    int n_tok;
    int64_t rows_per_task;
    qw_pool *pool;  /* its per-thread scratch holds ROW_BLOCK widened rows, when widen */
    int widen;
} matmul_job;

static void widen_rows(const qw_mat *w, int64_t r, int nr, float *out) {
    for (int b = 0; b < nr; b++) {
        if (w->dtype == QW_DT_BF16) {
            const uint16_t *src = (const uint16_t *)w->data + (r + b) * w->cols;
            float *dst = out + (int64_t)b * w->cols;
            for (int64_t c = 0; c < w->cols; c++) {
                uint32_t u = (uint32_t)src[c] << 16;
                memcpy(&dst[c], &u, 4);
            }
        } else {
            ref_row_to_f32(w, r + b, out + (int64_t)b * w->cols);
        }
    }
}

static void matmul_task(void *ctx, int task, int thread) {
    const matmul_job *j = ctx;
    const qw_mat *w = j->w;
    int64_t k = w->cols, r0 = task * j->rows_per_task, r1 = r0 + j->rows_per_task;
    if (r1 > w->rows) r1 = w->rows;
    for (int64_t r = r0; r < r1; r += ROW_BLOCK) {
        int nr = r1 - r < ROW_BLOCK ? (int)(r1 - r) : ROW_BLOCK;
        const float *rows = NULL;
        if (w->dtype == QW_DT_F32) {
            rows = (const float *)w->data + r * k;
        } else if (j->widen) {
            float *buf = qw_pool_scratch(j->pool, thread);
            widen_rows(w, r, nr, buf);
            rows = buf;
        }
        for (int t = 0; t < j->n_tok; t += QW_TILE_NT) {
            int nt = j->n_tok - t < QW_TILE_NT ? j->n_tok - t : QW_TILE_NT;
            const float *xt = j->x + (int64_t)t * k;
            float *yt = j->y + (int64_t)t * w->rows + r;
            if (rows) {
                j->tile->f32(rows, k, nr, xt, k, nt, k, yt, w->rows);
            } else if (w->dtype == QW_DT_Q8_0) {
                int64_t rb = qw_dtype_row_bytes(QW_DT_Q8_0, k);
                j->tile->q8_0((const uint8_t *)w->data + r * rb, rb, nr, xt, k, nt, k, yt, w->rows);
            } else if (w->dtype == QW_DT_Q4_0) {
                int64_t rb = qw_dtype_row_bytes(QW_DT_Q4_0, k);
                j->tile->q4_0((const uint8_t *)w->data + r * rb, rb, nr, xt, k, nt, k, yt, w->rows);
            } else {
                j->tile->bf16((const uint16_t *)w->data + r * k, k, nr, xt, k, nt, k, yt, w->rows);
            }
        }
    }
}

static void cpu_matmul(qw_pool *pool, const qw_mat *w, const float *x, float *y, int n_tok) {
    int nt = qw_pool_size(pool);
    /* Enough tasks to balance, few enough that each streams a long run of rows. */
    int64_t n_tasks = nt == 1 ? 1 : 4 * nt;
    int64_t per = (w->rows + n_tasks - 1) / n_tasks;
    per = (per + ROW_BLOCK - 1) / ROW_BLOCK * ROW_BLOCK;
    n_tasks = (w->rows + per - 1) / per;
    matmul_job j = {qw_tile_best(), w, x, y, n_tok, per, pool, 0};
    /* rows widened into scratch unless a kernel reads them as stored */
    int direct = n_tok <= QW_TILE_NT && (w->dtype == QW_DT_BF16 || (w->dtype == QW_DT_Q8_0 && j.tile->q8_0) ||
                                         (w->dtype == QW_DT_Q4_0 && j.tile->q4_0));
    j.widen = w->dtype != QW_DT_F32 && !direct;
    if (j.widen && qw_pool_reserve(pool, ROW_BLOCK * (size_t)w->cols * sizeof(float))) {
        ref_matmul(pool, w, x, y, n_tok);  /* slower, but needs only one row of memory */
        return;
    }
    qw_pool_run(pool, matmul_task, &j, (int)n_tasks);
}

/* A dot product is the 1 x 1 tile. */
static inline float dot_f32(const qw_tile_kernels *k, const float *a, const float *b, int64_t n) {
    float y;
    k->f32(a, n, 1, b, n, 1, n, &y, 1);
    return y;
}

typedef struct {
    const qw_tile_kernels *tile;
    const qw_attn_args *a;
} attn_job;

/* One (token, head): an online softmax over the visible keys a block at a
 * time, so no score row as long as the context is ever stored. */
static void attention_task(void *ctx, int task, int thread) {
    (void)thread;
    const attn_job *j = ctx;
    const qw_attn_args *a = j->a;
    int t = task / a->n_heads, h = task % a->n_heads, hd = a->head_dim;
    int off = h / (a->n_heads / a->n_kv_heads) * hd, pos = a->pos[t];
    int first = a->window > 0 && pos - a->window + 1 > 0 ? pos - a->window + 1 : 0;
    const float *q = a->q + ((int64_t)t * a->n_heads + h) * hd;
    const int32_t *table = a->tables[t];
    float *o = a->out + ((int64_t)t * a->n_heads + h) * hd;
    memset(o, 0, (size_t)hd * sizeof *o);
    float mx = -INFINITY, sum = 0, s[QW_ATTN_MAX_BLOCK];
    for (int i0 = first; i0 <= pos;) {
        int i1 = (i0 / a->block + 1) * a->block;  /* the rest of i0's block */
        if (i1 > pos + 1) i1 = pos + 1;
        float bmx = -INFINITY;
        for (int i = i0; i < i1; i++) {
            s[i - i0] = dot_f32(j->tile, q, qw_attn_row(a, a->k, table, i) + off, hd) * a->scale;
            if (s[i - i0] > bmx) bmx = s[i - i0];
        }
        if (bmx > mx) {  /* rescale what was summed under the old maximum */
            float c = expf(mx - bmx);
            sum *= c;
            for (int d = 0; d < hd; d++) o[d] *= c;
            mx = bmx;
        }
        for (int i = i0; i < i1; i++) {
            float w = expf(s[i - i0] - mx);
            const float *v = qw_attn_row(a, a->v, table, i) + off;
            sum += w;
            for (int d = 0; d < hd; d++) o[d] += w * v[d];
        }
        i0 = i1;
    }
    for (int d = 0; d < hd; d++) o[d] /= sum;
}

static void cpu_attention(qw_pool *pool, const qw_attn_args *a) {
    if (a->block > QW_ATTN_MAX_BLOCK) {
        ref_attention(pool, a);
        return;
    }
    attn_job j = {qw_tile_best(), a};
    qw_pool_run(pool, attention_task, &j, a->n_tok * a->n_heads);
}

static void cpu_rmsnorm(float *y, const float *x, const qw_vec *gain, int n_rows, int dim, float eps) {
    for (int t = 0; t < n_rows; t++) {
        const float *xt = x + (int64_t)t * dim;
        float *yt = y + (int64_t)t * dim;
        float inv = 1.0f / sqrtf(dot_f32(qw_tile_best(), xt, xt, dim) / (float)dim + eps);
        for (int i = 0; i < dim; i++) yt[i] = qw_vec_get(gain, i) * (xt[i] * inv);
    }
}

static const qw_backend cpu_backend = {
    .name = "cpu",
    .matmul = cpu_matmul,
    .rmsnorm = cpu_rmsnorm,
    .add_bias = ref_add_bias,
    .rope = ref_rope,
    .attention = cpu_attention,
    .swiglu = ref_swiglu,
    .embed = ref_embed,
};

const qw_backend *qw_backend_cpu(void) { return &cpu_backend; }
