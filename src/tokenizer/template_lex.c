/* Chat templates: the lexer. Splits the source into text and tag tokens the
 * way jinja2's lexer does with the environment transformers uses
 * (trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False):
 *   - "\r\n" and "\r" become "\n", and one trailing newline is dropped;
 *   - "{%-", "{{-", "{#-" strip all whitespace before the tag, "-%}", "-}}",
 *     "-#}" all whitespace after it;
 *   - trim_blocks: the first newline after "%}" or "#}" is dropped ("+%}"
 *     keeps it);
 *   - lstrip_blocks: spaces and tabs between the start of a line and "{%" or
 *     "{#" are dropped ("{%+" keeps them); never before "{{". */
#include "tokenizer/template_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    tp_state *st;
    const char *s;
    size_t n, pos;
    int line;
    int line_starting; /* the previous tag ended with a newline (or none yet) */
    token_list *out;
    size_t cap;
} lexer;

static token *emit(lexer *lx, tk_kind kind, int line) {
    token_list *o = lx->out;
    if (o->n == lx->cap) {
        size_t cap = lx->cap ? lx->cap * 2 : 256;
        o->v = tp_realloc(lx->st, o->v, o->n * sizeof *o->v, cap * sizeof *o->v);
        lx->cap = cap;
    }
    token *t = &o->v[o->n++];
    memset(t, 0, sizeof *t);
    t->kind = kind;
    t->line = line;
    return t;
}

static void advance(lexer *lx, size_t k) {
    for (size_t i = 0; i < k && lx->pos < lx->n; i++)
        if (lx->s[lx->pos++] == '\n') lx->line++;
}

/* Skips Python-whitespace (for "-%}" and friends), counting lines. */
static void skip_ws(lexer *lx) { advance(lx, py_lstrip_ws(lx->s + lx->pos, lx->n - lx->pos)); }

/* Normalised copy of the source: newlines unified, a trailing one dropped. */
static char *normalize(tp_state *st, const char *src, size_t len, size_t *outlen) {
    char *p = tp_alloc(st, len + 1);
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '\r') {
            p[k++] = '\n';
            if (i + 1 < len && src[i + 1] == '\n') i++;
        } else {
            p[k++] = src[i];
        }
    }
    if (k > 0 && p[k - 1] == '\n') k--;
    p[k] = 0;
    *outlen = k;
    return p;
}

/* The text before a tag, after whitespace control. sign: '-', '+' or 0. */
static void emit_text(lexer *lx, size_t start, size_t end, char sign, int lstrip_ok) {
    const char *t = lx->s + start;
    size_t n = end - start;
    if (sign == '-') {
        n = py_rstrip_ws(t, n);
    } else if (sign != '+' && lstrip_ok) {
        size_t l = n;
        while (l > 0 && t[l - 1] != '\n') l--;
        if (l > 0 || lx->line_starting) {
            /* strip only when the rest of the line is whitespace */
            if (py_lstrip_ws(t + l, n - l) == n - l) n = l;
        }
    }
    int line = lx->line;
    advance(lx, end - lx->pos);
    if (n == 0) return;
    token *tk = emit(lx, TK_TEXT, line);
    tk->s = t;
    tk->n = n;
}

/* ---- inside a tag --------------------------------------------------------- */

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes a backslash escape at s[*i] (just after the backslash), the way
 * Python's "unicode-escape" codec does, which is what jinja2 applies. */
static void decode_escape(lexer *lx, const char *s, size_t n, size_t *i, tp_buf *b, int line) {
    static const char simple[] = "\\\\''\"\"a\ab\bf\fn\nr\rt\tv\v";
    char c = s[*i];
    for (const char *p = simple; *p; p += 2)
        if (c == p[0]) { buf_putc(b, p[1]); (*i)++; return; }
    if (c == '\n') { (*i)++; return; } /* line continuation */
    if (c >= '0' && c <= '7') {
        unsigned v = 0;
        for (int k = 0; k < 3 && *i < n && s[*i] >= '0' && s[*i] <= '7'; k++) v = v * 8 + (unsigned)(s[(*i)++] - '0');
        char u[4];
        buf_add(b, u, (size_t)u8_put(v, u));
        return;
    }
    int digits = c == 'x' ? 2 : c == 'u' ? 4 : c == 'U' ? 8 : 0;
    if (!digits) { buf_putc(b, '\\'); return; } /* unknown escapes stay as written */
    uint32_t v = 0;
    for (int k = 1; k <= digits; k++) {
        int h = *i + (size_t)k < n ? hexval(s[*i + (size_t)k]) : -1;
        if (h < 0) tp_fail(lx->st, line, "truncated \\%c escape in a string literal", c);
        v = v * 16 + (uint32_t)h;
    }
    if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        tp_fail(lx->st, line, "invalid \\%c escape in a string literal", c);
    *i += (size_t)digits + 1;
    char u[4];
    buf_add(b, u, (size_t)u8_put(v, u));
}

static void lex_string(lexer *lx) {
    char q = lx->s[lx->pos];
    int line = lx->line;
    size_t i = lx->pos + 1;
    tp_buf b;
    buf_init(&b, lx->st);
    for (;;) {
        if (i >= lx->n) tp_fail(lx->st, line, "unterminated string literal");
        char c = lx->s[i];
        if (c == q) break;
        if (c == '\\' && i + 1 < lx->n) {
            i++;
            decode_escape(lx, lx->s, lx->n, &i, &b, line);
        } else {
            buf_putc(&b, c);
            i++;
        }
    }
    token *t = emit(lx, TK_STRING, line);
    t->s = b.p ? b.p : "";
    t->n = b.n;
    advance(lx, i + 1 - lx->pos);
}

static int isdig(char c) { return c >= '0' && c <= '9'; }
static int isname(char c, int digits_ok) {
    return c == '_' || ((c | 32) >= 'a' && (c | 32) <= 'z') || (digits_ok && isdig(c));
}

/* Digits with optional single underscores between them; returns the end. */
static size_t scan_digits(const char *s, size_t n, size_t i) {
    if (i >= n || !isdig(s[i])) return i;
    while (i < n && (isdig(s[i]) || (s[i] == '_' && i + 1 < n && isdig(s[i + 1])))) i++;
    return i;
}

static void lex_number(lexer *lx) {
    const char *s = lx->s;
    size_t start = lx->pos, i = scan_digits(s, lx->n, start);
    int is_float = 0;
    if (i + 1 < lx->n && s[i] == '.' && isdig(s[i + 1])) {
        i = scan_digits(s, lx->n, i + 1);
        is_float = 1;
    }
    if (i < lx->n && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < lx->n && (s[j] == '+' || s[j] == '-')) j++;
        size_t k = scan_digits(s, lx->n, j);
        if (k > j) { i = k; is_float = 1; }
    }
    char tmp[128];
    size_t k = 0;
    for (size_t j = start; j < i && k + 1 < sizeof tmp; j++)
        if (s[j] != '_') tmp[k++] = s[j];
    tmp[k] = 0;
    token *t = emit(lx, is_float ? TK_FLOAT : TK_INT, lx->line);
    errno = 0;
    if (is_float) t->f = strtod(tmp, NULL);
    else t->i = strtoll(tmp, NULL, 10);
    if (errno == ERANGE && !is_float) tp_fail(lx->st, lx->line, "integer literal %s is too large", tmp);
    advance(lx, i - start);
}

static const char *const ops[] = {"//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~",
                                  "[", "]", "(", ")", "{", "}", ">", "<", "=", ".", ":", "|", ",", ";"};

/* Returns 1 when the tag's end delimiter is at pos (and consumes it). */
static int lex_tag_end(lexer *lx, const char *close, int trims_newline) {
    const char *p = lx->s + lx->pos;
    size_t left = lx->n - lx->pos;
    size_t cl = strlen(close);
    if (left > cl && p[0] == '-' && !memcmp(p + 1, close, cl)) {
        advance(lx, cl + 1);
        skip_ws(lx);
        lx->line_starting = lx->pos > 0 && lx->s[lx->pos - 1] == '\n';
        return 1;
    }
    if (trims_newline && left > cl && p[0] == '+' && !memcmp(p + 1, close, cl)) {
        advance(lx, cl + 1);
        lx->line_starting = 0;
        return 1;
    }
    if (left >= cl && !memcmp(p, close, cl)) {
        advance(lx, cl);
        lx->line_starting = 0;
        if (trims_newline && lx->pos < lx->n && lx->s[lx->pos] == '\n') {
            advance(lx, 1);
            lx->line_starting = 1;
        }
        return 1;
    }
    return 0;
}

static void lex_op(lexer *lx, char *stack, int *depth) {
    const char *p = lx->s + lx->pos;
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
        size_t l = strlen(ops[k]);
        if (lx->n - lx->pos < l || memcmp(p, ops[k], l)) continue;
        char c = ops[k][0];
        if (l == 1 && (c == '(' || c == '[' || c == '{')) {
            if (*depth >= TP_MAX_DEPTH) tp_fail(lx->st, lx->line, "brackets nested too deeply");
            stack[(*depth)++] = c == '(' ? ')' : c == '[' ? ']' : '}';
        } else if (l == 1 && (c == ')' || c == ']' || c == '}')) {
            if (*depth == 0) tp_fail(lx->st, lx->line, "unexpected '%c'", c);
            if (stack[*depth - 1] != c) tp_fail(lx->st, lx->line, "unexpected '%c', expected '%c'", c, stack[*depth - 1]);
            (*depth)--;
        }
        token *t = emit(lx, TK_OP, lx->line);
        t->s = ops[k];
        t->n = l;
        advance(lx, l);
        return;
    }
    tp_fail(lx->st, lx->line, "unexpected character '%c' in a tag", *p);
}

static void lex_tag(lexer *lx, int is_block) {
    const char *close = is_block ? "%}" : "}}";
    int open_line = lx->line;
    char stack[TP_MAX_DEPTH];
    int depth = 0;
    for (;;) {
        if (lx->pos >= lx->n)
            tp_fail(lx->st, open_line, "unclosed tag: missing '%s'", close);
        if (depth == 0 && lex_tag_end(lx, close, is_block)) {
            emit(lx, is_block ? TK_BLOCK_END : TK_VAR_END, lx->line);
            return;
        }
        char c = lx->s[lx->pos];
        size_t ws = py_lstrip_ws(lx->s + lx->pos, lx->n - lx->pos);
        if (ws) { advance(lx, ws); continue; }
        if (c == '\'' || c == '"') lex_string(lx);
        else if (isdig(c)) lex_number(lx);
        else if (isname(c, 0)) {
            size_t i = lx->pos;
            while (i < lx->n && isname(lx->s[i], 1)) i++;
            token *t = emit(lx, TK_NAME, lx->line);
            t->s = tp_strndup(lx->st, lx->s + lx->pos, i - lx->pos);
            t->n = i - lx->pos;
            advance(lx, i - lx->pos);
        } else lex_op(lx, stack, &depth);
    }
}

/* ---- comments and raw blocks ------------------------------------------------ */

static void lex_comment(lexer *lx) {
    int line = lx->line;
    const char *end = strstr(lx->s + lx->pos, "#}");
    if (!end) tp_fail(lx->st, line, "missing end of comment tag");
    size_t k = (size_t)(end - lx->s);
    char sign = k > lx->pos && (lx->s[k - 1] == '-' || lx->s[k - 1] == '+') ? lx->s[k - 1] : 0;
    advance(lx, (sign ? k - 1 : k) - lx->pos);
    lex_tag_end(lx, "#}", 1);
}

/* "{% raw %}" (after its "{%" and sign): returns 1 and lexes through
 * "{% endraw %}" when the tag is a raw block. */
static int lex_raw(lexer *lx) {
    const char *p = lx->s + lx->pos;
    size_t i = py_lstrip_ws(p, lx->n - lx->pos);
    if (strncmp(p + i, "raw", 3)) return 0;
    i += 3;
    i += py_lstrip_ws(p + i, lx->n - lx->pos - i);
    int strip_after = p[i] == '-';
    if (strncmp(p + i + strip_after, "%}", 2)) return 0;
    advance(lx, i + strip_after + 2);
    if (strip_after) skip_ws(lx);
    for (size_t j = lx->pos; j + 1 < lx->n; j++) {
        if (lx->s[j] != '{' || lx->s[j + 1] != '%') continue;
        size_t t = j + 2;
        char sign = lx->s[t] == '-' || lx->s[t] == '+' ? lx->s[t++] : 0;
        t += py_lstrip_ws(lx->s + t, lx->n - t);
        if (strncmp(lx->s + t, "endraw", 6)) continue;
        t += 6;
        t += py_lstrip_ws(lx->s + t, lx->n - t);
        emit_text(lx, lx->pos, j, sign, 1);
        advance(lx, t - lx->pos);
        if (!lex_tag_end(lx, "%}", 1)) tp_fail(lx->st, lx->line, "malformed endraw tag");
        return 1;
    }
    tp_fail(lx->st, lx->line, "missing end of raw directive");
}

/* ---- driver ----------------------------------------------------------------- */

void tp_lex(tp_state *st, const char *src, size_t len, token_list *out) {
    lexer lx = {.st = st, .line = 1, .line_starting = 1, .out = out};
    lx.s = normalize(st, src, len, &lx.n);
    out->v = NULL;
    out->n = 0;
    while (lx.pos < lx.n) {
        const char *tag = NULL;
        for (size_t i = lx.pos; i + 1 < lx.n; i++)
            if (lx.s[i] == '{' && (lx.s[i + 1] == '{' || lx.s[i + 1] == '%' || lx.s[i + 1] == '#')) {
                tag = lx.s + i;
                break;
            }
        if (!tag) {
            emit_text(&lx, lx.pos, lx.n, 0, 0);
            break;
        }
        size_t at = (size_t)(tag - lx.s);
        char kind = tag[1];
        char sign = at + 2 < lx.n && (tag[2] == '-' || tag[2] == '+') ? tag[2] : 0;
        emit_text(&lx, lx.pos, at, sign, kind != '{');
        advance(&lx, 2 + (sign != 0));
        if (kind == '#') {
            lex_comment(&lx);
        } else if (kind == '%' && lex_raw(&lx)) {
            continue;
        } else {
            emit(&lx, kind == '%' ? TK_BLOCK_BEGIN : TK_VAR_BEGIN, lx.line);
            lex_tag(&lx, kind == '%');
        }
    }
    emit(&lx, TK_EOF, lx.line);
}
