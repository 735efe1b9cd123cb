/* server/json_guard with the json_object schema ({"type": "object"}): the
 * validator accepts exactly the prefixes of valid JSON objects (hand-made
 * and random texts, byte by byte and in chunks, judged against jansson); the mask over the real Qwen3 vocabulary equals
 * trying every token; constrained generation from random logits and from
 * the demo model yields text jansson parses as an object. */
#include <jansson.h>
#include "qwenc.h"
#include "check.h"
#include "server/json_guard.h"

#include <math.h>
#include <string.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}

/* A validator without tokens: a json_vocab over no tokenizer is not
 * possible, so the byte-level tests use one built on the real tokenizer. */
static const json_vocab *vocab;
/* response_format json_object is this schema. */
static json_schema *object_schema;

/* jansson's verdict: 1 an object, 0 not, -1 a number too large for it
 * (valid JSON that jansson cannot represent: not judged). */
static int jansson_object(const char *s, size_t n) {
    json_error_t je;
    json_t *j = json_loadb(s, n, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &je);
    int ok = j && json_is_object(j);
    json_decref(j);
    if (!j && json_error_code(&je) == json_error_numeric_overflow) return -1;
    return ok;
}

/* Completes the text the guard has seen by always taking the first allowed
 * byte of a fixed list (closing quotes and brackets first): NULL if it
 * cannot, which for an accepted prefix is a bug. */
static char *complete_text(const char *prefix, size_t n, size_t *out_len) {
    static const char order[] = "\"}]1:dc\\uresal\x80\xA0{";
    json_guard *g = json_guard_new(vocab, object_schema, NULL, 0);
    char *out = malloc(n + 4096);
    memcpy(out, prefix, n);
    size_t len = n;
    int ok = json_guard_feed(g, prefix, n) == 0;
    while (ok && !json_guard_complete(g) && len < n + 4000) {
        ok = 0;
        for (const char *c = order; *c && !ok; c++)
            if (json_guard_feed(g, c, 1) == 0) out[len++] = *c, ok = 1;
    }
    ok = ok && json_guard_complete(g);
    json_guard_free(g);
    if (!ok) return free(out), NULL;
    *out_len = len;
    return out;
}

/* The first byte the guard rejects, fed one byte at a time (n if none);
 * *complete receives whether the whole text closed the object. */
static size_t first_rejected(const char *s, size_t n, int *complete) {
    json_guard *g = json_guard_new(vocab, object_schema, NULL, 0);
    size_t i = 0;
    while (i < n && json_guard_feed(g, s + i, 1) == 0) i++;
    *complete = i == n && json_guard_complete(g);
    json_guard_free(g);
    return i;
}

/* The same text fed in random chunks: the chunk holding the first rejected
 * byte is the first one rejected. */
static int chunks_agree(const char *s, size_t n, size_t rejected_at, int complete) {
    json_guard *g = json_guard_new(vocab, object_schema, NULL, 0);
    size_t at = 0;
    int ok = 1;
    while (at < n) {
        size_t len = 1 + rnd() % 9;
        if (len > n - at) len = n - at;
        int rc = json_guard_feed(g, s + at, len);
        int should_fail = rejected_at >= at && rejected_at < at + len;
        if ((rc != 0) != should_fail) ok = 0;
        if (rc) break;
        at += len;
    }
    if (at == n && json_guard_complete(g) != complete) ok = 0;
    json_guard_free(g);
    return ok;
}

static int n_judged, n_valid, n_unjudged;

/* One text: jansson and the guard agree, every prefix the guard accepts
 * can be completed into an object jansson accepts, and chunked feeding
 * agrees with byte-by-byte feeding. */
static void check_text(const char *what, const char *s, size_t n) {
    int verdict = jansson_object(s, n), complete;
    size_t rej = first_rejected(s, n, &complete);
    if (verdict < 0) {
        n_unjudged++;
    } else {
        n_judged++;
        n_valid += verdict;
        if (verdict) CHECK(rej == n && complete, "%s: valid '%.*s' rejected at byte %zu", what, (int)n, s, rej);
        else CHECK(rej < n || !complete, "%s: invalid '%.*s' accepted as complete", what, (int)n, s);
    }
    size_t bad_prefix = SIZE_MAX;
    for (size_t i = 0; i <= rej && i <= n && bad_prefix == SIZE_MAX; i++) {
        size_t len;
        char *full = complete_text(s, i, &len);
        if (!full || jansson_object(full, len) == 0) bad_prefix = i;
        free(full);
    }
    CHECK(bad_prefix == SIZE_MAX, "%s: accepted prefix '%.*s' cannot be completed into an object", what,
          (int)bad_prefix, s);
    CHECK(chunks_agree(s, n, rej, complete), "%s: chunked feeding disagrees on '%.*s'", what, (int)n, s);
}

static void check_str(const char *s) { check_text("hand-made", s, strlen(s)); }

static void test_hand_made(void) {
    static const char *const texts[] = {
        "{}", " \t\r\n{}", "{} ", "{\"a\":1}", "{\"a\":1 }", "{\"a\" : -0.5e+10 , \"b\":[1,2,{}]}",
        "{\"a\":[]}", "{\"a\":[[],[[]],{}]}", "{\"\":\"\"}", "{\"a\":true,\"b\":false,\"c\":null}",
        "{\"n\":0}", "{\"n\":-0}", "{\"n\":1.0e-3}", "{\"n\":12E2}", "{\"n\":[1,-1,0.0,1e1,1E+1,1e-1]}",
        "{\"s\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}", "{\"s\":\"\\u00e9\\u4E2D\\ud83d\\ude00\"}", "{\"s\":\"\\u0000\"}",
        "{\"s\":\"é中😀\x7f\"}", "{\"a\":{\"b\":{\"c\":{}}}}", "{\"a\":1,\"a\":2}",
        /* invalid */
        "", " ", "[]", "\"x\"", "1", "true", "{", "{\"a\"", "{\"a\":", "{\"a\":1", "{\"a\":1,", "{\"a\":1,}",
        "{,}", "{\"a\" 1}", "{a:1}", "{'a':1}", "{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":1e}",
        "{\"a\":-}", "{\"a\":+1}", "{\"a\":0x10}", "{\"a\":1]", "{\"a\":[1}", "{\"a\":[1,]}", "{\"a\":[,1]}",
        "{\"a\":tru}", "{\"a\":True}", "{\"a\":nul}", "{\"a\":nulll}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}",
        "{\"a\":\"\\u12G4\"}", "{\"a\":\"\\ud83d\"}", "{\"a\":\"\\ude00\"}", "{\"a\":\"\\ud83d\\u0041\"}",
        "{\"a\":\"\\ud83dx\"}", "{\"a\":\"tab\there\"}", "{\"a\":\"nl\nhere\"}", "{\"a\":\"\xc3\"}",
        "{\"a\":\"\xc0\xaf\"}", "{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"\xf4\x90\x80\x80\"}", "{\"a\":\"\xff\"}",
        "{\"a\":\"\xe0\x80\xaf\"}", "{\"a\":\"\xf0\x8f\xbf\xbf\"}", "{}{}", "{} x", "{}]", "{\"a\":1}}",
        "{\"a\":[1]]}", "{\"a\":{]}", "{\"a\":[}]}", "{\"a\":1 2}", "{\"a\":\"x\" \"y\"}", "{:1}", "{\"a\"::1}",
    };
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) check_str(texts[i]);
}

/* ---- random texts from jansson, and mutations of them ---------------------- */

static json_t *random_string(void) {
    static const char *const pieces[] = {"a", "Z", " ", "\"", "\\", "/", "\n", "\t", "\x01", "\x1f", "\x7f",
                                         "é", "中", "😀", "{", "}", "[", "]", ":", ",", "0", "\\u"};
    char buf[128];
    size_t n = 0;
    for (int k = (int)(rnd() % 6); k > 0; k--) {
        const char *p = pieces[rnd() % (sizeof pieces / sizeof *pieces)];
        memcpy(buf + n, p, strlen(p));
        n += strlen(p);
    }
    return json_stringn(buf, n);
}

static json_t *random_value(int depth) {
    switch (rnd() % (depth < 5 ? 8 : 6)) {
    case 0: return random_string();
    case 1: return json_integer((json_int_t)rnd() - (1 << 30));
    case 2: return json_real(ldexp((double)rnd() - 2e9, (int)(rnd() % 80) - 40));
    case 3: return json_true();
    case 4: return json_false();
    case 5: return json_null();
    case 6: {
        json_t *a = json_array();
        for (int k = (int)(rnd() % 4); k > 0; k--) json_array_append_new(a, random_value(depth + 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        for (int k = (int)(rnd() % 4); k > 0; k--) {
            json_t *key = random_string();
            json_object_setn_new(o, json_string_value(key), json_string_length(key), random_value(depth + 1));
            json_decref(key);
        }
        return o;
    }
    }
}

/* One edit: delete, insert or replace a byte, or cut the text. */
static size_t mutate(char *s, size_t n) {
    static const char bytes[] = "{}[]:,\" \n\\0123456789.eE+-tfnulx\x00\x1f\x80\xc0\xed\xf5\xff";
    char c = bytes[rnd() % (sizeof bytes - 1)];
    size_t at = n ? rnd() % n : 0;
    switch (rnd() % 4) {
    case 0: if (n) memmove(s + at, s + at + 1, n - at - 1), n--; break;
    case 1: memmove(s + at + 1, s + at, n - at), s[at] = c, n++; break;
    case 2: if (n) s[at] = c; break;
    default: n = at; break;
    }
    return n;
}

static void test_random_texts(void) {
    static const size_t flags[] = {JSON_COMPACT, JSON_INDENT(2), JSON_ENSURE_ASCII, JSON_ESCAPE_SLASH | JSON_COMPACT,
                                   JSON_INDENT(1) | JSON_ENSURE_ASCII | JSON_SORT_KEYS, 0};
    for (int i = 0; i < 400; i++) {
        json_t *o = json_object();
        for (int k = (int)(rnd() % 5); k > 0; k--) {
            char key[16];
            snprintf(key, sizeof key, "k%d", k);
            json_object_set_new(o, key, random_value(1));
        }
        char *text = json_dumps(o, flags[i % (sizeof flags / sizeof *flags)]);
        size_t n = strlen(text);
        check_text("random", text, n);
        char *m = malloc(n + 8);
        for (int k = 0; k < 4; k++) {
            memcpy(m, text, n);
            size_t len = mutate(m, n);
            check_text("mutated", m, len);
        }
        free(m);
        free(text);
        json_decref(o);
    }
    printf("texts: %d judged (%d valid objects), %d with numbers jansson cannot hold\n", n_judged, n_valid,
           n_unjudged);
    CHECK(n_valid > 400 && n_judged - n_valid > 400, "both valid and invalid texts were judged");
}

static void test_limits(void) {
    char deep[256] = "{\"a\":";
    for (int i = 0; i < JSON_GUARD_MAX_DEPTH - 1; i++) strcat(deep, "[");
    json_guard *g = json_guard_new(vocab, object_schema, NULL, 0);
    CHECK(json_guard_feed(g, deep, strlen(deep)) == 0, "nesting up to the limit is accepted");
    CHECK(json_guard_feed(g, "[", 1) == -1 && json_guard_feed(g, "{", 1) == -1, "one more level is rejected");
    CHECK(json_guard_feed(g, "1]", 2) == 0, "and the text goes on");
    json_guard_free(g);

    g = json_guard_new(vocab, object_schema, NULL, 0);
    int ws = 0;
    while (ws < 100 && json_guard_feed(g, "\n", 1) == 0) ws++;
    CHECK(ws == JSON_GUARD_MAX_WS_RUN, "leading whitespace is bounded: %d", ws);
    static const char *const pieces[] = {"{", "\"a\"", ":", "[", "1", ",", "true", "]", "}"};
    for (size_t i = 0; i < sizeof pieces / sizeof *pieces; i++) {
        CHECK(json_guard_feed(g, pieces[i], strlen(pieces[i])) == 0, "'%s' is accepted", pieces[i]);
        if (i + 1 == sizeof pieces / sizeof *pieces) break;
        for (ws = 0; ws < 100 && json_guard_feed(g, " ", 1) == 0;) ws++;
        CHECK(ws == JSON_GUARD_MAX_WS_RUN, "a run of whitespace after '%s' is bounded: %d", pieces[i], ws);
    }
    for (ws = 0; ws < 100 && json_guard_feed(g, " ", 1) == 0;) ws++;
    CHECK(ws == JSON_GUARD_MAX_TRAILING_WS && json_guard_complete(g), "trailing whitespace is bounded: %d", ws);
    json_guard_free(g);
    g = json_guard_new(vocab, object_schema, NULL, 0);
    char digits[64];
    memset(digits, '7', sizeof digits);
    CHECK(json_guard_feed(g, "{\"a\":-", 6) == 0 && json_guard_feed(g, digits, JSON_GUARD_MAX_DIGITS) == 0 &&
          json_guard_feed(g, "7", 1) == -1 && json_guard_feed(g, ".", 1) == 0 &&
          json_guard_feed(g, digits, JSON_GUARD_MAX_DIGITS) == 0 && json_guard_feed(g, "7", 1) == -1 &&
          json_guard_feed(g, "e+", 2) == 0 && json_guard_feed(g, digits, JSON_GUARD_MAX_EXP_DIGITS) == 0 &&
          json_guard_feed(g, "7", 1) == -1 && json_guard_feed(g, "}", 1) == 0,
          "the digits of a number are bounded, and the number can still end");
    json_guard_free(g);
    g = json_guard_new(vocab, object_schema, NULL, 0);
    char spaces[200];
    memset(spaces, ' ', sizeof spaces);
    CHECK(json_guard_feed(g, "{\"", 2) == 0 && json_guard_feed(g, spaces, sizeof spaces) == 0,
          "whitespace inside a string is not bounded");
    json_guard_free(g);
}

/* ---- the real vocabulary ------------------------------------------------------ */

/* The mask, compared with trying every token on its own. */
static void check_mask(const qwenc_tokenizer *t, int vocab_size, const char *text, const int32_t *eos, int n_eos) {
    json_guard *g = json_guard_new(vocab, object_schema, eos, n_eos);
    CHECK(json_guard_feed(g, text, strlen(text)) == 0, "mask: '%s' is a valid prefix", text);
    float *logits = malloc((size_t)vocab_size * sizeof *logits);
    for (int i = 0; i < vocab_size; i++) logits[i] = (float)(i % 7);
    json_guard_mask(g, logits);
    int wrong = 0, allowed = 0, first_wrong = -1;
    for (int32_t id = 0; id < vocab_size; id++) {
        int want;
        size_t len = 0;
        const char *b = qwenc_token_bytes(t, id, &len);
        int eos_id = 0;
        for (int k = 0; k < n_eos; k++) eos_id |= eos[k] == id;
        if (eos_id) want = json_guard_complete(g);
        else want = b && len && !qwenc_token_is_added(t, id) && json_guard_allows_bytes(g, b, len);
        int got = isfinite(logits[id]) && logits[id] == (float)(id % 7);
        if (got != want && wrong++ == 0) first_wrong = id;
        if (!isfinite(logits[id]) && logits[id] > 0) wrong++;
        allowed += got;
    }
    CHECK(wrong == 0, "mask after '%s': %d ids differ from trying each token (first %d)", text, wrong, first_wrong);
    CHECK(allowed > 0, "mask after '%s': something is allowed", text);
    json_guard_free(g);
    free(logits);
}

static void test_mask(const qwenc_tokenizer *t, int vocab_size, const int32_t *eos) {
    static const char *const prefixes[] = {"", "  ", "{", "{\"", "{\"na", "{\"name\"", "{\"name\":", "{\"a\": \"x",
                                           "{\"a\": \"\\", "{\"a\": \"\\u00", "{\"a\": \"\\ud83d", "{\"a\":\"\xe4",
                                           "{\"a\":\"\xf0\x9f", "{\"a\": 1", "{\"a\": -", "{\"a\": 1.5e",
                                           "{\"a\": [", "{\"a\": [1, 2", "{\"a\": t", "{\"a\": {}", "{}", "{} "};
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) check_mask(t, vocab_size, prefixes[i], eos, 2);
    json_guard *g = json_guard_new(vocab, object_schema, eos, 2);
    CHECK(json_guard_accept(g, eos[0]) == -1, "eos is rejected before the object is complete");
    CHECK(json_guard_accept(g, qwenc_token_id(t, "<think>")) == -1, "an added token is rejected");
    CHECK(json_guard_accept(g, vocab_size - 1) == -1 && json_guard_accept(g, vocab_size) == -1 &&
          json_guard_accept(g, -1) == -1, "ids beyond the tokenizer are rejected");
    CHECK(json_guard_accept(g, qwenc_token_id(t, "{")) == 0 && !json_guard_complete(g), "a token that opens");
    CHECK(json_guard_accept(g, qwenc_token_id(t, "]")) == -1, "a token rejected mid-object...");
    CHECK(json_guard_accept(g, qwenc_token_id(t, "\"")) == 0, "...leaves the state as it was");
    json_guard_feed(g, "a\":1}", 5);
    CHECK(json_guard_complete(g) && json_guard_accept(g, eos[1]) == 0, "eos is accepted once complete");
    json_guard_free(g);
}

/* Random logits with a bias toward closing that grows each step: every
 * draw is valid as far as it went, and the ones that ended on eos parse. */
static void test_random_generation(const qwenc_tokenizer *t, int vocab_size, const int32_t *eos, int draws) {
    float *row = malloc((size_t)vocab_size * sizeof *row), *scratch = malloc((size_t)vocab_size * sizeof *row);
    int32_t *closing = malloc((size_t)vocab_size * sizeof *closing);
    int n_closing = 0;
    for (int32_t id = 0; id < vocab_size; id++) {
        size_t len = 0;
        const char *b = qwenc_token_bytes(t, id, &len);
        if (b && (memchr(b, '}', len) || memchr(b, ']', len) || memchr(b, '"', len))) closing[n_closing++] = id;
    }
    closing[n_closing++] = eos[0];
    int completed = 0, invalid = 0, rejected = 0;
    char *text = malloc(64 * 1024);
    for (int d = 0; d < draws; d++) {
        for (int i = 0; i < vocab_size; i++) row[i] = (float)(rnd() % 8000) / 1000.0f - 4.0f;
        qwenc_sampler_params p;
        qwenc_sampler_params_init(&p);
        p.temperature = 1.0f;
        p.top_k = 40;
        p.seed = (uint64_t)d;
        qwenc_sampler *s = NULL;
        qwenc_sampler_new(&p, &s, NULL, 0);
        json_guard *g = json_guard_new(vocab, object_schema, eos, 2);
        size_t len = 0;
        int ended = 0;
        for (int step = 0; step < 200 && !ended; step++) {
            int32_t id = json_guard_sample(g, s, row, scratch);
            if (id < 0 || json_guard_accept(g, id)) {
                rejected++;
                break;
            }
            ended = id == eos[0] || id == eos[1];
            size_t n = 0;
            const char *b = ended ? "" : qwenc_token_bytes(t, id, &n);
            if (len + n < 64 * 1024) memcpy(text + len, b, n), len += n;
            for (int k = 0; k < n_closing; k++) row[closing[k]] += 0.04f;
            for (int k = 0; k < 500; k++) row[rnd() % (uint32_t)vocab_size] = (float)(rnd() % 8000) / 1000.0f - 4.0f;
        }
        size_t full_len;
        char *full = ended ? NULL : complete_text(text, len, &full_len);
        if (ended) completed++, invalid += jansson_object(text, len) == 0;
        else invalid += !full || jansson_object(full, full_len) == 0;
        if (invalid == 1 && d < draws) fprintf(stderr, "draw %d: '%.*s'\n", d, (int)len, text), invalid++;
        free(full);
        json_guard_free(g);
        qwenc_sampler_free(s);
    }
    printf("random logits: %d of %d draws completed an object within 200 tokens\n", completed, draws);
    CHECK(rejected == 0, "json_guard_sample always found an allowed token: %d failures", rejected);
    CHECK(invalid == 0, "every draw is a valid object or a valid prefix of one");
    CHECK(completed >= draws / 2, "most draws complete with the closing bias: %d of %d", completed, draws);
    free(text);
    free(row);
    free(scratch);
    free(closing);
}

/* ---- the demo model ------------------------------------------------------------ */

static void generate_json(qwenc_model *m, const int32_t *prompt, int n_prompt, float temperature, uint64_t seed) {
    char err[512];
    qwenc_model_info in;
    qwenc_model_get_info(m, &in);
    qwenc_gen_defaults d;
    qwenc_model_gen_defaults(m, &d);
    qwenc_tokenizer *t = qwenc_model_tokenizer(m);
    json_vocab *v = json_vocab_new(t, in.vocab_size);
    int32_t eos[8];
    for (int i = 0; i < d.n_eos; i++) eos[i] = d.eos_ids[i];
    json_guard *g = json_guard_new(v, object_schema, eos, d.n_eos);
    qwenc_sampler_params p;
    qwenc_sampler_params_init(&p);
    p.temperature = temperature;
    p.top_k = 20;
    p.top_p = 0.95f;
    p.seed = seed;
    /* the 10M-parameter demo model falls into loops ("0000..."): the
     * penalties keep it moving, as a server's client would ask */
    p.repetition_penalty = 1.3f;
    p.frequency_penalty = 0.5f;
    qwenc_sampler *s = NULL;
    qwenc_session *ses = NULL;
    float *scratch = malloc((size_t)in.vocab_size * sizeof *scratch);
    int rc = qwenc_sampler_new(&p, &s, err, sizeof err);
    if (!rc) rc = qwenc_session_new(m, 2048, &ses, err, sizeof err);
    if (!rc) rc = qwenc_session_eval(ses, prompt, n_prompt, NULL, err, sizeof err);
    for (int i = 0; !rc && i < n_prompt; i++) qwenc_sampler_accept(s, prompt[i], 1);
    int32_t ids[512];
    int n = 0, ended = 0;
    while (!rc && n < 400) {
        int32_t id = json_guard_sample(g, s, qwenc_session_logits(ses), scratch);
        CHECK(id >= 0 && json_guard_accept(g, id) == 0, "demo: the guard's own draw is accepted");
        if (id < 0) break;
        qwenc_sampler_accept(s, id, 0);
        int eos_id = 0;
        for (int i = 0; i < d.n_eos; i++) eos_id |= id == eos[i];
        if (eos_id) { ended = 1; break; }
        ids[n++] = id;
        rc = qwenc_session_eval(ses, &id, 1, NULL, err, sizeof err);
    }
    CHECK(rc == 0, "demo: %s", err);
    char *text = NULL;
    size_t len = 0;
    qwenc_detokenize(t, ids, (size_t)n, 0, &text, &len, err, sizeof err);
    printf("demo (temperature %.1f, seed %d): %s\n", temperature, (int)seed, text);
    CHECK(ended && json_guard_complete(g), "demo: the object is complete within 400 tokens");
    CHECK(text && jansson_object(text, len) == 1, "demo: the output parses as an object: '%s'", text);
    free(text);
    free(scratch);
    qwenc_session_free(ses);
    qwenc_sampler_free(s);
    json_guard_free(g);
    json_vocab_free(v);
}

static void test_demo_model(const char *root) {
    char dir[4096], err[512];
    snprintf(dir, sizeof dir, "%s/models/qwenc-demo", root);
    qwenc_model *m = check_open_model(dir, 2);
    if (!m) return;
    const char *req = "{\"messages\": [{\"role\": \"user\", \"content\": \"Reply in JSON: an object with the name and "
                      "age of a person.\"}], \"add_generation_prompt\": true, \"enable_thinking\": false}";
    char *prompt = NULL;
    int32_t *ids = NULL;
    size_t n = 0;
    qwenc_tokenizer *t = qwenc_model_tokenizer(m);
    int rc = qwenc_chat_render(t, req, &prompt, err, sizeof err);
    if (!rc) rc = qwenc_tokenize(t, prompt, strlen(prompt), &ids, &n, err, sizeof err);
    CHECK(rc == 0, "demo prompt: %s", err);
    if (!rc) {
        generate_json(m, ids, (int)n, 0.0f, 0);
        for (uint64_t seed = 1; seed <= 3; seed++) generate_json(m, ids, (int)n, 0.7f, seed);
    }
    free(prompt);
    free(ids);
    qwenc_model_free(m);
}

int main(void) {
    char err[512];
    qwenc_tokenizer *t = NULL;
    int rc = qwenc_tokenizer_open(check_env("QWENC_TOKENIZER_DIR"), &t, err, sizeof err);
    CHECK(rc == 0, "tokenizer: %s", err);
    if (rc) return check_summary();
    int vocab_size = qwenc_tokenizer_n_tokens(t) + 64;  /* model rows beyond the tokenizer, as Qwen3 has */
    json_vocab *v = json_vocab_new(t, vocab_size);
    CHECK(v != NULL, "json_vocab_new");
    CHECK(json_vocab_new(t, 0) == NULL && json_guard_new(NULL, NULL, NULL, 0) == NULL && json_guard_new(v, NULL, NULL, 0) == NULL, "bad arguments give NULL");
    vocab = v;
    CHECK(json_schema_compile_text("{\"type\": \"object\"}", &object_schema, err, sizeof err) == 0, "%s", err);
    int32_t eos[2] = {qwenc_token_id(t, "<|im_end|>"), qwenc_token_id(t, "<|endoftext|>")};

    test_hand_made();
    test_random_texts();
    test_limits();
    test_mask(t, vocab_size, eos);
    test_random_generation(t, vocab_size, eos, getenv("QWENC_SANITIZED") ? 40 : 200);
    test_demo_model(check_env("QWENC_ROOT"));

    json_schema_free(object_schema);
    json_vocab_free(v);
    qwenc_tokenizer_free(t);
    return check_summary();
}
