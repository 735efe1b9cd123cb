/* Added tokens (tokenizer.json "added_tokens"): found in the raw text before
 * anything else and never split, the way tokenizers' AddedVocabulary does:
 * leftmost-longest non-overlapping matches, then the single_word, lstrip
 * and rstrip rules. */
#ifndef QW_TOKENIZER_ADDED_H
#define QW_TOKENIZER_ADDED_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *content;
    size_t len;
    int32_t id;
    unsigned char special, lstrip, rstrip, single_word, normalized;
} added_token;

typedef struct {
    added_token *tokens;  /* sorted by first byte, then longest first */
    size_t n;
    uint32_t by_first[257]; /* tokens starting with byte b: [by_first[b], by_first[b+1]) */
} added_vocab;

/* Reads the "added_tokens" array (NULL or null means none). */
int added_vocab_load(added_vocab *av, const json_t *list, char *err, size_t errlen);
void added_vocab_free(added_vocab *av);

/* Building from another source: reserve room for n tokens, push each
 * (content copied; the flags other than special stay 0), then index. */
int added_vocab_reserve(added_vocab *av, size_t n);
int added_vocab_push(added_vocab *av, const char *s, size_t n, int32_t id, int special);
/* Sorts and indexes the tokens; QWENC_EFORMAT if one is empty. */
int added_vocab_index(added_vocab *av);

/* Token with this id, or NULL. */
const added_token *added_vocab_by_id(const added_vocab *av, int32_t id);

/* Token with exactly this content, or NULL. */
const added_token *added_vocab_by_content(const added_vocab *av, const char *s, size_t n);

/* Iterates over the added tokens of one text. */
typedef struct {
    const added_vocab *av;
    const char *text;
    size_t n;
    size_t scan;   /* where the next raw match is searched from */
    size_t done;   /* end of the last accepted token (incl. stripped space) */
} added_iter;

void added_iter_init(added_iter *it, const added_vocab *av, const char *text, size_t n);

/* Next accepted token: 1 with [*start, *end) (stripped whitespace included)
 * and *tok, or 0 when there is none. Text before *start since the previous
 * token is ordinary text. */
int added_iter_next(added_iter *it, size_t *start, size_t *end, const added_token **tok);

#endif
