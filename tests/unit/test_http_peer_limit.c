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
    CHECK(http_peer_limit_init(&limit, 2, 8, 128));
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
    CHECK(http_peer_limit_init(&limit, 4, 2, 128));
    struct net_addr a = addr("10.0.0.1"), b = addr("10.0.0.2"), c = addr("10.0.0.3");
    CHECK(http_peer_limit_acquire(&limit, net_addr_sockaddr(&a)));
    CHECK(http_peer_limit_acquire(&limit, net_addr_sockaddr(&b)));
    CHECK(!http_peer_limit_acquire(&limit, net_addr_sockaddr(&c)));
    CHECK(http_peer_limit_acquire(&limit, net_addr_sockaddr(&a))); /* a known address still is */
    http_peer_limit_destroy(&limit);
}

/* IPv6 addresses inside one prefix are one client: the addresses of a
 * /64 are the customer's to choose, so counting them apart would give it
 * 2^64 limits. */
static void test_ipv6_counts_by_prefix(void)
{
    struct http_peer_limit limit;
    CHECK(http_peer_limit_init(&limit, 2, 8, 64));
    struct net_addr a = addr("2001:db8:1:2::1"), b = addr("2001:db8:1:2:ffff::9"),
                    c = addr("2001:db8:1:2:8000::"), other = addr("2001:db8:1:3::1");
    CHECK(http_peer_limit_acquire(&limit, net_addr_sockaddr(&a)));
    CHECK(http_peer_limit_acquire(&limit, net_addr_sockaddr(&b)));
    CHECK(!http_peer_limit_acquire(&limit, net_addr_sockaddr(&c)));    /* same /64: over */
    CHECK(http_peer_limit_acquire(&limit, net_addr_sockaddr(&other))); /* the next /64 */
    http_peer_limit_release(&limit, net_addr_sockaddr(&b)); /* any address of it releases */
    CHECK(http_peer_limit_acquire(&limit, net_addr_sockaddr(&c)));
    CHECK(limit.used == 2);
    http_peer_limit_destroy(&limit);

    CHECK(http_peer_limit_init(&limit, 1, 8, 128)); /* every address alone */
    CHECK(http_peer_limit_acquire(&limit, net_addr_sockaddr(&a)));
    CHECK(http_peer_limit_acquire(&limit, net_addr_sockaddr(&b)));
    http_peer_limit_destroy(&limit);
}

static void test_uncounted(void)
{
    struct http_peer_limit limit;
    CHECK(http_peer_limit_init(&limit, 1, 4, 128));
    struct sockaddr_un local = {.sun_family = AF_UNIX};
    for (int i = 0; i < 3; i++) {
        CHECK(http_peer_limit_acquire(&limit, (const struct sockaddr *)&local));
    }
    CHECK(http_peer_limit_acquire(&limit, NULL));
    CHECK(limit.used == 0);
    http_peer_limit_destroy(&limit);

    CHECK(http_peer_limit_init(&limit, 0, 4, 128)); /* no limit */
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
    test_ipv6_counts_by_prefix();
    test_uncounted();
    return check_finish("http_peer_limit");
}
