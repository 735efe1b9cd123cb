/* GPT-2 byte-level alphabet: every byte maps to one printable code point
 * (printable Latin-1 bytes map to themselves, the other 68 bytes to
 * U+0100..U+0143 in byte order). Vocabulary strings are written in this
 * alphabet; the tokenizer converts them to raw bytes once at load time. */
#ifndef QW_TOKENIZER_BYTELEVEL_H
#define QW_TOKENIZER_BYTELEVEL_H

#include <stddef.h>
#include <stdint.h>

#include "tokenizer/tokbuf.h"

#define BYTELEVEL_CP_LIMIT 0x144 /* every alphabet code point is below this */

typedef struct {
    uint16_t byte_to_cp[256];
    int16_t cp_to_byte[BYTELEVEL_CP_LIMIT]; /* -1 where cp is not in the alphabet */
} bytelevel_table;

void bytelevel_init(bytelevel_table *t);

/* The bytes a token string stands for, as the ByteLevel decoder of
 * tokenizers computes them: the mapped bytes when every character is in
 * the alphabet, else the string's own UTF-8 bytes. Appends to out;
 * returns 0 or QWENC_ENOMEM. s must be well-formed UTF-8. */
int bytelevel_token_bytes(const bytelevel_table *t, const char *s, size_t n, qw_buf *out);

/* Appends the alphabet encoding of raw bytes (what the ByteLevel
 * pre-tokenizer produces). Returns 0 or QWENC_ENOMEM. */
int bytelevel_encode(const bytelevel_table *t, const char *bytes, size_t n, qw_buf *out);

#endif
