/* SPDX-License-Identifier: MIT */
/*
 * xsvhba/vhba.h - the host's SRP initiator (library xsvhba): one virtual HBA
 * port logged in to one SRP target over an RC connection of the fabric API.
 *
 * The initiator connects (SRP_LOGIN_REQ in the CM REQ private data),
 * discovers the LUNs (REPORT LUNS, INQUIRY, READ CAPACITY 16, VPD B0),
 * keeps request-limit credits, registers each I/O buffer for that command
 * only (REMOTE_WRITE for reads, REMOTE_READ for writes; no global rkey)
 * and sends direct descriptors, or indirect ones when the buffer is
 * scattered. On link loss, a target logout or the target going away, I/O is
 * held and the initiator reconnects; held and in-flight I/O is re-driven
 * after the new login and fails with -EIO only when the link-down timeout
 * passes first.
 *
 * Threads: the connection is driven from the caller's event loop (one
 * thread). xsvhba_submit(), the block I/O calls and the blocking calls may
 * be used from any thread; blocking calls must not be made from the loop's
 * thread (-EDEADLK). Completion callbacks run on the loop's thread and must
 * not block. A helper thread per vHBA runs discovery and rescans.
 *
 * Errors: int functions return 0 (or a count) or a negative errno,
 * constructors NULL with errno set.
 */
#ifndef XSVHBA_VHBA_H
#define XSVHBA_VHBA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <xscore/evloop.h>
#include <xscore/fabric.h>

#ifdef __cplusplus
extern "C" {
#endif

#define XSVHBA_DEFAULT_SERVICE_ID UINT64_C(0x0013970053525054) /* = the target's default */
#define XSVHBA_DEFAULT_QUEUE_DEPTH 32
#define XSVHBA_MAX_QUEUE_DEPTH 1024
#define XSVHBA_DEFAULT_LINK_DOWN_MS 30000
#define XSVHBA_MAX_SEGS 32   /* iovec segments per command (indirect descriptors) */
#define XSVHBA_MAX_LUNS 256
#define XSVHBA_SENSE_MAX 96

struct xsvhba;

/* Options that can grow: set .size = sizeof(struct xsvhba_opts). */
struct xsvhba_opts {
	size_t size;
	struct xs_cm_dest dest;      /* the target's port (LID or GID); ip is not copied */
	uint64_t service_id;         /* 0: XSVHBA_DEFAULT_SERVICE_ID */
	uint64_t wwpn;               /* this port's WWPN (initiator port id bytes 8..15) */
	uint32_t queue_depth;        /* commands in flight, 1..1024 (default 32) */
	uint32_t link_down_ms;       /* hold I/O this long on link loss (default 30 s) */
	/* SRP_LOGIN_REQ max IT IU length (64..8192, default 1024). The
	 * receive buffers start at this size (at least 512); a target whose
	 * SRP_LOGIN_RSP announces a longer max TI IU length gets a new login
	 * with buffers of that size, up to 65536 bytes; beyond, it is refused
	 * (logged; xsvhba_wait_ready() then returns -EMSGSIZE). */
	uint32_t it_iu_len;
	uint32_t connect_timeout_ms; /* per attempt (default 2000) */
	bool own_fabric_events;      /* put the fabric's event fd in the loop */
	/* SRP_LOGIN_REQ multi-channel action MULTIPLE: keep the target's other
	 * channels of this WWPN (several logins of one initiator port, e.g.
	 * fio jobs). Default SINGLE: a login ends the port's older channels. */
	bool multi_channel;
	/* target port ID bytes 0..7 (IB: the IOC's id_ext); 8..15 are the
	 * service ID. Zero for our target; Linux ib_srpt wants its service
	 * GUID in both halves. */
	uint8_t target_id_ext[8];
	uint8_t reserved[70];
};
_Static_assert(sizeof(struct xsvhba_opts) == 160, "xsvhba opts ABI");

enum xsvhba_dir {
	XSVHBA_DIR_NONE = 0,
	XSVHBA_DIR_WRITE,  /* data-out: host -> target */
	XSVHBA_DIR_READ,   /* data-in: target -> host */
};

struct xsvhba_cmd;
typedef void (*xsvhba_cmd_cb)(struct xsvhba_cmd *cmd);

/*
 * One SCSI command. Fill the "in" part, keep the struct and the buffers
 * alive until done runs. result: 0 when the target answered (see status and
 * sense), -EIO when the link stayed down past the timeout, -ECANCELED when
 * task management aborted it, -ESHUTDOWN when the vHBA was freed, -EINVAL
 * for a malformed command.
 */
struct xsvhba_cmd {
	/* in */
	uint64_t lun;                 /* 8-byte SAM LUN as on the wire */
	uint8_t cdb[32];
	uint8_t cdb_len;              /* 6..32 */
	enum xsvhba_dir dir;
	const struct iovec *iov;
	unsigned int iovcnt;          /* 1..XSVHBA_MAX_SEGS; >1 uses indirect descriptors */
	xsvhba_cmd_cb done;
	void *arg;
	/* out */
	int result;
	uint8_t status;
	uint8_t sense_len;
	uint8_t sense[XSVHBA_SENSE_MAX];
	uint32_t residual;            /* bytes not transferred (under) */
	uint64_t tag;                 /* SRP tag, set when sent (for ABORT TASK) */
	/* private */
	struct xsvhba_cmd *next;
	struct xs_mr *mrs[XSVHBA_MAX_SEGS];
	unsigned int nmr;
	uint64_t submitted_ms;
};

/* One logical unit as discovered. */
struct xsvhba_lun {
	uint16_t id;
	uint64_t wire;             /* 8-byte SAM LUN */
	uint64_t blocks;
	uint32_t block_size;
	uint32_t max_xfer_bytes;   /* VPD B0 maximum transfer length, or 1 MiB */
	char vendor[9];
	char product[17];
};

struct xsvhba *xsvhba_new(struct xs_fabric *f, struct xs_loop *loop, const struct xsvhba_opts *o);
/* Fails everything still queued with -ESHUTDOWN, logs out, frees. Call it
 * from the loop's thread, or with the loop no longer running. */
void xsvhba_free(struct xsvhba *v);
/* Start connecting (from the loop's thread, or before the loop runs). */
int xsvhba_start(struct xsvhba *v);
/* Feed a fabric event: 1 when it was ours. */
int xsvhba_handle_event(struct xsvhba *v, const struct xs_event *ev);
/* Send SRP_I_LOGOUT and disconnect; no reconnect follows (loop thread). */
int xsvhba_logout(struct xsvhba *v);

/* Thread-safe: queue a command. 0, or -EINVAL (done not called). */
int xsvhba_submit(struct xsvhba *v, struct xsvhba_cmd *cmd);

/* Block until logged in and discovery ran once (0), -ETIMEDOUT, or the
 * reason the last login failed (-ECONNREFUSED for an SRP_LOGIN_REJ, whose
 * reason xsvhba_last_reject() returns; -EMSGSIZE when the target's max TI
 * IU length is above 65536, more than the initiator receives). */
int xsvhba_wait_ready(struct xsvhba *v, int timeout_ms);
uint32_t xsvhba_last_reject(const struct xsvhba *v);
bool xsvhba_connected(const struct xsvhba *v);
/* Copy up to max LUNs (ascending ids); returns how many there are. */
int xsvhba_get_luns(struct xsvhba *v, struct xsvhba_lun *out, unsigned int max);
/* One LUN by id: 0 or -ENOENT. */
int xsvhba_get_lun(struct xsvhba *v, uint16_t id, struct xsvhba_lun *out);
/* Called (from the discovery thread) after a rescan changed the LUN set. */
typedef void (*xsvhba_luns_cb)(struct xsvhba *v, void *arg);
void xsvhba_set_luns_cb(struct xsvhba *v, xsvhba_luns_cb cb, void *arg);
/* Ask for a rescan (thread-safe); AERs and REPORTED LUNS DATA HAS CHANGED
 * unit attentions do it by themselves. */
void xsvhba_rescan(struct xsvhba *v);
/* Blocking: wait until no rescan is pending or running. */
int xsvhba_wait_scan(struct xsvhba *v, int timeout_ms);

/* Blocking SCSI command: the command's result. */
int xsvhba_scsi(struct xsvhba *v, struct xsvhba_cmd *cmd);

/*
 * Block I/O on LUN @id: @len bytes at byte @off (both multiples of the
 * block size) as READ(16)/WRITE(16) commands of at most the LUN's maximum
 * transfer size, all in flight at once. Unit attentions, BUSY and TASK SET
 * FULL are retried. cb(arg, err) runs once on the loop thread: 0, -EIO
 * (CHECK CONDITION or link down past the timeout), -ENXIO (no such LUN),
 * -EINVAL (alignment).
 */
typedef void (*xsvhba_io_cb)(void *arg, int err);
int xsvhba_io_submit(struct xsvhba *v, uint16_t id, bool write, void *buf, uint64_t off,
		     size_t len, xsvhba_io_cb cb, void *arg);
/* Blocking versions. */
int xsvhba_read(struct xsvhba *v, uint16_t id, void *buf, uint64_t off, size_t len);
int xsvhba_write(struct xsvhba *v, uint16_t id, const void *buf, uint64_t off, size_t len);
int xsvhba_sync(struct xsvhba *v, uint16_t id);  /* SYNCHRONIZE CACHE(16) */

/* Blocking task management: the SRP RSP_CODE (0 = complete) or -errno.
 * func is an XS_SRP_TSK_* value; task_tag for ABORT TASK. */
int xsvhba_task_mgmt(struct xsvhba *v, uint64_t lun, uint8_t func, uint64_t task_tag);

struct xsvhba_stats {
	uint64_t commands;       /* sent to the target (re-drives count again) */
	uint64_t completed;
	uint64_t errors;         /* block I/O that ended with an error */
	uint64_t retries;        /* unit attention / busy retries */
	uint64_t logins;
	uint64_t reconnects;     /* logins after a link loss */
	uint64_t redriven;       /* commands sent again after a reconnect */
	uint64_t timed_out;      /* failed with -EIO after the link-down timeout */
	uint64_t aers;
	uint64_t rescans;
	uint32_t credits;        /* request limit now */
	uint32_t outstanding;    /* commands at the target now */
	uint32_t peak_outstanding;
	uint32_t held;           /* queued, waiting for the link or credits */
};
void xsvhba_get_stats(struct xsvhba *v, struct xsvhba_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* XSVHBA_VHBA_H */
