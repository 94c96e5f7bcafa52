/* baton::nng from an installed baton, in a program that calls NNG itself. */
#include <baton/nng.h>
#include <nng/protocol/pair0/pair.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
	nng_socket a, b;
	char buf[64];
	size_t len = sizeof(buf);
	if (baton_init(NULL) != BATON_OK || nng_pair0_open(&a) != 0 ||
	    nng_pair0_open(&b) != 0 || nng_listen(a, "inproc://consumer", NULL, 0) != 0 ||
	    nng_dial(b, "inproc://consumer", NULL, 0) != 0)
		return 1;
	if (baton_nng_send(a, "ping", 5, 0, NULL) != 0)
		return 1;
	/* Plain NNG sees the envelope in front of the payload. */
	if (nng_recv(b, buf, &len, 0) != 0 || len <= 5 ||
	    memcmp(buf + len - 5, "ping", 5) != 0)
		return 1;
	nng_close(a);
	nng_close(b);
	baton_fini(100);
	printf("baton %s nng ok\n", baton_version());
	return 0;
}
