/* Stop strings: matched across pieces, never emitted, the earliest match
 * wins, a partial prefix is released at the end, and nothing is held back
 * that could not still start a stop string (checked against a brute-force
 * reference on random texts, stop strings and splits). */
#include "server/stop.h"

#include "check.h"
#include <string.h>

typedef struct {
    char text[4096];
    size_t len;
} collected;

static void add(collected *c, const char *s, size_t n) {
    memcpy(c->text + c->len, s, n);
    c->len += n;
}

/* Pushes pieces (a NULL-terminated list); returns what push returned last. */
static int push_all(stop_matcher *m, const char *const *pieces, collected *c) {
    int stopped = 0;
    for (int i = 0; pieces[i]; i++) {
        const char *out;
        size_t n;
        stopped = stop_matcher_push(m, pieces[i], strlen(pieces[i]), &out, &n);
        add(c, out, n);
    }
    return stopped;
}

static void flush_into(stop_matcher *m, collected *c) {
    const char *out;
    size_t n;
    stop_matcher_flush(m, &out, &n);
    add(c, out, n);
}

/* Runs one stream through a new matcher and checks the output. */
static void expect(const char *const *stops, int n_stops, const char *const *pieces, int want_stop, const char *want) {
    stop_matcher *m = stop_matcher_new(stops, n_stops);
    CHECK(m != NULL, "new");
    if (!m) return;
    collected c = {.len = 0};
    int stopped = push_all(m, pieces, &c);
    flush_into(m, &c);
    CHECK(stopped == want_stop, "stop %d, expected %d (first piece \"%s\")", stopped, want_stop, pieces[0]);
    CHECK(c.len == strlen(want) && !memcmp(c.text, want, c.len), "output [%.*s], expected [%s]", (int)c.len, c.text,
          want);
    stop_matcher_free(m);
}

static void test_examples(void) {
    const char *stop[] = {"STOP"};
    expect(stop, 1, (const char *[]){"hello ST", "OP more", NULL}, 1, "hello ");
    expect(stop, 1, (const char *[]){"abcSTOPdef", NULL}, 1, "abc");
    expect(stop, 1, (const char *[]){"S", "T", "O", "P", NULL}, 1, "");
    expect(stop, 1, (const char *[]){"abc ST", NULL}, 0, "abc ST");  /* the partial prefix comes out at flush */
    expect(stop, 1, (const char *[]){"STO", "STOP", NULL}, 1, "STO");
    expect(stop, 1, (const char *[]){"no stop here", NULL}, 0, "no stop here");

    /* Overlapping prefixes: "ab" in "aab". */
    const char *ab[] = {"ab"};
    expect(ab, 1, (const char *[]){"a", "a", "b", NULL}, 1, "a");
    expect(ab, 1, (const char *[]){"aab", NULL}, 1, "a");
    expect(ab, 1, (const char *[]){"aa", "a", "c", NULL}, 0, "aaac");

    /* The earliest of several matches wins, whatever the order of the list. */
    const char *two[] = {"world", "lo"}, *two_rev[] = {"lo", "world"};
    expect(two, 2, (const char *[]){"hello world", NULL}, 1, "hel");
    expect(two_rev, 2, (const char *[]){"hello world", NULL}, 1, "hel");
    const char *nested[] = {"c", "abcd"};
    expect(nested, 2, (const char *[]){"xabcd", NULL}, 1, "x");
    /* Generation stops once a string is complete: "c" completes before "abcd" could. */
    expect(nested, 2, (const char *[]){"xab", "c", "d", NULL}, 1, "xab");

    /* Text may hold U+0000; multi-byte stop strings match across pieces. */
    const char *nul_text[] = {"END"};
    stop_matcher *m = stop_matcher_new(nul_text, 1);
    const char *out;
    size_t n;
    CHECK(stop_matcher_push(m, "a\0bE", 4, &out, &n) == 0 && n == 3 && !memcmp(out, "a\0b", 3), "NUL kept");
    CHECK(stop_matcher_push(m, "ND", 2, &out, &n) == 1 && n == 0, "stop across pieces");
    CHECK(stop_matcher_push(m, "more", 4, &out, &n) == 1 && n == 0, "nothing after a stop");
    stop_matcher_flush(m, &out, &n);
    CHECK(n == 0, "flush after a stop is empty");
    stop_matcher_free(m);
    const char *euro[] = {"\xe2\x82\xac"};
    expect(euro, 1, (const char *[]){"5 \xe2\x82", "\xac left", NULL}, 1, "5 ");
}

static void test_bound(void) {
    const char *stop[] = {"abc"};
    stop_matcher *m = stop_matcher_new(stop, 1);
    const char *out;
    size_t n;
    CHECK(stop_matcher_push(m, "xxab", 4, &out, &n) == 0 && n == 2 && !memcmp(out, "xx", 2), "holds \"ab\"");
    CHECK(stop_matcher_push(m, "xyz", 3, &out, &n) == 0 && n == 5 && !memcmp(out, "abxyz", 5), "releases it");
    CHECK(stop_matcher_push(m, "", 0, &out, &n) == 0 && n == 0, "an empty piece");
    stop_matcher_flush(m, &out, &n);
    CHECK(n == 0, "nothing left");
    stop_matcher_free(m);
}

static void test_bad_input(void) {
    const char *empty[] = {"a", ""}, *null[] = {"a", NULL};
    CHECK(stop_matcher_new(empty, 2) == NULL, "an empty stop string is an error");
    CHECK(stop_matcher_new(null, 2) == NULL, "a NULL stop string is an error");
    CHECK(stop_matcher_new(empty, -1) == NULL, "a negative count is an error");
    CHECK(stop_matcher_new(NULL, 1) == NULL, "no list is an error");
    stop_matcher *m = stop_matcher_new(NULL, 0);
    CHECK(m != NULL, "no stop strings is fine");
    const char *out;
    size_t n;
    CHECK(stop_matcher_push(m, "abc", 3, &out, &n) == 0 && n == 3, "and holds nothing");
    stop_matcher_free(m);
    stop_matcher_free(NULL);
}

/* ---- against a brute-force reference --------------------------------------- */

static uint32_t next_rand(uint32_t *s) {
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static int starts_with(const char *s, size_t n, const char *p) { return strlen(p) <= n && !memcmp(s, p, strlen(p)); }

/* The longest tail of text[0..n) that is a proper prefix of a stop string. */
static size_t ref_held(const char *text, size_t n, char stops[][8], int n_stops) {
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < n_stops; k++)
            if (n - i < strlen(stops[k]) && !strncmp(text + i, stops[k], n - i)) return n - i;
    return 0;
}

/* Start of the earliest complete match within text[0..n), or n. */
static size_t ref_match(const char *text, size_t n, char stops[][8], int n_stops) {
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < n_stops; k++)
            if (starts_with(text + i, n - i, stops[k])) return i;
    return n;
}

static void test_random(void) {
    uint32_t seed = 12345;
    int mismatches = 0;
    for (int trial = 0; trial < 3000; trial++) {
        char stops[4][8], text[64];
        const char *list[4];
        int n_stops = 1 + (int)(next_rand(&seed) % 4);
        for (int k = 0; k < n_stops; k++) {
            int len = 1 + (int)(next_rand(&seed) % 4);
            for (int j = 0; j < len; j++) stops[k][j] = (char)('a' + next_rand(&seed) % 3);
            stops[k][len] = 0;
            list[k] = stops[k];
        }
        size_t len = next_rand(&seed) % sizeof text;
        for (size_t j = 0; j < len; j++) text[j] = (char)('a' + next_rand(&seed) % 3);
        stop_matcher *m = stop_matcher_new(list, n_stops);
        collected c = {.len = 0};
        int stopped = 0;
        size_t pos = 0;
        while (pos < len && !stopped) {
            size_t piece = 1 + next_rand(&seed) % 5;
            if (piece > len - pos) piece = len - pos;
            const char *out;
            size_t n;
            stopped = stop_matcher_push(m, text + pos, piece, &out, &n);
            add(&c, out, n);
            pos += piece;
            size_t match = ref_match(text, pos, stops, n_stops);
            size_t want = match < pos ? match : pos - ref_held(text, pos, stops, n_stops);
            if (stopped != (match < pos) || c.len != want || memcmp(c.text, text, want)) mismatches++;
        }
        flush_into(m, &c);
        if (!stopped && (c.len != len || memcmp(c.text, text, len))) mismatches++;
        stop_matcher_free(m);
    }
    CHECK(mismatches == 0, "%d mismatches against the reference", mismatches);
}

int main(void) {
    test_examples();
    test_bound();
    test_bad_input();
    test_random();
    return check_summary();
}
