/* qwenc generate: a prompt (ids, text or one chat message) in, tokens out. */
#include "cli/cli.h"
#include "cli/progress.h"
#include "cli/textgen.h"
#include "qwenc.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char generate_usage[] =
    "usage: qwenc generate -m MODEL (--ids LIST | -p TEXT | --chat TEXT) [options]\n"
    "\n"
    "  -m, --model DIR     model directory\n"
    "      --ids LIST      prompt as comma-separated token ids\n"
    "  -p, --prompt TEXT   prompt as plain text (no chat template)\n"
    "      --chat TEXT     one user message, rendered with the model's chat template\n"
    "      --no-think      with --chat: enable_thinking=false\n"
    "  -n, --n-predict N   tokens to generate (default 128)\n"
    CLI_SAMPLING_HELP
    "      --ignore-eos    do not stop at end-of-sequence tokens\n"
    "      --print-ids     print the generated ids, comma-separated, on one line\n"
    "  -t, --threads N     compute threads (default 1)\n"
    "  -c, --ctx N         context length (default min(4096, max_position_embeddings))\n"
    "      --quant TYPE    quantize the weights at load to " CLI_QUANT_TYPES "\n"
    "                      (as qwenc convert --type writes them)\n"
    "  -h, --help          show this help\n";

typedef struct {
    const char *dir, *ids, *prompt, *chat, *quant;
    long n_predict, threads, ctx;
    cli_sampling sampling;
    int no_think, ignore_eos, print_ids;
    int printed_any;  /* output state */
} gen_opts;

static int parse_opts(int argc, char **argv, gen_opts *o) {
    enum { O_IDS = 1000, O_CHAT, O_NOTHINK, O_IGNEOS, O_PRINTIDS };
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},   {"ids", required_argument, 0, O_IDS},
        {"prompt", required_argument, 0, 'p'},  {"chat", required_argument, 0, O_CHAT},
        {"no-think", no_argument, 0, O_NOTHINK}, {"n-predict", required_argument, 0, 'n'},
        CLI_SAMPLING_LONGOPTS,
        {"ignore-eos", no_argument, 0, O_IGNEOS}, {"print-ids", no_argument, 0, O_PRINTIDS},
        {"threads", required_argument, 0, 't'}, {"ctx", required_argument, 0, 'c'},
        {"help", no_argument, 0, 'h'},          CLI_QUANT_LONGOPT, {0, 0, 0, 0}};
    const char *cmd = "generate";
    memset(o, 0, sizeof *o);
    o->n_predict = 128;
    o->threads = 1;
    int c;
    while ((c = cli_getopt(cmd, argc, argv, "m:p:n:t:c:h", opts)) != -1) {
        int bad = cli_sampling_option(cmd, c, optarg, &o->sampling);
        if (bad) {
            if (bad < 0) return CLI_EXIT_BADINPUT;
            continue;
        }
        switch (c) {
        case 'm': o->dir = optarg; break;
        case O_IDS: o->ids = optarg; break;
        case 'p': o->prompt = optarg; break;
        case O_CHAT: o->chat = optarg; break;
        case O_NOTHINK: o->no_think = 1; break;
        case 'n': bad = cli_parse_int(cmd, "--n-predict", optarg, 0, 1 << 24, &o->n_predict); break;
        case O_IGNEOS: o->ignore_eos = 1; break;
        case O_PRINTIDS: o->print_ids = 1; break;
        case 't': bad = cli_parse_int(cmd, "--threads", optarg, 1, 1024, &o->threads); break;
        case 'c': bad = cli_parse_int(cmd, "--ctx", optarg, 1, 1 << 24, &o->ctx); break;
        case CLI_O_QUANT: o->quant = optarg; break;
        case 'h': fputs(generate_usage, stdout); return -1;
        default: return CLI_EXIT_BADINPUT;
        }
        if (bad) return CLI_EXIT_BADINPUT;
    }
    if (optind < argc) return cli_bad(cmd, "unexpected argument '%s'", argv[optind]);
    if (!o->dir) return cli_bad(cmd, "no model given (-m DIR)");
    if (!!o->ids + !!o->prompt + !!o->chat != 1)
        return cli_bad(cmd, "give exactly one of --ids, -p/--prompt, --chat");
    return 0;
}

/* The prompt as token ids, from whichever form was given. */
static int prompt_ids(const gen_opts *o, qwenc_model *m, int32_t **ids, int *n, char *err, size_t errlen) {
    if (o->ids) return cli_parse_ids("generate", o->ids, ids, n) ? QWENC_EINVAL : 0;
    qwenc_tokenizer *tok = qwenc_model_tokenizer(m);
    if (!tok) {
        snprintf(err, errlen, "%s: no tokenizer.json, so only --ids prompts work", o->dir);
        return QWENC_EINVAL;
    }
    char *text = NULL;
    int rc = 0;
    if (o->chat) {
        json_t *req = json_pack("{s:[{s:s,s:s}],s:b,s:b}", "messages", "role", "user", "content", o->chat,
                                "add_generation_prompt", 1, "enable_thinking", !o->no_think);
        char *req_text = req ? json_dumps(req, 0) : NULL;
        json_decref(req);
        if (!req_text) {
            snprintf(err, errlen, "--chat: the text is not valid UTF-8");
            return QWENC_EINVAL;
        }
        rc = qwenc_chat_render(tok, req_text, &text, err, errlen);
        free(req_text);
        if (rc) return rc;
    }
    const char *src = text ? text : o->prompt;
    size_t nn = 0;
    rc = qwenc_tokenize(tok, src, strlen(src), ids, &nn, err, errlen);
    free(text);
    if (!rc && nn == 0) {
        free(*ids);
        snprintf(err, errlen, "the prompt is empty");
        return QWENC_EINVAL;
    }
    *n = (int)nn;
    return rc;
}

/* Prints ids or text as they come; stops nothing. */
static int print_piece(void *ctx, int32_t id, const char *text, size_t len) {
    gen_opts *o = ctx;
    if (o->print_ids) {
        if (id >= 0) printf("%s%d", o->printed_any ? "," : "", id);
        o->printed_any = 1;
    } else {
        fwrite(text, 1, len, stdout);
    }
    fflush(stdout);
    return 0;
}

static int generate(gen_opts *o, qwenc_model *m, qwenc_session *s, qwenc_sampler *smp, const int32_t *prompt,
                    int n_prompt, char *err, size_t errlen) {
    if (!o->print_ids && !qwenc_model_tokenizer(m)) {
        snprintf(err, errlen, "%s: no tokenizer.json to print text with; use --print-ids", o->dir);
        return QWENC_EINVAL;
    }
    cli_gen_opts go = {.n_predict = (int)o->n_predict, .ignore_eos = o->ignore_eos};
    cli_gen_stats st;
    int rc = cli_generate(m, s, smp, prompt, n_prompt, &go, print_piece, o, &st, err, errlen);
    if (o->print_ids || !rc) putchar('\n');
    return rc;
}

int cmd_generate(int argc, char **argv) {
    gen_opts o;
    int st = parse_opts(argc, argv, &o);
    if (st) return st < 0 ? 0 : st;
    char err[512] = "";
    qwenc_model *m = NULL;
    qwenc_session *s = NULL;
    qwenc_sampler *smp = NULL;
    int32_t *ids = NULL;
    int n = 0;
    int rc = cli_open_model(o.dir, (int)o.threads, o.quant, &m, err, sizeof err);
    if (!rc) rc = prompt_ids(&o, m, &ids, &n, err, sizeof err);
    if (!rc) rc = qwenc_session_new(m, (int)o.ctx, &s, err, sizeof err);
    if (!rc) rc = cli_sampler_new(m, &o.sampling, &smp, err, sizeof err);
    if (!rc) rc = generate(&o, m, s, smp, ids, n, err, sizeof err);
    if (rc && err[0]) fprintf(stderr, "qwenc generate: %s\n", err);
    free(ids);
    qwenc_sampler_free(smp);
    qwenc_session_free(s);
    qwenc_model_free(m);
    return cli_exit_code(rc);
}
