/* Attention on the CPU (the backend's `attention`, backend.h).
 *
 * Every query runs an online softmax over its keys one KV block at a time:
 * the block's scores, their maximum, a rescale of what was summed when the
 * maximum grows, then exp weights and the weighted sum of value rows. The
 * work is shared, not the arithmetic: queries of up to 4 consecutive tokens
 * of one sequence and up to 4 heads of one KV head are scored together (keys
 * are stored transposed, so a vector holds one dimension of 16 positions and
 * no score needs a horizontal sum), each query then takes its own part of
 * the block, and value rows that several take are read once for all. Every
 * score and output sees the same operations in the same order in any group,
 * so a query's value is the same bits whether its token comes alone (decode)
 * or in a batch (prefill), with any thread count.
 *
 * The SIMD variants differ only in the two per-block steps below; tests run
 * each against the scalar reference (ref.h). */
#ifndef QW_KERNELS_CPU_ATTN_H
#define QW_KERNELS_CPU_ATTN_H

#include "base/threadpool.h"
#include "kernels/backend.h"

typedef struct {
    const char *name;  /* "avx512", "avx2", "portable" */
    /* s[j][i] = scale * (q[j][0] * k[i] + q[j][1] * k[ldk + i] + ...), hd
     * terms summed in order, for keys i < n (<= QW_ATTN_MAX_BLOCK) and
     * queries j < nq: keys stored dimension by dimension (qw_attn_key). */
    void (*scores)(const float *const *q, int nq, const float *k, int ldk, int n, int hd, float scale,
                   float (*s)[QW_ATTN_MAX_BLOCK]);
    /* w[i] = exp(s[i] - mx) for i < n (n <= QW_ATTN_MAX_BLOCK); returns their sum. */
    float (*weights)(const float *s, int n, float mx, float *w);
    /* o[d] = o[d] * c + w[0] * v[d] + w[1] * v[hd + d] + ... (n value rows
     * side by side, in order), d < hd. */
    void (*accumulate)(float *o, float c, const float *w, const float *v, int n, int hd);
    /* accumulate with c = 1 for nq queries over the same n value rows, each
     * row read once for all: o[q][d] += w[q][0] * v[d] + ... The same bits
     * as nq calls of accumulate. */
    void (*accumulate_shared)(float *const *o, const float *const *w, int nq, const float *v, int n, int hd);
} qw_attn_kernels;

/* Every variant this CPU runs, best first, NULL-terminated. */
const qw_attn_kernels *const *qw_attn_all(void);
const qw_attn_kernels *qw_attn_best(void);

/* a->out for every token and head, with the variant k. */
void qw_attn_run(qw_pool *pool, const qw_attn_args *a, const qw_attn_kernels *k);

#endif
