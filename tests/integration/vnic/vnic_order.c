/* SPDX-License-Identifier: MIT */
/*
 * vnic_order - plays a host whose data connect request reaches the
 * director's vNIC I/O module before its control request (what rdma_cm on
 * RoCE may do when a host sends both at once), on the soft fabric where the
 * order is ours to choose:
 *
 *   round 1: data connected and established first, then control;
 *   round 2: both requests sent back to back, data first, then waited for.
 *
 * In each round neither connection may be closed by the director (no
 * DISCONNECTED within 500 ms), START_RX must be answered at the first try,
 * and a frame sent on the data connection must reach the module (the
 * calling script checks the director's counters: frames from the host,
 * sessions started and closed, data_first).
 *
 * usage: vnic_order FABRIC_SPEC DIRECTOR_LID RESOURCE_ID
 * Prints one "ok: ..." line per check; exit 0 when all passed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xscore/common.h>
#include <xscore/fabric.h>
#include <xscore/vnic_wire.h>

#define BUF 2048
#define NRECV 16

static struct xs_fabric *f;
static struct xs_pd *pd;
static struct xs_mr *mr;
static struct xs_cq *cq;
static uint8_t mem[(NRECV * 2 + 4) * BUF];
static int fails;

#define CHECK(cond, ...)                                              \
	do {                                                          \
		if (cond) {                                           \
			printf("ok: " __VA_ARGS__);                   \
			printf("\n");                                 \
		} else {                                              \
			printf("FAIL: " __VA_ARGS__);                 \
			printf(" (%s:%d)\n", __FILE__, __LINE__);     \
			fails++;                                      \
		}                                                     \
	} while (0)

static struct xs_qp *qp_new(void)
{
	struct xs_qp_attr a = { .pd = pd, .send_cq = cq, .recv_cq = cq, .max_send_wr = 16,
				.max_recv_wr = NRECV, .max_sge = 1 };

	return xs_qp_create(f, &a);
}

static void post_recvs(struct xs_qp *qp, unsigned int base)
{
	unsigned int i;

	for (i = 0; i < NRECV; i++) {
		struct xs_sge sge = { (uintptr_t)(mem + (size_t)(base + i) * BUF), BUF,
				      xs_mr_lkey(mr) };
		struct xs_recv_wr rw = { (uint64_t)(base + i), &sge, 1 };

		xs_qp_post_recv(qp, &rw);
	}
}

static int connect_req(struct xs_qp *qp, uint16_t lid, uint64_t rid, uint16_t type)
{
	struct xs_vnic_cm_priv p = { .vid = rid, .qp_type = type, .max_ctrl_msg_size = 1024 };
	struct xs_cm_dest d = { .lid = lid };
	uint8_t priv[XS_VNIC_CM_PRIV_LEN];

	xs_vnic_cm_priv_encode(&p, priv, sizeof(priv));
	return xs_qp_connect(qp, &d, XS_VNIC_SERVICE_ID, priv, sizeof(priv), 3000);
}

/*
 * Collect fabric events for @ms milliseconds (or until both QPs are
 * established when @until_up): sets *cup / *dup on ESTABLISHED, counts any
 * other event on either QP in *bad (a close, a reject).
 */
static void events(struct xs_qp *cqp, struct xs_qp *dqp, int ms, bool until_up, bool *cup,
		   bool *dup, int *bad)
{
	uint64_t end = xs_now_ms() + (uint64_t)ms;
	struct xs_event ev;

	while (xs_now_ms() < end) {
		if (until_up && *cup && *dup)
			return;
		if (xs_fabric_wait_event(f, &ev, 50) < 0)
			continue;
		if (ev.qp != cqp && ev.qp != dqp)
			continue;
		if (ev.type == XS_EV_ESTABLISHED) {
			*(ev.qp == cqp ? cup : dup) = true;
		} else if (ev.type != XS_EV_PORT_CHANGE) {
			printf("   event %d on the %s QP\n", (int)ev.type,
			       ev.qp == cqp ? "control" : "data");
			(*bad)++;
		}
	}
}

static int send_raw(struct xs_qp *qp, int slot, const void *buf, size_t len)
{
	uint8_t *b = mem + (size_t)(NRECV * 2 + slot) * BUF;
	struct xs_sge sge = { (uintptr_t)b, (uint32_t)len, xs_mr_lkey(mr) };
	struct xs_send_wr wr = { .wr_id = 1000u + (unsigned)slot, .opcode = XS_WR_SEND,
				 .sg_list = &sge, .num_sge = 1, .flags = XS_SEND_SIGNALED };

	memcpy(b, buf, len);
	return xs_qp_post_send(qp, &wr);
}

/* Wait for a control message of @type on the control QP; every control
 * receive seen is posted again. */
static bool wait_ctrl(struct xs_qp *cqp, uint8_t type, int ms)
{
	uint64_t end = xs_now_ms() + (uint64_t)ms;

	while (xs_now_ms() < end) {
		struct xs_wc wc[8];
		int n = xs_cq_poll(cq, wc, 8), i;
		bool hit = false;

		for (i = 0; i < n; i++) {
			unsigned int idx = (unsigned int)wc[i].wr_id;
			struct xs_vnic_ctrl c;
			struct xs_sge sge;
			struct xs_recv_wr rw = { wc[i].wr_id, &sge, 1 };

			if (wc[i].opcode != XS_WC_RECV || wc[i].status != XS_WC_SUCCESS || idx >= NRECV)
				continue;
			if (xs_vnic_ctrl_decode(mem + (size_t)idx * BUF, wc[i].byte_len, &c) > 0 &&
			    c.type == type)
				hit = true;
			sge = (struct xs_sge){ (uintptr_t)(mem + (size_t)idx * BUF), BUF,
					       xs_mr_lkey(mr) };
			xs_qp_post_recv(cqp, &rw);
		}
		if (hit)
			return true;
		if (n == 0)
			usleep(5000);
	}
	return false;
}

static void round_trip(int round, uint16_t lid, uint64_t rid, bool back_to_back)
{
	struct xs_qp *cqp = qp_new(), *dqp = qp_new();
	/* a broadcast ARP-sized frame; the switch may drop it, the module
	 * counts it from the host first */
	uint8_t frame[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0x5e, 0x10, 0, 1,
			      0x08, 0x06 };
	struct xs_vnic_ctrl start = { .type = XS_VNIC_CTRL_START_RX };
	struct xs_wc wc[8];
	uint8_t b[64];
	bool cup = false, dup = false;
	int bad = 0, n;

	if (!cqp || !dqp) {
		CHECK(false, "round %d: QPs created", round);
		return;
	}
	post_recvs(cqp, 0);
	post_recvs(dqp, NRECV);
	if (back_to_back) {
		CHECK(connect_req(dqp, lid, rid, XS_VNIC_QP_DATA) == 0 &&
			      connect_req(cqp, lid, rid, XS_VNIC_QP_CONTROL) == 0,
		      "round %d: data then control connect requests sent back to back", round);
		events(cqp, dqp, 5000, true, &cup, &dup, &bad);
	} else {
		CHECK(connect_req(dqp, lid, rid, XS_VNIC_QP_DATA) == 0,
		      "round %d: data connect request sent first", round);
		events(cqp, dqp, 5000, true, &cup, &dup, &bad);
		CHECK(dup && !cup, "round %d: data connection established alone", round);
		CHECK(connect_req(cqp, lid, rid, XS_VNIC_QP_CONTROL) == 0,
		      "round %d: control connect request sent second", round);
		events(cqp, dqp, 5000, true, &cup, &dup, &bad);
	}
	CHECK(cup && dup && !bad, "round %d: both connections established (control %d, data %d, "
	      "%d other events)", round, cup, dup, bad);
	events(cqp, dqp, 500, false, &cup, &dup, &bad);
	CHECK(!bad, "round %d: no connection closed by the director in 500 ms (%d events)", round,
	      bad);
	n = xs_vnic_ctrl_encode(&start, b, sizeof(b));
	CHECK(n > 0 && send_raw(cqp, 0, b, (size_t)n) == 0 &&
		      wait_ctrl(cqp, XS_VNIC_CTRL_START_RX_RESPONSE, 3000),
	      "round %d: START_RX answered at the first try", round);
	CHECK(send_raw(dqp, 1, frame, sizeof(frame)) == 0, "round %d: a frame sent on the data "
	      "connection", round);
	events(cqp, dqp, 300, false, &cup, &dup, &bad);
	CHECK(!bad, "round %d: still no connection closed (%d events)", round, bad);
	xs_qp_disconnect(cqp);
	xs_qp_disconnect(dqp);
	xs_qp_destroy(cqp);
	xs_qp_destroy(dqp);
	/* let the director see this attempt end before the next begins */
	usleep(500 * 1000);
	while (xs_cq_poll(cq, wc, 8) > 0)
		;
}

int main(int argc, char **argv)
{
	struct xs_fabric_opts fo = { .size = sizeof(fo), .port_name = "vnic-order" };
	uint16_t lid;
	uint64_t rid;

	if (argc != 4) {
		fprintf(stderr, "usage: vnic_order FABRIC_SPEC DIRECTOR_LID RESOURCE_ID\n");
		return 2;
	}
	lid = (uint16_t)strtoul(argv[2], NULL, 0);
	rid = strtoull(argv[3], NULL, 0);
	f = xs_fabric_open(argv[1], &fo);
	if (!f) {
		perror("vnic_order: fabric");
		return 1;
	}
	pd = xs_pd_alloc(f);
	mr = xs_mr_reg(pd, mem, sizeof(mem), XS_ACCESS_LOCAL_WRITE);
	cq = xs_cq_create(f, 256);
	if (!pd || !mr || !cq)
		return 1;
	round_trip(1, lid, rid, false);
	round_trip(2, lid, rid, true);
	xs_cq_destroy(cq);
	xs_mr_dereg(mr);
	xs_pd_free(pd);
	xs_fabric_close(f);
	printf("vnic_order: %d failed\n", fails);
	return fails ? 1 : 0;
}
