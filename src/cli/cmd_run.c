/* TEMPORARY placeholder, replaced by the run work in this same change. */
#include "cli/cli.h"
int cmd_run(int argc, char **argv) { (void)argc; (void)argv; return cli_bad("run", "not built yet"); }
int cmd_list(int argc, char **argv) { (void)argc; (void)argv; return cli_bad("list", "not built yet"); }
int cli_resolve_model(const char *cmd, const char *arg, char *out, size_t outlen) { (void)arg; (void)out; (void)outlen; return cli_bad(cmd, "not built yet"); }
