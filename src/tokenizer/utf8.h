/* UTF-8 scanning with the "maximal subpart" rule of Unicode (Table 3-7),
 * which is what Python's bytes.decode(errors='replace') and Rust's
 * String::from_utf8_lossy implement: each maximal invalid subpart becomes
 * exactly one U+FFFD. */
#ifndef QW_TOKENIZER_UTF8_H
#define QW_TOKENIZER_UTF8_H

#include <stddef.h>
#include <stdint.h>

#include "tokenizer/tokbuf.h"

typedef enum {
    UTF8_SEQ_VALID,      /* *len bytes form one well-formed character */
    UTF8_SEQ_INVALID,    /* *len bytes (>= 1) are one maximal invalid subpart */
    UTF8_SEQ_INCOMPLETE, /* all n bytes are a valid but unfinished prefix */
} utf8_seq_kind;

/* Classifies the sequence starting at p (n >= 1 bytes available). */
utf8_seq_kind utf8_scan_seq(const unsigned char *p, size_t n, size_t *len);

/* 1 if text is well-formed UTF-8; otherwise 0 and *bad_offset = byte
 * offset of the first byte of the first ill-formed sequence. */
int utf8_validate(const char *text, size_t n, size_t *bad_offset);

/* Appends bytes to out, replacing each invalid subpart (and an unfinished
 * sequence at the end) by U+FFFD. Returns 0 or QWENC_ENOMEM. */
int utf8_append_lossy(qw_buf *out, const char *bytes, size_t n);

/* Length of the longest prefix of bytes[0..n) that can be emitted now:
 * everything except an unfinished (still valid) sequence at the end. */
size_t utf8_complete_prefix(const char *bytes, size_t n);

/* Decodes one character of well-formed UTF-8 at p; returns its length. */
size_t utf8_decode_char(const unsigned char *p, uint32_t *cp);

/* Encodes cp (<= 0x10FFFF) into out[4]; returns its length. */
size_t utf8_encode_char(uint32_t cp, char *out);

#endif
