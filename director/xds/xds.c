/* SPDX-License-Identifier: MIT */
/*
 * xds.c - ServiceRecord registration (an asynchronous state machine on the
 * event loop) and the XCPM server.
 *
 *   IDLE --(start)--> SETTING --(GetResp ok)--> REGISTERED --(half lease)--> SETTING
 *   SETTING --(no answer: 3 x 1 s, or an error status)--> IDLE, retried after 5 s
 *   any --(shutdown)--> DELETING --(answer or 3 x 300 ms)--> DONE
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xscore/common.h>
#include <xscore/log.h>
#include <xscore/wire.h>

#include "xds/xds.h"

#define COMP "xds"
#define SA_TIMEOUT_MS 1000
#define SA_RETRIES 3
#define SA_RETRY_LATER_MS 5000
#define DELETE_TIMEOUT_MS 300

enum sa_state {
	SA_IDLE,
	SA_SETTING,
	SA_REGISTERED,
	SA_DELETING,
	SA_DONE,
	SA_NO_SA, /* RoCE port: there is no SA; hosts are given our GID */
};

static const char *const sa_state_name[] = { "idle",	  "setting", "registered",
					     "deleting", "done",    "no-sa" };

struct xsd_xds {
	struct xs_loop *loop;
	struct xs_fabric *fabric;
	struct xs_port_attr port;
	uint32_t lease_s;
	struct xs_mad_agent *sa_agent, *xcpm_agent;
	struct xs_timer *timer;
	enum sa_state state;
	uint32_t tid, pending_tid;
	int attempts;
	struct {
		uint64_t xcpm_requests, xcpm_replies, xcpm_malformed, sa_sets, sa_failures;
	} ctr;
};

static void sa_set_state(struct xsd_xds *xds, enum sa_state st)
{
	XS_DEBUG(COMP, "ServiceRecord: %s -> %s", sa_state_name[xds->state], sa_state_name[st]);
	xds->state = st;
}

static void build_record(const struct xsd_xds *xds, struct xs_service_record *sr,
			 uint64_t *mask)
{
	memset(sr, 0, sizeof(*sr));
	sr->id = XSD_XDS_SERVICE_ID;
	memcpy(sr->gid, xds->port.gid, 16);
	sr->pkey = xds->port.n_pkeys && xds->port.pkeys[0] ? xds->port.pkeys[0] : XS_DEFAULT_PKEY;
	sr->lease = xds->lease_s;
	snprintf(sr->name, sizeof(sr->name), "XSIGOXDS");
	sr->data16[0] = xds->port.lid;
	sr->data64[0] = xds->port.port_guid;
	*mask = XS_SR_COMP_ID | XS_SR_COMP_GID | XS_SR_COMP_PKEY | XS_SR_COMP_LEASE |
		XS_SR_COMP_NAME | XS_SR_COMP_DATA16(0) | XS_SR_COMP_DATA64(0);
}

static int sa_send(struct xsd_xds *xds, uint8_t method)
{
	uint8_t mad[XS_MAD_LEN];
	struct xs_sa_hdr sa = { 0 };
	struct xs_service_record sr;
	struct xs_mad_addr dst = { 0 };
	int rc;

	memset(mad, 0, sizeof(mad));
	xds->pending_tid = ++xds->tid;
	sa.mad.base_version = XS_MAD_BASE_VERSION;
	sa.mad.mgmt_class = XS_SA_CLASS;
	sa.mad.class_version = XS_SA_CLASS_VERSION;
	sa.mad.method = method;
	sa.mad.tid = xds->pending_tid;
	sa.mad.attr_id = XS_SA_ATTR_SERVICE_RECORD;
	build_record(xds, &sr, &sa.comp_mask);
	if (method == XS_MAD_METHOD_DELETE)
		sa.comp_mask = XS_SR_COMP_ID | XS_SR_COMP_GID | XS_SR_COMP_PKEY;
	rc = xs_sa_hdr_encode(&sa, mad, sizeof(mad));
	if (rc < 0)
		return rc;
	rc = xs_sr_encode(&sr, mad + XS_SA_DATA_OFF, sizeof(mad) - XS_SA_DATA_OFF);
	if (rc < 0)
		return rc;
	dst.lid = xds->port.sm_lid;
	dst.qpn = 1;
	dst.qkey = XS_GSI_QKEY;
	dst.sl = xds->port.sm_sl;
	return xs_mad_send(xds->sa_agent, &dst, mad, sizeof(mad));
}

static void sa_start(struct xsd_xds *xds)
{
	int rc;

	if (xds->state == SA_DELETING || xds->state == SA_DONE || xds->state == SA_NO_SA)
		return;
	if (xds->port.link_layer == XS_LINK_ETHERNET) {
		char gid[48];

		inet_ntop(AF_INET6, xds->port.gid, gid, sizeof(gid));
		XS_NOTICE(COMP, "RoCE port: there is no SA to register with; give hosts this "
				"director's GID (xscored --xds-gid %s)", gid);
		sa_set_state(xds, SA_NO_SA);
		return;
	}
	if (xds->state != SA_SETTING)
		xds->attempts = 0;
	sa_set_state(xds, SA_SETTING);
	xds->attempts++;
	rc = sa_send(xds, XS_MAD_METHOD_SET);
	if (rc < 0)
		XS_WARN(COMP, "sending the ServiceRecord to the SA (LID %u) failed: %s",
			xds->port.sm_lid, xs_strerror(rc));
	xs_timer_arm(xds->timer, SA_TIMEOUT_MS, 0);
}

static void xds_timer(struct xs_loop *loop, struct xs_timer *t, void *arg)
{
	struct xsd_xds *xds = arg;

	switch (xds->state) {
	case SA_IDLE:
	case SA_REGISTERED:
		sa_start(xds); /* retry after a failure / renew the lease */
		break;
	case SA_SETTING:
		if (xds->attempts < SA_RETRIES) {
			sa_start(xds);
			break;
		}
		xds->ctr.sa_failures++;
		XS_WARN(COMP, "the SA at LID %u did not answer %d ServiceRecord Sets; retrying in %d s",
			xds->port.sm_lid, SA_RETRIES, SA_RETRY_LATER_MS / 1000);
		sa_set_state(xds, SA_IDLE);
		xs_timer_arm(t, SA_RETRY_LATER_MS, 0);
		break;
	case SA_DELETING:
		if (xds->attempts++ < SA_RETRIES) {
			sa_send(xds, XS_MAD_METHOD_DELETE);
			xs_timer_arm(t, DELETE_TIMEOUT_MS, 0);
			break;
		}
		XS_WARN(COMP, "the SA did not confirm the ServiceRecord Delete; it expires with its lease");
		sa_set_state(xds, SA_DONE);
		break;
	case SA_DONE:
	case SA_NO_SA:
		break;
	}
}

static void on_sa_mad(struct xsd_xds *xds, const uint8_t *mad, size_t len)
{
	struct xs_sa_hdr h;

	if (xs_sa_hdr_decode(mad, len, &h) < 0)
		return;
	if (!(h.mad.method & XS_MAD_METHOD_RESP) || (uint32_t)h.mad.tid != xds->pending_tid ||
	    h.mad.attr_id != XS_SA_ATTR_SERVICE_RECORD)
		return; /* late or foreign */
	if (xds->state == SA_SETTING) {
		if (h.mad.status) {
			xds->ctr.sa_failures++;
			XS_WARN(COMP, "the SA refused our ServiceRecord (status 0x%04x); retrying in %d s",
				h.mad.status, SA_RETRY_LATER_MS / 1000);
			sa_set_state(xds, SA_IDLE);
			xs_timer_arm(xds->timer, SA_RETRY_LATER_MS, 0);
			return;
		}
		if (xds->ctr.sa_sets++ == 0)
			XS_INFO(COMP, "ServiceRecord XSIGOXDS registered (ID 0x%016" PRIx64
				", LID %u, lease %u s)", XSD_XDS_SERVICE_ID, xds->port.lid,
				xds->lease_s);
		sa_set_state(xds, SA_REGISTERED);
		xs_timer_arm(xds->timer, (uint64_t)xds->lease_s * 1000 / 2, 0);
	} else if (xds->state == SA_DELETING) {
		XS_INFO(COMP, "ServiceRecord XSIGOXDS deleted");
		sa_set_state(xds, SA_DONE);
		xs_timer_disarm(xds->timer);
	}
}

/* XCPM: answer an XCM_REQUEST with our single XCM. */
static void on_xcpm_mad(struct xsd_xds *xds, const struct xs_mad_addr *src, const uint8_t *mad,
			size_t len)
{
	struct xs_mad_hdr h;
	struct xs_xcpm_request rq;
	struct xs_xcpm_reply rep = { 0 };
	uint8_t out[XS_MAD_LEN];
	int rc;

	xds->ctr.xcpm_requests++;
	if (xs_mad_hdr_decode(mad, len, &h) < 0 || h.mgmt_class != XS_XCPM_CLASS ||
	    h.class_version != XS_XCPM_CLASS_VERSION)
		goto malformed;
	if (h.method & XS_MAD_METHOD_RESP)
		return; /* not for a server */
	if (h.method != XS_MAD_METHOD_GET || h.attr_id != XS_XCPM_ATTR_XCM_REQUEST)
		goto malformed;
	if (len < XS_XCPM_DATA_OFF ||
	    xs_xcpm_request_decode(mad + XS_XCPM_DATA_OFF, len - XS_XCPM_DATA_OFF, &rq) < 0)
		goto malformed;
	XS_DEBUG(COMP, "XCM_REQUEST from LID %u, port 0x%016" PRIx64 ", host '%s'", src->lid,
		 rq.server.port_guid, rq.hostname);
	rep.server = rq.server;
	rep.xcm_version = XS_XCPM_XCM_VERSION;
	rep.count = 1;
	rep.xcms[0].port_guid = xds->port.port_guid;
	rep.xcms[0].lid = xds->port.lid;
	memset(out, 0, sizeof(out));
	h.method = XS_MAD_METHOD_GET | XS_MAD_METHOD_RESP;
	h.status = 0;
	rc = xs_mad_hdr_encode(&h, out, sizeof(out));
	if (rc >= 0)
		rc = xs_xcpm_reply_encode(&rep, out + XS_XCPM_DATA_OFF, sizeof(out) - XS_XCPM_DATA_OFF);
	if (rc >= 0)
		rc = xs_mad_send(xds->xcpm_agent, src, out, sizeof(out));
	if (rc < 0) {
		XS_WARN(COMP, "XCM_REQUEST reply to LID %u not sent: %s", src->lid, xs_strerror(rc));
		return;
	}
	xds->ctr.xcpm_replies++;
	return;
malformed:
	xds->ctr.xcpm_malformed++;
	XS_DEBUG(COMP, "malformed XCPM MAD from LID %u (%zu bytes) dropped", src->lid, len);
}

static void mad_cb(struct xs_loop *loop, int fd, unsigned int events, void *arg)
{
	struct xsd_xds *xds = arg;
	struct xs_mad_agent *a = fd == xs_mad_agent_fd(xds->sa_agent) ? xds->sa_agent
								       : xds->xcpm_agent;
	uint8_t mad[XS_MAD_LEN];
	struct xs_mad_addr src;
	int n;

	for (;;) {
		n = xs_mad_recv(a, &src, mad, sizeof(mad), 0);
		if (n < 0)
			break;
		if (a == xds->sa_agent)
			on_sa_mad(xds, mad, (size_t)n);
		else
			on_xcpm_mad(xds, &src, mad, (size_t)n);
	}
	if (n != -EAGAIN && n != -ETIMEDOUT)
		XS_WARN(COMP, "MAD receive failed: %s", xs_strerror(n));
}

struct xsd_xds *xsd_xds_new(struct xs_loop *loop, struct xs_fabric *fabric,
			    const struct xs_port_attr *port, const struct xsd_xds_opts *opts)
{
	struct xsd_xds *xds = calloc(1, sizeof(*xds));
	int err;

	if (!xds)
		return NULL;
	xds->loop = loop;
	xds->fabric = fabric;
	xds->port = *port;
	xds->lease_s = opts && opts->lease_s ? opts->lease_s : XSD_XDS_LEASE_S;
	xds->sa_agent = xs_mad_agent_register(fabric, XS_SA_CLASS, XS_SA_CLASS_VERSION, NULL, 0);
	if (!xds->sa_agent) {
		XS_ERR(COMP, "cannot register an SA MAD agent: %s", strerror(errno));
		goto free_xds;
	}
	xds->xcpm_agent = xs_mad_agent_register(fabric, XS_XCPM_CLASS, XS_XCPM_CLASS_VERSION, NULL,
						XS_MAD_AGENT_SERVER);
	if (!xds->xcpm_agent) {
		XS_ERR(COMP, "cannot register the XCPM server agent (class 0x0B v2): %s",
		       strerror(errno));
		goto unreg_sa;
	}
	xds->timer = xs_timer_new(loop, xds_timer, xds);
	if (!xds->timer)
		goto unreg_xcpm;
	if (xs_loop_add_fd(loop, xs_mad_agent_fd(xds->sa_agent), XS_IO_IN, mad_cb, xds) < 0)
		goto free_timer;
	if (xs_loop_add_fd(loop, xs_mad_agent_fd(xds->xcpm_agent), XS_IO_IN, mad_cb, xds) < 0)
		goto del_sa_fd;
	sa_start(xds);
	return xds;
del_sa_fd:
	err = errno;
	xs_loop_del_fd(loop, xs_mad_agent_fd(xds->sa_agent));
	errno = err;
free_timer:
	err = errno;
	xs_timer_free(xds->timer);
	errno = err;
unreg_xcpm:
	err = errno;
	xs_mad_agent_unregister(xds->xcpm_agent);
	errno = err;
unreg_sa:
	err = errno;
	xs_mad_agent_unregister(xds->sa_agent);
	errno = err;
free_xds:
	err = errno;
	free(xds);
	errno = err;
	return NULL;
}

void xsd_xds_port_changed(struct xsd_xds *xds, const struct xs_port_attr *port)
{
	bool changed = port->lid != xds->port.lid || port->sm_lid != xds->port.sm_lid ||
		       memcmp(port->gid, xds->port.gid, 16);

	xds->port = *port;
	if (changed && port->state == XS_PORT_ACTIVE) {
		XS_INFO(COMP, "port changed (LID %u, SM LID %u): registering again", port->lid,
			port->sm_lid);
		xds->state = SA_IDLE;
		sa_start(xds);
	}
}

void xsd_xds_shutdown(struct xsd_xds *xds)
{
	if (xds->state == SA_NO_SA) {
		sa_set_state(xds, SA_DONE);
		return;
	}
	if (xds->state == SA_DELETING || xds->state == SA_DONE)
		return;
	sa_set_state(xds, SA_DELETING);
	xds->attempts = 1;
	sa_send(xds, XS_MAD_METHOD_DELETE);
	xs_timer_arm(xds->timer, DELETE_TIMEOUT_MS, 0);
}

bool xsd_xds_idle(const struct xsd_xds *xds)
{
	return xds->state == SA_DONE;
}

void xsd_xds_free(struct xsd_xds *xds)
{
	if (!xds)
		return;
	xs_loop_del_fd(xds->loop, xs_mad_agent_fd(xds->xcpm_agent));
	xs_loop_del_fd(xds->loop, xs_mad_agent_fd(xds->sa_agent));
	xs_timer_free(xds->timer);
	xs_mad_agent_unregister(xds->xcpm_agent);
	xs_mad_agent_unregister(xds->sa_agent);
	free(xds);
}

json_t *xsd_xds_stats(const struct xsd_xds *xds)
{
	return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", "xds_record",
			 sa_state_name[xds->state], "sa_registrations", (json_int_t)xds->ctr.sa_sets,
			 "sa_failures", (json_int_t)xds->ctr.sa_failures, "xcpm_requests",
			 (json_int_t)xds->ctr.xcpm_requests, "xcpm_replies",
			 (json_int_t)xds->ctr.xcpm_replies, "xcpm_malformed",
			 (json_int_t)xds->ctr.xcpm_malformed);
}
