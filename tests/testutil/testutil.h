/* Helpers shared by the tests. */
#ifndef BATON_TESTUTIL_H
#define BATON_TESTUTIL_H

#include <baton/baton.h>

/*
 * baton_init with the given sampler (ops NULL: always_on) and a simple
 * processor over a memory exporter of the given capacity; returns the store.
 */
baton_memory_exporter *tu_init_memory(baton_sampler sampler, size_t capacity);
/* The same with span limits (NULL: the defaults). */
baton_memory_exporter *tu_init_memory_limits(baton_sampler sampler, size_t capacity,
                                             const baton_limits *limits);
/* Parses 32/16 hex chars into bytes; aborts the test on bad input. */
void tu_hex(const char *hex, uint8_t *out, size_t n);
/* A path under the build tree's bin folder (BATON_TEST_BIN) into buf. */
const char *tu_bin(const char *name, char *buf, size_t cap);

#endif
