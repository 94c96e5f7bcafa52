/*
 * Receivers and senders around the envelope: bare messages in mixed and
 * strict mode, garbage envelopes, a message from a newer version, and the
 * unsampled path that must make no span at all.
 */
#include <baton/baton.h>
#include <baton/nng.h>
#include <criterion/criterion.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
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
}

/* Sends raw bytes with plain NNG (an old sender, or a forged message). */
static void raw_send(const void *data, size_t len)
{
	cr_assert_eq(nng_send(tx, (void *)data, len, 0), 0);
}

/* parentbased(always_on): the default sampler, which follows the message's decision. */
static baton_sampler pb_on(void)
{
	baton_sampler pb;
	cr_assert_eq(baton_sampler_parentbased(baton_sampler_always_on(), &pb), BATON_OK);
	return pb;
}

Test(nng_modes, mixed_mode_delivers_bare_messages_untouched)
{
	tu_memory_exporter *mem = tu_init_memory((baton_sampler){0}, 64);
	open_pair();
	baton_envelope_stats_reset();
	const char *bare[] = {"plain text", "\xBA not an envelope", "\xBA"};
	for (int i = 0; i < 3; i++) {
		raw_send(bare[i], strlen(bare[i]));
		nng_msg *m;
		baton_nng_recv_info info;
		cr_assert_eq(baton_nng_recvmsg(rx, &m, 0, NULL, &info), 0);
		cr_assert_eq(nng_msg_len(m), strlen(bare[i]));
		cr_assert_eq(memcmp(nng_msg_body(m), bare[i], strlen(bare[i])), 0);
		cr_assert_eq(info.span.id, BATON_SPAN_NONE.id);
		cr_assert_eq(info.context.state, 0);
		cr_assert_eq(info.envelope_size, 0);
		cr_assert_neq(info.envelope, BATON_OK);
		nng_msg_free(m);
	}
	baton_envelope_stats st;
	baton_envelope_stats_get(&st);
	cr_assert_eq(st.no_envelope, 1);
	cr_assert_eq(st.malformed, 1); /* 0xBA then a bad check byte */
	cr_assert_eq(st.truncated, 1); /* 0xBA alone */
	cr_assert_eq(st.refused, 0);
	cr_assert_eq(tu_memory_exporter_count(mem), 0);
	close_pair();
	baton_fini(1000);
}

Test(nng_modes, strict_mode_refuses_and_counts_bare_and_broken_messages)
{
	tu_init_memory((baton_sampler){0}, 64);
	open_pair();
	baton_envelope_stats_reset();
	baton_nng_recv_opts strict = {.mode = BATON_NNG_STRICT};
	raw_send("plain", 5);
	nng_msg *m = NULL;
	baton_nng_recv_info info;
	cr_assert_eq(baton_nng_recvmsg(rx, &m, 0, &strict, &info), NNG_EPROTO);
	cr_assert_null(m);
	/* A truncated sampled envelope: header says ids follow, the message ends. */
	uint8_t t[10] = {0xBA, 0x27, 32, 0};
	t[3] = tu_envelope_crc8(t);
	raw_send(t, sizeof(t));
	cr_assert_eq(baton_nng_recvmsg(rx, &m, 0, &strict, &info), NNG_EPROTO);
	/* A traced message still passes. */
	cr_assert_eq(baton_nng_send(tx, "ok", 2, 0, NULL), 0);
	cr_assert_eq(baton_nng_recvmsg(rx, &m, 0, &strict, &info), 0);
	cr_assert_eq(nng_msg_len(m), 2);
	baton_span_end(info.span);
	nng_msg_free(m);
	baton_envelope_stats st;
	baton_envelope_stats_get(&st);
	cr_assert_eq(st.refused, 2);
	cr_assert_eq(st.no_envelope, 1);
	cr_assert_eq(st.truncated, 1);

	/* baton_nng_msg_open leaves a refused message with the caller, untouched. */
	nng_msg *raw;
	cr_assert_eq(nng_msg_alloc(&raw, 0), 0);
	cr_assert_eq(nng_msg_append(raw, "plain", 5), 0);
	cr_assert_eq(baton_nng_msg_open(raw, &strict, &info), NNG_EPROTO);
	cr_assert_eq(nng_msg_len(raw), 5);
	nng_msg_free(raw);
	close_pair();
	baton_fini(1000);
}

Test(nng_modes, garbage_after_a_valid_header_is_delivered_bare_in_mixed_mode)
{
	tu_memory_exporter *mem = tu_init_memory((baton_sampler){0}, 64);
	open_pair();
	baton_envelope_stats_reset();
	/* Valid sampled header, ids and check word, then an extension region that lies.
	 */
	uint8_t g[44] = {0xBA, 0x2F, 32, 0};
	memset(g + 4, 0x11, 24);
	g[32] = 5;    /* region of 5 bytes */
	g[33] = 0x01; /* recipients */
	g[34] = 9;    /* claims 9 bytes: past the region */
	tu_envelope_seal(g, 38);
	memcpy(g + 38, "tail!", 6);
	raw_send(g, sizeof(g));
	nng_msg *m;
	baton_nng_recv_info info;
	cr_assert_eq(baton_nng_recvmsg(rx, &m, 0, NULL, &info), 0);
	cr_assert_eq(info.envelope, BATON_EFORMAT);
	cr_assert_eq(nng_msg_len(m), sizeof(g));
	cr_assert_eq(memcmp(nng_msg_body(m), g, sizeof(g)), 0);
	cr_assert_eq(info.span.id, BATON_SPAN_NONE.id);
	nng_msg_free(m);
	baton_envelope_stats st;
	baton_envelope_stats_get(&st);
	cr_assert_eq(st.malformed, 1);
	cr_assert_eq(tu_memory_exporter_count(mem), 0);
	close_pair();
	baton_fini(1000);
}

Test(nng_modes, a_message_from_a_newer_version_continues_its_trace)
{
	tu_memory_exporter *mem = tu_init_memory(pb_on(), 64);
	open_pair();
	uint8_t f[64];
	size_t i = 0;
	f[i++] = 0xBA;
	f[i++] = 0x3F; /* version 3, S R I X */
	f[i++] = 40;   /* 8 bytes of future fixed fields after the ids, then the check */
	f[i++] = 0;
	uint8_t tid[16], sid[8];
	tu_hex("0af7651916cd43dd8448eb211c80319c", tid, 16);
	tu_hex("b7ad6b7169203331", sid, 8);
	memcpy(f + i, tid, 16);
	i += 16;
	memcpy(f + i, sid, 8);
	i += 8;
	memset(f + i, 0xEE, 8);
	i += 8 + 4;
	const uint8_t ext[] = {0x42, 2, 'z', 'z', 0x02, 1, 0x80}; /* unknown; th 50% */
	f[i++] = sizeof(ext);
	memcpy(f + i, ext, sizeof(ext));
	i += sizeof(ext);
	tu_envelope_seal(f, i);
	memcpy(f + i, "data", 4);
	raw_send(f, i + 4);

	nng_msg *m;
	baton_nng_recv_info info;
	cr_assert_eq(baton_nng_recvmsg(rx, &m, 0, NULL, &info), 0);
	cr_assert_eq(info.envelope, BATON_OK);
	cr_assert_eq(nng_msg_len(m), 4);
	cr_assert_eq(memcmp(nng_msg_body(m), "data", 4), 0);
	cr_assert(baton_span_is_recording(info.span));
	baton_span_end(info.span);
	nng_msg_free(m);
	tu_memory_span c;
	cr_assert_geq(nu_find(mem, BATON_SPAN_KIND_CONSUMER, NULL, &c), 0);
	cr_assert_arr_eq(c.context.trace_id, tid, 16);
	cr_assert_arr_eq(c.parent.span_id, sid, 8);
	cr_assert(c.sample_rate > 1.999 && c.sample_rate < 2.001, "SampleRate %f",
	          c.sample_rate);
	close_pair();
	baton_fini(1000);
}

Test(nng_modes, unsampled_traffic_makes_no_span_and_carries_eight_bytes)
{
	baton_sampler ratio0;
	cr_assert_eq(baton_sampler_traceidratio(0.0, &ratio0), BATON_OK);
	baton_sampler pb;
	cr_assert_eq(baton_sampler_parentbased(ratio0, &pb), BATON_OK);
	tu_memory_exporter *mem = tu_init_memory(pb, 64);
	open_pair();
	for (int i = 0; i < 50; i++) {
		cr_assert_eq(baton_nng_send(tx, "hello", 5, 0, NULL), 0);
		/* Look at the wire with plain NNG: exactly the 8-byte unsampled envelope.
		 */
		nng_msg *m;
		cr_assert_eq(nng_recvmsg(rx, &m, 0), 0);
		cr_assert_eq(nng_msg_len(m), 13);
		const uint8_t want[8] = {0xBA, 0x20, 0x08, 0xFB, 0x7B, 0x12, 0x9B, 0xCB};
		cr_assert_arr_eq(nng_msg_body(m), want, 8);
		baton_nng_recv_info info;
		cr_assert_eq(baton_nng_msg_open(m, NULL, &info), 0);
		cr_assert_eq(nng_msg_len(m), 5);
		cr_assert_eq(memcmp(nng_msg_body(m), "hello", 5), 0);
		cr_assert_eq(info.span.id, BATON_SPAN_NONE.id);
		cr_assert_eq(info.context.state, BATON_CTX_REMOTE | BATON_CTX_DECIDED);
		cr_assert_eq(info.envelope_size, BATON_ENVELOPE_UNSAMPLED_SIZE);
		nng_msg_free(m);
	}
	baton_sdk_stats st;
	baton_sdk_stats_get(&st);
	cr_assert_eq(st.spans_started, 0);
	cr_assert_eq(tu_memory_exporter_count(mem), 0);
	close_pair();
	baton_fini(1000);
}

static int forward(void *arg)
{
	(void)arg;
	return baton_nng_send(tx, "onward", 6, 0, NULL);
}

/* A handler of an unsampled message sends onward: that must not start a new root trace.
 */
Test(nng_modes, handlers_of_unsampled_messages_do_not_start_roots)
{
	tu_memory_exporter *mem = tu_init_memory(pb_on(), 64);
	open_pair();
	uint8_t uns[BATON_ENVELOPE_UNSAMPLED_SIZE];
	baton_envelope_wrap_unsampled(uns);
	uint8_t msg[sizeof(uns) + 4];
	memcpy(msg, uns, sizeof(uns));
	memcpy(msg + sizeof(uns), "work", 4);
	raw_send(msg, sizeof(msg));
	nng_msg *m;
	baton_nng_recv_info info;
	cr_assert_eq(baton_nng_recvmsg(rx, &m, 0, NULL, &info), 0);
	nng_msg_free(m);
	/* The sampler would start a root for a send with no context; the attached
	 * decision stops it. */
	cr_assert_eq(baton_nng_process(&info, forward, NULL), 0);
	cr_assert_eq(nng_recvmsg(rx, &m, 0), 0);
	cr_assert_eq(nng_msg_len(m), BATON_ENVELOPE_UNSAMPLED_SIZE + 6,
	             "the onward message was not sent unsampled");
	nng_msg_free(m);
	cr_assert_eq(tu_memory_exporter_count(mem), 0);
	close_pair();
	baton_fini(1000);
}

Test(nng_modes, unsampled_ids_are_sent_when_the_sdk_option_is_on)
{
	baton_exporter exp;
	tu_memory_exporter *mem;
	baton_processor proc;
	cr_assert_eq(tu_memory_exporter_create(16, &exp, &mem), BATON_OK);
	cr_assert_eq(baton_simple_processor_create(exp, &proc), BATON_OK);
	baton_options o = {.size = sizeof(o),
	                   .sampler = baton_sampler_always_off(),
	                   .processors = &proc,
	                   .nprocessors = 1,
	                   .propagate_unsampled_ids = true,
	                   .ignore_disabled_env = true};
	cr_assert_eq(baton_init(&o), BATON_OK);
	open_pair();
	cr_assert_eq(baton_nng_send(tx, "x", 1, 0, NULL), 0);
	nng_msg *m;
	baton_nng_recv_info info;
	cr_assert_eq(baton_nng_recvmsg(rx, &m, 0, NULL, &info), 0);
	cr_assert_eq(info.envelope_size, BATON_ENVELOPE_SAMPLED_SIZE);
	cr_assert(baton_span_context_is_valid(&info.context));
	cr_assert_not(baton_span_context_is_sampled(&info.context));
	cr_assert_eq(info.span.id, BATON_SPAN_NONE.id);
	cr_assert_eq(nng_msg_len(m), 1);
	nng_msg_free(m);
	cr_assert_eq(tu_memory_exporter_count(mem), 0);
	close_pair();
	baton_fini(1000);
}

Test(nng_modes, without_baton_init_messages_still_carry_an_unsampled_envelope)
{
	open_pair();
	cr_assert_eq(baton_nng_send(tx, "x", 1, 0, NULL), 0);
	nng_msg *m;
	baton_nng_recv_info info;
	baton_nng_recv_opts strict = {.mode = BATON_NNG_STRICT};
	cr_assert_eq(baton_nng_recvmsg(rx, &m, 0, &strict, &info), 0);
	cr_assert_eq(nng_msg_len(m), 1);
	cr_assert_eq(info.envelope_size, BATON_ENVELOPE_UNSAMPLED_SIZE);
	nng_msg_free(m);
	close_pair();
}

Test(nng_modes, seal_and_unseal_round_trip_a_message_for_custom_send_paths)
{
	tu_memory_exporter *mem = tu_init_memory(pb_on(), 16);
	nng_msg *m;
	cr_assert_eq(nng_msg_alloc(&m, 0), 0);
	cr_assert_eq(nng_msg_append(m, "body", 4), 0);
	baton_span sp;
	baton_nng_send_opts so = {.destination = "custom"};
	cr_assert_eq(baton_nng_msg_seal(m, &so, &sp), 0);
	cr_assert(baton_span_is_recording(sp));
	cr_assert_eq(nng_msg_len(m), 4 + BATON_ENVELOPE_SAMPLED_SIZE);
	baton_envelope e;
	cr_assert_eq(baton_envelope_unwrap(nng_msg_body(m), nng_msg_len(m), &e),
	             BATON_OK);
	baton_span_context ctx;
	baton_span_get_context(sp, &ctx);
	cr_assert_arr_eq(e.ctx.span_id, ctx.span_id, 8);
	cr_assert_eq(baton_nng_msg_unseal(m), 0);
	cr_assert_eq(nng_msg_len(m), 4);
	cr_assert_eq(memcmp(nng_msg_body(m), "body", 4), 0);
	cr_assert_eq(baton_nng_msg_unseal(m), NNG_EINVAL,
	             "a bare message has nothing to remove");
	cr_assert_eq(nng_msg_len(m), 4);
	baton_span_end(sp);
	nng_msg_free(m);
	tu_memory_span p;
	cr_assert_geq(nu_find(mem, BATON_SPAN_KIND_PRODUCER, "send custom", &p), 0);
	cr_assert_eq(baton_nng_msg_seal(NULL, NULL, &sp), NNG_EINVAL);
	baton_fini(1000);
}

/* Without an info struct the receiver strips the envelope and starts no span. */
Test(nng_modes, receive_without_info_strips_and_starts_no_span)
{
	tu_memory_exporter *mem = tu_init_memory(pb_on(), 16);
	open_pair();
	cr_assert_eq(baton_nng_send(tx, "abc", 3, 0, NULL), 0);
	nng_msg *m;
	cr_assert_eq(baton_nng_recvmsg(rx, &m, 0, NULL, NULL), 0);
	cr_assert_eq(nng_msg_len(m), 3);
	cr_assert_eq(memcmp(nng_msg_body(m), "abc", 3), 0);
	nng_msg_free(m);
	cr_assert_eq(nu_count(mem, BATON_SPAN_KIND_PRODUCER), 1);
	cr_assert_eq(nu_count(mem, BATON_SPAN_KIND_CONSUMER), 0);
	cr_assert_eq(baton_nng_recvmsg(rx, NULL, 0, NULL, NULL), NNG_EINVAL);
	close_pair();
	baton_fini(1000);
}

struct aio_rx {
	nng_aio *aio;
	nng_msg *msg;
	baton_nng_recv_info info;
	int rv;
	bool recording_in_handler;
};

static int check_current(void *arg)
{
	struct aio_rx *r = arg;
	r->recording_in_handler = baton_span_is_recording(baton_span_current());
	return 0;
}

static void aio_rx_cb(void *arg)
{
	struct aio_rx *r = arg;
	r->rv = baton_nng_recv_aio_result(r->aio, NULL, &r->msg, &r->info);
	if (r->rv == 0)
		baton_nng_process(&r->info, check_current, r);
}

Test(nng_modes, socket_aio_send_and_receive_in_a_callback)
{
	tu_memory_exporter *mem = tu_init_memory(pb_on(), 16);
	open_pair();
	struct aio_rx r = {0};
	nng_aio *saio;
	cr_assert_eq(nng_aio_alloc(&r.aio, aio_rx_cb, &r), 0);
	cr_assert_eq(nng_aio_alloc(&saio, NULL, NULL), 0);
	nng_recv_aio(rx, r.aio);
	nng_msg *m;
	cr_assert_eq(nng_msg_alloc(&m, 0), 0);
	cr_assert_eq(nng_msg_append(m, "async", 5), 0);
	nng_aio_set_msg(saio, m);
	baton_nng_send_opts so = {.destination = "jobs"};
	baton_nng_send_aio(tx, saio, &so);
	nng_aio_wait(saio);
	cr_assert_eq(baton_nng_send_aio_result(saio), 0);
	nng_aio_wait(r.aio);
	cr_assert_eq(r.rv, 0);
	cr_assert_eq(nng_msg_len(r.msg), 5);
	cr_assert_eq(memcmp(nng_msg_body(r.msg), "async", 5), 0);
	cr_assert(r.recording_in_handler, "the handler ran outside the consumer span");
	cr_assert_eq(r.info.span.id, BATON_SPAN_NONE.id);
	nng_msg_free(r.msg);
	tu_memory_span p, c;
	cr_assert_geq(nu_find(mem, BATON_SPAN_KIND_PRODUCER, "send jobs", &p), 0);
	cr_assert_geq(nu_find(mem, BATON_SPAN_KIND_CONSUMER, NULL, &c), 0);
	cr_assert_arr_eq(c.parent.span_id, p.context.span_id, 8);
	nng_aio_free(r.aio);
	nng_aio_free(saio);
	close_pair();
	baton_fini(1000);
}

/* A batch of messages from three traces: one consumer span linking each producer. */
Test(nng_modes, a_batch_span_links_every_sampled_producer)
{
	tu_memory_exporter *mem = tu_init_memory(pb_on(), 16);
	open_pair();
	cr_assert_eq(nng_socket_set_int(tx, NNG_OPT_SENDBUF, 16), 0);
	cr_assert_eq(nng_socket_set_int(rx, NNG_OPT_RECVBUF, 16), 0);
	baton_nng_send_opts so = {.start_flags = BATON_START_ROOT};
	for (int i = 0; i < 3; i++)
		cr_assert_eq(baton_nng_send(tx, "item", 4, 0, &so), 0);
	baton_span_context ctxs[3];
	baton_nng_recv_opts ro = {.flags = BATON_NNG_RECV_NO_SPAN};
	for (int i = 0; i < 3; i++) {
		nng_msg *m;
		baton_nng_recv_info info;
		cr_assert_eq(baton_nng_recvmsg(rx, &m, 0, &ro, &info), 0);
		cr_assert_eq(nng_msg_len(m), 4);
		cr_assert_eq(info.span.id, BATON_SPAN_NONE.id);
		cr_assert(baton_span_context_is_sampled(&info.context));
		ctxs[i] = info.context;
		nng_msg_free(m);
	}
	baton_span b = baton_nng_batch_start(ctxs, 3, "items");
	cr_assert(baton_span_is_recording(b));
	baton_span_end(b);
	cr_assert_eq(nu_count(mem, BATON_SPAN_KIND_PRODUCER), 3);
	cr_assert_eq(nu_count(mem, BATON_SPAN_KIND_CONSUMER), 1);
	tu_memory_span c, p;
	cr_assert_geq(nu_find(mem, BATON_SPAN_KIND_CONSUMER, NULL, &c), 0);
	cr_assert_str_eq(c.name, "process items");
	cr_assert_eq(c.nlinks, 3);
	cr_assert(nu_has_attr(&c, "messaging.batch.message_count", "3"));
	cr_assert_geq(nu_find(mem, BATON_SPAN_KIND_PRODUCER, NULL, &p), 0);
	cr_assert_arr_eq(c.first_link.span_id, p.context.span_id, 8);
	cr_assert_arr_eq(c.first_link.trace_id, p.context.trace_id, 16);
	close_pair();
	baton_fini(1000);
}
