#include "cli/membw.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ARRAY_BYTES ((size_t)1 << 30)
#define PASSES 5

typedef struct {
    const uint64_t *begin;
    size_t n;
    uint64_t sum;  /* returned so the reads cannot be optimized away */
} share;

/* 8 independent sums of 4 words (GCC/clang vectors: 256-bit loads where
 * AVX2 is there), so the loads, not the adds, set the pace. */
typedef uint64_t u64x4 __attribute__((vector_size(32)));

#define SUM_BODY                                                      \
    share *s = arg;                                                   \
    const u64x4 *p = (const u64x4 *)s->begin;                         \
    u64x4 a[8] = {{0}};                                               \
    for (size_t i = 0; i + 8 <= s->n / 4; i += 8)                     \
        for (int j = 0; j < 8; j++) a[j] += p[i + j];                 \
    for (int j = 0; j < 8; j++) s->sum += a[j][0] + a[j][1] + a[j][2] + a[j][3];

#if defined(__x86_64__)
__attribute__((target("avx2"))) static void *sum_share_avx2(void *arg) {
    SUM_BODY
    return NULL;
}
#endif

static void *sum_share_plain(void *arg) {
    SUM_BODY
    return NULL;
}

static void *sum_share(void *arg) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) return sum_share_avx2(arg);
#endif
    return sum_share_plain(arg);
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* In the child: the best pass, in GB/s. */
static double measure(int n_threads) {
    uint64_t *a = mmap(NULL, ARRAY_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (a == MAP_FAILED) return 0;
    madvise(a, ARRAY_BYTES, MADV_HUGEPAGE);
    memset(a, 1, ARRAY_BYTES);
    pthread_t th[256];
    share sh[256];
    size_t words = ARRAY_BYTES / 8, per = words / (size_t)n_threads / 32 * 32;
    double best = 0;
    for (int pass = 0; pass < PASSES; pass++) {
        double t0 = now_s();
        for (int i = 0; i < n_threads; i++) sh[i] = (share){a + (size_t)i * per, per, 0};
        for (int i = 1; i < n_threads; i++)
            if (pthread_create(&th[i], NULL, sum_share, &sh[i])) return 0;  /* (the child exits) */
        sum_share(&sh[0]);
        for (int i = 1; i < n_threads; i++) pthread_join(th[i], NULL);
        double gbps = (double)per * 8 * n_threads / (now_s() - t0) / 1e9;
        if (gbps > best) best = gbps;
    }
    munmap(a, ARRAY_BYTES);
    return best;
}

double membw_read_gbps(int n_threads) {
    if (n_threads < 1) n_threads = 1;
    if (n_threads > 256) n_threads = 256;
    int fd[2];
    if (pipe(fd)) return 0;
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]), close(fd[1]);
        return 0;
    }
    if (pid == 0) {
        close(fd[0]);
        double g = measure(n_threads);
        ssize_t w = write(fd[1], &g, sizeof g);
        _exit(w == (ssize_t)sizeof g ? 0 : 1);
    }
    close(fd[1]);
    double g = 0;
    if (read(fd[0], &g, sizeof g) != (ssize_t)sizeof g) g = 0;
    close(fd[0]);
    waitpid(pid, NULL, 0);
    return g;
}
