/* SPDX-License-Identifier: MIT */
/*
 * backend_sg.c - a LUN on a SCSI device of the gateway (/dev/sgN or
 * /dev/sdX: how FC and SAS LUNs are reached) through the SG_IO ioctl, as a
 * pass-through back end: every command but REPORT LUNS goes to the device
 * with its CDB and data buffer (as an sg_iovec list); status, sense and
 * residual come back.
 *
 * SG_IO blocks, so a small pool of worker threads issues it: execute()
 * queues the command for the pool, a worker runs the ioctl and puts the
 * result on a done list and bumps an eventfd (the back end's event fd);
 * process(), on the target's thread, completes them. io_uring's URING_CMD
 * is not used: the sg driver and the SCSI block layer do not implement it
 * (only NVMe character devices do, as of Linux 6.x).
 *
 * Sense from the device is passed on in fixed format (descriptor-format
 * sense is converted: key, ASC, ASCQ). A transport failure (host or driver
 * status, the ioctl failing) becomes CHECK CONDITION, HARDWARE ERROR /
 * INTERNAL TARGET FAILURE (04 44/00).
 */
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <scsi/sg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scsi_int.h"

#define SG_LOG "scsi-sg"
#define SG_MAX_THREADS 64
#define SG_MAX_IOVEC 1024 /* UIO_MAXIOV: what the sg driver accepts */

struct sg_be {
	struct xsd_scsi_bdev be;
	int fd;
	int efd;
	uint32_t timeout_ms;
	uint64_t capacity;
	uint32_t block_size;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stopping;
	struct xsd_scsi_cmd *q_head, *q_tail;       /* waiting for a worker */
	struct xsd_scsi_cmd *d_head, *d_tail;       /* done, for process() */
	unsigned int nthreads;
	pthread_t threads[SG_MAX_THREADS];
};

static struct sg_be *to_sg(struct xsd_scsi_bdev *be)
{
	return xs_container_of(be, struct sg_be, be);
}

static void push(struct xsd_scsi_cmd **head, struct xsd_scsi_cmd **tail, struct xsd_scsi_cmd *c)
{
	c->priv.next = NULL;
	if (*tail)
		(*tail)->priv.next = c;
	else
		*head = c;
	*tail = c;
}

/*
 * One SG_IO. Returns 0 with status/sense/resid filled, or -errno when the
 * ioctl or the transport failed. sense must hold 32 bytes.
 */
static int sg_io(int fd, const uint8_t *cdb, uint8_t cdb_len, int dir, const struct iovec *iov,
		 unsigned int iovcnt, size_t len, uint32_t timeout_ms, uint8_t *status,
		 uint8_t *sense, uint8_t *sense_len, int32_t *resid)
{
	struct sg_io_hdr h;

	memset(&h, 0, sizeof(h));
	h.interface_id = 'S';
	h.dxfer_direction = dir;
	h.cmd_len = cdb_len;
	h.cmdp = (unsigned char *)cdb;
	h.mx_sb_len = 32;
	h.sbp = sense;
	h.timeout = timeout_ms;
	h.dxfer_len = (unsigned int)len;
	if (len && iovcnt == 1) {
		h.dxferp = iov[0].iov_base;
	} else if (len) {
		h.iovec_count = (unsigned short)iovcnt;
		h.dxferp = (void *)iov; /* sg_iovec_t has struct iovec's layout */
	}
	if (ioctl(fd, SG_IO, &h) < 0)
		return -errno;
	*sense_len = h.sb_len_wr;
	*resid = h.resid;
	*status = h.status;
	if (h.host_status || (h.driver_status & 0x07 /* DRIVER_* besides SENSE */))
		return -EIO;
	return 0;
}

/* Device sense (fixed or descriptor format) -> our 18-byte fixed format. */
static void convert_sense(struct xsd_scsi_cmd *cmd, const uint8_t *s, uint8_t n)
{
	uint8_t code = n ? (s[0] & 0x7f) : 0;

	if ((code == 0x70 || code == 0x71) && n >= 14) {
		scsi_sense_fill(cmd->sense, s[2] & 0x0f, (uint16_t)(s[12] << 8 | s[13]));
		/* keep the information and sense-key-specific fields */
		memcpy(cmd->sense, s, XS_MIN(n, (uint8_t)XSD_SCSI_SENSE_LEN));
		cmd->sense[7] = XSD_SCSI_SENSE_LEN - 8;
	} else if ((code == 0x72 || code == 0x73) && n >= 4) {
		scsi_sense_fill(cmd->sense, s[1] & 0x0f, (uint16_t)(s[2] << 8 | s[3]));
	} else {
		scsi_sense_fill(cmd->sense, XSD_SK_HARDWARE_ERROR, XSD_ASC_INTERNAL_TARGET_FAILURE);
	}
	cmd->sense_len = XSD_SCSI_SENSE_LEN;
}

static void run_cmd(struct sg_be *sb, struct xsd_scsi_cmd *cmd)
{
	uint8_t sense[32], status = 0, slen = 0;
	int32_t resid = 0;
	size_t len = cmd->dir == XSD_SCSI_DIR_NONE ? 0 : scsi_iov_len(cmd->iov, cmd->iovcnt);
	int dir = cmd->dir == XSD_SCSI_DIR_IN ? SG_DXFER_FROM_DEV
		  : cmd->dir == XSD_SCSI_DIR_OUT ? SG_DXFER_TO_DEV : SG_DXFER_NONE;
	int rc;

	if (!len)
		dir = SG_DXFER_NONE;
	rc = sg_io(sb->fd, cmd->cdb, (uint8_t)cmd->cdb_len, dir, cmd->iov, cmd->iovcnt, len,
		   sb->timeout_ms, &status, sense, &slen, &resid);
	cmd->sense_len = 0;
	if (rc < 0) {
		XS_WARN(SG_LOG, "%s: SG_IO of 0x%02x: %s", sb->be.desc, cmd->cdb[0], xs_strerror(rc));
		cmd->status = XSD_SCSI_CHECK_CONDITION;
		scsi_sense_fill(cmd->sense, XSD_SK_HARDWARE_ERROR, XSD_ASC_INTERNAL_TARGET_FAILURE);
		cmd->sense_len = XSD_SCSI_SENSE_LEN;
		cmd->xfer_len = 0;
		return;
	}
	cmd->status = status;
	if (status == XSD_SCSI_CHECK_CONDITION)
		convert_sense(cmd, sense, slen);
	if (resid < 0)
		resid = 0;
	cmd->xfer_len = (uint32_t)len - XS_MIN((uint32_t)resid, (uint32_t)len);
	scsi_passthrough_fix_vpd(cmd, sb->block_size);
}

static void *worker(void *arg)
{
	struct sg_be *sb = arg;
	uint64_t one = 1;

	pthread_mutex_lock(&sb->lock);
	for (;;) {
		struct xsd_scsi_cmd *cmd;

		while (!sb->q_head && !sb->stopping)
			pthread_cond_wait(&sb->cond, &sb->lock);
		if (!sb->q_head)
			break;
		cmd = sb->q_head;
		sb->q_head = cmd->priv.next;
		if (!sb->q_head)
			sb->q_tail = NULL;
		pthread_mutex_unlock(&sb->lock);
		run_cmd(sb, cmd);
		pthread_mutex_lock(&sb->lock);
		push(&sb->d_head, &sb->d_tail, cmd);
		if (write(sb->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			XS_ERR(SG_LOG, "eventfd: %s", xs_strerror(-errno));
	}
	pthread_mutex_unlock(&sb->lock);
	return NULL;
}

static int sg_be_execute(struct xsd_scsi_bdev *be, struct xsd_scsi_cmd *cmd)
{
	struct sg_be *sb = to_sg(be);

	if (cmd->dir != XSD_SCSI_DIR_NONE && cmd->iovcnt > SG_MAX_IOVEC)
		return -EINVAL;
	pthread_mutex_lock(&sb->lock);
	push(&sb->q_head, &sb->q_tail, cmd);
	pthread_cond_signal(&sb->cond);
	pthread_mutex_unlock(&sb->lock);
	return 0;
}

static int sg_be_event_fd(struct xsd_scsi_bdev *be)
{
	return to_sg(be)->efd;
}

static int sg_be_process(struct xsd_scsi_bdev *be)
{
	struct sg_be *sb = to_sg(be);
	struct xsd_scsi_cmd *list;
	uint64_t cnt;
	int n = 0;

	if (read(sb->efd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
		XS_WARN(SG_LOG, "eventfd read: %s", xs_strerror(-errno));
	pthread_mutex_lock(&sb->lock);
	list = sb->d_head;
	sb->d_head = sb->d_tail = NULL;
	pthread_mutex_unlock(&sb->lock);
	while (list) {
		struct xsd_scsi_cmd *cmd = list;

		list = cmd->priv.next;
		xsd_scsi_passthrough_done(cmd, cmd->status, cmd->sense, cmd->sense_len, cmd->xfer_len);
		n++;
	}
	return n;
}

static int sg_be_capacity(struct xsd_scsi_bdev *be, uint64_t *bytes)
{
	*bytes = to_sg(be)->capacity;
	return 0;
}

static void stop_workers(struct sg_be *sb)
{
	pthread_mutex_lock(&sb->lock);
	sb->stopping = true;
	pthread_cond_broadcast(&sb->cond);
	pthread_mutex_unlock(&sb->lock);
	for (unsigned int i = 0; i < sb->nthreads; i++)
		pthread_join(sb->threads[i], NULL);
	sb->nthreads = 0;
}

static void sg_be_destroy(struct xsd_scsi_bdev *be)
{
	struct sg_be *sb = to_sg(be);

	stop_workers(sb);
	pthread_cond_destroy(&sb->cond);
	pthread_mutex_destroy(&sb->lock);
	close(sb->efd);
	close(sb->fd);
	free(sb);
}

static const struct xsd_scsi_bdev_ops sg_ops = {
	.name = "sg",
	.capacity = sg_be_capacity,
	.event_fd = sg_be_event_fd,
	.process = sg_be_process,
	.execute = sg_be_execute,
	.destroy = sg_be_destroy,
};

/* READ CAPACITY(16), or (10) when the device does not know it. */
static int read_capacity(int fd, uint32_t timeout_ms, uint64_t *bytes, uint32_t *bs)
{
	uint8_t cdb16[16] = { 0x9e, 0x10 }, cdb10[10] = { 0x25 };
	uint8_t buf[32], sense[32], status, slen;
	struct iovec iov = { buf, sizeof(buf) };
	int32_t resid;
	int rc;

	xs_put32(&cdb16[10], sizeof(buf));
	memset(buf, 0, sizeof(buf));
	rc = sg_io(fd, cdb16, 16, SG_DXFER_FROM_DEV, &iov, 1, sizeof(buf), timeout_ms, &status,
		   sense, &slen, &resid);
	if (rc == 0 && status == XSD_SCSI_GOOD) {
		*bs = xs_get32(buf + 8);
		*bytes = (xs_get64(buf) + 1) * *bs;
		return 0;
	}
	iov.iov_len = 8;
	rc = sg_io(fd, cdb10, 10, SG_DXFER_FROM_DEV, &iov, 1, 8, timeout_ms, &status, sense,
		   &slen, &resid);
	if (rc < 0)
		return rc;
	if (status != XSD_SCSI_GOOD)
		return -EIO;
	*bs = xs_get32(buf + 4);
	*bytes = ((uint64_t)xs_get32(buf) + 1) * *bs;
	return 0;
}

struct xsd_scsi_bdev *xsd_scsi_sg_open(const char *path, const struct xsd_scsi_sg_opts *opts)
{
	struct xsd_scsi_sg_opts o = { .size = sizeof(o) };
	struct sg_be *sb;
	char desc[96];
	int ver = 0, err, rc;
	unsigned int want;

	if (!path) {
		errno = EINVAL;
		return NULL;
	}
	if (opts)
		memcpy(&o, opts, XS_MIN((size_t)opts->size, sizeof(o)));
	want = o.threads ? XS_MIN(o.threads, (uint32_t)SG_MAX_THREADS) : 4;
	if (!o.timeout_ms)
		o.timeout_ms = 30000;
	sb = calloc(1, sizeof(*sb));
	if (!sb)
		return NULL;
	sb->timeout_ms = o.timeout_ms;
	sb->fd = open(path, (o.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK);
	if (sb->fd < 0) {
		err = errno;
		XS_ERR(SG_LOG, "%s: %s", path, strerror(err));
		goto err_free;
	}
	/* Blocking SG_IO from here on (O_NONBLOCK only kept open() from
	 * waiting on a busy device). */
	fcntl(sb->fd, F_SETFL, 0);
	if (ioctl(sb->fd, SG_GET_VERSION_NUM, &ver) < 0 || ver < 30000) {
		err = ENOTTY;
		XS_ERR(SG_LOG, "%s: not a SCSI generic / SCSI disk node (no SG_IO)", path);
		goto err_fd;
	}
	rc = read_capacity(sb->fd, o.timeout_ms, &sb->capacity, &sb->block_size);
	if (rc < 0 || sb->capacity == 0) {
		err = rc < 0 ? -rc : EIO;
		XS_ERR(SG_LOG, "%s: READ CAPACITY failed: %s", path, strerror(err));
		goto err_fd;
	}
	sb->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (sb->efd < 0) {
		err = errno;
		goto err_fd;
	}
	pthread_mutex_init(&sb->lock, NULL);
	pthread_cond_init(&sb->cond, NULL);
	for (unsigned int i = 0; i < want; i++) {
		rc = pthread_create(&sb->threads[i], NULL, worker, sb);
		if (rc) {
			err = rc;
			goto err_threads;
		}
		sb->nthreads++;
	}
	snprintf(desc, sizeof(desc), "sg %s", path);
	xsd_scsi_bdev_init(&sb->be, &sg_ops, o.read_only ? XSD_BDEV_CAP_READ_ONLY : 0, desc);
	XS_INFO(SG_LOG, "%s: %" PRIu64 " bytes, %u SG_IO threads", path, sb->capacity, want);
	return &sb->be;

err_threads:
	stop_workers(sb);
	pthread_cond_destroy(&sb->cond);
	pthread_mutex_destroy(&sb->lock);
	close(sb->efd);
err_fd:
	close(sb->fd);
err_free:
	free(sb);
	errno = err;
	return NULL;
}
