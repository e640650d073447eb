/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the XCM session state machine (director/xcm/xcm.c, included
 * through xcm_harness.h): registration outcomes with exact reasons, the
 * resync sequence, ACK/NACK bookkeeping, pushes with operator waits, UPDATE
 * masks, DELETE, hello timeout, a reconnect replacing a session, and bad
 * messages.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "xcm_harness.h"

static const struct xsd_actor op = { .uid = 0, .user = "test" };

struct t {
	struct xs_loop *loop;
	struct xsd_store *st;
	struct xsd_xcm *x;
};

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	struct xsd_err err;

	xs_log_set_level(XS_LOG_ERR);
	t->loop = xs_loop_new();
	t->st = xsd_store_open(":memory:", &err);
	assert_non_null(t->st);
	t->x = h_xcm_new(t->loop, t->st);
	h_n_sent = 0;
	h_disconnects = 0;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;

	h_xcm_free(t->x);
	xsd_store_close(t->st);
	xs_loop_free(t->loop);
	free(t);
	return 0;
}

static struct xs_xsmp_session sent_session(int i)
{
	struct xs_xsmp_session b;

	assert_true(i < h_n_sent);
	assert_int_equal(h_sent[i].type, XS_XSMP_SESSION);
	assert_int_equal(xs_xsmp_session_decode(h_sent[i].data + XS_XSMP_HDR_LEN,
						h_sent[i].len - XS_XSMP_HDR_LEN, &b), 0);
	return b;
}

static struct xs_vnic_msg sent_vnic(int i)
{
	struct xs_vnic_msg m;

	assert_true(i < h_n_sent);
	assert_int_equal(h_sent[i].type, XS_XSMP_VNIC);
	assert_int_equal(xs_vnic_msg_decode(h_sent[i].data + XS_XSMP_HDR_LEN,
					    h_sent[i].len - XS_XSMP_HDR_LEN, &m), 0);
	return m;
}

static struct xs_vhba_msg sent_vhba(int i)
{
	struct xs_vhba_msg m;

	assert_true(i < h_n_sent);
	assert_int_equal(h_sent[i].type, XS_XSMP_VHBA);
	assert_int_equal(xs_vhba_msg_decode(h_sent[i].data + XS_XSMP_HDR_LEN,
					    h_sent[i].len - XS_XSMP_HDR_LEN, &m), 0);
	return m;
}

static void deliver(struct sess *s, const uint8_t *msg, size_t len)
{
	on_message(s, msg, len);
}

static void do_register(struct t *t, struct sess *s, const char *name, uint32_t version)
{
	uint8_t m[XS_XSMP_MAX_MSG];
	size_t n = h_session_msg(m, XS_XSMP_REGISTER, 0, version, name,
				 (1u << XS_RES_VNIC) | (1u << XS_RES_VHBA), s->remote_guid);

	deliver(s, m, n);
	h_complete_sends(t->x);
}

static const char *host_field(struct xsd_xcm *x, const char *name, const char *key)
{
	static char buf[160];
	json_t *a = hook_hosts(x), *e;
	size_t i;

	buf[0] = 0;
	json_array_foreach(a, i, e)
		if (!strcmp(json_string_value(json_object_get(e, "host")), name)) {
			json_t *v = json_object_get(e, key);

			if (json_is_string(v))
				snprintf(buf, sizeof(buf), "%s", json_string_value(v));
			else
				snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
		}
	json_decref(a);
	return buf;
}

static void add_profile(struct t *t, const char *name, const char *host)
{
	struct xsd_profile p = { 0 };
	struct xsd_err err;

	snprintf(p.name, sizeof(p.name), "%s", name);
	snprintf(p.hostname, sizeof(p.hostname), "%s", host);
	assert_int_equal(xsd_store_profile_add(t->st, &op, &p, &err), 0);
}

static uint64_t add_vnic(struct t *t, const char *name, const char *profile, uint32_t mtu)
{
	struct xsd_vnic v = { 0 };
	struct xsd_err err;

	snprintf(v.name, sizeof(v.name), "%s", name);
	snprintf(v.profile, sizeof(v.profile), "%s", profile);
	v.mtu = mtu;
	assert_int_equal(xsd_store_vnic_add(t->st, &op, &v, XSD_VNIC_MTU, &err), 0);
	return v.resource_id;
}

static void test_unknown_host_rejected(void **state)
{
	struct t *t = *state;
	struct sess *s = h_connect(t->x, 0x1111, 7);
	struct xs_xsmp_session b;

	do_register(t, s, "stranger", XS_XSMP_VERSION);
	assert_int_equal(h_n_sent, 1);
	b = sent_session(0);
	assert_int_equal(b.type, XS_XSMP_REG_REJECT);
	assert_int_equal(b.reason, 1);
	assert_string_equal(b.reason_text, "unknown host: no profile binds it and auto-accept is off");
	assert_int_equal(h_disconnects, 1); /* disconnected once the REJECT left */
	assert_null(t->x->slots[0]);        /* and reaped */
	assert_string_equal(host_field(t->x, "stranger", "state"), "rejected");
	assert_string_equal(host_field(t->x, "stranger", "reason"),
			    "unknown host: no profile binds it and auto-accept is off");
}

static void test_bad_version_rejected(void **state)
{
	struct t *t = *state;
	struct sess *s = h_connect(t->x, 0x1111, 7);
	struct xs_xsmp_session b;

	add_profile(t, "p1", "host1");
	do_register(t, s, "host1", 7);
	b = sent_session(0);
	assert_int_equal(b.type, XS_XSMP_REG_REJECT);
	assert_int_equal(b.reason, 2);
	assert_string_equal(b.reason_text, "unsupported XSMP version 7; this director speaks 1");
}

static void test_register_and_sync(void **state)
{
	struct t *t = *state;
	struct sess *s;
	struct xs_xsmp_session b;
	struct xs_vnic_msg v;
	struct xs_vhba_msg h;
	struct xsd_vhba hb = { .name = "fc0", .profile = "p1" };
	struct xsd_err err;
	uint64_t r1, r2;

	add_profile(t, "p1", "host1");
	r1 = add_vnic(t, "eth0", "p1", 9000);
	r2 = add_vnic(t, "eth1", "p1", 1500);
	assert_int_equal(xsd_store_vhba_add(t->st, &op, &hb, 0, &err), 0);
	s = h_connect(t->x, 0x2222, 9);
	do_register(t, s, "host1", XS_XSMP_VERSION);
	assert_int_equal(s->state, S_UP);
	/* REG_CONFIRM, then VNIC BEGIN, 2 INSTALL, END, VHBA BEGIN, INSTALL, END */
	assert_int_equal(h_n_sent, 8);
	b = sent_session(0);
	assert_int_equal(b.type, XS_XSMP_REG_CONFIRM);
	assert_int_equal(b.version, 5);
	assert_string_equal(b.chassis_name, "test-director");
	assert_string_equal(b.session_name, "host1");
	assert_int_equal(sent_vnic(1).type, XS_VNIC_SYNC_BEGIN);
	v = sent_vnic(2);
	assert_int_equal(v.type, XS_VNIC_INSTALL);
	assert_string_equal(v.name, "eth0");
	assert_int_equal(v.resource_id, r1);
	assert_int_equal(v.mtu, 9000);
	assert_int_equal(v.tca_lid, 2);
	assert_int_equal(v.mac[5], 1);
	v = sent_vnic(3);
	assert_string_equal(v.name, "eth1");
	assert_int_equal(v.resource_id, r2);
	assert_int_equal(sent_vnic(4).type, XS_VNIC_SYNC_END);
	assert_int_equal(sent_vhba(5).type, XS_VHBA_SYNC_BEGIN);
	h = sent_vhba(6);
	assert_int_equal(h.type, XS_VHBA_INSTALL);
	assert_string_equal(h.name, "fc0");
	assert_int_equal(h.wwpn, hb.wwpn);
	assert_int_equal(h.wwnn, hb.wwnn);
	assert_int_equal(h.queue_depth, 32);
	assert_int_equal(sent_vhba(7).type, XS_VHBA_SYNC_END);
	/* the header names both ends */
	assert_int_equal(xs_get64(h_sent[1].data + 12), t->x->port.port_guid);
	assert_int_equal(xs_get64(h_sent[1].data + 24), 0x2222);
}

static void test_ack_nack_status(void **state)
{
	struct t *t = *state;
	uint8_t m[XS_XSMP_MAX_MSG];
	struct sess *s;
	json_t *st;
	uint64_t r1, r2;
	size_t n;

	add_profile(t, "p1", "host1");
	r1 = add_vnic(t, "eth0", "p1", 1500);
	r2 = add_vnic(t, "eth1", "p1", 1500);
	s = h_connect(t->x, 0x2222, 9);
	do_register(t, s, "host1", XS_XSMP_VERSION);
	st = hook_device_status(t->x, r1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(st, 0), "state")),
			    "pending");
	json_decref(st);
	n = h_reply(m, 2, true, 0, "installed");
	deliver(s, m, n);
	n = h_reply(m, 3, false, XS_NACK_DUP_NAME, "name eth1 is used by resource 42");
	deliver(s, m, n);
	st = hook_device_status(t->x, r1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(st, 0), "state")),
			    "installed");
	json_decref(st);
	st = hook_device_status(t->x, r2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(st, 0), "state")),
			    "NACK");
	assert_string_equal(json_string_value(json_object_get(json_array_get(st, 0), "reason")),
			    "name eth1 is used by resource 42");
	json_decref(st);
	assert_int_equal(t->x->ctr.acks, 1);
	assert_int_equal(t->x->ctr.nacks, 1);
}

/* the operator's request, held while the XCM waits for the host */
static char last_reply[2048];
static void on_done(struct xsd_ctl_req *req, void *arg)
{
	char *s = json_dumps(json_object_get(req->reply, "push"), JSON_COMPACT | JSON_SORT_KEYS);

	snprintf(last_reply, sizeof(last_reply), "%s", s ? s : "null");
	free(s);
}

static struct xsd_ctl_req *new_req(void)
{
	struct xsd_ctl_req *r = calloc(1, sizeof(*r));

	r->refs = 1;
	r->reply = json_object();
	r->complete = on_done;
	last_reply[0] = 0;
	return r;
}

static void test_push_update_and_delete(void **state)
{
	struct t *t = *state;
	uint8_t m[XS_XSMP_MAX_MSG];
	struct xsd_vnic v = { .name = "eth0" };
	struct xsd_change c = { .kind = XSD_CHANGE_VNIC, .action = XSD_CHANGE_SET,
				.name = "eth0", .profile = "p1", .old_profile = "p1" };
	struct xsd_ctl_req *req;
	struct xs_vnic_msg u;
	struct xsd_err err;
	struct sess *s;
	size_t n;
	int base;

	add_profile(t, "p1", "host1");
	c.resource_id = add_vnic(t, "eth0", "p1", 1500);
	s = h_connect(t->x, 0x2222, 9);
	do_register(t, s, "host1", XS_XSMP_VERSION);
	n = h_reply(m, 2, true, 0, NULL);
	deliver(s, m, n);

	/* MTU change: an UPDATE with the MTU bit only, full body */
	v.mtu = 9000;
	assert_int_equal(xsd_store_vnic_set(t->st, &op, &v, XSD_VNIC_MTU, &err), 0);
	base = h_n_sent;
	req = new_req();
	hook_changed(t->x, &c, req);
	xsd_ctl_req_put(req); /* the dispatcher's reference */
	h_complete_sends(t->x);
	assert_int_equal(h_n_sent, base + 1);
	u = sent_vnic(base);
	assert_int_equal(u.type, XS_VNIC_UPDATE);
	assert_int_equal(u.bitmask, XS_VNIC_UPDATE_MTU);
	assert_int_equal(u.mtu, 9000);
	assert_string_equal(u.name, "eth0");
	assert_string_equal(last_reply, ""); /* still waiting */
	n = h_reply(m, base, true, 0, "updated");
	deliver(s, m, n);
	assert_string_equal(last_reply, "[{\"action\":\"update\",\"device\":\"vnic eth0\",\"host\":\"host1\",\"reason\":\"\",\"result\":\"acknowledged\"}]");

	/* an unchanged set sends nothing */
	base = h_n_sent;
	req = new_req();
	hook_changed(t->x, &c, req);
	xsd_ctl_req_put(req);
	assert_int_equal(h_n_sent, base);
	assert_string_equal(last_reply, "null");

	/* delete: DELETE sent, nothing left after the ACK */
	assert_int_equal(xsd_store_vnic_delete(t->st, &op, "eth0", &v, &err), 0);
	c.action = XSD_CHANGE_DELETE;
	req = new_req();
	hook_changed(t->x, &c, req);
	xsd_ctl_req_put(req);
	h_complete_sends(t->x);
	u = sent_vnic(base);
	assert_int_equal(u.type, XS_VNIC_DELETE);
	assert_int_equal(u.resource_id, c.resource_id);
	n = h_reply(m, base, false, XS_NACK_DEVICE_BUSY, "busy");
	deliver(s, m, n);
	assert_string_equal(last_reply, "[{\"action\":\"delete\",\"device\":\"vnic eth0\",\"host\":\"host1\",\"reason\":\"busy\",\"result\":\"nack\"}]");
	assert_non_null(sdev_find(s, c.resource_id)); /* kept: the host still has it */

	/* no answer: the group times out */
	c.action = XSD_CHANGE_ADD;
	c.resource_id = add_vnic(t, "eth5", "p1", 1500);
	c.name = "eth5";
	req = new_req();
	hook_changed(t->x, &c, req);
	xsd_ctl_req_put(req);
	assert_string_equal(last_reply, "");
	{
		struct wait_group *g = t->x->waiters->g;

		xs_timer_disarm(g->timer);
		group_timeout(t->loop, g->timer, g);
	}
	assert_string_equal(last_reply, "[{\"action\":\"install\",\"device\":\"vnic eth5\",\"host\":\"host1\",\"reason\":\"3 s\",\"result\":\"timeout\"}]");
}

static void test_not_connected(void **state)
{
	struct t *t = *state;
	struct xsd_change c = { .kind = XSD_CHANGE_VNIC, .action = XSD_CHANGE_ADD,
				.name = "eth0", .profile = "p1" };
	struct xsd_ctl_req *req;

	add_profile(t, "p1", "host1");
	c.resource_id = add_vnic(t, "eth0", "p1", 1500);
	req = new_req();
	hook_changed(t->x, &c, req);
	xsd_ctl_req_put(req);
	assert_string_equal(last_reply, "[{\"action\":\"install\",\"device\":\"vnic eth0\",\"host\":\"host1\",\"reason\":\"\",\"result\":\"not connected\"}]");
}

static void test_hello_and_timeout(void **state)
{
	struct t *t = *state;
	uint8_t m[XS_XSMP_MAX_MSG];
	struct sess *s;
	size_t n;
	int base;

	add_profile(t, "p1", "host1");
	s = h_connect(t->x, 0x2222, 9);
	do_register(t, s, "host1", XS_XSMP_VERSION);
	base = h_n_sent;
	/* the interval timer sends HELLO (version = interval) */
	sess_timer(t->loop, s->timer, s);
	assert_int_equal(sent_session(base).type, XS_XSMP_HELLO);
	n = h_session_msg(m, XS_XSMP_HELLO, XS_XSMP_ACK, 1, "host1", 0, 0x2222);
	deliver(s, m, n);
	assert_true(s->last_hello_ms > 0);
	/* silence for 3 intervals ends it */
	s->last_rx_ms = xs_loop_now(t->loop) - 15000;
	sess_timer(t->loop, s->timer, s);
	assert_int_equal(s->state, S_CLOSING);
	h_complete_sends(t->x);
	assert_string_equal(host_field(t->x, "host1", "state"), "down");
	assert_string_equal(host_field(t->x, "host1", "reason"),
			    "hello timeout (3 intervals without a message)");
	assert_int_equal(t->x->ctr.hello_timeouts, 1);
}

static void test_reconnect_replaces(void **state)
{
	struct t *t = *state;
	struct sess *a, *b;

	add_profile(t, "p1", "host1");
	add_vnic(t, "eth0", "p1", 1500);
	a = h_connect(t->x, 0x2222, 9);
	do_register(t, a, "host1", XS_XSMP_VERSION);
	b = h_connect(t->x, 0x2222, 9);
	do_register(t, b, "host1", XS_XSMP_VERSION);
	assert_null(t->x->slots[0]); /* the older one is gone */
	assert_int_equal(b->state, S_UP);
	assert_string_equal(host_field(t->x, "host1", "reconnects"), "1");
	assert_string_equal(host_field(t->x, "host1", "state"), "up");
	/* the new session was synchronised from scratch: REG_CONFIRM, VNIC BEGIN,
	 * INSTALL eth0, END, then an empty VHBA sync (removes stale vHBAs) */
	assert_int_equal(sent_session(h_n_sent - 6).type, XS_XSMP_REG_CONFIRM);
	assert_int_equal(sent_vnic(h_n_sent - 5).type, XS_VNIC_SYNC_BEGIN);
	assert_string_equal(sent_vnic(h_n_sent - 4).name, "eth0");
	assert_int_equal(sent_vnic(h_n_sent - 3).type, XS_VNIC_SYNC_END);
	assert_int_equal(sent_vhba(h_n_sent - 2).type, XS_VHBA_SYNC_BEGIN);
	assert_int_equal(sent_vhba(h_n_sent - 1).type, XS_VHBA_SYNC_END);
}

/* Host records outlive the director: a new XCM on the same store lists the
 * known hosts as down (or still rejected), and a host's reconnect count goes
 * on when it registers again. */
static void test_hosts_survive_restart(void **state)
{
	struct t *t = *state;
	struct sess *a, *r;

	add_profile(t, "p1", "host1");
	a = h_connect(t->x, 0x2222, 9);
	do_register(t, a, "host1", XS_XSMP_VERSION);
	a = h_connect(t->x, 0x2222, 9);
	do_register(t, a, "host1", XS_XSMP_VERSION);
	r = h_connect(t->x, 0x3333, 11);
	do_register(t, r, "stranger", XS_XSMP_VERSION);
	assert_string_equal(host_field(t->x, "host1", "reconnects"), "1");
	assert_true(t->x->hosts_dirty); /* saved by the timer, or when freed */

	/* killed right after the timer's save, while host1 was up */
	hosts_save(t->x);
	assert_false(t->x->hosts_dirty);
	{
		struct xsd_xcm *y = h_xcm_new(t->loop, t->st);

		assert_int_equal(y->n_hosts, 2);
		assert_string_equal(host_field(y, "host1", "state"), "down");
		assert_string_equal(host_field(y, "host1", "reason"), "director restarted");
		assert_string_equal(host_field(y, "host1", "reconnects"), "1");
		h_xcm_free(y);
	}

	h_xcm_free(t->x); /* a clean stop saves what the sessions' end changed */
	t->x = h_xcm_new(t->loop, t->st);
	assert_int_equal(t->x->n_hosts, 2);
	assert_string_equal(host_field(t->x, "host1", "state"), "down");
	assert_string_equal(host_field(t->x, "host1", "reason"), "closed");
	assert_string_equal(host_field(t->x, "host1", "reconnects"), "1");
	assert_string_equal(host_field(t->x, "host1", "port_guid"), "0x0000000000002222");
	assert_string_equal(host_field(t->x, "host1", "lid"), "9");
	assert_string_equal(host_field(t->x, "host1", "profile"), "p1");
	assert_string_equal(host_field(t->x, "host1", "uptime_s"), "-1");
	assert_string_equal(host_field(t->x, "stranger", "state"), "rejected");
	assert_string_equal(host_field(t->x, "stranger", "reason"),
			    "unknown host: no profile binds it and auto-accept is off");
	assert_false(t->x->hosts_dirty);

	a = h_connect(t->x, 0x2222, 9);
	do_register(t, a, "host1", XS_XSMP_VERSION);
	assert_string_equal(host_field(t->x, "host1", "state"), "up");
	assert_string_equal(host_field(t->x, "host1", "reconnects"), "2");
	assert_string_equal(host_field(t->x, "host1", "reason"), "");
}

static void test_bad_messages_counted(void **state)
{
	struct t *t = *state;
	uint8_t m[XS_XSMP_MAX_MSG] = { 0 };
	struct sess *s;

	add_profile(t, "p1", "host1");
	s = h_connect(t->x, 0x2222, 9);
	deliver(s, m, 10);                       /* shorter than a header */
	m[0] = XS_XSMP_SESSION;
	xs_put16(m + 2, 40);
	deliver(s, m, 40);                       /* session body too short */
	m[0] = 9;
	deliver(s, m, 40);                       /* unknown type */
	m[0] = XS_XSMP_VNIC;
	deliver(s, m, 40);                       /* ULP before registration */
	assert_int_equal(s->bad_msgs, 4);
	assert_int_equal(s->state, S_WAIT_REGISTER);
	assert_int_equal(h_n_sent, 0);
}

static void test_limit_reached(void **state)
{
	struct t *t = *state;
	struct xsd_err err;
	struct sess *a, *b;
	struct xs_xsmp_session r;

	add_profile(t, "p1", "host1");
	add_profile(t, "p2", "host2");
	assert_int_equal(xsd_store_set_config(t->st, &op, "max-sessions", "1", &err), 0);
	a = h_connect(t->x, 0x1, 3);
	do_register(t, a, "host1", XS_XSMP_VERSION);
	assert_int_equal(a->state, S_UP);
	b = h_connect(t->x, 0x2, 4);
	do_register(t, b, "host2", XS_XSMP_VERSION);
	r = sent_session(h_n_sent - 1);
	assert_int_equal(r.type, XS_XSMP_REG_REJECT);
	assert_int_equal(r.reason, 3);
	assert_string_equal(r.reason_text, "limit reached: the director holds 1 sessions");
	/* the same host reconnecting is not counted against the limit */
	b = h_connect(t->x, 0x1, 3);
	do_register(t, b, "host1", XS_XSMP_VERSION);
	assert_int_equal(b->state, S_UP);
}

static void test_resource_list(void **state)
{
	struct t *t = *state;
	uint8_t m[XS_XSMP_MAX_MSG], body[XS_XSMP_MAX_MSG];
	struct xs_xsmp_session sb = { .type = XS_XSMP_RESOURCE_LIST, .xsmp_version = 1 };
	struct xs_reslist rl = { .count = 1, .flags = XS_RESLIST_FIRST | XS_RESLIST_LAST,
				 .total = 1 };
	struct sess *s;
	json_t *a, *st;
	uint64_t rid;
	int n;

	add_profile(t, "p1", "host1");
	rid = add_vnic(t, "eth0", "p1", 1500);
	s = h_connect(t->x, 0x2222, 9);
	do_register(t, s, "host1", XS_XSMP_VERSION);
	n = h_reply(m, 2, true, 0, NULL);
	deliver(s, m, (size_t)n);
	rl.entries[0].xsmp_type = XS_XSMP_VNIC;
	rl.entries[0].state = XS_RES_STATE_OPER_UP;
	rl.entries[0].resource_id = rid;
	n = xs_xsmp_session_encode(&sb, body, sizeof(body));
	n += xs_reslist_encode(&rl, body + n, sizeof(body) - (size_t)n);
	n = (int)h_build(m, XS_XSMP_SESSION, body, (size_t)n, 0x2222);
	deliver(s, m, (size_t)n);
	a = hook_sessions(t->x);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 0), "held")), 1);
	json_decref(a);
	st = hook_device_status(t->x, rid);
	assert_string_equal(json_string_value(json_object_get(json_array_get(st, 0), "state")), "up");
	json_decref(st);
}

static void test_host_text_cleaned(void **state)
{
	struct t *t = *state;
	struct xsd_err err;
	struct sess *s;
	json_t *a;

	assert_int_equal(xsd_store_set_config(t->st, &op, "auto-accept", "on", &err), 0);
	s = h_connect(t->x, 0x77, 3);
	do_register(t, s, "h\x01\xfe\"x", XS_XSMP_VERSION);
	assert_int_equal(s->state, S_UP);
	a = hook_sessions(t->x);
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "host")),
			    "h??\"x");
	json_decref(a);
}

/* A vHBA's INSTALL names each target with its WWPN (the SRP service ID
 * the host logs in to) and the director's port as the TCA. */
static void test_vhba_targets(void **state)
{
	struct t *t = *state;
	struct xsd_target t1 = { .name = "t1", .wwpn = UINT64_C(0x5001397000000010) };
	struct xsd_target t2 = { .name = "array-2" };
	struct xsd_vhba hb = { .name = "fc0", .profile = "p1", .targets = "t1,array-2" };
	struct xs_vhba_msg h;
	struct xsd_err err;
	struct sess *s;

	add_profile(t, "p1", "host1");
	assert_int_equal(xsd_store_target_add(t->st, &op, &t1, true, &err), 0);
	assert_int_equal(xsd_store_target_add(t->st, &op, &t2, false, &err), 0);
	assert_int_equal(xsd_store_vhba_add(t->st, &op, &hb, XSD_VHBA_TARGETS, &err), 0);
	s = h_connect(t->x, 0x2222, 9);
	do_register(t, s, "host1", XS_XSMP_VERSION);
	/* REG_CONFIRM, VNIC BEGIN, END, VHBA BEGIN, INSTALL, END */
	assert_int_equal(h_n_sent, 6);
	h = sent_vhba(4);
	assert_int_equal(h.type, XS_VHBA_INSTALL);
	assert_int_equal(h.target_count, 2);
	assert_string_equal(h.targets[0], "t1");
	assert_true(h.target_wwpn[0] == UINT64_C(0x5001397000000010));
	assert_string_equal(h.targets[1], "array-2");
	assert_true(h.target_wwpn[1] == t2.wwpn);
	assert_true(t2.wwpn == UINT64_C(0x3000585300000001));
	assert_true(h.tca_guid == t->x->port.port_guid);
	assert_int_equal(h.tca_lid, 2);
}

/* RoCE: the CM's LID and GUID are not the host's; the session takes the
 * host's port GUID from the XSMP header of its REGISTER (and finds its
 * profile by it). */
static void test_roce_guid_from_header(void **state)
{
	struct t *t = *state;
	struct xsd_profile p = { .name = "p1", .guids = { 0x3333 }, .n_guids = 1 };
	uint8_t m[XS_XSMP_MAX_MSG];
	struct xsd_err err;
	struct sess *s;
	size_t n;

	assert_int_equal(xsd_store_profile_add(t->st, &op, &p, &err), 0);
	t->x->port.link_layer = XS_LINK_ETHERNET;
	s = h_connect(t->x, 0, 0);
	s->roce = true;
	n = h_session_msg(m, XS_XSMP_REGISTER, 0, XS_XSMP_VERSION, "rhost",
			  (1u << XS_RES_VNIC) | (1u << XS_RES_VHBA), 0x3333);
	deliver(s, m, n);
	h_complete_sends(t->x);
	assert_int_equal(s->state, S_UP);
	assert_true(s->remote_guid == 0x3333);
	assert_int_equal(s->remote_lid, 0);
	assert_string_equal(s->profile, "p1");
	assert_string_equal(host_field(t->x, "rhost", "port_guid"), "0x0000000000003333");
}

/* A connect request whose path names this port as the peer (a fabric back
 * end reading the passive side's own path record), and RoCE's LID field:
 * neither is taken as the host's address; the host's GUID then comes from
 * the XSMP header of its REGISTER. */
static void test_connect_request_identity(void **state)
{
	struct t *t = *state;
	struct sess *s;
	int dummy;

	add_profile(t, "p1", "host1");
	memset(&h_req_info, 0, sizeof(h_req_info));
	h_req_info.service_id = XS_XSMP_SERVICE_ID;
	h_req_info.remote_lid = t->x->port.lid;
	h_req_info.remote_port_guid = t->x->port.port_guid;
	on_connect_request(t->x, (struct xs_cm_request *)&dummy);
	assert_int_equal(h_accepts, 1);
	s = t->x->slots[0];
	assert_non_null(s);
	assert_true(s->remote_guid == 0);
	assert_int_equal(s->remote_lid, 0);
	s->state = S_WAIT_REGISTER;
	{
		uint8_t m[XS_XSMP_MAX_MSG];
		size_t n = h_session_msg(m, XS_XSMP_REGISTER, 0, XS_XSMP_VERSION, "host1",
					 (1u << XS_RES_VNIC) | (1u << XS_RES_VHBA), 0x4444);

		deliver(s, m, n);
		h_complete_sends(t->x);
	}
	assert_int_equal(s->state, S_UP);
	assert_true(s->remote_guid == 0x4444);
	/* a real peer on InfiniBand keeps what the CM said */
	h_req_info.remote_lid = 9;
	h_req_info.remote_port_guid = 0x5555;
	on_connect_request(t->x, (struct xs_cm_request *)&dummy);
	assert_true(t->x->slots[1]->remote_guid == 0x5555);
	assert_int_equal(t->x->slots[1]->remote_lid, 9);
	/* RoCE: the LID field is no address (the 3309 seen on a real port) */
	t->x->port.link_layer = XS_LINK_ETHERNET;
	h_req_info.remote_lid = 3309;
	h_req_info.remote_gid[0] = 0xfe;
	h_req_info.remote_gid[1] = 0x80;
	h_req_info.remote_gid[15] = 0x07;
	on_connect_request(t->x, (struct xs_cm_request *)&dummy);
	assert_int_equal(t->x->slots[2]->remote_lid, 0);
	assert_true(t->x->slots[2]->remote_guid == 0);
	assert_true(t->x->slots[2]->roce);
}

/* rdma_cm on RoCE (seen in the vm tier after a director restart): the
 * host's REGISTER is received before the fabric reports the accepted
 * connection ESTABLISHED. It is taken (no 10 s wait for a REG_CONFIRM that
 * never came, during which a delete found no session and reached the host
 * only with the resync of its next connection), and a delete right after
 * goes out as a DELETE at once. */
static void test_register_before_established(void **state)
{
	struct t *t = *state;
	struct xsd_change c = { .kind = XSD_CHANGE_VNIC, .action = XSD_CHANGE_DELETE,
				.name = "eth0", .profile = "p1", .old_profile = "p1" };
	struct xs_event ev = { .type = XS_EV_ESTABLISHED };
	uint8_t m[XS_XSMP_MAX_MSG];
	struct xsd_ctl_req *req;
	struct xs_vnic_msg u;
	struct xsd_vnic v;
	struct xsd_err err;
	struct sess *s;
	size_t n;
	int dummy, base;

	add_profile(t, "p1", "host1");
	c.resource_id = add_vnic(t, "eth0", "p1", 1500);
	t->x->port.link_layer = XS_LINK_ETHERNET;
	memset(&h_req_info, 0, sizeof(h_req_info));
	h_req_info.service_id = XS_XSMP_SERVICE_ID;
	on_connect_request(t->x, (struct xs_cm_request *)&dummy);
	s = t->x->slots[0];
	assert_non_null(s);
	assert_int_equal(s->state, S_ACCEPTING);
	n = h_session_msg(m, XS_XSMP_REGISTER, 0, XS_XSMP_VERSION, "host1",
			  (1u << XS_RES_VNIC) | (1u << XS_RES_VHBA), 0x2222);
	deliver(s, m, n);
	h_complete_sends(t->x);
	assert_int_equal(s->state, S_UP);
	assert_int_equal(s->bad_msgs, 0);
	assert_int_equal(sent_session(0).type, XS_XSMP_REG_CONFIRM);
	assert_int_equal(sent_vnic(1).type, XS_VNIC_SYNC_BEGIN);
	assert_string_equal(sent_vnic(2).name, "eth0");
	assert_int_equal(sent_vnic(3).type, XS_VNIC_SYNC_END);
	assert_string_equal(host_field(t->x, "host1", "state"), "up");
	/* the fabric's ESTABLISHED, late: nothing changes */
	ev.qp = s->qp;
	xsd_xcm_fabric_event(t->x, &ev);
	assert_int_equal(s->state, S_UP);
	n = h_reply(m, 2, true, 0, NULL);
	deliver(s, m, n);
	/* xcm vnic delete: DELETE to the host at once, acknowledged */
	assert_int_equal(xsd_store_vnic_delete(t->st, &op, "eth0", &v, &err), 0);
	base = h_n_sent;
	req = new_req();
	hook_changed(t->x, &c, req);
	xsd_ctl_req_put(req);
	h_complete_sends(t->x);
	assert_int_equal(h_n_sent, base + 1);
	u = sent_vnic(base);
	assert_int_equal(u.type, XS_VNIC_DELETE);
	assert_true(u.resource_id == c.resource_id);
	n = h_reply(m, base, true, 0, "deleted");
	deliver(s, m, n);
	assert_string_equal(last_reply, "[{\"action\":\"delete\",\"device\":\"vnic eth0\",\"host\":\"host1\",\"reason\":\"\",\"result\":\"acknowledged\"}]");
	assert_null(sdev_find(s, c.resource_id));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unknown_host_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_version_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_and_sync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vhba_targets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_roce_guid_from_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_request_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_before_established, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ack_nack_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_push_update_and_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_connected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hello_and_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reconnect_replaces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hosts_survive_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_messages_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limit_reached, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resource_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_text_cleaned, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
