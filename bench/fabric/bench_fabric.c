/* SPDX-License-Identifier: MIT */
/*
 * xs-bench-fabric - the soft fabric's RC SEND bandwidth (64 KiB messages)
 * and 64-byte ping-pong latency between two processes, against a raw
 * AF_UNIX SOCK_SEQPACKET socketpair between the same two processes, in one
 * run. Prints a human summary and, last, one JSON line.
 *
 * Both sides do the same work: the senders send from one buffer, the
 * receivers receive into a ring of WINDOW 64 KiB buffers (the soft one has
 * WINDOW receives posted); both wait the way an event loop does (soft:
 * poll() on the CQ fd; raw: blocking calls). The raw ping-pong is also
 * measured waiting the way an event loop must (poll() on an epoll set, then
 * a non-blocking recv), reported beside. Rounds alternate raw and soft
 * so that load drifts hit both alike; medians are reported.
 *
 * usage: xs-bench-fabric SOCKET_PATH [bw_messages] [pingpongs]
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <xscore/common.h>
#include <xscore/fabric.h>

#define MSG (64 * 1024)
#define SMALL 64
#define WINDOW 32
#define SID 0xbe4c4u

static const char *sock_path;
static long n_bw = 20000, n_lat = 20000;

static void die(const char *what)
{
	fprintf(stderr, "xs-bench-fabric: %s\n", what);
	exit(1);
}

/* ------------------------------------------------------------- raw */

static void raw_xfer(int fd, void *buf, size_t len, bool send_it)
{
	ssize_t n = send_it ? send(fd, buf, len, 0) : recv(fd, buf, len, 0);

	if (n != (ssize_t)len)
		die(send_it ? "raw send" : "raw recv");
}

static char *raw_buf;
static char *raw_ring; /* WINDOW x MSG: the raw receiver cycles through as
			  many buffers as the soft receiver has posted, so both
			  touch the same amount of memory */

static void raw_child_bw(int fd)
{
	for (long i = 0; i < n_bw; i++)
		raw_xfer(fd, raw_ring + (size_t)(i % WINDOW) * MSG, MSG, false);
	raw_xfer(fd, raw_buf, 1, true);
}

static void raw_child_lat(int fd)
{
	for (long i = 0; i < n_lat; i++) {
		raw_xfer(fd, raw_buf, SMALL, false);
		raw_xfer(fd, raw_buf, SMALL, true);
	}
}

/* The raw pair waited on the way an event loop waits: poll() on an epoll
 * set holding the socket, then a non-blocking recv. */
static int raw_epfd = -1;

static void raw_wait_recv(int fd, void *buf, size_t len)
{
	struct pollfd p = { .fd = raw_epfd, .events = POLLIN };

	for (;;) {
		ssize_t n = recv(fd, buf, len, MSG_DONTWAIT);

		if (n == (ssize_t)len)
			return;
		if (n >= 0 || errno != EAGAIN)
			die("raw recv");
		poll(&p, 1, 5000);
	}
}

static void raw_epoll_setup(int fd)
{
	struct epoll_event ee = { .events = EPOLLIN };

	raw_epfd = epoll_create1(EPOLL_CLOEXEC);
	if (raw_epfd < 0 || epoll_ctl(raw_epfd, EPOLL_CTL_ADD, fd, &ee) < 0)
		die("epoll");
}

static void raw_child_lat_ev(int fd)
{
	for (long i = 0; i < n_lat; i++) {
		raw_wait_recv(fd, raw_buf, SMALL);
		raw_xfer(fd, raw_buf, SMALL, true);
	}
}

static double raw_parent_lat_ev(int fd)
{
	uint64_t t0 = xs_now_us(), t1;

	for (long i = 0; i < n_lat; i++) {
		raw_xfer(fd, raw_buf, SMALL, true);
		raw_wait_recv(fd, raw_buf, SMALL);
	}
	t1 = xs_now_us();
	return (double)(t1 - t0) / (double)n_lat / 2.0;
}

static double raw_parent_bw(int fd)
{
	uint64_t t0 = xs_now_us(), t1;

	for (long i = 0; i < n_bw; i++)
		raw_xfer(fd, raw_buf, MSG, true);
	raw_xfer(fd, raw_buf, 1, false);
	t1 = xs_now_us();
	return (double)n_bw * MSG / (double)(t1 - t0);
}

static double raw_parent_lat(int fd)
{
	uint64_t t0 = xs_now_us(), t1;

	for (long i = 0; i < n_lat; i++) {
		raw_xfer(fd, raw_buf, SMALL, true);
		raw_xfer(fd, raw_buf, SMALL, false);
	}
	t1 = xs_now_us();
	return (double)(t1 - t0) / (double)n_lat / 2.0;
}

/* ------------------------------------------------------------ soft */

struct ep {
	struct xs_fabric *f;
	struct xs_pd *pd;
	struct xs_cq *cq;
	struct xs_qp *qp;
	struct xs_mr *mr;
	uint8_t *buf; /* WINDOW receive slots + one send slot */
};

static struct ep ep_open(const char *name)
{
	struct xs_fabric_opts o = { .size = sizeof(o), .port_name = name };
	struct xs_qp_attr a = { 0 };
	char spec[256];
	struct ep e;

	snprintf(spec, sizeof(spec), "soft:%s", sock_path);
	e.f = xs_fabric_open(spec, &o);
	if (!e.f)
		die("can't open the soft fabric");
	e.pd = xs_pd_alloc(e.f);
	e.cq = xs_cq_create(e.f, 4 * WINDOW);
	a.pd = e.pd;
	a.send_cq = e.cq;
	a.recv_cq = e.cq;
	a.max_send_wr = 2 * WINDOW;
	a.max_recv_wr = 2 * WINDOW;
	e.qp = xs_qp_create(e.f, &a);
	e.buf = calloc(WINDOW + 1, MSG);
	if (!e.pd || !e.cq || !e.qp || !e.buf)
		die("soft set-up");
	e.mr = xs_mr_reg(e.pd, e.buf, (size_t)(WINDOW + 1) * MSG, XS_ACCESS_LOCAL_WRITE);
	if (!e.mr)
		die("MR");
	return e;
}

static void ep_close(struct ep *e)
{
	xs_qp_destroy(e->qp);
	xs_mr_dereg(e->mr);
	xs_cq_destroy(e->cq);
	xs_pd_free(e->pd);
	xs_fabric_close(e->f);
	free(e->buf);
}

static void post_recv(struct ep *e, int slot)
{
	struct xs_sge sge = { .addr = (uintptr_t)(e->buf + (size_t)slot * MSG), .length = MSG,
			      .lkey = xs_mr_lkey(e->mr) };
	struct xs_recv_wr wr = { .wr_id = (uint64_t)slot, .sg_list = &sge, .num_sge = 1 };

	if (xs_qp_post_recv(e->qp, &wr) < 0)
		die("post_recv");
}

static int post_send(struct ep *e, uint64_t id, uint32_t len, bool signaled)
{
	struct xs_sge sge = { .addr = (uintptr_t)(e->buf + (size_t)WINDOW * MSG), .length = len,
			      .lkey = xs_mr_lkey(e->mr) };
	struct xs_send_wr wr = { .wr_id = id, .opcode = XS_WR_SEND, .sg_list = &sge,
				 .num_sge = 1, .flags = signaled ? XS_SEND_SIGNALED : 0 };

	return xs_qp_post_send(e->qp, &wr);
}

/* Block until at least one completion; returns how many (<= max). */
static int wait_wcs(struct ep *e, struct xs_wc *wc, int max)
{
	for (;;) {
		struct pollfd p = { .fd = xs_cq_fd(e->cq), .events = POLLIN };
		int n = xs_cq_poll(e->cq, wc, max);

		if (n < 0)
			die("cq_poll");
		for (int i = 0; i < n; i++)
			if (wc[i].status != XS_WC_SUCCESS) {
				fprintf(stderr, "completion error: %s\n",
					xs_wc_status_str(wc[i].status));
				exit(1);
			}
		if (n)
			return n;
		poll(&p, 1, 5000);
	}
}

static struct ep soft_child_setup(int ready_fd, struct xs_cm_listener **lp)
{
	struct ep e = ep_open("bench-server");
	struct xs_cm_listener *l = xs_cm_listen(e.f, SID);
	struct xs_port_attr pa;
	struct xs_event ev;

	if (!l)
		die("listen");
	for (int i = 0; i < WINDOW; i++)
		post_recv(&e, i);
	if (xs_fabric_query_port(e.f, &pa) < 0 ||
	    write(ready_fd, &pa.lid, sizeof(pa.lid)) != sizeof(pa.lid))
		die("sync");
	if (xs_fabric_wait_event(e.f, &ev, 5000) < 0 || ev.type != XS_EV_CONNECT_REQUEST)
		die("no connect request");
	if (xs_qp_accept(e.qp, ev.req, NULL, 0) < 0)
		die("accept");
	*lp = l;
	return e;
}

static void soft_child_bw(struct ep *e)
{
	struct xs_wc wc[WINDOW];
	long got = 0;

	while (got < n_bw) {
		int n = wait_wcs(e, wc, WINDOW);

		for (int i = 0; i < n; i++)
			if (wc[i].opcode == XS_WC_RECV) {
				got++;
				post_recv(e, (int)wc[i].wr_id);
			}
	}
	if (post_send(e, 0, 1, false) < 0)
		die("post_send");
}

static void soft_child_lat(struct ep *e)
{
	struct xs_wc wc[WINDOW];

	for (long i = 0; i < n_lat; i++) {
		int recvd = 0;

		while (!recvd) {
			int n = wait_wcs(e, wc, WINDOW);

			for (int k = 0; k < n; k++)
				if (wc[k].opcode == XS_WC_RECV) {
					recvd = 1;
					post_recv(e, (int)wc[k].wr_id);
				}
		}
		if (post_send(e, 0, SMALL, false) < 0)
			die("post_send");
	}
}

static struct ep soft_parent_setup(uint16_t lid)
{
	struct ep e = ep_open("bench-client");
	struct xs_cm_dest d = { .lid = lid };
	struct xs_event ev;

	for (int i = 0; i < WINDOW; i++)
		post_recv(&e, i);
	if (xs_qp_connect(e.qp, &d, SID, NULL, 0, 5000) < 0)
		die("connect");
	if (xs_fabric_wait_event(e.f, &ev, 5000) < 0 || ev.type != XS_EV_ESTABLISHED)
		die("not established");
	return e;
}

static double soft_parent_bw(struct ep *e)
{
	struct xs_wc wc[WINDOW];
	long sent = 0, inflight = 0;
	uint64_t t0, t1;
	bool done = false;

	/* keep WINDOW sends in flight, every 8th signaled */
	t0 = xs_now_us();
	while (!done) {
		while (sent < n_bw && inflight < WINDOW) {
			bool sig = (sent % 8) == 7 || sent == n_bw - 1;

			if (post_send(e, (uint64_t)sent, MSG, sig) < 0)
				die("post_send");
			sent++;
			inflight++;
		}
		{
			int n = wait_wcs(e, wc, WINDOW);

			for (int i = 0; i < n; i++) {
				if (wc[i].opcode == XS_WC_SEND) {
					/* completions are in order: all up to this one are done */
					inflight = sent - (long)wc[i].wr_id - 1;
				} else if (wc[i].opcode == XS_WC_RECV) {
					done = true; /* the server saw them all */
					post_recv(e, (int)wc[i].wr_id);
				}
			}
		}
	}
	t1 = xs_now_us();
	return (double)n_bw * MSG / (double)(t1 - t0);
}

static double soft_parent_lat(struct ep *e)
{
	struct xs_wc wc[WINDOW];
	uint64_t t0, t1;

	t0 = xs_now_us();
	for (long i = 0; i < n_lat; i++) {
		int recvd = 0;

		if (post_send(e, 0, SMALL, false) < 0)
			die("post_send");
		while (!recvd) {
			int n = wait_wcs(e, wc, WINDOW);

			for (int k = 0; k < n; k++)
				if (wc[k].opcode == XS_WC_RECV) {
					recvd = 1;
					post_recv(e, (int)wc[k].wr_id);
				}
		}
	}
	t1 = xs_now_us();
	return (double)(t1 - t0) / (double)n_lat / 2.0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define MAX_ROUNDS 32

int main(int argc, char **argv)
{
	double rbw[MAX_ROUNDS], rlat[MAX_ROUNDS], sbw[MAX_ROUNDS], slat[MAX_ROUNDS];
	double elat[MAX_ROUNDS];
	double raw_bw, raw_lat, soft_bw, soft_lat, ev_lat;
	int sv[2], sync[2], st, rounds = 5;
	uint16_t lid;
	pid_t pid;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fprintf(argc < 2 ? stderr : stdout,
			"usage: xs-bench-fabric SOCKET_PATH [bw_messages] [pingpongs] [rounds]\n"
			"(bench/run fabric starts xs-fabricd and runs this; see xs-bench-fabric(8))\n");
		return argc < 2 ? 2 : 0;
	}
	sock_path = argv[1];
	if (argc > 2)
		n_bw = atol(argv[2]);
	if (argc > 3)
		n_lat = atol(argv[3]);
	if (argc > 4)
		rounds = atoi(argv[4]);
	if (n_bw < 1 || n_lat < 1 || rounds < 1 || rounds > MAX_ROUNDS)
		die("bad arguments");
	raw_buf = calloc(1, MSG);
	raw_ring = calloc(WINDOW, MSG);
	if (!raw_buf || !raw_ring || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0 || pipe(sync) < 0)
		die("set-up");
	pid = fork();
	if (pid == 0) {
		struct xs_cm_listener *l;
		struct ep e;

		close(sv[0]);
		close(sync[0]);
		raw_epoll_setup(sv[1]);
		e = soft_child_setup(sync[1], &l);
		for (int r = 0; r < rounds; r++) {
			raw_child_bw(sv[1]);
			soft_child_bw(&e);
			raw_child_lat(sv[1]);
			soft_child_lat(&e);
			raw_child_lat_ev(sv[1]);
		}
		usleep(100000);
		xs_cm_listener_close(l);
		ep_close(&e);
		_exit(0);
	}
	close(sv[1]);
	close(sync[1]);
	raw_epoll_setup(sv[0]);
	if (read(sync[0], &lid, sizeof(lid)) != sizeof(lid))
		die("server did not start");
	{
		struct ep e = soft_parent_setup(lid);

		/* interleaved rounds: the machine's load drifts alike for both */
		for (int r = 0; r < rounds; r++) {
			rbw[r] = raw_parent_bw(sv[0]);
			sbw[r] = soft_parent_bw(&e);
			rlat[r] = raw_parent_lat(sv[0]);
			slat[r] = soft_parent_lat(&e);
			elat[r] = raw_parent_lat_ev(sv[0]);
			fprintf(stderr,
				"round %d: raw %.0f MB/s %.2f us (event-loop wait %.2f us), soft %.0f "
				"MB/s %.2f us\n",
				r + 1, rbw[r], rlat[r], elat[r], sbw[r], slat[r]);
		}
		ep_close(&e);
	}
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		die("server failed");
	raw_bw = median(rbw, rounds);
	raw_lat = median(rlat, rounds);
	soft_bw = median(sbw, rounds);
	soft_lat = median(slat, rounds);
	ev_lat = median(elat, rounds);
	printf("medians of %d rounds (%ld x 64 KiB, %ld x 64 B ping-pong each):\n", rounds, n_bw,
	       n_lat);
	printf("raw socketpair: %.0f MB/s, %.2f us one-way (blocking recv); %.2f us waiting "
	       "like an event loop (poll on an epoll set, then recv)\n",
	       raw_bw, raw_lat, ev_lat);
	printf("soft fabric   : %.0f MB/s, %.2f us one-way\n", soft_bw, soft_lat);
	printf("{\"bench\":\"fabric\",\"bw_ratio\":%.3f,\"lat_ratio\":%.3f,\"soft_bw_MBps\":%.0f,"
	       "\"raw_bw_MBps\":%.0f,\"soft_lat_us\":%.2f,\"raw_lat_us\":%.2f,\"msg_bytes\":%d,"
	       "\"bw_messages\":%ld,\"pingpongs\":%ld,\"rounds\":%d,\"raw_evloop_lat_us\":%.2f,"
	       "\"lat_ratio_vs_evloop\":%.3f}\n",
	       soft_bw / raw_bw, soft_lat / raw_lat, soft_bw, raw_bw, soft_lat, raw_lat, MSG, n_bw,
	       n_lat, rounds, ev_lat, soft_lat / ev_lat);
	free(raw_buf);
	free(raw_ring);
	return 0;
}
