/* The paged KV cache: blocks, sharing, copy-on-write, the prefix index,
 * promises; and through the public API, batches of sessions and prefix
 * reuse giving bit for bit what each session computes alone. */
#include "qwenc.h"
#include "model/kv_cache.h"

#include "check.h"

#include <stdlib.h>
#include <string.h>

#define B QW_KV_BLOCK

static void fill_tokens(int32_t *t, int n, int seed) {
    for (int i = 0; i < n; i++) t[i] = (int32_t)((i * 7919 + seed * 104729) % 4000);
}

static void test_pool_blocks(void) {
    qw_kv_pool p;
    CHECK(qw_kv_pool_init(&p, 2, 8, 4) == 0, "pool init");
    qw_kv_seq a, b;
    qw_kv_seq_init(&a, &p, 4 * B);
    qw_kv_seq_init(&b, &p, 4 * B);
    int32_t tok[4 * B];
    fill_tokens(tok, 4 * B, 1);

    CHECK(qw_kv_seq_prepare(&a, 0, 2 * B + 5) == 0 && a.n_blocks == 3, "a takes 3 blocks");
    for (int l = 0; l < 2; l++)
        for (int i = 0; i < 2 * B + 5; i++)
            qw_kv_block(&p, p.k, l, a.blocks[i / B])[i % B] = (float)(1000 * l + i);
    qw_kv_seq_index(&a, tok, 2 * B + 5);
    CHECK(p.index.cached[a.blocks[0]] && p.index.cached[a.blocks[1]] && !p.index.cached[a.blocks[2]],
          "full blocks indexed, the partial one not");

    int same = -1;
    CHECK(qw_kv_prefix_match(&b, tok, 3 * B, &same) == 2 && same == 0, "b sees a's two full blocks");
    CHECK(qw_kv_seq_attach(&b, tok, 3 * B) == 2 * B && b.blocks[1] == a.blocks[1] && p.refs[a.blocks[1]] == 2,
          "b shares them");
    int32_t other[B];
    fill_tokens(other, B, 2);
    CHECK(qw_kv_prefix_match(&b, other, B, &same) == 0, "other tokens match nothing");

    /* b rewrites inside the shared block: it gets a copy, a keeps its rows */
    qw_kv_seq_truncate(&b, B + 10);
    CHECK(qw_kv_seq_prepare(&b, B + 10, 1) == 0 && b.blocks[1] != a.blocks[1] && p.refs[a.blocks[1]] == 1,
          "copy on write");
    CHECK(qw_kv_block(&p, p.k, 1, b.blocks[1])[9] == 1000 + B + 9, "the copy holds the rows before");
    CHECK(qw_kv_pool_available(&p) == 0, "all four blocks held");
    CHECK(qw_kv_seq_prepare(&b, B + 11, B) != 0, "a full pool refuses");

    /* a goes away: its indexed blocks stay cached; a newcomer still finds them */
    qw_kv_seq_free(&a);
    CHECK(p.n_evictable == 1 && p.n_free == 1 && qw_kv_pool_available(&p) == 2,
          "released: one block cached (the other is b's), one free");
    qw_kv_seq c;
    qw_kv_seq_init(&c, &p, 4 * B);
    CHECK(qw_kv_seq_attach(&c, tok, 4 * B) == 2 * B, "cached blocks reused after their owner left");
    qw_kv_seq_free(&c);

    /* promises: b is promised two blocks; nobody else may take them */
    CHECK(qw_kv_seq_promise(&b, B + 11, 4 * B) == 0 && b.promise == 2, "promise of two blocks");
    qw_kv_seq d;
    qw_kv_seq_init(&d, &p, 4 * B);
    CHECK(qw_kv_seq_prepare(&d, 0, 1) != 0, "promised blocks are not given to others");
    CHECK(qw_kv_seq_prepare(&b, B + 11, 3 * B - 11) == 0 && b.promise == 0 && b.n_blocks == 4,
          "the promised blocks come, evicting the cache");
    CHECK(qw_kv_prefix_match(&d, tok, 4 * B, &same) == 1, "evicted blocks are gone from the index");
    qw_kv_seq_free(&d);
    qw_kv_seq_free(&b);
    CHECK(p.n_free + p.n_evictable == 4 && p.n_promised == 0, "everything back");
    qw_kv_pool_free(&p);
}

/* A block whose parent was evicted and reused must not match again. */
static void test_stale_parent(void) {
    qw_kv_pool p;
    qw_kv_pool_init(&p, 1, 4, 2);
    qw_kv_seq a;
    qw_kv_seq_init(&a, &p, 2 * B);
    int32_t tok[2 * B];
    fill_tokens(tok, 2 * B, 3);
    qw_kv_seq_prepare(&a, 0, 2 * B);
    qw_kv_seq_index(&a, tok, 2 * B);
    int parent = a.blocks[0];
    qw_kv_seq_free(&a);  /* both cached; the second (child) is evicted first */
    qw_kv_seq x;
    qw_kv_seq_init(&x, &p, 2 * B);
    qw_kv_seq_prepare(&x, 0, 1);  /* evicts the least recently released: the child */
    int same;
    CHECK(x.blocks[0] != parent && qw_kv_prefix_match(&x, tok, 2 * B, &same) == 1, "the tail goes first");
    qw_kv_seq_prepare(&x, 1, B);  /* now the parent goes too */
    CHECK(qw_kv_prefix_match(&x, tok, 2 * B, &same) == 0, "nothing after the parent was reused");
    qw_kv_seq_free(&x);
    qw_kv_pool_free(&p);
}

/* ---- through the public API ---- */

static int greedy(const float *lg, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (lg[i] > lg[b]) b = i;
    return b;
}

/* Three sessions of one pool prefilled and decoded in batches equal three
 * sessions run alone, bit for bit. */
static void test_batch_equals_alone(qwenc_model *m, const char *name) {
    enum { N = 3, STEPS = 12 };
    qwenc_model_info in;
    qwenc_model_get_info(m, &in);
    int len[N] = {37, 5, 70};
    int32_t prompt[N][70], gen[N][STEPS];
    for (int i = 0; i < N; i++) fill_tokens(prompt[i], len[i], 10 + i);
    char err[256];
    qwenc_kv_pool *pool = NULL;
    qwenc_session *s[N] = {0}, *alone[N] = {0};
    int rc = qwenc_kv_pool_new(m, 3 * 256, &pool, err, sizeof err);
    for (int i = 0; !rc && i < N; i++) rc = qwenc_session_new_in_pool(m, pool, 256, &s[i], err, sizeof err);
    for (int i = 0; !rc && i < N; i++) rc = qwenc_session_new(m, 256, &alone[i], err, sizeof err);
    CHECK(rc == 0, "%s: sessions: %s", name, err);
    if (rc) goto out;
    qwenc_batch_item items[N];
    for (int i = 0; i < N; i++) items[i] = (qwenc_batch_item){s[i], prompt[i], len[i], 1};
    rc = qwenc_eval_batch(items, N, err, sizeof err);
    for (int step = 0; !rc && step < STEPS; step++) {
        for (int i = 0; i < N; i++) {
            gen[i][step] = greedy(qwenc_session_logits(s[i]), in.vocab_size);
            items[i] = (qwenc_batch_item){s[i], &gen[i][step], 1, 1};
        }
        rc = qwenc_eval_batch(items, N, err, sizeof err);
    }
    CHECK(rc == 0, "%s: batch: %s", name, err);
    int same = 1;
    for (int i = 0; !rc && i < N; i++) {
        rc = qwenc_session_eval(alone[i], prompt[i], len[i], NULL, err, sizeof err);
        for (int step = 0; !rc && step < STEPS; step++) {
            const float *lg = qwenc_session_logits(alone[i]);
            same &= greedy(lg, in.vocab_size) == gen[i][step];
            rc = qwenc_session_eval(alone[i], &gen[i][step], 1, NULL, err, sizeof err);
        }
        same &= !memcmp(qwenc_session_logits(alone[i]), qwenc_session_logits(s[i]), in.vocab_size * sizeof(float));
    }
    CHECK(rc == 0 && same, "%s: batched prefill + decode equals each session alone, bit for bit (%s)", name, err);
out:
    for (int i = 0; i < N; i++) qwenc_session_free(s[i]), qwenc_session_free(alone[i]);
    qwenc_kv_pool_free(pool);
}

/* A second session starting with the same 100 tokens takes 96 of them (three
 * blocks) from the cache, also after the first is gone, and its logits equal
 * a cold run's. */
static void test_prefix_reuse(qwenc_model *m) {
    qwenc_model_info in;
    qwenc_model_get_info(m, &in);
    int32_t ids[120];
    fill_tokens(ids, 120, 5);
    char err[256];
    qwenc_kv_pool *pool = NULL;
    qwenc_session *a = NULL, *b = NULL, *cold = NULL;
    int rc = qwenc_kv_pool_new(m, 1024, &pool, err, sizeof err);
    if (!rc) rc = qwenc_session_new_in_pool(m, pool, 512, &a, err, sizeof err);
    if (!rc) rc = qwenc_session_new_in_pool(m, pool, 512, &b, err, sizeof err);
    if (!rc) rc = qwenc_session_new(m, 512, &cold, err, sizeof err);
    if (!rc) rc = qwenc_session_eval(a, ids, 100, NULL, err, sizeof err);
    int32_t other[120];
    memcpy(other, ids, sizeof other);
    other[110] = 7;
    int reused = -1;
    if (!rc) rc = qwenc_session_sync(b, other, 120, &reused, err, sizeof err);
    if (!rc) rc = qwenc_session_eval(cold, other, 120, NULL, err, sizeof err);
    CHECK(rc == 0 && reused == 3 * B, "reused %d of a 100-token shared prefix (%s)", reused, err);
    CHECK(rc == 0 && !memcmp(qwenc_session_logits(b), qwenc_session_logits(cold), in.vocab_size * sizeof(float)),
          "logits after reuse equal a cold run's");
    qwenc_session_free(a);
    a = NULL;
    qwenc_kv_pool_stats st;
    qwenc_kv_pool_get_stats(pool, &st);
    CHECK(st.n_held == 4 && st.n_cached >= 0 && st.n_held + st.n_cached + st.n_free == st.n_blocks,
          "stats: b holds 4 blocks (held %lld cached %lld free %lld)", (long long)st.n_held, (long long)st.n_cached,
          (long long)st.n_free);
    if (!rc) rc = qwenc_session_new_in_pool(m, pool, 512, &a, err, sizeof err);
    reused = -1;
    if (!rc) rc = qwenc_session_sync(a, ids, 120, &reused, err, sizeof err);
    CHECK(rc == 0 && reused == 3 * B, "after the owner left: reused %d (%s)", reused, err);
    /* its own positions count at token granularity */
    if (!rc) rc = qwenc_session_sync(a, ids, 119, &reused, err, sizeof err);
    CHECK(rc == 0 && reused == 118, "own prefix reused to the token: %d", reused);
    qwenc_session_free(a); qwenc_session_free(b); qwenc_session_free(cold);
    qwenc_kv_pool_free(pool);
}

static void test_full_pool_and_errors(qwenc_model *m) {
    char err[256];
    qwenc_kv_pool *pool = NULL, *other = NULL;
    qwenc_session *a = NULL, *b = NULL, *c = NULL;
    int rc = qwenc_kv_pool_new(m, 2 * B, &pool, err, sizeof err);
    if (!rc) rc = qwenc_kv_pool_new(m, B, &other, err, sizeof err);
    if (!rc) rc = qwenc_session_new_in_pool(m, pool, 4 * B, &a, err, sizeof err);
    if (!rc) rc = qwenc_session_new_in_pool(m, pool, 4 * B, &b, err, sizeof err);
    if (!rc) rc = qwenc_session_new_in_pool(m, other, B, &c, err, sizeof err);
    CHECK(rc == 0, "setup: %s", err);
    if (rc) goto out;
    int32_t ids[3 * B];
    fill_tokens(ids, 3 * B, 9);
    err[0] = 0;
    CHECK(qwenc_session_eval(a, ids, 3 * B, NULL, err, sizeof err) == QWENC_ENOMEM && qwenc_session_n_past(a) == 0,
          "more than the pool: ENOMEM, nothing changed (%s)", err);
    CHECK(strstr(err, "KV cache is full") != NULL, "error names the cache: %s", err);
    CHECK(qwenc_session_reserve(a, 2 * B, err, sizeof err) == 0, "a reserves the whole pool");
    CHECK(qwenc_session_reserve(b, 1, err, sizeof err) == QWENC_ENOMEM, "b cannot reserve: %s", err);
    CHECK(qwenc_session_eval(b, ids, 1, NULL, err, sizeof err) == QWENC_ENOMEM, "b cannot take a's blocks");
    CHECK(qwenc_session_eval(a, ids, 2 * B, NULL, err, sizeof err) == 0, "a gets its reserved blocks");
    qwenc_batch_item two[2] = {{a, ids, 1, 1}, {c, ids, 1, 1}};
    CHECK(qwenc_eval_batch(two, 2, err, sizeof err) == QWENC_EINVAL && strstr(err, "another KV pool"),
          "sessions of two pools: %s", err);
    qwenc_batch_item twice[2] = {{b, ids, 1, 1}, {b, ids, 1, 1}};
    CHECK(qwenc_eval_batch(twice, 2, err, sizeof err) == QWENC_EINVAL, "a session twice: %s", err);
    int32_t bad = -3;
    qwenc_batch_item badid[1] = {{b, &bad, 1, 1}};
    CHECK(qwenc_eval_batch(badid, 1, err, sizeof err) == QWENC_ERANGE, "bad id in a batch: %s", err);
    qwenc_kv_pool *none = NULL;
    CHECK(qwenc_kv_pool_new(m, 0, &none, err, sizeof err) == QWENC_EINVAL && !none, "a pool of 0 positions: %s", err);
out:
    qwenc_session_free(a); qwenc_session_free(b); qwenc_session_free(c);
    qwenc_kv_pool_free(pool); qwenc_kv_pool_free(other);
}

int main(void) {
    const char *data = check_env("QWENC_TEST_DATA");
    test_pool_blocks();
    test_stale_parent();
    const char *names[] = {"qwen3-tiny", "qwen3-moe-tiny", "qwen2-tiny"};
    for (int i = 0; i < 3; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/models/%s", data, names[i]);
        qwenc_model *m = check_open_model(path, 2);
        if (!m) continue;
        test_batch_equals_alone(m, names[i]);
        if (i == 0) {
            test_prefix_reuse(m);
            test_full_pool_and_errors(m);
        }
        qwenc_model_free(m);
    }
    return check_summary();
}
