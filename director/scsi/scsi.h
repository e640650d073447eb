/* SPDX-License-Identifier: MIT */
/*
 * scsi/scsi.h - the director's SCSI target emulation (library xsd_scsi):
 * consumer API used by the SRP target.
 *
 * A target holds logical units (LUNs) by id; each LUN sits on a back end
 * (file or block device through io_uring, RAM for tests; SG_IO and iSCSI
 * plug in through the same ops table, see scsi_backend.h). Initiators talk
 * to the target through a nexus (one per I_T nexus, i.e. per SRP login),
 * which carries that initiator's unit attentions.
 *
 * Commands are asynchronous: xsd_scsi_submit() takes a command and returns
 * at once; its done callback runs later, from xsd_scsi_target_process(),
 * never from inside xsd_scsi_submit(). xsd_scsi_target_fd() is one pollable
 * descriptor (readable when completions are waiting) to put in an event
 * loop. Data buffers are iovecs supplied by the caller.
 *
 * Not thread-safe: one target is driven from one thread.
 * Errors: int functions return 0 or a negative errno, constructors NULL with
 * errno set.
 */
#ifndef XSD_SCSI_H
#define XSD_SCSI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* -------------------------------------------------------- SCSI constants */
#define XSD_SCSI_GOOD 0x00
#define XSD_SCSI_CHECK_CONDITION 0x02
#define XSD_SCSI_BUSY 0x08
#define XSD_SCSI_TASK_SET_FULL 0x28

enum xsd_scsi_sense_key {
	XSD_SK_NO_SENSE = 0x0,
	XSD_SK_NOT_READY = 0x2,
	XSD_SK_MEDIUM_ERROR = 0x3,
	XSD_SK_HARDWARE_ERROR = 0x4,
	XSD_SK_ILLEGAL_REQUEST = 0x5,
	XSD_SK_UNIT_ATTENTION = 0x6,
	XSD_SK_DATA_PROTECT = 0x7,
	XSD_SK_ABORTED_COMMAND = 0xb,
};

/* Additional sense code and qualifier as (ASC << 8 | ASCQ). */
#define XSD_ASC_NO_ADDITIONAL_SENSE 0x0000
#define XSD_ASC_NOT_READY_INIT_REQUIRED 0x0402
#define XSD_ASC_WRITE_ERROR 0x0c00
#define XSD_ASC_UNRECOVERED_READ_ERROR 0x1100
#define XSD_ASC_PARAM_LIST_LENGTH_ERROR 0x1a00
#define XSD_ASC_INVALID_OPCODE 0x2000
#define XSD_ASC_LBA_OUT_OF_RANGE 0x2100
#define XSD_ASC_INVALID_FIELD_IN_CDB 0x2400
#define XSD_ASC_LUN_NOT_SUPPORTED 0x2500
#define XSD_ASC_INVALID_FIELD_IN_PARAM 0x2600
#define XSD_ASC_WRITE_PROTECTED 0x2700
#define XSD_ASC_SPACE_ALLOC_FAILED 0x2707
#define XSD_ASC_POWER_ON_RESET 0x2900
#define XSD_ASC_LUN_RESET 0x2903 /* BUS DEVICE RESET FUNCTION OCCURRED */
#define XSD_ASC_CAPACITY_CHANGED 0x2a09
#define XSD_ASC_SAVING_PARAMS_UNSUPPORTED 0x3900
#define XSD_ASC_LUNS_CHANGED 0x3f0e
#define XSD_ASC_INTERNAL_TARGET_FAILURE 0x4400

#define XSD_SCSI_SENSE_LEN 18 /* fixed format, what we always return */
#define XSD_SCSI_CDB_MAX 32
#define XSD_SCSI_MAX_LUN_ID 16383 /* flat space addressing */
#define XSD_SCSI_MAX_XFER_BYTES (UINT32_C(1) << 30) /* cap on max_xfer_blocks * block size */

/* "ILLEGAL REQUEST", "LBA OUT OF RANGE", ...: for logs and tools. */
const char *xsd_scsi_sense_key_str(uint8_t key);
const char *xsd_scsi_asc_str(uint16_t asc_ascq);

/*
 * 8-byte SAM LUN <-> LUN id. Ids 0..255 use peripheral device addressing
 * (00 ii 00..), 256..16383 flat space addressing (4h|hi ii 00..), as
 * REPORT LUNS returns them. from_wire: -EINVAL for any other form.
 */
uint64_t xsd_scsi_lun_to_wire(uint16_t id);
int xsd_scsi_lun_from_wire(uint64_t wire, uint16_t *id);

/* ------------------------------------------------------------- objects */
struct xsd_scsi_target;
struct xsd_scsi_lun;
struct xsd_scsi_nexus;
struct xsd_scsi_bdev; /* back end: scsi_backend.h */

enum xsd_scsi_dir {
	XSD_SCSI_DIR_NONE = 0,
	XSD_SCSI_DIR_OUT,  /* data-out: initiator -> target (WRITE, UNMAP list) */
	XSD_SCSI_DIR_IN,   /* data-in: target -> initiator (READ, INQUIRY, ...) */
};

struct xsd_scsi_cmd;
typedef void (*xsd_scsi_done_cb)(struct xsd_scsi_cmd *cmd);

/* Private per-command state; callers never touch it. */
struct xsd_scsi_cmd_priv {
	struct xsd_scsi_cmd *next;
	struct xsd_scsi_lun *lu;
	struct iovec iov_inline[8];
	struct iovec *iov_heap;
	uint64_t bio_space[16];
};

/*
 * One SCSI command. The caller fills the "in" part, keeps the struct and
 * the buffers alive until done runs, and reads the "out" part there. A
 * command moves data one way only (dir); none of the emulated commands is
 * bidirectional. Done callbacks may submit new commands, free their nexus
 * or add and remove LUNs.
 */
struct xsd_scsi_cmd {
	/* in */
	struct xsd_scsi_nexus *nexus;
	uint64_t lun;                   /* 8-byte SAM LUN as on the wire */
	uint8_t cdb[XSD_SCSI_CDB_MAX];
	uint16_t cdb_len;               /* 6..XSD_SCSI_CDB_MAX */
	enum xsd_scsi_dir dir;
	const struct iovec *iov;        /* the data buffer (ignored for DIR_NONE) */
	unsigned int iovcnt;
	xsd_scsi_done_cb done;
	void *arg;                      /* for the caller */
	/* out */
	uint8_t status;                 /* XSD_SCSI_GOOD, _CHECK_CONDITION, ... */
	uint8_t sense_len;              /* 0 or XSD_SCSI_SENSE_LEN */
	uint8_t sense[XSD_SCSI_SENSE_LEN];
	uint32_t xfer_len;              /* bytes moved to/from the buffer */
	uint32_t residual;              /* see overflow */
	bool overflow;                  /* true: the command wanted residual more
					 * bytes than the buffer had; false:
					 * residual bytes of the buffer unused */
	struct xsd_scsi_cmd_priv priv;
};

/* ------------------------------------------------------------- targets */
struct xsd_scsi_target *xsd_scsi_target_new(void);
/* Waits for commands still in flight (their done callbacks run), then
 * frees every LUN (and its back end) and nexus. Not from a done callback. */
void xsd_scsi_target_free(struct xsd_scsi_target *t);
/* Pollable: readable while completions wait for xsd_scsi_target_process. */
int xsd_scsi_target_fd(const struct xsd_scsi_target *t);
/* Reap back end completions and run done callbacks; returns how many
 * commands completed (0 when none). Never blocks. */
int xsd_scsi_target_process(struct xsd_scsi_target *t);
/* Block up to timeout_ms (-1 forever) for completions, then process them. */
int xsd_scsi_target_wait(struct xsd_scsi_target *t, int timeout_ms);
/*
 * Batching: between plug and unplug, back end I/O of submitted commands is
 * queued but not started; unplug starts all of it at once (for io_uring,
 * one system call for the batch). Meant around a burst of submissions, e.g.
 * all SRP_CMDs one receive poll returned. process() also starts anything
 * queued, so a forgotten unplug stalls I/O until the next process() but
 * loses nothing. Not nested.
 */
void xsd_scsi_target_plug(struct xsd_scsi_target *t);
void xsd_scsi_target_unplug(struct xsd_scsi_target *t);
/* Commands submitted and not yet completed. */
unsigned int xsd_scsi_target_inflight(const struct xsd_scsi_target *t);

/*
 * Add @lun under @id (0..16383); the target owns it from then on (also on
 * failure: it is freed). Every nexus gets POWER ON/RESET for the new LUN
 * and REPORTED LUNS DATA HAS CHANGED on its other LUNs.
 * -EEXIST when the id is taken, -ERANGE for an id above 16383, -EINVAL
 * for a NULL lun (a failed xsd_scsi_lun_new passed straight in).
 */
int xsd_scsi_target_add_lun(struct xsd_scsi_target *t, uint16_t id, struct xsd_scsi_lun *lun);
/* Remove LUN @id: new commands see it gone at once, commands in flight
 * complete normally, then it is freed. Other LUNs of every nexus get
 * REPORTED LUNS DATA HAS CHANGED. -ENOENT when there is no such LUN. */
int xsd_scsi_target_remove_lun(struct xsd_scsi_target *t, uint16_t id);
/* Establish BUS DEVICE RESET FUNCTION OCCURRED (29/03) on LUN @id for every
 * nexus (what a LOGICAL UNIT RESET leaves behind). -ENOENT. */
int xsd_scsi_target_lun_reset(struct xsd_scsi_target *t, uint16_t id);
/* Re-read the back end's size (after the file or device grew or shrank):
 * 1 when the capacity changed (every nexus that sees the LUN then gets
 * CAPACITY DATA HAS CHANGED, 2A/09), 0 when not, -ENOENT, -EINVAL when it
 * is now below one block (the old capacity stays). */
int xsd_scsi_target_resize_lun(struct xsd_scsi_target *t, uint16_t id);
/* Counters of one LUN since it was added (commands counted at completion). */
struct xsd_scsi_lun_stats {
	uint64_t commands;      /* every command addressed to the LUN */
	uint64_t reads;         /* READ(6/10/16) completed GOOD */
	uint64_t writes;        /* WRITE(6/10/16) completed GOOD */
	uint64_t read_bytes;
	uint64_t write_bytes;
	uint64_t unmaps;        /* UNMAP completed GOOD */
	uint64_t flushes;       /* SYNCHRONIZE CACHE completed GOOD */
	uint64_t check_conditions;
	uint64_t unit_attentions; /* CHECK CONDITIONs that reported a UA */
	uint64_t busy;          /* TASK SET FULL answers */
	unsigned int inflight;
};
/* -ENOENT when there is no LUN @id. */
int xsd_scsi_target_lun_stats(const struct xsd_scsi_target *t, uint16_t id,
			      struct xsd_scsi_lun_stats *st);
/* Number of LUNs and their ids in ascending order (up to max). */
unsigned int xsd_scsi_target_luns(const struct xsd_scsi_target *t, uint16_t *ids,
				  unsigned int max);

/* An I_T nexus: POWER ON/RESET is pending on every LUN for it. */
struct xsd_scsi_nexus *xsd_scsi_nexus_new(struct xsd_scsi_target *t, const char *initiator);
/* -EBUSY while it has commands in flight. */
int xsd_scsi_nexus_free(struct xsd_scsi_nexus *n);
/*
 * LUN masking: the nexus sees only LUN ids in @ids (count of them; ids
 * that have no LUN yet become visible when one is added), or every LUN
 * when ids is NULL (the default). Masked LUNs are absent for it: not in
 * REPORT LUNS, LOGICAL UNIT NOT SUPPORTED for commands, no unit attentions.
 * LUNs that become visible get POWER ON for this nexus, and when the set
 * changed the LUNs it saw before get REPORTED LUNS DATA HAS CHANGED.
 * -ERANGE for an id above 16383, -ENOMEM.
 */
int xsd_scsi_nexus_set_luns(struct xsd_scsi_nexus *n, const uint16_t *ids, unsigned int count);

/* Submit a command. 0: accepted, done will run from process(). -EINVAL:
 * malformed call (no nexus/done, cdb_len out of range, nexus of another
 * target): done will not run. */
int xsd_scsi_submit(struct xsd_scsi_target *t, struct xsd_scsi_cmd *cmd);

/* ---------------------------------------------------------------- LUNs */
struct xsd_scsi_lun_opts {
	uint32_t size;            /* sizeof(struct xsd_scsi_lun_opts) */
	uint32_t block_size;      /* 512 (default), 1024, 2048, 4096 */
	const char *vendor;       /* <= 8 chars, default "XSIGO" */
	const char *product;      /* <= 16, default "VIRTUAL-DISK" */
	const char *revision;     /* <= 4, default "0001" */
	const char *serial;       /* 1..32 printable chars, required */
	bool read_only;
	bool write_through;       /* WCE=0 and every write durable (FUA); default:
				   WCE=1, the host sends SYNCHRONIZE CACHE */
	uint32_t max_xfer_blocks; /* default 1 MiB worth, at most 1 GiB worth */
	uint32_t max_unmap_blocks;  /* default 1 GiB worth; 0 with no UNMAP */
	uint32_t max_unmap_descs;   /* default 64 */
	uint32_t unmap_granularity; /* blocks, default 4096 bytes worth */
	uint16_t rotation_rate;   /* VPD B1: 1 = non-rotating (default) */
	uint8_t reserved[34];
};
_Static_assert(sizeof(struct xsd_scsi_lun_opts) == 96, "lun opts ABI");

/* Takes ownership of @be (freed on failure too). EINVAL: bad opts, or a
 * back end smaller than one block. */
struct xsd_scsi_lun *xsd_scsi_lun_new(struct xsd_scsi_bdev *be,
				      const struct xsd_scsi_lun_opts *opts);
/* Only for a LUN never added to a target. */
void xsd_scsi_lun_free(struct xsd_scsi_lun *lun);
uint64_t xsd_scsi_lun_blocks(const struct xsd_scsi_lun *lun);
uint32_t xsd_scsi_lun_block_size(const struct xsd_scsi_lun *lun);
/* The 16-byte NAA (type 6) identifier VPD page 0x83 reports. */
void xsd_scsi_lun_naa(const struct xsd_scsi_lun *lun, uint8_t naa[16]);

/* ----------------------------------------------------------- back ends */
/* Memory, zero-filled; for tests. */
struct xsd_scsi_bdev *xsd_scsi_ram_new(uint64_t size);

struct xsd_scsi_file_opts {
	uint32_t size;          /* sizeof(struct xsd_scsi_file_opts) */
	bool direct;            /* O_DIRECT: buffers/offsets must be aligned */
	bool read_only;
	bool create;            /* create the file (regular files only) ... */
	uint64_t create_size;   /* ... and size it to this many bytes */
	uint32_t queue_depth;   /* io_uring entries, default 128 */
	uint8_t reserved[44];
};
_Static_assert(sizeof(struct xsd_scsi_file_opts) == 64, "file opts ABI");

/* A regular file or a block device through io_uring. ENOENT, EACCES, ...
 * from open; EINVAL for other file types or a zero size. */
struct xsd_scsi_bdev *xsd_scsi_file_open(const char *path, const struct xsd_scsi_file_opts *opts);

/*
 * Pass-through back ends: every command but REPORT LUNS goes to the device
 * as it came (CDB, data, status and sense back), so INQUIRY and friends
 * describe the real device. The LUN's block size option should match the
 * device's (it only matters for REPORT LUNS-side bookkeeping).
 */
struct xsd_scsi_iscsi_opts {
	uint32_t size;              /* sizeof(struct xsd_scsi_iscsi_opts) */
	uint32_t reconnect_max;     /* reconnect attempts after a loss (default 8) */
	const char *initiator_iqn;  /* default "iqn.2026-01.com.xsigo:director" */
	uint32_t timeout_s;         /* login / command timeout (default 10) */
	uint8_t reserved[36];
};
_Static_assert(sizeof(struct xsd_scsi_iscsi_opts) == 56, "iscsi opts ABI");

/* An iSCSI LUN through libiscsi: url is iscsi://<host>[:<port>]/<iqn>/<lun>.
 * Logs in (blocking) and reads the capacity; I/O is asynchronous from then
 * on, on the target's event loop. ENOTSUP when built without libiscsi,
 * ECONNREFUSED / EIO when the login fails, EINVAL for a bad url. */
struct xsd_scsi_bdev *xsd_scsi_iscsi_open(const char *url, const struct xsd_scsi_iscsi_opts *opts);

struct xsd_scsi_sg_opts {
	uint32_t size;              /* sizeof(struct xsd_scsi_sg_opts) */
	uint32_t threads;           /* worker threads issuing SG_IO (default 4) */
	uint32_t timeout_ms;        /* per command (default 30000) */
	bool read_only;
	uint8_t reserved[19];
};
_Static_assert(sizeof(struct xsd_scsi_sg_opts) == 32, "sg opts ABI");

/* A SCSI device (/dev/sgN or /dev/sdX) through the SG_IO ioctl, from a
 * small pool of worker threads. ENOTTY when the node does not take SG_IO. */
struct xsd_scsi_bdev *xsd_scsi_sg_open(const char *path, const struct xsd_scsi_sg_opts *opts);

/* Free a back end that was never given to a LUN. */
void xsd_scsi_bdev_free(struct xsd_scsi_bdev *be);

#ifdef __cplusplus
}
#endif

#endif /* XSD_SCSI_H */
