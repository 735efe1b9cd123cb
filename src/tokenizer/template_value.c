/* Chat templates: the arena, UTF-8 helpers, and values with Python's
 * printing rules (str, repr, json.dumps). */
#include "tokenizer/template_impl.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* ---- arena ------------------------------------------------------------- */

#define CHUNK_SIZE ((size_t)64 << 10)

struct tp_chunk {
    tp_chunk *next;
    size_t used, cap;
    max_align_t data[];
};

void *tp_alloc(tp_state *st, size_t n) {
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    if (n == 0) n = sizeof(max_align_t);
    tp_chunk *c = st->chunks;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > CHUNK_SIZE / 4 ? n : CHUNK_SIZE;
        if (st->bytes + cap > st->max_bytes || n > st->max_bytes)
            tp_fail(st, 0, "template needs more than %zu MiB of memory", st->max_bytes >> 20);
        c = malloc(sizeof *c + cap);
        if (!c) tp_fail(st, 0, "out of memory");
        c->cap = cap;
        c->used = 0;
        st->bytes += cap;
        /* A big block gets its own chunk behind the current one, so the
         * current chunk's free space is not abandoned. */
        if (cap != CHUNK_SIZE && st->chunks) {
            c->next = st->chunks->next;
            st->chunks->next = c;
        } else {
            c->next = st->chunks;
            st->chunks = c;
        }
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

void *tp_realloc(tp_state *st, void *p, size_t old, size_t n) {
    void *q = tp_alloc(st, n);
    if (p && old) memcpy(q, p, old < n ? old : n);
    return q;
}

char *tp_strndup(tp_state *st, const char *s, size_t n) {
    char *p = tp_alloc(st, n + 1);
    if (n) memcpy(p, s, n);
    return p;
}

void tp_free_all(tp_state *st) {
    while (st->chunks) {
        tp_chunk *next = st->chunks->next;
        free(st->chunks);
        st->chunks = next;
    }
    st->bytes = 0;
}

void tp_fail(tp_state *st, int line, const char *fmt, ...) {
    int off = 0;
    if (line > 0) off = snprintf(st->msg, sizeof st->msg, "template line %d: ", line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->msg + off, sizeof st->msg - (size_t)off, fmt, ap);
    va_end(ap);
    longjmp(st->fail, 1);
}

/* ---- UTF-8 -------------------------------------------------------------- */

uint32_t u8_next(const char *s, size_t n, size_t *i) {
    utf8proc_int32_t cp;
    utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + *i, (utf8proc_ssize_t)(n - *i), &cp);
    if (k <= 0) { /* not reachable for validated text; step one byte */
        (*i)++;
        return 0xFFFD;
    }
    *i += (size_t)k;
    return (uint32_t)cp;
}

size_t u8_prev(const char *s, size_t i) {
    if (i == 0) return 0;
    i--;
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80) i--;
    return i;
}

size_t u8_count(const char *s, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) k++;
    return k;
}

size_t u8_offset(const char *s, size_t n, size_t k) {
    size_t i = 0;
    while (k > 0 && i < n) {
        i++;
        while (i < n && ((unsigned char)s[i] & 0xC0) == 0x80) i++;
        k--;
    }
    return i;
}

int u8_put(uint32_t cp, char *out) {
    return (int)utf8proc_encode_char((utf8proc_int32_t)cp, (utf8proc_uint8_t *)out);
}

int u8_valid(const char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0) return 0;
        i += (size_t)k;
    }
    return 1;
}

/* str.isspace() / regex \s for Python str: what strip(), split() and
 * jinja2's whitespace control remove. */
int py_isspace(uint32_t cp) {
    if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F);
    return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
           cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

size_t py_rstrip_ws(const char *s, size_t n) {
    while (n > 0) {
        size_t p = u8_prev(s, n), i = p;
        if (!py_isspace(u8_next(s, n, &i))) break;
        n = p;
    }
    return n;
}

size_t py_lstrip_ws(const char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        if (!py_isspace(u8_next(s, n, &j))) break;
        i = j;
    }
    return i;
}

/* ---- buffers -------------------------------------------------------------- */

void buf_init(tp_buf *b, tp_state *st) {
    b->st = st;
    b->p = NULL;
    b->n = b->cap = 0;
}

void buf_add(tp_buf *b, const char *s, size_t n) {
    if (n == 0) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1) {
            if (cap > b->st->max_bytes)
                tp_fail(b->st, 0, "template output is larger than %zu MiB", b->st->max_bytes >> 20);
            cap *= 2;
        }
        b->p = tp_realloc(b->st, b->p, b->n, cap);
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

void buf_puts(tp_buf *b, const char *s) { buf_add(b, s, strlen(s)); }
void buf_putc(tp_buf *b, char c) { buf_add(b, &c, 1); }

void buf_printf(tp_buf *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k > 0) buf_add(b, tmp, (size_t)k < sizeof tmp ? (size_t)k : sizeof tmp - 1);
}

/* ---- constructors --------------------------------------------------------- */

tv tv_undef(const char *why) { return (tv){.kind = VK_UNDEF, .u.why = why}; }
tv tv_none(void) { return (tv){.kind = VK_NONE}; }
tv tv_bool(int b) { return (tv){.kind = VK_BOOL, .u.b = !!b}; }
tv tv_int(int64_t i) { return (tv){.kind = VK_INT, .u.i = i}; }
tv tv_float(double f) { return (tv){.kind = VK_FLOAT, .u.f = f}; }

tv tv_str(tp_state *st, const char *s, size_t n) {
    tstr *t = tp_alloc(st, sizeof *t);
    t->p = tp_strndup(st, s, n);
    t->len = n;
    return (tv){.kind = VK_STR, .u.s = t};
}

tv tv_cstr(tp_state *st, const char *s) { return tv_str(st, s, strlen(s)); }

tv tv_strbuf(tp_buf *b) {
    tstr *t = tp_alloc(b->st, sizeof *t);
    t->p = b->p ? b->p : tp_strndup(b->st, "", 0);
    t->len = b->n;
    return (tv){.kind = VK_STR, .u.s = t};
}

tv tv_list(tp_state *st, size_t cap) {
    tlist *l = tp_alloc(st, sizeof *l);
    if (cap) {
        l->v = tp_alloc(st, cap * sizeof *l->v);
        l->cap = cap;
    }
    return (tv){.kind = VK_LIST, .u.l = l};
}

tv tv_dict(tp_state *st) { return (tv){.kind = VK_DICT, .u.d = tp_alloc(st, sizeof(tdict))}; }

void list_push(tp_state *st, tlist *l, tv v) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        l->v = tp_realloc(st, l->v, l->n * sizeof *l->v, cap * sizeof *l->v);
        l->cap = cap;
    }
    l->v[l->n++] = v;
}

/* Dict keys are compared with ==, so 1 and 1.0 and True are one key, as in
 * Python. Lookups are linear: template dicts are small. */
tv *dict_find(tdict *d, tv key) {
    for (size_t i = 0; i < d->n; i++)
        if (tv_equal(NULL, d->keys[i], key, 0)) return &d->vals[i];
    return NULL;
}

tv *dict_find_str(tdict *d, const char *key) {
    size_t n = strlen(key);
    for (size_t i = 0; i < d->n; i++)
        if (d->keys[i].kind == VK_STR && d->keys[i].u.s->len == n && !memcmp(d->keys[i].u.s->p, key, n))
            return &d->vals[i];
    return NULL;
}

void dict_set(tp_state *st, tdict *d, tv key, tv val) {
    tv *slot = dict_find(d, key);
    if (slot) {
        *slot = val;
        return;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 4;
        d->keys = tp_realloc(st, d->keys, d->n * sizeof(tv), cap * sizeof(tv));
        d->vals = tp_realloc(st, d->vals, d->n * sizeof(tv), cap * sizeof(tv));
        d->cap = cap;
    }
    d->keys[d->n] = key;
    d->vals[d->n++] = val;
}

/* ---- predicates ------------------------------------------------------------ */

int tv_truthy(tv v) {
    switch (v.kind) {
    case VK_UNDEF: case VK_NONE: return 0;
    case VK_BOOL: return v.u.b;
    case VK_INT: return v.u.i != 0;
    case VK_FLOAT: return v.u.f != 0.0;
    case VK_STR: return v.u.s->len != 0;
    case VK_LIST: return v.u.l->n != 0;
    case VK_DICT: return v.u.d->n != 0;
    default: return 1;
    }
}

int tv_is_num(tv v) { return v.kind == VK_INT || v.kind == VK_FLOAT || v.kind == VK_BOOL; }

double tv_num(tv v) {
    return v.kind == VK_FLOAT ? v.u.f : v.kind == VK_INT ? (double)v.u.i : (double)v.u.b;
}

static int64_t tv_intval(tv v) { return v.kind == VK_INT ? v.u.i : v.u.b; }

int tv_equal(tp_state *st, tv a, tv b, int depth) {
    if (depth > TP_MAX_VALUE_DEPTH) tp_fail(st, 0, "values nested too deeply to compare");
    if (tv_is_num(a) && tv_is_num(b)) {
        if (a.kind == VK_FLOAT || b.kind == VK_FLOAT) return tv_num(a) == tv_num(b);
        return tv_intval(a) == tv_intval(b);
    }
    if (a.kind != b.kind) return 0;
    switch (a.kind) {
    case VK_UNDEF: case VK_NONE: return 1;
    case VK_STR: return a.u.s->len == b.u.s->len && !memcmp(a.u.s->p, b.u.s->p, a.u.s->len);
    case VK_LIST:
        if (a.u.l->is_tuple != b.u.l->is_tuple || a.u.l->n != b.u.l->n) return 0;
        for (size_t i = 0; i < a.u.l->n; i++)
            if (!tv_equal(st, a.u.l->v[i], b.u.l->v[i], depth + 1)) return 0;
        return 1;
    case VK_DICT:
        if (a.u.d->n != b.u.d->n) return 0;
        for (size_t i = 0; i < a.u.d->n; i++) {
            tv *o = dict_find(b.u.d, a.u.d->keys[i]);
            if (!o || !tv_equal(st, a.u.d->vals[i], *o, depth + 1)) return 0;
        }
        return 1;
    case VK_NS: return a.u.d == b.u.d;
    case VK_FUNC: return a.u.fn == b.u.fn;
    default: return 0;
    }
}

const char *tv_type_name(tv v) {
    switch (v.kind) {
    case VK_UNDEF: return "Undefined";
    case VK_NONE: return "NoneType";
    case VK_BOOL: return "bool";
    case VK_INT: return "int";
    case VK_FLOAT: return "float";
    case VK_STR: return "str";
    case VK_LIST: return v.u.l->is_tuple ? "tuple" : "list";
    case VK_DICT: return "dict";
    case VK_NS: return "Namespace";
    default: return "function";
    }
}

/* ---- printing --------------------------------------------------------------- */

/* Python's repr(float): the shortest digits that read back to the same
 * double, in fixed notation for exponents -4..15 and scientific otherwise. */
void fmt_float(double f, char *out, size_t outlen) {
    if (isnan(f)) { snprintf(out, outlen, "nan"); return; }
    if (isinf(f)) { snprintf(out, outlen, f < 0 ? "-inf" : "inf"); return; }
    char tmp[48];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, f);
        if (strtod(tmp, NULL) == f) break;
    }
    char digits[24];
    int nd = 0, neg = tmp[0] == '-';
    const char *p = tmp + neg;
    for (; *p && *p != 'e'; p++)
        if (*p != '.' && nd < 20) digits[nd++] = *p;
    int exp10 = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    digits[nd] = 0;
    char *o = out, *end = out + outlen - 1;
#define PUT(ch) do { if (o < end) *o++ = (ch); } while (0)
    if (neg) PUT('-');
    if (exp10 < -4 || exp10 >= 16) {
        PUT(digits[0]);
        if (nd > 1) { PUT('.'); for (int i = 1; i < nd; i++) PUT(digits[i]); }
        o += snprintf(o, (size_t)(end - o) + 1, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
    } else if (exp10 < 0) {
        PUT('0'); PUT('.');
        for (int i = 0; i < -exp10 - 1; i++) PUT('0');
        for (int i = 0; i < nd; i++) PUT(digits[i]);
    } else {
        for (int i = 0; i <= exp10; i++) PUT(i < nd ? digits[i] : '0');
        PUT('.');
        if (nd > exp10 + 1) for (int i = exp10 + 1; i < nd; i++) PUT(digits[i]);
        else PUT('0');
    }
#undef PUT
    *(o < end ? o : end) = 0;
}

static void fail_unprintable(tp_buf *b, tv v, int line) {
    if (v.kind == VK_UNDEF) tp_fail(b->st, line, "%s", v.u.why);
    tp_fail(b->st, line, "cannot print a %s value", tv_type_name(v));
}

void tv_str_into(tp_buf *b, tv v, int line) {
    char tmp[48];
    switch (v.kind) {
    case VK_UNDEF: return;
    case VK_STR: buf_add(b, v.u.s->p, v.u.s->len); return;
    case VK_FLOAT: fmt_float(v.u.f, tmp, sizeof tmp); buf_puts(b, tmp); return;
    default: tv_repr_into(b, v, line, 0);
    }
}

tstr *tv_to_str(tp_state *st, tv v, int line) {
    if (v.kind == VK_STR) return v.u.s;
    tp_buf b;
    buf_init(&b, st);
    tv_str_into(&b, v, line);
    return tv_strbuf(&b).u.s;
}

/* Python's str.isprintable() decides which characters repr() escapes. */
static int py_isprintable(uint32_t cp) {
    if (cp == ' ') return 1;
    switch (utf8proc_category((utf8proc_int32_t)cp)) {
    case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF: case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO: case UTF8PROC_CATEGORY_CN: case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP: case UTF8PROC_CATEGORY_ZS: return 0;
    default: return 1;
    }
}

static void repr_str(tp_buf *b, const char *s, size_t n) {
    char q = memchr(s, '\'', n) && !memchr(s, '"', n) ? '"' : '\'';
    buf_putc(b, q);
    size_t i = 0;
    while (i < n) {
        size_t start = i;
        uint32_t cp = u8_next(s, n, &i);
        if (cp == (uint32_t)q || cp == '\\') { buf_putc(b, '\\'); buf_putc(b, (char)cp); }
        else if (cp == '\n') buf_puts(b, "\\n");
        else if (cp == '\r') buf_puts(b, "\\r");
        else if (cp == '\t') buf_puts(b, "\\t");
        else if (py_isprintable(cp)) buf_add(b, s + start, i - start);
        else if (cp <= 0xFF) buf_printf(b, "\\x%02x", cp);
        else if (cp <= 0xFFFF) buf_printf(b, "\\u%04x", cp);
        else buf_printf(b, "\\U%08x", cp);
    }
    buf_putc(b, q);
}

void tv_repr_into(tp_buf *b, tv v, int line, int depth) {
    if (depth > TP_MAX_VALUE_DEPTH) tp_fail(b->st, line, "value nested too deeply to print");
    char tmp[48];
    switch (v.kind) {
    case VK_NONE: buf_puts(b, "None"); return;
    case VK_BOOL: buf_puts(b, v.u.b ? "True" : "False"); return;
    case VK_INT: buf_printf(b, "%lld", (long long)v.u.i); return;
    case VK_FLOAT: fmt_float(v.u.f, tmp, sizeof tmp); buf_puts(b, tmp); return;
    case VK_STR: repr_str(b, v.u.s->p, v.u.s->len); return;
    case VK_LIST: {
        const tlist *l = v.u.l;
        buf_putc(b, l->is_tuple ? '(' : '[');
        for (size_t i = 0; i < l->n; i++) {
            if (i) buf_puts(b, ", ");
            tv_repr_into(b, l->v[i], line, depth + 1);
        }
        if (l->is_tuple && l->n == 1) buf_putc(b, ',');
        buf_putc(b, l->is_tuple ? ')' : ']');
        return;
    }
    case VK_NS: buf_puts(b, "<Namespace ");
        /* fall through */
    case VK_DICT: {
        const tdict *d = v.u.d;
        buf_putc(b, '{');
        for (size_t i = 0; i < d->n; i++) {
            if (i) buf_puts(b, ", ");
            tv_repr_into(b, d->keys[i], line, depth + 1);
            buf_puts(b, ": ");
            tv_repr_into(b, d->vals[i], line, depth + 1);
        }
        buf_putc(b, '}');
        if (v.kind == VK_NS) buf_putc(b, '>');
        return;
    }
    default: fail_unprintable(b, v, line);
    }
}

/* ---- json.dumps(ensure_ascii=False) ------------------------------------------ */

static void json_str(tp_buf *b, const char *s, size_t n, int ascii) {
    buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80 && ascii) { /* \\uXXXX, with surrogate pairs above the BMP */
            uint32_t cp = u8_next(s, n, &i);
            i--;
            if (cp >= 0x10000) {
                cp -= 0x10000;
                buf_printf(b, "\\u%04x\\u%04x", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
            } else {
                buf_printf(b, "\\u%04x", cp);
            }
            continue;
        }
        switch (c) {
        case '"': buf_puts(b, "\\\""); break;
        case '\\': buf_puts(b, "\\\\"); break;
        case '\n': buf_puts(b, "\\n"); break;
        case '\r': buf_puts(b, "\\r"); break;
        case '\t': buf_puts(b, "\\t"); break;
        case '\b': buf_puts(b, "\\b"); break;
        case '\f': buf_puts(b, "\\f"); break;
        default:
            if (c < 0x20) buf_printf(b, "\\u%04x", c);
            else buf_putc(b, (char)c);
        }
    }
    buf_putc(b, '"');
}

static void json_newline(tp_buf *b, const json_style *js, int level) {
    buf_putc(b, '\n');
    for (int i = 0; i < js->indent * level; i++) buf_putc(b, ' ');
}

/* A dict key as json.dumps converts it: strings as they are, numbers, bools
 * and None spelled as JSON; anything else is a TypeError. */
static void json_key(tp_buf *b, tv k, const json_style *js, int line) {
    char tmp[48];
    switch (k.kind) {
    case VK_STR: json_str(b, k.u.s->p, k.u.s->len, js->ensure_ascii); return;
    case VK_INT: buf_printf(b, "\"%lld\"", (long long)k.u.i); return;
    case VK_BOOL: buf_puts(b, k.u.b ? "\"true\"" : "\"false\""); return;
    case VK_NONE: buf_puts(b, "\"null\""); return;
    case VK_FLOAT: fmt_float(k.u.f, tmp, sizeof tmp); buf_printf(b, "\"%s\"", tmp); return;
    default: tp_fail(b->st, line, "tojson: keys must be str, int, float, bool or None, not %s", tv_type_name(k));
    }
}

static int key_cmp(const void *a, const void *b) {
    const tstr *x = ((const tv *)a)->u.s, *y = ((const tv *)b)->u.s;
    int c = memcmp(x->p, y->p, x->len < y->len ? x->len : y->len);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Order of a dict's entries: as inserted, or by key for sort_keys. */
static size_t *json_order(tp_buf *b, const tdict *d, const json_style *js, int line) {
    size_t *idx = tp_alloc(b->st, (d->n + 1) * sizeof *idx);
    for (size_t i = 0; i < d->n; i++) idx[i] = i;
    if (!js->sort_keys || d->n < 2) return idx;
    tv *pairs = tp_alloc(b->st, d->n * sizeof *pairs * 2);
    for (size_t i = 0; i < d->n; i++) {
        if (d->keys[i].kind != VK_STR) tp_fail(b->st, line, "tojson: sort_keys needs string keys");
        pairs[2 * i] = d->keys[i];
        pairs[2 * i + 1] = tv_int((int64_t)i);
    }
    qsort(pairs, d->n, 2 * sizeof *pairs, key_cmp);
    for (size_t i = 0; i < d->n; i++) idx[i] = (size_t)pairs[2 * i + 1].u.i;
    return idx;
}

static void json_dict(tp_buf *b, const tdict *d, const json_style *js, int line, int depth, int level) {
    if (d->n == 0) { buf_puts(b, "{}"); return; }
    size_t *idx = json_order(b, d, js, line);
    buf_putc(b, '{');
    for (size_t k = 0; k < d->n; k++) {
        if (k) buf_puts(b, js->item_sep);
        if (js->indent >= 0) json_newline(b, js, level + 1);
        json_key(b, d->keys[idx[k]], js, line);
        buf_puts(b, js->key_sep);
        tv_tojson_into(b, d->vals[idx[k]], js, line, depth + 1, level + 1);
    }
    if (js->indent >= 0) json_newline(b, js, level);
    buf_putc(b, '}');
}

void tv_tojson_into(tp_buf *b, tv v, const json_style *js, int line, int depth, int level) {
    if (depth > TP_MAX_VALUE_DEPTH) tp_fail(b->st, line, "tojson: value nested too deeply");
    char tmp[48];
    switch (v.kind) {
    case VK_NONE: buf_puts(b, "null"); return;
    case VK_BOOL: buf_puts(b, v.u.b ? "true" : "false"); return;
    case VK_INT: buf_printf(b, "%lld", (long long)v.u.i); return;
    case VK_FLOAT:
        if (isnan(v.u.f)) buf_puts(b, "NaN");
        else if (isinf(v.u.f)) buf_puts(b, v.u.f < 0 ? "-Infinity" : "Infinity");
        else { fmt_float(v.u.f, tmp, sizeof tmp); buf_puts(b, tmp); }
        return;
    case VK_STR: json_str(b, v.u.s->p, v.u.s->len, js->ensure_ascii); return;
    case VK_LIST: {
        const tlist *l = v.u.l;
        if (l->n == 0) { buf_puts(b, "[]"); return; }
        buf_putc(b, '[');
        for (size_t i = 0; i < l->n; i++) {
            if (i) buf_puts(b, js->item_sep);
            if (js->indent >= 0) json_newline(b, js, level + 1);
            tv_tojson_into(b, l->v[i], js, line, depth + 1, level + 1);
        }
        if (js->indent >= 0) json_newline(b, js, level);
        buf_putc(b, ']');
        return;
    }
    case VK_DICT: json_dict(b, v.u.d, js, line, depth, level); return;
    case VK_UNDEF: tp_fail(b->st, line, "tojson: %s", v.u.why);
    default: tp_fail(b->st, line, "tojson: object of type %s is not JSON serializable", tv_type_name(v));
    }
}

/* ---- from JSON --------------------------------------------------------------- */

tv tv_from_json(tp_state *st, json_t *j, int depth) {
    if (depth > TP_MAX_VALUE_DEPTH) tp_fail(st, 0, "template variables nested too deeply");
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        tv d = tv_dict(st);
        const char *k;
        json_t *x;
        json_object_foreach(j, k, x) dict_set(st, d.u.d, tv_cstr(st, k), tv_from_json(st, x, depth + 1));
        return d;
    }
    case JSON_ARRAY: {
        tv l = tv_list(st, json_array_size(j));
        size_t i;
        json_t *x;
        json_array_foreach(j, i, x) list_push(st, l.u.l, tv_from_json(st, x, depth + 1));
        return l;
    }
    case JSON_STRING: return tv_str(st, json_string_value(j), json_string_length(j));
    case JSON_INTEGER: return tv_int((int64_t)json_integer_value(j));
    case JSON_REAL: return tv_float(json_real_value(j));
    case JSON_TRUE: return tv_bool(1);
    case JSON_FALSE: return tv_bool(0);
    default: return tv_none();
    }
}
