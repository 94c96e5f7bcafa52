/*
 * Fuzz target for the message layer's receive path, baton_msg_recv_open(),
 * on its own (no transport). Invariants, for every message opened:
 * - the buffer is never modified; the payload handed back is exactly the
 *   bytes after the envelope that baton_envelope_unwrap_ex() accepts (or
 *   the whole buffer), inside the input and ending at its end;
 * - only a strict receiver refuses, only what the codec refuses, with the
 *   codec's error; every message is counted once in baton_msg_stats, by
 *   reason when it has no valid envelope, and dropped text extensions are
 *   counted;
 * - a message without a valid envelope, or decided "not sampled", or
 *   dropped by the fanout keep draw, starts no span and gives the
 *   processor nothing; a receiver draws only for a recipient count, with
 *   the installed policy's probability, never for a fanout the sender drew;
 * - a consumer span continues the envelope's trace (trace id, parent span
 *   id), carries its name, valid UTF-8 strings, the payload size and a
 *   SampleRate that includes the keep probability; tracestate and baggage
 *   come out inside the envelope, NUL-terminated, within the W3C limits
 *   and without a tab or a space at either end, and the baggage a handler
 *   sees is the message's and no other;
 * - every span record started is released again.
 * The first input byte chooses the receive flags and the mode: raw bytes
 * (optionally with the check words fixed up), or a message built by the
 * SDK's own send path from the rest of the input (one send, a pub/sub
 * recipient count, or a fanout of several wraps), whose every wrap is
 * received and checked against what the sender decided.
 */
#include <baton/baggage.h>
#include <baton/baton.h>
#include <baton/envelope.h>
#include <baton/message.h>
#include <baton/sampling.h>
#include <baton/w3c.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope_reseal.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                         \
	do {                                                                             \
		if (!(c)) {                                                              \
			fprintf(stderr, "invariant failed, line %d: %s\n", __LINE__,     \
			        #c);                                                     \
			__builtin_trap();                                                \
		}                                                                        \
	} while (0)

/* ---- a counting processor that checks each span it is given ---- */

/* What the span of the message being received must look like. */
static struct {
	bool armed;
	uint8_t trace_id[BATON_TRACE_ID_SIZE];
	uint8_t parent_span_id[BATON_SPAN_ID_SIZE];
	size_t payload_len;
	uint64_t recipients;
	double sample_rate; /* 0: no SampleRate expected to check */
} expect;
static uint64_t ended;

static bool text_ok(const char *s, size_t n)
{
	return bt_utf8_valid_prefix(s, n) == n;
}

/* The canonical form of a tracestate: W3C grammar and limits, no tab, no
 * space at either end. */
static void check_tracestate(const char *ts, size_t n, bool no_ot)
{
	char buf[BATON_TRACESTATE_SIZE];
	baton_tracestate t;
	CHECK(n > 0 && n <= BATON_TRACESTATE_MAX_LEN && strlen(ts) == n);
	CHECK(memchr(ts, '\t', n) == NULL && ts[0] != ' ' && ts[n - 1] != ' ');
	baton_tracestate_init(&t, buf, sizeof(buf));
	CHECK(baton_tracestate_parse(&t, ts, n) == BATON_OK);
	CHECK(baton_tracestate_count(&t) <= BATON_TRACESTATE_MAX_MEMBERS);
	if (no_ot)
		CHECK(baton_tracestate_get(&t, "ot", NULL) == NULL);
}

/* A baggage-string as the envelope may hand it out: the W3C grammar, within
 * the limits (nothing left out when parsed). */
static void check_baggage(const char *b, size_t n)
{
	static char buf[BATON_BAGGAGE_BUF_SIZE];
	static baton_baggage bg;
	CHECK(n > 0 && n <= BATON_BAGGAGE_MAX_LEN && strlen(b) == n);
	baton_baggage_init(&bg, buf, sizeof(buf));
	CHECK(baton_baggage_parse(&bg, b, n) == BATON_OK);
	CHECK(bg.dropped == 0 && baton_baggage_count(&bg) <= BATON_BAGGAGE_MAX_MEMBERS);
}

/* Whether ts is a tracestate in the form check_tracestate() wants. */
static bool tracestate_canonical(const char *ts)
{
	char buf[BATON_TRACESTATE_SIZE];
	baton_tracestate t;
	size_t n = ts != NULL ? strlen(ts) : 0;
	if (n == 0 || n > BATON_TRACESTATE_MAX_LEN || memchr(ts, '\t', n) != NULL ||
	    ts[0] == ' ' || ts[n - 1] == ' ')
		return false;
	baton_tracestate_init(&t, buf, sizeof(buf));
	return baton_tracestate_parse(&t, ts, n) == BATON_OK &&
	       baton_tracestate_get(&t, "ot", NULL) == NULL;
}

/* Whether b is a baggage-string within the limits. */
static bool baggage_fits(const char *b)
{
	static char buf[BATON_BAGGAGE_BUF_SIZE];
	static baton_baggage bg;
	size_t n = strlen(b);
	if (n == 0 || n > BATON_BAGGAGE_MAX_LEN)
		return false;
	baton_baggage_init(&bg, buf, sizeof(buf));
	return baton_baggage_parse(&bg, b, n) == BATON_OK && bg.dropped == 0 &&
	       baton_baggage_count(&bg) > 0;
}

static bool ows(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * The baggage a handler sees, as baton formats it: no white space at either
 * end or around a member; keys are tokens and values percent-encoded, so
 * white space can only be inside properties, which are kept as written
 * (baton/baggage.h); formatting it again gives the same text.
 */
static void check_baggage_canonical(const char *b, size_t n)
{
	static char buf[BATON_BAGGAGE_BUF_SIZE], again[BATON_BAGGAGE_SIZE];
	static baton_baggage bg;
	size_t len = 0;
	check_baggage(b, n);
	CHECK(!ows(b[0]) && !ows(b[n - 1]));
	baton_baggage_init(&bg, buf, sizeof(buf));
	CHECK(baton_baggage_parse(&bg, b, n) == BATON_OK);
	for (size_t i = 0; i < baton_baggage_count(&bg); i++) {
		baton_baggage_entry e;
		CHECK(baton_baggage_entry_get(&bg, i, &e) == BATON_OK);
		CHECK(memchr(e.key, ' ', e.key_len) == NULL &&
		      memchr(e.key, '\t', e.key_len) == NULL);
		CHECK(
		    e.properties_len == 0 ||
		    (!ows(e.properties[0]) && !ows(e.properties[e.properties_len - 1])));
		CHECK(text_ok(e.value, e.value_len));
	}
	CHECK(baton_baggage_format(&bg, again, sizeof(again), &len) == BATON_OK);
	CHECK(len == n && memcmp(again, b, n) == 0);
	/* outside properties, no white space at all */
	for (size_t i = 0, props = 0; i < n; i++) {
		if (b[i] == ',')
			props = 0;
		else if (b[i] == ';')
			props = 1;
		else if (!props)
			CHECK(!ows(b[i]));
	}
}

static void on_end(void *arg, const baton_span_data *d)
{
	(void)arg;
	if (d->kind == BATON_SPAN_KIND_PRODUCER) {
		/* the sender's span of a message built by the send path */
		CHECK(!expect.armed && strcmp(d->name, "send fuzz") == 0);
		baton_span_data_release(d);
		return;
	}
	ended++;
	CHECK(expect.armed);
	CHECK(d->kind == BATON_SPAN_KIND_CONSUMER);
	CHECK(strcmp(d->name, "process fuzz") == 0);
	CHECK(memcmp(d->context.trace_id, expect.trace_id, BATON_TRACE_ID_SIZE) == 0);
	CHECK(memcmp(d->parent.trace_id, expect.trace_id, BATON_TRACE_ID_SIZE) == 0);
	CHECK(memcmp(d->parent.span_id, expect.parent_span_id, BATON_SPAN_ID_SIZE) == 0);
	CHECK(d->context.trace_flags & BATON_FLAG_SAMPLED);
	if (d->context.tracestate != NULL && d->context.tracestate[0] != '\0')
		check_tracestate(d->context.tracestate, strlen(d->context.tracestate),
		                 false);
	bool body = false, dest = false, rcpt = expect.recipients == 0, rate = false;
	for (const baton_attr *a = d->attrs; a != NULL; a = a->next) {
		CHECK(text_ok(a->key, strlen(a->key)));
		if (a->value.type == BATON_VALUE_STRING)
			CHECK(text_ok(a->value.u.s, a->value.len));
		if (strcmp(a->key, "messaging.message.body.size") == 0)
			body = a->value.type == BATON_VALUE_INT &&
			       a->value.u.i == (int64_t)expect.payload_len;
		if (strcmp(a->key, "messaging.destination.name") == 0)
			dest = a->value.type == BATON_VALUE_STRING && a->value.len == 4 &&
			       memcmp(a->value.u.s, "fuzz", 4) == 0;
		if (strcmp(a->key, "baton.fanout.recipients") == 0)
			rcpt = a->value.type == BATON_VALUE_INT &&
			       (uint64_t)a->value.u.i == expect.recipients;
		if (strcmp(a->key, "SampleRate") == 0 && expect.sample_rate > 0) {
			double v = a->value.type == BATON_VALUE_INT ? (double)a->value.u.i
			                                            : a->value.u.d;
			CHECK(fabs(v - expect.sample_rate) <=
			      1e-3 * expect.sample_rate + 0.5);
		}
		rate |= strcmp(a->key, "SampleRate") == 0;
	}
	CHECK(body && dest && rcpt);
	if (expect.sample_rate > 1.0)
		CHECK(rate);
	baton_span_data_release(d);
}

static const baton_processor_ops counting_ops = {
    .size = sizeof(baton_processor_ops), .name = "fuzz_count", .on_end = on_end};

static void setup(void)
{
	static bool done;
	baton_sampler pb;
	baton_fanout_policy *fp;
	if (done)
		return;
	/* Small counts are drawn often: 2 recipients keep half, 64 keep 1%. */
	const baton_fanout_point pts[] = {{1, 1.0}, {2, 0.5}, {64, 0.01}};
	if (baton_sampler_parentbased(baton_sampler_always_on(), &pb) != BATON_OK ||
	    baton_fanout_policy_create(pts, 3, &fp) != BATON_OK)
		abort();
	baton_processor proc = {&counting_ops, NULL};
	baton_options o = {.size = sizeof(o),
	                   .sampler = pb,
	                   .processors = &proc,
	                   .nprocessors = 1,
	                   .propagate_unsampled_ids = true,
	                   .ignore_disabled_env = true,
	                   .fanout_policy = fp};
	if (baton_init(&o) != BATON_OK)
		abort();
	done = true;
}

/* ---- receiving one message ---- */

static int handler(void *arg)
{
	const baton_msg_recv *r = arg;
	size_t n = 0;
	const char *cur = baton_baggage_current_header(&n);
	/* The message's baggage and no other, in canonical form. */
	if (r->baggage == NULL) {
		CHECK(cur == NULL);
	} else {
		CHECK(cur != NULL);
		check_baggage_canonical(cur, n);
	}
	return 0;
}

static uint64_t stat_sum(const baton_msg_stats *s)
{
	return s->no_envelope + s->truncated + s->malformed + s->version + s->too_big;
}

/*
 * Opens the len bytes at m as a receiver with flags would and checks every
 * invariant. Returns whether a consumer span was recorded (and exported).
 */
static bool recv_one(const uint8_t *m, size_t len, uint32_t flags, bool use_process)
{
	uint8_t *copy = malloc(len ? len : 1);
	memcpy(copy, m, len);
	uint32_t rflags =
	    (flags & (BATON_MSG_STRICT | BATON_MSG_READ_V1)) ? BATON_ENV_READ_V1 : 0;
	baton_envelope env;
	baton_err ur =
	    len == 0 ? BATON_ENOENV : baton_envelope_unwrap_ex(m, len, rflags, &env);
	baton_msg_stats before, after;
	baton_sdk_stats sb, sa;
	baton_msg_stats_get(&before);
	baton_sdk_stats_get(&sb);
	uint64_t ended_before = ended;

	baton_msg_recv_opts ro = {.destination = "fuzz", .flags = flags};
	baton_msg_recv r;
	baton_err rv = baton_msg_recv_open(m, len, &ro, &r);
	baton_msg_stats_get(&after);

	/* never modified */
	CHECK(memcmp(copy, m, len) == 0);
	const uint8_t *pl = r.payload;
	if (ur != BATON_OK) {
		/* refused (strict) or bare (mixed), with the codec's reason, counted */
		CHECK(rv == ((flags & BATON_MSG_STRICT) ? ur : BATON_OK));
		CHECK(r.envelope == ur && r.envelope_size == 0);
		CHECK(pl == m && r.payload_len == len);
		CHECK(!baton_span_is_recording(r.span));
		CHECK(r.baggage == NULL && r.tracestate == NULL);
		CHECK(!(r.context.state & BATON_CTX_VALID));
		CHECK(stat_sum(&after) == stat_sum(&before) + 1);
		uint64_t by = 0;
		switch (ur) {
		case BATON_ENOENV:
			by = after.no_envelope - before.no_envelope;
			break;
		case BATON_ETRUNCATED:
			by = after.truncated - before.truncated;
			break;
		case BATON_EFORMAT:
			by = after.malformed - before.malformed;
			break;
		case BATON_EVERSION:
			by = after.version - before.version;
			break;
		case BATON_ETOOBIG:
			by = after.too_big - before.too_big;
			break;
		default:
			CHECK(0);
		}
		CHECK(by == 1);
		CHECK(after.stripped == before.stripped);
		if (flags & BATON_MSG_STRICT)
			CHECK(after.refused == before.refused + 1 &&
			      after.passed_through == before.passed_through);
		else
			CHECK(after.passed_through == before.passed_through + 1 &&
			      after.refused == before.refused);
	} else {
		CHECK(rv == BATON_OK && r.envelope == BATON_OK);
		CHECK(r.envelope_size == env.length && env.length <= len);
		CHECK(pl == m + env.length && r.payload_len == len - env.length);
		CHECK(stat_sum(&after) == stat_sum(&before));
		CHECK(after.stripped == before.stripped + 1);
		CHECK(after.refused == before.refused &&
		      after.passed_through == before.passed_through);
		CHECK(after.tracestate_dropped - before.tracestate_dropped ==
		      ((env.dropped & BATON_ENV_DROPPED_TRACESTATE) ? 1u : 0u));
		CHECK(after.baggage_dropped - before.baggage_dropped ==
		      ((env.dropped & BATON_ENV_DROPPED_BAGGAGE) ? 1u : 0u));
		CHECK(memcmp(r.context.trace_id, env.ctx.trace_id, BATON_TRACE_ID_SIZE) ==
		      0);
		CHECK(memcmp(r.context.span_id, env.ctx.span_id, BATON_SPAN_ID_SIZE) ==
		      0);
		CHECK((r.context.state & BATON_CTX_VALID) ==
		      (env.ctx.state & BATON_CTX_VALID));
		CHECK(r.context.state & BATON_CTX_DECIDED);
		if (r.tracestate != NULL) {
			CHECK((const uint8_t *)r.tracestate >= m &&
			      (const uint8_t *)r.tracestate + r.tracestate_len <
			          m + env.length);
			CHECK(r.context.tracestate == r.tracestate);
			check_tracestate(r.tracestate, r.tracestate_len, true);
		}
		if (r.baggage != NULL) {
			CHECK((const uint8_t *)r.baggage >= m &&
			      (const uint8_t *)r.baggage + r.baggage_len <
			          m + env.length);
			check_baggage(r.baggage, r.baggage_len);
		}
	}
	/* the payload lies inside the input and ends where it ends */
	CHECK(pl >= m && r.payload_len <= len && pl + r.payload_len == m + len);

	/* the fanout decision: drawn by the receiver only for a recipient count */
	bool env_sampled = ur == BATON_OK && (env.flags & BATON_ENV_F_SAMPLED);
	bool kept = env_sampled;
	if (env_sampled && env.recipients != 0) {
		double k = baton_fanout_keep_probability(NULL, env.recipients);
		CHECK(r.keep == k && k > 0.0 && k <= 1.0);
		kept = (r.context.trace_flags & BATON_FLAG_SAMPLED) != 0;
		if (k >= 1.0)
			CHECK(kept);
	} else {
		CHECK(r.keep == 1.0);
		CHECK(((r.context.trace_flags & BATON_FLAG_SAMPLED) != 0) == env_sampled);
	}
	if (ur == BATON_OK)
		CHECK(r.recipients ==
		      (env.recipients != 0 ? env.recipients : env.fanout_applied));

	if (flags & BATON_MSG_NO_SPAN) {
		CHECK(!baton_span_is_recording(r.span));
		baton_msg_recv_start_span(&r, &ro);
	}
	bool recording = baton_span_is_recording(r.span);
	/* a span only for a sampled, kept message; never for anything else */
	CHECK(recording == kept);
	baton_sdk_stats_get(&sa);
	CHECK(sa.spans_started == sb.spans_started + (recording ? 1 : 0));

	if (recording) {
		expect.armed = true;
		memcpy(expect.trace_id, env.ctx.trace_id, BATON_TRACE_ID_SIZE);
		memcpy(expect.parent_span_id, env.ctx.span_id, BATON_SPAN_ID_SIZE);
		expect.payload_len = r.payload_len;
		expect.recipients = r.recipients;
		double ac = baton_span_context_adjusted_count(&env.ctx) / r.keep;
		expect.sample_rate =
		    ac < 1e9 && (env.ctx.threshold != 0 || r.keep < 1.0) ? ac : 0;
	}
	if (use_process) {
		CHECK(baton_msg_process(&r, handler, &r) == 0);
	} else {
		uint32_t tok = baton_msg_attach(&r);
		handler(&r);
		if (tok != 0)
			baton_span_detach(tok);
		baton_span_end(r.span);
	}
	expect.armed = false;
	/* the thread's baggage is its own again */
	CHECK(baton_baggage_current_header(NULL) == NULL);
	/* exported exactly when recorded; every record returned */
	CHECK(ended == ended_before + (recording ? 1 : 0));
	baton_sdk_stats_get(&sa);
	CHECK(sa.spans_live == sb.spans_live);
	free(copy);
	return recording;
}

/* ---- messages built by the send path ---- */

/*
 * Input after the control byte: f (send flags), w (wraps, count shift),
 * 7 threshold bytes, then "tracestate\0baggage\0payload".
 */
static void send_and_receive(const uint8_t *d, size_t n, uint8_t ctl, uint32_t rflags)
{
	if (n < 9)
		return;
	uint8_t f = d[0], w = d[1];
	uint64_t th = 0;
	for (int i = 0; i < 7; i++)
		th = th << 8 | d[2 + i];
	d += 9;
	n -= 9;
	/* NUL-terminated copies of the text fields; the rest is the payload */
	char *ts = calloc(n + 1, 1), *bg = calloc(n + 1, 1);
	size_t i = 0, k = 0;
	while (i < n && d[i] != 0)
		ts[k++] = (char)d[i++];
	i += i < n;
	k = 0;
	while (i < n && d[i] != 0)
		bg[k++] = (char)d[i++];
	i += i < n;
	const uint8_t *payload = d + i;
	size_t plen = n - i;

	baton_span_context parent = {
	    .trace_id = {0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92,
	                 0x9d, 0x0e, 0x0e, 0x47, (uint8_t)(w | 1)},
	    .span_id = {0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
	    .trace_flags =
	        (uint8_t)(((f & 1) ? BATON_FLAG_SAMPLED : 0) | BATON_FLAG_RANDOM),
	    .state = BATON_CTX_REMOTE | BATON_CTX_DECIDED,
	    .tracestate = ts[0] != '\0' ? ts : NULL};
	if (f & 2)
		parent.state |= BATON_CTX_VALID;
	if ((f & 4) && th < BATON_TH_MAX) {
		parent.state |= BATON_CTX_HAS_TH;
		parent.threshold = th;
	}
	unsigned wraps = 1 + (w & 7);
	uint64_t count = (uint64_t)1 << ((w >> 3) & 15);
	baton_msg_send_opts so = {.destination = "fuzz",
	                          .parent = (f & 0x80) ? NULL : &parent,
	                          .start_flags = (f & 0x80) ? BATON_START_ROOT : 0,
	                          .flags = ((f & 8) ? BATON_MSG_NO_TRACESTATE : 0) |
	                                   ((f & 0x10) ? BATON_MSG_NO_BAGGAGE : 0) |
	                                   ((f & 0x20) ? BATON_MSG_BODY_SIZE : 0) |
	                                   ((f & 0x40) ? BATON_MSG_NO_UNSAMPLED_IDS : 0),
	                          .baggage = bg,
	                          .body_size = plen};
	/* ctl bits 4-5: 2 one send; 3 a fanout (w & 0x80) or a recipient count */
	bool fanout = ((ctl >> 4) & 3) == 3 && (w & 0x80);
	if (((ctl >> 4) & 3) == 3) {
		if (fanout)
			so.fanout = count;
		else
			so.recipients = count;
	} else {
		wraps = 1;
	}

	baton_msg_send s;
	CHECK(baton_msg_send_begin(&s, &so) == BATON_OK);
	size_t need = baton_msg_send_size(&s);
	CHECK(need >= BATON_ENVELOPE_UNSAMPLED_SIZE && need <= BATON_ENVELOPE_MAX);
	bool sender_sampled = baton_span_context_is_sampled(&s.context);
	uint64_t nkept = 0;
	for (unsigned j = 0; j < wraps; j++) {
		uint8_t *msg = malloc(need + plen);
		size_t wn = 0;
		if (ctl & 0x80) {
			if (plen > 0)
				memcpy(msg + need, payload, plen);
			CHECK(baton_msg_send_wrap_before(&s, msg + need, need, &wn) ==
			      BATON_OK);
			CHECK(wn <= need);
			memmove(msg, msg + need - wn, wn + plen);
		} else {
			CHECK(baton_msg_send_wrap(&s, msg, need, &wn) == BATON_OK);
			CHECK(wn <= need);
			if (plen > 0)
				memcpy(msg + wn, payload, plen);
		}
		nkept += s.kept;
		/* a sampled envelope exactly for a kept recipient of a sampled send */
		baton_envelope env;
		CHECK(baton_envelope_unwrap(msg, wn + plen, &env) == BATON_OK);
		CHECK(env.length == wn);
		bool env_sampled = (env.flags & BATON_ENV_F_SAMPLED) != 0;
		CHECK(s.kept == env_sampled);
		CHECK(!env_sampled || sender_sampled);
		if (!fanout)
			CHECK(env_sampled == sender_sampled);
		if (env_sampled) {
			CHECK(memcmp(env.ctx.trace_id, s.context.trace_id,
			             BATON_TRACE_ID_SIZE) == 0);
			CHECK(memcmp(env.ctx.span_id, s.context.span_id,
			             BATON_SPAN_ID_SIZE) == 0);
			CHECK(env.fanout_applied == (fanout ? count : 0));
			CHECK(env.recipients == (fanout ? 0 : so.recipients));
		}
		/* what the sender meant to carry arrives, when it is valid */
		bool bg_sent = !(so.flags & BATON_MSG_NO_BAGGAGE) && bg[0] != '\0';
		if (env.baggage != NULL)
			CHECK(bg_sent && strcmp(env.baggage, bg) == 0);
		if (env.ctx.tracestate != NULL)
			CHECK(!(so.flags & BATON_MSG_NO_TRACESTATE) &&
			      s.context.tracestate != NULL &&
			      strcmp(env.ctx.tracestate, s.context.tracestate) == 0);
		/* valid text that fits is carried whole */
		bool small = strlen(bg) + strlen(ts) < 4096;
		if (bg_sent && small && baggage_fits(bg))
			CHECK(env.baggage != NULL);
		if ((env.flags & BATON_ENV_F_IDS) &&
		    !(so.flags & BATON_MSG_NO_TRACESTATE) && small &&
		    tracestate_canonical(s.context.tracestate))
			CHECK(env.ctx.tracestate != NULL);
		bool rec = recv_one(msg, wn + plen, rflags, (ctl & 0x40) != 0);
		/* a recipient the sender did not keep never gets a span */
		if (!s.kept)
			CHECK(!rec);
		else if (fanout || so.recipients == 0)
			CHECK(rec || (rflags & BATON_MSG_NO_SPAN));
		/* the payload arrives unchanged after the envelope */
		baton_msg_recv r;
		CHECK(baton_msg_recv_open(
		          msg, wn + plen,
		          &(baton_msg_recv_opts){.flags = BATON_MSG_NO_SPAN},
		          &r) == BATON_OK);
		CHECK(r.payload_len == plen && r.envelope_size == wn);
		CHECK(plen == 0 || memcmp(r.payload, payload, plen) == 0);
		free(msg);
	}
	CHECK(s.nkept == nkept);
	if (!fanout)
		CHECK(nkept == (sender_sampled ? wraps : 0));
	baton_msg_send_end(&s, NULL);
	free(ts);
	free(bg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	setup();
	uint8_t ctl = data[0];
	data++;
	size--;
	uint32_t flags = ((ctl & 1) ? BATON_MSG_STRICT : 0) |
	                 ((ctl & 2) ? BATON_MSG_READ_V1 : 0) |
	                 ((ctl & 4) ? BATON_MSG_NO_SPAN : 0);
	if (((ctl >> 4) & 3) >= 2) {
		send_and_receive(data, size, ctl, flags);
		return 0;
	}
	uint8_t *in = malloc(size ? size : 1);
	memcpy(in, data, size);
	if (ctl & 8)
		fz_envelope_reseal(in, size);
	recv_one(in, size, flags, (ctl & 0x40) != 0);
	free(in);
	return 0;
}
