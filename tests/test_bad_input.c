/* Bad input to the CLI: every case must print one line naming the file and
 * the problem, and exit with status 2 (never crash). Corrupt model
 * directories are written into a temporary directory from the qwen3-tiny
 * fixture. */
#include "check.h"

#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *bin, *fixture;
static char tmp[256];

static char *slurp(const char *path, size_t *n) {
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)sz + 1);
    *n = fread(b, 1, (size_t)sz, f);
    b[*n] = 0;
    fclose(f);
    return b;
}

static void spit(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) { perror(path); exit(2); }
    fclose(f);
}

/* A fresh copy of the fixture as tmp/name; returns its path. */
static const char *model_copy(const char *name) {
    static char dir[512];
    char src[512], dst[600];
    snprintf(dir, sizeof dir, "%s/%s", tmp, name);
    mkdir(dir, 0755);
    const char *files[] = {"config.json", "generation_config.json", "model.safetensors"};
    for (int i = 0; i < 3; i++) {
        size_t n = 0;
        snprintf(src, sizeof src, "%s/%s", fixture, files[i]);
        snprintf(dst, sizeof dst, "%s/%s", dir, files[i]);
        char *b = slurp(src, &n);
        spit(dst, b, n);
        free(b);
    }
    return dir;
}

/* Replaces the first occurrence of `from` with `to` (same length or not) in a file. */
static void edit(const char *dir, const char *file, const char *from, const char *to) {
    char path[600];
    size_t n = 0;
    snprintf(path, sizeof path, "%s/%s", dir, file);
    char *b = slurp(path, &n);
    char *at = memmem(b, n, from, strlen(from));
    if (!at) { fprintf(stderr, "edit: '%s' not in %s\n", from, path); exit(2); }
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, (size_t)(at - b), f);
    fwrite(to, 1, strlen(to), f);
    fwrite(at + strlen(from), 1, n - (size_t)(at - b) - strlen(from), f);
    fclose(f);
    free(b);
}

/* Grows the safetensors header by one byte (a space), shifting all tensor data
 * off its natural alignment. */
static void misalign(const char *dir) {
    char path[600];
    size_t n;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    unsigned char *b = (unsigned char *)slurp(path, &n);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | b[i];
    hl++;
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(hl >> (8 * i));
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, 9, f);  /* length and '{' */
    fputc(' ', f);
    fwrite(b + 9, 1, n - 9, f);
    fclose(f);
    free(b);
}

/* Runs `qwenc args`, returns the exit status and the stderr text. */
static int run(const char *args, char *errbuf, size_t errlen) {
    char cmd[2048], errfile[300];
    snprintf(errfile, sizeof errfile, "%s/stderr.txt", tmp);
    /* timeout: a FIFO or a loop that made qwenc wait would hang the test */
    snprintf(cmd, sizeof cmd, "timeout 60 %s %s >%s/stdout.txt 2>%s", bin, args, tmp, errfile);
    int st = system(cmd);
    size_t n = 0;
    char *e = slurp(errfile, &n);
    snprintf(errbuf, errlen, "%s", e ? e : "");
    free(e);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Expects exit 2, one line on stderr, containing every needle. */
static void expect_bad(const char *what, const char *args, const char *needle1, const char *needle2) {
    char e[4096];
    int st = run(args, e, sizeof e);
    CHECK(st == 2, "%s: exit %d (stderr: %s)", what, st, e);
    CHECK(strchr(e, '\n') == e + strlen(e) - 1, "%s: not exactly one line: %s", what, e);
    CHECK(strstr(e, needle1) != NULL, "%s: '%s' not in: %s", what, needle1, e);
    if (needle2) CHECK(strstr(e, needle2) != NULL, "%s: '%s' not in: %s", what, needle2, e);
}

static void info_of(const char *dir, const char *what, const char *n1, const char *n2) {
    char args[700];
    snprintf(args, sizeof args, "info -m %s", dir);
    expect_bad(what, args, n1, n2);
}

/* The same model with its weights quantized at load: the same error (what
 * the conversion cannot convert it leaves for binding to report). */
static void info_quant_of(const char *dir, const char *what, const char *n1, const char *n2) {
    char args[700], label[200];
    snprintf(args, sizeof args, "info -m %s --quant q4_k", dir);
    snprintf(label, sizeof label, "%s, --quant q4_k", what);
    expect_bad(label, args, n1, n2);
}

static void test_model_files(void) {
    char args[1024];
    snprintf(args, sizeof args, "info -m %s/does-not-exist", tmp);
    expect_bad("missing dir", args, "does-not-exist", "no such directory");

    const char *d = model_copy("no-config");
    char p[700];
    snprintf(p, sizeof p, "%s/config.json", d);
    unlink(p);
    info_of(d, "missing config.json", "config.json", "No such file");

    d = model_copy("bad-json");
    edit(d, "config.json", "\"hidden_size\": 32,", "\"hidden_size\": 32");
    info_of(d, "invalid config.json", "config.json", "invalid JSON");

    d = model_copy("unknown-arch");
    edit(d, "config.json", "\"model_type\": \"qwen3\"", "\"model_type\": \"llama\"");
    info_of(d, "unknown architecture", "unsupported architecture", "llama");

    d = model_copy("wrong-shape");
    edit(d, "config.json", "\"intermediate_size\": 64", "\"intermediate_size\": 48");
    info_of(d, "wrong shape", "model.safetensors", "has shape");
    info_quant_of(d, "wrong shape", "model.safetensors", "has shape");

    d = model_copy("missing-tensor");
    edit(d, "model.safetensors", "model.norm.weight", "model.norm.weigxx");
    info_of(d, "missing tensor", "missing tensor 'model.norm.weight'", NULL);
    info_quant_of(d, "missing tensor", "missing tensor 'model.norm.weight'", NULL);

    d = model_copy("truncated");
    snprintf(p, sizeof p, "%s/model.safetensors", d);
    CHECK(truncate(p, 5000) == 0, "truncate");
    info_of(d, "truncated safetensors", "model.safetensors", "past the end of the file");
    info_quant_of(d, "truncated safetensors", "model.safetensors", "past the end of the file");

    d = model_copy("tiny-file");
    snprintf(p, sizeof p, "%s/model.safetensors", d);
    spit(p, "abc", 3);
    info_of(d, "3-byte safetensors", "model.safetensors", "truncated");

    d = model_copy("huge-header");
    snprintf(p, sizeof p, "%s/model.safetensors", d);
    spit(p, "\xff\xff\xff\xff\xff\xff\xff\x7f{}", 10);
    info_of(d, "header length past the file", "model.safetensors", "header length");

    d = model_copy("garbage-header");
    edit(d, "model.safetensors", "{\"", "{[");
    info_of(d, "corrupt header", "model.safetensors", "invalid JSON header");

    d = model_copy("bad-dtype");
    edit(d, "model.safetensors", "\"BF16\"", "\"QQ16\"");
    info_of(d, "unknown dtype", "model.safetensors", "unknown dtype 'QQ16'");
    info_quant_of(d, "unknown dtype", "model.safetensors", "unknown dtype 'QQ16'");

    d = model_copy("misaligned");
    misalign(d);
    info_of(d, "misaligned tensor data", "model.safetensors", "not aligned");

    d = model_copy("int-weights");
    edit(d, "model.safetensors", "\"BF16\"", "\"I16\" ");
    info_of(d, "integer weights", "model.safetensors", "dtype i16");
    info_quant_of(d, "integer weights", "model.safetensors", "dtype i16");
}

/* dir/file replaced by a FIFO, a directory or a symlink to itself. */
static const char *replace_with(const char *dir, const char *file, char kind) {
    static char p[700];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    unlink(p);
    int rc = kind == 'f' ? mkfifo(p, 0644) : kind == 'd' ? mkdir(p, 0755) : symlink(p, p);
    CHECK(rc == 0, "make %s", p);
    return p;
}

/* Where a file is expected: a FIFO (must fail at once, not wait for a
 * writer), a directory, a symlink loop; and the model directory as a loop. */
static void test_odd_files(void) {
    char args[1024], p[700];
    const char *d = model_copy("fifo-weights");
    replace_with(d, "model.safetensors", 'f');
    info_of(d, "model.safetensors is a FIFO", "model.safetensors: not a regular file (a FIFO)", NULL);
    d = model_copy("fifo-config");
    replace_with(d, "config.json", 'f');
    info_of(d, "config.json is a FIFO", "config.json: not a regular file (a FIFO)", NULL);
    d = model_copy("dir-config");
    replace_with(d, "config.json", 'd');
    info_of(d, "config.json is a directory", "config.json: not a regular file (a directory)", NULL);
    d = model_copy("loop-config");
    replace_with(d, "config.json", 'l');
    info_of(d, "config.json is a symlink loop", "config.json: Too many levels of symbolic links", NULL);
    d = model_copy("dir-weights");
    replace_with(d, "model.safetensors", 'd');
    info_of(d, "model.safetensors is a directory", "model.safetensors: not a regular file (a directory)", NULL);
    d = model_copy("fifo-tokenizer");
    replace_with(d, "tokenizer.json", 'f');
    info_of(d, "tokenizer.json is a FIFO", "tokenizer.json: not a regular file (a FIFO)", NULL);
    d = model_copy("loop-weights");
    replace_with(d, "model.safetensors", 'l');
    info_of(d, "model.safetensors is a symlink loop", "model.safetensors: Too many levels of symbolic links", NULL);

    const char *fifo = replace_with(tmp, "fifo.gguf", 'f');
    snprintf(args, sizeof args, "info -m %s", fifo);
    expect_bad("a FIFO given as the model", args, "fifo.gguf: not a regular file (a FIFO)", NULL);
    snprintf(args, sizeof args, "run -m %s hello", fifo);
    expect_bad("run: a FIFO given as the model", args, "fifo.gguf: not a model directory or a .gguf file", NULL);
    const char *loop = replace_with(tmp, "loop-dir", 'l');
    snprintf(args, sizeof args, "info -m %s", loop);
    expect_bad("the model directory is a symlink loop", args, "loop-dir: Too many levels of symbolic links", NULL);
    snprintf(args, sizeof args, "run -m %s hello", loop);
    expect_bad("run: the model directory is a symlink loop", args, "Too many levels of symbolic links", NULL);

    /* a link to itself inside a model directory is harmless: nothing walks the tree */
    d = model_copy("self-link");
    snprintf(p, sizeof p, "%s/self", d);
    CHECK(symlink(".", p) == 0, "symlink");
    char e[4096];
    snprintf(args, sizeof args, "info -m %s", d);
    CHECK(run(args, e, sizeof e) == 0, "a model directory holding a link to itself: %s", e);
}

/* The byte offset in dir/model.safetensors of tensor name's data. */
static size_t tensor_offset(const char *dir, const char *name) {
    char path[600], key[300];
    size_t n;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    unsigned char *b = (unsigned char *)slurp(path, &n);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | b[i];
    snprintf(key, sizeof key, "\"%s\"", name);
    char *at = strstr((char *)b + 8, key), *offs = at ? strstr(at, "\"data_offsets\"") : NULL;
    unsigned long long begin = 0;
    CHECK(offs && sscanf(offs, "\"data_offsets\":[%llu", &begin) == 1, "offsets of %s", name);
    free(b);
    return (size_t)(8 + hl + begin);
}

static void poke(const char *dir, size_t at, const void *bytes, size_t n) {
    char path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    FILE *f = fopen(path, "r+b");
    CHECK(f && fseek(f, (long)at, SEEK_SET) == 0 && fwrite(bytes, 1, n, f) == n, "poke %s", path);
    if (f) fclose(f);
}

/* NaN and infinite weights: `info --check` counts them and names the first
 * tensor (exit 2); the model still loads and runs. */
static void test_nonfinite(void) {
    const char *d = model_copy("nan");
    static const unsigned char nan_inf[] = {0xc0, 0x7f, 0x80, 0xff};  /* bf16 NaN, -inf */
    poke(d, tensor_offset(d, "model.norm.weight") + 6, nan_inf, 4);
    poke(d, tensor_offset(d, "model.layers.1.self_attn.v_proj.weight"), nan_inf, 2);
    char args[1024], e[4096];
    snprintf(args, sizeof args, "info -m %s --check", d);
    expect_bad("NaN weights", args, "3 weights are NaN or infinite (the first in 'model.layers.1.self_attn.v_proj.weight')",
               d);
    size_t n = 0;
    char out[400];
    snprintf(out, sizeof out, "%s/stdout.txt", tmp);
    char *o = slurp(out, &n);
    CHECK(o && strstr(o, "weights check          3 NaN or infinite, the first in 'model.layers.1.self_attn.v_proj.weight'"),
          "info --check stdout: %s", o ? o : "");
    free(o);
    snprintf(args, sizeof args, "generate -m %s --ids 1,2 -n 2 --greedy --print-ids", d);
    CHECK(run(args, e, sizeof e) == 0, "a model with NaN weights still runs: %s", e);
    snprintf(args, sizeof args, "info -m %s --check", fixture);
    CHECK(run(args, e, sizeof e) == 0, "info --check on a clean model: %s", e);
    o = slurp(out, &n);
    CHECK(o && strstr(o, "weights check          all finite"), "info --check stdout: %s", o ? o : "");
    free(o);
}

/* GGUF model files: truncated, or not GGUF at all. */
static void test_gguf_files(void) {
    const char *fx = getenv("QWENC_GGUF_FIXTURE");
    if (!fx) { printf("SKIPPED gguf cases: QWENC_GGUF_FIXTURE not set\n"); return; }
    size_t n = 0;
    char *b = slurp(fx, &n);
    CHECK(b && n > 1000000, "read the GGUF fixture");
    if (!b) return;
    char p[600], args[800];
    const size_t cuts[] = {3, 24, 5000, 600000, n - 100};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        snprintf(p, sizeof p, "%s/cut%zu.gguf", tmp, i);
        spit(p, b, cuts[i]);
        snprintf(args, sizeof args, "info -m %s", p);
        char what[64];
        snprintf(what, sizeof what, "gguf truncated at %zu bytes", cuts[i]);
        expect_bad(what, args, p, NULL);
    }
    snprintf(p, sizeof p, "%s/text.gguf", tmp);
    spit(p, "hello, world\n", 13);
    snprintf(args, sizeof args, "info -m %s", p);
    expect_bad("not a GGUF file", args, "not a GGUF file", NULL);
    free(b);
}

static void test_ids_and_options(void) {
    char args[1024], out[400];
    snprintf(out, sizeof out, "%s/logits.bin", tmp);
    snprintf(args, sizeof args, "logits -m %s --ids 1,2,4096 --out %s", fixture, out);
    expect_bad("id out of range", args, "token id 4096", "out of range");
    snprintf(args, sizeof args, "generate -m %s --ids 1,-2 -n 2 --greedy --print-ids", fixture);
    expect_bad("negative id", args, "--ids", NULL);
    snprintf(args, sizeof args, "generate -m %s --ids 1,x -n 2", fixture);
    expect_bad("non-numeric id", args, "--ids", NULL);
    snprintf(args, sizeof args, "generate -m %s --ids 1 --bogus", fixture);
    expect_bad("unknown option", args, "unknown option '--bogus'", NULL);
    snprintf(args, sizeof args, "generate -m %s --ids 1 -c 999999", fixture);
    expect_bad("context too long", args, "max_position_embeddings", NULL);
    snprintf(args, sizeof args, "generate -m %s -p hello -n 2", fixture);
    expect_bad("text prompt without a tokenizer", args, "no tokenizer.json", NULL);
    snprintf(args, sizeof args, "generate -m %s --ids 1 -p hello", fixture);
    expect_bad("two prompts", args, "exactly one of", NULL);
    snprintf(args, sizeof args, "frobnicate");
    expect_bad("unknown command", args, "unknown command 'frobnicate'", NULL);
    snprintf(args, sizeof args, "logits -m %s --ids 1,2", fixture);
    expect_bad("no --out", args, "--out", NULL);

    /* and the good path writes n * vocab floats */
    char e[1024];
    snprintf(args, sizeof args, "logits -m %s --ids 1,2,3 --out %s", fixture, out);
    CHECK(run(args, e, sizeof e) == 0, "logits: %s", e);
    struct stat st;
    CHECK(stat(out, &st) == 0 && st.st_size == 3 * 4096 * 4, "logits file size %lld", (long long)st.st_size);
    const char *cmds[] = {"info", "logits", "generate"};
    for (int i = 0; i < 3; i++) {
        snprintf(args, sizeof args, "%s --help", cmds[i]);
        CHECK(run(args, e, sizeof e) == 0, "%s --help", cmds[i]);
    }
}

int main(void) {
    bin = check_env("QWENC_BIN");
    static char fx[1024];
    snprintf(fx, sizeof fx, "%s/models/qwen3-tiny", check_env("QWENC_TEST_DATA"));
    fixture = fx;
    snprintf(tmp, sizeof tmp, "/tmp/qwenc-bad-XXXXXX");
    if (!mkdtemp(tmp)) { perror("mkdtemp"); return 2; }
    test_model_files();
    test_odd_files();
    test_nonfinite();
    test_gguf_files();
    test_ids_and_options();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
    return check_summary();
}
