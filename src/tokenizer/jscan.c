#include "tokenizer/jscan.h"
#include "tokenizer/utf8.h"
#include "base/err.h"

#include <stdio.h>
#include <string.h>

void jscan_init(jscan *s, const char *path, const char *text, size_t n, char *err, size_t errlen) {
    s->path = path;
    s->begin = s->p = text;
    s->end = text + n;
    s->err = err;
    s->errlen = errlen;
}

int jscan_fail(jscan *s, const char *msg) {
    int line = 1, col = 1;
    for (const char *q = s->begin; q < s->p && q < s->end; q++) {
        if (*q == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    return qw_errf(s->err, s->errlen, QWENC_EFORMAT, "%s:%d:%d: invalid JSON: %s", s->path, line,
                   col, msg);
}

char jscan_peek(jscan *s) {
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
        s->p++;
    return s->p < s->end ? *s->p : 0;
}

int jscan_expect(jscan *s, char c) {
    if (jscan_peek(s) != c) {
        char msg[32];
        snprintf(msg, sizeof msg, "expected '%c'", c);
        return jscan_fail(s, msg);
    }
    s->p++;
    return 0;
}

int jscan_next_member(jscan *s, char close, int first) {
    char c = jscan_peek(s);
    if (c == close) {
        s->p++;
        return 0;
    }
    if (!first) {
        if (c != ',') return jscan_fail(s, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
        s->p++;
    }
    return 1;
}

static int hex4(const char *p, unsigned *v) {
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        unsigned d;
        if (c >= '0' && c <= '9') d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') d = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') d = (unsigned)(c - 'A' + 10);
        else return -1;
        *v = *v * 16 + d;
    }
    return 0;
}

/* Decodes the \uXXXX escape (and a following low surrogate) at s->p, which
 * points just after the 'u'. */
static int read_unicode_escape(jscan *s, uint32_t *cp) {
    unsigned hi, lo;
    if (s->end - s->p < 4 || hex4(s->p, &hi)) return jscan_fail(s, "bad \\u escape");
    s->p += 4;
    if (hi >= 0xDC00 && hi <= 0xDFFF) return jscan_fail(s, "lone low surrogate in \\u escape");
    if (hi >= 0xD800 && hi <= 0xDBFF) {
        if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u' || hex4(s->p + 2, &lo) ||
            lo < 0xDC00 || lo > 0xDFFF)
            return jscan_fail(s, "unpaired surrogate in \\u escape");
        s->p += 6;
        *cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
        return 0;
    }
    *cp = hi;
    return 0;
}

static int read_escape(jscan *s, qw_buf *out) {
    char c = *s->p++, ch;
    switch (c) {
    case '"': ch = '"'; break;
    case '\\': ch = '\\'; break;
    case '/': ch = '/'; break;
    case 'b': ch = '\b'; break;
    case 'f': ch = '\f'; break;
    case 'n': ch = '\n'; break;
    case 'r': ch = '\r'; break;
    case 't': ch = '\t'; break;
    case 'u': {
        uint32_t cp = 0;
        char tmp[4];
        int rc = read_unicode_escape(s, &cp);
        if (rc) return rc;
        return qw_buf_append(out, tmp, utf8_encode_char(cp, tmp));
    }
    default: s->p--; return jscan_fail(s, "bad escape in string");
    }
    return qw_buf_append(out, &ch, 1);
}

int jscan_string(jscan *s, qw_buf *out) {
    int rc = jscan_expect(s, '"');
    if (rc) return rc;
    out->len = 0;
    if ((rc = qw_buf_append(out, "", 0))) return rc;
    for (;;) {
        /* Copy the run of plain bytes up to the next quote or backslash. */
        const char *q = s->p;
        while (q < s->end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20) q++;
        if ((rc = qw_buf_append(out, s->p, (size_t)(q - s->p)))) return rc;
        s->p = q;
        if (q >= s->end) return jscan_fail(s, "unterminated string");
        if (*q == '"') break;
        if (*q != '\\') return jscan_fail(s, "control character in string");
        s->p++;
        if (s->p >= s->end) return jscan_fail(s, "unterminated string");
        if ((rc = read_escape(s, out))) return rc;
    }
    s->p++;
    size_t bad;
    if (!utf8_validate(out->data, out->len, &bad)) return jscan_fail(s, "invalid UTF-8 in string");
    return 0;
}

/* Skips a string without decoding it (s->p at the opening quote). */
static int skip_string(jscan *s) {
    s->p++;
    while (s->p < s->end) {
        char c = *s->p++;
        if (c == '"') return 0;
        if (c == '\\' && s->p < s->end) s->p++;
    }
    return jscan_fail(s, "unterminated string");
}

int jscan_skip_value(jscan *s, const char **start, size_t *len) {
    /* Tracks bracket depth only; jansson validates the skipped text later. */
    int depth = 0;
    char c = jscan_peek(s);
    *start = s->p;
    if (!c) return jscan_fail(s, "unexpected end of file");
    do {
        c = jscan_peek(s);
        if (!c) return jscan_fail(s, "unexpected end of file");
        if (c == '"') {
            int rc = skip_string(s);
            if (rc) return rc;
        } else if (c == '{' || c == '[') {
            depth++;
            s->p++;
        } else if (c == '}' || c == ']') {
            if (depth == 0) return jscan_fail(s, "unexpected closing bracket");
            depth--;
            s->p++;
        } else if (c == ',' || c == ':') {
            if (depth == 0) return jscan_fail(s, "unexpected separator");
            s->p++;
        } else {
            /* number, true, false, null: a run of literal characters */
            const char *q = s->p;
            while (q < s->end && strchr(" \t\r\n,:]}[{\"", *q) == NULL) q++;
            s->p = q;
        }
    } while (depth > 0);
    *len = (size_t)(s->p - *start);
    return 0;
}
