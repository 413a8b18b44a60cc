/* Unit tests for net_addr.c: the one parser of --bind, the healthcheck's
 * wildcard-to-loopback rule and the client address in log lines. */
#include "array.h"
#include "check.h"
#include "net_addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

static void test_parse(void)
{
    struct net_addr addr;
    CHECK(net_addr_parse("127.0.0.1", 3000, &addr));
    const struct sockaddr_in *v4 = (const struct sockaddr_in *)&addr.storage;
    CHECK(addr.storage.ss_family == AF_INET && addr.len == sizeof(struct sockaddr_in));
    CHECK(ntohs(v4->sin_port) == 3000 && v4->sin_addr.s_addr == htonl(INADDR_LOOPBACK));

    CHECK(net_addr_parse("::1", 65535, &addr));
    const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&addr.storage;
    CHECK(addr.storage.ss_family == AF_INET6 && addr.len == sizeof(struct sockaddr_in6));
    CHECK(ntohs(v6->sin6_port) == 65535);
    CHECK(memcmp(&v6->sin6_addr, &in6addr_loopback, sizeof(in6addr_loopback)) == 0);

    static const char *const bad[] = {"",         "localhost", "1.2.3",  "1.2.3.256", " 1.2.3.4",
                                      "1.2.3.4 ", "[::1]",     "::1%lo", "0x7f.0.0.1"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        CHECK_MSG(!net_addr_parse(bad[i], 80, &addr), "accepted \"%s\"", bad[i]);
        CHECK(addr.len == 0 && addr.storage.ss_family == 0); /* zeroed */
    }
}

static void test_wildcard_to_loopback(void)
{
    struct net_addr addr;
    char text[64];
    CHECK(net_addr_parse("0.0.0.0", 1, &addr));
    net_addr_wildcard_to_loopback(&addr);
    net_addr_format(net_addr_sockaddr(&addr), text, sizeof(text));
    CHECK(strcmp(text, "127.0.0.1") == 0);
    CHECK(net_addr_parse("::", 1, &addr));
    net_addr_wildcard_to_loopback(&addr);
    net_addr_format(net_addr_sockaddr(&addr), text, sizeof(text));
    CHECK(strcmp(text, "::1") == 0);
    CHECK(net_addr_parse("10.1.2.3", 1, &addr)); /* a specific address stays */
    net_addr_wildcard_to_loopback(&addr);
    net_addr_format(net_addr_sockaddr(&addr), text, sizeof(text));
    CHECK(strcmp(text, "10.1.2.3") == 0);
}

static void test_format(void)
{
    char text[64];
    net_addr_format(NULL, text, sizeof(text));
    CHECK(strcmp(text, "-") == 0);
    struct sockaddr other = {.sa_family = AF_UNIX};
    net_addr_format(&other, text, sizeof(text));
    CHECK(strcmp(text, "-") == 0);
    struct net_addr addr;
    CHECK(net_addr_parse("2001:db8::7", 1, &addr));
    net_addr_format(net_addr_sockaddr(&addr), text, sizeof(text));
    CHECK(strcmp(text, "2001:db8::7") == 0);
    char small[4];
    net_addr_format(net_addr_sockaddr(&addr), small, sizeof(small));
    CHECK(strcmp(small, "-") == 0); /* does not fit: no partial address */
}

/* The client key of the per-address limits: IPv6 as its prefix. */
static void test_format_client(void)
{
    char text[NET_ADDR_CLIENT_MAX];
    struct net_addr addr;
    CHECK(net_addr_parse("2001:db8:1:2:3:4:5:6", 1, &addr));
    net_addr_format_client(net_addr_sockaddr(&addr), 64, text, sizeof(text));
    CHECK(strcmp(text, "2001:db8:1:2::/64") == 0);
    net_addr_format_client(net_addr_sockaddr(&addr), 56, text, sizeof(text));
    CHECK(strcmp(text, "2001:db8:1::/56") == 0); /* 0x02 has no bit in the top 8 of its group */
    net_addr_format_client(net_addr_sockaddr(&addr), 60, text, sizeof(text));
    CHECK(strcmp(text, "2001:db8:1::/60") == 0);
    net_addr_format_client(net_addr_sockaddr(&addr), 127, text, sizeof(text));
    CHECK(strcmp(text, "2001:db8:1:2:3:4:5:6/127") == 0);
    net_addr_format_client(net_addr_sockaddr(&addr), 128, text, sizeof(text));
    CHECK(strcmp(text, "2001:db8:1:2:3:4:5:6") == 0); /* the bare address */
    CHECK(net_addr_parse("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 1, &addr));
    net_addr_format_client(net_addr_sockaddr(&addr), 1, text, sizeof(text));
    CHECK(strcmp(text, "8000::/1") == 0);
    net_addr_format_client(net_addr_sockaddr(&addr), 63, text, sizeof(text));
    CHECK(strcmp(text, "ffff:ffff:ffff:fffe::/63") == 0);
    CHECK(net_addr_parse("192.0.2.9", 1, &addr)); /* IPv4: whole */
    net_addr_format_client(net_addr_sockaddr(&addr), 64, text, sizeof(text));
    CHECK(strcmp(text, "192.0.2.9") == 0);
    net_addr_format_client(NULL, 64, text, sizeof(text));
    CHECK(strcmp(text, "-") == 0);
}

int main(void)
{
    test_parse();
    test_wildcard_to_loopback();
    test_format();
    test_format_client();
    return check_finish("net_addr");
}
