#include "tokenizer/bytelevel.h"
#include "tokenizer/utf8.h"
#include "qwenc.h"

static int maps_to_itself(int b) {
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

void bytelevel_init(bytelevel_table *t) {
    for (int cp = 0; cp < BYTELEVEL_CP_LIMIT; cp++) t->cp_to_byte[cp] = -1;
    int next = 0x100;
    for (int b = 0; b < 256; b++) {
        int cp = maps_to_itself(b) ? b : next++;
        t->byte_to_cp[b] = (uint16_t)cp;
        t->cp_to_byte[cp] = (int16_t)b;
    }
}

int bytelevel_token_bytes(const bytelevel_table *t, const char *s, size_t n, qw_buf *out) {
    size_t start = out->len;
    const unsigned char *p = (const unsigned char *)s;
    if (qw_buf_reserve(out, n)) return QWENC_ENOMEM;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        i += utf8_decode_char(p + i, &cp);
        if (cp >= BYTELEVEL_CP_LIMIT || t->cp_to_byte[cp] < 0) {
            out->len = start; /* not byte-level text: keep it verbatim */
            return qw_buf_append(out, s, n);
        }
        out->data[out->len++] = (char)t->cp_to_byte[cp];
    }
    out->data[out->len] = 0;
    return 0;
}

int bytelevel_encode(const bytelevel_table *t, const char *bytes, size_t n, qw_buf *out) {
    if (qw_buf_reserve(out, 2 * n)) return QWENC_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        char tmp[4];
        size_t k = utf8_encode_char(t->byte_to_cp[(unsigned char)bytes[i]], tmp);
        for (size_t j = 0; j < k; j++) out->data[out->len++] = tmp[j];
    }
    out->data[out->len] = 0;
    return 0;
}
