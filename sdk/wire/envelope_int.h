/*
 * The envelope's unsampled constant, shared by the codec (envelope.c) and
 * the message layer's receive fast path (sdk/message): one copy.
 */
#ifndef BT_ENVELOPE_INT_H
#define BT_ENVELOPE_INT_H

#include <baton/envelope.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* The unsampled envelope: BA 20 08, its CRC-8 FB, then the CRC-32C of those four. */
static const uint8_t bt_env_unsampled[BATON_ENVELOPE_UNSAMPLED_SIZE] = {
    0xBA, 0x20, 0x08, 0xFB, 0x7B, 0x12, 0x9B, 0xCB};

/* True when p (at least 8 bytes) is the unsampled envelope: one 8-byte compare. */
static inline bool bt_env_is_unsampled(const uint8_t *p)
{
	uint64_t a, b;
	memcpy(&a, p, sizeof(a));
	memcpy(&b, bt_env_unsampled, sizeof(b));
	return a == b;
}

#endif /* BT_ENVELOPE_INT_H */
