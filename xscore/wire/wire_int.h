/* SPDX-License-Identifier: MIT */
/*
 * wire_int.h - helpers private to the wire codecs (the .c files in xscore/wire).
 * Not installed, not part of the public API.
 */
#ifndef XSCORE_WIRE_INT_H
#define XSCORE_WIRE_INT_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <xscore/common.h>
#include <xscore/log.h>
#include <xscore/wire.h>

#define XS_WIRE_LOG "wire"

/*
 * Count one rejected input for @codec, log at debug level (component "wire")
 * what was wrong, and return @err so callers can write
 *	return xs_wire_reject(XS_WIRE_SR, -EMSGSIZE, "...", ...);
 */
int xs_wire_reject(enum xs_wire_codec codec, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Reject a buffer shorter than @need bytes (-EMSGSIZE), else return 0. */
static inline int xs_wire_need(enum xs_wire_codec codec, size_t len, size_t need)
{
	if (len >= need)
		return 0;
	return xs_wire_reject(codec, -EMSGSIZE, "truncated: %zu bytes, need %zu", len, need);
}

/*
 * Copy a fixed-width wire string field of @wire_len bytes into @dst, which
 * holds at least wire_len + 1 bytes. The copy stops at the first NUL of the
 * field; the rest of @dst is zeroed, so the result is always NUL-terminated
 * and two decodes of equal strings compare equal byte for byte.
 */
static inline void xs_wire_get_str(char *dst, const uint8_t *src, size_t wire_len)
{
	size_t n = strnlen((const char *)src, wire_len);

	memcpy(dst, src, n);
	memset(dst + n, 0, wire_len + 1 - n);
}

/*
 * Encoder check, before anything is written: does the string in @str (an
 * array of @size bytes, size > wire_len) fit a wire field of @wire_len bytes?
 * An array with no NUL at all reads as @size characters and never fits.
 * Returns 0 or -EINVAL (logged at debug level, naming @what and @field).
 */
static inline int xs_wire_str_fits(const char *what, const char *field, const char *str,
				   size_t size, size_t wire_len)
{
	if (strnlen(str, size) <= wire_len)
		return 0;
	XS_DEBUG(XS_WIRE_LOG, "%s encode: %s longer than %zu bytes", what, field, wire_len);
	return -EINVAL;
}

/*
 * Write the string in @src (an array of @src_size bytes, at least
 * wire_len + 1) into a wire field of @wire_len bytes, zero-padded. Returns 0,
 * or -EINVAL without writing when the string does not fit (check first with
 * xs_wire_str_fits() when several fields must be all-or-nothing).
 */
static inline int xs_wire_put_str(uint8_t *dst, const char *src, size_t src_size,
				  size_t wire_len)
{
	size_t n = strnlen(src, src_size);

	if (n > wire_len)
		return -EINVAL;
	memcpy(dst, src, n);
	memset(dst + n, 0, wire_len - n);
	return 0;
}

/* Encoder guard: -EMSGSIZE when @cap is below @need. */
static inline int xs_wire_cap(const char *what, size_t cap, size_t need)
{
	if (cap >= need)
		return 0;
	XS_DEBUG(XS_WIRE_LOG, "%s encode: buffer of %zu bytes, need %zu", what, cap, need);
	return -EMSGSIZE;
}

/*
 * MAD common header, raw: read/write the 24 bytes without any checks. The
 * MAD and SA decoders validate on top, so a bad SA MAD is counted once,
 * under the SA codec. @buf must hold XS_MAD_HDR_LEN bytes.
 */
void xs_wire_mad_hdr_read(const uint8_t *buf, struct xs_mad_hdr *h);
void xs_wire_mad_hdr_write(const struct xs_mad_hdr *h, uint8_t *buf);

#endif /* XSCORE_WIRE_INT_H */
