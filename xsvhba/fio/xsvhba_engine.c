/* SPDX-License-Identifier: MIT */
/*
 * xsvhba_engine.c - a fio external ioengine that drives the xsvhba SRP
 * initiator library directly (no FUSE, no kernel block layer):
 *
 *   fio --ioengine=external:/path/to/xsvhba_fio.so --filename=lun0 \
 *       --xs_target_lid=2 [--xs_fabric=soft:/run/fabric.sock] [--xs_lun=0] ...
 *
 * Each fio job logs in with its own initiator (own fabric port, own RC
 * connection) with a queue depth of the job's iodepth. READ/WRITE go through
 * xsvhba_io_submit() (READ(16)/WRITE(16) split at the LUN's maximum transfer
 * size, unit attentions and TASK SET FULL retried by the library); SYNC is a
 * SYNCHRONIZE CACHE(16).
 *
 * Threads: a loop thread runs the initiator only for the login and the
 * first discovery. From then on the job's own thread runs the initiator's
 * event loop inside getevents(): queue() appends to the initiator's queue,
 * getevents() runs the loop - sending what was queued, polling the CQ -
 * until enough completions have come in (the completion callbacks stop the
 * loop) or the timeout timer fires. No thread hand-off per I/O; reconnects,
 * timers and rescans progress whenever fio waits for completions.
 *
 * The filename is only a label; the LUN comes from xs_lun. The size of the
 * "file" is the LUN's capacity, read by a short probe login when fio asks
 * for it before the job starts (fio does that in its parent process).
 *
 * Built against the headers of the exact fio version installed (see
 * CMakeLists.txt next to this file).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fio.h"
#include "optgroup.h"

#include <xscore/common.h>
#include <xscore/evloop.h>
#include <xscore/fabric.h>
#include <xscore/log.h>
#include "xsvhba/vhba.h"

#if FIO_IOOPS_VERSION != 31
#error "xsvhba fio engine written for FIO_IOOPS_VERSION 31 (fio 3.33)"
#endif

#define ENGINE_NAME "xsvhba"

/* Engine options (fio parses them into this struct; pad keeps off1 != 0). */
struct xsfio_options {
	void *pad;
	char *fabric;
	char *port_name;
	unsigned int target_lid;
	char *service_id;
	unsigned int lun;
	char *wwpn;
	unsigned int link_down_ms;
	unsigned int wait_s;
};

static struct fio_option options[] = {
	{
		.name = "xs_fabric",
		.lname = "xsvhba fabric spec",
		.type = FIO_OPT_STR_STORE,
		.off1 = offsetof(struct xsfio_options, fabric),
		.def = "soft",
		.help = "Fabric spec of the initiator (\"soft\", \"soft:/path/sock\", \"verbs:mlx5_0:1\")",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "xs_port_name",
		.lname = "xsvhba soft fabric port name",
		.type = FIO_OPT_STR_STORE,
		.off1 = offsetof(struct xsfio_options, port_name),
		.help = "Soft fabric port name prefix (default xsfio; -<pid>-<job> is appended)",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "xs_target_lid",
		.lname = "xsvhba target LID",
		.type = FIO_OPT_INT,
		.off1 = offsetof(struct xsfio_options, target_lid),
		.minval = 1,
		.maxval = 0xbfff,
		.help = "LID of the SRP target port (required)",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "xs_service_id",
		.lname = "xsvhba SRP service id",
		.type = FIO_OPT_STR_STORE,
		.off1 = offsetof(struct xsfio_options, service_id),
		.help = "Service id of the SRP target (default the target's default)",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "xs_lun",
		.lname = "xsvhba LUN id",
		.type = FIO_OPT_INT,
		.off1 = offsetof(struct xsfio_options, lun),
		.minval = 0,
		.maxval = 16383,
		.def = "0",
		.help = "LUN id to do I/O on",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "xs_wwpn",
		.lname = "xsvhba initiator WWPN",
		.type = FIO_OPT_STR_STORE,
		.off1 = offsetof(struct xsfio_options, wwpn),
		.def = "2100001397000001",
		.help = "WWPN of this initiator port (hex; LUN masking uses it)",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "xs_link_down_ms",
		.lname = "xsvhba link-down timeout",
		.type = FIO_OPT_INT,
		.off1 = offsetof(struct xsfio_options, link_down_ms),
		.def = "30000",
		.help = "Hold I/O this long while the target is gone",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "xs_wait",
		.lname = "xsvhba login wait",
		.type = FIO_OPT_INT,
		.off1 = offsetof(struct xsfio_options, wait_s),
		.def = "30",
		.help = "Seconds to wait for the first login",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = NULL,
	},
};

/* One logged-in initiator with its event-loop thread. */
struct xsfio_sess {
	struct xs_loop *loop;
	struct xs_fabric *fabric;
	struct xsvhba *v;
	pthread_t thread;
	bool running;          /* the loop thread runs (login, discovery) */
	struct xs_timer *timeout;
	struct xsvhba_lun lun;
};

/* Per fio job (thread_data->io_ops_data). Everything but the session's
 * login runs on the job's thread. */
struct xsfio_data {
	struct xsfio_sess sess;
	struct io_u **ring;     /* completed, waiting for getevents */
	unsigned int ring_size, head, count;
	unsigned int want;      /* getevents' min: stop the loop at this count */
	struct io_u **events;   /* what the last getevents returned */
};

/* Per io_u (io_u->engine_data). */
struct xsfio_iou {
	struct io_u *io_u;
	struct xsfio_data *d;
	struct xsvhba_cmd cmd;  /* SYNCHRONIZE CACHE */
};

static void *loop_main(void *arg)
{
	xs_loop_run(arg);
	return NULL;
}

static void on_wake(struct xs_loop *loop, void *arg)
{
	(void)arg;
	xs_loop_stop(loop);
}

static int parse_hex64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 16);
	return errno || end == s || *end ? -EINVAL : 0;
}

static void stop_thread(struct xsfio_sess *s)
{
	if (s->running) {
		xs_loop_wake(s->loop);
		pthread_join(s->thread, NULL);
		s->running = false;
	}
}

static void on_timeout(struct xs_loop *loop, struct xs_timer *t, void *arg)
{
	xs_loop_stop(loop);
}

static void sess_close(struct xsfio_sess *s)
{
	stop_thread(s);
	if (s->v)
		xsvhba_free(s->v);
	if (s->timeout)
		xs_timer_free(s->timeout);
	if (s->fabric)
		xs_fabric_close(s->fabric);
	if (s->loop)
		xs_loop_free(s->loop);
	memset(s, 0, sizeof(*s));
}

/* Log in to the target and find LUN o->lun. tag names the port. */
static int sess_open(struct xsfio_sess *s, const struct xsfio_options *o, unsigned int qd,
		     const char *tag)
{
	/* Multi-channel logins: the jobs of a run (and the probe) share the
	 * WWPN and must not log each other out. */
	struct xsvhba_opts vo = { .size = sizeof(vo), .own_fabric_events = true,
				  .multi_channel = true };
	struct xs_fabric_opts fo = { .size = sizeof(fo) };
	char pname[96];
	int rc;

	memset(s, 0, sizeof(*s));
	if (!o->target_lid) {
		log_err("xsvhba: xs_target_lid is required\n");
		return -EINVAL;
	}
	vo.dest.lid = (uint16_t)o->target_lid;
	vo.queue_depth = qd < 1 ? 1 : XS_MIN(qd, (unsigned int)XSVHBA_MAX_QUEUE_DEPTH);
	vo.link_down_ms = o->link_down_ms;
	if (o->service_id && parse_hex64(o->service_id, &vo.service_id) < 0) {
		log_err("xsvhba: bad xs_service_id \"%s\" (hex expected)\n", o->service_id);
		return -EINVAL;
	}
	if (o->wwpn && parse_hex64(o->wwpn, &vo.wwpn) < 0) {
		log_err("xsvhba: bad xs_wwpn \"%s\" (hex expected)\n", o->wwpn);
		return -EINVAL;
	}
	snprintf(pname, sizeof(pname), "%s-%d-%s", o->port_name ? o->port_name : "xsfio",
		 (int)getpid(), tag);
	fo.port_name = pname;

	s->loop = xs_loop_new();
	if (!s->loop)
		return -errno;
	xs_loop_set_wake(s->loop, on_wake, NULL);
	s->fabric = xs_fabric_open(o->fabric ? o->fabric : "soft", &fo);
	if (!s->fabric) {
		rc = -errno;
		log_err("xsvhba: cannot open fabric %s: %s\n", o->fabric, strerror(-rc));
		goto out_close;
	}
	s->timeout = xs_timer_new(s->loop, on_timeout, NULL);
	if (!s->timeout) {
		rc = -ENOMEM;
		goto out_close;
	}
	s->v = xsvhba_new(s->fabric, s->loop, &vo);
	if (!s->v) {
		rc = -errno;
		log_err("xsvhba: cannot create the initiator: %s\n", strerror(-rc));
		goto out_close;
	}
	rc = xsvhba_start(s->v);
	if (rc < 0)
		goto out_close;
	if (pthread_create(&s->thread, NULL, loop_main, s->loop) != 0) {
		rc = -EAGAIN;
		goto out_close;
	}
	s->running = true;
	rc = xsvhba_wait_ready(s->v, (int)(o->wait_s ? o->wait_s : 30) * 1000);
	if (rc < 0) {
		log_err("xsvhba: no login to LID %u: %s\n", o->target_lid, strerror(-rc));
		goto out_close;
	}
	rc = xsvhba_get_lun(s->v, (uint16_t)o->lun, &s->lun);
	if (rc < 0) {
		log_err("xsvhba: the target has no LUN %u (or it is masked)\n", o->lun);
		goto out_close;
	}
	/* Logged in: the job's thread runs the loop from now on. */
	stop_thread(s);
	return 0;

out_close:
	sess_close(s);
	return rc;
}

static int xsfio_get_file_size(struct thread_data *td, struct fio_file *f)
{
	struct xsfio_data *d = td->io_ops_data;
	struct xsfio_sess probe;
	int rc;

	if (fio_file_size_known(f))
		return 0;
	if (d) {
		f->real_file_size = d->sess.lun.blocks * d->sess.lun.block_size;
	} else {
		/* Before the job runs (fio's parent process): a short login. */
		rc = sess_open(&probe, td->eo, 1, "probe");
		if (rc < 0)
			return 1; /* sess_open said why */
		f->real_file_size = probe.lun.blocks * probe.lun.block_size;
		sess_close(&probe);
	}
	fio_file_set_size_known(f);
	return 0;
}

static int xsfio_init(struct thread_data *td)
{
	struct xsfio_data *d;
	char tag[32];
	int rc;

	d = calloc(1, sizeof(*d));
	if (!d)
		return 1;
	d->ring_size = td->o.iodepth + 1;
	d->ring = calloc(d->ring_size, sizeof(*d->ring));
	d->events = calloc(d->ring_size, sizeof(*d->events));
	if (!d->ring || !d->events)
		goto out_free;
	snprintf(tag, sizeof(tag), "job%d", td->thread_number);
	rc = sess_open(&d->sess, td->eo, td->o.iodepth, tag);
	if (rc < 0)
		goto out_free; /* sess_open said why */
	td->io_ops_data = d;
	return 0;

out_free:
	free(d->events);
	free(d->ring);
	free(d);
	return 1;
}

static void xsfio_cleanup(struct thread_data *td)
{
	struct xsfio_data *d = td->io_ops_data;

	if (!d)
		return;
	sess_close(&d->sess);
	free(d->events);
	free(d->ring);
	free(d);
	td->io_ops_data = NULL;
}

static int xsfio_io_u_init(struct thread_data *td, struct io_u *io_u)
{
	struct xsfio_iou *iu = calloc(1, sizeof(*iu));

	if (!iu)
		return 1;
	iu->io_u = io_u;
	iu->d = td->io_ops_data;
	io_u->engine_data = iu;
	return 0;
}

static void xsfio_io_u_free(struct thread_data *td, struct io_u *io_u)
{
	(void)td;
	free(io_u->engine_data);
	io_u->engine_data = NULL;
}

/* From the loop, on the job's thread (inside getevents): hand the io_u to
 * getevents and stop the loop once it has what it waits for. */
static void complete(struct xsfio_iou *iu, int err)
{
	struct xsfio_data *d = iu->d;

	iu->io_u->error = err;
	if (!err)
		iu->io_u->resid = 0;
	d->ring[(d->head + d->count) % d->ring_size] = iu->io_u;
	d->count++;
	if (d->count >= d->want)
		xs_loop_stop(d->sess.loop);
}

static void io_done(void *arg, int err)
{
	complete(arg, err < 0 ? -err : 0);
}

static void sync_done(struct xsvhba_cmd *cmd)
{
	struct xsfio_iou *iu = cmd->arg;
	int err = 0;

	if (cmd->result < 0)
		err = -cmd->result;
	else if (cmd->status != 0)
		err = EIO;
	complete(iu, err);
}

static enum fio_q_status xsfio_queue(struct thread_data *td, struct io_u *io_u)
{
	struct xsfio_data *d = td->io_ops_data;
	struct xsfio_iou *iu = io_u->engine_data;
	int rc;

	fio_ro_check(td, io_u);
	switch (io_u->ddir) {
	case DDIR_READ:
	case DDIR_WRITE:
		rc = xsvhba_io_submit(d->sess.v, d->sess.lun.id, io_u->ddir == DDIR_WRITE,
				      io_u->xfer_buf, io_u->offset, io_u->xfer_buflen, io_done, iu);
		break;
	case DDIR_SYNC:
	case DDIR_DATASYNC:
		memset(&iu->cmd, 0, sizeof(iu->cmd));
		iu->cmd.lun = d->sess.lun.wire;
		iu->cmd.cdb[0] = 0x91; /* SYNCHRONIZE CACHE(16), whole LUN */
		iu->cmd.cdb_len = 16;
		iu->cmd.dir = XSVHBA_DIR_NONE;
		iu->cmd.done = sync_done;
		iu->cmd.arg = iu;
		rc = xsvhba_submit(d->sess.v, &iu->cmd);
		break;
	default:
		rc = -EOPNOTSUPP; /* trim: not offered */
		break;
	}
	if (rc < 0) {
		io_u->error = -rc;
		return FIO_Q_COMPLETED;
	}
	return FIO_Q_QUEUED;
}

/*
 * Run the initiator's loop on this thread until @min completions are in
 * (at least one pass, which also sends what queue() put in), or @t passes.
 * Nothing to wait for (min reached already) or a zero timeout: one pass that
 * does not block.
 */
static int xsfio_getevents(struct thread_data *td, unsigned int min, unsigned int max,
			   const struct timespec *t)
{
	struct xsfio_data *d = td->io_ops_data;
	unsigned int n = 0;

	if (t || d->count >= min) {
		uint64_t ms = 0;

		if (t && d->count < min)
			ms = (uint64_t)t->tv_sec * 1000 + ((uint64_t)t->tv_nsec + 999999) / 1000000;
		xs_timer_arm(d->sess.timeout, ms, 0);
	}
	d->want = d->count < min ? min : UINT32_MAX;
	xs_loop_run(d->sess.loop);
	/* Woken for the first completions: one more pass that does not block
	 * takes whatever else has arrived meanwhile, so fio reaps and queues
	 * in batches rather than one I/O per wake-up. */
	if (d->count >= min && d->count < max && d->want != UINT32_MAX) {
		d->want = UINT32_MAX;
		xs_timer_arm(d->sess.timeout, 0, 0);
		xs_loop_run(d->sess.loop);
	}
	xs_timer_disarm(d->sess.timeout);
	while (d->count && n < max) {
		d->events[n++] = d->ring[d->head];
		d->head = (d->head + 1) % d->ring_size;
		d->count--;
	}
	return (int)n;
}

static struct io_u *xsfio_event(struct thread_data *td, int event)
{
	struct xsfio_data *d = td->io_ops_data;

	return d->events[event];
}

static int xsfio_open_file(struct thread_data *td, struct fio_file *f)
{
	(void)td;
	(void)f;
	return 0;
}

static int xsfio_close_file(struct thread_data *td, struct fio_file *f)
{
	(void)td;
	(void)f;
	return 0;
}

/* fio looks this symbol up in the .so given to ioengine=external:. */
__attribute__((visibility("default"))) struct ioengine_ops ioengine = {
	.name = ENGINE_NAME,
	.version = FIO_IOOPS_VERSION,
	.flags = FIO_DISKLESSIO | FIO_NOEXTEND | FIO_NODISKUTIL,
	.init = xsfio_init,
	.cleanup = xsfio_cleanup,
	.queue = xsfio_queue,
	.getevents = xsfio_getevents,
	.event = xsfio_event,
	.open_file = xsfio_open_file,
	.close_file = xsfio_close_file,
	.get_file_size = xsfio_get_file_size,
	.io_u_init = xsfio_io_u_init,
	.io_u_free = xsfio_io_u_free,
	.options = options,
	.option_struct_size = sizeof(struct xsfio_options),
};
