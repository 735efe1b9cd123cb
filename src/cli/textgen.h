/* Text generation for the CLI front ends (generate, run, chat): bring the
 * session to the prompt (reusing its cached prefix), then sample and stream
 * pieces of text to a callback until eos, the token limit, a full context
 * or the callback asks to stop. */
#ifndef QW_CLI_TEXTGEN_H
#define QW_CLI_TEXTGEN_H

#include <stddef.h>
#include <stdint.h>

#include "qwenc.h"

typedef struct {
    int n_prompt;        /* prompt tokens */
    int n_reused;        /* of which already in the cache */
    int n_generated;     /* sampled tokens, eos included */
    double prefill_s;    /* time evaluating the prompt */
    double decode_s;     /* time generating */
    int stop_eos;        /* ended on an end-of-sequence id */
    int stop_cancel;     /* the callback asked to stop */
} cli_gen_stats;

/* Receives each sampled id and the text it completes (text may be empty
 * while a character is incomplete; an eos id that ends generation is not
 * passed; id -1 carries held-back bytes flushed at the end). Returns nonzero
 * to stop. */
typedef int (*cli_gen_fn)(void *ctx, int32_t id, const char *text, size_t len);

typedef struct {
    int n_predict;       /* < 0: until eos or the context is full */
    int ignore_eos;
    int skip_special;    /* leave special tokens out of the text */
} cli_gen_opts;

int cli_generate(qwenc_model *m, qwenc_session *s, qwenc_sampler *smp, const int32_t *prompt, int n_prompt,
                 const cli_gen_opts *o, cli_gen_fn fn, void *ctx, cli_gen_stats *st, char *err, size_t errlen);

/* Seconds on a monotonic clock. */
double cli_now(void);

#endif
