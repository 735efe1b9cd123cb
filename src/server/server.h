/* `qwenc serve`: the OpenAI-compatible HTTP API over one model.
 *
 * libmicrohttpd parses HTTP and runs one thread per connection; those threads
 * parse requests (request.c), hand jobs to the engine (engine.c), whose single
 * thread owns the model, and send the output back (whole, or as server-sent
 * events while it is generated). */
#ifndef QW_SERVER_SERVER_H
#define QW_SERVER_SERVER_H

#include <signal.h>
#include <stddef.h>

#include "qwenc.h"

typedef struct {
    const char *host;        /* address to bind ("127.0.0.1") */
    int port;                /* 0: any free port (printed when listening) */
    const char *api_key;     /* NULL: no authentication */
    const char *model_id;    /* the name clients use in "model" */
    int n_ctx;               /* positions per slot; 0: min(4096, max_position_embeddings) */
    int n_parallel;          /* slots */
    int64_t kv_bytes;        /* KV pool; 0: n_ctx positions per slot */
    int max_queue;           /* waiting requests before 503 */
    size_t max_body;         /* bytes; larger bodies get 413 */
    int prefill_chunk;       /* prompt tokens per engine step */
    int max_connections;
    int max_per_ip;          /* connections from one address; 0: no limit */
    int timeout_s;           /* idle connection timeout */
    int read_timeout_s;      /* a request (headers and body) must arrive within this */
    int quiet;               /* no per-request log lines */
} server_config;

/* Serves until *stop becomes nonzero (set it from a signal handler). */
int server_run(qwenc_model *m, const server_config *c, volatile sig_atomic_t *stop, char *err, size_t errlen);

#endif
