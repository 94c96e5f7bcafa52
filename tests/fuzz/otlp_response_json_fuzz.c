/*
 * The JSON answer a collector sends to an http/json export: never crashes;
 * on success the message is NUL-terminated within its buffer and carries no
 * control byte (it reaches log lines), and the rejected count is never
 * negative; on failure nothing is claimed rejected.
 */
#include "otlp_int.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int64_t rejected = -7;
	char msg[64];
	memset(msg, 'Z', sizeof(msg));
	baton_err rv =
	    bt_otlp_parse_response_json(data, size, &rejected, msg, sizeof(msg));
	if (rv == BATON_OK) {
		size_t n = strnlen(msg, sizeof(msg));
		if (n >= sizeof(msg))
			__builtin_trap();
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
				__builtin_trap();
		if (rejected < 0)
			__builtin_trap();
	} else if (rv != BATON_EFORMAT) {
		__builtin_trap();
	}
	return 0;
}
