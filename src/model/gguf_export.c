#include "model/gguf_export.h"
#include "base/err.h"
#include "format/gguf.h"
#include "format/gguf_model.h"
#include "format/gguf_write.h"
#include "format/quant.h"
#include "format/quant_recipe.h"
#include "tokenizer/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the tensors to write ---- */

typedef struct {
    char name[128];
    uint32_t type;
    int n_dims;
    int64_t ne[3];
    const qw_st_tensor **src;  /* n_src of [ne1][ne0] (or [ne0]), stacked along ne2 */
    int n_src;
} out_tensor;

typedef struct {
    out_tensor *t;
    int n;
} plan;

static void plan_free(plan *p) {
    for (int i = 0; i < p->n; i++) free(p->t[i].src);
    free(p->t);
}

static int plan_add(plan *p, const char *name, const qw_st_tensor *first, int n_src, char *err, size_t errlen) {
    if (first->rank < 1 || first->rank > 2)
        return qw_errf(err, errlen, QWENC_EUNSUPPORTED, "tensor '%s' has rank %d", first->name, first->rank);
    if (p->n % 64 == 0) {
        out_tensor *t = realloc(p->t, (size_t)(p->n + 64) * sizeof *t);
        if (!t) return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
        p->t = t;
    }
    out_tensor *o = &p->t[p->n];
    memset(o, 0, sizeof *o);
    if (!(o->src = calloc((size_t)n_src, sizeof *o->src))) return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    p->n++;
    snprintf(o->name, sizeof o->name, "%s", name);
    o->n_src = n_src;
    o->src[0] = first;
    o->n_dims = first->rank + (n_src > 1);
    o->ne[0] = first->shape[first->rank - 1];
    o->ne[1] = first->rank == 2 ? first->shape[0] : n_src;
    o->ne[2] = n_src;
    return 0;
}

/* blk.L.ffn_*_exps.weight from the n_experts per-expert matrices, which
 * must all be there with the same shape. */
static int plan_experts(plan *p, const qw_config *c, const qw_checkpoint *ck, const qw_st_tensor *e0,
                        const char *gname, int layer, char *err, size_t errlen) {
    const char *proj = strstr(e0->name, ".experts.0.") + strlen(".experts.0.");
    int rc = plan_add(p, gname, e0, c->n_experts, err, errlen);
    out_tensor *o = &p->t[p->n - 1];
    for (int e = 1; !rc && e < c->n_experts; e++) {
        char name[192];
        snprintf(name, sizeof name, "model.layers.%d.mlp.experts.%d.%s", layer, e, proj);
        const qw_st_tensor *t = qw_checkpoint_find(ck, name);
        if (!t) return qw_errf(err, errlen, QWENC_EFORMAT, "missing tensor '%s'", name);
        if (t->rank != e0->rank || memcmp(t->shape, e0->shape, (size_t)t->rank * sizeof *t->shape))
            return qw_errf(err, errlen, QWENC_EFORMAT, "tensor '%s' differs in shape from expert 0", name);
        o->src[e] = t;
    }
    return rc;
}

static int plan_tensors(const qw_config *c, const qw_checkpoint *ck, const qw_quant_recipe *r, plan *p, char *err,
                        size_t errlen) {
    int rc = 0;
    for (int i = 0; i < ck->n_tensors && !rc; i++) {
        const qw_st_tensor *t = &ck->tensors[i];
        char g[128];
        int layer, expert;
        if (qw_gguf_expert_name(t->name, &layer, &expert, g, sizeof g)) {
            if (expert == 0) rc = plan_experts(p, c, ck, t, g, layer, err, errlen);
            continue;
        }
        qw_gguf_name_from_hf(t->name, g, sizeof g);
        if (!g[0] || (c->tie_word_embeddings && !strcmp(g, "output.weight"))) continue;  /* unused by the model */
        rc = plan_add(p, g, t, 1, err, errlen);
    }
    for (int i = 0; i < p->n && !rc; i++) {
        out_tensor *o = &p->t[i];
        o->type = qw_quant_recipe_type(r, o->name, o->n_dims, o->ne[0], c->tie_word_embeddings);
        for (int s = 0; s < o->n_src && !rc; s++)
            if (qw_ggml_type_of(o->src[s]->dtype) == UINT32_MAX)
                rc = qw_errf(err, errlen, QWENC_EUNSUPPORTED, "tensor '%s' is %s, which cannot be converted",
                             o->src[s]->name, qw_dtype_name(o->src[s]->dtype));
    }
    return rc;
}

/* ---- metadata ---- */

static const char *arch_of(qw_arch a) {
    return a == QW_ARCH_QWEN3_MOE ? "qwen3moe" : a == QW_ARCH_QWEN2 ? "qwen2" : "qwen3";
}

static int check_supported(const qw_config *c, char *err, size_t errlen) {
    if (c->sliding_window)
        return qw_errf(err, errlen, QWENC_EUNSUPPORTED,
                       "sliding-window attention cannot be written to GGUF (llama.cpp's %s has none)", arch_of(c->arch));
    for (int l = 0; c->arch == QW_ARCH_QWEN3_MOE && l < c->n_layers; l++)
        if (!qw_config_layer_is_moe(c, l))
            return qw_errf(err, errlen, QWENC_EUNSUPPORTED,
                           "layer %d is dense: llama.cpp's qwen3moe needs experts in every layer", l);
    if (c->arch == QW_ARCH_QWEN3_MOE && !c->norm_topk_prob)
        return qw_errf(err, errlen, QWENC_EUNSUPPORTED,
                       "norm_topk_prob false: llama.cpp's qwen3moe always renormalizes the top-k weights");
    return 0;
}

static void set_arch_u32(qw_gguf_writer *w, const char *arch, const char *key, int v) {
    char k[128];
    snprintf(k, sizeof k, "%s.%s", arch, key);
    qw_gguf_set_u32(w, k, (uint32_t)v);
}

static void set_arch_f32(qw_gguf_writer *w, const char *arch, const char *key, double v) {
    char k[128];
    snprintf(k, sizeof k, "%s.%s", arch, key);
    qw_gguf_set_f32(w, k, (float)v);
}

static void write_model_metadata(qw_gguf_writer *w, const qw_config *c, uint32_t file_type) {
    const char *arch = arch_of(c->arch);
    qw_gguf_set_str(w, "general.architecture", arch, strlen(arch));
    qw_gguf_set_str(w, "general.type", "model", 5);
    qw_gguf_set_u32(w, "general.alignment", QW_GGUF_DEFAULT_ALIGNMENT);
    if (c->gen.do_sample) {  /* as the converter copies generation_config.json */
        if (c->gen.top_k > 0) qw_gguf_set_i32(w, "general.sampling.top_k", c->gen.top_k);
        if (c->gen.top_p < 1) qw_gguf_set_f32(w, "general.sampling.top_p", c->gen.top_p);
        if (c->gen.min_p > 0) qw_gguf_set_f32(w, "general.sampling.min_p", c->gen.min_p);
        qw_gguf_set_f32(w, "general.sampling.temp", c->gen.temperature);
    }
    set_arch_u32(w, arch, "block_count", c->n_layers);
    set_arch_u32(w, arch, "context_length", c->max_position_embeddings);
    set_arch_u32(w, arch, "embedding_length", c->hidden_size);
    set_arch_u32(w, arch, "feed_forward_length", c->intermediate_size);
    set_arch_u32(w, arch, "attention.head_count", c->n_heads);
    set_arch_u32(w, arch, "attention.head_count_kv", c->n_kv_heads);
    set_arch_f32(w, arch, "rope.freq_base", c->rope_theta);
    set_arch_f32(w, arch, "attention.layer_norm_rms_epsilon", c->rms_norm_eps);
    set_arch_u32(w, arch, "attention.key_length", c->head_dim);
    set_arch_u32(w, arch, "attention.value_length", c->head_dim);
    if (c->arch == QW_ARCH_QWEN3_MOE) {
        set_arch_u32(w, arch, "expert_count", c->n_experts);
        set_arch_u32(w, arch, "expert_used_count", c->n_experts_per_tok);
        set_arch_u32(w, arch, "expert_feed_forward_length", c->moe_intermediate_size);
    }
    qw_gguf_set_u32(w, "general.file_type", file_type);
    qw_gguf_set_u32(w, "general.quantization_version", 2);  /* GGML_QUANT_VERSION */
}

/* ---- tokenizer metadata ---- */

typedef struct {
    const qwenc_tokenizer *t;
    const int32_t *pairs;
    char pad[32];
    char *buf;  /* a merge "a b" */
    size_t cap;
} tok_src;

/* Ids with no token are "[PAD<id>]", as the converter pads to vocab_size. */
static const char *get_token(void *ctx, uint64_t i, size_t *len) {
    tok_src *s = ctx;
    int type;
    const char *str = qw_tokenizer_gguf_token(s->t, (int32_t)i, len, &type);
    if (str) return str;
    *len = (size_t)snprintf(s->pad, sizeof s->pad, "[PAD%llu]", (unsigned long long)i);
    return s->pad;
}

static const char *get_merge(void *ctx, uint64_t i, size_t *len) {
    tok_src *s = ctx;
    size_t an = 0, bn = 0;
    int type;
    const char *a = qw_tokenizer_gguf_token(s->t, s->pairs[2 * i], &an, &type);
    const char *b = qw_tokenizer_gguf_token(s->t, s->pairs[2 * i + 1], &bn, &type);
    if (!a || !b) return NULL;
    if (an + bn + 1 > s->cap) {
        char *nb = realloc(s->buf, an + bn + 64);
        if (!nb) return NULL;
        s->buf = nb, s->cap = an + bn + 64;
    }
    memcpy(s->buf, a, an);
    s->buf[an] = ' ';
    memcpy(s->buf + an + 1, b, bn);
    *len = an + bn + 1;
    return s->buf;
}

/* The id of a special token: its text from tokenizer_config.json if set,
 * else the config's id (what the converter's SpecialVocab does). */
static int special_id(const qwenc_tokenizer *t, const char *key, int fallback, int vocab) {
    const char *text = qw_tokenizer_special_text(t, key);
    int id = text ? qwenc_token_id(t, text) : -1;
    if (id < 0) id = fallback;
    return id >= 0 && id < vocab ? id : -1;
}

static int write_tokenizer(qw_gguf_writer *w, const qwenc_tokenizer *t, const qw_config *c, char *err,
                           size_t errlen) {
    int n_tok = qwenc_tokenizer_n_tokens(t), V = c->vocab_size;
    if (n_tok > V)
        return qw_errf(err, errlen, QWENC_EFORMAT, "the tokenizer has %d tokens but the model's vocabulary only %d",
                       n_tok, V);
    tok_src s = {.t = t};
    size_t n_merges = 0;
    int32_t *pairs = NULL, *types = malloc((size_t)V * sizeof *types);
    if (!types || qw_tokenizer_merges(t, &pairs, &n_merges)) {
        free(types);
        return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    }
    s.pairs = pairs;
    for (int i = 0; i < V; i++) {
        size_t len;
        int type = QW_TOKEN_UNUSED;
        qw_tokenizer_gguf_token(t, i, &len, &type);
        types[i] = type;
    }
    qw_gguf_set_str(w, "tokenizer.ggml.model", "gpt2", 4);
    qw_gguf_set_str(w, "tokenizer.ggml.pre", "qwen2", 5);  /* every Qwen2/2.5/3 tokenizer's split regex */
    qw_gguf_set_arr_str(w, "tokenizer.ggml.tokens", (uint64_t)V, get_token, &s);
    qw_gguf_set_arr_i32(w, "tokenizer.ggml.token_type", types, (uint64_t)V);
    qw_gguf_set_arr_str(w, "tokenizer.ggml.merges", n_merges, get_merge, &s);
    int eos = special_id(t, "eos_token", c->eos_id, V), pad = special_id(t, "pad_token", -1, V);
    int bos = special_id(t, "bos_token", c->bos_id, V);
    if (eos >= 0) qw_gguf_set_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)eos);
    if (pad >= 0) qw_gguf_set_u32(w, "tokenizer.ggml.padding_token_id", (uint32_t)pad);
    if (bos >= 0) qw_gguf_set_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)bos);
    int rc = qw_gguf_set_bool(w, "tokenizer.ggml.add_bos_token", 0);
    const char *tmpl = qw_tokenizer_chat_template(t);
    if (tmpl) rc = qw_gguf_set_str(w, "tokenizer.chat_template", tmpl, strlen(tmpl));
    free(types);
    free(pairs);
    free(s.buf);
    return rc;
}

/* ---- tensor data ---- */

typedef struct {
    const unsigned char *src;
    uint32_t src_type, dst_type;
    int64_t ne0, row0, n_rows;
    size_t src_row, dst_row;
    unsigned char *slab;
    float **scratch;  /* one row per thread */
    int n_tasks;
} slab_job;

static void convert_rows(void *ctx, int task, int thread) {
    slab_job *j = ctx;
    int64_t a = j->n_rows * task / j->n_tasks, b = j->n_rows * (task + 1) / j->n_tasks;
    for (int64_t r = a; r < b; r++) {
        qw_dequant_row(j->src_type, j->src + (size_t)(j->row0 + r) * j->src_row, j->ne0, j->scratch[thread]);
        qw_quant_row(j->dst_type, j->scratch[thread], j->ne0, j->slab + (size_t)r * j->dst_row);
    }
}

typedef struct {
    qw_gguf_writer *w;
    qw_pool *pool;
    float **scratch;
    unsigned char *slab;
    size_t slab_bytes;
    void (*progress)(void *, int64_t, int64_t);
    void *progress_ctx;
    int64_t done, total;
} writer_state;

static void report(writer_state *s, size_t n) {
    s->done += (int64_t)n;
    if (s->progress) s->progress(s->progress_ctx, s->done, s->total);
}

/* One source matrix (or vector) in the output type, a slab at a time. */
static int write_source(writer_state *s, const qw_st_tensor *t, uint32_t dst_type, int64_t ne0) {
    uint32_t src_type = qw_ggml_type_of(t->dtype);
    int64_t rows = t->rank == 2 ? t->shape[0] : 1;
    size_t dst_row = qw_gguf_row_size(dst_type, ne0);
    if (src_type == dst_type) {  /* stored as wanted: the mapped bytes as they are */
        int rc = qw_gguf_write_data(s->w, t->data, t->nbytes);
        report(s, t->nbytes);
        return rc;
    }
    slab_job j = {.src = t->data, .src_type = src_type, .dst_type = dst_type, .ne0 = ne0,
                  .src_row = qw_gguf_row_size(src_type, ne0), .dst_row = dst_row, .slab = s->slab,
                  .scratch = s->scratch};
    int64_t per_slab = (int64_t)(s->slab_bytes / dst_row);
    for (j.row0 = 0; j.row0 < rows; j.row0 += j.n_rows) {
        j.n_rows = rows - j.row0 < per_slab ? rows - j.row0 : per_slab;
        j.n_tasks = (int)(j.n_rows < 4 * qw_pool_size(s->pool) ? j.n_rows : 4 * qw_pool_size(s->pool));
        qw_pool_run(s->pool, convert_rows, &j, j.n_tasks);
        int rc = qw_gguf_write_data(s->w, s->slab, (size_t)j.n_rows * dst_row);
        report(s, (size_t)j.n_rows * dst_row);
        if (rc) return rc;
    }
    return 0;
}

#define SLAB_BYTES (8u << 20)

static int write_tensors(writer_state *s, const plan *p, char *err, size_t errlen) {
    int64_t max_ne0 = 1;
    size_t max_row = 0;
    for (int i = 0; i < p->n; i++) {
        size_t row = qw_gguf_row_size(p->t[i].type, p->t[i].ne[0]);
        if (p->t[i].ne[0] > max_ne0) max_ne0 = p->t[i].ne[0];
        if (row > max_row) max_row = row;
    }
    int nth = qw_pool_size(s->pool), rc = 0;
    s->slab_bytes = max_row > SLAB_BYTES ? max_row : SLAB_BYTES;
    s->slab = malloc(s->slab_bytes);
    s->scratch = calloc((size_t)nth, sizeof *s->scratch);
    for (int i = 0; s->scratch && i < nth; i++)
        if (!(s->scratch[i] = malloc((size_t)max_ne0 * sizeof(float)))) rc = QWENC_ENOMEM;
    if (!s->slab || !s->scratch || rc) rc = qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    for (int i = 0; i < p->n && !rc; i++)
        for (int k = 0; k < p->t[i].n_src && !rc; k++) rc = write_source(s, p->t[i].src[k], p->t[i].type, p->t[i].ne[0]);
    for (int i = 0; s->scratch && i < nth; i++) free(s->scratch[i]);
    free(s->scratch);
    free(s->slab);
    return rc;
}

int qw_gguf_export(const qw_config *c, const qw_checkpoint *ck, const qwenc_tokenizer *tok, qw_pool *pool,
                   const char *path, const char *type_name,
                   void (*progress)(void *ctx, int64_t done, int64_t total), void *progress_ctx, char *err,
                   size_t errlen) {
    qw_quant_recipe r;
    plan p = {0};
    int rc = qw_quant_recipe_init(type_name, c->n_layers, c->n_experts, &r, err, errlen);
    if (!rc) rc = check_supported(c, err, errlen);
    if (!rc) rc = plan_tensors(c, ck, &r, &p, err, errlen);
    qw_gguf_writer *w = NULL;
    if (!rc) rc = qw_gguf_writer_new(path, QW_GGUF_DEFAULT_ALIGNMENT, &w, err, errlen);
    if (!rc) {
        write_model_metadata(w, c, r.file_type);
        if (tok) rc = write_tokenizer(w, tok, c, err, errlen);
        for (int i = 0; i < p.n && !rc; i++)
            rc = qw_gguf_add_tensor(w, p.t[i].name, p.t[i].type, p.t[i].n_dims, p.t[i].ne);
        if (!rc) rc = qw_gguf_writer_begin_data(w);
    }
    if (!rc) {
        writer_state s = {.w = w, .pool = pool, .progress = progress, .progress_ctx = progress_ctx,
                          .total = (int64_t)qw_gguf_writer_data_bytes(w)};
        rc = write_tensors(&s, &p, err, errlen);
    }
    if (!rc) rc = qw_gguf_writer_finish(w);
    qw_gguf_writer_free(w);
    plan_free(&p);
    return rc;
}
