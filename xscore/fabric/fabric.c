/* SPDX-License-Identifier: MIT */
/*
 * fabric.c - the front end of the fabric API: picks a backend from the spec
 * string and forwards every call through the backend's ops table, with the
 * operations a backend leaves out answered by stubs (-EOPNOTSUPP).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>

#include <xscore/log.h>

#include "fabric_provider.h"

#define COMP "fabric"

static const struct xs_fabric_ops *const backends[] = {
	&xs_soft_ops,
#ifdef XS_HAVE_VERBS
	&xs_verbs_ops,
	&xs_umad_ops,
#endif
};
#define N_BACKENDS XS_ARRAY_SIZE(backends)

/* ----------------------------------------------------- -EOPNOTSUPP stubs */
static int st_int_f(struct xs_fabric *f) { return -EOPNOTSUPP; }
static int st_query_port(struct xs_fabric *f, struct xs_port_attr *a) { return -EOPNOTSUPP; }
static int st_get_event(struct xs_fabric *f, struct xs_event *ev) { return -EOPNOTSUPP; }
static void st_close(struct xs_fabric *f) { }
static struct xs_pd *st_pd_alloc(struct xs_fabric *f) { errno = EOPNOTSUPP; return NULL; }
static int st_pd_free(struct xs_pd *pd) { return -EOPNOTSUPP; }
static struct xs_mr *st_mr_reg(struct xs_pd *pd, void *a, size_t l, int acc)
{
	errno = EOPNOTSUPP;
	return NULL;
}
static int st_mr_dereg(struct xs_mr *mr) { return -EOPNOTSUPP; }
static struct xs_cq *st_cq_create(struct xs_fabric *f, int d) { errno = EOPNOTSUPP; return NULL; }
static int st_cq_int(struct xs_cq *cq) { return -EOPNOTSUPP; }
static int st_cq_poll(struct xs_cq *cq, struct xs_wc *wc, int n) { return -EOPNOTSUPP; }
static struct xs_qp *st_qp_create(struct xs_fabric *f, const struct xs_qp_attr *a)
{
	errno = EOPNOTSUPP;
	return NULL;
}
static int st_qp_int(struct xs_qp *qp) { return -EOPNOTSUPP; }
static int st_post_send(struct xs_qp *qp, const struct xs_send_wr *wr) { return -EOPNOTSUPP; }
static int st_post_recv(struct xs_qp *qp, const struct xs_recv_wr *wr) { return -EOPNOTSUPP; }
static struct xs_cm_listener *st_cm_listen(struct xs_fabric *f, uint64_t sid)
{
	errno = EOPNOTSUPP;
	return NULL;
}
static int st_listener_close(struct xs_cm_listener *l) { return -EOPNOTSUPP; }
static int st_qp_connect(struct xs_qp *qp, const struct xs_cm_dest *d, uint64_t sid,
			 const void *p, size_t l, int t)
{
	return -EOPNOTSUPP;
}
static int st_qp_accept(struct xs_qp *qp, struct xs_cm_request *r, const void *p, size_t l)
{
	return -EOPNOTSUPP;
}
static int st_cm_reject(struct xs_cm_request *r, uint16_t reason, const void *p, size_t l)
{
	return -EOPNOTSUPP;
}
static struct xs_mad_agent *st_agent_reg(struct xs_fabric *f, uint8_t c, uint8_t v,
					 const uint8_t oui[3], unsigned int fl)
{
	errno = EOPNOTSUPP;
	return NULL;
}
static int st_agent_int(struct xs_mad_agent *a) { return -EOPNOTSUPP; }
static int st_mad_send(struct xs_mad_agent *a, const struct xs_mad_addr *d, const void *m,
		       size_t l)
{
	return -EOPNOTSUPP;
}
static int st_mad_recv(struct xs_mad_agent *a, struct xs_mad_addr *s, void *m, size_t c, int t)
{
	return -EOPNOTSUPP;
}

static const struct xs_fabric_ops stub_ops = {
	.name = "stub",
	.close = st_close,
	.query_port = st_query_port,
	.event_fd = st_int_f,
	.get_event = st_get_event,
	.pd_alloc = st_pd_alloc,
	.pd_free = st_pd_free,
	.mr_reg = st_mr_reg,
	.mr_dereg = st_mr_dereg,
	.cq_create = st_cq_create,
	.cq_destroy = st_cq_int,
	.cq_fd = st_cq_int,
	.cq_poll = st_cq_poll,
	.qp_create = st_qp_create,
	.qp_destroy = st_qp_int,
	.post_send = st_post_send,
	.post_recv = st_post_recv,
	.cm_listen = st_cm_listen,
	.cm_listener_close = st_listener_close,
	.qp_connect = st_qp_connect,
	.qp_accept = st_qp_accept,
	.cm_reject = st_cm_reject,
	.qp_disconnect = st_qp_int,
	.mad_agent_register = st_agent_reg,
	.mad_agent_unregister = st_agent_int,
	.mad_agent_fd = st_agent_int,
	.mad_send = st_mad_send,
	.mad_recv = st_mad_recv,
};

/* Each backend's ops merged over the stubs, built once. */
static struct xs_fabric_ops resolved[N_BACKENDS];
static pthread_once_t resolved_once = PTHREAD_ONCE_INIT;

#define MERGE(dst, src, field)            \
	do {                              \
		if ((src)->field)          \
			(dst)->field = (src)->field; \
	} while (0)

static void resolve_ops(void)
{
	for (size_t i = 0; i < N_BACKENDS; i++) {
		const struct xs_fabric_ops *b = backends[i];
		struct xs_fabric_ops *r = &resolved[i];

		*r = stub_ops;
		r->name = b->name;
		r->open = b->open;
		MERGE(r, b, close);
		MERGE(r, b, query_port);
		MERGE(r, b, event_fd);
		MERGE(r, b, get_event);
		MERGE(r, b, pd_alloc);
		MERGE(r, b, pd_free);
		MERGE(r, b, mr_reg);
		MERGE(r, b, mr_dereg);
		MERGE(r, b, cq_create);
		MERGE(r, b, cq_destroy);
		MERGE(r, b, cq_fd);
		MERGE(r, b, cq_poll);
		MERGE(r, b, qp_create);
		MERGE(r, b, qp_destroy);
		MERGE(r, b, post_send);
		MERGE(r, b, post_recv);
		MERGE(r, b, cm_listen);
		MERGE(r, b, cm_listener_close);
		MERGE(r, b, qp_connect);
		MERGE(r, b, qp_accept);
		MERGE(r, b, cm_reject);
		MERGE(r, b, qp_disconnect);
		MERGE(r, b, mad_agent_register);
		MERGE(r, b, mad_agent_unregister);
		MERGE(r, b, mad_agent_fd);
		MERGE(r, b, mad_send);
		MERGE(r, b, mad_recv);
	}
}

struct xs_fabric *xs_fabric_open(const char *spec, const struct xs_fabric_opts *opts)
{
	char name[32];
	const char *args = "";
	size_t n;

	if (!spec || !*spec)
		spec = "soft";
	pthread_once(&resolved_once, resolve_ops);

	n = strcspn(spec, ":");
	if (spec[n] == ':')
		args = spec + n + 1;
	if (n >= sizeof(name)) {
		XS_ERR(COMP, "fabric spec '%s': unknown backend", spec);
		errno = EPROTONOSUPPORT;
		return NULL;
	}
	memcpy(name, spec, n);
	name[n] = '\0';

	for (size_t i = 0; i < N_BACKENDS; i++) {
		struct xs_fabric *f;

		if (strcmp(resolved[i].name, name) != 0)
			continue;
		f = resolved[i].open(args, opts);
		if (!f)
			return NULL;
		f->ops = &resolved[i];
		return f;
	}
	XS_ERR(COMP, "fabric spec '%s': unknown backend '%s' (known: soft%s)", spec, name,
#ifdef XS_HAVE_VERBS
	       ", verbs, umad"
#else
	       "; this build has no rdma-core backends"
#endif
	);
	errno = EPROTONOSUPPORT;
	return NULL;
}

void xs_fabric_close(struct xs_fabric *f)
{
	if (f)
		f->ops->close(f);
}

const char *xs_fabric_backend(const struct xs_fabric *f) { return f->ops->name; }

int xs_fabric_query_port(struct xs_fabric *f, struct xs_port_attr *attr)
{
	return f->ops->query_port(f, attr);
}

int xs_fabric_pkey_index(struct xs_fabric *f, uint16_t pkey)
{
	struct xs_port_attr a;
	int rc = xs_fabric_query_port(f, &a);

	if (rc < 0)
		return rc;
	for (int i = 0; i < a.n_pkeys && i < XS_MAX_PKEYS; i++)
		if ((a.pkeys[i] & 0x7fff) == (pkey & 0x7fff) && a.pkeys[i] != 0)
			return i;
	return -ENOENT;
}

int xs_fabric_event_fd(struct xs_fabric *f) { return f->ops->event_fd(f); }

int xs_fabric_get_event(struct xs_fabric *f, struct xs_event *ev)
{
	return f->ops->get_event(f, ev);
}

static int wait_readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t deadline = timeout_ms >= 0 ? xs_now_ms() + (uint64_t)timeout_ms : 0;

	for (;;) {
		int left = -1, rc;

		if (timeout_ms >= 0) {
			uint64_t now = xs_now_ms();

			left = now >= deadline ? 0 : (int)(deadline - now);
		}
		rc = poll(&p, 1, left);
		if (rc > 0)
			return 0;
		if (rc == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

int xs_fabric_wait_event(struct xs_fabric *f, struct xs_event *ev, int timeout_ms)
{
	uint64_t deadline = xs_now_ms() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms);
	int fd = xs_fabric_event_fd(f);

	if (fd < 0)
		return fd;
	for (;;) {
		int rc = xs_fabric_get_event(f, ev);
		uint64_t now;

		if (rc != -EAGAIN)
			return rc;
		now = xs_now_ms();
		if (timeout_ms >= 0 && now >= deadline)
			return -ETIMEDOUT;
		rc = wait_readable(fd, timeout_ms < 0 ? -1 : (int)(deadline - now));
		if (rc < 0 && rc != -ETIMEDOUT)
			return rc;
	}
}

struct xs_pd *xs_pd_alloc(struct xs_fabric *f) { return f->ops->pd_alloc(f); }
int xs_pd_free(struct xs_pd *pd) { return pd ? pd->fabric->ops->pd_free(pd) : 0; }

struct xs_mr *xs_mr_reg(struct xs_pd *pd, void *addr, size_t len, int access)
{
	if (!pd || (!addr && len) || (access & ~(XS_ACCESS_LOCAL_WRITE | XS_ACCESS_REMOTE_WRITE |
						 XS_ACCESS_REMOTE_READ))) {
		errno = EINVAL;
		return NULL;
	}
	/* As in verbs: remote write needs local write. */
	if ((access & XS_ACCESS_REMOTE_WRITE) && !(access & XS_ACCESS_LOCAL_WRITE)) {
		errno = EINVAL;
		return NULL;
	}
	return pd->fabric->ops->mr_reg(pd, addr, len, access);
}

int xs_mr_dereg(struct xs_mr *mr) { return mr ? mr->pd->fabric->ops->mr_dereg(mr) : 0; }
uint32_t xs_mr_lkey(const struct xs_mr *mr) { return mr->lkey; }
uint32_t xs_mr_rkey(const struct xs_mr *mr) { return mr->rkey; }

struct xs_cq *xs_cq_create(struct xs_fabric *f, int depth)
{
	if (depth <= 0 || depth > (1 << 20)) {
		errno = EINVAL;
		return NULL;
	}
	return f->ops->cq_create(f, depth);
}

int xs_cq_destroy(struct xs_cq *cq) { return cq ? cq->fabric->ops->cq_destroy(cq) : 0; }
int xs_cq_fd(struct xs_cq *cq) { return cq->fabric->ops->cq_fd(cq); }

int xs_cq_poll(struct xs_cq *cq, struct xs_wc *wc, int n)
{
	if (n < 0 || (n > 0 && !wc))
		return -EINVAL;
	return cq->fabric->ops->cq_poll(cq, wc, n);
}

const char *xs_wc_status_str(enum xs_wc_status status)
{
	switch (status) {
	case XS_WC_SUCCESS: return "success";
	case XS_WC_LOC_LEN_ERR: return "local length error";
	case XS_WC_LOC_QP_OP_ERR: return "local QP operation error";
	case XS_WC_LOC_PROT_ERR: return "local protection error";
	case XS_WC_WR_FLUSH_ERR: return "work request flushed";
	case XS_WC_BAD_RESP_ERR: return "bad response";
	case XS_WC_LOC_ACCESS_ERR: return "local access error";
	case XS_WC_REM_INV_REQ_ERR: return "remote invalid request";
	case XS_WC_REM_ACCESS_ERR: return "remote access error";
	case XS_WC_REM_OP_ERR: return "remote operation error";
	case XS_WC_RETRY_EXC_ERR: return "transport retry counter exceeded";
	case XS_WC_RNR_RETRY_EXC_ERR: return "RNR retry counter exceeded";
	case XS_WC_GENERAL_ERR: return "general error";
	}
	return "unknown completion status";
}

struct xs_qp *xs_qp_create(struct xs_fabric *f, const struct xs_qp_attr *attr)
{
	struct xs_qp_attr a;

	if (!attr || !attr->pd || !attr->send_cq || !attr->recv_cq) {
		errno = EINVAL;
		return NULL;
	}
	a = *attr;
	if (!a.max_send_wr)
		a.max_send_wr = 64;
	if (!a.max_recv_wr)
		a.max_recv_wr = 64;
	if (!a.max_sge)
		a.max_sge = 4;
	if (!a.max_inline)
		a.max_inline = 256;
	return f->ops->qp_create(f, &a);
}

int xs_qp_destroy(struct xs_qp *qp) { return qp ? qp->fabric->ops->qp_destroy(qp) : 0; }
void *xs_qp_context(const struct xs_qp *qp) { return qp->attr.context; }
enum xs_qp_state xs_qp_state(const struct xs_qp *qp) { return qp->state; }
uint32_t xs_qp_num(const struct xs_qp *qp) { return qp->qpn; }

int xs_qp_post_send(struct xs_qp *qp, const struct xs_send_wr *wr)
{
	if (!wr || wr->num_sge < 0 || (uint32_t)wr->num_sge > qp->attr.max_sge ||
	    (wr->num_sge && !wr->sg_list) || wr->opcode > XS_WR_RDMA_READ)
		return -EINVAL;
	return qp->fabric->ops->post_send(qp, wr);
}

int xs_qp_post_recv(struct xs_qp *qp, const struct xs_recv_wr *wr)
{
	if (!wr || wr->num_sge < 0 || (uint32_t)wr->num_sge > qp->attr.max_sge ||
	    (wr->num_sge && !wr->sg_list))
		return -EINVAL;
	return qp->fabric->ops->post_recv(qp, wr);
}

struct xs_cm_listener *xs_cm_listen(struct xs_fabric *f, uint64_t service_id)
{
	return f->ops->cm_listen(f, service_id);
}

int xs_cm_listener_close(struct xs_cm_listener *l)
{
	return l ? l->fabric->ops->cm_listener_close(l) : 0;
}

int xs_cm_req_info(const struct xs_cm_request *req, struct xs_cm_req_info *info)
{
	if (!req || !info)
		return -EINVAL;
	*info = req->info;
	return 0;
}

int xs_qp_connect(struct xs_qp *qp, const struct xs_cm_dest *dest, uint64_t service_id,
		  const void *private_data, size_t private_len, int timeout_ms)
{
	if (!dest || private_len > XS_CM_PRIVATE_DATA_MAX || (private_len && !private_data) ||
	    timeout_ms <= 0)
		return -EINVAL;
	return qp->fabric->ops->qp_connect(qp, dest, service_id, private_data, private_len,
					   timeout_ms);
}

int xs_qp_accept(struct xs_qp *qp, struct xs_cm_request *req, const void *private_data,
		 size_t private_len)
{
	if (!req || private_len > XS_CM_REP_PRIVATE_DATA_MAX || (private_len && !private_data))
		return -EINVAL;
	return qp->fabric->ops->qp_accept(qp, req, private_data, private_len);
}

int xs_cm_reject(struct xs_cm_request *req, uint16_t reason, const void *private_data,
		 size_t private_len)
{
	if (!req || private_len > XS_CM_REJ_PRIVATE_DATA_MAX || (private_len && !private_data))
		return -EINVAL;
	return req->fabric->ops->cm_reject(req, reason, private_data, private_len);
}

int xs_qp_disconnect(struct xs_qp *qp) { return qp->fabric->ops->qp_disconnect(qp); }

/* ------------------------------------------------------------------ MADs */

void xs_mad_agent_init(struct xs_mad_agent *a, struct xs_fabric *f, uint8_t mgmt_class,
		       uint8_t class_version, const uint8_t oui[3], unsigned int flags)
{
	memset(a, 0, sizeof(*a));
	a->fabric = f;
	a->mgmt_class = mgmt_class;
	a->class_version = class_version;
	if (oui) {
		memcpy(a->oui, oui, 3);
		a->has_oui = true;
	}
	a->flags = flags;
}

struct xs_mad_agent *xs_mad_agent_register(struct xs_fabric *f, uint8_t mgmt_class,
					   uint8_t class_version, const uint8_t oui[3],
					   unsigned int flags)
{
	return f->ops->mad_agent_register(f, mgmt_class, class_version, oui, flags);
}

int xs_mad_agent_unregister(struct xs_mad_agent *a)
{
	return a ? a->fabric->ops->mad_agent_unregister(a) : 0;
}

int xs_mad_agent_fd(struct xs_mad_agent *a) { return a->fabric->ops->mad_agent_fd(a); }

int xs_mad_send(struct xs_mad_agent *a, const struct xs_mad_addr *dst, const void *mad,
		size_t len)
{
	if (!dst || !mad || len < 24 || len > XS_MAD_SIZE)
		return -EINVAL;
	return a->fabric->ops->mad_send(a, dst, mad, len);
}

int xs_mad_recv(struct xs_mad_agent *a, struct xs_mad_addr *src, void *mad, size_t cap,
		int timeout_ms)
{
	if (!mad || cap < 24)
		return -EINVAL;
	if (a->stash_count) {
		struct xs_mad_stashed *s = &a->stash[a->stash_head];
		size_t n = XS_MIN(cap, (size_t)s->len);

		if (src)
			*src = s->src;
		memcpy(mad, s->mad, n);
		a->stash_head = (a->stash_head + 1) % XS_MAD_STASH;
		a->stash_count--;
		return (int)n;
	}
	return a->fabric->ops->mad_recv(a, src, mad, cap, timeout_ms);
}

static uint32_t tid_low(const uint8_t *mad) { return xs_get32(mad + 12); }

int xs_mad_rpc(struct xs_mad_agent *a, const struct xs_mad_addr *dst, const void *req,
	       size_t req_len, void *resp, size_t resp_cap, int timeout_ms, int retries)
{
	uint8_t buf[XS_MAD_SIZE];
	uint32_t want;

	if (!req || req_len < 24 || !resp || resp_cap < 24 || timeout_ms <= 0 || retries < 0)
		return -EINVAL;
	want = tid_low(req);
	for (int attempt = 0; attempt <= retries; attempt++) {
		uint64_t deadline = xs_now_ms() + (uint64_t)timeout_ms;
		int rc = xs_mad_send(a, dst, req, req_len);

		if (rc < 0)
			return rc;
		for (;;) {
			uint64_t now = xs_now_ms();
			struct xs_mad_addr src;
			int n;

			if (now >= deadline)
				break;
			n = a->fabric->ops->mad_recv(a, &src, buf, sizeof(buf),
						     (int)(deadline - now));
			if (n == -ETIMEDOUT || n == -EAGAIN)
				break;
			if (n < 0)
				return n;
			if (n >= 24 && (buf[3] & 0x80) && tid_low(buf) == want) {
				size_t c = XS_MIN(resp_cap, (size_t)n);

				memcpy(resp, buf, c);
				return (int)c;
			}
			/* not ours: keep it for the next xs_mad_recv */
			if (a->stash_count < XS_MAD_STASH) {
				struct xs_mad_stashed *s =
					&a->stash[(a->stash_head + a->stash_count) % XS_MAD_STASH];

				s->src = src;
				s->len = (uint16_t)n;
				memcpy(s->mad, buf, (size_t)n);
				a->stash_count++;
			} else {
				XS_WARN(COMP, "MAD stash full: dropped a MAD of class 0x%02x",
					buf[1]);
			}
		}
		XS_DEBUG(COMP, "MAD rpc tid 0x%08x class 0x%02x: no reply in %d ms (try %d/%d)",
			 want, ((const uint8_t *)req)[1], timeout_ms, attempt + 1, retries + 1);
	}
	return -ETIMEDOUT;
}
