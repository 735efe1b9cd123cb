/* The qwenc command line: one binary, one function per subcommand.
 * Subcommands use only the public API (qwenc.h). Exit codes: 0 success,
 * 1 runtime failure, 2 bad input (options, files, ids). */
#ifndef QW_CLI_H
#define QW_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

#define CLI_EXIT_FAIL 1
#define CLI_EXIT_BADINPUT 2

int cmd_info(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_detokenize(int argc, char **argv);
int cmd_template(int argc, char **argv);

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

/* Reads all of stdin into a malloc'd NUL-terminated buffer. */
int cli_read_stdin(const char *cmd, char **data, size_t *len);

#endif
