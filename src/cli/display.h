/* Streaming model output to a terminal or a pipe: text inside <think> ...
 * </think> (recognised by token id, never by text) is shown dimmed on a
 * terminal, or hidden; on a pipe output is plain text with no escapes. */
#ifndef QW_CLI_DISPLAY_H
#define QW_CLI_DISPLAY_H

#include <stdint.h>
#include <stdio.h>

#include "qwenc.h"

typedef struct {
    FILE *out;
    int color;           /* ANSI escapes allowed (out is a terminal) */
    int hide_thinking;
    int in_think;
    int32_t think_open, think_close;  /* -1 when the tokenizer has none */
    int dimmed;          /* a dim escape is open */
    int skip_newlines;   /* drop the newlines that follow a hidden think block */
    int wrote, last;     /* anything written, and the last byte */
} cli_display;

/* prompt/n_prompt: the prompt ids, to know whether the template left a
 * think block open for the model to continue. */
void cli_display_init(cli_display *d, const qwenc_tokenizer *tok, FILE *out, int hide_thinking,
                      const int32_t *prompt, int n_prompt);

/* One piece of generated output (id -1: text without a token). */
void cli_display_piece(cli_display *d, int32_t id, const char *text, size_t len);

/* Closes any open escape and ends the line unless it already ended. */
void cli_display_end(cli_display *d);

#endif
