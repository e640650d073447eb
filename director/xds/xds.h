/* SPDX-License-Identifier: MIT */
/*
 * xds.h - the director's XDS: registers the ServiceRecord "XSIGOXDS" with
 * the SA (ServiceID XSD_XDS_SERVICE_ID, ServiceGID = our port GID,
 * ServiceData16[0] = our LID, ServiceData64[0] = our port GUID), renews the
 * lease at half-life, deletes it on a clean stop, and answers XCPM
 * XCM_REQUEST MADs (class 0x0B, version 2, attribute 0xB002) with the XCM
 * list of the asking host port. Malformed MADs are counted and dropped.
 *
 * Error convention: NULL + errno from the constructor.
 */
#ifndef XSD_XDS_H
#define XSD_XDS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <xscore/evloop.h>
#include <xscore/fabric.h>

/* Our choice, next to the XSMP service ID 0x2139701 (docs/operations.md). */
#define XSD_XDS_SERVICE_ID UINT64_C(0x0000000002139702)
#define XSD_XDS_LEASE_S 60

struct xsd_xds;

struct xsd_xds_opts {
	uint32_t lease_s;      /* 0 = XSD_XDS_LEASE_S */
};

struct xsd_xds *xsd_xds_new(struct xs_loop *loop, struct xs_fabric *fabric,
			    const struct xs_port_attr *port, const struct xsd_xds_opts *opts);
void xsd_xds_port_changed(struct xsd_xds *xds, const struct xs_port_attr *port);
/* Start the SA Delete of our record; xsd_xds_idle() turns true when the SA
 * answered or the attempts ran out (3 x 300 ms). */
void xsd_xds_shutdown(struct xsd_xds *xds);
bool xsd_xds_idle(const struct xsd_xds *xds);
void xsd_xds_free(struct xsd_xds *xds);
/* Counters for "xcm show stats". */
json_t *xsd_xds_stats(const struct xsd_xds *xds);

#endif /* XSD_XDS_H */
