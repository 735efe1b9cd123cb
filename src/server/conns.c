#include "server/conns.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

struct srv_conn {
    int fd;              /* -1: the entry is free */
    double deadline;     /* monotonic seconds; 0 while a request is answered */
};

struct srv_conns {
    pthread_mutex_t mu;
    srv_conn *conns;
    int capacity, n_open;
    double read_timeout;
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

srv_conns *conns_new(int capacity, double read_timeout_s) {
    srv_conns *c = calloc(1, sizeof *c);
    if (!c || !(c->conns = malloc((size_t)capacity * sizeof *c->conns))) {
        free(c);
        return NULL;
    }
    for (int i = 0; i < capacity; i++) c->conns[i].fd = -1;
    c->capacity = capacity;
    c->read_timeout = read_timeout_s;
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

void conns_free(srv_conns *c) {
    if (!c) return;
    pthread_mutex_destroy(&c->mu);
    free(c->conns);
    free(c);
}

srv_conn *conns_open(srv_conns *c, int fd) {
    srv_conn *k = NULL;
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < c->capacity && !k; i++)
        if (c->conns[i].fd < 0) k = &c->conns[i];
    if (k) {
        k->fd = fd;
        k->deadline = now_s() + c->read_timeout;
        c->n_open++;
    }
    pthread_mutex_unlock(&c->mu);
    return k;
}

void conns_close(srv_conns *c, srv_conn *k) {
    if (!k) return;
    pthread_mutex_lock(&c->mu);
    k->fd = -1;
    c->n_open--;
    pthread_mutex_unlock(&c->mu);
}

void conns_received(srv_conns *c, srv_conn *k) {
    if (!k) return;
    pthread_mutex_lock(&c->mu);
    k->deadline = 0;
    pthread_mutex_unlock(&c->mu);
}

void conns_answered(srv_conns *c, srv_conn *k) {
    if (!k) return;
    pthread_mutex_lock(&c->mu);
    k->deadline = now_s() + c->read_timeout;
    pthread_mutex_unlock(&c->mu);
}

int conns_sweep(srv_conns *c, double now) {
    int n = 0;
    /* Under the lock: conns_close runs before the socket is closed, so a
     * descriptor shut down here is still this connection's, never a reused one. */
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < c->capacity; i++) {
        srv_conn *k = &c->conns[i];
        if (k->fd >= 0 && k->deadline > 0 && now > k->deadline) {
            shutdown(k->fd, SHUT_RDWR);
            k->deadline = 0;  /* once */
            n++;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return n;
}

int conns_count(srv_conns *c) {
    pthread_mutex_lock(&c->mu);
    int n = c->n_open;
    pthread_mutex_unlock(&c->mu);
    return n;
}
