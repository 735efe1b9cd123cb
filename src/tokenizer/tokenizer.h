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

#endif
