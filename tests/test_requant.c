/* Quantizing at load (qwenc_model_params.quant) and the k-quant recipes:
 *  - a model opened with quant = T holds, tensor for tensor, the types and
 *    bytes of the GGUF file qwenc_model_save_gguf writes with type T, and
 *    computes the same logits bit for bit (every fixture architecture, the
 *    demo model, a synthetic model; f32 to q4_k_m);
 *  - the quantized models stay close to float32: top-1 agreement of the
 *    logits at every position of the golden prompts (and their greedy
 *    continuations) with the unquantized model, >= 90% at Q4_K; the figures
 *    are printed (on the fixtures, whose rows are 16 to 64 wide, Q4_K falls
 *    back to Q5_0 / F16 as in llama.cpp; the demo model's rows are whole
 *    256-blocks, so there it is Q4_K itself);
 *  - llama.cpp's Q4_K_M choices and fallbacks, tensor by tensor, for a
 *    28-layer model of Qwen3-0.6B's and Qwen2.5-0.5B's row lengths;
 *  - bad input: an unknown type, q4_k_m on an 8-expert model. */
#include "qwenc.h"
#include <jansson.h>
#include "check.h"
#include "format/gguf.h"
#include "format/quant_recipe.h"
#include "model/model.h"

#include <string.h>
#include <unistd.h>

static char tmp[256];

static qwenc_model *open_quant(const char *path, const char *quant, int *rc, char *err, size_t errlen) {
    qwenc_model_params p;
    qwenc_model_params_init(&p);
    p.n_threads = 2;
    p.quant = quant;
    qwenc_model *m = NULL;
    *rc = qwenc_model_open(path, &p, &m, err, errlen);
    return m;
}

/* Every tensor of the GGUF-loaded model b is in a with the same dtype, shape
 * and bytes. */
static int same_tensors(const qwenc_model *a, const qwenc_model *b, const char *what) {
    int bad = 0;
    for (int i = 0; i < b->ck.n_tensors; i++) {
        const qw_st_tensor *tb = &b->ck.tensors[i], *ta = qw_checkpoint_find(&a->ck, tb->name);
        int same = ta && ta->dtype == tb->dtype && ta->rank == tb->rank && ta->nbytes == tb->nbytes &&
                   !memcmp(ta->shape, tb->shape, (size_t)tb->rank * sizeof *tb->shape) &&
                   !memcmp(ta->data, tb->data, tb->nbytes);
        if (!same && bad++ < 3)
            fprintf(stderr, "%s: tensor %s: %s at load, %s in the file\n", what, tb->name,
                    ta ? qw_dtype_name(ta->dtype) : "missing", qw_dtype_name(tb->dtype));
    }
    return bad;
}

static const int32_t probe_ids[] = {1, 2, 3, 4, 5, 100, 7, 9, 11, 13, 200, 17};
#define N_PROBE (int)(sizeof probe_ids / sizeof probe_ids[0])

/* quant at load == save as GGUF, then load: tensors and logits. */
static void check_equal_to_convert(const char *path, const char *type) {
    char err[512] = "", what[600], gguf[600];
    int rc;
    snprintf(what, sizeof what, "%s --quant %s", path, type);
    snprintf(gguf, sizeof gguf, "%s/converted.gguf", tmp);
    qwenc_model *src = check_open_model(path, 2), *conv = NULL, *q = open_quant(path, type, &rc, err, sizeof err);
    CHECK(rc == 0, "%s: %s", what, err);
    if (src && q && qwenc_model_save_gguf(src, gguf, type, NULL, NULL, err, sizeof err) == 0)
        conv = check_open_model(gguf, 2);
    CHECK(conv != NULL, "%s: convert: %s", what, err);
    if (conv && q) {
        CHECK(same_tensors(q, conv, what) == 0, "%s: tensors differ from the converted file", what);
        qwenc_model_info in;
        qwenc_model_get_info(q, &in);
        float *a = check_eval_all(q, probe_ids, N_PROBE, in.vocab_size);
        float *b = check_eval_all(conv, probe_ids, N_PROBE, in.vocab_size);
        CHECK(!memcmp(a, b, (size_t)N_PROBE * in.vocab_size * sizeof *a), "%s: logits differ from the converted file's",
              what);
        free(a);
        free(b);
    }
    qwenc_model_free(src);
    qwenc_model_free(conv);
    qwenc_model_free(q);
    unlink(gguf);
}

/* The same for a synthetic model: built bf16 and quantized at load. */
static void check_synthetic(const char *shape, const char *type) {
    char err[512] = "", gguf[600];
    snprintf(gguf, sizeof gguf, "%s/synthetic.gguf", tmp);
    qwenc_model_params p;
    qwenc_model_params_init(&p);
    p.n_threads = 2;
    qwenc_model *src = NULL, *q = NULL, *conv = NULL;
    int rc = qwenc_model_open_synthetic(shape, "bf16", 7, &p, &src, err, sizeof err);
    p.quant = type;
    if (!rc) rc = qwenc_model_open_synthetic(shape, "bf16", 7, &p, &q, err, sizeof err);
    if (!rc) rc = qwenc_model_save_gguf(src, gguf, type, NULL, NULL, err, sizeof err);
    if (!rc) conv = check_open_model(gguf, 2);
    CHECK(rc == 0 && conv, "synthetic %s --quant %s: %s", shape, type, err);
    if (conv) CHECK(same_tensors(q, conv, shape) == 0, "synthetic %s --quant %s: tensors differ", shape, type);
    qwenc_model_free(src);
    qwenc_model_free(q);
    qwenc_model_free(conv);
    unlink(gguf);
}

/* ---- closeness to float32 ---- */

/* Of every position of every golden prompt followed by its greedy
 * continuation: how many have the same argmax as the unquantized model. */
static double top1_agreement(const char *dir, const char *type, int *n_pos) {
    char err[512] = "";
    int rc, agree = 0, total = 0;
    json_t *golden = check_load_json(dir, "golden.json"), *prompts = json_object_get(golden, "prompts");
    qwenc_model *f = check_open_model(dir, 2), *q = open_quant(dir, type, &rc, err, sizeof err);
    CHECK(rc == 0, "%s --quant %s: %s", dir, type, err);
    for (size_t i = 0; f && q && i < json_array_size(prompts); i++) {
        json_t *pr = json_array_get(prompts, i);
        size_t n_ids, n_greedy;
        int32_t *ids = check_ids_from_json(json_object_get(pr, "ids"), &n_ids);
        int32_t *greedy = check_ids_from_json(json_object_get(pr, "greedy"), &n_greedy);
        int32_t *all = malloc((n_ids + n_greedy) * sizeof *all);
        memcpy(all, ids, n_ids * sizeof *all);
        memcpy(all + n_ids, greedy, n_greedy * sizeof *all);
        int n = (int)(n_ids + n_greedy);
        qwenc_model_info in;
        qwenc_model_get_info(f, &in);
        float *a = check_eval_all(f, all, n, in.vocab_size), *b = check_eval_all(q, all, n, in.vocab_size);
        for (int t = 0; t < n; t++)
            agree += check_argmax(a + (int64_t)t * in.vocab_size, in.vocab_size) ==
                     check_argmax(b + (int64_t)t * in.vocab_size, in.vocab_size);
        total += n;
        free(a), free(b), free(all), free(ids), free(greedy);
    }
    qwenc_model_free(f);
    qwenc_model_free(q);
    json_decref(golden);
    *n_pos = total;
    return total ? (double)agree / total : 0;
}

static void test_top1(const char *data, const char *demo, int full) {
    static const char *models[] = {"qwen3-tiny", "qwen2-tiny", "qwen3-moe-tiny"};
    static const char *types[] = {"q4_k", "q8_0", "q6_k", "q4_0"};
    char dir[4096];
    for (size_t i = 0; i < 4; i++) {
        if (i < 3) snprintf(dir, sizeof dir, "%s/models/%s", data, models[i]);
        else snprintf(dir, sizeof dir, "%s", demo);
        for (size_t k = 0; k < (full ? sizeof types / sizeof types[0] : 1); k++) {
            int n;
            double r = top1_agreement(dir, types[k], &n);
            printf("top-1 agreement with float32, %-16s %-6s: %5.1f%% of %d positions\n",
                   i < 3 ? models[i] : "qwenc-demo", types[k], 100 * r, n);
            if (!strcmp(types[k], "q4_k")) CHECK(r >= 0.90, "%s q4_k: top-1 agreement %.3f < 0.90", dir, r);
        }
    }
    int n;
    double r = top1_agreement(demo, "q4_k_m", &n);
    printf("top-1 agreement with float32, %-16s %-6s: %5.1f%% of %d positions\n", "qwenc-demo", "q4_k_m", 100 * r, n);
    CHECK(r >= 0.90, "demo q4_k_m: top-1 agreement %.3f < 0.90", r);
}

/* ---- llama.cpp's choices ---- */

static uint32_t type_of(const qw_quant_recipe *r, const char *name, int n_dims, int64_t ne0, int tied) {
    return qw_quant_recipe_type(r, name, n_dims, ne0, tied);
}

static void test_recipes(void) {
    char err[512] = "", name[64];
    qw_quant_recipe r;
    CHECK(qw_quant_recipe_init("q4_k_m", 28, 0, &r, err, sizeof err) == 0 && r.file_type == 15, "q4_k_m: %s", err);
    /* 28 layers: n/8 = 3, 7n/8 = 24: layers 0-2, 24-27 and (i - 3) % 3 == 2 get more bits */
    static const int more[28] = {1, 1, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 1, 1, 1, 1};
    int bad = 0;
    for (int i = 0; i < 28; i++) {
        uint32_t want = more[i] ? QW_GGML_Q6_K : QW_GGML_Q4_K;
        snprintf(name, sizeof name, "blk.%d.attn_v.weight", i);
        bad += type_of(&r, name, 2, 1024, 1) != want;
        snprintf(name, sizeof name, "blk.%d.ffn_down.weight", i);
        bad += type_of(&r, name, 2, 3072, 1) != want;
        snprintf(name, sizeof name, "blk.%d.ffn_down_exps.weight", i);
        bad += type_of(&r, name, 3, 768, 1) != want;
        snprintf(name, sizeof name, "blk.%d.attn_q.weight", i);
        bad += type_of(&r, name, 2, 1024, 1) != QW_GGML_Q4_K;
        snprintf(name, sizeof name, "blk.%d.attn_k.weight", i);
        bad += type_of(&r, name, 2, 1024, 1) != QW_GGML_Q4_K;
        snprintf(name, sizeof name, "blk.%d.ffn_up_exps.weight", i);
        bad += type_of(&r, name, 3, 1024, 1) != QW_GGML_Q4_K;
    }
    CHECK(bad == 0, "q4_k_m: %d layer choices wrong", bad);
    CHECK(type_of(&r, "token_embd.weight", 2, 1024, 1) == QW_GGML_Q6_K, "tied embedding: Q6_K (it is the output)");
    CHECK(type_of(&r, "token_embd.weight", 2, 1024, 0) == QW_GGML_Q4_K, "untied embedding: Q4_K");
    CHECK(type_of(&r, "output.weight", 2, 1024, 0) == QW_GGML_Q6_K, "output: Q6_K");
    CHECK(type_of(&r, "output.weight", 2, 896, 0) == QW_GGML_Q8_0 &&
              type_of(&r, "token_embd.weight", 2, 896, 1) == QW_GGML_Q8_0,
          "output rows of 896 (Qwen2.5-0.5B): Q8_0");
    CHECK(type_of(&r, "blk.4.attn_q.weight", 2, 896, 1) == QW_GGML_Q5_0 &&
              type_of(&r, "blk.0.attn_v.weight", 2, 896, 1) == QW_GGML_Q8_0 &&
              type_of(&r, "blk.0.ffn_down.weight", 2, 4864, 1) == QW_GGML_Q6_K,
          "fallbacks: Q4_K -> Q5_0, Q6_K -> Q8_0 for rows of 896; 4864 is 19 blocks");
    CHECK(type_of(&r, "blk.4.attn_q.weight", 2, 48, 1) == QW_GGML_F16, "rows of 48: F16");
    CHECK(type_of(&r, "blk.4.attn_norm.weight", 1, 1024, 1) == QW_GGML_F32 &&
              type_of(&r, "blk.4.attn_q_norm.weight", 1, 128, 1) == QW_GGML_F32 &&
              type_of(&r, "blk.4.ffn_gate_inp.weight", 2, 1024, 1) == QW_GGML_F32 &&
              type_of(&r, "blk.4.attn_q.bias", 1, 1024, 1) == QW_GGML_F32,
          "norms, biases and the router stay F32");
    CHECK(qw_quant_recipe_init("q4_k", 28, 128, &r, err, sizeof err) == 0 &&
              type_of(&r, "output.weight", 2, 1024, 0) == QW_GGML_Q4_K &&
              type_of(&r, "blk.0.attn_v.weight", 2, 1024, 0) == QW_GGML_Q4_K &&
              type_of(&r, "blk.0.attn_v.weight", 2, 896, 0) == QW_GGML_Q5_0,
          "q4_k: every matrix Q4_K (pure), with the fallback");
    CHECK(qw_quant_recipe_init("q6_k", 28, 0, &r, err, sizeof err) == 0 &&
              type_of(&r, "token_embd.weight", 2, 896, 1) == QW_GGML_Q8_0 && r.file_type == 18,
          "q6_k: rows of 896 fall back to Q8_0");
    CHECK(qw_quant_recipe_init("q8_0", 28, 0, &r, err, sizeof err) == 0 &&
              type_of(&r, "blk.0.attn_v.weight", 2, 48, 0) == QW_GGML_F16,
          "q8_0: rows that are not whole blocks become F16");
    CHECK(qw_quant_recipe_init("q4_k_m", 2, 8, &r, err, sizeof err) == QWENC_EUNSUPPORTED && strstr(err, "Q5_K"),
          "q4_k_m on 8 experts: %s", err);
    CHECK(qw_quant_recipe_init("q5_k_m", 2, 0, &r, err, sizeof err) == QWENC_EINVAL && strstr(err, "'q5_k_m'") &&
              strstr(err, "q4_k_m"),
          "unknown type: %s", err);
}

static void test_bad(const char *data) {
    char err[512] = "", dir[4096];
    int rc;
    snprintf(dir, sizeof dir, "%s/models/qwen3-tiny", data);
    qwenc_model *m = open_quant(dir, "q3_k", &rc, err, sizeof err);
    CHECK(rc == QWENC_EINVAL && !m && strstr(err, "unknown weight type 'q3_k'") && !strchr(err, '\n'),
          "unknown --quant: %d %s", rc, err);
    m = open_quant(dir, "", &rc, err, sizeof err);
    CHECK(rc == QWENC_EINVAL && !m, "empty --quant: %d %s", rc, err);
    snprintf(dir, sizeof dir, "%s/models/qwen3-moe-tiny", data);
    m = open_quant(dir, "q4_k_m", &rc, err, sizeof err);
    CHECK(rc == QWENC_EUNSUPPORTED && !m && strstr(err, "8-expert"), "q4_k_m on 8 experts: %d %s", rc, err);
    qwenc_model_params p;
    qwenc_model_params_init(&p);
    p.quant = "f8";
    rc = qwenc_model_open_synthetic("tiny-qwen3", "bf16", 1, &p, &m, err, sizeof err);
    CHECK(rc == QWENC_EINVAL && !m, "synthetic with an unknown --quant: %d %s", rc, err);
}

int main(void) {
    const char *data = check_env("QWENC_TEST_DATA"), *root = check_env("QWENC_ROOT");
    char demo[4096], dir[4096];
    snprintf(demo, sizeof demo, "%s/models/qwenc-demo", root);
    snprintf(tmp, sizeof tmp, "/tmp/qwenc-requant-XXXXXX");
    if (!mkdtemp(tmp)) return 2;
    test_recipes();
    test_bad(data);
    static const char *models[] = {"qwen3-tiny", "qwen2-tiny", "qwen3-moe-tiny"};
    static const char *types[] = {"f32", "f16", "bf16", "q8_0", "q4_0", "q4_k", "q6_k", "q4_k_m"};
    for (size_t i = 0; i < 3; i++)
        for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
            if (i == 2 && !strcmp(types[k], "q4_k_m")) continue;  /* 8 experts: refused above */
            snprintf(dir, sizeof dir, "%s/models/%s", data, models[i]);
            check_equal_to_convert(dir, types[k]);
        }
    /* the sanitizer build is ~10x slower: there the demo model takes the k-quants only */
    int full = getenv("QWENC_SANITIZED") == NULL;
    for (size_t k = full ? 0 : 5; k < sizeof types / sizeof types[0]; k++) check_equal_to_convert(demo, types[k]);
    check_equal_to_convert(check_env("QWENC_GGUF_FIXTURE"), "q4_k");  /* from llama.cpp's Q8_0 file */
    check_synthetic("tiny-qwen2", "q6_k");
    check_synthetic("tiny-qwen3-moe", "q8_0");
    test_top1(data, demo, full);
    rmdir(tmp);
    return check_summary();
}
