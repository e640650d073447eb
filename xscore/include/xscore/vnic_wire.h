/* SPDX-License-Identifier: MIT */
/*
 * xscore/vnic_wire.h - byte-exact, bounds-checked codecs for the vNIC I/O
 * module connections: the CM private data of the control and data RC
 * connections, the control messages, and the data-path framing (TSO prefix,
 * RX checksum trailer, the batching container that packs several frames in
 * one RC SEND).
 *
 * All multi-byte fields are big-endian on the wire. Decoded structs are in
 * host order. Decoders return 0 (or the number of bytes consumed, where
 * stated) or a negative errno:
 *   -EMSGSIZE  the buffer is shorter than the structure or its length field,
 *   -EBADMSG   a field is invalid (unknown type, reserved bits set, a count
 *              or length that disagrees with the message),
 * and count the rejection per codec (xs_vnic_wire_rejects), with a debug log
 * line under component "vnic_wire". Encoders return the number of bytes
 * written, -EMSGSIZE when cap is too small, -EINVAL when the struct holds a
 * value the wire cannot carry. Encoders never write past cap.
 *
 * Where we deviate from the original Xsigo host driver, the appendix of
 * docs/vswitch.md says so; the main one: every length field is big-endian
 * (the original wrote some of them in host order).
 */
#ifndef XSCORE_VNIC_WIRE_H
#define XSCORE_VNIC_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum xs_vnic_codec {
	XS_VNIC_WIRE_CM_PRIV,
	XS_VNIC_WIRE_CTRL,
	XS_VNIC_WIRE_TSO,
	XS_VNIC_WIRE_CSUM,
	XS_VNIC_WIRE_BATCH,
	XS_VNIC_WIRE_N_CODECS
};
/* Inputs each decoder has rejected since start (thread-safe). */
uint64_t xs_vnic_wire_rejects(enum xs_vnic_codec codec);
const char *xs_vnic_codec_name(enum xs_vnic_codec codec);

#define XS_VNIC_MAC_LEN 6
#define XS_VNIC_SERVICE_ID UINT64_C(0x1001)   /* I/O module CM service ID */
#define XS_VNIC_MIN_FRAME 60                  /* TX frames are padded to this */

/* ------------------------------------------------------- CM private data */
/*
 * 16 bytes: 0 vid (64)  8 qp_type (16)  10 max_ctrl_msg_size (16)
 *          12 data_qp_flags (32)
 */
#define XS_VNIC_CM_PRIV_LEN 16
#define XS_VNIC_QP_CONTROL 0
#define XS_VNIC_QP_DATA 1
/* data_qp_flags: bits 1..3 as the original host, bit 16 ours. */
#define XS_VNIC_DQP_TSO (1u << 1)
#define XS_VNIC_DQP_RXBAT (1u << 2)
#define XS_VNIC_DQP_RXBAT_TIMER (1u << 3)
#define XS_VNIC_DQP_TXBAT (1u << 16)       /* our own: batching host -> director */
#define XS_VNIC_DQP_KNOWN \
	(XS_VNIC_DQP_TSO | XS_VNIC_DQP_RXBAT | XS_VNIC_DQP_RXBAT_TIMER | XS_VNIC_DQP_TXBAT)
#define XS_VNIC_CTRL_MIN_SIZE 8      /* smallest max_ctrl_msg_size accepted */
#define XS_VNIC_CTRL_MAX_LEN 1024    /* control messages are at most this long */

struct xs_vnic_cm_priv {
	uint64_t vid;
	uint16_t qp_type;           /* XS_VNIC_QP_CONTROL / XS_VNIC_QP_DATA */
	uint16_t max_ctrl_msg_size; /* >= 8 */
	uint32_t data_qp_flags;     /* XS_VNIC_DQP_*; 0 on the control QP */
};
/*
 * Rejects len < 16 (-EMSGSIZE); qp_type other than 0/1, max_ctrl_msg_size
 * below 8, unknown flag bits, flags on a control QP (-EBADMSG). Bytes past
 * 16 are ignored (CM private data arrives zero-padded to the CM's size).
 */
int xs_vnic_cm_priv_decode(const uint8_t *buf, size_t len, struct xs_vnic_cm_priv *p);
int xs_vnic_cm_priv_encode(const struct xs_vnic_cm_priv *p, uint8_t *buf, size_t cap);

/* ------------------------------------------------------ control messages */
/*
 * Header, 8 bytes: 0 type  1 reserved (0)  2 length (16, whole message incl.
 * header)  4 data (32). Payloads follow the header.
 */
#define XS_VNIC_CTRL_HDR_LEN 8
enum xs_vnic_ctrl_type {
	XS_VNIC_CTRL_START_TX = 16,
	XS_VNIC_CTRL_STOP_TX = 17,
	XS_VNIC_CTRL_START_RX = 18,
	XS_VNIC_CTRL_STOP_RX = 19,
	XS_VNIC_CTRL_RX_COALESCE_NUM_PACKETS = 20, /* original, not used by us */
	XS_VNIC_CTRL_RX_COALESCE_MSECS = 21,       /* original, not used by us */
	XS_VNIC_CTRL_LINK_UP = 22,
	XS_VNIC_CTRL_LINK_DOWN = 23,
	XS_VNIC_CTRL_ASSIGN_IP = 24,               /* original, not used by us */
	XS_VNIC_CTRL_ASSIGN_VLAN = 25,
	XS_VNIC_CTRL_UNASSIGN_VLAN = 26,
	XS_VNIC_CTRL_STATS_REQUEST = 27,
	XS_VNIC_CTRL_STATS_RESPONSE = 28,
	XS_VNIC_CTRL_MAC_ADDRESS_REPORT = 29,
	XS_VNIC_CTRL_MULTICAST_LIST_SEND = 30,
	XS_VNIC_CTRL_START_RX_RESPONSE = 31,
	XS_VNIC_CTRL_VPORT_STATUS_UPDATE = 32,     /* original, not used by us */
	XS_VNIC_CTRL_MULTICAST_LIST_RESPONSE = 33,
	XS_VNIC_CTRL_HEART_BEAT = 34,
};
/* Name of a control message type ("START_RX"), "unknown" for others. */
const char *xs_vnic_ctrl_type_name(uint8_t type);

#define XS_VNIC_MAX_MCAST 128   /* MACs in one MULTICAST_LIST_SEND */
#define XS_VNIC_MAX_VLANS 500   /* VLAN IDs in one (UN)ASSIGN_VLAN */

/*
 * Link speed codes, carried in the first data byte (offset 4) of LINK_UP,
 * LINK_DOWN and START_RX_RESPONSE. Codes 0..16 are the original's; 17..20
 * are ours for faster uplinks.
 */
enum xs_vnic_speed {
	XS_VNIC_SPEED_DOWN = 0,
	XS_VNIC_SPEED_100M = 1,
	XS_VNIC_SPEED_10M = 2,
	XS_VNIC_SPEED_200M = 3,
	XS_VNIC_SPEED_500M = 4,
	XS_VNIC_SPEED_800M = 5,
	XS_VNIC_SPEED_1G = 6,
	XS_VNIC_SPEED_2G = 7,
	XS_VNIC_SPEED_3G = 8,
	XS_VNIC_SPEED_4G = 9,
	XS_VNIC_SPEED_5G = 10,
	XS_VNIC_SPEED_6G = 11,
	XS_VNIC_SPEED_7G = 12,
	XS_VNIC_SPEED_8G = 13,
	XS_VNIC_SPEED_9G = 14,
	XS_VNIC_SPEED_10G = 15,
	XS_VNIC_SPEED_UNKNOWN = 16,
	XS_VNIC_SPEED_25G = 17,
	XS_VNIC_SPEED_40G = 18,
	XS_VNIC_SPEED_50G = 19,
	XS_VNIC_SPEED_100G = 20,
	XS_VNIC_SPEED_N_CODES
};
/* Mb/s of a speed code; 0 for DOWN, UNKNOWN and codes out of range. */
uint32_t xs_vnic_speed_mbps(uint8_t code);
/* The code of the highest listed speed not above @mbps (DOWN for 0,
 * 10M for 1..10, UNKNOWN is never returned). */
uint8_t xs_vnic_speed_code(uint32_t mbps);

/* STATS_RESPONSE payload: eight big-endian u64 counters, 64 bytes. */
struct xs_vnic_stats {
	uint64_t rx_frames, rx_bytes, tx_frames, tx_bytes;
	uint64_t rx_drops, tx_drops, rx_errors, tx_errors;
};
#define XS_VNIC_STATS_LEN 64

struct xs_vnic_ctrl {
	uint8_t type;     /* enum xs_vnic_ctrl_type */
	uint16_t length;  /* whole message, header included */
	uint32_t data;    /* header data word, raw */
	union {
		/* LINK_UP, LINK_DOWN, START_RX_RESPONSE: data byte 0 */
		struct {
			uint8_t speed;  /* enum xs_vnic_speed */
		} link;
		/* ASSIGN_VLAN, UNASSIGN_VLAN: 1..500 16-bit IDs (1..4094) */
		struct {
			uint16_t count;
			uint16_t ids[XS_VNIC_MAX_VLANS];
		} vlan;
		/* MULTICAST_LIST_SEND: data != 0 means all-multicast;
		 * 0..128 MACs of 6 bytes, each with the group bit set */
		struct {
			bool all_multi;
			uint16_t count;
			uint8_t macs[XS_VNIC_MAX_MCAST][XS_VNIC_MAC_LEN];
		} mcast;
		/* MAC_ADDRESS_REPORT: one unicast MAC */
		uint8_t mac[XS_VNIC_MAC_LEN];
		/* STATS_RESPONSE */
		struct xs_vnic_stats stats;
	} u;
};

/*
 * Decode one control message. Returns the message length (bytes consumed,
 * == length field) or a negative errno. Rules:
 *   - len < 8, or length field > len: -EMSGSIZE
 *   - length < 8 or > 1024, reserved byte != 0, a type we do not carry
 *     (anything but the enum values without "not used by us"): -EBADMSG
 *   - START/STOP_TX/RX, STATS_REQUEST, MULTICAST_LIST_RESPONSE, HEART_BEAT:
 *     length must be 8.  LINK_UP/DOWN, START_RX_RESPONSE: length 8 and a
 *     speed code below XS_VNIC_SPEED_N_CODES; LINK_UP with speed DOWN is
 *     invalid.  VLAN lists: length 8 + 2n, 1 <= n <= 500, each ID 1..4094.
 *     MULTICAST_LIST_SEND: length 8 + 6n, n <= 128, each MAC multicast.
 *     MAC_ADDRESS_REPORT: length 14, a unicast MAC.  STATS_RESPONSE: 72.
 * Bytes past the length field are not read. On error *m is unspecified.
 */
int xs_vnic_ctrl_decode(const uint8_t *buf, size_t len, struct xs_vnic_ctrl *m);
/*
 * Encode @m; the length field is computed from the type and counts
 * (m->length is ignored). For types without a payload the data word is
 * written as given; for link messages the data word is the speed byte
 * followed by zeros; for MULTICAST_LIST_SEND it is 1 or 0 (all_multi).
 * -EINVAL for the same values the decoder rejects.
 */
int xs_vnic_ctrl_encode(const struct xs_vnic_ctrl *m, uint8_t *buf, size_t cap);

/* ------------------------------------------------------------ TSO prefix */
/*
 * 4 bytes in front of every frame on a data QP that negotiated TSO, in both
 * directions (the original used it host -> director only; we also use it
 * director -> host so GSO frames and partial checksums reach the host's
 * TAP as they are):
 *   bits 31..30 format: 01 = prefix only, 11 = an 802.1Q tag word follows
 *   bit  29     csum: the L4 checksum is partial (NEEDS_CSUM); ours, the
 *               original left it 0
 *   bit  28     no-GSO: the frame is sent as is (mss and hdr_len 0)
 *   bits 27..16 hdr_len: bytes of Ethernet+IP+TCP headers to replicate
 *   bits 15..0  mss: TCP payload bytes per segment
 * Format 11 appends a 4-byte word whose low 16 bits are the TCI to insert
 * (upper 16 bits 0). A GSO frame always has a partial checksum (csum set).
 */
#define XS_VNIC_TSO_LEN 4
#define XS_VNIC_TSO_VLAN_LEN 8
#define XS_VNIC_TSO_MIN_HDR 54   /* Ethernet 14 + IPv4 20 + TCP 20 */
#define XS_VNIC_TSO_MAX_HDR 4095
struct xs_vnic_tso {
	bool gso;         /* false: no-GSO, the frame goes as one */
	bool csum;        /* L4 checksum partial; always true with gso */
	uint16_t mss;     /* gso: >= 1 */
	uint16_t hdr_len; /* gso: 54..4095 and below the frame's length */
	bool has_vlan;
	uint16_t tci;     /* has_vlan: 802.1Q TCI to insert */
};
/*
 * Decode the prefix at the front of a message of @len bytes (prefix and
 * frame). Returns the prefix length (4 or 8), so the frame starts at
 * buf + rc and is len - rc bytes long; the frame must be at least 14 bytes
 * and, with gso, longer than hdr_len; gso without csum is rejected.
 */
int xs_vnic_tso_decode(const uint8_t *buf, size_t len, struct xs_vnic_tso *t);
int xs_vnic_tso_encode(const struct xs_vnic_tso *t, uint8_t *buf, size_t cap);

/*
 * Between the prefix and the virtio-net header of a TAP or a packet socket.
 * Both parse the frame (Ethernet, one optional 802.1Q tag, IPv4 or IPv6
 * with hop-by-hop/routing/destination-options headers, TCP or UDP):
 *
 * xs_vnic_vnet_to_tso: a frame read from a TAP. NEEDS_CSUM must point at
 * the TCP/UDP checksum of the frame (the peer re-derives the offsets from
 * the frame); GSO must be TCPV4/TCPV6 (ECN bit allowed) matching the IP
 * version; hdr_len is taken from the headers, not from @vh.
 *
 * xs_vnic_tso_to_vnet: the header to write a received frame with:
 * NEEDS_CSUM with csum_start/csum_offset of its TCP/UDP checksum when
 * csum, gso_type/gso_size/hdr_len when gso (hdr_len must equal the
 * frame's headers). A VLAN word (has_vlan) is not represented: the caller
 * inserts the tag into the frame first.
 *
 * Both return 0, -EPROTONOSUPPORT (the frame is not what the header claims,
 * e.g. NEEDS_CSUM on something that is not TCP/UDP, UDP GSO), -EINVAL
 * (offsets or lengths that disagree with the frame), -EMSGSIZE (truncated).
 */
struct virtio_net_hdr;
int xs_vnic_vnet_to_tso(const struct virtio_net_hdr *vh, const uint8_t *frame, size_t len,
			struct xs_vnic_tso *t);
int xs_vnic_tso_to_vnet(const struct xs_vnic_tso *t, const uint8_t *frame, size_t len,
			struct virtio_net_hdr *vh);

/* -------------------------------------------------- RX checksum trailer */
/*
 * 4 bytes after a frame on the receive side, when checksum offload is on:
 *   bits 31..16 csum: the L4 checksum over the fragment (IP fragments only)
 *   bit 8 ip_fragment, bit 7 ipv6 (ours), bit 6 ipv4, bit 3 tcp_good,
 *   bit 1 udp_good; all other bits reserved (0)
 */
#define XS_VNIC_CSUM_LEN 4
#define XS_VNIC_CSUM_IP_FRAGMENT (1u << 8)
#define XS_VNIC_CSUM_IPV6 (1u << 7)
#define XS_VNIC_CSUM_IPV4 (1u << 6)
#define XS_VNIC_CSUM_TCP_GOOD (1u << 3)
#define XS_VNIC_CSUM_UDP_GOOD (1u << 1)
struct xs_vnic_csum {
	uint16_t csum;
	bool ip_fragment, ipv4, ipv6, tcp_good, udp_good;
};
/*
 * Decode the trailer at the end of @len bytes (frame + trailer). Returns the
 * frame length (len - 4). Rejects a frame under 14 bytes, reserved bits,
 * ipv4 and ipv6 together, tcp_good and udp_good together, a good L4 bit
 * without an IP bit, and a csum value on a non-fragment.
 */
int xs_vnic_csum_decode(const uint8_t *buf, size_t len, struct xs_vnic_csum *c);
/* Write the 4-byte trailer at buf (the caller places it after the frame). */
int xs_vnic_csum_encode(const struct xs_vnic_csum *c, uint8_t *buf, size_t cap);

/* ----------------------------------------------------- batching container */
/*
 * Several frames in one message. Each entry is a 4-byte header
 *   bits 31..30 format (0), bit 29 final, bits 28..14 reserved (0),
 *   bits 13..0 frame length (1..16383)
 * then the frame, then 0..3 zero bytes to the next 4-byte boundary. The
 * last entry has the final bit; nothing but its padding may follow it.
 * The same container carries RX batches (director -> host, the original's
 * format) and our TX batches (host -> director). When TSO is negotiated as
 * well, each entry is the TSO prefix followed by its frame (the entry
 * length counts both).
 */
#define XS_VNIC_BATCH_HDR_LEN 4
#define XS_VNIC_BATCH_MAX_FRAME 16383
#define XS_VNIC_BATCH_FINAL (1u << 29)

struct xs_vnic_batch_iter {
	const uint8_t *buf;
	size_t len;
	size_t off;
	unsigned int frames; /* frames returned so far */
	bool done;
	int err;             /* sticky error, 0 while good */
};
void xs_vnic_batch_iter_init(struct xs_vnic_batch_iter *it, const uint8_t *buf, size_t len);
/*
 * Next frame of the container: 1 with *frame and *frame_len set, 0 after the
 * final entry (also on every later call), or a negative errno (-EMSGSIZE:
 * an entry runs past the buffer or the buffer ends without a final entry;
 * -EBADMSG: bad format/reserved bits, zero length, bytes after the final
 * entry). After an error the iterator stays failed (returns the error again).
 * A container is only known to be good once 0 is returned; frames handed
 * out before an error are intact but the rest of the message is lost.
 */
int xs_vnic_batch_next(struct xs_vnic_batch_iter *it, const uint8_t **frame, size_t *frame_len);
/* Validate a whole container; returns the number of frames or an error. */
int xs_vnic_batch_count(const uint8_t *buf, size_t len);

struct xs_vnic_batch_builder {
	uint8_t *buf;
	size_t cap;
	size_t off;       /* bytes used so far */
	size_t last_hdr;  /* offset of the last entry's header */
	unsigned int frames;
};
void xs_vnic_batch_builder_init(struct xs_vnic_batch_builder *b, uint8_t *buf, size_t cap);
/* Bytes an entry of @frame_len bytes takes (header + frame + padding). */
size_t xs_vnic_batch_entry_size(size_t frame_len);
/*
 * Append a frame: 0, -EINVAL (length 0 or above 16383), -ENOSPC (it does
 * not fit; the builder is unchanged so the caller can finish and start a
 * new message).
 */
int xs_vnic_batch_add(struct xs_vnic_batch_builder *b, const uint8_t *frame, size_t frame_len);
/* Mark the last entry final; returns the message length, -ENODATA if empty. */
int xs_vnic_batch_finish(struct xs_vnic_batch_builder *b);

#ifdef __cplusplus
}
#endif

#endif /* XSCORE_VNIC_WIRE_H */
