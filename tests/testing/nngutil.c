#include "nngutil.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char *const nu_transports[3] = {"inproc", "ipc", "tcp"};

static int nu_seq;

void nu_recv_timeout(nng_socket s, int ms)
{
	cr_assert_eq(nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, ms), 0);
}

void nu_connect(const char *transport, nu_open_fn open_listener, nu_open_fn open_dialer,
                nng_socket *listener, nng_socket *dialer, char *url, size_t url_cap)
{
	char u[256];
	nng_listener l;
	int n = ++nu_seq;
	if (strcmp(transport, "inproc") == 0)
		snprintf(u, sizeof(u), "inproc://baton-test-%d-%d", (int)getpid(), n);
	else if (strcmp(transport, "ipc") == 0)
		snprintf(u, sizeof(u), "ipc:///tmp/baton-test-%d-%d.ipc", (int)getpid(),
		         n);
	else
		snprintf(u, sizeof(u), "tcp://127.0.0.1:0");
	cr_assert_eq(open_listener(listener), 0);
	cr_assert_eq(open_dialer(dialer), 0);
	nng_socket socks[2] = {*listener, *dialer};
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(nng_socket_set_ms(socks[i], NNG_OPT_RECVTIMEO, 5000), 0);
		cr_assert_eq(nng_socket_set_ms(socks[i], NNG_OPT_SENDTIMEO, 5000), 0);
	}
	int rv = nng_listen(*listener, u, &l, 0);
	cr_assert_eq(rv, 0, "listen %s: %s", u, nng_strerror(rv));
	if (strcmp(transport, "tcp") == 0) {
		int port = 0;
		cr_assert_eq(nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port), 0);
		snprintf(u, sizeof(u), "tcp://127.0.0.1:%d", port);
	}
	rv = nng_dial(*dialer, u, NULL, 0);
	cr_assert_eq(rv, 0, "dial %s: %s", u, nng_strerror(rv));
	if (url != NULL)
		snprintf(url, url_cap, "%s", u);
}

long nu_find(tu_memory_exporter *mem, baton_span_kind kind, const char *name_prefix,
             tu_memory_span *out)
{
	size_t n = tu_memory_exporter_count(mem);
	for (size_t i = 0; i < n; i++) {
		tu_memory_span s;
		tu_memory_exporter_get(mem, i, &s);
		if (s.kind != kind)
			continue;
		if (name_prefix != NULL &&
		    strncmp(s.name, name_prefix, strlen(name_prefix)) != 0)
			continue;
		if (out != NULL)
			*out = s;
		return (long)i;
	}
	return -1;
}

size_t nu_count(tu_memory_exporter *mem, baton_span_kind kind)
{
	size_t n = tu_memory_exporter_count(mem), c = 0;
	for (size_t i = 0; i < n; i++) {
		tu_memory_span s;
		tu_memory_exporter_get(mem, i, &s);
		c += s.kind == kind;
	}
	return c;
}

bool nu_has_attr(const tu_memory_span *s, const char *key, const char *value)
{
	char want[512];
	snprintf(want, sizeof(want), "%s=%s\n", key, value);
	if (strncmp(s->attrs_text, want, strlen(want)) == 0)
		return true;
	char nl_want[514];
	snprintf(nl_want, sizeof(nl_want), "\n%s", want);
	return strstr(s->attrs_text, nl_want) != NULL;
}
