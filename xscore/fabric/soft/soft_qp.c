/* SPDX-License-Identifier: MIT */
/*
 * soft_qp.c - the soft backend's data path: PDs, MRs with keys, CQs with an
 * eventfd, and RC QPs over a SOCK_SEQPACKET socketpair.
 *
 * A connection carries records (struct xs_soft_dhdr + payload, at most
 * XS_SOFT_SEG bytes of payload each). Requests (SEND, RDMA WRITE, READ_REQ)
 * are numbered; the receiver counts the requests it has executed and
 * returns that count in the ack field of every record it sends, or in a
 * standalone ACK (asked for by a signaled WR, every 16 requests, or 1 ms
 * after the last unacknowledged one). A SEND or WRITE completes when acked,
 * a READ when its response has landed: completions keep posting order.
 * The receiver reads a record's header with MSG_PEEK first, then reads the
 * payload straight into its destination (posted receive buffers, MR memory)
 * with one recvmsg. A SEND with no receive posted stops the reading
 * (backpressure); after SOFT_RNR_MS the receiver NAKs it and the requester's
 * WR completes with XS_WC_RNR_RETRY_EXC_ERR. Errors end the connection: the
 * side that finds one sends a NAK and closes; both flush.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <xscore/log.h>

#include "soft_int.h"

#define MAX_SGE 30
#define MAX_IOV (MAX_SGE + 2)

/* ------------------------------------------------------------- PD, MR */

struct xs_pd *soft_pd_alloc(struct xs_fabric *f)
{
	struct soft_pd *pd = calloc(1, sizeof(*pd));

	if (!pd)
		return NULL;
	pd->base.fabric = f;
	return &pd->base;
}

int soft_pd_free(struct xs_pd *pd)
{
	free(xs_container_of(pd, struct soft_pd, base));
	return 0;
}

struct xs_mr *soft_mr_reg(struct xs_pd *pd, void *addr, size_t len, int access)
{
	struct soft_fabric *f = to_sf(pd->fabric);
	struct soft_mr *mr = calloc(1, sizeof(*mr));
	uint32_t idx;

	if (!mr)
		return NULL;
	if (len > SOFT_MAX_MSG * (size_t)4) {
		free(mr);
		errno = EINVAL;
		return NULL;
	}
	mr->base.pd = pd;
	mr->base.addr = addr;
	mr->base.len = len;
	mr->base.access = access;
	pthread_rwlock_wrlock(&f->mr_lock);
	for (idx = 1; idx < f->n_mrs; idx++)
		if (!f->mrs[idx])
			break;
	if (idx >= f->n_mrs) {
		uint32_t n = f->n_mrs ? f->n_mrs * 2 : 64;
		struct soft_mr **t;

		if (n > (1u << 24)) {
			pthread_rwlock_unlock(&f->mr_lock);
			free(mr);
			errno = ENOSPC;
			return NULL;
		}
		t = realloc(f->mrs, n * sizeof(*t));
		if (!t) {
			pthread_rwlock_unlock(&f->mr_lock);
			free(mr);
			errno = ENOMEM;
			return NULL;
		}
		memset(t + f->n_mrs, 0, (n - f->n_mrs) * sizeof(*t));
		f->mrs = t;
		idx = f->n_mrs ? f->n_mrs : 1;
		f->n_mrs = n;
	}
	mr->idx = idx;
	mr->base.lkey = mr->base.rkey = idx << 8 | (f->mr_gen++ & 0xff);
	f->mrs[idx] = mr;
	pthread_rwlock_unlock(&f->mr_lock);
	return &mr->base;
}

int soft_mr_dereg(struct xs_mr *xmr)
{
	struct soft_fabric *f = to_sf(xmr->pd->fabric);
	struct soft_mr *mr = to_smr(xmr);

	pthread_rwlock_wrlock(&f->mr_lock);
	if (mr->idx < f->n_mrs && f->mrs[mr->idx] == mr)
		f->mrs[mr->idx] = NULL;
	pthread_rwlock_unlock(&f->mr_lock);
	free(mr);
	return 0;
}

/* f->mr_lock held (read). */
static struct soft_mr *mr_lookup(struct soft_fabric *f, uint32_t key)
{
	uint32_t idx = key >> 8;
	struct soft_mr *mr;

	if (!idx || idx >= f->n_mrs)
		return NULL;
	mr = f->mrs[idx];
	return mr && mr->base.lkey == key ? mr : NULL;
}

static bool mr_covers(const struct soft_mr *mr, uint64_t addr, uint64_t len)
{
	uint64_t base = (uint64_t)(uintptr_t)mr->base.addr;

	return addr >= base && len <= mr->base.len && addr - base <= mr->base.len - len;
}

/* Check local SGEs: keys, bounds, PD, access. Returns the total length or
 * -EINVAL/-EFAULT (protection) / -EMSGSIZE. */
static int64_t sge_check(struct soft_qp *qp, const struct xs_sge *sge, int n, int need_access)
{
	struct soft_fabric *f = qp->f;
	uint64_t total = 0;
	int rc = 0;

	pthread_rwlock_rdlock(&f->mr_lock);
	for (int i = 0; i < n; i++) {
		struct soft_mr *mr;

		total += sge[i].length;
		if (!sge[i].length)
			continue;
		mr = mr_lookup(f, sge[i].lkey);
		if (!mr || mr->base.pd != qp->base.attr.pd ||
		    !mr_covers(mr, sge[i].addr, sge[i].length) ||
		    (mr->base.access & need_access) != need_access) {
			rc = -EFAULT;
			break;
		}
	}
	pthread_rwlock_unlock(&f->mr_lock);
	if (rc)
		return rc;
	if (total > SOFT_MAX_MSG)
		return -EMSGSIZE;
	return (int64_t)total;
}

/* ------------------------------------------------------------------ CQ */

struct xs_cq *soft_cq_create(struct xs_fabric *xf, int depth)
{
	struct soft_fabric *f = to_sf(xf);
	struct soft_cq *cq = calloc(1, sizeof(*cq));

	if (!cq)
		return NULL;
	cq->ring = calloc((size_t)depth, sizeof(*cq->ring));
	if (!cq->ring)
		goto err_free;
	cq->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (cq->evfd < 0)
		goto err_ring;
	cq->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (cq->epfd < 0)
		goto err_evfd;
	{
		struct epoll_event ee = { .events = EPOLLIN, .data.u64 = 0 };

		if (epoll_ctl(cq->epfd, EPOLL_CTL_ADD, cq->evfd, &ee) < 0)
			goto err_epfd;
	}
	pthread_mutex_init(&cq->lock, NULL);
	pthread_mutex_init(&cq->qlock, NULL);
	cq->base.fabric = xf;
	cq->base.depth = depth;
	pthread_mutex_lock(&f->lock);
	cq->next = f->cqs;
	f->cqs = cq;
	pthread_mutex_unlock(&f->lock);
	return &cq->base;

err_epfd:
	close(cq->epfd);
err_evfd:
	close(cq->evfd);
err_ring:
	free(cq->ring);
err_free:
	free(cq);
	return NULL;
}

int soft_cq_destroy(struct xs_cq *xcq)
{
	struct soft_fabric *f = to_sf(xcq->fabric);
	struct soft_cq *cq = to_scq(xcq);

	pthread_mutex_lock(&f->lock);
	for (uint32_t i = 0; i < f->n_qps; i++) {
		struct soft_qp *qp = f->qps[i];

		if (qp && (qp->base.attr.send_cq == xcq || qp->base.attr.recv_cq == xcq)) {
			pthread_mutex_unlock(&f->lock);
			return -EBUSY;
		}
	}
	for (struct soft_cq **pp = &f->cqs; *pp; pp = &(*pp)->next)
		if (*pp == cq) {
			*pp = cq->next;
			break;
		}
	pthread_mutex_unlock(&f->lock);
	close(cq->epfd);
	close(cq->evfd);
	pthread_mutex_destroy(&cq->qlock);
	pthread_mutex_destroy(&cq->lock);
	free(cq->qps);
	free(cq->ring);
	free(cq);
	return 0;
}

int soft_cq_fd(struct xs_cq *cq) { return to_scq(cq)->epfd; }

/* The CQ the calling thread is polling: completions it produces itself need
 * no wake-up through the eventfd, and once it has one the thread stops
 * reading (the caller drains the CQ until empty and comes back). */
static __thread struct soft_cq *tls_polling;
static __thread int tls_pushed, tls_want;
static __thread bool tls_stream;

void soft_cq_push(struct soft_cq *cq, const struct xs_wc *wc)
{
	pthread_mutex_lock(&cq->lock);
	if (cq->count == cq->base.depth) {
		if (!cq->overflows++)
			XS_ERR(SOFT_COMP, "CQ of depth %d overflowed: completions are being lost",
			       cq->base.depth);
	} else {
		cq->ring[(cq->head + cq->count) % cq->base.depth] = *wc;
		cq->count++;
	}
	/* the fd is written only when the CQ turns non-empty */
	if (tls_polling == cq)
		tls_pushed++;
	else if (!cq->signaled) {
		uint64_t one = 1;
		ssize_t n = write(cq->evfd, &one, sizeof(one));

		(void)n;
		cq->signaled = true;
	}
	pthread_mutex_unlock(&cq->lock);
}

static int cq_take(struct soft_cq *cq, struct xs_wc *wc, int n)
{
	int got = 0;

	pthread_mutex_lock(&cq->lock);
	while (got < n && cq->count) {
		wc[got++] = cq->ring[cq->head];
		cq->head = (cq->head + 1) % cq->base.depth;
		cq->count--;
	}
	if (!cq->count && cq->signaled) {
		uint64_t v;
		ssize_t r = read(cq->evfd, &v, sizeof(v));

		(void)r;
		cq->signaled = false;
	}
	pthread_mutex_unlock(&cq->lock);
	return got;
}

/* Make progress on the CQ's QPs from the polling thread. Returns true when
 * that produced a completion for this CQ. */
static bool cq_progress(struct soft_cq *cq, int want, bool stream)
{
	int pushed;

	pthread_mutex_lock(&cq->qlock);
	tls_polling = cq;
	tls_pushed = 0;
	tls_want = want;
	tls_stream = stream;
	for (int i = 0; i < cq->n_qps && !tls_pushed; i++) {
		struct soft_qp *qp = cq->qps[i];

		if (qp->sock < 0 || pthread_mutex_trylock(&qp->lock) != 0)
			continue;
		if (qp->sock >= 0)
			soft_qp_io(qp, EPOLLIN | (qp->tx_blocked ? EPOLLOUT : 0));
		pthread_mutex_unlock(&qp->lock);
	}
	pushed = tls_pushed;
	tls_polling = NULL;
	pthread_mutex_unlock(&cq->qlock);
	return pushed > 0;
}

int soft_cq_poll(struct xs_cq *xcq, struct xs_wc *wc, int n)
{
	struct soft_cq *cq = to_scq(xcq);
	uint64_t now = xs_now_us();
	bool stream;
	int got;

	__atomic_store_n(&cq->last_poll_ms, now / 1000, __ATOMIC_RELAXED);
	/* back within 2 us of finding the CQ empty: the caller's wait didn't
	 * sleep, data is streaming in - read on rather than one at a time */
	stream = cq->empty_at_us && now - cq->empty_at_us < 2;
	got = cq_take(cq, wc, n);
	if (got == n || n == 0)
		return got;
	/*
	 * Right after a call that read a record from a socket, the caller is
	 * draining and will wait on the CQ fd next: that wait returns at once
	 * if more data came (the sockets are in the fd's epoll set), so it can
	 * be the probe and this call needn't try a read that would most likely
	 * find nothing.
	 */
	if (!got && cq->skip_probe && !stream) {
		cq->skip_probe = false;
		cq->empty_at_us = now;
		return 0;
	}
	cq->skip_probe = cq_progress(cq, n - got, stream);
	got += cq_take(cq, wc + got, n - got);
	cq->empty_at_us = got ? 0 : xs_now_us();
	return got;
}

static int cq_attach_qp(struct soft_cq *cq, struct soft_qp *qp)
{
	pthread_mutex_lock(&cq->qlock);
	if (cq->n_qps == cq->cap_qps) {
		int n = cq->cap_qps ? cq->cap_qps * 2 : 8;
		struct soft_qp **t = realloc(cq->qps, (size_t)n * sizeof(*t));

		if (!t) {
			pthread_mutex_unlock(&cq->qlock);
			return -ENOMEM;
		}
		cq->qps = t;
		cq->cap_qps = n;
	}
	cq->qps[cq->n_qps++] = qp;
	pthread_mutex_unlock(&cq->qlock);
	return 0;
}

static void cq_detach_qp(struct soft_cq *cq, struct soft_qp *qp)
{
	pthread_mutex_lock(&cq->qlock);
	for (int i = 0; i < cq->n_qps; i++)
		if (cq->qps[i] == qp) {
			cq->qps[i] = cq->qps[--cq->n_qps];
			break;
		}
	pthread_mutex_unlock(&cq->qlock);
}

/* ------------------------------------------------------------ QP basics */

struct soft_qp *soft_qp_lookup(struct soft_fabric *f, uint32_t qpn)
{
	uint32_t idx = qpn - SOFT_QPN_BASE;

	return qpn >= SOFT_QPN_BASE && idx < f->n_qps ? f->qps[idx] : NULL;
}

static inline struct sq_ent *sq_at(struct soft_qp *qp, uint32_t n)
{
	return &qp->sq[n % qp->sq_size];
}

static inline struct rq_ent *rq_at(struct soft_qp *qp, uint32_t n)
{
	return &qp->rq[n % qp->rq_size];
}

static void cq_epoll_set(struct soft_qp *qp, unsigned int want)
{
	struct soft_cq *r = to_scq(qp->base.attr.recv_cq), *s = to_scq(qp->base.attr.send_cq);
	struct epoll_event ee = { .events = want,
				  .data.u64 = (uint64_t)SOFT_TAG_QP << 32 | qp->base.qpn };
	int op = !want ? EPOLL_CTL_DEL : qp->cq_events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

	if (want == qp->cq_events)
		return;
	if (epoll_ctl(r->epfd, op, qp->sock, &ee) < 0 ||
	    (s != r && epoll_ctl(s->epfd, op, qp->sock, &ee) < 0)) {
		XS_ERR(SOFT_COMP, "QP 0x%x: CQ epoll_ctl: %s", qp->base.qpn, strerror(errno));
		return;
	}
	qp->cq_events = want;
}

void soft_epoll_update(struct soft_qp *qp)
{
	struct epoll_event ee;
	unsigned int want;

	if (qp->sock < 0)
		return;
	/* the application's side: everything but a blocked receive */
	cq_epoll_set(qp, EPOLLRDHUP | (qp->rnr_blocked ? 0 : EPOLLIN) |
				 (qp->tx_blocked ? EPOLLOUT : 0));
	/* the progress thread's side: all of it unless the application polls */
	want = EPOLLRDHUP;
	if (!qp->pt_disarmed)
		want |= (qp->rnr_blocked ? 0 : EPOLLIN) | (qp->tx_blocked ? EPOLLOUT : 0);
	if (want == qp->ep_events)
		return;
	ee.events = want;
	ee.data.u64 = (uint64_t)SOFT_TAG_QP << 32 | qp->base.qpn;
	if (epoll_ctl(qp->f->epfd, qp->ep_events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, qp->sock,
		      &ee) < 0) {
		XS_ERR(SOFT_COMP, "QP 0x%x: epoll_ctl: %s", qp->base.qpn, strerror(errno));
		return;
	}
	qp->ep_events = want;
}

static void push_wc(struct soft_qp *qp, bool send_side, uint64_t wr_id, enum xs_wc_status st,
		    enum xs_wc_opcode op, uint32_t len, bool has_imm, uint32_t imm)
{
	struct xs_wc wc = {
		.wr_id = wr_id,
		.status = st,
		.opcode = op,
		.byte_len = len,
		.imm_data = imm,
		.has_imm = has_imm,
		.qp = &qp->base,
	};

	soft_cq_push(to_scq(send_side ? qp->base.attr.send_cq : qp->base.attr.recv_cq), &wc);
}

static enum xs_wc_opcode wc_op(uint8_t wr_op)
{
	switch (wr_op) {
	case XS_WR_RDMA_WRITE: return XS_WC_RDMA_WRITE;
	case XS_WR_RDMA_READ: return XS_WC_RDMA_READ;
	default: return XS_WC_SEND;
	}
}

/* Complete finished send WRs from the head, in order. */
static void sq_complete(struct soft_qp *qp)
{
	while (qp->sq_head != qp->sq_tail) {
		struct sq_ent *e = sq_at(qp, qp->sq_head);

		if (!e->done)
			break;
		if (e->signaled || e->status != XS_WC_SUCCESS)
			push_wc(qp, true, e->wr_id, e->status, wc_op(e->opcode),
				e->status == XS_WC_SUCCESS ? e->total : 0, false, 0);
		qp->sq_head++;
	}
}

static void rq_flush(struct soft_qp *qp)
{
	while (qp->rq_head != qp->rq_tail) {
		struct rq_ent *r = rq_at(qp, qp->rq_head++);

		push_wc(qp, false, r->wr_id, XS_WC_WR_FLUSH_ERR, XS_WC_RECV, 0, false, 0);
	}
}

void soft_qp_conn_lost(struct soft_qp *qp, enum xs_qp_state state)
{
	struct soft_fabric *f = qp->f;

	/* the state first: a completion seen by another thread implies it */
	qp->base.state = state;
	if (qp->sock >= 0) {
		char b;

		epoll_ctl(f->epfd, EPOLL_CTL_DEL, qp->sock, NULL);
		cq_epoll_set(qp, 0);
		shutdown(qp->sock, SHUT_RDWR);
		/* Closing with unread records would make the peer's next read fail
		 * with ECONNRESET before it sees what we sent last (a NAK): drain. */
		for (int i = 0; i < 100000; i++) {
			ssize_t r = recv(qp->sock, &b, 1, MSG_DONTWAIT | MSG_TRUNC);

			if (r <= 0 && !(r < 0 && errno == EINTR))
				break;
		}
		close(qp->sock);
		qp->sock = -1;
		qp->ep_events = 0;
	}
	while (qp->rr_head) {
		struct rresp *r = qp->rr_head;

		qp->rr_head = r->next;
		free(r);
	}
	qp->rr_tail = NULL;
	for (uint32_t i = qp->sq_head; i != qp->sq_tail; i++) {
		struct sq_ent *e = sq_at(qp, i);

		if (!e->done) {
			e->done = true;
			e->status = e->has_status ? e->status : XS_WC_WR_FLUSH_ERR;
		}
	}
	qp->sq_tx = qp->sq_tail;
	sq_complete(qp);
	rq_flush(qp);
	qp->rx_send_active = false;
	qp->rnr_blocked = false;
	qp->tx_blocked = false;
	qp->pend = false;
	qp->pt_disarmed = false;
	qp->cq_events = 0;
	qp->ack_deadline = 0;
	if (qp->connected_once && !qp->disc_reported) {
		struct xs_event ev = { .type = XS_EV_DISCONNECTED, .qp = &qp->base };

		qp->disc_reported = true;
		soft_push_event(f, &ev);
	}
}

/* Tell the peer why we end the connection (best effort, bounded), then end it. */
static void qp_nak_and_fail(struct soft_qp *qp, uint32_t msn, enum xs_wc_status st,
			    const char *why)
{
	struct xs_soft_dhdr h = { .op = XS_SOFT_DOP_NAK, .status = (uint16_t)st, .msn = msn };

	XS_WARN(SOFT_COMP, "QP 0x%x: %s: the connection goes to the error state", qp->base.qpn,
		why);
	if (qp->sock >= 0) {
		struct pollfd p = { .fd = qp->sock, .events = POLLOUT };

		h.ack = qp->rx_done;
		if (send(qp->sock, &h, sizeof(h), MSG_DONTWAIT | MSG_NOSIGNAL) < 0 &&
		    errno == EAGAIN && poll(&p, 1, 100) > 0)
			send(qp->sock, &h, sizeof(h), MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	/* the receive in progress (if any) failed with the message */
	soft_qp_conn_lost(qp, XS_QPS_ERROR);
}

/* ------------------------------------------------------------ sending */

static int build_iov(const struct xs_sge *sge, int nsge, uint64_t off, uint32_t len,
		     struct iovec *iov, int max)
{
	int n = 0;

	for (int i = 0; i < nsge && len; i++) {
		uint64_t l = sge[i].length;

		if (off >= l) {
			off -= l;
			continue;
		}
		if (n == max)
			return -1;
		iov[n].iov_base = (void *)(uintptr_t)(sge[i].addr + off);
		iov[n].iov_len = XS_MIN(l - off, (uint64_t)len);
		len -= (uint32_t)iov[n].iov_len;
		off = 0;
		n++;
	}
	return len ? -1 : n;
}

/* One record: header (ack filled in) + iov. 0, -EAGAIN or -errno. */
static int send_rec(struct soft_qp *qp, struct xs_soft_dhdr *h, struct iovec *iov, int n)
{
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)n + 1 };
	ssize_t r;

	h->ack = qp->rx_done;
	iov[0].iov_base = h;
	iov[0].iov_len = sizeof(*h);
	do
		r = sendmsg(qp->sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	qp->ack_sent = h->ack;
	if (qp->ack_sent == qp->rx_done) {
		qp->ack_now = false;
		qp->ack_deadline = 0;
	}
	return 0;
}

static int send_rresp(struct soft_qp *qp, struct rresp *r)
{
	struct soft_fabric *f = qp->f;
	struct iovec iov[2];
	struct xs_soft_dhdr h;
	int rc;

	do {
		uint32_t len = XS_MIN((uint32_t)XS_SOFT_SEG, r->len - r->sent);
		struct soft_mr *mr;

		memset(&h, 0, sizeof(h));
		h.op = XS_SOFT_DOP_READ_RESP;
		h.flags = (r->sent == 0 ? XS_SOFT_F_FIRST : 0) |
			  (r->sent + len == r->len ? XS_SOFT_F_LAST : 0);
		if (r->sent + len < r->len || r->next || qp->sq_tx != qp->sq_tail)
			h.flags |= XS_SOFT_F_MORE;
		h.msn = r->msn;
		h.len = len;
		h.total = r->len;
		pthread_rwlock_rdlock(&f->mr_lock);
		mr = mr_lookup(f, r->rkey);
		if (!mr || !mr_covers(mr, r->raddr + r->sent, len)) {
			pthread_rwlock_unlock(&f->mr_lock);
			return -EFAULT; /* deregistered meanwhile */
		}
		iov[1].iov_base = (void *)(uintptr_t)(r->raddr + r->sent);
		iov[1].iov_len = len;
		rc = send_rec(qp, &h, iov, 1);
		pthread_rwlock_unlock(&f->mr_lock);
		if (rc < 0)
			return rc;
		r->sent += len;
	} while (r->sent < r->len);
	return 0;
}

static int send_wr(struct soft_qp *qp, struct sq_ent *e)
{
	struct iovec iov[MAX_IOV];
	struct xs_soft_dhdr h;
	bool half_full = qp->sq_tail - qp->sq_head >= qp->sq_size / 2;
	int rc, n;

	memset(&h, 0, sizeof(h));
	h.msn = e->msn;
	h.rkey = e->rkey;
	if (e->opcode == XS_WR_RDMA_READ) {
		h.op = XS_SOFT_DOP_READ_REQ;
		h.flags = XS_SOFT_F_FIRST | XS_SOFT_F_LAST |
			  (qp->sq_tx + 1 != qp->sq_tail ? XS_SOFT_F_MORE : 0);
		h.raddr = e->raddr;
		h.total = e->total;
		rc = send_rec(qp, &h, iov, 0);
		if (rc == 0)
			e->sent = e->total;
		return rc;
	}
	h.op = e->opcode == XS_WR_RDMA_WRITE ? XS_SOFT_DOP_WRITE : XS_SOFT_DOP_SEND;
	h.total = e->total;
	do {
		uint32_t len = XS_MIN((uint32_t)XS_SOFT_SEG, e->total - e->sent);
		bool last = e->sent + len == e->total;

		h.len = len;
		h.raddr = e->raddr + e->sent;
		h.flags = (e->sent == 0 ? XS_SOFT_F_FIRST : 0) | (last ? XS_SOFT_F_LAST : 0);
		if (last && e->has_imm) {
			h.flags |= XS_SOFT_F_IMM;
			h.imm = e->imm;
		}
		if (last && (e->signaled || half_full))
			h.flags |= XS_SOFT_F_ACKREQ;
		if (!last || qp->sq_tx + 1 != qp->sq_tail)
			h.flags |= XS_SOFT_F_MORE;
		if (e->is_inline) {
			iov[1].iov_base = e->inl + e->sent;
			iov[1].iov_len = len;
			n = len ? 1 : 0;
		} else {
			n = build_iov(e->sge, e->nsge, e->sent, len, iov + 1, MAX_IOV - 1);
			if (n < 0)
				return -EINVAL;
		}
		rc = send_rec(qp, &h, iov, n);
		if (rc < 0)
			return rc;
		e->sent += len;
	} while (e->sent < e->total);
	return 0;
}

/* Put whatever is pending on the socket until it is full. qp->lock held. */
static int qp_pump(struct soft_qp *qp)
{
	int rc = 0;

	if (qp->sock < 0)
		return -ENOTCONN;
	for (;;) {
		if (qp->rr_head) {
			struct rresp *r = qp->rr_head;

			rc = send_rresp(qp, r);
			if (rc < 0)
				break;
			qp->rr_head = r->next;
			if (!qp->rr_head)
				qp->rr_tail = NULL;
			free(r);
		} else if (qp->sq_tx != qp->sq_tail) {
			rc = send_wr(qp, sq_at(qp, qp->sq_tx));
			if (rc < 0)
				break;
			qp->sq_tx++;
		} else if (qp->ack_now && qp->ack_sent != qp->rx_done) {
			struct xs_soft_dhdr h = { .op = XS_SOFT_DOP_ACK };
			struct iovec iov[1];

			rc = send_rec(qp, &h, iov, 0);
			if (rc < 0)
				break;
		} else {
			qp->ack_now = false;
			break;
		}
	}
	if (rc == -EFAULT) {
		qp_nak_and_fail(qp, qp->rr_head ? qp->rr_head->msn : 0, XS_WC_REM_ACCESS_ERR,
				"RDMA READ source deregistered");
		return rc;
	}
	qp->tx_blocked = rc == -EAGAIN;
	soft_epoll_update(qp);
	return rc;
}

/* ------------------------------------------------------------ receiving */

static void on_ack(struct soft_qp *qp, uint32_t ack)
{
	for (uint32_t i = qp->sq_head; i != qp->sq_tx; i++) {
		struct sq_ent *e = sq_at(qp, i);

		if ((int32_t)(e->msn - ack) >= 0)
			break;
		if (!e->done && e->opcode != XS_WR_RDMA_READ) {
			e->done = true;
			e->status = XS_WC_SUCCESS;
		}
	}
}

static void on_nak(struct soft_qp *qp, const struct xs_soft_dhdr *h)
{
	enum xs_wc_status st = (enum xs_wc_status)h->status;

	for (uint32_t i = qp->sq_head; i != qp->sq_tail; i++) {
		struct sq_ent *e = sq_at(qp, i);

		if (e->done)
			continue;
		if (e->msn == h->msn) {
			e->done = true;
			e->has_status = true;
			e->status = st;
			break;
		}
	}
	XS_WARN(SOFT_COMP, "QP 0x%x: peer refused request %u: %s", qp->base.qpn, h->msn,
		xs_wc_status_str(st));
	soft_qp_conn_lost(qp, XS_QPS_ERROR);
}

/*
 * Reading records. Normally the header is peeked and the payload read
 * straight into its destination. While records are small (the last one
 * carried <= SOFT_SMALL bytes) a whole record is read at once into the
 * QP's bounce buffer and copied: one system call instead of two. A record
 * read that way which can't be placed yet (a SEND with no receive posted)
 * stays pending in the bounce buffer.
 */
/* "The payload is already where it belongs" (a speculative SEND read). */
static const uint8_t placed_marker;
#define PRE_PLACED (&placed_marker)

static int read_rec(struct soft_qp *qp, struct xs_soft_dhdr *h, struct iovec *iov, int n,
		    const uint8_t *pre)
{
	struct msghdr mh = { .msg_iov = iov + 1, .msg_iovlen = (size_t)n };
	ssize_t r;

	if (pre == PRE_PLACED)
		return 0;
	if (pre) {
		size_t off = 0;

		for (int i = 1; i <= n; i++) {
			memcpy(iov[i].iov_base, pre + off, iov[i].iov_len);
			off += iov[i].iov_len;
		}
		return off == h->len ? 0 : -EPROTO;
	}
	mh.msg_iov = iov;
	mh.msg_iovlen = (size_t)n + 1;
	iov[0].iov_base = h;
	iov[0].iov_len = sizeof(*h);
	do
		r = recvmsg(qp->sock, &mh, MSG_DONTWAIT);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if ((size_t)r != sizeof(*h) + h->len || (mh.msg_flags & MSG_TRUNC))
		return -EPROTO;
	return 0;
}

static void discard_rec(struct soft_qp *qp, const uint8_t *pre)
{
	struct xs_soft_dhdr h;

	if (!pre && recv(qp->sock, &h, sizeof(h), MSG_DONTWAIT) < 0)
		XS_DEBUG(SOFT_COMP, "QP 0x%x: discard: %s", qp->base.qpn, strerror(errno));
}

enum rx_result { RX_OK, RX_STOP, RX_DEAD };

static enum rx_result rx_send(struct soft_qp *qp, struct xs_soft_dhdr *h, const uint8_t *pre)
{
	struct iovec iov[MAX_IOV];
	struct rq_ent *r;
	int n;

	if (!qp->rx_send_active) {
		if (!(h->flags & XS_SOFT_F_FIRST)) {
			qp_nak_and_fail(qp, h->msn, XS_WC_REM_INV_REQ_ERR, "SEND without a start");
			return RX_DEAD;
		}
		if (qp->rq_head == qp->rq_tail) {
			/* receiver not ready: stop reading, start the RNR clock */
			if (pre) {
				qp->pend = true;
				qp->pend_hdr = *h;
			}
			if (!qp->rnr_blocked) {
				qp->rnr_blocked = true;
				qp->rnr_since = xs_now_ms();
				soft_epoll_update(qp);
			}
			return RX_STOP;
		}
		r = rq_at(qp, qp->rq_head);
		if (h->total > r->cap) {
			discard_rec(qp, pre);
			qp->rq_head++;
			push_wc(qp, false, r->wr_id, XS_WC_LOC_LEN_ERR, XS_WC_RECV, 0, false, 0);
			qp_nak_and_fail(qp, h->msn, XS_WC_REM_INV_REQ_ERR,
					"SEND longer than the posted receive");
			return RX_DEAD;
		}
		qp->rx_send_active = true;
		qp->rx_send_off = 0;
		qp->rx_send_total = h->total;
	} else if (h->flags & XS_SOFT_F_FIRST) {
		qp_nak_and_fail(qp, h->msn, XS_WC_REM_INV_REQ_ERR, "SEND restarted mid-message");
		return RX_DEAD;
	}
	r = rq_at(qp, qp->rq_head);
	if ((uint64_t)qp->rx_send_off + h->len > qp->rx_send_total) {
		qp_nak_and_fail(qp, h->msn, XS_WC_REM_INV_REQ_ERR, "SEND segment beyond its length");
		return RX_DEAD;
	}
	n = build_iov(r->sge, r->nsge, qp->rx_send_off, h->len, iov + 1, MAX_IOV - 1);
	if (n < 0 || read_rec(qp, h, iov, n, pre) < 0) {
		qp_nak_and_fail(qp, h->msn, XS_WC_REM_OP_ERR, "SEND could not be placed");
		return RX_DEAD;
	}
	qp->rx_send_off += h->len;
	if (h->flags & XS_SOFT_F_LAST) {
		qp->rx_send_active = false;
		qp->rq_head++;
		qp->rx_done++;
		if (h->flags & XS_SOFT_F_ACKREQ)
			qp->ack_now = true;
		push_wc(qp, false, r->wr_id, XS_WC_SUCCESS, XS_WC_RECV, qp->rx_send_total,
			(h->flags & XS_SOFT_F_IMM) != 0, h->imm);
	}
	return RX_OK;
}

static const char *rdma_check(struct soft_qp *qp, uint32_t rkey, uint64_t addr, uint64_t len,
			      int access)
{
	struct soft_mr *mr = mr_lookup(qp->f, rkey);

	if (!mr)
		return "no such rkey";
	if (mr->base.pd != qp->base.attr.pd)
		return "rkey of another PD";
	if (!(mr->base.access & access))
		return access == XS_ACCESS_REMOTE_WRITE ? "MR not remotely writable"
							: "MR not remotely readable";
	if (!mr_covers(mr, addr, len))
		return "beyond the MR";
	return NULL;
}

static enum rx_result rx_write(struct soft_qp *qp, struct xs_soft_dhdr *h, const uint8_t *pre)
{
	struct soft_fabric *f = qp->f;
	struct iovec iov[2];
	const char *bad;
	int rc;

	pthread_rwlock_rdlock(&f->mr_lock);
	bad = rdma_check(qp, h->rkey, h->raddr, h->len, XS_ACCESS_REMOTE_WRITE);
	if (bad) {
		char why[96];

		pthread_rwlock_unlock(&f->mr_lock);
		discard_rec(qp, pre);
		snprintf(why, sizeof(why), "RDMA WRITE refused (rkey 0x%x): %s", h->rkey, bad);
		qp_nak_and_fail(qp, h->msn, XS_WC_REM_ACCESS_ERR, why);
		return RX_DEAD;
	}
	iov[1].iov_base = (void *)(uintptr_t)h->raddr;
	iov[1].iov_len = h->len;
	rc = read_rec(qp, h, iov, 1, pre);
	pthread_rwlock_unlock(&f->mr_lock);
	if (rc < 0) {
		qp_nak_and_fail(qp, h->msn, XS_WC_REM_OP_ERR, "RDMA WRITE could not be placed");
		return RX_DEAD;
	}
	if (h->flags & XS_SOFT_F_LAST) {
		qp->rx_done++;
		if (h->flags & XS_SOFT_F_ACKREQ)
			qp->ack_now = true;
	}
	return RX_OK;
}

static enum rx_result rx_read_req(struct soft_qp *qp, struct xs_soft_dhdr *h, const uint8_t *pre)
{
	struct soft_fabric *f = qp->f;
	struct rresp *r;
	const char *bad;

	discard_rec(qp, pre);
	pthread_rwlock_rdlock(&f->mr_lock);
	bad = rdma_check(qp, h->rkey, h->raddr, h->total, XS_ACCESS_REMOTE_READ);
	pthread_rwlock_unlock(&f->mr_lock);
	if (bad) {
		char why[96];

		snprintf(why, sizeof(why), "RDMA READ refused (rkey 0x%x): %s", h->rkey, bad);
		qp_nak_and_fail(qp, h->msn, XS_WC_REM_ACCESS_ERR, why);
		return RX_DEAD;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		qp_nak_and_fail(qp, h->msn, XS_WC_REM_OP_ERR, "out of memory for a READ");
		return RX_DEAD;
	}
	r->msn = h->msn;
	r->raddr = h->raddr;
	r->rkey = h->rkey;
	r->len = h->total;
	if (qp->rr_tail)
		qp->rr_tail->next = r;
	else
		qp->rr_head = r;
	qp->rr_tail = r;
	qp->rx_done++;
	return RX_OK;
}

static enum rx_result rx_read_resp(struct soft_qp *qp, struct xs_soft_dhdr *h,
				   const uint8_t *pre)
{
	struct iovec iov[MAX_IOV];
	struct sq_ent *e = NULL;
	int n;

	for (uint32_t i = qp->sq_head; i != qp->sq_tx; i++) {
		struct sq_ent *c = sq_at(qp, i);

		if (c->opcode == XS_WR_RDMA_READ && !c->done) {
			e = c;
			break;
		}
	}
	if (!e || e->msn != h->msn || (uint64_t)e->got + h->len > e->total) {
		qp_nak_and_fail(qp, h->msn, XS_WC_BAD_RESP_ERR, "unexpected READ response");
		return RX_DEAD;
	}
	n = build_iov(e->sge, e->nsge, e->got, h->len, iov + 1, MAX_IOV - 1);
	if (n < 0 || read_rec(qp, h, iov, n, pre) < 0) {
		qp_nak_and_fail(qp, h->msn, XS_WC_BAD_RESP_ERR, "READ response could not be placed");
		return RX_DEAD;
	}
	e->got += h->len;
	if (h->flags & XS_SOFT_F_LAST) {
		if (e->got != e->total) {
			qp_nak_and_fail(qp, h->msn, XS_WC_BAD_RESP_ERR, "short READ response");
			return RX_DEAD;
		}
		e->done = true;
		e->status = XS_WC_SUCCESS;
	}
	return RX_OK;
}

/*
 * A stream of large SENDs: read the next record with its payload aimed at
 * the posted receive (where a SEND's payload goes) and anything beyond into
 * the bounce buffer, saving the header peek. When the record turns out to
 * be something else, its payload is gathered into the bounce buffer and
 * handled as a whole-read record; the posted receive buffer may have been
 * written meanwhile, which, as with verbs, is allowed until it completes.
 */
static int rx_next_spec(struct soft_qp *qp, struct xs_soft_dhdr *h, const uint8_t **pre)
{
	struct rq_ent *r = rq_at(qp, qp->rq_head);
	uint64_t off = qp->rx_send_active ? qp->rx_send_off : 0;
	uint32_t room = (uint32_t)XS_MIN((uint64_t)XS_SOFT_SEG, r->cap > off ? r->cap - off : 0);
	struct iovec iov[MAX_IOV + 1];
	struct msghdr mh = { .msg_iov = iov };
	size_t got, in_recv;
	ssize_t n;
	int k;

	iov[0].iov_base = h;
	iov[0].iov_len = sizeof(*h);
	k = room ? build_iov(r->sge, r->nsge, off, room, iov + 1, MAX_IOV - 1) : 0;
	if (k < 0)
		k = 0, room = 0;
	iov[k + 1].iov_base = qp->bounce;
	iov[k + 1].iov_len = XS_SOFT_SEG;
	mh.msg_iovlen = (size_t)k + 2;
	do
		n = recvmsg(qp->sock, &mh, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n <= 0) {
		soft_qp_conn_lost(qp, XS_QPS_CLOSED);
		return -1;
	}
	got = (size_t)n;
	if (got < sizeof(*h) || h->len > XS_SOFT_SEG || got != sizeof(*h) + h->len ||
	    (mh.msg_flags & MSG_TRUNC)) {
		qp_nak_and_fail(qp, 0, XS_WC_BAD_RESP_ERR, "malformed record");
		return -1;
	}
	qp->small_mode = h->len <= SOFT_SMALL;
	qp->spec_send = h->op == XS_SOFT_DOP_SEND;
	if (h->op == XS_SOFT_DOP_SEND && h->len <= room &&
	    !!(h->flags & XS_SOFT_F_FIRST) == !qp->rx_send_active) {
		*pre = PRE_PLACED;
		return 1;
	}
	/* not what we aimed for: gather the payload into the bounce buffer */
	XS_DLOG(SOFT_COMP, "QP 0x%x: speculative read got op %u (%u bytes)", qp->base.qpn, h->op,
		h->len);
	in_recv = XS_MIN((size_t)h->len, (size_t)room);
	if (in_recv) {
		size_t done = 0;

		memmove(qp->bounce + in_recv, qp->bounce, h->len - in_recv);
		for (int i = 1; i <= k && done < in_recv; i++) {
			size_t c = XS_MIN(iov[i].iov_len, in_recv - done);

			memcpy(qp->bounce + done, iov[i].iov_base, c);
			done += c;
		}
	}
	*pre = qp->bounce;
	return 1;
}

/* Next record: its header in *h, and its payload in the bounce buffer
 * (returned) when read whole, or NULL when only peeked. 1 = got one,
 * 0 = nothing there, -1 = the connection ended or broke (handled). */
static int rx_next(struct soft_qp *qp, struct xs_soft_dhdr *h, const uint8_t **pre)
{
	ssize_t n;

	*pre = NULL;
	if (qp->pend) {
		*h = qp->pend_hdr;
		*pre = qp->bounce;
		qp->pend = false;
		return 1;
	}
	if ((qp->small_mode || qp->spec_send) && !qp->bounce)
		qp->bounce = malloc(XS_SOFT_SEG);
	if (!qp->small_mode && qp->spec_send && qp->bounce && qp->rq_head != qp->rq_tail)
		return rx_next_spec(qp, h, pre);
	if (qp->small_mode && qp->bounce) {
		struct iovec iov[2] = { { h, sizeof(*h) }, { qp->bounce, XS_SOFT_SEG } };
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };

		do
			n = recvmsg(qp->sock, &mh, MSG_DONTWAIT);
		while (n < 0 && errno == EINTR);
		if (n > 0 && (size_t)n >= sizeof(*h) && h->len <= XS_SOFT_SEG &&
		    (size_t)n != sizeof(*h) + h->len)
			n = 1; /* malformed */
		*pre = qp->bounce;
	} else {
		do
			n = recv(qp->sock, h, sizeof(*h), MSG_PEEK | MSG_DONTWAIT);
		while (n < 0 && errno == EINTR);
	}
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n <= 0) {
		soft_qp_conn_lost(qp, XS_QPS_CLOSED);
		return -1;
	}
	if ((size_t)n < sizeof(*h) || h->len > XS_SOFT_SEG) {
		qp_nak_and_fail(qp, 0, XS_WC_BAD_RESP_ERR, "malformed record");
		return -1;
	}
	qp->small_mode = h->len <= SOFT_SMALL;
	qp->spec_send = h->op == XS_SOFT_DOP_SEND;
	return 1;
}

static void qp_rx(struct soft_qp *qp)
{
	for (int budget = 256; budget > 0 && qp->sock >= 0; budget--) {
		struct xs_soft_dhdr h;
		const uint8_t *pre;
		enum rx_result res;
		int rc = rx_next(qp, &h, &pre);

		if (rc < 0)
			return;
		if (rc == 0)
			break;
		on_ack(qp, h.ack);
		switch (h.op) {
		case XS_SOFT_DOP_SEND:
			res = rx_send(qp, &h, pre);
			break;
		case XS_SOFT_DOP_WRITE:
			res = rx_write(qp, &h, pre);
			break;
		case XS_SOFT_DOP_READ_REQ:
			res = rx_read_req(qp, &h, pre);
			break;
		case XS_SOFT_DOP_READ_RESP:
			res = rx_read_resp(qp, &h, pre);
			break;
		case XS_SOFT_DOP_ACK:
			discard_rec(qp, pre);
			res = RX_OK;
			break;
		case XS_SOFT_DOP_NAK:
			discard_rec(qp, pre);
			on_nak(qp, &h);
			res = RX_DEAD;
			break;
		default:
			qp_nak_and_fail(qp, h.msn, XS_WC_REM_INV_REQ_ERR, "unknown record type");
			res = RX_DEAD;
			break;
		}
		if (res == RX_DEAD)
			return;
		if (res == RX_STOP)
			break;
		/*
		 * A polling thread with a completion in hand stops unless the
		 * sender said more is coming: for one message at a time the
		 * caller's next wait on the CQ fd is the cheapest probe.
		 */
		if (tls_polling && tls_pushed &&
		    ((!tls_stream && !(h.flags & XS_SOFT_F_MORE)) || tls_pushed >= tls_want))
			break;
	}
	if (qp->rx_done - qp->ack_sent >= SOFT_ACK_EVERY)
		qp->ack_now = true;
	if (qp->ack_now || qp->rr_head)
		qp_pump(qp);
	/* Delayed ACK: 1 ms when the progress thread read the requests; when an
	 * application thread did, a reply usually carries the ACK first, so
	 * leave it to the progress thread's regular tick rather than wake it. */
	if (qp->sock >= 0 && qp->rx_done != qp->ack_sent && !qp->ack_deadline)
		qp->ack_deadline = xs_now_ms() + (tls_polling ? (uint64_t)SOFT_TICK_MS
							      : SOFT_ACK_DELAY_MS);
	sq_complete(qp);
}

bool soft_qp_app_owned(struct soft_qp *qp, uint64_t now)
{
	struct soft_cq *r = to_scq(qp->base.attr.recv_cq), *s = to_scq(qp->base.attr.send_cq);

	return now - __atomic_load_n(&r->last_poll_ms, __ATOMIC_RELAXED) < SOFT_APP_ACTIVE_MS ||
	       now - __atomic_load_n(&s->last_poll_ms, __ATOMIC_RELAXED) < SOFT_APP_ACTIVE_MS;
}

void soft_qp_io(struct soft_qp *qp, uint32_t events)
{
	if (qp->sock < 0)
		return;
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
		if (qp->rnr_blocked && (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
			soft_qp_conn_lost(qp, XS_QPS_CLOSED);
			return;
		}
		if (!qp->rnr_blocked)
			qp_rx(qp);
	}
	if (qp->sock >= 0 && (events & EPOLLOUT))
		qp_pump(qp);
	if (qp->sock >= 0)
		soft_epoll_update(qp);
}

int soft_qp_timers(struct soft_qp *qp, uint64_t now)
{
	int next = -1;

	if (qp->sock < 0)
		return -1;
	if (qp->pt_disarmed) {
		/* the application polls this QP's CQ; take over when it stops */
		if (!soft_qp_app_owned(qp, now)) {
			qp->pt_disarmed = false;
			soft_epoll_update(qp);
		} else {
			next = SOFT_APP_ACTIVE_MS;
		}
	}
	if (qp->rnr_blocked) {
		uint64_t dl = qp->rnr_since + SOFT_RNR_MS;

		if (now >= dl) {
			struct xs_soft_dhdr h = { 0 };

			if (qp->pend)
				h = qp->pend_hdr;
			else if (recv(qp->sock, &h, sizeof(h), MSG_PEEK | MSG_DONTWAIT) ==
				 (ssize_t)sizeof(h))
				discard_rec(qp, NULL);
			qp->pend = false;
			qp_nak_and_fail(qp, h.msn, XS_WC_RNR_RETRY_EXC_ERR,
					"no receive posted for an incoming SEND within 2 s");
			return -1;
		}
		if (next < 0 || (int)(dl - now) < next)
			next = (int)(dl - now);
	}
	if (qp->ack_deadline) {
		if (now >= qp->ack_deadline) {
			qp->ack_now = true;
			qp_pump(qp);
		}
		if (qp->ack_deadline && qp->sock >= 0) {
			int t = now >= qp->ack_deadline ? 1 : (int)(qp->ack_deadline - now);

			if (next < 0 || t < next)
				next = t;
		}
	}
	/* receives done by application threads set deadlines we don't hear of */
	if (next < 0 || next > SOFT_TICK_MS)
		next = SOFT_TICK_MS;
	return next;
}

/* ------------------------------------------------------------ QP verbs */

struct xs_qp *soft_qp_create(struct xs_fabric *xf, const struct xs_qp_attr *attr)
{
	struct soft_fabric *f = to_sf(xf);
	struct soft_qp *qp;
	uint32_t idx;

	if (attr->max_sge > MAX_SGE || attr->max_send_wr > 65536 || attr->max_recv_wr > 65536 ||
	    attr->max_inline > 65536) {
		errno = EINVAL;
		return NULL;
	}
	qp = calloc(1, sizeof(*qp));
	if (!qp)
		return NULL;
	qp->f = f;
	qp->sock = -1;
	qp->base.fabric = xf;
	qp->base.attr = *attr;
	qp->base.state = XS_QPS_RESET;
	qp->sq_size = attr->max_send_wr;
	qp->rq_size = attr->max_recv_wr;
	qp->sq = calloc(qp->sq_size, sizeof(*qp->sq));
	qp->sq_sges = calloc((size_t)qp->sq_size * attr->max_sge, sizeof(struct xs_sge));
	qp->sq_inline = malloc((size_t)qp->sq_size * attr->max_inline);
	qp->rq = calloc(qp->rq_size, sizeof(*qp->rq));
	qp->rq_sges = calloc((size_t)qp->rq_size * attr->max_sge, sizeof(struct xs_sge));
	if (!qp->sq || !qp->sq_sges || !qp->sq_inline || !qp->rq || !qp->rq_sges)
		goto err_free;
	for (uint32_t i = 0; i < qp->sq_size; i++) {
		qp->sq[i].sge = qp->sq_sges + (size_t)i * attr->max_sge;
		qp->sq[i].inl = qp->sq_inline + (size_t)i * attr->max_inline;
	}
	for (uint32_t i = 0; i < qp->rq_size; i++)
		qp->rq[i].sge = qp->rq_sges + (size_t)i * attr->max_sge;
	pthread_mutex_init(&qp->lock, NULL);

	pthread_mutex_lock(&f->lock);
	for (idx = 0; idx < f->n_qps; idx++)
		if (!f->qps[idx])
			break;
	if (idx == f->n_qps) {
		uint32_t n = f->n_qps ? f->n_qps * 2 : 16;
		struct soft_qp **t = realloc(f->qps, n * sizeof(*t));

		if (!t) {
			pthread_mutex_unlock(&f->lock);
			goto err_mutex;
		}
		memset(t + f->n_qps, 0, (n - f->n_qps) * sizeof(*t));
		f->qps = t;
		f->n_qps = n;
	}
	qp->idx = idx;
	qp->base.qpn = SOFT_QPN_BASE + idx;
	if (cq_attach_qp(to_scq(attr->recv_cq), qp) < 0) {
		pthread_mutex_unlock(&f->lock);
		goto err_mutex;
	}
	if (attr->send_cq != attr->recv_cq && cq_attach_qp(to_scq(attr->send_cq), qp) < 0) {
		cq_detach_qp(to_scq(attr->recv_cq), qp);
		pthread_mutex_unlock(&f->lock);
		goto err_mutex;
	}
	f->qps[idx] = qp;
	pthread_mutex_unlock(&f->lock);
	return &qp->base;

err_mutex:
	pthread_mutex_destroy(&qp->lock);
err_free:
	free(qp->rq_sges);
	free(qp->rq);
	free(qp->sq_inline);
	free(qp->sq_sges);
	free(qp->sq);
	free(qp);
	errno = ENOMEM;
	return NULL;
}

static void qp_free(struct soft_qp *qp)
{
	free(qp->bounce);
	pthread_mutex_destroy(&qp->lock);
	free(qp->rq_sges);
	free(qp->rq);
	free(qp->sq_inline);
	free(qp->sq_sges);
	free(qp->sq);
	free(qp);
}

/* Drop queued events that name this QP: the application is destroying it. */
static void purge_events(struct soft_fabric *f, struct soft_qp *qp)
{
	pthread_mutex_lock(&f->ev_lock);
	for (struct soft_event **pp = &f->ev_head; *pp;) {
		struct soft_event *e = *pp;

		if (e->ev.qp == &qp->base) {
			*pp = e->next;
			free(e);
		} else {
			pp = &e->next;
		}
	}
	f->ev_tail = NULL;
	for (struct soft_event *e = f->ev_head; e; e = e->next)
		f->ev_tail = e;
	pthread_mutex_unlock(&f->ev_lock);
}

static void abort_connect(struct soft_qp *qp)
{
	struct xs_softp_cm_abort m;

	memset(&m, 0, sizeof(m));
	m.h.type = XS_SOFTP_CM_ABORT;
	m.h.len = sizeof(m);
	m.cookie = qp->base.qpn;
	soft_dsend(qp->f, &m);
}

int soft_qp_destroy(struct xs_qp *xqp)
{
	struct soft_qp *qp = to_sqp(xqp);
	struct soft_fabric *f = qp->f;

	pthread_mutex_lock(&f->lock);
	f->qps[qp->idx] = NULL;
	pthread_mutex_lock(&qp->lock);
	if (qp->base.state == XS_QPS_CONNECTING && qp->sock == -1)
		abort_connect(qp);
	qp->disc_reported = true; /* no event for a QP that is going away */
	soft_qp_conn_lost(qp, XS_QPS_CLOSED);
	pthread_mutex_unlock(&qp->lock);
	cq_detach_qp(to_scq(qp->base.attr.recv_cq), qp);
	if (qp->base.attr.send_cq != qp->base.attr.recv_cq)
		cq_detach_qp(to_scq(qp->base.attr.send_cq), qp);
	pthread_mutex_unlock(&f->lock);
	purge_events(f, qp);
	qp_free(qp);
	return 0;
}

void soft_qp_free_all(struct soft_fabric *f)
{
	for (uint32_t i = 0; i < f->n_qps; i++) {
		struct soft_qp *qp = f->qps[i];

		if (!qp)
			continue;
		if (qp->sock >= 0)
			close(qp->sock);
		qp_free(qp);
	}
	free(f->qps);
	f->qps = NULL;
	f->n_qps = 0;
}

int soft_qp_attach_sock(struct soft_qp *qp, int sock)
{
	int fl = fcntl(sock, F_GETFL);

	/* The socket keeps its default send buffer: a bigger one holds more
	 * data in flight, which is colder in the cache when the receiver copies
	 * it out (measured: ~15% less bandwidth with 1 MiB). */
	if (fl < 0 || fcntl(sock, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	qp->sock = sock;
	qp->ep_events = 0;
	qp->base.state = XS_QPS_RTS;
	qp->connected_once = true;
	qp->disc_reported = false;
	qp->next_msn = 0;
	qp->rx_done = qp->ack_sent = 0;
	qp->ack_now = false;
	qp->ack_deadline = 0;
	qp->rnr_blocked = false;
	qp->tx_blocked = false;
	qp->rx_send_active = false;
	qp->pend = false;
	qp->small_mode = true;
	qp->spec_send = false;
	qp->pt_disarmed = false;
	qp->cq_events = 0;
	soft_epoll_update(qp);
	if (!qp->ep_events) {
		qp->sock = -1;
		qp->base.state = XS_QPS_RESET;
		return -EIO;
	}
	return 0;
}

int soft_qp_disconnect(struct xs_qp *xqp)
{
	struct soft_qp *qp = to_sqp(xqp);
	int rc = 0;

	pthread_mutex_lock(&qp->lock);
	if (qp->sock >= 0) {
		soft_qp_conn_lost(qp, XS_QPS_CLOSED);
	} else if (qp->base.state == XS_QPS_CONNECTING && qp->sock == -1) {
		abort_connect(qp);
		qp->base.state = XS_QPS_RESET;
	} else {
		rc = -ENOTCONN;
	}
	pthread_mutex_unlock(&qp->lock);
	return rc;
}

int soft_post_send(struct xs_qp *xqp, const struct xs_send_wr *wr)
{
	struct soft_qp *qp = to_sqp(xqp);
	struct sq_ent *e;
	int64_t total;
	int rc = 0;

	pthread_mutex_lock(&qp->lock);
	if (qp->base.state != XS_QPS_RTS && qp->base.state != XS_QPS_ERROR &&
	    qp->base.state != XS_QPS_CLOSED) {
		rc = -ENOTCONN;
		goto out;
	}
	if (qp->sq_tail - qp->sq_head >= qp->sq_size) {
		rc = -ENOMEM;
		goto out;
	}
	e = sq_at(qp, qp->sq_tail);
	e->wr_id = wr->wr_id;
	e->opcode = (uint8_t)wr->opcode;
	e->signaled = (wr->flags & XS_SEND_SIGNALED) != 0;
	e->done = false;
	e->has_status = false;
	e->status = XS_WC_SUCCESS;
	e->sent = e->got = 0;
	e->raddr = wr->remote_addr;
	e->rkey = wr->rkey;
	e->has_imm = wr->opcode == XS_WR_SEND_WITH_IMM;
	e->imm = wr->imm_data;
	e->is_inline = false;
	e->nsge = wr->num_sge;
	memcpy(e->sge, wr->sg_list, sizeof(*e->sge) * (size_t)wr->num_sge);
	if (qp->base.state != XS_QPS_RTS) {
		/* as in verbs: work posted to a QP in error is flushed */
		e->total = 0;
		e->done = true;
		e->status = XS_WC_WR_FLUSH_ERR;
		e->msn = qp->next_msn++;
		qp->sq_tail++;
		qp->sq_tx = qp->sq_tail;
		sq_complete(qp);
		goto out;
	}
	if ((wr->flags & XS_SEND_INLINE) && wr->opcode != XS_WR_RDMA_READ) {
		uint64_t off = 0;

		for (int i = 0; i < wr->num_sge; i++)
			off += wr->sg_list[i].length;
		if (off > qp->base.attr.max_inline) {
			rc = -EINVAL;
			goto out;
		}
		off = 0;
		for (int i = 0; i < wr->num_sge; i++) {
			memcpy(e->inl + off, (const void *)(uintptr_t)wr->sg_list[i].addr,
			       wr->sg_list[i].length);
			off += wr->sg_list[i].length;
		}
		e->is_inline = true;
		total = (int64_t)off;
	} else {
		total = sge_check(qp, wr->sg_list, wr->num_sge,
				  wr->opcode == XS_WR_RDMA_READ ? XS_ACCESS_LOCAL_WRITE : 0);
	}
	if (total == -EMSGSIZE) {
		rc = -EINVAL;
		goto out;
	}
	e->msn = qp->next_msn++;
	qp->sq_tail++;
	if (total < 0) {
		/* a bad lkey: this WR completes with a local protection error and
		 * the QP goes to the error state, as in verbs */
		e->total = 0;
		e->has_status = true;
		e->status = XS_WC_LOC_PROT_ERR;
		e->done = true;
		XS_WARN(SOFT_COMP, "QP 0x%x: work request 0x%llx has a bad lkey or buffer",
			qp->base.qpn, (unsigned long long)wr->wr_id);
		soft_qp_conn_lost(qp, XS_QPS_ERROR);
		goto out;
	}
	e->total = (uint32_t)total;
	if (!qp->tx_blocked && qp->sq_tx == qp->sq_tail - 1)
		qp_pump(qp);
out:
	pthread_mutex_unlock(&qp->lock);
	return rc;
}

int soft_post_recv(struct xs_qp *xqp, const struct xs_recv_wr *wr)
{
	struct soft_qp *qp = to_sqp(xqp);
	struct rq_ent *r;
	int64_t cap;
	int rc = 0;

	pthread_mutex_lock(&qp->lock);
	if (qp->base.state == XS_QPS_ERROR || qp->base.state == XS_QPS_CLOSED) {
		push_wc(qp, false, wr->wr_id, XS_WC_WR_FLUSH_ERR, XS_WC_RECV, 0, false, 0);
		goto out;
	}
	if (qp->rq_tail - qp->rq_head >= qp->rq_size) {
		rc = -ENOMEM;
		goto out;
	}
	cap = sge_check(qp, wr->sg_list, wr->num_sge, XS_ACCESS_LOCAL_WRITE);
	if (cap == -EMSGSIZE) {
		rc = -EINVAL;
		goto out;
	}
	if (cap < 0) {
		XS_WARN(SOFT_COMP, "QP 0x%x: receive 0x%llx has a bad lkey or buffer", qp->base.qpn,
			(unsigned long long)wr->wr_id);
		push_wc(qp, false, wr->wr_id, XS_WC_LOC_PROT_ERR, XS_WC_RECV, 0, false, 0);
		goto out;
	}
	r = rq_at(qp, qp->rq_tail);
	r->wr_id = wr->wr_id;
	r->nsge = wr->num_sge;
	r->cap = (uint64_t)cap;
	memcpy(r->sge, wr->sg_list, sizeof(*r->sge) * (size_t)wr->num_sge);
	qp->rq_tail++;
	if (qp->rnr_blocked) {
		/* take the waiting SEND now */
		qp->rnr_blocked = false;
		qp_rx(qp);
		if (qp->sock >= 0)
			soft_epoll_update(qp);
	}
out:
	pthread_mutex_unlock(&qp->lock);
	return rc;
}
