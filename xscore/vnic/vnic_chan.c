/* SPDX-License-Identifier: MIT */
/*
 * vnic_chan.c - the sending halves of a vNIC's control and data RC
 * connections, shared by the host module and the director's I/O module.
 * See xscore/vnic_chan.h.
 */
#include <errno.h>
#include <string.h>

#include <xscore/vnic_chan.h>

int xs_vnic_ctrl_tx_init(struct xs_vnic_ctrl_tx *t, uint8_t *slots, uint32_t lkey,
			 unsigned int n)
{
	if (!t || !slots || n == 0 || n > XS_VNIC_CTRL_TX_MAX)
		return -EINVAL;
	memset(t, 0, sizeof(*t));
	t->slots = slots;
	t->lkey = lkey;
	t->n = n;
	return 0;
}

void xs_vnic_ctrl_tx_attach(struct xs_vnic_ctrl_tx *t, struct xs_qp *qp, uint32_t gen)
{
	t->qp = qp;
	t->gen = gen;
	t->busy = 0;
}

int xs_vnic_ctrl_tx_send(struct xs_vnic_ctrl_tx *t, const struct xs_vnic_ctrl *c)
{
	struct xs_send_wr wr = { 0 };
	struct xs_sge sge;
	unsigned int i;
	uint8_t *buf;
	int len, rc;

	if (!t->qp)
		return -ENOTCONN;
	for (i = 0; i < t->n && (t->busy & (1u << i)); i++)
		;
	if (i == t->n)
		return -ENOBUFS;
	buf = t->slots + (size_t)i * XS_VNIC_CTRL_MAX_LEN;
	len = xs_vnic_ctrl_encode(c, buf, XS_VNIC_CTRL_MAX_LEN);
	if (len < 0)
		return len;
	sge.addr = (uintptr_t)buf;
	sge.length = (uint32_t)len;
	sge.lkey = t->lkey;
	wr.wr_id = xs_vnic_wr_id(t->gen, XS_VNIC_WR_CSEND, i);
	wr.opcode = XS_WR_SEND;
	wr.sg_list = &sge;
	wr.num_sge = 1;
	wr.flags = XS_SEND_SIGNALED;
	rc = xs_qp_post_send(t->qp, &wr);
	if (rc < 0)
		return rc;
	t->busy |= 1u << i;
	t->sent++;
	return 0;
}

void xs_vnic_ctrl_tx_done(struct xs_vnic_ctrl_tx *t, uint32_t gen, uint32_t idx)
{
	if (gen == t->gen && idx < t->n)
		t->busy &= ~(1u << idx);
}

unsigned int xs_vnic_ctrl_tx_busy(const struct xs_vnic_ctrl_tx *t)
{
	return (unsigned int)__builtin_popcount(t->busy);
}

void xs_vnic_sring_init(struct xs_vnic_sring *r, uint32_t n, uint32_t sig_every)
{
	r->n = n;
	r->sig_every = sig_every ? sig_every : 1;
	r->head = r->tail = 0;
}

bool xs_vnic_sring_signal(const struct xs_vnic_sring *r)
{
	return (r->tail + 1) % r->sig_every == 0 || xs_vnic_sring_free(r) <= r->sig_every;
}

int xs_vnic_msg_frames(uint8_t *msg, size_t len, bool batching, xs_vnic_frame_fn fn, void *arg)
{
	struct xs_vnic_batch_iter it;
	const uint8_t *f;
	size_t flen;
	int rc;

	if (!batching || len < XS_VNIC_BATCH_HDR_LEN || (msg[0] >> 6) != 0) {
		fn(arg, msg, len);
		return 0;
	}
	xs_vnic_batch_iter_init(&it, msg, len);
	while ((rc = xs_vnic_batch_next(&it, &f, &flen)) == 1)
		fn(arg, msg + (f - msg), flen);
	return rc < 0 ? rc : 1;
}

void xs_vnic_sring_done(struct xs_vnic_sring *r, uint32_t idx)
{
	uint32_t n = (idx - r->head) & XS_VNIC_WR_IDX_MASK;

	if (n < r->tail - r->head)
		r->head += n + 1;
}
