/* OpenAI response bodies from generation events.
 *
 * A streamed job writes one SSE chunk per event as it arrives; any other job
 * accumulates the same events and writes one body at the end. Both paths go
 * through the same calls in the same order, so the streamed deltas concatenate
 * to exactly the non-streamed message. Engine thread only. */
#ifndef QW_SERVER_RESPONSE_H
#define QW_SERVER_RESPONSE_H

#include <stddef.h>
#include <stdint.h>

#include "qwenc.h"
#include "server/job.h"
#include "server/reply.h"

job_format *job_format_new(void);
void job_format_free(job_format *f);

/* Stream: the first chunk (the assistant role). */
void response_begin(srv_job *j);
/* Chat: content, reasoning or a tool call from the reply parser. */
void response_event(srv_job *j, const reply_event *ev);
/* Completions: a piece of text. */
void response_text(srv_job *j, const char *text, size_t len);
/* The log-probability of a generated token and its top alternatives; sent
 * with the next chunk (or in the body). */
void response_logprob(srv_job *j, const qwenc_tokenizer *t, int32_t id, float logprob, const int32_t *top_ids,
                      const float *top_logprobs, int n_top);
/* The end: finish_reason, usage and [DONE] (stream), or the whole body. */
void response_end(srv_job *j, int n_prompt);

/* {"error": {"message", "type", "param", "code"}} as malloc'd text. */
char *response_error_json(const char *message, const char *type, const char *param, const char *code);

#endif
