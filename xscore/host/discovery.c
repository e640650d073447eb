/* SPDX-License-Identifier: MIT */
/*
 * discovery.c - find the XDS and ask it for this host's XCMs.
 *
 *   IDLE --(due)--> SA_QUERY: SA Get(ServiceRecord, name "XSIGOXDS") to the SM
 *     LID, 3 s (+ up to 1 s jitter) per attempt, abandoned after 30 s; the
 *     reply's ServiceData16[0] is the XDS LID (ServiceData64[0] its GUID)
 *   --> XCPM_QUERY: XCM_REQUEST (class 0x0B v2, attribute 0xB002) to the XDS
 *     LID, 3 s (+ up to 1 s jitter) per attempt, 2 retries; up to 8 XCMs
 *   --> IDLE: sessions are (re)aligned to the list; next query after the
 *     re-query period (20 s, +-10 %), or after a full-jitter back-off
 *     (1 s .. 60 s) when anything failed.
 *
 * Non-blocking: requests go out with xs_mad_send and replies come in through
 * the agents' fds, matched by transaction ID. (xs_mad_rpc does the same
 * synchronously; one event loop serving many emulated hosts cannot block for
 * seconds.) With opts.xds_lid set, the SA step is skipped (RoCE has no SA).
 */
#include <stdarg.h>
#include <stdio.h>
#include <sys/utsname.h>

#include "host_int.h"

static const char *const disc_state_names[] = {
	[XS_DISC_IDLE] = "idle",
	[XS_DISC_SA_QUERY] = "sa-query",
	[XS_DISC_XCPM_QUERY] = "xcpm-query",
	[XS_DISC_STOPPED] = "stopped",
};

const char *xs_disc_state_str(enum xs_disc_state s)
{
	if ((unsigned int)s >= XS_ARRAY_SIZE(disc_state_names))
		return "unknown";
	return disc_state_names[s];
}

static void disc_mad_cb(struct xs_loop *loop, int fd, unsigned int events, void *arg);

int xs_disc_init(struct xs_host *h)
{
	struct xs_disc *d = &h->disc;
	int rc;

	xs_backoff_init(&d->backoff, (uint32_t)h->opts.backoff_min_ms,
			(uint32_t)h->opts.backoff_max_ms, h->seed ^ h->port.port_guid);
	d->tid = (uint32_t)xs_backoff_rand(&d->backoff, 0x10000) << 16;
	d->state = XS_DISC_IDLE;
	snprintf(d->st.last_result, sizeof(d->st.last_result), "not queried yet");
	d->sa_agent = xs_mad_agent_register(h->fabric, XS_SA_CLASS, XS_SA_CLASS_VERSION, NULL, 0);
	if (!d->sa_agent && h->port.link_layer != XS_LINK_ETHERNET) {
		rc = -errno;
		XS_ERR(XS_DISC_LOG, "%s: no SA MAD agent: %s", h->session_name, xs_strerror(rc));
		return rc;
	}
	d->xcpm_agent = xs_mad_agent_register(h->fabric, XS_XCPM_CLASS, XS_XCPM_CLASS_VERSION,
					      NULL, 0);
	if (!d->xcpm_agent) {
		rc = -errno;
		XS_ERR(XS_DISC_LOG, "%s: no XCPM MAD agent: %s", h->session_name, xs_strerror(rc));
		goto err_sa;
	}
	if (d->sa_agent) {
		rc = xs_loop_add_fd(h->loop, xs_mad_agent_fd(d->sa_agent), XS_IO_IN, disc_mad_cb, h);
		if (rc < 0)
			goto err_xcpm;
	}
	rc = xs_loop_add_fd(h->loop, xs_mad_agent_fd(d->xcpm_agent), XS_IO_IN, disc_mad_cb, h);
	if (rc < 0)
		goto err_sa_fd;
	return 0;

err_sa_fd:
	if (d->sa_agent)
		xs_loop_del_fd(h->loop, xs_mad_agent_fd(d->sa_agent));
err_xcpm:
	xs_mad_agent_unregister(d->xcpm_agent);
	d->xcpm_agent = NULL;
err_sa:
	if (d->sa_agent)
		xs_mad_agent_unregister(d->sa_agent);
	d->sa_agent = NULL;
	return rc;
}

void xs_disc_fini(struct xs_host *h)
{
	struct xs_disc *d = &h->disc;

	if (d->xcpm_agent) {
		xs_loop_del_fd(h->loop, xs_mad_agent_fd(d->xcpm_agent));
		xs_mad_agent_unregister(d->xcpm_agent);
		d->xcpm_agent = NULL;
	}
	if (d->sa_agent) {
		xs_loop_del_fd(h->loop, xs_mad_agent_fd(d->sa_agent));
		xs_mad_agent_unregister(d->sa_agent);
		d->sa_agent = NULL;
	}
}

static void disc_fail(struct xs_host *h, uint64_t now, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void disc_fail(struct xs_host *h, uint64_t now, const char *fmt, ...)
{
	struct xs_disc *d = &h->disc;
	uint32_t delay;
	char prev[sizeof(d->st.last_result)];
	va_list ap;

	memcpy(prev, d->st.last_result, sizeof(prev));
	va_start(ap, fmt);
	vsnprintf(d->st.last_result, sizeof(d->st.last_result), fmt, ap);
	va_end(ap);
	d->st.failures++;
	delay = xs_backoff_next(&d->backoff);
	d->next_query_ms = now + delay;
	d->state = XS_DISC_IDLE;
	d->pending_tid = 0;
	/* Say it once at info level; repeats of the same failure go to debug. */
	if (strcmp(prev, d->st.last_result) != 0)
		XS_INFO(XS_DISC_LOG, "%s: discovery failed: %s; retrying with back-off",
			h->session_name, d->st.last_result);
	XS_DEBUG(XS_DISC_LOG, "%s: discovery failed: %s; next try in %u ms", h->session_name,
		 d->st.last_result, delay);
}

/*
 * Per-attempt timeout plus up to a third more at random: when an overloaded
 * XDS or SA drops a burst of requests, the hosts that lost theirs do not all
 * come back in the same millisecond 3 s later.
 */
static uint64_t attempt_timeout(struct xs_host *h, int timeout_ms)
{
	return (uint64_t)timeout_ms + xs_backoff_rand(&h->disc.backoff, (uint32_t)timeout_ms / 3 + 1);
}

static int send_sa_query(struct xs_host *h, uint64_t now)
{
	struct xs_disc *d = &h->disc;
	uint8_t mad[XS_MAD_LEN];
	struct xs_sa_hdr sa;
	struct xs_service_record sr;
	struct xs_mad_addr dst = { 0 };
	int rc;

	memset(mad, 0, sizeof(mad));
	memset(&sa, 0, sizeof(sa));
	memset(&sr, 0, sizeof(sr));
	d->pending_tid = ++d->tid;
	sa.mad.base_version = XS_MAD_BASE_VERSION;
	sa.mad.mgmt_class = XS_SA_CLASS;
	sa.mad.class_version = XS_SA_CLASS_VERSION;
	sa.mad.method = XS_MAD_METHOD_GET;
	sa.mad.tid = d->pending_tid;
	sa.mad.attr_id = XS_SA_ATTR_SERVICE_RECORD;
	sa.comp_mask = XS_SR_COMP_NAME;
	snprintf(sr.name, sizeof(sr.name), "XSIGOXDS");
	rc = xs_sa_hdr_encode(&sa, mad, sizeof(mad));
	if (rc < 0)
		return rc;
	rc = xs_sr_encode(&sr, mad + XS_SA_DATA_OFF, sizeof(mad) - XS_SA_DATA_OFF);
	if (rc < 0)
		return rc;
	dst.lid = h->port.sm_lid;
	dst.qpn = 1;
	dst.qkey = XS_GSI_QKEY;
	dst.sl = h->port.sm_sl;
	d->attempt_deadline_ms = now + attempt_timeout(h, h->opts.sa_timeout_ms);
	return xs_mad_send(d->sa_agent, &dst, mad, sizeof(mad));
}

static int send_xcm_request(struct xs_host *h, uint64_t now)
{
	struct xs_disc *d = &h->disc;
	uint8_t mad[XS_MAD_LEN];
	struct xs_mad_hdr mh;
	struct xs_xcpm_request rq;
	struct xs_mad_addr dst = { 0 };
	struct utsname u;
	int rc;

	memset(mad, 0, sizeof(mad));
	memset(&mh, 0, sizeof(mh));
	memset(&rq, 0, sizeof(rq));
	d->pending_tid = ++d->tid;
	mh.base_version = XS_MAD_BASE_VERSION;
	mh.mgmt_class = XS_XCPM_CLASS;
	mh.class_version = XS_XCPM_CLASS_VERSION;
	mh.method = XS_MAD_METHOD_GET;
	mh.tid = d->pending_tid;
	mh.attr_id = XS_XCPM_ATTR_XCM_REQUEST;
	rc = xs_mad_hdr_encode(&mh, mad, sizeof(mad));
	if (rc < 0)
		return rc;
	rq.server.port_guid = h->port.port_guid;
	snprintf(rq.hostname, sizeof(rq.hostname), "%.65s", h->hostname);
	if (uname(&u) == 0) {
		snprintf(rq.os_version, sizeof(rq.os_version), "%.32s", u.release);
		snprintf(rq.os_arch, sizeof(rq.os_arch), "%.16s", u.machine);
	}
	rq.os_type = XS_XCPM_OS_LINUX;
	rq.driver_version = XS_HOST_AGENT_VERSION;
	rq.capabilities = XS_XCPM_CAP_PRESENT;
	if (h->ulps[XS_XSMP_VNIC].ops)
		rq.capabilities |= XS_XCPM_CAP_RESOURCE(XS_RES_VNIC);
	if (h->ulps[XS_XSMP_VHBA].ops)
		rq.capabilities |= XS_XCPM_CAP_RESOURCE(XS_RES_VHBA);
	snprintf(rq.build_version, sizeof(rq.build_version), "xsigo-rdma 0.1");
	rc = xs_xcpm_request_encode(&rq, mad + XS_XCPM_DATA_OFF, sizeof(mad) - XS_XCPM_DATA_OFF);
	if (rc < 0)
		return rc;
	dst.lid = d->st.xds_lid;
	if (h->opts.has_xds_gid) {
		dst.has_grh = true;
		memcpy(dst.gid, h->opts.xds_gid, 16);
	}
	dst.qpn = 1;
	dst.qkey = XS_GSI_QKEY;
	d->attempt_deadline_ms = now + attempt_timeout(h, h->opts.xcpm_timeout_ms);
	d->xcpm_tries++;
	return xs_mad_send(d->xcpm_agent, &dst, mad, sizeof(mad));
}

static void start_xcpm(struct xs_host *h, uint64_t now)
{
	struct xs_disc *d = &h->disc;
	int rc;

	d->state = XS_DISC_XCPM_QUERY;
	d->xcpm_tries = 0;
	rc = send_xcm_request(h, now);
	if (rc < 0)
		disc_fail(h, now, "XCM_REQUEST to LID %u not sent: %s", d->st.xds_lid,
			  xs_strerror(rc));
}

static void start_query(struct xs_host *h, uint64_t now)
{
	struct xs_disc *d = &h->disc;
	int rc;

	d->st.queries++;
	d->st.last_query_ms = now;
	if (h->opts.xds_lid || h->opts.has_xds_gid) {
		d->st.xds_lid = h->opts.xds_lid;
		start_xcpm(h, now);
		return;
	}
	if (h->port.link_layer == XS_LINK_ETHERNET || !d->sa_agent) {
		disc_fail(h, now, "RoCE port: no SA; give the XDS LID (--xds-lid)");
		return;
	}
	if (h->port.state != XS_PORT_ACTIVE || h->port.sm_lid == 0) {
		disc_fail(h, now, "port not active or no SM");
		return;
	}
	d->state = XS_DISC_SA_QUERY;
	d->phase_start_ms = now;
	rc = send_sa_query(h, now);
	if (rc < 0)
		disc_fail(h, now, "SA query not sent: %s", xs_strerror(rc));
}

void xs_disc_tick(struct xs_host *h, uint64_t now)
{
	struct xs_disc *d = &h->disc;
	int rc;

	switch (d->state) {
	case XS_DISC_IDLE:
		if (h->started && now >= d->next_query_ms)
			start_query(h, now);
		break;
	case XS_DISC_SA_QUERY:
		if (now < d->attempt_deadline_ms)
			break;
		if (now - d->phase_start_ms >= (uint64_t)h->opts.sa_give_up_ms) {
			disc_fail(h, now, "SA did not answer within %d s",
				  h->opts.sa_give_up_ms / 1000);
			break;
		}
		rc = send_sa_query(h, now);
		if (rc < 0)
			disc_fail(h, now, "SA query not sent: %s", xs_strerror(rc));
		break;
	case XS_DISC_XCPM_QUERY:
		if (now < d->attempt_deadline_ms)
			break;
		if (d->xcpm_tries > h->opts.xcpm_retries) {
			disc_fail(h, now, "XDS at LID %u did not answer XCM_REQUEST (%d tries)",
				  d->st.xds_lid, d->xcpm_tries);
			break;
		}
		rc = send_xcm_request(h, now);
		if (rc < 0)
			disc_fail(h, now, "XCM_REQUEST not sent: %s", xs_strerror(rc));
		break;
	case XS_DISC_STOPPED:
		break;
	}
}

static void handle_sa_reply(struct xs_host *h, const uint8_t *mad, size_t len, uint64_t now)
{
	struct xs_disc *d = &h->disc;
	struct xs_sa_hdr sa;
	struct xs_service_record sr;

	if (xs_sa_hdr_decode(mad, len, &sa) < 0)
		return;
	if (d->state != XS_DISC_SA_QUERY || (uint32_t)sa.mad.tid != d->pending_tid ||
	    !(sa.mad.method & XS_MAD_METHOD_RESP) ||
	    sa.mad.attr_id != XS_SA_ATTR_SERVICE_RECORD)
		return; /* late or foreign reply */
	if ((sa.mad.status & 0xff00) == XS_SA_STATUS_NO_RECORDS) {
		disc_fail(h, now, "no XSIGOXDS ServiceRecord in the SA");
		return;
	}
	if (sa.mad.status) {
		disc_fail(h, now, "SA answered status 0x%04x", sa.mad.status);
		return;
	}
	if (len < XS_SA_DATA_OFF || xs_sr_decode(mad + XS_SA_DATA_OFF, len - XS_SA_DATA_OFF, &sr) < 0) {
		disc_fail(h, now, "SA reply with a bad ServiceRecord");
		return;
	}
	if (strcmp(sr.name, "XSIGOXDS") != 0 || sr.data16[0] == 0) {
		disc_fail(h, now, "ServiceRecord '%.32s' gives no XDS LID", sr.name);
		return;
	}
	d->st.xds_lid = sr.data16[0];
	d->st.xds_guid = sr.data64[0];
	XS_DEBUG(XS_DISC_LOG, "%s: XDS at LID %u (GUID %016llx)", h->session_name,
		 d->st.xds_lid, (unsigned long long)d->st.xds_guid);
	start_xcpm(h, now);
}

static void handle_xcpm_reply(struct xs_host *h, const uint8_t *mad, size_t len, uint64_t now)
{
	struct xs_disc *d = &h->disc;
	struct xs_mad_hdr mh;
	struct xs_xcpm_reply rep;
	uint32_t j;

	if (xs_mad_hdr_decode(mad, len, &mh) < 0)
		return;
	if (d->state != XS_DISC_XCPM_QUERY || (uint32_t)mh.tid != d->pending_tid ||
	    !(mh.method & XS_MAD_METHOD_RESP) || mh.attr_id != XS_XCPM_ATTR_XCM_REQUEST)
		return;
	if (mh.status) {
		disc_fail(h, now, "XDS answered status 0x%04x", mh.status);
		return;
	}
	if (len < XS_XCPM_DATA_OFF ||
	    xs_xcpm_reply_decode(mad + XS_XCPM_DATA_OFF, len - XS_XCPM_DATA_OFF, &rep) < 0) {
		disc_fail(h, now, "XDS reply does not decode");
		return;
	}
	if (rep.server.port_guid && rep.server.port_guid != h->port.port_guid)
		XS_WARN(XS_DISC_LOG, "%s: XCM list is for port %016llx, not ours", h->session_name,
			(unsigned long long)rep.server.port_guid);
	d->state = XS_DISC_IDLE;
	d->pending_tid = 0;
	d->st.last_ok_ms = now;
	xs_backoff_reset(&d->backoff);
	/* +-10 % so that hosts started together drift apart. */
	d->next_query_ms = now + (uint64_t)h->opts.requery_ms * 9 / 10 +
			   xs_backoff_rand(&d->backoff, (uint32_t)h->opts.requery_ms / 5 + 1);
	if (rep.count == 0)
		snprintf(d->st.last_result, sizeof(d->st.last_result),
			 "XDS at LID %u assigned no XCM", d->st.xds_lid);
	else
		snprintf(d->st.last_result, sizeof(d->st.last_result), "%u XCM%s from XDS LID %u",
			 rep.count, rep.count == 1 ? "" : "s", d->st.xds_lid);
	for (j = 0; j < rep.count; j++)
		XS_DEBUG(XS_DISC_LOG, "%s: XCM %u: GUID %016llx LID %u", h->session_name, j,
			 (unsigned long long)rep.xcms[j].port_guid, rep.xcms[j].lid);
	xs_host_apply_xcms(h, rep.xcms, rep.count, now);
}

void xs_disc_mad_ready(struct xs_host *h, struct xs_mad_agent *a)
{
	uint8_t mad[XS_MAD_LEN];
	struct xs_mad_addr src;
	int n;

	for (;;) {
		n = xs_mad_recv(a, &src, mad, sizeof(mad), 0);
		if (n < 0)
			break;
		if (a == h->disc.sa_agent)
			handle_sa_reply(h, mad, (size_t)n, xs_now_ms());
		else
			handle_xcpm_reply(h, mad, (size_t)n, xs_now_ms());
	}
	if (n != -EAGAIN && n != -ETIMEDOUT)
		XS_WARN(XS_DISC_LOG, "%s: MAD receive failed: %s", h->session_name, xs_strerror(n));
}

static void disc_mad_cb(struct xs_loop *loop, int fd, unsigned int events, void *arg)
{
	struct xs_host *h = arg;

	(void)loop, (void)events;
	if (h->disc.sa_agent && fd == xs_mad_agent_fd(h->disc.sa_agent))
		xs_disc_mad_ready(h, h->disc.sa_agent);
	else if (h->disc.xcpm_agent && fd == xs_mad_agent_fd(h->disc.xcpm_agent))
		xs_disc_mad_ready(h, h->disc.xcpm_agent);
}
