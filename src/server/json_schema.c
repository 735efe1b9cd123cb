#include "server/json_schema.h"

#include "qwenc.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_MAX_LEN 256
#define DEPTH_INF UINT32_MAX
#define MAX_REF_CHAIN 64
/* |units| of a bounded number: 18 digits fit an int64 with room to add. */
#define UNITS_MAX 999999999999999999LL

/* ---- the compiler's state ------------------------------------------------- */

typedef struct {
    const json_t *schema;
    uint32_t node;
} memo_entry;

/* oneOf nodes, checked for disjoint alternatives once every node is known. */
typedef struct {
    uint32_t *alts;
    uint32_t n;
    char *path;
} one_of;

typedef struct {
    json_schema *s;
    const json_t *doc;   /* what "#" means for a $ref */
    const char *prefix;  /* put before every error: which document */
    memo_entry *memo;
    size_t n_memo, cap_memo;
    one_of *one_ofs;
    size_t n_one_ofs, cap_one_ofs;
    char *err;
    size_t errlen;
} compiler;

typedef struct {
    char text[PATH_MAX_LEN];
    size_t len;
} path_t;

static int fail(compiler *c, int code, const path_t *at, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(compiler *c, int code, const path_t *at, const char *fmt, ...) {
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->errlen) snprintf(c->err, c->errlen, "%s%s%s%s", c->prefix, msg, at ? " at " : "", at ? at->text : "");
    return code;
}

static int oom(compiler *c) {
    if (c->errlen) snprintf(c->err, c->errlen, "out of memory compiling a JSON schema");
    return QWENC_ENOMEM;
}

/* at + "/" + segment, with JSON Pointer's escapes (~0, ~1); "..." when too long. */
static path_t path_join(const path_t *at, const char *segment) {
    path_t p = *at;
    if (p.len + 2 >= sizeof p.text) return p;
    p.text[p.len++] = '/';
    for (const char *s = segment; *s; s++) {
        const char *piece = *s == '~' ? "~0" : *s == '/' ? "~1" : NULL;
        size_t n = piece ? 2 : 1;
        if (p.len + n + 4 >= sizeof p.text) {
            memcpy(p.text + p.len, "...", 3);
            p.len += 3;
            break;
        }
        memcpy(p.text + p.len, piece ? piece : s, n);
        p.len += n;
    }
    p.text[p.len] = 0;
    return p;
}

static path_t path_index(const path_t *at, const char *keyword, size_t i) {
    char num[24];
    snprintf(num, sizeof num, "%zu", i);
    path_t p = path_join(at, keyword);
    return path_join(&p, num);
}

static int new_node(compiler *c, js_kind kind, uint32_t *idx) {
    json_schema *s = c->s;
    if (s->n_nodes == s->cap) {
        uint32_t cap = s->cap ? s->cap * 2 : 32;
        js_node *n = realloc(s->nodes, cap * sizeof *n);
        if (!n) return oom(c);
        s->nodes = n, s->cap = cap;
    }
    *idx = s->n_nodes++;
    memset(&s->nodes[*idx], 0, sizeof s->nodes[*idx]);
    s->nodes[*idx].kind = kind;
    return 0;
}

static int memo_add(compiler *c, const json_t *schema, uint32_t node) {
    if (c->n_memo == c->cap_memo) {
        size_t cap = c->cap_memo ? c->cap_memo * 2 : 32;
        memo_entry *m = realloc(c->memo, cap * sizeof *m);
        if (!m) return oom(c);
        c->memo = m, c->cap_memo = cap;
    }
    c->memo[c->n_memo++] = (memo_entry){schema, node};
    return 0;
}

static int memo_find(const compiler *c, const json_t *schema, uint32_t *node) {
    for (size_t i = 0; i < c->n_memo; i++)
        if (c->memo[i].schema == schema) return *node = c->memo[i].node, 1;
    return 0;
}

/* ---- keywords ----------------------------------------------------------------- */

static const char *const annotation_words[] = {"$schema", "$id", "$comment", "title", "description", "default",
                                               "examples", "deprecated", "readOnly", "writeOnly", "$defs",
                                               "definitions", NULL};
static const char *const supported_words[] = {"type", "properties", "required", "additionalProperties", "enum",
                                              "const", "items", "minItems", "maxItems", "uniqueItems", "anyOf",
                                              "oneOf", "allOf", "minLength", "maxLength", "format", "minimum",
                                              "maximum", "exclusiveMinimum", "exclusiveMaximum", "$ref", NULL};

static int in_list(const char *word, const char *const *list) {
    for (; *list; list++)
        if (!strcmp(word, *list)) return 1;
    return 0;
}

static int check_keywords(compiler *c, const json_t *sch, const path_t *at) {
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)sch, k, v) {
        if (!in_list(k, annotation_words) && !in_list(k, supported_words))
            return fail(c, QWENC_EUNSUPPORTED, at, "unsupported keyword '%s'", k);
    }
    return 0;
}

/* The first keyword that constrains values beside `keyword` (annotations
 * and the words in `also` aside), or NULL. */
static const char *sibling(const json_t *sch, const char *keyword, const char *const *also) {
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)sch, k, v) {
        if (strcmp(k, keyword) && !in_list(k, annotation_words) && !(also && in_list(k, also))) return k;
    }
    return NULL;
}

/* ---- types ---------------------------------------------------------------------- */

enum { T_NULL = 1, T_BOOLEAN = 2, T_OBJECT = 4, T_ARRAY = 8, T_STRING = 16, T_INTEGER = 32, T_NUMBER = 64 };
#define T_ALL (T_NULL | T_BOOLEAN | T_OBJECT | T_ARRAY | T_STRING | T_INTEGER | T_NUMBER)

static unsigned type_bit(const char *name) {
    static const char *const names[] = {"null", "boolean", "object", "array", "string", "integer", "number"};
    for (unsigned i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcmp(name, names[i])) return 1u << i;
    return 0;
}

/* "type" as a mask; 0 when absent. */
static int parse_type(compiler *c, const json_t *sch, const path_t *at, unsigned *mask) {
    const json_t *t = json_object_get(sch, "type");
    *mask = 0;
    if (!t) return 0;
    path_t p = path_join(at, "type");
    if (json_is_string(t)) {
        if (!(*mask = type_bit(json_string_value(t))))
            return fail(c, QWENC_EINVAL, &p, "unknown type '%s'", json_string_value(t));
        return 0;
    }
    if (!json_is_array(t) || json_array_size(t) == 0)
        return fail(c, QWENC_EINVAL, &p, "'type' must be a type name or a non-empty array of them");
    size_t i;
    const json_t *x;
    json_array_foreach(t, i, x) {
        unsigned bit = json_is_string(x) ? type_bit(json_string_value(x)) : 0;
        if (!bit || (*mask & bit)) return fail(c, QWENC_EINVAL, &p, "'type' must list distinct type names");
        *mask |= bit;
    }
    return 0;
}

/* The types a value has: integers (and integral reals) are numbers too. */
static unsigned value_types(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_NULL: return T_NULL;
    case JSON_TRUE:
    case JSON_FALSE: return T_BOOLEAN;
    case JSON_OBJECT: return T_OBJECT;
    case JSON_ARRAY: return T_ARRAY;
    case JSON_STRING: return T_STRING;
    case JSON_INTEGER: return T_INTEGER | T_NUMBER;
    default: return json_real_value(v) == floor(json_real_value(v)) ? T_INTEGER | T_NUMBER : T_NUMBER;
    }
}

/* Types implied by the keywords when "type" is absent (a subset of what
 * the schema allows, which is all that generation needs). */
static unsigned implied_types(const json_t *sch) {
    static const struct {
        const char *word;
        unsigned type;
    } words[] = {{"properties", T_OBJECT}, {"required", T_OBJECT}, {"additionalProperties", T_OBJECT},
                 {"items", T_ARRAY},       {"minItems", T_ARRAY},  {"maxItems", T_ARRAY},
                 {"uniqueItems", T_ARRAY}, {"minLength", T_STRING}, {"maxLength", T_STRING},
                 {"format", T_STRING},     {"minimum", T_NUMBER},  {"maximum", T_NUMBER},
                 {"exclusiveMinimum", T_NUMBER}, {"exclusiveMaximum", T_NUMBER}};
    unsigned mask = 0;
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (json_object_get(sch, words[i].word)) mask |= words[i].type;
    return mask;
}

/* ---- literals ----------------------------------------------------------------- */

/* A value as compact JSON text that reads back as the same value: numbers
 * with the fewest digits that round-trip, without an exponent when one is
 * not needed (-10.0, not -1e+01), as a model would write them. */
static char *literal_text(const json_t *v) {
    char *with_exponent = NULL;
    for (int prec = 1; prec <= 17; prec++) {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(prec));
        if (!s) break;
        json_t *back = json_loads(s, JSON_DECODE_ANY, NULL);
        int same = back && json_equal((json_t *)v, back);
        json_decref(back);
        if (same && (!json_is_real(v) || !strpbrk(s, "eE"))) return free(with_exponent), s;
        if (same && !with_exponent) with_exponent = s;
        else free(s);
    }
    return with_exponent ? with_exponent : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* A text with what sorting it carries along (qsort has no context argument
 * in C17, and connection threads compile schemas at the same time). */
typedef struct {
    char *text;
    uint32_t len, index;
} sort_item;

static int by_text(const void *a, const void *b) {
    const sort_item *x = a, *y = b;
    uint32_t n = x->len < y->len ? x->len : y->len;
    int r = memcmp(x->text, y->text, n);
    return r ? r : (x->len > y->len) - (x->len < y->len);
}

/* Sorts texts bytewise (shorter first) and drops duplicates; n updated. */
static int sort_texts(char **text, uint32_t *len, uint32_t *n) {
    sort_item *items = malloc((*n ? *n : 1) * sizeof *items);
    if (!items) return -1;
    for (uint32_t i = 0; i < *n; i++) items[i] = (sort_item){text[i], len[i], i};
    qsort(items, *n, sizeof *items, by_text);
    uint32_t m = 0;
    for (uint32_t i = 0; i < *n; i++) {
        if (m && !by_text(&items[i], &items[m - 1])) {
            free(items[i].text);
            continue;
        }
        items[m++] = items[i];
    }
    for (uint32_t i = 0; i < m; i++) text[i] = items[i].text, len[i] = items[i].len;
    *n = m;
    free(items);
    return 0;
}

/* A JS_LITERAL node holding the given values' texts. */
static int fill_literal(compiler *c, uint32_t idx, const json_t *const *values, size_t n) {
    char **text = calloc(n ? n : 1, sizeof *text);
    uint32_t *len = calloc(n ? n : 1, sizeof *len);
    if (!text || !len) return free(text), free(len), oom(c);
    js_node *node = &c->s->nodes[idx];
    node->kind = JS_LITERAL;
    node->u.lit.text = text, node->u.lit.len = len;
    for (size_t i = 0; i < n; i++) {
        if (!(text[i] = literal_text(values[i]))) return oom(c);
        len[i] = (uint32_t)strlen(text[i]);
        node->u.lit.n = (uint32_t)i + 1;
    }
    return sort_texts(text, len, &node->u.lit.n) ? oom(c) : 0;
}

static int literal_of_words(compiler *c, uint32_t idx, const char *const *words, size_t n) {
    json_t *v[3] = {NULL, NULL, NULL};
    for (size_t i = 0; i < n; i++)
        v[i] = !strcmp(words[i], "true") ? json_true() : !strcmp(words[i], "false") ? json_false() : json_null();
    int rc = fill_literal(c, idx, (const json_t *const *)v, n);
    for (size_t i = 0; i < n; i++) json_decref(v[i]);
    return rc;
}

/* enum / const (with "type" filtering the values; nothing else beside them). */
static int compile_literal(compiler *c, const json_t *sch, const path_t *at, uint32_t idx) {
    static const char *const with[] = {"type", "enum", "const", NULL};
    const char *other = sibling(sch, "enum", with);
    if (other) return fail(c, QWENC_EUNSUPPORTED, at, "'%s' beside 'enum'/'const' is not supported", other);
    unsigned types;
    if (parse_type(c, sch, at, &types)) return QWENC_EINVAL;
    const json_t *en = json_object_get(sch, "enum"), *cn = json_object_get(sch, "const");
    path_t pe = path_join(at, en ? "enum" : "const");
    if (en && (!json_is_array(en) || json_array_size(en) == 0))
        return fail(c, QWENC_EINVAL, &pe, "'enum' must be a non-empty array");
    size_t n = en ? json_array_size(en) : 1, kept = 0;
    const json_t **vals = malloc(n * sizeof *vals);
    if (!vals) return oom(c);
    for (size_t i = 0; i < n; i++) {
        const json_t *v = en ? json_array_get(en, i) : cn;
        if (cn && !json_equal((json_t *)v, (json_t *)cn)) continue;
        if (types && !(value_types(v) & types)) continue;
        vals[kept++] = v;
    }
    int rc = kept ? fill_literal(c, idx, vals, kept)
                  : fail(c, QWENC_EINVAL, &pe, "no value of '%s' is allowed by the schema's 'type'%s",
                         en ? "enum" : "const", en && cn ? " and 'const'" : "");
    free(vals);
    return rc;
}

/* ---- scalars -------------------------------------------------------------------- */

static int get_count(compiler *c, const json_t *sch, const path_t *at, const char *word, uint32_t *out) {
    const json_t *v = json_object_get(sch, word);
    if (!v) return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        path_t p = path_join(at, word);
        return fail(c, QWENC_EINVAL, &p, "'%s' must be a non-negative integer", word);
    }
    json_int_t x = json_integer_value(v);
    *out = x > (json_int_t)UINT32_MAX ? UINT32_MAX : (uint32_t)x;
    return 0;
}

static const struct {
    const char *name;
    js_format format;
    uint32_t min_len;  /* the shortest text of the format */
} formats[] = {{"date", JS_FMT_DATE, 10},  {"time", JS_FMT_TIME, 9},   {"date-time", JS_FMT_DATE_TIME, 20},
               {"uuid", JS_FMT_UUID, 36},  {"email", JS_FMT_EMAIL, 5}};

static int compile_string(compiler *c, const json_t *sch, const path_t *at, uint32_t idx) {
    uint32_t lo = 0, hi = UINT32_MAX;
    if (get_count(c, sch, at, "minLength", &lo) || get_count(c, sch, at, "maxLength", &hi)) return QWENC_EINVAL;
    if (lo > hi) return fail(c, QWENC_EINVAL, at, "'minLength' %u is greater than 'maxLength' %u", lo, hi);
    js_format fmt = JS_FMT_NONE;
    const json_t *f = json_object_get(sch, "format");
    if (f) {
        path_t p = path_join(at, "format");
        if (!json_is_string(f)) return fail(c, QWENC_EINVAL, &p, "'format' must be a string");
        size_t k = 0;
        while (k < sizeof formats / sizeof *formats && strcmp(formats[k].name, json_string_value(f))) k++;
        if (k == sizeof formats / sizeof *formats)
            return fail(c, QWENC_EUNSUPPORTED, &p, "unsupported format '%s'", json_string_value(f));
        fmt = formats[k].format;
        if (hi < formats[k].min_len)
            return fail(c, QWENC_EINVAL, at, "'maxLength' %u is shorter than any '%s' (%u)", hi, formats[k].name,
                        formats[k].min_len);
        if (lo > formats[k].min_len)
            return fail(c, QWENC_EUNSUPPORTED, at, "'minLength' above %u with format '%s' is not supported",
                        formats[k].min_len, formats[k].name);
    }
    js_node *n = &c->s->nodes[idx];
    n->kind = JS_STRING;
    n->u.str.min_len = lo, n->u.str.max_len = hi, n->u.str.format = fmt;
    return 0;
}

/* A bound in units of 10^-frac, exactly: the double's full decimal
 * expansion (glibc prints it exactly) cut after `frac` digits. *inexact
 * says whether anything non-zero was cut. |x| must be below 1e19. */
static int64_t to_units(double x, int frac, int *inexact) {
    char buf[1200];
    snprintf(buf, sizeof buf, "%.1100f", fabs(x));
    int64_t u = 0;
    const char *p = buf;
    for (; *p && *p != '.'; p++) u = u * 10 + (*p - '0');
    if (*p == '.') p++;
    for (int i = 0; i < frac; i++) u = u * 10 + (*p ? *p++ - '0' : 0);
    *inexact = 0;
    for (; *p; p++) *inexact |= *p != '0';
    return u;
}

/* The least (up = 0: greatest) number of units allowed by a minimum
 * (maximum) x; exclusive bounds leave x itself out. Saturates beyond
 * +-UNITS_MAX+1 so that a bound out of range reads as unsatisfiable or as
 * no bound, whichever it is. */
static int64_t bound_units(const json_t *v, int frac, int is_min, int exclusive) {
    double x = json_number_value(v);
    double limit = 1e18;
    for (int i = 0; i < frac; i++) limit /= 10;
    if (x >= limit) return UNITS_MAX + 1;
    if (x <= -limit) return -UNITS_MAX - 1;
    int inexact = 0;
    int64_t mag;
    if (json_is_integer(v)) {  /* exactly, even beyond 2^53 */
        json_int_t i = json_integer_value(v);
        mag = i < 0 ? -(int64_t)i : (int64_t)i;
        for (int k = 0; k < frac; k++) mag *= 10;
    } else {
        mag = to_units(x, frac, &inexact);
    }
    int neg = x < 0;
    /* ceil for a minimum, floor for a maximum, of +-(mag + the cut part) */
    int64_t v_units = is_min ? (neg ? -mag : mag + inexact) : (neg ? -(mag + inexact) : mag);
    if (exclusive && !inexact) v_units += is_min ? 1 : -1;
    return v_units;
}

static int get_bound(compiler *c, const json_t *sch, const path_t *at, int frac, int is_min, int64_t *out,
                     int *given) {
    const char *word = is_min ? "minimum" : "maximum", *ex_word = is_min ? "exclusiveMinimum" : "exclusiveMaximum";
    const json_t *v = json_object_get(sch, word), *ex = json_object_get(sch, ex_word);
    if (v && !json_is_number(v)) {
        path_t p = path_join(at, word);
        return fail(c, QWENC_EINVAL, &p, "'%s' must be a number", word);
    }
    if (ex && !json_is_number(ex) && !json_is_boolean(ex)) {
        path_t p = path_join(at, ex_word);
        return fail(c, QWENC_EINVAL, &p, "'%s' must be a number (or a boolean, as in draft 4)", ex_word);
    }
    if (v) {
        *out = bound_units(v, frac, is_min, json_is_true(ex));
        *given = 1;
    }
    if (json_is_number(ex)) {
        int64_t b = bound_units(ex, frac, is_min, 1);
        if (!v || (is_min ? b > *out : b < *out)) *out = b;
        *given = 1;
    }
    return 0;
}

static int compile_number(compiler *c, const json_t *sch, const path_t *at, uint32_t idx, int integer) {
    int frac = integer ? 0 : JS_NUMBER_FRAC_DIGITS, given = 0;
    int64_t lo = -UNITS_MAX, hi = UNITS_MAX;
    if (get_bound(c, sch, at, frac, 1, &lo, &given) || get_bound(c, sch, at, frac, 0, &hi, &given))
        return QWENC_EINVAL;
    if (lo > UNITS_MAX || hi < -UNITS_MAX)
        return fail(c, QWENC_EUNSUPPORTED, at, "a bounded number must lie within +-%s",
                    integer ? "999999999999999999" : "999999999999.999999");
    if (lo < -UNITS_MAX) lo = -UNITS_MAX;
    if (hi > UNITS_MAX) hi = UNITS_MAX;
    if (lo > hi) return fail(c, QWENC_EINVAL, at, "no %s lies between the minimum and the maximum",
                             integer ? "integer" : "number");
    js_node *n = &c->s->nodes[idx];
    n->kind = JS_NUMBER;
    n->u.num.integer = integer;
    n->u.num.bounded = given;
    n->u.num.lo = lo, n->u.num.hi = hi;
    n->u.num.frac_digits = frac;
    n->u.num.max_int_digits = 18 - frac;
    return 0;
}

/* ---- containers ------------------------------------------------------------------ */

static int compile(compiler *c, const json_t *sch, const path_t *at, uint32_t *out);

static int compile_array(compiler *c, const json_t *sch, const path_t *at, uint32_t idx) {
    uint32_t lo = 0, hi = UINT32_MAX, items = JS_NODE_ANY;
    if (get_count(c, sch, at, "minItems", &lo) || get_count(c, sch, at, "maxItems", &hi)) return QWENC_EINVAL;
    if (lo > hi) return fail(c, QWENC_EINVAL, at, "'minItems' %u is greater than 'maxItems' %u", lo, hi);
    const json_t *u = json_object_get(sch, "uniqueItems"), *it = json_object_get(sch, "items");
    path_t pu = path_join(at, "uniqueItems"), pi = path_join(at, "items");
    if (u && !json_is_boolean(u)) return fail(c, QWENC_EINVAL, &pu, "'uniqueItems' must be a boolean");
    if (json_is_true(u)) return fail(c, QWENC_EUNSUPPORTED, &pu, "unsupported keyword value 'uniqueItems': true");
    if (json_is_array(it)) return fail(c, QWENC_EUNSUPPORTED, &pi, "unsupported 'items' array (tuples)");
    if (it) {
        int rc = compile(c, it, &pi, &items);
        if (rc) return rc;
    }
    js_node *n = &c->s->nodes[idx];
    n->kind = JS_ARRAY;
    n->u.arr.items = items, n->u.arr.min_items = lo, n->u.arr.max_items = hi;
    return 0;
}

static char *key_text(const char *name, uint32_t *len) {
    json_t *s = json_string(name);
    char *t = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
    json_decref(s);
    if (t) *len = (uint32_t)strlen(t);
    return t;
}

static int required_names(compiler *c, const json_t *sch, const path_t *at, const json_t **out) {
    const json_t *req = json_object_get(sch, "required");
    *out = req;
    if (!req) return 0;
    path_t p = path_join(at, "required");
    if (!json_is_array(req)) return fail(c, QWENC_EINVAL, &p, "'required' must be an array of property names");
    for (size_t i = 0; i < json_array_size(req); i++) {
        if (!json_is_string(json_array_get(req, i)))
            return fail(c, QWENC_EINVAL, &p, "'required' must be an array of property names");
        for (size_t k = 0; k < i; k++)
            if (json_equal(json_array_get(req, i), json_array_get(req, k)))
                return fail(c, QWENC_EINVAL, &p, "'required' names '%s' twice",
                            json_string_value(json_array_get(req, i)));
    }
    return 0;
}

static int is_required(const json_t *req, const char *name) {
    for (size_t i = 0; i < json_array_size(req); i++)
        if (!strcmp(json_string_value(json_array_get(req, i)), name)) return 1;
    return 0;
}

/* additionalProperties: 1 allowed (absent, true, {}), 0 forbidden. */
static int additional_allowed(compiler *c, const json_t *sch, const path_t *at, int *allowed) {
    const json_t *a = json_object_get(sch, "additionalProperties");
    *allowed = !json_is_false(a);
    if (!a || json_is_boolean(a) || (json_is_object(a) && json_object_size(a) == 0)) return 0;
    path_t p = path_join(at, "additionalProperties");
    return fail(c, QWENC_EUNSUPPORTED, &p, "unsupported 'additionalProperties' schema (only true or false)");
}

static int add_prop(compiler *c, js_prop **props, uint32_t *n, const char *name, uint32_t node, int required) {
    js_prop *p = realloc(*props, (*n + 1) * sizeof *p);
    if (!p) return oom(c);
    *props = p;
    p[*n] = (js_prop){.node = node, .required = required};
    if (!(p[*n].key = key_text(name, &p[*n].key_len))) return oom(c);
    (*n)++;
    return 0;
}

/* The declared properties in the schema's order, then any required name
 * that is not declared (any value). */
static int collect_props(compiler *c, const json_t *sch, const json_t *req, int allowed, const path_t *at,
                         js_prop **props, uint32_t *n) {
    const json_t *pr = json_object_get(sch, "properties");
    path_t pp = path_join(at, "properties");
    if (pr && !json_is_object(pr)) return fail(c, QWENC_EINVAL, &pp, "'properties' must be an object");
    const char *name;
    const json_t *sub;
    json_object_foreach((json_t *)pr, name, sub) {
        path_t p = path_join(&pp, name);
        uint32_t node;
        int rc = compile(c, sub, &p, &node);
        if (rc || (rc = add_prop(c, props, n, name, node, is_required(req, name)))) return rc;
    }
    for (size_t i = 0; i < json_array_size(req); i++) {
        const char *r = json_string_value(json_array_get(req, i));
        if (pr && json_object_get(pr, r)) continue;
        if (!allowed) {
            path_t p = path_join(at, "required");
            return fail(c, QWENC_EINVAL, &p, "'%s' is required but 'additionalProperties' is false", r);
        }
        int rc = add_prop(c, props, n, r, JS_NODE_ANY, 1);
        if (rc) return rc;
    }
    return 0;
}

static int compile_object(compiler *c, const json_t *sch, const path_t *at, uint32_t idx) {
    const json_t *req;
    int allowed;
    int rc = required_names(c, sch, at, &req);
    if (!rc) rc = additional_allowed(c, sch, at, &allowed);
    if (rc) return rc;
    if (!json_object_get(sch, "properties") && !json_array_size(req) && allowed) {
        c->s->nodes[idx].kind = JS_ANY_OBJECT;
        return 0;
    }
    js_prop *props = NULL;
    uint32_t n = 0;
    rc = collect_props(c, sch, req, allowed, at, &props, &n);
    js_node *node = &c->s->nodes[idx];
    node->kind = JS_OBJECT;
    node->u.obj.props = props, node->u.obj.n = n;
    if (!rc && n > UINT16_MAX) return fail(c, QWENC_EUNSUPPORTED, at, "more than %u properties", UINT16_MAX);
    return rc;
}

/* ---- combinators ---------------------------------------------------------------- */

static int add_one_of(compiler *c, const uint32_t *alts, uint32_t n, const path_t *at) {
    if (c->n_one_ofs == c->cap_one_ofs) {
        size_t cap = c->cap_one_ofs ? c->cap_one_ofs * 2 : 8;
        one_of *o = realloc(c->one_ofs, cap * sizeof *o);
        if (!o) return oom(c);
        c->one_ofs = o, c->cap_one_ofs = cap;
    }
    one_of *o = &c->one_ofs[c->n_one_ofs];
    o->alts = malloc(n * sizeof *alts);
    o->path = strdup(at->text);
    if (!o->alts || !o->path) return free(o->alts), free(o->path), oom(c);
    memcpy(o->alts, alts, n * sizeof *alts);
    o->n = n;
    c->n_one_ofs++;
    return 0;
}

static int compile_alt(compiler *c, const json_t *sch, const path_t *at, uint32_t idx) {
    const char *word = json_object_get(sch, "anyOf") ? "anyOf" : "oneOf";
    const char *other = sibling(sch, word, NULL);
    if (other) return fail(c, QWENC_EUNSUPPORTED, at, "'%s' beside '%s' is not supported", other, word);
    const json_t *list = json_object_get(sch, word);
    path_t p = path_join(at, word);
    if (!json_is_array(list) || json_array_size(list) == 0)
        return fail(c, QWENC_EINVAL, &p, "'%s' must be a non-empty array of schemas", word);
    uint32_t n = (uint32_t)json_array_size(list);
    uint32_t *alts = malloc(n * sizeof *alts);
    if (!alts) return oom(c);
    c->s->nodes[idx].kind = JS_ALT;
    c->s->nodes[idx].u.alt.alts = alts;
    for (uint32_t i = 0; i < n; i++) {
        path_t pi = path_index(at, word, i);
        int rc = compile(c, json_array_get(list, i), &pi, &alts[i]);
        if (rc) return rc;
        c->s->nodes[idx].u.alt.n = i + 1;
    }
    return strcmp(word, "oneOf") ? 0 : add_one_of(c, alts, n, at);
}

/* One node per type; several types make a JS_ALT over them. */
static int compile_type(compiler *c, const json_t *sch, const path_t *at, unsigned type, uint32_t idx) {
    static const char *const booleans[] = {"false", "true"}, *const null_word[] = {"null"};
    switch (type) {
    case T_NULL: return literal_of_words(c, idx, null_word, 1);
    case T_BOOLEAN: return literal_of_words(c, idx, booleans, 2);
    case T_OBJECT: return compile_object(c, sch, at, idx);
    case T_ARRAY: return compile_array(c, sch, at, idx);
    case T_STRING: return compile_string(c, sch, at, idx);
    default: return compile_number(c, sch, at, idx, type == T_INTEGER);
    }
}

static int compile_types(compiler *c, const json_t *sch, const path_t *at, uint32_t idx) {
    unsigned mask;
    if (parse_type(c, sch, at, &mask)) return QWENC_EINVAL;
    if (!mask) mask = implied_types(sch);
    if (mask & T_NUMBER) mask &= ~(unsigned)T_INTEGER;  /* integers are numbers */
    unsigned n = (unsigned)__builtin_popcount(mask);
    if (n == 1) return compile_type(c, sch, at, mask, idx);
    uint32_t *alts = malloc(n * sizeof *alts);
    if (!alts) return oom(c);
    c->s->nodes[idx].kind = JS_ALT;
    c->s->nodes[idx].u.alt.alts = alts;
    for (unsigned bit = 1, k = 0; bit <= T_NUMBER; bit <<= 1) {
        if (!(mask & bit)) continue;
        uint32_t t;
        int rc = new_node(c, JS_ANY, &t);
        if (!rc) rc = compile_type(c, sch, at, bit, t);
        if (rc) return rc;
        c->s->nodes[idx].u.alt.alts[k++] = t;
        c->s->nodes[idx].u.alt.n = k;
    }
    return 0;
}

/* ---- $ref and allOf: links to another schema -------------------------------------- */

/* A local JSON Pointer ("#", "#/$defs/A", with ~0 ~1 and %XX escapes) in the document. */
static const json_t *resolve_pointer(const json_t *doc, const char *ref) {
    if (ref[0] != '#') return NULL;
    const json_t *cur = doc;
    const char *p = ref + 1;
    if (*p && *p != '/') return NULL;
    char seg[256];
    while (*p == '/' && cur) {
        size_t n = 0;
        for (p++; *p && *p != '/' && n + 1 < sizeof seg; p++) {
            unsigned ch = (unsigned char)*p;
            if (ch == '~' && (p[1] == '0' || p[1] == '1')) ch = *++p == '0' ? '~' : '/';
            else if (ch == '%' && p[1] && p[2]) {
                char hex[3] = {p[1], p[2], 0}, *end;
                ch = (unsigned)strtoul(hex, &end, 16);
                if (*end) return NULL;
                p += 2;
            }
            seg[n++] = (char)ch;
        }
        seg[n] = 0;
        if (json_is_object(cur)) cur = json_object_get(cur, seg);
        else if (json_is_array(cur) && n && strspn(seg, "0123456789") == n)
            cur = json_array_get(cur, strtoul(seg, NULL, 10));
        else cur = NULL;
    }
    return *p ? NULL : cur;
}

/* Follows $ref and one-element allOf until a schema that is neither; *at
 * becomes the target's path. */
static int follow_links(compiler *c, const json_t **sch, path_t *at) {
    for (int hops = 0; json_is_object(*sch); hops++) {
        const json_t *ref = json_object_get(*sch, "$ref"), *all = json_object_get(*sch, "allOf");
        if (!ref && !all) return 0;
        if (hops == MAX_REF_CHAIN) return fail(c, QWENC_EINVAL, at, "circular '$ref'");
        if (check_keywords(c, *sch, at)) return QWENC_EUNSUPPORTED;
        const char *word = ref ? "$ref" : "allOf", *other = sibling(*sch, word, NULL);
        if (other) return fail(c, QWENC_EUNSUPPORTED, at, "'%s' beside '%s' is not supported", other, word);
        if (all) {
            path_t p = path_join(at, "allOf");
            if (!json_is_array(all) || json_array_size(all) != 1)
                return fail(c, QWENC_EUNSUPPORTED, &p, "unsupported 'allOf' (only one subschema)");
            *at = path_index(at, "allOf", 0);
            *sch = json_array_get(all, 0);
            continue;
        }
        path_t p = path_join(at, "$ref");
        if (!json_is_string(ref)) return fail(c, QWENC_EINVAL, &p, "'$ref' must be a string");
        const char *r = json_string_value(ref);
        if (r[0] != '#') return fail(c, QWENC_EUNSUPPORTED, &p, "unsupported '$ref' '%s' (only local '#/...')", r);
        const json_t *target = resolve_pointer(c->doc, r);
        if (!target) return fail(c, QWENC_EINVAL, &p, "'$ref' '%s' points to nothing", r);
        snprintf(at->text, sizeof at->text, "%s", r);
        at->len = strlen(at->text);
        *sch = target;
    }
    return 0;
}

static int compile(compiler *c, const json_t *sch, const path_t *at_in, uint32_t *out) {
    path_t at = *at_in;
    const json_t *orig = sch;
    if (memo_find(c, orig, out)) return 0;
    int rc = follow_links(c, &sch, &at);
    if (rc) return rc;
    if (sch != orig && memo_find(c, sch, out)) return memo_add(c, orig, *out);
    if (json_is_true(sch)) return *out = JS_NODE_ANY, 0;
    if (!json_is_object(sch) && !json_is_false(sch))
        return fail(c, QWENC_EINVAL, &at, "a schema must be an object or a boolean");
    if (json_is_object(sch) && (rc = check_keywords(c, sch, &at))) return rc;
    if ((rc = new_node(c, JS_ALT, out)) || (rc = memo_add(c, sch, *out))) return rc;
    if (sch != orig && (rc = memo_add(c, orig, *out))) return rc;
    if (json_is_false(sch)) return 0;  /* an empty JS_ALT: nothing is valid */
    if (json_object_get(sch, "anyOf") && json_object_get(sch, "oneOf"))
        return fail(c, QWENC_EUNSUPPORTED, &at, "'anyOf' beside 'oneOf' is not supported");
    if (json_object_get(sch, "anyOf") || json_object_get(sch, "oneOf")) return compile_alt(c, sch, &at, *out);
    if (json_object_get(sch, "enum") || json_object_get(sch, "const")) return compile_literal(c, sch, &at, *out);
    if (!json_object_get(sch, "type") && !implied_types(sch)) {
        c->s->nodes[*out].kind = JS_ANY;
        return 0;
    }
    return compile_types(c, sch, &at, *out);
}

/* ---- analysis: flattening, satisfiability, depth, pruning ----------------------- */

static int add_leaf(uint32_t **leaves, uint32_t *n, uint32_t *cap, uint32_t x) {
    for (uint32_t i = 0; i < *n; i++)
        if ((*leaves)[i] == x) return 0;
    if (*n == *cap) {
        uint32_t nc = *cap ? *cap * 2 : 8;
        uint32_t *l = realloc(*leaves, nc * sizeof *l);
        if (!l) return -1;
        *leaves = l, *cap = nc;
    }
    (*leaves)[(*n)++] = x;
    return 0;
}

/* The non-JS_ALT nodes an alternative stands for (an alternative that
 * leads back to itself adds nothing). */
static int gather_leaves(const json_schema *s, uint32_t node, uint8_t *seen, uint32_t **leaves, uint32_t *n,
                         uint32_t *cap) {
    if (s->nodes[node].kind != JS_ALT) return add_leaf(leaves, n, cap, node);
    if (seen[node]) return 0;
    seen[node] = 1;
    for (uint32_t i = 0; i < s->nodes[node].u.alt.n; i++)
        if (gather_leaves(s, s->nodes[node].u.alt.alts[i], seen, leaves, n, cap)) return -1;
    return 0;
}

static int flatten(compiler *c) {
    json_schema *s = c->s;
    uint8_t *seen = malloc(s->n_nodes);
    if (!seen) return oom(c);
    for (uint32_t i = 0; i < s->n_nodes; i++) {
        if (s->nodes[i].kind != JS_ALT) continue;
        memset(seen, 0, s->n_nodes);
        uint32_t *leaves = NULL, n = 0, cap = 0;
        if (gather_leaves(s, i, seen, &leaves, &n, &cap)) return free(seen), free(leaves), oom(c);
        free(s->nodes[i].u.alt.alts);
        s->nodes[i].u.alt.alts = leaves, s->nodes[i].u.alt.n = n;
    }
    free(seen);
    return 0;
}

static uint32_t depth_of(const json_schema *s, uint32_t node) {
    return s->nodes[node].sat ? s->nodes[node].min_depth : DEPTH_INF;
}

/* 1 + the deepest required child (at least one level of room). */
static uint32_t container_depth(uint32_t deepest_child) {
    if (deepest_child == DEPTH_INF) return DEPTH_INF;
    uint32_t d = 1 + (deepest_child > 1 ? deepest_child : 1);
    return d > JS_MAX_FRAMES ? DEPTH_INF : d;
}

static uint32_t node_depth(const json_schema *s, const js_node *n) {
    uint32_t d = 0;
    switch (n->kind) {
    case JS_ANY_OBJECT: return 2;
    case JS_OBJECT:
        for (uint32_t i = 0; i < n->u.obj.n; i++) {
            uint32_t x = n->u.obj.props[i].required ? depth_of(s, n->u.obj.props[i].node) : 1;
            d = x > d ? x : d;
        }
        return container_depth(d);
    case JS_ARRAY: return container_depth(n->u.arr.min_items ? depth_of(s, n->u.arr.items) : 1);
    case JS_ALT:
        d = DEPTH_INF;
        for (uint32_t i = 0; i < n->u.alt.n; i++) {
            uint32_t x = depth_of(s, n->u.alt.alts[i]);
            d = x < d ? x : d;
        }
        return d;
    case JS_LITERAL: return n->u.lit.n ? 1 : DEPTH_INF;
    default: return 1;
    }
}

/* Least fixpoint: a node is satisfiable once some finite document of at
 * most JS_MAX_FRAMES levels is known for it. */
static void solve_depths(json_schema *s) {
    for (int changed = 1; changed;) {
        changed = 0;
        for (uint32_t i = 0; i < s->n_nodes; i++) {
            uint32_t d = node_depth(s, &s->nodes[i]);
            if (d != DEPTH_INF && (!s->nodes[i].sat || d < s->nodes[i].min_depth)) {
                s->nodes[i].sat = 1, s->nodes[i].min_depth = d;
                changed = 1;
            }
        }
    }
}

/* Drops the properties no document can hold and builds the key tables. */
static int prune_object(json_schema *s, js_node *n) {
    uint32_t m = 0;
    for (uint32_t i = 0; i < n->u.obj.n; i++) {
        if (s->nodes[n->u.obj.props[i].node].sat) n->u.obj.props[m++] = n->u.obj.props[i];
        else free(n->u.obj.props[i].key);
    }
    n->u.obj.n = m;
    n->u.obj.sorted = malloc((m ? m : 1) * sizeof *n->u.obj.sorted);
    n->u.obj.req_from = malloc((m + 1) * sizeof *n->u.obj.req_from);
    if (!n->u.obj.sorted || !n->u.obj.req_from) return -1;
    sort_item *items = malloc((m ? m : 1) * sizeof *items);
    if (!items) return -1;
    for (uint32_t i = 0; i < m; i++) items[i] = (sort_item){n->u.obj.props[i].key, n->u.obj.props[i].key_len, i};
    qsort(items, m, sizeof *items, by_text);
    for (uint32_t i = 0; i < m; i++) n->u.obj.sorted[i] = items[i].index;
    free(items);
    n->u.obj.req_from[m] = m;
    for (uint32_t i = m; i-- > 0;) n->u.obj.req_from[i] = n->u.obj.props[i].required ? i : n->u.obj.req_from[i + 1];
    return 0;
}

static int prune(compiler *c) {
    json_schema *s = c->s;
    for (uint32_t i = 0; i < s->n_nodes; i++) {
        js_node *n = &s->nodes[i];
        if (n->kind == JS_OBJECT && prune_object(s, n)) return oom(c);
        if (n->kind == JS_ARRAY && !s->nodes[n->u.arr.items].sat) n->u.arr.max_items = 0;
        if (n->kind == JS_ALT) {
            uint32_t m = 0;
            for (uint32_t k = 0; k < n->u.alt.n; k++)
                if (s->nodes[n->u.alt.alts[k]].sat) n->u.alt.alts[m++] = n->u.alt.alts[k];
            n->u.alt.n = m;
        }
    }
    return 0;
}

/* ---- oneOf: accepted when its alternatives cannot both match ------------------- */

static unsigned node_types(const json_schema *s, uint32_t node, uint8_t *seen) {
    const js_node *n = &s->nodes[node];
    switch (n->kind) {
    case JS_ANY: return T_ALL;
    case JS_ANY_OBJECT:
    case JS_OBJECT: return T_OBJECT;
    case JS_ARRAY: return T_ARRAY;
    case JS_STRING: return T_STRING;
    case JS_NUMBER: return n->u.num.integer ? T_INTEGER : T_INTEGER | T_NUMBER;
    case JS_LITERAL: {
        unsigned t = 0;
        for (uint32_t i = 0; i < n->u.lit.n; i++) {
            json_t *v = json_loads(n->u.lit.text[i], JSON_DECODE_ANY, NULL);
            t |= v ? value_types(v) : T_ALL;
            json_decref(v);
        }
        return t;
    }
    default: {
        if (seen[node]) return 0;
        seen[node] = 1;
        unsigned t = 0;
        for (uint32_t i = 0; i < n->u.alt.n; i++) t |= node_types(s, n->u.alt.alts[i], seen);
        return t;
    }
    }
}

static int texts_equal_values(const char *a, const char *b) {
    json_t *x = json_loads(a, JSON_DECODE_ANY, NULL), *y = json_loads(b, JSON_DECODE_ANY, NULL);
    int eq = x && y && (json_equal(x, y) || (json_is_number(x) && json_is_number(y) &&
                                             json_number_value(x) == json_number_value(y)));
    json_decref(x), json_decref(y);
    return eq;
}

static int literals_disjoint(const js_node *a, const js_node *b) {
    if (a->kind != JS_LITERAL || b->kind != JS_LITERAL) return 0;
    for (uint32_t i = 0; i < a->u.lit.n; i++)
        for (uint32_t k = 0; k < b->u.lit.n; k++)
            if (texts_equal_values(a->u.lit.text[i], b->u.lit.text[k])) return 0;
    return 1;
}

/* Objects told apart by a required property whose values cannot match
 * both (a discriminator: {"kind": {"const": "circle"}}). */
static int objects_disjoint(const json_schema *s, const js_node *a, const js_node *b) {
    if (a->kind != JS_OBJECT || b->kind != JS_OBJECT) return 0;
    for (uint32_t i = 0; i < a->u.obj.n; i++) {
        const js_prop *p = &a->u.obj.props[i];
        for (uint32_t k = 0; p->required && k < b->u.obj.n; k++) {
            const js_prop *q = &b->u.obj.props[k];
            if (q->required && q->key_len == p->key_len && !memcmp(q->key, p->key, p->key_len) &&
                literals_disjoint(&s->nodes[p->node], &s->nodes[q->node]))
                return 1;
        }
    }
    return 0;
}

static int disjoint(const json_schema *s, uint32_t a, uint32_t b, uint8_t *seen) {
    memset(seen, 0, s->n_nodes);
    unsigned ta = node_types(s, a, seen);
    memset(seen, 0, s->n_nodes);
    unsigned tb = node_types(s, b, seen);
    if (!(ta & tb)) return 1;
    return literals_disjoint(&s->nodes[a], &s->nodes[b]) || objects_disjoint(s, &s->nodes[a], &s->nodes[b]);
}

static int check_one_ofs(compiler *c) {
    uint8_t *seen = malloc(c->s->n_nodes);
    if (!seen) return oom(c);
    for (size_t k = 0; k < c->n_one_ofs; k++) {
        const one_of *o = &c->one_ofs[k];
        for (uint32_t i = 0; i < o->n; i++)
            for (uint32_t j = i + 1; j < o->n; j++) {
                if (!c->s->nodes[o->alts[i]].sat || !c->s->nodes[o->alts[j]].sat) continue;
                if (disjoint(c->s, o->alts[i], o->alts[j], seen)) continue;
                free(seen);
                path_t at = {.len = 0};
                snprintf(at.text, sizeof at.text, "%s", o->path);
                return fail(c, QWENC_EUNSUPPORTED, &at,
                            "unsupported 'oneOf': alternatives %u and %u may both match (use anyOf, or tell them "
                            "apart by type or by a required const property)", i, j);
            }
    }
    free(seen);
    return 0;
}

static int analyse(compiler *c) {
    if (c->s->n_nodes > UINT16_MAX + 1u)
        return fail(c, QWENC_EUNSUPPORTED, NULL, "the schema is too large (more than %u nodes)", UINT16_MAX + 1u);
    int rc = flatten(c);
    if (rc) return rc;
    solve_depths(c->s);
    if (!c->s->nodes[c->s->root].sat)
        return fail(c, QWENC_EINVAL, NULL, "no JSON document of at most %d nested levels satisfies the schema",
                    JS_MAX_FRAMES - 1);
    if ((rc = check_one_ofs(c))) return rc;
    return prune(c);
}

/* ---- programs ---------------------------------------------------------------------- */

void json_schema_free(json_schema *s) {
    if (!s) return;
    for (uint32_t i = 0; i < s->n_nodes; i++) {
        js_node *n = &s->nodes[i];
        if (n->kind == JS_OBJECT) {
            for (uint32_t k = 0; k < n->u.obj.n; k++) free(n->u.obj.props[k].key);
            free(n->u.obj.props), free(n->u.obj.sorted), free(n->u.obj.req_from);
        } else if (n->kind == JS_LITERAL) {
            for (uint32_t k = 0; k < n->u.lit.n; k++) free(n->u.lit.text[k]);
            free(n->u.lit.text), free(n->u.lit.len);
        } else if (n->kind == JS_ALT) {
            free(n->u.alt.alts);
        }
    }
    free(s->nodes);
    free(s);
}

static int add_builtins(compiler *c) {
    static const char *const scalars[] = {"false", "null", "true"};
    static const js_kind kinds[] = {JS_ANY, JS_ANY_OBJECT, JS_ARRAY, JS_STRING, JS_NUMBER, JS_LITERAL};
    uint32_t idx;
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        if (new_node(c, kinds[i], &idx)) return QWENC_ENOMEM;
    js_node *n = c->s->nodes;
    n[JS_NODE_ANY_ARRAY].u.arr.items = JS_NODE_ANY;
    n[JS_NODE_ANY_ARRAY].u.arr.max_items = UINT32_MAX;
    n[JS_NODE_ANY_STRING].u.str.max_len = UINT32_MAX;
    return literal_of_words(c, JS_NODE_SCALAR_LITERALS, scalars, 3);
}

static int compiler_init(compiler *c, char *err, size_t errlen) {
    memset(c, 0, sizeof *c);
    c->err = err, c->errlen = errlen, c->prefix = "";
    if (errlen) err[0] = 0;
    if (!(c->s = calloc(1, sizeof *c->s))) return oom(c);
    return add_builtins(c);
}

/* Analyses the program on success; frees what the compiler held, and the
 * program too on failure. */
static int compiler_finish(compiler *c, int rc, json_schema **out) {
    if (!rc) rc = analyse(c);
    free(c->memo);
    for (size_t i = 0; i < c->n_one_ofs; i++) free(c->one_ofs[i].alts), free(c->one_ofs[i].path);
    free(c->one_ofs);
    if (rc) {
        json_schema_free(c->s);
        return rc;
    }
    *out = c->s;
    return 0;
}

int json_schema_compile(const json_t *schema, json_schema **out, char *err, size_t errlen) {
    *out = NULL;
    compiler c;
    int rc = compiler_init(&c, err, errlen);
    path_t root = {.text = "#", .len = 1};
    c.doc = schema;
    if (!rc) rc = compile(&c, schema, &root, &c.s->root);
    return compiler_finish(&c, rc, out);
}

int json_schema_compile_text(const char *text, json_schema **out, char *err, size_t errlen) {
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    *out = NULL;
    if (!j) {
        if (errlen) snprintf(err, errlen, "the schema is not valid JSON: %s (line %d)", je.text, je.line);
        return QWENC_EINVAL;
    }
    int rc = json_schema_compile(j, out, err, errlen);
    json_decref(j);
    return rc;
}

/* ---- tool calls ------------------------------------------------------------------ */

/* A tool's arguments: its parameters schema, which must describe objects
 * (Qwen's template and the reply parser take no other arguments). */
static int tool_arguments(compiler *c, const json_t *params, uint32_t *out) {
    path_t root = {.text = "#", .len = 1};
    if (!params || json_is_null(params)) {
        /* no parameters: an empty parameter list, {} */
        int rc = new_node(c, JS_OBJECT, out);
        return rc;
    }
    c->doc = params;
    int rc = compile(c, params, &root, out);
    if (rc || *out == JS_NODE_ANY) return *out = JS_NODE_ANY_OBJECT, rc;
    uint8_t *seen = calloc(c->s->n_nodes, 1);
    if (!seen) return oom(c);
    unsigned types = node_types(c->s, *out, seen);
    free(seen);
    if (types & ~(unsigned)T_OBJECT) return fail(c, QWENC_EINVAL, &root, "the parameters must be an object schema");
    return 0;
}

/* {"name": NAME, "arguments": ARGS} for one tool. */
static int tool_object(compiler *c, const json_t *fn, size_t i, uint32_t *out) {
    char prefix[64];
    snprintf(prefix, sizeof prefix, "tools[%zu].function.parameters: ", i);
    c->prefix = prefix;
    uint32_t args, name;
    int rc = tool_arguments(c, json_object_get(fn, "parameters"), &args);
    c->prefix = "";
    if (rc || (rc = new_node(c, JS_LITERAL, &name))) return rc;
    const json_t *nm = json_object_get(fn, "name");
    if ((rc = fill_literal(c, name, &nm, 1)) || (rc = new_node(c, JS_OBJECT, out))) return rc;
    js_prop *props = NULL;
    uint32_t n = 0;
    rc = add_prop(c, &props, &n, "name", name, 1);
    if (!rc) rc = add_prop(c, &props, &n, "arguments", args, 1);
    c->s->nodes[*out].u.obj.props = props, c->s->nodes[*out].u.obj.n = n;
    return rc;
}

int json_schema_compile_tools(const json_t *tools, const char *name, json_schema **out, char *err, size_t errlen) {
    *out = NULL;
    compiler c;
    int rc = compiler_init(&c, err, errlen);
    uint32_t root = 0, *alts = malloc(JS_MAX_ALTERNATIVES * sizeof *alts), n = 0;
    if (!rc && !alts) rc = oom(&c);
    if (!rc) rc = new_node(&c, JS_ALT, &root);
    size_t i;
    const json_t *t;
    json_array_foreach(tools, i, t) {
        const json_t *fn = json_object_get(t, "function");
        const char *fname = json_string_value(json_object_get(fn, "name"));
        if (rc || !fname || (name && strcmp(fname, name))) continue;
        if (n == JS_MAX_ALTERNATIVES)
            rc = fail(&c, QWENC_EUNSUPPORTED, NULL, "a forced tool call chooses among at most %d tools",
                      JS_MAX_ALTERNATIVES);
        else
            rc = tool_object(&c, fn, i, &alts[n++]);
    }
    if (!rc && !n) rc = fail(&c, QWENC_EINVAL, NULL, "no tool to call");
    if (!rc) {
        c.s->root = root;
        c.s->nodes[root].u.alt.alts = alts, c.s->nodes[root].u.alt.n = n;
        alts = NULL;
    }
    free(alts);
    return compiler_finish(&c, rc, out);
}
