#include "server/request.h"
#include "server/json_locate.h"
#include "server/json_schema.h"

#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void srv_error_set(srv_error *e, int status, const char *param, const char *code, const char *fmt, ...) {
    e->status = status;
    e->type = status == 401 ? "authentication_error" : status >= 500 ? "server_error" : "invalid_request_error";
    e->code = code;
    snprintf(e->param, sizeof e->param, "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
}

#define BAD(param, ...) (srv_error_set(e, 400, param, NULL, __VA_ARGS__), -1)

/* A body jansson refused: the field it stopped in, when it stopped inside a
 * string (invalid UTF-8, a lone surrogate escape, a NUL, a control byte). */
static int bad_json(const char *body, size_t len, const json_error_t *je, srv_error *e) {
    char where[sizeof e->param];
    int in_key = 0;
    size_t at = je->position > 0 ? (size_t)je->position - 1 : 0;
    if (json_locate(body, len, at, where, sizeof where, &in_key)) {
        if (in_key)
            return BAD(where[0] ? where : NULL, "a key of %s%s%s is not valid JSON text: %s (byte %d)",
                       where[0] ? "'" : "", where[0] ? where : "the request", where[0] ? "'" : "", je->text,
                       je->position);
        return BAD(where, "'%s' is not valid JSON text: %s (byte %d)", where, je->text, je->position);
    }
    return BAD(NULL, "request body is not valid JSON: %s (line %d, column %d)", je->text, je->line, je->column);
}

static int parse_body(const char *body, size_t len, json_t **out, srv_error *e) {
    json_error_t je;
    /* Nesting is bounded by jansson (JSON_PARSER_MAX_DEPTH), so hostile depth is an error, not a crash. */
    *out = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!*out) return bad_json(body, len, &je, e);
    if (!json_is_object(*out)) {
        json_decref(*out);
        return BAD(NULL, "request body must be a JSON object");
    }
    return 0;
}

/* ---- typed field readers: absent or null leaves *out alone ------------ */

static int get_bool(json_t *o, const char *k, int *out, srv_error *e) {
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_boolean(v)) return BAD(k, "'%s' must be a boolean", k);
    *out = json_is_true(v);
    return 0;
}

static int get_number(json_t *o, const char *k, double lo, double hi, double *out, int *given, srv_error *e) {
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_number(v)) return BAD(k, "'%s' must be a number", k);
    double x = json_number_value(v);
    if (!(x >= lo && x <= hi)) return BAD(k, "'%s' must be between %g and %g, got %g", k, lo, hi, x);
    *out = x;
    if (given) *given = 1;
    return 0;
}

static int get_int(json_t *o, const char *k, long long lo, long long hi, long long *out, int *given, srv_error *e) {
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_integer(v)) return BAD(k, "'%s' must be an integer", k);
    long long x = json_integer_value(v);
    if (x < lo || x > hi) return BAD(k, "'%s' must be between %lld and %lld, got %lld", k, lo, hi, x);
    *out = x;
    if (given) *given = 1;
    return 0;
}

static uint64_t random_seed(void) {
    uint64_t s = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (read(fd, &s, sizeof s) != (ssize_t)sizeof s) s = 0;
        close(fd);
    }
    if (!s) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        s = (uint64_t)ts.tv_nsec * 6364136223846793005ULL ^ (uint64_t)ts.tv_sec;
    }
    return s;
}

/* Sampling fields, over generation_config.json's defaults. */
static int parse_sampling(const request_ctx *c, json_t *r, job_params *p, srv_error *e) {
    qwenc_sampler_params *sp = &p->sampling;
    qwenc_sampler_params_init(sp);
    double temp = c->gen.temperature, top_p = c->gen.top_p, min_p = c->gen.min_p;
    double presence = 0, frequency = 0, repetition = c->gen.repetition_penalty;
    long long top_k = c->gen.top_k, seed = 0;
    int have_temp = 0, have_seed = 0;
    if (get_number(r, "temperature", 0, 2, &temp, &have_temp, e) || get_number(r, "top_p", 0, 1, &top_p, NULL, e) ||
        get_number(r, "min_p", 0, 1, &min_p, NULL, e) || get_int(r, "top_k", -1, 1 << 30, &top_k, NULL, e) ||
        get_number(r, "presence_penalty", -2, 2, &presence, NULL, e) ||
        get_number(r, "frequency_penalty", -2, 2, &frequency, NULL, e) ||
        get_number(r, "repetition_penalty", 0.01, 100, &repetition, NULL, e) ||
        get_int(r, "seed", INT64_MIN, INT64_MAX, &seed, &have_seed, e))
        return -1;
    if (top_p <= 0) return BAD("top_p", "'top_p' must be greater than 0");
    /* generation_config.json's do_sample false means greedy unless the request asks for a temperature. */
    sp->temperature = c->gen.do_sample || have_temp ? (float)temp : 0.0f;
    sp->top_p = (float)top_p;
    sp->min_p = (float)min_p;
    sp->top_k = top_k < 0 ? 0 : (int)top_k;
    sp->presence_penalty = (float)presence;
    sp->frequency_penalty = (float)frequency;
    sp->repetition_penalty = (float)repetition;
    sp->seed = have_seed ? (uint64_t)seed : random_seed();
    /* The engine builds the sampler later; whatever it would refuse is refused here, as a 400. */
    qwenc_sampler *probe = NULL;
    char err[256];
    int rc = qwenc_sampler_new(sp, &probe, err, sizeof err);
    qwenc_sampler_free(probe);
    return rc ? BAD(NULL, "%s", err) : 0;
}

static int parse_stop(json_t *r, job_params *p, srv_error *e) {
    json_t *v = json_object_get(r, "stop");
    if (!v || json_is_null(v)) return 0;
    if (json_is_string(v)) {
        if (json_string_length(v) == 0) return BAD("stop", "'stop' strings must not be empty");
        p->stop[p->n_stop++] = strdup(json_string_value(v));
        return 0;
    }
    if (!json_is_array(v)) return BAD("stop", "'stop' must be a string or an array of strings");
    if (json_array_size(v) > JOB_MAX_STOP) return BAD("stop", "'stop' takes at most %d strings", JOB_MAX_STOP);
    size_t i;
    json_t *s;
    json_array_foreach(v, i, s) {
        if (!json_is_string(s) || json_string_length(s) == 0)
            return BAD("stop", "'stop' must hold non-empty strings");
        p->stop[p->n_stop++] = strdup(json_string_value(s));
    }
    return 0;
}

/* A compiled schema, or the compiler's one line as a 400 on `param`. */
static int compile_schema(const json_t *schema, json_schema **out, const char *param, const char *what,
                          srv_error *e) {
    char err[512];
    int rc = json_schema_compile(schema, out, err, sizeof err);
    if (!rc) return 0;
    if (rc == QWENC_ENOMEM) return srv_error_set(e, 500, NULL, NULL, "%s", err), -1;
    return BAD(param, "%s%s", what, err);
}

/* OpenAI's name rule: 1-64 of a-z, A-Z, 0-9, '_' and '-'. */
static int valid_schema_name(const json_t *name) {
    const char *s = json_string_value(name);
    size_t n = s ? strlen(s) : 0;
    return n >= 1 && n <= 64 && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

/* {"name", "schema", "strict", "description"}: the schema is compiled here,
 * so every schema the automaton cannot follow is a 400. */
static int parse_json_schema(const json_t *js, job_params *p, srv_error *e) {
    const char *param = "response_format";
    if (!json_is_object(js))
        return BAD(param, "'response_format.json_schema' must be an object with a 'name' and a 'schema'");
    const json_t *name = json_object_get(js, "name"), *schema = json_object_get(js, "schema"),
                 *strict = json_object_get(js, "strict"), *desc = json_object_get(js, "description");
    if (!valid_schema_name(name))
        return BAD(param, "'response_format.json_schema.name' must be 1-64 letters, digits, '_' or '-'");
    if (strict && !json_is_null(strict) && !json_is_boolean(strict))
        return BAD(param, "'response_format.json_schema.strict' must be a boolean");
    if (desc && !json_is_null(desc) && !json_is_string(desc))
        return BAD(param, "'response_format.json_schema.description' must be a string");
    if (schema && !json_is_object(schema) && !json_is_boolean(schema))
        return BAD(param, "'response_format.json_schema.schema' must be a JSON Schema object");
    /* no schema: any JSON document */
    return compile_schema(schema ? schema : json_true(), &p->schema, param, "response_format.json_schema.schema: ", e);
}

static int parse_response_format(const json_t *rf, job_params *p, srv_error *e) {
    if (!rf || json_is_null(rf)) return 0;
    json_t *t = json_is_object(rf) ? json_object_get(rf, "type") : NULL;
    if (!json_is_string(t)) return BAD("response_format", "'response_format' must be an object with a 'type'");
    const char *type = json_string_value(t);
    if (!strcmp(type, "text")) return 0;
    if (!strcmp(type, "json_schema")) return parse_json_schema(json_object_get(rf, "json_schema"), p, e);
    if (strcmp(type, "json_object"))
        return BAD("response_format",
                   "response_format type '%s' is not supported (use 'text', 'json_object' or 'json_schema')", type);
    json_t *object = json_pack("{s:s}", "type", "object");
    int rc = compile_schema(object, &p->schema, "response_format", "", e);
    json_decref(object);
    return rc;
}

/* Fields every completion request shares. */
static int parse_common(const request_ctx *c, json_t *r, srv_job *j, srv_error *e) {
    json_t *model = json_object_get(r, "model");
    if (model && !json_is_null(model)) {
        if (!json_is_string(model)) return BAD("model", "'model' must be a string");
        if (strcmp(json_string_value(model), c->model_id)) {
            srv_error_set(e, 404, "model", "model_not_found", "the model '%s' does not exist; this server has '%s'",
                          json_string_value(model), c->model_id);
            return -1;
        }
    }
    long long n = 1, max_tokens = -1;
    if (get_int(r, "n", 1, 1, &n, NULL, e)) return -1;
    if (get_int(r, "max_tokens", 1, INT32_MAX, &max_tokens, NULL, e) ||
        get_int(r, "max_completion_tokens", 1, INT32_MAX, &max_tokens, NULL, e))
        return -1;
    j->p.max_tokens = (int)max_tokens;
    if (get_bool(r, "stream", &j->stream, e)) return -1;
    json_t *so = json_object_get(r, "stream_options");
    if (so && !json_is_null(so)) {
        if (!json_is_object(so)) return BAD("stream_options", "'stream_options' must be an object");
        if (get_bool(so, "include_usage", &j->include_usage, e)) return -1;
    }
    if (parse_sampling(c, r, &j->p, e) || parse_stop(r, &j->p, e)) return -1;
    return parse_response_format(json_object_get(r, "response_format"), &j->p, e);
}

/* The prompt fits the context with room for at least one generated token. */
static int check_length(const request_ctx *c, const job_params *p, const char *param, srv_error *e) {
    if (p->n_prompt == 0) return BAD(param, "the prompt is empty");
    if (p->n_prompt >= c->n_ctx) {
        srv_error_set(e, 400, param, "context_length_exceeded",
                      "the prompt is %d tokens, but this server's context is %d tokens (set with --ctx)", p->n_prompt,
                      c->n_ctx);
        return -1;
    }
    return 0;
}

static int tokenize_text(const request_ctx *c, const char *text, size_t len, job_params *p, const char *param,
                         srv_error *e) {
    char err[256];
    size_t n = 0;
    if (qwenc_tokenize(c->tok, text, len, &p->prompt, &n, err, sizeof err)) return BAD(param, "%s", err);
    p->n_prompt = (int)n;
    return 0;
}

/* ---- chat ---------------------------------------------------------------- */

/* A message's content as one string: a string, null, or an array of text parts. */
static int content_text(json_t *content, size_t idx, json_t **out, srv_error *e) {
    char param[64];
    snprintf(param, sizeof param, "messages[%zu].content", idx);
    if (!content || json_is_null(content) || json_is_string(content)) {
        *out = content ? json_incref(content) : json_null();
        return 0;
    }
    if (!json_is_array(content)) return BAD(param, "'%s' must be a string, null or an array of text parts", param);
    size_t total = 0, i;
    json_t *part;
    json_array_foreach(content, i, part) {
        json_t *type = json_object_get(part, "type"), *text = json_object_get(part, "text");
        if (!json_is_string(type) || strcmp(json_string_value(type), "text") || !json_is_string(text))
            return BAD(param, "'%s[%zu]' must be {\"type\": \"text\", \"text\": ...}: only text is supported", param,
                       i);
        total += json_string_length(text);
    }
    char *buf = malloc(total + 1);
    if (!buf) return BAD(param, "out of memory");
    size_t at = 0;
    json_array_foreach(content, i, part) {
        json_t *text = json_object_get(part, "text");
        memcpy(buf + at, json_string_value(text), json_string_length(text));
        at += json_string_length(text);
    }
    *out = json_stringn(buf, at);
    free(buf);
    return 0;
}

/* Messages as the template expects them: known roles, content as a string. */
static int normalize_messages(json_t *msgs, json_t **out, srv_error *e) {
    if (!json_is_array(msgs) || json_array_size(msgs) == 0)
        return BAD("messages", "'messages' must be a non-empty array");
    json_t *norm = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        char param[64];
        snprintf(param, sizeof param, "messages[%zu]", i);
        json_t *role = json_object_get(m, "role");
        if (!json_is_object(m) || !json_is_string(role)) {
            json_decref(norm);
            return BAD(param, "'%s' must be an object with a string 'role'", param);
        }
        const char *r = json_string_value(role);
        if (!strcmp(r, "developer")) r = "system";  /* OpenAI's newer name for the system role */
        if (strcmp(r, "system") && strcmp(r, "user") && strcmp(r, "assistant") && strcmp(r, "tool")) {
            json_decref(norm);
            return BAD(param, "'%s.role' must be system, developer, user, assistant or tool, got '%s'", param, r);
        }
        json_t *tc = json_object_get(m, "tool_calls");
        if (tc && !json_is_null(tc) && (!json_is_array(tc) || strcmp(r, "assistant"))) {
            json_decref(norm);
            return BAD(param, "'%s.tool_calls' must be an array on an assistant message", param);
        }
        json_t *content;
        if (content_text(json_object_get(m, "content"), i, &content, e)) {
            json_decref(norm);
            return -1;
        }
        json_t *copy = json_deep_copy(m);
        json_object_set_new(copy, "role", json_string(r));
        json_object_set_new(copy, "content", json_is_null(content) ? json_string("") : content);
        if (json_is_null(content)) json_decref(content);
        json_array_append_new(norm, copy);
    }
    *out = norm;
    return 0;
}

static int find_tool(json_t *tools, const char *name) {
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t) {
        json_t *n = json_object_get(json_object_get(t, "function"), "name");
        if (json_is_string(n) && !strcmp(json_string_value(n), name)) return 1;
    }
    return 0;
}

/* The grammar of a forced call's body, from the tools' parameters schemas. */
static int compile_tool_calls(const json_t *tools, const char *only, job_params *p, srv_error *e) {
    char err[512];
    int rc = json_schema_compile_tools(tools, only, &p->tool_schema, err, sizeof err);
    if (rc == QWENC_ENOMEM) return srv_error_set(e, 500, NULL, NULL, "%s", err), -1;
    return rc ? BAD("tools", "%s", err) : 0;
}

static int parse_tools(json_t *r, job_params *p, json_t **tools_out, srv_error *e) {
    *tools_out = NULL;
    json_t *tools = json_object_get(r, "tools");
    int have = tools && !json_is_null(tools);
    if (have) {
        if (!json_is_array(tools)) return BAD("tools", "'tools' must be an array");
        size_t i;
        json_t *t;
        json_array_foreach(tools, i, t) {
            json_t *f = json_object_get(t, "function");
            json_t *name = json_object_get(f, "name");
            json_t *type = json_object_get(t, "type");
            if (!json_is_object(t) || !json_is_string(type) || strcmp(json_string_value(type), "function") ||
                !json_is_object(f) || !json_is_string(name) || json_string_length(name) == 0)
                return BAD("tools", "'tools[%zu]' must be {\"type\": \"function\", \"function\": {\"name\": ...}}", i);
        }
        have = json_array_size(tools) > 0;
    }
    p->parallel_tool_calls = 1;
    if (get_bool(r, "parallel_tool_calls", &p->parallel_tool_calls, e)) return -1;
    json_t *tc = json_object_get(r, "tool_choice");
    int none = 0, forced = 0;
    const char *only = NULL;  /* the function tool_choice names */
    if (tc && !json_is_null(tc)) {
        if (json_is_string(tc)) {
            const char *s = json_string_value(tc);
            if (!strcmp(s, "none")) none = 1;
            else if (!strcmp(s, "required")) forced = 1;
            else if (strcmp(s, "auto")) return BAD("tool_choice", "'tool_choice' must be none, auto, required or a function");
        } else {
            json_t *name = json_object_get(json_object_get(tc, "function"), "name");
            if (!json_is_string(name)) return BAD("tool_choice", "'tool_choice' must be none, auto, required or a function");
            if (!have || !find_tool(tools, json_string_value(name)))
                return BAD("tool_choice", "tool_choice names '%s', which is not in 'tools'", json_string_value(name));
            forced = 1, only = json_string_value(name);
        }
        if (forced && !have) return BAD("tool_choice", "tool_choice requires 'tools'");
    }
    /* tool_choice none: the model is not shown the tools, so it cannot call them. */
    p->tools = have && !none;
    if (p->tools) *tools_out = tools;
    return forced ? compile_tool_calls(tools, only, p, e) : 0;
}

/* The template variables: messages, tools, add_generation_prompt and any chat_template_kwargs. */
static int build_template_request(json_t *r, json_t *messages, json_t *tools, job_params *p, json_t **out,
                                  srv_error *e) {
    json_t *vars = json_object();
    json_t *kw = json_object_get(r, "chat_template_kwargs");
    if (kw && !json_is_null(kw)) {
        if (!json_is_object(kw)) {
            json_decref(vars);
            return BAD("chat_template_kwargs", "'chat_template_kwargs' must be an object");
        }
        json_object_update(vars, kw);
    }
    p->thinking = 1;
    int think = 1;
    json_t *kwt = json_object_get(vars, "enable_thinking");
    if (kwt && !json_is_boolean(kwt)) {
        json_decref(vars);
        return BAD("chat_template_kwargs", "'enable_thinking' must be a boolean");
    }
    if (kwt) think = json_is_true(kwt);
    if (get_bool(r, "enable_thinking", &think, e)) {
        json_decref(vars);
        return -1;
    }
    p->thinking = think;
    json_object_set_new(vars, "enable_thinking", json_boolean(think));
    json_object_set(vars, "messages", messages);
    if (tools) json_object_set(vars, "tools", tools);
    json_object_set_new(vars, "add_generation_prompt", json_true());
    *out = vars;
    return 0;
}

static int render_chat(const request_ctx *c, json_t *vars, job_params *p, srv_error *e) {
    char *text = json_dumps(vars, JSON_COMPACT), *prompt = NULL, err[512];
    if (!text) return BAD("messages", "the messages could not be serialised");
    int rc = qwenc_chat_render(c->tok, text, &prompt, err, sizeof err);
    free(text);
    if (rc) return BAD("messages", "chat template: %s", err);
    rc = tokenize_text(c, prompt, strlen(prompt), p, "messages", e);
    free(prompt);
    return rc;
}

int request_parse_chat(const request_ctx *c, const char *body, size_t len, srv_job *j, srv_error *e) {
    json_t *r, *messages = NULL, *tools, *vars = NULL;
    if (parse_body(body, len, &r, e)) return -1;
    j->p.chat = 1;
    int rc = parse_common(c, r, j, e);
    int lp = 0;
    long long top = 0;
    if (!rc) rc = get_bool(r, "logprobs", &lp, e) || get_int(r, "top_logprobs", 0, 20, &top, NULL, e);
    if (!rc && top > 0 && !lp) rc = BAD("top_logprobs", "'top_logprobs' needs 'logprobs': true");
    j->p.logprobs = lp;
    j->p.top_logprobs = (int)top;
    if (!rc) rc = normalize_messages(json_object_get(r, "messages"), &messages, e);
    if (!rc) rc = parse_tools(r, &j->p, &tools, e);
    if (!rc) rc = build_template_request(r, messages, tools, &j->p, &vars, e);
    if (!rc) rc = render_chat(c, vars, &j->p, e);
    if (!rc) rc = check_length(c, &j->p, "messages", e);
    json_decref(vars);
    json_decref(messages);
    json_decref(r);
    return rc;
}

/* ---- completions ------------------------------------------------------- */

static int prompt_from_ids(const request_ctx *c, json_t *a, job_params *p, srv_error *e) {
    size_t n = json_array_size(a), i;
    p->prompt = malloc((n ? n : 1) * sizeof *p->prompt);
    if (!p->prompt) return BAD("prompt", "out of memory");
    json_t *v;
    json_array_foreach(a, i, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= c->vocab)
            return BAD("prompt", "'prompt[%zu]' is not a token id below %d", i, c->vocab);
        p->prompt[i] = (int32_t)json_integer_value(v);
    }
    p->n_prompt = (int)n;
    return 0;
}

static int parse_prompt(const request_ctx *c, json_t *r, job_params *p, srv_error *e) {
    json_t *v = json_object_get(r, "prompt");
    if (json_is_array(v) && json_array_size(v) == 1 && !json_is_integer(json_array_get(v, 0)))
        v = json_array_get(v, 0);  /* a batch of one prompt */
    if (json_is_string(v)) return tokenize_text(c, json_string_value(v), json_string_length(v), p, "prompt", e);
    if (json_is_array(v) && (json_array_size(v) == 0 || json_is_integer(json_array_get(v, 0))))
        return prompt_from_ids(c, v, p, e);
    if (json_is_array(v)) return BAD("prompt", "only one prompt per request is supported");
    return BAD("prompt", "'prompt' must be a string or an array of token ids");
}

int request_parse_completion(const request_ctx *c, const char *body, size_t len, srv_job *j, srv_error *e) {
    json_t *r;
    if (parse_body(body, len, &r, e)) return -1;
    j->p.chat = 0;
    int rc = parse_common(c, r, j, e);
    long long lp = -1;
    if (!rc) rc = get_int(r, "logprobs", 0, 20, &lp, NULL, e);
    j->p.logprobs = lp >= 0;
    j->p.top_logprobs = lp > 0 ? (int)lp : 0;
    int echo = 0;
    if (!rc) rc = get_bool(r, "echo", &echo, e);
    if (!rc && echo) rc = BAD("echo", "'echo' is not supported");
    json_t *suffix = json_object_get(r, "suffix");
    if (!rc && suffix && !json_is_null(suffix)) rc = BAD("suffix", "'suffix' is not supported");
    if (!rc) rc = parse_prompt(c, r, &j->p, e);
    if (!rc && j->p.n_prompt == 0) rc = BAD("prompt", "the prompt is empty");
    if (!rc) rc = check_length(c, &j->p, "prompt", e);
    json_decref(r);
    return rc;
}

/* ---- tokenize / detokenize --------------------------------------------- */

char *request_tokenize(const request_ctx *c, const char *body, size_t len, srv_error *e) {
    json_t *r;
    if (parse_body(body, len, &r, e)) return NULL;
    job_params p = {0};
    json_t *text = json_object_get(r, "content");
    if (!text) text = json_object_get(r, "prompt");
    json_t *msgs = json_object_get(r, "messages"), *vars = NULL, *norm = NULL;
    int rc = 0;
    if (json_is_string(text)) {
        rc = tokenize_text(c, json_string_value(text), json_string_length(text), &p, "content", e);
    } else if (msgs) {
        rc = normalize_messages(msgs, &norm, e);
        if (!rc) rc = build_template_request(r, norm, json_object_get(r, "tools"), &p, &vars, e);
        if (!rc) rc = render_chat(c, vars, &p, e);
    } else {
        rc = BAD("content", "give 'content' (or 'prompt') as a string, or 'messages'");
    }
    char *out = NULL;
    if (!rc) {
        json_t *ids = json_array();
        for (int i = 0; i < p.n_prompt; i++) json_array_append_new(ids, json_integer(p.prompt[i]));
        json_t *res = json_pack("{s:o,s:i,s:i}", "tokens", ids, "count", p.n_prompt, "max_model_len", c->n_ctx);
        out = json_dumps(res, JSON_COMPACT);
        json_decref(res);
    }
    free(p.prompt);
    json_decref(vars);
    json_decref(norm);
    json_decref(r);
    return out;
}

char *request_detokenize(const request_ctx *c, const char *body, size_t len, srv_error *e) {
    json_t *r;
    if (parse_body(body, len, &r, e)) return NULL;
    job_params p = {0};
    json_t *ids = json_object_get(r, "tokens");
    char *out = NULL;
    if (!json_is_array(ids)) {
        (void)BAD("tokens", "'tokens' must be an array of token ids");
    } else if (!prompt_from_ids(c, ids, &p, e)) {
        char *text = NULL, err[256];
        size_t n = 0;
        if (qwenc_detokenize(c->tok, p.prompt, (size_t)p.n_prompt, 0, &text, &n, err, sizeof err)) {
            (void)BAD("tokens", "%s", err);
        } else {
            json_t *res = json_pack("{s:s%}", "content", text, n);
            out = res ? json_dumps(res, JSON_COMPACT) : NULL;
            json_decref(res);
            if (!out) (void)BAD("tokens", "the tokens do not decode to valid UTF-8 text");
        }
        free(text);
    }
    free(p.prompt);
    json_decref(r);
    return out;
}
