/* SPDX-License-Identifier: MIT */
/*
 * xsvnic/vnic.h - the vNIC ULP module the host agent (xscored) loads: for
 * every vNIC the director installs it creates a TAP interface (tap.h) and
 * carries its frames over two RC connections to the director's vNIC I/O
 * module (service ID 0x1001, CM private data and control messages per
 * xscore/vnic_wire.h):
 *
 *   control QP: START_RX -> START_RX_RESPONSE (within start_timeout_ms, else
 *               the vNIC is reported OPER_DOWN and the connection retried),
 *               LINK_UP / LINK_DOWN (carrier on / off), HEART_BEAT both ways
 *               while idle, MULTICAST_LIST_SEND (all-multicast past 128),
 *               ASSIGN_VLAN / UNASSIGN_VLAN are the director's business;
 *   data QP:    Ethernet frames on RC SENDs, in both directions; with
 *               TSO negotiated (install_flags TSO + TCP_OFFL: data_qp_flags
 *               XS_VNIC_DQP_TSO) each frame has the 4-byte TSO prefix and
 *               the TAP hands out / takes partial checksums and 64 KiB GSO
 *               frames, so a large TCP segment crosses the fabric once;
 *               small frames then share a SEND (the batching container,
 *               XS_VNIC_DQP_TXBAT host -> director, XS_VNIC_DQP_RXBAT
 *               director -> host) when several are ready at once.
 *
 * A broken connection is re-established every reconnect_ms without deleting
 * the interface; frames the kernel hands us meanwhile are dropped and
 * counted (tx_gap_drops).
 *
 * The module opens its own port on the host's fabric (port name
 * "<host port>-vnic") so that its connections' events do not go through the
 * XSMP session library. Everything runs on the host's event loop.
 */
#ifndef XSVNIC_VNIC_H
#define XSVNIC_VNIC_H

#include <stdbool.h>
#include <stdint.h>

#include <xscore/host.h>

#ifdef __cplusplus
extern "C" {
#endif

struct xsvnic_mod;

struct xsvnic_mod_opts {
	size_t size;                 /* sizeof(struct xsvnic_mod_opts) */
	const char *fabric_spec;     /* default "soft" */
	const char *port_name;       /* the module's own port; default "<host>-vnic" */
	int heartbeat_ms;            /* idle heartbeat period (default 1000) */
	int start_timeout_ms;        /* START_RX_RESPONSE bound (default 5000) */
	int reconnect_ms;            /* retry period after a loss (default 300) */
	uint8_t reserved[32];
};

/* Open the module's port and register it for XS_XSMP_VNIC on @h.
 * NULL with errno. */
struct xsvnic_mod *xsvnic_mod_new(struct xs_host *h, const struct xsvnic_mod_opts *opts);
/* Free the module after xs_host_free (which removes the devices through the
 * module's remove callback); does not touch the host. Interfaces still held
 * are deleted. */
void xsvnic_mod_free(struct xsvnic_mod *m);

enum xsvnic_state {
	XSVNIC_ST_IDLE = 0,      /* no connection (waiting to retry) */
	XSVNIC_ST_CONNECTING,    /* CM requests out */
	XSVNIC_ST_STARTING,      /* START_RX sent */
	XSVNIC_ST_UP,            /* START_RX_RESPONSE received */
};
const char *xsvnic_state_str(enum xsvnic_state s);

/* Fabric-side counters of one vNIC (the interface's own are in ip -s link). */
struct xsvnic_stats {
	enum xsvnic_state state;
	bool link_up;               /* director's last LINK_UP / LINK_DOWN */
	uint32_t speed_mbps;
	int ifindex;
	char ifname[16];
	uint64_t tx_frames, tx_bytes;    /* frames sent to the director */
	uint64_t rx_frames, rx_bytes;    /* frames written to the TAP */
	uint64_t tx_gap_drops;           /* frames read while not connected */
	uint64_t tx_ring_drops;          /* no send slot free */
	uint64_t rx_errors;              /* bad completions, bad prefixes, TAP write errors */
	uint64_t tx_bad_offload;         /* vnet header the TSO prefix cannot carry */
	bool tso;                        /* checksum offload + TSO negotiated */
	bool txbat;                      /* TX batching negotiated */
	bool rxbat;                      /* RX batching negotiated */
	uint64_t tx_batches;             /* SENDs that carried several frames */
	uint64_t rx_batches;             /* SENDs from the director that carried several */
	uint64_t ctrl_rx, ctrl_tx, ctrl_bad;
	uint64_t heartbeats_tx, heartbeats_rx;
	uint64_t connects;               /* connections brought up */
	uint64_t reconnects;             /* connection attempts after a loss */
	uint64_t start_timeouts;
	uint64_t mcast_sent;             /* MULTICAST_LIST_SEND messages */
	char last_error[96];
};
/* The stats of a device this module holds: -ENOENT if it is not ours. */
int xsvnic_dev_stats(const struct xs_ulp_dev *dev, struct xsvnic_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* XSVNIC_VNIC_H */
