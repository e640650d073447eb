/* SPDX-License-Identifier: MIT */
/*
 * storage.c - the director's storage module (storage.h): the store's
 * targets served as SRP targets, reconciled with the store on every change.
 *
 * State kept here is only what is live: per target its xsd_scsi target,
 * its xsd_srpt, the LUNs as opened (or the reason they did not open) and
 * the masks as last given to the SRP target. xsd_stor_sync() compares that
 * with the store and changes only what differs, so a sync that finds
 * nothing new sends nothing to the initiators.
 *
 * Back ends are opened on a thread of their own (an iSCSI login or a
 * device that does not answer can take long, and the event loop also runs
 * the XCM and the vNIC data path): the thread opens the back end and makes
 * the LUN, the loop adds it to the SCSI target when the thread is done
 * (eventfd). Until then the LUN is "opening"; one that failed is tried
 * again every RETRY_MS.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <xscore/common.h>
#include <xscore/log.h>

#include "scsi/scsi.h"
#include "srpt/srpt.h"
#include "storage.h"

#define COMP "storage"
#define REASON_LEN 400
#define RETRY_MS 30000

struct open_job;

/* Shared by the module and its open threads, and freed by whichever lets
 * go last: a module freed while a thread still opens does not wait for it
 * (dead: the thread frees what it made). */
struct opener {
	pthread_mutex_t lock;
	int refs;
	int efd;                    /* readable: jobs in done */
	struct open_job *done;
	bool dead;
};

/* One back end to open and make a LUN of, on its own thread. */
struct open_job {
	struct open_job *next;
	struct opener *op;
	/* in (a copy: the store is the loop's) */
	struct xsd_storage s;
	char target[XSD_TARGET_NAME_MAX + 1];
	uint64_t wwpn;
	uint16_t id;
	bool read_only;
	/* out */
	struct xsd_scsi_lun *lun;   /* NULL: failed, see reason */
	uint64_t capacity;
	char reason[REASON_LEN];
};

/* A LUN of a served target, as configured and as opened. */
struct slun {
	uint16_t id;
	char storage[XSD_NAME_MAX + 1];
	bool read_only;
	bool present;               /* in the SCSI target */
	struct open_job *job;       /* being opened (identity only) */
	char reason[REASON_LEN];    /* why not, when !present */
	uint64_t capacity;          /* bytes, when present */
};

/* The LUN ids one initiator WWPN may see, as given to the SRP target. */
struct smask {
	uint64_t wwpn;
	char vhba[XSD_DEV_NAME_MAX + 1];
	uint16_t *ids;
	unsigned int n;
};

struct stgt {
	struct stgt *next;
	char name[XSD_TARGET_NAME_MAX + 1];
	uint64_t wwpn;
	struct xsd_scsi_target *t;
	struct xsd_srpt *srpt;      /* NULL: not served, see reason */
	char reason[REASON_LEN];
	struct slun *luns;
	unsigned int n_luns;
	struct smask *masks;
	unsigned int n_masks;
	bool seen;                  /* sync: still in the store */
};

struct xsd_stor {
	struct xs_loop *loop;
	struct xs_fabric *fabric;
	struct xsd_store *store;
	struct stgt *targets;
	struct opener *op;
	struct xs_timer *retry;
	bool stopped;
	uint64_t syncs, open_failures;
};

/* ------------------------------------------------------------ helpers */

static struct stgt *tgt_find(struct xsd_stor *m, const char *name)
{
	for (struct stgt *g = m->targets; g; g = g->next)
		if (!strcmp(g->name, name))
			return g;
	return NULL;
}

static struct slun *lun_find(struct stgt *g, uint16_t id)
{
	for (unsigned int i = 0; i < g->n_luns; i++)
		if (g->luns[i].id == id)
			return &g->luns[i];
	return NULL;
}

static void tgt_free(struct stgt *g)
{
	if (g->srpt) {
		XS_INFO(COMP, "target %s: stops serving (initiators logged out)", g->name);
		xsd_srpt_free(g->srpt);
	}
	if (g->t)
		xsd_scsi_target_free(g->t);
	for (unsigned int i = 0; i < g->n_masks; i++)
		free(g->masks[i].ids);
	free(g->masks);
	free(g->luns);
	free(g);
}

/* Start g's SRP target on service ID = its WWPN; on failure g->reason
 * says why (logged when the reason is new). */
static int tgt_listen(struct xsd_stor *m, struct stgt *g)
{
	struct xsd_srpt_opts so = {
		.size = sizeof(so),
		.service_id = g->wwpn,
		.default_visible = false, /* only the vHBAs naming the target see LUNs */
	};
	char w[24], reason[REASON_LEN];

	xsd_format_wwn(g->wwpn, w);
	g->srpt = xsd_srpt_new(m->fabric, m->loop, g->t, &so);
	if (!g->srpt) {
		snprintf(reason, sizeof(reason), "cannot listen on service ID 0x%016" PRIx64 ": %s",
			 g->wwpn, errno == EADDRINUSE ? "taken by another service" : strerror(errno));
		if (strcmp(reason, g->reason))
			XS_ERR(COMP, "target %s (WWPN %s): %s", g->name, w, reason);
		snprintf(g->reason, sizeof(g->reason), "%s", reason);
		return -EIO;
	}
	g->reason[0] = 0;
	XS_INFO(COMP, "target %s: SRP target on service ID 0x%016" PRIx64 " (WWPN %s)", g->name,
		g->wwpn, w);
	return 0;
}

static struct stgt *tgt_new(struct xsd_stor *m, const struct xsd_target *row)
{
	struct stgt *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	snprintf(g->name, sizeof(g->name), "%s", row->name);
	g->wwpn = row->wwpn;
	g->t = xsd_scsi_target_new();
	if (!g->t) {
		snprintf(g->reason, sizeof(g->reason), "cannot make the SCSI target: %s",
			 strerror(errno));
		XS_ERR(COMP, "target %s: %s", g->name, g->reason);
		return g;
	}
	tgt_listen(m, g);
	return g;
}

static void sync_masks(struct xsd_stor *m, struct stgt *g);

static void opener_put(struct opener *op)
{
	bool last;

	pthread_mutex_lock(&op->lock);
	last = --op->refs == 0;
	pthread_mutex_unlock(&op->lock);
	if (!last)
		return;
	while (op->done) {
		struct open_job *j = op->done;

		op->done = j->next;
		if (j->lun)
			xsd_scsi_lun_free(j->lun);
		free(j);
	}
	close(op->efd);
	pthread_mutex_destroy(&op->lock);
	free(op);
}

/* The open thread: back end, then the LUN on it. */
static void *open_main(void *arg)
{
	struct open_job *j = arg;
	struct opener *op = j->op;
	struct xsd_scsi_lun_opts lo = { .size = sizeof(lo), .read_only = j->read_only };
	const struct xsd_storage *s = &j->s;
	struct xsd_scsi_bdev *be = NULL;
	const char *type = xsd_storage_type_name(s->type);
	char serial[33];
	uint64_t one = 1;

	switch (s->type) {
	case XSD_STORAGE_FILE:
	case XSD_STORAGE_BLOCK: {
		struct xsd_scsi_file_opts fo = { .size = sizeof(fo), .direct = s->direct,
						 .read_only = j->read_only };

		be = xsd_scsi_file_open(s->location, &fo);
		break;
	}
	case XSD_STORAGE_SG: {
		struct xsd_scsi_sg_opts go = { .size = sizeof(go), .read_only = j->read_only };

		be = xsd_scsi_sg_open(s->location, &go);
		break;
	}
	case XSD_STORAGE_ISCSI: {
		struct xsd_scsi_iscsi_opts io = { .size = sizeof(io) };

		be = xsd_scsi_iscsi_open(s->location, &io);
		break;
	}
	case XSD_STORAGE_RAM:
		be = xsd_scsi_ram_new(s->size);
		break;
	default:
		errno = EINVAL;
		break;
	}
	if (!be) {
		snprintf(j->reason, sizeof(j->reason), "cannot open %s%s%.150s: %s",
			 type ? type : "?", s->location[0] ? " " : "", s->location, strerror(errno));
	} else {
		/* stable across restarts: the target's WWPN and the LUN id */
		snprintf(serial, sizeof(serial), "%016" PRIx64 "L%u", j->wwpn, j->id);
		lo.serial = serial;
		j->lun = xsd_scsi_lun_new(be, &lo);
		if (!j->lun)
			snprintf(j->reason, sizeof(j->reason), "%s: unusable as a LUN: %s",
				 s->name, strerror(errno));
		else
			j->capacity = xsd_scsi_lun_blocks(j->lun) *
				      xsd_scsi_lun_block_size(j->lun);
	}
	pthread_mutex_lock(&op->lock);
	if (op->dead) {
		if (j->lun)
			xsd_scsi_lun_free(j->lun);
		free(j);
	} else {
		j->next = op->done;
		op->done = j;
		if (write(op->efd, &one, sizeof(one)) < 0)
			XS_WARN(COMP, "open of %s done, loop not told: %s", s->name, strerror(errno));
	}
	pthread_mutex_unlock(&op->lock);
	opener_put(op);
	return NULL;
}

static void lun_failed(struct xsd_stor *m, struct stgt *g, struct slun *l, const char *reason)
{
	m->open_failures++;
	/* logged when the reason is new, not at every retry */
	if (strcmp(l->reason, reason))
		XS_ERR(COMP, "target %s: LUN %u on storage %s not served: %s", g->name, l->id,
		       l->storage, reason);
	snprintf(l->reason, sizeof(l->reason), "%s", reason);
}

/* Start opening l's back end (l->job set), or fail at once. */
static void lun_open(struct xsd_stor *m, struct stgt *g, struct slun *l)
{
	struct open_job *j = calloc(1, sizeof(*j));
	struct xsd_err err;
	pthread_attr_t at;
	pthread_t th;
	int rc;

	if (!j) {
		lun_failed(m, g, l, "out of memory");
		return;
	}
	rc = xsd_store_get(m->store, XSD_OBJ_STORAGE, l->storage, &j->s, &err);
	if (rc) {
		lun_failed(m, g, l, err.msg);
		free(j);
		return;
	}
	j->op = m->op;
	snprintf(j->target, sizeof(j->target), "%s", g->name);
	j->wwpn = g->wwpn;
	j->id = l->id;
	j->read_only = l->read_only;
	pthread_mutex_lock(&m->op->lock);
	m->op->refs++;
	pthread_mutex_unlock(&m->op->lock);
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&th, &at, open_main, j);
	pthread_attr_destroy(&at);
	if (rc) {
		opener_put(m->op);
		free(j);
		lun_failed(m, g, l, "cannot start a thread to open it");
		return;
	}
	l->job = j;
}

/* The loop's side of a finished open: the LUN joins its target, unless
 * the configuration moved on meanwhile. */
static void open_done(struct xsd_stor *m, struct open_job *j)
{
	struct stgt *g, *owner = NULL;
	struct slun *l = NULL;
	int rc;

	for (g = m->targets; g && !l; g = g->next)
		for (unsigned int i = 0; i < g->n_luns && !l; i++)
			if (g->luns[i].job == j) {
				l = &g->luns[i];
				owner = g;
			}
	if (!l) {
		if (j->lun)
			xsd_scsi_lun_free(j->lun);
		return;
	}
	g = owner;
	l->job = NULL;
	if (!j->lun) {
		lun_failed(m, g, l, j->reason);
		return;
	}
	rc = xsd_scsi_target_add_lun(g->t, l->id, j->lun);
	if (rc < 0) {
		char reason[64];

		snprintf(reason, sizeof(reason), "cannot add LUN %u: %s", l->id, xs_strerror(rc));
		lun_failed(m, g, l, reason);
		return;
	}
	l->present = true;
	l->capacity = j->capacity;
	l->reason[0] = 0;
	XS_INFO(COMP, "target %s: LUN %u on storage %s (%s%s%s, %" PRIu64 " bytes%s)", g->name,
		l->id, l->storage, xsd_storage_type_name(j->s.type), j->s.location[0] ? " " : "",
		j->s.location, l->capacity, l->read_only ? ", read-only" : "");
	if (g->srpt)
		xsd_srpt_luns_changed(g->srpt);
}

static void on_open_done(struct xs_loop *loop, int fd, unsigned int events, void *arg)
{
	struct xsd_stor *m = arg;
	struct open_job *list, *j;
	uint64_t n;

	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		XS_WARN(COMP, "reading the open eventfd: %s", strerror(errno));
	pthread_mutex_lock(&m->op->lock);
	list = m->op->done;
	m->op->done = NULL;
	pthread_mutex_unlock(&m->op->lock);
	while ((j = list)) {
		list = j->next;
		open_done(m, j);
		free(j);
	}
}

/* Every RETRY_MS: LUNs whose back end did not open are tried again. */
static void on_retry(struct xs_loop *loop, struct xs_timer *t, void *arg)
{
	struct xsd_stor *m = arg;

	for (struct stgt *g = m->targets; g; g = g->next) {
		if (g->t && !g->srpt && tgt_listen(m, g) == 0) {
			/* the masks were never given to an SRP target: all anew */
			for (unsigned int i = 0; i < g->n_masks; i++)
				free(g->masks[i].ids);
			free(g->masks);
			g->masks = NULL;
			g->n_masks = 0;
			sync_masks(m, g);
		}
		for (unsigned int i = 0; g->t && i < g->n_luns; i++)
			if (!g->luns[i].present && !g->luns[i].job)
				lun_open(m, g, &g->luns[i]);
	}
}

/* ---------------------------------------------------------------- sync */

struct lun_list {
	struct xsd_lun *v;
	unsigned int n, cap;
};

static int collect_lun(const void *row, void *arg)
{
	struct lun_list *ll = arg;

	if (ll->n == ll->cap) {
		unsigned int cap = ll->cap ? ll->cap * 2 : 16;
		void *nv = realloc(ll->v, cap * sizeof(*ll->v));

		if (!nv)
			return -ENOMEM;
		ll->v = nv;
		ll->cap = cap;
	}
	ll->v[ll->n++] = *(const struct xsd_lun *)row;
	return 0;
}

/* LUNs: drop what the store no longer has (or has differently), open what
 * is new. Returns true when the set the initiators see changed. */
static bool sync_luns(struct xsd_stor *m, struct stgt *g)
{
	struct lun_list ll = { 0 };
	struct xsd_err err;
	bool changed = false;
	unsigned int i, j;

	if (xsd_store_each(m->store, XSD_OBJ_LUN, g->name, collect_lun, &ll, &err) < 0) {
		XS_ERR(COMP, "target %s: reading its LUNs: %s", g->name, err.msg);
		free(ll.v);
		return false;
	}
	for (i = 0; i < g->n_luns;) {
		struct slun *l = &g->luns[i];
		bool keep = false;

		for (j = 0; j < ll.n && !keep; j++)
			keep = ll.v[j].lun == l->id && !strcmp(ll.v[j].storage, l->storage) &&
			       ll.v[j].read_only == l->read_only;
		if (keep) {
			i++;
			continue;
		}
		if (l->present) {
			/* commands in flight complete; new ones see the LUN gone */
			xsd_scsi_target_remove_lun(g->t, l->id);
			XS_INFO(COMP, "target %s: LUN %u (storage %s) removed", g->name, l->id,
				l->storage);
			changed = true;
		}
		g->luns[i] = g->luns[--g->n_luns];
	}
	for (j = 0; j < ll.n; j++) {
		struct slun *l;

		if (lun_find(g, ll.v[j].lun))
			continue;
		l = realloc(g->luns, (g->n_luns + 1) * sizeof(*l));
		if (!l)
			break;
		g->luns = l;
		l = &g->luns[g->n_luns++];
		memset(l, 0, sizeof(*l));
		l->id = ll.v[j].lun;
		snprintf(l->storage, sizeof(l->storage), "%s", ll.v[j].storage);
		l->read_only = ll.v[j].read_only;
		if (!g->t) {
			snprintf(l->reason, sizeof(l->reason), "target %s is not served", g->name);
			continue;
		}
		lun_open(m, g, l); /* announced when it is open */
	}
	free(ll.v);
	return changed;
}

/* "0-3,7" (canonical, from the store) -> ids. */
static unsigned int parse_mask(const char *text, uint16_t *ids, unsigned int max)
{
	unsigned int n = 0;
	const char *p = text;

	while (*p && n < max) {
		char *end;
		unsigned long a = strtoul(p, &end, 10), b = a;

		if (*end == '-')
			b = strtoul(end + 1, &end, 10);
		for (unsigned long v = a; v <= b && v <= XSD_LUN_MAX && n < max; v++)
			ids[n++] = (uint16_t)v;
		p = *end == ',' ? end + 1 : end;
		if (p == end && *p)
			break;
	}
	return n;
}

struct mask_want {
	struct stgt *g;
	struct smask *v;
	unsigned int n;
	const uint16_t *all;   /* every configured LUN id of g */
	unsigned int n_all;
};

static bool names_target(const char *list, const char *target)
{
	char t[XSD_TARGETS_TEXT], *save = NULL;

	snprintf(t, sizeof(t), "%s", list);
	for (char *n = strtok_r(t, ",", &save); n; n = strtok_r(NULL, ",", &save))
		if (!strcmp(n, target))
			return true;
	return false;
}

static int want_mask(const struct xsd_vhba *v, void *arg)
{
	struct mask_want *w = arg;
	struct smask *mk, *nv;

	if (!names_target(v->targets, w->g->name))
		return 0;
	nv = realloc(w->v, (w->n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	w->v = nv;
	mk = &w->v[w->n++];
	memset(mk, 0, sizeof(*mk));
	mk->wwpn = v->wwpn;
	snprintf(mk->vhba, sizeof(mk->vhba), "%s", v->name);
	mk->ids = calloc(XSD_LUN_MAX + 1, sizeof(uint16_t));
	if (!mk->ids)
		return -ENOMEM;
	if (v->lun_mask[0]) {
		mk->n = parse_mask(v->lun_mask, mk->ids, XSD_LUN_MAX + 1);
	} else {
		memcpy(mk->ids, w->all, w->n_all * sizeof(uint16_t));
		mk->n = w->n_all;
	}
	return 0;
}

static bool mask_equal(const struct smask *a, const struct smask *b)
{
	return a->n == b->n && !memcmp(a->ids, b->ids, a->n * sizeof(uint16_t));
}

/* Masks: one per vHBA that names g; an initiator WWPN without one sees
 * nothing (default_visible off). Only differences reach the SRP target. */
static void sync_masks(struct xsd_stor *m, struct stgt *g)
{
	uint16_t *all = calloc(g->n_luns + 1, sizeof(*all));
	struct mask_want w = { .g = g, .all = all };
	struct xsd_err err;
	unsigned int i, j;

	if (!all)
		return;
	for (i = 0; i < g->n_luns; i++)
		all[w.n_all++] = g->luns[i].id;
	if (xsd_store_vhba_each(m->store, NULL, want_mask, &w, &err) < 0) {
		XS_ERR(COMP, "target %s: reading the vHBAs: %s", g->name, err.msg);
		goto free_want;
	}
	for (i = 0; i < g->n_masks; i++) {
		bool still = false;

		for (j = 0; j < w.n && !still; j++)
			still = w.v[j].wwpn == g->masks[i].wwpn;
		if (!still && g->srpt)
			xsd_srpt_set_mask(g->srpt, g->masks[i].wwpn, NULL, 0);
	}
	for (j = 0; j < w.n; j++) {
		const struct smask *old = NULL;

		for (i = 0; i < g->n_masks && !old; i++)
			if (g->masks[i].wwpn == w.v[j].wwpn)
				old = &g->masks[i];
		if (old && mask_equal(old, &w.v[j]))
			continue;
		if (g->srpt && xsd_srpt_set_mask(g->srpt, w.v[j].wwpn, w.v[j].ids, w.v[j].n) < 0)
			XS_ERR(COMP, "target %s: mask of vhba %s not set", g->name, w.v[j].vhba);
		XS_DEBUG(COMP, "target %s: vhba %s sees %u LUN id(s)", g->name, w.v[j].vhba,
			 w.v[j].n);
	}
	/* the wanted set becomes the live one */
	for (i = 0; i < g->n_masks; i++)
		free(g->masks[i].ids);
	free(g->masks);
	g->masks = w.v;
	g->n_masks = w.n;
	w.v = NULL;
	w.n = 0;
free_want:
	for (j = 0; j < w.n; j++)
		free(w.v[j].ids);
	free(w.v);
	free(all);
}

static int mark_target(const void *row, void *arg)
{
	struct xsd_stor *m = arg;
	const struct xsd_target *t = row;
	struct stgt *g = tgt_find(m, t->name);

	if (g && g->wwpn != t->wwpn)
		g = NULL; /* a new target of the same name: the old one goes */
	if (!g) {
		g = tgt_new(m, t);
		if (!g)
			return -ENOMEM;
		g->next = m->targets;
		m->targets = g;
	}
	g->seen = true;
	return 0;
}

void xsd_stor_sync(struct xsd_stor *m)
{
	struct stgt **pp, *g;
	struct xsd_err err;

	if (!m || m->stopped)
		return;
	m->syncs++;
	for (g = m->targets; g; g = g->next)
		g->seen = false;
	if (xsd_store_each(m->store, XSD_OBJ_TARGET, NULL, mark_target, m, &err) < 0) {
		XS_ERR(COMP, "reading the targets: %s", err.msg);
		return;
	}
	for (pp = &m->targets; (g = *pp);) {
		if (g->seen) {
			pp = &g->next;
			continue;
		}
		*pp = g->next;
		tgt_free(g);
	}
	for (g = m->targets; g; g = g->next) {
		bool changed = sync_luns(m, g);

		sync_masks(m, g);
		if (changed && g->srpt)
			xsd_srpt_luns_changed(g->srpt);
	}
}

/* ------------------------------------------------------------- the API */

struct xsd_stor *xsd_stor_new(struct xs_loop *loop, struct xs_fabric *fabric,
			      struct xsd_store *store)
{
	struct xsd_stor *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->loop = loop;
	m->fabric = fabric;
	m->store = store;
	m->op = calloc(1, sizeof(*m->op));
	if (!m->op)
		goto free_m;
	pthread_mutex_init(&m->op->lock, NULL);
	m->op->refs = 1;
	m->op->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (m->op->efd < 0)
		goto free_op;
	if (xs_loop_add_fd(loop, m->op->efd, XS_IO_IN, on_open_done, m) < 0)
		goto close_efd;
	m->retry = xs_timer_new(loop, on_retry, m);
	if (!m->retry)
		goto del_efd;
	xs_timer_arm(m->retry, RETRY_MS, RETRY_MS);
	xsd_stor_sync(m);
	return m;
del_efd:
	xs_loop_del_fd(loop, m->op->efd);
close_efd:
	close(m->op->efd);
free_op:
	pthread_mutex_destroy(&m->op->lock);
	free(m->op);
free_m:
	free(m);
	errno = ENOMEM;
	return NULL;
}

void xsd_stor_shutdown(struct xsd_stor *m)
{
	if (!m)
		return;
	m->stopped = true;
	while (m->targets) {
		struct stgt *g = m->targets;

		m->targets = g->next;
		tgt_free(g);
	}
}

void xsd_stor_free(struct xsd_stor *m)
{
	if (!m)
		return;
	xsd_stor_shutdown(m);
	xs_timer_free(m->retry);
	xs_loop_del_fd(m->loop, m->op->efd);
	/* opens still running finish on their own and free what they made */
	pthread_mutex_lock(&m->op->lock);
	m->op->dead = true;
	pthread_mutex_unlock(&m->op->lock);
	opener_put(m->op);
	free(m);
}

int xsd_stor_fabric_event(struct xsd_stor *m, const struct xs_event *ev)
{
	if (!m)
		return 0;
	for (struct stgt *g = m->targets; g; g = g->next)
		if (g->srpt && xsd_srpt_handle_event(g->srpt, ev))
			return 1;
	return 0;
}

static json_t *lun_state(const struct stgt *g, const struct slun *l)
{
	char why[REASON_LEN + 64];

	if (l->job)
		return json_pack("{s:s, s:s}", "state", "opening", "reason", "");
	if (l->present && !g->srpt) {
		snprintf(why, sizeof(why), "target %s is not served: %s", g->name, g->reason);
		return json_pack("{s:s, s:s}", "state", "error", "reason", why);
	}
	if (l->present)
		return json_pack("{s:s, s:s, s:I}", "state", "online", "reason", "", "capacity",
				 (json_int_t)l->capacity);
	return json_pack("{s:s, s:s}", "state", "error", "reason",
			 l->reason[0] ? l->reason : (g->reason[0] ? g->reason : "not opened"));
}

/* The mask text of @mk: "0,1,7", "none" (empty mask). */
static void mask_text(const struct smask *mk, char *out, size_t cap)
{
	size_t off = 0;

	out[0] = 0;
	if (!mk->n) {
		snprintf(out, cap, "none");
		return;
	}
	for (unsigned int i = 0; i < mk->n && off < cap; i++)
		off += (size_t)snprintf(out + off, cap - off, "%s%u", i ? "," : "", mk->ids[i]);
}

/* The target's live SRP channels: who is logged in, since when, what it
 * has going. The vHBA is the configured one with that WWPN, if any. */
static json_t *channels_json(struct stgt *g)
{
	json_t *arr = json_array();
	struct xsd_srpt_channel *c = NULL;
	uint64_t now = xs_now_ms();
	int n;

	if (!arr || !g->srpt)
		return arr;
	n = xsd_srpt_list_channels(g->srpt, NULL, 0);
	if (n > 0)
		c = calloc((size_t)n, sizeof(*c));
	if (c)
		n = XS_MIN(n, xsd_srpt_list_channels(g->srpt, c, (unsigned int)n));
	for (int i = 0; c && i < n; i++) {
		const struct smask *mk = NULL;
		char w[24], pid[36], luns[256];

		for (unsigned int j = 0; j < g->n_masks && !mk; j++)
			if (g->masks[j].wwpn == c[i].wwpn)
				mk = &g->masks[j];
		if (mk)
			mask_text(mk, luns, sizeof(luns));
		else
			snprintf(luns, sizeof(luns), "none");
		xsd_format_wwn(c[i].wwpn, w);
		snprintf(pid, sizeof(pid), "%016" PRIx64 "%016" PRIx64,
			 xs_get64(c[i].initiator_port_id), xs_get64(c[i].initiator_port_id + 8));
		json_array_append_new(arr, json_pack(
			"{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "initiator", w,
			"port_id", pid, "vhba", mk ? mk->vhba : "", "luns", luns, "login_time",
			(json_int_t)c[i].login_time, "connected_s",
			(json_int_t)((now - c[i].login_ms) / 1000), "outstanding",
			(json_int_t)c[i].outstanding, "commands", (json_int_t)c[i].commands,
			"completed", (json_int_t)c[i].completed, "it_iu_len",
			(json_int_t)c[i].it_iu_len));
	}
	free(c);
	return arr;
}

json_t *xsd_stor_status_json(struct xsd_stor *m, enum xsd_obj type, const char *name)
{
	if (!m)
		return NULL;
	if (type == XSD_OBJ_STORAGE) {
		for (struct stgt *g = m->targets; g; g = g->next)
			for (unsigned int i = 0; i < g->n_luns; i++)
				if (!strcmp(g->luns[i].storage, name))
					return lun_state(g, &g->luns[i]);
		return json_pack("{s:s, s:s}", "state", "unused", "reason", "");
	}
	if (type == XSD_OBJ_TARGET) {
		struct stgt *g = tgt_find(m, name);
		struct xsd_srpt_stats st = { 0 };
		char sid[20];
		json_t *luns, *o;

		if (!g)
			return NULL;
		if (g->srpt)
			xsd_srpt_get_stats(g->srpt, &st);
		snprintf(sid, sizeof(sid), "0x%016" PRIx64, g->wwpn);
		luns = json_object();
		for (unsigned int i = 0; i < g->n_luns; i++)
			json_object_set_new(luns, g->luns[i].storage, lun_state(g, &g->luns[i]));
		o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:o, s:o}", "state",
			      g->srpt ? "serving" : "error", "reason", g->reason, "service_id", sid,
			      "logins", (json_int_t)st.channels, "logins_total",
			      (json_int_t)st.logins, "login_rejects", (json_int_t)st.login_rejects,
			      "commands", (json_int_t)st.commands, "aers", (json_int_t)st.aers,
			      "luns", luns, "channels", channels_json(g));
		return o;
	}
	return NULL;
}

json_t *xsd_stor_stats_json(struct xsd_stor *m)
{
	struct xsd_srpt_stats st;
	uint64_t logins = 0, channels = 0, commands = 0, targets = 0;

	if (!m)
		return json_object();
	for (struct stgt *g = m->targets; g; g = g->next) {
		targets++;
		if (!g->srpt)
			continue;
		xsd_srpt_get_stats(g->srpt, &st);
		logins += st.logins;
		channels += st.channels;
		commands += st.commands;
	}
	return json_pack("{s:I, s:I, s:I, s:I, s:I}", "srp_targets", (json_int_t)targets,
			 "srp_channels", (json_int_t)channels, "srp_logins", (json_int_t)logins,
			 "srp_commands", (json_int_t)commands, "storage_open_failures",
			 (json_int_t)m->open_failures);
}
