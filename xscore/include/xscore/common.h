/* SPDX-License-Identifier: MIT */
/*
 * xscore/common.h - conventions shared by every module.
 *
 * Error convention (one for the whole project):
 *   - int functions return 0 (or a non-negative count/length) on success and a
 *     negative errno value on failure, e.g. -EINVAL, -ETIMEDOUT, -EBADMSG.
 *   - constructors return a pointer, or NULL with errno set.
 */
#ifndef XSCORE_COMMON_H
#define XSCORE_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define XS_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define XS_MIN(a, b) ((a) < (b) ? (a) : (b))
#define XS_MAX(a, b) ((a) > (b) ? (a) : (b))

/* container_of: get the enclosing object from an embedded member. */
#define xs_container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* 64-bit constants written the same way everywhere (gcc, clang, mingw). */
#define XS_U64(c) UINT64_C(c)

/* Big-endian (wire order) load/store helpers; never rely on alignment. */
static inline void xs_put8(uint8_t *p, uint8_t v) { p[0] = v; }
static inline void xs_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void xs_put32(uint8_t *p, uint32_t v)
{
	xs_put16(p, (uint16_t)(v >> 16));
	xs_put16(p + 2, (uint16_t)v);
}
static inline void xs_put64(uint8_t *p, uint64_t v)
{
	xs_put32(p, (uint32_t)(v >> 32));
	xs_put32(p + 4, (uint32_t)v);
}
static inline uint8_t xs_get8(const uint8_t *p) { return p[0]; }
static inline uint16_t xs_get16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}
static inline uint32_t xs_get32(const uint8_t *p)
{
	return (uint32_t)xs_get16(p) << 16 | xs_get16(p + 2);
}
static inline uint64_t xs_get64(const uint8_t *p)
{
	return (uint64_t)xs_get32(p) << 32 | xs_get32(p + 4);
}

/* Monotonic clock in milliseconds / microseconds. */
uint64_t xs_now_ms(void);
uint64_t xs_now_us(void);

/* Human text for a negative errno returned by our functions (never NULL). */
const char *xs_strerror(int neg_errno);

#endif /* XSCORE_COMMON_H */
