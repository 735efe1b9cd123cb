/* Token sampling: greedy, or temperature with top-k, top-p and min-p,
 * from a seeded generator (same seed, same logits -> same token), after
 * repetition, presence and frequency penalties on the accepted tokens; and
 * the log-probabilities of a logits row. */
#ifndef QW_MODEL_SAMPLER_H
#define QW_MODEL_SAMPLER_H

#include "qwenc.h"

/* How often one id was accepted since the last reset. */
struct sampler_count {
    uint32_t generated; /* as a generated token (presence, frequency) */
    uint32_t seen;      /* nonzero once accepted at all (repetition) */
};

struct qwenc_sampler {
    qwenc_sampler_params p;
    uint64_t rng[4];
    int cap;
    struct sampler_cand { float logit; int id; } *cand;  /* scratch of vocab size */
    float *prob;   /* probabilities of the sorted candidates */

    /* Penalties: counts by id, grown to the largest id accepted (once per
     * vocabulary), and the ids with a nonzero count, so that applying and
     * resetting cost the number of distinct ids, not the vocabulary. */
    struct sampler_count *count;
    int count_cap;
    int32_t *seen;
    int n_seen, seen_cap;
    float *penalized;  /* the penalized logits row */
    int penalized_cap;
};

/* Index of the largest value, lowest index on ties. */
int sampler_argmax(const float *x, int n);

/* Writes the penalized value of every accepted id below n into row
 * (which holds a copy of the logits). */
void sampler_apply_penalties(const qwenc_sampler *s, float *row, int n);

#endif
