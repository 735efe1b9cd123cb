/* A loaded model: config, mapped checkpoint, bound weights, compute
 * resources. Read-only after load; sessions share it. */
#ifndef QW_MODEL_MODEL_H
#define QW_MODEL_MODEL_H

#include "format/config.h"
#include "format/safetensors.h"
#include "kernels/backend.h"
#include "model/kv_cache.h"
#include "model/weights.h"
#include "qwenc.h"

struct qwenc_model {
    char *dir;
    qw_config cfg;
    qw_checkpoint ck;
    qw_weights w;
    const qw_backend *be;
    qw_pool *pool;
    float *inv_freq;            /* head_dim / 2 RoPE frequencies */
    qwenc_tokenizer *tokenizer; /* NULL when the directory has none */
};

/* Longest batch a session evaluates in one forward pass; longer prompts are split. */
#define QW_MAX_BATCH 512

/* The activations of a forward pass, kept by the session between calls and
 * grown only when a batch is longer than any before (so decoding allocates
 * nothing). Zero-initialize; qw_forward_scratch_free releases. */
typedef struct {
    int cap, cap_out;  /* tokens the buffers hold; logit rows `out` holds */
    float *x;     /* [n][hidden] the residual stream */
    float *xn;    /* [n][hidden] normalized input of a block */
    float *q;     /* [n][q_dim] */
    float *k, *v; /* [n][kv_dim] new keys and values, before they go to the cache */
    float *att;   /* [n][q_dim] attention output before o_proj */
    float *gate;  /* [n][inter] */
    float *up;    /* [n][inter] */
    float *tmp;   /* [n][hidden] block output before the residual add */
    float *out;   /* [cap_out][vocab] logits of several sequences */
    int *pos;     /* [n] each token's position */
    int32_t *ids; /* [n] */
    const int32_t **tables; /* [n] each token's block table */
} qw_forward_scratch;

void qw_forward_scratch_free(qw_forward_scratch *s);

/* One sequence's part of a batch: ids[0..n) at positions n_past.., their
 * keys and values appended to kv. logits (NULL: not wanted) receives the
 * last token's row of vocab_size floats, or all n rows when logits_all. */
typedef struct {
    qw_kv_seq *kv;
    int n_past;
    const int32_t *ids;
    int n;
    float *logits;
    int logits_all;
} qw_forward_seq;

/* Evaluates several sequences (all in pool) in one pass: every weight
 * matrix is read once for all their tokens; attention is per sequence. Each
 * token's result is bit-identical to evaluating its sequence alone.
 * logits_all is allowed only for a batch of one sequence. Blocks for the new
 * positions are taken first: a full pool fails with nothing computed. */
int qw_forward(const qwenc_model *m, const qw_forward_seq *seqs, int n_seqs, qw_forward_scratch *s, char *err,
               size_t errlen);

#endif
