/* Unit tests for alloc_trim.c: when a thread trims (the pure decision), and,
 * in a mimalloc build, that a trim gives a burst's freed memory back. */
#include "alloc_trim.h"
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Closes connections one at a time from `open` down to 0; the trims. */
static unsigned trims_closing_from(struct alloc_trim *trim, unsigned open)
{
    unsigned trims = 0;
    while (open > 0) {
        open--;
        trims += alloc_trim_due(trim, open);
    }
    return trims;
}

static void opens_to(struct alloc_trim *trim, unsigned from, unsigned to)
{
    for (unsigned open = from + 1; open <= to; open++) {
        CHECK_MSG(!alloc_trim_due(trim, open), "a rising count trimmed at %u", open);
    }
}

static void check_decision(void)
{
    struct alloc_trim trim = {0};
    CHECK(!alloc_trim_pending(&trim));

    /* Below the minimum peak nothing ever trims: a probe's connection. */
    opens_to(&trim, 0, ALLOC_TRIM_MIN_PEAK - 1);
    CHECK(!alloc_trim_pending(&trim));
    CHECK(trims_closing_from(&trim, ALLOC_TRIM_MIN_PEAK - 1) == 0);

    /* A burst of 10,000: trims at 1,250, 156, 19, 2 and 0 (the peak
     * restarts at each trim), then rests. */
    trim = (struct alloc_trim){0};
    opens_to(&trim, 0, 10000);
    CHECK(alloc_trim_pending(&trim));
    CHECK(!alloc_trim_due(&trim, 10000 / ALLOC_TRIM_FRACTION + 1));
    CHECK(alloc_trim_due(&trim, 10000 / ALLOC_TRIM_FRACTION));
    CHECK(trim.peak == 10000 / ALLOC_TRIM_FRACTION);
    CHECK(trims_closing_from(&trim, 10000 / ALLOC_TRIM_FRACTION) == 4);
    CHECK(!alloc_trim_pending(&trim));
    /* Resting, a few connections come and go without a trim. */
    opens_to(&trim, 0, ALLOC_TRIM_MIN_PEAK - 1);
    CHECK(trims_closing_from(&trim, ALLOC_TRIM_MIN_PEAK - 1) == 0);

    /* A steady load that never falls to an eighth of its peak: no trim. */
    trim = (struct alloc_trim){0};
    opens_to(&trim, 0, 100);
    unsigned trims = 0;
    for (int round = 0; round < 1000; round++) {
        for (unsigned open = 100; open > 30; open--) {
            trims += alloc_trim_due(&trim, open - 1);
        }
        opens_to(&trim, 30, 100);
    }
    CHECK_MSG(trims == 0, "a load between 30 and 100 trimmed %u times", trims);

    /* A new burst after a trim is judged by its own peak. */
    trim = (struct alloc_trim){0};
    opens_to(&trim, 0, 64);
    CHECK(trims_closing_from(&trim, 64) == 3); /* at 8, 1 and 0 */
    opens_to(&trim, 0, 800);
    CHECK(trims_closing_from(&trim, 800) == 4); /* at 100, 12, 1 and 0 */
    /* Connections left open after a trim: a later fall still trims. */
    trim = (struct alloc_trim){0};
    opens_to(&trim, 0, 160);
    CHECK(alloc_trim_due(&trim, 20));
    opens_to(&trim, 20, 24);
    CHECK(!alloc_trim_due(&trim, 4));
    CHECK(alloc_trim_due(&trim, 3));
    CHECK(alloc_trim_due(&trim, 0));
}

#if defined(TINYSERVER_ALLOCATOR_MIMALLOC) && !defined(__SANITIZE_ADDRESS__)
#define BURST_BLOCKS     2048u
#define BURST_BLOCK_SIZE (32u * 1024u) /* a connection's pool */
/* 64 MiB touched and freed; what may stay resident after the trim. */
#define BURST_MAY_KEEP_KIB (6u * 1024u)

static long resident_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL) {
        return -1;
    }
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtol(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kib;
}

/* A burst's memory, freed, comes back with one trim: without it,
 * mimalloc 2.0.9 keeps it committed for this thread. */
static void check_burst_given_back(void)
{
    static void *blocks[BURST_BLOCKS];
    long before = resident_kib();
    for (unsigned i = 0; i < BURST_BLOCKS; i++) {
        blocks[i] = malloc(BURST_BLOCK_SIZE);
        CHECK(blocks[i] != NULL);
        if (blocks[i] != NULL) {
            memset(blocks[i], 0x5a, BURST_BLOCK_SIZE);
        }
    }
    long held = resident_kib();
    for (unsigned i = 0; i < BURST_BLOCKS; i++) {
        free(blocks[i]);
    }
    alloc_trim_thread();
    long after = resident_kib();
    CHECK_MSG(before > 0 && held - before >= (long)(BURST_BLOCKS * BURST_BLOCK_SIZE / 1024 / 2),
              "the burst was not resident: %ld KiB before, %ld held", before, held);
    CHECK_MSG(after - before <= (long)BURST_MAY_KEEP_KIB,
              "%ld KiB before, %ld held, %ld after the trim", before, held, after);
}
#endif

int main(void)
{
    check_decision();
#if defined(TINYSERVER_ALLOCATOR_MIMALLOC) && !defined(__SANITIZE_ADDRESS__)
    check_burst_given_back();
#endif
    return check_finish("alloc_trim");
}
