/* SPDX-License-Identifier: MIT */
/*
 * xsd-srpt: a standalone SRP target on file LUNs - the director's SRP
 * target (xsd_srpt) and SCSI emulation (xsd_scsi) without the control plane,
 * for tests and labs. LUNs and masks come from a configuration file that
 * SIGHUP re-reads (LUNs added and removed, masks replaced; initiators get an
 * SRP_AER_REQ). See docs/man/xsd-srpt.8.
 *
 * Configuration lines ('#' starts a comment):
 *   lun <id> <path> [ro] [direct] [size=<bytes>]   size= creates the file
 * where <path> may also name another back end:
 *   ram                          memory (size= required), for tests
 *   iscsi://host[:port]/iqn/lun  an iSCSI LUN through libiscsi (pass-through)
 *   sg:/dev/sgN | sg:/dev/sdX    a SCSI device through SG_IO (pass-through)
 *   mask <wwpn> <id>[,<id>...] | none
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xscore/common.h>
#include <xscore/evloop.h>
#include <xscore/fabric.h>
#include <xscore/log.h>

#include "scsi/scsi.h"
#include "srpt/srpt.h"

#define COMP "xsd-srpt"
#define MAX_CONF_LUNS 256

struct conf_lun {
	uint16_t id;
	char path[256];
	bool ro;
	bool direct;
	uint64_t size;
};

struct conf_mask {
	uint64_t wwpn;
	uint16_t ids[64];
	unsigned int n;
};

struct conf {
	struct conf_lun luns[MAX_CONF_LUNS];
	unsigned int n_luns;
	struct conf_mask masks[32];
	unsigned int n_masks;
};

struct app {
	struct xs_loop *loop;
	struct xs_fabric *f;
	struct xsd_scsi_target *t;
	struct xsd_srpt *srpt;
	const char *conf_path;
	struct conf cur;
};

static int parse_conf(const char *path, struct conf *c)
{
	FILE *fp = fopen(path, "r");
	char line[512];
	int lineno = 0;

	if (!fp) {
		XS_ERR(COMP, "cannot open %s: %s", path, strerror(errno));
		return -errno;
	}
	memset(c, 0, sizeof(*c));
	while (fgets(line, sizeof(line), fp)) {
		char *save = NULL, *tok, *hash = strchr(line, '#');

		lineno++;
		if (hash)
			*hash = 0;
		tok = strtok_r(line, " \t\r\n", &save);
		if (!tok)
			continue;
		if (!strcmp(tok, "lun")) {
			struct conf_lun *l;
			char *id = strtok_r(NULL, " \t\r\n", &save);
			char *p = strtok_r(NULL, " \t\r\n", &save);
			char *end;
			unsigned long v;

			if (!id || !p || c->n_luns == MAX_CONF_LUNS)
				goto bad;
			v = strtoul(id, &end, 0);
			if (*end || v > XSD_SCSI_MAX_LUN_ID || strlen(p) >= sizeof(l->path))
				goto bad;
			l = &c->luns[c->n_luns++];
			l->id = (uint16_t)v;
			snprintf(l->path, sizeof(l->path), "%s", p);
			while ((tok = strtok_r(NULL, " \t\r\n", &save))) {
				if (!strcmp(tok, "ro"))
					l->ro = true;
				else if (!strcmp(tok, "direct"))
					l->direct = true;
				else if (!strncmp(tok, "size=", 5)) {
					l->size = strtoull(tok + 5, &end, 0);
					if (*end || !l->size)
						goto bad;
				} else {
					goto bad;
				}
			}
		} else if (!strcmp(tok, "mask")) {
			struct conf_mask *m;
			char *w = strtok_r(NULL, " \t\r\n", &save);
			char *ids = strtok_r(NULL, " \t\r\n", &save);
			char *end, *s2 = NULL;

			if (!w || !ids || c->n_masks == XS_ARRAY_SIZE(c->masks))
				goto bad;
			m = &c->masks[c->n_masks++];
			m->wwpn = strtoull(w, &end, 16);
			if (*end)
				goto bad;
			if (strcmp(ids, "none")) {
				for (tok = strtok_r(ids, ",", &s2); tok; tok = strtok_r(NULL, ",", &s2)) {
					unsigned long v = strtoul(tok, &end, 0);

					if (*end || v > XSD_SCSI_MAX_LUN_ID || m->n == XS_ARRAY_SIZE(m->ids))
						goto bad;
					m->ids[m->n++] = (uint16_t)v;
				}
			}
		} else {
			goto bad;
		}
	}
	fclose(fp);
	return 0;
bad:
	XS_ERR(COMP, "%s:%d: cannot parse this line", path, lineno);
	fclose(fp);
	return -EINVAL;
}

static int add_lun(struct app *a, const struct conf_lun *l)
{
	struct xsd_scsi_file_opts fo = { .size = sizeof(fo), .read_only = l->ro,
					 .direct = l->direct, .create = l->size != 0,
					 .create_size = l->size };
	struct xsd_scsi_lun_opts lo = { .size = sizeof(lo), .read_only = l->ro };
	struct xsd_scsi_bdev *be;
	char serial[33];
	int rc;

	snprintf(serial, sizeof(serial), "XSRPT%04u", l->id);
	lo.serial = serial;
	if (!strcmp(l->path, "ram")) {
		if (!l->size) {
			XS_ERR(COMP, "LUN %u: a ram LUN needs size=", l->id);
			return -EINVAL;
		}
		be = xsd_scsi_ram_new(l->size);
	} else if (!strncmp(l->path, "iscsi://", 8)) {
		struct xsd_scsi_iscsi_opts io = { .size = sizeof(io) };

		be = xsd_scsi_iscsi_open(l->path, &io);
	} else if (!strncmp(l->path, "sg:", 3)) {
		struct xsd_scsi_sg_opts go = { .size = sizeof(go), .read_only = l->ro };

		be = xsd_scsi_sg_open(l->path + 3, &go);
	} else {
		be = xsd_scsi_file_open(l->path, &fo);
	}
	if (!be) {
		XS_ERR(COMP, "LUN %u: cannot open %s: %s", l->id, l->path, strerror(errno));
		return -errno;
	}
	rc = xsd_scsi_target_add_lun(a->t, l->id, xsd_scsi_lun_new(be, &lo));
	if (rc < 0)
		XS_ERR(COMP, "LUN %u: %s", l->id, xs_strerror(rc));
	return rc;
}

static const struct conf_lun *find_lun(const struct conf *c, uint16_t id)
{
	for (unsigned int i = 0; i < c->n_luns; i++)
		if (c->luns[i].id == id)
			return &c->luns[i];
	return NULL;
}

/* Bring the target in line with a new configuration. */
static void apply(struct app *a, const struct conf *nc, bool first)
{
	bool changed = false;

	for (unsigned int i = 0; i < a->cur.n_luns; i++) {
		const struct conf_lun *o = &a->cur.luns[i];
		const struct conf_lun *n = find_lun(nc, o->id);

		if (!n || strcmp(n->path, o->path) || n->ro != o->ro) {
			xsd_scsi_target_remove_lun(a->t, o->id);
			XS_INFO(COMP, "LUN %u removed", o->id);
			changed = true;
		}
	}
	for (unsigned int i = 0; i < nc->n_luns; i++) {
		const struct conf_lun *n = &nc->luns[i];
		const struct conf_lun *o = find_lun(&a->cur, n->id);

		if (!first && o && !strcmp(n->path, o->path) && n->ro == o->ro)
			continue;
		if (add_lun(a, n) == 0) {
			XS_INFO(COMP, "LUN %u on %s", n->id, n->path);
			changed = true;
		}
	}
	/* Masks: drop the old ones, set the new. */
	for (unsigned int i = 0; i < a->cur.n_masks; i++)
		xsd_srpt_set_mask(a->srpt, a->cur.masks[i].wwpn, NULL, 0);
	for (unsigned int i = 0; i < nc->n_masks; i++)
		xsd_srpt_set_mask(a->srpt, nc->masks[i].wwpn, nc->masks[i].ids, nc->masks[i].n);
	a->cur = *nc;
	if (changed && !first)
		xsd_srpt_luns_changed(a->srpt);
}

static void on_hup(struct xs_loop *loop, int signo, void *arg)
{
	struct app *a = arg;
	struct conf *nc = malloc(sizeof(*nc));

	if (!nc)
		return;
	XS_INFO(COMP, "SIGHUP: re-reading %s", a->conf_path);
	if (parse_conf(a->conf_path, nc) == 0)
		apply(a, nc, false);
	free(nc);
}

static void on_term(struct xs_loop *loop, int signo, void *arg)
{
	XS_INFO(COMP, "signal %d: stopping", signo);
	xs_loop_stop(loop);
}

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: xsd-srpt -c CONFIG [-F FABRIC] [-p PORT-NAME] [-s SERVICE-ID]\n"
		"                [-q CREDITS] [-m MAX-IU] [-H] [-d COMPONENTS]\n"
		"  -c CONFIG      LUNs and masks (lun ID PATH [ro] [direct] [size=N];\n"
		"                 mask WWPN ID,ID,...|none); SIGHUP re-reads it\n"
		"  -F FABRIC      fabric spec (default \"soft\")\n"
		"  -p PORT-NAME   soft fabric port name (default xsd-srpt)\n"
		"  -s SERVICE-ID  default 0x%016" PRIx64 "\n"
		"  -q CREDITS     request limit per channel (default %u)\n"
		"  -m MAX-IU      largest initiator IU accepted (default %u)\n"
		"  -H             hide LUNs from initiators without a mask line\n"
		"  -d COMPONENTS  debug log for these components (\"all\")\n",
		XSD_SRPT_DEFAULT_SERVICE_ID, XSD_SRPT_DEFAULT_REQ_LIM, XSD_SRPT_DEFAULT_MAX_IU);
}

int main(int argc, char **argv)
{
	struct xsd_srpt_opts so = { .size = sizeof(so), .own_fabric_events = true,
				    .default_visible = true };
	struct xs_fabric_opts fo = { .size = sizeof(fo), .port_name = "xsd-srpt" };
	const char *spec = "soft";
	struct app a = { 0 };
	struct conf *nc;
	int opt, rc = 1;

	xs_log_open("xsd-srpt", XS_LOG_STDERR, XS_LOG_INFO);
	while ((opt = getopt(argc, argv, "c:F:p:s:q:m:Hd:h")) != -1) {
		switch (opt) {
		case 'c': a.conf_path = optarg; break;
		case 'F': spec = optarg; break;
		case 'p': fo.port_name = optarg; break;
		case 's': so.service_id = strtoull(optarg, NULL, 0); break;
		case 'q': so.req_lim = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'm': so.max_it_iu_len = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'H': so.default_visible = false; break;
		case 'd': xs_log_set_debug(optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!a.conf_path) {
		usage(stderr);
		return 2;
	}
	nc = calloc(1, sizeof(*nc));
	if (!nc || parse_conf(a.conf_path, nc) < 0)
		return 1;
	/* Block the signals the loop handles before any thread exists (the
	 * fabric's progress thread inherits the mask), so they reach the
	 * loop's signalfd and not a default action in another thread. */
	{
		sigset_t ss;

		sigemptyset(&ss);
		sigaddset(&ss, SIGHUP);
		sigaddset(&ss, SIGTERM);
		sigaddset(&ss, SIGINT);
		pthread_sigmask(SIG_BLOCK, &ss, NULL);
	}
	a.loop = xs_loop_new();
	if (!a.loop)
		return 1;
	a.f = xs_fabric_open(spec, &fo);
	if (!a.f) {
		XS_ERR(COMP, "cannot open fabric %s: %s", spec, strerror(errno));
		goto out_loop;
	}
	a.t = xsd_scsi_target_new();
	if (!a.t)
		goto out_fabric;
	a.srpt = xsd_srpt_new(a.f, a.loop, a.t, &so);
	if (!a.srpt)
		goto out_target;
	apply(&a, nc, true);
	xs_loop_add_signal(a.loop, SIGHUP, on_hup, &a);
	xs_loop_add_signal(a.loop, SIGTERM, on_term, &a);
	xs_loop_add_signal(a.loop, SIGINT, on_term, &a);
	XS_INFO(COMP, "ready: %u LUN(s)", a.cur.n_luns);
	rc = xs_loop_run(a.loop) < 0 ? 1 : 0;
	{
		struct xsd_srpt_stats st;

		xsd_srpt_get_stats(a.srpt, &st);
		XS_INFO(COMP, "totals: %" PRIu64 " logins, %" PRIu64 " commands, %" PRIu64
			" responses, %" PRIu64 " aborted, %" PRIu64 " RDMA errors, %" PRIu64
			" protocol errors, peak outstanding %u", st.logins, st.commands,
			st.responses, st.aborted, st.rdma_errors, st.protocol_errors,
			st.peak_outstanding);
	}
	xsd_srpt_free(a.srpt);
out_target:
	xsd_scsi_target_free(a.t);
out_fabric:
	xs_fabric_close(a.f);
out_loop:
	xs_loop_free(a.loop);
	free(nc);
	return rc;
}
