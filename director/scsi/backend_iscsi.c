/* SPDX-License-Identifier: MIT */
/*
 * backend_iscsi.c - a LUN on an iSCSI target through libiscsi, as a
 * pass-through back end: every command (but REPORT LUNS, answered by the
 * target emulation) is sent to the iSCSI LUN with its CDB and data buffer;
 * status, sense and residual come back.
 *
 * Asynchronous: iscsi_scsi_command_async() queues PDUs, the socket is
 * serviced from process(). The event fd is a private epoll set holding the
 * iSCSI socket (with the events libiscsi asks for: POLLOUT while PDUs wait
 * to go out) and a 250 ms timerfd, which drives libiscsi's timeouts and its
 * reconnect logic. The socket changes on a reconnect: process() re-adds the
 * current one.
 *
 * Connection loss: left to libiscsi's own reconnect (log in again, re-send
 * the commands in flight), bounded by reconnect_max attempts; commands that
 * fail in the transport end with CHECK CONDITION, NOT READY / LOGICAL UNIT
 * NOT READY, INITIALIZING COMMAND REQUIRED (02 04/02), and once the session
 * is gone for good the back end answers that at once until the LUN is
 * re-added.
 */
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "scsi_int.h"

#ifdef XSD_HAVE_LIBISCSI
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#define ISCSI_LOG "scsi-iscsi"
#define DEFAULT_IQN "iqn.2026-01.com.xsigo:director"
#define TICK_MS 250

struct iscsi_be {
	struct xsd_scsi_bdev be;
	struct iscsi_context *iscsi;
	int lun;
	int epfd;
	int tfd;
	int sock;           /* the socket last put in epfd, -1 none */
	unsigned int inflight;
	bool dead;          /* the reconnect bound ran out */
	uint64_t capacity;
	uint32_t block_size;
	/* completions gathered during iscsi_service(), delivered after it */
	struct xsd_scsi_cmd *done_head, *done_tail;
};

/* Per command: the task and where its completion goes. */
struct iscsi_req {
	struct iscsi_be *ib;
	struct xsd_scsi_cmd *cmd;
	uint32_t want;
};

static struct iscsi_be *to_ib(struct xsd_scsi_bdev *be)
{
	return xs_container_of(be, struct iscsi_be, be);
}

/*
 * Keep epfd watching the current socket for what libiscsi wants. A
 * reconnect closes the old socket (which drops it from epfd) and the new
 * one often gets the same number, so the number alone does not tell: MOD
 * every time, ADD when epfd does not hold it (ENOENT).
 */
static void sync_socket(struct iscsi_be *ib)
{
	int fd = iscsi_get_fd(ib->iscsi);
	struct epoll_event ev = { 0 };
	int w;

	if (ib->sock >= 0 && fd != ib->sock)
		epoll_ctl(ib->epfd, EPOLL_CTL_DEL, ib->sock, NULL); /* may be closed already */
	ib->sock = fd;
	if (fd < 0)
		return;
	w = iscsi_which_events(ib->iscsi);
	ev.events = EPOLLIN;
	if (w & POLLOUT)
		ev.events |= EPOLLOUT;
	ev.data.fd = fd;
	if (epoll_ctl(ib->epfd, EPOLL_CTL_MOD, fd, &ev) == 0)
		return;
	if (errno != ENOENT || epoll_ctl(ib->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		XS_WARN(ISCSI_LOG, "%s: watching socket %d: %s", ib->be.desc, fd, xs_strerror(-errno));
}

static void finish(struct iscsi_be *ib, struct xsd_scsi_cmd *cmd)
{
	cmd->priv.next = NULL;
	if (ib->done_tail)
		ib->done_tail->priv.next = cmd;
	else
		ib->done_head = cmd;
	ib->done_tail = cmd;
}

static void task_done(struct iscsi_context *iscsi, int status, void *command_data, void *priv)
{
	struct scsi_task *task = command_data;
	struct iscsi_req *rq = priv;
	struct iscsi_be *ib = rq->ib;
	struct xsd_scsi_cmd *cmd = rq->cmd;
	uint32_t moved = rq->want;

	(void)iscsi;
	if (task->residual_status == SCSI_RESIDUAL_UNDERFLOW)
		moved = task->residual >= rq->want ? 0 : rq->want - (uint32_t)task->residual;
	if (status == SCSI_STATUS_GOOD || status == SCSI_STATUS_CONDITION_MET) {
		cmd->status = XSD_SCSI_GOOD;
		cmd->sense_len = 0;
	} else if (status == SCSI_STATUS_CHECK_CONDITION) {
		cmd->status = XSD_SCSI_CHECK_CONDITION;
		scsi_sense_fill(cmd->sense, (uint8_t)task->sense.key, (uint16_t)task->sense.ascq);
		cmd->sense_len = XSD_SCSI_SENSE_LEN;
	} else if (status >= 0 && status <= 0xff) {
		cmd->status = (uint8_t)status; /* BUSY, TASK SET FULL, RESERVATION CONFLICT */
		cmd->sense_len = 0;
	} else {
		/* Transport: cancelled, timed out or the connection is gone
		 * for good. */
		XS_WARN(ISCSI_LOG, "%s: command 0x%02x failed in transport: %s", ib->be.desc,
			cmd->cdb[0], iscsi_get_error(ib->iscsi));
		if (!iscsi_is_logged_in(ib->iscsi))
			ib->dead = true;
		cmd->status = XSD_SCSI_CHECK_CONDITION;
		scsi_sense_fill(cmd->sense, XSD_SK_NOT_READY, XSD_ASC_NOT_READY_INIT_REQUIRED);
		cmd->sense_len = XSD_SCSI_SENSE_LEN;
		moved = 0;
	}
	cmd->xfer_len = moved;
	scsi_passthrough_fix_vpd(cmd, ib->block_size);
	scsi_free_scsi_task(task);
	free(rq);
	ib->inflight--;
	finish(ib, cmd);
}

static int iscsi_be_execute(struct xsd_scsi_bdev *be, struct xsd_scsi_cmd *cmd)
{
	struct iscsi_be *ib = to_ib(be);
	struct scsi_task *task;
	struct iscsi_req *rq;
	size_t len = cmd->dir == XSD_SCSI_DIR_NONE ? 0 : scsi_iov_len(cmd->iov, cmd->iovcnt);
	int dir = cmd->dir == XSD_SCSI_DIR_IN ? SCSI_XFER_READ
		  : cmd->dir == XSD_SCSI_DIR_OUT ? SCSI_XFER_WRITE : SCSI_XFER_NONE;

	if (len > UINT32_MAX / 2)
		return -EINVAL;
	if (ib->dead) {
		scsi_sense(cmd, XSD_SK_NOT_READY, XSD_ASC_NOT_READY_INIT_REQUIRED);
		finish(ib, cmd);
		return 0;
	}
	rq = calloc(1, sizeof(*rq));
	if (!rq)
		return -ENOMEM;
	task = scsi_create_task(cmd->cdb_len, cmd->cdb, dir, (int)len);
	if (!task) {
		free(rq);
		return -ENOMEM;
	}
	/* struct scsi_iovec is laid out like struct iovec; libiscsi does not
	 * write through iov_base's array, only the data it points to. */
	if (dir == SCSI_XFER_READ)
		scsi_task_set_iov_in(task, (struct scsi_iovec *)cmd->iov, (int)cmd->iovcnt);
	else if (dir == SCSI_XFER_WRITE)
		scsi_task_set_iov_out(task, (struct scsi_iovec *)cmd->iov, (int)cmd->iovcnt);
	rq->ib = ib;
	rq->cmd = cmd;
	rq->want = (uint32_t)len;
	if (iscsi_scsi_command_async(ib->iscsi, ib->lun, task, task_done, NULL, rq) < 0) {
		XS_WARN(ISCSI_LOG, "%s: cannot queue command 0x%02x: %s", be->desc, cmd->cdb[0],
			iscsi_get_error(ib->iscsi));
		scsi_free_scsi_task(task);
		free(rq);
		return -EIO;
	}
	ib->inflight++;
	sync_socket(ib); /* POLLOUT now: the PDU waits to go out */
	return 0;
}

static int iscsi_be_event_fd(struct xsd_scsi_bdev *be)
{
	return to_ib(be)->epfd;
}

static int iscsi_be_process(struct xsd_scsi_bdev *be)
{
	struct iscsi_be *ib = to_ib(be);
	struct epoll_event evs[4];
	int n, reaped = 0, revents = 0;
	uint64_t ticks;

	n = epoll_wait(ib->epfd, evs, XS_ARRAY_SIZE(evs), 0);
	for (int i = 0; i < n; i++) {
		if (evs[i].data.fd == ib->tfd) {
			if (read(ib->tfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
				XS_WARN(ISCSI_LOG, "timerfd: %s", xs_strerror(-errno));
			continue;
		}
		if (evs[i].events & EPOLLIN)
			revents |= POLLIN;
		if (evs[i].events & EPOLLOUT)
			revents |= POLLOUT;
		if (evs[i].events & EPOLLHUP)
			revents |= POLLHUP;
		if (evs[i].events & EPOLLERR)
			revents |= POLLERR;
	}
	/* revents 0 is libiscsi's tick: timeouts and reconnect progress. */
	if (iscsi_service(ib->iscsi, revents) < 0)
		XS_DEBUG(ISCSI_LOG, "%s: service: %s", be->desc, iscsi_get_error(ib->iscsi));
	sync_socket(ib);
	while (ib->done_head) {
		struct xsd_scsi_cmd *cmd = ib->done_head;

		ib->done_head = cmd->priv.next;
		if (!ib->done_head)
			ib->done_tail = NULL;
		xsd_scsi_passthrough_done(cmd, cmd->status, cmd->sense, cmd->sense_len, cmd->xfer_len);
		reaped++;
	}
	return reaped;
}

static int iscsi_be_capacity(struct xsd_scsi_bdev *be, uint64_t *bytes)
{
	*bytes = to_ib(be)->capacity;
	return 0;
}

static void iscsi_be_destroy(struct xsd_scsi_bdev *be)
{
	struct iscsi_be *ib = to_ib(be);

	/* No logout: a blocking exchange with a portal that may be gone
	 * would stall the target's thread; closing the socket ends the
	 * session on the target's side. */
	iscsi_destroy_context(ib->iscsi);
	close(ib->tfd);
	close(ib->epfd);
	free(ib);
}

static const struct xsd_scsi_bdev_ops iscsi_ops = {
	.name = "iscsi",
	.capacity = iscsi_be_capacity,
	.event_fd = iscsi_be_event_fd,
	.process = iscsi_be_process,
	.execute = iscsi_be_execute,
	.destroy = iscsi_be_destroy,
};

struct xsd_scsi_bdev *xsd_scsi_iscsi_open(const char *url, const struct xsd_scsi_iscsi_opts *opts)
{
	struct itimerspec its = { .it_interval = { 0, TICK_MS * 1000000L },
				  .it_value = { 0, TICK_MS * 1000000L } };
	struct epoll_event ev = { .events = EPOLLIN };
	struct xsd_scsi_iscsi_opts o = { .size = sizeof(o) };
	struct scsi_readcapacity16 *rc16;
	struct iscsi_url *iu;
	struct scsi_task *task;
	struct iscsi_be *ib;
	char desc[96];
	int err = EIO;

	if (!url) {
		errno = EINVAL;
		return NULL;
	}
	if (opts)
		memcpy(&o, opts, XS_MIN((size_t)opts->size, sizeof(o)));
	if (!o.initiator_iqn)
		o.initiator_iqn = DEFAULT_IQN;
	if (!o.reconnect_max)
		o.reconnect_max = 8;
	if (!o.timeout_s)
		o.timeout_s = 10;
	ib = calloc(1, sizeof(*ib));
	if (!ib)
		return NULL;
	ib->sock = -1;
	ib->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ib->epfd < 0) {
		err = errno;
		goto err_free;
	}
	ib->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (ib->tfd < 0) {
		err = errno;
		goto err_epfd;
	}
	ev.data.fd = ib->tfd;
	if (timerfd_settime(ib->tfd, 0, &its, NULL) < 0 ||
	    epoll_ctl(ib->epfd, EPOLL_CTL_ADD, ib->tfd, &ev) < 0) {
		err = errno;
		goto err_tfd;
	}
	ib->iscsi = iscsi_create_context(o.initiator_iqn);
	if (!ib->iscsi) {
		err = ENOMEM;
		goto err_tfd;
	}
	iu = iscsi_parse_full_url(ib->iscsi, url);
	if (!iu) {
		XS_ERR(ISCSI_LOG, "%s: %s", url, iscsi_get_error(ib->iscsi));
		err = EINVAL;
		goto err_ctx;
	}
	ib->lun = iu->lun;
	iscsi_set_targetname(ib->iscsi, iu->target);
	iscsi_set_session_type(ib->iscsi, ISCSI_SESSION_NORMAL);
	iscsi_set_header_digest(ib->iscsi, ISCSI_HEADER_DIGEST_NONE_CRC32C);
	iscsi_set_timeout(ib->iscsi, (int)o.timeout_s);
	iscsi_set_reconnect_max_retries(ib->iscsi, (int)o.reconnect_max);
	if (iscsi_full_connect_sync(ib->iscsi, iu->portal, iu->lun) < 0) {
		XS_ERR(ISCSI_LOG, "%s: login failed: %s", url, iscsi_get_error(ib->iscsi));
		iscsi_destroy_url(iu);
		err = ECONNREFUSED;
		goto err_ctx;
	}
	/* desc is for logs: a long IQN is cut. */
	snprintf(desc, sizeof(desc), "iscsi %.40s/%.40s/%d", iu->portal, iu->target, iu->lun);
	iscsi_destroy_url(iu);
	task = iscsi_readcapacity16_sync(ib->iscsi, ib->lun);
	if (!task || task->status != SCSI_STATUS_GOOD ||
	    !(rc16 = scsi_datain_unmarshall(task))) {
		XS_ERR(ISCSI_LOG, "%s: READ CAPACITY(16) failed: %s", desc, iscsi_get_error(ib->iscsi));
		if (task)
			scsi_free_scsi_task(task);
		err = EIO;
		goto err_logout;
	}
	ib->block_size = rc16->block_length;
	ib->capacity = (rc16->returned_lba + 1) * rc16->block_length;
	scsi_free_scsi_task(task);
	xsd_scsi_bdev_init(&ib->be, &iscsi_ops, 0, desc);
	sync_socket(ib);
	XS_INFO(ISCSI_LOG, "%s: %" PRIu64 " bytes", desc, ib->capacity);
	return &ib->be;

err_logout:
	iscsi_logout_sync(ib->iscsi);
err_ctx:
	iscsi_destroy_context(ib->iscsi);
err_tfd:
	close(ib->tfd);
err_epfd:
	close(ib->epfd);
err_free:
	free(ib);
	errno = err;
	return NULL;
}

#else /* !XSD_HAVE_LIBISCSI */

struct xsd_scsi_bdev *xsd_scsi_iscsi_open(const char *url, const struct xsd_scsi_iscsi_opts *opts)
{
	(void)opts;
	XS_ERR("scsi-iscsi", "%s: this build has no libiscsi (install libiscsi-dev)", url);
	errno = ENOTSUP;
	return NULL;
}

#endif
