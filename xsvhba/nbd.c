/* SPDX-License-Identifier: MIT */
/*
 * nbd.c - a LUN as /dev/nbdN: the kernel's nbd driver on one end of a
 * socketpair (configured through its generic-netlink family), the NBD
 * transmission protocol served on the other end. See xsvhba/nbd.h.
 *
 * Threads: one server thread per export reads request headers (and a
 * WRITE's data), checks them and starts them on the back end; replies are
 * written by whoever ends the request (the initiator's loop thread), under
 * the export's send lock, so header and data of one reply never interleave
 * with another's. The kernel reads replies all the time, so a blocking
 * send does not hold the loop for long.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/nbd-netlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include <xscore/common.h>
#include <xscore/log.h>

#include "xsvhba/nbd.h"

#define COMP "nbd"
#define DRAIN_CHUNK (1u << 20)
#define SYNC_RETRIES 10

struct xsvhba_nbd {
	int fd;
	int index;                 /* /dev/nbdN, -1 for a bare server */
	char name[16];             /* "nbdN" or "nbd server", for logs */
	struct xsvhba_nbd_opts o;
	const struct xsvhba_nbd_backend *ops;
	void *ctx;
	pthread_t th;
	pthread_mutex_t send_lock; /* one reply at a time on the socket */
	pthread_mutex_t lock;      /* counters, inflight, closed */
	pthread_cond_t cond;
	bool closed;
	struct xsvhba_nbd_stats st;
	struct lun_backend *lb;    /* xsvhba_nbd_export's back end */
};

/* One request being served. */
struct nbd_io {
	struct xsvhba_nbd *n;
	struct xsvhba_nbd_req r;
	void *buf;
};

/* --------------------------------------------------------------- codec */

int xsvhba_nbd_decode_req(const void *p, size_t n, struct xsvhba_nbd_req *r)
{
	const uint8_t *b = p;

	if (n < XSVHBA_NBD_REQ_LEN)
		return -EINVAL;
	if (xs_get32(b) != XSVHBA_NBD_REQUEST_MAGIC)
		return -EPROTO;
	r->flags = xs_get16(b + 4);
	r->type = xs_get16(b + 6);
	r->handle = xs_get64(b + 8);
	r->offset = xs_get64(b + 16);
	r->length = xs_get32(b + 24);
	return 0;
}

uint32_t xsvhba_nbd_check_req(const struct xsvhba_nbd_req *r, uint64_t size_bytes,
			      uint32_t block_size, uint32_t max_len, uint32_t tflags)
{
	switch (r->type) {
	case XSVHBA_NBD_CMD_DISC:
		return 0;
	case XSVHBA_NBD_CMD_FLUSH:
		return tflags & XSVHBA_NBD_FLAG_SEND_FLUSH ? 0 : XSVHBA_NBD_EINVAL;
	case XSVHBA_NBD_CMD_TRIM:
		if (!(tflags & XSVHBA_NBD_FLAG_SEND_TRIM))
			return XSVHBA_NBD_EINVAL;
		break;
	case XSVHBA_NBD_CMD_READ:
	case XSVHBA_NBD_CMD_WRITE:
		if (r->length > max_len)
			return XSVHBA_NBD_EINVAL;
		break;
	default:
		return XSVHBA_NBD_EINVAL;
	}
	if (r->type != XSVHBA_NBD_CMD_READ && (tflags & XSVHBA_NBD_FLAG_READ_ONLY))
		return XSVHBA_NBD_EPERM;
	if (r->length == 0 || block_size == 0)
		return XSVHBA_NBD_EINVAL;
	if (r->offset % block_size || r->length % block_size)
		return XSVHBA_NBD_EINVAL;
	/* offset + length > size, without overflowing */
	if (r->offset > size_bytes || r->length > size_bytes - r->offset)
		return XSVHBA_NBD_EINVAL;
	return 0;
}

void xsvhba_nbd_encode_reply(uint8_t out[XSVHBA_NBD_REPLY_LEN], uint32_t error, uint64_t handle)
{
	xs_put32(out, XSVHBA_NBD_REPLY_MAGIC);
	xs_put32(out + 4, error);
	xs_put64(out + 8, handle);
}

uint32_t xsvhba_nbd_errno(int neg_errno)
{
	switch (-neg_errno) {
	case 0: return 0;
	case EPERM: case EACCES: return XSVHBA_NBD_EPERM;
	case ENOMEM: return XSVHBA_NBD_ENOMEM;
	case EINVAL: case ENXIO: return XSVHBA_NBD_EINVAL;
	case ENOSPC: return XSVHBA_NBD_ENOSPC;
	case EOVERFLOW: return XSVHBA_NBD_EOVERFLOW;
	case EOPNOTSUPP: return XSVHBA_NBD_ENOTSUP;
	case ESHUTDOWN: return XSVHBA_NBD_ESHUTDOWN;
	default: return XSVHBA_NBD_EIO;
	}
}

/* -------------------------------------------------------------- server */

/* The transmission flags an export offers. */
static uint32_t export_flags(const struct xsvhba_nbd_opts *o)
{
	uint32_t f = XSVHBA_NBD_FLAG_HAS_FLAGS;

	if (!o->no_flush)
		f |= XSVHBA_NBD_FLAG_SEND_FLUSH;
	if (o->trim)
		f |= XSVHBA_NBD_FLAG_SEND_TRIM;
	if (o->read_only)
		f |= XSVHBA_NBD_FLAG_READ_ONLY;
	return f;
}

static int read_full(int fd, void *p, size_t len)
{
	uint8_t *b = p;

	while (len) {
		ssize_t k = read(fd, b, len);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -ECONNRESET;
		b += k;
		len -= (size_t)k;
	}
	return 0;
}

/* Write one reply (header, then data for a successful READ). */
static void send_reply(struct xsvhba_nbd *n, uint32_t err, uint64_t handle, const void *data,
		       size_t len)
{
	uint8_t hdr[XSVHBA_NBD_REPLY_LEN];
	struct iovec iov[2] = { { hdr, sizeof(hdr) }, { (void *)data, err ? 0 : len } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };

	xsvhba_nbd_encode_reply(hdr, err, handle);
	pthread_mutex_lock(&n->send_lock);
	while (iov[0].iov_len || iov[1].iov_len) {
		ssize_t k = sendmsg(n->fd, &mh, MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			/* the kernel's end is gone: nobody waits for this */
			XS_DEBUG(COMP, "reply for handle 0x%016llx not sent: %s",
				 (unsigned long long)handle, strerror(errno));
			break;
		}
		for (int i = 0; i < 2 && k > 0; i++) {
			size_t t = (size_t)k < iov[i].iov_len ? (size_t)k : iov[i].iov_len;

			iov[i].iov_base = (uint8_t *)iov[i].iov_base + t;
			iov[i].iov_len -= t;
			k -= (ssize_t)t;
		}
		mh.msg_iov = iov[0].iov_len ? iov : iov + 1;
		mh.msg_iovlen = iov[0].iov_len ? 2 : 1;
	}
	pthread_mutex_unlock(&n->send_lock);
}

static void count_reply(struct xsvhba_nbd *n, uint32_t err, bool rejected)
{
	pthread_mutex_lock(&n->lock);
	if (err)
		n->st.errors++;
	if (rejected)
		n->st.rejected++;
	pthread_mutex_unlock(&n->lock);
}

static void io_done(void *arg, int err)
{
	struct nbd_io *io = arg;
	struct xsvhba_nbd *n = io->n;
	uint32_t e = xsvhba_nbd_errno(err);

	if (err)
		XS_WARN(COMP, "%s: %s of %u bytes at %llu failed: %s", n->name,
			io->r.type == XSVHBA_NBD_CMD_READ ? "read" :
			io->r.type == XSVHBA_NBD_CMD_WRITE ? "write" :
			io->r.type == XSVHBA_NBD_CMD_TRIM ? "trim" : "flush",
			io->r.length, (unsigned long long)io->r.offset, xs_strerror(err));
	/* only a successful READ's reply carries data */
	send_reply(n, e, io->r.handle, io->buf,
		   io->r.type == XSVHBA_NBD_CMD_READ ? io->r.length : 0);
	free(io->buf);
	free(io);
	pthread_mutex_lock(&n->lock);
	if (e)
		n->st.errors++;
	n->st.inflight--;
	pthread_cond_broadcast(&n->cond);
	pthread_mutex_unlock(&n->lock);
}

/* Read and throw away a refused WRITE's data: 0, or -errno (connection). */
static int drain(int fd, uint32_t len)
{
	uint8_t sink[4096];

	while (len) {
		uint32_t k = len < sizeof(sink) ? len : (uint32_t)sizeof(sink);
		int rc = read_full(fd, sink, k);

		if (rc < 0)
			return rc;
		len -= k;
	}
	return 0;
}

/* Serve one request whose header is in r: 0, or -errno to end the connection. */
static int serve_one(struct xsvhba_nbd *n, const struct xsvhba_nbd_req *r)
{
	const struct xsvhba_nbd_opts *o = &n->o;
	uint32_t e = xsvhba_nbd_check_req(r, o->size_bytes, o->block_size, o->max_len,
					  export_flags(o));
	struct nbd_io *io;
	int rc;

	if (e) {
		XS_DEBUG(COMP, "%s: request type %u offset %llu length %u refused (error %u)",
			 n->name, r->type, (unsigned long long)r->offset, r->length, e);
		/* a refused WRITE still carries its data; more than
		 * DRAIN_CHUNK x 64 is not worth reading: end the connection */
		if (r->type == XSVHBA_NBD_CMD_WRITE) {
			if (r->length > 64u * DRAIN_CHUNK)
				return -EMSGSIZE;
			rc = drain(n->fd, r->length);
			if (rc < 0)
				return rc;
		}
		count_reply(n, e, true);
		send_reply(n, e, r->handle, NULL, 0);
		return 0;
	}
	io = calloc(1, sizeof(*io));
	if (!io)
		return -ENOMEM;
	io->n = n;
	io->r = *r;
	if (r->type == XSVHBA_NBD_CMD_READ || r->type == XSVHBA_NBD_CMD_WRITE) {
		if (posix_memalign(&io->buf, 4096, r->length) != 0) {
			free(io);
			return -ENOMEM;
		}
		if (r->type == XSVHBA_NBD_CMD_WRITE) {
			rc = read_full(n->fd, io->buf, r->length);
			if (rc < 0) {
				free(io->buf);
				free(io);
				return rc;
			}
		}
	}
	pthread_mutex_lock(&n->lock);
	n->st.inflight++;
	switch (r->type) {
	case XSVHBA_NBD_CMD_READ: n->st.reads++; n->st.read_bytes += r->length; break;
	case XSVHBA_NBD_CMD_WRITE: n->st.writes++; n->st.write_bytes += r->length; break;
	case XSVHBA_NBD_CMD_TRIM: n->st.trims++; break;
	default: n->st.flushes++; break;
	}
	pthread_mutex_unlock(&n->lock);
	rc = n->ops->io(n->ctx, (enum xsvhba_nbd_cmd)r->type, io->buf, r->offset, r->length,
			io_done, io);
	if (rc < 0)
		io_done(io, rc);
	return 0;
}

static void *server_main(void *arg)
{
	struct xsvhba_nbd *n = arg;
	uint8_t hdr[XSVHBA_NBD_REQ_LEN];
	struct xsvhba_nbd_req r;
	int rc;

	for (;;) {
		rc = read_full(n->fd, hdr, sizeof(hdr));
		if (rc < 0)
			break;
		rc = xsvhba_nbd_decode_req(hdr, sizeof(hdr), &r);
		if (rc < 0) {
			XS_ERR(COMP, "%s: request with magic 0x%08x, not 0x%08x: closing the connection",
			       n->name, xs_get32(hdr), XSVHBA_NBD_REQUEST_MAGIC);
			break;
		}
		if (r.type == XSVHBA_NBD_CMD_DISC) {
			XS_DEBUG(COMP, "%s: disconnect requested", n->name);
			rc = 0;
			break;
		}
		rc = serve_one(n, &r);
		if (rc < 0) {
			XS_ERR(COMP, "%s: closing the connection: %s", n->name, xs_strerror(rc));
			break;
		}
	}
	pthread_mutex_lock(&n->lock);
	n->closed = true;
	n->st.closed = true;
	pthread_cond_broadcast(&n->cond);
	pthread_mutex_unlock(&n->lock);
	return NULL;
}

static struct xsvhba_nbd *server_new(int fd, const struct xsvhba_nbd_opts *o,
				     const struct xsvhba_nbd_backend *ops, void *ctx)
{
	struct xsvhba_nbd *n;

	if (!o || o->size < sizeof(*o) || !ops || !ops->io || o->block_size == 0 ||
	    (o->block_size & (o->block_size - 1))) {
		errno = EINVAL;
		return NULL;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->fd = fd;
	n->index = -1;
	snprintf(n->name, sizeof(n->name), "nbd server");
	n->o = *o;
	if (!n->o.max_len)
		n->o.max_len = XSVHBA_NBD_DEFAULT_MAX_LEN;
	if (!n->o.timeout_s)
		n->o.timeout_s = XSVHBA_NBD_DEFAULT_TIMEOUT_S;
	n->ops = ops;
	n->ctx = ctx;
	pthread_mutex_init(&n->send_lock, NULL);
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->cond, NULL);
	return n;
}

static void server_destroy(struct xsvhba_nbd *n)
{
	pthread_cond_destroy(&n->cond);
	pthread_mutex_destroy(&n->lock);
	pthread_mutex_destroy(&n->send_lock);
	free(n);
}

static int server_start(struct xsvhba_nbd *n)
{
	int rc = pthread_create(&n->th, NULL, server_main, n);

	return rc ? -rc : 0;
}

struct xsvhba_nbd *xsvhba_nbd_serve(int fd, const struct xsvhba_nbd_opts *o,
				    const struct xsvhba_nbd_backend *ops, void *ctx)
{
	struct xsvhba_nbd *n = server_new(fd, o, ops, ctx);
	int rc;

	if (!n)
		return NULL;
	rc = server_start(n);
	if (rc < 0) {
		server_destroy(n);
		errno = -rc;
		return NULL;
	}
	return n;
}

int xsvhba_nbd_index(const struct xsvhba_nbd *n)
{
	return n->index;
}

int xsvhba_nbd_wait_closed(struct xsvhba_nbd *n, int timeout_ms)
{
	struct timespec ts;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&n->lock);
	while (!n->closed && rc == 0)
		rc = pthread_cond_timedwait(&n->cond, &n->lock, &ts);
	rc = n->closed ? 0 : -ETIMEDOUT;
	pthread_mutex_unlock(&n->lock);
	return rc;
}

void xsvhba_nbd_get_stats(struct xsvhba_nbd *n, struct xsvhba_nbd_stats *st)
{
	pthread_mutex_lock(&n->lock);
	*st = n->st;
	pthread_mutex_unlock(&n->lock);
}

/* --------------------------------------------------- generic netlink */

struct nl_ctx {
	struct nl_sock *sk;
	int family;
};

static int nl_open(struct nl_ctx *c)
{
	int rc;

	c->sk = nl_socket_alloc();
	if (!c->sk)
		return -ENOMEM;
	rc = genl_connect(c->sk);
	if (rc < 0) {
		XS_ERR(COMP, "cannot open a generic netlink socket: %s", nl_geterror(rc));
		nl_socket_free(c->sk);
		return -EIO;
	}
	/* the kernel loads the nbd module on this lookup when it can */
	c->family = genl_ctrl_resolve(c->sk, NBD_GENL_FAMILY_NAME);
	if (c->family < 0) {
		XS_ERR(COMP, "the kernel has no nbd (no \"%s\" generic netlink family; "
		       "/sys/module/nbd %s): LUNs are not exported as /dev/nbdN",
		       NBD_GENL_FAMILY_NAME,
		       access("/sys/module/nbd", F_OK) == 0 ? "exists" : "missing");
		nl_socket_free(c->sk);
		return -ENODEV;
	}
	return 0;
}

static int nl_errno(int nlerr)
{
	switch (-nlerr) {
	case NLE_BUSY: return -EBUSY;
	case NLE_INVAL: return -EINVAL;
	case NLE_PERM: return -EPERM;
	case NLE_NOMEM: return -ENOMEM;
	case NLE_EXIST: return -EEXIST;
	case NLE_OPNOTSUPP: return -EOPNOTSUPP;
	case NLE_OBJ_NOTFOUND: return -ENOENT;
	case NLE_NODEV: return -ENODEV;
	default: return -EIO;
	}
}

static int connect_reply(struct nl_msg *msg, void *arg)
{
	struct nlattr *tb[NBD_ATTR_MAX + 1];
	int *index = arg;

	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, NBD_ATTR_MAX, NULL) < 0)
		return NL_SKIP;
	if (tb[NBD_ATTR_INDEX])
		*index = (int)nla_get_u32(tb[NBD_ATTR_INDEX]);
	return NL_OK;
}

/* NBD_CMD_CONNECT: the index the kernel chose, or -errno. */
static int nbd_connect(int sock_fd, const struct xsvhba_nbd_opts *o)
{
	uint64_t flags = export_flags(o);
	struct nlattr *socks, *item;
	struct nl_ctx c;
	struct nl_msg *msg;
	int rc, index = -1;

	rc = nl_open(&c);
	if (rc < 0)
		return rc;
	msg = nlmsg_alloc();
	if (!msg) {
		rc = -ENOMEM;
		goto out_sock;
	}
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, c.family, 0, 0, NBD_CMD_CONNECT,
			 NBD_GENL_VERSION))
		goto out_build;
	if (nla_put_u64(msg, NBD_ATTR_SIZE_BYTES, o->size_bytes) < 0 ||
	    nla_put_u64(msg, NBD_ATTR_BLOCK_SIZE_BYTES, o->block_size) < 0 ||
	    nla_put_u64(msg, NBD_ATTR_SERVER_FLAGS, flags) < 0 ||
	    nla_put_u64(msg, NBD_ATTR_TIMEOUT, o->timeout_s) < 0)
		goto out_build;
	socks = nla_nest_start(msg, NBD_ATTR_SOCKETS);
	if (!socks)
		goto out_build;
	item = nla_nest_start(msg, NBD_SOCK_ITEM);
	if (!item || nla_put_u32(msg, NBD_SOCK_FD, (uint32_t)sock_fd) < 0)
		goto out_build;
	nla_nest_end(msg, item);
	nla_nest_end(msg, socks);
	nl_socket_modify_cb(c.sk, NL_CB_VALID, NL_CB_CUSTOM, connect_reply, &index);
	rc = nl_send_auto(c.sk, msg);
	if (rc >= 0)
		rc = nl_wait_for_ack(c.sk);
	if (rc < 0) {
		XS_ERR(COMP, "NBD_CMD_CONNECT refused by the kernel: %s", nl_geterror(rc));
		rc = nl_errno(rc);
		goto out_msg;
	}
	if (index < 0) {
		XS_ERR(COMP, "NBD_CMD_CONNECT: the kernel's reply named no device index");
		rc = -EPROTO;
		goto out_msg;
	}
	rc = index;
	goto out_msg;
out_build:
	XS_ERR(COMP, "cannot build the NBD_CMD_CONNECT message");
	rc = -ENOMEM;
out_msg:
	nlmsg_free(msg);
out_sock:
	nl_socket_free(c.sk);
	return rc;
}

static int nbd_disconnect(int index)
{
	struct nl_ctx c;
	struct nl_msg *msg;
	int rc;

	rc = nl_open(&c);
	if (rc < 0)
		return rc;
	msg = nlmsg_alloc();
	if (!msg) {
		rc = -ENOMEM;
		goto out_sock;
	}
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, c.family, 0, 0, NBD_CMD_DISCONNECT,
			 NBD_GENL_VERSION) ||
	    nla_put_u32(msg, NBD_ATTR_INDEX, (uint32_t)index) < 0) {
		rc = -ENOMEM;
		goto out_msg;
	}
	rc = nl_send_sync(c.sk, msg); /* frees msg */
	msg = NULL;
	if (rc < 0) {
		XS_WARN(COMP, "NBD_CMD_DISCONNECT of nbd%d: %s", index, nl_geterror(rc));
		rc = nl_errno(rc);
	}
out_msg:
	nlmsg_free(msg);
out_sock:
	nl_socket_free(c.sk);
	return rc;
}

/* ------------------------------------------------- a LUN as back end */

struct lun_backend {
	struct xsvhba *v;
	struct xsvhba_lun lun;
	uint32_t unmap_max_blocks;  /* VPD B0 MAXIMUM UNMAP LBA COUNT; 0: no UNMAP */
};

static void trim_done(struct xsvhba_cmd *cmd);

/* A TRIM as UNMAP commands of one block descriptor each, one after the
 * other, each at most unmap_max_blocks long. */
struct trim_cmd {
	struct xsvhba_cmd cmd;
	struct lun_backend *lb;
	uint64_t lba, left;         /* blocks still to unmap after this command */
	unsigned int retries;
	uint8_t param[24];          /* UNMAP parameter list: header + 1 descriptor */
	struct iovec iov;
	xsvhba_io_cb cb;
	void *arg;
};

static void trim_send(struct trim_cmd *tc)
{
	uint32_t n = tc->left > tc->lb->unmap_max_blocks ? tc->lb->unmap_max_blocks
							 : (uint32_t)tc->left;
	struct xsvhba_cmd *c = &tc->cmd;

	memset(c, 0, sizeof(*c));
	memset(tc->param, 0, sizeof(tc->param));
	xs_put16(tc->param, 22);       /* UNMAP data length: what follows it */
	xs_put16(tc->param + 2, 16);   /* block descriptor data length */
	xs_put64(tc->param + 8, tc->lba);
	xs_put32(tc->param + 16, n);
	tc->lba += n;
	tc->left -= n;
	c->lun = tc->lb->lun.wire;
	c->cdb[0] = 0x42; /* UNMAP */
	xs_put16(c->cdb + 7, sizeof(tc->param));
	c->cdb_len = 10;
	c->dir = XSVHBA_DIR_WRITE;
	tc->iov.iov_base = tc->param;
	tc->iov.iov_len = sizeof(tc->param);
	c->iov = &tc->iov;
	c->iovcnt = 1;
	c->done = trim_done;
}

static void trim_done(struct xsvhba_cmd *cmd)
{
	struct trim_cmd *tc = xs_container_of(cmd, struct trim_cmd, cmd);
	int err = cmd->result;

	if (err == 0 && cmd->status != 0) {
		bool ua = cmd->status == 0x02 && cmd->sense_len >= 3 && (cmd->sense[2] & 0xf) == 6;
		bool busy = cmd->status == 0x08 || cmd->status == 0x28;

		if ((ua || busy) && tc->retries++ < SYNC_RETRIES &&
		    xsvhba_submit(tc->lb->v, cmd) == 0)
			return;
		err = -EIO;
	}
	if (err == 0 && tc->left) {
		trim_send(tc);
		err = xsvhba_submit(tc->lb->v, &tc->cmd);
		if (err == 0)
			return;
	}
	tc->cb(tc->arg, err);
	free(tc);
}

static int lun_trim(struct lun_backend *lb, uint64_t off, size_t len, xsvhba_io_cb cb, void *arg)
{
	struct trim_cmd *tc;
	int rc;

	if (!lb->unmap_max_blocks)
		return -EOPNOTSUPP;
	tc = calloc(1, sizeof(*tc));
	if (!tc)
		return -ENOMEM;
	tc->lb = lb;
	tc->lba = off / lb->lun.block_size;
	tc->left = len / lb->lun.block_size;
	tc->cb = cb;
	tc->arg = arg;
	trim_send(tc);
	rc = xsvhba_submit(lb->v, &tc->cmd);
	if (rc < 0)
		free(tc);
	return rc;
}

/* VPD B0 (block limits): the MAXIMUM UNMAP LBA COUNT when the LUN takes
 * UNMAP with at least one descriptor, else 0. Blocking. */
static uint32_t probe_unmap(struct xsvhba *v, const struct xsvhba_lun *lun)
{
	uint8_t page[64] = { 0 };
	struct iovec iov = { page, sizeof(page) };
	struct xsvhba_cmd c = { .lun = lun->wire, .cdb_len = 6, .dir = XSVHBA_DIR_READ,
				.iov = &iov, .iovcnt = 1 };
	uint32_t max_lba, max_desc;

	c.cdb[0] = 0x12; /* INQUIRY */
	c.cdb[1] = 0x01; /* EVPD */
	c.cdb[2] = 0xb0;
	c.cdb[4] = sizeof(page);
	if (xsvhba_scsi(v, &c) != 0 || c.status != 0 || page[1] != 0xb0 ||
	    xs_get16(page + 2) + 4 < 28)
		return 0;
	max_lba = xs_get32(page + 20);
	max_desc = xs_get32(page + 24);
	return max_desc ? max_lba : 0;
}

struct flush_cmd {
	struct xsvhba_cmd cmd;
	struct xsvhba *v;
	unsigned int retries;
	xsvhba_io_cb cb;
	void *arg;
};

static void flush_done(struct xsvhba_cmd *cmd)
{
	struct flush_cmd *fc = xs_container_of(cmd, struct flush_cmd, cmd);
	xsvhba_io_cb cb = fc->cb;
	void *arg = fc->arg;
	int err = cmd->result;

	if (err == 0 && cmd->status != 0) {
		bool ua = cmd->status == 0x02 && cmd->sense_len >= 3 && (cmd->sense[2] & 0xf) == 6;
		bool busy = cmd->status == 0x08 || cmd->status == 0x28;

		if ((ua || busy) && fc->retries++ < SYNC_RETRIES && xsvhba_submit(fc->v, cmd) == 0)
			return;
		err = -EIO;
	}
	free(fc);
	cb(arg, err);
}

static int lun_io(void *ctx, enum xsvhba_nbd_cmd cmd, void *buf, uint64_t off, size_t len,
		  xsvhba_io_cb cb, void *arg)
{
	struct lun_backend *lb = ctx;
	struct flush_cmd *fc;
	int rc;

	switch (cmd) {
	case XSVHBA_NBD_CMD_READ:
	case XSVHBA_NBD_CMD_WRITE:
		return xsvhba_io_submit(lb->v, lb->lun.id, cmd == XSVHBA_NBD_CMD_WRITE, buf, off,
					len, cb, arg);
	case XSVHBA_NBD_CMD_TRIM:
		return lun_trim(lb, off, len, cb, arg);
	case XSVHBA_NBD_CMD_FLUSH:
		fc = calloc(1, sizeof(*fc));
		if (!fc)
			return -ENOMEM;
		fc->v = lb->v;
		fc->cb = cb;
		fc->arg = arg;
		fc->cmd.lun = lb->lun.wire;
		fc->cmd.cdb[0] = 0x91; /* SYNCHRONIZE CACHE(16), whole LUN */
		fc->cmd.cdb_len = 16;
		fc->cmd.dir = XSVHBA_DIR_NONE;
		fc->cmd.done = flush_done;
		rc = xsvhba_submit(lb->v, &fc->cmd);
		if (rc < 0)
			free(fc);
		return rc;
	default:
		return -EOPNOTSUPP;
	}
}

static const struct xsvhba_nbd_backend lun_backend_ops = {
	.io = lun_io,
};

/* socketpair, server thread, NBD_CMD_CONNECT: the server serving @ops, or
 * NULL with errno (nothing left behind). */
static struct xsvhba_nbd *connect_server(const struct xsvhba_nbd_opts *eo,
					 const struct xsvhba_nbd_backend *ops, void *ctx)
{
	struct xsvhba_nbd *n;
	int sv[2], rc;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return NULL;
	n = server_new(sv[0], eo, ops, ctx);
	if (!n) {
		rc = -errno;
		goto err_pair;
	}
	rc = server_start(n);
	if (rc < 0)
		goto err_server;
	rc = nbd_connect(sv[1], &n->o);
	if (rc < 0)
		goto err_thread;
	/* the kernel holds its own reference to the socket now */
	close(sv[1]);
	n->index = rc;
	snprintf(n->name, sizeof(n->name), "nbd%d", rc);
	return n;

err_thread:
	shutdown(sv[0], SHUT_RDWR);
	pthread_join(n->th, NULL);
err_server:
	server_destroy(n);
err_pair:
	close(sv[0]);
	close(sv[1]);
	errno = -rc;
	return NULL;
}

struct xsvhba_nbd *xsvhba_nbd_connect(const struct xsvhba_nbd_opts *o,
				      const struct xsvhba_nbd_backend *ops, void *ctx)
{
	struct xsvhba_nbd_opts eo;
	struct xsvhba_nbd *n;
	struct nl_ctx c;
	int rc;

	if (!o || o->size < sizeof(*o) || !o->size_bytes || !ops || !ops->io) {
		errno = EINVAL;
		return NULL;
	}
	rc = nl_open(&c); /* no nbd in the kernel: say so before anything else */
	if (rc < 0) {
		errno = -rc;
		return NULL;
	}
	nl_socket_free(c.sk);
	eo = *o;
	if (!eo.max_len || eo.max_len > XSVHBA_NBD_DEFAULT_MAX_LEN)
		eo.max_len = XSVHBA_NBD_DEFAULT_MAX_LEN;
	n = connect_server(&eo, ops, ctx);
	if (n)
		XS_INFO(COMP, "%llu bytes (%u-byte blocks) are /dev/nbd%d",
			(unsigned long long)eo.size_bytes, eo.block_size, n->index);
	return n;
}

struct xsvhba_nbd *xsvhba_nbd_export(struct xsvhba *v, const struct xsvhba_lun *lun,
				     const struct xsvhba_nbd_opts *o)
{
	struct xsvhba_nbd_opts eo = { .size = sizeof(eo) };
	struct lun_backend *lb;
	struct xsvhba_nbd *n;
	struct nl_ctx c;
	int rc;

	/* no nbd in the kernel: say so before anything else */
	rc = nl_open(&c);
	if (rc < 0) {
		errno = -rc;
		return NULL;
	}
	nl_socket_free(c.sk);
	if (o)
		eo = *o;
	eo.size = sizeof(eo);
	eo.size_bytes = lun->blocks * lun->block_size;
	eo.block_size = lun->block_size;
	if (!eo.max_len || eo.max_len > XSVHBA_NBD_DEFAULT_MAX_LEN)
		eo.max_len = XSVHBA_NBD_DEFAULT_MAX_LEN;
	lb = calloc(1, sizeof(*lb));
	if (!lb)
		return NULL;
	lb->v = v;
	lb->lun = *lun;
	if (!eo.read_only)
		lb->unmap_max_blocks = probe_unmap(v, lun);
	eo.trim = lb->unmap_max_blocks != 0;
	n = connect_server(&eo, &lun_backend_ops, lb);
	if (!n) {
		rc = -errno;
		free(lb);
		errno = -rc;
		return NULL;
	}
	n->lb = lb;
	XS_INFO(COMP, "LUN %u (%llu bytes, %u-byte blocks%s) is /dev/nbd%d", lun->id,
		(unsigned long long)eo.size_bytes, eo.block_size,
		eo.trim ? ", trim as UNMAP" : "", n->index);
	return n;
}

void xsvhba_nbd_free(struct xsvhba_nbd *n)
{
	if (!n)
		return;
	if (n->index >= 0) {
		/* the kernel sends DISC and lets go of its end; give it a
		 * moment before shutting the socket down under it */
		if (nbd_disconnect(n->index) == 0)
			xsvhba_nbd_wait_closed(n, 5000);
	}
	shutdown(n->fd, SHUT_RDWR);
	pthread_join(n->th, NULL);
	pthread_mutex_lock(&n->lock);
	while (n->st.inflight)
		pthread_cond_wait(&n->cond, &n->lock);
	pthread_mutex_unlock(&n->lock);
	if (n->index >= 0)
		XS_INFO(COMP, "/dev/nbd%d disconnected", n->index);
	close(n->fd);
	free(n->lb);
	server_destroy(n);
}
