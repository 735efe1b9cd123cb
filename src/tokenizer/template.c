/* Chat templates: the entry point. Lex, parse and render in one arena; any
 * failure longjmps back here, where the arena is freed (see template_impl.h). */
#include "tokenizer/template.h"
#include "tokenizer/template_impl.h"
#include "base/err.h"

#include <stdlib.h>
#include <string.h>

void qw_template_limits_default(qw_template_limits *l) {
    l->max_steps = TP_MAX_STEPS;
    l->max_bytes = TP_MAX_BYTES;
}

int qw_template_render(const char *source, json_t *context, char **out, char *err, size_t errlen) {
    return qw_template_render_limits(source, context, NULL, out, err, errlen);
}

int qw_template_render_limits(const char *source, json_t *context, const qw_template_limits *limits, char **out,
                              char *err, size_t errlen) {
    *out = NULL;
    if (!source) return qw_errf(err, errlen, QWENC_EINVAL, "no chat template");
    if (context && !json_is_object(context))
        return qw_errf(err, errlen, QWENC_EINVAL, "template variables must be a JSON object");
    size_t len = strlen(source);
    if (!u8_valid(source, len)) return qw_errf(err, errlen, QWENC_EINVAL, "chat template is not valid UTF-8");
    tp_state *st = calloc(1, sizeof *st);
    if (!st) return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    st->max_steps = limits ? limits->max_steps : TP_MAX_STEPS;
    st->max_bytes = limits ? limits->max_bytes : TP_MAX_BYTES;
    if (setjmp(st->fail)) {
        int code = strcmp(st->msg, "out of memory") ? QWENC_EINVAL : QWENC_ENOMEM;
        qw_errf(err, errlen, code, "%s", st->msg);
        tp_free_all(st);
        free(st);
        return code;
    }
    token_list toks;
    tp_lex(st, source, len, &toks);
    node_list prog = tp_parse(st, &toks);
    tp_buf b;
    buf_init(&b, st);
    tp_render_nodes(st, &prog, context, &b);
    char *r = malloc(b.n + 1);
    if (r) {
        if (b.n) memcpy(r, b.p, b.n);
        r[b.n] = 0;
    }
    tp_free_all(st);
    free(st);
    if (!r) return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    *out = r;
    return 0;
}
