/* SPDX-License-Identifier: MIT */
/*
 * vnic_poke - plays a misbehaving host against the director's vNIC I/O
 * module on the soft fabric: malformed CM private data and an unknown vNIC
 * (both must be rejected), then a good control + data connection carrying
 * malformed control messages and malformed frames, each followed by proof
 * that the module still serves the vNIC (START_RX answered, HEART_BEAT
 * echoed). The counters the director keeps are checked by the calling
 * script through xcm.
 *
 * usage: vnic_poke FABRIC_SPEC DIRECTOR_LID RESOURCE_ID
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

/* Connect with raw private data; returns the event type that ended it. */
static int connect_raw(struct xs_qp *qp, uint16_t lid, const void *priv, size_t len)
{
	struct xs_cm_dest d = { .lid = lid };
	struct xs_event ev;
	int rc = xs_qp_connect(qp, &d, XS_VNIC_SERVICE_ID, priv, len, 3000);

	if (rc < 0)
		return rc;
	for (;;) {
		rc = xs_fabric_wait_event(f, &ev, 5000);
		if (rc < 0)
			return rc;
		if (ev.qp == qp && ev.type != XS_EV_PORT_CHANGE)
			return (int)ev.type;
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

static int send_ctrl(struct xs_qp *qp, uint8_t type)
{
	struct xs_vnic_ctrl c = { .type = type };
	uint8_t b[64];
	int n = xs_vnic_ctrl_encode(&c, b, sizeof(b));

	return n < 0 ? n : send_raw(qp, 0, b, (size_t)n);
}

/* Wait for a control message of @type on the control QP (others skipped). */
static bool wait_ctrl(struct xs_qp *cqp, uint8_t type, int ms)
{
	uint64_t end = xs_now_ms() + (uint64_t)ms;

	while (xs_now_ms() < end) {
		struct xs_wc wc[8];
		int n = xs_cq_poll(cq, wc, 8), i;

		for (i = 0; i < n; i++) {
			struct xs_vnic_ctrl c;
			unsigned int idx = (unsigned int)wc[i].wr_id;
			struct xs_sge sge;
			struct xs_recv_wr rw = { wc[i].wr_id, &sge, 1 };

			if (wc[i].opcode != XS_WC_RECV || wc[i].status != XS_WC_SUCCESS || idx >= NRECV)
				continue;
			if (xs_vnic_ctrl_decode(mem + (size_t)idx * BUF, wc[i].byte_len, &c) > 0 &&
			    c.type == type) {
				sge = (struct xs_sge){ (uintptr_t)(mem + (size_t)idx * BUF), BUF,
						       xs_mr_lkey(mr) };
				xs_qp_post_recv(cqp, &rw);
				return true;
			}
			sge = (struct xs_sge){ (uintptr_t)(mem + (size_t)idx * BUF), BUF,
					       xs_mr_lkey(mr) };
			xs_qp_post_recv(cqp, &rw);
		}
		if (n == 0)
			usleep(5000);
	}
	return false;
}

int main(int argc, char **argv)
{
	struct xs_vnic_cm_priv p = { 0 };
	struct xs_fabric_opts fo = { .size = sizeof(fo), .port_name = "vnic-poke" };
	uint8_t priv[XS_VNIC_CM_PRIV_LEN];
	struct xs_qp *cqp, *dqp, *bad;
	uint16_t lid;
	uint64_t rid;
	int i, rc;

	if (argc != 4) {
		fprintf(stderr, "usage: vnic_poke FABRIC_SPEC DIRECTOR_LID RESOURCE_ID\n");
		return 2;
	}
	lid = (uint16_t)strtoul(argv[2], NULL, 0);
	rid = strtoull(argv[3], NULL, 0);
	f = xs_fabric_open(argv[1], &fo);
	if (!f) {
		perror("vnic_poke: fabric");
		return 1;
	}
	pd = xs_pd_alloc(f);
	mr = xs_mr_reg(pd, mem, sizeof(mem), XS_ACCESS_LOCAL_WRITE);
	cq = xs_cq_create(f, 256);
	if (!pd || !mr || !cq)
		return 1;

	/* 1. malformed private data: qp_type 7 */
	memset(priv, 0, sizeof(priv));
	priv[9] = 7;
	priv[11] = 64;
	bad = qp_new();
	rc = connect_raw(bad, lid, priv, sizeof(priv));
	CHECK(rc == XS_EV_REJECTED, "malformed CM private data rejected (event %d)", rc);
	xs_qp_destroy(bad);
	/* 2. private data too short */
	bad = qp_new();
	rc = connect_raw(bad, lid, priv, 5);
	CHECK(rc == XS_EV_REJECTED, "5-byte CM private data rejected (event %d)", rc);
	xs_qp_destroy(bad);
	/* 3. a vNIC the director does not know */
	p.vid = rid ^ 0x5a5a5a5a00000000ull;
	p.qp_type = XS_VNIC_QP_CONTROL;
	p.max_ctrl_msg_size = 1024;
	xs_vnic_cm_priv_encode(&p, priv, sizeof(priv));
	bad = qp_new();
	rc = connect_raw(bad, lid, priv, sizeof(priv));
	CHECK(rc == XS_EV_REJECTED, "unknown vNIC id rejected (event %d)", rc);
	xs_qp_destroy(bad);

	/* 4. a good control + data connection */
	cqp = qp_new();
	dqp = qp_new();
	for (i = 0; i < NRECV; i++) {
		struct xs_sge sge = { (uintptr_t)(mem + (size_t)i * BUF), BUF, xs_mr_lkey(mr) };
		struct xs_recv_wr rw = { (uint64_t)i, &sge, 1 };
		struct xs_sge sge2 = { (uintptr_t)(mem + (size_t)(NRECV + i) * BUF), BUF,
				       xs_mr_lkey(mr) };
		struct xs_recv_wr rw2 = { (uint64_t)(NRECV + i), &sge2, 1 };

		xs_qp_post_recv(cqp, &rw);
		xs_qp_post_recv(dqp, &rw2);
	}
	p.vid = rid;
	xs_vnic_cm_priv_encode(&p, priv, sizeof(priv));
	rc = connect_raw(cqp, lid, priv, sizeof(priv));
	CHECK(rc == XS_EV_ESTABLISHED, "control connection accepted (event %d)", rc);
	p.qp_type = XS_VNIC_QP_DATA;
	xs_vnic_cm_priv_encode(&p, priv, sizeof(priv));
	rc = connect_raw(dqp, lid, priv, sizeof(priv));
	CHECK(rc == XS_EV_ESTABLISHED, "data connection accepted (event %d)", rc);

	/* 5. three malformed control messages, then START_RX still answered */
	{
		static const uint8_t runt[3] = { 18, 0, 0 };
		static const uint8_t badtype[8] = { 99, 0, 0, 8, 0, 0, 0, 0 };
		static const uint8_t badlen[8] = { 18, 0, 0, 200, 0, 0, 0, 0 };

		send_raw(cqp, 1, runt, sizeof(runt));
		send_raw(cqp, 2, badtype, sizeof(badtype));
		send_raw(cqp, 3, badlen, sizeof(badlen));
	}
	send_ctrl(cqp, XS_VNIC_CTRL_START_RX);
	CHECK(wait_ctrl(cqp, XS_VNIC_CTRL_START_RX_RESPONSE, 3000),
	      "START_RX answered after three malformed control messages");

	/* 6. malformed frames on the data QP: 5 bytes, and a tagged runt */
	{
		static const uint8_t tiny[5] = { 1, 2, 3, 4, 5 };
		uint8_t tagged[16] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x81, 0 };

		send_raw(dqp, 1, tiny, sizeof(tiny));
		send_raw(dqp, 2, tagged, sizeof(tagged));
	}
	send_ctrl(cqp, XS_VNIC_CTRL_HEART_BEAT);
	CHECK(wait_ctrl(cqp, XS_VNIC_CTRL_HEART_BEAT, 3000),
	      "HEART_BEAT echoed after malformed frames");

	xs_qp_disconnect(cqp);
	xs_qp_disconnect(dqp);
	xs_qp_destroy(cqp);
	xs_qp_destroy(dqp);
	xs_cq_destroy(cq);
	xs_mr_dereg(mr);
	xs_pd_free(pd);
	xs_fabric_close(f);
	printf("vnic_poke: %d failed\n", fails);
	return fails ? 1 : 0;
}
