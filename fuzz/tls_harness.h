/*
 * tls_harness.h - one BearSSL server engine, fed client bytes in memory.
 *
 * The engine is set up by tls_engine_init() (src/tls/tls_engine.c), the
 * function every relay calls, with the server's credentials
 * (certs/generate.sh output) and a fixed seed, so it is exactly what a
 * relay runs. With the fuzz build's BearSSL (no system
 * seeder: BR_RDRAND=0, BR_USE_URANDOM=0, see scripts/fuzz.sh) the fixed
 * seed makes the engine deterministic: the same client bytes always get
 * the same answer, which is what lets a recorded handshake replay to its
 * end inside the fuzzer. Used by fuzz_tls_records.c and tls_transcript.c.
 *
 * One engine per process, in static storage; not thread-safe.
 */
#ifndef TINYSERVER_FUZZ_TLS_HARNESS_H
#define TINYSERVER_FUZZ_TLS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>

enum tls_harness_key {
    TLS_HARNESS_EC = 0,
    TLS_HARNESS_RSA = 1,
};

/* Receives the bytes the engine sends to the client. */
typedef void (*tls_harness_sink)(const unsigned char *data, size_t len, void *ctx);

/* Loads server-ec.{crt,key} and server-rsa.{crt,key} from `dir`. Returns
 * false with a message on stderr. */
bool tls_harness_load(const char *dir);

/* Loads from $FUZZ_TLS_DIR, or exits with a message: for the fuzzer. */
void tls_harness_load_from_env(void);

/* Starts a new handshake with the given key's engine. */
bool tls_harness_reset(enum tls_harness_key key);

/* Feeds client bytes until they are used up or the engine takes no more
 * (it closed, or waits to send). Application data the engine decrypts is
 * consumed, and answered with a short fixed HTTP response, as the HTTP
 * side would. Everything the engine sends goes to `sink` (may be NULL).
 * Returns how many bytes were consumed. */
size_t tls_harness_feed(const unsigned char *data, size_t len, tls_harness_sink sink, void *ctx);

/* Closes the connection from the server's side (close_notify) and drains
 * what that sends. */
void tls_harness_close(tls_harness_sink sink, void *ctx);

/* BR_ERR_OK while the engine is open or closed cleanly, else the error. */
int tls_harness_last_error(void);

#endif
