/*
 * cold.h - COLD marks a function that runs once per request or less
 * (building an answer, a scrape, a benchmark's setup and summary): GCC and
 * Clang then optimise it for size rather than speed and place it apart
 * from the hot code. The static binary is held to a size (tests/build), and
 * the -O3 the hot loops need would otherwise inline and unroll such code
 * for no gain.
 */
#ifndef TINYSERVER_COLD_H
#define TINYSERVER_COLD_H

#define COLD __attribute__((cold, noinline))

#endif
