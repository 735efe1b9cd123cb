#include "cli/cli.h"
#include "qwenc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_bad(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "qwenc %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return CLI_EXIT_BADINPUT;
}

int cli_exit_code(int rc) {
    switch (rc) {
    case 0: return 0;
    case QWENC_EINVAL:
    case QWENC_EIO:
    case QWENC_EFORMAT:
    case QWENC_ERANGE:
    case QWENC_EUNSUPPORTED: return CLI_EXIT_BADINPUT;
    default: return CLI_EXIT_FAIL;
    }
}

/* arg is "--name" of a long option that takes a value (getopt_long reports
 * its missing value as '?' too). */
static int long_needs_value(const char *arg, const struct option *longopts) {
    if (strncmp(arg, "--", 2)) return 0;
    for (const struct option *o = longopts; o->name; o++)
        if (!strcmp(arg + 2, o->name)) return o->has_arg == required_argument;
    return 0;
}

int cli_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
               const struct option *longopts) {
    opterr = 0;
    int c = getopt_long(argc, argv, shortopts, longopts, NULL);
    if (c == '?' || c == ':') {
        const char *arg = argv[optind - 1];
        if (c == ':' || (optopt > 0 && optopt < 256 && strchr(shortopts, optopt)) || long_needs_value(arg, longopts))
            cli_bad(cmd, "option '%s' needs a value (see qwenc %s --help)", arg, cmd);
        else
            cli_bad(cmd, "unknown option '%s' (see qwenc %s --help)", arg, cmd);
        return '?';
    }
    return c;
}

int cli_parse_ids(const char *cmd, const char *s, int32_t **ids, int *n) {
    size_t cap = 16, k = 0;
    int32_t *v = malloc(cap * sizeof *v);
    if (!v) return cli_bad(cmd, "out of memory");
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (end == p || errno || x < 0 || x > INT32_MAX) {
            free(v);
            return cli_bad(cmd, "--ids: '%s' is not a comma-separated list of token ids", s);
        }
        if (k == cap) {
            int32_t *nv = realloc(v, (cap *= 2) * sizeof *v);
            if (!nv) { free(v); return cli_bad(cmd, "out of memory"); }
            v = nv;
        }
        v[k++] = (int32_t)x;
        p = end;
        while (*p == ' ') p++;
        if (*p == ',') p++;
        else if (*p) {
            free(v);
            return cli_bad(cmd, "--ids: '%s' is not a comma-separated list of token ids", s);
        }
    }
    if (k == 0) {
        free(v);
        return cli_bad(cmd, "--ids: no token ids given");
    }
    *ids = v;
    *n = (int)k;
    return 0;
}

int cli_parse_int(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (end == s || *end || errno || x < lo || x > hi)
        return cli_bad(cmd, "%s: '%s' is not an integer in [%ld, %ld]", opt, s, lo, hi);
    *out = x;
    return 0;
}

int cli_parse_float(const char *cmd, const char *opt, const char *s, double *out) {
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (end == s || *end || errno) return cli_bad(cmd, "%s: '%s' is not a number", opt, s);
    *out = x;
    return 0;
}

int cli_sampling_option(const char *cmd, int c, const char *arg, cli_sampling *s) {
    int bad = 0;
    switch (c) {
    case CLI_O_GREEDY: s->greedy = 1; break;
    case CLI_O_TEMP: bad = cli_parse_float(cmd, "--temp", arg, &s->temp); s->have_temp = 1; break;
    case CLI_O_TOPK: bad = cli_parse_int(cmd, "--top-k", arg, 0, 1 << 30, &s->top_k); s->have_top_k = 1; break;
    case CLI_O_TOPP: bad = cli_parse_float(cmd, "--top-p", arg, &s->top_p); s->have_top_p = 1; break;
    case CLI_O_MINP: bad = cli_parse_float(cmd, "--min-p", arg, &s->min_p); s->have_min_p = 1; break;
    case CLI_O_SEED: bad = cli_parse_int(cmd, "--seed", arg, 0, __LONG_MAX__, &s->seed); break;
    case CLI_O_REPEAT: bad = cli_parse_float(cmd, "--repeat-penalty", arg, &s->repeat); s->have_repeat = 1; break;
    case CLI_O_PRESENCE: bad = cli_parse_float(cmd, "--presence-penalty", arg, &s->presence); break;
    case CLI_O_FREQUENCY: bad = cli_parse_float(cmd, "--frequency-penalty", arg, &s->frequency); break;
    default: return 0;
    }
    return bad ? -1 : 1;
}

int cli_sampler_new(qwenc_model *m, const cli_sampling *s, qwenc_sampler **out, char *err, size_t errlen) {
    qwenc_gen_defaults d;
    qwenc_model_gen_defaults(m, &d);
    qwenc_sampler_params sp;
    qwenc_sampler_params_init(&sp);
    int sample = !s->greedy && (d.do_sample || s->have_temp);
    sp.temperature = sample ? (s->have_temp ? (float)s->temp : d.temperature) : 0.0f;
    sp.top_k = s->have_top_k ? (int)s->top_k : d.top_k;
    sp.top_p = s->have_top_p ? (float)s->top_p : d.top_p;
    sp.min_p = s->have_min_p ? (float)s->min_p : d.min_p;
    sp.seed = (uint64_t)s->seed;
    sp.repetition_penalty = s->have_repeat ? (float)s->repeat : d.repetition_penalty;
    sp.presence_penalty = (float)s->presence;
    sp.frequency_penalty = (float)s->frequency;
    return qwenc_sampler_new(&sp, out, err, errlen);
}

int cli_read_stdin(const char *cmd, char **data, size_t *len) {
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) return cli_bad(cmd, "out of memory");
    for (;;) {
        size_t got = fread(buf + n, 1, cap - n, stdin);
        n += got;
        if (n < cap) break;
        char *nb = realloc(buf, 2 * cap + 1);
        if (!nb) { free(buf); return cli_bad(cmd, "out of memory"); }
        buf = nb;
        cap *= 2;
    }
    buf[n] = 0;
    *data = buf;
    *len = n;
    return 0;
}
