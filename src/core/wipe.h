/*
 * wipe.h - erasing secrets before their memory is released or reused.
 *
 * A memset() right before free(), or before a local variable goes out of
 * scope, is a dead store: GCC and Clang remove it at -O2. wipe() calls
 * explicit_bzero(), which the C library promises to perform, and lives in
 * its own translation unit, so each wipe() is a call the build keeps.
 * tests/integration/test_secrets.py checks, in the release binary's
 * disassembly, that every wipe() in the source is still a call.
 */
#ifndef TINYSERVER_WIPE_H
#define TINYSERVER_WIPE_H

#include <stddef.h>

/* Zeroes len bytes at p; p may be NULL (then nothing happens). */
void wipe(void *p, size_t len);

#endif
