#include "cli/progress.h"
#include "cli/textgen.h"

#include <stdio.h>
#include <unistd.h>

void cli_progress_init(cli_progress *p, const char *label) {
    p->label = label;
    p->enabled = isatty(STDERR_FILENO);
    p->start = cli_now();
    p->last_draw = 0;
    p->drawn = 0;
}

static void human(char *out, size_t n, double bytes) {
    const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024 && u < 4) bytes /= 1024, u++;
    snprintf(out, n, "%.1f %s", bytes, units[u]);
}

void cli_progress_update(void *ctx, int64_t done, int64_t total) {
    cli_progress *p = ctx;
    double now = cli_now();
    if (!p->enabled || (now - p->last_draw < 0.1 && done < total)) return;
    p->last_draw = now;
    double el = now - p->start, rate = el > 0 ? (double)done / el : 0;
    double frac = total > 0 ? (double)done / (double)total : 1;
    char bar[31], d[24], t[24], r[24];
    int fill = (int)(frac * 30);
    for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
    bar[30] = 0;
    human(d, sizeof d, (double)done);
    human(t, sizeof t, (double)total);
    human(r, sizeof r, rate);
    double eta = rate > 0 ? (double)(total - done) / rate : 0;
    fprintf(stderr, "\r%s [%s] %s / %s  %s/s  ETA %.0fs \033[K", p->label, bar, d, t, r, eta);
    fflush(stderr);
    p->drawn = 1;
}

int cli_open_model_params(const char *path, qwenc_model_params *mp, qwenc_model **out, char *err, size_t errlen) {
    cli_progress bar;
    cli_progress_init(&bar, mp->quant ? "quantizing" : "loading");
    if (bar.enabled) mp->progress = cli_progress_update, mp->progress_ctx = &bar;
    int rc = qwenc_model_open(path, mp, out, err, errlen);
    cli_progress_end(&bar);
    if (!rc && bar.enabled) cli_warn_nonfinite(*out, path);
    mp->progress = NULL, mp->progress_ctx = NULL;
    return rc;
}

int cli_open_model(const char *path, int n_threads, const char *quant, qwenc_model **out, char *err, size_t errlen) {
    qwenc_model_params mp;
    qwenc_model_params_init(&mp);
    mp.n_threads = n_threads;
    mp.quant = quant;
    return cli_open_model_params(path, &mp, out, err, errlen);
}

void cli_warn_nonfinite(qwenc_model *m, const char *path) {
    int64_t bad = 0;
    char first[256];
    if (qwenc_model_check_weights(m, &bad, first, sizeof first) == 0 && bad > 0)
        fprintf(stderr, "qwenc: warning: %s: %lld weights are NaN or infinite (the first in '%s'); its output may be "
                "NaN\n", path, (long long)bad, first);
}

void cli_progress_end(cli_progress *p) {
    if (p->drawn) fputs("\r\033[K", stderr);
    fflush(stderr);
    p->drawn = 0;
}
