/*
 * W3C traceparent parse/format, the sampled-bit fast path, and extract /
 * inject between header values and baton_span_context. Pure codecs: the
 * current context (inject with ctx NULL) is resolved by the trace layer
 * (trace/propagators.c).
 */
#include "util.h"
#include "wire/w3c_int.h"

#include <string.h>

#define BT_FLAGS_KNOWN (BATON_FLAG_SAMPLED | BATON_FLAG_RANDOM)

/* Lowercase hex digit value + 1; 0 for every other byte. */
static const uint8_t bt_hex1[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,
    ['6'] = 7,  ['7'] = 8,  ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12,
    ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
};

/* Decodes n bytes from 2n lowercase hex chars; false on any other char. */
static inline bool bt_hex_decode(const char *s, uint8_t *out, size_t n)
{
	unsigned bad = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned hi = bt_hex1[(unsigned char)s[2 * i]] - 1u;
		unsigned lo = bt_hex1[(unsigned char)s[2 * i + 1]] - 1u;
		/* Branch-free: a non-hex byte gives 0 - 1 = UINT_MAX, over 15. */
		bad |= hi | lo;
		out[i] = (uint8_t)((hi << 4) | (lo & 0xfu));
	}
	return bad < 16u;
}

baton_err baton_traceparent_parse(const char *s, size_t len, baton_span_context *out)
{
	if (s == NULL || out == NULL)
		return BATON_EINVAL;
	if (len < 2)
		return len == 0 ? BATON_ETRUNCATED : BATON_EFORMAT;
	int v0 = bt_hexval((unsigned char)s[0]), v1 = bt_hexval((unsigned char)s[1]);
	if (v0 < 0 || v1 < 0)
		return BATON_EFORMAT;
	if (len > 2 && s[2] != '-')
		return BATON_EFORMAT;
	if (v0 == 0xf && v1 == 0xf)
		return BATON_EVERSION;
	if (len < BATON_TRACEPARENT_LEN)
		return BATON_ETRUNCATED;
	if (s[35] != '-' || s[52] != '-')
		return BATON_EFORMAT;
	if (len > BATON_TRACEPARENT_LEN) {
		/* Version 00 is exactly 55; a later version may add "-..." fields. */
		if ((v0 == 0 && v1 == 0) || s[BATON_TRACEPARENT_LEN] != '-')
			return BATON_EFORMAT;
	}
	baton_span_context c;
	uint8_t flags;
	if (!bt_hex_decode(s + 3, c.trace_id, BATON_TRACE_ID_SIZE) ||
	    !bt_hex_decode(s + 36, c.span_id, BATON_SPAN_ID_SIZE) ||
	    !bt_hex_decode(s + 53, &flags, 1))
		return BATON_EFORMAT;
	if (bt_bytes_zero(c.trace_id, BATON_TRACE_ID_SIZE) ||
	    bt_bytes_zero(c.span_id, BATON_SPAN_ID_SIZE))
		return BATON_EINVAL;
	c.trace_flags = flags & BT_FLAGS_KNOWN;
	c.state = BATON_CTX_VALID | BATON_CTX_REMOTE | BATON_CTX_DECIDED;
	c.reserved = 0;
	c.threshold = 0;
	c.tracestate = NULL;
	*out = c;
	return BATON_OK;
}

int baton_traceparent_sampled(const char *s, size_t len)
{
	if (s == NULL || len < BATON_TRACEPARENT_LEN || s[2] != '-' || s[35] != '-' ||
	    s[52] != '-')
		return -1;
	int v0 = bt_hexval((unsigned char)s[0]), v1 = bt_hexval((unsigned char)s[1]);
	int f0 = bt_hexval((unsigned char)s[53]), f1 = bt_hexval((unsigned char)s[54]);
	if ((v0 | v1 | f0 | f1) < 0 || (v0 & v1) == 0xf)
		return -1;
	if (len > BATON_TRACEPARENT_LEN &&
	    ((v0 | v1) == 0 || s[BATON_TRACEPARENT_LEN] != '-'))
		return -1;
	return f1 & BATON_FLAG_SAMPLED;
}

baton_err baton_traceparent_format(const baton_span_context *ctx, char *out, size_t cap)
{
	if (ctx == NULL || out == NULL || !(ctx->state & BATON_CTX_VALID) ||
	    bt_bytes_zero(ctx->trace_id, BATON_TRACE_ID_SIZE) ||
	    bt_bytes_zero(ctx->span_id, BATON_SPAN_ID_SIZE))
		return BATON_EINVAL;
	if (cap < BATON_TRACEPARENT_SIZE)
		return BATON_ENOSPACE;
	uint8_t flags = ctx->trace_flags & BT_FLAGS_KNOWN;
	out[0] = '0';
	out[1] = '0';
	out[2] = '-';
	baton_hex_encode(ctx->trace_id, BATON_TRACE_ID_SIZE, out + 3);
	out[35] = '-';
	baton_hex_encode(ctx->span_id, BATON_SPAN_ID_SIZE, out + 36);
	out[52] = '-';
	baton_hex_encode(&flags, 1, out + 53);
	out[55] = '\0';
	return BATON_OK;
}

/* ---- extract / inject ---- */

/* The randomness of a trace: ot rv when given, else the trace id's low 56 bits. */
static bool bt_randomness(const baton_span_context *c, const char *ot, size_t olen,
                          uint64_t *r)
{
	if (ot != NULL && baton_ot_value_rv(ot, olen, r) == BATON_OK)
		return true;
	if (c->trace_flags & BATON_FLAG_RANDOM) {
		*r = bt_trace_randomness(c->trace_id);
		return true;
	}
	return false;
}

baton_err baton_w3c_extract_lines(const char *traceparent, size_t tp_len,
                                  const char *const *ts_lines, const size_t *ts_lens,
                                  size_t n_ts, baton_span_context *out, char *ts_buf,
                                  size_t ts_cap)
{
	baton_span_context c;
	if (traceparent == NULL || out == NULL)
		return BATON_EINVAL;
	bt_trim(&traceparent, &tp_len);
	baton_err rv = baton_traceparent_parse(traceparent, tp_len, &c);
	if (rv != BATON_OK)
		return rv;
	bt_ts_view v[BATON_TRACESTATE_MAX_MEMBERS];
	size_t n = 0;
	if (ts_lines != NULL && n_ts > 0 &&
	    bt_ts_scan(ts_lines, ts_lens, n_ts, v, &n) == BATON_OK) {
		int ot = bt_ts_find(v, n, "ot", 2);
		if (ot >= 0) {
			const char *ov = v[ot].p + 3;
			size_t ol = v[ot].vlen;
			uint64_t th, r;
			/* th means something only for a sampled trace, and only
			 * when the trace's randomness passes it (OTEP 235). */
			if ((c.trace_flags & BATON_FLAG_SAMPLED) &&
			    baton_ot_value_th(ov, ol, &th) == BATON_OK &&
			    (!bt_randomness(&c, ov, ol, &r) || r >= th)) {
				c.state |= BATON_CTX_HAS_TH;
				c.threshold = th;
			}
			memmove(&v[ot], &v[ot + 1], (n - (size_t)ot - 1) * sizeof(v[0]));
			n--;
		}
		if (ts_buf != NULL && ts_cap > 0 && n > 0 &&
		    bt_ts_write(v, n, ts_buf, ts_cap) > 0)
			c.tracestate = ts_buf;
	}
	*out = c;
	return BATON_OK;
}

baton_err baton_w3c_extract(const char *traceparent, size_t tp_len,
                            const char *tracestate, size_t ts_len,
                            baton_span_context *out, char *ts_buf, size_t ts_cap)
{
	return baton_w3c_extract_lines(traceparent, tp_len, &tracestate, &ts_len,
	                               tracestate ? 1 : 0, out, ts_buf, ts_cap);
}

baton_err bt_w3c_inject(const baton_span_context *ctx, char *tp_out, size_t tp_cap,
                        char *ts_out, size_t ts_cap)
{
	char tp[BATON_TRACEPARENT_SIZE];
	char ts[BATON_TRACESTATE_SIZE];
	char otv[6 + 15]; /* "ot=th:", up to 14 hex digits, NUL */
	if (ctx == NULL || tp_out == NULL)
		return BATON_EINVAL;
	baton_err rv = baton_traceparent_format(ctx, tp, sizeof(tp));
	if (rv != BATON_OK)
		return rv;
	if (tp_cap < BATON_TRACEPARENT_SIZE || (ts_out != NULL && ts_cap == 0))
		return BATON_ENOSPACE;
	size_t tslen = 0;
	if (ts_out != NULL) {
		bt_ts_view v[BATON_TRACESTATE_MAX_MEMBERS + 1];
		size_t n = 0, m = 0;
		if ((ctx->state & BATON_CTX_HAS_TH) &&
		    (ctx->trace_flags & BATON_FLAG_SAMPLED) &&
		    ctx->threshold < BATON_TH_MAX) {
			memcpy(otv, "ot=th:", 6);
			if (baton_ot_th_format(ctx->threshold, otv + 6,
			                       sizeof(otv) - 6) == BATON_OK) {
				v[0].p = otv;
				v[0].klen = 2;
				v[0].vlen = (uint16_t)(strlen(otv) - 3);
				n = 1;
			}
		}
		const char *rest = ctx->tracestate;
		if (rest != NULL && rest[0] != '\0' &&
		    bt_ts_scan(&rest, NULL, 1, v + n, &m) == BATON_OK) {
			int ot = bt_ts_find(v + n, m, "ot", 2);
			if (ot >= 0) {
				memmove(&v[n + ot], &v[n + ot + 1],
				        (m - (size_t)ot - 1) * sizeof(v[0]));
				m--;
			}
			n += m;
		}
		/* 32 members at most: an added ot pushes the rightmost out. */
		if (n > BATON_TRACESTATE_MAX_MEMBERS)
			n = BATON_TRACESTATE_MAX_MEMBERS;
		tslen = bt_ts_write(v, n, ts, ts_cap < sizeof(ts) ? ts_cap : sizeof(ts));
	}
	memcpy(tp_out, tp, BATON_TRACEPARENT_SIZE);
	if (ts_out != NULL)
		memcpy(ts_out, ts, tslen + 1);
	return BATON_OK;
}
