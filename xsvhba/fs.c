/* SPDX-License-Identifier: MIT */
/*
 * fs.c - LUNs as files through FUSE, on libfuse's low-level API so that
 * replies can be sent from the I/O completions. See xsvhba/fs.h.
 *
 * Inodes: 1 is the directory, lun<N> is N + 2. Every request that goes to
 * the source is a struct fs_req; it counts in fs->outstanding (and in its
 * LUN's inflight) from the moment it is handed over until its reply was
 * written, so that xsvhba_fs_free() can wait for the last reply before the
 * FUSE device is closed (a reply on a closed, reused descriptor would land
 * in some other file).
 *
 * Locks: fs->lock guards the LUN table and the counters; calls into the
 * source are made without it, inside the gate (gate_enter/gate_exit), which
 * xsvhba_fs_quiesce() closes and waits out.
 */
#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 12)
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <xscore/common.h>
#include <xscore/log.h>

#include "xsvhba/fs.h"

#define COMP "xsvhba-fs"
#define ROOT_INO 1
#define INO_OF(id) ((fuse_ino_t)(id) + 2)
#define MAX_LUN_ID 16383
#define SYNC_RETRIES 10
/* Reads larger than this are replied from a FUSE worker, not from the
 * initiator's loop thread: the reply copies the data into the kernel, and
 * a megabyte of copying per read would hold up every other completion. */
#define DEFER_REPLY_BYTES (64u << 10)
/* I/O buffers are kept for reuse, per power-of-two size class (4 KiB ..
 * 4 MiB), up to POOL_KEEP each: a fresh megabyte costs 256 page faults when
 * the data lands in it. */
/* Aligned writes this large are sent from the caller's request buffer and
 * the worker waits for them (no copy of the data); smaller ones are copied
 * and the worker goes on. */
#define SYNC_WRITE_BYTES (256u << 10)
#define POOL_MIN_SHIFT 12
#define POOL_CLASSES 11
#define POOL_KEEP 16

struct fs_lun {
	struct xsvhba_fs_lun_stats s;
};

struct xsvhba_fs {
	struct xsvhba_fs_opts o;
	char mnt[PATH_MAX];
	char fsname[64];
	const struct xsvhba_fs_ops *ops;
	void *ctx;
	struct fuse_session *se;
	bool self_mounted;      /* mount(2) here, else fusermount3 did it */
	struct timespec t0;     /* mount time: the files' times */
	bool unmounted;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* gate */
	bool quiesced;
	unsigned int gate_users;
	/* LUN table, ascending ids */
	struct fs_lun *luns;
	unsigned int n_luns;
	unsigned int outstanding;
	/* workers */
	int stop_efd;
	pthread_t *threads;
	unsigned int n_threads;
	unsigned int workers_alive;
	/* large read replies handed to the workers */
	int reply_efd;
	struct fs_req *rq_head, *rq_tail;
	/* buffer pool */
	pthread_mutex_t pool_lock;
	void *pool[POOL_CLASSES][POOL_KEEP];
	unsigned int pool_n[POOL_CLASSES];
};

/* One request handed to the source. */
struct fs_req {
	struct xsvhba_fs *fs;
	fuse_req_t req;
	struct xsvhba_fs_io io;
	uint16_t id;
	bool write;
	bool rmw;             /* write: the edge blocks are being read first */
	uint8_t *bounce;      /* what the source reads into / writes from */
	int bounce_class;     /* its pool class, -1: not pooled */
	uint8_t *wdata;       /* unaligned write: the caller's bytes */
	size_t user_len;      /* bytes of the caller's request */
	size_t skip;          /* where the caller's bytes start in bounce */
	int err;              /* deferred reply: the result */
	struct fs_req *rq_next;
	struct waiter *waiter; /* a worker waits for this one */
};

struct waiter {
	pthread_mutex_t m;
	pthread_cond_t c;
	bool done;
	int err;
};

/* ------------------------------------------------------------------ gate */

static bool gate_enter(struct xsvhba_fs *fs)
{
	bool ok;

	pthread_mutex_lock(&fs->lock);
	ok = !fs->quiesced;
	if (ok)
		fs->gate_users++;
	pthread_mutex_unlock(&fs->lock);
	return ok;
}

static void gate_exit(struct xsvhba_fs *fs)
{
	pthread_mutex_lock(&fs->lock);
	if (--fs->gate_users == 0 && fs->quiesced)
		pthread_cond_broadcast(&fs->cond);
	pthread_mutex_unlock(&fs->lock);
}

/* ------------------------------------------------------------- LUN table */

/* fs->lock held */
static struct fs_lun *lun_find(struct xsvhba_fs *fs, uint16_t id)
{
	unsigned int lo = 0, hi = fs->n_luns;

	while (lo < hi) {
		unsigned int mid = (lo + hi) / 2;

		if (fs->luns[mid].s.lun.id == id)
			return &fs->luns[mid];
		if (fs->luns[mid].s.lun.id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* fs->lock held: drop entries that are gone and idle. */
static void lun_sweep(struct xsvhba_fs *fs)
{
	unsigned int i, k = 0;

	for (i = 0; i < fs->n_luns; i++) {
		if (!fs->luns[i].s.present && fs->luns[i].s.inflight == 0) {
			XS_INFO(COMP, "%s: lun%u gone", fs->mnt, fs->luns[i].s.lun.id);
			continue;
		}
		fs->luns[k++] = fs->luns[i];
	}
	fs->n_luns = k;
}

static int lun_id_cmp(const void *a, const void *b)
{
	const struct xsvhba_lun *x = a, *y = b;

	return (int)x->id - (int)y->id;
}

/*
 * Merge the source's list into the table: new LUNs added, known ones
 * updated, missing ones marked gone (dropped once idle). A source that
 * fails keeps the table as it is.
 */
static void refresh(struct xsvhba_fs *fs)
{
	struct xsvhba_lun *cur;
	struct fs_lun *merged;
	unsigned int i, j, k;
	int n;

	cur = calloc(XSVHBA_MAX_LUNS, sizeof(*cur));
	if (!cur)
		return;
	if (!gate_enter(fs)) {
		free(cur);
		return;
	}
	n = fs->ops->get_luns(fs->ctx, cur, XSVHBA_MAX_LUNS);
	gate_exit(fs);
	if (n < 0) {
		free(cur);
		return;
	}
	if (n > XSVHBA_MAX_LUNS)
		n = XSVHBA_MAX_LUNS;
	qsort(cur, (size_t)n, sizeof(*cur), lun_id_cmp);
	pthread_mutex_lock(&fs->lock);
	merged = calloc((size_t)n + fs->n_luns + 1, sizeof(*merged));
	if (!merged) {
		pthread_mutex_unlock(&fs->lock);
		free(cur);
		return;
	}
	/* both lists ascending: merge */
	for (i = 0, j = 0, k = 0; i < (unsigned int)n || j < fs->n_luns;) {
		if (j == fs->n_luns || (i < (unsigned int)n && cur[i].id < fs->luns[j].s.lun.id)) {
			if (cur[i].id <= MAX_LUN_ID) {
				merged[k].s.lun = cur[i];
				merged[k].s.present = true;
				XS_INFO(COMP, "%s: lun%u: %llu bytes (%s %s)", fs->mnt, cur[i].id,
					(unsigned long long)(cur[i].blocks * cur[i].block_size),
					cur[i].vendor, cur[i].product);
				k++;
			}
			i++;
		} else if (i == (unsigned int)n || fs->luns[j].s.lun.id < cur[i].id) {
			merged[k] = fs->luns[j++];
			if (merged[k].s.present)
				XS_INFO(COMP, "%s: lun%u removed by the target%s", fs->mnt,
					merged[k].s.lun.id,
					merged[k].s.inflight ? ": draining its I/O" : "");
			merged[k++].s.present = false;
		} else {
			merged[k] = fs->luns[j++];
			merged[k].s.lun = cur[i++];
			merged[k++].s.present = true;
		}
	}
	free(fs->luns);
	fs->luns = merged;
	fs->n_luns = k;
	lun_sweep(fs);
	pthread_mutex_unlock(&fs->lock);
	free(cur);
}

/* Copy of a LUN of the table (a draining one too: it is listed, its
 * I/O fails), after a refresh: 0 or -ENOENT. */
static int lun_get(struct xsvhba_fs *fs, uint16_t id, struct xsvhba_lun *out, bool do_refresh)
{
	struct fs_lun *l;
	int rc = -ENOENT;

	if (do_refresh)
		refresh(fs);
	pthread_mutex_lock(&fs->lock);
	l = lun_find(fs, id);
	if (l) {
		*out = l->s.lun;
		rc = 0;
	}
	pthread_mutex_unlock(&fs->lock);
	return rc;
}

static void lun_attr(const struct xsvhba_fs *fs, const struct xsvhba_lun *l, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_atim = st->st_mtim = st->st_ctim = fs->t0;
	st->st_ino = INO_OF(l->id);
	st->st_mode = S_IFREG | 0600;
	st->st_nlink = 1;
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_size = (off_t)(l->blocks * l->block_size);
	st->st_blksize = l->block_size;
	st->st_blocks = (blkcnt_t)(l->blocks * l->block_size / 512);
}

static void root_attr(const struct xsvhba_fs *fs, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_atim = st->st_mtim = st->st_ctim = fs->t0;
	st->st_ino = ROOT_INO;
	st->st_mode = S_IFDIR | 0755;
	st->st_nlink = 2;
	st->st_uid = getuid();
	st->st_gid = getgid();
}

/* "lun<N>" with N in canonical decimal (no sign, no leading zero). */
static int parse_lun(const char *name, uint16_t *id)
{
	unsigned long v = 0;
	const char *p;

	if (strncmp(name, "lun", 3) || !name[3] || (name[3] == '0' && name[4]))
		return -ENOENT;
	for (p = name + 3; *p; p++) {
		if (*p < '0' || *p > '9')
			return -ENOENT;
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > MAX_LUN_ID)
			return -ENOENT;
	}
	*id = (uint16_t)v;
	return 0;
}

static int ino_lun(fuse_ino_t ino, uint16_t *id)
{
	if (ino < 2 || ino > INO_OF(MAX_LUN_ID))
		return -ENOENT;
	*id = (uint16_t)(ino - 2);
	return 0;
}

/* ------------------------------------------------------- the data path */

/* ------------------------------------------------------ buffer pool */

static int pool_class(size_t len)
{
	int c = 0;

	while (c < POOL_CLASSES && ((size_t)1 << (POOL_MIN_SHIFT + c)) < len)
		c++;
	return c < POOL_CLASSES ? c : -1;
}

static void *buf_get(struct xsvhba_fs *fs, size_t len, int *cls)
{
	int c = pool_class(len);
	void *p = NULL;

	*cls = c;
	if (c < 0)
		return aligned_alloc(4096, (len + 4095) & ~(size_t)4095);
	pthread_mutex_lock(&fs->pool_lock);
	if (fs->pool_n[c])
		p = fs->pool[c][--fs->pool_n[c]];
	pthread_mutex_unlock(&fs->pool_lock);
	return p ? p : aligned_alloc(4096, (size_t)1 << (POOL_MIN_SHIFT + c));
}

static void buf_put(struct xsvhba_fs *fs, void *p, int c)
{
	if (p && c >= 0) {
		pthread_mutex_lock(&fs->pool_lock);
		if (fs->pool_n[c] < POOL_KEEP) {
			fs->pool[c][fs->pool_n[c]++] = p;
			p = NULL;
		}
		pthread_mutex_unlock(&fs->pool_lock);
	}
	free(p);
}

static void req_free(struct fs_req *r)
{
	buf_put(r->fs, r->bounce, r->bounce_class);
	free(r->wdata);
	free(r);
}

/* Reply, count, and let xsvhba_fs_free() go once the last one is out. */
static void req_finish(struct fs_req *r, int err)
{
	struct xsvhba_fs *fs = r->fs;
	struct fs_lun *l;

	if (err)
		fuse_reply_err(r->req, -err);
	else if (r->io.op == XSVHBA_FS_READ)
		fuse_reply_buf(r->req, r->bounce ? (const char *)r->bounce + r->skip : NULL,
			       r->user_len);
	else if (r->io.op == XSVHBA_FS_WRITE || r->rmw)
		fuse_reply_write(r->req, r->user_len);
	else
		fuse_reply_err(r->req, 0);
	pthread_mutex_lock(&fs->lock);
	l = lun_find(fs, r->id);
	if (l) {
		if (err) {
			l->s.errors++;
			l->s.last_error = err;
		} else if (r->write) {
			l->s.writes++;
			l->s.write_bytes += r->user_len;
		} else if (r->io.op == XSVHBA_FS_READ) {
			l->s.reads++;
			l->s.read_bytes += r->user_len;
		} else {
			l->s.syncs++;
		}
		if (l->s.inflight)
			l->s.inflight--;
		if (!l->s.present && l->s.inflight == 0)
			lun_sweep(fs);
	}
	if (--fs->outstanding == 0)
		pthread_cond_broadcast(&fs->cond);
	pthread_mutex_unlock(&fs->lock);
	req_free(r);
}

/* Hand r->io to the source; on refusal the request ends here. */
static void req_submit(struct fs_req *r)
{
	struct xsvhba_fs *fs = r->fs;
	int rc;

	if (!gate_enter(fs)) {
		req_finish(r, -EIO);
		return;
	}
	rc = fs->ops->submit(fs->ctx, &r->io);
	gate_exit(fs);
	if (rc < 0)
		req_finish(r, rc);
}

void xsvhba_fs_io_done(struct xsvhba_fs_io *io, int err)
{
	struct fs_req *r = io->fs_priv;

	if (r->waiter) {
		pthread_mutex_lock(&r->waiter->m);
		r->waiter->done = true;
		r->waiter->err = err;
		pthread_cond_signal(&r->waiter->c);
		pthread_mutex_unlock(&r->waiter->m);
		return;
	}

	if (err == 0 && r->rmw) {
		/* edges read: lay the caller's bytes over them and write */
		memcpy(r->bounce + r->skip, r->wdata, r->user_len);
		r->rmw = false;
		r->io.op = XSVHBA_FS_WRITE;
		r->io.bnext = NULL;
		r->io.bpriv = NULL;
		r->io.bdone = NULL;
		req_submit(r);
		return;
	}
	if (err == -ESHUTDOWN || err == -ENXIO)
		err = -EIO;
	if (err == 0 && r->io.op == XSVHBA_FS_READ && r->user_len > DEFER_REPLY_BYTES) {
		struct xsvhba_fs *fs = r->fs;
		uint64_t one = 1;
		bool queued = false;

		pthread_mutex_lock(&fs->lock);
		if (fs->workers_alive) {
			r->err = err;
			r->rq_next = NULL;
			if (fs->rq_tail)
				fs->rq_tail->rq_next = r;
			else
				fs->rq_head = r;
			fs->rq_tail = r;
			queued = true;
		}
		pthread_mutex_unlock(&fs->lock);
		if (queued) {
			if (write(fs->reply_efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
				XS_WARN(COMP, "eventfd: %s", strerror(errno));
			return;
		}
	}
	req_finish(r, err);
}

/* Send the replies handed to the workers (any worker). */
static void drain_replies(struct xsvhba_fs *fs)
{
	for (;;) {
		struct fs_req *r;

		pthread_mutex_lock(&fs->lock);
		r = fs->rq_head;
		if (r) {
			fs->rq_head = r->rq_next;
			if (!fs->rq_head)
				fs->rq_tail = NULL;
		}
		pthread_mutex_unlock(&fs->lock);
		if (!r)
			return;
		req_finish(r, r->err);
	}
}

/* Start a request on LUN id: the table entry counts it from here. */
static struct fs_req *req_new(struct xsvhba_fs *fs, fuse_req_t req, uint16_t id,
			      struct xsvhba_lun *l)
{
	struct fs_req *r;
	struct fs_lun *e;

	/* no refresh per I/O: the table follows the source at every lookup,
	 * getattr and opendir; a LUN the target dropped since then ends with
	 * the initiator's ENXIO, replied EIO */
	pthread_mutex_lock(&fs->lock);
	e = lun_find(fs, id);
	if (!e || !e->s.present) {
		pthread_mutex_unlock(&fs->lock);
		fuse_reply_err(req, e ? EIO : ENOENT);
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		pthread_mutex_unlock(&fs->lock);
		fuse_reply_err(req, ENOMEM);
		return NULL;
	}
	*l = e->s.lun;
	e->s.inflight++;
	fs->outstanding++;
	pthread_mutex_unlock(&fs->lock);
	r->fs = fs;
	r->req = req;
	r->id = id;
	r->io.lun = *l;
	r->io.fs_priv = r;
	return r;
}

static void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct xsvhba_fs *fs = fuse_req_userdata(req);
	struct xsvhba_lun l;
	struct fs_req *r;
	uint64_t cap, end, a0, a1;
	uint16_t id;

	(void)fi;
	if (ino_lun(ino, &id) < 0) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if (off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	r = req_new(fs, req, id, &l);
	if (!r)
		return;
	cap = l.blocks * l.block_size;
	if ((uint64_t)off >= cap || size == 0) {
		r->io.op = XSVHBA_FS_READ;
		req_finish(r, 0); /* EOF */
		return;
	}
	end = XS_MIN((uint64_t)off + size, cap);
	a0 = (uint64_t)off - (uint64_t)off % l.block_size;
	a1 = (end + l.block_size - 1) / l.block_size * l.block_size;
	r->user_len = (size_t)(end - (uint64_t)off);
	r->skip = (size_t)((uint64_t)off - a0);
	r->bounce = buf_get(fs, (size_t)(a1 - a0), &r->bounce_class);
	if (!r->bounce) {
		r->io.op = XSVHBA_FS_READ;
		req_finish(r, -ENOMEM);
		return;
	}
	r->io.op = XSVHBA_FS_READ;
	r->io.buf = r->bounce;
	r->io.off = a0;
	r->io.len = (size_t)(a1 - a0);
	req_submit(r);
}

static void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct xsvhba_fs *fs = fuse_req_userdata(req);
	struct xsvhba_lun l;
	struct fs_req *r;
	uint64_t end, a0, a1;
	uint16_t id;

	(void)fi;
	if (ino_lun(ino, &id) < 0) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if (off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	r = req_new(fs, req, id, &l);
	if (!r)
		return;
	r->write = true;
	r->io.op = XSVHBA_FS_WRITE;
	r->user_len = size;
	if (size == 0) {
		req_finish(r, 0);
		return;
	}
	end = (uint64_t)off + size;
	a0 = (uint64_t)off - (uint64_t)off % l.block_size;
	a1 = (end + l.block_size - 1) / l.block_size * l.block_size;
	r->skip = (size_t)((uint64_t)off - a0);
	if (a0 == (uint64_t)off && a1 == end && size >= SYNC_WRITE_BYTES) {
		/* straight from the request's buffer, waiting here */
		struct waiter w = { .done = false };
		int rc;

		pthread_mutex_init(&w.m, NULL);
		pthread_cond_init(&w.c, NULL);
		r->waiter = &w;
		r->io.buf = (void *)buf;
		r->io.off = a0;
		r->io.len = size;
		if (!gate_enter(fs)) {
			rc = -EIO;
		} else {
			rc = fs->ops->submit(fs->ctx, &r->io);
			gate_exit(fs);
		}
		if (rc == 0) {
			pthread_mutex_lock(&w.m);
			while (!w.done)
				pthread_cond_wait(&w.c, &w.m);
			pthread_mutex_unlock(&w.m);
			rc = w.err == -ESHUTDOWN || w.err == -ENXIO ? -EIO : w.err;
		}
		r->waiter = NULL;
		pthread_cond_destroy(&w.c);
		pthread_mutex_destroy(&w.m);
		req_finish(r, rc);
		return;
	}
	r->bounce = buf_get(fs, (size_t)(a1 - a0), &r->bounce_class);
	if (!r->bounce) {
		req_finish(r, -ENOMEM);
		return;
	}
	r->io.buf = r->bounce;
	r->io.off = a0;
	r->io.len = (size_t)(a1 - a0);
	if (a0 == (uint64_t)off && a1 == end) {
		/* the request's buffer is the worker's: copy it, reply later */
		memcpy(r->bounce, buf, size);
	} else {
		r->wdata = malloc(size);
		if (!r->wdata) {
			req_finish(r, -ENOMEM);
			return;
		}
		memcpy(r->wdata, buf, size);
		r->rmw = true;
		r->io.op = XSVHBA_FS_READ;
	}
	req_submit(r);
}

static void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct xsvhba_fs *fs = fuse_req_userdata(req);
	struct xsvhba_lun l;
	struct fs_req *r;
	uint16_t id;

	(void)datasync, (void)fi;
	if (ino_lun(ino, &id) < 0) {
		fuse_reply_err(req, 0);
		return;
	}
	r = req_new(fs, req, id, &l);
	if (!r)
		return;
	r->io.op = XSVHBA_FS_SYNC;
	req_submit(r);
}

/* --------------------------------------------------------- metadata ops */

static void fs_init(void *userdata, struct fuse_conn_info *conn)
{
	struct xsvhba_fs *fs = userdata;

	conn->max_write = 1u << 20;
	/* asynchronous direct I/O counts as background requests, of which
	 * the kernel allows 12 by default */
	conn->max_background = fs->o.max_background;
	conn->congestion_threshold = fs->o.max_background * 3 / 4;
	if (conn->capable & FUSE_CAP_ASYNC_DIO)
		conn->want |= FUSE_CAP_ASYNC_DIO;
	/* O_TRUNC on open is ignored, as on a block device */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
}

static void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct xsvhba_fs *fs = fuse_req_userdata(req);
	struct fuse_entry_param e;
	struct xsvhba_lun l;
	uint16_t id;

	if (parent != ROOT_INO) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	if (parse_lun(name, &id) < 0 || lun_get(fs, id, &l, true) < 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	memset(&e, 0, sizeof(e));
	e.ino = INO_OF(id);
	e.generation = 1;
	lun_attr(fs, &l, &e.attr);
	fuse_reply_entry(req, &e);
}

static void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct xsvhba_fs *fs = fuse_req_userdata(req);
	struct xsvhba_lun l;
	struct stat st;
	uint16_t id;

	(void)fi;
	if (ino == ROOT_INO) {
		root_attr(fs, &st);
		fuse_reply_attr(req, &st, 0);
		return;
	}
	if (ino_lun(ino, &id) < 0 || lun_get(fs, id, &l, true) < 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	lun_attr(fs, &l, &st);
	fuse_reply_attr(req, &st, 0);
}

/* A LUN has the size it has; times are accepted and not kept. */
static void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct xsvhba_fs *fs = fuse_req_userdata(req);
	struct xsvhba_lun l;
	struct stat st;
	uint16_t id;

	(void)fi;
	if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (ino == ROOT_INO) {
		if (to_set & FUSE_SET_ATTR_SIZE) {
			fuse_reply_err(req, EISDIR);
			return;
		}
		root_attr(fs, &st);
		fuse_reply_attr(req, &st, 0);
		return;
	}
	if (ino_lun(ino, &id) < 0 || lun_get(fs, id, &l, true) < 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if ((to_set & FUSE_SET_ATTR_SIZE) && (uint64_t)attr->st_size != l.blocks * l.block_size) {
		fuse_reply_err(req, EPERM);
		return;
	}
	lun_attr(fs, &l, &st);
	fuse_reply_attr(req, &st, 0);
}

struct dirbuf {
	char *p;
	size_t size;
};

static int dirbuf_add(fuse_req_t req, struct dirbuf *b, const char *name, fuse_ino_t ino)
{
	struct stat st = { .st_ino = ino };
	size_t old = b->size, len = fuse_add_direntry(req, NULL, 0, name, NULL, 0);
	char *np = realloc(b->p, old + len);

	if (!np)
		return -ENOMEM;
	b->p = np;
	b->size += len;
	fuse_add_direntry(req, b->p + old, len, name, &st, (off_t)b->size);
	return 0;
}

static void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct xsvhba_fs *fs = fuse_req_userdata(req);
	struct dirbuf *b;
	unsigned int i;
	int rc = 0;

	if (ino != ROOT_INO) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	refresh(fs);
	rc = dirbuf_add(req, b, ".", ROOT_INO);
	if (!rc)
		rc = dirbuf_add(req, b, "..", ROOT_INO);
	pthread_mutex_lock(&fs->lock);
	for (i = 0; i < fs->n_luns && !rc; i++) {
		char name[16];

		snprintf(name, sizeof(name), "lun%u", fs->luns[i].s.lun.id);
		rc = dirbuf_add(req, b, name, INO_OF(fs->luns[i].s.lun.id));
	}
	pthread_mutex_unlock(&fs->lock);
	if (rc) {
		free(b->p);
		free(b);
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)b;
	fuse_reply_open(req, fi);
}

static void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct dirbuf *b = (struct dirbuf *)(uintptr_t)fi->fh;

	(void)ino;
	if (!b) {
		fuse_reply_err(req, EBADF);
		return;
	}
	if (off < 0 || (size_t)off >= b->size)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, b->p + off, XS_MIN(b->size - (size_t)off, size));
}

static void fs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dirbuf *b = (struct dirbuf *)(uintptr_t)fi->fh;

	(void)ino;
	if (b) {
		free(b->p);
		free(b);
	}
	fuse_reply_err(req, 0);
}

static void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct xsvhba_fs *fs = fuse_req_userdata(req);
	struct xsvhba_lun l;
	uint16_t id;

	if (ino == ROOT_INO) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if (ino_lun(ino, &id) < 0 || lun_get(fs, id, &l, true) < 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fi->direct_io = 1;
	fi->keep_cache = 0;
	fi->fh = id;
	fuse_reply_open(req, fi);
}

static void fs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino, (void)fi;
	fuse_reply_err(req, 0);
}

static void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino, (void)fi;
	fuse_reply_err(req, 0);
}

static const struct fuse_lowlevel_ops fs_ops = {
	.init = fs_init,
	.lookup = fs_lookup,
	.getattr = fs_getattr,
	.setattr = fs_setattr,
	.opendir = fs_opendir,
	.readdir = fs_readdir,
	.releasedir = fs_releasedir,
	.open = fs_open,
	.read = fs_read,
	.write = fs_write,
	.flush = fs_flush,
	.release = fs_release,
	.fsync = fs_fsync,
};

/* ---------------------------------------------- the initiator as source */

struct sync_cmd {
	struct xsvhba_cmd cmd;
	struct xsvhba *v;
	struct xsvhba_fs_io *io;
};

static void io_end(struct xsvhba_fs_io *io, int err)
{
	if (io->bdone)
		io->bdone(io, err);
	else
		xsvhba_fs_io_done(io, err);
}

static void sync_cmd_done(struct xsvhba_cmd *cmd)
{
	struct sync_cmd *s = xs_container_of(cmd, struct sync_cmd, cmd);
	struct xsvhba_fs_io *io = s->io;
	int err = cmd->result;

	if (err == 0 && cmd->status != 0) {
		bool ua = cmd->status == 0x02 && cmd->sense_len >= 3 && (cmd->sense[2] & 0xf) == 6;
		bool busy = cmd->status == 0x08 || cmd->status == 0x28;

		if ((ua || busy) && io->ua_retries++ < SYNC_RETRIES &&
		    xsvhba_submit(s->v, cmd) == 0)
			return;
		err = -EIO;
	}
	free(s);
	io_end(io, err);
}

static void rw_done(void *arg, int err)
{
	io_end(arg, err);
}

int xsvhba_fs_io_start(struct xsvhba *v, struct xsvhba_fs_io *io)
{
	struct sync_cmd *s;
	int rc;

	switch (io->op) {
	case XSVHBA_FS_READ:
	case XSVHBA_FS_WRITE:
		return xsvhba_io_submit(v, io->lun.id, io->op == XSVHBA_FS_WRITE, io->buf, io->off,
					io->len, rw_done, io);
	case XSVHBA_FS_SYNC:
		s = calloc(1, sizeof(*s));
		if (!s)
			return -ENOMEM;
		s->v = v;
		s->io = io;
		s->cmd.lun = io->lun.wire;
		s->cmd.cdb[0] = 0x91; /* SYNCHRONIZE CACHE(16), whole LUN */
		s->cmd.cdb_len = 16;
		s->cmd.dir = XSVHBA_DIR_NONE;
		s->cmd.done = sync_cmd_done;
		rc = xsvhba_submit(v, &s->cmd);
		if (rc < 0)
			free(s);
		return rc;
	}
	return -EINVAL;
}

static int init_get_luns(void *ctx, struct xsvhba_lun *out, unsigned int max)
{
	return xsvhba_get_luns(ctx, out, max);
}

static int init_submit(void *ctx, struct xsvhba_fs_io *io)
{
	io->bdone = NULL;
	return xsvhba_fs_io_start(ctx, io);
}

const struct xsvhba_fs_ops xsvhba_fs_initiator_ops = {
	.get_luns = init_get_luns,
	.submit = init_submit,
};

/* ------------------------------------------------------------ lifecycle */

static void *worker_main(void *arg)
{
	struct xsvhba_fs *fs = arg;
	struct fuse_buf buf = { .mem = NULL };
	struct pollfd p[3] = {
		{ .fd = fuse_session_fd(fs->se), .events = POLLIN },
		{ .fd = fs->stop_efd, .events = POLLIN },
		{ .fd = fs->reply_efd, .events = POLLIN },
	};

	for (;;) {
		int res;

		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[2].revents) {
			uint64_t n;

			if (read(fs->reply_efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
				XS_WARN(COMP, "eventfd: %s", strerror(errno));
			drain_replies(fs);
		}
		if (p[1].revents)
			break;
		if (!p[0].revents)
			continue;
		res = fuse_session_receive_buf(fs->se, &buf);
		if (res == -EINTR || res == -EAGAIN)
			continue;
		if (res <= 0)
			break; /* 0: unmounted */
		fuse_session_process_buf(fs->se, &buf);
	}
	free(buf.mem);
	/* the last worker out sends what is still queued; later completions
	 * reply on their own thread */
	pthread_mutex_lock(&fs->lock);
	fs->workers_alive--;
	pthread_mutex_unlock(&fs->lock);
	drain_replies(fs);
	return NULL;
}

int xsvhba_fs_mkdir_p(const char *path)
{
	char tmp[PATH_MAX];

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/*
 * Mount: as root with mount(2) on a /dev/fuse descriptor we opened (then
 * the unmount is ours too, by path, and libfuse never unmounts a path that
 * may meanwhile hold another mount); without the privilege, fusermount3.
 */
static int do_mount(struct xsvhba_fs *fs)
{
	char opts[256], devfd[32];
	int fd, rc;

	fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		snprintf(opts, sizeof(opts),
			 "fd=%d,rootmode=40000,user_id=%u,group_id=%u,default_permissions", fd,
			 (unsigned int)getuid(), (unsigned int)getgid());
		if (mount(fs->fsname, fs->mnt, "fuse.xsvhba", MS_NOSUID | MS_NODEV, opts) == 0) {
			snprintf(devfd, sizeof(devfd), "/dev/fd/%d", fd);
			if (fuse_session_mount(fs->se, devfd) != 0) {
				umount2(fs->mnt, MNT_DETACH);
				close(fd);
				return -EIO;
			}
			fs->self_mounted = true;
			return 0;
		}
		rc = -errno;
		close(fd);
		if (rc != -EPERM)
			return rc;
	}
	if (fuse_session_mount(fs->se, fs->mnt) != 0)
		return -EIO;
	return 0;
}

struct xsvhba_fs *xsvhba_fs_mount(const struct xsvhba_fs_opts *o, const struct xsvhba_fs_ops *ops,
				  void *ctx)
{
	struct xsvhba_fs *fs;
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	char fsopt[160];
	int rc, fd, err;

	if (!o || o->size != sizeof(*o) || !o->mountpoint || !ops || !ops->get_luns ||
	    !ops->submit || o->threads > 64) {
		errno = EINVAL;
		return NULL;
	}
	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return NULL;
	fs->o = *o;
	if (!fs->o.threads)
		fs->o.threads = 4;
	if (!fs->o.max_background)
		fs->o.max_background = 64;
	if (snprintf(fs->mnt, sizeof(fs->mnt), "%s", o->mountpoint) >= (int)sizeof(fs->mnt)) {
		free(fs);
		errno = ENAMETOOLONG;
		return NULL;
	}
	snprintf(fs->fsname, sizeof(fs->fsname), "%s", o->fsname ? o->fsname : "xsvhba");
	fs->ops = ops;
	fs->ctx = ctx;
	fs->stop_efd = -1;
	fs->reply_efd = -1;
	clock_gettime(CLOCK_REALTIME, &fs->t0);
	pthread_mutex_init(&fs->lock, NULL);
	pthread_mutex_init(&fs->pool_lock, NULL);
	pthread_cond_init(&fs->cond, NULL);
	rc = xsvhba_fs_mkdir_p(fs->mnt);
	if (rc < 0) {
		XS_ERR(COMP, "cannot create %s: %s", fs->mnt, xs_strerror(rc));
		err = -rc;
		goto err_free;
	}
	snprintf(fsopt, sizeof(fsopt), "-ofsname=%s,subtype=xsvhba,default_permissions",
		 fs->fsname);
	if (fuse_opt_add_arg(&args, "xsvhba") || fuse_opt_add_arg(&args, fsopt)) {
		err = ENOMEM;
		goto err_args;
	}
	fs->se = fuse_session_new(&args, &fs_ops, sizeof(fs_ops), fs);
	if (!fs->se) {
		err = EINVAL;
		goto err_args;
	}
	rc = do_mount(fs);
	if (rc < 0) {
		XS_ERR(COMP, "cannot mount %s: %s", fs->mnt, xs_strerror(rc));
		err = -rc;
		goto err_session;
	}
	fd = fuse_session_fd(fs->se);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	fs->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	fs->reply_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	fs->threads = calloc(fs->o.threads, sizeof(*fs->threads));
	if (fs->stop_efd < 0 || fs->reply_efd < 0 || !fs->threads) {
		err = ENOMEM;
		goto err_mount;
	}
	for (fs->n_threads = 0; fs->n_threads < fs->o.threads; fs->n_threads++) {
		pthread_mutex_lock(&fs->lock);
		fs->workers_alive++;
		pthread_mutex_unlock(&fs->lock);
		if (pthread_create(&fs->threads[fs->n_threads], NULL, worker_main, fs) != 0) {
			fs->workers_alive--;
			err = EAGAIN;
			goto err_threads;
		}
	}
	fuse_opt_free_args(&args);
	XS_DEBUG(COMP, "%s mounted (%u workers)", fs->mnt, fs->n_threads);
	return fs;

err_threads:
	{
		uint64_t one = 1;

		if (write(fs->stop_efd, &one, sizeof(one)) < 0)
			XS_WARN(COMP, "eventfd: %s", strerror(errno));
		while (fs->n_threads)
			pthread_join(fs->threads[--fs->n_threads], NULL);
	}
err_mount:
	free(fs->threads);
	if (fs->stop_efd >= 0)
		close(fs->stop_efd);
	if (fs->reply_efd >= 0)
		close(fs->reply_efd);
	if (fs->self_mounted)
		umount2(fs->mnt, MNT_DETACH);
	else
		fuse_session_unmount(fs->se);
err_session:
	fuse_session_destroy(fs->se);
err_args:
	fuse_opt_free_args(&args);
err_free:
	pthread_cond_destroy(&fs->cond);
	pthread_mutex_destroy(&fs->pool_lock);
	pthread_mutex_destroy(&fs->lock);
	free(fs);
	errno = err;
	return NULL;
}

void xsvhba_fs_quiesce(struct xsvhba_fs *fs)
{
	if (!fs)
		return;
	pthread_mutex_lock(&fs->lock);
	if (fs->quiesced) {
		pthread_mutex_unlock(&fs->lock);
		return;
	}
	fs->quiesced = true;
	while (fs->gate_users)
		pthread_cond_wait(&fs->cond, &fs->lock);
	pthread_mutex_unlock(&fs->lock);
	/* replies to an aborted connection are expected from now on: quiet */
	fuse_session_exit(fs->se);
	if (fs->self_mounted && !fs->unmounted) {
		if (umount2(fs->mnt, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
			XS_WARN(COMP, "unmount %s: %s", fs->mnt, strerror(errno));
		fs->unmounted = true;
	}
	XS_DEBUG(COMP, "%s quiesced", fs->mnt);
}

void xsvhba_fs_free(struct xsvhba_fs *fs)
{
	uint64_t one = 1;
	unsigned int waited_s = 0;

	if (!fs)
		return;
	xsvhba_fs_quiesce(fs);
	pthread_mutex_lock(&fs->lock);
	while (fs->outstanding) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 5;
		if (pthread_cond_timedwait(&fs->cond, &fs->lock, &ts) == ETIMEDOUT)
			XS_WARN(COMP, "%s: still waiting for %u request(s) to end (%u s)", fs->mnt,
				fs->outstanding, waited_s += 5);
	}
	pthread_mutex_unlock(&fs->lock);
	if (write(fs->stop_efd, &one, sizeof(one)) < 0)
		XS_WARN(COMP, "eventfd: %s", strerror(errno));
	while (fs->n_threads)
		pthread_join(fs->threads[--fs->n_threads], NULL);
	if (!fs->self_mounted)
		fuse_session_unmount(fs->se);
	fuse_session_destroy(fs->se); /* closes the device: the connection ends */
	close(fs->stop_efd);
	close(fs->reply_efd);
	free(fs->threads);
	free(fs->luns);
	for (int c = 0; c < POOL_CLASSES; c++)
		while (fs->pool_n[c])
			free(fs->pool[c][--fs->pool_n[c]]);
	pthread_cond_destroy(&fs->cond);
	pthread_mutex_destroy(&fs->pool_lock);
	pthread_mutex_destroy(&fs->lock);
	XS_DEBUG(COMP, "%s: stopped", fs->mnt);
	free(fs);
}

const char *xsvhba_fs_mountpoint(const struct xsvhba_fs *fs)
{
	return fs->mnt;
}

int xsvhba_fs_lun_stats(struct xsvhba_fs *fs, struct xsvhba_fs_lun_stats *out, unsigned int max)
{
	int n;

	refresh(fs);
	pthread_mutex_lock(&fs->lock);
	n = (int)fs->n_luns;
	for (unsigned int i = 0; i < fs->n_luns && i < max; i++)
		out[i] = fs->luns[i].s;
	pthread_mutex_unlock(&fs->lock);
	return n;
}
