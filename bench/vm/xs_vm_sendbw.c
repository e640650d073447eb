/* SPDX-License-Identifier: MIT */
/*
 * xs-vm-sendbw - RC SEND bandwidth through the fabric API, shaped like
 * perftest's ib_send_bw so bench/vm/run can put the two side by side on the
 * same rxe ports: one connection, N messages of SIZE bytes, up to DEPTH
 * sends in flight, the receiver keeping DEPTH receives posted, both sides
 * busy-polling their CQ.
 *
 *   xs-vm-sendbw -s SPEC [-n N] [-m SIZE] [-q DEPTH]          receiver (server)
 *   xs-vm-sendbw -c SPEC -d IP [-n N] [-m SIZE] [-q DEPTH]    sender (client)
 *
 * The sender times from its first post to the receiver's answer (a 4-byte
 * SEND the receiver makes after the Nth message arrived) and prints
 * "xs-vm-sendbw: N x SIZE bytes in S s: M MiB/s" (2^20, as perftest) and a
 * JSON line; the receiver counts the messages, checks every one's length
 * and exits 1 on a short one or a failed completion.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xscore/common.h>
#include <xscore/fabric.h>
#include <xscore/log.h>

#define SID UINT64_C(0x5e0d)   /* rdma_cm port 24077 on RoCE */
#define ACK_LEN 4

struct bw {
	struct xs_fabric *f;
	struct xs_pd *pd;
	struct xs_cq *cq;
	struct xs_qp *qp;
	struct xs_mr *mr;
	uint8_t *buf;   /* depth receive slots of size bytes, then one send slot */
	uint32_t size, depth;
	long n;
};

static void die(const char *what, int rc)
{
	fprintf(stderr, "xs-vm-sendbw: %s%s%s\n", what, rc ? ": " : "", rc ? xs_strerror(rc) : "");
	exit(1);
}

static void setup(struct bw *b, const char *spec)
{
	struct xs_qp_attr a = { 0 };
	size_t len = ((size_t)b->depth + 1) * b->size;

	b->f = xs_fabric_open(spec, NULL);
	if (!b->f)
		die("cannot open the fabric", -errno);
	b->pd = xs_pd_alloc(b->f);
	b->cq = xs_cq_create(b->f, (int)(4 * b->depth + 8));
	b->buf = aligned_alloc(4096, (len + 4095) / 4096 * 4096);
	if (!b->pd || !b->cq || !b->buf)
		die("set-up", -ENOMEM);
	memset(b->buf, 0, len);
	b->mr = xs_mr_reg(b->pd, b->buf, len, XS_ACCESS_LOCAL_WRITE);
	if (!b->mr)
		die("MR", -errno);
	a.pd = b->pd;
	a.send_cq = b->cq;
	a.recv_cq = b->cq;
	a.max_send_wr = b->depth + 4;
	a.max_recv_wr = b->depth + 4;
	a.max_sge = 1;
	b->qp = xs_qp_create(b->f, &a);
	if (!b->qp)
		die("QP", -errno);
}

static void post_recv(struct bw *b, uint32_t slot)
{
	struct xs_sge sge = { .addr = (uintptr_t)(b->buf + (size_t)slot * b->size),
			      .length = b->size, .lkey = xs_mr_lkey(b->mr) };
	struct xs_recv_wr wr = { .wr_id = slot, .sg_list = &sge, .num_sge = 1 };
	int rc = xs_qp_post_recv(b->qp, &wr);

	if (rc < 0)
		die("post receive", rc);
}

static void post_send(struct bw *b, uint32_t len, uint64_t id)
{
	uint8_t *p = b->buf + (size_t)b->depth * b->size;
	struct xs_sge sge = { .addr = (uintptr_t)p, .length = len, .lkey = xs_mr_lkey(b->mr) };
	struct xs_send_wr wr = { .wr_id = id, .opcode = XS_WR_SEND, .sg_list = &sge,
				 .num_sge = 1, .flags = XS_SEND_SIGNALED };
	int rc;

	rc = xs_qp_post_send(b->qp, &wr);
	if (rc < 0)
		die("post send", rc);
}

static void wait_event(struct bw *b, enum xs_event_type want, struct xs_event *ev)
{
	for (;;) {
		int rc = xs_fabric_wait_event(b->f, ev, 20000);

		if (rc < 0)
			die("waiting for a connection event", rc);
		if (ev->type == want)
			return;
		if (ev->type == XS_EV_REJECTED || ev->type == XS_EV_UNREACHABLE ||
		    ev->type == XS_EV_DISCONNECTED)
			die("connection failed", ev->status ? ev->status : -ECONNREFUSED);
	}
}

static int server(struct bw *b)
{
	struct xs_cm_listener *l = xs_cm_listen(b->f, SID);
	struct xs_event ev;
	struct xs_wc wc[32];
	long got = 0;
	int bad = 0;

	if (!l)
		die("listen", -errno);
	for (uint32_t i = 0; i < b->depth; i++)
		post_recv(b, i);
	wait_event(b, XS_EV_CONNECT_REQUEST, &ev);
	if (xs_qp_accept(b->qp, ev.req, NULL, 0) < 0)
		die("accept", -EPROTO);
	while (got < b->n) {
		int k = xs_cq_poll(b->cq, wc, 32);

		if (k < 0)
			die("poll", k);
		for (int i = 0; i < k; i++) {
			if (wc[i].status != XS_WC_SUCCESS) {
				fprintf(stderr, "xs-vm-sendbw: completion error: %s\n",
					xs_wc_status_str(wc[i].status));
				return 1;
			}
			if (wc[i].opcode != XS_WC_RECV)
				continue;
			if (wc[i].byte_len != b->size)
				bad++;
			got++;
			post_recv(b, (uint32_t)wc[i].wr_id);
		}
	}
	post_send(b, ACK_LEN, (uint64_t)got);
	for (;;) { /* the ACK's completion, then the sender disconnects */
		int k = xs_cq_poll(b->cq, wc, 32);

		if (k < 0)
			die("poll", k);
		if (k > 0 && wc[0].opcode == XS_WC_SEND)
			break;
	}
	wait_event(b, XS_EV_DISCONNECTED, &ev);
	xs_cm_listener_close(l);
	printf("xs-vm-sendbw: received %ld messages of %u bytes, %d of the wrong length\n", got,
	       b->size, bad);
	return bad ? 1 : 0;
}

static int client(struct bw *b, const char *ip)
{
	struct xs_cm_dest d = { .ip = ip };
	struct xs_event ev;
	struct xs_wc wc[32];
	long sent = 0, done = 0;
	uint32_t inflight = 0;
	bool acked = false;
	uint64_t t0, t1;
	double secs, mbs;
	int rc;

	post_recv(b, 0); /* for the receiver's answer */
	rc = xs_qp_connect(b->qp, &d, SID, NULL, 0, 10000);
	if (rc < 0)
		die("connect", rc);
	wait_event(b, XS_EV_ESTABLISHED, &ev);
	t0 = xs_now_us();
	while (!acked) {
		int k;

		while (sent < b->n && inflight < b->depth) {
			post_send(b, b->size, (uint64_t)sent);
			sent++;
			inflight++;
		}
		k = xs_cq_poll(b->cq, wc, 32);
		if (k < 0)
			die("poll", k);
		for (int i = 0; i < k; i++) {
			if (wc[i].status != XS_WC_SUCCESS) {
				fprintf(stderr, "xs-vm-sendbw: completion error: %s\n",
					xs_wc_status_str(wc[i].status));
				return 1;
			}
			if (wc[i].opcode == XS_WC_RECV)
				acked = true;
			else {
				inflight--;
				done++;
			}
		}
	}
	t1 = xs_now_us();
	xs_qp_disconnect(b->qp);
	secs = (double)(t1 - t0) / 1e6;
	mbs = (double)b->n * b->size / secs / 1048576.0; /* MiB/s, as perftest */
	printf("xs-vm-sendbw: %ld x %u bytes in %.3f s: %.1f MiB/s (%ld sends completed)\n", b->n,
	       b->size, secs, mbs, done);
	printf("{\"messages\": %ld, \"size\": %u, \"depth\": %u, \"seconds\": %.3f, "
	       "\"mib_per_s\": %.2f}\n", b->n, b->size, b->depth, secs, mbs);
	return 0;
}

int main(int argc, char **argv)
{
	struct bw b = { .size = 65536, .depth = 128, .n = 2000 };
	const char *spec = NULL, *ip = NULL;
	bool is_server = false;
	int opt, rc;

	xs_log_open("xs-vm-sendbw", XS_LOG_STDERR, XS_LOG_WARN);
	while ((opt = getopt(argc, argv, "s:c:d:n:m:q:h")) != -1) {
		switch (opt) {
		case 's': spec = optarg; is_server = true; break;
		case 'c': spec = optarg; break;
		case 'd': ip = optarg; break;
		case 'n': b.n = atol(optarg); break;
		case 'm': b.size = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'q': b.depth = (uint32_t)strtoul(optarg, NULL, 0); break;
		default:
			fprintf(opt == 'h' ? stdout : stderr,
				"usage: xs-vm-sendbw -s SPEC | -c SPEC -d IP [-n MESSAGES] [-m SIZE] "
				"[-q DEPTH]\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	if (!spec || (!is_server && !ip) || b.n < 1 || b.size < 8 || b.depth < 1 ||
	    b.depth > 1024) {
		fprintf(stderr, "usage: xs-vm-sendbw -s SPEC | -c SPEC -d IP [-n MESSAGES] "
			"[-m SIZE] [-q DEPTH]\n");
		return 2;
	}
	setup(&b, spec);
	rc = is_server ? server(&b) : client(&b, ip);
	xs_qp_destroy(b.qp);
	xs_mr_dereg(b.mr);
	xs_cq_destroy(b.cq);
	xs_pd_free(b.pd);
	xs_fabric_close(b.f);
	free(b.buf);
	return rc;
}
