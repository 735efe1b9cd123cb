/* TEMPORARY placeholder, replaced by the chat work in this same change. */
#include "cli/cli.h"
#include <stdio.h>
#include <string.h>
int cmd_chat(int argc, char **argv) { if (argc > 1 && !strcmp(argv[1], "--help")) return puts("usage: qwenc chat"), 0; return cli_bad("chat", "not built yet"); }
