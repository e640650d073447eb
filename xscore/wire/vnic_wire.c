/* SPDX-License-Identifier: MIT */
/*
 * vnic_wire.c - vNIC I/O module codecs: CM private data, control messages,
 * TSO prefix, RX checksum trailer and the batching container. Layouts are in
 * xscore/vnic_wire.h; the type codes, the flag bits and the container header
 * follow the original Xsigo host driver (facts, see
 * ../shared/notes/xsigo-wire.md).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <xscore/common.h>
#include <xscore/log.h>
#include <xscore/vnic_wire.h>

#include <linux/virtio_net.h>

#define VW_LOG "vnic_wire"

static _Atomic uint64_t vnic_rejects[XS_VNIC_WIRE_N_CODECS];

static const char *const codec_names[XS_VNIC_WIRE_N_CODECS] = {
	[XS_VNIC_WIRE_CM_PRIV] = "vnic_cm_priv",
	[XS_VNIC_WIRE_CTRL] = "vnic_ctrl",
	[XS_VNIC_WIRE_TSO] = "vnic_tso",
	[XS_VNIC_WIRE_CSUM] = "vnic_csum",
	[XS_VNIC_WIRE_BATCH] = "vnic_batch",
};

uint64_t xs_vnic_wire_rejects(enum xs_vnic_codec codec)
{
	if ((unsigned int)codec >= XS_VNIC_WIRE_N_CODECS)
		return 0;
	return atomic_load_explicit(&vnic_rejects[codec], memory_order_relaxed);
}

const char *xs_vnic_codec_name(enum xs_vnic_codec codec)
{
	if ((unsigned int)codec >= XS_VNIC_WIRE_N_CODECS)
		return "unknown";
	return codec_names[codec];
}

__attribute__((format(printf, 3, 4)))
static int reject(enum xs_vnic_codec codec, int err, const char *fmt, ...)
{
	char msg[192];
	va_list ap;

	atomic_fetch_add_explicit(&vnic_rejects[codec], 1, memory_order_relaxed);
	if (!xs_log_debug_enabled(VW_LOG))
		return err;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	xs_log(XS_LOG_DEBUG, VW_LOG, "rejected %s input (%s): %s", codec_names[codec],
	       xs_strerror(err), msg);
	return err;
}

static int enc_cap(const char *what, size_t cap, size_t need)
{
	if (cap >= need)
		return 0;
	XS_DEBUG(VW_LOG, "%s encode: buffer of %zu bytes, need %zu", what, cap, need);
	return -EMSGSIZE;
}

/* ------------------------------------------------------- CM private data */

static int cm_priv_check(const struct xs_vnic_cm_priv *p, const char **why)
{
	if (p->qp_type != XS_VNIC_QP_CONTROL && p->qp_type != XS_VNIC_QP_DATA) {
		*why = "qp_type is neither control (0) nor data (1)";
		return -1;
	}
	if (p->max_ctrl_msg_size < XS_VNIC_CTRL_MIN_SIZE) {
		*why = "max_ctrl_msg_size below the 8-byte control header";
		return -1;
	}
	if (p->data_qp_flags & ~XS_VNIC_DQP_KNOWN) {
		*why = "unknown data_qp_flags bits";
		return -1;
	}
	if (p->qp_type == XS_VNIC_QP_CONTROL && p->data_qp_flags) {
		*why = "data_qp_flags on a control QP";
		return -1;
	}
	return 0;
}

int xs_vnic_cm_priv_decode(const uint8_t *buf, size_t len, struct xs_vnic_cm_priv *p)
{
	struct xs_vnic_cm_priv v;
	const char *why;

	if (len < XS_VNIC_CM_PRIV_LEN)
		return reject(XS_VNIC_WIRE_CM_PRIV, -EMSGSIZE, "truncated: %zu bytes, need %d",
			      len, XS_VNIC_CM_PRIV_LEN);
	v.vid = xs_get64(buf);
	v.qp_type = xs_get16(buf + 8);
	v.max_ctrl_msg_size = xs_get16(buf + 10);
	v.data_qp_flags = xs_get32(buf + 12);
	if (cm_priv_check(&v, &why))
		return reject(XS_VNIC_WIRE_CM_PRIV, -EBADMSG,
			      "%s (qp_type %u, max_ctrl %u, flags 0x%x)", why, v.qp_type,
			      v.max_ctrl_msg_size, v.data_qp_flags);
	*p = v;
	return 0;
}

int xs_vnic_cm_priv_encode(const struct xs_vnic_cm_priv *p, uint8_t *buf, size_t cap)
{
	const char *why;
	int rc;

	rc = enc_cap("vnic_cm_priv", cap, XS_VNIC_CM_PRIV_LEN);
	if (rc)
		return rc;
	if (cm_priv_check(p, &why)) {
		XS_DEBUG(VW_LOG, "vnic_cm_priv encode: %s", why);
		return -EINVAL;
	}
	xs_put64(buf, p->vid);
	xs_put16(buf + 8, p->qp_type);
	xs_put16(buf + 10, p->max_ctrl_msg_size);
	xs_put32(buf + 12, p->data_qp_flags);
	return XS_VNIC_CM_PRIV_LEN;
}

/* ------------------------------------------------------ control messages */

static const char *const ctrl_names[] = {
	[XS_VNIC_CTRL_START_TX] = "START_TX",
	[XS_VNIC_CTRL_STOP_TX] = "STOP_TX",
	[XS_VNIC_CTRL_START_RX] = "START_RX",
	[XS_VNIC_CTRL_STOP_RX] = "STOP_RX",
	[XS_VNIC_CTRL_RX_COALESCE_NUM_PACKETS] = "RX_COALESCE_NUM_PACKETS",
	[XS_VNIC_CTRL_RX_COALESCE_MSECS] = "RX_COALESCE_MSECS",
	[XS_VNIC_CTRL_LINK_UP] = "LINK_UP",
	[XS_VNIC_CTRL_LINK_DOWN] = "LINK_DOWN",
	[XS_VNIC_CTRL_ASSIGN_IP] = "ASSIGN_IP",
	[XS_VNIC_CTRL_ASSIGN_VLAN] = "ASSIGN_VLAN",
	[XS_VNIC_CTRL_UNASSIGN_VLAN] = "UNASSIGN_VLAN",
	[XS_VNIC_CTRL_STATS_REQUEST] = "STATS_REQUEST",
	[XS_VNIC_CTRL_STATS_RESPONSE] = "STATS_RESPONSE",
	[XS_VNIC_CTRL_MAC_ADDRESS_REPORT] = "MAC_ADDRESS_REPORT",
	[XS_VNIC_CTRL_MULTICAST_LIST_SEND] = "MULTICAST_LIST_SEND",
	[XS_VNIC_CTRL_START_RX_RESPONSE] = "START_RX_RESPONSE",
	[XS_VNIC_CTRL_VPORT_STATUS_UPDATE] = "VPORT_STATUS_UPDATE",
	[XS_VNIC_CTRL_MULTICAST_LIST_RESPONSE] = "MULTICAST_LIST_RESPONSE",
	[XS_VNIC_CTRL_HEART_BEAT] = "HEART_BEAT",
};

const char *xs_vnic_ctrl_type_name(uint8_t type)
{
	if (type < XS_ARRAY_SIZE(ctrl_names) && ctrl_names[type])
		return ctrl_names[type];
	return "unknown";
}

static const uint32_t speed_mbps[XS_VNIC_SPEED_N_CODES] = {
	[XS_VNIC_SPEED_DOWN] = 0,     [XS_VNIC_SPEED_100M] = 100,   [XS_VNIC_SPEED_10M] = 10,
	[XS_VNIC_SPEED_200M] = 200,   [XS_VNIC_SPEED_500M] = 500,   [XS_VNIC_SPEED_800M] = 800,
	[XS_VNIC_SPEED_1G] = 1000,    [XS_VNIC_SPEED_2G] = 2000,    [XS_VNIC_SPEED_3G] = 3000,
	[XS_VNIC_SPEED_4G] = 4000,    [XS_VNIC_SPEED_5G] = 5000,    [XS_VNIC_SPEED_6G] = 6000,
	[XS_VNIC_SPEED_7G] = 7000,    [XS_VNIC_SPEED_8G] = 8000,    [XS_VNIC_SPEED_9G] = 9000,
	[XS_VNIC_SPEED_10G] = 10000,  [XS_VNIC_SPEED_UNKNOWN] = 0,  [XS_VNIC_SPEED_25G] = 25000,
	[XS_VNIC_SPEED_40G] = 40000,  [XS_VNIC_SPEED_50G] = 50000,  [XS_VNIC_SPEED_100G] = 100000,
};

uint32_t xs_vnic_speed_mbps(uint8_t code)
{
	return code < XS_VNIC_SPEED_N_CODES ? speed_mbps[code] : 0;
}

uint8_t xs_vnic_speed_code(uint32_t mbps)
{
	uint8_t best = XS_VNIC_SPEED_DOWN;
	uint32_t best_mbps = 0;
	unsigned int i;

	if (mbps == 0)
		return XS_VNIC_SPEED_DOWN;
	for (i = 0; i < XS_VNIC_SPEED_N_CODES; i++) {
		if (speed_mbps[i] && speed_mbps[i] <= mbps && speed_mbps[i] > best_mbps) {
			best = (uint8_t)i;
			best_mbps = speed_mbps[i];
		}
	}
	return best == XS_VNIC_SPEED_DOWN ? XS_VNIC_SPEED_10M : best;
}

static bool mac_is_multicast(const uint8_t *mac) { return mac[0] & 1; }

static bool mac_is_zero(const uint8_t *mac)
{
	static const uint8_t zero[XS_VNIC_MAC_LEN];

	return memcmp(mac, zero, XS_VNIC_MAC_LEN) == 0;
}

/* Payload length a message of @m's type and counts has; -1 for a type we don't carry. */
static int ctrl_payload_len(uint8_t type, const struct xs_vnic_ctrl *m)
{
	switch (type) {
	case XS_VNIC_CTRL_START_TX:
	case XS_VNIC_CTRL_STOP_TX:
	case XS_VNIC_CTRL_START_RX:
	case XS_VNIC_CTRL_STOP_RX:
	case XS_VNIC_CTRL_STATS_REQUEST:
	case XS_VNIC_CTRL_MULTICAST_LIST_RESPONSE:
	case XS_VNIC_CTRL_HEART_BEAT:
	case XS_VNIC_CTRL_LINK_UP:
	case XS_VNIC_CTRL_LINK_DOWN:
	case XS_VNIC_CTRL_START_RX_RESPONSE:
		return 0;
	case XS_VNIC_CTRL_ASSIGN_VLAN:
	case XS_VNIC_CTRL_UNASSIGN_VLAN:
		return m ? 2 * m->u.vlan.count : 0;
	case XS_VNIC_CTRL_MULTICAST_LIST_SEND:
		return m ? XS_VNIC_MAC_LEN * m->u.mcast.count : 0;
	case XS_VNIC_CTRL_MAC_ADDRESS_REPORT:
		return XS_VNIC_MAC_LEN;
	case XS_VNIC_CTRL_STATS_RESPONSE:
		return XS_VNIC_STATS_LEN;
	default:
		return -1;
	}
}

static bool is_link_type(uint8_t type)
{
	return type == XS_VNIC_CTRL_LINK_UP || type == XS_VNIC_CTRL_LINK_DOWN ||
	       type == XS_VNIC_CTRL_START_RX_RESPONSE;
}

#define CTRL_REJECT(err, ...) reject(XS_VNIC_WIRE_CTRL, err, __VA_ARGS__)

int xs_vnic_ctrl_decode(const uint8_t *buf, size_t len, struct xs_vnic_ctrl *m)
{
	const uint8_t *pl = buf + XS_VNIC_CTRL_HDR_LEN;
	uint16_t length, plen, i;
	uint8_t type;

	if (len < XS_VNIC_CTRL_HDR_LEN)
		return CTRL_REJECT(-EMSGSIZE, "truncated: %zu bytes, need %d", len,
				   XS_VNIC_CTRL_HDR_LEN);
	type = buf[0];
	length = xs_get16(buf + 2);
	if (length < XS_VNIC_CTRL_HDR_LEN || length > XS_VNIC_CTRL_MAX_LEN)
		return CTRL_REJECT(-EBADMSG, "%s: length field %u outside 8..%d",
				   xs_vnic_ctrl_type_name(type), length, XS_VNIC_CTRL_MAX_LEN);
	if (length > len)
		return CTRL_REJECT(-EMSGSIZE, "%s: length field %u but only %zu bytes",
				   xs_vnic_ctrl_type_name(type), length, len);
	if (buf[1] != 0)
		return CTRL_REJECT(-EBADMSG, "%s: reserved byte 0x%02x", xs_vnic_ctrl_type_name(type),
				   buf[1]);
	if (ctrl_payload_len(type, NULL) < 0)
		return CTRL_REJECT(-EBADMSG, "unsupported control message type %u (%s)", type,
				   xs_vnic_ctrl_type_name(type));
	plen = (uint16_t)(length - XS_VNIC_CTRL_HDR_LEN);
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->length = length;
	m->data = xs_get32(buf + 4);

	switch (type) {
	case XS_VNIC_CTRL_ASSIGN_VLAN:
	case XS_VNIC_CTRL_UNASSIGN_VLAN:
		if (plen == 0 || plen % 2 || plen / 2 > XS_VNIC_MAX_VLANS)
			return CTRL_REJECT(-EBADMSG, "%s: %u payload bytes is not a list of 1..%d "
					   "VLAN IDs", xs_vnic_ctrl_type_name(type), plen,
					   XS_VNIC_MAX_VLANS);
		m->u.vlan.count = plen / 2;
		for (i = 0; i < m->u.vlan.count; i++) {
			uint16_t id = xs_get16(pl + 2 * i);

			if (id < 1 || id > 4094)
				return CTRL_REJECT(-EBADMSG, "%s: VLAN ID %u at index %u outside 1..4094",
						   xs_vnic_ctrl_type_name(type), id, i);
			m->u.vlan.ids[i] = id;
		}
		return length;
	case XS_VNIC_CTRL_MULTICAST_LIST_SEND:
		if (plen % XS_VNIC_MAC_LEN || plen / XS_VNIC_MAC_LEN > XS_VNIC_MAX_MCAST)
			return CTRL_REJECT(-EBADMSG, "MULTICAST_LIST_SEND: %u payload bytes is not a "
					   "list of 0..%d MACs", plen, XS_VNIC_MAX_MCAST);
		m->u.mcast.count = plen / XS_VNIC_MAC_LEN;
		m->u.mcast.all_multi = m->data != 0;
		for (i = 0; i < m->u.mcast.count; i++) {
			const uint8_t *mac = pl + XS_VNIC_MAC_LEN * i;

			if (!mac_is_multicast(mac))
				return CTRL_REJECT(-EBADMSG, "MULTICAST_LIST_SEND: MAC %u is not a "
						   "group address", i);
			memcpy(m->u.mcast.macs[i], mac, XS_VNIC_MAC_LEN);
		}
		return length;
	default:
		break;
	}
	if (plen != ctrl_payload_len(type, NULL))
		return CTRL_REJECT(-EBADMSG, "%s: length %u, expected %d",
				   xs_vnic_ctrl_type_name(type), length,
				   XS_VNIC_CTRL_HDR_LEN + ctrl_payload_len(type, NULL));
	if (is_link_type(type)) {
		uint8_t speed = buf[4];

		if (speed >= XS_VNIC_SPEED_N_CODES)
			return CTRL_REJECT(-EBADMSG, "%s: speed code %u unknown",
					   xs_vnic_ctrl_type_name(type), speed);
		if (type == XS_VNIC_CTRL_LINK_UP && speed == XS_VNIC_SPEED_DOWN)
			return CTRL_REJECT(-EBADMSG, "LINK_UP with speed code 0 (link down)");
		m->u.link.speed = speed;
	} else if (type == XS_VNIC_CTRL_MAC_ADDRESS_REPORT) {
		if (mac_is_multicast(pl) || mac_is_zero(pl))
			return CTRL_REJECT(-EBADMSG, "MAC_ADDRESS_REPORT: not a unicast MAC");
		memcpy(m->u.mac, pl, XS_VNIC_MAC_LEN);
	} else if (type == XS_VNIC_CTRL_STATS_RESPONSE) {
		struct xs_vnic_stats *s = &m->u.stats;

		s->rx_frames = xs_get64(pl + 0);
		s->rx_bytes = xs_get64(pl + 8);
		s->tx_frames = xs_get64(pl + 16);
		s->tx_bytes = xs_get64(pl + 24);
		s->rx_drops = xs_get64(pl + 32);
		s->tx_drops = xs_get64(pl + 40);
		s->rx_errors = xs_get64(pl + 48);
		s->tx_errors = xs_get64(pl + 56);
	}
	return length;
}

static int ctrl_enc_fail(const struct xs_vnic_ctrl *m, const char *why)
{
	XS_DEBUG(VW_LOG, "vnic_ctrl encode %s: %s", xs_vnic_ctrl_type_name(m->type), why);
	return -EINVAL;
}

int xs_vnic_ctrl_encode(const struct xs_vnic_ctrl *m, uint8_t *buf, size_t cap)
{
	uint8_t *pl = buf + XS_VNIC_CTRL_HDR_LEN;
	uint32_t data = m->data;
	int plen, rc;
	size_t total;
	unsigned int i;

	plen = ctrl_payload_len(m->type, m);
	if (plen < 0)
		return ctrl_enc_fail(m, "type not carried");
	switch (m->type) {
	case XS_VNIC_CTRL_ASSIGN_VLAN:
	case XS_VNIC_CTRL_UNASSIGN_VLAN:
		if (m->u.vlan.count < 1 || m->u.vlan.count > XS_VNIC_MAX_VLANS)
			return ctrl_enc_fail(m, "VLAN count outside 1..500");
		for (i = 0; i < m->u.vlan.count; i++)
			if (m->u.vlan.ids[i] < 1 || m->u.vlan.ids[i] > 4094)
				return ctrl_enc_fail(m, "VLAN ID outside 1..4094");
		break;
	case XS_VNIC_CTRL_MULTICAST_LIST_SEND:
		if (m->u.mcast.count > XS_VNIC_MAX_MCAST)
			return ctrl_enc_fail(m, "more than 128 MACs");
		for (i = 0; i < m->u.mcast.count; i++)
			if (!mac_is_multicast(m->u.mcast.macs[i]))
				return ctrl_enc_fail(m, "MAC is not a group address");
		data = m->u.mcast.all_multi ? 1 : 0;
		break;
	case XS_VNIC_CTRL_MAC_ADDRESS_REPORT:
		if (mac_is_multicast(m->u.mac) || mac_is_zero(m->u.mac))
			return ctrl_enc_fail(m, "not a unicast MAC");
		break;
	default:
		if (is_link_type(m->type)) {
			if (m->u.link.speed >= XS_VNIC_SPEED_N_CODES)
				return ctrl_enc_fail(m, "speed code unknown");
			if (m->type == XS_VNIC_CTRL_LINK_UP && m->u.link.speed == 0)
				return ctrl_enc_fail(m, "LINK_UP with speed code 0");
			data = (uint32_t)m->u.link.speed << 24;
		}
		break;
	}
	total = XS_VNIC_CTRL_HDR_LEN + (size_t)plen;
	rc = enc_cap("vnic_ctrl", cap, total);
	if (rc)
		return rc;
	buf[0] = m->type;
	buf[1] = 0;
	xs_put16(buf + 2, (uint16_t)total);
	xs_put32(buf + 4, data);
	switch (m->type) {
	case XS_VNIC_CTRL_ASSIGN_VLAN:
	case XS_VNIC_CTRL_UNASSIGN_VLAN:
		for (i = 0; i < m->u.vlan.count; i++)
			xs_put16(pl + 2 * i, m->u.vlan.ids[i]);
		break;
	case XS_VNIC_CTRL_MULTICAST_LIST_SEND:
		for (i = 0; i < m->u.mcast.count; i++)
			memcpy(pl + XS_VNIC_MAC_LEN * i, m->u.mcast.macs[i], XS_VNIC_MAC_LEN);
		break;
	case XS_VNIC_CTRL_MAC_ADDRESS_REPORT:
		memcpy(pl, m->u.mac, XS_VNIC_MAC_LEN);
		break;
	case XS_VNIC_CTRL_STATS_RESPONSE:
		xs_put64(pl + 0, m->u.stats.rx_frames);
		xs_put64(pl + 8, m->u.stats.rx_bytes);
		xs_put64(pl + 16, m->u.stats.tx_frames);
		xs_put64(pl + 24, m->u.stats.tx_bytes);
		xs_put64(pl + 32, m->u.stats.rx_drops);
		xs_put64(pl + 40, m->u.stats.tx_drops);
		xs_put64(pl + 48, m->u.stats.rx_errors);
		xs_put64(pl + 56, m->u.stats.tx_errors);
		break;
	default:
		break;
	}
	return (int)total;
}

/* -------------------------------------------------------- TSO prefix (TX) */

#define TSO_FMT_SHIFT 30
#define TSO_FMT_PLAIN 1u
#define TSO_FMT_VLAN 3u
#define TSO_CSUM (1u << 29)
#define TSO_NO_GSO (1u << 28)
#define TSO_HDR_SHIFT 16
#define TSO_HDR_MASK 0xfffu
#define ETH_HLEN_ 14

int xs_vnic_tso_decode(const uint8_t *buf, size_t len, struct xs_vnic_tso *t)
{
	struct xs_vnic_tso v = { 0 };
	uint32_t w, fmt, vw;
	size_t plen = XS_VNIC_TSO_LEN;

	if (len < XS_VNIC_TSO_LEN)
		return reject(XS_VNIC_WIRE_TSO, -EMSGSIZE, "truncated: %zu bytes, need 4", len);
	w = xs_get32(buf);
	fmt = w >> TSO_FMT_SHIFT;
	if (fmt != TSO_FMT_PLAIN && fmt != TSO_FMT_VLAN)
		return reject(XS_VNIC_WIRE_TSO, -EBADMSG, "format %u is neither 1 nor 3", fmt);
	v.gso = !(w & TSO_NO_GSO);
	v.csum = w & TSO_CSUM;
	v.hdr_len = (uint16_t)((w >> TSO_HDR_SHIFT) & TSO_HDR_MASK);
	v.mss = (uint16_t)w;
	if (fmt == TSO_FMT_VLAN) {
		if (len < XS_VNIC_TSO_VLAN_LEN)
			return reject(XS_VNIC_WIRE_TSO, -EMSGSIZE,
				      "truncated VLAN word: %zu bytes, need 8", len);
		vw = xs_get32(buf + 4);
		if (vw >> 16)
			return reject(XS_VNIC_WIRE_TSO, -EBADMSG, "VLAN word 0x%08x has upper bits",
				      vw);
		v.has_vlan = true;
		v.tci = (uint16_t)vw;
		plen = XS_VNIC_TSO_VLAN_LEN;
	}
	if (len - plen < ETH_HLEN_)
		return reject(XS_VNIC_WIRE_TSO, -EMSGSIZE, "frame of %zu bytes after the prefix",
			      len - plen);
	if (!v.gso) {
		if (v.mss || v.hdr_len)
			return reject(XS_VNIC_WIRE_TSO, -EBADMSG,
				      "no-GSO with mss %u / hdr_len %u", v.mss, v.hdr_len);
	} else {
		if (v.mss == 0)
			return reject(XS_VNIC_WIRE_TSO, -EBADMSG, "GSO with mss 0");
		if (!v.csum)
			return reject(XS_VNIC_WIRE_TSO, -EBADMSG, "GSO without a partial checksum");
		if (v.hdr_len < XS_VNIC_TSO_MIN_HDR)
			return reject(XS_VNIC_WIRE_TSO, -EBADMSG, "GSO header length %u below %d",
				      v.hdr_len, XS_VNIC_TSO_MIN_HDR);
		if (v.hdr_len >= len - plen)
			return reject(XS_VNIC_WIRE_TSO, -EBADMSG,
				      "GSO header length %u, frame only %zu bytes", v.hdr_len,
				      len - plen);
	}
	*t = v;
	return (int)plen;
}

int xs_vnic_tso_encode(const struct xs_vnic_tso *t, uint8_t *buf, size_t cap)
{
	size_t need = t->has_vlan ? XS_VNIC_TSO_VLAN_LEN : XS_VNIC_TSO_LEN;
	uint32_t w;
	int rc;

	if (t->gso && (t->mss == 0 || !t->csum || t->hdr_len < XS_VNIC_TSO_MIN_HDR ||
		       t->hdr_len > XS_VNIC_TSO_MAX_HDR)) {
		XS_DEBUG(VW_LOG, "vnic_tso encode: mss %u / hdr_len %u invalid", t->mss,
			 t->hdr_len);
		return -EINVAL;
	}
	rc = enc_cap("vnic_tso", cap, need);
	if (rc)
		return rc;
	w = (t->has_vlan ? TSO_FMT_VLAN : TSO_FMT_PLAIN) << TSO_FMT_SHIFT;
	if (t->gso)
		w |= (uint32_t)t->hdr_len << TSO_HDR_SHIFT | t->mss;
	else
		w |= TSO_NO_GSO;
	if (t->csum)
		w |= TSO_CSUM;
	xs_put32(buf, w);
	if (t->has_vlan)
		xs_put32(buf + 4, t->tci);
	return (int)need;
}

/* --------------------------------------------- prefix <-> virtio-net header */

#define VW_ETH_P_8021Q 0x8100
#define VW_ETH_P_IPV4 0x0800
#define VW_ETH_P_IPV6 0x86dd

struct vw_l4 {
	size_t l4_off;    /* TCP/UDP header */
	size_t hdr_end;   /* end of the TCP header (TCP only) */
	uint8_t proto;    /* 6 or 17 */
	bool v6;
	uint16_t csum_off;
};

/* Locate the TCP/UDP header of an Ethernet frame (the same rules as the
 * switch's checksum completion). */
static int vw_locate(const uint8_t *f, size_t len, struct vw_l4 *l)
{
	size_t off = 14, end;
	uint16_t et;
	uint8_t nh;

	if (len < 14)
		return -EMSGSIZE;
	et = xs_get16(f + 12);
	if (et == VW_ETH_P_8021Q) {
		if (len < 18)
			return -EMSGSIZE;
		et = xs_get16(f + 16);
		off = 18;
	}
	if (et == VW_ETH_P_IPV4) {
		size_t ihl, tot;

		if (len < off + 20)
			return -EMSGSIZE;
		ihl = (size_t)(f[off] & 0x0f) * 4;
		tot = xs_get16(f + off + 2);
		if (f[off] >> 4 != 4 || ihl < 20 || tot < ihl)
			return -EPROTONOSUPPORT;
		if (len < off + tot)
			return -EMSGSIZE;
		if (xs_get16(f + off + 6) & 0x3fff)
			return -EPROTONOSUPPORT;
		nh = f[off + 9];
		l->v6 = false;
		l->l4_off = off + ihl;
		end = off + tot;
	} else if (et == VW_ETH_P_IPV6) {
		size_t p;

		if (len < off + 40)
			return -EMSGSIZE;
		if (f[off] >> 4 != 6)
			return -EPROTONOSUPPORT;
		end = off + 40 + xs_get16(f + off + 4);
		if (len < end)
			return -EMSGSIZE;
		nh = f[off + 6];
		p = off + 40;
		while (nh == 0 || nh == 43 || nh == 60) {
			if (end - p < 8)
				return -EMSGSIZE;
			nh = f[p];
			p += ((size_t)f[p + 1] + 1) * 8;
			if (p > end)
				return -EMSGSIZE;
		}
		l->v6 = true;
		l->l4_off = p;
	} else {
		return -EPROTONOSUPPORT;
	}
	l->proto = nh;
	if (nh == 6) {
		size_t doff;

		if (end - l->l4_off < 20)
			return -EMSGSIZE;
		doff = (size_t)(f[l->l4_off + 12] >> 4) * 4;
		if (doff < 20 || doff > end - l->l4_off)
			return -EINVAL;
		l->hdr_end = l->l4_off + doff;
		l->csum_off = 16;
	} else if (nh == 17) {
		if (end - l->l4_off < 8)
			return -EMSGSIZE;
		l->hdr_end = l->l4_off + 8;
		l->csum_off = 6;
	} else {
		return -EPROTONOSUPPORT;
	}
	return 0;
}

int xs_vnic_vnet_to_tso(const struct virtio_net_hdr *vh, const uint8_t *frame, size_t len,
			struct xs_vnic_tso *t)
{
	uint8_t gso = vh->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	struct vw_l4 l;
	int rc;

	memset(t, 0, sizeof(*t));
	if (!(vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && gso == VIRTIO_NET_HDR_GSO_NONE)
		return 0;
	rc = vw_locate(frame, len, &l);
	if (rc)
		return rc;
	if (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (vh->csum_start != l.l4_off || vh->csum_offset != l.csum_off)
			return -EINVAL;
		t->csum = true;
	}
	if (gso == VIRTIO_NET_HDR_GSO_NONE)
		return 0;
	if ((gso != VIRTIO_NET_HDR_GSO_TCPV4 && gso != VIRTIO_NET_HDR_GSO_TCPV6) ||
	    l.proto != 6 || l.v6 != (gso == VIRTIO_NET_HDR_GSO_TCPV6))
		return -EPROTONOSUPPORT;
	if (vh->gso_size == 0 || l.hdr_end > XS_VNIC_TSO_MAX_HDR || l.hdr_end >= len)
		return -EINVAL;
	t->gso = true;
	t->csum = true;
	t->mss = vh->gso_size;
	t->hdr_len = (uint16_t)l.hdr_end;
	return 0;
}

int xs_vnic_tso_to_vnet(const struct xs_vnic_tso *t, const uint8_t *frame, size_t len,
			struct virtio_net_hdr *vh)
{
	struct vw_l4 l;
	int rc;

	memset(vh, 0, sizeof(*vh));
	if (!t->csum && !t->gso)
		return 0;
	rc = vw_locate(frame, len, &l);
	if (rc)
		return rc;
	vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vh->csum_start = (uint16_t)l.l4_off;
	vh->csum_offset = l.csum_off;
	if (!t->gso)
		return 0;
	if (l.proto != 6)
		return -EPROTONOSUPPORT;
	if (t->mss == 0 || t->hdr_len != l.hdr_end)
		return -EINVAL;
	vh->gso_type = l.v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
	vh->gso_size = t->mss;
	vh->hdr_len = t->hdr_len;
	return 0;
}

/* -------------------------------------------------- RX checksum trailer */

#define CSUM_KNOWN                                                                   \
	(XS_VNIC_CSUM_IP_FRAGMENT | XS_VNIC_CSUM_IPV6 | XS_VNIC_CSUM_IPV4 |          \
	 XS_VNIC_CSUM_TCP_GOOD | XS_VNIC_CSUM_UDP_GOOD)

static const char *csum_check(const struct xs_vnic_csum *c)
{
	if (c->ipv4 && c->ipv6)
		return "both IPv4 and IPv6";
	if (c->tcp_good && c->udp_good)
		return "both TCP and UDP good";
	if ((c->tcp_good || c->udp_good || c->ip_fragment) && !c->ipv4 && !c->ipv6)
		return "L4 or fragment bit without an IP bit";
	if (c->csum && !c->ip_fragment)
		return "checksum value on a non-fragment";
	return NULL;
}

int xs_vnic_csum_decode(const uint8_t *buf, size_t len, struct xs_vnic_csum *c)
{
	struct xs_vnic_csum v;
	const char *why;
	uint32_t w;

	if (len < ETH_HLEN_ + XS_VNIC_CSUM_LEN)
		return reject(XS_VNIC_WIRE_CSUM, -EMSGSIZE,
			      "%zu bytes: need a 14-byte frame and the 4-byte trailer", len);
	w = xs_get32(buf + len - XS_VNIC_CSUM_LEN);
	if (w & 0xffffu & ~CSUM_KNOWN)
		return reject(XS_VNIC_WIRE_CSUM, -EBADMSG, "reserved bits in 0x%08x", w);
	v.csum = (uint16_t)(w >> 16);
	v.ip_fragment = w & XS_VNIC_CSUM_IP_FRAGMENT;
	v.ipv6 = w & XS_VNIC_CSUM_IPV6;
	v.ipv4 = w & XS_VNIC_CSUM_IPV4;
	v.tcp_good = w & XS_VNIC_CSUM_TCP_GOOD;
	v.udp_good = w & XS_VNIC_CSUM_UDP_GOOD;
	why = csum_check(&v);
	if (why)
		return reject(XS_VNIC_WIRE_CSUM, -EBADMSG, "%s (0x%08x)", why, w);
	*c = v;
	return (int)(len - XS_VNIC_CSUM_LEN);
}

int xs_vnic_csum_encode(const struct xs_vnic_csum *c, uint8_t *buf, size_t cap)
{
	const char *why = csum_check(c);
	uint32_t w;
	int rc;

	if (why) {
		XS_DEBUG(VW_LOG, "vnic_csum encode: %s", why);
		return -EINVAL;
	}
	rc = enc_cap("vnic_csum", cap, XS_VNIC_CSUM_LEN);
	if (rc)
		return rc;
	w = (uint32_t)c->csum << 16;
	if (c->ip_fragment)
		w |= XS_VNIC_CSUM_IP_FRAGMENT;
	if (c->ipv6)
		w |= XS_VNIC_CSUM_IPV6;
	if (c->ipv4)
		w |= XS_VNIC_CSUM_IPV4;
	if (c->tcp_good)
		w |= XS_VNIC_CSUM_TCP_GOOD;
	if (c->udp_good)
		w |= XS_VNIC_CSUM_UDP_GOOD;
	xs_put32(buf, w);
	return XS_VNIC_CSUM_LEN;
}

/* ----------------------------------------------------- batching container */

#define BAT_FMT_SHIFT 30
#define BAT_RSVD_MASK 0x1fffc000u /* bits 28..14 */
#define BAT_LEN_MASK 0x3fffu

static size_t pad4(size_t n) { return (4 - (n & 3)) & 3; }

void xs_vnic_batch_iter_init(struct xs_vnic_batch_iter *it, const uint8_t *buf, size_t len)
{
	it->buf = buf;
	it->len = len;
	it->off = 0;
	it->frames = 0;
	it->done = false;
	it->err = 0;
}

static int batch_fail(struct xs_vnic_batch_iter *it, int err)
{
	it->done = true;
	it->err = err;
	return err;
}

int xs_vnic_batch_next(struct xs_vnic_batch_iter *it, const uint8_t **frame, size_t *frame_len)
{
	size_t left, flen, start;
	uint32_t h;

	if (it->done)
		return it->err;
	left = it->len - it->off;
	if (left < XS_VNIC_BATCH_HDR_LEN)
		return batch_fail(it, reject(XS_VNIC_WIRE_BATCH, -EMSGSIZE,
					     "entry %u: %zu bytes left, no room for a header "
					     "(no final entry)", it->frames, left));
	h = xs_get32(it->buf + it->off);
	if (h >> BAT_FMT_SHIFT)
		return batch_fail(it, reject(XS_VNIC_WIRE_BATCH, -EBADMSG,
					     "entry %u: format %u, only 0 is defined", it->frames,
					     h >> BAT_FMT_SHIFT));
	if (h & BAT_RSVD_MASK)
		return batch_fail(it, reject(XS_VNIC_WIRE_BATCH, -EBADMSG,
					     "entry %u: reserved bits in header 0x%08x", it->frames,
					     h));
	flen = h & BAT_LEN_MASK;
	if (flen == 0)
		return batch_fail(it, reject(XS_VNIC_WIRE_BATCH, -EBADMSG,
					     "entry %u: zero-length frame", it->frames));
	left -= XS_VNIC_BATCH_HDR_LEN;
	if (flen > left)
		return batch_fail(it, reject(XS_VNIC_WIRE_BATCH, -EMSGSIZE,
					     "entry %u: frame of %zu bytes, %zu left", it->frames,
					     flen, left));
	start = it->off + XS_VNIC_BATCH_HDR_LEN;
	left -= flen;
	if (h & XS_VNIC_BATCH_FINAL) {
		/* Only this entry's padding may follow. */
		if (left > pad4(flen))
			return batch_fail(it, reject(XS_VNIC_WIRE_BATCH, -EBADMSG,
						     "%zu bytes after the final entry %u", left,
						     it->frames));
		it->done = true;
		it->off = it->len;
	} else {
		if (left < pad4(flen))
			return batch_fail(it, reject(XS_VNIC_WIRE_BATCH, -EMSGSIZE,
						     "entry %u: padding runs past the buffer",
						     it->frames));
		it->off = start + flen + pad4(flen);
	}
	*frame = it->buf + start;
	*frame_len = flen;
	it->frames++;
	return 1;
}

int xs_vnic_batch_count(const uint8_t *buf, size_t len)
{
	struct xs_vnic_batch_iter it;
	const uint8_t *f;
	size_t fl;
	int rc;

	xs_vnic_batch_iter_init(&it, buf, len);
	while ((rc = xs_vnic_batch_next(&it, &f, &fl)) == 1)
		;
	return rc < 0 ? rc : (int)it.frames;
}

void xs_vnic_batch_builder_init(struct xs_vnic_batch_builder *b, uint8_t *buf, size_t cap)
{
	b->buf = buf;
	b->cap = cap;
	b->off = 0;
	b->last_hdr = 0;
	b->frames = 0;
}

size_t xs_vnic_batch_entry_size(size_t frame_len)
{
	return XS_VNIC_BATCH_HDR_LEN + frame_len + pad4(frame_len);
}

int xs_vnic_batch_add(struct xs_vnic_batch_builder *b, const uint8_t *frame, size_t frame_len)
{
	size_t need, pad;

	if (frame_len == 0 || frame_len > XS_VNIC_BATCH_MAX_FRAME)
		return -EINVAL;
	/* The final entry needs no padding, so a frame that only fits without
	 * its padding still goes in; finish() trims that padding. */
	need = XS_VNIC_BATCH_HDR_LEN + frame_len;
	if (need > b->cap - b->off)
		return -ENOSPC;
	xs_put32(b->buf + b->off, (uint32_t)frame_len);
	memcpy(b->buf + b->off + XS_VNIC_BATCH_HDR_LEN, frame, frame_len);
	b->last_hdr = b->off;
	b->off += need;
	/* Zero padding up to the next boundary, as far as the buffer goes; an
	 * entry whose padding is cut short leaves no room for another one. */
	pad = XS_MIN(pad4(frame_len), b->cap - b->off);
	memset(b->buf + b->off, 0, pad);
	b->off += pad;
	b->frames++;
	return 0;
}

int xs_vnic_batch_finish(struct xs_vnic_batch_builder *b)
{
	uint32_t h;

	if (!b->frames)
		return -ENODATA;
	h = xs_get32(b->buf + b->last_hdr);
	xs_put32(b->buf + b->last_hdr, h | XS_VNIC_BATCH_FINAL);
	/* The final entry's padding is optional on the wire: leave it out. */
	return (int)(b->last_hdr + XS_VNIC_BATCH_HDR_LEN + (h & BAT_LEN_MASK));
}
