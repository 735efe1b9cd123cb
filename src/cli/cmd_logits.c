/* qwenc logits: float32 logits of every position, for comparison with a
 * reference implementation. */
#include "cli/cli.h"
#include "qwenc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char logits_usage[] =
    "usage: qwenc logits -m MODEL --ids 12,345,678 --out FILE [options]\n"
    "\n"
    "Evaluates the ids in one batch and writes float32 little-endian logits,\n"
    "shape [n_ids][vocab_size], to FILE. Prints nothing on stdout.\n"
    "\n"
    "  -m, --model DIR    model directory\n"
    "      --ids LIST     comma-separated token ids\n"
    "  -o, --out FILE     output file\n"
    "  -t, --threads N    compute threads (default 1)\n"
    "  -c, --ctx N        context length (default min(4096, max_position_embeddings))\n"
    "      --quant TYPE   quantize the weights at load to " CLI_QUANT_TYPES "\n"
    "                     (as qwenc convert --type writes them)\n"
    "  -h, --help         show this help\n";

int cmd_logits(int argc, char **argv) {
    static const struct option opts[] = {{"model", required_argument, 0, 'm'}, {"ids", required_argument, 0, 'I'},
                                         {"out", required_argument, 0, 'o'},   {"threads", required_argument, 0, 't'},
                                         {"ctx", required_argument, 0, 'c'},   {"help", no_argument, 0, 'h'},
                                         CLI_QUANT_LONGOPT,                    {0, 0, 0, 0}};
    const char *dir = NULL, *out = NULL, *ids_arg = NULL, *quant = NULL;
    long threads = 1, ctx = 0;
    int c;
    while ((c = cli_getopt("logits", argc, argv, "m:o:t:c:h", opts)) != -1) {
        switch (c) {
        case 'm': dir = optarg; break;
        case 'I': ids_arg = optarg; break;
        case 'o': out = optarg; break;
        case 't': if (cli_parse_int("logits", "--threads", optarg, 1, 1024, &threads)) return CLI_EXIT_BADINPUT; break;
        case 'c': if (cli_parse_int("logits", "--ctx", optarg, 1, 1 << 24, &ctx)) return CLI_EXIT_BADINPUT; break;
        case CLI_O_QUANT: quant = optarg; break;
        case 'h': fputs(logits_usage, stdout); return 0;
        default: return CLI_EXIT_BADINPUT;
        }
    }
    if (optind < argc) return cli_bad("logits", "unexpected argument '%s'", argv[optind]);
    if (!dir) return cli_bad("logits", "no model given (-m DIR)");
    if (!ids_arg) return cli_bad("logits", "no token ids given (--ids 12,345,678)");
    if (!out) return cli_bad("logits", "no output file given (--out FILE)");
    int32_t *ids;
    int n;
    if (cli_parse_ids("logits", ids_arg, &ids, &n)) return CLI_EXIT_BADINPUT;

    char err[512];
    qwenc_model_params mp;
    qwenc_model_params_init(&mp);
    mp.n_threads = (int)threads;
    mp.quant = quant;
    qwenc_model *m = NULL;
    qwenc_session *s = NULL;
    float *logits = NULL;
    int rc = qwenc_model_open(dir, &mp, &m, err, sizeof err);
    if (!rc) rc = qwenc_session_new(m, (int)ctx, &s, err, sizeof err);
    qwenc_model_info in = {0};
    if (!rc) {
        qwenc_model_get_info(m, &in);
        logits = malloc((size_t)n * (size_t)in.vocab_size * sizeof *logits);
        if (!logits) rc = QWENC_ENOMEM, snprintf(err, sizeof err, "out of memory");
    }
    if (!rc) rc = qwenc_session_eval(s, ids, n, logits, err, sizeof err);
    int status = 0;
    if (rc) {
        fprintf(stderr, "qwenc logits: %s\n", err);
        status = cli_exit_code(rc);
    } else {
        FILE *f = fopen(out, "wb");
        size_t count = (size_t)n * (size_t)in.vocab_size;
        int ok = f && fwrite(logits, sizeof *logits, count, f) == count;
        if (f && fclose(f) != 0) ok = 0;
        if (!ok) {
            fprintf(stderr, "qwenc logits: %s: %s\n", out, strerror(errno));
            status = CLI_EXIT_FAIL;
        }
    }
    free(logits);
    free(ids);
    qwenc_session_free(s);
    qwenc_model_free(m);
    return status;
}
