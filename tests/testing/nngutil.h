/* Helpers for the NNG tests: connected socket pairs over each transport, span lookups. */
#ifndef BATON_NNGUTIL_H
#define BATON_NNGUTIL_H

#include <baton/baton.h>
#include <baton/nng.h>

#include "memory_exporter.h"
#include <stdbool.h>

/* The transports every protocol is tested over. */
extern const char *const nu_transports[3]; /* "inproc", "ipc", "tcp" */

/* An opener such as nng_push0_open. */
typedef int (*nu_open_fn)(nng_socket *);

/*
 * Opens a listening socket and a dialing socket over transport (a fresh
 * address each call), sets 5 s send/receive timeouts on both, and waits
 * for the dial to connect. The listening socket's URL is written to url
 * (when not NULL). Aborts the test on failure.
 */
void nu_connect(const char *transport, nu_open_fn open_listener, nu_open_fn open_dialer,
                nng_socket *listener, nng_socket *dialer, char *url, size_t url_cap);

/* Sets the receive timeout of s in milliseconds. */
void nu_recv_timeout(nng_socket s, int ms);

/* Index of the first captured span of the given kind and name prefix (NULL: any), or -1.
 */
long nu_find(tu_memory_exporter *mem, baton_span_kind kind, const char *name_prefix,
             tu_memory_span *out);
/* Number of captured spans of a kind. */
size_t nu_count(tu_memory_exporter *mem, baton_span_kind kind);
/* True when the captured span's attributes text contains "key=value\n". */
bool nu_has_attr(const tu_memory_span *s, const char *key, const char *value);

#endif
