/* TEMPORARY placeholder, replaced by the tokenizer work in this same change. */
#include "cli/cli.h"
int cmd_tokenize(int argc, char **argv) { (void)argc; (void)argv; return cli_bad("tokenize", "not built yet"); }
int cmd_detokenize(int argc, char **argv) { (void)argc; (void)argv; return cli_bad("detokenize", "not built yet"); }
