/* qwenc convert: a model (Hugging Face directory or GGUF) to a GGUF file
 * that llama.cpp loads, with the weights as bf16, f16, f32, q8_0, q4_0,
 * q4_k, q6_k or llama.cpp's q4_k_m mix. */
#include "cli/cli.h"
#include "cli/progress.h"
#include "qwenc.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char convert_usage[] =
    "usage: qwenc convert (-m MODEL | --synthetic SHAPE) -o FILE.gguf [--type TYPE] [options]\n"
    "\n"
    "Writes MODEL as one GGUF file (weights, config and tokenizer with its chat\n"
    "template) that llama.cpp, Ollama and qwenc load. Vectors, norms and the MoE\n"
    "router stay f32, as llama.cpp's converter keeps them; q8_0, q4_0, q4_k and\n"
    "q6_k quantize every matrix, the embeddings included (llama-quantize --pure),\n"
    "q4_k_m is llama-quantize's Q4_K_M (Q4_K; Q6_K for the output and for attn_v\n"
    "and ffn_down in some layers). Rows that are not whole blocks fall back as in\n"
    "llama.cpp (q4_k to q5_0, q6_k to q8_0, else f16). Quantized bytes equal\n"
    "llama.cpp's reference quantizers'. The file appears only when complete.\n"
    "\n"
    "  -m, --model MODEL  model directory, .gguf file or name in the models directory\n"
    "      --synthetic SHAPE  instead of -m: a random-weight model of a real shape\n"
    "                     (see qwenc bench --help), built directly in TYPE, for\n"
    "                     benchmarks against llama.cpp on the same file\n"
    "      --tokenizer DIR    the tokenizer to write (a directory or .gguf); needed\n"
    "                     with --synthetic, replaces the model's own otherwise\n"
    "      --seed N       seed of the synthetic weights (default 1)\n"
    "  -o, --out FILE     the GGUF file to write (replaced if it exists)\n"
    "      --type TYPE    bf16 (default), f16, f32, q8_0, q4_0, q4_k, q6_k or q4_k_m\n"
    "  -t, --threads N    threads for quantizing (default 1)\n"
    "  -h, --help         show this help\n";

typedef struct {
    const char *model, *out, *type, *synthetic, *tokenizer;
    long threads, seed;
} convert_opts;

static int parse(int argc, char **argv, convert_opts *o) {
    enum { O_TYPE = 1000, O_SYNTH, O_TOK, O_SEED };
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},  {"out", required_argument, 0, 'o'},
                                         {"type", required_argument, 0, O_TYPE}, {"threads", required_argument, 0, 't'},
                                         {"synthetic", required_argument, 0, O_SYNTH},
                                         {"tokenizer", required_argument, 0, O_TOK},
                                         {"seed", required_argument, 0, O_SEED},
                                         {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    int c;
    while ((c = cli_getopt("convert", argc, argv, "m:o:t:h", opts)) != -1) {
        switch (c) {
        case 'm': o->model = optarg; break;
        case 'o': o->out = optarg; break;
        case O_TYPE: o->type = optarg; break;
        case O_SYNTH: o->synthetic = optarg; break;
        case O_TOK: o->tokenizer = optarg; break;
        case O_SEED: if (cli_parse_int("convert", "--seed", optarg, 0, LONG_MAX, &o->seed)) return CLI_EXIT_BADINPUT; break;
        case 't': if (cli_parse_int("convert", "--threads", optarg, 1, 1024, &o->threads)) return CLI_EXIT_BADINPUT; break;
        case 'h': fputs(convert_usage, stdout); return -1;
        default: return CLI_EXIT_BADINPUT;
        }
    }
    if (optind < argc) return cli_bad("convert", "unexpected argument '%s'", argv[optind]);
    if (!o->model == !o->synthetic) return cli_bad("convert", "give exactly one of -m MODEL and --synthetic SHAPE");
    if (o->synthetic && !o->tokenizer)
        return cli_bad("convert", "--synthetic needs --tokenizer DIR (a GGUF file carries its tokenizer)");
    if (!o->out) return cli_bad("convert", "no output file given (-o FILE.gguf)");
    static const char *types[] = {"bf16", "f16", "f32", "q8_0", "q4_0", "q4_k", "q6_k", "q4_k_m"};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(o->type, types[i])) return 0;
    return cli_bad("convert", "unknown --type '%s' (bf16, f16, f32, q8_0, q4_0, q4_k, q6_k, q4_k_m)", o->type);
}

/* The synthetic model's own type for an output type: the type itself when
 * the generator makes it, so the file holds exactly the synthetic weights (no
 * second rounding); f16 from f32, the k-quants from bf16 (as from a hub
 * checkpoint). */
static const char *synthetic_type(const char *type) {
    if (!strcmp(type, "f16")) return "f32";
    if (!strcmp(type, "q4_k") || !strcmp(type, "q6_k") || !strcmp(type, "q4_k_m")) return "bf16";
    return type;
}

/* The model to convert, from -m or --synthetic: a QWENC_E* code with err, or
 * *printed set to an exit status when the error is already on stderr. */
static int open_source(const convert_opts *o, qwenc_model **m, int *printed, char *err, size_t errlen) {
    qwenc_model_params mp;
    qwenc_model_params_init(&mp);
    mp.n_threads = (int)o->threads;
    mp.tokenizer = o->tokenizer;
    *printed = 0;
    if (o->synthetic) {
        return qwenc_model_open_synthetic(o->synthetic, synthetic_type(o->type), (uint64_t)o->seed, &mp, m, err,
                                          errlen);
    }
    char path[4096];
    if ((*printed = cli_resolve_model("convert", o->model, path, sizeof path))) return QWENC_EINVAL;
    return cli_open_model_params(path, &mp, m, err, errlen);
}

int cmd_convert(int argc, char **argv) {
    convert_opts o = {.type = "bf16", .threads = 1, .seed = 1};
    int st = parse(argc, argv, &o);
    if (st) return st < 0 ? 0 : st;
    char err[512];
    qwenc_model *m = NULL;
    int rc = open_source(&o, &m, &st, err, sizeof err);
    if (st) return st;
    if (!rc) {
        cli_progress bar;
        cli_progress_init(&bar, "converting");
        rc = qwenc_model_save_gguf(m, o.out, o.type, bar.enabled ? cli_progress_update : NULL, &bar, err, sizeof err);
        cli_progress_end(&bar);
    }
    qwenc_model_free(m);
    if (rc) {
        fprintf(stderr, "qwenc convert: %s\n", err);
        return cli_exit_code(rc);
    }
    struct stat sb;
    if (!stat(o.out, &sb)) fprintf(stderr, "wrote %s: %.1f MiB, %s\n", o.out, (double)sb.st_size / (1 << 20), o.type);
    return 0;
}
