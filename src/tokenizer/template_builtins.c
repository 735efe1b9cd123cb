/* Chat templates: filters, tests, global functions and the Python methods of
 * str / dict / list that chat templates call. Semantics follow jinja2's
 * filters.py / tests.py and Python's str methods; transformers' own globals
 * (raise_exception, strftime_now) and its tojson (json.dumps with
 * ensure_ascii=False) included. */
#include "tokenizer/template_impl.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <utf8proc.h>

/* ---- arguments ------------------------------------------------------------ */

/* Positional argument idx or keyword `name`; NULL when not given. */
static tv *arg(tp_args *a, size_t idx, const char *name) {
    if (idx < a->npos) return &a->pos[idx];
    for (size_t i = 0; name && i < a->nkw; i++)
        if (!strcmp(a->kwnames[i], name)) return &a->kw[i];
    return NULL;
}

static tv arg_or(tp_args *a, size_t idx, const char *name, tv dflt) {
    tv *v = arg(a, idx, name);
    return v ? *v : dflt;
}

/* Rejects more positional arguments than names, and unknown keywords. */
static void check_args(tp_interp *in, tp_args *a, const char *what, const char *const *names) {
    size_t n = 0;
    while (names[n]) n++;
    if (a->npos > n) tp_fail(in->st, in->line, "%s takes at most %zu argument(s), %zu given", what, n, a->npos);
    for (size_t i = 0; i < a->nkw; i++) {
        size_t k = 0;
        while (k < n && strcmp(names[k], a->kwnames[i])) k++;
        if (k == n) tp_fail(in->st, in->line, "%s got an unexpected keyword argument '%s'", what, a->kwnames[i]);
    }
}

static tstr *need_str(tp_interp *in, tv v, const char *what) {
    if (v.kind == VK_UNDEF) tp_undefined_error(in, v);
    if (v.kind != VK_STR) tp_fail(in->st, in->line, "%s: expected a string, got %s", what, tv_type_name(v));
    return v.u.s;
}

static int64_t need_int(tp_interp *in, tv v, const char *what) {
    if (v.kind == VK_UNDEF) tp_undefined_error(in, v);
    if (v.kind != VK_INT && v.kind != VK_BOOL) tp_fail(in->st, in->line, "%s: expected an integer, got %s", what, tv_type_name(v));
    return v.kind == VK_INT ? v.u.i : v.u.b;
}

/* jinja2's soft_str: str(), with Undefined as "". */
static tstr *soft_str(tp_interp *in, tv v) { return tv_to_str(in->st, v, in->line); }

static tv list_of(tp_interp *in, tv v) { return tp_iter_list(in, v); }

/* ---- string helpers ------------------------------------------------------------ */

typedef uint32_t (*cp_map)(uint32_t);
static uint32_t to_upper(uint32_t c) { return (uint32_t)utf8proc_toupper((utf8proc_int32_t)c); }
static uint32_t to_lower(uint32_t c) { return (uint32_t)utf8proc_tolower((utf8proc_int32_t)c); }
static uint32_t to_title(uint32_t c) { return (uint32_t)utf8proc_totitle((utf8proc_int32_t)c); }

static int is_cased(uint32_t c) {
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
    return k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT;
}

static void put_cp(tp_buf *b, uint32_t cp) {
    char u[4];
    buf_add(b, u, (size_t)u8_put(cp, u));
}

static tv map_str(tp_interp *in, tstr *s, cp_map f) {
    tp_buf b;
    buf_init(&b, in->st);
    size_t i = 0;
    while (i < s->len) put_cp(&b, f(u8_next(s->p, s->len, &i)));
    return tv_strbuf(&b);
}

/* Python's str.title(): upper after an uncased character, lower after a cased one. */
static tv py_title(tp_interp *in, tstr *s) {
    tp_buf b;
    buf_init(&b, in->st);
    int prev_cased = 0;
    size_t i = 0;
    while (i < s->len) {
        uint32_t c = u8_next(s->p, s->len, &i);
        put_cp(&b, prev_cased ? to_lower(c) : to_title(c));
        prev_cased = is_cased(c);
    }
    return tv_strbuf(&b);
}

static tv py_capitalize(tp_interp *in, tstr *s) {
    tp_buf b;
    buf_init(&b, in->st);
    size_t i = 0;
    while (i < s->len) {
        int first = i == 0;
        uint32_t c = u8_next(s->p, s->len, &i);
        put_cp(&b, first ? to_title(c) : to_lower(c));
    }
    return tv_strbuf(&b);
}

/* jinja2's title filter: capitalise each word, words split at -, whitespace
 * and opening brackets. */
static tv jinja_title(tp_interp *in, tstr *s) {
    tp_buf b;
    buf_init(&b, in->st);
    int at_start = 1;
    size_t i = 0;
    while (i < s->len) {
        uint32_t c = u8_next(s->p, s->len, &i);
        int sep = c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || py_isspace(c);
        put_cp(&b, sep ? c : at_start ? to_upper(c) : to_lower(c));
        at_start = sep;
    }
    return tv_strbuf(&b);
}

static int in_chars(uint32_t c, const tstr *chars) {
    if (!chars) return py_isspace(c);
    size_t i = 0;
    while (i < chars->len)
        if (u8_next(chars->p, chars->len, &i) == c) return 1;
    return 0;
}

/* str.strip/lstrip/rstrip(chars). which: 1 left, 2 right, 3 both. */
static tv py_strip(tp_interp *in, tstr *s, const tstr *chars, int which) {
    size_t a = 0, b = s->len;
    while ((which & 1) && a < b) {
        size_t j = a;
        if (!in_chars(u8_next(s->p, b, &j), chars)) break;
        a = j;
    }
    while ((which & 2) && b > a) {
        size_t p = u8_prev(s->p, b), j = p;
        if (!in_chars(u8_next(s->p, b, &j), chars)) break;
        b = p;
    }
    return tv_str(in->st, s->p + a, b - a);
}

static const char *find_sub(const tstr *s, size_t from, const tstr *sub) {
    if (from > s->len) return NULL;
    return memmem(s->p + from, s->len - from, sub->p, sub->len);
}

/* str.replace(old, new, count); an empty old inserts new between characters. */
static tv py_replace(tp_interp *in, tstr *s, tstr *old, tstr *new, int64_t count) {
    tp_buf b;
    buf_init(&b, in->st);
    size_t pos = 0;
    for (int64_t done = 0; count < 0 || done < count; done++) {
        if (old->len == 0) {
            buf_add(&b, new->p, new->len);
            if (pos >= s->len) { pos = s->len + 1; break; }
            size_t j = pos;
            u8_next(s->p, s->len, &j);
            buf_add(&b, s->p + pos, j - pos);
            pos = j;
            continue;
        }
        const char *hit = find_sub(s, pos, old);
        if (!hit) break;
        buf_add(&b, s->p + pos, (size_t)(hit - s->p) - pos);
        buf_add(&b, new->p, new->len);
        pos = (size_t)(hit - s->p) + old->len;
    }
    if (pos <= s->len) buf_add(&b, s->p + pos, s->len - pos);
    return tv_strbuf(&b);
}

/* str.split(sep=None, maxsplit=-1) and rsplit. */
static tv py_split(tp_interp *in, tstr *s, const tstr *sep, int64_t maxsplit, int from_right) {
    tv out = tv_list(in->st, 0);
    if (sep && sep->len == 0) tp_fail(in->st, in->line, "split: empty separator");
    /* collect [start, end) pieces left to right; for rsplit, the limit
     * applies from the right, so split fully and merge the leftmost ones */
    size_t cap = 8, n = 0;
    size_t *piece = tp_alloc(in->st, cap * 2 * sizeof *piece);
    size_t i = 0;
    for (;;) {
        size_t a, b;
        if (!sep) {
            i += py_lstrip_ws(s->p + i, s->len - i);
            if (i >= s->len) break;
            a = i;
            while (i < s->len) {
                size_t j = i;
                if (py_isspace(u8_next(s->p, s->len, &j))) break;
                i = j;
            }
            b = i;
        } else {
            const char *hit = find_sub(s, i, sep);
            a = i;
            b = hit ? (size_t)(hit - s->p) : s->len;
            i = b + sep->len;
        }
        if (n == cap) {
            piece = tp_realloc(in->st, piece, cap * 2 * sizeof *piece, cap * 4 * sizeof *piece);
            cap *= 2;
        }
        piece[2 * n] = a;
        piece[2 * n + 1] = b;
        n++;
        if (sep && b == s->len) break;
    }
    size_t limit = maxsplit < 0 || (uint64_t)maxsplit + 1 >= n ? n : (size_t)maxsplit + 1;
    size_t merged = n - limit; /* pieces joined into the last (rsplit: first) one */
    int capped = maxsplit >= 0 && (uint64_t)maxsplit + 1 <= n;
    for (size_t k = 0; k < limit; k++) {
        size_t idx = from_right ? merged + k : k;
        size_t a = piece[2 * idx], b = piece[2 * idx + 1];
        /* once maxsplit is reached the rest is one piece, whitespace and all */
        if (capped && !from_right && k + 1 == limit) b = s->len;
        if (capped && from_right && k == 0) a = 0;
        list_push(in->st, out.u.l, tv_str(in->st, s->p + a, b - a));
    }
    return out;
}

/* str.splitlines() boundaries, for the indent filter. */
static size_t line_break_len(const char *s, size_t n, size_t i) {
    unsigned char c = (unsigned char)s[i];
    if (c == '\r') return i + 1 < n && s[i + 1] == '\n' ? 2 : 1;
    if (c == '\n' || c == '\v' || c == '\f' || (c >= 0x1C && c <= 0x1E)) return 1;
    size_t j = i;
    uint32_t cp = u8_next(s, n, &j);
    return cp == 0x85 || cp == 0x2028 || cp == 0x2029 ? j - i : 0;
}

static tv py_splitlines(tp_interp *in, tstr *s) {
    tv out = tv_list(in->st, 0);
    size_t start = 0, i = 0;
    while (i < s->len) {
        size_t k = line_break_len(s->p, s->len, i);
        if (!k) { i++; continue; }
        list_push(in->st, out.u.l, tv_str(in->st, s->p + start, i - start));
        i += k;
        start = i;
    }
    if (start < s->len) list_push(in->st, out.u.l, tv_str(in->st, s->p + start, s->len - start));
    return out;
}

static int starts_or_ends(tp_interp *in, tstr *s, tv what, int ends) {
    if (what.kind == VK_LIST && what.u.l->is_tuple) {
        for (size_t i = 0; i < what.u.l->n; i++)
            if (starts_or_ends(in, s, what.u.l->v[i], ends)) return 1;
        return 0;
    }
    tstr *p = need_str(in, what, ends ? "endswith" : "startswith");
    if (p->len > s->len) return 0;
    return !memcmp(s->p + (ends ? s->len - p->len : 0), p->p, p->len);
}

/* str.format with {} / {0} / {name} fields and no format specs. */
static tv py_format(tp_interp *in, tstr *f, tp_args *a) {
    tp_buf b;
    buf_init(&b, in->st);
    size_t auto_idx = 0;
    for (size_t i = 0; i < f->len; i++) {
        char c = f->p[i];
        if ((c == '{' || c == '}') && i + 1 < f->len && f->p[i + 1] == c) { buf_putc(&b, c); i++; continue; }
        if (c == '}') tp_fail(in->st, in->line, "format: single '}' encountered");
        if (c != '{') { buf_putc(&b, c); continue; }
        const char *end = memchr(f->p + i, '}', f->len - i);
        if (!end) tp_fail(in->st, in->line, "format: single '{' encountered");
        size_t flen = (size_t)(end - (f->p + i + 1));
        char field[64];
        if (flen >= sizeof field || memchr(f->p + i + 1, ':', flen) || memchr(f->p + i + 1, '!', flen))
            tp_fail(in->st, in->line, "unsupported construct: format spec in str.format");
        memcpy(field, f->p + i + 1, flen);
        field[flen] = 0;
        tv *v;
        if (flen == 0) v = auto_idx < a->npos ? &a->pos[auto_idx++] : NULL;
        else if (field[0] >= '0' && field[0] <= '9') {
            size_t k = (size_t)strtoul(field, NULL, 10);
            v = k < a->npos ? &a->pos[k] : NULL;
        } else v = arg(a, (size_t)-1, field);
        if (!v) tp_fail(in->st, in->line, "format: no argument for field '{%s}'", field);
        tv_str_into(&b, *v, in->line);
        i = (size_t)(end - f->p);
    }
    return tv_strbuf(&b);
}

static tv py_join(tp_interp *in, tstr *sep, tv items, int soft) {
    tv l = list_of(in, items);
    tp_buf b;
    buf_init(&b, in->st);
    for (size_t i = 0; i < l.u.l->n; i++) {
        if (i) buf_add(&b, sep->p, sep->len);
        tv x = l.u.l->v[i];
        if (!soft && x.kind != VK_STR)
            tp_fail(in->st, in->line, "sequence item %zu: expected str instance, %s found", i, tv_type_name(x));
        tv_str_into(&b, x, in->line);
    }
    return tv_strbuf(&b);
}

static int64_t char_index(tstr *s, const char *hit) { return hit ? (int64_t)u8_count(s->p, (size_t)(hit - s->p)) : -1; }

static int all_chars(tstr *s, int (*pred)(uint32_t)) {
    if (s->len == 0) return 0;
    size_t i = 0;
    while (i < s->len)
        if (!pred(u8_next(s->p, s->len, &i))) return 0;
    return 1;
}
static int cp_digit(uint32_t c) { return utf8proc_category((utf8proc_int32_t)c) == UTF8PROC_CATEGORY_ND; }
static int cp_alpha(uint32_t c) {
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
    return k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO;
}
static int cp_space(uint32_t c) { return py_isspace(c); }

/* islower/isupper: has a cased char and no cased char of the other case. */
static int case_test(tstr *s, int upper) {
    int cased = 0;
    size_t i = 0;
    while (i < s->len) {
        uint32_t c = u8_next(s->p, s->len, &i);
        utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
        if (k == UTF8PROC_CATEGORY_LT || k == (upper ? UTF8PROC_CATEGORY_LL : UTF8PROC_CATEGORY_LU)) return 0;
        if (k == (upper ? UTF8PROC_CATEGORY_LU : UTF8PROC_CATEGORY_LL)) cased = 1;
    }
    return cased;
}

/* ---- methods ------------------------------------------------------------------------ */

static const char *const str_methods[] = {
    "startswith", "endswith", "split", "rsplit", "strip", "lstrip", "rstrip", "replace", "upper", "lower",
    "title", "capitalize", "format", "join", "find", "rfind", "count", "splitlines", "isdigit", "isalpha",
    "isspace", "islower", "isupper", NULL};
static const char *const dict_methods[] = {"items", "keys", "values", "get", "update", "pop", "popitem",
                                           "setdefault", "clear", "copy", NULL};
static const char *const list_methods[] = {"append", "extend", "insert", "pop", "remove", "sort", "reverse",
                                           "clear", "index", "count", "copy", NULL};
/* Methods that would mutate data: transformers' ImmutableSandboxedEnvironment refuses them. */
static const char *const mutating[] = {"update", "pop", "popitem", "setdefault", "clear", "append", "extend",
                                       "insert", "remove", "sort", "reverse", NULL};

static int in_names(const char *const *names, const char *name) {
    for (; *names; names++)
        if (!strcmp(*names, name)) return 1;
    return 0;
}

int tp_has_method(tv self, const char *name) {
    switch (self.kind) {
    case VK_STR: return in_names(str_methods, name);
    case VK_DICT: return in_names(dict_methods, name);
    case VK_LIST: return in_names(list_methods, name) && (!self.u.l->is_tuple || !in_names(mutating, name));
    default: return 0;
    }
}

static tv dict_view(tp_interp *in, tdict *d, int what) { /* 0 items, 1 keys, 2 values */
    tv l = tv_list(in->st, d->n);
    for (size_t i = 0; i < d->n; i++) {
        if (what == 1) { list_push(in->st, l.u.l, d->keys[i]); continue; }
        if (what == 2) { list_push(in->st, l.u.l, d->vals[i]); continue; }
        tv t = tv_list(in->st, 2);
        t.u.l->is_tuple = 1;
        list_push(in->st, t.u.l, d->keys[i]);
        list_push(in->st, t.u.l, d->vals[i]);
        list_push(in->st, l.u.l, t);
    }
    return l;
}

static tv dict_method(tp_interp *in, tdict *d, const char *name, tp_args *a) {
    if (!strcmp(name, "get")) {
        static const char *const names[] = {"key", "default", NULL};
        check_args(in, a, "dict.get", names);
        tv *k = arg(a, 0, "key");
        if (!k) tp_fail(in->st, in->line, "dict.get needs a key");
        tv *v = dict_find(d, *k);
        return v ? *v : arg_or(a, 1, "default", tv_none());
    }
    if (!strcmp(name, "copy")) {
        tv c = tv_dict(in->st);
        for (size_t i = 0; i < d->n; i++) dict_set(in->st, c.u.d, d->keys[i], d->vals[i]);
        return c;
    }
    return dict_view(in, d, !strcmp(name, "items") ? 0 : !strcmp(name, "keys") ? 1 : 2);
}

static tv list_method(tp_interp *in, tlist *l, const char *name, tp_args *a) {
    tv *x = arg(a, 0, NULL);
    if (!strcmp(name, "copy")) {
        tv c = tv_list(in->st, l->n);
        for (size_t i = 0; i < l->n; i++) list_push(in->st, c.u.l, l->v[i]);
        return c;
    }
    if (!x) tp_fail(in->st, in->line, "list.%s needs an argument", name);
    int64_t count = 0;
    for (size_t i = 0; i < l->n; i++)
        if (tv_equal(in->st, l->v[i], *x, 0)) {
            if (!strcmp(name, "index")) return tv_int((int64_t)i);
            count++;
        }
    if (!strcmp(name, "index")) tp_fail(in->st, in->line, "list.index(x): x not in list");
    return tv_int(count);
}

static tv str_method2(tp_interp *in, tstr *s, const char *name, tp_args *a) {
    tv *x = arg(a, 0, NULL);
    if (!strcmp(name, "format")) return py_format(in, s, a);
    if (!strcmp(name, "splitlines")) return py_splitlines(in, s);
    if (!strcmp(name, "isdigit")) return tv_bool(all_chars(s, cp_digit));
    if (!strcmp(name, "isalpha")) return tv_bool(all_chars(s, cp_alpha));
    if (!strcmp(name, "isspace")) return tv_bool(all_chars(s, cp_space));
    if (!strcmp(name, "islower") || !strcmp(name, "isupper")) return tv_bool(case_test(s, name[2] == 'u'));
    if (!x) tp_fail(in->st, in->line, "str.%s needs an argument", name);
    if (!strcmp(name, "join")) return py_join(in, s, *x, 0);
    tstr *sub = need_str(in, *x, name);
    if (!strcmp(name, "find")) return tv_int(char_index(s, find_sub(s, 0, sub)));
    if (!strcmp(name, "rfind")) {
        const char *last = NULL;
        for (const char *h = find_sub(s, 0, sub); h; h = find_sub(s, (size_t)(h - s->p) + 1, sub)) last = h;
        return tv_int(char_index(s, last));
    }
    /* count */
    if (sub->len == 0) return tv_int((int64_t)u8_count(s->p, s->len) + 1);
    int64_t n = 0;
    for (const char *h = find_sub(s, 0, sub); h; h = find_sub(s, (size_t)(h - s->p) + sub->len, sub)) n++;
    return tv_int(n);
}

static tv str_method(tp_interp *in, tstr *s, const char *name, tp_args *a) {
    if (!strcmp(name, "startswith") || !strcmp(name, "endswith")) {
        tv *x = arg(a, 0, NULL);
        if (!x || a->npos > 1) tp_fail(in->st, in->line, "str.%s: expected one argument", name);
        return tv_bool(starts_or_ends(in, s, *x, name[0] == 'e'));
    }
    if (!strcmp(name, "split") || !strcmp(name, "rsplit")) {
        tv sep = arg_or(a, 0, "sep", tv_none());
        int64_t max = need_int(in, arg_or(a, 1, "maxsplit", tv_int(-1)), name);
        return py_split(in, s, sep.kind == VK_NONE ? NULL : need_str(in, sep, name), max, name[0] == 'r');
    }
    if (!strcmp(name, "strip") || !strcmp(name, "lstrip") || !strcmp(name, "rstrip")) {
        tv chars = arg_or(a, 0, NULL, tv_none());
        return py_strip(in, s, chars.kind == VK_NONE ? NULL : need_str(in, chars, name),
                        name[0] == 'l' ? 1 : name[0] == 'r' ? 2 : 3);
    }
    if (!strcmp(name, "replace")) {
        tv *o = arg(a, 0, NULL), *n = arg(a, 1, NULL);
        if (!o || !n) tp_fail(in->st, in->line, "str.replace needs two arguments");
        return py_replace(in, s, need_str(in, *o, name), need_str(in, *n, name),
                          need_int(in, arg_or(a, 2, "count", tv_int(-1)), name));
    }
    if (!strcmp(name, "upper")) return map_str(in, s, to_upper);
    if (!strcmp(name, "lower")) return map_str(in, s, to_lower);
    if (!strcmp(name, "title")) return py_title(in, s);
    if (!strcmp(name, "capitalize")) return py_capitalize(in, s);
    return str_method2(in, s, name, a);
}

tv tp_call_method(tp_interp *in, tv self, const char *name, tp_args *a) {
    if (self.kind == VK_INT && !strcmp(name, "cycle")) { /* loop.cycle: self is loop.index0 */
        if (a->npos == 0) tp_fail(in->st, in->line, "loop.cycle needs at least one argument");
        return a->pos[(size_t)self.u.i % a->npos];
    }
    if (in_names(mutating, name))
        tp_fail(in->st, in->line, "unsupported: %s.%s() would modify data (transformers renders templates immutably)",
                tv_type_name(self), name);
    if (self.kind == VK_STR) return str_method(in, self.u.s, name, a);
    if (self.kind == VK_DICT) return dict_method(in, self.u.d, name, a);
    return list_method(in, self.u.l, name, a);
}

/* ---- tests ------------------------------------------------------------------------- */

static const char *const test_names[] = {
    "defined", "undefined", "none", "boolean", "false", "true", "integer", "float", "number", "string",
    "mapping", "iterable", "sequence", "callable", "sameas", "eq", "equalto", "ne", "lt", "lessthan", "le",
    "gt", "greaterthan", "ge", "in", "odd", "even", "divisibleby", "lower", "upper", "escaped", NULL};

int tp_test_known(const char *name) { return in_names(test_names, name); }

static tv test_arg(tp_interp *in, const char *name, tp_args *a) {
    if (a->npos < 1) tp_fail(in->st, in->line, "test '%s' needs an argument", name);
    return a->pos[0];
}

static int test_compare(tp_interp *in, const char *name, tv v, tp_args *a) {
    tv o = test_arg(in, name, a);
    if (!strcmp(name, "eq") || !strcmp(name, "equalto")) return tv_equal(in->st, v, o, 0);
    if (!strcmp(name, "ne")) return !tv_equal(in->st, v, o, 0);
    if (!strcmp(name, "in")) return tp_contains(in, o, v);
    if (!strcmp(name, "sameas")) {
        if (v.kind != o.kind) return 0;
        if (v.kind == VK_NONE || v.kind == VK_UNDEF) return 1;
        if (v.kind == VK_BOOL || v.kind == VK_INT) return tv_equal(in->st, v, o, 0);
        return v.kind == VK_STR ? v.u.s == o.u.s : v.u.l == o.u.l; /* identity */
    }
    if (v.kind == VK_UNDEF) tp_undefined_error(in, v);
    int c = tp_order(in, v, o, 0);
    if (!strcmp(name, "lt") || !strcmp(name, "lessthan")) return c < 0;
    if (!strcmp(name, "le")) return c <= 0;
    if (!strcmp(name, "gt") || !strcmp(name, "greaterthan")) return c > 0;
    return c >= 0;
}

static int test_number(tp_interp *in, const char *name, tv v, tp_args *a) {
    if (v.kind == VK_UNDEF) tp_undefined_error(in, v);
    if (!tv_is_num(v)) tp_fail(in->st, in->line, "test '%s' needs a number, got %s", name, tv_type_name(v));
    double x = tv_num(v), m = 2;
    if (!strcmp(name, "divisibleby")) {
        tv d = test_arg(in, name, a);
        if (!tv_is_num(d) || tv_num(d) == 0) tp_fail(in->st, in->line, "divisibleby needs a non-zero number");
        m = tv_num(d);
    }
    double r = fmod(x, m);
    if (r != 0 && ((r < 0) != (m < 0))) r += m;
    return !strcmp(name, "odd") ? r == 1 : r == 0;
}

int tp_apply_test(tp_interp *in, const char *name, tv v, tp_args *a) {
    tv_kind k = v.kind;
    if (!strcmp(name, "defined")) return k != VK_UNDEF;
    if (!strcmp(name, "undefined")) return k == VK_UNDEF;
    if (!strcmp(name, "none")) return k == VK_NONE;
    if (!strcmp(name, "boolean")) return k == VK_BOOL;
    if (!strcmp(name, "false")) return k == VK_BOOL && !v.u.b;
    if (!strcmp(name, "true")) return k == VK_BOOL && v.u.b;
    if (!strcmp(name, "integer")) return k == VK_INT;
    if (!strcmp(name, "float")) return k == VK_FLOAT;
    if (!strcmp(name, "number")) return tv_is_num(v);
    if (!strcmp(name, "string")) return k == VK_STR;
    if (!strcmp(name, "mapping")) return k == VK_DICT;
    /* an Undefined has __len__, __iter__ and __getitem__ in jinja2 */
    if (!strcmp(name, "iterable") || !strcmp(name, "sequence"))
        return k == VK_STR || k == VK_LIST || k == VK_DICT || k == VK_UNDEF;
    if (!strcmp(name, "callable")) return k == VK_FUNC;
    if (!strcmp(name, "escaped")) return 0;
    if (!strcmp(name, "lower") || !strcmp(name, "upper")) return case_test(soft_str(in, v), name[0] == 'u');
    if (!strcmp(name, "odd") || !strcmp(name, "even") || !strcmp(name, "divisibleby"))
        return test_number(in, name, v, a);
    return test_compare(in, name, v, a);
}

/* ---- filters ------------------------------------------------------------------------ */

static tv f_tojson(tp_interp *in, tv v, tp_args *a) {
    /* transformers: tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False) */
    static const char *const names[] = {"ensure_ascii", "indent", "separators", "sort_keys", NULL};
    check_args(in, a, "filter 'tojson'", names);
    json_style js = {.indent = -1, .item_sep = ", ", .key_sep = ": "};
    js.ensure_ascii = tv_truthy(arg_or(a, 0, "ensure_ascii", tv_bool(0)));
    tv ind = arg_or(a, 1, "indent", tv_none());
    if (ind.kind != VK_NONE) {
        int64_t n = need_int(in, ind, "tojson indent");
        js.indent = n < 0 ? 0 : n > 64 ? 64 : (int)n;
        js.item_sep = ",";
    }
    tv seps = arg_or(a, 2, "separators", tv_none());
    if (seps.kind != VK_NONE) {
        if (seps.kind != VK_LIST || seps.u.l->n != 2) tp_fail(in->st, in->line, "tojson: separators must be a pair of strings");
        js.item_sep = need_str(in, seps.u.l->v[0], "tojson separators")->p;
        js.key_sep = need_str(in, seps.u.l->v[1], "tojson separators")->p;
    }
    js.sort_keys = tv_truthy(arg_or(a, 3, "sort_keys", tv_bool(0)));
    tp_buf b;
    buf_init(&b, in->st);
    tv_tojson_into(&b, v, &js, in->line, 0, 0);
    return tv_strbuf(&b);
}

static tv f_length(tp_interp *in, tv v) {
    switch (v.kind) {
    case VK_STR: return tv_int((int64_t)u8_count(v.u.s->p, v.u.s->len));
    case VK_LIST: return tv_int((int64_t)v.u.l->n);
    case VK_DICT: return tv_int((int64_t)v.u.d->n);
    case VK_UNDEF: return tv_int(0);
    default: tp_fail(in->st, in->line, "object of type '%s' has no len()", tv_type_name(v));
    }
}

static tv f_first_last(tp_interp *in, tv v, int last) {
    tv l = list_of(in, v);
    if (l.u.l->n == 0) return tv_undef(last ? "No last item, sequence was empty." : "No first item, sequence was empty.");
    return l.u.l->v[last ? l.u.l->n - 1 : 0];
}

/* Python int(str): optional sign, digits with single underscores, spaces around. */
static int parse_int(const char *s, int base, int64_t *out) {
    while (*s == ' ' || (*s >= '\t' && *s <= '\r')) s++;
    char tmp[80];
    size_t k = 0;
    if (*s == '+' || *s == '-') tmp[k++] = *s++;
    if (!*s || *s == '_') return 0;
    for (; *s && k + 1 < sizeof tmp; s++) {
        if (*s == '_' && s[1] && s[1] != '_' && s[-1] != '+' && s[-1] != '-') continue;
        if (*s == ' ' || (*s >= '\t' && *s <= '\r')) break;
        tmp[k++] = *s;
    }
    while (*s == ' ' || (*s >= '\t' && *s <= '\r')) s++;
    if (*s) return 0;
    tmp[k] = 0;
    char *end;
    errno = 0;
    long long x = strtoll(tmp, &end, base);
    if (*end || end == tmp || errno) return 0;
    *out = x;
    return 1;
}

static tv f_int(tp_interp *in, tv v, tp_args *a) {
    static const char *const names[] = {"default", "base", NULL};
    check_args(in, a, "filter 'int'", names);
    tv dflt = arg_or(a, 0, "default", tv_int(0));
    int base = (int)need_int(in, arg_or(a, 1, "base", tv_int(10)), "int base");
    if (v.kind == VK_UNDEF) tp_undefined_error(in, v);
    if (v.kind == VK_INT) return v;
    if (v.kind == VK_BOOL) return tv_int(v.u.b);
    if (v.kind == VK_FLOAT) return isfinite(v.u.f) && fabs(v.u.f) < 9.2e18 ? tv_int((int64_t)v.u.f) : dflt;
    if (v.kind != VK_STR) return dflt;
    int64_t x;
    if (parse_int(v.u.s->p, base, &x)) return tv_int(x);
    char *end;
    double f = strtod(v.u.s->p, &end);
    if (end != v.u.s->p && py_lstrip_ws(end, strlen(end)) == strlen(end) && isfinite(f) && fabs(f) < 9.2e18)
        return tv_int((int64_t)f);
    return dflt;
}

static tv f_float(tp_interp *in, tv v, tp_args *a) {
    tv dflt = arg_or(a, 0, "default", tv_float(0.0));
    if (v.kind == VK_UNDEF) tp_undefined_error(in, v);
    if (tv_is_num(v)) return tv_float(tv_num(v));
    if (v.kind != VK_STR) return dflt;
    char *end;
    double f = strtod(v.u.s->p, &end);
    if (end == v.u.s->p || py_lstrip_ws(end, strlen(end)) != strlen(end)) return dflt;
    return tv_float(f);
}

static tv f_items(tp_interp *in, tv v) {
    if (v.kind == VK_UNDEF) return tv_list(in->st, 0);
    if (v.kind != VK_DICT) tp_fail(in->st, in->line, "Can only get item pairs from a mapping.");
    return dict_view(in, v.u.d, 0);
}

/* jinja2's attribute getter: "a.b.0" walks items/attributes. */
static tv get_path(tp_interp *in, tv v, tstr *path) {
    const char *p = path->p;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        tv key = tv_str(in->st, p, n);
        int64_t idx;
        char tmp[32];
        if (n && n < sizeof tmp) {
            memcpy(tmp, p, n);
            tmp[n] = 0;
            if (strspn(tmp, "0123456789") == n && parse_int(tmp, 10, &idx)) key = tv_int(idx);
        }
        v = tp_getitem(in, v, key);
        if (!dot) return v;
        p = dot + 1;
    }
}

static tv f_map(tp_interp *in, tv v, tp_args *a) {
    tv items = list_of(in, v), out = tv_list(in->st, items.u.l->n);
    tv *attr = arg(a, (size_t)-1, "attribute");
    if (attr) {
        tstr *path = need_str(in, *attr, "map attribute");
        tv *dflt = arg(a, (size_t)-1, "default");
        for (size_t i = 0; i < items.u.l->n; i++) {
            tv x = get_path(in, items.u.l->v[i], path);
            list_push(in->st, out.u.l, x.kind == VK_UNDEF && dflt ? *dflt : x);
        }
        return out;
    }
    if (a->npos < 1) tp_fail(in->st, in->line, "map needs a filter name or attribute=");
    const char *fname = need_str(in, a->pos[0], "map")->p;
    if (!tp_filter_known(fname)) tp_fail(in->st, in->line, "unknown filter '%s'", fname);
    tp_args rest = {.pos = a->pos + 1, .npos = a->npos - 1, .kwnames = a->kwnames, .kw = a->kw, .nkw = a->nkw};
    for (size_t i = 0; i < items.u.l->n; i++) list_push(in->st, out.u.l, tp_apply_filter(in, fname, items.u.l->v[i], &rest));
    return out;
}

/* select / reject / selectattr / rejectattr. */
static tv f_select(tp_interp *in, tv v, tp_args *a, int by_attr, int keep) {
    tv items = list_of(in, v), out = tv_list(in->st, items.u.l->n);
    size_t k = 0;
    tstr *path = NULL;
    if (by_attr) {
        if (a->npos < 1) tp_fail(in->st, in->line, "selectattr/rejectattr need an attribute name");
        path = need_str(in, a->pos[k++], "selectattr");
    }
    const char *test = NULL;
    if (a->npos > k) {
        test = need_str(in, a->pos[k++], "select test")->p;
        if (!tp_test_known(test)) tp_fail(in->st, in->line, "unknown test '%s'", test);
    }
    tp_args rest = {.pos = a->pos + k, .npos = a->npos - k, .kwnames = a->kwnames, .kw = a->kw, .nkw = a->nkw};
    for (size_t i = 0; i < items.u.l->n; i++) {
        tv x = items.u.l->v[i], probe = path ? get_path(in, x, path) : x;
        int ok = test ? tp_apply_test(in, test, probe, &rest) : tv_truthy(probe);
        if (ok == keep) list_push(in->st, out.u.l, x);
    }
    return out;
}

static tv f_indent(tp_interp *in, tv v, tp_args *a) {
    static const char *const names[] = {"width", "first", "blank", NULL};
    check_args(in, a, "filter 'indent'", names);
    tv w = arg_or(a, 0, "width", tv_int(4));
    tp_buf ind;
    buf_init(&ind, in->st);
    if (w.kind == VK_STR) buf_add(&ind, w.u.s->p, w.u.s->len);
    else for (int64_t i = need_int(in, w, "indent width"); i > 0 && i < 4096; i--) buf_putc(&ind, ' ');
    int first = tv_truthy(arg_or(a, 1, "first", tv_bool(0))), blank = tv_truthy(arg_or(a, 2, "blank", tv_bool(0)));
    tstr *s = soft_str(in, v);
    tp_buf text; /* jinja2 appends "\n" so that splitlines keeps a trailing empty line */
    buf_init(&text, in->st);
    buf_add(&text, s->p, s->len);
    buf_putc(&text, '\n');
    tv lines = py_splitlines(in, tv_strbuf(&text).u.s);
    tp_buf b;
    buf_init(&b, in->st);
    if (first) buf_add(&b, ind.p, ind.n);
    for (size_t i = 0; i < lines.u.l->n; i++) {
        tstr *ln = lines.u.l->v[i].u.s;
        if (i) {
            buf_putc(&b, '\n');
            if (blank || ln->len) buf_add(&b, ind.p, ind.n);
        }
        buf_add(&b, ln->p, ln->len);
    }
    return tv_strbuf(&b);
}

/* Stable merge sort for the sort filter. */
typedef struct { tv key, val; } sort_item;

static int sort_cmp(tp_interp *in, const sort_item *x, const sort_item *y, int reverse) {
    int c = tp_order(in, x->key, y->key, 0);
    return reverse ? -c : c;
}

static void merge_sort(tp_interp *in, sort_item *v, sort_item *tmp, size_t n, int reverse) {
    if (n < 2) return;
    size_t h = n / 2;
    merge_sort(in, v, tmp, h, reverse);
    merge_sort(in, v + h, tmp, n - h, reverse);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) tmp[k++] = sort_cmp(in, &v[j], &v[i], reverse) < 0 ? v[j++] : v[i++];
    while (i < h) tmp[k++] = v[i++];
    while (j < n) tmp[k++] = v[j++];
    memcpy(v, tmp, n * sizeof *v);
}

static tv f_sort(tp_interp *in, tv v, tp_args *a) {
    static const char *const names[] = {"reverse", "case_sensitive", "attribute", NULL};
    check_args(in, a, "filter 'sort'", names);
    int reverse = tv_truthy(arg_or(a, 0, "reverse", tv_bool(0)));
    int cs = tv_truthy(arg_or(a, 1, "case_sensitive", tv_bool(0)));
    tv attr = arg_or(a, 2, "attribute", tv_none());
    tv items = list_of(in, v);
    size_t n = items.u.l->n;
    sort_item *s = tp_alloc(in->st, (n + 1) * sizeof *s), *tmp = tp_alloc(in->st, (n + 1) * sizeof *s);
    for (size_t i = 0; i < n; i++) {
        tv x = items.u.l->v[i], key = attr.kind == VK_NONE ? x : get_path(in, x, need_str(in, attr, "sort"));
        if (!cs && key.kind == VK_STR) key = map_str(in, key.u.s, to_lower);
        s[i] = (sort_item){key, x};
    }
    merge_sort(in, s, tmp, n, reverse);
    tv out = tv_list(in->st, n);
    for (size_t i = 0; i < n; i++) list_push(in->st, out.u.l, s[i].val);
    return out;
}

static tv f_reverse(tp_interp *in, tv v) {
    if (v.kind == VK_STR) {
        tp_buf b;
        buf_init(&b, in->st);
        for (size_t i = v.u.s->len; i > 0;) {
            size_t p = u8_prev(v.u.s->p, i);
            buf_add(&b, v.u.s->p + p, i - p);
            i = p;
        }
        return tv_strbuf(&b);
    }
    tv items = list_of(in, v), out = tv_list(in->st, items.u.l->n);
    for (size_t i = items.u.l->n; i > 0; i--) list_push(in->st, out.u.l, items.u.l->v[i - 1]);
    return out;
}

static tv f_string_like(tp_interp *in, const char *name, tv v, tp_args *a) {
    if (!strcmp(name, "string") || !strcmp(name, "safe")) return (tv){.kind = VK_STR, .u.s = soft_str(in, v)};
    tstr *s = soft_str(in, v);
    if (!strcmp(name, "upper")) return map_str(in, s, to_upper);
    if (!strcmp(name, "lower")) return map_str(in, s, to_lower);
    if (!strcmp(name, "capitalize")) return py_capitalize(in, s);
    if (!strcmp(name, "title")) return jinja_title(in, s);
    if (!strcmp(name, "trim")) {
        tv chars = arg_or(a, 0, "chars", tv_none());
        return py_strip(in, s, chars.kind == VK_NONE ? NULL : need_str(in, chars, "trim"), 3);
    }
    /* replace(old, new, count=None) */
    tv *o = arg(a, 0, "old"), *n = arg(a, 1, "new");
    if (!o || !n) tp_fail(in->st, in->line, "filter 'replace' needs two arguments");
    tv count = arg_or(a, 2, "count", tv_none());
    return py_replace(in, s, soft_str(in, *o), soft_str(in, *n),
                      count.kind == VK_NONE ? -1 : need_int(in, count, "replace count"));
}

static tv f_join(tp_interp *in, tv v, tp_args *a) {
    static const char *const names[] = {"d", "attribute", NULL};
    check_args(in, a, "filter 'join'", names);
    tstr *sep = soft_str(in, arg_or(a, 0, "d", tv_cstr(in->st, "")));
    tv attr = arg_or(a, 1, "attribute", tv_none());
    tv items = list_of(in, v);
    if (attr.kind != VK_NONE) {
        tv mapped = tv_list(in->st, items.u.l->n);
        for (size_t i = 0; i < items.u.l->n; i++)
            list_push(in->st, mapped.u.l, get_path(in, items.u.l->v[i], need_str(in, attr, "join attribute")));
        items = mapped;
    }
    return py_join(in, sep, items, 1);
}

static const char *const filter_names[] = {
    "tojson", "trim", "length", "count", "upper", "lower", "capitalize", "title", "default", "d", "first",
    "last", "join", "replace", "string", "int", "float", "list", "items", "selectattr", "rejectattr",
    "select", "reject", "map", "safe", "indent", "abs", "reverse", "sort", "attr", NULL};

int tp_filter_known(const char *name) { return in_names(filter_names, name); }

tv tp_apply_filter(tp_interp *in, const char *name, tv v, tp_args *a) {
    if (!strcmp(name, "default") || !strcmp(name, "d")) {
        tv dflt = arg_or(a, 0, "default_value", tv_cstr(in->st, ""));
        int boolean = tv_truthy(arg_or(a, 1, "boolean", tv_bool(0)));
        return v.kind == VK_UNDEF || (boolean && !tv_truthy(v)) ? dflt : v;
    }
    if (!strcmp(name, "tojson")) return f_tojson(in, v, a);
    if (!strcmp(name, "length") || !strcmp(name, "count")) return f_length(in, v);
    if (!strcmp(name, "first") || !strcmp(name, "last")) return f_first_last(in, v, name[0] == 'l');
    if (!strcmp(name, "join")) return f_join(in, v, a);
    if (!strcmp(name, "int")) return f_int(in, v, a);
    if (!strcmp(name, "float")) return f_float(in, v, a);
    if (!strcmp(name, "list")) {
        tv items = list_of(in, v), out = tv_list(in->st, items.u.l->n);
        for (size_t i = 0; i < items.u.l->n; i++) list_push(in->st, out.u.l, items.u.l->v[i]);
        return out;
    }
    if (!strcmp(name, "items")) return f_items(in, v);
    if (!strcmp(name, "map")) return f_map(in, v, a);
    if (!strcmp(name, "select") || !strcmp(name, "reject")) return f_select(in, v, a, 0, name[0] == 's');
    if (!strcmp(name, "selectattr") || !strcmp(name, "rejectattr")) return f_select(in, v, a, 1, name[0] == 's');
    if (!strcmp(name, "indent")) return f_indent(in, v, a);
    if (!strcmp(name, "reverse")) return f_reverse(in, v);
    if (!strcmp(name, "sort")) return f_sort(in, v, a);
    if (!strcmp(name, "attr")) { /* attributes only (methods here), never items */
        const char *attr = need_str(in, arg_or(a, 0, "name", tv_none()), "attr")->p;
        if (v.kind == VK_UNDEF || tp_has_method(v, attr)) return tp_getattr(in, v, attr);
        return tv_undef("attribute not found (the attr filter does not read items)");
    }
    if (!strcmp(name, "abs")) {
        if (v.kind == VK_UNDEF) tp_undefined_error(in, v);
        if (v.kind == VK_FLOAT) return tv_float(fabs(v.u.f));
        int64_t x = need_int(in, v, "abs");
        if (x == INT64_MIN) tp_fail(in->st, in->line, "integer overflow");
        return tv_int(x < 0 ? -x : x);
    }
    return f_string_like(in, name, v, a);
}

/* ---- globals ------------------------------------------------------------------------- */

static const char *const global_names[] = {"range", "namespace", "dict", "raise_exception", "strftime_now", NULL};

int tp_global_known(const char *name) { return in_names(global_names, name); }

static tv g_range(tp_interp *in, tp_args *a) {
    if (a->npos < 1 || a->npos > 3 || a->nkw) tp_fail(in->st, in->line, "range expects 1 to 3 integer arguments");
    int64_t start = 0, stop, stepv = 1;
    if (a->npos == 1) stop = need_int(in, a->pos[0], "range");
    else {
        start = need_int(in, a->pos[0], "range");
        stop = need_int(in, a->pos[1], "range");
        if (a->npos == 3) stepv = need_int(in, a->pos[2], "range");
    }
    if (stepv == 0) tp_fail(in->st, in->line, "range() arg 3 must not be zero");
    double count = ceil(((double)stop - (double)start) / (double)stepv);
    if (count > 1e7) tp_fail(in->st, in->line, "range too big (more than 10000000 items)");
    tv out = tv_list(in->st, count > 0 ? (size_t)count : 0);
    for (int64_t i = start; stepv > 0 ? i < stop : i > stop; i += stepv) list_push(in->st, out.u.l, tv_int(i));
    return out;
}

static tv g_dict_like(tp_interp *in, tp_args *a, tv_kind kind) {
    tv d = tv_dict(in->st);
    d.kind = kind;
    if (a->npos > 1) tp_fail(in->st, in->line, "%s takes at most one positional argument", kind == VK_NS ? "namespace" : "dict");
    if (a->npos == 1) {
        tv src = a->pos[0];
        if (src.kind != VK_DICT) tp_fail(in->st, in->line, "%s(): the positional argument must be a mapping", kind == VK_NS ? "namespace" : "dict");
        for (size_t i = 0; i < src.u.d->n; i++) dict_set(in->st, d.u.d, src.u.d->keys[i], src.u.d->vals[i]);
    }
    for (size_t i = 0; i < a->nkw; i++) dict_set(in->st, d.u.d, tv_cstr(in->st, a->kwnames[i]), a->kw[i]);
    return d;
}

static tv g_strftime_now(tp_interp *in, tp_args *a) {
    if (a->npos != 1) tp_fail(in->st, in->line, "strftime_now expects one format argument");
    tstr *fmt = need_str(in, a->pos[0], "strftime_now");
    time_t now = time(NULL);
    struct tm tm;
    if (!localtime_r(&now, &tm)) tp_fail(in->st, in->line, "strftime_now: cannot read the clock");
    char out[512];
    size_t n = fmt->len ? strftime(out, sizeof out, fmt->p, &tm) : 0;
    if (fmt->len && n == 0) tp_fail(in->st, in->line, "strftime_now: format '%s' gives no or too long output", fmt->p);
    return tv_str(in->st, out, n);
}

tv tp_call_global(tp_interp *in, const char *name, tp_args *a) {
    if (!strcmp(name, "range")) return g_range(in, a);
    if (!strcmp(name, "namespace")) return g_dict_like(in, a, VK_NS);
    if (!strcmp(name, "dict")) return g_dict_like(in, a, VK_DICT);
    if (!strcmp(name, "strftime_now")) return g_strftime_now(in, a);
    /* raise_exception(message): the template's own error */
    tv msg = a->npos ? a->pos[0] : tv_cstr(in->st, "raise_exception called");
    tp_fail(in->st, in->line, "%s", soft_str(in, msg)->p);
}
