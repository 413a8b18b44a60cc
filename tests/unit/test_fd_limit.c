/* Unit tests for fd_limit.c: what the configured limits can use, and the
 * raise of the soft limit (never past the hard one, never down). */
#include "fd_limit.h"
#include "check.h"

#include <sys/resource.h>

int main(void)
{
    struct fd_limit_needs plain = {.max_connections = 1024, .http_threads = 2};
    struct fd_limit_needs tls = {
        .max_connections = 1024, .max_tls_connections = 256, .http_threads = 2, .tls_threads = 3};
    unsigned long base = FD_LIMIT_RESERVE + 2 * FD_LIMIT_PER_HTTP_THREAD;
    CHECK(fd_limit_needed(&plain) == base + 1024);
    /* The TLS socket and the relay's end; the HTTP end is a connection. */
    CHECK(fd_limit_needed(&tls) == base + 1024 + 2 * 256 + 3 * FD_LIMIT_PER_TLS_THREAD);
    CHECK(fd_limit_needed(&tls) > 1024); /* the defaults exceed the usual soft limit */

    struct rlimit original;
    CHECK(getrlimit(RLIMIT_NOFILE, &original) == 0);
    if (original.rlim_max != RLIM_INFINITY && original.rlim_max > 300) {
        struct rlimit low = {.rlim_cur = 200, .rlim_max = original.rlim_max};
        CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
        struct fd_limit_result result;
        CHECK(fd_limit_ensure(300, &result));
        CHECK(result.soft_before == 200 && result.soft == 300 && result.enough);
        CHECK(fd_limit_ensure(250, &result)); /* never lowered */
        CHECK(result.soft == 300 && result.enough);
        CHECK(fd_limit_ensure(original.rlim_max + 1, &result)); /* capped at the hard limit */
        CHECK(result.soft == original.rlim_max && !result.enough);
        CHECK(setrlimit(RLIMIT_NOFILE, &original) == 0);
    }
    return check_finish("fd_limit");
}
