/*
 * http_hangup.c - the hangup watch; see http_hangup.h.
 */
#define _GNU_SOURCE /* POLLRDHUP */
#include "http_hangup.h"

#include "clock.h"
#include "threads.h"

#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

struct http_hangup_watch {
    pthread_mutex_t lock;
    pthread_cond_t wake; /* an entry was added, or the watch is stopping */
    struct list_link *entries;
    bool stop;
    pthread_t thread;
};

static bool client_hung_up(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLRDHUP};
    return poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

static void *watch_main(void *arg)
{
    struct http_hangup_watch *watch = arg;
    pthread_mutex_lock(&watch->lock);
    while (!watch->stop) {
        if (watch->entries == NULL) {
            pthread_cond_wait(&watch->wake, &watch->lock);
            continue;
        }
        struct timespec next = clock_monotonic_after(NULL, HTTP_HANGUP_POLL_MS * CLOCK_NS_PER_MS);
        pthread_cond_timedwait(&watch->wake, &watch->lock, &next);
        /* Under the lock, so that no entry is removed while looked at. A
         * poll with no timeout per socket; there are at most as many as
         * benchmarks running. */
        for (struct list_link *link = watch->entries; link != NULL; link = link->next) {
            struct http_hangup_entry *entry = LIST_ELEMENT(link, struct http_hangup_entry, link);
            if (!atomic_load(entry->gone) && client_hung_up(entry->fd)) {
                atomic_store(entry->gone, true);
            }
        }
    }
    pthread_mutex_unlock(&watch->lock);
    return NULL;
}

struct http_hangup_watch *http_hangup_watch_start(void)
{
    struct http_hangup_watch *watch = calloc(1, sizeof(*watch));
    if (watch == NULL) {
        return NULL;
    }
    if (!threads_monotonic_cond_init(&watch->wake, &watch->lock)) {
        free(watch);
        return NULL;
    }
    if (pthread_create(&watch->thread, NULL, watch_main, watch) != 0) {
        pthread_mutex_destroy(&watch->lock);
        pthread_cond_destroy(&watch->wake);
        free(watch);
        return NULL;
    }
    return watch;
}

void http_hangup_watch_stop(struct http_hangup_watch *watch)
{
    pthread_mutex_lock(&watch->lock);
    watch->stop = true;
    pthread_cond_signal(&watch->wake);
    pthread_mutex_unlock(&watch->lock);
    pthread_join(watch->thread, NULL);
    pthread_mutex_destroy(&watch->lock);
    pthread_cond_destroy(&watch->wake);
    free(watch);
}

void http_hangup_watch_add(struct http_hangup_watch *watch, struct http_hangup_entry *entry)
{
    pthread_mutex_lock(&watch->lock);
    list_push(&watch->entries, &entry->link);
    pthread_cond_signal(&watch->wake);
    pthread_mutex_unlock(&watch->lock);
}

void http_hangup_watch_remove(struct http_hangup_watch *watch, struct http_hangup_entry *entry)
{
    pthread_mutex_lock(&watch->lock);
    list_unlink(&watch->entries, &entry->link);
    pthread_mutex_unlock(&watch->lock);
}
