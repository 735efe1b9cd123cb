/* Sampling: greedy, temperature, top-k, top-p, min-p, seeds; repetition,
 * presence and frequency penalties; log-probabilities; which tokens are
 * added tokens. */
#include "qwenc.h"
#include "check.h"
#include "model/sampler.h"

#include <jansson.h>
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

static qwenc_sampler *make_penalized(float temp, float presence, float frequency, float repetition,
                                     uint64_t seed) {
    qwenc_sampler_params p;
    qwenc_sampler_params_init(&p);
    p.temperature = temp;
    p.presence_penalty = presence;
    p.frequency_penalty = frequency;
    p.repetition_penalty = repetition;
    p.seed = seed;
    qwenc_sampler *s = NULL;
    char err[256];
    CHECK(qwenc_sampler_new(&p, &s, err, sizeof err) == 0, "sampler_new: %s", err);
    return s;
}

static int same_row(const float *a, const float *b, int n) {
    for (int i = 0; i < n; i++)
        if (fabsf(a[i] - b[i]) > 1e-6f) return 0;
    return 1;
}

/* The penalized values, exactly, on a hand-made row. */
static void test_penalty_arithmetic(void) {
    float row[5], base[5] = {2.0f, -1.0f, 1.5f, 0.5f, 3.0f};

    qwenc_sampler *s = make_penalized(0, 0, 0, 2.0f, 1);
    qwenc_sampler_accept(s, 0, 1);
    qwenc_sampler_accept(s, 1, 0);
    qwenc_sampler_accept(s, 1, 0);
    memcpy(row, base, sizeof row);
    sampler_apply_penalties(s, row, 5);
    float want_rep[5] = {1.0f, -2.0f, 1.5f, 0.5f, 3.0f};
    CHECK(same_row(row, want_rep, 5), "repetition 2: positive halved, negative doubled, once however often seen: "
          "%g %g %g %g %g", row[0], row[1], row[2], row[3], row[4]);
    qwenc_sampler_free(s);

    s = make_penalized(0, 0.5f, 0.25f, 1.0f, 1);
    qwenc_sampler_accept(s, 0, 1);  /* prompt tokens: no presence or frequency penalty */
    qwenc_sampler_accept(s, 0, 1);
    for (int i = 0; i < 3; i++) qwenc_sampler_accept(s, 2, 0);
    qwenc_sampler_accept(s, 3, 0);
    memcpy(row, base, sizeof row);
    sampler_apply_penalties(s, row, 5);
    float want_pf[5] = {2.0f, -1.0f, 1.5f - 0.5f - 0.75f, 0.5f - 0.5f - 0.25f, 3.0f};
    CHECK(same_row(row, want_pf, 5), "presence 0.5 + frequency 0.25 on generated counts: %g %g %g %g %g", row[0],
          row[1], row[2], row[3], row[4]);
    qwenc_sampler_free(s);

    s = make_penalized(0, 1.0f, 1.0f, 2.0f, 1);
    qwenc_sampler_accept(s, 4, 1);
    qwenc_sampler_accept(s, 4, 0);
    qwenc_sampler_accept(s, 4, 0);
    qwenc_sampler_accept(s, 1, 0);
    qwenc_sampler_accept(s, 99, 0);  /* beyond this row: ignored when applied */
    memcpy(row, base, sizeof row);
    sampler_apply_penalties(s, row, 5);
    float want_all[5] = {2.0f, -1.0f * 2 - 1 - 1, 1.5f, 0.5f, 3.0f / 2 - 1 - 2};
    CHECK(same_row(row, want_all, 5), "repetition first, then presence and frequency: %g %g", row[1], row[4]);
    qwenc_sampler_free(s);

    s = make_penalized(0, -1.0f, -0.5f, 1.0f, 1);
    qwenc_sampler_accept(s, 3, 0);
    qwenc_sampler_accept(s, 3, 0);
    memcpy(row, base, sizeof row);
    sampler_apply_penalties(s, row, 5);
    CHECK(fabsf(row[3] - (0.5f + 1.0f + 1.0f)) < 1e-6f, "negative penalties encourage: %g", row[3]);
    qwenc_sampler_free(s);
}

/* Greedy and sampled draws honour the penalties; reset forgets; the
 * caller's logits are untouched. */
static void test_penalty_sampling(void) {
    float two[2] = {1.0f, 0.9f};
    qwenc_sampler *s = make_penalized(0, 0.2f, 0, 1.0f, 1);
    CHECK(qwenc_sample(s, two, 2) == 0, "greedy without accepted tokens takes id 0");
    qwenc_sampler_accept(s, 0, 1);
    CHECK(qwenc_sample(s, two, 2) == 0, "presence ignores prompt tokens");
    qwenc_sampler_accept(s, 0, 0);
    CHECK(qwenc_sample(s, two, 2) == 1, "presence 0.2 on a generated id 0 flips greedy to id 1");
    CHECK(two[0] == 1.0f && two[1] == 0.9f, "the caller's logits are not modified");
    qwenc_sampler_reset(s);
    CHECK(qwenc_sample(s, two, 2) == 0, "after reset greedy takes id 0 again");
    qwenc_sampler_free(s);

    s = make_penalized(0, 0, 0, 1.2f, 1);
    qwenc_sampler_accept(s, 0, 1);
    CHECK(qwenc_sample(s, two, 2) == 1, "repetition 1.2 counts a prompt token: 1/1.2 < 0.9");
    qwenc_sampler_free(s);

    s = make_penalized(0, 0, 0.1f, 1.0f, 1);
    qwenc_sampler_accept(s, 0, 0);
    CHECK(qwenc_sample(s, two, 2) == 0, "a penalized tie goes to the lower id");
    qwenc_sampler_accept(s, 0, 0);
    CHECK(qwenc_sample(s, two, 2) == 1, "frequency counts each time: 1 - 0.2 < 0.9");
    qwenc_sampler_free(s);

    s = make_penalized(1.0f, 0, 2.0f, 1.0f, 5);
    float flat[3] = {0, 0, 0};
    for (int i = 0; i < 5; i++) qwenc_sampler_accept(s, 0, 0);
    double f[3];
    histogram(s, flat, 3, 4000, f);
    CHECK(f[0] < 0.01 && f[1] > 0.4 && f[2] > 0.4, "sampling honours frequency 2 x 5: %.3f %.3f %.3f", f[0], f[1],
          f[2]);
    qwenc_sampler_free(s);

    /* neutral penalties: accepting changes nothing, draw for draw */
    qwenc_sampler *a = make(1.0f, 0, 1, 0, 11), *b = make(1.0f, 0, 1, 0, 11);
    float l3[3] = {0.3f, 0.1f, 0.2f};
    int same = 1;
    for (int i = 0; i < 300; i++) {
        int32_t x = qwenc_sample(a, l3, 3);
        qwenc_sampler_accept(a, x, 0);
        same &= x == qwenc_sample(b, l3, 3);
    }
    CHECK(same, "neutral penalties leave sampling unchanged");
    qwenc_sampler_free(a);
    qwenc_sampler_free(b);

    /* a vocabulary-sized id grows the counts; a negative id is ignored */
    s = make_penalized(0, 1.0f, 0, 1.0f, 1);
    static float wide[151936];
    wide[151935] = 1.0f;
    wide[7] = 0.5f;
    qwenc_sampler_accept(s, -3, 0);
    qwenc_sampler_accept(s, 151935, 0);
    CHECK(qwenc_sample(s, wide, 151936) == 7, "a penalized id near the end of a Qwen-sized vocabulary");
    qwenc_sampler_free(s);
}

static void bad_params(const char *what, float presence, float frequency, float repetition, const char *needle) {
    qwenc_sampler_params p;
    qwenc_sampler_params_init(&p);
    p.presence_penalty = presence;
    p.frequency_penalty = frequency;
    p.repetition_penalty = repetition;
    char err[256] = "";
    qwenc_sampler *s = NULL;
    int rc = qwenc_sampler_new(&p, &s, err, sizeof err);
    CHECK(rc == QWENC_EINVAL && s == NULL && strstr(err, needle) && !strchr(err, '\n'), "%s: rc %d, '%s'", what, rc,
          err);
}

static void test_penalty_params(void) {
    qwenc_sampler_params p;
    qwenc_sampler_params_init(&p);
    CHECK(p.presence_penalty == 0 && p.frequency_penalty == 0 && p.repetition_penalty == 1,
          "init sets neutral penalties");
    bad_params("presence 2.5", 2.5f, 0, 1, "presence_penalty");
    bad_params("frequency -3", 0, -3, 1, "frequency_penalty");
    bad_params("presence NaN", NAN, 0, 1, "presence_penalty");
    bad_params("repetition 0", 0, 0, 0, "repetition_penalty");
    bad_params("repetition -1", 0, 0, -1, "repetition_penalty");
    bad_params("repetition inf", 0, 0, INFINITY, "repetition_penalty");
    qwenc_sampler *s = make_penalized(0, 2.0f, -2.0f, 0.01f, 1);  /* the bounds themselves are fine */
    qwenc_sampler_free(s);
}

/* log-softmax computed directly, in double */
static double direct_logprob(const float *x, int n, int id) {
    double mx = -INFINITY, sum = 0;
    for (int i = 0; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    for (int i = 0; i < n; i++) sum += exp((double)x[i] - mx);
    return (double)x[id] - mx - log(sum);
}

static void test_logprobs(void) {
    enum { N = 1000 };
    static float x[N];
    uint64_t r = 12345;
    for (int i = 0; i < N; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)(r >> 40) / (float)(1 << 24) * 20.0f - 10.0f;
    }
    double worst = 0;
    for (int i = 0; i < N; i++) {
        double d = fabs(qwenc_logprobs(x, N, i, 0, NULL, NULL) - direct_logprob(x, N, i));
        worst = d > worst ? d : worst;
    }
    CHECK(worst < 1e-5, "log-probabilities match a direct computation: worst error %g", worst);

    int32_t ids[8];
    float lp[8];
    float got = qwenc_logprobs(x, N, 17, 8, ids, lp);
    CHECK(fabs(got - direct_logprob(x, N, 17)) < 1e-5, "the chosen id's log-probability with top_n 8");
    int ordered = 1;
    for (int k = 0; k < 8; k++) {
        int rank = 0;  /* ids strictly more likely, or as likely with a lower id */
        for (int i = 0; i < N; i++) rank += x[i] > x[ids[k]] || (x[i] == x[ids[k]] && i < ids[k]);
        ordered &= rank == k && fabs(lp[k] - direct_logprob(x, N, ids[k])) < 1e-5;
    }
    CHECK(ordered, "top 8 are the 8 most likely, in order, with their log-probabilities");

    float tie[5] = {1, 3, 3, 2, 3};
    int32_t tid[10];
    float tlp[10];
    qwenc_logprobs(tie, 5, 0, 3, tid, tlp);
    CHECK(tid[0] == 1 && tid[1] == 2 && tid[2] == 4 && tlp[0] == tlp[2], "ties go to the lower id: %d %d %d", tid[0],
          tid[1], tid[2]);
    for (int i = 0; i < 10; i++) tid[i] = -7;
    qwenc_logprobs(tie, 5, 0, 10, tid, tlp);
    CHECK(tid[0] == 1 && tid[1] == 2 && tid[2] == 4 && tid[3] == 3 && tid[4] == 0 && tid[5] == -7,
          "top_n beyond the vocabulary lists all of it, once");
    double mass = 0;
    for (int i = 0; i < 5; i++) mass += exp(tlp[i]);
    CHECK(fabs(mass - 1) < 1e-6, "probabilities sum to 1: %g", mass);

    float big[2] = {1000.0f, 0.0f};
    float l0 = qwenc_logprobs(big, 2, 0, 0, NULL, NULL), l1 = qwenc_logprobs(big, 2, 1, 0, NULL, NULL);
    CHECK(fabsf(l0) < 1e-6f && fabsf(l1 + 1000.0f) < 1e-3f, "large logits are stable: %g %g", l0, l1);

    float masked[3] = {-INFINITY, 0.0f, 0.0f};
    CHECK(isinf(qwenc_logprobs(masked, 3, 0, 0, NULL, NULL)) &&
          fabsf(qwenc_logprobs(masked, 3, 1, 0, NULL, NULL) - logf(0.5f)) < 1e-6f,
          "a -inf logit has log-probability -inf and takes no mass");
    CHECK(isinf(qwenc_logprobs(masked, 3, 3, 0, NULL, NULL)) && isinf(qwenc_logprobs(masked, 3, -1, 0, NULL, NULL)),
          "an out-of-range id has log-probability -inf");
}

/* Every token tokenizer.json lists as added, and no other, is added. */
static void test_added_tokens(const char *dir) {
    char err[512], path[4096];
    qwenc_tokenizer *t = NULL;
    int rc = qwenc_tokenizer_open(dir, &t, err, sizeof err);
    CHECK(rc == 0, "open %s: %s", dir, err);
    if (rc) return;
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    json_t *list = json_object_get(root, "added_tokens");
    CHECK(json_array_size(list) > 0, "%s: added_tokens: %s", path, root ? "empty" : je.text);
    size_t i, listed_ok = 0;
    json_t *a;
    json_array_foreach(list, i, a) listed_ok += qwenc_token_is_added(t, (int32_t)json_integer_value(json_object_get(a, "id")));
    size_t n_added = 0;
    for (int32_t id = 0; id < qwenc_tokenizer_n_tokens(t); id++) n_added += qwenc_token_is_added(t, id) != 0;
    CHECK(listed_ok == json_array_size(list) && n_added == listed_ok, "%s: %zu of %zu listed ids added, %zu in all",
          dir, listed_ok, json_array_size(list), n_added);
    const char *names[] = {"<|im_end|>", "<think>", "</think>", "<tool_call>", "<|endoftext|>"};
    for (size_t k = 0; k < sizeof names / sizeof *names; k++)
        CHECK(qwenc_token_is_added(t, qwenc_token_id(t, names[k])) == 1, "%s: %s is added", dir, names[k]);
    CHECK(!qwenc_token_is_added(t, qwenc_token_id(t, "hello")) && !qwenc_token_is_added(t, 0) &&
          !qwenc_token_is_added(t, -1) && !qwenc_token_is_added(t, qwenc_tokenizer_n_tokens(t)) &&
          !qwenc_token_is_added(NULL, 0),
          "%s: vocabulary tokens and out-of-range ids are not added", dir);
    json_decref(root);
    qwenc_tokenizer_free(t);
}

int main(void) {
    test_penalty_arithmetic();
    test_penalty_sampling();
    test_penalty_params();
    test_logprobs();
    test_added_tokens(check_env("QWENC_TOKENIZER_DIR"));
    char demo[4096];
    snprintf(demo, sizeof demo, "%s/models/qwenc-demo", check_env("QWENC_ROOT"));
    test_added_tokens(demo);

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
