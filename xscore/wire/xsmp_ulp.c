/* SPDX-License-Identifier: MIT */
/*
 * xsmp_ulp.c - XSMP ULP configuration bodies (vNIC, vHBA) and the
 * RESOURCE_LIST tail. Big-endian; layouts in xscore/xsmp_ulp.h and
 * docs/protocol.md.
 *
 * vNIC body (512 bytes):
 *   0 type  1 code  2 length  4 bitmask  8 resource_id  16 tca_guid
 *  24 tca_lid  26 mac[6]  32 admin_rate  34 admin_state  36 encap  38 mtu
 *  40 install_flags  44 vnic_name[16]  60 service_level  62 fc_active
 *  64 cir  66 pir  68 cbs  72 pbs  76 vm_index  77 reserved  78 mp_flag
 *  80 mp_group[48]
 * 128 ext_version  129 vlan_mode  130 vlan_count  132 reason
 * 136 uplink[32]  168 reason_text[64]  232 vlans[128] (16 each)
 * 488 reserved, zero, up to 512
 *
 * vHBA body (512 bytes):
 *   0 type  1 code  2 length  4 bitmask  8 resource_id  16 wwpn  24 tca_guid
 *  32 tca_lid  34 vhba_flag  36 bandwidth  40 tape_support  44 interrupt_delay
 *  48 exec_throttle  52 queue_depth  56 link_down_timeout  60 admin_state
 *  64 target_reset  68 max_luns_per_target  72 num_queues  76 vm_index
 *  77 lunmask_enable  78 tca_slot  80 vh_name[16]
 *  96 qclass[4] {target_wwpn (64), lun (32)}  144 mtu  148 reserved
 * 152 ext_version  153 target_count  154 reserved  156 reason  160 wwnn
 * 168 reason_text[64]  232 targets[8] {name[24], target_wwpn (64)}
 * 488 reserved, zero, up to 512
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

#include <xscore/xsmp_ulp.h>

#include "wire_int.h"

/* ---------------------------------------------------------- counters */

static _Atomic uint64_t ulp_rejects[XS_ULP_N_CODECS];

static const char *const ulp_codec_names[XS_ULP_N_CODECS] = {
	[XS_ULP_CODEC_VNIC] = "xsmp_vnic",
	[XS_ULP_CODEC_VHBA] = "xsmp_vhba",
	[XS_ULP_CODEC_RESLIST] = "xsmp_resource_list",
	[XS_ULP_CODEC_HDR] = "xsmp_ulp_peek",
};

uint64_t xs_ulp_wire_rejects(enum xs_ulp_codec codec)
{
	if ((unsigned int)codec >= XS_ULP_N_CODECS)
		return 0;
	return atomic_load_explicit(&ulp_rejects[codec], memory_order_relaxed);
}

const char *xs_ulp_codec_name(enum xs_ulp_codec codec)
{
	if ((unsigned int)codec >= XS_ULP_N_CODECS)
		return "unknown";
	return ulp_codec_names[codec];
}

__attribute__((format(printf, 3, 4)))
static int ulp_reject(enum xs_ulp_codec codec, int err, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	atomic_fetch_add_explicit(&ulp_rejects[codec], 1, memory_order_relaxed);
	if (!xs_log_debug_enabled(XS_WIRE_LOG))
		return err;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	xs_log(XS_LOG_DEBUG, XS_WIRE_LOG, "rejected %s input (%s): %s",
	       xs_ulp_codec_name(codec), xs_strerror(err), msg);
	return err;
}

static int ulp_need(enum xs_ulp_codec codec, size_t len, size_t need)
{
	if (len >= need)
		return 0;
	return ulp_reject(codec, -EMSGSIZE, "truncated: %zu bytes, need %zu", len, need);
}

/* Encoder-side string check; logs which field is at fault. */
static int ulp_str_fits(const char *what, const char *field, const char *str, size_t size,
			size_t max_chars)
{
	size_t n = strnlen(str, size);

	if (n < size && n <= max_chars)
		return 0;
	XS_DEBUG(XS_WIRE_LOG, "%s encode: %s longer than %zu characters", what, field, max_chars);
	return -EINVAL;
}

/* Device names: 16-byte field that must hold a NUL (at most 15 chars). */
static bool ulp_name_has_nul(const uint8_t *p)
{
	return memchr(p, 0, XS_ULP_NAME_LEN) != NULL;
}

/* ------------------------------------------------------------ strings */

const char *xs_ulp_nack_reason_str(uint32_t reason)
{
	switch (reason) {
	case XS_NACK_INVALID: return "invalid configuration";
	case XS_NACK_DUP_NAME: return "duplicate name";
	case XS_NACK_DUP_VID: return "duplicate resource id";
	case XS_NACK_LIMIT_REACHED: return "device limit reached";
	case XS_NACK_ALLOC_ERROR: return "allocation error";
	case XS_NACK_INVALID_STATE: return "invalid state";
	case XS_NACK_DEVICE_BUSY: return "device busy";
	case XS_NACK_GENERAL_ERROR: return "general error";
	case XS_NACK_UNKNOWN_RESOURCE: return "unknown resource id";
	case XS_NACK_UNSUPPORTED: return "unsupported message";
	case XS_NACK_MALFORMED: return "malformed message";
	case XS_NACK_NO_HANDLER: return "no module for this device type";
	default: return "unknown reason";
	}
}

const char *xs_vnic_code_str(uint8_t code)
{
	static const char *const names[XS_VNIC_CODE_MAX] = {
		[XS_VNIC_INSTALL] = "INSTALL", [XS_VNIC_DELETE] = "DELETE",
		[XS_VNIC_UPDATE] = "UPDATE", [XS_VNIC_ADMIN_UP] = "ADMIN_UP",
		[XS_VNIC_ADMIN_DOWN] = "ADMIN_DOWN", [XS_VNIC_OPER_UP] = "OPER_UP",
		[XS_VNIC_OPER_DOWN] = "OPER_DOWN", [XS_VNIC_OPER_READY] = "OPER_READY",
		[XS_VNIC_VLANIP] = "VLANIP", [XS_VNIC_STATS] = "STATS",
		[XS_VNIC_SYNC_BEGIN] = "SYNC_BEGIN", [XS_VNIC_SYNC_END] = "SYNC_END",
		[XS_VNIC_INFO_REQUEST] = "INFO_REQUEST", [XS_VNIC_OPER_FAILED] = "OPER_FAILED",
		[XS_VNIC_OPER_REQ] = "OPER_REQ", [XS_VNIC_HA_INFO] = "HA_INFO",
		[XS_VNIC_ISCSI_INFO] = "ISCSI_INFO",
	};

	if (code == 0 || code >= XS_VNIC_CODE_MAX)
		return "UNKNOWN";
	return names[code];
}

const char *xs_vhba_code_str(uint8_t code)
{
	static const char *const names[XS_VHBA_CODE_MAX] = {
		[XS_VHBA_INSTALL] = "INSTALL", [XS_VHBA_DELETE] = "DELETE",
		[XS_VHBA_UPDATE] = "UPDATE", [XS_VHBA_ADMIN_UP] = "ADMIN_UP",
		[XS_VHBA_ADMIN_DOWN] = "ADMIN_DOWN", [XS_VHBA_OPER_UP] = "OPER_UP",
		[XS_VHBA_OPER_DOWN] = "OPER_DOWN", [XS_VHBA_OPER_READY] = "OPER_READY",
		[XS_VHBA_STATS_REQ] = "STATS_REQ", [XS_VHBA_STATS] = "STATS",
		[XS_VHBA_SYNC_BEGIN] = "SYNC_BEGIN", [XS_VHBA_SYNC_END] = "SYNC_END",
		[XS_VHBA_INFO_REQUEST] = "INFO_REQUEST", [XS_VHBA_OPER_REQ] = "OPER_REQ",
		[XS_VHBA_BOOT_INFO] = "BOOT_INFO",
	};

	if (code == 0 || code >= XS_VHBA_CODE_MAX)
		return "UNKNOWN";
	return names[code];
}

/* --------------------------------------------------------------- peek */

int xs_ulp_peek(const uint8_t *buf, size_t len, struct xs_ulp_peek *p)
{
	int rc = ulp_need(XS_ULP_CODEC_HDR, len, XS_ULP_PEEK_LEN);

	if (rc)
		return rc;
	p->type = xs_get8(buf + 0);
	p->code = xs_get8(buf + 1);
	p->length = xs_get16(buf + 2);
	p->bitmask = xs_get32(buf + 4);
	p->resource_id = xs_get64(buf + 8);
	return 0;
}

/* --------------------------------------------------------------- vNIC */

#define VN_TCA_GUID 16
#define VN_TCA_LID 24
#define VN_MAC 26
#define VN_ADMIN_RATE 32
#define VN_ADMIN_STATE 34
#define VN_ENCAP 36
#define VN_MTU 38
#define VN_INSTALL_FLAGS 40
#define VN_NAME 44
#define VN_SL 60
#define VN_FC_ACTIVE 62
#define VN_CIR 64
#define VN_PIR 66
#define VN_CBS 68
#define VN_PBS 72
#define VN_VM_INDEX 76
#define VN_MP_FLAG 78
#define VN_MP_GROUP 80
#define VN_EXT_VERSION 128
#define VN_VLAN_MODE 129
#define VN_VLAN_COUNT 130
#define VN_REASON 132
#define VN_UPLINK 136
#define VN_REASON_TEXT 168
#define VN_VLANS 232
#define VN_RESERVED 488

_Static_assert(VN_VLANS + 2 * XS_XSMP_VNIC_MAX_VLANS == VN_RESERVED, "vNIC VLAN array");
_Static_assert(XS_XSMP_HDR_LEN + XS_VNIC_MSG_LEN <= XS_XSMP_MAX_MSG, "vNIC fits XSMP");
_Static_assert(XS_XSMP_HDR_LEN + XS_VHBA_MSG_LEN <= XS_XSMP_MAX_MSG, "vHBA fits XSMP");
_Static_assert(XS_XSMP_HDR_LEN + XS_XSMP_SESSION_LEN + XS_RESLIST_HDR_LEN +
		       XS_RESLIST_MAX_ENTRIES * XS_RESLIST_ENTRY_LEN <= XS_XSMP_MAX_MSG,
	       "RESOURCE_LIST fits XSMP");

/* Shared VLAN rule; returns a static text naming the fault or NULL. */
static const char *vlan_fault(uint8_t mode, uint16_t count, const uint16_t *vlans)
{
	uint16_t i;

	if (mode > XS_VNIC_VLAN_TRUNK)
		return "vlan_mode is not 0 (none), 1 (access) or 2 (trunk)";
	if (count > XS_XSMP_VNIC_MAX_VLANS)
		return "more than 128 VLAN ids";
	if (mode == XS_VNIC_VLAN_NONE && count != 0)
		return "VLAN ids given with vlan_mode none";
	if (mode == XS_VNIC_VLAN_ACCESS && count != 1)
		return "access mode needs exactly one VLAN id";
	for (i = 0; i < count; i++)
		if (vlans[i] < 1 || vlans[i] > 4094)
			return "VLAN id outside 1..4094";
	return NULL;
}

int xs_vnic_msg_decode(const uint8_t *buf, size_t len, struct xs_vnic_msg *m)
{
	const char *fault;
	uint16_t length;
	uint16_t i;
	int rc;

	rc = ulp_need(XS_ULP_CODEC_VNIC, len, XS_VNIC_MSG_LEN);
	if (rc)
		return rc;
	length = xs_get16(buf + 2);
	if (length != XS_VNIC_MSG_LEN)
		return ulp_reject(XS_ULP_CODEC_VNIC, -EBADMSG, "body length %u, expected %d",
				  length, XS_VNIC_MSG_LEN);
	memset(m, 0, sizeof(*m));
	m->type = xs_get8(buf + 0);
	if (m->type == 0 || m->type >= XS_VNIC_CODE_MAX)
		return ulp_reject(XS_ULP_CODEC_VNIC, -EBADMSG, "message code %u unknown",
				  m->type);
	if (!ulp_name_has_nul(buf + VN_NAME))
		return ulp_reject(XS_ULP_CODEC_VNIC, -EBADMSG,
				  "vnic_name is not NUL-terminated within 16 bytes");
	m->code = xs_get8(buf + 1);
	m->length = length;
	m->bitmask = xs_get32(buf + 4);
	m->resource_id = xs_get64(buf + 8);
	m->tca_guid = xs_get64(buf + VN_TCA_GUID);
	m->tca_lid = xs_get16(buf + VN_TCA_LID);
	memcpy(m->mac, buf + VN_MAC, 6);
	m->admin_rate = xs_get16(buf + VN_ADMIN_RATE);
	m->admin_state = xs_get16(buf + VN_ADMIN_STATE);
	m->encap = xs_get16(buf + VN_ENCAP);
	m->mtu = xs_get16(buf + VN_MTU);
	m->install_flags = xs_get32(buf + VN_INSTALL_FLAGS);
	xs_wire_get_str(m->name, buf + VN_NAME, XS_ULP_NAME_LEN);
	m->service_level = xs_get16(buf + VN_SL);
	m->fc_active = xs_get16(buf + VN_FC_ACTIVE);
	m->cir = xs_get16(buf + VN_CIR);
	m->pir = xs_get16(buf + VN_PIR);
	m->cbs = xs_get32(buf + VN_CBS);
	m->pbs = xs_get32(buf + VN_PBS);
	m->vm_index = xs_get8(buf + VN_VM_INDEX);
	m->mp_flag = xs_get16(buf + VN_MP_FLAG);
	xs_wire_get_str(m->mp_group, buf + VN_MP_GROUP, XS_VNIC_MP_GROUP_LEN);
	m->ext_version = xs_get8(buf + VN_EXT_VERSION);
	if (m->ext_version == 0)
		return 0; /* a peer without our extension: no VLANs, no uplink */
	m->vlan_mode = xs_get8(buf + VN_VLAN_MODE);
	m->vlan_count = xs_get16(buf + VN_VLAN_COUNT);
	if (m->vlan_count > XS_XSMP_VNIC_MAX_VLANS)
		return ulp_reject(XS_ULP_CODEC_VNIC, -EBADMSG, "vlan_count %u exceeds %d",
				  m->vlan_count, XS_XSMP_VNIC_MAX_VLANS);
	for (i = 0; i < m->vlan_count; i++)
		m->vlans[i] = xs_get16(buf + VN_VLANS + 2 * i);
	fault = vlan_fault(m->vlan_mode, m->vlan_count, m->vlans);
	if (fault)
		return ulp_reject(XS_ULP_CODEC_VNIC, -EBADMSG, "%s", fault);
	m->reason = xs_get32(buf + VN_REASON);
	xs_wire_get_str(m->uplink, buf + VN_UPLINK, XS_VNIC_UPLINK_LEN);
	xs_wire_get_str(m->reason_text, buf + VN_REASON_TEXT, XS_ULP_REASON_TEXT_LEN);
	return 0;
}

int xs_vnic_msg_encode(const struct xs_vnic_msg *m, uint8_t *buf, size_t cap)
{
	const char *fault;
	uint16_t i;
	int rc;

	rc = xs_wire_cap("xsmp_vnic", cap, XS_VNIC_MSG_LEN);
	if (rc)
		return rc;
	if (m->length != 0 && m->length != XS_VNIC_MSG_LEN) {
		XS_DEBUG(XS_WIRE_LOG, "xsmp_vnic encode: length %u, must be %d (or 0)", m->length,
			 XS_VNIC_MSG_LEN);
		return -EINVAL;
	}
	if (m->type == 0 || m->type >= XS_VNIC_CODE_MAX) {
		XS_DEBUG(XS_WIRE_LOG, "xsmp_vnic encode: message code %u unknown", m->type);
		return -EINVAL;
	}
	if (ulp_str_fits("xsmp_vnic", "vnic_name", m->name, sizeof(m->name), XS_ULP_NAME_MAX) ||
	    ulp_str_fits("xsmp_vnic", "mp_group", m->mp_group, sizeof(m->mp_group),
			 XS_VNIC_MP_GROUP_LEN) ||
	    ulp_str_fits("xsmp_vnic", "uplink", m->uplink, sizeof(m->uplink),
			 XS_VNIC_UPLINK_LEN) ||
	    ulp_str_fits("xsmp_vnic", "reason_text", m->reason_text, sizeof(m->reason_text),
			 XS_ULP_REASON_TEXT_LEN))
		return -EINVAL;
	fault = vlan_fault(m->vlan_mode, m->vlan_count, m->vlans);
	if (fault) {
		XS_DEBUG(XS_WIRE_LOG, "xsmp_vnic encode: %s", fault);
		return -EINVAL;
	}
	memset(buf, 0, XS_VNIC_MSG_LEN);
	xs_put8(buf + 0, m->type);
	xs_put8(buf + 1, m->code);
	xs_put16(buf + 2, XS_VNIC_MSG_LEN);
	xs_put32(buf + 4, m->bitmask);
	xs_put64(buf + 8, m->resource_id);
	xs_put64(buf + VN_TCA_GUID, m->tca_guid);
	xs_put16(buf + VN_TCA_LID, m->tca_lid);
	memcpy(buf + VN_MAC, m->mac, 6);
	xs_put16(buf + VN_ADMIN_RATE, m->admin_rate);
	xs_put16(buf + VN_ADMIN_STATE, m->admin_state);
	xs_put16(buf + VN_ENCAP, m->encap);
	xs_put16(buf + VN_MTU, m->mtu);
	xs_put32(buf + VN_INSTALL_FLAGS, m->install_flags);
	xs_wire_put_str(buf + VN_NAME, m->name, sizeof(m->name), XS_ULP_NAME_LEN);
	xs_put16(buf + VN_SL, m->service_level);
	xs_put16(buf + VN_FC_ACTIVE, m->fc_active);
	xs_put16(buf + VN_CIR, m->cir);
	xs_put16(buf + VN_PIR, m->pir);
	xs_put32(buf + VN_CBS, m->cbs);
	xs_put32(buf + VN_PBS, m->pbs);
	xs_put8(buf + VN_VM_INDEX, m->vm_index);
	xs_put16(buf + VN_MP_FLAG, m->mp_flag);
	xs_wire_put_str(buf + VN_MP_GROUP, m->mp_group, sizeof(m->mp_group),
			XS_VNIC_MP_GROUP_LEN);
	/* We always send the extension (version 1). */
	xs_put8(buf + VN_EXT_VERSION, XS_ULP_EXT_VERSION);
	xs_put8(buf + VN_VLAN_MODE, m->vlan_mode);
	xs_put16(buf + VN_VLAN_COUNT, m->vlan_count);
	xs_put32(buf + VN_REASON, m->reason);
	xs_wire_put_str(buf + VN_UPLINK, m->uplink, sizeof(m->uplink), XS_VNIC_UPLINK_LEN);
	xs_wire_put_str(buf + VN_REASON_TEXT, m->reason_text, sizeof(m->reason_text),
			XS_ULP_REASON_TEXT_LEN);
	for (i = 0; i < m->vlan_count; i++)
		xs_put16(buf + VN_VLANS + 2 * i, m->vlans[i]);
	return XS_VNIC_MSG_LEN;
}

/* --------------------------------------------------------------- vHBA */

#define VH_WWPN 16
#define VH_TCA_GUID 24
#define VH_TCA_LID 32
#define VH_FLAG 34
#define VH_BANDWIDTH 36
#define VH_TAPE 40
#define VH_IDT 44
#define VH_ET 48
#define VH_QDEPTH 52
#define VH_LDT 56
#define VH_ADMIN 60
#define VH_TGT_RESET 64
#define VH_LUNS_PER_TGT 68
#define VH_NUM_QUEUES 72
#define VH_VM_INDEX 76
#define VH_LUNMASK 77
#define VH_TCA_SLOT 78
#define VH_NAME 80
#define VH_QCLASS 96
#define VH_QCLASS_LEN 12
#define VH_MTU 144
#define VH_EXT_VERSION 152
#define VH_TARGET_COUNT 153
#define VH_REASON 156
#define VH_WWNN 160
#define VH_REASON_TEXT 168
#define VH_TARGETS 232
#define VH_RESERVED 488

_Static_assert(VH_QCLASS + XS_VHBA_MAX_QUEUES * VH_QCLASS_LEN == VH_MTU, "vHBA qclass");
_Static_assert(VH_TARGETS + XS_VHBA_MAX_TARGETS * XS_VHBA_TARGET_SLOT_LEN == VH_RESERVED,
	       "vHBA targets");

int xs_vhba_msg_decode(const uint8_t *buf, size_t len, struct xs_vhba_msg *m)
{
	uint16_t length;
	int i, rc;

	rc = ulp_need(XS_ULP_CODEC_VHBA, len, XS_VHBA_MSG_LEN);
	if (rc)
		return rc;
	length = xs_get16(buf + 2);
	if (length != XS_VHBA_MSG_LEN)
		return ulp_reject(XS_ULP_CODEC_VHBA, -EBADMSG, "body length %u, expected %d",
				  length, XS_VHBA_MSG_LEN);
	memset(m, 0, sizeof(*m));
	m->type = xs_get8(buf + 0);
	if (m->type == 0 || m->type >= XS_VHBA_CODE_MAX)
		return ulp_reject(XS_ULP_CODEC_VHBA, -EBADMSG, "message code %u unknown",
				  m->type);
	if (!ulp_name_has_nul(buf + VH_NAME))
		return ulp_reject(XS_ULP_CODEC_VHBA, -EBADMSG,
				  "vh_name is not NUL-terminated within 16 bytes");
	m->num_queues = xs_get32(buf + VH_NUM_QUEUES);
	if (m->num_queues > XS_VHBA_MAX_QUEUES)
		return ulp_reject(XS_ULP_CODEC_VHBA, -EBADMSG, "num_queues %u exceeds %d",
				  m->num_queues, XS_VHBA_MAX_QUEUES);
	m->code = xs_get8(buf + 1);
	m->length = length;
	m->bitmask = xs_get32(buf + 4);
	m->resource_id = xs_get64(buf + 8);
	m->wwpn = xs_get64(buf + VH_WWPN);
	m->tca_guid = xs_get64(buf + VH_TCA_GUID);
	m->tca_lid = xs_get16(buf + VH_TCA_LID);
	m->vhba_flag = xs_get16(buf + VH_FLAG);
	m->bandwidth = xs_get32(buf + VH_BANDWIDTH);
	m->tape_support = xs_get32(buf + VH_TAPE);
	m->interrupt_delay = xs_get32(buf + VH_IDT);
	m->exec_throttle = xs_get32(buf + VH_ET);
	m->queue_depth = xs_get32(buf + VH_QDEPTH);
	m->link_down_timeout = xs_get32(buf + VH_LDT);
	m->admin_state = xs_get32(buf + VH_ADMIN);
	m->target_reset = xs_get32(buf + VH_TGT_RESET);
	m->max_luns_per_target = xs_get32(buf + VH_LUNS_PER_TGT);
	m->vm_index = xs_get8(buf + VH_VM_INDEX);
	m->lunmask_enable = xs_get8(buf + VH_LUNMASK);
	m->tca_slot = xs_get16(buf + VH_TCA_SLOT);
	xs_wire_get_str(m->name, buf + VH_NAME, XS_ULP_NAME_LEN);
	for (i = 0; i < XS_VHBA_MAX_QUEUES; i++) {
		m->qclass[i].target_wwpn = xs_get64(buf + VH_QCLASS + i * VH_QCLASS_LEN);
		m->qclass[i].lun = xs_get32(buf + VH_QCLASS + i * VH_QCLASS_LEN + 8);
	}
	m->mtu = xs_get32(buf + VH_MTU);
	m->ext_version = xs_get8(buf + VH_EXT_VERSION);
	if (m->ext_version == 0)
		return 0;
	m->target_count = xs_get8(buf + VH_TARGET_COUNT);
	if (m->target_count > XS_VHBA_MAX_TARGETS)
		return ulp_reject(XS_ULP_CODEC_VHBA, -EBADMSG, "target_count %u exceeds %d",
				  m->target_count, XS_VHBA_MAX_TARGETS);
	m->reason = xs_get32(buf + VH_REASON);
	m->wwnn = xs_get64(buf + VH_WWNN);
	xs_wire_get_str(m->reason_text, buf + VH_REASON_TEXT, XS_ULP_REASON_TEXT_LEN);
	for (i = 0; i < m->target_count; i++) {
		const uint8_t *t = buf + VH_TARGETS + i * XS_VHBA_TARGET_SLOT_LEN;

		if (t[0] == 0)
			return ulp_reject(XS_ULP_CODEC_VHBA, -EBADMSG,
					  "storage target name %d of %u is empty", i + 1,
					  m->target_count);
		xs_wire_get_str(m->targets[i], t, XS_VHBA_TARGET_NAME_LEN);
		m->target_wwpn[i] = xs_get64(t + XS_VHBA_TARGET_NAME_LEN);
	}
	return 0;
}

int xs_vhba_msg_encode(const struct xs_vhba_msg *m, uint8_t *buf, size_t cap)
{
	int i, rc;

	rc = xs_wire_cap("xsmp_vhba", cap, XS_VHBA_MSG_LEN);
	if (rc)
		return rc;
	if (m->length != 0 && m->length != XS_VHBA_MSG_LEN) {
		XS_DEBUG(XS_WIRE_LOG, "xsmp_vhba encode: length %u, must be %d (or 0)", m->length,
			 XS_VHBA_MSG_LEN);
		return -EINVAL;
	}
	if (m->type == 0 || m->type >= XS_VHBA_CODE_MAX) {
		XS_DEBUG(XS_WIRE_LOG, "xsmp_vhba encode: message code %u unknown", m->type);
		return -EINVAL;
	}
	if (m->num_queues > XS_VHBA_MAX_QUEUES || m->target_count > XS_VHBA_MAX_TARGETS) {
		XS_DEBUG(XS_WIRE_LOG, "xsmp_vhba encode: num_queues %u (max %d) or "
			 "target_count %u (max %d) too large", m->num_queues,
			 XS_VHBA_MAX_QUEUES, m->target_count, XS_VHBA_MAX_TARGETS);
		return -EINVAL;
	}
	if (ulp_str_fits("xsmp_vhba", "vh_name", m->name, sizeof(m->name), XS_ULP_NAME_MAX) ||
	    ulp_str_fits("xsmp_vhba", "reason_text", m->reason_text, sizeof(m->reason_text),
			 XS_ULP_REASON_TEXT_LEN))
		return -EINVAL;
	for (i = 0; i < m->target_count; i++) {
		if (m->targets[i][0] == 0 ||
		    ulp_str_fits("xsmp_vhba", "target name", m->targets[i], sizeof(m->targets[i]),
				 XS_VHBA_TARGET_NAME_LEN)) {
			XS_DEBUG(XS_WIRE_LOG, "xsmp_vhba encode: target %d empty or too long",
				 i + 1);
			return -EINVAL;
		}
	}
	memset(buf, 0, XS_VHBA_MSG_LEN);
	xs_put8(buf + 0, m->type);
	xs_put8(buf + 1, m->code);
	xs_put16(buf + 2, XS_VHBA_MSG_LEN);
	xs_put32(buf + 4, m->bitmask);
	xs_put64(buf + 8, m->resource_id);
	xs_put64(buf + VH_WWPN, m->wwpn);
	xs_put64(buf + VH_TCA_GUID, m->tca_guid);
	xs_put16(buf + VH_TCA_LID, m->tca_lid);
	xs_put16(buf + VH_FLAG, m->vhba_flag);
	xs_put32(buf + VH_BANDWIDTH, m->bandwidth);
	xs_put32(buf + VH_TAPE, m->tape_support);
	xs_put32(buf + VH_IDT, m->interrupt_delay);
	xs_put32(buf + VH_ET, m->exec_throttle);
	xs_put32(buf + VH_QDEPTH, m->queue_depth);
	xs_put32(buf + VH_LDT, m->link_down_timeout);
	xs_put32(buf + VH_ADMIN, m->admin_state);
	xs_put32(buf + VH_TGT_RESET, m->target_reset);
	xs_put32(buf + VH_LUNS_PER_TGT, m->max_luns_per_target);
	xs_put32(buf + VH_NUM_QUEUES, m->num_queues);
	xs_put8(buf + VH_VM_INDEX, m->vm_index);
	xs_put8(buf + VH_LUNMASK, m->lunmask_enable);
	xs_put16(buf + VH_TCA_SLOT, m->tca_slot);
	xs_wire_put_str(buf + VH_NAME, m->name, sizeof(m->name), XS_ULP_NAME_LEN);
	for (i = 0; i < XS_VHBA_MAX_QUEUES; i++) {
		xs_put64(buf + VH_QCLASS + i * VH_QCLASS_LEN, m->qclass[i].target_wwpn);
		xs_put32(buf + VH_QCLASS + i * VH_QCLASS_LEN + 8, m->qclass[i].lun);
	}
	xs_put32(buf + VH_MTU, m->mtu);
	xs_put8(buf + VH_EXT_VERSION, XS_ULP_EXT_VERSION);
	xs_put8(buf + VH_TARGET_COUNT, m->target_count);
	xs_put32(buf + VH_REASON, m->reason);
	xs_put64(buf + VH_WWNN, m->wwnn);
	xs_wire_put_str(buf + VH_REASON_TEXT, m->reason_text, sizeof(m->reason_text),
			XS_ULP_REASON_TEXT_LEN);
	for (i = 0; i < m->target_count; i++) {
		uint8_t *t = buf + VH_TARGETS + i * XS_VHBA_TARGET_SLOT_LEN;

		xs_wire_put_str(t, m->targets[i], sizeof(m->targets[i]), XS_VHBA_TARGET_NAME_LEN);
		xs_put64(t + XS_VHBA_TARGET_NAME_LEN, m->target_wwpn[i]);
	}
	return XS_VHBA_MSG_LEN;
}

/* ------------------------------------------------------ RESOURCE_LIST */

int xs_reslist_decode(const uint8_t *buf, size_t len, struct xs_reslist *r)
{
	size_t need;
	int i, rc;

	rc = ulp_need(XS_ULP_CODEC_RESLIST, len, XS_RESLIST_HDR_LEN);
	if (rc)
		return rc;
	memset(r, 0, sizeof(*r));
	r->count = xs_get16(buf + 0);
	r->flags = xs_get8(buf + 2);
	r->total = xs_get32(buf + 4);
	if (r->count > XS_RESLIST_MAX_ENTRIES)
		return ulp_reject(XS_ULP_CODEC_RESLIST, -EBADMSG, "count %u exceeds %d",
				  r->count, XS_RESLIST_MAX_ENTRIES);
	if (r->flags & ~(XS_RESLIST_FIRST | XS_RESLIST_LAST))
		return ulp_reject(XS_ULP_CODEC_RESLIST, -EBADMSG, "unknown flags 0x%02x",
				  r->flags);
	need = XS_RESLIST_HDR_LEN + (size_t)r->count * XS_RESLIST_ENTRY_LEN;
	if (len < need)
		return ulp_reject(XS_ULP_CODEC_RESLIST, -EMSGSIZE,
				  "%u entries need %zu bytes, have %zu", r->count, need, len);
	for (i = 0; i < r->count; i++) {
		const uint8_t *e = buf + XS_RESLIST_HDR_LEN + i * XS_RESLIST_ENTRY_LEN;

		r->entries[i].xsmp_type = xs_get8(e + 0);
		r->entries[i].state = xs_get8(e + 1);
		r->entries[i].resource_id = xs_get64(e + 8);
	}
	return 0;
}

int xs_reslist_encode(const struct xs_reslist *r, uint8_t *buf, size_t cap)
{
	size_t need;
	int i, rc;

	if (r->count > XS_RESLIST_MAX_ENTRIES || (r->flags & ~(XS_RESLIST_FIRST | XS_RESLIST_LAST))) {
		XS_DEBUG(XS_WIRE_LOG, "resource_list encode: count %u (max %d), flags 0x%02x",
			 r->count, XS_RESLIST_MAX_ENTRIES, r->flags);
		return -EINVAL;
	}
	need = XS_RESLIST_HDR_LEN + (size_t)r->count * XS_RESLIST_ENTRY_LEN;
	rc = xs_wire_cap("resource_list", cap, need);
	if (rc)
		return rc;
	memset(buf, 0, need);
	xs_put16(buf + 0, r->count);
	xs_put8(buf + 2, r->flags);
	xs_put32(buf + 4, r->total);
	for (i = 0; i < r->count; i++) {
		uint8_t *e = buf + XS_RESLIST_HDR_LEN + i * XS_RESLIST_ENTRY_LEN;

		xs_put8(e + 0, r->entries[i].xsmp_type);
		xs_put8(e + 1, r->entries[i].state);
		xs_put64(e + 8, r->entries[i].resource_id);
	}
	return (int)need;
}
