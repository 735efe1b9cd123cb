/* JSON Schema -> a program for the constrained-decoding automaton
 * (json_machine): a table of nodes, each one kind of value with its
 * bounds, that json_machine walks byte by byte.
 *
 * The supported subset, and what is refused (docs/SERVER.md has the
 * table): every keyword outside the subset is an error naming it and its
 * JSON path, never silently ignored. Local contradictions are errors too
 * (minLength above maxLength, an empty enum, a required property that
 * additionalProperties: false forbids), and so is a schema no finite
 * document satisfies: every node of a compiled program can produce a
 * document within JS_MAX_FRAMES nested values, which is what lets the
 * automaton promise that every prefix it accepts can be completed. */
#ifndef QW_SERVER_JSON_SCHEMA_H
#define QW_SERVER_JSON_SCHEMA_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Values nested in one another (the document itself is the first); an
 * object or array counts one and a string, number or literal one more,
 * so a document may hold 64 levels of containers. */
#define JS_MAX_FRAMES 65
/* anyOf alternatives (and tools, for tool_choice) followed at once. */
#define JS_MAX_ALTERNATIVES 64

typedef enum {
    JS_ANY,         /* any JSON value */
    JS_ANY_OBJECT,  /* any object (json_object; an object schema without properties) */
    JS_OBJECT,      /* declared properties only, in the schema's order */
    JS_ARRAY,
    JS_STRING,
    JS_NUMBER,
    JS_LITERAL,     /* one of a sorted set of exact texts: enum, const, boolean, null */
    JS_ALT,         /* one of several nodes: anyOf, oneOf, type arrays */
} js_kind;

typedef enum { JS_FMT_NONE, JS_FMT_DATE, JS_FMT_TIME, JS_FMT_DATE_TIME, JS_FMT_UUID, JS_FMT_EMAIL } js_format;

/* A property: its name as the JSON text the document must hold (quotes
 * included), its value's node, and whether it is required. */
typedef struct {
    char *key;
    uint32_t key_len;
    uint32_t node;
    int required;
} js_prop;

typedef struct {
    js_kind kind;
    int sat;             /* some finite document satisfies it (the others are pruned from where they appear) */
    uint32_t min_depth;  /* fewest nested values a document of this node needs (containers count 2) */
    union {
        struct {
            js_prop *props;     /* in the order they must appear */
            uint32_t n;
            uint32_t *sorted;   /* property indices, sorted by key text, for matching a key byte by byte */
            uint32_t *req_from; /* req_from[i]: the first required property at index >= i (n if none), i <= n */
        } obj;
        struct {
            uint32_t items, min_items, max_items;
        } arr;
        struct {
            uint32_t min_len, max_len;  /* in code points; max UINT32_MAX when unbounded */
            js_format format;
        } str;
        struct {
            int integer;            /* no fraction or exponent */
            int bounded;            /* minimum/maximum given: fixed-point digits, compared exactly */
            int64_t lo, hi;         /* bounded: the range in units of 10^-frac_digits */
            int frac_digits;        /* bounded: 0 for integers, JS_NUMBER_FRAC_DIGITS otherwise */
            int max_int_digits;     /* bounded: digits before the point */
        } num;
        struct {
            char **text;            /* sorted bytewise, shorter first */
            uint32_t *len;
            uint32_t n;
        } lit;
        struct {
            uint32_t *alts;         /* leaves: never JS_ALT themselves */
            uint32_t n;
        } alt;
    } u;
} js_node;

/* Bounded numbers that are not integers are written with at most this
 * many digits after the point (and no exponent), so that the automaton
 * can compare them with the bounds exactly. */
#define JS_NUMBER_FRAC_DIGITS 6

/* Built-in nodes every program starts with. */
enum { JS_NODE_ANY, JS_NODE_ANY_OBJECT, JS_NODE_ANY_ARRAY, JS_NODE_ANY_STRING, JS_NODE_ANY_NUMBER, JS_NODE_SCALAR_LITERALS };

typedef struct json_schema {
    js_node *nodes;
    uint32_t n_nodes, cap;
    uint32_t root;
} json_schema;

/* Compiles a JSON Schema (an object or a boolean). On failure returns
 * QWENC_EUNSUPPORTED (a keyword or value outside the subset) or
 * QWENC_EINVAL (a malformed or unsatisfiable schema) with one line naming
 * the keyword and its JSON path ("#/properties/code"), or QWENC_ENOMEM. */
int json_schema_compile(const json_t *schema, json_schema **out, char *err, size_t errlen);

/* The same from JSON text. */
int json_schema_compile_text(const char *text, json_schema **out, char *err, size_t errlen);

/* The body of a tool call, as Qwen's chat template writes it:
 * {"name": NAME, "arguments": ARGS}, for any of the OpenAI-style tools
 * ([{"type": "function", "function": {"name", "parameters"}}]), or only
 * the one called `name` when it is not NULL; ARGS valid for that tool's
 * parameters (a missing parameters schema means no arguments: {}). Errors
 * name the tool ("tools[2].function.parameters: ..."). */
int json_schema_compile_tools(const json_t *tools, const char *name, json_schema **out, char *err, size_t errlen);

void json_schema_free(json_schema *s);

#endif
