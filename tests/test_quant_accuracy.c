/* How far Q8_0 and Q4_0 weights with int8 activations (kernels/cpu/qtile.h)
 * move a trained model: the bundled qwenc-demo (bf16, every matrix a whole
 * number of blocks) written as q8_0 and q4_0 GGUF, then run over its golden
 * prompts and their greedy continuations (teacher forced) next to the bf16
 * model, which computes in float32. Top-1 at every position must agree at
 * >= 98% (Q8_0) and >= 90% (Q4_0), with no non-finite logit; and the
 * quantized models decode token by token to the same logits as the batch. */
#include "qwenc.h"
#include <jansson.h>
#include "check.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

/* The prompt followed by its greedy continuation. */
static int32_t *prompt_and_greedy(const json_t *p, int *n) {
    size_t np, ng;
    int32_t *a = check_ids_from_json(json_object_get(p, "ids"), &np);
    int32_t *b = check_ids_from_json(json_object_get(p, "greedy"), &ng);
    a = realloc(a, (np + ng) * sizeof *a);
    memcpy(a + np, b, ng * sizeof *b);
    free(b);
    *n = (int)(np + ng);
    return a;
}

/* Logits of the last position after feeding ids one at a time equal the
 * batch's last row. */
static int incremental_matches(qwenc_model *m, const int32_t *ids, int n, const float *batch_last, int vocab) {
    char err[512];
    qwenc_session *s = NULL;
    int rc = qwenc_session_new(m, 0, &s, err, sizeof err);
    for (int t = 0; !rc && t < n; t++) rc = qwenc_session_eval(s, ids + t, 1, NULL, err, sizeof err);
    int same = !rc && !memcmp(qwenc_session_logits(s), batch_last, (size_t)vocab * sizeof *batch_last);
    CHECK(rc == 0, "incremental eval: %s", err);
    qwenc_session_free(s);
    return same;
}

int main(void) {
    const char *root = check_env("QWENC_ROOT");
    char dir[1024], tmp[] = "/tmp/qwenc-quant-acc-XXXXXX";
    snprintf(dir, sizeof dir, "%s/models/qwenc-demo", root);
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 2;
    }
    json_t *golden = check_load_json(dir, "golden.json");
    qwenc_model *ref = check_open_model(dir, 2);
    if (!ref) return check_summary();
    qwenc_model_info in;
    qwenc_model_get_info(ref, &in);
    int vocab = in.vocab_size;
    static const char *types[] = {"q8_0", "q4_0"};
    static const int bar[] = {98, 90};
    for (int ti = 0; ti < 2; ti++) {
        char path[1200], err[512];
        snprintf(path, sizeof path, "%s/demo-%s.gguf", tmp, types[ti]);
        CHECK(qwenc_model_save_gguf(ref, path, types[ti], NULL, NULL, err, sizeof err) == 0, "save %s: %s", path,
              err);
        qwenc_model *m = check_open_model(path, 2);
        if (!m) continue;
        qwenc_model_info qi;
        qwenc_model_get_info(m, &qi);
        CHECK(!strcmp(qi.weight_dtype, types[ti]), "%s holds %s weights", path, qi.weight_dtype);
        int positions = 0, agree = 0, nan = 0, incr = 1;
        double worst = 0;
        size_t pi;
        json_t *p;
        json_array_foreach(json_object_get(golden, "prompts"), pi, p) {
            int n;
            int32_t *ids = prompt_and_greedy(p, &n);
            float *a = check_eval_all(ref, ids, n, vocab), *b = check_eval_all(m, ids, n, vocab);
            for (int t = 0; t < n; t++) {
                const float *ra = a + (int64_t)t * vocab, *rb = b + (int64_t)t * vocab;
                int top = check_argmax(ra, vocab);
                agree += check_argmax(rb, vocab) == top;
                worst = fmax(worst, fabs(rb[top] - ra[top]));
                for (int v = 0; v < vocab; v++) nan += !isfinite(rb[v]);
                positions++;
            }
            incr &= incremental_matches(m, ids, n, b + (int64_t)(n - 1) * vocab, vocab);
            free(ids), free(a), free(b);
        }
        printf("qwenc-demo %s (int8 activations): top-1 agrees with bf16 at %d/%d positions (%.1f%%), "
               "the top logit moves by up to %.3f\n",
               types[ti], agree, positions, 100.0 * agree / positions, worst);
        CHECK(agree * 100 >= bar[ti] * positions, "%s: top-1 agreement %d/%d is under %d%%", types[ti], agree,
              positions, bar[ti]);
        CHECK(nan == 0, "%s: %d non-finite logits", types[ti], nan);
        CHECK(incr, "%s: token-by-token logits differ from the batch", types[ti]);
        qwenc_model_free(m);
        unlink(path);
    }
    rmdir(tmp);
    qwenc_model_free(ref);
    json_decref(golden);
    return check_summary();
}
