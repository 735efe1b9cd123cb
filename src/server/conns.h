/* The open connections and the time by which each one's request must have
 * arrived (--read-timeout). libmicrohttpd's own timeout counts idle time
 * only, so a client that sends its headers a byte a second would hold a
 * connection (and its thread) forever; here the whole request, headers and
 * body, must be in by the deadline. The server's main loop sweeps: a late
 * connection's socket is shut down, which ends it in its own thread as if
 * the client had hung up. Thread-safe. */
#ifndef QW_SERVER_CONNS_H
#define QW_SERVER_CONNS_H

typedef struct srv_conns srv_conns;
typedef struct srv_conn srv_conn;

/* Room for capacity connections; read_timeout_s counts from the connection's
 * start or from the end of its previous response. */
srv_conns *conns_new(int capacity, double read_timeout_s);
void conns_free(srv_conns *c);

/* A connection opened on socket fd; NULL when the table is full (it is then
 * not watched). */
srv_conn *conns_open(srv_conns *c, int fd);
/* Called before libmicrohttpd closes the socket: never swept after this. */
void conns_close(srv_conns *c, srv_conn *k);
/* The request is in: no deadline while it is answered. */
void conns_received(srv_conns *c, srv_conn *k);
/* The response is done: the next request on the connection has its own deadline. */
void conns_answered(srv_conns *c, srv_conn *k);

/* Shuts down every connection past its deadline at time now (monotonic
 * seconds); returns how many. */
int conns_sweep(srv_conns *c, double now);
/* Connections open now. */
int conns_count(srv_conns *c);

#endif
