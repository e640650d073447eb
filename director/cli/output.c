/* SPDX-License-Identifier: MIT */
/* output.c - tables and confirmation lines for xcm. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/output.h"

/* ---------------------------------------------------------- table */

#define MAX_COLS 12
#define XCM_TARGETS_LINE 512

struct table {
	int ncols;
	const char *head[MAX_COLS];
	char **cells;    /* rows * ncols */
	int rows, cap;
};

static void t_row(struct table *t, ...)
{
	va_list ap;

	if (t->rows == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->cells = realloc(t->cells, sizeof(char *) * (size_t)t->cap * (size_t)t->ncols);
		if (!t->cells)
			abort();
	}
	va_start(ap, t);
	for (int c = 0; c < t->ncols; c++) {
		const char *s = va_arg(ap, const char *);

		t->cells[t->rows * t->ncols + c] = strdup(s ? s : "");
	}
	va_end(ap);
	t->rows++;
}

static void t_print(FILE *out, struct table *t, const char *empty)
{
	size_t w[MAX_COLS];

	if (!t->rows) {
		fprintf(out, "%s\n", empty);
		return;
	}
	for (int c = 0; c < t->ncols; c++) {
		w[c] = strlen(t->head[c]);
		for (int r = 0; r < t->rows; r++)
			if (strlen(t->cells[r * t->ncols + c]) > w[c])
				w[c] = strlen(t->cells[r * t->ncols + c]);
	}
	for (int r = -1; r < t->rows; r++) {
		for (int c = 0; c < t->ncols; c++) {
			const char *s = r < 0 ? t->head[c] : t->cells[r * t->ncols + c];

			if (c == t->ncols - 1)
				fprintf(out, "%s\n", s);
			else
				fprintf(out, "%-*s  ", (int)w[c], s);
		}
	}
	for (int i = 0; i < t->rows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
}

/* ---------------------------------------------------------- helpers */

static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

static long long num(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static void fmt_duration(long long s, char *out, size_t cap)
{
	if (s < 0)
		snprintf(out, cap, "-");
	else if (s < 60)
		snprintf(out, cap, "%llds", s);
	else if (s < 3600)
		snprintf(out, cap, "%lldm%02llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(out, cap, "%lldh%02lldm", s / 3600, s % 3600 / 60);
	else
		snprintf(out, cap, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
}

static void fmt_ago(long long s, char *out, size_t cap)
{
	char d[32];

	if (s < 0) {
		snprintf(out, cap, "never");
		return;
	}
	fmt_duration(s, d, sizeof(d));
	snprintf(out, cap, "%s ago", d);
}

/* "host1: installed, host2: NACK duplicate name" */
static void fmt_status(json_t *arr, char *out, size_t cap)
{
	size_t off = 0, i;
	json_t *e;

	out[0] = 0;
	json_array_foreach(arr, i, e) {
		const char *r = str(e, "reason");

		off += (size_t)snprintf(out + off, off < cap ? cap - off : 0, "%s%s:%s%s%s",
					off ? ", " : "", str(e, "host"), str(e, "state"),
					*r ? " " : "", r);
		if (off >= cap)
			break;
	}
	if (!out[0])
		snprintf(out, cap, "-");
}

static const char *past(const char *action)
{
	if (!strcmp(action, "install"))
		return "installed";
	if (!strcmp(action, "update"))
		return "updated";
	if (!strcmp(action, "delete"))
		return "removed";
	return action;
}

/* ---------------------------------------------------------- renderers */

static int render_change(FILE *out, const struct xcm_cmd *cmd, json_t *reply)
{
	const char *name = str(cmd->req, "name");
	json_t *push = json_object_get(reply, "push"), *e;
	int status = 0;
	size_t i;

	if (!strcmp(cmd->verb, "add") && !strcmp(cmd->noun, "vnic")) {
		json_t *v = json_object_get(reply, "vnic");

		fprintf(out, "vnic %s added (MAC %s)\n", name, str(v, "mac"));
	} else if (!strcmp(cmd->verb, "add") && !strcmp(cmd->noun, "vhba")) {
		json_t *v = json_object_get(reply, "vhba");

		fprintf(out, "vhba %s added (WWPN %s, WWNN %s)\n", name, str(v, "wwpn"),
			str(v, "wwnn"));
	} else if (!strcmp(cmd->verb, "add") && !strcmp(cmd->noun, "target")) {
		json_t *t = json_object_get(reply, "target");

		fprintf(out, "target %s added (WWPN %s)\n", name, str(t, "wwpn"));
	} else if (!strcmp(cmd->noun, "lun")) {
		fprintf(out, "lun %lld of target %s %s\n", num(cmd->req, "lun"),
			str(cmd->req, "target"), !strcmp(cmd->verb, "add") ? "added" : "deleted");
	} else {
		fprintf(out, "%s %s %s\n", cmd->noun, name,
			!strcmp(cmd->verb, "add") ? "added"
			: !strcmp(cmd->verb, "set") ? "updated" : "deleted");
	}
	json_array_foreach(push, i, e) {
		const char *dev = str(e, "device"), *host = str(e, "host");
		const char *action = str(e, "action"), *result = str(e, "result");
		const char *reason = str(e, "reason");

		if (!strcmp(result, "acknowledged"))
			fprintf(out, "%s %s on %s (acknowledged)\n", dev, past(action), host);
		else if (!strcmp(result, "nack")) {
			fprintf(out, "%s %s on %s NACK: %s\n", dev, action, host, reason);
			status = 1;
		} else if (!strcmp(result, "not connected"))
			fprintf(out, "%s configured; %s not connected, will be %s when it registers\n",
				dev, host, past(action));
		else if (!strcmp(result, "no host"))
			fprintf(out, "%s configured; profile %s binds no host yet\n", dev, host);
		else if (!strcmp(result, "timeout"))
			fprintf(out, "%s sent to %s; no answer within %s\n", dev, host, reason);
		else
			fprintf(out, "%s sent to %s; %s%s%s\n", dev, host, result, *reason ? ": " : "",
				reason);
	}
	return status;
}

static int render_config_change(FILE *out, const struct xcm_cmd *cmd, json_t *reply)
{
	json_t *v = json_object_get(cmd->req, "value");

	if (json_is_integer(v))
		fprintf(out, "config %s set to %lld\n", str(cmd->req, "key"),
			(long long)json_integer_value(v));
	else
		fprintf(out, "config %s set to %s\n", str(cmd->req, "key"), json_string_value(v));
	return 0;
}

static void render_profiles(FILE *out, json_t *reply)
{
	struct table t = { .ncols = 5, .head = { "NAME", "HOSTNAME", "HOST-GUIDS", "VNICS", "VHBAS" } };
	json_t *e, *g;
	size_t i, j;

	json_array_foreach(json_object_get(reply, "profiles"), i, e) {
		char guids[512] = "", nv[16], nh[16];
		size_t off = 0;

		json_array_foreach(json_object_get(e, "host_guids"), j, g)
			off += (size_t)snprintf(guids + off, sizeof(guids) - off, "%s%s",
						off ? "," : "", json_string_value(g));
		snprintf(nv, sizeof(nv), "%lld", num(e, "vnics"));
		snprintf(nh, sizeof(nh), "%lld", num(e, "vhbas"));
		t_row(&t, str(e, "name"), *str(e, "hostname") ? str(e, "hostname") : "-",
		      guids[0] ? guids : "-", nv, nh);
	}
	t_print(out, &t, "no profiles");
}

static void vlan_text(json_t *e, char *out, size_t cap)
{
	const char *mode = str(e, "vlan_mode"), *vl = str(e, "vlans");

	if (!strcmp(mode, "access"))
		snprintf(out, cap, "%s", *vl ? vl : "untagged");
	else
		snprintf(out, cap, "trunk %s", *vl ? vl : "all");
}

static void drops_text(json_t *o, char *buf, size_t cap)
{
	const char *k;
	json_t *v;
	size_t off = 0;

	buf[0] = 0;
	json_object_foreach(o, k, v)
		off += (size_t)snprintf(buf + off, off < cap ? cap - off : 0, "%s%s %lld",
					off ? ", " : "", k, (long long)json_integer_value(v));
	if (!buf[0])
		snprintf(buf, cap, "none");
}

/* The vNIC I/O module's entry of a vNIC's status (host "io-module"). */
static void render_vnic_io(FILE *out, json_t *status)
{
	json_t *e, *p;
	size_t i;
	char din[512], dout[512];

	json_array_foreach(status, i, e) {
		if (strcmp(str(e, "host"), "io-module"))
			continue;
		p = json_object_get(e, "port");
		drops_text(json_object_get(e, "drops_in"), din, sizeof(din));
		drops_text(json_object_get(e, "drops_out"), dout, sizeof(dout));
		fprintf(out,
			"  data path    %s on uplink %s (link %s), switch port %lld\n"
			"  from host    %lld frames, %lld bytes\n"
			"  to host      %lld frames, %lld bytes, %lld dropped (no send slot / not up)\n"
			"  switch port  rx %lld frames, tx %lld frames, forwarded %lld\n"
			"  drops in     %s\n  drops out    %s\n"
			"  rate         %lld yellow in, %lld yellow out\n"
			"  control      %lld rx, %lld tx, %lld bad, %lld heartbeats, %lld multicast lists\n"
			"  sessions     %lld started, %lld closed%s%s\n",
			str(e, "state"), *str(e, "uplink") ? str(e, "uplink") : "-",
			str(e, "uplink_link"), num(e, "switch_port"), num(e, "from_host_frames"),
			num(e, "from_host_bytes"), num(e, "to_host_frames"), num(e, "to_host_bytes"),
			num(e, "to_host_drops"), num(p, "rx_frames"), num(p, "tx_frames"),
			num(p, "fwd_frames"), din, dout, num(e, "rate_yellow_in"),
			num(e, "rate_yellow_out"), num(e, "ctrl_rx"), num(e, "ctrl_tx"),
			num(e, "ctrl_bad"), num(e, "heartbeats"), num(e, "mcast_lists"),
			num(e, "connects"), num(e, "disconnects"), *str(e, "last_error") ? "; last: " : "",
			str(e, "last_error"));
	}
}

static void render_vnics(FILE *out, const struct xcm_cmd *cmd, json_t *reply)
{
	struct table t = { .ncols = 8, .head = { "NAME", "PROFILE", "MAC", "MTU", "VLANS", "UPLINK", "ADMIN",
				"STATUS" } };
	json_t *arr = json_object_get(reply, "vnics"), *e;
	size_t i;

	if (json_object_get(cmd->req, "name") && json_array_size(arr) == 1) {
		char vl[2600], st[1024];

		e = json_array_get(arr, 0);
		vlan_text(e, vl, sizeof(vl));
		fmt_status(json_object_get(e, "status"), st, sizeof(st));
		fprintf(out,
			"vnic %s\n  profile      %s\n  resource id  %s\n  MAC          %s\n"
			"  MTU          %lld\n  VLANs        %s\n  uplink       %s\n"
			"  CIR / PIR    %lld / %lld Mbit/s\n  HA group     %s\n  admin        %s\n"
			"  status       %s\n",
			str(e, "name"), str(e, "profile"), str(e, "resource_id"), str(e, "mac"),
			num(e, "mtu"), vl, *str(e, "uplink") ? str(e, "uplink") : "-",
			num(e, "cir"), num(e, "pir"), *str(e, "ha_group") ? str(e, "ha_group") : "-",
			str(e, "admin"), st);
		render_vnic_io(out, json_object_get(e, "status"));
		return;
	}
	json_array_foreach(arr, i, e) {
		char vl[2600], st[1024], mtu[16];

		vlan_text(e, vl, sizeof(vl));
		fmt_status(json_object_get(e, "status"), st, sizeof(st));
		snprintf(mtu, sizeof(mtu), "%lld", num(e, "mtu"));
		t_row(&t, str(e, "name"), str(e, "profile"), str(e, "mac"), mtu, vl,
		      *str(e, "uplink") ? str(e, "uplink") : "-", str(e, "admin"), st);
	}
	t_print(out, &t, "no vnics");
}

static void render_vhbas(FILE *out, const struct xcm_cmd *cmd, json_t *reply)
{
	struct table t = { .ncols = 8, .head = { "NAME", "PROFILE", "WWPN", "WWNN", "QDEPTH", "TARGETS", "ADMIN",
				"STATUS" } };
	json_t *arr = json_object_get(reply, "vhbas"), *e;
	size_t i;

	if (json_object_get(cmd->req, "name") && json_array_size(arr) == 1) {
		char st[1024], tg[XCM_TARGETS_LINE];
		size_t off = 0;
		char *save = NULL, list[256];
		int k = 0;

		e = json_array_get(arr, 0);
		fmt_status(json_object_get(e, "status"), st, sizeof(st));
		/* "t1 (WWPN 50:...), t2 (WWPN ...)": where the host logs in */
		snprintf(list, sizeof(list), "%s", str(e, "targets"));
		tg[0] = 0;
		for (char *n = strtok_r(list, ",", &save); n; n = strtok_r(NULL, ",", &save), k++) {
			const char *w = json_string_value(
				json_array_get(json_object_get(e, "target_wwpns"), (size_t)k));

			off += (size_t)snprintf(tg + off, off < sizeof(tg) ? sizeof(tg) - off : 0,
						"%s%s (WWPN %s)", off ? ", " : "", n,
						w && *w ? w : "unknown");
		}
		fprintf(out,
			"vhba %s\n  profile            %s\n  resource id        %s\n"
			"  WWPN               %s\n  WWNN               %s\n  targets            %s\n"
			"  LUN mask           %s\n  queue depth        %lld\n"
			"  link-down timeout  %lld s\n  admin              %s\n  status             %s\n",
			str(e, "name"), str(e, "profile"), str(e, "resource_id"), str(e, "wwpn"),
			str(e, "wwnn"), tg[0] ? tg : "-",
			*str(e, "lun_mask") ? str(e, "lun_mask") : "all LUNs",
			num(e, "queue_depth"), num(e, "link_down_timeout"), str(e, "admin"), st);
		return;
	}
	json_array_foreach(arr, i, e) {
		char st[1024], qd[16];

		fmt_status(json_object_get(e, "status"), st, sizeof(st));
		snprintf(qd, sizeof(qd), "%lld", num(e, "queue_depth"));
		t_row(&t, str(e, "name"), str(e, "profile"), str(e, "wwpn"), str(e, "wwnn"), qd,
		      *str(e, "targets") ? str(e, "targets") : "-", str(e, "admin"), st);
	}
	t_print(out, &t, "no vhbas");
}

static void render_sessions(FILE *out, json_t *reply)
{
	struct table t = { .ncols = 9, .head = { "HOST", "PORT-GUID", "LID", "STATE", "UPTIME", "LAST-HELLO",
				"VNICS", "VHBAS", "HELD" } };
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(reply, "sessions"), i, e) {
		char lid[8], up[32], hello[40], nv[12], nh[12], held[12];

		snprintf(lid, sizeof(lid), "%lld", num(e, "lid"));
		fmt_duration(num(e, "uptime_s"), up, sizeof(up));
		fmt_ago(num(e, "last_hello_s"), hello, sizeof(hello));
		snprintf(nv, sizeof(nv), "%lld", num(e, "vnics"));
		snprintf(nh, sizeof(nh), "%lld", num(e, "vhbas"));
		snprintf(held, sizeof(held), "%lld", num(e, "held"));
		t_row(&t, str(e, "host"), str(e, "port_guid"), lid, str(e, "state"), up, hello, nv,
		      nh, held);
	}
	t_print(out, &t, "no sessions");
}

static void render_hosts(FILE *out, json_t *reply)
{
	struct table t = { .ncols = 9, .head = { "HOST", "PORT-GUID", "LID", "PROFILE", "STATE", "UPTIME",
				"LAST-HELLO", "RECONNECTS", "REASON" } };
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(reply, "hosts"), i, e) {
		char lid[8], up[32], hello[40], rc[12];

		snprintf(lid, sizeof(lid), "%lld", num(e, "lid"));
		fmt_duration(num(e, "uptime_s"), up, sizeof(up));
		fmt_ago(num(e, "last_hello_s"), hello, sizeof(hello));
		snprintf(rc, sizeof(rc), "%lld", num(e, "reconnects"));
		t_row(&t, str(e, "host"), str(e, "port_guid"), lid,
		      *str(e, "profile") ? str(e, "profile") : "-", str(e, "state"), up, hello, rc,
		      *str(e, "reason") ? str(e, "reason") : "-");
	}
	t_print(out, &t, "no hosts");
}

static void render_log(FILE *out, json_t *reply)
{
	struct table t = { .ncols = 3, .head = { "WHEN", "USER", "WHAT" } };
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(reply, "log"), i, e)
		t_row(&t, str(e, "when"), str(e, "user"), str(e, "what"));
	t_print(out, &t, "audit log is empty");
}

static void render_kv(FILE *out, json_t *obj)
{
	const char *k;
	json_t *v;

	json_object_foreach(obj, k, v) {
		if (json_is_integer(v))
			fprintf(out, "%-20s %lld\n", k, (long long)json_integer_value(v));
		else if (json_is_string(v))
			fprintf(out, "%-20s %s\n", k, json_string_value(v));
	}
}

static void size_text(long long b, char *out, size_t cap)
{
	static const char *const u[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	int i = 0;

	if (b <= 0) {
		snprintf(out, cap, "-");
		return;
	}
	while (i < 5 && b % 1024 == 0 && b >= 1024) {
		b /= 1024;
		i++;
	}
	snprintf(out, cap, "%lld%s", b, u[i]);
}

/* "online", "error: cannot open ...", "not served" (no storage module). */
static void state_text(json_t *status, char *out, size_t cap)
{
	const char *st = str(status, "state"), *r = str(status, "reason");

	if (!json_is_object(status))
		snprintf(out, cap, "not served");
	else
		snprintf(out, cap, "%s%s%s", st, *r ? ": " : "", r);
}

static void render_storage(FILE *out, const struct xcm_cmd *cmd, json_t *reply)
{
	struct table t = { .ncols = 6, .head = { "NAME", "TYPE", "LOCATION", "SIZE", "LUN", "STATE" } };
	json_t *arr = json_object_get(reply, "storage"), *e;
	size_t i;

	json_array_foreach(arr, i, e) {
		json_t *lun = json_object_get(e, "lun"), *status = json_object_get(e, "status");
		char size[32], l[64], st[512];
		long long cap = num(status, "capacity");

		size_text(cap > 0 ? cap : num(e, "size"), size, sizeof(size));
		if (json_is_object(lun))
			snprintf(l, sizeof(l), "%s/%lld", str(lun, "target"), num(lun, "lun"));
		else
			snprintf(l, sizeof(l), "-");
		state_text(status, st, sizeof(st));
		if (json_object_get(cmd->req, "name")) {
			fprintf(out,
				"storage %s\n  type      %s%s\n  location  %s\n  size      %s\n"
				"  LUN       %s\n  state     %s\n",
				str(e, "name"), str(e, "type"), json_is_true(json_object_get(e, "direct"))
				? " (O_DIRECT)" : "", *str(e, "location") ? str(e, "location") : "-",
				size, l, st);
			return;
		}
		t_row(&t, str(e, "name"), str(e, "type"),
		      *str(e, "location") ? str(e, "location") : "-", size, l, st);
	}
	t_print(out, &t, "no storage");
}

static void render_targets(FILE *out, const struct xcm_cmd *cmd, json_t *reply)
{
	struct table t = { .ncols = 6, .head = { "NAME", "WWPN", "LUNS", "VHBAS", "STATE", "LOGINS" } };
	json_t *arr = json_object_get(reply, "targets"), *e, *x;
	size_t i, j;

	json_array_foreach(arr, i, e) {
		json_t *status = json_object_get(e, "status");
		char luns[256] = "", vh[256] = "", st[512], lg[16];
		size_t off = 0, off2 = 0;

		json_array_foreach(json_object_get(e, "luns"), j, x)
			off += (size_t)snprintf(luns + off, off < sizeof(luns) ? sizeof(luns) - off : 0,
						"%s%lld", off ? "," : "", num(x, "lun"));
		json_array_foreach(json_object_get(e, "vhbas"), j, x)
			off2 += (size_t)snprintf(vh + off2, off2 < sizeof(vh) ? sizeof(vh) - off2 : 0,
						 "%s%s", off2 ? "," : "", str(x, "name"));
		state_text(status, st, sizeof(st));
		snprintf(lg, sizeof(lg), "%lld", num(status, "logins"));
		if (!json_object_get(cmd->req, "name")) {
			t_row(&t, str(e, "name"), str(e, "wwpn"), luns[0] ? luns : "-",
			      vh[0] ? vh : "-", st, lg);
			continue;
		}
		fprintf(out, "target %s\n  WWPN (service ID)  %s\n  state              %s\n"
			"  logins             %s\n", str(e, "name"), str(e, "wwpn"), st, lg);
		json_array_foreach(json_object_get(status, "channels"), j, x) {
			time_t since = (time_t)num(x, "login_time");
			struct tm tm;
			char when[32] = "?";

			if (gmtime_r(&since, &tm))
				strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
			fprintf(out, "    initiator %s  vhba %s  LUNs %s\n"
				"      logged in since %s (%lld s), %lld outstanding, "
				"%lld of %lld commands done, IU %lld bytes\n",
				str(x, "initiator"), *str(x, "vhba") ? str(x, "vhba") : "-",
				str(x, "luns"), when, num(x, "connected_s"), num(x, "outstanding"),
				num(x, "completed"), num(x, "commands"), num(x, "it_iu_len"));
		}
		fprintf(out, "  LUNs\n");
		if (!json_array_size(json_object_get(e, "luns")))
			fprintf(out, "    none\n");
		json_array_foreach(json_object_get(e, "luns"), j, x) {
			json_t *ls = json_object_get(json_object_get(status, "luns"),
						     str(x, "storage"));
			char lst[512];

			state_text(ls, lst, sizeof(lst));
			fprintf(out, "    %-5lld %s%s  %s\n", num(x, "lun"), str(x, "storage"),
				json_is_true(json_object_get(x, "read_only")) ? " (read-only)" : "",
				json_is_object(status) ? lst : "not served");
		}
		fprintf(out, "  vHBAs\n");
		if (!json_array_size(json_object_get(e, "vhbas")))
			fprintf(out, "    none\n");
		json_array_foreach(json_object_get(e, "vhbas"), j, x)
			fprintf(out, "    %s  WWPN %s  LUN mask %s\n", str(x, "name"), str(x, "wwpn"),
				*str(x, "lun_mask") ? str(x, "lun_mask") : "all LUNs");
		return;
	}
	t_print(out, &t, "no targets");
}

int xcm_render(FILE *out, const struct xcm_cmd *cmd, json_t *reply)
{
	json_t *e;
	size_t i;

	switch (cmd->render) {
	case XCM_R_CHANGE:
		if (cmd->noun && !strcmp(cmd->noun, "config"))
			return render_config_change(out, cmd, reply);
		return render_change(out, cmd, reply);
	case XCM_R_PROFILES:
		render_profiles(out, reply);
		break;
	case XCM_R_VNICS:
		render_vnics(out, cmd, reply);
		break;
	case XCM_R_VHBAS:
		render_vhbas(out, cmd, reply);
		break;
	case XCM_R_SESSIONS:
		render_sessions(out, reply);
		break;
	case XCM_R_HOSTS:
		render_hosts(out, reply);
		break;
	case XCM_R_LOG:
		render_log(out, reply);
		break;
	case XCM_R_CONFIG:
		render_kv(out, json_object_get(reply, "config"));
		break;
	case XCM_R_STATS:
		render_kv(out, json_object_get(reply, "stats"));
		break;
	case XCM_R_STORAGE:
		render_storage(out, cmd, reply);
		break;
	case XCM_R_TARGETS:
		render_targets(out, cmd, reply);
		break;
	case XCM_R_NAMES:
		if (!json_array_size(json_object_get(reply, cmd->names_key)))
			fprintf(out, "none\n");
		json_array_foreach(json_object_get(reply, cmd->names_key), i, e)
			fprintf(out, "%s\n", json_string_value(e));
		break;
	}
	return 0;
}
