/* The simple processor: exports each span on the caller's thread. */
#include "util.h"

#include <baton/baton.h>
#include <pthread.h>

struct bt_simple {
	pthread_mutex_t mtx;
	baton_exporter exp;
	bool shut;
};

static void bt_simple_on_end(void *arg, const baton_span_data *span)
{
	struct bt_simple *s = arg;
	baton_export_result r = BATON_EXPORT_RESULT(BATON_ECLOSED);
	pthread_mutex_lock(&s->mtx);
	if (!s->shut)
		r = s->exp.ops->export_spans(s->exp.arg, &span, 1);
	pthread_mutex_unlock(&s->mtx);
	baton_span_data_release(span);
	if (r.err != BATON_OK)
		bt_drop_add(
		    r.err == BATON_ECLOSED ? BT_DROP_SHUTDOWN : BT_DROP_EXPORT_FAILED, 1);
}

static baton_err bt_simple_flush(void *arg, uint32_t timeout_ms)
{
	struct bt_simple *s = arg;
	baton_err rv = BATON_OK;
	pthread_mutex_lock(&s->mtx);
	if (!s->shut && s->exp.ops->force_flush != NULL)
		rv = s->exp.ops->force_flush(s->exp.arg, timeout_ms);
	pthread_mutex_unlock(&s->mtx);
	return rv;
}

static baton_err bt_simple_shutdown(void *arg, uint32_t timeout_ms)
{
	struct bt_simple *s = arg;
	baton_err rv = BATON_OK;
	pthread_mutex_lock(&s->mtx);
	if (!s->shut) {
		s->shut = true;
		if (s->exp.ops->shutdown != NULL)
			rv = s->exp.ops->shutdown(s->exp.arg, timeout_ms);
	}
	pthread_mutex_unlock(&s->mtx);
	return rv;
}

static void bt_simple_destroy(void *arg)
{
	struct bt_simple *s = arg;
	if (s->exp.ops->destroy != NULL)
		s->exp.ops->destroy(s->exp.arg);
	pthread_mutex_destroy(&s->mtx);
	bt_free(s);
}

static const baton_processor_ops bt_simple_ops = {
    sizeof(baton_processor_ops), "simple",          bt_simple_on_end, bt_simple_flush,
    bt_simple_shutdown,          bt_simple_destroy,
};

baton_err baton_simple_processor_create(baton_exporter exporter, baton_processor *out)
{
	if (out == NULL || exporter.ops == NULL || exporter.ops->export_spans == NULL)
		return BATON_EINVAL;
	struct bt_simple *s = bt_calloc(1, sizeof(*s));
	if (s == NULL)
		return BATON_ENOMEM;
	pthread_mutex_init(&s->mtx, NULL);
	s->exp = exporter;
	*out = (baton_processor){&bt_simple_ops, s};
	return BATON_OK;
}
