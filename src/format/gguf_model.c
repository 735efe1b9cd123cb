#include "format/gguf_model.h"
#include "base/err.h"
#include "format/gguf.h"
#include "format/quant.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- metadata -> qw_config ---- */

#define BIG 1000000000  /* bound of a dimension (as in config.json) */

/* An optional integer "<arch>.<key>" in [0, max]; keeps *out when absent. */
static int arch_int(const qw_gguf *g, const char *arch, const char *key, int required, int max, int *out, char *err,
                    size_t errlen) {
    char full[128];
    snprintf(full, sizeof full, "%s.%s", arch, key);
    const qw_gguf_kv *kv = qw_gguf_find(g, full);
    int64_t v;
    if (!kv) return required ? qw_errf(err, errlen, QWENC_EFORMAT, "%s: missing '%s'", g->path, full) : 0;
    if (!qw_gguf_kv_i64(kv, &v) || v < 0 || v > max)
        return qw_errf(err, errlen, QWENC_EFORMAT, "%s: '%s' is not a count up to %d", g->path, full, max);
    *out = (int)v;
    return 0;
}

static int arch_float(const qw_gguf *g, const char *arch, const char *key, double *out, char *err, size_t errlen) {
    char full[128];
    snprintf(full, sizeof full, "%s.%s", arch, key);
    const qw_gguf_kv *kv = qw_gguf_find(g, full);
    if (kv && !qw_gguf_kv_f64(kv, out))
        return qw_errf(err, errlen, QWENC_EFORMAT, "%s: '%s' is not a number", g->path, full);
    return 0;
}

/* general.sampling.*: where llama.cpp's converter (and qwenc convert) puts
 * generation_config.json's sampling defaults. */
static void sampling_from_metadata(const qw_gguf *g, qw_config *c) {
    const qw_gguf_kv *kv;
    int64_t k;
    double v;
    if ((kv = qw_gguf_find(g, "general.sampling.top_k")) && qw_gguf_kv_i64(kv, &k) && k >= 0 && k <= INT32_MAX)
        c->gen.top_k = (int)k;
    if ((kv = qw_gguf_find(g, "general.sampling.top_p")) && qw_gguf_kv_f64(kv, &v) && v > 0 && v <= 1)
        c->gen.top_p = (float)v;
    if ((kv = qw_gguf_find(g, "general.sampling.min_p")) && qw_gguf_kv_f64(kv, &v) && v >= 0 && v <= 1)
        c->gen.min_p = (float)v;
    if ((kv = qw_gguf_find(g, "general.sampling.temp")) && qw_gguf_kv_f64(kv, &v) && v > 0 && v <= 100) {
        c->gen.temperature = (float)v;
        c->gen.do_sample = 1;
    }
}

static int config_from_metadata(const qw_gguf *g, qw_config *c, char *err, size_t errlen) {
    static const struct { const char *name, *hf_name; qw_arch arch; } archs[] = {
        {"qwen3", "qwen3", QW_ARCH_QWEN3}, {"qwen2", "qwen2", QW_ARCH_QWEN2}, {"qwen3moe", "qwen3_moe", QW_ARCH_QWEN3_MOE}};
    const char *a;
    size_t alen;
    int rc = qw_gguf_get_str(g, "general.architecture", &a, &alen, err, errlen);
    if (rc) return rc;
    char arch[32];
    snprintf(arch, sizeof arch, "%.*s", (int)(alen < 31 ? alen : 31), a);
    size_t i = 0;
    while (i < sizeof archs / sizeof archs[0] && strcmp(archs[i].name, arch)) i++;
    if (i == sizeof archs / sizeof archs[0])
        return qw_errf(err, errlen, QWENC_EUNSUPPORTED,
                       "%s: unsupported architecture '%s' (supported: qwen3, qwen2, qwen3moe)", g->path, arch);
    c->arch = archs[i].arch;
    c->arch_name = archs[i].hf_name;
    const qw_gguf_tensor *emb = qw_gguf_tensor_find(g, "token_embd.weight");
    if (!emb || emb->n_dims != 2) return qw_errf(err, errlen, QWENC_EFORMAT, "%s: no 2-D token_embd.weight", g->path);
    if (emb->ne[1] > QW_MAX_DIM)
        return qw_errf(err, errlen, QWENC_EFORMAT, "%s: token_embd.weight has %lld rows, more than %d", g->path,
                       (long long)emb->ne[1], QW_MAX_DIM);
    c->vocab_size = (int)emb->ne[1];
    if ((rc = arch_int(g, arch, "block_count", 1, QW_MAX_LAYERS, &c->n_layers, err, errlen)) ||
        (rc = arch_int(g, arch, "embedding_length", 1, BIG, &c->hidden_size, err, errlen)) ||
        (rc = arch_int(g, arch, "feed_forward_length", c->arch != QW_ARCH_QWEN3_MOE, BIG, &c->intermediate_size, err,
                       errlen)) ||
        (rc = arch_int(g, arch, "attention.head_count", 1, BIG, &c->n_heads, err, errlen)))
        return rc;
    c->n_kv_heads = c->n_heads;
    c->head_dim = c->n_heads ? c->hidden_size / c->n_heads : 0;
    c->max_position_embeddings = 32768;
    c->rope_theta = 10000.0;
    c->rms_norm_eps = 1e-6;
    if ((rc = arch_int(g, arch, "attention.head_count_kv", 0, BIG, &c->n_kv_heads, err, errlen)) ||
        (rc = arch_int(g, arch, "attention.key_length", 0, BIG, &c->head_dim, err, errlen)) ||
        (rc = arch_int(g, arch, "context_length", 0, BIG, &c->max_position_embeddings, err, errlen)) ||
        (rc = arch_float(g, arch, "rope.freq_base", &c->rope_theta, err, errlen)) ||
        (rc = arch_float(g, arch, "attention.layer_norm_rms_epsilon", &c->rms_norm_eps, err, errlen)))
        return rc;
    if (!c->n_layers || !c->hidden_size || !c->n_heads || !c->n_kv_heads || c->n_heads % c->n_kv_heads ||
        c->head_dim < 2 || c->head_dim % 2 || c->vocab_size < 1 || c->max_position_embeddings < 1)
        return qw_errf(err, errlen, QWENC_EFORMAT, "%s: inconsistent %s.* dimensions", g->path, arch);
    c->tie_word_embeddings = qw_gguf_tensor_find(g, "output.weight") == NULL;
    c->attention_bias = qw_gguf_tensor_find(g, "blk.0.attn_q.bias") != NULL;
    c->qk_norm = c->arch != QW_ARCH_QWEN2;
    if (c->arch == QW_ARCH_QWEN3_MOE) {
        c->decoder_sparse_step = 1;
        c->norm_topk_prob = 1;  /* every released Qwen3-MoE; llama.cpp assumes it too */
        if ((rc = arch_int(g, arch, "expert_count", 1, QW_MAX_EXPERTS, &c->n_experts, err, errlen)) ||
            (rc = arch_int(g, arch, "expert_used_count", 1, QW_MAX_EXPERTS, &c->n_experts_per_tok, err, errlen)) ||
            (rc = arch_int(g, arch, "expert_feed_forward_length", 1, BIG, &c->moe_intermediate_size, err, errlen)))
            return rc;
        if (!c->n_experts || !c->n_experts_per_tok || c->n_experts_per_tok > c->n_experts)
            return qw_errf(err, errlen, QWENC_EFORMAT, "%s: inconsistent expert counts", g->path);
    }
    if ((rc = qw_config_check_dims(g->path, c, err, errlen))) return rc;
    c->mlp_only = calloc((size_t)c->n_layers, 1);
    if (!c->mlp_only) return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    int64_t v;
    const qw_gguf_kv *kv;
    c->bos_id = c->eos_id = -1;
    if ((kv = qw_gguf_find(g, "tokenizer.ggml.bos_token_id")) && qw_gguf_kv_i64(kv, &v)) c->bos_id = (int)v;
    if ((kv = qw_gguf_find(g, "tokenizer.ggml.eos_token_id")) && qw_gguf_kv_i64(kv, &v)) c->eos_id = (int)v;
    snprintf(c->dtype, sizeof c->dtype, "%s", qw_gguf_type_name(emb->type));
    qw_config_default_generation(c);
    sampling_from_metadata(g, c);
    return 0;
}

/* ---- tensors -> checkpoint under Hugging Face names ---- */

static const struct { const char *gguf, *hf; } layer_names[] = {
    {"attn_norm", "input_layernorm"},  {"ffn_norm", "post_attention_layernorm"},
    {"attn_q", "self_attn.q_proj"},    {"attn_k", "self_attn.k_proj"},
    {"attn_v", "self_attn.v_proj"},    {"attn_output", "self_attn.o_proj"},
    {"attn_q_norm", "self_attn.q_norm"}, {"attn_k_norm", "self_attn.k_norm"},
    {"ffn_gate", "mlp.gate_proj"},     {"ffn_up", "mlp.up_proj"},
    {"ffn_down", "mlp.down_proj"},     {"ffn_gate_inp", "mlp.gate"},
};
static const struct { const char *gguf, *hf; } expert_names[] = {
    {"ffn_gate_exps", "gate_proj"}, {"ffn_up_exps", "up_proj"}, {"ffn_down_exps", "down_proj"}};

static int add(qw_checkpoint *ck, const char *name, const qw_gguf_tensor *t, int rank, const int64_t *shape,
               const void *data, size_t nbytes, char *err, size_t errlen) {
    if (ck->n_tensors % 256 == 0) {
        qw_st_tensor *nt = realloc(ck->tensors, (size_t)(ck->n_tensors + 256) * sizeof *nt);
        if (!nt) return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
        ck->tensors = nt;
    }
    qw_st_tensor *s = &ck->tensors[ck->n_tensors];
    memset(s, 0, sizeof *s);
    if (!(s->name = strdup(name))) return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    s->dtype = qw_dtype_of_ggml(t->type);
    s->rank = rank;
    memcpy(s->shape, shape, (size_t)rank * sizeof *shape);
    s->data = data;
    s->nbytes = nbytes;
    ck->n_tensors++;
    return 0;
}

/* The Hugging Face name of a GGUF tensor ("" when the model does not use it). */
static void hf_name(const char *g, char *out, size_t n) {
    int layer, used = 0;
    char part[64], kind[16];
    out[0] = 0;
    if (!strcmp(g, "token_embd.weight")) snprintf(out, n, "model.embed_tokens.weight");
    else if (!strcmp(g, "output_norm.weight")) snprintf(out, n, "model.norm.weight");
    else if (!strcmp(g, "output.weight")) snprintf(out, n, "lm_head.weight");
    else if (sscanf(g, "blk.%d.%63[a-z_].%15[a-z]%n", &layer, part, kind, &used) == 3 && !g[used])
        for (size_t i = 0; i < sizeof layer_names / sizeof layer_names[0]; i++)
            if (!strcmp(part, layer_names[i].gguf))
                snprintf(out, n, "model.layers.%d.%s.%s", layer, layer_names[i].hf, kind);
}

void qw_gguf_name_from_hf(const char *hf, char *out, size_t n) {
    int layer, used = 0;
    out[0] = 0;
    if (!strcmp(hf, "model.embed_tokens.weight")) snprintf(out, n, "token_embd.weight");
    else if (!strcmp(hf, "model.norm.weight")) snprintf(out, n, "output_norm.weight");
    else if (!strcmp(hf, "lm_head.weight")) snprintf(out, n, "output.weight");
    else if (sscanf(hf, "model.layers.%d.%n", &layer, &used) == 1 && used) {
        const char *part = hf + used, *kind = strrchr(part, '.');  /* "self_attn.q_proj" "." "weight" */
        for (size_t i = 0; kind && i < sizeof layer_names / sizeof layer_names[0]; i++)
            if (strlen(layer_names[i].hf) == (size_t)(kind - part) && !memcmp(part, layer_names[i].hf, (size_t)(kind - part)))
                snprintf(out, n, "blk.%d.%s.%s", layer, layer_names[i].gguf, kind + 1);
    }
}

int qw_gguf_expert_name(const char *hf, int *layer, int *expert, char *out, size_t n) {
    int used = 0;
    char proj[16];
    if (sscanf(hf, "model.layers.%d.mlp.experts.%d.%15[a-z_].weight%n", layer, expert, proj, &used) != 3 || hf[used])
        return 0;
    for (size_t i = 0; i < sizeof expert_names / sizeof expert_names[0]; i++) {
        if (strcmp(proj, expert_names[i].hf)) continue;
        snprintf(out, n, "blk.%d.%s.weight", *layer, expert_names[i].gguf);
        return 1;
    }
    return 0;
}

static int unsupported_type(const qw_gguf *g, const qw_gguf_tensor *t, char *err, size_t errlen) {
    return qw_errf(err, errlen, QWENC_EUNSUPPORTED,
                   "%s: tensor '%s' is %s, which qwenc cannot compute with yet (f32, f16, bf16, q8_0, q4_0, q5_0, "
                   "q4_k, q6_k)", g->path, t->name, qw_gguf_type_name(t->type));
}

/* blk.N.ffn_{gate,up,down}_exps.weight, ne [in, out, n_expert] -> one view
 * per expert. n_expert must be the metadata's expert count and the experts
 * must not be empty: a stack of empty matrices could otherwise claim 2^60
 * experts in a few bytes of file. 1 when t is no such tensor. */
static int add_experts(qw_checkpoint *ck, const qw_gguf *g, const qw_config *c, const qw_gguf_tensor *t, char *err,
                       size_t errlen) {
    int layer, used = 0;
    char part[64];
    if (sscanf(t->name, "blk.%d.%63[a-z_].weight%n", &layer, part, &used) != 2 || t->name[used]) return 1;
    for (size_t i = 0; i < sizeof expert_names / sizeof expert_names[0]; i++) {
        if (strcmp(part, expert_names[i].gguf)) continue;
        if (t->n_dims != 3) return qw_errf(err, errlen, QWENC_EFORMAT, "%s: '%s' is not 3-D", g->path, t->name);
        if (t->ne[2] != c->n_experts)
            return qw_errf(err, errlen, QWENC_EFORMAT, "%s: '%s' stacks %lld experts, but the metadata says %d",
                           g->path, t->name, (long long)t->ne[2], c->n_experts);
        if (qw_dtype_of_ggml(t->type) == QW_DT_UNKNOWN) return unsupported_type(g, t, err, errlen);
        int64_t shape[2] = {t->ne[1], t->ne[0]};
        size_t per = (size_t)qw_gguf_row_size(t->type, t->ne[0]) * (size_t)t->ne[1];
        if (!per) return qw_errf(err, errlen, QWENC_EFORMAT, "%s: '%s' holds empty experts", g->path, t->name);
        for (int64_t e = 0; e < t->ne[2]; e++) {
            char name[160];
            snprintf(name, sizeof name, "model.layers.%d.mlp.experts.%lld.%s.weight", layer, (long long)e,
                     expert_names[i].hf);
            int rc = add(ck, name, t, 2, shape, (const char *)t->data + e * per, per, err, errlen);
            if (rc) return rc;
        }
        return 0;
    }
    return 1;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(((const qw_st_tensor *)a)->name, ((const qw_st_tensor *)b)->name);
}

static int tensors_from_gguf(const qw_gguf *g, const qw_config *c, qw_checkpoint *ck, char *err, size_t errlen) {
    for (size_t i = 0; i < g->n_tensors; i++) {
        const qw_gguf_tensor *t = &g->tensors[i];
        char name[160];
        hf_name(t->name, name, sizeof name);
        int rc = name[0] ? 1 : add_experts(ck, g, c, t, err, errlen);
        if (rc <= 0) {
            if (rc < 0) return rc;
            continue;
        }
        if (!name[0]) continue;  /* not a tensor this model reads */
        if (qw_dtype_of_ggml(t->type) == QW_DT_UNKNOWN) return unsupported_type(g, t, err, errlen);
        int64_t shape[QW_GGUF_MAX_DIMS];
        for (int d = 0; d < t->n_dims; d++) shape[d] = t->ne[t->n_dims - 1 - d];
        if ((rc = add(ck, name, t, t->n_dims, shape, t->data, t->nbytes, err, errlen))) return rc;
    }
    qsort(ck->tensors, (size_t)ck->n_tensors, sizeof *ck->tensors, cmp_name);
    return 0;
}

/* The model in g (opened, heap-allocated; the checkpoint takes it over). */
static int model_from(qw_gguf *g, const char *path, qw_config *c, qw_checkpoint *ck, char *err, size_t errlen) {
    ck->gguf = g;
    /* Errors name tensors as "<dir>/<file>": the file is the base name. */
    const char *base = strrchr(path, '/');
    int rc = 0;
    ck->file_names = calloc(1, sizeof *ck->file_names);
    if (!ck->file_names || !(ck->file_names[0] = strdup(base ? base + 1 : path)))
        rc = qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    if (!rc) rc = config_from_metadata(g, c, err, errlen);
    if (!rc) rc = tensors_from_gguf(g, c, ck, err, errlen);
    if (rc) {
        qw_config_free(c);
        qw_checkpoint_close(ck);
    }
    return rc;
}

int qw_gguf_model_open(const char *path, qw_config *c, qw_checkpoint *ck, char *err, size_t errlen) {
    memset(c, 0, sizeof *c);
    memset(ck, 0, sizeof *ck);
    qw_gguf *g = calloc(1, sizeof *g);
    if (!g) return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    int rc = qw_gguf_open(path, g, err, errlen);
    if (rc) {
        free(g);
        return rc;
    }
    return model_from(g, path, c, ck, err, errlen);
}

int qw_gguf_model_open_buffer(const char *name, const void *data, size_t size, qw_config *c, qw_checkpoint *ck,
                              char *err, size_t errlen) {
    memset(c, 0, sizeof *c);
    memset(ck, 0, sizeof *ck);
    qw_gguf *g = calloc(1, sizeof *g);
    if (!g) return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    int rc = qw_gguf_open_buffer(name, data, size, g, err, errlen);
    if (rc) {
        free(g);
        return rc;
    }
    return model_from(g, name, c, ck, err, errlen);
}
