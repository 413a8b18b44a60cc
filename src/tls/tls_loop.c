/*
 * tls_loop.c - a relay thread's epoll loop; see tls_loop.h.
 */
#define _GNU_SOURCE
#include "tls_loop.h"

#include "clock.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define TLS_LOOP_EVENTS 64

static struct tls_relay *relay_of_deadline(struct deadline_node *node)
{
    return (struct tls_relay *)(void *)((char *)node - offsetof(struct tls_relay, deadline));
}

static struct tls_relay *relay_of_link(struct list_link *link)
{
    return LIST_ELEMENT(link, struct tls_relay, link);
}

/* Brings one socket's epoll registration in line with what the relay
 * waits for. Returns false when epoll refuses. */
static bool watch_socket(struct tls_loop *loop, struct tls_relay_socket *socket, bool watch,
                         uint32_t events)
{
    if (!watch) {
        if (socket->watched) {
            (void)epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, socket->fd, NULL);
            socket->watched = false;
        }
        return true;
    }
    if (socket->watched && socket->registered == events) {
        return true;
    }
    struct epoll_event event = {.events = events, .data.ptr = socket};
    if (epoll_ctl(loop->epoll_fd, socket->watched ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, socket->fd,
                  &event) != 0) {
        return false;
    }
    socket->watched = true;
    socket->registered = events;
    return true;
}

/* After the relay moved: its registrations and its deadline. */
static bool relay_rearm(struct tls_loop *loop, struct tls_relay *relay)
{
    uint32_t tcp_events, plain_events;
    bool watch_plain;
    tls_relay_interest(relay, &tcp_events, &watch_plain, &plain_events);
    enum tls_relay_end why;
    /* The heap has room for every relay the server admits. */
    return watch_socket(loop, &relay->tcp, true, tcp_events) &&
           watch_socket(loop, &relay->plain, watch_plain, plain_events) &&
           deadline_heap_set(&loop->deadlines, &relay->deadline, tls_relay_deadline(relay, &why));
}

static void relay_end(struct tls_loop *loop, struct tls_relay *relay, enum tls_relay_end end)
{
    log_message(loop->log, LOG_DEBUG, "tls connection ended: %s (BearSSL error %d)",
                tls_relay_end_name(end), br_ssl_engine_last_error(&relay->ssl.eng));
    deadline_heap_set(&loop->deadlines, &relay->deadline, -1);
    list_unlink(&loop->relays_served, &relay->link);
    /* Closing the sockets takes them out of the epoll set. */
    tls_relay_destroy(relay);
    atomic_fetch_sub(&loop->relays, 1);
    atomic_fetch_sub(loop->open_total, 1);
}

/* Registers the relays handed over since the last wake-up. */
static void take_queue(struct tls_loop *loop)
{
    uint64_t count;
    (void)read(loop->wake_fd, &count, sizeof(count)); /* resets the eventfd */
    pthread_mutex_lock(&loop->queue_lock);
    struct tls_relay *relay = loop->queue;
    loop->queue = NULL;
    pthread_mutex_unlock(&loop->queue_lock);
    int64_t now = clock_monotonic_ms();
    while (relay != NULL) {
        struct tls_relay *next = relay->next_handed;
        list_push(&loop->relays_served, &relay->link);
        /* Sends nothing yet (the client speaks first), but sets up the
         * registrations and the handshake deadline. */
        enum tls_relay_end end = tls_relay_on_events(relay, &relay->tcp, 0, now);
        if (end != TLS_RELAY_RUNNING) {
            relay_end(loop, relay, end);
        } else if (!relay_rearm(loop, relay)) {
            relay_end(loop, relay, TLS_RELAY_IO_ERROR);
        }
        relay = next;
    }
}

/* Ends the relays whose deadline has passed. */
static void expire(struct tls_loop *loop, int64_t now)
{
    for (struct deadline_node *node = deadline_heap_first(&loop->deadlines);
         node != NULL && node->when <= now; node = deadline_heap_first(&loop->deadlines)) {
        struct tls_relay *relay = relay_of_deadline(node);
        enum tls_relay_end why = TLS_RELAY_HANDSHAKE_TIMEOUT;
        (void)tls_relay_deadline(relay, &why);
        relay_end(loop, relay, why);
    }
}

static int wait_timeout(const struct tls_loop *loop, int64_t now)
{
    const struct deadline_node *first = deadline_heap_first(&loop->deadlines);
    if (first == NULL) {
        return -1;
    }
    int64_t wait = first->when - now;
    return wait <= 0 ? 0 : (wait > INT_MAX ? INT_MAX : (int)wait);
}

static void end_all(struct tls_loop *loop)
{
    while (loop->relays_served != NULL) {
        relay_end(loop, relay_of_link(loop->relays_served), TLS_RELAY_SERVER_STOPPING);
    }
    pthread_mutex_lock(&loop->queue_lock);
    struct tls_relay *relay = loop->queue;
    loop->queue = NULL;
    pthread_mutex_unlock(&loop->queue_lock);
    while (relay != NULL) {
        struct tls_relay *next = relay->next_handed;
        list_push(&loop->relays_served, &relay->link);
        relay_end(loop, relay, TLS_RELAY_SERVER_STOPPING);
        relay = next;
    }
}

static void *loop_main(void *arg)
{
    struct tls_loop *loop = arg;
    struct epoll_event events[TLS_LOOP_EVENTS];
    /* Relays ended while handling a batch: a later event of the same batch
     * may point into one, so they are destroyed only after it. */
    while (!atomic_load(&loop->stopping)) {
        int ready = epoll_wait(loop->epoll_fd, events, TLS_LOOP_EVENTS,
                               wait_timeout(loop, clock_monotonic_ms()));
        if (ready < 0) {
            if (errno == EINTR) {
                continue;
            }
            log_message(loop->log, LOG_ERROR, "tls relay loop: epoll_wait: %s", strerror(errno));
            break;
        }
        int64_t now = clock_monotonic_ms();
        struct tls_relay *ended = NULL;
        bool woken = false;
        for (int i = 0; i < ready; i++) {
            struct tls_relay_socket *socket = events[i].data.ptr;
            if (socket == NULL) {
                woken = true;
                continue;
            }
            struct tls_relay *relay = socket->relay;
            if (relay->end != TLS_RELAY_RUNNING) {
                continue; /* ended earlier in this batch */
            }
            if (tls_relay_on_events(relay, socket, events[i].events, now) != TLS_RELAY_RUNNING ||
                !relay_rearm(loop, relay)) {
                if (relay->end == TLS_RELAY_RUNNING) {
                    relay->end = TLS_RELAY_IO_ERROR;
                }
                /* Destroyed after the batch: a later event may point at it. */
                relay->next_handed = ended;
                ended = relay;
            }
        }
        while (ended != NULL) {
            struct tls_relay *next = ended->next_handed;
            relay_end(loop, ended, ended->end);
            ended = next;
        }
        if (woken) {
            take_queue(loop);
        }
        expire(loop, now);
    }
    end_all(loop);
    return NULL;
}

bool tls_loop_start(struct tls_loop *loop, unsigned max_relays, atomic_uint *open_total,
                    const struct logger *log, char *err, size_t err_size)
{
    memset(loop, 0, sizeof(*loop));
    loop->epoll_fd = loop->wake_fd = -1;
    loop->open_total = open_total;
    loop->log = log;
    atomic_init(&loop->stopping, false);
    atomic_init(&loop->relays, 0);
    if (!deadline_heap_init(&loop->deadlines, max_relays)) {
        snprintf(err, err_size, "tls relay loop: out of memory");
        return false;
    }
    if (pthread_mutex_init(&loop->queue_lock, NULL) != 0) {
        snprintf(err, err_size, "tls relay loop: cannot create a mutex");
        deadline_heap_free(&loop->deadlines);
        return false;
    }
    loop->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    loop->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event wake = {.events = EPOLLIN, .data.ptr = NULL};
    if (loop->epoll_fd < 0 || loop->wake_fd < 0 ||
        epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, loop->wake_fd, &wake) != 0) {
        snprintf(err, err_size, "tls relay loop: %s", strerror(errno));
    } else if (pthread_create(&loop->thread, NULL, loop_main, loop) != 0) {
        snprintf(err, err_size, "cannot start a TLS relay thread");
    } else {
        loop->started = true;
        return true;
    }
    tls_loop_stop(loop);
    return false;
}

static void wake(struct tls_loop *loop)
{
    uint64_t one = 1;
    ssize_t written;
    do {
        written = write(loop->wake_fd, &one, sizeof(one));
    } while (written < 0 && errno == EINTR);
}

void tls_loop_add(struct tls_loop *loop, struct tls_relay *relay)
{
    atomic_fetch_add(&loop->relays, 1);
    pthread_mutex_lock(&loop->queue_lock);
    relay->next_handed = loop->queue;
    loop->queue = relay;
    pthread_mutex_unlock(&loop->queue_lock);
    wake(loop);
}

unsigned tls_loop_load(struct tls_loop *loop)
{
    return atomic_load(&loop->relays);
}

void tls_loop_stop(struct tls_loop *loop)
{
    if (loop->started) {
        atomic_store(&loop->stopping, true);
        wake(loop);
        pthread_join(loop->thread, NULL);
        loop->started = false;
    }
    if (loop->epoll_fd >= 0) {
        close(loop->epoll_fd);
        loop->epoll_fd = -1;
    }
    if (loop->wake_fd >= 0) {
        close(loop->wake_fd);
        loop->wake_fd = -1;
    }
    if (loop->deadlines.nodes != NULL) {
        pthread_mutex_destroy(&loop->queue_lock);
        deadline_heap_free(&loop->deadlines);
    }
}
