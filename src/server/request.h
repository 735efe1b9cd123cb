/* OpenAI request bodies -> job parameters (prompt ids, sampling, stop, tools).
 *
 * Every way a request can be wrong ends here as a 4xx with OpenAI's error
 * fields (message, type, param, code): bad JSON, a field of the wrong type or
 * out of range, an unknown model, a prompt longer than the context. Unknown
 * fields are ignored, as OpenAI and vLLM do. Runs on connection threads. */
#ifndef QW_SERVER_REQUEST_H
#define QW_SERVER_REQUEST_H

#include <stddef.h>

#include "qwenc.h"
#include "server/job.h"

typedef struct {
    int status;          /* HTTP status: 400, 404, ... */
    const char *type;    /* "invalid_request_error", ... */
    const char *code;    /* "context_length_exceeded", "model_not_found", ... or NULL */
    char param[128];     /* the offending field, "" when none */
    char message[512];
} srv_error;

typedef struct {
    const qwenc_tokenizer *tok;
    const char *model_id;   /* the name clients must use in "model" */
    int n_ctx;              /* positions per slot */
    int vocab;              /* rows of the logits */
    qwenc_gen_defaults gen; /* generation_config.json */
} request_ctx;

/* POST /v1/chat/completions and POST /v1/completions. On success j->p,
 * j->stream and j->include_usage are set; on failure *e says why. */
int request_parse_chat(const request_ctx *c, const char *body, size_t len, srv_job *j, srv_error *e);
int request_parse_completion(const request_ctx *c, const char *body, size_t len, srv_job *j, srv_error *e);

/* POST /tokenize and /detokenize: the response body (malloc'd) or NULL with *e set. */
char *request_tokenize(const request_ctx *c, const char *body, size_t len, srv_error *e);
char *request_detokenize(const request_ctx *c, const char *body, size_t len, srv_error *e);

/* Fills *e (status 400 unless set otherwise by the caller). */
void srv_error_set(srv_error *e, int status, const char *param, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif
