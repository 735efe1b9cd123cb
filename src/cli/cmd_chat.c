/* qwenc chat: an interactive multi-turn chat. Lines come from libedit on a
 * terminal (editing, history) or from fgets on a pipe. The conversation is
 * rendered with the model's chat template every turn; the session keeps its
 * KV cache across turns, so a turn evaluates only what the template changed. */
#include "cli/cli.h"
#include "cli/conversation.h"
#include "cli/display.h"
#include "cli/progress.h"
#include "cli/textgen.h"
#include "qwenc.h"

#include <editline/readline.h>
#include <errno.h>
#include <langinfo.h>
#include <limits.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char chat_usage[] =
    "usage: qwenc chat [MODEL] [options]\n"
    "\n"
    "Talk with a model, turn after turn. MODEL is a model directory or a name in the\n"
    "models directory (default: the bundled demo model). Type /help in the chat for\n"
    "its commands; Ctrl-C stops an answer, Ctrl-D (or Ctrl-C twice) leaves.\n"
    "\n"
    "  -m, --model MODEL   the model (instead of the positional MODEL)\n"
    "      --system TEXT   system message\n"
    "      --no-think      start with thinking off (/think on turns it back on)\n"
    "      --hide-thinking do not show the <think> part of answers\n"
    "  -n, --n-predict N   most tokens per answer (default: until the end of the answer)\n"
    CLI_SAMPLING_HELP
    "  -t, --threads N     compute threads (default 1)\n"
    "  -c, --ctx N         context length (default min(4096, max_position_embeddings))\n"
    "      --quant TYPE    quantize the weights at load to " CLI_QUANT_TYPES "\n"
    "                      (as qwenc convert --type writes them)\n"
    "  -h, --help          show this help\n";

static const char chat_help[] =
    "commands:\n"
    "  /help            this list\n"
    "  /reset           forget the conversation (keeps the system message)\n"
    "  /system TEXT     set the system message and start over (/system alone removes it)\n"
    "  /think on|off    let the model think before answering, or not\n"
    "  /save FILE       write the conversation as JSON (OpenAI messages format)\n"
    "  /load FILE       read a conversation written by /save\n"
    "  /stats           token counts and speeds of the last turn\n"
    "  /bye, /exit      leave (so do Ctrl-D and Ctrl-C twice)\n";

/* The only global mutable state: set by the SIGINT handler, read and cleared
 * by the chat loop (stops an answer, or clears the line at the prompt). */
static volatile sig_atomic_t chat_sigint;

static void on_sigint(int sig) {
    (void)sig;
    chat_sigint = 1;
}

typedef struct {
    const char *model;
    const char *system;
    const char *quant;
    long threads, ctx, n_predict;
    cli_sampling sampling;
    int no_think, hide_thinking;
} chat_opts;

typedef struct {
    const chat_opts *o;
    qwenc_model *m;
    qwenc_tokenizer *tok;
    qwenc_session *s;
    qwenc_sampler *smp;
    json_t *conv;
    int think;
    int tty;               /* stdin is a terminal: libedit */
    cli_gen_stats last;    /* the last turn, for /stats */
    int have_last;
    cli_display disp;      /* this turn's output */
    char *answer;          /* this turn's text */
    size_t answer_len, answer_cap;
    int answer_oom;
} chat_state;

static int parse_opts(int argc, char **argv, chat_opts *o) {
    enum { O_SYSTEM = 1000, O_NOTHINK, O_HIDE };
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},    {"system", required_argument, 0, O_SYSTEM},
        {"no-think", no_argument, 0, O_NOTHINK}, {"hide-thinking", no_argument, 0, O_HIDE},
        {"n-predict", required_argument, 0, 'n'}, CLI_SAMPLING_LONGOPTS,
        {"threads", required_argument, 0, 't'},  {"ctx", required_argument, 0, 'c'},
        {"help", no_argument, 0, 'h'},           CLI_QUANT_LONGOPT, {0, 0, 0, 0}};
    const char *cmd = "chat";
    memset(o, 0, sizeof *o);
    o->n_predict = -1;
    o->threads = 1;
    optind = 1;
    int c;
    while ((c = cli_getopt(cmd, argc, argv, "m:n:t:c:h", opts)) != -1) {
        int bad = cli_sampling_option(cmd, c, optarg, &o->sampling);
        if (bad) {
            if (bad < 0) return CLI_EXIT_BADINPUT;
            continue;
        }
        switch (c) {
        case 'm': o->model = optarg; break;
        case O_SYSTEM: o->system = optarg; break;
        case O_NOTHINK: o->no_think = 1; break;
        case O_HIDE: o->hide_thinking = 1; break;
        case 'n': bad = cli_parse_int(cmd, "--n-predict", optarg, 1, 1 << 24, &o->n_predict); break;
        case 't': bad = cli_parse_int(cmd, "--threads", optarg, 1, 1024, &o->threads); break;
        case 'c': bad = cli_parse_int(cmd, "--ctx", optarg, 1, 1 << 24, &o->ctx); break;
        case CLI_O_QUANT: o->quant = optarg; break;
        case 'h': fputs(chat_usage, stdout); return -1;
        default: return CLI_EXIT_BADINPUT;
        }
        if (bad) return CLI_EXIT_BADINPUT;
    }
    if (optind < argc && !o->model) o->model = argv[optind++];
    if (optind < argc) return cli_bad(cmd, "unexpected argument '%s' (see qwenc chat --help)", argv[optind]);
    return 0;
}

/* ---- reading lines ------------------------------------------------------ */

/* libedit's character source: one Unicode code point decoded from UTF-8, or
 * -1 (EOF to libedit, which returns the line) at end of input or when SIGINT
 * arrived; read_line then sees the flag. */
static int tty_getc(FILE *f) {
    unsigned char b[4];
    int need = 1;
    for (int got = 0; got < need;) {
        if (chat_sigint) return -1;  /* also when it came before the read */
        ssize_t n = read(fileno(f), &b[got], 1);
        if (n < 0 && errno == EINTR && !chat_sigint) continue;
        if (n != 1) return -1;
        if (got++ == 0) need = b[0] < 0x80 ? 1 : b[0] >= 0xf0 ? 4 : b[0] >= 0xe0 ? 3 : b[0] >= 0xc0 ? 2 : 1;
        else if ((b[got - 1] & 0xc0) != 0x80) return 0xfffd;
    }
    if (need == 1) return b[0] < 0x80 ? b[0] : 0xfffd;
    int cp = b[0] & (0x7f >> need);
    for (int i = 1; i < need; i++) cp = cp << 6 | (b[i] & 0x3f);
    return cp;
}

enum { LINE_OK, LINE_EOF, LINE_INTERRUPT };

/* Reads one line into *line (malloc'd, no newline). */
static int read_line(const chat_state *c, char **line) {
    *line = NULL;
    if (c->tty) {
        char *l = readline(">>> ");
        if (chat_sigint) {
            free(l);
            return LINE_INTERRUPT;
        }
        if (!l) return LINE_EOF;
        if (*l) add_history(l);
        *line = l;
        return LINE_OK;
    }
    size_t cap = 0;
    ssize_t n = getline(line, &cap, stdin);
    if (n < 0) {
        free(*line);
        *line = NULL;
        return chat_sigint ? LINE_INTERRUPT : LINE_EOF;
    }
    if (n > 0 && (*line)[n - 1] == '\n') (*line)[--n] = 0;
    if (n > 0 && (*line)[n - 1] == '\r') (*line)[--n] = 0;
    return LINE_OK;
}

/* ---- one turn ----------------------------------------------------------- */

/* Streams a piece to the display and keeps it for the conversation; stops
 * when Ctrl-C was pressed. */
static int on_piece(void *ctx, int32_t id, const char *text, size_t len) {
    chat_state *c = ctx;
    cli_display_piece(&c->disp, id, text, len);
    fflush(c->disp.out);
    if (c->answer_len + len + 1 > c->answer_cap) {
        size_t cap = 2 * (c->answer_len + len + 1) + 256;
        char *a = realloc(c->answer, cap);
        if (!a) {
            c->answer_oom = 1;
            return 1;
        }
        c->answer = a;
        c->answer_cap = cap;
    }
    memcpy(c->answer + c->answer_len, text, len);
    c->answer_len += len;
    c->answer[c->answer_len] = 0;
    return chat_sigint != 0;
}

/* The conversation with a generation prompt, as token ids. */
static int prompt_ids(chat_state *c, int32_t **ids, int *n, char *err, size_t errlen) {
    char *text = NULL;
    int rc = conv_render(c->tok, c->conv, c->think, &text, err, errlen);
    size_t nn = 0;
    if (!rc) rc = qwenc_tokenize(c->tok, text, strlen(text), ids, &nn, err, errlen);
    free(text);
    if (!rc && nn > (size_t)qwenc_session_n_ctx(c->s)) {
        free(*ids);
        snprintf(err, errlen, "the conversation (%zu tokens) does not fit the context (%d); /reset starts over",
                 nn, qwenc_session_n_ctx(c->s));
        rc = QWENC_ERANGE;
    }
    *n = (int)nn;
    return rc;
}

/* Generates the answer to the conversation and appends it. */
static int answer(chat_state *c, char *err, size_t errlen) {
    int32_t *ids = NULL;
    int n = 0;
    int rc = prompt_ids(c, &ids, &n, err, errlen);
    if (rc) return rc;
    cli_gen_opts go = {.n_predict = (int)c->o->n_predict, .skip_special = 1};
    cli_display_init(&c->disp, c->tok, stdout, c->o->hide_thinking, ids, n);
    c->answer_len = 0;
    c->answer_oom = 0;
    cli_gen_stats st;
    rc = cli_generate(c->m, c->s, c->smp, ids, n, &go, on_piece, c, &st, err, errlen);
    cli_display_end(&c->disp);
    fflush(stdout);
    free(ids);
    if (rc) return rc;
    c->last = st;
    c->have_last = 1;
    if (c->answer_oom || conv_append(c->conv, "assistant", c->answer ? c->answer : "", c->answer_len)) {
        snprintf(err, errlen, "out of memory keeping the answer");
        return QWENC_ENOMEM;
    }
    if (!st.stop_eos && !st.stop_cancel && qwenc_session_n_past(c->s) >= qwenc_session_n_ctx(c->s))
        fprintf(stderr, "qwenc chat: the context is full (%d tokens): the answer was cut; /reset starts over\n",
                qwenc_session_n_ctx(c->s));
    return 0;
}

/* A user message: the turn it starts; on failure the message is taken back. */
static void turn(chat_state *c, const char *text) {
    char err[512] = "";
    chat_sigint = 0;
    if (conv_append(c->conv, "user", text, strlen(text))) {
        fprintf(stderr, "qwenc chat: the message is not valid UTF-8\n");
        return;
    }
    int rc = answer(c, err, sizeof err);
    if (rc) {
        conv_pop(c->conv);
        fprintf(stderr, "qwenc chat: %s\n", err[0] ? err : "generation failed");
    }
    chat_sigint = 0;
}

/* ---- commands ----------------------------------------------------------- */

static void forget(chat_state *c) {
    conv_clear(c->conv);
    qwenc_session_truncate(c->s, 0, NULL, 0);
    c->have_last = 0;
}

static void show_stats(const chat_state *c) {
    if (!c->have_last) {
        printf("no turn yet\n");
        return;
    }
    const cli_gen_stats *st = &c->last;
    int evaluated = st->n_prompt - st->n_reused;
    printf("prompt %d tokens (reused %d, evaluated %d), generated %d tokens\n", st->n_prompt, st->n_reused,
           evaluated, st->n_generated);
    printf("prefill %.1f tok/s, decode %.1f tok/s\n", st->prefill_s > 0 ? evaluated / st->prefill_s : 0.0,
           st->decode_s > 0 ? st->n_generated / st->decode_s : 0.0);
}

static void set_system(chat_state *c, const char *text) {
    json_t *conv = conv_new(text);
    if (!conv) {
        fprintf(stderr, "qwenc chat: the system message is not valid UTF-8\n");
        return;
    }
    json_decref(c->conv);
    c->conv = conv;
    forget(c);
    printf(*text ? "system message set; conversation reset\n" : "system message removed; conversation reset\n");
}

static void save_or_load(chat_state *c, int load, const char *path) {
    char err[512] = "";
    if (!*path) {
        fprintf(stderr, "qwenc chat: usage: /%s FILE\n", load ? "load" : "save");
        return;
    }
    json_t *conv = NULL;
    int rc = load ? conv_load(path, &conv, err, sizeof err) : conv_save(c->conv, path, err, sizeof err);
    if (rc) {
        fprintf(stderr, "qwenc chat: %s\n", err);
        return;
    }
    if (load) {
        json_decref(c->conv);
        c->conv = conv;
    }
    printf("%s %zu messages %s %s\n", load ? "loaded" : "saved", json_array_size(c->conv), load ? "from" : "to",
           path);
}

/* Runs a /command; returns 1 when the chat should end. */
static int command(chat_state *c, const char *line) {
    const char *arg = line + strcspn(line, " \t");
    size_t len = (size_t)(arg - line);
    arg += strspn(arg, " \t");
#define IS(name) (len == sizeof(name) - 1 && !memcmp(line, name, len))
    if (IS("/bye") || IS("/exit")) return 1;
    if (IS("/help")) fputs(chat_help, stdout);
    else if (IS("/reset")) forget(c), printf("conversation reset\n");
    else if (IS("/system")) set_system(c, arg);
    else if (IS("/stats")) show_stats(c);
    else if (IS("/save")) save_or_load(c, 0, arg);
    else if (IS("/load")) save_or_load(c, 1, arg);
    else if (IS("/think") && (!strcmp(arg, "on") || !strcmp(arg, "off"))) {
        c->think = !strcmp(arg, "on");
        printf("thinking %s\n", c->think ? "on" : "off");
    } else if (IS("/think")) fprintf(stderr, "qwenc chat: usage: /think on|off (now %s)\n", c->think ? "on" : "off");
    else fprintf(stderr, "qwenc chat: unknown command '%.*s' (/help lists them)\n", (int)len, line);
#undef IS
    fflush(stdout);
    return 0;
}

/* ---- the loop ----------------------------------------------------------- */

static void chat_loop(chat_state *c) {
    int interrupts = 0;
    for (;;) {
        char *line;
        int r = read_line(c, &line);
        if (r == LINE_EOF) break;
        if (r == LINE_INTERRUPT) {
            chat_sigint = 0;
            if (++interrupts >= 2) break;
            fputs(c->tty ? "\n(Ctrl-C again or Ctrl-D to leave)\n" : "", stdout);
            continue;
        }
        interrupts = 0;
        char *text = line + strspn(line, " \t");
        int end = 0;
        if (*text == '/') end = command(c, text);
        else if (*text) turn(c, line);
        free(line);
        if (end) break;
    }
    if (c->tty) putchar('\n');
}

/* Terminal input as UTF-8 code points (libedit needs a UTF-8 LC_CTYPE). */
static void setup_tty(void) {
    if (!setlocale(LC_CTYPE, "") || strcmp(nl_langinfo(CODESET), "UTF-8")) setlocale(LC_CTYPE, "C.UTF-8");
    rl_catch_signals = 0;
    rl_getc_function = tty_getc;
}

static int open_all(chat_state *c, const char *path, char *err, size_t errlen) {
    int rc = cli_open_model(path, (int)c->o->threads, c->o->quant, &c->m, err, errlen);
    if (!rc && !(c->tok = qwenc_model_tokenizer(c->m))) {
        snprintf(err, errlen, "%.400s: no tokenizer.json, so no chat", path);
        rc = QWENC_EINVAL;
    }
    if (!rc) rc = qwenc_session_new(c->m, (int)c->o->ctx, &c->s, err, errlen);
    if (!rc) rc = cli_sampler_new(c->m, &c->o->sampling, &c->smp, err, errlen);
    if (!rc && !(c->conv = conv_new(c->o->system))) {
        snprintf(err, errlen, "--system: not valid UTF-8");
        rc = QWENC_EINVAL;
    }
    return rc;
}

int cmd_chat(int argc, char **argv) {
    chat_opts o;
    int st = parse_opts(argc, argv, &o);
    if (st) return st < 0 ? 0 : st;
    char path[PATH_MAX];
    if ((st = cli_resolve_model("chat", o.model, path, sizeof path))) return st;

    chat_state c = {.o = &o, .think = !o.no_think, .tty = isatty(STDIN_FILENO)};
    char err[512] = "";
    int rc = open_all(&c, path, err, sizeof err);
    if (!rc) {
        struct sigaction sa = {.sa_handler = on_sigint}, old;
        sigemptyset(&sa.sa_mask);  /* no SA_RESTART: reads return EINTR */
        sigaction(SIGINT, &sa, &old);
        if (c.tty) {
            setup_tty();
            printf("qwenc chat with %s: /help for commands, Ctrl-D to leave\n", path);
        }
        chat_loop(&c);
        sigaction(SIGINT, &old, NULL);
    } else {
        fprintf(stderr, "qwenc chat: %s\n", err);
    }
    free(c.answer);
    json_decref(c.conv);
    qwenc_sampler_free(c.smp);
    qwenc_session_free(c.s);
    qwenc_model_free(c.m);
    return cli_exit_code(rc);
}
