/*
 * baton/base.h: version, error codes, the allocator and the log sink: what
 * every other baton header builds on. Part of the core (baton/baton.h).
 */
#ifndef BATON_BASE_H
#define BATON_BASE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(BATON_STATIC_DEFINE)
#define BATON_API
#elif defined(__GNUC__)
#define BATON_API __attribute__((visibility("default")))
#else
#define BATON_API
#endif

#define BATON_VERSION_MAJOR 0
#define BATON_VERSION_MINOR 1
#define BATON_VERSION_PATCH 0
/* "0.1.0" */
#define BATON_VERSION_STRING "0.1.0"
/* 0xMMmmpp: compare with >= to test for a feature, as with LIBCURL_VERSION_NUM. */
#define BATON_VERSION_HEX                                                                \
	((BATON_VERSION_MAJOR << 16) | (BATON_VERSION_MINOR << 8) | BATON_VERSION_PATCH)

/* Returns the version of the library linked at run time, e.g. "0.1.0". Never NULL. */
BATON_API const char *baton_version(void);

/*
 * Error codes. 0 is success. Codes are only ever appended; a number never
 * changes meaning.
 */
typedef enum baton_err {
	BATON_OK = 0,
	BATON_EINVAL = 1,      /* an argument is invalid */
	BATON_ENOMEM = 2,      /* out of memory (the allocator returned NULL) */
	BATON_ETRUNCATED = 3,  /* input ends before its stated length */
	BATON_EFORMAT = 4,     /* input is not in the expected format */
	BATON_EVERSION = 5,    /* input is of a version this reader cannot read */
	BATON_ETOOBIG = 6,     /* input or output is larger than a limit */
	BATON_ENOSPACE = 7,    /* the caller's buffer is too small */
	BATON_ENOENV = 8,      /* the message carries no baton envelope */
	BATON_EFULL = 9,       /* a bounded queue is full; the item was dropped */
	BATON_ETIMEDOUT = 10,  /* an operation did not finish within its timeout */
	BATON_ESTATE = 11,     /* the object is in the wrong state for the call */
	BATON_ECLOSED = 12,    /* the object was shut down */
	BATON_ETRANSPORT = 13, /* a network or transport failure */
	BATON_EREJECTED = 14,  /* the peer rejected the request (not retryable) */
	BATON_ESYSTEM = 15,    /* an operating-system call failed */
	BATON_ENOTSUP = 16,    /* not supported in this build or configuration */
	BATON_EDISABLED = 17,  /* the SDK is disabled (OTEL_SDK_DISABLED) */
} baton_err;

/* Returns a static English description of err. Never NULL, also for unknown codes. */
BATON_API const char *baton_strerror(baton_err err);

/*
 * Replaces the allocator used by every part of baton. Call it before
 * baton_init() and before any other baton call, or not at all. Any of the
 * functions may be NULL to keep the C library's. Not thread-safe.
 * Returns BATON_OK, or BATON_ESTATE after baton_init().
 */
typedef struct baton_allocator {
	void *(*malloc_fn)(size_t size);
	void *(*calloc_fn)(size_t nmemb, size_t size);
	void *(*realloc_fn)(void *ptr, size_t size);
	void (*free_fn)(void *ptr);
} baton_allocator;
BATON_API baton_err baton_set_allocator(const baton_allocator *alloc);

/* Log severities for messages baton writes about itself. */
typedef enum baton_log_level {
	BATON_LOG_DEBUG = 0,
	BATON_LOG_INFO = 1,
	BATON_LOG_WARN = 2,
	BATON_LOG_ERROR = 3,
	BATON_LOG_NONE = 4,
} baton_log_level;

/*
 * Sets where baton's own diagnostics go (bad configuration, export failures).
 * The default writes WARN and above to stderr as "baton: <level>: <text>";
 * BATON_LOG_LEVEL=debug|info|warn|error|none changes the threshold (any
 * other value keeps warn and says so once). Every message is one line:
 * control bytes and malformed UTF-8 are replaced by '?', and no message
 * shows a header value or the user:password of a URL.
 * fn == NULL restores the default. fn may be called from any thread,
 * including the export worker. Thread-safe.
 */
typedef void (*baton_log_fn)(void *arg, baton_log_level level, const char *msg);
BATON_API void baton_set_log(baton_log_level min_level, baton_log_fn fn, void *arg);

#ifdef __cplusplus
}
#endif

#endif /* BATON_BASE_H */
