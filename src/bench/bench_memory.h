/*
 * bench_memory.h - what one benchmark run costs in memory and CPU: the
 * resident set sampled from /proc/self/statm while it runs, and the worker
 * threads' own page faults and CPU time (getrusage RUSAGE_THREAD).
 *
 * Every allocator of a comparison runs in the one process, so each figure
 * is a difference over its own run: resident memory above what the process
 * held when the run started, and the workers' faults and time, which
 * belong to the run alone because its worker threads are new. What the
 * resident figures cannot separate: memory the allocator already held from
 * an earlier run (reused without a new page, so it does not show), and
 * memory other threads of the process (the HTTP server) touched meanwhile.
 *
 * A figure that cannot be read is unavailable (`known` false, with the
 * errno that said why), never 0.
 */
#ifndef TINYSERVER_BENCH_MEMORY_H
#define TINYSERVER_BENCH_MEMORY_H

#include <stdbool.h>
#include <stdint.h>

/* Where the resident figures come from: DIR/statm (the resident pages,
 * read at each sample) and DIR/status (VmHWM, the process's high-water
 * mark, read at the start and the end). */
#define BENCH_MEMORY_DIR "/proc/self"

/* Resident memory over one run, in bytes. */
struct bench_memory {
    bool known;     /* false: statm could not be read; the figures are meaningless */
    int error;      /* the errno when !known */
    uint64_t start; /* resident when the run started */
    /* The most resident during the run, above start: VmHWM at the end when
     * the run raised it (then exact: the kernel records the high water
     * before every unmap), else the most any sample saw (a peak shorter
     * than the sampling period can fall between samples). */
    uint64_t peak;
    bool peak_exact;           /* the run raised VmHWM, so peak came from it */
    int64_t retained;          /* resident after the run, minus start (negative: gave back more) */
    int64_t retained_released; /* the same, after the allocator was asked to give memory back */
    unsigned samples;          /* reads of statm during the run */
};

/* The worker threads' own cost, summed. */
struct bench_cpu {
    bool known; /* false: getrusage failed on some worker */
    int error;
    uint64_t user_us;
    uint64_t system_us;
    uint64_t minor_faults;
    uint64_t major_faults;
};

/* The open files, read at each sample. */
struct bench_memory_reader {
    int statm;  /* -1 when it could not be opened */
    int status; /* -1 when it could not be opened: then no VmHWM, samples only */
    int error;  /* why statm could not be opened, or why its last read failed */
    long page;  /* bytes per page, which statm counts in */
};

/* Opens DIR/statm and DIR/status (dir: BENCH_MEMORY_DIR; tests name
 * another). When statm cannot be opened the reader remembers the errno,
 * and every read fails with it. */
void bench_memory_open(struct bench_memory_reader *reader, const char *dir);

/* The resident bytes now; false (errno in reader->error) when unreadable. */
bool bench_memory_resident(struct bench_memory_reader *reader, uint64_t *bytes);

/* The process's resident high-water mark (VmHWM) now; false when status is
 * unreadable. A failure here leaves the resident figures known. */
bool bench_memory_high_water(struct bench_memory_reader *reader, uint64_t *bytes);

void bench_memory_close(struct bench_memory_reader *reader);

/* The calling thread's own faults and CPU time so far, into *cpu (known
 * false, with the errno, when getrusage fails). */
void bench_cpu_of_thread(struct bench_cpu *cpu);

/* Adds a thread's figures into a run's; the sum is unknown if either is. */
void bench_cpu_add(struct bench_cpu *into, const struct bench_cpu *from);

#endif
