/* SPDX-License-Identifier: MIT */
/*
 * backend_file.c - a LUN on a regular file or a block device, through
 * io_uring.
 *
 * READ/WRITE are READV/WRITEV at the byte offset (WRITE with FUA adds
 * RWF_DSYNC), FLUSH is FSYNC with DATASYNC, UNMAP is one FALLOCATE
 * (PUNCH_HOLE | KEEP_SIZE) per range: on a file the blocks are freed and
 * read back as zeros, on a block device the kernel zeroes/discards them.
 * The ring's own fd is the back end's pollable fd: it is readable while
 * the completion queue holds entries, so reaping takes no system call.
 * Short reads/writes are resubmitted for the
 * rest; a read that returns 0 bytes (the file shrank under us) is -EIO.
 * At most queue_depth SQEs are in flight; beyond that submit answers
 * -EAGAIN and the command gets TASK SET FULL. While plugged, submit only
 * queues SQEs and kick() hands them all to the kernel in one system call.
 */
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scsi_int.h"

#ifndef RWF_DSYNC
#define RWF_DSYNC 0x00000002
#endif

struct file_bdev {
	struct xsd_scsi_bdev be;
	int fd;
	struct io_uring ring;
	uint64_t size;
	bool is_blk;
	unsigned int depth;
	unsigned int inflight; /* SQEs submitted, CQEs not yet reaped */
};

static struct file_bdev *to_file(struct xsd_scsi_bdev *be)
{
	return xs_container_of(be, struct file_bdev, be);
}

/* Queue the (rest of the) transfer of a READ/WRITE bio. */
static void prep_rw(struct file_bdev *f, struct io_uring_sqe *sqe, struct xsd_scsi_bio *bio,
		    const struct iovec *iov, unsigned int cnt)
{
	if (bio->op == XSD_BIO_READ) {
		io_uring_prep_readv(sqe, f->fd, iov, cnt, bio->off + bio->be_done);
	} else {
		io_uring_prep_writev(sqe, f->fd, iov, cnt, bio->off + bio->be_done);
		if (bio->fua)
			sqe->rw_flags = RWF_DSYNC;
	}
	io_uring_sqe_set_data(sqe, bio);
}

static void ring_submit(struct file_bdev *f)
{
	int rc = io_uring_submit(&f->ring);

	/* -EAGAIN/-EBUSY: the SQEs stay queued and go with the next submit */
	if (rc < 0 && rc != -EAGAIN && rc != -EBUSY && rc != -EINTR)
		XS_ERR(SCSI_LOG, "%s: io_uring_submit: %s", f->be.desc, xs_strerror(rc));
}

static int file_submit(struct xsd_scsi_bdev *be, struct xsd_scsi_bio *bio)
{
	struct file_bdev *f = to_file(be);
	unsigned int need = bio->op == XSD_BIO_UNMAP ? bio->nr_ranges : 1;
	struct io_uring_sqe *sqe;

	if (need == 0 || need > f->depth)
		return -EINVAL;
	if (f->inflight + need > f->depth || io_uring_sq_space_left(&f->ring) < need)
		return -EAGAIN;
	bio->be_err = 0;
	bio->be_done = 0;
	bio->be_pending = need;
	bio->be_priv = NULL;
	for (unsigned int i = 0; i < need; i++) {
		sqe = io_uring_get_sqe(&f->ring);
		if (!sqe) /* cannot happen: space was checked */
			return i == 0 ? -EAGAIN : -EIO;
		switch (bio->op) {
		case XSD_BIO_READ:
		case XSD_BIO_WRITE:
			prep_rw(f, sqe, bio, bio->iov, bio->iovcnt);
			break;
		case XSD_BIO_FLUSH:
			io_uring_prep_fsync(sqe, f->fd, IORING_FSYNC_DATASYNC);
			io_uring_sqe_set_data(sqe, bio);
			break;
		case XSD_BIO_UNMAP:
			io_uring_prep_fallocate(sqe, f->fd,
						FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
						bio->ranges[i].off, bio->ranges[i].len);
			io_uring_sqe_set_data(sqe, bio);
			break;
		}
	}
	f->inflight += need;
	if (!be->plugged)
		ring_submit(f);
	return 0;
}

static int file_kick(struct xsd_scsi_bdev *be)
{
	struct file_bdev *f = to_file(be);

	if (io_uring_sq_ready(&f->ring))
		ring_submit(f);
	return 0;
}

/*
 * A READ/WRITE moved @res bytes short of the rest: build the iovec for
 * what is left and queue it again. 0 on success, else a negative errno.
 */
static int resubmit_rest(struct file_bdev *f, struct xsd_scsi_bio *bio)
{
	uint64_t skip = bio->be_done;
	struct io_uring_sqe *sqe;
	struct iovec *v;
	unsigned int i = 0, n = 0;

	while (i < bio->iovcnt && skip >= bio->iov[i].iov_len)
		skip -= bio->iov[i++].iov_len;
	v = calloc(bio->iovcnt - i, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (; i < bio->iovcnt; i++, n++) {
		v[n].iov_base = (uint8_t *)bio->iov[i].iov_base + skip;
		v[n].iov_len = bio->iov[i].iov_len - skip;
		skip = 0;
	}
	sqe = io_uring_get_sqe(&f->ring);
	if (!sqe) {
		free(v);
		return -EIO;
	}
	free(bio->be_priv);
	bio->be_priv = v;
	prep_rw(f, sqe, bio, v, n);
	f->inflight++;
	ring_submit(f);
	return 0;
}

static int file_process(struct xsd_scsi_bdev *be)
{
	struct file_bdev *f = to_file(be);
	struct io_uring_cqe *cqe;
	int n = 0;

	if (io_uring_sq_ready(&f->ring))
		ring_submit(f);
	while (io_uring_peek_cqe(&f->ring, &cqe) == 0) {
		struct xsd_scsi_bio *bio = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&f->ring, cqe);
		f->inflight--;
		if (bio->op == XSD_BIO_READ || bio->op == XSD_BIO_WRITE) {
			if (res < 0) {
				bio->be_err = res;
			} else if (res == 0) {
				bio->be_err = -EIO;
			} else {
				bio->be_done += (uint64_t)res;
				if (bio->be_done < bio->len) {
					int rc = resubmit_rest(f, bio);

					if (rc == 0)
						continue;
					bio->be_err = rc;
				}
			}
		} else if (res < 0 && bio->be_err == 0) {
			bio->be_err = res;
		}
		if (--bio->be_pending)
			continue;
		free(bio->be_priv);
		bio->be_priv = NULL;
		bio->done(bio, bio->be_err);
		n++;
	}
	return n;
}

/* Asked again on every call, so a grown file or device shows through
 * xsd_scsi_target_resize_lun(). */
static int file_capacity(struct xsd_scsi_bdev *be, uint64_t *bytes)
{
	struct file_bdev *f = to_file(be);
	struct stat st;

	if (f->is_blk) {
		if (ioctl(f->fd, BLKGETSIZE64, &f->size) < 0)
			return -errno;
	} else {
		if (fstat(f->fd, &st) < 0)
			return -errno;
		f->size = (uint64_t)st.st_size;
	}
	*bytes = f->size;
	return 0;
}

static int file_event_fd(struct xsd_scsi_bdev *be)
{
	return to_file(be)->ring.ring_fd;
}

static void file_destroy(struct xsd_scsi_bdev *be)
{
	struct file_bdev *f = to_file(be);

	io_uring_queue_exit(&f->ring);
	close(f->fd);
	free(f);
}

static const struct xsd_scsi_bdev_ops file_ops = {
	.name = "file",
	.submit = file_submit,
	.capacity = file_capacity,
	.event_fd = file_event_fd,
	.process = file_process,
	.kick = file_kick,
	.destroy = file_destroy,
};

/* Does this file system punch holes? A punch past EOF changes nothing. */
static bool can_punch(int fd, uint64_t size)
{
	return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)size, 4096) == 0;
}

struct xsd_scsi_bdev *xsd_scsi_file_open(const char *path, const struct xsd_scsi_file_opts *opts)
{
	struct file_bdev *f;
	struct stat st;
	uint32_t caps = 0;
	char desc[96];
	int flags, rc;

	if (!path || !opts || opts->size != sizeof(*opts)) {
		errno = EINVAL;
		return NULL;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	flags = (opts->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	if (opts->direct)
		flags |= O_DIRECT;
	if (opts->create && !opts->read_only)
		flags |= O_CREAT;
	f->fd = open(path, flags, 0600);
	if (f->fd < 0) {
		rc = -errno;
		goto err_free;
	}
	if (fstat(f->fd, &st) < 0) {
		rc = -errno;
		goto err_close_fd;
	}
	if (S_ISREG(st.st_mode)) {
		if (opts->create && st.st_size == 0 && opts->create_size) {
			if (ftruncate(f->fd, (off_t)opts->create_size) < 0) {
				rc = -errno;
				goto err_close_fd;
			}
			st.st_size = (off_t)opts->create_size;
		}
		f->size = (uint64_t)st.st_size;
		if (!opts->read_only && can_punch(f->fd, f->size))
			caps |= XSD_BDEV_CAP_UNMAP;
	} else if (S_ISBLK(st.st_mode)) {
		f->is_blk = true;
		if (ioctl(f->fd, BLKGETSIZE64, &f->size) < 0) {
			rc = -errno;
			goto err_close_fd;
		}
		if (!opts->read_only)
			caps |= XSD_BDEV_CAP_UNMAP;
	} else {
		rc = -EINVAL;
		goto err_close_fd;
	}
	if (f->size == 0) {
		rc = -EINVAL;
		goto err_close_fd;
	}
	if (opts->read_only)
		caps |= XSD_BDEV_CAP_READ_ONLY;
	f->depth = opts->queue_depth ? opts->queue_depth : 128;
	rc = io_uring_queue_init(f->depth, &f->ring, 0);
	if (rc < 0)
		goto err_close_fd;
	snprintf(desc, sizeof(desc), "%s %s%s", S_ISBLK(st.st_mode) ? "block" : "file", path,
		 opts->direct ? " (O_DIRECT)" : "");
	xsd_scsi_bdev_init(&f->be, &file_ops, caps, desc);
	f->be.align = opts->direct ? 512 : 1;
	return &f->be;

err_close_fd:
	close(f->fd);
err_free:
	free(f);
	XS_ERR(SCSI_LOG, "opening %s: %s", path, xs_strerror(rc));
	errno = -rc;
	return NULL;
}
