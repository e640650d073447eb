/* SPDX-License-Identifier: MIT */
/*
 * test_scsi_file.c - the io_uring file back end under the SCSI emulation:
 * random writes read back equal (through SCSI and straight from the file),
 * many commands in flight, UNMAP punching holes (zeros, fewer st_blocks),
 * O_DIRECT, a full queue answered TASK SET FULL, the pollable fd, a file
 * shrinking under the LUN giving MEDIUM ERROR, read-only files.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "scsi_test.h"

#define BS 512
#define SIZE (16u << 20)
#define BLOCKS (SIZE / BS)

struct file_rig {
	struct scsi_rig r;
	char dir[64];
	char path[96];
	char loopdev[64]; /* attached by a test, detached by teardown */
	uint8_t *shadow;
};

static uint32_t rng = 12345;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

static void fill_random(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

static struct xsd_scsi_bdev *open_file(const char *path, bool direct, bool ro, uint32_t depth)
{
	struct xsd_scsi_file_opts o = {
		.size = sizeof(o),
		.direct = direct,
		.read_only = ro,
		.create = !ro,
		.create_size = SIZE,
		.queue_depth = depth,
	};

	return xsd_scsi_file_open(path, &o);
}

static void add_file_lun(struct file_rig *f, uint16_t id, struct xsd_scsi_bdev *be)
{
	struct xsd_scsi_lun_opts lo = { .size = sizeof(lo), .serial = "FILE0" };
	struct xsd_scsi_cmd c;
	static const uint8_t tur[16] = { 0 };

	assert_non_null(be);
	assert_int_equal(xsd_scsi_target_add_lun(f->r.t, id, xsd_scsi_lun_new(be, &lo)), 0);
	rig_cmd(&f->r, id, tur, XSD_SCSI_DIR_NONE, NULL, 0, &c);
	assert_sense(&c, 0x06, 0x29, 0x00);
}

static int setup_depth(void **state, uint32_t depth)
{
	struct file_rig *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/xsd-scsi-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/lun0.img", f->dir);
	f->r.t = xsd_scsi_target_new();
	assert_non_null(f->r.t);
	f->r.n = xsd_scsi_nexus_new(f->r.t, "host-a");
	assert_non_null(f->r.n);
	add_file_lun(f, 0, open_file(f->path, false, false, depth));
	f->shadow = calloc(1, SIZE);
	assert_non_null(f->shadow);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_depth(state, 0);
}

static int setup_depth2(void **state)
{
	return setup_depth(state, 2);
}

static int teardown(void **state)
{
	struct file_rig *f = *state;
	char p[128];

	xsd_scsi_target_free(f->r.t);
	if (f->loopdev[0]) {
		snprintf(p, sizeof(p), "losetup -d %s", f->loopdev);
		if (system(p) != 0)
			print_message("could not detach %s\n", f->loopdev);
	}
	unlink(f->path);
	snprintf(p, sizeof(p), "%s/direct.img", f->dir);
	unlink(p);
	rmdir(f->dir);
	free(f->shadow);
	free(f);
	return 0;
}

static void cdb_rw16(uint8_t *cdb, uint8_t op, uint64_t lba, uint32_t n, bool fua)
{
	memset(cdb, 0, 16);
	cdb[0] = op;
	cdb[1] = fua ? 0x08 : 0;
	for (int i = 0; i < 8; i++)
		cdb[2 + i] = (uint8_t)(lba >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		cdb[10 + i] = (uint8_t)(n >> (24 - 8 * i));
}

static void random_writes_read_back(void **state)
{
	struct file_rig *f = *state;
	uint8_t *buf = malloc(128 * BS), cdb[16];
	struct xsd_scsi_cmd c;
	int fd;

	for (int i = 0; i < 300; i++) {
		uint32_t n = 1 + rnd() % 128;
		uint64_t lba = rnd() % (BLOCKS - n + 1);

		fill_random(buf, (size_t)n * BS);
		cdb_rw16(cdb, 0x8a, lba, n, i % 7 == 0);
		assert_int_equal(rig_cmd(&f->r, 0, cdb, XSD_SCSI_DIR_OUT, buf, (size_t)n * BS, &c),
				 0);
		assert_int_equal(c.xfer_len, n * BS);
		memcpy(f->shadow + lba * BS, buf, (size_t)n * BS);
	}
	/* read everything back through SCSI, 128 blocks at a time */
	for (uint64_t lba = 0; lba < BLOCKS; lba += 128) {
		cdb_rw16(cdb, 0x88, lba, 128, false);
		assert_int_equal(rig_cmd(&f->r, 0, cdb, XSD_SCSI_DIR_IN, buf, 128 * BS, &c), 0);
		assert_memory_equal(buf, f->shadow + lba * BS, 128 * BS);
	}
	/* and straight from the file */
	fd = open(f->path, O_RDONLY);
	assert_true(fd >= 0);
	for (uint64_t off = 0; off < SIZE; off += 128 * BS) {
		assert_int_equal(pread(fd, buf, 128 * BS, (off_t)off), 128 * BS);
		assert_memory_equal(buf, f->shadow + off, 128 * BS);
	}
	close(fd);
	free(buf);
}

static void count_done(struct xsd_scsi_cmd *cmd)
{
	*(int *)cmd->arg += 1;
}

static void many_in_flight(void **state)
{
	enum { N = 64, NB = 16 };
	struct file_rig *f = *state;
	struct xsd_scsi_cmd *c = calloc(N, sizeof(*c));
	struct iovec *iov = calloc(N, sizeof(*iov));
	uint8_t *w = malloc(N * NB * BS), *r = calloc(1, N * NB * BS);
	int done = 0;

	fill_random(w, N * NB * BS);
	for (int pass = 0; pass < 2; pass++) {
		done = 0;
		for (int i = 0; i < N; i++) {
			c[i] = (struct xsd_scsi_cmd){ 0 };
			c[i].nexus = f->r.n;
			/* interleave: command i covers blocks [1000 + i*NB, +NB) */
			cdb_rw16(c[i].cdb, pass ? 0x88 : 0x8a, 1000 + (uint64_t)i * NB, NB, false);
			c[i].cdb_len = 16;
			c[i].dir = pass ? XSD_SCSI_DIR_IN : XSD_SCSI_DIR_OUT;
			iov[i].iov_base = (pass ? r : w) + (size_t)i * NB * BS;
			iov[i].iov_len = NB * BS;
			c[i].iov = &iov[i];
			c[i].iovcnt = 1;
			c[i].done = count_done;
			c[i].arg = &done;
			assert_int_equal(xsd_scsi_submit(f->r.t, &c[i]), 0);
		}
		assert_int_equal(xsd_scsi_target_inflight(f->r.t), N);
		for (int spins = 0; done < N && spins < 1000; spins++)
			assert_true(xsd_scsi_target_wait(f->r.t, 100) >= 0);
		assert_int_equal(done, N);
		for (int i = 0; i < N; i++) {
			assert_int_equal(c[i].status, 0);
			assert_int_equal(c[i].xfer_len, NB * BS);
		}
	}
	assert_memory_equal(r, w, N * NB * BS);
	free(c);
	free(iov);
	free(w);
	free(r);
}

static uint64_t file_blocks(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (uint64_t)st.st_blocks;
}

static void unmap_punches_holes(void **state)
{
	struct file_rig *f = *state;
	const uint32_t n = 8192; /* 4 MiB written */
	uint8_t *buf = malloc((size_t)n * BS), cdb[16], list[24];
	static const uint8_t sync16[16] = { 0x91 };
	static const uint8_t rc16[16] = { 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32 };
	static const uint8_t b2[16] = { 0x12, 1, 0xb2, 0, 8, 0 };
	struct xsd_scsi_cmd c;
	uint64_t before, after;
	uint8_t cap[32];
	int fd;

	/* the file system punches holes, so the LUN offers provisioning */
	assert_int_equal(rig_cmd(&f->r, 0, rc16, XSD_SCSI_DIR_IN, cap, 32, &c), 0);
	assert_int_equal(cap[14], 0xc0);
	assert_int_equal(rig_cmd(&f->r, 0, b2, XSD_SCSI_DIR_IN, cap, 8, &c), 0);
	assert_int_equal(cap[5], 0x84);

	fill_random(buf, (size_t)n * BS);
	for (uint32_t lba = 0; lba < n; lba += 2048) {
		cdb_rw16(cdb, 0x8a, lba, 2048, false);
		assert_int_equal(rig_cmd(&f->r, 0, cdb, XSD_SCSI_DIR_OUT, buf + (size_t)lba * BS,
					 2048 * BS, &c), 0);
	}
	assert_int_equal(rig_cmd(&f->r, 0, sync16, XSD_SCSI_DIR_NONE, NULL, 0, &c), 0);
	before = file_blocks(f->path);
	assert_true(before >= n);

	/* UNMAP 1 MiB: LBA 2048, 2048 blocks */
	memset(list, 0, sizeof(list));
	list[1] = 22;
	list[3] = 16;
	list[14] = 0x08; /* LBA 0x800 */
	list[18] = 0x08; /* 0x800 blocks */
	memset(cdb, 0, 16);
	cdb[0] = 0x42;
	cdb[8] = 24;
	assert_int_equal(rig_cmd(&f->r, 0, cdb, XSD_SCSI_DIR_OUT, list, 24, &c), 0);
	after = file_blocks(f->path);
	assert_true(after + 2048 <= before);

	/* zeros where the hole is, data around it */
	memset(buf + 2048 * BS, 0, 2048 * BS);
	uint8_t *rd = malloc((size_t)n * BS);
	for (uint32_t lba = 0; lba < n; lba += 2048) {
		cdb_rw16(cdb, 0x88, lba, 2048, false);
		assert_int_equal(rig_cmd(&f->r, 0, cdb, XSD_SCSI_DIR_IN, rd + (size_t)lba * BS,
					 2048 * BS, &c), 0);
	}
	assert_memory_equal(rd, buf, (size_t)n * BS);
	fd = open(f->path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, rd, (size_t)n * BS, 0), (ssize_t)n * BS);
	assert_memory_equal(rd, buf, (size_t)n * BS);
	close(fd);
	free(rd);
	free(buf);
}

static void direct_io(void **state)
{
	struct file_rig *f = *state;
	char p[128];
	uint8_t *w = NULL, *r = NULL, cdb[16];
	struct xsd_scsi_cmd c;

	snprintf(p, sizeof(p), "%s/direct.img", f->dir);
	add_file_lun(f, 1, open_file(p, true, false, 0));
	assert_int_equal(posix_memalign((void **)&w, 4096, 64 * 1024), 0);
	assert_int_equal(posix_memalign((void **)&r, 4096, 64 * 1024), 0);
	fill_random(w, 64 * 1024);
	memset(r, 0, 64 * 1024);
	cdb_rw16(cdb, 0x8a, 4096, 128, true);
	assert_int_equal(rig_cmd(&f->r, 1, cdb, XSD_SCSI_DIR_OUT, w, 64 * 1024, &c), 0);
	cdb_rw16(cdb, 0x88, 4096, 128, false);
	assert_int_equal(rig_cmd(&f->r, 1, cdb, XSD_SCSI_DIR_IN, r, 64 * 1024, &c), 0);
	assert_memory_equal(r, w, 64 * 1024);
	free(w);
	free(r);
}

static void queue_full_is_task_set_full(void **state)
{
	struct file_rig *f = *state;
	struct xsd_scsi_cmd c[3];
	struct iovec iov[3];
	uint8_t buf[3][BS];
	int done = 0;

	for (int i = 0; i < 3; i++) {
		c[i] = (struct xsd_scsi_cmd){ 0 };
		c[i].nexus = f->r.n;
		cdb_rw16(c[i].cdb, 0x88, (uint64_t)i, 1, false);
		c[i].cdb_len = 16;
		c[i].dir = XSD_SCSI_DIR_IN;
		iov[i] = (struct iovec){ buf[i], BS };
		c[i].iov = &iov[i];
		c[i].iovcnt = 1;
		c[i].done = count_done;
		c[i].arg = &done;
		assert_int_equal(xsd_scsi_submit(f->r.t, &c[i]), 0);
	}
	while (done < 3)
		assert_true(xsd_scsi_target_wait(f->r.t, 1000) >= 0);
	assert_int_equal(c[0].status, XSD_SCSI_GOOD);
	assert_int_equal(c[1].status, XSD_SCSI_GOOD);
	assert_int_equal(c[2].status, XSD_SCSI_TASK_SET_FULL);
	assert_int_equal(c[2].sense_len, 0);
	struct xsd_scsi_lun_stats st;
	assert_int_equal(xsd_scsi_target_lun_stats(f->r.t, 0, &st), 0);
	assert_int_equal(st.busy, 1);
	assert_int_equal(st.reads, 2);
	assert_int_equal(st.read_bytes, 2 * BS);
}

static void target_fd_is_pollable(void **state)
{
	struct file_rig *f = *state;
	struct pollfd pfd = { .fd = xsd_scsi_target_fd(f->r.t), .events = POLLIN };
	uint8_t buf[BS];
	struct iovec iov = { buf, BS };
	struct xsd_scsi_cmd c = { 0 };
	int done = 0;

	assert_int_equal(poll(&pfd, 1, 0), 0); /* idle: not readable */
	c.nexus = f->r.n;
	cdb_rw16(c.cdb, 0x88, 7, 1, false);
	c.cdb_len = 16;
	c.dir = XSD_SCSI_DIR_IN;
	c.iov = &iov;
	c.iovcnt = 1;
	c.done = count_done;
	c.arg = &done;
	assert_int_equal(xsd_scsi_submit(f->r.t, &c), 0);
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	assert_true(pfd.revents & POLLIN);
	assert_int_equal(xsd_scsi_target_process(f->r.t), 1);
	assert_int_equal(done, 1);
	assert_int_equal(c.status, 0);
	pfd.revents = 0;
	assert_int_equal(poll(&pfd, 1, 0), 0); /* drained */
}

static void file_shrunk_under_lun(void **state)
{
	struct file_rig *f = *state;
	uint8_t buf[2 * BS], cdb[16];
	struct xsd_scsi_cmd c;

	assert_int_equal(truncate(f->path, SIZE / 2), 0);
	/* wholly past the new end: the read returns 0 bytes */
	cdb_rw16(cdb, 0x88, BLOCKS / 2 + 10, 1, false);
	rig_cmd(&f->r, 0, cdb, XSD_SCSI_DIR_IN, buf, BS, &c);
	assert_sense(&c, 0x03, 0x11, 0x00);
	/* straddling it: one short read, the rest returns 0 bytes */
	cdb_rw16(cdb, 0x88, BLOCKS / 2 - 1, 2, false);
	rig_cmd(&f->r, 0, cdb, XSD_SCSI_DIR_IN, buf, 2 * BS, &c);
	assert_sense(&c, 0x03, 0x11, 0x00);
	/* before it: fine */
	cdb_rw16(cdb, 0x88, BLOCKS / 2 - 2, 2, false);
	assert_int_equal(rig_cmd(&f->r, 0, cdb, XSD_SCSI_DIR_IN, buf, 2 * BS, &c), 0);
}

static void read_only_file(void **state)
{
	struct file_rig *f = *state;
	uint8_t buf[BS] = { 0 }, cdb[16];
	static const uint8_t b0[16] = { 0x12, 1, 0xb0, 0, 64, 0 };
	uint8_t vpd[64];
	struct xsd_scsi_cmd c;

	add_file_lun(f, 2, open_file(f->path, false, true, 0));
	cdb_rw16(cdb, 0x8a, 0, 1, false);
	rig_cmd(&f->r, 2, cdb, XSD_SCSI_DIR_OUT, buf, BS, &c);
	assert_sense(&c, 0x07, 0x27, 0x00);
	assert_int_equal(rig_cmd(&f->r, 2, b0, XSD_SCSI_DIR_IN, vpd, 64, &c), 0);
	for (int i = 20; i < 32; i++)
		assert_int_equal(vpd[i], 0); /* no UNMAP limits */
	cdb_rw16(cdb, 0x88, 0, 1, false);
	assert_int_equal(rig_cmd(&f->r, 2, cdb, XSD_SCSI_DIR_IN, buf, BS, &c), 0);
}

static void open_errors(void **state)
{
	struct file_rig *f = *state;
	char p[128];
	struct xsd_scsi_file_opts o = { .size = sizeof(o) };

	snprintf(p, sizeof(p), "%s/missing.img", f->dir);
	errno = 0;
	assert_null(xsd_scsi_file_open(p, &o));
	assert_int_equal(errno, ENOENT);
	errno = 0;
	assert_null(xsd_scsi_file_open(f->dir, &o)); /* a directory */
	assert_true(errno == EINVAL || errno == EISDIR);
	o.size = 8;
	errno = 0;
	assert_null(xsd_scsi_file_open(f->path, &o));
	assert_int_equal(errno, EINVAL);
	/* an empty file is no disk */
	o.size = sizeof(o);
	o.create = true;
	snprintf(p, sizeof(p), "%s/direct.img", f->dir);
	errno = 0;
	assert_null(xsd_scsi_file_open(p, &o));
	assert_int_equal(errno, EINVAL);
}

static void grow_file_and_resize(void **state)
{
	struct file_rig *f = *state;
	static const uint8_t tur[16] = { 0 };
	static const uint8_t rc16[16] = { 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32 };
	uint8_t cap[32], cdb[16], buf[BS];
	struct xsd_scsi_cmd c;

	assert_int_equal(truncate(f->path, 2 * SIZE), 0);
	/* the old capacity holds until the LUN is told */
	cdb_rw16(cdb, 0x88, BLOCKS, 1, false);
	rig_cmd(&f->r, 0, cdb, XSD_SCSI_DIR_IN, buf, BS, &c);
	assert_sense(&c, 0x05, 0x21, 0x00);
	assert_int_equal(xsd_scsi_target_resize_lun(f->r.t, 0), 1);
	assert_int_equal(xsd_scsi_target_resize_lun(f->r.t, 0), 0);
	rig_cmd(&f->r, 0, tur, XSD_SCSI_DIR_NONE, NULL, 0, &c);
	assert_sense(&c, 0x06, 0x2a, 0x09);
	assert_int_equal(rig_cmd(&f->r, 0, rc16, XSD_SCSI_DIR_IN, cap, 32, &c), 0);
	assert_int_equal(cap[4], 0);
	assert_int_equal(cap[5], ((2 * BLOCKS - 1) >> 16) & 0xff);
	assert_int_equal(cap[6], ((2 * BLOCKS - 1) >> 8) & 0xff);
	assert_int_equal(cap[7], (2 * BLOCKS - 1) & 0xff);
	/* the new blocks are usable */
	assert_int_equal(rig_cmd(&f->r, 0, cdb, XSD_SCSI_DIR_IN, buf, BS, &c), 0);
	/* shrink back: the blocks past the end are out of range again */
	assert_int_equal(truncate(f->path, SIZE), 0);
	assert_int_equal(xsd_scsi_target_resize_lun(f->r.t, 0), 1);
	rig_cmd(&f->r, 0, tur, XSD_SCSI_DIR_NONE, NULL, 0, &c);
	assert_sense(&c, 0x06, 0x2a, 0x09);
	rig_cmd(&f->r, 0, cdb, XSD_SCSI_DIR_IN, buf, BS, &c);
	assert_sense(&c, 0x05, 0x21, 0x00);
	/* shrinking below one block is refused, the capacity stays */
	assert_int_equal(truncate(f->path, 100), 0);
	assert_int_equal(xsd_scsi_target_resize_lun(f->r.t, 0), -EINVAL);
}

static void plugged_batch(void **state)
{
	enum { N = 16 };
	struct file_rig *f = *state;
	struct pollfd pfd = { .fd = xsd_scsi_target_fd(f->r.t), .events = POLLIN };
	struct xsd_scsi_cmd c[N];
	struct iovec iov[N];
	uint8_t *buf = malloc(N * 8 * BS);
	int done = 0;

	xsd_scsi_target_plug(f->r.t);
	for (int i = 0; i < N; i++) {
		c[i] = (struct xsd_scsi_cmd){ 0 };
		c[i].nexus = f->r.n;
		cdb_rw16(c[i].cdb, 0x88, (uint64_t)i * 8, 8, false);
		c[i].cdb_len = 16;
		c[i].dir = XSD_SCSI_DIR_IN;
		iov[i] = (struct iovec){ buf + (size_t)i * 8 * BS, 8 * BS };
		c[i].iov = &iov[i];
		c[i].iovcnt = 1;
		c[i].done = count_done;
		c[i].arg = &done;
		assert_int_equal(xsd_scsi_submit(f->r.t, &c[i]), 0);
	}
	/* queued, not started: nothing can complete */
	assert_int_equal(poll(&pfd, 1, 100), 0);
	assert_int_equal(xsd_scsi_target_inflight(f->r.t), N);
	xsd_scsi_target_unplug(f->r.t);
	for (int spins = 0; done < N && spins < 100; spins++)
		assert_true(xsd_scsi_target_wait(f->r.t, 100) >= 0);
	assert_int_equal(done, N);
	for (int i = 0; i < N; i++)
		assert_int_equal(c[i].status, 0);
	/* plugged again and never unplugged: process() still starts the I/O */
	xsd_scsi_target_plug(f->r.t);
	done = 0;
	c[0] = (struct xsd_scsi_cmd){ 0 };
	c[0].nexus = f->r.n;
	cdb_rw16(c[0].cdb, 0x88, 0, 8, false);
	c[0].cdb_len = 16;
	c[0].dir = XSD_SCSI_DIR_IN;
	c[0].iov = &iov[0];
	c[0].iovcnt = 1;
	c[0].done = count_done;
	c[0].arg = &done;
	assert_int_equal(xsd_scsi_submit(f->r.t, &c[0]), 0);
	/* starts it (a cached read may even complete within this call) */
	assert_true(xsd_scsi_target_process(f->r.t) >= 0);
	for (int spins = 0; !done && spins < 100; spins++)
		assert_true(xsd_scsi_target_wait(f->r.t, 100) >= 0);
	assert_int_equal(done, 1);
	xsd_scsi_target_unplug(f->r.t);
	free(buf);
}

/*
 * The block device path (BLKGETSIZE64, fallocate on a bdev) on a loop device
 * over a file in the test directory. Needs root for losetup; skipped (and
 * said so) otherwise.
 */
static void block_device_via_loop(void **state)
{
	struct file_rig *f = *state;
	char img[128], cmd[256], dev[64] = "";
	uint8_t *w = malloc(256 * BS), *r = malloc(256 * BS), cdb[16], list[24];
	struct xsd_scsi_cmd c;
	FILE *p;
	uint64_t before, after;

	if (geteuid() != 0) {
		print_message("block_device_via_loop: not root, losetup unavailable: skipped\n");
		free(w);
		free(r);
		skip();
	}
	snprintf(img, sizeof(img), "%s/direct.img", f->dir); /* removed by teardown */
	assert_int_equal(truncate(img, 0) == 0 || errno == ENOENT, 1);
	{
		int fd = open(img, O_CREAT | O_RDWR, 0600);

		assert_true(fd >= 0);
		assert_int_equal(ftruncate(fd, 8 << 20), 0);
		close(fd);
	}
	snprintf(cmd, sizeof(cmd), "losetup --find --show %s 2>/dev/null", img);
	p = popen(cmd, "r");
	assert_non_null(p);
	if (!fgets(dev, sizeof(dev), p))
		dev[0] = '\0';
	pclose(p);
	dev[strcspn(dev, "\n")] = '\0';
	assert_true(strncmp(dev, "/dev/loop", 9) == 0);
	snprintf(f->loopdev, sizeof(f->loopdev), "%s", dev);

	add_file_lun(f, 3, open_file(dev, false, false, 0));
	fill_random(w, 256 * BS);
	cdb_rw16(cdb, 0x8a, 1024, 256, true);
	assert_int_equal(rig_cmd(&f->r, 3, cdb, XSD_SCSI_DIR_OUT, w, 256 * BS, &c), 0);
	cdb_rw16(cdb, 0x88, 1024, 256, false);
	assert_int_equal(rig_cmd(&f->r, 3, cdb, XSD_SCSI_DIR_IN, r, 256 * BS, &c), 0);
	assert_memory_equal(r, w, 256 * BS);
	static const uint8_t sync10[16] = { 0x35 };
	assert_int_equal(rig_cmd(&f->r, 3, sync10, XSD_SCSI_DIR_NONE, NULL, 0, &c), 0);
	/* capacity: 8 MiB */
	static const uint8_t rc10[16] = { 0x25 };
	uint8_t cap[8];
	assert_int_equal(rig_cmd(&f->r, 3, rc10, XSD_SCSI_DIR_IN, cap, 8, &c), 0);
	assert_int_equal(cap[2] << 8 | cap[3], (8 << 20) / BS - 1);
	before = file_blocks(img);
	/* UNMAP the 256 blocks: zeros through the device, blocks freed below it */
	memset(list, 0, sizeof(list));
	list[1] = 22;
	list[3] = 16;
	list[14] = 0x04; /* LBA 1024 */
	list[18] = 0x01; /* 256 blocks */
	memset(cdb, 0, 16);
	cdb[0] = 0x42;
	cdb[8] = 24;
	assert_int_equal(rig_cmd(&f->r, 3, cdb, XSD_SCSI_DIR_OUT, list, 24, &c), 0);
	cdb_rw16(cdb, 0x88, 1024, 256, false);
	assert_int_equal(rig_cmd(&f->r, 3, cdb, XSD_SCSI_DIR_IN, r, 256 * BS, &c), 0);
	memset(w, 0, 256 * BS);
	assert_memory_equal(r, w, 256 * BS);
	after = file_blocks(img);
	print_message("loop device %s: backing file %llu -> %llu sectors after UNMAP\n", dev,
		      (unsigned long long)before, (unsigned long long)after);
	assert_true(after < before);
	assert_int_equal(xsd_scsi_target_remove_lun(f->r.t, 3), 0);
	free(w);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(random_writes_read_back, setup, teardown),
		cmocka_unit_test_setup_teardown(many_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(unmap_punches_holes, setup, teardown),
		cmocka_unit_test_setup_teardown(direct_io, setup, teardown),
		cmocka_unit_test_setup_teardown(queue_full_is_task_set_full, setup_depth2, teardown),
		cmocka_unit_test_setup_teardown(target_fd_is_pollable, setup, teardown),
		cmocka_unit_test_setup_teardown(file_shrunk_under_lun, setup, teardown),
		cmocka_unit_test_setup_teardown(read_only_file, setup, teardown),
		cmocka_unit_test_setup_teardown(open_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(grow_file_and_resize, setup, teardown),
		cmocka_unit_test_setup_teardown(block_device_via_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(plugged_batch, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
