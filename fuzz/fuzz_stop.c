/* Stop strings across arbitrary cuts, against a naive search. Input: byte 0
 * % 5 = number of stop strings; then the stop strings, each
 * ended by a 0xFF byte; the rest is the text, pushed in random pieces. After
 * each push the matcher must have stopped exactly when a stop string lies
 * wholly in the text pushed so far, having emitted the text up to the
 * earliest such one; until then it emits only pushed text, holds back less
 * than the longest stop string, and at the end flushes the rest. And,
 * when everything is valid UTF-8 and the cuts fall between characters,
 * every piece it emits must be valid UTF-8. */
#include "server/stop.h"

#include "fuzz.h"

/* For each start in text, the end of the shortest stop string found there
 * (SIZE_MAX: none); *first receives the smallest end. */
static size_t *stop_ends(const char *text, size_t len, char **stops, int n, size_t *first) {
    size_t *ends = malloc((len ? len : 1) * sizeof *ends);
    if (!ends) abort();
    *first = SIZE_MAX;
    for (size_t at = 0; at < len; at++) {
        ends[at] = SIZE_MAX;
        for (int k = 0; k < n; k++) {
            size_t sl = strlen(stops[k]);
            if (sl <= len - at && !memcmp(text + at, stops[k], sl) && at + sl < ends[at]) ends[at] = at + sl;
        }
        if (ends[at] < *first) *first = ends[at];
    }
    return ends;
}

/* The earliest start of a stop string lying wholly in text[0..fed). */
static size_t earliest_within(const size_t *ends, size_t fed) {
    size_t at = 0;
    while (ends[at] > fed) at++;
    return at;
}

/* Moves a cut in s[0..len) to the start of a UTF-8 character: back, or
 * forward when that would leave nothing after from. */
static size_t char_cut(const char *s, size_t len, size_t from, size_t at) {
    size_t back = at;
    while (back > from && back < len && ((unsigned char)s[back] & 0xC0) == 0x80) back--;
    if (back > from) return back;
    while (at < len && ((unsigned char)s[at] & 0xC0) == 0x80) at++;
    return at;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int n = data[0] % 5;
    uint64_t seed = fuzz_seed(data, size);
    char *stops[4];
    size_t pos = 1, max_len = 0;
    int n_ok = 0, utf8 = 1;
    for (; n_ok < n && pos < size; n_ok++) {
        const uint8_t *end = memchr(data + pos, 0xFF, size - pos);
        size_t sl = end ? (size_t)(end - data) - pos : size - pos;
        if (sl == 0 || memchr(data + pos, 0, sl)) break;  /* stop strings are non-empty C strings */
        if (!(stops[n_ok] = malloc(sl + 1))) abort();
        memcpy(stops[n_ok], data + pos, sl);
        stops[n_ok][sl] = 0;
        utf8 &= fuzz_utf8_valid(stops[n_ok], sl);
        if (sl > max_len) max_len = sl;
        pos += sl + (end != NULL);
    }
    const char *text = (const char *)data + pos;
    size_t len = size - pos;
    utf8 &= fuzz_utf8_valid(text, len);
    stop_matcher *m = stop_matcher_new((const char *const *)stops, n_ok);
    if (!m) abort();
    size_t first_end, *ends = stop_ends(text, len, stops, n_ok, &first_end);
    char *out = malloc(len + 1);
    size_t out_len = 0, fed = 0;
    int stopped = 0;
    if (!out) abort();
    while (fed < len && !stopped) {
        size_t piece = 1 + fuzz_rand(&seed) % (fuzz_rand(&seed) % 2 ? 4 : len - fed);
        if (piece > len - fed) piece = len - fed;
        if (utf8) piece = char_cut(text, len, fed, fed + piece) - fed;
        const char *o;
        size_t ol;
        stopped = stop_matcher_push(m, text + fed, piece, &o, &ol);
        fed += piece;
        FUZZ_CHECK(out_len + ol <= fed && !memcmp(text + out_len, o, ol), "emitted text that was not pushed");
        if (utf8) FUZZ_CHECK(fuzz_utf8_valid(o, ol), "a piece splits a character");
        out_len += ol;
        /* generation stops once a stop string is complete */
        FUZZ_CHECK(stopped == (first_end <= fed), "stopped %d after %zu bytes, a stop string ends at %zu", stopped,
                   fed, first_end);
        if (stopped)
            FUZZ_CHECK(out_len == earliest_within(ends, fed), "emitted %zu bytes, want %zu", out_len,
                       earliest_within(ends, fed));
        else FUZZ_CHECK(fed - out_len < (max_len ? max_len : 1), "%zu bytes held back, longest stop %zu",
                        fed - out_len, max_len);
    }
    const char *o;
    size_t ol;
    if (stopped) {
        FUZZ_CHECK(stop_matcher_push(m, "x", 1, &o, &ol) == 1 && ol == 0, "a push after the stop emitted %zu", ol);
        stop_matcher_flush(m, &o, &ol);
        FUZZ_CHECK(ol == 0, "flush after the stop gave %zu bytes", ol);
    } else {
        stop_matcher_flush(m, &o, &ol);
        FUZZ_CHECK(out_len + ol == len && !memcmp(text + out_len, o, ol), "flush: %zu + %zu bytes of %zu", out_len,
                   ol, len);
    }
    stop_matcher_free(m);
    free(ends);
    free(out);
    for (int k = 0; k < n_ok; k++) free(stops[k]);
    return 0;
}
