/* TEMPORARY placeholder, replaced by the model work in this same change. */
#include "cli/cli.h"
int cmd_info(int argc, char **argv) { (void)argc; (void)argv; return cli_bad("info", "not built yet"); }
int cmd_logits(int argc, char **argv) { (void)argc; (void)argv; return cli_bad("logits", "not built yet"); }
int cmd_generate(int argc, char **argv) { (void)argc; (void)argv; return cli_bad("generate", "not built yet"); }
