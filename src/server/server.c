#include "server/server.h"
#include "server/conns.h"
#include "server/engine.h"
#include "server/metrics.h"
#include "server/request.h"
#include "server/response.h"
#include "server/strbuf.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    const server_config *c;
    srv_engine *engine;
    srv_metrics *metrics;
    srv_conns *conns;
    request_ctx rctx;
    long long started;
    pthread_mutex_t id_mu;
    uint64_t id_state;       /* response ids */
    volatile sig_atomic_t *stop;
} srv;

/* Per connection-request state, from the first call of the handler to the
 * completion notice. */
typedef struct {
    strbuf body;
    int too_big;
    int status;
    double t0;
    char method[16];
    char path[128];
    srv_job *job;            /* generation requests: a reference for the log line */
} conn_ctx;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- responses ---------------------------------------------------------- */

static enum MHD_Result send_body(struct MHD_Connection *conn, conn_ctx *cc, int status, const char *type,
                                 const char *body, size_t len) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (status == 401) MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    cc->status = status;
    enum MHD_Result ok = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result send_json(struct MHD_Connection *conn, conn_ctx *cc, int status, const char *body) {
    return send_body(conn, cc, status, "application/json", body, strlen(body));
}

static enum MHD_Result send_error(struct MHD_Connection *conn, conn_ctx *cc, const srv_error *e) {
    char *body = response_error_json(e->message, e->type, e->param[0] ? e->param : NULL, e->code);
    enum MHD_Result ok = body ? send_json(conn, cc, e->status, body) : MHD_NO;
    free(body);
    return ok;
}

static enum MHD_Result fail(struct MHD_Connection *conn, conn_ctx *cc, int status, const char *code,
                            const char *msg) {
    srv_error e;
    srv_error_set(&e, status, NULL, code, "%s", msg);
    return send_error(conn, cc, &e);
}

/* ---- client liveness ---------------------------------------------------- */

/* 1 when the peer has closed or reset the connection. */
static int client_gone(struct MHD_Connection *conn) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) return 0;
    struct pollfd p = {.fd = ci->connect_fd, .events = POLLRDHUP};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* ---- streaming ------------------------------------------------------------ */

typedef struct {
    srv_job *job;
    struct MHD_Connection *conn;
    srv *s;
} stream_state;

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    stream_state *st = cls;
    for (;;) {
        long n = job_read(st->job, buf, max, 200);
        if (n > 0) return n;
        if (n < 0) return MHD_CONTENT_READER_END_OF_STREAM;
        if (*st->s->stop || client_gone(st->conn)) {
            job_cancel(st->job);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
    }
}

/* Called when the response is done or the connection dropped mid-stream:
 * either way the engine may stop (a finished job ignores the cancel). */
static void stream_free(void *cls) {
    stream_state *st = cls;
    job_cancel(st->job);
    job_unref(st->job);
    free(st);
}

/* ---- generation ----------------------------------------------------------- */

static void new_response_id(srv *s, const char *prefix, char *out, size_t outlen) {
    pthread_mutex_lock(&s->id_mu);
    s->id_state = s->id_state * 6364136223846793005ULL + 1442695040888963407ULL;
    uint64_t x = s->id_state;
    pthread_mutex_unlock(&s->id_mu);
    snprintf(out, outlen, "%s-%016llx", prefix, (unsigned long long)(x ^ (x >> 29)));
}

static enum MHD_Result generate(srv *s, struct MHD_Connection *conn, conn_ctx *cc, int chat) {
    srv_job *j = job_new();
    if (!j) return fail(conn, cc, 500, NULL, "out of memory");
    srv_error e;
    int rc = chat ? request_parse_chat(&s->rctx, cc->body.p, cc->body.len, j, &e)
                  : request_parse_completion(&s->rctx, cc->body.p, cc->body.len, j, &e);
    if (rc) {
        job_unref(j);
        return send_error(conn, cc, &e);
    }
    new_response_id(s, chat ? "chatcmpl" : "cmpl", j->id, sizeof j->id);
    snprintf(j->model, sizeof j->model, "%s", s->c->model_id);
    j->created = (long long)time(NULL);
    j->t_submit = now_s();
    if (engine_submit(s->engine, j)) {
        job_unref(j);
        return fail(conn, cc, 503, "queue_full", "the server is busy (request queue full); retry later");
    }
    cc->job = j;  /* our reference now belongs to the connection (log line) */
    if (j->stream) {
        stream_state *st = malloc(sizeof *st);
        if (!st) return MHD_NO;
        job_ref(j);
        *st = (stream_state){j, conn, s};
        struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, stream_read, st,
                                                                   stream_free);
        if (!r) {
            stream_free(st);
            return MHD_NO;
        }
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
        cc->status = 200;
        enum MHD_Result ok = MHD_queue_response(conn, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        return ok;
    }
    /* Not streamed: wait, watching for the client to leave so its slot is freed. */
    while (!job_wait_done(j, 100)) {
        if (*s->stop || client_gone(conn)) {
            job_cancel(j);
            cc->status = 499;  /* nginx's "client closed request", for the log */
            return MHD_NO;
        }
    }
    pthread_mutex_lock(&j->mu);
    int status = j->end == JOB_FAILED ? 500 : 200;
    enum MHD_Result ok = send_body(conn, cc, status, "application/json", j->out.p ? j->out.p + j->out_sent : "",
                                   j->out.len - j->out_sent);
    pthread_mutex_unlock(&j->mu);
    return ok;
}

/* ---- other routes --------------------------------------------------------- */

static enum MHD_Result list_models(srv *s, struct MHD_Connection *conn, conn_ctx *cc, const char *one) {
    json_t *model = json_pack("{s:s,s:s,s:I,s:s,s:i}", "id", s->c->model_id, "object", "model", "created",
                              (json_int_t)s->started, "owned_by", "qwenc", "max_model_len", s->rctx.n_ctx);
    if (one && strcmp(one, s->c->model_id)) {
        json_decref(model);
        srv_error e;
        srv_error_set(&e, 404, "model", "model_not_found", "the model '%s' does not exist", one);
        return send_error(conn, cc, &e);
    }
    json_t *body = one ? model : json_pack("{s:s,s:[o]}", "object", "list", "data", model);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    enum MHD_Result ok = text ? send_json(conn, cc, 200, text) : MHD_NO;
    free(text);
    return ok;
}

static enum MHD_Result metrics_page(srv *s, struct MHD_Connection *conn, conn_ctx *cc) {
    metrics_gauges g;
    engine_get_stats(s->engine, &g);
    g.connections = conns_count(s->conns);
    char *text = metrics_render(s->metrics, &g);
    enum MHD_Result ok =
        text ? send_body(conn, cc, 200, "text/plain; version=0.0.4", text, strlen(text)) : MHD_NO;
    free(text);
    return ok;
}

static enum MHD_Result tokenize_route(srv *s, struct MHD_Connection *conn, conn_ctx *cc, int detok) {
    srv_error e;
    char *out = detok ? request_detokenize(&s->rctx, cc->body.p, cc->body.len, &e)
                      : request_tokenize(&s->rctx, cc->body.p, cc->body.len, &e);
    if (!out) return send_error(conn, cc, &e);
    enum MHD_Result ok = send_json(conn, cc, 200, out);
    free(out);
    return ok;
}

/* Constant-time comparison of the bearer token with the key. */
static int authorized(const srv *s, struct MHD_Connection *conn) {
    if (!s->c->api_key) return 1;
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncmp(h, "Bearer ", 7)) return 0;
    const char *got = h + 7, *want = s->c->api_key;
    size_t lg = strlen(got), lw = strlen(want);
    unsigned diff = (unsigned)(lg != lw);
    for (size_t i = 0; i < lw; i++) diff |= (unsigned char)want[i] ^ (unsigned char)(i < lg ? got[i] : 0);
    return diff == 0;
}

static enum MHD_Result route(srv *s, struct MHD_Connection *conn, conn_ctx *cc, const char *url, const char *method) {
    int get = !strcmp(method, "GET"), post = !strcmp(method, "POST");
    if (!strcmp(url, "/health")) return get ? send_json(conn, cc, 200, "{\"status\":\"ok\"}") : fail(conn, cc, 405, NULL, "use GET");
    if (!authorized(s, conn))
        return fail(conn, cc, 401, "invalid_api_key", "missing or wrong API key (send 'Authorization: Bearer KEY')");
    static const struct { const char *path; int post; } routes[] = {
        {"/v1/models", 0}, {"/metrics", 0}, {"/v1/chat/completions", 1}, {"/v1/completions", 1},
        {"/tokenize", 1},  {"/detokenize", 1}};
    int known = -1;
    for (int i = 0; i < (int)(sizeof routes / sizeof routes[0]); i++)
        if (!strcmp(url, routes[i].path)) known = i;
    if (known < 0 && !strncmp(url, "/v1/models/", 11)) return get ? list_models(s, conn, cc, url + 11) : fail(conn, cc, 405, NULL, "use GET");
    if (known < 0) {
        char msg[256];
        snprintf(msg, sizeof msg, "no route %s %.128s", method, url);
        return fail(conn, cc, 404, "not_found", msg);
    }
    if (routes[known].post ? !post : !get) return fail(conn, cc, 405, NULL, routes[known].post ? "use POST" : "use GET");
    switch (known) {
    case 0: return list_models(s, conn, cc, NULL);
    case 1: return metrics_page(s, conn, cc);
    case 2: return generate(s, conn, cc, 1);
    case 3: return generate(s, conn, cc, 0);
    case 4: return tokenize_route(s, conn, cc, 0);
    default: return tokenize_route(s, conn, cc, 1);
    }
}

/* ---- libmicrohttpd callbacks -------------------------------------------- */

static int body_append(const srv *s, conn_ctx *cc, const char *data, size_t n) {
    if (cc->too_big) return 0;
    if (cc->body.len + n > s->c->max_body) {  /* the rest is read and dropped, then 413 */
        cc->too_big = 1;
        strbuf_free(&cc->body);
        return 0;
    }
    return strbuf_add(&cc->body, data, n);
}

/* The watch entry of a connection (NULL when it is not watched). */
static srv_conn *conn_of(struct MHD_Connection *conn) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    (void)version;
    srv *s = cls;
    conn_ctx *cc = *con_cls;
    if (!cc) {
        if (!(cc = calloc(1, sizeof *cc))) return MHD_NO;
        cc->t0 = now_s();
        snprintf(cc->method, sizeof cc->method, "%s", method);
        snprintf(cc->path, sizeof cc->path, "%s", url);
        *con_cls = cc;
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > s->c->max_body) cc->too_big = 1;
        /* Too big: a client waiting for "100 Continue" is refused before it sends the body. Any other is
         * read to the end and dropped, then refused: closing on a body still arriving resets the connection,
         * and the client would see the reset instead of the 413. --read-timeout bounds the reading. */
        const char *expect = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
        if (!cc->too_big || !expect || strcasecmp(expect, "100-continue")) return MHD_YES;
    }
    if (*upload_size) {
        if (body_append(s, cc, upload, *upload_size)) return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    conns_received(s->conns, conn_of(conn));  /* the whole request is in: no read deadline while it is answered */
    if (cc->too_big) {
        char msg[128];
        snprintf(msg, sizeof msg, "the request body is larger than %zu bytes (--max-body)", s->c->max_body);
        return fail(conn, cc, 413, "request_too_large", msg);
    }
    if (!cc->body.p && strbuf_add(&cc->body, "", 0)) return MHD_NO;
    return route(s, conn, cc, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe) {
    srv *s = cls;
    conns_answered(s->conns, conn_of(conn));  /* the next request on this connection has its own deadline */
    conn_ctx *cc = *con_cls;
    if (!cc) return;
    int status = cc->status ? cc->status : 499;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && status == 200 && cc->job) status = 499;
    metrics_request(s->metrics, status);
    if (!s->c->quiet) {
        char tokens[96] = "";
        if (cc->job)
            snprintf(tokens, sizeof tokens, " prompt=%d cached=%d completion=%d", cc->job->p.n_prompt,
                     cc->job->n_cached, cc->job->n_completion);
        fprintf(stderr, "qwenc serve: %s %s %d%s %.0fms\n", cc->method, cc->path, status, tokens,
                (now_s() - cc->t0) * 1e3);
    }
    if (cc->job && !cc->job->done) job_cancel(cc->job);
    job_unref(cc->job);
    strbuf_free(&cc->body);
    free(cc);
    *con_cls = NULL;
}

/* Connections opened and closed: watched for their read deadline. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
    srv *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = ci ? conns_open(s->conns, ci->connect_fd) : NULL;
    } else {
        conns_close(s->conns, *socket_context);
        *socket_context = NULL;
    }
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n') line[--n] = 0;
    fprintf(stderr, "qwenc serve: http: %s\n", line);
}

/* ---- start and stop ------------------------------------------------------ */

static int resolve(const server_config *c, struct sockaddr_storage *sa, char *err, size_t errlen) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *res;
    char port[16];
    snprintf(port, sizeof port, "%d", c->port);
    int rc = getaddrinfo(c->host, port, &hints, &res);
    if (rc) return snprintf(err, errlen, "--host %s: %s", c->host, gai_strerror(rc)), QWENC_EINVAL;
    memcpy(sa, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

int server_run(qwenc_model *m, const server_config *c, volatile sig_atomic_t *stop, char *err, size_t errlen) {
    srv s = {.c = c, .stop = stop, .started = (long long)time(NULL)};
    qwenc_model_info info;
    qwenc_model_get_info(m, &info);
    s.rctx = (request_ctx){.tok = qwenc_model_tokenizer(m), .model_id = c->model_id,
                           .vocab = info.vocab_size};
    if (!s.rctx.tok) return snprintf(err, errlen, "the model has no tokenizer"), QWENC_EINVAL;
    qwenc_model_gen_defaults(m, &s.rctx.gen);
    struct sockaddr_storage sa;
    int rc = resolve(c, &sa, err, errlen);
    if (rc) return rc;
    pthread_mutex_init(&s.id_mu, NULL);
    s.id_state = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    s.metrics = metrics_new();
    /* room beyond --max-connections: libmicrohttpd counts a connection free a little after it told us */
    s.conns = conns_new(c->max_connections + 64, c->read_timeout_s);
    engine_config ec = {.n_parallel = c->n_parallel, .n_ctx = c->n_ctx, .kv_bytes = c->kv_bytes,
                        .max_queue = c->max_queue, .prefill_chunk = c->prefill_chunk};
    if (!s.metrics || !s.conns) rc = (snprintf(err, errlen, "out of memory"), QWENC_ENOMEM);
    if (!rc) rc = engine_new(m, &ec, s.metrics, &s.engine, err, errlen);
    if (!rc) s.rctx.n_ctx = engine_n_ctx(s.engine);
    struct MHD_Daemon *d = NULL;
    if (!rc) {
        unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
                         (sa.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
        d = MHD_start_daemon(flags, (uint16_t)c->port, NULL, NULL, on_request, &s, MHD_OPTION_EXTERNAL_LOGGER,
                             mhd_log, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                             MHD_OPTION_NOTIFY_COMPLETED, on_completed, &s, MHD_OPTION_NOTIFY_CONNECTION,
                             on_connection, &s, MHD_OPTION_CONNECTION_LIMIT, (unsigned)c->max_connections,
                             MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)c->max_per_ip,
                             MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)c->timeout_s, MHD_OPTION_END);
        if (!d) rc = (snprintf(err, errlen, "cannot listen on %s port %d (in use, or not an address here?)", c->host,
                               c->port), QWENC_EIO);
    }
    if (!rc) {
        const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
        fprintf(stderr, "qwenc serve: listening on http://%s%s%s:%u (model '%s', %d slot%s of %d tokens)\n",
                sa.ss_family == AF_INET6 ? "[" : "", c->host, sa.ss_family == AF_INET6 ? "]" : "",
                di ? di->port : (unsigned)c->port, c->model_id, c->n_parallel, c->n_parallel == 1 ? "" : "s",
                s.rctx.n_ctx);
        fflush(stderr);
        while (!*stop) {
            usleep(100 * 1000);
            int late = conns_sweep(s.conns, now_s());
            if (late) {
                metrics_timed_out(s.metrics, late);
                if (!c->quiet)
                    fprintf(stderr, "qwenc serve: closed %d connection%s whose request did not arrive within "
                            "--read-timeout %d s\n", late, late == 1 ? "" : "s", c->read_timeout_s);
            }
        }
        fprintf(stderr, "qwenc serve: shutting down\n");
    }
    if (d) MHD_stop_daemon(d);
    engine_free(s.engine);
    metrics_free(s.metrics);
    conns_free(s.conns);
    pthread_mutex_destroy(&s.id_mu);
    return rc;
}
