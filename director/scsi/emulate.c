/* SPDX-License-Identifier: MIT */
/*
 * emulate.c - SPC/SBC command emulation for LUNs on block back ends.
 *
 * Order of checks for a command addressed to an existing LUN:
 *   1. CDB shorter than its operation code needs, or NACA set in the
 *      control byte: ILLEGAL REQUEST / INVALID FIELD IN CDB.
 *   2. A pending unit attention of this I_T nexus for this LUN (except for
 *      INQUIRY, REPORT LUNS and REQUEST SENSE): CHECK CONDITION / UNIT
 *      ATTENTION with it, and it is cleared (one condition per command,
 *      POWER ON first, then BUS DEVICE RESET, CAPACITY DATA HAS CHANGED,
 *      REPORTED LUNS DATA HAS CHANGED).
 *   3. The command itself. Unknown operation codes: ILLEGAL REQUEST /
 *      INVALID COMMAND OPERATION CODE (20/00).
 * Media access commands (TEST UNIT READY, READ, WRITE, SYNCHRONIZE CACHE,
 * UNMAP) on a LUN stopped by START STOP UNIT answer NOT READY / LOGICAL
 * UNIT NOT READY, INITIALIZING COMMAND REQUIRED (04/02).
 */
#include <stdlib.h>
#include <string.h>

#include "scsi_int.h"

enum {
	OP_TEST_UNIT_READY = 0x00,
	OP_REQUEST_SENSE = 0x03,
	OP_READ_6 = 0x08,
	OP_WRITE_6 = 0x0a,
	OP_INQUIRY = 0x12,
	OP_MODE_SENSE_6 = 0x1a,
	OP_START_STOP_UNIT = 0x1b,
	OP_READ_CAPACITY_10 = 0x25,
	OP_READ_10 = 0x28,
	OP_WRITE_10 = 0x2a,
	OP_SYNC_CACHE_10 = 0x35,
	OP_UNMAP = 0x42,
	OP_MODE_SENSE_10 = 0x5a,
	OP_READ_16 = 0x88,
	OP_WRITE_16 = 0x8a,
	OP_SYNC_CACHE_16 = 0x91,
	OP_SERVICE_ACTION_IN_16 = 0x9e,
	OP_REPORT_LUNS = 0xa0,
};
#define SAI_READ_CAPACITY_16 0x10

#define VPD_SUPPORTED 0x00
#define VPD_SERIAL 0x80
#define VPD_DEVICE_ID 0x83
#define VPD_BLOCK_LIMITS 0xb0
#define VPD_BLOCK_CHARACTERISTICS 0xb1
#define VPD_LB_PROVISIONING 0xb2

#define MODE_PAGE_CACHING 0x08
#define MODE_PAGE_CONTROL 0x0a
#define MODE_PAGE_ALL 0x3f

#define STD_INQUIRY_LEN 36

_Static_assert(sizeof(struct xsd_scsi_bio) <= sizeof(((struct xsd_scsi_cmd_priv *)0)->bio_space),
	       "bio fits the command's private space");

static struct xsd_scsi_bio *cmd_bio(struct xsd_scsi_cmd *cmd)
{
	return (struct xsd_scsi_bio *)(void *)cmd->priv.bio_space;
}

static struct xsd_scsi_cmd *bio_cmd(struct xsd_scsi_bio *bio)
{
	return xs_container_of(bio, struct xsd_scsi_cmd, priv.bio_space);
}

static bool lun_can_unmap(const struct xsd_scsi_lun *lu)
{
	return (lu->be->caps & XSD_BDEV_CAP_UNMAP) && lu->max_unmap_blocks && !lu->read_only;
}

/* CDB length an operation code needs (by group code). */
static uint16_t cdb_size(uint8_t op)
{
	switch (op >> 5) {
	case 0:
		return 6;
	case 1:
	case 2:
		return 10;
	case 4:
		return 16;
	case 5:
		return 12;
	}
	return 0;
}

static size_t buf_len(const struct xsd_scsi_cmd *cmd)
{
	if (cmd->dir == XSD_SCSI_DIR_NONE)
		return 0;
	return scsi_iov_len(cmd->iov, cmd->iovcnt);
}

static void invalid_cdb(struct xsd_scsi_cmd *cmd, uint16_t byte, int bit)
{
	scsi_sense_field(cmd, XSD_SK_ILLEGAL_REQUEST, XSD_ASC_INVALID_FIELD_IN_CDB, true, byte, bit);
}

/* A command with no data transfer: the whole buffer is residue. */
static void no_data(struct xsd_scsi_cmd *cmd)
{
	cmd->residual = (uint32_t)XS_MIN(buf_len(cmd), (size_t)UINT32_MAX);
}

/*
 * Return @len bytes of @data, cut to the allocation length, into the data-in
 * buffer; residual and overflow as SRP reports them.
 */
static void data_in(struct xsd_scsi_cmd *cmd, const void *data, size_t len, size_t alloc)
{
	size_t want = XS_MIN(len, alloc);
	size_t have = cmd->dir == XSD_SCSI_DIR_IN ? buf_len(cmd) : 0;
	size_t n = XS_MIN(want, have);

	scsi_iov_from_buf(cmd->iov, cmd->iovcnt, data, n);
	cmd->xfer_len = (uint32_t)n;
	if (want > have) {
		cmd->overflow = true;
		cmd->residual = (uint32_t)(want - have);
	} else {
		cmd->residual = (uint32_t)XS_MIN(have - want, (size_t)UINT32_MAX);
	}
	cmd->status = XSD_SCSI_GOOD;
}

/* Space-padded ASCII field. */
static void put_ascii(uint8_t *dst, const char *s, size_t width)
{
	size_t n = strnlen(s, width);

	memcpy(dst, s, n);
	memset(dst + n, ' ', width - n);
}

static void std_inquiry(uint8_t *d, uint8_t byte0, const char *vendor, const char *product,
			const char *revision)
{
	memset(d, 0, STD_INQUIRY_LEN);
	d[0] = byte0;
	d[2] = 0x06;                    /* SPC-4 */
	d[3] = 0x12;                    /* HISUP, response data format 2 */
	d[4] = STD_INQUIRY_LEN - 5;
	d[7] = 0x02;                    /* CMDQUE */
	put_ascii(d + 8, vendor, 8);
	put_ascii(d + 16, product, 16);
	put_ascii(d + 32, revision, 4);
}

/* ------------------------------------------------------------- INQUIRY */

static void cmd_inquiry(struct xsd_scsi_cmd *cmd, struct xsd_scsi_lun *lu)
{
	uint8_t d[256];
	size_t n = 0, alloc = xs_get16(cmd->cdb + 3);
	uint8_t page = cmd->cdb[2];

	if (cmd->cdb[1] & 0x02) {
		invalid_cdb(cmd, 1, 1); /* CMDDT */
		return;
	}
	if (!(cmd->cdb[1] & 0x01)) {
		if (page) {
			invalid_cdb(cmd, 2, -1);
			return;
		}
		std_inquiry(d, 0x00, lu->vendor, lu->product, lu->revision);
		data_in(cmd, d, STD_INQUIRY_LEN, alloc);
		return;
	}
	memset(d, 0, sizeof(d));
	d[1] = page;
	switch (page) {
	case VPD_SUPPORTED: {
		static const uint8_t pages[] = { VPD_SUPPORTED, VPD_SERIAL, VPD_DEVICE_ID,
						 VPD_BLOCK_LIMITS, VPD_BLOCK_CHARACTERISTICS,
						 VPD_LB_PROVISIONING };

		memcpy(d + 4, pages, sizeof(pages));
		n = 4 + sizeof(pages);
		break;
	}
	case VPD_SERIAL: {
		size_t sl = strlen(lu->serial);

		memcpy(d + 4, lu->serial, sl);
		n = 4 + sl;
		break;
	}
	case VPD_DEVICE_ID: {
		size_t sl = strlen(lu->serial);
		uint8_t *p = d + 4;

		/* NAA IEEE Registered Extended, binary, associated with the LU */
		p[0] = 0x01;
		p[1] = 0x03;
		p[3] = 16;
		memcpy(p + 4, lu->naa, 16);
		p += 20;
		/* T10 vendor identification: vendor + serial, ASCII */
		p[0] = 0x02;
		p[1] = 0x01;
		p[3] = (uint8_t)(8 + sl);
		put_ascii(p + 4, lu->vendor, 8);
		memcpy(p + 12, lu->serial, sl);
		p += 12 + sl;
		n = (size_t)(p - d);
		break;
	}
	case VPD_BLOCK_LIMITS:
		n = 64;
		xs_put32(d + 8, lu->max_xfer_blocks);
		xs_put32(d + 12, lu->max_xfer_blocks);
		if (lun_can_unmap(lu)) {
			xs_put32(d + 20, lu->max_unmap_blocks);
			xs_put32(d + 24, lu->max_unmap_descs);
			xs_put32(d + 28, lu->unmap_granularity);
		}
		break;
	case VPD_BLOCK_CHARACTERISTICS:
		n = 64;
		xs_put16(d + 4, lu->rotation_rate);
		break;
	case VPD_LB_PROVISIONING:
		n = 8;
		if (lun_can_unmap(lu)) {
			d[5] = 0x80 | 0x04; /* LBPU, LBPRZ */
			d[6] = 0x02;        /* thin provisioned */
		}
		break;
	default:
		invalid_cdb(cmd, 2, -1);
		return;
	}
	xs_put16(d + 2, (uint16_t)(n - 4));
	data_in(cmd, d, n, alloc);
}

/* ------------------------------------------------------- READ CAPACITY */

static void cmd_read_capacity10(struct xsd_scsi_cmd *cmd, struct xsd_scsi_lun *lu)
{
	uint8_t d[8];
	uint64_t last = lu->blocks - 1;

	if (!(cmd->cdb[8] & 0x01) && xs_get32(cmd->cdb + 2)) {
		invalid_cdb(cmd, 2, -1); /* LBA without PMI */
		return;
	}
	xs_put32(d, last > UINT32_MAX ? UINT32_MAX : (uint32_t)last);
	xs_put32(d + 4, lu->block_size);
	data_in(cmd, d, sizeof(d), sizeof(d));
}

static void cmd_service_action_in(struct xsd_scsi_cmd *cmd, struct xsd_scsi_lun *lu)
{
	uint8_t d[32];

	if ((cmd->cdb[1] & 0x1f) != SAI_READ_CAPACITY_16) {
		invalid_cdb(cmd, 1, 4);
		return;
	}
	memset(d, 0, sizeof(d));
	xs_put64(d, lu->blocks - 1);
	xs_put32(d + 8, lu->block_size);
	if (lun_can_unmap(lu))
		d[14] = 0x80 | 0x40; /* LBPME, LBPRZ */
	data_in(cmd, d, sizeof(d), xs_get32(cmd->cdb + 10));
}

/* ---------------------------------------------------------- MODE SENSE */

static size_t mode_pages(const struct xsd_scsi_lun *lu, uint8_t page, uint8_t pc, uint8_t *p)
{
	size_t n = 0;

	if (page == MODE_PAGE_CACHING || page == MODE_PAGE_ALL) {
		memset(p, 0, 20);
		p[0] = MODE_PAGE_CACHING;
		p[1] = 0x12;
		if (pc != 1 && !lu->write_through)
			p[2] = 0x04; /* WCE */
		n += 20;
	}
	if (page == MODE_PAGE_CONTROL || page == MODE_PAGE_ALL) {
		memset(p + n, 0, 12);
		p[n] = MODE_PAGE_CONTROL;
		p[n + 1] = 0x0a;
		if (pc != 1)
			p[n + 3] = 0x10; /* queue algorithm modifier: unrestricted */
		n += 12;
	}
	return n;
}

static void cmd_mode_sense(struct xsd_scsi_cmd *cmd, struct xsd_scsi_lun *lu, bool ten)
{
	uint8_t d[128];
	uint8_t pc = cmd->cdb[2] >> 6, page = cmd->cdb[2] & 0x3f, sub = cmd->cdb[3];
	bool dbd = cmd->cdb[1] & 0x08, llba = ten && (cmd->cdb[1] & 0x10);
	size_t hdr = ten ? 8 : 4, bdl = dbd ? 0 : (llba ? 16 : 8), n, alloc;
	uint8_t *bd = d + hdr;

	alloc = ten ? xs_get16(cmd->cdb + 7) : cmd->cdb[4];
	if (pc == 3) {
		scsi_sense_field(cmd, XSD_SK_ILLEGAL_REQUEST, XSD_ASC_SAVING_PARAMS_UNSUPPORTED,
				 true, 2, 7);
		return;
	}
	if (page != MODE_PAGE_CACHING && page != MODE_PAGE_CONTROL && page != MODE_PAGE_ALL) {
		invalid_cdb(cmd, 2, 5);
		return;
	}
	if (sub && !(page == MODE_PAGE_ALL && sub == 0xff)) {
		invalid_cdb(cmd, 3, -1);
		return;
	}
	memset(d, 0, sizeof(d));
	if (bdl == 8) {
		xs_put32(bd, lu->blocks > UINT32_MAX ? UINT32_MAX : (uint32_t)lu->blocks);
		xs_put32(bd + 4, lu->block_size & 0xffffff); /* byte 4 reserved */
	} else if (bdl == 16) {
		xs_put64(bd, lu->blocks);
		xs_put32(bd + 12, lu->block_size);
	}
	n = hdr + bdl + mode_pages(lu, page, pc, d + hdr + bdl);
	if (ten) {
		xs_put16(d, (uint16_t)(n - 2));
		d[3] = (lu->read_only ? 0x80 : 0) | 0x10; /* WP, DPOFUA */
		d[4] = llba ? 0x01 : 0;
		xs_put16(d + 6, (uint16_t)bdl);
	} else {
		d[0] = (uint8_t)(n - 1);
		d[2] = (lu->read_only ? 0x80 : 0) | 0x10;
		d[3] = (uint8_t)bdl;
	}
	data_in(cmd, d, n, alloc);
}

/* --------------------------------------------------------- REPORT LUNS */

static void cmd_report_luns(struct xsd_scsi_target *t, struct xsd_scsi_cmd *cmd)
{
	uint8_t select = cmd->cdb[2];
	uint32_t alloc = xs_get32(cmd->cdb + 6);
	unsigned int count = 0;
	uint8_t *d;

	if (select > 0x02) {
		invalid_cdb(cmd, 2, -1);
		return;
	}
	if (alloc < 16) {
		invalid_cdb(cmd, 6, -1);
		return;
	}
	d = calloc(1, 8 + (size_t)t->n_luns * 8);
	if (!d) {
		scsi_sense(cmd, XSD_SK_HARDWARE_ERROR, XSD_ASC_INTERNAL_TARGET_FAILURE);
		return;
	}
	for (unsigned int i = 0; select != 0x01 && i < t->n_luns; i++)
		if (scsi_nexus_sees(cmd->nexus, t->luns[i].id))
			xs_put64(d + 8 + 8 * count++, xsd_scsi_lun_to_wire(t->luns[i].id));
	xs_put32(d, (uint32_t)(count * 8));
	data_in(cmd, d, 8 + (size_t)count * 8, alloc);
	free(d);
	scsi_ua_clear_all(cmd->nexus, UA_LUNS_CHANGED);
}

/* ------------------------------------------------------- REQUEST SENSE */

static uint16_t ua_asc(uint8_t bits)
{
	if (bits & UA_POWER_ON)
		return XSD_ASC_POWER_ON_RESET;
	if (bits & UA_LUN_RESET)
		return XSD_ASC_LUN_RESET;
	if (bits & UA_CAPACITY_CHANGED)
		return XSD_ASC_CAPACITY_CHANGED;
	return XSD_ASC_LUNS_CHANGED;
}

static uint8_t ua_bit(uint8_t bits)
{
	return bits & (uint8_t)-bits; /* lowest set bit */
}

static void cmd_request_sense(struct xsd_scsi_cmd *cmd, struct xsd_scsi_lun *lu, uint16_t id)
{
	uint8_t s[XSD_SCSI_SENSE_LEN];
	uint8_t ua;

	if (cmd->cdb[1] & 0x01) {
		invalid_cdb(cmd, 1, 0); /* DESC: fixed format only */
		return;
	}
	ua = scsi_ua_pending(cmd->nexus, id);
	if (ua) {
		scsi_sense_fill(s, XSD_SK_UNIT_ATTENTION, ua_asc(ua));
		scsi_ua_clear(cmd->nexus, id, ua_bit(ua));
	} else if (lu->stopped) {
		scsi_sense_fill(s, XSD_SK_NOT_READY, XSD_ASC_NOT_READY_INIT_REQUIRED);
	} else {
		scsi_sense_fill(s, XSD_SK_NO_SENSE, XSD_ASC_NO_ADDITIONAL_SENSE);
	}
	data_in(cmd, s, sizeof(s), cmd->cdb[4]);
}

/* ------------------------------------------------------------ block I/O */

static void bio_done(struct xsd_scsi_bio *bio, int err)
{
	struct xsd_scsi_cmd *cmd = bio_cmd(bio);

	if (bio->op == XSD_BIO_UNMAP)
		free((void *)bio->ranges);
	if (err == 0) {
		if (bio->op == XSD_BIO_READ || bio->op == XSD_BIO_WRITE)
			cmd->xfer_len = (uint32_t)bio->len;
		cmd->status = XSD_SCSI_GOOD;
	} else if (err == -EIO && bio->op == XSD_BIO_READ) {
		scsi_sense(cmd, XSD_SK_MEDIUM_ERROR, XSD_ASC_UNRECOVERED_READ_ERROR);
	} else if (err == -EIO && bio->op == XSD_BIO_WRITE) {
		scsi_sense(cmd, XSD_SK_MEDIUM_ERROR, XSD_ASC_WRITE_ERROR);
	} else if (err == -ENOSPC || err == -EDQUOT) {
		scsi_sense(cmd, XSD_SK_DATA_PROTECT, XSD_ASC_SPACE_ALLOC_FAILED);
	} else {
		XS_WARN(SCSI_LOG, "LUN %u: %s I/O failed: %s", cmd->priv.lu->id,
			cmd->priv.lu->be->desc, xs_strerror(err));
		scsi_sense(cmd, XSD_SK_HARDWARE_ERROR, XSD_ASC_INTERNAL_TARGET_FAILURE);
	}
	scsi_cmd_complete(cmd);
}

static void bio_submit(struct xsd_scsi_cmd *cmd, struct xsd_scsi_lun *lu)
{
	struct xsd_scsi_bio *bio = cmd_bio(cmd);
	int rc;

	bio->done = bio_done;
	rc = xsd_bdev_submit(lu->be, bio);
	if (rc == 0)
		return;
	if (bio->op == XSD_BIO_UNMAP)
		free((void *)bio->ranges);
	if (rc == -EAGAIN || rc == -EBUSY) {
		cmd->status = XSD_SCSI_TASK_SET_FULL;
	} else {
		XS_WARN(SCSI_LOG, "LUN %u: submit to %s failed: %s", lu->id, lu->be->desc,
			xs_strerror(rc));
		scsi_sense(cmd, XSD_SK_HARDWARE_ERROR, XSD_ASC_INTERNAL_TARGET_FAILURE);
	}
	scsi_cmd_complete(cmd);
}

/* Point bio->iov at exactly @bytes of the command's buffer. */
static int bio_set_iov(struct xsd_scsi_cmd *cmd, struct xsd_scsi_bio *bio, size_t bytes)
{
	unsigned int cnt = 0;
	size_t left = bytes;
	struct iovec *v;

	if (scsi_iov_len(cmd->iov, cmd->iovcnt) == bytes) {
		bio->iov = cmd->iov;
		bio->iovcnt = cmd->iovcnt;
		return 0;
	}
	while (left) {
		left -= XS_MIN(left, cmd->iov[cnt].iov_len);
		cnt++;
	}
	if (cnt <= XS_ARRAY_SIZE(cmd->priv.iov_inline)) {
		v = cmd->priv.iov_inline;
	} else {
		v = calloc(cnt, sizeof(*v));
		if (!v)
			return -ENOMEM;
		cmd->priv.iov_heap = v;
	}
	left = bytes;
	for (unsigned int i = 0; i < cnt; i++) {
		v[i].iov_base = cmd->iov[i].iov_base;
		v[i].iov_len = XS_MIN(left, cmd->iov[i].iov_len);
		left -= v[i].iov_len;
	}
	bio->iov = v;
	bio->iovcnt = cnt;
	return 0;
}

static void cmd_read_write(struct xsd_scsi_cmd *cmd, struct xsd_scsi_lun *lu)
{
	struct xsd_scsi_bio *bio = cmd_bio(cmd);
	uint8_t op = cmd->cdb[0];
	bool write = op == OP_WRITE_6 || op == OP_WRITE_10 || op == OP_WRITE_16;
	enum xsd_scsi_dir want = write ? XSD_SCSI_DIR_OUT : XSD_SCSI_DIR_IN;
	uint64_t lba, nblocks;
	uint16_t len_byte;
	bool fua = false;
	size_t have, bytes;

	switch (op) {
	case OP_READ_6:
	case OP_WRITE_6:
		lba = (uint64_t)(cmd->cdb[1] & 0x1f) << 16 | xs_get16(cmd->cdb + 2);
		nblocks = cmd->cdb[4] ? cmd->cdb[4] : 256;
		len_byte = 4;
		break;
	case OP_READ_10:
	case OP_WRITE_10:
		lba = xs_get32(cmd->cdb + 2);
		nblocks = xs_get16(cmd->cdb + 7);
		len_byte = 7;
		break;
	default:
		lba = xs_get64(cmd->cdb + 2);
		nblocks = xs_get32(cmd->cdb + 10);
		len_byte = 10;
		break;
	}
	if (len_byte != 4) {
		if (cmd->cdb[1] & 0xe0) {
			invalid_cdb(cmd, 1, 7); /* RDPROTECT/WRPROTECT: no PI */
			return;
		}
		fua = cmd->cdb[1] & 0x08;
	}
	if (lu->stopped) {
		scsi_sense(cmd, XSD_SK_NOT_READY, XSD_ASC_NOT_READY_INIT_REQUIRED);
		return;
	}
	if (write && lu->read_only) {
		scsi_sense(cmd, XSD_SK_DATA_PROTECT, XSD_ASC_WRITE_PROTECTED);
		return;
	}
	if (lba >= lu->blocks || nblocks > lu->blocks - lba) {
		scsi_sense(cmd, XSD_SK_ILLEGAL_REQUEST, XSD_ASC_LBA_OUT_OF_RANGE);
		return;
	}
	if (nblocks == 0) {
		no_data(cmd);
		return;
	}
	if (nblocks > lu->max_xfer_blocks) {
		invalid_cdb(cmd, len_byte, -1);
		return;
	}
	bytes = (size_t)nblocks * lu->block_size;
	have = cmd->dir == want ? scsi_iov_len(cmd->iov, cmd->iovcnt) : 0;
	if (have < bytes) {
		invalid_cdb(cmd, len_byte, -1);
		cmd->overflow = true;
		cmd->residual = (uint32_t)(bytes - have);
		return;
	}
	memset(bio, 0, sizeof(*bio));
	bio->op = write ? XSD_BIO_WRITE : XSD_BIO_READ;
	bio->fua = fua || (write && lu->write_through);
	bio->off = lba * lu->block_size;
	bio->len = bytes;
	if (bio_set_iov(cmd, bio, bytes) < 0) {
		scsi_sense(cmd, XSD_SK_HARDWARE_ERROR, XSD_ASC_INTERNAL_TARGET_FAILURE);
		return;
	}
	cmd->residual = (uint32_t)XS_MIN(have - bytes, (size_t)UINT32_MAX);
	bio_submit(cmd, lu);
}

static void cmd_sync_cache(struct xsd_scsi_cmd *cmd, struct xsd_scsi_lun *lu, bool sixteen)
{
	struct xsd_scsi_bio *bio = cmd_bio(cmd);
	uint64_t lba = sixteen ? xs_get64(cmd->cdb + 2) : xs_get32(cmd->cdb + 2);
	uint64_t n = sixteen ? xs_get32(cmd->cdb + 10) : xs_get16(cmd->cdb + 7);

	if (lu->stopped) {
		scsi_sense(cmd, XSD_SK_NOT_READY, XSD_ASC_NOT_READY_INIT_REQUIRED);
		return;
	}
	if (lba >= lu->blocks || n > lu->blocks - lba) {
		scsi_sense(cmd, XSD_SK_ILLEGAL_REQUEST, XSD_ASC_LBA_OUT_OF_RANGE);
		return;
	}
	no_data(cmd);
	memset(bio, 0, sizeof(*bio));
	bio->op = XSD_BIO_FLUSH;
	bio_submit(cmd, lu);
}

static void invalid_param(struct xsd_scsi_cmd *cmd, uint16_t byte)
{
	scsi_sense_field(cmd, XSD_SK_ILLEGAL_REQUEST, XSD_ASC_INVALID_FIELD_IN_PARAM, false, byte,
			 -1);
}

static void cmd_unmap(struct xsd_scsi_cmd *cmd, struct xsd_scsi_lun *lu)
{
	struct xsd_scsi_bio *bio = cmd_bio(cmd);
	size_t plen = xs_get16(cmd->cdb + 7), have, got, ndesc;
	uint8_t *p;
	struct xsd_bio_range *r;
	uint64_t total = 0;
	unsigned int nr = 0;

	if (lu->read_only) {
		scsi_sense(cmd, XSD_SK_DATA_PROTECT, XSD_ASC_WRITE_PROTECTED);
		return;
	}
	if (!lun_can_unmap(lu)) {
		scsi_sense(cmd, XSD_SK_ILLEGAL_REQUEST, XSD_ASC_INVALID_OPCODE);
		return;
	}
	if (cmd->cdb[1] & 0x01) {
		invalid_cdb(cmd, 1, 0); /* ANCHOR */
		return;
	}
	if (lu->stopped) {
		scsi_sense(cmd, XSD_SK_NOT_READY, XSD_ASC_NOT_READY_INIT_REQUIRED);
		return;
	}
	if (plen == 0) {
		no_data(cmd);
		return;
	}
	have = cmd->dir == XSD_SCSI_DIR_OUT ? scsi_iov_len(cmd->iov, cmd->iovcnt) : 0;
	if (plen < 8 || have < plen) {
		scsi_sense(cmd, XSD_SK_ILLEGAL_REQUEST, XSD_ASC_PARAM_LIST_LENGTH_ERROR);
		if (have < plen) {
			cmd->overflow = true;
			cmd->residual = (uint32_t)(plen - have);
		}
		return;
	}
	p = malloc(plen);
	if (!p) {
		scsi_sense(cmd, XSD_SK_HARDWARE_ERROR, XSD_ASC_INTERNAL_TARGET_FAILURE);
		return;
	}
	got = scsi_iov_to_buf(cmd->iov, cmd->iovcnt, p, plen);
	cmd->xfer_len = (uint32_t)got;
	cmd->residual = (uint32_t)(have - got);
	/* UNMAP DATA LENGTH (n - 2) and BLOCK DESCRIPTOR DATA LENGTH */
	if (xs_get16(p) > plen - 2) {
		free(p);
		invalid_param(cmd, 0);
		return;
	}
	if (xs_get16(p + 2) % 16 || xs_get16(p + 2) > plen - 8) {
		free(p);
		invalid_param(cmd, 2);
		return;
	}
	ndesc = xs_get16(p + 2) / 16;
	if (ndesc > lu->max_unmap_descs) {
		free(p);
		invalid_param(cmd, 2);
		return;
	}
	r = calloc(ndesc ? ndesc : 1, sizeof(*r));
	if (!r) {
		free(p);
		scsi_sense(cmd, XSD_SK_HARDWARE_ERROR, XSD_ASC_INTERNAL_TARGET_FAILURE);
		return;
	}
	for (size_t i = 0; i < ndesc; i++) {
		const uint8_t *d = p + 8 + 16 * i;
		uint64_t lba = xs_get64(d);
		uint32_t n = xs_get32(d + 8);

		if (n && (lba >= lu->blocks || n > lu->blocks - lba)) {
			free(r);
			free(p);
			scsi_sense(cmd, XSD_SK_ILLEGAL_REQUEST, XSD_ASC_LBA_OUT_OF_RANGE);
			return;
		}
		total += n;
		if (n == 0)
			continue;
		r[nr].off = lba * lu->block_size;
		r[nr].len = (uint64_t)n * lu->block_size;
		nr++;
	}
	free(p);
	if (total > lu->max_unmap_blocks) {
		free(r);
		invalid_param(cmd, 8 + 8);
		return;
	}
	if (nr == 0) {
		free(r);
		return;
	}
	memset(bio, 0, sizeof(*bio));
	bio->op = XSD_BIO_UNMAP;
	bio->ranges = r;
	bio->nr_ranges = nr;
	bio_submit(cmd, lu);
}

static void cmd_start_stop(struct xsd_scsi_cmd *cmd, struct xsd_scsi_lun *lu)
{
	uint8_t b4 = cmd->cdb[4];

	if (b4 & 0xf0) {
		invalid_cdb(cmd, 4, 7); /* power conditions */
		return;
	}
	if (b4 & 0x02) {
		invalid_cdb(cmd, 4, 1); /* LOEJ: nothing to eject */
		return;
	}
	lu->stopped = !(b4 & 0x01);
	no_data(cmd);
}

/* ------------------------------------------------------------ dispatch */

static bool ua_exempt(uint8_t op)
{
	return op == OP_INQUIRY || op == OP_REPORT_LUNS || op == OP_REQUEST_SENSE;
}

static bool known_op(uint8_t op)
{
	switch (op) {
	case OP_TEST_UNIT_READY:
	case OP_REQUEST_SENSE:
	case OP_READ_6:
	case OP_WRITE_6:
	case OP_INQUIRY:
	case OP_MODE_SENSE_6:
	case OP_START_STOP_UNIT:
	case OP_READ_CAPACITY_10:
	case OP_READ_10:
	case OP_WRITE_10:
	case OP_SYNC_CACHE_10:
	case OP_UNMAP:
	case OP_MODE_SENSE_10:
	case OP_READ_16:
	case OP_WRITE_16:
	case OP_SYNC_CACHE_16:
	case OP_SERVICE_ACTION_IN_16:
	case OP_REPORT_LUNS:
		return true;
	}
	return false;
}

/* 0 when the CDB is long enough and its control byte acceptable. */
static int check_cdb(struct xsd_scsi_cmd *cmd)
{
	uint16_t need = cdb_size(cmd->cdb[0]);

	if (cmd->cdb_len < need) {
		invalid_cdb(cmd, 0, -1);
		return -1;
	}
	if (cmd->cdb[need - 1] & 0x04) {
		invalid_cdb(cmd, (uint16_t)(need - 1), 2); /* NACA: no ACA support */
		return -1;
	}
	return 0;
}

static void dispatch(struct xsd_scsi_target *t, struct xsd_scsi_cmd *cmd,
		     struct xsd_scsi_lun *lu, uint16_t id)
{
	uint8_t op = cmd->cdb[0];

	switch (op) {
	case OP_TEST_UNIT_READY:
		if (lu->stopped) {
			scsi_sense(cmd, XSD_SK_NOT_READY, XSD_ASC_NOT_READY_INIT_REQUIRED);
			return;
		}
		no_data(cmd);
		return;
	case OP_REQUEST_SENSE:
		cmd_request_sense(cmd, lu, id);
		return;
	case OP_INQUIRY:
		cmd_inquiry(cmd, lu);
		return;
	case OP_READ_CAPACITY_10:
		cmd_read_capacity10(cmd, lu);
		return;
	case OP_SERVICE_ACTION_IN_16:
		cmd_service_action_in(cmd, lu);
		return;
	case OP_READ_6:
	case OP_WRITE_6:
	case OP_READ_10:
	case OP_WRITE_10:
	case OP_READ_16:
	case OP_WRITE_16:
		cmd_read_write(cmd, lu);
		return;
	case OP_MODE_SENSE_6:
		cmd_mode_sense(cmd, lu, false);
		return;
	case OP_MODE_SENSE_10:
		cmd_mode_sense(cmd, lu, true);
		return;
	case OP_REPORT_LUNS:
		cmd_report_luns(t, cmd);
		return;
	case OP_SYNC_CACHE_10:
		cmd_sync_cache(cmd, lu, false);
		return;
	case OP_SYNC_CACHE_16:
		cmd_sync_cache(cmd, lu, true);
		return;
	case OP_UNMAP:
		cmd_unmap(cmd, lu);
		return;
	case OP_START_STOP_UNIT:
		cmd_start_stop(cmd, lu);
		return;
	}
}

/*
 * After dispatch a command is either finished (its status set, to be
 * completed by the caller) or was handed to bio_submit(), which owns it from
 * then on: the back end completes it, or bio_submit() already did when the
 * back end refused it. bio_submit() always sets bio->done first.
 */
static bool cmd_in_backend(struct xsd_scsi_cmd *cmd)
{
	struct xsd_scsi_bio *bio = cmd_bio(cmd);

	return bio->done == bio_done;
}

void scsi_emulate(struct xsd_scsi_target *t, struct xsd_scsi_cmd *cmd, struct xsd_scsi_lun *lu,
		  uint16_t id)
{
	uint8_t op = cmd->cdb[0];
	uint8_t ua;
	int rc;

	if (!known_op(op)) {
		scsi_sense(cmd, XSD_SK_ILLEGAL_REQUEST, XSD_ASC_INVALID_OPCODE);
		goto complete;
	}
	if (check_cdb(cmd))
		goto complete;
	ua = scsi_ua_pending(cmd->nexus, id);
	if (ua && !ua_exempt(op)) {
		scsi_sense(cmd, XSD_SK_UNIT_ATTENTION, ua_asc(ua));
		scsi_ua_clear(cmd->nexus, id, ua_bit(ua));
		goto complete;
	}
	if (op != OP_REPORT_LUNS) {
		rc = xsd_bdev_execute(lu->be, cmd);
		if (rc == 0)
			return; /* pass-through back end owns it now */
		if (rc != -EOPNOTSUPP) {
			scsi_sense(cmd, XSD_SK_HARDWARE_ERROR, XSD_ASC_INTERNAL_TARGET_FAILURE);
			goto complete;
		}
	}
	dispatch(t, cmd, lu, id);
	if (cmd_in_backend(cmd))
		return;
complete:
	scsi_cmd_complete(cmd);
}

void scsi_emulate_no_lun(struct xsd_scsi_target *t, struct xsd_scsi_cmd *cmd)
{
	uint8_t op = cmd->cdb[0];
	uint8_t d[STD_INQUIRY_LEN];

	if (known_op(op) && check_cdb(cmd))
		goto complete;
	switch (op) {
	case OP_INQUIRY:
		if (cmd->cdb[1] & 0x03) {
			scsi_sense(cmd, XSD_SK_ILLEGAL_REQUEST, XSD_ASC_LUN_NOT_SUPPORTED);
			break;
		}
		/* peripheral qualifier 011b: no logical unit here */
		std_inquiry(d, 0x7f, "XSIGO", "VIRTUAL-DISK", "0001");
		data_in(cmd, d, sizeof(d), xs_get16(cmd->cdb + 3));
		break;
	case OP_REPORT_LUNS:
		cmd_report_luns(t, cmd);
		break;
	case OP_REQUEST_SENSE:
		if (cmd->cdb[1] & 0x01) {
			invalid_cdb(cmd, 1, 0);
			break;
		}
		scsi_sense_fill(d, XSD_SK_ILLEGAL_REQUEST, XSD_ASC_LUN_NOT_SUPPORTED);
		data_in(cmd, d, XSD_SCSI_SENSE_LEN, cmd->cdb[4]);
		break;
	default:
		scsi_sense(cmd, XSD_SK_ILLEGAL_REQUEST, XSD_ASC_LUN_NOT_SUPPORTED);
		break;
	}
complete:
	scsi_cmd_complete(cmd);
}
