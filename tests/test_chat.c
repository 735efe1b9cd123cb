/* qwenc chat on the bundled demo model, driven through a pseudo-terminal
 * (forkpty) the way a person would use it: turns, the KV cache reused across
 * turns (/stats), /reset, /save and /load, Ctrl-C during an answer and at the
 * prompt, Ctrl-D; then piped stdin and the options. Every read is bounded by
 * a timeout and the child is killed at the end, so the test never hangs. */
#include "check.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_S 60.0

typedef struct {
    int fd;
    pid_t pid;
    int status;  /* exit status once reaped, else -1 */
    char *buf;   /* everything the child wrote, NUL-terminated */
    size_t len, cap;
    size_t mark; /* searches start here */
} term;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int term_start(term *t, char *const argv[]) {
    memset(t, 0, sizeof *t);
    t->status = -1;
    t->cap = 1 << 16;
    t->buf = calloc(t->cap, 1);
    struct winsize ws = {.ws_row = 50, .ws_col = 200};
    t->pid = forkpty(&t->fd, NULL, NULL, &ws);
    if (t->pid < 0) return -1;
    if (t->pid == 0) {
        setenv("TERM", "xterm", 1);
        execv(argv[0], argv);
        _exit(127);
    }
    return 0;
}

/* Reads what the child wrote within `wait_s` seconds (0: what is there). */
static void term_read(term *t, double wait_s) {
    struct pollfd p = {.fd = t->fd, .events = POLLIN};
    if (poll(&p, 1, (int)(wait_s * 1000)) <= 0) return;
    if (t->len + 4096 + 1 > t->cap) {
        t->cap *= 2;
        t->buf = realloc(t->buf, t->cap);
    }
    ssize_t n = read(t->fd, t->buf + t->len, 4096);
    if (n > 0) t->len += (size_t)n;
    else if (n < 0 && errno != EINTR && errno != EAGAIN) usleep(10000);  /* EIO: the child is gone */
    t->buf[t->len] = 0;
}

/* Waits until `needle` appears after the mark, then moves the mark past it.
 * Returns the offset of the match, or -1 after printing what came. */
static long expect(term *t, const char *needle) {
    double end = now() + TIMEOUT_S;
    for (;;) {
        char *hit = strstr(t->buf + t->mark, needle);
        if (hit) {
            t->mark = (size_t)(hit - t->buf) + strlen(needle);
            return hit - t->buf;
        }
        if (now() > end) break;
        term_read(t, 0.1);
    }
    fprintf(stderr, "timed out waiting for '%s'; output after the mark:\n%s\n", needle, t->buf + t->mark);
    return -1;
}

static void send_line(term *t, const char *fmt, ...) {
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    line[n++] = '\r';
    if (write(t->fd, line, (size_t)n) != n) fprintf(stderr, "write to the pty failed\n");
}

/* libedit puts the terminal in raw mode only when it first reads, just after
 * drawing the prompt: a control key sent before that is taken by the cooked
 * terminal (Ctrl-D lost). Gives it a moment, reading what comes. */
static void settle(term *t) {
    double end = now() + 0.3;
    while (now() < end) term_read(t, 0.05);
}

static void send_raw(term *t, const char *s) {
    if (write(t->fd, s, strlen(s)) != (ssize_t)strlen(s)) fprintf(stderr, "write to the pty failed\n");
}

/* Waits up to TIMEOUT_S for the child to exit; returns its exit status, or
 * -1 when it did not exit normally in time. */
static int term_wait_exit(term *t) {
    double end = now() + TIMEOUT_S;
    while (now() < end) {
        int st;
        pid_t r = waitpid(t->pid, &st, WNOHANG);
        if (r == t->pid) {
            t->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
            t->pid = 0;
            return t->status;
        }
        term_read(t, 0.05);
    }
    return -1;
}

static void term_end(term *t) {
    if (t->pid > 0) {
        kill(t->pid, SIGKILL);
        waitpid(t->pid, NULL, 0);
    }
    close(t->fd);
    free(t->buf);
}

typedef struct {
    int prompt, reused, evaluated, generated;
} turn_stats;

/* Sends /stats and parses its first line. */
static int stats(term *t, turn_stats *s) {
    memset(s, -1, sizeof *s);
    send_line(t, "/stats");
    long at = expect(t, "prompt ");
    if (at < 0) return -1;
    if (expect(t, " tokens\r\n") < 0) return -1;
    int n = sscanf(t->buf + at, "prompt %d tokens (reused %d, evaluated %d), generated %d tokens", &s->prompt,
                   &s->reused, &s->evaluated, &s->generated);
    expect(t, ">>> ");
    return n == 4 ? 0 : -1;
}

/* One question; waits for `want` in the answer and the next prompt. */
static int ask(term *t, const char *question, const char *want) {
    send_line(t, "%s", question);
    expect(t, question);  /* the echo */
    long a = expect(t, want);
    long b = expect(t, ">>> ");
    return a >= 0 && b >= 0 ? 0 : -1;
}

static json_t *load_json(const char *path) {
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j) fprintf(stderr, "%s: %s\n", path, je.text);
    return j;
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* Turns, the cache across turns, /reset, /save, /load, a bad /load. */
static void test_turns(term *t, const char *dir) {
    char save[512], bad[512], save2[512];
    snprintf(save, sizeof save, "%s/conv.json", dir);
    snprintf(bad, sizeof bad, "%s/bad.json", dir);
    snprintf(save2, sizeof save2, "%s/conv2.json", dir);
    turn_stats s1, s2, s3, s4;

    CHECK(ask(t, "What is 12 + 30?", "12 + 30 = 42.") == 0, "first turn");
    CHECK(stats(t, &s1) == 0, "/stats");
    CHECK(s1.reused == 0 && s1.evaluated == s1.prompt && s1.prompt > 0, "turn 1: prompt %d reused %d evaluated %d",
          s1.prompt, s1.reused, s1.evaluated);
    CHECK(ask(t, "Hello!", "How can I help you?") == 0, "second turn");
    CHECK(stats(t, &s2) == 0, "/stats");
    /* The Qwen3 template drops the first answer's <think> block from the
     * history, so what is kept is exactly the first turn's prompt. */
    CHECK(s2.reused == s1.prompt, "turn 2 reused %d, want %d (turn 1's prompt)", s2.reused, s1.prompt);
    CHECK(s2.evaluated == s2.prompt - s2.reused && s2.evaluated < s2.prompt, "turn 2: prompt %d evaluated %d",
          s2.prompt, s2.evaluated);

    send_line(t, "/save %s", save);
    CHECK(expect(t, "saved 4 messages") >= 0, "/save");
    expect(t, ">>> ");
    json_t *j = load_json(save);
    CHECK(json_is_array(j) && json_array_size(j) == 4, "saved conversation is an array of 4 messages");
    const char *roles[] = {"user", "assistant", "user", "assistant"};
    for (size_t i = 0; i < 4 && json_is_array(j); i++) {
        json_t *m = json_array_get(j, i);
        const char *role = json_string_value(json_object_get(m, "role"));
        CHECK(role && !strcmp(role, roles[i]), "message %zu role", i);
        CHECK(json_is_string(json_object_get(m, "content")), "message %zu content", i);
    }
    const char *a1 = json_string_value(json_object_get(json_array_get(j, 1), "content"));
    CHECK(a1 && strstr(a1, "42"), "first answer saved: %s", a1 ? a1 : "(none)");
    json_decref(j);

    send_line(t, "/reset");
    CHECK(expect(t, "conversation reset") >= 0, "/reset");
    expect(t, ">>> ");
    CHECK(ask(t, "Hello!", "How can I help you?") == 0, "turn after /reset");
    CHECK(stats(t, &s3) == 0, "/stats");
    CHECK(s3.reused == 0 && s3.evaluated == s3.prompt, "after /reset: reused %d", s3.reused);

    send_line(t, "/reset");
    expect(t, "conversation reset");
    send_line(t, "/load %s", save);
    CHECK(expect(t, "loaded 4 messages") >= 0, "/load");
    expect(t, ">>> ");
    CHECK(ask(t, "What is 12 + 30?", "42") == 0, "turn after /load");
    CHECK(stats(t, &s4) == 0, "/stats");
    /* The cached blocks of the first run of this conversation are reused (whole blocks). */
    CHECK(s4.prompt > s2.prompt && s4.reused % 32 == 0 && s4.reused < s4.prompt &&
              s4.evaluated == s4.prompt - s4.reused,
          "after /load: prompt %d (history kept) reused %d evaluated %d", s4.prompt, s4.reused, s4.evaluated);

    /* Bad files: an error line, the conversation (6 messages) unchanged. */
    write_file(bad, "[{\"role\": \"user\"}]");
    send_line(t, "/load %s", bad);
    CHECK(expect(t, "message 0 has no \"content\" string") >= 0, "bad /load: missing content");
    expect(t, ">>> ");
    write_file(bad, "{\"messages\": [");
    send_line(t, "/load %s", bad);
    CHECK(expect(t, "bad.json:") >= 0, "bad /load: not JSON");
    expect(t, ">>> ");
    send_line(t, "/load %s/does-not-exist.json", dir);
    CHECK(expect(t, "does-not-exist.json") >= 0 && expect(t, ">>> ") >= 0, "bad /load: no file");
    send_line(t, "/save %s", save2);
    CHECK(expect(t, "saved 6 messages") >= 0, "conversation unchanged by failed loads");
    expect(t, ">>> ");
    send_line(t, "/frobnicate");
    CHECK(expect(t, "unknown command '/frobnicate'") >= 0 && expect(t, ">>> ") >= 0, "unknown command");

    /* Non-ASCII input through libedit. */
    send_line(t, "/system Réponds en français, 日本語");
    CHECK(expect(t, "system message set") >= 0, "/system");
    expect(t, ">>> ");
    send_line(t, "/save %s", save2);
    expect(t, "saved 1 messages");
    expect(t, ">>> ");
    j = load_json(save2);
    const char *sys = json_string_value(json_object_get(json_array_get(j, 0), "content"));
    CHECK(sys && !strcmp(sys, "Réponds en français, 日本語"), "system message: %s", sys ? sys : "(none)");
    json_decref(j);
}

/* Ctrl-C stops a long answer; the chat goes on; Ctrl-C twice at the prompt
 * leaves with status 0. */
static void test_interrupt(term *t) {
    send_line(t, "/system");  /* no system message: the demo's long code answer */
    expect(t, "system message removed");
    expect(t, ">>> ");
    send_line(t, "/think off");
    expect(t, "thinking off");
    expect(t, ">>> ");
    send_line(t, "def main():");  /* the demo writes code until the context is full */
    expect(t, "def main():");
    size_t start = t->mark;
    double end = now() + TIMEOUT_S;
    while (t->len < start + 40 && now() < end) term_read(t, 0.05);
    send_raw(t, "\x03");
    /* The code may hold ">>> " itself: wait for the terminal's echo first. */
    CHECK(expect(t, "^C") >= 0 && expect(t, ">>> ") >= 0, "the prompt comes back after Ctrl-C");
    turn_stats s;
    CHECK(stats(t, &s) == 0, "/stats");
    CHECK(s.generated > 0 && s.generated < 1500, "Ctrl-C stopped the answer after %d tokens", s.generated);
    send_line(t, "/think on");
    expect(t, ">>> ");
    CHECK(ask(t, "What is 12 + 30?", "12 + 30 = 42.") == 0, "a turn after Ctrl-C");

    send_raw(t, "some text");
    expect(t, "some text");
    settle(t);
    send_raw(t, "\x03");
    CHECK(expect(t, "Ctrl-C again") >= 0 && expect(t, ">>> ") >= 0, "Ctrl-C at the prompt clears the line");
    settle(t);
    send_raw(t, "\x03");
    CHECK(term_wait_exit(t) == 0, "Ctrl-C twice leaves with status 0 (got %d)", t->status);
}

static int run_status(const char *cmd) {
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Piped stdin, Ctrl-D, options. */
static void test_pipe_and_options(const char *bin, const char *model, const char *dir) {
    char cmd[2048], out[512];
    snprintf(out, sizeof out, "%s/pipe.txt", dir);
    snprintf(cmd, sizeof cmd, "printf 'What is 12 + 30?\\n/stats\\n' | '%s' chat '%s' --greedy > '%s'", bin, model,
             out);
    CHECK(run_status(cmd) == 0, "piped chat exits 0");
    FILE *f = fopen(out, "r");
    char text[4096] = "";
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    text[n] = 0;
    if (f) fclose(f);
    CHECK(strstr(text, "12 + 30 = 42.") != NULL, "piped answer: %s", text);
    CHECK(strstr(text, ">>>") == NULL && strstr(text, "\x1b[") == NULL, "no prompt or escapes on a pipe: %s", text);
    CHECK(strstr(text, "prompt ") != NULL, "/stats on a pipe: %s", text);

    snprintf(cmd, sizeof cmd, "'%s' chat --help > /dev/null", bin);
    CHECK(run_status(cmd) == 0, "chat --help exits 0");
    snprintf(cmd, sizeof cmd, "'%s' chat '%s' --bogus 2> '%s'", bin, model, out);
    CHECK(run_status(cmd) == 2, "chat --bogus exits 2");
    f = fopen(out, "r");
    n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    text[n] = 0;
    if (f) fclose(f);
    CHECK(strstr(text, "unknown option '--bogus'") != NULL, "--bogus message: %s", text);

    term t;
    char *argv[] = {(char *)bin, "chat", (char *)model, "--greedy", NULL};
    CHECK(term_start(&t, argv) == 0, "forkpty");
    CHECK(expect(&t, ">>> ") >= 0, "prompt");
    settle(&t);
    send_raw(&t, "\x04");
    CHECK(term_wait_exit(&t) == 0, "Ctrl-D leaves with status 0 (got %d)", t.status);
    term_end(&t);
}

int main(void) {
    const char *bin = check_env("QWENC_BIN");
    const char *root = check_env("QWENC_ROOT");
    char model[1024];
    snprintf(model, sizeof model, "%s/models/qwenc-demo", root);
    char dir[] = "/tmp/qwenc-chat-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);

    term t;
    char *argv[] = {(char *)bin, "chat", model, "--greedy", NULL};
    CHECK(term_start(&t, argv) == 0, "forkpty");
    CHECK(expect(&t, ">>> ") >= 0, "the first prompt");
    test_turns(&t, dir);
    test_interrupt(&t);
    term_end(&t);

    test_pipe_and_options(bin, model, dir);

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", dir);
    return check_summary();
}
