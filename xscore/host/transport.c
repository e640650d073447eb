/* SPDX-License-Identifier: MIT */
/*
 * transport.c - the XSMP session transport on the fabric API: one RC QP per
 * session, connected by service ID 0x2139701 with the 25-byte private data,
 * 64 receive and 64 send buffers of 1024 bytes in one registered region.
 *
 * A connection object can be closed from inside its own callbacks (a
 * message that ends the session): close() then only marks it, and the
 * callback frees it on the way out.
 */
#include <stdio.h>
#include <stdlib.h>

#include "host_int.h"

#define FC_RECVS 64
#define FC_SENDS 64
#define FC_BUF XS_XSMP_MAX_MSG
#define FC_SEND_TAG 0x10000u
#define FC_BACKLOG_MAX 1024         /* messages queued behind a full send ring */
#define XSMP_CM_PRIVATE_LEN 25

/* A message waiting for a free send slot. */
struct fc_pending {
	struct fc_pending *next;
	size_t len;
	uint8_t msg[];
};

struct xs_fab_conn {
	struct xs_xsmp_client *c;
	struct xs_host *h;
	struct xs_pd *pd;
	struct xs_cq *cq;
	struct xs_qp *qp;
	struct xs_mr *mr;
	uint8_t *buf;                 /* FC_RECVS + FC_SENDS slots */
	uint64_t send_busy;           /* bit per send slot */
	struct fc_pending *backlog, **backlog_tail;
	unsigned int backlog_len;
	bool in_cb, dead, cq_added;
	struct xs_fab_conn *next;
};

static uint8_t *slot(struct xs_fab_conn *fc, unsigned int i)
{
	return fc->buf + (size_t)i * FC_BUF;
}

static void conn_destroy(struct xs_fab_conn *fc)
{
	struct xs_fab_conn **pp;

	for (pp = &fc->h->conns; *pp; pp = &(*pp)->next) {
		if (*pp == fc) {
			*pp = fc->next;
			break;
		}
	}
	if (fc->cq_added)
		xs_loop_del_fd(fc->h->loop, xs_cq_fd(fc->cq));
	if (fc->qp)
		xs_qp_destroy(fc->qp);
	if (fc->cq)
		xs_cq_destroy(fc->cq);
	if (fc->mr)
		xs_mr_dereg(fc->mr);
	if (fc->pd)
		xs_pd_free(fc->pd);
	while (fc->backlog) {
		struct fc_pending *p = fc->backlog;

		fc->backlog = p->next;
		free(p);
	}
	free(fc->buf);
	free(fc);
}

/* Post @msg in a free send slot: 0, -ENOBUFS when none is free, -EIO. */
static int post_send_slot(struct xs_fab_conn *fc, const uint8_t *msg, size_t len)
{
	struct xs_sge sge;
	struct xs_send_wr wr = { 0 };
	unsigned int i;

	for (i = 0; i < FC_SENDS; i++)
		if (!(fc->send_busy & (UINT64_C(1) << i)))
			break;
	if (i == FC_SENDS)
		return -ENOBUFS;
	memcpy(slot(fc, FC_RECVS + i), msg, len);
	sge.addr = (uint64_t)(uintptr_t)slot(fc, FC_RECVS + i);
	sge.length = (uint32_t)len;
	sge.lkey = xs_mr_lkey(fc->mr);
	wr.wr_id = FC_SEND_TAG | i;
	wr.opcode = XS_WR_SEND;
	wr.sg_list = &sge;
	wr.num_sge = 1;
	wr.flags = XS_SEND_SIGNALED;
	fc->send_busy |= UINT64_C(1) << i;
	if (xs_qp_post_send(fc->qp, &wr) < 0) {
		fc->send_busy &= ~(UINT64_C(1) << i);
		return -EIO;
	}
	return 0;
}

/* A send slot came free: move queued messages into the ring. */
static int flush_backlog(struct xs_fab_conn *fc)
{
	struct fc_pending *p;
	int rc;

	while ((p = fc->backlog) != NULL) {
		rc = post_send_slot(fc, p->msg, p->len);
		if (rc == -ENOBUFS)
			return 0;
		if (rc < 0)
			return rc;
		fc->backlog = p->next;
		if (!fc->backlog)
			fc->backlog_tail = &fc->backlog;
		fc->backlog_len--;
		free(p);
	}
	return 0;
}

static int post_recv(struct xs_fab_conn *fc, unsigned int i)
{
	struct xs_sge sge = {
		.addr = (uint64_t)(uintptr_t)slot(fc, i),
		.length = FC_BUF,
		.lkey = xs_mr_lkey(fc->mr),
	};
	struct xs_recv_wr wr = { .wr_id = i, .sg_list = &sge, .num_sge = 1 };

	return xs_qp_post_recv(fc->qp, &wr);
}

/*
 * Take what the CQ holds: send completions free their slots, received
 * messages go to the session. With @closing (the connection is already
 * gone) a failed completion is only the flush of the posted receives and
 * sends, not a failure of its own: the caller reports the loss.
 */
static void fc_drain(struct xs_fab_conn *fc, bool closing)
{
	struct xs_wc wc[16];
	uint64_t now;
	int n, i;

	while (!fc->dead && (n = xs_cq_poll(fc->cq, wc, 16)) > 0) {
		now = xs_now_ms();
		for (i = 0; i < n && !fc->dead; i++) {
			if (wc[i].wr_id & FC_SEND_TAG) {
				fc->send_busy &= ~(UINT64_C(1) << (wc[i].wr_id & 63));
				if (closing)
					continue;
				if (wc[i].status == XS_WC_SUCCESS && flush_backlog(fc) < 0) {
					xs_xsmp_transport_down(fc->c, now, "send failed (queue)");
					continue;
				}
				xs_xsmp_send_done(fc->c, wc[i].status == XS_WC_SUCCESS, now);
				continue;
			}
			if (wc[i].status != XS_WC_SUCCESS) {
				char why[128];

				if (closing)
					continue;
				snprintf(why, sizeof(why), "receive failed: %s",
					 xs_wc_status_str(wc[i].status));
				xs_xsmp_transport_down(fc->c, now, why);
				continue;
			}
			xs_xsmp_on_message(fc->c, slot(fc, (unsigned int)wc[i].wr_id),
					   wc[i].byte_len, now);
			if (!closing && !fc->dead && post_recv(fc, (unsigned int)wc[i].wr_id) < 0)
				xs_xsmp_transport_down(fc->c, now, "cannot repost a receive");
		}
	}
}

static void fc_cq_cb(struct xs_loop *loop, int fd, unsigned int events, void *arg)
{
	struct xs_fab_conn *fc = arg;

	(void)loop, (void)fd, (void)events;
	fc->in_cb = true;
	fc_drain(fc, false);
	fc->in_cb = false;
	if (fc->dead)
		conn_destroy(fc);
}

static int fc_connect(struct xs_xsmp_client *c)
{
	struct xs_host *h = c->host;
	struct xs_fab_conn *fc;
	struct xs_qp_attr qa = { 0 };
	struct xs_cm_dest dest = { 0 };
	uint8_t pd[XSMP_CM_PRIVATE_LEN] = { 0 }; /* {u8 is_checksum; u32 reserved[6]} */
	int rc;

	fc = calloc(1, sizeof(*fc));
	if (!fc)
		return -ENOMEM;
	fc->c = c;
	fc->h = h;
	fc->buf = calloc(FC_RECVS + FC_SENDS, FC_BUF);
	if (!fc->buf) {
		free(fc);
		return -ENOMEM;
	}
	fc->backlog_tail = &fc->backlog;
	fc->next = h->conns;
	h->conns = fc;
	rc = -ENOMEM;
	fc->pd = xs_pd_alloc(h->fabric);
	if (!fc->pd)
		goto err;
	fc->mr = xs_mr_reg(fc->pd, fc->buf, (size_t)(FC_RECVS + FC_SENDS) * FC_BUF,
			   XS_ACCESS_LOCAL_WRITE);
	if (!fc->mr)
		goto err;
	fc->cq = xs_cq_create(h->fabric, FC_RECVS + FC_SENDS);
	if (!fc->cq)
		goto err;
	qa.pd = fc->pd;
	qa.send_cq = fc->cq;
	qa.recv_cq = fc->cq;
	qa.max_send_wr = FC_SENDS;
	qa.max_recv_wr = FC_RECVS;
	qa.max_sge = 1;
	qa.context = c;
	fc->qp = xs_qp_create(h->fabric, &qa);
	if (!fc->qp)
		goto err;
	rc = xs_loop_add_fd(h->loop, xs_cq_fd(fc->cq), XS_IO_IN, fc_cq_cb, fc);
	if (rc < 0)
		goto err;
	fc->cq_added = true;
	dest.lid = c->xcm_lid;
	if (h->port.link_layer == XS_LINK_ETHERNET && h->opts.has_xds_gid) {
		/* RoCE: the XCM is the XDS's port (same director) */
		dest.has_gid = true;
		memcpy(dest.gid, h->opts.xds_gid, 16);
	}
	rc = xs_qp_connect(fc->qp, &dest, XS_XSMP_SERVICE_ID, pd, sizeof(pd),
			   XS_SESS_CONNECT_TIMEOUT_MS);
	if (rc < 0)
		goto err;
	c->tctx = fc;
	return 0;
err:
	if (rc == -ENOMEM && errno)
		rc = -errno;
	conn_destroy(fc);
	return rc;
}

static int fc_send(struct xs_xsmp_client *c, const uint8_t *msg, size_t len)
{
	struct xs_fab_conn *fc = c->tctx;
	struct fc_pending *p;
	int rc;

	if (!fc || fc->dead)
		return -ENOTCONN;
	if (len > FC_BUF)
		return -EMSGSIZE;
	if (!fc->backlog) {
		rc = post_send_slot(fc, msg, len);
		if (rc != -ENOBUFS)
			return rc;
	}
	/* Ring full (a slow peer): keep order, queue behind it, bounded. */
	if (fc->backlog_len >= FC_BACKLOG_MAX)
		return -ENOBUFS;
	if (!fc->backlog)
		XS_DEBUG(XS_XSMP_LOG, "session %s: send ring full, queuing behind it",
			 c->host->session_name);
	p = malloc(sizeof(*p) + len);
	if (!p)
		return -ENOMEM;
	p->next = NULL;
	p->len = len;
	memcpy(p->msg, msg, len);
	*fc->backlog_tail = p;
	fc->backlog_tail = &p->next;
	fc->backlog_len++;
	return 0;
}

static void fc_close(struct xs_xsmp_client *c)
{
	struct xs_fab_conn *fc = c->tctx;

	if (!fc)
		return;
	c->tctx = NULL;
	fc->dead = true;
	if (fc->qp && xs_qp_state(fc->qp) == XS_QPS_RTS)
		xs_qp_disconnect(fc->qp);
	if (!fc->in_cb)
		conn_destroy(fc);
}

const struct xs_xsmp_transport_ops xs_xsmp_fabric_transport = {
	.connect = fc_connect,
	.send = fc_send,
	.close = fc_close,
};

void xs_fabric_transport_event(struct xs_host *h, const struct xs_event *ev)
{
	struct xs_fab_conn *fc;
	uint64_t now = xs_now_ms();
	char why[128];
	unsigned int i;

	for (fc = h->conns; fc; fc = fc->next)
		if (fc->qp == ev->qp && !fc->dead)
			break;
	if (!fc)
		return; /* an event for a connection we already dropped */
	fc->in_cb = true;
	switch (ev->type) {
	case XS_EV_ESTABLISHED:
		for (i = 0; i < FC_RECVS; i++) {
			if (post_recv(fc, i) < 0) {
				xs_xsmp_transport_down(fc->c, now, "cannot post receives");
				break;
			}
		}
		if (!fc->dead)
			xs_xsmp_transport_up(fc->c, now);
		break;
	case XS_EV_REJECTED:
		snprintf(why, sizeof(why), "connection rejected by XCM (CM reason %u)",
			 ev->reject_reason);
		xs_xsmp_transport_down(fc->c, now, why);
		break;
	case XS_EV_UNREACHABLE:
		snprintf(why, sizeof(why), "XCM unreachable: %s", xs_strerror(ev->status));
		xs_xsmp_transport_down(fc->c, now, why);
		break;
	case XS_EV_DISCONNECTED:
		/*
		 * What the peer sent before it closed is in the CQ already, but
		 * the loop may hand us this event before the CQ's fd: a director
		 * that sends REG_REJECT or SHUTDOWN and closes must be heard
		 * with its reason, not as a lost connection. So take the
		 * messages first; one that ends the session closes it with the
		 * director's words and the loss is not reported over them.
		 */
		fc_drain(fc, true);
		if (!fc->dead)
			xs_xsmp_transport_down(fc->c, now, "connection lost (disconnected)");
		break;
	default:
		break;
	}
	fc->in_cb = false;
	if (fc->dead)
		conn_destroy(fc);
}
