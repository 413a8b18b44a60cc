/*
 * http_deadline.c - see http_deadline.h.
 */
#include "http_deadline.h"

#include "clock.h"
#include "threads.h"

#include <sys/socket.h>

/* The sweeper checks deadlines this many times per request timeout, but
 * at least once a second: a deadline is enforced up to a quarter late. */
#define HTTP_SWEEPS_PER_TIMEOUT 4u
#define HTTP_SWEEP_MAX_MS       1000u
/* During shutdown: how long a connection may wait for a request (time for
 * bytes already sent to be parsed), and how often that is checked. */
#define HTTP_SHUTDOWN_IDLE_MS  100u
#define HTTP_SHUTDOWN_SWEEP_MS 20u

bool http_deadline_init(struct http_deadline *deadline, uint64_t timeout_ns,
                        const struct logger *log)
{
    *deadline = (struct http_deadline){.timeout_ns = timeout_ns, .log = log};
    atomic_init(&deadline->count, 0);
    atomic_init(&deadline->shutting_down, false);
    return threads_monotonic_cond_init(&deadline->wake, &deadline->lock);
}

void http_deadline_add(struct http_deadline *deadline, struct http_deadline_entry *entry, int fd)
{
    entry->fd = fd;
    atomic_init(&entry->waiting_since_ns, clock_monotonic_ns());
    pthread_mutex_lock(&deadline->lock);
    list_push(&deadline->entries, &entry->link);
    atomic_fetch_add(&deadline->count, 1);
    pthread_mutex_unlock(&deadline->lock);
}

void http_deadline_remove(struct http_deadline *deadline, struct http_deadline_entry *entry)
{
    pthread_mutex_lock(&deadline->lock);
    list_unlink(&deadline->entries, &entry->link);
    atomic_fetch_sub(&deadline->count, 1);
    pthread_mutex_unlock(&deadline->lock);
}

void http_deadline_pause(struct http_deadline_entry *entry)
{
    atomic_store(&entry->waiting_since_ns, 0);
}

void http_deadline_restart(struct http_deadline_entry *entry)
{
    atomic_store(&entry->waiting_since_ns, clock_monotonic_ns());
}

unsigned http_deadline_count(const struct http_deadline *deadline)
{
    return atomic_load(&deadline->count);
}

/* Shuts down every connection that has waited timeout_ns or longer for a
 * request. Runs under the lock; returns how many it ended. */
static unsigned sweep_expired(struct http_deadline *deadline, uint64_t now_ns, uint64_t timeout_ns)
{
    unsigned ended = 0;
    for (struct list_link *link = deadline->entries; link != NULL; link = link->next) {
        struct http_deadline_entry *entry = LIST_ELEMENT(link, struct http_deadline_entry, link);
        uint64_t since = atomic_load(&entry->waiting_since_ns);
        if (!http_deadline_passed(since, now_ns, timeout_ns)) {
            continue;
        }
        /* Only once: the clock may have restarted or stopped meanwhile. */
        if (atomic_compare_exchange_strong(&entry->waiting_since_ns, &since, 0)) {
            shutdown(entry->fd, SHUT_RDWR);
            ended++;
        }
    }
    return ended;
}

static void *sweeper_main(void *arg)
{
    struct http_deadline *deadline = arg;
    uint64_t period_ns = deadline->timeout_ns / HTTP_SWEEPS_PER_TIMEOUT;
    if (period_ns > HTTP_SWEEP_MAX_MS * CLOCK_NS_PER_MS) {
        period_ns = HTTP_SWEEP_MAX_MS * CLOCK_NS_PER_MS;
    }
    pthread_mutex_lock(&deadline->lock);
    while (!deadline->stop) {
        bool stopping = atomic_load(&deadline->shutting_down);
        uint64_t sleep_ns = stopping ? HTTP_SHUTDOWN_SWEEP_MS * CLOCK_NS_PER_MS : period_ns;
        struct timespec wake = clock_monotonic_after(NULL, sleep_ns);
        pthread_cond_timedwait(&deadline->wake, &deadline->lock, &wake);
        if (deadline->stop) {
            break;
        }
        stopping = atomic_load(&deadline->shutting_down);
        uint64_t timeout_ns =
            stopping ? HTTP_SHUTDOWN_IDLE_MS * CLOCK_NS_PER_MS : deadline->timeout_ns;
        unsigned ended = sweep_expired(deadline, clock_monotonic_ns(), timeout_ns);
        if (ended != 0) {
            /* Not under the lock, which connections opening wait for.
             * Debug level: clients can trigger this at will. */
            pthread_mutex_unlock(&deadline->lock);
            log_message(deadline->log, LOG_DEBUG,
                        "closed %u connection(s) that sent no complete request within %llums%s",
                        ended, (unsigned long long)(timeout_ns / CLOCK_NS_PER_MS),
                        stopping ? " (shutting down)" : "");
            pthread_mutex_lock(&deadline->lock);
        }
    }
    pthread_mutex_unlock(&deadline->lock);
    return NULL;
}

bool http_deadline_start(struct http_deadline *deadline)
{
    deadline->sweeper_started =
        pthread_create(&deadline->sweeper, NULL, sweeper_main, deadline) == 0;
    return deadline->sweeper_started;
}

void http_deadline_begin_shutdown(struct http_deadline *deadline)
{
    atomic_store(&deadline->shutting_down, true);
    pthread_mutex_lock(&deadline->lock);
    pthread_cond_signal(&deadline->wake);
    pthread_mutex_unlock(&deadline->lock);
}

void http_deadline_destroy(struct http_deadline *deadline)
{
    if (deadline->sweeper_started) {
        pthread_mutex_lock(&deadline->lock);
        deadline->stop = true;
        pthread_cond_signal(&deadline->wake);
        pthread_mutex_unlock(&deadline->lock);
        pthread_join(deadline->sweeper, NULL);
        deadline->sweeper_started = false;
    }
    pthread_mutex_destroy(&deadline->lock);
    pthread_cond_destroy(&deadline->wake);
}
