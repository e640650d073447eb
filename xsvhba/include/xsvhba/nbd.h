/* SPDX-License-Identifier: MIT */
/*
 * xsvhba/nbd.h - a LUN as /dev/nbdN (library xsvhba_nbd).
 *
 * One end of a socketpair is handed to the kernel's nbd driver with its
 * generic-netlink family "nbd" (NBD_CMD_CONNECT: the socket, the size, the
 * block size, the server flags, a timeout; the kernel picks the device
 * index and says which in its reply). This library serves the NBD
 * transmission protocol (simple replies) on the other end: a server thread
 * reads the requests, hands each one to a back end without waiting (for a
 * LUN: xsvhba_io_submit, many in flight) and the reply is written from the
 * completion, in whatever order the completions come (the kernel matches
 * them by handle).
 *
 * Wire (all big-endian), as in the NBD protocol document:
 *   request  28 bytes: magic 0x25609513, command flags (16), type (16),
 *            handle (64), offset (64), length (32); a WRITE's data follows.
 *   reply    16 bytes: magic 0x67446698, error (32), handle (64); a
 *            successful READ's data follows.
 * Every request is checked before it reaches the back end: offset and
 * length multiples of the block size, length 1..max_len, offset + length
 * within the LUN (else EINVAL, the connection stays); an unknown type gets
 * EINVAL; a wrong magic ends the connection (the stream cannot be
 * resynchronised).
 *
 * Where the kernel has no nbd (no "nbd" generic-netlink family; the
 * kernel loads the module itself on that lookup when it can),
 * xsvhba_nbd_export() fails with ENODEV and logs one line saying so.
 *
 * Errors: int functions return 0 or a negative errno, constructors NULL
 * with errno set.
 */
#ifndef XSVHBA_NBD_H
#define XSVHBA_NBD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xsvhba/vhba.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XSVHBA_NBD_REQUEST_MAGIC UINT32_C(0x25609513)
#define XSVHBA_NBD_REPLY_MAGIC UINT32_C(0x67446698)
#define XSVHBA_NBD_REQ_LEN 28
#define XSVHBA_NBD_REPLY_LEN 16
#define XSVHBA_NBD_DEFAULT_MAX_LEN (32u << 20) /* largest READ/WRITE accepted */
#define XSVHBA_NBD_DEFAULT_TIMEOUT_S 120

/* request types (the low 16 bits of the type word) */
enum xsvhba_nbd_cmd {
	XSVHBA_NBD_CMD_READ = 0,
	XSVHBA_NBD_CMD_WRITE = 1,
	XSVHBA_NBD_CMD_DISC = 2,
	XSVHBA_NBD_CMD_FLUSH = 3,
	XSVHBA_NBD_CMD_TRIM = 4,
};

/* transmission flags (server flags) */
#define XSVHBA_NBD_FLAG_HAS_FLAGS (1u << 0)
#define XSVHBA_NBD_FLAG_READ_ONLY (1u << 1)
#define XSVHBA_NBD_FLAG_SEND_FLUSH (1u << 2)
#define XSVHBA_NBD_FLAG_SEND_TRIM (1u << 5)

/* error values of a reply (the protocol's, equal to Linux errno numbers) */
#define XSVHBA_NBD_EPERM 1u
#define XSVHBA_NBD_EIO 5u
#define XSVHBA_NBD_ENOMEM 12u
#define XSVHBA_NBD_EINVAL 22u
#define XSVHBA_NBD_ENOSPC 28u
#define XSVHBA_NBD_EOVERFLOW 75u
#define XSVHBA_NBD_ENOTSUP 95u
#define XSVHBA_NBD_ESHUTDOWN 108u

/* One decoded request header. */
struct xsvhba_nbd_req {
	uint16_t flags;   /* command flags */
	uint16_t type;    /* enum xsvhba_nbd_cmd, or anything the peer sent */
	uint64_t handle;
	uint64_t offset;
	uint32_t length;
};

/* Decode a request header: 0, -EINVAL when n < 28, -EPROTO when the magic
 * is wrong. */
int xsvhba_nbd_decode_req(const void *p, size_t n, struct xsvhba_nbd_req *r);
/* Check a decoded request against the export with transmission flags
 * @tflags (XSVHBA_NBD_FLAG_*): 0 (serve it) or the reply's error value:
 * XSVHBA_NBD_EINVAL for out of range, misaligned, zero length, a READ or
 * WRITE above max_len, FLUSH or TRIM not offered, an unknown type;
 * XSVHBA_NBD_EPERM for WRITE or TRIM on a read-only export. DISC answers 0
 * (it takes no reply). TRIM has no length limit but the export's end. */
uint32_t xsvhba_nbd_check_req(const struct xsvhba_nbd_req *r, uint64_t size_bytes,
			      uint32_t block_size, uint32_t max_len, uint32_t tflags);
/* Encode a reply header (16 bytes). */
void xsvhba_nbd_encode_reply(uint8_t out[XSVHBA_NBD_REPLY_LEN], uint32_t error, uint64_t handle);
/* A negative errno as a reply error value (unknown ones: EIO). */
uint32_t xsvhba_nbd_errno(int neg_errno);

/*
 * What the server hands requests to. io() starts one READ, WRITE, FLUSH
 * (buf/off/len unused) or TRIM (buf NULL) and returns 0, then calls cb(arg, err) exactly once,
 * from any thread, possibly before io() returned; or it returns -errno and
 * never calls cb.
 */
struct xsvhba_nbd_backend {
	int (*io)(void *ctx, enum xsvhba_nbd_cmd cmd, void *buf, uint64_t off, size_t len,
		  xsvhba_io_cb cb, void *arg);
};

/* Options that can grow: set .size = sizeof(struct xsvhba_nbd_opts). */
struct xsvhba_nbd_opts {
	size_t size;
	uint64_t size_bytes;   /* export size (xsvhba_nbd_export: the LUN's) */
	uint32_t block_size;   /* (xsvhba_nbd_export: the LUN's) */
	uint32_t max_len;      /* largest READ/WRITE (default 32 MiB) */
	uint32_t timeout_s;    /* kernel's per-request timeout (default 120) */
	bool read_only;
	bool no_flush;         /* do not offer FLUSH */
	bool trim;             /* offer TRIM (xsvhba_nbd_export: when the LUN
				  announces UNMAP in its VPD B0 page) */
	uint8_t reserved[33];
};
_Static_assert(sizeof(struct xsvhba_nbd_opts) == 64, "xsvhba_nbd opts ABI");

struct xsvhba_nbd;

/*
 * Serve the NBD transmission phase on @fd (a connected stream socket; the
 * server owns it from now on) with a thread of its own. Used by
 * xsvhba_nbd_export and directly by tests. NULL with errno.
 */
struct xsvhba_nbd *xsvhba_nbd_serve(int fd, const struct xsvhba_nbd_opts *o,
				    const struct xsvhba_nbd_backend *ops, void *ctx);

/*
 * Export LUN @lun of initiator @v as /dev/nbdN: socketpair, NBD_CMD_CONNECT
 * through generic netlink, serve. Server flags: HAS_FLAGS, SEND_FLUSH
 * (SYNCHRONIZE CACHE(16)), SEND_TRIM (UNMAP) when the LUN's VPD B0 page
 * announces UNMAP (a blocking INQUIRY: not from the initiator's loop
 * thread), READ_ONLY when asked. NULL with errno: ENODEV
 * when the kernel has no nbd, else what the kernel answered.
 */
struct xsvhba_nbd *xsvhba_nbd_export(struct xsvhba *v, const struct xsvhba_lun *lun,
				     const struct xsvhba_nbd_opts *o);
/*
 * The same with any back end (the host agent's vHBA module: its per-target
 * queue): @o gives size_bytes, block_size and the flags as they are (trim
 * only if @ops serves TRIM). NULL with errno as xsvhba_nbd_export.
 */
struct xsvhba_nbd *xsvhba_nbd_connect(const struct xsvhba_nbd_opts *o,
				      const struct xsvhba_nbd_backend *ops, void *ctx);
/* The device index N of /dev/nbdN (-1 for a bare server). */
int xsvhba_nbd_index(const struct xsvhba_nbd *n);
/* Block until the peer disconnected (DISC or EOF) or timeout_ms passed
 * (-ETIMEDOUT); 0 once the server thread has stopped reading. */
int xsvhba_nbd_wait_closed(struct xsvhba_nbd *n, int timeout_ms);

/*
 * Tear down: an exported device gets NBD_CMD_DISCONNECT (the kernel sends
 * DISC and closes its end); the socket is shut down, the requests in
 * flight are waited for (their replies go nowhere), the thread joined, the
 * socket closed, everything freed. Not from the back end's completion
 * thread (for a LUN: the initiator's loop must still be running).
 */
void xsvhba_nbd_free(struct xsvhba_nbd *n);

struct xsvhba_nbd_stats {
	uint64_t reads, writes, flushes, trims;
	uint64_t read_bytes, write_bytes;
	uint64_t errors;         /* replies with a non-zero error */
	uint64_t rejected;       /* of which refused by the checks (never reached the back end) */
	uint32_t inflight;
	bool closed;             /* the peer disconnected */
};
void xsvhba_nbd_get_stats(struct xsvhba_nbd *n, struct xsvhba_nbd_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* XSVHBA_NBD_H */
