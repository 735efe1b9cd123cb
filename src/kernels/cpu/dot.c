#include "kernels/cpu/dot.h"

#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define QW_X86 1
#endif

static inline float bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* ---- portable: 8 independent accumulators the compiler can vectorize ---- */

#define PORTABLE_DOT(NAME, TA, LOAD)                                                     \
    static float NAME(const TA *a, const float *b, int64_t n) {                          \
        float acc[8] = {0};                                                              \
        int64_t i = 0;                                                                   \
        for (; i + 8 <= n; i += 8)                                                       \
            for (int k = 0; k < 8; k++) acc[k] += LOAD(a[i + k]) * b[i + k];             \
        float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])); \
        for (; i < n; i++) s += LOAD(a[i]) * b[i];                                       \
        return s;                                                                        \
    }
#define LOAD_F32(x) (x)
PORTABLE_DOT(dot_f32_portable, float, LOAD_F32)
PORTABLE_DOT(dot_bf16_portable, uint16_t, bf16_to_f32)

static const qw_dot_kernels portable = {"portable", dot_f32_portable, dot_bf16_portable};

#ifdef QW_X86
/* ---- AVX2 + FMA: 4 x 8 lanes ---- */

__attribute__((target("avx2,fma"))) static inline __m256 ld8_f32(const float *p) { return _mm256_loadu_ps(p); }
__attribute__((target("avx2,fma"))) static inline __m256 ld8_bf16(const uint16_t *p) {
    __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}

__attribute__((target("avx2,fma"))) static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

#define AVX2_DOT(NAME, TA, LD, LOAD1)                                                            \
    __attribute__((target("avx2,fma"))) static float NAME(const TA *a, const float *b, int64_t n) { \
        __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;                              \
        int64_t i = 0;                                                                           \
        for (; i + 32 <= n; i += 32) {                                                           \
            s0 = _mm256_fmadd_ps(LD(a + i), _mm256_loadu_ps(b + i), s0);                         \
            s1 = _mm256_fmadd_ps(LD(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);                 \
            s2 = _mm256_fmadd_ps(LD(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);               \
            s3 = _mm256_fmadd_ps(LD(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);               \
        }                                                                                        \
        for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(LD(a + i), _mm256_loadu_ps(b + i), s0);  \
        float s = hsum8(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));           \
        for (; i < n; i++) s += LOAD1(a[i]) * b[i];                                              \
        return s;                                                                                \
    }
AVX2_DOT(dot_f32_avx2, float, ld8_f32, LOAD_F32)
AVX2_DOT(dot_bf16_avx2, uint16_t, ld8_bf16, bf16_to_f32)

static const qw_dot_kernels avx2 = {"avx2", dot_f32_avx2, dot_bf16_avx2};

/* ---- AVX-512F: 4 x 16 lanes ---- */

__attribute__((target("avx512f"))) static inline __m512 ld16_f32(const float *p) { return _mm512_loadu_ps(p); }
__attribute__((target("avx512f"))) static inline __m512 ld16_bf16(const uint16_t *p) {
    __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
}

#define AVX512_DOT(NAME, TA, LD, LOAD1)                                                        \
    __attribute__((target("avx512f"))) static float NAME(const TA *a, const float *b, int64_t n) { \
        __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;                            \
        int64_t i = 0;                                                                         \
        for (; i + 64 <= n; i += 64) {                                                         \
            s0 = _mm512_fmadd_ps(LD(a + i), _mm512_loadu_ps(b + i), s0);                       \
            s1 = _mm512_fmadd_ps(LD(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);             \
            s2 = _mm512_fmadd_ps(LD(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);             \
            s3 = _mm512_fmadd_ps(LD(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);             \
        }                                                                                      \
        for (; i + 16 <= n; i += 16) s0 = _mm512_fmadd_ps(LD(a + i), _mm512_loadu_ps(b + i), s0); \
        float s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3))); \
        for (; i < n; i++) s += LOAD1(a[i]) * b[i];                                            \
        return s;                                                                              \
    }
AVX512_DOT(dot_f32_avx512, float, ld16_f32, LOAD_F32)
AVX512_DOT(dot_bf16_avx512, uint16_t, ld16_bf16, bf16_to_f32)

static const qw_dot_kernels avx512 = {"avx512", dot_f32_avx512, dot_bf16_avx512};
#endif

const qw_dot_kernels *const *qw_dot_all(void) {
    /* Chosen on each call from a constant table: cheap, and no mutable global. */
    static const qw_dot_kernels *const all_x86[] = {
#ifdef QW_X86
        &avx512, &avx2,
#endif
        &portable, NULL};
#ifdef QW_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return all_x86;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return all_x86 + 1;
    return all_x86 + 2;
#else
    return all_x86;
#endif
}

const qw_dot_kernels *qw_dot_best(void) { return qw_dot_all()[0]; }
