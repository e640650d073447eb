/* SPDX-License-Identifier: MIT */
/*
 * test_scsi_emulate.c - every emulated command on a RAM LUN, checked byte by
 * byte (returned data and sense), plus unit attentions per initiator, LUN
 * add/remove, residuals and the LUN-less answers.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scsi_test.h"

#define BLOCKS 4096
#define BS 512

static int setup(void **state)
{
	struct scsi_rig *r = calloc(1, sizeof(*r));
	struct xsd_scsi_cmd c;
	static const uint8_t tur[16] = { 0x00 };

	assert_non_null(r);
	r->t = xsd_scsi_target_new();
	assert_non_null(r->t);
	assert_int_equal(xsd_scsi_target_add_lun(r->t, 0, ram_lun(BLOCKS, BS, "SN0001")), 0);
	r->n = xsd_scsi_nexus_new(r->t, "host-a");
	assert_non_null(r->n);
	/* consume the POWER ON unit attention every new nexus starts with */
	rig_cmd(r, 0, tur, XSD_SCSI_DIR_NONE, NULL, 0, &c);
	assert_sense(&c, 0x06, 0x29, 0x00);
	assert_int_equal(rig_cmd(r, 0, tur, XSD_SCSI_DIR_NONE, NULL, 0, &c), XSD_SCSI_GOOD);
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct scsi_rig *r = *state;

	xsd_scsi_target_free(r->t);
	free(r);
	return 0;
}

/* ------------------------------------------------------------- INQUIRY */

static void inquiry_standard(void **state)
{
	struct scsi_rig *r = *state;
	static const uint8_t cdb[16] = { 0x12, 0, 0, 0, 96, 0 };
	static const uint8_t want[36] = {
		0x00, 0x00, 0x06, 0x12, 0x1f, 0x00, 0x00, 0x02,
		'X', 'S', 'I', 'G', 'O', ' ', ' ', ' ',
		'V', 'I', 'R', 'T', 'U', 'A', 'L', '-', 'D', 'I', 'S', 'K', ' ', ' ', ' ', ' ',
		'0', '0', '0', '1',
	};
	uint8_t buf[96];
	struct xsd_scsi_cmd c;

	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(rig_cmd(r, 0, cdb, XSD_SCSI_DIR_IN, buf, sizeof(buf), &c), 0);
	assert_int_equal(c.sense_len, 0);
	assert_int_equal(c.xfer_len, 36);
	assert_memory_equal(buf, want, 36);
	assert_int_equal(buf[36], 0xee);
	/* 60 bytes of the buffer unused: underflow */
	assert_false(c.overflow);
	assert_int_equal(c.residual, 60);
}

static void inquiry_allocation_length_cuts(void **state)
{
	struct scsi_rig *r = *state;
	static const uint8_t cdb[16] = { 0x12, 0, 0, 0, 5, 0 };
	uint8_t buf[64];
	struct xsd_scsi_cmd c;

	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(rig_cmd(r, 0, cdb, XSD_SCSI_DIR_IN, buf, 5, &c), 0);
	assert_int_equal(c.xfer_len, 5);
	assert_int_equal(c.residual, 0);
	assert_int_equal(buf[4], 0x1f);
	assert_int_equal(buf[5], 0xee);
	/* buffer smaller than what the command may return: overflow */
	static const uint8_t cdb2[16] = { 0x12, 0, 0, 0, 36, 0 };
	assert_int_equal(rig_cmd(r, 0, cdb2, XSD_SCSI_DIR_IN, buf, 10, &c), 0);
	assert_int_equal(c.xfer_len, 10);
	assert_true(c.overflow);
	assert_int_equal(c.residual, 26);
}

static uint64_t fnv(const char *s, uint64_t h)
{
	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

static void inquiry_vpd_pages(void **state)
{
	struct scsi_rig *r = *state;
	uint8_t cdb[16] = { 0x12, 0x01, 0x00, 0x01, 0x00, 0 };
	uint8_t buf[256], want[64];
	struct xsd_scsi_cmd c;
	static const uint8_t p00[] = { 0, 0x00, 0, 6, 0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2 };
	static const uint8_t p80[] = { 0, 0x80, 0, 6, 'S', 'N', '0', '0', '0', '1' };
	static const uint8_t pb2[] = { 0, 0xb2, 0, 4, 0, 0x84, 0x02, 0 };
	uint64_t hi, lo;

	assert_int_equal(rig_cmd(r, 0, cdb, XSD_SCSI_DIR_IN, buf, sizeof(buf), &c), 0);
	assert_int_equal(c.xfer_len, sizeof(p00));
	assert_memory_equal(buf, p00, sizeof(p00));

	cdb[2] = 0x80;
	assert_int_equal(rig_cmd(r, 0, cdb, XSD_SCSI_DIR_IN, buf, sizeof(buf), &c), 0);
	assert_int_equal(c.xfer_len, sizeof(p80));
	assert_memory_equal(buf, p80, sizeof(p80));

	cdb[2] = 0x83;
	assert_int_equal(rig_cmd(r, 0, cdb, XSD_SCSI_DIR_IN, buf, sizeof(buf), &c), 0);
	assert_int_equal(c.xfer_len, 42);
	memset(want, 0, sizeof(want));
	want[1] = 0x83;
	want[3] = 38;
	want[4] = 0x01; /* binary */
	want[5] = 0x03; /* LU, NAA */
	want[7] = 16;
	hi = UINT64_C(6) << 60 | UINT64_C(0x001397) << 36 |
	     (fnv("SN0001", UINT64_C(0xcbf29ce484222325)) & UINT64_C(0xfffffffff));
	lo = fnv("SN0001", fnv("xsigo-lun", UINT64_C(0xcbf29ce484222325)));
	for (int i = 0; i < 8; i++) {
		want[8 + i] = (uint8_t)(hi >> (56 - 8 * i));
		want[16 + i] = (uint8_t)(lo >> (56 - 8 * i));
	}
	want[24] = 0x02; /* ASCII */
	want[25] = 0x01; /* T10 vendor id */
	want[27] = 14;
	memcpy(want + 28, "XSIGO   SN0001", 14);
	assert_memory_equal(buf, want, 42);
	/* NAA 6, IEEE company id 00-13-97 */
	assert_int_equal(buf[8], 0x60);
	assert_int_equal(buf[9], 0x01);
	assert_int_equal(buf[10], 0x39);
	assert_int_equal(buf[11] >> 4, 0x7);

	cdb[2] = 0xb0;
	assert_int_equal(rig_cmd(r, 0, cdb, XSD_SCSI_DIR_IN, buf, sizeof(buf), &c), 0);
	assert_int_equal(c.xfer_len, 64);
	memset(want, 0, sizeof(want));
	want[1] = 0xb0;
	want[3] = 0x3c;
	want[10] = 0x08; /* max transfer 2048 blocks = 1 MiB */
	want[14] = 0x08; /* optimal transfer */
	want[21] = 0x20; /* max unmap LBA count 0x200000 = 1 GiB */
	want[27] = 64;   /* max unmap descriptors */
	want[31] = 8;    /* unmap granularity 4 KiB */
	assert_memory_equal(buf, want, 64);

	cdb[2] = 0xb1;
	assert_int_equal(rig_cmd(r, 0, cdb, XSD_SCSI_DIR_IN, buf, sizeof(buf), &c), 0);
	memset(want, 0, sizeof(want));
	want[1] = 0xb1;
	want[3] = 0x3c;
	want[5] = 0x01; /* non-rotating */
	assert_int_equal(c.xfer_len, 64);
	assert_memory_equal(buf, want, 64);

	cdb[2] = 0xb2;
	assert_int_equal(rig_cmd(r, 0, cdb, XSD_SCSI_DIR_IN, buf, sizeof(buf), &c), 0);
	assert_int_equal(c.xfer_len, sizeof(pb2));
	assert_memory_equal(buf, pb2, sizeof(pb2));

	/* unknown page, page without EVPD, CMDDT */
	cdb[2] = 0x99;
	rig_cmd(r, 0, cdb, XSD_SCSI_DIR_IN, buf, sizeof(buf), &c);
	assert_sense_field(&c, 0x05, 0x24, 0x00, true, 2, -1);
	assert_int_equal(c.xfer_len, 0);
	cdb[1] = 0;
	cdb[2] = 0x80;
	rig_cmd(r, 0, cdb, XSD_SCSI_DIR_IN, buf, sizeof(buf), &c);
	assert_sense_field(&c, 0x05, 0x24, 0x00, true, 2, -1);
	cdb[1] = 0x02;
	cdb[2] = 0;
	rig_cmd(r, 0, cdb, XSD_SCSI_DIR_IN, buf, sizeof(buf), &c);
	assert_sense_field(&c, 0x05, 0x24, 0x00, true, 1, 1);
}

/* ------------------------------------------------------- READ CAPACITY */

static void read_capacity(void **state)
{
	struct scsi_rig *r = *state;
	static const uint8_t rc10[16] = { 0x25 };
	static const uint8_t rc10_bad[16] = { 0x25, 0, 0, 0, 0, 1 };
	static const uint8_t rc16[16] = { 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32 };
	static const uint8_t sai_bad[16] = { 0x9e, 0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32 };
	static const uint8_t want10[8] = { 0, 0, 0x0f, 0xff, 0, 0, 0x02, 0x00 };
	uint8_t want16[32] = { 0, 0, 0, 0, 0, 0, 0x0f, 0xff, 0, 0, 0x02, 0x00, 0, 0, 0xc0, 0 };
	uint8_t buf[64];
	struct xsd_scsi_cmd c;

	assert_int_equal(rig_cmd(r, 0, rc10, XSD_SCSI_DIR_IN, buf, 8, &c), 0);
	assert_int_equal(c.xfer_len, 8);
	assert_memory_equal(buf, want10, 8);
	rig_cmd(r, 0, rc10_bad, XSD_SCSI_DIR_IN, buf, 8, &c);
	assert_sense_field(&c, 0x05, 0x24, 0x00, true, 2, -1);

	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(rig_cmd(r, 0, rc16, XSD_SCSI_DIR_IN, buf, sizeof(buf), &c), 0);
	assert_int_equal(c.xfer_len, 32);
	assert_memory_equal(buf, want16, 32);
	assert_int_equal(c.residual, 32);
	rig_cmd(r, 0, sai_bad, XSD_SCSI_DIR_IN, buf, sizeof(buf), &c);
	assert_sense_field(&c, 0x05, 0x24, 0x00, true, 1, 4);
}

/* ------------------------------------------------------------ READ/WRITE */

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
}

static void read_write_6_10_16(void **state)
{
	struct scsi_rig *r = *state;
	uint8_t *w = malloc(256 * BS), *rd = malloc(256 * BS);
	struct xsd_scsi_cmd c;
	/* WRITE(6) LBA 0x123, 0 = 256 blocks; READ(10) of the same; READ(16) of a part */
	static const uint8_t w6[16] = { 0x0a, 0x00, 0x01, 0x23, 0x00, 0 };
	static const uint8_t r10[16] = { 0x28, 0, 0, 0, 0x01, 0x23, 0, 0x01, 0x00, 0 };
	static const uint8_t r16[16] = { 0x88, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x24,
					 0, 0, 0, 2, 0, 0 };
	static const uint8_t w16[16] = { 0x8a, 0x08, 0, 0, 0, 0, 0, 0, 0x0f, 0xff,
					 0, 0, 0, 1, 0, 0 };
	static const uint8_t r6[16] = { 0x08, 0x00, 0x0f, 0xff, 0x01, 0 };

	fill(w, 256 * BS, 7);
	assert_int_equal(rig_cmd(r, 0, w6, XSD_SCSI_DIR_OUT, w, 256 * BS, &c), 0);
	assert_int_equal(c.xfer_len, 256 * BS);
	assert_int_equal(c.residual, 0);
	memset(rd, 0, 256 * BS);
	assert_int_equal(rig_cmd(r, 0, r10, XSD_SCSI_DIR_IN, rd, 256 * BS, &c), 0);
	assert_int_equal(c.xfer_len, 256 * BS);
	assert_memory_equal(rd, w, 256 * BS);
	memset(rd, 0, 256 * BS);
	assert_int_equal(rig_cmd(r, 0, r16, XSD_SCSI_DIR_IN, rd, 2 * BS, &c), 0);
	assert_memory_equal(rd, w + BS, 2 * BS);
	/* last block, FUA */
	assert_int_equal(rig_cmd(r, 0, w16, XSD_SCSI_DIR_OUT, w, BS, &c), 0);
	memset(rd, 0, BS);
	assert_int_equal(rig_cmd(r, 0, r6, XSD_SCSI_DIR_IN, rd, BS, &c), 0);
	assert_memory_equal(rd, w, BS);
	free(w);
	free(rd);
}

static void read_write_errors(void **state)
{
	struct scsi_rig *r = *state;
	uint8_t buf[4 * BS];
	struct xsd_scsi_cmd c;
	/* READ(10) at the last LBA for 2 blocks: out of range */
	static const uint8_t past[16] = { 0x28, 0, 0, 0, 0x0f, 0xff, 0, 0, 2, 0 };
	static const uint8_t beyond[16] = { 0x88, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					    0xff, 0, 0, 0, 1, 0, 0 };
	static const uint8_t at_end[16] = { 0x2a, 0, 0, 0, 0x10, 0x00, 0, 0, 0, 0 };
	static const uint8_t too_long[16] = { 0x88, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					      0, 0, 0x08, 0x01, 0, 0 };
	static const uint8_t prot[16] = { 0x28, 0x20, 0, 0, 0, 0, 0, 0, 1, 0 };
	static const uint8_t zero[16] = { 0x28, 0, 0, 0, 0, 0x10, 0, 0, 0, 0 };
	static const uint8_t four[16] = { 0x28, 0, 0, 0, 0, 0x10, 0, 0, 4, 0 };
	static const uint8_t naca[16] = { 0x28, 0, 0, 0, 0, 0x10, 0, 0, 1, 0x04 };

	rig_cmd(r, 0, past, XSD_SCSI_DIR_IN, buf, 2 * BS, &c);
	assert_sense(&c, 0x05, 0x21, 0x00);
	assert_int_equal(c.xfer_len, 0);
	rig_cmd(r, 0, beyond, XSD_SCSI_DIR_IN, buf, BS, &c);
	assert_sense(&c, 0x05, 0x21, 0x00);
	rig_cmd(r, 0, at_end, XSD_SCSI_DIR_OUT, buf, 0, &c);
	assert_sense(&c, 0x05, 0x21, 0x00); /* LBA = capacity, even for 0 blocks */
	rig_cmd(r, 0, too_long, XSD_SCSI_DIR_IN, buf, sizeof(buf), &c);
	assert_sense_field(&c, 0x05, 0x24, 0x00, true, 10, -1);
	rig_cmd(r, 0, prot, XSD_SCSI_DIR_IN, buf, BS, &c);
	assert_sense_field(&c, 0x05, 0x24, 0x00, true, 1, 7);
	rig_cmd(r, 0, naca, XSD_SCSI_DIR_IN, buf, BS, &c);
	assert_sense_field(&c, 0x05, 0x24, 0x00, true, 9, 2);
	/* transfer length 0: nothing moves, GOOD, whole buffer residue */
	assert_int_equal(rig_cmd(r, 0, zero, XSD_SCSI_DIR_IN, buf, BS, &c), 0);
	assert_int_equal(c.xfer_len, 0);
	assert_int_equal(c.residual, BS);
	/* buffer of 3 blocks for a 4-block read: refused, overflow of one block */
	rig_cmd(r, 0, four, XSD_SCSI_DIR_IN, buf, 3 * BS, &c);
	assert_sense_field(&c, 0x05, 0x24, 0x00, true, 7, -1);
	assert_true(c.overflow);
	assert_int_equal(c.residual, BS);
	/* a data-out buffer for a READ counts as no buffer */
	rig_cmd(r, 0, four, XSD_SCSI_DIR_OUT, buf, 4 * BS, &c);
	assert_sense_field(&c, 0x05, 0x24, 0x00, true, 7, -1);
	/* bigger buffer: the read happens, the rest is underflow */
	assert_int_equal(rig_cmd(r, 0, four, XSD_SCSI_DIR_IN, buf, sizeof(buf), &c), 0);
	assert_int_equal(rig_cmd(r, 0, zero, XSD_SCSI_DIR_IN, buf, 0, &c), 0);
	static const uint8_t one[16] = { 0x28, 0, 0, 0, 0, 0x10, 0, 0, 1, 0 };
	assert_int_equal(rig_cmd(r, 0, one, XSD_SCSI_DIR_IN, buf, sizeof(buf), &c), 0);
	assert_int_equal(c.xfer_len, BS);
	assert_false(c.overflow);
	assert_int_equal(c.residual, 3 * BS);
}

/* Many buffers in one command, split at odd places, more than the 8 the
 * command keeps inline when the buffer is longer than the transfer. */
static void read_write_iovec(void **state)
{
	struct scsi_rig *r = *state;
	uint8_t *w = malloc(8 * BS), *rd = calloc(1, 8 * BS + 100);
	struct iovec wv[3] = { { w, 100 }, { w + 100, 3000 }, { w + 3100, 8 * BS - 3100 } };
	struct iovec rv[12];
	static const uint8_t w10[16] = { 0x2a, 0, 0, 0, 0, 0x40, 0, 0, 8, 0 };
	static const uint8_t r10[16] = { 0x28, 0, 0, 0, 0, 0x40, 0, 0, 8, 0 };
	struct xsd_scsi_cmd c;
	size_t off = 0;

	fill(w, 8 * BS, 99);
	assert_int_equal(rig_runv(r, r->n, 0, w10, 10, XSD_SCSI_DIR_OUT, wv, 3, &c), 0);
	assert_int_equal(c.xfer_len, 8 * BS);
	/* 11 pieces of 373 bytes and the rest + 100 spare bytes */
	for (int i = 0; i < 11; i++, off += 373)
		rv[i] = (struct iovec){ rd + off, 373 };
	rv[11] = (struct iovec){ rd + off, 8 * BS + 100 - off };
	assert_int_equal(rig_runv(r, r->n, 0, r10, 10, XSD_SCSI_DIR_IN, rv, 12, &c), 0);
	assert_int_equal(c.xfer_len, 8 * BS);
	assert_int_equal(c.residual, 100);
	assert_memory_equal(rd, w, 8 * BS);
	free(w);
	free(rd);
}

/* ---------------------------------------------------------- MODE SENSE */

static void mode_sense_6_and_10(void **state)
{
	struct scsi_rig *r = *state;
	uint8_t buf[128];
	struct xsd_scsi_cmd c;
	static const uint8_t ms6_all[16] = { 0x1a, 0x00, 0x3f, 0x00, 0xff, 0 };
	static const uint8_t want6[44] = {
		43, 0x00, 0x10, 8,                              /* header: DPOFUA */
		0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x02, 0x00, /* 4096 blocks of 512 */
		0x08, 0x12, 0x04, 0, 0, 0, 0, 0, 0, 0,           /* caching: WCE */
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0x0a, 0x0a, 0x00, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, /* control */
	};
	static const uint8_t ms10_cache_llba[16] = { 0x5a, 0x10, 0x08, 0, 0, 0, 0, 0, 0xff, 0 };
	static const uint8_t want10[44] = {
		0x00, 42, 0x00, 0x10, 0x01, 0x00, 0x00, 16,     /* LONGLBA, 16-byte descriptor */
		0, 0, 0, 0, 0, 0, 0x10, 0x00, 0, 0, 0, 0, 0, 0, 0x02, 0x00,
		0x08, 0x12, 0x04, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	};
	static const uint8_t ms6_ctrl_dbd[16] = { 0x1a, 0x08, 0x0a, 0x00, 0xff, 0 };
	static const uint8_t want_ctrl[16] = {
		15, 0x00, 0x10, 0,
		0x0a, 0x0a, 0x00, 0x10, 0, 0, 0, 0, 0, 0, 0, 0,
	};
	static const uint8_t ms6_changeable[16] = { 0x1a, 0x08, 0x48, 0x00, 0xff, 0 };
	static const uint8_t ms6_saved[16] = { 0x1a, 0x00, 0xff, 0x00, 0xff, 0 };
	static const uint8_t ms6_page19[16] = { 0x1a, 0x00, 0x19, 0x00, 0xff, 0 };
	static const uint8_t ms6_sub[16] = { 0x1a, 0x00, 0x08, 0x01, 0xff, 0 };
	static const uint8_t ms6_allsub[16] = { 0x1a, 0x08, 0x3f, 0xff, 0xff, 0 };
	static const uint8_t ms6_short[16] = { 0x1a, 0x00, 0x3f, 0x00, 4, 0 };

	assert_int_equal(rig_cmd(r, 0, ms6_all, XSD_SCSI_DIR_IN, buf, sizeof(buf), &c), 0);
	assert_int_equal(c.xfer_len, 44);
	assert_memory_equal(buf, want6, 44);
	assert_int_equal(rig_cmd(r, 0, ms10_cache_llba, XSD_SCSI_DIR_IN, buf, sizeof(buf), &c), 0);
	assert_int_equal(c.xfer_len, 44);
	assert_memory_equal(buf, want10, 44);
	assert_int_equal(rig_cmd(r, 0, ms6_ctrl_dbd, XSD_SCSI_DIR_IN, buf, sizeof(buf), &c), 0);
	assert_int_equal(c.xfer_len, 16);
	assert_memory_equal(buf, want_ctrl, 16);
	/* changeable values: nothing is */
	assert_int_equal(rig_cmd(r, 0, ms6_changeable, XSD_SCSI_DIR_IN, buf, sizeof(buf), &c), 0);
	assert_int_equal(c.xfer_len, 24);
	assert_int_equal(buf[4], 0x08);
	assert_int_equal(buf[6], 0x00);
	assert_int_equal(rig_cmd(r, 0, ms6_allsub, XSD_SCSI_DIR_IN, buf, sizeof(buf), &c), 0);
	assert_int_equal(c.xfer_len, 36);
	/* allocation length 4: the header only */
	assert_int_equal(rig_cmd(r, 0, ms6_short, XSD_SCSI_DIR_IN, buf, sizeof(buf), &c), 0);
	assert_int_equal(c.xfer_len, 4);
	assert_int_equal(buf[0], 43);

	rig_cmd(r, 0, ms6_saved, XSD_SCSI_DIR_IN, buf, sizeof(buf), &c);
	assert_sense_field(&c, 0x05, 0x39, 0x00, true, 2, 7);
	rig_cmd(r, 0, ms6_page19, XSD_SCSI_DIR_IN, buf, sizeof(buf), &c);
	assert_sense_field(&c, 0x05, 0x24, 0x00, true, 2, 5);
	rig_cmd(r, 0, ms6_sub, XSD_SCSI_DIR_IN, buf, sizeof(buf), &c);
	assert_sense_field(&c, 0x05, 0x24, 0x00, true, 3, -1);
}

/* ---------------------------------------------------------- REPORT LUNS */

static void report_luns_exact(void **state)
{
	struct scsi_rig *r = *state;
	static const uint8_t cdb[16] = { 0xa0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x00, 0, 0 };
	static const uint8_t small[16] = { 0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 15, 0, 0 };
	static const uint8_t sel1[16] = { 0xa0, 0, 1, 0, 0, 0, 0, 0, 0x10, 0x00, 0, 0 };
	static const uint8_t sel3[16] = { 0xa0, 0, 3, 0, 0, 0, 0, 0, 0x10, 0x00, 0, 0 };
	static const uint8_t cut[16] = { 0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0 };
	static const uint8_t want[32] = {
		0, 0, 0, 24, 0, 0, 0, 0,
		0x00, 0x00, 0, 0, 0, 0, 0, 0,   /* LUN 0 */
		0x00, 0x05, 0, 0, 0, 0, 0, 0,   /* LUN 5 */
		0x41, 0x2c, 0, 0, 0, 0, 0, 0,   /* LUN 300, flat space */
	};
	uint8_t buf[4096];
	struct xsd_scsi_cmd c;
	uint16_t ids[4];

	assert_int_equal(xsd_scsi_target_add_lun(r->t, 300, ram_lun(8, 512, "SN300")), 0);
	assert_int_equal(xsd_scsi_target_add_lun(r->t, 5, ram_lun(8, 512, "SN5")), 0);
	assert_int_equal(xsd_scsi_target_luns(r->t, ids, 4), 3);
	assert_int_equal(xsd_scsi_target_add_lun(r->t, 5, ram_lun(8, 512, "DUP")), -EEXIST);
	assert_int_equal(xsd_scsi_target_add_lun(r->t, 16384, ram_lun(8, 512, "BIG")), -ERANGE);
	assert_int_equal(xsd_scsi_target_add_lun(r->t, 6, NULL), -EINVAL);
	assert_int_equal(xsd_scsi_target_luns(r->t, ids, 4), 3);
	assert_int_equal(ids[0], 0);
	assert_int_equal(ids[1], 5);
	assert_int_equal(ids[2], 300);
	assert_int_equal(rig_cmd(r, 0, cdb, XSD_SCSI_DIR_IN, buf, sizeof(buf), &c), 0);
	assert_int_equal(c.xfer_len, 32);
	assert_memory_equal(buf, want, 32);
	/* also through a LUN id nobody has */
	assert_int_equal(rig_cmd(r, 77, cdb, XSD_SCSI_DIR_IN, buf, sizeof(buf), &c), 0);
	assert_memory_equal(buf, want, 32);
	assert_int_equal(rig_cmd(r, 0, cut, XSD_SCSI_DIR_IN, buf, sizeof(buf), &c), 0);
	assert_int_equal(c.xfer_len, 16);
	assert_int_equal(rig_cmd(r, 0, sel1, XSD_SCSI_DIR_IN, buf, sizeof(buf), &c), 0);
	assert_int_equal(c.xfer_len, 8);
	assert_int_equal(buf[3], 0);
	rig_cmd(r, 0, small, XSD_SCSI_DIR_IN, buf, sizeof(buf), &c);
	assert_sense_field(&c, 0x05, 0x24, 0x00, true, 6, -1);
	rig_cmd(r, 0, sel3, XSD_SCSI_DIR_IN, buf, sizeof(buf), &c);
	assert_sense_field(&c, 0x05, 0x24, 0x00, true, 2, -1);
}

/* ------------------------------------------- TUR, START STOP, REQUEST SENSE */

static void start_stop_and_not_ready(void **state)
{
	struct scsi_rig *r = *state;
	static const uint8_t tur[16] = { 0x00 };
	static const uint8_t stop[16] = { 0x1b, 0x01, 0, 0, 0x00, 0 };
	static const uint8_t start[16] = { 0x1b, 0x00, 0, 0, 0x01, 0 };
	static const uint8_t eject[16] = { 0x1b, 0x00, 0, 0, 0x02, 0 };
	static const uint8_t power[16] = { 0x1b, 0x00, 0, 0, 0x31, 0 };
	static const uint8_t rs[16] = { 0x03, 0, 0, 0, 252, 0 };
	static const uint8_t rd[16] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
	uint8_t buf[512], want[18];
	struct xsd_scsi_cmd c;

	assert_int_equal(rig_cmd(r, 0, stop, XSD_SCSI_DIR_NONE, NULL, 0, &c), 0);
	rig_cmd(r, 0, tur, XSD_SCSI_DIR_NONE, NULL, 0, &c);
	assert_sense(&c, 0x02, 0x04, 0x02);
	rig_cmd(r, 0, rd, XSD_SCSI_DIR_IN, buf, 512, &c);
	assert_sense(&c, 0x02, 0x04, 0x02);
	/* REQUEST SENSE reports the condition as data, with GOOD status */
	assert_int_equal(rig_cmd(r, 0, rs, XSD_SCSI_DIR_IN, buf, sizeof(buf), &c), 0);
	assert_int_equal(c.xfer_len, 18);
	expect_sense_bytes(want, 0x02, 0x04, 0x02);
	assert_memory_equal(buf, want, 18);
	/* INQUIRY still works on a stopped unit */
	static const uint8_t inq[16] = { 0x12, 0, 0, 0, 36, 0 };
	assert_int_equal(rig_cmd(r, 0, inq, XSD_SCSI_DIR_IN, buf, 36, &c), 0);
	assert_int_equal(rig_cmd(r, 0, start, XSD_SCSI_DIR_NONE, NULL, 0, &c), 0);
	assert_int_equal(rig_cmd(r, 0, tur, XSD_SCSI_DIR_NONE, NULL, 0, &c), 0);
	assert_int_equal(rig_cmd(r, 0, rs, XSD_SCSI_DIR_IN, buf, sizeof(buf), &c), 0);
	expect_sense_bytes(want, 0x00, 0x00, 0x00);
	assert_memory_equal(buf, want, 18);
	rig_cmd(r, 0, eject, XSD_SCSI_DIR_NONE, NULL, 0, &c);
	assert_sense_field(&c, 0x05, 0x24, 0x00, true, 4, 1);
	rig_cmd(r, 0, power, XSD_SCSI_DIR_NONE, NULL, 0, &c);
	assert_sense_field(&c, 0x05, 0x24, 0x00, true, 4, 7);
	/* descriptor format sense is not offered */
	static const uint8_t rs_desc[16] = { 0x03, 0x01, 0, 0, 252, 0 };
	rig_cmd(r, 0, rs_desc, XSD_SCSI_DIR_IN, buf, sizeof(buf), &c);
	assert_sense_field(&c, 0x05, 0x24, 0x00, true, 1, 0);
}

static void unknown_opcodes(void **state)
{
	struct scsi_rig *r = *state;
	static const uint8_t ops[] = { 0x04, 0x15, 0x55, 0x41, 0x93, 0x7f, 0xa3, 0xc0, 0xff };
	uint8_t cdb[16] = { 0 }, buf[64];
	struct xsd_scsi_cmd c;

	for (size_t i = 0; i < sizeof(ops); i++) {
		cdb[0] = ops[i];
		rig_cmd(r, 0, cdb, XSD_SCSI_DIR_IN, buf, sizeof(buf), &c);
		assert_sense(&c, 0x05, 0x20, 0x00);
		assert_int_equal(c.xfer_len, 0);
	}
	/* a 6-byte CDB for a 10-byte command */
	cdb[0] = 0x28;
	rig_run(r, r->n, 0, cdb, 6, XSD_SCSI_DIR_IN, buf, sizeof(buf), &c);
	assert_sense_field(&c, 0x05, 0x24, 0x00, true, 0, -1);
}

/* ------------------------------------------------------ SYNC CACHE, UNMAP */

static void sync_cache(void **state)
{
	struct scsi_rig *r = *state;
	static const uint8_t s10[16] = { 0x35, 0x02, 0, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t s16[16] = { 0x91, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0x20, 0, 0 };
	static const uint8_t bad[16] = { 0x91, 0, 0, 0, 0, 0, 0, 0, 0x0f, 0xf0, 0, 0, 0, 0x20, 0, 0 };
	struct xsd_scsi_cmd c;

	assert_int_equal(rig_cmd(r, 0, s10, XSD_SCSI_DIR_NONE, NULL, 0, &c), 0);
	assert_int_equal(c.sense_len, 0);
	assert_int_equal(rig_cmd(r, 0, s16, XSD_SCSI_DIR_NONE, NULL, 0, &c), 0);
	rig_cmd(r, 0, bad, XSD_SCSI_DIR_NONE, NULL, 0, &c);
	assert_sense(&c, 0x05, 0x21, 0x00);
}

static size_t unmap_list(uint8_t *p, const uint64_t *lba, const uint32_t *n, size_t cnt)
{
	size_t len = 8 + 16 * cnt;

	memset(p, 0, len);
	p[0] = (uint8_t)((len - 2) >> 8);
	p[1] = (uint8_t)(len - 2);
	p[2] = (uint8_t)((16 * cnt) >> 8);
	p[3] = (uint8_t)(16 * cnt);
	for (size_t i = 0; i < cnt; i++) {
		for (int b = 0; b < 8; b++)
			p[8 + 16 * i + b] = (uint8_t)(lba[i] >> (56 - 8 * b));
		for (int b = 0; b < 4; b++)
			p[16 + 16 * i + b] = (uint8_t)(n[i] >> (24 - 8 * b));
	}
	return len;
}

static void unmap_ram(void **state)
{
	struct scsi_rig *r = *state;
	uint8_t *data = malloc(64 * BS), *rd = malloc(64 * BS), zero[BS], list[8 + 16 * 70];
	uint8_t cdb[16] = { 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t w[16] = { 0x2a, 0, 0, 0, 0, 0, 0, 0, 64, 0 };
	static const uint8_t rcmd[16] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 64, 0 };
	uint64_t lba[70];
	uint32_t n[70];
	size_t len;
	struct xsd_scsi_cmd c;

	memset(zero, 0, sizeof(zero));
	fill(data, 64 * BS, 3);
	assert_int_equal(rig_cmd(r, 0, w, XSD_SCSI_DIR_OUT, data, 64 * BS, &c), 0);
	lba[0] = 8;
	n[0] = 8;
	lba[1] = 40;
	n[1] = 1;
	lba[2] = 60;
	n[2] = 0; /* no-op descriptor */
	len = unmap_list(list, lba, n, 3);
	cdb[8] = (uint8_t)len;
	assert_int_equal(rig_cmd(r, 0, cdb, XSD_SCSI_DIR_OUT, list, len, &c), 0);
	assert_int_equal(c.xfer_len, len);
	assert_int_equal(rig_cmd(r, 0, rcmd, XSD_SCSI_DIR_IN, rd, 64 * BS, &c), 0);
	assert_memory_equal(rd, data, 8 * BS);
	for (int i = 8; i < 16; i++)
		assert_memory_equal(rd + i * BS, zero, BS);
	assert_memory_equal(rd + 16 * BS, data + 16 * BS, 24 * BS);
	assert_memory_equal(rd + 40 * BS, zero, BS);
	assert_memory_equal(rd + 41 * BS, data + 41 * BS, 23 * BS);

	/* range past the end */
	lba[0] = BLOCKS - 1;
	n[0] = 2;
	len = unmap_list(list, lba, n, 1);
	cdb[8] = (uint8_t)len;
	rig_cmd(r, 0, cdb, XSD_SCSI_DIR_OUT, list, len, &c);
	assert_sense(&c, 0x05, 0x21, 0x00);
	/* parameter list length 1..7 */
	cdb[8] = 6;
	rig_cmd(r, 0, cdb, XSD_SCSI_DIR_OUT, list, 6, &c);
	assert_sense(&c, 0x05, 0x1a, 0x00);
	/* list shorter than the parameter list length says */
	cdb[8] = 24;
	rig_cmd(r, 0, cdb, XSD_SCSI_DIR_OUT, list, 20, &c);
	assert_sense(&c, 0x05, 0x1a, 0x00);
	assert_true(c.overflow);
	/* block descriptor data length no multiple of 16, or past the list */
	lba[0] = 0;
	n[0] = 1;
	len = unmap_list(list, lba, n, 1);
	list[3] = 15;
	cdb[8] = (uint8_t)len;
	rig_cmd(r, 0, cdb, XSD_SCSI_DIR_OUT, list, len, &c);
	assert_sense_field(&c, 0x05, 0x26, 0x00, false, 2, -1);
	list[3] = 32;
	rig_cmd(r, 0, cdb, XSD_SCSI_DIR_OUT, list, len, &c);
	assert_sense_field(&c, 0x05, 0x26, 0x00, false, 2, -1);
	/* UNMAP data length past the list */
	list[3] = 16;
	list[1] = 0xff;
	rig_cmd(r, 0, cdb, XSD_SCSI_DIR_OUT, list, len, &c);
	assert_sense_field(&c, 0x05, 0x26, 0x00, false, 0, -1);
	/* more descriptors than VPD B0 allows (64) */
	for (int i = 0; i < 65; i++) {
		lba[i] = (uint64_t)i;
		n[i] = 1;
	}
	len = unmap_list(list, lba, n, 65);
	cdb[7] = (uint8_t)(len >> 8);
	cdb[8] = (uint8_t)len;
	rig_cmd(r, 0, cdb, XSD_SCSI_DIR_OUT, list, len, &c);
	assert_sense_field(&c, 0x05, 0x26, 0x00, false, 2, -1);
	/* ANCHOR */
	cdb[1] = 0x01;
	rig_cmd(r, 0, cdb, XSD_SCSI_DIR_OUT, list, len, &c);
	assert_sense_field(&c, 0x05, 0x24, 0x00, true, 1, 0);
	/* parameter list length 0: nothing to do */
	cdb[1] = 0;
	cdb[7] = cdb[8] = 0;
	assert_int_equal(rig_cmd(r, 0, cdb, XSD_SCSI_DIR_NONE, NULL, 0, &c), 0);
	free(data);
	free(rd);
}

/* ------------------------------------------------------ unit attentions */

static void unit_attention_sequence(void **state)
{
	struct scsi_rig *r = *state;
	static const uint8_t tur[16] = { 0x00 };
	static const uint8_t inq[16] = { 0x12, 0, 0, 0, 36, 0 };
	static const uint8_t rl[16] = { 0xa0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00, 0, 0 };
	static const uint8_t rs[16] = { 0x03, 0, 0, 0, 18, 0 };
	struct xsd_scsi_nexus *b = xsd_scsi_nexus_new(r->t, "host-b");
	uint8_t buf[256], want[18];
	struct xsd_scsi_cmd c;

	assert_non_null(b);
	/* host-b's first command sees POWER ON once; host-a is unaffected */
	rig_run(r, b, 0, tur, 16, XSD_SCSI_DIR_NONE, NULL, 0, &c);
	assert_sense(&c, 0x06, 0x29, 0x00);
	assert_int_equal(rig_run(r, b, 0, tur, 16, XSD_SCSI_DIR_NONE, NULL, 0, &c), 0);
	assert_int_equal(rig_cmd(r, 0, tur, XSD_SCSI_DIR_NONE, NULL, 0, &c), 0);

	/* a LUN appears: LUNS CHANGED on the old LUN for both, POWER ON on the new */
	assert_int_equal(xsd_scsi_target_add_lun(r->t, 1, ram_lun(16, 512, "SN-1")), 0);
	/* INQUIRY neither reports nor clears it */
	assert_int_equal(rig_cmd(r, 0, inq, XSD_SCSI_DIR_IN, buf, 36, &c), 0);
	rig_cmd(r, 0, tur, XSD_SCSI_DIR_NONE, NULL, 0, &c);
	assert_sense(&c, 0x06, 0x3f, 0x0e);
	assert_int_equal(rig_cmd(r, 0, tur, XSD_SCSI_DIR_NONE, NULL, 0, &c), 0);
	rig_cmd(r, 1, tur, XSD_SCSI_DIR_NONE, NULL, 0, &c);
	assert_sense(&c, 0x06, 0x29, 0x00);
	assert_int_equal(rig_cmd(r, 1, tur, XSD_SCSI_DIR_NONE, NULL, 0, &c), 0);
	/* host-b: REQUEST SENSE returns the UA as data and clears it */
	assert_int_equal(rig_run(r, b, 0, rs, 16, XSD_SCSI_DIR_IN, buf, 18, &c), 0);
	expect_sense_bytes(want, 0x06, 0x3f, 0x0e);
	assert_memory_equal(buf, want, 18);
	assert_int_equal(rig_run(r, b, 0, tur, 16, XSD_SCSI_DIR_NONE, NULL, 0, &c), 0);

	/* the LUN goes away: LUNS CHANGED again; REPORT LUNS clears it */
	assert_int_equal(xsd_scsi_target_remove_lun(r->t, 1), 0);
	assert_int_equal(xsd_scsi_target_remove_lun(r->t, 1), -ENOENT);
	assert_int_equal(rig_run(r, b, 0, rl, 16, XSD_SCSI_DIR_IN, buf, 256, &c), 0);
	assert_int_equal(buf[3], 8);
	assert_int_equal(rig_run(r, b, 0, tur, 16, XSD_SCSI_DIR_NONE, NULL, 0, &c), 0);
	rig_cmd(r, 0, tur, XSD_SCSI_DIR_NONE, NULL, 0, &c);
	assert_sense(&c, 0x06, 0x3f, 0x0e);
	/* commands to the removed LUN: LOGICAL UNIT NOT SUPPORTED */
	rig_cmd(r, 1, tur, XSD_SCSI_DIR_NONE, NULL, 0, &c);
	assert_sense(&c, 0x05, 0x25, 0x00);

	/* LUN reset: 29/03 for every nexus, once */
	assert_int_equal(xsd_scsi_target_lun_reset(r->t, 0), 0);
	assert_int_equal(xsd_scsi_target_lun_reset(r->t, 9), -ENOENT);
	rig_cmd(r, 0, tur, XSD_SCSI_DIR_NONE, NULL, 0, &c);
	assert_sense(&c, 0x06, 0x29, 0x03);
	rig_run(r, b, 0, tur, 16, XSD_SCSI_DIR_NONE, NULL, 0, &c);
	assert_sense(&c, 0x06, 0x29, 0x03);
	assert_int_equal(rig_cmd(r, 0, tur, XSD_SCSI_DIR_NONE, NULL, 0, &c), 0);
	assert_int_equal(xsd_scsi_nexus_free(b), 0);
}

static void no_lun_answers(void **state)
{
	struct scsi_rig *r = *state;
	static const uint8_t inq[16] = { 0x12, 0, 0, 0, 36, 0 };
	static const uint8_t vpd[16] = { 0x12, 1, 0x80, 0, 36, 0 };
	static const uint8_t rs[16] = { 0x03, 0, 0, 0, 18, 0 };
	static const uint8_t rd[16] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
	uint8_t buf[512], want[18];
	struct xsd_scsi_cmd c;

	assert_int_equal(rig_cmd(r, 42, inq, XSD_SCSI_DIR_IN, buf, 36, &c), 0);
	assert_int_equal(c.xfer_len, 36);
	assert_int_equal(buf[0], 0x7f); /* qualifier 011b, type 1Fh */
	rig_cmd(r, 42, vpd, XSD_SCSI_DIR_IN, buf, 36, &c);
	assert_sense(&c, 0x05, 0x25, 0x00);
	assert_int_equal(rig_cmd(r, 42, rs, XSD_SCSI_DIR_IN, buf, 18, &c), 0);
	expect_sense_bytes(want, 0x05, 0x25, 0x00);
	assert_memory_equal(buf, want, 18);
	rig_cmd(r, 42, rd, XSD_SCSI_DIR_IN, buf, 512, &c);
	assert_sense(&c, 0x05, 0x25, 0x00);
}

static void lun_addressing(void **state)
{
	uint16_t id = 0;

	assert_true(xsd_scsi_lun_to_wire(0) == 0);
	assert_true(xsd_scsi_lun_to_wire(7) == UINT64_C(0x0007000000000000));
	assert_true(xsd_scsi_lun_to_wire(256) == UINT64_C(0x4100000000000000));
	assert_true(xsd_scsi_lun_to_wire(16383) == UINT64_C(0x7fff000000000000));
	assert_int_equal(xsd_scsi_lun_from_wire(UINT64_C(0x0007000000000000), &id), 0);
	assert_int_equal(id, 7);
	assert_int_equal(xsd_scsi_lun_from_wire(UINT64_C(0x412c000000000000), &id), 0);
	assert_int_equal(id, 300);
	/* bus 1, second level, logical unit addressing: not ours */
	assert_int_equal(xsd_scsi_lun_from_wire(UINT64_C(0x0107000000000000), &id), -EINVAL);
	assert_int_equal(xsd_scsi_lun_from_wire(UINT64_C(0x0007000100000000), &id), -EINVAL);
	assert_int_equal(xsd_scsi_lun_from_wire(UINT64_C(0x8007000000000000), &id), -EINVAL);
	assert_string_equal(xsd_scsi_asc_str(0x2100), "LOGICAL BLOCK ADDRESS OUT OF RANGE");
	assert_string_equal(xsd_scsi_asc_str(0x3f0e), "REPORTED LUNS DATA HAS CHANGED");
	assert_string_equal(xsd_scsi_sense_key_str(5), "ILLEGAL REQUEST");
}

static void done_count(struct xsd_scsi_cmd *cmd)
{
	*(int *)cmd->arg += 1;
}

static void submit_checks_the_call(void **state)
{
	struct scsi_rig *r = *state;
	struct xsd_scsi_target *other = xsd_scsi_target_new();
	struct xsd_scsi_nexus *on = xsd_scsi_nexus_new(other, "x");
	struct xsd_scsi_cmd c;
	int done = 0;

	memset(&c, 0, sizeof(c));
	c.nexus = r->n;
	c.cdb_len = 6;
	assert_int_equal(xsd_scsi_submit(r->t, &c), -EINVAL); /* no callback */
	c.done = done_count;
	c.arg = &done;
	c.cdb_len = 5;
	assert_int_equal(xsd_scsi_submit(r->t, &c), -EINVAL);
	c.cdb_len = 33;
	assert_int_equal(xsd_scsi_submit(r->t, &c), -EINVAL);
	c.cdb_len = 6;
	c.nexus = on;
	assert_int_equal(xsd_scsi_submit(r->t, &c), -EINVAL); /* another target's nexus */
	c.nexus = NULL;
	assert_int_equal(xsd_scsi_submit(r->t, &c), -EINVAL);
	assert_int_equal(xsd_scsi_target_inflight(r->t), 0);
	/* a LUN of a second addressing level: LOGICAL UNIT NOT SUPPORTED */
	c.nexus = r->n;
	c.lun = UINT64_C(0x0000000100000000);
	assert_int_equal(xsd_scsi_submit(r->t, &c), 0);
	while (!done)
		assert_true(xsd_scsi_target_wait(r->t, 1000) >= 0);
	assert_sense(&c, 0x05, 0x25, 0x00);
	xsd_scsi_target_free(other);
}

static void read_only_lun(void **state)
{
	struct scsi_rig *r = *state;
	struct xsd_scsi_lun_opts o = { .size = sizeof(o), .serial = "RO1", .read_only = true };
	static const uint8_t w[16] = { 0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
	static const uint8_t ms[16] = { 0x1a, 0x08, 0x08, 0, 0xff, 0 };
	static const uint8_t tur[16] = { 0 };
	static const uint8_t b2[16] = { 0x12, 1, 0xb2, 0, 64, 0 };
	uint8_t buf[512] = { 0 };
	struct xsd_scsi_cmd c;

	assert_int_equal(xsd_scsi_target_add_lun(r->t, 2, xsd_scsi_lun_new(xsd_scsi_ram_new(4096),
									 &o)), 0);
	rig_cmd(r, 2, tur, XSD_SCSI_DIR_NONE, NULL, 0, &c);
	assert_sense(&c, 0x06, 0x29, 0x00);
	rig_cmd(r, 2, w, XSD_SCSI_DIR_OUT, buf, 512, &c);
	assert_sense(&c, 0x07, 0x27, 0x00);
	assert_int_equal(rig_cmd(r, 2, ms, XSD_SCSI_DIR_IN, buf, sizeof(buf), &c), 0);
	assert_int_equal(buf[2], 0x90); /* WP | DPOFUA */
	assert_int_equal(rig_cmd(r, 2, b2, XSD_SCSI_DIR_IN, buf, sizeof(buf), &c), 0);
	assert_int_equal(buf[5], 0); /* no UNMAP on a read-only LUN */
}

static void bad_lun_options(void **state)
{
	struct xsd_scsi_lun_opts o = { .size = sizeof(o), .serial = "S" };

	o.block_size = 1000;
	errno = 0;
	assert_null(xsd_scsi_lun_new(xsd_scsi_ram_new(4096), &o));
	assert_int_equal(errno, EINVAL);
	o.block_size = 4096;
	o.serial = NULL;
	assert_null(xsd_scsi_lun_new(xsd_scsi_ram_new(4096), &o));
	o.serial = "0123456789abcdef0123456789abcdef0"; /* 33 chars */
	assert_null(xsd_scsi_lun_new(xsd_scsi_ram_new(4096), &o));
	o.serial = "ok";
	o.vendor = "TOO-LONG-V";
	assert_null(xsd_scsi_lun_new(xsd_scsi_ram_new(4096), &o));
	o.vendor = NULL;
	assert_null(xsd_scsi_lun_new(xsd_scsi_ram_new(2048), &o)); /* < one block */
	o.size = 12;
	assert_null(xsd_scsi_lun_new(xsd_scsi_ram_new(8192), &o));
	o.size = sizeof(o);
	o.max_xfer_blocks = (1u << 30) / 4096 + 1; /* more than 1 GiB per command */
	assert_null(xsd_scsi_lun_new(xsd_scsi_ram_new(8192), &o));
	o.max_xfer_blocks = 0;
	struct xsd_scsi_lun *l = xsd_scsi_lun_new(xsd_scsi_ram_new(8192), &o);
	assert_non_null(l);
	assert_int_equal(xsd_scsi_lun_blocks(l), 2);
	assert_int_equal(xsd_scsi_lun_block_size(l), 4096);
	xsd_scsi_lun_free(l);
}

static void remove_lun_with_io_in_flight(void **state)
{
	struct scsi_rig *r = *state;
	static const uint8_t rd[16] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0 };
	static const uint8_t tur[16] = { 0 };
	uint8_t buf[8 * 512];
	struct iovec iov = { buf, sizeof(buf) };
	struct xsd_scsi_cmd c, t2;
	int done = 0;

	assert_int_equal(xsd_scsi_target_add_lun(r->t, 3, ram_lun(64, 512, "SN-3")), 0);
	rig_cmd(r, 3, tur, XSD_SCSI_DIR_NONE, NULL, 0, &t2);
	memset(&c, 0, sizeof(c));
	c.nexus = r->n;
	c.lun = xsd_scsi_lun_to_wire(3);
	memcpy(c.cdb, rd, 16);
	c.cdb_len = 16;
	c.dir = XSD_SCSI_DIR_IN;
	c.iov = &iov;
	c.iovcnt = 1;
	c.done = done_count;
	c.arg = &done;
	assert_int_equal(xsd_scsi_submit(r->t, &c), 0);
	assert_int_equal(xsd_scsi_target_inflight(r->t), 1);
	assert_int_equal(xsd_scsi_nexus_free(r->n), -EBUSY);
	assert_int_equal(xsd_scsi_target_remove_lun(r->t, 3), 0);
	while (!done)
		assert_true(xsd_scsi_target_wait(r->t, 1000) >= 0);
	assert_int_equal(c.status, 0);
	assert_int_equal(c.xfer_len, sizeof(buf));
	assert_int_equal(xsd_scsi_target_inflight(r->t), 0);
	rig_cmd(r, 3, tur, XSD_SCSI_DIR_NONE, NULL, 0, &t2);
	assert_sense(&t2, 0x05, 0x25, 0x00);
}

static void lun_masking(void **state)
{
	struct scsi_rig *r = *state;
	static const uint8_t tur[16] = { 0x00 };
	static const uint8_t rl[16] = { 0xa0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00, 0, 0 };
	static const uint8_t rd[16] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
	static const uint8_t want_b[16] = { 0, 0, 0, 8, 0, 0, 0, 0, 0x00, 0x07, 0, 0, 0, 0, 0, 0 };
	struct xsd_scsi_nexus *b = xsd_scsi_nexus_new(r->t, "host-b");
	const uint16_t only7[] = { 7, 7 }, too_big[] = { 16384 };
	uint8_t buf[512];
	struct xsd_scsi_cmd c;

	assert_non_null(b);
	/* host-b may see LUN 7 only (duplicates are fine) */
	assert_int_equal(xsd_scsi_nexus_set_luns(b, too_big, 1), -ERANGE);
	assert_int_equal(xsd_scsi_nexus_set_luns(b, only7, 2), 0);
	/* LUN 0 is gone for host-b, with no unit attention for it */
	rig_run(r, b, 0, rd, 16, XSD_SCSI_DIR_IN, buf, 512, &c);
	assert_sense(&c, 0x05, 0x25, 0x00);
	assert_int_equal(rig_run(r, b, 0, rl, 16, XSD_SCSI_DIR_IN, buf, 256, &c), 0);
	assert_int_equal(c.xfer_len, 8);
	assert_int_equal(buf[3], 0);
	/* LUN 7 appears: host-b sees it (POWER ON), host-a too (and 3F/0E on LUN 0) */
	assert_int_equal(xsd_scsi_target_add_lun(r->t, 7, ram_lun(8, 512, "SN7")), 0);
	rig_run(r, b, 7, tur, 16, XSD_SCSI_DIR_NONE, NULL, 0, &c);
	assert_sense(&c, 0x06, 0x29, 0x00);
	assert_int_equal(rig_run(r, b, 0, rl, 16, XSD_SCSI_DIR_IN, buf, 256, &c), 0);
	assert_int_equal(c.xfer_len, 16);
	assert_memory_equal(buf, want_b, 16);
	rig_cmd(r, 0, tur, XSD_SCSI_DIR_NONE, NULL, 0, &c);
	assert_sense(&c, 0x06, 0x3f, 0x0e);
	/* LUN 9 appears, masked for host-b: nothing changes for it */
	assert_int_equal(xsd_scsi_target_add_lun(r->t, 9, ram_lun(8, 512, "SN9")), 0);
	assert_int_equal(rig_run(r, b, 7, tur, 16, XSD_SCSI_DIR_NONE, NULL, 0, &c), 0);
	/* unmask: LUN 0 and 9 new to host-b, LUN 7 gets LUNS CHANGED */
	assert_int_equal(xsd_scsi_nexus_set_luns(b, NULL, 0), 0);
	rig_run(r, b, 7, tur, 16, XSD_SCSI_DIR_NONE, NULL, 0, &c);
	assert_sense(&c, 0x06, 0x3f, 0x0e);
	rig_run(r, b, 9, tur, 16, XSD_SCSI_DIR_NONE, NULL, 0, &c);
	assert_sense(&c, 0x06, 0x29, 0x00);
	rig_run(r, b, 0, tur, 16, XSD_SCSI_DIR_NONE, NULL, 0, &c);
	assert_sense(&c, 0x06, 0x29, 0x00);
	assert_int_equal(rig_run(r, b, 0, rl, 16, XSD_SCSI_DIR_IN, buf, 256, &c), 0);
	assert_int_equal(buf[3], 24);
	/* a LUN reset reaches only nexuses that see the LUN */
	assert_int_equal(xsd_scsi_nexus_set_luns(b, only7, 1), 0);
	assert_int_equal(xsd_scsi_target_lun_reset(r->t, 9), 0);
	assert_int_equal(xsd_scsi_nexus_set_luns(b, NULL, 0), 0);
	rig_run(r, b, 9, tur, 16, XSD_SCSI_DIR_NONE, NULL, 0, &c);
	assert_sense(&c, 0x06, 0x29, 0x00); /* newly visible, not 29/03 */
	assert_int_equal(rig_run(r, b, 9, tur, 16, XSD_SCSI_DIR_NONE, NULL, 0, &c), 0);
}

static void resize_lun(void **state)
{
	struct scsi_rig *r = *state;
	static const uint8_t tur[16] = { 0x00 };
	static const uint8_t rc10[16] = { 0x25 };
	uint8_t buf[8];
	struct xsd_scsi_cmd c;

	/* a RAM back end cannot change size: nothing happens */
	assert_int_equal(xsd_scsi_target_resize_lun(r->t, 0), 0);
	assert_int_equal(xsd_scsi_target_resize_lun(r->t, 44), -ENOENT);
	assert_int_equal(rig_cmd(r, 0, tur, XSD_SCSI_DIR_NONE, NULL, 0, &c), 0);
	assert_int_equal(rig_cmd(r, 0, rc10, XSD_SCSI_DIR_IN, buf, 8, &c), 0);
	assert_int_equal(buf[2], 0x0f);
}

static void lun_counters(void **state)
{
	struct scsi_rig *r = *state;
	static const uint8_t w[16] = { 0x2a, 0, 0, 0, 0, 0, 0, 0, 2, 0 };
	static const uint8_t rd[16] = { 0x88, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0 };
	static const uint8_t bad[16] = { 0x28, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 1, 0 };
	static const uint8_t sync[16] = { 0x35 };
	static const uint8_t tur[16] = { 0 };
	uint8_t buf[3 * BS] = { 0 };
	struct xsd_scsi_lun_stats st;
	struct xsd_scsi_cmd c;

	assert_int_equal(xsd_scsi_target_lun_stats(r->t, 0, &st), 0);
	/* the setup's two TEST UNIT READYs, the first a unit attention */
	assert_true(st.commands == 2 && st.check_conditions == 1 && st.unit_attentions == 1);
	rig_cmd(r, 0, w, XSD_SCSI_DIR_OUT, buf, 2 * BS, &c);
	rig_cmd(r, 0, rd, XSD_SCSI_DIR_IN, buf, 3 * BS, &c);
	rig_cmd(r, 0, bad, XSD_SCSI_DIR_IN, buf, BS, &c);
	rig_cmd(r, 0, sync, XSD_SCSI_DIR_NONE, NULL, 0, &c);
	rig_cmd(r, 0, tur, XSD_SCSI_DIR_NONE, NULL, 0, &c);
	assert_int_equal(xsd_scsi_target_lun_stats(r->t, 0, &st), 0);
	assert_int_equal(st.commands, 7);
	assert_int_equal(st.writes, 1);
	assert_int_equal(st.write_bytes, 2 * BS);
	assert_int_equal(st.reads, 1);
	assert_int_equal(st.read_bytes, 3 * BS);
	assert_int_equal(st.flushes, 1);
	assert_int_equal(st.check_conditions, 2);
	assert_int_equal(st.unit_attentions, 1);
	assert_int_equal(st.inflight, 0);
	assert_int_equal(xsd_scsi_target_lun_stats(r->t, 1, &st), -ENOENT);
}

struct reentry {
	struct xsd_scsi_target *t;
	struct xsd_scsi_cmd next;
	int stage;
	int next_done;
};

static void reentry_next_done(struct xsd_scsi_cmd *cmd)
{
	struct reentry *re = cmd->arg;

	re->next_done++;
}

/* From inside a done callback: submit again, remove the LUN, free the nexus. */
static void reentry_done(struct xsd_scsi_cmd *cmd)
{
	struct reentry *re = cmd->arg;
	struct xsd_scsi_nexus *n = cmd->nexus;

	re->stage++;
	memset(&re->next, 0, sizeof(re->next));
	re->next.nexus = n;
	re->next.cdb_len = 6; /* TEST UNIT READY, LUN 0 */
	re->next.done = reentry_next_done;
	re->next.arg = re;
	assert_int_equal(xsd_scsi_submit(re->t, &re->next), 0);
	assert_int_equal(xsd_scsi_target_remove_lun(re->t, 0), 0);
	assert_int_equal(xsd_scsi_nexus_free(n), -EBUSY); /* the TUR is in flight */
}

static void callbacks_may_reenter(void **state)
{
	struct scsi_rig *r = *state;
	uint8_t buf[BS];
	struct iovec iov = { buf, BS };
	struct xsd_scsi_cmd c;
	struct reentry re = { .t = r->t };

	memset(&c, 0, sizeof(c));
	c.nexus = r->n;
	c.cdb_len = 10;
	c.cdb[0] = 0x28;
	c.cdb[8] = 1;
	c.dir = XSD_SCSI_DIR_IN;
	c.iov = &iov;
	c.iovcnt = 1;
	c.done = reentry_done;
	c.arg = &re;
	assert_int_equal(xsd_scsi_submit(r->t, &c), 0);
	/* the READ completes, its callback queues the TUR: one more round */
	assert_int_equal(xsd_scsi_target_wait(r->t, 1000), 1);
	assert_int_equal(re.stage, 1);
	assert_int_equal(c.status, 0);
	assert_int_equal(re.next_done, 0);
	assert_int_equal(xsd_scsi_target_wait(r->t, 1000), 1);
	assert_int_equal(re.next_done, 1);
	/* emulated commands are answered at submit time: before the removal */
	assert_int_equal(re.next.status, 0);
	/* later ones find the LUN gone */
	static const uint8_t tur[16] = { 0 };
	rig_cmd(r, 0, tur, XSD_SCSI_DIR_NONE, NULL, 0, &c);
	assert_sense(&c, 0x05, 0x25, 0x00);
	assert_int_equal(xsd_scsi_nexus_free(r->n), 0);
	r->n = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(inquiry_standard, setup, teardown),
		cmocka_unit_test_setup_teardown(inquiry_allocation_length_cuts, setup, teardown),
		cmocka_unit_test_setup_teardown(inquiry_vpd_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(read_capacity, setup, teardown),
		cmocka_unit_test_setup_teardown(read_write_6_10_16, setup, teardown),
		cmocka_unit_test_setup_teardown(read_write_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(read_write_iovec, setup, teardown),
		cmocka_unit_test_setup_teardown(mode_sense_6_and_10, setup, teardown),
		cmocka_unit_test_setup_teardown(report_luns_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(start_stop_and_not_ready, setup, teardown),
		cmocka_unit_test_setup_teardown(unknown_opcodes, setup, teardown),
		cmocka_unit_test_setup_teardown(sync_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(unmap_ram, setup, teardown),
		cmocka_unit_test_setup_teardown(unit_attention_sequence, setup, teardown),
		cmocka_unit_test_setup_teardown(no_lun_answers, setup, teardown),
		cmocka_unit_test(lun_addressing),
		cmocka_unit_test_setup_teardown(submit_checks_the_call, setup, teardown),
		cmocka_unit_test_setup_teardown(read_only_lun, setup, teardown),
		cmocka_unit_test(bad_lun_options),
		cmocka_unit_test_setup_teardown(remove_lun_with_io_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(lun_masking, setup, teardown),
		cmocka_unit_test_setup_teardown(resize_lun, setup, teardown),
		cmocka_unit_test_setup_teardown(lun_counters, setup, teardown),
		cmocka_unit_test_setup_teardown(callbacks_may_reenter, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
