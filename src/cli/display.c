/* TEMPORARY placeholder, replaced by the run work in this same change. */
#include "cli/display.h"
void cli_display_init(cli_display *d, const qwenc_tokenizer *tok, FILE *out, int hide_thinking, const int32_t *prompt, int n_prompt) { (void)tok; (void)prompt; (void)n_prompt; d->out = out; d->hide_thinking = hide_thinking; }
void cli_display_piece(cli_display *d, int32_t id, const char *text, size_t len) { (void)id; fwrite(text, 1, len, d->out); }
void cli_display_end(cli_display *d) { (void)d; }
