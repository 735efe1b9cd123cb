/* Chat templates: a Jinja subset that renders Hugging Face chat templates
 * byte for byte like transformers' apply_chat_template (jinja2 with
 * trim_blocks and lstrip_blocks, transformers' tojson, raise_exception and
 * strftime_now). Constructs outside the subset are errors naming the
 * construct and the template line, never silently different output. */
#ifndef QW_TOKENIZER_TEMPLATE_H
#define QW_TOKENIZER_TEMPLATE_H

#include <jansson.h>
#include <stddef.h>

/* Renders template source with the variables of context (a JSON object, or
 * NULL for none). *out is malloc'd and NUL-terminated. Errors (QWENC_EINVAL,
 * or QWENC_ENOMEM) read "template line N: what went wrong". */
int qw_template_render(const char *source, json_t *context, char **out, char *err, size_t errlen);

/* What one render may spend. A template that would need more fails with
 * "template runs too long (more than N steps)" or "template needs more than
 * N MiB of memory" instead of running on: every loop iteration and
 * statement is a step, every byte allocated (values, scopes, output)
 * counts. Nesting is bounded too (blocks and expressions 200 deep, macro
 * calls 100, values 2000). */
typedef struct {
    long max_steps;
    size_t max_bytes;
} qw_template_limits;

/* qw_template_render's limits: 50,000,000 steps and 512 MiB, room for the
 * largest request a server accepts (--max-body) through any real chat
 * template, so a hostile template is bounded to seconds and that memory. */
void qw_template_limits_default(qw_template_limits *l);

/* qw_template_render under other limits (NULL: the defaults). */
int qw_template_render_limits(const char *source, json_t *context, const qw_template_limits *limits, char **out,
                              char *err, size_t errlen);

/* Renders a chat template for a request the way apply_chat_template does:
 * request_json is a JSON object {"messages": [...], "tools": [...],
 * "add_generation_prompt": bool, ...other template variables}. Variables
 * passed: bos_token / eos_token (when non-NULL), messages, tools (null when
 * absent), documents (null when absent), add_generation_prompt (false when
 * absent), and every other key of the request as given. */
int qw_chat_render_template(const char *tmpl, const char *request_json, const char *bos_token,
                            const char *eos_token, char **out, char *err, size_t errlen);

#endif
