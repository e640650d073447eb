/* SPDX-License-Identifier: MIT */
/*
 * pr.c - SA PathRecord (IBA 15.2.5.16), 64 bytes:
 *
 *   0 ServiceID (64)   8 DGID (16 bytes)   24 SGID (16 bytes)
 *  40 DLID (16)       42 SLID (16)
 *  44 RawTraffic:1 reserved:3 FlowLabel:20 HopLimit:8   (one 32-bit word)
 *  48 TClass          49 Reversible:1 NumbPath:7        50 P_Key (16)
 *  52 QosClass:12 SL:4 (16)
 *  54 MtuSelector:2 MTU:6     55 RateSelector:2 Rate:6
 *  56 PacketLifeTimeSelector:2 PacketLifeTime:6          57 Preference
 *  58 reserved (6 bytes)
 * Reserved bits are written as zero and ignored when read.
 */
#include "wire_int.h"

#define PR_FLOW_LABEL_MAX 0xfffffu
#define PR_NUMB_PATH_MAX 0x7fu
#define PR_QOS_CLASS_MAX 0xfffu
#define PR_SL_MAX 0xfu
#define PR_SEL_MAX 0x3u
#define PR_6BIT_MAX 0x3fu

int xs_pr_decode(const uint8_t *buf, size_t len, struct xs_path_record *pr)
{
	uint32_t w44;
	uint16_t w52;
	int rc;

	rc = xs_wire_need(XS_WIRE_PATH_RECORD, len, XS_PR_LEN);
	if (rc)
		return rc;
	pr->service_id = xs_get64(buf + 0);
	memcpy(pr->dgid, buf + 8, sizeof(pr->dgid));
	memcpy(pr->sgid, buf + 24, sizeof(pr->sgid));
	pr->dlid = xs_get16(buf + 40);
	pr->slid = xs_get16(buf + 42);
	w44 = xs_get32(buf + 44);
	pr->raw_traffic = (w44 >> 31) & 1;
	pr->flow_label = (w44 >> 8) & PR_FLOW_LABEL_MAX;
	pr->hop_limit = (uint8_t)w44;
	pr->tclass = xs_get8(buf + 48);
	pr->reversible = (buf[49] >> 7) & 1;
	pr->numb_path = buf[49] & PR_NUMB_PATH_MAX;
	pr->pkey = xs_get16(buf + 50);
	w52 = xs_get16(buf + 52);
	pr->qos_class = (uint16_t)(w52 >> 4);
	pr->sl = w52 & PR_SL_MAX;
	pr->mtu_selector = buf[54] >> 6;
	pr->mtu = buf[54] & PR_6BIT_MAX;
	pr->rate_selector = buf[55] >> 6;
	pr->rate = buf[55] & PR_6BIT_MAX;
	pr->pkt_life_selector = buf[56] >> 6;
	pr->pkt_life = buf[56] & PR_6BIT_MAX;
	pr->preference = xs_get8(buf + 57);
	return 0;
}

static int pr_check(const char *field, unsigned int v, unsigned int max)
{
	if (v <= max)
		return 0;
	XS_DEBUG(XS_WIRE_LOG, "path_record encode: %s %u exceeds its field (max %u)", field, v,
		 max);
	return -EINVAL;
}

static uint8_t sel6(uint8_t sel, uint8_t val)
{
	return (uint8_t)(sel << 6 | val);
}

int xs_pr_encode(const struct xs_path_record *pr, uint8_t *buf, size_t cap)
{
	int rc;

	rc = xs_wire_cap("path_record", cap, XS_PR_LEN);
	if (rc)
		return rc;
	if (pr_check("flow_label", pr->flow_label, PR_FLOW_LABEL_MAX) ||
	    pr_check("numb_path", pr->numb_path, PR_NUMB_PATH_MAX) ||
	    pr_check("qos_class", pr->qos_class, PR_QOS_CLASS_MAX) ||
	    pr_check("sl", pr->sl, PR_SL_MAX) ||
	    pr_check("mtu_selector", pr->mtu_selector, PR_SEL_MAX) ||
	    pr_check("mtu", pr->mtu, PR_6BIT_MAX) ||
	    pr_check("rate_selector", pr->rate_selector, PR_SEL_MAX) ||
	    pr_check("rate", pr->rate, PR_6BIT_MAX) ||
	    pr_check("pkt_life_selector", pr->pkt_life_selector, PR_SEL_MAX) ||
	    pr_check("pkt_life", pr->pkt_life, PR_6BIT_MAX))
		return -EINVAL;
	xs_put64(buf + 0, pr->service_id);
	memcpy(buf + 8, pr->dgid, sizeof(pr->dgid));
	memcpy(buf + 24, pr->sgid, sizeof(pr->sgid));
	xs_put16(buf + 40, pr->dlid);
	xs_put16(buf + 42, pr->slid);
	xs_put32(buf + 44, (uint32_t)pr->raw_traffic << 31 | pr->flow_label << 8 | pr->hop_limit);
	xs_put8(buf + 48, pr->tclass);
	xs_put8(buf + 49, (uint8_t)((unsigned int)pr->reversible << 7 | pr->numb_path));
	xs_put16(buf + 50, pr->pkey);
	xs_put16(buf + 52, (uint16_t)(pr->qos_class << 4 | pr->sl));
	xs_put8(buf + 54, sel6(pr->mtu_selector, pr->mtu));
	xs_put8(buf + 55, sel6(pr->rate_selector, pr->rate));
	xs_put8(buf + 56, sel6(pr->pkt_life_selector, pr->pkt_life));
	xs_put8(buf + 57, pr->preference);
	memset(buf + 58, 0, XS_PR_LEN - 58);
	return XS_PR_LEN;
}
