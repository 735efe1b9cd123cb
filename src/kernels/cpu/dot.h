/* Dot products, the inner loop of every matmul, in variants chosen at run
 * time by the CPU's features. For each variant the bf16 form widens and
 * accumulates in exactly the order of the f32 form, so a row dotted straight
 * from bf16 (decode) and a row widened first (prefill) give identical sums. */
#ifndef QW_KERNELS_CPU_DOT_H
#define QW_KERNELS_CPU_DOT_H

#include <stdint.h>

typedef struct {
    const char *name;  /* "avx512", "avx2", "portable" */
    float (*f32)(const float *a, const float *b, int64_t n);
    float (*bf16)(const uint16_t *a, const float *b, int64_t n);
} qw_dot_kernels;

/* The best variant this CPU runs. */
const qw_dot_kernels *qw_dot_best(void);

/* Every variant this CPU runs, best first, for tests (NULL-terminated). */
const qw_dot_kernels *const *qw_dot_all(void);

#endif
