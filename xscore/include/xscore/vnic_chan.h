/* SPDX-License-Identifier: MIT */
/*
 * xscore/vnic_chan.h - the sending halves of a vNIC's two RC connections,
 * shared by both ends (the host's xsvnic module and the director's I/O
 * module), so that the protocol's bookkeeping is written once:
 *
 *   - work request ids: connection generation, kind and slot in one u64, so
 *     a completion of an earlier connection (a flush) is recognised and
 *     ignored;
 *   - the control sender: a few fixed send slots of XS_VNIC_CTRL_MAX_LEN
 *     bytes in registered memory; a message is encoded into a free slot and
 *     posted as a signaled SEND whose completion frees the slot;
 *   - the data send ring: a FIFO of slots. RC completes sends in posting
 *     order, so only every sig_every-th send (and every one while the ring
 *     runs low) is signaled and its completion frees it and all before it.
 *
 * Nothing here allocates or blocks; the caller owns the memory and the QP.
 */
#ifndef XSCORE_VNIC_CHAN_H
#define XSCORE_VNIC_CHAN_H

#include <stdbool.h>
#include <stdint.h>

#include <xscore/fabric.h>
#include <xscore/vnic_wire.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ wr_id */
enum xs_vnic_wr_kind {
	XS_VNIC_WR_DRECV = 1,
	XS_VNIC_WR_DSEND,
	XS_VNIC_WR_CRECV,
	XS_VNIC_WR_CSEND,
};
#define XS_VNIC_WR_IDX_MASK 0xffffffu

/* generation << 32 | kind << 24 | index (24 bits) */
static inline uint64_t xs_vnic_wr_id(uint32_t gen, enum xs_vnic_wr_kind kind, uint32_t idx)
{
	return ((uint64_t)gen << 32) | ((uint64_t)kind << 24) | (idx & XS_VNIC_WR_IDX_MASK);
}
static inline uint32_t xs_vnic_wr_gen(uint64_t wr_id) { return (uint32_t)(wr_id >> 32); }
static inline unsigned int xs_vnic_wr_kind(uint64_t wr_id)
{
	return (unsigned int)(wr_id >> 24) & 0xffu;
}
static inline uint32_t xs_vnic_wr_idx(uint64_t wr_id)
{
	return (uint32_t)wr_id & XS_VNIC_WR_IDX_MASK;
}

/* ------------------------------------------------------ control sender */
#define XS_VNIC_CTRL_TX_MAX 32   /* slots at most (a bit each in .busy) */

struct xs_vnic_ctrl_tx {
	struct xs_qp *qp;     /* NULL while there is no connection */
	uint8_t *slots;       /* n * XS_VNIC_CTRL_MAX_LEN bytes inside the MR */
	uint32_t lkey;
	unsigned int n;
	uint32_t gen;         /* the connection's generation, in every wr_id */
	uint32_t busy;        /* bit i: slot i posted and not yet completed */
	uint64_t sent;        /* messages posted */
};

/* @slots: @n (1..32) slots of XS_VNIC_CTRL_MAX_LEN bytes registered with
 * @lkey. Starts without a connection. -EINVAL for a bad @n. */
int xs_vnic_ctrl_tx_init(struct xs_vnic_ctrl_tx *t, uint8_t *slots, uint32_t lkey,
			 unsigned int n);
/* A connection (@qp, generation @gen) takes over; NULL: none. Every slot is
 * free afterwards (a previous connection's sends were flushed). */
void xs_vnic_ctrl_tx_attach(struct xs_vnic_ctrl_tx *t, struct xs_qp *qp, uint32_t gen);
/*
 * Encode @c into a free slot and post it, signaled. 0; -ENOTCONN without a
 * connection; -ENOBUFS when every slot is in flight; the encoder's error
 * for a message the wire cannot carry; xs_qp_post_send's error (the slot
 * stays free).
 */
int xs_vnic_ctrl_tx_send(struct xs_vnic_ctrl_tx *t, const struct xs_vnic_ctrl *c);
/* The completion (any status) of slot @idx of generation @gen: the slot is
 * free again. Other generations and unknown slots are ignored. */
void xs_vnic_ctrl_tx_done(struct xs_vnic_ctrl_tx *t, uint32_t gen, uint32_t idx);
/* Slots in flight. */
unsigned int xs_vnic_ctrl_tx_busy(const struct xs_vnic_ctrl_tx *t);

/* ------------------------------------------------------- data send ring */
struct xs_vnic_sring {
	uint32_t n;           /* slots */
	uint32_t sig_every;   /* signal one send in this many */
	uint32_t head, tail;  /* absolute counters: head = oldest unfinished */
};

void xs_vnic_sring_init(struct xs_vnic_sring *r, uint32_t n, uint32_t sig_every);
/* Forget everything in flight (a connection ended: its sends were flushed). */
static inline void xs_vnic_sring_reset(struct xs_vnic_sring *r) { r->head = r->tail = 0; }
static inline uint32_t xs_vnic_sring_free(const struct xs_vnic_sring *r)
{
	return r->n - (r->tail - r->head);
}
/* Slot index of the next send (and of the one @ahead after it). */
static inline uint32_t xs_vnic_sring_slot(const struct xs_vnic_sring *r, uint32_t ahead)
{
	return (r->tail + ahead) % r->n;
}
/* The wr_id index of the next send: the tail counter's low 24 bits. */
static inline uint32_t xs_vnic_sring_wr_idx(const struct xs_vnic_sring *r)
{
	return r->tail & XS_VNIC_WR_IDX_MASK;
}
/* Whether the next send must be signaled. */
bool xs_vnic_sring_signal(const struct xs_vnic_sring *r);
/* The next send was posted. */
static inline void xs_vnic_sring_posted(struct xs_vnic_sring *r) { r->tail++; }
/* A signaled send with wr_id index @idx completed: it and every send before
 * it are done. An index outside what is in flight is ignored. */
void xs_vnic_sring_done(struct xs_vnic_sring *r, uint32_t idx);

/* ------------------------------------------------- received data messages */
/*
 * A message from a data QP is one frame (with TSO negotiated it starts with
 * the TSO prefix, format bits 01 or 11) or, where batching was negotiated
 * that way (@batching), a batching container (format bits 00). Call @fn for
 * each frame, in order, with what precedes it in the buffer free to be
 * overwritten (at least 4 bytes: an entry header, or the caller's headroom).
 * Returns 1 for a container, 0 for a single message, or the container's
 * decode error after the frames before the fault were handed out.
 */
typedef void (*xs_vnic_frame_fn)(void *arg, uint8_t *frame, size_t len);
int xs_vnic_msg_frames(uint8_t *msg, size_t len, bool batching, xs_vnic_frame_fn fn, void *arg);

#ifdef __cplusplus
}
#endif

#endif /* XSCORE_VNIC_CHAN_H */
