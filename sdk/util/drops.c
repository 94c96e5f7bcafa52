/*
 * Drops made visible: one counter per reason, and a reporter that turns
 * their growth into rate-limited warnings, so a user learns that spans are
 * lost, how many and why, without one line per span.
 */
#include "util.h"

#include <pthread.h>
#include <stdio.h>

/* Process-wide counts, by reason; relaxed adds (only sums are ever read). */
static _Atomic uint64_t bt_drops[BT_DROP_NREASONS];

/* Reporter state: the count at the last line and when it was written. */
static pthread_mutex_t bt_drop_mtx = PTHREAD_MUTEX_INITIALIZER;
static uint64_t bt_drop_reported[BT_DROP_NREASONS];
static uint64_t bt_drop_line_ns[BT_DROP_NREASONS];
static bool bt_drop_line_once[BT_DROP_NREASONS];
/*
 * The earliest monotonic time a reason that had a line may have another;
 * UINT64_MAX while none had one (a first drop crosses 1, a power of two).
 */
static _Atomic uint64_t bt_drop_next_ns = UINT64_MAX;

/* Each reason's line: "<what>: <n> <noun> <verb> (<total> in all)<hint>". */
static const struct {
	const char *what, *one, *many, *verb, *hint, *brief;
} bt_drop_text[BT_DROP_NREASONS] = {
    {"a batch processor's queue was full", "span", "spans", "dropped",
     "; the exporter is not keeping up (OTEL_BSP_MAX_QUEUE_SIZE)", "queue full"},
    {"the span store was full at span start", "span", "spans", "not recorded",
     " (BATON_MAX_SPANS)", "span store full"},
    {"a span's arena was full", "attribute, event or link", "attributes, events or links",
     "dropped", " (BATON_SPAN_ARENA_BYTES)", "span arena full"},
    {"export failed", "span", "spans", "dropped", " after the exporter's retries",
     "export failed"},
    {"shutdown", "span", "spans", "dropped",
     ": ended after shutdown began, or not exported within its timeout", "shutdown"},
};

/* fork(): the child must not inherit the mutex held by a thread it lacks. */
static void bt_drop_fork_prepare(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&bt_drop_mtx);
}

static void bt_drop_fork_release(void *arg)
{
	(void)arg;
	pthread_mutex_unlock(&bt_drop_mtx);
}

static baton_fork_step bt_drop_fork = {.order = BATON_FORK_DROPS,
                                       .prepare = bt_drop_fork_prepare,
                                       .parent = bt_drop_fork_release,
                                       .child = bt_drop_fork_release};

__attribute__((constructor)) static void bt_drop_fork_register(void)
{
	baton_fork_register(&bt_drop_fork);
}

void bt_drop_add(bt_drop_reason reason, uint64_t n)
{
	if ((unsigned)reason >= BT_DROP_NREASONS || n == 0)
		return;
	uint64_t old =
	    atomic_fetch_add_explicit(&bt_drops[reason], n, memory_order_relaxed);
	/*
	 * old ^ new exceeds old exactly when new's top bit is above old's: the
	 * count crossed a power of two. Otherwise only a line coming due polls.
	 */
	if (((old + n) ^ old) > old ||
	    bt_coarse_ns() >=
	        atomic_load_explicit(&bt_drop_next_ns, memory_order_relaxed))
		bt_drop_poll();
}

void bt_drop_poll(void)
{
	const uint64_t interval = (uint64_t)BT_DROP_INTERVAL_MS * 1000000u;
	if (pthread_mutex_trylock(&bt_drop_mtx) != 0)
		return;
	uint64_t now = bt_now_mono_ns();
	uint64_t next = UINT64_MAX;
	for (int r = 0; r < BT_DROP_NREASONS; r++) {
		uint64_t v = atomic_load_explicit(&bt_drops[r], memory_order_relaxed);
		bool due = !bt_drop_line_once[r] || now - bt_drop_line_ns[r] >= interval;
		if (v != bt_drop_reported[r] && due) {
			uint64_t d = v - bt_drop_reported[r];
			bt_warn("%s: %llu %s %s (%llu in all)%s", bt_drop_text[r].what,
			        (unsigned long long)d,
			        d == 1 ? bt_drop_text[r].one : bt_drop_text[r].many,
			        bt_drop_text[r].verb, (unsigned long long)v,
			        bt_drop_text[r].hint);
			bt_drop_reported[r] = v;
			bt_drop_line_ns[r] = now;
			bt_drop_line_once[r] = true;
		}
		if (bt_drop_line_once[r]) {
			uint64_t at = bt_drop_line_ns[r] + interval;
			if (at <= now)
				at = now + interval; /* due, nothing new: wait on */
			if (at < next)
				next = at;
		}
	}
	atomic_store_explicit(&bt_drop_next_ns, next, memory_order_relaxed);
	pthread_mutex_unlock(&bt_drop_mtx);
}

void bt_drop_totals(uint64_t out[BT_DROP_NREASONS])
{
	for (int r = 0; r < BT_DROP_NREASONS; r++)
		out[r] = atomic_load_explicit(&bt_drops[r], memory_order_relaxed);
}

uint64_t bt_drop_summary(const char *when, const uint64_t base[BT_DROP_NREASONS])
{
	uint64_t now[BT_DROP_NREASONS], spans = 0;
	char parts[256];
	size_t len = 0;
	bt_drop_totals(now);
	parts[0] = '\0';
	for (int r = 0; r < BT_DROP_NREASONS; r++) {
		uint64_t d = now[r] - base[r];
		if (d == 0 || r == BT_DROP_ARENA_FULL)
			continue;
		spans += d;
		int w = snprintf(parts + len, sizeof(parts) - len, "%s%llu %s",
		                 len > 0 ? ", " : "", (unsigned long long)d,
		                 bt_drop_text[r].brief);
		if (w > 0 && (size_t)w < sizeof(parts) - len)
			len += (size_t)w;
	}
	uint64_t arena = now[BT_DROP_ARENA_FULL] - base[BT_DROP_ARENA_FULL];
	if (spans > 0 && arena > 0)
		bt_warn("%s: %llu span%s lost since baton_init (%s); %llu attributes, "
		        "events or links dropped (span arena full)",
		        when, (unsigned long long)spans, spans == 1 ? "" : "s", parts,
		        (unsigned long long)arena);
	else if (spans > 0)
		bt_warn("%s: %llu span%s lost since baton_init (%s)", when,
		        (unsigned long long)spans, spans == 1 ? "" : "s", parts);
	else if (arena > 0)
		bt_warn(
		    "%s: no span lost; %llu attributes, events or links dropped (span "
		    "arena full, BATON_SPAN_ARENA_BYTES)",
		    when, (unsigned long long)arena);
	/* The summary said it all: no rate-limited line repeats these counts. */
	pthread_mutex_lock(&bt_drop_mtx);
	for (int r = 0; r < BT_DROP_NREASONS; r++)
		bt_drop_reported[r] = now[r];
	pthread_mutex_unlock(&bt_drop_mtx);
	return spans;
}
