/*
 * baton/plugin.h: what a plug-in (an exporter, a sampler, a processor, a
 * transport adapter) shares with the rest of the process: the allocator set
 * with baton_set_allocator, the log sink set with baton_set_log, the one
 * registry of fork steps, and a per-thread random source. baton's own
 * exporters and transports use exactly these. Part of the core
 * (baton/baton.h).
 */
#ifndef BATON_PLUGIN_H
#define BATON_PLUGIN_H

#include <baton/base.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Allocate and free through the allocator set with baton_set_allocator (the
 * C library's by default). A size of 0 is taken as 1, so a non-NULL result
 * is always freeable. Return NULL when the allocator does. Thread-safe.
 */
BATON_API void *baton_alloc(size_t size);
BATON_API void *baton_calloc(size_t nmemb, size_t size);
BATON_API void *baton_realloc(void *ptr, size_t size);
/* Frees what the three above returned; NULL is ignored. Thread-safe. */
BATON_API void baton_free(void *ptr);

/*
 * Writes one printf-style diagnostic to the log sink (baton_set_log), if
 * level passes the threshold. The text is cut at 511 bytes and control
 * bytes and malformed UTF-8 are replaced by '?'. Never log a header value or
 * a URL's credentials. Thread-safe.
 */
BATON_API void baton_logf(baton_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/*
 * Returns 64 random bits from a per-thread generator seeded from the
 * operating system and reseeded in a forked child. Fast, not for secrets.
 * Thread-safe.
 */
BATON_API uint64_t baton_random_u64(void);

/*
 * fork(): one registry of steps and one pthread_atfork handler for the
 * whole process. A plug-in that holds a lock or a thread registers a step.
 * prepare runs in ascending order (the top layer first, so each step takes
 * its locks in the order the code takes them); parent and child run in the
 * reverse order, so the layers below work again when the steps above run.
 * Equal orders run in the order registered (prepare).
 */
typedef enum baton_fork_order {
	BATON_FORK_PROCESSOR = 10, /* processors: an export in flight ends first */
	BATON_FORK_EXPORTER = 20,  /* exporters' own locks */
	BATON_FORK_SAMPLER = 30,   /* samplers with threads or locks */
	BATON_FORK_STORE = 40,     /* the span store and its counters */
	BATON_FORK_ENVELOPE = 50,  /* the message layer's receive counters */
	BATON_FORK_DROPS = 60,     /* drop counters and their warnings */
	BATON_FORK_CLOCK = 70,     /* clock calibration */
	BATON_FORK_LOG = 80,       /* the log sink */
	BATON_FORK_RANDOM = 90,    /* random sources: reseed in the child */
} baton_fork_order;

/* One step. The caller owns the storage, which must live until unregistered. */
typedef struct baton_fork_step {
	int order;                  /* a baton_fork_order */
	void (*prepare)(void *arg); /* before fork, in the forking thread; may be NULL */
	void (*parent)(void *arg);  /* after, in the parent; may be NULL */
	/* After, in the child, where only the forking thread exists: no thread
	 * may be started here (start it when the child first needs it). */
	void (*child)(void *arg);
	void *arg;
	struct baton_fork_step *prev, *next; /* the registry's; leave zeroed */
} baton_fork_step;

/* Adds step to the registry. Thread-safe; not from inside a fork step. */
BATON_API void baton_fork_register(baton_fork_step *step);
/* Removes a registered step; a step not registered is ignored. Thread-safe. */
BATON_API void baton_fork_unregister(baton_fork_step *step);
/* Returns how many times this process is a forked child of a baton process
 * (0 in the first one): a plug-in compares it to notice that it was forked. */
BATON_API uint32_t baton_fork_generation(void);

#ifdef __cplusplus
}
#endif

#endif /* BATON_PLUGIN_H */
