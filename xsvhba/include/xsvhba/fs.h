/* SPDX-License-Identifier: MIT */
/*
 * xsvhba/fs.h - LUNs as regular files through FUSE (library xsvhba_fs):
 *
 *   <mountpoint>/lun<N>   sized to the LUN; read/write map to block I/O
 *                         (READ(16)/WRITE(16) split at the LUN's maximum
 *                         transfer size); fsync is SYNCHRONIZE CACHE(16).
 *
 * The file system serves the LUNs of one LUN source (an ops table): the
 * xsvhba-fuse program gives it one initiator (xsvhba_fs_initiator_ops), the
 * host agent's vHBA module one target of a vHBA, with its own queueing in
 * front (xsvhba/module.h).
 *
 * Requests are asynchronous: a FUSE worker thread hands a read or write to
 * the source and goes back to the kernel for the next request; the reply
 * is sent from the completion (the initiator's loop thread; large reads from
 * a worker). So a few worker threads keep many I/Os in flight. Only aligned
 * writes of 256 KiB or more are sent from the kernel's request buffer with
 * the worker waiting for the completion (no copy of the data). Files are opened direct_io (no page cache: what a read returns
 * comes from the target). Entry and attribute timeouts are 0: hot-added
 * LUNs show up at the next lookup; a LUN the source no longer lists stays
 * visible (new I/O to it fails with EIO) until the I/O it still has in
 * flight drains, then disappears.
 *
 * Reads at or past the size end at EOF (0 bytes). Writes are not clipped:
 * the target is the authority on capacity (the host's view may be stale
 * after a resize), so a write past the end reaches the target and fails
 * with its LBA OUT OF RANGE sense as EIO. Unaligned I/O is done through a
 * bounce buffer (reads) or read-modify-write of the edge blocks (writes).
 *
 * Mounting: as root the file system is mounted with mount(2) directly
 * (fstype fuse.xsvhba, files mode 0600, default_permissions); otherwise
 * through fusermount3. Teardown, in this order:
 *   xsvhba_fs_quiesce()  lazy unmount; from now on the fs no longer calls
 *                        the source (new requests get EIO);
 *   (the owner makes its source end every request it holds, e.g. frees
 *    the initiator: outstanding requests end with an error, replied EIO)
 *   xsvhba_fs_free()     waits for the last reply, stops the workers and
 *                        closes the FUSE device (a process still holding a
 *                        file open then gets ENOTCONN).
 *
 * Errors: int functions return 0 or a negative errno, constructors NULL
 * with errno set.
 */
#ifndef XSVHBA_FS_H
#define XSVHBA_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xsvhba/vhba.h"

#ifdef __cplusplus
extern "C" {
#endif

struct xsvhba_fs;

enum xsvhba_fs_op {
	XSVHBA_FS_READ = 1,
	XSVHBA_FS_WRITE,
	XSVHBA_FS_SYNC,        /* SYNCHRONIZE CACHE(16) on the LUN (buf, off, len unused) */
};

/*
 * One block request from the file system to its LUN source: block-aligned
 * (off and len multiples of the LUN's block size). The source ends it once
 * with xsvhba_fs_io_done(), from any thread, possibly before its submit
 * returned.
 */
struct xsvhba_fs_io {
	/* set by the file system */
	enum xsvhba_fs_op op;
	struct xsvhba_lun lun;     /* as the fs knew it when the request was made */
	void *buf;
	uint64_t off;
	size_t len;
	/* the source's, for queueing and accounting */
	struct xsvhba_fs_io *bnext;
	uint64_t bqueued_ms;
	void *bpriv;
	/* set by the source before xsvhba_fs_io_start(): runs when the
	 * initiator ended the request (then the source calls
	 * xsvhba_fs_io_done); NULL ends it directly */
	void (*bdone)(struct xsvhba_fs_io *io, int err);
	/* private to the file system */
	void *fs_priv;
	unsigned int ua_retries;
};

/* A LUN source. */
struct xsvhba_fs_ops {
	/* Copy up to max LUNs (ascending ids); return how many there are, or
	 * -errno. May be called from any thread. */
	int (*get_luns)(void *ctx, struct xsvhba_lun *out, unsigned int max);
	/* Take a request: 0 (io will be ended), or -errno (it will not). */
	int (*submit)(void *ctx, struct xsvhba_fs_io *io);
};

/* End a request: err 0, or a negative errno the file gives back. */
void xsvhba_fs_io_done(struct xsvhba_fs_io *io, int err);

/*
 * Run a request on an initiator (non-blocking): READ/WRITE through
 * xsvhba_io_submit, SYNC as a SYNCHRONIZE CACHE(16) command (unit
 * attentions retried). When it ends, io->bdone(io, err) runs if set, else
 * xsvhba_fs_io_done(io, err). 0, or -errno (nothing runs).
 */
int xsvhba_fs_io_start(struct xsvhba *v, struct xsvhba_fs_io *io);

/* The source for a plain initiator: ctx is the struct xsvhba *. */
extern const struct xsvhba_fs_ops xsvhba_fs_initiator_ops;

/* Options that can grow: set .size = sizeof(struct xsvhba_fs_opts). */
struct xsvhba_fs_opts {
	size_t size;
	const char *mountpoint;      /* created (with its parents) when missing */
	unsigned int threads;        /* FUSE worker threads (default 4, at most 64) */
	unsigned int max_background; /* kernel's async requests in flight (default 64) */
	const char *fsname;          /* shown in /proc/mounts (default "xsvhba") */
	uint8_t reserved[48];
};
_Static_assert(sizeof(struct xsvhba_fs_opts) == 80, "xsvhba_fs opts ABI");

/* Mount and start serving on the fs's own worker threads. NULL with errno. */
struct xsvhba_fs *xsvhba_fs_mount(const struct xsvhba_fs_opts *o, const struct xsvhba_fs_ops *ops,
				  void *ctx);
/* Lazy unmount; no more calls into the source after this returns. */
void xsvhba_fs_quiesce(struct xsvhba_fs *fs);
/* Quiesce if not done, wait for outstanding requests to be ended, stop
 * the workers, close the device, free. */
void xsvhba_fs_free(struct xsvhba_fs *fs);
const char *xsvhba_fs_mountpoint(const struct xsvhba_fs *fs);
/* mkdir -p with mode 0755: 0, -ENAMETOOLONG or the negative errno of mkdir. */
int xsvhba_fs_mkdir_p(const char *path);

/* Per-LUN counters of the file system, for status tools. */
struct xsvhba_fs_lun_stats {
	struct xsvhba_lun lun;
	bool present;               /* false: gone from the source, draining */
	uint32_t inflight;          /* requests handed to the source, not ended */
	uint64_t reads, writes, syncs;
	uint64_t read_bytes, write_bytes;
	uint64_t errors;            /* requests ended with an error */
	int last_error;             /* negative errno of the last error, 0 none */
};
/* Copy up to max entries (ascending ids, draining ones included); returns
 * how many there are. */
int xsvhba_fs_lun_stats(struct xsvhba_fs *fs, struct xsvhba_fs_lun_stats *out, unsigned int max);

#ifdef __cplusplus
}
#endif

#endif /* XSVHBA_FS_H */
