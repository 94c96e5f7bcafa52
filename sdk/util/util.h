/*
 * The internal utility layer: allocation and logging (through the core's
 * baton/plugin.h), byte buffers, UTF-8, the list tokenizer, environment
 * parsing, clocks, random ids, CRC-32C. Symbols shared between files use the
 * bt_ prefix; none is exported from a shared library. Private to baton's own
 * libraries: the stateless parts are linked into each of them, the ones with
 * process-wide state (allocator, log sink, fork registry, random, drops)
 * live only in the core and are reached through baton/plugin.h.
 */
#ifndef BT_UTIL_H
#define BT_UTIL_H

#include <baton/baton.h>
#include <baton/plugin.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/*
 * Thread-locals on hot paths use the initial-exec model: a direct
 * %fs-relative access instead of a __tls_get_addr call in the shared library.
 */
#define BT_TLS _Thread_local __attribute__((tls_model("initial-exec")))
/* A slow path kept out of line, so that its caller needs no stack frame. */
#define BT_NOINLINE __attribute__((noinline))

/*
 * Fetches the cache line at p to be written: owned by this core, so that
 * the write does not wait to take it from another core's cache. On x86-64
 * that is PREFETCHW, which the compiler emits only when told the CPU has
 * it; every x86-64 CPU runs it (as a no-op where it lacks it).
 */
static inline void bt_prefetch_w(const void *p)
{
#if defined(__x86_64__)
	__asm__ volatile("prefetchw %0" : : "m"(*(const char *)p));
#else
	__builtin_prefetch(p, 1);
#endif
}

/* Allocation goes through these; the user may replace them. */
static inline void *bt_malloc(size_t n)
{
	return baton_alloc(n);
}
static inline void *bt_calloc(size_t nmemb, size_t n)
{
	return baton_calloc(nmemb, n);
}
static inline void *bt_realloc(void *p, size_t n)
{
	return baton_realloc(p, n);
}
static inline void bt_free(void *p)
{
	baton_free(p);
}
char *bt_strdup(const char *s);
char *bt_strndup(const char *s, size_t n);

/*
 * A growable byte buffer that never grows past max bytes (the exporters
 * build their output in one). A failed append (allocation failure or the
 * cap) sets fail and later appends do nothing, so a writer appends freely
 * and checks fail once at the end. Zero-initialised with max set, or
 * bt_buf_init, is ready to use.
 */
typedef struct bt_buf {
	char *p;
	size_t len, cap, max;
	bool fail;
} bt_buf;
void bt_buf_init(bt_buf *b, size_t max);
void bt_buf_fini(bt_buf *b);
/* Empties b (keeps its memory) and clears fail. */
void bt_buf_reset(bt_buf *b);
/* Makes room for n more bytes; false (and fail set) when it cannot. */
bool bt_buf_reserve(bt_buf *b, size_t n);
void bt_buf_put(bt_buf *b, const char *s, size_t n);
void bt_buf_puts(bt_buf *b, const char *s);
void bt_buf_putc(bt_buf *b, char c);
/* Appends at most 255 formatted bytes. */
void bt_buf_printf(bt_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* v in decimal, no padding (INT64_MIN included). */
void bt_buf_put_u64(bt_buf *b, uint64_t v);
void bt_buf_put_i64(bt_buf *b, int64_t v);
/*
 * Appends s[0..n) as the inside of a JSON string (no quotes): '"', '\\' and
 * control characters escaped (\n, \r, \t, else \u00XX), well-formed UTF-8
 * kept, every byte of ill-formed UTF-8 written as \ufffd. The one JSON
 * string writer of the exporters.
 */
void bt_buf_put_json_text(bt_buf *b, const char *s, size_t n);

/*
 * UTF-8 (utf8.c), the library's one copy. Well-formed means Unicode's
 * definition: no overlong forms, no surrogates, nothing above U+10FFFF.
 * Every span string that reaches an exporter is well-formed UTF-8; these
 * make it so. No allocation (but bt_buf_put_utf8); thread-safe.
 */
/* Length (1-4) of the well-formed character at s (n bytes left); 0 when
 * the bytes at s are ill-formed or n is 0. */
size_t bt_utf8_valid_len(const char *s, size_t n);
/* Length of the longest well-formed prefix of s[0..n): n when all is.
 * Inline for the common all-ASCII case (span strings are mostly short):
 * a word at a time, the last word overlapping the one before, a string
 * under 8 bytes in two overlapping loads; the first word with a high bit
 * hands over to the full check from where the ASCII ends. */
size_t bt_utf8_valid_prefix_from(const char *s, size_t n, size_t i);
static inline size_t bt_utf8_valid_prefix(const char *s, size_t n)
{
	const uint64_t hi = 0x8080808080808080ULL;
	if (n >= 8) {
		uint64_t w;
		size_t i = 0;
		for (; i + 8 < n; i += 8) {
			__builtin_memcpy(&w, s + i, 8);
			if (w & hi)
				return bt_utf8_valid_prefix_from(s, n, i);
		}
		__builtin_memcpy(&w, s + n - 8, 8);
		return w & hi ? bt_utf8_valid_prefix_from(s, n, i) : n;
	}
	if (n == 0)
		return 0;
	uint32_t a, b;
	if (n >= 4) {
		__builtin_memcpy(&a, s, 4);
		__builtin_memcpy(&b, s + n - 4, 4);
	} else {
		a = (uint8_t)s[0] | (uint32_t)(uint8_t)s[n / 2] << 8;
		b = (uint8_t)s[n - 1];
	}
	return (a | b) & (uint32_t)hi ? bt_utf8_valid_prefix_from(s, n, 0) : n;
}
/* The largest length <= max at which s[0..n) can be cut without splitting
 * a well-formed character (an ill-formed byte counts as one unit). */
size_t bt_utf8_truncate(const char *s, size_t n, size_t max);
/*
 * Copies s[0..n) into dst as well-formed UTF-8: each byte that does not
 * start a well-formed character becomes U+FFFD (3 bytes). Stops before the
 * first character that would take the output past cap bytes or past
 * max_chars characters (SIZE_MAX: no limit). Returns the bytes written;
 * with dst NULL it only counts them. No NUL is added. For well-formed
 * input the output is a prefix of s, cut between characters.
 */
size_t bt_utf8_sanitize(char *dst, size_t cap, const char *s, size_t n, size_t max_chars);
/* Appends s[0..n) to b as bt_utf8_sanitize would write it. */
void bt_buf_put_utf8(bt_buf *b, const char *s, size_t n);

/* The orders of the registered steps, in prepare order; returns their number. */
size_t bt_fork_steps(int *orders, size_t cap);

/*
 * Per-thread counters (tcount.c): the span store's and the message layer's.
 * A thread adds to its own block with a plain load and store (only it
 * writes there: no locked instruction). The block joins its set on the
 * thread's first count, and its counts move to the set's retired sums
 * when the thread exits. A forked child keeps only the forking thread's
 * block and moves the others' counts to the retired sums: a thread the
 * child starts may be given a dead thread's thread-locals, and would
 * otherwise join the list a second time at the same address and make it
 * a loop.
 *
 * A block is a thread-local struct whose first member is a bt_tcount_link
 * and whose second is the set's n counters, _Atomic uint64_t c[n] (each
 * user checks the layout with BT_TCOUNT_LAYOUT).
 */
typedef struct bt_tcount_link {
	/* next and pprev are the set's (under its lock); set is the block's
	 * own thread's, NULL until it joins: what its counting path reads. */
	struct bt_tcount_link *next, **pprev;
	struct bt_tcount_set *set;
} bt_tcount_link;
typedef struct bt_tcount_set {
	pthread_mutex_t mtx;
	bt_tcount_link *list;
	uint64_t *retired; /* n: the counts of threads that are gone */
	uint32_t n;
	bool ready; /* the exit key is made and the fork step registered */
	pthread_key_t key;
	baton_fork_step fork;
} bt_tcount_set;
#define BT_TCOUNT_SET(retired_, n_, fork_order_)                                         \
	{                                                                                \
		.mtx = PTHREAD_MUTEX_INITIALIZER, .retired = (retired_), .n = (n_),      \
		.fork = {                                                                \
			.order = (fork_order_)                                           \
		}                                                                        \
	}
#define BT_TCOUNT_LAYOUT(type, counters)                                                 \
	_Static_assert(offsetof(type, counters) == sizeof(bt_tcount_link),               \
	               "a tcount block's counters follow its link")
static inline _Atomic uint64_t *bt_tcount_values(bt_tcount_link *l)
{
	return (_Atomic uint64_t *)(void *)(l + 1);
}
/* Makes the set's thread-exit key and registers its fork step; from a
 * constructor (one thread). */
void bt_tcount_set_init(bt_tcount_set *s);
/* Adds the calling thread's block l to s: on the thread's first count. */
void bt_tcount_join(bt_tcount_set *s, bt_tcount_link *l);
/* out[0..n) = the retired sums plus every block's counts, less base when
 * base is not NULL; rebase: base becomes the sums (both under the lock). */
void bt_tcount_sum(bt_tcount_set *s, uint64_t *out, uint64_t *base, bool rebase);

/*
 * CRC-32C of n bytes at p, continuing from crc (0 to start): bt_crc32c_update(
 * bt_crc32c_update(0, a, n), b, m) is the CRC of a then b. The CPU's crc32
 * instruction where there is one; bt_crc32c_software always uses the table.
 */
uint32_t bt_crc32c_update(uint32_t crc, const void *p, size_t n);
uint32_t bt_crc32c_software(uint32_t crc, const void *p, size_t n);

/* Logging: printf-style; cheap when the level is filtered out. */
#define bt_log        baton_logf
#define bt_warn(...)  bt_log(BATON_LOG_WARN, __VA_ARGS__)
#define bt_error(...) bt_log(BATON_LOG_ERROR, __VA_ARGS__)
#define bt_debug(...) bt_log(BATON_LOG_DEBUG, __VA_ARGS__)

/*
 * Copies src[0..n) into dst (cap bytes, cap > 0, always NUL-terminated),
 * replacing every byte that could steer a terminal or a log parser with
 * '?': C0 controls (newline and escape included), DEL, C1 controls
 * (U+0080..U+009F) and anything that is not well-formed UTF-8. Printable
 * ASCII and other valid UTF-8 pass unchanged; a sequence that does not fit
 * is cut whole. Returns the length written. Every log line goes through it;
 * so does text from a peer before it is stored. Thread-safe.
 */
size_t bt_text_sanitize(char *dst, size_t cap, const char *src, size_t n);
/*
 * Writes url into out (cap > 0 bytes, NUL-terminated) the way a log line
 * may show it: the userinfo (user:password@) becomes "REDACTED@" and a
 * query string "?REDACTED" (tokens travel there too). Never fails; a URL
 * that does not fit is replaced by a placeholder. Thread-safe.
 */
void bt_url_for_log(const char *url, char *out, size_t cap);

/*
 * Environment parsing. Each returns true and writes *out when the variable
 * is set and valid; logs a warning and returns false when set but invalid.
 */
bool bt_env_u32(const char *name, uint32_t *out);
/*
 * A setting that must lie in [lo, hi] (lo >= 1): what, named in warnings,
 * is an environment variable or an options field. 0 is refused and gives
 * dflt; a value below lo gives lo and one above hi gives hi; each with one
 * warning naming what, the value and the value used. Returns the value to use.
 */
uint32_t bt_u32_in_range(const char *what, uint32_t v, uint32_t dflt, uint32_t lo,
                         uint32_t hi);
/*
 * Reads the environment variable name through bt_u32_in_range: unset or
 * empty gives dflt silently; garbage gives dflt with a warning that says so.
 */
uint32_t bt_env_u32_in_range(const char *name, uint32_t dflt, uint32_t lo, uint32_t hi);
/*
 * Warn once per process when BATON_CLOCK, or BATON_LOG_LEVEL, is set to
 * something they do not know (baton_init calls both).
 */
void bt_env_check_clock(void);
void bt_log_check_env(void);
bool bt_env_double(const char *name, double *out);
bool bt_env_bool(const char *name, bool *out);
/* bt_env_bool() without the warning: for a second reader of a variable that
 * another part of baton reads (and warns about) too. */
bool bt_env_bool_quiet(const char *name, bool *out);
/* Parses a whole decimal u32 / double from [s, s+n); false on garbage. */
bool bt_parse_u32(const char *s, size_t n, uint32_t *out);
bool bt_parse_double(const char *s, size_t n, double *out);

/*
 * Drops: every place that drops a span (or a part of one) counts it here,
 * by reason, with one relaxed atomic add. bt_drop_poll turns the counts
 * into warnings: one line per reason with the number dropped since its last
 * line, at most one per reason every BT_DROP_INTERVAL_MS. The batch worker
 * polls about once a second; bt_drop_add polls by itself only when a count
 * crosses a power of two, so the caller's path pays one clock read per
 * doubling and nothing else.
 */
typedef enum bt_drop_reason {
	BT_DROP_QUEUE_FULL, /* a batch processor's queue was full */
	BT_DROP_NO_STORE,   /* the span store was full when a span started */
	BT_DROP_ARENA_FULL, /* an attribute, event or link: the span's arena was full */
	BT_DROP_EXPORT_FAILED, /* the exporter failed, after its retries */
	BT_DROP_SHUTDOWN,      /* ended after shutdown, or not exported in its time */
	BT_DROP_NREASONS
} bt_drop_reason;
#define BT_DROP_INTERVAL_MS 5000

void bt_drop_add(bt_drop_reason reason, uint64_t n);
/* Logs what is due. Never blocks: a poll already under way elsewhere wins. */
void bt_drop_poll(void);
/* Counts since the process started (fork: inherited). */
void bt_drop_totals(uint64_t out[BT_DROP_NREASONS]);
/*
 * Logs one warning line, prefixed by when (e.g. "baton_fini"), of what was
 * dropped since the totals were base, by reason; nothing when nothing was.
 * Returns the number of spans dropped since base (arena drops are not spans
 * and are not included).
 */
uint64_t bt_drop_summary(const char *when, const uint64_t base[BT_DROP_NREASONS]);

/*
 * Wall clock. Where the TSC is invariant, a span timestamp is one rdtsc
 * scaled by a factor that clock.c calibrates against CLOCK_REALTIME and
 * re-anchors every second (a seqlock guards the anchor); elsewhere, or with
 * BATON_CLOCK=system, it is clock_gettime(CLOCK_REALTIME).
 */
struct bt_clock {
	_Atomic uint32_t seq; /* odd while the anchor is being written */
	_Atomic bool tsc;     /* the TSC path is calibrated and in use */
	_Atomic uint64_t base_tsc, base_ns,
	    mult;                  /* ns = base_ns + (tsc - base_tsc) * mult >> 32 */
	_Atomic uint64_t next_tsc; /* re-anchor when the TSC passes this */
};
extern struct bt_clock bt_clock;
uint64_t bt_clock_slow(void);
void bt_clock_init(void);

static inline uint64_t bt_now_unix_ns(void)
{
#if defined(__x86_64__)
	if (__builtin_expect(atomic_load_explicit(&bt_clock.tsc, memory_order_relaxed),
	                     1)) {
		uint64_t t = __builtin_ia32_rdtsc();
		/*
		 * Seqlock read without a fence (TSan does not model fences): the
		 * acquire loads keep the second read of seq after the fields, and
		 * pair with the writer's release stores. On x86 they are plain loads.
		 */
		uint32_t s1 = atomic_load_explicit(&bt_clock.seq, memory_order_acquire);
		uint64_t bt =
		    atomic_load_explicit(&bt_clock.base_tsc, memory_order_acquire);
		uint64_t bn =
		    atomic_load_explicit(&bt_clock.base_ns, memory_order_acquire);
		uint64_t m = atomic_load_explicit(&bt_clock.mult, memory_order_acquire);
		uint64_t nx =
		    atomic_load_explicit(&bt_clock.next_tsc, memory_order_acquire);
		uint32_t s2 = atomic_load_explicit(&bt_clock.seq, memory_order_relaxed);
		if (__builtin_expect(s1 == s2 && !(s1 & 1) && t >= bt && t < nx, 1))
			return bn + (uint64_t)(((__uint128_t)(t - bt) * m) >> 32);
	}
#endif
	return bt_clock_slow();
}

static inline uint64_t bt_now_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Per-thread fast random numbers (wyrand), reseeded after fork. */
struct bt_rng {
	uint64_t state;
	uint32_t generation;
	bool seeded;
};
extern BT_TLS struct bt_rng bt_rng;
/* Bumped in a forked child; per-thread generators compare and reseed. */
extern _Atomic uint32_t bt_fork_generation;
void bt_rng_seed(struct bt_rng *r);

static inline uint64_t bt_random_u64(void)
{
	struct bt_rng *r = &bt_rng;
	/*
	 * Relaxed is enough: the child's atfork handler runs on the forking
	 * thread before fork() returns, and other threads do not exist in the
	 * child; a thread created later sees the value through pthread_create.
	 */
	if (__builtin_expect(!r->seeded || r->generation !=
	                                       atomic_load_explicit(&bt_fork_generation,
	                                                            memory_order_relaxed),
	                     0))
		bt_rng_seed(r);
	/* wyrand */
	r->state += 0xa0761d6478bd642fULL;
	__uint128_t m = (__uint128_t)r->state * (r->state ^ 0xe7037ed1a0b428dbULL);
	return (uint64_t)(m >> 64) ^ (uint64_t)m;
}
/* A uniform double in [0, 1). */
static inline double bt_random_unit(void)
{
	return (double)(bt_random_u64() >> 11) * (1.0 / 9007199254740992.0);
}
void bt_random_global_init(void);

static inline bool bt_bytes_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

/* Threshold of the OTEP 235 randomness: low 56 bits of the trace id. */
static inline uint64_t bt_trace_randomness(const uint8_t *trace_id)
{
	uint64_t r = 0;
	for (int i = 9; i < 16; i++)
		r = (r << 8) | trace_id[i];
	return r;
}

/*
 * Starts a thread of baton's own with every signal blocked (thread.c), so
 * that none of the application's signal handlers runs on it. Returns
 * pthread_create's result.
 */
int bt_thread_create(pthread_t *t, void *(*fn)(void *), void *arg);

/*
 * Fixed text (image.c, core only): whether s[0..n] (the NUL included) lies
 * in a read-only segment of the program or of the library holding baton's
 * core, bytes that no code can change and no dlclose() can unmap. Thread-safe.
 */
bool bt_text_fixed(const char *s, size_t n);

/* The extent of each of the two objects' read-only segments, once read. */
struct bt_fixed_hull {
	_Atomic bool ready;
	uintptr_t lo[2], hi[2];
};
extern struct bt_fixed_hull bt_fixed_hull;

/*
 * The cheap first test for bt_text_fixed, inline: false when p lies outside
 * both objects' read-only extent (a heap or stack buffer: it cannot be
 * fixed text); true inside, and before the ranges are read.
 */
static inline bool bt_addr_maybe_fixed(const void *s)
{
	if (!atomic_load_explicit(&bt_fixed_hull.ready, memory_order_acquire))
		return true;
	uintptr_t p = (uintptr_t)s;
	return p - bt_fixed_hull.lo[0] < bt_fixed_hull.hi[0] - bt_fixed_hull.lo[0] ||
	       p - bt_fixed_hull.lo[1] < bt_fixed_hull.hi[1] - bt_fixed_hull.lo[1];
}

/*
 * Waits and coarse time (deadline.c). bt_coarse_ns: CLOCK_MONOTONIC_COARSE
 * in ns (a few ns to read, a few ms of resolution: rate limits, log
 * intervals). bt_timespec_in: the time ns from now on clock clk, as the
 * absolute timespec pthread's timed waits take (CLOCK_MONOTONIC for a
 * condition variable with that clock attribute, CLOCK_REALTIME for
 * pthread_mutex_timedlock). bt_timespec_passed: whether clk is past ts.
 */
uint64_t bt_coarse_ns(void);
struct timespec bt_timespec_in(clockid_t clk, uint64_t ns);
bool bt_timespec_passed(clockid_t clk, const struct timespec *ts);

/*
 * Comma-separated lists (list.c). A cursor starts at the list's first byte
 * (a NULL list has no items, an empty one has one empty item).
 * bt_list_next_raw writes the next item as it is, bt_list_next trimmed of
 * spaces and tabs; both return false when there is none left. Items are
 * never NUL-terminated and may be empty. Thread-safe (no state).
 */
bool bt_list_next_raw(const char **cur, const char **item, size_t *n);
bool bt_list_next(const char **cur, const char **item, size_t *n);
/* Trims spaces and tabs from both ends of [*s, *s + *n). */
void bt_trim(const char **s, size_t *n);
/*
 * Percent-encoding (list.c), as OTEL_RESOURCE_ATTRIBUTES and
 * OTEL_EXPORTER_OTLP_HEADERS use it. bt_pct_valid: every '%' in [s, s+n)
 * starts %XX with two hex digits, not %00. bt_pct_decode: decodes
 * [s, s+n) into out (cap bytes, NUL-terminated); false on an escape
 * bt_pct_valid refuses, on a result that does not fit, and with
 * BT_PCT_NO_CONTROL on a control byte (C0) or DEL in the result.
 */
#define BT_PCT_NO_CONTROL 1
bool bt_pct_valid(const char *s, size_t n);
bool bt_pct_decode(const char *s, size_t n, char *out, size_t cap, int flags);
/* Parses OTEL_RESOURCE_ATTRIBUTES-style "k=v,k2=v2" (percent-decoded) and calls
 * fn for each well-formed pair; malformed entries are skipped with a warning
 * naming what (the variable). */
void bt_parse_kv_list(const char *s, const char *what,
                      void (*fn)(void *arg, const char *k, const char *v), void *arg);

#endif /* BT_UTIL_H */
