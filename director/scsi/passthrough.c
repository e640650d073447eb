/* SPDX-License-Identifier: MIT */
/*
 * passthrough.c - what the pass-through back ends (SG_IO, iSCSI) change in
 * a device's answers: the Block Limits VPD page (B0h) may allow transfers
 * larger than the SRP target moves in one command (XSD_PASSTHROUGH_MAX_XFER),
 * or none at all (0: no limit); initiators size their commands by it, so
 * the maximum and optimal transfer lengths are capped.
 */
#include "scsi_int.h"

void scsi_passthrough_fix_vpd(struct xsd_scsi_cmd *cmd, uint32_t block_size)
{
	uint8_t page[16];
	uint32_t cap, v;
	size_t n;

	if (cmd->cdb[0] != 0x12 || !(cmd->cdb[1] & 0x01) || cmd->cdb[2] != 0xb0 ||
	    cmd->status != XSD_SCSI_GOOD || cmd->dir != XSD_SCSI_DIR_IN || block_size == 0)
		return;
	n = scsi_iov_to_buf(cmd->iov, cmd->iovcnt, page, XS_MIN((size_t)cmd->xfer_len, sizeof(page)));
	if (n < 12)
		return;
	cap = XSD_PASSTHROUGH_MAX_XFER / block_size;
	v = xs_get32(page + 8);
	if (v == 0 || v > cap)
		xs_put32(page + 8, cap);
	if (n >= 16) {
		v = xs_get32(page + 12);
		if (v > cap)
			xs_put32(page + 12, cap);
	}
	scsi_iov_from_buf(cmd->iov, cmd->iovcnt, page, n);
}
