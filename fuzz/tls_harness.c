/*
 * tls_harness.c - see tls_harness.h.
 */
#include "tls_harness.h"

#include "tls_engine.h"
#include "tls_keys.h"
#include "tls_relay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Any fixed value will do; it only has to be the same every time. */
static const unsigned char harness_seed[32] = "tinyserver fuzz: fixed seed.....";

/* What the "HTTP side" answers to any application data. */
static const char harness_response[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

static struct tls_credentials harness_creds[2];
static br_ssl_server_context harness_ssl;
static unsigned char harness_iobuf[TLS_RELAY_IOBUF_BYTES];

bool tls_harness_load(const char *dir)
{
    static const char *const names[2] = {"ec", "rsa"};
    for (int key = 0; key < 2; key++) {
        char cert[4096], priv[4096], err[512];
        snprintf(cert, sizeof(cert), "%s/server-%s.crt", dir, names[key]);
        snprintf(priv, sizeof(priv), "%s/server-%s.key", dir, names[key]);
        if (!tls_credentials_load(&harness_creds[key], cert, priv, err, sizeof(err))) {
            fprintf(stderr, "tls_harness: %s\n", err);
            return false;
        }
    }
    return true;
}

void tls_harness_load_from_env(void)
{
    const char *dir = getenv("FUZZ_TLS_DIR");
    if (dir == NULL || !tls_harness_load(dir)) {
        fprintf(stderr, "tls_harness: set FUZZ_TLS_DIR to a directory made by certs/generate.sh "
                        "(scripts/fuzz.sh does)\n");
        exit(2);
    }
}

bool tls_harness_reset(enum tls_harness_key key)
{
    return tls_engine_init(&harness_ssl, &harness_creds[key == TLS_HARNESS_RSA], harness_iobuf,
                           sizeof(harness_iobuf), harness_seed, sizeof(harness_seed));
}

/* Sends everything the engine has queued for the client. */
static void drain(tls_harness_sink sink, void *ctx)
{
    br_ssl_engine_context *engine = &harness_ssl.eng;
    while (br_ssl_engine_current_state(engine) & BR_SSL_SENDREC) {
        size_t len;
        unsigned char *buf = br_ssl_engine_sendrec_buf(engine, &len);
        if (sink != NULL) {
            sink(buf, len, ctx);
        }
        br_ssl_engine_sendrec_ack(engine, len);
    }
}

/* Consumes decrypted application data and queues the fixed answer. */
static void answer_app_data(void)
{
    br_ssl_engine_context *engine = &harness_ssl.eng;
    size_t len;
    br_ssl_engine_recvapp_buf(engine, &len);
    br_ssl_engine_recvapp_ack(engine, len);
    if (br_ssl_engine_current_state(engine) & BR_SSL_SENDAPP) {
        unsigned char *out = br_ssl_engine_sendapp_buf(engine, &len);
        size_t n = sizeof(harness_response) - 1 < len ? sizeof(harness_response) - 1 : len;
        memcpy(out, harness_response, n);
        br_ssl_engine_sendapp_ack(engine, n);
        br_ssl_engine_flush(engine, 0);
    }
}

size_t tls_harness_feed(const unsigned char *data, size_t len, tls_harness_sink sink, void *ctx)
{
    br_ssl_engine_context *engine = &harness_ssl.eng;
    size_t used = 0;
    for (;;) {
        unsigned state = br_ssl_engine_current_state(engine);
        if (state & BR_SSL_CLOSED) {
            return used;
        }
        if (state & BR_SSL_SENDREC) {
            drain(sink, ctx);
        } else if (state & BR_SSL_RECVAPP) {
            answer_app_data();
        } else if ((state & BR_SSL_RECVREC) && used < len) {
            size_t room;
            unsigned char *buf = br_ssl_engine_recvrec_buf(engine, &room);
            size_t n = len - used < room ? len - used : room;
            memcpy(buf, data + used, n);
            br_ssl_engine_recvrec_ack(engine, n);
            used += n;
        } else {
            return used;
        }
    }
}

void tls_harness_close(tls_harness_sink sink, void *ctx)
{
    br_ssl_engine_close(&harness_ssl.eng);
    drain(sink, ctx);
}

int tls_harness_last_error(void)
{
    return br_ssl_engine_last_error(&harness_ssl.eng);
}
