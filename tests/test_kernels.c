/* Each CPU kernel against its scalar reference, over awkward sizes, dtypes
 * and thread counts; and the thread pool. */
#include "check.h"
#include "kernels/backend.h"
#include "kernels/cpu/attn.h"
#include "kernels/cpu/qtile.h"
#include "kernels/cpu/tile.h"
#include "format/gguf.h"
#include "format/quant.h"
#include "kernels/cpu/ref.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t rng = 88172645463325252ull;
static float frand(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((rng >> 11) * 0x1.0p-53) * 2.0f - 1.0f;
}

static uint8_t byte_rand(void) {
    frand();
    return (uint8_t)(rng >> 11);
}

static uint16_t f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

static uint16_t f32_to_f16(float f) { /* enough for |f| < 1: normal range, truncating */
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t sign = (u >> 16) & 0x8000;
    int exp = (int)((u >> 23) & 255) - 127 + 15;
    if (exp <= 0) return (uint16_t)sign;
    return (uint16_t)(sign | (uint32_t)exp << 10 | ((u >> 13) & 1023));
}

/* A random weight matrix in the given dtype; Q8_0 and Q4_0 quantized from
 * random floats (cols a multiple of 32). */
static qw_mat make_mat(qw_dtype dt, int rows, int cols, void **buf) {
    size_t n = (size_t)rows * cols;
    if (dt == QW_DT_Q8_0 || dt == QW_DT_Q4_0) {
        float *f = malloc(n * sizeof *f);
        for (size_t i = 0; i < n; i++) f[i] = frand();
        *buf = malloc((size_t)(rows * qw_dtype_row_bytes(dt, cols)));
        CHECK(qw_quant_row(dt == QW_DT_Q8_0 ? QW_GGML_Q8_0 : QW_GGML_Q4_0, f, (int64_t)n, *buf) == 0, "quantize");
        free(f);
        return (qw_mat){.data = *buf, .dtype = dt, .rows = rows, .cols = cols};
    }
    *buf = malloc(n * qw_dtype_size(dt));
    for (size_t i = 0; i < n; i++) {
        float v = frand();
        if (dt == QW_DT_F32) ((float *)*buf)[i] = v;
        else if (dt == QW_DT_BF16) ((uint16_t *)*buf)[i] = f32_to_bf16(v);
        else ((uint16_t *)*buf)[i] = f32_to_f16(v);
    }
    return (qw_mat){.data = *buf, .dtype = dt, .rows = rows, .cols = cols};
}

static double max_rel_diff(const float *a, const float *b, size_t n) {
    double w = 0;
    for (size_t i = 0; i < n; i++) w = fmax(w, fabs(a[i] - b[i]) / (1.0 + fabs(b[i])));
    return w;
}

/* |y - y_f32| for an int8 product is at most the activations' rounding,
 * d/2 per element, times the weights' magnitudes (plus float rounding):
 * true for each output of rows x cols weights w at token x. */
static int within_int8_bound(const qw_mat *w, const float *x, const float *y) {
    float *row = malloc((size_t)w->cols * sizeof *row);
    int ok = 1;
    for (int64_t r = 0; r < w->rows; r++) {
        ref_row_to_f32(w, r, row);
        double exact = 0, bound = 0, mag = 0;
        for (int64_t b = 0; b < w->cols / 32; b++) {
            float amax = 0;
            for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[32 * b + j]));
            for (int j = 0; j < 32; j++) {
                exact += (double)row[32 * b + j] * x[32 * b + j];
                mag += fabs((double)row[32 * b + j] * x[32 * b + j]);
                bound += fabs(row[32 * b + j]) * amax / 127 / 2;
            }
        }
        ok &= fabs(y[r] - exact) <= bound * 1.001 + 1e-5 * mag + 1e-30;
    }
    free(row);
    return ok;
}

static void test_matmul(void) {
    const qw_backend *be = qw_backend_cpu();
    const int shapes[][3] = {{1, 1, 1},   {7, 5, 3},    {33, 17, 1},  {64, 256, 9},  {130, 96, 4},
                             {5, 1000, 2}, {37, 64, 6}, {70, 64, 19}, {40, 1024, 11}};
    const qw_dtype dts[] = {QW_DT_F32, QW_DT_BF16, QW_DT_F16, QW_DT_Q8_0, QW_DT_Q4_0};
    for (int threads = 1; threads <= 3; threads += 2) {
        qw_pool *pool = qw_pool_new(threads);
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int d = 0; d < 5; d++) {
                int rows = shapes[s][0], cols = shapes[s][1], n = shapes[s][2];
                int quant = dts[d] == QW_DT_Q8_0 || dts[d] == QW_DT_Q4_0;
                if (quant && cols % 32) continue;  /* whole blocks only */
                void *buf, *packed = NULL;
                qw_mat w = make_mat(dts[d], rows, cols, &buf);
                float *x = malloc((size_t)n * cols * sizeof *x), *y = malloc((size_t)n * rows * sizeof *y),
                      *yr = malloc((size_t)n * rows * sizeof *yr);
                for (int i = 0; i < n * cols; i++) x[i] = frand();
                be->matmul(pool, &w, x, y, n);
                ref_matmul(NULL, &w, x, yr, n);
                const char *dn = qw_dtype_name(dts[d]);
                if (quant) {  /* the int8 scheme is defined to the bit */
                    CHECK(!memcmp(y, yr, (size_t)n * rows * sizeof *y), "matmul %s %dx%d n=%d threads=%d: differs "
                          "from the scalar int8 reference", dn, rows, cols, n, threads);
                    int ok = 1;
                    for (int t = 0; t < n; t++) ok &= within_int8_bound(&w, x + (size_t)t * cols, y + (size_t)t * rows);
                    CHECK(ok, "matmul %s %dx%d n=%d: off the float product by more than the activations' rounding",
                          dn, rows, cols, n);
                    /* packed at load (whole groups of 16 rows as stored), the same bits */
                    int64_t pb = be->pack_bytes(&w);
                    CHECK(pb >= qw_dtype_row_bytes(dts[d], cols) * rows && pb % 64 == 0 &&
                              pb <= qw_dtype_row_bytes(dts[d], cols + 32) * (rows + 15) / 16 * 16,
                          "%s %dx%d: %lld bytes packed", dn, rows, cols, (long long)pb);
                    be->pack(pool, &w, packed = aligned_alloc(64, (size_t)pb));
                    be->matmul(pool, &w, x, yr, n);
                    CHECK(!memcmp(y, yr, (size_t)n * rows * sizeof *y), "matmul %s %dx%d n=%d threads=%d: packed "
                          "weights differ", dn, rows, cols, n, threads);
                } else {
                    double diff = max_rel_diff(y, yr, (size_t)n * rows);
                    CHECK(diff < 1e-5, "matmul %s %dx%d n=%d threads=%d: diff %g", dn, rows, cols, n, threads, diff);
                    CHECK(be->pack_bytes(&w) == 0, "%s needs no packing", dn);
                }
                /* one token at a time gives the very same numbers (incremental == batched) */
                float *y1 = malloc((size_t)rows * sizeof *y1);
                int same = 1;
                for (int t = 0; t < n; t++) {
                    be->matmul(pool, &w, x + (size_t)t * cols, y1, 1);
                    same &= memcmp(y1, y + (size_t)t * rows, (size_t)rows * sizeof *y1) == 0;
                }
                CHECK(same, "matmul %s %dx%d n=%d threads=%d: row-by-row differs from batched", dn, rows, cols, n,
                      threads);
                free(packed); free(buf); free(x); free(y); free(yr); free(y1);
            }
        qw_pool_free(pool);
    }
}

/* matmul_many: matrices sharing their input, fused (int8, one dtype) or not
 * (mixed dtypes, float), packed or not, give the bits of separate matmuls. */
static void test_matmul_many(void) {
    const qw_backend *be = qw_backend_cpu();
    qw_pool *pool = qw_pool_new(3);
    const qw_dtype sets[][3] = {{QW_DT_Q8_0, QW_DT_Q8_0, QW_DT_Q8_0}, {QW_DT_Q4_0, QW_DT_Q4_0, QW_DT_Q4_0},
                                {QW_DT_Q8_0, QW_DT_Q4_0, QW_DT_BF16}, {QW_DT_BF16, QW_DT_F32, QW_DT_F32}};
    const int rows[3] = {40, 17, 33}, cols = 96, n = 5;
    for (int set = 0; set < 4; set++)
        for (int pack = 0; pack < 2; pack++) {
            qw_mat w[3];
            void *buf[3], *packed[3] = {0};
            float *x = malloc(sizeof(float) * n * cols), *y[3], *yr[3];
            for (int i = 0; i < n * cols; i++) x[i] = frand();
            for (int m = 0; m < 3; m++) {
                w[m] = make_mat(sets[set][m], rows[m], cols, &buf[m]);
                int64_t pb = be->pack_bytes(&w[m]);
                if (pack && pb) be->pack(pool, &w[m], packed[m] = aligned_alloc(64, (size_t)pb));
                y[m] = malloc(sizeof(float) * n * rows[m]), yr[m] = malloc(sizeof(float) * n * rows[m]);
                be->matmul(pool, &w[m], x, yr[m], n);
            }
            const qw_mat *ws[3] = {&w[0], &w[1], &w[2]};
            for (int k = 1; k <= 3; k++) {
                be->matmul_many(pool, ws, y, k, x, n);
                int same = 1;
                for (int m = 0; m < k; m++) same &= !memcmp(y[m], yr[m], sizeof(float) * n * rows[m]);
                CHECK(same, "matmul_many of %d (set %d, packed %d) equals separate matmuls", k, set, pack);
            }
            for (int m = 0; m < 3; m++) free(buf[m]), free(packed[m]), free(y[m]), free(yr[m]);
            free(x);
        }
    qw_pool_free(pool);
}

static void test_rmsnorm_rope_swiglu(void) {
    const qw_backend *be = qw_backend_cpu();
    int dim = 37, rows = 5;
    float *x = malloc(sizeof(float) * dim * rows), *y = malloc(sizeof(float) * dim * rows),
          *yr = malloc(sizeof(float) * dim * rows), g[37];
    for (int i = 0; i < dim * rows; i++) x[i] = frand() * 3;
    for (int i = 0; i < dim; i++) g[i] = frand();
    qw_vec gain = {g, QW_DT_F32, dim};
    be->rmsnorm(NULL, y, x, &gain, rows, dim, 1e-6f);
    ref_rmsnorm(NULL, yr, x, &gain, rows, dim, 1e-6f);
    CHECK(max_rel_diff(y, yr, (size_t)dim * rows) < 1e-5, "rmsnorm");
    /* in place */
    memcpy(y, x, sizeof(float) * dim * rows);
    be->rmsnorm(NULL, y, y, &gain, rows, dim, 1e-6f);
    CHECK(max_rel_diff(y, yr, (size_t)dim * rows) < 1e-5, "rmsnorm in place");

    /* rope at position 0 is the identity; a rotation keeps each pair's norm */
    int hd = 8, pos[2] = {0, 1000};
    float v[2 * 8], v0[2 * 8], inv[4];
    for (int i = 0; i < 16; i++) v[i] = v0[i] = frand();
    for (int i = 0; i < 4; i++) inv[i] = (float)(1.0 / pow(10000.0, 2.0 * i / hd));
    be->rope(NULL, v, 2, 1, hd, pos, inv);
    CHECK(memcmp(v, v0, 8 * sizeof(float)) == 0, "rope at position 0");
    for (int i = 0; i < 4; i++) {
        double a = hypot(v[8 + i], v[12 + i]), b = hypot(v0[8 + i], v0[12 + i]);
        CHECK(fabs(a - b) < 1e-5, "rope keeps norms");
    }
    CHECK(fabs(v[8] - (v0[8] * cos(1000.0) - v0[12] * sin(1000.0))) < 1e-3, "rope rotates the first pair by pos*1");

    /* on a pool: many heads and tokens (each token's angles computed once)
     * equal the reference to the bit; SiLU within float rounding; a long
     * bf16 gain (widened in pieces) */
    {
        qw_pool *pool = qw_pool_new(2);
        int nt = 7, nh = 3, d = 12, ps[7] = {0, 5, 9, 100, 4000, 31, 2};
        float iv[6], *a = malloc(sizeof(float) * nt * nh * d), *b = malloc(sizeof(float) * nt * nh * d);
        for (int i = 0; i < 6; i++) iv[i] = (float)(1.0 / pow(1e6, 2.0 * i / d));
        for (int i = 0; i < nt * nh * d; i++) a[i] = b[i] = frand();
        be->rope(pool, a, nt, nh, d, ps, iv);
        ref_rope(NULL, b, nt, nh, d, ps, iv);
        CHECK(memcmp(a, b, sizeof(float) * nt * nh * d) == 0, "rope on a pool equals the reference");
        free(a); free(b);
        int n = 70001;
        float *g1 = malloc(sizeof(float) * n), *g2 = malloc(sizeof(float) * n), *u = malloc(sizeof(float) * n);
        for (int i = 0; i < n; i++) g1[i] = g2[i] = frand() * 30, u[i] = frand();
        be->swiglu(pool, g1, u, n);
        ref_swiglu(NULL, g2, u, n);
        double worst = 0;
        for (int i = 0; i < n; i++) {
            double e = fabs(g1[i] - g2[i]) / (fabs(g2[i]) + 1e-30);
            if (e > worst) worst = e;
        }
        CHECK(worst < 1e-6, "swiglu on a pool: worst relative error %g", worst);
        free(g1); free(g2); free(u);
        int dm = 1000, nr = 9;
        uint16_t gb[1000];
        float *xx = malloc(sizeof(float) * dm * nr), *y1 = malloc(sizeof(float) * dm * nr), *y2 = malloc(sizeof(float) * dm * nr);
        for (int i = 0; i < dm; i++) gb[i] = f32_to_bf16(frand());
        for (int i = 0; i < dm * nr; i++) xx[i] = frand();
        qw_vec gv = {gb, QW_DT_BF16, dm};
        be->rmsnorm(pool, y1, xx, &gv, nr, dm, 1e-6f);
        ref_rmsnorm(NULL, y2, xx, &gv, nr, dm, 1e-6f);
        CHECK(max_rel_diff(y1, y2, (size_t)dm * nr) < 1e-5, "rmsnorm on a pool, bf16 gain of %d", dm);
        free(xx); free(y1); free(y2);
        qw_pool_free(pool);
    }

    float gt[3] = {0, 1, -2}, up[3] = {5, 2, 1};
    be->swiglu(NULL, gt, up, 3);
    CHECK(gt[0] == 0 && fabs(gt[1] - 2 * 0.7310586) < 1e-6 && fabs(gt[2] + 2 * 0.1192029) < 1e-6, "swiglu");
    free(x); free(y); free(yr);
}

/* Keys or values of logical positions [0, n_pos) ([n_pos][n_kv][hd]) laid
 * out in blocks of `block` positions, block i of the sequence at pool slot
 * table[i]: values as [n_kv][block][hd], keys transposed, [n_kv][hd][block]
 * (qw_attn_key). */
static void scatter_blocks(const float *src, float *pool, const int32_t *table, int n_pos, int block, int n_kv, int hd,
                           int keys) {
    for (int p = 0; p < n_pos; p++)
        for (int h = 0; h < n_kv; h++)
            for (int d = 0; d < hd; d++) {
                int64_t at = ((int64_t)table[p / block] * n_kv + h) * block * hd;
                at += keys ? (int64_t)d * block + p % block : (int64_t)(p % block) * hd + d;
                pool[at] = src[((int64_t)p * n_kv + h) * hd + d];
            }
}

/* Paged attention: two sequences in one call, every SIMD variant against
 * the scalar reference; the same keys in another block layout, and each
 * token alone (as decode runs it), give the same bits as the batch. */
static void attention_case(int n_heads, int n_kv, int hd) {
    qw_pool *pool = qw_pool_new(2);
    enum { BLOCK = 4, N_SLOTS = 16 };
    int kvd = n_kv * hd;
    int len[2] = {17, 9}, n_new[2] = {6, 1}, n_tok = n_new[0] + n_new[1];
    int32_t tab_a[2][8] = {{9, 2, 14, 0, 7}, {3, 11, 5}}, tab_b[2][8] = {{1, 4, 6, 8, 10}, {12, 13, 15}};
    float *kl[2], *vl[2];
    float *k = calloc((size_t)N_SLOTS * BLOCK * kvd, sizeof(float)), *v = calloc((size_t)N_SLOTS * BLOCK * kvd, sizeof(float));
    float *k2 = calloc((size_t)N_SLOTS * BLOCK * kvd, sizeof(float)), *v2 = calloc((size_t)N_SLOTS * BLOCK * kvd, sizeof(float));
    for (int s = 0; s < 2; s++) {
        kl[s] = malloc(sizeof(float) * len[s] * kvd), vl[s] = malloc(sizeof(float) * len[s] * kvd);
        for (int i = 0; i < len[s] * kvd; i++) kl[s][i] = frand() * 2, vl[s][i] = frand();
        scatter_blocks(kl[s], k, tab_a[s], len[s], BLOCK, n_kv, hd, 1);
        scatter_blocks(vl[s], v, tab_a[s], len[s], BLOCK, n_kv, hd, 0);
        scatter_blocks(kl[s], k2, tab_b[s], len[s], BLOCK, n_kv, hd, 1);
        scatter_blocks(vl[s], v2, tab_b[s], len[s], BLOCK, n_kv, hd, 0);
    }
    size_t qn = (size_t)n_tok * n_heads * hd, qd = (size_t)n_heads * hd;
    float *q = malloc(sizeof(float) * qn), *o = malloc(sizeof(float) * qn), *orf = malloc(sizeof(float) * qn),
          *o2 = malloc(sizeof(float) * qn);
    for (size_t i = 0; i < qn; i++) q[i] = frand() * 2;
    const int32_t *tables[7], *tables2[7];
    int pos[7];
    for (int s = 0, t = 0; s < 2; s++)
        for (int j = 0; j < n_new[s]; j++, t++) {
            tables[t] = tab_a[s], tables2[t] = tab_b[s];
            pos[t] = len[s] - n_new[s] + j;
        }
    for (const qw_attn_kernels *const *kv = qw_attn_all(); *kv; kv++)
        for (int window = 0; window <= 5; window += 5) {
            qw_attn_args a = {.q = q, .out = o, .k = k, .v = v, .tables = tables, .pos = pos, .n_tok = n_tok,
                              .block = BLOCK, .n_heads = n_heads, .n_kv_heads = n_kv, .head_dim = hd,
                              .window = window, .scale = 0.25f};
            qw_attn_run(pool, &a, *kv);
            a.out = orf;
            ref_attention(NULL, &a);
            CHECK(max_rel_diff(o, orf, qn) < 1e-5, "attention %s, heads %d/%d x %d, window %d", (*kv)->name,
                  n_heads, n_kv, hd, window);
            a.out = o2, a.k = k2, a.v = v2, a.tables = tables2;
            qw_attn_run(pool, &a, *kv);
            CHECK(memcmp(o, o2, sizeof(float) * qn) == 0, "attention %s is the same whatever the block layout (window %d)",
                  (*kv)->name, window);
            for (int t = 0; t < n_tok; t++) {  /* one token at a time, as decode */
                qw_attn_args one = a;
                one.q = q + t * qd, one.out = o2 + t * qd, one.tables = tables + t, one.pos = pos + t, one.n_tok = 1;
                one.k = k, one.v = v;
                qw_attn_run(pool, &one, *kv);
            }
            CHECK(memcmp(o, o2, sizeof(float) * qn) == 0, "attention %s: tokens alone equal the batch (window %d)",
                  (*kv)->name, window);
        }
    /* a single position attends only to itself: output is its value row */
    int pos0 = 0;
    qw_attn_args one = {.q = q, .out = o, .k = k, .v = v, .tables = tables, .pos = &pos0, .n_tok = 1,
                        .block = BLOCK, .n_heads = n_heads, .n_kv_heads = n_kv, .head_dim = hd, .scale = 0.25f};
    qw_backend_cpu()->attention(pool, &one);
    CHECK(memcmp(o, vl[0], sizeof(float) * hd) == 0, "attention over one position returns v");
    for (int s = 0; s < 2; s++) free(kl[s]), free(vl[s]);
    free(k); free(v); free(k2); free(v2); free(q); free(o); free(orf); free(o2);
    qw_pool_free(pool);
}

static void test_attention(void) {
    attention_case(4, 2, 16);
    attention_case(12, 2, 40);   /* 6 heads a KV head: groups of 4 and 2; a masked tail of lanes */
    attention_case(16, 8, 128);  /* Qwen3's head size */
    attention_case(5, 5, 24);
    int n = 0;
    for (const qw_attn_kernels *const *kv = qw_attn_all(); *kv; kv++) n++;
    printf("attention variants tested on this CPU: %d (best: %s)\n", n, qw_attn_best()->name);
}

/* Every micro-kernel variant this CPU runs: close to a double-precision sum;
 * its bf16 form bit-identical to its f32 form on the widened values; and an
 * output's value the same whatever the tile size it was computed in. */
static void test_tile_variants(void) {
    const int lens[] = {0, 1, 7, 8, 15, 16, 31, 33, 63, 64, 65, 100, 1000, 4099};
    int n_variants = 0;
    for (const qw_tile_kernels *const *k = qw_tile_all(); *k; k++, n_variants++) {
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            int n = lens[li];
            size_t sz = (size_t)(4 * n + 1);
            uint16_t *w16 = malloc(sizeof(uint16_t) * sz);
            float *w = malloc(sizeof(float) * sz), *x = malloc(sizeof(float) * sz);
            for (int i = 0; i < 4 * n; i++) {
                w16[i] = f32_to_bf16(frand());
                uint32_t u = (uint32_t)w16[i] << 16;
                memcpy(&w[i], &u, 4);
                x[i] = frand();
            }
            float full[16], full16[16], one[16];
            (*k)->f32(w, n, 4, x, n, 4, n, full, 4);
            (*k)->bf16(w16, n, 4, x, n, 4, n, full16, 4);
            int bad_ref = 0, bad_tile = 0;
            for (int nr = 1; nr <= 4; nr++)
                for (int nt = 1; nt <= 4; nt++) {
                    float y[16];
                    (*k)->f32(w, n, nr, x, n, nt, n, y, 4);
                    for (int r = 0; r < nr; r++)
                        for (int t = 0; t < nt; t++) bad_tile += memcmp(&y[t * 4 + r], &full[t * 4 + r], 4) != 0;
                }
            for (int r = 0; r < 4; r++)
                for (int t = 0; t < 4; t++) {
                    double ref = 0, mag = 0;
                    for (int i = 0; i < n; i++) {
                        ref += (double)w[r * n + i] * x[t * n + i];
                        mag += fabs((double)w[r * n + i] * x[t * n + i]);
                    }
                    bad_ref += fabs(full[t * 4 + r] - ref) > 1e-6 * (mag + 1);
                    (*k)->bf16(w16 + r * n, n, 1, x + t * n, n, 1, n, &one[t * 4 + r], 4);
                }
            CHECK(bad_ref == 0, "%s tile k=%d: %d outputs off the double sum", (*k)->name, n, bad_ref);
            CHECK(bad_tile == 0, "%s tile k=%d: %d outputs depend on the tile size", (*k)->name, n, bad_tile);
            CHECK(!memcmp(full, full16, sizeof full) && !memcmp(full, one, sizeof full),
                  "%s tile k=%d: bf16 differs from f32 on the widened values", (*k)->name, n);
            free(w16); free(w); free(x);
        }
    }
    CHECK(n_variants >= 1 && qw_tile_best() == qw_tile_all()[0], "variants listed, best first");
    printf("micro-kernel variants tested on this CPU: %d (best: %s)\n", n_variants, qw_tile_best()->name);
}

/* Activations quantized per block: q = x / d rounded to nearest (within
 * d/2, ties to even), the largest magnitude at +-127, zero blocks all zero,
 * the bias -128 or -8 times the block's sum of quants; a NaN gives a NaN
 * scale (so it reaches the outputs), never an int8 out of range. */
static void test_qx_quantize(void) {
    enum { K = 32 * 6 };
    float x[K];
    uint8_t rec[K + K / 32 * 8];
    for (int i = 0; i < K; i++) x[i] = frand() * (i < 64 ? 1e-3f : 40.0f);
    for (int j = 0; j < 32; j++) x[64 + j] = 0;                            /* a zero block */
    for (int j = 0; j < 32; j++) x[96 + j] = (float)(j - 16) * 0.5f;       /* d = 1: exact ties */
    x[96] = -63.5f, x[97] = 2.5f, x[98] = 3.5f, x[99] = -2.5f, x[100] = 127.0f;
    for (int pass = 0; pass < 2; pass++) {
        qw_dtype wt = pass ? QW_DT_Q4_0 : QW_DT_Q8_0;
        qw_qx_quantize(wt, x, K, rec);
        const int8_t *q = (const int8_t *)rec;
        float d[K / 32];
        int32_t bias[K / 32];
        memcpy(d, rec + K, sizeof d);
        memcpy(bias, rec + K + sizeof d, sizeof bias);
        int bad = 0;
        for (int b = 0; b < K / 32; b++) {
            float amax = 0;
            int32_t sum = 0, top = 0;
            for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[32 * b + j]));
            for (int j = 0; j < 32; j++) {
                sum += q[32 * b + j];
                top = abs(q[32 * b + j]) > top ? abs(q[32 * b + j]) : top;
                bad += fabsf(x[32 * b + j] - d[b] * q[32 * b + j]) > d[b] * 0.5001f;
            }
            bad += d[b] != amax / 127 || top != (amax > 0 ? 127 : 0) || bias[b] != -(pass ? 8 : 128) * sum;
        }
        CHECK(bad == 0, "%s: %d quantized blocks wrong", qw_dtype_name(wt), bad);
        CHECK(q[97] == 2 && q[98] == 4 && q[99] == -2 && q[96] == -64, "halves to even: %d %d %d %d", q[97], q[98],
              q[99], q[96]);
    }
    x[5] = NAN;
    x[40] = INFINITY;
    qw_qx_quantize(QW_DT_Q8_0, x, K, rec);
    float d[2];
    memcpy(d, rec + K, sizeof d);
    int in_range = 1;
    for (int j = 0; j < 64; j++) in_range &= ((const int8_t *)rec)[j] >= -127;
    CHECK(isnan(d[0]) && isinf(d[1]) && in_range, "NaN and infinity: scales %g %g", d[0], d[1]);
}

/* Every variant's SIMD quantizer writes the portable one's bytes: blocks
 * of every magnitude, zeros, ties, NaN and infinity. */
static void test_qx_variants(void) {
    enum { K = 32 * 40 };
    float x[K];
    uint8_t want[K + K / 32 * 8], got[K + K / 32 * 8];
    for (int i = 0; i < K; i++) {
        int blk = i / 32;
        x[i] = frand() * (blk % 4 == 0 ? 1e-30f : blk % 4 == 1 ? 1e20f : 1.0f);
        if (blk == 5) x[i] = 0;
        if (blk == 6) x[i] = (float)(i % 32 - 16) * 0.5f;  /* ties once scaled */
        if (blk == 7) x[i] = 127.0f * (i % 2 ? 1 : -1) + (float)(i % 32 - 16) * 0.25f;
    }
    x[6 * 32] = 127.0f;
    x[8 * 32 + 3] = NAN;
    x[9 * 32 + 7] = INFINITY;
    x[10 * 32 + 1] = -INFINITY, x[10 * 32 + 2] = NAN;
    x[11 * 32 + 9] = 1e-42f;  /* subnormal amax: 1/d overflows */
    for (int j = 0; j < 32; j++) x[12 * 32 + j] = j == 9 ? 1e-42f : 0.0f;
    const qw_qtile_kernels *all[QW_QTILE_VARIANTS];
    int n = qw_qtile_all(all);
    for (int v = 0; v < n; v++)
        for (int pass = 0; pass < 2; pass++) {
            qw_dtype wt = pass ? QW_DT_Q4_0 : QW_DT_Q8_0;
            memset(want, 0xaa, sizeof want);
            memset(got, 0x55, sizeof got);
            qw_qx_quantize(wt, x, K, want);
            all[v]->quantize(wt, x, K, got);
            CHECK(!memcmp(want, got, sizeof want), "%s quantizer (%s) differs from the portable one", all[v]->name,
                  qw_dtype_name(wt));
        }
}

/* A random Q8_0/Q4_0 matrix whose block scales span the f16 range models
 * use: subnormal, typical, large. */
static void random_quant_rows(qw_dtype dt, int rows, int n, uint8_t *q) {
    int bb = dt == QW_DT_Q8_0 ? 34 : 18, rb = n / 32 * bb;
    for (int i = 0; i < rows * rb; i++) q[i] = byte_rand();
    for (int r = 0; r < rows; r++)
        for (int b = 0; b < n / 32; b++) {
            float mag = b % 4 == 3 ? 1e-6f : b % 4 == 2 ? 3.0f : 0.01f;
            uint16_t d = f32_to_f16(frand() * mag);
            if (mag < 1e-5f) d = (uint16_t)((d & 0x8000) | (rng >> 20 & 0x3ff));
            q[r * rb + b * bb] = (uint8_t)d;
            q[r * rb + b * bb + 1] = (uint8_t)(d >> 8);
        }
}

/* Every int8 micro-kernel variant this CPU runs equals the scalar reference
 * to the bit, for every tile of rows and tokens; activations of wildly
 * different block magnitudes, zero blocks included. */
static void test_qtile_variants(qw_dtype dt) {
    const qw_qtile_kernels *all[QW_QTILE_VARIANTS];
    int n_variants = qw_qtile_all(all);
    const int lens[] = {32, 64, 96, 1024};
    for (int v = 0; v < n_variants; v++) {
        qw_qtile_fn fn = dt == QW_DT_Q8_0 ? all[v]->q8_0 : all[v]->q4_0;
        int bad = 0;
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            int n = lens[li], nt_max = QW_QTILE_NT, rb = (int)qw_dtype_row_bytes(dt, n);
            int64_t ldx = qw_qx_bytes(n);
            uint8_t *q = malloc((size_t)(QW_QGROUP * rb));
            uint8_t *packed = aligned_alloc(64, (size_t)qw_qpack_group_bytes(dt, n));
            uint8_t *xq = aligned_alloc(64, (size_t)(nt_max * ldx));
            float *x = malloc(sizeof(float) * nt_max * n), *yr = malloc(sizeof(float) * nt_max * QW_QGROUP);
            random_quant_rows(dt, QW_QGROUP, n, q);
            for (int i = 0; i < nt_max * n; i++) {
                int blk = i / 32 % 5;
                x[i] = blk == 4 ? 0.0f : frand() * (blk == 3 ? 1e4f : blk == 2 ? 1e-4f : 1.0f);
            }
            for (int t = 0; t < nt_max; t++) qw_qx_quantize(dt, x + t * n, n, xq + t * ldx);
            for (int nr = 1; nr <= QW_QGROUP; nr += nr < 4 ? 1 : 5) {
                qw_mat w = {.data = q, .dtype = dt, .rows = nr, .cols = n};
                qw_qpack_group(&w, 0, packed);
                ref_matmul(NULL, &w, x, yr, nt_max);
                for (int nt = 1; nt <= nt_max; nt++) {
                    float y[QW_QTILE_NT * QW_QGROUP + 1];
                    y[nt * nr] = 12345.0f;
                    fn(packed, n / 32, xq, ldx, nt, y, nr, nr);
                    bad += memcmp(y, yr, sizeof(float) * nt * nr) != 0 || y[nt * nr] != 12345.0f;
                }
            }
            free(q); free(packed); free(xq); free(x); free(yr);
        }
        CHECK(bad == 0, "%s %s: %d tiles differ from the scalar int8 reference", all[v]->name, qw_dtype_name(dt), bad);
    }
    printf("%s int8 micro-kernel variants tested on this CPU: %d (best: %s)\n", qw_dtype_name(dt), n_variants,
           qw_qtile_best()->name);
    CHECK(qw_qtile_best() == all[0], "variants listed, best first");
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw"))
        CHECK(!strcmp(all[0]->name, "avx512-vnni"), "this CPU has AVX-512 VNNI, yet the best variant is %s",
              all[0]->name);
    if (__builtin_cpu_supports("avx2")) CHECK(n_variants >= 2, "this CPU has AVX2, yet no AVX2 variant runs");
#endif
}

static void add_task(void *ctx, int task, int thread) {
    (void)thread;
    ((int *)ctx)[task] += task + 1;
}

/* Each task marks its thread's scratch; the marks land in the right buffer. */
typedef struct {
    qw_pool *pool;
    int *hits;  /* [thread] */
} scratch_ctx;

static void scratch_task(void *ctx, int task, int thread) {
    scratch_ctx *c = ctx;
    int *buf = qw_pool_scratch(c->pool, thread);
    buf[task % 1000]++;
    buf[1000] = thread;
    c->hits[thread]++;
}

/* Per-thread scratch: reserved once, kept while big enough, distinct and
 * aligned per thread; a NULL pool or an impossible size is refused. */
static void test_pool_scratch(void) {
    for (int threads = 1; threads <= 3; threads++) {
        qw_pool *p = qw_pool_new(threads);
        CHECK(qw_pool_reserve(p, 1001 * sizeof(int)) == 0, "reserve");
        void *first[3];
        int ok = 1;
        for (int t = 0; t < threads; t++) {
            first[t] = qw_pool_scratch(p, t);
            ok &= first[t] && (uintptr_t)first[t] % 64 == 0;
            for (int u = 0; u < t; u++) ok &= first[u] != first[t];
            memset(first[t], 0, 1001 * sizeof(int));
        }
        CHECK(ok, "%d threads: scratch buffers distinct and 64-byte aligned", threads);
        CHECK(qw_pool_reserve(p, 100) == 0 && qw_pool_scratch(p, 0) == first[0], "a smaller reserve keeps the buffer");
        int hits[3] = {0};
        scratch_ctx c = {p, hits};
        qw_pool_run(p, scratch_task, &c, 5000);
        int sum = 0;
        for (int t = 0; t < threads; t++) {
            const int *b = qw_pool_scratch(p, t);
            int marks = 0;
            for (int i = 0; i < 1000; i++) marks += b[i];
            sum += marks;
            ok &= marks == hits[t] && (!hits[t] || b[1000] == t);
        }
        CHECK(ok && sum == 5000, "%d threads: each task used its own thread's scratch", threads);
        CHECK(qw_pool_reserve(p, 1 << 20) == 0 && qw_pool_scratch(p, threads - 1) != NULL, "grow");
        if (!getenv("QWENC_SANITIZED"))  /* ASan aborts on impossible sizes instead of returning NULL */
            CHECK(qw_pool_reserve(p, SIZE_MAX - 8) == -1, "an impossible size is refused");
        qw_pool_free(p);
    }
    CHECK(qw_pool_reserve(NULL, 16) == -1 && qw_pool_reserve_shared(NULL, 16) == -1, "no pool, no scratch");
    /* the shared buffer: one for all threads, its own, kept while big enough */
    qw_pool *p = qw_pool_new(2);
    CHECK(qw_pool_reserve(p, 64) == 0 && qw_pool_reserve_shared(p, 1000) == 0, "reserve shared");
    void *shared = qw_pool_shared(p);
    CHECK(shared && (uintptr_t)shared % 64 == 0 && shared != qw_pool_scratch(p, 0) && shared != qw_pool_scratch(p, 1),
          "the shared buffer is aligned and apart from the per-thread ones");
    memset(shared, 7, 1000);
    CHECK(qw_pool_reserve_shared(p, 10) == 0 && qw_pool_shared(p) == shared, "a smaller reserve keeps the buffer");
    CHECK(qw_pool_reserve_shared(p, 1 << 20) == 0 && qw_pool_shared(p) != NULL, "the shared buffer grows");
    if (!getenv("QWENC_SANITIZED"))
        CHECK(qw_pool_reserve_shared(p, SIZE_MAX - 8) == -1 && qw_pool_shared(p) != NULL,
              "an impossible size is refused, the buffer kept");
    qw_pool_free(p);
}

/* Task 0 takes 3 ms (longer than the pool's spin); every task adds 1. */
static void slow_first_task(void *ctx, int task, int thread) {
    (void)thread;
    if (task == 0) {
        struct timespec t = {0, 3000000};
        nanosleep(&t, NULL);
    }
    ((int *)ctx)[task] += 1;
}

static void test_pool(void) {
    for (int threads = 1; threads <= 4; threads++) {
        qw_pool *p = qw_pool_new(threads);
        CHECK(qw_pool_size(p) == threads, "pool size");
        int out[1000] = {0};
        for (int rep = 0; rep < 50; rep++) qw_pool_run(p, add_task, out, 1000);
        int ok = 1;
        for (int i = 0; i < 1000; i++) ok &= out[i] == 50 * (i + 1);
        CHECK(ok, "pool with %d threads ran every task exactly once per job", threads);
        /* jobs far enough apart that workers (and the caller) park, and a
         * job with one slow task so the caller waits for a worker */
        memset(out, 0, sizeof out);
        for (int rep = 0; rep < 5; rep++) {
            struct timespec gap = {0, 2000000};  /* 2 ms: past the spin */
            nanosleep(&gap, NULL);
            qw_pool_run(p, add_task, out, 1000);
            qw_pool_run(p, slow_first_task, out, threads);
        }
        ok = 1;
        for (int i = 0; i < 1000; i++) ok &= out[i] == 5 * (i + 1) + (i < threads ? 5 : 0);
        CHECK(ok, "pool with %d threads: jobs after parking, and a slow task, ran exactly once", threads);
        qw_pool_free(p);
    }
}

int main(void) {
    test_tile_variants();
    test_qx_quantize();
    test_qx_variants();
    test_qtile_variants(QW_DT_Q8_0);
    test_qtile_variants(QW_DT_Q4_0);
    test_matmul();
    test_matmul_many();
    test_rmsnorm_rope_swiglu();
    test_attention();
    test_pool();
    test_pool_scratch();
    return check_summary();
}
