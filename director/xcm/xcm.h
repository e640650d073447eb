/* SPDX-License-Identifier: MIT */
/*
 * xcm.h - the director's XCM: XSMP session server (docs/protocol.md,
 * "XSMP sessions and ULP configuration messages"), director side.
 *
 * Listens on service ID 0x0000000002139701, accepts one RC connection per
 * host port, answers REGISTER with REG_CONFIRM or REG_REJECT, sends HELLO
 * every hello interval, ends a session after 3 intervals of silence,
 * synchronises each new session (SYNC_BEGIN, INSTALL..., SYNC_END per ULP
 * type) and pushes every later configuration change as INSTALL / UPDATE /
 * DELETE, recording each ACK / NACK for the operator.
 *
 * Error convention: int functions return 0 or a negative errno;
 * constructors return NULL with errno set.
 */
#ifndef XSD_XCM_H
#define XSD_XCM_H

#include <stdbool.h>
#include <stdint.h>

#include <xscore/evloop.h>
#include <xscore/fabric.h>

#include "ctl/ctl.h"
#include "store/store.h"

struct xsd_xcm;

struct xsd_xcm_opts {
	const char *chassis_name;  /* sent in REG_CONFIRM (the director's name) */
	int push_wait_ms;          /* how long xcm waits for a host's ACK (default 3000) */
	int max_sessions_cap;      /* hard cap regardless of config (default 2048) */
};

struct xsd_xcm *xsd_xcm_new(struct xs_loop *loop, struct xs_fabric *fabric,
			    const struct xs_port_attr *port, struct xsd_store *store,
			    const struct xsd_xcm_opts *opts);
/* Drop every session at once (no SHUTDOWN) and free everything. */
void xsd_xcm_free(struct xsd_xcm *x);

/* Fabric events for the XCM (connect requests, established, disconnected). */
void xsd_xcm_fabric_event(struct xsd_xcm *x, const struct xs_event *ev);
void xsd_xcm_port_changed(struct xsd_xcm *x, const struct xs_port_attr *port);

/* Clean stop: refuse new connections, send SHUTDOWN on every session and
 * disconnect each once its SHUTDOWN has left. xsd_xcm_idle() is true when
 * nothing is left to send. */
void xsd_xcm_shutdown(struct xsd_xcm *x);
bool xsd_xcm_idle(const struct xsd_xcm *x);

/* Hooks for the control API (ctl.h). */
extern const struct xsd_ctl_hooks xsd_xcm_ctl_hooks;

#endif /* XSD_XCM_H */
