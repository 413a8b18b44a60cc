/*
 * alloc_trim.h - giving back the memory a burst of connections used, once
 * they are gone.
 *
 * mimalloc 2.0.9 keeps what a thread frees for that thread, and returns
 * pages to the system only from inside the same thread's later
 * allocations (after a 25 ms decommit delay), or when that thread calls
 * mi_collect(). A worker that goes quiet after a burst allocates nothing
 * more, so it never would. Memory another thread frees (a TLS relay ended
 * by its loop thread) waits on the allocating thread's lists until that
 * thread looks at them.
 *
 * So each thread that allocates per connection keeps a struct alloc_trim
 * and reports its count of open connections; once the count has reached
 * ALLOC_TRIM_MIN_PEAK, the thread trims its own heap (alloc_trim_thread())
 * each time the count has fallen to an eighth of its peak since the last
 * trim, down to and including 0, where the record rests until the next
 * burst. A burst of N connections ends in about log8(N) trims; a steady
 * load, whose count does not fall that far, never trims, and neither does
 * a thread that never held ALLOC_TRIM_MIN_PEAK connections at once (say,
 * a probe connecting every few seconds), whose memory is too little to be
 * worth it. The trims before the last find pages still held by the
 * connections left; the one at 0 finds them free.
 *
 * mi_collect(true) frees the thread's empty pages and, with
 * patches/mimalloc/0002, decommits their spans at once (mimalloc itself
 * would wait for a later allocation of the thread). mimalloc's options
 * stay as they are: a decommit delay of 0 made /bench's mimalloc workloads
 * decommit and commit pages tens of thousands of times a run. With musl's
 * allocator, which unmaps freed groups itself, a trim does nothing.
 */
#ifndef TINYSERVER_ALLOC_TRIM_H
#define TINYSERVER_ALLOC_TRIM_H

#include <stdbool.h>

/* A thread whose count never reached this since it rested does not trim. */
#define ALLOC_TRIM_MIN_PEAK 16u
/* Trim once the open count is at most the peak divided by this. */
#define ALLOC_TRIM_FRACTION 8u
/* How often a thread that waits on a socket for other work (the TLS
 * listener) looks whether its connections have gone. */
#define ALLOC_TRIM_CHECK_MS 1000

/* One thread's record; zero-initialised means nothing seen yet. Used by
 * its thread only. */
struct alloc_trim {
    unsigned peak; /* open connections at most, since the last trim */
    bool armed;    /* the peak reached ALLOC_TRIM_MIN_PEAK; off again at 0 */
};

/* The decision, from the thread's count of open connections now: true
 * when a trim is due (and the peak restarts from `open`). Pure. */
bool alloc_trim_due(struct alloc_trim *trim, unsigned open);

/* Whether a trim can still become due (the record is armed): a thread
 * that waits with a timeout only needs one while this holds. */
bool alloc_trim_pending(const struct alloc_trim *trim);

/* Returns the calling thread's freed memory, and memory of exited
 * threads, to the system (mi_collect(true), patched). Nothing with musl. */
void alloc_trim_thread(void);

#endif
