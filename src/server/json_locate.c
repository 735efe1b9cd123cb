#include "server/json_locate.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    char kind;              /* '{' or '[' */
    size_t index;           /* arrays: the element being read */
    const char *key;        /* objects: the member being read (raw bytes), NULL before its key */
    size_t key_len;
    int want_key;           /* objects: the next string is a key */
} frame;

/* Appends a key, with bytes that would not print (or not be valid UTF-8 in
 * a JSON message) shown as '?'. */
static void put_key(char *out, size_t outlen, size_t *n, const char *k, size_t len) {
    if (*n && *n + 1 < outlen) out[(*n)++] = '.';
    for (size_t i = 0; i < len && i < 48 && *n + 1 < outlen; i++)
        out[(*n)++] = k[i] >= 0x20 && k[i] < 0x7f && k[i] != '"' && k[i] != '\\' ? k[i] : '?';
    out[*n] = 0;
}

static void build_path(const frame *st, int depth, char *out, size_t outlen) {
    size_t n = 0;
    out[0] = 0;
    for (int i = 0; i < depth && i < JSON_LOCATE_MAX_DEPTH; i++) {
        if (st[i].kind == '[') {
            int w = snprintf(out + n, outlen - n, "[%zu]", st[i].index);
            n = w > 0 && (size_t)w < outlen - n ? n + (size_t)w : outlen - 1;
        } else if (st[i].key) {
            put_key(out, outlen, &n, st[i].key, st[i].key_len);
        }
    }
    if (depth > JSON_LOCATE_MAX_DEPTH && n + 4 < outlen) strcpy(out + n, "...");
}

/* The end of the string opening at text[i] (the closing quote's index, or len). */
static size_t string_end(const char *text, size_t len, size_t i) {
    for (i++; i < len; i++) {
        if (text[i] == '\\') i++;
        else if (text[i] == '"') return i;
    }
    return len;
}

int json_locate(const char *text, size_t len, size_t at, char *out, size_t outlen, int *in_key) {
    frame st[JSON_LOCATE_MAX_DEPTH + 1];
    int depth = 0;  /* may exceed the frames kept: deeper levels are only counted */
    *in_key = 0;
    if (at >= len) at = len ? len - 1 : 0;
    for (size_t i = 0; i < len && i <= at; i++) {
        frame *top = depth > 0 && depth <= JSON_LOCATE_MAX_DEPTH ? &st[depth - 1] : NULL;
        char c = text[i];
        if (c == '{' || c == '[') {
            if (depth < JSON_LOCATE_MAX_DEPTH) st[depth] = (frame){.kind = c, .want_key = c == '{'};
            depth++;
        } else if ((c == '}' || c == ']') && depth > 0) {
            depth--;
        } else if (c == ',' && top) {
            if (top->kind == '[') top->index++;
            else top->want_key = 1, top->key = NULL;
        } else if (c == '"') {
            size_t end = string_end(text, len, i);
            int is_key = top && top->kind == '{' && top->want_key;
            if (at <= end) {  /* the byte is in this string */
                *in_key = is_key;
                build_path(st, depth, out, outlen);
                return 1;
            }
            if (is_key) top->key = text + i + 1, top->key_len = end - i - 1, top->want_key = 0;
            i = end;
        }
    }
    build_path(st, depth, out, outlen);
    return 0;
}
