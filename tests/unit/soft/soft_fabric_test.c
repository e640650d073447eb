/* SPDX-License-Identifier: MIT */
/*
 * The soft fabric end to end through the public fabric API: a private
 * xs-fabricd on a temporary socket, ports attached by name, MADs, the SA,
 * the CM and the RC data path with its error semantics.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <xscore/common.h>
#include <xscore/fabric.h>
#include <xscore/wire.h>

static char tmpdir[64];
static char sock_path[128];
static char spec[160];
static pid_t daemon_pid = -1;

/* ------------------------------------------------------------ daemon */

static pid_t start_daemon_state(const char *path, const char *log, bool partitions,
				const char *state)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (fd >= 0) {
			dup2(fd, 2);
			close(fd);
		}
		if (state)
			execl(XS_FABRICD_PATH, "xs-fabricd", "-f", "-s", path, "-S", state,
			      (char *)NULL);
		else if (partitions)
			execl(XS_FABRICD_PATH, "xs-fabricd", "-f", "-s", path, "-P",
			      "0x8001:pa1,pa2", "-P", "0x8002:pb1", (char *)NULL);
		else
			execl(XS_FABRICD_PATH, "xs-fabricd", "-f", "-s", path, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
		int ok;

		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
		ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		close(fd);
		if (ok)
			return pid;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

static pid_t start_daemon(const char *path, const char *log, bool partitions)
{
	return start_daemon_state(path, log, partitions, NULL);
}

static int stop_daemon(pid_t pid)
{
	int st = 0;

	kill(pid, SIGTERM);
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int group_setup(void **state)
{
	char log[200];

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/xs-soft-test-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(sock_path, sizeof(sock_path), "%s/fabric.sock", tmpdir);
	snprintf(spec, sizeof(spec), "soft:%s", sock_path);
	snprintf(log, sizeof(log), "%s/fabricd.log", tmpdir);
	daemon_pid = start_daemon(sock_path, log, true);
	return daemon_pid > 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
	char cmd[128];
	int rc = stop_daemon(daemon_pid);

	if (rc != 0)
		fprintf(stderr, "xs-fabricd exit status %d (log in %s)\n", rc, tmpdir);
	else {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
		if (system(cmd) != 0)
			return -1;
	}
	return rc == 0 ? 0 : -1;
}

/* ----------------------------------------------------------- helpers */

static struct xs_fabric *open_port(const char *name)
{
	struct xs_fabric_opts o = { .size = sizeof(o), .port_name = name,
				    .attach_timeout_ms = 2000 };

	return xs_fabric_open(spec, &o);
}

static int wait_event_type(struct xs_fabric *f, enum xs_event_type type, struct xs_event *ev,
			   int timeout_ms)
{
	int rc = xs_fabric_wait_event(f, ev, timeout_ms);

	if (rc < 0)
		return rc;
	if (ev->type != type) {
		fprintf(stderr, "expected event %d, got %d (status %d)\n", type, ev->type,
			ev->status);
		return -EBADMSG;
	}
	return 0;
}

static int wait_wc(struct xs_cq *cq, struct xs_wc *wc, int timeout_ms)
{
	uint64_t deadline = xs_now_ms() + (uint64_t)timeout_ms;

	for (;;) {
		struct pollfd p = { .fd = xs_cq_fd(cq), .events = POLLIN };
		int n = xs_cq_poll(cq, wc, 1);
		uint64_t now;

		if (n != 0)
			return n;
		now = xs_now_ms();
		if (now >= deadline)
			return 0;
		poll(&p, 1, (int)(deadline - now));
	}
}

struct side {
	struct xs_fabric *f;
	struct xs_pd *pd;
	struct xs_cq *cq;
	struct xs_qp *qp;
};

static void side_init(struct side *s, struct xs_fabric *f)
{
	struct xs_qp_attr a = { 0 };

	s->f = f;
	s->pd = xs_pd_alloc(f);
	assert_non_null(s->pd);
	s->cq = xs_cq_create(f, 256);
	assert_non_null(s->cq);
	a.pd = s->pd;
	a.send_cq = s->cq;
	a.recv_cq = s->cq;
	s->qp = xs_qp_create(f, &a);
	assert_non_null(s->qp);
}

static void side_fini(struct side *s)
{
	assert_int_equal(xs_qp_destroy(s->qp), 0);
	assert_int_equal(xs_cq_destroy(s->cq), 0);
	assert_int_equal(xs_pd_free(s->pd), 0);
}

static uint16_t port_lid(struct xs_fabric *f)
{
	struct xs_port_attr a;

	assert_int_equal(xs_fabric_query_port(f, &a), 0);
	return a.lid;
}

/* Connect a (active) to b (passive) on sid. */
static void connect_pair(struct side *a, struct side *b, uint64_t sid)
{
	struct xs_cm_listener *l = xs_cm_listen(b->f, sid);
	struct xs_cm_dest d = { .lid = port_lid(b->f) };
	struct xs_event ev;

	assert_non_null(l);
	assert_int_equal(xs_qp_connect(a->qp, &d, sid, NULL, 0, 2000), 0);
	assert_int_equal(wait_event_type(b->f, XS_EV_CONNECT_REQUEST, &ev, 2000), 0);
	assert_int_equal(xs_qp_accept(b->qp, ev.req, NULL, 0), 0);
	assert_int_equal(wait_event_type(b->f, XS_EV_ESTABLISHED, &ev, 2000), 0);
	assert_ptr_equal(ev.qp, b->qp);
	assert_int_equal(wait_event_type(a->f, XS_EV_ESTABLISHED, &ev, 2000), 0);
	assert_ptr_equal(ev.qp, a->qp);
	assert_int_equal(xs_qp_state(a->qp), XS_QPS_RTS);
	assert_int_equal(xs_qp_state(b->qp), XS_QPS_RTS);
	xs_cm_listener_close(l);
}

struct pair {
	struct xs_fabric *fa, *fb;
	struct side a, b;
};

static void pair_up(struct pair *p, const char *na, const char *nb, uint64_t sid)
{
	p->fa = open_port(na);
	assert_non_null(p->fa);
	p->fb = open_port(nb);
	assert_non_null(p->fb);
	side_init(&p->a, p->fa);
	side_init(&p->b, p->fb);
	connect_pair(&p->a, &p->b, sid);
}

static void pair_down(struct pair *p)
{
	side_fini(&p->a);
	side_fini(&p->b);
	xs_fabric_close(p->fa);
	xs_fabric_close(p->fb);
}

static int post_recv1(struct side *s, uint64_t id, void *buf, uint32_t len, uint32_t lkey)
{
	struct xs_sge sge = { .addr = (uintptr_t)buf, .length = len, .lkey = lkey };
	struct xs_recv_wr wr = { .wr_id = id, .sg_list = &sge, .num_sge = 1 };

	return xs_qp_post_recv(s->qp, &wr);
}

static int post_send1(struct side *s, uint64_t id, enum xs_wr_opcode op, void *buf, uint32_t len,
		      uint32_t lkey, uint64_t raddr, uint32_t rkey, unsigned int flags)
{
	struct xs_sge sge = { .addr = (uintptr_t)buf, .length = len, .lkey = lkey };
	struct xs_send_wr wr = { .wr_id = id, .opcode = op, .sg_list = &sge, .num_sge = 1,
				 .flags = flags, .remote_addr = raddr, .rkey = rkey };

	return xs_qp_post_send(s->qp, &wr);
}

/* ------------------------------------------------------------ attach */

static void test_attach_stable_identity(void **state)
{
	struct xs_port_attr a1, a2, b;
	struct xs_fabric *f = open_port("attach-one"), *g, *dup;

	assert_non_null(f);
	assert_string_equal(xs_fabric_backend(f), "soft");
	assert_int_equal(xs_fabric_query_port(f, &a1), 0);
	assert_true(a1.lid >= 2);
	assert_int_equal(a1.sm_lid, 1);
	assert_int_equal(a1.state, XS_PORT_ACTIVE);
	assert_string_equal(a1.port_name, "attach-one");
	assert_int_equal(a1.port_guid >> 40, 0x001397);
	assert_int_equal(xs_get64(a1.gid), 0xfe80000000000000ull);
	assert_int_equal(xs_get64(a1.gid + 8), a1.port_guid);
	assert_int_equal(a1.pkeys[0], 0xffff);
	assert_int_equal(xs_fabric_pkey_index(f, 0xffff), 0);
	assert_int_equal(xs_fabric_pkey_index(f, 0x8001), -ENOENT);

	/* the same name can't be attached twice at once */
	dup = open_port("attach-one");
	assert_null(dup);
	assert_int_equal(errno, EADDRINUSE);

	g = open_port("attach-two");
	assert_non_null(g);
	assert_int_equal(xs_fabric_query_port(g, &b), 0);
	assert_int_not_equal(b.lid, a1.lid);
	assert_int_not_equal(b.port_guid, a1.port_guid);
	xs_fabric_close(g);

	xs_fabric_close(f);
	f = open_port("attach-one");
	assert_non_null(f);
	assert_int_equal(xs_fabric_query_port(f, &a2), 0);
	assert_int_equal(a2.lid, a1.lid);
	assert_int_equal(a2.port_guid, a1.port_guid);
	assert_memory_equal(a2.gid, a1.gid, 16);
	xs_fabric_close(f);

	/* partition membership from -P */
	f = open_port("pa1");
	assert_non_null(f);
	assert_int_equal(xs_fabric_pkey_index(f, 0x8001), 1);
	assert_int_equal(xs_fabric_pkey_index(f, 0x8002), -ENOENT);
	xs_fabric_close(f);
}

static void test_attach_no_daemon(void **state)
{
	struct xs_fabric_opts o = { .size = sizeof(o), .port_name = "nobody",
				    .attach_timeout_ms = 500 };
	char bad[200];

	char logf[200], text[512] = "", want[300];
	int saved = dup(2), fd;
	FILE *lf;

	snprintf(bad, sizeof(bad), "soft:%s/no-such.sock", tmpdir);
	/* what the user reads: the path tried and the hint */
	snprintf(logf, sizeof(logf), "%s/attach-err.log", tmpdir);
	fd = open(logf, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	dup2(fd, 2);
	close(fd);
	assert_null(xs_fabric_open(bad, &o));
	assert_int_equal(errno, ENOENT);
	dup2(saved, 2);
	close(saved);
	lf = fopen(logf, "r");
	assert_non_null(lf);
	assert_true(fread(text, 1, sizeof(text) - 1, lf) > 0);
	fclose(lf);
	snprintf(want, sizeof(want),
		 "can't attach to the soft fabric at %s/no-such.sock: No such file or directory - "
		 "is xs-fabricd running?",
		 tmpdir);
	assert_non_null(strstr(text, want));
	assert_null(xs_fabric_open("nosuchbackend:x", NULL));
	assert_int_equal(errno, EPROTONOSUPPORT);
}

/* -------------------------------------------------------------- MADs */

static void make_mad(uint8_t *mad, uint8_t mclass, uint8_t method, uint32_t tid, uint8_t fill)
{
	memset(mad, fill, XS_MAD_SIZE);
	memset(mad, 0, 24);
	mad[0] = 1;
	mad[1] = mclass;
	mad[2] = 1;
	mad[3] = method;
	xs_put32(mad + 12, tid);
	xs_put16(mad + 16, 0xff01);
}

static void test_mad_partitions(void **state)
{
	struct xs_fabric *a = open_port("pa1"), *b = open_port("pa2"), *c = open_port("pb1");
	struct xs_mad_agent *aa, *ab, *ac;
	struct xs_mad_addr to = { .qpn = 1 }, src;
	uint8_t mad[XS_MAD_SIZE], got[XS_MAD_SIZE];

	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	aa = xs_mad_agent_register(a, 0x09, 1, NULL, 0);
	ab = xs_mad_agent_register(b, 0x09, 1, NULL, XS_MAD_AGENT_SERVER);
	ac = xs_mad_agent_register(c, 0x09, 1, NULL, XS_MAD_AGENT_SERVER);
	assert_non_null(aa);
	assert_non_null(ab);
	assert_non_null(ac);

	/* same partition: delivered, with the source address */
	make_mad(mad, 0x09, XS_MAD_METHOD_GET, 0x1111, 0xa5);
	to.lid = port_lid(b);
	to.pkey = 0x8001;
	assert_int_equal(xs_mad_send(aa, &to, mad, sizeof(mad)), 0);
	assert_int_equal(xs_mad_recv(ab, &src, got, sizeof(got), 2000), XS_MAD_SIZE);
	assert_int_equal(src.lid, port_lid(a));
	assert_int_equal(src.pkey, 0x8001);
	assert_int_equal(xs_get32(got + 12), 0x1111);
	assert_memory_equal(got + 24, mad + 24, XS_MAD_SIZE - 24);

	/* different partitions: dropped */
	to.lid = port_lid(c);
	to.pkey = 0x8001;
	assert_int_equal(xs_mad_send(aa, &to, mad, sizeof(mad)), 0);
	to.pkey = 0x8002; /* the sender is not a member of it */
	assert_int_equal(xs_mad_send(aa, &to, mad, sizeof(mad)), 0);
	assert_int_equal(xs_mad_recv(ac, &src, got, sizeof(got), 300), -ETIMEDOUT);

	/* the default partition holds everyone */
	to.pkey = 0xffff;
	assert_int_equal(xs_mad_send(aa, &to, mad, sizeof(mad)), 0);
	assert_int_equal(xs_mad_recv(ac, &src, got, sizeof(got), 2000), XS_MAD_SIZE);

	/* no agent for the class at the destination: dropped */
	make_mad(mad, 0x0a, XS_MAD_METHOD_GET, 0x2222, 0);
	to.lid = port_lid(b);
	assert_int_equal(xs_mad_send(aa, &to, mad, sizeof(mad)), 0);
	assert_int_equal(xs_mad_recv(ab, &src, got, sizeof(got), 200), -ETIMEDOUT);

	xs_mad_agent_unregister(aa);
	xs_mad_agent_unregister(ab);
	xs_mad_agent_unregister(ac);
	xs_fabric_close(a);
	xs_fabric_close(b);
	xs_fabric_close(c);
}

/* A burst of requests nobody reads yet (a director that 1000 hosts ask at
 * once) is queued whole, in order: the agent's queue grows on demand. */
static void test_mad_burst_queued(void **state)
{
	struct xs_fabric *a = open_port("burst-tx"), *b = open_port("burst-rx");
	struct xs_mad_agent *aa, *ab;
	struct xs_mad_addr to = { .qpn = 1, .pkey = 0xffff }, src;
	uint8_t mad[XS_MAD_SIZE], got[XS_MAD_SIZE];
	const int n = 1500;

	assert_non_null(a);
	assert_non_null(b);
	aa = xs_mad_agent_register(a, 0x09, 1, NULL, 0);
	ab = xs_mad_agent_register(b, 0x09, 1, NULL, XS_MAD_AGENT_SERVER);
	assert_non_null(aa);
	assert_non_null(ab);
	to.lid = port_lid(b);
	for (int i = 0; i < n; i++) {
		make_mad(mad, 0x09, XS_MAD_METHOD_GET, 0x10000u + (uint32_t)i, (uint8_t)i);
		assert_int_equal(xs_mad_send(aa, &to, mad, sizeof(mad)), 0);
	}
	for (int i = 0; i < n; i++) {
		assert_int_equal(xs_mad_recv(ab, &src, got, sizeof(got), 5000), XS_MAD_SIZE);
		assert_int_equal(xs_get32(got + 12), 0x10000u + (uint32_t)i);
	}
	assert_int_equal(xs_mad_recv(ab, &src, got, sizeof(got), 0), -EAGAIN);
	xs_mad_agent_unregister(aa);
	xs_mad_agent_unregister(ab);
	xs_fabric_close(a);
	xs_fabric_close(b);
}

struct echo_args {
	int ready[2];
};

static void test_mad_rpc(void **state)
{
	struct xs_fabric *a = open_port("rpc-client"), *b;
	struct xs_mad_agent *aa;
	struct xs_mad_addr to = { .qpn = 1 };
	uint8_t req[XS_MAD_SIZE], resp[XS_MAD_SIZE];
	int sync[2];
	pid_t pid;
	char c;

	assert_non_null(a);
	assert_int_equal(pipe(sync), 0);
	pid = fork();
	if (pid == 0) {
		/* the server answers one request with the payload inverted */
		struct xs_mad_agent *sa;
		struct xs_mad_addr from;
		uint8_t m[XS_MAD_SIZE];
		int n;

		b = open_port("rpc-server");
		sa = b ? xs_mad_agent_register(b, 0x0b, 2, NULL, XS_MAD_AGENT_SERVER) : NULL;
		if (!sa)
			_exit(1);
		if (write(sync[1], "r", 1) != 1)
			_exit(1);
		n = xs_mad_recv(sa, &from, m, sizeof(m), 5000);
		if (n != XS_MAD_SIZE)
			_exit(2);
		m[3] |= 0x80;
		for (int i = 24; i < XS_MAD_SIZE; i++)
			m[i] = (uint8_t)~m[i];
		if (xs_mad_send(sa, &from, m, (size_t)n) < 0)
			_exit(3);
		usleep(200000);
		xs_fabric_close(b);
		_exit(0);
	}
	assert_int_equal(read(sync[0], &c, 1), 1);
	aa = xs_mad_agent_register(a, 0x0b, 2, NULL, 0);
	assert_non_null(aa);
	make_mad(req, 0x0b, XS_MAD_METHOD_GET, 0xabcdef01, 0x3c);
	req[2] = 2;
	{
		struct xs_fabric *probe = NULL;
		(void)probe;
	}
	/* the server's LID: the next port attached after rpc-client */
	to.lid = (uint16_t)(port_lid(a) + 1);
	assert_int_equal(xs_mad_rpc(aa, &to, req, sizeof(req), resp, sizeof(resp), 1000, 2),
			 XS_MAD_SIZE);
	assert_int_equal(resp[3], XS_MAD_METHOD_GET | 0x80);
	assert_int_equal(xs_get32(resp + 12), 0xabcdef01);
	for (int i = 24; i < XS_MAD_SIZE; i++)
		assert_int_equal(resp[i], (uint8_t)~0x3c);
	{
		int st;

		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	/* nobody answers now: bounded by timeout x (retries + 1) */
	{
		uint64_t t0 = xs_now_ms();

		assert_int_equal(xs_mad_rpc(aa, &to, req, sizeof(req), resp, sizeof(resp), 100, 1),
				 -ETIMEDOUT);
		assert_true(xs_now_ms() - t0 >= 190);
	}
	close(sync[0]);
	close(sync[1]);
	xs_mad_agent_unregister(aa);
	xs_fabric_close(a);
}

/* ---------------------------------------------------------------- SA */

static int sa_call(struct xs_mad_agent *ag, uint8_t method, uint16_t attr, uint64_t mask,
		   const uint8_t *data, size_t dlen, uint8_t *resp, uint32_t tid)
{
	struct xs_sa_hdr h = { 0 };
	struct xs_mad_addr sm = { .lid = 1, .qpn = 1 };
	uint8_t req[XS_MAD_SIZE] = { 0 };

	h.mad.base_version = 1;
	h.mad.mgmt_class = XS_SA_CLASS;
	h.mad.class_version = XS_SA_CLASS_VERSION;
	h.mad.method = method;
	h.mad.tid = tid;
	h.mad.attr_id = attr;
	h.comp_mask = mask;
	assert_int_equal(xs_sa_hdr_encode(&h, req, sizeof(req)), XS_SA_HDR_LEN);
	memcpy(req + XS_SA_DATA_OFF, data, dlen);
	return xs_mad_rpc(ag, &sm, req, sizeof(req), resp, XS_MAD_SIZE, 1000, 1);
}

static void sr_make(struct xs_service_record *sr, uint64_t id, const uint8_t *gid,
		    const char *name, uint32_t lease)
{
	memset(sr, 0, sizeof(*sr));
	sr->id = id;
	memcpy(sr->gid, gid, 16);
	sr->pkey = 0xffff;
	sr->lease = lease;
	snprintf(sr->name, sizeof(sr->name), "%s", name);
	sr->data16[0] = 0x1234;
	sr->data64[0] = 0x0102030405060708ull;
}

static uint16_t sa_status(const uint8_t *resp)
{
	struct xs_sa_hdr h;

	assert_int_equal(xs_sa_hdr_decode(resp, XS_MAD_SIZE, &h), 0);
	return h.mad.status;
}

static int sr_set(struct xs_mad_agent *ag, const struct xs_service_record *sr, uint64_t mask,
		  uint8_t *resp)
{
	uint8_t data[XS_SR_LEN];

	assert_int_equal(xs_sr_encode(sr, data, sizeof(data)), XS_SR_LEN);
	return sa_call(ag, XS_MAD_METHOD_SET, XS_SA_ATTR_SERVICE_RECORD, mask, data, sizeof(data),
		       resp, (uint32_t)rand());
}

static int sr_query(struct xs_mad_agent *ag, uint8_t method, const struct xs_service_record *q,
		    uint64_t mask, uint8_t *resp)
{
	uint8_t data[XS_SR_LEN];

	assert_int_equal(xs_sr_encode(q, data, sizeof(data)), XS_SR_LEN);
	return sa_call(ag, method, XS_SA_ATTR_SERVICE_RECORD, mask, data, sizeof(data), resp,
		       (uint32_t)rand());
}

/* Gather a GetTable answer (possibly several segments) into recs. */
static int gettable(struct xs_mad_agent *ag, const struct xs_service_record *q, uint64_t mask,
		    struct xs_service_record *recs, int max)
{
	uint8_t resp[XS_MAD_SIZE], stream[8 * XS_SA_DATA_LEN];
	struct xs_sa_hdr h;
	size_t total, have = 0;
	int n;

	assert_int_equal(sr_query(ag, XS_MAD_METHOD_GETTABLE, q, mask, resp), XS_MAD_SIZE);
	assert_int_equal(xs_sa_hdr_decode(resp, sizeof(resp), &h), 0);
	assert_int_equal(h.mad.method, XS_SA_METHOD_GETTABLE_RESP);
	assert_int_equal(h.mad.status, 0);
	assert_int_equal(h.attr_offset, XS_SR_LEN / 8);
	if (!(h.rmpp_rtime_flags & 1)) {
		/* one MAD: as many records as its data holds */
		memcpy(stream, resp + XS_SA_DATA_OFF, XS_SA_DATA_LEN);
		total = XS_SA_DATA_LEN;
	} else {
		assert_int_equal(h.rmpp_data1, 1);
		assert_true(h.rmpp_rtime_flags & 2);
		total = h.rmpp_data2;
		memcpy(stream, resp + XS_SA_DATA_OFF, XS_SA_DATA_LEN);
		have = XS_SA_DATA_LEN;
		for (uint32_t seg = 2; have < total; seg++) {
			assert_int_equal(xs_mad_recv(ag, NULL, resp, sizeof(resp), 1000), XS_MAD_SIZE);
			assert_int_equal(xs_sa_hdr_decode(resp, sizeof(resp), &h), 0);
			assert_int_equal(h.rmpp_data1, seg);
			memcpy(stream + have, resp + XS_SA_DATA_OFF, XS_SA_DATA_LEN);
			have += XS_SA_DATA_LEN;
		}
		assert_true(h.rmpp_rtime_flags & 4);
	}
	for (n = 0; n < max && (size_t)(n + 1) * XS_SR_LEN <= total; n++) {
		assert_int_equal(xs_sr_decode(stream + (size_t)n * XS_SR_LEN, XS_SR_LEN, &recs[n]), 0);
		if (!recs[n].id && !(h.rmpp_rtime_flags & 1))
			break;
	}
	return n;
}

static void test_sa_service_records(void **state)
{
	struct xs_fabric *f = open_port("sa-user"), *g = open_port("sa-other");
	struct xs_mad_agent *ag = xs_mad_agent_register(f, XS_SA_CLASS, XS_SA_CLASS_VERSION, NULL, 0);
	struct xs_mad_agent *ag2 = xs_mad_agent_register(g, XS_SA_CLASS, XS_SA_CLASS_VERSION, NULL, 0);
	const uint64_t idmask = XS_SR_COMP_ID | XS_SR_COMP_GID;
	struct xs_service_record sr, q, got, recs[8];
	struct xs_port_attr pa;
	uint8_t resp[XS_MAD_SIZE];
	struct xs_sa_hdr h;

	assert_non_null(ag);
	assert_non_null(ag2);
	assert_int_equal(xs_fabric_query_port(f, &pa), 0);

	/* Set needs ServiceID and ServiceGID in the mask */
	sr_make(&sr, 0x1000, pa.gid, "XSIGOXDS", XS_SR_LEASE_INFINITE);
	assert_int_equal(sr_set(ag, &sr, XS_SR_COMP_NAME, resp), XS_MAD_SIZE);
	assert_int_equal(sa_status(resp), XS_SA_STATUS_INSUF_COMPONENTS);

	assert_int_equal(sr_set(ag, &sr, idmask | XS_SR_COMP_NAME, resp), XS_MAD_SIZE);
	assert_int_equal(xs_sa_hdr_decode(resp, sizeof(resp), &h), 0);
	assert_int_equal(h.mad.method, 0x81);
	assert_int_equal(h.mad.status, 0);
	assert_int_equal(h.attr_offset, 22);
	/* same ID+GID+PKey replaces */
	sr.data16[0] = 0x5678;
	assert_int_equal(sr_set(ag, &sr, idmask, resp), XS_MAD_SIZE);
	assert_int_equal(sa_status(resp), 0);
	sr_make(&sr, 0x2000, pa.gid, "second", XS_SR_LEASE_INFINITE);
	assert_int_equal(sr_set(ag, &sr, idmask, resp), XS_MAD_SIZE);
	sr_make(&sr, 0x3000, pa.gid, "third", XS_SR_LEASE_INFINITE);
	assert_int_equal(sr_set(ag, &sr, idmask, resp), XS_MAD_SIZE);

	/* Get by name, from another port */
	memset(&q, 0, sizeof(q));
	snprintf(q.name, sizeof(q.name), "XSIGOXDS");
	assert_int_equal(sr_query(ag2, XS_MAD_METHOD_GET, &q, XS_SR_COMP_NAME, resp), XS_MAD_SIZE);
	assert_int_equal(sa_status(resp), 0);
	assert_int_equal(resp[3], 0x81);
	assert_int_equal(xs_sr_decode(resp + XS_SA_DATA_OFF, XS_SR_LEN, &got), 0);
	assert_int_equal(got.id, 0x1000);
	assert_int_equal(got.data16[0], 0x5678);
	assert_int_equal(got.data64[0], 0x0102030405060708ull);
	assert_memory_equal(got.gid, pa.gid, 16);

	snprintf(q.name, sizeof(q.name), "nobody");
	assert_int_equal(sr_query(ag2, XS_MAD_METHOD_GET, &q, XS_SR_COMP_NAME, resp), XS_MAD_SIZE);
	assert_int_equal(sa_status(resp), XS_SA_STATUS_NO_RECORDS);

	/* GetTable by GID: all three (three records need two segments) */
	memset(&q, 0, sizeof(q));
	memcpy(q.gid, pa.gid, 16);
	assert_int_equal(gettable(ag2, &q, XS_SR_COMP_GID, recs, 8), 3);
	{
		uint64_t ids = 0;

		for (int i = 0; i < 3; i++)
			ids |= recs[i].id;
		assert_int_equal(ids, 0x1000 | 0x2000 | 0x3000);
	}

	/* Delete one by ID */
	memset(&q, 0, sizeof(q));
	q.id = 0x2000;
	assert_int_equal(sr_query(ag, XS_MAD_METHOD_DELETE, &q, XS_SR_COMP_ID, resp), XS_MAD_SIZE);
	assert_int_equal(resp[3], 0x95);
	assert_int_equal(sa_status(resp), 0);
	assert_int_equal(sr_query(ag, XS_MAD_METHOD_GET, &q, XS_SR_COMP_ID, resp), XS_MAD_SIZE);
	assert_int_equal(sa_status(resp), XS_SA_STATUS_NO_RECORDS);
	assert_int_equal(sr_query(ag, XS_MAD_METHOD_DELETE, &q, XS_SR_COMP_ID, resp), XS_MAD_SIZE);
	assert_int_equal(sa_status(resp), XS_SA_STATUS_NO_RECORDS);

	/* a lease of 1 s expires */
	sr_make(&sr, 0x4000, pa.gid, "short-lived", 1);
	assert_int_equal(sr_set(ag, &sr, idmask, resp), XS_MAD_SIZE);
	memset(&q, 0, sizeof(q));
	q.id = 0x4000;
	assert_int_equal(sr_query(ag, XS_MAD_METHOD_GET, &q, XS_SR_COMP_ID, resp), XS_MAD_SIZE);
	assert_int_equal(sa_status(resp), 0);
	usleep(1400000);
	assert_int_equal(sr_query(ag, XS_MAD_METHOD_GET, &q, XS_SR_COMP_ID, resp), XS_MAD_SIZE);
	assert_int_equal(sa_status(resp), XS_SA_STATUS_NO_RECORDS);

	/* records go when their port detaches */
	xs_mad_agent_unregister(ag);
	xs_fabric_close(f);
	usleep(100000);
	memset(&q, 0, sizeof(q));
	q.id = 0x1000;
	assert_int_equal(sr_query(ag2, XS_MAD_METHOD_GET, &q, XS_SR_COMP_ID, resp), XS_MAD_SIZE);
	assert_int_equal(sa_status(resp), XS_SA_STATUS_NO_RECORDS);

	/* unknown attribute */
	assert_int_equal(sa_call(ag2, XS_MAD_METHOD_GET, 0x0011, 0, resp, 0, resp, 77), XS_MAD_SIZE);
	assert_int_equal(sa_status(resp), XS_MAD_STATUS_UNSUP_METHOD_ATTR);
	xs_mad_agent_unregister(ag2);
	xs_fabric_close(g);
}

static void test_sa_path_record(void **state)
{
	struct xs_fabric *a = open_port("pa1"), *b = open_port("pa2"), *c = open_port("pb1");
	struct xs_mad_agent *ag = xs_mad_agent_register(a, XS_SA_CLASS, XS_SA_CLASS_VERSION, NULL, 0);
	struct xs_port_attr pa, pb, pc;
	struct xs_path_record q, r;
	uint8_t data[XS_PR_LEN], resp[XS_MAD_SIZE];

	assert_non_null(ag);
	xs_fabric_query_port(a, &pa);
	xs_fabric_query_port(b, &pb);
	xs_fabric_query_port(c, &pc);

	memset(&q, 0, sizeof(q));
	memcpy(q.dgid, pb.gid, 16);
	memcpy(q.sgid, pa.gid, 16);
	q.pkey = 0x8001;
	assert_int_equal(xs_pr_encode(&q, data, sizeof(data)), XS_PR_LEN);
	assert_int_equal(sa_call(ag, XS_MAD_METHOD_GET, XS_SA_ATTR_PATH_RECORD,
				 XS_PR_COMP_DGID | XS_PR_COMP_SGID | XS_PR_COMP_PKEY, data,
				 sizeof(data), resp, 0x99),
			 XS_MAD_SIZE);
	assert_int_equal(sa_status(resp), 0);
	assert_int_equal(xs_pr_decode(resp + XS_SA_DATA_OFF, XS_PR_LEN, &r), 0);
	assert_int_equal(r.dlid, pb.lid);
	assert_int_equal(r.slid, pa.lid);
	assert_memory_equal(r.dgid, pb.gid, 16);
	assert_memory_equal(r.sgid, pa.gid, 16);
	assert_int_equal(r.pkey, 0x8001);
	assert_int_equal(r.mtu, 5);

	/* by DLID, from the requester */
	memset(&q, 0, sizeof(q));
	q.dlid = pc.lid;
	assert_int_equal(xs_pr_encode(&q, data, sizeof(data)), XS_PR_LEN);
	assert_int_equal(sa_call(ag, XS_MAD_METHOD_GET, XS_SA_ATTR_PATH_RECORD,
				 XS_PR_COMP_DLID, data, sizeof(data), resp, 0x9a),
			 XS_MAD_SIZE);
	assert_int_equal(sa_status(resp), 0);
	assert_int_equal(xs_pr_decode(resp + XS_SA_DATA_OFF, XS_PR_LEN, &r), 0);
	assert_int_equal(r.dlid, pc.lid);
	assert_int_equal(r.slid, pa.lid);
	assert_int_equal(r.pkey, 0xffff);

	/* no path in a partition the destination is not in */
	q.pkey = 0x8001;
	assert_int_equal(xs_pr_encode(&q, data, sizeof(data)), XS_PR_LEN);
	assert_int_equal(sa_call(ag, XS_MAD_METHOD_GET, XS_SA_ATTR_PATH_RECORD,
				 XS_PR_COMP_DLID | XS_PR_COMP_PKEY, data, sizeof(data), resp, 0x9b),
			 XS_MAD_SIZE);
	assert_int_equal(sa_status(resp), XS_SA_STATUS_NO_RECORDS);

	xs_mad_agent_unregister(ag);
	xs_fabric_close(a);
	xs_fabric_close(b);
	xs_fabric_close(c);
}

/* ---------------------------------------------------------------- CM */

static void test_cm_private_data(void **state)
{
	struct xs_fabric *fa = open_port("cm-a"), *fb = open_port("cm-b");
	struct side a, b;
	struct xs_cm_listener *l;
	struct xs_cm_dest d = { 0 };
	struct xs_cm_req_info info;
	struct xs_port_attr pa, pb;
	uint8_t pd[XS_CM_PRIVATE_DATA_MAX], rep[XS_CM_REP_PRIVATE_DATA_MAX];
	struct xs_event ev;

	assert_non_null(fa);
	assert_non_null(fb);
	side_init(&a, fa);
	side_init(&b, fb);
	xs_fabric_query_port(fa, &pa);
	xs_fabric_query_port(fb, &pb);
	for (int i = 0; i < (int)sizeof(pd); i++)
		pd[i] = (uint8_t)(i * 7 + 1);
	for (int i = 0; i < (int)sizeof(rep); i++)
		rep[i] = (uint8_t)(255 - i);
	l = xs_cm_listen(fb, 0x2139701);
	assert_non_null(l);
	assert_null(xs_cm_listen(fb, 0x2139701));
	assert_int_equal(errno, EADDRINUSE);

	/* by GID */
	d.has_gid = true;
	memcpy(d.gid, pb.gid, 16);
	assert_int_equal(xs_qp_connect(a.qp, &d, 0x2139701, pd, sizeof(pd), 2000), 0);
	assert_int_equal(xs_qp_state(a.qp), XS_QPS_CONNECTING);
	assert_int_equal(wait_event_type(fb, XS_EV_CONNECT_REQUEST, &ev, 2000), 0);
	assert_ptr_equal(ev.listener, l);
	assert_int_equal(ev.private_len, sizeof(pd));
	assert_memory_equal(ev.private_data, pd, sizeof(pd));
	assert_int_equal(xs_cm_req_info(ev.req, &info), 0);
	assert_int_equal(info.service_id, 0x2139701);
	assert_int_equal(info.remote_lid, pa.lid);
	assert_int_equal(info.remote_port_guid, pa.port_guid);
	assert_memory_equal(info.remote_gid, pa.gid, 16);
	assert_int_equal(info.private_len, sizeof(pd));
	assert_memory_equal(info.private_data, pd, sizeof(pd));
	assert_int_equal(xs_qp_accept(b.qp, ev.req, rep, sizeof(rep)), 0);
	assert_int_equal(wait_event_type(fa, XS_EV_ESTABLISHED, &ev, 2000), 0);
	assert_ptr_equal(ev.qp, a.qp);
	assert_int_equal(ev.private_len, sizeof(rep));
	assert_memory_equal(ev.private_data, rep, sizeof(rep));
	assert_int_equal(wait_event_type(fb, XS_EV_ESTABLISHED, &ev, 2000), 0);
	assert_ptr_equal(ev.qp, b.qp);

	/* nobody listens on this one: rejected with "invalid service ID" */
	side_fini(&a);
	side_init(&a, fa);
	d.has_gid = false;
	d.lid = pb.lid;
	assert_int_equal(xs_qp_connect(a.qp, &d, 0x777, NULL, 0, 2000), 0);
	assert_int_equal(wait_event_type(fa, XS_EV_REJECTED, &ev, 2000), 0);
	assert_int_equal(ev.reject_reason, XS_CM_REJ_INVALID_SID);

	/* no such LID */
	side_fini(&a);
	side_init(&a, fa);
	d.lid = 0x3000;
	assert_int_equal(xs_qp_connect(a.qp, &d, 0x2139701, NULL, 0, 2000), 0);
	assert_int_equal(wait_event_type(fa, XS_EV_UNREACHABLE, &ev, 2000), 0);
	assert_int_equal(ev.status, -EHOSTUNREACH);

	xs_cm_listener_close(l);
	side_fini(&a);
	side_fini(&b);
	xs_fabric_close(fa);
	xs_fabric_close(fb);
}

static void test_cm_reject(void **state)
{
	struct xs_fabric *fa = open_port("rej-a"), *fb = open_port("rej-b");
	struct side a;
	struct xs_cm_listener *l = xs_cm_listen(fb, 0x42);
	struct xs_cm_dest d = { .lid = port_lid(fb) };
	uint8_t why[XS_CM_REJ_PRIVATE_DATA_MAX];
	struct xs_event ev;

	assert_non_null(l);
	side_init(&a, fa);
	memset(why, 0xee, sizeof(why));
	memcpy(why, "go away", 7);
	assert_int_equal(xs_qp_connect(a.qp, &d, 0x42, "hi", 2, 2000), 0);
	assert_int_equal(wait_event_type(fb, XS_EV_CONNECT_REQUEST, &ev, 2000), 0);
	assert_int_equal(xs_cm_reject(ev.req, XS_CM_REJ_CONSUMER, why, sizeof(why)), 0);
	assert_int_equal(wait_event_type(fa, XS_EV_REJECTED, &ev, 2000), 0);
	assert_ptr_equal(ev.qp, a.qp);
	assert_int_equal(ev.reject_reason, XS_CM_REJ_CONSUMER);
	assert_int_equal(ev.private_len, sizeof(why));
	assert_memory_equal(ev.private_data, why, sizeof(why));
	assert_int_equal(xs_qp_state(a.qp), XS_QPS_RESET);

	/* a listener closed before its application saw the request rejects it */
	side_fini(&a);
	side_init(&a, fa);
	assert_int_equal(xs_qp_connect(a.qp, &d, 0x42, NULL, 0, 2000), 0);
	usleep(200000); /* the request is queued on fb, unread */
	xs_cm_listener_close(l);
	assert_int_equal(xs_fabric_get_event(fb, &ev), -EAGAIN);
	assert_int_equal(wait_event_type(fa, XS_EV_REJECTED, &ev, 2000), 0);
	assert_int_equal(ev.reject_reason, XS_CM_REJ_INVALID_SID);
	side_fini(&a);
	xs_fabric_close(fa);
	xs_fabric_close(fb);
}

static void test_cm_timeout(void **state)
{
	struct xs_fabric *fa = open_port("to-a"), *fb = open_port("to-b");
	struct side a, b;
	struct xs_cm_listener *l = xs_cm_listen(fb, 0x43);
	struct xs_cm_dest d = { .lid = port_lid(fb) };
	struct xs_event ev, req;
	uint64_t t0;

	assert_non_null(l);
	side_init(&a, fa);
	side_init(&b, fb);
	t0 = xs_now_ms();
	assert_int_equal(xs_qp_connect(a.qp, &d, 0x43, NULL, 0, 300), 0);
	assert_int_equal(wait_event_type(fb, XS_EV_CONNECT_REQUEST, &req, 2000), 0);
	/* the listener never answers */
	assert_int_equal(wait_event_type(fa, XS_EV_UNREACHABLE, &ev, 3000), 0);
	assert_int_equal(ev.status, -ETIMEDOUT);
	assert_true(xs_now_ms() - t0 >= 290);
	assert_true(xs_now_ms() - t0 < 2000);
	usleep(50000);
	assert_int_equal(xs_qp_accept(b.qp, req.req, NULL, 0), -ECONNABORTED);
	assert_int_equal(xs_qp_state(b.qp), XS_QPS_RESET);
	xs_cm_listener_close(l);
	side_fini(&a);
	side_fini(&b);
	xs_fabric_close(fa);
	xs_fabric_close(fb);
}

/* ---------------------------------------------------------- data path */

static void test_send_recv_order(void **state)
{
	struct pair p;
	enum { N = 16, SZ = 1024 };
	static uint8_t rbuf[N][SZ], sbuf[N][SZ];
	struct xs_mr *rmr, *smr;
	struct xs_wc wc;

	pair_up(&p, "sr-a", "sr-b", 0x100);
	rmr = xs_mr_reg(p.b.pd, rbuf, sizeof(rbuf), XS_ACCESS_LOCAL_WRITE);
	smr = xs_mr_reg(p.a.pd, sbuf, sizeof(sbuf), 0);
	assert_non_null(rmr);
	assert_non_null(smr);
	for (int i = 0; i < N; i++)
		assert_int_equal(post_recv1(&p.b, 100 + i, rbuf[i], SZ, xs_mr_lkey(rmr)), 0);
	for (int i = 0; i < N; i++) {
		memset(sbuf[i], 'A' + i, SZ);
		assert_int_equal(post_send1(&p.a, i, XS_WR_SEND, sbuf[i], (uint32_t)(i * 60 + 1),
					    xs_mr_lkey(smr), 0, 0, XS_SEND_SIGNALED),
				 0);
	}
	for (int i = 0; i < N; i++) {
		assert_int_equal(wait_wc(p.b.cq, &wc, 2000), 1);
		assert_int_equal(wc.status, XS_WC_SUCCESS);
		assert_int_equal(wc.opcode, XS_WC_RECV);
		assert_int_equal(wc.wr_id, 100 + i);
		assert_int_equal(wc.byte_len, i * 60 + 1);
		assert_false(wc.has_imm);
		assert_memory_equal(rbuf[i], sbuf[i], (size_t)(i * 60 + 1));
		assert_int_equal(rbuf[i][i * 60 + 1], 0); /* nothing beyond the message */
	}
	for (int i = 0; i < N; i++) {
		assert_int_equal(wait_wc(p.a.cq, &wc, 2000), 1);
		assert_int_equal(wc.status, XS_WC_SUCCESS);
		assert_int_equal(wc.opcode, XS_WC_SEND);
		assert_int_equal(wc.wr_id, i);
	}
	/* immediate data, and an inline send */
	assert_int_equal(post_recv1(&p.b, 7, rbuf[0], SZ, xs_mr_lkey(rmr)), 0);
	{
		struct xs_sge sge = { .addr = (uintptr_t)"inline!", .length = 7 };
		struct xs_send_wr wr = { .wr_id = 55, .opcode = XS_WR_SEND_WITH_IMM,
					 .sg_list = &sge, .num_sge = 1, .imm_data = 0xdeadbeef,
					 .flags = XS_SEND_SIGNALED | XS_SEND_INLINE };

		assert_int_equal(xs_qp_post_send(p.a.qp, &wr), 0);
	}
	assert_int_equal(wait_wc(p.b.cq, &wc, 2000), 1);
	assert_int_equal(wc.status, XS_WC_SUCCESS);
	assert_true(wc.has_imm);
	assert_int_equal(wc.imm_data, 0xdeadbeef);
	assert_int_equal(wc.byte_len, 7);
	assert_memory_equal(rbuf[0], "inline!", 7);
	assert_int_equal(wait_wc(p.a.cq, &wc, 2000), 1);
	assert_int_equal(wc.wr_id, 55);

	xs_mr_dereg(rmr);
	xs_mr_dereg(smr);
	pair_down(&p);
}

static void test_large_and_scatter(void **state)
{
	struct pair p;
	const size_t big = 4u << 20;
	uint8_t *s = malloc(big), *r1 = calloc(1, big / 2), *r2 = calloc(1, big / 2 + 16);
	struct xs_mr *smr, *m1, *m2;
	struct xs_wc wc;

	assert_non_null(s);
	for (size_t i = 0; i < big; i++)
		s[i] = (uint8_t)(i * 131 + (i >> 12));
	pair_up(&p, "big-a", "big-b", 0x101);
	smr = xs_mr_reg(p.a.pd, s, big, 0);
	m1 = xs_mr_reg(p.b.pd, r1, big / 2, XS_ACCESS_LOCAL_WRITE);
	m2 = xs_mr_reg(p.b.pd, r2, big / 2 + 16, XS_ACCESS_LOCAL_WRITE);
	{
		struct xs_sge sg[2] = {
			{ .addr = (uintptr_t)r1, .length = (uint32_t)(big / 2), .lkey = xs_mr_lkey(m1) },
			{ .addr = (uintptr_t)r2, .length = (uint32_t)(big / 2 + 16),
			  .lkey = xs_mr_lkey(m2) },
		};
		struct xs_recv_wr wr = { .wr_id = 1, .sg_list = sg, .num_sge = 2 };

		assert_int_equal(xs_qp_post_recv(p.b.qp, &wr), 0);
	}
	assert_int_equal(post_send1(&p.a, 9, XS_WR_SEND, s, (uint32_t)big, xs_mr_lkey(smr), 0, 0,
				    XS_SEND_SIGNALED),
			 0);
	assert_int_equal(wait_wc(p.b.cq, &wc, 5000), 1);
	assert_int_equal(wc.status, XS_WC_SUCCESS);
	assert_int_equal(wc.byte_len, big);
	assert_memory_equal(r1, s, big / 2);
	assert_memory_equal(r2, s + big / 2, big / 2);
	assert_int_equal(wait_wc(p.a.cq, &wc, 5000), 1);
	assert_int_equal(wc.status, XS_WC_SUCCESS);
	xs_mr_dereg(smr);
	xs_mr_dereg(m1);
	xs_mr_dereg(m2);
	pair_down(&p);
	free(s);
	free(r1);
	free(r2);
}

static void test_rdma_write_read(void **state)
{
	struct pair p;
	static uint8_t target[256 * 1024], src[256 * 1024], back[256 * 1024];
	struct xs_mr *tmr, *smr, *bmr;
	struct xs_wc wc;

	pair_up(&p, "rdma-a", "rdma-b", 0x102);
	tmr = xs_mr_reg(p.b.pd, target, sizeof(target),
			XS_ACCESS_LOCAL_WRITE | XS_ACCESS_REMOTE_WRITE | XS_ACCESS_REMOTE_READ);
	smr = xs_mr_reg(p.a.pd, src, sizeof(src), 0);
	bmr = xs_mr_reg(p.a.pd, back, sizeof(back), XS_ACCESS_LOCAL_WRITE);
	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i ^ (i >> 8));
	/* WRITE 200 KiB at offset 1000 of the target, without the target's app */
	assert_int_equal(post_send1(&p.a, 1, XS_WR_RDMA_WRITE, src, 200 * 1024, xs_mr_lkey(smr),
				    (uintptr_t)target + 1000, xs_mr_rkey(tmr), XS_SEND_SIGNALED),
			 0);
	assert_int_equal(wait_wc(p.a.cq, &wc, 2000), 1);
	assert_int_equal(wc.status, XS_WC_SUCCESS);
	assert_int_equal(wc.opcode, XS_WC_RDMA_WRITE);
	assert_memory_equal(target + 1000, src, 200 * 1024);
	assert_int_equal(target[999], 0);
	/* READ it back */
	assert_int_equal(post_send1(&p.a, 2, XS_WR_RDMA_READ, back, 200 * 1024, xs_mr_lkey(bmr),
				    (uintptr_t)target + 1000, xs_mr_rkey(tmr), XS_SEND_SIGNALED),
			 0);
	assert_int_equal(wait_wc(p.a.cq, &wc, 2000), 1);
	assert_int_equal(wc.status, XS_WC_SUCCESS);
	assert_int_equal(wc.opcode, XS_WC_RDMA_READ);
	assert_int_equal(wc.byte_len, 200 * 1024);
	assert_memory_equal(back, src, 200 * 1024);
	/* no completions on the target side for one-sided operations */
	assert_int_equal(xs_cq_poll(p.b.cq, &wc, 1), 0);
	xs_mr_dereg(tmr);
	xs_mr_dereg(smr);
	xs_mr_dereg(bmr);
	pair_down(&p);
}


/* Large SENDs, WRITEs and READs interleaved on one connection: every byte
 * lands where it belongs, whatever order the records come in. */
static void test_mixed_stream(void **state)
{
	enum { L = 150 * 1024, R = 4 };
	uint8_t *src = malloc(4 * L), *rbuf = calloc(R, L), *tgt = calloc(1, 2 * L),
		*back = calloc(1, L);
	struct xs_mr *smr, *rmr, *tmr, *bmr;
	struct xs_wc wc;
	struct pair p;
	int sends = 0;

	assert_non_null(src);
	for (size_t i = 0; i < 4 * (size_t)L; i++)
		src[i] = (uint8_t)(i * 7 + (i >> 10));
	pair_up(&p, "mix-a", "mix-b", 0x10c);
	smr = xs_mr_reg(p.a.pd, src, 4 * L, 0);
	bmr = xs_mr_reg(p.a.pd, back, L, XS_ACCESS_LOCAL_WRITE);
	rmr = xs_mr_reg(p.b.pd, rbuf, (size_t)R * L, XS_ACCESS_LOCAL_WRITE);
	tmr = xs_mr_reg(p.b.pd, tgt, 2 * L,
			XS_ACCESS_LOCAL_WRITE | XS_ACCESS_REMOTE_WRITE | XS_ACCESS_REMOTE_READ);
	for (int i = 0; i < R; i++)
		assert_int_equal(post_recv1(&p.b, 200 + i, rbuf + (size_t)i * L, L, xs_mr_lkey(rmr)),
				 0);
	/* SEND, WRITE, SEND, WRITE, SEND, READ, SEND */
	for (int k = 0; k < 7; k++) {
		int rc;

		if (k == 1 || k == 3)
			rc = post_send1(&p.a, (uint64_t)k, XS_WR_RDMA_WRITE, src + (size_t)L * (k == 1 ? 1 : 2),
					L, xs_mr_lkey(smr), (uintptr_t)tgt + (k == 1 ? 0 : L),
					xs_mr_rkey(tmr), XS_SEND_SIGNALED);
		else if (k == 5)
			rc = post_send1(&p.a, (uint64_t)k, XS_WR_RDMA_READ, back, L, xs_mr_lkey(bmr),
					(uintptr_t)tgt, xs_mr_rkey(tmr), XS_SEND_SIGNALED);
		else
			rc = post_send1(&p.a, (uint64_t)k, XS_WR_SEND, src + (size_t)L * (sends % 4), L,
					xs_mr_lkey(smr), 0, 0, XS_SEND_SIGNALED), sends++;
		assert_int_equal(rc, 0);
	}
	for (int k = 0; k < 7; k++) {
		assert_int_equal(wait_wc(p.a.cq, &wc, 5000), 1);
		assert_int_equal(wc.status, XS_WC_SUCCESS);
		assert_int_equal(wc.wr_id, k);
	}
	for (int i = 0; i < R; i++) {
		assert_int_equal(wait_wc(p.b.cq, &wc, 5000), 1);
		assert_int_equal(wc.status, XS_WC_SUCCESS);
		assert_int_equal(wc.wr_id, 200 + i);
		assert_int_equal(wc.byte_len, L);
		assert_memory_equal(rbuf + (size_t)i * L, src + (size_t)L * i, L);
	}
	assert_memory_equal(tgt, src + L, L);
	assert_memory_equal(tgt + L, src + 2 * (size_t)L, L);
	assert_memory_equal(back, src + L, L);
	xs_mr_dereg(smr);
	xs_mr_dereg(bmr);
	xs_mr_dereg(rmr);
	xs_mr_dereg(tmr);
	pair_down(&p);
	free(src);
	free(rbuf);
	free(tgt);
	free(back);
}

/* Unsignaled sends complete silently; a signaled one behind them completes
 * alone; destroying a QP flushes what it still holds. */
static void test_unsignaled_and_destroy_flush(void **state)
{
	static uint8_t sbuf[64] = "x", rbuf[8][64];
	struct xs_mr *smr, *rmr;
	struct xs_wc wc[8];
	struct pair p;

	pair_up(&p, "unsig-a", "unsig-b", 0x10d);
	smr = xs_mr_reg(p.a.pd, sbuf, sizeof(sbuf), 0);
	rmr = xs_mr_reg(p.b.pd, rbuf, sizeof(rbuf), XS_ACCESS_LOCAL_WRITE);
	for (int i = 0; i < 8; i++)
		assert_int_equal(post_recv1(&p.b, 300 + i, rbuf[i], 64, xs_mr_lkey(rmr)), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(post_send1(&p.a, 10 + i, XS_WR_SEND, sbuf, 16, xs_mr_lkey(smr), 0, 0,
					    0),
				 0);
	assert_int_equal(post_send1(&p.a, 13, XS_WR_SEND, sbuf, 16, xs_mr_lkey(smr), 0, 0,
				    XS_SEND_SIGNALED),
			 0);
	assert_int_equal(wait_wc(p.a.cq, wc, 2000), 1);
	assert_int_equal(wc[0].wr_id, 13);
	assert_int_equal(wc[0].status, XS_WC_SUCCESS);
	usleep(50000);
	assert_int_equal(xs_cq_poll(p.a.cq, wc, 8), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(wait_wc(p.b.cq, wc, 2000), 1);
		assert_int_equal(wc[0].wr_id, 300 + i);
	}
	/* four receives left on b: destroying its QP flushes them, without an event */
	assert_int_equal(xs_qp_destroy(p.b.qp), 0);
	for (int i = 4; i < 8; i++) {
		assert_int_equal(wait_wc(p.b.cq, wc, 2000), 1);
		assert_int_equal(wc[0].wr_id, 300 + i);
		assert_int_equal(wc[0].status, XS_WC_WR_FLUSH_ERR);
	}
	{
		struct xs_event ev;

		assert_int_equal(xs_fabric_wait_event(p.fb, &ev, 200), -ETIMEDOUT);
		/* a sees the hang-up */
		assert_int_equal(wait_event_type(p.fa, XS_EV_DISCONNECTED, &ev, 2000), 0);
	}
	{
		struct xs_qp_attr a = { .pd = p.b.pd, .send_cq = p.b.cq, .recv_cq = p.b.cq };

		p.b.qp = xs_qp_create(p.fb, &a); /* for pair_down */
		assert_non_null(p.b.qp);
		assert_int_equal(xs_qp_state(p.b.qp), XS_QPS_RESET);
		assert_int_equal(post_send1(&p.b, 1, XS_WR_SEND, rbuf[0], 1, xs_mr_lkey(rmr), 0, 0,
					    0),
				 -ENOTCONN);
	}
	xs_mr_dereg(smr);
	xs_mr_dereg(rmr);
	pair_down(&p);
}

/* A port can connect to itself (both ends in one process). */
static void test_loopback(void **state)
{
	struct xs_fabric *f = open_port("loop");
	static uint8_t sbuf[32] = "to myself", rbuf[32];
	struct xs_mr *smr, *rmr;
	struct side a, b;
	struct xs_wc wc;

	assert_non_null(f);
	side_init(&a, f);
	side_init(&b, f);
	{
		struct xs_cm_listener *l = xs_cm_listen(f, 0x10e);
		struct xs_cm_dest d = { .lid = port_lid(f) };
		bool ea = false, eb = false;
		struct xs_event ev;

		assert_non_null(l);
		assert_int_equal(xs_qp_connect(a.qp, &d, 0x10e, "me", 2, 2000), 0);
		assert_int_equal(wait_event_type(f, XS_EV_CONNECT_REQUEST, &ev, 2000), 0);
		assert_int_equal(ev.private_len, 2);
		assert_int_equal(xs_qp_accept(b.qp, ev.req, NULL, 0), 0);
		/* both ends' ESTABLISHED arrive on the one event fd, in either order */
		for (int i = 0; i < 2; i++) {
			assert_int_equal(wait_event_type(f, XS_EV_ESTABLISHED, &ev, 2000), 0);
			ea |= ev.qp == a.qp;
			eb |= ev.qp == b.qp;
		}
		assert_true(ea && eb);
		xs_cm_listener_close(l);
	}
	smr = xs_mr_reg(a.pd, sbuf, sizeof(sbuf), 0);
	rmr = xs_mr_reg(b.pd, rbuf, sizeof(rbuf), XS_ACCESS_LOCAL_WRITE);
	assert_int_equal(post_recv1(&b, 1, rbuf, sizeof(rbuf), xs_mr_lkey(rmr)), 0);
	assert_int_equal(post_send1(&a, 2, XS_WR_SEND, sbuf, 10, xs_mr_lkey(smr), 0, 0,
				    XS_SEND_SIGNALED),
			 0);
	assert_int_equal(wait_wc(b.cq, &wc, 2000), 1);
	assert_int_equal(wc.wr_id, 1);
	assert_string_equal((char *)rbuf, "to myself");
	assert_int_equal(wait_wc(a.cq, &wc, 2000), 1);
	assert_int_equal(wc.wr_id, 2);
	xs_mr_dereg(smr);
	xs_mr_dereg(rmr);
	side_fini(&a);
	side_fini(&b);
	xs_fabric_close(f);
}

/* One refused RDMA operation: REM_ACCESS_ERR, both QPs in error, flushed. */
static void rdma_refused(enum xs_wr_opcode op, int target_access, bool other_pd, bool bad_key,
			 size_t off, uint32_t len)
{
	static uint8_t target[4096], local[8192], rbuf[64];
	struct xs_pd *pd2 = NULL;
	struct xs_mr *tmr, *lmr, *rmr;
	struct xs_wc wc;
	struct xs_event ev;
	struct pair p;

	pair_up(&p, "deny-a", "deny-b", 0x103);
	if (other_pd) {
		pd2 = xs_pd_alloc(p.fb);
		assert_non_null(pd2);
	}
	memset(target, 0x11, sizeof(target));
	tmr = xs_mr_reg(other_pd ? pd2 : p.b.pd, target, sizeof(target), target_access);
	assert_non_null(tmr);
	lmr = xs_mr_reg(p.a.pd, local, sizeof(local), XS_ACCESS_LOCAL_WRITE);
	rmr = xs_mr_reg(p.b.pd, rbuf, sizeof(rbuf), XS_ACCESS_LOCAL_WRITE);
	/* a receive on the target, to see it flushed */
	assert_int_equal(post_recv1(&p.b, 77, rbuf, sizeof(rbuf), xs_mr_lkey(rmr)), 0);
	memset(local, 0x22, sizeof(local));
	assert_int_equal(post_send1(&p.a, 5, op, local, len, xs_mr_lkey(lmr),
				    (uintptr_t)target + off,
				    bad_key ? xs_mr_rkey(tmr) ^ 0x5500 : xs_mr_rkey(tmr), 0),
			 0);
	/* and one behind it, which flushes */
	assert_int_equal(post_send1(&p.a, 6, XS_WR_SEND, local, 8, xs_mr_lkey(lmr), 0, 0,
				    XS_SEND_SIGNALED),
			 0);
	assert_int_equal(wait_wc(p.a.cq, &wc, 2000), 1);
	assert_int_equal(wc.wr_id, 5);
	assert_int_equal(wc.status, XS_WC_REM_ACCESS_ERR);
	assert_int_equal(wait_wc(p.a.cq, &wc, 2000), 1);
	assert_int_equal(wc.wr_id, 6);
	assert_int_equal(wc.status, XS_WC_WR_FLUSH_ERR);
	assert_int_equal(xs_qp_state(p.a.qp), XS_QPS_ERROR);
	assert_int_equal(wait_event_type(p.fa, XS_EV_DISCONNECTED, &ev, 2000), 0);
	/* the target: its receive flushed, QP in error, data untouched */
	assert_int_equal(wait_wc(p.b.cq, &wc, 2000), 1);
	assert_int_equal(wc.wr_id, 77);
	assert_int_equal(wc.status, XS_WC_WR_FLUSH_ERR);
	assert_int_equal(wait_event_type(p.fb, XS_EV_DISCONNECTED, &ev, 2000), 0);
	assert_int_equal(xs_qp_state(p.b.qp), XS_QPS_ERROR);
	for (size_t i = 0; i < sizeof(target); i++)
		assert_int_equal(target[i], 0x11);
	/* posting to a QP in error flushes */
	assert_int_equal(post_send1(&p.a, 8, XS_WR_SEND, local, 8, xs_mr_lkey(lmr), 0, 0, 0), 0);
	assert_int_equal(wait_wc(p.a.cq, &wc, 2000), 1);
	assert_int_equal(wc.wr_id, 8);
	assert_int_equal(wc.status, XS_WC_WR_FLUSH_ERR);
	xs_mr_dereg(tmr);
	xs_mr_dereg(lmr);
	xs_mr_dereg(rmr);
	if (pd2)
		xs_pd_free(pd2);
	pair_down(&p);
}

static void test_rdma_bad_rkey(void **state)
{
	rdma_refused(XS_WR_RDMA_WRITE, XS_ACCESS_LOCAL_WRITE | XS_ACCESS_REMOTE_WRITE, false, true,
		     0, 64);
}

static void test_rdma_out_of_bounds(void **state)
{
	rdma_refused(XS_WR_RDMA_WRITE, XS_ACCESS_LOCAL_WRITE | XS_ACCESS_REMOTE_WRITE, false, false,
		     4000, 200);
	rdma_refused(XS_WR_RDMA_READ, XS_ACCESS_REMOTE_READ, false, false, 0, 8192);
}

static void test_rdma_wrong_access(void **state)
{
	rdma_refused(XS_WR_RDMA_WRITE, XS_ACCESS_LOCAL_WRITE | XS_ACCESS_REMOTE_READ, false, false,
		     0, 64);
	rdma_refused(XS_WR_RDMA_READ, XS_ACCESS_LOCAL_WRITE | XS_ACCESS_REMOTE_WRITE, false, false,
		     0, 64);
}

static void test_rdma_wrong_pd(void **state)
{
	rdma_refused(XS_WR_RDMA_WRITE,
		     XS_ACCESS_LOCAL_WRITE | XS_ACCESS_REMOTE_WRITE | XS_ACCESS_REMOTE_READ, true,
		     false, 0, 64);
}

static void test_bad_lkey(void **state)
{
	static uint8_t buf[64];
	struct xs_mr *mr;
	struct xs_wc wc;
	struct pair p;

	pair_up(&p, "lkey-a", "lkey-b", 0x104);
	mr = xs_mr_reg(p.a.pd, buf, sizeof(buf), 0);
	/* the buffer runs past the MR */
	assert_int_equal(post_send1(&p.a, 3, XS_WR_SEND, buf, 128, xs_mr_lkey(mr), 0, 0, 0), 0);
	assert_int_equal(wait_wc(p.a.cq, &wc, 2000), 1);
	assert_int_equal(wc.wr_id, 3);
	assert_int_equal(wc.status, XS_WC_LOC_PROT_ERR);
	assert_int_equal(xs_qp_state(p.a.qp), XS_QPS_ERROR);
	xs_mr_dereg(mr);
	pair_down(&p);
}

static void test_rnr(void **state)
{
	static uint8_t buf[64];
	struct xs_mr *mr;
	struct xs_wc wc;
	struct pair p;
	uint64_t t0;

	pair_up(&p, "rnr-a", "rnr-b", 0x105);
	mr = xs_mr_reg(p.a.pd, buf, sizeof(buf), 0);
	t0 = xs_now_ms();
	assert_int_equal(post_send1(&p.a, 4, XS_WR_SEND, buf, 64, xs_mr_lkey(mr), 0, 0,
				    XS_SEND_SIGNALED),
			 0);
	/* held while the receiver has no receive posted ... */
	assert_int_equal(wait_wc(p.a.cq, &wc, 1500), 0);
	/* ... then fails */
	assert_int_equal(wait_wc(p.a.cq, &wc, 2000), 1);
	assert_int_equal(wc.wr_id, 4);
	assert_int_equal(wc.status, XS_WC_RNR_RETRY_EXC_ERR);
	assert_true(xs_now_ms() - t0 >= 1900);
	assert_int_equal(xs_qp_state(p.a.qp), XS_QPS_ERROR);
	xs_mr_dereg(mr);
	pair_down(&p);
}

static void test_rnr_then_recv(void **state)
{
	static uint8_t sbuf[64] = "late receive", rbuf[64];
	struct xs_mr *smr, *rmr;
	struct xs_wc wc;
	struct pair p;

	pair_up(&p, "rnr2-a", "rnr2-b", 0x106);
	smr = xs_mr_reg(p.a.pd, sbuf, sizeof(sbuf), 0);
	rmr = xs_mr_reg(p.b.pd, rbuf, sizeof(rbuf), XS_ACCESS_LOCAL_WRITE);
	assert_int_equal(post_send1(&p.a, 1, XS_WR_SEND, sbuf, 13, xs_mr_lkey(smr), 0, 0,
				    XS_SEND_SIGNALED),
			 0);
	usleep(500000);
	assert_int_equal(xs_cq_poll(p.a.cq, &wc, 1), 0);
	assert_int_equal(post_recv1(&p.b, 2, rbuf, sizeof(rbuf), xs_mr_lkey(rmr)), 0);
	assert_int_equal(wait_wc(p.b.cq, &wc, 2000), 1);
	assert_int_equal(wc.status, XS_WC_SUCCESS);
	assert_string_equal((char *)rbuf, "late receive");
	assert_int_equal(wait_wc(p.a.cq, &wc, 2000), 1);
	assert_int_equal(wc.status, XS_WC_SUCCESS);
	xs_mr_dereg(smr);
	xs_mr_dereg(rmr);
	pair_down(&p);
}

static void test_recv_too_small(void **state)
{
	static uint8_t sbuf[256], rbuf[16];
	struct xs_mr *smr, *rmr;
	struct xs_wc wc;
	struct pair p;

	pair_up(&p, "len-a", "len-b", 0x107);
	smr = xs_mr_reg(p.a.pd, sbuf, sizeof(sbuf), 0);
	rmr = xs_mr_reg(p.b.pd, rbuf, sizeof(rbuf), XS_ACCESS_LOCAL_WRITE);
	assert_int_equal(post_recv1(&p.b, 1, rbuf, sizeof(rbuf), xs_mr_lkey(rmr)), 0);
	assert_int_equal(post_send1(&p.a, 2, XS_WR_SEND, sbuf, 100, xs_mr_lkey(smr), 0, 0,
				    XS_SEND_SIGNALED),
			 0);
	assert_int_equal(wait_wc(p.b.cq, &wc, 2000), 1);
	assert_int_equal(wc.status, XS_WC_LOC_LEN_ERR);
	assert_int_equal(wait_wc(p.a.cq, &wc, 2000), 1);
	assert_int_equal(wc.status, XS_WC_REM_INV_REQ_ERR);
	xs_mr_dereg(smr);
	xs_mr_dereg(rmr);
	pair_down(&p);
}

static void test_disconnect_flushes(void **state)
{
	static uint8_t rbuf[4][64];
	struct xs_mr *rmr;
	struct xs_wc wc;
	struct xs_event ev;
	struct pair p;

	pair_up(&p, "disc-a", "disc-b", 0x108);
	rmr = xs_mr_reg(p.b.pd, rbuf, sizeof(rbuf), XS_ACCESS_LOCAL_WRITE);
	for (int i = 0; i < 4; i++)
		assert_int_equal(post_recv1(&p.b, 10 + i, rbuf[i], 64, xs_mr_lkey(rmr)), 0);
	assert_int_equal(xs_qp_disconnect(p.a.qp), 0);
	assert_int_equal(wait_event_type(p.fa, XS_EV_DISCONNECTED, &ev, 2000), 0);
	assert_ptr_equal(ev.qp, p.a.qp);
	assert_int_equal(wait_event_type(p.fb, XS_EV_DISCONNECTED, &ev, 2000), 0);
	assert_ptr_equal(ev.qp, p.b.qp);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(wait_wc(p.b.cq, &wc, 2000), 1);
		assert_int_equal(wc.wr_id, 10 + i);
		assert_int_equal(wc.status, XS_WC_WR_FLUSH_ERR);
	}
	assert_int_equal(xs_qp_disconnect(p.a.qp), -ENOTCONN);
	xs_mr_dereg(rmr);
	pair_down(&p);
}

static void test_peer_killed(void **state)
{
	struct xs_fabric *fb = open_port("kill-b");
	struct xs_cm_listener *l = xs_cm_listen(fb, 0x109);
	static uint8_t rbuf[64];
	struct xs_mr *rmr;
	struct xs_event ev;
	struct xs_wc wc;
	struct side b;
	uint16_t lid = port_lid(fb);
	uint64_t t0;
	int go[2], st;
	pid_t pid;
	char c;

	assert_non_null(l);
	side_init(&b, fb);
	rmr = xs_mr_reg(b.pd, rbuf, sizeof(rbuf), XS_ACCESS_LOCAL_WRITE);
	assert_int_equal(post_recv1(&b, 1, rbuf, sizeof(rbuf), xs_mr_lkey(rmr)), 0);
	assert_int_equal(pipe(go), 0);
	pid = fork();
	if (pid == 0) {
		struct xs_fabric *fa = open_port("kill-a");
		struct xs_cm_dest d = { .lid = lid };
		struct xs_event e;
		struct side a;

		if (!fa)
			_exit(1);
		side_init(&a, fa);
		if (xs_qp_connect(a.qp, &d, 0x109, NULL, 0, 2000) < 0 ||
		    xs_fabric_wait_event(fa, &e, 3000) < 0 || e.type != XS_EV_ESTABLISHED)
			_exit(2);
		if (read(go[0], &c, 1) != 1)
			_exit(3);
		_exit(0); /* no goodbye */
	}
	assert_int_equal(wait_event_type(fb, XS_EV_CONNECT_REQUEST, &ev, 2000), 0);
	assert_int_equal(xs_qp_accept(b.qp, ev.req, NULL, 0), 0);
	assert_int_equal(wait_event_type(fb, XS_EV_ESTABLISHED, &ev, 2000), 0);
	usleep(100000);
	t0 = xs_now_ms();
	assert_int_equal(write(go[1], "x", 1), 1);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(wait_event_type(fb, XS_EV_DISCONNECTED, &ev, 1000), 0);
	assert_ptr_equal(ev.qp, b.qp);
	assert_true(xs_now_ms() - t0 < 500);
	assert_int_equal(wait_wc(b.cq, &wc, 1000), 1);
	assert_int_equal(wc.status, XS_WC_WR_FLUSH_ERR);
	close(go[0]);
	close(go[1]);
	xs_mr_dereg(rmr);
	xs_cm_listener_close(l);
	side_fini(&b);
	xs_fabric_close(fb);
}

/* A port that dies between REQ and REP: the active side hears UNREACHABLE. */
static void test_passive_vanishes(void **state)
{
	struct xs_fabric *fa = open_port("van-a");
	struct xs_event ev;
	struct side a;
	int sync[2], st;
	pid_t pid;
	char c;

	assert_non_null(fa);
	side_init(&a, fa);
	assert_int_equal(pipe(sync), 0);
	pid = fork();
	if (pid == 0) {
		struct xs_fabric *fb = open_port("van-b");
		struct xs_event e;

		if (!fb || !xs_cm_listen(fb, 0x10a) || write(sync[1], "r", 1) != 1)
			_exit(1);
		if (xs_fabric_wait_event(fb, &e, 3000) < 0 || e.type != XS_EV_CONNECT_REQUEST)
			_exit(2);
		_exit(0); /* never answers, never detaches cleanly */
	}
	assert_int_equal(read(sync[0], &c, 1), 1);
	{
		struct xs_fabric *probe = open_port("van-probe");
		struct xs_cm_dest d = { 0 };

		/* van-b attached right before van-probe */
		d.lid = (uint16_t)(port_lid(probe) - 1);
		xs_fabric_close(probe);
		assert_int_equal(xs_qp_connect(a.qp, &d, 0x10a, NULL, 0, 5000), 0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(wait_event_type(fa, XS_EV_UNREACHABLE, &ev, 2000), 0);
	assert_int_equal(ev.status, -EHOSTUNREACH);
	close(sync[0]);
	close(sync[1]);
	side_fini(&a);
	xs_fabric_close(fa);
}

/* The daemon goes away: PORT_CHANGE DOWN, the QPs keep working. */
static void test_daemon_gone(void **state)
{
	char path[160], log[180], sp[180];
	struct xs_fabric_opts o = { .size = sizeof(o), .attach_timeout_ms = 2000 };
	static uint8_t sbuf[32] = "still here", rbuf[32];
	struct xs_fabric *fa, *fb;
	struct side a, b;
	struct xs_mr *smr, *rmr;
	struct xs_event ev;
	struct xs_wc wc;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/second.sock", tmpdir);
	snprintf(log, sizeof(log), "%s/second.log", tmpdir);
	snprintf(sp, sizeof(sp), "soft:%s", path);
	pid = start_daemon(path, log, false);
	assert_true(pid > 0);
	o.port_name = "gone-a";
	fa = xs_fabric_open(sp, &o);
	o.port_name = "gone-b";
	fb = xs_fabric_open(sp, &o);
	assert_non_null(fa);
	assert_non_null(fb);
	side_init(&a, fa);
	side_init(&b, fb);
	connect_pair(&a, &b, 0x10b);
	smr = xs_mr_reg(a.pd, sbuf, sizeof(sbuf), 0);
	rmr = xs_mr_reg(b.pd, rbuf, sizeof(rbuf), XS_ACCESS_LOCAL_WRITE);

	assert_int_equal(stop_daemon(pid), 0);
	assert_int_equal(access(path, F_OK), -1); /* socket removed */
	assert_int_equal(wait_event_type(fa, XS_EV_PORT_CHANGE, &ev, 2000), 0);
	assert_int_equal(ev.attr.state, XS_PORT_DOWN);
	assert_int_equal(wait_event_type(fb, XS_EV_PORT_CHANGE, &ev, 2000), 0);

	assert_int_equal(post_recv1(&b, 1, rbuf, sizeof(rbuf), xs_mr_lkey(rmr)), 0);
	assert_int_equal(post_send1(&a, 2, XS_WR_SEND, sbuf, 11, xs_mr_lkey(smr), 0, 0,
				    XS_SEND_SIGNALED),
			 0);
	assert_int_equal(wait_wc(b.cq, &wc, 2000), 1);
	assert_int_equal(wc.status, XS_WC_SUCCESS);
	assert_string_equal((char *)rbuf, "still here");
	/* new connections need the daemon */
	assert_null(xs_cm_listen(fa, 0x10c));
	xs_mr_dereg(smr);
	xs_mr_dereg(rmr);
	side_fini(&a);
	side_fini(&b);
	xs_fabric_close(fa);
	xs_fabric_close(fb);
}

/* With a state file (-S) port names keep their LIDs across daemon restarts. */
static void test_state_file(void **state)
{
	char path[160], log[180], sp[180], st[180];
	struct xs_fabric_opts o = { .size = sizeof(o), .attach_timeout_ms = 2000 };
	struct xs_port_attr a1, b1, a2, b2;
	struct xs_fabric *f;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/third.sock", tmpdir);
	snprintf(log, sizeof(log), "%s/third.log", tmpdir);
	snprintf(st, sizeof(st), "%s/ports.state", tmpdir);
	snprintf(sp, sizeof(sp), "soft:%s", path);
	pid = start_daemon_state(path, log, false, st);
	assert_true(pid > 0);
	o.port_name = "keep me";
	f = xs_fabric_open(sp, &o);
	assert_non_null(f);
	xs_fabric_query_port(f, &a1);
	xs_fabric_close(f);
	o.port_name = "keep-me-too";
	f = xs_fabric_open(sp, &o);
	assert_non_null(f);
	xs_fabric_query_port(f, &b1);
	xs_fabric_close(f);
	assert_int_equal(stop_daemon(pid), 0);

	pid = start_daemon_state(path, log, false, st);
	assert_true(pid > 0);
	/* the other order this time: without the file, LIDs would swap */
	f = xs_fabric_open(sp, &o);
	assert_non_null(f);
	xs_fabric_query_port(f, &b2);
	xs_fabric_close(f);
	o.port_name = "keep me";
	f = xs_fabric_open(sp, &o);
	assert_non_null(f);
	xs_fabric_query_port(f, &a2);
	xs_fabric_close(f);
	assert_int_equal(stop_daemon(pid), 0);
	assert_int_equal(a2.lid, a1.lid);
	assert_int_equal(b2.lid, b1.lid);
	assert_int_equal(a2.port_guid, a1.port_guid);
	assert_int_not_equal(a1.lid, b1.lid);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_attach_stable_identity),
		cmocka_unit_test(test_attach_no_daemon),
		cmocka_unit_test(test_mad_partitions),
		cmocka_unit_test(test_mad_burst_queued),
		cmocka_unit_test(test_mad_rpc),
		cmocka_unit_test(test_sa_service_records),
		cmocka_unit_test(test_sa_path_record),
		cmocka_unit_test(test_cm_private_data),
		cmocka_unit_test(test_cm_reject),
		cmocka_unit_test(test_cm_timeout),
		cmocka_unit_test(test_send_recv_order),
		cmocka_unit_test(test_large_and_scatter),
		cmocka_unit_test(test_rdma_write_read),
		cmocka_unit_test(test_mixed_stream),
		cmocka_unit_test(test_unsignaled_and_destroy_flush),
		cmocka_unit_test(test_loopback),
		cmocka_unit_test(test_rdma_bad_rkey),
		cmocka_unit_test(test_rdma_out_of_bounds),
		cmocka_unit_test(test_rdma_wrong_access),
		cmocka_unit_test(test_rdma_wrong_pd),
		cmocka_unit_test(test_bad_lkey),
		cmocka_unit_test(test_rnr),
		cmocka_unit_test(test_rnr_then_recv),
		cmocka_unit_test(test_recv_too_small),
		cmocka_unit_test(test_disconnect_flushes),
		cmocka_unit_test(test_peer_killed),
		cmocka_unit_test(test_passive_vanishes),
		cmocka_unit_test(test_daemon_gone),
		cmocka_unit_test(test_state_file),
	};

	signal(SIGPIPE, SIG_IGN);
	if (getenv("SOFT_TEST"))
		cmocka_set_test_filter(getenv("SOFT_TEST"));
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
