/* Decoding constrained to one valid JSON object (OpenAI's response_format
 * {"type": "json_object"}): a byte-level pushdown automaton over RFC 8259
 * decides, token by token, which tokens keep the text a prefix of a valid
 * JSON object. Uses only the public API (qwenc.h). */
#ifndef QW_SERVER_JSON_GUARD_H
#define QW_SERVER_JSON_GUARD_H

#include <stdint.h>

#include "qwenc.h"

/* Deepest nesting of objects and arrays; an opening bracket beyond it is
 * rejected (masked), never a crash. */
#define JSON_GUARD_MAX_DEPTH 64
/* Whitespace bytes allowed in one run between tokens (RFC 8259 sets no
 * bound, but a model must not be able to emit only whitespace), and after
 * the object is complete (before eos). */
#define JSON_GUARD_MAX_WS_RUN 32
/* Digits in the integer or fraction part of a number, and in its exponent:
 * a model must not be able to write one number forever either, and no
 * parser reads more than these as anything but a rounded double. */
#define JSON_GUARD_MAX_DIGITS 24
#define JSON_GUARD_MAX_EXP_DIGITS 3
#define JSON_GUARD_MAX_TRAILING_WS 16

/* Tables built once per tokenizer (token bytes, which ids are added
 * tokens); shared by all requests, read-only. */
typedef struct json_vocab json_vocab;
/* vocab_size = model logits rows (may exceed the tokenizer's ids: those
 * are always masked). NULL when out of memory or vocab_size <= 0. */
json_vocab *json_vocab_new(const qwenc_tokenizer *t, int vocab_size);
void json_vocab_free(json_vocab *v);

typedef struct json_guard json_guard;
/* One request's validator; v must outlive it. NULL when out of memory. */
json_guard *json_guard_new(const json_vocab *v, const int32_t *eos_ids, int n_eos);
void json_guard_free(json_guard *g);

/* Sets to -INFINITY the logits of every token whose bytes would make the
 * text so far not a prefix of a valid JSON object (RFC 8259: the top-level
 * value must be an object; leading whitespace allowed), every added token,
 * eos unless the object is complete, and whitespace beyond a run of
 * JSON_GUARD_MAX_WS_RUN bytes or digits beyond the bounds above (stricter
 * than RFC 8259: what is allowed is always valid JSON); once complete only eos (and whitespace up
 * to JSON_GUARD_MAX_TRAILING_WS bytes) is allowed. logits
 * has the vocab_size of the json_vocab. */
void json_guard_mask(const json_guard *g, float *logits);

/* Draws a token that keeps the JSON valid: samples from `logits` first; if
 * that token is rejected, masks a copy in scratch (vocab_size floats) and
 * samples again. Deterministic for a given sampler seed. -1 when no token
 * is allowed (complete, trailing whitespace used up and no eos id). */
int32_t json_guard_sample(const json_guard *g, qwenc_sampler *s, const float *logits, float *scratch);

/* Advances over token id: 0, or -1 (state unchanged) if it is not allowed.
 * An eos id is allowed once the object is complete and changes nothing. */
int json_guard_accept(json_guard *g, int32_t id);
/* 1 once the top-level object is closed. */
int json_guard_complete(const json_guard *g);

/* Would these bytes be allowed next? (The validator without tokens; for
 * tests and for callers checking text.) */
int json_guard_allows_bytes(const json_guard *g, const char *bytes, size_t len);
/* Advances over raw bytes: 0, or -1 (state unchanged). */
int json_guard_feed(json_guard *g, const char *bytes, size_t len);

#endif
