/*
 * Internal core: allocation, logging, environment, clocks, random ids.
 * Symbols shared between files use the bt_ prefix; none is public.
 */
#ifndef BT_CORE_H
#define BT_CORE_H

#include <baton/baton.h>
#include <stdatomic.h>
#include <time.h>

/* Allocation goes through these; the user may replace them. */
void *bt_malloc(size_t n);
void *bt_calloc(size_t nmemb, size_t n);
void *bt_realloc(void *p, size_t n);
void bt_free(void *p);
char *bt_strdup(const char *s);
char *bt_strndup(const char *s, size_t n);

/* Logging: printf-style; cheap when the level is filtered out. */
void bt_log(baton_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define bt_warn(...)  bt_log(BATON_LOG_WARN, __VA_ARGS__)
#define bt_error(...) bt_log(BATON_LOG_ERROR, __VA_ARGS__)
#define bt_debug(...) bt_log(BATON_LOG_DEBUG, __VA_ARGS__)

/*
 * Environment parsing. Each returns true and writes *out when the variable
 * is set and valid; logs a warning and returns false when set but invalid.
 */
bool bt_env_u32(const char *name, uint32_t *out);
bool bt_env_double(const char *name, double *out);
bool bt_env_bool(const char *name, bool *out);
/* Parses a whole decimal u32 / double from [s, s+n); false on garbage. */
bool bt_parse_u32(const char *s, size_t n, uint32_t *out);
bool bt_parse_double(const char *s, size_t n, double *out);

static inline uint64_t
bt_now_unix_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t
bt_now_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Per-thread fast random numbers (wyrand), reseeded after fork. */
uint64_t bt_random_u64(void);
/* A uniform double in [0, 1). */
static inline double
bt_random_unit(void)
{
	return (double)(bt_random_u64() >> 11) * (1.0 / 9007199254740992.0);
}
/* Bumped in a forked child; per-thread generators compare and reseed. */
extern _Atomic uint32_t bt_fork_generation;
void bt_random_global_init(void);

static inline bool
bt_bytes_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

/* Threshold of the OTEP 235 randomness: low 56 bits of the trace id. */
static inline uint64_t
bt_trace_randomness(const uint8_t *trace_id)
{
	uint64_t r = 0;
	for (int i = 9; i < 16; i++)
		r = (r << 8) | trace_id[i];
	return r;
}

#endif /* BT_CORE_H */
