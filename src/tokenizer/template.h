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

/* Renders a chat template for a request the way apply_chat_template does:
 * request_json is a JSON object {"messages": [...], "tools": [...],
 * "add_generation_prompt": bool, ...other template variables}. Variables
 * passed: bos_token / eos_token (when non-NULL), messages, tools (null when
 * absent), documents (null when absent), add_generation_prompt (false when
 * absent), and every other key of the request as given. */
int qw_chat_render_template(const char *tmpl, const char *request_json, const char *bos_token,
                            const char *eos_token, char **out, char *err, size_t errlen);

#endif
