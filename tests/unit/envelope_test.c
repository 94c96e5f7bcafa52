/* The binary envelope: layout, round trips, forward compatibility, bad input. */
#include <baton/baton.h>
#include <baton/envelope.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"

static baton_span_context sampled_ctx(void)
{
	baton_span_context c;
	memset(&c, 0, sizeof(c));
	tu_hex("4bf92f3577b34da6a3ce929d0e0e4736", c.trace_id, 16);
	tu_hex("00f067aa0ba902b7", c.span_id, 8);
	c.trace_flags = BATON_FLAG_SAMPLED | BATON_FLAG_RANDOM;
	c.state = BATON_CTX_VALID | BATON_CTX_DECIDED;
	return c;
}

static size_t wrap(const baton_envelope *e, uint8_t *buf, size_t cap)
{
	size_t n = 0;
	cr_assert_eq(baton_envelope_wrap(e, buf, cap, &n), BATON_OK);
	cr_assert_eq(n, baton_envelope_size(e));
	return n;
}

Test(envelope, public_constants_have_their_documented_values)
{
	cr_assert_eq(BATON_ENVELOPE_MAGIC, 0xBA);
	cr_assert_eq(BATON_ENVELOPE_VERSION, 2);
	cr_assert_eq(BATON_ENVELOPE_UNSAMPLED_SIZE, 8);
	cr_assert_eq(BATON_ENVELOPE_SAMPLED_SIZE, 32);
	cr_assert_eq(BATON_ENVELOPE_MAX, 8192);
	cr_assert_eq(BATON_ENV_F_SAMPLED | BATON_ENV_F_RANDOM | BATON_ENV_F_IDS |
	                 BATON_ENV_F_EXT,
	             0x0F);
	cr_assert_eq(BATON_ENV_F_SAMPLED, BATON_FLAG_SAMPLED);
	cr_assert_eq(BATON_ENV_F_RANDOM, BATON_FLAG_RANDOM);
	int types[] = {BATON_ENV_EXT_RECIPIENTS, BATON_ENV_EXT_THRESHOLD,
	               BATON_ENV_EXT_TRACESTATE, BATON_ENV_EXT_BAGGAGE,
	               BATON_ENV_EXT_FANOUT_APPLIED};
	for (int i = 0; i < 5; i++)
		cr_assert_eq(types[i], i + 1);
	cr_assert_neq(BATON_ENV_WRAP_UNSAMPLED_IDS, BATON_ENV_WRAP_NO_UNSAMPLED_IDS);
	cr_assert_neq(BATON_ENV_WRAP_NO_TRACESTATE, 0);
	cr_assert_neq(BATON_ENV_READ_V1, 0);
	cr_assert_neq(BATON_ENV_DROPPED_TRACESTATE, BATON_ENV_DROPPED_BAGGAGE);
}

Test(envelope, unsampled_envelope_is_one_eight_byte_constant_without_ids)
{
	baton_envelope e = {0};
	e.ctx.state = BATON_CTX_DECIDED;
	uint8_t buf[64], fast[8];
	size_t n = wrap(&e, buf, sizeof(buf));
	cr_assert_eq(n, BATON_ENVELOPE_UNSAMPLED_SIZE);
	const uint8_t want[8] = {0xBA, 0x20, 0x08, 0xFB, 0x7B, 0x12, 0x9B, 0xCB};
	cr_assert_arr_eq(buf, want, 8);
	baton_envelope_wrap_unsampled(fast);
	cr_assert_arr_eq(fast, want, 8);
	/* The constant is what the layout says: header, its CRC-8, then the CRC-32C. */
	uint8_t built[8] = {0xBA, 0x20, 0x08};
	tu_envelope_seal(built, 8);
	cr_assert_arr_eq(built, want, 8);

	/* A context without any decision is written as unsampled too. */
	baton_envelope none = {0};
	cr_assert_eq(wrap(&none, buf, sizeof(buf)), 8);

	baton_envelope_header h;
	cr_assert_eq(baton_envelope_peek(buf, n, &h), BATON_OK);
	cr_assert_eq(h.length, 8);
	cr_assert_eq(h.flags & BATON_ENV_F_SAMPLED, 0);
	baton_envelope u;
	cr_assert_eq(baton_envelope_unwrap(buf, n, &u), BATON_OK);
	cr_assert_eq(u.ctx.state, BATON_CTX_REMOTE | BATON_CTX_DECIDED);
	cr_assert_not(baton_span_context_is_sampled(&u.ctx));
	cr_assert_not(baton_span_context_is_valid(&u.ctx));
}

Test(envelope, sampled_envelope_is_32_bytes_and_round_trips)
{
	baton_envelope e = {.ctx = sampled_ctx()};
	uint8_t buf[64];
	memset(buf, 0xEE, sizeof(buf));
	size_t n = wrap(&e, buf, sizeof(buf));
	cr_assert_eq(n, BATON_ENVELOPE_SAMPLED_SIZE);
	cr_assert_eq(buf[0], 0xBA);
	cr_assert_eq(buf[1], 0x27);
	cr_assert_eq(buf[2], 32);
	cr_assert_eq(buf[3], tu_envelope_crc8(buf));
	cr_assert_arr_eq(buf + 4, e.ctx.trace_id, 16);
	cr_assert_arr_eq(buf + 20, e.ctx.span_id, 8);
	uint8_t check[32];
	memcpy(check, buf, 32);
	tu_envelope_seal(check, 32);
	cr_assert_arr_eq(buf, check, 32, "the check word is the CRC-32C of the rest");
	cr_assert_eq(buf[32], 0xEE, "wrote past its length");

	baton_envelope_header h;
	cr_assert_eq(baton_envelope_peek(buf, sizeof(buf), &h), BATON_OK);
	cr_assert_eq(h.length, 32);
	cr_assert(h.flags & BATON_ENV_F_SAMPLED);

	baton_envelope u;
	cr_assert_eq(baton_envelope_unwrap(buf, sizeof(buf), &u), BATON_OK);
	cr_assert_eq(u.length, 32);
	cr_assert_eq(u.version, 2);
	cr_assert_arr_eq(u.ctx.trace_id, e.ctx.trace_id, 16);
	cr_assert_arr_eq(u.ctx.span_id, e.ctx.span_id, 8);
	cr_assert_eq(u.ctx.trace_flags, BATON_FLAG_SAMPLED | BATON_FLAG_RANDOM);
	cr_assert_eq(u.ctx.state, BATON_CTX_VALID | BATON_CTX_DECIDED | BATON_CTX_REMOTE);
	cr_assert_eq(u.recipients, 0);
	cr_assert_null(u.ctx.tracestate);
	cr_assert_null(u.baggage);
}

Test(envelope, threshold_is_written_without_trailing_zero_bytes)
{
	baton_envelope e = {.ctx = sampled_ctx()};
	e.ctx.state |= BATON_CTX_HAS_TH;
	e.ctx.threshold = 0xfd70a400000000ull; /* 1%: th:fd70a4 */
	uint8_t buf[64];
	size_t n = wrap(&e, buf, sizeof(buf));
	/* 32 + region length (1) + type (1) + length (1) + 3 bytes */
	cr_assert_eq(n, 38);
	cr_assert_eq(buf[1], 0x2F);
	const uint8_t ext[] = {5, 0x02, 3, 0xfd, 0x70, 0xa4};
	cr_assert_arr_eq(buf + 32, ext, sizeof(ext));
	baton_envelope u;
	cr_assert_eq(baton_envelope_unwrap(buf, n, &u), BATON_OK);
	cr_assert(u.ctx.state & BATON_CTX_HAS_TH);
	cr_assert_eq(u.ctx.threshold, 0xfd70a400000000ull);

	/* A 100% threshold is not written at all: the common case stays at 32 bytes. */
	e.ctx.threshold = 0;
	cr_assert_eq(wrap(&e, buf, sizeof(buf)), 32);
	/* A threshold with no trailing zero byte takes all 7. */
	e.ctx.threshold = baton_threshold_from_probability(0.1);
	n = wrap(&e, buf, sizeof(buf));
	cr_assert_eq(n, 32 + 3 + 7);
	cr_assert_eq(baton_envelope_unwrap(buf, n, &u), BATON_OK);
	cr_assert_eq(u.ctx.threshold, e.ctx.threshold);
	double ac = baton_span_context_adjusted_count(&u.ctx);
	cr_assert(ac > 9.999 && ac < 10.001, "adjusted count %f", ac);
}

Test(envelope, every_extension_round_trips_and_text_points_into_the_buffer)
{
	baton_envelope e = {.ctx = sampled_ctx()};
	e.ctx.tracestate = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE";
	e.ctx.state |= BATON_CTX_HAS_TH;
	e.ctx.threshold = 0x80000000000000ull;
	e.recipients = 10000;
	e.fanout_applied = 300;
	e.baggage = "userId=alice,isProduction=false;ttl=3, x = %20y";
	uint8_t buf[256];
	size_t n = wrap(&e, buf, sizeof(buf));
	baton_envelope u;
	cr_assert_eq(baton_envelope_unwrap(buf, n, &u), BATON_OK);
	cr_assert_eq(u.length, n);
	cr_assert_eq(u.recipients, 10000);
	cr_assert_eq(u.fanout_applied, 300);
	cr_assert_eq(u.ctx.threshold, 0x80000000000000ull);
	cr_assert_str_eq(u.ctx.tracestate, e.ctx.tracestate);
	cr_assert_str_eq(u.baggage, e.baggage);
	cr_assert_eq(u.dropped, 0);
	cr_assert((const uint8_t *)u.ctx.tracestate > buf &&
	          (const uint8_t *)u.ctx.tracestate < buf + n);
	cr_assert(u.ctx.state & BATON_CTX_FANOUT);
	cr_assert_eq(u.unknown_extensions, 0);

	/* NO_TRACESTATE leaves it out. */
	e.wrap_flags = BATON_ENV_WRAP_NO_TRACESTATE;
	size_t m = wrap(&e, buf, sizeof(buf));
	cr_assert_lt(m, n);
	cr_assert_eq(baton_envelope_unwrap(buf, m, &u), BATON_OK);
	cr_assert_null(u.ctx.tracestate);
}

Test(envelope, unsampled_ids_are_sent_only_when_asked)
{
	baton_envelope e = {.ctx = sampled_ctx()};
	e.ctx.trace_flags = BATON_FLAG_RANDOM; /* decided, not sampled, has ids */
	e.recipients = 5;                      /* dropped: meaningless when unsampled */
	uint8_t buf[64];
	cr_assert_eq(wrap(&e, buf, sizeof(buf)), 8);
	e.wrap_flags = BATON_ENV_WRAP_UNSAMPLED_IDS;
	size_t n = wrap(&e, buf, sizeof(buf));
	cr_assert_eq(n, 32);
	baton_envelope u;
	cr_assert_eq(baton_envelope_unwrap(buf, n, &u), BATON_OK);
	cr_assert(baton_span_context_is_valid(&u.ctx));
	cr_assert_not(baton_span_context_is_sampled(&u.ctx));
	cr_assert_arr_eq(u.ctx.trace_id, e.ctx.trace_id, 16);
	baton_envelope_header h;
	cr_assert_eq(baton_envelope_peek(buf, n, &h), BATON_OK);
	cr_assert_eq(h.flags & BATON_ENV_F_SAMPLED, 0);
	cr_assert(h.flags & BATON_ENV_F_IDS);
}

Test(envelope, codec_writes_unsampled_ids_only_by_its_flags_whatever_the_sdk_option)
{
	baton_options o = {.size = sizeof(o),
	                   .sampler = baton_sampler_always_off(),
	                   .propagate_unsampled_ids = true,
	                   .ignore_disabled_env = true};
	cr_assert_eq(baton_init(&o), BATON_OK);
	baton_span s = baton_span_start(baton_tracer_get("t", NULL), "x");
	baton_envelope e = {0};
	cr_assert_eq(baton_span_get_context(s, &e.ctx), BATON_OK);
	cr_assert(baton_span_context_is_valid(&e.ctx));
	uint8_t buf[64];
	/* The codec reads no SDK option: the message layer turns it into the
	 * wrap flag (message_test checks that side). */
	cr_assert_eq(wrap(&e, buf, sizeof(buf)), 8);
	e.wrap_flags = BATON_ENV_WRAP_UNSAMPLED_IDS;
	cr_assert_eq(wrap(&e, buf, sizeof(buf)), 32);
	e.wrap_flags |= BATON_ENV_WRAP_NO_UNSAMPLED_IDS;
	cr_assert_eq(wrap(&e, buf, sizeof(buf)), 8);
	baton_span_end(s);
	uint64_t g = baton_envelope_sdk_generation();
	baton_fini(100);
	cr_assert_neq(baton_envelope_sdk_generation(), g);
}

/* A message from a newer version: a longer fixed part and extension types we do not
 * know. */
Test(envelope, future_minor_version_is_read_by_this_reader)
{
	uint8_t m[128];
	size_t i = 0;
	m[i++] = 0xBA;
	m[i++] = 0x3F; /* version 3, S R I X */
	m[i++] = 36;   /* fixed part: 4 more bytes between the ids and the check word */
	m[i++] = 0;    /* check, by tu_envelope_seal() */
	baton_span_context c = sampled_ctx();
	memcpy(m + i, c.trace_id, 16);
	i += 16;
	memcpy(m + i, c.span_id, 8);
	i += 8;
	memcpy(m + i, "\x01\x02\x03\x04", 4); /* a future fixed field */
	i += 4;
	i += 4; /* the check word */
	const uint8_t ext[] = {
	    0x60, 3,    'n',  'e',  'w',    /* unknown type */
	    0x01, 2,    0x01, 0xF4,         /* recipients 500 */
	    0x7F, 0x80, 0x02, 'a',  'b',    /* unknown type, two-byte length form (2) */
	    0x03, 4,    'a',  '=',  '1', 0, /* tracestate */
	};
	m[i++] = sizeof(ext);
	memcpy(m + i, ext, sizeof(ext));
	i += sizeof(ext);
	tu_envelope_seal(m, i);
	memcpy(m + i, "payload", 7);
	size_t total = i + 7;

	baton_envelope_header h;
	cr_assert_eq(baton_envelope_peek(m, total, &h), BATON_OK);
	cr_assert_eq(h.version, 3);
	cr_assert_eq(h.length, i);
	baton_envelope u;
	cr_assert_eq(baton_envelope_unwrap(m, total, &u), BATON_OK);
	cr_assert_eq(u.version, 3);
	cr_assert_eq(u.length, i);
	cr_assert_eq(memcmp(m + u.length, "payload", 7), 0);
	cr_assert_arr_eq(u.ctx.trace_id, c.trace_id, 16);
	cr_assert_arr_eq(u.ctx.span_id, c.span_id, 8);
	cr_assert(baton_span_context_is_sampled(&u.ctx));
	cr_assert_eq(u.recipients, 500);
	cr_assert_str_eq(u.ctx.tracestate, "a=1");
	cr_assert_eq(u.unknown_extensions, 2);

	/* A later version's fixed part grows in 4-byte steps. */
	m[2] = 38;
	tu_envelope_seal(m, i);
	cr_assert_eq(baton_envelope_unwrap(m, total, &u), BATON_EFORMAT);
	m[2] = 36;

	/* Version 2 must have exactly the fixed length its flags say. */
	m[1] = (uint8_t)(0x20 | (m[1] & 0x0F));
	tu_envelope_seal(m, i);
	cr_assert_eq(baton_envelope_unwrap(m, total, &u), BATON_EFORMAT);
}

/* Version 1 envelopes (no check word) are read only when the caller says every message
 * carries one. */
Test(envelope, version_1_is_read_only_when_asked)
{
	baton_span_context c = sampled_ctx();
	uint8_t v1[28 + 5] = {0xBA, 0x17, 28, 0};
	v1[3] = tu_envelope_crc8(v1);
	memcpy(v1 + 4, c.trace_id, 16);
	memcpy(v1 + 20, c.span_id, 8);
	memcpy(v1 + 28, "hello", 5);
	const uint8_t v1_unsampled[] = {0xBA, 0x10, 0x04, 0x26, 'h', 'i'};

	baton_envelope u;
	baton_envelope_header h;
	cr_assert_eq(baton_envelope_unwrap(v1, sizeof(v1), &u), BATON_EVERSION);
	cr_assert_eq(baton_envelope_peek(v1, sizeof(v1), &h), BATON_EVERSION);
	cr_assert_eq(baton_envelope_unwrap(v1_unsampled, sizeof(v1_unsampled), &u),
	             BATON_EVERSION);

	cr_assert_eq(baton_envelope_unwrap_ex(v1, sizeof(v1), BATON_ENV_READ_V1, &u),
	             BATON_OK);
	cr_assert_eq(u.version, 1);
	cr_assert_eq(u.length, 28);
	cr_assert_arr_eq(u.ctx.trace_id, c.trace_id, 16);
	cr_assert(baton_span_context_is_sampled(&u.ctx));
	cr_assert_eq(baton_envelope_peek_ex(v1_unsampled, sizeof(v1_unsampled),
	                                    BATON_ENV_READ_V1, &h),
	             BATON_OK);
	cr_assert_eq(h.length, 4);
}

Test(envelope, incompatible_versions_are_refused)
{
	const uint8_t vers[] = {0, 8, 9, 15};
	for (size_t i = 0; i < sizeof(vers); i++) {
		uint8_t m[12] = {0xBA, (uint8_t)(vers[i] << 4), 8, 0, 0, 0, 0, 0, 'x'};
		tu_envelope_seal(m, 8);
		baton_envelope_header h;
		baton_envelope u;
		cr_assert_eq(baton_envelope_peek(m, sizeof(m), &h), BATON_EVERSION);
		cr_assert_eq(baton_envelope_unwrap(m, sizeof(m), &u), BATON_EVERSION);
		cr_assert_eq(
		    baton_envelope_unwrap_ex(m, sizeof(m), BATON_ENV_READ_V1, &u),
		    BATON_EVERSION);
	}
}

Test(envelope, every_truncation_is_an_error_and_the_buffer_is_untouched)
{
	baton_envelope e = {.ctx = sampled_ctx()};
	e.ctx.tracestate = "k=v";
	e.recipients = 1000;
	e.baggage = "a=b";
	uint8_t buf[128], copy[128];
	size_t n = wrap(&e, buf, sizeof(buf));
	memcpy(copy, buf, sizeof(buf));
	for (size_t len = 1; len < n; len++) {
		baton_envelope u;
		baton_envelope_header h;
		memset(&u, 0x5A, sizeof(u));
		cr_assert_eq(baton_envelope_unwrap(buf, len, &u), BATON_ETRUNCATED,
		             "len %zu", len);
		cr_assert_eq(baton_envelope_peek(buf, len, &h), BATON_ETRUNCATED,
		             "len %zu", len);
		cr_assert_eq(u.length, 0x5A5A, "output written on error");
	}
	cr_assert_arr_eq(buf, copy, sizeof(buf));
	baton_envelope u;
	cr_assert_eq(baton_envelope_unwrap(buf, n, &u), BATON_OK);
}

Test(envelope, bare_payloads_are_not_envelopes)
{
	baton_envelope_stats_reset();
	const char *bare[] = {"hello", "{\"json\":1}", "\x08\x96\x01", ""};
	for (size_t i = 0; i < 4; i++) {
		baton_envelope_header h;
		cr_assert_eq(baton_envelope_peek(bare[i], strlen(bare[i]), &h),
		             BATON_ENOENV);
	}
	baton_envelope_stats st;
	baton_envelope_stats_get(&st);
	/* A pure codec: receivers count (message_test), the codec does not. */
	cr_assert_eq(
	    st.no_envelope + st.malformed + st.truncated + st.version + st.too_big, 0);
}

/* Payloads that fooled the version 1 checks are not envelopes. */
Test(envelope, payloads_that_look_like_version_1_headers_are_not_envelopes)
{
	/* MessagePack fixstr of 26 bytes: BA then text; its first bytes made a v1 header.
	 */
	const char *mp = "\xBA"
	                 "0 tickets remain in queue!";
	baton_envelope u;
	baton_envelope_header h;
	cr_assert_neq(baton_envelope_unwrap(mp, strlen(mp), &u), BATON_OK);
	cr_assert_neq(baton_envelope_peek(mp, strlen(mp), &h), BATON_OK);

	/* 9000 bytes whose first bytes form an unsampled v1 header with extensions. */
	static uint8_t big[9000];
	memset(big, 'x', sizeof(big));
	big[0] = 0xBA;
	big[1] = 0x18;
	big[2] = 4;
	big[3] = tu_envelope_crc8(big);
	big[4] = 0x9F; /* region of 0x1FFC bytes */
	big[5] = 0xFC;
	cr_assert_neq(baton_envelope_unwrap(big, sizeof(big), &u), BATON_OK);
	cr_assert_neq(baton_envelope_peek(big, sizeof(big), &h), BATON_OK);
	/* The same shape at version 2 still needs the check word. */
	big[1] = 0x28;
	big[2] = 8;
	big[3] = tu_envelope_crc8(big);
	cr_assert_eq(baton_envelope_peek(big, sizeof(big), &h), BATON_EFORMAT);
}

Test(envelope, garbage_headers_and_extensions_are_format_errors)
{
	baton_envelope_stats_reset();
	uint8_t buf[128];
	baton_envelope e = {.ctx = sampled_ctx()};
	e.recipients = 7;
	size_t n = wrap(&e, buf, sizeof(buf));
	baton_envelope u;
	int cases = 0;

	/* Wrong check byte. */
	uint8_t m[128];
	memcpy(m, buf, n);
	m[3] ^= 1;
	cr_assert_eq(baton_envelope_unwrap(m, n, &u), BATON_EFORMAT);
	cases++;
	/* Any byte changed under the check word. */
	for (size_t i = 4; i < n; i++) {
		if (i == 32)
			continue; /* the region length: below */
		memcpy(m, buf, n);
		m[i] ^= 0x10;
		cr_assert_eq(baton_envelope_unwrap(m, n, &u), BATON_EFORMAT, "byte %zu",
		             i);
		cases++;
	}
	memcpy(m, buf, n);
	m[32] ^= 0x10;
	cr_assert_eq(baton_envelope_unwrap(m, n, &u), BATON_ETRUNCATED);
	/* Sampled without ids. */
	uint8_t s[12] = {0xBA, 0x21, 8};
	tu_envelope_seal(s, 8);
	cr_assert_eq(baton_envelope_unwrap(s, sizeof(s), &u), BATON_EFORMAT);
	cases++;
	/* Fixed length that does not match the flags. */
	uint8_t f[40] = {0xBA, 0x20, 32};
	tu_envelope_seal(f, 32);
	cr_assert_eq(baton_envelope_unwrap(f, sizeof(f), &u), BATON_EFORMAT);
	cases++;
	/* An extension entry running past its region, with a valid check word. */
	memcpy(m, buf, n);
	m[33 + 1] = 9; /* recipients entry claims 9 bytes */
	tu_envelope_seal(m, n);
	cr_assert_eq(baton_envelope_unwrap(m, n, &u), BATON_EFORMAT);
	cases++;
	/* A known extension twice. */
	uint8_t d[64];
	memcpy(d, buf, 32);
	const uint8_t dup[] = {6, 0x01, 1, 5, 0x01, 1, 6};
	memcpy(d + 32, dup, sizeof(dup));
	tu_envelope_seal(d, 32 + sizeof(dup));
	cr_assert_eq(baton_envelope_unwrap(d, 32 + sizeof(dup), &u), BATON_EFORMAT);
	cases++;
	/* Tracestate without its NUL. */
	const uint8_t ts[] = {4, 0x03, 2, 'a', 'b'};
	memcpy(d + 32, ts, sizeof(ts));
	tu_envelope_seal(d, 32 + sizeof(ts));
	cr_assert_eq(baton_envelope_unwrap(d, 32 + sizeof(ts), &u), BATON_EFORMAT);
	cases++;
	/* All-zero trace id. */
	memcpy(m, buf, n);
	memset(m + 4, 0, 16);
	tu_envelope_seal(m, n);
	cr_assert_eq(baton_envelope_unwrap(m, n, &u), BATON_EFORMAT);
	cases++;
	/* Extension flag with an empty region. */
	uint8_t z[12] = {0xBA, 0x28, 8};
	tu_envelope_seal(z, 8);
	cr_assert_eq(baton_envelope_unwrap(z, sizeof(z), &u), BATON_EFORMAT);
	cases++;
	/* Threshold longer than 7 bytes. */
	const uint8_t th[] = {10, 0x02, 8, 1, 2, 3, 4, 5, 6, 7, 8};
	memcpy(d + 32, th, sizeof(th));
	tu_envelope_seal(d, 32 + sizeof(th));
	cr_assert_eq(baton_envelope_unwrap(d, 32 + sizeof(th), &u), BATON_EFORMAT);
	cases++;
	/* An unsampled header whose extension entries do not tile their region. */
	uint8_t x[16] = {0xBA, 0x28, 8, 0, 0, 0, 0, 0, 3, 0x60, 5, 'a'};
	tu_envelope_seal(x, 12);
	cr_assert_eq(baton_envelope_peek(x, sizeof(x), &(baton_envelope_header){0}),
	             BATON_EFORMAT);
	cases++;

	baton_envelope_stats st;
	baton_envelope_stats_get(&st);
	cr_assert_gt(cases, 10);
	cr_assert_eq(st.malformed, 0, "the codec keeps no counters");
}

/* A sampled envelope carrying one text extension, then the payload "hello". */
static size_t with_text(uint8_t *m, size_t cap, uint8_t type, const char *text, size_t n)
{
	baton_span_context c = sampled_ctx();
	cr_assert_leq(n + 40 + 5, cap);
	size_t len = tu_envelope_forge_text(m, c.trace_id, c.span_id, type, text, n);
	memcpy(m + len, "hello", 5);
	return len;
}

/* A tracestate or baggage that breaks its grammar is dropped and counted; the rest stays.
 */
Test(envelope, invalid_tracestate_and_baggage_are_dropped)
{
	static uint8_t m[4200];
	char garbage[2000];
	for (size_t i = 0; i < sizeof(garbage); i++)
		garbage[i] = "\x1b\xff\r"[i % 3];
	baton_envelope_stats_reset();
	baton_envelope u;
	size_t n =
	    with_text(m, sizeof(m), BATON_ENV_EXT_TRACESTATE, garbage, sizeof(garbage));
	cr_assert_eq(baton_envelope_unwrap(m, n + 5, &u), BATON_OK);
	cr_assert_null(u.ctx.tracestate);
	cr_assert_eq(u.dropped, BATON_ENV_DROPPED_TRACESTATE);
	cr_assert(baton_span_context_is_valid(&u.ctx), "the ids are kept");
	cr_assert(baton_span_context_is_sampled(&u.ctx));
	cr_assert_eq(u.length, n);

	/* Valid members, but longer than 512 characters in all. */
	char longts[700];
	size_t k = 0;
	for (int i = 0; k + 12 < sizeof(longts); i++)
		k += (size_t)snprintf(longts + k, sizeof(longts) - k, "%sk%02d=%06d",
		                      i ? "," : "", i, i);
	cr_assert_gt(k, 512);
	n = with_text(m, sizeof(m), BATON_ENV_EXT_TRACESTATE, longts, k);
	cr_assert_eq(baton_envelope_unwrap(m, n + 5, &u), BATON_OK);
	cr_assert_null(u.ctx.tracestate);

	/* Optional white space of a header does not belong in the envelope: a tab
	 * would travel on into the consumer span and the exporters. */
	const char *ows[] = {"rojo=00f067aa0ba902b7,congo=t61rcWkgMzE\t", "\ta=1",
	                     "a=1 ,\tb=2", " a=1", "a=1 "};
	for (size_t i = 0; i < 5; i++) {
		n = with_text(m, sizeof(m), BATON_ENV_EXT_TRACESTATE, ows[i],
		              strlen(ows[i]));
		cr_assert_eq(baton_envelope_unwrap(m, n + 5, &u), BATON_OK, "%s", ows[i]);
		cr_assert_null(u.ctx.tracestate, "%s", ows[i]);
		cr_assert_eq(u.dropped, BATON_ENV_DROPPED_TRACESTATE);
		cr_assert(baton_span_context_is_valid(&u.ctx), "the ids are kept");
	}
	/* Spaces around a comma are the header's grammar and stay readable. */
	const char *sp = "a=1 , b=2";
	n = with_text(m, sizeof(m), BATON_ENV_EXT_TRACESTATE, sp, strlen(sp));
	cr_assert_eq(baton_envelope_unwrap(m, n + 5, &u), BATON_OK);
	cr_assert_str_eq(u.ctx.tracestate, sp);

	/* An "ot" member does not belong in the envelope's tracestate. */
	const char *ot = "ot=th:0,a=1";
	n = with_text(m, sizeof(m), BATON_ENV_EXT_TRACESTATE, ot, strlen(ot));
	cr_assert_eq(baton_envelope_unwrap(m, n + 5, &u), BATON_OK);
	cr_assert_null(u.ctx.tracestate);

	/* Baggage: a control byte, a missing '=', a space inside a value, too many
	 * members. */
	const char *bad_bg[] = {"a=b\x1b", "novalue", "k=v w", "=v", "a=b,,c=d"};
	for (size_t i = 0; i < 5; i++) {
		n = with_text(m, sizeof(m), BATON_ENV_EXT_BAGGAGE, bad_bg[i],
		              strlen(bad_bg[i]));
		cr_assert_eq(baton_envelope_unwrap(m, n + 5, &u), BATON_OK, "%s",
		             bad_bg[i]);
		cr_assert_null(u.baggage, "%s", bad_bg[i]);
		cr_assert_eq(u.dropped, BATON_ENV_DROPPED_BAGGAGE);
	}
	char many[1024];
	k = 0;
	for (int i = 0; i < 65; i++)
		k += (size_t)snprintf(many + k, sizeof(many) - k, "%sk%d=v", i ? "," : "",
		                      i);
	n = with_text(m, sizeof(m), BATON_ENV_EXT_BAGGAGE, many, k);
	cr_assert_eq(baton_envelope_unwrap(m, n + 5, &u), BATON_OK);
	cr_assert_null(u.baggage);
	/* 64 members are fine. */
	k = (size_t)(strrchr(many, ',') - many);
	n = with_text(m, sizeof(m), BATON_ENV_EXT_BAGGAGE, many, k);
	cr_assert_eq(baton_envelope_unwrap(m, n + 5, &u), BATON_OK);
	cr_assert_not_null(u.baggage);

	baton_envelope_stats st;
	baton_envelope_stats_get(&st);
	cr_assert_eq(st.tracestate_dropped + st.baggage_dropped + st.malformed, 0,
	             "the codec keeps no counters");
}

Test(envelope, oversized_envelopes_are_refused_on_both_sides)
{
	baton_envelope_stats_reset();
	/* Stated length beyond the cap: 8 + 2 + 0x7FFF. */
	uint8_t m[16] = {0xBA, 0x28, 8, 0, 0, 0, 0, 0, 0xFF, 0xFF};
	m[3] = tu_envelope_crc8(m);
	baton_envelope u;
	baton_envelope_header h;
	cr_assert_eq(baton_envelope_peek(m, sizeof(m), &h), BATON_ETOOBIG);
	cr_assert_eq(baton_envelope_unwrap(m, sizeof(m), &u), BATON_ETOOBIG);
	baton_envelope_stats st;
	baton_envelope_stats_get(&st);
	cr_assert_eq(st.too_big, 0, "the codec keeps no counters");

	static char big[BATON_ENVELOPE_MAX + 10];
	memset(big, 'a', sizeof(big) - 1);
	big[0] = 'k';
	big[1] = '=';
	baton_envelope e = {.ctx = sampled_ctx()};
	e.baggage = big;
	uint8_t buf[64];
	size_t n = 0;
	cr_assert_eq(baton_envelope_wrap(&e, buf, sizeof(buf), &n), BATON_ETOOBIG);
	cr_assert_eq(baton_envelope_size(&e), 0);
}

Test(envelope, wrap_into_a_small_buffer_is_enospace)
{
	baton_envelope e = {.ctx = sampled_ctx()};
	uint8_t buf[64];
	size_t n = 99;
	cr_assert_eq(baton_envelope_wrap(&e, buf, 31, &n), BATON_ENOSPACE);
	cr_assert_eq(n, 99);
	cr_assert_eq(baton_envelope_wrap(&e, buf, 32, &n), BATON_OK);
	cr_assert_eq(n, 32);
	cr_assert_eq(baton_envelope_wrap(NULL, buf, 32, &n), BATON_EINVAL);
	cr_assert_eq(baton_envelope_wrap(&e, NULL, 32, &n), BATON_EINVAL);
	cr_assert_eq(baton_envelope_peek(NULL, 4, NULL), BATON_EINVAL);
	cr_assert_eq(baton_envelope_unwrap(buf, 32, NULL), BATON_EINVAL);
}

/* xorshift64: fixed seeds, so the measured rates are repeatable. */
static uint64_t xs(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/*
 * Random payloads are not taken for envelopes: 10 million that start with the
 * magic byte and 10 million of any bytes. The bound is below 2^-39 each (the
 * header comment works it out), so none may pass; 2^-24 and 2^-32 are what
 * mixed receivers promise.
 */
Test(envelope, ten_million_random_payloads_are_never_taken_for_envelopes, .timeout = 120)
{
	uint64_t x = 0x9E3779B97F4A7C15ull;
	long accepted_magic = 0, accepted_any = 0;
	const long trials = 10 * 1000 * 1000;
	for (int pass = 0; pass < 2; pass++) {
		for (long t = 0; t < trials; t++) {
			uint64_t w[8];
			for (size_t i = 0; i < 8; i++)
				w[i] = xs(&x);
			uint8_t *m = (uint8_t *)w;
			if (pass == 0)
				m[0] = 0xBA;
			baton_envelope_header h;
			if (baton_envelope_peek(m, sizeof(w), &h) != BATON_OK)
				continue;
			if (pass == 0)
				accepted_magic++;
			else
				accepted_any++;
		}
	}
	cr_assert_eq(accepted_magic, 0, "%ld of %ld payloads starting with 0xBA accepted",
	             accepted_magic, trials);
	cr_assert_eq(accepted_any, 0, "%ld of %ld random payloads accepted", accepted_any,
	             trials);
}
