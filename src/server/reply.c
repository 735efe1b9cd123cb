#include "server/reply.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define TOOL_OPEN_TEXT "<tool_call>"
#define TOOL_CLOSE_TEXT "</tool_call>"
#define THINK_OPEN_TEXT "<think>"
#define THINK_CLOSE_TEXT "</think>"

typedef enum { MODE_CONTENT, MODE_REASONING, MODE_TOOL } parser_mode;

struct reply_parser {
    reply_ids ids;
    reply_emit_fn emit;
    void *ctx;
    parser_mode mode;
    /* The segment being written (in MODE_TOOL: the content segment the call
     * interrupted, which a malformed call continues). */
    int at_start;          /* nothing emitted yet: leading newlines are dropped */
    size_t held_newlines;  /* trailing newlines not yet emitted */
    char *body;            /* the tool-call body being buffered */
    size_t body_len, body_cap;
    char *scratch;         /* held newlines + text, to emit them as one event */
    size_t scratch_cap;
    int n_calls;
    int finished;
};

void reply_ids_from_tokenizer(const qwenc_tokenizer *t, reply_ids *out) {
    out->think_open = t ? qwenc_token_id(t, THINK_OPEN_TEXT) : -1;
    out->think_close = t ? qwenc_token_id(t, THINK_CLOSE_TEXT) : -1;
    out->tool_open = t ? qwenc_token_id(t, TOOL_OPEN_TEXT) : -1;
    out->tool_close = t ? qwenc_token_id(t, TOOL_CLOSE_TEXT) : -1;
}

int reply_prompt_in_think(const reply_ids *ids, const int32_t *prompt, int n) {
    if (ids->think_open < 0) return 0;
    for (int i = n - 1; i >= 0; i--) {
        if (prompt[i] == ids->think_close) return 0;
        if (prompt[i] == ids->think_open) return 1;
    }
    return 0;
}

int reply_is_marker(const reply_ids *ids, int32_t id) {
    return id >= 0 && (id == ids->think_open || id == ids->think_close || id == ids->tool_open || id == ids->tool_close);
}

reply_parser *reply_parser_new(const reply_ids *ids, int start_in_think, reply_emit_fn emit, void *ctx) {
    reply_parser *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->ids = *ids;
    p->emit = emit;
    p->ctx = ctx;
    p->mode = start_in_think ? MODE_REASONING : MODE_CONTENT;
    p->at_start = 1;
    return p;
}

void reply_parser_free(reply_parser *p) {
    if (!p) return;
    free(p->body);
    free(p->scratch);
    free(p);
}

int reply_parser_n_tool_calls(const reply_parser *p) { return p->n_calls; }
int reply_parser_in_reasoning(const reply_parser *p) { return p->mode == MODE_REASONING; }
int reply_parser_in_tool_call(const reply_parser *p) { return p->mode == MODE_TOOL; }

/* ---- segments: text with its leading and trailing newlines trimmed ------- */

static void emit_text(reply_parser *p, reply_kind kind, const char *text, size_t len) {
    reply_event ev = {.kind = kind, .text = text, .len = len};
    p->emit(p->ctx, &ev);
}

/* Emits the held newlines followed by text, as one event when memory allows. */
static void emit_after_newlines(reply_parser *p, reply_kind kind, const char *text, size_t len) {
    size_t n = p->held_newlines;
    p->held_newlines = 0;
    if (!n) {
        emit_text(p, kind, text, len);
        return;
    }
    if (n + len > p->scratch_cap) {
        char *s = realloc(p->scratch, n + len);
        if (s) p->scratch = s, p->scratch_cap = n + len;
    }
    if (n + len <= p->scratch_cap) {
        memset(p->scratch, '\n', n);
        memcpy(p->scratch + n, text, len);
        emit_text(p, kind, p->scratch, n + len);
        return;
    }
    for (; n; n--) emit_text(p, kind, "\n", 1);  /* out of memory: in pieces */
    emit_text(p, kind, text, len);
}

static void segment_text(reply_parser *p, reply_kind kind, const char *text, size_t len) {
    if (p->at_start) {
        while (len && *text == '\n') text++, len--;
        if (!len) return;
        p->at_start = 0;
    }
    size_t body = len;
    while (body && text[body - 1] == '\n') body--;
    if (body) emit_after_newlines(p, kind, text, body);
    p->held_newlines += len - body;
}

static void segment_end(reply_parser *p) {
    p->at_start = 1;
    p->held_newlines = 0;
}

/* ---- tool calls --------------------------------------------------------- */

static size_t skip_ws(const char *s, size_t i, size_t n) {
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
    return i;
}

static size_t skip_string(const char *s, size_t i, size_t n) {
    for (i++; i < n; i++) {
        if (s[i] == '\\') i++;
        else if (s[i] == '"') return i + 1;
    }
    return n;
}

/* The end of the JSON value at s[i] (the text is already validated). */
static size_t skip_value(const char *s, size_t i, size_t n) {
    if (i < n && s[i] == '"') return skip_string(s, i, n);
    if (i < n && (s[i] == '{' || s[i] == '[')) {
        int depth = 0;
        while (i < n) {
            char c = s[i];
            if (c == '"') {
                i = skip_string(s, i, n);
                continue;
            }
            i++;
            if (c == '{' || c == '[') depth++;
            else if ((c == '}' || c == ']') && --depth == 0) return i;
        }
        return n;
    }
    while (i < n && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' &&
           s[i] != '\r')
        i++;
    return i;
}

/* Whether the JSON string literal s[0..n) decodes to "arguments". */
static int key_is_arguments(const char *s, size_t n) {
    static const char lit[] = "\"arguments\"";
    if (n == sizeof lit - 1 && !memcmp(s, lit, n)) return 1;
    if (!memchr(s, '\\', n)) return 0;
    json_t *k = json_loadb(s, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    int is = json_is_string(k) && json_string_length(k) == 9 && !memcmp(json_string_value(k), "arguments", 9);
    json_decref(k);
    return is;
}

/* The exact text of the top-level "arguments" member of a validated JSON
 * object (the last one, as jansson keeps the last of duplicate keys). */
static int find_arguments(const char *s, size_t n, const char **out, size_t *out_len) {
    size_t i = skip_ws(s, 0, n);
    if (i >= n || s[i] != '{') return 0;
    int found = 0;
    for (i = skip_ws(s, i + 1, n); i < n && s[i] == '"';) {
        size_t key = i;
        i = skip_string(s, i, n);
        int is_args = key_is_arguments(s + key, i - key);
        i = skip_ws(s, i, n);
        if (i >= n || s[i] != ':') return 0;
        i = skip_ws(s, i + 1, n);
        size_t value = i;
        i = skip_value(s, i, n);
        if (is_args) *out = s + value, *out_len = i - value, found = 1;
        i = skip_ws(s, i, n);
        if (i < n && s[i] == ',') i = skip_ws(s, i + 1, n);
    }
    return found;
}

static int is_json_object_text(const char *s, size_t n) {
    json_t *j = json_loadb(s, n, 0, NULL);
    int ok = json_is_object(j);
    json_decref(j);
    return ok;
}

/* Parses a call body; on success *root holds the name and arguments the
 * event points into. */
static int parse_call(const char *body, size_t len, json_t **root, const char **args, size_t *args_len) {
    json_t *j = json_loadb(body, len, JSON_ALLOW_NUL, NULL);
    json_t *name = json_object_get(j, "name"), *a = json_object_get(j, "arguments");
    int ok = json_is_object(j) && json_is_string(name) && json_string_length(name) > 0 &&
             strlen(json_string_value(name)) == json_string_length(name);
    if (ok && !a) {
        *args = "{}", *args_len = 2;
    } else if (ok && json_is_object(a)) {
        ok = find_arguments(body, len, args, args_len);
    } else if (ok && json_is_string(a)) {
        *args = json_string_value(a), *args_len = json_string_length(a);
        ok = is_json_object_text(*args, *args_len);
    } else {
        ok = 0;
    }
    if (!ok) {
        json_decref(j);
        return 0;
    }
    *root = j;
    return 1;
}

/* The call was not one: what the model wrote becomes content, as text. */
static void spill_call(reply_parser *p, int closed) {
    p->mode = MODE_CONTENT;
    segment_text(p, REPLY_CONTENT, TOOL_OPEN_TEXT, strlen(TOOL_OPEN_TEXT));
    segment_text(p, REPLY_CONTENT, p->body, p->body_len);
    if (closed) segment_text(p, REPLY_CONTENT, TOOL_CLOSE_TEXT, strlen(TOOL_CLOSE_TEXT));
    p->body_len = 0;
}

static void close_call(reply_parser *p) {
    json_t *root;
    const char *args;
    size_t args_len;
    if (!parse_call(p->body, p->body_len, &root, &args, &args_len)) {
        spill_call(p, 1);
        return;
    }
    segment_end(p);  /* the newlines before the call end their segment */
    reply_event ev = {.kind = REPLY_TOOL_CALL,
                      .tool_index = p->n_calls++,
                      .name = json_string_value(json_object_get(root, "name")),
                      .arguments = args,
                      .arguments_len = args_len};
    p->emit(p->ctx, &ev);
    json_decref(root);
    p->mode = MODE_CONTENT;
    p->body_len = 0;
}

static void body_append(reply_parser *p, const char *text, size_t len) {
    if (len > REPLY_MAX_TOOL_BODY - p->body_len) {
        spill_call(p, 0);
        segment_text(p, REPLY_CONTENT, text, len);
        return;
    }
    if (p->body_len + len > p->body_cap) {
        size_t cap = p->body_cap ? p->body_cap : 256;
        while (cap < p->body_len + len) cap *= 2;
        if (cap > REPLY_MAX_TOOL_BODY) cap = REPLY_MAX_TOOL_BODY;
        char *b = realloc(p->body, cap);
        if (!b) {  /* out of memory: as if the body were too long */
            spill_call(p, 0);
            segment_text(p, REPLY_CONTENT, text, len);
            return;
        }
        p->body = b, p->body_cap = cap;
    }
    memcpy(p->body + p->body_len, text, len);
    p->body_len += len;
}

/* ---- the state machine -------------------------------------------------- */

static void marker_in_reasoning(reply_parser *p, int32_t id) {
    const reply_ids *ids = &p->ids;
    if (id == ids->think_close) {
        segment_end(p);
        p->mode = MODE_CONTENT;
    } else if (id == ids->tool_open) {
        segment_text(p, REPLY_REASONING, TOOL_OPEN_TEXT, strlen(TOOL_OPEN_TEXT));
    } else if (id == ids->tool_close) {
        segment_text(p, REPLY_REASONING, TOOL_CLOSE_TEXT, strlen(TOOL_CLOSE_TEXT));
    }  /* think_open: already thinking */
}

static void marker_in_content(reply_parser *p, int32_t id) {
    const reply_ids *ids = &p->ids;
    if (id == ids->think_open) {
        segment_end(p);
        p->mode = MODE_REASONING;
    } else if (id == ids->tool_open) {
        p->mode = MODE_TOOL;  /* the held newlines wait: a malformed call is content */
        p->body_len = 0;
    } else if (id == ids->tool_close) {
        segment_text(p, REPLY_CONTENT, TOOL_CLOSE_TEXT, strlen(TOOL_CLOSE_TEXT));
    }  /* think_close: no block to close */
}

static void marker_in_call(reply_parser *p, int32_t id) {
    const reply_ids *ids = &p->ids;
    if (id == ids->tool_close) {
        close_call(p);
    } else if (id == ids->tool_open) {
        spill_call(p, 0);  /* the unclosed call is content; a new one starts */
        p->mode = MODE_TOOL;
    } else {
        const char *t = id == ids->think_open ? THINK_OPEN_TEXT : THINK_CLOSE_TEXT;
        body_append(p, t, strlen(t));
    }
}

void reply_parser_marker(reply_parser *p, int32_t id) {
    if (p->finished || !reply_is_marker(&p->ids, id)) return;
    switch (p->mode) {
    case MODE_REASONING: marker_in_reasoning(p, id); break;
    case MODE_CONTENT: marker_in_content(p, id); break;
    case MODE_TOOL: marker_in_call(p, id); break;
    }
}

void reply_parser_text(reply_parser *p, const char *text, size_t len) {
    if (p->finished || !len) return;
    switch (p->mode) {
    case MODE_REASONING: segment_text(p, REPLY_REASONING, text, len); break;
    case MODE_CONTENT: segment_text(p, REPLY_CONTENT, text, len); break;
    case MODE_TOOL: body_append(p, text, len); break;
    }
}

void reply_parser_finish(reply_parser *p) {
    if (p->finished) return;
    if (p->mode == MODE_TOOL) spill_call(p, 0);
    segment_end(p);
    p->finished = 1;
}
