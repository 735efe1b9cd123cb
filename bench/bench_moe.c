/* One Qwen3-30B-A3B mixture-of-experts layer (128 experts, top-8, hidden
 * 2048, expert intermediate 768, random bf16 weights): a 256-token prefill
 * through the layer against 256 single-token decode steps of it.
 *   usage: bench_moe [threads] [tokens] [reps]  */
#include "format/config.h"
#include "model/moe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint16_t rand_bf16(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    float f = ((float)(rng >> 40) / (float)(1 << 24) - 0.5f) * 0.1f;
    uint32_t u;
    memcpy(&u, &f, 4);
    return (uint16_t)(u >> 16);
}

static qw_mat rand_mat(int64_t rows, int64_t cols) {
    uint16_t *d = malloc((size_t)(rows * cols) * 2);
    for (int64_t i = 0; i < rows * cols; i++) d[i] = rand_bf16();
    return (qw_mat){.data = d, .dtype = QW_DT_BF16, .rows = rows, .cols = cols};
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2, n = argc > 2 ? atoi(argv[2]) : 256, reps = argc > 3 ? atoi(argv[3]) : 3;
    qw_config c = {.arch = QW_ARCH_QWEN3_MOE, .hidden_size = 2048, .n_experts = 128, .n_experts_per_tok = 8,
                   .moe_intermediate_size = 768, .norm_topk_prob = 1, .decoder_sparse_step = 1};
    qw_layer_weights L = {.is_moe = 1};
    L.router = rand_mat(c.n_experts, c.hidden_size);
    L.experts = calloc((size_t)c.n_experts, sizeof *L.experts);
    for (int e = 0; e < c.n_experts; e++) {
        L.experts[e].gate = rand_mat(c.moe_intermediate_size, c.hidden_size);
        L.experts[e].up = rand_mat(c.moe_intermediate_size, c.hidden_size);
        L.experts[e].down = rand_mat(c.hidden_size, c.moe_intermediate_size);
    }
    float *x = malloc((size_t)n * c.hidden_size * sizeof *x), *y = malloc((size_t)n * c.hidden_size * sizeof *y);
    for (int i = 0; i < n * c.hidden_size; i++) x[i] = (float)(rand_bf16() & 0xff) / 128.0f - 1.0f;
    qw_pool *pool = qw_pool_new(threads);
    const qw_backend *be = qw_backend_cpu();
    double *tp = malloc(sizeof(double) * reps), *td = malloc(sizeof(double) * reps);
    for (int r = 0; r < reps; r++) {  /* interleaved */
        double t0 = now();
        moe_forward(be, pool, &c, &L, x, y, n);
        tp[r] = now() - t0;
        t0 = now();
        for (int t = 0; t < n; t++) moe_forward(be, pool, &c, &L, x + (size_t)t * c.hidden_size, y, 1);
        td[r] = now() - t0;
    }
    qsort(tp, (size_t)reps, sizeof *tp, cmp_double);
    qsort(td, (size_t)reps, sizeof *td, cmp_double);
    printf("moe layer (128 experts, top-8, 2048x768 bf16), %d threads, %d tokens, median of %d:\n", threads, n, reps);
    printf("  prefill, one batch:     %8.3f s  (%.1f tok/s)\n", tp[reps / 2], n / tp[reps / 2]);
    printf("  %d decode steps:       %8.3f s  (%.1f tok/s)\n", n, td[reps / 2], n / td[reps / 2]);
    printf("  prefill speedup:        %8.2fx\n", td[reps / 2] / tp[reps / 2]);
    return 0;
}
