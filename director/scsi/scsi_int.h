/* SPDX-License-Identifier: MIT */
/*
 * scsi/scsi_int.h - private to the xsd_scsi library (target, nexus, LUN
 * internals and the helpers the emulation shares). Not for consumers.
 */
#ifndef XSD_SCSI_INT_H
#define XSD_SCSI_INT_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xscore/common.h>
#include <xscore/log.h>

#include "scsi/scsi.h"
#include "scsi/scsi_backend.h"

#define SCSI_LOG "scsi"

/* Unit attention conditions, in reporting priority (lowest bit first). */
#define UA_POWER_ON 0x01u
#define UA_LUN_RESET 0x02u
#define UA_CAPACITY_CHANGED 0x04u
#define UA_LUNS_CHANGED 0x08u

struct xsd_scsi_lun {
	struct xsd_scsi_bdev *be;
	struct xsd_scsi_target *t;
	uint16_t id;
	uint32_t block_size;
	uint64_t blocks;
	char vendor[9];
	char product[17];
	char revision[5];
	char serial[33];
	uint8_t naa[16];
	bool read_only;
	bool write_through;
	bool stopped;
	bool removed;
	uint32_t max_xfer_blocks;
	uint32_t max_unmap_blocks;
	uint32_t max_unmap_descs;
	uint32_t unmap_granularity;
	uint16_t rotation_rate;
	unsigned int inflight;
	struct xsd_scsi_lun_stats stats;
	int be_fd;                  /* registered in the target's epoll, or -1 */
	struct xsd_scsi_lun *next_removed;
};

struct ua_entry {
	uint16_t id;
	uint8_t bits;
};

struct xsd_scsi_nexus {
	struct xsd_scsi_target *t;
	char initiator[64];
	struct ua_entry *ua;
	unsigned int n_ua;
	unsigned int cap_ua;
	unsigned int inflight;
	bool masked;       /* only the LUN ids in allow[] are visible */
	uint16_t *allow;   /* sorted, unique */
	unsigned int n_allow;
	struct xsd_scsi_nexus *next;
};

struct lun_slot {
	uint16_t id;
	struct xsd_scsi_lun *lun;
};

struct xsd_scsi_target {
	struct lun_slot *luns;      /* sorted by id */
	unsigned int n_luns;
	unsigned int cap_luns;
	struct xsd_scsi_nexus *nexuses;
	struct xsd_scsi_lun *removed; /* removed, still draining */
	int epfd;
	int evfd;
	struct xsd_scsi_cmd *done_head;
	struct xsd_scsi_cmd *done_tail;
	unsigned int inflight;
	bool plugged;
	bool ev_signaled;           /* evfd written since process() last read it */
};

/* target.c */
struct xsd_scsi_lun *scsi_target_find(struct xsd_scsi_target *t, uint16_t id);
/* Is LUN @id visible through nexus @n (LUN masking)? */
bool scsi_nexus_sees(const struct xsd_scsi_nexus *n, uint16_t id);
/* Pending UA bits of @n for LUN @id (0 when none). */
uint8_t scsi_ua_pending(struct xsd_scsi_nexus *n, uint16_t id);
void scsi_ua_clear(struct xsd_scsi_nexus *n, uint16_t id, uint8_t bits);
/* Clear LUNS_CHANGED on every LUN of the nexus (after REPORT LUNS). */
void scsi_ua_clear_all(struct xsd_scsi_nexus *n, uint8_t bits);
/* Finish a command: queue it for its done callback. */
void scsi_cmd_complete(struct xsd_scsi_cmd *cmd);

/* sense.c */
/* CHECK CONDITION with fixed-format sense: key / ASC / ASCQ. */
void scsi_sense(struct xsd_scsi_cmd *cmd, uint8_t key, uint16_t asc_ascq);
/* ... plus the sense-key specific field pointer (SKSV=1): in the CDB (cdb)
 * or the parameter list, at @byte, bit @bit (-1: no bit pointer). */
void scsi_sense_field(struct xsd_scsi_cmd *cmd, uint8_t key, uint16_t asc_ascq, bool cdb,
		      uint16_t byte, int bit);
/* Fill @sense (18 bytes) with fixed-format sense data, no field pointer. */
void scsi_sense_fill(uint8_t *sense, uint8_t key, uint16_t asc_ascq);

/* emulate.c */
void scsi_emulate(struct xsd_scsi_target *t, struct xsd_scsi_cmd *cmd, struct xsd_scsi_lun *lu,
		  uint16_t id);
/* Commands to a LUN id with no LUN behind it. */
void scsi_emulate_no_lun(struct xsd_scsi_target *t, struct xsd_scsi_cmd *cmd);

/* iovec helpers */
size_t scsi_iov_len(const struct iovec *iov, unsigned int cnt);
/* Copy len bytes of data into the iovec (from its start); returns bytes copied. */
size_t scsi_iov_from_buf(const struct iovec *iov, unsigned int cnt, const void *data, size_t len);
/* Copy up to len bytes out of the iovec into data; returns bytes copied. */
size_t scsi_iov_to_buf(const struct iovec *iov, unsigned int cnt, void *data, size_t len);

/* Pass-through back ends: cap the device's Block Limits VPD transfer
 * lengths at what one SRP command moves (1 MiB). */
#define XSD_PASSTHROUGH_MAX_XFER (UINT32_C(1) << 20)
void scsi_passthrough_fix_vpd(struct xsd_scsi_cmd *cmd, uint32_t block_size);

#endif /* XSD_SCSI_INT_H */
