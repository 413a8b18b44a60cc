/* Unit tests for http_peer_limit.c: counting per address, release, the
 * full table, and addresses that are not counted. */
#include "check.h"
#include "http_peer_limit.h"
#include "net_addr.h"

#include <sys/un.h>

static struct net_addr addr(const char *text)
{
    struct net_addr a;
    CHECK(net_addr_parse(text, 80, &a));
    return a;
}

static void test_limit_per_address(void)
{
    struct http_peer_limit limit;
    CHECK(http_peer_limit_init(&limit, 2, 8));
    struct net_addr a = addr("127.0.0.1"), b = addr("::1");
    CHECK(http_peer_limit_acquire(&limit, net_addr_sockaddr(&a)));
    CHECK(http_peer_limit_acquire(&limit, net_addr_sockaddr(&a)));
    CHECK(!http_peer_limit_acquire(&limit, net_addr_sockaddr(&a))); /* third: over */
    CHECK(http_peer_limit_acquire(&limit, net_addr_sockaddr(&b)));  /* another address */
    http_peer_limit_release(&limit, net_addr_sockaddr(&a));
    CHECK(http_peer_limit_acquire(&limit, net_addr_sockaddr(&a))); /* a slot came back */
    CHECK(!http_peer_limit_acquire(&limit, net_addr_sockaddr(&a)));
    http_peer_limit_release(&limit, net_addr_sockaddr(&a));
    http_peer_limit_release(&limit, net_addr_sockaddr(&a));
    CHECK(limit.used == 1); /* a's row is gone, b's moved into its place */
    http_peer_limit_release(&limit, net_addr_sockaddr(&b));
    CHECK(limit.used == 0);
    http_peer_limit_destroy(&limit);
}

static void test_full_table_refuses(void)
{
    struct http_peer_limit limit;
    CHECK(http_peer_limit_init(&limit, 4, 2));
    struct net_addr a = addr("10.0.0.1"), b = addr("10.0.0.2"), c = addr("10.0.0.3");
    CHECK(http_peer_limit_acquire(&limit, net_addr_sockaddr(&a)));
    CHECK(http_peer_limit_acquire(&limit, net_addr_sockaddr(&b)));
    CHECK(!http_peer_limit_acquire(&limit, net_addr_sockaddr(&c)));
    CHECK(http_peer_limit_acquire(&limit, net_addr_sockaddr(&a))); /* a known address still is */
    http_peer_limit_destroy(&limit);
}

static void test_uncounted(void)
{
    struct http_peer_limit limit;
    CHECK(http_peer_limit_init(&limit, 1, 4));
    struct sockaddr_un local = {.sun_family = AF_UNIX};
    for (int i = 0; i < 3; i++) {
        CHECK(http_peer_limit_acquire(&limit, (const struct sockaddr *)&local));
    }
    CHECK(http_peer_limit_acquire(&limit, NULL));
    CHECK(limit.used == 0);
    http_peer_limit_destroy(&limit);

    CHECK(http_peer_limit_init(&limit, 0, 4)); /* no limit */
    struct net_addr a = addr("127.0.0.1");
    for (int i = 0; i < 10; i++) {
        CHECK(http_peer_limit_acquire(&limit, net_addr_sockaddr(&a)));
    }
    CHECK(limit.used == 0);
    http_peer_limit_destroy(&limit);
}

int main(void)
{
    test_limit_per_address();
    test_full_table_refuses();
    test_uncounted();
    return check_finish("http_peer_limit");
}
