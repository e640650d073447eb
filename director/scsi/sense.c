/* SPDX-License-Identifier: MIT */
/*
 * sense.c - fixed-format sense data (SPC-4 4.5.3), names of sense keys and
 * additional sense codes, SAM LUN addressing, iovec copies.
 *
 * Fixed sense (18 bytes): 0 response code 70h (current error), 2 sense key,
 * 3..6 information (unused, VALID=0), 7 additional length 10, 8..11
 * command-specific (0), 12 ASC, 13 ASCQ, 14 FRU (0), 15..17 sense-key
 * specific: SKSV (80h) | C/D (40h: error in the CDB) | BPV (08h) | bit
 * pointer (2..0), then the field pointer (byte index, big-endian).
 */
#include <string.h>

#include "scsi_int.h"

void scsi_sense_fill(uint8_t *sense, uint8_t key, uint16_t asc_ascq)
{
	memset(sense, 0, XSD_SCSI_SENSE_LEN);
	sense[0] = 0x70;
	sense[2] = key & 0x0f;
	sense[7] = XSD_SCSI_SENSE_LEN - 8;
	sense[12] = (uint8_t)(asc_ascq >> 8);
	sense[13] = (uint8_t)asc_ascq;
}

void scsi_sense(struct xsd_scsi_cmd *cmd, uint8_t key, uint16_t asc_ascq)
{
	cmd->status = XSD_SCSI_CHECK_CONDITION;
	cmd->sense_len = XSD_SCSI_SENSE_LEN;
	scsi_sense_fill(cmd->sense, key, asc_ascq);
}

void scsi_sense_field(struct xsd_scsi_cmd *cmd, uint8_t key, uint16_t asc_ascq, bool cdb,
		      uint16_t byte, int bit)
{
	scsi_sense(cmd, key, asc_ascq);
	cmd->sense[15] = 0x80 | (cdb ? 0x40 : 0);
	if (bit >= 0)
		cmd->sense[15] |= 0x08 | (uint8_t)(bit & 7);
	xs_put16(cmd->sense + 16, byte);
}

const char *xsd_scsi_sense_key_str(uint8_t key)
{
	switch (key) {
	case XSD_SK_NO_SENSE:
		return "NO SENSE";
	case XSD_SK_NOT_READY:
		return "NOT READY";
	case XSD_SK_MEDIUM_ERROR:
		return "MEDIUM ERROR";
	case XSD_SK_HARDWARE_ERROR:
		return "HARDWARE ERROR";
	case XSD_SK_ILLEGAL_REQUEST:
		return "ILLEGAL REQUEST";
	case XSD_SK_UNIT_ATTENTION:
		return "UNIT ATTENTION";
	case XSD_SK_DATA_PROTECT:
		return "DATA PROTECT";
	case XSD_SK_ABORTED_COMMAND:
		return "ABORTED COMMAND";
	}
	return "unknown sense key";
}

const char *xsd_scsi_asc_str(uint16_t asc_ascq)
{
	switch (asc_ascq) {
	case XSD_ASC_NO_ADDITIONAL_SENSE:
		return "NO ADDITIONAL SENSE INFORMATION";
	case XSD_ASC_NOT_READY_INIT_REQUIRED:
		return "LOGICAL UNIT NOT READY, INITIALIZING COMMAND REQUIRED";
	case XSD_ASC_WRITE_ERROR:
		return "WRITE ERROR";
	case XSD_ASC_UNRECOVERED_READ_ERROR:
		return "UNRECOVERED READ ERROR";
	case XSD_ASC_PARAM_LIST_LENGTH_ERROR:
		return "PARAMETER LIST LENGTH ERROR";
	case XSD_ASC_INVALID_OPCODE:
		return "INVALID COMMAND OPERATION CODE";
	case XSD_ASC_LBA_OUT_OF_RANGE:
		return "LOGICAL BLOCK ADDRESS OUT OF RANGE";
	case XSD_ASC_INVALID_FIELD_IN_CDB:
		return "INVALID FIELD IN CDB";
	case XSD_ASC_LUN_NOT_SUPPORTED:
		return "LOGICAL UNIT NOT SUPPORTED";
	case XSD_ASC_INVALID_FIELD_IN_PARAM:
		return "INVALID FIELD IN PARAMETER LIST";
	case XSD_ASC_WRITE_PROTECTED:
		return "WRITE PROTECTED";
	case XSD_ASC_SPACE_ALLOC_FAILED:
		return "SPACE ALLOCATION FAILED WRITE PROTECT";
	case XSD_ASC_POWER_ON_RESET:
		return "POWER ON, RESET, OR BUS DEVICE RESET OCCURRED";
	case XSD_ASC_LUN_RESET:
		return "BUS DEVICE RESET FUNCTION OCCURRED";
	case XSD_ASC_CAPACITY_CHANGED:
		return "CAPACITY DATA HAS CHANGED";
	case XSD_ASC_SAVING_PARAMS_UNSUPPORTED:
		return "SAVING PARAMETERS NOT SUPPORTED";
	case XSD_ASC_LUNS_CHANGED:
		return "REPORTED LUNS DATA HAS CHANGED";
	case XSD_ASC_INTERNAL_TARGET_FAILURE:
		return "INTERNAL TARGET FAILURE";
	}
	return "unknown additional sense code";
}

uint64_t xsd_scsi_lun_to_wire(uint16_t id)
{
	if (id < 256)
		return (uint64_t)id << 48;
	return (uint64_t)(0x4000 | (id & 0x3fff)) << 48;
}

int xsd_scsi_lun_from_wire(uint64_t wire, uint16_t *id)
{
	uint16_t first = (uint16_t)(wire >> 48);

	if (wire & UINT64_C(0x0000ffffffffffff))
		return -EINVAL; /* second to fourth level: not ours */
	switch (first >> 14) {
	case 0: /* peripheral device addressing, bus 0 only */
		if (first & 0x3f00)
			return -EINVAL;
		*id = first & 0xff;
		return 0;
	case 1: /* flat space */
		*id = first & 0x3fff;
		return 0;
	}
	return -EINVAL;
}

size_t scsi_iov_len(const struct iovec *iov, unsigned int cnt)
{
	size_t n = 0;

	for (unsigned int i = 0; i < cnt; i++)
		n += iov[i].iov_len;
	return n;
}

size_t scsi_iov_from_buf(const struct iovec *iov, unsigned int cnt, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t done = 0;

	for (unsigned int i = 0; i < cnt && done < len; i++) {
		size_t n = XS_MIN(iov[i].iov_len, len - done);

		memcpy(iov[i].iov_base, p + done, n);
		done += n;
	}
	return done;
}

size_t scsi_iov_to_buf(const struct iovec *iov, unsigned int cnt, void *data, size_t len)
{
	uint8_t *p = data;
	size_t done = 0;

	for (unsigned int i = 0; i < cnt && done < len; i++) {
		size_t n = XS_MIN(iov[i].iov_len, len - done);

		memcpy(p + done, iov[i].iov_base, n);
		done += n;
	}
	return done;
}
