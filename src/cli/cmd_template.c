/* TEMPORARY placeholder, replaced by the template work in this same change. */
#include "cli/cli.h"
int cmd_template(int argc, char **argv) { (void)argc; (void)argv; return cli_bad("template", "not built yet"); }
