#include "server/job.h"
#include "server/response.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

srv_job *job_new(void) {
    srv_job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    pthread_mutex_init(&j->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&j->cv, &ca);
    pthread_condattr_destroy(&ca);
    j->refs = 1;
    return j;
}

void job_params_free(job_params *p) {
    free(p->prompt);
    for (int i = 0; i < p->n_stop; i++) free(p->stop[i]);
    json_schema_free(p->schema);
    json_schema_free(p->tool_schema);
    memset(p, 0, sizeof *p);
}

void job_ref(srv_job *j) {
    pthread_mutex_lock(&j->mu);
    j->refs++;
    pthread_mutex_unlock(&j->mu);
}

void job_unref(srv_job *j) {
    if (!j) return;
    pthread_mutex_lock(&j->mu);
    int last = --j->refs == 0;
    pthread_mutex_unlock(&j->mu);
    if (!last) return;
    job_params_free(&j->p);
    job_format_free(j->fmt);
    strbuf_free(&j->out);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j);
}

void job_write(srv_job *j, const char *data, size_t len) {
    if (!len) return;
    pthread_mutex_lock(&j->mu);
    /* Sent bytes are dropped from the front before growing. */
    if (j->out_sent) {
        memmove(j->out.p, j->out.p + j->out_sent, j->out.len - j->out_sent);
        j->out.len -= j->out_sent;
        j->out_sent = 0;
    }
    if (strbuf_add(&j->out, data, len))
        j->cancelled = 1;  /* out of memory: the client gets a truncated stream rather than the server dying */
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

void job_close(srv_job *j) {
    pthread_mutex_lock(&j->mu);
    j->done = 1;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

void job_cancel(srv_job *j) {
    pthread_mutex_lock(&j->mu);
    j->cancelled = 1;
    pthread_mutex_unlock(&j->mu);
}

int job_is_cancelled(srv_job *j) {
    pthread_mutex_lock(&j->mu);
    int c = j->cancelled;
    pthread_mutex_unlock(&j->mu);
    return c;
}

static void deadline_in(struct timespec *ts, int ms) {
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

long job_read(srv_job *j, char *buf, size_t max, int timeout_ms) {
    struct timespec dl;
    deadline_in(&dl, timeout_ms);
    pthread_mutex_lock(&j->mu);
    while (j->out_sent == j->out.len && !j->done)
        if (pthread_cond_timedwait(&j->cv, &j->mu, &dl) == ETIMEDOUT) break;
    long n = 0;
    if (j->out_sent < j->out.len) {
        size_t avail = j->out.len - j->out_sent;
        n = (long)(avail < max ? avail : max);
        memcpy(buf, j->out.p + j->out_sent, (size_t)n);
        j->out_sent += (size_t)n;
    } else if (j->done) {
        n = -1;
    }
    pthread_mutex_unlock(&j->mu);
    return n;
}

int job_wait_done(srv_job *j, int timeout_ms) {
    struct timespec dl;
    deadline_in(&dl, timeout_ms);
    pthread_mutex_lock(&j->mu);
    while (!j->done)
        if (pthread_cond_timedwait(&j->cv, &j->mu, &dl) == ETIMEDOUT) break;
    int d = j->done;
    pthread_mutex_unlock(&j->mu);
    return d;
}
