/* SPDX-License-Identifier: MIT */
/* scsi_test.c - shared helpers for the xsd_scsi unit tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <string.h>

#include <cmocka.h>

#include "scsi_test.h"

static void mark_done(struct xsd_scsi_cmd *cmd)
{
	*(int *)cmd->arg += 1;
}

uint8_t rig_runv(struct scsi_rig *r, struct xsd_scsi_nexus *n, uint16_t lun, const uint8_t *cdb,
		 size_t cdb_len, enum xsd_scsi_dir dir, const struct iovec *iov,
		 unsigned int iovcnt, struct xsd_scsi_cmd *c)
{
	int done = 0;

	memset(c, 0, sizeof(*c));
	c->nexus = n;
	c->lun = xsd_scsi_lun_to_wire(lun);
	memcpy(c->cdb, cdb, cdb_len);
	c->cdb_len = (uint16_t)cdb_len;
	c->dir = dir;
	c->iov = iov;
	c->iovcnt = iovcnt;
	c->done = mark_done;
	c->arg = &done;
	assert_int_equal(xsd_scsi_submit(r->t, c), 0);
	/* never completed inline */
	assert_int_equal(done, 0);
	for (int i = 0; i < 500 && !done; i++)
		assert_true(xsd_scsi_target_wait(r->t, 10) >= 0);
	assert_int_equal(done, 1);
	c->iov = NULL;
	c->arg = NULL;
	return c->status;
}

uint8_t rig_run(struct scsi_rig *r, struct xsd_scsi_nexus *n, uint16_t lun, const uint8_t *cdb,
		size_t cdb_len, enum xsd_scsi_dir dir, void *buf, size_t len,
		struct xsd_scsi_cmd *c)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };

	return rig_runv(r, n, lun, cdb, cdb_len, dir, &iov, buf ? 1 : 0, c);
}

uint8_t rig_cmd(struct scsi_rig *r, uint16_t lun, const uint8_t *cdb16, enum xsd_scsi_dir dir,
		void *buf, size_t len, struct xsd_scsi_cmd *out)
{
	return rig_run(r, r->n, lun, cdb16, 16, dir, buf, len, out);
}

void expect_sense_bytes(uint8_t *s, uint8_t key, uint8_t asc, uint8_t ascq)
{
	const uint8_t v[18] = { 0x70, 0, key, 0, 0, 0, 0, 10, 0, 0, 0, 0, asc, ascq, 0, 0, 0, 0 };

	memcpy(s, v, 18);
}

void assert_sense(const struct xsd_scsi_cmd *c, uint8_t key, uint8_t asc, uint8_t ascq)
{
	uint8_t s[18];

	expect_sense_bytes(s, key, asc, ascq);
	assert_int_equal(c->status, XSD_SCSI_CHECK_CONDITION);
	assert_int_equal(c->sense_len, 18);
	assert_memory_equal(c->sense, s, 18);
}

void assert_sense_field(const struct xsd_scsi_cmd *c, uint8_t key, uint8_t asc, uint8_t ascq,
			bool cdb, uint16_t field, int bit)
{
	uint8_t s[18];

	expect_sense_bytes(s, key, asc, ascq);
	s[15] = (uint8_t)(0x80 | (cdb ? 0x40 : 0) | (bit >= 0 ? 0x08 | bit : 0));
	s[16] = (uint8_t)(field >> 8);
	s[17] = (uint8_t)field;
	assert_int_equal(c->status, XSD_SCSI_CHECK_CONDITION);
	assert_int_equal(c->sense_len, 18);
	assert_memory_equal(c->sense, s, 18);
}

struct xsd_scsi_lun *ram_lun(uint64_t blocks, uint32_t bs, const char *serial)
{
	struct xsd_scsi_lun_opts o = { .size = sizeof(o), .block_size = bs, .serial = serial };
	struct xsd_scsi_bdev *be = xsd_scsi_ram_new(blocks * bs);
	struct xsd_scsi_lun *l;

	assert_non_null(be);
	l = xsd_scsi_lun_new(be, &o);
	assert_non_null(l);
	return l;
}
