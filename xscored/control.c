/* SPDX-License-Identifier: MIT */
/*
 * control.c - xscored's control socket: a Unix stream socket (mode 0660)
 * carrying one JSON request line per connection and one JSON answer:
 *   -> {"cmd": "status"}
 *   <- {"ok": true, "uptime_s": .., "hosts": [...]}
 *   -> {"cmd": "summary"}
 *   <- {"ok": true, "hosts": N, "hosts_up": .., "sessions": .., "sessions_up": ..,
 *       "vnics": .., "vhbas": ..}
 *   <- {"ok": false, "error": "..."} for anything else
 * Requests are bounded (4 KiB, 2 s); the answer is written with a 2 s send
 * timeout, so a stuck client cannot hold the event loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <xscore/common.h>
#include <xscore/log.h>

#include <xsvnic/vnic.h>
#ifdef XSCORED_VHBA
#include <xsvhba/module.h>
#endif

#include "xscored.h"

#define CTL_LOG "control"

struct ctl_client {
	struct xscored *d;
	int fd;
	size_t len;
	char buf[XSCORED_MAX_REQUEST + 1];
	struct xs_timer *timer;
};

void xscored_sock_path(char *buf, size_t len, const char *state_dir, const char *name)
{
	snprintf(buf, len, "%s/xscored-%s.sock", state_dir, name);
}

static json_t *hex64(uint64_t v)
{
	char s[24];

	snprintf(s, sizeof(s), "0x%016llx", (unsigned long long)v);
	return json_string(s);
}

/* Seconds between a past monotonic time and now, or null when never. */
static json_t *ago(uint64_t then, uint64_t now)
{
	if (!then)
		return json_null();
	return json_real((double)(now - then) / 1000.0);
}

static const char *port_state_str(enum xs_port_state s)
{
	switch (s) {
	case XS_PORT_DOWN: return "down";
	case XS_PORT_INIT: return "init";
	case XS_PORT_ARMED: return "armed";
	case XS_PORT_ACTIVE: return "active";
	}
	return "unknown";
}

/* The vNIC module's own counters, null when the record-only handler owns it. */
static json_t *vnic_fabric_json(const struct xs_ulp_dev *dev)
{
	struct xsvnic_stats st;

	if (xsvnic_dev_stats(dev, &st) < 0)
		return json_null();
	return json_pack("{s:s,s:s,s:i,s:b,s:i,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,"
			 "s:I,s:I,s:I,s:I,s:s}",
			 "state", xsvnic_state_str(st.state), "ifname", st.ifname,
			 "ifindex", st.ifindex, "link_up", st.link_up,
			 "speed_mbps", (int)st.speed_mbps,
			 "tx_frames", (json_int_t)st.tx_frames, "tx_bytes", (json_int_t)st.tx_bytes,
			 "rx_frames", (json_int_t)st.rx_frames, "rx_bytes", (json_int_t)st.rx_bytes,
			 "tx_gap_drops", (json_int_t)st.tx_gap_drops,
			 "tx_ring_drops", (json_int_t)st.tx_ring_drops,
			 "rx_errors", (json_int_t)st.rx_errors, "ctrl_rx", (json_int_t)st.ctrl_rx,
			 "ctrl_tx", (json_int_t)st.ctrl_tx, "ctrl_bad", (json_int_t)st.ctrl_bad,
			 "heartbeats_tx", (json_int_t)st.heartbeats_tx,
			 "heartbeats_rx", (json_int_t)st.heartbeats_rx,
			 "connects", (json_int_t)st.connects,
			 "reconnects", (json_int_t)st.reconnects,
			 "start_timeouts", (json_int_t)st.start_timeouts,
			 "mcast_sent", (json_int_t)st.mcast_sent, "last_error", st.last_error);
}

static json_t *vnic_json(const struct xs_vnic_msg *m)
{
	static const char *const modes[] = { "none", "access", "trunk" };
	json_t *o = json_object(), *vl = json_array();
	char mac[24];
	int i;

	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", m->mac[0], m->mac[1],
		 m->mac[2], m->mac[3], m->mac[4], m->mac[5]);
	for (i = 0; i < m->vlan_count; i++)
		json_array_append_new(vl, json_integer(m->vlans[i]));
	json_object_set_new(o, "mac", json_string(mac));
	json_object_set_new(o, "mtu", json_integer(m->mtu));
	json_object_set_new(o, "admin", json_string(m->admin_state ? "up" : "down"));
	json_object_set_new(o, "admin_rate_mbps", json_integer(m->admin_rate));
	json_object_set_new(o, "vlan_mode",
			    json_string(m->vlan_mode < 3 ? modes[m->vlan_mode] : "?"));
	json_object_set_new(o, "vlans", vl);
	json_object_set_new(o, "uplink", json_string(m->uplink));
	json_object_set_new(o, "install_flags", json_integer(m->install_flags));
	json_object_set_new(o, "tca_guid", hex64(m->tca_guid));
	json_object_set_new(o, "tca_lid", json_integer(m->tca_lid));
	json_object_set_new(o, "ha_group", json_string(m->mp_group));
	return o;
}

static json_t *vhba_json(const struct xs_vhba_msg *m)
{
	json_t *o = json_object(), *t = json_array();
	int i;

	for (i = 0; i < m->target_count; i++)
		json_array_append_new(t, json_string(m->targets[i]));
	json_object_set_new(o, "exec_throttle", json_integer(m->exec_throttle));
	{
		json_t *w = json_array();

		for (i = 0; i < m->target_count; i++)
			json_array_append_new(w, hex64(m->target_wwpn[i]));
		json_object_set_new(o, "target_wwpns", w);
	}
	json_object_set_new(o, "wwpn", hex64(m->wwpn));
	json_object_set_new(o, "wwnn", hex64(m->wwnn));
	json_object_set_new(o, "admin", json_string(m->admin_state ? "up" : "down"));
	json_object_set_new(o, "queue_depth", json_integer(m->queue_depth));
	json_object_set_new(o, "link_down_timeout_s", json_integer(m->link_down_timeout));
	json_object_set_new(o, "lun_masking", json_boolean(m->lunmask_enable));
	json_object_set_new(o, "num_queues", json_integer(m->num_queues));
	json_object_set_new(o, "mtu", json_integer(m->mtu));
	json_object_set_new(o, "targets", t);
	json_object_set_new(o, "tca_guid", hex64(m->tca_guid));
	json_object_set_new(o, "tca_lid", json_integer(m->tca_lid));
	return o;
}

#ifdef XSCORED_VHBA
static json_t *vhba_lun_json(const struct xsvhba_fs_lun_stats *l, int nbd)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer(l->lun.id));
	json_object_set_new(o, "file", json_sprintf("lun%u", l->lun.id));
	json_object_set_new(o, "size", json_integer((json_int_t)(l->lun.blocks * l->lun.block_size)));
	json_object_set_new(o, "block_size", json_integer(l->lun.block_size));
	json_object_set_new(o, "vendor", json_string(l->lun.vendor));
	json_object_set_new(o, "product", json_string(l->lun.product));
	json_object_set_new(o, "present", json_boolean(l->present));
	/* --vhba-nbd: "/dev/nbdN", "failed"; null when not exported */
	json_object_set_new(o, "nbd", nbd >= 0 ? json_sprintf("/dev/nbd%d", nbd) :
				      nbd == -EIO ? json_string("failed") : json_null());
	json_object_set_new(o, "inflight", json_integer(l->inflight));
	json_object_set_new(o, "reads", json_integer((json_int_t)l->reads));
	json_object_set_new(o, "writes", json_integer((json_int_t)l->writes));
	json_object_set_new(o, "syncs", json_integer((json_int_t)l->syncs));
	json_object_set_new(o, "read_bytes", json_integer((json_int_t)l->read_bytes));
	json_object_set_new(o, "write_bytes", json_integer((json_int_t)l->write_bytes));
	json_object_set_new(o, "errors", json_integer((json_int_t)l->errors));
	json_object_set_new(o, "last_error",
			    json_string(l->last_error ? xs_strerror(l->last_error) : ""));
	return o;
}

static json_t *vhba_tgt_json(const struct xs_ulp_dev *dev, unsigned int idx,
			     const struct xsvhba_mod_tgt_status *t)
{
	json_t *o = json_object(), *luns = json_array();
	struct xsvhba_fs_lun_stats *ls = calloc(XSVHBA_MAX_LUNS, sizeof(*ls));
	int n = ls ? xsvhba_mod_dev_luns(dev, idx, ls, XSVHBA_MAX_LUNS) : -ENOMEM;

	for (int i = 0; i < n && i < XSVHBA_MAX_LUNS; i++)
		json_array_append_new(luns, vhba_lun_json(&ls[i],
							  xsvhba_mod_dev_nbd(dev, idx, ls[i].lun.id)));
	free(ls);
	json_object_set_new(o, "name", json_string(t->name));
	json_object_set_new(o, "wwpn", hex64(t->wwpn));
	json_object_set_new(o, "state", json_string(t->state));
	json_object_set_new(o, "connected", json_boolean(t->connected));
	json_object_set_new(o, "mount", json_string(t->mountpoint));
	json_object_set_new(o, "queued", json_integer(t->queued));
	json_object_set_new(o, "inflight", json_integer(t->inflight));
	json_object_set_new(o, "outstanding", json_integer(t->st.outstanding));
	json_object_set_new(o, "held", json_integer(t->st.held));
	json_object_set_new(o, "credits", json_integer(t->st.credits));
	json_object_set_new(o, "peak_outstanding", json_integer(t->st.peak_outstanding));
	json_object_set_new(o, "commands", json_integer((json_int_t)t->st.commands));
	json_object_set_new(o, "completed", json_integer((json_int_t)t->st.completed));
	json_object_set_new(o, "errors", json_integer((json_int_t)t->st.errors));
	json_object_set_new(o, "retries", json_integer((json_int_t)t->st.retries));
	json_object_set_new(o, "logins", json_integer((json_int_t)t->st.logins));
	json_object_set_new(o, "reconnects", json_integer((json_int_t)t->st.reconnects));
	json_object_set_new(o, "redriven", json_integer((json_int_t)t->st.redriven));
	json_object_set_new(o, "timed_out", json_integer((json_int_t)t->st.timed_out));
	json_object_set_new(o, "aers", json_integer((json_int_t)t->st.aers));
	json_object_set_new(o, "rescans", json_integer((json_int_t)t->st.rescans));
	json_object_set_new(o, "restarts", json_integer((json_int_t)t->restarts));
	json_object_set_new(o, "queue_timeouts", json_integer((json_int_t)t->queue_timeouts));
	json_object_set_new(o, "last_error", json_string(t->last_error));
	json_object_set_new(o, "luns", luns);
	return o;
}
#endif

/* The vHBA module's view (initiators, mounts, LUNs), null when the
 * record-only handler owns the device. */
static json_t *vhba_io_json(const struct xs_ulp_dev *dev)
{
#ifdef XSCORED_VHBA
	struct xsvhba_mod_tgt_status tg[XS_VHBA_MAX_TARGETS];
	struct xsvhba_mod_status st;
	json_t *o, *tgts;
	int n = xsvhba_mod_dev_status(dev, &st, tg, XS_VHBA_MAX_TARGETS);

	if (n < 0)
		return json_null();
	o = json_object();
	tgts = json_array();
	for (int i = 0; i < n && i < XS_VHBA_MAX_TARGETS; i++)
		json_array_append_new(tgts, vhba_tgt_json(dev, (unsigned int)i, &tg[i]));
	json_object_set_new(o, "dir", json_string(st.dir));
	json_object_set_new(o, "admin", json_string(st.admin_up ? "up" : "down"));
	json_object_set_new(o, "oper", json_string(st.oper_up ? "up" : "down"));
	json_object_set_new(o, "wwpn", hex64(st.wwpn));
	json_object_set_new(o, "queue_depth", json_integer(st.queue_depth));
	json_object_set_new(o, "exec_throttle", json_integer(st.exec_throttle));
	json_object_set_new(o, "link_down_timeout_s", json_integer(st.link_down_s));
	json_object_set_new(o, "inflight", json_integer(st.inflight));
	json_object_set_new(o, "targets", tgts);
	return o;
#else
	(void)dev;
	return json_null();
#endif
}

static const char *res_state_str(enum xs_res_state s)
{
	switch (s) {
	case XS_RES_STATE_CONFIGURED: return "configured";
	case XS_RES_STATE_OPER_UP: return "oper-up";
	case XS_RES_STATE_OPER_DOWN: return "oper-down";
	case XS_RES_STATE_FAILED: return "failed";
	}
	return "unknown";
}

static json_t *host_json(struct xscored_host *xh, uint64_t now)
{
	struct xs_host *h = xh->host;
	struct xs_port_attr pa;
	struct xs_host_disc_status ds;
	struct xs_session_status ss[XS_XCPM_MAX_XCMS];
	json_t *o = json_object(), *port = json_object(), *xds = json_object();
	json_t *sessions = json_array(), *devices = json_array();
	struct xs_ulp_dev *dev;
	char gid[48];
	int n, i;

	xs_host_port_attr(h, &pa);
	snprintf(gid, sizeof(gid),
		 "%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x",
		 pa.gid[0], pa.gid[1], pa.gid[2], pa.gid[3], pa.gid[4], pa.gid[5], pa.gid[6],
		 pa.gid[7], pa.gid[8], pa.gid[9], pa.gid[10], pa.gid[11], pa.gid[12], pa.gid[13],
		 pa.gid[14], pa.gid[15]);
	json_object_set_new(port, "name", json_string(pa.port_name));
	json_object_set_new(port, "device", json_string(pa.dev_name));
	json_object_set_new(port, "guid", hex64(pa.port_guid));
	json_object_set_new(port, "lid", json_integer(pa.lid));
	json_object_set_new(port, "sm_lid", json_integer(pa.sm_lid));
	json_object_set_new(port, "gid", json_string(gid));
	json_object_set_new(port, "state", json_string(port_state_str(pa.state)));
	json_object_set_new(port, "link_layer",
			    json_string(pa.link_layer == XS_LINK_ETHERNET ? "ethernet" : "ib"));

	xs_host_disc_status(h, &ds);
	json_object_set_new(xds, "state", json_string(xs_disc_state_str(ds.state)));
	json_object_set_new(xds, "lid", json_integer(ds.xds_lid));
	json_object_set_new(xds, "guid", hex64(ds.xds_guid));
	json_object_set_new(xds, "last_query_s_ago", ago(ds.last_query_ms, now));
	json_object_set_new(xds, "last_ok_s_ago", ago(ds.last_ok_ms, now));
	json_object_set_new(xds, "result", json_string(ds.last_result));
	json_object_set_new(xds, "queries", json_integer(ds.queries));
	json_object_set_new(xds, "failures", json_integer(ds.failures));
	json_object_set_new(xds, "next_query_in_s",
			    ds.next_query_ms > now ? json_real((double)(ds.next_query_ms - now) / 1000.0)
						   : json_real(0));

	n = xs_host_sessions(h, ss, XS_XCPM_MAX_XCMS);
	for (i = 0; i < n && i < XS_XCPM_MAX_XCMS; i++) {
		json_t *s = json_object();

		json_object_set_new(s, "xcm_guid", hex64(ss[i].xcm_guid));
		json_object_set_new(s, "xcm_lid", json_integer(ss[i].xcm_lid));
		json_object_set_new(s, "director", json_string(ss[i].chassis_name));
		json_object_set_new(s, "state", json_string(xs_sess_state_str(ss[i].state)));
		json_object_set_new(s, "uptime_s", ago(ss[i].up_since_ms, now));
		json_object_set_new(s, "hello_interval_s", json_integer(ss[i].hello_interval_s));
		json_object_set_new(s, "last_hello_s_ago", ago(ss[i].last_hello_ms, now));
		json_object_set_new(s, "reconnects", json_integer(ss[i].reconnects));
		json_object_set_new(s, "rejects", json_integer(ss[i].rejects));
		json_object_set_new(s, "hellos_rx", json_integer(ss[i].hellos_rx));
		json_object_set_new(s, "msgs_rx", json_integer(ss[i].msgs_rx));
		json_object_set_new(s, "msgs_tx", json_integer(ss[i].msgs_tx));
		json_object_set_new(s, "bad_msgs", json_integer(ss[i].bad_msgs));
		json_object_set_new(s, "seq_mismatch", json_integer(ss[i].seq_mismatch));
		json_object_set_new(s, "timeouts", json_integer(ss[i].timeouts));
		json_object_set_new(s, "last_error", json_string(ss[i].last_error));
		json_object_set_new(s, "next_attempt_in_s",
				    ss[i].next_attempt_ms > now
					    ? json_real((double)(ss[i].next_attempt_ms - now) / 1000.0)
					    : json_null());
		json_array_append_new(sessions, s);
	}

	for (dev = xs_host_devices(h); dev; dev = dev->next) {
		json_t *d = json_object();
		bool vnic = dev->xsmp_type == XS_XSMP_VNIC;

		json_object_set_new(d, "type", json_string(vnic ? "vnic" : "vhba"));
		json_object_set_new(d, "name", json_string(dev->name));
		json_object_set_new(d, "resource_id", hex64(dev->resource_id));
		json_object_set_new(d, "state", json_string(res_state_str(dev->state)));
		json_object_set_new(d, "module",
				    json_string(xs_host_ulp_name(h, dev->xsmp_type) ?: "-"));
		json_object_set_new(d, "xcm_guid", hex64(dev->xcm_guid));
		json_object_set_new(d, "installed_s_ago", ago(dev->installed_ms, now));
		json_object_set_new(d, "updates", json_integer(xscored_registry_updates(dev)));
		json_object_set_new(d, "config", vnic ? vnic_json(&dev->cfg.vnic)
						      : vhba_json(&dev->cfg.vhba));
		if (vnic)
			json_object_set_new(d, "fabric", vnic_fabric_json(dev));
		else
			json_object_set_new(d, "io", vhba_io_json(dev));
		json_array_append_new(devices, d);
	}

	json_object_set_new(o, "session_name", json_string(xs_host_session_name(h)));
	json_object_set_new(o, "port", port);
	json_object_set_new(o, "xds", xds);
	json_object_set_new(o, "sessions", sessions);
	json_object_set_new(o, "devices", devices);
	return o;
}

json_t *xscored_status_json(struct xscored *d)
{
	uint64_t now = xs_now_ms();
	json_t *o = json_object(), *hosts = json_array(), *rejects = json_object();
	int i;

	for (i = 0; i < d->n_hosts; i++)
		json_array_append_new(hosts, host_json(&d->hosts[i], now));
	for (i = 0; i < XS_WIRE_N_CODECS; i++)
		json_object_set_new(rejects, xs_wire_codec_name((enum xs_wire_codec)i),
				    json_integer((json_int_t)xs_wire_rejects((enum xs_wire_codec)i)));
	for (i = 0; i < XS_ULP_N_CODECS; i++)
		json_object_set_new(rejects, xs_ulp_codec_name((enum xs_ulp_codec)i),
				    json_integer((json_int_t)xs_ulp_wire_rejects((enum xs_ulp_codec)i)));
	json_object_set_new(o, "ok", json_true());
	json_object_set_new(o, "uptime_s", json_real((double)(now - d->started_ms) / 1000.0));
	json_object_set_new(o, "hosts", hosts);
	json_object_set_new(o, "wire_rejects", rejects);
	return o;
}

/* Counts only: cheap to poll with many emulated hosts (benchmarks). */
static json_t *summary_json(struct xscored *d)
{
	struct xs_session_status ss[XS_XCPM_MAX_XCMS];
	long long sessions = 0, up = 0, vnics = 0, vhbas = 0, hosts_up = 0;
	json_t *o = json_object();
	int i, j, n;

	for (i = 0; i < d->n_hosts; i++) {
		struct xs_host *h = d->hosts[i].host;
		struct xs_ulp_dev *dev;
		bool any_up = false;

		n = xs_host_sessions(h, ss, XS_XCPM_MAX_XCMS);
		for (j = 0; j < n && j < XS_XCPM_MAX_XCMS; j++) {
			sessions++;
			if (ss[j].state == XS_SESS_UP) {
				up++;
				any_up = true;
			}
		}
		hosts_up += any_up;
		for (dev = xs_host_devices(h); dev; dev = dev->next) {
			if (dev->xsmp_type == XS_XSMP_VNIC)
				vnics++;
			else
				vhbas++;
		}
	}
	json_object_set_new(o, "ok", json_true());
	json_object_set_new(o, "hosts", json_integer(d->n_hosts));
	json_object_set_new(o, "hosts_up", json_integer(hosts_up));
	json_object_set_new(o, "sessions", json_integer(sessions));
	json_object_set_new(o, "sessions_up", json_integer(up));
	json_object_set_new(o, "vnics", json_integer(vnics));
	json_object_set_new(o, "vhbas", json_integer(vhbas));
	return o;
}

static json_t *error_json(const char *msg)
{
	json_t *o = json_object();

	json_object_set_new(o, "ok", json_false());
	json_object_set_new(o, "error", json_string(msg));
	return o;
}

static void client_free(struct ctl_client *cl)
{
	xs_loop_del_fd(cl->d->loop, cl->fd);
	close(cl->fd);
	xs_timer_free(cl->timer);
	free(cl);
}

static void client_answer(struct ctl_client *cl, const char *forced_error)
{
	json_error_t jerr;
	json_t *req, *ans;
	const char *cmd;
	char *text;
	size_t off, len;
	ssize_t w;
	int flags;

	req = forced_error ? NULL : json_loads(cl->buf, 0, &jerr);
	if (forced_error) {
		ans = error_json(forced_error);
	} else if (!req || !json_is_object(req)) {
		char msg[200];

		snprintf(msg, sizeof(msg), "bad request: %s", req ? "not a JSON object" : jerr.text);
		ans = error_json(msg);
	} else {
		cmd = json_string_value(json_object_get(req, "cmd"));
		if (!cmd)
			ans = error_json("bad request: no \"cmd\" string");
		else if (strcmp(cmd, "status") == 0)
			ans = xscored_status_json(cl->d);
		else if (strcmp(cmd, "summary") == 0)
			ans = summary_json(cl->d);
		else {
			char msg[200];

			snprintf(msg, sizeof(msg), "unknown command '%.64s' (known: status, summary)",
				 cmd);
			ans = error_json(msg);
		}
	}
	json_decref(req);
	text = json_dumps(ans, JSON_COMPACT);
	json_decref(ans);
	if (!text)
		return;
	/* Blocking write with a send timeout: bounded. */
	flags = fcntl(cl->fd, F_GETFL);
	fcntl(cl->fd, F_SETFL, flags & ~O_NONBLOCK);
	len = strlen(text);
	for (off = 0; off < len; off += (size_t)w) {
		w = send(cl->fd, text + off, len - off, MSG_NOSIGNAL);
		if (w <= 0)
			break;
	}
	if (off == len)
		(void)send(cl->fd, "\n", 1, MSG_NOSIGNAL);
	free(text);
	/* Discard what the client still sent (an over-long request): closing
	 * with unread input would reset the connection and lose our answer. */
	fcntl(cl->fd, F_SETFL, flags | O_NONBLOCK);
	for (off = 0; off < 64; off++) {
		char sink[4096];

		if (read(cl->fd, sink, sizeof(sink)) <= 0)
			break;
	}
}

static void client_read(struct xs_loop *loop, int fd, unsigned int events, void *arg)
{
	struct ctl_client *cl = arg;
	ssize_t n;

	(void)loop, (void)events;
	n = read(fd, cl->buf + cl->len, XSCORED_MAX_REQUEST - cl->len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0 && cl->len == 0) {
		client_free(cl);
		return;
	}
	if (n > 0)
		cl->len += (size_t)n;
	cl->buf[cl->len] = '\0';
	if (n > 0 && !memchr(cl->buf, '\n', cl->len) && cl->len < XSCORED_MAX_REQUEST)
		return; /* wait for the end of the line */
	if (cl->len >= XSCORED_MAX_REQUEST && !memchr(cl->buf, '\n', cl->len)) {
		XS_WARN(CTL_LOG, "control request longer than %d bytes refused", XSCORED_MAX_REQUEST);
		client_answer(cl, "bad request: longer than 4096 bytes");
		client_free(cl);
		return;
	}
	client_answer(cl, NULL);
	client_free(cl);
}

static void client_timeout(struct xs_loop *loop, struct xs_timer *t, void *arg)
{
	(void)loop, (void)t;
	XS_DEBUG(CTL_LOG, "control client timed out");
	client_answer(arg, "bad request: no complete line within 2 s");
	client_free(arg);
}

static void ctl_accept(struct xs_loop *loop, int fd, unsigned int events, void *arg)
{
	struct xscored *d = arg;
	struct ctl_client *cl;
	struct timeval tv = { XSCORED_IO_TIMEOUT_MS / 1000, 0 };
	int cfd;

	(void)events;
	for (;;) {
		cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0)
			return;
		setsockopt(cfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		cl = calloc(1, sizeof(*cl));
		if (!cl) {
			close(cfd);
			continue;
		}
		cl->d = d;
		cl->fd = cfd;
		cl->timer = xs_timer_new(loop, client_timeout, cl);
		if (!cl->timer || xs_loop_add_fd(loop, cfd, XS_IO_IN, client_read, cl) < 0) {
			if (cl->timer)
				xs_timer_free(cl->timer);
			close(cfd);
			free(cl);
			continue;
		}
		xs_timer_arm(cl->timer, XSCORED_IO_TIMEOUT_MS, 0);
	}
}

int xscored_control_open(struct xscored *d)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, rc;

	if (strlen(d->sock_path) >= sizeof(sa.sun_path)) {
		XS_ERR(CTL_LOG, "control socket path too long: %s", d->sock_path);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, d->sock_path, strlen(d->sock_path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(d->sock_path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
		rc = -errno;
		XS_ERR(CTL_LOG, "control socket %s: %s", d->sock_path, xs_strerror(rc));
		close(fd);
		return rc;
	}
	chmod(d->sock_path, 0660);
	rc = xs_loop_add_fd(d->loop, fd, XS_IO_IN, ctl_accept, d);
	if (rc < 0) {
		close(fd);
		unlink(d->sock_path);
		return rc;
	}
	d->listen_fd = fd;
	return 0;
}

void xscored_control_close(struct xscored *d)
{
	if (d->listen_fd < 0)
		return;
	xs_loop_del_fd(d->loop, d->listen_fd);
	close(d->listen_fd);
	unlink(d->sock_path);
	d->listen_fd = -1;
}
