/*
 * http_workers.c - see http_workers.h.
 */
#include "http_workers.h"

#include "alloc_trim.h"

#include <stdlib.h>

struct http_worker {
    unsigned open; /* connections of this thread now open */
    struct alloc_trim trim;
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

void http_workers_opened(struct http_workers *workers)
{
    struct http_worker *worker = this_worker(workers);
    if (worker == NULL) {
        return;
    }
    worker->open++;
    (void)alloc_trim_due(&worker->trim, worker->open); /* rising: only the peak moves */
}

bool http_workers_closed(struct http_workers *workers)
{
    struct http_worker *worker = pthread_getspecific(workers->key);
    if (worker == NULL || worker->open == 0) {
        return false; /* its opening went uncounted */
    }
    worker->open--;
    if (!alloc_trim_due(&worker->trim, worker->open)) {
        return false;
    }
    alloc_trim_thread();
    return true;
}
