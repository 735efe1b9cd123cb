/* The tokenizer object, shared by the loaders (tokenizer_load.c for
 * tokenizer.json, tokenizer_gguf.c for GGUF metadata), the builder they
 * both feed (tokenizer_build.c) and the encode/decode code (tokenizer.c).
 * Immutable once loaded, so one tokenizer can serve many threads. */
#ifndef QW_TOKENIZER_IMPL_H
#define QW_TOKENIZER_IMPL_H

#include "qwenc.h"
#include "tokenizer/added.h"
#include "tokenizer/bpe.h"
#include "tokenizer/bytelevel.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/tokbuf.h"

struct qwenc_tokenizer {
    bpe_model *bpe;
    added_vocab added;
    pretokenizer *pre;
    bytelevel_table bytelevel;
    int ignore_merges;      /* BPE option: a piece that is a whole token skips merging */

    int32_t n_ids;          /* one past the largest id (vocab or added) */
    qw_buf token_bytes;     /* decoded bytes of every token, back to back */
    uint32_t *bytes_off;    /* by id; UINT32_MAX where no token has the id */
    uint32_t *bytes_len;
    unsigned char *special; /* by id: 1 for special added tokens */
    unsigned char *is_added; /* by id: 1 for added tokens, special or not */

    char *chat_template;    /* from tokenizer_config.json / GGUF metadata, or NULL */
    char *bos_token, *eos_token, *pad_token, *unk_token;
};

/* A loader fills t->bpe (all tokens and merges), t->added, t->pre and the
 * strings of a tokenizer from qw_tokenizer_new; these finish it. */
qwenc_tokenizer *qw_tokenizer_new(void);

/* After every token is in t->bpe and t->added: maps bytes to their
 * alphabet tokens and builds the per-id tables. 0 or QWENC_ENOMEM (with
 * "path: out of memory" in err). */
int qw_tokenizer_finish(qwenc_tokenizer *t, const char *path, char *err, size_t errlen);

/* The two sources: a directory with tokenizer.json (+ tokenizer_config.json,
 * chat_template.jinja), and a GGUF file's tokenizer.* metadata. */
int qw_tokenizer_load_dir(qwenc_tokenizer *t, const char *dir, char *err, size_t errlen);
int qw_tokenizer_load_gguf(qwenc_tokenizer *t, const char *path, char *err, size_t errlen);
/* The second from a GGUF file already open (its path names it in errors). */
struct qw_gguf;
int qw_tokenizer_from_gguf(qwenc_tokenizer *t, const struct qw_gguf *g, char *err, size_t errlen);

#endif
