/* The reply parser (reasoning, content, tool calls). The first byte holds
 * start_in_think and seeds the cuts; after it, bytes 0x01-0x04 are the four
 * marker tokens and every other byte is text. The stream is fed twice:
 * each run of text whole, and each run cut into random pieces. reply.h
 * promises the events do not depend on the cuts, so the two event lists,
 * with adjacent text of one kind merged, must be equal; every tool call
 * has a name and arguments that are a JSON object. */
#include "server/reply.h"

#include <jansson.h>

#include "fuzz.h"

enum { THINK_OPEN = 1, THINK_CLOSE, TOOL_OPEN, TOOL_CLOSE };

typedef struct {
    char *buf;     /* the events, merged, as one byte string */
    size_t len, cap;
    int last_kind; /* kind of the text at the end of buf, -1 after a call */
    int n_calls;
} events;

static void put(events *ev, const void *p, size_t n) {
    if (ev->len + n > ev->cap) {
        size_t cap = ev->cap ? ev->cap : 256;
        while (cap < ev->len + n) cap *= 2;
        if (!(ev->buf = realloc(ev->buf, cap))) abort();
        ev->cap = cap;
    }
    if (n) memcpy(ev->buf + ev->len, p, n);
    ev->len += n;
}

static void on_event(void *ctx, const reply_event *e) {
    events *ev = ctx;
    if (e->kind != REPLY_TOOL_CALL) {
        FUZZ_CHECK(e->len > 0 && e->text, "empty text event");
        if ((int)e->kind != ev->last_kind) put(ev, e->kind == REPLY_CONTENT ? "\x01C" : "\x01R", 2);
        put(ev, e->text, e->len);
        ev->last_kind = (int)e->kind;
        return;
    }
    FUZZ_CHECK(e->tool_index == ev->n_calls, "tool_index %d after %d calls", e->tool_index, ev->n_calls);
    FUZZ_CHECK(e->name && e->name[0], "a call without a name");
    json_t *args = json_loadb(e->arguments, e->arguments_len, JSON_ALLOW_NUL, NULL);
    FUZZ_CHECK(json_is_object(args), "arguments are not a JSON object: '%.*s'", (int)e->arguments_len, e->arguments);
    json_decref(args);
    ev->n_calls++;
    put(ev, "\x01T", 2);
    put(ev, e->name, strlen(e->name) + 1);
    put(ev, e->arguments, e->arguments_len);
    put(ev, "\x01E", 2);
    ev->last_kind = -1;
}

/* Feeds the stream; cut_seed 0: each run of text whole. */
static events run(const uint8_t *data, size_t size, int in_think, uint64_t cut_seed) {
    static const reply_ids ids = {THINK_OPEN, THINK_CLOSE, TOOL_OPEN, TOOL_CLOSE};
    events ev = {.last_kind = -1};
    reply_parser *p = reply_parser_new(&ids, in_think, on_event, &ev);
    if (!p) abort();
    size_t i = 0;
    while (i < size) {
        if (data[i] >= THINK_OPEN && data[i] <= TOOL_CLOSE) {
            FUZZ_CHECK(reply_is_marker(&ids, data[i]), "marker %d", data[i]);
            reply_parser_marker(p, data[i++]);
            continue;
        }
        size_t end = i;
        while (end < size && !(data[end] >= THINK_OPEN && data[end] <= TOOL_CLOSE)) end++;
        while (i < end) {
            size_t n = cut_seed ? 1 + fuzz_rand(&cut_seed) % (end - i) : end - i;
            if (cut_seed && fuzz_rand(&cut_seed) % 2 && n > 4) n = 1 + n % 4;  /* many short pieces too */
            reply_parser_text(p, (const char *)data + i, n);
            i += n;
        }
    }
    reply_parser_finish(p);
    reply_parser_text(p, "late", 4);  /* after finish: nothing */
    reply_parser_marker(p, TOOL_OPEN);
    FUZZ_CHECK(reply_parser_n_tool_calls(p) == ev.n_calls, "n_tool_calls %d, %d events", reply_parser_n_tool_calls(p),
               ev.n_calls);
    reply_parser_free(p);
    return ev;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int in_think = data[0] & 1;
    uint64_t seed = fuzz_seed(data, size) | 1;
    events whole = run(data + 1, size - 1, in_think, 0), cut = run(data + 1, size - 1, in_think, seed);
    FUZZ_CHECK(whole.len == cut.len && (!whole.len || !memcmp(whole.buf, cut.buf, whole.len)),
               "the events depend on the cuts (%zu vs %zu bytes)", whole.len, cut.len);
    free(whole.buf);
    free(cut.buf);
    return 0;
}
