/*
 * The README's my_service: calls NNG itself and uses baton::nng and
 * baton::auto, built with the README's CMake and pkg-config lines.
 */
#include <baton/baton.h>
#include <baton/auto.h>
#include <baton/nng.h>
#include <nng/protocol/pair0/pair.h>
#include <stdio.h>

int main(void)
{
	nng_socket a, b;
	char buf[64];
	size_t len = sizeof(buf);
	if (baton_auto_init_default(NULL, "none") != BATON_OK)
		return 1;
	if (nng_pair0_open(&a) != 0 || nng_pair0_open(&b) != 0 ||
	    nng_listen(a, "inproc://my_service", NULL, 0) != 0 ||
	    nng_dial(b, "inproc://my_service", NULL, 0) != 0)
		return 1;
	baton_span req = baton_span_start(baton_tracer_get("shop", "1.0"), "checkout");
	uint32_t tok = baton_span_attach(req);
	int rv = baton_nng_send(a, "order", 6, 0, NULL);
	baton_span_detach(tok);
	baton_span_end(req);
	if (rv != 0 || nng_recv(b, buf, &len, 0) != 0)
		return 1;
	nng_close(a);
	nng_close(b);
	baton_fini(1000);
	printf("baton %s my_service ok\n", baton_version());
	return 0;
}
