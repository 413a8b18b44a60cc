/*
 * net_addr.c - see net_addr.h.
 */
#include "net_addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

bool net_addr_parse(const char *text, unsigned port, struct net_addr *out)
{
    memset(out, 0, sizeof(*out));
    struct sockaddr_in *v4 = (struct sockaddr_in *)&out->storage;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&out->storage;
    if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        out->len = sizeof(*v4);
        return true;
    }
    if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        out->len = sizeof(*v6);
        return true;
    }
    memset(out, 0, sizeof(*out));
    return false;
}

void net_addr_wildcard_to_loopback(struct net_addr *addr)
{
    if (addr->storage.ss_family == AF_INET) {
        struct sockaddr_in *v4 = (struct sockaddr_in *)&addr->storage;
        if (v4->sin_addr.s_addr == htonl(INADDR_ANY)) {
            v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        }
    } else if (addr->storage.ss_family == AF_INET6) {
        struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&addr->storage;
        if (memcmp(&v6->sin6_addr, &in6addr_any, sizeof(in6addr_any)) == 0) {
            v6->sin6_addr = in6addr_loopback;
        }
    }
}

void net_addr_mask_ipv6(unsigned char ip[16], unsigned prefix_len)
{
    for (unsigned byte = 0; byte < 16; byte++) {
        unsigned first_bit = byte * 8u;
        if (prefix_len <= first_bit) {
            ip[byte] = 0;
        } else if (prefix_len < first_bit + 8u) {
            ip[byte] &= (unsigned char)(0xffu << (first_bit + 8u - prefix_len));
        }
    }
}

void net_addr_format_client(const struct sockaddr *addr, unsigned ipv6_prefix_len, char *buf,
                            size_t size)
{
    if (addr == NULL || addr->sa_family != AF_INET6 ||
        ipv6_prefix_len >= NET_ADDR_IPV6_PREFIX_MAX) {
        net_addr_format(addr, buf, size);
        return;
    }
    struct in6_addr masked = ((const struct sockaddr_in6 *)(const void *)addr)->sin6_addr;
    net_addr_mask_ipv6(masked.s6_addr, ipv6_prefix_len);
    char text[INET6_ADDRSTRLEN];
    if (inet_ntop(AF_INET6, &masked, text, sizeof(text)) == NULL) {
        snprintf(buf, size, "-");
        return;
    }
    snprintf(buf, size, "%s/%u", text, ipv6_prefix_len);
}

void net_addr_format(const struct sockaddr *addr, char *buf, size_t size)
{
    const void *ip = NULL;
    if (addr != NULL && addr->sa_family == AF_INET) {
        ip = &((const struct sockaddr_in *)(const void *)addr)->sin_addr;
    } else if (addr != NULL && addr->sa_family == AF_INET6) {
        ip = &((const struct sockaddr_in6 *)(const void *)addr)->sin6_addr;
    }
    if (ip == NULL || inet_ntop(addr->sa_family, ip, buf, (socklen_t)size) == NULL) {
        snprintf(buf, size, "-");
    }
}
