/* Where models come from: a path, a name in the models directory, or the
 * bundled demo model; and `qwenc list`. */
#include "cli/cli.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* $QWENC_MODELS, else ~/.cache/qwenc/models. */
static void models_dir(char *out, size_t n) {
    const char *env = getenv("QWENC_MODELS"), *home = getenv("HOME");
    if (env && *env) snprintf(out, n, "%s", env);
    else snprintf(out, n, "%s/.cache/qwenc/models", home && *home ? home : ".");
}

/* The bundled demo model: beside the binary in a build tree (build/../models)
 * or in an installed tree (bin/../share/qwenc/models). */
static int find_demo(char *out, size_t n) {
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
        const char *rel[] = {"../models/qwenc-demo", "../share/qwenc/models/qwenc-demo"};
        for (int i = 0; i < 2; i++) {
            char p[PATH_MAX + 64], real[PATH_MAX];
            snprintf(p, sizeof p, "%s/%s", exe, rel[i]);
            if (is_dir(p) && realpath(p, real)) return snprintf(out, n, "%s", real), 0;
        }
    }
#ifdef QWENC_SOURCE_DIR
    snprintf(out, n, "%s/models/qwenc-demo", QWENC_SOURCE_DIR);
    if (is_dir(out)) return 0;
#endif
    return -1;
}

int cli_resolve_model(const char *cmd, const char *arg, char *out, size_t outlen) {
    if (!arg) {
        if (find_demo(out, outlen) == 0) return 0;
        return cli_bad(cmd, "no model given and the bundled demo model is not installed (give -m MODEL)");
    }
    if (is_dir(arg)) return snprintf(out, outlen, "%s", arg), 0;
    if (is_file(arg)) {
        if (ends_with(arg, ".gguf")) return snprintf(out, outlen, "%s", arg), 0;
        return cli_bad(cmd, "%s: not a model directory or a .gguf file", arg);
    }
    struct stat st;
    if (stat(arg, &st) == 0)  /* a FIFO, a socket, a device: never opened, so never waited on */
        return cli_bad(cmd, "%s: not a model directory or a .gguf file (not a regular file)", arg);
    if (errno != ENOENT && errno != ENOTDIR)  /* a symlink loop, no permission */
        return cli_bad(cmd, "%s: %s", arg, strerror(errno));
    char dir[PATH_MAX];
    models_dir(dir, sizeof dir);
    if (!strchr(arg, '/')) {
        snprintf(out, outlen, "%s/%s", dir, arg);
        if (is_dir(out)) return 0;
        snprintf(out, outlen, "%s/%s.gguf", dir, arg);
        if (is_file(out)) return 0;
    }
    return cli_bad(cmd, "model '%s' not found: no such directory, and no model of that name in %s (see qwenc list)",
                   arg, dir);
}

static long long dir_bytes(const char *path) {
    struct stat fst;
    if (stat(path, &fst) == 0 && S_ISREG(fst.st_mode)) return fst.st_size;  /* a .gguf file */
    DIR *d = opendir(path);
    if (!d) return 0;
    long long total = 0;
    struct dirent *e;
    char p[PATH_MAX];
    while ((e = readdir(d))) {
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        if (e->d_name[0] != '.' && stat(p, &st) == 0 && S_ISREG(st.st_mode)) total += st.st_size;
    }
    closedir(d);
    return total;
}

static void list_one(const char *name, const char *path, const char *note) {
    char size[32], err[512];
    double mb = (double)dir_bytes(path) / (1024.0 * 1024.0);
    if (mb >= 1024) snprintf(size, sizeof size, "%.1f GiB", mb / 1024);
    else snprintf(size, sizeof size, "%.1f MiB", mb);
    qwenc_model *m;
    if (qwenc_model_open(path, NULL, &m, err, sizeof err)) {
        printf("%-28s %10s  %-10s %-6s %10s  (unreadable: %s)%s\n", name, size, "?", "?", "?", err, note);
        return;
    }
    qwenc_model_info in;
    qwenc_model_get_info(m, &in);
    char params[32];
    if (in.n_params >= 1000000000) snprintf(params, sizeof params, "%.1fB", in.n_params / 1e9);
    else snprintf(params, sizeof params, "%.1fM", in.n_params / 1e6);
    printf("%-28s %10s  %-10s %-6s %10s%s\n", name, size, in.arch, in.weight_dtype, params, note);
    qwenc_model_free(m);
}

static const char list_usage_text[] =
    "usage: qwenc list\n"
    "\n"
    "Lists the models in the models directory ($QWENC_MODELS, default\n"
    "~/.cache/qwenc/models) with size, architecture, weight type and\n"
    "parameters, and the bundled demo model. A model there is a directory in\n"
    "Hugging Face layout or a .gguf file; its name (without .gguf) is the name\n"
    "to give to run and chat.\n";

int cmd_list(int argc, char **argv) {
    static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    while ((c = cli_getopt("list", argc, argv, "h", opts)) != -1) {
        if (c == 'h') return fputs(list_usage_text, stdout), 0;
        return CLI_EXIT_BADINPUT;
    }
    if (optind < argc) return cli_bad("list", "unexpected argument '%s'", argv[optind]);
    char dir[PATH_MAX], path[PATH_MAX + 264];
    models_dir(dir, sizeof dir);
    printf("%-28s %10s  %-10s %-6s %10s\n", "NAME", "SIZE", "ARCH", "TYPE", "PARAMS");
    if (find_demo(path, sizeof path) == 0) list_one("qwenc-demo", path, "  (bundled; the default)");
    DIR *d = opendir(dir);
    if (!d) {
        if (errno != ENOENT) return fprintf(stderr, "qwenc list: %s: %s\n", dir, strerror(errno)), CLI_EXIT_FAIL;
        return 0;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (is_dir(path)) {
            list_one(e->d_name, path, "");
        } else if (ends_with(e->d_name, ".gguf")) {
            e->d_name[strlen(e->d_name) - 5] = 0;  /* the name to run it by */
            list_one(e->d_name, path, "");
        }
    }
    closedir(d);
    return 0;
}
