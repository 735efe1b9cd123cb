#include "model/sampler.h"
#include "base/err.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void qwenc_sampler_params_init(qwenc_sampler_params *p) {
    memset(p, 0, sizeof *p);
    p->size = sizeof *p;
    p->temperature = 0.0f;
    p->top_k = 0;
    p->top_p = 1.0f;
    p->min_p = 0.0f;
    p->seed = 0;
}

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* xoshiro256** */
static uint64_t rng_next(uint64_t s[4]) {
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

static double rng_uniform(uint64_t s[4]) { return (double)(rng_next(s) >> 11) * 0x1.0p-53; }

int qwenc_sampler_new(const qwenc_sampler_params *p, qwenc_sampler **out, char *err, size_t errlen) {
    *out = NULL;
    if (!p || p->size < sizeof *p)
        return qw_errf(err, errlen, QWENC_EINVAL, "sampler params: size field not set");
    if (!(p->temperature >= 0) || !(p->top_p > 0 && p->top_p <= 1) || !(p->min_p >= 0 && p->min_p <= 1))
        return qw_errf(err, errlen, QWENC_EINVAL,
                       "sampler params: need temperature >= 0, 0 < top_p <= 1, 0 <= min_p <= 1");
    qwenc_sampler *s = calloc(1, sizeof *s);
    if (!s) return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    s->p = *p;
    uint64_t seed = p->seed;
    for (int i = 0; i < 4; i++) s->rng[i] = splitmix64(&seed);
    *out = s;
    return 0;
}

void qwenc_sampler_free(qwenc_sampler *s) {
    if (!s) return;
    free(s->cand);
    free(s->prob);
    free(s);
}

int sampler_argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

static int by_logit_desc(const void *a, const void *b) {
    const struct sampler_cand *x = a, *y = b;
    if (x->logit != y->logit) return x->logit > y->logit ? -1 : 1;
    return x->id - y->id;
}

/* Is a worse than b (lower logit, or equal logit and higher id)? */
static int cand_worse(const struct sampler_cand *a, const struct sampler_cand *b) {
    return a->logit < b->logit || (a->logit == b->logit && a->id > b->id);
}

static void heap_sift_down(struct sampler_cand *h, int k, int i) {
    for (;;) {
        int l = 2 * i + 1, r = l + 1, w = i;
        if (l < k && cand_worse(&h[l], &h[w])) w = l;
        if (r < k && cand_worse(&h[r], &h[w])) w = r;
        if (w == i) return;
        struct sampler_cand t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

/* The k best candidates into cand[0..k), unordered: a min-heap of size k,
 * O(n log k) instead of sorting the whole vocabulary every token. */
static void select_top_k(struct sampler_cand *cand, const float *logits, int n, int k) {
    for (int i = 0; i < k; i++) cand[i] = (struct sampler_cand){logits[i], i};
    for (int i = k / 2 - 1; i >= 0; i--) heap_sift_down(cand, k, i);
    for (int i = k; i < n; i++) {
        struct sampler_cand c = {logits[i], i};
        if (cand_worse(&cand[0], &c)) {
            cand[0] = c;
            heap_sift_down(cand, k, 0);
        }
    }
}

int32_t qwenc_sample(qwenc_sampler *s, const float *logits, int n) {
    if (s->p.temperature <= 0 || s->p.top_k == 1) return sampler_argmax(logits, n);
    if (s->cap < n) {
        free(s->cand);
        free(s->prob);
        s->cand = malloc((size_t)n * sizeof *s->cand);
        s->prob = malloc((size_t)n * sizeof *s->prob);
        s->cap = s->cand && s->prob ? n : 0;
        if (!s->cap) return sampler_argmax(logits, n);
    }
    int m = s->p.top_k > 0 && s->p.top_k < n ? s->p.top_k : n;
    if (m < n) select_top_k(s->cand, logits, n, m);
    else
        for (int i = 0; i < n; i++) s->cand[i] = (struct sampler_cand){logits[i], i};
    qsort(s->cand, (size_t)m, sizeof *s->cand, by_logit_desc);
    float mx = s->cand[0].logit;
    double sum = 0;
    for (int i = 0; i < m; i++) sum += (s->prob[i] = expf((s->cand[i].logit - mx) / s->p.temperature));
    /* top-p: the smallest prefix whose mass reaches top_p; min-p: drop
     * tokens below min_p times the most likely one. */
    double cum = 0;
    int keep = m;
    for (int i = 0; i < m; i++) {
        if (s->p.min_p > 0 && s->prob[i] < s->p.min_p * s->prob[0]) { keep = i; break; }
        cum += s->prob[i] / sum;
        if (cum >= s->p.top_p) { keep = i + 1; break; }
    }
    if (keep < 1) keep = 1;
    double total = 0;
    for (int i = 0; i < keep; i++) total += s->prob[i];
    double r = rng_uniform(s->rng) * total;
    for (int i = 0; i < keep; i++) {
        r -= s->prob[i];
        if (r < 0) return s->cand[i].id;
    }
    return s->cand[keep - 1].id;
}
