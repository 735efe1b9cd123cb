/* Internals of the chat-template interpreter (a Jinja subset), shared by
 * template_{value,lex,parse,eval,builtins}.c. Not part of any public API.
 *
 * Memory: everything one render allocates (tokens, AST, values, scopes,
 * buffers) lives in one arena that is freed when the render ends. Values are
 * therefore plain structs that point into the arena, with no reference counts.
 *
 * Errors: a failing render longjmps back to qw_template_render, which frees
 * the arena. Because nothing outside the arena is ever allocated mid-render,
 * unwinding this way leaks nothing and keeps every helper free of error
 * plumbing. */
#ifndef QW_TOKENIZER_TEMPLATE_IMPL_H
#define QW_TOKENIZER_TEMPLATE_IMPL_H

#include <jansson.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

/* Limits that keep hostile templates and inputs from exhausting the machine
 * (the byte and step limits are qw_template_limits' defaults). */
#define TP_MAX_BYTES ((size_t)512 << 20) /* arena + output */
#define TP_MAX_DEPTH 200                 /* nesting of blocks and expressions */
#define TP_MAX_CALL_DEPTH 100            /* nested macro calls */
#define TP_MAX_VALUE_DEPTH 2000          /* nesting when printing/comparing values */
#define TP_MAX_STEPS 50000000L           /* loop iterations + statements executed */

/* ---- render state, arena and errors ------------------------------------ */

typedef struct tp_chunk tp_chunk;

typedef struct tp_state {
    tp_chunk *chunks;
    size_t bytes;       /* everything allocated so far, against max_bytes */
    long steps;         /* work done, against max_steps */
    size_t max_bytes;
    long max_steps;
    int call_depth;
    jmp_buf fail;
    char msg[512];      /* the error, once failed */
} tp_state;

void *tp_alloc(tp_state *st, size_t n);                 /* zeroed */
void *tp_realloc(tp_state *st, void *p, size_t old, size_t n);
char *tp_strndup(tp_state *st, const char *s, size_t n);
void tp_free_all(tp_state *st);

/* Formats "template line N: ..." (N <= 0 leaves the line out) and unwinds. */
_Noreturn void tp_fail(tp_state *st, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- UTF-8 and Python's notion of whitespace --------------------------- */

uint32_t u8_next(const char *s, size_t n, size_t *i); /* decodes at *i, advances */
size_t u8_prev(const char *s, size_t i);              /* start of the char before i */
size_t u8_count(const char *s, size_t n);
size_t u8_offset(const char *s, size_t n, size_t k);  /* byte offset of char k (clamped) */
int u8_put(uint32_t cp, char *out);                   /* returns bytes written (1..4) */
int u8_valid(const char *s, size_t n);
int py_isspace(uint32_t cp);
size_t py_rstrip_ws(const char *s, size_t n);         /* length without trailing whitespace */
size_t py_lstrip_ws(const char *s, size_t n);         /* count of leading whitespace bytes */

/* ---- growable byte buffer (arena-backed) ------------------------------- */

typedef struct {
    tp_state *st;
    char *p;
    size_t n, cap;
} tp_buf;

void buf_init(tp_buf *b, tp_state *st);
void buf_add(tp_buf *b, const char *s, size_t n);
void buf_puts(tp_buf *b, const char *s);
void buf_putc(tp_buf *b, char c);
void buf_printf(tp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- values ------------------------------------------------------------- */

typedef enum {
    VK_UNDEF, VK_NONE, VK_BOOL, VK_INT, VK_FLOAT, VK_STR,
    VK_LIST,  /* list or tuple (is_tuple) */
    VK_DICT,  /* insertion-ordered mapping */
    VK_NS,    /* namespace(): a dict whose attributes can be assigned */
    VK_FUNC,  /* macro, caller, bound method or global function */
} tv_kind;

typedef struct tstr tstr;
typedef struct tlist tlist;
typedef struct tdict tdict;
typedef struct tfunc tfunc;

typedef struct tv {
    tv_kind kind;
    union {
        int b;
        int64_t i;
        double f;
        tstr *s;
        tlist *l;
        tdict *d; /* VK_DICT and VK_NS */
        tfunc *fn;
        const char *why; /* VK_UNDEF: what jinja2 would say when it is used */
    } u;
} tv;

struct tstr {
    size_t len;
    char *p; /* NUL-terminated */
};
struct tlist {
    size_t n, cap;
    tv *v;
    int is_tuple;
};
struct tdict {
    size_t n, cap;
    tv *keys, *vals;
};

struct node;
struct scope;

typedef enum { FN_GLOBAL, FN_METHOD, FN_MACRO, FN_CALLER, FN_LOOP_CYCLE } fn_kind;

struct tfunc {
    fn_kind kind;
    const char *name;
    tv self;                 /* FN_METHOD: the receiver */
    const struct node *def;  /* FN_MACRO / FN_CALLER: the definition */
    struct scope *closure;   /* FN_CALLER: the scope of the call site */
};

tv tv_undef(const char *why);
tv tv_none(void);
tv tv_bool(int b);
tv tv_int(int64_t i);
tv tv_float(double f);
tv tv_str(tp_state *st, const char *s, size_t n);
tv tv_cstr(tp_state *st, const char *s);
tv tv_strbuf(tp_buf *b); /* takes the buffer's bytes */
tv tv_list(tp_state *st, size_t cap);
tv tv_dict(tp_state *st);

void list_push(tp_state *st, tlist *l, tv v);
tv *dict_find(tdict *d, tv key);
tv *dict_find_str(tdict *d, const char *key);
void dict_set(tp_state *st, tdict *d, tv key, tv val);

int tv_truthy(tv v);
int tv_is_num(tv v);      /* int, float or bool (Python's Number) */
double tv_num(tv v);
int tv_equal(tp_state *st, tv a, tv b, int depth);
const char *tv_type_name(tv v); /* "str", "dict", ... as Python names them */

/* str(v) and repr(v) as Python prints them, appended to b. Undefined prints
 * as "" through str and is an error through repr (it cannot be inside data). */
void tv_str_into(tp_buf *b, tv v, int line);
void tv_repr_into(tp_buf *b, tv v, int line, int depth);
tstr *tv_to_str(tp_state *st, tv v, int line); /* str(v) as a string value */
void fmt_float(double f, char *out, size_t outlen); /* Python repr(float) */

typedef struct {
    int indent;          /* < 0: no indent */
    int ensure_ascii;
    const char *item_sep, *key_sep;
    int sort_keys;
} json_style;
void tv_tojson_into(tp_buf *b, tv v, const json_style *js, int line, int depth, int level);

tv tv_from_json(tp_state *st, json_t *j, int depth);

/* ---- lexer --------------------------------------------------------------- */

typedef enum {
    TK_EOF, TK_TEXT, TK_VAR_BEGIN, TK_VAR_END, TK_BLOCK_BEGIN, TK_BLOCK_END,
    TK_NAME, TK_STRING, TK_INT, TK_FLOAT, TK_OP,
} tk_kind;

typedef struct {
    tk_kind kind;
    int line;
    const char *s; /* TEXT/NAME/STRING/OP: the (decoded) text */
    size_t n;
    int64_t i;
    double f;
} token;

typedef struct {
    token *v;
    size_t n;
} token_list;

void tp_lex(tp_state *st, const char *src, size_t len, token_list *out);

/* ---- AST ----------------------------------------------------------------- */

typedef enum {
    /* statements */
    N_TEXT, N_OUTPUT, N_IF, N_FOR, N_SET, N_SET_BLOCK, N_MACRO, N_CALL_BLOCK,
    N_FILTER_BLOCK, N_BREAK, N_CONTINUE,
    /* expressions */
    E_CONST, E_NAME, E_ATTR, E_ITEM, E_SLICE, E_CALL, E_FILTER, E_TEST,
    E_NOT, E_NEG, E_POS, E_BIN, E_CMP, E_AND, E_OR, E_COND, E_LIST, E_TUPLE, E_DICT,
} node_kind;

typedef struct {
    struct node **v;
    size_t n;
} node_list;

/* One struct for every node; which fields a kind uses:
 *   N_TEXT val | N_OUTPUT a | N_IF a=cond body else_body
 *   N_FOR a=target b=iterable c=filter body else_body
 *   N_SET a=target b=value | N_SET_BLOCK a=target body
 *   N_MACRO name params/defaults body | N_CALL_BLOCK a=call params/defaults body
 *   N_FILTER_BLOCK a=filter chain (innermost input NULL) body
 *   E_CONST val | E_NAME name | E_ATTR a name | E_ITEM a b | E_SLICE a b c d
 *   E_CALL a args kwnames/kwargs | E_FILTER a name args kwnames/kwargs
 *   E_TEST a name args op=negated | E_NOT/E_NEG/E_POS a
 *   E_BIN op a b | E_CMP op a b | E_AND/E_OR a b | E_COND a=then b=cond c=else
 *   E_LIST/E_TUPLE args | E_DICT args=keys kwargs=values */
typedef struct node {
    node_kind kind;
    int line;
    int op;
    struct node *a, *b, *c, *d;
    const char *name;
    tv val;
    node_list body, else_body;
    node_list args, kwargs;
    const char **kwnames; /* also macro parameter names (with kwargs = defaults) */
} node;

/* Operators (node.op for E_BIN / E_CMP). */
enum {
    OP_ADD = 1, OP_SUB, OP_MUL, OP_DIV, OP_FLOORDIV, OP_MOD, OP_POW, OP_CONCAT,
    OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_IN, OP_NOTIN,
};

node_list tp_parse(tp_state *st, const token_list *toks);

/* ---- evaluation and builtins -------------------------------------------- */

typedef struct scope {
    struct scope *parent;
    tdict *vars;
} scope;

typedef struct {
    tp_state *st;
    scope *root;
    int line; /* of the node being evaluated, for errors */
} tp_interp;

/* Arguments of a call: positional then keyword. */
typedef struct {
    tv *pos;
    size_t npos;
    const char **kwnames;
    tv *kw;
    size_t nkw;
} tp_args;

int tp_filter_known(const char *name);
int tp_test_known(const char *name);
tv tp_apply_filter(tp_interp *in, const char *name, tv input, tp_args *args);
int tp_apply_test(tp_interp *in, const char *name, tv input, tp_args *args);
tv tp_call_global(tp_interp *in, const char *name, tp_args *args);
int tp_global_known(const char *name);
tv tp_call_method(tp_interp *in, tv self, const char *name, tp_args *args);
int tp_has_method(tv self, const char *name);

tv tp_lookup(scope *sc, const char *name);
tv tp_getattr(tp_interp *in, tv obj, const char *name);
tv tp_getitem(tp_interp *in, tv obj, tv key);
tv tp_call_value(tp_interp *in, tv fn, tp_args *args); /* eval.c: macros and callers */
tv tp_iter_list(tp_interp *in, tv v);                 /* list of what `for` visits */
int tp_order(tp_interp *in, tv a, tv b, int depth);    /* Python's <, as -1/0/1 */
int tp_contains(tp_interp *in, tv container, tv item); /* Python's `in` */

/* Raises jinja2's UndefinedError for a value used where it must exist. */
_Noreturn void tp_undefined_error(tp_interp *in, tv v);

void tp_render_nodes(tp_state *st, const node_list *prog, json_t *context, tp_buf *out);

#endif
