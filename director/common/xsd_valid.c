/* SPDX-License-Identifier: MIT */
/* xsd_valid.c - operator input parsers shared by xsdirectord and xcm. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xsd_valid.h"

int xsd_fail(struct xsd_err *err, int neg, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return neg;
}

/* Quote at most 40 characters of user input in a message. */
static const char *clip(const char *s, char buf[48])
{
	size_t n = strlen(s);

	if (n <= 40)
		return s;
	snprintf(buf, 48, "%.37s...", s);
	return buf;
}

int xsd_check_name(const char *what, const char *s, size_t max, struct xsd_err *err)
{
	char c[48];
	size_t n = strlen(s);

	if (n == 0)
		return xsd_fail(err, -EINVAL, "%s name is empty; 1..%zu characters are allowed",
				what, max);
	if (n > max)
		return xsd_fail(err, -EINVAL, "%s name '%s' is %zu characters; at most %zu are allowed",
				what, clip(s, c), n, max);
	if (!isalnum((unsigned char)s[0]))
		return xsd_fail(err, -EINVAL,
				"%s name '%s' must start with a letter or digit", what, clip(s, c));
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (!isalnum(ch) && ch != '.' && ch != '_' && ch != '-')
			return xsd_fail(err, -EINVAL,
					"%s name '%s' has a bad character; allowed are letters, digits, '.', '_' and '-'",
					what, clip(s, c));
	}
	return 0;
}

int xsd_check_hostname(const char *s, struct xsd_err *err)
{
	char c[48];
	size_t n = strlen(s);

	if (n == 0 || n > XSD_HOSTNAME_MAX)
		return xsd_fail(err, -EINVAL, "hostname '%s' is %zu characters; 1..%d are allowed",
				clip(s, c), n, XSD_HOSTNAME_MAX);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (!isalnum(ch) && ch != '.' && ch != '-' && ch != '_')
			return xsd_fail(err, -EINVAL,
					"hostname '%s' has a bad character; allowed are letters, digits, '.', '-' and '_'",
					clip(s, c));
	}
	return 0;
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int xsd_parse_mac(const char *s, uint8_t mac[6], struct xsd_err *err)
{
	char c[48];
	const char *p = s;

	for (int i = 0; i < 6; i++) {
		int hi = hexval((unsigned char)p[0]), lo = hi < 0 ? -1 : hexval((unsigned char)p[1]);

		if (hi < 0 || lo < 0)
			goto bad;
		mac[i] = (uint8_t)(hi << 4 | lo);
		p += 2;
		if (i < 5) {
			if (*p != ':' && *p != '-')
				goto bad;
			p++;
		}
	}
	if (*p)
		goto bad;
	if (mac[0] & 1)
		return xsd_fail(err, -EINVAL,
				"MAC %s is a multicast address; a vNIC needs a unicast MAC (first octet even)",
				clip(s, c));
	if (!(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
		return xsd_fail(err, -EINVAL, "MAC 00:00:00:00:00:00 is not a usable address");
	return 0;
bad:
	return xsd_fail(err, -EINVAL, "bad MAC '%s'; expected six hex pairs like 02:11:22:33:44:55",
			clip(s, c));
}

void xsd_format_mac(const uint8_t mac[6], char out[18])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
		 mac[4], mac[5]);
}

/* 16 hex digits with optional separators sep every `group` digits. */
static int parse_hex64(const char *s, char sep, uint64_t *out)
{
	uint64_t v = 0;
	int digits = 0;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	for (; *s; s++) {
		int h = hexval((unsigned char)*s);

		if (h < 0) {
			if (*s == sep && digits > 0 && s[1])
				continue;
			return -EINVAL;
		}
		if (++digits > 16)
			return -EINVAL;
		v = v << 4 | (uint64_t)h;
	}
	if (digits == 0)
		return -EINVAL;
	*out = v;
	return 0;
}

int xsd_parse_guid(const char *s, uint64_t *out, struct xsd_err *err)
{
	char c[48];

	if (parse_hex64(s, ':', out) || *out == 0)
		return xsd_fail(err, -EINVAL,
				"bad GUID '%s'; expected up to 16 hex digits like 0x0002c90300001234",
				clip(s, c));
	return 0;
}

void xsd_format_guid(uint64_t g, char out[20])
{
	snprintf(out, 20, "0x%016" PRIx64, g);
}

int xsd_parse_wwn(const char *s, uint64_t *out, struct xsd_err *err)
{
	char c[48];
	size_t n = strlen(s);
	int digits = 0;

	for (size_t i = 0; i < n; i++)
		digits += hexval((unsigned char)s[i]) >= 0;
	/* a WWN is always written in full: 16 digits */
	if ((s[0] == '0' && (s[1] == 'x' || s[1] == 'X') ? digits - 1 : digits) != 16 ||
	    parse_hex64(s, ':', out) || *out == 0)
		return xsd_fail(err, -EINVAL,
				"bad WWN '%s'; expected 16 hex digits like 50:01:43:80:12:34:56:78",
				clip(s, c));
	return 0;
}

void xsd_format_wwn(uint64_t w, char out[24])
{
	snprintf(out, 24, "%02x:%02x:%02x:%02x:%02x:%02x:%02x:%02x", (unsigned)(w >> 56) & 0xff,
		 (unsigned)(w >> 48) & 0xff, (unsigned)(w >> 40) & 0xff, (unsigned)(w >> 32) & 0xff,
		 (unsigned)(w >> 24) & 0xff, (unsigned)(w >> 16) & 0xff, (unsigned)(w >> 8) & 0xff,
		 (unsigned)w & 0xff);
}

int xsd_check_range(const char *what, uint64_t v, uint64_t lo, uint64_t hi, struct xsd_err *err)
{
	if (v < lo || v > hi)
		return xsd_fail(err, -EINVAL, "%s %" PRIu64 " out of range; allowed %" PRIu64
				"..%" PRIu64, what, v, lo, hi);
	return 0;
}

int xsd_parse_uint(const char *what, const char *s, uint64_t lo, uint64_t hi, uint64_t *out,
		   struct xsd_err *err)
{
	char c[48];
	char *end;
	unsigned long long v;

	if (!isdigit((unsigned char)s[0]))
		goto bad;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno == ERANGE)
		return xsd_fail(err, -EINVAL, "%s %s out of range; allowed %" PRIu64 "..%" PRIu64,
				what, clip(s, c), lo, hi);
	if (*end)
		goto bad;
	*out = v;
	return xsd_check_range(what, v, lo, hi, err);
bad:
	return xsd_fail(err, -EINVAL, "bad %s '%s'; expected a number %" PRIu64 "..%" PRIu64, what,
			clip(s, c), lo, hi);
}

int xsd_parse_size(const char *what, const char *s, uint64_t *out, struct xsd_err *err)
{
	static const char units[] = "KMGTP";
	char c[48];
	char *end;
	unsigned long long v;
	const char *u;

	if (!isdigit((unsigned char)s[0]))
		goto bad;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		goto range;
	if (*end) {
		u = strchr(units, *end);
		if (!u || !*u || (end[1] && strcmp(end + 1, "iB") && strcmp(end + 1, "B")))
			goto bad;
		for (const char *k = units; k <= u; k++) {
			if (v > UINT64_MAX / 1024)
				goto range;
			v *= 1024;
		}
	}
	if (v == 0)
		return xsd_fail(err, -EINVAL, "%s must be more than 0 bytes", what);
	*out = v;
	return 0;
range:
	return xsd_fail(err, -EINVAL, "%s '%s' is too large", what, clip(s, c));
bad:
	return xsd_fail(err, -EINVAL,
			"bad %s '%s'; expected bytes with an optional K, M, G or T suffix (1024-based)",
			what, clip(s, c));
}

/* Parse "a,b-c,..." into a bitmap of max+1 bits; then print canonically. */
static int parse_idlist(const char *what, const char *s, unsigned int min, unsigned int max,
			unsigned int limit, char *out, size_t cap, unsigned int *count,
			struct xsd_err *err)
{
	char c[48];
	uint8_t *bits;
	unsigned int n = 0;
	size_t off = 0;
	const char *p = s;
	int rc = 0;

	bits = calloc(max / 8 + 1, 1);
	if (!bits)
		return xsd_fail(err, -ENOMEM, "out of memory");
	while (*p) {
		char *end;
		unsigned long a, b;

		if (!isdigit((unsigned char)*p))
			goto bad;
		a = strtoul(p, &end, 10);
		b = a;
		p = end;
		if (*p == '-') {
			p++;
			if (!isdigit((unsigned char)*p))
				goto bad;
			b = strtoul(p, &end, 10);
			p = end;
		}
		if (*p == ',') {
			p++;
			if (!*p)
				goto bad;
		} else if (*p) {
			goto bad;
		}
		if (a < min || a > max || b < min || b > max) {
			rc = xsd_fail(err, -EINVAL, "%s %lu out of range; allowed %u..%u", what,
				      (a < min || a > max) ? a : b, min, max);
			goto out;
		}
		if (b < a) {
			rc = xsd_fail(err, -EINVAL, "%s range %lu-%lu is reversed; write %lu-%lu",
				      what, a, b, b, a);
			goto out;
		}
		for (unsigned long v = a; v <= b; v++) {
			if (!(bits[v / 8] & (1u << (v % 8)))) {
				bits[v / 8] |= (uint8_t)(1u << (v % 8));
				if (++n > limit) {
					rc = xsd_fail(err, -EINVAL,
						      "%s list '%s' has more than %u entries; at most %u are allowed",
						      what, clip(s, c), limit, limit);
					goto out;
				}
			}
		}
	}
	out[0] = 0;
	for (unsigned int v = min; v <= max; v++) {
		unsigned int e = v;
		int w;

		if (!(bits[v / 8] & (1u << (v % 8))))
			continue;
		while (e + 1 <= max && (bits[(e + 1) / 8] & (1u << ((e + 1) % 8))))
			e++;
		if (e == v)
			w = snprintf(out + off, cap - off, "%s%u", off ? "," : "", v);
		else
			w = snprintf(out + off, cap - off, "%s%u-%u", off ? "," : "", v, e);
		if (w < 0 || (size_t)w >= cap - off) {
			rc = xsd_fail(err, -EINVAL, "%s list '%s' is too long", what, clip(s, c));
			goto out;
		}
		off += (size_t)w;
		v = e;
	}
	*count = n;
	goto out;
bad:
	rc = xsd_fail(err, -EINVAL, "bad %s list '%s'; expected numbers and ranges like 10,20-30",
		      what, clip(s, c));
out:
	free(bits);
	return rc;
}

int xsd_parse_vlans(const char *s, char *out, size_t cap, unsigned int *count,
		    struct xsd_err *err)
{
	return parse_idlist("VLAN", s, 1, XSD_VLAN_MAX_ID, XSD_VLANS_MAX, out, cap, count, err);
}

int xsd_parse_luns(const char *s, char *out, size_t cap, unsigned int *count,
		   struct xsd_err *err)
{
	return parse_idlist("LUN", s, 0, XSD_LUN_MAX, XSD_LUN_MAX + 1, out, cap, count, err);
}

int xsd_parse_targets(const char *s, char *out, size_t cap, struct xsd_err *err)
{
	char name[XSD_TARGET_NAME_MAX + 2];
	const char *p = s;
	size_t off = 0;
	int n = 0, rc;

	out[0] = 0;
	while (*p) {
		size_t len = strcspn(p, ",");

		if (len > XSD_TARGET_NAME_MAX)
			len = XSD_TARGET_NAME_MAX + 1;
		memcpy(name, p, len);
		name[len] = 0;
		rc = xsd_check_name("target", name, XSD_TARGET_NAME_MAX, err);
		if (rc)
			return rc;
		if (++n > XSD_TARGETS_MAX)
			return xsd_fail(err, -EINVAL, "more than %d targets; at most %d are allowed",
					XSD_TARGETS_MAX, XSD_TARGETS_MAX);
		if (off + len + 2 > cap)
			return xsd_fail(err, -EINVAL, "target list too long");
		off += (size_t)snprintf(out + off, cap - off, "%s%s", off ? "," : "", name);
		p += strcspn(p, ",");
		if (*p == ',' && !*++p)
			return xsd_fail(err, -EINVAL, "target list ends with ','");
	}
	return 0;
}

int xsd_parse_updown(const char *s, bool *up, struct xsd_err *err)
{
	char c[48];

	if (!strcmp(s, "up"))
		*up = true;
	else if (!strcmp(s, "down"))
		*up = false;
	else
		return xsd_fail(err, -EINVAL, "bad admin state '%s'; expected up or down", clip(s, c));
	return 0;
}

int xsd_parse_onoff(const char *what, const char *s, bool *on, struct xsd_err *err)
{
	char c[48];

	if (!strcmp(s, "on"))
		*on = true;
	else if (!strcmp(s, "off"))
		*on = false;
	else
		return xsd_fail(err, -EINVAL, "bad %s value '%s'; expected on or off", what,
				clip(s, c));
	return 0;
}

int xsd_parse_vlan_mode(const char *s, int *trunk, struct xsd_err *err)
{
	char c[48];

	if (!strcmp(s, "access"))
		*trunk = 0;
	else if (!strcmp(s, "trunk"))
		*trunk = 1;
	else
		return xsd_fail(err, -EINVAL, "bad VLAN mode '%s'; expected access or trunk",
				clip(s, c));
	return 0;
}
