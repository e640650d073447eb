/* SPDX-License-Identifier: MIT */
/*
 * scsi_test.h - helpers for the xsd_scsi unit tests: run one command to
 * completion through the asynchronous API, and the sense bytes a test
 * expects, written out independently of the library's own sense builder.
 * Include after <cmocka.h>.
 */
#ifndef XSD_SCSI_TEST_H
#define XSD_SCSI_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scsi/scsi.h"

struct scsi_rig {
	struct xsd_scsi_target *t;
	struct xsd_scsi_nexus *n;
};

/* Submit and wait (up to 5 s) for the done callback; returns the status. */
uint8_t rig_run(struct scsi_rig *r, struct xsd_scsi_nexus *n, uint16_t lun, const uint8_t *cdb,
		size_t cdb_len, enum xsd_scsi_dir dir, void *buf, size_t len,
		struct xsd_scsi_cmd *out);
/* The same with a list of buffers. */
uint8_t rig_runv(struct scsi_rig *r, struct xsd_scsi_nexus *n, uint16_t lun, const uint8_t *cdb,
		 size_t cdb_len, enum xsd_scsi_dir dir, const struct iovec *iov,
		 unsigned int iovcnt, struct xsd_scsi_cmd *out);
/* Same, with the rig's nexus and a 16-byte CDB. */
uint8_t rig_cmd(struct scsi_rig *r, uint16_t lun, const uint8_t *cdb16, enum xsd_scsi_dir dir,
		void *buf, size_t len, struct xsd_scsi_cmd *out);

/* 18 bytes of fixed sense as a test expects them. */
void expect_sense_bytes(uint8_t *s, uint8_t key, uint8_t asc, uint8_t ascq);
/* Check CHECK CONDITION + exact sense; field >= 0 adds the SKSV field pointer
 * (cdb: C/D bit, bit >= 0: BPV + bit). */
void assert_sense(const struct xsd_scsi_cmd *c, uint8_t key, uint8_t asc, uint8_t ascq);
void assert_sense_field(const struct xsd_scsi_cmd *c, uint8_t key, uint8_t asc, uint8_t ascq,
			bool cdb, uint16_t field, int bit);

/* A RAM LUN with serial @serial and @blocks blocks of @bs bytes. */
struct xsd_scsi_lun *ram_lun(uint64_t blocks, uint32_t bs, const char *serial);

#endif
