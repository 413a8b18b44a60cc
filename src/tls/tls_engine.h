/*
 * tls_engine.h - the one BearSSL server engine configuration: protocol
 * version, cipher suites, flags and ALPN, in one place, so that the relays
 * and the fuzzer (fuzz/tls_harness.c) run the same engine.
 */
#ifndef TINYSERVER_TLS_ENGINE_H
#define TINYSERVER_TLS_ENGINE_H

#include "tls_keys.h"

#include <bearssl.h>

#include <stdbool.h>
#include <stddef.h>

/* Sets up a BearSSL server engine as every relay (tls_relay.h) does: TLS 1.2,
 * ECDHE with the AEAD suites for the key's type, server preference, no
 * renegotiation, ALPN "http/1.1" offered, `iobuf` as its bidirectional
 * buffer (input first; TLS_RELAY_IOBUF_BYTES in the server), seeded with
 * `seed`, then reset for a new handshake. Never allocates: ssl, iobuf and
 * creds belong to the caller and must outlive the engine. Returns false if
 * the engine cannot be reset. */
bool tls_engine_init(br_ssl_server_context *ssl, const struct tls_credentials *creds,
                     unsigned char *iobuf, size_t iobuf_size, const void *seed, size_t seed_len);

#endif
