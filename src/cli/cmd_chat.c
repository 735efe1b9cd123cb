/* TEMPORARY placeholder, replaced by the chat work in this same change. */
#include "cli/cli.h"
int cmd_chat(int argc, char **argv) { (void)argc; (void)argv; return cli_bad("chat", "not built yet"); }
