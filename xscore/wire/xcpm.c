/* SPDX-License-Identifier: MIT */
/*
 * xcpm.c - XCPM XCM_REQUEST and its reply: the packed big-endian bodies in
 * the 200-byte data area of an XCPM MAD (class 0x0B, attribute 0xB002).
 *
 * Request (181 bytes):
 *   0 vm_id (32)   4 port_guid (64)   12 hostname[65]   77 os_version[32]
 * 109 os_arch[16] 125 os_type (32)   129 fw_version (64)
 * 137 hw_version (32)  141 driver_version (32)  145 system_id_l (64)
 * 153 system_id_h (64) 161 capabilities (32)    165 build_version[16]
 *
 * Reply (176 bytes):
 *   0 vm_id (32)   4 port_guid (64)   12 count   13 xcm_version  14 reserved[2]
 *  16 eight 20-byte records: +0 port_guid (64), +8 lid (16), +10 reserved[10]
 */
#include "wire_int.h"

#define RQ_VM_ID 0
#define RQ_PORT_GUID 4
#define RQ_HOSTNAME 12
#define RQ_HOSTNAME_LEN 65
#define RQ_OS_VERSION 77
#define RQ_OS_VERSION_LEN 32
#define RQ_OS_ARCH 109
#define RQ_OS_ARCH_LEN 16
#define RQ_OS_TYPE 125
#define RQ_FW_VERSION 129
#define RQ_HW_VERSION 137
#define RQ_DRIVER_VERSION 141
#define RQ_SYSTEM_ID_L 145
#define RQ_SYSTEM_ID_H 153
#define RQ_CAPABILITIES 161
#define RQ_BUILD_VERSION 165
#define RQ_BUILD_VERSION_LEN 16

#define RP_COUNT 12
#define RP_XCM_VERSION 13
#define RP_RECORDS 16
#define RP_RECORD_LEN 20

int xs_xcpm_request_decode(const uint8_t *buf, size_t len, struct xs_xcpm_request *req)
{
	int rc;

	rc = xs_wire_need(XS_WIRE_XCPM_REQUEST, len, XS_XCPM_REQUEST_LEN);
	if (rc)
		return rc;
	req->server.vm_id = xs_get32(buf + RQ_VM_ID);
	req->server.port_guid = xs_get64(buf + RQ_PORT_GUID);
	xs_wire_get_str(req->hostname, buf + RQ_HOSTNAME, RQ_HOSTNAME_LEN);
	xs_wire_get_str(req->os_version, buf + RQ_OS_VERSION, RQ_OS_VERSION_LEN);
	xs_wire_get_str(req->os_arch, buf + RQ_OS_ARCH, RQ_OS_ARCH_LEN);
	req->os_type = xs_get32(buf + RQ_OS_TYPE);
	req->fw_version = xs_get64(buf + RQ_FW_VERSION);
	req->hw_version = xs_get32(buf + RQ_HW_VERSION);
	req->driver_version = xs_get32(buf + RQ_DRIVER_VERSION);
	req->system_id_l = xs_get64(buf + RQ_SYSTEM_ID_L);
	req->system_id_h = xs_get64(buf + RQ_SYSTEM_ID_H);
	req->capabilities = xs_get32(buf + RQ_CAPABILITIES);
	xs_wire_get_str(req->build_version, buf + RQ_BUILD_VERSION, RQ_BUILD_VERSION_LEN);
	return 0;
}

int xs_xcpm_request_encode(const struct xs_xcpm_request *req, uint8_t *buf, size_t cap)
{
	int rc;

	rc = xs_wire_cap("xcpm_request", cap, XS_XCPM_REQUEST_LEN);
	if (rc)
		return rc;
	/* Check every string before writing anything. */
	if (xs_wire_str_fits("xcpm_request", "hostname", req->hostname, sizeof(req->hostname),
			     RQ_HOSTNAME_LEN) ||
	    xs_wire_str_fits("xcpm_request", "os_version", req->os_version, sizeof(req->os_version),
			     RQ_OS_VERSION_LEN) ||
	    xs_wire_str_fits("xcpm_request", "os_arch", req->os_arch, sizeof(req->os_arch),
			     RQ_OS_ARCH_LEN) ||
	    xs_wire_str_fits("xcpm_request", "build_version", req->build_version,
			     sizeof(req->build_version), RQ_BUILD_VERSION_LEN))
		return -EINVAL;
	xs_put32(buf + RQ_VM_ID, req->server.vm_id);
	xs_put64(buf + RQ_PORT_GUID, req->server.port_guid);
	xs_wire_put_str(buf + RQ_HOSTNAME, req->hostname, sizeof(req->hostname), RQ_HOSTNAME_LEN);
	xs_wire_put_str(buf + RQ_OS_VERSION, req->os_version, sizeof(req->os_version),
			RQ_OS_VERSION_LEN);
	xs_wire_put_str(buf + RQ_OS_ARCH, req->os_arch, sizeof(req->os_arch), RQ_OS_ARCH_LEN);
	xs_put32(buf + RQ_OS_TYPE, req->os_type);
	xs_put64(buf + RQ_FW_VERSION, req->fw_version);
	xs_put32(buf + RQ_HW_VERSION, req->hw_version);
	xs_put32(buf + RQ_DRIVER_VERSION, req->driver_version);
	xs_put64(buf + RQ_SYSTEM_ID_L, req->system_id_l);
	xs_put64(buf + RQ_SYSTEM_ID_H, req->system_id_h);
	xs_put32(buf + RQ_CAPABILITIES, req->capabilities);
	xs_wire_put_str(buf + RQ_BUILD_VERSION, req->build_version, sizeof(req->build_version),
			RQ_BUILD_VERSION_LEN);
	return XS_XCPM_REQUEST_LEN;
}

int xs_xcpm_reply_decode(const uint8_t *buf, size_t len, struct xs_xcpm_reply *rep)
{
	uint8_t count, version;
	unsigned int i;
	int rc;

	rc = xs_wire_need(XS_WIRE_XCPM_REPLY, len, XS_XCPM_REPLY_LEN);
	if (rc)
		return rc;
	count = xs_get8(buf + RP_COUNT);
	version = xs_get8(buf + RP_XCM_VERSION);
	if (count > XS_XCPM_MAX_XCMS)
		return xs_wire_reject(XS_WIRE_XCPM_REPLY, -EBADMSG,
				      "XCM count %u exceeds the %d records of the list", count,
				      XS_XCPM_MAX_XCMS);
	/* As the original host: the version only matters when records follow. */
	if (count && version != XS_XCPM_XCM_VERSION)
		return xs_wire_reject(XS_WIRE_XCPM_REPLY, -EBADMSG,
				      "XCM record version %u, expected %u", version,
				      XS_XCPM_XCM_VERSION);
	rep->server.vm_id = xs_get32(buf + 0);
	rep->server.port_guid = xs_get64(buf + 4);
	rep->count = count;
	rep->xcm_version = version;
	/* Records past count are not data: zero them rather than copy them. */
	memset(rep->xcms, 0, sizeof(rep->xcms));
	for (i = 0; i < count; i++) {
		const uint8_t *r = buf + RP_RECORDS + RP_RECORD_LEN * i;

		rep->xcms[i].port_guid = xs_get64(r);
		rep->xcms[i].lid = xs_get16(r + 8);
	}
	return 0;
}

int xs_xcpm_reply_encode(const struct xs_xcpm_reply *rep, uint8_t *buf, size_t cap)
{
	unsigned int i;
	int rc;

	rc = xs_wire_cap("xcpm_reply", cap, XS_XCPM_REPLY_LEN);
	if (rc)
		return rc;
	if (rep->count > XS_XCPM_MAX_XCMS) {
		XS_DEBUG(XS_WIRE_LOG, "xcpm_reply encode: count %u exceeds %d", rep->count,
			 XS_XCPM_MAX_XCMS);
		return -EINVAL;
	}
	memset(buf, 0, XS_XCPM_REPLY_LEN);
	xs_put32(buf + 0, rep->server.vm_id);
	xs_put64(buf + 4, rep->server.port_guid);
	xs_put8(buf + RP_COUNT, rep->count);
	xs_put8(buf + RP_XCM_VERSION, rep->xcm_version);
	for (i = 0; i < rep->count; i++) {
		uint8_t *r = buf + RP_RECORDS + RP_RECORD_LEN * i;

		xs_put64(r, rep->xcms[i].port_guid);
		xs_put16(r + 8, rep->xcms[i].lid);
	}
	return XS_XCPM_REPLY_LEN;
}
