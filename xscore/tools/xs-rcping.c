/* SPDX-License-Identifier: MIT */
/*
 * xs-rcping - check an RC connection end to end on any fabric backend:
 * connection set-up with private data, SEND/RECV ping-pong with immediate
 * data (contents verified, round-trip times measured), then an RDMA WRITE
 * into the server's buffer and an RDMA READ back, compared byte for byte.
 * See xs-rcping(8).
 *
 *   xs-rcping [-F SPEC] [-S SID] [-c N] server
 *   xs-rcping [-F SPEC] [-S SID] [-n N] [-s SIZE] [--json] [--bad-rkey] client
 *             --lid L | --gid G | --ip A
 *
 * Wire (private data): REQ "XSRC" + be32 size; REP "XSRC" + be32 size +
 * be64 buffer address + be32 rkey (20 bytes).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xscore/common.h>
#include <xscore/fabric.h>
#include <xscore/log.h>

#define DEFAULT_SID XS_U64(0x0013970200000100)
#define MAGIC "XSRC"
#define MAX_SIZE (1u << 20)
#define STEP_MS 5000

struct conn {
	struct xs_fabric *f;
	struct xs_pd *pd;
	struct xs_cq *cq;
	struct xs_qp *qp;
	uint8_t *buf;   /* [0]: receive, [1]: send, [2]: RDMA target/source, [3]: READ back */
	struct xs_mr *mr;
	uint32_t size;
};

static uint8_t *slot(struct conn *c, int i) { return c->buf + (size_t)i * c->size; }

static int die(const char *what, int err)
{
	fprintf(stderr, "xs-rcping: %s: %s\n", what, xs_strerror(err < 0 ? err : -err));
	return 1;
}

static int setup(struct conn *c, uint32_t size)
{
	struct xs_qp_attr qa = { 0 };

	c->size = size;
	c->pd = xs_pd_alloc(c->f);
	if (!c->pd)
		return -errno;
	c->cq = xs_cq_create(c->f, 64);
	if (!c->cq)
		return -errno;
	qa.pd = c->pd;
	qa.send_cq = c->cq;
	qa.recv_cq = c->cq;
	c->qp = xs_qp_create(c->f, &qa);
	if (!c->qp)
		return -errno;
	c->buf = calloc(4, size);
	if (!c->buf)
		return -ENOMEM;
	c->mr = xs_mr_reg(c->pd, c->buf, 4 * (size_t)size,
			  XS_ACCESS_LOCAL_WRITE | XS_ACCESS_REMOTE_WRITE | XS_ACCESS_REMOTE_READ);
	return c->mr ? 0 : -errno;
}

static void teardown(struct conn *c)
{
	xs_qp_destroy(c->qp);
	xs_mr_dereg(c->mr);
	xs_cq_destroy(c->cq);
	xs_pd_free(c->pd);
	free(c->buf);
	c->qp = NULL;
	c->mr = NULL;
	c->cq = NULL;
	c->pd = NULL;
	c->buf = NULL;
}

static int post_recv(struct conn *c)
{
	struct xs_sge sge = { (uint64_t)(uintptr_t)slot(c, 0), c->size, xs_mr_lkey(c->mr) };
	struct xs_recv_wr wr = { .wr_id = 1, .sg_list = &sge, .num_sge = 1 };

	return xs_qp_post_recv(c->qp, &wr);
}

static int post(struct conn *c, enum xs_wr_opcode op, int from, uint32_t len, uint32_t imm,
		uint64_t raddr, uint32_t rkey, uint64_t id)
{
	struct xs_sge sge = { (uint64_t)(uintptr_t)slot(c, from), len, xs_mr_lkey(c->mr) };
	struct xs_send_wr wr = {
		.wr_id = id, .opcode = op, .sg_list = &sge, .num_sge = 1,
		.flags = XS_SEND_SIGNALED, .imm_data = imm, .remote_addr = raddr, .rkey = rkey,
	};

	return xs_qp_post_send(c->qp, &wr);
}

/* Wait for one completion; -EIO (reported unless quiet) when it failed. */
static int next_wc_q(struct conn *c, struct xs_wc *wc, int ms, bool quiet)
{
	uint64_t dl = xs_now_ms() + (uint64_t)ms;

	for (;;) {
		struct pollfd p = { .fd = xs_cq_fd(c->cq), .events = POLLIN };
		uint64_t now;
		int n = xs_cq_poll(c->cq, wc, 1);

		if (n < 0)
			return n;
		if (n == 1) {
			if (wc->status != XS_WC_SUCCESS) {
				if (!quiet)
					fprintf(stderr, "xs-rcping: work request %" PRIu64 ": %s\n",
						wc->wr_id, xs_wc_status_str(wc->status));
				return -EIO;
			}
			return 0;
		}
		now = xs_now_ms();
		if (now >= dl)
			return -ETIMEDOUT;
		poll(&p, 1, (int)(dl - now));
	}
}

static int next_wc(struct conn *c, struct xs_wc *wc, int ms)
{
	return next_wc_q(c, wc, ms, false);
}

static int next_event(struct xs_fabric *f, struct xs_event *ev, int ms)
{
	return xs_fabric_wait_event(f, ev, ms);
}

static void fill(uint8_t *p, uint32_t n, uint32_t seed)
{
	for (uint32_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 131 + seed * 7 + (i >> 8));
}

/* ---------------------------------------------------------------- server */

static int serve_one(struct xs_fabric *f, struct xs_cm_request *req, uint32_t size)
{
	struct conn c = { .f = f };
	uint8_t rep[20];
	struct xs_event ev;
	struct xs_wc wc;
	int rc, served = 0;

	rc = setup(&c, size);
	if (rc < 0) {
		xs_cm_reject(req, XS_CM_REJ_CONSUMER, NULL, 0);
		return die("set up a QP", rc);
	}
	rc = post_recv(&c);
	if (rc < 0)
		goto out;
	memcpy(rep, MAGIC, 4);
	xs_put32(rep + 4, size);
	xs_put64(rep + 8, (uint64_t)(uintptr_t)slot(&c, 2));
	xs_put32(rep + 16, xs_mr_rkey(c.mr));
	rc = xs_qp_accept(c.qp, req, rep, sizeof(rep));
	if (rc < 0)
		goto out;
	rc = next_event(f, &ev, STEP_MS);
	if (rc < 0 || ev.type != XS_EV_ESTABLISHED || ev.qp != c.qp) {
		rc = rc < 0 ? rc : -ECONNABORTED;
		goto out;
	}
	printf("server: connection established (QP %u)\n", xs_qp_num(c.qp));
	fflush(stdout);
	/* echo every message back with its sequence number as immediate
	 * data until the client disconnects */
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = xs_cq_fd(c.cq), .events = POLLIN },
			{ .fd = xs_fabric_event_fd(f), .events = POLLIN },
		};
		int n = xs_cq_poll(c.cq, &wc, 1);

		if (n < 0) {
			rc = n;
			break;
		}
		if (n == 1) {
			if (wc.status != XS_WC_SUCCESS)
				continue; /* flushed at disconnect */
			if (wc.opcode == XS_WC_RECV) {
				memcpy(slot(&c, 1), slot(&c, 0), wc.byte_len);
				rc = post_recv(&c);
				if (rc == 0)
					rc = post(&c, XS_WR_SEND_WITH_IMM, 1, wc.byte_len,
						  (uint32_t)served++, 0, 0, 2);
				if (rc < 0)
					break;
			}
			continue;
		}
		if (xs_fabric_get_event(f, &ev) == 0) {
			if (ev.type == XS_EV_DISCONNECTED && ev.qp == c.qp) {
				printf("server: client disconnected after %d messages\n", served);
				rc = 0;
				break;
			}
			if (ev.type == XS_EV_CONNECT_REQUEST) /* one client at a time */
				xs_cm_reject(ev.req, XS_CM_REJ_CONSUMER, "busy", 4);
			continue;
		}
		poll(p, 2, 1000);
	}
out:
	teardown(&c);
	return rc < 0 ? die("serving a client", rc) : 0;
}

static int server(struct xs_fabric *f, uint64_t sid, int clients)
{
	struct xs_cm_listener *l = xs_cm_listen(f, sid);
	int failures = 0;

	if (!l)
		return die("listen", -errno);
	printf("server: listening on service ID 0x%016" PRIx64 "\n", sid);
	fflush(stdout);
	for (int served = 0; clients <= 0 || served < clients;) {
		struct xs_cm_req_info info;
		struct xs_event ev;
		int rc = next_event(f, &ev, -1);

		if (rc < 0)
			return die("wait for a client", rc);
		if (ev.type != XS_EV_CONNECT_REQUEST)
			continue;
		xs_cm_req_info(ev.req, &info);
		if (info.private_len < 8 || memcmp(info.private_data, MAGIC, 4) != 0 ||
		    xs_get32(info.private_data + 4) == 0 ||
		    xs_get32(info.private_data + 4) > MAX_SIZE) {
			printf("server: rejected a request without a valid xs-rcping header\n");
			xs_cm_reject(ev.req, XS_CM_REJ_CONSUMER, "bad", 3);
			continue;
		}
		failures += serve_one(f, ev.req, xs_get32(info.private_data + 4));
		served++;
	}
	xs_cm_listener_close(l);
	return failures ? 1 : 0;
}

/* ---------------------------------------------------------------- client */

static int client(struct xs_fabric *f, uint64_t sid, const struct xs_cm_dest *dest, int count,
		  uint32_t size, bool json, bool bad_rkey)
{
	struct conn c = { .f = f };
	uint8_t req[8];
	struct xs_event ev;
	struct xs_wc wc;
	uint64_t raddr, t_min = UINT64_MAX, t_max = 0, t_sum = 0, t0;
	uint32_t rkey;
	int rc;

	rc = setup(&c, size);
	if (rc < 0)
		return die("set up a QP", rc);
	memcpy(req, MAGIC, 4);
	xs_put32(req + 4, size);
	rc = post_recv(&c);
	if (rc < 0)
		return die("post a receive", rc);
	t0 = xs_now_us();
	rc = xs_qp_connect(c.qp, dest, sid, req, sizeof(req), STEP_MS);
	if (rc < 0)
		return die("connect", rc);
	rc = next_event(f, &ev, STEP_MS + 1000);
	if (rc < 0)
		return die("connect", rc);
	if (ev.type == XS_EV_REJECTED) {
		fprintf(stderr, "xs-rcping: connect: rejected (reason %u)\n", ev.reject_reason);
		return 1;
	}
	if (ev.type != XS_EV_ESTABLISHED)
		return die("connect", ev.status ? ev.status : -ECONNREFUSED);
	if (ev.private_len < 20 || memcmp(ev.private_data, MAGIC, 4) != 0 ||
	    xs_get32(ev.private_data + 4) != size) {
		fprintf(stderr, "xs-rcping: the server's answer is not an xs-rcping REP\n");
		return 1;
	}
	raddr = xs_get64(ev.private_data + 8);
	rkey = xs_get32(ev.private_data + 16);
	if (!json)
		printf("connected in %.3f ms (QP %u)\n", (double)(xs_now_us() - t0) / 1000.0,
		       xs_qp_num(c.qp));

	for (int i = 0; i < count; i++) {
		bool sent = false, got = false;
		uint64_t t;

		fill(slot(&c, 1), size, (uint32_t)i);
		t = xs_now_us();
		rc = post(&c, XS_WR_SEND, 1, size, 0, 0, 0, 10);
		if (rc < 0)
			return die("send", rc);
		while (!sent || !got) {
			rc = next_wc(&c, &wc, STEP_MS);
			if (rc < 0)
				return die("ping-pong", rc);
			if (wc.opcode == XS_WC_SEND) {
				sent = true;
				continue;
			}
			if (wc.opcode != XS_WC_RECV || wc.byte_len != size || !wc.has_imm ||
			    wc.imm_data != (uint32_t)i ||
			    memcmp(slot(&c, 0), slot(&c, 1), size) != 0) {
				fprintf(stderr, "xs-rcping: echo %d differs (len %u imm %u)\n", i,
					wc.byte_len, wc.imm_data);
				return 1;
			}
			got = true;
			rc = post_recv(&c);
			if (rc < 0)
				return die("post a receive", rc);
		}
		t = xs_now_us() - t;
		t_min = XS_MIN(t_min, t);
		t_max = XS_MAX(t_max, t);
		t_sum += t;
	}

	fill(slot(&c, 2), size, 0xabcdu);
	rc = post(&c, XS_WR_RDMA_WRITE, 2, size, 0, raddr, rkey, 20);
	if (rc == 0)
		rc = next_wc(&c, &wc, STEP_MS);
	if (rc == 0)
		rc = post(&c, XS_WR_RDMA_READ, 3, size, 0, raddr, rkey, 21);
	if (rc == 0)
		rc = next_wc(&c, &wc, STEP_MS);
	if (rc < 0)
		return die("RDMA WRITE/READ", rc);
	if (memcmp(slot(&c, 2), slot(&c, 3), size) != 0) {
		fprintf(stderr, "xs-rcping: RDMA READ did not return what RDMA WRITE wrote\n");
		return 1;
	}
	if (bad_rkey) {
		/* the target must refuse a wrong rkey: remote access error, and
		 * the QP goes to the error state */
		rc = post(&c, XS_WR_RDMA_WRITE, 2, size, 0, raddr, rkey ^ 0x5a5a, 22);
		if (rc < 0)
			return die("RDMA WRITE with a wrong rkey", rc);
		rc = next_wc_q(&c, &wc, STEP_MS, true);
		if (rc != -EIO || wc.status != XS_WC_REM_ACCESS_ERR ||
		    xs_qp_state(c.qp) != XS_QPS_ERROR) {
			fprintf(stderr, "xs-rcping: RDMA WRITE with a wrong rkey: expected a remote "
				"access error and the QP in error, got %s (rc %d, QP state %d)\n",
				rc == -EIO ? xs_wc_status_str(wc.status) : "no error", rc,
				xs_qp_state(c.qp));
			return 1;
		}
		if (!json)
			printf("RDMA WRITE with a wrong rkey: %s, QP in error (as it must)\n",
			       xs_wc_status_str(wc.status));
	}
	xs_qp_disconnect(c.qp);
	while (next_event(f, &ev, STEP_MS) == 0 && !(ev.type == XS_EV_DISCONNECTED && ev.qp == c.qp))
		;
	if (json)
		printf("{\"backend\":\"%s\",\"size\":%u,\"count\":%d,\"rtt_us_min\":%" PRIu64
		       ",\"rtt_us_avg\":%.1f,\"rtt_us_max\":%" PRIu64 ",\"rdma_verified\":true}\n",
		       xs_fabric_backend(f), size, count, count ? t_min : 0,
		       count ? (double)t_sum / count : 0.0, t_max);
	else
		printf("%d round trips of %u bytes: min %" PRIu64 " us, avg %.1f us, max %" PRIu64
		       " us\nRDMA WRITE + READ of %u bytes: verified\n", count, size,
		       count ? t_min : 0, count ? (double)t_sum / count : 0.0, t_max, size);
	teardown(&c);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "fabric", required_argument, NULL, 'F' },
		{ "sid", required_argument, NULL, 'S' },
		{ "count", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 's' },
		{ "clients", required_argument, NULL, 'c' },
		{ "lid", required_argument, NULL, 'l' },
		{ "gid", required_argument, NULL, 'g' },
		{ "ip", required_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'j' },
		{ "bad-rkey", no_argument, NULL, 'b' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *spec = getenv("XS_FABRIC");
	struct xs_cm_dest dest = { 0 };
	uint64_t sid = DEFAULT_SID;
	int count = 10, clients = 0, c, rc;
	uint32_t size = 4096;
	bool json = false, bad_rkey = false;
	struct xs_fabric *f;
	char *end;

	xs_log_open("xs-rcping", XS_LOG_STDERR, XS_LOG_WARN);
	while ((c = getopt_long(argc, argv, "F:S:n:s:c:l:g:i:jbvh", lopts, NULL)) != -1) {
		switch (c) {
		case 'F': spec = optarg; break;
		case 'S': sid = strtoull(optarg, &end, 0); if (*end) goto usage; break;
		case 'n': count = atoi(optarg); if (count < 0) goto usage; break;
		case 's':
			size = (uint32_t)strtoul(optarg, &end, 0);
			if (*end || size == 0 || size > MAX_SIZE)
				goto usage;
			break;
		case 'c': clients = atoi(optarg); break;
		case 'l':
			dest.lid = (uint16_t)strtoul(optarg, &end, 0);
			if (*end || !dest.lid)
				goto usage;
			break;
		case 'g':
			if (inet_pton(AF_INET6, optarg, dest.gid) != 1)
				goto usage;
			dest.has_gid = true;
			break;
		case 'i': dest.ip = optarg; break;
		case 'j': json = true; break;
		case 'b': bad_rkey = true; break;
		case 'v': xs_log_set_level(XS_LOG_DEBUG); xs_log_set_debug("all"); break;
		case 'h':
		default: goto usage;
		}
	}
	if (optind != argc - 1 || (strcmp(argv[optind], "server") && strcmp(argv[optind], "client")))
		goto usage;
	if (!strcmp(argv[optind], "client") && !dest.lid && !dest.has_gid && !dest.ip) {
		fprintf(stderr, "xs-rcping: client needs --lid, --gid or --ip\n");
		goto usage;
	}
	f = xs_fabric_open(spec, NULL);
	if (!f) {
		fprintf(stderr, "xs-rcping: cannot open fabric '%s': %s\n", spec ? spec : "soft",
			strerror(errno));
		return 1;
	}
	rc = !strcmp(argv[optind], "server") ? server(f, sid, clients)
					     : client(f, sid, &dest, count, size, json, bad_rkey);
	xs_fabric_close(f);
	return rc;
usage:
	fprintf(stderr, "usage: xs-rcping [-F SPEC] [-S SID] [-c CLIENTS] server\n"
			"       xs-rcping [-F SPEC] [-S SID] [-n COUNT] [-s SIZE] [--json] [--bad-rkey] "
			"client --lid L | --gid G | --ip A\n");
	return 2;
}
