/* SPDX-License-Identifier: MIT */
/*
 * session.c - the XSMP client session of a host toward one XCM.
 *
 * One function per input (tick, transport up/down, message, send done)
 * and one place that changes state (set_state). The transport behind the
 * session is an ops table, so the unit tests drive this file with a fake.
 *
 *   INIT --(attempt due)--> CONNECTING --(transport up)--> CONNECTED
 *     --(REGISTER sent)--> REGISTER_SENT --(REG_CONFIRM)--> UP
 *   any --(error, timeout, REG_REJECT, SHUTDOWN, hello timeout)--> DISCONNECTING
 *     --(closed)--> INIT with the next attempt after a jittered back-off.
 */
#include <stdio.h>
#include <stdlib.h>

#include "host_int.h"

static const char *const sess_state_names[] = {
	[XS_SESS_INIT] = "init",
	[XS_SESS_CONNECTING] = "connecting",
	[XS_SESS_CONNECTED] = "connected",
	[XS_SESS_REGISTER_SENT] = "register-sent",
	[XS_SESS_UP] = "up",
	[XS_SESS_DISCONNECTING] = "disconnecting",
};

const char *xs_sess_state_str(enum xs_sess_state s)
{
	if ((unsigned int)s >= XS_ARRAY_SIZE(sess_state_names))
		return "unknown";
	return sess_state_names[s];
}

static void set_state(struct xs_xsmp_client *c, enum xs_sess_state s, uint64_t now)
{
	if (c->state == s)
		return;
	XS_DEBUG(XS_XSMP_LOG, "session %s/%016llx: %s -> %s", c->host->session_name,
		 (unsigned long long)c->xcm_guid, xs_sess_state_str(c->state),
		 xs_sess_state_str(s));
	c->state = s;
	c->state_since_ms = now;
}

struct xs_xsmp_client *xs_xsmp_client_new(struct xs_host *h, uint64_t xcm_guid, uint16_t lid,
					  const struct xs_xsmp_transport_ops *tops,
					  uint64_t now, uint32_t initial_delay_ms)
{
	struct xs_xsmp_client *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->host = h;
	c->tops = tops;
	c->xcm_guid = xcm_guid;
	c->xcm_lid = lid;
	c->state = XS_SESS_INIT;
	c->state_since_ms = now;
	c->next_attempt_ms = now + initial_delay_ms;
	xs_backoff_init(&c->backoff, (uint32_t)h->opts.backoff_min_ms,
			(uint32_t)h->opts.backoff_max_ms, h->seed ^ xcm_guid);
	return c;
}

void xs_xsmp_client_free(struct xs_xsmp_client *c)
{
	if (!c)
		return;
	c->tops->close(c);
	free(c);
}

int xs_xsmp_client_send(struct xs_xsmp_client *c, uint8_t type, const uint8_t *body,
			size_t body_len)
{
	uint8_t msg[XS_XSMP_MAX_MSG];
	struct xs_xsmp_hdr hdr = {
		.type = type,
		.code = 0,
		.length = (uint16_t)(XS_XSMP_HDR_LEN + body_len),
		.seq = c->tx_seq + 1,
		.src = { 0, c->host->port.port_guid },
		.dst = { 0, c->xcm_guid },
	};
	int rc;

	if (body_len > XS_XSMP_MAX_BODY)
		return -EMSGSIZE;
	if (c->state < XS_SESS_CONNECTED || c->state > XS_SESS_DISCONNECTING)
		return -ENOTCONN;
	rc = xs_xsmp_hdr_encode(&hdr, msg, sizeof(msg));
	if (rc < 0)
		return rc;
	memcpy(msg + XS_XSMP_HDR_LEN, body, body_len);
	rc = c->tops->send(c, msg, XS_XSMP_HDR_LEN + body_len);
	if (rc < 0)
		return rc;
	c->tx_seq++;
	c->tx_outstanding++;
	c->msgs_tx++;
	return 0;
}

static void fill_session_body(struct xs_xsmp_client *c, struct xs_xsmp_session *s,
			      uint8_t code)
{
	memset(s, 0, sizeof(*s));
	s->type = code;
	s->resource_flags = xs_host_resource_flags(c->host);
	s->version = XS_HOST_AGENT_VERSION;
	s->xsmp_version = XS_XSMP_VERSION;
	snprintf(s->session_name, sizeof(s->session_name), "%s", c->host->session_name);
}

static int send_session(struct xs_xsmp_client *c, uint8_t code, uint8_t ack,
			const char *reason_text)
{
	struct xs_xsmp_session s;
	uint8_t body[XS_XSMP_SESSION_LEN];
	int rc;

	fill_session_body(c, &s, code);
	s.code = ack;
	if (reason_text)
		snprintf(s.reason_text, sizeof(s.reason_text), "%s", reason_text);
	rc = xs_xsmp_session_encode(&s, body, sizeof(body));
	if (rc < 0)
		return rc;
	return xs_xsmp_client_send(c, XS_XSMP_SESSION, body, (size_t)rc);
}

/* Close the transport and plan the next attempt (unless stopped). */
static void session_close(struct xs_xsmp_client *c, uint64_t now, const char *why)
{
	bool was_up = c->state == XS_SESS_UP;

	if (why && *why) {
		/* Say a failure once at info level; the same one again (a host
		 * retrying with back-off) goes to debug. */
		bool repeat = !was_up && strcmp(c->last_error, why) == 0;

		snprintf(c->last_error, sizeof(c->last_error), "%s", why);
		if (c->state != XS_SESS_INIT && !repeat)
			XS_INFO(XS_XSMP_LOG, "session %s to XCM %016llx (LID %u): %s",
				c->host->session_name, (unsigned long long)c->xcm_guid,
				c->xcm_lid, why);
		else if (c->state != XS_SESS_INIT)
			XS_DEBUG(XS_XSMP_LOG, "session %s to XCM %016llx (LID %u): %s (again)",
				 c->host->session_name, (unsigned long long)c->xcm_guid,
				 c->xcm_lid, why);
	}
	set_state(c, XS_SESS_DISCONNECTING, now);
	c->tops->close(c);
	c->tx_outstanding = 0;
	if (was_up)
		xs_host_session_down(c->host, c);
	c->up_since_ms = 0;
	set_state(c, XS_SESS_INIT, now);
	if (c->stopped) {
		c->next_attempt_ms = 0;
		return;
	}
	if (c->stable)
		xs_backoff_reset(&c->backoff);
	c->stable = false;
	c->next_attempt_ms = now + xs_backoff_next(&c->backoff);
}

static void start_connect(struct xs_xsmp_client *c, uint64_t now)
{
	int rc;

	c->tx_seq = 0;
	c->rx_seq = 0;
	c->tx_outstanding = 0;
	set_state(c, XS_SESS_CONNECTING, now);
	rc = c->tops->connect(c);
	if (rc == -EOPNOTSUPP && c->host->fabric) {
		char why[128];

		/* e.g. "umad": MADs only, so discovery works but no session can */
		snprintf(why, sizeof(why), "connect failed: fabric '%s' has no connection "
			 "manager (MADs only)", xs_fabric_backend(c->host->fabric));
		session_close(c, now, why);
	} else if (rc < 0) {
		char why[128];

		snprintf(why, sizeof(why), "connect failed: %s", xs_strerror(rc));
		session_close(c, now, why);
	}
}

void xs_xsmp_transport_up(struct xs_xsmp_client *c, uint64_t now)
{
	int rc;

	if (c->state != XS_SESS_CONNECTING)
		return;
	set_state(c, XS_SESS_CONNECTED, now);
	c->last_rx_ms = now;
	rc = send_session(c, XS_XSMP_REGISTER, 0, NULL);
	if (rc < 0) {
		char why[128];

		snprintf(why, sizeof(why), "REGISTER not sent: %s", xs_strerror(rc));
		session_close(c, now, why);
		return;
	}
	set_state(c, XS_SESS_REGISTER_SENT, now);
}

void xs_xsmp_transport_down(struct xs_xsmp_client *c, uint64_t now, const char *why)
{
	if (c->state == XS_SESS_INIT)
		return;
	if (c->state == XS_SESS_DISCONNECTING) {
		session_close(c, now, NULL);
		return;
	}
	session_close(c, now, why);
}

void xs_xsmp_send_done(struct xs_xsmp_client *c, bool ok, uint64_t now)
{
	if (c->tx_outstanding)
		c->tx_outstanding--;
	if (!ok && c->state != XS_SESS_INIT && c->state != XS_SESS_DISCONNECTING) {
		session_close(c, now, "send failed (transport error)");
		return;
	}
	if (c->state == XS_SESS_DISCONNECTING && c->tx_outstanding == 0)
		session_close(c, now, NULL);
}

static void handle_reg_confirm(struct xs_xsmp_client *c, const struct xs_xsmp_session *s,
			       uint64_t now)
{
	uint32_t hello = s->version;

	if (c->state != XS_SESS_REGISTER_SENT) {
		c->bad_msgs++;
		XS_WARN(XS_XSMP_LOG, "session %s: REG_CONFIRM in state %s ignored",
			c->host->session_name, xs_sess_state_str(c->state));
		return;
	}
	if (hello < 1)
		hello = 1;
	if (hello > XS_SESS_MAX_HELLO_S)
		hello = XS_SESS_MAX_HELLO_S;
	c->hello_interval_s = hello;
	snprintf(c->chassis_name, sizeof(c->chassis_name), "%s", s->chassis_name);
	c->up_since_ms = now;
	c->last_hello_ms = 0;
	c->last_error[0] = '\0';
	if (c->established_once)
		c->reconnects++;
	c->established_once = true;
	set_state(c, XS_SESS_UP, now);
	XS_INFO(XS_XSMP_LOG, "session %s up with XCM %016llx (%s), hello %us",
		c->host->session_name, (unsigned long long)c->xcm_guid,
		c->chassis_name[0] ? c->chassis_name : "-", hello);
	xs_host_session_up(c->host, c);
	if (c->state == XS_SESS_UP)
		(void)xs_host_send_resource_list(c->host, c);
}

static void handle_session(struct xs_xsmp_client *c, const uint8_t *body, size_t len,
			   uint64_t now)
{
	struct xs_xsmp_session s;
	char why[128];
	uint8_t code;

	if (xs_xsmp_session_decode(body, len, &s) < 0) {
		c->bad_msgs++;
		XS_WARN(XS_XSMP_LOG, "session %s: undecodable session message dropped",
			c->host->session_name);
		return;
	}
	/* Accept the ACK bit folded into the type as well (see protocol.md). */
	code = s.type & 0x3f;
	switch (code) {
	case XS_XSMP_REG_CONFIRM:
		handle_reg_confirm(c, &s, now);
		break;
	case XS_XSMP_REG_REJECT:
		c->rejects++;
		snprintf(why, sizeof(why), "rejected by director: reason %u: %s", s.reason,
			 s.reason_text[0] ? s.reason_text : "(no text)");
		/* a host that keeps being refused for the same reason says so once */
		if (strcmp(c->last_error, why) != 0)
			XS_WARN(XS_XSMP_LOG, "session %s: %s", c->host->session_name, why);
		session_close(c, now, why);
		break;
	case XS_XSMP_HELLO:
		if ((s.type | s.code) & XS_XSMP_ACK)
			break; /* an echo; we never ask, ignore */
		c->hellos_rx++;
		c->last_hello_ms = now;
		if (c->state == XS_SESS_UP && send_session(c, XS_XSMP_HELLO, XS_XSMP_ACK, NULL) < 0)
			session_close(c, now, "HELLO echo not sent");
		break;
	case XS_XSMP_SHUTDOWN:
		snprintf(why, sizeof(why), "director shut the session down%s%s",
			 s.reason_text[0] ? ": " : "", s.reason_text);
		session_close(c, now, why);
		break;
	default:
		XS_DEBUG(XS_XSMP_LOG, "session %s: session message %u ignored",
			 c->host->session_name, s.type);
		break;
	}
}

void xs_xsmp_on_message(struct xs_xsmp_client *c, const uint8_t *msg, size_t len, uint64_t now)
{
	struct xs_xsmp_hdr hdr;

	if (c->state < XS_SESS_CONNECTED || c->state == XS_SESS_DISCONNECTING)
		return;
	if (xs_xsmp_hdr_decode(msg, len, &hdr) < 0) {
		c->bad_msgs++;
		XS_WARN(XS_XSMP_LOG, "session %s: message of %zu bytes with a bad XSMP header "
			"dropped", c->host->session_name, len);
		return;
	}
	c->msgs_rx++;
	c->last_rx_ms = now;
	if (hdr.seq != c->rx_seq + 1)
		c->seq_mismatch++;
	c->rx_seq = hdr.seq;
	switch (hdr.type) {
	case XS_XSMP_SESSION:
		handle_session(c, msg + XS_XSMP_HDR_LEN, hdr.length - XS_XSMP_HDR_LEN, now);
		break;
	case XS_XSMP_VNIC:
	case XS_XSMP_VHBA:
		if (c->state != XS_SESS_UP) {
			c->bad_msgs++;
			XS_WARN(XS_XSMP_LOG, "session %s: ULP message before REG_CONFIRM dropped",
				c->host->session_name);
			break;
		}
		xs_host_ulp_message(c->host, c, hdr.type, msg + XS_XSMP_HDR_LEN,
				    hdr.length - XS_XSMP_HDR_LEN);
		break;
	default:
		c->bad_msgs++;
		XS_WARN(XS_XSMP_LOG, "session %s: XSMP type %u not handled", c->host->session_name,
			hdr.type);
		break;
	}
}

void xs_xsmp_client_tick(struct xs_xsmp_client *c, uint64_t now)
{
	char why[128];

	switch (c->state) {
	case XS_SESS_INIT:
		if (!c->stopped && !c->host->shutting_down && now >= c->next_attempt_ms)
			start_connect(c, now);
		break;
	case XS_SESS_CONNECTING:
	case XS_SESS_CONNECTED:
		if (now - c->state_since_ms >= XS_SESS_CONNECT_TIMEOUT_MS) {
			c->timeouts++;
			session_close(c, now, "connect timed out");
		}
		break;
	case XS_SESS_REGISTER_SENT:
		if (now - c->state_since_ms >= XS_SESS_REG_TIMEOUT_MS) {
			c->timeouts++;
			session_close(c, now, "no REG_CONFIRM within 10 s");
		}
		break;
	case XS_SESS_UP:
		if (now - c->last_rx_ms >= 3ull * c->hello_interval_s * 1000) {
			c->timeouts++;
			snprintf(why, sizeof(why), "hello timeout: nothing received for %u s",
				 3 * c->hello_interval_s);
			session_close(c, now, why);
			break;
		}
		if (!c->stable && now - c->up_since_ms >= c->hello_interval_s * 1000ull)
			c->stable = true;
		break;
	case XS_SESS_DISCONNECTING:
		if (now >= c->shutdown_deadline_ms)
			session_close(c, now, NULL);
		break;
	}
}

int xs_xsmp_client_stop(struct xs_xsmp_client *c, uint64_t now, const char *why)
{
	int sent = 0;

	c->stopped = true;
	if (c->state == XS_SESS_UP || c->state == XS_SESS_REGISTER_SENT) {
		if (send_session(c, XS_XSMP_SHUTDOWN, 0, why) == 0)
			sent = 1;
	}
	if (sent && c->tx_outstanding) {
		/* Let the SHUTDOWN leave before the connection goes. */
		bool was_up = c->state == XS_SESS_UP;

		set_state(c, XS_SESS_DISCONNECTING, now);
		c->shutdown_deadline_ms = now + XS_SESS_SHUTDOWN_GRACE_MS;
		if (was_up)
			xs_host_session_down(c->host, c);
		c->up_since_ms = 0;
		return sent;
	}
	if (c->state != XS_SESS_INIT)
		session_close(c, now, why);
	return sent;
}
