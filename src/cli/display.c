#include "cli/display.h"

#include <string.h>
#include <unistd.h>

#define DIM "\033[2m"
#define RESET "\033[0m"

void cli_display_init(cli_display *d, const qwenc_tokenizer *tok, FILE *out, int hide_thinking,
                      const int32_t *prompt, int n_prompt) {
    memset(d, 0, sizeof *d);
    d->out = out;
    d->color = isatty(fileno(out));
    d->hide_thinking = hide_thinking;
    d->think_open = tok ? qwenc_token_id(tok, "<think>") : -1;
    d->think_close = tok ? qwenc_token_id(tok, "</think>") : -1;
    /* A template may open the think block for the model (QwQ-style): then
     * the reply starts inside it. */
    for (int i = n_prompt - 1; i >= 0 && d->think_open >= 0; i--) {
        if (prompt[i] == d->think_close) break;
        if (prompt[i] == d->think_open) {
            d->in_think = 1;
            break;
        }
    }
}

static void set_dim(cli_display *d, int on) {
    if (!d->color || d->dimmed == on) return;
    fputs(on ? DIM : RESET, d->out);
    d->dimmed = on;
}

void cli_display_piece(cli_display *d, int32_t id, const char *text, size_t len) {
    if (id >= 0 && id == d->think_open) {
        d->in_think = 1;
        if (d->hide_thinking) return;
    } else if (id >= 0 && id == d->think_close) {
        int was_hidden = d->hide_thinking;
        if (!was_hidden) {
            set_dim(d, 1);
            fwrite(text, 1, len, d->out);
            if (len) d->wrote = 1, d->last = (unsigned char)text[len - 1];
        }
        d->in_think = 0;
        set_dim(d, 0);
        d->skip_newlines = was_hidden;  /* the blank lines after a hidden block */
        fflush(d->out);
        return;
    }
    if (d->in_think && d->hide_thinking) return;
    if (d->skip_newlines) {
        while (len && *text == '\n') text++, len--;
        if (!len) return;
        d->skip_newlines = 0;
    }
    set_dim(d, d->in_think);
    fwrite(text, 1, len, d->out);
    if (len) d->wrote = 1, d->last = (unsigned char)text[len - 1];
    fflush(d->out);
}

void cli_display_end(cli_display *d) {
    set_dim(d, 0);
    if (d->wrote && d->last != '\n') fputc('\n', d->out);
    d->wrote = 0;
    fflush(d->out);
}
