/* The OpenAI request parser with the real Qwen3 tokenizer and chat
 * template: the input is a request body for each endpoint (chat and plain
 * completions, tokenize, detokenize). A refusal is a 4xx with a message;
 * an accepted request holds a prompt that fits the context, ids in range,
 * parameters in their documented ranges; the tokenize endpoints answer
 * JSON. */
#include "server/request.h"

#include <jansson.h>
#include <math.h>

#include "fuzz.h"

FUZZ_PRELOAD(fuzz_tokenizer)

enum { N_CTX = 4096 };

static void check_error(const srv_error *e) {
    FUZZ_CHECK(e->status >= 400 && e->status < 500 && e->message[0] && e->type, "status %d, message '%s'", e->status,
               e->message);
}

static void check_params(const job_params *p, int vocab) {
    FUZZ_CHECK(p->n_prompt > 0 && p->n_prompt < N_CTX && p->prompt, "prompt of %d tokens", p->n_prompt);
    for (int i = 0; i < p->n_prompt; i++)
        FUZZ_CHECK(p->prompt[i] >= 0 && p->prompt[i] < vocab, "prompt id %d", p->prompt[i]);
    FUZZ_CHECK(p->n_stop >= 0 && p->n_stop <= JOB_MAX_STOP, "n_stop %d", p->n_stop);
    for (int i = 0; i < p->n_stop; i++) FUZZ_CHECK(p->stop[i] && p->stop[i][0], "stop %d is empty", i);
    FUZZ_CHECK(p->max_tokens == -1 || p->max_tokens > 0, "max_tokens %d", p->max_tokens);
    FUZZ_CHECK(p->top_logprobs >= 0 && p->top_logprobs <= 20, "top_logprobs %d", p->top_logprobs);
    const qwenc_sampler_params *s = &p->sampling;
    FUZZ_CHECK(s->temperature >= 0 && s->temperature <= 2 && s->top_p > 0 && s->top_p <= 1 && s->min_p >= 0 &&
                   s->min_p <= 1,
               "sampling out of range");
    FUZZ_CHECK(fabsf(s->presence_penalty) <= 2 && fabsf(s->frequency_penalty) <= 2 && s->repetition_penalty > 0,
               "penalties out of range");
}

static void parse(const request_ctx *c, const char *body, size_t len, int chat) {
    srv_job *j = job_new();
    srv_error e = {0};
    if (!j) abort();
    int rc = chat ? request_parse_chat(c, body, len, j, &e) : request_parse_completion(c, body, len, j, &e);
    if (rc) check_error(&e);
    else check_params(&j->p, c->vocab);
    job_unref(j);
}

static void tokenize_route(const request_ctx *c, const char *body, size_t len, int detok) {
    srv_error e = {0};
    char *out = detok ? request_detokenize(c, body, len, &e) : request_tokenize(c, body, len, &e);
    if (!out) {
        check_error(&e);
        return;
    }
    json_t *j = json_loads(out, JSON_ALLOW_NUL, NULL);  /* decoded text may hold U+0000 */
    FUZZ_CHECK(json_is_object(j), "the %s answer is not a JSON object", detok ? "detokenize" : "tokenize");
    json_decref(j);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const qwenc_tokenizer *t = fuzz_tokenizer();
    request_ctx c = {.tok = t, .model_id = "qwen3", .n_ctx = N_CTX, .vocab = qwenc_tokenizer_n_tokens(t)};
    c.gen = (qwenc_gen_defaults){.temperature = 0.6f, .top_p = 0.95f, .top_k = 20, .repetition_penalty = 1,
                                 .do_sample = 1, .eos_ids = {151645, 151643}, .n_eos = 2};
    const char *body = (const char *)data;
    parse(&c, body, size, 1);
    parse(&c, body, size, 0);
    tokenize_route(&c, body, size, 0);
    tokenize_route(&c, body, size, 1);
    return 0;
}
