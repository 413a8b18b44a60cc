/*
 * http_peer_limit.c - see http_peer_limit.h.
 */
#include "http_peer_limit.h"

#include "net_addr.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

/* An address as bytes: 4 for IPv4, 16 for IPv6. */
struct peer_key {
    unsigned char bytes[16];
    unsigned char len;
};

struct http_peer_row {
    struct peer_key key;
    unsigned count;
};

/* False for families that are not counted. */
static bool peer_key_of(const struct http_peer_limit *limit, const struct sockaddr *peer,
                        struct peer_key *key)
{
    memset(key, 0, sizeof(*key));
    if (peer == NULL) {
        return false;
    }
    if (peer->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)peer;
        memcpy(key->bytes, &in->sin_addr, sizeof(in->sin_addr));
        key->len = sizeof(in->sin_addr);
        return true;
    }
    if (peer->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)peer;
        memcpy(key->bytes, &in6->sin6_addr, sizeof(in6->sin6_addr));
        net_addr_mask_ipv6(key->bytes, limit->ipv6_prefix_len);
        key->len = sizeof(in6->sin6_addr);
        return true;
    }
    return false;
}

static struct http_peer_row *find_row(struct http_peer_limit *limit, const struct peer_key *key)
{
    for (size_t i = 0; i < limit->used; i++) {
        if (memcmp(&limit->rows[i].key, key, sizeof(*key)) == 0) {
            return &limit->rows[i];
        }
    }
    return NULL;
}

bool http_peer_limit_init(struct http_peer_limit *limit, unsigned max_per_peer, size_t capacity,
                          unsigned ipv6_prefix_len)
{
    *limit = (struct http_peer_limit){
        .max_per_peer = max_per_peer,
        .ipv6_prefix_len = ipv6_prefix_len,
        .capacity = capacity,
    };
    if (max_per_peer == 0) {
        return pthread_mutex_init(&limit->lock, NULL) == 0;
    }
    limit->rows = calloc(capacity, sizeof(*limit->rows));
    if (limit->rows == NULL) {
        return false;
    }
    if (pthread_mutex_init(&limit->lock, NULL) != 0) {
        free(limit->rows);
        return false;
    }
    return true;
}

void http_peer_limit_destroy(struct http_peer_limit *limit)
{
    pthread_mutex_destroy(&limit->lock);
    free(limit->rows);
    limit->rows = NULL;
}

bool http_peer_limit_acquire(struct http_peer_limit *limit, const struct sockaddr *peer)
{
    struct peer_key key;
    if (limit->max_per_peer == 0 || !peer_key_of(limit, peer, &key)) {
        return true;
    }
    bool within = false;
    pthread_mutex_lock(&limit->lock);
    struct http_peer_row *row = find_row(limit, &key);
    if (row != NULL) {
        within = row->count < limit->max_per_peer;
        row->count += within;
    } else if (limit->used < limit->capacity) {
        /* More addresses than connections allowed in total cannot be
         * open at once; a full table refuses rather than miscounts. */
        limit->rows[limit->used++] = (struct http_peer_row){.key = key, .count = 1};
        within = true;
    }
    pthread_mutex_unlock(&limit->lock);
    return within;
}

bool http_peer_limit_admits(struct http_peer_limit *limit, const struct sockaddr *peer)
{
    struct peer_key key;
    if (limit->max_per_peer == 0 || !peer_key_of(limit, peer, &key)) {
        return true;
    }
    pthread_mutex_lock(&limit->lock);
    struct http_peer_row *row = find_row(limit, &key);
    bool within = row != NULL ? row->count < limit->max_per_peer : limit->used < limit->capacity;
    pthread_mutex_unlock(&limit->lock);
    return within;
}

void http_peer_limit_release(struct http_peer_limit *limit, const struct sockaddr *peer)
{
    struct peer_key key;
    if (limit->max_per_peer == 0 || !peer_key_of(limit, peer, &key)) {
        return;
    }
    pthread_mutex_lock(&limit->lock);
    struct http_peer_row *row = find_row(limit, &key);
    if (row != NULL && --row->count == 0) {
        /* Keep the rows packed: the last one takes this one's place. */
        *row = limit->rows[--limit->used];
    }
    pthread_mutex_unlock(&limit->lock);
}
