/*
 * wipe.c - see wipe.h. Kept apart from every caller so that no caller can
 * see (and drop) the store.
 */
#define _DEFAULT_SOURCE /* explicit_bzero in musl's and glibc's string.h */
#include "wipe.h"

#include <string.h>

void wipe(void *p, size_t len)
{
    if (p != NULL) {
        explicit_bzero(p, len);
    }
}
