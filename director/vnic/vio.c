/* SPDX-License-Identifier: MIT */
/*
 * vio.c - the director's vNIC I/O module: RC connections from the hosts'
 * vNICs, one virtual switch per uplink, uplink frames through AF_PACKET.
 * See vio.h and docs/vnic.md.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <xscore/common.h>
#include <xscore/log.h>
#include <xscore/vnic_chan.h>
#include <xscore/vnic_wire.h>

#include "vio.h"
#include "vswitch.h"

#define VLOG "vio"

#define N_DRECV 64
#define N_DSEND 128
#define N_CRECV 8
#define N_CSEND 16
#define DBUF 65600
#define CBUF XS_VNIC_CTRL_MAX_LEN
#define MAX_EGRESS 64
#define VNET_LEN ((int)sizeof(struct virtio_net_hdr))
#define HEADROOM 16

#define SIG_EVERY 16           /* one data send in this many is signaled */
#define BATCH_MAX_ENTRY 2048   /* frames (with prefix) up to this size are batched */
#define UL_RX_BATCH 16         /* uplink frames per recvmmsg */
#define UL_TXQ 64              /* uplink frames per sendmmsg */
#define RBUF (HEADROOM + DBUF) /* one uplink receive buffer */

struct uplink {
	struct xsd_vio *vio;
	char name[XSD_UPLINK_MAX + 1];
	char ifname[IF_NAMESIZE];
	int ifindex;
	int fd;
	struct xsd_vsw *sw;
	int port;
	bool carrier;
	uint32_t speed_mbps;
	struct dvnic *by_port[XSD_VSW_DEFAULT_MAX_PORTS];
	uint8_t *rbuf;            /* UL_RX_BATCH x (HEADROOM + vnet header + frame) */
	/* frames for the uplink, sent together with one sendmmsg: a vnet
	 * header, a copy of the tag and the iovecs into the frame each */
	unsigned int txn;
	struct mmsghdr txm[UL_TXQ];
	struct iovec txio[UL_TXQ][4];
	struct virtio_net_hdr txvh[UL_TXQ];
	uint8_t txtag[UL_TXQ][4];
	size_t txlen[UL_TXQ];
	uint64_t rx_frames, rx_bytes, tx_frames, tx_bytes, tx_errors, rx_errors;
	uint64_t rx_calls, tx_calls;  /* recvmmsg / sendmmsg calls that moved frames */
	uint64_t link_changes;
};

struct dvnic {
	struct xsd_vio *vio;
	struct dvnic *next;
	uint64_t rid;
	struct xsd_vnic cfg;
	struct uplink *ul;
	int port;                 /* vswitch port, -1 before the first START_RX */
	struct xs_qp *cqp, *dqp;
	uint32_t cgen, dgen;
	/* pairing of the two connections of one attempt (the CM private data
	 * carries no attempt id): a control connection pairs with the first
	 * data connection accepted after it; dqp_next marks a data connection
	 * that cannot be the current control connection's (none was there, or
	 * it had its data connection already): it belongs to the host's next
	 * attempt, whose control request may still be on its way */
	unsigned int dq_since_cqp;  /* data connections accepted since cqp's */
	bool dqp_next;
	uint64_t dqp_kept;          /* data connections that came first and were kept */
	bool started;
	bool tso;                 /* data QP carries the TSO prefix */
	bool txbat;               /* host may pack several frames in one SEND */
	bool rxbat;               /* we may pack several frames in one SEND */
	/* the RX batch being filled in send slot xs_vnic_sring_slot(ds, 0) */
	bool bat_open;
	struct xs_vnic_batch_builder bb;
	uint64_t bat_bytes;       /* frame bytes in it */
	struct dvnic *flush_next; /* on vio->flush_list while bat_open */
	bool listed;
	struct xs_cq *cq, *ccq;   /* data QP's, control QP's: a poll of one
				   * reads only its own QP's socket */
	uint8_t *mem;
	size_t mem_len;
	struct xs_mr *mr;
	struct xs_vnic_sring ds;      /* data send slots (xscore/vnic_chan.h) */
	struct xs_vnic_ctrl_tx ctx;   /* control sender, attached to cqp */
	uint64_t last_ctrl_rx;
	/* counters */
	uint64_t connects, disconnects, ctrl_rx, ctrl_tx, ctrl_bad, heartbeats;
	uint64_t to_host_frames, to_host_bytes, to_host_drops;
	uint64_t from_host_frames, from_host_bytes, rx_errors, mcast_lists, bad_offload;
	uint64_t from_host_batches, to_host_batches;
	unsigned int mcast_n;     /* groups in the last MULTICAST_LIST_SEND */
	bool mcast_all;           /* ... or all-multicast */
	char last_error[96];
};

struct xsd_vio {
	struct xs_loop *loop;
	struct xs_fabric *fabric;
	struct xsd_store *store;
	struct xs_pd *pd;
	struct xs_cm_listener *listener;
	struct uplink uplinks[XSD_VIO_MAX_UPLINKS];
	int n_uplinks;
	struct dvnic *vnics;
	struct xs_timer *tick;
	int hb_ms;
	uint8_t *seg_buf;          /* software segmentation output */
	struct dvnic *flush_list;  /* vNICs with an open RX batch */
	uint64_t rejects, bad_priv;
};

static uint8_t *drecv_buf(struct dvnic *v, unsigned int i) { return v->mem + (size_t)i * DBUF; }
static uint8_t *dsend_buf(struct dvnic *v, unsigned int i)
{
	return v->mem + (size_t)(N_DRECV + i) * DBUF;
}
static uint8_t *crecv_buf(struct dvnic *v, unsigned int i)
{
	return v->mem + (size_t)(N_DRECV + N_DSEND) * DBUF + (size_t)i * CBUF;
}
static uint8_t *csend_buf(struct dvnic *v, unsigned int i) { return crecv_buf(v, N_CRECV + i); }

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------ store */

struct find_ctx {
	uint64_t rid;
	struct xsd_vnic *out;
};

static int find_cb(const struct xsd_vnic *v, void *arg)
{
	struct find_ctx *fc = arg;

	if (v->resource_id != fc->rid)
		return 0;
	*fc->out = *v;
	return 1;
}

static int vnic_lookup(struct xsd_vio *vio, uint64_t rid, struct xsd_vnic *out)
{
	struct find_ctx fc = { rid, out };
	struct xsd_err err;
	int rc = xsd_store_vnic_each(vio->store, NULL, find_cb, &fc, &err);

	return rc == 1 ? 0 : rc < 0 ? rc : -ENOENT;
}

static int uplink_open(struct xsd_vio *vio, struct uplink *ul, const char *spec);

/*
 * The uplink a vNIC uses: one opened already by name; else the store's
 * interface for that name (xcm uplink add NAME --interface IF), opened now;
 * else the first uplink (a vNIC without an uplink, or one without an
 * interface). NULL when there is none at all.
 */
static struct uplink *uplink_for(struct xsd_vio *vio, const char *name)
{
	char ifname[32], spec[XSD_UPLINK_MAX + 40];
	struct xsd_err err;
	int i;

	for (i = 0; i < vio->n_uplinks; i++)
		if (!strcmp(vio->uplinks[i].name, name))
			return &vio->uplinks[i];
	if (name[0] && vio->n_uplinks < XSD_VIO_MAX_UPLINKS &&
	    xsd_store_uplink_interface(vio->store, name, ifname, sizeof(ifname), &err) == 0 &&
	    ifname[0]) {
		struct uplink *ul = &vio->uplinks[vio->n_uplinks];

		snprintf(spec, sizeof(spec), "%s=%s", name, ifname);
		if (uplink_open(vio, ul, spec) == 0) {
			vio->n_uplinks++;
			return ul;
		}
		memset(ul, 0, sizeof(*ul));
		ul->fd = -1;
		return NULL;
	}
	return vio->n_uplinks ? &vio->uplinks[0] : NULL;
}

static void port_cfg(const struct xsd_vnic *v, struct xsd_vsw_port_cfg *pc, uint16_t *ids,
		     size_t cap)
{
	char buf[XSD_VLANS_TEXT];
	const char *p;
	size_t n = 0;

	memset(pc, 0, sizeof(*pc));
	memcpy(pc->mac, v->mac, 6);
	snprintf(buf, sizeof(buf), "%s", v->vlans);
	for (p = buf; *p;) {
		char *end;
		unsigned long a = strtoul(p, &end, 10), b = a;

		if (*end == '-')
			b = strtoul(end + 1, &end, 10);
		for (unsigned long id = a; id <= b && n < cap; id++)
			ids[n++] = (uint16_t)id;
		if (end == p)
			break;
		p = *end == ',' ? end + 1 : end;
	}
	if (v->trunk && n) {
		pc->mode = XSD_VSW_TRUNK;
		pc->allowed = ids;
		pc->n_allowed = n;
	} else {
		/* access; an untagged vNIC lives in VLAN 1, the uplink's native */
		pc->mode = XSD_VSW_ACCESS;
		pc->access_vlan = n ? ids[0] : 1;
	}
	if (v->cir_mbps || v->pir_mbps) {
		uint64_t cir = (uint64_t)(v->cir_mbps ? v->cir_mbps : v->pir_mbps) * 1000000u;
		uint64_t pir = (uint64_t)v->pir_mbps * 1000000u;

		pc->rate_in.cir_bps = cir;
		pc->rate_in.cbs_bytes = (uint32_t)(cir / 8 / 100 > 65536 ? cir / 8 / 100 : 65536);
		pc->rate_in.pir_bps = pir;
		pc->rate_in.pbs_bytes = pir ? (uint32_t)(pir / 8 / 100 > 131072 ? pir / 8 / 100
										: 131072)
					    : 0;
		pc->rate_out = pc->rate_in;
	}
}

/* ------------------------------------------------------------ sending */

static int ctrl_send(struct dvnic *v, const struct xs_vnic_ctrl *c)
{
	int rc = xs_vnic_ctrl_tx_send(&v->ctx, c);

	if (rc == 0)
		v->ctrl_tx++;
	return rc;
}

static void send_link(struct dvnic *v)
{
	struct xs_vnic_ctrl c = { .type = XS_VNIC_CTRL_LINK_DOWN };

	if (v->ul && v->ul->carrier) {
		c.type = XS_VNIC_CTRL_LINK_UP;
		c.u.link.speed = xs_vnic_speed_code(v->ul->speed_mbps);
	}
	ctrl_send(v, &c);
}

/* Post send slot xs_vnic_sring_slot(ds, 0): @len bytes from @off in it. */
static int post_dsend(struct dvnic *v, size_t off, size_t len)
{
	struct xs_send_wr wr = { 0 };
	struct xs_sge sge;

	sge.addr = (uintptr_t)(dsend_buf(v, xs_vnic_sring_slot(&v->ds, 0)) + off);
	sge.length = (uint32_t)len;
	sge.lkey = xs_mr_lkey(v->mr);
	wr.wr_id = xs_vnic_wr_id(v->dgen, XS_VNIC_WR_DSEND, xs_vnic_sring_wr_idx(&v->ds));
	wr.opcode = XS_WR_SEND;
	wr.sg_list = &sge;
	wr.num_sge = 1;
	if (xs_vnic_sring_signal(&v->ds))
		wr.flags = XS_SEND_SIGNALED;
	if (xs_qp_post_send(v->dqp, &wr) < 0)
		return -EIO;
	xs_vnic_sring_posted(&v->ds);
	return 0;
}

/* Send @v's open RX batch: a container, or its only frame as it is. */
static void batch_flush(struct dvnic *v)
{
	unsigned int frames = v->bb.frames;
	int len, rc;

	if (!v->bat_open)
		return;
	v->bat_open = false;
	if (!v->dqp || !v->started) {
		v->to_host_drops += frames;
		return;
	}
	if (frames == 1) {
		len = (int)(xs_get32(v->bb.buf) & 0x3fffu);
		rc = post_dsend(v, XS_VNIC_BATCH_HDR_LEN, (size_t)len);
	} else {
		len = xs_vnic_batch_finish(&v->bb);
		rc = len < 0 ? len : post_dsend(v, 0, (size_t)len);
	}
	if (rc < 0) {
		v->to_host_drops += frames;
		return;
	}
	if (frames > 1)
		v->to_host_batches++;
	v->to_host_frames += frames;
	v->to_host_bytes += v->bat_bytes;
}

/* Send every open RX batch (the end of a wake-up's worth of frames). */
static void flush_rx_batches(struct xsd_vio *vio)
{
	while (vio->flush_list) {
		struct dvnic *v = vio->flush_list;

		vio->flush_list = v->flush_next;
		v->listed = false;
		batch_flush(v);
	}
}

/*
 * Copy one frame (iovec) into a send slot and post it on the data QP, with
 * the TSO prefix when negotiated (built from @vh: partial checksum, GSO).
 * With RX batching negotiated a small frame is appended to the vNIC's open
 * batch instead, sent by flush_rx_batches at the end of the wake-up (or
 * before a large frame, which goes alone, so order holds).
 */
static void to_host(struct dvnic *v, const struct iovec *iov, int iovcnt, size_t len,
		    const struct virtio_net_hdr *vh)
{
	struct xs_vnic_tso t = { 0 };
	size_t pre = v->tso ? XS_VNIC_TSO_LEN : 0, off = 0;
	bool batch = v->rxbat && len + pre <= BATCH_MAX_ENTRY;
	uint8_t *buf, *slot;
	int k;

	if (!batch || (v->bat_open && v->bb.off + xs_vnic_batch_entry_size(len + pre) > v->bb.cap))
		batch_flush(v); /* keeps the order */
	if (!v->dqp || !v->started || !xs_vnic_sring_free(&v->ds) || len + pre > DBUF) {
		v->to_host_drops++;
		return;
	}
	slot = dsend_buf(v, xs_vnic_sring_slot(&v->ds, 0));
	buf = batch ? slot + (v->bat_open ? v->bb.off : 0) + XS_VNIC_BATCH_HDR_LEN : slot;
	for (k = 0; k < iovcnt; k++) {
		memcpy(buf + pre + off, iov[k].iov_base, iov[k].iov_len);
		off += iov[k].iov_len;
	}
	if (v->tso) {
		if (vh && ((vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) ||
			   vh->gso_type != VIRTIO_NET_HDR_GSO_NONE) &&
		    xs_vnic_vnet_to_tso(vh, buf + pre, len, &t) < 0) {
			/* not something the prefix carries (e.g. UDP GSO): finish the
			 * checksum here, or give up on a GSO frame */
			struct virtio_net_hdr v2 = *vh;

			memset(&t, 0, sizeof(t));
			if (vh->gso_type != VIRTIO_NET_HDR_GSO_NONE ||
			    xsd_vsw_csum_complete(buf + pre, len, &v2) < 0) {
				v->bad_offload++;
				v->to_host_drops++;
				return;
			}
		}
		if (xs_vnic_tso_encode(&t, buf, XS_VNIC_TSO_LEN) < 0) {
			v->bad_offload++;
			v->to_host_drops++;
			return;
		}
	}
	if (batch) {
		size_t ent = XS_VNIC_BATCH_HDR_LEN + len + pre;
		size_t pad = (4 - (ent & 3)) & 3;

		if (!v->bat_open) {
			xs_vnic_batch_builder_init(&v->bb, slot, DBUF);
			v->bat_open = true;
			v->bat_bytes = 0;
			if (!v->listed) {
				v->listed = true;
				v->flush_next = v->vio->flush_list;
				v->vio->flush_list = v;
			}
		}
		/* the entry is in place: its header, padding and the builder */
		xs_put32(slot + v->bb.off, (uint32_t)(len + pre));
		memset(slot + v->bb.off + ent, 0, pad);
		v->bb.last_hdr = v->bb.off;
		v->bb.off += ent + pad;
		v->bb.frames++;
		v->bat_bytes += len;
		return;
	}
	if (post_dsend(v, 0, len + pre) < 0) {
		v->to_host_drops++;
		return;
	}
	v->to_host_frames++;
	v->to_host_bytes += len;
}

/* Send the frames queued for the uplink: one sendmmsg for all of them
 * (a frame the kernel refuses is counted and skipped). Returns how many
 * went. */
static unsigned int uplink_flush(struct uplink *ul)
{
	unsigned int i = 0, sent = 0;

	while (i < ul->txn) {
		int r = sendmmsg(ul->fd, ul->txm + i, ul->txn - i, MSG_DONTWAIT);

		if (r <= 0) {
			ul->tx_errors++;
			i++;
			continue;
		}
		ul->tx_calls++;
		for (int k = 0; k < r; k++) {
			ul->tx_frames++;
			ul->tx_bytes += ul->txlen[i + (unsigned int)k];
		}
		i += (unsigned int)r;
		sent += (unsigned int)r;
	}
	ul->txn = 0;
	return sent;
}

/* Queue one frame for the uplink: @vh, then the switch's iovecs (into the
 * frame, which stays put until uplink_flush, and into @tag, copied here). */
static void to_uplink(struct uplink *ul, const struct virtio_net_hdr *vh, const struct iovec *iov,
		      int iovcnt, size_t len, const uint8_t *tag)
{
	unsigned int q;
	int k;

	if (ul->txn == UL_TXQ)
		uplink_flush(ul);
	q = ul->txn++;
	ul->txvh[q] = *vh;
	memcpy(ul->txtag[q], tag, 4);
	ul->txio[q][0].iov_base = &ul->txvh[q];
	ul->txio[q][0].iov_len = sizeof(*vh);
	for (k = 0; k < iovcnt && k < 3; k++) {
		ul->txio[q][k + 1] = iov[k];
		if (iov[k].iov_base == (const void *)tag)
			ul->txio[q][k + 1].iov_base = ul->txtag[q];
	}
	memset(&ul->txm[q], 0, sizeof(ul->txm[q]));
	ul->txm[q].msg_hdr.msg_iov = ul->txio[q];
	ul->txm[q].msg_hdr.msg_iovlen = (size_t)k + 1;
	ul->txlen[q] = len;
}

/*
 * Forward one frame through the uplink's switch and send every copy.
 * @frame has HEADROOM bytes before it that may be scribbled on.
 */
static void forward(struct uplink *ul, uint32_t ingress, uint8_t *frame, size_t len,
		    const struct virtio_net_hdr *vh)
{
	struct xsd_vio *vio = ul->vio;
	struct xsd_vsw_egress out[MAX_EGRESS];
	struct xsd_vsw_result res;
	struct xsd_vsw_meta meta = { 0 };
	int n, i;

	meta.now_ns = now_ns();
	meta.needs_csum = vh && (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM);
	meta.gso = vh && vh->gso_type != VIRTIO_NET_HDR_GSO_NONE;
	n = xsd_vsw_forward(ul->sw, ingress, frame, len, &meta, &res, out, MAX_EGRESS);
	for (i = 0; i < n; i++) {
		struct xsd_vsw_egress *e = &out[i];

		if ((int)e->port == ul->port) {
			static const struct virtio_net_hdr none;
			struct virtio_net_hdr v2 = vh ? *vh : none;

			if (meta.needs_csum)
				v2.csum_start = (uint16_t)(v2.csum_start + (e->len - len));
			to_uplink(ul, (meta.needs_csum || meta.gso) ? &v2 : &none, e->iov, e->iovcnt,
				  e->len, res.tag);
			continue;
		}
		if (e->port >= XSD_VSW_DEFAULT_MAX_PORTS || !ul->by_port[e->port])
			continue;
		if (vh && (e->segment || e->csum_fill)) {
			/* flatten, then complete or segment in our scratch buffer */
			struct dvnic *v = ul->by_port[e->port];
			uint8_t *flat = vio->seg_buf;
			struct virtio_net_hdr v2 = *vh;
			size_t off = 0;
			int k;

			if (e->len > DBUF) {
				v->to_host_drops++;
				continue;
			}
			for (k = 0; k < e->iovcnt; k++) {
				memcpy(flat + off, e->iov[k].iov_base, e->iov[k].iov_len);
				off += e->iov[k].iov_len;
			}
			v2.csum_start = (uint16_t)(v2.csum_start + (e->len - len));
			if (e->segment) {
				struct iovec segs[64];
				int ns = xsd_vsw_gso_segment(flat, e->len, &v2, flat + DBUF,
							     4 * DBUF - DBUF, segs, 64);

				if (ns < 0) {
					v->to_host_drops++;
					continue;
				}
				for (k = 0; k < ns; k++)
					to_host(v, &segs[k], 1, segs[k].iov_len, NULL);
			} else {
				struct iovec one = { flat, e->len };

				if (xsd_vsw_csum_complete(flat, e->len, &v2) < 0) {
					v->to_host_drops++;
					continue;
				}
				to_host(v, &one, 1, e->len, NULL);
			}
			continue;
		}
		if (vh && (meta.needs_csum || meta.gso)) {
			struct virtio_net_hdr v2 = *vh;

			v2.csum_start = (uint16_t)(v2.csum_start + (e->len - len));
			to_host(ul->by_port[e->port], e->iov, e->iovcnt, e->len, &v2);
		} else {
			to_host(ul->by_port[e->port], e->iov, e->iovcnt, e->len, NULL);
		}
	}
}

/* ------------------------------------------------------------ uplink */

/* One frame the uplink gave us (@n bytes: vnet header + frame, in a buffer
 * with HEADROOM before it) into the switch. */
static void uplink_frame(struct uplink *ul, uint8_t *rb, ssize_t n, struct msghdr *mh)
{
	struct virtio_net_hdr vh;
	struct cmsghdr *c;
	uint8_t *frame;
	size_t len;

	if (n < VNET_LEN + 14 || n > DBUF) {
		ul->rx_errors++;
		return;
	}
	memcpy(&vh, rb + HEADROOM, sizeof(vh));
	frame = rb + HEADROOM + VNET_LEN;
	len = (size_t)n - VNET_LEN;
	/* the kernel hands a received 802.1Q tag out of band */
	for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		struct tpacket_auxdata aux;

		if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA)
			continue;
		memcpy(&aux, CMSG_DATA(c), sizeof(aux));
		if ((aux.tp_status & TP_STATUS_VLAN_VALID) && aux.tp_vlan_tci) {
			int r = xsd_vsw_vlan_insert(&frame, len, HEADROOM + VNET_LEN,
						    aux.tp_vlan_tci);

			if (r > 0) {
				len = (size_t)r;
				if (vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
					vh.csum_start = (uint16_t)(vh.csum_start + 4);
			}
		}
	}
	ul->rx_frames++;
	ul->rx_bytes += len;
	forward(ul, (uint32_t)ul->port, frame, len, &vh);
}

/* Up to 64 frames per wake-up, UL_RX_BATCH per recvmmsg; the frames for
 * each vNIC leave in one SEND (RX batching) at the end. */
static void uplink_readable(struct xs_loop *loop, int fd, unsigned int events, void *arg)
{
	union cbuf {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
	};
	struct uplink *ul = arg;
	struct mmsghdr mm[UL_RX_BATCH];
	struct iovec io[UL_RX_BATCH];
	union cbuf cb[UL_RX_BATCH];
	int budget = 64, i, n;

	(void)loop, (void)events;
	while (budget > 0) {
		for (i = 0; i < UL_RX_BATCH; i++) {
			io[i].iov_base = ul->rbuf + (size_t)i * RBUF + HEADROOM;
			io[i].iov_len = DBUF;
			memset(&mm[i], 0, sizeof(mm[i]));
			mm[i].msg_hdr.msg_iov = &io[i];
			mm[i].msg_hdr.msg_iovlen = 1;
			mm[i].msg_hdr.msg_control = &cb[i];
			mm[i].msg_hdr.msg_controllen = sizeof(cb[i]);
		}
		n = recvmmsg(fd, mm, budget < UL_RX_BATCH ? (unsigned int)budget : UL_RX_BATCH,
			     MSG_DONTWAIT | MSG_TRUNC, NULL);
		if (n <= 0)
			break;
		ul->rx_calls++;
		for (i = 0; i < n; i++)
			uplink_frame(ul, ul->rbuf + (size_t)i * RBUF, (ssize_t)mm[i].msg_len,
				     &mm[i].msg_hdr);
		budget -= n;
		if (n < UL_RX_BATCH)
			break; /* drained */
	}
	uplink_flush(ul);
	flush_rx_batches(ul->vio);
}

static bool uplink_carrier(struct uplink *ul)
{
	struct ifreq ifr = { 0 };

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ul->ifname);
	if (ioctl(ul->fd, SIOCGIFFLAGS, &ifr) < 0)
		return false;
	return (ifr.ifr_flags & IFF_UP) && (ifr.ifr_flags & IFF_RUNNING);
}

static uint32_t uplink_speed(const struct uplink *ul)
{
	char path[128];
	long s = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/net/%s/speed", ul->ifname);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%ld", &s) != 1)
			s = 0;
		fclose(f);
	}
	return s > 0 ? (uint32_t)s : 10000; /* veth reports 10000; unknown -> 10G */
}

static int uplink_open(struct xsd_vio *vio, struct uplink *ul, const char *spec)
{
	const char *eq = strchr(spec, '=');
	struct xsd_vsw_port_cfg pc = { .mode = XSD_VSW_TRUNK, .csum_offload = true, .tso = true };
	struct xsd_vsw_opts so = { .size = sizeof(so) };
	struct packet_mreq mr = { 0 };
	struct sockaddr_ll sll = { 0 };
	int one = 1, rcvbuf = 4 << 20, rc;

	if (!eq || eq == spec || (size_t)(eq - spec) > XSD_UPLINK_MAX || !eq[1] ||
	    strlen(eq + 1) >= IF_NAMESIZE)
		return -EINVAL;
	ul->vio = vio;
	snprintf(ul->name, sizeof(ul->name), "%.*s", (int)(eq - spec), spec);
	snprintf(ul->ifname, sizeof(ul->ifname), "%s", eq + 1);
	ul->ifindex = (int)if_nametoindex(ul->ifname);
	if (!ul->ifindex) {
		XS_ERR(VLOG, "uplink %s: no interface '%s'", ul->name, ul->ifname);
		return -ENODEV;
	}
	ul->rbuf = malloc((size_t)UL_RX_BATCH * RBUF);
	if (!ul->rbuf)
		return -ENOMEM;
	ul->fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (ul->fd < 0) {
		rc = -errno;
		goto fail;
	}
	/* room for a burst from the LAN (the default queue holds a few hundred
	 * small frames); SO_RCVBUFFORCE passes rmem_max where we may */
	if (setsockopt(ul->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0 &&
	    setsockopt(ul->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) < 0)
		XS_WARN(VLOG, "uplink %s: SO_RCVBUF: %s", ul->name, strerror(errno));
	if (setsockopt(ul->fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0 ||
	    setsockopt(ul->fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one)) < 0 ||
	    setsockopt(ul->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0) {
		rc = -errno;
		goto fail;
	}
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = ul->ifindex;
	if (bind(ul->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		rc = -errno;
		goto fail;
	}
	mr.mr_ifindex = ul->ifindex;
	mr.mr_type = PACKET_MR_PROMISC;
	if (setsockopt(ul->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0) {
		rc = -errno;
		goto fail;
	}
	ul->sw = xsd_vsw_create(&so);
	if (!ul->sw) {
		rc = -errno;
		goto fail;
	}
	/* the uplink is a trunk of every VLAN with VLAN 1 untagged */
	pc.native_vlan = 1;
	ul->port = xsd_vsw_port_add(ul->sw, XSD_VSW_PORT_UPLINK, &pc);
	if (ul->port < 0) {
		rc = ul->port;
		goto fail_sw;
	}
	rc = xs_loop_add_fd(vio->loop, ul->fd, XS_IO_IN, uplink_readable, ul);
	if (rc < 0)
		goto fail_sw;
	ul->carrier = uplink_carrier(ul);
	ul->speed_mbps = uplink_speed(ul);
	xsd_vsw_port_set_up(ul->sw, (uint32_t)ul->port, ul->carrier);
	XS_INFO(VLOG, "uplink %s on %s (ifindex %d): carrier %s", ul->name, ul->ifname,
		ul->ifindex, ul->carrier ? "on" : "off");
	return 0;

fail_sw:
	xsd_vsw_destroy(ul->sw);
	ul->sw = NULL;
fail:
	XS_ERR(VLOG, "uplink %s on %s: %s", ul->name, ul->ifname, xs_strerror(rc));
	close(ul->fd);
	ul->fd = -1;
	free(ul->rbuf);
	ul->rbuf = NULL;
	return rc;
}

/* ------------------------------------------------------------ vNICs */

static struct dvnic *vnic_by_rid(struct xsd_vio *vio, uint64_t rid)
{
	struct dvnic *v;

	for (v = vio->vnics; v; v = v->next)
		if (v->rid == rid)
			return v;
	return NULL;
}

static struct dvnic *vnic_by_qp(struct xsd_vio *vio, const struct xs_qp *qp)
{
	struct dvnic *v;

	if (!qp)
		return NULL;
	for (v = vio->vnics; v; v = v->next)
		if (v->cqp == qp || v->dqp == qp)
			return v;
	return NULL;
}

static void drop_dqp(struct dvnic *v)
{
	if (v->bat_open) {
		v->to_host_drops += v->bb.frames; /* never sent */
		v->bat_open = false;
	}
	if (v->dqp)
		xs_qp_destroy(v->dqp);
	v->dqp = NULL;
	v->dgen++;
	xs_vnic_sring_reset(&v->ds);
}

static void drop_cqp(struct dvnic *v)
{
	if (v->cqp)
		xs_qp_destroy(v->cqp);
	v->cqp = NULL;
	v->cgen++;
	xs_vnic_ctrl_tx_attach(&v->ctx, NULL, v->cgen);
}

static void vnic_disconnect(struct dvnic *v, const char *why)
{
	if (v->cqp || v->dqp) {
		XS_INFO(VLOG, "vNIC %s: connection closed: %s", v->cfg.name, why);
		snprintf(v->last_error, sizeof(v->last_error), "%s", why);
		v->disconnects++;
	}
	drop_cqp(v);
	drop_dqp(v);
	v->dqp_next = false;
	v->dq_since_cqp = 0;
	v->started = false;
	if (v->port >= 0 && v->ul)
		xsd_vsw_port_set_up(v->ul->sw, (uint32_t)v->port, false);
}

static void vnic_free(struct dvnic *v)
{
	struct dvnic **pp;

	for (pp = &v->vio->vnics; *pp; pp = &(*pp)->next)
		if (*pp == v) {
			*pp = v->next;
			break;
		}
	vnic_disconnect(v, "vNIC deleted");
	for (pp = &v->vio->flush_list; v->listed && *pp; pp = &(*pp)->flush_next)
		if (*pp == v) {
			*pp = v->flush_next;
			v->listed = false;
			break;
		}
	if (v->port >= 0 && v->ul) {
		xsd_vsw_port_del(v->ul->sw, (uint32_t)v->port);
		v->ul->by_port[v->port] = NULL;
	}
	if (v->cq) {
		xs_loop_del_fd(v->vio->loop, xs_cq_fd(v->cq));
		xs_cq_destroy(v->cq);
	}
	if (v->ccq) {
		xs_loop_del_fd(v->vio->loop, xs_cq_fd(v->ccq));
		xs_cq_destroy(v->ccq);
	}
	if (v->mr)
		xs_mr_dereg(v->mr);
	if (v->mem)
		munmap(v->mem, v->mem_len);
	free(v);
}

static int post_drecv(struct dvnic *v, unsigned int i)
{
	struct xs_sge sge = { (uintptr_t)drecv_buf(v, i), DBUF - HEADROOM, xs_mr_lkey(v->mr) };
	struct xs_recv_wr wr = { xs_vnic_wr_id(v->dgen, XS_VNIC_WR_DRECV, i), &sge, 1 };

	/* receive HEADROOM bytes in, so that a tag can be inserted in place */
	sge.addr += HEADROOM;
	return xs_qp_post_recv(v->dqp, &wr);
}

static int post_crecv(struct dvnic *v, unsigned int i)
{
	struct xs_sge sge = { (uintptr_t)crecv_buf(v, i), CBUF, xs_mr_lkey(v->mr) };
	struct xs_recv_wr wr = { xs_vnic_wr_id(v->cgen, XS_VNIC_WR_CRECV, i), &sge, 1 };

	return xs_qp_post_recv(v->cqp, &wr);
}

/* Make or refresh the vswitch port from the stored configuration. */
static int vnic_port(struct dvnic *v)
{
	struct xsd_vsw_port_cfg pc;
	uint16_t ids[XSD_VSW_VLAN_MAX];
	struct uplink *ul = uplink_for(v->vio, v->cfg.uplink);
	int rc;

	if (!ul)
		return -ENODEV;
	if (v->port >= 0 && v->ul != ul) {
		xsd_vsw_port_del(v->ul->sw, (uint32_t)v->port);
		v->ul->by_port[v->port] = NULL;
		v->port = -1;
	}
	v->ul = ul;
	port_cfg(&v->cfg, &pc, ids, XS_ARRAY_SIZE(ids));
	pc.csum_offload = v->tso;
	pc.tso = v->tso;
	if (v->port >= 0) {
		rc = xsd_vsw_port_update(ul->sw, (uint32_t)v->port, &pc);
	} else {
		rc = xsd_vsw_port_add(ul->sw, XSD_VSW_PORT_VNIC, &pc);
		if (rc >= 0) {
			v->port = rc;
			ul->by_port[rc] = v;
		}
	}
	return rc < 0 ? rc : 0;
}

static void handle_ctrl(struct dvnic *v, const uint8_t *buf, size_t len)
{
	struct xs_vnic_ctrl c, r = { 0 };
	int rc = xs_vnic_ctrl_decode(buf, len, &c);

	v->last_ctrl_rx = xs_loop_now(v->vio->loop);
	if (rc < 0) {
		v->ctrl_bad++;
		XS_WARN(VLOG, "vNIC %s: malformed control message (%zu bytes): %s", v->cfg.name,
			len, xs_strerror(rc));
		return;
	}
	v->ctrl_rx++;
	switch (c.type) {
	case XS_VNIC_CTRL_START_RX:
		rc = vnic_port(v);
		if (rc < 0) {
			snprintf(v->last_error, sizeof(v->last_error), "switch port: %s",
				 xs_strerror(rc));
			XS_WARN(VLOG, "vNIC %s: %s", v->cfg.name, v->last_error);
			return; /* no response: the host times out and retries */
		}
		xsd_vsw_port_set_up(v->ul->sw, (uint32_t)v->port, true);
		v->started = true;
		v->connects++;
		r.type = XS_VNIC_CTRL_START_RX_RESPONSE;
		r.u.link.speed = v->ul->carrier ? xs_vnic_speed_code(v->ul->speed_mbps)
						: XS_VNIC_SPEED_DOWN;
		ctrl_send(v, &r);
		send_link(v);
		XS_INFO(VLOG, "vNIC %s: started on uplink %s (switch port %d)", v->cfg.name,
			v->ul->name, v->port);
		break;
	case XS_VNIC_CTRL_HEART_BEAT:
		v->heartbeats++;
		r.type = XS_VNIC_CTRL_HEART_BEAT;
		ctrl_send(v, &r);
		break;
	case XS_VNIC_CTRL_MULTICAST_LIST_SEND:
		v->mcast_lists++;
		v->mcast_n = c.u.mcast.count;
		v->mcast_all = c.u.mcast.all_multi;
		if (v->port >= 0)
			xsd_vsw_port_set_mcast(v->ul->sw, (uint32_t)v->port,
					       (const uint8_t(*)[6])c.u.mcast.macs, c.u.mcast.count,
					       c.u.mcast.all_multi);
		r.type = XS_VNIC_CTRL_MULTICAST_LIST_RESPONSE;
		ctrl_send(v, &r);
		break;
	case XS_VNIC_CTRL_STATS_REQUEST: {
		struct xsd_vsw_port_stats ps = { 0 };

		if (v->port >= 0)
			xsd_vsw_port_stats(v->ul->sw, (uint32_t)v->port, &ps);
		r.type = XS_VNIC_CTRL_STATS_RESPONSE;
		r.u.stats.rx_frames = v->to_host_frames;
		r.u.stats.rx_bytes = v->to_host_bytes;
		r.u.stats.tx_frames = v->from_host_frames;
		r.u.stats.tx_bytes = v->from_host_bytes;
		r.u.stats.rx_drops = v->to_host_drops;
		r.u.stats.tx_drops = ps.rx_frames - ps.fwd_frames;
		r.u.stats.rx_errors = v->rx_errors;
		ctrl_send(v, &r);
		break;
	}
	case XS_VNIC_CTRL_STOP_RX:
	case XS_VNIC_CTRL_STOP_TX:
		v->started = false;
		if (v->port >= 0)
			xsd_vsw_port_set_up(v->ul->sw, (uint32_t)v->port, false);
		break;
	case XS_VNIC_CTRL_START_TX:
		break;
	default:
		v->ctrl_bad++;
		XS_WARN(VLOG, "vNIC %s: unexpected control message %s", v->cfg.name,
			xs_vnic_ctrl_type_name(c.type));
		break;
	}
}

/* One frame from the host's data QP (at least 4 bytes before it may be
 * overwritten). */
static void from_host_one(struct dvnic *v, uint8_t *msg, size_t len)
{
	struct virtio_net_hdr vh = { 0 }, *vhp = NULL;
	uint8_t *frame = msg;
	int rc;

	if (v->tso) {
		struct xs_vnic_tso t;

		rc = xs_vnic_tso_decode(msg, len, &t);
		if (rc < 0) {
			v->rx_errors++;
			return;
		}
		frame = msg + rc;
		len -= (size_t)rc;
		if (t.has_vlan) {
			rc = xsd_vsw_vlan_insert(&frame, len, (size_t)(frame - msg), t.tci);
			if (rc < 0) {
				v->rx_errors++;
				return;
			}
			len = (size_t)rc;
		}
		if (t.csum || t.gso) {
			if (xs_vnic_tso_to_vnet(&t, frame, len, &vh) < 0) {
				v->bad_offload++;
				v->rx_errors++;
				return;
			}
			vhp = &vh;
		}
	}
	v->from_host_frames++;
	v->from_host_bytes += len;
	forward(v->ul, (uint32_t)v->port, frame, len, vhp);
}

static void from_host_cb(void *arg, uint8_t *frame, size_t len)
{
	from_host_one(arg, frame, len);
}

/* A message from the host's data QP (HEADROOM bytes before it): one frame,
 * or with TX batching a container of frames (format bits 00 where a TSO
 * prefix has 01 or 11). The uplink's copies point into the message: they
 * leave (one sendmmsg) before it returns and the buffer is posted again. */

static void from_host(struct dvnic *v, uint8_t *msg, size_t len)
{
	int rc = xs_vnic_msg_frames(msg, len, v->txbat, from_host_cb, v);

	if (rc != 0)
		v->from_host_batches++;
	if (rc < 0)
		v->rx_errors++;
	/* the answer to a lone small frame (an ARP or ping request) is often
	 * queued by the time sendmmsg returns: take it now, without a trip
	 * through the event loop (not after a container or a large frame: a
	 * stream's answers are read by the next wake-up, many at a time) */
	if (uplink_flush(v->ul) && len <= BATCH_MAX_ENTRY && (msg[0] >> 6) != 0)
		uplink_readable(v->vio->loop, v->ul->fd, XS_IO_IN, v->ul);
	flush_rx_batches(v->vio);
}

static void poll_cq(struct dvnic *v, struct xs_cq *cq)
{
	struct xs_wc wc[32];
	int n, k;

	while ((n = xs_cq_poll(cq, wc, 32)) > 0) {
		for (k = 0; k < n; k++) {
			uint32_t gen = xs_vnic_wr_gen(wc[k].wr_id);
			unsigned int kind = xs_vnic_wr_kind(wc[k].wr_id);
			uint32_t idx = xs_vnic_wr_idx(wc[k].wr_id);
			bool data = kind == XS_VNIC_WR_DRECV || kind == XS_VNIC_WR_DSEND;

			if (gen != (data ? v->dgen : v->cgen))
				continue; /* a previous connection's work */
			if (wc[k].status != XS_WC_SUCCESS) {
				if (kind == XS_VNIC_WR_CSEND)
					xs_vnic_ctrl_tx_done(&v->ctx, gen, idx);
				if (wc[k].status != XS_WC_WR_FLUSH_ERR) {
					v->rx_errors++;
					vnic_disconnect(v, xs_wc_status_str(wc[k].status));
					return;
				}
				continue;
			}
			switch (kind) {
			case XS_VNIC_WR_DRECV:
				if (idx >= N_DRECV)
					break;
				if (v->started && v->port >= 0)
					from_host(v, drecv_buf(v, idx) + HEADROOM, wc[k].byte_len);
				else
					v->rx_errors++;
				if (v->dqp && post_drecv(v, idx) < 0) {
					vnic_disconnect(v, "cannot post a receive");
					return;
				}
				break;
			case XS_VNIC_WR_DSEND:
				xs_vnic_sring_done(&v->ds, idx);
				break;
			case XS_VNIC_WR_CRECV:
				if (idx >= N_CRECV)
					break;
				handle_ctrl(v, crecv_buf(v, idx), wc[k].byte_len);
				if (gen != v->cgen || !v->cqp)
					return;
				if (post_crecv(v, idx) < 0) {
					vnic_disconnect(v, "cannot post a control receive");
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

static void cq_readable(struct xs_loop *loop, int fd, unsigned int events, void *arg)
{
	(void)loop, (void)fd, (void)events;
	poll_cq(arg, ((struct dvnic *)arg)->cq);
}

static void ccq_readable(struct xs_loop *loop, int fd, unsigned int events, void *arg)
{
	(void)loop, (void)fd, (void)events;
	poll_cq(arg, ((struct dvnic *)arg)->ccq);
}

static struct dvnic *vnic_get(struct xsd_vio *vio, uint64_t rid, const struct xsd_vnic *cfg)
{
	struct dvnic *v = vnic_by_rid(vio, rid);

	if (v) {
		v->cfg = *cfg;
		return v;
	}
	v = calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	v->vio = vio;
	v->rid = rid;
	v->cfg = *cfg;
	v->port = -1;
	v->cgen = v->dgen = 1;
	v->mem_len = (size_t)(N_DRECV + N_DSEND) * DBUF + (size_t)(N_CRECV + N_CSEND) * CBUF;
	v->mem = mmap(NULL, v->mem_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (v->mem == MAP_FAILED) {
		free(v);
		return NULL;
	}
	v->mr = xs_mr_reg(vio->pd, v->mem, v->mem_len, XS_ACCESS_LOCAL_WRITE);
	if (v->mr)
		xs_vnic_ctrl_tx_init(&v->ctx, csend_buf(v, 0), xs_mr_lkey(v->mr), N_CSEND);
	xs_vnic_sring_init(&v->ds, N_DSEND, SIG_EVERY);
	v->cq = xs_cq_create(vio->fabric, 2 * (N_DRECV + N_DSEND) + 16);
	v->ccq = xs_cq_create(vio->fabric, 2 * (N_CRECV + N_CSEND) + 16);
	if (!v->mr || !v->cq || !v->ccq ||
	    xs_loop_add_fd(vio->loop, xs_cq_fd(v->cq), XS_IO_IN, cq_readable, v) < 0) {
		if (v->cq)
			xs_cq_destroy(v->cq);
		if (v->ccq)
			xs_cq_destroy(v->ccq);
		if (v->mr)
			xs_mr_dereg(v->mr);
		munmap(v->mem, v->mem_len);
		free(v);
		return NULL;
	}
	if (xs_loop_add_fd(vio->loop, xs_cq_fd(v->ccq), XS_IO_IN, ccq_readable, v) < 0) {
		xs_loop_del_fd(vio->loop, xs_cq_fd(v->cq));
		xs_cq_destroy(v->cq);
		xs_cq_destroy(v->ccq);
		xs_mr_dereg(v->mr);
		munmap(v->mem, v->mem_len);
		free(v);
		return NULL;
	}
	v->next = vio->vnics;
	vio->vnics = v;
	return v;
}

static void on_connect_request(struct xsd_vio *vio, const struct xs_event *ev)
{
	struct xs_cm_req_info info;
	struct xs_vnic_cm_priv p;
	struct xsd_vnic cfg;
	struct xs_qp_attr qa = { 0 };
	struct dvnic *v;
	struct xs_qp *qp;
	unsigned int i;
	int rc;

	if (xs_cm_req_info(ev->req, &info) < 0 ||
	    xs_vnic_cm_priv_decode(info.private_data, info.private_len, &p) < 0) {
		vio->bad_priv++;
		vio->rejects++;
		XS_WARN(VLOG, "connect request with malformed private data rejected");
		xs_cm_reject(ev->req, XS_CM_REJ_CONSUMER, NULL, 0);
		return;
	}
	if (vnic_lookup(vio, p.vid, &cfg) < 0) {
		vio->rejects++;
		XS_WARN(VLOG, "connect request for unknown vNIC 0x%016" PRIx64 " rejected", p.vid);
		xs_cm_reject(ev->req, XS_CM_REJ_CONSUMER, NULL, 0);
		return;
	}
	v = vnic_get(vio, p.vid, &cfg);
	if (!v) {
		vio->rejects++;
		xs_cm_reject(ev->req, XS_CM_REJ_CONSUMER, NULL, 0);
		return;
	}
	if (p.qp_type == XS_VNIC_QP_CONTROL && v->dqp && v->dqp_next) {
		/* the data request of this attempt overtook its control request
		 * (both are sent at once; over rdma_cm either may arrive first):
		 * keep that data connection, end only the previous control one */
		if (v->cqp)
			XS_INFO(VLOG, "vNIC %s: previous control connection closed: host reconnected",
				cfg.name);
		drop_cqp(v);
		v->started = false;
		if (v->port >= 0 && v->ul)
			xsd_vsw_port_set_up(v->ul->sw, (uint32_t)v->port, false);
		v->dqp_kept++;
		v->dqp_next = false;
		v->dq_since_cqp = 1;
		XS_DEBUG(VLOG, "vNIC %s: data connection came first; paired with this control one",
			 cfg.name);
	} else if (p.qp_type == XS_VNIC_QP_CONTROL) {
		/* a new control connection starts a new session of the vNIC */
		vnic_disconnect(v, "host reconnected");
	} else {
		/* a data connection of a new attempt: none is paired yet, or the
		 * control connection there has had its data connection */
		bool next = !v->cqp || v->dq_since_cqp > 0;

		drop_dqp(v);
		v->dqp_next = next;
		v->dq_since_cqp++;
		if (next && v->started) {
			v->started = false;
			if (v->port >= 0 && v->ul)
				xsd_vsw_port_set_up(v->ul->sw, (uint32_t)v->port, false);
		}
		/* we take TSO (checksum offload with it) and, with TSO only (a
		 * message then starts with a prefix or a batch entry header, told
		 * apart by the format bits), TX and RX batching */
		v->tso = (p.data_qp_flags & XS_VNIC_DQP_TSO) != 0;
		v->txbat = v->tso && (p.data_qp_flags & XS_VNIC_DQP_TXBAT);
		v->rxbat = v->tso && (p.data_qp_flags & XS_VNIC_DQP_RXBAT);
		p.data_qp_flags &= XS_VNIC_DQP_TSO | (v->txbat ? XS_VNIC_DQP_TXBAT : 0) |
				   (v->rxbat ? XS_VNIC_DQP_RXBAT : 0);
		xs_vnic_cm_priv_encode(&p, info.private_data, XS_VNIC_CM_PRIV_LEN);
	}
	qa.pd = vio->pd;
	qa.send_cq = p.qp_type == XS_VNIC_QP_CONTROL ? v->ccq : v->cq;
	qa.recv_cq = qa.send_cq;
	qa.max_send_wr = p.qp_type == XS_VNIC_QP_CONTROL ? N_CSEND + 2 : N_DSEND + 2;
	qa.max_recv_wr = p.qp_type == XS_VNIC_QP_CONTROL ? N_CRECV : N_DRECV;
	qa.max_sge = 1;
	qa.context = v;
	qp = xs_qp_create(vio->fabric, &qa);
	if (!qp) {
		vio->rejects++;
		xs_cm_reject(ev->req, XS_CM_REJ_CONSUMER, NULL, 0);
		return;
	}
	if (p.qp_type == XS_VNIC_QP_CONTROL) {
		v->cqp = qp;
		xs_vnic_ctrl_tx_attach(&v->ctx, qp, v->cgen);
		for (i = 0; i < N_CRECV; i++)
			post_crecv(v, i);
	} else {
		v->dqp = qp;
		for (i = 0; i < N_DRECV; i++)
			post_drecv(v, i);
	}
	rc = xs_qp_accept(qp, ev->req, info.private_data, XS_VNIC_CM_PRIV_LEN);
	if (rc < 0) {
		XS_WARN(VLOG, "vNIC %s: accept: %s", cfg.name, xs_strerror(rc));
		vnic_disconnect(v, "accept failed");
		return;
	}
	v->last_ctrl_rx = xs_loop_now(vio->loop);
	XS_DEBUG(VLOG, "vNIC %s: %s connection accepted", cfg.name,
		 p.qp_type == XS_VNIC_QP_CONTROL ? "control" : "data");
}

bool xsd_vio_fabric_event(struct xsd_vio *vio, const struct xs_event *ev)
{
	struct dvnic *v;

	if (!vio)
		return false;
	if (ev->type == XS_EV_CONNECT_REQUEST) {
		if (ev->listener != vio->listener)
			return false;
		on_connect_request(vio, ev);
		return true;
	}
	v = vnic_by_qp(vio, ev->qp);
	if (!v)
		return false;
	switch (ev->type) {
	case XS_EV_DISCONNECTED:
	case XS_EV_UNREACHABLE:
	case XS_EV_REJECTED:
		if (ev->qp == v->cqp && v->dqp && v->dqp_next) {
			/* the end of the previous attempt's control connection: the
			 * data connection of the next one stays */
			XS_INFO(VLOG, "vNIC %s: previous control connection closed: host disconnected",
				v->cfg.name);
			drop_cqp(v);
			v->started = false;
			break;
		}
		vnic_disconnect(v, "host disconnected");
		break;
	default:
		break;
	}
	return true;
}

/* ------------------------------------------------------------ periodic */

static void on_tick(struct xs_loop *loop, struct xs_timer *t, void *arg)
{
	struct xsd_vio *vio = arg;
	uint64_t now = xs_loop_now(loop), limit = (uint64_t)vio->hb_ms * 7 / 2;
	struct dvnic *v, *next;
	int i;

	(void)t;
	for (i = 0; i < vio->n_uplinks; i++) {
		struct uplink *ul = &vio->uplinks[i];
		bool c = uplink_carrier(ul);

		if (c == ul->carrier)
			continue;
		ul->carrier = c;
		ul->link_changes++;
		if (c)
			ul->speed_mbps = uplink_speed(ul);
		XS_NOTICE(VLOG, "uplink %s (%s): link %s", ul->name, ul->ifname, c ? "up" : "down");
		xsd_vsw_port_set_up(ul->sw, (uint32_t)ul->port, c);
		for (v = vio->vnics; v; v = v->next)
			if (v->ul == ul && v->started)
				send_link(v);
	}
	for (v = vio->vnics; v; v = next) {
		next = v->next;
		if (v->cqp && now - v->last_ctrl_rx > limit)
			vnic_disconnect(v, "no heartbeat from the host");
	}
	for (i = 0; i < vio->n_uplinks; i++)
		xsd_vsw_age(vio->uplinks[i].sw, now_ns());
}

/* ------------------------------------------------------------ operator */

void xsd_vio_vnic_changed(struct xsd_vio *vio, uint64_t resource_id, bool deleted)
{
	struct dvnic *v;
	struct xsd_vnic cfg;

	if (!vio)
		return;
	v = vnic_by_rid(vio, resource_id);
	if (!v)
		return;
	if (deleted || vnic_lookup(vio, resource_id, &cfg) < 0) {
		vnic_free(v);
		return;
	}
	v->cfg = cfg;
	if (v->port >= 0) {
		int rc = vnic_port(v);

		if (rc < 0)
			XS_WARN(VLOG, "vNIC %s: switch port update: %s", cfg.name, xs_strerror(rc));
		else if (v->started)
			send_link(v);
	}
}

static json_t *drops_json(const uint64_t *d)
{
	json_t *o = json_object();
	int i;

	for (i = 1; i < XSD_VSW_DROP_N_REASONS; i++)
		if (d[i])
			json_object_set_new(o, xsd_vsw_drop_name((enum xsd_vsw_drop)i),
					    json_integer((json_int_t)d[i]));
	return o;
}

json_t *xsd_vio_vnic_json(struct xsd_vio *vio, uint64_t resource_id)
{
	struct xsd_vsw_port_stats ps = { 0 };
	struct dvnic *v;
	json_t *o;

	if (!vio || !(v = vnic_by_rid(vio, resource_id)))
		return NULL;
	if (v->port >= 0)
		xsd_vsw_port_stats(v->ul->sw, (uint32_t)v->port, &ps);
	o = json_pack("{s:s,s:s,s:s,s:i,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,"
		      "s:I,s:b,s:I,s:b,s:I,s:b,s:I,s:s}",
		      "state", v->started ? "up" : (v->cqp || v->dqp) ? "connecting" : "down",
		      "uplink", v->ul ? v->ul->name : "", "uplink_link",
		      v->ul ? (v->ul->carrier ? "up" : "down") : "-", "switch_port", v->port,
		      "from_host_frames", (json_int_t)v->from_host_frames,
		      "from_host_bytes", (json_int_t)v->from_host_bytes,
		      "to_host_frames", (json_int_t)v->to_host_frames,
		      "to_host_bytes", (json_int_t)v->to_host_bytes,
		      "to_host_drops", (json_int_t)v->to_host_drops,
		      "rx_errors", (json_int_t)v->rx_errors,
		      "ctrl_rx", (json_int_t)v->ctrl_rx, "ctrl_tx", (json_int_t)v->ctrl_tx,
		      "ctrl_bad", (json_int_t)v->ctrl_bad, "heartbeats", (json_int_t)v->heartbeats,
		      "connects", (json_int_t)v->connects,
		      "disconnects", (json_int_t)v->disconnects,
		      "mcast_lists", (json_int_t)v->mcast_lists,
		      "rate_yellow_in", (json_int_t)ps.rate_yellow_in,
		      "rate_yellow_out", (json_int_t)ps.rate_yellow_out,
		      "tso", v->tso, "bad_offload", (json_int_t)v->bad_offload,
		      "tx_batching", v->txbat, "from_host_batches", (json_int_t)v->from_host_batches,
		      "rx_batching", v->rxbat, "to_host_batches", (json_int_t)v->to_host_batches,
		      "last_error", v->last_error);
	if (!o)
		return NULL;
	json_object_set_new(o, "port", json_pack("{s:I,s:I,s:I,s:I,s:I}", "rx_frames",
						  (json_int_t)ps.rx_frames, "rx_bytes",
						  (json_int_t)ps.rx_bytes, "tx_frames",
						  (json_int_t)ps.tx_frames, "tx_bytes",
						  (json_int_t)ps.tx_bytes, "fwd_frames",
						  (json_int_t)ps.fwd_frames));
	json_object_set_new(o, "data_first", json_integer((json_int_t)v->dqp_kept));
	json_object_set_new(o, "multicast_groups", json_integer(v->mcast_n));
	json_object_set_new(o, "all_multicast", json_boolean(v->mcast_all));
	json_object_set_new(o, "drops_in", drops_json(ps.drops));
	json_object_set_new(o, "drops_out", drops_json(ps.drops_out));
	return o;
}

json_t *xsd_vio_stats_json(struct xsd_vio *vio)
{
	json_t *o = json_object(), *a = json_array();
	int i;

	if (!vio)
		return o;
	for (i = 0; i < vio->n_uplinks; i++) {
		struct uplink *ul = &vio->uplinks[i];
		struct xsd_vsw_stats ss;

		json_t *u;

		xsd_vsw_stats(ul->sw, &ss);
		u = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "name",
			      ul->name, "interface", ul->ifname, "link",
			      ul->carrier ? "up" : "down", "rx_frames",
			      (json_int_t)ul->rx_frames, "rx_bytes", (json_int_t)ul->rx_bytes,
			      "tx_frames", (json_int_t)ul->tx_frames, "tx_bytes",
			      (json_int_t)ul->tx_bytes, "tx_errors", (json_int_t)ul->tx_errors,
			      "rx_errors", (json_int_t)ul->rx_errors, "vnic_to_vnic",
			      (json_int_t)ss.vnic_to_vnic, "flooded", (json_int_t)ss.flooded,
			      "takeovers", (json_int_t)ss.takeovers, "link_changes",
			      (json_int_t)ul->link_changes);
		if (!u)
			continue;
		/* system calls that moved the frames (recvmmsg / sendmmsg) */
		json_object_set_new(u, "rx_calls", json_integer((json_int_t)ul->rx_calls));
		json_object_set_new(u, "tx_calls", json_integer((json_int_t)ul->tx_calls));
		json_array_append_new(a, u);
	}
	json_object_set_new(o, "vio_uplinks", a);
	json_object_set_new(o, "vio_rejects", json_integer((json_int_t)vio->rejects));
	json_object_set_new(o, "vio_bad_private_data", json_integer((json_int_t)vio->bad_priv));
	return o;
}

/* ------------------------------------------------------------ life */

struct xsd_vio *xsd_vio_new(struct xs_loop *loop, struct xs_fabric *fabric,
			    struct xsd_store *store, const struct xsd_vio_opts *opts)
{
	struct xsd_vio *vio = calloc(1, sizeof(*vio));
	int i, rc = -ENOMEM;

	if (!vio)
		return NULL;
	vio->loop = loop;
	vio->fabric = fabric;
	vio->store = store;
	vio->hb_ms = opts && opts->heartbeat_ms > 0 ? opts->heartbeat_ms : 1000;
	for (i = 0; i < XSD_VIO_MAX_UPLINKS; i++)
		vio->uplinks[i].fd = -1;
	vio->seg_buf = malloc(4 * DBUF);
	vio->pd = xs_pd_alloc(fabric);
	vio->tick = xs_timer_new(loop, on_tick, vio);
	if (!vio->seg_buf || !vio->pd || !vio->tick)
		goto fail;
	for (i = 0; opts && i < opts->n_uplinks && i < XSD_VIO_MAX_UPLINKS; i++) {
		rc = uplink_open(vio, &vio->uplinks[i], opts->uplinks[i]);
		if (rc < 0)
			goto fail;
		vio->n_uplinks++;
	}
	vio->listener = xs_cm_listen(fabric, XS_VNIC_SERVICE_ID);
	if (!vio->listener) {
		rc = -errno;
		goto fail;
	}
	xs_timer_arm(vio->tick, 200, 200);
	return vio;
fail:
	xsd_vio_free(vio);
	errno = -rc;
	return NULL;
}

void xsd_vio_free(struct xsd_vio *vio)
{
	int i;

	if (!vio)
		return;
	while (vio->vnics)
		vnic_free(vio->vnics);
	if (vio->listener)
		xs_cm_listener_close(vio->listener);
	for (i = 0; i < vio->n_uplinks; i++) {
		xs_loop_del_fd(vio->loop, vio->uplinks[i].fd);
		close(vio->uplinks[i].fd);
		xsd_vsw_destroy(vio->uplinks[i].sw);
		free(vio->uplinks[i].rbuf);
	}
	if (vio->tick)
		xs_timer_free(vio->tick);
	if (vio->pd)
		xs_pd_free(vio->pd);
	free(vio->seg_buf);
	free(vio);
}
