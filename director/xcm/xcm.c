/* SPDX-License-Identifier: MIT */
/*
 * xcm.c - XSMP sessions, director side.
 *
 * Session states (one function, sess_set_state, moves between them):
 *   ACCEPTING  --(XS_EV_ESTABLISHED, or a first message before it)-->  WAIT_REGISTER
 *   WAIT_REGISTER --(REGISTER ok)--> UP --(sync, pushes, HELLO)--> ...
 *   any --(REG_REJECT sent, SHUTDOWN, hello timeout, transport error,
 *          replaced by a newer connection of the same host)--> CLOSING
 *   CLOSING --(QP destroyed)--> freed
 *
 * Per session the XCM keeps what it last sent for each device (the encoded
 * 512-byte body): reconcile() compares that with the store and sends
 * exactly the INSTALL / UPDATE / DELETE needed. A new session starts empty
 * and is synchronised with SYNC_BEGIN, one INSTALL per device, SYNC_END for
 * every ULP type the host announced, so the host keeps identical devices,
 * updates changed ones and removes the rest.
 *
 * All sessions share one PD and one CQ (one fd for the event loop); a work
 * request id carries the session's slot index and serial number, so a late
 * completion of a destroyed session is recognised and dropped.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xscore/common.h>
#include <xscore/log.h>
#include <xscore/wire.h>
#include <xscore/xsmp_ulp.h>

#include "xcm/xcm.h"

#define COMP "xcm"

#define N_RECV 16
#define N_SEND 16
#define BUF_SZ XS_XSMP_MAX_MSG
#define REGISTER_TIMEOUT_MS 10000
#define CLOSE_GRACE_MS 1000
#define OUTQ_MAX 8192
#define CQ_PER_SESSION (N_RECV + N_SEND)
#define XSMP_CM_PRIVATE_LEN 25

/* reject reasons (docs/protocol.md) */
#define REJ_UNKNOWN_HOST 1
#define REJ_VERSION 2
#define REJ_LIMIT 3

enum sess_state {
	S_ACCEPTING,
	S_WAIT_REGISTER,
	S_UP,
	S_CLOSING,
};

static const char *const sess_state_name[] = {
	[S_ACCEPTING] = "connecting",
	[S_WAIT_REGISTER] = "registering",
	[S_UP] = "up",
	[S_CLOSING] = "closing",
};

enum dev_state {
	D_PENDING,    /* sent, no answer yet */
	D_ACKED,
	D_NACKED,
	D_DELETING,   /* DELETE sent */
};

struct sdev {
	struct sdev *next;
	uint64_t rid;
	uint8_t type;            /* XS_XSMP_VNIC / XS_XSMP_VHBA */
	uint8_t pending_code;    /* message code awaiting a reply, 0 none */
	enum dev_state st;
	uint8_t oper;            /* from RESOURCE_LIST / OPER_*: enum xs_res_state, 0 unknown */
	bool seen;               /* reconcile mark */
	char name[XS_ULP_NAME_LEN + 1];
	char reason[XS_ULP_REASON_TEXT_LEN + 1];
	uint8_t body[XS_VNIC_MSG_LEN]; /* last body sent (vNIC and vHBA are both 512) */
};

struct outmsg {
	struct outmsg *next;
	uint16_t len;
	uint8_t data[];
};

struct host;

struct sess {
	struct xsd_xcm *x;
	uint32_t idx, serial;
	enum sess_state state;
	struct xs_qp *qp;
	struct xs_mr *mr;
	uint8_t *buf;              /* N_RECV + N_SEND slots */
	uint32_t send_busy;
	struct outmsg *outq, **outq_tail;
	unsigned int outq_len;
	bool close_after_send;     /* REG_REJECT / SHUTDOWN: disconnect once sent */
	bool disconnected;
	struct xs_timer *timer;
	uint64_t remote_guid;      /* 0 until known (RoCE: from REGISTER's XSMP header) */
	uint16_t remote_lid;       /* 0: unknown (always on RoCE) */
	uint8_t remote_gid[16];
	bool roce;                 /* the director's port is Ethernet (RoCE) */
	char name[33];             /* session_name (hostname) */
	char profile[XSD_NAME_MAX + 1];
	uint32_t resource_flags;
	uint32_t hello_s;
	uint32_t seq_out;
	uint64_t created_ms, up_ms, last_rx_ms, last_hello_ms;
	struct host *host;
	struct sdev *devs;
	uint16_t held, held_acc;   /* RESOURCE_LIST totals */
	uint64_t bad_msgs;
	char close_reason[96];
};

struct host {
	struct host *next;
	char name[33];
	uint64_t port_guid;
	uint16_t lid;
	char state[16];            /* up / down / rejected */
	char reason[128];
	char profile[XSD_NAME_MAX + 1];
	uint64_t up_ms, last_hello_ms, last_change_ms;
	uint64_t last_change_wall; /* unix seconds, for the store */
	uint32_t accepted;         /* sessions accepted */
	uint32_t reconnects;
	uint16_t held;
	struct sess *sess;
};

struct waiter {
	struct waiter *next;
	struct wait_group *g;
	uint32_t sess_idx, sess_serial;
	uint8_t type, code;
	uint64_t rid;
	char device[24];
	char host[33];
	const char *action;
};

struct wait_group {
	struct xsd_xcm *x;
	struct xsd_ctl_req *req;
	struct xs_timer *timer;
	uint64_t rid;              /* the device the operator changed, 0 none */
	int n;
};

struct xsd_xcm {
	struct xs_loop *loop;
	struct xs_fabric *fabric;
	struct xs_port_attr port;
	struct xsd_store *store;
	struct xsd_xcm_opts opts;
	char chassis[33];
	struct xs_cm_listener *listener;
	struct xs_pd *pd;
	struct xs_cq *cq;
	struct sess **slots;
	uint32_t n_slots, next_serial;
	int n_sessions;
	struct host *hosts;
	uint32_t n_hosts;
	struct xs_timer *hosts_timer;  /* saves the host records, at most once a second */
	bool hosts_dirty;
	struct waiter *waiters;
	bool shutting_down;
	struct {
		uint64_t accepted, rejected, registered, hello_timeouts, bad_msgs, acks, nacks,
			cm_rejects;
	} ctr;
};

static void sess_close(struct sess *s, const char *why);
static void sess_reap(struct sess *s);
static void reconcile(struct sess *s, const struct xsd_change *chg, struct wait_group *g);

/* ------------------------------------------------------------ helpers */

static uint8_t *slot_buf(struct sess *s, unsigned int i)
{
	return s->buf + (size_t)i * BUF_SZ;
}

static uint64_t wr_id(struct sess *s, unsigned int slot)
{
	return (uint64_t)s->serial << 32 | (uint64_t)s->idx << 8 | slot;
}

static struct sess *sess_by_wr(struct xsd_xcm *x, uint64_t id, unsigned int *slot)
{
	uint32_t idx = (uint32_t)(id >> 8) & 0xffffff, serial = (uint32_t)(id >> 32);
	struct sess *s;

	if (idx >= x->n_slots)
		return NULL;
	s = x->slots[idx];
	if (!s || s->serial != serial)
		return NULL;
	*slot = (unsigned int)(id & 0xff);
	return s;
}

/* Text from a host (names, reasons) goes into logs and JSON replies: keep
 * printable ASCII, replace every other byte with '?'. */
static void text_clean(char *t)
{
	for (; *t; t++)
		if ((unsigned char)*t < 0x20 || (unsigned char)*t > 0x7e)
			*t = '?';
}

static const char *host_label(const struct sess *s)
{
	return s->name[0] ? s->name : "?";
}

/* Where a connection came from, for logs: "LID 5" on InfiniBand, the GID
 * on RoCE (where the CM's LID field holds no address), "address unknown"
 * when the fabric gave nothing usable (0 / all-zero). */
static const char *peer_text(bool roce, uint16_t lid, const uint8_t gid[16], char *buf,
			     size_t cap)
{
	static const uint8_t zero[16];

	if (!roce && lid) {
		snprintf(buf, cap, "LID %u", lid);
		return buf;
	}
	if (!roce || !memcmp(gid, zero, 16)) {
		snprintf(buf, cap, "address unknown");
		return buf;
	}
	snprintf(buf, cap, "GID %02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x",
		 gid[0], gid[1], gid[2], gid[3], gid[4], gid[5], gid[6], gid[7], gid[8], gid[9],
		 gid[10], gid[11], gid[12], gid[13], gid[14], gid[15]);
	return buf;
}

static const char *sess_peer(const struct sess *s, char *buf, size_t cap)
{
	return peer_text(s->roce, s->remote_lid, s->remote_gid, buf, cap);
}

/* Host records outlive sessions (for `xcm show hosts`); bounded so that
 * hosts with ever new names cannot grow the list without end: past the
 * bound the record changed longest ago and without a session goes. */
#define MAX_HOST_RECORDS 8192

static void host_evict_one(struct xsd_xcm *x)
{
	struct host **victim = NULL;

	for (struct host **pp = &x->hosts; *pp; pp = &(*pp)->next)
		if (!(*pp)->sess && (!victim || (*pp)->last_change_ms < (*victim)->last_change_ms))
			victim = pp;
	if (victim) {
		struct host *h = *victim;

		*victim = h->next;
		free(h);
		x->n_hosts--;
	}
}

/* Host records are saved to the store (schema v2) so that `xcm show hosts`
 * and the reconnect counts survive a director restart. Saving is batched:
 * a change marks the list dirty and the whole list is written in one
 * transaction at most once a second (a thousand hosts registering together
 * cost one fsync, not a thousand), and once more when the XCM is freed. A
 * director killed with SIGKILL loses at most the last second of host
 * bookkeeping, never configuration. */
#define HOSTS_SAVE_MS 1000

static void hosts_save(struct xsd_xcm *x)
{
	struct xsd_host_rec *recs;
	struct xsd_err err = { 0 };
	size_t n = 0;

	x->hosts_dirty = false;
	recs = calloc(x->n_hosts ? x->n_hosts : 1, sizeof(*recs));
	if (!recs) {
		XS_WARN(COMP, "host records not saved: out of memory");
		return;
	}
	for (struct host *h = x->hosts; h && n < x->n_hosts; h = h->next, n++) {
		struct xsd_host_rec *r = &recs[n];

		snprintf(r->name, sizeof(r->name), "%s", h->name);
		r->port_guid = h->port_guid;
		r->lid = h->lid;
		snprintf(r->profile, sizeof(r->profile), "%s", h->profile);
		snprintf(r->state, sizeof(r->state), "%s", h->state);
		snprintf(r->reason, sizeof(r->reason), "%s", h->reason);
		r->accepted = h->accepted;
		r->reconnects = h->reconnects;
		r->last_change = h->last_change_wall;
	}
	if (xsd_store_hosts_replace(x->store, recs, n, &err) < 0)
		XS_WARN(COMP, "host records not saved: %s", err.msg);
	free(recs);
}

static void hosts_timer_cb(struct xs_loop *loop, struct xs_timer *t, void *arg)
{
	struct xsd_xcm *x = arg;

	if (x->hosts_dirty)
		hosts_save(x);
}

static void hosts_changed(struct xsd_xcm *x)
{
	if (x->hosts_dirty)
		return;
	x->hosts_dirty = true;
	xs_timer_arm(x->hosts_timer, HOSTS_SAVE_MS, 0);
}

static void host_touch(struct xsd_xcm *x, struct host *h)
{
	h->last_change_ms = xs_loop_now(x->loop);
	h->last_change_wall = (uint64_t)time(NULL);
	hosts_changed(x);
}

static struct host *host_get(struct xsd_xcm *x, const char *name)
{
	struct host *h;

	for (h = x->hosts; h; h = h->next)
		if (!strcmp(h->name, name))
			return h;
	if (x->n_hosts >= MAX_HOST_RECORDS)
		host_evict_one(x);
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	snprintf(h->name, sizeof(h->name), "%s", name);
	snprintf(h->state, sizeof(h->state), "new");
	/* keep the list sorted by name: `xcm show hosts` lists it as is */
	{
		struct host **pp = &x->hosts;

		while (*pp && strcmp((*pp)->name, name) < 0)
			pp = &(*pp)->next;
		h->next = *pp;
		*pp = h;
	}
	x->n_hosts++;
	return h;
}

/* ------------------------------------------------------------ sending */

static int post_send_raw(struct sess *s, const uint8_t *msg, size_t len)
{
	struct xs_sge sge;
	struct xs_send_wr wr = { 0 };
	unsigned int i;

	for (i = 0; i < N_SEND; i++)
		if (!(s->send_busy & (1u << i)))
			break;
	if (i == N_SEND)
		return -ENOBUFS;
	memcpy(slot_buf(s, N_RECV + i), msg, len);
	sge.addr = (uint64_t)(uintptr_t)slot_buf(s, N_RECV + i);
	sge.length = (uint32_t)len;
	sge.lkey = xs_mr_lkey(s->mr);
	wr.wr_id = wr_id(s, N_RECV + i);
	wr.opcode = XS_WR_SEND;
	wr.sg_list = &sge;
	wr.num_sge = 1;
	wr.flags = XS_SEND_SIGNALED;
	s->send_busy |= 1u << i;
	if (xs_qp_post_send(s->qp, &wr) < 0) {
		s->send_busy &= ~(1u << i);
		return -EIO;
	}
	return 0;
}

/* Send a complete XSMP message (header included), queueing when all send
 * slots are in flight. */
static int sess_send(struct sess *s, uint8_t type, const uint8_t *body, size_t blen)
{
	uint8_t msg[XS_XSMP_MAX_MSG];
	struct xs_xsmp_hdr h = {
		.type = type,
		.length = (uint16_t)(XS_XSMP_HDR_LEN + blen),
		.seq = ++s->seq_out,
		.src = { 0, s->x->port.port_guid },
		.dst = { 0, s->remote_guid },
	};
	int rc;

	if (s->state == S_CLOSING || s->disconnected)
		return -ENOTCONN;
	if (XS_XSMP_HDR_LEN + blen > sizeof(msg))
		return -EMSGSIZE;
	rc = xs_xsmp_hdr_encode(&h, msg, sizeof(msg));
	if (rc < 0)
		return rc;
	memcpy(msg + XS_XSMP_HDR_LEN, body, blen);
	if (!s->outq) {
		rc = post_send_raw(s, msg, h.length);
		if (rc != -ENOBUFS)
			return rc;
	}
	if (s->outq_len >= OUTQ_MAX)
		return -ENOBUFS;
	{
		struct outmsg *m = malloc(sizeof(*m) + h.length);

		if (!m)
			return -ENOMEM;
		m->next = NULL;
		m->len = h.length;
		memcpy(m->data, msg, h.length);
		*s->outq_tail = m;
		s->outq_tail = &m->next;
		s->outq_len++;
	}
	return 0;
}

static void outq_drain(struct sess *s)
{
	while (s->outq) {
		struct outmsg *m = s->outq;

		if (post_send_raw(s, m->data, m->len) < 0)
			return;
		s->outq = m->next;
		if (!s->outq)
			s->outq_tail = &s->outq;
		s->outq_len--;
		free(m);
	}
}

static void outq_free(struct sess *s)
{
	while (s->outq) {
		struct outmsg *m = s->outq;

		s->outq = m->next;
		free(m);
	}
	s->outq_tail = &s->outq;
	s->outq_len = 0;
}

static int send_session(struct sess *s, uint8_t code, uint8_t ack, uint32_t version,
			uint32_t reason, const char *text)
{
	struct xs_xsmp_session b = { 0 };
	uint8_t body[XS_XSMP_SESSION_LEN];
	int rc;

	b.type = code;
	b.code = ack;
	b.version = version;
	b.xsmp_version = XS_XSMP_VERSION;
	b.resource_flags = s->resource_flags;
	snprintf(b.chassis_name, sizeof(b.chassis_name), "%s", s->x->chassis);
	snprintf(b.session_name, sizeof(b.session_name), "%.32s", s->name);
	b.reason = reason;
	if (text)
		snprintf(b.reason_text, sizeof(b.reason_text), "%.64s", text);
	rc = xs_xsmp_session_encode(&b, body, sizeof(body));
	if (rc < 0)
		return rc;
	return sess_send(s, XS_XSMP_SESSION, body, (size_t)rc);
}

/* ------------------------------------------------------------ waiters */

static json_t *hook_device_status(void *arg, uint64_t rid);

static void group_put(struct wait_group *g)
{
	json_t *dev;

	if (--g->n > 0)
		return;
	/* the device in the reply shows the status after the host's answer */
	dev = json_object_get(g->req->reply, "vnic");
	if (!dev)
		dev = json_object_get(g->req->reply, "vhba");
	if (dev && g->rid)
		json_object_set_new(dev, "status", hook_device_status(g->x, g->rid));
	xs_timer_free(g->timer);
	xsd_ctl_req_put(g->req);
	free(g);
}

static void waiter_done(struct xsd_xcm *x, struct waiter *w, const char *result,
			const char *reason)
{
	for (struct waiter **pp = &x->waiters; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	xsd_ctl_req_push_result(w->g->req, w->device, w->host, w->action, result, reason);
	group_put(w->g);
	free(w);
}

static void group_timeout(struct xs_loop *loop, struct xs_timer *t, void *arg)
{
	struct wait_group *g = arg;
	struct xsd_xcm *x = g->x;
	char secs[16];
	struct waiter *w, *next;

	snprintf(secs, sizeof(secs), "%d s", (x->opts.push_wait_ms + 500) / 1000);
	g->n++; /* keep g alive while we finish its waiters */
	for (w = x->waiters; w; w = next) {
		next = w->next;
		if (w->g == g)
			waiter_done(x, w, "timeout", secs);
	}
	group_put(g);
}

static void waiter_add(struct wait_group *g, struct sess *s, uint8_t type, uint8_t code,
		       uint64_t rid, const char *name, const char *action)
{
	struct waiter *w = calloc(1, sizeof(*w));

	if (!w)
		return;
	w->g = g;
	w->sess_idx = s->idx;
	w->sess_serial = s->serial;
	w->type = type;
	w->code = code;
	w->rid = rid;
	w->action = action;
	snprintf(w->device, sizeof(w->device), "%s %s", type == XS_XSMP_VNIC ? "vnic" : "vhba",
		 name);
	snprintf(w->host, sizeof(w->host), "%s", host_label(s));
	g->n++;
	w->next = g->x->waiters;
	g->x->waiters = w;
}

static void waiters_reply(struct sess *s, uint8_t type, uint8_t code, uint64_t rid, bool ack,
			  const char *reason)
{
	struct xsd_xcm *x = s->x;
	struct waiter *w, *next;

	for (w = x->waiters; w; w = next) {
		next = w->next;
		if (w->sess_idx == s->idx && w->sess_serial == s->serial && w->type == type &&
		    w->code == code && w->rid == rid)
			waiter_done(x, w, ack ? "acknowledged" : "nack", reason);
	}
}

static void waiters_session_lost(struct sess *s)
{
	struct xsd_xcm *x = s->x;
	struct waiter *w, *next;

	for (w = x->waiters; w; w = next) {
		next = w->next;
		if (w->sess_idx == s->idx && w->sess_serial == s->serial)
			waiter_done(x, w, "session lost", s->close_reason);
	}
}

/* ------------------------------------------------------ device bodies */

static void vnic_body(struct xsd_xcm *x, const struct xsd_vnic *v, struct xs_vnic_msg *m)
{
	char ids[XSD_VLANS_TEXT];
	const char *p;
	unsigned int n = 0;

	memset(m, 0, sizeof(*m));
	m->type = XS_VNIC_INSTALL;
	m->resource_id = v->resource_id;
	m->tca_guid = x->port.port_guid;
	m->tca_lid = x->port.lid;
	memcpy(m->mac, v->mac, 6);
	m->admin_rate = (uint16_t)v->pir_mbps;
	m->admin_state = v->admin_up ? XS_ADMIN_UP : XS_ADMIN_DOWN;
	m->mtu = (uint16_t)v->mtu;
	m->install_flags = XS_VNIC_INSTALL_TCP_OFFL | XS_VNIC_INSTALL_UDP_OFFL | XS_VNIC_INSTALL_TSO;
	snprintf(m->name, sizeof(m->name), "%s", v->name);
	m->cir = (uint16_t)v->cir_mbps;
	m->pir = (uint16_t)v->pir_mbps;
	m->fc_active = (v->cir_mbps || v->pir_mbps) ? 1 : 0;
	if (v->ha_group[0]) {
		m->mp_flag = XS_VNIC_MP_AUTO_SWITCH;
		snprintf(m->mp_group, sizeof(m->mp_group), "%s", v->ha_group);
	}
	m->ext_version = XS_ULP_EXT_VERSION;
	snprintf(m->uplink, sizeof(m->uplink), "%s", v->uplink);
	/* expand the canonical list "10,20-30" */
	snprintf(ids, sizeof(ids), "%s", v->vlans);
	for (p = ids; *p;) {
		char *end;
		unsigned long a = strtoul(p, &end, 10), b = a;

		if (*end == '-')
			b = strtoul(end + 1, &end, 10);
		for (unsigned long id = a; id <= b; id++, n++)
			if (n < XS_XSMP_VNIC_MAX_VLANS)
				m->vlans[n] = (uint16_t)id;
		p = *end == ',' ? end + 1 : end;
	}
	if (!v->trunk) {
		m->vlan_mode = n ? XS_VNIC_VLAN_ACCESS : XS_VNIC_VLAN_NONE;
		m->vlan_count = (uint16_t)(n ? 1 : 0);
	} else {
		/* more ids than the body carries: the host passes every tag and the
		 * director's vswitch enforces the list */
		m->vlan_mode = XS_VNIC_VLAN_TRUNK;
		m->vlan_count = (uint16_t)(n <= XS_XSMP_VNIC_MAX_VLANS ? n : 0);
		if (n > XS_XSMP_VNIC_MAX_VLANS)
			memset(m->vlans, 0, sizeof(m->vlans));
	}
}

static void vhba_body(struct xsd_xcm *x, const struct xsd_vhba *v, struct xs_vhba_msg *m)
{
	char t[XSD_TARGETS_TEXT];
	char *save = NULL;

	memset(m, 0, sizeof(*m));
	m->type = XS_VHBA_INSTALL;
	m->resource_id = v->resource_id;
	m->wwpn = v->wwpn;
	m->wwnn = v->wwnn;
	m->tca_guid = x->port.port_guid;
	m->tca_lid = x->port.lid;
	m->exec_throttle = v->queue_depth;
	m->queue_depth = v->queue_depth;
	m->link_down_timeout = v->link_down_timeout;
	m->admin_state = v->admin_up ? XS_ADMIN_UP : XS_ADMIN_DOWN;
	m->target_reset = 1;
	m->max_luns_per_target = 256;
	m->num_queues = 1;
	m->lunmask_enable = v->lun_mask[0] ? 1 : 0;
	snprintf(m->name, sizeof(m->name), "%s", v->name);
	m->ext_version = XS_ULP_EXT_VERSION;
	snprintf(t, sizeof(t), "%s", v->targets);
	for (char *n = strtok_r(t, ",", &save); n && m->target_count < XS_VHBA_MAX_TARGETS;
	     n = strtok_r(NULL, ",", &save)) {
		struct xsd_target tg;

		/* the host logs in to service ID = this WWPN on tca_guid/tca_lid;
		 * a name the store does not know (cannot happen from xcm) gets 0 */
		if (xsd_store_target_get(x->store, n, &tg, NULL) == 0)
			m->target_wwpn[m->target_count] = tg.wwpn;
		else
			XS_WARN(COMP, "vhba %s names target %s, which does not exist", v->name, n);
		snprintf(m->targets[m->target_count++], sizeof(m->targets[0]), "%s", n);
	}
}

static uint32_t vnic_update_mask(const uint8_t *old, const struct xs_vnic_msg *n)
{
	struct xs_vnic_msg o;
	uint32_t mask = 0;

	if (xs_vnic_msg_decode(old, XS_VNIC_MSG_LEN, &o) < 0)
		return XS_VNIC_UPDATE_KNOWN_MASK;
	if (memcmp(o.mac, n->mac, 6))
		mask |= XS_VNIC_UPDATE_MAC;
	if (o.admin_rate != n->admin_rate)
		mask |= XS_VNIC_UPDATE_BANDWIDTH;
	if (o.mtu != n->mtu)
		mask |= XS_VNIC_UPDATE_MTU;
	if (o.tca_guid != n->tca_guid || o.tca_lid != n->tca_lid)
		mask |= XS_VNIC_UPDATE_TCA_INFO;
	if (o.admin_state != n->admin_state)
		mask |= XS_VNIC_UPDATE_ADMIN_STATE;
	if (o.cir != n->cir || o.pir != n->pir || o.fc_active != n->fc_active)
		mask |= XS_VNIC_UPDATE_QOS;
	if (o.mp_flag != n->mp_flag || strcmp(o.mp_group, n->mp_group))
		mask |= XS_VNIC_UPDATE_MP_FLAG;
	if (o.vlan_mode != n->vlan_mode || o.vlan_count != n->vlan_count ||
	    memcmp(o.vlans, n->vlans, sizeof(o.vlans)))
		mask |= XS_VNIC_UPDATE_VLAN;
	if (strcmp(o.uplink, n->uplink))
		mask |= XS_VNIC_UPDATE_UPLINK;
	if (o.install_flags != n->install_flags)
		mask |= XS_VNIC_UPDATE_INSTALL_FLAGS;
	return mask;
}

static uint32_t vhba_update_mask(const uint8_t *old, const struct xs_vhba_msg *n)
{
	struct xs_vhba_msg o;
	uint32_t mask = 0;

	if (xs_vhba_msg_decode(old, XS_VHBA_MSG_LEN, &o) < 0)
		return XS_VHBA_UPDATE_KNOWN_MASK;
	if (o.exec_throttle != n->exec_throttle)
		mask |= XS_VHBA_UPDATE_ET;
	if (o.queue_depth != n->queue_depth)
		mask |= XS_VHBA_UPDATE_QUEUE_DEPTH;
	if (o.link_down_timeout != n->link_down_timeout)
		mask |= XS_VHBA_UPDATE_LDT;
	if (o.admin_state != n->admin_state)
		mask |= XS_VHBA_UPDATE_ADMIN_STATE;
	if (o.target_count != n->target_count || memcmp(o.targets, n->targets, sizeof(o.targets)) ||
	    memcmp(o.target_wwpn, n->target_wwpn, sizeof(o.target_wwpn)))
		mask |= XS_VHBA_UPDATE_TARGETS;
	if (o.lunmask_enable != n->lunmask_enable)
		mask |= XS_VHBA_UPDATE_LUNMASK;
	if (o.wwpn != n->wwpn || o.wwnn != n->wwnn || o.tca_guid != n->tca_guid ||
	    o.tca_lid != n->tca_lid)
		mask |= XS_VHBA_UPDATE_KNOWN_MASK; /* identity changed: the host re-checks all */
	return mask;
}

/* ------------------------------------------------------- reconcile */

struct desired {
	uint8_t type;
	uint64_t rid;
	char name[XS_ULP_NAME_LEN + 1];
	uint8_t body[XS_VNIC_MSG_LEN]; /* encoded as INSTALL */
	struct xs_vnic_msg vm;
	struct xs_vhba_msg hm;
};

struct dlist {
	struct xsd_xcm *x;
	struct desired *d;
	int n, cap;
};

static struct desired *dl_add(struct dlist *l)
{
	if (l->n == l->cap) {
		int cap = l->cap ? l->cap * 2 : 8;
		struct desired *nd = realloc(l->d, sizeof(*nd) * (size_t)cap);

		if (!nd)
			return NULL;
		l->d = nd;
		l->cap = cap;
	}
	memset(&l->d[l->n], 0, sizeof(l->d[0]));
	return &l->d[l->n++];
}

static int collect_vnic(const struct xsd_vnic *v, void *arg)
{
	struct dlist *l = arg;
	struct desired *d = dl_add(l);

	if (!d)
		return -ENOMEM;
	d->type = XS_XSMP_VNIC;
	d->rid = v->resource_id;
	snprintf(d->name, sizeof(d->name), "%s", v->name);
	vnic_body(l->x, v, &d->vm);
	if (xs_vnic_msg_encode(&d->vm, d->body, sizeof(d->body)) < 0) {
		XS_ERR(COMP, "vnic %s does not encode; skipped", v->name);
		l->n--;
	}
	return 0;
}

static int collect_vhba(const struct xsd_vhba *v, void *arg)
{
	struct dlist *l = arg;
	struct desired *d = dl_add(l);

	if (!d)
		return -ENOMEM;
	d->type = XS_XSMP_VHBA;
	d->rid = v->resource_id;
	snprintf(d->name, sizeof(d->name), "%s", v->name);
	vhba_body(l->x, v, &d->hm);
	if (xs_vhba_msg_encode(&d->hm, d->body, sizeof(d->body)) < 0) {
		XS_ERR(COMP, "vhba %s does not encode; skipped", v->name);
		l->n--;
	}
	return 0;
}

static bool announced(const struct sess *s, uint8_t type)
{
	return s->resource_flags & (1u << (type == XS_XSMP_VNIC ? XS_RES_VNIC : XS_RES_VHBA));
}

static int send_ulp(struct sess *s, uint8_t type, uint8_t code, uint64_t rid, uint8_t *body,
		    uint32_t mask)
{
	body[0] = code;
	body[1] = 0;
	xs_put32(body + 4, mask);
	xs_put64(body + 8, rid);
	return sess_send(s, type, body, XS_VNIC_MSG_LEN);
}

static int send_sync_marker(struct sess *s, uint8_t type, uint8_t code)
{
	uint8_t body[XS_VNIC_MSG_LEN];
	int rc;

	if (type == XS_XSMP_VNIC) {
		struct xs_vnic_msg m = { .type = code, .ext_version = XS_ULP_EXT_VERSION };

		rc = xs_vnic_msg_encode(&m, body, sizeof(body));
	} else {
		struct xs_vhba_msg m = { .type = code, .ext_version = XS_ULP_EXT_VERSION };

		rc = xs_vhba_msg_encode(&m, body, sizeof(body));
	}
	if (rc < 0)
		return rc;
	return sess_send(s, type, body, (size_t)rc);
}

static struct sdev *sdev_find(struct sess *s, uint64_t rid)
{
	for (struct sdev *d = s->devs; d; d = d->next)
		if (d->rid == rid)
			return d;
	return NULL;
}

static void sdev_remove(struct sess *s, struct sdev *d)
{
	for (struct sdev **pp = &s->devs; *pp; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			free(d);
			return;
		}
}

static void resolve_profile(struct sess *s)
{
	struct xsd_profile p;

	if (xsd_store_profile_for_host(s->x->store, s->remote_guid, s->name, &p, NULL) == 0)
		snprintf(s->profile, sizeof(s->profile), "%s", p.name);
	else
		s->profile[0] = 0;
	if (s->host)
		snprintf(s->host->profile, sizeof(s->host->profile), "%s", s->profile);
}

/*
 * Bring the session's devices in line with the store. sync: wrap each
 * announced type in SYNC_BEGIN/SYNC_END (a new session). chg/g: the change
 * an operator is waiting on, to register waiters for its messages.
 */
static void reconcile_ex(struct sess *s, bool sync, const struct xsd_change *chg,
			 struct wait_group *g)
{
	struct dlist l = { .x = s->x };
	static const uint8_t types[2] = { XS_XSMP_VNIC, XS_XSMP_VHBA };
	int rc = 0;

	if (s->state != S_UP)
		return;
	if (s->profile[0]) {
		rc = xsd_store_vnic_each(s->x->store, s->profile, collect_vnic, &l, NULL);
		if (!rc)
			rc = xsd_store_vhba_each(s->x->store, s->profile, collect_vhba, &l, NULL);
		if (rc) {
			XS_ERR(COMP, "session %s: reading its devices failed (%s)", host_label(s),
			       xs_strerror(rc));
			free(l.d);
			return;
		}
	}
	for (struct sdev *d = s->devs; d; d = d->next)
		d->seen = false;
	for (int t = 0; t < 2; t++) {
		uint8_t type = types[t];

		if (!announced(s, type))
			continue;
		if (sync && send_sync_marker(s, type, XS_VNIC_SYNC_BEGIN) < 0)
			goto send_failed;
		for (int i = 0; i < l.n; i++) {
			struct desired *want = &l.d[i];
			struct sdev *d = sdev_find(s, want->rid);
			uint8_t code = XS_VNIC_INSTALL;
			uint32_t mask = 0;
			const char *action = "install";

			if (want->type != type)
				continue;
			if (d && d->type != type) { /* cannot happen with store ids; be safe */
				sdev_remove(s, d);
				d = NULL;
			}
			if (d && !sync) {
				d->seen = true;
				if (d->st != D_DELETING && !memcmp(d->body + 16, want->body + 16,
								   XS_VNIC_MSG_LEN - 16))
					continue; /* the host holds exactly this */
				if (d->st == D_ACKED || d->st == D_PENDING) {
					code = XS_VNIC_UPDATE; /* same code number for vHBA */
					action = "update";
					mask = type == XS_XSMP_VNIC
						       ? vnic_update_mask(d->body, &want->vm)
						       : vhba_update_mask(d->body, &want->hm);
				}
			}
			if (!d) {
				d = calloc(1, sizeof(*d));
				if (!d)
					goto send_failed;
				d->rid = want->rid;
				d->type = type;
				d->next = s->devs;
				s->devs = d;
			}
			d->seen = true;
			snprintf(d->name, sizeof(d->name), "%s", want->name);
			memcpy(d->body, want->body, sizeof(d->body));
			d->st = D_PENDING;
			d->pending_code = code;
			d->reason[0] = 0;
			{
				uint8_t body[XS_VNIC_MSG_LEN];

				memcpy(body, want->body, sizeof(body));
				if (send_ulp(s, type, code, want->rid, body, mask) < 0)
					goto send_failed;
			}
			if (g && chg && chg->resource_id == want->rid)
				waiter_add(g, s, type, code, want->rid, want->name, action);
		}
		if (sync && send_sync_marker(s, type, XS_VNIC_SYNC_END) < 0)
			goto send_failed;
	}
	/* devices the host holds from us that the store no longer assigns to it */
	for (struct sdev *d = s->devs, *next; d; d = next) {
		next = d->next;
		if (d->seen)
			continue;
		if (sync || !announced(s, d->type)) {
			sdev_remove(s, d); /* the sync removed it */
			continue;
		}
		if (d->st == D_DELETING)
			continue;
		d->st = D_DELETING;
		d->pending_code = XS_VNIC_DELETE;
		{
			uint8_t body[XS_VNIC_MSG_LEN];

			memcpy(body, d->body, sizeof(body));
			if (send_ulp(s, d->type, XS_VNIC_DELETE, d->rid, body, 0) < 0)
				goto send_failed;
		}
		if (g && chg && chg->resource_id == d->rid)
			waiter_add(g, s, d->type, XS_VNIC_DELETE, d->rid, d->name, "delete");
	}
	free(l.d);
	return;
send_failed:
	free(l.d);
	sess_close(s, "cannot send (queue full or transport down)");
}

static void reconcile(struct sess *s, const struct xsd_change *chg, struct wait_group *g)
{
	reconcile_ex(s, false, chg, g);
}

/* ------------------------------------------------------- state machine */

static void sess_set_state(struct sess *s, enum sess_state st)
{
	char peer[48];

	XS_DEBUG(COMP, "session %s (%s, host GUID 0x%016" PRIx64 "%s): %s -> %s", host_label(s),
		 sess_peer(s, peer, sizeof(peer)), s->remote_guid,
		 s->remote_guid ? "" : " not known yet", sess_state_name[s->state],
		 sess_state_name[st]);
	s->state = st;
}

static void sess_timer(struct xs_loop *loop, struct xs_timer *t, void *arg)
{
	struct sess *s = arg;
	uint64_t now = xs_loop_now(loop);

	switch (s->state) {
	case S_ACCEPTING:
	case S_WAIT_REGISTER:
		sess_close(s, "no REGISTER within 10 s");
		break;
	case S_UP:
		if (now - s->last_rx_ms >= 3ull * s->hello_s * 1000) {
			s->x->ctr.hello_timeouts++;
			sess_close(s, "hello timeout (3 intervals without a message)");
			break;
		}
		if (send_session(s, XS_XSMP_HELLO, 0, s->hello_s, 0, NULL) < 0) {
			sess_close(s, "cannot send HELLO");
			break;
		}
		xs_timer_arm(t, (uint64_t)s->hello_s * 1000, 0);
		break;
	case S_CLOSING:
		sess_reap(s);
		break;
	}
}

static void reject(struct sess *s, uint32_t reason, const char *text)
{
	struct host *h = host_get(s->x, host_label(s));

	char peer[48];

	XS_NOTICE(COMP, "host %s (GUID 0x%016" PRIx64 ", %s) rejected: %s", host_label(s),
		  s->remote_guid, sess_peer(s, peer, sizeof(peer)), text);
	s->x->ctr.rejected++;
	if (h) {
		snprintf(h->state, sizeof(h->state), "rejected");
		snprintf(h->reason, sizeof(h->reason), "%s", text);
		h->port_guid = s->remote_guid;
		h->lid = s->remote_lid;
		host_touch(s->x, h);
	}
	if (send_session(s, XS_XSMP_REG_REJECT, 0, 0, reason, text) < 0) {
		sess_close(s, "REG_REJECT not sent");
		return;
	}
	s->close_after_send = true;
	snprintf(s->close_reason, sizeof(s->close_reason), "rejected");
	xs_timer_arm(s->timer, CLOSE_GRACE_MS, 0);
}

static void on_register(struct sess *s, const struct xs_xsmp_session *b)
{
	struct xsd_xcm *x = s->x;
	struct xsd_config cfg;
	struct host *h;
	char text[96], peer[48];
	int up = 0;

	if (s->state != S_WAIT_REGISTER) {
		s->bad_msgs++;
		XS_WARN(COMP, "session %s: REGISTER in state %s ignored", host_label(s),
			sess_state_name[s->state]);
		return;
	}
	snprintf(s->name, sizeof(s->name), "%s", b->session_name);
	text_clean(s->name);
	if (!s->name[0])
		snprintf(s->name, sizeof(s->name), "0x%016" PRIx64, s->remote_guid);
	s->resource_flags = b->resource_flags;
	if (xsd_store_get_config(x->store, &cfg, NULL) < 0) {
		cfg.auto_accept = false;
		cfg.hello_interval = 5;
		cfg.max_sessions = 4096;
	}
	if (b->xsmp_version != XS_XSMP_VERSION) {
		snprintf(text, sizeof(text), "unsupported XSMP version %u; this director speaks %u",
			 b->xsmp_version, XS_XSMP_VERSION);
		reject(s, REJ_VERSION, text);
		return;
	}
	for (uint32_t i = 0; i < x->n_slots; i++)
		up += x->slots[i] && x->slots[i]->state == S_UP &&
		      strcmp(x->slots[i]->name, s->name);
	if ((uint32_t)up >= XS_MIN(cfg.max_sessions, (uint32_t)x->opts.max_sessions_cap)) {
		snprintf(text, sizeof(text), "limit reached: the director holds %d sessions", up);
		reject(s, REJ_LIMIT, text);
		return;
	}
	resolve_profile(s);
	if (!s->profile[0] && !cfg.auto_accept) {
		snprintf(text, sizeof(text), "unknown host: no profile binds it and auto-accept is off");
		reject(s, REJ_UNKNOWN_HOST, text);
		return;
	}
	h = host_get(x, s->name);
	if (!h) {
		sess_close(s, "out of memory");
		return;
	}
	if (h->sess && h->sess != s) {
		/* the same host again (identity = XCM GUID + session_name): the newer
		 * connection replaces the older one */
		struct sess *old = h->sess;

		h->sess = NULL;
		old->host = NULL;
		sess_close(old, "replaced by a newer connection of the same host");
	}
	if (h->accepted++)
		h->reconnects++;
	h->sess = s;
	s->host = h;
	h->port_guid = s->remote_guid;
	h->lid = s->remote_lid;
	h->up_ms = xs_loop_now(x->loop);
	h->reason[0] = 0;
	snprintf(h->state, sizeof(h->state), "up");
	snprintf(h->profile, sizeof(h->profile), "%s", s->profile);
	host_touch(x, h);
	s->hello_s = cfg.hello_interval ? XS_MIN(cfg.hello_interval, 60u) : 5;
	if (send_session(s, XS_XSMP_REG_CONFIRM, 0, s->hello_s, 0, NULL) < 0) {
		sess_close(s, "REG_CONFIRM not sent");
		return;
	}
	x->ctr.registered++;
	s->up_ms = xs_loop_now(x->loop);
	sess_set_state(s, S_UP);
	XS_INFO(COMP, "host %s (GUID 0x%016" PRIx64 ", %s) registered, profile %s%s",
		host_label(s), s->remote_guid, sess_peer(s, peer, sizeof(peer)),
		s->profile[0] ? s->profile : "(none)", h->reconnects ? ", reconnect" : "");
	xs_timer_arm(s->timer, (uint64_t)s->hello_s * 1000, 0);
	reconcile_ex(s, true, NULL, NULL);
}

static void on_reslist(struct sess *s, const uint8_t *tail, size_t len)
{
	struct xs_reslist r;

	if (xs_reslist_decode(tail, len, &r) < 0) {
		s->bad_msgs++;
		s->x->ctr.bad_msgs++;
		return;
	}
	if (r.flags & XS_RESLIST_FIRST)
		s->held_acc = 0;
	s->held_acc = (uint16_t)(s->held_acc + r.count);
	for (int i = 0; i < r.count; i++) {
		struct sdev *d = sdev_find(s, r.entries[i].resource_id);

		if (d)
			d->oper = r.entries[i].state;
	}
	if (r.flags & XS_RESLIST_LAST) {
		s->held = s->held_acc;
		if (s->host)
			s->host->held = s->held;
	}
}

static void on_session_msg(struct sess *s, const uint8_t *body, size_t len)
{
	struct xs_xsmp_session b;

	if (xs_xsmp_session_decode(body, len, &b) < 0) {
		s->bad_msgs++;
		s->x->ctr.bad_msgs++;
		return;
	}
	switch (b.type) {
	case XS_XSMP_REGISTER:
		on_register(s, &b);
		break;
	case XS_XSMP_HELLO:
	case XS_XSMP_HELLO | XS_XSMP_ACK:
		s->last_hello_ms = xs_loop_now(s->x->loop);
		if (s->host)
			s->host->last_hello_ms = s->last_hello_ms;
		break;
	case XS_XSMP_SHUTDOWN:
		text_clean(b.reason_text);
		XS_INFO(COMP, "host %s sent SHUTDOWN%s%s", host_label(s), b.reason_text[0] ? ": " : "",
			b.reason_text);
		snprintf(s->close_reason, sizeof(s->close_reason), "host sent SHUTDOWN%s%.60s",
			 b.reason_text[0] ? ": " : "", b.reason_text);
		sess_close(s, s->close_reason);
		break;
	case XS_XSMP_RESOURCE_LIST:
		if (s->state == S_UP)
			on_reslist(s, body + XS_XSMP_SESSION_LEN, len - XS_XSMP_SESSION_LEN);
		break;
	default:
		s->bad_msgs++;
		XS_DEBUG(COMP, "session %s: session message %u ignored", host_label(s), b.type);
		break;
	}
}

static void on_ulp_msg(struct sess *s, uint8_t type, const uint8_t *body, size_t len)
{
	struct xs_ulp_peek p;
	struct sdev *d;
	char reason[XS_ULP_REASON_TEXT_LEN + 1] = "";
	bool ack;

	if (s->state != S_UP || xs_ulp_peek(body, len, &p) < 0) {
		s->bad_msgs++;
		s->x->ctr.bad_msgs++;
		return;
	}
	if (!(p.code & (XS_XSMP_ACK | XS_XSMP_NACK))) {
		/* notifications from the device: OPER_UP / OPER_DOWN / OPER_FAILED */
		d = sdev_find(s, p.resource_id);
		if (d && p.type == XS_VNIC_OPER_UP)
			d->oper = XS_RES_STATE_OPER_UP;
		else if (d && p.type == XS_VNIC_OPER_DOWN)
			d->oper = XS_RES_STATE_OPER_DOWN;
		else if (d && type == XS_XSMP_VNIC && p.type == XS_VNIC_OPER_FAILED)
			d->oper = XS_RES_STATE_FAILED;
		return;
	}
	ack = !(p.code & XS_XSMP_NACK);
	if (!ack) {
		uint32_t full = p.code & XS_NACK_REASON_MAX;

		/* the extension carries the full code and a text */
		if (type == XS_XSMP_VNIC) {
			struct xs_vnic_msg m;

			if (xs_vnic_msg_decode(body, len, &m) == 0) {
				full = m.reason;
				snprintf(reason, sizeof(reason), "%s", m.reason_text);
			}
		} else {
			struct xs_vhba_msg m;

			if (xs_vhba_msg_decode(body, len, &m) == 0) {
				full = m.reason;
				snprintf(reason, sizeof(reason), "%s", m.reason_text);
			}
		}
		text_clean(reason);
		if (!reason[0])
			snprintf(reason, sizeof(reason), "%s", xs_ulp_nack_reason_str(full));
		s->x->ctr.nacks++;
	} else {
		s->x->ctr.acks++;
	}
	if (p.type == XS_VNIC_SYNC_BEGIN || p.type == XS_VNIC_SYNC_END) {
		if (!ack)
			XS_WARN(COMP, "host %s NACKed %s: %s", host_label(s),
				p.type == XS_VNIC_SYNC_BEGIN ? "SYNC_BEGIN" : "SYNC_END", reason);
		return;
	}
	d = sdev_find(s, p.resource_id);
	if (d && d->type == type && d->pending_code == p.type) {
		d->pending_code = 0;
		if (d->st == D_DELETING) {
			if (ack) {
				waiters_reply(s, type, p.type, p.resource_id, ack, reason);
				sdev_remove(s, d);
				return;
			}
			snprintf(d->reason, sizeof(d->reason), "%s", reason);
		} else {
			d->st = ack ? D_ACKED : D_NACKED;
			snprintf(d->reason, sizeof(d->reason), "%s", reason);
		}
		if (!ack)
			XS_WARN(COMP, "host %s NACKed %s of %s %s: %s", host_label(s),
				type == XS_XSMP_VNIC ? xs_vnic_code_str(p.type) : xs_vhba_code_str(p.type),
				type == XS_XSMP_VNIC ? "vnic" : "vhba", d->name, reason);
	}
	waiters_reply(s, type, p.type, p.resource_id, ack, reason);
}

static void on_message(struct sess *s, const uint8_t *msg, size_t len)
{
	struct xs_xsmp_hdr h;

	s->last_rx_ms = xs_loop_now(s->x->loop);
	if (s->state == S_ACCEPTING) {
		/* A message before the ESTABLISHED event: the host had our REP and
		 * sent its REGISTER at once, and the fabric reports the passive
		 * side's ESTABLISHED after this receive (rdma_cm on RoCE does; the
		 * verbs back end queues it at the receive). The connection is up:
		 * taking the REGISTER now is what keeps the host from waiting 10 s
		 * for a REG_CONFIRM and reconnecting (changes made meanwhile found
		 * no session to go to). */
		XS_DEBUG(COMP, "session %s: first message before ESTABLISHED", host_label(s));
		sess_set_state(s, S_WAIT_REGISTER);
	}
	if (xs_xsmp_hdr_decode(msg, len, &h) < 0) {
		s->bad_msgs++;
		s->x->ctr.bad_msgs++;
		return;
	}
	/* RoCE (or a fabric that gave no usable peer GUID): the host names its
	 * port GUID as the source of its messages, REGISTER first */
	if (!s->remote_guid && h.src.primary)
		s->remote_guid = h.src.primary;
	switch (h.type) {
	case XS_XSMP_SESSION:
		on_session_msg(s, msg + XS_XSMP_HDR_LEN, h.length - XS_XSMP_HDR_LEN);
		break;
	case XS_XSMP_VNIC:
	case XS_XSMP_VHBA:
		on_ulp_msg(s, h.type, msg + XS_XSMP_HDR_LEN, h.length - XS_XSMP_HDR_LEN);
		break;
	default:
		s->bad_msgs++;
		s->x->ctr.bad_msgs++;
		break;
	}
}

/* -------------------------------------------------- session lifetime */

static int post_recv(struct sess *s, unsigned int i)
{
	struct xs_sge sge = {
		.addr = (uint64_t)(uintptr_t)slot_buf(s, i),
		.length = BUF_SZ,
		.lkey = xs_mr_lkey(s->mr),
	};
	struct xs_recv_wr wr = { .wr_id = wr_id(s, i), .sg_list = &sge, .num_sge = 1 };

	return xs_qp_post_recv(s->qp, &wr);
}

/* Free everything of a session (its QP first, so no completion refers to it
 * afterwards: late ones carry a stale serial and are dropped). */
static void sess_reap(struct sess *s)
{
	struct xsd_xcm *x = s->x;

	if (!s->close_reason[0])
		snprintf(s->close_reason, sizeof(s->close_reason), "closed");
	waiters_session_lost(s);
	if (s->host && s->host->sess == s) {
		s->host->sess = NULL;
		if (strcmp(s->host->state, "rejected"))
			snprintf(s->host->state, sizeof(s->host->state), "down");
		snprintf(s->host->reason, sizeof(s->host->reason), "%s", s->close_reason);
		host_touch(x, s->host);
	}
	x->slots[s->idx] = NULL;
	x->n_sessions--;
	if (s->qp)
		xs_qp_destroy(s->qp);
	if (s->mr)
		xs_mr_dereg(s->mr);
	xs_timer_free(s->timer);
	outq_free(s);
	while (s->devs)
		sdev_remove(s, s->devs);
	free(s->buf);
	free(s);
}

static void sess_close(struct sess *s, const char *why)
{
	if (s->state == S_CLOSING)
		return;
	if (why && !s->close_reason[0])
		snprintf(s->close_reason, sizeof(s->close_reason), "%s", why);
	XS_INFO(COMP, "session %s (GUID 0x%016" PRIx64 ") closed: %s", host_label(s),
		s->remote_guid, s->close_reason);
	sess_set_state(s, S_CLOSING);
	waiters_session_lost(s);
	if (s->host && s->host->sess == s && strcmp(s->host->state, "rejected")) {
		snprintf(s->host->state, sizeof(s->host->state), "down");
		snprintf(s->host->reason, sizeof(s->host->reason), "%s", s->close_reason);
		host_touch(s->x, s->host);
	}
	if (!s->disconnected && s->qp && xs_qp_state(s->qp) == XS_QPS_RTS)
		xs_qp_disconnect(s->qp);
	s->disconnected = true;
	/* reap from the timer, never from inside a callback that still uses s */
	xs_timer_arm(s->timer, 0, 0);
}

static struct sess *sess_new(struct xsd_xcm *x)
{
	struct xs_qp_attr qa = { 0 };
	struct sess *s;
	uint32_t idx;

	for (idx = 0; idx < x->n_slots; idx++)
		if (!x->slots[idx])
			break;
	if (idx == x->n_slots) {
		errno = ENOSPC;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->x = x;
	s->idx = idx;
	s->serial = ++x->next_serial ? x->next_serial : ++x->next_serial;
	s->outq_tail = &s->outq;
	s->buf = calloc(N_RECV + N_SEND, BUF_SZ);
	if (!s->buf)
		goto free_s;
	s->mr = xs_mr_reg(x->pd, s->buf, (size_t)(N_RECV + N_SEND) * BUF_SZ,
			  XS_ACCESS_LOCAL_WRITE);
	if (!s->mr)
		goto free_buf;
	s->timer = xs_timer_new(x->loop, sess_timer, s);
	if (!s->timer)
		goto dereg;
	qa.pd = x->pd;
	qa.send_cq = x->cq;
	qa.recv_cq = x->cq;
	qa.max_send_wr = N_SEND;
	qa.max_recv_wr = N_RECV;
	qa.max_sge = 1;
	qa.context = s;
	s->qp = xs_qp_create(x->fabric, &qa);
	if (!s->qp)
		goto free_timer;
	for (unsigned int i = 0; i < N_RECV; i++)
		if (post_recv(s, i) < 0)
			goto destroy_qp;
	s->created_ms = s->last_rx_ms = xs_loop_now(x->loop);
	x->slots[idx] = s;
	x->n_sessions++;
	return s;
destroy_qp:
	xs_qp_destroy(s->qp);
free_timer:
	xs_timer_free(s->timer);
dereg:
	xs_mr_dereg(s->mr);
free_buf:
	free(s->buf);
free_s:
	free(s);
	return NULL;
}

static void on_connect_request(struct xsd_xcm *x, struct xs_cm_request *req)
{
	struct xs_cm_req_info info;
	static const uint8_t zero_gid[16];
	char peer[48];
	struct sess *s;
	bool roce, own;

	if (xs_cm_req_info(req, &info) < 0) {
		xs_cm_reject(req, XS_CM_REJ_CONSUMER, NULL, 0);
		return;
	}
	if (x->shutting_down) {
		x->ctr.cm_rejects++;
		xs_cm_reject(req, XS_CM_REJ_CONSUMER, NULL, 0);
		return;
	}
	roce = x->port.link_layer == XS_LINK_ETHERNET;
	/* A path record seen from this side names this port as its source: an
	 * address or GUID equal to our own is not the peer's, whatever the
	 * fabric back end put there (then the host's GUID comes from the XSMP
	 * header of its REGISTER). On RoCE the LID field is never an address. */
	own = (x->port.port_guid && info.remote_port_guid == x->port.port_guid) ||
	      (memcmp(x->port.gid, zero_gid, sizeof(zero_gid)) &&
	       !memcmp(info.remote_gid, x->port.gid, sizeof(info.remote_gid)));
	if (roce || own || info.remote_lid == x->port.lid)
		info.remote_lid = 0;
	if (own) {
		info.remote_port_guid = 0;
		memset(info.remote_gid, 0, sizeof(info.remote_gid));
	}
	peer_text(roce, info.remote_lid, info.remote_gid, peer, sizeof(peer));
	if (info.private_len != XSMP_CM_PRIVATE_LEN)
		XS_DEBUG(COMP, "connect request from %s with %u bytes of private data "
			 "(expected %d)", peer, info.private_len, XSMP_CM_PRIVATE_LEN);
	s = sess_new(x);
	if (!s) {
		XS_WARN(COMP, "connect request from %s refused: %s", peer,
			errno == ENOSPC ? "no free session slot" : strerror(errno));
		x->ctr.cm_rejects++;
		xs_cm_reject(req, XS_CM_REJ_CONSUMER, NULL, 0);
		return;
	}
	s->roce = roce;
	memcpy(s->remote_gid, info.remote_gid, sizeof(s->remote_gid));
	/* on RoCE the GID's interface id is not the host's port GUID: that
	 * comes with its REGISTER (the XSMP header) */
	s->remote_guid = roce ? 0 : info.remote_port_guid;
	s->remote_lid = info.remote_lid;
	if (xs_qp_accept(s->qp, req, NULL, 0) < 0) {
		XS_WARN(COMP, "accepting %s failed", peer);
		sess_close(s, "accept failed");
		return;
	}
	x->ctr.accepted++;
	sess_set_state(s, S_ACCEPTING);
	xs_timer_arm(s->timer, REGISTER_TIMEOUT_MS, 0);
}

void xsd_xcm_fabric_event(struct xsd_xcm *x, const struct xs_event *ev)
{
	struct sess *s = NULL;

	switch (ev->type) {
	case XS_EV_CONNECT_REQUEST:
		if (ev->listener == x->listener)
			on_connect_request(x, ev->req);
		return;
	case XS_EV_ESTABLISHED:
	case XS_EV_DISCONNECTED:
	case XS_EV_REJECTED:
	case XS_EV_UNREACHABLE:
		break;
	default:
		return;
	}
	/* map the QP to a live session by pointer (contexts of freed QPs are
	 * never looked at) */
	for (uint32_t i = 0; i < x->n_slots && !s; i++)
		if (x->slots[i] && x->slots[i]->qp == ev->qp)
			s = x->slots[i];
	if (!s)
		return;
	if (ev->type == XS_EV_ESTABLISHED && s->state == S_ACCEPTING) {
		sess_set_state(s, S_WAIT_REGISTER);
		s->last_rx_ms = xs_loop_now(x->loop);
		return;
	}
	if (ev->type != XS_EV_ESTABLISHED) {
		s->disconnected = true;
		sess_close(s, "transport disconnected");
	}
}

static void cq_cb(struct xs_loop *loop, int fd, unsigned int events, void *arg)
{
	struct xsd_xcm *x = arg;
	struct xs_wc wc[32];
	int n;

	while ((n = xs_cq_poll(x->cq, wc, 32)) > 0) {
		for (int i = 0; i < n; i++) {
			unsigned int slot;
			struct sess *s = sess_by_wr(x, wc[i].wr_id, &slot);

			if (!s)
				continue; /* a completion of a session already gone */
			if (slot >= N_RECV) {
				s->send_busy &= ~(1u << (slot - N_RECV));
				if (wc[i].status != XS_WC_SUCCESS) {
					if (s->state != S_CLOSING)
						sess_close(s, xs_wc_status_str(wc[i].status));
					continue;
				}
				if (s->state == S_CLOSING)
					continue;
				outq_drain(s);
				if (s->close_after_send && !s->outq && !s->send_busy)
					sess_close(s, NULL);
				continue;
			}
			if (wc[i].status != XS_WC_SUCCESS) {
				if (s->state != S_CLOSING)
					sess_close(s, wc[i].status == XS_WC_WR_FLUSH_ERR
							      ? "transport disconnected"
							      : xs_wc_status_str(wc[i].status));
				continue;
			}
			if (s->state == S_CLOSING)
				continue;
			on_message(s, slot_buf(s, slot), wc[i].byte_len);
			if (s->state != S_CLOSING && post_recv(s, slot) < 0)
				sess_close(s, "cannot repost a receive");
		}
	}
}

/* ------------------------------------------------------ construction */

/* The host records of the previous run: every host is down until it
 * registers again (its reconnect count then goes on from the stored one). */
static int host_load_one(const struct xsd_host_rec *r, void *arg)
{
	struct xsd_xcm *x = arg;
	struct host *h;

	if (!r->name[0] || x->n_hosts >= MAX_HOST_RECORDS)
		return 0;
	h = host_get(x, r->name);
	if (!h)
		return -ENOMEM;
	h->port_guid = r->port_guid;
	h->lid = (uint16_t)r->lid;
	snprintf(h->profile, sizeof(h->profile), "%s", r->profile);
	snprintf(h->state, sizeof(h->state), "%s", r->state);
	snprintf(h->reason, sizeof(h->reason), "%s", r->reason);
	if (!strcmp(h->state, "up")) {
		snprintf(h->state, sizeof(h->state), "down");
		snprintf(h->reason, sizeof(h->reason), "director restarted");
	}
	h->accepted = r->accepted;
	h->reconnects = r->reconnects;
	h->last_change_wall = r->last_change;
	return 0;
}

static void hosts_load(struct xsd_xcm *x)
{
	struct xsd_err err = { 0 };
	int n = xsd_store_host_each(x->store, host_load_one, x, &err);

	if (n < 0)
		XS_WARN(COMP, "host records of the previous run not read: %s",
			err.msg[0] ? err.msg : strerror(-n));
	else if (n > 0)
		XS_INFO(COMP, "%d host record%s of the previous run (all down until they register)",
			n, n == 1 ? "" : "s");
}

struct xsd_xcm *xsd_xcm_new(struct xs_loop *loop, struct xs_fabric *fabric,
			    const struct xs_port_attr *port, struct xsd_store *store,
			    const struct xsd_xcm_opts *opts)
{
	struct xsd_xcm *x = calloc(1, sizeof(*x));
	int err;

	if (!x)
		return NULL;
	x->loop = loop;
	x->fabric = fabric;
	x->port = *port;
	x->store = store;
	if (opts)
		x->opts = *opts;
	if (x->opts.push_wait_ms <= 0)
		x->opts.push_wait_ms = 3000;
	if (x->opts.max_sessions_cap <= 0)
		x->opts.max_sessions_cap = 2048;
	snprintf(x->chassis, sizeof(x->chassis), "%.32s",
		 x->opts.chassis_name ? x->opts.chassis_name : "xsdirectord");
	x->n_slots = (uint32_t)x->opts.max_sessions_cap + 64; /* room to send REG_REJECT */
	x->slots = calloc(x->n_slots, sizeof(*x->slots));
	if (!x->slots)
		goto free_x;
	x->hosts_timer = xs_timer_new(loop, hosts_timer_cb, x);
	if (!x->hosts_timer)
		goto free_slots;
	x->pd = xs_pd_alloc(fabric);
	if (!x->pd)
		goto free_timer;
	x->cq = xs_cq_create(fabric, (int)(x->n_slots * CQ_PER_SESSION));
	if (!x->cq)
		goto free_pd;
	if (xs_loop_add_fd(loop, xs_cq_fd(x->cq), XS_IO_IN, cq_cb, x) < 0)
		goto destroy_cq;
	x->listener = xs_cm_listen(fabric, XS_XSMP_SERVICE_ID);
	if (!x->listener) {
		XS_ERR(COMP, "cannot listen on XSMP service ID 0x%016" PRIx64 ": %s",
		       XS_XSMP_SERVICE_ID, strerror(errno));
		goto del_fd;
	}
	XS_INFO(COMP, "XCM listening on service ID 0x%016" PRIx64 " (LID %u, GUID 0x%016" PRIx64 ")",
		XS_XSMP_SERVICE_ID, port->lid, port->port_guid);
	hosts_load(x);
	return x;
del_fd:
	err = errno;
	xs_loop_del_fd(loop, xs_cq_fd(x->cq));
	errno = err;
destroy_cq:
	err = errno;
	xs_cq_destroy(x->cq);
	errno = err;
free_pd:
	err = errno;
	xs_pd_free(x->pd);
	errno = err;
free_timer:
	err = errno;
	xs_timer_free(x->hosts_timer);
	errno = err;
free_slots:
	err = errno;
	free(x->slots);
	errno = err;
free_x:
	err = errno;
	free(x);
	errno = err;
	return NULL;
}

void xsd_xcm_free(struct xsd_xcm *x)
{
	if (!x)
		return;
	if (x->listener)
		xs_cm_listener_close(x->listener);
	for (uint32_t i = 0; i < x->n_slots; i++)
		if (x->slots[i]) {
			struct sess *s = x->slots[i];

			if (!s->close_reason[0])
				snprintf(s->close_reason, sizeof(s->close_reason), "director stopping");
			sess_reap(s);
		}
	while (x->waiters) /* none left after the sessions, but be exact */
		waiter_done(x, x->waiters, "session lost", "director stopping");
	if (x->hosts_dirty)
		hosts_save(x);
	xs_timer_free(x->hosts_timer);
	while (x->hosts) {
		struct host *h = x->hosts;

		x->hosts = h->next;
		free(h);
	}
	xs_loop_del_fd(x->loop, xs_cq_fd(x->cq));
	xs_cq_destroy(x->cq);
	xs_pd_free(x->pd);
	free(x->slots);
	free(x);
}

void xsd_xcm_port_changed(struct xsd_xcm *x, const struct xs_port_attr *port)
{
	bool moved = port->lid != x->port.lid;

	x->port = *port;
	if (!moved)
		return;
	/* the TCA LID in every device body changed: push updates */
	for (uint32_t i = 0; i < x->n_slots; i++)
		if (x->slots[i])
			reconcile(x->slots[i], NULL, NULL);
}

void xsd_xcm_shutdown(struct xsd_xcm *x)
{
	x->shutting_down = true;
	for (uint32_t i = 0; i < x->n_slots; i++) {
		struct sess *s = x->slots[i];

		if (!s || s->state == S_CLOSING)
			continue;
		snprintf(s->close_reason, sizeof(s->close_reason), "director stopping");
		if (s->state == S_UP &&
		    send_session(s, XS_XSMP_SHUTDOWN, 0, 0, 0, "director stopping") == 0) {
			s->close_after_send = true;
			xs_timer_arm(s->timer, CLOSE_GRACE_MS, 0);
			continue;
		}
		sess_close(s, NULL);
	}
}

bool xsd_xcm_idle(const struct xsd_xcm *x)
{
	for (uint32_t i = 0; i < x->n_slots; i++)
		if (x->slots[i] && x->slots[i]->state != S_CLOSING)
			return false;
	return true;
}

/* ---------------------------------------------------------- ctl hooks */

static bool profile_in(const char *p, const struct xsd_change *c)
{
	return p[0] && ((c->profile && !strcmp(p, c->profile)) ||
			(c->old_profile && !strcmp(p, c->old_profile)));
}

static void label_for_profile(struct xsd_xcm *x, const char *profile, char *out, size_t cap)
{
	struct xsd_profile p;

	out[0] = 0;
	if (!profile || xsd_store_profile_get(x->store, profile, &p, NULL) < 0)
		return;
	if (p.hostname[0])
		snprintf(out, cap, "%.32s", p.hostname);
	else if (p.n_guids)
		snprintf(out, cap, "0x%016" PRIx64, p.guids[0]);
}

static void hook_changed(void *arg, const struct xsd_change *c, struct xsd_ctl_req *req)
{
	struct xsd_xcm *x = arg;
	struct wait_group *g;
	bool any = false;

	if (c->kind != XSD_CHANGE_PROFILE && c->kind != XSD_CHANGE_VNIC &&
	    c->kind != XSD_CHANGE_VHBA)
		return; /* config applies to the next registrations; storage, targets
			 * and LUNs are the storage module's (their WWPNs never change) */
	g = calloc(1, sizeof(*g));
	if (!g)
		return;
	g->x = x;
	g->req = req;
	g->rid = c->resource_id;
	g->n = 1; /* ours until the end of this function */
	xsd_ctl_req_get(req);
	g->timer = xs_timer_new(x->loop, group_timeout, g);
	for (uint32_t i = 0; i < x->n_slots; i++) {
		struct sess *s = x->slots[i];

		if (!s || s->state != S_UP)
			continue;
		if (c->kind == XSD_CHANGE_PROFILE) {
			char before[XSD_NAME_MAX + 1];

			snprintf(before, sizeof(before), "%s", s->profile);
			resolve_profile(s);
			if (strcmp(before, s->profile) || !strcmp(s->profile, c->name))
				reconcile(s, NULL, NULL);
			continue;
		}
		if (!profile_in(s->profile, c))
			continue;
		any = true;
		reconcile(s, c, g);
	}
	if ((c->kind == XSD_CHANGE_VNIC || c->kind == XSD_CHANGE_VHBA) && !any) {
		char device[24], label[40];
		const char *action = c->action == XSD_CHANGE_ADD	 ? "install"
				     : c->action == XSD_CHANGE_DELETE ? "delete"
								      : "update";

		snprintf(device, sizeof(device), "%s %s",
			 c->kind == XSD_CHANGE_VNIC ? "vnic" : "vhba", c->name);
		label_for_profile(x, c->profile, label, sizeof(label));
		if (label[0])
			xsd_ctl_req_push_result(req, device, label, action, "not connected", NULL);
		else
			xsd_ctl_req_push_result(req, device, c->profile ? c->profile : "", action,
						"no host", NULL);
	}
	if (g->timer && g->n > 1)
		xs_timer_arm(g->timer, (uint64_t)x->opts.push_wait_ms, 0);
	group_put(g);
}

static const char *dev_state_text(const struct sdev *d)
{
	switch (d->st) {
	case D_PENDING:
		return "pending";
	case D_ACKED:
		switch (d->oper) {
		case XS_RES_STATE_OPER_UP:
			return "up";
		case XS_RES_STATE_OPER_DOWN:
			return "down";
		case XS_RES_STATE_FAILED:
			return "failed";
		default:
			return "installed";
		}
	case D_NACKED:
		return "NACK";
	case D_DELETING:
		return "removing";
	}
	return "?";
}

static json_t *hook_device_status(void *arg, uint64_t rid)
{
	struct xsd_xcm *x = arg;
	json_t *a = json_array();

	for (uint32_t i = 0; i < x->n_slots; i++) {
		struct sess *s = x->slots[i];
		struct sdev *d;

		if (!s || s->state != S_UP || !(d = sdev_find(s, rid)))
			continue;
		json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "host", host_label(s),
						   "state", dev_state_text(d), "reason",
						   d->reason));
	}
	return a;
}

static long long ago_s(struct xsd_xcm *x, uint64_t t)
{
	return t ? (long long)((xs_loop_now(x->loop) - t) / 1000) : -1;
}

static int sess_cmp(const void *a, const void *b)
{
	const struct sess *x = *(const struct sess *const *)a, *y = *(const struct sess *const *)b;
	int c = strcmp(x->name, y->name);

	return c ? c : (x->remote_guid > y->remote_guid) - (x->remote_guid < y->remote_guid);
}

static json_t *hook_sessions(void *arg)
{
	struct xsd_xcm *x = arg;
	json_t *a = json_array();
	struct sess **sorted = calloc(x->n_slots ? x->n_slots : 1, sizeof(*sorted));
	uint32_t n = 0;

	if (!sorted)
		return a;
	for (uint32_t i = 0; i < x->n_slots; i++)
		if (x->slots[i] && x->slots[i]->state != S_CLOSING)
			sorted[n++] = x->slots[i];
	qsort(sorted, n, sizeof(*sorted), sess_cmp);
	for (uint32_t i = 0; i < n; i++) {
		struct sess *s = sorted[i];
		int nv = 0, nh = 0;
		char g[20];

		for (struct sdev *d = s->devs; d; d = d->next) {
			nv += d->type == XS_XSMP_VNIC;
			nh += d->type == XS_XSMP_VHBA;
		}
		snprintf(g, sizeof(g), "0x%016" PRIx64, s->remote_guid);
		json_array_append_new(
			a, json_pack("{s:s, s:s, s:I, s:s, s:s, s:I, s:I, s:i, s:i, s:i, s:I, s:i}",
				     "host", host_label(s), "port_guid", g, "lid",
				     (json_int_t)s->remote_lid, "state", sess_state_name[s->state],
				     "profile", s->profile, "uptime_s",
				     (json_int_t)ago_s(x, s->up_ms), "last_hello_s",
				     (json_int_t)ago_s(x, s->last_hello_ms), "vnics", nv, "vhbas", nh,
				     "held", (int)s->held, "bad_messages", (json_int_t)s->bad_msgs,
				     "hello_interval", (int)s->hello_s));
	}
	free(sorted);
	return a;
}

static json_t *hook_hosts(void *arg)
{
	struct xsd_xcm *x = arg;
	json_t *a = json_array();

	for (struct host *h = x->hosts; h; h = h->next) {
		char g[20];
		bool up = h->sess && h->sess->state == S_UP;

		snprintf(g, sizeof(g), "0x%016" PRIx64, h->port_guid);
		json_array_append_new(
			a, json_pack("{s:s, s:s, s:I, s:s, s:s, s:I, s:I, s:I, s:s, s:i}", "host",
				     h->name, "port_guid", g, "lid", (json_int_t)h->lid, "profile",
				     h->profile, "state", h->state, "uptime_s",
				     (json_int_t)(up ? ago_s(x, h->up_ms) : -1), "last_hello_s",
				     (json_int_t)ago_s(x, h->last_hello_ms), "reconnects",
				     (json_int_t)h->reconnects, "reason", h->reason, "held",
				     (int)h->held));
	}
	return a;
}

static json_t *hook_stats(void *arg)
{
	struct xsd_xcm *x = arg;

	return json_pack("{s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "sessions",
			 x->n_sessions, "sessions_accepted", (json_int_t)x->ctr.accepted,
			 "sessions_registered", (json_int_t)x->ctr.registered, "sessions_rejected",
			 (json_int_t)x->ctr.rejected, "hello_timeouts",
			 (json_int_t)x->ctr.hello_timeouts, "xsmp_bad_messages",
			 (json_int_t)x->ctr.bad_msgs, "acks", (json_int_t)x->ctr.acks, "nacks",
			 (json_int_t)x->ctr.nacks, "cm_rejects", (json_int_t)x->ctr.cm_rejects);
}

const struct xsd_ctl_hooks xsd_xcm_ctl_hooks = {
	.changed = hook_changed,
	.sessions = hook_sessions,
	.hosts = hook_hosts,
	.device_status = hook_device_status,
	.stats = hook_stats,
};
