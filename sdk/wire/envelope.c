/*
 * The binary envelope: wrap, peek, unwrap. The layout is specified in
 * include/baton/envelope.h. A pure codec: nothing here allocates, locks,
 * counts or reads SDK state (the message layer, sdk/message, does that).
 */
#include "util.h"
#include "envelope_int.h"
#include "w3c_int.h"

#include <baton/envelope.h>
#include <string.h>

#define BT_ENV_HDR       4
#define BT_ENV_IDS       24
#define BT_ENV_CRC       4 /* the version 2 check word */
#define BT_ENV_FIXED_MAX 64
#define BT_ENV_VLEN_MAX  32767u

/* CRC-8, polynomial 0x07, initial value 0. */
static const uint8_t bt_crc8_tab[256] = {
    0x00, 0x07, 0x0e, 0x09, 0x1c, 0x1b, 0x12, 0x15, 0x38, 0x3f, 0x36, 0x31, 0x24, 0x23,
    0x2a, 0x2d, 0x70, 0x77, 0x7e, 0x79, 0x6c, 0x6b, 0x62, 0x65, 0x48, 0x4f, 0x46, 0x41,
    0x54, 0x53, 0x5a, 0x5d, 0xe0, 0xe7, 0xee, 0xe9, 0xfc, 0xfb, 0xf2, 0xf5, 0xd8, 0xdf,
    0xd6, 0xd1, 0xc4, 0xc3, 0xca, 0xcd, 0x90, 0x97, 0x9e, 0x99, 0x8c, 0x8b, 0x82, 0x85,
    0xa8, 0xaf, 0xa6, 0xa1, 0xb4, 0xb3, 0xba, 0xbd, 0xc7, 0xc0, 0xc9, 0xce, 0xdb, 0xdc,
    0xd5, 0xd2, 0xff, 0xf8, 0xf1, 0xf6, 0xe3, 0xe4, 0xed, 0xea, 0xb7, 0xb0, 0xb9, 0xbe,
    0xab, 0xac, 0xa5, 0xa2, 0x8f, 0x88, 0x81, 0x86, 0x93, 0x94, 0x9d, 0x9a, 0x27, 0x20,
    0x29, 0x2e, 0x3b, 0x3c, 0x35, 0x32, 0x1f, 0x18, 0x11, 0x16, 0x03, 0x04, 0x0d, 0x0a,
    0x57, 0x50, 0x59, 0x5e, 0x4b, 0x4c, 0x45, 0x42, 0x6f, 0x68, 0x61, 0x66, 0x73, 0x74,
    0x7d, 0x7a, 0x89, 0x8e, 0x87, 0x80, 0x95, 0x92, 0x9b, 0x9c, 0xb1, 0xb6, 0xbf, 0xb8,
    0xad, 0xaa, 0xa3, 0xa4, 0xf9, 0xfe, 0xf7, 0xf0, 0xe5, 0xe2, 0xeb, 0xec, 0xc1, 0xc6,
    0xcf, 0xc8, 0xdd, 0xda, 0xd3, 0xd4, 0x69, 0x6e, 0x67, 0x60, 0x75, 0x72, 0x7b, 0x7c,
    0x51, 0x56, 0x5f, 0x58, 0x4d, 0x4a, 0x43, 0x44, 0x19, 0x1e, 0x17, 0x10, 0x05, 0x02,
    0x0b, 0x0c, 0x21, 0x26, 0x2f, 0x28, 0x3d, 0x3a, 0x33, 0x34, 0x4e, 0x49, 0x40, 0x47,
    0x52, 0x55, 0x5c, 0x5b, 0x76, 0x71, 0x78, 0x7f, 0x6a, 0x6d, 0x64, 0x63, 0x3e, 0x39,
    0x30, 0x37, 0x22, 0x25, 0x2c, 0x2b, 0x06, 0x01, 0x08, 0x0f, 0x1a, 0x1d, 0x14, 0x13,
    0xae, 0xa9, 0xa0, 0xa7, 0xb2, 0xb5, 0xbc, 0xbb, 0x96, 0x91, 0x98, 0x9f, 0x8a, 0x8d,
    0x84, 0x83, 0xde, 0xd9, 0xd0, 0xd7, 0xc2, 0xc5, 0xcc, 0xcb, 0xe6, 0xe1, 0xe8, 0xef,
    0xfa, 0xfd, 0xf4, 0xf3,
};

static inline uint8_t bt_env_check(const uint8_t *p)
{
	uint8_t c = bt_crc8_tab[p[0]];
	c = bt_crc8_tab[c ^ p[1]];
	return bt_crc8_tab[c ^ p[2]];
}

/* CRC-32C of an envelope of total bytes whose fixed part is fixed bytes long,
 * without the check word at fixed - 4. */
static uint32_t bt_env_crc32(const uint8_t *p, size_t fixed, size_t total)
{
	uint32_t c = bt_crc32c_update(0, p, fixed - BT_ENV_CRC);
	if (total > fixed)
		c = bt_crc32c_update(c, p + fixed, total - fixed);
	return c;
}

/* ---- wrap ---- */

/* What wrap will write, worked out once for size and wrap. */
struct bt_env_plan {
	uint8_t flags;
	bool ids;
	uint8_t th_len, rcpt_len, fan_len;
	uint64_t th;
	size_t ts_len, bg_len; /* including the NUL; 0: absent */
	size_t ext_len;        /* E */
	size_t total;
};

static size_t bt_vlen_size(size_t n)
{
	return n < 128 ? 1 : 2;
}

static uint8_t bt_uint_len(uint64_t v)
{
	uint8_t n = 0;
	while (v != 0) {
		n++;
		v >>= 8;
	}
	return n;
}

static size_t bt_ext_size(size_t vlen)
{
	return 1 + bt_vlen_size(vlen) + vlen;
}

static baton_err bt_env_plan(const baton_envelope *env, struct bt_env_plan *pl)
{
	const baton_span_context *c = &env->ctx;
	bool valid = (c->state & BATON_CTX_VALID) != 0;
	bool sampled = valid && (c->trace_flags & BATON_FLAG_SAMPLED) != 0;

	*pl = (struct bt_env_plan){0};
	if (sampled) {
		pl->ids = true;
	} else if (valid && !(env->wrap_flags & BATON_ENV_WRAP_NO_UNSAMPLED_IDS)) {
		pl->ids = (env->wrap_flags & BATON_ENV_WRAP_UNSAMPLED_IDS) != 0;
	}
	if (pl->ids) {
		pl->flags = BATON_ENV_F_IDS | (c->trace_flags & BATON_FLAG_RANDOM) |
		            (sampled ? BATON_ENV_F_SAMPLED : 0);
	}
	if (sampled) {
		if ((c->state & BATON_CTX_HAS_TH) && c->threshold > 0 &&
		    c->threshold < BATON_TH_MAX) {
			pl->th = c->threshold;
			uint64_t t = c->threshold;
			pl->th_len = 7;
			while ((t & 0xFF) == 0) {
				t >>= 8;
				pl->th_len--;
			}
			pl->ext_len += bt_ext_size(pl->th_len);
		}
		pl->rcpt_len = bt_uint_len(env->recipients);
		if (pl->rcpt_len > 0)
			pl->ext_len += bt_ext_size(pl->rcpt_len);
		pl->fan_len = bt_uint_len(env->fanout_applied);
		if (pl->fan_len > 0)
			pl->ext_len += bt_ext_size(pl->fan_len);
	}
	if (pl->ids && c->tracestate != NULL && c->tracestate[0] != '\0' &&
	    !(env->wrap_flags & BATON_ENV_WRAP_NO_TRACESTATE)) {
		pl->ts_len = strnlen(c->tracestate, BATON_ENVELOPE_MAX) + 1;
		if (pl->ts_len > BT_ENV_VLEN_MAX)
			return BATON_ETOOBIG;
		pl->ext_len += bt_ext_size(pl->ts_len);
	}
	if (env->baggage != NULL && env->baggage[0] != '\0') {
		pl->bg_len = strnlen(env->baggage, BATON_ENVELOPE_MAX) + 1;
		if (pl->bg_len > BT_ENV_VLEN_MAX)
			return BATON_ETOOBIG;
		pl->ext_len += bt_ext_size(pl->bg_len);
	}
	pl->total = BT_ENV_HDR + (pl->ids ? BT_ENV_IDS : 0) + BT_ENV_CRC;
	if (pl->ext_len > 0) {
		if (pl->ext_len > BT_ENV_VLEN_MAX)
			return BATON_ETOOBIG;
		pl->flags |= BATON_ENV_F_EXT;
		pl->total += bt_vlen_size(pl->ext_len) + pl->ext_len;
	}
	if (pl->total > BATON_ENVELOPE_MAX)
		return BATON_ETOOBIG;
	return BATON_OK;
}

size_t baton_envelope_size(const baton_envelope *env)
{
	struct bt_env_plan pl;
	if (env == NULL || bt_env_plan(env, &pl) != BATON_OK)
		return 0;
	return pl.total;
}

static uint8_t *bt_put_vlen(uint8_t *q, size_t n)
{
	if (n < 128) {
		*q++ = (uint8_t)n;
	} else {
		*q++ = (uint8_t)(0x80 | (n >> 8));
		*q++ = (uint8_t)(n & 0xFF);
	}
	return q;
}

static uint8_t *bt_put_uint_ext(uint8_t *q, uint8_t type, uint64_t v, uint8_t n)
{
	*q++ = type;
	q = bt_put_vlen(q, n);
	for (int i = n - 1; i >= 0; i--)
		*q++ = (uint8_t)(v >> (8 * i));
	return q;
}

static uint8_t *bt_put_str_ext(uint8_t *q, uint8_t type, const char *s, size_t n)
{
	*q++ = type;
	q = bt_put_vlen(q, n);
	memcpy(q, s, n - 1);
	q[n - 1] = '\0';
	return q + n;
}

void baton_envelope_wrap_unsampled(void *buf)
{
	memcpy(buf, bt_env_unsampled, sizeof(bt_env_unsampled));
}

__attribute__((noinline)) static baton_err
bt_env_wrap_full(const baton_envelope *env, void *buf, size_t cap, size_t *written)
{
	struct bt_env_plan pl;
	baton_err rv = bt_env_plan(env, &pl);
	if (rv != BATON_OK)
		return rv;
	if (cap < pl.total)
		return BATON_ENOSPACE;
	uint8_t *p = buf, *q = p + BT_ENV_HDR;
	size_t fixed = BT_ENV_HDR + (pl.ids ? BT_ENV_IDS : 0) + BT_ENV_CRC;
	p[0] = BATON_ENVELOPE_MAGIC;
	p[1] = (uint8_t)(BATON_ENVELOPE_VERSION << 4 | pl.flags);
	p[2] = (uint8_t)fixed;
	p[3] = bt_env_check(p);
	if (pl.ids) {
		memcpy(q, env->ctx.trace_id, BATON_TRACE_ID_SIZE);
		memcpy(q + BATON_TRACE_ID_SIZE, env->ctx.span_id, BATON_SPAN_ID_SIZE);
		q += BT_ENV_IDS;
	}
	q += BT_ENV_CRC; /* the check word, written last */
	if (pl.ext_len > 0) {
		q = bt_put_vlen(q, pl.ext_len);
		if (pl.rcpt_len > 0)
			q = bt_put_uint_ext(q, BATON_ENV_EXT_RECIPIENTS, env->recipients,
			                    pl.rcpt_len);
		if (pl.th_len > 0)
			q = bt_put_uint_ext(q, BATON_ENV_EXT_THRESHOLD,
			                    pl.th >> (8 * (7 - pl.th_len)), pl.th_len);
		if (pl.ts_len > 0)
			q = bt_put_str_ext(q, BATON_ENV_EXT_TRACESTATE,
			                   env->ctx.tracestate, pl.ts_len);
		if (pl.bg_len > 0)
			q = bt_put_str_ext(q, BATON_ENV_EXT_BAGGAGE, env->baggage,
			                   pl.bg_len);
		if (pl.fan_len > 0)
			q = bt_put_uint_ext(q, BATON_ENV_EXT_FANOUT_APPLIED,
			                    env->fanout_applied, pl.fan_len);
	}
	size_t total = (size_t)(q - p);
	uint32_t c = bt_env_crc32(p, fixed, total);
	p[fixed - 4] = (uint8_t)(c >> 24);
	p[fixed - 3] = (uint8_t)(c >> 16);
	p[fixed - 2] = (uint8_t)(c >> 8);
	p[fixed - 1] = (uint8_t)c;
	*written = total;
	return BATON_OK;
}

baton_err baton_envelope_wrap(const baton_envelope *env, void *buf, size_t cap,
                              size_t *written)
{
	if (env == NULL || buf == NULL || written == NULL)
		return BATON_EINVAL;
	/* The common case first: no ids, nothing to carry. */
	if (!(env->ctx.state & BATON_CTX_VALID) &&
	    (env->baggage == NULL || env->baggage[0] == '\0')) {
		if (cap < BATON_ENVELOPE_UNSAMPLED_SIZE)
			return BATON_ENOSPACE;
		baton_envelope_wrap_unsampled(buf);
		*written = BATON_ENVELOPE_UNSAMPLED_SIZE;
		return BATON_OK;
	}
	return bt_env_wrap_full(env, buf, cap, written);
}

/* ---- peek / unwrap ---- */

/*
 * Zeroes e field by field, in pieces under 64 bytes: a whole-struct clear or
 * copy becomes a "rep stos", which costs more than decoding the envelope.
 */
static inline void bt_env_clear(baton_envelope *e, uint8_t state)
{
	e->ctx = (baton_span_context){.state = state};
	e->recipients = 0;
	e->fanout_applied = 0;
	e->baggage = NULL;
	e->wrap_flags = 0;
	e->unknown_extensions = 0;
	e->length = 0;
	e->version = 0;
	e->flags = 0;
	e->dropped = 0;
}

/*
 * Header checks: magic, CRC-8, version, fixed length, flags, the stated
 * length; fixed, ext_off and ext_len locate the parts. The check word and
 * the extension tiling are bt_env_verify's.
 */
static baton_err bt_env_header(const uint8_t *p, size_t len, uint32_t rflags,
                               baton_envelope_header *h, size_t *fixed_out,
                               size_t *ext_off, size_t *ext_len)
{
	if (len == 0 || p[0] != BATON_ENVELOPE_MAGIC)
		return BATON_ENOENV;
	if (len < BT_ENV_HDR)
		return BATON_ETRUNCATED;
	if (bt_env_check(p) != p[3])
		return BATON_EFORMAT;
	uint8_t ver = p[1] >> 4, flags = p[1] & 0x0F;
	if (ver == 0 || ver >= 8 || (ver == 1 && !(rflags & BATON_ENV_READ_V1)))
		return BATON_EVERSION;
	size_t fixed = p[2];
	size_t need = BT_ENV_HDR + ((flags & BATON_ENV_F_IDS) ? BT_ENV_IDS : 0);
	bool ok;
	if (ver == 1)
		ok = fixed == need;
	else if (ver == BATON_ENVELOPE_VERSION)
		ok = fixed == need + BT_ENV_CRC;
	else /* later versions may grow the fixed part, in 4-byte steps, up to 64 */
		ok = fixed >= need + BT_ENV_CRC && fixed <= BT_ENV_FIXED_MAX &&
		     (fixed & 3) == 0;
	if (!ok)
		return BATON_EFORMAT;
	if ((flags & BATON_ENV_F_SAMPLED) && !(flags & BATON_ENV_F_IDS))
		return BATON_EFORMAT;
	size_t total = fixed, eoff = fixed, elen = 0;
	if (flags & BATON_ENV_F_EXT) {
		if (len < fixed + 1)
			return BATON_ETRUNCATED;
		uint8_t b = p[fixed];
		if (b & 0x80) {
			if (len < fixed + 2)
				return BATON_ETRUNCATED;
			elen = (size_t)(b & 0x7F) << 8 | p[fixed + 1];
			eoff = fixed + 2;
		} else {
			elen = b;
			eoff = fixed + 1;
		}
		if (elen == 0)
			return BATON_EFORMAT;
		total = eoff + elen;
	}
	if (total > BATON_ENVELOPE_MAX)
		return BATON_ETOOBIG;
	if (total > len)
		return BATON_ETRUNCATED;
	h->length = (uint16_t)total;
	h->version = ver;
	h->flags = flags;
	*fixed_out = fixed;
	*ext_off = eoff;
	*ext_len = elen;
	return BATON_OK;
}

static uint64_t bt_get_uint(const uint8_t *q, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v = v << 8 | q[i];
	return v;
}

/* A text extension: at least the NUL, which must be its last byte and its only NUL. */
static bool bt_text_ok(const uint8_t *q, size_t n)
{
	return n >= 1 && q[n - 1] == 0 && memchr(q, 0, n - 1) == NULL;
}

/* A tracestate as the envelope carries it: W3C grammar and limits, no "ot" member. */
static bool bt_env_tracestate_ok(const char *s, size_t n)
{
	bt_ts_view v[BATON_TRACESTATE_MAX_MEMBERS];
	size_t count;
	if (n > BATON_TRACESTATE_MAX_LEN)
		return false;
	/*
	 * Senders write the text as baton_tracestate_format does: no tab
	 * anywhere and no space at either end. A header's optional white
	 * space has no business here, and a tab would travel on into spans
	 * and exporters.
	 */
	if (n > 0 && (s[0] == ' ' || s[n - 1] == ' ' || memchr(s, '\t', n) != NULL))
		return false;
	if (bt_ts_scan(&s, &n, 1, v, &count) != BATON_OK)
		return false;
	return bt_ts_find(v, count, "ot", 2) < 0;
}

/*
 * Walks the extension entries at p[off, off + elen). They must tile the
 * region exactly. With e, decodes them into it (text validated, an invalid
 * one dropped); without, only checks the structure.
 */
static baton_err bt_env_extensions(const uint8_t *p, size_t off, size_t elen,
                                   baton_envelope *e)
{
	size_t q = off, end = off + elen;
	uint32_t seen = 0;
	while (q < end) {
		uint8_t type = p[q++];
		if (q >= end)
			return BATON_EFORMAT;
		size_t n = p[q++];
		if (n & 0x80) {
			if (q >= end)
				return BATON_EFORMAT;
			n = (n & 0x7F) << 8 | p[q++];
		}
		if (n > end - q)
			return BATON_EFORMAT;
		const uint8_t *v = p + q;
		q += n;
		if (type >= 1 && type <= 5) {
			if (seen & (1u << type))
				return BATON_EFORMAT;
			seen |= 1u << type;
		}
		switch (type) {
		case BATON_ENV_EXT_RECIPIENTS:
		case BATON_ENV_EXT_FANOUT_APPLIED:
			if (n < 1 || n > 8)
				return BATON_EFORMAT;
			if (e == NULL)
				break;
			if (type == BATON_ENV_EXT_RECIPIENTS)
				e->recipients = bt_get_uint(v, n);
			else
				e->fanout_applied = bt_get_uint(v, n);
			break;
		case BATON_ENV_EXT_THRESHOLD:
			if (n > 7)
				return BATON_EFORMAT;
			if (e == NULL)
				break;
			e->ctx.threshold = bt_get_uint(v, n) << (8 * (7 - n));
			e->ctx.state |= BATON_CTX_HAS_TH;
			break;
		case BATON_ENV_EXT_TRACESTATE:
			if (!bt_text_ok(v, n))
				return BATON_EFORMAT;
			if (e == NULL || n == 1)
				break;
			if (bt_env_tracestate_ok((const char *)v, n - 1)) {
				e->ctx.tracestate = (const char *)v;
			} else {
				e->dropped |= BATON_ENV_DROPPED_TRACESTATE;
			}
			break;
		case BATON_ENV_EXT_BAGGAGE:
			if (!bt_text_ok(v, n))
				return BATON_EFORMAT;
			if (e == NULL || n == 1)
				break;
			if (bt_baggage_valid((const char *)v, n - 1)) {
				e->baggage = (const char *)v;
			} else {
				e->dropped |= BATON_ENV_DROPPED_BAGGAGE;
			}
			break;
		default:
			if (e != NULL)
				e->unknown_extensions++;
			break;
		}
	}
	return BATON_OK;
}

/*
 * Every check but the unsampled constant: header, check word (version 2
 * on), ids not zero, extension tiling. Decodes into e when not NULL.
 */
static baton_err bt_env_verify(const uint8_t *p, size_t len, uint32_t rflags,
                               baton_envelope_header *h, baton_envelope *e)
{
	size_t fixed, eo, el;
	baton_err rv = bt_env_header(p, len, rflags, h, &fixed, &eo, &el);
	if (rv != BATON_OK)
		return rv;
	if (h->version >= 2) {
		const uint8_t *c = p + fixed - BT_ENV_CRC;
		uint32_t want = (uint32_t)c[0] << 24 | (uint32_t)c[1] << 16 |
		                (uint32_t)c[2] << 8 | c[3];
		if (bt_env_crc32(p, fixed, h->length) != want)
			return BATON_EFORMAT;
	}
	if ((h->flags & BATON_ENV_F_IDS) &&
	    (bt_bytes_zero(p + BT_ENV_HDR, BATON_TRACE_ID_SIZE) ||
	     bt_bytes_zero(p + BT_ENV_HDR + BATON_TRACE_ID_SIZE, BATON_SPAN_ID_SIZE)))
		return BATON_EFORMAT;
	if (h->flags & BATON_ENV_F_EXT)
		return bt_env_extensions(p, eo, el, e);
	return BATON_OK;
}

baton_err baton_envelope_peek_ex(const void *buf, size_t len, uint32_t read_flags,
                                 baton_envelope_header *out)
{
	const uint8_t *p = buf;
	baton_envelope_header h;
	if (buf == NULL || out == NULL)
		return BATON_EINVAL;
	/* The common case first: the unsampled envelope. */
	if (len >= BATON_ENVELOPE_UNSAMPLED_SIZE && bt_env_is_unsampled(p)) {
		out->length = BATON_ENVELOPE_UNSAMPLED_SIZE;
		out->version = BATON_ENVELOPE_VERSION;
		out->flags = 0;
		return BATON_OK;
	}
	baton_err rv = bt_env_verify(p, len, read_flags, &h, NULL);
	if (rv != BATON_OK)
		return rv;
	*out = h;
	return BATON_OK;
}

baton_err baton_envelope_peek(const void *buf, size_t len, baton_envelope_header *out)
{
	return baton_envelope_peek_ex(buf, len, 0, out);
}

/* Everything but the unsampled envelope; kept out of line so the fast path stays
 * small. */
__attribute__((noinline)) static baton_err
bt_env_unwrap_full(const uint8_t *p, size_t len, uint32_t rflags, baton_envelope *out)
{
	baton_envelope_header h;
	baton_envelope e;
	bt_env_clear(&e, BATON_CTX_REMOTE | BATON_CTX_DECIDED);
	baton_err rv = bt_env_verify(p, len, rflags, &h, &e);
	if (rv != BATON_OK)
		return rv;
	e.length = h.length;
	e.version = h.version;
	e.flags = h.flags;
	e.ctx.trace_flags = h.flags & (BATON_FLAG_SAMPLED | BATON_FLAG_RANDOM);
	if (h.flags & BATON_ENV_F_IDS) {
		memcpy(e.ctx.trace_id, p + BT_ENV_HDR, BATON_TRACE_ID_SIZE);
		memcpy(e.ctx.span_id, p + BT_ENV_HDR + BATON_TRACE_ID_SIZE,
		       BATON_SPAN_ID_SIZE);
		e.ctx.state |= BATON_CTX_VALID;
	}
	if (e.recipients > 0 || e.fanout_applied > 0)
		e.ctx.state |= BATON_CTX_FANOUT;
	*out = e;
	return BATON_OK;
}

baton_err baton_envelope_unwrap_ex(const void *buf, size_t len, uint32_t read_flags,
                                   baton_envelope *out)
{
	const uint8_t *p = buf;
	if (p == NULL || out == NULL)
		return BATON_EINVAL;
	if (len >= BATON_ENVELOPE_UNSAMPLED_SIZE && bt_env_is_unsampled(p)) {
		/*
		 * Field by field, in pieces under 64 bytes: a whole-struct copy
		 * becomes a "rep stos", which costs more than the rest of this path.
		 */
		out->ctx =
		    (baton_span_context){.state = BATON_CTX_REMOTE | BATON_CTX_DECIDED};
		out->recipients = 0;
		out->fanout_applied = 0;
		out->baggage = NULL;
		out->wrap_flags = 0;
		out->unknown_extensions = 0;
		out->length = BATON_ENVELOPE_UNSAMPLED_SIZE;
		out->version = BATON_ENVELOPE_VERSION;
		out->flags = 0;
		out->dropped = 0;
		return BATON_OK;
	}
	return bt_env_unwrap_full(p, len, read_flags, out);
}

baton_err baton_envelope_unwrap(const void *buf, size_t len, baton_envelope *out)
{
	return baton_envelope_unwrap_ex(buf, len, 0, out);
}
