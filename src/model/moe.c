#include "model/moe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void moe_route_topk(const float *router_logits, int n, int n_experts, int k, int norm_topk_prob,
                    int *expert_ids, float *expert_weights) {
    for (int t = 0; t < n; t++) {
        const float *l = router_logits + (int64_t)t * n_experts;
        float mx = -INFINITY, sum = 0;
        for (int e = 0; e < n_experts; e++) mx = l[e] > mx ? l[e] : mx;
        for (int e = 0; e < n_experts; e++) sum += expf(l[e] - mx);
        int *ids = expert_ids + t * k;
        float *wts = expert_weights + t * k;
        /* selection by repeated max: k is small (8 of 128 in the largest models) */
        for (int j = 0; j < k; j++) {
            int best = -1;
            for (int e = 0; e < n_experts; e++) {
                int taken = 0;
                for (int i = 0; i < j; i++) taken |= ids[i] == e;
                if (!taken && (best < 0 || l[e] > l[best])) best = e;
            }
            ids[j] = best;
            wts[j] = expf(l[best] - mx) / sum;
        }
        if (norm_topk_prob) {
            float s = 0;
            for (int j = 0; j < k; j++) s += wts[j];
            for (int j = 0; j < k; j++) wts[j] /= s;
        }
    }
}

int moe_forward(const qw_backend *be, qw_pool *pool, const qw_config *c, const qw_layer_weights *L,
                const float *x, float *out, int n) {
    int E = c->n_experts, k = c->n_experts_per_tok, h = c->hidden_size, inter = c->moe_intermediate_size;
    float *logits = malloc((size_t)n * E * sizeof *logits);
    int *ids = malloc((size_t)n * k * sizeof *ids);
    float *wts = malloc((size_t)n * k * sizeof *wts);
    int *rows = malloc((size_t)n * sizeof *rows);           /* tokens routed to one expert */
    float *rw = malloc((size_t)n * sizeof *rw);            /* and their weights */
    float *xs = malloc((size_t)n * h * sizeof *xs);         /* gathered inputs */
    float *gate = malloc((size_t)n * inter * sizeof *gate);
    float *up = malloc((size_t)n * inter * sizeof *up);
    float *ys = malloc((size_t)n * h * sizeof *ys);
    int rc = -1;
    if (!logits || !ids || !wts || !rows || !rw || !xs || !gate || !up || !ys) goto done;
    be->matmul(pool, &L->router, x, logits, n);
    moe_route_topk(logits, n, E, k, c->norm_topk_prob, ids, wts);
    memset(out, 0, (size_t)n * h * sizeof *out);
    for (int e = 0; e < E; e++) {
        int m = 0;
        for (int t = 0; t < n; t++)
            for (int j = 0; j < k; j++)
                if (ids[t * k + j] == e) {
                    rows[m] = t;
                    rw[m] = wts[t * k + j];
                    memcpy(xs + (int64_t)m * h, x + (int64_t)t * h, (size_t)h * sizeof *xs);
                    m++;
                }
        if (!m) continue;
        const qw_mlp_weights *ex = &L->experts[e];
        const qw_mat *gate_up[] = {&ex->gate, &ex->up};
        float *gate_up_out[] = {gate, up};
        be->matmul_many(pool, gate_up, gate_up_out, 2, xs, m);
        be->swiglu(pool, gate, up, (int64_t)m * inter);
        be->matmul(pool, &ex->down, gate, ys, m);
        for (int i = 0; i < m; i++) {
            float *o = out + (int64_t)rows[i] * h;
            const float *y = ys + (int64_t)i * h;
            for (int d = 0; d < h; d++) o[d] += rw[i] * y[d];
        }
    }
    rc = 0;
done:
    free(logits); free(ids); free(wts); free(rows); free(rw); free(xs); free(gate); free(up); free(ys);
    return rc;
}
