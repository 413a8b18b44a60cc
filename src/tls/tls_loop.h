/*
 * tls_loop.h - a relay thread: one epoll loop driving many TLS relays.
 *
 * The TLS server runs a fixed number of loops (--tls-threads). The listener
 * creates each relay and hands it to a loop with tls_loop_add(), the only
 * call made from another thread: the relay waits in a queue guarded by a
 * mutex, and an eventfd wakes the loop. From then on the loop alone touches
 * the relay: it registers both sockets with epoll, feeds every event to
 * the relay, keeps the relay's deadline in a min-heap (the epoll timeout is
 * the earliest one), and destroys the relay when it ends. So the number of
 * threads stays fixed however many connections are open, and a connection
 * stuck in its handshake costs memory and a heap entry, not a thread.
 */
#ifndef TINYSERVER_TLS_LOOP_H
#define TINYSERVER_TLS_LOOP_H

#include "deadline_heap.h"
#include "log.h"
#include "tls_relay.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct tls_loop {
    pthread_t thread;
    bool started;
    int epoll_fd;
    int wake_fd; /* eventfd: relays queued, or asked to stop */
    pthread_mutex_t queue_lock;
    struct tls_relay *queue; /* handed over, not yet registered; via ->next_handed */
    atomic_bool stopping;
    atomic_uint relays;              /* queued and registered: the loop's load */
    atomic_uint *open_total;         /* the server's count, decremented as relays end */
    struct list_link *relays_served; /* registered relays */
    struct deadline_heap deadlines;
    const struct logger *log;
};

/* Creates the epoll set, the eventfd and a heap for max_relays deadlines,
 * and starts the thread. Returns false with a message in err. */
bool tls_loop_start(struct tls_loop *loop, unsigned max_relays, atomic_uint *open_total,
                    const struct logger *log, char *err, size_t err_size);

/* Hands a relay over (from any thread). The loop owns it from now on. */
void tls_loop_add(struct tls_loop *loop, struct tls_relay *relay);

/* Relays handed over and not yet ended. */
unsigned tls_loop_load(struct tls_loop *loop);

/* Ends every relay still open (logged as "server stopping"), joins the
 * thread and frees what tls_loop_start() made. No tls_loop_add() may
 * follow or run concurrently. Safe on a loop that never started. */
void tls_loop_stop(struct tls_loop *loop);

#endif
