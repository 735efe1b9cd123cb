/* A progress bar on stderr for long operations (loading weights, later
 * quantizing, converting, uploading): bytes, rate and time left, redrawn in
 * place on a terminal at most 10 times a second; nothing on a pipe. */
#ifndef QW_CLI_PROGRESS_H
#define QW_CLI_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

#include "qwenc.h"

typedef struct {
    const char *label;
    int enabled;         /* stderr is a terminal */
    double start, last_draw;
    int drawn;
} cli_progress;

void cli_progress_init(cli_progress *p, const char *label);
/* Matches qwenc_model_params.progress: ctx is a cli_progress. */
void cli_progress_update(void *ctx, int64_t done, int64_t total);
/* Removes the bar from the terminal. */
void cli_progress_end(cli_progress *p);

/* qwenc_model_open with n_threads and quant (NULL: the weights as stored),
 * showing a loading (or quantizing) bar on a terminal; the weights are read
 * then anyway, so they are also checked for NaN and infinity, with one
 * warning line on stderr when some are not finite. */
int cli_open_model(const char *path, int n_threads, const char *quant, qwenc_model **out, char *err, size_t errlen);
/* The same with any model params (the bar is added to them for the call). */
int cli_open_model_params(const char *path, qwenc_model_params *mp, qwenc_model **out, char *err, size_t errlen);
/* One warning line on stderr when the model has NaN or infinite weights. */
void cli_warn_nonfinite(qwenc_model *m, const char *path);

#endif
