#include "server/json_machine.h"

#include <limits.h>
#include <string.h>

/* ---- states, threads, frames ------------------------------------------------ */

/* What the next byte of a frame's value may be. */
enum {
    M_VALUE,      /* before the value: whitespace, then its first byte (resolves JS_ANY and JS_ALT) */
    M_OBJ_FIRST,  /* after '{': a key or '}' */
    M_OBJ_KEY,    /* after ',': a key */
    M_OBJ_INKEY,  /* inside a declared key, matched against the candidates */
    M_OBJ_COLON,  /* after a key */
    M_OBJ_AFTER,  /* after a property's value: ',' or '}' */
    M_ARR_FIRST,  /* after '[': an item or ']' */
    M_ARR_AFTER,  /* after an item: ',' or ']' */
    M_STR,        /* inside a string */
    M_ESC,        /* after '\' */
    M_HEX,        /* inside \uXXXX */
    M_LOW_BS,     /* after a high surrogate escape: the '\' of its low half */
    M_LOW_U,      /* then 'u' */
    M_UTF8,       /* inside a multi-byte UTF-8 sequence */
    M_NUM_MINUS,  /* after '-' */
    M_NUM_ZERO,   /* after a leading 0 */
    M_NUM_INT,    /* in the integer digits */
    M_NUM_DOT,    /* after '.' */
    M_NUM_FRAC,   /* in the fraction digits */
    M_NUM_E,      /* after 'e' */
    M_NUM_ESIGN,  /* after the exponent's sign */
    M_NUM_EXP,    /* in the exponent digits */
    M_LIT,        /* inside one of a literal node's texts */
};

/* What a step did: the byte is taken, it is invalid, the value ended
 * before it (it goes to the frame below), or an anyOf must fork. */
enum { R_DEAD = -1, R_OK = 0, R_AGAIN = 1, R_FORK = 2 };

enum { JF_LOW = 1 };  /* a \u high surrogate wants its low half */

/* Every frame is 16 bytes and starts with its node and mode. */
typedef struct {
    uint16_t node;
    uint8_t mode, sub;
} frame_head;

typedef struct {
    uint16_t node;
    uint8_t mode, sub;  /* sub: UTF-8 bytes left, \u digits read; formats: fraction digits, label length */
    uint32_t count;     /* characters so far */
    uint16_t hex;       /* the \u digits; date formats: the year modulo 400 */
    uint8_t lo, hi;     /* the next UTF-8 continuation byte's range; formats: month, tens digit, labels */
    uint8_t flags, fpos;
    uint16_t pad;
} str_frame;

typedef struct {
    uint16_t node;
    uint8_t mode, sub;
    uint16_t at;      /* the first property that may still come */
    uint16_t prop;    /* the property whose key was just read */
    uint16_t lo, hi;  /* inside a key: the candidates, a range of the node's sorted keys */
    uint32_t pos;     /* inside a key: bytes matched */
} obj_frame;

typedef struct {
    uint16_t node;
    uint8_t mode, sub;
    uint32_t count;   /* items so far */
    uint32_t pad[2];
} arr_frame;

typedef struct {
    uint16_t node;
    uint8_t mode, sub;
    uint32_t lo, hi;  /* the texts still possible */
    uint32_t pos;     /* bytes matched */
} lit_frame;

typedef struct {
    uint16_t node;
    uint8_t mode, sub;  /* sub: unbounded numbers: digits in the current part */
    uint8_t digits, frac, neg, pad;
    int64_t x;          /* bounded numbers: the magnitude so far, in units of 10^-frac_digits */
} num_frame;

typedef union {
    frame_head h;
    str_frame s;
    obj_frame o;
    arr_frame a;
    lit_frame l;
    num_frame n;
} frame;

typedef struct {
    uint8_t depth;  /* frames */
    uint8_t ws;     /* whitespace bytes in the current run */
    uint8_t pad[6];
    frame f[];
} thread;

struct jm_state {
    uint32_t size;  /* bytes, this header included */
    uint16_t n;     /* threads */
    uint16_t pad;
};

_Static_assert(sizeof(frame) == 16 && sizeof(thread) == 8 && sizeof(jm_state) == 8, "the sizes JM_STATE_MAX assumes");
_Static_assert(JS_MAX_FRAMES < 256, "depth is one byte");

static size_t thread_size(const thread *t) { return sizeof *t + t->depth * sizeof(frame); }
static thread *first_thread(const jm_state *st) { return (thread *)((char *)st + sizeof *st); }
static thread *next_thread(const thread *t) { return (thread *)((char *)t + thread_size(t)); }
size_t jm_size(const jm_state *st) { return st->size; }

static int is_ws(unsigned c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
static int is_digit(unsigned c) { return c >= '0' && c <= '9'; }

static int ws_run(thread *t, int limit) {
    if (t->ws >= limit) return R_DEAD;
    t->ws++;
    return R_OK;
}

static int fits(const json_schema *s, const thread *t, uint32_t node) {
    return t->depth + s->nodes[node].min_depth <= JS_MAX_FRAMES;
}

static int push(thread *t, uint32_t node) {
    frame *f = &t->f[t->depth++];
    memset(f, 0, sizeof *f);
    f->h.node = (uint16_t)node;
    f->h.mode = M_VALUE;
    return R_OK;
}

static int pop(thread *t) {
    t->depth--;
    return R_OK;
}

/* ---- sorted texts: keys and literals ---------------------------------------- */

/* The byte at pos of the i-th text in sorted order, -1 past its end. */
static int key_byte_at(const js_node *n, uint32_t i, uint32_t pos) {
    const js_prop *p = &n->u.obj.props[n->u.obj.sorted[i]];
    return pos < p->key_len ? (unsigned char)p->key[pos] : -1;
}

static int lit_byte_at(const js_node *n, uint32_t i, uint32_t pos) {
    return pos < n->u.lit.len[i] ? (unsigned char)n->u.lit.text[i][pos] : -1;
}

typedef int (*byte_at_fn)(const js_node *n, uint32_t i, uint32_t pos);

/* The first index in [lo, hi) whose byte at pos is at least c: texts that
 * share their first pos bytes are ordered by the next one. */
static uint32_t lower_bound(const js_node *n, byte_at_fn at, uint32_t lo, uint32_t hi, uint32_t pos, int c) {
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (at(n, mid, pos) < c) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* Narrows [*lo, *hi) to the texts whose byte at pos is c; 0 if none. */
static int narrow(const js_node *n, byte_at_fn at, uint32_t *lo, uint32_t *hi, uint32_t pos, unsigned c) {
    uint32_t a = lower_bound(n, at, *lo, *hi, pos, (int)c), b = lower_bound(n, at, a, *hi, pos, (int)c + 1);
    if (a == b) return 0;
    *lo = a, *hi = b;
    return 1;
}

/* ---- strings ------------------------------------------------------------------ */

static int hex_value(unsigned c) {
    if (c >= '0' && c <= '9') return (int)c - '0';
    if (c >= 'a' && c <= 'f') return (int)c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return (int)c - 'A' + 10;
    return -1;
}

/* One more character, if maxLength leaves room. */
static int char_start(str_frame *f, const js_node *n) {
    if (f->count >= n->u.str.max_len) return 0;
    f->count++;
    return 1;
}

/* The first byte of a UTF-8 sequence: how many continuation bytes follow
 * and the range of the first (no overlongs, no surrogates, nothing above
 * U+10FFFF). */
static int utf8_lead(str_frame *f, unsigned c) {
    uint8_t lo = 0x80, hi = 0xBF, need;
    if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c >= 0xE0 && c <= 0xEF) need = 2, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4) need = 3, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    else return R_DEAD;
    f->mode = M_UTF8;
    f->sub = need;
    f->lo = lo, f->hi = hi;
    return R_OK;
}

static int utf8_next(str_frame *f, unsigned c) {
    if (c < f->lo || c > f->hi) return R_DEAD;
    f->lo = 0x80, f->hi = 0xBF;
    if (--f->sub == 0) f->mode = M_STR, f->lo = f->hi = 0;
    return R_OK;
}

static int escape_byte(str_frame *f, unsigned c) {
    if (c == 'u') {
        f->mode = M_HEX;
        f->sub = 0;
        f->hex = 0;
        return R_OK;
    }
    if (!c || !strchr("\"\\/bfnrt", (int)c)) return R_DEAD;
    f->mode = M_STR;
    return R_OK;
}

/* \uXXXX: a high surrogate must be followed by a low one and a low one
 * must follow a high one (strict parsers reject lone halves), which the
 * first two digits already decide, so every accepted prefix can still be
 * completed. The pair is one character, counted at the first '\'. */
static int hex_byte(str_frame *f, unsigned c) {
    int v = hex_value(c);
    if (v < 0) return R_DEAD;
    f->hex = (uint16_t)(f->hex << 4 | v);
    f->sub++;
    if (f->sub == 1 && (f->flags & JF_LOW) && f->hex != 0xD) return R_DEAD;
    if (f->sub == 2) {
        int low_half = f->hex >= 0xDC && f->hex <= 0xDF;
        if (low_half != !!(f->flags & JF_LOW)) return R_DEAD;
    }
    if (f->sub < 4) return R_OK;
    int high = !(f->flags & JF_LOW) && f->hex >= 0xD800 && f->hex <= 0xDBFF;
    f->flags = high ? JF_LOW : 0;
    f->mode = high ? M_LOW_BS : M_STR;
    f->sub = 0, f->hex = 0;
    return R_OK;
}

/* ---- string formats (RFC 3339 date, time, date-time; RFC 4122 uuid; email) ---- */

static int max_day(unsigned year400, unsigned month) {
    static const uint8_t days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = year400 % 4 == 0 && (year400 % 100 != 0 || year400 == 0);
    return month == 2 && leap ? 29 : days[month - 1];
}

/* full-date: YYYY-MM-DD, a day that exists. pos 10: complete. */
static int date_step(str_frame *f, unsigned c) {
    unsigned d = c - '0', p = f->fpos;
    if (p == 4 || p == 7) return c == '-' ? (f->fpos++, R_OK) : R_DEAD;
    if (p > 9 || !is_digit(c)) return R_DEAD;
    if (p < 4) f->hex = (uint16_t)((f->hex * 10 + d) % 400);
    else if (p == 5 && d > 1) return R_DEAD;
    else if (p == 5) f->lo = (uint8_t)(d * 10);
    else if (p == 6 && (f->lo + d < 1 || f->lo + d > 12)) return R_DEAD;
    else if (p == 6) f->lo = (uint8_t)(f->lo + d);
    else if (p == 8 && (int)(d * 10) > max_day(f->hex, f->lo)) return R_DEAD;
    else if (p == 8) f->hi = (uint8_t)d;
    else if (p == 9 && (f->hi * 10 + d < 1 || (int)(f->hi * 10 + d) > max_day(f->hex, f->lo))) return R_DEAD;
    f->fpos++;
    return R_OK;
}

/* full-time: HH:MM:SS, an optional fraction of 1-9 digits, then Z or
 * +HH:MM / -HH:MM (the offset is required: RFC 3339's full-time). Phases:
 * 0-7 HH:MM:SS; 8 after the seconds; 9 after '.'; 10 in the fraction;
 * 11-15 the offset; 16 complete. */
static int two_digit(str_frame *f, unsigned c, unsigned max_first, unsigned max_second_if_max) {
    unsigned d = c - '0';
    if (!is_digit(c)) return R_DEAD;
    if (f->lo == 0) {  /* the first digit */
        if (d > max_first) return R_DEAD;
        f->lo = 1, f->hi = (uint8_t)d;
    } else {
        if (f->hi == max_first && max_second_if_max < 9 && d > max_second_if_max) return R_DEAD;
        f->lo = 0;
    }
    f->fpos++;
    return R_OK;
}

static int time_step(str_frame *f, unsigned c, unsigned base) {
    unsigned p = f->fpos - base;
    switch (p) {
    case 0: case 1: case 11: case 12: return two_digit(f, c, 2, 3);
    case 3: case 4: case 6: case 7: case 14: case 15: return two_digit(f, c, 5, 9);
    case 2: case 5: case 13: return c == ':' ? (f->fpos++, R_OK) : R_DEAD;
    case 9: return is_digit(c) ? (f->sub = 1, f->fpos++, R_OK) : R_DEAD;
    case 8:
    case 10:
        if (c == '.' && p == 8) return f->fpos++, R_OK;
        if (is_digit(c) && p == 10) return f->sub < 9 ? (f->sub++, R_OK) : R_DEAD;
        if (c == 'Z') return f->fpos = (uint8_t)(base + 16), R_OK;
        if (c == '+' || c == '-') return f->fpos = (uint8_t)(base + 11), R_OK;
        return R_DEAD;
    default: return R_DEAD;
    }
}

static unsigned time_min_more(unsigned p) {
    if (p < 8) return 8 - p + 1;
    if (p == 8 || p == 10) return 1;
    if (p == 9) return 2;
    return 16 - p;
}

static int uuid_step(str_frame *f, unsigned c) {
    unsigned p = f->fpos;
    if (p >= 36) return R_DEAD;
    int ok = (p == 8 || p == 13 || p == 18 || p == 23) ? c == '-' : hex_value(c) >= 0;
    return ok ? (f->fpos++, R_OK) : R_DEAD;
}

/* A dot-atom local part (at most 64 bytes), '@', then at least two domain
 * labels of letters, digits and inner hyphens (at most 63 bytes each).
 * fpos: 0 local start, 1 in the local part, 2 after a dot there, 3 label
 * start, 4 in a label, 5 after a hyphen; sub: bytes in the local part or
 * label; lo: domain labels begun (up to 2). */
enum { E_LOCAL0, E_LOCAL, E_LDOT, E_LABEL0, E_LABEL, E_HYPHEN };

static int is_alnum(unsigned c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int is_atext(unsigned c) { return is_alnum(c) || (c && strchr("!#$%&'*+/=?^_`{|}~-", (int)c)); }

static int email_step(str_frame *f, unsigned c) {
    switch (f->fpos) {
    case E_LOCAL0:
    case E_LDOT:
        if (!is_atext(c) || f->sub >= 64) return R_DEAD;
        return f->sub++, f->fpos = E_LOCAL, R_OK;
    case E_LOCAL:
        if (c == '@') return f->sub = 0, f->lo = 1, f->fpos = E_LABEL0, R_OK;
        if (c == '.') return f->sub + 2 <= 64 ? (f->sub++, f->fpos = E_LDOT, R_OK) : R_DEAD;
        return is_atext(c) && f->sub < 64 ? (f->sub++, R_OK) : R_DEAD;
    case E_LABEL0: return is_alnum(c) ? (f->sub = 1, f->fpos = E_LABEL, R_OK) : R_DEAD;
    default:  /* E_LABEL, E_HYPHEN */
        if (c == '.' && f->fpos == E_LABEL) return f->lo = 2, f->sub = 0, f->fpos = E_LABEL0, R_OK;
        if (c == '-') return f->sub + 2 <= 63 ? (f->sub++, f->fpos = E_HYPHEN, R_OK) : R_DEAD;
        return is_alnum(c) && f->sub < 63 ? (f->sub++, f->fpos = E_LABEL, R_OK) : R_DEAD;
    }
}

static unsigned email_min_more(const str_frame *f) {
    unsigned tld = f->lo >= 2 ? 0 : 2;  /* ".c" still to come */
    switch (f->fpos) {
    case E_LOCAL0: case E_LDOT: return 5;
    case E_LOCAL: return 4;
    case E_LABEL0: return 1 + tld;
    case E_LABEL: return tld;
    default: return 1 + tld;
    }
}

static int format_step(js_format fmt, str_frame *f, unsigned c) {
    switch (fmt) {
    case JS_FMT_DATE: return date_step(f, c);
    case JS_FMT_TIME: return time_step(f, c, 0);
    case JS_FMT_DATE_TIME:
        if (f->fpos < 10) return date_step(f, c);
        if (f->fpos == 10) return c == 'T' ? (f->fpos++, f->lo = f->hi = 0, R_OK) : R_DEAD;
        return time_step(f, c, 11);
    case JS_FMT_UUID: return uuid_step(f, c);
    default: return email_step(f, c);
    }
}

/* Fewest characters that complete the format from here. */
static unsigned format_min_more(js_format fmt, const str_frame *f) {
    switch (fmt) {
    case JS_FMT_DATE: return 10u - f->fpos;
    case JS_FMT_TIME: return time_min_more(f->fpos);
    case JS_FMT_DATE_TIME: return f->fpos <= 10 ? 10u - f->fpos + 1 + 9 : time_min_more(f->fpos - 11u);
    case JS_FMT_UUID: return 36u - f->fpos;
    default: return email_min_more(f);
    }
}

static int format_char(str_frame *f, const js_node *n, unsigned c) {
    uint32_t cap = n->u.str.max_len;
    if (n->u.str.format == JS_FMT_EMAIL && cap > JM_EMAIL_MAX) cap = JM_EMAIL_MAX;
    str_frame next = *f;
    if (format_step(n->u.str.format, &next, c)) return R_DEAD;
    if ((uint64_t)f->count + 1 + format_min_more(n->u.str.format, &next) > cap) return R_DEAD;
    next.count++;
    *f = next;
    return R_OK;
}

static int string_close(thread *t, const str_frame *f, const js_node *n) {
    if (f->count < n->u.str.min_len) return R_DEAD;
    if (n->u.str.format && format_min_more(n->u.str.format, f)) return R_DEAD;
    return pop(t);
}

static int string_byte(thread *t, str_frame *f, const js_node *n, unsigned c) {
    switch (f->mode) {
    case M_STR:
        if (c == '"') return string_close(t, f, n);
        if (n->u.str.format) return format_char(f, n, c);
        if (c < 0x20 || !char_start(f, n)) return R_DEAD;  /* control characters must be escaped */
        if (c == '\\') return f->mode = M_ESC, R_OK;
        return c < 0x80 ? R_OK : utf8_lead(f, c);
    case M_ESC: return escape_byte(f, c);
    case M_HEX: return hex_byte(f, c);
    case M_LOW_BS: return c == '\\' ? (f->mode = M_LOW_U, R_OK) : R_DEAD;
    case M_LOW_U: return c == 'u' ? (f->mode = M_HEX, f->sub = 0, f->hex = 0, R_OK) : R_DEAD;
    default: return utf8_next(f, c);
    }
}

/* ---- numbers ------------------------------------------------------------------ */

/* Unbounded: RFC 8259 numbers, at most JM_MAX_DIGITS digits per part (no
 * fraction or exponent for integers). R_AGAIN: c is not the number's and
 * the number may end before it. */
static int digit_run(num_frame *f, int digit, uint8_t mode, int max) {
    if (!digit) return R_DEAD;
    if (f->mode == mode) return ++f->sub > max ? R_DEAD : R_OK;
    f->mode = mode;
    f->sub = 1;
    return R_OK;
}

static int free_number_byte(thread *t, num_frame *f, const js_node *n, unsigned c) {
    int digit = is_digit(c), exp = (c == 'e' || c == 'E') && !n->u.num.integer;
    int dot = c == '.' && !n->u.num.integer;
    switch (f->mode) {
    case M_NUM_MINUS: return digit_run(f, digit, c == '0' ? M_NUM_ZERO : M_NUM_INT, JM_MAX_DIGITS);
    case M_NUM_ZERO:
    case M_NUM_INT:
        if (digit && f->mode == M_NUM_INT) return digit_run(f, 1, M_NUM_INT, JM_MAX_DIGITS);
        if (dot) return f->mode = M_NUM_DOT, R_OK;
        if (exp) return f->mode = M_NUM_E, R_OK;
        return digit ? R_DEAD : (pop(t), R_AGAIN);
    case M_NUM_DOT: return digit_run(f, digit, M_NUM_FRAC, JM_MAX_DIGITS);
    case M_NUM_FRAC:
        if (digit) return digit_run(f, 1, M_NUM_FRAC, JM_MAX_DIGITS);
        if (exp) return f->mode = M_NUM_E, R_OK;
        return pop(t), R_AGAIN;
    case M_NUM_E:
        if (c == '+' || c == '-') return f->mode = M_NUM_ESIGN, R_OK;
        /* fall through */
    case M_NUM_ESIGN: return digit_run(f, digit, M_NUM_EXP, JM_MAX_EXP_DIGITS);
    default:  /* M_NUM_EXP */
        return digit ? digit_run(f, 1, M_NUM_EXP, JM_MAX_EXP_DIGITS) : (pop(t), R_AGAIN);
    }
}

/* Bounded: fixed-point digits (frac_digits after the point at most, no
 * exponent) whose every prefix can still reach a value in [lo, hi], compared
 * exactly in units of 10^-frac_digits. */
static int64_t pow10i(int k) {
    int64_t p = 1;
    while (k-- > 0) p *= 10;
    return p;
}

/* Does the magnitude range [a, b] (negated when neg) meet [lo, hi]? */
static int range_hits(const js_node *n, int neg, int64_t a, int64_t b) {
    int64_t lo = neg ? -b : a, hi = neg ? -a : b;
    return hi >= n->u.num.lo && lo <= n->u.num.hi;
}

/* The integer part so far is v (digits of it): can more digits, a fraction
 * or nothing reach the range? */
static int int_part_feasible(const js_node *n, int neg, int64_t v, int digits) {
    int64_t unit = pow10i(n->u.num.frac_digits);
    if (v == 0) return range_hits(n, neg, 0, unit - 1);  /* a leading 0: 0.xxx at most */
    /* k more digits: v * 10^k .. (v + 1) * 10^k - 1, all below 10^max_int_digits */
    for (int64_t scale = 1, k = 0;; k++, scale *= 10) {
        if (range_hits(n, neg, v * scale * unit, (v + 1) * scale * unit - 1)) return 1;
        if (digits + k + 1 > n->u.num.max_int_digits) return 0;
    }
}

static int bounded_int_digit(num_frame *f, const js_node *n, unsigned c) {
    if (f->mode == M_NUM_ZERO || f->digits >= n->u.num.max_int_digits) return R_DEAD;
    int64_t unit = pow10i(n->u.num.frac_digits), v = f->x / unit * 10 + (c - '0');
    if (!int_part_feasible(n, f->neg, v, f->digits + 1)) return R_DEAD;
    f->x = v * unit;
    f->digits++;
    f->mode = v == 0 ? M_NUM_ZERO : M_NUM_INT;
    return R_OK;
}

static int bounded_frac_digit(num_frame *f, const js_node *n, unsigned c) {
    if (f->frac >= n->u.num.frac_digits) return R_DEAD;
    int64_t place = pow10i(n->u.num.frac_digits - f->frac - 1), x = f->x + (int64_t)(c - '0') * place;
    if (!range_hits(n, f->neg, x, x + place - 1)) return R_DEAD;
    f->x = x;
    f->frac++;
    f->mode = M_NUM_FRAC;
    return R_OK;
}

static int bounded_can_end(const num_frame *f, const js_node *n) {
    int digits_done = f->mode == M_NUM_ZERO || f->mode == M_NUM_INT || f->mode == M_NUM_FRAC;
    return digits_done && range_hits(n, f->neg, f->x, f->x);
}

static int bounded_number_byte(thread *t, num_frame *f, const js_node *n, unsigned c) {
    if (is_digit(c) && f->mode != M_NUM_DOT && f->mode != M_NUM_FRAC) return bounded_int_digit(f, n, c);
    if (is_digit(c)) return bounded_frac_digit(f, n, c);
    if (c == '.' && (f->mode == M_NUM_ZERO || f->mode == M_NUM_INT) && n->u.num.frac_digits > 0 &&
        range_hits(n, f->neg, f->x, f->x + pow10i(n->u.num.frac_digits) - 1))
        return f->mode = M_NUM_DOT, R_OK;
    return bounded_can_end(f, n) ? (pop(t), R_AGAIN) : R_DEAD;
}

static int number_start(num_frame *f, const js_node *n, unsigned c) {
    if (c == '-') {
        if (n->u.num.bounded && !range_hits(n, 1, 0, INT64_MAX / 2)) return R_DEAD;
        f->neg = 1;
        f->mode = M_NUM_MINUS;
        return R_OK;
    }
    if (!is_digit(c)) return R_DEAD;
    f->mode = M_NUM_MINUS;  /* "before the first digit", whatever the sign */
    if (n->u.num.bounded) return bounded_int_digit(f, n, c);
    return digit_run(f, 1, c == '0' ? M_NUM_ZERO : M_NUM_INT, JM_MAX_DIGITS);
}

static int number_byte(thread *t, num_frame *f, const js_node *n, unsigned c) {
    return n->u.num.bounded ? bounded_number_byte(t, f, n, c) : free_number_byte(t, f, n, c);
}

/* ---- literals ------------------------------------------------------------------ */

/* One of the node's exact texts. A text that is complete while longer ones
 * go on (numbers: 1 and 12) ends on the first byte that continues none. */
static int literal_byte(thread *t, lit_frame *f, const js_node *n, unsigned c) {
    uint32_t lo = f->lo, hi = f->hi;
    if (!narrow(n, lit_byte_at, &lo, &hi, f->pos, c))
        return n->u.lit.len[f->lo] == f->pos ? (pop(t), R_AGAIN) : R_DEAD;
    f->lo = lo, f->hi = hi, f->pos++;
    if (n->u.lit.len[lo] == f->pos && hi - lo == 1) return pop(t);
    return R_OK;
}

/* ---- objects --------------------------------------------------------------------- */

/* May property i come next (its value fitting in the depth left)? */
static int prop_allowed(const json_schema *s, const thread *t, const js_node *n, uint32_t at, uint32_t i) {
    return i >= at && i <= n->u.obj.req_from[at] && i < n->u.obj.n && fits(s, t, n->u.obj.props[i].node);
}

static int any_prop_allowed(const json_schema *s, const thread *t, const js_node *n, uint32_t at) {
    for (uint32_t i = at; i < n->u.obj.n && i <= n->u.obj.req_from[at]; i++)
        if (prop_allowed(s, t, n, at, i)) return 1;
    return 0;
}

/* A byte of a key, matched against the keys that may come next: those
 * after the last property written, up to the next required one. */
static int key_byte(const json_schema *s, thread *t, obj_frame *f, const js_node *n, unsigned c) {
    uint32_t lo = f->lo, hi = f->hi;
    if (!narrow(n, key_byte_at, &lo, &hi, f->pos, c)) return R_DEAD;
    int any = 0;
    for (uint32_t k = lo; k < hi && !any; k++) any = prop_allowed(s, t, n, f->at, n->u.obj.sorted[k]);
    if (!any) return R_DEAD;
    f->lo = (uint16_t)lo, f->hi = (uint16_t)hi, f->pos++;
    if (n->u.obj.props[n->u.obj.sorted[lo]].key_len == f->pos) {  /* keys are quoted: no key is a prefix of another */
        f->prop = (uint16_t)n->u.obj.sorted[lo];
        f->mode = M_OBJ_COLON;
        f->lo = f->hi = 0, f->pos = 0;
    }
    return R_OK;
}

static int object_close(thread *t, const obj_frame *f, const js_node *n) {
    return n->u.obj.req_from[f->at] == n->u.obj.n ? pop(t) : R_DEAD;
}

static int object_byte(const json_schema *s, thread *t, obj_frame *f, const js_node *n, unsigned c) {
    switch (f->mode) {
    case M_OBJ_FIRST:
        if (c == '}') return object_close(t, f, n);
        /* fall through */
    case M_OBJ_KEY:
        if (c != '"') return is_ws(c) ? ws_run(t, JM_MAX_WS_RUN) : R_DEAD;
        f->lo = 0, f->hi = (uint16_t)n->u.obj.n, f->pos = 0;
        f->mode = M_OBJ_INKEY;
        return key_byte(s, t, f, n, c);
    case M_OBJ_INKEY: return key_byte(s, t, f, n, c);
    case M_OBJ_COLON: {
        if (c != ':') return is_ws(c) ? ws_run(t, JM_MAX_WS_RUN) : R_DEAD;
        uint32_t node = n->u.obj.props[f->prop].node;
        f->at = (uint16_t)(f->prop + 1), f->prop = 0;
        f->mode = M_OBJ_AFTER;
        return push(t, node);
    }
    default:  /* M_OBJ_AFTER */
        if (c == ',') return any_prop_allowed(s, t, n, f->at) ? (f->mode = M_OBJ_KEY, R_OK) : R_DEAD;
        if (c == '}') return object_close(t, f, n);
        return is_ws(c) ? ws_run(t, JM_MAX_WS_RUN) : R_DEAD;
    }
}

/* Any object: keys are any strings, values any values. */
static int any_object_byte(thread *t, obj_frame *f, unsigned c) {
    switch (f->mode) {
    case M_OBJ_FIRST:
        if (c == '}') return pop(t);
        /* fall through */
    case M_OBJ_KEY:
        if (c != '"') return is_ws(c) ? ws_run(t, JM_MAX_WS_RUN) : R_DEAD;
        f->mode = M_OBJ_COLON;
        push(t, JS_NODE_ANY_STRING);
        t->f[t->depth - 1].h.mode = M_STR;
        return R_OK;
    case M_OBJ_COLON:
        if (c != ':') return is_ws(c) ? ws_run(t, JM_MAX_WS_RUN) : R_DEAD;
        f->mode = M_OBJ_AFTER;
        return push(t, JS_NODE_ANY);
    default:
        if (c == ',') return f->mode = M_OBJ_KEY, R_OK;
        if (c == '}') return pop(t);
        return is_ws(c) ? ws_run(t, JM_MAX_WS_RUN) : R_DEAD;
    }
}

/* ---- arrays ---------------------------------------------------------------------- */

static int array_byte(const json_schema *s, thread *t, arr_frame *f, const js_node *n, unsigned c) {
    uint32_t items = n->u.arr.items;
    if (c == ']') return f->count >= n->u.arr.min_items ? pop(t) : R_DEAD;
    if (is_ws(c)) return ws_run(t, JM_MAX_WS_RUN);
    if (f->mode == M_ARR_AFTER && c != ',') return R_DEAD;
    if (f->count >= n->u.arr.max_items || !fits(s, t, items)) return R_DEAD;
    int first = f->mode == M_ARR_FIRST;
    f->count++;
    f->mode = M_ARR_AFTER;
    push(t, items);
    return first ? R_AGAIN : R_OK;  /* the first item's first byte is c itself */
}

/* ---- values --------------------------------------------------------------------- */

/* JS_ANY: the first byte decides the kind of value. */
static int resolve_any(const json_schema *s, thread *t, frame *f, unsigned c) {
    uint32_t to;
    if (c == '{') to = JS_NODE_ANY_OBJECT;
    else if (c == '[') to = JS_NODE_ANY_ARRAY;
    else if (c == '"') to = JS_NODE_ANY_STRING;
    else if (c == 't' || c == 'f' || c == 'n') to = JS_NODE_SCALAR_LITERALS;
    else if (c == '-' || is_digit(c)) to = JS_NODE_ANY_NUMBER;
    else return R_DEAD;
    if (t->depth - 1 + s->nodes[to].min_depth > JS_MAX_FRAMES) return R_DEAD;
    f->h.node = (uint16_t)to;
    return R_AGAIN;
}

static int value_start(const json_schema *s, thread *t, frame *f, const js_node *n, unsigned c) {
    if (is_ws(c)) return ws_run(t, JM_MAX_WS_RUN);
    switch (n->kind) {
    case JS_ANY: return resolve_any(s, t, f, c);
    case JS_ANY_OBJECT:
    case JS_OBJECT: return c == '{' ? (f->h.mode = M_OBJ_FIRST, R_OK) : R_DEAD;
    case JS_ARRAY: return c == '[' ? (f->h.mode = M_ARR_FIRST, R_OK) : R_DEAD;
    case JS_STRING: return c == '"' ? (f->h.mode = M_STR, R_OK) : R_DEAD;
    case JS_NUMBER: return number_start(&f->n, n, c);
    case JS_LITERAL:
        f->l.mode = M_LIT;
        f->l.lo = 0, f->l.hi = n->u.lit.n, f->l.pos = 0;
        return literal_byte(t, &f->l, n, c);
    default: return R_DEAD;
    }
}

static int frame_byte(const json_schema *s, thread *t, frame *f, unsigned c) {
    const js_node *n = &s->nodes[f->h.node];
    if (f->h.mode == M_VALUE) return value_start(s, t, f, n, c);
    switch (n->kind) {
    case JS_ANY_OBJECT: return any_object_byte(t, &f->o, c);
    case JS_OBJECT: return object_byte(s, t, &f->o, n, c);
    case JS_ARRAY: return array_byte(s, t, &f->a, n, c);
    case JS_STRING: return string_byte(t, &f->s, n, c);
    case JS_NUMBER: return number_byte(t, &f->n, n, c);
    case JS_LITERAL: return literal_byte(t, &f->l, n, c);
    default: return R_DEAD;
    }
}

/* One byte through one thread, in place: R_OK, R_DEAD, or R_FORK when the
 * value about to start is an anyOf (the byte is not taken yet). */
static int advance(const json_schema *s, thread *t, unsigned c) {
    if (!is_ws(c)) t->ws = 0;
    for (;;) {
        if (!t->depth) return is_ws(c) ? ws_run(t, JM_MAX_TRAILING_WS) : R_DEAD;
        frame *f = &t->f[t->depth - 1];
        if (f->h.mode == M_VALUE && s->nodes[f->h.node].kind == JS_ALT && !is_ws(c)) return R_FORK;
        int r = frame_byte(s, t, f, c);
        if (r != R_AGAIN) return r;
    }
}

/* ---- the thread set ---------------------------------------------------------- */

/* Copies a thread word by word: a few words, which a string instruction
 * (what memcpy of an unknown size compiles to here) starts slowly on. */
static void copy_thread(thread *to, const thread *from) {
    uint64_t *d = (uint64_t *)to;
    const uint64_t *s = (const uint64_t *)from;
    for (size_t i = 0, n = thread_size(from) / 8; i < n; i++) d[i] = s[i];
}

static thread *append(jm_state *out, const thread *t) {
    if (out->n >= JS_MAX_ALTERNATIVES) return NULL;
    thread *u = (thread *)((char *)out + out->size);
    copy_thread(u, t);
    out->n++;
    out->size += (uint32_t)thread_size(t);
    return u;
}

static void drop_last(jm_state *out, thread *u) {
    out->n--;
    out->size = (uint32_t)((char *)u - (char *)out);
}

/* Keeps the last thread (whose size may have changed) unless an earlier
 * one is the same: alternatives that met again are one. */
static void keep_last(jm_state *out, thread *u) {
    size_t size = thread_size(u);
    const thread *t = first_thread(out);
    for (uint16_t i = 0; i + 1 < out->n; i++, t = next_thread(t))
        if (thread_size(t) == size && !memcmp(t, u, size)) {
            drop_last(out, u);
            return;
        }
    out->size = (uint32_t)((char *)u - (char *)out + size);
}

/* The value starting at byte c is an anyOf: one thread per alternative
 * that c can start (and that fits in the depth left). */
static void fork_thread(const json_schema *s, const thread *t, unsigned c, jm_state *out) {
    const js_node *alt = &s->nodes[t->f[t->depth - 1].h.node];
    for (uint32_t i = 0; i < alt->u.alt.n; i++) {
        uint32_t leaf = alt->u.alt.alts[i];
        if (t->depth - 1 + s->nodes[leaf].min_depth > JS_MAX_FRAMES) continue;
        thread *u = append(out, t);
        if (!u) return;  /* beyond JS_MAX_ALTERNATIVES: later alternatives are not followed */
        u->f[u->depth - 1].h.node = (uint16_t)leaf;
        if (advance(s, u, c) == R_OK) keep_last(out, u);
        else drop_last(out, u);
    }
}

static void step_thread(const json_schema *s, const thread *t, unsigned c, jm_state *out) {
    thread *u = append(out, t);
    if (!u) return;
    int r = advance(s, u, c);
    if (r == R_OK) return keep_last(out, u);
    if (r == R_FORK) {
        uint64_t copy[JM_THREAD_MAX / 8 + 1];
        copy_thread((thread *)copy, u);
        drop_last(out, u);
        return fork_thread(s, (const thread *)copy, c, out);
    }
    drop_last(out, u);
}

int jm_step(const json_schema *s, const jm_state *in, jm_state *out, unsigned byte) {
    out->size = sizeof *out;
    out->n = 0;
    out->pad = 0;
    const thread *t = first_thread(in);
    for (uint16_t i = 0; i < in->n; i++, t = next_thread(t)) step_thread(s, t, byte, out);
    return out->n ? 0 : -1;
}

void jm_start(const json_schema *s, jm_state *st) {
    memset(st, 0, sizeof *st + sizeof(thread) + sizeof(frame));
    st->n = 1;
    thread *t = first_thread(st);
    push(t, s->root);
    st->size = (uint32_t)(sizeof *st + thread_size(t));
}

const jm_state *jm_feed(const json_schema *s, const jm_state *from, jm_state *a, jm_state *b,
                        const unsigned char *bytes, size_t n) {
    const jm_state *cur = from;
    for (size_t i = 0; i < n; i++) {
        jm_state *next = cur == a ? b : a;
        if (jm_step(s, cur, next, bytes[i])) return NULL;
        cur = next;
    }
    return cur;
}

/* A value that could end here: a number or a literal that others extend. */
static int can_end(const json_schema *s, const frame *f) {
    const js_node *n = &s->nodes[f->h.node];
    if (n->kind == JS_LITERAL) return f->h.mode == M_LIT && n->u.lit.len[f->l.lo] == f->l.pos;
    if (n->kind != JS_NUMBER || f->h.mode == M_VALUE) return 0;
    if (n->u.num.bounded) return bounded_can_end(&f->n, n);
    int m = f->h.mode;
    return m == M_NUM_ZERO || m == M_NUM_INT || m == M_NUM_FRAC || m == M_NUM_EXP;
}

int jm_complete(const json_schema *s, const jm_state *st) {
    const thread *t = first_thread(st);
    for (uint16_t i = 0; i < st->n; i++, t = next_thread(t))
        if (!t->depth || (t->depth == 1 && can_end(s, &t->f[0]))) return 1;
    return 0;
}

long jm_string_budget(const json_schema *s, const jm_state *st) {
    long best = -1;
    const thread *t = first_thread(st);
    for (uint16_t i = 0; i < st->n; i++, t = next_thread(t)) {
        if (!t->depth) return -1;
        const frame *f = &t->f[t->depth - 1];
        const js_node *n = &s->nodes[f->h.node];
        if (n->kind != JS_STRING || n->u.str.format || f->h.mode != M_STR) return -1;
        long room = (long)(n->u.str.max_len - f->s.count);
        best = room > best ? room : best;
    }
    return best;
}

long jm_plain_chars(const unsigned char *bytes, size_t n) {
    static const js_node any_string = {.kind = JS_STRING, .sat = 1, .min_depth = 1, .u.str.max_len = UINT32_MAX};
    uint64_t room[(sizeof(thread) + sizeof(frame)) / 8] = {0};
    thread *t = (thread *)room;
    t->depth = 1;
    str_frame *f = &t->f[0].s;
    f->mode = M_STR;
    for (size_t i = 0; i < n; i++)
        if (string_byte(t, f, &any_string, bytes[i]) != R_OK || t->depth != 1) return -1;
    return f->mode == M_STR ? (long)f->count : -1;
}
