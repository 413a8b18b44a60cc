/*
 * fuzz_tls_records.c - libFuzzer target for the TLS input path: the bytes
 * a client sends to the HTTPS port, fed as records into a BearSSL server
 * engine configured exactly as tls_engine.c configures each connection's
 * (tls_harness.h).
 *
 * Input: the first byte picks the key (even: EC P-256, odd: RSA 2048), the
 * rest is what the client sends. The seeds (fuzz/make_tls_seeds.py, run
 * by scripts/fuzz.sh) are ClientHellos and whole recorded sessions, which
 * the deterministic engine replays to the end: handshake, an encrypted
 * request, close_notify; mutations then reach every layer.
 *
 * A crash, an AddressSanitizer or UBSan report is a finding; a handshake
 * failure is not (most inputs are garbage, and refusing them is correct).
 */
#include "tls_harness.h"

#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    tls_harness_load_from_env();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    if (!tls_harness_reset(data[0] & 1 ? TLS_HARNESS_RSA : TLS_HARNESS_EC)) {
        return 0;
    }
    tls_harness_feed(data + 1, size - 1, NULL, NULL);
    tls_harness_close(NULL, NULL);
    return 0;
}
