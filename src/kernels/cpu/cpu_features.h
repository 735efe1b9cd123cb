/* What this CPU can run, read once: the kernels pick their variants from
 * it on every call, so it must cost nothing after the first (CPUID traps
 * to the hypervisor in a virtual machine and takes microseconds). */
#ifndef QW_KERNELS_CPU_CPU_FEATURES_H
#define QW_KERNELS_CPU_CPU_FEATURES_H

#include <stdbool.h>

typedef struct {
    bool avx2_fma_f16c;  /* AVX2 + FMA + F16C: the "avx2" variants */
    bool avx_vnni;       /* AVX-VNNI (vpdpbusd on ymm without AVX-512) */
    bool avx512f;        /* AVX-512 F (with F16C): the "avx512" float variants */
    bool avx512_vnni;    /* AVX-512 F + BW + VNNI: the int8 "avx512-vnni" variant */
} qw_cpu_features;

const qw_cpu_features *qw_cpu_features_get(void);

/* The float kernels' variant tables are {avx512, avx2, portable} on x86 and
 * {portable} elsewhere, best first: the index of the best this CPU runs. */
int qw_cpu_float_variant(void);

#endif
