/* The qwenc command line: one binary, one function per subcommand.
 * Subcommands use only the public API (qwenc.h). Exit codes: 0 success,
 * 1 runtime failure, 2 bad input (options, files, ids). */
#ifndef QW_CLI_H
#define QW_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

#include "qwenc.h"

#define CLI_EXIT_FAIL 1
#define CLI_EXIT_BADINPUT 2

int cmd_run(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_detokenize(int argc, char **argv);
int cmd_template(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_bench(int argc, char **argv);

/* Prints "qwenc <cmd>: message" on stderr and returns CLI_EXIT_BADINPUT. */
int cli_bad(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Maps a QWENC_E* code to the exit status (bad input -> 2, others -> 1). */
int cli_exit_code(int rc);

/* getopt_long with our own messages: returns the option char, -1 at the end,
 * or '?' after printing "qwenc <cmd>: unknown option ..." (caller exits 2). */
int cli_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
               const struct option *longopts);

/* Parses "12,345,678" into a malloc'd array. Returns 0 or prints an error. */
int cli_parse_ids(const char *cmd, const char *s, int32_t **ids, int *n);

int cli_parse_int(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out);
int cli_parse_float(const char *cmd, const char *opt, const char *s, double *out);

/* --quant TYPE, the same on every subcommand that opens a model: the
 * weights quantized at load (qwenc_model_params.quant). */
enum { CLI_O_QUANT = 950 };
#define CLI_QUANT_LONGOPT {"quant", required_argument, 0, CLI_O_QUANT}
#define CLI_QUANT_TYPES "f32, f16, bf16, q8_0, q4_0, q4_k, q6_k or q4_k_m"

/* Sampling options, the same on every subcommand that generates. */
enum {
    CLI_O_GREEDY = 900, CLI_O_TEMP, CLI_O_TOPK, CLI_O_TOPP, CLI_O_MINP, CLI_O_SEED,
    CLI_O_REPEAT, CLI_O_PRESENCE, CLI_O_FREQUENCY
};
#define CLI_SAMPLING_LONGOPTS                                                                  \
    {"greedy", no_argument, 0, CLI_O_GREEDY}, {"temp", required_argument, 0, CLI_O_TEMP},      \
    {"top-k", required_argument, 0, CLI_O_TOPK}, {"top-p", required_argument, 0, CLI_O_TOPP}, \
    {"min-p", required_argument, 0, CLI_O_MINP}, {"seed", required_argument, 0, CLI_O_SEED},   \
    {"repeat-penalty", required_argument, 0, CLI_O_REPEAT},                                    \
    {"presence-penalty", required_argument, 0, CLI_O_PRESENCE},                                \
    {"frequency-penalty", required_argument, 0, CLI_O_FREQUENCY}
#define CLI_SAMPLING_HELP                                                                     \
    "      --greedy        always take the most likely token\n"                                \
    "      --temp X        temperature (default from generation_config.json)\n"                \
    "      --top-k N       top-k (0 = off; default from generation_config.json)\n"             \
    "      --top-p X       top-p (1 = off; default from generation_config.json)\n"             \
    "      --min-p X       min-p (0 = off)\n"                                                  \
    "      --repeat-penalty X  > 1 discourages tokens of the prompt and the answer: positive\n" \
    "                      logits divided by X, negative ones multiplied (1 = off; default\n"   \
    "                      from generation_config.json)\n"                                     \
    "      --presence-penalty X  subtracted from the logit of every token already generated,\n" \
    "                      in [-2, 2] (0 = off)\n"                                            \
    "      --frequency-penalty X  subtracted once per time a token was generated, in [-2, 2]\n" \
    "                      (0 = off)\n"                                                        \
    "      --seed N        random seed (default 0)\n"

typedef struct {
    int greedy, have_temp, have_top_k, have_top_p, have_min_p, have_repeat;
    double temp, top_p, min_p, repeat, presence, frequency;
    long top_k, seed;
} cli_sampling;

/* Takes option c if it is a sampling option: returns 1 when taken, 0 when
 * not one, -1 after printing an error for a bad value. */
int cli_sampling_option(const char *cmd, int c, const char *arg, cli_sampling *s);

/* A sampler from the options over the model's generation_config.json
 * defaults (greedy when that says do_sample false and no --temp is given). */
int cli_sampler_new(qwenc_model *m, const cli_sampling *s, qwenc_sampler **out, char *err, size_t errlen);

/* MODEL as given on the command line -> a path: a directory (HF layout),
 * a .gguf file, or a name in the models directory ($QWENC_MODELS, default
 * ~/.cache/qwenc/models); NULL means the bundled demo model. Prints the
 * error and returns CLI_EXIT_BADINPUT when nothing matches. */
int cli_resolve_model(const char *cmd, const char *arg, char *out, size_t outlen);

/* Reads all of stdin into a malloc'd NUL-terminated buffer. */
int cli_read_stdin(const char *cmd, char **data, size_t *len);

#endif
