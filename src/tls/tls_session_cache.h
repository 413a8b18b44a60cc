/*
 * tls_session_cache.h - one TLS session cache shared by every connection.
 *
 * BearSSL's br_ssl_session_cache_lru keeps sessions (ID, master secret,
 * version, suite: 100 bytes each) in a caller's buffer, evicting the least
 * recently used when full. It is not thread-safe, and connections are
 * served by several threads, so the shared cache sits behind a mutex.
 *
 * Each connection attaches a small handle of its own (struct
 * tls_session_handle) to its engine with br_ssl_server_set_cache(). The
 * handle forwards to the shared cache under the lock, and remembers what
 * happened in its own handshake: BearSSL saves a session only at the end of
 * a full handshake, and resumes one only when its lookup succeeded, so a
 * finished handshake that looked a session up and saved none was resumed.
 *
 * BearSSL 0.6 has no session tickets (RFC 5077): resumption works by
 * session ID only, and only with the same server process. Entries do not
 * expire; the LRU order and the size bound their lifetime.
 */
#ifndef TINYSERVER_TLS_SESSION_CACHE_H
#define TINYSERVER_TLS_SESSION_CACHE_H

#include <bearssl.h>

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

/* What one cached session costs (BearSSL's fixed LRU entry size). */
#define TLS_SESSION_CACHE_ENTRY_BYTES 100u

struct tls_session_cache {
    pthread_mutex_t lock;
    br_ssl_session_cache_lru lru;
    unsigned char *store; /* entries * TLS_SESSION_CACHE_ENTRY_BYTES; holds master secrets */
    size_t store_len;
};

/* Per connection: the vtable BearSSL calls, and this handshake's outcome. */
struct tls_session_handle {
    const br_ssl_session_cache_class *vtable; /* first: BearSSL passes &vtable */
    struct tls_session_cache *shared;
    bool found; /* the client's session ID was in the cache */
    bool saved; /* a full handshake ended and stored its session */
};

/* Allocates room for `entries` sessions. entries must be at least 1 (a
 * server without a cache does not create one). Returns false when out of
 * memory or when the mutex cannot be created. */
bool tls_session_cache_init(struct tls_session_cache *cache, size_t entries);

/* Wipes the stored master secrets and frees the store. No engine may use
 * the cache any more. */
void tls_session_cache_destroy(struct tls_session_cache *cache);

/* Points handle at the shared cache with a fresh outcome, and makes the
 * engine use it (br_ssl_server_set_cache). Call after the engine's init and
 * before its reset. Both must outlive the handshake. */
void tls_session_handle_attach(struct tls_session_handle *handle, struct tls_session_cache *shared,
                               br_ssl_server_context *ssl);

/* For a finished handshake: whether it resumed a cached session. */
bool tls_session_handle_resumed(const struct tls_session_handle *handle);

#endif
