/* SPDX-License-Identifier: MIT */
/*
 * backoff.c - capped exponential back-off with full jitter.
 *
 * delay = uniform(0, min(max, min * 2^attempt)): a thousand hosts that lose
 * their director at the same moment spread their retries over the whole
 * window instead of arriving together (AWS architecture blog, "Exponential
 * Backoff And Jitter", full jitter). The generator is per object (no global
 * state), seeded from the port GUID and the clock.
 */
#include "host_int.h"

void xs_backoff_init(struct xs_backoff *b, uint32_t min_ms, uint32_t max_ms, uint64_t seed)
{
	b->attempt = 0;
	b->min_ms = min_ms ? min_ms : 1;
	b->max_ms = max_ms >= b->min_ms ? max_ms : b->min_ms;
	b->rng = seed ? seed : UINT64_C(0x9e3779b97f4a7c15);
}

static uint64_t xorshift64s(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * UINT64_C(0x2545f4914f6cdd1d);
}

uint32_t xs_backoff_rand(struct xs_backoff *b, uint32_t n)
{
	if (n == 0)
		return 0;
	return (uint32_t)((xorshift64s(&b->rng) >> 32) % n);
}

uint32_t xs_backoff_next(struct xs_backoff *b)
{
	uint64_t window = b->min_ms;
	uint32_t i;

	for (i = 0; i < b->attempt && window < b->max_ms; i++)
		window <<= 1;
	if (window > b->max_ms)
		window = b->max_ms;
	if (b->attempt < 64)
		b->attempt++;
	return xs_backoff_rand(b, (uint32_t)window + 1);
}

void xs_backoff_reset(struct xs_backoff *b)
{
	b->attempt = 0;
}
