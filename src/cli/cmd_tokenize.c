/* qwenc tokenize / detokenize: text <-> token ids with a model directory's
 * tokenizer (tokenizer.json) or a GGUF file's; weights are never loaded. */
#include "cli/cli.h"
#include "qwenc.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void tokenize_usage(FILE *f) {
    fprintf(f,
            "usage: qwenc tokenize -m DIR|FILE.gguf\n\n"
            "Reads UTF-8 text on stdin and prints its token ids as a JSON array.\n\n"
            "  -m, --model DIR   directory with tokenizer.json (+ tokenizer_config.json),\n"
            "                    or a .gguf file with the tokenizer in its metadata\n"
            "  -h, --help        show this help\n");
}

static void detokenize_usage(FILE *f) {
    fprintf(f,
            "usage: qwenc detokenize -m DIR|FILE.gguf [--skip-special]\n\n"
            "Reads a JSON array of token ids on stdin and prints the text (no newline added).\n\n"
            "  -m, --model DIR    directory with tokenizer.json (+ tokenizer_config.json),\n"
            "                     or a .gguf file with the tokenizer in its metadata\n"
            "      --skip-special leave out special tokens\n"
            "  -h, --help         show this help\n");
}

typedef struct {
    const char *model;
    int skip_special;
    int help;
} tok_opts;

/* Returns 0, or the exit status when the command should stop now. */
static int parse_opts(const char *cmd, int argc, char **argv, int allow_skip, tok_opts *o) {
    static const struct option longopts[] = {
        {"model", required_argument, NULL, 'm'},
        {"skip-special", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    optind = 1;
    int c;
    while ((c = cli_getopt(cmd, argc, argv, "m:h", longopts)) != -1) {
        switch (c) {
        case 'm': o->model = optarg; break;
        case 'h': o->help = 1; return 0;
        case 's':
            if (!allow_skip) return cli_bad(cmd, "unknown option '--skip-special' (see qwenc %s --help)", cmd);
            o->skip_special = 1;
            break;
        default: return CLI_EXIT_BADINPUT;
        }
    }
    if (optind < argc) return cli_bad(cmd, "unexpected argument '%s' (see qwenc %s --help)", argv[optind], cmd);
    if (!o->model) return cli_bad(cmd, "missing -m DIR (see qwenc %s --help)", cmd);
    return 0;
}

static int open_tokenizer(const char *cmd, const char *dir, qwenc_tokenizer **t) {
    char err[512];
    int rc = qwenc_tokenizer_open(dir, t, err, sizeof err);
    if (rc) {
        fprintf(stderr, "qwenc %s: %s\n", cmd, err);
        return cli_exit_code(rc);
    }
    return 0;
}

static void print_ids(const int32_t *ids, size_t n) {
    putchar('[');
    for (size_t i = 0; i < n; i++) printf(i ? ", %d" : "%d", ids[i]);
    puts("]");
}

int cmd_tokenize(int argc, char **argv) {
    tok_opts o;
    int rc = parse_opts("tokenize", argc, argv, 0, &o);
    if (rc || o.help) {
        if (o.help) tokenize_usage(stdout);
        return rc;
    }
    qwenc_tokenizer *t;
    if ((rc = open_tokenizer("tokenize", o.model, &t))) return rc;
    char *text;
    size_t len;
    if ((rc = cli_read_stdin("tokenize", &text, &len))) {
        qwenc_tokenizer_free(t);
        return rc;
    }
    int32_t *ids;
    size_t n;
    char err[512];
    int trc = qwenc_tokenize(t, text, len, &ids, &n, err, sizeof err);
    if (trc) {
        fprintf(stderr, "qwenc tokenize: %s\n", err);
        rc = cli_exit_code(trc);
    } else {
        print_ids(ids, n);
        free(ids);
    }
    free(text);
    qwenc_tokenizer_free(t);
    return rc;
}

/* Parses stdin's JSON array of ids; prints an error and returns the exit
 * status on failure. */
static int parse_id_array(const char *text, size_t len, int32_t **ids, size_t *n) {
    json_error_t je;
    json_t *arr = json_loadb(text, len, 0, &je);
    if (!arr) return cli_bad("detokenize", "stdin:%d:%d: invalid JSON: %s", je.line, je.column, je.text);
    if (!json_is_array(arr)) {
        json_decref(arr);
        return cli_bad("detokenize", "stdin: expected a JSON array of token ids");
    }
    size_t count = json_array_size(arr);
    int32_t *v = malloc((count ? count : 1) * sizeof *v);
    if (!v) {
        json_decref(arr);
        return cli_bad("detokenize", "out of memory");
    }
    for (size_t i = 0; i < count; i++) {
        json_t *x = json_array_get(arr, i);
        if (!json_is_integer(x) || json_integer_value(x) < INT32_MIN || json_integer_value(x) > INT32_MAX) {
            free(v);
            json_decref(arr);
            return cli_bad("detokenize", "stdin: element %zu is not a token id", i);
        }
        v[i] = (int32_t)json_integer_value(x);
    }
    json_decref(arr);
    *ids = v;
    *n = count;
    return 0;
}

int cmd_detokenize(int argc, char **argv) {
    tok_opts o;
    int rc = parse_opts("detokenize", argc, argv, 1, &o);
    if (rc || o.help) {
        if (o.help) detokenize_usage(stdout);
        return rc;
    }
    char *input;
    size_t len;
    if ((rc = cli_read_stdin("detokenize", &input, &len))) return rc;
    int32_t *ids = NULL;
    size_t n = 0;
    rc = parse_id_array(input, len, &ids, &n);
    free(input);
    if (rc) return rc;
    qwenc_tokenizer *t;
    if ((rc = open_tokenizer("detokenize", o.model, &t))) {
        free(ids);
        return rc;
    }
    char *text, err[512];
    size_t text_len;
    int drc = qwenc_detokenize(t, ids, n, o.skip_special, &text, &text_len, err, sizeof err);
    if (drc) {
        fprintf(stderr, "qwenc detokenize: %s\n", err);
        rc = cli_exit_code(drc);
    } else {
        fwrite(text, 1, text_len, stdout);
        free(text);
    }
    free(ids);
    qwenc_tokenizer_free(t);
    return rc;
}
