/* SPDX-License-Identifier: MIT */
/*
 * verbs.c - the "verbs" fabric backend: rdma-core's libibverbs for PD, MR,
 * CQ and RC QP, librdmacm for connection management, and the libibumad
 * engine of the umad backend (umad_port.c) for MADs.
 *
 * Spec: "verbs", "verbs:DEV" or "verbs:DEV:PORT" (first device / first
 * active port when absent).
 *
 * QPs are created with ibv_create_qp (not rdma_create_qp) and moved to INIT
 * at once, so receives can be posted before a connection exists and one QP
 * type serves both the active and the passive side. Connection management
 * drives their states with rdma_init_qp_attr:
 *   active:  resolve addr -> resolve route -> INIT, rdma_connect ->
 *            CONNECT_RESPONSE -> RTR, RTS, rdma_establish -> XS_EV_ESTABLISHED
 *   passive: CONNECT_REQUEST -> XS_EV_CONNECT_REQUEST; xs_qp_accept: INIT,
 *            RTR, rdma_accept -> ESTABLISHED -> RTS -> XS_EV_ESTABLISHED
 *            (or at the first receive, when it comes before ESTABLISHED)
 * Addresses: on InfiniBand AF_IB with the service ID (and the destination GID;
 * a LID-only destination is turned into a GID with an SA PathRecord query);
 * on RoCE IP (xs_cm_dest.ip) with the low 16 bits of the service ID as port
 * (and at most 56 bytes of REQ private data: rdma_cm's IP header takes 36).
 * rdma_cm only listens on service IDs of its own port spaces; any other ID
 * is mapped into the RDMA_PS_IB space (0x013F0000 | low 16 bits) on both
 * sides, so both ends agree (see cm_sid()).
 *
 * The fabric event fd is an epoll fd over the device's async event fd, the
 * rdma_cm event channel, a timerfd (connect deadlines) and an eventfd for
 * events queued internally.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <endian.h>
#include <infiniband/ib.h>
#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include <xscore/log.h>
#include <xscore/wire.h>

#include "../umad/umad_port.h"
#include "../umad/umad_spec.h"
#include "fabric_provider.h"

#define COMP "verbs"
#define EVQ_MAX 64
#define POLL_BATCH 32
#define RDMA_PS_IB_SID XS_U64(0x00000000013F0000)
#define RDMA_PS_TCP_SID XS_U64(0x0000000001060000)
#define WR_RECV_BIT (XS_U64(1) << 63)
/* an IB CM REQ carries 92 bytes; rdma_cm's IP addressing header takes 36 */
#define RDMA_IP_PRIVATE_DATA_MAX 56

enum ctx_kind { CTX_QP = 1, CTX_REQ, CTX_LISTENER };

struct verbs_qp;

struct verbs_fabric {
	struct xs_fabric base;
	struct ibv_context *ctx;
	char dev[64];
	uint8_t port;
	int gid_index;
	enum xs_link_layer ll;
	uint8_t rd_atom;           /* responder resources / initiator depth */
	struct rdma_event_channel *cm_ch;
	int epfd, q_efd, timer_fd;
	struct xs_event evq[EVQ_MAX];
	unsigned int evq_head, evq_count;
	struct verbs_qp *qps;
	struct verbs_listener *listeners;
	struct xs_umad_port *umad; /* opened with the first MAD agent */
};

struct verbs_pd {
	struct xs_pd base;
	struct ibv_pd *pd;
};

struct verbs_mr {
	struct xs_mr base;
	struct ibv_mr *mr;
};

struct verbs_cq {
	struct xs_cq base;
	struct ibv_comp_channel *ch;
	struct ibv_cq *cq;
};

struct wr_slot {
	uint64_t wr_id;
	enum xs_wc_opcode opcode;
};

struct verbs_qp {
	enum ctx_kind kind;        /* first: rdma_cm_id contexts point here */
	struct xs_qp base;
	struct verbs_fabric *vf;
	struct ibv_qp *qp;
	struct rdma_cm_id *id;
	struct verbs_qp *next;
	struct wr_slot *sq, *rq;
	uint32_t sq_tail, sq_count, rq_tail, rq_count;
	uint64_t deadline_ms;      /* connect deadline while CONNECTING */
	uint8_t pdata[XS_CM_PRIVATE_DATA_MAX];
	uint8_t plen;
	bool passive;              /* accepted: waiting for the RTU */
};

struct verbs_listener {
	enum ctx_kind kind;
	struct xs_cm_listener base;
	struct rdma_cm_id *id;
	struct verbs_listener *next;
};

struct verbs_req {
	enum ctx_kind kind;
	struct xs_cm_request base;
	struct rdma_cm_id *id;
};

static inline struct verbs_fabric *to_vf(struct xs_fabric *f)
{
	return xs_container_of(f, struct verbs_fabric, base);
}
static inline struct verbs_pd *to_vpd(struct xs_pd *p) { return xs_container_of(p, struct verbs_pd, base); }
static inline struct verbs_mr *to_vmr(struct xs_mr *m) { return xs_container_of(m, struct verbs_mr, base); }
static inline struct verbs_cq *to_vcq(struct xs_cq *c) { return xs_container_of(c, struct verbs_cq, base); }
static inline struct verbs_qp *to_vqp(struct xs_qp *q) { return xs_container_of(q, struct verbs_qp, base); }
static inline struct verbs_listener *to_vl(struct xs_cm_listener *l)
{
	return xs_container_of(l, struct verbs_listener, base);
}
static inline struct verbs_req *to_vreq(struct xs_cm_request *r)
{
	return xs_container_of(r, struct verbs_req, base);
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/* --------------------------------------------------------- event queue */

static void evq_push(struct verbs_fabric *vf, const struct xs_event *ev)
{
	uint64_t one = 1;

	if (vf->evq_count == EVQ_MAX) {
		XS_WARN(COMP, "%s: event queue full, dropped event %d", vf->dev, ev->type);
		return;
	}
	vf->evq[(vf->evq_head + vf->evq_count) % EVQ_MAX] = *ev;
	if (vf->evq_count++ == 0 && write(vf->q_efd, &one, sizeof(one)) < 0)
		XS_WARN(COMP, "eventfd write: %s", strerror(errno));
}

static int evq_pop(struct verbs_fabric *vf, struct xs_event *ev)
{
	uint64_t v;

	if (!vf->evq_count)
		return -EAGAIN;
	*ev = vf->evq[vf->evq_head];
	vf->evq_head = (vf->evq_head + 1) % EVQ_MAX;
	if (--vf->evq_count == 0 && read(vf->q_efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		XS_WARN(COMP, "eventfd read: %s", strerror(errno));
	return 0;
}

/* Forget queued events that name a QP or request being destroyed. */
static void evq_forget(struct verbs_fabric *vf, const struct xs_qp *qp,
		       const struct xs_cm_request *req)
{
	struct xs_event keep[EVQ_MAX];
	unsigned int n = 0;
	struct xs_event ev;

	while (evq_pop(vf, &ev) == 0)
		if (!((qp && ev.qp == qp) || (req && ev.req == req)))
			keep[n++] = ev;
	for (unsigned int i = 0; i < n; i++)
		evq_push(vf, &keep[i]);
}

/* ------------------------------------------------------------ port query */

static int verbs_query_port(struct xs_fabric *f, struct xs_port_attr *attr)
{
	struct verbs_fabric *vf = to_vf(f);
	struct ibv_port_attr pa;
	union ibv_gid gid;
	int rc;

	memset(attr, 0, sizeof(*attr));
	rc = ibv_query_port(vf->ctx, vf->port, &pa);
	if (rc)
		return -rc;
	snprintf(attr->dev_name, sizeof(attr->dev_name), "%s", vf->dev);
	snprintf(attr->port_name, sizeof(attr->port_name), "%.56s/%u", vf->dev, vf->port);
	attr->port_num = vf->port;
	switch (pa.state) {
	case IBV_PORT_INIT: attr->state = XS_PORT_INIT; break;
	case IBV_PORT_ARMED: attr->state = XS_PORT_ARMED; break;
	case IBV_PORT_ACTIVE:
	case IBV_PORT_ACTIVE_DEFER: attr->state = XS_PORT_ACTIVE; break;
	default: attr->state = XS_PORT_DOWN; break;
	}
	attr->link_layer = pa.link_layer == IBV_LINK_LAYER_ETHERNET ? XS_LINK_ETHERNET : XS_LINK_IB;
	attr->lid = pa.lid;
	attr->sm_lid = pa.sm_lid;
	attr->sm_sl = pa.sm_sl;
	attr->max_msg_size = pa.max_msg_sz;
	attr->node_guid = be64toh(ibv_get_device_guid(vf->ctx->device));
	if (ibv_query_gid(vf->ctx, vf->port, vf->gid_index, &gid) == 0) {
		memcpy(attr->gid, gid.raw, 16);
		attr->port_guid = xs_get64(attr->gid + 8);
	}
	for (int i = 0; i < XS_MAX_PKEYS && i < pa.pkey_tbl_len; i++) {
		__be16 pk;

		if (ibv_query_pkey(vf->ctx, vf->port, i, &pk) < 0)
			break;
		attr->pkeys[i] = be16toh(pk);
		if (attr->pkeys[i])
			attr->n_pkeys = i + 1;
	}
	return 0;
}

/* ---------------------------------------------------------------- PD, MR */

static struct xs_pd *verbs_pd_alloc(struct xs_fabric *f)
{
	struct verbs_pd *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->pd = ibv_alloc_pd(to_vf(f)->ctx);
	if (!p->pd) {
		int e = errno ? errno : ENOMEM;

		free(p);
		errno = e;
		return NULL;
	}
	p->base.fabric = f;
	return &p->base;
}

static int verbs_pd_free(struct xs_pd *pd)
{
	struct verbs_pd *p = to_vpd(pd);
	int rc = ibv_dealloc_pd(p->pd);

	if (rc)
		return -rc; /* still in use (MRs, QPs) */
	free(p);
	return 0;
}

static struct xs_mr *verbs_mr_reg(struct xs_pd *pd, void *addr, size_t len, int access)
{
	struct verbs_mr *m = calloc(1, sizeof(*m));
	int acc = 0;

	if (!m)
		return NULL;
	if (access & XS_ACCESS_LOCAL_WRITE)
		acc |= IBV_ACCESS_LOCAL_WRITE;
	if (access & XS_ACCESS_REMOTE_WRITE)
		acc |= IBV_ACCESS_REMOTE_WRITE;
	if (access & XS_ACCESS_REMOTE_READ)
		acc |= IBV_ACCESS_REMOTE_READ;
	m->mr = ibv_reg_mr(to_vpd(pd)->pd, addr, len, acc);
	if (!m->mr) {
		int e = errno ? errno : ENOMEM;

		XS_DEBUG(COMP, "ibv_reg_mr(%zu bytes): %s", len, strerror(e));
		free(m);
		errno = e;
		return NULL;
	}
	m->base.pd = pd;
	m->base.addr = addr;
	m->base.len = len;
	m->base.access = access;
	m->base.lkey = m->mr->lkey;
	m->base.rkey = m->mr->rkey;
	return &m->base;
}

static int verbs_mr_dereg(struct xs_mr *mr)
{
	struct verbs_mr *m = to_vmr(mr);
	int rc = ibv_dereg_mr(m->mr);

	if (rc)
		return -rc;
	free(m);
	return 0;
}

/* -------------------------------------------------------------------- CQ */

static struct xs_cq *verbs_cq_create(struct xs_fabric *f, int depth)
{
	struct verbs_fabric *vf = to_vf(f);
	struct verbs_cq *c = calloc(1, sizeof(*c));
	int err;

	if (!c)
		return NULL;
	c->ch = ibv_create_comp_channel(vf->ctx);
	if (!c->ch) {
		err = errno ? errno : ENOMEM;
		goto err_free;
	}
	err = -set_nonblock(c->ch->fd);
	if (err)
		goto err_channel;
	{
		struct ibv_device_attr da;

		if (ibv_query_device(vf->ctx, &da) == 0 && depth > da.max_cqe) {
			XS_INFO(COMP, "%s: CQ of %d entries clamped to the device's %d", vf->dev,
				depth, da.max_cqe);
			depth = da.max_cqe;
		}
	}
	c->cq = ibv_create_cq(vf->ctx, depth, c, c->ch, 0);
	if (!c->cq) {
		err = errno ? errno : ENOMEM;
		goto err_channel;
	}
	err = ibv_req_notify_cq(c->cq, 0);
	if (err)
		goto err_cq;
	c->base.fabric = f;
	c->base.depth = depth;
	return &c->base;

err_cq:
	ibv_destroy_cq(c->cq);
err_channel:
	ibv_destroy_comp_channel(c->ch);
err_free:
	free(c);
	errno = err;
	return NULL;
}

static int verbs_cq_destroy(struct xs_cq *cq)
{
	struct verbs_cq *c = to_vcq(cq);
	int rc = ibv_destroy_cq(c->cq);

	if (rc)
		return -rc; /* QPs still use it */
	ibv_destroy_comp_channel(c->ch);
	free(c);
	return 0;
}

static int verbs_cq_fd(struct xs_cq *cq) { return to_vcq(cq)->ch->fd; }

static struct verbs_qp *qp_by_num(struct verbs_fabric *vf, uint32_t qpn)
{
	for (struct verbs_qp *q = vf->qps; q; q = q->next)
		if (q->qp->qp_num == qpn)
			return q;
	return NULL;
}

static int qp_cm_modify(struct verbs_qp *q, struct rdma_cm_id *id, enum ibv_qp_state state);

/* A receive completed on an accepted QP before rdma_cm reported ESTABLISHED:
 * the initiator got our REP and already sends, its RTU is still on its way
 * (or lost). As IB's "communication established": the connection is up.
 * Tell the CM, move to RTS and report ESTABLISHED now, so the consumer can
 * answer what it received (an SRP target its first command). */
static void comm_est(struct verbs_qp *q)
{
	struct xs_event ev;

	if (qp_cm_modify(q, q->id, IBV_QPS_RTS))
		return; /* rdma_cm's ESTABLISHED will try again */
	if (rdma_notify(q->id, IBV_EVENT_COMM_EST))
		XS_DEBUG(COMP, "QP %u: rdma_notify(COMM_EST): %s", q->base.qpn, strerror(errno));
	q->base.state = XS_QPS_RTS;
	memset(&ev, 0, sizeof(ev));
	ev.type = XS_EV_ESTABLISHED;
	ev.qp = &q->base;
	evq_push(q->vf, &ev);
}

/* Map one work completion; false when it belongs to no live QP. */
static bool map_wc(struct verbs_fabric *vf, const struct ibv_wc *w, struct xs_wc *out)
{
	struct verbs_qp *q = qp_by_num(vf, w->qp_num);
	bool recv = (w->wr_id & WR_RECV_BIT) != 0;
	uint32_t slot = (uint32_t)(w->wr_id & 0xffffffffu);
	struct wr_slot *s;

	if (!q)
		return false;
	memset(out, 0, sizeof(*out));
	if (recv) {
		if (slot >= q->base.attr.max_recv_wr)
			return false;
		s = &q->rq[slot];
		/* receives complete in order: everything up to slot is done */
		while (q->rq_count && q->rq_tail != (slot + 1) % q->base.attr.max_recv_wr) {
			q->rq_tail = (q->rq_tail + 1) % q->base.attr.max_recv_wr;
			q->rq_count--;
		}
		out->opcode = XS_WC_RECV;
		if (w->status == IBV_WC_SUCCESS && q->passive && q->base.state == XS_QPS_CONNECTING)
			comm_est(q);
	} else {
		if (slot >= q->base.attr.max_send_wr)
			return false;
		s = &q->sq[slot];
		/* a completion also retires the unsignaled sends before it */
		while (q->sq_count && q->sq_tail != (slot + 1) % q->base.attr.max_send_wr) {
			q->sq_tail = (q->sq_tail + 1) % q->base.attr.max_send_wr;
			q->sq_count--;
		}
		out->opcode = s->opcode;
	}
	out->wr_id = s->wr_id;
	out->status = (enum xs_wc_status)w->status;
	out->byte_len = w->byte_len;
	if (w->status == IBV_WC_SUCCESS && (w->wc_flags & IBV_WC_WITH_IMM)) {
		out->has_imm = true;
		out->imm_data = be32toh(w->imm_data);
	}
	out->qp = &q->base;
	if (w->status != IBV_WC_SUCCESS && q->base.state == XS_QPS_RTS)
		q->base.state = XS_QPS_ERROR;
	return true;
}

static int verbs_cq_poll(struct xs_cq *cq, struct xs_wc *wc, int n)
{
	struct verbs_cq *c = to_vcq(cq);
	struct verbs_fabric *vf = to_vf(cq->fabric);
	struct ibv_cq *ev_cq;
	void *ev_ctx;
	bool rearm = false;
	int got = 0;

	/* Consume the channel's events, re-arm, then poll: a completion that
	 * lands after the poll raises a new event, none is lost. */
	while (ibv_get_cq_event(c->ch, &ev_cq, &ev_ctx) == 0) {
		ibv_ack_cq_events(ev_cq, 1);
		rearm = true;
	}
	if (rearm) {
		int rc = ibv_req_notify_cq(c->cq, 0);

		if (rc)
			return -rc;
	}
	while (got < n) {
		struct ibv_wc w[POLL_BATCH];
		int want = XS_MIN(n - got, POLL_BATCH);
		int k = ibv_poll_cq(c->cq, want, w);

		if (k < 0)
			return got ? got : -EIO;
		for (int i = 0; i < k; i++)
			if (map_wc(vf, &w[i], &wc[got]))
				got++;
		if (k < want)
			break;
	}
	return got;
}

/* -------------------------------------------------------------------- QP */

static int qp_to_init(struct verbs_qp *q)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_INIT,
		.pkey_index = 0,
		.port_num = q->vf->port,
		.qp_access_flags = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
				   IBV_ACCESS_REMOTE_READ,
	};

	return -ibv_modify_qp(q->qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT |
					 IBV_QP_ACCESS_FLAGS);
}

/* Move the QP to `state` with the attributes rdma_cm derives from id. */
static int qp_cm_modify(struct verbs_qp *q, struct rdma_cm_id *id, enum ibv_qp_state state)
{
	struct ibv_qp_attr a;
	int mask, rc;

	memset(&a, 0, sizeof(a));
	a.qp_state = state;
	rc = rdma_init_qp_attr(id, &a, &mask);
	if (rc)
		return -errno;
	/* Before the CM exchange (the active side's INIT) rdma_cm gives no
	 * remote access at all: the peer's RDMA WRITE/READ into our MRs would
	 * fail with "remote invalid request". MRs carry the real limits. */
	if (state == IBV_QPS_INIT && (mask & IBV_QP_ACCESS_FLAGS))
		a.qp_access_flags |= IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
				     IBV_ACCESS_REMOTE_READ;
	if (state == IBV_QPS_RTR || state == IBV_QPS_RTS) {
		/* rdma_cm leaves these at 0 for user QPs: use what we offered */
		if (state == IBV_QPS_RTR && (mask & IBV_QP_MAX_DEST_RD_ATOMIC) && !a.max_dest_rd_atomic)
			a.max_dest_rd_atomic = q->vf->rd_atom;
		if (state == IBV_QPS_RTS && (mask & IBV_QP_MAX_QP_RD_ATOMIC) && !a.max_rd_atomic)
			a.max_rd_atomic = q->vf->rd_atom;
	}
	return -ibv_modify_qp(q->qp, &a, mask);
}

static void qp_to_error(struct verbs_qp *q)
{
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_ERR };

	ibv_modify_qp(q->qp, &a, IBV_QP_STATE);
}

static struct xs_qp *verbs_qp_create(struct xs_fabric *f, const struct xs_qp_attr *attr)
{
	struct verbs_fabric *vf = to_vf(f);
	struct verbs_qp *q = calloc(1, sizeof(*q));
	struct ibv_qp_init_attr ia;
	int err;

	if (!q)
		return NULL;
	q->kind = CTX_QP;
	q->vf = vf;
	q->base.fabric = f;
	q->base.attr = *attr;
	q->sq = calloc(attr->max_send_wr, sizeof(*q->sq));
	q->rq = calloc(attr->max_recv_wr, sizeof(*q->rq));
	if (!q->sq || !q->rq) {
		err = ENOMEM;
		goto err_free;
	}
	memset(&ia, 0, sizeof(ia));
	ia.qp_context = q;
	ia.send_cq = to_vcq(attr->send_cq)->cq;
	ia.recv_cq = to_vcq(attr->recv_cq)->cq;
	ia.cap.max_send_wr = attr->max_send_wr;
	ia.cap.max_recv_wr = attr->max_recv_wr;
	ia.cap.max_send_sge = attr->max_sge;
	ia.cap.max_recv_sge = attr->max_sge;
	ia.cap.max_inline_data = attr->max_inline;
	ia.qp_type = IBV_QPT_RC;
	ia.sq_sig_all = 0;
	q->qp = ibv_create_qp(to_vpd(attr->pd)->pd, &ia);
	if (!q->qp) {
		err = errno ? errno : ENOMEM;
		XS_ERR(COMP, "%s: ibv_create_qp: %s", vf->dev, strerror(err));
		goto err_free;
	}
	err = -qp_to_init(q);
	if (err) {
		XS_ERR(COMP, "%s: QP %u to INIT: %s", vf->dev, q->qp->qp_num, strerror(err));
		goto err_qp;
	}
	q->base.qpn = q->qp->qp_num;
	q->base.state = XS_QPS_RESET;
	q->next = vf->qps;
	vf->qps = q;
	return &q->base;

err_qp:
	ibv_destroy_qp(q->qp);
err_free:
	free(q->sq);
	free(q->rq);
	free(q);
	errno = err;
	return NULL;
}

static int verbs_qp_destroy(struct xs_qp *qp)
{
	struct verbs_qp *q = to_vqp(qp);
	struct verbs_fabric *vf = q->vf;
	struct verbs_qp **pp;
	int rc;

	if (q->id) {
		if (q->base.state == XS_QPS_RTS)
			rdma_disconnect(q->id);
		rdma_destroy_id(q->id);
		q->id = NULL;
	}
	qp_to_error(q); /* outstanding work flushes */
	rc = ibv_destroy_qp(q->qp);
	if (rc)
		return -rc;
	for (pp = &vf->qps; *pp && *pp != q; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = q->next;
	evq_forget(vf, qp, NULL);
	free(q->sq);
	free(q->rq);
	free(q);
	return 0;
}

static int map_sges(const struct xs_sge *in, int n, struct ibv_sge *out)
{
	for (int i = 0; i < n; i++) {
		out[i].addr = in[i].addr;
		out[i].length = in[i].length;
		out[i].lkey = in[i].lkey;
	}
	return n;
}

static int verbs_post_send(struct xs_qp *qp, const struct xs_send_wr *wr)
{
	struct verbs_qp *q = to_vqp(qp);
	struct ibv_sge sge[wr->num_sge ? wr->num_sge : 1];
	struct ibv_send_wr w, *bad = NULL;
	uint32_t slot;
	int rc;

	if (q->base.state != XS_QPS_RTS)
		return q->base.state == XS_QPS_ERROR ? -EPIPE : -ENOTCONN;
	if (q->sq_count == q->base.attr.max_send_wr)
		return -ENOMEM;
	slot = (q->sq_tail + q->sq_count) % q->base.attr.max_send_wr;
	memset(&w, 0, sizeof(w));
	w.wr_id = slot;
	w.sg_list = sge;
	w.num_sge = map_sges(wr->sg_list, wr->num_sge, sge);
	switch (wr->opcode) {
	case XS_WR_SEND:
		w.opcode = IBV_WR_SEND;
		q->sq[slot].opcode = XS_WC_SEND;
		break;
	case XS_WR_SEND_WITH_IMM:
		w.opcode = IBV_WR_SEND_WITH_IMM;
		w.imm_data = htobe32(wr->imm_data);
		q->sq[slot].opcode = XS_WC_SEND;
		break;
	case XS_WR_RDMA_WRITE:
		w.opcode = IBV_WR_RDMA_WRITE;
		w.wr.rdma.remote_addr = wr->remote_addr;
		w.wr.rdma.rkey = wr->rkey;
		q->sq[slot].opcode = XS_WC_RDMA_WRITE;
		break;
	case XS_WR_RDMA_READ:
		w.opcode = IBV_WR_RDMA_READ;
		w.wr.rdma.remote_addr = wr->remote_addr;
		w.wr.rdma.rkey = wr->rkey;
		q->sq[slot].opcode = XS_WC_RDMA_READ;
		break;
	default:
		return -EINVAL;
	}
	if (wr->flags & XS_SEND_SIGNALED)
		w.send_flags |= IBV_SEND_SIGNALED;
	if (wr->flags & XS_SEND_INLINE)
		w.send_flags |= IBV_SEND_INLINE;
	q->sq[slot].wr_id = wr->wr_id;
	rc = ibv_post_send(q->qp, &w, &bad);
	if (rc)
		return -rc;
	q->sq_count++;
	return 0;
}

static int verbs_post_recv(struct xs_qp *qp, const struct xs_recv_wr *wr)
{
	struct verbs_qp *q = to_vqp(qp);
	struct ibv_sge sge[wr->num_sge ? wr->num_sge : 1];
	struct ibv_recv_wr w, *bad = NULL;
	uint32_t slot;
	int rc;

	if (q->base.state == XS_QPS_ERROR || q->base.state == XS_QPS_CLOSED)
		return -EPIPE;
	if (q->rq_count == q->base.attr.max_recv_wr)
		return -ENOMEM;
	slot = (q->rq_tail + q->rq_count) % q->base.attr.max_recv_wr;
	memset(&w, 0, sizeof(w));
	w.wr_id = WR_RECV_BIT | slot;
	w.sg_list = sge;
	w.num_sge = map_sges(wr->sg_list, wr->num_sge, sge);
	q->rq[slot].wr_id = wr->wr_id;
	q->rq[slot].opcode = XS_WC_RECV;
	rc = ibv_post_recv(q->qp, &w, &bad);
	if (rc)
		return -rc;
	q->rq_count++;
	return 0;
}

/* ----------------------------------------------------- connection manager */

/* The service ID rdma_cm can bind: its own port spaces pass through; any
 * other ID is mapped into RDMA_PS_IB by its low 16 bits (both ends map the
 * same way, so they agree; two IDs with the same low 16 bits collide). */
static uint64_t cm_sid(uint64_t sid)
{
	uint64_t space = sid & XS_U64(0xffffffffffff0000);

	if (space == RDMA_PS_IB_SID || space == RDMA_PS_TCP_SID)
		return sid;
	return RDMA_PS_IB_SID | (sid & 0xffff);
}

static void fill_sib(struct sockaddr_ib *sib, const uint8_t gid[16], uint16_t pkey,
		     uint64_t sid, bool with_sid)
{
	memset(sib, 0, sizeof(*sib));
	sib->sib_family = AF_IB;
	sib->sib_pkey = htobe16(pkey ? pkey : XS_DEFAULT_PKEY);
	memcpy(&sib->sib_addr, gid, 16);
	if (with_sid) {
		sib->sib_sid = htobe64(cm_sid(sid));
		sib->sib_sid_mask = htobe64(~XS_U64(0));
	}
}

static void arm_timer(struct verbs_fabric *vf)
{
	uint64_t next = 0, now = xs_now_ms();
	struct itimerspec its;

	for (struct verbs_qp *q = vf->qps; q; q = q->next)
		if (q->base.state == XS_QPS_CONNECTING && q->deadline_ms &&
		    (!next || q->deadline_ms < next))
			next = q->deadline_ms;
	memset(&its, 0, sizeof(its));
	if (next) {
		uint64_t d = next > now ? next - now : 1;

		its.it_value.tv_sec = (time_t)(d / 1000);
		its.it_value.tv_nsec = (long)(d % 1000) * 1000000L;
	}
	timerfd_settime(vf->timer_fd, 0, &its, NULL);
}

static void connect_failed(struct verbs_qp *q, enum xs_event_type type, int status,
			   uint16_t reason, const void *pdata, size_t plen)
{
	struct xs_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.qp = &q->base;
	ev.status = status;
	ev.reject_reason = reason;
	if (pdata && plen) {
		ev.private_len = (uint16_t)XS_MIN(plen, sizeof(ev.private_data));
		memcpy(ev.private_data, pdata, ev.private_len);
	}
	q->base.state = XS_QPS_ERROR;
	q->deadline_ms = 0;
	qp_to_error(q);
	evq_push(q->vf, &ev);
}

/* SA PathRecord query for the GID behind a LID (IB, LID-only destinations).
 * Blocks up to timeout_ms. */
static int lid_to_gid(struct verbs_fabric *vf, uint16_t lid, uint8_t gid[16], int timeout_ms)
{
	struct xs_port_attr pa;
	struct xs_mad_agent *a;
	struct xs_sa_hdr h;
	struct xs_path_record pr;
	uint8_t req[XS_MAD_LEN], resp[XS_MAD_LEN];
	struct xs_mad_addr dst = { .qpn = 1, .qkey = XS_GSI_QKEY };
	int n, rc;

	rc = verbs_query_port(&vf->base, &pa);
	if (rc < 0)
		return rc;
	a = xs_mad_agent_register(&vf->base, XS_SA_CLASS, XS_SA_CLASS_VERSION, NULL, 0);
	if (!a)
		return -errno;
	memset(&h, 0, sizeof(h));
	h.mad.base_version = XS_MAD_BASE_VERSION;
	h.mad.mgmt_class = XS_SA_CLASS;
	h.mad.class_version = XS_SA_CLASS_VERSION;
	h.mad.method = XS_MAD_METHOD_GET;
	h.mad.tid = (xs_now_us() ^ (uint64_t)getpid() << 20) & 0xffffffffu;
	h.mad.attr_id = XS_SA_ATTR_PATH_RECORD;
	h.attr_offset = XS_PR_LEN / 8;
	h.comp_mask = XS_PR_COMP_DLID | XS_PR_COMP_SLID | XS_PR_COMP_SGID | XS_PR_COMP_NUMB_PATH;
	memset(req, 0, sizeof(req));
	memset(&pr, 0, sizeof(pr));
	pr.dlid = lid;
	pr.slid = pa.lid;
	memcpy(pr.sgid, pa.gid, 16);
	pr.numb_path = 1;
	if (xs_sa_hdr_encode(&h, req, sizeof(req)) < 0 ||
	    xs_pr_encode(&pr, req + XS_SA_DATA_OFF, XS_SA_DATA_LEN) < 0) {
		xs_mad_agent_unregister(a);
		return -EINVAL;
	}
	dst.lid = pa.sm_lid;
	n = xs_mad_rpc(a, &dst, req, sizeof(req), resp, sizeof(resp),
		       XS_MAX(timeout_ms / 3, 100), 2);
	xs_mad_agent_unregister(a);
	if (n < 0)
		return n;
	if (xs_sa_hdr_decode(resp, (size_t)n, &h) < 0 || h.mad.status ||
	    xs_pr_decode(resp + XS_SA_DATA_OFF, (size_t)n - XS_SA_DATA_OFF, &pr) < 0)
		return -EHOSTUNREACH;
	memcpy(gid, pr.dgid, 16);
	return 0;
}

static int verbs_qp_connect(struct xs_qp *qp, const struct xs_cm_dest *dest, uint64_t service_id,
			    const void *pdata, size_t plen, int timeout_ms)
{
	struct verbs_qp *q = to_vqp(qp);
	struct verbs_fabric *vf = q->vf;
	struct rdma_cm_id *id;
	int rc;

	if (q->id || q->base.state != XS_QPS_RESET)
		return -EISCONN;
	if (vf->ll == XS_LINK_ETHERNET || dest->ip) {
		struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV }, *ai;
		char port[8];

		static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
		char gidip[96];
		const char *ip = dest->ip;

		if (!ip && dest->has_gid) {
			if (!memcmp(dest->gid, v4mapped, 12)) {
				inet_ntop(AF_INET, dest->gid + 12, gidip, sizeof(gidip));
			} else {
				char path[256], nd[32] = "";
				FILE *fp;

				inet_ntop(AF_INET6, dest->gid, gidip, sizeof(gidip));
				snprintf(path, sizeof(path),
					 "/sys/class/infiniband/%s/ports/%u/gid_attrs/ndevs/%d",
					 vf->dev, vf->port, vf->gid_index);
				fp = fopen(path, "r");
				if (fp) {
					if (fscanf(fp, "%31s", nd) != 1)
						nd[0] = 0;
					fclose(fp);
				}
				if (nd[0] && dest->gid[0] == 0xfe && (dest->gid[1] & 0xc0) == 0x80) {
					strcat(gidip, "%");
					strcat(gidip, nd);
				}
			}
			ip = gidip;
		}
		if (!ip) {
			XS_ERR(COMP, "%s is RoCE: connecting needs an IP address or a GID", vf->dev);
			return -EDESTADDRREQ;
		}
		if (plen > RDMA_IP_PRIVATE_DATA_MAX) {
			XS_ERR(COMP, "%s: over IP, rdma_cm carries at most %d bytes of connect "
			       "private data (asked for %zu)", vf->dev, RDMA_IP_PRIVATE_DATA_MAX,
			       plen);
			return -EMSGSIZE;
		}
		snprintf(port, sizeof(port), "%u", (unsigned int)(service_id & 0xffff));
		rc = getaddrinfo(ip, port, &hints, &ai);
		if (rc) {
			XS_ERR(COMP, "bad destination address '%s': %s", dest->ip, gai_strerror(rc));
			return -EINVAL;
		}
		if (rdma_create_id(vf->cm_ch, &id, q, RDMA_PS_TCP)) {
			rc = -errno;
			freeaddrinfo(ai);
			return rc;
		}
		rc = rdma_resolve_addr(id, NULL, ai->ai_addr, timeout_ms) ? -errno : 0;
		freeaddrinfo(ai);
	} else {
		struct sockaddr_ib src, dst;
		struct xs_port_attr pa;
		uint8_t dgid[16] = { 0 };

		rc = verbs_query_port(&vf->base, &pa);
		if (rc < 0)
			return rc;
		if (dest->has_gid) {
			memcpy(dgid, dest->gid, 16);
		} else if (dest->lid) {
			rc = lid_to_gid(vf, dest->lid, dgid, timeout_ms);
			if (rc < 0) {
				XS_ERR(COMP, "no path to LID %u from the SA: %s", dest->lid,
				       xs_strerror(rc));
				return rc;
			}
		} else {
			return -EDESTADDRREQ;
		}
		if (rdma_create_id(vf->cm_ch, &id, q, RDMA_PS_IB))
			return -errno;
		fill_sib(&src, pa.gid, dest->pkey, 0, false);
		fill_sib(&dst, dgid, dest->pkey, service_id, true);
		rc = rdma_resolve_addr(id, (struct sockaddr *)&src, (struct sockaddr *)&dst,
				       timeout_ms) ? -errno : 0;
	}
	if (rc < 0) {
		XS_ERR(COMP, "rdma_resolve_addr: %s", xs_strerror(rc));
		rdma_destroy_id(id);
		return rc;
	}
	q->id = id;
	q->plen = (uint8_t)plen;
	if (plen)
		memcpy(q->pdata, pdata, plen);
	q->base.state = XS_QPS_CONNECTING;
	q->deadline_ms = xs_now_ms() + (uint64_t)timeout_ms;
	arm_timer(vf);
	return 0;
}

static void conn_param(struct verbs_fabric *vf, struct rdma_conn_param *p, uint32_t qpn,
		       const void *pdata, size_t plen)
{
	memset(p, 0, sizeof(*p));
	p->private_data = pdata;
	p->private_data_len = (uint8_t)plen;
	p->responder_resources = vf->rd_atom;
	p->initiator_depth = vf->rd_atom;
	p->retry_count = 7;
	p->rnr_retry_count = 7; /* infinite: a receiver without buffers holds us back */
	p->qp_num = qpn;
}

static int verbs_qp_accept(struct xs_qp *qp, struct xs_cm_request *req, const void *pdata,
			   size_t plen)
{
	struct verbs_qp *q = to_vqp(qp);
	struct verbs_req *r = to_vreq(req);
	struct rdma_conn_param p;
	int rc;

	if (q->id || q->base.state != XS_QPS_RESET)
		return -EISCONN;
	rc = qp_cm_modify(q, r->id, IBV_QPS_INIT);
	if (!rc)
		rc = qp_cm_modify(q, r->id, IBV_QPS_RTR);
	if (rc) {
		XS_ERR(COMP, "QP %u to RTR for an accept: %s", q->base.qpn, xs_strerror(rc));
		return rc;
	}
	conn_param(q->vf, &p, q->qp->qp_num, pdata, plen);
	if (rdma_accept(r->id, &p)) {
		rc = -errno;
		XS_ERR(COMP, "rdma_accept: %s", xs_strerror(rc));
		return rc;
	}
	q->id = r->id;
	q->id->context = q;
	q->base.state = XS_QPS_CONNECTING;
	q->passive = true;
	q->deadline_ms = 0; /* the CM's own REP timeout bounds this */
	free(r);
	return 0;
}

static int verbs_cm_reject(struct xs_cm_request *req, uint16_t reason, const void *pdata,
			   size_t plen)
{
	struct verbs_req *r = to_vreq(req);
	int rc = 0;

	if (reason != XS_CM_REJ_CONSUMER)
		XS_DEBUG(COMP, "rdma_cm sends every reject with reason 28 (consumer), not %u",
			 reason);
	if (rdma_reject(r->id, pdata, (uint8_t)plen))
		rc = -errno;
	rdma_destroy_id(r->id);
	evq_forget(to_vf(req->fabric), NULL, req);
	free(r);
	return rc;
}

static int verbs_qp_disconnect(struct xs_qp *qp)
{
	struct verbs_qp *q = to_vqp(qp);

	if (!q->id)
		return -ENOTCONN;
	/* The user QP is ours to move: to ERR, so outstanding work flushes;
	 * DISCONNECTED arrives from rdma_cm on both sides. */
	qp_to_error(q);
	if (rdma_disconnect(q->id))
		return -errno;
	return 0;
}

static struct xs_cm_listener *verbs_cm_listen(struct xs_fabric *f, uint64_t service_id)
{
	struct verbs_fabric *vf = to_vf(f);
	struct verbs_listener *l = calloc(1, sizeof(*l));
	int err;

	if (!l)
		return NULL;
	l->kind = CTX_LISTENER;
	l->base.fabric = f;
	l->base.service_id = service_id;
	if (vf->ll == XS_LINK_ETHERNET) {
		struct sockaddr_in6 a = { .sin6_family = AF_INET6,
					  .sin6_port = htobe16((uint16_t)(service_id & 0xffff)) };

		if (rdma_create_id(vf->cm_ch, &l->id, l, RDMA_PS_TCP))
			goto err_errno;
		if (rdma_bind_addr(l->id, (struct sockaddr *)&a))
			goto err_id;
	} else {
		struct sockaddr_ib a;
		struct xs_port_attr pa;

		if (verbs_query_port(f, &pa) < 0) {
			errno = EIO;
			goto err_free;
		}
		if (rdma_create_id(vf->cm_ch, &l->id, l, RDMA_PS_IB))
			goto err_errno;
		fill_sib(&a, pa.gid, 0, service_id, true);
		if (rdma_bind_addr(l->id, (struct sockaddr *)&a))
			goto err_id;
	}
	if (rdma_listen(l->id, 64))
		goto err_id;
	l->next = vf->listeners;
	vf->listeners = l;
	if (vf->ll == XS_LINK_ETHERNET)
		XS_INFO(COMP, "%s: listening for service ID 0x%016llx on RDMA TCP port %u", vf->dev,
			(unsigned long long)service_id, (unsigned int)(service_id & 0xffff));
	else if (cm_sid(service_id) != service_id)
		XS_INFO(COMP, "%s: listening on service ID 0x%016llx as 0x%016llx (rdma_cm port "
			"space)", vf->dev, (unsigned long long)service_id,
			(unsigned long long)cm_sid(service_id));
	return &l->base;

err_id:
	err = errno;
	XS_ERR(COMP, "%s: cannot listen on service ID 0x%016llx: %s", vf->dev,
	       (unsigned long long)service_id, strerror(err));
	rdma_destroy_id(l->id);
	free(l);
	errno = err;
	return NULL;
err_errno:
	err = errno;
	free(l);
	errno = err;
	return NULL;
err_free:
	free(l);
	return NULL;
}

static int verbs_cm_listener_close(struct xs_cm_listener *lst)
{
	struct verbs_listener *l = to_vl(lst);
	struct verbs_fabric *vf = to_vf(lst->fabric);
	struct verbs_listener **pp;

	for (pp = &vf->listeners; *pp && *pp != l; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = l->next;
	rdma_destroy_id(l->id);
	free(l);
	return 0;
}

static void copy_pdata(struct xs_event *ev, const void *p, uint8_t len)
{
	if (p && len) {
		ev->private_len = XS_MIN(len, (uint16_t)sizeof(ev->private_data));
		memcpy(ev->private_data, p, ev->private_len);
	}
}

static void on_connect_request(struct verbs_fabric *vf, struct rdma_cm_event *e)
{
	struct verbs_listener *l = e->listen_id->context;
	struct verbs_req *r = calloc(1, sizeof(*r));
	struct xs_cm_req_info *info;
	struct xs_event ev;

	if (e->id->verbs && strcmp(ibv_get_device_name(e->id->verbs->device), vf->dev) != 0) {
		/* a listener bound to any address (RoCE) hears every device */
		XS_DEBUG(COMP, "%s: connect request arrived on %s: rejected", vf->dev,
			 ibv_get_device_name(e->id->verbs->device));
		free(r);
		r = NULL;
	}
	if (!r) {
		rdma_reject(e->id, NULL, 0);
		rdma_destroy_id(e->id);
		return;
	}
	r->kind = CTX_REQ;
	r->base.fabric = &vf->base;
	r->id = e->id;
	e->id->context = r;
	info = &r->base.info;
	info->service_id = l->base.service_id;
	if (e->id->route.num_paths > 0 && e->id->route.path_rec) {
		struct ibv_sa_path_rec *pr = e->id->route.path_rec;

		/* the REQ's primary path as the passive side holds it: the
		 * kernel's CM turns the REQ's "local" port (the requester) into
		 * the destination, so the peer is dgid/dlid; sgid is our own */
		info->remote_lid = be16toh(pr->dlid);
		memcpy(info->remote_gid, pr->dgid.raw, 16);
		info->remote_port_guid = xs_get64(info->remote_gid + 8);
		info->pkey = be16toh(pr->pkey);
	}
	if (e->param.conn.private_data && e->param.conn.private_data_len) {
		info->private_len = XS_MIN(e->param.conn.private_data_len,
					   (uint8_t)XS_CM_PRIVATE_DATA_MAX);
		memcpy(info->private_data, e->param.conn.private_data, info->private_len);
	}
	memset(&ev, 0, sizeof(ev));
	ev.type = XS_EV_CONNECT_REQUEST;
	ev.listener = &l->base;
	ev.req = &r->base;
	copy_pdata(&ev, info->private_data, (uint8_t)info->private_len);
	evq_push(vf, &ev);
}

static void handle_cm_event(struct verbs_fabric *vf, struct rdma_cm_event *e)
{
	enum ctx_kind *kind = e->id->context;
	struct verbs_qp *q = (kind && *kind == CTX_QP) ? xs_container_of(kind, struct verbs_qp, kind)
						     : NULL;
	struct rdma_conn_param p;
	struct xs_event ev;
	int rc;

	XS_DEBUG(COMP, "cm event %s status %d", rdma_event_str(e->event), e->status);
	memset(&ev, 0, sizeof(ev));
	switch (e->event) {
	case RDMA_CM_EVENT_CONNECT_REQUEST:
		on_connect_request(vf, e);
		return;
	case RDMA_CM_EVENT_ADDR_RESOLVED:
		if (!q)
			return;
		if (rdma_resolve_route(q->id, (int)XS_MAX((int64_t)q->deadline_ms -
							  (int64_t)xs_now_ms(), 100)))
			connect_failed(q, XS_EV_UNREACHABLE, -errno, 0, NULL, 0);
		return;
	case RDMA_CM_EVENT_ROUTE_RESOLVED:
		if (!q)
			return;
		rc = qp_cm_modify(q, q->id, IBV_QPS_INIT);
		conn_param(vf, &p, q->qp->qp_num, q->pdata, q->plen);
		if (rc || rdma_connect(q->id, &p))
			connect_failed(q, XS_EV_UNREACHABLE, rc ? rc : -errno, 0, NULL, 0);
		return;
	case RDMA_CM_EVENT_CONNECT_RESPONSE:
		if (!q)
			return;
		rc = qp_cm_modify(q, q->id, IBV_QPS_RTR);
		if (!rc)
			rc = qp_cm_modify(q, q->id, IBV_QPS_RTS);
		if (!rc && rdma_establish(q->id))
			rc = -errno;
		if (rc) {
			rdma_reject(q->id, NULL, 0);
			connect_failed(q, XS_EV_UNREACHABLE, rc, 0, NULL, 0);
			return;
		}
		q->base.state = XS_QPS_RTS;
		q->deadline_ms = 0;
		ev.type = XS_EV_ESTABLISHED;
		ev.qp = &q->base;
		copy_pdata(&ev, e->param.conn.private_data, e->param.conn.private_data_len);
		evq_push(vf, &ev);
		return;
	case RDMA_CM_EVENT_ESTABLISHED:
		/* the active side already reported it at CONNECT_RESPONSE */
		if (!q || q->base.state == XS_QPS_RTS)
			return;
		rc = qp_cm_modify(q, q->id, IBV_QPS_RTS);
		if (rc) {
			rdma_disconnect(q->id);
			connect_failed(q, XS_EV_UNREACHABLE, rc, 0, NULL, 0);
			return;
		}
		q->base.state = XS_QPS_RTS;
		q->deadline_ms = 0;
		ev.type = XS_EV_ESTABLISHED;
		ev.qp = &q->base;
		copy_pdata(&ev, e->param.conn.private_data, e->param.conn.private_data_len);
		evq_push(vf, &ev);
		return;
	case RDMA_CM_EVENT_REJECTED:
		if (q)
			connect_failed(q, XS_EV_REJECTED, -ECONNREFUSED, (uint16_t)e->status,
				       e->param.conn.private_data, e->param.conn.private_data_len);
		return;
	case RDMA_CM_EVENT_ADDR_ERROR:
	case RDMA_CM_EVENT_ROUTE_ERROR:
	case RDMA_CM_EVENT_UNREACHABLE:
	case RDMA_CM_EVENT_CONNECT_ERROR:
		if (q)
			connect_failed(q, XS_EV_UNREACHABLE,
				       e->event == RDMA_CM_EVENT_UNREACHABLE ? -ETIMEDOUT
									    : -EHOSTUNREACH,
				       0, NULL, 0);
		return;
	case RDMA_CM_EVENT_DISCONNECTED:
		if (!q)
			return;
		qp_to_error(q);
		if (q->base.state == XS_QPS_RTS || q->base.state == XS_QPS_ERROR)
			rdma_disconnect(q->id); /* answer the DREQ */
		q->base.state = XS_QPS_CLOSED;
		ev.type = XS_EV_DISCONNECTED;
		ev.qp = &q->base;
		evq_push(vf, &ev);
		return;
	case RDMA_CM_EVENT_DEVICE_REMOVAL:
		XS_ERR(COMP, "%s: device removed", vf->dev);
		if (q && q->base.state != XS_QPS_CLOSED) {
			q->base.state = XS_QPS_CLOSED;
			ev.type = XS_EV_DISCONNECTED;
			ev.qp = &q->base;
			evq_push(vf, &ev);
		}
		return;
	default:
		return;
	}
}

static void handle_async(struct verbs_fabric *vf, struct ibv_async_event *ae)
{
	struct xs_event ev;

	switch (ae->event_type) {
	case IBV_EVENT_PORT_ACTIVE:
	case IBV_EVENT_PORT_ERR:
	case IBV_EVENT_LID_CHANGE:
	case IBV_EVENT_PKEY_CHANGE:
	case IBV_EVENT_SM_CHANGE:
	case IBV_EVENT_GID_CHANGE:
	case IBV_EVENT_CLIENT_REREGISTER:
		if (ae->element.port_num != vf->port)
			return;
		memset(&ev, 0, sizeof(ev));
		ev.type = XS_EV_PORT_CHANGE;
		if (verbs_query_port(&vf->base, &ev.attr) == 0)
			evq_push(vf, &ev);
		return;
	case IBV_EVENT_QP_FATAL:
	case IBV_EVENT_QP_REQ_ERR:
	case IBV_EVENT_QP_ACCESS_ERR: {
		struct verbs_qp *q = ae->element.qp ? ae->element.qp->qp_context : NULL;

		XS_WARN(COMP, "%s: QP %u: %s", vf->dev, q ? q->base.qpn : 0,
			ibv_event_type_str(ae->event_type));
		if (q)
			q->base.state = XS_QPS_ERROR;
		return;
	}
	default:
		XS_DEBUG(COMP, "%s: async event %s", vf->dev, ibv_event_type_str(ae->event_type));
		return;
	}
}

static void check_deadlines(struct verbs_fabric *vf)
{
	uint64_t now = xs_now_ms(), v;

	if (read(vf->timer_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		XS_DEBUG(COMP, "timerfd read: %s", strerror(errno));
	for (struct verbs_qp *q = vf->qps; q; q = q->next) {
		if (q->base.state != XS_QPS_CONNECTING || !q->deadline_ms || q->deadline_ms > now)
			continue;
		if (q->id) {
			rdma_destroy_id(q->id);
			q->id = NULL;
		}
		connect_failed(q, XS_EV_UNREACHABLE, -ETIMEDOUT, 0, NULL, 0);
	}
	arm_timer(vf);
}

static int verbs_event_fd(struct xs_fabric *f) { return to_vf(f)->epfd; }

static int verbs_get_event(struct xs_fabric *f, struct xs_event *ev)
{
	struct verbs_fabric *vf = to_vf(f);

	for (;;) {
		struct ibv_async_event ae;
		struct rdma_cm_event *ce;
		bool progress = false;

		if (evq_pop(vf, ev) == 0)
			return 0;
		if (ibv_get_async_event(vf->ctx, &ae) == 0) {
			handle_async(vf, &ae);
			ibv_ack_async_event(&ae);
			progress = true;
		}
		if (rdma_get_cm_event(vf->cm_ch, &ce) == 0) {
			handle_cm_event(vf, ce);
			rdma_ack_cm_event(ce);
			progress = true;
		}
		if (!progress) {
			check_deadlines(vf);
			return evq_pop(vf, ev);
		}
	}
}

/* ------------------------------------------------------------------ MADs */

static struct xs_mad_agent *verbs_agent_register(struct xs_fabric *f, uint8_t mgmt_class,
						 uint8_t class_version, const uint8_t oui[3],
						 unsigned int flags)
{
	struct verbs_fabric *vf = to_vf(f);

	if (!vf->umad) {
		vf->umad = xs_umad_port_open(vf->dev, vf->port, vf->gid_index);
		if (!vf->umad)
			return NULL;
	}
	return xs_umad_agent_register(vf->umad, f, mgmt_class, class_version, oui, flags);
}

/* ------------------------------------------------------------ open/close */

static int epoll_add(int epfd, int fd)
{
	struct epoll_event e = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) < 0 ? -errno : 0;
}

static struct xs_fabric *verbs_open(const char *args, const struct xs_fabric_opts *opts)
{
	struct ibv_device **list;
	struct ibv_device *dev = NULL;
	struct ibv_device_attr da;
	struct ibv_port_attr pa;
	struct verbs_fabric *vf;
	char name[64];
	int n = 0, port, err;

	err = xs_umad_parse_spec("verbs", args, name, sizeof(name), &port);
	if (err < 0) {
		errno = -err;
		return NULL;
	}
	list = ibv_get_device_list(&n);
	if (!list || n == 0) {
		XS_ERR(COMP, "no RDMA device found (ibv_get_device_list returned 0 devices); use "
		       "the soft fabric (spec \"soft\", daemon xs-fabricd) on machines without "
		       "RDMA hardware");
		if (list)
			ibv_free_device_list(list);
		errno = ENODEV;
		return NULL;
	}
	for (int i = 0; i < n && !dev; i++)
		if (!name[0] || strcmp(ibv_get_device_name(list[i]), name) == 0)
			dev = list[i];
	if (!dev) {
		XS_ERR(COMP, "no RDMA device named '%s' (%d device%s found)", name, n,
		       n == 1 ? "" : "s");
		ibv_free_device_list(list);
		errno = ENODEV;
		return NULL;
	}
	vf = calloc(1, sizeof(*vf));
	if (!vf) {
		ibv_free_device_list(list);
		return NULL;
	}
	vf->epfd = vf->q_efd = vf->timer_fd = -1;
	snprintf(vf->dev, sizeof(vf->dev), "%s", ibv_get_device_name(dev));
	if (opts && opts->size >= offsetof(struct xs_fabric_opts, gid_index) + sizeof(int))
		vf->gid_index = opts->gid_index;
	vf->ctx = ibv_open_device(dev);
	ibv_free_device_list(list);
	if (!vf->ctx) {
		err = errno ? errno : ENODEV;
		XS_ERR(COMP, "cannot open %s: %s", vf->dev, strerror(err));
		goto err_free;
	}
	err = ibv_query_device(vf->ctx, &da);
	if (err)
		goto err_close_dev;
	if (port == 0) {
		port = 1;
		for (int p = 1; p <= da.phys_port_cnt; p++)
			if (ibv_query_port(vf->ctx, (uint8_t)p, &pa) == 0 &&
			    pa.state == IBV_PORT_ACTIVE) {
				port = p;
				break;
			}
	}
	if (port > da.phys_port_cnt || ibv_query_port(vf->ctx, (uint8_t)port, &pa)) {
		XS_ERR(COMP, "%s has no port %d (%u port%s)", vf->dev, port, da.phys_port_cnt,
		       da.phys_port_cnt == 1 ? "" : "s");
		err = ENODEV;
		goto err_close_dev;
	}
	vf->port = (uint8_t)port;
	vf->ll = pa.link_layer == IBV_LINK_LAYER_ETHERNET ? XS_LINK_ETHERNET : XS_LINK_IB;
	vf->rd_atom = (uint8_t)XS_MIN(da.max_qp_rd_atom, 16);

	vf->cm_ch = rdma_create_event_channel();
	if (!vf->cm_ch) {
		err = errno ? errno : ENODEV;
		XS_ERR(COMP, "rdma_create_event_channel: %s (is rdma_ucm loaded?)", strerror(err));
		goto err_close_dev;
	}
	vf->epfd = epoll_create1(EPOLL_CLOEXEC);
	vf->q_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	vf->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (vf->epfd < 0 || vf->q_efd < 0 || vf->timer_fd < 0) {
		err = errno;
		goto err_fds;
	}
	err = -set_nonblock(vf->cm_ch->fd);
	if (!err)
		err = -set_nonblock(vf->ctx->async_fd);
	if (!err)
		err = -epoll_add(vf->epfd, vf->cm_ch->fd);
	if (!err)
		err = -epoll_add(vf->epfd, vf->ctx->async_fd);
	if (!err)
		err = -epoll_add(vf->epfd, vf->q_efd);
	if (!err)
		err = -epoll_add(vf->epfd, vf->timer_fd);
	if (err)
		goto err_fds;
	XS_DEBUG(COMP, "opened %s port %u (%s)", vf->dev, vf->port,
		 vf->ll == XS_LINK_ETHERNET ? "RoCE" : "InfiniBand");
	return &vf->base;

err_fds:
	if (vf->timer_fd >= 0)
		close(vf->timer_fd);
	if (vf->q_efd >= 0)
		close(vf->q_efd);
	if (vf->epfd >= 0)
		close(vf->epfd);
	rdma_destroy_event_channel(vf->cm_ch);
err_close_dev:
	ibv_close_device(vf->ctx);
err_free:
	free(vf);
	errno = err;
	return NULL;
}

static void verbs_close(struct xs_fabric *f)
{
	struct verbs_fabric *vf = to_vf(f);

	/* what the caller left open goes with the fabric (the event
	 * channel can't be destroyed while ids use it) */
	while (vf->listeners)
		verbs_cm_listener_close(&vf->listeners->base);
	while (vf->qps)
		if (verbs_qp_destroy(&vf->qps->base) < 0)
			break;
	xs_umad_port_close(vf->umad);
	close(vf->timer_fd);
	close(vf->q_efd);
	close(vf->epfd);
	rdma_destroy_event_channel(vf->cm_ch);
	ibv_close_device(vf->ctx);
	free(vf);
}

const struct xs_fabric_ops xs_verbs_ops = {
	.name = "verbs",
	.open = verbs_open,
	.close = verbs_close,
	.query_port = verbs_query_port,
	.event_fd = verbs_event_fd,
	.get_event = verbs_get_event,
	.pd_alloc = verbs_pd_alloc,
	.pd_free = verbs_pd_free,
	.mr_reg = verbs_mr_reg,
	.mr_dereg = verbs_mr_dereg,
	.cq_create = verbs_cq_create,
	.cq_destroy = verbs_cq_destroy,
	.cq_fd = verbs_cq_fd,
	.cq_poll = verbs_cq_poll,
	.qp_create = verbs_qp_create,
	.qp_destroy = verbs_qp_destroy,
	.post_send = verbs_post_send,
	.post_recv = verbs_post_recv,
	.cm_listen = verbs_cm_listen,
	.cm_listener_close = verbs_cm_listener_close,
	.qp_connect = verbs_qp_connect,
	.qp_accept = verbs_qp_accept,
	.cm_reject = verbs_cm_reject,
	.qp_disconnect = verbs_qp_disconnect,
	.mad_agent_register = verbs_agent_register,
	.mad_agent_unregister = xs_umad_agent_unregister,
	.mad_agent_fd = xs_umad_agent_fd,
	.mad_send = xs_umad_mad_send,
	.mad_recv = xs_umad_mad_recv,
};
