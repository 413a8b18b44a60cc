/*
 * fd_limit.c - see fd_limit.h.
 */
#include "fd_limit.h"

#include <sys/resource.h>

unsigned long fd_limit_needed(const struct fd_limit_needs *needs)
{
    return FD_LIMIT_RESERVE + (unsigned long)needs->http_threads * FD_LIMIT_PER_HTTP_THREAD +
           needs->max_connections +
           (unsigned long)needs->max_tls_connections * FD_LIMIT_PER_TLS_CONNECTION +
           (unsigned long)needs->tls_threads * FD_LIMIT_PER_TLS_THREAD;
}

bool fd_limit_ensure(unsigned long needed, struct fd_limit_result *result)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
        return false;
    }
    result->soft_before = limit.rlim_cur;
    result->hard = limit.rlim_max;
    if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < needed) {
        limit.rlim_cur =
            limit.rlim_max == RLIM_INFINITY || limit.rlim_max > needed ? needed : limit.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
            return false;
        }
    }
    result->soft = limit.rlim_cur;
    result->enough = limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= needed;
    return true;
}
