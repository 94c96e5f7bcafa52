/* The binary envelope: layout, round trips, forward compatibility, bad input. */
#include <baton/baton.h>
#include <baton/envelope.h>
#include <criterion/criterion.h>
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
	cr_assert_eq(BATON_ENVELOPE_VERSION, 1);
	cr_assert_eq(BATON_ENVELOPE_UNSAMPLED_SIZE, 4);
	cr_assert_eq(BATON_ENVELOPE_SAMPLED_SIZE, 28);
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
}

Test(envelope, unsampled_envelope_is_four_bytes_without_ids)
{
	baton_envelope e = {0};
	e.ctx.state = BATON_CTX_DECIDED;
	uint8_t buf[64], fast[4];
	size_t n = wrap(&e, buf, sizeof(buf));
	cr_assert_eq(n, BATON_ENVELOPE_UNSAMPLED_SIZE);
	const uint8_t want[4] = {0xBA, 0x10, 0x04, 0x26};
	cr_assert_arr_eq(buf, want, 4);
	baton_envelope_wrap_unsampled(fast);
	cr_assert_arr_eq(fast, want, 4);

	/* A context without any decision is written as unsampled too. */
	baton_envelope none = {0};
	cr_assert_eq(wrap(&none, buf, sizeof(buf)), 4);

	baton_envelope_header h;
	cr_assert_eq(baton_envelope_peek(buf, n, &h), BATON_OK);
	cr_assert_eq(h.length, 4);
	cr_assert_eq(h.flags & BATON_ENV_F_SAMPLED, 0);
	baton_envelope u;
	cr_assert_eq(baton_envelope_unwrap(buf, n, &u), BATON_OK);
	cr_assert_eq(u.ctx.state, BATON_CTX_REMOTE | BATON_CTX_DECIDED);
	cr_assert_not(baton_span_context_is_sampled(&u.ctx));
	cr_assert_not(baton_span_context_is_valid(&u.ctx));
}

Test(envelope, sampled_envelope_is_28_bytes_and_round_trips)
{
	baton_envelope e = {.ctx = sampled_ctx()};
	uint8_t buf[64];
	memset(buf, 0xEE, sizeof(buf));
	size_t n = wrap(&e, buf, sizeof(buf));
	cr_assert_eq(n, BATON_ENVELOPE_SAMPLED_SIZE);
	cr_assert_lt(n, 29); /* smaller than W3C binary trace context */
	cr_assert_eq(buf[0], 0xBA);
	cr_assert_eq(buf[1], 0x17);
	cr_assert_eq(buf[2], 28);
	cr_assert_arr_eq(buf + 4, e.ctx.trace_id, 16);
	cr_assert_arr_eq(buf + 20, e.ctx.span_id, 8);
	cr_assert_eq(buf[28], 0xEE, "wrote past its length");

	baton_envelope_header h;
	cr_assert_eq(baton_envelope_peek(buf, sizeof(buf), &h), BATON_OK);
	cr_assert_eq(h.length, 28);
	cr_assert(h.flags & BATON_ENV_F_SAMPLED);

	baton_envelope u;
	cr_assert_eq(baton_envelope_unwrap(buf, sizeof(buf), &u), BATON_OK);
	cr_assert_eq(u.length, 28);
	cr_assert_eq(u.version, 1);
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
	/* 28 + region length (1) + type (1) + length (1) + 3 bytes */
	cr_assert_eq(n, 34);
	cr_assert_eq(buf[1], 0x1F);
	const uint8_t ext[] = {5, 0x02, 3, 0xfd, 0x70, 0xa4};
	cr_assert_arr_eq(buf + 28, ext, sizeof(ext));
	baton_envelope u;
	cr_assert_eq(baton_envelope_unwrap(buf, n, &u), BATON_OK);
	cr_assert(u.ctx.state & BATON_CTX_HAS_TH);
	cr_assert_eq(u.ctx.threshold, 0xfd70a400000000ull);

	/* A 100% threshold is not written at all: the common case stays at 28 bytes. */
	e.ctx.threshold = 0;
	cr_assert_eq(wrap(&e, buf, sizeof(buf)), 28);
	/* A threshold with no trailing zero byte takes all 7. */
	e.ctx.threshold = baton_threshold_from_probability(0.1);
	n = wrap(&e, buf, sizeof(buf));
	cr_assert_eq(n, 28 + 3 + 7);
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
	e.baggage = "userId=alice,isProduction=false";
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
	cr_assert_eq(wrap(&e, buf, sizeof(buf)), 4);
	e.wrap_flags = BATON_ENV_WRAP_UNSAMPLED_IDS;
	size_t n = wrap(&e, buf, sizeof(buf));
	cr_assert_eq(n, 28);
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

Test(envelope, sdk_option_propagate_unsampled_ids_puts_ids_in_unsampled_envelopes)
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
	cr_assert_eq(wrap(&e, buf, sizeof(buf)), 28);
	e.wrap_flags = BATON_ENV_WRAP_NO_UNSAMPLED_IDS;
	cr_assert_eq(wrap(&e, buf, sizeof(buf)), 4);
	baton_span_end(s);
	uint64_t g = baton_envelope_sdk_generation();
	baton_fini(100);
	cr_assert_neq(baton_envelope_sdk_generation(), g);
}

static uint8_t crc3(const uint8_t *m)
{
	uint8_t crc = 0;
	for (int k = 0; k < 3; k++) {
		crc ^= m[k];
		for (int b = 0; b < 8; b++)
			crc = (uint8_t)((crc & 0x80) ? (crc << 1) ^ 0x07 : crc << 1);
	}
	return crc;
}

/* A message from a newer minor version: a longer fixed part and extension types we do not
 * know. */
Test(envelope, future_minor_version_is_read_by_this_reader)
{
	uint8_t m[128];
	size_t i = 0;
	m[i++] = 0xBA;
	m[i++] = 0x27; /* version 2, S R I */
	m[i++] = 32;   /* fixed part: 4 more bytes after the ids */
	m[i++] = 0;    /* check, below */
	baton_span_context c = sampled_ctx();
	memcpy(m + i, c.trace_id, 16);
	i += 16;
	memcpy(m + i, c.span_id, 8);
	i += 8;
	memcpy(m + i, "\x01\x02\x03\x04", 4); /* a future fixed field */
	i += 4;
	m[1] |= 0x08; /* extensions follow */
	m[3] = crc3(m);
	const uint8_t ext[] = {
	    0x60, 3,    'n',  'e',  'w',    /* unknown type */
	    0x01, 2,    0x01, 0xF4,         /* recipients 500 */
	    0x7F, 0x80, 0x02, 'a',  'b',    /* unknown type, two-byte length form (2) */
	    0x03, 4,    'a',  '=',  '1', 0, /* tracestate */
	};
	m[i++] = sizeof(ext);
	memcpy(m + i, ext, sizeof(ext));
	i += sizeof(ext);
	memcpy(m + i, "payload", 7);
	size_t total = i + 7;

	baton_envelope_header h;
	cr_assert_eq(baton_envelope_peek(m, total, &h), BATON_OK);
	cr_assert_eq(h.version, 2);
	cr_assert_eq(h.length, i);
	baton_envelope u;
	cr_assert_eq(baton_envelope_unwrap(m, total, &u), BATON_OK);
	cr_assert_eq(u.version, 2);
	cr_assert_eq(u.length, i);
	cr_assert_eq(memcmp(m + u.length, "payload", 7), 0);
	cr_assert_arr_eq(u.ctx.trace_id, c.trace_id, 16);
	cr_assert_arr_eq(u.ctx.span_id, c.span_id, 8);
	cr_assert(baton_span_context_is_sampled(&u.ctx));
	cr_assert_eq(u.recipients, 500);
	cr_assert_str_eq(u.ctx.tracestate, "a=1");
	cr_assert_eq(u.unknown_extensions, 2);

	/* A later version's fixed part grows in 4-byte steps. */
	m[2] = 34;
	m[3] = crc3(m);
	cr_assert_eq(baton_envelope_unwrap(m, total, &u), BATON_EFORMAT);
	m[2] = 32;

	/* Version 1 must have exactly the fixed length its flags say. */
	m[1] = (uint8_t)(0x10 | (m[1] & 0x0F));
	m[3] = crc3(m);
	cr_assert_eq(baton_envelope_unwrap(m, total, &u), BATON_EFORMAT);
}

Test(envelope, incompatible_versions_are_refused)
{
	const uint8_t vers[] = {0, 8, 9, 15};
	for (size_t i = 0; i < sizeof(vers); i++) {
		uint8_t m[8] = {0xBA, (uint8_t)(vers[i] << 4), 4, 0, 'x'};
		m[3] = crc3(m);
		baton_envelope_header h;
		baton_envelope u;
		cr_assert_eq(baton_envelope_peek(m, sizeof(m), &h), BATON_EVERSION);
		cr_assert_eq(baton_envelope_unwrap(m, sizeof(m), &u), BATON_EVERSION);
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
	cr_assert_eq(st.no_envelope, 4);
	cr_assert_eq(st.malformed + st.truncated + st.version + st.too_big, 0);
}

Test(envelope, garbage_headers_and_extensions_are_format_errors_and_counted)
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
	/* Sampled without ids. */
	uint8_t s[8] = {0xBA, 0x11, 4, 0};
	s[3] = crc3(s);
	cr_assert_eq(baton_envelope_unwrap(s, sizeof(s), &u), BATON_EFORMAT);
	cases++;
	/* Fixed length that does not match the flags. */
	uint8_t f[40] = {0xBA, 0x10, 28, 0};
	f[3] = crc3(f);
	cr_assert_eq(baton_envelope_unwrap(f, sizeof(f), &u), BATON_EFORMAT);
	cases++;
	/* An extension entry running past its region. */
	memcpy(m, buf, n);
	m[29 + 1] = 9; /* recipients entry claims 9 bytes */
	cr_assert_eq(baton_envelope_unwrap(m, n, &u), BATON_EFORMAT);
	cases++;
	/* A known extension twice. */
	uint8_t d[64];
	memcpy(d, buf, 28);
	const uint8_t dup[] = {6, 0x01, 1, 5, 0x01, 1, 6};
	memcpy(d + 28, dup, sizeof(dup));
	cr_assert_eq(baton_envelope_unwrap(d, 28 + sizeof(dup), &u), BATON_EFORMAT);
	cases++;
	/* Tracestate without its NUL. */
	const uint8_t ts[] = {4, 0x03, 2, 'a', 'b'};
	memcpy(d + 28, ts, sizeof(ts));
	cr_assert_eq(baton_envelope_unwrap(d, 28 + sizeof(ts), &u), BATON_EFORMAT);
	cases++;
	/* All-zero trace id. */
	memcpy(m, buf, n);
	memset(m + 4, 0, 16);
	cr_assert_eq(baton_envelope_unwrap(m, n, &u), BATON_EFORMAT);
	cases++;
	/* Extension flag with an empty region. */
	uint8_t z[8] = {0xBA, 0x18, 4, 0, 0};
	z[3] = crc3(z);
	cr_assert_eq(baton_envelope_unwrap(z, sizeof(z), &u), BATON_EFORMAT);
	cases++;
	/* Threshold longer than 7 bytes. */
	const uint8_t th[] = {10, 0x02, 8, 1, 2, 3, 4, 5, 6, 7, 8};
	memcpy(d + 28, th, sizeof(th));
	cr_assert_eq(baton_envelope_unwrap(d, 28 + sizeof(th), &u), BATON_EFORMAT);
	cases++;

	baton_envelope_stats st;
	baton_envelope_stats_get(&st);
	cr_assert_eq(st.malformed, (uint64_t)cases);
}

Test(envelope, oversized_envelopes_are_refused_on_both_sides)
{
	baton_envelope_stats_reset();
	/* Stated length beyond the cap: 4 + 2 + 0x7FFF. */
	uint8_t m[16] = {0xBA, 0x18, 4, 0, 0xFF, 0xFF};
	m[3] = crc3(m);
	baton_envelope u;
	baton_envelope_header h;
	cr_assert_eq(baton_envelope_peek(m, sizeof(m), &h), BATON_ETOOBIG);
	cr_assert_eq(baton_envelope_unwrap(m, sizeof(m), &u), BATON_ETOOBIG);
	baton_envelope_stats st;
	baton_envelope_stats_get(&st);
	cr_assert_eq(st.too_big, 2);

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
	cr_assert_eq(baton_envelope_wrap(&e, buf, 27, &n), BATON_ENOSPACE);
	cr_assert_eq(n, 99);
	cr_assert_eq(baton_envelope_wrap(&e, buf, 28, &n), BATON_OK);
	cr_assert_eq(n, 28);
	cr_assert_eq(baton_envelope_wrap(NULL, buf, 28, &n), BATON_EINVAL);
	cr_assert_eq(baton_envelope_wrap(&e, NULL, 28, &n), BATON_EINVAL);
	cr_assert_eq(baton_envelope_peek(NULL, 4, NULL), BATON_EINVAL);
	cr_assert_eq(baton_envelope_unwrap(buf, 28, NULL), BATON_EINVAL);
}

/* Random payloads that happen to start with the magic byte are almost never taken for
 * envelopes. */
Test(envelope, random_payloads_starting_with_the_magic_are_rarely_accepted)
{
	uint64_t x = 0x9E3779B97F4A7C15ull; /* fixed seed: xorshift64 */
	int accepted = 0;
	const int trials = 200000;
	for (int t = 0; t < trials; t++) {
		uint8_t m[64];
		for (size_t i = 0; i < sizeof(m); i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			m[i] = (uint8_t)x;
		}
		m[0] = 0xBA;
		baton_envelope u;
		if (baton_envelope_unwrap(m, sizeof(m), &u) == BATON_OK)
			accepted++;
	}
	/* Header alone: 1/256 (check) * 7/16 (version) * ~2/256 (fixed length): ~1.3e-5.
	 */
	cr_assert_leq(accepted, 20, "%d of %d random payloads accepted", accepted,
	              trials);
}
