/* Token sampling: greedy, or temperature with top-k, top-p and min-p,
 * from a seeded generator (same seed, same logits -> same token). */
#ifndef QW_MODEL_SAMPLER_H
#define QW_MODEL_SAMPLER_H

#include "qwenc.h"

struct qwenc_sampler {
    qwenc_sampler_params p;
    uint64_t rng[4];
    int cap;
    struct sampler_cand { float logit; int id; } *cand;  /* scratch of vocab size */
    float *prob;   /* probabilities of the sorted candidates */
};

/* Index of the largest value, lowest index on ties. */
int sampler_argmax(const float *x, int n);

#endif
