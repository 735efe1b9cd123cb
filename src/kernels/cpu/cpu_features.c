#include "kernels/cpu/cpu_features.h"

#include <pthread.h>

#if defined(__x86_64__)
#include <cpuid.h>

/* A CPUID feature bit: clang's __builtin_cpu_supports knows neither "f16c"
 * nor "avxvnni" before version 16. reg: 0..3 for EAX, EBX, ECX, EDX. */
static bool cpuid_bit(unsigned leaf, unsigned sub, int reg, int bit) {
    unsigned r[4];
    if (!__get_cpuid_count(leaf, sub, &r[0], &r[1], &r[2], &r[3])) return false;
    return r[reg] >> bit & 1;
}
#endif

/* Global state: written once under pthread_once, read-only afterwards. */
static qw_cpu_features features;
static pthread_once_t features_once = PTHREAD_ONCE_INIT;

static void detect(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    bool f16c = cpuid_bit(1, 0, 2, 29);
    features.avx2_fma_f16c = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c;
    features.avx_vnni = features.avx2_fma_f16c && cpuid_bit(7, 1, 0, 4);
    features.avx512f = __builtin_cpu_supports("avx512f") && f16c;
    features.avx512_vnni = features.avx512f && __builtin_cpu_supports("avx512bw") &&
                           __builtin_cpu_supports("avx512vnni");
#endif
}

const qw_cpu_features *qw_cpu_features_get(void) {
    pthread_once(&features_once, detect);
    return &features;
}

int qw_cpu_float_variant(void) {
#if defined(__x86_64__)
    const qw_cpu_features *f = qw_cpu_features_get();
    return f->avx512f ? 0 : f->avx2_fma_f16c ? 1 : 2;
#else
    return 0;
#endif
}
