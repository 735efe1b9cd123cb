/* Stop strings matched across token boundaries and never emitted: text that
 * could still be the start of a stop string is held back (at most the
 * longest stop string's length - 1 bytes); the rest is released at once.
 * Generation stops as soon as any stop string is complete; the output then
 * ends right before the earliest complete match. A cut never splits a UTF-8
 * character when the text and the stop strings are valid UTF-8 (held text
 * starts where a stop string's first character could). */
#ifndef QW_SERVER_STOP_H
#define QW_SERVER_STOP_H

#include <stddef.h>

typedef struct stop_matcher stop_matcher;

/* The strings are copied. NULL on bad input (n_stops < 0, a NULL or empty
 * string) or out of memory; n_stops 0 gives a matcher that holds nothing. */
stop_matcher *stop_matcher_new(const char *const *stops, int n_stops);
void stop_matcher_free(stop_matcher *m);

/* Appends text; *out and *out_len receive the text now safe to emit (everything
 * that can no longer be the start of a stop string), valid until the next
 * call. Returns 1 when a stop string has been completed: out then ends right
 * before the earliest stop match, and every later push or flush emits nothing
 * (a push still returns 1). 0 otherwise. */
int stop_matcher_push(stop_matcher *m, const char *text, size_t len, const char **out, size_t *out_len);

/* End of generation: releases what is held back (nothing after a stop). */
void stop_matcher_flush(stop_matcher *m, const char **out, size_t *out_len);

#endif
