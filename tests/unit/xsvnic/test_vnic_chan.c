/* SPDX-License-Identifier: MIT */
/* test_vnic_chan.c - the vNIC connection helpers both ends share
 * (xscore/vnic_chan.h): control send slots and the data send ring, driven
 * through a recording fabric backend. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fabric_provider.h"
#include <xscore/vnic_chan.h>

/* a backend whose post_send records the work request (and can fail) */
static struct xs_send_wr posted[64];
static struct xs_sge posted_sge[64];   /* the caller's SGE lives on its stack */
static uint8_t posted_bytes[64][XS_VNIC_CTRL_MAX_LEN];
static int n_posted, fail_post;

static int rec_post_send(struct xs_qp *qp, const struct xs_send_wr *wr)
{
	(void)qp;
	if (fail_post)
		return fail_post;
	posted[n_posted] = *wr;
	posted_sge[n_posted] = wr->sg_list[0];
	posted[n_posted].sg_list = &posted_sge[n_posted];
	memcpy(posted_bytes[n_posted], (const void *)(uintptr_t)wr->sg_list[0].addr,
	       wr->sg_list[0].length);
	n_posted++;
	return 0;
}

static const struct xs_fabric_ops rec_ops = { .name = "rec", .post_send = rec_post_send };
static struct xs_fabric rec_fabric = { .ops = &rec_ops };
static struct xs_qp rec_qp = { .fabric = &rec_fabric, .attr = { .max_sge = 1 } };

static int reset(void **state)
{
	(void)state;
	n_posted = 0;
	fail_post = 0;
	return 0;
}

static void wr_id_fields(void **state)
{
	uint64_t id = xs_vnic_wr_id(7, XS_VNIC_WR_CSEND, 3);

	(void)state;
	assert_int_equal(id, (UINT64_C(7) << 32) | (UINT64_C(4) << 24) | 3);
	assert_int_equal(xs_vnic_wr_gen(id), 7);
	assert_int_equal(xs_vnic_wr_kind(id), XS_VNIC_WR_CSEND);
	assert_int_equal(xs_vnic_wr_idx(id), 3);
	/* the index keeps 24 bits; higher bits do not leak into the kind */
	id = xs_vnic_wr_id(1, XS_VNIC_WR_DSEND, 0x1234567u);
	assert_int_equal(xs_vnic_wr_kind(id), XS_VNIC_WR_DSEND);
	assert_int_equal(xs_vnic_wr_idx(id), 0x234567u);
}

static void ctrl_slots(void **state)
{
	static uint8_t mem[4 * XS_VNIC_CTRL_MAX_LEN];
	struct xs_vnic_ctrl hb = { .type = XS_VNIC_CTRL_HEART_BEAT };
	struct xs_vnic_ctrl_tx t;
	static const uint8_t hb_bytes[8] = { 34, 0, 0, 8, 0, 0, 0, 0 };

	(void)state;
	assert_int_equal(xs_vnic_ctrl_tx_init(&t, mem, 0x1234, 0), -EINVAL);
	assert_int_equal(xs_vnic_ctrl_tx_init(&t, mem, 0x1234, XS_VNIC_CTRL_TX_MAX + 1), -EINVAL);
	assert_int_equal(xs_vnic_ctrl_tx_init(&t, mem, 0x1234, 4), 0);
	/* no connection yet */
	assert_int_equal(xs_vnic_ctrl_tx_send(&t, &hb), -ENOTCONN);
	xs_vnic_ctrl_tx_attach(&t, &rec_qp, 9);
	for (int i = 0; i < 4; i++)
		assert_int_equal(xs_vnic_ctrl_tx_send(&t, &hb), 0);
	/* every slot in flight */
	assert_int_equal(xs_vnic_ctrl_tx_send(&t, &hb), -ENOBUFS);
	assert_int_equal(n_posted, 4);
	assert_int_equal(xs_vnic_ctrl_tx_busy(&t), 4);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(posted[i].wr_id, xs_vnic_wr_id(9, XS_VNIC_WR_CSEND, (uint32_t)i));
		assert_int_equal(posted[i].opcode, XS_WR_SEND);
		assert_true(posted[i].flags & XS_SEND_SIGNALED);
		assert_int_equal(posted[i].sg_list[0].length, 8);
		assert_memory_equal(posted_bytes[i], hb_bytes, 8);
	}
	/* a completion of another generation frees nothing; ours frees slot 2,
	 * which the next message takes */
	xs_vnic_ctrl_tx_done(&t, 8, 2);
	assert_int_equal(xs_vnic_ctrl_tx_send(&t, &hb), -ENOBUFS);
	xs_vnic_ctrl_tx_done(&t, 9, 2);
	xs_vnic_ctrl_tx_done(&t, 9, 77); /* no such slot: ignored */
	assert_int_equal(xs_vnic_ctrl_tx_busy(&t), 3);
	assert_int_equal(xs_vnic_ctrl_tx_send(&t, &hb), 0);
	assert_int_equal(xs_vnic_wr_idx(posted[4].wr_id), 2);
	assert_int_equal(t.sent, 5);
	/* a message the wire cannot carry is refused before posting */
	xs_vnic_ctrl_tx_done(&t, 9, 0);
	{
		struct xs_vnic_ctrl bad = { .type = XS_VNIC_CTRL_LINK_UP,
					    .u.link.speed = XS_VNIC_SPEED_N_CODES };

		assert_int_equal(xs_vnic_ctrl_tx_send(&t, &bad), -EINVAL);
	}
	assert_int_equal(n_posted, 5);
	/* a failed post leaves the slot free */
	fail_post = -ENOMEM;
	assert_int_equal(xs_vnic_ctrl_tx_send(&t, &hb), -ENOMEM);
	assert_int_equal(xs_vnic_ctrl_tx_busy(&t), 3);
	fail_post = 0;
	/* a new connection: every slot free, the new generation in the wr_id */
	xs_vnic_ctrl_tx_attach(&t, &rec_qp, 10);
	assert_int_equal(xs_vnic_ctrl_tx_busy(&t), 0);
	assert_int_equal(xs_vnic_ctrl_tx_send(&t, &hb), 0);
	assert_int_equal(posted[5].wr_id, xs_vnic_wr_id(10, XS_VNIC_WR_CSEND, 0));
	xs_vnic_ctrl_tx_attach(&t, NULL, 11);
	assert_int_equal(xs_vnic_ctrl_tx_send(&t, &hb), -ENOTCONN);
}

static void send_ring(void **state)
{
	struct xs_vnic_sring r;
	int signaled = 0;

	(void)state;
	xs_vnic_sring_init(&r, 64, 16);
	assert_int_equal(xs_vnic_sring_free(&r), 64);
	/* 40 sends: the 16th and 32nd are signaled */
	for (int i = 0; i < 40; i++) {
		assert_int_equal(xs_vnic_sring_slot(&r, 0), (uint32_t)i);
		if (xs_vnic_sring_signal(&r)) {
			signaled++;
			assert_true(i == 15 || i == 31);
		}
		xs_vnic_sring_posted(&r);
	}
	assert_int_equal(signaled, 2);
	assert_int_equal(xs_vnic_sring_free(&r), 24);
	/* the completion of send 15 frees sends 0..15 */
	xs_vnic_sring_done(&r, 15);
	assert_int_equal(xs_vnic_sring_free(&r), 40);
	/* an index already done, or not yet posted, changes nothing */
	xs_vnic_sring_done(&r, 3);
	xs_vnic_sring_done(&r, 45);
	assert_int_equal(xs_vnic_sring_free(&r), 40);
	/* low on slots: every send signaled */
	while (xs_vnic_sring_free(&r) > 16)
		xs_vnic_sring_posted(&r);
	assert_true(xs_vnic_sring_signal(&r));
	assert_int_equal(xs_vnic_sring_slot(&r, 1), (r.tail + 1) % 64);
	/* the last one completes: the ring is empty */
	xs_vnic_sring_done(&r, xs_vnic_sring_wr_idx(&r) - 1);
	assert_int_equal(xs_vnic_sring_free(&r), 64);
	xs_vnic_sring_posted(&r);
	xs_vnic_sring_reset(&r);
	assert_int_equal(xs_vnic_sring_free(&r), 64);
	assert_int_equal(xs_vnic_sring_slot(&r, 0), 0);
}

/* what xs_vnic_msg_frames handed out */
static uint8_t got[4][64];
static size_t got_len[4];
static int n_got;

static void collect(void *arg, uint8_t *frame, size_t len)
{
	(void)arg;
	if (n_got < 4 && len <= sizeof(got[0])) {
		memcpy(got[n_got], frame, len);
		got_len[n_got] = len;
	}
	n_got++;
}

static void msg_frames(void **state)
{
	/* a single frame behind a TSO prefix (format 01) */
	uint8_t one[20] = { 0x50, 0, 0, 0, 0xaa, 0xbb };
	uint8_t box[128];
	static const uint8_t f1[18] = { 0x40, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14 };
	static const uint8_t f2[21] = { 0x40, 0, 0, 0, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30,
					31, 32, 33, 34, 35, 36, 37 };
	struct xs_vnic_batch_builder b;
	int len;

	(void)state;
	n_got = 0;
	assert_int_equal(xs_vnic_msg_frames(one, sizeof(one), true, collect, NULL), 0);
	assert_int_equal(n_got, 1);
	assert_int_equal(got_len[0], sizeof(one));
	assert_memory_equal(got[0], one, sizeof(one));

	/* a container of two entries: each handed out whole, in order */
	xs_vnic_batch_builder_init(&b, box, sizeof(box));
	assert_int_equal(xs_vnic_batch_add(&b, f1, sizeof(f1)), 0);
	assert_int_equal(xs_vnic_batch_add(&b, f2, sizeof(f2)), 0);
	len = xs_vnic_batch_finish(&b);
	assert_true(len > 0);
	n_got = 0;
	assert_int_equal(xs_vnic_msg_frames(box, (size_t)len, true, collect, NULL), 1);
	assert_int_equal(n_got, 2);
	assert_int_equal(got_len[0], sizeof(f1));
	assert_memory_equal(got[0], f1, sizeof(f1));
	assert_int_equal(got_len[1], sizeof(f2));
	assert_memory_equal(got[1], f2, sizeof(f2));

	/* without batching negotiated the same bytes are one message */
	n_got = 0;
	assert_int_equal(xs_vnic_msg_frames(box, (size_t)len, false, collect, NULL), 0);
	assert_int_equal(n_got, 1);
	assert_int_equal(got_len[0], (size_t)len);

	/* cut inside the second entry: the first frame still goes, then the error */
	n_got = 0;
	assert_int_equal(xs_vnic_msg_frames(box, (size_t)len - 8, true, collect, NULL), -EMSGSIZE);
	assert_int_equal(n_got, 1);
	assert_memory_equal(got[0], f1, sizeof(f1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(wr_id_fields),
		cmocka_unit_test_setup(ctrl_slots, reset),
		cmocka_unit_test(send_ring),
		cmocka_unit_test(msg_frames),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
