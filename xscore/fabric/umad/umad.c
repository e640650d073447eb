/* SPDX-License-Identifier: MIT */
/*
 * umad.c - the "umad" fabric backend: MADs only, through libibumad.
 *
 * Spec: "umad", "umad:CA" or "umad:CA:PORT" (CA "" or PORT 0 mean the first
 * CA / the first active port, as libibumad chooses). No PD, CQ or QP: those
 * calls answer -EOPNOTSUPP through the front end's stubs. The port's event fd
 * reports XS_EV_PORT_CHANGE. All the work is in umad_port.c, which the
 * verbs backend shares.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xscore/log.h>

#include "umad_port.h"
#include "umad_spec.h"

#define COMP "umad"

struct umad_fabric {
	struct xs_fabric base;
	struct xs_umad_port *port;
};

static inline struct umad_fabric *to_uf(struct xs_fabric *f)
{
	return xs_container_of(f, struct umad_fabric, base);
}

int xs_umad_parse_spec(const char *backend, const char *args, char *ca, size_t ca_len,
		       int *port)
{
	const char *colon = strchr(args, ':');
	size_t n = colon ? (size_t)(colon - args) : strlen(args);

	*port = 0;
	if (n >= ca_len) {
		XS_ERR(backend, "device name in '%s' is too long", args);
		return -EINVAL;
	}
	memcpy(ca, args, n);
	ca[n] = '\0';
	if (colon) {
		char *end;
		long v = strtol(colon + 1, &end, 10);

		if (!colon[1] || *end || v < 0 || v > 255) {
			XS_ERR(backend, "bad port number in '%s:%s' (expected %s:DEVICE:PORT)",
			       backend, args, backend);
			return -EINVAL;
		}
		*port = (int)v;
	}
	return 0;
}

static struct xs_fabric *umad_open(const char *args, const struct xs_fabric_opts *opts)
{
	struct umad_fabric *uf;
	char ca[64];
	int port, rc, gid_index = 0;

	rc = xs_umad_parse_spec("umad", args, ca, sizeof(ca), &port);
	if (rc < 0) {
		errno = -rc;
		return NULL;
	}
	if (opts && opts->size >= offsetof(struct xs_fabric_opts, gid_index) + sizeof(int))
		gid_index = opts->gid_index;
	uf = calloc(1, sizeof(*uf));
	if (!uf)
		return NULL;
	uf->port = xs_umad_port_open(ca, port, gid_index);
	if (!uf->port) {
		rc = errno;
		free(uf);
		errno = rc;
		return NULL;
	}
	return &uf->base;
}

static void umad_close(struct xs_fabric *f)
{
	struct umad_fabric *uf = to_uf(f);

	xs_umad_port_close(uf->port);
	free(uf);
}

static int umad_query_port(struct xs_fabric *f, struct xs_port_attr *attr)
{
	return xs_umad_port_query(to_uf(f)->port, attr);
}

static int umad_event_fd(struct xs_fabric *f) { return xs_umad_port_event_fd(to_uf(f)->port); }

static int umad_get_event(struct xs_fabric *f, struct xs_event *ev)
{
	return xs_umad_port_get_event(to_uf(f)->port, ev);
}

static struct xs_mad_agent *umad_agent_register(struct xs_fabric *f, uint8_t mgmt_class,
						uint8_t class_version, const uint8_t oui[3],
						unsigned int flags)
{
	return xs_umad_agent_register(to_uf(f)->port, f, mgmt_class, class_version, oui, flags);
}

const struct xs_fabric_ops xs_umad_ops = {
	.name = "umad",
	.open = umad_open,
	.close = umad_close,
	.query_port = umad_query_port,
	.event_fd = umad_event_fd,
	.get_event = umad_get_event,
	.mad_agent_register = umad_agent_register,
	.mad_agent_unregister = xs_umad_agent_unregister,
	.mad_agent_fd = xs_umad_agent_fd,
	.mad_send = xs_umad_mad_send,
	.mad_recv = xs_umad_mad_recv,
};
