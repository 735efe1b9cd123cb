#include "server/response.h"
#include "server/strbuf.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct job_format {
    strbuf content, reasoning;  /* chat, not streamed: the message so far */
    strbuf text;                /* completions, not streamed */
    json_t *tool_calls;         /* chat, not streamed: [{id, type, function}] */
    json_t *lp_pending;         /* chat: logprob entries not yet sent; completions: legacy arrays */
    int n_tool_calls;
    size_t text_offset;         /* completions: byte offset of the next token's text */
    uint64_t rng;               /* tool call ids */
};

job_format *job_format_new(void) {
    job_format *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->tool_calls = json_array();
    f->lp_pending = NULL;
    f->rng = (uint64_t)(uintptr_t)f ^ 0x9e3779b97f4a7c15ULL;
    return f;
}

void job_format_free(job_format *f) {
    if (!f) return;
    strbuf_free(&f->content);
    strbuf_free(&f->reasoning);
    strbuf_free(&f->text);
    json_decref(f->tool_calls);
    json_decref(f->lp_pending);
    free(f);
}

/* Text as a JSON string; bytes that are not UTF-8 (a token can be half a
 * character) become U+FFFD, as OpenAI shows them. */
static json_t *json_text(const char *s, size_t n) {
    json_t *v = json_stringn(s, n);
    if (v) return v;
    strbuf b = {0};
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        json_t *probe = len && i + len <= n ? json_stringn(s + i, len) : NULL;
        if (probe) {
            strbuf_add(&b, s + i, len);
            json_decref(probe);
            i += len;
        } else {
            strbuf_add(&b, "\xef\xbf\xbd", 3);
            i++;
        }
    }
    v = json_stringn(b.p ? b.p : "", b.len);
    strbuf_free(&b);
    return v;
}

char *response_error_json(const char *message, const char *type, const char *param, const char *code) {
    json_t *e = json_pack("{s:{s:o,s:s,s:o,s:o}}", "error", "message", json_text(message, strlen(message)), "type",
                          type, "param", param ? json_string(param) : json_null(), "code",
                          code ? json_string(code) : json_null());
    char *s = e ? json_dumps(e, JSON_COMPACT) : NULL;
    json_decref(e);
    return s;
}

static void write_json(srv_job *j, json_t *v, int sse) {
    char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;
    if (!s) return;
    if (sse) job_write(j, "data: ", 6);
    job_write(j, s, strlen(s));
    job_write(j, sse ? "\n\n" : "\n", sse ? 2 : 1);
    free(s);
}

static const char *finish_reason(job_end e) {
    switch (e) {
    case JOB_LENGTH: return "length";
    case JOB_TOOL_CALLS: return "tool_calls";
    default: return "stop";
    }
}

static json_t *usage_json(const srv_job *j, int n_prompt) {
    return json_pack("{s:i,s:i,s:i,s:{s:i}}", "prompt_tokens", n_prompt, "completion_tokens", j->n_completion,
                     "total_tokens", n_prompt + j->n_completion, "prompt_tokens_details", "cached_tokens",
                     j->n_cached);
}

/* llama.cpp's "timings" (its clients read them): prompt tokens taken from
 * the cache and evaluated, and the time of each phase. */
static json_t *timings_json(const srv_job *j, int n_prompt) {
    double prompt_ms = j->t_first_token > 0 ? (j->t_first_token - j->t_start) * 1e3 : 0;
    double predicted_ms = j->t_first_token > 0 ? (j->t_done - j->t_first_token) * 1e3 : 0;
    return json_pack("{s:i,s:i,s:f,s:i,s:f}", "cache_n", j->n_cached, "prompt_n", n_prompt - j->n_cached,
                     "prompt_ms", prompt_ms, "predicted_n", j->n_completion, "predicted_ms", predicted_ms);
}

/* Takes the logprobs gathered since the last chunk (chat shape), or null. */
static json_t *take_chat_logprobs(job_format *f) {
    if (!f->lp_pending) return json_null();
    json_t *lp = json_pack("{s:o}", "content", f->lp_pending);
    f->lp_pending = NULL;
    return lp;
}

/* One streamed chunk; steals delta_or_text and usage. */
static void send_chunk(srv_job *j, json_t *delta, const char *finish) {
    json_t *choice;
    if (j->p.chat) {
        choice = json_pack("{s:i,s:o,s:o,s:o}", "index", 0, "delta", delta, "logprobs", take_chat_logprobs(j->fmt),
                           "finish_reason", finish ? json_string(finish) : json_null());
    } else {
        json_t *lp = j->fmt->lp_pending ? j->fmt->lp_pending : json_null();
        j->fmt->lp_pending = NULL;
        choice = json_pack("{s:o,s:i,s:o,s:o}", "text", delta, "index", 0, "logprobs", lp, "finish_reason",
                           finish ? json_string(finish) : json_null());
    }
    json_t *chunk = json_pack("{s:s,s:s,s:I,s:s,s:[o]}", "id", j->id, "object",
                              j->p.chat ? "chat.completion.chunk" : "text_completion", "created",
                              (json_int_t)j->created, "model", j->model, "choices", choice);
    if (chunk && j->include_usage) json_object_set_new(chunk, "usage", json_null());
    write_json(j, chunk, 1);
    json_decref(chunk);
}

void response_begin(srv_job *j) {
    if (j->stream && j->p.chat) send_chunk(j, json_pack("{s:s,s:s}", "role", "assistant", "content", ""), NULL);
}

/* "call_" and 24 random letters and digits, like OpenAI's ids. */
static void tool_call_id(job_format *f, char out[32]) {
    static const char al[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    memcpy(out, "call_", 5);
    for (int i = 0; i < 24; i++) {
        f->rng ^= f->rng << 13;
        f->rng ^= f->rng >> 7;
        f->rng ^= f->rng << 17;
        out[5 + i] = al[f->rng % (sizeof al - 1)];
    }
    out[29] = 0;
}

static void tool_call_event(srv_job *j, const reply_event *ev) {
    job_format *f = j->fmt;
    char id[32];
    tool_call_id(f, id);
    json_t *args = json_text(ev->arguments, ev->arguments_len);
    json_t *name = json_text(ev->name, strlen(ev->name));
    if (!j->stream) {
        json_array_append_new(f->tool_calls, json_pack("{s:s,s:s,s:{s:o,s:o}}", "id", id, "type", "function",
                                                       "function", "name", name, "arguments", args));
        return;
    }
    /* As OpenAI streams a call: id, type and name first, then the arguments. */
    send_chunk(j,
               json_pack("{s:[{s:i,s:s,s:s,s:{s:o,s:s}}]}", "tool_calls", "index", ev->tool_index, "id", id, "type",
                         "function", "function", "name", name, "arguments", ""),
               NULL);
    send_chunk(j, json_pack("{s:[{s:i,s:{s:o}}]}", "tool_calls", "index", ev->tool_index, "function", "arguments",
                            args),
               NULL);
}

void response_event(srv_job *j, const reply_event *ev) {
    job_format *f = j->fmt;
    if (ev->kind == REPLY_TOOL_CALL) {
        f->n_tool_calls++;
        tool_call_event(j, ev);
        return;
    }
    if (!ev->len) return;
    int reasoning = ev->kind == REPLY_REASONING;
    if (j->stream) {
        send_chunk(j, json_pack("{s:o}", reasoning ? "reasoning_content" : "content", json_text(ev->text, ev->len)),
                   NULL);
        return;
    }
    strbuf_add(reasoning ? &f->reasoning : &f->content, ev->text, ev->len);
}

void response_text(srv_job *j, const char *text, size_t len) {
    if (!len) return;
    if (j->stream)
        send_chunk(j, json_text(text, len), NULL);
    else
        strbuf_add(&j->fmt->text, text, len);
}

static json_t *bytes_array(const char *s, size_t n) {
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, json_integer((unsigned char)s[i]));
    return a;
}

static json_t *token_entry(const qwenc_tokenizer *t, int32_t id, float lp, int with_bytes) {
    size_t n = 0;
    const char *b = qwenc_token_bytes(t, id, &n);
    if (!b) b = "", n = 0;
    json_t *e = json_pack("{s:o,s:f}", "token", json_text(b, n), "logprob", (double)lp);
    if (with_bytes) json_object_set_new(e, "bytes", bytes_array(b, n));
    return e;
}

/* Completions' legacy shape: parallel arrays. */
static void completion_logprob(job_format *f, const qwenc_tokenizer *t, int32_t id, float lp, const int32_t *top_ids,
                               const float *top_lps, int n_top) {
    if (!f->lp_pending)
        f->lp_pending = json_pack("{s:[],s:[],s:[],s:[]}", "tokens", "token_logprobs", "top_logprobs", "text_offset");
    size_t n = 0;
    const char *b = qwenc_token_bytes(t, id, &n);
    if (!b) b = "", n = 0;
    json_array_append_new(json_object_get(f->lp_pending, "tokens"), json_text(b, n));
    json_array_append_new(json_object_get(f->lp_pending, "token_logprobs"), json_real(lp));
    json_t *top = json_object();
    for (int i = 0; i < n_top; i++) {
        size_t tn = 0;
        const char *tb = qwenc_token_bytes(t, top_ids[i], &tn);
        json_t *key = json_text(tb ? tb : "", tb ? tn : 0);
        json_object_set_new(top, json_string_value(key), json_real(top_lps[i]));
        json_decref(key);
    }
    json_array_append_new(json_object_get(f->lp_pending, "top_logprobs"), top);
    json_array_append_new(json_object_get(f->lp_pending, "text_offset"), json_integer((json_int_t)f->text_offset));
    f->text_offset += n;
}

void response_logprob(srv_job *j, const qwenc_tokenizer *t, int32_t id, float logprob, const int32_t *top_ids,
                      const float *top_logprobs, int n_top) {
    job_format *f = j->fmt;
    if (!j->p.chat) {
        completion_logprob(f, t, id, logprob, top_ids, top_logprobs, n_top);
        return;
    }
    json_t *e = token_entry(t, id, logprob, 1);
    json_t *top = json_array();
    for (int i = 0; i < n_top; i++) json_array_append_new(top, token_entry(t, top_ids[i], top_logprobs[i], 1));
    json_object_set_new(e, "top_logprobs", top);
    if (!f->lp_pending) f->lp_pending = json_array();
    json_array_append_new(f->lp_pending, e);
}

static json_t *final_message(srv_job *j) {
    job_format *f = j->fmt;
    json_t *msg = json_pack("{s:s}", "role", "assistant");
    int tools = json_array_size(f->tool_calls) > 0;
    json_object_set_new(msg, "content",
                        f->content.len || !tools ? json_text(f->content.p ? f->content.p : "", f->content.len)
                                                 : json_null());
    if (f->reasoning.len) json_object_set_new(msg, "reasoning_content", json_text(f->reasoning.p, f->reasoning.len));
    if (tools) json_object_set(msg, "tool_calls", f->tool_calls);
    return msg;
}

static void end_body(srv_job *j, int n_prompt) {
    job_format *f = j->fmt;
    json_t *choice;
    if (j->p.chat) {
        json_t *lp = j->p.logprobs ? take_chat_logprobs(f) : json_null();
        if (j->p.logprobs && json_is_null(lp)) lp = json_pack("{s:[]}", "content");
        choice = json_pack("{s:i,s:o,s:o,s:s}", "index", 0, "message", final_message(j), "logprobs", lp,
                           "finish_reason", finish_reason(j->end));
    } else {
        json_t *lp = f->lp_pending ? f->lp_pending : json_null();
        f->lp_pending = NULL;
        choice = json_pack("{s:o,s:i,s:o,s:s}", "text", json_text(f->text.p ? f->text.p : "", f->text.len), "index",
                           0, "logprobs", lp, "finish_reason", finish_reason(j->end));
    }
    json_t *body = json_pack("{s:s,s:s,s:I,s:s,s:[o],s:o}", "id", j->id, "object",
                             j->p.chat ? "chat.completion" : "text_completion", "created", (json_int_t)j->created,
                             "model", j->model, "choices", choice, "usage", usage_json(j, n_prompt));
    json_object_set_new(body, "timings", timings_json(j, n_prompt));
    write_json(j, body, 0);
    json_decref(body);
}

void response_end(srv_job *j, int n_prompt) {
    if (j->end == JOB_CANCELLED) return;
    if (j->end == JOB_FAILED) {
        char *e = response_error_json(j->fail_msg, "server_error", NULL, NULL);
        if (e) {
            if (j->stream) job_write(j, "data: ", 6);
            job_write(j, e, strlen(e));
            job_write(j, j->stream ? "\n\ndata: [DONE]\n\n" : "\n", j->stream ? 16 : 1);
        }
        free(e);
        return;
    }
    if (!j->stream) {
        end_body(j, n_prompt);
        return;
    }
    send_chunk(j, j->p.chat ? json_object() : json_string(""), finish_reason(j->end));
    if (j->include_usage) {
        json_t *u = json_pack("{s:s,s:s,s:I,s:s,s:[],s:o}", "id", j->id, "object",
                              j->p.chat ? "chat.completion.chunk" : "text_completion", "created",
                              (json_int_t)j->created, "model", j->model, "choices", "usage", usage_json(j, n_prompt));
        json_object_set_new(u, "timings", timings_json(j, n_prompt));
        write_json(j, u, 1);
        json_decref(u);
    }
    job_write(j, "data: [DONE]\n\n", 14);
}
