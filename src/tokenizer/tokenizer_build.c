/* The builder both tokenizer sources feed (tokenizer_load.c: a directory
 * with tokenizer.json; tokenizer_gguf.c: GGUF metadata), and the public
 * open/free: the source is chosen by what the path is. */
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_impl.h"
#include "base/err.h"
#include "base/file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

qwenc_tokenizer *qw_tokenizer_new(void) {
    qwenc_tokenizer *t = calloc(1, sizeof *t);
    if (t) bytelevel_init(&t->bytelevel);
    return t;
}

/* Fills the per-id decoded bytes and the special and added flags. */
static int build_id_tables(qwenc_tokenizer *t) {
    int32_t n = bpe_vocab_end(t->bpe);
    for (size_t i = 0; i < t->added.n; i++)
        if (t->added.tokens[i].id >= n) n = t->added.tokens[i].id + 1;
    t->n_ids = n;
    t->bytes_off = malloc((size_t)(n ? n : 1) * sizeof *t->bytes_off);
    t->bytes_len = malloc((size_t)(n ? n : 1) * sizeof *t->bytes_len);
    t->special = calloc((size_t)(n ? n : 1), 1);
    t->is_added = calloc((size_t)(n ? n : 1), 1);
    if (!t->bytes_off || !t->bytes_len || !t->special || !t->is_added) return QWENC_ENOMEM;
    for (int32_t id = 0; id < n; id++) {
        const added_token *a = added_vocab_by_id(&t->added, id);
        size_t len = 0;
        const char *s = a ? a->content : bpe_token_str(t->bpe, id, &len);
        if (a) len = a->len;
        t->bytes_off[id] = UINT32_MAX;
        t->bytes_len[id] = 0;
        if (!s) continue;
        if (t->token_bytes.len + len >= UINT32_MAX) return QWENC_ENOMEM;
        t->bytes_off[id] = (uint32_t)t->token_bytes.len;
        if (bytelevel_token_bytes(&t->bytelevel, s, len, &t->token_bytes)) return QWENC_ENOMEM;
        t->bytes_len[id] = (uint32_t)(t->token_bytes.len - t->bytes_off[id]);
        t->special[id] = a && a->special;
        t->is_added[id] = a != NULL;
    }
    return 0;
}

int qw_tokenizer_finish(qwenc_tokenizer *t, const char *path, char *err, size_t errlen) {
    bpe_finish(t->bpe, &t->bytelevel);
    if (build_id_tables(t)) return qw_errf(err, errlen, QWENC_ENOMEM, "%s: out of memory", path);
    return 0;
}

/* ---- public ------------------------------------------------------------- */

static int has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* A regular file named *.gguf or starting with the GGUF magic. */
static int is_gguf_file(const char *path) {
    if (!qw_is_regular(path)) return 0;  /* fopen on a FIFO would wait for a writer */
    if (has_suffix(path, ".gguf")) return 1;
    FILE *f = fopen(path, "rb");
    char magic[4] = {0};
    int ok = f && fread(magic, 1, 4, f) == 4 && !memcmp(magic, "GGUF", 4);
    if (f) fclose(f);
    return ok;
}

int qwenc_tokenizer_open(const char *path, qwenc_tokenizer **out, char *err, size_t errlen) {
    *out = NULL;
    if (!path) return qw_errf(err, errlen, QWENC_EINVAL, "tokenizer path is NULL");
    int dir = qw_is_dir(path), gguf = !dir && is_gguf_file(path);
    if (!qw_file_exists(path)) return qw_errf(err, errlen, QWENC_EIO, "%s: no such file or directory", path);
    if (!dir && !gguf)
        return qw_errf(err, errlen, QWENC_EIO, "%s: not a directory or a GGUF file%s", path,
                       qw_is_regular(path) ? "" : " (not a regular file)");
    qwenc_tokenizer *t = qw_tokenizer_new();
    if (!t) return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    if (err && errlen) err[0] = 0;
    int rc = dir ? qw_tokenizer_load_dir(t, path, err, errlen) : qw_tokenizer_load_gguf(t, path, err, errlen);
    if (rc) {
        qwenc_tokenizer_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

void qwenc_tokenizer_free(qwenc_tokenizer *t) {
    if (!t) return;
    bpe_free(t->bpe);
    added_vocab_free(&t->added);
    pretokenize_free(t->pre);
    qw_buf_free(&t->token_bytes);
    free(t->bytes_off);
    free(t->bytes_len);
    free(t->special);
    free(t->is_added);
    free(t->chat_template);
    free(t->bos_token);
    free(t->eos_token);
    free(t->pad_token);
    free(t->unk_token);
    free(t);
}

const char *qw_tokenizer_chat_template(const qwenc_tokenizer *t) { return t ? t->chat_template : NULL; }

const char *qw_tokenizer_special_text(const qwenc_tokenizer *t, const char *key) {
    if (!t || !key) return NULL;
    if (!strcmp(key, "bos_token")) return t->bos_token;
    if (!strcmp(key, "eos_token")) return t->eos_token;
    if (!strcmp(key, "pad_token")) return t->pad_token;
    if (!strcmp(key, "unk_token")) return t->unk_token;
    return NULL;
}

/* llama.cpp's does_token_look_special, for the Qwen-style markers. */
static int looks_special(const char *s, size_t n) {
    static const char fw_open[] = "<\xef\xbd\x9c", fw_close[] = "\xef\xbd\x9c>";  /* <｜ ... ｜> */
    return (n >= 4 && !memcmp(s, "<|", 2) && !memcmp(s + n - 2, "|>", 2)) ||
           (n >= 8 && !memcmp(s, fw_open, 4) && !memcmp(s + n - 4, fw_close, 4));
}

const char *qw_tokenizer_gguf_token(const qwenc_tokenizer *t, int32_t id, size_t *len, int *type) {
    if (id < 0 || id >= t->n_ids) return NULL;
    const added_token *a = added_vocab_by_id(&t->added, id);
    if (a) {
        *len = a->len;
        *type = a->special || looks_special(a->content, a->len) ? QW_TOKEN_CONTROL : QW_TOKEN_USER_DEFINED;
        return a->content;
    }
    const char *s = bpe_token_str(t->bpe, id, len);
    /* every real BPE token decodes to at least one byte; zero bytes marks a
     * token read as unused from a GGUF file (see hide_unused there) */
    if (s) *type = t->bytes_len[id] ? QW_TOKEN_NORMAL : QW_TOKEN_UNUSED;
    return s;
}

int qw_tokenizer_merges(const qwenc_tokenizer *t, int32_t **pairs, size_t *n) {
    return bpe_merges(t->bpe, pairs, n);
}
