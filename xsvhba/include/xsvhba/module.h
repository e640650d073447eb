/* SPDX-License-Identifier: MIT */
/*
 * xsvhba/module.h - the vHBA ULP module the host agent (xscored) loads
 * (library xsvhba_mod). For every vHBA the director installs:
 *
 *   - one SRP initiator (xsvhba/vhba.h) per target of the vHBA: it logs in
 *     on the director's I/O port (tca_lid, or the link-local GID of
 *     tca_guid on RoCE) to service ID = the target's WWPN (0: the SRP
 *     default), with initiator port id = the vHBA's WWPN, queue depth =
 *     the vHBA's queue depth, I/O held for its link-down timeout;
 *   - the target's LUNs as files, <mount root>/<vhba>/<target>/lun<N>
 *     (xsvhba/fs.h), one FUSE mount per target;
 *   - with opts.nbd, each LUN also as /dev/nbdN (xsvhba/nbd.h, the kernel's
 *     nbd through netlink): its requests go through the same per-target
 *     queue as the files' (held while the initiator is replaced), FLUSH is
 *     SYNCHRONIZE CACHE(16), no TRIM. The exports follow the LUNs of a
 *     logged-in target (a new LUN is exported at the next tick, a LUN gone
 *     is disconnected, its size is the one at export time); removing the
 *     target, DELETE and the host stopping disconnect them (a thread of the
 *     module waits there for their requests in flight). A kernel without
 *     nbd: one log line, the files only.
 *
 * In front of each initiator the module keeps a queue: the execution
 * throttle bounds the requests in flight across all targets of the vHBA
 * (0: no bound); while a target's initiator is being replaced (queue depth,
 * link-down timeout, WWPN or I/O port changed) new requests wait there and
 * the in-flight ones drain first, so such an UPDATE applies with no I/O
 * error; a request waits at most the link-down timeout.
 *
 * UPDATE applies live: targets added (mounted) or removed (unmounted, their
 * I/O ended with EIO), admin down (in-flight I/O drains, then logout; new
 * I/O fails with EIO; the files stay) and up again. DELETE and the host
 * stopping unmount and log out. The vHBA is reported OPER_UP to the
 * director when it is admin up and every target is logged in and
 * discovered, OPER_DOWN otherwise.
 *
 * The module opens its own fabric port ("<host port>-vhba") when the first
 * vHBA is installed. Everything but the FUSE workers runs on the host's
 * event loop.
 */
#ifndef XSVHBA_MODULE_H
#define XSVHBA_MODULE_H

#include <stdbool.h>
#include <stdint.h>

#include <xscore/host.h>

#include "xsvhba/fs.h"
#include "xsvhba/vhba.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XSVHBA_MOD_DEFAULT_ROOT "/run/xsigo/vhba"

struct xsvhba_mod;

struct xsvhba_mod_opts {
	size_t size;                 /* sizeof(struct xsvhba_mod_opts) */
	const char *fabric_spec;     /* default "soft" */
	const char *port_name;       /* default "<host port>-vhba" */
	const char *mount_root;      /* default XSVHBA_MOD_DEFAULT_ROOT; < 200 chars */
	unsigned int fs_threads;     /* FUSE workers per target (default 4) */
	int tick_ms;                 /* state machine period (default 100) */
	bool nbd;                    /* also each LUN as /dev/nbdN (kernel nbd) */
	uint8_t reserved[31];
};

/* Register the module for XS_XSMP_VHBA on @h. NULL with errno. */
struct xsvhba_mod *xsvhba_mod_new(struct xs_host *h, const struct xsvhba_mod_opts *opts);
/* Free after xs_host_free (which removes the vHBAs through the module). */
void xsvhba_mod_free(struct xsvhba_mod *m);

struct xsvhba_mod_status {
	char dir[256];               /* <mount root>/<vhba> */
	bool admin_up;
	bool oper_up;
	uint64_t wwpn;
	uint32_t queue_depth;        /* per target (SRP login) */
	uint32_t exec_throttle;      /* requests in flight per vHBA, 0 = no bound */
	uint32_t link_down_s;
	uint32_t inflight;           /* requests at the initiators */
	unsigned int n_targets;
};

struct xsvhba_mod_tgt_status {
	char name[XS_VHBA_TARGET_NAME_LEN + 1];
	uint64_t wwpn;
	const char *state;           /* "starting", "up", "down", "draining", "stopped", "failed" */
	bool connected;
	char mountpoint[288];
	uint32_t queued;             /* held by the module (throttle, re-login) */
	uint32_t inflight;           /* handed to the initiator */
	uint64_t restarts;           /* initiator replaced (UPDATE) */
	uint64_t queue_timeouts;     /* requests failed after waiting the link-down timeout */
	struct xsvhba_stats st;      /* initiator counters, summed over its replacements */
	char last_error[96];
};

/*
 * Status of a vHBA this module holds, and of up to max_tgts of its targets
 * (in configuration order): the number of targets, or -ENOENT when the
 * device is not ours (record-only registry).
 */
int xsvhba_mod_dev_status(const struct xs_ulp_dev *dev, struct xsvhba_mod_status *st,
			  struct xsvhba_mod_tgt_status *tgts, unsigned int max_tgts);
/* The LUN files of target number @tgt: as xsvhba_fs_lun_stats, or -ENOENT. */
int xsvhba_mod_dev_luns(const struct xs_ulp_dev *dev, unsigned int tgt,
			struct xsvhba_fs_lun_stats *out, unsigned int max);

/* The nbd export of LUN @lun_id of target number @tgt: N of /dev/nbdN,
 * -EIO when exporting it failed, -ENOENT when it has none. */
int xsvhba_mod_dev_nbd(const struct xs_ulp_dev *dev, unsigned int tgt, uint16_t lun_id);

#ifdef __cplusplus
}
#endif

#endif /* XSVHBA_MODULE_H */
