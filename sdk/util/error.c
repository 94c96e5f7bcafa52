#include "util.h"

#include <stdlib.h>

static const char *const bt_errors[] = {
    [BATON_OK] = "no error",
    [BATON_EINVAL] = "invalid argument",
    [BATON_ENOMEM] = "out of memory",
    [BATON_ETRUNCATED] = "input is truncated",
    [BATON_EFORMAT] = "input is malformed",
    [BATON_EVERSION] = "unsupported version",
    [BATON_ETOOBIG] = "too large",
    [BATON_ENOSPACE] = "buffer too small",
    [BATON_ENOENV] = "no baton envelope",
    [BATON_EFULL] = "queue full",
    [BATON_ETIMEDOUT] = "timed out",
    [BATON_ESTATE] = "wrong state for this call",
    [BATON_ECLOSED] = "shut down",
    [BATON_ETRANSPORT] = "transport failure",
    [BATON_EREJECTED] = "rejected by the peer",
    [BATON_ESYSTEM] = "system call failed",
    [BATON_ENOTSUP] = "not supported",
    [BATON_EDISABLED] = "SDK disabled",
};

const char *baton_strerror(baton_err err)
{
	if ((unsigned)err < sizeof(bt_errors) / sizeof(bt_errors[0]) &&
	    bt_errors[err] != NULL)
		return bt_errors[err];
	return "unknown error";
}

const char *baton_version(void)
{
	return BATON_VERSION_STRING;
}

const char *baton_getenv(const char *name)
{
	const char *v = getenv(name);
	return (v != NULL && v[0] != '\0') ? v : NULL;
}
