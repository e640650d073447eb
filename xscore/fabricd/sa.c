/* SPDX-License-Identifier: MIT */
/*
 * sa.c - the Subnet Administrator of xs-fabricd: ServiceRecord Set, Get,
 * GetTable, Delete (component masks, leases) and PathRecord Get/GetTable,
 * in IBA wire format through the xscore/wire.h codecs.
 *
 * GetTable answers travel as unacknowledged RMPP-style DATA segments: each
 * MAD carries the 56-byte SA header and up to 200 bytes of the record
 * stream (records back to back, AttributeOffset 22 words for a
 * ServiceRecord); RMPPFlags ACTIVE|FIRST on the first, LAST on the last,
 * SegmentNumber counts from 1, PayloadLength in the first is the total
 * record bytes and in the last the bytes of that segment. There is no ACK
 * window: the receiver collects the segments. At most 8 segments (9
 * ServiceRecords); a bigger answer has status TOO_MANY_RECORDS.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <xscore/common.h>
#include <xscore/log.h>
#include <xscore/wire.h>

#include "fabricd.h"

#define RMPP_FLAG_ACTIVE 0x1
#define RMPP_FLAG_FIRST 0x2
#define RMPP_FLAG_LAST 0x4
#define RMPP_TYPE_DATA 1
#define SA_MAX_RECORDS 4096

struct sr_entry {
	struct sr_entry *next;
	struct xs_service_record rec;
	struct fd_port *owner;
	uint64_t expires_ms; /* 0 = never */
};

struct sa {
	struct fabricd *d;
	struct sr_entry *records;
	int n_records;
	struct xs_timer *lease_timer;
};

static void sr_unlink(struct sa *sa, struct sr_entry **pp)
{
	struct sr_entry *e = *pp;

	*pp = e->next;
	sa->n_records--;
	free(e);
}

static void lease_sweep(struct xs_loop *loop, struct xs_timer *t, void *arg)
{
	struct sa *sa = arg;
	uint64_t now = xs_now_ms();
	struct sr_entry **pp = &sa->records;

	while (*pp) {
		struct sr_entry *e = *pp;

		if (e->expires_ms && e->expires_ms <= now) {
			XS_INFO(SA_COMP, "ServiceRecord '%s' (ID 0x%016llx): lease expired",
				e->rec.name, (unsigned long long)e->rec.id);
			sr_unlink(sa, pp);
		} else {
			pp = &e->next;
		}
	}
}

struct sa *fd_sa_new(struct fabricd *d)
{
	struct sa *sa = calloc(1, sizeof(*sa));

	if (!sa)
		return NULL;
	sa->d = d;
	sa->lease_timer = xs_timer_new(d->loop, lease_sweep, sa);
	if (!sa->lease_timer) {
		free(sa);
		return NULL;
	}
	/* leases are checked every 250 ms and again before every query */
	xs_timer_arm(sa->lease_timer, 250, 250);
	return sa;
}

void fd_sa_free(struct sa *sa)
{
	while (sa->records)
		sr_unlink(sa, &sa->records);
	xs_timer_free(sa->lease_timer);
	free(sa);
}

void fd_sa_port_detached(struct sa *sa, struct fd_port *p)
{
	struct sr_entry **pp = &sa->records;

	while (*pp) {
		if ((*pp)->owner == p) {
			XS_INFO(SA_COMP, "ServiceRecord '%s': port '%s' detached, removed",
				(*pp)->rec.name, p->name);
			sr_unlink(sa, pp);
		} else {
			pp = &(*pp)->next;
		}
	}
}

/* Start a response from the request header: same TID, class, attribute. */
static void resp_init(struct xs_softp_mad_recv *r, const struct xs_sa_hdr *req, uint8_t method,
		      uint16_t status, uint16_t attr_words)
{
	struct xs_sa_hdr h = *req;

	memset(r, 0, sizeof(*r));
	h.mad.method = method;
	h.mad.status = status;
	h.rmpp_version = 0;
	h.rmpp_type = 0;
	h.rmpp_rtime_flags = 0;
	h.rmpp_status = 0;
	h.rmpp_data1 = 0;
	h.rmpp_data2 = 0;
	h.sm_key = 0;
	h.attr_offset = attr_words;
	xs_sa_hdr_encode(&h, r->mad, sizeof(r->mad));
	r->mad_len = XS_MAD_SIZE;
}

/* Lay out n records of rec_len bytes (already encoded, back to back) as
 * GetTableResp segments. Returns the number of MADs. */
static int table_resp(const struct xs_sa_hdr *req, const uint8_t *stream, size_t rec_len,
		      int n, struct xs_softp_mad_recv *resp, int max)
{
	size_t total = rec_len * (size_t)n;
	int segs = total ? (int)((total + XS_SA_DATA_LEN - 1) / XS_SA_DATA_LEN) : 1;
	uint16_t words = (uint16_t)(rec_len / 8);

	if (segs > max) {
		resp_init(&resp[0], req, XS_SA_METHOD_GETTABLE_RESP,
			  XS_SA_STATUS_TOO_MANY_RECORDS, words);
		return 1;
	}
	if (segs == 1) {
		resp_init(&resp[0], req, XS_SA_METHOD_GETTABLE_RESP, 0, words);
		memcpy(resp[0].mad + XS_SA_DATA_OFF, stream, total);
		return 1;
	}
	for (int s = 0; s < segs; s++) {
		size_t off = (size_t)s * XS_SA_DATA_LEN;
		size_t len = XS_MIN((size_t)XS_SA_DATA_LEN, total - off);
		struct xs_sa_hdr h = *req;

		memset(&resp[s], 0, sizeof(resp[s]));
		h.mad.method = XS_SA_METHOD_GETTABLE_RESP;
		h.mad.status = 0;
		h.rmpp_version = 1;
		h.rmpp_type = RMPP_TYPE_DATA;
		h.rmpp_rtime_flags = RMPP_FLAG_ACTIVE | (s == 0 ? RMPP_FLAG_FIRST : 0) |
				     (s == segs - 1 ? RMPP_FLAG_LAST : 0);
		h.rmpp_status = 0;
		h.rmpp_data1 = (uint32_t)s + 1;
		h.rmpp_data2 = s == 0 ? (uint32_t)total : s == segs - 1 ? (uint32_t)len : 0;
		h.sm_key = 0;
		h.attr_offset = words;
		xs_sa_hdr_encode(&h, resp[s].mad, sizeof(resp[s].mad));
		memcpy(resp[s].mad + XS_SA_DATA_OFF, stream + off, len);
		resp[s].mad_len = XS_MAD_SIZE;
	}
	return segs;
}

static bool visible(const struct sr_entry *e, const struct fd_port *src)
{
	/* a record is seen by ports that share its P_Key (0: everyone) */
	return !e->rec.pkey || fd_shared_pkey(src, src, e->rec.pkey) != 0 ||
	       (e->owner == src);
}

static int sr_handle(struct sa *sa, struct fd_port *src, const struct xs_sa_hdr *h,
		     const uint8_t *data, struct xs_softp_mad_recv *resp, int max)
{
	const uint16_t words = XS_SR_LEN / 8;
	struct xs_service_record q;
	uint64_t mask = h->comp_mask;
	struct sr_entry *e, **pp;

	if (xs_sr_decode(data, XS_SA_DATA_LEN, &q) < 0) {
		sa->d->cnt.sa_bad++;
		resp_init(resp, h, XS_MAD_METHOD_GET | XS_MAD_METHOD_RESP,
			  XS_MAD_STATUS_INVALID_FIELD, words);
		return 1;
	}
	lease_sweep(NULL, NULL, sa);

	switch (h->mad.method) {
	case XS_MAD_METHOD_SET: {
		uint64_t now = xs_now_ms();

		if ((mask & (XS_SR_COMP_ID | XS_SR_COMP_GID)) != (XS_SR_COMP_ID | XS_SR_COMP_GID)) {
			resp_init(resp, h, XS_MAD_METHOD_GET | XS_MAD_METHOD_RESP,
				  XS_SA_STATUS_INSUF_COMPONENTS, words);
			return 1;
		}
		if (q.pkey && !fd_shared_pkey(src, src, q.pkey)) {
			resp_init(resp, h, XS_MAD_METHOD_GET | XS_MAD_METHOD_RESP,
				  XS_SA_STATUS_REQ_INVALID, words);
			return 1;
		}
		for (e = sa->records; e; e = e->next)
			if (e->rec.id == q.id && !memcmp(e->rec.gid, q.gid, 16) &&
			    e->rec.pkey == q.pkey)
				break;
		if (!e) {
			if (sa->n_records >= SA_MAX_RECORDS) {
				resp_init(resp, h, XS_MAD_METHOD_GET | XS_MAD_METHOD_RESP,
					  XS_SA_STATUS_NO_RESOURCES, words);
				return 1;
			}
			e = calloc(1, sizeof(*e));
			if (!e) {
				resp_init(resp, h, XS_MAD_METHOD_GET | XS_MAD_METHOD_RESP,
					  XS_SA_STATUS_NO_RESOURCES, words);
				return 1;
			}
			e->next = sa->records;
			sa->records = e;
			sa->n_records++;
		}
		e->rec = q;
		e->owner = src;
		e->expires_ms = q.lease == XS_SR_LEASE_INFINITE ? 0 : now + (uint64_t)q.lease * 1000;
		XS_INFO(SA_COMP, "ServiceRecord '%s' ID 0x%016llx set by '%s', lease %s%u",
			q.name, (unsigned long long)q.id, src->name,
			q.lease == XS_SR_LEASE_INFINITE ? "infinite " : "", 
			q.lease == XS_SR_LEASE_INFINITE ? 0 : q.lease);
		resp_init(resp, h, XS_MAD_METHOD_GET | XS_MAD_METHOD_RESP, 0, words);
		xs_sr_encode(&e->rec, resp->mad + XS_SA_DATA_OFF, XS_SA_DATA_LEN);
		return 1;
	}
	case XS_MAD_METHOD_GET:
		for (e = sa->records; e; e = e->next)
			if (visible(e, src) && xs_sr_match(&e->rec, &q, mask))
				break;
		if (!e) {
			resp_init(resp, h, XS_MAD_METHOD_GET | XS_MAD_METHOD_RESP,
				  XS_SA_STATUS_NO_RECORDS, words);
			return 1;
		}
		resp_init(resp, h, XS_MAD_METHOD_GET | XS_MAD_METHOD_RESP, 0, words);
		xs_sr_encode(&e->rec, resp->mad + XS_SA_DATA_OFF, XS_SA_DATA_LEN);
		return 1;
	case XS_MAD_METHOD_GETTABLE: {
		uint8_t stream[XS_SA_DATA_LEN * 8];
		int n = 0;

		for (e = sa->records; e; e = e->next) {
			if (!visible(e, src) || !xs_sr_match(&e->rec, &q, mask))
				continue;
			if ((size_t)(n + 1) * XS_SR_LEN > sizeof(stream)) {
				resp_init(resp, h, XS_SA_METHOD_GETTABLE_RESP,
					  XS_SA_STATUS_TOO_MANY_RECORDS, words);
				return 1;
			}
			xs_sr_encode(&e->rec, stream + (size_t)n * XS_SR_LEN, XS_SR_LEN);
			n++;
		}
		return table_resp(h, stream, XS_SR_LEN, n, resp, max);
	}
	case XS_MAD_METHOD_DELETE: {
		struct xs_service_record gone;
		int n = 0;

		pp = &sa->records;
		while (*pp) {
			e = *pp;
			if (visible(e, src) && xs_sr_match(&e->rec, &q, mask)) {
				if (!n)
					gone = e->rec;
				n++;
				sr_unlink(sa, pp);
			} else {
				pp = &e->next;
			}
		}
		if (!n) {
			resp_init(resp, h, XS_SA_METHOD_DELETE_RESP, XS_SA_STATUS_NO_RECORDS, words);
			return 1;
		}
		XS_INFO(SA_COMP, "%d ServiceRecord(s) deleted by '%s'", n, src->name);
		resp_init(resp, h, XS_SA_METHOD_DELETE_RESP, 0, words);
		xs_sr_encode(&gone, resp->mad + XS_SA_DATA_OFF, XS_SA_DATA_LEN);
		return 1;
	}
	default:
		resp_init(resp, h, h->mad.method | XS_MAD_METHOD_RESP,
			  XS_MAD_STATUS_UNSUP_METHOD_ATTR, words);
		return 1;
	}
}

static int pr_handle(struct sa *sa, struct fd_port *src, const struct xs_sa_hdr *h,
		     const uint8_t *data, struct xs_softp_mad_recv *resp, int max)
{
	const uint16_t words = XS_PR_LEN / 8;
	uint8_t method = h->mad.method == XS_MAD_METHOD_GETTABLE ? XS_SA_METHOD_GETTABLE_RESP
								  : XS_MAD_METHOD_GET | XS_MAD_METHOD_RESP;
	struct xs_path_record q, r;
	struct fd_port *s, *dst;
	uint64_t mask = h->comp_mask;
	uint16_t pkey;

	if (h->mad.method != XS_MAD_METHOD_GET && h->mad.method != XS_MAD_METHOD_GETTABLE) {
		resp_init(resp, h, h->mad.method | XS_MAD_METHOD_RESP,
			  XS_MAD_STATUS_UNSUP_METHOD_ATTR, words);
		return 1;
	}
	if (xs_pr_decode(data, XS_SA_DATA_LEN, &q) < 0) {
		sa->d->cnt.sa_bad++;
		resp_init(resp, h, method, XS_MAD_STATUS_INVALID_FIELD, words);
		return 1;
	}
	s = src;
	if (mask & XS_PR_COMP_SGID)
		s = fd_port_by_gid(sa->d, q.sgid);
	else if (mask & XS_PR_COMP_SLID)
		s = fd_port_by_lid(sa->d, q.slid);
	dst = NULL;
	if (mask & XS_PR_COMP_DGID)
		dst = fd_port_by_gid(sa->d, q.dgid);
	else if (mask & XS_PR_COMP_DLID)
		dst = fd_port_by_lid(sa->d, q.dlid);
	if (!(mask & (XS_PR_COMP_DGID | XS_PR_COMP_DLID))) {
		resp_init(resp, h, method, XS_SA_STATUS_INSUF_COMPONENTS, words);
		return 1;
	}
	pkey = (s && dst) ? fd_shared_pkey(s, dst, (mask & XS_PR_COMP_PKEY) ? q.pkey : 0) : 0;
	if (!s || !dst || !pkey || !fd_shared_pkey(src, s, pkey)) {
		resp_init(resp, h, method, XS_SA_STATUS_NO_RECORDS, words);
		return 1;
	}
	memset(&r, 0, sizeof(r));
	r.service_id = q.service_id;
	memcpy(r.dgid, dst->gid, 16);
	memcpy(r.sgid, s->gid, 16);
	r.dlid = dst->lid;
	r.slid = s->lid;
	r.reversible = true;
	r.numb_path = 1;
	r.pkey = pkey | 0x8000;
	r.sl = 0;
	r.mtu_selector = 2;   /* exactly */
	r.mtu = 5;            /* 4096 */
	r.rate_selector = 2;
	r.rate = 7;           /* 40 Gb/s */
	r.pkt_life_selector = 2;
	r.pkt_life = 0;
	resp_init(resp, h, method, 0, words);
	if (xs_pr_encode(&r, resp->mad + XS_SA_DATA_OFF, XS_SA_DATA_LEN) < 0) {
		resp_init(resp, h, method, XS_MAD_STATUS_INVALID_FIELD, words);
		return 1;
	}
	(void)max;
	return 1;
}

int fd_sa_handle(struct sa *sa, struct fd_port *src, const struct xs_softp_mad_send *req,
		 struct xs_softp_mad_recv *resp, int max)
{
	uint8_t mad[XS_MAD_SIZE] = { 0 };
	struct xs_sa_hdr h;

	memcpy(mad, req->mad, req->mad_len);
	if (xs_sa_hdr_decode(mad, req->mad_len, &h) < 0) {
		sa->d->cnt.sa_bad++;
		XS_DEBUG(SA_COMP, "SA MAD from '%s' (%u bytes) not decodable: dropped", src->name,
			 req->mad_len);
		return 0;
	}
	if (h.mad.method & XS_MAD_METHOD_RESP)
		return 0; /* we send no requests, so no response is ours */
	XS_DEBUG(SA_COMP, "'%s': method 0x%02x attr 0x%04x mask 0x%llx", src->name, h.mad.method,
		 h.mad.attr_id, (unsigned long long)h.comp_mask);
	if (h.mad.class_version != XS_SA_CLASS_VERSION) {
		sa->d->cnt.sa_bad++;
		resp_init(resp, &h, h.mad.method | XS_MAD_METHOD_RESP, XS_MAD_STATUS_BAD_VERSION, 0);
		return 1;
	}
	switch (h.mad.attr_id) {
	case XS_SA_ATTR_SERVICE_RECORD:
		return sr_handle(sa, src, &h, mad + XS_SA_DATA_OFF, resp, max);
	case XS_SA_ATTR_PATH_RECORD:
		return pr_handle(sa, src, &h, mad + XS_SA_DATA_OFF, resp, max);
	default:
		resp_init(resp, &h, h.mad.method | XS_MAD_METHOD_RESP,
			  XS_MAD_STATUS_UNSUP_METHOD_ATTR, 0);
		return 1;
	}
}
