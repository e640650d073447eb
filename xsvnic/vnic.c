/* SPDX-License-Identifier: MIT */
/*
 * vnic.c - the vNIC ULP module: TAP interface + control/data RC connections
 * to the director's vNIC I/O module. See include/xsvnic/vnic.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <xscore/common.h>
#include <xscore/log.h>
#include <xscore/xsmp_ulp.h>
#include <xscore/vnic_chan.h>
#include <xscore/vnic_wire.h>

#include "xsvnic/tap.h"
#include "xsvnic/vnic.h"

#define VLOG "xsvnic"

#define N_DRECV 64
#define N_DSEND 64
#define N_CRECV 8
#define N_CSEND 8
#define DBUF (XSVNIC_FRAME_BUF + 64)
#define HEADROOM 16   /* before a received frame: room to insert a VLAN tag */
#define CBUF XS_VNIC_CTRL_MAX_LEN

#define SIG_EVERY 16           /* one data send in this many is signaled */
#define BATCH_MAX_ENTRY 2048   /* frames (with prefix) up to this size are batched */

struct xsvnic_mod {
	struct xs_host *host;
	struct xs_loop *loop;
	struct xs_fabric *fabric;
	struct xs_pd *pd;
	struct xsvnic_mod_opts o;
	struct xsvnic_mcast_watch *mw;
	struct vnic *vnics;
};

struct vnic {
	struct xsvnic_mod *m;
	struct xs_ulp_dev *dev;
	struct vnic *next;
	struct xsvnic_tap *tap;
	int tap_fd;
	bool tap_paused;
	uint8_t *mem;
	size_t mem_len;
	struct xs_mr *mr;
	struct xs_cq *cq, *ccq;       /* data QP's, control QP's: a poll of one
				       * reads only its own QP's socket */
	struct xs_qp *cqp, *dqp;      /* control, data */
	bool cqp_up, dqp_up;
	/* the data QP is connected once the control QP is established (the
	 * I/O module then always sees the control request first) */
	struct xs_cm_dest dest;
	uint8_t dpriv[XS_VNIC_CM_PRIV_LEN];
	uint32_t gen;
	bool tso;                     /* TSO prefix on the data QP (negotiated) */
	bool txbat;                   /* small frames batched in one SEND */
	bool rxbat;                   /* the director may batch towards us */
	bool bat_open;                /* a batch is being filled in slot dsend_tail */
	struct xs_vnic_batch_builder bb;
	enum xsvnic_state state;
	bool link_up;
	uint32_t speed_mbps;
	struct xs_vnic_sring ds;      /* data send slots (xscore/vnic_chan.h) */
	struct xs_vnic_ctrl_tx ctx;   /* control sender, attached while cqp_up */
	struct xs_timer *retry, *start_to, *hb;
	uint64_t last_ctrl_rx, last_ctrl_tx;
	bool mcast_dirty;
	bool mcast_sent_valid;   /* mcast_sent_sig is what the director holds */
	uint32_t mcast_sent_sig; /* FNV-1a of the last list sent */
	struct xsvnic_stats st;
};

static uint8_t *drecv_buf(struct vnic *v, unsigned int i) { return v->mem + (size_t)i * DBUF; }

static uint8_t *dsend_buf(struct vnic *v, unsigned int i)
{
	return v->mem + (size_t)(N_DRECV + i) * DBUF;
}
static uint8_t *crecv_buf(struct vnic *v, unsigned int i)
{
	return v->mem + (size_t)(N_DRECV + N_DSEND) * DBUF + (size_t)i * CBUF;
}
static uint8_t *csend_buf(struct vnic *v, unsigned int i)
{
	return crecv_buf(v, N_CRECV + i);
}

const char *xsvnic_state_str(enum xsvnic_state s)
{
	switch (s) {
	case XSVNIC_ST_IDLE: return "idle";
	case XSVNIC_ST_CONNECTING: return "connecting";
	case XSVNIC_ST_STARTING: return "starting";
	case XSVNIC_ST_UP: return "up";
	}
	return "?";
}

static void vnic_conn_lost(struct vnic *v, const char *why);

/* ------------------------------------------------------------ control */

static int ctrl_send(struct vnic *v, const struct xs_vnic_ctrl *c)
{
	int rc = xs_vnic_ctrl_tx_send(&v->ctx, c);

	if (rc < 0)
		return rc;
	v->st.ctrl_tx++;
	v->last_ctrl_tx = xs_loop_now(v->m->loop);
	return 0;
}

static void send_mcast(struct vnic *v)
{
	static uint8_t macs[XS_VNIC_MAX_MCAST + 1][XSVNIC_MAC_LEN];
	struct xs_vnic_ctrl c = { .type = XS_VNIC_CTRL_MULTICAST_LIST_SEND };
	bool all = false;
	int n;

	v->mcast_dirty = false;
	n = xsvnic_tap_get_mcast(v->tap, macs, XS_VNIC_MAX_MCAST + 1, &all);
	if (n < 0) {
		XS_WARN(VLOG, "%s: cannot read the multicast list: %s", v->dev->name, xs_strerror(n));
		return;
	}
	if (all || n > XS_VNIC_MAX_MCAST) {
		c.u.mcast.all_multi = true;
	} else {
		c.u.mcast.count = (uint16_t)n;
		memcpy(c.u.mcast.macs, macs, (size_t)n * XSVNIC_MAC_LEN);
	}
	uint32_t sig = 2166136261u;
	const uint8_t *p = (const uint8_t *)c.u.mcast.macs;

	sig = (sig ^ (c.u.mcast.all_multi ? 1u : 0u)) * 16777619u;
	sig = (sig ^ c.u.mcast.count) * 16777619u;
	for (size_t i = 0; i < (size_t)c.u.mcast.count * XSVNIC_MAC_LEN; i++)
		sig = (sig ^ p[i]) * 16777619u;
	if (v->mcast_sent_valid && sig == v->mcast_sent_sig)
		return; /* the director already has this list */
	if (ctrl_send(v, &c) == 0) {
		v->st.mcast_sent++;
		v->mcast_sent_sig = sig;
		v->mcast_sent_valid = true;
	} else {
		v->mcast_dirty = true;
	}
}

static void set_carrier(struct vnic *v, bool on)
{
	int rc = xsvnic_tap_set_carrier(v->tap, on);

	if (rc < 0)
		XS_WARN(VLOG, "%s: carrier %s: %s", v->dev->name, on ? "on" : "off", xs_strerror(rc));
}

static void handle_ctrl(struct vnic *v, const uint8_t *buf, size_t len)
{
	struct xs_vnic_ctrl c;
	int rc = xs_vnic_ctrl_decode(buf, len, &c);

	v->last_ctrl_rx = xs_loop_now(v->m->loop);
	if (rc < 0) {
		v->st.ctrl_bad++;
		XS_WARN(VLOG, "%s: malformed control message (%zu bytes): %s", v->dev->name, len,
			xs_strerror(rc));
		return;
	}
	v->st.ctrl_rx++;
	switch (c.type) {
	case XS_VNIC_CTRL_START_RX_RESPONSE:
		if (v->state != XSVNIC_ST_STARTING) {
			v->st.ctrl_bad++;
			break;
		}
		xs_timer_disarm(v->start_to);
		v->state = XSVNIC_ST_UP;
		v->st.connects++;
		v->speed_mbps = xs_vnic_speed_mbps(c.u.link.speed);
		v->dev->state = XS_RES_STATE_OPER_UP;
		xs_ulp_send(v->dev, XS_VNIC_OPER_UP);
		XS_INFO(VLOG, "%s: data path up (%u Mb/s)", v->dev->name, v->speed_mbps);
		v->mcast_sent_valid = false; /* a new connection: send the list again */
		send_mcast(v);
		if (v->tap_paused) {
			v->tap_paused = false;
			xs_loop_mod_fd(v->m->loop, v->tap_fd, XS_IO_IN);
		}
		break;
	case XS_VNIC_CTRL_LINK_UP:
		v->link_up = true;
		v->speed_mbps = xs_vnic_speed_mbps(c.u.link.speed);
		set_carrier(v, true);
		break;
	case XS_VNIC_CTRL_LINK_DOWN:
		v->link_up = false;
		set_carrier(v, false);
		break;
	case XS_VNIC_CTRL_HEART_BEAT:
		v->st.heartbeats_rx++;
		break;
	case XS_VNIC_CTRL_MULTICAST_LIST_RESPONSE:
		break;
	default:
		v->st.ctrl_bad++;
		XS_DEBUG(VLOG, "%s: control message %s ignored", v->dev->name,
			 xs_vnic_ctrl_type_name(c.type));
		break;
	}
}

/* ------------------------------------------------------------ data path */

/* Insert an 802.1Q tag in front of the EtherType; *frame has at least 4
 * bytes of headroom. Returns the new length. */
static int xsvnic_vlan_insert(uint8_t **frame, size_t len, uint16_t tci)
{
	uint8_t *f = *frame - 4;

	if (len < 14)
		return -EINVAL;
	memmove(f, *frame, 12);
	f[12] = 0x81;
	f[13] = 0x00;
	f[14] = (uint8_t)(tci >> 8);
	f[15] = (uint8_t)tci;
	*frame = f;
	return (int)len + 4;
}

static int post_drecv(struct vnic *v, unsigned int i)
{
	struct xs_sge sge = { (uintptr_t)drecv_buf(v, i) + HEADROOM, DBUF - HEADROOM,
			      xs_mr_lkey(v->mr) };
	struct xs_recv_wr wr = { xs_vnic_wr_id(v->gen, XS_VNIC_WR_DRECV, i), &sge, 1 };

	return xs_qp_post_recv(v->dqp, &wr);
}

static int post_crecv(struct vnic *v, unsigned int i)
{
	struct xs_sge sge = { (uintptr_t)crecv_buf(v, i), CBUF, xs_mr_lkey(v->mr) };
	struct xs_recv_wr wr = { xs_vnic_wr_id(v->gen, XS_VNIC_WR_CRECV, i), &sge, 1 };

	return xs_qp_post_recv(v->cqp, &wr);
}

/* Post data send slot dsend_tail: @len bytes from @off within it. */
static int post_dsend(struct vnic *v, size_t off, size_t len)
{
	struct xs_send_wr wr = { 0 };
	struct xs_sge sge;
	int rc;

	sge.addr = (uintptr_t)(dsend_buf(v, xs_vnic_sring_slot(&v->ds, 0)) + off);
	sge.length = (uint32_t)len;
	sge.lkey = xs_mr_lkey(v->mr);
	wr.wr_id = xs_vnic_wr_id(v->gen, XS_VNIC_WR_DSEND, xs_vnic_sring_wr_idx(&v->ds));
	wr.opcode = XS_WR_SEND;
	wr.sg_list = &sge;
	wr.num_sge = 1;
	if (xs_vnic_sring_signal(&v->ds))
		wr.flags = XS_SEND_SIGNALED;
	rc = xs_qp_post_send(v->dqp, &wr);
	if (rc < 0) {
		v->st.tx_ring_drops++;
		return rc;
	}
	xs_vnic_sring_posted(&v->ds);
	return 0;
}

/* Send the open batch (slot dsend_tail): a container, or its only frame
 * as it is. */
static void batch_flush(struct vnic *v)
{
	int len;

	if (!v->bat_open)
		return;
	v->bat_open = false;
	if (v->bb.frames == 1) {
		post_dsend(v, XS_VNIC_BATCH_HDR_LEN, xs_get32(v->bb.buf) & 0x3fffu);
		return;
	}
	len = xs_vnic_batch_finish(&v->bb);
	if (len > 0 && post_dsend(v, 0, (size_t)len) == 0)
		v->st.tx_batches++;
}

/* Open a batch in @buf (a send slot) whose first entry, @mlen bytes, is
 * already in place at offset 4. */
static void batch_open(struct vnic *v, uint8_t *buf, size_t mlen)
{
	size_t pad = (4 - (mlen & 3)) & 3;

	xs_vnic_batch_builder_init(&v->bb, buf, DBUF);
	xs_put32(buf, (uint32_t)mlen);
	memset(buf + XS_VNIC_BATCH_HDR_LEN + mlen, 0, pad);
	v->bb.last_hdr = 0;
	v->bb.off = XS_VNIC_BATCH_HDR_LEN + mlen + pad;
	v->bb.frames = 1;
	v->bat_open = true;
}

/*
 * Frames from the kernel to the director. Each is read straight into a send
 * slot at offset 8 (room for a batch entry header and the TSO prefix). With
 * TX batching negotiated, small frames read in one wake-up share one SEND
 * (a container); a large one is sent alone, after the batch, so order holds.
 */
static void tap_readable(struct xs_loop *loop, int fd, unsigned int events, void *arg)
{
	struct vnic *v = arg;
	struct virtio_net_hdr vh;
	int budget = 64;

	(void)loop, (void)fd, (void)events;
	while (budget-- > 0) {
		uint8_t *buf, *msg;
		size_t mlen;
		ssize_t n;
		int rc;

		if (v->state != XSVNIC_ST_UP) {
			static uint8_t sink[XSVNIC_FRAME_BUF];

			n = xsvnic_tap_read(v->tap, &vh, sink, sizeof(sink));
			if (n == -EAGAIN)
				return;
			if (n >= 0)
				v->st.tx_gap_drops++;
			continue;
		}
		if (xs_vnic_sring_free(&v->ds) < (v->bat_open ? 2u : 1u)) {
			if (v->bat_open) {
				batch_flush(v);
				continue;
			}
			/* wait for a send completion */
			v->tap_paused = true;
			xs_loop_mod_fd(v->m->loop, v->tap_fd, 0);
			return;
		}
		buf = dsend_buf(v, xs_vnic_sring_slot(&v->ds, v->bat_open ? 1 : 0));
		n = xsvnic_tap_read(v->tap, &vh, buf + 8, XSVNIC_FRAME_BUF);
		if (n == -EAGAIN)
			break;
		if (n < 0) {
			v->st.rx_errors++;
			continue;
		}
		if (n < XS_VNIC_MIN_FRAME && vh.gso_type == VIRTIO_NET_HDR_GSO_NONE) {
			memset(buf + 8 + n, 0, (size_t)(XS_VNIC_MIN_FRAME - n));
			n = XS_VNIC_MIN_FRAME;
		}
		msg = buf + 8;
		mlen = (size_t)n;
		if (v->tso) {
			struct xs_vnic_tso t;

			rc = xs_vnic_vnet_to_tso(&vh, buf + 8, (size_t)n, &t);
			if (rc == 0)
				rc = xs_vnic_tso_encode(&t, buf + 4, XS_VNIC_TSO_LEN);
			if (rc < 0) {
				v->st.tx_bad_offload++;
				continue;
			}
			msg = buf + 4;
			mlen += XS_VNIC_TSO_LEN;
		}
		v->st.tx_frames++;
		v->st.tx_bytes += (uint64_t)n;
		if (v->txbat && mlen <= BATCH_MAX_ENTRY) {
			if (!v->bat_open) {
				batch_open(v, buf, mlen);
			} else if (xs_vnic_batch_add(&v->bb, msg, mlen) == -ENOSPC) {
				batch_flush(v);       /* the read slot is now dsend_tail */
				batch_open(v, buf, mlen);
			}
			continue;
		}
		batch_flush(v);                       /* keeps the order */
		post_dsend(v, (size_t)(msg - buf), mlen);
	}
	batch_flush(v);
}

/* A frame (with its TSO prefix when negotiated) from the director into the
 * TAP; @msg has at least 4 bytes before it. */
static void deliver_one(struct vnic *v, uint8_t *msg, size_t len)
{
	struct virtio_net_hdr vh = { 0 }, *vhp = NULL;
	uint8_t *frame = msg;
	ssize_t w;
	int rc;

	if (v->tso) {
		struct xs_vnic_tso t;

		rc = xs_vnic_tso_decode(msg, len, &t);
		if (rc < 0) {
			v->st.rx_errors++;
			return;
		}
		frame = msg + rc;
		len -= (size_t)rc;
		if (t.has_vlan) {
			rc = xsvnic_vlan_insert(&frame, len, t.tci);
			if (rc < 0) {
				v->st.rx_errors++;
				return;
			}
			len = (size_t)rc;
		}
		if (t.csum || t.gso) {
			rc = xs_vnic_tso_to_vnet(&t, frame, len, &vh);
			if (rc < 0) {
				v->st.rx_errors++;
				return;
			}
			vhp = &vh;
		}
	}
	if (len < 14) {
		v->st.rx_errors++;
		return;
	}
	w = xsvnic_tap_write(v->tap, vhp, frame, len);
	if (w < 0) {
		v->st.rx_errors++;
		return;
	}
	v->st.rx_frames++;
	v->st.rx_bytes += len;
}

static void deliver_cb(void *arg, uint8_t *frame, size_t len) { deliver_one(arg, frame, len); }

/* A message from the director (HEADROOM bytes before it): one frame, or
 * with RX batching a container of frames (format bits 00 where a TSO prefix
 * has 01 or 11), each written to the TAP in order. A container that breaks
 * mid-way keeps the frames before the fault and counts an error. */
static void deliver(struct vnic *v, uint8_t *msg, size_t len)
{
	int rc = xs_vnic_msg_frames(msg, len, v->rxbat, deliver_cb, v);

	if (rc != 0)
		v->st.rx_batches++;
	if (rc < 0)
		v->st.rx_errors++;
}

static void poll_cq(struct vnic *v, struct xs_cq *cq)
{
	struct xs_wc wc[32];
	int n, k;

	while ((n = xs_cq_poll(cq, wc, 32)) > 0) {
		for (k = 0; k < n; k++) {
			uint32_t gen = xs_vnic_wr_gen(wc[k].wr_id);
			unsigned int kind = xs_vnic_wr_kind(wc[k].wr_id);
			uint32_t idx = xs_vnic_wr_idx(wc[k].wr_id);

			if (gen != v->gen)
				continue; /* a previous connection's flush */
			if (wc[k].status != XS_WC_SUCCESS) {
				if (wc[k].status != XS_WC_WR_FLUSH_ERR)
					v->st.rx_errors++;
				if (kind == XS_VNIC_WR_CSEND)
					xs_vnic_ctrl_tx_done(&v->ctx, gen, idx);
				vnic_conn_lost(v, xs_wc_status_str(wc[k].status));
				return;
			}
			switch (kind) {
			case XS_VNIC_WR_DRECV:
				if (idx >= N_DRECV)
					break;
				if (v->state == XSVNIC_ST_UP)
					deliver(v, drecv_buf(v, idx) + HEADROOM, wc[k].byte_len);
				else
					v->st.rx_errors++;
				if (post_drecv(v, idx) < 0) {
					vnic_conn_lost(v, "cannot post a receive");
					return;
				}
				break;
			case XS_VNIC_WR_DSEND:
				xs_vnic_sring_done(&v->ds, idx);
				if (v->tap_paused && v->state == XSVNIC_ST_UP) {
					v->tap_paused = false;
					xs_loop_mod_fd(v->m->loop, v->tap_fd, XS_IO_IN);
				}
				break;
			case XS_VNIC_WR_CRECV:
				if (idx >= N_CRECV)
					break;
				handle_ctrl(v, crecv_buf(v, idx), wc[k].byte_len);
				if (gen != v->gen)
					return; /* handle_ctrl dropped the connection */
				if (post_crecv(v, idx) < 0) {
					vnic_conn_lost(v, "cannot post a control receive");
					return;
				}
				break;
			case XS_VNIC_WR_CSEND:
				xs_vnic_ctrl_tx_done(&v->ctx, gen, idx);
				break;
			default:
				break;
			}
		}
	}
}

/* ------------------------------------------------------------ connections */

static void conn_teardown(struct vnic *v)
{
	if (v->cqp)
		xs_qp_destroy(v->cqp);
	if (v->dqp)
		xs_qp_destroy(v->dqp);
	v->cqp = v->dqp = NULL;
	v->cqp_up = v->dqp_up = false;
	v->gen++;
	xs_vnic_sring_reset(&v->ds);
	xs_vnic_ctrl_tx_attach(&v->ctx, NULL, v->gen);
	v->bat_open = false;
	if (v->tap_paused) {
		v->tap_paused = false;
		xs_loop_mod_fd(v->m->loop, v->tap_fd, XS_IO_IN);
	}
	xs_timer_disarm(v->start_to);
}

static void vnic_conn_lost(struct vnic *v, const char *why)
{
	bool was_up = v->state == XSVNIC_ST_UP;

	/* warn when a working connection breaks or the reason changes; a
	 * director that stays away is not logged every retry */
	if (was_up || strcmp(v->st.last_error, why))
		XS_WARN(VLOG, "%s: connection to the I/O module %s: %s", v->dev->name,
			was_up ? "lost" : "failed", why);
	snprintf(v->st.last_error, sizeof(v->st.last_error), "%s", why);
	conn_teardown(v);
	v->state = XSVNIC_ST_IDLE;
	if (was_up) {
		v->dev->state = XS_RES_STATE_OPER_DOWN;
		xs_ulp_send(v->dev, XS_VNIC_OPER_DOWN);
	}
	set_carrier(v, false);
	xs_timer_arm(v->retry, (uint64_t)v->m->o.reconnect_ms, 0);
}

static void cq_readable(struct xs_loop *loop, int fd, unsigned int events, void *arg)
{
	(void)loop, (void)fd, (void)events;
	poll_cq(arg, ((struct vnic *)arg)->cq);
}

static void ccq_readable(struct xs_loop *loop, int fd, unsigned int events, void *arg)
{
	(void)loop, (void)fd, (void)events;
	poll_cq(arg, ((struct vnic *)arg)->ccq);
}

static struct xs_qp *make_qp(struct vnic *v, struct xs_cq *cq, uint32_t send, uint32_t recv)
{
	struct xs_qp_attr qa = {
		.pd = v->m->pd, .send_cq = cq, .recv_cq = cq,
		.max_send_wr = send, .max_recv_wr = recv, .max_sge = 1, .context = v,
	};

	return xs_qp_create(v->m->fabric, &qa);
}

/*
 * Start an attempt: both QPs made and their receives posted, the control QP
 * connected. The data QP is connected when the control QP is established
 * (connect_data): sent together, the data request could reach the I/O
 * module first over rdma_cm, which took the later control request for a
 * reconnection and closed the new data connection.
 */
static int vnic_connect(struct vnic *v)
{
	struct xs_cm_dest dest = { .lid = v->dev->cfg.vnic.tca_lid };
	struct xs_vnic_cm_priv p = { .vid = v->dev->resource_id };
	uint8_t priv[XS_VNIC_CM_PRIV_LEN];
	unsigned int i;
	int rc;

	if (!dest.lid) {
		/* RoCE: no LIDs; address the I/O module by its link-local GID
		 * (fe80::/64 + the port GUID from the INSTALL's tca_guid) */
		uint64_t g = v->dev->cfg.vnic.tca_guid;
		int k;

		if (!g)
			return -EHOSTUNREACH;
		dest.has_gid = true;
		memset(dest.gid, 0, sizeof(dest.gid));
		dest.gid[0] = 0xfe;
		dest.gid[1] = 0x80;
		for (k = 0; k < 8; k++)
			dest.gid[8 + k] = (uint8_t)(g >> (56 - 8 * k));
	}
	v->cqp = make_qp(v, v->ccq, N_CSEND + 2, N_CRECV);
	v->dqp = make_qp(v, v->cq, N_DSEND + 2, N_DRECV);
	if (!v->cqp || !v->dqp) {
		rc = -errno;
		goto fail;
	}
	for (i = 0; i < N_CRECV; i++)
		if ((rc = post_crecv(v, i)) < 0)
			goto fail;
	for (i = 0; i < N_DRECV; i++)
		if ((rc = post_drecv(v, i)) < 0)
			goto fail;
	p.qp_type = XS_VNIC_QP_CONTROL;
	p.max_ctrl_msg_size = CBUF;
	xs_vnic_cm_priv_encode(&p, priv, sizeof(priv));
	rc = xs_qp_connect(v->cqp, &dest, XS_VNIC_SERVICE_ID, priv, sizeof(priv), 3000);
	if (rc < 0)
		goto fail;
	p.qp_type = XS_VNIC_QP_DATA;
	/* TX batching needs the TSO prefix: a message then starts with either a
	 * prefix (format 01/11: one frame) or a batch entry header (format 00) */
	p.data_qp_flags = v->tso ? XS_VNIC_DQP_TSO | XS_VNIC_DQP_TXBAT | XS_VNIC_DQP_RXBAT : 0;
	xs_vnic_cm_priv_encode(&p, v->dpriv, sizeof(v->dpriv));
	v->dest = dest;
	v->state = XSVNIC_ST_CONNECTING;
	return 0;
fail:
	conn_teardown(v);
	return rc;
}

/* The control QP is established: connect the data QP of the same attempt. */
static int connect_data(struct vnic *v)
{
	return xs_qp_connect(v->dqp, &v->dest, XS_VNIC_SERVICE_ID, v->dpriv, sizeof(v->dpriv),
			     3000);
}

static void on_retry(struct xs_loop *loop, struct xs_timer *t, void *arg)
{
	struct vnic *v = arg;
	int rc;

	(void)loop, (void)t;
	if (v->state != XSVNIC_ST_IDLE)
		return;
	v->st.reconnects++;
	rc = vnic_connect(v);
	if (rc < 0) {
		snprintf(v->st.last_error, sizeof(v->st.last_error), "connect: %s",
			 xs_strerror(rc));
		xs_timer_arm(v->retry, (uint64_t)v->m->o.reconnect_ms, 0);
	}
}

static void on_start_timeout(struct xs_loop *loop, struct xs_timer *t, void *arg)
{
	struct vnic *v = arg;

	(void)loop, (void)t;
	v->st.start_timeouts++;
	v->dev->state = XS_RES_STATE_OPER_DOWN;
	xs_ulp_send(v->dev, XS_VNIC_OPER_DOWN);
	vnic_conn_lost(v, "no START_RX_RESPONSE within the start timeout");
}

static void on_heartbeat(struct xs_loop *loop, struct xs_timer *t, void *arg)
{
	struct vnic *v = arg;
	uint64_t now = xs_loop_now(loop), hb = (uint64_t)v->m->o.heartbeat_ms;

	(void)t;
	if (v->state != XSVNIC_ST_UP)
		return;
	if (now - v->last_ctrl_rx > 3 * hb + hb / 2) {
		vnic_conn_lost(v, "no heartbeat from the I/O module");
		return;
	}
	if (v->mcast_dirty || xsvnic_mcast_watch_polling(v->m->mw))
		send_mcast(v); /* sends only when the list changed */
	if (now - v->last_ctrl_tx >= hb - hb / 4) {
		struct xs_vnic_ctrl c = { .type = XS_VNIC_CTRL_HEART_BEAT };

		if (ctrl_send(v, &c) == 0)
			v->st.heartbeats_tx++;
	}
}

static struct vnic *vnic_of_qp(struct xsvnic_mod *m, const struct xs_qp *qp)
{
	struct vnic *v;

	for (v = m->vnics; v; v = v->next)
		if (qp && (v->cqp == qp || v->dqp == qp))
			return v;
	return NULL;
}

static void fabric_readable(struct xs_loop *loop, int fd, unsigned int events, void *arg)
{
	struct xsvnic_mod *m = arg;
	struct xs_event ev;

	(void)loop, (void)fd, (void)events;
	while (xs_fabric_get_event(m->fabric, &ev) == 0) {
		struct vnic *v = vnic_of_qp(m, ev.qp);
		char why[96];

		if (!v)
			continue;
		switch (ev.type) {
		case XS_EV_ESTABLISHED:
			if (ev.qp == v->cqp) {
				int rc;

				v->cqp_up = true;
				xs_vnic_ctrl_tx_attach(&v->ctx, v->cqp, v->gen);
				rc = connect_data(v);
				if (rc < 0) {
					snprintf(why, sizeof(why), "data connect: %s",
						 xs_strerror(rc));
					vnic_conn_lost(v, why);
					break;
				}
			} else {
				struct xs_vnic_cm_priv rp;

				/* the flags the I/O module took are in its reply */
				v->dqp_up = true;
				if (!v->tso || xs_vnic_cm_priv_decode(ev.private_data,
								      ev.private_len, &rp) < 0)
					rp.data_qp_flags = 0;
				v->txbat = (rp.data_qp_flags & XS_VNIC_DQP_TXBAT) != 0;
				v->rxbat = (rp.data_qp_flags & XS_VNIC_DQP_RXBAT) != 0;
			}
			if (v->cqp_up && v->dqp_up && v->state == XSVNIC_ST_CONNECTING) {
				struct xs_vnic_ctrl c = { .type = XS_VNIC_CTRL_START_RX };

				v->state = XSVNIC_ST_STARTING;
				v->last_ctrl_rx = xs_loop_now(loop);
				if (ctrl_send(v, &c) < 0) {
					vnic_conn_lost(v, "cannot send START_RX");
					break;
				}
				xs_timer_arm(v->start_to, (uint64_t)m->o.start_timeout_ms, 0);
			}
			break;
		case XS_EV_REJECTED:
			snprintf(why, sizeof(why), "rejected by the I/O module (CM reason %u)",
				 ev.reject_reason);
			vnic_conn_lost(v, why);
			break;
		case XS_EV_UNREACHABLE:
			snprintf(why, sizeof(why), "I/O module unreachable: %s",
				 xs_strerror(ev.status));
			vnic_conn_lost(v, why);
			break;
		case XS_EV_DISCONNECTED:
			vnic_conn_lost(v, "disconnected");
			break;
		default:
			break;
		}
	}
}

static void mcast_readable(struct xs_loop *loop, int fd, unsigned int events, void *arg)
{
	struct xsvnic_mod *m = arg;
	struct vnic *v;

	(void)loop, (void)fd, (void)events;
	/* one poll drains the socket; any change re-sends every vNIC's list
	 * (from the heartbeat timer, so a burst of joins costs one message) */
	xsvnic_mcast_watch_poll(m->mw, m->vnics ? m->vnics->st.ifindex : 0);
	for (v = m->vnics; v; v = v->next)
		if (v->state == XSVNIC_ST_UP)
			v->mcast_dirty = true;
}

/* ------------------------------------------------------------ ULP ops */

static int apply_cfg(struct vnic *v, const struct xs_vnic_msg *c, uint32_t mask,
		     struct xs_ulp_result *res)
{
	int rc = 0;

	if (mask & XS_VNIC_UPDATE_MTU) {
		rc = xsvnic_tap_set_mtu(v->tap, c->mtu ? c->mtu : 1500);
		if (rc < 0) {
			res->reason = XS_NACK_INVALID;
			snprintf(res->text, sizeof(res->text), "MTU %u: %s", c->mtu,
				 xs_strerror(rc));
			return rc;
		}
	}
	if (mask & XS_VNIC_UPDATE_MAC) {
		bool up = c->admin_state == XS_ADMIN_UP;

		/* the kernel refuses a MAC change on some devices while up */
		xsvnic_tap_set_up(v->tap, false);
		rc = xsvnic_tap_set_mac(v->tap, c->mac);
		if (up)
			xsvnic_tap_set_up(v->tap, true);
		if (rc < 0) {
			res->reason = XS_NACK_INVALID;
			snprintf(res->text, sizeof(res->text), "MAC: %s", xs_strerror(rc));
			return rc;
		}
	}
	if (mask & XS_VNIC_UPDATE_ADMIN_STATE) {
		rc = xsvnic_tap_set_up(v->tap, c->admin_state == XS_ADMIN_UP);
		if (rc < 0) {
			res->reason = XS_NACK_GENERAL_ERROR;
			snprintf(res->text, sizeof(res->text), "admin state: %s", xs_strerror(rc));
			return rc;
		}
	}
	return 0;
}

static void vnic_free(struct vnic *v)
{
	struct vnic **pp;

	for (pp = &v->m->vnics; *pp; pp = &(*pp)->next)
		if (*pp == v) {
			*pp = v->next;
			break;
		}
	conn_teardown(v);
	if (v->cq) {
		xs_loop_del_fd(v->m->loop, xs_cq_fd(v->cq));
		xs_cq_destroy(v->cq);
	}
	if (v->ccq) {
		xs_loop_del_fd(v->m->loop, xs_cq_fd(v->ccq));
		xs_cq_destroy(v->ccq);
	}
	if (v->tap) {
		xs_loop_del_fd(v->m->loop, v->tap_fd);
		xsvnic_tap_destroy(v->tap);
	}
	xs_timer_free(v->retry);
	xs_timer_free(v->start_to);
	xs_timer_free(v->hb);
	if (v->mr)
		xs_mr_dereg(v->mr);
	if (v->mem)
		munmap(v->mem, v->mem_len);
	free(v);
}

static int vnic_install(void *ctx, struct xs_ulp_dev *dev, struct xs_ulp_result *res)
{
	struct xsvnic_mod *m = ctx;
	const struct xs_vnic_msg *c = &dev->cfg.vnic;
	struct vnic *v;
	int rc;

	v = calloc(1, sizeof(*v));
	if (!v) {
		res->reason = XS_NACK_ALLOC_ERROR;
		return -ENOMEM;
	}
	v->m = m;
	v->dev = dev;
	v->gen = 1;
	/* checksum offload and TSO through the vnet header when the director
	 * offers them (install_flags); frames then carry the TSO prefix */
	v->tso = (c->install_flags & XS_VNIC_INSTALL_TSO) &&
		 (c->install_flags & XS_VNIC_INSTALL_TCP_OFFL);
	v->tap = xsvnic_tap_create(dev->name, v->tso ? XSVNIC_OFF_ALL : 0);
	if (!v->tap) {
		rc = -errno;
		res->reason = rc == -EBUSY ? XS_NACK_DUP_NAME : XS_NACK_GENERAL_ERROR;
		snprintf(res->text, sizeof(res->text), "TAP %s: %s", dev->name, xs_strerror(rc));
		free(v);
		return rc;
	}
	v->tap_fd = xsvnic_tap_fd(v->tap);
	v->st.ifindex = xsvnic_tap_ifindex(v->tap);
	snprintf(v->st.ifname, sizeof(v->st.ifname), "%s", xsvnic_tap_name(v->tap));
	set_carrier(v, false);
	rc = apply_cfg(v, c, XS_VNIC_UPDATE_MTU | XS_VNIC_UPDATE_MAC | XS_VNIC_UPDATE_ADMIN_STATE,
		       res);
	if (rc < 0)
		goto fail;
	v->mem_len = (size_t)(N_DRECV + N_DSEND) * DBUF + (size_t)(N_CRECV + N_CSEND) * CBUF;
	v->mem = mmap(NULL, v->mem_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (v->mem == MAP_FAILED) {
		v->mem = NULL;
		rc = -ENOMEM;
		goto fail_alloc;
	}
	v->mr = xs_mr_reg(m->pd, v->mem, v->mem_len, XS_ACCESS_LOCAL_WRITE);
	if (v->mr)
		xs_vnic_ctrl_tx_init(&v->ctx, csend_buf(v, 0), xs_mr_lkey(v->mr), N_CSEND);
	xs_vnic_sring_init(&v->ds, N_DSEND, SIG_EVERY);
	v->cq = xs_cq_create(m->fabric, 2 * (N_DRECV + N_DSEND) + 16);
	v->ccq = xs_cq_create(m->fabric, 2 * (N_CRECV + N_CSEND) + 16);
	v->retry = xs_timer_new(m->loop, on_retry, v);
	v->start_to = xs_timer_new(m->loop, on_start_timeout, v);
	v->hb = xs_timer_new(m->loop, on_heartbeat, v);
	if (!v->mr || !v->cq || !v->ccq || !v->retry || !v->start_to || !v->hb) {
		rc = -ENOMEM;
		goto fail_alloc;
	}
	if ((rc = xs_loop_add_fd(m->loop, xs_cq_fd(v->cq), XS_IO_IN, cq_readable, v)) < 0)
		goto fail_alloc;
	if ((rc = xs_loop_add_fd(m->loop, xs_cq_fd(v->ccq), XS_IO_IN, ccq_readable, v)) < 0) {
		xs_loop_del_fd(m->loop, xs_cq_fd(v->cq));
		goto fail_alloc;
	}
	if ((rc = xs_loop_add_fd(m->loop, v->tap_fd, XS_IO_IN, tap_readable, v)) < 0) {
		xs_loop_del_fd(m->loop, xs_cq_fd(v->ccq));
		xs_loop_del_fd(m->loop, xs_cq_fd(v->cq));
		goto fail_alloc;
	}
	v->next = m->vnics;
	m->vnics = v;
	dev->priv = v;
	dev->state = XS_RES_STATE_OPER_DOWN;
	xs_timer_arm(v->hb, (uint64_t)m->o.heartbeat_ms / 4, (uint64_t)m->o.heartbeat_ms / 4);
	rc = vnic_connect(v);
	if (rc < 0) {
		snprintf(v->st.last_error, sizeof(v->st.last_error), "connect: %s",
			 xs_strerror(rc));
		xs_timer_arm(v->retry, (uint64_t)m->o.reconnect_ms, 0);
	}
	XS_INFO(VLOG, "%s: interface created (ifindex %d), I/O module LID %u", dev->name,
		v->st.ifindex, c->tca_lid);
	return 0;

fail_alloc:
	res->reason = XS_NACK_ALLOC_ERROR;
	snprintf(res->text, sizeof(res->text), "%s: %s", dev->name, xs_strerror(rc));
fail:
	if (v->cq)
		xs_cq_destroy(v->cq);
	if (v->ccq)
		xs_cq_destroy(v->ccq);
	v->cq = v->ccq = NULL;
	xsvnic_tap_destroy(v->tap);
	v->tap = NULL;
	xs_timer_free(v->retry);
	xs_timer_free(v->start_to);
	xs_timer_free(v->hb);
	v->retry = v->start_to = v->hb = NULL;
	if (v->mr)
		xs_mr_dereg(v->mr);
	if (v->mem)
		munmap(v->mem, v->mem_len);
	free(v);
	return rc;
}

static int vnic_update(void *ctx, struct xs_ulp_dev *dev, const union xs_ulp_config *old,
		       uint32_t bitmask, struct xs_ulp_result *res)
{
	struct vnic *v = dev->priv;
	int rc;

	(void)ctx;
	if (!v)
		return 0;
	rc = apply_cfg(v, &dev->cfg.vnic, bitmask, res);
	if (rc < 0)
		return rc;
	if ((bitmask & XS_VNIC_UPDATE_TCA_INFO) && old->vnic.tca_lid != dev->cfg.vnic.tca_lid &&
	    v->state != XSVNIC_ST_IDLE)
		vnic_conn_lost(v, "I/O module moved");
	return 0;
}

static void vnic_remove(void *ctx, struct xs_ulp_dev *dev, enum xs_ulp_remove_why why)
{
	struct vnic *v = dev->priv;

	(void)ctx;
	if (!v)
		return;
	XS_INFO(VLOG, "%s: removing the interface (%s)", dev->name,
		why == XS_ULP_REMOVE_DELETE ? "deleted" :
		why == XS_ULP_REMOVE_STALE ? "not re-announced" : "host stopping");
	vnic_free(v);
	dev->priv = NULL;
}

static const struct xs_ulp_ops vnic_ops = {
	.name = "xsvnic",
	.xsmp_type = XS_XSMP_VNIC,
	.install = vnic_install,
	.update = vnic_update,
	.remove = vnic_remove,
};

int xsvnic_dev_stats(const struct xs_ulp_dev *dev, struct xsvnic_stats *st)
{
	const struct vnic *v = dev->priv;

	if (dev->xsmp_type != XS_XSMP_VNIC || !v || !xs_host_ulp_name(dev->host, XS_XSMP_VNIC) ||
	    strcmp(xs_host_ulp_name(dev->host, XS_XSMP_VNIC), vnic_ops.name))
		return -ENOENT;
	*st = v->st;
	st->state = v->state;
	st->link_up = v->link_up;
	st->speed_mbps = v->speed_mbps;
	st->tso = v->tso;
	st->txbat = v->txbat;
	st->rxbat = v->rxbat;
	return 0;
}

struct xsvnic_mod *xsvnic_mod_new(struct xs_host *h, const struct xsvnic_mod_opts *opts)
{
	struct xs_fabric_opts fo = { .size = sizeof(fo) };
	struct xsvnic_mod *m;
	struct xs_port_attr pa;
	char pname[96];
	int err, rc;

	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	if (opts)
		memcpy(&m->o, opts, opts->size < sizeof(m->o) ? opts->size : sizeof(m->o));
	m->o.size = sizeof(m->o);
	if (m->o.heartbeat_ms <= 0)
		m->o.heartbeat_ms = 1000;
	if (m->o.start_timeout_ms <= 0)
		m->o.start_timeout_ms = 5000;
	if (m->o.reconnect_ms <= 0)
		m->o.reconnect_ms = 300;
	m->host = h;
	m->loop = xs_host_loop(h);
	xs_host_port_attr(h, &pa);
	if (m->o.port_name)
		snprintf(pname, sizeof(pname), "%s", m->o.port_name);
	else
		snprintf(pname, sizeof(pname), "%.80s-vnic", pa.port_name);
	fo.port_name = pname;
	m->fabric = xs_fabric_open(m->o.fabric_spec ? m->o.fabric_spec : "soft", &fo);
	if (!m->fabric) {
		err = errno;
		goto err_free;
	}
	m->pd = xs_pd_alloc(m->fabric);
	if (!m->pd) {
		err = errno;
		goto err_close;
	}
	m->mw = xsvnic_mcast_watch_open();
	if (!m->mw) {
		err = errno;
		goto err_pd;
	}
	rc = xs_loop_add_fd(m->loop, xs_fabric_event_fd(m->fabric), XS_IO_IN, fabric_readable, m);
	if (rc < 0) {
		err = -rc;
		goto err_mw;
	}
	rc = xs_loop_add_fd(m->loop, xsvnic_mcast_watch_fd(m->mw), XS_IO_IN, mcast_readable, m);
	if (rc < 0) {
		err = -rc;
		goto err_fd;
	}
	rc = xs_host_register_ulp(h, &vnic_ops, m);
	if (rc < 0) {
		err = -rc;
		goto err_mfd;
	}
	return m;

err_mfd:
	xs_loop_del_fd(m->loop, xsvnic_mcast_watch_fd(m->mw));
err_fd:
	xs_loop_del_fd(m->loop, xs_fabric_event_fd(m->fabric));
err_mw:
	xsvnic_mcast_watch_close(m->mw);
err_pd:
	xs_pd_free(m->pd);
err_close:
	xs_fabric_close(m->fabric);
err_free:
	free(m);
	errno = err;
	return NULL;
}

void xsvnic_mod_free(struct xsvnic_mod *m)
{
	if (!m)
		return;
	while (m->vnics)
		vnic_free(m->vnics);
	xs_loop_del_fd(m->loop, xsvnic_mcast_watch_fd(m->mw));
	xs_loop_del_fd(m->loop, xs_fabric_event_fd(m->fabric));
	xsvnic_mcast_watch_close(m->mw);
	xs_pd_free(m->pd);
	xs_fabric_close(m->fabric);
	free(m);
}
