/* Synthetic (random-weight, in-memory) models: every tiny shape in every
 * dtype opens, binds and gives finite, varied logits; the same seed gives the
 * same logits whatever the thread count, another seed others; decoding one
 * token at a time gives the batch's logits, bit for bit; weights have
 * the advertised spread; weight_bytes_per_token counts what one token reads;
 * bad shape, dtype or params fail with QWENC_EINVAL and a message. */
#include "qwenc.h"
#include "check.h"
#include "format/gguf.h"
#include "format/quant.h"
#include "model/synthetic.h"

#include <math.h>
#include <string.h>

static const char *const shapes[] = {"tiny-qwen3", "tiny-qwen3-moe", "tiny-qwen2"};
static const char *const dtypes[] = {"f32", "bf16", "q8_0", "q4_0"};
static const int32_t ids[] = {1, 77, 300, 5, 511, 42};
#define N_IDS 6

static qwenc_model *open_synth(const char *shape, const char *dtype, uint64_t seed, int threads) {
    char err[512] = "";
    qwenc_model_params p;
    qwenc_model_params_init(&p);
    p.n_threads = threads;
    qwenc_model *m = NULL;
    int rc = qwenc_model_open_synthetic(shape, dtype, seed, &p, &m, err, sizeof err);
    CHECK(rc == 0 && m, "open %s %s: %s", shape, dtype, err);
    return m;
}

/* Logits of every position, or NULL after a failed check. */
static float *logits_of(const char *shape, const char *dtype, uint64_t seed, int threads) {
    qwenc_model *m = open_synth(shape, dtype, seed, threads);
    if (!m) return NULL;
    qwenc_model_info in;
    qwenc_model_get_info(m, &in);
    float *lg = check_eval_all(m, ids, N_IDS, in.vocab_size);
    qwenc_model_free(m);
    return lg;
}

static void check_model(const char *shape, const char *dtype) {
    qwenc_model *m = open_synth(shape, dtype, 7, 1);
    if (!m) return;
    qwenc_model_info in;
    qwenc_model_get_info(m, &in);
    CHECK(!strcmp(in.weight_dtype, dtype), "%s %s: weight dtype %s", shape, dtype, in.weight_dtype);
    CHECK(in.vocab_size == 512 && in.n_layers == 2 && in.hidden_size == 64, "%s: vocab %d", shape, in.vocab_size);
    CHECK(!strcmp(in.arch, strstr(shape, "moe") ? "qwen3_moe" : strstr(shape, "qwen2") ? "qwen2" : "qwen3"),
          "%s: arch %s", shape, in.arch);
    CHECK(qwenc_model_tokenizer(m) == NULL, "%s: no tokenizer", shape);
    qwenc_gen_defaults g;
    qwenc_model_gen_defaults(m, &g);
    CHECK(g.n_eos == 0 && !g.do_sample, "%s: neutral generation defaults", shape);
    float *lg = check_eval_all(m, ids, N_IDS, in.vocab_size);
    int finite = 1;
    float lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < N_IDS * in.vocab_size; i++) {
        finite &= isfinite(lg[i]);
        lo = fminf(lo, lg[i]);
        hi = fmaxf(hi, lg[i]);
    }
    CHECK(finite, "%s %s: non-finite logits", shape, dtype);
    /* the residual stream is N(0, 0.02)-scale and normalized: logits of order 1 */
    CHECK(hi - lo > 0.5f && hi - lo < 50, "%s %s: logits span [%g, %g]", shape, dtype, lo, hi);
    CHECK(check_argmax(lg, in.vocab_size) != check_argmax(lg + 5 * in.vocab_size, in.vocab_size) ||
              lg[0] != lg[5 * in.vocab_size],
          "%s %s: positions differ", shape, dtype);
    free(lg);
    qwenc_model_free(m);
}

static void check_same_seed(const char *shape, const char *dtype) {
    float *a = logits_of(shape, dtype, 11, 1), *b = logits_of(shape, dtype, 11, 2), *c = logits_of(shape, dtype, 12, 1);
    if (a && b && c) {
        size_t n = (size_t)N_IDS * 512 * sizeof(float);
        CHECK(!memcmp(a, b, n), "%s %s: seed 11 with 1 and 2 threads gives different logits", shape, dtype);
        CHECK(memcmp(a, c, n), "%s %s: seeds 11 and 12 give the same logits", shape, dtype);
    }
    free(a), free(b), free(c);
}

/* One token at a time (bf16 rows read as stored by the decode kernels,
 * Q8_0/Q4_0 in int8 tiles one token wide) gives the very logits of the
 * batched pass (bf16 rows widened beforehand, as N_IDS exceeds a float
 * tile; int8 tiles N_IDS tokens wide), bit for bit. */
static void check_incremental(const char *shape, const char *dtype) {
    float *full = logits_of(shape, dtype, 5, 2);
    qwenc_model *m = open_synth(shape, dtype, 5, 2);
    if (!full || !m) {
        free(full);
        qwenc_model_free(m);
        return;
    }
    char err[512] = "";
    qwenc_session *s = NULL;
    int rc = qwenc_session_new(m, 0, &s, err, sizeof err), differ = 0;
    for (int t = 0; !rc && t < N_IDS; t++) {
        rc = qwenc_session_eval(s, ids + t, 1, NULL, err, sizeof err);
        if (!rc) differ += memcmp(qwenc_session_logits(s), full + t * 512, 512 * sizeof(float)) != 0;
    }
    CHECK(rc == 0, "%s %s: incremental eval: %s", shape, dtype, err);
    CHECK(differ == 0, "%s %s: %d of %d positions decoded one at a time differ from the batch", shape, dtype, differ,
          N_IDS);
    qwenc_session_free(s);
    qwenc_model_free(m);
    free(full);
}

/* Bytes per token computed from the tensor list: everything, less 6 of 8
 * experts in each MoE layer and all but one row of an untied embedding. */
typedef struct {
    int64_t all, experts, embed;
} byte_count;

static void count_bytes(void *ctx, const char *name, const char *dtype, int rank, const int64_t *shape) {
    byte_count *bc = ctx;
    int64_t n = rank == 2 ? shape[0] * shape[1] : shape[0];
    int64_t bytes = !strcmp(dtype, "f32") ? 4 * n : !strcmp(dtype, "bf16") ? 2 * n
                    : !strcmp(dtype, "q8_0") ? n / 32 * 34 : n / 32 * 18;
    bc->all += bytes;
    if (strstr(name, ".experts.")) bc->experts += bytes;
    if (!strcmp(name, "model.embed_tokens.weight")) bc->embed = bytes;
}

static void check_bytes_per_token(const char *shape, const char *dtype) {
    qwenc_model *m = open_synth(shape, dtype, 1, 1);
    if (!m) return;
    qwenc_model_info in;
    qwenc_model_get_info(m, &in);
    byte_count bc = {0};
    qwenc_model_foreach_tensor(m, count_bytes, &bc);
    int64_t want = bc.all - bc.experts / 8 * 6 - (in.tied_embeddings ? 0 : bc.embed / 512 * 511);
    CHECK(in.weight_bytes == bc.all, "%s %s: weight_bytes %lld, tensors %lld", shape, dtype,
          (long long)in.weight_bytes, (long long)bc.all);
    CHECK(in.weight_bytes_per_token == want, "%s %s: bytes per token %lld, want %lld", shape, dtype,
          (long long)in.weight_bytes_per_token, (long long)want);
    qwenc_model_free(m);
}

/* Random matrices have a standard deviation near 0.02; norm gains are 1. */
static void check_spread(const char *dtype) {
    char err[512] = "";
    qw_config c;
    qw_checkpoint ck;
    qw_dtype dt;
    qw_pool *pool = qw_pool_new(2);
    int rc = qw_synthetic_config("tiny-qwen3", &c, err, sizeof err);
    if (!rc) rc = qw_synthetic_dtype(dtype, &dt, err, sizeof err);
    if (!rc) rc = qw_synthetic_checkpoint(&c, dt, 3, "tiny", pool, &ck, err, sizeof err);
    CHECK(rc == 0, "synthetic checkpoint %s: %s", dtype, err);
    if (rc) return;
    static const uint32_t ggml[QW_DT_COUNT] = {[QW_DT_F32] = QW_GGML_F32, [QW_DT_BF16] = QW_GGML_BF16,
                                               [QW_DT_Q8_0] = QW_GGML_Q8_0, [QW_DT_Q4_0] = QW_GGML_Q4_0};
    for (int i = 0; i < ck.n_tensors; i++) {
        const qw_st_tensor *t = &ck.tensors[i];
        int64_t n = t->rank == 2 ? t->shape[0] * t->shape[1] : t->shape[0];
        float *x = malloc((size_t)n * sizeof *x);
        CHECK(qw_dequant_row(ggml[t->dtype], t->data, n, x) == 0, "%s: dequantize", t->name);
        double s = 0, s2 = 0;
        for (int64_t k = 0; k < n; k++) s += x[k], s2 += (double)x[k] * x[k];
        double mean = s / n, sd = sqrt(s2 / n - mean * mean);
        if (strstr(t->name, "norm"))
            CHECK(mean == 1 && sd == 0, "%s %s: norm gains mean %g sd %g", dtype, t->name, mean, sd);
        else
            CHECK(sd > 0.015 && sd < 0.03 && fabs(mean) < 0.005, "%s %s: mean %g sd %g", dtype, t->name, mean, sd);
        CHECK((uintptr_t)t->data % 64 == 0, "%s: data aligned", t->name);
        free(x);
    }
    qw_checkpoint_close(&ck);
    qw_config_free(&c);
    qw_pool_free(pool);
}

static void check_bad(const char *shape, const char *dtype, const char *want_in_msg) {
    char err[512] = "";
    qwenc_model *m = (qwenc_model *)&err;  /* must be reset to NULL */
    int rc = qwenc_model_open_synthetic(shape, dtype, 0, NULL, &m, err, sizeof err);
    CHECK(rc == QWENC_EINVAL && m == NULL, "%s %s: rc %d", shape, dtype, rc);
    CHECK(strstr(err, want_in_msg) && !strchr(err, '\n'), "%s %s: message '%s'", shape, dtype, err);
}

int main(void) {
    for (int s = 0; s < 3; s++)
        for (int d = 0; d < 4; d++) {
            check_model(shapes[s], dtypes[d]);
            check_same_seed(shapes[s], dtypes[d]);
            check_incremental(shapes[s], dtypes[d]);
            check_bytes_per_token(shapes[s], dtypes[d]);
        }
    for (int d = 0; d < 4; d++) check_spread(dtypes[d]);
    check_bad("qwen4-1b", "bf16", "unknown synthetic model shape 'qwen4-1b' (known: qwen3-0.6b,");
    check_bad("", "q8_0", "unknown synthetic model shape ''");
    check_bad("tiny-qwen3", "f16", "unknown synthetic weight type 'f16'");
    check_bad("tiny-qwen3", "Q8_0", "'Q8_0' (f32, bf16, q8_0 or q4_0)");
    qwenc_model_params p;
    qwenc_model_params_init(&p);
    p.size = 0;
    char err[512] = "";
    qwenc_model *m = NULL;
    CHECK(qwenc_model_open_synthetic("tiny-qwen3", "f32", 0, &p, &m, err, sizeof err) == QWENC_EINVAL && !m &&
              strstr(err, "size field"),
          "params without size: %s", err);
    return check_summary();
}
