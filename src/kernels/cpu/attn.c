#include "kernels/cpu/attn.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/simd_exp.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define QW_X86 1
#endif

#define INLINE static inline __attribute__((always_inline))

enum { GROUP_TOK = 4, GROUP_HEADS = 4, GROUP_Q = GROUP_HEADS * GROUP_TOK };

/* ---- the driver, shared by every variant ---- */

typedef struct {
    const qw_attn_kernels *k;
    const qw_attn_args *a;
    int n_chunks, head_groups;  /* tasks: chunks of GROUP_TOK tokens x groups of heads */
} attn_job;

static int first_key(const qw_attn_args *a, int pos) {
    return a->window > 0 && pos - a->window + 1 > 0 ? pos - a->window + 1 : 0;
}

/* One query's part of a block: keys i0..i1 (block offsets; none when i0 >
 * i1), the factor c its sums were rescaled by, and its weights w[i0..i1]. */
typedef struct {
    int i0, i1;
    float c;
    float *o, *w;
} query_part;

/* The weighted sums of a block's values into every query's output. Keys
 * that all the queries take are read once for all of them (accumulate_shared);
 * each query's own keys before and after those go alone. A query's outputs
 * see the same operations in the same order either way. */
static void block_values(const attn_job *j, const float *v, query_part *q, int nq) {
    int hd = j->a->head_dim, s0 = 0, s1 = QW_ATTN_MAX_BLOCK;
    for (int i = 0; i < nq; i++) {
        s0 = q[i].i0 > s0 ? q[i].i0 : s0;
        s1 = q[i].i1 < s1 ? q[i].i1 : s1;
    }
    if (s0 > s1) s0 = s1 = QW_ATTN_MAX_BLOCK;  /* no key they all take: each alone */
    float *o[GROUP_Q];
    const float *w[GROUP_Q];
    for (int i = 0; i < nq; i++) {
        int head_end = s0 < q[i].i1 + 1 ? s0 : q[i].i1 + 1;
        j->k->accumulate(q[i].o, q[i].c, q[i].w + q[i].i0, v + (int64_t)q[i].i0 * hd, head_end - q[i].i0, hd);
        o[i] = q[i].o, w[i] = q[i].w + s0;
    }
    if (s0 > s1) return;
    j->k->accumulate_shared(o, w, nq, v + (int64_t)s0 * hd, s1 - s0 + 1, hd);
    for (int i = 0; i < nq; i++)
        if (q[i].i1 > s1)
            j->k->accumulate(q[i].o, 1.0f, q[i].w + s1 + 1, v + (int64_t)(s1 + 1) * hd, q[i].i1 - s1, hd);
}

/* Tokens t0..t0+nt-1 of one sequence at consecutive positions, heads
 * h0..h0+nh-1 of one KV head. */
static void attend_group(const attn_job *j, int t0, int nt, int h0, int nh) {
    const qw_attn_args *a = j->a;
    int hd = a->head_dim, qd = a->n_heads * hd, nq = nt * nh;
    int kh = h0 / (a->n_heads / a->n_kv_heads), p0 = a->pos[t0];
    int lo = first_key(a, p0), hi = p0 + nt - 1;
    const int32_t *table = a->tables[t0];
    float s[GROUP_Q][QW_ATTN_MAX_BLOCK], w[GROUP_Q][QW_ATTN_MAX_BLOCK], mx[GROUP_Q], sum[GROUP_Q];
    const float *q[GROUP_Q];
    float *o[GROUP_Q];
    query_part part[GROUP_Q];
    for (int i = 0; i < nq; i++) {  /* query i: token t0 + i / nh, head h0 + i % nh */
        int64_t at = (int64_t)(t0 + i / nh) * qd + (int64_t)(h0 + i % nh) * hd;
        q[i] = a->q + at, o[i] = a->out + at;
        mx[i] = -INFINITY, sum[i] = 0;
        memset(o[i], 0, (size_t)hd * sizeof(float));
    }
    for (int b = lo / a->block; b <= hi / a->block; b++) {
        int k0 = b * a->block > lo ? b * a->block : lo, k1 = (b + 1) * a->block - 1 < hi ? (b + 1) * a->block - 1 : hi;
        j->k->scores(q, nq, qw_attn_key(a, table, k0, kh), a->block, k1 - k0 + 1, hd, a->scale, s);
        int np = 0;
        for (int i = 0; i < nq; i++) {
            /* this query's part of the block: keys in [first_key(pos), pos] */
            int pos = p0 + i / nh, f = first_key(a, pos);
            int i0 = (f > k0 ? f : k0) - k0, i1 = (pos < k1 ? pos : k1) - k0, n = i1 - i0 + 1;
            if (n <= 0) continue;
            float bmx = -INFINITY, c = 1.0f;
            for (int k = i0; k <= i1; k++) bmx = s[i][k] > bmx ? s[i][k] : bmx;
            if (bmx > mx[i]) {  /* rescale what was summed under the old maximum */
                c = expf(mx[i] - bmx);
                sum[i] *= c;
                mx[i] = bmx;
            }
            sum[i] += j->k->weights(s[i] + i0, n, mx[i], w[np] + i0);
            part[np] = (query_part){i0, i1, c, o[i], w[np]};
            np++;
        }
        block_values(j, qw_attn_value(a, table, k0, kh), part, np);
    }
    for (int i = 0; i < nq; i++) {
        float inv = 1.0f / sum[i];
        for (int d = 0; d < hd; d++) o[i][d] *= inv;
    }
}

/* A chunk of GROUP_TOK batch tokens x a group of heads, split into runs of
 * one sequence at consecutive positions. Tasks go out head group by head
 * group, so that a thread's next task reads the same KV head (in its L2),
 * and within a group last chunk first: under causal attention the later
 * tokens have the most keys. */
static void attention_task(void *ctx, int task, int thread) {
    (void)thread;
    const attn_job *j = ctx;
    const qw_attn_args *a = j->a;
    int rep = a->n_heads / a->n_kv_heads, per_kv = (rep + GROUP_HEADS - 1) / GROUP_HEADS;
    int c = j->n_chunks - 1 - task % j->n_chunks, g = task / j->n_chunks;
    int h0 = g / per_kv * rep + g % per_kv * GROUP_HEADS;
    int nh = rep - g % per_kv * GROUP_HEADS < GROUP_HEADS ? rep - g % per_kv * GROUP_HEADS : GROUP_HEADS;
    int end = (c + 1) * GROUP_TOK < a->n_tok ? (c + 1) * GROUP_TOK : a->n_tok;
    for (int t0 = c * GROUP_TOK, t1; t0 < end; t0 = t1) {
        for (t1 = t0 + 1; t1 < end && a->tables[t1] == a->tables[t0] && a->pos[t1] == a->pos[t1 - 1] + 1; t1++) {}
        attend_group(j, t0, t1 - t0, h0, nh);
    }
}

void qw_attn_run(qw_pool *pool, const qw_attn_args *a, const qw_attn_kernels *k) {
    int rep = a->n_heads / a->n_kv_heads;
    attn_job j = {k, a, (a->n_tok + GROUP_TOK - 1) / GROUP_TOK,
                  a->n_kv_heads * ((rep + GROUP_HEADS - 1) / GROUP_HEADS)};
    qw_pool_run(pool, attention_task, &j, j.n_chunks * j.head_groups);
}

/* ---- portable ---- */

static void scores_portable(const float *const *q, int nq, const float *k, int ldk, int n, int hd, float scale,
                            float (*s)[QW_ATTN_MAX_BLOCK]) {
    for (int j = 0; j < nq; j++)
        for (int i = 0; i < n; i++) {
            float acc = 0;
            for (int d = 0; d < hd; d++) acc += q[j][d] * k[(int64_t)d * ldk + i];
            s[j][i] = acc * scale;
        }
}

static float weights_portable(const float *s, int n, float mx, float *w) {
    float sum = 0;
    for (int i = 0; i < n; i++) sum += w[i] = expf(s[i] - mx);
    return sum;
}

static void accumulate_portable(float *o, float c, const float *w, const float *v, int n, int hd) {
    for (int d = 0; d < hd; d++) o[d] *= c;
    for (int i = 0; i < n; i++)
        for (int d = 0; d < hd; d++) o[d] += w[i] * v[(int64_t)i * hd + d];
}

static void accumulate_shared_portable(float *const *o, const float *const *w, int nq, const float *v, int n,
                                       int hd) {
    for (int q = 0; q < nq; q++)
        for (int i = 0; i < n; i++)
            for (int d = 0; d < hd; d++) o[q][d] += w[q][i] * v[(int64_t)i * hd + d];
}

static const qw_attn_kernels portable = {"portable", scores_portable, weights_portable, accumulate_portable,
                                         accumulate_shared_portable};

#ifdef QW_X86
/* ---- AVX-512 ---- */

#define T512 __attribute__((target("avx512f"))) INLINE

/* NQ queries x 32 keys from i (the first n of them): two vectors of keys
 * per query, one chain over the dimensions each. */
T512 void scores512_chunk(const float *const *q, int nq, const float *k, int ldk, int i, int n, int hd, float scale,
                          float (*s)[QW_ATTN_MAX_BLOCK]) {
    __mmask16 m0 = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);
    __mmask16 m1 = n - i >= 32 ? 0xffff : n - i <= 16 ? 0 : (__mmask16)((1u << (n - i - 16)) - 1);
    __m512 acc[4][2];
    for (int j = 0; j < nq; j++) acc[j][0] = acc[j][1] = _mm512_setzero_ps();
    for (int d = 0; d < hd; d++) {
        __m512 k0 = _mm512_maskz_loadu_ps(m0, k + (int64_t)d * ldk + i);
        __m512 k1 = _mm512_maskz_loadu_ps(m1, k + (int64_t)d * ldk + i + 16);
        for (int j = 0; j < nq; j++) {
            __m512 qd = _mm512_set1_ps(q[j][d]);
            acc[j][0] = _mm512_fmadd_ps(qd, k0, acc[j][0]);
            acc[j][1] = _mm512_fmadd_ps(qd, k1, acc[j][1]);
        }
    }
    __m512 sc = _mm512_set1_ps(scale);
    for (int j = 0; j < nq; j++) {
        _mm512_mask_storeu_ps(s[j] + i, m0, _mm512_mul_ps(acc[j][0], sc));
        _mm512_mask_storeu_ps(s[j] + i + 16, m1, _mm512_mul_ps(acc[j][1], sc));
    }
}

__attribute__((target("avx512f"))) static void scores_avx512(const float *const *q, int nq, const float *k, int ldk,
                                                              int n, int hd, float scale, float (*s)[QW_ATTN_MAX_BLOCK]) {
    for (int j0 = 0, c; j0 < nq; j0 += c) {  /* 4 queries at a time (registers), then 2, 1 */
        c = nq - j0 >= 4 ? 4 : nq - j0 >= 2 ? 2 : 1;
        for (int i = 0; i < n; i += 32) switch (c) {
            case 4: scores512_chunk(q + j0, 4, k, ldk, i, n, hd, scale, s + j0); break;
            case 2: scores512_chunk(q + j0, 2, k, ldk, i, n, hd, scale, s + j0); break;
            default: scores512_chunk(q + j0, 1, k, ldk, i, n, hd, scale, s + j0); break;
            }
    }
}

__attribute__((target("avx512f"))) static float weights_avx512(const float *s, int n, float mx, float *w) {
    __m512 m = _mm512_set1_ps(mx), sum = _mm512_setzero_ps();
    for (int i = 0; i < n; i += 16) {
        __mmask16 k = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512 e = _mm512_maskz_mov_ps(k, qw_exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, s + i), m)));
        _mm512_mask_storeu_ps(w + i, k, e);
        sum = _mm512_add_ps(sum, e);
    }
    return _mm512_reduce_add_ps(sum);
}

/* NA registers of 16 lanes of o (under mask m), kept in registers over the
 * n value rows. */
T512 void accumulate512_chunk(float *o, __m512 c, const float *w, const float *v, int64_t ldv, int n, int na,
                              __mmask16 m) {
    __m512 acc[8];
    for (int r = 0; r < na; r++) acc[r] = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, o + 16 * r), c);
    for (int i = 0; i < n; i++) {
        __m512 wi = _mm512_set1_ps(w[i]);
        for (int r = 0; r < na; r++) acc[r] = _mm512_fmadd_ps(wi, _mm512_maskz_loadu_ps(m, v + i * ldv + 16 * r), acc[r]);
    }
    for (int r = 0; r < na; r++) _mm512_mask_storeu_ps(o + 16 * r, m, acc[r]);
}

__attribute__((target("avx512f"))) static void accumulate_avx512(float *o, float c, const float *w, const float *v,
                                                                  int n, int hd) {
    __m512 cv = _mm512_set1_ps(c);
    int d = 0;
    for (; d + 128 <= hd; d += 128) accumulate512_chunk(o + d, cv, w, v + d, hd, n, 8, 0xffff);
    for (; d + 64 <= hd; d += 64) accumulate512_chunk(o + d, cv, w, v + d, hd, n, 4, 0xffff);
    for (; d + 16 <= hd; d += 16) accumulate512_chunk(o + d, cv, w, v + d, hd, n, 1, 0xffff);
    if (d < hd) accumulate512_chunk(o + d, cv, w, v + d, hd, n, 1, (__mmask16)((1u << (hd - d)) - 1));
}

/* NQ queries' 16 lanes at d (under mask m), each value chunk loaded once
 * for all of them. */
T512 void shared512_chunk(float *const *o, const float *const *w, int nq, const float *v, int64_t ldv, int n, int d,
                          __mmask16 m) {
    __m512 acc[8];
    for (int q = 0; q < nq; q++) acc[q] = _mm512_maskz_loadu_ps(m, o[q] + d);
    for (int i = 0; i < n; i++) {
        __m512 vi = _mm512_maskz_loadu_ps(m, v + i * ldv + d);
        for (int q = 0; q < nq; q++) acc[q] = _mm512_fmadd_ps(_mm512_set1_ps(w[q][i]), vi, acc[q]);
    }
    for (int q = 0; q < nq; q++) _mm512_mask_storeu_ps(o[q] + d, m, acc[q]);
}

__attribute__((target("avx512f"))) static void accumulate_shared_avx512(float *const *o, const float *const *w, int nq,
                                                                         const float *v, int n, int hd) {
    for (int q0 = 0, k; q0 < nq; q0 += k) {  /* 8 queries at a time (registers), then 4, 2, 1 */
        k = nq - q0 >= 8 ? 8 : nq - q0 >= 4 ? 4 : nq - q0 >= 2 ? 2 : 1;
        for (int d = 0; d < hd; d += 16) {
            __mmask16 m = hd - d >= 16 ? 0xffff : (__mmask16)((1u << (hd - d)) - 1);
            switch (k) {
            case 8: shared512_chunk(o + q0, w + q0, 8, v, hd, n, d, m); break;
            case 4: shared512_chunk(o + q0, w + q0, 4, v, hd, n, d, m); break;
            case 2: shared512_chunk(o + q0, w + q0, 2, v, hd, n, d, m); break;
            default: shared512_chunk(o + q0, w + q0, 1, v, hd, n, d, m); break;
            }
        }
    }
}

static const qw_attn_kernels avx512 = {"avx512", scores_avx512, weights_avx512, accumulate_avx512,
                                       accumulate_shared_avx512};

/* ---- AVX2 ---- */

#define T256 __attribute__((target("avx2,fma"))) INLINE

T256 __m256i mask256(int k) {  /* the first k of 8 lanes */
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(k), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

T256 void scores256_chunk(const float *const *q, int nq, const float *k, int ldk, int i, int n, int hd, float scale,
                          float (*s)[QW_ATTN_MAX_BLOCK]) {
    __m256i m0 = mask256(n - i), m1 = mask256(n - i - 8);
    __m256 acc[4][2];
    for (int j = 0; j < nq; j++) acc[j][0] = acc[j][1] = _mm256_setzero_ps();
    for (int d = 0; d < hd; d++) {
        __m256 k0 = _mm256_maskload_ps(k + (int64_t)d * ldk + i, m0);
        __m256 k1 = _mm256_maskload_ps(k + (int64_t)d * ldk + i + 8, m1);
        for (int j = 0; j < nq; j++) {
            __m256 qd = _mm256_set1_ps(q[j][d]);
            acc[j][0] = _mm256_fmadd_ps(qd, k0, acc[j][0]);
            acc[j][1] = _mm256_fmadd_ps(qd, k1, acc[j][1]);
        }
    }
    __m256 sc = _mm256_set1_ps(scale);
    for (int j = 0; j < nq; j++) {
        _mm256_maskstore_ps(s[j] + i, m0, _mm256_mul_ps(acc[j][0], sc));
        _mm256_maskstore_ps(s[j] + i + 8, m1, _mm256_mul_ps(acc[j][1], sc));
    }
}

__attribute__((target("avx2,fma"))) static void scores_avx2(const float *const *q, int nq, const float *k, int ldk,
                                                            int n, int hd, float scale, float (*s)[QW_ATTN_MAX_BLOCK]) {
    for (int j0 = 0, c; j0 < nq; j0 += c) {
        c = nq - j0 >= 4 ? 4 : nq - j0 >= 2 ? 2 : 1;
        for (int i = 0; i < n; i += 16) switch (c) {
            case 4: scores256_chunk(q + j0, 4, k, ldk, i, n, hd, scale, s + j0); break;
            case 2: scores256_chunk(q + j0, 2, k, ldk, i, n, hd, scale, s + j0); break;
            default: scores256_chunk(q + j0, 1, k, ldk, i, n, hd, scale, s + j0); break;
            }
    }
}

__attribute__((target("avx2,fma"))) static float weights_avx2(const float *s, int n, float mx, float *w) {
    __m256 m = _mm256_set1_ps(mx), sum = _mm256_setzero_ps();
    for (int i = 0; i < n; i += 8) {
        __m256i k = mask256(n - i);
        __m256 e = _mm256_and_ps(qw_exp256(_mm256_sub_ps(_mm256_maskload_ps(s + i, k), m)), _mm256_castsi256_ps(k));
        _mm256_maskstore_ps(w + i, k, e);
        sum = _mm256_add_ps(sum, e);
    }
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(sum), _mm256_extractf128_ps(sum, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    return _mm_cvtss_f32(_mm_add_ss(h, _mm_movehdup_ps(h)));
}

T256 void accumulate256_chunk(float *o, __m256 c, const float *w, const float *v, int64_t ldv, int n, int na,
                              __m256i m) {
    __m256 acc[8];
    for (int r = 0; r < na; r++) acc[r] = _mm256_mul_ps(_mm256_maskload_ps(o + 8 * r, m), c);
    for (int i = 0; i < n; i++) {
        __m256 wi = _mm256_set1_ps(w[i]);
        for (int r = 0; r < na; r++) acc[r] = _mm256_fmadd_ps(wi, _mm256_maskload_ps(v + i * ldv + 8 * r, m), acc[r]);
    }
    for (int r = 0; r < na; r++) _mm256_maskstore_ps(o + 8 * r, m, acc[r]);
}

__attribute__((target("avx2,fma"))) static void accumulate_avx2(float *o, float c, const float *w, const float *v,
                                                                int n, int hd) {
    __m256 cv = _mm256_set1_ps(c);
    __m256i all = _mm256_set1_epi32(-1);
    int d = 0;
    for (; d + 64 <= hd; d += 64) accumulate256_chunk(o + d, cv, w, v + d, hd, n, 8, all);
    for (; d + 8 <= hd; d += 8) accumulate256_chunk(o + d, cv, w, v + d, hd, n, 1, all);
    if (d < hd) accumulate256_chunk(o + d, cv, w, v + d, hd, n, 1, mask256(hd - d));
}

T256 void shared256_chunk(float *const *o, const float *const *w, int nq, const float *v, int64_t ldv, int n, int d,
                          __m256i m) {
    __m256 acc[8];
    for (int q = 0; q < nq; q++) acc[q] = _mm256_maskload_ps(o[q] + d, m);
    for (int i = 0; i < n; i++) {
        __m256 vi = _mm256_maskload_ps(v + i * ldv + d, m);
        for (int q = 0; q < nq; q++) acc[q] = _mm256_fmadd_ps(_mm256_set1_ps(w[q][i]), vi, acc[q]);
    }
    for (int q = 0; q < nq; q++) _mm256_maskstore_ps(o[q] + d, m, acc[q]);
}

__attribute__((target("avx2,fma"))) static void accumulate_shared_avx2(float *const *o, const float *const *w, int nq,
                                                                       const float *v, int n, int hd) {
    for (int q0 = 0, k; q0 < nq; q0 += k) {
        k = nq - q0 >= 8 ? 8 : nq - q0 >= 4 ? 4 : nq - q0 >= 2 ? 2 : 1;
        for (int d = 0; d < hd; d += 8) {
            __m256i m = mask256(hd - d);
            switch (k) {
            case 8: shared256_chunk(o + q0, w + q0, 8, v, hd, n, d, m); break;
            case 4: shared256_chunk(o + q0, w + q0, 4, v, hd, n, d, m); break;
            case 2: shared256_chunk(o + q0, w + q0, 2, v, hd, n, d, m); break;
            default: shared256_chunk(o + q0, w + q0, 1, v, hd, n, d, m); break;
            }
        }
    }
}

static const qw_attn_kernels avx2 = {"avx2", scores_avx2, weights_avx2, accumulate_avx2, accumulate_shared_avx2};
#endif

const qw_attn_kernels *const *qw_attn_all(void) {
    static const qw_attn_kernels *const table[] = {
#ifdef QW_X86
        &avx512, &avx2,
#endif
        &portable, NULL};
    return table + qw_cpu_float_variant();
}

const qw_attn_kernels *qw_attn_best(void) { return qw_attn_all()[0]; }
