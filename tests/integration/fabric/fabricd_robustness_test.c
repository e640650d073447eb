/* SPDX-License-Identifier: MIT */
/*
 * xs-fabricd under bad input and vanishing ports: garbage, short, oversized
 * and ill-typed records on its socket are logged, counted and cost only
 * the offending connection; a port that vanishes mid-connect is reported
 * to the other side; SIGTERM still shuts down cleanly afterwards.
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

#include "soft/soft_proto.h"

static char tmpdir[64], sock_path[96], log_path[160], spec[160];
static pid_t daemon_pid;
static struct xs_fabric *witness_a, *witness_b; /* ports that must keep working */

static int group_setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/xs-fabricd-robust-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(sock_path, sizeof(sock_path), "%s/fabric.sock", tmpdir);
	snprintf(log_path, sizeof(log_path), "%s/fabricd.log", tmpdir);
	snprintf(spec, sizeof(spec), "soft:%s", sock_path);
	daemon_pid = fork();
	if (daemon_pid == 0) {
		int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(fd, 2);
		execl(XS_FABRICD_PATH, "xs-fabricd", "-f", "-s", sock_path, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500 && access(sock_path, F_OK) != 0; i++)
		usleep(10000);
	usleep(20000);
	return access(sock_path, F_OK) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
	char cmd[128];

	if (daemon_pid > 0) {
		kill(daemon_pid, SIGKILL);
		waitpid(daemon_pid, NULL, 0);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static int raw_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* The daemon must close a connection that sent bad input: recv sees EOF. */
static void assert_dropped(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char b[600];
	ssize_t n;

	assert_int_equal(poll(&p, 1, 2000), 1);
	n = recv(fd, b, sizeof(b), MSG_DONTWAIT);
	assert_true(n == 0 || (n < 0 && errno == ECONNRESET));
	close(fd);
}

static bool log_has(const char *text)
{
	char line[1024];
	bool found = false;
	FILE *f = fopen(log_path, "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, text) != NULL;
	fclose(f);
	return found;
}

static void attach_raw(int fd, const char *name, struct xs_softp_attach_reply *r)
{
	struct xs_softp_attach m = { .h = { XS_SOFTP_ATTACH, sizeof(m), 1 },
				     .version = XS_SOFTP_VERSION };

	snprintf(m.port_name, sizeof(m.port_name), "%s", name);
	assert_int_equal(send(fd, &m, sizeof(m), 0), sizeof(m));
	assert_int_equal(recv(fd, r, sizeof(*r), 0), sizeof(*r));
	assert_int_equal(r->h.type, XS_SOFTP_ATTACH_REPLY);
	assert_int_equal(r->status, 0);
}

/* The witnesses exchange a MAD and ask the SA: the daemon still serves. */
static void assert_witnesses_work(void)
{
	struct xs_mad_agent *a = xs_mad_agent_register(witness_a, 0x09, 1, NULL, 0);
	struct xs_mad_agent *b = xs_mad_agent_register(witness_b, 0x09, 1, NULL,
						       XS_MAD_AGENT_SERVER);
	struct xs_port_attr pb;
	struct xs_mad_addr to = { .qpn = 1 };
	uint8_t mad[XS_MAD_SIZE] = { 1, 0x09, 1, 1 }, got[XS_MAD_SIZE];

	assert_non_null(a);
	assert_non_null(b);
	xs_fabric_query_port(witness_b, &pb);
	to.lid = pb.lid;
	xs_put32(mad + 12, 0x5151);
	assert_int_equal(xs_mad_send(a, &to, mad, sizeof(mad)), 0);
	assert_int_equal(xs_mad_recv(b, NULL, got, sizeof(got), 2000), XS_MAD_SIZE);
	assert_int_equal(xs_get32(got + 12), 0x5151);
	xs_mad_agent_unregister(a);
	xs_mad_agent_unregister(b);
}

static void test_setup_witnesses(void **state)
{
	struct xs_fabric_opts o = { .size = sizeof(o), .port_name = "witness-a" };

	witness_a = xs_fabric_open(spec, &o);
	o.port_name = "witness-b";
	witness_b = xs_fabric_open(spec, &o);
	assert_non_null(witness_a);
	assert_non_null(witness_b);
	assert_witnesses_work();
}

static void test_garbage(void **state)
{
	uint8_t junk[100];
	int fd = raw_connect();

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 37 + 11);
	assert_int_equal(send(fd, junk, sizeof(junk), 0), sizeof(junk));
	assert_dropped(fd);
	assert_true(log_has("bad message (100 bytes"));
	assert_witnesses_work();
}

static void test_short(void **state)
{
	int fd = raw_connect();

	assert_int_equal(send(fd, "\x01\x00\x08", 3, 0), 3);
	assert_dropped(fd);
	assert_true(log_has("shorter than a header"));
	assert_witnesses_work();
}

static void test_oversized(void **state)
{
	static uint8_t big[8192];
	int fd = raw_connect();
	struct xs_softp_hdr *h = (void *)big;

	h->type = XS_SOFTP_ATTACH;
	h->len = 0xffff;
	assert_int_equal(send(fd, big, sizeof(big), 0), sizeof(big));
	assert_dropped(fd);
	assert_true(log_has("longer than any message"));
	assert_witnesses_work();
}

static void test_wrong_length_for_type(void **state)
{
	struct xs_softp_attach m = { .h = { XS_SOFTP_ATTACH, sizeof(m) - 8, 1 } };
	int fd = raw_connect();

	assert_int_equal(send(fd, &m, sizeof(m) - 8, 0), sizeof(m) - 8);
	assert_dropped(fd);
	assert_true(log_has("short message for its type"));
}

static void test_unknown_type_and_direction(void **state)
{
	struct xs_softp_attach_reply r;
	struct xs_softp_hdr h = { 999, sizeof(h), 0 };
	struct xs_softp_status s = { .h = { XS_SOFTP_CM_LISTEN_REPLY, sizeof(s), 0 } };
	int fd = raw_connect();

	attach_raw(fd, "rogue-1", &r);
	assert_int_equal(send(fd, &h, sizeof(h), 0), sizeof(h));
	assert_dropped(fd);
	assert_true(log_has("unknown message type"));

	fd = raw_connect();
	attach_raw(fd, "rogue-2", &r);
	assert_int_equal(send(fd, &s, sizeof(s), 0), sizeof(s));
	assert_dropped(fd);
	assert_true(log_has("not valid in this direction"));
	assert_witnesses_work();
}

static void test_bad_fields(void **state)
{
	struct xs_softp_attach_reply r;
	struct xs_softp_mad_send m = { .h = { XS_SOFTP_MAD_SEND, sizeof(m), 0 }, .mad_len = 300 };
	struct xs_softp_attach a = { .h = { XS_SOFTP_ATTACH, sizeof(a), 1 },
				     .version = XS_SOFTP_VERSION };
	int fd = raw_connect();

	attach_raw(fd, "rogue-3", &r);
	assert_int_equal(send(fd, &m, sizeof(m), 0), sizeof(m));
	assert_dropped(fd);
	assert_true(log_has("MAD length out of 24..256"));

	/* a port name without its terminating NUL */
	memset(a.port_name, 'x', sizeof(a.port_name));
	fd = raw_connect();
	assert_int_equal(send(fd, &a, sizeof(a), 0), sizeof(a));
	assert_dropped(fd);
	assert_true(log_has("port name empty or not terminated"));

	/* anything but ATTACH first */
	m.mad_len = 24;
	fd = raw_connect();
	assert_int_equal(send(fd, &m, sizeof(m), 0), sizeof(m));
	assert_dropped(fd);
	assert_true(log_has("message before ATTACH"));
	assert_witnesses_work();
}

static void test_passed_fd_refused(void **state)
{
	struct xs_softp_attach m = { .h = { XS_SOFTP_ATTACH, sizeof(m), 1 },
				     .version = XS_SOFTP_VERSION };
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { &m, sizeof(m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b,
			     .msg_controllen = sizeof(u.b) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	int fd = raw_connect(), passed = open("/dev/null", O_RDONLY);

	snprintf(m.port_name, sizeof(m.port_name), "fd-passer");
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &passed, sizeof(int));
	assert_int_equal(sendmsg(fd, &mh, 0), sizeof(m));
	close(passed);
	assert_dropped(fd);
	assert_true(log_has("passed file descriptors"));
}

/* Active side vanishes between REQ and REP: the listener's request is
 * withdrawn and a late accept says so. */
static void test_active_vanishes(void **state)
{
	struct xs_softp_attach_reply r;
	struct xs_softp_cm_req req = { .h = { XS_SOFTP_CM_REQ, sizeof(req), 0 } };
	struct xs_cm_listener *l = xs_cm_listen(witness_b, 0x77);
	struct xs_pd *pd = xs_pd_alloc(witness_b);
	struct xs_cq *cq = xs_cq_create(witness_b, 16);
	struct xs_qp_attr qa = { .pd = pd, .send_cq = cq, .recv_cq = cq };
	struct xs_qp *qp = xs_qp_create(witness_b, &qa);
	struct xs_port_attr pb;
	struct xs_event ev;
	int fd = raw_connect();

	assert_non_null(l);
	assert_non_null(qp);
	xs_fabric_query_port(witness_b, &pb);
	attach_raw(fd, "vanishing-active", &r);
	req.service_id = 0x77;
	req.cookie = 5;
	req.timeout_ms = 5000;
	req.dlid = pb.lid;
	req.private_len = 3;
	memcpy(req.private_data, "bye", 3);
	assert_int_equal(send(fd, &req, sizeof(req), 0), sizeof(req));
	assert_int_equal(xs_fabric_wait_event(witness_b, &ev, 2000), 0);
	assert_int_equal(ev.type, XS_EV_CONNECT_REQUEST);
	close(fd); /* gone */
	usleep(200000);
	assert_int_equal(xs_qp_accept(qp, ev.req, NULL, 0), -ECONNABORTED);
	assert_int_equal(xs_qp_state(qp), XS_QPS_RESET);
	xs_qp_destroy(qp);
	xs_cq_destroy(cq);
	xs_pd_free(pd);
	xs_cm_listener_close(l);
}

/* Passive side vanishes after the REQ reached it: the active side hears
 * UNREACHABLE at once, not after its timeout. */
static void test_passive_vanishes(void **state)
{
	struct xs_softp_attach_reply r;
	struct xs_softp_listen lm = { .h = { XS_SOFTP_CM_LISTEN, sizeof(lm), 9 },
				      .service_id = 0x78 };
	struct xs_softp_status ls;
	struct xs_softp_cm_req_ind ind;
	struct xs_pd *pd = xs_pd_alloc(witness_a);
	struct xs_cq *cq = xs_cq_create(witness_a, 16);
	struct xs_qp_attr qa = { .pd = pd, .send_cq = cq, .recv_cq = cq };
	struct xs_qp *qp = xs_qp_create(witness_a, &qa);
	struct xs_cm_dest d = { 0 };
	struct xs_event ev;
	uint64_t t0;
	int fd = raw_connect();

	attach_raw(fd, "vanishing-passive", &r);
	assert_int_equal(send(fd, &lm, sizeof(lm), 0), sizeof(lm));
	assert_int_equal(recv(fd, &ls, sizeof(ls), 0), sizeof(ls));
	assert_int_equal(ls.h.type, XS_SOFTP_CM_LISTEN_REPLY);
	assert_int_equal(ls.h.seq, 9);
	assert_int_equal(ls.status, 0);
	d.lid = r.port.lid;
	t0 = xs_now_ms();
	assert_int_equal(xs_qp_connect(qp, &d, 0x78, "hello", 5, 10000), 0);
	assert_int_equal(recv(fd, &ind, sizeof(ind), 0), sizeof(ind));
	assert_int_equal(ind.h.type, XS_SOFTP_CM_REQ_IND);
	assert_int_equal(ind.private_len, 5);
	assert_memory_equal(ind.private_data, "hello", 5);
	close(fd);
	assert_int_equal(xs_fabric_wait_event(witness_a, &ev, 2000), 0);
	assert_int_equal(ev.type, XS_EV_UNREACHABLE);
	assert_ptr_equal(ev.qp, qp);
	assert_int_equal(ev.status, -EHOSTUNREACH);
	assert_true(xs_now_ms() - t0 < 1000);
	xs_qp_destroy(qp);
	xs_cq_destroy(cq);
	xs_pd_free(pd);
}

static void test_many_clients_churn(void **state)
{
	/* attach and vanish repeatedly, some mid-message: nothing leaks or sticks */
	for (int i = 0; i < 50; i++) {
		struct xs_softp_attach_reply r;
		char name[32];
		int fd = raw_connect();

		snprintf(name, sizeof(name), "churn-%d", i % 5);
		attach_raw(fd, name, &r);
		if (i % 3 == 0)
			assert_int_equal(send(fd, "\x04\x00", 2, 0), 2);
		close(fd);
	}
	assert_witnesses_work();
}

static void test_sigterm_after_abuse(void **state)
{
	int st;

	xs_fabric_close(witness_a);
	xs_fabric_close(witness_b);
	assert_int_equal(kill(daemon_pid, SIGTERM), 0);
	assert_int_equal(waitpid(daemon_pid, &st, 0), daemon_pid);
	daemon_pid = -1;
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(access(sock_path, F_OK), -1);
	/* every rogue connection was counted */
	assert_true(log_has("bad messages 27,")); /* 10 above + 17 in the churn */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_setup_witnesses),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_short),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_wrong_length_for_type),
		cmocka_unit_test(test_unknown_type_and_direction),
		cmocka_unit_test(test_bad_fields),
		cmocka_unit_test(test_passed_fd_refused),
		cmocka_unit_test(test_active_vanishes),
		cmocka_unit_test(test_passive_vanishes),
		cmocka_unit_test(test_many_clients_churn),
		cmocka_unit_test(test_sigterm_after_abuse),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
