/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the host's XSMP client session and resync logic
 * (xscore/host/session.c, ulp.c, backoff.c) over a fake transport: the
 * test plays the director, feeding byte-exact messages in and decoding
 * what the host sends back.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "host_int.h"

#define HOST_GUID UINT64_C(0x0002c90300000011)
#define XCM_GUID UINT64_C(0x0002c903000000aa)

/* ------------------------------------------------------- fake transport */

struct sent {
	uint8_t buf[XS_XSMP_MAX_MSG];
	size_t len;
};

static struct fake {
	int connects, closes;
	int connect_rc;
	int n_sent;
	struct sent sent[256];
} fk;

static int fake_connect(struct xs_xsmp_client *c)
{
	(void)c;
	fk.connects++;
	return fk.connect_rc;
}

static int fake_send(struct xs_xsmp_client *c, const uint8_t *msg, size_t len)
{
	(void)c;
	assert_true(fk.n_sent < 256);
	memcpy(fk.sent[fk.n_sent].buf, msg, len);
	fk.sent[fk.n_sent].len = len;
	fk.n_sent++;
	return 0;
}

static void fake_close(struct xs_xsmp_client *c)
{
	(void)c;
	fk.closes++;
}

static const struct xs_xsmp_transport_ops fake_tops = {
	.connect = fake_connect,
	.send = fake_send,
	.close = fake_close,
};

/* ----------------------------------------------------------- module */

static struct rec {
	int installs, updates, removes, ups, downs;
	uint32_t last_mask;
	enum xs_ulp_remove_why last_why;
	uint64_t last_removed;
	int fail_install; /* next install fails with this errno */
} rec;

static int rec_install(void *ctx, struct xs_ulp_dev *dev, struct xs_ulp_result *res)
{
	(void)ctx, (void)dev;
	rec.installs++;
	if (rec.fail_install) {
		res->reason = XS_NACK_LIMIT_REACHED;
		snprintf(res->text, sizeof(res->text), "only 1 vNIC allowed here");
		return -rec.fail_install;
	}
	return 0;
}

static int rec_update(void *ctx, struct xs_ulp_dev *dev, const union xs_ulp_config *old,
		      uint32_t mask, struct xs_ulp_result *res)
{
	(void)ctx, (void)dev, (void)old, (void)res;
	rec.updates++;
	rec.last_mask = mask;
	return 0;
}

static void rec_remove(void *ctx, struct xs_ulp_dev *dev, enum xs_ulp_remove_why why)
{
	(void)ctx;
	rec.removes++;
	rec.last_why = why;
	rec.last_removed = dev->resource_id;
}

static void rec_session(void *ctx, uint64_t guid, bool up)
{
	(void)ctx;
	assert_true(guid == XCM_GUID || guid == XCM_GUID + 1);
	if (up)
		rec.ups++;
	else
		rec.downs++;
}

static const struct xs_ulp_ops vnic_ops = {
	.name = "test-vnic",
	.xsmp_type = XS_XSMP_VNIC,
	.install = rec_install,
	.update = rec_update,
	.remove = rec_remove,
	.session = rec_session,
};

/* -------------------------------------------------------- director side */

static uint32_t dir_seq;

static void deliver(struct xs_xsmp_client *c, uint8_t type, const uint8_t *body, size_t blen,
		    uint64_t now)
{
	uint8_t msg[XS_XSMP_MAX_MSG];
	struct xs_xsmp_hdr h = {
		.type = type, .length = (uint16_t)(XS_XSMP_HDR_LEN + blen), .seq = ++dir_seq,
		.src = { 0, XCM_GUID }, .dst = { 0, HOST_GUID },
	};

	assert_int_equal(xs_xsmp_hdr_encode(&h, msg, sizeof(msg)), XS_XSMP_HDR_LEN);
	memcpy(msg + XS_XSMP_HDR_LEN, body, blen);
	xs_xsmp_on_message(c, msg, XS_XSMP_HDR_LEN + blen, now);
}

static void deliver_session(struct xs_xsmp_client *c, uint8_t code, uint32_t version,
			    uint32_t reason, const char *text, uint64_t now)
{
	struct xs_xsmp_session s;
	uint8_t body[XS_XSMP_SESSION_LEN];

	memset(&s, 0, sizeof(s));
	s.type = code;
	s.version = version;
	s.xsmp_version = 1;
	s.reason = reason;
	snprintf(s.chassis_name, sizeof(s.chassis_name), "director-1");
	snprintf(s.reason_text, sizeof(s.reason_text), "%s", text ? text : "");
	assert_int_equal(xs_xsmp_session_encode(&s, body, sizeof(body)), XS_XSMP_SESSION_LEN);
	deliver(c, XS_XSMP_SESSION, body, sizeof(body), now);
}

static void vnic_cfg(struct xs_vnic_msg *m, uint8_t code, uint64_t rid, const char *name,
		     uint16_t mtu)
{
	memset(m, 0, sizeof(*m));
	m->type = code;
	m->resource_id = rid;
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->mtu = mtu;
	m->mac[0] = 0x02, m->mac[5] = (uint8_t)rid;
	m->admin_state = XS_ADMIN_UP;
	m->vlan_mode = XS_VNIC_VLAN_ACCESS;
	m->vlan_count = 1;
	m->vlans[0] = 10;
}

static void deliver_vnic(struct xs_xsmp_client *c, const struct xs_vnic_msg *m, uint64_t now)
{
	uint8_t body[XS_VNIC_MSG_LEN];

	assert_int_equal(xs_vnic_msg_encode(m, body, sizeof(body)), XS_VNIC_MSG_LEN);
	deliver(c, XS_XSMP_VNIC, body, sizeof(body), now);
}

static void deliver_vnic_code(struct xs_xsmp_client *c, uint8_t code, uint64_t rid, uint64_t now)
{
	struct xs_vnic_msg m;

	memset(&m, 0, sizeof(m));
	m.type = code;
	m.resource_id = rid;
	deliver_vnic(c, &m, now);
}

/* Decode sent message i: header, and return the body pointer. */
static const uint8_t *sent_body(int i, struct xs_xsmp_hdr *h)
{
	assert_true(i < fk.n_sent);
	assert_int_equal(xs_xsmp_hdr_decode(fk.sent[i].buf, fk.sent[i].len, h), 0);
	assert_int_equal(h->length, fk.sent[i].len);
	assert_true(h->src.primary == HOST_GUID);
	assert_true(h->dst.primary == XCM_GUID);
	return fk.sent[i].buf + XS_XSMP_HDR_LEN;
}

static void sent_vnic(int i, struct xs_vnic_msg *m)
{
	struct xs_xsmp_hdr h;
	const uint8_t *b = sent_body(i, &h);

	assert_int_equal(h.type, XS_XSMP_VNIC);
	assert_int_equal(xs_vnic_msg_decode(b, h.length - XS_XSMP_HDR_LEN, m), 0);
}

static void sent_session(int i, struct xs_xsmp_session *s)
{
	struct xs_xsmp_hdr h;
	const uint8_t *b = sent_body(i, &h);

	assert_int_equal(h.type, XS_XSMP_SESSION);
	assert_int_equal(xs_xsmp_session_decode(b, h.length - XS_XSMP_HDR_LEN, s), 0);
}

static void sent_reslist(int i, struct xs_reslist *rl)
{
	struct xs_xsmp_hdr h;
	struct xs_xsmp_session s;
	const uint8_t *b = sent_body(i, &h);

	assert_int_equal(xs_xsmp_session_decode(b, h.length - XS_XSMP_HDR_LEN, &s), 0);
	assert_int_equal(s.type, XS_XSMP_RESOURCE_LIST);
	assert_int_equal(xs_reslist_decode(b + XS_XSMP_SESSION_LEN,
					   h.length - XS_XSMP_HDR_LEN - XS_XSMP_SESSION_LEN, rl), 0);
}

static struct xs_ulp_dev *find_dev(struct xs_host *h, uint64_t rid)
{
	struct xs_ulp_dev *d;

	for (d = xs_host_devices(h); d; d = d->next)
		if (d->resource_id == rid)
			return d;
	return NULL;
}

/* -------------------------------------------------------------- fixture */

struct fx {
	struct xs_host *h;
	struct xs_xsmp_client *c;
};

static int setup(void **state)
{
	static struct fx fx;
	struct xs_xcm_record xcm = { XCM_GUID, 5 };

	memset(&fk, 0, sizeof(fk));
	memset(&rec, 0, sizeof(rec));
	dir_seq = 0;
	fx.h = xs_host_new_detached("a-host-name-that-is-longer-than-31-characters", HOST_GUID,
				    &fake_tops);
	assert_non_null(fx.h);
	assert_int_equal(xs_host_register_ulp(fx.h, &vnic_ops, NULL), 0);
	assert_int_equal(xs_host_register_ulp(fx.h, &vnic_ops, NULL), -EEXIST);
	xs_host_apply_xcms(fx.h, &xcm, 1, 1000);
	fx.c = fx.h->clients[0];
	assert_non_null(fx.c);
	*state = &fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	xs_host_free(fx->h);
	return 0;
}

/* Bring the session up at time @now; returns the index of the next sent msg. */
static int bring_up(struct fx *fx, uint64_t now, uint32_t hello)
{
	xs_xsmp_client_tick(fx->c, now);
	assert_int_equal(fx->c->state, XS_SESS_CONNECTING);
	xs_xsmp_transport_up(fx->c, now);
	assert_int_equal(fx->c->state, XS_SESS_REGISTER_SENT);
	dir_seq = 0;
	deliver_session(fx->c, XS_XSMP_REG_CONFIRM, hello, 0, NULL, now);
	assert_int_equal(fx->c->state, XS_SESS_UP);
	return fk.n_sent;
}

/* ---------------------------------------------------------------- tests */

static void test_register_and_confirm(void **state)
{
	struct fx *fx = *state;
	struct xs_xsmp_session s;
	struct xs_xsmp_hdr h;
	struct xs_reslist rl;

	assert_int_equal(fx->c->state, XS_SESS_INIT);
	xs_xsmp_client_tick(fx->c, 1000);
	assert_int_equal(fk.connects, 1);
	assert_int_equal(fx->c->state, XS_SESS_CONNECTING);
	xs_xsmp_transport_up(fx->c, 1010);
	assert_int_equal(fk.n_sent, 1);
	sent_session(0, &s);
	(void)sent_body(0, &h);
	assert_int_equal(h.seq, 1);
	assert_int_equal(s.type, XS_XSMP_REGISTER);
	assert_int_equal(s.resource_flags, 1u << XS_RES_VNIC);
	assert_int_equal(s.xsmp_version, 1);
	assert_string_equal(s.session_name, "a-host-name-that-is-longer-than");
	assert_int_equal(strlen(s.session_name), 31);
	assert_string_equal(s.chassis_name, "");

	deliver_session(fx->c, XS_XSMP_REG_CONFIRM, 2, 0, NULL, 1020);
	assert_int_equal(fx->c->state, XS_SESS_UP);
	assert_int_equal(fx->c->hello_interval_s, 2);
	assert_string_equal(fx->c->chassis_name, "director-1");
	assert_int_equal(rec.ups, 1);
	/* RESOURCE_LIST right after REG_CONFIRM: empty, one part */
	assert_int_equal(fk.n_sent, 2);
	sent_reslist(1, &rl);
	assert_int_equal(rl.count, 0);
	assert_int_equal(rl.flags, XS_RESLIST_FIRST | XS_RESLIST_LAST);
	(void)sent_body(1, &h);
	assert_int_equal(h.seq, 2);
}

static void test_hello_echo_and_timeout(void **state)
{
	struct fx *fx = *state;
	struct xs_xsmp_session s;
	int n = bring_up(fx, 1000, 2);

	deliver_session(fx->c, XS_XSMP_HELLO, 0, 0, NULL, 3000);
	assert_int_equal(fk.n_sent, n + 1);
	sent_session(n, &s);
	assert_int_equal(s.type, XS_XSMP_HELLO);
	assert_int_equal(s.code, XS_XSMP_ACK);
	assert_int_equal(fx->c->hellos_rx, 1);

	/* 3 x 2 s after the last message: still up at 5999 ms, dead at 6000 */
	xs_xsmp_client_tick(fx->c, 3000 + 5999);
	assert_int_equal(fx->c->state, XS_SESS_UP);
	xs_xsmp_client_tick(fx->c, 3000 + 6000);
	assert_int_equal(fx->c->state, XS_SESS_INIT);
	assert_string_equal(fx->c->last_error, "hello timeout: nothing received for 6 s");
	assert_int_equal(fk.closes, 1);
	assert_int_equal(rec.downs, 1);
	/* the next attempt is within the first back-off window */
	assert_true(fx->c->next_attempt_ms >= 9000 && fx->c->next_attempt_ms <= 9000 + 1000);
}

static void test_sync_install_and_resync_after_blink(void **state)
{
	struct fx *fx = *state;
	struct xs_vnic_msg m, r;
	struct xs_reslist rl;
	uint64_t t = 1000;
	int n = bring_up(fx, t, 5);

	/* First sync: three vNICs */
	deliver_vnic_code(fx->c, XS_VNIC_SYNC_BEGIN, 0, t);
	vnic_cfg(&m, XS_VNIC_INSTALL, 1, "eth0", 1500);
	deliver_vnic(fx->c, &m, t);
	vnic_cfg(&m, XS_VNIC_INSTALL, 2, "eth1", 1500);
	deliver_vnic(fx->c, &m, t);
	vnic_cfg(&m, XS_VNIC_INSTALL, 3, "eth2", 1500);
	deliver_vnic(fx->c, &m, t);
	deliver_vnic_code(fx->c, XS_VNIC_SYNC_END, 0, t);
	assert_int_equal(rec.installs, 3);
	assert_int_equal(fk.n_sent, n + 6); /* 5 replies + RESOURCE_LIST */
	sent_vnic(n, &r);
	assert_int_equal(r.type, XS_VNIC_SYNC_BEGIN);
	assert_int_equal(r.code, XS_XSMP_ACK);
	sent_vnic(n + 1, &r);
	assert_int_equal(r.type, XS_VNIC_INSTALL);
	assert_int_equal(r.code, XS_XSMP_ACK);
	assert_true(r.resource_id == 1);
	assert_string_equal(r.name, "eth0");
	assert_string_equal(r.reason_text, "installed");
	sent_vnic(n + 4, &r);
	assert_int_equal(r.type, XS_VNIC_SYNC_END);
	assert_string_equal(r.reason_text, "removed 0 stale");
	sent_reslist(n + 5, &rl);
	assert_int_equal(rl.count, 3);
	assert_int_equal(rl.total, 3);

	/* The session blinks: devices stay */
	xs_xsmp_transport_down(fx->c, t + 100, "connection lost (disconnected)");
	assert_int_equal(fx->c->state, XS_SESS_INIT);
	assert_int_equal(rec.removes, 0);
	assert_non_null(find_dev(fx->h, 1));
	assert_non_null(find_dev(fx->h, 3));

	/* Reconnect: eth0 identical, eth1 with a new MTU, eth2 gone */
	t = fx->c->next_attempt_ms;
	n = bring_up(fx, t, 5);
	assert_int_equal(fx->c->reconnects, 1);
	deliver_vnic_code(fx->c, XS_VNIC_SYNC_BEGIN, 0, t);
	assert_true(find_dev(fx->h, 3)->stale);
	vnic_cfg(&m, XS_VNIC_INSTALL, 1, "eth0", 1500);
	deliver_vnic(fx->c, &m, t);
	vnic_cfg(&m, XS_VNIC_INSTALL, 2, "eth1", 9000);
	deliver_vnic(fx->c, &m, t);
	deliver_vnic_code(fx->c, XS_VNIC_SYNC_END, 0, t);
	assert_int_equal(rec.installs, 3);      /* nothing re-created */
	assert_int_equal(rec.updates, 1);       /* eth1 updated in place */
	assert_int_equal(rec.removes, 1);       /* eth2 swept */
	assert_int_equal(rec.last_why, XS_ULP_REMOVE_STALE);
	assert_true(rec.last_removed == 3);
	assert_null(find_dev(fx->h, 3));
	assert_int_equal(find_dev(fx->h, 2)->cfg.vnic.mtu, 9000);
	sent_vnic(n + 1, &r);
	assert_string_equal(r.reason_text, "unchanged");
	sent_vnic(n + 2, &r);
	assert_string_equal(r.reason_text, "updated (mtu)");
	sent_vnic(n + 3, &r);
	assert_string_equal(r.reason_text, "removed 1 stale");
}

static void test_sync_cut_short_deletes_nothing(void **state)
{
	struct fx *fx = *state;
	struct xs_vnic_msg m;
	uint64_t t = 1000;

	bring_up(fx, t, 5);
	vnic_cfg(&m, XS_VNIC_INSTALL, 7, "eth7", 1500);
	deliver_vnic(fx->c, &m, t);
	deliver_vnic_code(fx->c, XS_VNIC_SYNC_BEGIN, 0, t);
	assert_true(find_dev(fx->h, 7)->stale);
	xs_xsmp_transport_down(fx->c, t, "connection lost (disconnected)");
	assert_false(find_dev(fx->h, 7)->stale);
	t = fx->c->next_attempt_ms;
	bring_up(fx, t, 5);
	deliver_vnic_code(fx->c, XS_VNIC_SYNC_END, 0, t); /* SYNC_END without a BEGIN */
	assert_non_null(find_dev(fx->h, 7));
	assert_int_equal(rec.removes, 0);
}

static void test_nacks(void **state)
{
	struct fx *fx = *state;
	struct xs_vnic_msg m, r;
	uint8_t body[XS_VNIC_MSG_LEN];
	uint64_t rejects;
	int n = bring_up(fx, 1000, 5);

	vnic_cfg(&m, XS_VNIC_INSTALL, 1, "eth0", 1500);
	deliver_vnic(fx->c, &m, 1000);
	/* duplicate name under another resource id */
	vnic_cfg(&m, XS_VNIC_INSTALL, 2, "eth0", 1500);
	deliver_vnic(fx->c, &m, 1000);
	sent_vnic(n + 1, &r);
	assert_int_equal(r.code, XS_XSMP_NACK | XS_NACK_DUP_NAME);
	assert_int_equal(r.reason, XS_NACK_DUP_NAME);
	assert_string_equal(r.reason_text, "name eth0 is used by resource 0000000000000001");
	assert_true(r.resource_id == 2);

	/* a 16-character name on the wire: malformed, NACKed with the id */
	vnic_cfg(&m, XS_VNIC_INSTALL, 9, "x", 1500);
	assert_int_equal(xs_vnic_msg_encode(&m, body, sizeof(body)), 512);
	memcpy(body + 44, "0123456789abcdef", 16);
	rejects = xs_ulp_wire_rejects(XS_ULP_CODEC_VNIC);
	deliver(fx->c, XS_XSMP_VNIC, body, sizeof(body), 1000);
	assert_true(xs_ulp_wire_rejects(XS_ULP_CODEC_VNIC) == rejects + 1); /* counted once */
	sent_vnic(n + 2, &r);
	assert_int_equal(r.code, XS_XSMP_NACK | XS_NACK_MALFORMED);
	assert_true(r.resource_id == 9);
	assert_string_equal(r.reason_text, "malformed vNIC INSTALL message (Bad message)");

	/* the module refuses */
	rec.fail_install = ENOSPC;
	vnic_cfg(&m, XS_VNIC_INSTALL, 4, "eth4", 1500);
	deliver_vnic(fx->c, &m, 1000);
	sent_vnic(n + 3, &r);
	assert_int_equal(r.code, XS_XSMP_NACK | XS_NACK_LIMIT_REACHED);
	assert_string_equal(r.reason_text, "only 1 vNIC allowed here");
	assert_null(find_dev(fx->h, 4));

	/* UPDATE of an unknown id, DELETE of an unknown id */
	vnic_cfg(&m, XS_VNIC_UPDATE, 55, "eth55", 1500);
	deliver_vnic(fx->c, &m, 1000);
	sent_vnic(n + 4, &r);
	assert_int_equal(r.code, XS_XSMP_NACK | XS_NACK_UNKNOWN_RESOURCE);
	deliver_vnic_code(fx->c, XS_VNIC_DELETE, 55, 1000);
	sent_vnic(n + 5, &r);
	assert_int_equal(r.code, XS_XSMP_ACK);
	assert_string_equal(r.reason_text, "not present");

	/* a type without a module */
	{
		struct xs_vhba_msg v;
		uint8_t vb[XS_VHBA_MSG_LEN];
		struct xs_xsmp_hdr h;

		memset(&v, 0, sizeof(v));
		v.type = XS_VHBA_INSTALL;
		v.resource_id = 77;
		snprintf(v.name, sizeof(v.name), "vhba0");
		assert_int_equal(xs_vhba_msg_encode(&v, vb, sizeof(vb)), 512);
		deliver(fx->c, XS_XSMP_VHBA, vb, sizeof(vb), 1000);
		assert_int_equal(xs_vhba_msg_decode(sent_body(n + 6, &h), 512, &v), 0);
		assert_int_equal(h.type, XS_XSMP_VHBA);
		assert_int_equal(v.code, XS_XSMP_NACK | XS_NACK_NO_HANDLER);
		assert_string_equal(v.reason_text, "no vHBA module on this host");
	}

	/* DELETE of a held device */
	deliver_vnic_code(fx->c, XS_VNIC_DELETE, 1, 1000);
	sent_vnic(n + 7, &r);
	assert_string_equal(r.reason_text, "deleted");
	assert_int_equal(rec.last_why, XS_ULP_REMOVE_DELETE);
	assert_null(find_dev(fx->h, 1));
}

static void test_reject_and_backoff(void **state)
{
	struct fx *fx = *state;
	uint64_t t = 1000;
	int i;

	xs_xsmp_client_tick(fx->c, t);
	xs_xsmp_transport_up(fx->c, t);
	deliver_session(fx->c, XS_XSMP_REG_REJECT, 0, 1,
			"unknown host a-host-name-that-is-longer-than", t);
	assert_int_equal(fx->c->state, XS_SESS_INIT);
	assert_int_equal(fx->c->rejects, 1);
	assert_string_equal(fx->c->last_error,
			    "rejected by director: reason 1: unknown host a-host-name-that-is-longer-than");
	/* repeated failures: each delay within min(60 s, 1 s * 2^n) */
	for (i = 1; i < 12; i++) {
		uint64_t window = XS_MIN(60000u, 1000u << XS_MIN(i, 16));

		t = fx->c->next_attempt_ms;
		xs_xsmp_client_tick(fx->c, t);
		assert_int_equal(fx->c->state, XS_SESS_CONNECTING);
		xs_xsmp_transport_down(fx->c, t, "XCM unreachable: Connection timed out");
		assert_true(fx->c->next_attempt_ms - t <= window);
	}
	/* connect that times out on its own */
	t = fx->c->next_attempt_ms;
	xs_xsmp_client_tick(fx->c, t);
	xs_xsmp_client_tick(fx->c, t + XS_SESS_CONNECT_TIMEOUT_MS);
	assert_int_equal(fx->c->state, XS_SESS_INIT);
	assert_string_equal(fx->c->last_error, "connect timed out");
}

static void test_backoff_spread(void **state)
{
	struct xs_backoff b;
	uint64_t sum = 0;
	uint32_t d, lo = UINT32_MAX, hi = 0;
	int i, j;

	(void)state;
	/* 1000 hosts after 8 failures: spread over [0, 60 s], mean near 30 s */
	for (i = 0; i < 1000; i++) {
		xs_backoff_init(&b, 1000, 60000, UINT64_C(0x1234567) * (uint64_t)(i + 1));
		for (j = 0; j < 8; j++)
			d = xs_backoff_next(&b);
		d = xs_backoff_next(&b);
		assert_true(d <= 60000);
		lo = XS_MIN(lo, d);
		hi = XS_MAX(hi, d);
		sum += d;
	}
	assert_true(lo < 3000);
	assert_true(hi > 57000);
	assert_true(sum / 1000 > 25000 && sum / 1000 < 35000);
	xs_backoff_init(&b, 1000, 60000, 42);
	for (i = 0; i < 10; i++)
		(void)xs_backoff_next(&b);
	xs_backoff_reset(&b);
	assert_true(xs_backoff_next(&b) <= 1000);
}

static void test_shutdown(void **state)
{
	struct fx *fx = *state;
	struct xs_xsmp_session s;
	int n = bring_up(fx, 1000, 5);

	assert_int_equal(xs_host_shutdown(fx->h, "host agent stopping"), 1);
	assert_int_equal(fk.n_sent, n + 1);
	sent_session(n, &s);
	assert_int_equal(s.type, XS_XSMP_SHUTDOWN);
	assert_string_equal(s.reason_text, "host agent stopping");
	assert_int_equal(fx->c->state, XS_SESS_DISCONNECTING);
	assert_false(xs_host_quiet(fx->h));
	/* REGISTER, RESOURCE_LIST and SHUTDOWN are outstanding: wait for all */
	assert_int_equal(fx->c->tx_outstanding, 3);
	xs_xsmp_send_done(fx->c, true, 1001);
	xs_xsmp_send_done(fx->c, true, 1001);
	assert_int_equal(fx->c->state, XS_SESS_DISCONNECTING);
	xs_xsmp_send_done(fx->c, true, 1001);
	assert_int_equal(fx->c->state, XS_SESS_INIT);
	assert_true(xs_host_quiet(fx->h));
	xs_xsmp_client_tick(fx->c, 1000000);
	assert_int_equal(fx->c->state, XS_SESS_INIT); /* no reconnect */
	assert_int_equal(fk.connects, 1);
	assert_int_equal(rec.downs, 1);
}

static void test_shutdown_grace_bound(void **state)
{
	struct fx *fx = *state;

	bring_up(fx, 1000, 5);
	assert_int_equal(xs_xsmp_client_stop(fx->c, 1000, "host agent stopping"), 1);
	xs_xsmp_client_tick(fx->c, 1000 + XS_SESS_SHUTDOWN_GRACE_MS - 1);
	assert_int_equal(fx->c->state, XS_SESS_DISCONNECTING);
	xs_xsmp_client_tick(fx->c, 1000 + XS_SESS_SHUTDOWN_GRACE_MS);
	assert_int_equal(fx->c->state, XS_SESS_INIT);
	assert_int_equal(fk.closes, 1);
}

static void test_director_shutdown_keeps_devices(void **state)
{
	struct fx *fx = *state;
	struct xs_vnic_msg m;

	bring_up(fx, 1000, 5);
	vnic_cfg(&m, XS_VNIC_INSTALL, 1, "eth0", 1500);
	deliver_vnic(fx->c, &m, 1000);
	deliver_session(fx->c, XS_XSMP_SHUTDOWN, 0, 0, "director stopping", 1100);
	assert_int_equal(fx->c->state, XS_SESS_INIT);
	assert_string_equal(fx->c->last_error, "director shut the session down: director stopping");
	assert_non_null(find_dev(fx->h, 1));
	assert_false(fx->c->stopped);
	/* ULP messages before REG_CONFIRM are dropped */
	xs_xsmp_client_tick(fx->c, fx->c->next_attempt_ms);
	xs_xsmp_transport_up(fx->c, fx->c->next_attempt_ms);
	deliver_vnic_code(fx->c, XS_VNIC_DELETE, 1, fx->c->next_attempt_ms);
	assert_non_null(find_dev(fx->h, 1));
}

/* Modules talk back (OPER_UP) on the session that configured the device. */
static void test_ulp_send_and_state(void **state)
{
	struct fx *fx = *state;
	struct xs_vnic_msg m, r;
	struct xs_reslist rl;
	struct xs_ulp_dev *dev;
	int n = bring_up(fx, 1000, 5);

	vnic_cfg(&m, XS_VNIC_INSTALL, 0x77, "eth7", 1500);
	deliver_vnic(fx->c, &m, 1000);
	dev = find_dev(fx->h, 0x77);
	assert_non_null(dev);
	dev->state = XS_RES_STATE_OPER_UP;
	assert_int_equal(xs_ulp_send(dev, XS_VNIC_OPER_UP), 0);
	sent_vnic(n + 1, &r);
	assert_int_equal(r.type, XS_VNIC_OPER_UP);
	assert_int_equal(r.code, 0);
	assert_true(r.resource_id == 0x77);
	assert_string_equal(r.name, "eth7");
	assert_int_equal(r.mtu, 1500);
	/* the director's ACK of it is taken silently */
	r.code = XS_XSMP_ACK;
	deliver_vnic(fx->c, &r, 1000);
	assert_int_equal(fk.n_sent, n + 2);
	/* the state is reported in RESOURCE_LIST */
	deliver_vnic_code(fx->c, XS_VNIC_SYNC_BEGIN, 0, 1000);
	deliver_vnic(fx->c, &m, 1000);
	deliver_vnic_code(fx->c, XS_VNIC_SYNC_END, 0, 1000);
	sent_reslist(fk.n_sent - 1, &rl);
	assert_int_equal(rl.count, 1);
	assert_int_equal(rl.entries[0].state, XS_RES_STATE_OPER_UP);
	assert_int_equal(rl.entries[0].xsmp_type, XS_XSMP_VNIC);
	assert_ptr_equal(xs_host_device(fx->h, 0x77), dev);
	assert_null(xs_host_device(fx->h, 0x78));
	assert_int_equal(xs_host_unregister_ulp(fx->h, XS_XSMP_VNIC), -EBUSY);
	assert_int_equal(xs_host_unregister_ulp(fx->h, XS_XSMP_VHBA), -ENOENT);
	assert_string_equal(xs_host_ulp_name(fx->h, XS_XSMP_VNIC), "test-vnic");
	/* no session, no send */
	xs_xsmp_transport_down(fx->c, 1000, "connection lost (disconnected)");
	assert_int_equal(xs_ulp_send(dev, XS_VNIC_OPER_DOWN), -ENOTCONN);
	deliver_vnic_code(fx->c, XS_VNIC_DELETE, 0x77, 1000); /* dropped: not up */
	xs_xsmp_client_tick(fx->c, fx->c->next_attempt_ms);
	xs_xsmp_transport_up(fx->c, fx->c->next_attempt_ms);
	deliver_session(fx->c, XS_XSMP_REG_CONFIRM, 5, 0, NULL, fx->c->next_attempt_ms);
	deliver_vnic_code(fx->c, XS_VNIC_DELETE, 0x77, fx->c->next_attempt_ms);
	assert_int_equal(xs_host_unregister_ulp(fx->h, XS_XSMP_VNIC), 0);
	assert_null(xs_host_ulp_name(fx->h, XS_XSMP_VNIC));
	assert_int_equal(xs_host_resource_flags(fx->h), 0);
}

/* More ids than one RESOURCE_LIST holds: FIRST ... LAST parts. */
static void test_resource_list_parts(void **state)
{
	struct fx *fx = *state;
	struct xs_vnic_msg m;
	struct xs_reslist a, b;
	char name[16];
	int i;

	bring_up(fx, 1000, 5);
	for (i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "v%d", i);
		vnic_cfg(&m, XS_VNIC_INSTALL, 0x100 + (uint64_t)i, name, 1500);
		deliver_vnic(fx->c, &m, 1000);
	}
	assert_int_equal(fx->h->n_devs, 50);
	assert_int_equal(xs_host_send_resource_list(fx->h, fx->c), 0);
	sent_reslist(fk.n_sent - 2, &a);
	sent_reslist(fk.n_sent - 1, &b);
	assert_int_equal(a.count, 47);
	assert_int_equal(a.flags, XS_RESLIST_FIRST);
	assert_int_equal(a.total, 50);
	assert_int_equal(b.count, 3);
	assert_int_equal(b.flags, XS_RESLIST_LAST);
	assert_int_equal(b.total, 50);
}

/* Two XCMs: a resync from one never removes what the other configured. */
static void test_two_xcms_sync_apart(void **state)
{
	struct fx *fx = *state;
	struct xs_xcm_record xcms[2] = { { XCM_GUID, 5 }, { XCM_GUID + 1, 6 } };
	struct xs_xsmp_client *c2;
	struct xs_vnic_msg m;

	xs_host_apply_xcms(fx->h, xcms, 2, 1000);
	assert_int_equal(fx->h->n_clients, 2);
	c2 = fx->h->clients[1];
	assert_true(c2->xcm_guid == XCM_GUID + 1);
	bring_up(fx, 1000, 5);
	xs_xsmp_client_tick(c2, 1000);
	xs_xsmp_transport_up(c2, 1000);
	deliver_session(c2, XS_XSMP_REG_CONFIRM, 5, 0, NULL, 1000);
	assert_int_equal(c2->state, XS_SESS_UP);
	vnic_cfg(&m, XS_VNIC_INSTALL, 1, "eth0", 1500);
	deliver_vnic(fx->c, &m, 1000);
	vnic_cfg(&m, XS_VNIC_INSTALL, 2, "eth1", 1500);
	/* a vNIC message with no body at all is dropped and counted */
	deliver(c2, XS_XSMP_VNIC, m.mac, 0, 1000);
	assert_int_equal(c2->bad_msgs, 1);
	deliver_vnic(c2, &m, 1000);
	assert_true(find_dev(fx->h, 2)->xcm_guid == XCM_GUID + 1);
	deliver_vnic_code(fx->c, XS_VNIC_SYNC_BEGIN, 0, 1000);
	deliver_vnic_code(fx->c, XS_VNIC_SYNC_END, 0, 1000);
	assert_null(find_dev(fx->h, 1));
	assert_non_null(find_dev(fx->h, 2));
	/* the XCM list shrinks: its session ends with SHUTDOWN, the device stays */
	xs_host_apply_xcms(fx->h, xcms, 1, 2000);
	assert_true(c2->stopped);
	assert_int_equal(c2->state, XS_SESS_DISCONNECTING);
	assert_non_null(find_dev(fx->h, 2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_register_and_confirm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hello_echo_and_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_install_and_resync_after_blink, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sync_cut_short_deletes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nacks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reject_and_backoff, setup, teardown),
		cmocka_unit_test(test_backoff_spread),
		cmocka_unit_test_setup_teardown(test_shutdown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shutdown_grace_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_xcms_sync_apart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ulp_send_and_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resource_list_parts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_director_shutdown_keeps_devices, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
