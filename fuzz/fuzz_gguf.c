/* GGUF: arbitrary bytes as a file, validated from memory; whatever opens is
 * read through every accessor, then as a model (metadata -> qw_config,
 * tensors -> Hugging Face names) and as a tokenizer (tokenizer.ggml.*),
 * which, when it loads, encodes and decodes a little text. Failures are one
 * line; successes stay inside the buffer. */
#include "format/gguf.h"
#include "format/gguf_model.h"
#include "tokenizer/tokenizer_impl.h"

#include "fuzz.h"

static void check_inside(const void *p, size_t n, const uint8_t *data, size_t size, const char *what) {
    const uint8_t *b = p;
    FUZZ_CHECK(b >= data && n <= size && b - data <= (ptrdiff_t)(size - n), "%s lies outside the file", what);
    if (n) {
        volatile uint8_t first = b[0], last = b[n - 1];
        (void)first, (void)last;
    }
}

static void read_metadata(const qw_gguf *g, const uint8_t *data, size_t size) {
    for (size_t i = 0; i < g->n_kv; i++) {
        const qw_gguf_kv *kv = &g->kv[i];
        FUZZ_CHECK(qw_gguf_find(g, kv->key) == kv, "key '%s' is not found", kv->key);
        int64_t iv;
        double fv;
        bool bv;
        const char *s;
        size_t n;
        (void)qw_gguf_kv_i64(kv, &iv);
        (void)qw_gguf_kv_f64(kv, &fv);
        (void)qw_gguf_kv_bool(kv, &bv);
        if (qw_gguf_kv_str(kv, &s, &n)) check_inside(s, n, data, size, kv->key);
        if (kv->type != QW_GGUF_ARRAY) continue;
        for (uint64_t k = 0; k < kv->count && k < 4096; k++) {
            if ((s = qw_gguf_arr_str(kv, k, &n))) check_inside(s, n, data, size, kv->key);
            (void)qw_gguf_arr_i64(kv, k, &iv);
            (void)qw_gguf_arr_f64(kv, k, &fv);
        }
        (void)qw_gguf_arr_str(kv, kv->count, &n);
    }
}

static void read_tensors(const qw_gguf *g, const uint8_t *data, size_t size) {
    for (size_t i = 0; i < g->n_tensors; i++) {
        const qw_gguf_tensor *t = &g->tensors[i], *found;
        char err[512] = "";
        FUZZ_CHECK(qw_gguf_tensor_find(g, t->name) == t, "tensor '%s' is not found", t->name);
        if (qw_gguf_tensor_get(g, t->name, &found, err, sizeof err)) {
            FUZZ_CHECK(fuzz_one_line(err), "error is not one line: '%s'", err);
            continue;
        }
        check_inside(t->data, t->nbytes, data, size, t->name);
        int64_t n = qw_gguf_tensor_nelements(t);
        if (n > 0)  /* (an empty tensor may have a first dimension whose row size no size_t holds) */
            FUZZ_CHECK(qw_gguf_row_size(t->type, t->ne[0]) * (size_t)(n / t->ne[0]) == t->nbytes,
                       "tensor '%s': %zu bytes, rows of %zu", t->name, t->nbytes, qw_gguf_row_size(t->type, t->ne[0]));
    }
}

static void as_tokenizer(const qw_gguf *g) {
    qwenc_tokenizer *t = qw_tokenizer_new();
    char err[512] = "";
    if (!t) abort();
    if (qw_tokenizer_from_gguf(t, g, err, sizeof err)) {
        FUZZ_CHECK(fuzz_one_line(err), "error is not one line: '%s'", err);
    } else {
        static const char text[] = "Hello, world! 123 <|im_start|>user\n\xe4\xbd\xa0\xe5\xa5\xbd</s>";
        int32_t *ids = NULL;
        size_t n = 0;
        if (qwenc_tokenize(t, text, sizeof text - 1, &ids, &n, err, sizeof err) == 0) {
            for (size_t i = 0; i < n; i++)
                FUZZ_CHECK(ids[i] >= 0 && ids[i] < qwenc_tokenizer_n_tokens(t), "id %d", ids[i]);
            char *back = NULL;
            if (qwenc_detokenize(t, ids, n, 0, &back, NULL, err, sizeof err) == 0) free(back);
        }
        free(ids);
    }
    qwenc_tokenizer_free(t);
}

static void as_model(const uint8_t *data, size_t size) {
    qw_config c;
    qw_checkpoint ck;
    char err[512] = "";
    if (qw_gguf_model_open_buffer("fuzz.gguf", data, size, &c, &ck, err, sizeof err)) {
        FUZZ_CHECK(fuzz_one_line(err), "error is not one line: '%s'", err);
        return;
    }
    FUZZ_CHECK(c.n_layers > 0 && c.n_heads > 0 && c.n_kv_heads > 0 && c.head_dim >= 2, "dimensions");
    for (int i = 0; i < ck.n_tensors; i++) check_inside(ck.tensors[i].data, ck.tensors[i].nbytes, data, size,
                                                        ck.tensors[i].name);
    qw_config_free(&c);
    qw_checkpoint_close(&ck);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    qw_gguf g;
    char err[512] = "";
    if (qw_gguf_open_buffer("fuzz.gguf", data, size, &g, err, sizeof err)) {
        FUZZ_CHECK(fuzz_one_line(err), "error is not one line: '%s'", err);
        return 0;
    }
    read_metadata(&g, data, size);
    read_tensors(&g, data, size);
    as_tokenizer(&g);
    qw_gguf_close(&g);
    as_model(data, size);
    return 0;
}
