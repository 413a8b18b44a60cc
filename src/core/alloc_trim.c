/*
 * alloc_trim.c - see alloc_trim.h.
 */
#include "alloc_trim.h"

#if defined(TINYSERVER_ALLOCATOR_MIMALLOC)
#include <mimalloc.h>
#endif

bool alloc_trim_due(struct alloc_trim *trim, unsigned open)
{
    if (open > trim->peak) {
        trim->peak = open;
        trim->armed = trim->armed || open >= ALLOC_TRIM_MIN_PEAK;
        return false;
    }
    if (!trim->armed || open > trim->peak / ALLOC_TRIM_FRACTION) {
        return false;
    }
    trim->peak = open;
    trim->armed = open > 0;
    return true;
}

bool alloc_trim_pending(const struct alloc_trim *trim)
{
    return trim->armed;
}

void alloc_trim_thread(void)
{
#if defined(TINYSERVER_ALLOCATOR_MIMALLOC)
    mi_collect(true);
#endif
}
