/* Constrained decoding: masks the logits of every token that would take
 * the text out of the language of a json_machine (a compiled JSON Schema:
 * response_format json_schema, json_object as the schema {"type":
 * "object"}, and forced tool calls), and of end-of-sequence until the
 * document is complete. The vocabulary, sorted by bytes, is walked like a
 * trie against the automaton's state, so that a prefix shared by many
 * tokens is fed once and a rejected one rejects them all. Uses only the
 * public API (qwenc.h). */
#ifndef QW_SERVER_JSON_GUARD_H
#define QW_SERVER_JSON_GUARD_H

#include <stdint.h>

#include "qwenc.h"
#include "server/json_machine.h"
#include "server/json_schema.h"

/* The automaton's bounds, as json_object has always documented them:
 * nesting of objects and arrays, whitespace runs between tokens and after
 * the document, digits per part of a number. */
#define JSON_GUARD_MAX_DEPTH (JS_MAX_FRAMES - 1)
#define JSON_GUARD_MAX_WS_RUN JM_MAX_WS_RUN
#define JSON_GUARD_MAX_TRAILING_WS JM_MAX_TRAILING_WS
#define JSON_GUARD_MAX_DIGITS JM_MAX_DIGITS
#define JSON_GUARD_MAX_EXP_DIGITS JM_MAX_EXP_DIGITS

/* Tables built once per tokenizer (token bytes sorted, which ids are added
 * tokens, which are plain string content); shared by all requests,
 * read-only. */
typedef struct json_vocab json_vocab;
/* vocab_size = model logits rows (may exceed the tokenizer's ids: those
 * are always masked). NULL when out of memory or vocab_size <= 0. */
json_vocab *json_vocab_new(const qwenc_tokenizer *t, int vocab_size);
void json_vocab_free(json_vocab *v);

typedef struct json_guard json_guard;
/* One document's validator; v and schema must outlive it. end_ids: the
 * tokens allowed once the document is complete (end-of-sequence, or
 * </tool_call> after a call's body). NULL when out of memory. */
json_guard *json_guard_new(const json_vocab *v, const json_schema *schema, const int32_t *end_ids, int n_end);
void json_guard_free(json_guard *g);

/* Sets to -INFINITY the logits of every token whose bytes would make the
 * text so far not a prefix of a valid document, every added token, and the
 * end ids unless the document is complete. logits has the vocab_size of
 * the json_vocab. */
void json_guard_mask(const json_guard *g, float *logits);

/* Draws a token that keeps the document valid: samples from `logits`
 * first; if that token is rejected, masks a copy in scratch (vocab_size
 * floats) and samples again. Deterministic for a given sampler seed. -1
 * when no token is allowed (complete, trailing whitespace used up and no
 * end id). */
int32_t json_guard_sample(const json_guard *g, qwenc_sampler *s, const float *logits, float *scratch);

/* Advances over token id: 0, or -1 (state unchanged) if it is not allowed.
 * An end id is allowed once the document is complete and changes nothing. */
int json_guard_accept(json_guard *g, int32_t id);
/* Back to before the document (the guard of a new tool call). */
void json_guard_reset(json_guard *g);
/* 1 once the text is a whole valid document. */
int json_guard_complete(const json_guard *g);

/* Would these bytes be allowed next? (The validator without tokens.) */
int json_guard_allows_bytes(const json_guard *g, const char *bytes, size_t len);
/* Advances over raw bytes: 0, or -1 (state unchanged). */
int json_guard_feed(json_guard *g, const char *bytes, size_t len);

#endif
