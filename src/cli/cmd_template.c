/* qwenc template -m DIR|FILE.gguf: renders the chat template of the
 * tokenizer (tokenizer_config.json, or GGUF metadata) for a
 * JSON request read from stdin and prints the prompt exactly (no newline
 * added). */
#include "cli/cli.h"
#include "qwenc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: qwenc template -m DIR|FILE.gguf < request.json\n\n"
            "Renders the chat template of the tokenizer in DIR (tokenizer_config.json), or of a\n"
            "GGUF file (tokenizer.chat_template), for the\n"
            "JSON request on stdin and prints the prompt exactly, without a trailing newline:\n"
            "  {\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}], \"tools\": [...],\n"
            "   \"add_generation_prompt\": true, \"enable_thinking\": false}\n"
            "Every other key of the request is passed to the template as a variable.\n\n"
            "options:\n"
            "  -m, --model DIR   model or tokenizer directory, or a .gguf file\n"
            "  -h, --help        show this help\n");
}

int cmd_template(int argc, char **argv) {
    static const struct option longopts[] = {
        {"model", required_argument, NULL, 'm'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *dir = NULL;
    optind = 1;
    int c;
    while ((c = cli_getopt("template", argc, argv, "m:h", longopts)) != -1) {
        if (c == 'h') { usage(stdout); return 0; }
        if (c == 'm') dir = optarg;
        else return CLI_EXIT_BADINPUT;
    }
    if (optind < argc) return cli_bad("template", "unexpected argument '%s' (see qwenc template --help)", argv[optind]);
    if (!dir) return cli_bad("template", "-m DIR is required (see qwenc template --help)");

    char *request;
    size_t len;
    if (cli_read_stdin("template", &request, &len)) return CLI_EXIT_BADINPUT;
    if (strlen(request) != len) {
        free(request);
        return cli_bad("template", "stdin contains a NUL byte");
    }
    char err[512];
    qwenc_tokenizer *t;
    int rc = qwenc_tokenizer_open(dir, &t, err, sizeof err);
    if (rc) {
        free(request);
        return cli_bad("template", "%s", err), cli_exit_code(rc);
    }
    char *prompt;
    rc = qwenc_chat_render(t, request, &prompt, err, sizeof err);
    qwenc_tokenizer_free(t);
    free(request);
    if (rc) return cli_bad("template", "%s", err), cli_exit_code(rc);
    fwrite(prompt, 1, strlen(prompt), stdout);
    free(prompt);
    return fflush(stdout) ? CLI_EXIT_FAIL : 0;
}
