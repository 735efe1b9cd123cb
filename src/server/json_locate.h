/* Which field of a JSON request a byte offset falls in, for error messages:
 * jansson says where a body stops being valid JSON (the byte of invalid
 * UTF-8, the end of a string with a bad escape), not in which field, and a
 * client needs the field ("messages[2].content") to find its mistake. The
 * text up to the offset is walked with an explicit, bounded stack: hostile
 * nesting costs no recursion. */
#ifndef QW_SERVER_JSON_LOCATE_H
#define QW_SERVER_JSON_LOCATE_H

#include <stddef.h>

/* Paths deeper than this are shown to here, then "...". */
#define JSON_LOCATE_MAX_DEPTH 16

/* Writes into out the path of the innermost string that contains byte `at`
 * of text[0..len) ("model", "messages[0].content", "tools[1].function" when
 * the byte is in a key of that object, with *in_key set). Returns 1 when
 * `at` is inside a string, 0 otherwise (out is then the path of the
 * innermost container, "" at the top level). */
int json_locate(const char *text, size_t len, size_t at, char *out, size_t outlen, int *in_key);

#endif
