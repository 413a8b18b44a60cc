/*
 * http_deadline.h - the request deadline (--request-timeout): a registry of
 * open connections and a sweeper thread that ends those waiting too long.
 *
 * libmicrohttpd's own timeout counts inactivity, so a client that sends one
 * header byte every few seconds keeps a connection forever, and the library
 * has no option for a total deadline. So every connection has an entry
 * here, with a clock that
 *   - starts when the connection opens and again once a response has been
 *     sent (http_deadline_restart), and
 *   - stops when the request line and headers are complete
 *     (http_deadline_pause).
 * The sweeper wakes a few times per timeout and shuts down (never closes)
 * the socket of every entry whose clock has run past the deadline. The
 * owner of the socket (libmicrohttpd) then reads end-of-file and closes it
 * on its own thread, as if the client had gone.
 *
 * The sweeper takes the descriptor from an entry under the registry's lock,
 * and the owner removes the entry (http_deadline_remove, same lock) before
 * it closes the socket, so the sweeper can never shut down a descriptor
 * number that has meanwhile been reused.
 *
 * Once shutdown begins (http_deadline_begin_shutdown) the sweeper ends,
 * within a fraction of a second, every connection waiting for a request (an
 * idle kept-alive one, say) instead of after the full deadline.
 *
 * The caller owns the registry and every entry (embedded in its own
 * per-connection record); the registry allocates nothing.
 */
#ifndef TINYSERVER_HTTP_DEADLINE_H
#define TINYSERVER_HTTP_DEADLINE_H

#include "list.h"
#include "log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* One connection. Fields are the registry's; set none of them. */
struct http_deadline_entry {
    struct list_link link; /* on the registry's list, under its lock */
    int fd;
    /* When the clock started; 0 while stopped (no request awaited: being
     * answered, suspended). Workers and the sweeper race on it. */
    _Atomic uint64_t waiting_since_ns;
};

struct http_deadline {
    uint64_t timeout_ns;
    const struct logger *log;
    pthread_mutex_t lock;
    pthread_cond_t wake; /* signalled to stop the sweeper, or to sweep at once */
    struct list_link *entries;
    atomic_uint count;         /* entries in the list */
    atomic_bool shutting_down; /* sweep idle connections at once */
    bool stop;                 /* under lock: the sweeper must end */
    bool sweeper_started;
    pthread_t sweeper;
};

/* Prepares an empty registry. Returns false if its lock or condition
 * cannot be created (nothing is left to destroy then). */
bool http_deadline_init(struct http_deadline *deadline, uint64_t timeout_ns,
                        const struct logger *log);

/* Starts the sweeper thread. Returns false if it cannot be started. */
bool http_deadline_start(struct http_deadline *deadline);

/* Stops the sweeper (if started) and frees the lock and condition. Call
 * once no entry is left (the owner of the sockets has stopped). */
void http_deadline_destroy(struct http_deadline *deadline);

/* Registers a connection on socket fd; its clock starts now. */
void http_deadline_add(struct http_deadline *deadline, struct http_deadline_entry *entry, int fd);

/* Unregisters a connection. Call before its socket is closed. */
void http_deadline_remove(struct http_deadline *deadline, struct http_deadline_entry *entry);

/* The request line and headers are in: the clock stops. */
void http_deadline_pause(struct http_deadline_entry *entry);

/* The response is out: the clock for the next request starts now. */
void http_deadline_restart(struct http_deadline_entry *entry);

/* From now on, connections waiting for a request get a short grace, not
 * the full deadline; the sweeper sweeps at once. */
void http_deadline_begin_shutdown(struct http_deadline *deadline);

/* How many connections are registered. */
unsigned http_deadline_count(const struct http_deadline *deadline);

/* The one decision, pure for its unit test: true when a connection whose
 * clock started at since_ns (0: no clock running) has waited timeout_ns or
 * longer by now_ns. Workers restart clocks while the sweeper runs, so
 * since_ns may be later than the now_ns the sweeper read before it: such a
 * clock has just started, and an unsigned difference would make it look
 * centuries old. */
static inline bool http_deadline_passed(uint64_t since_ns, uint64_t now_ns, uint64_t timeout_ns)
{
    return since_ns != 0 && since_ns <= now_ns && now_ns - since_ns >= timeout_ns;
}

#endif
