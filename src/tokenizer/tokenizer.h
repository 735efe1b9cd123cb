/* Internal view of a tokenizer for the other tokenizer modules (chat
 * templates read the template text and special-token strings from here). */
#ifndef QW_TOKENIZER_TOKENIZER_H
#define QW_TOKENIZER_TOKENIZER_H

#include "qwenc.h"

/* The chat_template string from tokenizer_config.json (or GGUF metadata), or NULL. */
const char *qw_tokenizer_chat_template(const qwenc_tokenizer *t);

/* A special-token string from tokenizer_config.json by key ("bos_token",
 * "eos_token", "pad_token", "unk_token"), or NULL when unset. */
const char *qw_tokenizer_special_text(const qwenc_tokenizer *t, const char *key);

/* llama.cpp's token types (tokenizer.ggml.token_type). */
enum { QW_TOKEN_NORMAL = 1, QW_TOKEN_UNKNOWN = 2, QW_TOKEN_CONTROL = 3, QW_TOKEN_USER_DEFINED = 4,
       QW_TOKEN_UNUSED = 5, QW_TOKEN_BYTE = 6 };

/* One vocabulary entry as a GGUF file stores it (for writing one): the
 * token string (byte-level alphabet for BPE tokens, the text itself for
 * added tokens) and its type, classified as llama.cpp's converter does:
 * added tokens that are special or look special ("<|...|>") are control
 * tokens, other added tokens user-defined, ids with no token (or a token
 * read as unused from a GGUF) unused. NULL when id has no token string. */
const char *qw_tokenizer_gguf_token(const qwenc_tokenizer *t, int32_t id, size_t *len, int *type);

/* The BPE merges in rank order: merge i joins ids (*pairs)[2i] and
 * (*pairs)[2i+1] (malloc'd). 0 or QWENC_ENOMEM. */
int qw_tokenizer_merges(const qwenc_tokenizer *t, int32_t **pairs, size_t *n);

#endif
