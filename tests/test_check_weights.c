/* qwenc_model_check_weights: NaN and infinity found in every weight type
 * (f32, f16, bf16 values, the f16 scales of q8_0 and q4_0 blocks), counted
 * as dequantized weights, the first bad tensor named, the same count on 1
 * and 2 threads; a clean model reports nothing. The files are GGUF copies of
 * a synthetic model with a few bytes overwritten. Then the CLI: a model
 * loaded on a terminal (with the progress bar) warns in one line and still
 * answers; on a pipe it says nothing. */
#include "qwenc.h"
#include "check.h"
#include "format/gguf.h"

#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char tmp[256];

/* Overwrites n bytes at the start of GGUF tensor `name`'s data (+ skip). */
static void poke_tensor(const char *path, const char *name, size_t skip, const void *bytes, size_t n) {
    qw_gguf g;
    char err[512];
    int rc = qw_gguf_open(path, &g, err, sizeof err);
    CHECK(rc == 0, "%s: %s", path, err);
    if (rc) return;
    const qw_gguf_tensor *t = qw_gguf_tensor_find(&g, name);
    CHECK(t != NULL, "%s: no tensor %s", path, name);
    long at = t ? (long)((const unsigned char *)t->data - g.file.data + skip) : 0;
    qw_gguf_close(&g);
    if (!t) return;
    FILE *f = fopen(path, "r+b");
    CHECK(f && fseek(f, at, SEEK_SET) == 0 && fwrite(bytes, 1, n, f) == n, "poke %s", path);
    if (f) fclose(f);
}

static void expect_count(const char *path, int threads, int64_t want, const char *want_first, const char *what) {
    qwenc_model *m = check_open_model(path, threads);
    if (!m) return;
    int64_t n = -1;
    char first[256] = "x";
    int rc = qwenc_model_check_weights(m, &n, first, sizeof first);
    CHECK(rc == 0 && n == want && !strcmp(first, want_first), "%s (%d threads): rc %d, %lld non-finite (want %lld), "
          "first '%s' (want '%s')", what, threads, rc, (long long)n, (long long)want, first, want_first);
    qwenc_model_free(m);
}

/* One file per weight type: the first weight of layer 0's down projection
 * made non-finite (a whole block for q8_0/q4_0, through its scale). */
static void test_types(qwenc_model *base) {
    static const struct {
        const char *type;
        unsigned char bytes[4];
        size_t n;
        int64_t count;
    } cases[] = {
        {"f32", {0x00, 0x00, 0xc0, 0x7f}, 4, 1},   /* NaN */
        {"f16", {0x00, 0x7c}, 2, 1},               /* +inf */
        {"bf16", {0x80, 0xff}, 2, 1},              /* -inf */
        {"q8_0", {0x01, 0x7e}, 2, 32},             /* NaN scale: 32 weights */
        {"q4_0", {0x00, 0xfc}, 2, 32},             /* -inf scale */
    };
    char err[512], path[600];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(path, sizeof path, "%s/w-%s.gguf", tmp, cases[i].type);
        int rc = qwenc_model_save_gguf(base, path, cases[i].type, NULL, NULL, err, sizeof err);
        CHECK(rc == 0, "save %s: %s", cases[i].type, err);
        if (rc) continue;
        char what[64];
        snprintf(what, sizeof what, "clean %s", cases[i].type);
        expect_count(path, 2, 0, "", what);
        poke_tensor(path, "blk.0.ffn_down.weight", 0, cases[i].bytes, cases[i].n);
        snprintf(what, sizeof what, "%s", cases[i].type);
        for (int threads = 1; threads <= 2; threads++)
            expect_count(path, threads, cases[i].count, "model.layers.0.mlp.down_proj.weight", what);
        /* the norms are f32 whatever the type: two more, in a tensor named later */
        static const unsigned char two[8] = {0x00, 0x00, 0x80, 0x7f, 0x01, 0x00, 0x80, 0xff};  /* +inf, NaN */
        poke_tensor(path, "output_norm.weight", 4, two, 8);
        snprintf(what, sizeof what, "%s + norm", cases[i].type);
        expect_count(path, 2, cases[i].count + 2, "model.layers.0.mlp.down_proj.weight", what);
    }
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Runs argv on a pseudo-terminal (stdout and stderr both there) until it
 * exits; returns its exit status and what it wrote in out. */
static int run_on_tty(char *const argv[], char *out, size_t outlen) {
    int fd;
    struct winsize ws = {.ws_row = 50, .ws_col = 200};
    pid_t pid = forkpty(&fd, NULL, NULL, &ws);
    if (pid < 0) return -1;
    if (pid == 0) {
        execv(argv[0], argv);
        _exit(127);
    }
    size_t len = 0;
    int status = -1;
    double end = now() + 60;
    while (now() < end) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) > 0) {
            ssize_t n = read(fd, out + len, outlen - 1 - len);
            if (n > 0) len += (size_t)n;
        }
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
            pid = 0;
            break;
        }
    }
    for (;;) {  /* what is still buffered in the pty */
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t n = poll(&p, 1, 50) > 0 ? read(fd, out + len, outlen - 1 - len) : 0;
        if (n <= 0) break;
        len += (size_t)n;
    }
    out[len] = 0;
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    close(fd);
    return status;
}

static void test_cli_warning(void) {
    const char *bin = check_env("QWENC_BIN");
    char path[600], out[1 << 16];
    snprintf(path, sizeof path, "%s/w-bf16.gguf", tmp);  /* 3 non-finite weights, from test_types */
    char *argv[] = {(char *)bin, "generate", "-m", path, "--ids", "1,2,3", "-n", "2", "--greedy", "--print-ids", NULL};
    int st = run_on_tty(argv, out, sizeof out);
    CHECK(st == 0, "generate with NaN weights on a terminal: exit %d: %s", st, out);
    const char *w = strstr(out, "qwenc: warning: ");
    CHECK(w && strstr(w, "w-bf16.gguf: 3 weights are NaN or infinite (the first in "
                         "'model.layers.0.mlp.down_proj.weight'); its output may be NaN"),
          "no warning line on the terminal: %s", out);
    CHECK(!w || !strstr(w + 1, "qwenc: warning: "), "more than one warning: %s", out);
    /* on a pipe there is no progress bar, so no scan and no warning */
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s generate -m %s --ids 1,2,3 -n 2 --greedy --print-ids 2>&1", bin, path);
    FILE *p = popen(cmd, "r");
    size_t n = p ? fread(out, 1, sizeof out - 1, p) : 0;
    out[n] = 0;
    int rc = p ? pclose(p) : -1;
    CHECK(rc == 0 && !strstr(out, "warning"), "generate on a pipe: exit %d: %s", rc, out);
}

int main(void) {
    snprintf(tmp, sizeof tmp, "/tmp/qwenc-check-XXXXXX");
    if (!mkdtemp(tmp)) { perror("mkdtemp"); return 2; }
    qwenc_model_params p;
    qwenc_model_params_init(&p);
    p.n_threads = 2;
    qwenc_model *base = NULL;
    char err[512];
    int rc = qwenc_model_open_synthetic("tiny-qwen3", "f32", 7, &p, &base, err, sizeof err);
    CHECK(rc == 0, "synthetic: %s", err);
    if (base) {
        int64_t n = -1;
        char first[8] = "x";
        CHECK(qwenc_model_check_weights(base, &n, first, sizeof first) == 0 && n == 0 && !first[0],
              "a synthetic model is finite: %lld", (long long)n);
        CHECK(qwenc_model_check_weights(base, NULL, NULL, 0) == QWENC_EINVAL, "no count pointer");
        test_types(base);
        qwenc_model_free(base);
        test_cli_warning();
    }
    CHECK(qwenc_model_check_weights(NULL, &(int64_t){0}, NULL, 0) == QWENC_EINVAL, "no model");
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
    return check_summary();
}
