/*
 * build_info.h - facts about this binary that /, --version and /bench
 * report: version, libc, static linking and the allocator.
 *
 * "static" is read from the running binary's own program headers rather
 * than taken from the build flags, so the claim is checked, not asserted.
 */
#ifndef TINYSERVER_BUILD_INFO_H
#define TINYSERVER_BUILD_INFO_H

#include "alloc_info.h"

#include <stdbool.h>

struct build_info {
    const char *name;
    const char *version;
    const char *libc;
    const char *compiler;
    bool is_static; /* no PT_INTERP and no PT_DYNAMIC in our own headers */
    struct alloc_info allocator;
    bool allocator_verified; /* alloc_info_verify_override() passed */
    char allocator_failure[64];
};

/* Collects every fact, including the allocator override check. */
void build_info_collect(struct build_info *out);

/* Writes the one-line --version text. */
void build_info_version_line(const struct build_info *info, char *buf, size_t size);

#endif
