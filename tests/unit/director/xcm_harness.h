/* SPDX-License-Identifier: MIT */
/*
 * xcm_harness.h - drive director/xcm/xcm.c without a fabric: the file is
 * included here with its fabric calls renamed to fakes that record every
 * message the XCM sends (STYLE.md #8: include the file, fake its
 * neighbours). Used by the XCM unit test and the XSMP fuzz target.
 */
#ifndef XCM_HARNESS_H
#define XCM_HARNESS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* fabric.h must first be seen through these names */
#define xs_qp_create h_qp_create
#define xs_qp_destroy h_qp_destroy
#define xs_qp_post_send h_qp_post_send
#define xs_qp_post_recv h_qp_post_recv
#define xs_qp_state h_qp_state
#define xs_qp_disconnect h_qp_disconnect
#define xs_mr_reg h_mr_reg
#define xs_mr_dereg h_mr_dereg
#define xs_mr_lkey h_mr_lkey
#define xs_cm_req_info h_cm_req_info
#define xs_qp_accept h_qp_accept
#define xs_cm_reject h_cm_reject

#include "xcm/xcm.c"

#undef xs_qp_create
#undef xs_qp_destroy
#undef xs_qp_post_send
#undef xs_qp_post_recv
/* xs_qp_state stays renamed: it also names the enum (enum h_qp_state) */
#undef xs_qp_disconnect
#undef xs_mr_reg
#undef xs_mr_dereg
#undef xs_mr_lkey
/* xs_cm_req_info stays renamed: it also names the struct */
#undef xs_qp_accept
#undef xs_cm_reject

/* A connect request as the fabric describes it (h_req_info), accepted. */
static struct xs_cm_req_info h_req_info;
static int h_accepts, h_rejects;

int xs_cm_req_info(const struct xs_cm_request *req, struct xs_cm_req_info *info)
{
	*info = h_req_info;
	return 0;
}

int h_qp_accept(struct xs_qp *qp, struct xs_cm_request *req, const void *pd, size_t len)
{
	h_accepts++;
	return 0;
}

int h_cm_reject(struct xs_cm_request *req, uint16_t reason, const void *pd, size_t len)
{
	h_rejects++;
	return 0;
}

/* Messages the XCM sent, in order. */
struct h_msg {
	uint8_t type;          /* XSMP header type */
	uint16_t len;          /* whole message */
	uint8_t data[XS_XSMP_MAX_MSG];
};

#define H_MAX_MSGS 4096
static struct h_msg h_sent[H_MAX_MSGS];
static int h_n_sent;
static int h_disconnects;

/* our stand-in for a QP; the XCM never looks inside one */
struct h_qp {
	enum xs_qp_state state;
};

struct xs_qp *h_qp_create(struct xs_fabric *f, const struct xs_qp_attr *attr)
{
	struct h_qp *qp = calloc(1, sizeof(*qp));

	if (qp)
		qp->state = XS_QPS_RTS;
	return (struct xs_qp *)qp;
}

int h_qp_destroy(struct xs_qp *qp)
{
	free(qp);
	return 0;
}

int h_qp_post_send(struct xs_qp *qp, const struct xs_send_wr *wr)
{
	const uint8_t *p = (const uint8_t *)(uintptr_t)wr->sg_list[0].addr;
	uint32_t len = wr->sg_list[0].length;

	if (h_n_sent < H_MAX_MSGS && len <= XS_XSMP_MAX_MSG) {
		h_sent[h_n_sent].type = p[0];
		h_sent[h_n_sent].len = (uint16_t)len;
		memcpy(h_sent[h_n_sent].data, p, len);
		h_n_sent++;
	}
	return 0;
}

int h_qp_post_recv(struct xs_qp *qp, const struct xs_recv_wr *wr) { return 0; }
enum xs_qp_state h_qp_state(const struct xs_qp *qp)
{
	return ((const struct h_qp *)qp)->state;
}

int h_qp_disconnect(struct xs_qp *qp)
{
	((struct h_qp *)qp)->state = XS_QPS_CLOSED;
	h_disconnects++;
	return 0;
}

struct xs_mr *h_mr_reg(struct xs_pd *pd, void *addr, size_t len, int access)
{
	return (struct xs_mr *)calloc(1, 16);
}

int h_mr_dereg(struct xs_mr *mr)
{
	free(mr);
	return 0;
}

uint32_t h_mr_lkey(const struct xs_mr *mr) { return 1; }

/* An XCM on a loop and a store, without fabric objects. */
static struct xsd_xcm *h_xcm_new(struct xs_loop *loop, struct xsd_store *st)
{
	struct xsd_xcm *x = calloc(1, sizeof(*x));

	x->loop = loop;
	x->store = st;
	x->port.lid = 2;
	x->port.port_guid = UINT64_C(0x0013970000000002);
	x->opts.push_wait_ms = 3000;
	x->opts.max_sessions_cap = 8;
	snprintf(x->chassis, sizeof(x->chassis), "test-director");
	x->n_slots = 16;
	x->slots = calloc(x->n_slots, sizeof(*x->slots));
	x->hosts_timer = xs_timer_new(loop, hosts_timer_cb, x);
	hosts_load(x);
	return x;
}

/* Complete every send in flight, as the CQ would, and reap closed sessions. */
static void h_complete_sends(struct xsd_xcm *x)
{
	for (uint32_t i = 0; i < x->n_slots; i++) {
		struct sess *s = x->slots[i];

		if (!s)
			continue;
		for (int round = 0; round < 1000 && s->send_busy; round++) {
			s->send_busy = 0;
			if (s->state == S_CLOSING)
				break;
			outq_drain(s);
			if (s->close_after_send && !s->outq && !s->send_busy)
				sess_close(s, NULL);
		}
		if (s->state == S_CLOSING) {
			xs_timer_disarm(s->timer);
			sess_reap(s);
		}
	}
}

static void h_xcm_free(struct xsd_xcm *x)
{
	for (uint32_t i = 0; i < x->n_slots; i++)
		if (x->slots[i])
			sess_reap(x->slots[i]);
	while (x->waiters)
		waiter_done(x, x->waiters, "session lost", "test end");
	if (x->hosts_dirty)
		hosts_save(x);
	xs_timer_free(x->hosts_timer);
	while (x->hosts) {
		struct host *h = x->hosts;

		x->hosts = h->next;
		free(h);
	}
	free(x->slots);
	free(x);
}

/* A connected session in WAIT_REGISTER from port guid / lid. */
static struct sess *h_connect(struct xsd_xcm *x, uint64_t guid, uint16_t lid)
{
	struct sess *s = sess_new(x);

	if (!s)
		return NULL;
	s->remote_guid = guid;
	s->remote_lid = lid;
	s->state = S_WAIT_REGISTER;
	return s;
}

/* Build an XSMP message: header + body. */
static size_t h_build(uint8_t *out, uint8_t type, const uint8_t *body, size_t blen, uint64_t src)
{
	struct xs_xsmp_hdr h = { .type = type, .length = (uint16_t)(XS_XSMP_HDR_LEN + blen),
				 .seq = 1, .src = { 0, src } };

	xs_xsmp_hdr_encode(&h, out, XS_XSMP_MAX_MSG);
	memcpy(out + XS_XSMP_HDR_LEN, body, blen);
	return XS_XSMP_HDR_LEN + blen;
}

static size_t h_session_msg(uint8_t *out, uint8_t code, uint8_t ack, uint32_t version,
			    const char *name, uint32_t flags, uint64_t src)
{
	struct xs_xsmp_session b = { .type = code, .code = ack, .xsmp_version = version,
				     .resource_flags = flags, .version = 1 };
	uint8_t body[XS_XSMP_SESSION_LEN];

	snprintf(b.session_name, sizeof(b.session_name), "%s", name);
	xs_xsmp_session_encode(&b, body, sizeof(body));
	return h_build(out, XS_XSMP_SESSION, body, sizeof(body), src);
}

/* The host's reply to sent message i: echo with ACK or NACK + text. */
static size_t h_reply(uint8_t *out, int i, bool ack, uint32_t reason, const char *text)
{
	const struct h_msg *m = &h_sent[i];
	const uint8_t *body = m->data + XS_XSMP_HDR_LEN;
	size_t blen = m->len - XS_XSMP_HDR_LEN;
	uint8_t rb[XS_VNIC_MSG_LEN];

	if (m->type == XS_XSMP_VNIC) {
		struct xs_vnic_msg v;

		xs_vnic_msg_decode(body, blen, &v);
		v.code = ack ? XS_XSMP_ACK : (uint8_t)(XS_XSMP_NACK | (reason & 63));
		v.reason = ack ? 0 : reason;
		snprintf(v.reason_text, sizeof(v.reason_text), "%s", text ? text : "");
		v.length = 0;
		xs_vnic_msg_encode(&v, rb, sizeof(rb));
	} else {
		struct xs_vhba_msg v;

		xs_vhba_msg_decode(body, blen, &v);
		v.code = ack ? XS_XSMP_ACK : (uint8_t)(XS_XSMP_NACK | (reason & 63));
		v.reason = ack ? 0 : reason;
		snprintf(v.reason_text, sizeof(v.reason_text), "%s", text ? text : "");
		v.length = 0;
		xs_vhba_msg_encode(&v, rb, sizeof(rb));
	}
	return h_build(out, m->type, rb, sizeof(rb), 0x1234);
}

#endif /* XCM_HARNESS_H */
