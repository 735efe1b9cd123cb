#include "format/config.h"
#include "base/err.h"
#include "base/file.h"
#include "base/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads an integer field; returns 1 if present, 0 if absent or null, <0 on a
 * wrong type (message in err). */
static int get_int(const char *path, json_t *o, const char *key, long lo, long hi, int *out,
                   char *err, size_t errlen) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return qw_errf(err, errlen, QWENC_EFORMAT, "%s: '%s' must be an integer in [%ld, %ld]", path,
                       key, lo, hi);
    *out = (int)json_integer_value(v);
    return 1;
}

static int get_num(const char *path, json_t *o, const char *key, double *out, char *err,
                   size_t errlen) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_number(v) || !isfinite(json_number_value(v)))
        return qw_errf(err, errlen, QWENC_EFORMAT, "%s: '%s' must be a number", path, key);
    *out = json_number_value(v);
    return 1;
}

static int get_bool(const char *path, json_t *o, const char *key, int *out, char *err,
                    size_t errlen) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_boolean(v))
        return qw_errf(err, errlen, QWENC_EFORMAT, "%s: '%s' must be true or false", path, key);
    *out = json_is_true(v);
    return 1;
}

#define BIG 1000000000L

/* A required positive integer. */
static int need_int(const char *path, json_t *o, const char *key, int *out, char *err, size_t errlen) {
    int rc = get_int(path, o, key, 1, BIG, out, err, errlen);
    if (rc == 0) return qw_errf(err, errlen, QWENC_EFORMAT, "%s: missing '%s'", path, key);
    return rc < 0 ? rc : 0;
}

static int detect_arch(const char *path, json_t *root, qw_config *c, char *err, size_t errlen) {
    static const struct { const char *model_type, *architecture; qw_arch arch; } known[] = {
        {"qwen3", "Qwen3ForCausalLM", QW_ARCH_QWEN3},
        {"qwen2", "Qwen2ForCausalLM", QW_ARCH_QWEN2},
        {"qwen3_moe", "Qwen3MoeForCausalLM", QW_ARCH_QWEN3_MOE},
    };
    const char *mt = json_string_value(json_object_get(root, "model_type"));
    const char *an = json_string_value(json_array_get(json_object_get(root, "architectures"), 0));
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if ((mt && !strcmp(mt, known[i].model_type)) || (!mt && an && !strcmp(an, known[i].architecture))) {
            c->arch = known[i].arch;
            c->arch_name = known[i].model_type;
            return 0;
        }
    }
    return qw_errf(err, errlen, QWENC_EUNSUPPORTED,
                   "%s: unsupported architecture (model_type '%s', architectures[0] '%s'); "
                   "supported: qwen3, qwen2, qwen3_moe",
                   path, mt ? mt : "(none)", an ? an : "(none)");
}

static int load_rope(const char *path, json_t *root, qw_config *c, char *err, size_t errlen) {
    c->rope_theta = 10000.0;
    json_t *rp = json_object_get(root, "rope_parameters");
    int rc = get_num(path, root, "rope_theta", &c->rope_theta, err, errlen);
    if (rc < 0) return rc;
    if (json_is_object(rp)) {
        if ((rc = get_num(path, rp, "rope_theta", &c->rope_theta, err, errlen)) < 0) return rc;
        const char *type = json_string_value(json_object_get(rp, "rope_type"));
        if (type && strcmp(type, "default"))
            return qw_errf(err, errlen, QWENC_EUNSUPPORTED, "%s: rope_type '%s' is not supported yet",
                           path, type);
    }
    json_t *rs = json_object_get(root, "rope_scaling");
    if (json_is_object(rs)) {
        const char *type = json_string_value(json_object_get(rs, "rope_type"));
        if (!type) type = json_string_value(json_object_get(rs, "type"));
        if (type && strcmp(type, "default"))
            return qw_errf(err, errlen, QWENC_EUNSUPPORTED, "%s: rope_scaling '%s' is not supported yet",
                           path, type);
    }
    if (!(c->rope_theta > 0))
        return qw_errf(err, errlen, QWENC_EFORMAT, "%s: rope_theta must be positive", path);
    return 0;
}

static int load_moe(const char *path, json_t *root, qw_config *c, char *err, size_t errlen) {
    c->mlp_only = calloc((size_t)c->n_layers, 1);
    if (!c->mlp_only) return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    if (c->arch != QW_ARCH_QWEN3_MOE) return 0;
    int rc = get_int(path, root, "num_experts", 1, QW_MAX_EXPERTS, &c->n_experts, err, errlen);
    if (rc == 0) rc = get_int(path, root, "num_local_experts", 1, QW_MAX_EXPERTS, &c->n_experts, err, errlen);
    if (rc == 0) return qw_errf(err, errlen, QWENC_EFORMAT, "%s: missing 'num_experts'", path);
    if (rc < 0) return rc;
    if ((rc = need_int(path, root, "num_experts_per_tok", &c->n_experts_per_tok, err, errlen))) return rc;
    if ((rc = need_int(path, root, "moe_intermediate_size", &c->moe_intermediate_size, err, errlen)))
        return rc;
    if (c->n_experts_per_tok > c->n_experts)
        return qw_errf(err, errlen, QWENC_EFORMAT, "%s: num_experts_per_tok %d > num_experts %d", path,
                       c->n_experts_per_tok, c->n_experts);
    c->decoder_sparse_step = 1;
    if ((rc = get_int(path, root, "decoder_sparse_step", 1, BIG, &c->decoder_sparse_step, err, errlen)) < 0)
        return rc;
    c->norm_topk_prob = 0;
    if ((rc = get_bool(path, root, "norm_topk_prob", &c->norm_topk_prob, err, errlen)) < 0) return rc;
    json_t *mo = json_object_get(root, "mlp_only_layers");
    if (mo && !json_is_null(mo)) {
        if (!json_is_array(mo))
            return qw_errf(err, errlen, QWENC_EFORMAT, "%s: 'mlp_only_layers' must be a list", path);
        size_t i;
        json_t *v;
        json_array_foreach(mo, i, v) {
            if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= c->n_layers)
                return qw_errf(err, errlen, QWENC_EFORMAT, "%s: mlp_only_layers[%zu] is not a layer index",
                               path, i);
            c->mlp_only[json_integer_value(v)] = 1;
        }
    }
    return 0;
}

void qw_config_default_generation(qw_config *c) {
    c->gen.temperature = 1.0f;
    c->gen.top_p = 1.0f;
    c->gen.top_k = 50;  /* transformers' GenerationConfig defaults */
    c->gen.min_p = 0.0f;
    c->gen.repetition_penalty = 1.0f;
    c->gen.do_sample = 0;
    c->gen.n_eos = 0;
    if (c->eos_id >= 0) c->gen.eos_ids[c->gen.n_eos++] = c->eos_id;
}

/* generation_config.json's fields over the defaults already in c. */
static int generation_fields(const char *path, json_t *root, qw_config *c, char *err, size_t errlen) {
    if (!json_is_object(root)) return qw_errf(err, errlen, QWENC_EFORMAT, "%s: not a JSON object", path);
    double x = 0;
    int rc = 0;
    if ((rc = get_num(path, root, "temperature", &x, err, errlen)) > 0) c->gen.temperature = (float)x;
    if (rc >= 0 && (rc = get_num(path, root, "top_p", &x, err, errlen)) > 0) c->gen.top_p = (float)x;
    if (rc >= 0 && (rc = get_num(path, root, "min_p", &x, err, errlen)) > 0) c->gen.min_p = (float)x;
    if (rc >= 0 && (rc = get_num(path, root, "repetition_penalty", &x, err, errlen)) > 0)
        c->gen.repetition_penalty = (float)x;
    if (rc >= 0) rc = get_int(path, root, "top_k", 0, BIG, &c->gen.top_k, err, errlen);
    if (rc >= 0) rc = get_bool(path, root, "do_sample", &c->gen.do_sample, err, errlen);
    json_t *eos = json_object_get(root, "eos_token_id");
    if (rc >= 0 && eos && !json_is_null(eos)) {
        c->gen.n_eos = 0;
        if (json_is_integer(eos)) c->gen.eos_ids[c->gen.n_eos++] = (int)json_integer_value(eos);
        size_t i;
        json_t *v;
        json_array_foreach(eos, i, v) {
            if (json_is_integer(v) && c->gen.n_eos < QW_MAX_EOS)
                c->gen.eos_ids[c->gen.n_eos++] = (int)json_integer_value(v);
        }
    }
    return rc < 0 ? rc : 0;
}

int qw_config_parse_generation(const char *path, const char *text, size_t len, qw_config *c, char *err,
                               size_t errlen) {
    json_t *root;
    int rc = qw_json_parse(path, text, len, &root, err, errlen);
    if (rc) return rc;
    rc = generation_fields(path, root, c, err, errlen);
    json_decref(root);
    return rc;
}

static int load_generation_config(const char *dir, qw_config *c, char *err, size_t errlen) {
    qw_config_default_generation(c);
    char *path = qw_path_join(dir, "generation_config.json");
    if (!path) return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    char *text = NULL;
    size_t len = 0;
    int rc = qw_path_present(path) ? qw_file_read_all(path, &text, &len, err, errlen) : 0;
    if (!rc && text) rc = qw_config_parse_generation(path, text, len, c, err, errlen);
    free(text);
    free(path);
    return rc;
}

static int load_fields(const char *path, json_t *root, qw_config *c, char *err, size_t errlen) {
    int rc;
    if ((rc = detect_arch(path, root, c, err, errlen))) return rc;
    if ((rc = need_int(path, root, "vocab_size", &c->vocab_size, err, errlen))) return rc;
    if ((rc = need_int(path, root, "hidden_size", &c->hidden_size, err, errlen))) return rc;
    if ((rc = need_int(path, root, "intermediate_size", &c->intermediate_size, err, errlen))) return rc;
    if ((rc = get_int(path, root, "num_hidden_layers", 1, QW_MAX_LAYERS, &c->n_layers, err, errlen)) <= 0)
        return rc ? rc : qw_errf(err, errlen, QWENC_EFORMAT, "%s: missing 'num_hidden_layers'", path);
    if ((rc = need_int(path, root, "num_attention_heads", &c->n_heads, err, errlen))) return rc;
    c->n_kv_heads = c->n_heads;
    if ((rc = get_int(path, root, "num_key_value_heads", 1, BIG, &c->n_kv_heads, err, errlen)) < 0) return rc;
    if (c->n_heads % c->n_kv_heads)
        return qw_errf(err, errlen, QWENC_EFORMAT,
                       "%s: num_attention_heads %d is not a multiple of num_key_value_heads %d", path,
                       c->n_heads, c->n_kv_heads);
    c->head_dim = c->hidden_size / c->n_heads;
    if (c->arch != QW_ARCH_QWEN2 &&
        (rc = get_int(path, root, "head_dim", 1, BIG, &c->head_dim, err, errlen)) < 0)
        return rc;
    if (c->head_dim % 2 || c->head_dim < 2)
        return qw_errf(err, errlen, QWENC_EFORMAT, "%s: head_dim %d must be even", path, c->head_dim);
    c->max_position_embeddings = 32768;
    if ((rc = get_int(path, root, "max_position_embeddings", 1, BIG, &c->max_position_embeddings, err, errlen)) < 0)
        return rc;
    c->rms_norm_eps = 1e-6;
    if ((rc = get_num(path, root, "rms_norm_eps", &c->rms_norm_eps, err, errlen)) < 0) return rc;
    if ((rc = load_rope(path, root, c, err, errlen))) return rc;
    c->tie_word_embeddings = 0;
    if ((rc = get_bool(path, root, "tie_word_embeddings", &c->tie_word_embeddings, err, errlen)) < 0) return rc;
    c->attention_bias = c->arch == QW_ARCH_QWEN2;
    if (c->arch != QW_ARCH_QWEN2 &&
        (rc = get_bool(path, root, "attention_bias", &c->attention_bias, err, errlen)) < 0)
        return rc;
    c->qk_norm = c->arch != QW_ARCH_QWEN2;
    /* use_sliding_window false means full attention whatever sliding_window says. */
    int use_sw = 0;
    if ((rc = get_bool(path, root, "use_sliding_window", &use_sw, err, errlen)) < 0) return rc;
    c->sliding_window = 0;
    if (use_sw) {
        if ((rc = get_int(path, root, "sliding_window", 0, BIG, &c->sliding_window, err, errlen)) < 0) return rc;
        c->max_window_layers = c->n_layers;
        if ((rc = get_int(path, root, "max_window_layers", 0, BIG, &c->max_window_layers, err, errlen)) < 0)
            return rc;
    }
    c->bos_id = c->eos_id = -1;
    if ((rc = get_int(path, root, "bos_token_id", 0, BIG, &c->bos_id, err, errlen)) < 0) return rc;
    if ((rc = get_int(path, root, "eos_token_id", 0, BIG, &c->eos_id, err, errlen)) < 0) return rc;
    const char *dt = json_string_value(json_object_get(root, "torch_dtype"));
    if (!dt) dt = json_string_value(json_object_get(root, "dtype"));
    snprintf(c->dtype, sizeof c->dtype, "%s", dt ? dt : "");
    if ((rc = load_moe(path, root, c, err, errlen))) return rc;
    return qw_config_check_dims(path, c, err, errlen);
}

int qw_config_parse(const char *path, const char *text, size_t len, qw_config *c, char *err, size_t errlen) {
    memset(c, 0, sizeof *c);
    json_t *root;
    int rc = qw_json_parse(path, text, len, &root, err, errlen);
    if (rc) return rc;
    if (!json_is_object(root)) rc = qw_errf(err, errlen, QWENC_EFORMAT, "%s: not a JSON object", path);
    else rc = load_fields(path, root, c, err, errlen);
    json_decref(root);
    if (rc) qw_config_free(c);
    else qw_config_default_generation(c);
    return rc;
}

int qw_config_load(const char *dir, qw_config *c, char *err, size_t errlen) {
    memset(c, 0, sizeof *c);
    int rc = qw_dir_check(dir, err, errlen);
    if (rc) return rc;
    char *path = qw_path_join(dir, "config.json"), *text = NULL;
    if (!path) return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    size_t len = 0;
    rc = qw_file_read_all(path, &text, &len, err, errlen);
    if (rc == 0) rc = qw_config_parse(path, text, len, c, err, errlen);
    free(text);
    free(path);
    if (rc == 0) rc = load_generation_config(dir, c, err, errlen);
    if (rc) qw_config_free(c);
    return rc;
}

int qw_config_check_dims(const char *path, const qw_config *c, char *err, size_t errlen) {
    const struct { const char *name; int64_t v, max; } dims[] = {
        {"vocab_size", c->vocab_size, QW_MAX_DIM},
        {"hidden_size", c->hidden_size, QW_MAX_DIM},
        {"intermediate_size", c->intermediate_size, QW_MAX_DIM},
        {"moe_intermediate_size", c->moe_intermediate_size, QW_MAX_DIM},
        {"num_attention_heads * head_dim", (int64_t)c->n_heads * c->head_dim, QW_MAX_DIM},
        {"num_key_value_heads * head_dim", (int64_t)c->n_kv_heads * c->head_dim, QW_MAX_DIM},
        {"num_hidden_layers", c->n_layers, QW_MAX_LAYERS},
    };
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++)
        if (dims[i].v > dims[i].max)
            return qw_errf(err, errlen, QWENC_EFORMAT, "%s: %s = %lld is more than %lld", path, dims[i].name,
                           (long long)dims[i].v, (long long)dims[i].max);
    return 0;
}

void qw_config_free(qw_config *c) {
    free(c->mlp_only);
    c->mlp_only = NULL;
}

int qw_config_layer_is_moe(const qw_config *c, int layer) {
    return c->arch == QW_ARCH_QWEN3_MOE && c->n_experts > 0 && !c->mlp_only[layer] &&
           (layer + 1) % c->decoder_sparse_step == 0;
}
