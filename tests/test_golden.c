/* The forward pass against transformers' goldens: logits, logsumexp, top-1,
 * greedy continuations, incremental decoding and thread-count invariance. */
#include "qwenc.h"
#include "check.h"

#include <jansson.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

static char path_buf[4096];
static const char *path2(const char *a, const char *b) {
    snprintf(path_buf, sizeof path_buf, "%s/%s", a, b);
    return path_buf;
}

static int *json_ints(json_t *a, int *n) {
    *n = (int)json_array_size(a);
    int *v = malloc((size_t)(*n ? *n : 1) * sizeof *v);
    for (int i = 0; i < *n; i++) v[i] = (int)json_integer_value(json_array_get(a, (size_t)i));
    return v;
}

static double logsumexp(const float *x, int n) {
    double mx = x[check_argmax(x, n)], s = 0;
    for (int i = 0; i < n; i++) s += exp((double)x[i] - mx);
    return mx + log(s);
}

/* Greedy decoding step by step, fed the golden tokens (teacher forcing) so
 * every step is compared; a step whose golden top1-top2 margin is <= 1e-3 is
 * a near tie where either token is right, so it is not compared. Stops after
 * eos. */
static void check_greedy(qwenc_model *m, const char *what, const int32_t *ids, int n, json_t *greedy,
                         json_t *margins, int eos) {
    char err[512];
    qwenc_model_info in;
    qwenc_model_get_info(m, &in);
    qwenc_session *s;
    int rc = qwenc_session_new(m, 0, &s, err, sizeof err);
    if (!rc) rc = qwenc_session_eval(s, ids, n, NULL, err, sizeof err);
    CHECK(rc == 0, "%s: %s", what, err);
    if (rc) return;
    int steps = (int)json_array_size(greedy), compared = 0, bad = 0;
    for (int i = 0; i < steps && !rc; i++) {
        int32_t got = check_argmax(qwenc_session_logits(s), in.vocab_size);
        int32_t want = (int32_t)json_integer_value(json_array_get(greedy, (size_t)i));
        double margin = json_number_value(json_array_get(margins, (size_t)i));
        if (margin > 1e-3) {
            compared++;
            if (got != want && bad++ < 3)
                fprintf(stderr, "%s: greedy step %d: got %d, golden %d (margin %.4f)\n", what, i, got, want, margin);
        }
        if (want == eos) break;
        rc = qwenc_session_eval(s, &want, 1, NULL, err, sizeof err);
    }
    CHECK(rc == 0, "%s: %s", what, err);
    CHECK(bad == 0, "%s: %d of %d greedy steps differ from the golden", what, bad, compared);
    CHECK(compared > 0, "%s: no greedy step compared", what);
    qwenc_session_free(s);
}

/* Token-by-token evaluation must give the logits of the batched pass. */
static void check_incremental(qwenc_model *m, const char *what, const int32_t *ids, int n, const float *full,
                              int vocab) {
    char err[512];
    qwenc_session *s;
    int rc = qwenc_session_new(m, 0, &s, err, sizeof err);
    double worst = 0;
    for (int t = 0; !rc && t < n; t++) {
        rc = qwenc_session_eval(s, ids + t, 1, NULL, err, sizeof err);
        const float *lg = qwenc_session_logits(s);
        for (int v = 0; !rc && v < vocab; v++) worst = fmax(worst, fabs(lg[v] - full[(int64_t)t * vocab + v]));
    }
    CHECK(rc == 0, "%s: %s", what, err);
    CHECK(worst <= 1e-4, "%s: incremental vs batched max diff %g", what, worst);
    qwenc_session_free(s);
}

/* The CLI end to end: `qwenc generate --print-ids` free-running prints the
 * golden continuation; `qwenc logits` writes the batched logits. */
static void check_cli(const char *dir, const char *what, const int32_t *ids, int n, json_t *greedy,
                      const float *logits, int vocab) {
    char idlist[4096] = "", cmd[8192], out[4096] = "", want[4096] = "", lfile[256];
    for (int i = 0; i < n; i++) snprintf(idlist + strlen(idlist), sizeof idlist - strlen(idlist), "%s%d", i ? "," : "", ids[i]);
    for (size_t i = 0; i < json_array_size(greedy); i++)
        snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", i ? "," : "",
                 (long long)json_integer_value(json_array_get(greedy, i)));
    snprintf(cmd, sizeof cmd, "%s generate -m %s --ids %s -n %zu --greedy --print-ids -t 2", check_env("QWENC_BIN"), dir,
             idlist, json_array_size(greedy));
    FILE *p = popen(cmd, "r");
    if (p && !fgets(out, sizeof out, p)) out[0] = 0;
    int st = p ? pclose(p) : -1;
    out[strcspn(out, "\n")] = 0;
    CHECK(st == 0 && !strcmp(out, want), "%s: generate printed '%s', golden '%s'", what, out, want);

    snprintf(lfile, sizeof lfile, "/tmp/qwenc-logits-%d.f32", (int)getpid());
    snprintf(cmd, sizeof cmd, "%s logits -m %s --ids %s --out %s", check_env("QWENC_BIN"), dir, idlist, lfile);
    CHECK(system(cmd) == 0, "%s: qwenc logits failed", what);
    float *got = malloc((size_t)n * vocab * sizeof *got);
    FILE *f = fopen(lfile, "rb");
    CHECK(f && fread(got, sizeof *got, (size_t)n * vocab, f) == (size_t)n * vocab, "%s: logits file size", what);
    if (f) fclose(f);
    CHECK(memcmp(got, logits, (size_t)n * vocab * sizeof *got) == 0, "%s: qwenc logits differs from the API", what);
    remove(lfile);
    free(got);
}

/* qwenc_session_sync keeps the common prefix and evaluates only the rest,
 * with the logits of a fresh evaluation. */
static void check_sync(qwenc_model *m, const char *what, const int32_t *ids, int n, const float *full, int vocab) {
    if (n < 3) return;
    char err[512];
    qwenc_session *s;
    int reused = -1, rc = qwenc_session_new(m, 0, &s, err, sizeof err);
    if (!rc) rc = qwenc_session_sync(s, ids, n - 1, &reused, err, sizeof err);
    CHECK(rc == 0 && reused == 0, "%s: first sync: %s (reused %d)", what, err, reused);
    if (!rc) rc = qwenc_session_sync(s, ids, n, &reused, err, sizeof err);
    CHECK(rc == 0 && reused == n - 1, "%s: extending sync reused %d of %d", what, reused, n - 1);
    CHECK(rc == 0 && !memcmp(qwenc_session_logits(s), full + (int64_t)(n - 1) * vocab, (size_t)vocab * sizeof(float)),
          "%s: logits after sync differ", what);
    /* diverge at position 1: only position 0 is kept */
    int32_t *alt = malloc((size_t)n * sizeof *alt);
    memcpy(alt, ids, (size_t)n * sizeof *alt);
    alt[1] = (alt[1] + 1) % vocab;
    if (!rc) rc = qwenc_session_sync(s, alt, n, &reused, err, sizeof err);
    CHECK(rc == 0 && reused == 1 && qwenc_session_n_past(s) == n, "%s: diverging sync reused %d", what, reused);
    CHECK(!memcmp(qwenc_session_tokens(s), alt, (size_t)n * sizeof *alt), "%s: session tokens", what);
    float *fresh = check_eval_all(m, alt, n, vocab);
    CHECK(rc == 0 && !memcmp(qwenc_session_logits(s), fresh + (int64_t)(n - 1) * vocab, (size_t)vocab * sizeof(float)),
          "%s: logits after a diverging sync differ from a fresh evaluation", what);
    /* the same ids again: everything but the last token is reused */
    if (!rc) rc = qwenc_session_sync(s, alt, n, &reused, err, sizeof err);
    CHECK(rc == 0 && reused == n - 1, "%s: same-ids sync reused %d", what, reused);
    free(fresh);
    free(alt);
    qwenc_session_free(s);
}

static void check_fixture(const char *data, const char *name) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/models/%s", data, name);
    json_error_t je;
    json_t *g = json_load_file(path2(dir, "golden.json"), 0, &je);
    CHECK(g != NULL, "%s: %s", name, je.text);
    qwenc_model *m = check_open_model(dir, 1), *m2 = check_open_model(dir, 2);
    if (!g || !m || !m2) return;
    qwenc_model_info in;
    qwenc_model_get_info(m, &in);
    int vocab = in.vocab_size;
    size_t pi;
    json_t *p;
    json_array_foreach(json_object_get(g, "prompts"), pi, p) {
        char what[128];
        snprintf(what, sizeof what, "%s prompt %zu", name, pi);
        int n;
        int *ids_i = json_ints(json_object_get(p, "ids"), &n);
        int32_t *ids = malloc((size_t)n * sizeof *ids);
        for (int i = 0; i < n; i++) ids[i] = ids_i[i];
        float *lg = check_eval_all(m, ids, n, vocab);
        double worst = 0, worst_lse = 0;
        int top1_bad = 0;
        for (int t = 0; t < n; t++) {
            const float *row = lg + (int64_t)t * vocab;
            json_t *tids = json_array_get(json_object_get(p, "top_ids"), (size_t)t);
            json_t *tlog = json_array_get(json_object_get(p, "top_logits"), (size_t)t);
            for (size_t j = 0; j < json_array_size(tids); j++) {
                int id = (int)json_integer_value(json_array_get(tids, j));
                worst = fmax(worst, fabs(row[id] - json_number_value(json_array_get(tlog, j))));
            }
            top1_bad += check_argmax(row, vocab) != json_integer_value(json_array_get(tids, 0));
            double lse = json_number_value(json_array_get(json_object_get(p, "logsumexp"), (size_t)t));
            worst_lse = fmax(worst_lse, fabs(logsumexp(row, vocab) - lse));
        }
        printf("%s: max |diff| top-8 logits %.2e, logsumexp %.2e\n", what, worst, worst_lse);
        CHECK(worst <= 1e-3, "%s: top-8 logits max diff %g", what, worst);
        CHECK(worst_lse <= 1e-3, "%s: logsumexp max diff %g", what, worst_lse);
        CHECK(top1_bad == 0, "%s: top-1 differs at %d positions", what, top1_bad);
        /* the full last-position logits */
        FILE *f = fopen(path2(dir, json_string_value(json_object_get(p, "last_logits_file"))), "rb");
        float *last = malloc((size_t)vocab * sizeof *last);
        CHECK(f && fread(last, sizeof *last, (size_t)vocab, f) == (size_t)vocab, "%s: read last logits", what);
        if (f) fclose(f);
        double wl = 0;
        for (int v = 0; v < vocab; v++) wl = fmax(wl, fabs(last[v] - lg[(int64_t)(n - 1) * vocab + v]));
        printf("%s: max |diff| full last-position logits %.2e\n", what, wl);
        CHECK(wl <= 1e-3, "%s: last-position logits max diff %g", what, wl);
        /* two threads: bit-identical */
        float *lg2 = check_eval_all(m2, ids, n, vocab);
        CHECK(memcmp(lg, lg2, (size_t)n * vocab * sizeof *lg) == 0, "%s: 1 and 2 threads differ", what);
        check_incremental(m, what, ids, n, lg, vocab);
        check_sync(m, what, ids, n, lg, vocab);
        check_cli(dir, what, ids, n, json_object_get(p, "greedy"), lg, vocab);
        check_greedy(m, what, ids, n, json_object_get(p, "greedy"), json_object_get(p, "greedy_margins"), -1);
        free(lg); free(lg2); free(last); free(ids); free(ids_i);
    }
    qwenc_model_free(m);
    qwenc_model_free(m2);
    json_decref(g);
}

typedef struct { int calls; int64_t last_done, total; int monotonic; } progress_log;
static void log_progress(void *ctx, int64_t done, int64_t total) {
    progress_log *l = ctx;
    l->monotonic &= done >= l->last_done && done <= total;
    l->calls++;
    l->last_done = done;
    l->total = total;
}

/* With a progress callback the weights are read at open, reported up to the
 * total size of the safetensors files. */
static void check_progress(const char *dir) {
    progress_log log = {0, 0, 0, 1};
    qwenc_model_params p;
    qwenc_model_params_init(&p);
    p.progress = log_progress;
    p.progress_ctx = &log;
    qwenc_model *m = NULL;
    char err[512];
    CHECK(qwenc_model_open(dir, &p, &m, err, sizeof err) == 0, "open with progress: %s", err);
    CHECK(log.calls >= 3 && log.monotonic && log.last_done == log.total && log.total > 20000000,
          "progress: %d calls, %lld of %lld", log.calls, (long long)log.last_done, (long long)log.total);
    qwenc_model_free(m);
}

/* A prompt longer than one batch (QW_MAX_BATCH = 512) is split; the result
 * equals evaluating it in pieces of 100, with and without all logits. */
static void check_long_prompt(qwenc_model *m) {
    enum { N = 700 };
    int32_t ids[N];
    for (int i = 0; i < N; i++) ids[i] = (int32_t)((i * 7919) % 16000);
    qwenc_model_info in;
    qwenc_model_get_info(m, &in);
    char err[512];
    qwenc_session *a = NULL, *b = NULL, *c = NULL;
    int rc = qwenc_session_new(m, 0, &a, err, sizeof err);
    if (!rc) rc = qwenc_session_new(m, 0, &b, err, sizeof err);
    if (!rc) rc = qwenc_session_new(m, 0, &c, err, sizeof err);
    float *all = malloc((size_t)N * in.vocab_size * sizeof *all);
    if (!rc) rc = qwenc_session_eval(a, ids, N, NULL, err, sizeof err);
    for (int i = 0; !rc && i < N; i += 100) rc = qwenc_session_eval(b, ids + i, 100, NULL, err, sizeof err);
    if (!rc) rc = qwenc_session_eval(c, ids, N, all, err, sizeof err);
    CHECK(rc == 0, "long prompt: %s", err);
    size_t row = (size_t)in.vocab_size * sizeof(float);
    CHECK(!rc && !memcmp(qwenc_session_logits(a), qwenc_session_logits(b), row), "700 tokens at once != in pieces");
    CHECK(!rc && !memcmp(qwenc_session_logits(c), qwenc_session_logits(b), row) &&
              !memcmp(all + (size_t)(N - 1) * in.vocab_size, qwenc_session_logits(b), row),
          "700 tokens with all logits != in pieces");
    free(all);
    qwenc_session_free(a); qwenc_session_free(b); qwenc_session_free(c);
}

static void check_demo(const char *root) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/models/qwenc-demo", root);
    json_error_t je;
    json_t *g = json_load_file(path2(dir, "golden.json"), 0, &je);
    CHECK(g != NULL, "demo golden: %s", je.text);
    check_progress(dir);
    qwenc_model *m = check_open_model(dir, 2);
    if (!g || !m) return;
    check_long_prompt(m);
    qwenc_gen_defaults d;
    qwenc_model_gen_defaults(m, &d);
    CHECK(d.n_eos >= 1 && d.eos_ids[0] == 16002, "demo eos from generation_config: %d", d.eos_ids[0]);
    size_t pi;
    json_t *p;
    json_array_foreach(json_object_get(g, "prompts"), pi, p) {
        int n;
        int *ids_i = json_ints(json_object_get(p, "ids"), &n);
        int32_t *ids = malloc((size_t)n * sizeof *ids);
        for (int i = 0; i < n; i++) ids[i] = ids_i[i];
        char what[128];
        snprintf(what, sizeof what, "demo %s", json_string_value(json_object_get(p, "name")));
        check_greedy(m, what, ids, n, json_object_get(p, "greedy"), json_object_get(p, "greedy_margins"),
                     d.eos_ids[0]);
        free(ids);
        free(ids_i);
    }
    qwenc_model_free(m);
    json_decref(g);
}

int main(void) {
    const char *data = check_env("QWENC_TEST_DATA");
    check_fixture(data, "qwen3-tiny");
    check_fixture(data, "qwen2-tiny");
    check_fixture(data, "qwen3-moe-tiny");
    check_demo(check_env("QWENC_ROOT"));
    return check_summary();
}
