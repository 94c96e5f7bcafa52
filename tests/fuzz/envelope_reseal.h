/*
 * For the envelope fuzz targets: fixes up the check byte and check word of
 * a candidate version 2+ envelope in place, so that mutated inputs reach
 * the extension decoder instead of stopping at a check that a random
 * mutation almost never satisfies. Leaves inputs it cannot place alone.
 */
#ifndef BATON_ENVELOPE_RESEAL_H
#define BATON_ENVELOPE_RESEAL_H

#include <stddef.h>
#include <stdint.h>

static inline void fz_envelope_reseal(uint8_t *m, size_t size)
{
	if (size < 8 || m[0] != 0xBA || (m[1] >> 4) < 2)
		return;
	uint8_t crc = 0;
	for (int k = 0; k < 3; k++) {
		crc ^= m[k];
		for (int b = 0; b < 8; b++)
			crc = (uint8_t)((crc & 0x80) ? (crc << 1) ^ 0x07 : crc << 1);
	}
	m[3] = crc;
	size_t fixed = m[2], total = fixed;
	if (fixed < 8 || fixed > size)
		return;
	if (m[1] & 0x08) {
		if (fixed + 1 > size)
			return;
		size_t e = m[fixed], off = fixed + 1;
		if (e & 0x80) {
			if (fixed + 2 > size)
				return;
			e = (e & 0x7F) << 8 | m[fixed + 1];
			off = fixed + 2;
		}
		total = off + e;
	}
	if (total > size)
		return;
	uint32_t c = 0xFFFFFFFFu; /* CRC-32C, bit by bit */
	for (size_t i = 0; i < total; i++) {
		if (i >= fixed - 4 && i < fixed)
			continue;
		c ^= m[i];
		for (int b = 0; b < 8; b++)
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
	}
	c = ~c;
	m[fixed - 4] = (uint8_t)(c >> 24);
	m[fixed - 3] = (uint8_t)(c >> 16);
	m[fixed - 2] = (uint8_t)(c >> 8);
	m[fixed - 1] = (uint8_t)c;
}

#endif
