/* Core: versions, errors, allocator, ids, clocks. */
#include "testutil.h"
#include "util.h"

#include <baton/baton.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

Test(core, version_macros_agree_with_runtime_version)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%d.%d.%d", BATON_VERSION_MAJOR, BATON_VERSION_MINOR,
	         BATON_VERSION_PATCH);
	cr_assert_str_eq(baton_version(), buf);
	cr_assert_str_eq(BATON_VERSION_STRING, buf);
	cr_assert_eq(BATON_VERSION_HEX, (BATON_VERSION_MAJOR << 16) |
	                                    (BATON_VERSION_MINOR << 8) |
	                                    BATON_VERSION_PATCH);
	cr_assert_eq(BATON_TRACE_ID_SIZE, 16);
	cr_assert_eq(BATON_SPAN_ID_SIZE, 8);
	cr_assert_eq(BATON_TH_MAX, (uint64_t)1 << 56);
}

Test(core, strerror_never_returns_null)
{
	for (int e = -5; e < 200; e++) {
		const char *s = baton_strerror((baton_err)e);
		cr_assert_not_null(s);
		cr_assert_gt(strlen(s), 0);
	}
	cr_assert_str_eq(baton_strerror(BATON_OK), "no error");
	cr_assert_str_eq(baton_strerror((baton_err)9999), "unknown error");
	cr_assert_str_neq(baton_strerror(BATON_ETRUNCATED),
	                  baton_strerror(BATON_EFORMAT));
}

static size_t allocs;
static void *counting_malloc(size_t n)
{
	allocs++;
	return malloc(n);
}
static void *counting_calloc(size_t a, size_t b)
{
	allocs++;
	return calloc(a, b);
}

Test(core, replaced_allocator_is_used_and_cannot_change_after_init)
{
	baton_allocator a = {counting_malloc, counting_calloc, NULL, NULL};
	cr_assert_eq(baton_set_allocator(&a), BATON_OK);
	cr_assert_eq(baton_init(NULL), BATON_OK);
	cr_assert_gt(allocs, 0);
	cr_assert_eq(baton_set_allocator(NULL), BATON_ESTATE);
	baton_fini(100);
	cr_assert_eq(baton_set_allocator(NULL), BATON_OK);
}

static void *failing_malloc(size_t n)
{
	(void)n;
	return NULL;
}
static void *failing_calloc(size_t a, size_t b)
{
	(void)a;
	(void)b;
	return NULL;
}

Test(core, out_of_memory_is_an_error_not_an_abort)
{
	baton_allocator a = {failing_malloc, failing_calloc, NULL, NULL};
	cr_assert_eq(baton_set_allocator(&a), BATON_OK);
	cr_assert_eq(baton_init(NULL), BATON_ENOMEM);
	/* Nothing half-initialised: spans are no-ops. */
	baton_span s = baton_span_start(NULL, "x");
	cr_assert_not(baton_span_is_recording(s));
	baton_set_allocator(NULL);
	cr_assert_eq(baton_init(NULL), BATON_OK);
	baton_fini(100);
}

Test(core, trace_ids_are_never_zero_and_do_not_repeat)
{
	enum { N = 20000 };
	static uint8_t ids[N][16];
	for (int i = 0; i < N; i++) {
		baton_trace_id_generate(ids[i]);
		int nz = 0;
		for (int j = 0; j < 16; j++)
			nz |= ids[i][j];
		cr_assert_neq(nz, 0);
	}
	/* A repeated 56-bit random part among 20,000 ids has probability ~3e-9. */
	for (int i = 1; i < N; i++)
		cr_assert_neq(memcmp(ids[i] + 9, ids[i - 1] + 9, 7), 0);
	uint8_t sid[8];
	for (int i = 0; i < 1000; i++) {
		baton_span_id_generate(sid);
		uint64_t v;
		memcpy(&v, sid, 8);
		cr_assert_neq(v, 0);
	}
}

Test(core, random_part_of_trace_id_is_uniform)
{
	/* Each of the 7 random bytes' top bits: about half set over 4096 ids. */
	int ones[7] = {0};
	for (int i = 0; i < 4096; i++) {
		uint8_t id[16];
		baton_trace_id_generate(id);
		for (int j = 0; j < 7; j++)
			ones[j] += id[9 + j] >> 7;
	}
	/* Binomial(4096, 0.5): sd 32; +-6 sd. */
	for (int j = 0; j < 7; j++) {
		cr_assert_gt(ones[j], 2048 - 192);
		cr_assert_lt(ones[j], 2048 + 192);
	}
}

Test(core, forked_child_never_repeats_parent_ids)
{
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	uint8_t warm[16];
	baton_trace_id_generate(warm); /* the parent's generator is seeded */
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		uint8_t ids[64][16];
		for (int i = 0; i < 64; i++)
			baton_trace_id_generate(ids[i]);
		ssize_t w = write(fds[1], ids, sizeof(ids));
		_exit(w == (ssize_t)sizeof(ids) ? 0 : 1);
	}
	uint8_t mine[64][16], theirs[64][16];
	for (int i = 0; i < 64; i++)
		baton_trace_id_generate(mine[i]);
	size_t got = 0;
	while (got < sizeof(theirs)) {
		ssize_t r = read(fds[0], (char *)theirs + got, sizeof(theirs) - got);
		cr_assert_gt(r, 0);
		got += (size_t)r;
	}
	cr_assert_eq(tu_wait_child(pid), 0);
	for (int i = 0; i < 64; i++)
		for (int j = 0; j < 64; j++)
			cr_assert_neq(memcmp(mine[i], theirs[j], 16), 0);
}

Test(core, clocks_advance)
{
	uint64_t w0 = baton_time_unix_ns(), m0 = baton_time_mono_ns();
	usleep(2000);
	uint64_t w1 = baton_time_unix_ns(), m1 = baton_time_mono_ns();
	cr_assert_geq(m1 - m0, 2000000);
	cr_assert_gt(w1, w0);
	/* After 2020-01-01, in nanoseconds. */
	cr_assert_gt(w0, 1577836800ull * 1000000000ull);
}

Test(core, hex_encode_is_lowercase)
{
	uint8_t b[3] = {0x0a, 0xbc, 0xff};
	char out[7];
	baton_hex_encode(b, 3, out);
	cr_assert_str_eq(out, "0abcff");
}

Test(core, wall_clock_tracks_the_system_clock_after_calibration)
{
	struct timespec ts;
	/* Past the 20 ms calibration and one re-anchor: the TSC path is in use where
	 * available. */
	for (int i = 0; i < 60; i++) {
		baton_time_unix_ns();
		usleep(25000);
	}
	for (int i = 0; i < 1000; i++) {
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t sys = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
		uint64_t ours = baton_time_unix_ns();
		int64_t diff = (int64_t)(ours - sys);
		/* Within 1 ms of the system clock (it is read right before ours). */
		cr_assert(diff > -1000000 && diff < 1000000, "drift %lld ns at read %d",
		          (long long)diff, i);
	}
	uint64_t a = baton_time_unix_ns();
	usleep(10000);
	uint64_t b = baton_time_unix_ns();
	cr_assert_geq(b - a, 9000000, "10 ms sleep measures at least 9 ms");
	cr_assert_lt(b - a, 2000000000ull);
}

/* ---- configuration edges: one warning naming the variable, and the value used ---- */

static char err_text[8192];

/* Runs fn with stderr going to a file; leaves what it wrote in err_text. */
static const char *stderr_of(void (*fn)(void))
{
	char path[] = "/tmp/baton-stderr-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	fflush(stderr);
	int saved = dup(2);
	dup2(fd, 2);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	lseek(fd, 0, SEEK_SET);
	ssize_t n = read(fd, err_text, sizeof(err_text) - 1);
	err_text[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
	return err_text;
}

static void init_then_log(void)
{
	cr_assert_eq(baton_init(NULL), BATON_OK);
	baton_fini(100);
}

Test(core, an_unknown_log_level_is_called_out_and_warn_is_used)
{
	setenv("BATON_LOG_LEVEL", "loud", 1);
	const char *e = stderr_of(init_then_log);
	cr_assert(strstr(e, "baton: warn: BATON_LOG_LEVEL=\"loud\" is not debug, info, "
	                    "warn, error or none; using warn\n") != NULL,
	          "%s", e);
	/* Said once, not at every message. */
	e = stderr_of(init_then_log);
	cr_assert_null(strstr(e, "BATON_LOG_LEVEL"), "%s", e);
}

Test(core, an_unknown_clock_is_called_out)
{
	setenv("BATON_CLOCK", "sundial", 1);
	const char *e = stderr_of(init_then_log);
	cr_assert(strstr(e, "BATON_CLOCK=\"sundial\" is not tsc or system; using tsc") !=
	              NULL,
	          "%s", e);
	/* The clock works all the same. */
	cr_assert_gt(baton_time_unix_ns(), 1577836800ull * 1000000000ull);
}

static baton_sdk_stats stats_after_opening(int n)
{
	baton_tracer *t = baton_tracer_get("limits", NULL);
	baton_span *open = calloc((size_t)n, sizeof(baton_span));
	for (int i = 0; i < n; i++)
		open[i] = baton_span_start(t, "open");
	baton_sdk_stats s;
	baton_sdk_stats_get(&s);
	for (int i = 0; i < n; i++)
		baton_span_end(open[i]);
	free(open);
	return s;
}

static void init_always_on(void)
{
	baton_options o = {.size = sizeof(o),
	                   .sampler = baton_sampler_always_on(),
	                   .ignore_disabled_env = true};
	cr_assert_eq(baton_init(&o), BATON_OK);
}

Test(core, a_span_store_below_one_chunk_is_raised_with_a_warning)
{
	setenv("BATON_MAX_SPANS", "10", 1);
	const char *e = stderr_of(init_always_on);
	cr_assert(strstr(e, "BATON_MAX_SPANS=10 is below the minimum 64; using 64") !=
	              NULL,
	          "%s", e);
	baton_sdk_stats s = stats_after_opening(100);
	cr_assert_eq(s.spans_started, 64);
	cr_assert_eq(s.spans_dropped_no_store, 36);
	baton_fini(100);
}

Test(core, a_span_store_near_uint32_max_is_clamped_not_wrapped_to_nothing)
{
	setenv("BATON_MAX_SPANS", "4294967295", 1);
	const char *e = stderr_of(init_always_on);
	cr_assert(strstr(e, "BATON_MAX_SPANS=4294967295 is above the maximum 16777216; "
	                    "using 16777216") != NULL,
	          "%s", e);
	baton_sdk_stats s = stats_after_opening(1000);
	cr_assert_eq(s.spans_started, 1000, "tracing goes on");
	cr_assert_eq(s.spans_dropped_no_store, 0);
	baton_fini(100);
}

Test(core, a_span_store_of_zero_is_refused_with_a_warning)
{
	setenv("BATON_MAX_SPANS", "0", 1);
	const char *e = stderr_of(init_always_on);
	cr_assert(
	    strstr(e, "BATON_MAX_SPANS=0 is not allowed (at least 64); using 16384") !=
	        NULL,
	    "%s", e);
	cr_assert_eq(stats_after_opening(100).spans_started, 100);
	baton_fini(100);
}

Test(core, arena_sizes_out_of_range_are_replaced_with_a_warning)
{
	setenv("BATON_SPAN_ARENA_BYTES", "16", 1);
	const char *e = stderr_of(init_always_on);
	cr_assert(strstr(e, "BATON_SPAN_ARENA_BYTES=16 is below the minimum 256; using "
	                    "256") != NULL,
	          "%s", e);
	baton_fini(100);
	setenv("BATON_SPAN_ARENA_BYTES", "lots", 1);
	e = stderr_of(init_always_on);
	cr_assert(strstr(e, "BATON_SPAN_ARENA_BYTES=\"lots\" is not a non-negative "
	                    "integer; using 2048") != NULL,
	          "%s", e);
	baton_fini(100);
}

static baton_options opts_for_init;

static void init_with_opts(void)
{
	cr_assert_eq(baton_init(&opts_for_init), BATON_OK);
}

Test(core, span_limits_in_the_options_are_checked_too)
{
	opts_for_init = (baton_options){.size = sizeof(baton_options),
	                                .sampler = baton_sampler_always_on(),
	                                .ignore_disabled_env = true};
	opts_for_init.limits.max_live_spans = 3;
	const char *e = stderr_of(init_with_opts);
	cr_assert(strstr(e, "baton_limits.max_live_spans=3 is below the minimum 64; "
	                    "using 64") != NULL,
	          "%s", e);
	cr_assert_eq(stats_after_opening(100).spans_started, 64);
	baton_fini(100);
}

Test(core, log_lines_carry_no_control_bytes)
{
	char out[64];
	/* Printable ASCII and UTF-8 text pass; controls, C1 and broken UTF-8 do not. */
	cr_assert_eq(bt_text_sanitize(out, sizeof(out), "a\x1b[31mb\r\nc", 10), 10);
	cr_assert_str_eq(out, "a?[31mb??c");
	cr_assert_eq(bt_text_sanitize(out, sizeof(out), "caf\xc3\xa9 \xe2\x82\xac", 9),
	             9);
	cr_assert_str_eq(out, "caf\xc3\xa9 \xe2\x82\xac");
	bt_text_sanitize(out, sizeof(out), "x\xc2\x9by\xc0\xafz\xed\xa0\x80", 10);
	cr_assert_str_eq(out, "x??y??z???");
	/* A character that does not fit is cut whole. */
	cr_assert_eq(bt_text_sanitize(out, 5, "abc\xc3\xa9", 5), 3);
	cr_assert_str_eq(out, "abc");
}

Test(core, urls_in_log_lines_lose_their_credentials_and_query)
{
	char out[128];
	bt_url_for_log("http://localhost:4318/v1/traces", out, sizeof(out));
	cr_assert_str_eq(out, "http://localhost:4318/v1/traces");
	bt_url_for_log("https://u:p@ss@host:443/v1/traces", out, sizeof(out));
	cr_assert_str_eq(out, "https://REDACTED@host:443/v1/traces");
	bt_url_for_log("http://[::1]:4318/x?api_key=k&y=1#top", out, sizeof(out));
	cr_assert_str_eq(out, "http://[::1]:4318/x?REDACTED#top");
	bt_url_for_log("http://token@host?secret", out, sizeof(out));
	cr_assert_str_eq(out, "http://REDACTED@host?REDACTED");
	bt_url_for_log("host/path@x", out, sizeof(out)); /* '@' after the authority */
	cr_assert_str_eq(out, "host/path@x");
	char small[16];
	bt_url_for_log("http://user:password@a-long-host-name/", small, sizeof(small));
	cr_assert_null(strstr(small, "password"));
	cr_assert_null(strstr(small, "user"));
}

/* The envelope's check word: CRC-32C, the same with the CPU instruction and the table. */
Test(core, crc32c_has_its_check_value_and_both_ways_agree)
{
	cr_assert_eq(bt_crc32c_update(0, "123456789", 9), 0xE3069283u);
	cr_assert_eq(bt_crc32c_software(0, "123456789", 9), 0xE3069283u);
	uint8_t buf[300];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 131 + 7);
	for (size_t n = 0; n <= sizeof(buf); n += 7) {
		uint32_t whole = bt_crc32c_update(0, buf, n);
		cr_assert_eq(whole, bt_crc32c_software(0, buf, n), "n=%zu", n);
		size_t h = n / 3;
		cr_assert_eq(
		    bt_crc32c_update(bt_crc32c_update(0, buf, h), buf + h, n - h), whole);
	}
}
