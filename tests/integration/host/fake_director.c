/* SPDX-License-Identifier: MIT */
/*
 * Integration test of xscored against a scripted fake director on the soft
 * fabric. This program starts xs-fabricd and xscored, then plays the
 * director: registers XSIGOXDS in the SA, answers XCM_REQUEST, accepts the
 * XSMP connection, confirms it, pushes SYNC_BEGIN / INSTALL / SYNC_END and
 * checks the host's ACKs and what `xsctl status --json` shows. Then it
 * drops the connection and checks that the host re-registers and keeps its
 * devices (no delete, no re-install), that a resync removes only what is no
 * longer announced, that the host declares a silent session dead within 3
 * hello intervals, and that SIGTERM makes the host send SHUTDOWN.
 *
 * usage: fake_director XS_FABRICD XSCORED XSCTL WORKDIR
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include <xscore/common.h>
#include <xscore/fabric.h>
#include <xscore/log.h>
#include <xscore/wire.h>
#include <xscore/xsmp_ulp.h>

#define CHECK(cond, ...)                                                              \
	do {                                                                          \
		if (!(cond)) {                                                        \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                                 \
			fprintf(stderr, "\n");                                        \
			cleanup();                                                    \
			exit(1);                                                      \
		}                                                                     \
	} while (0)

#define HOSTNAME "host-int"
#define PORTNAME "host-int-port"
#define HELLO_S 1
#define NRECV 32
#define REJECT_CLOSE_ROUNDS 8

static const char *xsctl_bin, *workdir;
static char fab_sock[512];
static pid_t fabricd_pid, xscored_pid;

static struct xs_fabric *f;
static struct xs_port_attr me;
static struct xs_mad_agent *xcpm;
static struct xs_cm_listener *listener;
static uint64_t host_guid;
static int checks;

/* The one session (QP) the fake director holds. */
static struct conn {
	struct xs_pd *pd;
	struct xs_cq *cq;
	struct xs_qp *qp;
	struct xs_mr *mr;
	uint8_t buf[(NRECV + 1) * XS_XSMP_MAX_MSG];
	bool up;
	uint32_t seq;
	uint64_t last_hello_ms, last_rx_ms, last_tx_ms;
	bool auto_hello;
	int hello_echoes;
	bool disconnected;
} cn;

/* Received messages not yet consumed. */
struct rx {
	uint8_t buf[XS_XSMP_MAX_MSG];
	size_t len;
};
static struct rx rxq[256];
static int rx_head, rx_count;
static bool got_connect_request;
static struct xs_event conn_req;

static void cleanup(void)
{
	if (xscored_pid > 0) {
		kill(xscored_pid, SIGKILL);
		waitpid(xscored_pid, NULL, 0);
		xscored_pid = 0;
	}
	if (fabricd_pid > 0) {
		kill(fabricd_pid, SIGTERM);
		waitpid(fabricd_pid, NULL, 0);
		fabricd_pid = 0;
	}
}

static pid_t spawn(char *const argv[], const char *log)
{
	pid_t pid = fork();

	if (pid == 0) {
		FILE *l = freopen(log, "w", stderr);

		(void)l;
		/* If this test dies without cleaning up, its daemons go with it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* ------------------------------------------------------------- plumbing */

static void conn_post_recv(int i)
{
	struct xs_sge sge = { (uint64_t)(uintptr_t)(cn.buf + (size_t)i * XS_XSMP_MAX_MSG),
			      XS_XSMP_MAX_MSG, xs_mr_lkey(cn.mr) };
	struct xs_recv_wr wr = { .wr_id = (uint64_t)i, .sg_list = &sge, .num_sge = 1 };

	CHECK(xs_qp_post_recv(cn.qp, &wr) == 0, "post_recv");
}

static void conn_drop(void)
{
	if (cn.qp)
		xs_qp_destroy(cn.qp);
	if (cn.cq)
		xs_cq_destroy(cn.cq);
	if (cn.mr)
		xs_mr_dereg(cn.mr);
	if (cn.pd)
		xs_pd_free(cn.pd);
	cn.qp = NULL, cn.cq = NULL, cn.mr = NULL, cn.pd = NULL;
	cn.up = false;
	rx_count = 0;
}

static void send_msg(uint8_t type, const uint8_t *body, size_t blen)
{
	uint8_t *slot = cn.buf + (size_t)NRECV * XS_XSMP_MAX_MSG;
	struct xs_xsmp_hdr h = {
		.type = type, .length = (uint16_t)(XS_XSMP_HDR_LEN + blen), .seq = ++cn.seq,
		.src = { 0, me.port_guid }, .dst = { 0, host_guid },
	};
	struct xs_sge sge = { (uint64_t)(uintptr_t)slot, h.length, xs_mr_lkey(cn.mr) };
	struct xs_send_wr wr = { .wr_id = 1000, .opcode = XS_WR_SEND, .sg_list = &sge,
				 .num_sge = 1, .flags = XS_SEND_INLINE };

	CHECK(xs_xsmp_hdr_encode(&h, slot, XS_XSMP_MAX_MSG) == XS_XSMP_HDR_LEN, "hdr");
	memcpy(slot + XS_XSMP_HDR_LEN, body, blen);
	CHECK(xs_qp_post_send(cn.qp, &wr) == 0, "post_send");
	cn.last_tx_ms = xs_now_ms();
}

static void send_session(uint8_t code, uint32_t version, uint32_t reason, const char *text)
{
	struct xs_xsmp_session s;
	uint8_t body[XS_XSMP_SESSION_LEN];

	memset(&s, 0, sizeof(s));
	s.type = code;
	s.version = version;
	s.xsmp_version = 1;
	s.reason = reason;
	snprintf(s.chassis_name, sizeof(s.chassis_name), "fake-director");
	snprintf(s.session_name, sizeof(s.session_name), HOSTNAME);
	snprintf(s.reason_text, sizeof(s.reason_text), "%s", text ? text : "");
	CHECK(xs_xsmp_session_encode(&s, body, sizeof(body)) == XS_XSMP_SESSION_LEN, "enc");
	send_msg(XS_XSMP_SESSION, body, sizeof(body));
}

/* Answer an XCM_REQUEST with ourselves as the only XCM. */
static void serve_xcpm(void)
{
	uint8_t mad[XS_MAD_SIZE], out[XS_MAD_SIZE];
	struct xs_mad_addr src;
	struct xs_mad_hdr mh;
	struct xs_xcpm_request rq;
	struct xs_xcpm_reply rep;
	int n;

	while ((n = xs_mad_recv(xcpm, &src, mad, sizeof(mad), 0)) > 0) {
		CHECK(xs_mad_hdr_decode(mad, (size_t)n, &mh) == 0, "XCPM header");
		CHECK(mh.attr_id == XS_XCPM_ATTR_XCM_REQUEST && mh.method == XS_MAD_METHOD_GET,
		      "attr 0x%04x method 0x%02x", mh.attr_id, mh.method);
		CHECK(xs_xcpm_request_decode(mad + XS_XCPM_DATA_OFF, (size_t)n - XS_XCPM_DATA_OFF,
					     &rq) == 0, "XCM_REQUEST body");
		CHECK(strcmp(rq.hostname, HOSTNAME) == 0, "hostname '%s'", rq.hostname);
		CHECK(rq.os_type == XS_XCPM_OS_LINUX, "os_type");
		CHECK(rq.capabilities == (XS_XCPM_CAP_PRESENT | XS_XCPM_CAP_RESOURCE(0) |
					  XS_XCPM_CAP_RESOURCE(1)), "caps 0x%08x", rq.capabilities);
		host_guid = rq.server.port_guid;
		memset(out, 0, sizeof(out));
		mh.method = XS_MAD_METHOD_GET | XS_MAD_METHOD_RESP;
		CHECK(xs_mad_hdr_encode(&mh, out, sizeof(out)) == XS_MAD_HDR_LEN, "enc");
		memset(&rep, 0, sizeof(rep));
		rep.server = rq.server;
		rep.count = 1;
		rep.xcm_version = XS_XCPM_XCM_VERSION;
		rep.xcms[0].port_guid = me.port_guid;
		rep.xcms[0].lid = me.lid;
		CHECK(xs_xcpm_reply_encode(&rep, out + XS_XCPM_DATA_OFF,
					   sizeof(out) - XS_XCPM_DATA_OFF) > 0, "enc reply");
		CHECK(xs_mad_send(xcpm, &src, out, sizeof(out)) == 0, "send reply");
		checks++;
	}
}

static void handle_events(void)
{
	struct xs_event ev;

	while (xs_fabric_get_event(f, &ev) == 0) {
		switch (ev.type) {
		case XS_EV_CONNECT_REQUEST:
			conn_req = ev;
			got_connect_request = true;
			break;
		case XS_EV_ESTABLISHED:
			if (cn.qp && ev.qp == cn.qp)
				cn.up = true;
			break;
		case XS_EV_DISCONNECTED:
			if (cn.qp && ev.qp == cn.qp)
				cn.disconnected = true;
			break;
		default:
			break;
		}
	}
}

static void poll_cq(void)
{
	struct xs_wc wc[8];
	int n, i;

	if (!cn.cq)
		return;
	while ((n = xs_cq_poll(cn.cq, wc, 8)) > 0) {
		for (i = 0; i < n; i++) {
			struct xs_xsmp_hdr h;
			struct xs_xsmp_session s;
			const uint8_t *b;

			if (wc[i].opcode != XS_WC_RECV)
				continue;
			if (wc[i].status != XS_WC_SUCCESS) {
				cn.disconnected = true;
				continue;
			}
			b = cn.buf + wc[i].wr_id * XS_XSMP_MAX_MSG;
			cn.last_rx_ms = xs_now_ms();
			CHECK(xs_xsmp_hdr_decode(b, wc[i].byte_len, &h) == 0, "host header");
			CHECK(h.src.primary == host_guid && h.dst.primary == me.port_guid,
			      "node ids %016llx -> %016llx", (unsigned long long)h.src.primary,
			      (unsigned long long)h.dst.primary);
			if (h.type == XS_XSMP_SESSION &&
			    xs_xsmp_session_decode(b + XS_XSMP_HDR_LEN, h.length - XS_XSMP_HDR_LEN,
						   &s) == 0 &&
			    s.type == XS_XSMP_HELLO) {
				CHECK(s.code == XS_XSMP_ACK, "HELLO echo code 0x%02x", s.code);
				cn.hello_echoes++;
			} else {
				CHECK(rx_count < 256, "rx queue");
				memcpy(rxq[(rx_head + rx_count) % 256].buf, b, wc[i].byte_len);
				rxq[(rx_head + rx_count) % 256].len = wc[i].byte_len;
				rx_count++;
			}
			conn_post_recv((int)wc[i].wr_id);
		}
	}
}

/* Serve everything for up to ms milliseconds, or until *flag is set. */
static void pump(int ms, const bool *flag, const int *count)
{
	uint64_t end = xs_now_ms() + (uint64_t)ms;

	for (;;) {
		struct pollfd p[3] = {
			{ .fd = xs_fabric_event_fd(f), .events = POLLIN },
			{ .fd = xcpm ? xs_mad_agent_fd(xcpm) : -1, .events = POLLIN },
			{ .fd = cn.cq ? xs_cq_fd(cn.cq) : -1, .events = POLLIN },
		};
		uint64_t now = xs_now_ms();

		handle_events();
		if (xcpm)
			serve_xcpm();
		poll_cq();
		if (cn.up && cn.auto_hello && now - cn.last_hello_ms >= HELLO_S * 1000) {
			send_session(XS_XSMP_HELLO, 0, 0, NULL);
			cn.last_hello_ms = now;
		}
		if ((flag && *flag) || (count && *count) || now >= end)
			return;
		poll(p, 3, 50);
	}
}

static void next_msg(uint8_t *type, const uint8_t **body, size_t *blen, int timeout_ms)
{
	struct xs_xsmp_hdr h;
	struct rx *r;

	pump(timeout_ms, NULL, &rx_count);
	CHECK(rx_count > 0, "no message from the host within %d ms", timeout_ms);
	r = &rxq[rx_head];
	rx_head = (rx_head + 1) % 256;
	rx_count--;
	CHECK(xs_xsmp_hdr_decode(r->buf, r->len, &h) == 0, "hdr");
	*type = h.type;
	*body = r->buf + XS_XSMP_HDR_LEN;
	*blen = h.length - XS_XSMP_HDR_LEN;
}

static void expect_session(uint8_t code, struct xs_xsmp_session *s, const uint8_t **tail,
			   size_t *tail_len)
{
	const uint8_t *b;
	size_t blen;
	uint8_t type;

	next_msg(&type, &b, &blen, 5000);
	CHECK(type == XS_XSMP_SESSION, "expected a session message, got type %u", type);
	CHECK(xs_xsmp_session_decode(b, blen, s) == 0, "session body");
	CHECK(s->type == code, "expected session message %u, got %u", code, s->type);
	if (tail) {
		*tail = b + XS_XSMP_SESSION_LEN;
		*tail_len = blen - XS_XSMP_SESSION_LEN;
	}
	checks++;
}

static void expect_reslist(int count, const uint64_t *ids)
{
	struct xs_xsmp_session s;
	struct xs_reslist rl;
	const uint8_t *t;
	size_t tl;
	int i, j;

	expect_session(XS_XSMP_RESOURCE_LIST, &s, &t, &tl);
	CHECK(xs_reslist_decode(t, tl, &rl) == 0, "resource list tail");
	CHECK(rl.count == count && rl.total == (uint32_t)count, "RESOURCE_LIST count %u, want %d",
	      rl.count, count);
	CHECK(rl.flags == (XS_RESLIST_FIRST | XS_RESLIST_LAST), "flags");
	for (i = 0; i < count; i++) {
		bool found = false;

		for (j = 0; j < rl.count; j++)
			found = found || rl.entries[j].resource_id == ids[i];
		CHECK(found, "resource %016llx not listed", (unsigned long long)ids[i]);
	}
}

static void send_vnic(const struct xs_vnic_msg *m)
{
	uint8_t body[XS_VNIC_MSG_LEN];

	CHECK(xs_vnic_msg_encode(m, body, sizeof(body)) == XS_VNIC_MSG_LEN, "vnic enc");
	send_msg(XS_XSMP_VNIC, body, sizeof(body));
}

static void send_vhba(const struct xs_vhba_msg *m)
{
	uint8_t body[XS_VHBA_MSG_LEN];

	CHECK(xs_vhba_msg_encode(m, body, sizeof(body)) == XS_VHBA_MSG_LEN, "vhba enc");
	send_msg(XS_XSMP_VHBA, body, sizeof(body));
}

static void send_code(uint8_t type, uint8_t code)
{
	if (type == XS_XSMP_VNIC) {
		struct xs_vnic_msg m = { .type = code };

		send_vnic(&m);
	} else {
		struct xs_vhba_msg m = { .type = code };

		send_vhba(&m);
	}
}

/* Expect an ACK for (type, code, rid) with the given reason text. */
static void expect_ack(uint8_t type, uint8_t code, uint64_t rid, const char *text)
{
	const uint8_t *b;
	size_t blen;
	uint8_t t;

	next_msg(&t, &b, &blen, 5000);
	CHECK(t == type, "expected XSMP type %u, got %u", type, t);
	if (type == XS_XSMP_VNIC) {
		struct xs_vnic_msg m;

		CHECK(xs_vnic_msg_decode(b, blen, &m) == 0, "vnic reply decode");
		CHECK(m.type == code && m.code == XS_XSMP_ACK && m.resource_id == rid,
		      "vNIC reply type %u code 0x%02x rid %llx (%s)", m.type, m.code,
		      (unsigned long long)m.resource_id, m.reason_text);
		CHECK(strcmp(m.reason_text, text) == 0, "reason text '%s', want '%s'",
		      m.reason_text, text);
	} else {
		struct xs_vhba_msg m;

		CHECK(xs_vhba_msg_decode(b, blen, &m) == 0, "vhba reply decode");
		CHECK(m.type == code && m.code == XS_XSMP_ACK && m.resource_id == rid,
		      "vHBA reply type %u code 0x%02x (%s)", m.type, m.code, m.reason_text);
		CHECK(strcmp(m.reason_text, text) == 0, "reason text '%s', want '%s'",
		      m.reason_text, text);
	}
	checks++;
}

/*
 * Accept the host's XSMP connection and take its REGISTER; then confirm it
 * (@reject NULL) or refuse it with REG_REJECT reason 1 and the text
 * @reject. With @close, the refusal is followed at once by the close, as
 * xsdirectord does it, while the host is stopped (SIGSTOP) so that the
 * message and the end of the connection reach it together.
 */
static void accept_session_as(const char *reject, bool close)
{
	struct xs_qp_attr qa = { 0 };
	struct xs_cm_req_info info;
	struct xs_xsmp_session s;
	uint8_t zero[25] = { 0 };
	int i;

	got_connect_request = false;
	pump(15000, &got_connect_request, NULL);
	CHECK(got_connect_request, "no XSMP connection from the host within 15 s");
	CHECK(xs_cm_req_info(conn_req.req, &info) == 0, "req info");
	CHECK(info.service_id == XS_XSMP_SERVICE_ID, "service id %llx",
	      (unsigned long long)info.service_id);
	CHECK(info.private_len >= 25 && memcmp(info.private_data, zero, 25) == 0,
	      "CM private data: %u bytes, not 25 zero bytes", info.private_len);
	host_guid = info.remote_port_guid;
	conn_drop();
	cn.pd = xs_pd_alloc(f);
	cn.cq = xs_cq_create(f, 128);
	CHECK(cn.pd && cn.cq, "pd/cq");
	cn.mr = xs_mr_reg(cn.pd, cn.buf, sizeof(cn.buf), XS_ACCESS_LOCAL_WRITE);
	qa.pd = cn.pd, qa.send_cq = cn.cq, qa.recv_cq = cn.cq;
	qa.max_send_wr = 256, qa.max_recv_wr = NRECV, qa.max_sge = 1, qa.max_inline = 1024;
	cn.qp = xs_qp_create(f, &qa);
	CHECK(cn.mr && cn.qp, "mr/qp");
	CHECK(xs_qp_accept(cn.qp, conn_req.req, NULL, 0) == 0, "accept");
	pump(5000, &cn.up, NULL);
	CHECK(cn.up, "connection not established");
	for (i = 0; i < NRECV; i++)
		conn_post_recv(i);
	cn.seq = 0;
	cn.disconnected = false;
	expect_session(XS_XSMP_REGISTER, &s, NULL, NULL);
	CHECK(strcmp(s.session_name, HOSTNAME) == 0, "session_name '%s'", s.session_name);
	CHECK(s.xsmp_version == 1, "xsmp_version %u", s.xsmp_version);
	CHECK(s.resource_flags == 3, "resource_flags 0x%x", s.resource_flags);
	CHECK(s.chassis_name[0] == 0, "chassis_name");
	if (reject) {
		cn.auto_hello = false;
		if (!close) {
			send_session(XS_XSMP_REG_REJECT, 0, 1, reject);
			return;
		}
		CHECK(kill(xscored_pid, SIGSTOP) == 0, "SIGSTOP xscored");
		send_session(XS_XSMP_REG_REJECT, 0, 1, reject);
		CHECK(xs_qp_disconnect(cn.qp) == 0, "disconnect after REG_REJECT");
		CHECK(kill(xscored_pid, SIGCONT) == 0, "SIGCONT xscored");
		return;
	}
	send_session(XS_XSMP_REG_CONFIRM, HELLO_S, 0, NULL);
	cn.last_hello_ms = xs_now_ms();
	cn.auto_hello = true;
}

static void accept_session(void)
{
	accept_session_as(NULL, false);
}

/* Run `xsctl status --json` and parse it. */
static json_t *xsctl_status(void)
{
	char cmd[1024], out[65536];
	json_error_t err;
	size_t n;
	FILE *p;
	json_t *doc;

	snprintf(cmd, sizeof(cmd), "%s -s %s -p %s status --json", xsctl_bin, workdir, PORTNAME);
	pump(100, NULL, NULL);
	p = popen(cmd, "r");
	CHECK(p, "popen");
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	CHECK(pclose(p) == 0, "xsctl failed: %s", out);
	doc = json_loads(out, 0, &err);
	CHECK(doc, "xsctl JSON: %s", err.text);
	return doc;
}

/* Raw request on xscored's control socket; returns the answer line. */
static void control_raw(const char *req, size_t len, char *out, size_t cap)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t got = 0;
	ssize_t n;
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/xscored-%s.sock", workdir, PORTNAME);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "control connect");
	CHECK(write(fd, req, len) == (ssize_t)len, "control write");
	while (got + 1 < cap && (n = read(fd, out + got, cap - got - 1)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(fd);
}

static json_t *find_device(json_t *host, const char *name)
{
	json_t *d;
	size_t i;

	json_array_foreach(json_object_get(host, "devices"), i, d)
		if (strcmp(json_string_value(json_object_get(d, "name")), name) == 0)
			return d;
	return NULL;
}

static void vnic_cfg(struct xs_vnic_msg *m, uint8_t code, uint16_t mtu)
{
	memset(m, 0, sizeof(*m));
	m->type = code;
	m->resource_id = 0x100;
	snprintf(m->name, sizeof(m->name), "eth-int0");
	m->mac[0] = 0x02, m->mac[5] = 0x42;
	m->mtu = mtu;
	m->admin_state = XS_ADMIN_UP;
	m->vlan_mode = XS_VNIC_VLAN_ACCESS;
	m->vlan_count = 1;
	m->vlans[0] = 10;
	snprintf(m->uplink, sizeof(m->uplink), "up0");
	m->tca_guid = me.port_guid;
	m->tca_lid = me.lid;
}

int main(int argc, char **argv)
{
	struct xs_fabric_opts fo = { .size = sizeof(fo), .port_name = "fake-director" };
	struct xs_service_record sr;
	struct xs_sa_hdr sa;
	struct xs_mad_agent *sa_agent;
	struct xs_mad_addr sm = { 0 };
	uint8_t req[XS_MAD_SIZE], resp[XS_MAD_SIZE];
	struct xs_vnic_msg vm;
	struct xs_vhba_msg hm;
	struct xs_xsmp_session s;
	json_t *doc, *host, *sess, *dev;
	double installed_ago;
	uint64_t ids[2] = { 0x100, 0x200 }, silent_from;
	char why[128], want[128], last[128], prev[128];
	int status, i;

	if (argc != 5) {
		fprintf(stderr, "usage: %s XS_FABRICD XSCORED XSCTL WORKDIR\n", argv[0]);
		return 2;
	}
	xsctl_bin = argv[3];
	workdir = argv[4];
	mkdir(workdir, 0755);
	snprintf(fab_sock, sizeof(fab_sock), "%s/fabric.sock", workdir);
	signal(SIGPIPE, SIG_IGN);
	xs_log_open("fake-director", XS_LOG_STDERR, XS_LOG_WARN);

	{
		char log[600];
		char *fargv[] = { argv[1], "-f", "-s", fab_sock, NULL };

		snprintf(log, sizeof(log), "%s/xs-fabricd.log", workdir);
		fabricd_pid = spawn(fargv, log);
	}
	for (i = 0; i < 50 && access(fab_sock, F_OK) != 0; i++)
		usleep(100000);
	{
		char spec[600];

		snprintf(spec, sizeof(spec), "soft:%s", fab_sock);
		f = xs_fabric_open(spec, &fo);
	}
	CHECK(f, "cannot open the soft fabric: %s", strerror(errno));
	CHECK(xs_fabric_query_port(f, &me) == 0, "query port");

	/* the host, started before the director registers its XDS */
	{
		char log[600], spec[600];
		char *hargv[] = { (char *)argv[2], "-f", "-F", spec, "-p", PORTNAME, "-H", HOSTNAME,
				  "-s", (char *)workdir, "-d", "xsmp,host,disc", "--mad-timeout", "300", "--backoff-max", "2",
				  "--no-devices", /* record-only vNICs: no TAP interfaces */
				  NULL };

		snprintf(spec, sizeof(spec), "soft:%s", fab_sock);
		snprintf(log, sizeof(log), "%s/xscored.log", workdir);
		xscored_pid = spawn(hargv, log);
	}
	usleep(1500000);
	doc = xsctl_status();
	host = json_array_get(json_object_get(doc, "hosts"), 0);
	CHECK(host, "no host in status");
	CHECK(strcmp(json_string_value(json_object_get(json_object_get(host, "xds"), "result")),
		     "no XSIGOXDS ServiceRecord in the SA") == 0, "xds result '%s'",
	      json_string_value(json_object_get(json_object_get(host, "xds"), "result")));
	CHECK(json_integer_value(json_object_get(json_object_get(host, "xds"), "failures")) >= 1,
	      "no discovery failure counted");
	CHECK(json_array_size(json_object_get(host, "sessions")) == 0, "sessions without an XDS");
	CHECK(strcmp(json_string_value(json_object_get(json_object_get(host, "port"), "state")),
		     "active") == 0, "port state");
	json_decref(doc);
	checks++;

	/* bad requests on the control socket get one clear error line */
	{
		char out[512], big[5000];

		control_raw("{\"cmd\": \"stat\n", 14, out, sizeof(out));
		CHECK(strncmp(out, "{\"ok\":false,\"error\":\"bad request: ", 33) == 0, "%s", out);
		control_raw("{\"cmd\"", 6, out, sizeof(out)); /* never finished */
		CHECK(strcmp(out, "{\"ok\":false,\"error\":\"bad request: no complete line within "
			     "2 s\"}\n") == 0, "%s", out);
		control_raw("{\"cmd\":\"reboot\"}\n", 17, out, sizeof(out));
		CHECK(strcmp(out, "{\"ok\":false,\"error\":\"unknown command 'reboot' (known: "
			     "status, summary)\"}\n") == 0, "%s", out);
		control_raw("[1,2]\n", 6, out, sizeof(out));
		CHECK(strcmp(out, "{\"ok\":false,\"error\":\"bad request: not a JSON object\"}\n") ==
			      0, "%s", out);
		memset(big, 'x', sizeof(big));
		control_raw(big, sizeof(big), out, sizeof(out));
		CHECK(strcmp(out, "{\"ok\":false,\"error\":\"bad request: longer than 4096 "
			     "bytes\"}\n") == 0, "%s", out);
		checks++;
	}

	/* XDS: ServiceRecord XSIGOXDS -> our LID */
	sa_agent = xs_mad_agent_register(f, XS_SA_CLASS, XS_SA_CLASS_VERSION, NULL, 0);
	CHECK(sa_agent, "SA agent");
	memset(&sa, 0, sizeof(sa));
	sa.mad.base_version = 1, sa.mad.mgmt_class = XS_SA_CLASS;
	sa.mad.class_version = XS_SA_CLASS_VERSION, sa.mad.method = XS_MAD_METHOD_SET;
	sa.mad.tid = 77, sa.mad.attr_id = XS_SA_ATTR_SERVICE_RECORD;
	sa.comp_mask = XS_SR_COMP_ID | XS_SR_COMP_GID | XS_SR_COMP_PKEY | XS_SR_COMP_LEASE |
		       XS_SR_COMP_NAME | XS_SR_COMP_DATA16(0) | XS_SR_COMP_DATA64(0);
	memset(&sr, 0, sizeof(sr));
	sr.id = UINT64_C(0x1397010000000001);
	memcpy(sr.gid, me.gid, 16);
	sr.pkey = 0xffff;
	sr.lease = XS_SR_LEASE_INFINITE;
	snprintf(sr.name, sizeof(sr.name), "XSIGOXDS");
	sr.data16[0] = me.lid;
	sr.data64[0] = me.port_guid;
	memset(req, 0, sizeof(req));
	CHECK(xs_sa_hdr_encode(&sa, req, sizeof(req)) == XS_SA_HDR_LEN, "sa enc");
	CHECK(xs_sr_encode(&sr, req + XS_SA_DATA_OFF, sizeof(req) - XS_SA_DATA_OFF) > 0, "sr enc");
	sm.lid = me.sm_lid, sm.qpn = 1;
	CHECK(xs_mad_rpc(sa_agent, &sm, req, sizeof(req), resp, sizeof(resp), 1000, 2) > 0,
	      "SA Set(ServiceRecord) unanswered");
	CHECK(xs_get16(resp + 4) == 0, "SA Set status 0x%04x", xs_get16(resp + 4));

	/* the XDS record exists but nobody answers XCM_REQUEST yet: 3 tries, then a
	 * failure the operator can read */
	for (i = 0; i < 50; i++) {
		const char *res;

		doc = xsctl_status();
		host = json_array_get(json_object_get(doc, "hosts"), 0);
		res = json_string_value(json_object_get(json_object_get(host, "xds"), "result"));
		snprintf(why, sizeof(why), "%s", res ? res : "");
		json_decref(doc);
		if (strstr(why, "did not answer"))
			break;
		usleep(100000);
	}
	snprintf(want, sizeof(want), "XDS at LID %u did not answer XCM_REQUEST (3 tries)", me.lid);
	CHECK(strcmp(why, want) == 0, "xds result '%s', want '%s'", why, want);
	checks++;

	xcpm = xs_mad_agent_register(f, XS_XCPM_CLASS, XS_XCPM_CLASS_VERSION, NULL,
				     XS_MAD_AGENT_SERVER);
	CHECK(xcpm, "XCPM agent");
	listener = xs_cm_listen(f, XS_XSMP_SERVICE_ID);
	CHECK(listener, "listen");

	/* 1. discovery, connection, REGISTER, REG_CONFIRM, RESOURCE_LIST (empty) */
	accept_session();
	expect_reslist(0, NULL);

	/* 2. initial sync: one vNIC, one vHBA */
	send_code(XS_XSMP_VNIC, XS_VNIC_SYNC_BEGIN);
	vnic_cfg(&vm, XS_VNIC_INSTALL, 1500);
	send_vnic(&vm);
	send_code(XS_XSMP_VNIC, XS_VNIC_SYNC_END);
	memset(&hm, 0, sizeof(hm));
	hm.type = XS_VHBA_INSTALL;
	hm.resource_id = 0x200;
	snprintf(hm.name, sizeof(hm.name), "vhba-int0");
	hm.wwpn = UINT64_C(0x21000024ff000001);
	hm.wwnn = UINT64_C(0x20000024ff000001);
	hm.queue_depth = 32;
	hm.admin_state = 1;
	hm.target_count = 1;
	snprintf(hm.targets[0], sizeof(hm.targets[0]), "array-1");
	send_code(XS_XSMP_VHBA, XS_VHBA_SYNC_BEGIN);
	send_vhba(&hm);
	send_code(XS_XSMP_VHBA, XS_VHBA_SYNC_END);
	expect_ack(XS_XSMP_VNIC, XS_VNIC_SYNC_BEGIN, 0, "sync begin");
	expect_ack(XS_XSMP_VNIC, XS_VNIC_INSTALL, 0x100, "installed");
	expect_ack(XS_XSMP_VNIC, XS_VNIC_SYNC_END, 0, "removed 0 stale");
	expect_reslist(1, ids);
	expect_ack(XS_XSMP_VHBA, XS_VHBA_SYNC_BEGIN, 0, "sync begin");
	expect_ack(XS_XSMP_VHBA, XS_VHBA_INSTALL, 0x200, "installed");
	expect_ack(XS_XSMP_VHBA, XS_VHBA_SYNC_END, 0, "removed 0 stale");
	expect_reslist(2, ids);

	/* HELLO echoes come back */
	pump(2500, NULL, NULL);
	CHECK(cn.hello_echoes >= 2, "only %d HELLO echoes in 2.5 s", cn.hello_echoes);

	/* 3. what xsctl shows */
	doc = xsctl_status();
	host = json_array_get(json_object_get(doc, "hosts"), 0);
	CHECK(host, "no host in status");
	CHECK(strcmp(json_string_value(json_object_get(host, "session_name")), HOSTNAME) == 0,
	      "session name");
	CHECK(json_integer_value(json_object_get(json_object_get(host, "xds"), "lid")) == me.lid,
	      "xds lid");
	sess = json_array_get(json_object_get(host, "sessions"), 0);
	CHECK(sess && strcmp(json_string_value(json_object_get(sess, "state")), "up") == 0,
	      "session not up");
	CHECK(strcmp(json_string_value(json_object_get(sess, "director")), "fake-director") == 0,
	      "director name");
	CHECK(json_integer_value(json_object_get(sess, "hello_interval_s")) == HELLO_S, "hello");
	CHECK(json_integer_value(json_object_get(sess, "reconnects")) == 0, "reconnects");
	CHECK(json_integer_value(json_object_get(sess, "bad_msgs")) == 0, "bad messages");
	CHECK(json_is_integer(json_object_get(json_object_get(doc, "wire_rejects"), "xsmp_vnic")),
	      "no wire reject counters");
	dev = find_device(host, "eth-int0");
	CHECK(dev, "eth-int0 not shown");
	CHECK(strcmp(json_string_value(json_object_get(dev, "resource_id")),
		     "0x0000000000000100") == 0, "resource id");
	CHECK(json_integer_value(json_object_get(json_object_get(dev, "config"), "mtu")) == 1500,
	      "mtu");
	CHECK(strcmp(json_string_value(json_object_get(json_object_get(dev, "config"), "mac")),
		     "02:00:00:00:00:42") == 0, "mac");
	CHECK(json_integer_value(json_array_get(
		      json_object_get(json_object_get(dev, "config"), "vlans"), 0)) == 10, "vlan");
	CHECK(strcmp(json_string_value(json_object_get(dev, "module")), "registry-vnic") == 0,
	      "module of eth-int0");
	dev = find_device(host, "vhba-int0");
	CHECK(dev, "vhba-int0 not shown");
	CHECK(strcmp(json_string_value(json_array_get(
			     json_object_get(json_object_get(dev, "config"), "targets"), 0)),
		     "array-1") == 0, "target");
	{
		char out[512];

		control_raw("{\"cmd\":\"summary\"}\n", 18, out, sizeof(out));
		CHECK(strcmp(out, "{\"ok\":true,\"hosts\":1,\"hosts_up\":1,\"sessions\":1,"
			     "\"sessions_up\":1,\"vnics\":1,\"vhbas\":1}\n") == 0, "summary: %s", out);
	}
	installed_ago = json_real_value(json_object_get(find_device(host, "eth-int0"),
							"installed_s_ago"));
	json_decref(doc);
	checks++;

	/* 4. the director drops the connection: the host re-registers, keeps devices */
	xs_qp_disconnect(cn.qp);
	accept_session();
	expect_reslist(2, ids); /* both devices still held */
	send_code(XS_XSMP_VNIC, XS_VNIC_SYNC_BEGIN);
	vnic_cfg(&vm, XS_VNIC_INSTALL, 1500);
	send_vnic(&vm);
	send_code(XS_XSMP_VNIC, XS_VNIC_SYNC_END);
	send_code(XS_XSMP_VHBA, XS_VHBA_SYNC_BEGIN); /* the vHBA is gone from the profile */
	send_code(XS_XSMP_VHBA, XS_VHBA_SYNC_END);
	expect_ack(XS_XSMP_VNIC, XS_VNIC_SYNC_BEGIN, 0, "sync begin");
	expect_ack(XS_XSMP_VNIC, XS_VNIC_INSTALL, 0x100, "unchanged");
	expect_ack(XS_XSMP_VNIC, XS_VNIC_SYNC_END, 0, "removed 0 stale");
	expect_reslist(2, ids);
	expect_ack(XS_XSMP_VHBA, XS_VHBA_SYNC_BEGIN, 0, "sync begin");
	expect_ack(XS_XSMP_VHBA, XS_VHBA_SYNC_END, 0, "removed 1 stale");
	expect_reslist(1, ids);

	doc = xsctl_status();
	host = json_array_get(json_object_get(doc, "hosts"), 0);
	sess = json_array_get(json_object_get(host, "sessions"), 0);
	CHECK(json_integer_value(json_object_get(sess, "reconnects")) == 1, "reconnects %lld",
	      json_integer_value(json_object_get(sess, "reconnects")));
	dev = find_device(host, "eth-int0");
	CHECK(dev, "eth-int0 lost across the reconnect");
	CHECK(json_integer_value(json_object_get(dev, "updates")) == 0, "eth-int0 was updated");
	CHECK(json_real_value(json_object_get(dev, "installed_s_ago")) > installed_ago,
	      "eth-int0 re-created");
	CHECK(!find_device(host, "vhba-int0"), "vhba-int0 not removed by the resync");
	json_decref(doc);
	checks++;

	/* 5. pushed changes */
	vnic_cfg(&vm, XS_VNIC_UPDATE, 9000);
	vm.bitmask = XS_VNIC_UPDATE_MTU;
	send_vnic(&vm);
	expect_ack(XS_XSMP_VNIC, XS_VNIC_UPDATE, 0x100, "updated (mtu)");
	doc = xsctl_status();
	host = json_array_get(json_object_get(doc, "hosts"), 0);
	dev = find_device(host, "eth-int0");
	CHECK(dev && json_integer_value(json_object_get(json_object_get(dev, "config"), "mtu")) ==
			     9000, "MTU update not shown");
	json_decref(doc);

	/* 5b. a burst larger than the host's send ring, with the director slow to
	 * drain: the replies queue on the host, none is lost, order is kept */
	for (i = 0; i < 150; i++) {
		struct xs_vnic_msg del = { .type = XS_VNIC_DELETE, .resource_id = 0x1000 + (uint64_t)i };

		send_vnic(&del);
	}
	usleep(500000);
	for (i = 0; i < 150; i++)
		expect_ack(XS_XSMP_VNIC, XS_VNIC_DELETE, 0x1000 + (uint64_t)i, "not present");

	/* 6. a silent director: the host gives up within 3 hello intervals */
	cn.auto_hello = false;
	silent_from = cn.last_tx_ms;
	pump(3 * HELLO_S * 1000 + 1500, &cn.disconnected, NULL);
	CHECK(cn.disconnected, "host kept a silent session for more than %d s", 3 * HELLO_S + 1);
	CHECK(xs_now_ms() - silent_from <= 3 * HELLO_S * 1000 + 600,
	      "hello timeout took %llu ms", (unsigned long long)(xs_now_ms() - silent_from));
	checks++;

	/* 7. a REG_REJECT is shown with its reason, and the host tries again later */
	accept_session_as("unknown host " HOSTNAME, false);
	pump(3000, &cn.disconnected, NULL);
	CHECK(cn.disconnected, "host did not drop a rejected session");
	doc = xsctl_status();
	host = json_array_get(json_object_get(doc, "hosts"), 0);
	sess = json_array_get(json_object_get(host, "sessions"), 0);
	CHECK(strcmp(json_string_value(json_object_get(sess, "last_error")),
		     "rejected by director: reason 1: unknown host " HOSTNAME) == 0,
	      "last_error '%s'", json_string_value(json_object_get(sess, "last_error")));
	CHECK(json_integer_value(json_object_get(sess, "rejects")) == 1, "rejects");
	CHECK(find_device(host, "eth-int0"), "a rejected session removed a device");
	json_decref(doc);
	checks++;
	snprintf(prev, sizeof(prev), "rejected by director: reason 1: unknown host " HOSTNAME);

	/* 7b. REG_REJECT with the close right behind it: whichever of the two
	 * the host's loop takes first, it reports the director's reason (not a
	 * lost connection) and counts the reject, every time */
	for (i = 1; i <= REJECT_CLOSE_ROUNDS; i++) {
		char text[64];
		const char *le = "";
		json_int_t rejects = 0;
		uint64_t end;

		snprintf(text, sizeof(text), "unknown host " HOSTNAME " (round %d)", i);
		snprintf(want, sizeof(want), "rejected by director: reason 1: %s", text);
		accept_session_as(text, true);
		/* the host has taken the close once last_error changed (each
		 * round has its own text, the last one is the previous round's) */
		for (end = xs_now_ms() + 5000; xs_now_ms() < end;) {
			doc = xsctl_status();
			host = json_array_get(json_object_get(doc, "hosts"), 0);
			sess = json_array_get(json_object_get(host, "sessions"), 0);
			snprintf(last, sizeof(last), "%s",
				 json_string_value(json_object_get(sess, "last_error")));
			rejects = json_integer_value(json_object_get(sess, "rejects"));
			le = last;
			json_decref(doc);
			if (strcmp(le, prev) != 0)
				break;
		}
		CHECK(strcmp(le, want) == 0, "round %d: last_error '%s', want '%s'", i, le, want);
		CHECK(rejects == 1 + i, "round %d: rejects %lld, want %d", i, (long long)rejects,
		      1 + i);
		snprintf(prev, sizeof(prev), "%s", want);
		checks++;
	}

	/* 8. reconnect, then SIGTERM: SHUTDOWN arrives and xscored exits 0 */
	accept_session();
	expect_reslist(1, ids);
	kill(xscored_pid, SIGTERM);
	expect_session(XS_XSMP_SHUTDOWN, &s, NULL, NULL);
	CHECK(strcmp(s.reason_text, "host agent stopping") == 0, "shutdown text '%s'",
	      s.reason_text);
	CHECK(waitpid(xscored_pid, &status, 0) == xscored_pid, "waitpid");
	xscored_pid = 0;
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "xscored exit status 0x%x", status);

	conn_drop();
	xs_cm_listener_close(listener);
	xs_mad_agent_unregister(xcpm);
	xs_mad_agent_unregister(sa_agent);
	xs_fabric_close(f);
	cleanup();
	printf("host integration: %d checks passed\n", checks);
	return 0;
}
