/*
 * W3C Baggage: the grammar, percent-encoding, the limits (64 members, 8192
 * bytes), the current context's baggage (set/get/remove, attach/detach
 * restores), and OTEL_PROPAGATORS.
 */
#include <baton/baggage.h>
#include <baton/baton.h>
#include <baton/w3c.h>
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char bufa[BATON_BAGGAGE_BUF_SIZE], bufb[BATON_BAGGAGE_BUF_SIZE];

static baton_baggage fresh(char *buf)
{
	baton_baggage bg;
	baton_baggage_init(&bg, buf, BATON_BAGGAGE_BUF_SIZE);
	return bg;
}

static baton_err parse(baton_baggage *bg, const char *s)
{
	return baton_baggage_parse(bg, s, strlen(s));
}

static const char *fmt(const baton_baggage *bg)
{
	static char out[BATON_BAGGAGE_SIZE];
	cr_assert_eq(baton_baggage_format(bg, out, sizeof(out), NULL), BATON_OK);
	return out;
}

static const char *val(const baton_baggage *bg, const char *key)
{
	const char *v = baton_baggage_value(bg, key, NULL);
	return v ? v : "(absent)";
}

Test(baggage, spec_example_parses_into_entries)
{
	baton_baggage bg = fresh(bufa);
	cr_assert_eq(parse(&bg, "userId=alice,serverNode=DF%2028,isProduction=false"),
	             BATON_OK);
	cr_assert_eq(baton_baggage_count(&bg), 3);
	cr_assert_str_eq(val(&bg, "userId"), "alice");
	cr_assert_str_eq(val(&bg, "serverNode"), "DF 28");
	cr_assert_str_eq(val(&bg, "isProduction"), "false");
	baton_baggage_entry e;
	cr_assert_eq(baton_baggage_entry_get(&bg, 1, &e), BATON_OK);
	cr_assert_eq(e.key_len, 10);
	cr_assert_eq(strncmp(e.key, "serverNode", 10), 0);
	cr_assert_eq(e.value_len, 5);
	cr_assert_eq(e.properties_len, 0);
	cr_assert_str_eq(e.properties, "");
	cr_assert_eq(baton_baggage_entry_get(&bg, 3, &e), BATON_EINVAL);
}

Test(baggage, properties_and_whitespace)
{
	baton_baggage bg = fresh(bufa);
	cr_assert_eq(parse(&bg, " \tkey1 = value1 ; propertyKey=propertyValue ; flag \t, "
	                        "k2=v2;ttl=3"),
	             BATON_OK);
	baton_baggage_entry e;
	cr_assert_eq(baton_baggage_entry_get(&bg, 0, &e), BATON_OK);
	cr_assert_str_eq(e.key, "key1");
	cr_assert_str_eq(e.value, "value1");
	cr_assert_str_eq(e.properties, "propertyKey=propertyValue ; flag");
	cr_assert_eq(baton_baggage_entry_get(&bg, 1, &e), BATON_OK);
	cr_assert_str_eq(e.properties, "ttl=3");
	cr_assert_str_eq(fmt(&bg),
	                 "key1=value1;propertyKey=propertyValue ; flag,k2=v2;ttl=3");
}

Test(baggage, percent_decoding_and_encoding_round_trip)
{
	baton_baggage bg = fresh(bufa);
	/* %e2%82%ac is the euro sign; %FF is not UTF-8 and becomes U+FFFD; a '%'
	 * without two hex digits stays a '%'. */
	cr_assert_eq(parse(&bg, "a=%e2%82%AC,b=%FF,c=100%,d=%2,e=x%2Cy%3Bz%25"),
	             BATON_OK);
	cr_assert_str_eq(val(&bg, "a"), "\xe2\x82\xac");
	cr_assert_str_eq(val(&bg, "b"), "\xef\xbf\xbd");
	cr_assert_str_eq(val(&bg, "c"), "100%");
	cr_assert_str_eq(val(&bg, "d"), "%2");
	cr_assert_str_eq(val(&bg, "e"), "x,y;z%");
	const char *out = fmt(&bg);
	cr_assert_str_eq(out, "a=%E2%82%AC,b=%EF%BF%BD,c=100%25,d=%252,e=x%2Cy%3Bz%25");
	baton_baggage again = fresh(bufb);
	cr_assert_eq(parse(&again, out), BATON_OK);
	cr_assert_eq(baton_baggage_count(&again), 5);
	for (size_t i = 0; i < 5; i++) {
		baton_baggage_entry x, y;
		baton_baggage_entry_get(&bg, i, &x);
		baton_baggage_entry_get(&again, i, &y);
		cr_assert_eq(x.value_len, y.value_len);
		cr_assert_eq(memcmp(x.value, y.value, x.value_len), 0);
	}
	/* put encodes what a value needs: spaces, quotes, commas, controls */
	baton_baggage p = fresh(bufb);
	cr_assert_eq(baton_baggage_put(&p, "k", "a b\"c,\x01", SIZE_MAX, NULL), BATON_OK);
	cr_assert_str_eq(fmt(&p), "k=a%20b%22c%2C%01");
}

Test(baggage, grammar_errors_drop_the_whole_header)
{
	static const char *const bad[] = {
	    "",       "  ",           "=v",         "k",      "k=v,",  ",k=v",
	    "k=v v",  "k=\"v\"",      "k=v;",       "k=v;=x", "k y=v", "k=v,,j=w",
	    "k=a\\b", "ke\xc3\xa9=v", "k=\xc3\xa9", "k=v\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		baton_baggage bg = fresh(bufa);
		cr_assert_eq(parse(&bg, "keep=1"), BATON_OK);
		baton_err rv = parse(&bg, bad[i]);
		if (bad[i][0] == '\0' || strcmp(bad[i], "  ") == 0) {
			/* blank: a valid, empty list */
			cr_assert_eq(rv, BATON_OK);
			cr_assert_eq(baton_baggage_count(&bg), 0);
			continue;
		}
		cr_assert_eq(rv, BATON_EFORMAT, "accepted '%s'", bad[i]);
		cr_assert_str_eq(val(&bg, "keep"), "1", "untouched on error");
	}
}

Test(baggage, repeated_headers_are_one_list_and_a_repeated_key_keeps_the_first)
{
	baton_baggage bg = fresh(bufa);
	const char *lines[] = {"a=1,b=2", "", "c=3", "a=9"};
	cr_assert_eq(baton_baggage_parse_lines(&bg, lines, NULL, 4), BATON_OK);
	cr_assert_str_eq(fmt(&bg), "a=1,b=2,c=3");
	const char *one_bad[] = {"a=1", "b"};
	cr_assert_eq(baton_baggage_parse_lines(&bg, one_bad, NULL, 2), BATON_EFORMAT);
	cr_assert_str_eq(fmt(&bg), "a=1,b=2,c=3");
}

/* 64 members and 8192 bytes pass whole; members past them are left out and counted. */
Test(baggage, limits_hold_and_extra_members_are_dropped)
{
	static char s[20000];
	size_t w = 0;
	for (int i = 0; i < 64; i++)
		w += (size_t)snprintf(s + w, sizeof(s) - w, "%sk%02d=v", i ? "," : "", i);
	baton_baggage bg = fresh(bufa);
	cr_assert_eq(parse(&bg, s), BATON_OK);
	cr_assert_eq(baton_baggage_count(&bg), 64);
	cr_assert_eq(bg.dropped, 0);
	snprintf(s + w, sizeof(s) - w, ",k64=v");
	cr_assert_eq(parse(&bg, s), BATON_OK);
	cr_assert_eq(baton_baggage_count(&bg), 64);
	cr_assert_eq(bg.dropped, 1);
	cr_assert_str_eq(val(&bg, "k64"), "(absent)");
	cr_assert_eq(baton_baggage_put(&bg, "more", "x", SIZE_MAX, NULL), BATON_ETOOBIG);
	cr_assert_eq(baton_baggage_put(&bg, "k00", "y", SIZE_MAX, NULL), BATON_OK,
	             "replacing a key is fine on a full list");

	/* exactly 8192 bytes: kept whole */
	memcpy(s, "big=", 4);
	memset(s + 4, 'x', 8188);
	s[8192] = '\0';
	cr_assert_eq(parse(&bg, s), BATON_OK);
	cr_assert_eq(baton_baggage_count(&bg), 1);
	char out[BATON_BAGGAGE_SIZE];
	size_t len;
	cr_assert_eq(baton_baggage_format(&bg, out, sizeof(out), &len), BATON_OK);
	cr_assert_eq(len, 8192);
	/* one more member passes 8192: it is dropped, the first stays */
	strcpy(s + 8192, ",a=1");
	cr_assert_eq(parse(&bg, s), BATON_OK);
	cr_assert_eq(baton_baggage_count(&bg), 1);
	cr_assert_eq(bg.dropped, 1);
	/* a value that only fits raw is judged by its formatted size */
	memcpy(s, "p=", 2);
	memset(s + 2, '%', 3000); /* each '%' formats as "%25" */
	s[3002] = '\0';
	cr_assert_eq(parse(&bg, s), BATON_OK);
	cr_assert_eq(baton_baggage_count(&bg), 0);
	cr_assert_eq(bg.dropped, 1);
	/* put refuses to pass 8192 */
	baton_baggage p = fresh(bufb);
	memset(s, 'y', 8190);
	s[8190] = '\0';
	cr_assert_eq(baton_baggage_put(&p, "k", s, SIZE_MAX, NULL), BATON_OK);
	cr_assert_eq(baton_baggage_put(&p, "j", "", SIZE_MAX, NULL), BATON_ETOOBIG);
	cr_assert_eq(baton_baggage_count(&p), 1);
}

Test(baggage, put_and_delete)
{
	baton_baggage bg = fresh(bufa);
	cr_assert_eq(baton_baggage_put(&bg, "a", "1", SIZE_MAX, NULL), BATON_OK);
	cr_assert_eq(baton_baggage_put(&bg, "b", "2", SIZE_MAX, " ttl=3 "), BATON_OK);
	cr_assert_eq(baton_baggage_put(&bg, "a", "one", SIZE_MAX, NULL), BATON_OK);
	cr_assert_str_eq(fmt(&bg), "b=2;ttl=3,a=one");
	cr_assert_eq(baton_baggage_put(&bg, "bad key", "1", SIZE_MAX, NULL),
	             BATON_EINVAL);
	cr_assert_eq(baton_baggage_put(&bg, "", "1", SIZE_MAX, NULL), BATON_EINVAL);
	cr_assert_eq(baton_baggage_put(&bg, "k", "\xff", SIZE_MAX, NULL), BATON_EINVAL);
	cr_assert_eq(baton_baggage_put(&bg, "k", "v", SIZE_MAX, "a,b"), BATON_EINVAL);
	cr_assert_eq(baton_baggage_put(&bg, "k", "v", SIZE_MAX, ";"), BATON_EINVAL);
	cr_assert_str_eq(fmt(&bg), "b=2;ttl=3,a=one", "unchanged on error");
	/* a value taken from the list's own buffer */
	const char *v = baton_baggage_value(&bg, "a", NULL);
	cr_assert_eq(baton_baggage_put(&bg, "c", v, SIZE_MAX, NULL), BATON_OK);
	cr_assert_str_eq(val(&bg, "c"), "one");
	cr_assert(baton_baggage_delete(&bg, "b"));
	cr_assert_not(baton_baggage_delete(&bg, "b"));
	cr_assert_str_eq(fmt(&bg), "a=one,c=one");
	/* a buffer too small */
	char tiny[8];
	baton_baggage t;
	baton_baggage_init(&t, tiny, sizeof(tiny));
	cr_assert_eq(baton_baggage_put(&t, "key", "value", SIZE_MAX, NULL),
	             BATON_ENOSPACE);
	cr_assert_eq(parse(&t, "key=value"), BATON_ENOSPACE);
	char small[4];
	cr_assert_eq(baton_baggage_format(&bg, small, sizeof(small), NULL),
	             BATON_ENOSPACE);
}

Test(baggage, null_arguments_are_refused)
{
	baton_baggage bg = fresh(bufa);
	cr_assert_eq(baton_baggage_parse(NULL, "a=1", 3), BATON_EINVAL);
	cr_assert_eq(baton_baggage_parse_lines(&bg, NULL, NULL, 1), BATON_EINVAL);
	cr_assert_eq(baton_baggage_format(NULL, bufb, 10, NULL), BATON_EINVAL);
	cr_assert_eq(baton_baggage_put(NULL, "a", "1", 1, NULL), BATON_EINVAL);
	cr_assert_null(baton_baggage_value(NULL, "a", NULL));
	cr_assert_eq(baton_baggage_count(NULL), 0);
	cr_assert_not(baton_baggage_delete(NULL, "a"));
	cr_assert_eq(baton_baggage_set(NULL, "v", NULL), BATON_EINVAL);
	cr_assert_eq(baton_baggage_current(NULL), BATON_EINVAL);
	cr_assert_eq(BATON_BAGGAGE_MAX_MEMBERS, 64);
	cr_assert_eq(BATON_BAGGAGE_MAX_LEN, 8192);
	cr_assert_eq(BATON_BAGGAGE_SIZE, 8193);
	cr_assert_geq(BATON_BAGGAGE_BUF_SIZE, 8192 + 2 * 64);
}

/* ---- the current context ---- */

Test(baggage_current, set_get_remove_on_the_base_context)
{
	cr_assert_null(baton_baggage_get("user", NULL));
	cr_assert_null(baton_baggage_current_header(NULL));
	cr_assert_eq(baton_baggage_set("user", "alice smith", "ttl=3"), BATON_OK);
	size_t n;
	cr_assert_str_eq(baton_baggage_get("user", &n), "alice smith");
	cr_assert_eq(n, 11);
	cr_assert_str_eq(baton_baggage_current_header(&n), "user=alice%20smith;ttl=3");
	cr_assert_eq(n, strlen("user=alice%20smith;ttl=3"));
	cr_assert_eq(baton_baggage_set("bad key", "v", NULL), BATON_EINVAL);
	cr_assert(baton_baggage_remove("user"));
	cr_assert_not(baton_baggage_remove("user"));
	cr_assert_null(baton_baggage_current_header(NULL));
}

Test(baggage_current, detach_restores_the_previous_baggage)
{
	cr_assert_eq(baton_baggage_set("a", "1", NULL), BATON_OK);
	baton_span_context c = {.state = BATON_CTX_DECIDED};
	uint32_t t1 = baton_context_attach(&c);
	cr_assert_neq(t1, 0);
	cr_assert_str_eq(baton_baggage_get("a", NULL), "1", "an attach inherits");
	cr_assert_eq(baton_baggage_set("a", "2", NULL), BATON_OK);
	cr_assert_eq(baton_baggage_set("b", "x", NULL), BATON_OK);
	uint32_t t2 = baton_context_attach(&c);
	cr_assert(baton_baggage_remove("b"));
	cr_assert_str_eq(baton_baggage_current_header(NULL), "a=2");
	baton_span_detach(t2);
	cr_assert_str_eq(baton_baggage_current_header(NULL), "a=2,b=x");
	baton_span_detach(t1);
	cr_assert_str_eq(baton_baggage_current_header(NULL), "a=1");
	cr_assert_null(baton_baggage_get("b", NULL));
	/* detaching below pops (and frees) everything above */
	t1 = baton_context_attach(&c);
	baton_baggage_set("c", "3", NULL);
	t2 = baton_context_attach(&c);
	baton_baggage_set("d", "4", NULL);
	baton_span_detach(t1);
	cr_assert_str_eq(baton_baggage_current_header(NULL), "a=1");
	baton_baggage_clear();
	cr_assert_null(baton_baggage_current_header(NULL));
}

Test(baggage_current, attach_a_list_hides_the_one_below)
{
	baton_baggage_set("ambient", "1", NULL);
	baton_baggage bg = fresh(bufa);
	cr_assert_eq(parse(&bg, "msg=hello"), BATON_OK);
	uint32_t t = baton_baggage_attach(&bg);
	cr_assert_neq(t, 0);
	cr_assert_str_eq(baton_baggage_current_header(NULL), "msg=hello");
	baton_span_detach(t);
	uint32_t e = baton_baggage_attach(NULL);
	cr_assert_null(baton_baggage_current_header(NULL), "an empty list hides it too");
	baton_span_detach(e);
	t = baton_baggage_attach_header("x=1, y = 2", 10);
	cr_assert_str_eq(baton_baggage_current_header(NULL), "x=1,y=2");
	baton_baggage copy = fresh(bufb);
	cr_assert_eq(baton_baggage_current(&copy), BATON_OK);
	cr_assert_eq(baton_baggage_count(&copy), 2);
	baton_span_detach(t);
	cr_assert_eq(baton_baggage_attach_header("bad", 3), 0);
	cr_assert_str_eq(baton_baggage_current_header(NULL), "ambient=1");
}

static void *other_thread(void *arg)
{
	(void)arg;
	/* another thread starts with none and its own does not leak back */
	if (baton_baggage_current_header(NULL) != NULL)
		return (void *)1;
	baton_baggage_set("t", "1", NULL);
	uint32_t tok = baton_baggage_attach_header("u=2", 3);
	(void)tok; /* left attached: freed at thread exit */
	return NULL;
}

Test(baggage_current, baggage_is_per_thread)
{
	baton_baggage_set("main", "1", NULL);
	pthread_t th;
	void *rv;
	cr_assert_eq(pthread_create(&th, NULL, other_thread, NULL), 0);
	pthread_join(th, &rv);
	cr_assert_null(rv);
	cr_assert_str_eq(baton_baggage_current_header(NULL), "main=1");
}

/* ---- OTEL_PROPAGATORS ---- */

static uint32_t props_for(const char *v)
{
	if (v != NULL)
		setenv("OTEL_PROPAGATORS", v, 1);
	else
		unsetenv("OTEL_PROPAGATORS");
	baton_options o = {.size = sizeof(o), .ignore_disabled_env = true};
	cr_assert_eq(baton_init(&o), BATON_OK);
	uint32_t p = baton_propagators();
	baton_fini(1000);
	return p;
}

Test(propagators, default_is_tracecontext_and_baggage)
{
	const uint32_t both = BATON_PROPAGATOR_TRACECONTEXT | BATON_PROPAGATOR_BAGGAGE;
	cr_assert_eq(baton_propagators(), both, "before baton_init");
	cr_assert_eq(props_for(NULL), both);
	cr_assert_eq(props_for(""), both);
}

Test(propagators, lists_and_none)
{
	cr_assert_eq(props_for("tracecontext"), BATON_PROPAGATOR_TRACECONTEXT);
	cr_assert_eq(props_for(" Baggage "), BATON_PROPAGATOR_BAGGAGE);
	cr_assert_eq(props_for("baggage,tracecontext"),
	             BATON_PROPAGATOR_TRACECONTEXT | BATON_PROPAGATOR_BAGGAGE);
	cr_assert_eq(props_for("none"), 0);
	cr_assert_eq(props_for("tracecontext,none"), 0);
}

static int warnings;
static void count_warn(void *arg, baton_log_level level, const char *msg)
{
	(void)arg;
	if (level == BATON_LOG_WARN && strstr(msg, "OTEL_PROPAGATORS") != NULL)
		warnings++;
}

Test(propagators, unknown_names_are_ignored_with_one_warning)
{
	baton_set_log(BATON_LOG_DEBUG, count_warn, NULL);
	cr_assert_eq(props_for("b3,tracecontext"), BATON_PROPAGATOR_TRACECONTEXT);
	cr_assert_eq(props_for("jaeger"), 0);
	cr_assert_eq(warnings, 1, "warned once, not at every baton_init");
}
