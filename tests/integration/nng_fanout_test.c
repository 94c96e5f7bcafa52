/*
 * Fanout: the broadcast helper's per-recipient decision, the pub/sub
 * recipient count each subscriber applies, the SampleRate kept spans carry,
 * and receivers after a fanout that only continue traces.
 * Counts are checked against binomial bounds of 5 standard deviations.
 */
#include <baton/baton.h>
#include <baton/nng.h>
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

#include "nng_int.h"
#include "nngutil.h"
#include "testutil.h"

static tu_memory_exporter *init_pb(size_t capacity, const char *fanout_spec)
{
	baton_exporter exp;
	tu_memory_exporter *mem;
	baton_processor proc;
	baton_sampler pb;
	baton_fanout_policy *fp = NULL;
	cr_assert_eq(tu_memory_exporter_create(capacity, &exp, &mem), BATON_OK);
	cr_assert_eq(baton_simple_processor_create(exp, &proc), BATON_OK);
	cr_assert_eq(baton_sampler_parentbased(baton_sampler_always_on(), &pb), BATON_OK);
	if (fanout_spec != NULL)
		cr_assert_eq(baton_fanout_policy_parse(fanout_spec, &fp, NULL, 0),
		             BATON_OK);
	baton_options o = {.size = sizeof(o),
	                   .sampler = pb,
	                   .processors = &proc,
	                   .nprocessors = 1,
	                   .ignore_disabled_env = true,
	                   .fanout_policy = fp};
	cr_assert_eq(baton_init(&o), BATON_OK);
	return mem;
}

static void big_buffers(nng_socket tx, nng_socket rx)
{
	cr_assert_eq(nng_socket_set_int(tx, NNG_OPT_SENDBUF, 8192), 0);
	cr_assert_eq(nng_socket_set_int(rx, NNG_OPT_RECVBUF, 8192), 0);
}

/* Binomial bounds: mean +- 5 sigma. */
static void assert_binomial(size_t got, size_t n, double p)
{
	double mean = (double)n * p, sd = sqrt((double)n * p * (1 - p));
	cr_assert(fabs((double)got - mean) <= 5 * sd + 1,
	          "%zu kept of %zu, expected %.1f +- %.1f", got, n, mean, 5 * sd);
}

static bool near(double a, double b)
{
	return fabs(a - b) <= 1e-3 * b;
}

/* Receives n messages; returns how many started a consumer span (ended at once). */
static size_t drain(nng_socket rx, size_t n, size_t len)
{
	size_t kept = 0;
	for (size_t i = 0; i < n; i++) {
		nng_msg *m;
		baton_nng_recv_info info;
		cr_assert_eq(baton_nng_recvmsg(rx, &m, 0, NULL, &info), 0, "message %zu",
		             i);
		cr_assert_eq(nng_msg_len(m), len);
		if (baton_span_is_recording(info.span)) {
			kept++;
			cr_assert(info.context.state & BATON_CTX_FANOUT);
		} else {
			cr_assert_not(baton_span_context_is_sampled(&info.context));
		}
		baton_span_end(info.span);
		nng_msg_free(m);
	}
	return kept;
}

Test(nng_fanout, broadcast_keeps_recipients_within_binomial_bounds)
{
	tu_memory_exporter *mem = init_pb(4096, NULL);
	nng_socket rx, tx;
	nu_connect("inproc", nng_pull0_open, nng_push0_open, &rx, &tx, NULL, 0);
	big_buffers(tx, rx);
	enum { N = 100, ROUNDS = 20 };
	nng_socket socks[N];
	for (int i = 0; i < N; i++)
		socks[i] = tx; /* one socket N times: N messages, N decisions */
	double keep = baton_fanout_keep_probability(NULL, N);
	cr_assert(keep > 0.099 && keep < 0.101, "keep %f", keep);
	size_t kept = 0;
	for (int r = 0; r < ROUNDS; r++) {
		size_t sent = 0;
		baton_nng_send_opts so = {.destination = "guild.42"};
		cr_assert_eq(baton_nng_broadcast(socks, N, "msg", 3, 0, &so, &sent), 0);
		cr_assert_eq(sent, N);
		kept += drain(rx, N, 3);
	}
	assert_binomial(kept, N * ROUNDS, keep);

	/* One producer span per broadcast, each with the fanout size; kept consumers are
	 * its children. */
	size_t n = tu_memory_exporter_count(mem), producers = 0, consumers = 0;
	for (size_t i = 0; i < n; i++) {
		tu_memory_span s;
		tu_memory_exporter_get(mem, i, &s);
		if (s.kind == BATON_SPAN_KIND_PRODUCER) {
			producers++;
			cr_assert_str_eq(s.name, "send guild.42");
			cr_assert(nu_has_attr(&s, "baton.fanout.recipients", "100"));
			cr_assert(near(s.sample_rate, 1.0), "producer SampleRate %f",
			          s.sample_rate);
		} else {
			consumers++;
			cr_assert(near(s.sample_rate, 1.0 / keep),
			          "consumer SampleRate %f", s.sample_rate);
			cr_assert(nu_has_attr(&s, "baton.fanout.recipients", "100"));
			tu_memory_span p;
			bool found = false;
			for (size_t j = 0; j < n && !found; j++) {
				tu_memory_exporter_get(mem, j, &p);
				found =
				    p.kind == BATON_SPAN_KIND_PRODUCER &&
				    memcmp(p.context.span_id, s.parent.span_id, 8) == 0;
			}
			cr_assert(found);
			cr_assert_arr_eq(p.context.trace_id, s.context.trace_id, 16);
		}
	}
	cr_assert_eq(producers, ROUNDS);
	cr_assert_eq(consumers, kept);
	nng_close(rx);
	nng_close(tx);
	baton_fini(1000);
}

struct drainer {
	nng_socket rx;
	size_t n, kept;
};

static void *drain_thread(void *arg)
{
	struct drainer *d = arg;
	d->kept = drain(d->rx, d->n, 1);
	return NULL;
}

Test(nng_fanout, ten_thousand_recipients_at_full_head_rate_carry_sample_rate_of_the_keep)
{
	tu_memory_exporter *mem = init_pb(4096, NULL);
	nng_socket rx, tx;
	nu_connect("inproc", nng_pull0_open, nng_push0_open, &rx, &tx, NULL, 0);
	big_buffers(tx, rx);
	size_t n = 10000;
	nng_socket *socks = malloc(n * sizeof(*socks));
	cr_assert_not_null(socks);
	for (size_t i = 0; i < n; i++)
		socks[i] = tx;
	double keep = baton_fanout_keep_probability(NULL, n);
	cr_assert(keep > 0.00095 && keep < 0.00105, "keep %f", keep);
	/* Broadcast until at least one recipient is kept (P(none in 5 rounds) < 1e-21).
	 */
	size_t kept = 0;
	for (int r = 0; r < 5 && kept == 0; r++) {
		struct drainer d = {rx, n, 0};
		pthread_t th;
		cr_assert_eq(pthread_create(&th, NULL, drain_thread, &d), 0);
		size_t sent = 0;
		cr_assert_eq(baton_nng_broadcast(socks, n, "m", 1, 0, NULL, &sent), 0);
		cr_assert_eq(sent, n);
		pthread_join(th, NULL);
		kept += d.kept;
	}
	free(socks);
	cr_assert_gt(kept, 0);
	tu_memory_span c, p;
	cr_assert_geq(nu_find(mem, BATON_SPAN_KIND_CONSUMER, NULL, &c), 0);
	cr_assert(near(c.sample_rate, 1.0 / keep), "SampleRate %f, keep %f",
	          c.sample_rate, keep);
	cr_assert(c.sample_rate > 995 && c.sample_rate < 1005, "SampleRate %f",
	          c.sample_rate);
	cr_assert_geq(nu_find(mem, BATON_SPAN_KIND_PRODUCER, NULL, &p), 0);
	cr_assert(nu_has_attr(&p, "baton.fanout.recipients", "10000"));
	nng_close(rx);
	nng_close(tx);
	baton_fini(1000);
}

Test(nng_fanout, pub_sub_subscribers_apply_the_stamped_recipient_count)
{
	tu_memory_exporter *mem = init_pb(4096, NULL);
	nng_socket sub, pub;
	nu_connect("inproc", nng_sub0_open, nng_pub0_open, &sub, &pub, NULL, 0);
	cr_assert_eq(nng_socket_set(sub, NNG_OPT_SUB_SUBSCRIBE, "", 0), 0);
	cr_assert_eq(nng_socket_set_int(sub, NNG_OPT_RECVBUF, 1024), 0);
	cr_assert_eq(nng_socket_set_int(pub, NNG_OPT_SENDBUF, 1024), 0);
	/* Wait until the subscriber is attached: pub/sub drops messages before that. */
	nu_recv_timeout(sub, 50);
	nng_msg *m;
	int rv = NNG_ETIMEDOUT;
	for (int i = 0; i < 200 && rv != 0; i++) {
		cr_assert_eq(nng_send(pub, "warmup", 6, 0), 0);
		rv = nng_recvmsg(sub, &m, 0);
	}
	cr_assert_eq(rv, 0);
	nng_msg_free(m);
	while (nng_recvmsg(sub, &m, 0) == 0)
		nng_msg_free(m);
	nu_recv_timeout(sub, 5000);

	enum { BATCH = 20, BATCHES = 50 };
	baton_nng_send_opts so = {.destination = "presence", .recipients = 100};
	size_t kept = 0;
	for (int b = 0; b < BATCHES; b++) {
		for (int i = 0; i < BATCH; i++)
			cr_assert_eq(baton_nng_send(pub, "update", 6, 0, &so), 0);
		kept += drain(sub, BATCH, 6);
	}
	double keep = baton_fanout_keep_probability(NULL, 100);
	assert_binomial(kept, BATCH * BATCHES, keep);
	cr_assert_eq(nu_count(mem, BATON_SPAN_KIND_CONSUMER), kept);
	cr_assert_eq(nu_count(mem, BATON_SPAN_KIND_PRODUCER), BATCH * BATCHES);
	tu_memory_span p, c;
	cr_assert_geq(nu_find(mem, BATON_SPAN_KIND_PRODUCER, NULL, &p), 0);
	cr_assert(nu_has_attr(&p, "baton.fanout.recipients", "100"));
	cr_assert_geq(nu_find(mem, BATON_SPAN_KIND_CONSUMER, NULL, &c), 0);
	cr_assert(near(c.sample_rate, 1.0 / keep), "SampleRate %f", c.sample_rate);
	cr_assert(nu_has_attr(&c, "baton.fanout.recipients", "100"));
	cr_assert_str_eq(c.name, "process");
	nng_close(sub);
	nng_close(pub);
	baton_fini(1000);
}

static nng_socket onward_tx;

static int forward(void *arg)
{
	(void)arg;
	return baton_nng_send(onward_tx, "onward", 6, 0, NULL);
}

/* A receiver dropped by the fanout decision continues the trace unsampled: it starts no
 * root. */
Test(nng_fanout, dropped_recipients_continue_unsampled_and_start_no_root)
{
	tu_memory_exporter *mem = init_pb(256, "1:1,2:0.000000001");
	nng_socket rx, tx;
	nu_connect("inproc", nng_pull0_open, nng_push0_open, &rx, &tx, NULL, 0);
	onward_tx = tx;
	baton_nng_send_opts so = {.recipients = 1000};
	cr_assert_eq(baton_nng_send(tx, "fan", 3, 0, &so), 0);
	nng_msg *m;
	baton_nng_recv_info info;
	cr_assert_eq(baton_nng_recvmsg(rx, &m, 0, NULL, &info), 0);
	nng_msg_free(m);
	cr_assert_eq(info.span.id, BATON_SPAN_NONE.id);
	cr_assert_eq(info.recipients, 1000);
	cr_assert(info.context.state & BATON_CTX_FANOUT);
	cr_assert_not(baton_span_context_is_sampled(&info.context));
	cr_assert_eq(baton_nng_process(&info, forward, NULL), 0);
	cr_assert_eq(nng_recvmsg(rx, &m, 0), 0);
	cr_assert_eq(nng_msg_len(m), BATON_ENVELOPE_UNSAMPLED_SIZE + 6,
	             "the onward send was sampled");
	nng_msg_free(m);
	/* Only the first producer span exists. */
	cr_assert_eq(tu_memory_exporter_count(mem), 1);
	cr_assert_eq(nu_count(mem, BATON_SPAN_KIND_PRODUCER), 1);
	nng_close(rx);
	nng_close(tx);
	baton_fini(1000);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * 10 dead recipients among 200, each with a 1 s send timeout: sent one after
 * another they blocked the broadcast for 10 s. Now the whole broadcast takes
 * about one timeout, every live recipient gets its message and each dead
 * one is reported.
 */
Test(nng_fanout, dead_recipients_cost_one_send_timeout_in_all, .timeout = 60)
{
	tu_memory_exporter *mem = init_pb(64, NULL);
	enum { N = 200 };
	static nng_socket socks[N], rxs[N];
	static int results[N];
	for (int i = 0; i < N; i++) {
		if (i % 20 == 7) {
			/* A recipient nobody listens for: a push socket with no peer. */
			cr_assert_eq(nng_push0_open(&socks[i]), 0);
			cr_assert_eq(nng_socket_set_ms(socks[i], NNG_OPT_SENDTIMEO, 1000),
			             0);
			memset(&rxs[i], 0, sizeof(rxs[i]));
		} else {
			nu_connect("inproc", nng_pull0_open, nng_push0_open, &rxs[i],
			           &socks[i], NULL, 0);
		}
	}
	size_t sent = 0;
	uint64_t t0 = now_ms();
	int rv = baton_nng_broadcast_ex(socks, N, "guild", 5, 0, NULL, results, &sent);
	uint64_t took = now_ms() - t0;
	cr_assert_eq(rv, NNG_ETIMEDOUT);
	cr_assert_eq(sent, N - 10);
	cr_assert_lt(took, 4000, "the broadcast took %llu ms", (unsigned long long)took);
	for (int i = 0; i < N; i++) {
		if (i % 20 == 7) {
			cr_assert_eq(results[i], NNG_ETIMEDOUT, "recipient %d: %d", i,
			             results[i]);
			continue;
		}
		cr_assert_eq(results[i], 0, "recipient %d: %s", i,
		             nng_strerror(results[i]));
		nng_msg *m;
		cr_assert_eq(nng_recvmsg(rxs[i], &m, 0), 0);
		baton_nng_recv_info info;
		cr_assert_eq(baton_nng_msg_open(m, NULL, &info), 0);
		cr_assert_eq(nng_msg_len(m), 5);
		baton_span_end(info.span);
		nng_msg_free(m);
	}
	tu_memory_span p;
	cr_assert_geq(nu_find(mem, BATON_SPAN_KIND_PRODUCER, NULL, &p), 0);
	cr_assert_eq(p.status, BATON_STATUS_ERROR);
	cr_assert(nu_has_attr(&p, "baton.fanout.failed", "10"));

	/* Every recipient dead: still about one timeout, not 50. */
	for (int i = 0; i < N; i++) {
		nng_close(socks[i]);
		if (i % 20 != 7)
			nng_close(rxs[i]);
	}
	for (int i = 0; i < 50; i++) {
		cr_assert_eq(nng_push0_open(&socks[i]), 0);
		cr_assert_eq(nng_socket_set_ms(socks[i], NNG_OPT_SENDTIMEO, 500), 0);
	}
	t0 = now_ms();
	rv = baton_nng_broadcast_ex(socks, 50, "guild", 5, 0, NULL, results, &sent);
	took = now_ms() - t0;
	cr_assert_eq(rv, NNG_ETIMEDOUT);
	cr_assert_eq(sent, 0);
	cr_assert_lt(took, 3000, "the broadcast took %llu ms", (unsigned long long)took);
	/* Non-blocking: the dead fail at once with NNG_EAGAIN. */
	t0 = now_ms();
	rv = baton_nng_broadcast_ex(socks, 50, "guild", 5, NNG_FLAG_NONBLOCK, NULL,
	                            results, &sent);
	cr_assert_eq(rv, NNG_EAGAIN);
	cr_assert_eq(results[49], NNG_EAGAIN);
	cr_assert_lt(now_ms() - t0, 400);
	for (int i = 0; i < 50; i++)
		nng_close(socks[i]);
	baton_fini(1000);
}

struct counter {
	nng_socket rx;
	size_t got;
	int delay_ms; /* before the first receive */
};

static void *count_thread(void *arg)
{
	struct counter *c = arg;
	if (c->delay_ms > 0) {
		struct timespec ts = {c->delay_ms / 1000,
		                      (long)(c->delay_ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
	for (;;) {
		nng_msg *m;
		baton_nng_recv_info info;
		if (baton_nng_recvmsg(c->rx, &m, 0, NULL, &info) != 0)
			break; /* the receive timeout: nothing more is coming */
		baton_span_end(info.span);
		bool bye = nng_msg_len(m) == 3 && memcmp(nng_msg_body(m), "bye", 3) == 0;
		nng_msg_free(m);
		if (bye)
			break;
		c->got++;
	}
	return NULL;
}

/*
 * More recipients than aios may be in flight, on unbuffered sockets whose
 * receivers start late, so nearly every send waits: the broadcast never
 * has more than BATON_NNG_BROADCAST_INFLIGHT aios at once (it had one per
 * waiting recipient), reuses them as sends finish, and every recipient,
 * live or dead, gets its own result.
 */
Test(nng_fanout, sends_in_flight_stay_within_the_bound_and_every_live_recipient_gets_one,
     .timeout = 120)
{
	init_pb(64, NULL);
	enum { K = 4, N = BATON_NNG_BROADCAST_INFLIGHT * 5 / 2 + 3 };
	nng_socket tx[K], dead;
	struct counter c[K];
	pthread_t th[K];
	for (int k = 0; k < K; k++) {
		c[k] = (struct counter){.delay_ms = 300};
		nu_connect("inproc", nng_pull0_open, nng_push0_open, &c[k].rx, &tx[k],
		           NULL, 0);
		nu_recv_timeout(c[k].rx, 20000);
		cr_assert_eq(pthread_create(&th[k], NULL, count_thread, &c[k]), 0);
	}
	cr_assert_eq(nng_push0_open(&dead), 0);
	cr_assert_eq(nng_socket_set_ms(dead, NNG_OPT_SENDTIMEO, 3000), 0);
	nng_socket *socks = malloc(N * sizeof(*socks));
	int *results = malloc(N * sizeof(*results));
	cr_assert(socks != NULL && results != NULL);
	size_t ndead = 0;
	for (size_t i = 0; i < N; i++) {
		bool d = i % 1000 == 999;
		socks[i] = d ? dead : tx[i % K];
		ndead += d;
		results[i] = -1;
	}
	size_t sent = 0;
	int rv = baton_nng_broadcast_ex(socks, N, "guild", 5, 0, NULL, results, &sent);
	cr_assert_eq(rv, NNG_ETIMEDOUT);
	cr_assert_eq(sent, N - ndead);
	size_t aios = bt_nng_broadcast_last_aios();
	cr_assert_leq(aios, BATON_NNG_BROADCAST_INFLIGHT, "%zu aios in flight", aios);
	cr_assert_geq(aios, BATON_NNG_BROADCAST_INFLIGHT / 2,
	              "%zu aios: the sends were not pipelined", aios);
	for (size_t i = 0; i < N; i++) {
		cr_assert_eq(results[i], i % 1000 == 999 ? NNG_ETIMEDOUT : 0,
		             "recipient %zu: %d", i, results[i]);
	}
	size_t got = 0;
	for (int k = 0; k < K; k++) {
		cr_assert_eq(nng_send(tx[k], "bye", 3, 0), 0);
		pthread_join(th[k], NULL);
		got += c[k].got;
		nng_close(tx[k]);
		nng_close(c[k].rx);
	}
	cr_assert_eq(got, N - ndead);
	nng_close(dead);
	free(socks);
	free(results);
	baton_fini(1000);
}

/*
 * More dead recipients than aios: each batch of BATON_NNG_BROADCAST_INFLIGHT
 * holds the aios for one send timeout (3 here, not one per recipient),
 * each recipient reporting NNG_ETIMEDOUT, and no more aios than the bound.
 */
Test(nng_fanout, more_dead_recipients_than_aios_cost_one_timeout_per_batch, .timeout = 60)
{
	init_pb(64, NULL);
	enum { N = BATON_NNG_BROADCAST_INFLIGHT * 3 };
	nng_socket dead;
	cr_assert_eq(nng_push0_open(&dead), 0);
	cr_assert_eq(nng_socket_set_ms(dead, NNG_OPT_SENDTIMEO, 500), 0);
	nng_socket *socks = malloc(N * sizeof(*socks));
	int *results = malloc(N * sizeof(*results));
	cr_assert(socks != NULL && results != NULL);
	for (size_t i = 0; i < N; i++)
		socks[i] = dead;
	size_t sent = 1;
	uint64_t t0 = now_ms();
	int rv = baton_nng_broadcast_ex(socks, N, "guild", 5, 0, NULL, results, &sent);
	uint64_t took = now_ms() - t0;
	cr_assert_eq(rv, NNG_ETIMEDOUT);
	cr_assert_eq(sent, 0);
	cr_assert_lt(took, 3000, "the broadcast took %llu ms", (unsigned long long)took);
	for (size_t i = 0; i < N; i++)
		cr_assert_eq(results[i], NNG_ETIMEDOUT, "recipient %zu: %d", i,
		             results[i]);
	cr_assert_leq(bt_nng_broadcast_last_aios(), BATON_NNG_BROADCAST_INFLIGHT);
	nng_close(dead);
	free(socks);
	free(results);
	baton_fini(1000);
}
