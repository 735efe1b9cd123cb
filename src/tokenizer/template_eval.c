/* Chat templates: the evaluator. Walks the AST with jinja2's runtime
 * semantics: Python operators, default Undefined (prints as "", fails when
 * used), one scope per for-loop iteration and per macro call, none for if. */
#include "tokenizer/template_impl.h"

#include <math.h>
#include <string.h>

enum { FLOW_NORMAL, FLOW_BREAK, FLOW_CONTINUE };

static tv eval(tp_interp *in, scope *sc, const node *n);
static int exec_nodes(tp_interp *in, scope *sc, const node_list *body, tp_buf *out);

static scope *scope_new(tp_state *st, scope *parent) {
    scope *s = tp_alloc(st, sizeof *s);
    s->parent = parent;
    s->vars = tp_alloc(st, sizeof(tdict));
    return s;
}

static void scope_set(tp_state *st, scope *sc, const char *name, tv v) {
    tv *slot = dict_find_str(sc->vars, name);
    if (slot) *slot = v;
    else dict_set(st, sc->vars, tv_cstr(st, name), v);
}

static void step(tp_interp *in) {
    if (++in->st->steps > in->st->max_steps)
        tp_fail(in->st, in->line, "template runs too long (more than %ld steps)", in->st->max_steps);
}

_Noreturn void tp_undefined_error(tp_interp *in, tv v) {
    tp_fail(in->st, in->line, "%s", v.kind == VK_UNDEF ? v.u.why : "undefined value");
}

static const char *undefined_name(tp_interp *in, const char *name) {
    tp_buf b;
    buf_init(&b, in->st);
    buf_printf(&b, "'%s' is undefined", name);
    return b.p;
}

tv tp_lookup(scope *sc, const char *name) {
    for (scope *s = sc; s; s = s->parent) {
        tv *v = dict_find_str(s->vars, name);
        if (v) return *v;
    }
    return tv_undef(NULL);
}

static tv lookup_name(tp_interp *in, scope *sc, const char *name) {
    tv v = tp_lookup(sc, name);
    if (v.kind != VK_UNDEF || v.u.why) return v;
    if (tp_global_known(name)) {
        tfunc *f = tp_alloc(in->st, sizeof *f);
        f->kind = FN_GLOBAL;
        f->name = name;
        return (tv){.kind = VK_FUNC, .u.fn = f};
    }
    return tv_undef(undefined_name(in, name));
}

/* ---- operators ---------------------------------------------------------------- */

_Noreturn static void type_error(tp_interp *in, const char *op, tv a, tv b) {
    if (a.kind == VK_UNDEF) tp_undefined_error(in, a);
    if (b.kind == VK_UNDEF) tp_undefined_error(in, b);
    tp_fail(in->st, in->line, "unsupported operand type(s) for %s: '%s' and '%s'", op, tv_type_name(a),
            tv_type_name(b));
}

static int64_t ival(tv v) { return v.kind == VK_BOOL ? v.u.b : v.u.i; }
static int both_int(tv a, tv b) { return tv_is_num(a) && tv_is_num(b) && a.kind != VK_FLOAT && b.kind != VK_FLOAT; }

/* a op b on Python ints, which do not overflow: past int64 is an error here. */
static tv int_op(tp_interp *in, int op, int64_t a, int64_t b) {
    int64_t r = 0;
    int overflow = op == OP_ADD ? __builtin_add_overflow(a, b, &r)
                 : op == OP_SUB ? __builtin_sub_overflow(a, b, &r)
                                : __builtin_mul_overflow(a, b, &r);
    if (overflow) tp_fail(in->st, in->line, "integer overflow");
    return tv_int(r);
}

static tv repeat(tp_interp *in, tv seq, int64_t times) {
    size_t n = seq.kind == VK_STR ? seq.u.s->len : seq.u.l->n;
    if (times < 0) times = 0;
    if (n && (uint64_t)times > in->st->max_bytes / n) tp_fail(in->st, in->line, "repetition result too large");
    if (seq.kind == VK_STR) {
        tp_buf b;
        buf_init(&b, in->st);
        for (int64_t i = 0; i < times; i++) buf_add(&b, seq.u.s->p, n);
        return tv_strbuf(&b);
    }
    tv r = tv_list(in->st, n * (size_t)times);
    r.u.l->is_tuple = seq.u.l->is_tuple;
    for (int64_t i = 0; i < times; i++)
        for (size_t k = 0; k < n; k++) list_push(in->st, r.u.l, seq.u.l->v[k]);
    return r;
}

static tv add(tp_interp *in, tv a, tv b) {
    if (both_int(a, b)) return int_op(in, OP_ADD, ival(a), ival(b));
    if (tv_is_num(a) && tv_is_num(b)) return tv_float(tv_num(a) + tv_num(b));
    if (a.kind == VK_STR && b.kind == VK_STR) {
        tp_buf buf;
        buf_init(&buf, in->st);
        buf_add(&buf, a.u.s->p, a.u.s->len);
        buf_add(&buf, b.u.s->p, b.u.s->len);
        return tv_strbuf(&buf);
    }
    if (a.kind == VK_LIST && b.kind == VK_LIST && a.u.l->is_tuple == b.u.l->is_tuple) {
        tv r2 = tv_list(in->st, a.u.l->n + b.u.l->n);
        r2.u.l->is_tuple = a.u.l->is_tuple;
        for (size_t i = 0; i < a.u.l->n; i++) list_push(in->st, r2.u.l, a.u.l->v[i]);
        for (size_t i = 0; i < b.u.l->n; i++) list_push(in->st, r2.u.l, b.u.l->v[i]);
        return r2;
    }
    type_error(in, "+", a, b);
}

static double py_fmod(double a, double b) {
    double m = fmod(a, b);
    if (m != 0 && ((m < 0) != (b < 0))) m += b;
    return m;
}

static tv divide(tp_interp *in, int op, tv a, tv b) {
    if (!tv_is_num(a) || !tv_is_num(b)) type_error(in, op == OP_DIV ? "/" : op == OP_MOD ? "%" : "//", a, b);
    if (tv_num(b) == 0) tp_fail(in->st, in->line, "division by zero");
    if (op == OP_DIV) return tv_float(tv_num(a) / tv_num(b));
    if (both_int(a, b)) {
        int64_t x = ival(a), y = ival(b);
        if (x == INT64_MIN && y == -1) tp_fail(in->st, in->line, "integer overflow");
        int64_t q = x / y, m = x % y;
        if (m != 0 && ((m < 0) != (y < 0))) { q--; m += y; }
        return tv_int(op == OP_MOD ? m : q);
    }
    double x = tv_num(a), y = tv_num(b);
    return tv_float(op == OP_MOD ? py_fmod(x, y) : floor(x / y));
}

static tv power(tp_interp *in, tv a, tv b) {
    if (!tv_is_num(a) || !tv_is_num(b)) type_error(in, "**", a, b);
    if (both_int(a, b) && ival(b) >= 0) {
        int64_t base = ival(a), e = ival(b), r = 1;
        while (e-- > 0)
            if (__builtin_mul_overflow(r, base, &r)) tp_fail(in->st, in->line, "integer overflow");
            else if (r == 0 || r == 1) break;
        return tv_int(r);
    }
    return tv_float(pow(tv_num(a), tv_num(b)));
}

static tv arith(tp_interp *in, int op, tv a, tv b) {
    switch (op) {
    case OP_ADD: return add(in, a, b);
    case OP_SUB:
        if (both_int(a, b)) return int_op(in, OP_SUB, ival(a), ival(b));
        if (tv_is_num(a) && tv_is_num(b)) return tv_float(tv_num(a) - tv_num(b));
        type_error(in, "-", a, b);
    case OP_MUL:
        if (both_int(a, b)) return int_op(in, OP_MUL, ival(a), ival(b));
        if (tv_is_num(a) && tv_is_num(b)) return tv_float(tv_num(a) * tv_num(b));
        if ((a.kind == VK_STR || a.kind == VK_LIST) && both_int(b, b)) return repeat(in, a, ival(b));
        if ((b.kind == VK_STR || b.kind == VK_LIST) && both_int(a, a)) return repeat(in, b, ival(a));
        type_error(in, "*", a, b);
    case OP_DIV: case OP_FLOORDIV: case OP_MOD:
        if (op == OP_MOD && a.kind == VK_STR)
            tp_fail(in->st, in->line, "unsupported construct: printf-style string formatting with %%");
        return divide(in, op, a, b);
    case OP_POW: return power(in, a, b);
    default: { /* OP_CONCAT: str(a) ~ str(b); undefined is "" */
        tp_buf buf;
        buf_init(&buf, in->st);
        tv_str_into(&buf, a, in->line);
        tv_str_into(&buf, b, in->line);
        return tv_strbuf(&buf);
    }
    }
}

/* <0, 0, >0 for Python's ordering of two values; TypeError otherwise. */
int tp_order(tp_interp *in, tv a, tv b, int depth) {
    if (tv_is_num(a) && tv_is_num(b)) {
        if (both_int(a, b)) return (ival(a) > ival(b)) - (ival(a) < ival(b));
        return (tv_num(a) > tv_num(b)) - (tv_num(a) < tv_num(b));
    }
    if (a.kind == VK_STR && b.kind == VK_STR) {
        size_t n = a.u.s->len < b.u.s->len ? a.u.s->len : b.u.s->len;
        int c = memcmp(a.u.s->p, b.u.s->p, n);
        return c ? c : (a.u.s->len > b.u.s->len) - (a.u.s->len < b.u.s->len);
    }
    if (a.kind == VK_LIST && b.kind == VK_LIST && depth < TP_MAX_VALUE_DEPTH) {
        for (size_t i = 0; i < a.u.l->n && i < b.u.l->n; i++)
            if (!tv_equal(in->st, a.u.l->v[i], b.u.l->v[i], depth)) return tp_order(in, a.u.l->v[i], b.u.l->v[i], depth + 1);
        return (a.u.l->n > b.u.l->n) - (a.u.l->n < b.u.l->n);
    }
    type_error(in, "comparison", a, b);
}

int tp_contains(tp_interp *in, tv container, tv item) {
    switch (container.kind) {
    case VK_STR:
        if (item.kind != VK_STR)
            tp_fail(in->st, in->line, "'in <string>' requires string as left operand, not %s", tv_type_name(item));
        if (item.u.s->len == 0) return 1;
        return memmem(container.u.s->p, container.u.s->len, item.u.s->p, item.u.s->len) != NULL;
    case VK_LIST:
        for (size_t i = 0; i < container.u.l->n; i++)
            if (tv_equal(in->st, container.u.l->v[i], item, 0)) return 1;
        return 0;
    case VK_DICT: return dict_find(container.u.d, item) != NULL;
    case VK_UNDEF: return 0; /* iterating an Undefined yields nothing */
    default: tp_fail(in->st, in->line, "argument of type '%s' is not iterable", tv_type_name(container));
    }
}

static tv compare(tp_interp *in, int op, tv a, tv b) {
    switch (op) {
    case OP_EQ: return tv_bool(tv_equal(in->st, a, b, 0));
    case OP_NE: return tv_bool(!tv_equal(in->st, a, b, 0));
    case OP_IN: return tv_bool(tp_contains(in, b, a));
    case OP_NOTIN: return tv_bool(!tp_contains(in, b, a));
    case OP_LT: return tv_bool(tp_order(in, a, b, 0) < 0);
    case OP_LE: return tv_bool(tp_order(in, a, b, 0) <= 0);
    case OP_GT: return tv_bool(tp_order(in, a, b, 0) > 0);
    default: return tv_bool(tp_order(in, a, b, 0) >= 0);
    }
}

/* ---- access ------------------------------------------------------------------- */

static const char *no_attr(tp_interp *in, tv obj, const char *what, tv key) {
    tp_buf b;
    buf_init(&b, in->st);
    if (obj.kind == VK_NONE) buf_puts(&b, "'None'");
    else buf_printf(&b, "'%s object'", obj.kind == VK_NS ? "Namespace" : tv_type_name(obj));
    buf_printf(&b, " has no %s ", what);
    tv_repr_into(&b, key, in->line, 0);
    return b.p;
}

tv tp_getattr(tp_interp *in, tv obj, const char *name) {
    if (obj.kind == VK_UNDEF) tp_undefined_error(in, obj);
    /* jinja2 tries the Python attribute first (so d.items is the method),
     * then the item. */
    if (tp_has_method(obj, name)) {
        tfunc *f = tp_alloc(in->st, sizeof *f);
        f->kind = FN_METHOD;
        f->name = name;
        f->self = obj;
        return (tv){.kind = VK_FUNC, .u.fn = f};
    }
    if (obj.kind == VK_DICT || obj.kind == VK_NS) {
        tv *v = dict_find_str(obj.u.d, name);
        if (v) return *v;
    }
    return tv_undef(no_attr(in, obj, "attribute", tv_cstr(in->st, name)));
}

static int py_index(tp_interp *in, tv key, size_t n, size_t *out) {
    if (key.kind != VK_INT && key.kind != VK_BOOL) return -1;
    int64_t i = ival(key);
    (void)in;
    if (i < 0) i += (int64_t)n;
    if (i < 0 || (uint64_t)i >= n) return 0;
    *out = (size_t)i;
    return 1;
}

tv tp_getitem(tp_interp *in, tv obj, tv key) {
    size_t i;
    switch (obj.kind) {
    case VK_UNDEF: tp_undefined_error(in, obj);
    case VK_DICT: case VK_NS: {
        tv *v = dict_find(obj.u.d, key);
        if (v) return *v;
        break;
    }
    case VK_LIST:
        if (py_index(in, key, obj.u.l->n, &i) == 1) return obj.u.l->v[i];
        break;
    case VK_STR: {
        size_t n = u8_count(obj.u.s->p, obj.u.s->len);
        if (py_index(in, key, n, &i) == 1) {
            size_t a = u8_offset(obj.u.s->p, obj.u.s->len, i);
            size_t b = u8_offset(obj.u.s->p, obj.u.s->len, i + 1);
            return tv_str(in->st, obj.u.s->p + a, b - a);
        }
        break;
    }
    default: break;
    }
    if (key.kind == VK_STR) return tp_getattr(in, obj, key.u.s->p);
    return tv_undef(no_attr(in, obj, "element", key));
}

static int64_t slice_bound(tp_interp *in, tv v, int64_t dflt, int64_t n) {
    if (v.kind == VK_UNDEF || v.kind == VK_NONE) return dflt;
    if (v.kind != VK_INT && v.kind != VK_BOOL)
        tp_fail(in->st, in->line, "slice indices must be integers or None");
    int64_t i = ival(v);
    (void)n;
    return i;
}

/* Python's slice.indices + iteration over the chosen positions. */
static tv slice(tp_interp *in, tv obj, tv vstart, tv vstop, tv vstep) {
    int is_str = obj.kind == VK_STR;
    if (obj.kind == VK_UNDEF) tp_undefined_error(in, obj);
    if (!is_str && obj.kind != VK_LIST) tp_fail(in->st, in->line, "'%s' object is not subscriptable", tv_type_name(obj));
    int64_t n = is_str ? (int64_t)u8_count(obj.u.s->p, obj.u.s->len) : (int64_t)obj.u.l->n;
    int64_t st = slice_bound(in, vstep, 1, n);
    if (st == 0) tp_fail(in->st, in->line, "slice step cannot be zero");
    int64_t lo = st < 0 ? -1 : 0, hi = st < 0 ? n - 1 : n;
    int64_t a = slice_bound(in, vstart, st < 0 ? hi : lo, n);
    int64_t b = slice_bound(in, vstop, st < 0 ? lo : hi, n);
    if (vstart.kind == VK_INT || vstart.kind == VK_BOOL) { if (a < 0) a += n; a = a < lo ? lo : a > hi ? hi : a; }
    if (vstop.kind == VK_INT || vstop.kind == VK_BOOL) { if (b < 0) b += n; b = b < lo ? lo : b > hi ? hi : b; }
    tp_buf buf;
    buf_init(&buf, in->st);
    tv out = tv_list(in->st, 0);
    out.u.l->is_tuple = !is_str && obj.u.l->is_tuple;
    for (int64_t i = a; st > 0 ? i < b : i > b; i += st) {
        if (is_str) {
            size_t x = u8_offset(obj.u.s->p, obj.u.s->len, (size_t)i);
            size_t y = u8_offset(obj.u.s->p, obj.u.s->len, (size_t)i + 1);
            buf_add(&buf, obj.u.s->p + x, y - x);
        } else {
            list_push(in->st, out.u.l, obj.u.l->v[i]);
        }
    }
    return is_str ? tv_strbuf(&buf) : out;
}

tv tp_iter_list(tp_interp *in, tv v) {
    switch (v.kind) {
    case VK_LIST: return v;
    case VK_UNDEF: return tv_list(in->st, 0);
    case VK_DICT: {
        tv l = tv_list(in->st, v.u.d->n);
        for (size_t i = 0; i < v.u.d->n; i++) list_push(in->st, l.u.l, v.u.d->keys[i]);
        return l;
    }
    case VK_STR: {
        tv l = tv_list(in->st, v.u.s->len);
        size_t i = 0;
        while (i < v.u.s->len) {
            size_t s = i;
            u8_next(v.u.s->p, v.u.s->len, &i);
            list_push(in->st, l.u.l, tv_str(in->st, v.u.s->p + s, i - s));
        }
        return l;
    }
    default: tp_fail(in->st, in->line, "'%s' object is not iterable", tv_type_name(v));
    }
}

/* ---- calls ----------------------------------------------------------------------- */

static void eval_args(tp_interp *in, scope *sc, const node *n, tp_args *a, int extra_kw) {
    a->npos = n->args.n;
    a->nkw = n->kwargs.n;
    a->pos = tp_alloc(in->st, (a->npos + 1) * sizeof(tv));
    a->kw = tp_alloc(in->st, (a->nkw + (size_t)extra_kw + 1) * sizeof(tv));
    a->kwnames = tp_alloc(in->st, (a->nkw + (size_t)extra_kw + 1) * sizeof(char *));
    for (size_t i = 0; i < a->npos; i++) a->pos[i] = eval(in, sc, n->args.v[i]);
    for (size_t i = 0; i < a->nkw; i++) {
        a->kw[i] = eval(in, sc, n->kwargs.v[i]);
        a->kwnames[i] = n->kwnames[i];
    }
}

/* Binds a macro's (or caller's) parameters in its new scope. */
static void bind_params(tp_interp *in, scope *fs, const node *def, const char *what, tp_args *a) {
    size_t np = def->kwargs.n;
    if (a->npos > np)
        tp_fail(in->st, in->line, "%s takes not more than %zu argument(s)", what, np);
    for (size_t i = 0; i < a->nkw; i++) {
        if (!strcmp(a->kwnames[i], "caller")) { scope_set(in->st, fs, "caller", a->kw[i]); continue; }
        size_t k = 0;
        while (k < np && strcmp(def->kwnames[k], a->kwnames[i])) k++;
        if (k == np) tp_fail(in->st, in->line, "%s takes no keyword argument '%s'", what, a->kwnames[i]);
        if (k < a->npos) tp_fail(in->st, in->line, "%s got multiple values for argument '%s'", what, a->kwnames[i]);
    }
    for (size_t k = 0; k < np; k++) {
        const char *pname = def->kwnames[k];
        tv v = tv_undef(NULL);
        int given = 0;
        if (k < a->npos) { v = a->pos[k]; given = 1; }
        for (size_t i = 0; i < a->nkw && !given; i++)
            if (!strcmp(a->kwnames[i], pname)) { v = a->kw[i]; given = 1; }
        if (!given && def->kwargs.v[k]) v = eval(in, fs, def->kwargs.v[k]);
        else if (!given) {
            tp_buf b;
            buf_init(&b, in->st);
            buf_printf(&b, "parameter '%s' was not provided", pname);
            v = tv_undef(b.p);
        }
        scope_set(in->st, fs, pname, v);
    }
}

tv tp_call_value(tp_interp *in, tv fn, tp_args *a) {
    if (fn.kind == VK_UNDEF) tp_undefined_error(in, fn);
    if (fn.kind != VK_FUNC) tp_fail(in->st, in->line, "'%s' object is not callable", tv_type_name(fn));
    tfunc *f = fn.u.fn;
    if (f->kind == FN_GLOBAL) return tp_call_global(in, f->name, a);
    if (f->kind == FN_METHOD || f->kind == FN_LOOP_CYCLE) return tp_call_method(in, f->self, f->name, a);
    if (++in->st->call_depth > TP_MAX_CALL_DEPTH) tp_fail(in->st, in->line, "macro calls nested too deeply");
    int saved_line = in->line;
    scope *fs = scope_new(in->st, f->kind == FN_CALLER ? f->closure : in->root);
    char what[160];
    snprintf(what, sizeof what, f->kind == FN_CALLER ? "caller()" : "macro '%s'", f->name);
    bind_params(in, fs, f->def, what, a);
    tp_buf out;
    buf_init(&out, in->st);
    exec_nodes(in, fs, &f->def->body, &out);
    in->st->call_depth--;
    in->line = saved_line;
    return tv_strbuf(&out);
}

static tv eval_call(tp_interp *in, scope *sc, const node *n, tv caller) {
    tv fn = eval(in, sc, n->a);
    tp_args a;
    eval_args(in, sc, n, &a, caller.kind == VK_FUNC);
    if (caller.kind == VK_FUNC) {
        a.kwnames[a.nkw] = "caller";
        a.kw[a.nkw++] = caller;
    }
    in->line = n->line;
    return tp_call_value(in, fn, &a);
}

/* given: the input of a {% filter %} block's innermost filter (else NULL). */
static tv eval_filter(tp_interp *in, scope *sc, const node *n, const tv *given) {
    tv input;
    if (!n->a) input = *given;
    else if (given && n->a->kind == E_FILTER) input = eval_filter(in, sc, n->a, given);
    else input = eval(in, sc, n->a);
    tp_args a;
    eval_args(in, sc, n, &a, 0);
    in->line = n->line;
    return tp_apply_filter(in, n->name, input, &a);
}

/* ---- expressions ------------------------------------------------------------------- */

static tv eval_collection(tp_interp *in, scope *sc, const node *n) {
    if (n->kind == E_DICT) {
        tv d = tv_dict(in->st);
        for (size_t i = 0; i < n->args.n; i++)
            dict_set(in->st, d.u.d, eval(in, sc, n->args.v[i]), eval(in, sc, n->kwargs.v[i]));
        return d;
    }
    tv l = tv_list(in->st, n->args.n);
    l.u.l->is_tuple = n->kind == E_TUPLE;
    for (size_t i = 0; i < n->args.n; i++) list_push(in->st, l.u.l, eval(in, sc, n->args.v[i]));
    return l;
}

static tv eval_unary(tp_interp *in, scope *sc, const node *n) {
    tv v = eval(in, sc, n->a);
    in->line = n->line;
    if (n->kind == E_NOT) return tv_bool(!tv_truthy(v));
    if (v.kind == VK_UNDEF) tp_undefined_error(in, v);
    if (!tv_is_num(v)) tp_fail(in->st, in->line, "bad operand type for unary %c: '%s'", n->kind == E_NEG ? '-' : '+', tv_type_name(v));
    if (n->kind == E_POS) return v.kind == VK_BOOL ? tv_int(v.u.b) : v;
    if (v.kind == VK_FLOAT) return tv_float(-v.u.f);
    if (ival(v) == INT64_MIN) tp_fail(in->st, in->line, "integer overflow");
    return tv_int(-ival(v));
}

static tv eval(tp_interp *in, scope *sc, const node *n) {
    in->line = n->line;
    switch (n->kind) {
    case E_CONST: return n->val;
    case E_NAME: return lookup_name(in, sc, n->name);
    case E_ATTR: { tv o = eval(in, sc, n->a); in->line = n->line; return tp_getattr(in, o, n->name); }
    case E_ITEM: {
        tv o = eval(in, sc, n->a), k = eval(in, sc, n->b);
        in->line = n->line;
        return tp_getitem(in, o, k);
    }
    case E_SLICE: {
        tv o = eval(in, sc, n->a), u = tv_undef(NULL);
        tv a = n->b ? eval(in, sc, n->b) : u, b = n->c ? eval(in, sc, n->c) : u, s = n->d ? eval(in, sc, n->d) : u;
        in->line = n->line;
        return slice(in, o, a, b, s);
    }
    case E_CALL: return eval_call(in, sc, n, tv_none());
    case E_FILTER: return eval_filter(in, sc, n, NULL);
    case E_TEST: {
        tv v = eval(in, sc, n->a);
        tp_args a;
        eval_args(in, sc, n, &a, 0);
        in->line = n->line;
        return tv_bool(tp_apply_test(in, n->name, v, &a) != n->op);
    }
    case E_NOT: case E_NEG: case E_POS: return eval_unary(in, sc, n);
    case E_BIN: case E_CMP: {
        tv a = eval(in, sc, n->a), b = eval(in, sc, n->b);
        in->line = n->line;
        return n->kind == E_BIN ? arith(in, n->op, a, b) : compare(in, n->op, a, b);
    }
    case E_AND: { tv a = eval(in, sc, n->a); return tv_truthy(a) ? eval(in, sc, n->b) : a; }
    case E_OR: { tv a = eval(in, sc, n->a); return tv_truthy(a) ? a : eval(in, sc, n->b); }
    case E_COND:
        if (tv_truthy(eval(in, sc, n->b))) return eval(in, sc, n->a);
        if (n->c) return eval(in, sc, n->c);
        return tv_undef("the inline if-expression evaluated to false and no else section was defined");
    case E_LIST: case E_TUPLE: case E_DICT: return eval_collection(in, sc, n);
    default: tp_fail(in->st, n->line, "internal error: statement used as expression");
    }
}

/* ---- statements ------------------------------------------------------------------------ */

static void assign(tp_interp *in, scope *sc, const node *target, tv v) {
    if (target->kind == E_NAME) {
        scope_set(in->st, sc, target->name, v);
        return;
    }
    if (target->kind == E_ATTR) {
        tv ns = lookup_name(in, sc, target->a->name);
        if (ns.kind != VK_NS) tp_fail(in->st, target->line, "cannot assign attribute on non-namespace object");
        dict_set(in->st, ns.u.d, tv_cstr(in->st, target->name), v);
        return;
    }
    tv items = v.kind == VK_LIST ? v : tp_iter_list(in, v);
    if (items.u.l->n != target->args.n)
        tp_fail(in->st, target->line, "cannot unpack %zu value(s) into %zu name(s)", items.u.l->n, target->args.n);
    for (size_t i = 0; i < target->args.n; i++) assign(in, sc, target->args.v[i], items.u.l->v[i]);
}

static tv loop_object(tp_interp *in, const tlist *items, size_t i) {
    tp_state *st = in->st;
    size_t n = items->n;
    tv d = tv_dict(st);
    struct { const char *k; tv v; } f[] = {
        {"index", tv_int((int64_t)i + 1)}, {"index0", tv_int((int64_t)i)},
        {"revindex", tv_int((int64_t)(n - i))}, {"revindex0", tv_int((int64_t)(n - i - 1))},
        {"first", tv_bool(i == 0)}, {"last", tv_bool(i + 1 == n)}, {"length", tv_int((int64_t)n)},
        {"depth", tv_int(1)}, {"depth0", tv_int(0)},
        {"previtem", i > 0 ? items->v[i - 1] : tv_undef("there is no previous item")},
        {"nextitem", i + 1 < n ? items->v[i + 1] : tv_undef("there is no next item")},
    };
    for (size_t k = 0; k < sizeof f / sizeof f[0]; k++) dict_set(st, d.u.d, tv_cstr(st, f[k].k), f[k].v);
    /* loop.cycle(...) is a method of the loop; it only needs the index */
    tfunc *c = tp_alloc(st, sizeof *c);
    c->kind = FN_LOOP_CYCLE;
    c->name = "cycle";
    c->self = tv_int((int64_t)i);
    dict_set(st, d.u.d, tv_cstr(st, "cycle"), (tv){.kind = VK_FUNC, .u.fn = c});
    return d;
}

static void exec_for(tp_interp *in, scope *sc, const node *n, tp_buf *out) {
    tv seq = tp_iter_list(in, eval(in, sc, n->b));
    const tlist *items = seq.u.l;
    if (n->c) { /* "for x in xs if cond": loop.* counts the kept items */
        tv kept = tv_list(in->st, items->n);
        for (size_t i = 0; i < items->n; i++) {
            scope *fs = scope_new(in->st, sc);
            assign(in, fs, n->a, items->v[i]);
            if (tv_truthy(eval(in, fs, n->c))) list_push(in->st, kept.u.l, items->v[i]);
        }
        items = kept.u.l;
    }
    for (size_t i = 0; i < items->n; i++) {
        step(in);
        scope *fs = scope_new(in->st, sc);
        assign(in, fs, n->a, items->v[i]);
        scope_set(in->st, fs, "loop", loop_object(in, items, i));
        if (exec_nodes(in, fs, &n->body, out) == FLOW_BREAK) break;
    }
    if (items->n == 0) exec_nodes(in, scope_new(in->st, sc), &n->else_body, out);
}

static tv render_body(tp_interp *in, scope *sc, const node_list *body) {
    tp_buf b;
    buf_init(&b, in->st);
    exec_nodes(in, sc, body, &b);
    return tv_strbuf(&b);
}

static tv make_func(tp_interp *in, fn_kind kind, const node *def, scope *closure) {
    tfunc *f = tp_alloc(in->st, sizeof *f);
    f->kind = kind;
    f->name = def->name ? def->name : "caller";
    f->def = def;
    f->closure = closure;
    return (tv){.kind = VK_FUNC, .u.fn = f};
}

static int exec_node(tp_interp *in, scope *sc, const node *n, tp_buf *out) {
    step(in);
    in->line = n->line;
    switch (n->kind) {
    case N_TEXT: buf_add(out, n->val.u.s->p, n->val.u.s->len); break;
    case N_OUTPUT: { tv v = eval(in, sc, n->a); tv_str_into(out, v, n->line); break; }
    case N_IF:
        return exec_nodes(in, sc, tv_truthy(eval(in, sc, n->a)) ? &n->body : &n->else_body, out);
    case N_FOR: exec_for(in, sc, n, out); break;
    case N_SET: assign(in, sc, n->a, eval(in, sc, n->b)); break;
    case N_SET_BLOCK: assign(in, sc, n->a, render_body(in, sc, &n->body)); break;
    case N_MACRO: scope_set(in->st, sc, n->name, make_func(in, FN_MACRO, n, NULL)); break;
    case N_CALL_BLOCK: {
        tv r = eval_call(in, sc, n->a, make_func(in, FN_CALLER, n, sc));
        tv_str_into(out, r, n->line);
        break;
    }
    case N_FILTER_BLOCK: {
        tv body = render_body(in, sc, &n->body);
        tv_str_into(out, eval_filter(in, sc, n->a, &body), n->line);
        break;
    }
    case N_BREAK: return FLOW_BREAK;
    case N_CONTINUE: return FLOW_CONTINUE;
    default: tp_fail(in->st, n->line, "internal error: expression used as statement");
    }
    return FLOW_NORMAL;
}

static int exec_nodes(tp_interp *in, scope *sc, const node_list *body, tp_buf *out) {
    for (size_t i = 0; i < body->n; i++) {
        int flow = exec_node(in, sc, body->v[i], out);
        if (flow != FLOW_NORMAL) return flow;
    }
    return FLOW_NORMAL;
}

void tp_render_nodes(tp_state *st, const node_list *prog, json_t *context, tp_buf *out) {
    tp_interp in = {.st = st};
    in.root = scope_new(st, NULL);
    const char *k;
    json_t *v;
    if (context)
        json_object_foreach(context, k, v) scope_set(st, in.root, k, tv_from_json(st, v, 0));
    exec_nodes(&in, in.root, prog, out);
}
