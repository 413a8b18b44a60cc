/*
 * tls_keys.c - PEM loading and validation with BearSSL's decoders; see
 * tls_keys.h for what is checked and why.
 */
#include "tls_keys.h"

#include "array.h"
#include "wipe.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Certificate and key files are a few KB; the cap keeps a wrong path (say,
 * a disk image) from being read into memory. */
#define TLS_MAX_FILE_BYTES  (1024u * 1024u)
#define TLS_MAX_PEM_OBJECTS 16
#define TLS_MIN_RSA_BITS    2048u
#define TLS_MAX_RSA_BYTES   512u /* RSA-4096, BearSSL's largest */

struct pem_object {
    char name[128]; /* br_pem_decoder_name() holds up to 128 bytes */
    unsigned char *der;
    size_t len;
    size_t cap;
    bool out_of_memory;
};

struct pem_objects {
    struct pem_object items[TLS_MAX_PEM_OBJECTS];
    size_t count;
};

static void pem_objects_free(struct pem_objects *objects)
{
    for (size_t i = 0; i < objects->count; i++) {
        /* key files pass through here too */
        wipe(objects->items[i].der, objects->items[i].len);
        free(objects->items[i].der);
    }
    objects->count = 0;
}

static bool read_file(const char *path, unsigned char **data, size_t *len, char *err,
                      size_t err_size)
{
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        snprintf(err, err_size, "%s: %s", path, strerror(errno));
        return false;
    }
    struct stat info;
    /* fopen() succeeds on a directory; say so instead of "read error".
     * Pipes stay allowed, for --tls-key <(secret-tool ...). */
    if (fstat(fileno(file), &info) != 0 || S_ISDIR(info.st_mode)) {
        snprintf(err, err_size, "%s: %s", path,
                 S_ISDIR(info.st_mode) ? "is a directory, not a PEM file" : strerror(errno));
        fclose(file);
        return false;
    }
    unsigned char *buf = malloc(TLS_MAX_FILE_BYTES + 1);
    if (buf == NULL) {
        fclose(file);
        snprintf(err, err_size, "%s: out of memory", path);
        return false;
    }
    size_t n = fread(buf, 1, TLS_MAX_FILE_BYTES + 1, file);
    bool failed = ferror(file) != 0;
    fclose(file);
    if (failed || n > TLS_MAX_FILE_BYTES) {
        snprintf(err, err_size, "%s: %s", path,
                 failed ? "read error" : "larger than 1 MiB; not a PEM file");
        wipe(buf, n); /* whatever it was, it came from the key's path */
        free(buf);
        return false;
    }
    *data = buf;
    *len = n;
    return true;
}

/* BearSSL's PEM decoder hands decoded bytes to this callback in chunks. */
static void append_der(void *ctx, const void *src, size_t len)
{
    struct pem_object *object = ctx;
    if (object->out_of_memory) {
        return;
    }
    if (object->len + len > object->cap) {
        size_t cap = object->cap == 0 ? 2048 : object->cap;
        while (cap < object->len + len) {
            cap *= 2;
        }
        /* Not realloc(): it would leave the old copy of a key unwiped. */
        unsigned char *grown = malloc(cap);
        if (grown == NULL) {
            object->out_of_memory = true;
            return;
        }
        if (object->der != NULL) {
            memcpy(grown, object->der, object->len);
            wipe(object->der, object->len);
            free(object->der);
        }
        object->der = grown;
        object->cap = cap;
    }
    memcpy(object->der + object->len, src, len);
    object->len += len;
}

static bool pem_decode_into(br_pem_decoder_context *decoder, const char *path,
                            const unsigned char *text, size_t len, struct pem_objects *objects,
                            char *err, size_t err_size)
{
    struct pem_object *current = NULL;
    /* The decoder only sees an END line once its newline arrives, so a
     * file without a final newline gets one. */
    static const unsigned char final_newline[] = "\n";
    for (int pass = 0; pass < 2; pass++) {
        const unsigned char *p = pass == 0 ? text : final_newline;
        size_t left = pass == 0 ? len : 1;
        while (left > 0) {
            size_t pushed = br_pem_decoder_push(decoder, p, left);
            p += pushed;
            left -= pushed;
            switch (br_pem_decoder_event(decoder)) {
            case BR_PEM_BEGIN_OBJ:
                if (objects->count == TLS_MAX_PEM_OBJECTS) {
                    snprintf(err, err_size, "%s: more than %d PEM objects", path,
                             TLS_MAX_PEM_OBJECTS);
                    return false;
                }
                current = &objects->items[objects->count++];
                memset(current, 0, sizeof(*current));
                snprintf(current->name, sizeof(current->name), "%s", br_pem_decoder_name(decoder));
                br_pem_decoder_setdest(decoder, append_der, current);
                break;
            case BR_PEM_END_OBJ:
                if (current != NULL && current->out_of_memory) {
                    snprintf(err, err_size, "%s: out of memory", path);
                    return false;
                }
                current = NULL;
                break;
            case BR_PEM_ERROR:
                snprintf(err, err_size, "%s: invalid PEM (bad base64 or framing)", path);
                return false;
            default:
                break;
            }
        }
    }
    if (current != NULL) {
        snprintf(err, err_size, "%s: truncated PEM (no END line)", path);
        return false;
    }
    if (objects->count == 0) {
        snprintf(err, err_size, "%s: no PEM data found (empty or not a PEM file)", path);
        return false;
    }
    return true;
}

/* The decoder context buffers decoded bytes (a key's among them): wiped
 * however decoding ends. */
static bool pem_decode(const char *path, const unsigned char *text, size_t len,
                       struct pem_objects *objects, char *err, size_t err_size)
{
    br_pem_decoder_context decoder;
    br_pem_decoder_init(&decoder);
    bool ok = pem_decode_into(&decoder, path, text, len, objects, err, err_size);
    wipe(&decoder, sizeof(decoder));
    return ok;
}

/* Loads one file as PEM objects. */
static bool load_pem_file(const char *path, struct pem_objects *objects, bool *encrypted, char *err,
                          size_t err_size)
{
    unsigned char *text = NULL;
    size_t len = 0;
    if (!read_file(path, &text, &len, err, err_size)) {
        return false;
    }
    text[len] = '\0';
    /* Traditional encrypted PEM carries "Proc-Type: 4,ENCRYPTED" headers,
     * which BearSSL would report as a plain decoding error. */
    *encrypted = strstr((const char *)text, "Proc-Type: 4,ENCRYPTED") != NULL;
    bool ok = *encrypted || pem_decode(path, text, len, objects, err, err_size);
    wipe(text, len);
    free(text);
    return ok;
}

static bool is_private_key_name(const char *name)
{
    return strcmp(name, "PRIVATE KEY") == 0 || strcmp(name, "RSA PRIVATE KEY") == 0 ||
           strcmp(name, "EC PRIVATE KEY") == 0;
}

/* Copies the decoded key out of the decoder context into one buffer the
 * credentials own. */
static bool copy_key(struct tls_credentials *out, const br_skey_decoder_context *decoder)
{
    const br_rsa_private_key *rsa = br_skey_decoder_get_rsa(decoder);
    const br_ec_private_key *ec = br_skey_decoder_get_ec(decoder);
    size_t total =
        rsa != NULL ? rsa->plen + rsa->qlen + rsa->dplen + rsa->dqlen + rsa->iqlen : ec->xlen;
    unsigned char *material = malloc(total);
    if (material == NULL) {
        return false;
    }
    out->key_material = material;
    out->key_material_len = total;
    if (rsa != NULL) {
        out->key_type = BR_KEYTYPE_RSA;
        out->rsa.n_bitlen = rsa->n_bitlen;
        unsigned char *p = material;
        const struct {
            unsigned char **dst;
            size_t *dst_len;
            const unsigned char *src;
            size_t len;
        } parts[] = {
            {&out->rsa.p, &out->rsa.plen, rsa->p, rsa->plen},
            {&out->rsa.q, &out->rsa.qlen, rsa->q, rsa->qlen},
            {&out->rsa.dp, &out->rsa.dplen, rsa->dp, rsa->dplen},
            {&out->rsa.dq, &out->rsa.dqlen, rsa->dq, rsa->dqlen},
            {&out->rsa.iq, &out->rsa.iqlen, rsa->iq, rsa->iqlen},
        };
        for (size_t i = 0; i < ARRAY_SIZE(parts); i++) {
            memcpy(p, parts[i].src, parts[i].len);
            *parts[i].dst = p;
            *parts[i].dst_len = parts[i].len;
            p += parts[i].len;
        }
    } else {
        out->key_type = BR_KEYTYPE_EC;
        out->ec.curve = ec->curve;
        memcpy(material, ec->x, ec->xlen);
        out->ec.x = material;
        out->ec.xlen = ec->xlen;
    }
    return true;
}

static bool load_key(struct tls_credentials *out, const char *path, char *err, size_t err_size)
{
    struct pem_objects objects = {.count = 0};
    bool encrypted = false;
    if (!load_pem_file(path, &objects, &encrypted, err, err_size)) {
        return false;
    }
    const struct pem_object *key = NULL;
    for (size_t i = 0; i < objects.count && key == NULL; i++) {
        if (strcmp(objects.items[i].name, "ENCRYPTED PRIVATE KEY") == 0) {
            encrypted = true;
        } else if (is_private_key_name(objects.items[i].name)) {
            key = &objects.items[i];
        }
    }
    bool ok = false;
    if (encrypted) {
        snprintf(err, err_size,
                 "%s: the private key is encrypted; tinyserver needs an unencrypted key "
                 "(openssl pkey -in KEY -out PLAIN_KEY), kept readable only by the server",
                 path);
    } else if (key == NULL) {
        snprintf(err, err_size, "%s: no PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY found",
                 path);
    } else {
        br_skey_decoder_context decoder;
        br_skey_decoder_init(&decoder);
        br_skey_decoder_push(&decoder, key->der, key->len);
        int error = br_skey_decoder_last_error(&decoder);
        if (error != 0) {
            snprintf(err, err_size, "%s: not a valid RSA or EC private key (BearSSL error %d)",
                     path, error);
        } else if (!copy_key(out, &decoder)) {
            snprintf(err, err_size, "%s: out of memory", path);
        } else {
            ok = true;
        }
        wipe(&decoder, sizeof(decoder));
    }
    pem_objects_free(&objects);
    return ok;
}

static bool load_chain(struct tls_credentials *out, const char *path, char *err, size_t err_size)
{
    struct pem_objects objects = {.count = 0};
    bool encrypted = false;
    if (!load_pem_file(path, &objects, &encrypted, err, err_size)) {
        return false;
    }
    bool ok = true;
    for (size_t i = 0; i < objects.count && ok; i++) {
        struct pem_object *object = &objects.items[i];
        if (strcmp(object->name, "CERTIFICATE") != 0 &&
            strcmp(object->name, "X509 CERTIFICATE") != 0) {
            continue;
        }
        if (out->chain_len == TLS_MAX_CHAIN) {
            snprintf(err, err_size, "%s: more than %d certificates", path, TLS_MAX_CHAIN);
            ok = false;
            break;
        }
        br_x509_decoder_context decoder;
        br_x509_decoder_init(&decoder, NULL, NULL);
        br_x509_decoder_push(&decoder, object->der, object->len);
        int error = br_x509_decoder_last_error(&decoder);
        if (error != 0) {
            snprintf(err, err_size, "%s: certificate %zu is not valid X.509 (BearSSL error %d)",
                     path, out->chain_len + 1, error);
            ok = false;
            break;
        }
        /* Ownership of the DER moves to the chain. */
        out->chain[out->chain_len].data = object->der;
        out->chain[out->chain_len].data_len = object->len;
        out->chain_len++;
        object->der = NULL;
    }
    if (ok && out->chain_len == 0) {
        snprintf(err, err_size, "%s: no CERTIFICATE found", path);
        ok = false;
    }
    pem_objects_free(&objects);
    return ok;
}

/* Big-endian integers compared without their leading zero bytes. */
static bool same_integer(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen)
{
    while (alen > 0 && *a == 0) {
        a++;
        alen--;
    }
    while (blen > 0 && *b == 0) {
        b++;
        blen--;
    }
    return alen == blen && memcmp(a, b, alen) == 0;
}

/* The key must be the one the leaf certificate was issued for: compare
 * the public key derived from the private key with the certificate's. */
static bool key_matches_leaf(const struct tls_credentials *creds, char *why, size_t why_size)
{
    br_x509_decoder_context decoder;
    br_x509_decoder_init(&decoder, NULL, NULL);
    br_x509_decoder_push(&decoder, creds->chain[0].data, creds->chain[0].data_len);
    const br_x509_pkey *cert_key = br_x509_decoder_get_pkey(&decoder);
    if (cert_key == NULL) {
        snprintf(why, why_size, "the first certificate has no usable public key");
        return false;
    }
    if (cert_key->key_type != creds->key_type) {
        snprintf(why, why_size, "the key is %s but the certificate's key is %s",
                 creds->key_type == BR_KEYTYPE_RSA ? "RSA" : "EC",
                 cert_key->key_type == BR_KEYTYPE_RSA ? "RSA" : "EC");
        return false;
    }
    if (creds->key_type == BR_KEYTYPE_RSA) {
        unsigned char modulus[TLS_MAX_RSA_BYTES];
        br_rsa_compute_modulus compute = br_rsa_compute_modulus_get_default();
        size_t len = compute(NULL, &creds->rsa);
        if (len == 0 || len > sizeof(modulus) || compute(modulus, &creds->rsa) != len ||
            !same_integer(modulus, len, cert_key->key.rsa.n, cert_key->key.rsa.nlen)) {
            snprintf(why, why_size, "the RSA key does not match the first certificate");
            return false;
        }
        return true;
    }
    unsigned char point[BR_EC_KBUF_PUB_MAX_SIZE];
    size_t len = br_ec_compute_pub(br_ec_get_default(), NULL, point, &creds->ec);
    if (len == 0 || cert_key->key.ec.curve != creds->ec.curve || len != cert_key->key.ec.qlen ||
        memcmp(point, cert_key->key.ec.q, len) != 0) {
        snprintf(why, why_size, "the EC key does not match the first certificate");
        return false;
    }
    return true;
}

/* Only what the protocol profile (tls.h) allows: RSA 2048+ or P-256. */
static bool key_is_supported(struct tls_credentials *creds, char *why, size_t why_size)
{
    if (creds->key_type == BR_KEYTYPE_RSA) {
        if (creds->rsa.n_bitlen < TLS_MIN_RSA_BITS) {
            snprintf(why, why_size, "RSA key of %u bits; at least %u are required",
                     (unsigned)creds->rsa.n_bitlen, TLS_MIN_RSA_BITS);
            return false;
        }
        snprintf(creds->description, sizeof(creds->description), "RSA %u",
                 (unsigned)creds->rsa.n_bitlen);
        return true;
    }
    if (creds->ec.curve != BR_EC_secp256r1) {
        snprintf(why, why_size, "EC key on curve %d; only P-256 (secp256r1) is supported",
                 creds->ec.curve);
        return false;
    }
    snprintf(creds->description, sizeof(creds->description), "EC P-256");
    return true;
}

bool tls_credentials_load(struct tls_credentials *out, const char *cert_path, const char *key_path,
                          char *err, size_t err_size)
{
    memset(out, 0, sizeof(*out));
    char why[160];
    if (!load_chain(out, cert_path, err, err_size) || !load_key(out, key_path, err, err_size)) {
        tls_credentials_free(out);
        return false;
    }
    if (!key_is_supported(out, why, sizeof(why))) {
        snprintf(err, err_size, "%s: %s", key_path, why);
        tls_credentials_free(out);
        return false;
    }
    if (!key_matches_leaf(out, why, sizeof(why))) {
        snprintf(err, err_size, "%s and %s: %s", cert_path, key_path, why);
        tls_credentials_free(out);
        return false;
    }
    return true;
}

void tls_credentials_free(struct tls_credentials *creds)
{
    for (size_t i = 0; i < creds->chain_len; i++) {
        free(creds->chain[i].data);
    }
    wipe(creds->key_material, creds->key_material_len);
    free(creds->key_material);
    memset(creds, 0, sizeof(*creds));
}
