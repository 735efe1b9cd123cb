/* Normalization and pre-tokenization: turns a stretch of text (between
 * added tokens) into the pieces BPE encodes one by one, following the
 * `normalizer` and `pre_tokenizer` of tokenizer.json: NFC, then each Split
 * regex in turn (PCRE2 in UTF + Unicode-property mode), then ByteLevel.
 * Pieces stay raw bytes: the byte-level alphabet is applied to the
 * vocabulary instead (see bpe.h). */
#ifndef QW_TOKENIZER_PRETOKENIZE_H
#define QW_TOKENIZER_PRETOKENIZE_H

#include <jansson.h>
#include <stddef.h>

typedef struct pretokenizer pretokenizer;

/* Builds from the "normalizer" and "pre_tokenizer" values (either may be
 * JSON null). Unsupported components are QWENC_EUNSUPPORTED. */
int pretokenize_new(const json_t *normalizer, const json_t *pre_tokenizer, pretokenizer **out,
                    char *err, size_t errlen);
/* The same as an (optional) NFC normalizer and one Split regex, behavior
 * Isolated, then a ByteLevel step without its own regex: what Qwen's
 * tokenizer.json describes, for sources (GGUF) that only name the regex. */
int pretokenize_new_split(int nfc, const char *pattern, pretokenizer **out, char *err, size_t errlen);
void pretokenize_free(pretokenizer *p);

/* Receives each piece; returns 0 or a negative code that stops the run. */
typedef int (*pretokenize_piece_fn)(void *ctx, const char *piece, size_t n);

/* Normalizes and splits text (well-formed UTF-8), calling fn per piece. */
int pretokenize_run(const pretokenizer *p, const char *text, size_t n, pretokenize_piece_fn fn,
                    void *ctx, char *err, size_t errlen);

#endif
