#include "tokenizer/utf8.h"
#include "qwenc.h"

/* Expected byte count and the allowed range of the second byte for a lead
 * byte (Unicode Table 3-7); the remaining bytes are always 80..BF. */
static int lead_info(unsigned char b, unsigned char *lo, unsigned char *hi) {
    *lo = 0x80;
    *hi = 0xBF;
    if (b < 0x80) return 1;
    if (b < 0xC2) return 0;
    if (b < 0xE0) return 2;
    if (b < 0xF0) {
        if (b == 0xE0) *lo = 0xA0; /* no overlong forms */
        if (b == 0xED) *hi = 0x9F; /* no surrogates */
        return 3;
    }
    if (b < 0xF5) {
        if (b == 0xF0) *lo = 0x90;
        if (b == 0xF4) *hi = 0x8F; /* nothing above U+10FFFF */
        return 4;
    }
    return 0;
}

utf8_seq_kind utf8_scan_seq(const unsigned char *p, size_t n, size_t *len) {
    unsigned char lo, hi;
    int need = lead_info(p[0], &lo, &hi);
    if (need == 0) {
        *len = 1;
        return UTF8_SEQ_INVALID;
    }
    for (int i = 1; i < need; i++) {
        if ((size_t)i >= n) {
            *len = n;
            return UTF8_SEQ_INCOMPLETE;
        }
        if (p[i] < lo || p[i] > hi) {
            *len = (size_t)i;
            return UTF8_SEQ_INVALID;
        }
        lo = 0x80;
        hi = 0xBF;
    }
    *len = (size_t)need;
    return UTF8_SEQ_VALID;
}

int utf8_validate(const char *text, size_t n, size_t *bad_offset) {
    const unsigned char *p = (const unsigned char *)text;
    size_t i = 0;
    while (i < n) {
        if (p[i] < 0x80) { /* ASCII fast path */
            i++;
            continue;
        }
        size_t len;
        if (utf8_scan_seq(p + i, n - i, &len) != UTF8_SEQ_VALID) {
            *bad_offset = i;
            return 0;
        }
        i += len;
    }
    return 1;
}

static const char replacement[3] = {(char)0xEF, (char)0xBF, (char)0xBD};

int utf8_append_lossy(qw_buf *out, const char *bytes, size_t n) {
    const unsigned char *p = (const unsigned char *)bytes;
    size_t i = 0;
    if (qw_buf_reserve(out, n)) return QWENC_ENOMEM;
    while (i < n) {
        size_t len;
        utf8_seq_kind k = utf8_scan_seq(p + i, n - i, &len);
        int rc = k == UTF8_SEQ_VALID ? qw_buf_append(out, p + i, len)
                                     : qw_buf_append(out, replacement, sizeof replacement);
        if (rc) return rc;
        i += len;
    }
    return 0;
}

size_t utf8_complete_prefix(const char *bytes, size_t n) {
    /* An unfinished sequence is at most 3 bytes long, so only the tail
     * needs looking at; scan from the last possible lead byte. */
    const unsigned char *p = (const unsigned char *)bytes;
    size_t start = n > 3 ? n - 3 : 0;
    for (size_t i = start; i < n; i++) {
        size_t len;
        if (p[i] >= 0x80 && p[i] < 0xC0) continue; /* continuation byte */
        /* A non-continuation byte never belongs to an earlier sequence,
         * so an unfinished sequence starting here is the one to hold. */
        if (utf8_scan_seq(p + i, n - i, &len) == UTF8_SEQ_INCOMPLETE) return i;
    }
    return n;
}

size_t utf8_decode_char(const unsigned char *p, uint32_t *cp) {
    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    if (p[0] < 0xE0) {
        *cp = ((uint32_t)(p[0] & 0x1F) << 6) | (p[1] & 0x3F);
        return 2;
    }
    if (p[0] < 0xF0) {
        *cp = ((uint32_t)(p[0] & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
        return 3;
    }
    *cp = ((uint32_t)(p[0] & 0x07) << 18) | ((uint32_t)(p[1] & 0x3F) << 12) |
          ((uint32_t)(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
    return 4;
}

size_t utf8_encode_char(uint32_t cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}
