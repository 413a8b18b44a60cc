/*
 * net_addr.h - IP address literals to socket addresses, and back.
 *
 * The one parser for --bind: the option check, both listeners and the
 * healthcheck probe read an address the same way, so they cannot disagree
 * about what is valid. Only numeric IPv4 and IPv6 literals are accepted;
 * nothing here resolves names.
 */
#ifndef TINYSERVER_NET_ADDR_H
#define TINYSERVER_NET_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct net_addr {
    struct sockaddr_storage storage;
    socklen_t len; /* of the sockaddr_in or sockaddr_in6 in storage */
};

/* Fills *out with `text` (an IPv4 or IPv6 literal) and `port`. Returns
 * false, with *out zeroed, when text is neither. */
bool net_addr_parse(const char *text, unsigned port, struct net_addr *out);

/* The address as a sockaddr, for bind() and connect(). */
static inline const struct sockaddr *net_addr_sockaddr(const struct net_addr *addr)
{
    return (const struct sockaddr *)&addr->storage;
}

/* Replaces a wildcard address (0.0.0.0, ::) with loopback of the same
 * family: where a server listening on "any" can be reached locally. */
void net_addr_wildcard_to_loopback(struct net_addr *addr);

/* Writes the numeric address of `addr` (without the port) to buf, or "-"
 * when addr is NULL or neither IPv4 nor IPv6. */
void net_addr_format(const struct sockaddr *addr, char *buf, size_t size);

/* IPv6 clients are told apart by their first prefix_len bits (1 to 128),
 * as rate limiters commonly do: one customer usually gets a /64 and may
 * pick any address inside it. */
#define NET_ADDR_IPV6_PREFIX_MAX 128u

/* Clears every bit of `ip` (16 bytes) after the first prefix_len. */
void net_addr_mask_ipv6(unsigned char ip[16], unsigned prefix_len);

/* Room for the longest text net_addr_format_client() writes. */
#define NET_ADDR_CLIENT_MAX (46 + 4)

/* The client as the per-address limits count it: an IPv4 address whole;
 * an IPv6 one masked to ipv6_prefix_len bits, written as a prefix
 * ("2001:db8:1:2::/64"; the bare address at 128); "-" when addr is NULL
 * or neither. */
void net_addr_format_client(const struct sockaddr *addr, unsigned ipv6_prefix_len, char *buf,
                            size_t size);

#endif
