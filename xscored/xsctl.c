/* SPDX-License-Identifier: MIT */
/*
 * xsctl - talk to xscored's control socket.
 *   xsctl [-S SOCKET | -s DIR -p PORT] status|summary [--json]
 *   xsctl [...] vnic show [NAME] [--json]
 *   xsctl [...] vhba show [NAME] [--json]
 * Exit status: 0 ok, 1 the daemon refused or could not be reached, 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "xscored.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: xsctl [-S SOCKET | -s STATE_DIR -p PORT_NAME] status|summary [--json]\n"
		   "       xsctl [...] vnic show [NAME] [--json]   fabric counters of the vNICs\n"
		   "       xsctl [...] vhba show [NAME] [--json]   targets, LUNs and I/O of the vHBAs\n"
		   "  -S, --socket PATH      xscored control socket\n"
		   "  -s, --state-dir DIR    xscored state directory (default /run/xsigo or $XS_STATE_DIR)\n"
		   "  -p, --port-name NAME   the port name xscored was started with (default: host name)\n"
		   "  -j, --json             print the daemon's JSON answer\n"
		   "  -t, --timeout MS       give up after MS milliseconds (default 5000)\n");
}

static int request(const char *path, const char *req, int timeout_ms, char **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t cap = 65536, len = 0;
	char *buf;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "xsctl: socket path too long: %s\n", path);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "xsctl: cannot reach xscored at %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		fprintf(stderr, "xsctl: send to %s failed: %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	buf = malloc(cap);
	if (!buf) {
		close(fd);
		return -1;
	}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, timeout_ms) <= 0) {
			fprintf(stderr, "xsctl: no answer from %s within %d ms\n", path, timeout_ms);
			free(buf);
			close(fd);
			return -1;
		}
		if (len + 1 >= cap) {
			char *nb = realloc(buf, cap * 2);

			if (!nb) {
				free(buf);
				close(fd);
				return -1;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	*out = buf;
	return 0;
}

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "-";
}

static long long num(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static void secs(char *buf, size_t len, json_t *v)
{
	double s;

	if (!json_is_number(v)) {
		snprintf(buf, len, "-");
		return;
	}
	s = json_number_value(v);
	if (s < 120)
		snprintf(buf, len, "%.1fs", s);
	else if (s < 7200)
		snprintf(buf, len, "%dm%02ds", (int)s / 60, (int)s % 60);
	else
		snprintf(buf, len, "%dh%02dm", (int)s / 3600, ((int)s / 60) % 60);
}

static void print_host(json_t *h)
{
	json_t *port = json_object_get(h, "port"), *xds = json_object_get(h, "xds");
	json_t *v;
	size_t i;
	char a[32], b[32], c[32];

	printf("host %s\n", str(h, "session_name"));
	printf("  port    %s  GUID %s  LID %lld  SM LID %lld  %s\n          GID %s\n",
	       str(port, "name"), str(port, "guid"), num(port, "lid"), num(port, "sm_lid"),
	       str(port, "state"), str(port, "gid"));
	secs(a, sizeof(a), json_object_get(xds, "last_query_s_ago"));
	printf("  xds     LID %lld  %s  last query %s ago: %s  (queries %lld, failures %lld)\n",
	       num(xds, "lid"), str(xds, "state"), a, str(xds, "result"), num(xds, "queries"),
	       num(xds, "failures"));
	printf("  sessions:\n");
	printf("    %-18s %-5s %-14s %-8s %-6s %-10s %-10s %s\n", "XCM", "LID", "STATE", "UPTIME",
	       "HELLO", "LAST-HELLO", "RECONNECTS", "DIRECTOR / LAST ERROR");
	json_array_foreach(json_object_get(h, "sessions"), i, v) {
		secs(a, sizeof(a), json_object_get(v, "uptime_s"));
		secs(b, sizeof(b), json_object_get(v, "last_hello_s_ago"));
		snprintf(c, sizeof(c), "%llds", num(v, "hello_interval_s"));
		printf("    %-18s %-5lld %-14s %-8s %-6s %-10s %-10lld %s%s%s\n", str(v, "xcm_guid"),
		       num(v, "xcm_lid"), str(v, "state"), a, c, b, num(v, "reconnects"),
		       str(v, "director"), *str(v, "last_error") ? " / " : "",
		       str(v, "last_error"));
	}
	printf("  devices:\n");
	printf("    %-5s %-16s %-18s %-10s %-14s %s\n", "TYPE", "NAME", "RESOURCE", "STATE",
	       "MODULE", "CONFIG");
	json_array_foreach(json_object_get(h, "devices"), i, v) {
		json_t *cfg = json_object_get(v, "config");
		char conf[256];

		if (strcmp(str(v, "type"), "vnic") == 0) {
			char vl[96] = "";
			size_t j, off = 0;
			json_t *x;

			json_array_foreach(json_object_get(cfg, "vlans"), j, x)
				off += (size_t)snprintf(vl + off, off < sizeof(vl) ? sizeof(vl) - off : 0,
							"%s%lld", j ? "," : "", json_integer_value(x));
			snprintf(conf, sizeof(conf), "mac %s mtu %lld vlan %s%s%s uplink %s admin %s",
				 str(cfg, "mac"), num(cfg, "mtu"), str(cfg, "vlan_mode"),
				 vl[0] ? " " : "", vl, str(cfg, "uplink"), str(cfg, "admin"));
		} else {
			snprintf(conf, sizeof(conf), "wwpn %s wwnn %s qdepth %lld targets %zu admin %s",
				 str(cfg, "wwpn"), str(cfg, "wwnn"), num(cfg, "queue_depth"),
				 json_array_size(json_object_get(cfg, "targets")), str(cfg, "admin"));
		}
		printf("    %-5s %-16s %-18s %-10s %-14s %s\n", str(v, "type"), str(v, "name"),
		       str(v, "resource_id"), str(v, "state"), str(v, "module"), conf);
	}
}

/* `xsctl vnic show [NAME]`: the vNIC module's fabric counters per vNIC. */
static int print_vnics(json_t *doc, const char *only)
{
	size_t i, j;
	json_t *h, *d;
	int shown = 0;

	printf("%-16s %-10s %-6s %-10s %-10s %-10s %-10s %-8s %-8s %-6s %-6s %s\n", "NAME", "STATE",
	       "LINK", "TX_FRAMES", "RX_FRAMES", "GAP_DROPS", "RING_DROPS", "ERRORS", "HB_TX/RX",
	       "CONN", "RECONN", "LAST_ERROR");
	json_array_foreach(json_object_get(doc, "hosts"), i, h) {
		json_array_foreach(json_object_get(h, "devices"), j, d) {
			json_t *f = json_object_get(d, "fabric");
			char hb[32];

			if (strcmp(str(d, "type"), "vnic") || (only && strcmp(only, str(d, "name"))))
				continue;
			shown++;
			if (!json_is_object(f)) {
				printf("%-16s %-10s (recorded only: no interface)\n", str(d, "name"),
				       str(d, "state"));
				continue;
			}
			snprintf(hb, sizeof(hb), "%lld/%lld", num(f, "heartbeats_tx"),
				 num(f, "heartbeats_rx"));
			printf("%-16s %-10s %-6s %-10lld %-10lld %-10lld %-10lld %-8lld %-8s %-6lld "
			       "%-6lld %s\n", str(d, "name"), str(f, "state"),
			       json_is_true(json_object_get(f, "link_up")) ? "up" : "down",
			       num(f, "tx_frames"), num(f, "rx_frames"), num(f, "tx_gap_drops"),
			       num(f, "tx_ring_drops"), num(f, "rx_errors") + num(f, "ctrl_bad"), hb,
			       num(f, "connects"), num(f, "reconnects"),
			       *str(f, "last_error") ? str(f, "last_error") : "-");
		}
	}
	if (only && !shown) {
		fprintf(stderr, "xsctl: no vNIC named '%s'\n", only);
		return 1;
	}
	return 0;
}

/* Human sizes: exact bytes below 1 MiB, else one decimal. */
static void size_str(char *buf, size_t len, long long b)
{
	if (b < 1048576)
		snprintf(buf, len, "%lld B", b);
	else if (b < 1073741824LL)
		snprintf(buf, len, "%.1f MiB", (double)b / 1048576.0);
	else
		snprintf(buf, len, "%.1f GiB", (double)b / 1073741824.0);
}

/* `xsctl vhba show [NAME]`: per vHBA its targets (login state, counters)
 * and their LUN files. */
static int print_vhbas(json_t *doc, const char *only)
{
	size_t i, j, k, l;
	json_t *h, *d, *t, *u;
	int shown = 0;

	json_array_foreach(json_object_get(doc, "hosts"), i, h) {
		json_array_foreach(json_object_get(h, "devices"), j, d) {
			json_t *io = json_object_get(d, "io");
			json_t *cfg = json_object_get(d, "config");

			if (strcmp(str(d, "type"), "vhba") || (only && strcmp(only, str(d, "name"))))
				continue;
			if (shown++)
				printf("\n");
			if (!json_is_object(io)) {
				printf("vhba %s  %s  wwpn %s  queue depth %lld  (recorded only: no "
				       "initiator, no LUN files)\n", str(d, "name"), str(d, "state"),
				       str(cfg, "wwpn"), num(cfg, "queue_depth"));
				continue;
			}
			printf("vhba %s  admin %s  oper %s  wwpn %s  queue depth %lld  exec throttle "
			       "%lld  link-down timeout %llds  in flight %lld\n", str(d, "name"),
			       str(io, "admin"), str(io, "oper"), str(io, "wwpn"),
			       num(io, "queue_depth"), num(io, "exec_throttle"),
			       num(io, "link_down_timeout_s"), num(io, "inflight"));
			printf("  %-16s %-18s %-9s %-6s %-6s %-9s %-5s %-5s %-6s %-6s %s\n", "TARGET",
			       "WWPN", "STATE", "LOGINS", "RECONN", "COMMANDS", "OUTST", "HELD",
			       "QUEUED", "ERRORS", "MOUNT / LAST ERROR");
			json_array_foreach(json_object_get(io, "targets"), k, t) {
				printf("  %-16s %-18s %-9s %-6lld %-6lld %-9lld %-5lld %-5lld %-6lld "
				       "%-6lld %s%s%s\n", str(t, "name"), str(t, "wwpn"), str(t, "state"),
				       num(t, "logins"), num(t, "reconnects"), num(t, "commands"),
				       num(t, "outstanding"), num(t, "held"), num(t, "queued"),
				       num(t, "errors"), str(t, "mount"),
				       *str(t, "last_error") ? " / " : "", str(t, "last_error"));
				printf("    %-5s %-12s %-6s %-8s %-16s %-10s %-8s %-8s %-8s %s\n",
				       "LUN", "SIZE", "BLOCK", "VENDOR", "PRODUCT", "NBD", "INFLIGHT",
				       "READS", "WRITES", "ERRORS");
				json_array_foreach(json_object_get(t, "luns"), l, u) {
					char sz[32], id[16];

					size_str(sz, sizeof(sz), num(u, "size"));
					snprintf(id, sizeof(id), "%lld%s", num(u, "id"),
						 json_is_true(json_object_get(u, "present")) ? "" : "*");
					json_t *nb = json_object_get(u, "nbd");

					printf("    %-5s %-12s %-6lld %-8s %-16s %-10s %-8lld %-8lld "
					       "%-8lld %lld%s%s\n", id, sz, num(u, "block_size"),
					       str(u, "vendor"), str(u, "product"),
					       json_is_string(nb) ? json_string_value(nb) : "-",
					       num(u, "inflight"),
					       num(u, "reads"), num(u, "writes"), num(u, "errors"),
					       *str(u, "last_error") ? " " : "", str(u, "last_error"));
				}
			}
		}
	}
	if (only && !shown) {
		fprintf(stderr, "xsctl: no vHBA named '%s'\n", only);
		return 1;
	}
	if (!shown)
		printf("no vHBAs\n");
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 'S' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "port-name", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = NULL, *dir = NULL, *port = NULL, *cmd, *dev_name = NULL;
	bool vnic_cmd = false, vhba_cmd = false;
	char path[256], host[64], req[64], *answer = NULL;
	bool json = false;
	int c, timeout_ms = 5000, ret = 1;
	json_error_t jerr;
	json_t *doc, *v;
	size_t i;

	while ((c = getopt_long(argc, argv, "+S:s:p:jt:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'S': sock = optarg; break;
		case 's': dir = optarg; break;
		case 'p': port = optarg; break;
		case 'j': json = true; break;
		case 't': timeout_ms = atoi(optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind];
	if (cmd[0] && strncmp(cmd, "status", strlen(cmd)) == 0 &&
	    strncmp(cmd, "summary", strlen(cmd)) == 0) {
		fprintf(stderr, "xsctl: '%s' is ambiguous (status, summary)\n", cmd);
		return 2;
	}
	if (strcmp(cmd, "vnic") == 0 || strcmp(cmd, "vhba") == 0) {
		if (optind + 1 >= argc || strcmp(argv[optind + 1], "show")) {
			fprintf(stderr, "xsctl: usage: xsctl %s show [NAME] [--json]\n", cmd);
			return 2;
		}
		if (strcmp(cmd, "vnic") == 0)
			vnic_cmd = true;
		else
			vhba_cmd = true;
		cmd = "status";
		optind++;
		if (optind + 1 < argc && argv[optind + 1][0] != '-')
			dev_name = argv[++optind];
	} else if (cmd[0] && strncmp(cmd, "status", strlen(cmd)) == 0) {
		cmd = "status";
	} else if (cmd[0] && strncmp(cmd, "summary", strlen(cmd)) == 0) {
		cmd = "summary";
	} else {
		fprintf(stderr, "xsctl: unknown command '%s' (valid: status, summary, vnic show, "
			"vhba show)\n", cmd);
		return 2;
	}
	for (i = (size_t)optind + 1; i < (size_t)argc; i++) {
		if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "-j") == 0) {
			json = true;
		} else {
			fprintf(stderr, "xsctl: %s: unexpected argument '%s' (valid: --json)\n", cmd,
				argv[i]);
			return 2;
		}
	}
	if (timeout_ms <= 0)
		timeout_ms = 5000;
	if (!sock) {
		if (!dir)
			dir = getenv("XS_STATE_DIR") ? getenv("XS_STATE_DIR")
						     : XSCORED_DEFAULT_STATE_DIR;
		if (!port) {
			if (gethostname(host, sizeof(host)) != 0)
				snprintf(host, sizeof(host), "localhost");
			host[sizeof(host) - 1] = '\0';
			port = host;
		}
		xscored_sock_path(path, sizeof(path), dir, port);
		sock = path;
	}
	snprintf(req, sizeof(req), "{\"cmd\":\"%s\"}\n", cmd);
	if (request(sock, req, timeout_ms, &answer) < 0)
		return 1;
	doc = json_loads(answer, 0, &jerr);
	if (!doc) {
		fprintf(stderr, "xsctl: bad answer from xscored: %s\n", jerr.text);
		goto out;
	}
	if (!json_is_true(json_object_get(doc, "ok"))) {
		fprintf(stderr, "xsctl: %s\n", str(doc, "error"));
		goto out_doc;
	}
	if (vnic_cmd && !json) {
		ret = print_vnics(doc, dev_name);
		goto out_doc;
	} else if (vhba_cmd && !json) {
		ret = print_vhbas(doc, dev_name);
		goto out_doc;
	} else if (json) {
		char *s = json_dumps(doc, JSON_INDENT(2));

		if (s)
			printf("%s\n", s);
		free(s);
	} else if (strcmp(cmd, "summary") == 0) {
		printf("hosts %lld (%lld with a session up), sessions %lld up of %lld, "
		       "vNICs %lld, vHBAs %lld\n", num(doc, "hosts"), num(doc, "hosts_up"),
		       num(doc, "sessions_up"), num(doc, "sessions"), num(doc, "vnics"),
		       num(doc, "vhbas"));
	} else {
		json_array_foreach(json_object_get(doc, "hosts"), i, v)
			print_host(v);
	}
	ret = 0;
out_doc:
	json_decref(doc);
out:
	free(answer);
	return ret;
}
