/* Chat templates: the parser. Tokens -> AST, following jinja2's grammar and
 * operator precedence (jinja2/parser.py): conditional < or < and < not <
 * comparisons < + - < ~ < * / // % < ** < unary - + < postfix (. [] ()) and
 * filters/tests. Unknown tags, filters and tests are errors here, before any
 * output is produced, the way jinja2 rejects them at compile time. */
#include "tokenizer/template_impl.h"

#include <string.h>

typedef struct {
    tp_state *st;
    const token *t;
    size_t pos, n;
    int depth;
    int loop_depth; /* for break/continue */
} parser;

static const token *cur(parser *p) { return &p->t[p->pos]; }
static const token *peek(parser *p, size_t k) { return &p->t[p->pos + k < p->n ? p->pos + k : p->n - 1]; }
static void next(parser *p) { if (p->pos + 1 < p->n) p->pos++; }

static int is_op(const token *t, const char *op) { return t->kind == TK_OP && !strcmp(t->s, op); }
static int is_name(const token *t, const char *name) { return t->kind == TK_NAME && !strcmp(t->s, name); }

static const char *describe(const token *t) {
    switch (t->kind) {
    case TK_EOF: return "end of template";
    case TK_VAR_END: return "end of print statement";
    case TK_BLOCK_END: return "end of statement block";
    case TK_STRING: return "string";
    case TK_INT: case TK_FLOAT: return "number";
    case TK_TEXT: return "text";
    case TK_VAR_BEGIN: return "'{{'";
    case TK_BLOCK_BEGIN: return "'{%'";
    default: return t->s;
    }
}

_Noreturn static void fail_unexpected(parser *p, const char *wanted) {
    const token *t = cur(p);
    if (wanted) tp_fail(p->st, t->line, "expected %s, got '%s'", wanted, describe(t));
    tp_fail(p->st, t->line, "unexpected '%s'", describe(t));
}

static void expect_op(parser *p, const char *op) {
    if (!is_op(cur(p), op)) {
        char w[16];
        snprintf(w, sizeof w, "'%s'", op);
        fail_unexpected(p, w);
    }
    next(p);
}

static void expect_kind(parser *p, tk_kind k, const char *what) {
    if (cur(p)->kind != k) fail_unexpected(p, what);
    next(p);
}

static const char *expect_name(parser *p) {
    if (cur(p)->kind != TK_NAME) fail_unexpected(p, "a name");
    const char *s = cur(p)->s;
    next(p);
    return s;
}

static node *mk(parser *p, node_kind k, int line) {
    node *n = tp_alloc(p->st, sizeof *n);
    n->kind = k;
    n->line = line;
    return n;
}

static void push(parser *p, node_list *l, node *n) {
    /* lists grow one by one; fine for the few children a node has */
    l->v = tp_realloc(p->st, l->v, l->n * sizeof *l->v, (l->n + 1) * sizeof *l->v);
    l->v[l->n++] = n;
}

static void push_kw(parser *p, node *call, const char *name, node *val) {
    size_t n = call->kwargs.n;
    call->kwnames = tp_realloc(p->st, call->kwnames, n * sizeof(char *), (n + 1) * sizeof(char *));
    call->kwnames[n] = name;
    push(p, &call->kwargs, val);
}

static void enter(parser *p) {
    if (++p->depth > TP_MAX_DEPTH) tp_fail(p->st, cur(p)->line, "template nested too deeply");
}

/* ---- expressions ------------------------------------------------------------ */

static node *parse_expr(parser *p, int with_cond);
static node *parse_unary(parser *p, int with_filter);
static node *parse_tuple(parser *p, int with_cond, int explicit_parens);

static int ends_tuple(const token *t) {
    return t->kind == TK_VAR_END || t->kind == TK_BLOCK_END || t->kind == TK_EOF || is_op(t, ")") ||
           is_op(t, "]") || is_op(t, "}") || is_op(t, "=") || is_name(t, "in") || is_name(t, "if");
}

/* "(" args ")" into call->args / kwargs. */
static void parse_call_args(parser *p, node *call) {
    expect_op(p, "(");
    while (!is_op(cur(p), ")")) {
        if (call->args.n || call->kwargs.n) expect_op(p, ",");
        if (is_op(cur(p), ")")) break;
        if (is_op(cur(p), "*") || is_op(cur(p), "**"))
            tp_fail(p->st, cur(p)->line, "unsupported construct: *args / **kwargs in a call");
        if (cur(p)->kind == TK_NAME && is_op(peek(p, 1), "=")) {
            const char *name = cur(p)->s;
            next(p);
            next(p);
            push_kw(p, call, name, parse_expr(p, 1));
        } else {
            if (call->kwargs.n) tp_fail(p->st, cur(p)->line, "positional argument after keyword argument");
            push(p, &call->args, parse_expr(p, 1));
        }
    }
    next(p);
}

static node *parse_list(parser *p) {
    node *n = mk(p, E_LIST, cur(p)->line);
    expect_op(p, "[");
    while (!is_op(cur(p), "]")) {
        if (n->args.n) expect_op(p, ",");
        if (is_op(cur(p), "]")) break;
        push(p, &n->args, parse_expr(p, 1));
    }
    next(p);
    return n;
}

static node *parse_dict(parser *p) {
    node *n = mk(p, E_DICT, cur(p)->line);
    expect_op(p, "{");
    while (!is_op(cur(p), "}")) {
        if (n->args.n) expect_op(p, ",");
        if (is_op(cur(p), "}")) break;
        push(p, &n->args, parse_expr(p, 1));
        expect_op(p, ":");
        push(p, &n->kwargs, parse_expr(p, 1));
    }
    next(p);
    return n;
}

static node *constant(parser *p, tv v, int line) {
    node *n = mk(p, E_CONST, line);
    n->val = v;
    return n;
}

static node *parse_primary(parser *p) {
    const token *t = cur(p);
    int line = t->line;
    switch (t->kind) {
    case TK_NAME:
        next(p);
        if (!strcmp(t->s, "true") || !strcmp(t->s, "True")) return constant(p, tv_bool(1), line);
        if (!strcmp(t->s, "false") || !strcmp(t->s, "False")) return constant(p, tv_bool(0), line);
        if (!strcmp(t->s, "none") || !strcmp(t->s, "None")) return constant(p, tv_none(), line);
        node *n = mk(p, E_NAME, line);
        n->name = t->s;
        return n;
    case TK_STRING: {
        tp_buf b; /* adjacent literals concatenate, as in Python */
        buf_init(&b, p->st);
        while (cur(p)->kind == TK_STRING) {
            buf_add(&b, cur(p)->s, cur(p)->n);
            next(p);
        }
        return constant(p, tv_strbuf(&b), line);
    }
    case TK_INT: next(p); return constant(p, tv_int(t->i), line);
    case TK_FLOAT: next(p); return constant(p, tv_float(t->f), line);
    case TK_OP:
        if (is_op(t, "(")) {
            next(p);
            node *n = parse_tuple(p, 1, 1);
            expect_op(p, ")");
            return n;
        }
        if (is_op(t, "[")) return parse_list(p);
        if (is_op(t, "{")) return parse_dict(p);
        /* fall through */
    default: fail_unexpected(p, NULL);
    }
}

/* After "[": an index or a slice a:b:c (any part optional). */
static node *parse_subscript(parser *p, node *obj) {
    int line = cur(p)->line;
    node *parts[3] = {NULL, NULL, NULL};
    int k = 0;
    if (!is_op(cur(p), ":")) parts[0] = parse_expr(p, 1);
    while (is_op(cur(p), ":") && k < 2) {
        next(p);
        k++;
        if (!is_op(cur(p), ":") && !is_op(cur(p), "]")) parts[k] = parse_expr(p, 1);
    }
    expect_op(p, "]");
    node *n = mk(p, k ? E_SLICE : E_ITEM, line);
    n->a = obj;
    n->b = parts[0];
    n->c = parts[1];
    n->d = parts[2];
    return n;
}

static node *parse_postfix(parser *p, node *n) {
    for (;;) {
        const token *t = cur(p);
        if (is_op(t, ".")) {
            next(p);
            if (cur(p)->kind == TK_INT) {
                node *it = mk(p, E_ITEM, t->line);
                it->a = n;
                it->b = constant(p, tv_int(cur(p)->i), t->line);
                next(p);
                n = it;
                continue;
            }
            node *at = mk(p, E_ATTR, t->line);
            at->a = n;
            at->name = expect_name(p);
            n = at;
        } else if (is_op(t, "[")) {
            next(p);
            n = parse_subscript(p, n);
        } else if (is_op(t, "(")) {
            node *c = mk(p, E_CALL, t->line);
            c->a = n;
            parse_call_args(p, c);
            n = c;
        } else {
            return n;
        }
    }
}

static node *parse_filter(parser *p, node *input) {
    int line = cur(p)->line;
    const char *name = expect_name(p);
    while (is_op(cur(p), ".")) { /* dotted filter names exist in jinja2; we have none */
        next(p);
        expect_name(p);
        tp_fail(p->st, line, "unknown filter '%s.…'", name);
    }
    if (!tp_filter_known(name)) tp_fail(p->st, line, "unknown filter '%s'", name);
    node *f = mk(p, E_FILTER, line);
    f->a = input;
    f->name = name;
    if (is_op(cur(p), "(")) parse_call_args(p, f);
    return f;
}

static node *parse_test(parser *p, node *input) {
    int line = cur(p)->line;
    int negated = 0;
    if (is_name(cur(p), "not")) { negated = 1; next(p); }
    const char *name = expect_name(p);
    if (!tp_test_known(name)) tp_fail(p->st, line, "unknown test '%s'", name);
    node *t = mk(p, E_TEST, line);
    t->a = input;
    t->name = name;
    t->op = negated;
    const token *c = cur(p);
    if (is_op(c, "(")) {
        parse_call_args(p, t);
    } else if ((c->kind == TK_NAME || c->kind == TK_STRING || c->kind == TK_INT || c->kind == TK_FLOAT ||
                is_op(c, "[") || is_op(c, "{")) &&
               !is_name(c, "else") && !is_name(c, "or") && !is_name(c, "and")) {
        if (is_name(c, "is")) tp_fail(p->st, c->line, "you cannot chain multiple tests with is");
        push(p, &t->args, parse_postfix(p, parse_primary(p)));
    }
    return t;
}

static node *parse_filter_expr(parser *p, node *n) {
    for (;;) {
        if (is_op(cur(p), "|")) {
            next(p);
            n = parse_filter(p, n);
        } else if (is_name(cur(p), "is")) {
            next(p);
            n = parse_test(p, n);
        } else if (is_op(cur(p), "(")) {
            node *c = mk(p, E_CALL, cur(p)->line);
            c->a = n;
            parse_call_args(p, c);
            n = c;
        } else {
            return n;
        }
    }
}

static node *parse_unary(parser *p, int with_filter) {
    enter(p);
    const token *t = cur(p);
    node *n;
    if (is_op(t, "-") || is_op(t, "+")) {
        next(p);
        n = mk(p, is_op(t, "-") ? E_NEG : E_POS, t->line);
        n->a = parse_unary(p, 0);
    } else {
        n = parse_primary(p);
    }
    n = parse_postfix(p, n);
    if (with_filter) n = parse_filter_expr(p, n);
    p->depth--;
    return n;
}

static node *binop(parser *p, node_kind k, int op, node *a, node *b, int line) {
    node *n = mk(p, k, line);
    n->op = op;
    n->a = a;
    n->b = b;
    return n;
}

static node *parse_pow(parser *p) {
    node *n = parse_unary(p, 1);
    while (is_op(cur(p), "**")) {
        int line = cur(p)->line;
        next(p);
        n = binop(p, E_BIN, OP_POW, n, parse_unary(p, 1), line);
    }
    return n;
}

static node *parse_math2(parser *p) {
    node *n = parse_pow(p);
    for (;;) {
        const token *t = cur(p);
        int op = is_op(t, "*") ? OP_MUL : is_op(t, "/") ? OP_DIV : is_op(t, "//") ? OP_FLOORDIV
               : is_op(t, "%") ? OP_MOD : 0;
        if (!op) return n;
        next(p);
        n = binop(p, E_BIN, op, n, parse_pow(p), t->line);
    }
}

static node *parse_concat(parser *p) {
    node *n = parse_math2(p);
    while (is_op(cur(p), "~")) {
        int line = cur(p)->line;
        next(p);
        n = binop(p, E_BIN, OP_CONCAT, n, parse_math2(p), line);
    }
    return n;
}

static node *parse_math1(parser *p) {
    node *n = parse_concat(p);
    for (;;) {
        const token *t = cur(p);
        int op = is_op(t, "+") ? OP_ADD : is_op(t, "-") ? OP_SUB : 0;
        if (!op) return n;
        next(p);
        n = binop(p, E_BIN, op, n, parse_concat(p), t->line);
    }
}

static int compare_op(parser *p) {
    const token *t = cur(p);
    if (t->kind == TK_OP) {
        static const struct { const char *s; int op; } ops[] = {
            {"==", OP_EQ}, {"!=", OP_NE}, {"<", OP_LT}, {"<=", OP_LE}, {">", OP_GT}, {">=", OP_GE}};
        for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
            if (!strcmp(t->s, ops[i].s)) { next(p); return ops[i].op; }
        return 0;
    }
    if (is_name(t, "in")) { next(p); return OP_IN; }
    if (is_name(t, "not") && is_name(peek(p, 1), "in")) { next(p); next(p); return OP_NOTIN; }
    return 0;
}

/* a < b < c means (a < b) and (b < c), as in Python. */
static node *parse_compare(parser *p) {
    node *left = parse_math1(p), *result = NULL;
    int op, line = cur(p)->line;
    while ((op = compare_op(p))) {
        node *right = parse_math1(p);
        node *c = binop(p, E_CMP, op, left, right, line);
        result = result ? binop(p, E_AND, 0, result, c, line) : c;
        left = right;
    }
    return result ? result : left;
}

static node *parse_not(parser *p) {
    if (is_name(cur(p), "not")) {
        enter(p);
        node *n = mk(p, E_NOT, cur(p)->line);
        next(p);
        n->a = parse_not(p);
        p->depth--;
        return n;
    }
    return parse_compare(p);
}

static node *parse_and(parser *p) {
    node *n = parse_not(p);
    while (is_name(cur(p), "and")) {
        int line = cur(p)->line;
        next(p);
        n = binop(p, E_AND, 0, n, parse_not(p), line);
    }
    return n;
}

static node *parse_or(parser *p) {
    node *n = parse_and(p);
    while (is_name(cur(p), "or")) {
        int line = cur(p)->line;
        next(p);
        n = binop(p, E_OR, 0, n, parse_and(p), line);
    }
    return n;
}

static node *parse_expr(parser *p, int with_cond) {
    enter(p);
    node *n = parse_or(p);
    while (with_cond && is_name(cur(p), "if")) {
        node *c = mk(p, E_COND, cur(p)->line);
        next(p);
        c->a = n;
        c->b = parse_or(p);
        if (is_name(cur(p), "else")) {
            next(p);
            c->c = parse_expr(p, 1);
        }
        n = c;
    }
    p->depth--;
    return n;
}

/* An expression, or a tuple when commas follow ("a, b" or "(a,)"). */
static node *parse_tuple(parser *p, int with_cond, int explicit_parens) {
    int line = cur(p)->line;
    if (explicit_parens && is_op(cur(p), ")")) return mk(p, E_TUPLE, line);
    node *first = parse_expr(p, with_cond);
    if (!is_op(cur(p), ",")) return first;
    node *t = mk(p, E_TUPLE, line);
    push(p, &t->args, first);
    while (is_op(cur(p), ",")) {
        next(p);
        if (ends_tuple(cur(p))) break;
        push(p, &t->args, parse_expr(p, with_cond));
    }
    return t;
}

/* ---- statements -------------------------------------------------------------- */

static node_list parse_body(parser *p, const char *const *stops, const char **found);

/* Assignment targets: a name, names separated by commas, or ns.attr. */
static node *parse_target(parser *p, int allow_attr) {
    int line = cur(p)->line;
    int parens = is_op(cur(p), "(");
    if (parens) next(p);
    node *t = mk(p, E_TUPLE, line);
    do {
        if (t->args.n) next(p);
        if (parens && is_op(cur(p), ")")) break;
        node *n = mk(p, E_NAME, cur(p)->line);
        n->name = expect_name(p);
        if (allow_attr && !parens && t->args.n == 0 && is_op(cur(p), ".")) {
            next(p);
            node *a = mk(p, E_ATTR, n->line);
            a->a = n;
            a->name = expect_name(p);
            return a;
        }
        push(p, &t->args, n);
    } while (is_op(cur(p), ","));
    if (parens) expect_op(p, ")");
    return t->args.n == 1 && !parens ? t->args.v[0] : t;
}

static void end_block(parser *p) { expect_kind(p, TK_BLOCK_END, "end of statement block"); }

static node *parse_if(parser *p, int line) {
    static const char *const stops[] = {"elif", "else", "endif", NULL};
    node *n = mk(p, N_IF, line);
    n->a = parse_tuple(p, 1, 0);
    end_block(p);
    const char *found;
    n->body = parse_body(p, stops, &found);
    if (!strcmp(found, "elif")) {
        push(p, &n->else_body, parse_if(p, cur(p)->line));
        return n;
    }
    end_block(p);
    if (!strcmp(found, "else")) {
        static const char *const endif[] = {"endif", NULL};
        n->else_body = parse_body(p, endif, &found);
        end_block(p);
    }
    return n;
}

static node *parse_for(parser *p, int line) {
    static const char *const stops[] = {"else", "endfor", NULL};
    node *n = mk(p, N_FOR, line);
    n->a = parse_target(p, 0);
    if (!is_name(cur(p), "in")) fail_unexpected(p, "'in'");
    next(p);
    n->b = parse_tuple(p, 0, 0);
    if (is_name(cur(p), "if")) {
        next(p);
        n->c = parse_expr(p, 1);
    }
    if (is_name(cur(p), "recursive")) tp_fail(p->st, cur(p)->line, "unsupported construct: recursive for loops");
    end_block(p);
    const char *found;
    p->loop_depth++;
    n->body = parse_body(p, stops, &found);
    p->loop_depth--;
    end_block(p);
    if (!strcmp(found, "else")) {
        static const char *const endfor[] = {"endfor", NULL};
        n->else_body = parse_body(p, endfor, &found);
        end_block(p);
    }
    return n;
}

static node *parse_set(parser *p, int line) {
    node *target = parse_target(p, 1);
    if (is_op(cur(p), "=")) {
        next(p);
        node *n = mk(p, N_SET, line);
        n->a = target;
        n->b = parse_tuple(p, 1, 0);
        end_block(p);
        return n;
    }
    if (is_op(cur(p), "|")) tp_fail(p->st, line, "unsupported construct: filtered block set");
    if (target->kind != E_NAME) tp_fail(p->st, line, "a block set needs a single name");
    end_block(p);
    static const char *const stops[] = {"endset", NULL};
    const char *found;
    node *n = mk(p, N_SET_BLOCK, line);
    n->a = target;
    n->body = parse_body(p, stops, &found);
    end_block(p);
    return n;
}

/* "(a, b=default, ...)" into n->kwnames / n->kwargs (default or NULL). */
static void parse_params(parser *p, node *n) {
    expect_op(p, "(");
    while (!is_op(cur(p), ")")) {
        if (n->kwargs.n) expect_op(p, ",");
        if (is_op(cur(p), ")")) break;
        const char *name = expect_name(p);
        node *def = NULL;
        if (is_op(cur(p), "=")) {
            next(p);
            def = parse_expr(p, 1);
        }
        push_kw(p, n, name, def);
    }
    next(p);
}

static node *parse_macro(parser *p, int line) {
    static const char *const stops[] = {"endmacro", NULL};
    node *n = mk(p, N_MACRO, line);
    n->name = expect_name(p);
    parse_params(p, n);
    end_block(p);
    const char *found;
    int saved = p->loop_depth;
    p->loop_depth = 0;
    n->body = parse_body(p, stops, &found);
    p->loop_depth = saved;
    end_block(p);
    return n;
}

static node *parse_call_block(parser *p, int line) {
    static const char *const stops[] = {"endcall", NULL};
    node *n = mk(p, N_CALL_BLOCK, line);
    if (is_op(cur(p), "(")) parse_params(p, n);
    n->a = parse_expr(p, 1);
    if (n->a->kind != E_CALL) tp_fail(p->st, line, "expected a call after 'call'");
    end_block(p);
    const char *found;
    n->body = parse_body(p, stops, &found);
    end_block(p);
    return n;
}

static node *parse_filter_block(parser *p, int line) {
    static const char *const stops[] = {"endfilter", NULL};
    node *n = mk(p, N_FILTER_BLOCK, line);
    node *chain = parse_filter(p, NULL);
    while (is_op(cur(p), "|")) {
        next(p);
        chain = parse_filter(p, chain);
    }
    n->a = chain;
    end_block(p);
    const char *found;
    n->body = parse_body(p, stops, &found);
    end_block(p);
    return n;
}

/* transformers' {% generation %} marks assistant text; it renders as is. */
static node *parse_generation(parser *p, int line) {
    static const char *const stops[] = {"endgeneration", NULL};
    end_block(p);
    node *n = mk(p, N_IF, line);
    n->a = constant(p, tv_bool(1), line);
    const char *found;
    n->body = parse_body(p, stops, &found);
    end_block(p);
    return n;
}

static node *parse_statement(parser *p) {
    const token *t = cur(p);
    int line = t->line;
    if (t->kind != TK_NAME) fail_unexpected(p, "a tag name");
    const char *tag = t->s;
    next(p);
    if (!strcmp(tag, "if")) return parse_if(p, line);
    if (!strcmp(tag, "for")) return parse_for(p, line);
    if (!strcmp(tag, "set")) return parse_set(p, line);
    if (!strcmp(tag, "macro")) return parse_macro(p, line);
    if (!strcmp(tag, "call")) return parse_call_block(p, line);
    if (!strcmp(tag, "filter")) return parse_filter_block(p, line);
    if (!strcmp(tag, "generation")) return parse_generation(p, line);
    if (!strcmp(tag, "break") || !strcmp(tag, "continue")) {
        if (!p->loop_depth) tp_fail(p->st, line, "'%s' outside of a loop", tag);
        end_block(p);
        return mk(p, tag[0] == 'b' ? N_BREAK : N_CONTINUE, line);
    }
    if (!strncmp(tag, "end", 3) || !strcmp(tag, "else") || !strcmp(tag, "elif"))
        tp_fail(p->st, line, "unexpected tag '%s'", tag);
    tp_fail(p->st, line, "unknown tag '%s'", tag);
}

/* Nodes up to a block tag named in stops (NULL-terminated; NULL = up to the
 * end). *found receives the stop tag; the parser is left after its name. */
static node_list parse_body(parser *p, const char *const *stops, const char **found) {
    enter(p);
    node_list body = {0};
    for (;;) {
        const token *t = cur(p);
        if (t->kind == TK_EOF) {
            if (stops) tp_fail(p->st, t->line, "unexpected end of template, expected '%s'", stops[0]);
            break;
        }
        if (t->kind == TK_TEXT) {
            node *n = mk(p, N_TEXT, t->line);
            n->val = tv_str(p->st, t->s, t->n);
            push(p, &body, n);
            next(p);
        } else if (t->kind == TK_VAR_BEGIN) {
            next(p);
            node *n = mk(p, N_OUTPUT, t->line);
            n->a = parse_tuple(p, 1, 0);
            expect_kind(p, TK_VAR_END, "end of print statement");
            push(p, &body, n);
        } else if (t->kind == TK_BLOCK_BEGIN) {
            const token *name = peek(p, 1);
            for (const char *const *s = stops; s && *s && name->kind == TK_NAME; s++)
                if (!strcmp(name->s, *s)) {
                    *found = *s;
                    next(p);
                    next(p);
                    p->depth--;
                    return body;
                }
            next(p);
            push(p, &body, parse_statement(p));
        } else {
            fail_unexpected(p, NULL);
        }
    }
    p->depth--;
    return body;
}

node_list tp_parse(tp_state *st, const token_list *toks) {
    parser p = {.st = st, .t = toks->v, .n = toks->n};
    const char *found = NULL;
    return parse_body(&p, NULL, &found);
}
