/* SPDX-License-Identifier: MIT */
/*
 * The NBD transmission server (xsvhba/nbd.c) over a socketpair: this test
 * plays the kernel's nbd on one end and checks the exact reply bytes; the
 * LUN behind the server is a fake back end (1 MiB of memory, 512-byte
 * blocks) that either ends requests at once or holds them until the test
 * ends them, in any order.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <xscore/common.h>
#include <xscore/log.h>

#include "xsvhba/nbd.h"

#define LUN_BYTES (1u << 20)
#define BLOCK 512u
#define F (XSVHBA_NBD_FLAG_HAS_FLAGS | XSVHBA_NBD_FLAG_SEND_FLUSH)

/* ------------------------------------------------------ fake back end */

struct held_io {
	enum xsvhba_nbd_cmd cmd;
	void *buf;
	uint64_t off;
	size_t len;
	xsvhba_io_cb cb;
	void *arg;
};

static uint8_t lun_mem[LUN_BYTES];
static pthread_mutex_t be_lock = PTHREAD_MUTEX_INITIALIZER;
static bool hold;
static int fail_with;              /* end every request with this error */
static struct held_io held[16];
static int n_held;
static int n_calls;

static void run_io(struct held_io *h)
{
	if (fail_with) {
		h->cb(h->arg, fail_with);
		return;
	}
	if (h->cmd == XSVHBA_NBD_CMD_TRIM)
		memset(lun_mem + h->off, 0, h->len);
	else if (h->cmd == XSVHBA_NBD_CMD_READ)
		memcpy(h->buf, lun_mem + h->off, h->len);
	else if (h->cmd == XSVHBA_NBD_CMD_WRITE)
		memcpy(lun_mem + h->off, h->buf, h->len);
	h->cb(h->arg, 0);
}

static int fake_io(void *ctx, enum xsvhba_nbd_cmd cmd, void *buf, uint64_t off, size_t len,
		   xsvhba_io_cb cb, void *arg)
{
	struct held_io h = { cmd, buf, off, len, cb, arg };

	(void)ctx;
	/* the server's checks come first: the back end never sees I/O
	 * outside the LUN */
	if (cmd != XSVHBA_NBD_CMD_FLUSH)
		assert_true(off + len <= LUN_BYTES);
	pthread_mutex_lock(&be_lock);
	n_calls++;
	if (hold) {
		assert_true(n_held < 16);
		held[n_held++] = h;
		pthread_mutex_unlock(&be_lock);
		return 0;
	}
	pthread_mutex_unlock(&be_lock);
	run_io(&h);
	return 0;
}

static const struct xsvhba_nbd_backend fake_ops = { .io = fake_io };

static int wait_held(int n)
{
	for (int i = 0; i < 500; i++) {
		pthread_mutex_lock(&be_lock);
		int k = n_held;
		pthread_mutex_unlock(&be_lock);
		if (k >= n)
			return k;
		usleep(2000);
	}
	return -1;
}

/* ------------------------------------------------------------ harness */

static int kfd;                 /* the "kernel's" end */
static struct xsvhba_nbd *srv;

static bool offer_trim;

static int setup(void **state)
{
	struct xsvhba_nbd_opts o = { .size = sizeof(o), .size_bytes = LUN_BYTES,
				     .block_size = BLOCK, .max_len = 1u << 20,
				     .trim = offer_trim };
	int sv[2];

	(void)state;
	for (unsigned int i = 0; i < LUN_BYTES; i++)
		lun_mem[i] = (uint8_t)(i * 7 + (i >> 9));
	hold = false;
	fail_with = 0;
	n_held = 0;
	n_calls = 0;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	kfd = sv[1];
	srv = xsvhba_nbd_serve(sv[0], &o, &fake_ops, NULL);
	assert_non_null(srv);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	xsvhba_nbd_free(srv);
	close(kfd);
	return 0;
}

static void send_req(uint32_t magic, uint16_t flags, uint16_t type, uint64_t handle,
		     uint64_t off, uint32_t len, const void *data)
{
	uint8_t b[XSVHBA_NBD_REQ_LEN];

	xs_put32(b, magic);
	xs_put16(b + 4, flags);
	xs_put16(b + 6, type);
	xs_put64(b + 8, handle);
	xs_put64(b + 16, off);
	xs_put32(b + 24, len);
	assert_int_equal(write(kfd, b, sizeof(b)), (ssize_t)sizeof(b));
	if (data && len)
		assert_int_equal(write(kfd, data, len), (ssize_t)len);
}

/* read exactly len bytes from the kernel's end (5 s at most) */
static void recv_exact(void *p, size_t len)
{
	uint8_t *b = p;

	while (len) {
		struct pollfd pf = { .fd = kfd, .events = POLLIN };
		ssize_t k;

		assert_int_equal(poll(&pf, 1, 5000), 1);
		k = read(kfd, b, len);
		assert_true(k > 0);
		b += k;
		len -= (size_t)k;
	}
}

/* the 16 reply bytes as the protocol lays them out */
static void expect_reply(uint32_t err, uint64_t handle)
{
	uint8_t want[16] = { 0x67, 0x44, 0x66, 0x98 }, got[16];

	xs_put32(want + 4, err);
	xs_put64(want + 8, handle);
	recv_exact(got, sizeof(got));
	assert_memory_equal(got, want, sizeof(want));
}

/* nothing more is waiting on the kernel's end */
static void expect_quiet(void)
{
	struct pollfd pf = { .fd = kfd, .events = POLLIN };

	assert_int_equal(poll(&pf, 1, 50), 0);
}

/* -------------------------------------------------------------- tests */

static void test_decode(void **state)
{
	uint8_t b[XSVHBA_NBD_REQ_LEN] = {
		0x25, 0x60, 0x95, 0x13, 0x00, 0x01, 0x00, 0x03,
		1, 2, 3, 4, 5, 6, 7, 8,
		0, 0, 0, 0, 0, 0x10, 0, 0,
		0, 0, 0x20, 0,
	};
	struct xsvhba_nbd_req r;
	uint8_t out[16];

	(void)state;
	assert_int_equal(xsvhba_nbd_decode_req(b, sizeof(b), &r), 0);
	assert_int_equal(r.flags, 1);
	assert_int_equal(r.type, XSVHBA_NBD_CMD_FLUSH);
	assert_true(r.handle == UINT64_C(0x0102030405060708));
	assert_true(r.offset == 0x100000);
	assert_int_equal(r.length, 0x2000);
	assert_int_equal(xsvhba_nbd_decode_req(b, 27, &r), -EINVAL);
	b[0] = 0x26;
	assert_int_equal(xsvhba_nbd_decode_req(b, sizeof(b), &r), -EPROTO);

	r.type = XSVHBA_NBD_CMD_READ;
	r.offset = LUN_BYTES - 1024;
	r.length = 1024;
	assert_int_equal(xsvhba_nbd_check_req(&r, LUN_BYTES, BLOCK, 1u << 20, F), 0);
	r.length = 1536;  /* one block past the end */
	assert_int_equal(xsvhba_nbd_check_req(&r, LUN_BYTES, BLOCK, 1u << 20, F), 22);
	r.offset = UINT64_MAX - 511;  /* offset + length wraps */
	r.length = 1024;
	assert_int_equal(xsvhba_nbd_check_req(&r, LUN_BYTES, BLOCK, 1u << 20, F), 22);
	r.offset = 512;
	r.length = 100;   /* not a block multiple */
	assert_int_equal(xsvhba_nbd_check_req(&r, LUN_BYTES, BLOCK, 1u << 20, F), 22);
	r.length = 0;
	assert_int_equal(xsvhba_nbd_check_req(&r, LUN_BYTES, BLOCK, 1u << 20, F), 22);
	r.length = 4096;
	assert_int_equal(xsvhba_nbd_check_req(&r, LUN_BYTES, BLOCK, 2048, F), 22);
	r.type = XSVHBA_NBD_CMD_WRITE;
	assert_int_equal(xsvhba_nbd_check_req(&r, LUN_BYTES, BLOCK, 1u << 20, F | XSVHBA_NBD_FLAG_READ_ONLY), 1);
	r.type = XSVHBA_NBD_CMD_TRIM;   /* not offered */
	assert_int_equal(xsvhba_nbd_check_req(&r, LUN_BYTES, BLOCK, 1u << 20, F), 22);
	/* offered: no max_len limit, the end of the export still holds */
	r.offset = 0;
	r.length = LUN_BYTES;
	assert_int_equal(xsvhba_nbd_check_req(&r, LUN_BYTES, BLOCK, 4096,
					      F | XSVHBA_NBD_FLAG_SEND_TRIM), 0);
	r.offset = 512;
	assert_int_equal(xsvhba_nbd_check_req(&r, LUN_BYTES, BLOCK, 4096,
					      F | XSVHBA_NBD_FLAG_SEND_TRIM), 22);
	assert_int_equal(xsvhba_nbd_check_req(&r, LUN_BYTES, BLOCK, 4096,
					      XSVHBA_NBD_FLAG_SEND_TRIM | XSVHBA_NBD_FLAG_READ_ONLY), 1);
	r.type = XSVHBA_NBD_CMD_FLUSH;  /* not offered */
	assert_int_equal(xsvhba_nbd_check_req(&r, LUN_BYTES, BLOCK, 4096, XSVHBA_NBD_FLAG_HAS_FLAGS), 22);

	xsvhba_nbd_encode_reply(out, 5, UINT64_C(0xa1a2a3a4a5a6a7a8));
	assert_memory_equal(out, ((uint8_t[16]){ 0x67, 0x44, 0x66, 0x98, 0, 0, 0, 5, 0xa1, 0xa2,
					  0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8 }), 16);
	assert_int_equal(xsvhba_nbd_errno(-EIO), 5);
	assert_int_equal(xsvhba_nbd_errno(-ENXIO), 22);
	assert_int_equal(xsvhba_nbd_errno(-ESHUTDOWN), 108);
	assert_int_equal(xsvhba_nbd_errno(-ETIMEDOUT), 5);
}

static void test_read(void **state)
{
	uint8_t data[4096];

	(void)state;
	send_req(0x25609513, 0, XSVHBA_NBD_CMD_READ, UINT64_C(0x1122334455667788), 8192, 4096,
		 NULL);
	expect_reply(0, UINT64_C(0x1122334455667788));
	recv_exact(data, sizeof(data));
	assert_memory_equal(data, lun_mem + 8192, sizeof(data));
	expect_quiet();
}

static void test_write(void **state)
{
	uint8_t pat[8192], back[8192];

	(void)state;
	for (unsigned int i = 0; i < sizeof(pat); i++)
		pat[i] = (uint8_t)(0xa5 ^ i);
	send_req(0x25609513, 0, XSVHBA_NBD_CMD_WRITE, 42, LUN_BYTES - 8192, 8192, pat);
	expect_reply(0, 42);
	expect_quiet();   /* a write's reply has no data */
	assert_memory_equal(lun_mem + LUN_BYTES - 8192, pat, sizeof(pat));
	/* and it reads back through the server */
	send_req(0x25609513, 0, XSVHBA_NBD_CMD_READ, 43, LUN_BYTES - 8192, 8192, NULL);
	expect_reply(0, 43);
	recv_exact(back, sizeof(back));
	assert_memory_equal(back, pat, sizeof(pat));
	/* FLUSH reaches the back end and is answered */
	send_req(0x25609513, 0, XSVHBA_NBD_CMD_FLUSH, 44, 0, 0, NULL);
	expect_reply(0, 44);
	assert_int_equal(n_calls, 3);
}

static void test_out_of_range(void **state)
{
	static uint8_t junk[4096];
	uint8_t before[512], data[512];
	struct xsvhba_nbd_stats st;

	(void)state;
	memcpy(before, lun_mem + LUN_BYTES - 512, sizeof(before));
	/* a read one block past the end: EINVAL, no data */
	send_req(0x25609513, 0, XSVHBA_NBD_CMD_READ, 7, LUN_BYTES - 512, 1024, NULL);
	expect_reply(22, 7);
	expect_quiet();
	/* a write past the end: its data is read and dropped, EINVAL, the
	 * stream stays in step */
	memset(junk, 0xee, sizeof(junk));
	send_req(0x25609513, 0, XSVHBA_NBD_CMD_WRITE, 8, LUN_BYTES - 512, 4096, junk);
	expect_reply(22, 8);
	/* offset + length wrapping around 2^64 */
	send_req(0x25609513, 0, XSVHBA_NBD_CMD_READ, 9, UINT64_MAX - 511, 1024, NULL);
	expect_reply(22, 9);
	/* not block aligned */
	send_req(0x25609513, 0, XSVHBA_NBD_CMD_READ, 10, 100, 512, NULL);
	expect_reply(22, 10);
	/* the connection still serves */
	send_req(0x25609513, 0, XSVHBA_NBD_CMD_READ, 11, LUN_BYTES - 512, 512, NULL);
	expect_reply(0, 11);
	recv_exact(data, sizeof(data));
	assert_memory_equal(data, before, sizeof(data));
	assert_int_equal(n_calls, 1);  /* only the good read reached the back end */
	xsvhba_nbd_get_stats(srv, &st);
	assert_int_equal(st.rejected, 4);
	assert_int_equal(st.errors, 4);
	assert_false(st.closed);
}

static void test_unknown_command(void **state)
{
	(void)state;
	send_req(0x25609513, 0, 9, UINT64_C(0xdeadbeef00000001), 0, 512, NULL);
	expect_reply(22, UINT64_C(0xdeadbeef00000001));
	send_req(0x25609513, 0, XSVHBA_NBD_CMD_TRIM, 2, 0, 4096, NULL);
	expect_reply(22, 2);
	expect_quiet();
	assert_int_equal(n_calls, 0);
}

static void test_backend_error(void **state)
{
	(void)state;
	fail_with = -EIO;
	send_req(0x25609513, 0, XSVHBA_NBD_CMD_READ, 77, 0, 4096, NULL);
	expect_reply(5, 77);
	expect_quiet();  /* a failed read sends no data */
	fail_with = -ESHUTDOWN;
	send_req(0x25609513, 0, XSVHBA_NBD_CMD_WRITE, 78, 0, 512, lun_mem + 4096);
	expect_reply(108, 78);
}

static void test_out_of_order(void **state)
{
	uint8_t a[1024], b[2048];
	struct xsvhba_nbd_stats st;

	(void)state;
	hold = true;
	send_req(0x25609513, 0, XSVHBA_NBD_CMD_READ, 1, 0, 1024, NULL);
	send_req(0x25609513, 0, XSVHBA_NBD_CMD_READ, 2, 65536, 2048, NULL);
	send_req(0x25609513, 0, XSVHBA_NBD_CMD_FLUSH, 3, 0, 0, NULL);
	assert_int_equal(wait_held(3), 3);   /* all three in flight at once */
	expect_quiet();
	xsvhba_nbd_get_stats(srv, &st);
	assert_int_equal(st.inflight, 3);
	/* end them last first */
	run_io(&held[2]);
	expect_reply(0, 3);
	run_io(&held[1]);
	expect_reply(0, 2);
	recv_exact(b, sizeof(b));
	assert_memory_equal(b, lun_mem + 65536, sizeof(b));
	run_io(&held[0]);
	expect_reply(0, 1);
	recv_exact(a, sizeof(a));
	assert_memory_equal(a, lun_mem, sizeof(a));
	xsvhba_nbd_get_stats(srv, &st);
	assert_int_equal(st.inflight, 0);
	assert_int_equal(st.reads, 2);
	assert_int_equal(st.flushes, 1);
	assert_int_equal(st.read_bytes, 3072);
}

static int setup_trim(void **state)
{
	offer_trim = true;
	setup(state);
	offer_trim = false;
	return 0;
}

/* An export that offers TRIM: the range reaches the back end (zeroed
 * here), and one past the end does not. */
static void test_trim(void **state)
{
	static const uint8_t zero[8192];
	uint8_t back[8192];
	struct xsvhba_nbd_stats st;

	(void)state;
	send_req(0x25609513, 0, XSVHBA_NBD_CMD_TRIM, 0x71, 65536, 8192, NULL);
	expect_reply(0, 0x71);
	expect_quiet();  /* no data */
	assert_memory_equal(lun_mem + 65536, zero, sizeof(zero));
	assert_int_not_equal(lun_mem[65536 + 8192], 0);
	send_req(0x25609513, 0, XSVHBA_NBD_CMD_TRIM, 0x72, LUN_BYTES - 512, 1024, NULL);
	expect_reply(22, 0x72);
	send_req(0x25609513, 0, XSVHBA_NBD_CMD_READ, 0x73, 65536, 8192, NULL);
	expect_reply(0, 0x73);
	recv_exact(back, sizeof(back));
	assert_memory_equal(back, zero, sizeof(zero));
	xsvhba_nbd_get_stats(srv, &st);
	assert_int_equal(st.trims, 1);
	assert_int_equal(n_calls, 2);
}

static void test_bad_magic(void **state)
{
	uint8_t c;

	(void)state;
	send_req(0x12560953, 0, XSVHBA_NBD_CMD_READ, 1, 0, 512, NULL);
	assert_int_equal(xsvhba_nbd_wait_closed(srv, 2000), 0);
	/* no reply: the server stopped reading; after free the end is closed */
	expect_quiet();
	xsvhba_nbd_free(srv);
	srv = NULL;
	assert_int_equal(read(kfd, &c, 1), 0);
	assert_int_equal(n_calls, 0);
}

static void test_disc(void **state)
{
	struct xsvhba_nbd_stats st;

	(void)state;
	send_req(0x25609513, 0, XSVHBA_NBD_CMD_DISC, 5, 0, 0, NULL);
	assert_int_equal(xsvhba_nbd_wait_closed(srv, 2000), 0);
	expect_quiet();  /* DISC has no reply */
	xsvhba_nbd_get_stats(srv, &st);
	assert_true(st.closed);
}

static void test_free_waits_for_inflight(void **state)
{
	(void)state;
	hold = true;
	send_req(0x25609513, 0, XSVHBA_NBD_CMD_WRITE, 1, 0, 512, lun_mem + 512);
	assert_int_equal(wait_held(1), 1);
	close(kfd);    /* the kernel's end goes away with a write in flight */
	kfd = -1;
	assert_int_equal(xsvhba_nbd_wait_closed(srv, 2000), 0);
	/* the completion still runs (its reply goes nowhere) before free ends */
	run_io(&held[0]);
	xsvhba_nbd_free(srv);
	srv = NULL;
}

static int teardown_maybe(void **state)
{
	(void)state;
	xsvhba_nbd_free(srv);
	if (kfd >= 0)
		close(kfd);
	return 0;
}

/* Where the kernel has no nbd, the export fails with ENODEV. */
static void test_export_without_nbd(void **state)
{
	struct xsvhba_lun lun = { .id = 0, .blocks = 2048, .block_size = 512 };
	struct xsvhba_nbd *n;

	(void)state;
	if (access("/sys/module/nbd", F_OK) == 0) {
		skip();
		return;
	}
	n = xsvhba_nbd_export(NULL, &lun, NULL);
	if (n) {  /* the lookup loaded the module after all */
		xsvhba_nbd_free(n);
		skip();
		return;
	}
	assert_int_equal(errno, ENODEV);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode),
		cmocka_unit_test_setup_teardown(test_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backend_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trim, setup_trim, teardown),
		cmocka_unit_test_setup_teardown(test_bad_magic, setup, teardown_maybe),
		cmocka_unit_test_setup_teardown(test_disc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_waits_for_inflight, setup, teardown_maybe),
		cmocka_unit_test(test_export_without_nbd),
	};

	xs_log_open("test_xsvhba_nbd", XS_LOG_STDERR, XS_LOG_INFO);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
