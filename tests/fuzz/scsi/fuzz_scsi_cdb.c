/* SPDX-License-Identifier: MIT */
/*
 * fuzz_scsi_cdb.c - random commands against the SCSI emulation.
 *
 * Input: byte 0 selects LUN (bits 0-1: LUN 0 read-write, 1 read-only, 2
 * maybe-present, 3 never present), data direction (bits 2-3) and CDB length
 * (bits 4-5: 6, 10, 12, 16); bit 6 adds or removes LUN 2, bit 7 opens a
 * fresh I_T nexus. Bytes 1-2: buffer length in
 * units of 2 bytes. Bytes 3-18: the CDB. The rest
 * fills the data buffer (repeated). Every command must complete exactly
 * once, with GOOD and no sense or CHECK CONDITION and 18 bytes of valid
 * fixed sense with a key and ASC/ASCQ we document; never more data than
 * the buffer holds. Anything else aborts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <xscore/log.h>

#include <xscore/common.h>
#include "scsi/scsi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)              \
	do {                     \
		if (!(cond))     \
			abort(); \
	} while (0)

static struct xsd_scsi_target *t;
static struct xsd_scsi_nexus *nexus;
static uint8_t buf[1 << 17];

static struct xsd_scsi_lun *make_lun(const char *serial, bool ro, uint64_t bytes)
{
	struct xsd_scsi_lun_opts o = { .size = sizeof(o), .serial = serial, .read_only = ro,
				       .max_xfer_blocks = 256, .max_unmap_descs = 8 };
	struct xsd_scsi_lun *l = xsd_scsi_lun_new(xsd_scsi_ram_new(bytes), &o);

	CHECK(l);
	return l;
}

static void setup(void)
{
	xs_log_set_level(XS_LOG_ERR);
	t = xsd_scsi_target_new();
	CHECK(t);
	CHECK(xsd_scsi_target_add_lun(t, 0, make_lun("FUZZ0", false, 256 * 1024)) == 0);
	CHECK(xsd_scsi_target_add_lun(t, 1, make_lun("FUZZ1", true, 64 * 1024)) == 0);
	nexus = xsd_scsi_nexus_new(t, "fuzz");
	CHECK(nexus);
}

static void done_cb(struct xsd_scsi_cmd *cmd)
{
	*(int *)cmd->arg += 1;
}

static bool known_key(uint8_t k)
{
	return k == XSD_SK_NOT_READY || k == XSD_SK_MEDIUM_ERROR || k == XSD_SK_HARDWARE_ERROR ||
	       k == XSD_SK_ILLEGAL_REQUEST || k == XSD_SK_UNIT_ATTENTION ||
	       k == XSD_SK_DATA_PROTECT;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t cdb_lens[4] = { 6, 10, 12, 16 };
	static const uint16_t luns[4] = { 0, 1, 2, 9 };
	struct xsd_scsi_cmd cmd;
	struct iovec iov[2];
	size_t len, rest;
	int done = 0;

	if (!t)
		setup();
	if (size < 19)
		return 0;
	if (data[0] & 0x40) {
		if (xsd_scsi_target_remove_lun(t, 2) == -ENOENT)
			CHECK(xsd_scsi_target_add_lun(t, 2, make_lun("FUZZ2", false, 4096)) == 0);
	}
	if (data[0] & 0x80) {
		CHECK(xsd_scsi_nexus_free(nexus) == 0);
		nexus = xsd_scsi_nexus_new(t, "fuzz");
		CHECK(nexus);
	}
	len = ((size_t)data[1] << 8 | data[2]) * 2; /* up to 128 KiB */
	rest = size - 19;
	if (!rest)
		memset(buf, 0, len);
	for (size_t off = 0; rest && off < len; off += rest)
		memcpy(buf + off, data + 19, XS_MIN(rest, len - off));

	memset(&cmd, 0, sizeof(cmd));
	cmd.nexus = nexus;
	cmd.lun = xsd_scsi_lun_to_wire(luns[data[0] & 3]);
	cmd.cdb_len = cdb_lens[(data[0] >> 4) & 3];
	memcpy(cmd.cdb, data + 3, 16);
	cmd.dir = (enum xsd_scsi_dir)((data[0] >> 2) & 3);
	if (cmd.dir > XSD_SCSI_DIR_IN)
		cmd.dir = XSD_SCSI_DIR_IN;
	/* two pieces, split in the middle, to exercise iovec handling */
	iov[0].iov_base = buf;
	iov[0].iov_len = len / 2;
	iov[1].iov_base = buf + len / 2;
	iov[1].iov_len = len - len / 2;
	cmd.iov = iov;
	cmd.iovcnt = 2;
	cmd.done = done_cb;
	cmd.arg = &done;
	CHECK(xsd_scsi_submit(t, &cmd) == 0);
	CHECK(done == 0);
	for (int spins = 0; !done && spins < 1000; spins++)
		CHECK(xsd_scsi_target_wait(t, 100) >= 0);
	CHECK(done == 1);
	CHECK(xsd_scsi_target_inflight(t) == 0);

	CHECK(cmd.xfer_len <= len);
	if (cmd.status == XSD_SCSI_GOOD) {
		CHECK(cmd.sense_len == 0);
	} else {
		uint16_t asc = (uint16_t)(cmd.sense[12] << 8 | cmd.sense[13]);

		CHECK(cmd.status == XSD_SCSI_CHECK_CONDITION);
		CHECK(cmd.sense_len == XSD_SCSI_SENSE_LEN);
		CHECK(cmd.sense[0] == 0x70);
		CHECK(cmd.sense[7] == 10);
		CHECK(known_key(cmd.sense[2]));
		CHECK(strcmp(xsd_scsi_asc_str(asc), "unknown additional sense code") != 0);
		CHECK(cmd.sense[15] == 0 || (cmd.sense[15] & 0x80));
	}
	return 0;
}
