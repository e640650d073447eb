/* SPDX-License-Identifier: MIT */
/*
 * storage.h - the director's storage module (docs/vhba.md, "Storage
 * configuration").
 *
 * For every target in the configuration store it owns an xsd_scsi target
 * with the target's LUNs opened on their back ends (file, block device,
 * SG_IO, iSCSI, RAM) and an xsd_srpt listening on the director's fabric
 * port with service ID = the target's WWPN. The fabric is shared with the
 * XCM and the vNIC I/O module: the director passes every fabric event to
 * xsd_stor_fabric_event() first.
 *
 * LUN masking: an initiator sees a target's LUNs only when its port WWPN
 * (SRP initiator port identifier bytes 8..15) is the WWPN of a vHBA that
 * names the target; such a vHBA sees the LUNs of its --lun-mask, or every
 * LUN of the target when it has no mask. Any other initiator may log in
 * and sees no LUN.
 *
 * A back end that fails to open is logged and reported by
 * xsd_stor_status_json() as state "error" with the reason; the rest is
 * served. Errors: constructors NULL with errno set.
 */
#ifndef XSD_STORAGE_MOD_H
#define XSD_STORAGE_MOD_H

#include <stdbool.h>

#include <jansson.h>

#include <xscore/evloop.h>
#include <xscore/fabric.h>

#include "store/store.h"

struct xsd_stor;

/* Reads the store and starts serving it (xsd_stor_sync). */
struct xsd_stor *xsd_stor_new(struct xs_loop *loop, struct xs_fabric *fabric,
			      struct xsd_store *store);
/* Logs every initiator out (SRP_T_LOGOUT), waits for the I/O in flight,
 * closes the back ends. NULL is fine. */
void xsd_stor_free(struct xsd_stor *m);
/* The same as free for the targets, but the module stays (empty) and
 * ignores later syncs: for the director's clean stop. */
void xsd_stor_shutdown(struct xsd_stor *m);

/* Bring the served targets, LUNs and masks in line with the store: new
 * targets start listening, deleted ones log their initiators out, added
 * LUNs open their back end, removed LUNs go once their I/O drained (both
 * announced to logged-in initiators with an SRP_AER_REQ), and masks follow
 * the vHBAs. Call after every storage, target, LUN or vHBA change. */
void xsd_stor_sync(struct xsd_stor *m);

/* 1 when the event was for one of the SRP targets (consumed), else 0. */
int xsd_stor_fabric_event(struct xsd_stor *m, const struct xs_event *ev);

/* Live state of a storage object (XSD_OBJ_STORAGE) or a target
 * (XSD_OBJ_TARGET): {"state", "reason", ...}; NULL when unknown. */
json_t *xsd_stor_status_json(struct xsd_stor *m, enum xsd_obj type, const char *name);
/* Counters for "xcm show stats". */
json_t *xsd_stor_stats_json(struct xsd_stor *m);

#endif /* XSD_STORAGE_MOD_H */
