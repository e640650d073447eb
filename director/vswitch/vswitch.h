/* SPDX-License-Identifier: MIT */
/*
 * vswitch.h - the director's 802.1Q virtual switch: pure forwarding logic,
 * no I/O. The caller (the vNIC I/O module) hands in a frame and the port it
 * came from and gets back the ports it goes to, each with the variant of the
 * frame that port gets (tagged or untagged) described as an iovec over the
 * caller's bytes, so nothing is copied to decide or to re-tag.
 *
 * Ports: vNIC ports and at most one uplink port. Every port is either
 *   access: one VLAN; frames on the wire are untagged (a frame with a
 *           non-zero VID from an access port is dropped);
 *   trunk:  a set of allowed VLANs; frames carry 802.1Q tags, except the
 *           native VLAN (if set), which travels untagged.
 * A tag with VID 0 (priority tag) counts as untagged. The rules, counters and
 * limits are spelled out in docs/vswitch.md.
 *
 * Error convention: negative errno from int functions, NULL + errno from
 * xsd_vsw_create. Not thread-safe: one switch is driven from one thread.
 */
#ifndef XSD_VSWITCH_H
#define XSD_VSWITCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <linux/virtio_net.h>

#ifdef __cplusplus
extern "C" {
#endif

#define XSD_VSW_MAC_LEN 6
#define XSD_VSW_MAX_MCAST 128        /* per port; more means all-multicast */
#define XSD_VSW_MAX_FRAME 65550      /* 64 KiB GSO frame + Ethernet + tag */
#define XSD_VSW_DEFAULT_AGE_S 300
#define XSD_VSW_DEFAULT_MAX_PORTS 1024
#define XSD_VSW_DEFAULT_MAX_LEARNED 8192
#define XSD_VSW_VLAN_MIN 1
#define XSD_VSW_VLAN_MAX 4094

struct xsd_vsw;

enum xsd_vsw_port_kind {
	XSD_VSW_PORT_VNIC,
	XSD_VSW_PORT_UPLINK,
};

enum xsd_vsw_vlan_mode {
	XSD_VSW_ACCESS,
	XSD_VSW_TRUNK,
};

/*
 * Two-rate three-colour policer (RFC 2698, colour-blind): a committed
 * bucket (cir/cbs) and a peak bucket (pir/pbs), in bits per second and
 * bytes. A frame larger than the peak bucket's tokens is red (dropped);
 * else larger than the committed bucket's tokens is yellow (passed and
 * counted); else green. pir == 0 means no peak bucket (then the committed
 * bucket decides red/green alone); cir == 0 and pir == 0 mean no limit.
 */
struct xsd_vsw_rate {
	uint64_t cir_bps, pir_bps;
	uint32_t cbs_bytes, pbs_bytes;
};

struct xsd_vsw_port_cfg {
	enum xsd_vsw_vlan_mode mode;
	uint16_t access_vlan;         /* access: 1..4094 */
	uint16_t native_vlan;         /* trunk: 0 (none) or an allowed VLAN */
	const uint16_t *allowed;      /* trunk: VLAN IDs 1..4094 */
	size_t n_allowed;             /* trunk: 0 on an uplink means all VLANs */
	uint8_t mac[XSD_VSW_MAC_LEN]; /* vNIC: its unicast MAC (static entry) */
	bool csum_offload;            /* receiver takes NEEDS_CSUM frames as is */
	bool tso;                     /* receiver takes GSO frames as is */
	struct xsd_vsw_rate rate_in;  /* frames the port sends into the switch */
	struct xsd_vsw_rate rate_out; /* frames the switch delivers to the port */
};

/* Why a frame (or one copy of it) was not delivered. */
enum xsd_vsw_drop {
	XSD_VSW_DROP_NONE = 0,
	XSD_VSW_DROP_MALFORMED,   /* shorter than a header, longer than the max */
	XSD_VSW_DROP_PORT_DOWN,   /* ingress or egress port is down */
	XSD_VSW_DROP_VLAN,        /* VLAN not allowed on the ingress port */
	XSD_VSW_DROP_BAD_SRC,     /* source MAC multicast or zero */
	XSD_VSW_DROP_SPOOF,       /* vNIC sent with a source MAC not its own */
	XSD_VSW_DROP_TAKEOVER,    /* a vNIC's MAC arrived on the uplink */
	XSD_VSW_DROP_UNKNOWN_DST, /* unicast from the uplink to no local vNIC */
	XSD_VSW_DROP_NO_EGRESS,   /* no port to send to (e.g. flood to nobody) */
	XSD_VSW_DROP_RATE_IN,     /* red by the ingress port's policer */
	XSD_VSW_DROP_RATE_OUT,    /* red by the egress port's policer */
	XSD_VSW_DROP_N_REASONS
};
const char *xsd_vsw_drop_name(enum xsd_vsw_drop reason);

struct xsd_vsw_port_stats {
	uint64_t rx_frames, rx_bytes;   /* offered by the port to the switch */
	uint64_t tx_frames, tx_bytes;   /* delivered by the switch to the port */
	uint64_t fwd_frames;            /* rx frames that passed ingress checks */
	uint64_t rate_yellow_in, rate_yellow_out;
	/* Frames from this port dropped before leaving the ingress stage:
	 * rx_frames == fwd_frames + sum(drops). */
	uint64_t drops[XSD_VSW_DROP_N_REASONS];
	/* Copies for this port dropped at egress (PORT_DOWN, RATE_OUT only). */
	uint64_t drops_out[XSD_VSW_DROP_N_REASONS];
};

struct xsd_vsw_stats {
	uint64_t vnic_to_vnic;      /* unicast switched inside the director */
	uint64_t to_uplink_known;   /* unicast to a MAC learned on the uplink */
	uint64_t to_uplink_unknown; /* unknown unicast sent to the uplink */
	uint64_t flooded;           /* broadcast/multicast frames flooded */
	uint64_t learned;           /* entries created (or revived after expiry) */
	uint64_t aged;              /* entries found expired */
	uint64_t learn_full;        /* source MACs not learned: table full */
	uint64_t takeovers;
};

struct xsd_vsw_opts {
	size_t size;               /* sizeof(struct xsd_vsw_opts), for growth */
	uint32_t max_ports;        /* 0 = XSD_VSW_DEFAULT_MAX_PORTS */
	uint32_t max_learned;      /* 0 = XSD_VSW_DEFAULT_MAX_LEARNED */
	uint32_t age_s;            /* 0 = XSD_VSW_DEFAULT_AGE_S */
	/* A vNIC's MAC arrived on the uplink (from a LAN host claiming it). */
	void (*takeover)(void *arg, uint32_t vnic_port, uint16_t vlan,
			 const uint8_t mac[XSD_VSW_MAC_LEN]);
	void *cb_arg;
	uint8_t reserved[32];
};

/* NULL + errno (EINVAL for bad opts, ENOMEM). opts may be NULL. */
struct xsd_vsw *xsd_vsw_create(const struct xsd_vsw_opts *opts);
void xsd_vsw_destroy(struct xsd_vsw *sw);

/*
 * Add a port; returns its id (>= 0) or -EINVAL (bad config), -EEXIST (a
 * second uplink, or a vNIC MAC already used by another vNIC), -ENOSPC.
 * Ports start up. Learned entries for a new vNIC's MAC are dropped.
 */
int xsd_vsw_port_add(struct xsd_vsw *sw, enum xsd_vsw_port_kind kind,
		     const struct xsd_vsw_port_cfg *cfg);
/* Replace a port's configuration (kind stays); same errors as add, -ENOENT. */
int xsd_vsw_port_update(struct xsd_vsw *sw, uint32_t port, const struct xsd_vsw_port_cfg *cfg);
/* Remove a port; removing the uplink flushes the learned table. */
int xsd_vsw_port_del(struct xsd_vsw *sw, uint32_t port);
int xsd_vsw_port_set_up(struct xsd_vsw *sw, uint32_t port, bool up);
/*
 * Set the multicast groups a port receives. n > 128 (or all_multi) makes the
 * port all-multicast. MACs without the group bit are -EINVAL.
 */
int xsd_vsw_port_set_mcast(struct xsd_vsw *sw, uint32_t port, const uint8_t (*macs)[6],
			   size_t n, bool all_multi);
int xsd_vsw_port_stats(const struct xsd_vsw *sw, uint32_t port, struct xsd_vsw_port_stats *st);
void xsd_vsw_stats(const struct xsd_vsw *sw, struct xsd_vsw_stats *st);
/* -1 when there is no uplink. */
int xsd_vsw_uplink(const struct xsd_vsw *sw);

/* --------------------------------------------------------- forwarding */

struct xsd_vsw_meta {
	uint64_t now_ns;     /* monotonic time, for ageing and the policers */
	bool needs_csum;     /* the frame's vnet header has NEEDS_CSUM */
	bool gso;            /* the frame's vnet header has a gso_type */
};

/* One copy of the frame: iov[0..iovcnt) is what this port gets. */
struct xsd_vsw_egress {
	uint32_t port;
	bool tagged;         /* leaves with an 802.1Q tag */
	bool csum_fill;      /* receiver did not negotiate offload: complete the
			      * L4 checksum (xsd_vsw_csum_complete) first */
	bool segment;        /* GSO frame for a receiver without TSO:
			      * xsd_vsw_gso_segment first */
	int iovcnt;          /* 1..3 */
	struct iovec iov[3];
	size_t len;
};

struct xsd_vsw_result {
	enum xsd_vsw_drop drop;  /* why nothing was sent (n == 0), else NONE */
	uint16_t vlan;           /* VLAN the frame was classified to (0 if none) */
	uint16_t tci;            /* TCI tagged copies carry (PCP kept) */
	uint8_t tag[4];          /* the tag bytes iovecs of tagged copies use */
	unsigned int n;          /* egress entries written */
};

/*
 * Decide where a frame from @ingress goes. Writes up to @cap egress entries
 * and returns their number (0 when dropped: res->drop says why), or
 * -ENOENT (no such port), -ENOBUFS (cap too small; nothing is counted).
 * The iovecs point into @frame and into @res->tag: both must stay valid
 * while the caller sends. Per-egress drops (egress down, egress policer)
 * are left out of the list and counted at that port.
 */
int xsd_vsw_forward(struct xsd_vsw *sw, uint32_t ingress, const uint8_t *frame, size_t len,
		    const struct xsd_vsw_meta *meta, struct xsd_vsw_result *res,
		    struct xsd_vsw_egress *out, size_t cap);

/* Remove learned entries older than the age; returns how many went. */
unsigned int xsd_vsw_age(struct xsd_vsw *sw, uint64_t now_ns);

/*
 * MAC table lookup as forwarding sees it: the port for @mac in @vlan
 * (a member vNIC's static MAC first, then a learned, unexpired uplink
 * entry), -ENOENT when unknown. *is_static tells which (may be NULL).
 */
int xsd_vsw_mac_lookup(const struct xsd_vsw *sw, uint16_t vlan, const uint8_t *mac,
		       uint64_t now_ns, bool *is_static);
/* Learned entries in the table (expired ones included until aged out). */
unsigned int xsd_vsw_learned_count(const struct xsd_vsw *sw);

/* One row of the MAC table as an operator sees it. */
struct xsd_vsw_mac_entry {
	uint8_t mac[XSD_VSW_MAC_LEN];
	uint16_t vlan;        /* 0 for a vNIC's static MAC (valid in its VLANs) */
	uint32_t port;
	bool is_static;
	uint64_t idle_ns;     /* learned: time since last seen */
};
/*
 * The table: static entries (by port number) then unexpired learned
 * entries (by VLAN, then MAC). Fills up to @cap rows and returns how many
 * there are (which may be more than @cap).
 */
size_t xsd_vsw_mac_dump(const struct xsd_vsw *sw, uint64_t now_ns, struct xsd_vsw_mac_entry *out,
			size_t cap);

/* ------------------------------------------------- frame rewriting helpers */

/*
 * In-place 802.1Q rewrite for callers that own the buffer.
 * Insert: the frame is at *frame (len bytes) with at least 4 bytes of
 * headroom before it; moves the MAC addresses 4 bytes back and writes
 * 0x8100 + tci; *frame moves back 4; returns the new length.
 * Strip: removes the outer 802.1Q tag; *frame moves forward 4; returns the
 * new length, -EINVAL if the frame has no tag (or is shorter than 18).
 */
int xsd_vsw_vlan_insert(uint8_t **frame, size_t len, size_t headroom, uint16_t tci);
int xsd_vsw_vlan_strip(uint8_t **frame, size_t len, uint16_t *tci);

/*
 * Checksum completion for a receiver that did not negotiate offload. With
 * NEEDS_CSUM set in @vh, parses Ethernet (one optional 802.1Q tag), IPv4 or
 * IPv6 (hop-by-hop, routing and destination-options headers skipped) and
 * TCP or UDP, checks csum_start/csum_offset point at that L4 checksum,
 * computes the checksum from scratch (pseudo-header included, lengths from
 * the IP header, so Ethernet padding is ignored), writes it and clears
 * NEEDS_CSUM. Returns 0 (also when NEEDS_CSUM was not set), -EMSGSIZE
 * (truncated headers), -EPROTONOSUPPORT (not IPv4/IPv6 TCP/UDP, or an IPv4
 * fragment), -EINVAL (csum_start/offset disagree with the headers).
 */
int xsd_vsw_csum_complete(uint8_t *frame, size_t len, struct virtio_net_hdr *vh);
/* 1 if the frame's TCP/UDP checksum is correct, 0 if not, negative errno as
 * above when the frame is not IPv4/IPv6 TCP/UDP. UDP checksum 0 over IPv4
 * counts as correct (no checksum). */
int xsd_vsw_csum_verify(const uint8_t *frame, size_t len);

/*
 * Software TCP segmentation for a receiver that did not negotiate TSO.
 * @vh gives gso_type (TCPV4 or TCPV6, the ECN bit allowed) and gso_size
 * (the MSS); the headers are taken from the frame itself (hdr_len is not
 * trusted). Writes the segments back to back into @out and describes them
 * in @segs. Each segment gets the IP length (IPv4: ID + i and a new header
 * checksum), sequence number + i * MSS, FIN/PSH only on the last and CWR
 * only on the first segment, and a complete TCP checksum. Returns the
 * number of segments, -EPROTONOSUPPORT (not TCP over the IP version
 * gso_type names), -EINVAL (MSS 0, bad TCP header length), -EMSGSIZE
 * (truncated), -ENOSPC (@out or @segs too small: need
 * segments * headers + payload bytes).
 */
int xsd_vsw_gso_segment(const uint8_t *frame, size_t len, const struct virtio_net_hdr *vh,
			uint8_t *out, size_t cap, struct iovec *segs, size_t max_segs);

#ifdef __cplusplus
}
#endif

#endif /* XSD_VSWITCH_H */
