/* One request in flight: what to generate, and the channel its output goes
 * through. A job is shared by two threads: the connection thread that
 * submitted it (and sends its bytes) and the engine thread that generates
 * it. It is reference-counted; the last one to let go frees it. */
#ifndef QW_SERVER_JOB_H
#define QW_SERVER_JOB_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "qwenc.h"
#include "server/json_schema.h"
#include "server/strbuf.h"

#define JOB_MAX_STOP 4   /* OpenAI's limit on stop strings */

/* What to generate; filled by the request parser, read-only afterwards. */
typedef struct {
    int chat;                    /* chat completion (template, reply parser) or plain completion */
    int32_t *prompt;
    int n_prompt;
    qwenc_sampler_params sampling;
    int max_tokens;              /* < 0: until eos or a full context */
    char *stop[JOB_MAX_STOP];
    int n_stop;
    int logprobs, top_logprobs;  /* chat: bool + 0..20; completions: logprobs = top count + 1 */
    json_schema *schema;         /* response_format json_object or json_schema: what the reply must be */
    int tools;                   /* tool calls are parsed (tools given, tool_choice not none) */
    int parallel_tool_calls;
    json_schema *tool_schema;    /* tool_choice required or a named function: the reply opens with a call, and
                                    every call's body is {"name": ..., "arguments": ...} valid for its tool */
    int thinking;                /* the template was rendered with thinking enabled */
} job_params;

/* Why generation ended. */
typedef enum { JOB_RUNNING, JOB_STOP, JOB_LENGTH, JOB_TOOL_CALLS, JOB_CANCELLED, JOB_FAILED } job_end;

typedef struct srv_job srv_job;
typedef struct job_format job_format;  /* response.c: the OpenAI shapes being built */

struct srv_job {
    job_params p;
    int stream, include_usage;
    char id[48];
    char model[128];
    long long created;
    double t_submit, t_start, t_first_token, t_done; /* monotonic seconds: queued, given a slot, ... */
    int n_cached, n_completion;              /* prompt tokens reused from the cache; tokens generated */
    job_end end;
    char fail_msg[256];
    job_format *fmt;                         /* engine thread only */

    /* Shared between the threads, under mu. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    strbuf out;              /* bytes produced; the first out_sent of them are sent */
    size_t out_sent;
    int done;                /* no more bytes will come */
    int cancelled;           /* the client went away: stop generating */
    int refs;
};

srv_job *job_new(void);
void job_ref(srv_job *j);
void job_unref(srv_job *j);

/* Appends bytes for the client and wakes the sender (engine thread). */
void job_write(srv_job *j, const char *data, size_t len);
/* Marks the output complete (engine thread). */
void job_close(srv_job *j);
/* Asks the engine to stop this job (connection thread). */
void job_cancel(srv_job *j);
int job_is_cancelled(srv_job *j);

/* Waits up to timeout_ms for output; copies at most max bytes into buf.
 * Returns the number copied, 0 on timeout, -1 when the output is complete
 * and everything has been sent. */
long job_read(srv_job *j, char *buf, size_t max, int timeout_ms);
/* Waits up to timeout_ms for the job to finish; 1 when done. */
int job_wait_done(srv_job *j, int timeout_ms);

void job_params_free(job_params *p);

#endif
