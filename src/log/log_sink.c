/*
 * log_sink.c - see log_sink.h.
 *
 * Locks: the sink's lock guards the list of buffers and the flusher's
 * sleep; each buffer has its own lock, which its thread takes for every
 * line and the flusher only when it looks at that buffer. Order: sink,
 * then buffer. A thread adding a line takes only its buffer's lock, so
 * threads never wait for each other, only (briefly) for the flusher.
 */
#include "log_sink.h"

#include "clock.h"
#include "log_buffer.h"
#include "log_write.h"
#include "threads.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct log_slot {
    pthread_mutex_t lock;
    struct log_buffer buffer;
    struct log_slot *next;
};

struct log_sink {
    int fd;
    size_t buffer_size;
    uint64_t flush_ns;
    pthread_key_t key; /* the calling thread's struct log_slot */
    pthread_mutex_t lock;
    pthread_cond_t wake; /* the flusher's sleep; signalled to stop it */
    struct log_slot *slots;
    bool stop;
    pthread_t flusher;
};

/* Writes out the slot's lines if they are due by now_ns; else returns
 * when they will be (UINT64_MAX: nothing kept). */
static uint64_t flush_if_due(struct log_sink *sink, struct log_slot *slot, uint64_t now_ns)
{
    pthread_mutex_lock(&slot->lock);
    uint64_t due_ns = log_buffer_due_ns(&slot->buffer, sink->flush_ns);
    if (due_ns <= now_ns) {
        log_buffer_flush(&slot->buffer, sink->fd);
        due_ns = UINT64_MAX;
    }
    pthread_mutex_unlock(&slot->lock);
    return due_ns;
}

/* Sleeps until the oldest kept line is due, at most flush_ns, so a line
 * that arrives in an empty buffer while it sleeps is still on time. */
static void *flusher_main(void *arg)
{
    struct log_sink *sink = arg;
    pthread_mutex_lock(&sink->lock);
    while (!sink->stop) {
        uint64_t now_ns = clock_monotonic_ns();
        uint64_t next_ns = now_ns + sink->flush_ns;
        for (struct log_slot *slot = sink->slots; slot != NULL; slot = slot->next) {
            uint64_t due_ns = flush_if_due(sink, slot, now_ns);
            next_ns = due_ns < next_ns ? due_ns : next_ns;
        }
        struct timespec wake = clock_monotonic_after(NULL, next_ns - now_ns);
        pthread_cond_timedwait(&sink->wake, &sink->lock, &wake);
    }
    pthread_mutex_unlock(&sink->lock);
    return NULL;
}

/* Starts the flusher with every signal blocked: threads inherit the
 * creator's mask, and one that did not block SIGTERM could take the signal
 * that the main thread waits for. */
static bool start_flusher(struct log_sink *sink)
{
    sigset_t all;
    sigset_t before;
    sigfillset(&all);
    if (pthread_sigmask(SIG_SETMASK, &all, &before) != 0) {
        return false;
    }
    bool started = pthread_create(&sink->flusher, NULL, flusher_main, sink) == 0;
    pthread_sigmask(SIG_SETMASK, &before, NULL);
    return started;
}

struct log_sink *log_sink_start(int fd, size_t buffer_size, unsigned flush_ms, char *err,
                                size_t err_size)
{
    struct log_sink *sink = calloc(1, sizeof(*sink));
    if (sink == NULL) {
        snprintf(err, err_size, "out of memory for the log buffers");
        return NULL;
    }
    *sink = (struct log_sink){
        .fd = fd,
        .buffer_size = buffer_size,
        .flush_ns = (uint64_t)flush_ms * CLOCK_NS_PER_MS,
    };
    if (buffer_size == 0 || flush_ms == 0) {
        snprintf(err, err_size, "log buffer and flush interval must be at least 1");
        free(sink);
        return NULL;
    }
    if (pthread_key_create(&sink->key, NULL) != 0) {
        snprintf(err, err_size, "cannot create the log buffers' thread key");
        free(sink);
        return NULL;
    }
    if (!threads_monotonic_cond_init(&sink->wake, &sink->lock)) {
        snprintf(err, err_size, "cannot initialise the log flusher's lock");
        pthread_key_delete(sink->key);
        free(sink);
        return NULL;
    }
    if (!start_flusher(sink)) {
        snprintf(err, err_size, "cannot start the log flusher thread");
        pthread_cond_destroy(&sink->wake);
        pthread_mutex_destroy(&sink->lock);
        pthread_key_delete(sink->key);
        free(sink);
        return NULL;
    }
    return sink;
}

/* The calling thread's buffer, created on its first line; NULL without
 * memory for one. */
static struct log_slot *own_slot(struct log_sink *sink)
{
    struct log_slot *slot = pthread_getspecific(sink->key);
    if (slot != NULL) {
        return slot;
    }
    slot = calloc(1, sizeof(*slot));
    if (slot == NULL) {
        return NULL;
    }
    if (!log_buffer_init(&slot->buffer, sink->buffer_size)) {
        free(slot);
        return NULL;
    }
    if (pthread_mutex_init(&slot->lock, NULL) != 0) {
        log_buffer_destroy(&slot->buffer);
        free(slot);
        return NULL;
    }
    if (pthread_setspecific(sink->key, slot) != 0) {
        pthread_mutex_destroy(&slot->lock);
        log_buffer_destroy(&slot->buffer);
        free(slot);
        return NULL;
    }
    pthread_mutex_lock(&sink->lock);
    slot->next = sink->slots;
    sink->slots = slot;
    pthread_mutex_unlock(&sink->lock);
    return slot;
}

void log_sink_put(struct log_sink *sink, const char *line, size_t len)
{
    struct log_slot *slot = own_slot(sink);
    if (slot == NULL) {
        /* Better late order than a lost line. */
        log_sink_put_now(sink, line, len);
        return;
    }
    uint64_t now_ns = clock_monotonic_ns();
    pthread_mutex_lock(&slot->lock);
    log_buffer_add(&slot->buffer, sink->fd, line, len, now_ns);
    pthread_mutex_unlock(&slot->lock);
}

void log_sink_flush(struct log_sink *sink)
{
    pthread_mutex_lock(&sink->lock);
    for (struct log_slot *slot = sink->slots; slot != NULL; slot = slot->next) {
        pthread_mutex_lock(&slot->lock);
        log_buffer_flush(&slot->buffer, sink->fd);
        pthread_mutex_unlock(&slot->lock);
    }
    pthread_mutex_unlock(&sink->lock);
}

void log_sink_put_now(struct log_sink *sink, const char *line, size_t len)
{
    log_sink_flush(sink);
    log_write_all(sink->fd, line, len);
}

void log_sink_stop(struct log_sink *sink)
{
    if (sink == NULL) {
        return;
    }
    pthread_mutex_lock(&sink->lock);
    sink->stop = true;
    pthread_cond_signal(&sink->wake);
    pthread_mutex_unlock(&sink->lock);
    pthread_join(sink->flusher, NULL);
    log_sink_flush(sink);
    struct log_slot *slot = sink->slots;
    while (slot != NULL) {
        struct log_slot *next = slot->next;
        pthread_mutex_destroy(&slot->lock);
        log_buffer_destroy(&slot->buffer);
        free(slot);
        slot = next;
    }
    pthread_key_delete(sink->key);
    pthread_cond_destroy(&sink->wake);
    pthread_mutex_destroy(&sink->lock);
    free(sink);
}
