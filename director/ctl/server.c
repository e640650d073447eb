/* SPDX-License-Identifier: MIT */
/*
 * server.c - the control socket: a Unix stream socket on the director's
 * event loop, one JSON request per line, replies in request order.
 *
 * Each connection runs one request at a time; a request that waits for
 * hosts' ACKs holds the connection (later lines stay buffered) until the
 * XCM drops its reference. Bounds: a line is at most XSD_CTL_MAX_LINE bytes;
 * a connection idle for XSD_CTL_IDLE_MS is closed; at most
 * XSD_CTL_MAX_CONNS connections.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <xscore/evloop.h>
#include <xscore/log.h>

#include "ctl/ctl.h"

#define COMP "ctl"
#define XSD_CTL_IDLE_MS 120000
#define XSD_CTL_MAX_CONNS 256

struct ctl_conn {
	struct xsd_ctl_server *srv;
	struct ctl_conn *next;
	int fd;
	struct xsd_actor who;
	char *in;
	size_t in_len, in_cap;
	char *out;
	size_t out_len, out_off;
	struct xsd_ctl_req *busy;   /* request whose reply we wait for */
	bool closing;               /* close once out is flushed */
	bool peer_gone;             /* EOF: run what was sent, then free */
	struct xs_timer *idle;
};

struct xsd_ctl_server {
	struct xs_loop *loop;
	struct xsd_ctl_ctx *ctx;
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct ctl_conn *conns;
	int n_conns;
};

static void conn_free(struct ctl_conn *c)
{
	struct xsd_ctl_server *srv = c->srv;

	for (struct ctl_conn **pp = &srv->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	srv->n_conns--;
	if (c->busy)
		c->busy->complete = NULL; /* the XCM still holds it; reply goes nowhere */
	if (!c->peer_gone)
		xs_loop_del_fd(srv->loop, c->fd);
	close(c->fd);
	xs_timer_free(c->idle);
	free(c->in);
	free(c->out);
	free(c);
}

static int out_append(struct ctl_conn *c, const char *s, size_t n)
{
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	{
		char *p = realloc(c->out, c->out_len + n);

		if (!p)
			return -ENOMEM;
		c->out = p;
	}
	memcpy(c->out + c->out_len, s, n);
	c->out_len += n;
	return 0;
}

/* Write what we can; returns <0 when the connection is dead. */
static int flush_out(struct ctl_conn *c)
{
	if (c->peer_gone) { /* nobody to read replies */
		c->out_off = c->out_len;
		return 0;
	}
	while (c->out_off < c->out_len) {
		ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0)
			return -EPIPE;
		c->out_off += (size_t)n;
	}
	/* while a request waits for hosts, read nothing more (later lines stay
	 * in the socket; a hangup is still reported) */
	xs_loop_mod_fd(c->srv->loop, c->fd,
		       (c->busy ? 0 : XS_IO_IN) | (c->out_off < c->out_len ? XS_IO_OUT : 0));
	return 0;
}

static void process(struct ctl_conn *c);
static void reply_done_async(struct xsd_ctl_req *req, void *arg);

static void reply_done(struct xsd_ctl_req *req, void *arg)
{
	struct ctl_conn *c = arg;
	char *s = json_dumps(req->reply, JSON_COMPACT);

	c->busy = NULL;
	if (!s || out_append(c, s, strlen(s)) || out_append(c, "\n", 1)) {
		XS_ERR(COMP, "out of memory building a reply");
		c->closing = true;
	}
	free(s);
}

/* Handle the lines buffered so far, one request at a time. */
static void process(struct ctl_conn *c)
{
	struct xsd_ctl_ctx *ctx = c->srv->ctx;

	while (!c->busy && !c->closing) {
		char *nl = memchr(c->in, '\n', c->in_len);
		struct xsd_ctl_req *req;
		size_t len;

		if (!nl) {
			if (c->in_len > XSD_CTL_MAX_LINE) {
				static const char msg[] =
					"{\"ok\":false,\"error\":\"request line longer than 65536 bytes\",\"code\":\"EPROTO\"}\n";

				ctx->counters.requests++;
				ctx->counters.too_long++;
				out_append(c, msg, sizeof(msg) - 1);
				c->closing = true;
				c->in_len = 0;
			}
			break;
		}
		len = (size_t)(nl - c->in);
		if (len && c->in[len - 1] == '\r')
			len--;
		if (len == 0) { /* blank line: ignore */
			memmove(c->in, nl + 1, c->in_len - (size_t)(nl + 1 - c->in));
			c->in_len -= (size_t)(nl + 1 - c->in);
			continue;
		}
		req = xsd_ctl_dispatch(ctx, c->in, len, &c->who);
		memmove(c->in, nl + 1, c->in_len - (size_t)(nl + 1 - c->in));
		c->in_len -= (size_t)(nl + 1 - c->in);
		if (!req) {
			c->closing = true;
			break;
		}
		c->busy = req;
		req->complete = reply_done;
		req->complete_arg = c;
		xsd_ctl_req_put(req); /* completes now unless the XCM took a reference */
		if (c->busy)
			c->busy->complete = reply_done_async;
	}
}

static void conn_io(struct xs_loop *loop, int fd, unsigned int events, void *arg);

/* Called after an asynchronous reply: write it and continue with the next line. */
static void conn_kick(struct ctl_conn *c)
{
	process(c);
	if (flush_out(c) < 0 || ((c->closing || c->peer_gone) && c->out_off == c->out_len &&
				 !c->busy)) {
		conn_free(c);
		return;
	}
	xs_timer_arm(c->idle, XSD_CTL_IDLE_MS, 0);
}

static void reply_done_async(struct xsd_ctl_req *req, void *arg)
{
	struct ctl_conn *c = arg;

	reply_done(req, arg);
	conn_kick(c);
}

static void conn_io(struct xs_loop *loop, int fd, unsigned int events, void *arg)
{
	struct ctl_conn *c = arg;

	if (events & XS_IO_IN) {
		for (;;) {
			ssize_t n;

			if (c->in_cap - c->in_len < 4096) {
				size_t cap = c->in_cap ? c->in_cap * 2 : 8192;
				char *p;

				if (cap > XSD_CTL_MAX_LINE * 2 + 8192)
					break; /* process() rejects the over-long line */
				p = realloc(c->in, cap);
				if (!p) {
					conn_free(c);
					return;
				}
				c->in = p;
				c->in_cap = cap;
			}
			n = read(fd, c->in + c->in_len, c->in_cap - c->in_len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				break;
			if (n <= 0) {
				/* peer closed: requests it sent in full still run (their
				 * replies are dropped), then the connection goes */
				c->peer_gone = true;
				xs_loop_del_fd(loop, fd);
				break;
			}
			c->in_len += (size_t)n;
			if (c->in_len > XSD_CTL_MAX_LINE && !memchr(c->in, '\n', c->in_len))
				break;
		}
	}
	process(c);
	if (flush_out(c) < 0 || ((c->closing || c->peer_gone) && c->out_off == c->out_len &&
				 !c->busy)) {
		conn_free(c);
		return;
	}
	xs_timer_arm(c->idle, XSD_CTL_IDLE_MS, 0);
}

static void conn_idle(struct xs_loop *loop, struct xs_timer *t, void *arg)
{
	struct ctl_conn *c = arg;

	if (c->busy) {
		xs_timer_arm(t, XSD_CTL_IDLE_MS, 0);
		return;
	}
	XS_DEBUG(COMP, "closing idle control connection of uid %u", c->who.uid);
	conn_free(c);
}

static void srv_accept(struct xs_loop *loop, int fd, unsigned int events, void *arg)
{
	struct xsd_ctl_server *srv = arg;

	for (;;) {
		struct ucred cred;
		socklen_t cl = sizeof(cred);
		struct passwd pw, *pwp = NULL;
		char pwbuf[1024];
		struct ctl_conn *c;
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				XS_WARN(COMP, "accept: %s", strerror(errno));
			return;
		}
		if (srv->n_conns >= XSD_CTL_MAX_CONNS) {
			XS_WARN(COMP, "too many control connections (%d); refusing one",
				srv->n_conns);
			close(cfd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(cfd);
			continue;
		}
		c->srv = srv;
		c->fd = cfd;
		if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0) {
			c->who.uid = cred.uid;
			if (getpwuid_r(cred.uid, &pw, pwbuf, sizeof(pwbuf), &pwp) == 0 && pwp)
				snprintf(c->who.user, sizeof(c->who.user), "%s", pw.pw_name);
			else
				snprintf(c->who.user, sizeof(c->who.user), "uid%u", cred.uid);
		} else {
			c->who.uid = (uint32_t)-1;
			snprintf(c->who.user, sizeof(c->who.user), "unknown");
		}
		c->idle = xs_timer_new(loop, conn_idle, c);
		if (!c->idle || xs_loop_add_fd(loop, cfd, XS_IO_IN, conn_io, c)) {
			xs_timer_free(c->idle);
			close(cfd);
			free(c);
			continue;
		}
		xs_timer_arm(c->idle, XSD_CTL_IDLE_MS, 0);
		c->next = srv->conns;
		srv->conns = c;
		srv->n_conns++;
		srv->ctx->counters.connections++;
	}
}

/* Remove a stale socket file; refuse if a live director answers on it. */
static int claim_path(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd, rc;

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
	close(fd);
	if (rc == 0)
		return -EADDRINUSE;
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

struct xsd_ctl_server *xsd_ctl_server_new(struct xs_loop *loop, struct xsd_ctl_ctx *ctx,
					  const struct xsd_ctl_server_opts *opts)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct xsd_ctl_server *srv;
	char dir[sizeof(a.sun_path)];
	char *slash;
	int rc;

	if (strlen(opts->path) >= sizeof(a.sun_path)) {
		XS_ERR(COMP, "control socket path %s is too long (max %zu)", opts->path,
		       sizeof(a.sun_path) - 1);
		errno = ENAMETOOLONG;
		return NULL;
	}
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return NULL;
	srv->loop = loop;
	srv->ctx = ctx;
	snprintf(srv->path, sizeof(srv->path), "%s", opts->path);
	snprintf(dir, sizeof(dir), "%s", opts->path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			XS_WARN(COMP, "mkdir %s: %s", dir, strerror(errno));
	}
	rc = claim_path(srv->path);
	if (rc) {
		XS_ERR(COMP, "control socket %s: %s", srv->path,
		       rc == -EADDRINUSE ? "another director is listening on it" : strerror(-rc));
		errno = -rc;
		goto free_srv;
	}
	srv->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (srv->fd < 0)
		goto free_srv;
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", srv->path);
	if (bind(srv->fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		XS_ERR(COMP, "bind %s: %s", srv->path, strerror(errno));
		goto close_fd;
	}
	if (chmod(srv->path, opts->mode ? opts->mode : 0660) < 0) {
		XS_ERR(COMP, "chmod %s: %s", srv->path, strerror(errno));
		goto unlink_path;
	}
	if (opts->group && *opts->group) {
		struct group *g = getgrnam(opts->group);

		if (!g) {
			XS_ERR(COMP, "control socket group '%s' does not exist", opts->group);
			errno = ENOENT;
			goto unlink_path;
		}
		if (chown(srv->path, (uid_t)-1, g->gr_gid) < 0) {
			XS_ERR(COMP, "chown %s to group %s: %s", srv->path, opts->group,
			       strerror(errno));
			goto unlink_path;
		}
	}
	if (listen(srv->fd, 64) < 0 || xs_loop_add_fd(loop, srv->fd, XS_IO_IN, srv_accept, srv))
		goto unlink_path;
	XS_INFO(COMP, "control socket %s", srv->path);
	return srv;
unlink_path:
	rc = errno;
	unlink(srv->path);
	errno = rc;
close_fd:
	rc = errno;
	close(srv->fd);
	errno = rc;
free_srv:
	rc = errno;
	free(srv);
	errno = rc;
	return NULL;
}

void xsd_ctl_server_free(struct xsd_ctl_server *srv)
{
	if (!srv)
		return;
	while (srv->conns)
		conn_free(srv->conns);
	xs_loop_del_fd(srv->loop, srv->fd);
	close(srv->fd);
	unlink(srv->path);
	free(srv);
}
