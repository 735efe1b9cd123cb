/* exp(x) over a vector of floats, for the kernels' target-specific code
 * (attention weights, SiLU): x = n ln 2 + r, n = round(x / ln 2), with ln 2
 * in two parts so r is exact enough, and exp(r) by its Taylor series to
 * r^7: within 2 ulp, and exactly 1 at x = 0. One definition per ISA, so a
 * value does not depend on which kernel asked. */
#ifndef QW_KERNELS_CPU_SIMD_EXP_H
#define QW_KERNELS_CPU_SIMD_EXP_H

#if defined(__x86_64__)
#include <immintrin.h>

#define EXP_LN2_HI 0.693359375f
#define EXP_LN2_LO -2.12194440e-4f
#define EXP_POLY(FMA, SET, p, r)                                                               \
    p = FMA(SET(1.0f / 5040), r, SET(1.0f / 720));                                             \
    p = FMA(p, r, SET(1.0f / 120)), p = FMA(p, r, SET(1.0f / 24)), p = FMA(p, r, SET(1.0f / 6)); \
    p = FMA(p, r, SET(0.5f)), p = FMA(p, r, SET(1.0f)), p = FMA(p, r, SET(1.0f))

/* Every x: 0 below -104, infinity above 89, NaN for NaN. */
__attribute__((target("avx512f"))) static inline __m512 qw_exp512(__m512 x) {
    x = _mm512_max_ps(_mm512_set1_ps(-104.0f), x);  /* (a NaN x stays NaN: max returns its second operand) */
    x = _mm512_min_ps(_mm512_set1_ps(100.0f), x);
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(EXP_LN2_HI), x), p;
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(EXP_LN2_LO), r);
    EXP_POLY(_mm512_fmadd_ps, _mm512_set1_ps, p, r);
    return _mm512_scalef_ps(p, n);
}

/* x in [-87, 88] (the normal range the exponent bits build), NaN for NaN;
 * below -87 exp is under 2^-125, which nothing that adds it to 1 can see. */
__attribute__((target("avx2,fma"))) static inline __m256 qw_exp256(__m256 x) {
    x = _mm256_max_ps(_mm256_set1_ps(-87.0f), x);
    x = _mm256_min_ps(_mm256_set1_ps(88.0f), x);
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(EXP_LN2_HI), x), p;
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(EXP_LN2_LO), r);
    EXP_POLY(_mm256_fmadd_ps, _mm256_set1_ps, p, r);
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}
#endif

#endif
