/*
 * A hostile peer on a real NNG socket: crafted messages that look like
 * envelopes, forged envelopes with garbage text, random bytes. The host's
 * payloads must arrive byte-identical unless a fully valid envelope was
 * removed, and the host's spans keep their names and attributes.
 */
#include <baton/baton.h>
#include <baton/envelope.h>
#include <baton/http.h>
#include <baton/nng.h>
#include <criterion/criterion.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nngutil.h"
#include "spancheck.h"
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
}

static baton_sampler pb_on(void)
{
	baton_sampler pb;
	cr_assert_eq(baton_sampler_parentbased(baton_sampler_always_on(), &pb), BATON_OK);
	return pb;
}

/*
 * Sends data raw, receives it through baton with opts (with and without an
 * info), and asserts it arrived byte-identical.
 */
static void assert_delivered_untouched(const void *data, size_t len,
                                       const baton_nng_recv_opts *opts)
{
	for (int with_info = 0; with_info < 2; with_info++) {
		cr_assert_eq(nng_send(tx, (void *)data, len, 0), 0);
		nng_msg *m;
		baton_nng_recv_info info;
		cr_assert_eq(baton_nng_recvmsg(rx, &m, 0, opts, with_info ? &info : NULL),
		             0);
		cr_assert_eq(nng_msg_len(m), len, "a payload of %zu bytes lost %zu", len,
		             len - nng_msg_len(m));
		cr_assert_eq(memcmp(nng_msg_body(m), data, len), 0, "payload altered");
		if (with_info) {
			cr_assert_neq(info.envelope, BATON_OK);
			cr_assert_eq(info.envelope_size, 0);
			cr_assert_eq(info.span.id, BATON_SPAN_NONE.id);
		}
		nng_msg_free(m);
	}
}

/* The payloads that version 1's checks took for envelopes reach the application whole. */
Test(hostile_peer, payloads_that_fooled_version_1_arrive_byte_identical)
{
	tu_init_memory(pb_on(), 64);
	open_pair();
	baton_envelope_stats_reset();
	/* A MessagePack fixstr: BA 30 20 74 ... lost 32 bytes before. */
	const char *mp = "\xBA"
	                 "0 tickets remain in queue!";
	assert_delivered_untouched(mp, strlen(mp), NULL);

	/* 9000 bytes that start like an unsampled v1 header with extensions: lost 8192.
	 */
	static uint8_t big[9000];
	memset(big, 'x', sizeof(big));
	big[0] = 0xBA;
	big[1] = 0x18;
	big[2] = 4;
	big[3] = tu_envelope_crc8(big);
	big[4] = 0x9F;
	big[5] = 0xFC;
	assert_delivered_untouched(big, sizeof(big), NULL);

	/* A v1 sampled header over all-zero ids, and over random ids. */
	uint8_t s[40] = {0xBA, 0x17, 28};
	s[3] = tu_envelope_crc8(s);
	assert_delivered_untouched(s, sizeof(s), NULL);
	memset(s + 4, 0x5C, 24);
	assert_delivered_untouched(s, sizeof(s), NULL);

	/* The v1 unsampled constant. */
	const uint8_t v1u[] = {0xBA, 0x10, 0x04, 0x26, 'd', 'a', 't', 'a'};
	assert_delivered_untouched(v1u, sizeof(v1u), NULL);

	/* Version 2 headers whose check word does not match. */
	uint8_t v2[48] = {0xBA, 0x27, 32};
	memset(v2 + 4, 0x33, 40);
	tu_envelope_seal(v2, 32);
	v2[31] ^= 1;
	assert_delivered_untouched(v2, sizeof(v2), NULL);
	uint8_t u2[12] = {0xBA, 0x20, 0x08, 0xFB, 0x89, 0x70,
	                  0x96, 0x9F, 'a',  'b',  'c',  'd'};
	assert_delivered_untouched(u2, sizeof(u2), NULL);

	baton_envelope_stats st;
	baton_envelope_stats_get(&st);
	cr_assert_eq(st.passed_through, 2 * 7, "every pass-through is counted");
	cr_assert_eq(st.stripped, 0);
	close_pair();
	baton_fini(1000);
}

/* 200,000 random messages that start with the magic byte, over a real socket. */
Test(hostile_peer, random_messages_starting_with_the_magic_arrive_byte_identical)
{
	tu_init_memory(pb_on(), 64);
	open_pair();
	uint64_t x = 0x2545F4914F6CDD1Dull;
	int altered = 0;
	for (int i = 0; i < 200000; i++) {
		uint8_t b[48];
		for (size_t k = 0; k < sizeof(b); k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			b[k] = (uint8_t)x;
		}
		b[0] = 0xBA;
		size_t len = 1 + (size_t)(x >> 58) % sizeof(b);
		nng_msg *m;
		cr_assert_eq(nng_msg_alloc(&m, 0), 0);
		cr_assert_eq(nng_msg_append(m, b, len), 0);
		cr_assert_eq(baton_nng_msg_open(m, NULL, NULL), 0);
		if (nng_msg_len(m) != len || memcmp(nng_msg_body(m), b, len) != 0)
			altered++;
		nng_msg_free(m);
	}
	cr_assert_eq(altered, 0);
	close_pair();
	baton_fini(1000);
}

/* Every envelope a receiver removes is counted; so is every bare delivery. */
Test(hostile_peer, strips_and_pass_throughs_are_counted)
{
	tu_init_memory(pb_on(), 64);
	open_pair();
	baton_envelope_stats_reset();
	for (int i = 0; i < 10; i++) {
		cr_assert_eq(baton_nng_send(tx, "traced", 6, 0, NULL), 0);
		nng_msg *m;
		baton_nng_recv_info info;
		cr_assert_eq(baton_nng_recvmsg(rx, &m, 0, NULL, &info), 0);
		cr_assert_eq(nng_msg_len(m), 6);
		baton_span_end(info.span);
		nng_msg_free(m);
	}
	assert_delivered_untouched("bare", 4, NULL);
	baton_envelope_stats st;
	baton_envelope_stats_get(&st);
	cr_assert_eq(st.stripped, 10);
	cr_assert_eq(st.passed_through, 2);
	close_pair();
	baton_fini(1000);
}

/* Senders not yet upgraded: strict receivers read version 1, mixed ones when asked. */
Test(hostile_peer, version_1_senders_are_read_by_strict_receivers_and_on_request)
{
	tu_memory_exporter *mem = tu_init_memory(pb_on(), 64);
	open_pair();
	uint8_t tid[16], sid[8];
	tu_hex("0af7651916cd43dd8448eb211c80319c", tid, 16);
	tu_hex("b7ad6b7169203331", sid, 8);
	uint8_t v1[28 + 4] = {0xBA, 0x17, 28};
	v1[3] = tu_envelope_crc8(v1);
	memcpy(v1 + 4, tid, 16);
	memcpy(v1 + 20, sid, 8);
	memcpy(v1 + 28, "body", 4);

	baton_nng_recv_opts strict = {.mode = BATON_NNG_STRICT};
	baton_nng_recv_opts mixed_v1 = {.flags = BATON_NNG_RECV_READ_V1};
	const baton_nng_recv_opts *ways[] = {&strict, &mixed_v1};
	for (int w = 0; w < 2; w++) {
		cr_assert_eq(nng_send(tx, v1, sizeof(v1), 0), 0);
		nng_msg *m;
		baton_nng_recv_info info;
		cr_assert_eq(baton_nng_recvmsg(rx, &m, 0, ways[w], &info), 0);
		cr_assert_eq(nng_msg_len(m), 4);
		cr_assert_eq(memcmp(nng_msg_body(m), "body", 4), 0);
		cr_assert(baton_span_is_recording(info.span));
		baton_span_end(info.span);
		nng_msg_free(m);
	}
	tu_memory_span c;
	cr_assert_geq(nu_find(mem, BATON_SPAN_KIND_CONSUMER, NULL, &c), 0);
	cr_assert_arr_eq(c.context.trace_id, tid, 16);
	cr_assert_arr_eq(c.parent.span_id, sid, 8);
	/* Without the flag a mixed receiver leaves it alone. */
	assert_delivered_untouched(v1, sizeof(v1), NULL);
	close_pair();
	baton_fini(1000);
}

/*
 * A forged sampled envelope: valid header, ids and check word, one text
 * extension of n bytes (type), then the payload "work".
 */
static size_t forge(uint8_t *m, const uint8_t tid[16], const uint8_t sid[8], uint8_t type,
                    const char *text, size_t n)
{
	size_t len = tu_envelope_forge_text(m, tid, sid, type, text, n);
	memcpy(m + len, "work", 4);
	return len + 4;
}

static nng_socket onward_tx;

static int forward(void *arg)
{
	(void)arg;
	return baton_nng_send(onward_tx, "onward", 6, 0, NULL);
}

/*
 * 2000 bytes of ESC, 0xFF and CR as tracestate (and as baggage) used to fill
 * the consumer span's memory: it lost its name and attributes, the raw bytes
 * went out to the exporter and on to the next hop.
 */
Test(hostile_peer, garbage_text_in_a_forged_envelope_does_not_blank_the_consumer_span)
{
	tu_memory_exporter *mem = tu_init_memory(pb_on(), 64);
	open_pair();
	onward_tx = tx;
	baton_envelope_stats_reset();
	uint8_t tid[16], sid[8];
	tu_hex("4bf92f3577b34da6a3ce929d0e0e4736", tid, 16);
	tu_hex("00f067aa0ba902b7", sid, 8);
	char garbage[2000];
	for (size_t i = 0; i < sizeof(garbage); i++)
		garbage[i] = "\x1b\xff\r"[i % 3];
	static uint8_t msg[4200];
	const uint8_t types[] = {BATON_ENV_EXT_TRACESTATE, BATON_ENV_EXT_BAGGAGE};
	for (int t = 0; t < 2; t++) {
		tu_memory_exporter_clear(mem);
		size_t n = forge(msg, tid, sid, types[t], garbage, sizeof(garbage));
		cr_assert_eq(nng_send(tx, msg, n, 0), 0);
		nng_msg *m;
		baton_nng_recv_info info;
		baton_nng_recv_opts ro = {.destination = "orders"};
		cr_assert_eq(baton_nng_recvmsg(rx, &m, 0, &ro, &info), 0);
		cr_assert_eq(nng_msg_len(m), 4, "the message and its envelope are kept");
		cr_assert_eq(memcmp(nng_msg_body(m), "work", 4), 0);
		cr_assert(baton_span_is_recording(info.span));
		nng_msg_free(m);
		cr_assert_eq(baton_nng_process(&info, forward, NULL), 0);

		/* The next hop carries no trace of the garbage. */
		cr_assert_eq(nng_recvmsg(rx, &m, 0), 0);
		baton_envelope e;
		cr_assert_eq(baton_envelope_unwrap(nng_msg_body(m), nng_msg_len(m), &e),
		             BATON_OK);
		cr_assert_null(e.ctx.tracestate);
		cr_assert_null(e.baggage);
		cr_assert_arr_eq(e.ctx.trace_id, tid, 16);
		nng_msg_free(m);

		tu_memory_span c;
		cr_assert_geq(nu_find(mem, BATON_SPAN_KIND_CONSUMER, NULL, &c), 0);
		cr_assert_str_eq(c.name, "process orders");
		cr_assert(nu_has_attr(&c, "messaging.system", "nng"));
		cr_assert(nu_has_attr(&c, "messaging.operation.type", "process"));
		cr_assert(nu_has_attr(&c, "messaging.destination.name", "orders"));
		cr_assert(nu_has_attr(&c, "messaging.message.body.size", "4"));
		cr_assert_str_eq(c.tracestate, "");
		cr_assert_arr_eq(c.context.trace_id, tid, 16);
		cr_assert_arr_eq(c.parent.span_id, sid, 8);
		for (const char *p = c.attrs_text; *p; p++)
			cr_assert((unsigned char)*p >= 0x20 || *p == '\n',
			          "a control byte reached the span's attributes");
	}
	baton_envelope_stats st;
	baton_envelope_stats_get(&st);
	cr_assert_eq(st.tracestate_dropped, 1);
	cr_assert_eq(st.baggage_dropped, 1);
	close_pair();
	baton_fini(1000);
}

/* ---- crafted HTTP requests ---- */

/*
 * Requests a hostile client can send: garbage traceparents, dozens of
 * tracestate lines of control bytes, a 100 KB target of ill-formed UTF-8,
 * a binary User-Agent, a huge baggage header. The SERVER span keeps its
 * name and every attribute the SDK sets, and carries only well-formed text.
 */
Test(hostile_peer, crafted_http_requests_do_not_blank_or_poison_the_server_span)
{
	tu_held_init((baton_sampler){0}, NULL);
	baton_tracer *t = baton_tracer_get("hostile", NULL);
	static char target[100 * 1024], agent[10 * 1024], baggage[20 * 1024];
	target[0] = '/';
	for (size_t i = 1; i < sizeof(target) - 1; i++)
		target[i] = (char)("\xff\xc3\x1b\r\n%?a"[i % 8]);
	memset(agent, 0xfe, sizeof(agent) - 1);
	for (size_t i = 0; i < sizeof(baggage) - 1; i++)
		baggage[i] = (char)("k=\x01;,\x7f"[i % 6]);
	const char *traceparents[] = {
	    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\nX-Evil: 1",
	    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
	    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"};
	static baton_http_header h[80];
	static char ts_lines[64][64];
	for (size_t k = 0; k < sizeof(traceparents) / sizeof(traceparents[0]); k++) {
		size_t n = 0;
		h[n++] = (baton_http_header){"traceparent", traceparents[k]};
		for (int i = 0; i < 64; i++) {
			snprintf(ts_lines[i], sizeof(ts_lines[i]),
			         "k%d=\x1b[31m\xff,v%d=ok", i, i);
			h[n++] = (baton_http_header){"tracestate", ts_lines[i]};
		}
		h[n++] = (baton_http_header){"User-Agent", agent};
		h[n++] = (baton_http_header){"baggage", baggage};
		baton_http_server_request req = {.method = "GET",
		                                 .target = target,
		                                 .route = "/orders/{id}",
		                                 .server_address = "shop.example",
		                                 .server_port = 8080,
		                                 .headers = h,
		                                 .nheaders = n};
		uint32_t tok = 0;
		baton_span sp = baton_http_server_begin(t, &req, &tok);
		cr_assert(baton_span_is_recording(sp));
		baton_span_detach(tok);
		baton_http_server_span_end(sp, 200);
		const baton_span_data *d = tu_held();
		cr_assert_not_null(d);
		cr_assert_str_eq(d->name, "GET /orders/{id}");
		cr_assert(tu_has_attr(d, "http.response.status_code"), "case %zu", k);
		cr_assert_str_eq(tu_attr_str(d, "http.request.method"), "GET");
		cr_assert_str_eq(tu_attr_str(d, "http.route"), "/orders/{id}");
		cr_assert(tu_has_attr(d, "server.port"), "case %zu", k);
		cr_assert(tu_span_utf8_ok(d), "ill-formed text left the span (case %zu)",
		          k);
		const char *ts = d->context.tracestate;
		for (size_t i = 0; ts != NULL && ts[i] != '\0'; i++)
			cr_assert((unsigned char)ts[i] >= 0x20 &&
			              (unsigned char)ts[i] < 0x7f,
			          "a control byte in the tracestate");
		if (k < 3) /* a broken traceparent starts a new trace */
			cr_assert(!baton_span_context_is_valid(&d->parent), "case %zu",
			          k);
	}
	tu_held_release();
	baton_fini(1000);
}
