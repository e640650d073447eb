/* SPDX-License-Identifier: MIT */
/*
 * xsdirectord - the I/O director: XDS (ServiceRecord + XCPM), XCM (XSMP
 * sessions), the configuration store and the control socket, all on one
 * event loop. See xsdirectord(8).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xscore/common.h>
#include <xscore/evloop.h>
#include <xscore/fabric.h>
#include <xscore/log.h>

#include "ctl/ctl.h"
#include "store/store.h"
#include "xcm/xcm.h"
#include "xds/xds.h"
#include "storage.h"
#include "vio.h"

#define COMP "director"
#define SHUTDOWN_BOUND_MS 2000

struct director {
	struct xs_loop *loop;
	struct xs_fabric *fabric;
	struct xs_port_attr port;
	struct xsd_store *store;
	struct xsd_xds *xds;
	struct xsd_xcm *xcm;
	struct xsd_vio *vio;        /* vNIC I/O module */
	struct xsd_stor *stor;      /* storage module: SRP targets */
	struct xsd_ctl_ctx ctl;
	struct xsd_ctl_server *ctl_srv;
	struct xs_timer *stop_timer;
	uint64_t stop_deadline;
	bool stopping;
};

static struct option long_opts[] = {
	{ "fabric", required_argument, NULL, 'F' },
	{ "port-name", required_argument, NULL, 'P' },
	{ "state-dir", required_argument, NULL, 'S' },
	{ "ctl-socket", required_argument, NULL, 'C' },
	{ "ctl-group", required_argument, NULL, 'G' },
	{ "name", required_argument, NULL, 'N' },
	{ "foreground", no_argument, NULL, 'f' },
	{ "debug", required_argument, NULL, 'd' },
	{ "push-wait-ms", required_argument, NULL, 'W' },
	{ "uplink", required_argument, NULL, 'U' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: xsdirectord [-f] [-d COMPONENTS] [-F SPEC] [--port-name NAME]\n"
		   "                   [--state-dir DIR] [--ctl-socket PATH] [--ctl-group GROUP]\n"
		   "                   [--name NAME]\n"
		   "  -F, --fabric SPEC     fabric to use (default \"soft\"; \"verbs\", \"umad:mlx5_0:1\")\n"
		   "  --port-name NAME      soft fabric port identity (default \"director\")\n"
		   "  --state-dir DIR       configuration database directory (default /var/lib/xsigo)\n"
		   "  --ctl-socket PATH     control socket (default /run/xsigo/director.sock)\n"
		   "  --ctl-group GROUP     group owning the control socket (mode 0660)\n"
		   "  --name NAME           director name sent to hosts (default: the hostname)\n"
		   "  --uplink NAME=IF      uplink NAME (xcm uplink add NAME) is interface IF\n"
		   "                        (repeatable, up to 8; the first serves vNICs without one)\n"
		   "  -f, --foreground      stay in the foreground, log to stderr\n"
		   "  -d, --debug LIST      debug logs for components: xcm,xds,ctl,store,storage,srpt,fabric,all\n"
		   "See xsdirectord(8).\n");
}

/* ---- control hooks: the XCM's, plus XDS counters in "stats" */

/* Without an XCM (a MAD-only fabric such as "umad"), the director still
 * serves discovery and its configuration; sessions are simply absent. */
static void d_changed(void *arg, const struct xsd_change *c, struct xsd_ctl_req *req)
{
	struct director *d = arg;

	if (d->vio && c->kind == XSD_CHANGE_VNIC && c->action != XSD_CHANGE_ADD)
		xsd_vio_vnic_changed(d->vio, c->resource_id, c->action == XSD_CHANGE_DELETE);
	if (c->kind == XSD_CHANGE_STORAGE || c->kind == XSD_CHANGE_TARGET ||
	    c->kind == XSD_CHANGE_LUN || c->kind == XSD_CHANGE_VHBA)
		xsd_stor_sync(d->stor);
	if (d->xcm)
		xsd_xcm_ctl_hooks.changed(d->xcm, c, req);
}

static json_t *d_sessions(void *arg)
{
	struct director *d = arg;

	return d->xcm ? xsd_xcm_ctl_hooks.sessions(d->xcm) : json_array();
}

static json_t *d_hosts(void *arg)
{
	struct director *d = arg;

	return d->xcm ? xsd_xcm_ctl_hooks.hosts(d->xcm) : json_array();
}

static json_t *d_device_status(void *arg, uint64_t rid)
{
	struct director *d = arg;
	json_t *a = d->xcm ? xsd_xcm_ctl_hooks.device_status(d->xcm, rid) : json_array();
	json_t *io = xsd_vio_vnic_json(d->vio, rid);

	/* the vNIC I/O module's view rides along as one more entry */
	if (io && a) {
		json_object_set_new(io, "host", json_string("io-module"));
		json_array_append_new(a, io);
	} else if (io) {
		json_decref(io);
	}
	return a;
}

static json_t *d_stats(void *arg)
{
	struct director *d = arg;
	json_t *o = d->xcm ? xsd_xcm_ctl_hooks.stats(d->xcm) : json_object();
	json_t *x = xsd_xds_stats(d->xds);

	json_object_update(o, x);
	json_decref(x);
	if (d->vio) {
		x = xsd_vio_stats_json(d->vio);
		json_object_update(o, x);
		json_decref(x);
	}
	if (d->stor) {
		x = xsd_stor_stats_json(d->stor);
		json_object_update(o, x);
		json_decref(x);
	}
	return o;
}

static json_t *d_storage_status(void *arg, enum xsd_obj type, const char *name)
{
	struct director *d = arg;

	return xsd_stor_status_json(d->stor, type, name);
}

static const struct xsd_ctl_hooks director_hooks = {
	.changed = d_changed,
	.sessions = d_sessions,
	.hosts = d_hosts,
	.device_status = d_device_status,
	.stats = d_stats,
	.storage_status = d_storage_status,
};

/* ---- fabric events */

static void fabric_cb(struct xs_loop *loop, int fd, unsigned int events, void *arg)
{
	struct director *d = arg;
	struct xs_event ev;

	while (xs_fabric_get_event(d->fabric, &ev) == 0) {
		if (ev.type == XS_EV_PORT_CHANGE) {
			XS_INFO(COMP, "port %s: state %d, LID %u, SM LID %u", ev.attr.port_name,
				ev.attr.state, ev.attr.lid, ev.attr.sm_lid);
			d->port = ev.attr;
			xsd_xds_port_changed(d->xds, &ev.attr);
			if (d->xcm)
				xsd_xcm_port_changed(d->xcm, &ev.attr);
			continue;
		}
		if (xsd_stor_fabric_event(d->stor, &ev))
			continue;
		if (xsd_vio_fabric_event(d->vio, &ev))
			continue;
		if (d->xcm)
			xsd_xcm_fabric_event(d->xcm, &ev);
	}
}

/* ---- shutdown: SHUTDOWN to every host, ServiceRecord deleted, bounded */

static void stop_poll(struct xs_loop *loop, struct xs_timer *t, void *arg)
{
	struct director *d = arg;

	bool xcm_idle = !d->xcm || xsd_xcm_idle(d->xcm);

	if ((xcm_idle && xsd_xds_idle(d->xds)) || xs_loop_now(loop) >= d->stop_deadline) {
		if (!xcm_idle || !xsd_xds_idle(d->xds))
			XS_WARN(COMP, "shutdown bound of %d ms reached; stopping anyway",
				SHUTDOWN_BOUND_MS);
		xs_loop_stop(loop);
		return;
	}
	xs_timer_arm(t, 20, 0);
}

static void on_signal(struct xs_loop *loop, int signo, void *arg)
{
	struct director *d = arg;

	if (d->stopping) {
		XS_WARN(COMP, "second signal: stopping now");
		xs_loop_stop(loop);
		return;
	}
	d->stopping = true;
	XS_NOTICE(COMP, "%s: stopping (SHUTDOWN to hosts, ServiceRecord delete)",
		  strsignal(signo));
	if (d->xcm)
		xsd_xcm_shutdown(d->xcm);
	/* SRP_T_LOGOUT to every initiator, I/O in flight completed */
	xsd_stor_shutdown(d->stor);
	xsd_xds_shutdown(d->xds);
	d->stop_deadline = xs_loop_now(loop) + SHUTDOWN_BOUND_MS;
	xs_timer_arm(d->stop_timer, 0, 0);
}

static void raise_nofile(void)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

int main(int argc, char **argv)
{
	const char *spec = "soft", *port_name = "director", *state_dir = "/var/lib/xsigo";
	const char *ctl_path = "/run/xsigo/director.sock", *ctl_group = NULL, *debug = NULL;
	char name[64] = "", dbpath[4096];
	struct xsd_ctl_server_opts so = { 0 };
	struct xs_fabric_opts fo = { .size = sizeof(fo) };
	struct xsd_xcm_opts xo = { 0 };
	struct xsd_vio_opts vo = { 0 };
	struct director d = { 0 };
	struct xsd_err err;
	bool foreground = false;
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "F:fd:h", long_opts, NULL)) != -1) {
		switch (c) {
		case 'F': spec = optarg; break;
		case 'P': port_name = optarg; break;
		case 'S': state_dir = optarg; break;
		case 'C': ctl_path = optarg; break;
		case 'G': ctl_group = optarg; break;
		case 'N': snprintf(name, sizeof(name), "%s", optarg); break;
		case 'f': foreground = true; break;
		case 'd': debug = optarg; break;
		case 'W': xo.push_wait_ms = atoi(optarg); break;
		case 'U':
			if (vo.n_uplinks == XSD_VIO_MAX_UPLINKS || !strchr(optarg, '=')) {
				fprintf(stderr, "xsdirectord: --uplink '%s': give NAME=IF (at most %d)\n",
					optarg, XSD_VIO_MAX_UPLINKS);
				return 2;
			}
			vo.uplinks[vo.n_uplinks++] = optarg;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "xsdirectord: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (!name[0] && gethostname(name, sizeof(name) - 1) < 0)
		snprintf(name, sizeof(name), "xsdirectord");
	if (!foreground && daemon(0, 0) < 0) {
		perror("xsdirectord: daemon");
		return 1;
	}
	xs_log_open("xsdirectord", foreground ? XS_LOG_STDERR : XS_LOG_SYSLOG, XS_LOG_INFO);
	if (debug)
		xs_log_set_debug(debug);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();

	if (mkdir(state_dir, 0750) < 0 && errno != EEXIST) {
		XS_ERR(COMP, "cannot create state directory %s: %s", state_dir, strerror(errno));
		return 1;
	}
	snprintf(dbpath, sizeof(dbpath), "%s/director.db", state_dir);
	d.store = xsd_store_open(dbpath, &err);
	if (!d.store) {
		XS_ERR(COMP, "%s", err.msg);
		return 1;
	}
	d.loop = xs_loop_new();
	if (!d.loop)
		goto close_store;
	d.stop_timer = xs_timer_new(d.loop, stop_poll, &d);
	if (!d.stop_timer || xs_loop_add_signal(d.loop, SIGTERM, on_signal, &d) < 0 ||
	    xs_loop_add_signal(d.loop, SIGINT, on_signal, &d) < 0)
		goto free_loop;
	fo.port_name = port_name;
	d.fabric = xs_fabric_open(spec, &fo);
	if (!d.fabric) {
		XS_ERR(COMP, "cannot open fabric '%s': %s", spec, strerror(errno));
		goto free_loop;
	}
	if (xs_fabric_query_port(d.fabric, &d.port) < 0) {
		XS_ERR(COMP, "cannot query the fabric port");
		goto close_fabric;
	}
	if (xs_loop_add_fd(d.loop, xs_fabric_event_fd(d.fabric), XS_IO_IN, fabric_cb, &d) < 0)
		goto close_fabric;
	d.xds = xsd_xds_new(d.loop, d.fabric, &d.port, NULL);
	if (!d.xds)
		goto del_fabric_fd;
	xo.chassis_name = name;
	d.xcm = xsd_xcm_new(d.loop, d.fabric, &d.port, d.store, &xo);
	if (!d.xcm && errno == EOPNOTSUPP) {
		XS_WARN(COMP, "fabric '%s' has no connection manager: serving discovery (XDS) "
			"only, no XSMP sessions", xs_fabric_backend(d.fabric));
	} else if (!d.xcm) {
		goto free_xds;
	}
	if (d.xcm) {
		d.vio = xsd_vio_new(d.loop, d.fabric, d.store, &vo);
		if (!d.vio) {
			XS_ERR(COMP, "vNIC I/O module: %s", strerror(errno));
			goto free_xcm;
		}
		d.stor = xsd_stor_new(d.loop, d.fabric, d.store);
		if (!d.stor) {
			XS_ERR(COMP, "storage module: %s", strerror(errno));
			goto free_vio;
		}
	}
	d.ctl.store = d.store;
	d.ctl.hooks = &director_hooks;
	d.ctl.hooks_arg = &d;
	so.path = ctl_path;
	so.group = ctl_group;
	so.mode = 0660;
	d.ctl_srv = xsd_ctl_server_new(d.loop, &d.ctl, &so);
	if (!d.ctl_srv)
		goto free_stor;
	XS_NOTICE(COMP, "ready: %s port '%s' LID %u GUID 0x%016llx, store %s (schema %d), control %s",
		  xs_fabric_backend(d.fabric), d.port.port_name, d.port.lid,
		  (unsigned long long)d.port.port_guid, dbpath, xsd_store_schema_version(d.store),
		  ctl_path);
	rc = xs_loop_run(d.loop) < 0 ? 1 : 0;
	XS_NOTICE(COMP, "stopped");

	xsd_ctl_server_free(d.ctl_srv);
free_stor:
	xsd_stor_free(d.stor);
free_vio:
	xsd_vio_free(d.vio);
free_xcm:
	xsd_xcm_free(d.xcm);
free_xds:
	xsd_xds_free(d.xds);
del_fabric_fd:
	xs_loop_del_fd(d.loop, xs_fabric_event_fd(d.fabric));
close_fabric:
	xs_fabric_close(d.fabric);
free_loop:
	xs_timer_free(d.stop_timer);
	xs_loop_free(d.loop);
close_store:
	xsd_store_close(d.store);
	return rc;
}
