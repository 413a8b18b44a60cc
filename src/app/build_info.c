/*
 * build_info.c - see build_info.h.
 */
#include "build_info.h"

#include "version.h"

#include <elf.h>
#include <link.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>

/* The kernel tells every process where its program headers are. A binary
 * linked dynamically has PT_INTERP (the loader) and PT_DYNAMIC. */
static bool running_binary_is_static(void)
{
    const ElfW(Phdr) *headers = (const ElfW(Phdr) *)getauxval(AT_PHDR);
    unsigned long count = getauxval(AT_PHNUM);
    if (headers == NULL || count == 0) {
        return false;
    }
    for (unsigned long i = 0; i < count; i++) {
        if (headers[i].p_type == PT_INTERP || headers[i].p_type == PT_DYNAMIC) {
            return false;
        }
    }
    return true;
}

void build_info_collect(struct build_info *out)
{
    memset(out, 0, sizeof(*out));
    out->name = "tinyserver";
    out->version = TINYSERVER_VERSION;
    out->libc = TINYSERVER_LIBC;
    out->compiler = TINYSERVER_COMPILER;
    out->is_static = running_binary_is_static();
    alloc_info_get(&out->allocator);
    out->allocator_verified =
        alloc_info_verify_override(out->allocator_failure, sizeof(out->allocator_failure));
}

void build_info_version_line(const struct build_info *info, char *buf, size_t size)
{
    snprintf(buf, size, "%s %s (%s%s, %s %s%s)", info->name, info->version,
             info->is_static ? "static " : "", info->libc, info->allocator.name,
             info->allocator.version, info->allocator.secure ? " secure" : "");
}
