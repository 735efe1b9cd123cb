/* qwenc: dispatch to subcommands. */
#include "cli/cli.h"
#include "qwenc.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} commands[] = {
    {"run", cmd_run, "answer one prompt with a model, streaming the reply"},
    {"chat", cmd_chat, "talk with a model, turn after turn"},
    {"serve", cmd_serve, "serve a model over the OpenAI API (chat, tools, streaming)"},
    {"list", cmd_list, "list the models in the models directory"},
    {"info", cmd_info, "show a model's architecture, parameters, tensors and memory"},
    {"generate", cmd_generate, "generate tokens from token ids or text"},
    {"bench", cmd_bench, "measure prefill and decode speed, as llama-bench does"},
    {"logits", cmd_logits, "write the logits of every position to a file"},
    {"tokenize", cmd_tokenize, "text on stdin -> token ids (JSON array)"},
    {"detokenize", cmd_detokenize, "JSON array of ids on stdin -> text"},
    {"template", cmd_template, "render the chat template for a JSON request on stdin"},
    {"convert", cmd_convert, "write a model as a GGUF file (bf16, f16, f32, q8_0, q4_0) for llama.cpp"},
};

static void usage(FILE *f) {
    fprintf(f, "qwenc %s: inference for Qwen models\n\nusage: qwenc <command> [options]\n\ncommands:\n",
            qwenc_version());
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-11s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'qwenc <command> --help' describes each command's options.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_BADINPUT;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("qwenc %s\n", qwenc_version());
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "qwenc: unknown command '%s' (see qwenc --help)\n", argv[1]);
    return CLI_EXIT_BADINPUT;
}
