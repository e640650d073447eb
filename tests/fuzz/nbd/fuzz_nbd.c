/* SPDX-License-Identifier: MIT */
/*
 * fuzz_nbd: the input is what the kernel's end of an nbd socket sends. The
 * first 28 bytes go through the decoder and the checks alone; then the
 * whole input is fed to a server (xsvhba_nbd_serve) over a socketpair with
 * a memory back end (TRIM offered) that aborts on any request outside the
 * 64 KiB export. A model of the protocol, written apart from the server,
 * predicts every reply (magic, error, handle, and READ data only after a
 * success); any other byte from the server aborts.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <xscore/common.h>
#include <xscore/log.h>

#include "xsvhba/nbd.h"

#define EXPORT_BYTES 65536u

static uint8_t mem[EXPORT_BYTES];

static int mem_io(void *ctx, enum xsvhba_nbd_cmd cmd, void *buf, uint64_t off, size_t len,
		  xsvhba_io_cb cb, void *arg)
{
	(void)ctx;
	if (cmd == XSVHBA_NBD_CMD_READ || cmd == XSVHBA_NBD_CMD_WRITE ||
	    cmd == XSVHBA_NBD_CMD_TRIM) {
		if (off > EXPORT_BYTES || len > EXPORT_BYTES - off || len == 0)
			abort(); /* the checks let a bad request through */
		if (cmd == XSVHBA_NBD_CMD_READ)
			memcpy(buf, mem + off, len);
		else if (cmd == XSVHBA_NBD_CMD_WRITE)
			memcpy(mem + off, buf, len);
		else
			memset(mem + off, 0, len);
	} else if (cmd != XSVHBA_NBD_CMD_FLUSH) {
		abort();
	}
	cb(arg, off & 4096 ? -EIO : 0); /* some requests fail */
	return 0;
}

static const struct xsvhba_nbd_backend mem_ops = { .io = mem_io };

/* The replies the input must produce, worked out apart from the server. */
struct expect {
	uint64_t handle;
	uint32_t error;
	uint32_t data;       /* READ bytes after the header */
};

static struct expect want[4096 / XSVHBA_NBD_REQ_LEN + 1];
static unsigned int n_want;

static void model(const uint8_t *d, size_t size)
{
	size_t p = 0;

	n_want = 0;
	while (size - p >= XSVHBA_NBD_REQ_LEN && n_want < sizeof(want) / sizeof(want[0])) {
		uint16_t type = xs_get16(d + p + 6);
		uint64_t handle = xs_get64(d + p + 8), off = xs_get64(d + p + 16);
		uint32_t len = xs_get32(d + p + 24), err = 0;
		bool rw = type == XSVHBA_NBD_CMD_READ || type == XSVHBA_NBD_CMD_WRITE;
		bool trim = type == XSVHBA_NBD_CMD_TRIM;

		if (xs_get32(d + p) != XSVHBA_NBD_REQUEST_MAGIC || type == XSVHBA_NBD_CMD_DISC)
			return;
		p += XSVHBA_NBD_REQ_LEN;
		if (rw && (len == 0 || len > 32768 || off % 512 || len % 512 ||
			   off > EXPORT_BYTES || len > EXPORT_BYTES - off))
			err = XSVHBA_NBD_EINVAL;
		else if (trim && (len == 0 || off % 512 || len % 512 ||
				  off > EXPORT_BYTES || len > EXPORT_BYTES - off))
			err = XSVHBA_NBD_EINVAL;
		else if (!rw && !trim && type != XSVHBA_NBD_CMD_FLUSH)
			err = XSVHBA_NBD_EINVAL;
		if (type == XSVHBA_NBD_CMD_WRITE) {
			if (size - p < len)
				return; /* the stream ends inside the data: no reply */
			p += len;
		}
		if (!err && (off & 4096))
			err = XSVHBA_NBD_EIO;
		want[n_want++] = (struct expect){ handle, err,
			type == XSVHBA_NBD_CMD_READ && !err ? len : 0 };
	}
}

/* Reply stream parser: checks every byte against want[]. */
struct rx {
	unsigned int idx;     /* reply being read */
	uint8_t hdr[XSVHBA_NBD_REPLY_LEN];
	unsigned int hdr_have;
	uint32_t data_left;
};

static void rx_bytes(struct rx *r, const uint8_t *b, size_t n)
{
	while (n) {
		if (r->data_left) {
			size_t t = n < r->data_left ? n : r->data_left;

			r->data_left -= (uint32_t)t;
			b += t;
			n -= t;
			if (!r->data_left)
				r->idx++;
			continue;
		}
		r->hdr[r->hdr_have++] = *b++;
		n--;
		if (r->hdr_have < XSVHBA_NBD_REPLY_LEN)
			continue;
		r->hdr_have = 0;
		if (r->idx >= n_want || xs_get32(r->hdr) != XSVHBA_NBD_REPLY_MAGIC ||
		    xs_get32(r->hdr + 4) != want[r->idx].error ||
		    xs_get64(r->hdr + 8) != want[r->idx].handle)
			abort(); /* a reply the model does not expect */
		r->data_left = want[r->idx].data;
		if (!r->data_left)
			r->idx++;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	xs_log_open("fuzz_nbd", XS_LOG_STDERR, (enum xs_log_level)2); /* quiet: bad input is expected */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xsvhba_nbd_opts o = { .size = sizeof(o), .size_bytes = EXPORT_BYTES,
				     .block_size = 512, .max_len = 32768, .trim = true };
	struct xsvhba_nbd_req req;
	struct xsvhba_nbd *n;
	struct rx r = { 0 };
	size_t off = 0;
	uint8_t rbuf[8192];
	int sv[2];

	if (size > 4096)
		return 0;
	if (xsvhba_nbd_decode_req(data, size, &req) == 0) {
		uint32_t e = xsvhba_nbd_check_req(&req, EXPORT_BYTES, 512, 32768,
						  XSVHBA_NBD_FLAG_HAS_FLAGS | XSVHBA_NBD_FLAG_SEND_FLUSH |
						  XSVHBA_NBD_FLAG_SEND_TRIM);

		if (e == 0 && req.type != XSVHBA_NBD_CMD_FLUSH && req.type != XSVHBA_NBD_CMD_DISC &&
		    (req.offset + req.length > EXPORT_BYTES || req.length == 0 || req.length % 512))
			abort();
		if (e != 0 && e != XSVHBA_NBD_EINVAL)
			abort();
	}
	model(data, size);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return 0;
	/* the server's end blocks; ours does not */
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	n = xsvhba_nbd_serve(sv[0], &o, &mem_ops, NULL);
	if (!n) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	/* feed the input while taking the replies, then end the stream; the
	 * server stops at EOF, DISC or a bad magic */
	for (;;) {
		struct pollfd pf = { .fd = sv[1], .events = POLLIN | (off < size ? POLLOUT : 0) };
		bool closed;
		ssize_t k;

		if (off == size) {
			shutdown(sv[1], SHUT_WR);
			off++;
		}
		closed = xsvhba_nbd_wait_closed(n, 0) == 0;
		if (poll(&pf, 1, closed ? 0 : 20) <= 0) {
			if (closed)
				break;
			continue;
		}
		if (pf.revents & POLLIN) {
			k = read(sv[1], rbuf, sizeof(rbuf));
			if (k > 0)
				rx_bytes(&r, rbuf, (size_t)k);
			else if (closed)
				break;
		}
		if (off < size && (pf.revents & POLLOUT)) {
			k = write(sv[1], data + off, size - off);
			if (k > 0)
				off += (size_t)k;
		}
	}
	/* every expected reply came, whole */
	if (r.idx != n_want || r.hdr_have || r.data_left)
		abort();
	xsvhba_nbd_free(n);
	close(sv[1]);
	return 0;
}
