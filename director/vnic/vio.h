/* SPDX-License-Identifier: MIT */
/*
 * vio.h - the director's vNIC I/O module: the far end of every vNIC's
 * control and data RC connections (service ID 0x1001, xscore/vnic_wire.h),
 * one 802.1Q virtual switch per uplink (director/vswitch) and the uplink's
 * frame I/O through an AF_PACKET socket with PACKET_VNET_HDR, promiscuous.
 *
 * A host connects a control and a data QP per vNIC, with the vNIC's
 * resource id in the CM private data; the vNIC must exist in the store.
 * START_RX makes its vswitch port and is answered with START_RX_RESPONSE
 * and the uplink's LINK_UP/LINK_DOWN; HEART_BEAT is echoed; the uplink's
 * carrier is watched and every change is sent to its vNICs.
 *
 * Runs on the director's event loop and shares its fabric port: the
 * director hands every fabric event to xsd_vio_fabric_event first.
 */
#ifndef XSD_VIO_H
#define XSD_VIO_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include <xscore/evloop.h>
#include <xscore/fabric.h>

#include "store/store.h"

struct xsd_vio;

#define XSD_VIO_MAX_UPLINKS 8

struct xsd_vio_opts {
	/* "NAME=IFNAME" pairs: the store's uplink NAME is interface IFNAME.
	 * vNICs without an uplink (or with one not listed) use the first. */
	const char *uplinks[XSD_VIO_MAX_UPLINKS];
	int n_uplinks;
	int heartbeat_ms;      /* a vNIC silent 3.5 periods is dropped (default 1000) */
};

/* NULL + errno (EINVAL: a bad uplink spec; what socket(2)/bind(2) said). */
struct xsd_vio *xsd_vio_new(struct xs_loop *loop, struct xs_fabric *fabric,
			    struct xsd_store *store, const struct xsd_vio_opts *opts);
void xsd_vio_free(struct xsd_vio *vio);

/* True when the event was the I/O module's (consumed). */
bool xsd_vio_fabric_event(struct xsd_vio *vio, const struct xs_event *ev);

/* A vNIC's configuration changed in the store (set/delete): re-read it. */
void xsd_vio_vnic_changed(struct xsd_vio *vio, uint64_t resource_id, bool deleted);

/* Live data-path status of a vNIC (object), or NULL when it never
 * connected. */
json_t *xsd_vio_vnic_json(struct xsd_vio *vio, uint64_t resource_id);
/* Uplinks and module counters (object). */
json_t *xsd_vio_stats_json(struct xsd_vio *vio);

#endif /* XSD_VIO_H */
