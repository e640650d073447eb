/* SPDX-License-Identifier: MIT */
/*
 * soft.c - the soft fabric backend, control side: attaching to xs-fabricd,
 * the progress thread, events, the connection manager and MAD agents.
 * The data path (PD, MR, CQ, QP) is in soft_qp.c. docs/soft-fabric.md.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <xscore/log.h>

#include "soft_int.h"

static void *progress_main(void *arg);

/* ------------------------------------------------------------ helpers */

static void hdr_init(void *msg, int type, uint32_t seq)
{
	struct xs_softp_hdr *h = msg;
	size_t size = xs_softp_size(type);

	memset(msg, 0, size);
	h->type = (uint16_t)type;
	h->len = (uint16_t)size;
	h->seq = seq;
}

static void evfd_signal(int fd)
{
	uint64_t one = 1;
	ssize_t n = write(fd, &one, sizeof(one));

	(void)n;
}

static void evfd_drain(int fd)
{
	uint64_t v;
	ssize_t n = read(fd, &v, sizeof(v));

	(void)n;
}

/* Send one record to the daemon from any thread. */
int soft_dsend(struct soft_fabric *f, const void *msg)
{
	const struct xs_softp_hdr *h = msg;
	int rc = 0;

	pthread_mutex_lock(&f->dsend_lock);
	for (int tries = 0;; tries++) {
		ssize_t n;

		if (f->dfd < 0) {
			rc = -ENOTCONN;
			break;
		}
		n = send(f->dfd, msg, h->len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == (ssize_t)h->len)
			break;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN && tries < 100) {
			struct pollfd p = { .fd = f->dfd, .events = POLLOUT };

			poll(&p, 1, 10);
			continue;
		}
		rc = n < 0 ? -errno : -EIO;
		break;
	}
	pthread_mutex_unlock(&f->dsend_lock);
	if (rc < 0)
		XS_DEBUG(SOFT_COMP, "send %s to xs-fabricd: %s", xs_softp_type_name(h->type),
			 xs_strerror(rc));
	return rc;
}

void soft_push_event(struct soft_fabric *f, const struct xs_event *ev)
{
	struct soft_event *e = malloc(sizeof(*e));

	if (!e) {
		XS_ERR(SOFT_COMP, "out of memory: event %d lost", ev->type);
		return;
	}
	e->ev = *ev;
	e->next = NULL;
	pthread_mutex_lock(&f->ev_lock);
	if (f->ev_tail)
		f->ev_tail->next = e;
	else
		f->ev_head = e;
	f->ev_tail = e;
	if (!f->ev_signaled) {
		f->ev_signaled = true;
		evfd_signal(f->evfd);
	}
	pthread_mutex_unlock(&f->ev_lock);
}

static int soft_event_fd(struct xs_fabric *xf) { return to_sf(xf)->evfd; }

static int soft_get_event(struct xs_fabric *xf, struct xs_event *ev)
{
	struct soft_fabric *f = to_sf(xf);
	struct soft_event *e;

	pthread_mutex_lock(&f->ev_lock);
	e = f->ev_head;
	if (e) {
		f->ev_head = e->next;
		if (!f->ev_head)
			f->ev_tail = NULL;
	}
	if (!f->ev_head && f->ev_signaled) {
		f->ev_signaled = false;
		evfd_drain(f->evfd);
	}
	pthread_mutex_unlock(&f->ev_lock);
	if (!e)
		return -EAGAIN;
	*ev = e->ev;
	free(e);
	return 0;
}

/* Call the daemon and wait for the reply with the same seq. */
static int rpc_call(struct soft_fabric *f, void *msg, uint16_t want_type, int timeout_ms,
		    int *fd_out)
{
	struct xs_softp_hdr *h = msg;
	struct soft_rpc r = { .want_type = want_type, .fd = -1 };
	struct soft_rpc **pp;
	struct timespec ts;
	int rc;

	pthread_mutex_lock(&f->rpc_lock);
	r.seq = ++f->next_seq;
	r.next = f->rpcs;
	f->rpcs = &r;
	pthread_mutex_unlock(&f->rpc_lock);
	h->seq = r.seq;

	rc = soft_dsend(f, msg);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&f->rpc_lock);
	while (rc == 0 && !r.done) {
		if (f->dfd < 0)
			rc = -ENOTCONN;
		else if (pthread_cond_timedwait(&f->rpc_cond, &f->rpc_lock, &ts) == ETIMEDOUT)
			rc = r.done ? 0 : -ETIMEDOUT;
	}
	for (pp = &f->rpcs; *pp; pp = &(*pp)->next)
		if (*pp == &r) {
			*pp = r.next;
			break;
		}
	pthread_mutex_unlock(&f->rpc_lock);
	if (rc == 0)
		rc = r.status;
	if (fd_out)
		*fd_out = r.fd;
	else if (r.fd >= 0)
		close(r.fd);
	return rc;
}

static void rpc_complete(struct soft_fabric *f, const struct xs_softp_hdr *h, int32_t status,
			 int fd)
{
	struct soft_rpc *r;

	pthread_mutex_lock(&f->rpc_lock);
	for (r = f->rpcs; r; r = r->next)
		if (r->seq == h->seq && r->want_type == h->type && !r->done)
			break;
	if (r) {
		r->done = true;
		r->status = status;
		r->fd = fd;
		fd = -1;
		pthread_cond_broadcast(&f->rpc_cond);
	}
	pthread_mutex_unlock(&f->rpc_lock);
	if (fd >= 0)
		close(fd);
}

static void port_from_wire(struct soft_fabric *f, const struct xs_softp_port *p)
{
	struct xs_port_attr *a = &f->attr;

	a->state = (enum xs_port_state)p->state;
	a->node_guid = p->node_guid;
	a->port_guid = p->port_guid;
	memcpy(a->gid, p->gid, 16);
	a->lid = p->lid;
	a->sm_lid = p->sm_lid;
	a->sm_sl = p->sm_sl;
	memset(a->pkeys, 0, sizeof(a->pkeys));
	for (int i = 0; i < p->n_pkeys && i < XS_MAX_PKEYS; i++)
		a->pkeys[i] = p->pkeys[i];
	a->n_pkeys = p->n_pkeys;
}

/* ------------------------------------------------------------ attach */

static int attach(struct soft_fabric *f, int timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct xs_softp_attach m;
	union {
		struct xs_softp_attach_reply r;
		uint8_t b[XS_SOFTP_MAX_MSG + 1];
	} u;
	uint64_t deadline = xs_now_ms() + (uint64_t)timeout_ms;
	const char *why = NULL;
	ssize_t n;
	int fd, rc;

	if (strlen(f->sock_path) >= sizeof(sa.sun_path)) {
		XS_ERR(SOFT_COMP, "soft fabric socket path '%s' is too long", f->sock_path);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, f->sock_path, strlen(f->sock_path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* non-blocking: a daemon with a full backlog says EAGAIN, not hang */
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if ((errno == EAGAIN || errno == EINTR) && xs_now_ms() < deadline) {
			usleep(1000);
			continue;
		}
		rc = errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (rc == -ECONNREFUSED)
			rc = -ENOENT;
		XS_ERR(SOFT_COMP, "can't attach to the soft fabric at %s: %s - is xs-fabricd "
		       "running?", f->sock_path, strerror(errno));
		goto err_close;
	}
	hdr_init(&m, XS_SOFTP_ATTACH, 1);
	m.version = XS_SOFTP_VERSION;
	snprintf(m.port_name, sizeof(m.port_name), "%s", f->port_name);
	if (send(fd, &m, sizeof(m), MSG_NOSIGNAL) != (ssize_t)sizeof(m)) {
		if (errno == EAGAIN)
			errno = ETIMEDOUT;
		rc = -errno;
		XS_ERR(SOFT_COMP, "attach to %s: send: %s - is xs-fabricd running?",
		       f->sock_path, strerror(errno));
		goto err_close;
	}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t now = xs_now_ms();

		if (now >= deadline || poll(&p, 1, (int)(deadline - now)) == 0) {
			XS_ERR(SOFT_COMP, "attach to %s: no answer in %d ms - is xs-fabricd "
			       "running?", f->sock_path, timeout_ms);
			rc = -ETIMEDOUT;
			goto err_close;
		}
		n = recv(fd, u.b, sizeof(u.b), MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		break;
	}
	if (n <= 0) {
		rc = n < 0 ? -errno : -ECONNRESET;
		XS_ERR(SOFT_COMP, "attach to %s: %s - is xs-fabricd running?", f->sock_path,
		       n < 0 ? strerror(errno) : "connection closed");
		goto err_close;
	}
	rc = xs_softp_decode(u.b, (size_t)n, false, &why);
	if (rc != XS_SOFTP_ATTACH_REPLY) {
		XS_ERR(SOFT_COMP, "attach to %s: bad reply (%s)", f->sock_path,
		       rc < 0 ? why : xs_softp_type_name(rc));
		rc = -EPROTO;
		goto err_close;
	}
	if (u.r.status < 0) {
		rc = u.r.status;
		XS_ERR(SOFT_COMP, "attach to %s as '%s' refused: %s", f->sock_path, f->port_name,
		       u.r.why);
		goto err_close;
	}
	port_from_wire(f, &u.r.port);
	f->dfd = fd;
	XS_DEBUG(SOFT_COMP, "attached to %s as '%s': LID %u", f->sock_path, f->port_name,
		 f->attr.lid);
	return 0;

err_close:
	close(fd);
	return rc;
}

/* ------------------------------------------------------------ open/close */

static struct xs_fabric *soft_open(const char *args, const struct xs_fabric_opts *opts)
{
	struct soft_fabric *f;
	const char *path = args && *args ? args : getenv("XS_FABRIC_SOCK");
	int timeout = 3000, rc;
	struct epoll_event ee = { .events = EPOLLIN };

	if (!path || !*path)
		path = XS_SOFT_DEFAULT_SOCK;
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	snprintf(f->sock_path, sizeof(f->sock_path), "%s", path);
	if (opts && opts->size >= offsetof(struct xs_fabric_opts, gid_index) && opts->port_name &&
	    *opts->port_name) {
		if (strlen(opts->port_name) >= sizeof(f->port_name)) {
			XS_ERR(SOFT_COMP, "port name '%s' longer than 63 bytes", opts->port_name);
			free(f);
			errno = EINVAL;
			return NULL;
		}
		snprintf(f->port_name, sizeof(f->port_name), "%s", opts->port_name);
	} else {
		char host[40] = "host";

		gethostname(host, sizeof(host) - 1);
		snprintf(f->port_name, sizeof(f->port_name), "%.40s-%d", host, (int)getpid());
	}
	if (opts && opts->size >= offsetof(struct xs_fabric_opts, gid_index) &&
	    opts->attach_timeout_ms > 0)
		timeout = opts->attach_timeout_ms;
	snprintf(f->attr.dev_name, sizeof(f->attr.dev_name), "soft");
	snprintf(f->attr.port_name, sizeof(f->attr.port_name), "%s", f->port_name);
	f->attr.port_num = 1;
	f->attr.link_layer = XS_LINK_IB;
	f->attr.max_msg_size = SOFT_MAX_MSG;
	f->dfd = -1;
	f->epfd = f->wakefd = f->evfd = -1;
	f->next_agent_id = 1;
	f->mr_gen = (uint32_t)getpid();
	pthread_mutex_init(&f->lock, NULL);
	pthread_mutex_init(&f->dsend_lock, NULL);
	pthread_mutex_init(&f->ev_lock, NULL);
	pthread_mutex_init(&f->rpc_lock, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&f->rpc_cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	pthread_rwlock_init(&f->mr_lock, NULL);

	rc = attach(f, timeout);
	if (rc < 0)
		goto err_free;
	f->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	f->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	f->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (f->evfd < 0 || f->wakefd < 0 || f->epfd < 0) {
		rc = -errno;
		goto err_fds;
	}
	ee.data.u64 = (uint64_t)SOFT_TAG_DAEMON << 32;
	if (epoll_ctl(f->epfd, EPOLL_CTL_ADD, f->dfd, &ee) < 0) {
		rc = -errno;
		goto err_fds;
	}
	ee.data.u64 = (uint64_t)SOFT_TAG_WAKE << 32;
	if (epoll_ctl(f->epfd, EPOLL_CTL_ADD, f->wakefd, &ee) < 0) {
		rc = -errno;
		goto err_fds;
	}
	rc = -pthread_create(&f->thread, NULL, progress_main, f);
	if (rc < 0)
		goto err_fds;
	f->thread_started = true;
	return &f->base;

err_fds:
	if (f->epfd >= 0)
		close(f->epfd);
	if (f->wakefd >= 0)
		close(f->wakefd);
	if (f->evfd >= 0)
		close(f->evfd);
	close(f->dfd);
err_free:
	pthread_rwlock_destroy(&f->mr_lock);
	pthread_cond_destroy(&f->rpc_cond);
	pthread_mutex_destroy(&f->rpc_lock);
	pthread_mutex_destroy(&f->ev_lock);
	pthread_mutex_destroy(&f->dsend_lock);
	pthread_mutex_destroy(&f->lock);
	free(f);
	errno = -rc;
	return NULL;
}

static void soft_close(struct xs_fabric *xf)
{
	struct soft_fabric *f = to_sf(xf);

	if (f->thread_started) {
		f->stop = true;
		evfd_signal(f->wakefd);
		pthread_join(f->thread, NULL);
	}
	soft_qp_free_all(f);
	while (f->listeners) {
		struct soft_listener *l = f->listeners;

		f->listeners = l->next;
		free(l);
	}
	while (f->reqs) {
		struct soft_req *r = f->reqs;

		f->reqs = r->next;
		free(r);
	}
	while (f->agents) {
		struct soft_agent *a = f->agents;

		f->agents = a->next;
		close(a->evfd);
		pthread_mutex_destroy(&a->lock);
		free(a->q);
		free(a);
	}
	while (f->cqs) {
		struct soft_cq *cq = f->cqs;

		f->cqs = cq->next;
		close(cq->epfd);
		close(cq->evfd);
		pthread_mutex_destroy(&cq->qlock);
		pthread_mutex_destroy(&cq->lock);
		free(cq->qps);
		free(cq->ring);
		free(cq);
	}
	for (uint32_t i = 0; i < f->n_mrs; i++)
		free(f->mrs[i]);
	free(f->mrs);
	while (f->ev_head) {
		struct soft_event *e = f->ev_head;

		f->ev_head = e->next;
		free(e);
	}
	if (f->dfd >= 0)
		close(f->dfd);
	close(f->epfd);
	close(f->wakefd);
	close(f->evfd);
	pthread_rwlock_destroy(&f->mr_lock);
	pthread_cond_destroy(&f->rpc_cond);
	pthread_mutex_destroy(&f->rpc_lock);
	pthread_mutex_destroy(&f->ev_lock);
	pthread_mutex_destroy(&f->dsend_lock);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

static int soft_query_port(struct xs_fabric *xf, struct xs_port_attr *attr)
{
	struct soft_fabric *f = to_sf(xf);

	pthread_mutex_lock(&f->lock);
	*attr = f->attr;
	pthread_mutex_unlock(&f->lock);
	return 0;
}

/* --------------------------------------------------- daemon messages */

static void daemon_down(struct soft_fabric *f, const char *why)
{
	struct xs_event ev = { .type = XS_EV_PORT_CHANGE };

	XS_WARN(SOFT_COMP, "lost xs-fabricd at %s (%s): port '%s' is DOWN; connected QPs keep "
		"working", f->sock_path, why, f->port_name);
	epoll_ctl(f->epfd, EPOLL_CTL_DEL, f->dfd, NULL);
	pthread_mutex_lock(&f->dsend_lock);
	close(f->dfd);
	f->dfd = -1;
	pthread_mutex_unlock(&f->dsend_lock);
	pthread_mutex_lock(&f->rpc_lock);
	pthread_cond_broadcast(&f->rpc_cond);
	pthread_mutex_unlock(&f->rpc_lock);
	f->attr.state = XS_PORT_DOWN;
	ev.attr = f->attr;
	soft_push_event(f, &ev);
	/* connects in progress can't finish without the daemon */
	for (uint32_t i = 0; i < f->n_qps; i++) {
		struct soft_qp *qp = f->qps[i];

		if (!qp)
			continue;
		pthread_mutex_lock(&qp->lock);
		if (qp->base.state == XS_QPS_CONNECTING && qp->sock < 0) {
			struct xs_event u = { .type = XS_EV_UNREACHABLE, .qp = &qp->base,
					      .status = -EHOSTUNREACH };

			qp->base.state = XS_QPS_RESET;
			soft_push_event(f, &u);
		}
		pthread_mutex_unlock(&qp->lock);
	}
}

static struct soft_agent *agent_for(struct soft_fabric *f, const uint8_t *mad)
{
	uint8_t mclass = mad[1], version = mad[2], method = mad[3];
	struct soft_agent *a;

	if (method & XS_MAD_METHOD_RESP_BIT) {
		uint32_t id = xs_get32(mad + 8);

		for (a = f->agents; a; a = a->next)
			if (a->id == id && a->base.mgmt_class == mclass)
				return a;
		return NULL;
	}
	for (a = f->agents; a; a = a->next) {
		if (a->base.mgmt_class != mclass || a->base.class_version != version ||
		    !(a->base.flags & XS_MAD_AGENT_SERVER))
			continue;
		/* vendor range 2 (0x30..0x4f) is addressed by OUI too (bytes 37..39) */
		if (mclass >= 0x30 && mclass <= 0x4f && a->base.has_oui &&
		    memcmp(a->base.oui, mad + 37, 3) != 0)
			continue;
		return a;
	}
	return NULL;
}

/* Double the agent's MAD ring (lock held); -ENOSPC at the bound. */
static int agent_queue_grow(struct soft_agent *a)
{
	int ncap = a->qcap ? a->qcap * 2 : SOFT_AGENT_QUEUE_MIN;
	struct soft_mad *nq;

	if (ncap > SOFT_AGENT_QUEUE_MAX)
		return -ENOSPC;
	nq = malloc((size_t)ncap * sizeof(*nq));
	if (!nq)
		return -ENOMEM;
	for (int i = 0; i < a->count; i++)
		nq[i] = a->q[(a->head + i) % a->qcap];
	free(a->q);
	a->q = nq;
	a->qcap = ncap;
	a->head = 0;
	return 0;
}

static void on_mad(struct soft_fabric *f, const struct xs_softp_mad_recv *m)
{
	struct soft_agent *a = agent_for(f, m->mad);
	struct soft_mad *slot;

	if (!a) {
		f->mad_drops++;
		XS_DEBUG(SOFT_COMP, "MAD class 0x%02x method 0x%02x from LID %u: no agent, dropped",
			 m->mad[1], m->mad[3], m->slid);
		return;
	}
	pthread_mutex_lock(&a->lock);
	if (a->count == a->qcap && agent_queue_grow(a) < 0) {
		uint64_t drops = ++a->drops;

		pthread_mutex_unlock(&a->lock);
		if ((drops & (drops - 1)) == 0) /* 1st, 2nd, 4th, 8th, ... */
			XS_WARN(SOFT_COMP,
				"MAD agent class 0x%02x: %d MADs waiting, none read; dropped %llu "
				"so far",
				a->base.mgmt_class, a->qcap, (unsigned long long)drops);
		return;
	}
	slot = &a->q[(a->head + a->count) % a->qcap];
	memset(&slot->src, 0, sizeof(slot->src));
	slot->src.lid = m->slid;
	slot->src.qpn = m->sqpn;
	slot->src.qkey = XS_GSI_QKEY;
	slot->src.pkey = m->pkey;
	slot->src.sl = m->sl;
	memcpy(slot->src.gid, m->sgid, 16);
	slot->len = m->mad_len;
	memcpy(slot->mad, m->mad, m->mad_len);
	a->count++;
	if (!a->signaled) {
		a->signaled = true;
		evfd_signal(a->evfd);
	}
	pthread_mutex_unlock(&a->lock);
}

static void on_req_ind(struct soft_fabric *f, const struct xs_softp_cm_req_ind *m)
{
	struct xs_event ev = { .type = XS_EV_CONNECT_REQUEST };
	struct soft_listener *l;
	struct soft_req *r;

	for (l = f->listeners; l; l = l->next)
		if (l->base.service_id == m->service_id)
			break;
	r = l ? calloc(1, sizeof(*r)) : NULL;
	if (!r) {
		struct xs_softp_cm_rej rej;

		hdr_init(&rej, XS_SOFTP_CM_REJ, 0);
		rej.conn_id = m->conn_id;
		rej.reason = XS_CM_REJ_INVALID_SID;
		soft_dsend(f, &rej);
		return;
	}
	r->base.fabric = &f->base;
	r->conn_id = m->conn_id;
	r->base.info.service_id = m->service_id;
	r->base.info.remote_lid = m->remote_lid;
	memcpy(r->base.info.remote_gid, m->remote_gid, 16);
	r->base.info.remote_port_guid = m->remote_port_guid;
	r->base.info.pkey = m->pkey;
	r->base.info.private_len = m->private_len;
	memcpy(r->base.info.private_data, m->private_data, m->private_len);
	r->next = f->reqs;
	f->reqs = r;
	ev.listener = &l->base;
	ev.req = &r->base;
	memcpy(ev.private_data, m->private_data, m->private_len);
	ev.private_len = m->private_len;
	soft_push_event(f, &ev);
}

static struct soft_qp *connecting_qp(struct soft_fabric *f, uint32_t cookie)
{
	struct soft_qp *qp = soft_qp_lookup(f, cookie);

	if (!qp)
		return NULL;
	pthread_mutex_lock(&qp->lock);
	if (qp->base.state != XS_QPS_CONNECTING || qp->sock != -1) {
		pthread_mutex_unlock(&qp->lock);
		return NULL;
	}
	return qp; /* locked */
}

static void on_established(struct soft_fabric *f, const struct xs_softp_cm_established *m, int fd)
{
	struct soft_qp *qp = connecting_qp(f, m->cookie);
	struct xs_event ev = { .type = XS_EV_ESTABLISHED };

	if (!qp) {
		/* gave up meanwhile: closing our end tells the peer */
		if (fd >= 0)
			close(fd);
		return;
	}
	if (fd < 0 || soft_qp_attach_sock(qp, fd) < 0) {
		struct xs_event u = { .type = XS_EV_UNREACHABLE, .qp = &qp->base,
				      .status = -EHOSTUNREACH };

		if (fd >= 0)
			close(fd);
		qp->base.state = XS_QPS_RESET;
		soft_push_event(f, &u);
		pthread_mutex_unlock(&qp->lock);
		return;
	}
	ev.qp = &qp->base;
	memcpy(ev.private_data, m->private_data, m->private_len);
	ev.private_len = m->private_len;
	soft_push_event(f, &ev);
	pthread_mutex_unlock(&qp->lock);
}

static void on_rej_ind(struct soft_fabric *f, const struct xs_softp_cm_rej_ind *m)
{
	struct soft_qp *qp = connecting_qp(f, m->cookie);
	struct xs_event ev = { .type = XS_EV_REJECTED };

	if (!qp)
		return;
	qp->base.state = XS_QPS_RESET;
	ev.qp = &qp->base;
	ev.reject_reason = m->reason;
	memcpy(ev.private_data, m->private_data, m->private_len);
	ev.private_len = m->private_len;
	soft_push_event(f, &ev);
	pthread_mutex_unlock(&qp->lock);
}

static void on_unreach(struct soft_fabric *f, const struct xs_softp_cm_unreach *m)
{
	struct soft_qp *qp = connecting_qp(f, m->cookie);
	struct xs_event ev = { .type = XS_EV_UNREACHABLE };

	if (!qp)
		return;
	qp->base.state = XS_QPS_RESET;
	ev.qp = &qp->base;
	ev.status = m->status;
	soft_push_event(f, &ev);
	pthread_mutex_unlock(&qp->lock);
}

static void on_cancel(struct soft_fabric *f, const struct xs_softp_cm_cancel *m)
{
	for (struct soft_req *r = f->reqs; r; r = r->next)
		if (r->conn_id == m->conn_id)
			r->cancelled = true;
}

/* f->lock held. Returns false when the daemon connection is gone. */
static bool daemon_read(struct soft_fabric *f)
{
	union {
		uint8_t b[XS_SOFTP_MAX_MSG + 1];
		struct xs_softp_hdr h;
		uint64_t align;
	} u;
	union {
		char b[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} cbuf;

	for (int budget = 64; budget > 0; budget--) {
		struct iovec iov = { .iov_base = u.b, .iov_len = sizeof(u.b) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.b,
				     .msg_controllen = sizeof(cbuf.b) };
		const char *why = NULL;
		int fd = -1, type;
		ssize_t n;

		n = recvmsg(f->dfd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return true;
		if (n <= 0) {
			daemon_down(f, n < 0 ? strerror(errno) : "connection closed");
			return false;
		}
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
				continue;
			for (size_t i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
				int pfd;

				memcpy(&pfd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
				if (fd < 0)
					fd = pfd;
				else
					close(pfd);
			}
		}
		type = xs_softp_decode(u.b, (mh.msg_flags & MSG_TRUNC) ? sizeof(u.b) : (size_t)n,
				       false, &why);
		if (type < 0) {
			XS_ERR(SOFT_COMP, "bad message from xs-fabricd (%zd bytes): %s", n, why);
			if (fd >= 0)
				close(fd);
			daemon_down(f, "protocol error");
			return false;
		}
		switch (type) {
		case XS_SOFTP_MAD_RECV:
			on_mad(f, (const void *)u.b);
			break;
		case XS_SOFTP_CM_LISTEN_REPLY:
		case XS_SOFTP_AGENT_REPLY:
		case XS_SOFTP_CM_REP_REPLY: {
			const struct xs_softp_status *s = (const void *)u.b;

			rpc_complete(f, &u.h, s->status, fd);
			fd = -1;
			break;
		}
		case XS_SOFTP_CM_REQ_IND:
			on_req_ind(f, (const void *)u.b);
			break;
		case XS_SOFTP_CM_ESTABLISHED:
			on_established(f, (const void *)u.b, fd);
			fd = -1;
			break;
		case XS_SOFTP_CM_REJ_IND:
			on_rej_ind(f, (const void *)u.b);
			break;
		case XS_SOFTP_CM_UNREACH:
			on_unreach(f, (const void *)u.b);
			break;
		case XS_SOFTP_CM_CANCEL:
			on_cancel(f, (const void *)u.b);
			break;
		case XS_SOFTP_PORT_CHANGE: {
			const struct xs_softp_port_change *pc = (const void *)u.b;
			struct xs_event ev = { .type = XS_EV_PORT_CHANGE };

			port_from_wire(f, &pc->port);
			ev.attr = f->attr;
			soft_push_event(f, &ev);
			break;
		}
		default:
			XS_DEBUG(SOFT_COMP, "unexpected %s from xs-fabricd ignored",
				 xs_softp_type_name(type));
			break;
		}
		if (fd >= 0)
			close(fd);
	}
	return true;
}

/* ------------------------------------------------------ progress thread */

static void *progress_main(void *arg)
{
	struct soft_fabric *f = arg;
	struct epoll_event evs[64];
	int timeout = -1;

	while (!f->stop) {
		int n = epoll_wait(f->epfd, evs, (int)XS_ARRAY_SIZE(evs), timeout);
		uint64_t now;

		if (n < 0 && errno != EINTR) {
			XS_ERR(SOFT_COMP, "progress thread: epoll_wait: %s", strerror(errno));
			break;
		}
		pthread_mutex_lock(&f->lock);
		for (int i = 0; i < n; i++) {
			uint32_t tag = (uint32_t)(evs[i].data.u64 >> 32);
			uint32_t id = (uint32_t)evs[i].data.u64;

			if (tag == SOFT_TAG_DAEMON && f->dfd >= 0) {
				daemon_read(f);
			} else if (tag == SOFT_TAG_WAKE) {
				evfd_drain(f->wakefd);
			} else if (tag == SOFT_TAG_QP) {
				struct soft_qp *qp = soft_qp_lookup(f, id);

				if (!qp)
					continue;
				pthread_mutex_lock(&qp->lock);
				if (!(evs[i].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) &&
				    soft_qp_app_owned(qp, xs_now_ms())) {
					/* its application is polling: leave it the socket */
					qp->pt_disarmed = true;
					soft_epoll_update(qp);
				} else {
					soft_qp_io(qp, evs[i].events);
				}
				pthread_mutex_unlock(&qp->lock);
			}
		}
		now = xs_now_ms();
		timeout = -1;
		for (uint32_t i = 0; i < f->n_qps; i++) {
			struct soft_qp *qp = f->qps[i];
			int t;

			if (!qp)
				continue;
			/* a QP busy in an application thread is checked again soon
			 * rather than waited for */
			if (pthread_mutex_trylock(&qp->lock) != 0) {
				t = 1;
			} else {
				t = soft_qp_timers(qp, now);
				pthread_mutex_unlock(&qp->lock);
			}
			if (t >= 0 && (timeout < 0 || t < timeout))
				timeout = t;
		}
		pthread_mutex_unlock(&f->lock);
	}
	return NULL;
}

/* ------------------------------------------------- connection manager */

static int soft_cm_reject(struct xs_cm_request *xr, uint16_t reason, const void *pdata,
			  size_t plen);

static struct xs_cm_listener *soft_cm_listen(struct xs_fabric *xf, uint64_t service_id)
{
	struct soft_fabric *f = to_sf(xf);
	struct soft_listener *l = calloc(1, sizeof(*l));
	struct xs_softp_listen m;
	int rc;

	if (!l)
		return NULL;
	hdr_init(&m, XS_SOFTP_CM_LISTEN, 0);
	m.service_id = service_id;
	rc = rpc_call(f, &m, XS_SOFTP_CM_LISTEN_REPLY, 5000, NULL);
	if (rc < 0) {
		XS_DEBUG(SOFT_COMP, "listen on service 0x%016llx: %s",
			 (unsigned long long)service_id, xs_strerror(rc));
		free(l);
		errno = -rc;
		return NULL;
	}
	l->base.fabric = xf;
	l->base.service_id = service_id;
	pthread_mutex_lock(&f->lock);
	l->next = f->listeners;
	f->listeners = l;
	pthread_mutex_unlock(&f->lock);
	return &l->base;
}

static int soft_cm_listener_close(struct xs_cm_listener *xl)
{
	struct soft_fabric *f = to_sf(xl->fabric);
	struct soft_listener *l = xs_container_of(xl, struct soft_listener, base);
	struct xs_softp_listen m;

	struct soft_event *gone = NULL;

	pthread_mutex_lock(&f->lock);
	for (struct soft_listener **pp = &f->listeners; *pp; pp = &(*pp)->next)
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	/* requests the application hasn't seen yet go with the listener */
	pthread_mutex_lock(&f->ev_lock);
	for (struct soft_event **pp = &f->ev_head; *pp;) {
		struct soft_event *e = *pp;

		if (e->ev.listener == xl) {
			*pp = e->next;
			e->next = gone;
			gone = e;
		} else {
			pp = &e->next;
		}
	}
	f->ev_tail = NULL;
	for (struct soft_event *e = f->ev_head; e; e = e->next)
		f->ev_tail = e;
	pthread_mutex_unlock(&f->ev_lock);
	pthread_mutex_unlock(&f->lock);
	while (gone) {
		struct soft_event *e = gone;

		gone = e->next;
		if (e->ev.req)
			soft_cm_reject(e->ev.req, XS_CM_REJ_INVALID_SID, NULL, 0);
		free(e);
	}
	hdr_init(&m, XS_SOFTP_CM_UNLISTEN, 0);
	m.service_id = xl->service_id;
	soft_dsend(f, &m);
	free(l);
	return 0;
}

static int soft_qp_connect(struct xs_qp *xqp, const struct xs_cm_dest *dest, uint64_t service_id,
			   const void *pdata, size_t plen, int timeout_ms)
{
	struct soft_qp *qp = to_sqp(xqp);
	struct soft_fabric *f = qp->f;
	struct xs_softp_cm_req m;
	int rc;

	if (!dest->has_gid && !dest->lid)
		return -EINVAL;
	pthread_mutex_lock(&qp->lock);
	if (qp->base.state != XS_QPS_RESET) {
		pthread_mutex_unlock(&qp->lock);
		return qp->base.state == XS_QPS_RTS ? -EISCONN : -EINVAL;
	}
	qp->base.state = XS_QPS_CONNECTING;
	pthread_mutex_unlock(&qp->lock);

	hdr_init(&m, XS_SOFTP_CM_REQ, 0);
	m.service_id = service_id;
	m.cookie = qp->base.qpn;
	m.timeout_ms = (uint32_t)XS_MIN(timeout_ms, 600000);
	m.dlid = dest->lid;
	m.pkey = dest->pkey;
	m.has_gid = dest->has_gid;
	if (dest->has_gid)
		memcpy(m.dgid, dest->gid, 16);
	m.private_len = (uint16_t)plen;
	if (plen)
		memcpy(m.private_data, pdata, plen);
	rc = soft_dsend(f, &m);
	if (rc < 0) {
		pthread_mutex_lock(&qp->lock);
		if (qp->base.state == XS_QPS_CONNECTING && qp->sock < 0)
			qp->base.state = XS_QPS_RESET;
		pthread_mutex_unlock(&qp->lock);
		XS_ERR(SOFT_COMP, "connect: xs-fabricd at %s is not reachable: %s", f->sock_path,
		       xs_strerror(rc));
		return rc;
	}
	return 0;
}

static struct soft_req *take_req(struct soft_fabric *f, struct xs_cm_request *xr)
{
	struct soft_req *r = xs_container_of(xr, struct soft_req, base);

	for (struct soft_req **pp = &f->reqs; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			return r;
		}
	return NULL;
}

static int soft_qp_accept(struct xs_qp *xqp, struct xs_cm_request *xr, const void *pdata,
			  size_t plen)
{
	struct soft_qp *qp = to_sqp(xqp);
	struct soft_fabric *f = qp->f;
	struct xs_event ev = { .type = XS_EV_ESTABLISHED, .qp = xqp };
	struct xs_softp_cm_rep m;
	struct soft_req *r;
	int rc, fd = -1;

	pthread_mutex_lock(&f->lock);
	r = take_req(f, xr);
	if (!r) {
		pthread_mutex_unlock(&f->lock);
		return -EINVAL;
	}
	if (r->cancelled) {
		pthread_mutex_unlock(&f->lock);
		free(r);
		return -ECONNABORTED;
	}
	pthread_mutex_lock(&qp->lock);
	if (qp->base.state != XS_QPS_RESET) {
		pthread_mutex_unlock(&qp->lock);
		r->next = f->reqs; /* not consumed: the caller may try another QP */
		f->reqs = r;
		pthread_mutex_unlock(&f->lock);
		return -EINVAL;
	}
	qp->base.state = XS_QPS_CONNECTING;
	qp->sock = -2; /* passive: no daemon events for this QP */
	pthread_mutex_unlock(&qp->lock);
	pthread_mutex_unlock(&f->lock);

	hdr_init(&m, XS_SOFTP_CM_REP, 0);
	m.conn_id = r->conn_id;
	m.qpn = qp->base.qpn;
	m.private_len = (uint16_t)plen;
	if (plen)
		memcpy(m.private_data, pdata, plen);
	free(r);
	rc = rpc_call(f, &m, XS_SOFTP_CM_REP_REPLY, 5000, &fd);
	if (rc == 0 && fd < 0)
		rc = -EPROTO;

	pthread_mutex_lock(&f->lock);
	pthread_mutex_lock(&qp->lock);
	qp->sock = -1;
	if (rc == 0)
		rc = soft_qp_attach_sock(qp, fd);
	if (rc < 0) {
		if (fd >= 0)
			close(fd);
		qp->base.state = XS_QPS_RESET;
	} else {
		soft_push_event(f, &ev);
	}
	pthread_mutex_unlock(&qp->lock);
	pthread_mutex_unlock(&f->lock);
	return rc;
}

static int soft_cm_reject(struct xs_cm_request *xr, uint16_t reason, const void *pdata,
			  size_t plen)
{
	struct soft_fabric *f = to_sf(xr->fabric);
	struct xs_softp_cm_rej m;
	struct soft_req *r;
	bool cancelled;

	pthread_mutex_lock(&f->lock);
	r = take_req(f, xr);
	pthread_mutex_unlock(&f->lock);
	if (!r)
		return -EINVAL;
	hdr_init(&m, XS_SOFTP_CM_REJ, 0);
	m.conn_id = r->conn_id;
	m.reason = reason;
	m.private_len = (uint16_t)plen;
	if (plen)
		memcpy(m.private_data, pdata, plen);
	cancelled = r->cancelled;
	free(r);
	if (cancelled)
		return -ECONNABORTED;
	return soft_dsend(f, &m);
}

/* ------------------------------------------------------------- MADs */

static struct xs_mad_agent *soft_agent_register(struct xs_fabric *xf, uint8_t mgmt_class,
						 uint8_t class_version, const uint8_t oui[3],
						 unsigned int flags)
{
	struct soft_fabric *f = to_sf(xf);
	struct soft_agent *a = calloc(1, sizeof(*a));
	struct xs_softp_agent m;
	int rc;

	if (!a)
		return NULL;
	xs_mad_agent_init(&a->base, xf, mgmt_class, class_version, oui, flags);
	a->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (a->evfd < 0) {
		rc = -errno;
		goto err_free;
	}
	pthread_mutex_init(&a->lock, NULL);
	hdr_init(&m, XS_SOFTP_AGENT_REG, 0);
	m.mgmt_class = mgmt_class;
	m.class_version = class_version;
	pthread_mutex_lock(&f->lock);
	a->id = f->next_agent_id++;
	a->next = f->agents;
	f->agents = a;
	pthread_mutex_unlock(&f->lock);
	/* wait for the daemon: once this returns, MADs for the class reach us */
	rc = rpc_call(f, &m, XS_SOFTP_AGENT_REPLY, 5000, NULL);
	if (rc < 0) {
		pthread_mutex_lock(&f->lock);
		for (struct soft_agent **pp = &f->agents; *pp; pp = &(*pp)->next)
			if (*pp == a) {
				*pp = a->next;
				break;
			}
		pthread_mutex_unlock(&f->lock);
		goto err_close;
	}
	return &a->base;

err_close:
	pthread_mutex_destroy(&a->lock);
	close(a->evfd);
err_free:
	free(a);
	errno = -rc;
	return NULL;
}

static int soft_agent_unregister(struct xs_mad_agent *xa)
{
	struct soft_fabric *f = to_sf(xa->fabric);
	struct soft_agent *a = xs_container_of(xa, struct soft_agent, base);
	struct xs_softp_agent m;

	pthread_mutex_lock(&f->lock);
	for (struct soft_agent **pp = &f->agents; *pp; pp = &(*pp)->next)
		if (*pp == a) {
			*pp = a->next;
			break;
		}
	pthread_mutex_unlock(&f->lock);
	hdr_init(&m, XS_SOFTP_AGENT_UNREG, 0);
	m.mgmt_class = xa->mgmt_class;
	m.class_version = xa->class_version;
	soft_dsend(f, &m);
	close(a->evfd);
	pthread_mutex_destroy(&a->lock);
	free(a->q);
	free(a);
	return 0;
}

static int soft_agent_fd(struct xs_mad_agent *xa)
{
	return xs_container_of(xa, struct soft_agent, base)->evfd;
}

static int soft_mad_send(struct xs_mad_agent *xa, const struct xs_mad_addr *dst, const void *mad,
			 size_t len)
{
	struct soft_fabric *f = to_sf(xa->fabric);
	struct soft_agent *a = xs_container_of(xa, struct soft_agent, base);
	struct xs_softp_mad_send m;

	hdr_init(&m, XS_SOFTP_MAD_SEND, 0);
	m.dlid = dst->lid;
	m.pkey = dst->pkey ? dst->pkey : XS_DEFAULT_PKEY;
	m.dqpn = dst->qpn;
	m.qkey = dst->qkey ? dst->qkey : XS_GSI_QKEY;
	m.sl = dst->sl;
	m.mad_len = (uint16_t)len;
	memcpy(m.mad, mad, len);
	/* requests carry our agent in the high TID bits, so the reply finds us */
	if (!(m.mad[3] & XS_MAD_METHOD_RESP_BIT))
		xs_put32(m.mad + 8, a->id);
	return soft_dsend(f, &m);
}

static int soft_mad_recv(struct xs_mad_agent *xa, struct xs_mad_addr *src, void *mad, size_t cap,
			 int timeout_ms)
{
	struct soft_agent *a = xs_container_of(xa, struct soft_agent, base);
	uint64_t deadline = xs_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);

	for (;;) {
		struct pollfd p = { .fd = a->evfd, .events = POLLIN };
		uint64_t now;
		int left;

		pthread_mutex_lock(&a->lock);
		if (a->count) {
			struct soft_mad *s = &a->q[a->head];
			size_t n = XS_MIN(cap, (size_t)s->len);

			if (src)
				*src = s->src;
			memcpy(mad, s->mad, n);
			a->head = (a->head + 1) % a->qcap;
			a->count--;
			if (!a->count && a->signaled) {
				a->signaled = false;
				evfd_drain(a->evfd);
			}
			pthread_mutex_unlock(&a->lock);
			return (int)n;
		}
		pthread_mutex_unlock(&a->lock);
		if (timeout_ms == 0)
			return -EAGAIN;
		now = xs_now_ms();
		if (timeout_ms > 0 && now >= deadline)
			return -ETIMEDOUT;
		left = timeout_ms < 0 ? -1 : (int)(deadline - now);
		if (poll(&p, 1, left) < 0 && errno != EINTR)
			return -errno;
	}
}

const struct xs_fabric_ops xs_soft_ops = {
	.name = "soft",
	.open = soft_open,
	.close = soft_close,
	.query_port = soft_query_port,
	.event_fd = soft_event_fd,
	.get_event = soft_get_event,
	.pd_alloc = soft_pd_alloc,
	.pd_free = soft_pd_free,
	.mr_reg = soft_mr_reg,
	.mr_dereg = soft_mr_dereg,
	.cq_create = soft_cq_create,
	.cq_destroy = soft_cq_destroy,
	.cq_fd = soft_cq_fd,
	.cq_poll = soft_cq_poll,
	.qp_create = soft_qp_create,
	.qp_destroy = soft_qp_destroy,
	.post_send = soft_post_send,
	.post_recv = soft_post_recv,
	.cm_listen = soft_cm_listen,
	.cm_listener_close = soft_cm_listener_close,
	.qp_connect = soft_qp_connect,
	.qp_accept = soft_qp_accept,
	.cm_reject = soft_cm_reject,
	.qp_disconnect = soft_qp_disconnect,
	.mad_agent_register = soft_agent_register,
	.mad_agent_unregister = soft_agent_unregister,
	.mad_agent_fd = soft_agent_fd,
	.mad_send = soft_mad_send,
	.mad_recv = soft_mad_recv,
};
