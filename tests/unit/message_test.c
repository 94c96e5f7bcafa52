/*
 * The message layer (baton/message.h): a message as a hop of a trace for
 * any runtime, with no transport. Handler context of unsampled messages,
 * the fanout decision drawn once, baggage and tracestate, batches,
 * per-recipient decisions, the unsampled strip from the first 8 bytes,
 * hostile input, and the counters that moved out of the codec.
 */
#include <baton/baton.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "memory_exporter.h"
#include "testutil.h"

static baton_sampler parentbased(bool on)
{
	baton_sampler pb;
	cr_assert_eq(baton_sampler_parentbased(on ? baton_sampler_always_on()
	                                          : baton_sampler_always_off(),
	                                       &pb),
	             BATON_OK);
	return pb;
}

static void fini(void)
{
	baton_fini(1000);
}

/* Sends one message (payload "hello") with opts into m; returns its length. */
static size_t send_one(const baton_msg_send_opts *opts, uint8_t *m, size_t cap)
{
	baton_msg_send s;
	size_t n = 0;
	cr_assert_eq(baton_msg_send_begin(&s, opts), BATON_OK);
	cr_assert_leq(baton_msg_send_size(&s) + 5, cap);
	cr_assert_eq(baton_msg_send_wrap(&s, m, cap, &n), BATON_OK);
	memcpy(m + n, "hello", 5);
	baton_msg_send_end(&s, NULL);
	return n + 5;
}

struct handled {
	bool span_recording;
	baton_span_context ctx;
	char bag[64];
};

/* A handler that starts a span of its own, as application code does. */
static int handler(void *arg)
{
	struct handled *h = arg;
	baton_span s = baton_span_start(baton_tracer_get("app", NULL), "handle");
	h->span_recording = baton_span_is_recording(s);
	baton_span_get_context(s, &h->ctx);
	const char *v = baton_baggage_get("k", NULL);
	snprintf(h->bag, sizeof(h->bag), "%s", v ? v : "");
	baton_span_end(s);
	return 0;
}

Test(message, unsampled_message_runs_its_handler_decided_not_sampled, .fini = fini)
{
	/* Roots are sampled: a handler span that became a root would record. */
	tu_memory_exporter *mem = tu_init_memory(parentbased(true), 64);
	baton_span_context no = {.state = BATON_CTX_DECIDED};
	baton_msg_send_opts so = {.parent = &no};
	uint8_t m[64];
	size_t len = send_one(&so, m, sizeof(m));
	cr_assert_eq(len, 8 + 5, "an unsampled message carries the 8-byte envelope");

	baton_msg_recv r;
	cr_assert_eq(baton_msg_recv_open(m, len, NULL, &r), BATON_OK);
	cr_assert(r.context.state & BATON_CTX_DECIDED);
	cr_assert_not(baton_span_context_is_sampled(&r.context));
	struct handled h = {0};
	cr_assert_eq(baton_msg_process(&r, handler, &h), 0);
	cr_assert_not(h.span_recording, "the handler's span follows the decision");
	cr_assert_eq(tu_memory_exporter_count(mem), 0, "no orphan root was exported");

	/* Outside the handler the thread is back to no context: a root records. */
	baton_span root = baton_span_start(baton_tracer_get("app", NULL), "root");
	cr_assert(baton_span_is_recording(root));
	baton_span_end(root);
}

Test(message, sampled_message_gets_a_consumer_span_child_of_the_producer, .fini = fini)
{
	tu_memory_exporter *mem = tu_init_memory(parentbased(true), 64);
	baton_msg_send_opts so = {.destination = "mailbox.42", .system = "actors"};
	uint8_t m[256];
	size_t len = send_one(&so, m, sizeof(m));
	baton_msg_recv_opts ro = {.destination = "mailbox.42", .system = "actors"};
	baton_msg_recv r;
	cr_assert_eq(baton_msg_recv_open(m, len, &ro, &r), BATON_OK);
	cr_assert(baton_span_is_recording(r.span));
	cr_assert_eq(r.payload_len, 5);
	cr_assert_eq(memcmp(r.payload, "hello", 5), 0);
	struct handled h = {0};
	cr_assert_eq(baton_msg_process(&r, handler, &h), 0);
	cr_assert(h.span_recording);
	cr_assert_eq(tu_memory_exporter_count(mem), 3);
	tu_memory_span prod, cons, app;
	tu_memory_exporter_get(mem, 0, &prod);
	tu_memory_exporter_get(mem, 1, &app);
	tu_memory_exporter_get(mem, 2, &cons);
	cr_assert_str_eq(prod.name, "send mailbox.42");
	cr_assert_str_eq(cons.name, "process mailbox.42");
	cr_assert_eq(prod.kind, BATON_SPAN_KIND_PRODUCER);
	cr_assert_eq(cons.kind, BATON_SPAN_KIND_CONSUMER);
	cr_assert_arr_eq(cons.parent.span_id, prod.context.span_id, 8);
	cr_assert_arr_eq(app.parent.span_id, cons.context.span_id, 8);
	cr_assert_arr_eq(app.context.trace_id, prod.context.trace_id, 16);
	cr_assert(strstr(cons.attrs_text, "messaging.system=actors") != NULL, "%s",
	          cons.attrs_text);
	cr_assert(strstr(cons.attrs_text, "messaging.message.body.size=5") != NULL, "%s",
	          cons.attrs_text);
}

/* A sampled envelope with a recipient count (pub/sub) into m; returns its length. */
static size_t pubsub_envelope(uint64_t n, uint8_t *m, size_t cap)
{
	baton_msg_send_opts so = {.recipients = n};
	return send_one(&so, m, cap);
}

Test(message, pubsub_receivers_draw_once_and_kept_spans_carry_sample_rate, .fini = fini)
{
	tu_memory_exporter *mem = tu_init_memory(parentbased(true), 8192);
	const uint64_t n = 100, msgs = 40; /* keep 0.1: about 400 of 4,000 */
	double keep = baton_fanout_keep_probability(NULL, n);
	uint64_t kept = 0;
	for (uint64_t i = 0; i < msgs; i++) {
		uint8_t m[128];
		size_t len = pubsub_envelope(n, m, sizeof(m));
		for (uint64_t r = 0; r < n; r++) {
			baton_msg_recv rc;
			cr_assert_eq(baton_msg_recv_open(m, len, NULL, &rc), BATON_OK);
			cr_assert_eq(rc.recipients, n);
			cr_assert(fabs(rc.keep - keep) < 1e-12);
			bool sampled = baton_span_context_is_sampled(&rc.context);
			cr_assert_eq(baton_span_is_recording(rc.span), sampled,
			             "kept by the draw means a span: no second draw");
			kept += sampled;
			struct handled h = {0};
			baton_msg_process(&rc, handler, &h);
			/* A dropped recipient's handler continues, never roots. */
			cr_assert_eq(h.span_recording, sampled);
		}
	}
	double ops = (double)(n * msgs), sd = sqrt(ops * keep * (1 - keep));
	cr_assert(fabs((double)kept - ops * keep) <= 6 * sd, "kept %llu",
	          (unsigned long long)kept);
	size_t cnt = tu_memory_exporter_count(mem);
	size_t consumers = 0;
	for (size_t i = 0; i < cnt; i++) {
		tu_memory_span ms;
		tu_memory_exporter_get(mem, i, &ms);
		if (ms.kind != BATON_SPAN_KIND_CONSUMER)
			continue;
		consumers++;
		cr_assert(fabs(ms.sample_rate - 1 / keep) < 1e-6, "SampleRate %g",
		          ms.sample_rate);
		cr_assert(strstr(ms.attrs_text, "baton.fanout.recipients=100") != NULL);
	}
	cr_assert_eq(consumers, kept);
}

Test(message, sender_fanout_decides_per_recipient_and_receivers_never_redraw,
     .fini = fini)
{
	tu_memory_exporter *mem = tu_init_memory(parentbased(true), 8192);
	const uint64_t n = 1000;
	double keep = baton_fanout_keep_probability(NULL, n);
	baton_msg_send_opts so = {.fanout = n, .destination = "group"};
	baton_msg_send s;
	cr_assert_eq(baton_msg_send_begin(&s, &so), BATON_OK);
	size_t cap = baton_msg_send_size(&s);
	cr_assert_gt(cap, 32);
	uint64_t kept = 0, consumers = 0;
	for (uint64_t i = 0; i < n; i++) {
		uint8_t m[256];
		size_t len = 0;
		cr_assert_eq(baton_msg_send_wrap(&s, m, cap, &len), BATON_OK);
		kept += s.kept;
		cr_assert_eq(len == 8, !s.kept,
		             "dropped recipients get the 8-byte envelope");
		baton_msg_recv r;
		cr_assert_eq(baton_msg_recv_open(m, len, NULL, &r), BATON_OK);
		if (s.kept) {
			cr_assert_eq(r.recipients, n);
			cr_assert_eq(r.keep, 1.0,
			             "the sender drew: the receiver does not");
			cr_assert(baton_span_is_recording(r.span));
			consumers++;
		}
		baton_span_end(r.span);
	}
	cr_assert_eq(s.nkept, kept);
	baton_msg_send_end(&s, NULL);
	double sd = sqrt(n * keep * (1 - keep));
	cr_assert(fabs((double)kept - n * keep) <= 6 * sd, "kept %llu of %llu",
	          (unsigned long long)kept, (unsigned long long)n);
	cr_assert_eq(consumers, kept);
	size_t cnt = tu_memory_exporter_count(mem);
	bool saw_producer = false;
	for (size_t i = 0; i < cnt; i++) {
		tu_memory_span ms;
		tu_memory_exporter_get(mem, i, &ms);
		if (ms.kind == BATON_SPAN_KIND_PRODUCER) {
			char want[64];
			snprintf(want, sizeof(want), "baton.fanout.kept=%llu",
			         (unsigned long long)kept);
			cr_assert(strstr(ms.attrs_text, want) != NULL, "%s",
			          ms.attrs_text);
			saw_producer = true;
			continue;
		}
		cr_assert(fabs(ms.sample_rate - 1 / keep) < 1e-6, "SampleRate %g",
		          ms.sample_rate);
	}
	cr_assert(saw_producer);
}

Test(message, baggage_and_tracestate_are_surfaced_to_the_receiver, .fini = fini)
{
	tu_init_memory(parentbased(true), 64);
	baton_span_context parent = {
	    .trace_flags = BATON_FLAG_SAMPLED | BATON_FLAG_RANDOM,
	    .state = BATON_CTX_VALID | BATON_CTX_DECIDED | BATON_CTX_REMOTE,
	    .tracestate = "vendor=abc,other=1"};
	baton_trace_id_generate(parent.trace_id);
	baton_span_id_generate(parent.span_id);
	baton_msg_send_opts so = {.parent = &parent, .baggage = "k=v,tenant=t1"};
	uint8_t m[256];
	size_t len = send_one(&so, m, sizeof(m));
	baton_msg_recv r;
	cr_assert_eq(baton_msg_recv_open(m, len, NULL, &r), BATON_OK);
	cr_assert_not_null(r.baggage);
	cr_assert_str_eq(r.baggage, "k=v,tenant=t1");
	cr_assert_eq(r.baggage_len, strlen("k=v,tenant=t1"));
	cr_assert_not_null(r.tracestate);
	cr_assert_str_eq(r.tracestate, "vendor=abc,other=1");
	cr_assert_eq(r.tracestate_len, strlen(r.tracestate));
	struct handled h = {0};
	baton_msg_process(&r, handler, &h);
	cr_assert_str_eq(h.bag, "v", "the handler runs with the message's baggage");

	/* An unsampled message carries baggage too, and still no ids. */
	baton_span_context no = {.state = BATON_CTX_DECIDED};
	baton_msg_send_opts so2 = {.parent = &no, .baggage = "k=w"};
	len = send_one(&so2, m, sizeof(m));
	cr_assert_eq(baton_msg_recv_open(m, len, NULL, &r), BATON_OK);
	cr_assert_not(baton_span_context_is_valid(&r.context));
	cr_assert_str_eq(r.baggage, "k=w");
	memset(&h, 0, sizeof(h));
	baton_msg_process(&r, handler, &h);
	cr_assert_str_eq(h.bag, "w");
	cr_assert_not(h.span_recording);
}

Test(message, batch_span_links_every_sampled_message, .fini = fini)
{
	tu_memory_exporter *mem = tu_init_memory(parentbased(true), 64);
	baton_span_context ctxs[4];
	uint8_t m[4][128];
	for (int i = 0; i < 4; i++) {
		baton_span_context no = {.state = BATON_CTX_DECIDED};
		baton_msg_send_opts so = {.parent = i == 2 ? &no : NULL,
		                          .start_flags = i == 2 ? 0 : BATON_START_ROOT};
		size_t len = send_one(&so, m[i], sizeof(m[i]));
		baton_msg_recv_opts ro = {.flags = BATON_MSG_NO_SPAN};
		baton_msg_recv r;
		cr_assert_eq(baton_msg_recv_open(m[i], len, &ro, &r), BATON_OK);
		cr_assert_eq(r.span.id, BATON_SPAN_NONE.id);
		ctxs[i] = r.context;
	}
	tu_memory_exporter_clear(mem);
	baton_msg_recv_opts ro = {.destination = "batch"};
	baton_span b = baton_msg_batch_start(ctxs, 4, &ro);
	cr_assert(baton_span_is_recording(b));
	baton_span_end(b);
	cr_assert_eq(tu_memory_exporter_count(mem), 1);
	tu_memory_span ms;
	tu_memory_exporter_get(mem, 0, &ms);
	cr_assert_eq(ms.nlinks, 3, "three sampled messages, one unsampled");
	cr_assert_arr_eq(ms.first_link.span_id, ctxs[0].span_id, 8);
	cr_assert(strstr(ms.attrs_text, "messaging.batch.message_count=4") != NULL);
	cr_assert_str_eq(ms.name, "process batch");
}

Test(message, unsampled_envelope_is_stripped_from_the_first_eight_bytes_only,
     .fini = fini)
{
	tu_init_memory(parentbased(false), 8);
	uint8_t m[8 + 3];
	baton_envelope_wrap_unsampled(m);
	memcpy(m + 8, "abc", 3);
	baton_msg_recv r;
	/* Exactly the envelope: an empty payload. */
	cr_assert_eq(baton_msg_recv_open(m, 8, NULL, &r), BATON_OK);
	cr_assert_eq(r.envelope_size, 8);
	cr_assert_eq(r.payload_len, 0);
	cr_assert_eq(baton_msg_recv_open(m, sizeof(m), NULL, &r), BATON_OK);
	cr_assert_eq((const uint8_t *)r.payload, m + 8);
	cr_assert_eq(r.payload_len, 3);
	/* Seven bytes of it are not the envelope: bare, untouched. */
	cr_assert_eq(baton_msg_recv_open(m, 7, NULL, &r), BATON_OK);
	cr_assert_neq(r.envelope, BATON_OK);
	cr_assert_eq((const uint8_t *)r.payload, m);
	cr_assert_eq(r.payload_len, 7);

	/* Sending ahead of a payload, into the head room in front of it. */
	uint8_t buf[64];
	memcpy(buf + 40, "payload", 7);
	baton_msg_send s;
	cr_assert_eq(baton_msg_send_begin(&s, NULL), BATON_OK);
	size_t n = 0;
	cr_assert_eq(baton_msg_send_wrap_before(&s, buf + 40, 4, &n), BATON_ENOSPACE);
	cr_assert_eq(baton_msg_send_wrap_before(&s, buf + 40, 40, &n), BATON_OK);
	baton_msg_send_end(&s, NULL);
	cr_assert_eq(n, 8);
	cr_assert_eq(baton_msg_recv_open(buf + 40 - n, n + 7, NULL, &r), BATON_OK);
	cr_assert_eq(r.payload_len, 7);
	cr_assert_eq(memcmp(r.payload, "payload", 7), 0);
}

Test(message, sampled_send_ahead_of_the_payload_round_trips, .fini = fini)
{
	tu_init_memory(parentbased(true), 8);
	uint8_t buf[256];
	memcpy(buf + 200, "payload", 7);
	baton_msg_send s;
	cr_assert_eq(baton_msg_send_begin(&s, &(baton_msg_send_opts){.baggage = "a=b"}),
	             BATON_OK);
	size_t need = baton_msg_send_size(&s), n = 0;
	cr_assert_eq(baton_msg_send_wrap_before(&s, buf + 200, need, &n), BATON_OK);
	cr_assert_eq(n, need);
	baton_msg_recv r;
	cr_assert_eq(baton_msg_recv_open(buf + 200 - n, n + 7, NULL, &r), BATON_OK);
	cr_assert(baton_span_context_is_sampled(&r.context));
	cr_assert_arr_eq(r.context.span_id, s.context.span_id, 8);
	cr_assert_str_eq(r.baggage, "a=b");
	baton_span_end(r.span);
	baton_msg_send_end(&s, NULL);
}

Test(message, hostile_input_leaves_the_payload_untouched_and_is_counted, .fini = fini)
{
	tu_init_memory(parentbased(true), 8);
	baton_msg_stats_reset();
	uint8_t good[128];
	size_t glen = send_one(NULL, good, sizeof(good));
	cr_assert_gt(glen, 32);
	struct {
		uint8_t m[128];
		size_t len;
	} cases[4];
	/* truncated: the sampled envelope cut short */
	memcpy(cases[0].m, good, glen);
	cases[0].len = 20;
	/* forged: a flipped id byte, so the check word no longer matches */
	memcpy(cases[1].m, good, glen);
	cases[1].m[10] ^= 0x40;
	cases[1].len = glen;
	/* bare: a payload that is no envelope */
	memcpy(cases[2].m, "{\"json\":1}", 10);
	cases[2].len = 10;
	/* too big: a stated extension length beyond the cap */
	uint8_t big[16] = {0xBA, 0x28, 8, 0, 0, 0, 0, 0, 0xFF, 0xFF};
	big[3] = tu_envelope_crc8(big);
	memcpy(cases[3].m, big, sizeof(big));
	cases[3].len = sizeof(big);
	for (int i = 0; i < 4; i++) {
		uint8_t copy[128];
		memcpy(copy, cases[i].m, cases[i].len);
		baton_msg_recv r;
		cr_assert_eq(baton_msg_recv_open(cases[i].m, cases[i].len, NULL, &r),
		             BATON_OK, "mixed mode delivers case %d bare", i);
		cr_assert_neq(r.envelope, BATON_OK);
		cr_assert_eq((const uint8_t *)r.payload, cases[i].m);
		cr_assert_eq(r.payload_len, cases[i].len);
		cr_assert_eq(r.envelope_size, 0);
		cr_assert_eq(r.span.id, BATON_SPAN_NONE.id);
		cr_assert_eq(memcmp(copy, cases[i].m, cases[i].len), 0);
		baton_msg_recv_opts strict = {.flags = BATON_MSG_STRICT};
		cr_assert_eq(baton_msg_recv_open(cases[i].m, cases[i].len, &strict, &r),
		             r.envelope, "strict mode refuses case %d", i);
	}
	baton_msg_stats st;
	baton_msg_stats_get(&st);
	cr_assert_eq(st.truncated, 2);
	cr_assert_eq(st.malformed, 2);
	cr_assert_eq(st.no_envelope, 2);
	cr_assert_eq(st.too_big, 2);
	cr_assert_eq(st.passed_through, 4);
	cr_assert_eq(st.refused, 4);
	cr_assert_eq(st.stripped, 0);
	baton_msg_recv r;
	cr_assert_eq(baton_msg_recv_open(good, glen, NULL, &r), BATON_OK);
	baton_span_end(r.span);
	baton_msg_stats_get(&st);
	cr_assert_eq(st.stripped, 1);
}

Test(message, text_that_breaks_its_grammar_is_dropped_and_counted, .fini = fini)
{
	tu_init_memory(parentbased(true), 8);
	baton_msg_stats_reset();
	uint8_t m[256], tid[16], sid[8];
	baton_trace_id_generate(tid);
	baton_span_id_generate(sid);
	size_t n =
	    tu_envelope_forge_text(m, tid, sid, BATON_ENV_EXT_BAGGAGE, "a=b\x1b", 4);
	baton_msg_recv r;
	cr_assert_eq(baton_msg_recv_open(m, n, NULL, &r), BATON_OK);
	cr_assert_null(r.baggage);
	cr_assert(baton_span_context_is_valid(&r.context), "the rest is kept");
	baton_span_end(r.span);
	n = tu_envelope_forge_text(m, tid, sid, BATON_ENV_EXT_TRACESTATE, "ot=th:0", 7);
	cr_assert_eq(baton_msg_recv_open(m, n, NULL, &r), BATON_OK);
	cr_assert_null(r.tracestate);
	baton_span_end(r.span);
	baton_msg_stats st;
	baton_msg_stats_get(&st);
	cr_assert_eq(st.baggage_dropped, 1);
	cr_assert_eq(st.tracestate_dropped, 1);
	cr_assert_eq(st.stripped, 2);
}

Test(message, sdk_option_propagate_unsampled_ids_is_applied_by_the_message_layer,
     .fini = fini)
{
	baton_options o = {.size = sizeof(o),
	                   .sampler = baton_sampler_always_off(),
	                   .propagate_unsampled_ids = true,
	                   .ignore_disabled_env = true};
	cr_assert_eq(baton_init(&o), BATON_OK);
	uint8_t m[128];
	size_t len = send_one(NULL, m, sizeof(m));
	cr_assert_eq(len, 32 + 5, "ids of the unsampled span travel");
	baton_msg_recv r;
	cr_assert_eq(baton_msg_recv_open(m, len, NULL, &r), BATON_OK);
	cr_assert(baton_span_context_is_valid(&r.context));
	cr_assert_not(baton_span_context_is_sampled(&r.context));
	baton_msg_send_opts so = {.flags = BATON_MSG_NO_UNSAMPLED_IDS};
	cr_assert_eq(send_one(&so, m, sizeof(m)), 8 + 5);
	uint64_t g = baton_msg_sdk_generation();
	baton_fini(100);
	cr_assert_neq(baton_msg_sdk_generation(), g);
	/* Without the SDK a send is unsampled and costs the 8-byte envelope. */
	cr_assert_eq(send_one(NULL, m, sizeof(m)), 8 + 5);
}

Test(message, null_arguments_are_einval)
{
	baton_msg_recv r;
	cr_assert_eq(baton_msg_send_begin(NULL, NULL), BATON_EINVAL);
	cr_assert_eq(baton_msg_recv_open(NULL, 4, NULL, &r), BATON_EINVAL);
	cr_assert_eq(baton_msg_recv_open("x", 1, NULL, NULL), BATON_EINVAL);
	cr_assert_eq(baton_msg_process(NULL, handler, NULL), -1);
	baton_msg_send_end(NULL, NULL);
	cr_assert_eq(baton_msg_send_size(NULL), 0);
}

Test(message, send_flags_leave_baggage_and_tracestate_out_and_names_are_cut, .fini = fini)
{
	tu_memory_exporter *mem = tu_init_memory(parentbased(true), 8);
	baton_span_context parent = {.trace_flags = BATON_FLAG_SAMPLED,
	                             .state = BATON_CTX_VALID | BATON_CTX_DECIDED,
	                             .tracestate = "vendor=abc"};
	baton_trace_id_generate(parent.trace_id);
	baton_span_id_generate(parent.span_id);
	char dest[BATON_MSG_DEST_MAX + 40];
	memset(dest, 'd', sizeof(dest) - 1);
	dest[sizeof(dest) - 1] = '\0';
	baton_msg_send_opts so = {.parent = &parent,
	                          .baggage = "k=v",
	                          .destination = dest,
	                          .flags =
	                              BATON_MSG_NO_BAGGAGE | BATON_MSG_NO_TRACESTATE};
	uint8_t m[256];
	size_t len = send_one(&so, m, sizeof(m));
	baton_msg_recv_opts ro = {.flags = BATON_MSG_READ_V1 | BATON_MSG_NO_SPAN};
	baton_msg_recv r;
	cr_assert_eq(baton_msg_recv_open(m, len, &ro, &r), BATON_OK);
	cr_assert_null(r.baggage);
	cr_assert_null(r.tracestate);
	cr_assert(baton_span_context_is_sampled(&r.context));
	cr_assert_eq(r.span.id, BATON_SPAN_NONE.id);
	cr_assert(baton_span_is_recording(baton_msg_recv_start_span(&r, NULL)));
	baton_span_end(r.span);
	tu_memory_span ms;
	tu_memory_exporter_get(mem, 0, &ms);
	cr_assert_eq(strlen(ms.name), strlen("send ") + BATON_MSG_DEST_MAX);
	/* The old names of the counters still compile. */
	baton_envelope_stats st;
	baton_envelope_stats_reset();
	baton_envelope_stats_get(&st);
	cr_assert_eq(st.stripped, 0);
	cr_assert_eq(baton_envelope_sdk_generation(), baton_msg_sdk_generation());
}

struct hop {
	size_t len;     /* bytes of the envelope the handler's send wrote */
	char bag[64];   /* the baggage the next receiver saw */
	bool recording; /* the handler's producer span */
};

/* A handler that sends the next hop with no options (the current context). */
static int forward(void *arg)
{
	struct hop *h = arg;
	uint8_t m[256];
	baton_msg_send s;
	cr_assert_eq(baton_msg_send_begin(&s, NULL), BATON_OK);
	h->recording = baton_span_is_recording(s.span);
	cr_assert_eq(baton_msg_send_wrap(&s, m, sizeof(m), &h->len), BATON_OK);
	baton_msg_send_end(&s, NULL);
	memcpy(m + h->len, "hi", 2);
	baton_msg_recv r;
	cr_assert_eq(baton_msg_recv_open(m, h->len + 2, NULL, &r), BATON_OK);
	cr_assert_eq(r.payload_len, 2);
	snprintf(h->bag, sizeof(h->bag), "%.*s", (int)r.baggage_len,
	         r.baggage != NULL ? r.baggage : "");
	baton_span_end(r.span);
	return 0;
}

/*
 * The hop of an unsampled trace is the 8-byte envelope only when there is
 * nothing else to carry: the thread's baggage, given or current, still
 * travels, and a span of the handler's own is the parent, not the message.
 */
Test(message, unsampled_hops_carry_baggage_and_nothing_else, .fini = fini)
{
	tu_init_memory(parentbased(true), 64);
	baton_span_context no = {.state = BATON_CTX_DECIDED};
	uint8_t m[256];

	/* In the handler of an unsampled message without baggage: 8 bytes. */
	size_t len = send_one(&(baton_msg_send_opts){.parent = &no}, m, sizeof(m));
	cr_assert_eq(len, BATON_ENVELOPE_UNSAMPLED_SIZE + 5);
	baton_msg_recv r;
	cr_assert_eq(baton_msg_recv_open(m, len, NULL, &r), BATON_OK);
	struct hop h = {0};
	baton_msg_process(&r, forward, &h);
	cr_assert_eq(h.len, BATON_ENVELOPE_UNSAMPLED_SIZE);
	cr_assert_not(h.recording);
	cr_assert_str_eq(h.bag, "");

	/* With the message's baggage current: the next hop carries it. */
	len = send_one(&(baton_msg_send_opts){.parent = &no, .baggage = "k=v"}, m,
	               sizeof(m));
	cr_assert_eq(baton_msg_recv_open(m, len, NULL, &r), BATON_OK);
	memset(&h, 0, sizeof(h));
	baton_msg_process(&r, forward, &h);
	cr_assert_gt(h.len, BATON_ENVELOPE_UNSAMPLED_SIZE);
	cr_assert_str_eq(h.bag, "k=v");

	/* An explicit unsampled parent with baggage set on the thread. */
	cr_assert_eq(baton_baggage_set("tenant", "t1", NULL), BATON_OK);
	len = send_one(&(baton_msg_send_opts){.parent = &no}, m, sizeof(m));
	cr_assert_eq(baton_msg_recv_open(m, len, NULL, &r), BATON_OK);
	cr_assert_not_null(r.baggage);
	cr_assert_str_eq(r.baggage, "tenant=t1");
	/* ... unless the send says so, or the baggage given is empty. */
	len =
	    send_one(&(baton_msg_send_opts){.parent = &no, .flags = BATON_MSG_NO_BAGGAGE},
	             m, sizeof(m));
	cr_assert_eq(len, BATON_ENVELOPE_UNSAMPLED_SIZE + 5);
	len =
	    send_one(&(baton_msg_send_opts){.parent = &no, .baggage = ""}, m, sizeof(m));
	cr_assert_eq(len, BATON_ENVELOPE_UNSAMPLED_SIZE + 5);
	baton_baggage_clear();

	/* A sampled root of the handler's own under an unsampled message is
	 * the parent of the next hop. */
	cr_assert_eq(baton_msg_recv_open(m, len, NULL, &r), BATON_OK);
	uint32_t tok = baton_msg_attach(&r);
	baton_span own =
	    baton_span_start_ex(baton_tracer_get("app", NULL), "own",
	                        &(baton_span_start_opts){.flags = BATON_START_ROOT});
	cr_assert(baton_span_is_recording(own));
	uint32_t tok2 = baton_span_attach(own);
	memset(&h, 0, sizeof(h));
	forward(&h);
	cr_assert(h.recording, "the producer span is a child of the handler's span");
	cr_assert_gt(h.len, BATON_ENVELOPE_UNSAMPLED_SIZE);
	baton_span_detach(tok2);
	baton_span_end(own);
	baton_span_detach(tok);

	/* A root send is the sampler's decision, whatever the context. */
	tok = baton_context_attach(&no);
	baton_msg_send s;
	cr_assert_eq(baton_msg_send_begin(
	                 &s, &(baton_msg_send_opts){.start_flags = BATON_START_ROOT}),
	             BATON_OK);
	cr_assert(baton_span_is_recording(s.span));
	baton_msg_send_end(&s, NULL);
	baton_span_detach(tok);
}
