/* Loading a tokenizer from a directory: tokenizer.json (vocabulary, merges,
 * added tokens, normalizer, pre-tokenizer, decoder) and tokenizer_config.json
 * (chat template and special-token strings). The tables are finished by
 * tokenizer_build.c, which the GGUF source (tokenizer_gguf.c) shares. */
#include "tokenizer/tokenizer.h"
#include "tokenizer/jscan.h"
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/utf8.h"
#include "base/err.h"
#include "base/file.h"
#include "base/json.h"

#include <stdlib.h>
#include <string.h>

/* What the scan of tokenizer.json collects before the model is built. */
typedef struct {
    jscan sc;
    qw_buf key, str;      /* scratch strings */
    json_t *rest;         /* top-level members other than "model" */
    json_t *model_rest;   /* "model" members other than "vocab" and "merges" */
    qw_buf merges;        /* merges as "a\0b\0" pairs, resolved after the vocab */
    int32_t n_merges;
    int seen_vocab, seen_merges;
    bpe_model *bpe;
} load_state;

static int oom(load_state *ls) {
    return qw_errf(ls->sc.err, ls->sc.errlen, QWENC_ENOMEM, "%s: out of memory", ls->sc.path);
}

/* Reads an object member's value as JSON text and parses it with jansson. */
static int parse_other(load_state *ls, json_t *into, const char *key) {
    const char *start;
    size_t len;
    int rc = jscan_skip_value(&ls->sc, &start, &len);
    if (rc) return rc;
    json_error_t je;
    json_t *v = json_loadb(start, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!v) {
        ls->sc.p = start + (je.position > 0 ? (size_t)je.position - 1 : 0);
        return jscan_fail(&ls->sc, je.text);
    }
    json_object_set_new(into, key, v);
    return 0;
}

static int parse_id(load_state *ls, int32_t *id) {
    jscan *sc = &ls->sc;
    jscan_peek(sc);
    long long v = 0;
    const char *q = sc->p;
    while (q < sc->end && *q >= '0' && *q <= '9' && v <= INT32_MAX) v = v * 10 + (*q++ - '0');
    if (q == sc->p || v > INT32_MAX || (q < sc->end && (*q == '.' || *q == 'e' || *q == 'E')))
        return jscan_fail(sc, "token id must be a non-negative integer");
    sc->p = q;
    *id = (int32_t)v;
    return 0;
}

static int parse_vocab(load_state *ls, char *err, size_t errlen) {
    jscan *sc = &ls->sc;
    int rc = jscan_expect(sc, '{');
    for (int first = 1; !rc; first = 0) {
        int more = jscan_next_member(sc, '}', first);
        if (more <= 0) return more;
        int32_t id = 0;
        if ((rc = jscan_string(sc, &ls->str)) || (rc = jscan_expect(sc, ':')) || (rc = parse_id(ls, &id)))
            return rc;
        if ((rc = bpe_add_token(ls->bpe, ls->str.data, ls->str.len, id, err, errlen)))
            return qw_err_prefix(err, errlen, rc, sc->path);
    }
    return rc;
}

static int push_merge(load_state *ls, const char *a, size_t an, const char *b, size_t bn) {
    if (qw_buf_append(&ls->merges, a, an) || qw_buf_append(&ls->merges, "", 1) ||
        qw_buf_append(&ls->merges, b, bn) || qw_buf_append(&ls->merges, "", 1))
        return oom(ls);
    ls->n_merges++;
    return 0;
}

/* One merge: "a b" (exactly one space, as tokenizers requires) or ["a", "b"]. */
static int parse_merge(load_state *ls) {
    jscan *sc = &ls->sc;
    int rc;
    if (jscan_peek(sc) == '"') {
        if ((rc = jscan_string(sc, &ls->str))) return rc;
        char *sp = memchr(ls->str.data, ' ', ls->str.len);
        if (!sp || memchr(sp + 1, ' ', ls->str.len - (size_t)(sp + 1 - ls->str.data)))
            return jscan_fail(sc, "a merge must be two tokens separated by one space");
        return push_merge(ls, ls->str.data, (size_t)(sp - ls->str.data), sp + 1,
                          ls->str.len - (size_t)(sp + 1 - ls->str.data));
    }
    if (jscan_peek(sc) != '[')
        return jscan_fail(sc, jscan_peek(sc) ? "a merge must be a string or a pair of strings"
                                             : "unexpected end of file");
    if ((rc = jscan_expect(sc, '[')) || (rc = jscan_string(sc, &ls->key)) || (rc = jscan_expect(sc, ',')) ||
        (rc = jscan_string(sc, &ls->str)) || (rc = jscan_expect(sc, ']')))
        return rc;
    return push_merge(ls, ls->key.data, ls->key.len, ls->str.data, ls->str.len);
}

static int parse_merges(load_state *ls) {
    jscan *sc = &ls->sc;
    int rc = jscan_expect(sc, '[');
    for (int first = 1; !rc; first = 0) {
        int more = jscan_next_member(sc, ']', first);
        if (more <= 0) return more;
        rc = parse_merge(ls);
    }
    return rc;
}

/* Walks an object, calling the member handler per key. */
typedef int (*member_fn)(load_state *ls, const char *key, char *err, size_t errlen);

static int parse_object(load_state *ls, member_fn fn, char *err, size_t errlen) {
    jscan *sc = &ls->sc;
    int rc = jscan_expect(sc, '{');
    for (int first = 1; !rc; first = 0) {
        int more = jscan_next_member(sc, '}', first);
        if (more <= 0) return more;
        if ((rc = jscan_string(sc, &ls->key)) || (rc = jscan_expect(sc, ':'))) return rc;
        /* Copied because the handlers reuse ls->key; longer keys are
         * none that matter here, so truncating them is harmless. */
        char key[64];
        snprintf(key, sizeof key, "%s", ls->key.data);
        rc = fn(ls, key, err, errlen);
    }
    return rc;
}

static int model_member(load_state *ls, const char *key, char *err, size_t errlen) {
    if (!strcmp(key, "vocab")) {
        ls->seen_vocab = 1;
        return parse_vocab(ls, err, errlen);
    }
    if (!strcmp(key, "merges")) {
        ls->seen_merges = 1;
        return parse_merges(ls);
    }
    return parse_other(ls, ls->model_rest, key);
}

static int top_member(load_state *ls, const char *key, char *err, size_t errlen) {
    if (!strcmp(key, "model")) return parse_object(ls, model_member, err, errlen);
    return parse_other(ls, ls->rest, key);
}

static int scan_file(load_state *ls, char *err, size_t errlen) {
    int rc = parse_object(ls, top_member, err, errlen);
    if (!rc && jscan_peek(&ls->sc)) rc = jscan_fail(&ls->sc, "extra text after the top-level object");
    return rc;
}

/* ---- building the tokenizer ---------------------------------------------- */

static int check_model(const char *path, const json_t *m, int *ignore_merges, char *err, size_t errlen) {
    const char *type = json_string_value(json_object_get(m, "type"));
    const json_t *dropout = json_object_get(m, "dropout");
    const char *prefix = json_string_value(json_object_get(m, "continuing_subword_prefix"));
    const char *suffix = json_string_value(json_object_get(m, "end_of_word_suffix"));
    if (type && strcmp(type, "BPE"))
        return qw_errf(err, errlen, QWENC_EUNSUPPORTED, "%s: model type '%s' is not supported (only BPE)",
                       path, type);
    if (json_is_true(json_object_get(m, "byte_fallback")))
        return qw_errf(err, errlen, QWENC_EUNSUPPORTED, "%s: BPE byte_fallback is not supported", path);
    if ((prefix && *prefix) || (suffix && *suffix))
        return qw_errf(err, errlen, QWENC_EUNSUPPORTED, "%s: BPE subword prefix/suffix is not supported", path);
    if (dropout && !json_is_null(dropout) && json_number_value(dropout) > 0)
        return qw_errf(err, errlen, QWENC_EUNSUPPORTED, "%s: BPE dropout is not supported", path);
    *ignore_merges = json_is_true(json_object_get(m, "ignore_merges"));
    return 0;
}

static int resolve_merges(load_state *ls, char *err, size_t errlen) {
    const char *p = ls->merges.data;
    for (int32_t rank = 0; rank < ls->n_merges; rank++) {
        size_t an = strlen(p);
        const char *b = p + an + 1;
        size_t bn = strlen(b);
        int rc = bpe_add_merge(ls->bpe, p, an, b, bn, rank, err, errlen);
        if (rc) return qw_err_prefix(err, errlen, rc, ls->sc.path);
        p = b + bn + 1;
    }
    return 0;
}

static int check_decoder(const char *path, const json_t *dec, char *err, size_t errlen) {
    const char *type = json_string_value(json_object_get(dec, "type"));
    if (!dec || json_is_null(dec) || (type && !strcmp(type, "ByteLevel"))) return 0;
    return qw_errf(err, errlen, QWENC_EUNSUPPORTED, "%s: decoder type '%s' is not supported", path,
                   type ? type : "(none)");
}

static int load_tokenizer_json(qwenc_tokenizer *t, const char *path, char *err, size_t errlen) {
    char *text;
    size_t n;
    int rc = qw_file_read_all(path, &text, &n, err, errlen);
    if (rc) return rc;
    load_state ls = {0};
    jscan_init(&ls.sc, path, text, n, err, errlen);
    ls.rest = json_object();
    ls.model_rest = json_object();
    rc = (!ls.rest || !ls.model_rest) ? QWENC_ENOMEM : bpe_new(&ls.bpe);
    if (!rc) rc = scan_file(&ls, err, errlen);
    if (!rc && (!ls.seen_vocab || !ls.seen_merges))
        rc = qw_errf(err, errlen, QWENC_EFORMAT, "%s: no model.vocab and model.merges (not a BPE tokenizer.json)", path);
    if (!rc) rc = check_model(path, ls.model_rest, &t->ignore_merges, err, errlen);
    if (!rc) rc = resolve_merges(&ls, err, errlen);
    t->bpe = ls.bpe;
    if (!rc && (rc = added_vocab_load(&t->added, json_object_get(ls.rest, "added_tokens"), err, errlen)))
        qw_err_prefix(err, errlen, rc, path);
    if (!rc && (rc = pretokenize_new(json_object_get(ls.rest, "normalizer"),
                                     json_object_get(ls.rest, "pre_tokenizer"), &t->pre, err, errlen)))
        qw_err_prefix(err, errlen, rc, path);
    if (!rc) rc = check_decoder(path, json_object_get(ls.rest, "decoder"), err, errlen);
    if (!rc) rc = qw_tokenizer_finish(t, path, err, errlen);
    if (rc == QWENC_ENOMEM && err && errlen && !*err) qw_errf(err, errlen, rc, "%s: out of memory", path);
    json_decref(ls.rest);
    json_decref(ls.model_rest);
    qw_buf_free(&ls.key);
    qw_buf_free(&ls.str);
    qw_buf_free(&ls.merges);
    free(text);
    return rc;
}

/* ---- tokenizer_config.json ------------------------------------------------ */

static int dup_string(const char *s, char **out) {
    *out = NULL;
    if (!s) return 0;
    *out = strdup(s);
    return *out ? 0 : QWENC_ENOMEM;
}

/* "chat_template" is a string, or a list of {"name", "template"}. */
static const char *pick_template(const json_t *v) {
    if (json_is_string(v)) return json_string_value(v);
    size_t i;
    const json_t *item;
    json_array_foreach(v, i, item) {
        const char *name = json_string_value(json_object_get(item, "name"));
        if (name && !strcmp(name, "default")) return json_string_value(json_object_get(item, "template"));
    }
    return NULL;
}

/* A special token is a string, an object with "content", or null. */
static const char *special_text(const json_t *v) {
    if (json_is_object(v)) v = json_object_get(v, "content");
    return json_string_value(v);
}

static int load_config(qwenc_tokenizer *t, const char *dir, char *err, size_t errlen) {
    char *path = qw_path_join(dir, "tokenizer_config.json");
    if (!path) return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    json_t *cfg = NULL;
    int rc = 0;
    if (qw_path_present(path)) rc = qw_json_load_file(path, &cfg, err, errlen);
    if (!rc && cfg && !json_is_object(cfg))
        rc = qw_errf(err, errlen, QWENC_EFORMAT, "%s: not a JSON object", path);
    if (!rc && cfg &&
        (dup_string(pick_template(json_object_get(cfg, "chat_template")), &t->chat_template) ||
         dup_string(special_text(json_object_get(cfg, "bos_token")), &t->bos_token) ||
         dup_string(special_text(json_object_get(cfg, "eos_token")), &t->eos_token) ||
         dup_string(special_text(json_object_get(cfg, "pad_token")), &t->pad_token) ||
         dup_string(special_text(json_object_get(cfg, "unk_token")), &t->unk_token)))
        rc = qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    json_decref(cfg);
    free(path);
    if (rc || t->chat_template) return rc;
    /* Newer checkpoints keep the template in its own file. */
    path = qw_path_join(dir, "chat_template.jinja");
    if (!path) return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    size_t n;
    if (qw_path_present(path)) rc = qw_file_read_all(path, &t->chat_template, &n, err, errlen);
    free(path);
    return rc;
}

/* ---- the directory source ------------------------------------------------ */

int qw_tokenizer_load_dir(qwenc_tokenizer *t, const char *dir, char *err, size_t errlen) {
    char *json_path = qw_path_join(dir, "tokenizer.json");
    if (!json_path) return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    int rc = load_tokenizer_json(t, json_path, err, errlen);
    if (!rc) rc = load_config(t, dir, err, errlen);
    free(json_path);
    return rc;
}
