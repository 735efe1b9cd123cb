#include "kernels/cpu/tile.h"
#include "kernels/cpu/cpu_features.h"

#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#define QW_X86 1
#endif

#define INLINE static inline __attribute__((always_inline))

/* Each variant is one always-inline body taking the tile size as constants,
 * instantiated for every (nr, nt) so the accumulators live in registers, and
 * a switch that picks the instance. */
#define DISPATCH(PREFIX, TW)                                                                        \
    DEF(PREFIX, TW, 1, 1) DEF(PREFIX, TW, 1, 2) DEF(PREFIX, TW, 1, 3) DEF(PREFIX, TW, 1, 4)         \
    DEF(PREFIX, TW, 2, 1) DEF(PREFIX, TW, 2, 2) DEF(PREFIX, TW, 2, 3) DEF(PREFIX, TW, 2, 4)         \
    DEF(PREFIX, TW, 3, 1) DEF(PREFIX, TW, 3, 2) DEF(PREFIX, TW, 3, 3) DEF(PREFIX, TW, 3, 4)         \
    DEF(PREFIX, TW, 4, 1) DEF(PREFIX, TW, 4, 2) DEF(PREFIX, TW, 4, 3) DEF(PREFIX, TW, 4, 4)         \
    static void PREFIX(const TW *w, int64_t ldw, int nr, const float *x, int64_t ldx, int nt, int64_t k, \
                       float *y, int64_t ldy) {                                                     \
        switch ((nr - 1) * 4 + (nt - 1)) {                                                          \
        case 0: PREFIX##_1_1(w, ldw, x, ldx, k, y, ldy); break;                                     \
        case 1: PREFIX##_1_2(w, ldw, x, ldx, k, y, ldy); break;                                     \
        case 2: PREFIX##_1_3(w, ldw, x, ldx, k, y, ldy); break;                                     \
        case 3: PREFIX##_1_4(w, ldw, x, ldx, k, y, ldy); break;                                     \
        case 4: PREFIX##_2_1(w, ldw, x, ldx, k, y, ldy); break;                                     \
        case 5: PREFIX##_2_2(w, ldw, x, ldx, k, y, ldy); break;                                     \
        case 6: PREFIX##_2_3(w, ldw, x, ldx, k, y, ldy); break;                                     \
        case 7: PREFIX##_2_4(w, ldw, x, ldx, k, y, ldy); break;                                     \
        case 8: PREFIX##_3_1(w, ldw, x, ldx, k, y, ldy); break;                                     \
        case 9: PREFIX##_3_2(w, ldw, x, ldx, k, y, ldy); break;                                     \
        case 10: PREFIX##_3_3(w, ldw, x, ldx, k, y, ldy); break;                                    \
        case 11: PREFIX##_3_4(w, ldw, x, ldx, k, y, ldy); break;                                    \
        case 12: PREFIX##_4_1(w, ldw, x, ldx, k, y, ldy); break;                                    \
        case 13: PREFIX##_4_2(w, ldw, x, ldx, k, y, ldy); break;                                    \
        case 14: PREFIX##_4_3(w, ldw, x, ldx, k, y, ldy); break;                                    \
        default: PREFIX##_4_4(w, ldw, x, ldx, k, y, ldy); break;                                    \
        }                                                                                           \
    }

/* ---- portable: 8 lanes of partial sums per output ---- */

INLINE float widen_bf16(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
INLINE float load_f32(const float *p) { return *p; }
INLINE float load_bf16(const uint16_t *p) { return widen_bf16(*p); }

#define PORTABLE_BODY(TW, LOAD, NR, NT)                                                   \
    float acc[NR][NT][8];                                                                 \
    memset(acc, 0, sizeof acc);                                                           \
    for (int64_t i = 0; i < k; i += 8) {                                                  \
        int m = k - i < 8 ? (int)(k - i) : 8;                                             \
        for (int r = 0; r < NR; r++)                                                      \
            for (int l = 0; l < m; l++) {                                                 \
                float wv = LOAD(w + r * ldw + i + l);                                     \
                for (int t = 0; t < NT; t++) acc[r][t][l] += wv * x[t * ldx + i + l];     \
            }                                                                             \
    }                                                                                     \
    for (int r = 0; r < NR; r++)                                                          \
        for (int t = 0; t < NT; t++) {                                                    \
            float *a = acc[r][t];                                                         \
            y[t * ldy + r] = ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7])); \
        }

#define DEF(PREFIX, TW, NR, NT)                                                                 \
    static void PREFIX##_##NR##_##NT(const TW *w, int64_t ldw, const float *x, int64_t ldx, int64_t k, \
                                     float *y, int64_t ldy) {                                   \
        PORTABLE_BODY(TW, PORTABLE_LOAD_##TW, NR, NT)                                           \
    }
#define PORTABLE_LOAD_float load_f32
#define PORTABLE_LOAD_uint16_t load_bf16
DISPATCH(tile_f32_portable, float)
DISPATCH(tile_bf16_portable, uint16_t)
#undef DEF

static const qw_tile_kernels portable = {"portable", tile_f32_portable, tile_bf16_portable};

#ifdef QW_X86
/* ---- AVX-512F: 16 lanes; the k tail through zero-padded copies ---- */

#define T512 __attribute__((target("avx512f"))) INLINE
T512 __m512 ld512_float(const float *p) { return _mm512_loadu_ps(p); }
T512 __m512 ld512_uint16_t(const uint16_t *p) {
    __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
}

#define AVX512_STEP(TW, WP, XP, XSTRIDE)                                                  \
    {                                                                                     \
        __m512 xv[NT];                                                                    \
        for (int t = 0; t < NT; t++) xv[t] = _mm512_loadu_ps((XP) + t * (XSTRIDE));       \
        for (int r = 0; r < NR; r++) {                                                    \
            __m512 wv = ld512_##TW(WP(r));                                                \
            for (int t = 0; t < NT; t++) acc[r][t] = _mm512_fmadd_ps(wv, xv[t], acc[r][t]); \
        }                                                                                 \
    }

/* bf16 rows stream from memory (the mapping), and a decode step reads each
 * once: the hardware prefetcher alone leaves a core short of the bandwidth,
 * so ask for the same columns of the next tile's rows, NR rows on. */
#define PREFETCH_NEXT_ROWS(TW, NR)                                                        \
    if (sizeof(TW) == 2)                                                                  \
        for (int r = 0; r < NR; r++) __builtin_prefetch(w + (NR + r) * ldw + i);

#define DEF(PREFIX, TW, NR_, NT_)                                                                \
    __attribute__((target("avx512f"))) static void PREFIX##_##NR_##_##NT_(                      \
        const TW *w, int64_t ldw, const float *x, int64_t ldx, int64_t k, float *y, int64_t ldy) { \
        enum { NR = NR_, NT = NT_ };                                                             \
        __m512 acc[NR][NT];                                                                      \
        for (int r = 0; r < NR; r++)                                                             \
            for (int t = 0; t < NT; t++) acc[r][t] = _mm512_setzero_ps();                        \
        int64_t i = 0;                                                                           \
        for (; i + 16 <= k; i += 16) {                                                           \
            PREFETCH_NEXT_ROWS(TW, NR)                                                           \
            AVX512_STEP(TW, W_AT, x + i, ldx)                                                    \
        }                                                                                        \
        if (i < k) {                                                                             \
            int m = (int)(k - i);                                                                \
            TW wt[NR][16];                                                                       \
            float xt[NT][16];                                                                    \
            memset(wt, 0, sizeof wt);                                                            \
            memset(xt, 0, sizeof xt);                                                            \
            for (int r = 0; r < NR; r++) memcpy(wt[r], w + r * ldw + i, (size_t)m * sizeof(TW)); \
            for (int t = 0; t < NT; t++) memcpy(xt[t], x + t * ldx + i, (size_t)m * sizeof(float)); \
            AVX512_STEP(TW, WT_AT, &xt[0][0], 16)                                                \
        }                                                                                        \
        for (int r = 0; r < NR; r++)                                                             \
            for (int t = 0; t < NT; t++) y[t * ldy + r] = _mm512_reduce_add_ps(acc[r][t]);       \
    }
#define W_AT(r) (w + (r) * ldw + i)
#define WT_AT(r) (wt[r])
DISPATCH(tile_f32_avx512, float)
DISPATCH(tile_bf16_avx512, uint16_t)
#undef DEF

static const qw_tile_kernels avx512 = {"avx512", tile_f32_avx512, tile_bf16_avx512};

/* ---- AVX2 + FMA: 8 lanes ---- */

#define T256 __attribute__((target("avx2,fma"))) INLINE
T256 __m256 ld256_float(const float *p) { return _mm256_loadu_ps(p); }
T256 __m256 ld256_uint16_t(const uint16_t *p) {
    __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}
T256 float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

#define AVX2_STEP(TW, WP, XP, XSTRIDE)                                                    \
    {                                                                                     \
        __m256 xv[NT];                                                                    \
        for (int t = 0; t < NT; t++) xv[t] = _mm256_loadu_ps((XP) + t * (XSTRIDE));       \
        for (int r = 0; r < NR; r++) {                                                    \
            __m256 wv = ld256_##TW(WP(r));                                                \
            for (int t = 0; t < NT; t++) acc[r][t] = _mm256_fmadd_ps(wv, xv[t], acc[r][t]); \
        }                                                                                 \
    }

#define DEF(PREFIX, TW, NR_, NT_)                                                                \
    __attribute__((target("avx2,fma"))) static void PREFIX##_##NR_##_##NT_(                     \
        const TW *w, int64_t ldw, const float *x, int64_t ldx, int64_t k, float *y, int64_t ldy) { \
        enum { NR = NR_, NT = NT_ };                                                             \
        __m256 acc[NR][NT];                                                                      \
        for (int r = 0; r < NR; r++)                                                             \
            for (int t = 0; t < NT; t++) acc[r][t] = _mm256_setzero_ps();                        \
        int64_t i = 0;                                                                           \
        for (; i + 8 <= k; i += 8) {                                                             \
            PREFETCH_NEXT_ROWS(TW, NR)                                                           \
            AVX2_STEP(TW, W_AT, x + i, ldx)                                                      \
        }                                                                                        \
        if (i < k) {                                                                             \
            int m = (int)(k - i);                                                                \
            TW wt[NR][8];                                                                        \
            float xt[NT][8];                                                                     \
            memset(wt, 0, sizeof wt);                                                            \
            memset(xt, 0, sizeof xt);                                                            \
            for (int r = 0; r < NR; r++) memcpy(wt[r], w + r * ldw + i, (size_t)m * sizeof(TW)); \
            for (int t = 0; t < NT; t++) memcpy(xt[t], x + t * ldx + i, (size_t)m * sizeof(float)); \
            AVX2_STEP(TW, WT_AT, &xt[0][0], 8)                                                   \
        }                                                                                        \
        for (int r = 0; r < NR; r++)                                                             \
            for (int t = 0; t < NT; t++) y[t * ldy + r] = hsum256(acc[r][t]);                    \
    }
DISPATCH(tile_f32_avx2, float)
DISPATCH(tile_bf16_avx2, uint16_t)
#undef DEF

static const qw_tile_kernels avx2 = {"avx2", tile_f32_avx2, tile_bf16_avx2};
#endif

const qw_tile_kernels *const *qw_tile_all(void) {
    /* Chosen on each call from a constant table: cheap, and no mutable global. */
    static const qw_tile_kernels *const table[] = {
#ifdef QW_X86
        &avx512, &avx2,
#endif
        &portable, NULL};
    return table + qw_cpu_float_variant();
}

const qw_tile_kernels *qw_tile_best(void) { return qw_tile_all()[0]; }
