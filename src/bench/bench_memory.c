/*
 * bench_memory.c - reading resident memory and a thread's own usage; see
 * bench_memory.h.
 */
#define _GNU_SOURCE /* RUSAGE_THREAD */
#include "bench_memory.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* statm is one line of seven numbers; the second is the resident pages. */
#define STATM_MAX 128
/* status is about 1.5 KiB; VmHWM is in its first half. */
#define STATUS_MAX 4096

/* Opens dir/name read-only; -1 (errno set) when it cannot. */
static int open_in(const char *dir, const char *name)
{
    char path[PATH_MAX];
    int len = snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (len < 0 || (size_t)len >= sizeof(path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return open(path, O_RDONLY | O_CLOEXEC);
}

void bench_memory_open(struct bench_memory_reader *reader, const char *dir)
{
    reader->error = 0;
    reader->page = sysconf(_SC_PAGESIZE);
    reader->statm = open_in(dir, "statm");
    if (reader->statm < 0) {
        reader->error = errno;
    } else if (reader->page <= 0) {
        reader->error = EINVAL;
    }
    reader->status = open_in(dir, "status");
}

/* The second field of a statm line, or false. */
static bool statm_resident_pages(const char *text, uint64_t *pages)
{
    const char *p = text;
    while (*p >= '0' && *p <= '9') {
        p++;
    }
    if (p == text || *p != ' ') {
        return false;
    }
    const char *digits = ++p;
    uint64_t value = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        value = value * 10 + (uint64_t)(*p - '0');
    }
    if (p == digits || (*p != ' ' && *p != '\n')) {
        return false;
    }
    *pages = value;
    return true;
}

bool bench_memory_resident(struct bench_memory_reader *reader, uint64_t *bytes)
{
    if (reader->statm < 0 || reader->error != 0) {
        return false;
    }
    char text[STATM_MAX];
    /* pread from 0 makes the kernel write the line afresh each time, so one
     * descriptor serves every sample. */
    ssize_t len = pread(reader->statm, text, sizeof(text) - 1, 0);
    if (len <= 0) {
        reader->error = len < 0 ? errno : EIO;
        return false;
    }
    text[len] = '\0';
    uint64_t pages;
    if (!statm_resident_pages(text, &pages)) {
        reader->error = EIO;
        return false;
    }
    *bytes = pages * (uint64_t)reader->page;
    return true;
}

bool bench_memory_high_water(struct bench_memory_reader *reader, uint64_t *bytes)
{
    if (reader->status < 0) {
        return false;
    }
    char text[STATUS_MAX];
    ssize_t len = pread(reader->status, text, sizeof(text) - 1, 0);
    if (len <= 0) {
        return false;
    }
    text[len] = '\0';
    /* "VmHWM:\t   1234 kB" */
    const char *line = strstr(text, "\nVmHWM:");
    if (line == NULL) {
        return false;
    }
    const char *p = line + strlen("\nVmHWM:");
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    const char *digits = p;
    uint64_t kib = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        kib = kib * 10 + (uint64_t)(*p - '0');
    }
    if (p == digits || strncmp(p, " kB", 3) != 0) {
        return false;
    }
    *bytes = kib * 1024u;
    return true;
}

void bench_memory_close(struct bench_memory_reader *reader)
{
    if (reader->statm >= 0) {
        close(reader->statm);
    }
    if (reader->status >= 0) {
        close(reader->status);
    }
    reader->statm = -1;
    reader->status = -1;
}

static uint64_t timeval_us(const struct timeval *tv)
{
    return (uint64_t)tv->tv_sec * 1000000u + (uint64_t)tv->tv_usec;
}

void bench_cpu_of_thread(struct bench_cpu *cpu)
{
    struct rusage usage;
    *cpu = (struct bench_cpu){.known = true};
    if (getrusage(RUSAGE_THREAD, &usage) != 0) {
        cpu->known = false;
        cpu->error = errno;
        return;
    }
    cpu->user_us = timeval_us(&usage.ru_utime);
    cpu->system_us = timeval_us(&usage.ru_stime);
    cpu->minor_faults = (uint64_t)usage.ru_minflt;
    cpu->major_faults = (uint64_t)usage.ru_majflt;
}

void bench_cpu_add(struct bench_cpu *into, const struct bench_cpu *from)
{
    if (!from->known && into->known) {
        into->known = false;
        into->error = from->error;
    }
    into->user_us += from->user_us;
    into->system_us += from->system_us;
    into->minor_faults += from->minor_faults;
    into->major_faults += from->major_faults;
}
