/* qwenc info: what a model is and what it will cost to run. */
#include "cli/cli.h"
#include "cli/progress.h"
#include "qwenc.h"

#include <stdio.h>
#include <string.h>

static const char info_usage[] =
    "usage: qwenc info -m MODEL [options]\n"
    "\n"
    "Shows the architecture, parameter counts, dtypes, tensor shapes and the\n"
    "memory a session will use.\n"
    "\n"
    "  -m, --model DIR    model directory (config.json + safetensors)\n"
    "  -c, --ctx N        context length to size the KV cache for (default 4096)\n"
    "      --tensors      list every tensor with its dtype and shape\n"
    "      --check        read every weight and count the NaN and infinite ones;\n"
    "                     exit status 2 when there are any\n"
    "      --quant TYPE   as loaded quantized to " CLI_QUANT_TYPES "\n"
    "                     (as qwenc convert --type writes them)\n"
    "  -t, --threads N    threads for --quant (default 1)\n"
    "  -h, --help         show this help\n";

static void print_tensor(void *ctx, const char *name, const char *dtype, int rank, const int64_t *shape) {
    (void)ctx;
    printf("  %-56s %-5s [", name, dtype);
    for (int i = 0; i < rank; i++) printf("%s%lld", i ? ", " : "", (long long)shape[i]);
    printf("]\n");
}

static void print_size(const char *label, double bytes) {
    const char *unit = "B";
    static const char *units[] = {"KiB", "MiB", "GiB", "TiB"};
    for (int i = 0; i < 4 && bytes >= 1024; i++) bytes /= 1024, unit = units[i];
    printf("%-22s %.2f %s\n", label, bytes, unit);
}

/* --check: the result on stdout; NaN or infinite weights are bad input. */
static int check_weights(qwenc_model *m, const char *dir) {
    int64_t bad = 0;
    char first[256];
    int rc = qwenc_model_check_weights(m, &bad, first, sizeof first);
    if (rc) {
        fprintf(stderr, "qwenc info: %s: the weight check failed (out of memory)\n", dir);
        return cli_exit_code(rc);
    }
    if (!bad) {
        printf("%-22s all finite\n", "weights check");
        return 0;
    }
    printf("%-22s %lld NaN or infinite, the first in '%s'\n", "weights check", (long long)bad, first);
    fprintf(stderr, "qwenc info: %s: %lld weights are NaN or infinite (the first in '%s')\n", dir, (long long)bad,
            first);
    return CLI_EXIT_BADINPUT;
}

int cmd_info(int argc, char **argv) {
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                         {"ctx", required_argument, 0, 'c'},
                                         {"tensors", no_argument, 0, 'T'},
                                         {"check", no_argument, 0, 'C'},
                                         {"threads", required_argument, 0, 't'},
                                         {"help", no_argument, 0, 'h'},
                                         CLI_QUANT_LONGOPT,
                                         {0, 0, 0, 0}};
    const char *dir = NULL, *quant = NULL;
    long ctx = 0, threads = 1;
    int tensors = 0, check = 0, c;
    while ((c = cli_getopt("info", argc, argv, "m:c:t:h", opts)) != -1) {
        switch (c) {
        case 'm': dir = optarg; break;
        case 'c': if (cli_parse_int("info", "--ctx", optarg, 1, 1 << 24, &ctx)) return CLI_EXIT_BADINPUT; break;
        case 'T': tensors = 1; break;
        case 'C': check = 1; break;
        case 't': if (cli_parse_int("info", "--threads", optarg, 1, 1024, &threads)) return CLI_EXIT_BADINPUT; break;
        case CLI_O_QUANT: quant = optarg; break;
        case 'h': fputs(info_usage, stdout); return 0;
        default: return CLI_EXIT_BADINPUT;
        }
    }
    if (optind < argc) return cli_bad("info", "unexpected argument '%s'", argv[optind]);
    if (!dir) return cli_bad("info", "no model given (-m DIR)");
    char err[512];
    qwenc_model_params mp;
    qwenc_model_params_init(&mp);
    mp.n_threads = (int)threads;
    mp.quant = quant;
    qwenc_model *m;
    /* a bar while quantizing; without --quant nothing is read, so no bar */
    int rc = quant ? cli_open_model_params(dir, &mp, &m, err, sizeof err)
                   : qwenc_model_open(dir, &mp, &m, err, sizeof err);
    if (rc) {
        fprintf(stderr, "qwenc info: %s\n", err);
        return cli_exit_code(rc);
    }
    qwenc_model_info in;
    qwenc_model_get_info(m, &in);
    if (ctx <= 0) ctx = in.max_position_embeddings < 4096 ? in.max_position_embeddings : 4096;
    printf("%-22s %s\n", "architecture", in.arch);
    printf("%-22s %lld (%.2fM)\n", "parameters", (long long)in.n_params, in.n_params / 1e6);
    if (in.n_experts)
        printf("%-22s %lld (%.2fM) per token\n", "active parameters", (long long)in.n_params_active,
               in.n_params_active / 1e6);
    printf("%-22s %s\n", "weight dtype", in.weight_dtype);
    printf("%-22s %d\n", "tensors", in.n_tensors);
    printf("%-22s %d (hidden %d, intermediate %d)\n", "layers", in.n_layers, in.hidden_size,
           in.intermediate_size);
    printf("%-22s %d query, %d key/value, head_dim %d\n", "attention heads", in.n_heads, in.n_kv_heads,
           in.head_dim);
    if (in.n_experts)
        printf("%-22s %d, %d per token, intermediate %d\n", "experts", in.n_experts, in.n_experts_per_tok,
               in.moe_intermediate_size);
    printf("%-22s %d%s\n", "vocabulary", in.vocab_size, in.tied_embeddings ? " (lm_head tied to embeddings)" : "");
    printf("%-22s %d (rope_theta %g)\n", "max positions", in.max_position_embeddings, in.rope_theta);
    print_size(quant ? "weights (quantized)" : "weights (mapped)", (double)in.weight_bytes);
    char label[64];
    snprintf(label, sizeof label, "KV cache (ctx %ld)", ctx);
    print_size(label, (double)qwenc_model_kv_bytes(m, (int)ctx));
    print_size("total", (double)in.weight_bytes + (double)qwenc_model_kv_bytes(m, (int)ctx));
    if (tensors) {
        printf("tensors:\n");
        qwenc_model_foreach_tensor(m, print_tensor, NULL);
    }
    int st = check ? check_weights(m, dir) : 0;
    qwenc_model_free(m);
    return st;
}
