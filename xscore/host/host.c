/* SPDX-License-Identifier: MIT */
/*
 * host.c - struct xs_host: one fabric port with its discovery, its XSMP
 * sessions (one per XCM) and its device table. No global state, so one
 * process can run many (xscored --hosts N).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "host_int.h"

static void host_defaults(struct xs_host_opts *o, const struct xs_host_opts *in)
{
	memset(o, 0, sizeof(*o));
	if (in)
		memcpy(o, in, XS_MIN(in->size ? in->size : sizeof(*o), sizeof(*o)));
	o->size = sizeof(*o);
	if (!o->fabric_spec)
		o->fabric_spec = "soft";
	if (o->requery_ms <= 0)
		o->requery_ms = 20000;
	if (o->backoff_min_ms <= 0)
		o->backoff_min_ms = 1000;
	if (o->backoff_max_ms <= 0)
		o->backoff_max_ms = 60000;
	if (o->sa_timeout_ms <= 0)
		o->sa_timeout_ms = 3000;
	if (o->sa_give_up_ms <= 0)
		o->sa_give_up_ms = 30000;
	if (o->xcpm_timeout_ms <= 0)
		o->xcpm_timeout_ms = 3000;
	if (o->xcpm_retries == 0)
		o->xcpm_retries = 2;
	else if (o->xcpm_retries < 0)
		o->xcpm_retries = 0;
}

static void host_names(struct xs_host *h, const char *hostname)
{
	char buf[256];

	if (!hostname || !*hostname) {
		if (gethostname(buf, sizeof(buf)) != 0)
			snprintf(buf, sizeof(buf), "localhost");
		buf[sizeof(buf) - 1] = '\0';
		hostname = buf;
	}
	snprintf(h->hostname, sizeof(h->hostname), "%.64s", hostname);
	/* session_name: the host name truncated to 31 characters */
	snprintf(h->session_name, sizeof(h->session_name), "%.31s", hostname);
}

static struct xs_host *host_alloc(const struct xs_host_opts *opts)
{
	struct xs_host *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	host_defaults(&h->opts, opts);
	host_names(h, h->opts.hostname);
	h->opts.hostname = h->hostname;
	snprintf(h->port_name, sizeof(h->port_name), "%s",
		 h->opts.port_name ? h->opts.port_name : "");
	h->opts.port_name = h->port_name;
	h->tops = &xs_xsmp_fabric_transport;
	h->seed = xs_now_us() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)h;
	return h;
}

struct xs_host *xs_host_new_detached(const char *session_name, uint64_t port_guid,
				     const struct xs_xsmp_transport_ops *tops)
{
	struct xs_host_opts o = { .size = sizeof(o), .hostname = session_name };
	struct xs_host *h = host_alloc(&o);

	if (!h)
		return NULL;
	h->port.port_guid = port_guid;
	h->tops = tops;
	return h;
}

static void host_tick(struct xs_loop *loop, struct xs_timer *t, void *arg)
{
	struct xs_host *h = arg;
	uint64_t now = xs_now_ms();
	int i;

	(void)loop, (void)t;
	if (!h->shutting_down)
		xs_disc_tick(h, now);
	for (i = 0; i < h->n_clients; i++)
		xs_xsmp_client_tick(h->clients[i], now);
}

static void host_fabric_event(struct xs_loop *loop, int fd, unsigned int events, void *arg)
{
	struct xs_host *h = arg;
	struct xs_event ev;

	(void)loop, (void)fd, (void)events;
	while (xs_fabric_get_event(h->fabric, &ev) == 0) {
		if (ev.type == XS_EV_PORT_CHANGE) {
			bool lid_changed = ev.attr.lid != h->port.lid;

			h->port = ev.attr;
			XS_INFO(XS_HOST_LOG, "%s: port %s now %s, LID %u", h->session_name,
				h->port_name, ev.attr.state == XS_PORT_ACTIVE ? "active" : "not active",
				ev.attr.lid);
			if (lid_changed && h->disc.state == XS_DISC_IDLE)
				h->disc.next_query_ms = xs_now_ms(); /* re-discover at once */
			continue;
		}
		xs_fabric_transport_event(h, &ev);
	}
}

struct xs_host *xs_host_new(struct xs_loop *loop, const struct xs_host_opts *opts)
{
	struct xs_fabric_opts fo = { .size = sizeof(fo) };
	struct xs_host *h;
	int err, rc;

	h = host_alloc(opts);
	if (!h)
		return NULL;
	h->loop = loop;
	fo.port_name = h->port_name[0] ? h->port_name : NULL;
	h->fabric = xs_fabric_open(h->opts.fabric_spec, &fo);
	if (!h->fabric) {
		err = errno;
		goto err_free;
	}
	rc = xs_fabric_query_port(h->fabric, &h->port);
	if (rc < 0) {
		err = -rc;
		goto err_close;
	}
	if (!h->port_name[0])
		snprintf(h->port_name, sizeof(h->port_name), "%s", h->port.port_name);
	rc = xs_disc_init(h);
	if (rc < 0) {
		err = -rc;
		goto err_close;
	}
	rc = xs_loop_add_fd(loop, xs_fabric_event_fd(h->fabric), XS_IO_IN, host_fabric_event, h);
	if (rc < 0) {
		err = -rc;
		goto err_disc;
	}
	h->tick = xs_timer_new(loop, host_tick, h);
	if (!h->tick) {
		err = errno ? errno : ENOMEM;
		goto err_fd;
	}
	XS_INFO(XS_HOST_LOG, "%s: port %s (GUID %016llx, LID %u) on fabric %s", h->session_name,
		h->port_name, (unsigned long long)h->port.port_guid, h->port.lid,
		xs_fabric_backend(h->fabric));
	return h;

err_fd:
	xs_loop_del_fd(loop, xs_fabric_event_fd(h->fabric));
err_disc:
	xs_disc_fini(h);
err_close:
	xs_fabric_close(h->fabric);
err_free:
	free(h);
	errno = err;
	return NULL;
}

int xs_host_start(struct xs_host *h)
{
	if (!h->tick)
		return -EINVAL;
	h->started = true;
	/* Spread the first query over a short window too: hosts booting together. */
	h->disc.next_query_ms = xs_now_ms() + xs_backoff_rand(&h->disc.backoff, 250);
	xs_timer_arm(h->tick, XS_HOST_TICK_MS, XS_HOST_TICK_MS);
	return 0;
}

int xs_host_shutdown(struct xs_host *h, const char *why)
{
	uint64_t now = xs_now_ms();
	int i, sent = 0;

	h->shutting_down = true;
	h->disc.state = XS_DISC_STOPPED;
	for (i = 0; i < h->n_clients; i++)
		sent += xs_xsmp_client_stop(h->clients[i], now, why);
	return sent;
}

bool xs_host_quiet(const struct xs_host *h)
{
	int i;

	for (i = 0; i < h->n_clients; i++)
		if (h->clients[i]->state != XS_SESS_INIT)
			return false;
	return true;
}

void xs_host_free(struct xs_host *h)
{
	int i;

	if (!h)
		return;
	for (i = 0; i < h->n_clients; i++)
		xs_xsmp_client_free(h->clients[i]);
	h->n_clients = 0;
	xs_host_remove_all_devices(h);
	if (h->tick)
		xs_timer_free(h->tick);
	if (h->fabric) {
		xs_disc_fini(h);
		xs_loop_del_fd(h->loop, xs_fabric_event_fd(h->fabric));
		xs_fabric_close(h->fabric);
	}
	free(h);
}

const char *xs_host_session_name(const struct xs_host *h)
{
	return h->session_name;
}

struct xs_fabric *xs_host_fabric(struct xs_host *h)
{
	return h->fabric;
}

struct xs_loop *xs_host_loop(struct xs_host *h)
{
	return h->loop;
}

void xs_host_apply_xcms(struct xs_host *h, const struct xs_xcm_record *xcms, int n,
			uint64_t now)
{
	int i, j;

	for (i = 0; i < h->n_clients; i++)
		h->clients[i]->listed = false;
	for (j = 0; j < n; j++) {
		struct xs_xsmp_client *c = NULL;

		if (xcms[j].port_guid == 0 ||
		    (xcms[j].lid == 0 && h->port.link_layer != XS_LINK_ETHERNET))
			continue;
		for (i = 0; i < h->n_clients; i++)
			if (h->clients[i]->xcm_guid == xcms[j].port_guid)
				c = h->clients[i];
		if (c) {
			c->listed = true;
			if (c->xcm_lid != xcms[j].lid) {
				XS_INFO(XS_HOST_LOG, "%s: XCM %016llx moved to LID %u",
					h->session_name, (unsigned long long)c->xcm_guid, xcms[j].lid);
				c->xcm_lid = xcms[j].lid;
			}
			if (c->stopped && !h->shutting_down) {
				c->stopped = false;
				c->next_attempt_ms = now;
			}
			continue;
		}
		if (h->n_clients >= XS_HOST_MAX_XCMS)
			continue;
		c = xs_xsmp_client_new(h, xcms[j].port_guid, xcms[j].lid, h->tops, now, 0);
		if (!c) {
			XS_ERR(XS_HOST_LOG, "%s: no memory for a session", h->session_name);
			continue;
		}
		c->listed = true;
		h->clients[h->n_clients++] = c;
		XS_INFO(XS_HOST_LOG, "%s: XCM %016llx at LID %u", h->session_name,
			(unsigned long long)c->xcm_guid, c->xcm_lid);
	}
	/* XCMs no longer assigned: close their sessions (devices stay). */
	for (i = 0; i < h->n_clients; i++) {
		struct xs_xsmp_client *c = h->clients[i];

		if (!c->listed && !c->stopped) {
			XS_INFO(XS_HOST_LOG, "%s: XCM %016llx no longer assigned", h->session_name,
				(unsigned long long)c->xcm_guid);
			xs_xsmp_client_stop(c, now, "XCM no longer assigned to this host");
		}
	}
}

void xs_host_port_attr(struct xs_host *h, struct xs_port_attr *attr)
{
	*attr = h->port;
}

void xs_host_disc_status(const struct xs_host *h, struct xs_host_disc_status *st)
{
	*st = h->disc.st;
	st->state = h->disc.state;
	st->next_query_ms = h->disc.next_query_ms;
}

int xs_host_sessions(const struct xs_host *h, struct xs_session_status *st, int max)
{
	int i;

	for (i = 0; i < h->n_clients && i < max; i++) {
		const struct xs_xsmp_client *c = h->clients[i];
		struct xs_session_status *s = &st[i];

		memset(s, 0, sizeof(*s));
		s->xcm_guid = c->xcm_guid;
		s->xcm_lid = c->xcm_lid;
		s->state = c->state;
		s->up_since_ms = c->state == XS_SESS_UP ? c->up_since_ms : 0;
		s->hello_interval_s = c->hello_interval_s;
		s->last_hello_ms = c->last_hello_ms;
		s->last_rx_ms = c->last_rx_ms;
		s->reconnects = c->reconnects;
		s->hellos_rx = c->hellos_rx;
		s->msgs_rx = c->msgs_rx;
		s->msgs_tx = c->msgs_tx;
		s->rejects = c->rejects;
		s->bad_msgs = c->bad_msgs;
		s->seq_mismatch = c->seq_mismatch;
		s->timeouts = c->timeouts;
		s->next_attempt_ms = c->state == XS_SESS_INIT ? c->next_attempt_ms : 0;
		snprintf(s->chassis_name, sizeof(s->chassis_name), "%s", c->chassis_name);
		snprintf(s->last_error, sizeof(s->last_error), "%s", c->last_error);
	}
	return h->n_clients;
}
