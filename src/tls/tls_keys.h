/*
 * tls_keys.h - loading and checking the HTTPS certificate chain and key.
 *
 * Everything that can be wrong with the files is found here, at startup,
 * before anything listens: unreadable files, empty or garbage PEM, an
 * encrypted key, a key type or size tinyserver does not serve (RSA below
 * 2048 bits, EC curves other than P-256), and a key that does not belong
 * to the first certificate of the chain. The caller then exits with status
 * 2, so nothing is ever served half-configured.
 *
 * The credentials own copies of all DER data and key material; BearSSL
 * contexts created from them borrow these buffers, so the credentials must
 * outlive every TLS connection. Key material is wiped when freed.
 */
#ifndef TINYSERVER_TLS_KEYS_H
#define TINYSERVER_TLS_KEYS_H

#include <bearssl.h>

#include <stdbool.h>
#include <stddef.h>

/* Certificates after this many in a chain are refused: real chains have
 * two to four, and the cap bounds what a bad file can make us allocate. */
#define TLS_MAX_CHAIN 8

struct tls_credentials {
    br_x509_certificate chain[TLS_MAX_CHAIN];
    size_t chain_len;
    int key_type; /* BR_KEYTYPE_RSA or BR_KEYTYPE_EC */
    br_rsa_private_key rsa;
    br_ec_private_key ec;
    unsigned char *key_material; /* backs rsa or ec; wiped on free */
    size_t key_material_len;
    char description[48]; /* e.g. "RSA 2048" or "EC P-256", for the log */
};

/* Reads and validates both files. On failure returns false with a message
 * naming the file and the problem in err, and leaves *out empty. */
bool tls_credentials_load(struct tls_credentials *out, const char *cert_path, const char *key_path,
                          char *err, size_t err_size);

/* Frees and wipes what tls_credentials_load() allocated. */
void tls_credentials_free(struct tls_credentials *creds);

#endif
