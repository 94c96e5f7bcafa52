/*
 * W3C traceparent (Trace Context Level 2, "traceparent Header"): parse,
 * the sampled fast path, format, and extract/inject with span contexts.
 * Every case below follows a sentence of the spec.
 */
#include <baton/baton.h>
#include <baton/w3c.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"

#define TID  "4bf92f3577b34da6a3ce929d0e0e4736"
#define SID  "00f067aa0ba902b7"
#define GOOD "00-" TID "-" SID "-01"

static baton_err parse(const char *s, baton_span_context *c)
{
	return baton_traceparent_parse(s, strlen(s), c);
}

/* A context filled with a marker, to check that errors leave it alone. */
static baton_span_context marked(void)
{
	baton_span_context c;
	memset(&c, 0xa5, sizeof(c));
	return c;
}

static void assert_untouched(const baton_span_context *c)
{
	baton_span_context m = marked();
	cr_assert(memcmp(c, &m, sizeof(m)) == 0, "output written on error");
}

static void expect_err(const char *s, baton_err want)
{
	baton_span_context c = marked();
	baton_err rv = parse(s, &c);
	cr_assert_eq(rv, want, "'%s': got %s, want %s", s, baton_strerror(rv),
	             baton_strerror(want));
	assert_untouched(&c);
}

Test(traceparent, spec_example_parses_into_ids_flags_and_state)
{
	baton_span_context c = marked();
	cr_assert_eq(parse(GOOD, &c), BATON_OK);
	uint8_t tid[16], sid[8];
	tu_hex(TID, tid, 16);
	tu_hex(SID, sid, 8);
	cr_assert(memcmp(c.trace_id, tid, 16) == 0);
	cr_assert(memcmp(c.span_id, sid, 8) == 0);
	cr_assert_eq(c.trace_flags, BATON_FLAG_SAMPLED);
	cr_assert_eq(c.state, BATON_CTX_VALID | BATON_CTX_REMOTE | BATON_CTX_DECIDED);
	cr_assert_eq(c.threshold, 0);
	cr_assert_null(c.tracestate);
	cr_assert(baton_span_context_is_valid(&c));
	cr_assert(baton_span_context_is_sampled(&c));
}

Test(traceparent, not_sampled_and_random_flags)
{
	baton_span_context c;
	cr_assert_eq(parse("00-" TID "-" SID "-00", &c), BATON_OK);
	cr_assert_eq(c.trace_flags, 0);
	cr_assert_not(baton_span_context_is_sampled(&c));
	cr_assert_eq(parse("00-" TID "-" SID "-02", &c), BATON_OK);
	cr_assert_eq(c.trace_flags, BATON_FLAG_RANDOM);
	cr_assert_eq(parse("00-" TID "-" SID "-03", &c), BATON_OK);
	cr_assert_eq(c.trace_flags, BATON_FLAG_SAMPLED | BATON_FLAG_RANDOM);
}

Test(traceparent, unknown_flag_bits_are_ignored_not_rejected)
{
	baton_span_context c;
	/* "09" = sampled + an undefined bit: a bit field, mask it. */
	cr_assert_eq(parse("00-" TID "-" SID "-09", &c), BATON_OK);
	cr_assert_eq(c.trace_flags, BATON_FLAG_SAMPLED);
	cr_assert_eq(parse("00-" TID "-" SID "-ff", &c), BATON_OK);
	cr_assert_eq(c.trace_flags, BATON_FLAG_SAMPLED | BATON_FLAG_RANDOM);
	cr_assert_eq(parse("00-" TID "-" SID "-fc", &c), BATON_OK);
	cr_assert_eq(c.trace_flags, 0);
}

Test(traceparent, wrong_length_is_rejected)
{
	expect_err("", BATON_ETRUNCATED);
	expect_err("0", BATON_EFORMAT);
	expect_err("00", BATON_ETRUNCATED);
	expect_err("00-" TID "-" SID "-0", BATON_ETRUNCATED); /* flags too short */
	expect_err("00-" TID "-" SID, BATON_ETRUNCATED);
	expect_err("00-" TID "-" SID "-001", BATON_EFORMAT); /* flags too long */
	expect_err("00-" TID "-" SID "-01.", BATON_EFORMAT); /* trailing junk */
	expect_err("00-" TID "-" SID "-01-", BATON_EFORMAT); /* 00 has no more fields */
	expect_err("00-" TID "-" SID "-01-what-the-future-will-be-like", BATON_EFORMAT);
	/* trace-id / parent-id one digit short or long shift the dashes. */
	expect_err("00-4bf92f3577b34da6a3ce929d0e0e473-" SID "-01", BATON_ETRUNCATED);
	expect_err("00-4bf92f3577b34da6a3ce929d0e0e47361-" SID "-01", BATON_EFORMAT);
	expect_err("00-" TID "-00f067aa0ba902b-01", BATON_ETRUNCATED);
	expect_err("00-" TID "-00f067aa0ba902b71-01", BATON_EFORMAT);
	/* version not two hex digits then a dash */
	expect_err("000-" TID "-" SID "-01", BATON_EFORMAT);
	expect_err("0-" TID "-" SID "-01", BATON_EFORMAT);
}

Test(traceparent, uppercase_hex_is_rejected_everywhere)
{
	expect_err("00-4BF92F3577B34DA6A3CE929D0E0E4736-" SID "-01", BATON_EFORMAT);
	expect_err("00-" TID "-00F067AA0BA902B7-01", BATON_EFORMAT);
	expect_err("00-" TID "-" SID "-0A", BATON_EFORMAT);
	expect_err("0A-" TID "-" SID "-01", BATON_EFORMAT);
}

Test(traceparent, non_hex_characters_are_rejected_in_each_field)
{
	expect_err(".0-" TID "-" SID "-01", BATON_EFORMAT);
	expect_err("0.-" TID "-" SID "-01", BATON_EFORMAT);
	expect_err("00-.bf92f3577b34da6a3ce929d0e0e4736-" SID "-01", BATON_EFORMAT);
	expect_err("00-4bf92f3577b34da6a3ce929d0e0e473g-" SID "-01", BATON_EFORMAT);
	expect_err("00-" TID "-.0f067aa0ba902b7-01", BATON_EFORMAT);
	expect_err("00-" TID "-00f067aa0ba902b.-01", BATON_EFORMAT);
	expect_err("00-" TID "-" SID "-.0", BATON_EFORMAT);
	expect_err("00-" TID "-" SID "-0.", BATON_EFORMAT);
	expect_err("00-" TID "-" SID "-0 ", BATON_EFORMAT);
}

Test(traceparent, bad_separators_are_rejected)
{
	expect_err("00_" TID "-" SID "-01", BATON_EFORMAT);
	expect_err("00-" TID "_" SID "-01", BATON_EFORMAT);
	expect_err("00-" TID "-" SID "_01", BATON_EFORMAT);
	expect_err("00 " TID " " SID " 01", BATON_EFORMAT);
}

Test(traceparent, surrounding_whitespace_is_not_part_of_the_value)
{
	/* The parser takes a bare value; extract trims header OWS. */
	expect_err(" " GOOD, BATON_EFORMAT);
	expect_err(GOOD " ", BATON_EFORMAT);
}

Test(traceparent, all_zero_ids_are_invalid)
{
	expect_err("00-00000000000000000000000000000000-" SID "-01", BATON_EINVAL);
	expect_err("00-" TID "-0000000000000000-01", BATON_EINVAL);
}

Test(traceparent, version_ff_is_invalid)
{
	expect_err("ff-" TID "-" SID "-01", BATON_EVERSION);
	expect_err("ff-" TID "-" SID "-01-extra", BATON_EVERSION);
}

Test(traceparent, higher_version_is_parsed_as_00)
{
	baton_span_context c;
	cr_assert_eq(parse("cc-" TID "-" SID "-01", &c), BATON_OK);
	cr_assert_eq(c.trace_flags, BATON_FLAG_SAMPLED);
	cr_assert_eq(parse("cc-" TID "-" SID "-01-what-the-future-will-be-like", &c),
	             BATON_OK);
	uint8_t tid[16];
	tu_hex(TID, tid, 16);
	cr_assert(memcmp(c.trace_id, tid, 16) == 0);
	cr_assert_eq(parse("01-" TID "-" SID "-00-", &c), BATON_OK);
	cr_assert_eq(c.trace_flags, 0);
	/* but the 55 characters must end the value or be followed by '-' */
	expect_err("cc-" TID "-" SID "-01.what-the-future-will-be-like", BATON_EFORMAT);
	expect_err("cc-" TID "-" SID "-012", BATON_EFORMAT);
	/* and it must still be 55 characters */
	expect_err("cc-" TID "-" SID "-1", BATON_ETRUNCATED);
	/* and its fields are still checked */
	expect_err("cc-" TID "-" SID "-0x-extra", BATON_EFORMAT);
	expect_err("cc-00000000000000000000000000000000-" SID "-01-extra", BATON_EINVAL);
}

Test(traceparent, length_argument_is_respected_not_the_nul)
{
	baton_span_context c = marked();
	/* 54 of the 55 bytes: truncated even though the string goes on. */
	cr_assert_eq(baton_traceparent_parse(GOOD, 54, &c), BATON_ETRUNCATED);
	assert_untouched(&c);
	char buf[64];
	memcpy(buf, GOOD "-", 57);
	cr_assert_eq(baton_traceparent_parse(buf, 55, &c), BATON_OK);
}

Test(traceparent, null_arguments_are_einval)
{
	baton_span_context c;
	cr_assert_eq(baton_traceparent_parse(NULL, 55, &c), BATON_EINVAL);
	cr_assert_eq(baton_traceparent_parse(GOOD, 55, NULL), BATON_EINVAL);
}

/* ---- fast path ---- */

static int fast(const char *s)
{
	return baton_traceparent_sampled(s, strlen(s));
}

Test(traceparent_fast, reads_the_sampled_bit_of_the_flags)
{
	cr_assert_eq(fast("00-" TID "-" SID "-01"), 1);
	cr_assert_eq(fast("00-" TID "-" SID "-00"), 0);
	cr_assert_eq(fast("00-" TID "-" SID "-02"), 0);
	cr_assert_eq(fast("00-" TID "-" SID "-03"), 1);
	/* hex letters: 0b = 1011 sampled, 0a = 1010 not (a bit field) */
	cr_assert_eq(fast("00-" TID "-" SID "-0b"), 1);
	cr_assert_eq(fast("00-" TID "-" SID "-0a"), 0);
	cr_assert_eq(fast("00-" TID "-" SID "-f9"), 1);
	cr_assert_eq(fast("cc-" TID "-" SID "-01-future"), 1);
}

Test(traceparent_fast, agrees_with_the_full_parse_on_valid_input)
{
	static const char *const flags[] = {"00", "01", "02", "03",
	                                    "09", "0e", "ff", "10"};
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		char s[64];
		snprintf(s, sizeof(s), "00-" TID "-" SID "-%s", flags[i]);
		baton_span_context c;
		cr_assert_eq(parse(s, &c), BATON_OK);
		cr_assert_eq(fast(s), baton_span_context_is_sampled(&c) ? 1 : 0, "%s", s);
	}
}

Test(traceparent_fast, rejects_what_is_not_a_traceparent)
{
	cr_assert_eq(fast(""), -1);
	cr_assert_eq(fast("hello"), -1);
	cr_assert_eq(fast("00-" TID "-" SID "-1"), -1);
	cr_assert_eq(fast("00-" TID "-" SID "-0G"), -1);
	cr_assert_eq(fast("00-" TID "-" SID "-01."), -1);
	cr_assert_eq(fast("00-" TID "-" SID "-01-x"), -1);
	cr_assert_eq(fast("ff-" TID "-" SID "-01"), -1);
	cr_assert_eq(fast("0X-" TID "-" SID "-01"), -1);
	cr_assert_eq(fast("00_" TID "-" SID "-01"), -1);
	cr_assert_eq(fast("cc-" TID "-" SID "-01.x"), -1);
	cr_assert_eq(baton_traceparent_sampled(NULL, 55), -1);
	cr_assert_eq(baton_traceparent_sampled(GOOD, 54), -1);
}

/* ---- format ---- */

Test(traceparent_format, writes_version_00_and_round_trips)
{
	baton_span_context c;
	char out[BATON_TRACEPARENT_SIZE];
	cr_assert_eq(parse(GOOD, &c), BATON_OK);
	cr_assert_eq(baton_traceparent_format(&c, out, sizeof(out)), BATON_OK);
	cr_assert_str_eq(out, GOOD);
	cr_assert_eq(strlen(out), BATON_TRACEPARENT_LEN);
	cr_assert_eq(parse("cc-" TID "-" SID "-03-more", &c), BATON_OK);
	cr_assert_eq(baton_traceparent_format(&c, out, sizeof(out)), BATON_OK);
	cr_assert_str_eq(out, "00-" TID "-" SID "-03");
}

Test(traceparent_format, writes_only_known_flag_bits)
{
	baton_span_context c;
	char out[BATON_TRACEPARENT_SIZE];
	cr_assert_eq(parse(GOOD, &c), BATON_OK);
	c.trace_flags = 0xff;
	cr_assert_eq(baton_traceparent_format(&c, out, sizeof(out)), BATON_OK);
	cr_assert_str_eq(out, "00-" TID "-" SID "-03");
}

Test(traceparent_format, generated_ids_round_trip)
{
	for (int i = 0; i < 100; i++) {
		baton_span_context c = {0}, back;
		baton_trace_id_generate(c.trace_id);
		baton_span_id_generate(c.span_id);
		c.trace_flags = (uint8_t)(i & 3);
		c.state = BATON_CTX_VALID;
		char out[BATON_TRACEPARENT_SIZE];
		cr_assert_eq(baton_traceparent_format(&c, out, sizeof(out)), BATON_OK);
		cr_assert_eq(parse(out, &back), BATON_OK);
		cr_assert(memcmp(back.trace_id, c.trace_id, 16) == 0);
		cr_assert(memcmp(back.span_id, c.span_id, 8) == 0);
		cr_assert_eq(back.trace_flags, c.trace_flags);
	}
}

Test(traceparent_format, invalid_context_or_small_buffer_is_refused)
{
	baton_span_context c = {0};
	char out[BATON_TRACEPARENT_SIZE];
	memset(out, 'x', sizeof(out));
	cr_assert_eq(baton_traceparent_format(&c, out, sizeof(out)), BATON_EINVAL);
	cr_assert_eq(baton_traceparent_format(NULL, out, sizeof(out)), BATON_EINVAL);
	c.state = BATON_CTX_DECIDED; /* decision without ids */
	cr_assert_eq(baton_traceparent_format(&c, out, sizeof(out)), BATON_EINVAL);
	cr_assert_eq(parse(GOOD, &c), BATON_OK);
	cr_assert_eq(baton_traceparent_format(&c, out, BATON_TRACEPARENT_LEN),
	             BATON_ENOSPACE);
	cr_assert_eq(out[0], 'x');
	memset(c.span_id, 0, 8); /* VALID bit but zero id */
	cr_assert_eq(baton_traceparent_format(&c, out, sizeof(out)), BATON_EINVAL);
}

/* ---- extract / inject ---- */

Test(w3c_extract, trims_header_whitespace_around_traceparent)
{
	static const char *const vals[] = {" " GOOD, "\t" GOOD, GOOD " ", GOOD "\t",
	                                   "\t " GOOD " \t"};
	for (size_t i = 0; i < 5; i++) {
		baton_span_context c;
		cr_assert_eq(
		    baton_w3c_extract(vals[i], strlen(vals[i]), NULL, 0, &c, NULL, 0),
		    BATON_OK, "%zu", i);
		cr_assert(baton_span_context_is_valid(&c));
	}
}

Test(w3c_extract, keeps_tracestate_without_ot_and_reads_th)
{
	char buf[BATON_TRACESTATE_SIZE];
	baton_span_context c;
	/* 1% threshold (th:fd70a4); rv gives randomness that passes it. */
	const char *tp = "00-4bf92f3577b34da6fff29d0e0e4736ff-" SID "-03";
	const char *ts =
	    "rojo=00f067aa0ba902b7, ot=th:fd70a4;rv:fffffffffffff0,congo=t61rcWkgMzE";
	cr_assert_eq(
	    baton_w3c_extract(tp, strlen(tp), ts, strlen(ts), &c, buf, sizeof(buf)),
	    BATON_OK);
	cr_assert(c.state & BATON_CTX_HAS_TH);
	cr_assert_eq(c.threshold, 0xfd70a400000000ull);
	cr_assert_eq(c.tracestate, buf);
	cr_assert_str_eq(c.tracestate, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
	double ac = baton_span_context_adjusted_count(&c);
	cr_assert(ac > 99.0 && ac < 101.0, "adjusted count %f", ac);
}

Test(w3c_extract, th_is_ignored_when_not_sampled_or_inconsistent)
{
	char buf[BATON_TRACESTATE_SIZE];
	baton_span_context c;
	const char *tp0 = "00-" TID "-" SID "-02";
	const char *ts = "ot=th:8,foo=1";
	cr_assert_eq(baton_w3c_extract(tp0, 55, ts, strlen(ts), &c, buf, sizeof(buf)),
	             BATON_OK);
	cr_assert_not(c.state & BATON_CTX_HAS_TH);
	cr_assert_str_eq(c.tracestate, "foo=1");
	/* randomness 0x0e0e.. of this trace id < th 0xf0..: inconsistent */
	const char *tp1 = "00-4bf92f3577b34da6a30e0e0e0e0e0e0e-" SID "-03";
	const char *ts1 = "ot=th:f";
	cr_assert_eq(baton_w3c_extract(tp1, 55, ts1, strlen(ts1), &c, buf, sizeof(buf)),
	             BATON_OK);
	cr_assert_not(c.state & BATON_CTX_HAS_TH);
	cr_assert_null(c.tracestate);
	/* rv given explicitly overrides the trace id */
	const char *ts2 = "ot=th:f;rv:ffffffffffffff";
	cr_assert_eq(baton_w3c_extract(tp1, 55, ts2, strlen(ts2), &c, buf, sizeof(buf)),
	             BATON_OK);
	cr_assert(c.state & BATON_CTX_HAS_TH);
	cr_assert_eq(c.threshold, 0xf0000000000000ull);
}

Test(w3c_extract, invalid_tracestate_is_dropped_and_traceparent_kept)
{
	char buf[BATON_TRACESTATE_SIZE];
	baton_span_context c;
	const char *ts = "foo=1,@bar=2";
	cr_assert_eq(baton_w3c_extract(GOOD, 55, ts, strlen(ts), &c, buf, sizeof(buf)),
	             BATON_OK);
	cr_assert(baton_span_context_is_valid(&c));
	cr_assert_null(c.tracestate);
	/* a repeated key is not invalid: the first occurrence stays */
	ts = "foo=1,foo=2";
	cr_assert_eq(baton_w3c_extract(GOOD, 55, ts, strlen(ts), &c, buf, sizeof(buf)),
	             BATON_OK);
	cr_assert_str_eq(c.tracestate, "foo=1");
}

Test(w3c_extract, invalid_traceparent_fails_whatever_the_tracestate)
{
	char buf[BATON_TRACESTATE_SIZE];
	baton_span_context c = marked();
	const char *tp = "00-" TID "-0000000000000000-01";
	cr_assert_eq(baton_w3c_extract(tp, 55, "foo=1", 5, &c, buf, sizeof(buf)),
	             BATON_EINVAL);
	assert_untouched(&c);
}

Test(w3c_extract, repeated_tracestate_lines_are_one_list)
{
	char buf[BATON_TRACESTATE_SIZE];
	baton_span_context c;
	const char *lines[] = {"foo=1,bar=2", "", "rojo=1,congo=2", " baz=3 "};
	cr_assert_eq(
	    baton_w3c_extract_lines(GOOD, 55, lines, NULL, 4, &c, buf, sizeof(buf)),
	    BATON_OK);
	cr_assert_str_eq(c.tracestate, "foo=1,bar=2,rojo=1,congo=2,baz=3");
	const char *dup[] = {"foo=1", "foo=2"};
	cr_assert_eq(
	    baton_w3c_extract_lines(GOOD, 55, dup, NULL, 2, &c, buf, sizeof(buf)),
	    BATON_OK);
	cr_assert_str_eq(c.tracestate, "foo=1");
	const char *bad[] = {"foo=1", "FOO=1"};
	cr_assert_eq(
	    baton_w3c_extract_lines(GOOD, 55, bad, NULL, 2, &c, buf, sizeof(buf)),
	    BATON_OK);
	cr_assert_null(c.tracestate);
}

Test(w3c_extract, a_small_buffer_keeps_whole_members_from_the_left)
{
	char buf[9];
	baton_span_context c;
	const char *ts = "foo=1,bar=2,baz=3";
	cr_assert_eq(baton_w3c_extract(GOOD, 55, ts, strlen(ts), &c, buf, sizeof(buf)),
	             BATON_OK);
	cr_assert_str_eq(c.tracestate, "foo=1");
	/* no buffer: the tracestate is not kept, the parent is */
	cr_assert_eq(baton_w3c_extract(GOOD, 55, ts, strlen(ts), &c, NULL, 0), BATON_OK);
	cr_assert_null(c.tracestate);
	cr_assert(baton_span_context_is_valid(&c));
	cr_assert_eq(baton_w3c_extract(NULL, 0, ts, strlen(ts), &c, NULL, 0),
	             BATON_EINVAL);
	cr_assert_eq(baton_w3c_extract(GOOD, 55, NULL, 0, NULL, NULL, 0), BATON_EINVAL);
}

Test(w3c_inject, writes_traceparent_and_ot_th_in_front)
{
	baton_span_context c;
	cr_assert_eq(parse("00-" TID "-" SID "-01", &c), BATON_OK);
	c.state |= BATON_CTX_HAS_TH;
	c.threshold = 0xfd70a400000000ull;
	c.tracestate = "rojo=1,congo=2";
	char tp[BATON_TRACEPARENT_SIZE], ts[BATON_TRACESTATE_SIZE];
	cr_assert_eq(baton_w3c_inject(&c, tp, sizeof(tp), ts, sizeof(ts)), BATON_OK);
	cr_assert_str_eq(tp, GOOD);
	cr_assert_str_eq(ts, "ot=th:fd70a4,rojo=1,congo=2");
	/* th:0 is 100% */
	c.threshold = 0;
	cr_assert_eq(baton_w3c_inject(&c, tp, sizeof(tp), ts, sizeof(ts)), BATON_OK);
	cr_assert_str_eq(ts, "ot=th:0,rojo=1,congo=2");
	/* not sampled: no th */
	c.trace_flags = 0;
	cr_assert_eq(baton_w3c_inject(&c, tp, sizeof(tp), ts, sizeof(ts)), BATON_OK);
	cr_assert_str_eq(ts, "rojo=1,congo=2");
	/* no threshold, no tracestate: empty */
	c.state &= (uint8_t)~BATON_CTX_HAS_TH;
	c.tracestate = NULL;
	cr_assert_eq(baton_w3c_inject(&c, tp, sizeof(tp), ts, sizeof(ts)), BATON_OK);
	cr_assert_str_eq(ts, "");
}

Test(w3c_inject, an_ot_member_in_the_context_tracestate_is_replaced)
{
	baton_span_context c;
	cr_assert_eq(parse(GOOD, &c), BATON_OK);
	c.state |= BATON_CTX_HAS_TH;
	c.threshold = 0x80000000000000ull;
	c.tracestate = "a=1,ot=th:0,b=2";
	char tp[BATON_TRACEPARENT_SIZE], ts[BATON_TRACESTATE_SIZE];
	cr_assert_eq(baton_w3c_inject(&c, tp, sizeof(tp), ts, sizeof(ts)), BATON_OK);
	cr_assert_str_eq(ts, "ot=th:8,a=1,b=2");
	/* a broken tracestate in the context is not sent */
	c.tracestate = "A=1";
	cr_assert_eq(baton_w3c_inject(&c, tp, sizeof(tp), ts, sizeof(ts)), BATON_OK);
	cr_assert_str_eq(ts, "ot=th:8");
}

Test(w3c_inject, adding_ot_to_32_members_pushes_out_the_rightmost)
{
	char list[512];
	size_t w = 0;
	for (int i = 1; i <= 32; i++)
		w += (size_t)snprintf(list + w, sizeof(list) - w, "%sk%02d=%d",
		                      i > 1 ? "," : "", i, i);
	baton_span_context c;
	cr_assert_eq(parse(GOOD, &c), BATON_OK);
	c.state |= BATON_CTX_HAS_TH;
	c.threshold = 0;
	c.tracestate = list;
	char tp[BATON_TRACEPARENT_SIZE], ts[BATON_TRACESTATE_SIZE];
	cr_assert_eq(baton_w3c_inject(&c, tp, sizeof(tp), ts, sizeof(ts)), BATON_OK);
	cr_assert(strncmp(ts, "ot=th:0,k01=1,", 14) == 0);
	cr_assert(strstr(ts, "k31=31") != NULL);
	cr_assert_null(strstr(ts, "k32=32"));
}

Test(w3c_inject, refuses_contexts_without_ids_and_small_buffers)
{
	baton_span_context c = {0};
	char tp[BATON_TRACEPARENT_SIZE], ts[BATON_TRACESTATE_SIZE];
	memset(tp, 'x', sizeof(tp));
	c.state = BATON_CTX_DECIDED;
	cr_assert_eq(baton_w3c_inject(&c, tp, sizeof(tp), ts, sizeof(ts)), BATON_EINVAL);
	cr_assert_eq(tp[0], 'x');
	cr_assert_eq(parse(GOOD, &c), BATON_OK);
	cr_assert_eq(baton_w3c_inject(&c, tp, 55, ts, sizeof(ts)), BATON_ENOSPACE);
	cr_assert_eq(baton_w3c_inject(&c, tp, sizeof(tp), ts, 0), BATON_ENOSPACE);
	cr_assert_eq(tp[0], 'x');
	cr_assert_eq(baton_w3c_inject(&c, tp, sizeof(tp), NULL, 0), BATON_OK);
	cr_assert_str_eq(tp, GOOD);
}

Test(w3c_inject, without_a_context_uses_the_current_span)
{
	tu_memory_exporter *store = tu_init_memory(baton_sampler_always_on(), 16);
	(void)store;
	char tp[BATON_TRACEPARENT_SIZE], ts[BATON_TRACESTATE_SIZE];
	cr_assert_eq(baton_w3c_inject(NULL, tp, sizeof(tp), ts, sizeof(ts)),
	             BATON_EINVAL);
	baton_span_context parent;
	char buf[BATON_TRACESTATE_SIZE];
	cr_assert_eq(baton_w3c_extract(GOOD, 55, "congo=t61rcWkgMzE", 17, &parent, buf,
	                               sizeof(buf)),
	             BATON_OK);
	baton_span_start_opts o = {.parent = &parent, .kind = BATON_SPAN_KIND_SERVER};
	baton_span s = baton_span_start_ex(baton_tracer_get("t", NULL), "srv", &o);
	uint32_t tok = baton_span_attach(s);
	cr_assert_eq(baton_w3c_inject(NULL, tp, sizeof(tp), ts, sizeof(ts)), BATON_OK);
	baton_span_context sc;
	baton_span_get_context(s, &sc);
	baton_span_context back;
	cr_assert_eq(parse(tp, &back), BATON_OK);
	cr_assert(memcmp(back.trace_id, parent.trace_id, 16) == 0, "same trace");
	cr_assert(memcmp(back.span_id, sc.span_id, 8) == 0, "the span's own id");
	cr_assert(memcmp(back.span_id, parent.span_id, 8) != 0);
	cr_assert(strstr(ts, "congo=t61rcWkgMzE") != NULL, "%s", ts);
	baton_span_detach(tok);
	baton_span_end(s);
	baton_fini(1000);
}

/* A threshold of 12 to 14 hex digits used to overflow the ot=th member's buffer:
 * uninitialised bytes went out in the tracestate. */
Test(w3c_inject, long_thresholds_round_trip_exactly)
{
	const char *tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b3-01";
	const char *ths[] = {"ot=th:fdbf067aa0ba", "ot=th:fdbf067aa0ba12",
	                     "ot=th:fdbf067aa0ba1", "ot=th:8"};
	for (size_t i = 0; i < sizeof(ths) / sizeof(ths[0]); i++) {
		baton_span_context c;
		char buf[BATON_TRACESTATE_SIZE], tpo[BATON_TRACEPARENT_SIZE],
		    tso[BATON_TRACESTATE_SIZE];
		cr_assert_eq(baton_w3c_extract(tp, strlen(tp), ths[i], strlen(ths[i]), &c,
		                               buf, sizeof(buf)),
		             BATON_OK);
		cr_assert(c.state & BATON_CTX_HAS_TH);
		memset(tso, 0x7F, sizeof(tso));
		cr_assert_eq(baton_w3c_inject(&c, tpo, sizeof(tpo), tso, sizeof(tso)),
		             BATON_OK);
		cr_assert_str_eq(tso, ths[i]);
	}
}
