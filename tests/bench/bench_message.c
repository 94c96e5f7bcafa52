/*
 * The message layer (baton/message.h) without a transport: one send
 * (begin, wrap into a caller buffer, end) and one receive (open, end the
 * consumer span) per operation. Unsampled: a parent-based sampler under a
 * ratio of 0, so the producer span is decided "not sampled", the envelope
 * is the 8-byte constant and the receiver decides from one compare.
 * Sampled: 100%, both spans recorded and handed to a processor that
 * releases them at once.
 */
#include "bench.h"
#include "testutil.h"

#include <baton/baton.h>
#include <stdlib.h>
#include <string.h>

/*
 * ratio: the root sampler's. in_unsampled: send from inside the handler of
 * an unsampled message, the common hop of a message system: 1, the
 * thread's current context is the message's decision (baton_msg_process);
 * 2, the handler passes the message's context as the parent.
 */
static double send_recv(uint64_t iters, double ratio, int in_unsampled)
{
	tu_init_release_ratio(ratio);
	uint8_t buf[256];
	memcpy(buf + 200, "payload", 8);
	baton_msg_send_opts so = {.destination = "mailbox"};
	baton_msg_recv_opts ro = {.destination = "mailbox"};
	uint32_t tok = 0;
	baton_span_context no = {.state = BATON_CTX_DECIDED | BATON_CTX_REMOTE};
	if (in_unsampled == 1)
		tok = baton_context_attach(&no);
	else if (in_unsampled == 2)
		so.parent = &no; /* the handler passes its message's context on */
	uint64_t t0 = bench_now_ns();
	for (uint64_t i = 0; i < iters; i++) {
		baton_msg_send s;
		baton_msg_recv r;
		size_t n = 0;
		if (baton_msg_send_begin(&s, &so) != BATON_OK ||
		    baton_msg_send_wrap(&s, buf, sizeof(buf), &n) != BATON_OK)
			abort();
		baton_msg_send_end(&s, NULL);
		bench_keep(buf);
		if (baton_msg_recv_open(buf, n + 8, &ro, &r) != BATON_OK)
			abort();
		bench_keep(&r);
		baton_span_end(r.span);
	}
	uint64_t el = bench_now_ns() - t0;
	if (tok != 0)
		baton_span_detach(tok);
	baton_fini(1000);
	return (double)el;
}

/* Target: <= 10 ns for the unsampled send + receive (a hop of an unsampled trace). */
BENCH(message_unsampled_send_recv, "ns/op", NULL, 10000000)
{
	return send_recv(iters, 0.0, 2);
}

/* The same with the parent taken from the thread's current context. */
BENCH(message_unsampled_current_send_recv, "ns/op", NULL, 10000000)
{
	return send_recv(iters, 0.0, 1);
}

/* The same, but each send is a new root the sampler decides (trace id, draw). */
BENCH(message_unsampled_root_send_recv, "ns/op", NULL, 10000000)
{
	return send_recv(iters, 0.0, 0);
}

BENCH(message_sampled_send_recv, "ns/op", NULL, 200000)
{
	return send_recv(iters, 1.0, 0);
}
