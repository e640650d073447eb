/* SPDX-License-Identifier: MIT */
/*
 * xsd_valid.h - parsers and checks for every operator-supplied value
 * (names, MACs, WWNs, GUIDs, VLAN and LUN lists, ranges), shared by the
 * director (which enforces them) and the xcm CLI (which checks early so a
 * typo is a usage error). Both print the same one-line text.
 *
 * Every function returns 0 or a negative errno (-EINVAL) and then leaves a
 * human sentence in err->msg saying what is wrong and what is allowed.
 */
#ifndef XSD_VALID_H
#define XSD_VALID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits (docs/operations.md explains each). */
#define XSD_DEV_NAME_MAX 15      /* vnic/vhba name: the XSMP name field is 16 bytes */
#define XSD_NAME_MAX 63          /* profile, uplink, storage pool, storage, HA group */
#define XSD_HOSTNAME_MAX 64      /* XCPM hostname field is 65 bytes */
#define XSD_MTU_MIN 68           /* smallest IPv4 MTU (RFC 791) */
#define XSD_MTU_MAX 65280        /* 64 KiB TAP frames minus Ethernet/VLAN headers, rounded */
#define XSD_MTU_DEFAULT 1500
#define XSD_VLAN_MAX_ID 4094
#define XSD_VLANS_MAX 500        /* the original vNIC's VLAN table size */
#define XSD_VLANS_TEXT 2560      /* canonical list text, 500 entries fit */
#define XSD_LUN_MAX 16383        /* flat-space LUNs (SAM-5 single level, 14 bits) */
#define XSD_LUNS_TEXT 1024
#define XSD_TARGETS_MAX 8        /* XSMP vHBA body: 8 target names */
#define XSD_TARGET_NAME_MAX 24   /* target name: 24 name bytes of each 32-byte slot */
#define XSD_TARGETS_TEXT (XSD_TARGETS_MAX * (XSD_TARGET_NAME_MAX + 1))
#define XSD_UPLINK_MAX 32        /* XSMP vNIC body: uplink field, 32 bytes */
#define XSD_HA_GROUP_MAX 47      /* XSMP vNIC body: mp_group, 48 bytes with its NUL */
#define XSD_QDEPTH_MIN 1
#define XSD_QDEPTH_MAX 1024
#define XSD_QDEPTH_DEFAULT 32
#define XSD_LDTO_MAX 3600        /* link-down timeout, seconds */
#define XSD_LDTO_DEFAULT 30
#define XSD_RATE_MAX 65535       /* Mbit/s: the XSMP cir/pir fields are 16 bits */
#define XSD_PROFILE_GUIDS_MAX 8

struct xsd_err {
	char msg[320];
};

/* Set err->msg printf-style; returns neg (so `return xsd_fail(err, -EINVAL, ...)`). */
int xsd_fail(struct xsd_err *err, int neg, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* what: "vnic", "vhba", "profile", "uplink", "storage pool", "HA group".
 * Names: 1..max characters of [A-Za-z0-9._-], starting with a letter or digit. */
int xsd_check_name(const char *what, const char *s, size_t max, struct xsd_err *err);
int xsd_check_hostname(const char *s, struct xsd_err *err);

/* "02:11:22:33:44:55" (also '-' separators). Rejects multicast and all-zero. */
int xsd_parse_mac(const char *s, uint8_t mac[6], struct xsd_err *err);
void xsd_format_mac(const uint8_t mac[6], char out[18]);
/* 64-bit GUID: "0x0002c90300001234", "0002c90300001234" or "0002:c903:0000:1234". */
int xsd_parse_guid(const char *s, uint64_t *out, struct xsd_err *err);
void xsd_format_guid(uint64_t g, char out[20]);  /* 0x%016llx */
/* WWN: 16 hex digits, optionally in colon-separated pairs "50:01:...". */
int xsd_parse_wwn(const char *s, uint64_t *out, struct xsd_err *err);
void xsd_format_wwn(uint64_t w, char out[24]);   /* 50:01:43:80:00:00:00:01 */

/* Decimal (or 0x hex) unsigned in lo..hi; what names it in messages ("MTU"). */
int xsd_parse_uint(const char *what, const char *s, uint64_t lo, uint64_t hi, uint64_t *out,
		   struct xsd_err *err);
int xsd_check_range(const char *what, uint64_t v, uint64_t lo, uint64_t hi, struct xsd_err *err);

/* A byte count: "1048576", "64M", "1G", "2GiB", "512K" (K, M, G, T, P are
 * powers of 1024); more than 0. what names it in messages ("size"). */
int xsd_parse_size(const char *what, const char *s, uint64_t *out, struct xsd_err *err);

/* "10,20-30": ids 1..4094, at most 500 ids. Writes the canonical form
 * (sorted, merged ranges) to out; *count gets the number of ids. */
int xsd_parse_vlans(const char *s, char *out, size_t cap, unsigned int *count,
		    struct xsd_err *err);
/* LUN mask "0-3,7": LUNs 0..16383, canonical form out. "" = no masking. */
int xsd_parse_luns(const char *s, char *out, size_t cap, unsigned int *count,
		   struct xsd_err *err);
/* Comma list of target names, each a name; canonical (as given, no spaces). */
int xsd_parse_targets(const char *s, char *out, size_t cap, struct xsd_err *err);

/* "up"/"down"; "on"/"off". */
int xsd_parse_updown(const char *s, bool *up, struct xsd_err *err);
int xsd_parse_onoff(const char *what, const char *s, bool *on, struct xsd_err *err);
/* "access"/"trunk" -> 0/1 */
int xsd_parse_vlan_mode(const char *s, int *trunk, struct xsd_err *err);

#endif /* XSD_VALID_H */
