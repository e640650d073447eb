/* SPDX-License-Identifier: MIT */
/*
 * module.c - the vHBA ULP module: per vHBA, one SRP initiator and one FUSE
 * mount per target. See include/xsvhba/module.h.
 *
 * Target states (loop thread; read by the FUSE workers under m->lock):
 *   STARTING  initiator created, waiting for its first login + LUN scan
 *   READY     requests go to the initiator (within the throttle)
 *   DRAINING  new requests wait in the module; when the in-flight ones
 *             ended (or the link-down timeout + 5 s passed) the initiator
 *             is freed and next_op runs: RESTART (a new initiator with the
 *             current configuration), STOP (admin down)
 *   STOPPED   admin down: requests fail with EIO
 *   FAILED    the initiator could not be created; retried every 2 s
 * The tick (every tick_ms) moves targets along, times out waiting requests
 * and reports the vHBA's OPER_UP / OPER_DOWN to the director.
 *
 * Locks: m->lock guards the queues, the counters, t->v, t->st and the LUN
 * cache. Nothing that takes the FUSE side's locks (xsvhba_fs_io_done) is
 * called under it, and xsvhba_free() is called without it.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xscore/common.h>
#include <xscore/log.h>
#include <xscore/xsmp_ulp.h>

#include "xsvhba/module.h"
#ifdef XS_HAVE_NBD
#include "xsvhba/nbd.h"
#endif

#define MLOG "xsvhba-mod"
#define DRAIN_SLACK_MS 5000
#define FAILED_RETRY_MS 2000

#define NBD_REAP_WAIT_MS 30000

enum tstate { T_STARTING, T_READY, T_DRAINING, T_STOPPED, T_FAILED };
enum tnext { N_NONE, N_RESTART, N_STOP };

struct vhba;
struct vtgt;

/* One LUN of a target as /dev/nbdN (--vhba-nbd). The list is the loop
 * thread's; t is cleared under m->lock when the export is dropped, after
 * which its server's requests fail with EIO. */
struct vexp {
	struct xsvhba_mod *m;
	struct vexp *next;
	struct vtgt *t;
	struct xsvhba_lun lun;
	struct xsvhba_nbd *n;         /* NULL: the export failed (not retried) */
	int index;                    /* N of /dev/nbdN, -1 when failed */
};

/* A request of an nbd server: it goes through the target's queue like a
 * FUSE request and ends with the server's callback. */
struct nbd_req {
	struct xsvhba_fs_io io;
	xsvhba_io_cb cb;
	void *arg;
};

struct vtgt {
	struct vhba *vh;
	struct vtgt *next;
	char name[XS_VHBA_TARGET_NAME_LEN + 1];
	uint64_t wwpn;
	char mnt[288];
	struct xsvhba *v;
	struct xsvhba_fs *fs;
	enum tstate st;
	enum tnext next_op;
	uint64_t st_since_ms;
	bool connected;
	unsigned int inflight;
	struct xsvhba_fs_io *wq_head, *wq_tail;
	unsigned int n_wait;
	struct xsvhba_lun *luns;      /* cache: what the files show */
	unsigned int n_luns;
	uint64_t restarts;
	uint64_t queue_timeouts;
	struct xsvhba_stats acc;      /* counters of initiators already freed */
	char last_error[96];
	struct vexp *exps;            /* its LUNs as /dev/nbdN */
	struct xsvhba_lun *nbd_scratch; /* exp_sync's copy of the LUNs */
};

struct vhba {
	struct xsvhba_mod *m;
	struct vhba *next;
	struct xs_ulp_dev *dev;
	struct xs_vhba_msg cfg;       /* our copy of the configuration */
	char dir[240];
	struct vtgt *tgts;
	unsigned int inflight;        /* across targets: the execution throttle */
	bool oper_up;
	bool reported;                /* oper_up was sent at least once */
};

struct xsvhba_mod {
	struct xs_host *host;
	struct xs_loop *loop;
	struct xsvhba_mod_opts o;
	char spec[128];
	char port_name[96];
	char root[200];
	struct xs_fabric *fabric;     /* opened at the first INSTALL */
	struct xs_timer *tick;
	pthread_mutex_t lock;
	struct vhba *vhbas;
	bool nbd;                     /* export LUNs as /dev/nbdN (loop thread) */
	struct vexp *reap_head;       /* dropped exports to disconnect (m->lock) */
	bool reap_stop;
	pthread_cond_t reap_cond;
	pthread_t reaper;
	bool reaper_running;
};

static const char *tstate_str(const struct vtgt *t)
{
	switch (t->st) {
	case T_STARTING: return "starting";
	case T_READY: return t->connected ? "up" : "down";
	case T_DRAINING: return "draining";
	case T_STOPPED: return "stopped";
	case T_FAILED: return "failed";
	}
	return "?";
}

static bool admin_up(const struct vhba *vh)
{
	return vh->cfg.admin_state == XS_ADMIN_UP;
}

static void stats_add(struct xsvhba_stats *a, const struct xsvhba_stats *b)
{
	a->commands += b->commands;
	a->completed += b->completed;
	a->errors += b->errors;
	a->retries += b->retries;
	a->logins += b->logins;
	a->reconnects += b->reconnects;
	a->redriven += b->redriven;
	a->timed_out += b->timed_out;
	a->aers += b->aers;
	a->rescans += b->rescans;
	if (b->peak_outstanding > a->peak_outstanding)
		a->peak_outstanding = b->peak_outstanding;
}

/* ------------------------------------------------------------ the queue */

/* m->lock held: start what the throttle and the target's state allow;
 * requests the initiator refused are moved to *fail (ended by the caller
 * after unlocking). */
static void pump(struct vhba *vh, struct xsvhba_fs_io **fail)
{
	uint32_t et = vh->cfg.exec_throttle;
	bool progress = true;

	/* one request per target per round: the throttle is shared fairly */
	while (progress) {
		progress = false;
		for (struct vtgt *t = vh->tgts; t; t = t->next) {
			struct xsvhba_fs_io *io = t->wq_head;
			int rc;

			if (!io || t->st != T_READY || !t->v || (et && vh->inflight >= et))
				continue;
			t->wq_head = io->bnext;
			if (!t->wq_head)
				t->wq_tail = NULL;
			t->n_wait--;
			io->bnext = NULL;
			t->inflight++;
			vh->inflight++;
			rc = xsvhba_fs_io_start(t->v, io);
			if (rc < 0) {
				t->inflight--;
				vh->inflight--;
				io->bqueued_ms = (uint64_t)-rc; /* the error, for the caller */
				io->bnext = *fail;
				*fail = io;
			}
			progress = true;
		}
	}
}

static void tgt_io_done(struct xsvhba_fs_io *io, int err);
static void tgt_nbd_io_done(struct xsvhba_fs_io *io, int err);

/* End a request of either kind: a FUSE one to the file system, an nbd
 * server's to its callback. */
static void io_end(struct xsvhba_fs_io *io, int err)
{
	if (io->bdone == tgt_nbd_io_done) {
		struct nbd_req *r = xs_container_of(io, struct nbd_req, io);

		r->cb(r->arg, err);
		free(r);
	} else {
		xsvhba_fs_io_done(io, err);
	}
}

static void end_list(struct xsvhba_fs_io *io, int err)
{
	while (io) {
		struct xsvhba_fs_io *next = io->bnext;

		io->bnext = NULL;
		io_end(io, err ? err : -(int)io->bqueued_ms);
		io = next;
	}
}

/* The initiator ended a request (loop thread). */
static void tgt_io_done(struct xsvhba_fs_io *io, int err)
{
	struct vtgt *t = io->bpriv;
	struct xsvhba_mod *m = t->vh->m;
	struct xsvhba_fs_io *fail = NULL;

	pthread_mutex_lock(&m->lock);
	t->inflight--;
	t->vh->inflight--;
	pump(t->vh, &fail);
	pthread_mutex_unlock(&m->lock);
	end_list(fail, 0);
	io_end(io, err);
}

/* The same for an nbd server's request (a bdone of its own marks it). */
static void tgt_nbd_io_done(struct xsvhba_fs_io *io, int err)
{
	tgt_io_done(io, err);
}

/* m->lock held: queue a request on the target and start what can start
 * (refused ones onto *fail). 0, or -EIO when the target takes no I/O. */
static int tgt_enqueue(struct vtgt *t, struct xsvhba_fs_io *io,
		       void (*bdone)(struct xsvhba_fs_io *, int), struct xsvhba_fs_io **fail)
{
	if (t->st == T_STOPPED || t->st == T_FAILED ||
	    (t->st == T_DRAINING && t->next_op == N_STOP))
		return -EIO;
	io->bdone = bdone;
	io->bpriv = t;
	io->bnext = NULL;
	io->bqueued_ms = xs_now_ms();
	if (t->wq_tail)
		t->wq_tail->bnext = io;
	else
		t->wq_head = io;
	t->wq_tail = io;
	t->n_wait++;
	pump(t->vh, fail);
	return 0;
}

/* fs source: submit (FUSE workers, or the loop thread for the second half
 * of a read-modify-write). */
static int tgt_submit(void *ctx, struct xsvhba_fs_io *io)
{
	struct vtgt *t = ctx;
	struct xsvhba_mod *m = t->vh->m;
	struct xsvhba_fs_io *fail = NULL;
	int rc;

	pthread_mutex_lock(&m->lock);
	rc = tgt_enqueue(t, io, tgt_io_done, &fail);
	pthread_mutex_unlock(&m->lock);
	end_list(fail, 0);
	return rc;
}

/* fs source: the LUNs (any thread). The cache follows the initiator while
 * it is READY; while it is being replaced, the files keep what was known. */
static int tgt_get_luns(void *ctx, struct xsvhba_lun *out, unsigned int max)
{
	struct vtgt *t = ctx;
	struct xsvhba_mod *m = t->vh->m;
	int n;

	pthread_mutex_lock(&m->lock);
	if (t->st == T_READY && t->v) {
		n = xsvhba_get_luns(t->v, t->luns, XSVHBA_MAX_LUNS);
		t->n_luns = (unsigned int)XS_MIN(n, XSVHBA_MAX_LUNS);
	}
	n = (int)t->n_luns;
	memcpy(out, t->luns, XS_MIN((unsigned int)n, max) * sizeof(*out));
	pthread_mutex_unlock(&m->lock);
	return n;
}

static const struct xsvhba_fs_ops tgt_fs_ops = {
	.get_luns = tgt_get_luns,
	.submit = tgt_submit,
};

/* ---------------------------------------------------- LUNs as /dev/nbdN */

#ifdef XS_HAVE_NBD
/* nbd back end (the server's thread): through the target's queue, held
 * like FUSE I/O while the initiator is replaced. No TRIM (not offered). */
static int exp_io(void *ctx, enum xsvhba_nbd_cmd cmd, void *buf, uint64_t off, size_t len,
		  xsvhba_io_cb cb, void *arg)
{
	struct vexp *e = ctx;
	struct xsvhba_mod *m = e->m;
	struct xsvhba_fs_io *fail = NULL;
	struct nbd_req *r;
	int rc;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	switch (cmd) {
	case XSVHBA_NBD_CMD_READ: r->io.op = XSVHBA_FS_READ; break;
	case XSVHBA_NBD_CMD_WRITE: r->io.op = XSVHBA_FS_WRITE; break;
	case XSVHBA_NBD_CMD_FLUSH: r->io.op = XSVHBA_FS_SYNC; break;
	default:
		free(r);
		return -EOPNOTSUPP;
	}
	r->io.lun = e->lun;
	r->io.buf = buf;
	r->io.off = off;
	r->io.len = len;
	r->cb = cb;
	r->arg = arg;
	pthread_mutex_lock(&m->lock);
	rc = e->t ? tgt_enqueue(e->t, &r->io, tgt_nbd_io_done, &fail) : -EIO;
	pthread_mutex_unlock(&m->lock);
	end_list(fail, 0);
	if (rc < 0)
		free(r);
	return rc;
}

static const struct xsvhba_nbd_backend exp_ops = {
	.io = exp_io,
};

/* The reaper thread: disconnects dropped exports. xsvhba_nbd_free waits for
 * the requests in flight, which the loop thread ends: not on the loop. */
static void *reaper_main(void *arg)
{
	struct xsvhba_mod *m = arg;

	pthread_mutex_lock(&m->lock);
	for (;;) {
		struct vexp *e = m->reap_head;

		if (!e) {
			if (m->reap_stop)
				break;
			pthread_cond_wait(&m->reap_cond, &m->lock);
			continue;
		}
		m->reap_head = e->next;
		pthread_mutex_unlock(&m->lock);
		xsvhba_nbd_free(e->n);
		free(e);
		pthread_mutex_lock(&m->lock);
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

/* Export one LUN of a READY target (loop thread). */
static void exp_add(struct vtgt *t, const struct xsvhba_lun *lun)
{
	struct xsvhba_mod *m = t->vh->m;
	struct xsvhba_nbd_opts no = { .size = sizeof(no) };
	struct vexp *e;
	int rc;

	e = calloc(1, sizeof(*e));
	if (!e) {
		XS_WARN(MLOG, "%s/%s lun%u: no /dev/nbd: out of memory", t->vh->cfg.name, t->name,
			lun->id);
		return;
	}
	e->m = m;
	e->lun = *lun;
	e->index = -1;
	no.size_bytes = lun->blocks * lun->block_size;
	no.block_size = lun->block_size;
	pthread_mutex_lock(&m->lock);
	e->t = t;                   /* the kernel may read before CONNECT returns */
	pthread_mutex_unlock(&m->lock);
	e->n = xsvhba_nbd_connect(&no, &exp_ops, e);
	if (!e->n) {
		rc = -errno;
		pthread_mutex_lock(&m->lock);
		e->t = NULL;
		pthread_mutex_unlock(&m->lock);
		if (rc == -ENODEV) {
			/* logged by xsvhba_nbd; the files keep working */
			m->nbd = false;
			free(e);
			return;
		}
		/* kept as failed: not retried while the LUN stays */
		XS_WARN(MLOG, "%s/%s lun%u: no /dev/nbd: %s", t->vh->cfg.name, t->name, lun->id,
			xs_strerror(rc));
	} else {
		e->index = xsvhba_nbd_index(e->n);
		XS_INFO(MLOG, "%s/%s lun%u is /dev/nbd%d", t->vh->cfg.name, t->name, lun->id,
			e->index);
	}
	pthread_mutex_lock(&m->lock);
	e->next = t->exps;
	t->exps = e;
	pthread_mutex_unlock(&m->lock);
}

/* Unlink and drop an export (loop thread): new requests fail with EIO; the
 * reaper disconnects the device once the ones in flight ended. */
static void exp_drop(struct vtgt *t, struct vexp *e)
{
	struct xsvhba_mod *m = t->vh->m;
	struct vexp **pp;

	pthread_mutex_lock(&m->lock);
	for (pp = &t->exps; *pp; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	e->t = NULL;
	e->next = NULL;
	if (e->n) {
		struct vexp **tail = &m->reap_head;

		while (*tail)
			tail = &(*tail)->next;
		*tail = e;
		pthread_cond_signal(&m->reap_cond);
		e = NULL;
	}
	pthread_mutex_unlock(&m->lock);
	free(e);
}

/* Exports follow the LUNs of a READY target (loop thread, every tick). */
static void exp_sync(struct vtgt *t)
{
	struct xsvhba_mod *m = t->vh->m;
	struct xsvhba_lun *luns = t->nbd_scratch;
	unsigned int n;
	int rc;

	if (!m->nbd || t->st != T_READY || !t->v)
		return;
	pthread_mutex_lock(&m->lock);
	rc = xsvhba_get_luns(t->v, t->luns, XSVHBA_MAX_LUNS);
	t->n_luns = (unsigned int)XS_MIN(rc, XSVHBA_MAX_LUNS);
	n = t->n_luns;
	memcpy(luns, t->luns, n * sizeof(*luns));
	pthread_mutex_unlock(&m->lock);
	/* LUNs gone */
	for (struct vexp *e = t->exps, *next; e; e = next) {
		bool keep = false;

		next = e->next;
		for (unsigned int i = 0; i < n && !keep; i++)
			keep = luns[i].id == e->lun.id;
		if (!keep) {
			XS_INFO(MLOG, "%s/%s lun%u gone: disconnecting /dev/nbd%d", t->vh->cfg.name,
				t->name, e->lun.id, e->index);
			exp_drop(t, e);
		}
	}
	/* LUNs new */
	for (unsigned int i = 0; i < n && m->nbd; i++) {
		struct vexp *e;

		for (e = t->exps; e && e->lun.id != luns[i].id; e = e->next)
			;
		if (!e)
			exp_add(t, &luns[i]);
	}
}

static void exp_drop_all(struct vtgt *t)
{
	while (t->exps)
		exp_drop(t, t->exps);
}

static int reaper_start(struct xsvhba_mod *m)
{
	int rc = pthread_create(&m->reaper, NULL, reaper_main, m);

	if (rc)
		return -rc;
	m->reaper_running = true;
	return 0;
}

static void reaper_stop(struct xsvhba_mod *m)
{
	if (!m->reaper_running)
		return;
	pthread_mutex_lock(&m->lock);
	m->reap_stop = true;
	pthread_cond_signal(&m->reap_cond);
	pthread_mutex_unlock(&m->lock);
	pthread_join(m->reaper, NULL);
	m->reaper_running = false;
}
#else
static void exp_sync(struct vtgt *t)
{
	(void)t;
}

static void exp_drop_all(struct vtgt *t)
{
	(void)t;
}

static int reaper_start(struct xsvhba_mod *m)
{
	XS_WARN(MLOG, "LUNs as /dev/nbdN asked for, but this build has no nbd support "
		"(libnl-genl-3 was missing): LUNs are files only");
	m->nbd = false;
	return 0;
}

static void reaper_stop(struct xsvhba_mod *m)
{
	(void)m;
}
#endif

/* --------------------------------------------------------- initiators */

static int tgt_start(struct vtgt *t)
{
	struct vhba *vh = t->vh;
	struct xsvhba_mod *m = vh->m;
	const struct xs_vhba_msg *c = &vh->cfg;
	struct xsvhba_opts o = {
		.size = sizeof(o),
		.service_id = t->wwpn,
		.wwpn = c->wwpn,
		.queue_depth = XS_MIN(c->queue_depth ? c->queue_depth : XSVHBA_DEFAULT_QUEUE_DEPTH,
				      (uint32_t)XSVHBA_MAX_QUEUE_DEPTH),
		.link_down_ms = c->link_down_timeout ? c->link_down_timeout * 1000u
						     : XSVHBA_DEFAULT_LINK_DOWN_MS,
	};
	struct xsvhba *v;
	int rc;

	o.dest.lid = c->tca_lid;
	if (!o.dest.lid) {
		/* RoCE: the I/O port by its link-local GID (fe80::/64 + GUID) */
		if (!c->tca_guid) {
			rc = -EHOSTUNREACH;
			goto fail;
		}
		o.dest.has_gid = true;
		o.dest.gid[0] = 0xfe;
		o.dest.gid[1] = 0x80;
		for (int k = 0; k < 8; k++)
			o.dest.gid[8 + k] = (uint8_t)(c->tca_guid >> (56 - 8 * k));
	}
	v = xsvhba_new(m->fabric, m->loop, &o);
	if (!v) {
		rc = -errno;
		goto fail;
	}
	rc = xsvhba_start(v);
	if (rc < 0) {
		xsvhba_free(v);
		goto fail;
	}
	pthread_mutex_lock(&m->lock);
	t->v = v;
	t->st = T_STARTING;
	t->next_op = N_NONE;
	t->connected = false;
	t->st_since_ms = xs_now_ms();
	pthread_mutex_unlock(&m->lock);
	XS_INFO(MLOG, "%s/%s: logging in to WWPN %016llx on LID %u (queue depth %u)",
		vh->cfg.name, t->name, (unsigned long long)t->wwpn, c->tca_lid, o.queue_depth);
	return 0;
fail:
	snprintf(t->last_error, sizeof(t->last_error), "initiator: %s", xs_strerror(rc));
	XS_WARN(MLOG, "%s/%s: %s", vh->cfg.name, t->name, t->last_error);
	pthread_mutex_lock(&m->lock);
	t->st = T_FAILED;
	t->st_since_ms = xs_now_ms();
	pthread_mutex_unlock(&m->lock);
	return rc;
}

/* Free the initiator (not under m->lock): what it still holds ends with
 * an error, replied EIO. */
static void tgt_drop_initiator(struct vtgt *t)
{
	struct xsvhba_mod *m = t->vh->m;
	struct xsvhba_stats st;
	struct xsvhba *v;

	pthread_mutex_lock(&m->lock);
	v = t->v;
	t->v = NULL;
	t->connected = false;
	pthread_mutex_unlock(&m->lock);
	if (!v)
		return;
	xsvhba_get_stats(v, &st);
	xsvhba_free(v);
	pthread_mutex_lock(&m->lock);
	stats_add(&t->acc, &st);
	pthread_mutex_unlock(&m->lock);
}

/* Fail every request waiting in the module. */
static void tgt_fail_queue(struct vtgt *t, int err)
{
	struct xsvhba_mod *m = t->vh->m;
	struct xsvhba_fs_io *list;

	pthread_mutex_lock(&m->lock);
	list = t->wq_head;
	t->wq_head = t->wq_tail = NULL;
	t->n_wait = 0;
	pthread_mutex_unlock(&m->lock);
	end_list(list, err);
}

/* Ask for the initiator to be replaced (RESTART) or stopped (STOP) once
 * its I/O drained. */
static void tgt_drain(struct vtgt *t, enum tnext next)
{
	struct xsvhba_mod *m = t->vh->m;

	pthread_mutex_lock(&m->lock);
	if (t->st == T_STOPPED || t->st == T_FAILED) {
		pthread_mutex_unlock(&m->lock);
		if (next == N_RESTART || (next == N_STOP && t->st == T_FAILED)) {
			if (next == N_RESTART) {
				tgt_start(t);
			} else {
				pthread_mutex_lock(&m->lock);
				t->st = T_STOPPED;
				pthread_mutex_unlock(&m->lock);
			}
		}
		return;
	}
	if (t->st != T_DRAINING)
		t->st_since_ms = xs_now_ms();
	t->st = T_DRAINING;
	t->next_op = next;
	pthread_mutex_unlock(&m->lock);
}

/* Advance one target (loop thread). */
static void tgt_step(struct vtgt *t, uint64_t now)
{
	struct vhba *vh = t->vh;
	struct xsvhba_mod *m = vh->m;
	uint32_t ldt_ms = vh->cfg.link_down_timeout ? vh->cfg.link_down_timeout * 1000u
						    : XSVHBA_DEFAULT_LINK_DOWN_MS;
	struct xsvhba_fs_io *fail = NULL, *late = NULL, **pp;
	enum tstate st;
	enum tnext next;
	unsigned int inflight;

	pthread_mutex_lock(&m->lock);
	st = t->st;
	next = t->next_op;
	inflight = t->inflight;
	if (st == T_STARTING && t->v && xsvhba_wait_ready(t->v, 0) == 0) {
		int n = xsvhba_get_luns(t->v, t->luns, XSVHBA_MAX_LUNS);

		t->n_luns = (unsigned int)XS_MIN(n, XSVHBA_MAX_LUNS);
		t->st = st = T_READY;
		t->st_since_ms = now;
		t->last_error[0] = '\0';
		XS_INFO(MLOG, "%s/%s: logged in, %u LUN(s)", vh->cfg.name, t->name, t->n_luns);
		pump(vh, &fail);
	}
	if (t->v)
		t->connected = xsvhba_connected(t->v);
	/* requests that waited for a login longer than the link-down timeout */
	if (st != T_READY) {
		for (pp = &t->wq_head; *pp;) {
			struct xsvhba_fs_io *io = *pp;

			if (now - io->bqueued_ms < ldt_ms) {
				pp = &io->bnext;
				continue;
			}
			*pp = io->bnext;
			t->n_wait--;
			t->queue_timeouts++;
			io->bnext = late;
			late = io;
		}
		t->wq_tail = NULL;
		for (struct xsvhba_fs_io *io = t->wq_head; io; io = io->bnext)
			t->wq_tail = io;
	}
	pthread_mutex_unlock(&m->lock);
	end_list(fail, 0);
	end_list(late, -EIO);

	if (st == T_DRAINING && (inflight == 0 || now - t->st_since_ms > ldt_ms + DRAIN_SLACK_MS)) {
		if (inflight)
			XS_WARN(MLOG, "%s/%s: %u request(s) did not drain: ended", vh->cfg.name,
				t->name, inflight);
		tgt_drop_initiator(t);
		if (next == N_RESTART && admin_up(vh)) {
			t->restarts++;
			tgt_start(t);
		} else {
			pthread_mutex_lock(&m->lock);
			t->st = T_STOPPED;
			t->next_op = N_NONE;
			pthread_mutex_unlock(&m->lock);
			tgt_fail_queue(t, -EIO);
			XS_INFO(MLOG, "%s/%s: logged out (admin down)", vh->cfg.name, t->name);
		}
	} else if (st == T_FAILED && admin_up(vh) && now - t->st_since_ms > FAILED_RETRY_MS) {
		tgt_start(t);
	}
	exp_sync(t);
}

/* ------------------------------------------------------------- targets */

static struct vtgt *tgt_add(struct vhba *vh, const char *name, uint64_t wwpn,
			    struct xs_ulp_result *res)
{
	struct xsvhba_mod *m = vh->m;
	struct xsvhba_fs_opts fo = { .size = sizeof(fo), .threads = m->o.fs_threads };
	struct vtgt *t, **pp;
	char fsname[64];

	t = calloc(1, sizeof(*t));
	if (t) {
		t->luns = calloc(XSVHBA_MAX_LUNS, sizeof(*t->luns));
		t->nbd_scratch = calloc(XSVHBA_MAX_LUNS, sizeof(*t->nbd_scratch));
	}
	if (!t || !t->luns || !t->nbd_scratch) {
		if (t) {
			free(t->luns);
			free(t->nbd_scratch);
			free(t);
		}
		res->reason = XS_NACK_ALLOC_ERROR;
		snprintf(res->text, sizeof(res->text), "out of memory");
		return NULL;
	}
	t->vh = vh;
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->wwpn = wwpn;
	t->st = T_STOPPED;
	snprintf(t->mnt, sizeof(t->mnt), "%s/%s", vh->dir, name);
	snprintf(fsname, sizeof(fsname), "xsvhba:%s/%s", vh->cfg.name, name);
	fo.mountpoint = t->mnt;
	fo.fsname = fsname;
	t->fs = xsvhba_fs_mount(&fo, &tgt_fs_ops, t);
	if (!t->fs) {
		int rc = -errno;

		res->reason = XS_NACK_GENERAL_ERROR;
		snprintf(res->text, sizeof(res->text), "mount %.30s: %s", t->mnt, xs_strerror(rc));
		XS_ERR(MLOG, "%s: cannot mount %s: %s", vh->cfg.name, t->mnt, xs_strerror(rc));
		rmdir(t->mnt);
		free(t->luns);
		free(t->nbd_scratch);
		free(t);
		errno = -rc;
		return NULL;
	}
	for (pp = &vh->tgts; *pp; pp = &(*pp)->next)
		;
	*pp = t;
	if (admin_up(vh))
		tgt_start(t);
	return t;
}

/* Unmount and log out now (loop thread): in-flight I/O ends with EIO. */
static void tgt_remove(struct vtgt *t)
{
	struct vhba *vh = t->vh;
	struct xsvhba_mod *m = vh->m;
	struct vtgt **pp;

	xsvhba_fs_quiesce(t->fs);       /* lazy unmount; no new requests */
	exp_drop_all(t);                /* nbd: new requests fail, disconnect */
	pthread_mutex_lock(&m->lock);
	t->st = T_STOPPED;
	pthread_mutex_unlock(&m->lock);
	tgt_drop_initiator(t);          /* logout; what it held ends (EIO) */
	tgt_fail_queue(t, -EIO);
	xsvhba_fs_free(t->fs);
	if (rmdir(t->mnt) < 0 && errno != ENOENT)
		XS_WARN(MLOG, "rmdir %s: %s", t->mnt, strerror(errno));
	pthread_mutex_lock(&m->lock);
	for (pp = &vh->tgts; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	pthread_mutex_unlock(&m->lock);
	XS_INFO(MLOG, "%s/%s: unmounted, logged out", vh->cfg.name, t->name);
	free(t->luns);
	free(t->nbd_scratch);
	free(t);
}

static struct vtgt *tgt_find(struct vhba *vh, const char *name)
{
	for (struct vtgt *t = vh->tgts; t; t = t->next)
		if (!strcmp(t->name, name))
			return t;
	return NULL;
}

/* ------------------------------------------------------------- status */

static void report(struct vhba *vh)
{
	bool up = admin_up(vh);

	for (struct vtgt *t = vh->tgts; t; t = t->next)
		up = up && t->st == T_READY && t->connected;
	if (vh->reported && up == vh->oper_up)
		return;
	vh->oper_up = up;
	vh->reported = true;
	if (!vh->dev)
		return;
	vh->dev->state = up ? XS_RES_STATE_OPER_UP : XS_RES_STATE_OPER_DOWN;
	xs_ulp_send(vh->dev, up ? XS_VHBA_OPER_UP : XS_VHBA_OPER_DOWN);
	XS_INFO(MLOG, "%s: %s", vh->cfg.name, up ? "OPER_UP" : "OPER_DOWN");
}

static void on_tick(struct xs_loop *loop, struct xs_timer *tm, void *arg)
{
	struct xsvhba_mod *m = arg;
	uint64_t now = xs_now_ms();

	(void)loop, (void)tm;
	for (struct vhba *vh = m->vhbas; vh; vh = vh->next) {
		for (struct vtgt *t = vh->tgts; t; t = t->next)
			tgt_step(t, now);
		report(vh);
	}
}

static void on_fabric_event(struct xs_loop *loop, int fd, unsigned int events, void *arg)
{
	struct xsvhba_mod *m = arg;
	struct xs_event ev;

	(void)loop, (void)fd, (void)events;
	while (xs_fabric_get_event(m->fabric, &ev) == 0) {
		bool taken = false;

		for (struct vhba *vh = m->vhbas; vh && !taken; vh = vh->next)
			for (struct vtgt *t = vh->tgts; t && !taken; t = t->next)
				taken = t->v && xsvhba_handle_event(t->v, &ev) == 1;
	}
}

/* ------------------------------------------------------------ ULP ops */

/* Names become directory names: no '/', not "." or "..". */
static bool name_ok(const char *s)
{
	return s[0] && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

static int check_cfg(const struct xs_vhba_msg *c, struct xs_ulp_result *res)
{
	if (!name_ok(c->name)) {
		res->reason = XS_NACK_INVALID;
		snprintf(res->text, sizeof(res->text), "vHBA name '%s' cannot be a directory",
			 c->name);
		return -EINVAL;
	}
	for (int i = 0; i < c->target_count; i++) {
		if (!name_ok(c->targets[i])) {
			res->reason = XS_NACK_INVALID;
			snprintf(res->text, sizeof(res->text),
				 "target name '%s' cannot be a directory", c->targets[i]);
			return -EINVAL;
		}
		for (int j = 0; j < i; j++) {
			if (!strcmp(c->targets[i], c->targets[j])) {
				res->reason = XS_NACK_INVALID;
				snprintf(res->text, sizeof(res->text), "target %s listed twice",
					 c->targets[i]);
				return -EINVAL;
			}
		}
	}
	return 0;
}

static int open_fabric(struct xsvhba_mod *m, struct xs_ulp_result *res)
{
	struct xs_fabric_opts fo = { .size = sizeof(fo), .port_name = m->port_name };
	int rc;

	if (m->fabric)
		return 0;
	m->fabric = xs_fabric_open(m->spec, &fo);
	if (!m->fabric) {
		rc = -errno;
		goto fail;
	}
	rc = xs_loop_add_fd(m->loop, xs_fabric_event_fd(m->fabric), XS_IO_IN, on_fabric_event, m);
	if (rc < 0) {
		xs_fabric_close(m->fabric);
		m->fabric = NULL;
		goto fail;
	}
	xs_timer_arm(m->tick, (uint64_t)m->o.tick_ms, (uint64_t)m->o.tick_ms);
	XS_INFO(MLOG, "fabric port %s open", m->port_name);
	return 0;
fail:
	res->reason = XS_NACK_GENERAL_ERROR;
	snprintf(res->text, sizeof(res->text), "fabric port %.24s: %s", m->port_name,
		 xs_strerror(rc));
	return rc;
}

/* Mount every target of vh->cfg; on failure unmount what was mounted. */
static int add_targets(struct vhba *vh, struct xs_ulp_result *res)
{
	int rc;

	rc = xsvhba_fs_mkdir_p(vh->dir);
	if (rc < 0) {
		res->reason = XS_NACK_GENERAL_ERROR;
		snprintf(res->text, sizeof(res->text), "mkdir %.32s: %s", vh->dir, xs_strerror(rc));
		return rc;
	}
	for (int i = 0; i < vh->cfg.target_count; i++) {
		if (!tgt_add(vh, vh->cfg.targets[i], vh->cfg.target_wwpn[i], res)) {
			rc = -errno;
			while (vh->tgts)
				tgt_remove(vh->tgts);
			rmdir(vh->dir);
			return rc ? rc : -EIO;
		}
	}
	return 0;
}

static void remove_targets(struct vhba *vh)
{
	while (vh->tgts)
		tgt_remove(vh->tgts);
	if (rmdir(vh->dir) < 0 && errno != ENOENT)
		XS_WARN(MLOG, "rmdir %s: %s", vh->dir, strerror(errno));
}

static int vh_install(void *ctx, struct xs_ulp_dev *dev, struct xs_ulp_result *res)
{
	struct xsvhba_mod *m = ctx;
	struct vhba *vh;
	int rc;

	rc = check_cfg(&dev->cfg.vhba, res);
	if (rc < 0)
		return rc;
	rc = open_fabric(m, res);
	if (rc < 0)
		return rc;
	vh = calloc(1, sizeof(*vh));
	if (!vh) {
		res->reason = XS_NACK_ALLOC_ERROR;
		return -ENOMEM;
	}
	vh->m = m;
	vh->dev = dev;
	vh->cfg = dev->cfg.vhba;
	snprintf(vh->dir, sizeof(vh->dir), "%s/%s", m->root, vh->cfg.name);
	rc = add_targets(vh, res);
	if (rc < 0) {
		free(vh);
		return rc;
	}
	pthread_mutex_lock(&m->lock);
	vh->next = m->vhbas;
	m->vhbas = vh;
	pthread_mutex_unlock(&m->lock);
	dev->priv = vh;
	dev->state = XS_RES_STATE_OPER_DOWN;
	XS_INFO(MLOG, "%s: installed, %d target(s) under %s, admin %s", vh->cfg.name,
		vh->cfg.target_count, vh->dir, admin_up(vh) ? "up" : "down");
	return 0;
}

static int vh_update(void *ctx, struct xs_ulp_dev *dev, const union xs_ulp_config *old,
		     uint32_t bitmask, struct xs_ulp_result *res)
{
	struct xsvhba_mod *m = ctx;
	struct vhba *vh = dev->priv;
	const struct xs_vhba_msg *n = &dev->cfg.vhba, *o = &old->vhba;
	struct xsvhba_fs_io *fail = NULL;
	bool relogin, was_up, up;
	int rc;

	(void)bitmask;
	if (!vh)
		return 0;
	rc = check_cfg(n, res);
	if (rc < 0)
		return rc;
	was_up = o->admin_state == XS_ADMIN_UP;
	up = n->admin_state == XS_ADMIN_UP;
	if (strcmp(n->name, o->name)) {
		/* renamed: the mounts move */
		remove_targets(vh);
		vh->cfg = *n;
		snprintf(vh->dir, sizeof(vh->dir), "%s/%s", m->root, n->name);
		rc = add_targets(vh, res);
		XS_INFO(MLOG, "%s: renamed from %s", n->name, o->name);
		return rc;
	}
	relogin = n->wwpn != o->wwpn || n->tca_lid != o->tca_lid || n->tca_guid != o->tca_guid ||
		  n->queue_depth != o->queue_depth || n->link_down_timeout != o->link_down_timeout;
	/* targets gone */
	for (struct vtgt *t = vh->tgts, *next; t; t = next) {
		bool keep = false;

		next = t->next;
		for (int i = 0; i < n->target_count && !keep; i++)
			keep = !strcmp(n->targets[i], t->name);
		if (!keep)
			tgt_remove(t);
	}
	pthread_mutex_lock(&m->lock);
	vh->cfg = *n;
	pthread_mutex_unlock(&m->lock);
	/* targets kept (WWPN changed: log in again) and added */
	for (int i = 0; i < n->target_count; i++) {
		struct vtgt *t = tgt_find(vh, n->targets[i]);

		if (!t) {
			if (!tgt_add(vh, n->targets[i], n->target_wwpn[i], res))
				return -EIO;
			XS_INFO(MLOG, "%s/%s: target added", n->name, n->targets[i]);
			continue;
		}
		if (t->wwpn != n->target_wwpn[i] || relogin) {
			t->wwpn = n->target_wwpn[i];
			if (up)
				tgt_drain(t, N_RESTART);
		}
		if (was_up && !up)
			tgt_drain(t, N_STOP);
		else if (!was_up && up)
			tgt_drain(t, N_RESTART);
	}
	/* the throttle may have opened */
	pthread_mutex_lock(&m->lock);
	pump(vh, &fail);
	pthread_mutex_unlock(&m->lock);
	end_list(fail, 0);
	for (struct vtgt *t = vh->tgts; t; t = t->next)
		tgt_step(t, xs_now_ms());
	report(vh);
	return 0;
}

static void vh_remove(void *ctx, struct xs_ulp_dev *dev, enum xs_ulp_remove_why why)
{
	struct xsvhba_mod *m = ctx;
	struct vhba *vh = dev->priv, **pp;

	if (!vh)
		return;
	XS_INFO(MLOG, "%s: removing (%s)", vh->cfg.name,
		why == XS_ULP_REMOVE_DELETE ? "deleted" :
		why == XS_ULP_REMOVE_STALE ? "not re-announced" : "host stopping");
	remove_targets(vh);
	pthread_mutex_lock(&m->lock);
	for (pp = &m->vhbas; *pp; pp = &(*pp)->next)
		if (*pp == vh) {
			*pp = vh->next;
			break;
		}
	pthread_mutex_unlock(&m->lock);
	dev->priv = NULL;
	free(vh);
}

static const struct xs_ulp_ops vhba_ops = {
	.name = "xsvhba",
	.xsmp_type = XS_XSMP_VHBA,
	.install = vh_install,
	.update = vh_update,
	.remove = vh_remove,
};

static struct vhba *our_vhba(const struct xs_ulp_dev *dev)
{
	const char *mod;

	if (dev->xsmp_type != XS_XSMP_VHBA || !dev->priv)
		return NULL;
	mod = xs_host_ulp_name(dev->host, XS_XSMP_VHBA);
	if (!mod || strcmp(mod, vhba_ops.name))
		return NULL;
	return dev->priv;
}

int xsvhba_mod_dev_status(const struct xs_ulp_dev *dev, struct xsvhba_mod_status *st,
			  struct xsvhba_mod_tgt_status *tgts, unsigned int max_tgts)
{
	struct vhba *vh = our_vhba(dev);
	unsigned int n = 0;

	if (!vh)
		return -ENOENT;
	pthread_mutex_lock(&vh->m->lock);
	memset(st, 0, sizeof(*st));
	snprintf(st->dir, sizeof(st->dir), "%s", vh->dir);
	st->admin_up = admin_up(vh);
	st->oper_up = vh->oper_up;
	st->wwpn = vh->cfg.wwpn;
	st->queue_depth = vh->cfg.queue_depth ? vh->cfg.queue_depth : XSVHBA_DEFAULT_QUEUE_DEPTH;
	st->exec_throttle = vh->cfg.exec_throttle;
	st->link_down_s = vh->cfg.link_down_timeout ? vh->cfg.link_down_timeout
						    : XSVHBA_DEFAULT_LINK_DOWN_MS / 1000;
	st->inflight = vh->inflight;
	for (struct vtgt *t = vh->tgts; t; t = t->next, n++) {
		struct xsvhba_mod_tgt_status *ts = &tgts[n];

		if (n >= max_tgts)
			continue;
		memset(ts, 0, sizeof(*ts));
		snprintf(ts->name, sizeof(ts->name), "%s", t->name);
		ts->wwpn = t->wwpn;
		ts->state = tstate_str(t);
		ts->connected = t->connected;
		snprintf(ts->mountpoint, sizeof(ts->mountpoint), "%s", t->mnt);
		ts->queued = t->n_wait;
		ts->inflight = t->inflight;
		ts->restarts = t->restarts;
		ts->queue_timeouts = t->queue_timeouts;
		ts->st = t->acc;
		if (t->v) {
			struct xsvhba_stats cur;

			xsvhba_get_stats(t->v, &cur);
			stats_add(&ts->st, &cur);
			ts->st.credits = cur.credits;
			ts->st.outstanding = cur.outstanding;
			ts->st.held = cur.held;
		}
		snprintf(ts->last_error, sizeof(ts->last_error), "%s", t->last_error);
	}
	st->n_targets = n;
	pthread_mutex_unlock(&vh->m->lock);
	return (int)n;
}

int xsvhba_mod_dev_luns(const struct xs_ulp_dev *dev, unsigned int tgt,
			struct xsvhba_fs_lun_stats *out, unsigned int max)
{
	struct vhba *vh = our_vhba(dev);
	struct vtgt *t;

	if (!vh)
		return -ENOENT;
	/* targets change on the loop thread only, which is the caller's */
	for (t = vh->tgts; t && tgt; t = t->next)
		tgt--;
	if (!t)
		return -ENOENT;
	return xsvhba_fs_lun_stats(t->fs, out, max);
}

int xsvhba_mod_dev_nbd(const struct xs_ulp_dev *dev, unsigned int tgt, uint16_t lun_id)
{
	struct vhba *vh = our_vhba(dev);
	struct vtgt *t;
	int rc = -ENOENT;

	if (!vh)
		return -ENOENT;
	for (t = vh->tgts; t && tgt; t = t->next)
		tgt--;
	if (!t)
		return -ENOENT;
	pthread_mutex_lock(&vh->m->lock);
	for (struct vexp *e = t->exps; e; e = e->next)
		if (e->lun.id == lun_id)
			rc = e->n ? e->index : -EIO;
	pthread_mutex_unlock(&vh->m->lock);
	return rc;
}

struct xsvhba_mod *xsvhba_mod_new(struct xs_host *h, const struct xsvhba_mod_opts *opts)
{
	struct xsvhba_mod *m;
	struct xs_port_attr pa;
	int rc;

	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	if (opts)
		memcpy(&m->o, opts, opts->size < sizeof(m->o) ? opts->size : sizeof(m->o));
	m->o.size = sizeof(m->o);
	if (m->o.tick_ms <= 0)
		m->o.tick_ms = 100;
	m->host = h;
	m->loop = xs_host_loop(h);
	xs_host_port_attr(h, &pa);
	snprintf(m->spec, sizeof(m->spec), "%s", m->o.fabric_spec ? m->o.fabric_spec : "soft");
	if (m->o.port_name)
		snprintf(m->port_name, sizeof(m->port_name), "%s", m->o.port_name);
	else
		snprintf(m->port_name, sizeof(m->port_name), "%.80s-vhba", pa.port_name);
	if (snprintf(m->root, sizeof(m->root), "%s",
		     m->o.mount_root ? m->o.mount_root : XSVHBA_MOD_DEFAULT_ROOT) >=
	    (int)sizeof(m->root)) {
		free(m);
		errno = ENAMETOOLONG;
		return NULL;
	}
	m->o.fabric_spec = m->o.port_name = m->o.mount_root = NULL; /* not kept */
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->reap_cond, NULL);
	m->nbd = m->o.nbd;
	if (m->nbd) {
		rc = reaper_start(m);
		if (rc < 0)
			goto err;
	}
	m->tick = xs_timer_new(m->loop, on_tick, m);
	if (!m->tick) {
		rc = -ENOMEM;
		goto err_reaper;
	}
	rc = xs_host_register_ulp(h, &vhba_ops, m);
	if (rc < 0)
		goto err_timer;
	return m;

err_timer:
	xs_timer_free(m->tick);
err_reaper:
	reaper_stop(m);
err:
	pthread_cond_destroy(&m->reap_cond);
	pthread_mutex_destroy(&m->lock);
	free(m);
	errno = -rc;
	return NULL;
}

void xsvhba_mod_free(struct xsvhba_mod *m)
{
	if (!m)
		return;
	/* vHBAs still held (the host was not freed first): remove them */
	while (m->vhbas) {
		struct vhba *vh = m->vhbas;

		remove_targets(vh);
		m->vhbas = vh->next;
		if (vh->dev)
			vh->dev->priv = NULL;
		free(vh);
	}
	reaper_stop(m);                 /* after the last export was dropped */
	xs_timer_free(m->tick);
	if (m->fabric) {
		xs_loop_del_fd(m->loop, xs_fabric_event_fd(m->fabric));
		xs_fabric_close(m->fabric);
	}
	pthread_cond_destroy(&m->reap_cond);
	pthread_mutex_destroy(&m->lock);
	free(m);
}
