/* SPDX-License-Identifier: MIT */
/*
 * scsi/scsi_backend.h - the back end author's API of xsd_scsi.
 *
 * A back end is a const ops table plus an embedded struct xsd_scsi_bdev
 * (get back to your own struct with xs_container_of). Operations left NULL
 * behave as one stub that returns -EOPNOTSUPP, so the LUN layer never tests
 * for NULL:
 *   submit    block I/O (READ / WRITE / FLUSH / UNMAP), asynchronous: call
 *             bio->done exactly once, from process(), never from submit().
 *             A non-zero return means the bio was not taken (-EAGAIN: queue
 *             full, the command is answered TASK SET FULL).
 *   capacity  size in bytes.
 *   event_fd  a pollable fd that becomes readable when process() has work;
 *             -EOPNOTSUPP for back ends that never complete asynchronously.
 *   process   reap completions and call their done callbacks; returns the
 *             number reaped.
 *   execute   pass-through back ends (SG_IO, iSCSI) take whole commands:
 *             return 0 and later call xsd_scsi_passthrough_done(). The stub
 *             (-EOPNOTSUPP) selects the built-in SBC emulation on submit.
 *   kick      start work queued while the back end was plugged (see
 *             xsd_scsi_target_plug); back ends that start work in submit
 *             ignore plugging and leave it NULL.
 *   destroy   free everything (no I/O is in flight when it is called).
 */
#ifndef XSD_SCSI_BACKEND_H
#define XSD_SCSI_BACKEND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "scsi/scsi.h"

#ifdef __cplusplus
extern "C" {
#endif

enum xsd_bio_op {
	XSD_BIO_READ,
	XSD_BIO_WRITE,
	XSD_BIO_FLUSH,
	XSD_BIO_UNMAP,
};

struct xsd_bio_range {
	uint64_t off;
	uint64_t len;
};

struct xsd_scsi_bio;
typedef void (*xsd_bio_done_cb)(struct xsd_scsi_bio *bio, int err);

/*
 * One back end request. READ/WRITE: bytes [off, off + len) to/from iov,
 * whose lengths add up to exactly len; fua asks for the write to be durable
 * on completion. FLUSH: make everything written durable. UNMAP: deallocate
 * the ranges (later reads return zeros). err in done: 0 or a negative errno
 * (-EIO, -ENOSPC, ...).
 */
struct xsd_scsi_bio {
	enum xsd_bio_op op;
	bool fua;
	uint64_t off;
	uint64_t len;
	const struct iovec *iov;
	unsigned int iovcnt;
	const struct xsd_bio_range *ranges;
	unsigned int nr_ranges;
	xsd_bio_done_cb done;
	/* for the back end while it owns the bio */
	unsigned int be_pending;
	int be_err;
	uint64_t be_done;
	void *be_priv;
	struct xsd_scsi_bio *be_next;
};

/* Capability bits in xsd_scsi_bdev.caps. */
#define XSD_BDEV_CAP_UNMAP 0x1u     /* UNMAP works and reads back zeros */
#define XSD_BDEV_CAP_READ_ONLY 0x2u

struct xsd_scsi_bdev_ops {
	const char *name;
	int (*submit)(struct xsd_scsi_bdev *be, struct xsd_scsi_bio *bio);
	int (*capacity)(struct xsd_scsi_bdev *be, uint64_t *bytes);
	int (*event_fd)(struct xsd_scsi_bdev *be);
	int (*process)(struct xsd_scsi_bdev *be);
	int (*execute)(struct xsd_scsi_bdev *be, struct xsd_scsi_cmd *cmd);
	int (*kick)(struct xsd_scsi_bdev *be);
	void (*destroy)(struct xsd_scsi_bdev *be);
};

struct xsd_scsi_bdev {
	const struct xsd_scsi_bdev_ops *ops;
	uint32_t caps;
	uint32_t align;  /* buffer/offset alignment the back end needs (O_DIRECT), or 1 */
	bool plugged;    /* set by the target: queue in submit, start in kick */
	char desc[96];   /* "file /srv/lun0.img (O_DIRECT)" for logs */
};

/* Set up the generic part; desc is copied (truncated to fit). */
void xsd_scsi_bdev_init(struct xsd_scsi_bdev *be, const struct xsd_scsi_bdev_ops *ops,
			uint32_t caps, const char *desc);

/* The calls the LUN layer makes; NULL ops answer -EOPNOTSUPP. */
int xsd_bdev_submit(struct xsd_scsi_bdev *be, struct xsd_scsi_bio *bio);
int xsd_bdev_capacity(struct xsd_scsi_bdev *be, uint64_t *bytes);
int xsd_bdev_event_fd(struct xsd_scsi_bdev *be);
int xsd_bdev_process(struct xsd_scsi_bdev *be);
int xsd_bdev_execute(struct xsd_scsi_bdev *be, struct xsd_scsi_cmd *cmd);
int xsd_bdev_kick(struct xsd_scsi_bdev *be);

/* Pass-through completion: status, sense (copied, up to 18 bytes) and the
 * bytes moved. Queues the command for its done callback. */
void xsd_scsi_passthrough_done(struct xsd_scsi_cmd *cmd, uint8_t status, const uint8_t *sense,
			       uint8_t sense_len, uint32_t xfer_len);

#ifdef __cplusplus
}
#endif

#endif /* XSD_SCSI_BACKEND_H */
