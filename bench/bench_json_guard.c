/* bench_json_guard: the cost of constrained decoding over the real Qwen3
 * vocabulary: building the per-tokenizer tables once, and one
 * json_guard_mask (the whole vocabulary) in each kind of state, for
 * json_object, a JSON Schema with most supported keywords, and a forced
 * call among three tools.
 *
 * usage: bench_json_guard [TOKENIZER_DIR]
 * Default: the unpacked Qwen3 tokenizer in the build tree. */
#include "qwenc.h"
#include "server/json_guard.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef QWENC_BENCH_TOKENIZER_DIR
#define QWENC_BENCH_TOKENIZER_DIR "build/testdata/tokenizer"
#endif

#define MASK_RUNS 50

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static const char *const object_schema = "{\"type\": \"object\"}";

static const char *const person_schema =
    "{\"type\": \"object\", \"properties\": {"
    "\"name\": {\"type\": \"string\", \"maxLength\": 40},"
    "\"age\": {\"type\": \"integer\", \"minimum\": 0, \"maximum\": 150},"
    "\"email\": {\"type\": \"string\", \"format\": \"email\"},"
    "\"born\": {\"type\": \"string\", \"format\": \"date\"},"
    "\"score\": {\"type\": \"number\", \"minimum\": -1, \"maximum\": 1},"
    "\"tags\": {\"type\": \"array\", \"items\": {\"enum\": [\"red\", \"green\", \"blue\"]}, \"maxItems\": 5},"
    "\"address\": {\"$ref\": \"#/$defs/address\"},"
    "\"note\": {\"anyOf\": [{\"type\": \"null\"}, {\"type\": \"string\"}, {\"type\": \"number\"}]}},"
    "\"required\": [\"name\", \"age\"], \"additionalProperties\": false,"
    "\"$defs\": {\"address\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}, "
    "\"zip\": {\"type\": \"string\", \"maxLength\": 10}}, \"required\": [\"city\"]}}}";

static const char *const tools_json =
    "[{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"parameters\": {\"type\": \"object\", "
    "\"properties\": {\"city\": {\"type\": \"string\"}, \"unit\": {\"enum\": [\"celsius\", \"fahrenheit\"]}}, "
    "\"required\": [\"city\"]}}},"
    "{\"type\": \"function\", \"function\": {\"name\": \"get_time\", \"parameters\": {\"type\": \"object\", "
    "\"properties\": {\"zone\": {\"type\": \"string\"}}}}},"
    "{\"type\": \"function\", \"function\": {\"name\": \"search\", \"parameters\": {\"type\": \"object\", "
    "\"properties\": {\"query\": {\"type\": \"string\", \"maxLength\": 100}, \"limit\": {\"type\": \"integer\", "
    "\"minimum\": 1, \"maximum\": 50}}, \"required\": [\"query\"]}}}]";

/* Which schema, the text so far, and what it leaves the automaton expecting. */
typedef enum { OBJECT, PERSON, TOOLS } which;
static const struct {
    which schema;
    const char *name, *text;
} states[] = {
    {OBJECT, "start", ""},
    {OBJECT, "object opened", "{"},
    {OBJECT, "in a key", "{\"na"},
    {OBJECT, "after a key", "{\"name\""},
    {OBJECT, "value expected", "{\"name\": "},
    {OBJECT, "in a string", "{\"name\": \"Wh"},
    {OBJECT, "in a number", "{\"age\": 12"},
    {OBJECT, "after a value", "{\"a\": [1, 2]"},
    {OBJECT, "in an array", "{\"a\": [1, "},
    {OBJECT, "complete", "{\"a\": 1}"},
    {PERSON, "start", ""},
    {PERSON, "object opened", "{"},
    {PERSON, "in a key", "{\"na"},
    {PERSON, "value expected", "{\"name\": "},
    {PERSON, "in a string", "{\"name\": \"Wh"},
    {PERSON, "after a value", "{\"name\": \"Al\""},
    {PERSON, "next key", "{\"name\": \"Al\", "},
    {PERSON, "in an integer", "{\"name\": \"Al\", \"age\": 1"},
    {PERSON, "in an email", "{\"name\": \"Al\", \"age\": 1, \"email\": \"al@ex"},
    {PERSON, "in a date", "{\"name\": \"Al\", \"age\": 1, \"born\": \"2024-0"},
    {PERSON, "in a number", "{\"name\": \"Al\", \"age\": 1, \"score\": 0."},
    {PERSON, "in an enum", "{\"name\": \"A\", \"age\": 1, \"tags\": [\"r"},
    {PERSON, "anyOf value", "{\"name\": \"A\", \"age\": 1, \"note\": "},
    {PERSON, "anyOf string", "{\"name\": \"A\", \"age\": 1, \"note\": \"ab"},
    {PERSON, "complete", "{\"name\": \"A\", \"age\": 1}"},
    {TOOLS, "start", ""},
    {TOOLS, "name value", "\n{\"name\": \""},
    {TOOLS, "in a name", "\n{\"name\": \"get_"},
    {TOOLS, "arguments", "\n{\"name\": \"search\", \"arguments\": {"},
    {TOOLS, "in a string", "\n{\"name\": \"search\", \"arguments\": {\"query\": \"cats"},
    {TOOLS, "complete", "\n{\"name\": \"get_time\", \"arguments\": {}}\n"},
};

static double bench_state(const json_vocab *v, const json_schema *s, int32_t end, const char *text, float *logits,
                          int n, int *allowed) {
    json_guard *g = json_guard_new(v, s, &end, 1);
    if (!g || json_guard_feed(g, text, strlen(text))) {
        json_guard_free(g);
        return -1;
    }
    double best = 1e9;
    for (int r = 0; r < MASK_RUNS; r++) {
        for (int i = 0; i < n; i++) logits[i] = 0.0f;
        double a = now_ms();
        json_guard_mask(g, logits);
        double ms = now_ms() - a;
        best = ms < best ? ms : best;
    }
    *allowed = 0;
    for (int i = 0; i < n; i++) *allowed += isfinite(logits[i]) != 0;
    json_guard_free(g);
    return best;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : QWENC_BENCH_TOKENIZER_DIR;
    char err[512];
    qwenc_tokenizer *t = NULL;
    if (qwenc_tokenizer_open(dir, &t, err, sizeof err)) {
        fprintf(stderr, "bench_json_guard: %s\n", err);
        return 1;
    }
    json_schema *schemas[3] = {NULL, NULL, NULL};
    json_t *tools = json_loads(tools_json, 0, NULL);
    if (json_schema_compile_text(object_schema, &schemas[OBJECT], err, sizeof err) ||
        json_schema_compile_text(person_schema, &schemas[PERSON], err, sizeof err) ||
        json_schema_compile_tools(tools, NULL, &schemas[TOOLS], err, sizeof err)) {
        fprintf(stderr, "bench_json_guard: %s\n", err);
        return 1;
    }
    json_decref(tools);
    int n = qwenc_tokenizer_n_tokens(t);
    double t0 = now_ms();
    json_vocab *v = json_vocab_new(t, n);
    double build_ms = now_ms() - t0;
    int32_t eos = qwenc_token_id(t, "<|im_end|>"), close = qwenc_token_id(t, "</tool_call>");
    float *logits = malloc((size_t)n * sizeof *logits);
    if (!v || !logits) {
        fprintf(stderr, "bench_json_guard: out of memory\n");
        return 1;
    }
    static const char *const names[] = {"json_object", "schema", "tools"};
    printf("vocabulary: %d tokens; tables built in %.1f ms\n", n, build_ms);
    printf("%-12s %-16s %10s %10s\n", "grammar", "state", "mask ms", "allowed");
    double worst[3] = {0, 0, 0};
    for (size_t k = 0; k < sizeof states / sizeof *states; k++) {
        which w = states[k].schema;
        int allowed;
        double ms = bench_state(v, schemas[w], w == TOOLS ? close : eos, states[k].text, logits, n, &allowed);
        if (ms < 0) {
            fprintf(stderr, "bench_json_guard: %s state '%s' rejected\n", names[w], states[k].name);
            return 1;
        }
        printf("%-12s %-16s %10.3f %10d\n", names[w], states[k].name, ms, allowed);
        worst[w] = ms > worst[w] ? ms : worst[w];
    }
    printf("slowest mask (best of %d runs each): json_object %.3f ms, schema %.3f ms, tools %.3f ms\n", MASK_RUNS,
           worst[OBJECT], worst[PERSON], worst[TOOLS]);
    free(logits);
    for (int i = 0; i < 3; i++) json_schema_free(schemas[i]);
    json_vocab_free(v);
    qwenc_tokenizer_free(t);
    return 0;
}
