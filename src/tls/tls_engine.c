/*
 * tls_engine.c - see tls_engine.h.
 */
#include "tls_engine.h"

#include "array.h"

/* Offered to clients that ask (ALPN); one that asks for something else
 * only is served without ALPN, as if it had not asked. */
static const char *const tls_alpn_protocols[] = {"http/1.1"};

/* ECDHE with AEAD only, per key type; server order is preference order. */
static const uint16_t tls_suites_rsa[] = {
    BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
};
static const uint16_t tls_suites_ec[] = {
    BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
};

bool tls_engine_init(br_ssl_server_context *ssl, const struct tls_credentials *creds,
                     unsigned char *iobuf, size_t iobuf_size, const void *seed, size_t seed_len)
{
    br_ssl_engine_context *engine = &ssl->eng;
    if (iobuf_size != TLS_ENGINE_IOBUF_BYTES) {
        return false;
    }
    if (creds->key_type == BR_KEYTYPE_RSA) {
        br_ssl_server_init_full_rsa(ssl, creds->chain, creds->chain_len, &creds->rsa);
        br_ssl_engine_set_suites(engine, tls_suites_rsa, ARRAY_SIZE(tls_suites_rsa));
    } else {
        /* The issuer key type only matters for static-ECDH suites, which
         * are not enabled. */
        br_ssl_server_init_full_ec(ssl, creds->chain, creds->chain_len, BR_KEYTYPE_EC, &creds->ec);
        br_ssl_engine_set_suites(engine, tls_suites_ec, ARRAY_SIZE(tls_suites_ec));
    }
    br_ssl_engine_set_versions(engine, BR_TLS12, BR_TLS12);
    br_ssl_engine_add_flags(engine, BR_OPT_ENFORCE_SERVER_PREFERENCES | BR_OPT_NO_RENEGOTIATION);
    /* BearSSL keeps the pointer and never writes through it. */
    br_ssl_engine_set_protocol_names(engine, (const char **)tls_alpn_protocols,
                                     ARRAY_SIZE(tls_alpn_protocols));
    br_ssl_engine_set_buffers_bidi(engine, iobuf, TLS_ENGINE_INPUT_BYTES,
                                   iobuf + TLS_ENGINE_INPUT_BYTES, TLS_ENGINE_OUTPUT_BYTES);
    br_ssl_engine_inject_entropy(engine, seed, seed_len);
    return br_ssl_server_reset(ssl) != 0;
}
