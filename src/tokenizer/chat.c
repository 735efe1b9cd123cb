/* qwenc_chat_render: a chat request (JSON) through the tokenizer's chat
 * template, with the variables transformers' apply_chat_template passes:
 *   template_kwargs = {**special_tokens_map, **kwargs}
 *   render(messages=..., tools=tools or None, documents=documents or None,
 *          add_generation_prompt=..., **template_kwargs)
 * so bos_token/eos_token/pad_token/unk_token (when set) are variables,
 * `tools` and `documents` are always defined (None when not given), and
 * every other request key (enable_thinking, ...) passes through. */
#include "tokenizer/template.h"
#include "tokenizer/tokenizer.h"
#include "base/err.h"
#include "base/json.h"

#include <string.h>

typedef struct {
    const char *key, *value;
} special_token;

static int build_context(const char *request_json, const special_token *sp, size_t nsp, json_t **out,
                         char *err, size_t errlen) {
    *out = NULL;
    if (!request_json) return qw_errf(err, errlen, QWENC_EINVAL, "chat request: no JSON given");
    json_t *req;
    int rc = qw_json_parse("chat request", request_json, strlen(request_json), &req, err, errlen);
    if (rc) return QWENC_EINVAL;
    if (!json_is_object(req)) {
        json_decref(req);
        return qw_errf(err, errlen, QWENC_EINVAL, "chat request: expected a JSON object");
    }
    json_t *msgs = json_object_get(req, "messages");
    if (!json_is_array(msgs)) {
        json_decref(req);
        return qw_errf(err, errlen, QWENC_EINVAL, "chat request: \"messages\" must be an array");
    }
    json_t *ctx = json_object();
    for (size_t i = 0; i < nsp; i++)
        if (sp[i].value) json_object_set_new(ctx, sp[i].key, json_string(sp[i].value));
    json_object_set_new(ctx, "tools", json_null());
    json_object_set_new(ctx, "documents", json_null());
    json_object_set_new(ctx, "add_generation_prompt", json_false());
    json_object_update(ctx, req); /* request keys override, as kwargs do */
    json_decref(req);
    *out = ctx;
    return 0;
}

static int render(const char *tmpl, const char *request_json, const special_token *sp, size_t nsp,
                  char **out, char *err, size_t errlen) {
    *out = NULL;
    if (!tmpl) return qw_errf(err, errlen, QWENC_EUNSUPPORTED, "the tokenizer has no chat template");
    json_t *ctx;
    int rc = build_context(request_json, sp, nsp, &ctx, err, errlen);
    if (rc) return rc;
    rc = qw_template_render(tmpl, ctx, out, err, errlen);
    json_decref(ctx);
    return rc;
}

int qw_chat_render_template(const char *tmpl, const char *request_json, const char *bos_token,
                            const char *eos_token, char **out, char *err, size_t errlen) {
    const special_token sp[] = {{"bos_token", bos_token}, {"eos_token", eos_token}};
    return render(tmpl, request_json, sp, 2, out, err, errlen);
}

int qwenc_chat_render(const qwenc_tokenizer *t, const char *request_json, char **out, char *err,
                      size_t errlen) {
    if (out) *out = NULL;
    if (!t || !out) return qw_errf(err, errlen, QWENC_EINVAL, "qwenc_chat_render: no tokenizer or output");
    special_token sp[] = {{"bos_token", NULL}, {"eos_token", NULL}, {"unk_token", NULL}, {"pad_token", NULL}};
    for (size_t i = 0; i < sizeof sp / sizeof sp[0]; i++) sp[i].value = qw_tokenizer_special_text(t, sp[i].key);
    return render(qw_tokenizer_chat_template(t), request_json, sp, sizeof sp / sizeof sp[0], out, err, errlen);
}
