/* qwenc: an inference engine for the Qwen model family.
 *
 * The whole public API. Front ends (CLI, server) use only this header; tensor
 * types never cross it.
 *
 * Conventions:
 *   - Every fallible call returns 0 or a negative QWENC_E* code and writes one
 *     line naming what failed and where into err[errlen] (err may be NULL).
 *   - The library never prints, never calls exit() or abort().
 *   - Options structs start with a `size` field (set it to sizeof the struct)
 *     so that they can grow without breaking callers.
 */
#ifndef QWENC_H
#define QWENC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    QWENC_OK = 0,
    QWENC_EINVAL = -1,   /* bad argument or option */
    QWENC_EIO = -2,      /* a file could not be opened, read or mapped */
    QWENC_EFORMAT = -3,  /* a file is malformed or inconsistent */
    QWENC_ENOMEM = -4,   /* out of memory */
    QWENC_ERANGE = -5,   /* token id, position or context length out of range */
    QWENC_EUNSUPPORTED = -6, /* valid input this build cannot handle */
};

const char *qwenc_version(void);

/* ---- model ------------------------------------------------------------ */

typedef struct qwenc_model qwenc_model;

typedef struct {
    size_t size;      /* sizeof(qwenc_model_params) */
    int n_threads;    /* worker threads for compute; <= 0 means 1 */
    /* When set, the weights are read into memory at open (instead of page by
     * page during the first tokens) and progress is reported as they are. */
    void (*progress)(void *ctx, int64_t done_bytes, int64_t total_bytes);
    void *progress_ctx;
    /* A tokenizer (directory or .gguf, as qwenc_tokenizer_open takes) used
     * instead of the model's own; the only way a synthetic model gets one.
     * NULL: the model's own, if it has one. */
    const char *tokenizer;
    /* Quantize at load: "f32", "f16", "bf16", "q8_0", "q4_0", "q4_k",
     * "q6_k" or "q4_k_m" converts the weights in memory, on the model's
     * threads, to what qwenc_model_save_gguf with that type would write
     * (matrices in the type, or llama.cpp's Q4_K_M mix; norms, biases and
     * the MoE router f32), so the model equals that file loaded, bit for
     * bit. progress, when set, then reports the conversion. NULL: the
     * weights as stored. An unknown type is QWENC_EINVAL. */
    const char *quant;
} qwenc_model_params;

void qwenc_model_params_init(qwenc_model_params *p);

/* path: a model directory in Hugging Face layout (config.json + safetensors). */
int qwenc_model_open(const char *path, const qwenc_model_params *params,
                     qwenc_model **out, char *err, size_t errlen);
void qwenc_model_free(qwenc_model *m);

/* A random-weight model of a real Qwen shape, built in memory (no files), for
 * benchmarks and tests. shape: "qwen3-0.6b", "qwen3-1.7b", "qwen3-4b",
 * "qwen3-8b", "qwen3-14b", "qwen3-30b-a3b", "qwen2.5-0.5b", "qwen2.5-7b", or
 * the tiny test shapes "tiny-qwen3", "tiny-qwen3-moe", "tiny-qwen2". dtype:
 * "f32", "bf16", "q8_0" or "q4_0" for the matrices (params->quant then
 * converts them, as for a model from files) (norms, biases and the MoE
 * router are f32, as in GGUF files). Weights are about N(0, 0.02), norm gains
 * 1; the same seed gives the same weights whatever the thread count. The
 * model has no tokenizer and neutral generation defaults (greedy, no eos).
 * Unknown shape or dtype: QWENC_EINVAL; more bytes than the machine has:
 * QWENC_ENOMEM. */
int qwenc_model_open_synthetic(const char *shape, const char *dtype, uint64_t seed,
                               const qwenc_model_params *params, qwenc_model **out, char *err,
                               size_t errlen);

typedef struct {
    const char *arch;         /* "qwen3", "qwen2", "qwen3_moe" */
    int vocab_size;           /* rows of the output logits */
    int hidden_size;
    int intermediate_size;
    int n_layers;
    int n_heads;
    int n_kv_heads;
    int head_dim;
    int n_experts;            /* 0 for dense models */
    int n_experts_per_tok;
    int moe_intermediate_size;
    int max_position_embeddings;
    int tied_embeddings;
    double rope_theta;
    double rms_norm_eps;
    int64_t n_params;         /* all parameters */
    int64_t n_params_active;  /* parameters used per token (== n_params if dense) */
    int64_t weight_bytes;     /* bytes of weights as stored (mapped, not copied) */
    int64_t weight_bytes_per_token; /* bytes of weights one decoded token reads, as stored:
                                       the active experts only, the lm_head, one embedding row */
    const char *weight_dtype; /* dtype of the bulk of the weights, e.g. "bf16" */
    int n_tensors;
    int bos_id, eos_id;       /* from config.json; -1 when absent */
} qwenc_model_info;

void qwenc_model_get_info(const qwenc_model *m, qwenc_model_info *out);

/* Calls fn once per tensor, in file order: name, dtype name, rank, shape. */
void qwenc_model_foreach_tensor(const qwenc_model *m,
                                void (*fn)(void *ctx, const char *name, const char *dtype,
                                           int rank, const int64_t *shape),
                                void *ctx);

/* Writes the model as a GGUF v3 file that llama.cpp loads (arch qwen3,
 * qwen3moe or qwen2; llama.cpp's tensor names; the tokenizer, when the model
 * has one, as tokenizer.ggml.* metadata with the chat template). type is
 * "f32", "f16", "bf16", "q8_0", "q4_0", "q4_k" or "q6_k": the type of the
 * weight matrices (as llama-quantize --pure makes them), or "q4_k_m":
 * llama-quantize's Q4_K_M mix (Q4_K, with Q6_K for the output and for the
 * attn_v and ffn_down of some layers). Vectors, norms and the MoE router
 * stay f32, as llama.cpp's converter keeps them; rows that are not whole
 * blocks fall back as llama.cpp's do (Q4_K -> Q5_0, Q6_K -> Q8_0, else f16).
 * Quantized bytes equal llama.cpp's reference quantizers'. Works from any
 * loaded model, GGUF included. The file appears
 * at path only when complete (written beside it, then renamed). progress
 * (may be NULL) is called with bytes of tensor data written so far. */
int qwenc_model_save_gguf(qwenc_model *m, const char *path, const char *type,
                          void (*progress)(void *ctx, int64_t done_bytes, int64_t total_bytes),
                          void *progress_ctx, char *err, size_t errlen);

/* Scans every floating-point weight tensor for NaN and infinity, on the
 * model's threads (it reads every byte of the weights: about as long as
 * loading them from the page cache). *n_nonfinite receives the number of
 * non-finite weights as dequantized: f32, f16, bf16 (and f64) values, and
 * 32 for each q8_0/q4_0 block whose f16 scale is not finite. first_bad
 * (len bytes; may be NULL) receives the name of the first tensor, in name
 * order, that holds one, or "" when every weight is finite. A model with
 * non-finite weights still loads and runs (its logits may turn to NaN);
 * whether to warn or refuse is the caller's choice. Uses the model's
 * threads, so not while a session of the model evaluates. Returns 0, or
 * QWENC_EINVAL / QWENC_ENOMEM. */
int qwenc_model_check_weights(qwenc_model *m, int64_t *n_nonfinite, char *first_bad, size_t len);

/* Bytes the KV cache of n_ctx positions takes (one session's, or a pool's). */
int64_t qwenc_model_kv_bytes(const qwenc_model *m, int n_ctx);

/* Generation defaults read from generation_config.json (or neutral values). */
typedef struct {
    float temperature, top_p, min_p;
    float repetition_penalty; /* 1 when generation_config.json has none */
    int top_k;
    int do_sample;
    int eos_ids[8];
    int n_eos;
} qwenc_gen_defaults;

void qwenc_model_gen_defaults(const qwenc_model *m, qwenc_gen_defaults *out);

/* ---- KV pool: cache memory shared by sessions --------------------------- */

/* Keys and values live in blocks of a fixed number of positions; a session
 * holds only the blocks its positions need. Full blocks are remembered by
 * the tokens that produced them (the prefix cache): a session whose tokens
 * start the same way takes them instead of computing them again, bit for
 * bit the same as if it had (qwenc_session_reuse_prefix). Blocks no session
 * holds stay cached until the memory is needed, least recently used first.
 * A pool and its sessions are used by one thread at a time; free the
 * sessions before the pool. */
typedef struct qwenc_kv_pool qwenc_kv_pool;

/* A pool of n_positions positions (rounded up to whole blocks); the memory
 * is taken from the system only as blocks are first used. */
int qwenc_kv_pool_new(qwenc_model *m, int64_t n_positions, qwenc_kv_pool **out,
                      char *err, size_t errlen);
void qwenc_kv_pool_free(qwenc_kv_pool *p);

typedef struct {
    int64_t block_positions; /* positions per block */
    int64_t n_blocks;        /* all blocks */
    int64_t n_held;          /* held by sessions */
    int64_t n_cached;        /* held by none, kept for the prefix cache */
    int64_t n_free;          /* never used or given back */
    int64_t n_promised;      /* kept back for sessions' reservations */
} qwenc_kv_pool_stats;

void qwenc_kv_pool_get_stats(const qwenc_kv_pool *p, qwenc_kv_pool_stats *out);

/* ---- session: one sequence and its KV cache ---------------------------- */

typedef struct qwenc_session qwenc_session;

/* A session with a pool of its own, n_ctx positions. n_ctx <= 0 means
 * min(4096, max_position_embeddings); larger than max_position_embeddings
 * is an error. */
int qwenc_session_new(qwenc_model *m, int n_ctx, qwenc_session **out,
                      char *err, size_t errlen);
/* A session drawing its blocks from pool (NULL: a pool of its own), at most
 * n_ctx positions long. */
int qwenc_session_new_in_pool(qwenc_model *m, qwenc_kv_pool *pool, int n_ctx,
                              qwenc_session **out, char *err, size_t errlen);
void qwenc_session_free(qwenc_session *s);

int qwenc_session_n_ctx(const qwenc_session *s);
int qwenc_session_n_past(const qwenc_session *s);

/* Forget everything after the first n_keep positions (0 clears). */
int qwenc_session_truncate(qwenc_session *s, int n_keep, char *err, size_t errlen);

/* Appends n token ids at positions n_past..n_past+n-1, evaluated in one
 * batched pass. If logits_all is non-NULL it receives n * vocab_size floats
 * (one row per position); the last position's logits are always kept and
 * readable with qwenc_session_logits(). */
int qwenc_session_eval(qwenc_session *s, const int32_t *ids, int n, float *logits_all,
                       char *err, size_t errlen);

/* Makes sure the session can grow to n_positions positions (capped at
 * n_ctx) whatever other sessions of its pool do: the blocks are kept back
 * for it. QWENC_ENOMEM, the previous reservation kept, when the pool cannot;
 * n_positions 0 releases the reservation. Without one, an evaluation fails
 * with QWENC_ENOMEM (and changes nothing) when the pool is full. */
int qwenc_session_reserve(qwenc_session *s, int n_positions, char *err, size_t errlen);

/* Evaluates several sessions of one pool in one forward pass: each weight
 * matrix is read once for all their tokens, each session attends to its own
 * keys. Item i appends ids[0..n) to its session, as qwenc_session_eval would,
 * with the same results bit for bit; with logits set, its last position's
 * logits are kept (qwenc_session_logits). At most 256 items, each session
 * once. On error no session has changed. */
typedef struct {
    qwenc_session *session;
    const int32_t *ids;
    int n;
    int logits;
} qwenc_batch_item;

int qwenc_eval_batch(const qwenc_batch_item *items, int n_items, char *err, size_t errlen);

/* Logits of the last evaluated position (vocab_size floats), or NULL. */
const float *qwenc_session_logits(const qwenc_session *s);

/* The ids in the cache, n_past of them (valid until the next call that
 * changes the session). */
const int32_t *qwenc_session_tokens(const qwenc_session *s);

/* Makes the session hold the longest prefix of ids[0..n-1) it can without
 * computing: its own positions that match, or the pool's cached blocks
 * when they reach further (whole blocks). Drops the rest; returns the
 * positions held. The last id is never taken, so that evaluating the rest
 * gives fresh logits. */
int qwenc_session_reuse_prefix(qwenc_session *s, const int32_t *ids, int n);

/* Brings the session to exactly ids[0..n): qwenc_session_reuse_prefix, then
 * evaluates the rest. *n_reused (if non-NULL) receives how many positions
 * were kept. */
int qwenc_session_sync(qwenc_session *s, const int32_t *ids, int n, int *n_reused,
                       char *err, size_t errlen);

/* ---- sampling ----------------------------------------------------------- */

typedef struct {
    size_t size;       /* sizeof(qwenc_sampler_params) */
    float temperature; /* <= 0: greedy */
    int top_k;         /* <= 0: off */
    float top_p;       /* >= 1: off */
    float min_p;       /* <= 0: off */
    uint64_t seed;
    /* Penalties on the tokens given to qwenc_sampler_accept, applied before
     * temperature, top-k, top-p and min-p (as vLLM does). */
    float presence_penalty;   /* in [-2, 2]; 0: off */
    float frequency_penalty;  /* in [-2, 2]; 0: off */
    float repetition_penalty; /* > 0; 1: off */
} qwenc_sampler_params;

void qwenc_sampler_params_init(qwenc_sampler_params *p);

typedef struct qwenc_sampler qwenc_sampler;

int qwenc_sampler_new(const qwenc_sampler_params *p, qwenc_sampler **out, char *err, size_t errlen);
void qwenc_sampler_free(qwenc_sampler *s);
/* Picks a token id from vocab_size logits (ties in greedy go to the lowest
 * id), after the penalties; the logits are not modified. */
int32_t qwenc_sample(qwenc_sampler *s, const float *logits, int vocab_size);

/* Records a token the penalties look at. As vLLM does: repetition_penalty
 * (> 1 discourages; HF/CTRL rule: positive logits divided, negative
 * multiplied) counts prompt and generated tokens; presence and frequency
 * penalties (OpenAI's rule: logit -= presence * [count > 0] + frequency *
 * count) count generated tokens only. Negative ids are ignored. */
void qwenc_sampler_accept(qwenc_sampler *s, int32_t id, int is_prompt);
/* Forgets the accepted tokens (the random generator keeps going). */
void qwenc_sampler_reset(qwenc_sampler *s);

/* Log-softmax of the raw logits: the log-probability of `id`, and the top_n
 * most likely ids with theirs (descending, ties to the lower id) in
 * top_ids/top_logprobs (min(top_n, vocab_size) entries; top_n may be 0).
 * Returns the log-probability of id (-INFINITY when id is out of range). */
float qwenc_logprobs(const float *logits, int vocab_size, int32_t id, int top_n, int32_t *top_ids,
                     float *top_logprobs);

/* ---- tokenizer ---------------------------------------------------------- */

typedef struct qwenc_tokenizer qwenc_tokenizer;

/* path: a directory holding tokenizer.json (+ tokenizer_config.json,
 * chat_template.jinja), or a .gguf file (or any file starting with the GGUF
 * magic) whose tokenizer.* metadata is read instead: tokens, token types,
 * merges, pre-tokenizer name, special-token ids and chat template. Only
 * byte-level BPE ("gpt2") with a known pre-tokenizer ("qwen2") is supported
 * from GGUF. The file is not kept open. */
int qwenc_tokenizer_open(const char *path, qwenc_tokenizer **out, char *err, size_t errlen);
void qwenc_tokenizer_free(qwenc_tokenizer *t);

/* The model's tokenizer, opened with the model when its files are present;
 * NULL when the model directory has none (owned by the model). */
qwenc_tokenizer *qwenc_model_tokenizer(qwenc_model *m);

/* Number of ids the tokenizer knows (vocab + added tokens). */
int qwenc_tokenizer_n_tokens(const qwenc_tokenizer *t);

/* Id of a token given by its exact text ("<|im_end|>", "<tool_call>"), or -1. */
int32_t qwenc_token_id(const qwenc_tokenizer *t, const char *text);

/* 1 for an added token (special or not: <|im_end|>, <think>, <tool_call>),
 * 0 for a vocabulary token or an out-of-range id. */
int qwenc_token_is_added(const qwenc_tokenizer *t, int32_t id);

/* Encodes UTF-8 text (added/special tokens in the text are recognised).
 * *ids is malloc'd; the caller frees it. Invalid UTF-8 is QWENC_EINVAL with
 * the byte offset in err. */
int qwenc_tokenize(const qwenc_tokenizer *t, const char *text, size_t len,
                   int32_t **ids, size_t *n_ids, char *err, size_t errlen);

/* Decodes ids to UTF-8 text (malloc'd, NUL-terminated) the way transformers'
 * decode does: invalid byte sequences become U+FFFD. *text_len (if non-NULL)
 * receives the length, which counts any U+0000 the text contains. */
int qwenc_detokenize(const qwenc_tokenizer *t, const int32_t *ids, size_t n_ids,
                     int skip_special, char **text, size_t *text_len, char *err, size_t errlen);

/* The raw bytes of one token (after byte-level decoding), or NULL if the id
 * is out of range. *len receives the length. */
const char *qwenc_token_bytes(const qwenc_tokenizer *t, int32_t id, size_t *len);

/* Streaming decoder: feed ids one at a time, get back the text that is now
 * complete; an incomplete UTF-8 sequence at the end is held back. */
typedef struct qwenc_detok_stream qwenc_detok_stream;
qwenc_detok_stream *qwenc_detok_stream_new(const qwenc_tokenizer *t, int skip_special);
void qwenc_detok_stream_free(qwenc_detok_stream *s);
/* Returns a pointer to NUL-terminated text valid until the next call (may be
 * ""); *len (if non-NULL) receives its length. Unknown ids are ignored. */
const char *qwenc_detok_stream_push(qwenc_detok_stream *s, int32_t id, size_t *len);
/* Flushes what is held back (invalid bytes as U+FFFD). */
const char *qwenc_detok_stream_flush(qwenc_detok_stream *s, size_t *len);

/* Renders the tokenizer's chat template. request_json is a JSON object:
 * {"messages": [...], "tools": [...], "add_generation_prompt": bool,
 *  "enable_thinking": bool, ...any other template variable}.
 * *out is malloc'd and NUL-terminated. */
int qwenc_chat_render(const qwenc_tokenizer *t, const char *request_json,
                      char **out, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
