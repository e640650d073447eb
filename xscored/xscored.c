/* SPDX-License-Identifier: MIT */
/*
 * xscored - the host agent: discovers the I/O director (XDS), holds one
 * XSMP session per XCM and receives the host's virtual device
 * configuration. Each host's vNICs go to the vNIC module (TAP interfaces,
 * xsvnic/vnic.h) and its vHBAs to the vHBA module (SRP initiators, LUNs as
 * files under --vhba-root, xsvhba/module.h); with --no-devices both go to
 * the built-in configuration registry, which only records them.
 *
 * One process can emulate many hosts (--hosts N): each has its own fabric
 * port, discovery and sessions; all share one event loop and one control
 * socket.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xscore/common.h>
#include <xscore/log.h>

#include <xsvnic/vnic.h>
#ifdef XSCORED_VHBA
#include <xsvhba/module.h>
#endif

#include "xscored.h"

#define MAIN_LOG "xscored"
#define XSCORED_MAX_HOSTS 4096

struct options {
	const char *fabric;
	const char *port_name;
	const char *hostname;
	const char *state_dir;
	const char *socket;
	const char *debug;
	bool foreground;
	int hosts;
	uint16_t xds_lid;
	bool has_xds_gid;
	uint8_t xds_gid[16];
	int requery_ms;
	int backoff_max_ms;
	int mad_timeout_ms;
	int fabric_wait_ms;
	bool no_devices;
	const char *vhba_root;
	int vhba_threads;
	bool vhba_nbd;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xscored [options]\n"
		"  -F, --fabric SPEC      fabric to use (default \"soft\"; e.g. soft:/path/fabric.sock,\n"
		"                         verbs:mlx5_0:1)\n"
		"  -p, --port-name NAME   stable port name on the soft fabric (default: host name)\n"
		"  -H, --hostname NAME    host name announced to the director (default: gethostname)\n"
		"  -f, --foreground       stay in the foreground, log to stderr (default: syslog)\n"
		"  -d, --debug LIST       debug logs for components (host,xsmp,disc,wire,fabric,...|all)\n"
		"  -s, --state-dir DIR    state directory (default /run/xsigo or $XS_STATE_DIR)\n"
		"  -S, --socket PATH      control socket (default DIR/xscored-<port-name>.sock)\n"
		"  -n, --hosts N          emulate N hosts: ports <port-name>-<i>, names <hostname>-<i>\n"
		"  -x, --xds-lid LID      ask this XDS LID directly instead of the SA (RoCE)\n"
		"      --xds-gid GID      ask the XDS at this GID instead of the SA (RoCE)\n"
		"      --requery SECONDS  XDS re-query period while all is well (default 20)\n"
		"      --backoff-max SECONDS  cap of the retry back-off (default 60)\n"
		"      --mad-timeout MS   wait per SA / XCM_REQUEST attempt (default 3000)\n"
		"      --fabric-wait SECONDS  keep trying to open the port this long (default 10)\n"
		"      --no-devices       record the vNIC and vHBA configuration only (no TAP\n"
		"                         interfaces, no SRP logins, no LUN mounts)\n"
		"      --vhba-root DIR    where vHBA LUNs appear as DIR/<vhba>/<target>/lun<N>\n"
		"                         (default /run/xsigo/vhba; with --hosts N: DIR/<host>)\n"
		"      --vhba-threads N   FUSE worker threads per vHBA target (default 4)\n"
		"      --vhba-nbd         also each LUN as /dev/nbdN (the kernel's nbd, netlink)\n"
		"  -h, --help             this text\n");
}

static int parse_uint(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "fabric", required_argument, NULL, 'F' },
		{ "port-name", required_argument, NULL, 'p' },
		{ "hostname", required_argument, NULL, 'H' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "debug", required_argument, NULL, 'd' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "socket", required_argument, NULL, 'S' },
		{ "hosts", required_argument, NULL, 'n' },
		{ "xds-lid", required_argument, NULL, 'x' },
		{ "xds-gid", required_argument, NULL, 16 },
		{ "requery", required_argument, NULL, 1 },
		{ "backoff-max", required_argument, NULL, 2 },
		{ "mad-timeout", required_argument, NULL, 3 },
		{ "fabric-wait", required_argument, NULL, 4 },
		{ "no-devices", no_argument, NULL, 5 },
		{ "vhba-root", required_argument, NULL, 6 },
		{ "vhba-threads", required_argument, NULL, 7 },
		{ "vhba-nbd", no_argument, NULL, 8 },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long v;
	int c;

	while ((c = getopt_long(argc, argv, "F:p:H:fd:s:S:n:x:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'F': o->fabric = optarg; break;
		case 'p': o->port_name = optarg; break;
		case 'H': o->hostname = optarg; break;
		case 'f': o->foreground = true; break;
		case 'd': o->debug = optarg; break;
		case 's': o->state_dir = optarg; break;
		case 'S': o->socket = optarg; break;
		case 'n':
			if (parse_uint(optarg, 1, XSCORED_MAX_HOSTS, &v) < 0) {
				fprintf(stderr, "xscored: --hosts '%s': give 1..%d\n", optarg,
					XSCORED_MAX_HOSTS);
				return 2;
			}
			o->hosts = (int)v;
			break;
		case 'x':
			if (parse_uint(optarg, 1, 0xbfff, &v) < 0) {
				fprintf(stderr, "xscored: --xds-lid '%s': give a unicast LID 1..0xbfff\n",
					optarg);
				return 2;
			}
			o->xds_lid = (uint16_t)v;
			break;
		case 16:
			if (inet_pton(AF_INET6, optarg, o->xds_gid) != 1) {
				fprintf(stderr, "xscored: --xds-gid '%s': give an IPv6-style GID\n", optarg);
				return 2;
			}
			o->has_xds_gid = true;
			break;
		case 1:
			if (parse_uint(optarg, 1, 3600, &v) < 0) {
				fprintf(stderr, "xscored: --requery '%s': give 1..3600 seconds\n", optarg);
				return 2;
			}
			o->requery_ms = (int)v * 1000;
			break;
		case 2:
			if (parse_uint(optarg, 1, 3600, &v) < 0) {
				fprintf(stderr, "xscored: --backoff-max '%s': give 1..3600 seconds\n",
					optarg);
				return 2;
			}
			o->backoff_max_ms = (int)v * 1000;
			break;
		case 3:
			if (parse_uint(optarg, 100, 60000, &v) < 0) {
				fprintf(stderr, "xscored: --mad-timeout '%s': give 100..60000 ms\n",
					optarg);
				return 2;
			}
			o->mad_timeout_ms = (int)v;
			break;
		case 4:
			if (parse_uint(optarg, 0, 3600, &v) < 0) {
				fprintf(stderr, "xscored: --fabric-wait '%s': give 0..3600 seconds\n",
					optarg);
				return 2;
			}
			o->fabric_wait_ms = (int)v * 1000;
			break;
		case 5:
			o->no_devices = true;
			break;
		case 6:
			if (optarg[0] != '/' || strlen(optarg) > 150) {
				fprintf(stderr, "xscored: --vhba-root '%s': give an absolute path "
					"of at most 150 characters\n", optarg);
				return 2;
			}
			o->vhba_root = optarg;
			break;
		case 7:
			if (parse_uint(optarg, 1, 64, &v) < 0) {
				fprintf(stderr, "xscored: --vhba-threads '%s': give 1..64\n", optarg);
				return 2;
			}
			o->vhba_threads = (int)v;
			break;
		case 8:
			o->vhba_nbd = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "xscored: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	return 0;
}

/*
 * Open one host's port. A fabric that is not there yet (xs-fabricd still
 * starting, device not up) is retried with back-off until wait_ms have
 * passed: daemons started together need no ordering.
 */
static struct xs_host *open_host(struct xs_loop *loop, const struct xs_host_opts *ho,
				 int wait_ms)
{
	uint64_t deadline = xs_now_ms() + (uint64_t)wait_ms;
	useconds_t delay_us = 50000;
	struct xs_host *h;

	for (;;) {
		h = xs_host_new(loop, ho);
		if (h)
			return h;
		if (errno != ENOENT && errno != ECONNREFUSED && errno != ETIMEDOUT &&
		    errno != EAGAIN)
			return NULL;
		if (xs_now_ms() + delay_us / 1000 >= deadline)
			return NULL;
		usleep(delay_us);
		if (delay_us < 1000000)
			delay_us *= 2;
	}
}

static void stop_poll(struct xs_loop *loop, struct xs_timer *t, void *arg)
{
	struct xscored *d = arg;
	bool quiet = true;
	int i;

	(void)t;
	for (i = 0; i < d->n_hosts; i++)
		quiet = quiet && xs_host_quiet(d->hosts[i].host);
	if (quiet || xs_now_ms() >= d->stop_deadline_ms)
		xs_loop_stop(loop);
}

static void on_signal(struct xs_loop *loop, int signo, void *arg)
{
	struct xscored *d = arg;
	int i, sent = 0;

	if (d->stop_deadline_ms) {
		xs_loop_stop(loop);
		return;
	}
	XS_NOTICE(MAIN_LOG, "signal %d: shutting down", signo);
	for (i = 0; i < d->n_hosts; i++)
		sent += xs_host_shutdown(d->hosts[i].host, "host agent stopping");
	XS_INFO(MAIN_LOG, "SHUTDOWN sent on %d session%s", sent, sent == 1 ? "" : "s");
	d->stop_deadline_ms = xs_now_ms() + 1500;
	xs_timer_arm(d->stop_timer, 20, 20);
}

static int make_dir(const char *dir)
{
	char tmp[PATH_MAX];
	size_t i;

	snprintf(tmp, sizeof(tmp), "%s", dir);
	for (i = 1; tmp[i]; i++) {
		if (tmp[i] != '/')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		tmp[i] = '/';
	}
	if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = { .fabric_wait_ms = 10000 };
	struct xscored d = { .listen_fd = -1 };
	char base_port[64], base_host[64], name[128], hname[128];
	int i, rc, ret = 1;

	rc = parse_args(argc, argv, &o);
	if (rc)
		return rc;
	if (!o.state_dir)
		o.state_dir = getenv("XS_STATE_DIR") ? getenv("XS_STATE_DIR")
						      : XSCORED_DEFAULT_STATE_DIR;
	if (!o.hostname) {
		if (gethostname(base_host, sizeof(base_host)) != 0)
			snprintf(base_host, sizeof(base_host), "localhost");
		base_host[sizeof(base_host) - 1] = '\0';
	} else {
		snprintf(base_host, sizeof(base_host), "%s", o.hostname);
	}
	snprintf(base_port, sizeof(base_port), "%s", o.port_name ? o.port_name : base_host);
	if (o.hosts == 0)
		o.hosts = 1;

	xs_log_open("xscored", o.foreground ? XS_LOG_STDERR : XS_LOG_SYSLOG, XS_LOG_INFO);
	if (o.debug)
		xs_log_set_debug(o.debug);

	rc = make_dir(o.state_dir);
	if (rc < 0) {
		XS_ERR(MAIN_LOG, "state directory %s: %s", o.state_dir, xs_strerror(rc));
		return 1;
	}
	if (o.socket)
		snprintf(d.sock_path, sizeof(d.sock_path), "%s", o.socket);
	else
		xscored_sock_path(d.sock_path, sizeof(d.sock_path), o.state_dir, base_port);
	if (!o.foreground && daemon(0, 0) < 0) {
		XS_ERR(MAIN_LOG, "daemon: %s", xs_strerror(-errno));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);

	d.loop = xs_loop_new();
	if (!d.loop) {
		XS_ERR(MAIN_LOG, "event loop: %s", xs_strerror(-errno));
		return 1;
	}
	d.started_ms = xs_now_ms();
	d.hosts = calloc((size_t)o.hosts, sizeof(*d.hosts));
	d.stop_timer = xs_timer_new(d.loop, stop_poll, &d);
	if (!d.hosts || !d.stop_timer)
		goto out;
	/* Before any fabric thread exists, so that every thread blocks them. */
	if (xs_loop_add_signal(d.loop, SIGTERM, on_signal, &d) < 0 ||
	    xs_loop_add_signal(d.loop, SIGINT, on_signal, &d) < 0) {
		XS_ERR(MAIN_LOG, "signals: %s", xs_strerror(-errno));
		goto out;
	}
	for (i = 0; i < o.hosts; i++) {
		struct xs_host_opts ho = {
			.size = sizeof(ho),
			.fabric_spec = o.fabric,
			.xds_lid = o.xds_lid,
			.has_xds_gid = o.has_xds_gid,
			.requery_ms = o.requery_ms,
			.backoff_max_ms = o.backoff_max_ms,
			.sa_timeout_ms = o.mad_timeout_ms,
			.xcpm_timeout_ms = o.mad_timeout_ms,
		};

		memcpy(ho.xds_gid, o.xds_gid, 16);
		if (o.hosts > 1) {
			snprintf(name, sizeof(name), "%s-%d", base_port, i);
			snprintf(hname, sizeof(hname), "%s-%d", base_host, i);
		} else {
			snprintf(name, sizeof(name), "%s", base_port);
			snprintf(hname, sizeof(hname), "%s", base_host);
		}
		ho.port_name = name;
		ho.hostname = hname;
		d.hosts[i].host = open_host(d.loop, &ho, o.fabric_wait_ms);
		if (!d.hosts[i].host) {
			XS_ERR(MAIN_LOG, "host %s: cannot open fabric port '%s' on %s: %s", hname,
			       name, o.fabric ? o.fabric : "soft", xs_strerror(-errno));
			goto out;
		}
		d.n_hosts++;
		if (!o.no_devices) {
			struct xsvnic_mod_opts vo = { .size = sizeof(vo), .fabric_spec = o.fabric };

			d.hosts[i].vnic = xsvnic_mod_new(d.hosts[i].host, &vo);
			if (!d.hosts[i].vnic) {
				XS_ERR(MAIN_LOG, "host %s: vNIC module: %s", hname,
				       xs_strerror(-errno));
				goto out;
			}
		}
#ifdef XSCORED_VHBA
		if (!o.no_devices) {
			struct xsvhba_mod_opts mo = { .size = sizeof(mo), .fabric_spec = o.fabric,
						      .fs_threads = (unsigned int)o.vhba_threads,
						      .nbd = o.vhba_nbd };
			char root[200];

			/* emulated hosts each get their own tree */
			if (o.hosts > 1)
				snprintf(root, sizeof(root), "%s/%s",
					 o.vhba_root ? o.vhba_root : XSVHBA_MOD_DEFAULT_ROOT, hname);
			else
				snprintf(root, sizeof(root), "%s",
					 o.vhba_root ? o.vhba_root : XSVHBA_MOD_DEFAULT_ROOT);
			mo.mount_root = root;
			d.hosts[i].vhba = xsvhba_mod_new(d.hosts[i].host, &mo);
			if (!d.hosts[i].vhba) {
				XS_ERR(MAIN_LOG, "host %s: vHBA module: %s", hname,
				       xs_strerror(-errno));
				goto out;
			}
		}
#endif
		rc = xscored_registry_attach(&d.hosts[i].registry, d.hosts[i].host,
					     o.no_devices, !d.hosts[i].vhba);
		if (rc < 0) {
			XS_ERR(MAIN_LOG, "configuration registry: %s", xs_strerror(rc));
			goto out;
		}
	}
	rc = xscored_control_open(&d);
	if (rc < 0)
		goto out;
	for (i = 0; i < d.n_hosts; i++)
		xs_host_start(d.hosts[i].host);
	XS_NOTICE(MAIN_LOG, "started: %d host%s, control socket %s", d.n_hosts,
		  d.n_hosts == 1 ? "" : "s", d.sock_path);
	rc = xs_loop_run(d.loop);
	ret = rc < 0 ? 1 : 0;
	XS_NOTICE(MAIN_LOG, "stopped");
	xscored_control_close(&d);
out:
	for (i = 0; i < d.n_hosts; i++) {
		struct xsvnic_mod *vm = d.hosts[i].vnic;

		xs_host_free(d.hosts[i].host); /* removes the devices through the modules */
		if (vm)
			xsvnic_mod_free(vm);
#ifdef XSCORED_VHBA
		xsvhba_mod_free(d.hosts[i].vhba); /* after: the vHBAs are unmounted */
#endif
	}
	free(d.hosts);
	if (d.stop_timer)
		xs_timer_free(d.stop_timer);
	xs_loop_free(d.loop);
	return ret;
}
