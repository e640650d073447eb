/* SPDX-License-Identifier: MIT */
/*
 * xscore/host.h - the host side of the control plane: one struct xs_host per
 * fabric port (a process may run many, e.g. to emulate many hosts), each
 * with its own XDS discovery, one XSMP session per XCM, and the ULP API
 * through which device modules (vNIC, vHBA) receive their configuration.
 *
 * Everything runs on the caller's event loop (xscore/evloop.h); nothing
 * blocks: MADs, CM and completions are driven from their pollable fds and
 * every wait is bounded by a timer.
 *
 * Error convention: int functions return >= 0 or a negative errno;
 * constructors return NULL with errno set.
 */
#ifndef XSCORE_HOST_H
#define XSCORE_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xscore/evloop.h>
#include <xscore/fabric.h>
#include <xscore/xsmp_ulp.h>

#ifdef __cplusplus
extern "C" {
#endif

struct xs_host;
struct xs_xsmp_client;

/* Options that can grow: set .size = sizeof(struct xs_host_opts). */
struct xs_host_opts {
	size_t size;
	const char *fabric_spec;   /* default "soft" */
	const char *port_name;     /* soft: stable port identity */
	const char *hostname;      /* session name; default gethostname() */
	uint16_t xds_lid;          /* non-zero: skip the SA and ask this LID (RoCE) */
	bool has_xds_gid;          /* skip the SA and ask the XDS at xds_gid (RoCE) */
	uint8_t xds_gid[16];
	int requery_ms;            /* XDS re-query period while happy (default 20000) */
	int backoff_min_ms;        /* first retry window (default 1000) */
	int backoff_max_ms;        /* retry window cap (default 60000) */
	int sa_timeout_ms;         /* per SA query attempt (default 3000) */
	int sa_give_up_ms;         /* SA query abandoned after (default 30000) */
	int xcpm_timeout_ms;       /* per XCM_REQUEST attempt (default 3000) */
	int xcpm_retries;          /* 0 = default 2, negative = none */
	uint8_t reserved[64];
};

/* Open the port and prepare discovery; nothing is sent before xs_host_start.
 * NULL with errno (from xs_fabric_open, or ENOMEM). */
struct xs_host *xs_host_new(struct xs_loop *loop, const struct xs_host_opts *opts);
/* Tear down without telling anyone (use xs_host_shutdown first for a clean
 * stop). Devices are removed through their modules' remove callbacks with
 * XS_ULP_REMOVE_HOST_STOP. */
void xs_host_free(struct xs_host *h);
int xs_host_start(struct xs_host *h);
/* Send SHUTDOWN on every session that is up and disconnect them; sessions
 * stay down. Returns the number of SHUTDOWN messages sent. */
int xs_host_shutdown(struct xs_host *h, const char *why);
/* True once every session is closed (after xs_host_shutdown). */
bool xs_host_quiet(const struct xs_host *h);

const char *xs_host_session_name(const struct xs_host *h);
/* The port and loop a module builds its data path on. */
struct xs_fabric *xs_host_fabric(struct xs_host *h);
struct xs_loop *xs_host_loop(struct xs_host *h);

/* ---------------------------------------------------------------- ULP API */

union xs_ulp_config {
	struct xs_vnic_msg vnic;
	struct xs_vhba_msg vhba;
};

/* A device the director configured on this host, bound by resource_id. The
 * library owns it; modules read it and keep their own state in priv. */
struct xs_ulp_dev {
	uint64_t resource_id;
	uint8_t xsmp_type;              /* XS_XSMP_VNIC / XS_XSMP_VHBA */
	char name[XS_ULP_NAME_LEN + 1];
	union xs_ulp_config cfg;        /* as last installed / updated; the per-message
	                                   fields (type, code, length, bitmask,
	                                   ext_version, reason, reason_text) are 0 */
	enum xs_res_state state;        /* set by the module, reported in RESOURCE_LIST */
	uint64_t xcm_guid;              /* session that configured it */
	uint64_t installed_ms;          /* monotonic */
	uint64_t updated_ms;
	uint32_t n_updates;
	bool stale;                     /* marked by SYNC_BEGIN, cleared by INSTALL */
	void *priv;                     /* the module's */
	struct xs_host *host;
	struct xs_ulp_dev *next;
};

/* How a module reports a refusal: a NACK reason and text for the operator. */
struct xs_ulp_result {
	uint32_t reason;                /* enum xs_ulp_nack_reason */
	char text[XS_ULP_REASON_TEXT_LEN + 1];
};

enum xs_ulp_remove_why {
	XS_ULP_REMOVE_DELETE = 1,       /* DELETE from the director */
	XS_ULP_REMOVE_STALE,            /* not re-announced between SYNC_BEGIN and SYNC_END */
	XS_ULP_REMOVE_HOST_STOP,        /* xs_host_free */
};

/*
 * A module's callbacks. install/update return 0 to ACK, or a negative errno
 * to NACK (fill res; if res->reason stays 0 the library uses
 * XS_NACK_GENERAL_ERROR and xs_strerror as text). On a failed install the
 * device is dropped; on a failed update the old configuration is kept.
 * Any callback may be NULL: install/update then accept (record only),
 * remove and session do nothing.
 */
struct xs_ulp_ops {
	const char *name;               /* "vnic", "vhba", ... for logs */
	uint8_t xsmp_type;
	int (*install)(void *ctx, struct xs_ulp_dev *dev, struct xs_ulp_result *res);
	/* dev->cfg already holds the new configuration; old is the previous one. */
	int (*update)(void *ctx, struct xs_ulp_dev *dev, const union xs_ulp_config *old,
		      uint32_t bitmask, struct xs_ulp_result *res);
	void (*remove)(void *ctx, struct xs_ulp_dev *dev, enum xs_ulp_remove_why why);
	void (*session)(void *ctx, uint64_t xcm_guid, bool up);
};

/* Register a module for its XSMP type (one per type): -EEXIST, -EINVAL. */
int xs_host_register_ulp(struct xs_host *h, const struct xs_ulp_ops *ops, void *ctx);
/* Unregister the module of a type: -ENOENT when none, -EBUSY while it
 * still holds devices. */
int xs_host_unregister_ulp(struct xs_host *h, uint8_t xsmp_type);
/* The device bound to a resource id, or NULL. */
struct xs_ulp_dev *xs_host_device(struct xs_host *h, uint64_t resource_id);
/* Name of the module registered for an XSMP type, or NULL. */
const char *xs_host_ulp_name(const struct xs_host *h, uint8_t xsmp_type);
/* Send a ULP message about dev (e.g. XS_VNIC_OPER_UP) on the session that
 * configured it: -ENOTCONN when that session is not up. */
int xs_ulp_send(struct xs_ulp_dev *dev, uint8_t code);
/* Iterate over the devices (do not add or remove during the walk). */
struct xs_ulp_dev *xs_host_devices(struct xs_host *h);

/* ----------------------------------------------------------------- status */

enum xs_disc_state {
	XS_DISC_IDLE = 0,   /* waiting for the next query */
	XS_DISC_SA_QUERY,
	XS_DISC_XCPM_QUERY,
	XS_DISC_STOPPED,
};

enum xs_sess_state {
	XS_SESS_INIT = 0,
	XS_SESS_CONNECTING,
	XS_SESS_CONNECTED,
	XS_SESS_REGISTER_SENT,
	XS_SESS_UP,
	XS_SESS_DISCONNECTING,
};
const char *xs_sess_state_str(enum xs_sess_state s);
const char *xs_disc_state_str(enum xs_disc_state s);

struct xs_host_disc_status {
	enum xs_disc_state state;
	uint16_t xds_lid;             /* 0 = not known */
	uint64_t xds_guid;
	uint64_t last_query_ms;       /* monotonic; 0 = never */
	uint64_t last_ok_ms;
	uint64_t next_query_ms;
	char last_result[96];         /* "3 XCMs", "no XSIGOXDS record", ... */
	uint32_t queries, failures;
};

struct xs_session_status {
	uint64_t xcm_guid;
	uint16_t xcm_lid;
	enum xs_sess_state state;
	uint64_t up_since_ms;         /* monotonic, 0 when not up */
	uint32_t hello_interval_s;
	uint64_t last_hello_ms;
	uint64_t last_rx_ms;
	uint32_t reconnects;          /* sessions established after the first */
	uint32_t hellos_rx;
	uint32_t msgs_rx, msgs_tx;
	uint32_t rejects;
	uint32_t bad_msgs;            /* dropped or NACKed as malformed */
	uint32_t seq_mismatch;        /* sequence numbers out of order */
	uint32_t timeouts;            /* connect, REG_CONFIRM and hello timeouts */
	char chassis_name[33];
	char last_error[128];
	uint64_t next_attempt_ms;
};

void xs_host_port_attr(struct xs_host *h, struct xs_port_attr *attr);
void xs_host_disc_status(const struct xs_host *h, struct xs_host_disc_status *st);
/* Fill up to max entries; returns the number of sessions. */
int xs_host_sessions(const struct xs_host *h, struct xs_session_status *st, int max);

#ifdef __cplusplus
}
#endif

#endif /* XSCORE_HOST_H */
