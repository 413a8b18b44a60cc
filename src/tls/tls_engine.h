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

/* Plaintext per outgoing record; BearSSL adds at most 85 bytes to it (the
 * difference between its BR_SSL_BUFSIZE_OUTPUT and a 16 KiB record). The
 * input side must hold a full 16 KiB record: the client chooses its size. */
#define TLS_ENGINE_OUTPUT_RECORD 4096u
#define TLS_ENGINE_INPUT_BYTES   BR_SSL_BUFSIZE_INPUT
#define TLS_ENGINE_OUTPUT_BYTES  (TLS_ENGINE_OUTPUT_RECORD + (BR_SSL_BUFSIZE_OUTPUT - 16384u))
/* The input half, then the output half: apart, never overlapping. */
#define TLS_ENGINE_IOBUF_BYTES (TLS_ENGINE_INPUT_BYTES + TLS_ENGINE_OUTPUT_BYTES)

/* Sets up a BearSSL server engine as every relay (tls_relay.h) does: TLS 1.2,
 * ECDHE with the AEAD suites for the key's type, server preference, no
 * renegotiation, ALPN "http/1.1" offered, `iobuf` (TLS_ENGINE_IOBUF_BYTES)
 * as its two buffers: the first TLS_ENGINE_INPUT_BYTES for records coming
 * in, the rest for records going out. (BearSSL 0.6's own split of one
 * buffer, br_ssl_engine_set_buffer() with bidi set, puts the output half
 * at buf + its length, inside the input half: a response written while a
 * long client record was half received overwrote that record.) Seeded
 * with `seed`, then reset for a new handshake. Never allocates: ssl, iobuf
 * and creds belong to the caller and must outlive the engine. Returns
 * false if iobuf_size is not TLS_ENGINE_IOBUF_BYTES or the engine cannot
 * be reset. */
bool tls_engine_init(br_ssl_server_context *ssl, const struct tls_credentials *creds,
                     unsigned char *iobuf, size_t iobuf_size, const void *seed, size_t seed_len);

#endif
