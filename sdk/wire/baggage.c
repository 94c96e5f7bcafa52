/*
 * W3C Baggage grammar check (w3c/baggage, "baggage-string"):
 *
 *   baggage-string = list-member 0*179( OWS "," OWS list-member )
 *   list-member    = key OWS "=" OWS value *( OWS ";" OWS property )
 *   property       = key OWS "=" OWS value / key
 *   key            = token (RFC 7230 tchar)
 *   value          = *baggage-octet
 *   baggage-octet  = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E
 *
 * Values are percent-encoded UTF-8; a percent sequence that does not decode
 * is the decoder's business (it substitutes U+FFFD), not a grammar error.
 */
#include "w3c_int.h"

#include <string.h>

static bool bt_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool bt_baggage_octet(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c <= 0x2B) || (c >= 0x2D && c <= 0x3A) ||
	       (c >= 0x3C && c <= 0x5B) || (c >= 0x5D && c <= 0x7E);
}

static size_t bt_skip_ows(const char *s, size_t i, size_t n)
{
	while (i < n && bt_ows(s[i]))
		i++;
	return i;
}

static size_t bt_scan_token(const char *s, size_t i, size_t n)
{
	while (i < n && bt_tchar((unsigned char)s[i]))
		i++;
	return i;
}

static size_t bt_scan_value(const char *s, size_t i, size_t n)
{
	while (i < n && bt_baggage_octet((unsigned char)s[i]))
		i++;
	return i;
}

bool bt_baggage_valid(const char *s, size_t n)
{
	size_t members = 0, i = 0;
	if (s == NULL || n == 0 || n > BT_BAGGAGE_MAX_LEN)
		return false;
	for (;;) {
		/* list-member */
		i = bt_skip_ows(s, i, n);
		size_t k = bt_scan_token(s, i, n);
		if (k == i)
			return false;
		i = bt_skip_ows(s, k, n);
		if (i >= n || s[i] != '=')
			return false;
		i = bt_scan_value(s, bt_skip_ows(s, i + 1, n), n);
		if (++members > BT_BAGGAGE_MAX_MEMBERS)
			return false;
		/* properties */
		for (;;) {
			size_t j = bt_skip_ows(s, i, n);
			if (j >= n || s[j] != ';')
				break;
			j = bt_skip_ows(s, j + 1, n);
			k = bt_scan_token(s, j, n);
			if (k == j)
				return false;
			i = k;
			j = bt_skip_ows(s, k, n);
			if (j < n && s[j] == '=')
				i = bt_scan_value(s, bt_skip_ows(s, j + 1, n), n);
		}
		i = bt_skip_ows(s, i, n);
		if (i == n)
			return true;
		if (s[i] != ',')
			return false;
		i++;
	}
}
