/* SPDX-License-Identifier: MIT */
/*
 * host_int.h - private to xscore/host: the host object, the XSMP client
 * session with its transport ops table, discovery and back-off.
 */
#ifndef XSCORE_HOST_INT_H
#define XSCORE_HOST_INT_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <xscore/common.h>
#include <xscore/evloop.h>
#include <xscore/fabric.h>
#include <xscore/host.h>
#include <xscore/log.h>
#include <xscore/wire.h>
#include <xscore/xsmp_ulp.h>

#define XS_HOST_LOG "host"
#define XS_XSMP_LOG "xsmp"
#define XS_DISC_LOG "disc"

#define XS_HOST_TICK_MS 100
#define XS_SESS_CONNECT_TIMEOUT_MS 5000
#define XS_SESS_REG_TIMEOUT_MS 10000
#define XS_SESS_SHUTDOWN_GRACE_MS 1000
#define XS_SESS_MAX_HELLO_S 60
#define XS_HOST_MAX_XCMS XS_XCPM_MAX_XCMS
#define XS_HOST_AGENT_VERSION 1

/* ------------------------------------------------------------- back-off */

/* Full-jitter exponential back-off: delay = random(0, min(max, min * 2^n)). */
struct xs_backoff {
	uint32_t attempt;
	uint32_t min_ms;
	uint32_t max_ms;
	uint64_t rng;                 /* xorshift64* state, never 0 */
};
void xs_backoff_init(struct xs_backoff *b, uint32_t min_ms, uint32_t max_ms, uint64_t seed);
/* Next delay, then attempt++. */
uint32_t xs_backoff_next(struct xs_backoff *b);
void xs_backoff_reset(struct xs_backoff *b);
/* Uniform in [0, n) (n > 0). */
uint32_t xs_backoff_rand(struct xs_backoff *b, uint32_t n);

/* ---------------------------------------------------------- XSMP client */

struct xs_xsmp_transport_ops {
	/* Start connecting to c->xcm_lid; the outcome comes back through
	 * xs_xsmp_transport_up() / xs_xsmp_transport_down(). */
	int (*connect)(struct xs_xsmp_client *c);
	/* Post one message; completion through xs_xsmp_send_done(). */
	int (*send)(struct xs_xsmp_client *c, const uint8_t *msg, size_t len);
	/* Drop the connection and its resources. Idempotent, no callbacks. */
	void (*close)(struct xs_xsmp_client *c);
};

struct xs_xsmp_client {
	struct xs_host *host;
	const struct xs_xsmp_transport_ops *tops;
	void *tctx;                   /* the transport's */
	uint64_t xcm_guid;
	uint16_t xcm_lid;
	enum xs_sess_state state;
	bool stopped;                 /* no reconnect (shutdown, XCM withdrawn) */
	bool established_once;
	bool stable;                  /* up for one hello interval: back-off reset */
	struct xs_backoff backoff;
	uint64_t state_since_ms;
	uint64_t next_attempt_ms;
	uint64_t up_since_ms;
	uint64_t last_rx_ms;
	uint64_t last_hello_ms;
	uint64_t shutdown_deadline_ms;
	uint32_t hello_interval_s;
	uint32_t tx_seq, rx_seq;
	uint32_t tx_outstanding;
	/* counters */
	uint32_t reconnects, hellos_rx, msgs_rx, msgs_tx, rejects, seq_mismatch;
	uint32_t bad_msgs, timeouts;
	char chassis_name[33];
	char last_error[128];
	bool listed;                  /* seen in the latest XCPM reply */
};

/* Create a client in INIT, first attempt due at now + initial_delay_ms. */
struct xs_xsmp_client *xs_xsmp_client_new(struct xs_host *h, uint64_t xcm_guid, uint16_t lid,
					  const struct xs_xsmp_transport_ops *tops,
					  uint64_t now, uint32_t initial_delay_ms);
void xs_xsmp_client_free(struct xs_xsmp_client *c);
/* Drive timeouts and reconnects. */
void xs_xsmp_client_tick(struct xs_xsmp_client *c, uint64_t now);
/* Send SHUTDOWN (when registered) and close; no reconnect afterwards.
 * Returns 1 if SHUTDOWN was sent. */
int xs_xsmp_client_stop(struct xs_xsmp_client *c, uint64_t now, const char *why);

/* Transport -> client events */
void xs_xsmp_transport_up(struct xs_xsmp_client *c, uint64_t now);
void xs_xsmp_transport_down(struct xs_xsmp_client *c, uint64_t now, const char *why);
void xs_xsmp_on_message(struct xs_xsmp_client *c, const uint8_t *msg, size_t len, uint64_t now);
void xs_xsmp_send_done(struct xs_xsmp_client *c, bool ok, uint64_t now);

/* Build and send a message (header filled in here). */
int xs_xsmp_client_send(struct xs_xsmp_client *c, uint8_t type, const uint8_t *body,
			size_t body_len);

extern const struct xs_xsmp_transport_ops xs_xsmp_fabric_transport;
/* A CM event of the fabric for one of the host's session QPs (transport.c). */
void xs_fabric_transport_event(struct xs_host *h, const struct xs_event *ev);

/* ---------------------------------------------------------------- host */

struct xs_ulp_slot {
	const struct xs_ulp_ops *ops;
	void *ctx;
};

struct xs_disc {
	enum xs_disc_state state;
	struct xs_mad_agent *sa_agent;
	struct xs_mad_agent *xcpm_agent;
	struct xs_backoff backoff;
	uint64_t next_query_ms;
	uint64_t phase_start_ms;      /* SA: first attempt of this query */
	uint64_t attempt_deadline_ms;
	int xcpm_tries;
	uint32_t tid;
	uint32_t pending_tid;
	struct xs_host_disc_status st;
};

struct xs_host {
	struct xs_loop *loop;
	struct xs_fabric *fabric;
	struct xs_port_attr port;
	struct xs_host_opts opts;
	char hostname[65];
	char session_name[33];
	char port_name[64];
	struct xs_timer *tick;
	bool started, shutting_down;
	struct xs_disc disc;
	struct xs_xsmp_client *clients[XS_HOST_MAX_XCMS];
	int n_clients;
	struct xs_ulp_slot ulps[8];   /* by XSMP type */
	struct xs_ulp_dev *devs;
	uint32_t n_devs;
	uint64_t seed;
	struct xs_fab_conn *conns;    /* live fabric connections (transport.c) */
	/* test hook: replace the fabric transport */
	const struct xs_xsmp_transport_ops *tops;
};

/* Host core without a fabric (unit tests): loop may be NULL. */
struct xs_host *xs_host_new_detached(const char *session_name, uint64_t port_guid,
				     const struct xs_xsmp_transport_ops *tops);

/* Session -> host: REG_CONFIRM / loss (module notifications, sync reset). */
void xs_host_session_up(struct xs_host *h, struct xs_xsmp_client *c);
void xs_host_session_down(struct xs_host *h, struct xs_xsmp_client *c);
/* A ULP message (header type 2/3) arrived on an UP session; answers it. */
void xs_host_ulp_message(struct xs_host *h, struct xs_xsmp_client *c, uint8_t xsmp_type,
			 const uint8_t *body, size_t len);
/* Remove every device through its module (xs_host_free). */
void xs_host_remove_all_devices(struct xs_host *h);
/* Send RESOURCE_LIST on c. */
int xs_host_send_resource_list(struct xs_host *h, struct xs_xsmp_client *c);
uint32_t xs_host_resource_flags(const struct xs_host *h);

/* Discovery */
int xs_disc_init(struct xs_host *h);
void xs_disc_fini(struct xs_host *h);
void xs_disc_tick(struct xs_host *h, uint64_t now);
void xs_disc_mad_ready(struct xs_host *h, struct xs_mad_agent *a);
/* Apply an XCM list (from XCPM or tests). */
void xs_host_apply_xcms(struct xs_host *h, const struct xs_xcm_record *xcms, int n,
			uint64_t now);

#endif /* XSCORE_HOST_INT_H */
