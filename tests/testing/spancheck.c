#include "spancheck.h"

#include <stdlib.h>
#include <string.h>

static const baton_span_data *tu_last;

static void tu_held_on_end(void *arg, const baton_span_data *span)
{
	(void)arg;
	if (tu_last != NULL)
		baton_span_data_release(tu_last);
	tu_last = span;
}

static const baton_processor_ops tu_held_ops = {
    .size = sizeof(baton_processor_ops),
    .name = "held",
    .on_end = tu_held_on_end,
};

void tu_held_init(baton_sampler sampler, const baton_limits *limits)
{
	baton_processor proc = {&tu_held_ops, NULL};
	baton_options o = {.size = sizeof(o)};
	o.sampler = sampler.ops ? sampler : baton_sampler_always_on();
	o.processors = &proc;
	o.nprocessors = 1;
	if (limits != NULL)
		o.limits = *limits;
	tu_last = NULL;
	if (baton_init(&o) != BATON_OK)
		abort();
}

const baton_span_data *tu_held(void)
{
	return tu_last;
}

void tu_held_release(void)
{
	if (tu_last != NULL)
		baton_span_data_release(tu_last);
	tu_last = NULL;
}

size_t tu_utf8_char(const unsigned char *s, size_t n)
{
	unsigned c = s[0], need, cp;
	if (c < 0x80)
		return 1;
	if ((c & 0xE0) == 0xC0) {
		need = 1;
		cp = c & 0x1F;
	} else if ((c & 0xF0) == 0xE0) {
		need = 2;
		cp = c & 0x0F;
	} else if ((c & 0xF8) == 0xF0) {
		need = 3;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n <= need)
		return 0;
	for (unsigned k = 1; k <= need; k++) {
		if ((s[k] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (s[k] & 0x3F);
	}
	static const unsigned min[] = {0, 0x80, 0x800, 0x10000};
	if (cp < min[need] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return need + 1;
}

bool tu_utf8_ok(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	for (size_t i = 0; i < n;) {
		size_t k = tu_utf8_char(s + i, n - i);
		if (k == 0)
			return false;
		i += k;
	}
	return true;
}

size_t tu_utf8_repair(char *dst, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		size_t k = tu_utf8_char(s + i, n - i);
		if (k == 0) {
			memcpy(dst + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		} else {
			memcpy(dst + o, s + i, k);
			o += k;
			i += k;
		}
	}
	return o;
}

static bool tu_cstr_ok(const char *s)
{
	return s == NULL || tu_utf8_ok(s, strlen(s));
}

static bool tu_attrs_ok(const baton_attr *a)
{
	for (; a != NULL; a = a->next) {
		if (!tu_cstr_ok(a->key))
			return false;
		if (a->value.type == BATON_VALUE_STRING &&
		    !tu_utf8_ok(a->value.u.s, a->value.len))
			return false;
		if (a->value.type == BATON_VALUE_STRING_ARRAY) {
			for (size_t i = 0; i < a->value.len; i++) {
				if (!tu_cstr_ok(a->value.u.sa[i]))
					return false;
			}
		}
	}
	return true;
}

bool tu_span_utf8_ok(const baton_span_data *d)
{
	if (!tu_cstr_ok(d->name) || !tu_cstr_ok(d->status_message) ||
	    !tu_cstr_ok(d->context.tracestate) || !tu_attrs_ok(d->attrs))
		return false;
	for (const baton_event *e = d->events; e != NULL; e = e->next) {
		if (!tu_cstr_ok(e->name) || !tu_attrs_ok(e->attrs))
			return false;
	}
	for (const baton_link *l = d->links; l != NULL; l = l->next) {
		if (!tu_cstr_ok(l->context.tracestate) || !tu_attrs_ok(l->attrs))
			return false;
	}
	return true;
}

const char *tu_attr_str(const baton_span_data *d, const char *key)
{
	const baton_attr *a = baton_attr_find(d->attrs, key);
	return a != NULL && a->value.type == BATON_VALUE_STRING ? a->value.u.s : NULL;
}

bool tu_has_attr(const baton_span_data *d, const char *key)
{
	return baton_attr_find(d->attrs, key) != NULL;
}
