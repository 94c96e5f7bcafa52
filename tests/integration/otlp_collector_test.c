/*
 * The OTLP test collector's light decoder, which the export benchmarks
 * count with: it must count exactly what full decoding counts, refuse
 * what is not a well-framed request, and have counted every request it
 * answered by the time its counts are read.
 */
#include "otlp_receiver.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <baton/baton.h>
#include <baton/otlp_http.h>
#include <baton/processor.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

TU_OTLP_SUITE(otlp_collector);

static baton_processor init_sdk(void)
{
	baton_otlp_http_options oo = {.size = sizeof(oo),
	                              .endpoint = tu_otlp_url(rcv),
	                              .timeout_ms = 5000,
	                              .compression = BATON_OTLP_COMPRESSION_NONE};
	baton_exporter e;
	cr_assert_eq(baton_otlp_http_exporter_create(&oo, &e), BATON_OK);
	baton_batch_options bo = {.size = sizeof(bo),
	                          .max_queue_size = 8192,
	                          .max_export_batch_size = 512,
	                          .schedule_delay_ms = 60000};
	baton_processor p = tu_init_batch(e, &bo);
	return p;
}

static void make_spans(int n)
{
	baton_tracer *t = baton_tracer_get("lib", "1.0");
	for (int i = 0; i < n; i++) {
		baton_span s = baton_span_start(t, "op");
		baton_span_set_int(s, "i", i);
		baton_span_set_str(s, "messaging.system", "nng");
		baton_span_end(s);
	}
}

/* POSTs body to the collector on a connection of its own; true on a 200. */
static bool post(const uint8_t *body, size_t n)
{
	int port = 0;
	cr_assert_eq(sscanf(tu_otlp_url(rcv), "http://127.0.0.1:%d", &port), 1);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	char head[160];
	int hl = snprintf(head, sizeof(head),
	                  "POST /v1/traces HTTP/1.1\r\nHost: t\r\nContent-Type: "
	                  "application/x-protobuf\r\nContent-Length: %zu\r\n\r\n",
	                  n);
	cr_assert_eq(send(fd, head, (size_t)hl, 0), hl);
	if (n > 0)
		cr_assert_eq(send(fd, body, n, 0), (ssize_t)n);
	char resp[256];
	ssize_t r = recv(fd, resp, sizeof(resp) - 1, 0);
	close(fd);
	cr_assert_gt(r, 0);
	resp[r] = '\0';
	return strncmp(resp, "HTTP/1.1 200", 12) == 0;
}

Test(otlp_collector, light_decoding_counts_what_full_decoding_counts)
{
	baton_processor p = init_sdk();
	(void)p;
	make_spans(1300);
	cr_assert_eq(baton_force_flush(10000), BATON_OK);
	tu_otlp_counts full = tu_otlp_get_counts(rcv);
	cr_assert_eq(full.spans, 1300);
	/* The last request again, now walked by the light decoder. */
	static uint8_t body[1 << 20];
	size_t n = tu_otlp_last_body(rcv, body, sizeof(body));
	cr_assert(n > 0 && n <= sizeof(body));
	/* The same body posted again, fully decoded, then walked. */
	cr_assert(post(body, n));
	tu_otlp_counts c1 = tu_otlp_get_counts(rcv);
	uint64_t full_n = c1.spans - full.spans;
	cr_assert_gt(full_n, 0);
	tu_otlp_light_decode(rcv, true);
	cr_assert(post(body, n));
	tu_otlp_counts c2 = tu_otlp_get_counts(rcv);
	cr_assert_eq(c2.spans - c1.spans, full_n);
	cr_assert_eq(c2.bad_bodies, 0);
	baton_fini(5000);
}

Test(otlp_collector, light_decoding_refuses_what_is_not_a_well_framed_request)
{
	/* resource_spans { scope_spans { span { trace_id, span_id, name } } } */
	uint8_t ok[] = {0x0a, 0x23, 0x12, 0x21, 0x12, 0x1f, 0x0a, 0x10, 1,  2,
	                3,    4,    5,    6,    7,    8,    9,    10,   11, 12,
	                13,   14,   15,   16,   0x12, 0x08, 1,    2,    3,  4,
	                5,    6,    7,    8,    0x2a, 0x01, 'x'};
	tu_otlp_light_decode(rcv, true);
	cr_assert(post(ok, sizeof(ok)));
	tu_otlp_counts c = tu_otlp_get_counts(rcv);
	cr_assert_eq(c.spans, 1);
	cr_assert_eq(c.bad_bodies, 0);

	/* Cut short by one byte: the outer length runs past the end. */
	post(ok, sizeof(ok) - 1);
	c = tu_otlp_get_counts(rcv);
	cr_assert_eq(c.spans, 1);
	cr_assert_eq(c.bad_bodies, 1);

	/* A 7-byte span_id (the lengths around it shrunk to match). */
	uint8_t short_id[sizeof(ok) - 1];
	memcpy(short_id, ok, 26);
	short_id[1] = 0x22;
	short_id[3] = 0x20;
	short_id[5] = 0x1e;
	short_id[25] = 0x07;
	memcpy(short_id + 26, ok + 27, sizeof(ok) - 27);
	post(short_id, sizeof(short_id));
	c = tu_otlp_get_counts(rcv);
	cr_assert_eq(c.spans, 1);
	cr_assert_eq(c.bad_bodies, 2);

	/* No name. */
	uint8_t no_name[sizeof(ok) - 3];
	memcpy(no_name, ok, sizeof(no_name));
	no_name[1] = 0x20;
	no_name[3] = 0x1e;
	no_name[5] = 0x1c;
	post(no_name, sizeof(no_name));
	c = tu_otlp_get_counts(rcv);
	cr_assert_eq(c.spans, 1);
	cr_assert_eq(c.bad_bodies, 3);
}

Test(otlp_collector, counts_read_after_a_flush_hold_every_answered_request)
{
	tu_otlp_light_decode(rcv, true);
	baton_processor p = init_sdk();
	for (int round = 1; round <= 5; round++) {
		make_spans(3000);
		cr_assert_eq(baton_force_flush(10000), BATON_OK);
		/* Read at once: the collector answered before counting. */
		tu_otlp_counts c = tu_otlp_get_counts(rcv);
		cr_assert_eq(c.spans, (uint64_t)round * 3000);
		cr_assert_eq(c.bad_bodies, 0);
	}
	baton_batch_stats s;
	cr_assert_eq(baton_batch_processor_stats(p, &s), BATON_OK);
	cr_assert_eq(s.spans_exported, 15000);
	baton_fini(5000);
}
