/*
 * Every NNG protocol that carries a body, over inproc, ipc and tcp: the
 * payload arrives intact and the consumer span is the child of the
 * producer span; replies (req/rep, surveyor/respondent) continue the trace.
 */
#include <baton/baton.h>
#include <baton/nng.h>
#include <criterion/criterion.h>
#include <nng/protocol/bus0/bus.h>
#include <nng/protocol/pair0/pair.h>
#include <nng/protocol/pair1/pair.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/protocol/survey0/respond.h>
#include <nng/protocol/survey0/survey.h>
#include <stdio.h>
#include <string.h>

#include "nngutil.h"
#include "testutil.h"

static const char payload[] = "order #42: two coffees";

/* Sends until one arrives (pub/sub, bus and surveys drop messages for peers not yet
 * attached). */
static void send_until_received(nng_socket tx, nng_socket rx, bool retry, nng_msg **out,
                                baton_nng_recv_info *info)
{
	baton_nng_send_opts so = {.destination = "orders"};
	nu_recv_timeout(rx, retry ? 100 : 5000);
	for (int attempt = 0; attempt < 100; attempt++) {
		cr_assert_eq(baton_nng_send(tx, payload, sizeof(payload), 0, &so), 0);
		int rv = baton_nng_recvmsg(rx, out, 0, NULL, info);
		if (rv == 0)
			return;
		cr_assert(retry && rv == NNG_ETIMEDOUT, "recv: %s", nng_strerror(rv));
	}
	cr_assert_fail("no message arrived");
}

static void check_payload(nng_msg *m)
{
	cr_assert_eq(nng_msg_len(m), sizeof(payload));
	cr_assert_eq(memcmp(nng_msg_body(m), payload, sizeof(payload)), 0);
}

/* The consumer span's parent is one of the producer spans, in the same trace. */
static void check_parent_child(tu_memory_exporter *mem)
{
	tu_memory_span c, p;
	cr_assert_geq(nu_find(mem, BATON_SPAN_KIND_CONSUMER, NULL, &c), 0);
	bool found = false;
	size_t n = tu_memory_exporter_count(mem);
	for (size_t i = 0; i < n && !found; i++) {
		tu_memory_exporter_get(mem, i, &p);
		found = p.kind == BATON_SPAN_KIND_PRODUCER &&
		        memcmp(p.context.span_id, c.parent.span_id, 8) == 0;
	}
	cr_assert(found, "consumer's parent is no producer span");
	cr_assert_arr_eq(c.context.trace_id, p.context.trace_id, 16);
	cr_assert_arr_eq(c.parent.trace_id, p.context.trace_id, 16);
	cr_assert_str_eq(p.name, "send orders");
	cr_assert(nu_has_attr(&p, "messaging.system", "nng"));
	cr_assert(nu_has_attr(&p, "messaging.operation.type", "send"));
	cr_assert(nu_has_attr(&p, "messaging.destination.name", "orders"));
	char size[16];
	snprintf(size, sizeof(size), "%zu", sizeof(payload));
	cr_assert(nu_has_attr(&p, "messaging.message.body.size", size));
	cr_assert(nu_has_attr(&c, "messaging.operation.type", "process"));
	cr_assert(nu_has_attr(&c, "messaging.message.body.size", size));
	cr_assert(c.parent.state & BATON_CTX_REMOTE);
}

static void one_way(nu_open_fn open_rx, nu_open_fn open_tx, bool retry, bool subscribe)
{
	for (int t = 0; t < 3; t++) {
		tu_memory_exporter *mem = tu_init_memory((baton_sampler){0}, 512);
		nng_socket rx, tx;
		nu_connect(nu_transports[t], open_rx, open_tx, &rx, &tx, NULL, 0);
		if (subscribe)
			cr_assert_eq(nng_socket_set(rx, NNG_OPT_SUB_SUBSCRIBE, "", 0), 0);
		nng_msg *m;
		baton_nng_recv_info info;
		send_until_received(tx, rx, retry, &m, &info);
		check_payload(m);
		cr_assert(baton_span_is_recording(info.span), "transport %s",
		          nu_transports[t]);
		cr_assert_eq(info.envelope, BATON_OK);
		cr_assert_eq(info.envelope_size, BATON_ENVELOPE_SAMPLED_SIZE);
		baton_span_end(info.span);
		nng_msg_free(m);
		check_parent_child(mem);
		nng_close(rx);
		nng_close(tx);
		baton_fini(1000);
	}
}

/* Listener = receiver (push/pull with the puller listening). */
Test(nng_protocols, push_pull_over_every_transport)
{
	one_way(nng_pull0_open, nng_push0_open, false, false);
}

Test(nng_protocols, pair0_over_every_transport)
{
	one_way(nng_pair0_open, nng_pair0_open, false, false);
}

Test(nng_protocols, pair1_over_every_transport)
{
	one_way(nng_pair1_open, nng_pair1_open, false, false);
}

static int open_sub_listener(nng_socket *s)
{
	return nng_sub0_open(s);
}

Test(nng_protocols, pub_sub_over_every_transport)
{
	one_way(open_sub_listener, nng_pub0_open, true, true);
}

Test(nng_protocols, bus_over_every_transport)
{
	one_way(nng_bus0_open, nng_bus0_open, true, false);
}

/* ---- request/reply: the reply continues the request's trace ---- */

struct reply_ctx {
	nng_socket s;
	const char *text;
};

static int send_reply(void *arg)
{
	struct reply_ctx *r = arg;
	/* Inside the consumer span: the reply's producer span is its child. */
	baton_nng_send_opts so = {.destination = "orders.reply"};
	return baton_nng_send(r->s, r->text, strlen(r->text) + 1, 0, &so);
}

static void check_reply_chain(tu_memory_exporter *mem)
{
	tu_memory_span req_p, req_c, rep_p, rep_c;
	cr_assert_geq(nu_find(mem, BATON_SPAN_KIND_PRODUCER, "send orders.reply", &rep_p),
	              0);
	cr_assert_geq(nu_find(mem, BATON_SPAN_KIND_CONSUMER, NULL, &req_c), 0);
	size_t n = tu_memory_exporter_count(mem);
	bool found_req = false, found_rep = false;
	for (size_t i = 0; i < n; i++) {
		tu_memory_span s;
		tu_memory_exporter_get(mem, i, &s);
		/* The request consumer: parent is a request producer ("send orders"). */
		if (s.kind == BATON_SPAN_KIND_CONSUMER &&
		    memcmp(s.parent.span_id, rep_p.context.span_id, 8) == 0) {
			rep_c = s;
			found_rep = true;
		}
	}
	cr_assert(found_rep, "no consumer span for the reply");
	/* rep_p's parent is the consumer span of the request. */
	for (size_t i = 0; i < n; i++) {
		tu_memory_span s;
		tu_memory_exporter_get(mem, i, &s);
		if (s.kind == BATON_SPAN_KIND_CONSUMER &&
		    memcmp(s.context.span_id, rep_p.parent.span_id, 8) == 0) {
			req_c = s;
			found_req = true;
		}
	}
	cr_assert(found_req,
	          "the reply's producer is not a child of the request's consumer");
	cr_assert_geq(nu_find(mem, BATON_SPAN_KIND_PRODUCER, "send orders", &req_p), 0);
	found_req = false;
	for (size_t i = 0; i < n && !found_req; i++) {
		tu_memory_exporter_get(mem, i, &req_p);
		found_req = req_p.kind == BATON_SPAN_KIND_PRODUCER &&
		            memcmp(req_p.context.span_id, req_c.parent.span_id, 8) == 0;
	}
	cr_assert(found_req);
	cr_assert_arr_eq(req_c.context.trace_id, req_p.context.trace_id, 16);
	cr_assert_arr_eq(rep_p.context.trace_id, req_p.context.trace_id, 16);
	cr_assert_arr_eq(rep_c.context.trace_id, req_p.context.trace_id, 16);
	cr_assert_str_eq(rep_c.name, "process");
}

static void request_reply(nu_open_fn open_server, nu_open_fn open_client, bool retry)
{
	for (int t = 0; t < 3; t++) {
		tu_memory_exporter *mem = tu_init_memory((baton_sampler){0}, 512);
		nng_socket server, client;
		nu_connect(nu_transports[t], open_server, open_client, &server, &client,
		           NULL, 0);
		if (retry)
			cr_assert_eq(
			    nng_socket_set_ms(client, NNG_OPT_SURVEYOR_SURVEYTIME, 2000),
			    0);
		nng_msg *m;
		baton_nng_recv_info info;
		send_until_received(client, server, retry, &m, &info);
		check_payload(m);
		nng_msg_free(m);
		struct reply_ctx r = {server, "ok"};
		cr_assert_eq(baton_nng_process(&info, send_reply, &r), 0);
		cr_assert_eq(info.span.id, BATON_SPAN_NONE.id);
		nu_recv_timeout(client, 5000);
		cr_assert_eq(baton_nng_recvmsg(client, &m, 0, NULL, &info), 0);
		cr_assert_str_eq((const char *)nng_msg_body(m), "ok");
		baton_span_end(info.span);
		nng_msg_free(m);
		check_reply_chain(mem);
		nng_close(server);
		nng_close(client);
		baton_fini(1000);
	}
}

Test(nng_protocols, req_rep_reply_continues_the_request_trace)
{
	request_reply(nng_rep0_open, nng_req0_open, false);
}

Test(nng_protocols, surveyor_respondent_response_continues_the_survey_trace)
{
	request_reply(nng_respondent0_open, nng_surveyor0_open, true);
}

/* ---- contexts and aio ---- */

struct aio_recv {
	nng_aio *aio;
	nng_msg *msg;
	baton_nng_recv_info info;
	int rv;
};

static void recv_cb(void *arg)
{
	struct aio_recv *r = arg;
	/* In the user's callback: strip the envelope, start the consumer span. */
	r->rv = baton_nng_recv_aio_result(r->aio, NULL, &r->msg, &r->info);
}

Test(nng_protocols, req_rep_over_contexts_and_aio)
{
	tu_memory_exporter *mem = tu_init_memory((baton_sampler){0}, 512);
	nng_socket server, client;
	nu_connect("inproc", nng_rep0_open, nng_req0_open, &server, &client, NULL, 0);
	nng_ctx sctx, cctx;
	cr_assert_eq(nng_ctx_open(&sctx, server), 0);
	cr_assert_eq(nng_ctx_open(&cctx, client), 0);
	struct aio_recv srv = {0}, cli = {0};
	nng_aio *send_aio;
	cr_assert_eq(nng_aio_alloc(&srv.aio, recv_cb, &srv), 0);
	cr_assert_eq(nng_aio_alloc(&cli.aio, recv_cb, &cli), 0);
	cr_assert_eq(nng_aio_alloc(&send_aio, NULL, NULL), 0);

	nng_ctx_recv(sctx, srv.aio);
	nng_msg *m;
	cr_assert_eq(nng_msg_alloc(&m, 0), 0);
	cr_assert_eq(nng_msg_append(m, payload, sizeof(payload)), 0);
	nng_aio_set_msg(send_aio, m);
	baton_nng_send_opts so = {.destination = "orders"};
	baton_nng_ctx_send(cctx, send_aio, &so);
	nng_aio_wait(send_aio);
	cr_assert_eq(baton_nng_send_aio_result(send_aio), 0);
	nng_aio_wait(srv.aio);
	cr_assert_eq(srv.rv, 0);
	check_payload(srv.msg);
	nng_msg_free(srv.msg);
	cr_assert(baton_span_is_recording(srv.info.span));

	/* Reply from the server context, as a child of its consumer span. */
	nng_ctx_recv(cctx, cli.aio);
	baton_span_context parent;
	baton_span_get_context(srv.info.span, &parent);
	cr_assert_eq(nng_msg_alloc(&m, 0), 0);
	cr_assert_eq(nng_msg_append(m, "ok", 3), 0);
	nng_aio_set_msg(send_aio, m);
	baton_nng_send_opts ro = {.destination = "orders.reply", .parent = &parent};
	baton_nng_ctx_send(sctx, send_aio, &ro);
	nng_aio_wait(send_aio);
	cr_assert_eq(baton_nng_send_aio_result(send_aio), 0);
	baton_span_end(srv.info.span);
	nng_aio_wait(cli.aio);
	cr_assert_eq(cli.rv, 0);
	cr_assert_str_eq((const char *)nng_msg_body(cli.msg), "ok");
	nng_msg_free(cli.msg);
	baton_span_end(cli.info.span);
	check_reply_chain(mem);

	nng_aio_free(srv.aio);
	nng_aio_free(cli.aio);
	nng_aio_free(send_aio);
	nng_close(server);
	nng_close(client);
	baton_fini(1000);
}

Test(nng_protocols, failed_aio_send_gives_the_message_back_unchanged)
{
	tu_init_memory((baton_sampler){0}, 64);
	nng_socket s;
	cr_assert_eq(nng_push0_open(&s), 0);
	nng_aio *aio;
	cr_assert_eq(nng_aio_alloc(&aio, NULL, NULL), 0);
	nng_aio_set_timeout(aio, 10); /* no peer: times out */
	nng_msg *m;
	cr_assert_eq(nng_msg_alloc(&m, 0), 0);
	cr_assert_eq(nng_msg_append(m, payload, sizeof(payload)), 0);
	nng_aio_set_msg(aio, m);
	baton_nng_send_aio(s, aio, NULL);
	nng_aio_wait(aio);
	cr_assert_eq(baton_nng_send_aio_result(aio), NNG_ETIMEDOUT);
	cr_assert_eq(nng_aio_get_msg(aio), m);
	check_payload(m);
	nng_msg_free(m);

	/* The same for the synchronous form. */
	cr_assert_eq(nng_msg_alloc(&m, 0), 0);
	cr_assert_eq(nng_msg_append(m, payload, sizeof(payload)), 0);
	cr_assert_eq(baton_nng_sendmsg(s, m, NNG_FLAG_NONBLOCK, NULL), NNG_EAGAIN);
	check_payload(m);
	nng_msg_free(m);
	nng_aio_free(aio);
	nng_close(s);
	baton_fini(1000);
}

Test(nng_protocols, destination_defaults_to_the_name_then_the_url)
{
	tu_memory_exporter *mem = tu_init_memory((baton_sampler){0}, 64);
	nng_socket rx, tx;
	cr_assert_eq(nng_pull0_open(&rx), 0);
	cr_assert_eq(nng_push0_open(&tx), 0);
	nu_recv_timeout(rx, 5000);
	cr_assert_eq(baton_nng_listen(rx, "inproc://baton-dest-url", NULL, 0), 0);
	cr_assert_eq(baton_nng_dial(tx, "inproc://baton-dest-url", NULL, 0), 0);
	cr_assert_eq(baton_nng_socket_set_name(tx, "billing"), 0);
	cr_assert_eq(baton_nng_send(tx, "x", 1, 0, NULL), 0);
	nng_msg *m;
	baton_nng_recv_info info;
	cr_assert_eq(baton_nng_recvmsg(rx, &m, 0, NULL, &info), 0);
	baton_span_end(info.span);
	nng_msg_free(m);
	tu_memory_span p, c;
	cr_assert_geq(nu_find(mem, BATON_SPAN_KIND_PRODUCER, NULL, &p), 0);
	cr_assert_geq(nu_find(mem, BATON_SPAN_KIND_CONSUMER, NULL, &c), 0);
	/* The sender's explicit name wins over its URL; the receiver falls back to its
	 * URL. */
	cr_assert_str_eq(p.name, "send billing");
	cr_assert(nu_has_attr(&p, "messaging.destination.name", "billing"));
	cr_assert_str_eq(c.name, "process inproc://baton-dest-url");
	cr_assert(
	    nu_has_attr(&c, "messaging.destination.name", "inproc://baton-dest-url"));
	cr_assert_eq(baton_nng_socket_set_name(tx, NULL), NNG_EINVAL);
	nng_close(rx);
	nng_close(tx);
	baton_fini(1000);
}
