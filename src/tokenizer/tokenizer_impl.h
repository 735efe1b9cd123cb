/* The tokenizer object, shared by the loader (tokenizer_load.c) and the
 * encode/decode code (tokenizer.c). Immutable once loaded, so one
 * tokenizer can serve many threads. */
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

    char *chat_template;    /* from tokenizer_config.json, or NULL */
    char *bos_token, *eos_token, *pad_token, *unk_token;
};

#endif
