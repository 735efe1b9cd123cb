/* The BPE model: vocabulary (token string <-> id), merge ranks, and the
 * merge loop. Token strings are kept exactly as tokenizer.json spells them
 * (byte-level alphabet); the merge loop works on ids, starting from one id
 * per input byte, so encoding never has to build alphabet strings. */
#ifndef QW_TOKENIZER_BPE_H
#define QW_TOKENIZER_BPE_H

#include <stddef.h>
#include <stdint.h>

#include "tokenizer/bytelevel.h"
#include "tokenizer/tokbuf.h"

typedef struct bpe_model bpe_model;

int bpe_new(bpe_model **out);
void bpe_free(bpe_model *m);

/* Adds vocabulary entry (s, n) -> id. Fails (QWENC_EFORMAT, message in err)
 * for an id already used. */
int bpe_add_token(bpe_model *m, const char *s, size_t n, int32_t id, char *err, size_t errlen);

/* Id of a token string, or -1. */
int32_t bpe_token_id(const bpe_model *m, const char *s, size_t n);

/* Token string of an id (NULL if the id has none); *n gets its length. */
const char *bpe_token_str(const bpe_model *m, int32_t id, size_t *n);

/* One past the largest vocabulary id. */
int32_t bpe_vocab_end(const bpe_model *m);

/* Adds merge number `rank` (0 = applied first) of tokens a and b. Both and
 * their concatenation must be in the vocabulary. */
int bpe_add_merge(bpe_model *m, const char *a, size_t an, const char *b, size_t bn, int32_t rank,
                  char *err, size_t errlen);

/* The merges in rank order (for writing them out): merge i joins the ids
 * (*pairs)[2i] and (*pairs)[2i+1]. *pairs is malloc'd. 0 or QWENC_ENOMEM. */
int bpe_merges(const bpe_model *m, int32_t **pairs, size_t *n);

/* Call once after all tokens are added: maps each byte to the id of its
 * one-character alphabet token. */
void bpe_finish(bpe_model *m, const bytelevel_table *bl);

/* Appends the ids for one pre-tokenized piece of raw bytes. Bytes with no
 * token are dropped, as tokenizers does when the model has no unk token. */
int bpe_merge_word(const bpe_model *m, const unsigned char *bytes, size_t n, qw_idbuf *out);

/* A per-call memo of piece -> ids: running text repeats most words, and a
 * lookup is much cheaper than the merge loop. Not shared between threads. */
typedef struct bpe_cache bpe_cache;

bpe_cache *bpe_cache_new(void);
void bpe_cache_free(bpe_cache *c);

/* bpe_merge_word through the cache (c may be NULL). */
int bpe_encode_piece(const bpe_model *m, bpe_cache *c, const unsigned char *bytes, size_t n,
                     qw_idbuf *out);

#endif
