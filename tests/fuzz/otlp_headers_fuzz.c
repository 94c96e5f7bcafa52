/*
 * OTEL_EXPORTER_OTLP_HEADERS to request header lines: the list parser
 * (bt_parse_kv_list) then the line builder (bt_otlp_header_line), as the
 * OTLP/HTTP exporter chains them. Invariants: every line produced is
 * "Name: value" with Name a non-empty RFC 9110 token and a value without
 * CR, LF, NUL or other control characters but tab; lines come only from
 * well-formed entries (key=value with a non-empty key and good
 * %-escapes), exactly those, in order, with the decoded key and value; a
 * well-formed entry whose name is a token and value clean is never
 * refused unless the line would not fit.
 */
#include "otlp_int.h"
#include "trace/trace_int.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ENTRIES 512

typedef struct entry {
	char k[4097], v[4097];
} entry;

static entry want[MAX_ENTRIES];
static size_t nwant, ngot;

static void quiet(void *arg, baton_log_level level, const char *msg)
{
	(void)arg;
	(void)level;
	(void)msg;
}

static bool tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* %-decodes and trims [s, s+n) into out; false on a bad or %00 escape. */
static bool ref_decode(const char *s, size_t n, char *out)
{
	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%') {
			out[o++] = s[i];
			continue;
		}
		if (i + 2 >= n || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0)
			return false;
		int v = hexval(s[i + 1]) * 16 + hexval(s[i + 2]);
		if (v == 0)
			return false;
		out[o++] = (char)v;
		i += 2;
	}
	out[o] = '\0';
	return true;
}

/* The well-formed entries of s, as the parser must report them. */
static void reference(const char *s)
{
	nwant = 0;
	for (const char *p = s;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		if (eq != NULL && len <= 4096 && nwant < MAX_ENTRIES) {
			entry *e = &want[nwant];
			if (ref_decode(p, (size_t)(eq - p), e->k) &&
			    ref_decode(eq + 1, len - (size_t)(eq - p) - 1, e->v) &&
			    e->k[0] != '\0')
				nwant++;
		}
		if (comma == NULL)
			break;
		p = comma + 1;
	}
}

static void check(void *arg, const char *k, const char *v)
{
	(void)arg;
	if (ngot >= nwant || strcmp(k, want[ngot].k) != 0 || strcmp(v, want[ngot].v) != 0)
		abort(); /* an entry the reference does not have */
	ngot++;
	char line[1024];
	const char *why = bt_otlp_header_line(k, v, line, sizeof(line));
	bool token = k[0] != '\0';
	for (const char *c = k; *c != '\0'; c++)
		token = token && tchar((unsigned char)*c);
	bool clean = true;
	for (const unsigned char *c = (const unsigned char *)v; *c != '\0'; c++)
		clean = clean && !((*c < 0x20 && *c != '\t') || *c == 0x7f);
	bool fits = strlen(k) + 2 + strlen(v) < sizeof(line);
	if (why == NULL) {
		/* Produced: must be exactly "k: v", and k a token, v clean. */
		size_t kn = strlen(k);
		if (!token || !clean || !fits || strncmp(line, k, kn) != 0 ||
		    line[kn] != ':' || line[kn + 1] != ' ' ||
		    strcmp(line + kn + 2, v) != 0 || strpbrk(line, "\r\n") != NULL)
			abort();
	} else if (token && clean && fits) {
		abort(); /* a good entry refused */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool quieted;
	if (!quieted) {
		baton_set_log(BATON_LOG_NONE, quiet, NULL);
		quieted = true;
	}
	char *s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0'; /* an environment variable ends at the first NUL */
	reference(s);
	if (nwant == MAX_ENTRIES) {
		free(s);
		return 0; /* too many to keep: skip rather than compare a prefix */
	}
	ngot = 0;
	bt_parse_kv_list(s, "fuzz", check, NULL);
	if (ngot != nwant)
		abort(); /* a well-formed entry was lost */
	free(s);
	return 0;
}
