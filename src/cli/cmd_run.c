/* qwenc run: one prompt, one streamed answer, through the model's chat
 * template (or raw with --raw). */
#include "cli/cli.h"
#include "cli/display.h"
#include "cli/progress.h"
#include "cli/textgen.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char run_usage_text[] =
    "usage: qwenc run [MODEL] PROMPT [options]\n"
    "\n"
    "Answers PROMPT (or stdin when no PROMPT is given and stdin is not a\n"
    "terminal) with the model's chat template and its generation_config.json\n"
    "defaults, streaming the reply. MODEL is a model directory, a name in the\n"
    "models directory (see qwenc list), or left out for the bundled demo model.\n"
    "\n"
    "  -m, --model MODEL   the model (instead of the first argument)\n"
    "      --raw           no chat template: continue PROMPT as plain text\n"
    "      --system TEXT   a system message\n"
    "      --no-think      enable_thinking=false: answer without a think block\n"
    "      --hide-thinking do not show the think block\n"
    "  -n, --n-predict N   at most N tokens (default: until the end or the context is full)\n"
    CLI_SAMPLING_HELP
    "  -t, --threads N     compute threads (default: all cores)\n"
    "  -c, --ctx N         context length (default min(4096, max_position_embeddings))\n"
    "      --quant TYPE    quantize the weights at load to " CLI_QUANT_TYPES "\n"
    "                      (as qwenc convert --type writes them)\n"
    "  -v, --verbose       print the summary line even when stdout is not a terminal\n"
    "  -h, --help          show this help\n"
    "\n"
    "On a terminal, thinking is shown dimmed and a summary (tokens, prefill and\n"
    "decode speed) goes to stderr; on a pipe the output is plain text.\n";

typedef struct {
    const char *model, *prompt, *system, *quant;
    int raw, no_think, hide_thinking, verbose;
    long n_predict, threads, ctx;
    cli_sampling sampling;
    char *stdin_prompt;
} run_opts;

static int parse_run(int argc, char **argv, run_opts *o) {
    enum { O_RAW = 1000, O_SYSTEM, O_NOTHINK, O_HIDE };
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},      {"raw", no_argument, 0, O_RAW},
        {"system", required_argument, 0, O_SYSTEM}, {"no-think", no_argument, 0, O_NOTHINK},
        {"hide-thinking", no_argument, 0, O_HIDE}, {"n-predict", required_argument, 0, 'n'},
        CLI_SAMPLING_LONGOPTS,
        {"threads", required_argument, 0, 't'},    {"ctx", required_argument, 0, 'c'},
        {"verbose", no_argument, 0, 'v'},          {"help", no_argument, 0, 'h'},
        CLI_QUANT_LONGOPT,                         {0, 0, 0, 0}};
    const char *cmd = "run";
    memset(o, 0, sizeof *o);
    o->n_predict = -1;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    o->threads = cores > 0 ? cores : 1;
    int c;
    while ((c = cli_getopt(cmd, argc, argv, "m:n:t:c:vh", opts)) != -1) {
        int taken = cli_sampling_option(cmd, c, optarg, &o->sampling), bad = 0;
        if (taken) {
            if (taken < 0) return CLI_EXIT_BADINPUT;
            continue;
        }
        switch (c) {
        case 'm': o->model = optarg; break;
        case O_RAW: o->raw = 1; break;
        case O_SYSTEM: o->system = optarg; break;
        case O_NOTHINK: o->no_think = 1; break;
        case O_HIDE: o->hide_thinking = 1; break;
        case 'n': bad = cli_parse_int(cmd, "--n-predict", optarg, 0, 1 << 24, &o->n_predict); break;
        case 't': bad = cli_parse_int(cmd, "--threads", optarg, 1, 1024, &o->threads); break;
        case 'c': bad = cli_parse_int(cmd, "--ctx", optarg, 1, 1 << 24, &o->ctx); break;
        case 'v': o->verbose = 1; break;
        case CLI_O_QUANT: o->quant = optarg; break;
        case 'h': fputs(run_usage_text, stdout); return -1;
        default: return CLI_EXIT_BADINPUT;
        }
        if (bad) return CLI_EXIT_BADINPUT;
    }
    int npos = argc - optind;
    if (npos > (o->model ? 1 : 2)) return cli_bad(cmd, "unexpected argument '%s'", argv[argc - 1]);
    if (npos == 2) o->model = argv[optind++];
    if (npos >= 1) o->prompt = argv[optind];
    if (!o->prompt) {
        if (isatty(STDIN_FILENO)) return cli_bad(cmd, "no prompt given (qwenc run [MODEL] \"PROMPT\")");
        size_t len;
        if (cli_read_stdin(cmd, &o->stdin_prompt, &len)) return CLI_EXIT_BADINPUT;
        if (memchr(o->stdin_prompt, 0, len)) return cli_bad(cmd, "the prompt on stdin contains a NUL byte");
        o->prompt = o->stdin_prompt;
    }
    if (!*o->prompt) return cli_bad(cmd, "the prompt is empty");
    return 0;
}

/* The prompt text: the chat template over [system,] user, or PROMPT as is. */
static int render_prompt(const run_opts *o, qwenc_tokenizer *tok, char **text, char *err, size_t errlen) {
    if (o->raw) return (*text = strdup(o->prompt)) ? 0 : QWENC_ENOMEM;
    json_t *msgs = json_array();
    if (o->system) json_array_append_new(msgs, json_pack("{s:s,s:s}", "role", "system", "content", o->system));
    json_array_append_new(msgs, json_pack("{s:s,s:s}", "role", "user", "content", o->prompt));
    json_t *req = json_pack("{s:o,s:b,s:b}", "messages", msgs, "add_generation_prompt", 1, "enable_thinking",
                            !o->no_think);
    char *req_text = req ? json_dumps(req, 0) : NULL;
    json_decref(req);
    if (!req_text) return snprintf(err, errlen, "the prompt or system text is not valid UTF-8"), QWENC_EINVAL;
    int rc = qwenc_chat_render(tok, req_text, text, err, errlen);
    free(req_text);
    return rc;
}

static int show_piece(void *ctx, int32_t id, const char *text, size_t len) {
    cli_display_piece(ctx, id, text, len);
    return 0;
}

static int run(const run_opts *o, const char *path, char *err, size_t errlen) {
    qwenc_model *m = NULL;
    qwenc_session *s = NULL;
    qwenc_sampler *smp = NULL;
    char *text = NULL;
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = cli_open_model(path, (int)o->threads, o->quant, &m, err, errlen);
    qwenc_tokenizer *tok = rc ? NULL : qwenc_model_tokenizer(m);
    if (!rc && !tok) rc = QWENC_EINVAL, snprintf(err, errlen, "%.400s: no tokenizer.json", path);
    if (!rc) rc = render_prompt(o, tok, &text, err, errlen);
    if (!rc) rc = qwenc_tokenize(tok, text, strlen(text), &ids, &n, err, errlen);
    if (!rc) rc = qwenc_session_new(m, (int)o->ctx, &s, err, errlen);
    if (!rc) rc = cli_sampler_new(m, &o->sampling, &smp, err, errlen);
    if (!rc) {
        cli_display d;
        cli_display_init(&d, tok, stdout, o->hide_thinking, ids, (int)n);
        cli_gen_opts go = {.n_predict = (int)o->n_predict, .skip_special = 0};
        cli_gen_stats st;
        rc = cli_generate(m, s, smp, ids, (int)n, &go, show_piece, &d, &st, err, errlen);
        cli_display_end(&d);
        if (!rc && (o->verbose || isatty(STDOUT_FILENO)))
            fprintf(stderr, "prompt %d tokens, generated %d tokens; prefill %.1f tok/s, decode %.1f tok/s\n",
                    st.n_prompt, st.n_generated, st.prefill_s > 0 ? st.n_prompt / st.prefill_s : 0,
                    st.decode_s > 0 ? st.n_generated / st.decode_s : 0);
    }
    free(text);
    free(ids);
    qwenc_sampler_free(smp);
    qwenc_session_free(s);
    qwenc_model_free(m);
    return rc;
}

int cmd_run(int argc, char **argv) {
    run_opts o;
    int st = parse_run(argc, argv, &o);
    if (st) {
        free(o.stdin_prompt);
        return st < 0 ? 0 : st;
    }
    char path[PATH_MAX], err[512] = "";
    if ((st = cli_resolve_model("run", o.model, path, sizeof path))) {
        free(o.stdin_prompt);
        return st;
    }
    int rc = run(&o, path, err, sizeof err);
    if (rc) fprintf(stderr, "qwenc run: %s\n", err);
    free(o.stdin_prompt);
    return cli_exit_code(rc);
}
