/* SPDX-License-Identifier: MIT */
/*
 * ctl.h - the director's control API: JSON requests over a Unix socket.
 *
 * Framing: one JSON object per line ('\n'-terminated, at most
 * XSD_CTL_MAX_LINE bytes), answered by exactly one line, in order:
 *   -> {"op":"vnic.add","name":"eth1","profile":"p1","mtu":9000}
 *   <- {"ok":true,"vnic":{...},"push":[...]}
 *   <- {"ok":false,"error":"profile 'p1' does not exist","code":"ENOENT"}
 * A malformed line (bad JSON, not an object, unknown op, missing or
 * mistyped field) gets an error reply and the connection stays open; a line
 * longer than the limit gets an error reply and the connection is closed.
 * All of these are counted (op "stats").
 *
 * The dispatcher works on a store and, optionally, on hooks into the live
 * session state (XCM); without hooks (tests, fuzzing) it answers from the
 * store alone. A change may complete asynchronously: the XCM holds a
 * reference on the request while it waits for the hosts' ACK/NACK.
 */
#ifndef XSD_CTL_H
#define XSD_CTL_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "store/store.h"

#define XSD_CTL_MAX_LINE 65536

struct xs_loop;
struct xsd_ctl_req;

enum xsd_change_kind {
	XSD_CHANGE_PROFILE,
	XSD_CHANGE_VNIC,
	XSD_CHANGE_VHBA,
	XSD_CHANGE_CONFIG,
	XSD_CHANGE_STORAGE,  /* name: the storage object */
	XSD_CHANGE_TARGET,   /* name: the target */
	XSD_CHANGE_LUN,      /* name: the target whose LUN changed */
};

enum xsd_change_action {
	XSD_CHANGE_ADD,
	XSD_CHANGE_SET,
	XSD_CHANGE_DELETE,
};

/* What a committed request changed, for the XCM to push. */
struct xsd_change {
	enum xsd_change_kind kind;
	enum xsd_change_action action;
	const char *name;
	uint64_t resource_id;        /* vnic/vhba */
	const char *profile;         /* vnic/vhba: profile after the change */
	const char *old_profile;     /* vnic/vhba set/delete: profile before */
};

struct xsd_ctl_hooks {
	/* A change is committed. The hook may take references on req
	 * (xsd_ctl_req_get) and add results with xsd_ctl_req_push_result. */
	void (*changed)(void *arg, const struct xsd_change *chg, struct xsd_ctl_req *req);
	/* Arrays for "sessions.show" / "hosts.show". */
	json_t *(*sessions)(void *arg);
	json_t *(*hosts)(void *arg);
	/* Per-device live status (array of {host, state, reason}); may be NULL. */
	json_t *(*device_status)(void *arg, uint64_t resource_id);
	/* Extra counters for "stats" (object merged into the reply); may be NULL. */
	json_t *(*stats)(void *arg);
	/* Live state of a storage object or target (type XSD_OBJ_STORAGE or
	 * XSD_OBJ_TARGET) as the director's storage module sees it: an object
	 * with at least "state" (and "reason"); may be NULL. */
	json_t *(*storage_status)(void *arg, enum xsd_obj type, const char *name);
};

struct xsd_ctl_counters {
	uint64_t requests;
	uint64_t ok;
	uint64_t refused;       /* well-formed but refused (store said no) */
	uint64_t bad_json;
	uint64_t bad_request;   /* not an object, unknown op, missing/mistyped field */
	uint64_t too_long;
	uint64_t connections;
};

struct xsd_ctl_ctx {
	struct xsd_store *store;
	const struct xsd_ctl_hooks *hooks;  /* may be NULL */
	void *hooks_arg;
	struct xsd_ctl_counters counters;
};

/* A request in flight. Reference counted: the dispatcher holds one until it
 * returns; whoever else holds one calls xsd_ctl_req_put when done. When the
 * last reference goes, the reply is delivered (complete callback). */
struct xsd_ctl_req {
	int refs;
	json_t *reply;
	void (*complete)(struct xsd_ctl_req *req, void *arg);
	void *complete_arg;
};

void xsd_ctl_req_get(struct xsd_ctl_req *req);
void xsd_ctl_req_put(struct xsd_ctl_req *req);
/* Append {"device":"vnic eth1","host":..,"action":"install|update|delete",
 * "result":"acknowledged|nack|not connected|timeout|session lost|no host",
 * "reason":..} to reply.push. */
void xsd_ctl_req_push_result(struct xsd_ctl_req *req, const char *device, const char *host,
			     const char *action, const char *result, const char *reason);

/*
 * Parse and execute one request line (without the '\n'). Returns a new
 * request object with one reference held by the caller; its reply is final
 * when the last reference is dropped. Never NULL unless out of memory.
 */
struct xsd_ctl_req *xsd_ctl_dispatch(struct xsd_ctl_ctx *ctx, const char *line, size_t len,
				     const struct xsd_actor *who);

/* ---- the socket server */
struct xsd_ctl_server;

struct xsd_ctl_server_opts {
	const char *path;   /* socket path */
	const char *group;  /* group owning the socket, NULL = keep */
	unsigned int mode;  /* default 0660 */
};

struct xsd_ctl_server *xsd_ctl_server_new(struct xs_loop *loop, struct xsd_ctl_ctx *ctx,
					  const struct xsd_ctl_server_opts *opts);
/* Closes every connection (pending replies are dropped) and unlinks the socket. */
void xsd_ctl_server_free(struct xsd_ctl_server *srv);

#endif /* XSD_CTL_H */
