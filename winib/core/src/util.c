/* SPDX-License-Identifier: MIT */
/*
 * util.c - freestanding string helpers, the line formatter and logging.
 * The core links against no C library (the .sys is built with -nostdlib),
 * so these are written out here instead of taken from <string.h>/<stdio.h>.
 */
#include "winib/common.h"
#include "winib/policy.h"

void winib_env_init(struct winib_env *env, const struct winib_env_ops *ops, void *ctx)
{
	winib_memset(env, 0, sizeof(*env));
	env->ops = ops;
	env->ctx = ctx;
	env->log_level = WINIB_LOG_INFO;
	env->mode = WINIB_MODE_NORMAL;
}

size_t winib_strlen(const char *s)
{
	size_t n = 0;

	while (s[n] != '\0')
		n++;
	return n;
}

size_t winib_strnlen(const char *s, size_t max)
{
	size_t n = 0;

	while (n < max && s[n] != '\0')
		n++;
	return n;
}

int winib_tolower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

bool winib_isspace(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

int winib_strncasecmp(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		int ca = winib_tolower((unsigned char)a[i]);
		int cb = winib_tolower((unsigned char)b[i]);

		if (ca != cb)
			return ca - cb;
		if (ca == '\0')
			return 0;
	}
	return 0;
}

int winib_strcasecmp(const char *a, const char *b)
{
	return winib_strncasecmp(a, b, (size_t)-1);
}

void winib_memcpy(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	while (n-- > 0)
		*d++ = *s++;
}

void winib_memset(void *dst, int c, size_t n)
{
	unsigned char *d = dst;

	while (n-- > 0)
		*d++ = (unsigned char)c;
}

int winib_strlcpy(char *dst, const char *src, size_t cap)
{
	size_t n;

	if (cap == 0)
		return -ENAMETOOLONG;
	n = winib_strnlen(src, cap);
	if (n == cap) {
		winib_memcpy(dst, src, cap - 1);
		dst[cap - 1] = '\0';
		return -ENAMETOOLONG;
	}
	winib_memcpy(dst, src, n + 1);
	return 0;
}

char *winib_strndup(struct winib_env *env, const char *s, size_t len)
{
	char *p = winib_alloc(env, len + 1);

	if (p == NULL)
		return NULL;
	winib_memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = winib_tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int winib_parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;
	unsigned base = 10;

	if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		i = 2;
	}
	if (i == len)
		return -EINVAL;
	for (; i < len; i++) {
		int d = hexval((unsigned char)s[i]);

		if (d < 0 || (unsigned)d >= base)
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)d) / base)
			return -ERANGE;
		v = v * base + (uint64_t)d;
	}
	*out = v;
	return 0;
}

/* ---- formatter ---------------------------------------------------------- */

struct fmt_out {
	char *buf;
	size_t cap;
	size_t len;    /* wanted length so far */
};

static void out_ch(struct fmt_out *o, char c)
{
	if (o->cap > 0 && o->len < o->cap - 1)
		o->buf[o->len] = c;
	o->len++;
}

static void out_pad(struct fmt_out *o, char c, size_t n)
{
	while (n-- > 0)
		out_ch(o, c);
}

static void out_num(struct fmt_out *o, uint64_t v, unsigned base, bool upper, bool neg,
		    char pad, size_t width)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	size_t n = 0, len;

	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v != 0);
	len = n + (neg ? 1 : 0);
	if (pad == '0') {
		if (neg)
			out_ch(o, '-');
		if (width > len)
			out_pad(o, '0', width - len);
	} else {
		if (width > len)
			out_pad(o, ' ', width - len);
		if (neg)
			out_ch(o, '-');
	}
	while (n > 0)
		out_ch(o, tmp[--n]);
}

/* Integer arguments by length modifier; ap is a copy owned by winib_vfmt. */
static uint64_t arg_unsigned(va_list *ap, int lng, bool size_t_arg)
{
	if (size_t_arg)
		return va_arg(*ap, size_t);
	switch (lng) {
	case 0:
		return va_arg(*ap, unsigned int);
	case 1:
		return va_arg(*ap, unsigned long);
	default:
		return va_arg(*ap, unsigned long long);
	}
}

static int64_t arg_signed(va_list *ap, int lng)
{
	switch (lng) {
	case 0:
		return va_arg(*ap, int);
	case 1:
		return va_arg(*ap, long);
	default:
		return va_arg(*ap, long long);
	}
}

size_t winib_vfmt(char *buf, size_t cap, const char *fmt, va_list ap_in)
{
	struct fmt_out o = { buf, cap, 0 };
	const char *p;
	va_list ap;

	va_copy(ap, ap_in);
	for (p = fmt; *p != '\0'; p++) {
		char pad = ' ';
		size_t width = 0;
		int lng = 0;
		bool size_t_arg = false;

		if (*p != '%') {
			out_ch(&o, *p);
			continue;
		}
		p++;
		if (*p == '0') {
			pad = '0';
			p++;
		}
		while (*p >= '0' && *p <= '9')
			width = width * 10 + (size_t)(*p++ - '0');
		while (*p == 'l') {
			lng++;
			p++;
		}
		if (*p == 'z') {
			size_t_arg = true;
			p++;
		}
		switch (*p) {
		case 'd': {
			int64_t v = arg_signed(&ap, lng);

			if (v < 0)
				out_num(&o, (uint64_t)0 - (uint64_t)v, 10, false, true, pad, width);
			else
				out_num(&o, (uint64_t)v, 10, false, false, pad, width);
			break;
		}
		case 'u':
		case 'x':
		case 'X':
			out_num(&o, arg_unsigned(&ap, lng, size_t_arg), *p == 'u' ? 10 : 16, *p == 'X',
				false, pad, width);
			break;
		case 'p':
			out_ch(&o, '0');
			out_ch(&o, 'x');
			out_num(&o, (uint64_t)(uintptr_t)va_arg(ap, void *), 16, false, false, '0', 1);
			break;
		case 'c':
			out_ch(&o, (char)va_arg(ap, int));
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			size_t n;

			if (s == NULL)
				s = "(null)";
			n = winib_strlen(s);
			if (width > n)
				out_pad(&o, ' ', width - n);
			while (*s != '\0')
				out_ch(&o, *s++);
			break;
		}
		case '%':
			out_ch(&o, '%');
			break;
		default:
			/* Unknown conversion: show it rather than guess at va_arg. */
			out_ch(&o, '%');
			if (*p == '\0')
				goto done;
			out_ch(&o, *p);
			break;
		}
	}
done:
	va_end(ap);
	if (cap > 0)
		buf[o.len < cap ? o.len : cap - 1] = '\0';
	return o.len;
}

size_t winib_fmt(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	n = winib_vfmt(buf, cap, fmt, ap);
	va_end(ap);
	return n;
}

void winib_log(struct winib_env *env, enum winib_log_level level, const char *fmt, ...)
{
	char line[WINIB_LOG_LINE_MAX];
	va_list ap;
	size_t n;

	if (level > env->log_level)
		return;
	va_start(ap, fmt);
	n = winib_vfmt(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n >= sizeof(line))
		env->log_dropped++;
	env->ops->log(env->ctx, level, line);
}
