/*
 * Baggage over NNG: the sender's current baggage travels in the envelope
 * and is the current baggage of the receiver's handler; OTEL_PROPAGATORS
 * without "baggage" keeps it off the wire (and the receiver ignores it),
 * while the trace context still goes.
 */
#include <baton/baggage.h>
#include <baton/baton.h>
#include <baton/nng.h>
#include <baton/w3c.h>
#include <criterion/criterion.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nngutil.h"
#include "testutil.h"

static nng_socket rx, tx;

static void open_pair(void)
{
	nu_connect("inproc", nng_pull0_open, nng_push0_open, &rx, &tx, NULL, 0);
}

static void close_pair(void)
{
	nng_close(rx);
	nng_close(tx);
	baton_fini(1000);
}

static baton_sampler sampler(bool on)
{
	baton_sampler pb;
	cr_assert_eq(baton_sampler_parentbased(on ? baton_sampler_always_on()
	                                          : baton_sampler_always_off(),
	                                       &pb),
	             BATON_OK);
	return pb;
}

struct seen {
	char header[BATON_BAGGAGE_SIZE];
	char user[64];
	bool had_user;
};

static int handler(void *arg)
{
	struct seen *s = arg;
	const char *h = baton_baggage_current_header(NULL);
	snprintf(s->header, sizeof(s->header), "%s", h ? h : "");
	const char *u = baton_baggage_get("user", NULL);
	s->had_user = u != NULL;
	snprintf(s->user, sizeof(s->user), "%s", u ? u : "");
	return 0;
}

/* Receives one message and runs handler under baton_nng_process. */
static void receive(struct seen *s, baton_nng_recv_info *info)
{
	nng_msg *m;
	cr_assert_eq(baton_nng_recvmsg(rx, &m, 0, NULL, info), 0);
	cr_assert_str_eq((const char *)nng_msg_body(m), "payload",
	                 "the payload arrives without the envelope");
	memset(s, 0, sizeof(*s));
	cr_assert_eq(baton_nng_process(info, handler, s), 0);
	nng_msg_free(m);
}

static void send_with_baggage(void)
{
	cr_assert_eq(baton_baggage_set("user", "alice smith", NULL), BATON_OK);
	cr_assert_eq(baton_baggage_set("tenant", "t-1", "ttl=3"), BATON_OK);
	cr_assert_eq(baton_nng_send(tx, "payload", 8, 0, NULL), 0);
	baton_baggage_clear();
}

Test(nng_baggage, current_baggage_reaches_the_receivers_handler)
{
	tu_init_memory(sampler(true), 64);
	open_pair();
	send_with_baggage();
	/* the receiving thread's own baggage must not leak into the handler */
	baton_baggage_set("receiver_own", "x", NULL);
	struct seen s;
	baton_nng_recv_info info;
	receive(&s, &info);
	cr_assert_str_eq(info.baggage, "user=alice%20smith,tenant=t-1;ttl=3");
	cr_assert_eq(info.baggage_len, strlen(info.baggage));
	cr_assert(s.had_user);
	cr_assert_str_eq(s.user, "alice smith");
	cr_assert_str_eq(s.header, "user=alice%20smith,tenant=t-1;ttl=3",
	                 "the message's baggage and only that");
	cr_assert_str_eq(baton_baggage_current_header(NULL), "receiver_own=x",
	                 "the thread's own baggage is back after the handler");
	close_pair();
}

/* An unsampled trace carries baggage too (it is not about sampling). */
Test(nng_baggage, unsampled_messages_carry_baggage_and_bare_ones_cost_nothing)
{
	tu_init_memory(sampler(false), 64);
	open_pair();
	send_with_baggage();
	struct seen s;
	baton_nng_recv_info info;
	receive(&s, &info);
	cr_assert_str_eq(s.user, "alice smith");
	cr_assert_gt(info.envelope_size, BATON_ENVELOPE_UNSAMPLED_SIZE);
	/* without baggage the unsampled envelope is the 8-byte constant */
	cr_assert_eq(baton_nng_send(tx, "payload", 8, 0, NULL), 0);
	receive(&s, &info);
	cr_assert_eq(info.envelope_size, BATON_ENVELOPE_UNSAMPLED_SIZE);
	cr_assert_eq(info.baggage_len, 0);
	cr_assert_str_eq(s.header, "");
	close_pair();
}

Test(nng_baggage, explicit_baggage_option_still_wins)
{
	tu_init_memory(sampler(true), 64);
	open_pair();
	baton_baggage_set("user", "current", NULL);
	baton_nng_send_opts o = {.baggage = "user=explicit"};
	cr_assert_eq(baton_nng_send(tx, "payload", 8, 0, &o), 0);
	struct seen s;
	baton_nng_recv_info info;
	receive(&s, &info);
	cr_assert_str_eq(s.user, "explicit");
	close_pair();
}

Test(nng_baggage, propagators_without_baggage_keep_it_off_the_wire)
{
	setenv("OTEL_PROPAGATORS", "tracecontext", 1);
	tu_memory_exporter *mem = tu_init_memory(sampler(true), 64);
	open_pair();
	send_with_baggage();
	struct seen s;
	baton_nng_recv_info info;
	receive(&s, &info);
	cr_assert_eq(info.baggage_len, 0);
	cr_assert_not(s.had_user);
	/* the trace context still travels: the consumer span has the producer as parent
	 */
	tu_memory_span prod, cons;
	cr_assert_geq(nu_find(mem, BATON_SPAN_KIND_PRODUCER, NULL, &prod), 0);
	cr_assert_geq(nu_find(mem, BATON_SPAN_KIND_CONSUMER, NULL, &cons), 0);
	cr_assert_eq(memcmp(prod.context.trace_id, cons.context.trace_id, 16), 0);
	cr_assert_eq(memcmp(prod.context.span_id, cons.parent.span_id, 8), 0);
	close_pair();
}

Test(nng_baggage, propagators_none_still_carries_the_envelope_context)
{
	setenv("OTEL_PROPAGATORS", "none", 1);
	tu_init_memory(sampler(true), 64);
	open_pair();
	send_with_baggage();
	struct seen s;
	baton_nng_recv_info info;
	receive(&s, &info);
	cr_assert_not(s.had_user);
	cr_assert(info.context.state & BATON_CTX_VALID, "ids still in the envelope");
	close_pair();
}

/* A receiver with the baggage propagator off ignores what a sender sent. */
Test(nng_baggage, receiver_without_baggage_propagator_ignores_it)
{
	tu_init_memory(sampler(true), 64);
	open_pair();
	uint8_t env[256];
	baton_envelope e;
	memset(&e, 0, sizeof(e));
	e.ctx.state = BATON_CTX_DECIDED;
	e.baggage = "user=mallory";
	size_t n;
	cr_assert_eq(baton_envelope_wrap(&e, env, sizeof(env), &n), BATON_OK);
	memcpy(env + n, "payload", 8);
	baton_fini(1000);
	setenv("OTEL_PROPAGATORS", "tracecontext", 1);
	tu_init_memory(sampler(true), 64);
	cr_assert_eq(nng_send(tx, env, n + 8, 0), 0);
	struct seen s;
	baton_nng_recv_info info;
	receive(&s, &info);
	cr_assert_eq(info.baggage_len, 0);
	cr_assert_not(s.had_user);
	close_pair();
}

Test(nng_baggage, tracestate_and_baggage_reach_the_receivers_info)
{
	tu_init_memory(sampler(true), 64);
	open_pair();
	baton_span_context parent = {
	    .trace_flags = BATON_FLAG_SAMPLED | BATON_FLAG_RANDOM,
	    .state = BATON_CTX_VALID | BATON_CTX_DECIDED | BATON_CTX_REMOTE,
	    .tracestate = "vendor=abc,other=1"};
	baton_trace_id_generate(parent.trace_id);
	baton_span_id_generate(parent.span_id);
	baton_nng_send_opts so = {.parent = &parent, .baggage = "k=v"};
	cr_assert_eq(baton_nng_send(tx, "payload", 8, 0, &so), 0);
	struct seen s;
	baton_nng_recv_info info;
	receive(&s, &info);
	cr_assert_str_eq(info.tracestate, "vendor=abc,other=1");
	cr_assert_eq(info.tracestate_len, strlen(info.tracestate));
	cr_assert_str_eq(info.baggage, "k=v");
	cr_assert_null(info.context.tracestate, "the text lives in info.tracestate");
	close_pair();
}
