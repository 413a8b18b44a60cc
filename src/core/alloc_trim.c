/*
 * alloc_trim.c - see alloc_trim.h.
 */
#include "alloc_trim.h"

#if defined(TINYSERVER_ALLOCATOR_MIMALLOC)
#include <mimalloc.h>
#endif

void alloc_trim_configure(void)
{
#if defined(TINYSERVER_ALLOCATOR_MIMALLOC)
    /* Freed spans are decommitted when they are freed, not 25 ms later on
     * an allocation of the same thread. In the keep-alive path nothing
     * reaches the span level (a freed block goes back to its page), so
     * this costs system calls only when whole pages empty: bursts. */
    mi_option_set(mi_option_decommit_delay, 0);
#endif
}

bool alloc_trim_due(struct alloc_trim *trim, unsigned open)
{
    if (open > trim->peak) {
        trim->peak = open;
        return false;
    }
    if (trim->peak < ALLOC_TRIM_MIN_PEAK || open > trim->peak / ALLOC_TRIM_FRACTION) {
        return false;
    }
    trim->peak = open;
    return true;
}

bool alloc_trim_pending(const struct alloc_trim *trim)
{
    return trim->peak >= ALLOC_TRIM_MIN_PEAK;
}

void alloc_trim_thread(void)
{
#if defined(TINYSERVER_ALLOCATOR_MIMALLOC)
    mi_collect(true);
#endif
}
