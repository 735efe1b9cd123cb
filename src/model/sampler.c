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
    p->presence_penalty = 0.0f;
    p->frequency_penalty = 0.0f;
    p->repetition_penalty = 1.0f;
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
    if (!(p->presence_penalty >= -2 && p->presence_penalty <= 2) ||
        !(p->frequency_penalty >= -2 && p->frequency_penalty <= 2))
        return qw_errf(err, errlen, QWENC_EINVAL,
                       "sampler params: need presence_penalty and frequency_penalty in [-2, 2], got %g and %g",
                       p->presence_penalty, p->frequency_penalty);
    if (!(p->repetition_penalty > 0 && isfinite(p->repetition_penalty)))
        return qw_errf(err, errlen, QWENC_EINVAL, "sampler params: need repetition_penalty > 0, got %g",
                       p->repetition_penalty);
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
    free(s->count);
    free(s->seen);
    free(s->penalized);
    free(s);
}

/* ---- penalties ------------------------------------------------------------ */

static int penalties_on(const qwenc_sampler *s) {
    return s->p.presence_penalty != 0 || s->p.frequency_penalty != 0 || s->p.repetition_penalty != 1;
}

/* Room for counts up to id: grown geometrically, so a vocabulary costs one
 * or two reallocations over a sampler's life. */
static int reserve_counts(qwenc_sampler *s, int32_t id) {
    if (id < s->count_cap) return 1;
    int cap = s->count_cap ? s->count_cap : 1024;
    while (cap <= id) cap = cap > (1 << 29) ? id + 1 : cap * 2;
    struct sampler_count *c = realloc(s->count, (size_t)cap * sizeof *c);
    if (!c) return 0;
    memset(c + s->count_cap, 0, (size_t)(cap - s->count_cap) * sizeof *c);
    s->count = c;
    s->count_cap = cap;
    return 1;
}

static int push_seen(qwenc_sampler *s, int32_t id) {
    if (s->n_seen == s->seen_cap) {
        int cap = s->seen_cap ? 2 * s->seen_cap : 256;
        int32_t *v = realloc(s->seen, (size_t)cap * sizeof *v);
        if (!v) return 0;
        s->seen = v;
        s->seen_cap = cap;
    }
    s->seen[s->n_seen++] = id;
    return 1;
}

/* Out of memory leaves the token uncounted: penalties are a preference,
 * not a guarantee, and qwenc_sample has no error path. */
void qwenc_sampler_accept(qwenc_sampler *s, int32_t id, int is_prompt) {
    if (!s || id < 0 || !penalties_on(s) || !reserve_counts(s, id)) return;
    struct sampler_count *c = &s->count[id];
    if (!c->seen) {
        if (!push_seen(s, id)) return;
        c->seen = 1;
    }
    if (!is_prompt) c->generated++;
}

void qwenc_sampler_reset(qwenc_sampler *s) {
    if (!s) return;
    for (int i = 0; i < s->n_seen; i++) s->count[s->seen[i]] = (struct sampler_count){0, 0};
    s->n_seen = 0;
}

void sampler_apply_penalties(const qwenc_sampler *s, float *row, int n) {
    float rep = s->p.repetition_penalty, presence = s->p.presence_penalty, frequency = s->p.frequency_penalty;
    for (int i = 0; i < s->n_seen; i++) {
        int32_t id = s->seen[i];
        if (id >= n) continue;
        float x = row[id];
        if (rep != 1) x = x > 0 ? x / rep : x * rep;
        uint32_t g = s->count[id].generated;
        if (g) x -= presence + frequency * (float)g;
        row[id] = x;
    }
}

/* The logits the sampler draws from: the caller's row, or a penalized copy
 * when tokens were accepted (the caller's row as is if the copy cannot be
 * allocated). */
static const float *penalized_logits(qwenc_sampler *s, const float *logits, int n) {
    if (!s->n_seen) return logits;
    if (s->penalized_cap < n) {
        free(s->penalized);
        s->penalized = malloc((size_t)n * sizeof *s->penalized);
        s->penalized_cap = s->penalized ? n : 0;
        if (!s->penalized) return logits;
    }
    memcpy(s->penalized, logits, (size_t)n * sizeof *logits);
    sampler_apply_penalties(s, s->penalized, n);
    return s->penalized;
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
    logits = penalized_logits(s, logits, n);
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

/* ---- log-probabilities ------------------------------------------------------ */

/* Inserts (id, x) into the descending list top[0..*k) of at most cap
 * entries. Ids arrive in increasing order, so an equal value ranks after
 * the ones already there (ties to the lower id). */
static void top_insert(int32_t *ids, float *xs, int *k, int cap, int32_t id, float x) {
    if (*k == cap && !(x > xs[cap - 1])) return;
    int i = *k < cap ? (*k)++ : cap - 1;
    for (; i > 0 && x > xs[i - 1]; i--) {
        xs[i] = xs[i - 1];
        ids[i] = ids[i - 1];
    }
    xs[i] = x;
    ids[i] = id;
}

float qwenc_logprobs(const float *logits, int n, int32_t id, int top_n, int32_t *top_ids, float *top_logprobs) {
    if (n <= 0) return -INFINITY;
    float mx = logits[sampler_argmax(logits, n)];
    double sum = 0;
    for (int i = 0; i < n; i++) sum += exp((double)logits[i] - mx);
    /* every logit -inf: nothing is possible */
    double lse = isfinite(mx) ? mx + log(sum) : INFINITY;
    if (top_n > n) top_n = n;
    int k = 0;
    for (int i = 0; i < n && top_n > 0; i++) top_insert(top_ids, top_logprobs, &k, top_n, i, logits[i]);
    for (int i = 0; i < k; i++) top_logprobs[i] = (float)((double)top_logprobs[i] - lse);
    return id >= 0 && id < n ? (float)((double)logits[id] - lse) : -INFINITY;
}
