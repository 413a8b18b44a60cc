/*
 * tls_transcript.c - the harness's engine behind a pipe, for recording
 * real sessions as fuzzing seeds (fuzz/make_tls_seeds.py drives it with
 * Python's TLS client).
 *
 * usage: tls_transcript CERT_DIR ec|rsa
 * stdin: frames of client bytes, each a 4-byte big-endian length and the
 * bytes; a zero length ends. stdout: for every frame, one frame with
 * everything the engine sent back. The engine is deterministic (see
 * tls_harness.h), so replaying the same client bytes gives the same
 * answers, and inside the fuzzer the recorded session runs to its end.
 */
#include "tls_harness.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRANSCRIPT_MAX_FRAME (1u << 20)

struct output {
    unsigned char *data;
    size_t len;
};

static void collect(const unsigned char *data, size_t len, void *ctx)
{
    struct output *out = ctx;
    if (out->len + len > TRANSCRIPT_MAX_FRAME) {
        fprintf(stderr, "tls_transcript: answer too large\n");
        exit(1);
    }
    memcpy(out->data + out->len, data, len);
    out->len += len;
}

static int read_exact(void *buf, size_t len)
{
    return fread(buf, 1, len, stdin) == len;
}

static void write_frame(const unsigned char *data, size_t len)
{
    unsigned char head[4] = {(unsigned char)(len >> 24), (unsigned char)(len >> 16),
                             (unsigned char)(len >> 8), (unsigned char)len};
    if (fwrite(head, 1, 4, stdout) != 4 || fwrite(data, 1, len, stdout) != len ||
        fflush(stdout) != 0) {
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[2], "ec") != 0 && strcmp(argv[2], "rsa") != 0)) {
        fprintf(stderr, "usage: tls_transcript CERT_DIR ec|rsa\n");
        return 2;
    }
    if (!tls_harness_load(argv[1]) ||
        !tls_harness_reset(strcmp(argv[2], "rsa") == 0 ? TLS_HARNESS_RSA : TLS_HARNESS_EC)) {
        return 1;
    }
    static unsigned char in[TRANSCRIPT_MAX_FRAME], out_buf[TRANSCRIPT_MAX_FRAME];
    for (;;) {
        unsigned char head[4];
        if (!read_exact(head, 4)) {
            return 1;
        }
        uint32_t len =
            (uint32_t)head[0] << 24 | (uint32_t)head[1] << 16 | (uint32_t)head[2] << 8 | head[3];
        if (len == 0) {
            return 0;
        }
        if (len > TRANSCRIPT_MAX_FRAME || !read_exact(in, len)) {
            return 1;
        }
        struct output out = {out_buf, 0};
        size_t used = tls_harness_feed(in, len, collect, &out);
        if (used != len) {
            fprintf(stderr, "tls_transcript: the engine took %zu of %u bytes (error %d)\n", used,
                    len, tls_harness_last_error());
        }
        write_frame(out.data, out.len);
    }
}
