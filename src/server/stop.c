#include "server/stop.h"

#include <stdlib.h>
#include <string.h>

struct stop_matcher {
    char **stops;
    size_t *lens;
    int n;
    size_t max_len;
    char *buf;        /* buf[0..emitted) was given out by the last call; the rest is held */
    size_t len, cap, emitted;
    int stopped;
};

void stop_matcher_free(stop_matcher *m) {
    if (!m) return;
    for (int i = 0; i < m->n; i++) free(m->stops[i]);
    free(m->stops);
    free(m->lens);
    free(m->buf);
    free(m);
}

stop_matcher *stop_matcher_new(const char *const *stops, int n_stops) {
    if (n_stops < 0 || (n_stops && !stops)) return NULL;
    for (int i = 0; i < n_stops; i++)
        if (!stops[i] || !*stops[i]) return NULL;
    stop_matcher *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->stops = calloc((size_t)n_stops + 1, sizeof *m->stops);
    m->lens = calloc((size_t)n_stops + 1, sizeof *m->lens);
    if (!m->stops || !m->lens) {
        stop_matcher_free(m);
        return NULL;
    }
    for (; m->n < n_stops; m->n++) {
        if (!(m->stops[m->n] = strdup(stops[m->n]))) {
            stop_matcher_free(m);
            return NULL;
        }
        m->lens[m->n] = strlen(stops[m->n]);
        if (m->lens[m->n] > m->max_len) m->max_len = m->lens[m->n];
    }
    return m;
}

/* Drops what was given out and appends text to the held bytes. */
static int append(stop_matcher *m, const char *text, size_t len) {
    if (m->emitted) memmove(m->buf, m->buf + m->emitted, m->len - m->emitted);
    m->len -= m->emitted;
    m->emitted = 0;
    if (len > m->cap - m->len) {
        size_t cap = m->cap ? m->cap : 64;
        while (cap - m->len < len) cap *= 2;
        char *b = realloc(m->buf, cap);
        if (!b) return 0;
        m->buf = b, m->cap = cap;
    }
    if (len) memcpy(m->buf + m->len, text, len);
    m->len += len;
    return 1;
}

/* Start of the earliest complete match in buf, or len when none. */
static size_t earliest_match(const stop_matcher *m) {
    size_t best = m->len;
    for (int i = 0; i < m->n; i++) {
        size_t hay = best + m->lens[i] - 1;  /* a match starting before best ends within it */
        const char *at = memmem(m->buf, hay < m->len ? hay : m->len, m->stops[i], m->lens[i]);
        if (at) best = (size_t)(at - m->buf);
    }
    return best;
}

/* Start of the longest tail of buf that is a proper prefix of a stop
 * string (what a later piece could complete), or len when none. */
static size_t held_tail(const stop_matcher *m) {
    size_t from = m->len > m->max_len - 1 ? m->len - (m->max_len - 1) : 0;
    for (size_t i = from; i < m->len; i++)
        for (int k = 0; k < m->n; k++)
            if (m->len - i < m->lens[k] && !memcmp(m->buf + i, m->stops[k], m->len - i)) return i;
    return m->len;
}

int stop_matcher_push(stop_matcher *m, const char *text, size_t len, const char **out, size_t *out_len) {
    *out = "";
    *out_len = 0;
    if (m->stopped) return 1;
    if (!len) return 0;
    if (!append(m, text, len)) {  /* out of memory: end the reply as if stopped, releasing what is held */
        if (m->buf) *out = m->buf, *out_len = m->len;
        m->stopped = 1;
        return 1;
    }
    if (!m->n) {
        *out = m->buf, *out_len = m->emitted = m->len;
        return 0;
    }
    size_t match = earliest_match(m);
    if (match < m->len) {
        *out = m->buf, *out_len = match;
        m->emitted = m->len;
        m->stopped = 1;
        return 1;
    }
    *out = m->buf, *out_len = m->emitted = held_tail(m);
    return 0;
}

void stop_matcher_flush(stop_matcher *m, const char **out, size_t *out_len) {
    *out = "";
    *out_len = 0;
    if (m->stopped || !m->buf) return;
    *out = m->buf + m->emitted, *out_len = m->len - m->emitted;
    m->emitted = m->len;
}
