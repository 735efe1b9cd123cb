/* qwenc serve: the OpenAI-compatible HTTP server (src/server/). */
#include "cli/cli.h"
#include "cli/progress.h"
#include "server/server.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char serve_usage[] =
    "usage: qwenc serve [MODEL] [options]\n"
    "\n"
    "Serves MODEL (a model directory, a .gguf file, a name in the models\n"
    "directory, or the bundled demo model when left out) over the OpenAI API:\n"
    "POST /v1/chat/completions, /v1/completions, /tokenize, /detokenize;\n"
    "GET /v1/models, /health, /metrics (Prometheus).\n"
    "\n"
    "  -m, --model MODEL       the model (instead of the first argument)\n"
    "      --host ADDR         address to listen on (default 127.0.0.1)\n"
    "      --port N            port (default 8080; 0 picks a free one)\n"
    "      --api-key KEY       require 'Authorization: Bearer KEY' (default: $QWENC_API_KEY;\n"
    "                          /health stays public)\n"
    "      --alias NAME        the model name clients send (default: the model's directory or file name)\n"
    "  -c, --ctx N             context length of each slot (default min(4096, max_position_embeddings))\n"
    "      --parallel N        requests decoded together, in one batched step (default 1)\n"
    "      --kv-mem MIB        KV cache memory shared by the slots, in MiB (default: --ctx positions\n"
    "                          per slot); a request waits until its prompt + max_tokens fits\n"
    "      --queue N           requests waiting for a slot before new ones get 503 (default 64)\n"
    "      --prefill-chunk N   prompt tokens evaluated per step, so one long prompt does not stall\n"
    "                          the other slots (default 512)\n"
    "      --max-body BYTES    largest request body; larger ones get 413 (default 16777216)\n"
    "      --max-connections N open connections at most; more wait to be accepted until one\n"
    "                          closes (default 256)\n"
    "      --max-connections-per-ip N  open connections from one address at most; more are closed\n"
    "                          at once (default 0: no limit besides --max-connections)\n"
    "      --timeout S         close connections idle for S seconds (default 120)\n"
    "      --read-timeout S    a request's headers and body must arrive within S seconds of the\n"
    "                          connection opening (or of the previous response on it); a client\n"
    "                          sending them slowly is cut off (default 60)\n"
    "  -t, --threads N         compute threads (default: all cores)\n"
    "      --quant TYPE        quantize the weights at load to " CLI_QUANT_TYPES "\n"
    "                          (as qwenc convert --type writes them)\n"
    "  -q, --quiet             no log line per request\n"
    "  -h, --help              show this help\n"
    "\n"
    "Sampling defaults come from the model's generation_config.json; requests\n"
    "override them. Stop with Ctrl-C (SIGINT) or SIGTERM.\n";

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig) {
    (void)sig;
    stop_flag = 1;
}

typedef struct {
    const char *model;
    server_config c;
    long threads;
    const char *quant;
} serve_opts;

static int parse_serve(int argc, char **argv, serve_opts *o) {
    enum { O_HOST = 1000, O_PORT, O_KEY, O_ALIAS, O_PARALLEL, O_KVMEM, O_QUEUE, O_CHUNK, O_BODY, O_CONNS, O_TIMEOUT,
           O_PER_IP, O_READ_TIMEOUT };
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},          {"host", required_argument, 0, O_HOST},
        {"port", required_argument, 0, O_PORT},         {"api-key", required_argument, 0, O_KEY},
        {"alias", required_argument, 0, O_ALIAS},       {"ctx", required_argument, 0, 'c'},
        {"parallel", required_argument, 0, O_PARALLEL}, {"queue", required_argument, 0, O_QUEUE},
        {"kv-mem", required_argument, 0, O_KVMEM},
        {"prefill-chunk", required_argument, 0, O_CHUNK}, {"max-body", required_argument, 0, O_BODY},
        {"max-connections", required_argument, 0, O_CONNS}, {"timeout", required_argument, 0, O_TIMEOUT},
        {"max-connections-per-ip", required_argument, 0, O_PER_IP},
        {"read-timeout", required_argument, 0, O_READ_TIMEOUT},
        {"threads", required_argument, 0, 't'},         {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},                  CLI_QUANT_LONGOPT, {0, 0, 0, 0}};
    const char *cmd = "serve";
    memset(o, 0, sizeof *o);
    server_config *c = &o->c;
    *c = (server_config){.host = "127.0.0.1", .port = 8080, .api_key = getenv("QWENC_API_KEY"), .n_parallel = 1,
                         .max_queue = 64, .prefill_chunk = 512, .max_body = 16u << 20, .max_connections = 256,
                         .timeout_s = 120, .read_timeout_s = 60};
    if (c->api_key && !c->api_key[0]) c->api_key = NULL;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    o->threads = cores > 0 ? cores : 1;
    long v = 0;
    int ch;
    while ((ch = cli_getopt(cmd, argc, argv, "m:c:t:qh", opts)) != -1) {
        int bad = 0;
        switch (ch) {
        case 'm': o->model = optarg; break;
        case O_HOST: c->host = optarg; break;
        case O_PORT: bad = cli_parse_int(cmd, "--port", optarg, 0, 65535, &v), c->port = (int)v; break;
        case O_KEY: c->api_key = optarg; break;
        case O_ALIAS: c->model_id = optarg; break;
        case 'c': bad = cli_parse_int(cmd, "--ctx", optarg, 2, 1 << 24, &v), c->n_ctx = (int)v; break;
        case O_PARALLEL: bad = cli_parse_int(cmd, "--parallel", optarg, 1, 256, &v), c->n_parallel = (int)v; break;
        case O_KVMEM: bad = cli_parse_int(cmd, "--kv-mem", optarg, 1, 1L << 30, &v), c->kv_bytes = (int64_t)v << 20; break;
        case O_QUEUE: bad = cli_parse_int(cmd, "--queue", optarg, 1, 1 << 20, &v), c->max_queue = (int)v; break;
        case O_CHUNK: bad = cli_parse_int(cmd, "--prefill-chunk", optarg, 1, 512, &v), c->prefill_chunk = (int)v; break;
        case O_BODY: bad = cli_parse_int(cmd, "--max-body", optarg, 1024, 1L << 32, &v), c->max_body = (size_t)v; break;
        case O_CONNS: bad = cli_parse_int(cmd, "--max-connections", optarg, 1, 65536, &v), c->max_connections = (int)v; break;
        case O_TIMEOUT: bad = cli_parse_int(cmd, "--timeout", optarg, 1, 86400, &v), c->timeout_s = (int)v; break;
        case O_PER_IP:
            bad = cli_parse_int(cmd, "--max-connections-per-ip", optarg, 0, 65536, &v), c->max_per_ip = (int)v;
            break;
        case O_READ_TIMEOUT:
            bad = cli_parse_int(cmd, "--read-timeout", optarg, 1, 86400, &v), c->read_timeout_s = (int)v;
            break;
        case 't': bad = cli_parse_int(cmd, "--threads", optarg, 1, 1024, &o->threads); break;
        case 'q': c->quiet = 1; break;
        case CLI_O_QUANT: o->quant = optarg; break;
        case 'h': fputs(serve_usage, stdout); return -1;
        default: return CLI_EXIT_BADINPUT;
        }
        if (bad) return CLI_EXIT_BADINPUT;
    }
    if (optind < argc && !o->model) o->model = argv[optind++];
    if (optind < argc) return cli_bad(cmd, "unexpected argument '%s'", argv[optind]);
    if (c->api_key && !c->api_key[0]) return cli_bad(cmd, "--api-key must not be empty");
    return 0;
}

/* The name clients use: the directory or file name, without .gguf. */
static void default_model_id(const char *path, char *out, size_t outlen) {
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    size_t start = n;
    while (start > 0 && path[start - 1] != '/') start--;
    size_t len = n - start;
    if (len > 5 && !strncmp(path + n - 5, ".gguf", 5)) len -= 5;
    snprintf(out, outlen, "%.*s", (int)len, path + start);
}

int cmd_serve(int argc, char **argv) {
    serve_opts o;
    int st = parse_serve(argc, argv, &o);
    if (st) return st < 0 ? 0 : st;
    char path[PATH_MAX], id[256], err[512] = "";
    st = cli_resolve_model("serve", o.model, path, sizeof path);
    if (st) return st;
    if (!o.c.model_id) {
        default_model_id(path, id, sizeof id);
        o.c.model_id = id;
    }
    qwenc_model *m = NULL;
    int rc = cli_open_model(path, (int)o.threads, o.quant, &m, err, sizeof err);
    if (!rc) {
        struct sigaction sa = {.sa_handler = on_signal};
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        rc = server_run(m, &o.c, &stop_flag, err, sizeof err);
    }
    if (rc && err[0]) fprintf(stderr, "qwenc serve: %s\n", err);
    qwenc_model_free(m);
    return cli_exit_code(rc);
}
