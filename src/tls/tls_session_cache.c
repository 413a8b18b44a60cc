/*
 * tls_session_cache.c - a locking adapter around BearSSL's LRU session
 * cache; see tls_session_cache.h.
 */
#include "tls_session_cache.h"

#include "wipe.h"

#include <stdint.h>
#include <stdlib.h>

static struct tls_session_handle *handle_of(const br_ssl_session_cache_class **ctx)
{
    /* BearSSL hands back the address of the vtable field, the handle's first. */
    return (struct tls_session_handle *)(void *)ctx;
}

static void handle_save(const br_ssl_session_cache_class **ctx, br_ssl_server_context *server_ctx,
                        const br_ssl_session_parameters *params)
{
    struct tls_session_handle *handle = handle_of(ctx);
    struct tls_session_cache *shared = handle->shared;
    pthread_mutex_lock(&shared->lock);
    shared->lru.vtable->save(&shared->lru.vtable, server_ctx, params);
    pthread_mutex_unlock(&shared->lock);
    handle->saved = true;
}

static int handle_load(const br_ssl_session_cache_class **ctx, br_ssl_server_context *server_ctx,
                       br_ssl_session_parameters *params)
{
    struct tls_session_handle *handle = handle_of(ctx);
    struct tls_session_cache *shared = handle->shared;
    pthread_mutex_lock(&shared->lock);
    int found = shared->lru.vtable->load(&shared->lru.vtable, server_ctx, params);
    pthread_mutex_unlock(&shared->lock);
    handle->found = found != 0;
    return found;
}

static const br_ssl_session_cache_class handle_vtable = {
    .context_size = sizeof(struct tls_session_handle),
    .save = handle_save,
    .load = handle_load,
};

bool tls_session_cache_init(struct tls_session_cache *cache, size_t entries)
{
    if (entries == 0 || entries > SIZE_MAX / TLS_SESSION_CACHE_ENTRY_BYTES) {
        return false;
    }
    cache->store_len = entries * TLS_SESSION_CACHE_ENTRY_BYTES;
    /* calloc: untouched pages stay unallocated until sessions fill them. */
    cache->store = calloc(entries, TLS_SESSION_CACHE_ENTRY_BYTES);
    if (cache->store == NULL) {
        return false;
    }
    if (pthread_mutex_init(&cache->lock, NULL) != 0) {
        free(cache->store);
        cache->store = NULL;
        return false;
    }
    br_ssl_session_cache_lru_init(&cache->lru, cache->store, cache->store_len);
    return true;
}

void tls_session_cache_destroy(struct tls_session_cache *cache)
{
    pthread_mutex_destroy(&cache->lock);
    wipe(cache->store, cache->store_len);
    free(cache->store);
    /* The LRU context holds the key that masks the stored session IDs. */
    wipe(&cache->lru, sizeof(cache->lru));
    cache->store = NULL;
    cache->store_len = 0;
}

void tls_session_handle_attach(struct tls_session_handle *handle, struct tls_session_cache *shared,
                               br_ssl_server_context *ssl)
{
    handle->vtable = &handle_vtable;
    handle->shared = shared;
    handle->found = false;
    handle->saved = false;
    br_ssl_server_set_cache(ssl, &handle->vtable);
}

bool tls_session_handle_resumed(const struct tls_session_handle *handle)
{
    /* A lookup can succeed and the resumption still be dropped (the
     * client no longer offers the suite): then a full handshake follows
     * and saves a new session. */
    return handle->found && !handle->saved;
}
