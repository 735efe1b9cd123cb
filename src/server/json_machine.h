/* The constrained-decoding automaton: a byte-level pushdown automaton over
 * a compiled JSON Schema (json_schema), deciding byte by byte whether the
 * text so far is still the prefix of a document valid for the schema.
 *
 * A state is a set of threads (one per anyOf alternative still possible,
 * at most JS_MAX_ALTERNATIVES), each a stack of frames (one per value being
 * written, at most JS_MAX_FRAMES). It is a plain value of variable size:
 * copying its jm_size bytes is how a token is tried. Every prefix the
 * automaton accepts can be completed into a valid document (the compiler
 * proved each node satisfiable within the depth that is left), so
 * constrained decoding never paints itself into a corner.
 *
 * Beyond the schema, what it accepts is bounded so that a model cannot
 * write forever where the schema sets no bound: whitespace comes in runs of
 * at most JM_MAX_WS_RUN bytes between tokens and JM_MAX_TRAILING_WS after
 * the document, and unbounded numbers have at most JM_MAX_DIGITS digits in
 * their integer and fraction parts and JM_MAX_EXP_DIGITS in the exponent. Strings are the exception: only maxLength bounds them. */
#ifndef QW_SERVER_JSON_MACHINE_H
#define QW_SERVER_JSON_MACHINE_H

#include <stddef.h>
#include <stdint.h>

#include "server/json_schema.h"

#define JM_MAX_WS_RUN 32
#define JM_MAX_TRAILING_WS 16
#define JM_MAX_DIGITS 24
/* Two exponent digits keep every number within a double's range (24 digits
 * times 10^99): no parser reads one as infinity. */
#define JM_MAX_EXP_DIGITS 2
/* The email format: RFC 5321's limits on the whole address and its local part. */
#define JM_EMAIL_MAX 254

typedef struct jm_state jm_state;

/* Bytes a state (or what one jm_step writes) can take; states must be
 * 8-byte aligned. */
#define JM_THREAD_MAX (8 + JS_MAX_FRAMES * 16)
#define JM_STATE_MAX (8 + JS_MAX_ALTERNATIVES * JM_THREAD_MAX)

size_t jm_size(const jm_state *st);

/* Before the document: its first byte (or leading whitespace) is next. */
void jm_start(const json_schema *s, jm_state *st);

/* The state after one more byte, into out (JM_STATE_MAX bytes, not in):
 * 0, or -1 when no valid document starts with the text plus this byte
 * (out is then garbage). */
int jm_step(const json_schema *s, const jm_state *in, jm_state *out, unsigned byte);

/* Feeds bytes from `from`, ping-ponging between a and b: the final state
 * (from itself when n is 0), or NULL when a byte is rejected. */
const jm_state *jm_feed(const json_schema *s, const jm_state *from, jm_state *a, jm_state *b,
                        const unsigned char *bytes, size_t n);

/* The text is a whole valid document (end-of-sequence may come). */
int jm_complete(const json_schema *s, const jm_state *st);

/* When every thread is inside a plain string (no format), how many more
 * characters the roomiest of them takes (LONG_MAX-ish when unbounded);
 * otherwise -1. Bytes that are plain string content (jm_plain_chars)
 * change such a state only by their count of characters. */
long jm_string_budget(const json_schema *s, const jm_state *st);

/* Bytes that, fed inside a string, stay inside it and end between
 * characters, escapes and all: their count of characters; -1 otherwise. */
long jm_plain_chars(const unsigned char *bytes, size_t n);

#endif
