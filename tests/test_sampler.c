/* Sampling: greedy, temperature, top-k, top-p, min-p, seeds. */
#include "check.h"
#include "qwenc.h"

#include <math.h>
#include <string.h>

static qwenc_sampler *make(float temp, int top_k, float top_p, float min_p, uint64_t seed) {
    qwenc_sampler_params p;
    qwenc_sampler_params_init(&p);
    p.temperature = temp;
    p.top_k = top_k;
    p.top_p = top_p;
    p.min_p = min_p;
    p.seed = seed;
    qwenc_sampler *s = NULL;
    char err[256];
    CHECK(qwenc_sampler_new(&p, &s, err, sizeof err) == 0, "sampler_new: %s", err);
    return s;
}

/* Frequencies of each of n ids over `draws` samples. */
static void histogram(qwenc_sampler *s, const float *logits, int n, int draws, double *freq) {
    memset(freq, 0, sizeof(double) * (size_t)n);
    for (int i = 0; i < draws; i++) freq[qwenc_sample(s, logits, n)] += 1.0 / draws;
}

int main(void) {
    float l3[3] = {logf(0.5f), logf(0.3f), logf(0.2f)};
    double f[1000];

    qwenc_sampler *s = make(0, 0, 1, 0, 1);
    float tie[4] = {1, 3, 3, 2};
    CHECK(qwenc_sample(s, tie, 4) == 1, "greedy takes the lowest id among ties");
    qwenc_sampler_free(s);

    s = make(1.0f, 0, 1, 0, 42);
    histogram(s, l3, 3, 20000, f);
    CHECK(fabs(f[0] - 0.5) < 0.02 && fabs(f[1] - 0.3) < 0.02 && fabs(f[2] - 0.2) < 0.02,
          "temperature 1 follows softmax: %.3f %.3f %.3f", f[0], f[1], f[2]);
    qwenc_sampler_free(s);

    s = make(1.0f, 2, 1, 0, 42);
    histogram(s, l3, 3, 5000, f);
    CHECK(f[2] == 0 && fabs(f[0] - 0.625) < 0.03, "top-k 2 drops id 2 and renormalizes: %.3f %.3f", f[0], f[2]);
    qwenc_sampler_free(s);

    s = make(1.0f, 0, 0.6f, 0, 42);
    histogram(s, l3, 3, 5000, f);
    CHECK(f[2] == 0 && f[1] > 0.3, "top-p 0.6 keeps the two most likely: %.3f %.3f %.3f", f[0], f[1], f[2]);
    qwenc_sampler_free(s);

    s = make(1.0f, 0, 0.5f, 0, 42);
    histogram(s, l3, 3, 500, f);
    CHECK(f[1] == 0 && f[2] == 0, "top-p 0.5 keeps only the most likely");
    qwenc_sampler_free(s);

    s = make(1.0f, 0, 1, 0.5f, 42);
    histogram(s, l3, 3, 5000, f);
    CHECK(f[2] == 0 && f[1] > 0.3, "min-p 0.5 drops ids under half the top probability");
    qwenc_sampler_free(s);

    s = make(0.01f, 0, 1, 0, 42);
    histogram(s, l3, 3, 500, f);
    CHECK(f[1] == 0 && f[2] == 0, "a tiny temperature is nearly greedy");
    qwenc_sampler_free(s);

    /* top-k selection over a large vocabulary only ever returns one of the k best */
    float big[1000];
    uint64_t r = 7;
    for (int i = 0; i < 1000; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        big[i] = (float)(r >> 40) / (float)(1 << 24) * 4.0f;
    }
    float sorted[1000];
    memcpy(sorted, big, sizeof big);
    for (int i = 0; i < 1000; i++)  /* find the 20th largest by partial selection sort */
        for (int j = i + 1; i < 20 && j < 1000; j++)
            if (sorted[j] > sorted[i]) { float t = sorted[i]; sorted[i] = sorted[j]; sorted[j] = t; }
    s = make(5.0f, 20, 1, 0, 3);
    int outside = 0, distinct = 0;
    histogram(s, big, 1000, 4000, f);
    for (int i = 0; i < 1000; i++) {
        if (f[i] > 0 && big[i] < sorted[19]) outside++;
        distinct += f[i] > 0;
    }
    CHECK(outside == 0 && distinct == 20, "top-k 20: %d outside the top 20, %d distinct", outside, distinct);
    qwenc_sampler_free(s);

    /* same seed, same sequence; another seed, another */
    qwenc_sampler *a = make(1.0f, 0, 1, 0, 99), *b = make(1.0f, 0, 1, 0, 99), *c = make(1.0f, 0, 1, 0, 100);
    int same = 1, differ = 0;
    for (int i = 0; i < 200; i++) {
        int x = qwenc_sample(a, big, 1000), y = qwenc_sample(b, big, 1000), z = qwenc_sample(c, big, 1000);
        same &= x == y;
        differ |= x != z;
    }
    CHECK(same && differ, "seeds: same %d, differ %d", same, differ);
    qwenc_sampler_free(a); qwenc_sampler_free(b); qwenc_sampler_free(c);

    qwenc_sampler_params p;
    qwenc_sampler_params_init(&p);
    p.top_p = 0;
    char err[256] = "";
    qwenc_sampler *bad = NULL;
    CHECK(qwenc_sampler_new(&p, &bad, err, sizeof err) == QWENC_EINVAL && strstr(err, "top_p"), "bad top_p: %s", err);
    return check_summary();
}
