/* The CPU backend: micro-kernels per SIMD variant (tile.h for float weights,
 * qtile.h for Q8_0/Q4_0), split across the thread pool by output rows (so
 * every output element is computed the same way whatever the thread count). */
#include "kernels/backend.h"
#include "kernels/cpu/attn.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/simd_exp.h"
#include "kernels/cpu/qtile.h"
#include "kernels/cpu/ref.h"
#include "kernels/cpu/tile.h"

#include <math.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define QW_X86 1
#endif
#include <stdlib.h>
#include <string.h>

/* ---- float32, bf16 and f16 weights: the float micro-kernels (tile.h) ----
 *
 * Rows are handed out to threads in runs of whole micro-tiles; bf16 rows feed
 * the micro-kernel straight from the mapping when the batch is one tile of
 * tokens or less (decode), else they are widened once into a per-thread
 * buffer and reused for every tile of tokens (prefill); f16 rows always are. */
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
    for (int b = 0; b < nr; b++) ref_row_to_f32(w, r + b, out + (int64_t)b * w->cols);
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
            if (rows) j->tile->f32(rows, k, nr, xt, k, nt, k, yt, w->rows);
            else j->tile->bf16((const uint16_t *)w->data + r * k, k, nr, xt, k, nt, k, yt, w->rows);
        }
    }
}

/* Enough tasks to balance, few enough that each streams a long run of rows;
 * `unit` rows at a time. */
static int64_t rows_per_task(const qw_pool *pool, int64_t rows, int64_t unit) {
    int nt = qw_pool_size(pool);
    int64_t n_tasks = nt == 1 ? 1 : 4 * nt;
    int64_t per = (rows + n_tasks - 1) / n_tasks;
    return (per + unit - 1) / unit * unit;
}

static void matmul_float(qw_pool *pool, const qw_mat *w, const float *x, float *y, int n_tok) {
    int64_t per = rows_per_task(pool, w->rows, ROW_BLOCK);
    matmul_job j = {qw_tile_best(), w, x, y, n_tok, per, pool, 0};
    /* f32 rows are used in place, bf16 ones widened in registers for one tile of
     * tokens; the rest (bf16 for more tokens, f16, Q5_0, Q4_K, Q6_K) widened
     * or dequantized into the per-thread buffer */
    j.widen = w->dtype != QW_DT_F32 && !(w->dtype == QW_DT_BF16 && n_tok <= QW_TILE_NT);
    if (j.widen && qw_pool_reserve(pool, ROW_BLOCK * (size_t)w->cols * sizeof(float))) {
        ref_matmul(pool, w, x, y, n_tok);  /* slower, but needs only one row of memory */
        return;
    }
    qw_pool_run(pool, matmul_task, &j, (int)((w->rows + per - 1) / per));
}

/* ---- Q8_0 and Q4_0 weights: int8 products (qtile.h) ----
 *
 * Each token's activations are quantized once per call into the pool's
 * shared scratch; threads take runs of whole 16-row groups, packed at load
 * (qw_backend.pack) or else into their own scratch, a few groups at a time
 * so that those stay in the cache while every tile of tokens passes. */

typedef struct {
    const qw_qtile_kernels *k;
    const float *x;
    uint8_t *xq;
    const qw_mat *w;
    int tok_per_task;
    int n_tok;
} quantize_job;

static void quantize_task(void *ctx, int task, int thread) {
    (void)thread;
    const quantize_job *j = ctx;
    int64_t k = j->w->cols, ldx = qw_qx_bytes(k);
    for (int t = task * j->tok_per_task; t < j->n_tok && t < (task + 1) * j->tok_per_task; t++)
        j->k->quantize(j->w->dtype, j->x + t * k, k, j->xq + t * ldx);
}

enum { MAX_FUSED = 3 };

/* One pool job over up to MAX_FUSED matrices of one dtype and width that
 * share their input: tasks [first[m], first[m + 1]) are matrix m's. */
typedef struct {
    qw_qtile_fn fn;
    const qw_mat *w[MAX_FUSED];
    float *y[MAX_FUSED];
    int64_t groups_per_task[MAX_FUSED];
    int first[MAX_FUSED + 1];
    const uint8_t *xq;  /* n_tok records of qw_qx_bytes(cols) */
    int n_tok;
    int64_t groups_per_pass, stride;  /* stride: bytes of a packed group */
    qw_pool *pool;  /* its per-thread scratch packs groups_per_pass groups, when w->packed is NULL */
} qmatmul_job;

static void qmatmul_task(void *ctx, int task, int thread) {
    const qmatmul_job *j = ctx;
    int mi = 0;
    while (task >= j->first[mi + 1]) mi++;
    const qw_mat *w = j->w[mi];
    float *y = j->y[mi];
    int64_t n_groups = (w->rows + QW_QGROUP - 1) / QW_QGROUP, nb = w->cols / 32, ldx = qw_qx_bytes(w->cols);
    int64_t g0 = (task - j->first[mi]) * j->groups_per_task[mi], g1 = g0 + j->groups_per_task[mi];
    if (g1 > n_groups) g1 = n_groups;
    for (int64_t g = g0; g < g1; g += j->groups_per_pass) {
        int64_t ng = g1 - g < j->groups_per_pass ? g1 - g : j->groups_per_pass;
        const uint8_t *groups = (const uint8_t *)w->packed + g * j->stride;
        if (!w->packed) {
            uint8_t *buf = qw_pool_scratch(j->pool, thread);
            for (int64_t i = 0; i < ng; i++) qw_qpack_group(w, g + i, buf + i * j->stride);
            groups = buf;
        }
        for (int t = 0; t < j->n_tok; t += QW_QTILE_NT) {
            int nt = j->n_tok - t < QW_QTILE_NT ? j->n_tok - t : QW_QTILE_NT;
            for (int64_t i = 0; i < ng; i++) {
                int64_t r = (g + i) * QW_QGROUP;
                int nr = w->rows - r < QW_QGROUP ? (int)(w->rows - r) : QW_QGROUP;
                j->fn(groups + i * j->stride, nb, j->xq + t * ldx, ldx, nt, y + (int64_t)t * w->rows + r, w->rows, nr);
            }
        }
    }
}

/* ys[m] = ws[m] x for n_w matrices of one int8 dtype and width: x quantized
 * once, one job on the pool. */
static int matmul_int8(qw_pool *pool, const qw_mat *const *ws, float *const *ys, int n_w, const float *x, int n_tok) {
    if (n_tok <= 0) return 0;
    const qw_mat *w0 = ws[0];
    int64_t ldx = qw_qx_bytes(w0->cols), stride = qw_qpack_group_bytes(w0->dtype, w0->cols);
    int64_t pass = (128 << 10) / stride > 1 ? (128 << 10) / stride : 1;  /* about 128 KiB of weights */
    int unpacked = 0;
    for (int m = 0; m < n_w; m++) unpacked |= !ws[m]->packed;
    if (qw_pool_reserve_shared(pool, (size_t)(n_tok * ldx)) || (unpacked && qw_pool_reserve(pool, (size_t)(pass * stride))))
        return -1;
    uint8_t *xq = qw_pool_shared(pool);
    const qw_qtile_kernels *k = qw_qtile_best();
    int n_threads = qw_pool_size(pool), per_tok = (n_tok + 4 * n_threads - 1) / (4 * n_threads);
    quantize_job qj = {k, x, xq, w0, per_tok, n_tok};
    qw_pool_run(pool, quantize_task, &qj, (n_tok + per_tok - 1) / per_tok);
    qmatmul_job j = {.fn = w0->dtype == QW_DT_Q8_0 ? k->q8_0 : k->q4_0, .xq = xq, .n_tok = n_tok,
                     .groups_per_pass = pass, .stride = stride, .pool = pool};
    for (int m = 0; m < n_w; m++) {
        int64_t n_groups = (ws[m]->rows + QW_QGROUP - 1) / QW_QGROUP;
        int64_t per = rows_per_task(pool, ws[m]->rows, QW_QGROUP) / QW_QGROUP;
        j.w[m] = ws[m], j.y[m] = ys[m], j.groups_per_task[m] = per;
        j.first[m + 1] = j.first[m] + (int)((n_groups + per - 1) / per);
    }
    qw_pool_run(pool, qmatmul_task, &j, j.first[n_w]);
    return 0;
}

static int is_int8(const qw_mat *w) { return w->dtype == QW_DT_Q8_0 || w->dtype == QW_DT_Q4_0; }

static void cpu_matmul(qw_pool *pool, const qw_mat *w, const float *x, float *y, int n_tok) {
    if (!is_int8(w)) matmul_float(pool, w, x, y, n_tok);
    else if (matmul_int8(pool, &w, &y, 1, x, n_tok)) ref_matmul(pool, w, x, y, n_tok);  /* the same bits, slower */
}

/* Matrices that share their input in one job when they can (int8, one
 * dtype and width): the q/k/v and gate/up projections of a decode step then
 * cost one hand-off to the threads instead of three or two. */
static void cpu_matmul_many(qw_pool *pool, const qw_mat *const *ws, float *const *ys, int n_w, const float *x,
                            int n_tok) {
    int fuse = n_w <= MAX_FUSED;
    for (int m = 0; m < n_w; m++) fuse &= is_int8(ws[m]) && ws[m]->dtype == ws[0]->dtype && ws[m]->cols == ws[0]->cols;
    if (fuse && !matmul_int8(pool, ws, ys, n_w, x, n_tok)) return;
    for (int m = 0; m < n_w; m++) cpu_matmul(pool, ws[m], x, ys[m], n_tok);
}

typedef struct {
    qw_mat *w;
    int64_t stride;
} pack_job;

static void pack_task(void *ctx, int task, int thread) {
    (void)thread;
    const pack_job *j = ctx;
    qw_qpack_group(j->w, task, (uint8_t *)j->w->packed + task * j->stride);
}

static int64_t cpu_pack_bytes(const qw_mat *w) {
    return w->dtype == QW_DT_Q8_0 || w->dtype == QW_DT_Q4_0 ? qw_qpack_bytes(w) : 0;
}

static void cpu_pack(qw_pool *pool, qw_mat *w, void *dst) {
    w->packed = dst;
    pack_job j = {w, qw_qpack_group_bytes(w->dtype, w->cols)};
    qw_pool_run(pool, pack_task, &j, (int)(qw_qpack_bytes(w) / j.stride));
}

/* A dot product is the 1 x 1 tile. */
static inline float dot_f32(const qw_tile_kernels *k, const float *a, const float *b, int64_t n) {
    float y;
    k->f32(a, n, 1, b, n, 1, n, &y, 1);
    return y;
}

static void cpu_attention(qw_pool *pool, const qw_attn_args *a) {
    if (a->block > QW_ATTN_MAX_BLOCK) {
        ref_attention(pool, a);
        return;
    }
    qw_attn_run(pool, a, qw_attn_best());
}

/* ---- elementwise: split across the pool by rows (tokens), each row
 * computed as one thread alone would ---- */

/* Enough tasks to balance two threads, big enough to be worth a hand-off. */
static int row_tasks(const qw_pool *pool, int64_t n_rows, int64_t row_elems) {
    int64_t by_size = n_rows * row_elems / 4096, most = 4 * (int64_t)qw_pool_size(pool);
    int64_t n = by_size < most ? by_size : most;
    return n < 1 ? 1 : n > n_rows ? (int)n_rows : (int)n;
}

typedef struct {
    float *y;
    const float *x;
    const qw_vec *gain;
    int n_rows, dim, n_tasks;
    float eps;
} rmsnorm_job;

static void rmsnorm_task(void *ctx, int task, int thread) {
    (void)thread;
    const rmsnorm_job *j = ctx;
    const qw_tile_kernels *k = qw_tile_best();
    float g[256];
    for (int t = (int)((int64_t)j->n_rows * task / j->n_tasks); t < (int64_t)j->n_rows * (task + 1) / j->n_tasks; t++) {
        const float *xt = j->x + (int64_t)t * j->dim;
        float *yt = j->y + (int64_t)t * j->dim;
        float inv = 1.0f / sqrtf(dot_f32(k, xt, xt, j->dim) / (float)j->dim + j->eps);
        for (int i0 = 0; i0 < j->dim; i0 += 256) {  /* the gain as float, 256 at a time */
            int n = j->dim - i0 < 256 ? j->dim - i0 : 256;
            qw_vec_to_f32(j->gain, i0, n, g);
            for (int i = 0; i < n; i++) yt[i0 + i] = g[i] * (xt[i0 + i] * inv);
        }
    }
}

static void cpu_rmsnorm(qw_pool *pool, float *y, const float *x, const qw_vec *gain, int n_rows, int dim, float eps) {
    rmsnorm_job j = {y, x, gain, n_rows, dim, row_tasks(pool, n_rows, dim), eps};
    qw_pool_run(pool, rmsnorm_task, &j, j.n_tasks);
}

typedef struct {
    float *x;
    int n_tok, n_heads, head_dim, n_tasks;
    const int *pos;
    const float *inv_freq;
} rope_job;

/* As ref_rope, with each token's angles computed once for all its heads. */
static void rope_task(void *ctx, int task, int thread) {
    (void)thread;
    const rope_job *j = ctx;
    int half = j->head_dim / 2;
    float cs[256], sn[256];
    for (int t = (int)((int64_t)j->n_tok * task / j->n_tasks); t < (int64_t)j->n_tok * (task + 1) / j->n_tasks; t++) {
        for (int i0 = 0; i0 < half; i0 += 256) {
            int n = half - i0 < 256 ? half - i0 : 256;
            for (int i = 0; i < n; i++) {
                float angle = (float)j->pos[t] * j->inv_freq[i0 + i];
                cs[i] = cosf(angle), sn[i] = sinf(angle);
            }
            for (int h = 0; h < j->n_heads; h++) {
                float *v = j->x + ((int64_t)t * j->n_heads + h) * j->head_dim + i0;
                for (int i = 0; i < n; i++) {
                    float a = v[i], b = v[i + half];
                    v[i] = a * cs[i] - b * sn[i];
                    v[i + half] = b * cs[i] + a * sn[i];
                }
            }
        }
    }
}

static void cpu_rope(qw_pool *pool, float *x, int n_tok, int n_heads, int head_dim, const int *pos,
                     const float *inv_freq) {
    rope_job j = {x, n_tok, n_heads, head_dim, row_tasks(pool, n_tok, (int64_t)n_heads * head_dim), pos, inv_freq};
    qw_pool_run(pool, rope_task, &j, j.n_tasks);
}

typedef struct {
    float *gate;
    const float *up;
    int64_t n;
    int n_tasks;
} swiglu_job;

#ifdef QW_X86
__attribute__((target("avx512f"))) static void swiglu_avx512(float *g, const float *u, int64_t n) {
    int64_t i = 0;
    for (; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512 gv = _mm512_maskz_loadu_ps(m, g + i), uv = _mm512_maskz_loadu_ps(m, u + i);
        __m512 e = qw_exp512(_mm512_sub_ps(_mm512_setzero_ps(), gv));
        __m512 silu = _mm512_div_ps(gv, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
        _mm512_mask_storeu_ps(g + i, m, _mm512_mul_ps(silu, uv));
    }
}
#endif

static void swiglu_task(void *ctx, int task, int thread) {
    (void)thread;
    const swiglu_job *j = ctx;
    int64_t i0 = j->n * task / j->n_tasks, i1 = j->n * (task + 1) / j->n_tasks;
#ifdef QW_X86
    if (qw_cpu_features_get()->avx512f) {
        swiglu_avx512(j->gate + i0, j->up + i0, i1 - i0);
        return;
    }
#endif
    ref_swiglu(NULL, j->gate + i0, j->up + i0, i1 - i0);
}

static void cpu_swiglu(qw_pool *pool, float *gate, const float *up, int64_t n) {
    swiglu_job j = {gate, up, n, row_tasks(pool, n / 16, 16)};
    qw_pool_run(pool, swiglu_task, &j, j.n_tasks);
}

static const qw_backend cpu_backend = {
    .name = "cpu",
    .matmul = cpu_matmul,
    .matmul_many = cpu_matmul_many,
    .pack_bytes = cpu_pack_bytes,
    .pack = cpu_pack,
    .rmsnorm = cpu_rmsnorm,
    .add_bias = ref_add_bias,
    .rope = cpu_rope,
    .attention = cpu_attention,
    .swiglu = cpu_swiglu,
    .embed = ref_embed,
};

const qw_backend *qw_backend_cpu(void) { return &cpu_backend; }
