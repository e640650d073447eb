/* SPDX-License-Identifier: MIT */
/*
 * xs-vm-fabric - what xs-rcping does not cover of the fabric API on a real
 * verbs device, checked between two ports in one process (the vm tier runs
 * it on rxe0 -> rxe1):
 *
 *   reject      a connect request carries its private data to the listener,
 *               which rejects it with reason 28 (consumer) and private data:
 *               the active side sees XS_EV_REJECTED with both
 *   no-listener a connect to a service nobody listens on is refused
 *   pdata-limit over IP rdma_cm carries 56 bytes of REQ private data: 57 are
 *               refused at once with -EMSGSIZE
 *   flush       accept with REP private data; a SEND is received; the active
 *               side disconnects: both see XS_EV_DISCONNECTED and every
 *               receive still posted completes with "work request flushed"
 *   bounds      an RDMA WRITE that runs 32 bytes past the end of the remote
 *               MR gives "remote access error", the QP goes to the error
 *               state and the target buffer is left untouched
 *   access      an MR registered for remote READ only: the RDMA READ returns
 *               its contents, an RDMA WRITE gives "remote access error" and
 *               changes nothing
 *   mad-gid     a vendor-class MAD (class 0x0B version 2, XCPM's) over QP1
 *               addressed by the passive port's GID (GID index 0: the IPv6
 *               link-local one), as RoCE needs: it arrives with a GRH naming
 *               the sender's GID, and the answer sent back to that source
 *               address arrives intact, byte for byte (but for the upper 32
 *               TID bits, which the kernel's MAD layer owns)
 *
 *   xs-vm-fabric [-v] CLIENT_SPEC SERVER_SPEC SERVER_IP
 *
 * Prints "ok <check>" per check; exits 1 at the first failure with the
 * reason on stderr.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xscore/common.h>
#include <xscore/fabric.h>
#include <xscore/log.h>
#include <xscore/wire.h>

#define SID_BASE XS_U64(0x0013970200004a00) /* rdma_cm port 0x4a00 + n on RoCE */
#define BUF 4096
#define STEP_MS 5000

#define EVQ 16

struct side {
	const char *name;
	struct xs_fabric *f;
	struct xs_event evq[EVQ]; /* events taken from f, not yet expected */
	int n_ev;
	struct xs_pd *pd;
	struct xs_cq *cq;
	struct xs_qp *qp;
	struct xs_mr *mr;
	uint8_t *buf; /* 4 x BUF: [0..1] receives, [2] send/RDMA source, [3] RDMA target */
};

static const char *server_ip;
static struct side *sides[2];
static const char *check = "setup";

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "xs-vm-fabric: FAILED %s: ", check);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static const char *ev_name(enum xs_event_type t)
{
	switch (t) {
	case XS_EV_PORT_CHANGE: return "PORT_CHANGE";
	case XS_EV_CONNECT_REQUEST: return "CONNECT_REQUEST";
	case XS_EV_ESTABLISHED: return "ESTABLISHED";
	case XS_EV_REJECTED: return "REJECTED";
	case XS_EV_UNREACHABLE: return "UNREACHABLE";
	case XS_EV_DISCONNECTED: return "DISCONNECTED";
	}
	return "?";
}

static uint8_t *slot(struct side *s, int i) { return s->buf + (size_t)i * BUF; }

/* A fresh PD, CQ, MR (access as given) and unconnected QP. */
static void side_setup(struct side *s, int access)
{
	struct xs_qp_attr qa = { 0 };

	s->pd = xs_pd_alloc(s->f);
	s->cq = s->pd ? xs_cq_create(s->f, 64) : NULL;
	if (!s->cq)
		fail("%s: PD/CQ: %s", s->name, strerror(errno));
	s->buf = calloc(4, BUF);
	if (!s->buf)
		fail("out of memory");
	s->mr = xs_mr_reg(s->pd, s->buf, 4 * BUF, access);
	if (!s->mr)
		fail("%s: register memory: %s", s->name, strerror(errno));
	qa.pd = s->pd;
	qa.send_cq = s->cq;
	qa.recv_cq = s->cq;
	s->qp = xs_qp_create(s->f, &qa);
	if (!s->qp)
		fail("%s: create QP: %s", s->name, strerror(errno));
}

static void side_teardown(struct side *s)
{
	xs_qp_destroy(s->qp);
	xs_mr_dereg(s->mr);
	xs_cq_destroy(s->cq);
	xs_pd_free(s->pd);
	free(s->buf);
	s->qp = NULL;
	s->mr = NULL;
	s->cq = NULL;
	s->pd = NULL;
	s->buf = NULL;
}

static void post_recv(struct side *s, int i, uint64_t id)
{
	struct xs_sge sge = { (uint64_t)(uintptr_t)slot(s, i), BUF, xs_mr_lkey(s->mr) };
	struct xs_recv_wr wr = { .wr_id = id, .sg_list = &sge, .num_sge = 1 };
	int rc = xs_qp_post_recv(s->qp, &wr);

	if (rc < 0)
		fail("%s: post a receive: %s", s->name, xs_strerror(rc));
}

static void post_send(struct side *s, enum xs_wr_opcode op, int i, uint32_t len, uint64_t raddr,
		      uint32_t rkey, uint64_t id)
{
	struct xs_sge sge = { (uint64_t)(uintptr_t)slot(s, i), len, xs_mr_lkey(s->mr) };
	struct xs_send_wr wr = { .wr_id = id, .opcode = op, .sg_list = &sge, .num_sge = 1,
				 .flags = XS_SEND_SIGNALED, .remote_addr = raddr, .rkey = rkey };
	int rc = xs_qp_post_send(s->qp, &wr);

	if (rc < 0)
		fail("%s: post a send: %s", s->name, xs_strerror(rc));
}

/* The next completion on s's CQ, within STEP_MS. */
static void next_wc(struct side *s, struct xs_wc *wc)
{
	uint64_t dl = xs_now_ms() + STEP_MS;

	for (;;) {
		struct pollfd p = { .fd = xs_cq_fd(s->cq), .events = POLLIN };
		int n = xs_cq_poll(s->cq, wc, 1);
		uint64_t now;

		if (n < 0)
			fail("%s: poll the CQ: %s", s->name, xs_strerror(n));
		if (n == 1)
			return;
		now = xs_now_ms();
		if (now >= dl)
			fail("%s: no completion within %d ms", s->name, STEP_MS);
		poll(&p, 1, (int)(dl - now));
	}
}

static void expect_wc(struct side *s, uint64_t id, enum xs_wc_status st)
{
	struct xs_wc wc;

	next_wc(s, &wc);
	if (wc.wr_id != id || wc.status != st)
		fail("%s: expected work request %" PRIu64 " to complete with '%s', got %" PRIu64
		     " with '%s'", s->name, id, xs_wc_status_str(st), wc.wr_id,
		     xs_wc_status_str(wc.status));
}

/* Take the pending events of both fabrics into their queues: each side's
 * connection manager only progresses while its events are taken (address and
 * route resolution, the REP/RTU exchange), so waiting on one side alone
 * would stall the other. */
static void pump(int timeout_ms)
{
	struct pollfd p[2];

	for (int i = 0; i < 2; i++) {
		p[i].fd = xs_fabric_event_fd(sides[i]->f);
		p[i].events = POLLIN;
	}
	poll(p, 2, timeout_ms);
	for (int i = 0; i < 2; i++) {
		struct side *s = sides[i];
		struct xs_event ev;

		while (xs_fabric_get_event(s->f, &ev) == 0) {
			if (s->n_ev == EVQ)
				fail("%s: more than %d events pending", s->name, EVQ);
			s->evq[s->n_ev++] = ev;
		}
	}
}

/* The next event of s's fabric, within ms; -ETIMEDOUT when none came. */
static int next_ev(struct side *s, struct xs_event *ev, int ms)
{
	uint64_t dl = xs_now_ms() + (uint64_t)ms;

	while (!s->n_ev) {
		uint64_t now = xs_now_ms();

		if (now >= dl)
			return -ETIMEDOUT;
		pump((int)XS_MIN(dl - now, 100));
	}
	*ev = s->evq[0];
	memmove(s->evq, s->evq + 1, (size_t)--s->n_ev * sizeof(*ev));
	return 0;
}

/* The next event on s's fabric must be of type t. */
static void expect_ev(struct side *s, struct xs_event *ev, enum xs_event_type t)
{
	int rc = next_ev(s, ev, STEP_MS);

	if (rc < 0)
		fail("%s: waiting for %s: %s", s->name, ev_name(t), xs_strerror(rc));
	if (ev->type != t)
		fail("%s: expected %s, got %s (status %d, reason %u)", s->name, ev_name(t),
		     ev_name(ev->type), ev->status, ev->reject_reason);
}

static void do_connect(struct side *c, uint64_t sid, const char *pdata)
{
	struct xs_cm_dest d = { .ip = server_ip };
	int rc = xs_qp_connect(c->qp, &d, sid, pdata, strlen(pdata), STEP_MS);

	if (rc < 0)
		fail("%s: connect: %s", c->name, xs_strerror(rc));
}

/* Connect c to s through listener sid; both ESTABLISHED; REP private data checked. */
static void establish(struct side *c, struct side *s, uint64_t sid, const char *req_pd,
		      const void *rep_pd, size_t rep_len)
{
	struct xs_cm_req_info info;
	struct xs_event ev;
	int rc;

	do_connect(c, sid, req_pd);
	expect_ev(s, &ev, XS_EV_CONNECT_REQUEST);
	if (xs_cm_req_info(ev.req, &info) < 0 || info.private_len < strlen(req_pd) ||
	    memcmp(info.private_data, req_pd, strlen(req_pd)) != 0)
		fail("the request's private data did not arrive as sent ('%s')", req_pd);
	rc = xs_qp_accept(s->qp, ev.req, rep_pd, rep_len);
	if (rc < 0)
		fail("accept: %s", xs_strerror(rc));
	expect_ev(c, &ev, XS_EV_ESTABLISHED);
	if (ev.qp != c->qp || ev.private_len < rep_len ||
	    memcmp(ev.private_data, rep_pd, rep_len) != 0)
		fail("%s: the accept's private data did not arrive as sent (%u bytes came)", c->name,
		     ev.private_len);
	expect_ev(s, &ev, XS_EV_ESTABLISHED);
	if (ev.qp != s->qp)
		fail("%s: ESTABLISHED for another QP", s->name);
}

static void ok(void)
{
	printf("ok %s\n", check);
	fflush(stdout);
}

static void fill(uint8_t *p, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 29 + seed + (i >> 7));
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* ---------------------------------------------------------------- checks */

static void check_reject(struct side *c, struct side *s, struct xs_cm_listener *l)
{
	static const char rej[] = "not-today:42";
	struct xs_cm_req_info info;
	struct xs_event ev;
	int rc;

	check = "reject";
	side_setup(c, XS_ACCESS_LOCAL_WRITE);
	do_connect(c, SID_BASE, "please-reject-me");
	expect_ev(s, &ev, XS_EV_CONNECT_REQUEST);
	if (xs_cm_req_info(ev.req, &info) < 0)
		fail("no request info");
	if (info.private_len < 16 || memcmp(info.private_data, "please-reject-me", 16) != 0)
		fail("the listener got %u bytes of private data, not 'please-reject-me'",
		     info.private_len);
	rc = xs_cm_reject(ev.req, XS_CM_REJ_CONSUMER, rej, sizeof(rej));
	if (rc < 0)
		fail("reject: %s", xs_strerror(rc));
	expect_ev(c, &ev, XS_EV_REJECTED);
	if (ev.qp != c->qp)
		fail("REJECTED names another QP");
	if (ev.reject_reason != XS_CM_REJ_CONSUMER)
		fail("reject reason %u, expected %u (consumer)", ev.reject_reason,
		     XS_CM_REJ_CONSUMER);
	if (ev.private_len < sizeof(rej) || memcmp(ev.private_data, rej, sizeof(rej)) != 0)
		fail("the reject's private data did not arrive ('%.*s', %u bytes)",
		     (int)XS_MIN(ev.private_len, 32), (const char *)ev.private_data, ev.private_len);
	printf("   rejected: reason %u, private data '%s'\n", ev.reject_reason,
	       (const char *)ev.private_data);
	side_teardown(c);
	ok();
}

static void check_no_listener(struct side *c)
{
	struct xs_event ev;
	int rc;

	check = "no-listener";
	side_setup(c, XS_ACCESS_LOCAL_WRITE);
	do_connect(c, SID_BASE + 0x77, "anyone-there");
	rc = next_ev(c, &ev, STEP_MS + 2000);
	if (rc < 0)
		fail("no answer: %s", xs_strerror(rc));
	if (ev.qp != c->qp || (ev.type != XS_EV_REJECTED && ev.type != XS_EV_UNREACHABLE))
		fail("expected REJECTED or UNREACHABLE, got %s", ev_name(ev.type));
	if (ev.type == XS_EV_REJECTED && ev.reject_reason != XS_CM_REJ_INVALID_SID)
		fail("rejected with reason %u, expected %u (invalid service ID)", ev.reject_reason,
		     XS_CM_REJ_INVALID_SID);
	printf("   %s (reason %u, status %s)\n", ev_name(ev.type), ev.reject_reason,
	       xs_strerror(ev.status));
	side_teardown(c);
	ok();
}

static void check_pdata_limit(struct side *c)
{
	struct xs_cm_dest d = { .ip = server_ip };
	uint8_t big[57] = { 0 };
	int rc;

	check = "pdata-limit";
	side_setup(c, XS_ACCESS_LOCAL_WRITE);
	rc = xs_qp_connect(c->qp, &d, SID_BASE + 1, big, sizeof(big), STEP_MS);
	if (rc != -EMSGSIZE)
		fail("57 bytes of private data over IP: expected -EMSGSIZE, got %d (%s)", rc,
		     xs_strerror(rc));
	if (xs_qp_state(c->qp) != XS_QPS_RESET)
		fail("the QP left RESET after a refused connect (state %d)", xs_qp_state(c->qp));
	side_teardown(c);
	ok();
}

static void check_flush(struct side *c, struct side *s, struct xs_cm_listener *l)
{
	uint8_t rep[160];
	struct xs_event ev;
	struct xs_wc wc;

	check = "flush";
	side_setup(c, XS_ACCESS_LOCAL_WRITE);
	side_setup(s, XS_ACCESS_LOCAL_WRITE);
	post_recv(s, 0, 100);
	post_recv(s, 1, 101);
	post_recv(c, 0, 200);
	post_recv(c, 1, 201);
	fill(rep, sizeof(rep), 7);
	establish(c, s, SID_BASE, "flush-me", rep, sizeof(rep));
	fill(slot(c, 2), 1000, 3);
	post_send(c, XS_WR_SEND, 2, 1000, 0, 0, 300);
	expect_wc(c, 300, XS_WC_SUCCESS);
	next_wc(s, &wc);
	if (wc.wr_id != 100 || wc.status != XS_WC_SUCCESS || wc.opcode != XS_WC_RECV ||
	    wc.byte_len != 1000 || memcmp(slot(s, 0), slot(c, 2), 1000) != 0)
		fail("the SEND did not arrive intact (wr %" PRIu64 ", %s, %u bytes)", wc.wr_id,
		     xs_wc_status_str(wc.status), wc.byte_len);
	if (xs_qp_disconnect(c->qp) < 0)
		fail("disconnect failed");
	expect_ev(s, &ev, XS_EV_DISCONNECTED);
	if (ev.qp != s->qp)
		fail("DISCONNECTED names another QP on the passive side");
	expect_ev(c, &ev, XS_EV_DISCONNECTED);
	if (ev.qp != c->qp)
		fail("DISCONNECTED names another QP on the active side");
	/* every receive still posted is flushed, on both sides */
	expect_wc(s, 101, XS_WC_WR_FLUSH_ERR);
	expect_wc(c, 200, XS_WC_WR_FLUSH_ERR);
	expect_wc(c, 201, XS_WC_WR_FLUSH_ERR);
	if (xs_qp_state(c->qp) != XS_QPS_CLOSED || xs_qp_state(s->qp) != XS_QPS_CLOSED)
		fail("QP states after disconnect: active %d, passive %d, expected CLOSED (%d)",
		     xs_qp_state(c->qp), xs_qp_state(s->qp), XS_QPS_CLOSED);
	printf("   %zu bytes of REP private data, 1 SEND received, 3 receives flushed\n",
	       sizeof(rep));
	side_teardown(c);
	side_teardown(s);
	ok();
}

/* Connect with the server's slot 3 advertised; returns the QP of c ready. */
static void rdma_pair(struct side *c, struct side *s, struct xs_cm_listener *l, int s_access,
		      uint64_t *raddr, uint32_t *rkey)
{
	uint8_t rep[12];

	side_setup(c, XS_ACCESS_LOCAL_WRITE);
	side_setup(s, s_access);
	*raddr = (uint64_t)(uintptr_t)slot(s, 3);
	*rkey = xs_mr_rkey(s->mr);
	xs_put64(rep, *raddr);
	xs_put32(rep + 8, *rkey);
	establish(c, s, SID_BASE, "rdma", rep, sizeof(rep));
}

static void expect_access_error(struct side *c, uint64_t id)
{
	struct xs_wc wc;

	next_wc(c, &wc);
	if (wc.wr_id != id || wc.status != XS_WC_REM_ACCESS_ERR)
		fail("expected 'remote access error' for work request %" PRIu64 ", got '%s' for %"
		     PRIu64, id, xs_wc_status_str(wc.status), wc.wr_id);
	if (xs_qp_state(c->qp) != XS_QPS_ERROR)
		fail("the QP is not in the error state after a remote access error (state %d)",
		     xs_qp_state(c->qp));
}

static void check_bounds(struct side *c, struct side *s, struct xs_cm_listener *l)
{
	uint64_t raddr;
	uint32_t rkey;

	check = "bounds";
	rdma_pair(c, s, l, XS_ACCESS_LOCAL_WRITE | XS_ACCESS_REMOTE_WRITE | XS_ACCESS_REMOTE_READ,
		  &raddr, &rkey);
	/* inside: the last 64 bytes of the MR */
	fill(slot(c, 2), 64, 11);
	post_send(c, XS_WR_RDMA_WRITE, 2, 64, raddr + BUF - 64, rkey, 400);
	expect_wc(c, 400, XS_WC_SUCCESS);
	if (memcmp(slot(s, 3) + BUF - 64, slot(c, 2), 64) != 0)
		fail("an RDMA WRITE inside the MR did not land");
	/* 32 bytes past the end */
	memset(slot(s, 3), 0, BUF);
	fill(slot(c, 2), 64, 12);
	post_send(c, XS_WR_RDMA_WRITE, 2, 64, raddr + BUF - 32, rkey, 401);
	expect_access_error(c, 401);
	if (!all_zero(slot(s, 3), BUF))
		fail("a refused RDMA WRITE changed the target buffer");
	printf("   WRITE inside the MR: landed; 32 bytes past its end: remote access error, "
	       "target untouched\n");
	side_teardown(c);
	side_teardown(s);
	ok();
}

static void check_access(struct side *c, struct side *s, struct xs_cm_listener *l)
{
	uint64_t raddr;
	uint32_t rkey;

	check = "access";
	rdma_pair(c, s, l, XS_ACCESS_LOCAL_WRITE | XS_ACCESS_REMOTE_READ, &raddr, &rkey);
	fill(slot(s, 3), BUF, 21);
	post_send(c, XS_WR_RDMA_READ, 1, BUF, raddr, rkey, 500);
	expect_wc(c, 500, XS_WC_SUCCESS);
	if (memcmp(slot(c, 1), slot(s, 3), BUF) != 0)
		fail("RDMA READ of a read-only MR returned other bytes");
	memcpy(slot(c, 2), slot(s, 3), BUF);
	fill(slot(c, 0), BUF, 22);
	post_send(c, XS_WR_RDMA_WRITE, 0, 256, raddr, rkey, 501);
	expect_access_error(c, 501);
	if (memcmp(slot(s, 3), slot(c, 2), BUF) != 0)
		fail("an RDMA WRITE into a read-only MR changed it");
	printf("   READ of a read-only MR: %d bytes verified; WRITE: remote access error, "
	       "unchanged\n", BUF);
	side_teardown(c);
	side_teardown(s);
	ok();
}

/* Equal apart from the upper 32 bits of the transaction ID (bytes 8..11),
 * which the kernel's MAD layer sets to the sending agent's ID. Returns the
 * offset of the first other difference, or -1. */
static int mad_diff(const uint8_t *a, const uint8_t *b)
{
	for (int i = 0; i < XS_MAD_LEN; i++)
		if ((i < 8 || i > 11) && a[i] != b[i])
			return i;
	return -1;
}

static void mad_answer(const uint8_t *req, uint8_t *rep)
{
	memcpy(rep, req, XS_MAD_LEN);
	rep[3] = XS_MAD_METHOD_GET | XS_MAD_METHOD_RESP;
	for (int i = 24; i < XS_MAD_LEN; i++)
		rep[i] = (uint8_t)(req[i] ^ 0xa5);
}

static void check_mad_gid(struct side *c, struct side *s)
{
	struct xs_port_attr ca, sa;
	struct xs_mad_agent *ac, *as;
	struct xs_mad_addr dst = { .qpn = 1, .qkey = XS_GSI_QKEY, .has_grh = true }, src;
	uint8_t req[XS_MAD_LEN], got[XS_MAD_LEN], rep[XS_MAD_LEN], want[XS_MAD_LEN];
	struct xs_mad_hdr h = { .base_version = XS_MAD_BASE_VERSION, .mgmt_class = XS_XCPM_CLASS,
				.class_version = XS_XCPM_CLASS_VERSION,
				.method = XS_MAD_METHOD_GET, .tid = 0x600dcafe,
				.attr_id = XS_XCPM_ATTR_XCM_REQUEST, .attr_mod = 7 };
	char g[64];
	int n;

	check = "mad-gid";
	if (xs_fabric_query_port(c->f, &ca) < 0 || xs_fabric_query_port(s->f, &sa) < 0)
		fail("cannot query the ports");
	as = xs_mad_agent_register(s->f, XS_XCPM_CLASS, XS_XCPM_CLASS_VERSION, NULL,
				   XS_MAD_AGENT_SERVER);
	if (!as)
		fail("%s: no server MAD agent: %s", s->name, strerror(errno));
	ac = xs_mad_agent_register(c->f, XS_XCPM_CLASS, XS_XCPM_CLASS_VERSION, NULL, 0);
	if (!ac)
		fail("%s: no MAD agent: %s", c->name, strerror(errno));
	memset(req, 0, sizeof(req));
	if (xs_mad_hdr_encode(&h, req, sizeof(req)) < 0)
		fail("cannot encode a MAD header");
	fill(req + 24, XS_MAD_LEN - 24, 31);
	memcpy(dst.gid, sa.gid, 16);
	n = xs_mad_send(ac, &dst, req, sizeof(req));
	if (n < 0)
		fail("%s: send to %s: %s", c->name,
		     inet_ntop(AF_INET6, sa.gid, g, sizeof(g)) ? g : "?", xs_strerror(n));
	n = xs_mad_recv(as, &src, got, sizeof(got), STEP_MS);
	if (n < 0)
		fail("%s: the MAD did not arrive: %s", s->name, xs_strerror(n));
	if (n != XS_MAD_LEN || mad_diff(got, req) >= 0)
		fail("%s: the MAD arrived changed (%d bytes, first difference at byte %d)",
		     s->name, n, mad_diff(got, req));
	if (!src.has_grh || memcmp(src.gid, ca.gid, 16) != 0)
		fail("%s: the MAD's source is not %s's GID (GRH %s)", s->name, c->name,
		     src.has_grh ? "present" : "absent");
	mad_answer(got, rep);
	n = xs_mad_send(as, &src, rep, sizeof(rep));
	if (n < 0)
		fail("%s: answer: %s", s->name, xs_strerror(n));
	n = xs_mad_recv(ac, &src, got, sizeof(got), STEP_MS);
	if (n < 0)
		fail("%s: no answer: %s", c->name, xs_strerror(n));
	mad_answer(req, want);
	if (n != XS_MAD_LEN || mad_diff(got, want) >= 0)
		fail("%s: the answer is not the GetResp sent (%d bytes, first difference at "
		     "byte %d)", c->name, n, mad_diff(got, want));
	if (!src.has_grh || memcmp(src.gid, sa.gid, 16) != 0)
		fail("%s: the answer's source is not %s's GID", c->name, s->name);
	printf("   GetResp of %d bytes by GID %s and back, byte for byte\n", n,
	       inet_ntop(AF_INET6, sa.gid, g, sizeof(g)) ? g : "?");
	xs_mad_agent_unregister(ac);
	xs_mad_agent_unregister(as);
	ok();
}

int main(int argc, char **argv)
{
	struct side c = { .name = "active" }, s = { .name = "passive" };
	struct xs_cm_listener *l;
	int a = 1;

	xs_log_open("xs-vm-fabric", XS_LOG_STDERR, XS_LOG_WARN);
	if (argc > 1 && !strcmp(argv[1], "-v")) {
		xs_log_set_level(XS_LOG_DEBUG);
		xs_log_set_debug("all");
		a++;
	}
	if (argc - a != 3) {
		fprintf(stderr, "usage: xs-vm-fabric [-v] CLIENT_SPEC SERVER_SPEC SERVER_IP\n");
		return 2;
	}
	server_ip = argv[a + 2];
	c.f = xs_fabric_open(argv[a], NULL);
	if (!c.f)
		fail("cannot open %s: %s", argv[a], strerror(errno));
	s.f = xs_fabric_open(argv[a + 1], NULL);
	if (!s.f)
		fail("cannot open %s: %s", argv[a + 1], strerror(errno));
	sides[0] = &c;
	sides[1] = &s;
	l = xs_cm_listen(s.f, SID_BASE);
	if (!l)
		fail("listen: %s", strerror(errno));

	check_reject(&c, &s, l);
	check_no_listener(&c);
	check_pdata_limit(&c);
	check_flush(&c, &s, l);
	check_bounds(&c, &s, l);
	check_access(&c, &s, l);
	check_mad_gid(&c, &s);

	xs_cm_listener_close(l);
	xs_fabric_close(c.f);
	xs_fabric_close(s.f);
	printf("xs-vm-fabric: all 7 checks passed\n");
	return 0;
}
