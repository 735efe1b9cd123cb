/* qwenc bench: prefill and decode speed the way llama-bench measures them,
 * on a model or a synthetic random-weight model of a real shape. */
#include "cli/cli.h"
#include "cli/membw.h"
#include "cli/progress.h"
#include "cli/textgen.h"
#include "qwenc.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static const char bench_usage[] =
    "usage: qwenc bench (-m MODEL | --synthetic SHAPE [--type TYPE]) [options]\n"
    "\n"
    "Measures prefill and decode tokens/s as llama-bench does, so the numbers\n"
    "compare with llama.cpp's: prefill (ppN) evaluates N prompt tokens in one\n"
    "call on an empty session; decode (tgN) evaluates N tokens one at a time,\n"
    "starting from an empty session (position 0), without sampling. Token ids\n"
    "are random below the vocabulary size, from --seed. Before the first\n"
    "repetition one token is evaluated and discarded, so that every weight page\n"
    "is in memory. Reports the median, min and max of the repetitions, the time\n"
    "the model took to load (to build, for --synthetic; quantizing included), the\n"
    "peak resident memory, and the weight traffic of decoding: the bytes of\n"
    "weights one token reads (as stored; active experts only) x median decode tok/s.\n"
    "With --bandwidth, also the machine's memory read bandwidth with the same\n"
    "threads (a 1 GiB array, in a child process) and the share of it decode uses.\n"
    "\n"
    "  -m, --model MODEL     a model directory, a .gguf file or a name in the models directory\n"
    "      --synthetic SHAPE a random-weight model of a real shape, built in memory: qwen3-0.6b,\n"
    "                        qwen3-1.7b, qwen3-4b, qwen3-8b, qwen3-14b, qwen3-30b-a3b,\n"
    "                        qwen2.5-0.5b, qwen2.5-7b (tiny-qwen3, tiny-qwen3-moe, tiny-qwen2 for tests)\n"
    "      --type TYPE       weights of the synthetic model: f32, bf16, q8_0, q4_0 (default bf16)\n"
    "      --quant TYPE      quantize the weights at load to " CLI_QUANT_TYPES "\n"
    "                        (as qwenc convert --type writes them)\n"
    "  -p, --n-prompt N      prompt tokens to prefill (default 512; 0 skips prefill)\n"
    "  -n, --n-gen N         tokens to decode (default 128; 0 skips decode)\n"
    "  -t, --threads N       compute threads (default: the online CPUs, as llama-bench)\n"
    "  -r, --repetitions N   repetitions of each test (default 3)\n"
    "      --parallel N      decode N sequences together, one batched step per token, as the\n"
    "                        server's --parallel does; decode t/s is then the aggregate of all N\n"
    "                        (default 1)\n"
    "      --seed N          seed of the token ids and the synthetic weights (default 0)\n"
    "      --bandwidth       also measure the memory read bandwidth (\"mem_read_gbps\" in --json)\n"
    "      --json            print one JSON line instead of a table:\n"
    "                        {\"prefill_tps\": {\"median\", \"min\", \"max\"}, \"decode_tps\": {...},\n"
    "                         \"peak_rss_mb\", \"load_s\", \"weight_gbps\", \"model\", \"type\", \"threads\",\n"
    "                         \"prompt\", \"gen\", \"reps\", ...}; a skipped test is null\n"
    "  -h, --help            show this help\n";

typedef struct {
    const char *model, *synthetic, *type, *quant;
    long n_prompt, n_gen, threads, reps, seed, parallel;
    int json, bandwidth;
} bench_opts;

static int parse_opts(int argc, char **argv, bench_opts *o) {
    enum { O_SYNTH = 1000, O_TYPE, O_SEED, O_JSON, O_PARALLEL, O_BANDWIDTH };
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},    {"synthetic", required_argument, 0, O_SYNTH},
        {"type", required_argument, 0, O_TYPE},  {"n-prompt", required_argument, 0, 'p'},
        {"n-gen", required_argument, 0, 'n'},    {"threads", required_argument, 0, 't'},
        {"repetitions", required_argument, 0, 'r'}, {"seed", required_argument, 0, O_SEED},
        {"json", no_argument, 0, O_JSON},        {"help", no_argument, 0, 'h'},
        {"parallel", required_argument, 0, O_PARALLEL}, {"bandwidth", no_argument, 0, O_BANDWIDTH},
        CLI_QUANT_LONGOPT,
        {0, 0, 0, 0}};
    const char *cmd = "bench";
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    *o = (bench_opts){.n_prompt = 512, .n_gen = 128, .threads = cpus > 0 ? cpus : 1, .reps = 3, .parallel = 1};
    int c, bad = 0;
    while (!bad && (c = cli_getopt(cmd, argc, argv, "m:p:n:t:r:h", opts)) != -1) {
        switch (c) {
        case 'm': o->model = optarg; break;
        case O_SYNTH: o->synthetic = optarg; break;
        case O_TYPE: o->type = optarg; break;
        case 'p': bad = cli_parse_int(cmd, "--n-prompt", optarg, 0, 1 << 20, &o->n_prompt); break;
        case 'n': bad = cli_parse_int(cmd, "--n-gen", optarg, 0, 1 << 20, &o->n_gen); break;
        case 't': bad = cli_parse_int(cmd, "--threads", optarg, 1, 1024, &o->threads); break;
        case 'r': bad = cli_parse_int(cmd, "--repetitions", optarg, 1, 1000, &o->reps); break;
        case O_SEED: bad = cli_parse_int(cmd, "--seed", optarg, 0, LONG_MAX, &o->seed); break;
        case O_JSON: o->json = 1; break;
        case O_BANDWIDTH: o->bandwidth = 1; break;
        case O_PARALLEL: bad = cli_parse_int(cmd, "--parallel", optarg, 1, 256, &o->parallel); break;
        case CLI_O_QUANT: o->quant = optarg; break;
        case 'h': fputs(bench_usage, stdout); return -1;
        default: return CLI_EXIT_BADINPUT;
        }
    }
    if (bad) return CLI_EXIT_BADINPUT;
    if (optind < argc) return cli_bad(cmd, "unexpected argument '%s'", argv[optind]);
    if (!o->model == !o->synthetic) return cli_bad(cmd, "give exactly one of -m MODEL and --synthetic SHAPE");
    if (o->type && !o->synthetic) return cli_bad(cmd, "--type applies to --synthetic models only");
    if (!o->n_prompt && !o->n_gen) return cli_bad(cmd, "nothing to measure: -p and -n are both 0");
    if (!o->type) o->type = "bf16";
    return 0;
}

/* ---- measuring ---- */

typedef struct {
    double median, min, max;
} stats;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median as the peer script takes it: the middle element, the upper one of
 * two for an even count. */
static stats stats_of(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return (stats){v[n / 2], v[0], v[n - 1]};
}

typedef struct {
    stats prefill, decode;
    int have_prefill, have_decode;
    double load_s;
} results;

static int prefill_once(qwenc_session *s, const int32_t *ids, int n, double *tps, char *err, size_t errlen) {
    int rc = qwenc_session_truncate(s, 0, err, errlen);
    double t0 = cli_now();
    if (!rc) rc = qwenc_session_eval(s, ids, n, NULL, err, errlen);
    *tps = n / (cli_now() - t0);
    return rc;
}

/* n tokens into each of the sessions, one batched step per token (sequence
 * k reads the ids from offset 7k, so the sequences differ). */
static int decode_once(qwenc_session **s, int n_seq, const int32_t *ids, int n, double *tps, char *err,
                       size_t errlen) {
    qwenc_batch_item items[256];
    int rc = 0;
    for (int k = 0; k < n_seq && !rc; k++) rc = qwenc_session_truncate(s[k], 0, err, errlen);
    double t0 = cli_now();
    for (int i = 0; i < n && !rc; i++) {
        for (int k = 0; k < n_seq; k++) items[k] = (qwenc_batch_item){s[k], ids + (i + 7 * k) % n, 1, 1};
        rc = qwenc_eval_batch(items, n_seq, err, errlen);
    }
    *tps = (double)n * n_seq / (cli_now() - t0);
    return rc;
}

static int measure(const bench_opts *o, qwenc_session **s, const int32_t *ids, results *r, char *err,
                   size_t errlen) {
    double *pp = calloc((size_t)o->reps, sizeof *pp), *tg = calloc((size_t)o->reps, sizeof *tg);
    int rc = pp && tg ? 0 : QWENC_ENOMEM;
    if (rc) snprintf(err, errlen, "out of memory");
    /* warm-up: one token, which reads every weight once */
    if (!rc) rc = decode_once(s, 1, ids, 1, &pp[0], err, errlen);
    for (int i = 0; i < o->reps && !rc; i++) {
        if (o->n_prompt) rc = prefill_once(s[0], ids, (int)o->n_prompt, &pp[i], err, errlen);
        if (!rc && o->n_gen) rc = decode_once(s, (int)o->parallel, ids, (int)o->n_gen, &tg[i], err, errlen);
    }
    if (!rc) {
        r->have_prefill = o->n_prompt > 0;
        r->have_decode = o->n_gen > 0;
        if (r->have_prefill) r->prefill = stats_of(pp, (int)o->reps);
        if (r->have_decode) r->decode = stats_of(tg, (int)o->reps);
    }
    free(pp);
    free(tg);
    return rc;
}

/* Random ids below the vocabulary (xorshift64* from the seed), enough for
 * the prompt and the decoded tokens. */
static int32_t *random_ids(int n, int vocab, uint64_t seed) {
    int32_t *ids = malloc((size_t)n * sizeof *ids);
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull;
    for (int i = 0; ids && i < n; i++) {
        x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
        ids[i] = (int32_t)((x * 0x2545f4914f6cdd1dull >> 32) % (uint64_t)vocab);
    }
    return ids;
}

/* ---- reporting ---- */

static double peak_rss_mib(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru)) return 0;
    return ru.ru_maxrss / 1024.0;  /* KiB on Linux */
}

static json_t *stats_json(const stats *s, int have) {
    return have ? json_pack("{s:f,s:f,s:f}", "median", s->median, "min", s->min, "max", s->max) : json_null();
}

static void print_json(const bench_opts *o, const qwenc_model_info *in, const results *r, double gbps,
                       double mem_gbps) {
    json_t *j = json_pack("{s:o,s:o,s:f,s:f,s:o,s:s,s:s,s:b,s:i,s:i,s:i,s:i,s:i,s:I,s:I}",
                          "prefill_tps", stats_json(&r->prefill, r->have_prefill),
                          "decode_tps", stats_json(&r->decode, r->have_decode),
                          "peak_rss_mb", peak_rss_mib(), "load_s", r->load_s,
                          "weight_gbps", r->have_decode ? json_real(gbps) : json_null(),
                          "model", o->synthetic ? o->synthetic : o->model, "type", in->weight_dtype,
                          "synthetic", o->synthetic != NULL, "threads", (int)o->threads,
                          "prompt", (int)o->n_prompt, "gen", (int)o->n_gen, "reps", (int)o->reps,
                          "parallel", (int)o->parallel,
                          "weight_bytes_per_token", (json_int_t)in->weight_bytes_per_token,
                          "n_params", (json_int_t)in->n_params);
    if (j && o->bandwidth) json_object_set_new(j, "mem_read_gbps", mem_gbps > 0 ? json_real(mem_gbps) : json_null());
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    if (text) puts(text);
    free(text);
    json_decref(j);
}

static void print_row(const char *model, const qwenc_model_info *in, long threads, const char *test,
                      const stats *s) {
    printf("| %-24s | %-5s | %9.2f MiB | %8.2f M | %7ld | %6s | %9.2f | %9.2f | %9.2f |\n", model, in->weight_dtype,
           in->weight_bytes / 1048576.0, in->n_params / 1e6, threads, test, s->median, s->min, s->max);
}

/* The model as the table names it: the shape, or the last part of the path. */
static void model_label(const bench_opts *o, char *out, size_t n) {
    if (o->synthetic) {
        snprintf(out, n, "%s (random)", o->synthetic);
        return;
    }
    size_t len = strlen(o->model);
    while (len > 1 && o->model[len - 1] == '/') len--;
    size_t start = len;
    while (start > 0 && o->model[start - 1] != '/') start--;
    snprintf(out, n, "%.*s", (int)(len - start), o->model + start);
}

static void print_table(const bench_opts *o, const qwenc_model_info *in, const results *r, double gbps,
                        double mem_gbps) {
    char model[64], test[32];
    model_label(o, model, sizeof model);
    printf("| %-24s | %-5s | %13s | %10s | %7s | %6s | %9s | %9s | %9s |\n", "model", "type", "size", "params",
           "threads", "test", "t/s", "min", "max");
    printf("|--------------------------|-------|---------------|------------|---------|--------|-----------|"
           "-----------|-----------|\n");
    snprintf(test, sizeof test, "pp%ld", o->n_prompt);
    if (r->have_prefill) print_row(model, in, o->threads, test, &r->prefill);
    if (o->parallel > 1) snprintf(test, sizeof test, "tg%ldx%ld", o->n_gen, o->parallel);
    else snprintf(test, sizeof test, "tg%ld", o->n_gen);
    if (r->have_decode) print_row(model, in, o->threads, test, &r->decode);
    printf("\nload %.2f s; peak RSS %.1f MiB", r->load_s, peak_rss_mib());
    if (r->have_decode)
        printf("; weight traffic %.2f GB/s (%.1f MiB of weights per step x %.2f steps/s)", gbps,
               in->weight_bytes_per_token / 1048576.0, r->decode.median / (double)o->parallel);
    printf("; %d repetition%s\n", (int)o->reps, o->reps == 1 ? "" : "s");
    if (o->bandwidth) {
        if (mem_gbps <= 0) printf("memory read bandwidth: could not be measured\n");
        else if (r->have_decode)
            printf("memory read bandwidth %.2f GB/s (%ld thread%s, 1 GiB); decode uses %.0f%% of it\n", mem_gbps,
                   o->threads, o->threads == 1 ? "" : "s", 100 * gbps / mem_gbps);
        else printf("memory read bandwidth %.2f GB/s (%ld thread%s, 1 GiB)\n", mem_gbps, o->threads,
                    o->threads == 1 ? "" : "s");
    }
}

/* ---- the command ---- */

/* path: the resolved -m MODEL, NULL for --synthetic. */
static int open_model(const bench_opts *o, const char *path, qwenc_model **m, char *err, size_t errlen) {
    if (path) return cli_open_model(path, (int)o->threads, o->quant, m, err, errlen);
    qwenc_model_params mp;
    qwenc_model_params_init(&mp);
    mp.n_threads = (int)o->threads;
    mp.quant = o->quant;
    return qwenc_model_open_synthetic(o->synthetic, o->type, (uint64_t)o->seed, &mp, m, err, errlen);
}

static int bench(const bench_opts *o, qwenc_model *m, double load_s, char *err, size_t errlen) {
    qwenc_model_info in;
    qwenc_model_get_info(m, &in);
    long n_ctx = o->n_prompt > o->n_gen ? o->n_prompt : o->n_gen;
    qwenc_kv_pool *pool = NULL;
    qwenc_session *s[256] = {0};
    int32_t *ids = random_ids((int)n_ctx, in.vocab_size, (uint64_t)o->seed);
    int rc = ids ? qwenc_kv_pool_new(m, n_ctx * o->parallel, &pool, err, errlen) : QWENC_ENOMEM;
    if (!ids) snprintf(err, errlen, "out of memory");
    for (int k = 0; k < o->parallel && !rc; k++) rc = qwenc_session_new_in_pool(m, pool, (int)n_ctx, &s[k], err, errlen);
    results r = {.load_s = load_s};
    if (!rc) rc = measure(o, s, ids, &r, err, errlen);
    if (!rc) {
        /* one step reads the weights once for all the sequences */
        double gbps = (double)in.weight_bytes_per_token * r.decode.median / (double)o->parallel / 1e9;
        double mem_gbps = o->bandwidth ? membw_read_gbps((int)o->threads) : 0;
        if (o->json) print_json(o, &in, &r, gbps, mem_gbps);
        else print_table(o, &in, &r, gbps, mem_gbps);
    }
    for (int k = 0; k < o->parallel; k++) qwenc_session_free(s[k]);
    qwenc_kv_pool_free(pool);
    free(ids);
    return rc;
}

int cmd_bench(int argc, char **argv) {
    bench_opts o;
    int st = parse_opts(argc, argv, &o);
    if (st) return st < 0 ? 0 : st;
    char err[512] = "", path[PATH_MAX];
    if (o.model && (st = cli_resolve_model("bench", o.model, path, sizeof path))) return st;
    qwenc_model *m = NULL;
    double t0 = cli_now();
    int rc = open_model(&o, o.model ? path : NULL, &m, err, sizeof err);
    if (!rc) rc = bench(&o, m, cli_now() - t0, err, sizeof err);
    if (rc) fprintf(stderr, "qwenc bench: %s\n", err);
    qwenc_model_free(m);
    return cli_exit_code(rc);
}
