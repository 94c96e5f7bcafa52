/* Reading configuration from the environment. */
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool bt_parse_u32(const char *s, size_t n, uint32_t *out)
{
	uint64_t v = 0;
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > UINT32_MAX)
			return false;
	}
	*out = (uint32_t)v;
	return true;
}

bool bt_parse_double(const char *s, size_t n, double *out)
{
	char buf[64];
	char *end;
	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	/* strtod accepts hex, inf and nan; configuration wants plain decimals. */
	for (size_t i = 0; i < n; i++) {
		char c = buf[i];
		if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' ||
		      c == '-' || c == '+'))
			return false;
	}
	errno = 0;
	double v = strtod(buf, &end);
	if (errno != 0 || end != buf + n || !isfinite(v))
		return false;
	*out = v;
	return true;
}

bool bt_env_u32(const char *name, uint32_t *out)
{
	const char *v = baton_getenv(name);
	if (v == NULL)
		return false;
	if (!bt_parse_u32(v, strlen(v), out)) {
		bt_warn("%s=\"%s\" is not a non-negative integer; ignored", name, v);
		return false;
	}
	return true;
}

bool bt_env_double(const char *name, double *out)
{
	const char *v = baton_getenv(name);
	if (v == NULL)
		return false;
	if (!bt_parse_double(v, strlen(v), out)) {
		bt_warn("%s=\"%s\" is not a number; ignored", name, v);
		return false;
	}
	return true;
}

static bool bt_env_bool_ex(const char *name, bool *out, bool warn)
{
	const char *v = baton_getenv(name);
	if (v == NULL)
		return false;
	if (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0) {
		*out = true;
		return true;
	}
	if (strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0) {
		*out = false;
		return true;
	}
	if (warn)
		bt_warn("%s=\"%s\" is not true or false; ignored", name, v);
	return false;
}

bool bt_env_bool(const char *name, bool *out)
{
	return bt_env_bool_ex(name, out, true);
}

bool bt_env_bool_quiet(const char *name, bool *out)
{
	return bt_env_bool_ex(name, out, false);
}

uint32_t bt_u32_in_range(const char *what, uint32_t v, uint32_t dflt, uint32_t lo,
                         uint32_t hi)
{
	if (v == 0) {
		bt_warn("%s=0 is not allowed (at least %u); using %u", what, lo, dflt);
		return dflt;
	}
	if (v < lo) {
		bt_warn("%s=%u is below the minimum %u; using %u", what, v, lo, lo);
		return lo;
	}
	if (v > hi) {
		bt_warn("%s=%u is above the maximum %u; using %u", what, v, hi, hi);
		return hi;
	}
	return v;
}

uint32_t bt_env_u32_in_range(const char *name, uint32_t dflt, uint32_t lo, uint32_t hi)
{
	const char *v = baton_getenv(name);
	uint32_t u;
	if (v == NULL)
		return dflt;
	if (!bt_parse_u32(v, strlen(v), &u)) {
		bt_warn("%s=\"%.40s\" is not a non-negative integer; using %u", name, v,
		        dflt);
		return dflt;
	}
	return bt_u32_in_range(name, u, dflt, lo, hi);
}
