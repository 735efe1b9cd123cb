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

/* Longest batch evaluated in one forward pass; longer prompts are split. */
#define QW_MAX_BATCH 512

/* The activations of a forward pass, kept by the session between calls and
 * grown only when a batch is longer than any before (so decoding allocates
 * nothing). Zero-initialize; qw_forward_scratch_free releases. */
typedef struct {
    int cap;      /* tokens the buffers hold */
    float *x;     /* [n][hidden] the residual stream */
    float *xn;    /* [n][hidden] normalized input of a block */
    float *q;     /* [n][q_dim] */
    float *att;   /* [n][q_dim] attention output before o_proj */
    float *gate;  /* [n][inter] */
    float *up;    /* [n][inter] */
    float *tmp;   /* [n][hidden] block output before the residual add */
    int *pos;     /* [n] */
} qw_forward_scratch;

void qw_forward_scratch_free(qw_forward_scratch *s);

/* Evaluates ids[0..n) at positions n_past.. (n <= QW_MAX_BATCH), appending
 * their keys and values to kv, with activations in s. logits receives n rows
 * of vocab_size when logits_all, else only the last row; NULL skips the
 * lm_head (a prompt chunk whose logits nobody reads). */
int qw_forward(const qwenc_model *m, qw_kv_cache *kv, qw_forward_scratch *s, int n_past, const int32_t *ids, int n,
               float *logits, int logits_all, char *err, size_t errlen);

#endif
