/* The streaming reply parser on model text fed directly: every case is fed
 * token by token (tokenized by the real Qwen3 tokenizer and by the demo
 * model's, whose marker ids differ) and as text cut every way we can
 * (each byte alone, every single cut, every pair of cuts, random cuts, all
 * cuts for short texts); the events, merged by kind, must be the same
 * however the text is cut, and equal the expected content, reasoning and
 * calls. In the scripts below the marker texts stand for the marker tokens. */
#include "qwenc.h"
#include "server/reply.h"


#include "check.h"
#include <string.h>

typedef struct {
    char *s;
    size_t n, cap;
} sbuf;

static void sb_add(sbuf *b, const char *t, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1) cap *= 2;
        b->s = realloc(b->s, cap);
        b->cap = cap;
    }
    if (n) memcpy(b->s + b->n, t, n);
    b->n += n;
    b->s[b->n] = 0;
}

static void sb_free(sbuf *b) { free(b->s); }

static int sb_is(const sbuf *b, const char *want) { return b->n == strlen(want) && (!b->n || !memcmp(b->s, want, b->n)); }

/* What the events said: per kind, and as one transcript where a change of
 * kind is marked (consecutive pieces of one kind are merged). */
typedef struct {
    sbuf content, reasoning, calls, transcript;
    int n_calls, last_kind, bad;
} collect;

static void on_event(void *ctx, const reply_event *ev) {
    collect *c = ctx;
    static const char kind_mark[] = {'C', 'R', 'T'};
    if ((int)ev->kind != c->last_kind || ev->kind == REPLY_TOOL_CALL) {
        char mark[2] = {'\x1e', kind_mark[ev->kind]};
        sb_add(&c->transcript, mark, 2);
        c->last_kind = (int)ev->kind;
    }
    if (ev->kind == REPLY_TOOL_CALL) {
        if (ev->tool_index != c->n_calls++) c->bad++;
        sbuf *b = &c->calls;
        sb_add(b, ev->name, strlen(ev->name));
        sb_add(b, "(", 1);
        sb_add(b, ev->arguments, ev->arguments_len);
        sb_add(b, ")\n", 2);
        sb_add(&c->transcript, c->calls.s, c->calls.n);
        return;
    }
    if (!ev->len) c->bad++;  /* an empty piece is a wasted SSE chunk */
    sb_add(ev->kind == REPLY_CONTENT ? &c->content : &c->reasoning, ev->text, ev->len);
    sb_add(&c->transcript, ev->text, ev->len);
}

static void collect_free(collect *c) {
    sb_free(&c->content);
    sb_free(&c->reasoning);
    sb_free(&c->calls);
    sb_free(&c->transcript);
}

static reply_parser *begin(collect *c, const reply_ids *ids, int start_in_think) {
    memset(c, 0, sizeof *c);
    c->last_kind = -1;
    reply_parser *p = reply_parser_new(ids, start_in_think, on_event, c);
    CHECK(p != NULL, "reply_parser_new");
    return p;
}

static void end(reply_parser *p) {
    reply_parser_finish(p);
    reply_parser_finish(p);  /* twice: the second does nothing */
    reply_parser_free(p);
}

/* ---- feeding ------------------------------------------------------------- */

/* Length of the marker text at s (its id in *id), or 0. */
static size_t marker_at(const char *s, const reply_ids *ids, int32_t *id) {
    const struct {
        const char *text;
        int32_t id;
    } m[] = {{"<think>", ids->think_open},
             {"</think>", ids->think_close},
             {"<tool_call>", ids->tool_open},
             {"</tool_call>", ids->tool_close}};
    for (int k = 0; k < 4; k++)
        if (!strncmp(s, m[k].text, strlen(m[k].text))) return *id = m[k].id, strlen(m[k].text);
    return 0;
}

/* Feeds the script cut before every byte i where cut[i] is set (plain:
 * marker texts are ordinary text, as when a model spells them out). */
static void feed_cut(reply_parser *p, const reply_ids *ids, const char *script, const unsigned char *cut, int plain) {
    size_t len = strlen(script), run = 0;
    for (size_t i = 0; i < len;) {
        int32_t id;
        size_t m = plain ? 0 : marker_at(script + i, ids, &id);
        if (m) {
            reply_parser_text(p, script + run, i - run);
            reply_parser_marker(p, id);
            run = i += m;
            continue;
        }
        if (cut[i] && i > run) {
            reply_parser_text(p, script + run, i - run);
            run = i;
        }
        i++;
    }
    reply_parser_text(p, script + run, len - run);
}

/* Feeds the script as a model generates it: token by token, markers by id,
 * ordinary tokens through the streaming decoder. */
static void feed_tokens(reply_parser *p, const qwenc_tokenizer *tok, const reply_ids *ids, const char *script) {
    int32_t *toks = NULL;
    size_t n = 0, len;
    char err[512];
    int rc = qwenc_tokenize(tok, script, strlen(script), &toks, &n, err, sizeof err);
    CHECK(rc == 0, "tokenize: %s", err);
    qwenc_detok_stream *ds = qwenc_detok_stream_new(tok, 0);
    for (size_t i = 0; i < n; i++) {
        if (reply_is_marker(ids, toks[i])) {
            const char *t = qwenc_detok_stream_flush(ds, &len);
            reply_parser_text(p, t, len);
            reply_parser_marker(p, toks[i]);
        } else {
            const char *t = qwenc_detok_stream_push(ds, toks[i], &len);
            reply_parser_text(p, t, len);
        }
    }
    const char *t = qwenc_detok_stream_flush(ds, &len);
    reply_parser_text(p, t, len);
    qwenc_detok_stream_free(ds);
    free(toks);
}

/* ---- the cases ------------------------------------------------------------ */

typedef struct {
    const char *name, *script;
    int start_in_think, plain;
    const char *content, *reasoning, *calls;
} reply_case;

#define CALL(name, args) "{\"name\": \"" name "\", \"arguments\": " args "}"

static const reply_case cases[] = {
    {"plain content", "Hello, world!\n  indented code\n\n", 0, 0, "Hello, world!\n  indented code", "", ""},
    {"leading newlines and spaces", "\n\n  x = 1\n\n  y = 2\n", 0, 0, "  x = 1\n\n  y = 2", "", ""},
    {"think then content", "<think>\nLet me think.\n\nYes.\n</think>\n\nThe answer is 42.\n", 0, 0,
     "The answer is 42.", "Let me think.\n\nYes.", ""},
    {"empty think (enable_thinking off in output)", "<think>\n\n</think>\n\nHi there.", 0, 0, "Hi there.", "", ""},
    {"start in think", "I am thinking\n</think>\n\nDone.", 1, 0, "Done.", "I am thinking", ""},
    {"start in think, never closed", "\nstill thinking\n\n", 1, 0, "", "still thinking", ""},
    {"ignored think markers", "a<think>b</think>c</think>d", 1, 0, "cd", "ab", ""},
    {"content around a think block", "pre\n<think>x</think>\npost", 0, 0, "prepost", "x", ""},
    {"one call after content",
     "Let me check.\n\n<tool_call>\n" CALL("get_weather", "{\"city\": \"Paris\"}") "\n</tool_call>", 0, 0,
     "Let me check.", "", "get_weather({\"city\": \"Paris\"})\n"},
    {"two calls", "<tool_call>\n" CALL("a", "{\"x\": 1}") "\n</tool_call>\n<tool_call>\n" CALL("b", "{}") "\n</tool_call>\n",
     0, 0, "", "", "a({\"x\": 1})\nb({})\n"},
    {"content after a call", "<tool_call>" CALL("f", "{}") "</tool_call>\n\nHere you go.\n", 0, 0, "Here you go.", "",
     "f({})\n"},
    {"think then call",
     "<think>\nI should call <tool_call> here\n</think>\n\n<tool_call>\n" CALL("f", "{\"q\": [1, 2]}") "\n</tool_call>",
     0, 0, "", "I should call <tool_call> here", "f({\"q\": [1, 2]})\n"},
    {"call markers inside reasoning are text", "<think><tool_call>" CALL("f", "{}") "</tool_call></think>ok", 0, 0, "ok",
     "<tool_call>" CALL("f", "{}") "</tool_call>", ""},
    {"arguments as a string", "<tool_call>\n{\"name\": \"f\", \"arguments\": \"{\\\"x\\\": \\\"a\\u00e9\\\"}\"}\n</tool_call>",
     0, 0, "", "", "f({\"x\": \"a\xc3\xa9\"})\n"},
    {"arguments missing", "<tool_call>{\"name\": \"now\"}</tool_call>", 0, 0, "", "", "now({})\n"},
    {"arguments kept as written",
     "<tool_call>{\"arguments\" :{ \"code\": \"if (x) { y(\\\"}\\\"); }\", \"n\": [1, {\"a\": [2]}] } , \"name\":\"run\"}"
     "</tool_call>",
     0, 0, "", "", "run({ \"code\": \"if (x) { y(\\\"}\\\"); }\", \"n\": [1, {\"a\": [2]}] })\n"},
    {"nested arguments key is not the top one",
     "<tool_call>{\"name\": \"f\", \"meta\": {\"arguments\": {\"no\": 1}}, \"arguments\": {\"q\": \"a\\\"b\"}}</tool_call>",
     0, 0, "", "", "f({\"q\": \"a\\\"b\"})\n"},
    {"escaped arguments key", "<tool_call>{\"name\": \"f\", \"\\u0061rguments\": {\"z\": 1}}</tool_call>", 0, 0, "", "",
     "f({\"z\": 1})\n"},
    {"duplicate arguments: the last, as jansson keeps",
     "<tool_call>{\"name\": \"f\", \"arguments\": {\"a\": 1}, \"arguments\": {\"b\": 2}}</tool_call>", 0, 0, "", "",
     "f({\"b\": 2})\n"},
    {"U+0000 in arguments", "<tool_call>{\"name\": \"f\", \"arguments\": {\"s\": \"\\u0000\"}}</tool_call>", 0, 0, "", "",
     "f({\"s\": \"\\u0000\"})\n"},
    {"malformed JSON", "Text\n\n<tool_call>\n{\"name\": \"f\", \"arguments\": {\"x\": }\n</tool_call>\nafter\n", 0, 0,
     "Text\n\n<tool_call>\n{\"name\": \"f\", \"arguments\": {\"x\": }\n</tool_call>\nafter", "", ""},
    {"no name", "<tool_call>{\"arguments\": {}}</tool_call>", 0, 0, "<tool_call>{\"arguments\": {}}</tool_call>", "", ""},
    {"name not a string", "<tool_call>{\"name\": 5}</tool_call>", 0, 0, "<tool_call>{\"name\": 5}</tool_call>", "", ""},
    {"empty name", "<tool_call>{\"name\": \"\"}</tool_call>", 0, 0, "<tool_call>{\"name\": \"\"}</tool_call>", "", ""},
    {"name with U+0000", "<tool_call>{\"name\": \"a\\u0000b\"}</tool_call>", 0, 0,
     "<tool_call>{\"name\": \"a\\u0000b\"}</tool_call>", "", ""},
    {"arguments an array", "<tool_call>" CALL("f", "[1]") "</tool_call>", 0, 0, "<tool_call>" CALL("f", "[1]") "</tool_call>",
     "", ""},
    {"arguments null", "<tool_call>" CALL("f", "null") "</tool_call>", 0, 0, "<tool_call>" CALL("f", "null") "</tool_call>",
     "", ""},
    {"arguments a string not holding an object", "<tool_call>" CALL("f", "\"[1]\"") "</tool_call>", 0, 0,
     "<tool_call>" CALL("f", "\"[1]\"") "</tool_call>", "", ""},
    {"arguments a string not holding JSON", "<tool_call>" CALL("f", "\"x\"") "</tool_call>", 0, 0,
     "<tool_call>" CALL("f", "\"x\"") "</tool_call>", "", ""},
    {"body an array", "<tool_call>[" CALL("f", "{}") "]</tool_call>", 0, 0, "<tool_call>[" CALL("f", "{}") "]</tool_call>",
     "", ""},
    {"trailing garbage", "<tool_call>" CALL("f", "{}") " x</tool_call>", 0, 0, "<tool_call>" CALL("f", "{}") " x</tool_call>",
     "", ""},
    {"empty body", "a\n<tool_call></tool_call>\n", 0, 0, "a\n<tool_call></tool_call>", "", ""},
    {"unclosed call", "ok\n<tool_call>\n{\"name\": \"f\"\n", 0, 0, "ok\n<tool_call>\n{\"name\": \"f\"", "", ""},
    {"unclosed valid call", "<tool_call>\n" CALL("f", "{}") "\n", 0, 0, "<tool_call>\n" CALL("f", "{}"), "", ""},
    {"think markers inside a body", "<tool_call>{\"name\": \"f\",<think>}</think></tool_call>", 0, 0,
     "<tool_call>{\"name\": \"f\",<think>}</think></tool_call>", "", ""},
    {"a call opened inside a call", "<tool_call>{\"name\":<tool_call>{\"name\": \"g\"}</tool_call>", 0, 0,
     "<tool_call>{\"name\":", "", "g({})\n"},
    {"stray call close", "a</tool_call>b\n", 0, 0, "a</tool_call>b", "", ""},
    {"a malformed call then a good one",
     "<tool_call>{bad}</tool_call>\n<tool_call>" CALL("f", "{\"a\": 1}") "</tool_call>", 0, 0, "<tool_call>{bad}</tool_call>",
     "", "f({\"a\": 1})\n"},
    {"markers spelled as text in a code block", "```\n<tool_call>\n" CALL("f", "{}") "\n</tool_call>\n<think>\n```\n", 0, 1,
     "```\n<tool_call>\n" CALL("f", "{}") "\n</tool_call>\n<think>\n```", "", ""},
};

/* Up to this length every way of cutting the text is tried. */
#define EXHAUSTIVE_MAX 18

static uint32_t next_rand(uint32_t *s) {
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static int same_transcript(const collect *a, const collect *b) {
    return a->transcript.n == b->transcript.n && (!a->transcript.n || !memcmp(a->transcript.s, b->transcript.s, a->transcript.n));
}

/* Feeds the case cut as cut says; counts a difference from ref. */
static void run_cut(const reply_case *k, const reply_ids *ids, const unsigned char *cut, const collect *ref, int *diffs) {
    collect c;
    reply_parser *p = begin(&c, ids, k->start_in_think);
    feed_cut(p, ids, k->script, cut, k->plain);
    end(p);
    if (!same_transcript(&c, ref) || c.bad) (*diffs)++;
    collect_free(&c);
}

static void run_case(const reply_case *k, const qwenc_tokenizer *tok, const reply_ids *ids, const char *which) {
    size_t len = strlen(k->script);
    unsigned char *cut = calloc(len + 1, 1);
    collect ref;
    reply_parser *p = begin(&ref, ids, k->start_in_think);
    feed_cut(p, ids, k->script, cut, k->plain);
    end(p);
    CHECK(sb_is(&ref.content, k->content), "%s (%s): content [%s], expected [%s]", k->name, which, ref.content.s,
          k->content);
    CHECK(sb_is(&ref.reasoning, k->reasoning), "%s (%s): reasoning [%s], expected [%s]", k->name, which,
          ref.reasoning.s, k->reasoning);
    CHECK(sb_is(&ref.calls, k->calls), "%s (%s): calls [%s], expected [%s]", k->name, which, ref.calls.s, k->calls);
    CHECK(!ref.bad, "%s (%s): an empty piece or a wrong tool_index", k->name, which);

    int diffs = 0;
    memset(cut, 1, len);  /* byte by byte */
    run_cut(k, ids, cut, &ref, &diffs);
    memset(cut, 0, len);
    for (size_t i = 1; i < len; i++) {  /* every single cut and every pair */
        cut[i] = 1;
        run_cut(k, ids, cut, &ref, &diffs);
        for (size_t j = i + 1; j < len; j++) {
            cut[j] = 1;
            run_cut(k, ids, cut, &ref, &diffs);
            cut[j] = 0;
        }
        cut[i] = 0;
    }
    if (len <= EXHAUSTIVE_MAX) {
        for (uint32_t mask = 0; mask < (1u << len); mask++) {
            for (size_t i = 0; i < len; i++) cut[i] = (mask >> i) & 1;
            run_cut(k, ids, cut, &ref, &diffs);
        }
    }
    uint32_t seed = 7;
    for (int r = 0; r < 300; r++) {
        for (size_t i = 0; i < len; i++) cut[i] = next_rand(&seed) % 4 == 0;
        run_cut(k, ids, cut, &ref, &diffs);
    }
    CHECK(diffs == 0, "%s (%s): %d ways of cutting the text gave other events", k->name, which, diffs);

    if (!k->plain) {  /* a spelled-out marker would tokenize to the marker */
        collect c;
        p = begin(&c, ids, k->start_in_think);
        feed_tokens(p, tok, ids, k->script);
        end(p);
        CHECK(same_transcript(&c, &ref) && !c.bad, "%s (%s): token by token, content [%s] reasoning [%s] calls [%s]",
              k->name, which, c.content.s, c.reasoning.s, c.calls.s);
        collect_free(&c);
    }
    collect_free(&ref);
    free(cut);
}

/* ---- the rest --------------------------------------------------------------- */

/* Text is emitted as soon as it arrives; only trailing newlines wait. */
static void test_no_hold_back(const reply_ids *ids) {
    const char *text = "\n\nab\n\ncd\n";
    const char *want[] = {"", "", "a", "ab", "ab", "ab", "ab\n\nc", "ab\n\ncd", "ab\n\ncd"};
    for (int think = 0; think < 2; think++) {
        collect c;
        reply_parser *p = begin(&c, ids, think);
        sbuf *got = think ? &c.reasoning : &c.content;
        for (size_t i = 0; i < strlen(text); i++) {
            reply_parser_text(p, text + i, 1);
            CHECK(sb_is(got, want[i]), "after byte %zu (think %d): [%s], expected [%s]", i, think, got->s, want[i]);
            CHECK(reply_parser_in_reasoning(p) == think, "in reasoning");
        }
        end(p);
        CHECK(sb_is(got, "ab\n\ncd"), "at the end");
        collect_free(&c);
    }
}

/* The states, and U+0000 in text. */
static void test_states(const reply_ids *ids) {
    collect c;
    reply_parser *p = begin(&c, ids, 0);
    reply_parser_text(p, "a\0b\n", 4);
    CHECK(c.content.n == 3 && !memcmp(c.content.s, "a\0b", 3), "U+0000 is text");
    reply_parser_marker(p, ids->tool_open);
    CHECK(reply_parser_in_tool_call(p) && !reply_parser_in_reasoning(p), "in a call");
    reply_parser_text(p, CALL("f", "{}"), strlen(CALL("f", "{}")));
    CHECK(c.content.n == 3 && c.calls.n == 0, "nothing emitted while buffering");
    reply_parser_marker(p, ids->tool_close);
    CHECK(!reply_parser_in_tool_call(p) && reply_parser_n_tool_calls(p) == 1, "one call");
    reply_parser_marker(p, ids->think_open);
    CHECK(reply_parser_in_reasoning(p), "thinking");
    reply_parser_marker(p, 12345);  /* not a marker: ignored */
    reply_parser_marker(p, -1);
    reply_parser_marker(p, ids->think_close);
    CHECK(!reply_parser_in_reasoning(p), "done thinking");
    reply_parser_finish(p);
    reply_parser_text(p, "late", 4);
    reply_parser_marker(p, ids->tool_open);
    CHECK(c.content.n == 3 && !reply_parser_in_tool_call(p), "nothing after finish");
    reply_parser_free(p);
    collect_free(&c);
}

/* A runaway call body is released as content once it passes the bound; a
 * body of exactly the bound is still a call. */
static void test_body_bound(const reply_ids *ids) {
    size_t over = REPLY_MAX_TOOL_BODY + 10;
    char *x = malloc(over);
    memset(x, 'x', over);
    collect c;
    reply_parser *p = begin(&c, ids, 0);
    reply_parser_marker(p, ids->tool_open);
    for (size_t i = 0; i < over; i += 4096) {
        size_t n = over - i < 4096 ? over - i : 4096;
        reply_parser_text(p, x + i, n);
        if (i + n <= REPLY_MAX_TOOL_BODY) continue;
        CHECK(!reply_parser_in_tool_call(p) && c.content.n == strlen("<tool_call>") + i + n, "streamed at once");
    }
    reply_parser_marker(p, ids->tool_close);
    reply_parser_text(p, "end", 3);
    end(p);
    sbuf want = {0};
    sb_add(&want, "<tool_call>", 11);
    sb_add(&want, x, over);
    sb_add(&want, "</tool_call>end", 15);
    CHECK(c.content.n == want.n && !memcmp(c.content.s, want.s, want.n) && c.n_calls == 0, "an oversized call is content");
    collect_free(&c);
    sb_free(&want);

    char *body = malloc(REPLY_MAX_TOOL_BODY);
    const char *call = CALL("f", "{}");
    memset(body, ' ', REPLY_MAX_TOOL_BODY);
    memcpy(body, call, strlen(call));
    p = begin(&c, ids, 0);
    reply_parser_marker(p, ids->tool_open);
    reply_parser_text(p, body, REPLY_MAX_TOOL_BODY);
    reply_parser_marker(p, ids->tool_close);
    end(p);
    CHECK(sb_is(&c.calls, "f({})\n") && c.content.n == 0, "a body of exactly the bound is a call");
    collect_free(&c);
    free(body);
    free(x);
}

/* A tokenizer without markers: everything is content. */
static void test_no_markers(void) {
    reply_ids none;
    reply_ids_from_tokenizer(NULL, &none);
    CHECK(none.think_open == -1 && none.think_close == -1 && none.tool_open == -1 && none.tool_close == -1, "no ids");
    CHECK(!reply_is_marker(&none, -1) && !reply_is_marker(&none, 5), "nothing is a marker");
    int32_t prompt[] = {1, 2, -1};
    CHECK(reply_prompt_in_think(&none, prompt, 3) == 0, "never in think");
    collect c;
    reply_parser *p = begin(&c, &none, 0);
    reply_parser_marker(p, -1);
    reply_parser_text(p, "<think>x", 8);
    end(p);
    CHECK(sb_is(&c.content, "<think>x"), "content");
    collect_free(&c);
}

static int32_t *tokenize_text(const qwenc_tokenizer *tok, const char *text, int *n) {
    int32_t *ids = NULL;
    size_t len = 0;
    char err[512];
    CHECK(qwenc_tokenize(tok, text, strlen(text), &ids, &len, err, sizeof err) == 0, "tokenize: %s", err);
    *n = (int)len;
    return ids;
}

/* The prompt state on prompts rendered by the real chat template. */
static void test_prompt_state(const qwenc_tokenizer *tok, const reply_ids *ids, const char *which) {
    static const struct {
        const char *request, *append;
        int in_think;
    } prompts[] = {
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}], \"add_generation_prompt\": true}", "", 0},
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}], \"add_generation_prompt\": true, "
         "\"enable_thinking\": false}",
         "", 0},
        /* A template that opens the block for the model (QwQ, Qwen3 thinking-2507). */
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}], \"add_generation_prompt\": true}", "<think>\n", 1},
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": "
         "\"<think>\\nx\\n</think>\\n\\nHello\"}, {\"role\": \"user\", \"content\": \"Again\"}], "
         "\"add_generation_prompt\": true, \"enable_thinking\": false}",
         "", 0},
    };
    for (size_t k = 0; k < sizeof prompts / sizeof prompts[0]; k++) {
        char *out = NULL, err[512];
        int rc = qwenc_chat_render(tok, prompts[k].request, &out, err, sizeof err);
        CHECK(rc == 0, "render: %s", err);
        if (rc) continue;
        size_t n = strlen(out);
        char *text = malloc(n + strlen(prompts[k].append) + 1);
        strcpy(text, out);
        strcat(text, prompts[k].append);
        int n_ids;
        int32_t *prompt = tokenize_text(tok, text, &n_ids);
        int got = reply_prompt_in_think(ids, prompt, n_ids);
        CHECK(got == prompts[k].in_think, "%s prompt %zu: in think %d, expected %d", which, k, got, prompts[k].in_think);

        /* The reply to it: with enable_thinking off nothing is reasoning. */
        collect c;
        reply_parser *p = begin(&c, ids, got);
        reply_parser_text(p, "\nHello there.\n", 14);
        end(p);
        CHECK(sb_is(got ? &c.reasoning : &c.content, "Hello there."), "%s prompt %zu: routed", which, k);
        CHECK((got ? c.content.n : c.reasoning.n) == 0, "%s prompt %zu: nothing else", which, k);
        collect_free(&c);
        free(prompt);
        free(text);
        free(out);
    }
}

static void test_tokenizer(const char *dir, const char *which, const int32_t expect[4]) {
    qwenc_tokenizer *tok = NULL;
    char err[512];
    int rc = qwenc_tokenizer_open(dir, &tok, err, sizeof err);
    CHECK(rc == 0, "%s tokenizer: %s", which, err);
    if (rc) return;
    reply_ids ids;
    reply_ids_from_tokenizer(tok, &ids);
    CHECK(ids.think_open == expect[0] && ids.think_close == expect[1] && ids.tool_open == expect[2] &&
              ids.tool_close == expect[3],
          "%s ids %d %d %d %d", which, ids.think_open, ids.think_close, ids.tool_open, ids.tool_close);
    CHECK(reply_is_marker(&ids, expect[2]) && !reply_is_marker(&ids, qwenc_token_id(tok, "<|im_end|>")),
          "%s: markers", which);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) run_case(&cases[k], tok, &ids, which);
    test_prompt_state(tok, &ids, which);
    test_no_hold_back(&ids);
    test_states(&ids);
    qwenc_tokenizer_free(tok);
}

int main(void) {
    const char *real = check_env("QWENC_TOKENIZER_DIR"), *root = check_env("QWENC_ROOT");
    char demo[4096];
    snprintf(demo, sizeof demo, "%s/models/qwenc-demo", root);
    test_tokenizer(real, "Qwen3", (const int32_t[]){151667, 151668, 151657, 151658});
    test_tokenizer(demo, "demo", (const int32_t[]){16024, 16025, 16014, 16015});
    reply_ids ids = {151667, 151668, 151657, 151658};
    test_body_bound(&ids);
    test_no_markers();
    return check_summary();
}
