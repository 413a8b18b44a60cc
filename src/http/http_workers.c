/*
 * http_workers.c - see http_workers.h.
 */
#include "http_workers.h"

#include "alloc_trim.h"

#include <stdlib.h>

/* One count and its trim record. */
struct http_worker_count {
    unsigned now;
    struct alloc_trim trim;
};

struct http_worker {
    struct http_worker_count connections; /* open on this thread */
    struct http_worker_count requests;    /* being received or served */
    struct http_worker *next;
};

bool http_workers_init(struct http_workers *workers)
{
    workers->all = NULL;
    workers->key_made = false;
    if (pthread_mutex_init(&workers->lock, NULL) != 0) {
        return false;
    }
    if (pthread_key_create(&workers->key, NULL) != 0) {
        pthread_mutex_destroy(&workers->lock);
        return false;
    }
    workers->key_made = true;
    return true;
}

void http_workers_destroy(struct http_workers *workers)
{
    if (!workers->key_made) {
        return;
    }
    struct http_worker *worker = workers->all;
    while (worker != NULL) {
        struct http_worker *next = worker->next;
        free(worker);
        worker = next;
    }
    workers->all = NULL;
    pthread_key_delete(workers->key);
    pthread_mutex_destroy(&workers->lock);
    workers->key_made = false;
}

/* The calling thread's record, made on first use; NULL without memory. */
static struct http_worker *this_worker(struct http_workers *workers)
{
    struct http_worker *worker = pthread_getspecific(workers->key);
    if (worker != NULL) {
        return worker;
    }
    worker = calloc(1, sizeof(*worker));
    if (worker == NULL) {
        return NULL;
    }
    if (pthread_setspecific(workers->key, worker) != 0) {
        free(worker);
        return NULL;
    }
    pthread_mutex_lock(&workers->lock);
    worker->next = workers->all;
    workers->all = worker;
    pthread_mutex_unlock(&workers->lock);
    return worker;
}

static void count_up(struct http_worker_count *count)
{
    count->now++;
    (void)alloc_trim_due(&count->trim, count->now); /* rising: only the peak moves */
}

/* Trims the calling thread's heap if the fall makes one due. */
static bool count_down(struct http_worker_count *count)
{
    if (count->now == 0) {
        return false; /* its rise went uncounted */
    }
    count->now--;
    if (!alloc_trim_due(&count->trim, count->now)) {
        return false;
    }
    alloc_trim_thread();
    return true;
}

void http_workers_opened(struct http_workers *workers)
{
    struct http_worker *worker = this_worker(workers);
    if (worker != NULL) {
        count_up(&worker->connections);
    }
}

bool http_workers_closed(struct http_workers *workers)
{
    struct http_worker *worker = pthread_getspecific(workers->key);
    return worker != NULL && count_down(&worker->connections);
}

void http_workers_request_began(struct http_workers *workers)
{
    struct http_worker *worker = this_worker(workers);
    if (worker != NULL) {
        count_up(&worker->requests);
    }
}

bool http_workers_request_ended(struct http_workers *workers)
{
    struct http_worker *worker = pthread_getspecific(workers->key);
    return worker != NULL && count_down(&worker->requests);
}
