/* SPDX-License-Identifier: MIT */
/*
 * xs-fabricd - the embedded soft fabric: switch + SM + SA + CM for ports on
 * one machine. Ports attach over a Unix SOCK_SEQPACKET socket and speak the
 * typed records of soft/soft_proto.h. See docs/soft-fabric.md and
 * xs-fabricd(8).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <xscore/common.h>
#include <xscore/log.h>
#include <xscore/wire.h>

#include "fabricd.h"

#define MAX_PARTITIONS 32
#define MAX_LISTENS 64
#define MAX_MEMBERS 64

struct client {
	struct client *next;
	struct fabricd *d;
	int fd;
	bool dead;
	struct fd_port *port; /* after ATTACH */
	uint16_t agents[256]; /* registered agents per management class */
	uint64_t listens[MAX_LISTENS];
	int n_listens;
	uint64_t id;
};

/* A connection request between REQ and REP/REJ/timeout. */
struct conn {
	struct conn *next;
	struct fabricd *d;
	uint32_t id;
	struct client *active;
	uint32_t cookie;
	struct client *passive;
	struct xs_timer *timer;
};

struct partition {
	uint16_t pkey;
	int n;
	char *members[MAX_MEMBERS];
};

static struct partition partitions[MAX_PARTITIONS];
static int n_partitions;

/* ------------------------------------------------------------- ports */

static uint64_t name_hash(const char *s)
{
	uint64_t h = XS_U64(1469598103934665603); /* FNV-1a 64 */

	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= XS_U64(1099511628211);
	}
	return h;
}

static void guid_to_gid(uint64_t guid, uint8_t gid[16])
{
	xs_put64(gid, XS_SOFT_GID_PREFIX);
	xs_put64(gid + 8, guid);
}

struct fd_port *fd_port_by_lid(struct fabricd *d, uint16_t lid)
{
	for (struct fd_port *p = d->ports; p; p = p->next)
		if (p->lid == lid)
			return p;
	return NULL;
}

struct fd_port *fd_port_by_gid(struct fabricd *d, const uint8_t gid[16])
{
	for (struct fd_port *p = d->ports; p; p = p->next)
		if (memcmp(p->gid, gid, 16) == 0)
			return p;
	return NULL;
}

static struct fd_port *port_by_guid(struct fabricd *d, uint64_t guid)
{
	for (struct fd_port *p = d->ports; p; p = p->next)
		if (p->guid == guid)
			return p;
	return NULL;
}

uint16_t fd_shared_pkey(const struct fd_port *a, const struct fd_port *b, uint16_t want)
{
	const uint16_t all = 0xffff;
	const uint16_t *ak = a ? a->pkeys : &all, *bk = b ? b->pkeys : &all;
	int an = a ? a->n_pkeys : 1, bn = b ? b->n_pkeys : 1;

	for (int i = 0; i < an; i++) {
		if (want && (ak[i] & 0x7fff) != (want & 0x7fff))
			continue;
		for (int j = 0; j < bn; j++) {
			if ((ak[i] & 0x7fff) != (bk[j] & 0x7fff))
				continue;
			/* two limited members can't talk; the SM is a full member */
			if (!a || !b || (ak[i] & 0x8000) || (bk[j] & 0x8000))
				return ak[i];
		}
	}
	return 0;
}

/* ------------------------------------------------- state file (-S) */

/* One line per port: "<lid> <name>", the name %-escaped (bytes <= 0x20,
 * '%', >= 0x7f). Appended when a port name is first seen, read at start. */
static void state_append(struct fabricd *d, const struct fd_port *p)
{
	char esc[64 * 3 + 1], *o = esc;

	if (!d->state)
		return;
	for (const unsigned char *c = (const unsigned char *)p->name; *c; c++) {
		if (*c <= 0x20 || *c == '%' || *c >= 0x7f)
			o += sprintf(o, "%%%02x", *c);
		else
			*o++ = (char)*c;
	}
	*o = '\0';
	if (fprintf(d->state, "%u %s\n", p->lid, esc) < 0 || fflush(d->state) != 0 ||
	    fdatasync(fileno(d->state)) != 0)
		XS_ERR(FD_COMP, "state file %s: %s (LID of '%s' not saved)", d->state_path,
		       strerror(errno), p->name);
}

static struct fd_port *port_create(struct fabricd *d, const char *name, uint16_t lid);

static int state_load(struct fabricd *d)
{
	char line[512];
	int n = 0, lineno = 0;
	FILE *f = fopen(d->state_path, "a+");

	if (!f) {
		XS_ERR(FD_COMP, "state file %s: %s", d->state_path, strerror(errno));
		return -1;
	}
	rewind(f);
	while (fgets(line, sizeof(line), f)) {
		char name[64], *c, *end;
		unsigned long lid;
		size_t k = 0;

		lineno++;
		lid = strtoul(line, &end, 10);
		if (end == line || *end != ' ' || lid < 2 || lid >= 0xbfff || fd_port_by_lid(d, (uint16_t)lid))
			goto bad;
		for (c = end + 1; *c && *c != '\n'; c++) {
			unsigned int v;

			if (k >= sizeof(name) - 1)
				goto bad;
			if (*c == '%') {
				if (sscanf(c + 1, "%2x", &v) != 1 || v == 0)
					goto bad;
				name[k++] = (char)v;
				c += 2;
			} else {
				name[k++] = *c;
			}
		}
		name[k] = '\0';
		if (!k || port_create(d, name, (uint16_t)lid) == NULL)
			goto bad;
		if (lid >= d->next_lid)
			d->next_lid = (uint16_t)(lid + 1);
		n++;
		continue;
bad:
		XS_WARN(FD_COMP, "state file %s line %d: not '<lid> <name>' or a duplicate; ignored",
			d->state_path, lineno);
	}
	d->state = f;
	XS_INFO(FD_COMP, "state file %s: %d port(s) keep their LIDs", d->state_path, n);
	return 0;
}

static struct fd_port *port_get(struct fabricd *d, const char *name)
{
	struct fd_port *p;

	for (p = d->ports; p; p = p->next)
		if (strcmp(p->name, name) == 0)
			return p;
	if (d->next_lid >= 0xbfff) {
		XS_ERR(FD_COMP, "out of unicast LIDs for port '%s'", name);
		return NULL;
	}
	p = port_create(d, name, d->next_lid);
	if (p) {
		d->next_lid++;
		state_append(d, p);
	}
	return p;
}

static struct fd_port *port_create(struct fabricd *d, const char *name, uint16_t lid)
{
	struct fd_port *p;
	uint64_t h;

	for (p = d->ports; p; p = p->next)
		if (strcmp(p->name, name) == 0)
			return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->lid = lid;
	/* GUID: our OUI on top, 40 bits of the name's hash below; bump on collision */
	h = name_hash(name);
	do {
		p->guid = ((uint64_t)XS_SOFT_OUI << 40) | (h & XS_U64(0xffffffffff));
		h++;
	} while (port_by_guid(d, p->guid) || p->guid == d->sm_guid);
	guid_to_gid(p->guid, p->gid);
	p->pkeys[p->n_pkeys++] = 0xffff;
	for (int i = 0; i < n_partitions; i++)
		for (int j = 0; j < partitions[i].n; j++) {
			if (strcmp(partitions[i].members[j], name) != 0)
				continue;
			if (p->n_pkeys < XS_MAX_PKEYS)
				p->pkeys[p->n_pkeys++] = partitions[i].pkey;
			else
				XS_WARN(FD_COMP, "port '%s': P_Key table full (%d), not a member "
					"of 0x%04x", name, XS_MAX_PKEYS, partitions[i].pkey);
		}
	p->next = d->ports;
	d->ports = p;
	XS_INFO(FD_COMP, "port '%s': LID %u GUID 0x%016llx, %d P_Keys", name, p->lid,
		(unsigned long long)p->guid, p->n_pkeys);
	return p;
}

static void port_info(const struct fd_port *p, struct xs_softp_port *out)
{
	memset(out, 0, sizeof(*out));
	out->port_guid = p->guid;
	out->node_guid = p->guid;
	memcpy(out->gid, p->gid, 16);
	out->lid = p->lid;
	out->sm_lid = XS_SOFT_SM_LID;
	for (int i = 0; i < p->n_pkeys; i++)
		out->pkeys[i] = p->pkeys[i];
	out->n_pkeys = (uint8_t)p->n_pkeys;
	out->state = XS_PORT_ACTIVE;
}

/* ----------------------------------------------------------- clients */

static void client_kill(struct client *c, const char *why);

static void hdr_init(void *msg, int type, uint32_t seq)
{
	struct xs_softp_hdr *h = msg;
	size_t size = xs_softp_size(type);

	memset(msg, 0, size);
	h->type = (uint16_t)type;
	h->len = (uint16_t)size;
	h->seq = seq;
}

static int client_send_x(struct client *c, const void *msg, int pass_fd, bool droppable);

/* Send one record (and optionally an fd). A client that can't take it is
 * dropped: the daemon never blocks on one port. */
static int client_send(struct client *c, const void *msg, int pass_fd)
{
	return client_send_x(c, msg, pass_fd, false);
}

/* A MAD for a client whose socket is full is dropped and counted instead
 * (datagram semantics): a flood from one port can't get another dropped. */
static int client_send_mad(struct client *c, const void *msg)
{
	return client_send_x(c, msg, -1, true);
}

static int client_send_x(struct client *c, const void *msg, int pass_fd, bool droppable)
{
	const struct xs_softp_hdr *h = msg;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = h->len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (c->dead)
		return -ENOTCONN;
	if (pass_fd >= 0) {
		struct cmsghdr *cm;

		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &pass_fd, sizeof(int));
	}
	do
		n = sendmsg(c->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)h->len)
		return 0;
	if (n < 0 && errno == EAGAIN && droppable) {
		c->d->cnt.mads_drop_full++;
		return -EAGAIN;
	}
	if (n < 0 && errno == EAGAIN) {
		client_kill(c, "not reading its socket (send buffer full)");
		return -EAGAIN;
	}
	client_kill(c, n < 0 ? strerror(errno) : "short send");
	return n < 0 ? -errno : -EIO;
}

/*
 * Take a pending connection out of the table before telling anyone about
 * it: a send may drop a client, and dropping a client walks the table.
 */
static void conn_unlink(struct conn *cn)
{
	for (struct conn **pp = &cn->d->conns; *pp; pp = &(*pp)->next)
		if (*pp == cn) {
			*pp = cn->next;
			break;
		}
	cn->next = NULL;
}

static void conn_destroy(struct conn *cn)
{
	xs_timer_free(cn->timer);
	free(cn);
}

static void conn_free(struct conn *cn)
{
	conn_unlink(cn);
	conn_destroy(cn);
}

static void send_unreach(struct client *c, uint32_t cookie, int status)
{
	struct xs_softp_cm_unreach m;

	hdr_init(&m, XS_SOFTP_CM_UNREACH, 0);
	m.cookie = cookie;
	m.status = status;
	client_send(c, &m, -1);
}

static void send_cancel(struct client *c, uint32_t conn_id)
{
	struct xs_softp_cm_cancel m;

	hdr_init(&m, XS_SOFTP_CM_CANCEL, 0);
	m.conn_id = conn_id;
	client_send(c, &m, -1);
}

/* Mark a client dead: close its socket now, withdraw what it had pending,
 * free the struct later (reap timer) so callers up the stack stay valid. */
static void client_kill(struct client *c, const char *why)
{
	struct fabricd *d = c->d;
	struct conn *cn, *next;

	if (c->dead)
		return;
	c->dead = true;
	if (why) {
		d->cnt.clients_dropped++;
		XS_WARN(FD_COMP, "client %llu (port '%s'): %s; dropping it",
			(unsigned long long)c->id, c->port ? c->port->name : "-", why);
	} else {
		XS_INFO(FD_COMP, "port '%s' detached", c->port ? c->port->name : "-");
	}
	xs_loop_del_fd(d->loop, c->fd);
	close(c->fd);
	c->fd = -1;
	/* first take this client's pending connections out of the table ... */
	{
		struct conn **pp = &d->conns, *mine = NULL;

		while (*pp) {
			cn = *pp;
			if (cn->active == c || cn->passive == c) {
				*pp = cn->next;
				cn->next = mine;
				mine = cn;
			} else {
				pp = &cn->next;
			}
		}
		/* ... then tell the other sides (which may drop them in turn) */
		for (cn = mine; cn; cn = next) {
			next = cn->next;
			if (cn->active == c) {
				/* the active side vanished: withdraw the request */
				if (cn->passive != c)
					send_cancel(cn->passive, cn->id);
			} else {
				d->cnt.cm_unreachable++;
				send_unreach(cn->active, cn->cookie, -EHOSTUNREACH);
			}
			conn_destroy(cn);
		}
	}
	if (c->port) {
		fd_sa_port_detached(d->sa, c->port);
		c->port->client = NULL;
	}
	xs_timer_arm(d->reap_timer, 0, 0);
}

static void reap(struct xs_loop *loop, struct xs_timer *t, void *arg)
{
	struct fabricd *d = arg;
	struct client **pp = &d->clients;

	while (*pp) {
		struct client *c = *pp;

		if (c->dead) {
			*pp = c->next;
			free(c);
		} else {
			pp = &c->next;
		}
	}
}

/* --------------------------------------------------------- handlers */

static void on_attach(struct client *c, const struct xs_softp_attach *m)
{
	struct xs_softp_attach_reply r;
	struct fd_port *p;

	hdr_init(&r, XS_SOFTP_ATTACH_REPLY, m->h.seq);
	if (c->port) {
		client_kill(c, "second ATTACH");
		return;
	}
	p = port_get(c->d, m->port_name);
	if (!p) {
		r.status = -ENOSPC;
		snprintf(r.why, sizeof(r.why), "no LID left");
	} else if (p->client) {
		r.status = -EADDRINUSE;
		snprintf(r.why, sizeof(r.why), "port name '%.32s' is attached", m->port_name);
	} else {
		p->client = c;
		c->port = p;
		c->d->cnt.attaches++;
		port_info(p, &r.port);
		XS_INFO(FD_COMP, "port '%s' attached: LID %u", p->name, p->lid);
	}
	client_send(c, &r, -1);
}

static bool client_listens(const struct client *c, uint64_t sid)
{
	for (int i = 0; i < c->n_listens; i++)
		if (c->listens[i] == sid)
			return true;
	return false;
}

static void on_listen(struct client *c, const struct xs_softp_listen *m, bool on)
{
	struct xs_softp_status r;

	if (!on) {
		for (int i = 0; i < c->n_listens; i++)
			if (c->listens[i] == m->service_id) {
				c->listens[i] = c->listens[--c->n_listens];
				break;
			}
		return;
	}
	hdr_init(&r, XS_SOFTP_CM_LISTEN_REPLY, m->h.seq);
	if (client_listens(c, m->service_id))
		r.status = -EADDRINUSE;
	else if (c->n_listens >= MAX_LISTENS)
		r.status = -ENOSPC;
	else
		c->listens[c->n_listens++] = m->service_id;
	client_send(c, &r, -1);
}

static void mad_route(struct client *c, const struct xs_softp_mad_send *m)
{
	struct fabricd *d = c->d;
	struct xs_softp_mad_recv r;
	uint8_t mclass = m->mad[1];
	struct fd_port *dst;
	uint16_t pkey = m->pkey ? m->pkey : XS_DEFAULT_PKEY;

	if (m->dqpn != 1) {
		d->cnt.mads_drop_qpn++;
		XS_DEBUG(FD_COMP, "MAD from LID %u to QPN %u dropped: only the GSI (QP1)",
			 c->port->lid, m->dqpn);
		return;
	}
	if (m->dlid == XS_SOFT_SM_LID) {
		struct xs_softp_mad_recv resp[8];
		int n;

		if (!fd_shared_pkey(c->port, NULL, pkey)) {
			d->cnt.mads_drop_pkey++;
			return;
		}
		if (mclass != XS_SA_CLASS) {
			d->cnt.mads_drop_noagent++;
			XS_DEBUG(FD_COMP, "MAD class 0x%02x to the SM LID dropped: only the SA "
				 "(class 0x03) answers there", mclass);
			return;
		}
		d->cnt.sa_requests++;
		n = fd_sa_handle(d->sa, c->port, m, resp, (int)XS_ARRAY_SIZE(resp));
		for (int i = 0; i < n && !c->dead; i++) {
			hdr_init(&r, XS_SOFTP_MAD_RECV, 0);
			r.slid = XS_SOFT_SM_LID;
			r.sqpn = 1;
			r.pkey = pkey;
			r.mad_len = resp[i].mad_len;
			memcpy(r.sgid, d->sm_gid, 16);
			memcpy(r.mad, resp[i].mad, r.mad_len);
			client_send_mad(c, &r);
		}
		return;
	}
	dst = fd_port_by_lid(d, m->dlid);
	if (!dst || !dst->client || dst->client->dead) {
		d->cnt.mads_drop_nolid++;
		XS_DEBUG(FD_COMP, "MAD to LID %u dropped: no such port attached", m->dlid);
		return;
	}
	if (!fd_shared_pkey(c->port, dst, pkey)) {
		d->cnt.mads_drop_pkey++;
		XS_DEBUG(FD_COMP, "MAD LID %u -> %u with P_Key 0x%04x dropped: not shared",
			 c->port->lid, dst->lid, pkey);
		return;
	}
	if (!dst->client->agents[mclass]) {
		d->cnt.mads_drop_noagent++;
		XS_DEBUG(FD_COMP, "MAD class 0x%02x to LID %u dropped: no agent there", mclass,
			 dst->lid);
		return;
	}
	hdr_init(&r, XS_SOFTP_MAD_RECV, 0);
	r.slid = c->port->lid;
	r.sqpn = 1;
	r.pkey = pkey;
	r.sl = m->sl;
	r.mad_len = m->mad_len;
	memcpy(r.sgid, c->port->gid, 16);
	memcpy(r.mad, m->mad, m->mad_len);
	d->cnt.mads_routed++;
	client_send_mad(dst->client, &r);
}

static void conn_timeout(struct xs_loop *loop, struct xs_timer *t, void *arg)
{
	struct conn *cn = arg;

	cn->d->cnt.cm_timeouts++;
	XS_INFO(FD_COMP, "connect request %u from '%s': no answer from '%s' in time", cn->id,
		cn->active->port->name, cn->passive->port->name);
	conn_unlink(cn);
	send_unreach(cn->active, cn->cookie, -ETIMEDOUT);
	send_cancel(cn->passive, cn->id);
	conn_destroy(cn);
}

static void on_cm_req(struct client *c, const struct xs_softp_cm_req *m)
{
	struct fabricd *d = c->d;
	struct xs_softp_cm_req_ind ind;
	struct fd_port *dst;
	struct conn *cn;
	uint16_t pkey;

	d->cnt.cm_reqs++;
	dst = m->has_gid ? fd_port_by_gid(d, m->dgid) : fd_port_by_lid(d, m->dlid);
	if (!dst || !dst->client || dst->client->dead) {
		d->cnt.cm_unreachable++;
		send_unreach(c, m->cookie, -EHOSTUNREACH);
		return;
	}
	pkey = fd_shared_pkey(c->port, dst, m->pkey ? m->pkey : c->port->pkeys[0]);
	if (!pkey) {
		d->cnt.cm_unreachable++;
		XS_DEBUG(FD_COMP, "connect '%s' -> '%s': no shared P_Key", c->port->name,
			 dst->name);
		send_unreach(c, m->cookie, -EHOSTUNREACH);
		return;
	}
	if (!client_listens(dst->client, m->service_id)) {
		struct xs_softp_cm_rej_ind rej;

		d->cnt.cm_rejected++;
		hdr_init(&rej, XS_SOFTP_CM_REJ_IND, 0);
		rej.cookie = m->cookie;
		rej.reason = XS_CM_REJ_INVALID_SID;
		client_send(c, &rej, -1);
		return;
	}
	cn = calloc(1, sizeof(*cn));
	if (!cn)
		goto err_nomem;
	cn->timer = xs_timer_new(d->loop, conn_timeout, cn);
	if (!cn->timer)
		goto err_free_conn;
	cn->d = d;
	cn->id = ++d->next_conn_id;
	cn->active = c;
	cn->cookie = m->cookie;
	cn->passive = dst->client;
	cn->next = d->conns;
	d->conns = cn;
	xs_timer_arm(cn->timer, m->timeout_ms, 0);

	hdr_init(&ind, XS_SOFTP_CM_REQ_IND, 0);
	ind.service_id = m->service_id;
	ind.remote_port_guid = c->port->guid;
	ind.conn_id = cn->id;
	ind.remote_lid = c->port->lid;
	ind.pkey = pkey;
	memcpy(ind.remote_gid, c->port->gid, 16);
	ind.private_len = m->private_len;
	memcpy(ind.private_data, m->private_data, m->private_len);
	XS_DEBUG(FD_COMP, "connect %u: '%s' -> '%s' service 0x%016llx", cn->id, c->port->name,
		 dst->name, (unsigned long long)m->service_id);
	if (client_send(dst->client, &ind, -1) < 0)
		return; /* client_kill already answered the active side */
	return;

err_free_conn:
	free(cn);
err_nomem:
	send_unreach(c, m->cookie, -EHOSTUNREACH);
}

static struct conn *conn_by_passive(struct fabricd *d, struct client *c, uint32_t id)
{
	for (struct conn *cn = d->conns; cn; cn = cn->next)
		if (cn->id == id && cn->passive == c)
			return cn;
	return NULL;
}

static void on_cm_rep(struct client *c, const struct xs_softp_cm_rep *m)
{
	struct fabricd *d = c->d;
	struct conn *cn = conn_by_passive(d, c, m->conn_id);
	struct xs_softp_cm_established est;
	struct xs_softp_status r;
	int sv[2];

	hdr_init(&r, XS_SOFTP_CM_REP_REPLY, m->h.seq);
	if (!cn) {
		r.status = -ECONNABORTED;
		client_send(c, &r, -1);
		return;
	}
	conn_unlink(cn);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		int err = errno;

		XS_ERR(FD_COMP, "connect %u: socketpair: %s", cn->id, strerror(err));
		r.status = -err;
		client_send(c, &r, -1);
		send_unreach(cn->active, cn->cookie, -EHOSTUNREACH);
		conn_destroy(cn);
		return;
	}
	hdr_init(&est, XS_SOFTP_CM_ESTABLISHED, 0);
	est.cookie = cn->cookie;
	est.remote_qpn = m->qpn;
	est.private_len = m->private_len;
	memcpy(est.private_data, m->private_data, m->private_len);
	client_send(cn->active, &est, sv[0]);
	client_send(c, &r, sv[1]);
	close(sv[0]);
	close(sv[1]);
	d->cnt.cm_established++;
	XS_DEBUG(FD_COMP, "connect %u established", cn->id);
	conn_destroy(cn);
}

static void on_cm_rej(struct client *c, const struct xs_softp_cm_rej *m)
{
	struct fabricd *d = c->d;
	struct conn *cn = conn_by_passive(d, c, m->conn_id);
	struct xs_softp_cm_rej_ind r;

	if (!cn)
		return; /* timed out or withdrawn meanwhile */
	conn_unlink(cn);
	hdr_init(&r, XS_SOFTP_CM_REJ_IND, 0);
	r.cookie = cn->cookie;
	r.reason = m->reason;
	r.private_len = m->private_len;
	memcpy(r.private_data, m->private_data, m->private_len);
	d->cnt.cm_rejected++;
	client_send(cn->active, &r, -1);
	conn_destroy(cn);
}

static void on_cm_abort(struct client *c, const struct xs_softp_cm_abort *m)
{
	for (struct conn *cn = c->d->conns; cn; cn = cn->next)
		if (cn->active == c && cn->cookie == m->cookie) {
			conn_unlink(cn);
			send_cancel(cn->passive, cn->id);
			conn_destroy(cn);
			return;
		}
}

static void on_client(struct xs_loop *loop, int fd, unsigned int events, void *arg)
{
	struct client *c = arg;
	union {
		uint8_t b[XS_SOFTP_MAX_MSG + 1];
		struct xs_softp_hdr h;
		uint64_t align;
	} buf;
	union {
		char b[CMSG_SPACE(sizeof(int) * 8)];
		struct cmsghdr align;
	} cbuf;

	for (int budget = 64; budget > 0 && !c->dead; budget--) {
		struct iovec iov = { .iov_base = buf.b, .iov_len = sizeof(buf.b) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = cbuf.b, .msg_controllen = sizeof(cbuf.b) };
		const char *why = NULL;
		bool truncated;
		ssize_t n;
		int type;

		n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			client_kill(c, strerror(errno));
			return;
		}
		/* never keep descriptors a client passes us */
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
				int nfd = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));

				for (int i = 0; i < nfd; i++) {
					int pfd;

					memcpy(&pfd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
					close(pfd);
				}
				why = "passed file descriptors";
			}
		}
		if (n == 0) {
			client_kill(c, NULL);
			return;
		}
		truncated = (mh.msg_flags & MSG_TRUNC) || n > XS_SOFTP_MAX_MSG;
		type = why ? -EBADMSG
			   : xs_softp_decode(buf.b, truncated ? XS_SOFTP_MAX_MSG + 1 : (size_t)n,
					     true, &why);
		if (type < 0) {
			char text[160];

			c->d->cnt.bad_msgs++;
			snprintf(text, sizeof(text), "bad message (%zd bytes, type %u): %s", n,
				 n >= 2 ? buf.h.type : 0, why);
			client_kill(c, text);
			return;
		}
		if (!c->port && type != XS_SOFTP_ATTACH) {
			c->d->cnt.bad_msgs++;
			client_kill(c, "message before ATTACH");
			return;
		}
		switch (type) {
		case XS_SOFTP_ATTACH:
			on_attach(c, (const void *)buf.b);
			break;
		case XS_SOFTP_AGENT_REG:
		case XS_SOFTP_AGENT_UNREG: {
			const struct xs_softp_agent *m = (const void *)buf.b;

			if (type == XS_SOFTP_AGENT_REG) {
				struct xs_softp_status r;

				c->agents[m->mgmt_class]++;
				hdr_init(&r, XS_SOFTP_AGENT_REPLY, m->h.seq);
				client_send(c, &r, -1);
			} else if (c->agents[m->mgmt_class]) {
				c->agents[m->mgmt_class]--;
			}
			break;
		}
		case XS_SOFTP_MAD_SEND:
			mad_route(c, (const void *)buf.b);
			break;
		case XS_SOFTP_CM_LISTEN:
		case XS_SOFTP_CM_UNLISTEN:
			on_listen(c, (const void *)buf.b, type == XS_SOFTP_CM_LISTEN);
			break;
		case XS_SOFTP_CM_REQ:
			on_cm_req(c, (const void *)buf.b);
			break;
		case XS_SOFTP_CM_REP:
			on_cm_rep(c, (const void *)buf.b);
			break;
		case XS_SOFTP_CM_REJ:
			on_cm_rej(c, (const void *)buf.b);
			break;
		case XS_SOFTP_CM_ABORT:
			on_cm_abort(c, (const void *)buf.b);
			break;
		default:
			break;
		}
	}
}

static void on_listen_sock(struct xs_loop *loop, int fd, unsigned int events, void *arg)
{
	struct fabricd *d = arg;
	static uint64_t next_id;

	for (;;) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct client *c;
		int sz = 1 << 20;

		if (cfd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				XS_WARN(FD_COMP, "accept: %s", strerror(errno));
			return;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(cfd);
			continue;
		}
		setsockopt(cfd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		c->d = d;
		c->fd = cfd;
		c->id = ++next_id;
		if (xs_loop_add_fd(loop, cfd, XS_IO_IN, on_client, c) < 0) {
			close(cfd);
			free(c);
			continue;
		}
		c->next = d->clients;
		d->clients = c;
	}
}

/* ------------------------------------------------------------- main */

static void log_counters(struct fabricd *d)
{
	const struct fd_counters *k = &d->cnt;

	XS_NOTICE(FD_COMP,
		  "counters: attaches %llu, bad messages %llu, clients dropped %llu, MADs routed "
		  "%llu, dropped (P_Key %llu, no LID %llu, no agent %llu, QPN %llu, queue full "
		  "%llu), SA requests "
		  "%llu (bad %llu), CM REQ %llu, established %llu, rejected %llu, timed out %llu, "
		  "unreachable %llu",
		  (unsigned long long)k->attaches, (unsigned long long)k->bad_msgs,
		  (unsigned long long)k->clients_dropped, (unsigned long long)k->mads_routed,
		  (unsigned long long)k->mads_drop_pkey, (unsigned long long)k->mads_drop_nolid,
		  (unsigned long long)k->mads_drop_noagent, (unsigned long long)k->mads_drop_qpn,
		  (unsigned long long)k->mads_drop_full,
		  (unsigned long long)k->sa_requests, (unsigned long long)k->sa_bad,
		  (unsigned long long)k->cm_reqs, (unsigned long long)k->cm_established,
		  (unsigned long long)k->cm_rejected, (unsigned long long)k->cm_timeouts,
		  (unsigned long long)k->cm_unreachable);
}

static void on_signal(struct xs_loop *loop, int signo, void *arg)
{
	struct fabricd *d = arg;

	if (signo == SIGUSR1) {
		log_counters(d);
		return;
	}
	XS_NOTICE(FD_COMP, "signal %d: shutting down", signo);
	xs_loop_stop(loop);
}

static int parse_partition(const char *arg)
{
	struct partition *pt;
	char *end, *list, *tok, *save = NULL;
	unsigned long v;

	if (n_partitions >= MAX_PARTITIONS) {
		fprintf(stderr, "xs-fabricd: at most %d partitions\n", MAX_PARTITIONS);
		return -1;
	}
	errno = 0;
	v = strtoul(arg, &end, 0);
	if (errno || end == arg || *end != ':' || v == 0 || v > 0xffff || (v & 0x7fff) == 0 ||
	    (v & 0x7fff) == 0x7fff) {
		fprintf(stderr,
			"xs-fabricd: bad partition '%s': want PKEY:port[,port...] with a P_Key "
			"such as 0x8001 (not 0, not the default 0x7fff/0xffff)\n",
			arg);
		return -1;
	}
	pt = &partitions[n_partitions];
	pt->pkey = (uint16_t)v;
	list = strdup(end + 1);
	if (!list)
		return -1;
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!*tok || strlen(tok) >= 64 || pt->n >= MAX_MEMBERS) {
			fprintf(stderr, "xs-fabricd: bad member '%s' in partition '%s'\n", tok, arg);
			free(list);
			return -1;
		}
		pt->members[pt->n] = strdup(tok);
		if (!pt->members[pt->n]) {
			free(list);
			return -1;
		}
		pt->n++;
	}
	free(list);
	if (pt->n == 0) {
		fprintf(stderr, "xs-fabricd: partition '%s' names no ports\n", arg);
		return -1;
	}
	n_partitions++;
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: xs-fabricd [-f] [-s PATH] [-S FILE] [-d COMPONENTS] [-P PKEY:PORT[,PORT...]]...\n"
		"  -s PATH   listening socket (default $XS_FABRIC_SOCK or %s)\n"
		"  -f        stay in the foreground, log to stderr (default: syslog)\n"
		"  -d LIST   debug output for components: fabricd,sa or all\n"
		"  -P SPEC   partition: P_Key and the port names that are full members\n"
		"            (repeatable; every port is a full member of 0xffff)\n"
		"  -S FILE   keep port LIDs in FILE across restarts\n"
		"  -h        this help\n",
		XS_SOFT_DEFAULT_SOCK);
}

static int make_parent_dir(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int open_listener(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		XS_ERR(FD_COMP, "socket path '%s' is too long", path);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* a live daemon on the path wins; a stale socket file is replaced */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EAGAIN) {
		XS_ERR(FD_COMP, "another xs-fabricd is serving %s", path);
		close(fd);
		return -EADDRINUSE;
	}
	close(fd);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	rc = make_parent_dir(path);
	if (rc < 0) {
		XS_ERR(FD_COMP, "can't create the directory of %s: %s", path, xs_strerror(rc));
		goto err_close;
	}
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
		rc = -errno;
		XS_ERR(FD_COMP, "can't listen on %s: %s", path, xs_strerror(rc));
		goto err_close;
	}
	return fd;

err_close:
	close(fd);
	return rc;
}

int main(int argc, char **argv)
{
	struct fabricd d = { .lfd = -1, .next_lid = 2 };
	bool foreground = false;
	const char *debug = NULL;
	int opt, rc = 1;

	d.sock_path = getenv("XS_FABRIC_SOCK");
	if (!d.sock_path || !*d.sock_path)
		d.sock_path = XS_SOFT_DEFAULT_SOCK;
	while ((opt = getopt(argc, argv, "fs:d:P:S:h")) != -1) {
		switch (opt) {
		case 'f':
			foreground = true;
			break;
		case 's':
			d.sock_path = optarg;
			break;
		case 'd':
			debug = optarg;
			break;
		case 'P':
			if (parse_partition(optarg) < 0)
				return 2;
			break;
		case 'S':
			d.state_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	/* a SIGTERM during start-up waits for the loop (signalfd) instead of
	 * killing us with the socket half set up */
	{
		sigset_t ss;

		sigemptyset(&ss);
		sigaddset(&ss, SIGTERM);
		sigaddset(&ss, SIGINT);
		sigaddset(&ss, SIGUSR1);
		sigprocmask(SIG_BLOCK, &ss, NULL);
	}
	/* start-up errors go to stderr; syslog once detached */
	xs_log_open("xs-fabricd", XS_LOG_STDERR, XS_LOG_INFO);
	if (debug)
		xs_log_set_debug(debug);
	signal(SIGPIPE, SIG_IGN);

	d.sm_guid = ((uint64_t)XS_SOFT_OUI << 40) | 1;
	guid_to_gid(d.sm_guid, d.sm_gid);
	if (d.state_path && state_load(&d) < 0)
		goto out_partitions;
	d.lfd = open_listener(d.sock_path);
	if (d.lfd < 0)
		goto out_partitions;
	/* detach before creating the loop: a signalfd watched by an epoll set
	 * keeps reporting the signals of the process that added it */
	if (!foreground) {
		if (daemon(0, 0) < 0) {
			XS_ERR(FD_COMP, "daemon: %s", strerror(errno));
			goto out_sock;
		}
		xs_log_open("xs-fabricd", XS_LOG_SYSLOG, XS_LOG_INFO);
	}
	d.loop = xs_loop_new();
	if (!d.loop) {
		XS_ERR(FD_COMP, "event loop: %s", strerror(errno));
		goto out_sock;
	}
	d.reap_timer = xs_timer_new(d.loop, reap, &d);
	d.sa = fd_sa_new(&d);
	if (!d.reap_timer || !d.sa)
		goto out_loop;
	if (xs_loop_add_signal(d.loop, SIGTERM, on_signal, &d) < 0 ||
	    xs_loop_add_signal(d.loop, SIGINT, on_signal, &d) < 0 ||
	    xs_loop_add_signal(d.loop, SIGUSR1, on_signal, &d) < 0) {
		XS_ERR(FD_COMP, "signal set-up failed");
		goto out_loop;
	}
	if (xs_loop_add_fd(d.loop, d.lfd, XS_IO_IN, on_listen_sock, &d) < 0)
		goto out_loop;
	XS_NOTICE(FD_COMP, "soft fabric up on %s: SM/SA LID %u, %d partition(s) besides 0xffff",
		  d.sock_path, XS_SOFT_SM_LID, n_partitions);
	rc = xs_loop_run(d.loop) < 0 ? 1 : 0;
	log_counters(&d);

out_loop:
	if (d.loop)
		xs_loop_del_fd(d.loop, d.lfd);
	while (d.conns)
		conn_free(d.conns);
	for (struct client *c = d.clients; c; c = c->next)
		if (!c->dead) {
			xs_loop_del_fd(d.loop, c->fd);
			close(c->fd);
			c->dead = true;
		}
	while (d.clients) {
		struct client *c = d.clients;

		d.clients = c->next;
		free(c);
	}
	while (d.ports) {
		struct fd_port *p = d.ports;

		d.ports = p->next;
		free(p);
	}
	if (d.sa)
		fd_sa_free(d.sa);
	xs_timer_free(d.reap_timer);
	if (d.loop)
		xs_loop_free(d.loop);
out_sock:
	close(d.lfd);
	unlink(d.sock_path);
out_partitions:
	if (d.state)
		fclose(d.state);
	while (d.ports) {
		struct fd_port *p = d.ports;

		d.ports = p->next;
		free(p);
	}
	for (int i = 0; i < n_partitions; i++)
		for (int j = 0; j < partitions[i].n; j++)
			free(partitions[i].members[j]);
	return rc;
}
