/* SPDX-License-Identifier: MIT */
/*
 * umad_port.c - the libibumad MAD engine (see umad_port.h for the design:
 * one reader thread per port, per-agent queues with an eventfd each).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <endian.h>
#include <infiniband/umad.h>

#include <xscore/log.h>
#include <xscore/wire.h>

#include "umad_port.h"

#define COMP "umad"

#define RX_QUEUE_MAX 256         /* MADs queued per agent before we drop */
#define EV_QUEUE_MAX 8           /* port-change events kept */
#define READER_SLICE_MS 100      /* the reader re-checks its stop flag this often */
#define PORT_CHECK_MS 1000       /* port attributes re-read this often */
#define LINGER_MS 100            /* see xs_umad_port_close */
/* How long the kernel keeps a sent request waiting for its response. The
 * kernel drops a response that matches no waiting request, so requests must
 * be sent with a timeout; callers time out on their own (xs_mad_rpc), this
 * only has to be longer than any caller's wait. */
#define KERNEL_RESP_WINDOW_MS 8000
#define RX_MAX_LEN (256 * 1024)  /* largest RMPP-reassembled MAD we accept */
/* umad2sim 0.10 copies a received MAD into a buffer of sizeof(struct
 * sim_request) = 288 bytes that also holds the 64-byte umad header, so only
 * the first 224 bytes of the MAD arrive; it then hands out 320 bytes, the
 * last 32 read past the end of that buffer (heap garbage). Under the
 * simulator we zero those 32 bytes instead of passing the garbage on. */
#define SIM_MAD_BYTES 224

struct mad_entry {
	struct mad_entry *next;
	struct xs_mad_addr src;
	uint32_t len;
	uint8_t mad[];
};

struct umad_agent {
	struct xs_mad_agent base;
	struct xs_umad_port *port;
	int id;                    /* libibumad agent id */
	int efd;                   /* readable while the queue is non-empty */
	pthread_cond_t cond;       /* with port->lock */
	struct mad_entry *head, *tail;
	unsigned int qlen;
	struct umad_agent *next;
};

struct xs_umad_port {
	int portid;                /* umad_open_port handle */
	int fd;                    /* umad_get_fd(portid); only the reader reads it */
	char ca[UMAD_CA_NAME_LEN];
	int portnum;
	int gid_index;
	bool sim;

	pthread_t reader;
	bool reader_started;
	atomic_bool stop;
	int stop_efd;

	pthread_mutex_t lock;      /* agents, queues, events, attr, stats */
	struct umad_agent *agents;

	int issm_fd;               /* -1 until a server agent raised IsSM */
	int smi_ids[2];            /* simulator: dummy agents for 0x01 / 0x81 */

	atomic_uint_fast64_t last_send_ms;

	int ev_efd;
	struct xs_event evq[EV_QUEUE_MAX];
	unsigned int ev_head, ev_count;
	struct xs_port_attr attr;  /* last known, for change detection */
	bool have_attr;

	struct xs_umad_stats st;
	uint8_t *rxbuf;
	size_t rxcap;
};

static inline struct umad_agent *to_uagent(struct xs_mad_agent *a)
{
	return xs_container_of(a, struct umad_agent, base);
}

bool xs_umad_under_sim(void)
{
	const char *p = getenv("LD_PRELOAD");

	return p && strstr(p, "umad2sim") != NULL;
}

/* Whether a server agent raises IsSM: XS_UMAD_ISSM=1/0 decides; without it,
 * only under the simulator (on real hardware IsSM tells the SM that an SM
 * lives on this port, which is not harmless). */
static bool issm_wanted(const struct xs_umad_port *p)
{
	const char *e = getenv("XS_UMAD_ISSM");

	if (e && *e)
		return strcmp(e, "0") != 0;
	return p->sim;
}

static void efd_set(int efd)
{
	uint64_t one = 1;

	if (write(efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		XS_WARN(COMP, "eventfd write: %s", strerror(errno));
}

static void efd_clear(int efd)
{
	uint64_t v;

	if (read(efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		XS_WARN(COMP, "eventfd read: %s", strerror(errno));
}

/* ------------------------------------------------------------ port query */

static enum xs_port_state map_state(unsigned int s)
{
	switch (s) {
	case 2: return XS_PORT_INIT;
	case 3: return XS_PORT_ARMED;
	case 4:
	case 5: /* ACTIVE_DEFER */
		return XS_PORT_ACTIVE;
	default: return XS_PORT_DOWN;
	}
}

/* GID at gid_index > 0 (RoCE): libibumad only reports the prefix of GID 0. */
static int read_sysfs_gid(const char *ca, int port, int idx, uint8_t gid[16])
{
	char path[256], buf[64];
	unsigned int w[8];
	FILE *fp;
	int n;

	snprintf(path, sizeof(path), "/sys/class/infiniband/%s/ports/%d/gids/%d", ca, port, idx);
	fp = fopen(path, "r");
	if (!fp)
		return -errno;
	n = fgets(buf, sizeof(buf), fp) ? 1 : 0;
	fclose(fp);
	if (!n || sscanf(buf, "%x:%x:%x:%x:%x:%x:%x:%x", &w[0], &w[1], &w[2], &w[3], &w[4],
			 &w[5], &w[6], &w[7]) != 8)
		return -EBADMSG;
	for (int i = 0; i < 8; i++)
		xs_put16(gid + 2 * i, (uint16_t)w[i]);
	return 0;
}

static int query_attr(const char *ca, int portnum, int gid_index, struct xs_port_attr *attr)
{
	umad_port_t up;
	umad_ca_t uca;
	char name[UMAD_CA_NAME_LEN];
	int rc;

	memset(attr, 0, sizeof(*attr));
	snprintf(name, sizeof(name), "%s", ca);
	rc = umad_get_port(name, portnum, &up);
	if (rc < 0)
		return rc;
	snprintf(attr->dev_name, sizeof(attr->dev_name), "%s", up.ca_name);
	snprintf(attr->port_name, sizeof(attr->port_name), "%s/%d", up.ca_name, up.portnum);
	attr->port_num = (uint8_t)up.portnum;
	attr->state = map_state(up.state);
	attr->link_layer = strcmp(up.link_layer, "Ethernet") == 0 ? XS_LINK_ETHERNET : XS_LINK_IB;
	attr->port_guid = be64toh(up.port_guid);
	memcpy(attr->gid, &up.gid_prefix, 8);
	memcpy(attr->gid + 8, &up.port_guid, 8);
	attr->lid = (uint16_t)up.base_lid;
	attr->sm_lid = (uint16_t)up.sm_lid;
	attr->sm_sl = (uint8_t)up.sm_sl;
	for (unsigned int i = 0; i < up.pkeys_size && i < XS_MAX_PKEYS; i++) {
		attr->pkeys[i] = up.pkeys[i];
		if (up.pkeys[i])
			attr->n_pkeys = (int)i + 1;
	}
	attr->max_msg_size = XS_MAD_SIZE;
	umad_release_port(&up);

	if (umad_get_ca(name, &uca) == 0) {
		attr->node_guid = be64toh(uca.node_guid);
		umad_release_ca(&uca);
	}
	if (gid_index > 0) {
		rc = read_sysfs_gid(attr->dev_name, attr->port_num, gid_index, attr->gid);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int xs_umad_port_query(struct xs_umad_port *p, struct xs_port_attr *attr)
{
	int rc = query_attr(p->ca, p->portnum, p->gid_index, attr);

	if (rc < 0)
		return rc;
	pthread_mutex_lock(&p->lock);
	if (!p->have_attr) {
		p->attr = *attr;
		p->have_attr = true;
	}
	pthread_mutex_unlock(&p->lock);
	return 0;
}

static bool attr_changed(const struct xs_port_attr *a, const struct xs_port_attr *b)
{
	return a->state != b->state || a->lid != b->lid || a->sm_lid != b->sm_lid ||
	       a->n_pkeys != b->n_pkeys || memcmp(a->pkeys, b->pkeys, sizeof(a->pkeys)) != 0 ||
	       memcmp(a->gid, b->gid, sizeof(a->gid)) != 0;
}

/* Reader thread: compare the port with what we saw last, queue an event. */
static void check_port(struct xs_umad_port *p)
{
	struct xs_port_attr now;

	if (query_attr(p->ca, p->portnum, p->gid_index, &now) < 0)
		return;
	pthread_mutex_lock(&p->lock);
	if (p->have_attr && attr_changed(&p->attr, &now)) {
		XS_INFO(COMP, "%s: state %d -> %d, lid %u -> %u, sm lid %u -> %u", now.port_name,
			p->attr.state, now.state, p->attr.lid, now.lid, p->attr.sm_lid, now.sm_lid);
		if (p->ev_count < EV_QUEUE_MAX) {
			struct xs_event *ev = &p->evq[(p->ev_head + p->ev_count) % EV_QUEUE_MAX];

			memset(ev, 0, sizeof(*ev));
			ev->type = XS_EV_PORT_CHANGE;
			ev->attr = now;
			if (p->ev_count++ == 0)
				efd_set(p->ev_efd);
		} else {
			XS_WARN(COMP, "%s: event queue full, port change not reported",
				now.port_name);
		}
	}
	p->attr = now;
	p->have_attr = true;
	pthread_mutex_unlock(&p->lock);
}

int xs_umad_port_event_fd(struct xs_umad_port *p) { return p->ev_efd; }

int xs_umad_port_get_event(struct xs_umad_port *p, struct xs_event *ev)
{
	int rc = -EAGAIN;

	pthread_mutex_lock(&p->lock);
	if (p->ev_count) {
		*ev = p->evq[p->ev_head];
		p->ev_head = (p->ev_head + 1) % EV_QUEUE_MAX;
		if (--p->ev_count == 0)
			efd_clear(p->ev_efd);
		rc = 0;
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
}

/* ------------------------------------------------------------- receiving */

static bool is_vendor_range2(uint8_t cls) { return cls >= 0x30 && cls <= 0x4f; }

/* Called with p->lock held. */
static struct umad_agent *find_agent(struct xs_umad_port *p, const uint8_t *mad, size_t len,
				     int umad_id)
{
	bool resp = (mad[3] & XS_MAD_METHOD_RESP) != 0;
	uint8_t cls = mad[1], ver = mad[2];
	struct umad_agent *a;

	if (resp) {
		for (a = p->agents; a; a = a->next)
			if (a->id == umad_id && a->base.mgmt_class == cls)
				return a;
	}
	for (a = p->agents; a; a = a->next) {
		if (a->base.mgmt_class != cls || a->base.class_version != ver)
			continue;
		if (!resp && !(a->base.flags & XS_MAD_AGENT_SERVER))
			continue;
		if (is_vendor_range2(cls) && a->base.has_oui &&
		    (len < 40 || memcmp(mad + 37, a->base.oui, 3) != 0))
			continue;
		return a;
	}
	return NULL;
}

static uint16_t pkey_at(const struct xs_umad_port *p, unsigned int idx)
{
	if (p->have_attr && idx < (unsigned int)p->attr.n_pkeys && p->attr.pkeys[idx])
		return p->attr.pkeys[idx];
	return XS_DEFAULT_PKEY;
}

static void dispatch(struct xs_umad_port *p, const struct ib_user_mad *um, size_t len)
{
	const uint8_t *mad = um->data;
	struct mad_entry *e;
	struct umad_agent *a;

	if (len < 24) {
		pthread_mutex_lock(&p->lock);
		p->st.dropped++;
		pthread_mutex_unlock(&p->lock);
		XS_WARN(COMP, "dropped a %zu-byte MAD (shorter than its header)", len);
		return;
	}
	e = malloc(sizeof(*e) + len);
	if (!e) {
		XS_WARN(COMP, "out of memory: dropped a MAD of class 0x%02x", mad[1]);
		return;
	}
	memset(&e->src, 0, sizeof(e->src));
	e->next = NULL;
	e->len = (uint32_t)len;
	memcpy(e->mad, mad, len);
	e->src.lid = be16toh(um->addr.lid);
	e->src.qpn = be32toh(um->addr.qpn) & 0xffffff;
	e->src.qkey = be32toh(um->addr.qkey);
	e->src.sl = um->addr.sl;
	if (um->addr.grh_present) {
		e->src.has_grh = true;
		memcpy(e->src.gid, um->addr.gid, 16);
	}

	pthread_mutex_lock(&p->lock);
	/* umad2sim leaves pkey_index uninitialised: pkey_at bounds it. */
	e->src.pkey = pkey_at(p, um->addr.pkey_index);
	a = find_agent(p, mad, len, (int)um->agent_id);
	if (!a || a->qlen >= RX_QUEUE_MAX) {
		p->st.dropped++;
		pthread_mutex_unlock(&p->lock);
		if (a)
			XS_WARN(COMP, "agent class 0x%02x: queue full (%d), dropped a MAD",
				mad[1], RX_QUEUE_MAX);
		else
			XS_DEBUG(COMP, "no agent for class 0x%02x version %u method 0x%02x "
				 "attr 0x%04x from lid %u: dropped", mad[1], mad[2], mad[3],
				 xs_get16(mad + 16), e->src.lid);
		free(e);
		return;
	}
	if (a->tail)
		a->tail->next = e;
	else
		a->head = e;
	a->tail = e;
	if (a->qlen++ == 0)
		efd_set(a->efd);
	p->st.rx++;
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&p->lock);
}

/* Read one MAD from the umad fd. umad2sim returns a negative errno value
 * instead of -1/errno when its queue is empty; both mean "nothing". */
static void read_one(struct xs_umad_port *p)
{
	const size_t hdr = umad_size();
	struct ib_user_mad *um;
	ssize_t n;

	for (;;) {
		n = read(p->fd, p->rxbuf, p->rxcap);
		if (n == -1 && errno == ENOSPC) {
			/* RMPP-reassembled MAD larger than our buffer: the kernel
			 * put it back and told us the size in the header. */
			size_t need = ((struct ib_user_mad *)p->rxbuf)->length;
			uint8_t *nb;

			if (need <= p->rxcap || need > hdr + RX_MAX_LEN) {
				XS_WARN(COMP, "cannot receive a %zu-byte MAD", need);
				return;
			}
			nb = realloc(p->rxbuf, need);
			if (!nb)
				return;
			p->rxbuf = nb;
			p->rxcap = need;
			continue;
		}
		break;
	}
	if (n < (ssize_t)hdr)
		return;
	um = (struct ib_user_mad *)p->rxbuf;
	if (um->status) {
		/* The kernel hands back a request it gave up waiting on
		 * (ETIMEDOUT), or one it could not send. */
		pthread_mutex_lock(&p->lock);
		p->st.send_errors++;
		pthread_mutex_unlock(&p->lock);
		XS_DEBUG(COMP, "send of a class 0x%02x MAD tid 0x%016llx ended with status %u (%s)",
			 um->data[1], (unsigned long long)xs_get64(um->data + 8), um->status,
			 strerror((int)um->status));
		return;
	}
	if (p->sim && (size_t)n - hdr > SIM_MAD_BYTES)
		memset(um->data + SIM_MAD_BYTES, 0, (size_t)n - hdr - SIM_MAD_BYTES);
	dispatch(p, um, (size_t)n - hdr);
}

static void *reader_main(void *arg)
{
	struct xs_umad_port *p = arg;
	uint64_t next_check = xs_now_ms() + PORT_CHECK_MS;

	while (!atomic_load(&p->stop)) {
		/* Under umad2sim only the fake umad fd is watched (its poll()
		 * handles one fake fd and ignores the rest); the slice bounds
		 * how long a stop request waits. */
		struct pollfd pfd[2] = {
			{ .fd = p->fd, .events = POLLIN },
			{ .fd = p->stop_efd, .events = POLLIN },
		};
		int rc = poll(pfd, 2, READER_SLICE_MS);

		if (atomic_load(&p->stop))
			break;
		if (xs_now_ms() >= next_check) {
			check_port(p);
			next_check = xs_now_ms() + PORT_CHECK_MS;
		}
		if (rc > 0 && (pfd[0].revents & POLLIN))
			read_one(p);
		else if (rc < 0 && errno != EINTR && errno != 0 && errno != ETIMEDOUT)
			usleep(10 * 1000); /* don't spin on a persistent error */
	}
	return NULL;
}

/* ---------------------------------------------------------------- agents */

struct xs_mad_agent *xs_umad_agent_register(struct xs_umad_port *p, struct xs_fabric *f,
					    uint8_t mgmt_class, uint8_t class_version,
					    const uint8_t oui[3], unsigned int flags)
{
	long mask[16 / sizeof(long)];
	pthread_condattr_t ca;
	struct umad_agent *a;
	uint8_t o[3] = { 0, 0, 0 };
	uint8_t rmpp;
	int err, id;

	if (is_vendor_range2(mgmt_class) && !oui) {
		XS_ERR(COMP, "class 0x%02x is vendor range 2: an OUI is required", mgmt_class);
		errno = EINVAL;
		return NULL;
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	xs_mad_agent_init(&a->base, f, mgmt_class, class_version, oui, flags);
	a->port = p;

	/* A server takes every request method (0x01-0x7f) of its class. */
	memset(mask, 0, sizeof(mask));
	if (flags & XS_MAD_AGENT_SERVER)
		for (int m = 1; m < 0x80; m++)
			mask[m / (8 * sizeof(long))] |= (long)(1UL << (m % (8 * sizeof(long))));
	/* The SA answers GetTable with RMPP: let the kernel reassemble. */
	rmpp = mgmt_class == XS_SA_CLASS ? 1 : 0;
	if (oui)
		memcpy(o, oui, 3);
	if (is_vendor_range2(mgmt_class))
		id = umad_register_oui(p->portid, mgmt_class, 0, o,
				       (flags & XS_MAD_AGENT_SERVER) ? mask : NULL);
	else
		id = umad_register(p->portid, mgmt_class, class_version, rmpp,
				   (flags & XS_MAD_AGENT_SERVER) ? mask : NULL);
	if (id < 0) {
		err = id;
		XS_ERR(COMP, "%s/%d: cannot register an agent for class 0x%02x version %u: %s",
		       p->ca, p->portnum, mgmt_class, class_version, xs_strerror(err));
		goto err_free;
	}
	a->id = id;

	a->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (a->efd < 0) {
		err = -errno;
		goto err_unregister;
	}
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->cond, &ca);
	pthread_condattr_destroy(&ca);

	if ((flags & XS_MAD_AGENT_SERVER) && p->issm_fd < 0 && issm_wanted(p)) {
		char path[256];

		if (p->sim) {
			/* umad2sim files every MAD by class and crashes on one
			 * whose class has no agent: OpenSM probes an IsSM port
			 * with SMPs (classes 0x01/0x81), so take those first. */
			if (p->smi_ids[0] < 0)
				p->smi_ids[0] = umad_register(p->portid, 0x01, 1, 0, NULL);
			if (p->smi_ids[1] < 0)
				p->smi_ids[1] = umad_register(p->portid, 0x81, 1, 0, NULL);
		}
		err = umad_get_issm_path(p->ca, p->portnum, path, sizeof(path));
		if (err >= 0) {
			p->issm_fd = open(path, O_RDWR | O_CLOEXEC);
			err = p->issm_fd < 0 ? -errno : 0;
		}
		if (err < 0) {
			XS_ERR(COMP, "%s/%d: cannot raise IsSM for a server agent: %s", p->ca,
			       p->portnum, xs_strerror(err));
			goto err_cond;
		}
		XS_INFO(COMP, "%s/%d: IsSM raised (%s) so QP1 requests reach this port",
			p->ca, p->portnum, p->sim ? "simulator" : "XS_UMAD_ISSM=1");
	}

	pthread_mutex_lock(&p->lock);
	a->next = p->agents;
	p->agents = a;
	pthread_mutex_unlock(&p->lock);
	XS_DEBUG(COMP, "%s/%d: agent %d class 0x%02x version %u%s", p->ca, p->portnum, id,
		 mgmt_class, class_version, (flags & XS_MAD_AGENT_SERVER) ? " (server)" : "");
	return &a->base;

err_cond:
	pthread_cond_destroy(&a->cond);
	close(a->efd);
err_unregister:
	umad_unregister(p->portid, a->id);
err_free:
	free(a);
	errno = -err;
	return NULL;
}

static void agent_free(struct umad_agent *a)
{
	struct mad_entry *e = a->head;

	while (e) {
		struct mad_entry *n = e->next;

		free(e);
		e = n;
	}
	umad_unregister(a->port->portid, a->id);
	pthread_cond_destroy(&a->cond);
	close(a->efd);
	free(a);
}

int xs_umad_agent_unregister(struct xs_mad_agent *base)
{
	struct umad_agent *a = to_uagent(base);
	struct xs_umad_port *p = a->port;
	struct umad_agent **pp;

	pthread_mutex_lock(&p->lock);
	for (pp = &p->agents; *pp && *pp != a; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = a->next;
	pthread_mutex_unlock(&p->lock);
	agent_free(a);
	return 0;
}

int xs_umad_agent_fd(struct xs_mad_agent *a) { return to_uagent(a)->efd; }

static bool expects_response(uint8_t method)
{
	if (method & XS_MAD_METHOD_RESP)
		return false;
	/* Send (0x03) and TrapRepress (0x07) are never answered. */
	return method != 0x03 && method != 0x07;
}

int xs_umad_mad_send(struct xs_mad_agent *base, const struct xs_mad_addr *dst, const void *mad,
		     size_t len)
{
	struct umad_agent *a = to_uagent(base);
	struct xs_umad_port *p = a->port;
	uint8_t buf[sizeof(struct ib_user_mad) + XS_MAD_SIZE];
	struct ib_user_mad *um = (struct ib_user_mad *)buf;
	uint16_t pkey = dst->pkey ? dst->pkey : XS_DEFAULT_PKEY;
	int pkey_index = -1, rc;

	if (umad_size() != sizeof(struct ib_user_mad))
		return -EPROTO;
	memset(buf, 0, sizeof(buf));
	/* Always a full 256-byte MAD on the wire (the kernel pads the same
	 * way; umad2sim passes the length through to the receiver). */
	memcpy(um->data, mad, len);

	pthread_mutex_lock(&p->lock);
	if (p->have_attr && p->attr.n_pkeys > 0) {
		for (int i = 0; i < p->attr.n_pkeys; i++)
			if (p->attr.pkeys[i] && (p->attr.pkeys[i] & 0x7fff) == (pkey & 0x7fff)) {
				pkey_index = i;
				break;
			}
	} else {
		pkey_index = 0; /* table unknown: the default slot */
	}
	pthread_mutex_unlock(&p->lock);
	if (pkey_index < 0) {
		XS_ERR(COMP, "%s/%d: P_Key 0x%04x is not in the port's P_Key table", p->ca,
		       p->portnum, pkey);
		return -ENOENT;
	}

	umad_set_addr(um, dst->lid, (int)dst->qpn, dst->sl,
		      (int)(dst->qkey ? dst->qkey : XS_GSI_QKEY));
	umad_set_pkey(um, pkey_index);
	if (dst->has_grh) {
		um->addr.grh_present = 1;
		memcpy(um->addr.gid, dst->gid, 16);
		um->addr.gid_index = (uint8_t)p->gid_index;
		um->addr.hop_limit = 0xff;
	}
	rc = umad_send(p->portid, a->id, um, XS_MAD_SIZE,
		       expects_response(um->data[3]) ? KERNEL_RESP_WINDOW_MS : 0, 0);
	if (rc < 0) {
		XS_DEBUG(COMP, "umad_send class 0x%02x to lid %u: %s", um->data[1], dst->lid,
			 xs_strerror(rc));
		return rc;
	}
	atomic_store(&p->last_send_ms, xs_now_ms());
	pthread_mutex_lock(&p->lock);
	p->st.tx++;
	pthread_mutex_unlock(&p->lock);
	return 0;
}

int xs_umad_mad_recv(struct xs_mad_agent *base, struct xs_mad_addr *src, void *mad, size_t cap,
		     int timeout_ms)
{
	struct umad_agent *a = to_uagent(base);
	struct xs_umad_port *p = a->port;
	struct mad_entry *e;
	struct timespec dl;
	size_t n;

	if (timeout_ms > 0) {
		clock_gettime(CLOCK_MONOTONIC, &dl);
		dl.tv_sec += timeout_ms / 1000;
		dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (dl.tv_nsec >= 1000000000L) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000L;
		}
	}
	pthread_mutex_lock(&p->lock);
	while (!a->head) {
		int rc;

		if (timeout_ms == 0) {
			pthread_mutex_unlock(&p->lock);
			return -EAGAIN;
		}
		rc = timeout_ms < 0 ? pthread_cond_wait(&a->cond, &p->lock)
				    : pthread_cond_timedwait(&a->cond, &p->lock, &dl);
		if (rc == ETIMEDOUT && !a->head) {
			pthread_mutex_unlock(&p->lock);
			return -ETIMEDOUT;
		}
	}
	e = a->head;
	a->head = e->next;
	if (!a->head)
		a->tail = NULL;
	if (--a->qlen == 0)
		efd_clear(a->efd);
	pthread_mutex_unlock(&p->lock);

	n = XS_MIN(cap, (size_t)e->len);
	memcpy(mad, e->mad, n);
	if (src)
		*src = e->src;
	free(e);
	return (int)n;
}

/* ------------------------------------------------------------ open/close */

struct xs_umad_port *xs_umad_port_open(const char *ca, int port, int gid_index)
{
	struct xs_umad_port *p;
	char name[UMAD_CA_NAME_LEN];
	umad_port_t up;
	int err;

	if (ca && strlen(ca) >= UMAD_CA_NAME_LEN) {
		XS_ERR(COMP, "device name '%s' is too long", ca);
		errno = EINVAL;
		return NULL;
	}
	snprintf(name, sizeof(name), "%s", ca ? ca : "");
	if (umad_init() < 0) {
		XS_ERR(COMP, "libibumad: umad_init failed");
		errno = ENODEV;
		return NULL;
	}
	/* Resolve the default CA/port first, so we know which one we open. */
	err = umad_get_port(name[0] ? name : NULL, port, &up);
	if (err < 0) {
		if (name[0])
			XS_ERR(COMP, "no InfiniBand port %s:%d (libibumad: %s)", name, port,
			       xs_strerror(err));
		else
			XS_ERR(COMP, "no InfiniBand device found through libibumad (%s); use "
			       "the soft fabric (spec \"soft\", daemon xs-fabricd) on machines "
			       "without RDMA hardware", xs_strerror(err));
		errno = ENODEV;
		return NULL;
	}

	p = calloc(1, sizeof(*p));
	if (!p)
		goto err_release;
	snprintf(p->ca, sizeof(p->ca), "%s", up.ca_name);
	p->portnum = up.portnum;
	p->gid_index = gid_index;
	p->sim = xs_umad_under_sim();
	p->issm_fd = -1;
	p->smi_ids[0] = p->smi_ids[1] = -1;
	p->ev_efd = p->stop_efd = -1;
	pthread_mutex_init(&p->lock, NULL);
	umad_release_port(&up);

	p->portid = umad_open_port(p->ca, p->portnum);
	if (p->portid < 0) {
		err = p->portid;
		XS_ERR(COMP, "cannot open umad port %s:%d: %s (is ib_umad loaded, and "
		       "/dev/infiniband/umad* accessible?)", p->ca, p->portnum, xs_strerror(err));
		goto err_free;
	}
	p->fd = umad_get_fd(p->portid);
	p->rxcap = sizeof(struct ib_user_mad) + XS_MAD_SIZE;
	p->rxbuf = malloc(p->rxcap);
	if (!p->rxbuf) {
		err = -ENOMEM;
		goto err_close_port;
	}
	p->ev_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	p->stop_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->ev_efd < 0 || p->stop_efd < 0) {
		err = -errno;
		goto err_efd;
	}
	err = query_attr(p->ca, p->portnum, p->gid_index, &p->attr);
	if (err < 0) {
		XS_ERR(COMP, "cannot read port %s:%d: %s", p->ca, p->portnum, xs_strerror(err));
		goto err_efd;
	}
	p->have_attr = true;
	err = -pthread_create(&p->reader, NULL, reader_main, p);
	if (err < 0)
		goto err_efd;
	p->reader_started = true;
	XS_DEBUG(COMP, "opened %s:%d lid %u sm lid %u%s", p->ca, p->portnum, p->attr.lid,
		 p->attr.sm_lid, p->sim ? " (umad2sim)" : "");
	return p;

err_efd:
	if (p->ev_efd >= 0)
		close(p->ev_efd);
	if (p->stop_efd >= 0)
		close(p->stop_efd);
	free(p->rxbuf);
err_close_port:
	umad_close_port(p->portid);
err_free:
	pthread_mutex_destroy(&p->lock);
	free(p);
	errno = -err;
	return NULL;
err_release:
	umad_release_port(&up);
	errno = ENOMEM;
	return NULL;
}

void xs_umad_port_close(struct xs_umad_port *p)
{
	uint64_t last, now;

	if (!p)
		return;
	/* A MAD handed to umad2sim (or to an HCA) just before the process
	 * goes away can be lost: ibsim reads its control socket before the
	 * data sockets, so a disconnect can overtake the last MAD. */
	last = atomic_load(&p->last_send_ms);
	now = xs_now_ms();
	if (last && now - last < LINGER_MS)
		usleep((useconds_t)(LINGER_MS - (now - last)) * 1000);

	atomic_store(&p->stop, true);
	efd_set(p->stop_efd);
	if (p->reader_started)
		pthread_join(p->reader, NULL);

	/* IsSM down first, so no more requests are routed to us. */
	if (p->issm_fd >= 0)
		close(p->issm_fd);
	while (p->agents) {
		struct umad_agent *a = p->agents;

		p->agents = a->next;
		agent_free(a);
	}
	for (int i = 0; i < 2; i++)
		if (p->smi_ids[i] >= 0)
			umad_unregister(p->portid, p->smi_ids[i]);
	umad_close_port(p->portid);
	close(p->ev_efd);
	close(p->stop_efd);
	free(p->rxbuf);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

void xs_umad_port_stats(struct xs_umad_port *p, struct xs_umad_stats *st)
{
	pthread_mutex_lock(&p->lock);
	*st = p->st;
	pthread_mutex_unlock(&p->lock);
}
