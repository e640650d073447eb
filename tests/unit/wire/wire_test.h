/* SPDX-License-Identifier: MIT */
/*
 * wire_test.h - small helpers shared by the wire codec unit tests.
 * Include after <cmocka.h>.
 */
#ifndef XS_WIRE_TEST_H
#define XS_WIRE_TEST_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xscore/common.h>
#include <xscore/log.h>
#include <xscore/wire.h>

/*
 * Every length from 0 to need-1 must be rejected with -EMSGSIZE, leave the
 * output untouched, and count one rejection each. The buffer itself is a
 * valid encoding, so only the length can be the reason.
 */
#define WIRE_ASSERT_TRUNCATED(codec, decode, buf, need, out_type)                        \
	do {                                                                             \
		uint64_t before_ = xs_wire_rejects(codec);                               \
		for (size_t len_ = 0; len_ < (need); len_++) {                           \
			out_type out_;                                                   \
			out_type ref_;                                                   \
			memset(&out_, 0xa5, sizeof(out_));                              \
			memset(&ref_, 0xa5, sizeof(ref_));                              \
			assert_int_equal(decode((buf), len_, &out_), -EMSGSIZE);         \
			assert_memory_equal(&out_, &ref_, sizeof(out_));                 \
		}                                                                        \
		assert_int_equal(xs_wire_rejects(codec) - before_, (need));              \
	} while (0)

/*
 * Every capacity below need must give -EMSGSIZE and leave the buffer as it
 * was (no partial write).
 */
#define WIRE_ASSERT_ENCODE_CAP(encode, in, need)                                          \
	do {                                                                             \
		uint8_t buf_[512];                                                       \
		uint8_t ref_[512];                                                       \
		for (size_t cap_ = 0; cap_ < (need); cap_++) {                           \
			memset(buf_, 0x5a, sizeof(buf_));                                \
			memset(ref_, 0x5a, sizeof(ref_));                                \
			assert_int_equal(encode((in), buf_, cap_), -EMSGSIZE);           \
			assert_memory_equal(buf_, ref_, sizeof(buf_));                   \
		}                                                                        \
	} while (0)

/* Put a string into a fixed wire field, no terminator added beyond @n. */
static inline void wire_put_field(uint8_t *dst, const char *s, size_t n)
{
	memcpy(dst, s, n);
}

/*
 * Run @fn with stderr redirected to a temporary file and return what was
 * written (malloc'ed, NUL-terminated; caller frees).
 */
static inline char *wire_capture_stderr(void (*fn)(void *), void *arg)
{
	FILE *tmp = tmpfile();
	int saved;
	long n;
	char *text;

	if (!tmp)
		return NULL;
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(fileno(tmp), STDERR_FILENO);
	fn(arg);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	/* The log wrote through the descriptor, not through tmp's FILE buffer. */
	n = lseek(fileno(tmp), 0, SEEK_END);
	if (n < 0)
		n = 0;
	lseek(fileno(tmp), 0, SEEK_SET);
	text = calloc(1, (size_t)n + 1);
	if (text && n > 0 && read(fileno(tmp), text, (size_t)n) != n)
		text[0] = '\0';
	fclose(tmp);
	return text;
}

#endif /* XS_WIRE_TEST_H */
