/* SPDX-License-Identifier: MIT */
/*
 * xsvnic/tap.h - the host side of a vNIC: a TAP network interface with a
 * virtio-net header on every frame (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR),
 * configured through rtnetlink (libnl-route-3): MAC, MTU, admin state; the
 * carrier is set on the TAP itself (TUNSETCARRIER), offloads with
 * TUNSETOFFLOAD. The interface's multicast list is read through rtnetlink
 * (RTM_GETMULTICAST for IPv4 and IPv6 groups, mapped to their MACs; see
 * xsvnic_tap_get_mcast).
 *
 * Error convention: int functions return 0 / a count, or a negative errno;
 * xsvnic_tap_create returns NULL with errno set. Needs CAP_NET_ADMIN.
 */
#ifndef XSVNIC_TAP_H
#define XSVNIC_TAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <linux/virtio_net.h>

#ifdef __cplusplus
extern "C" {
#endif

#define XSVNIC_MAC_LEN 6
#define XSVNIC_NAME_MAX 15      /* IFNAMSIZ - 1 */
#define XSVNIC_MTU_MIN 68
#define XSVNIC_MTU_MAX 65280    /* largest MTU carried across the fabric */
#define XSVNIC_VNET_HDR_LEN ((int)sizeof(struct virtio_net_hdr))
/* A read buffer this large holds any frame the TAP can hand out (64 KiB GSO
 * frame, Ethernet header, a VLAN tag) with room to spare. */
#define XSVNIC_FRAME_BUF 65600

/* Offloads the TAP accepts from the kernel (TUNSETOFFLOAD): frames the
 * kernel hands us may then carry NEEDS_CSUM and GSO in their vnet header. */
#define XSVNIC_OFF_CSUM (1u << 0)
#define XSVNIC_OFF_TSO4 (1u << 1)
#define XSVNIC_OFF_TSO6 (1u << 2)
#define XSVNIC_OFF_TSO_ECN (1u << 3)
#define XSVNIC_OFF_ALL (XSVNIC_OFF_CSUM | XSVNIC_OFF_TSO4 | XSVNIC_OFF_TSO6 | XSVNIC_OFF_TSO_ECN)

struct xsvnic_tap;

/*
 * Create the TAP @name (a name, or a pattern such as "xsv%d") with the
 * given offloads (TSO needs CSUM). The device exists while the handle is
 * open. The fd is non-blocking. errno: EINVAL (name longer than 15, bad
 * offload set), EBUSY (a TAP of that name is already open), EPERM, and
 * whatever /dev/net/tun or netlink report.
 */
struct xsvnic_tap *xsvnic_tap_create(const char *name, unsigned int offloads);
/* Delete the interface (RTM_DELLINK) and free the handle. */
void xsvnic_tap_destroy(struct xsvnic_tap *tap);

int xsvnic_tap_fd(const struct xsvnic_tap *tap);
const char *xsvnic_tap_name(const struct xsvnic_tap *tap);
int xsvnic_tap_ifindex(const struct xsvnic_tap *tap);

int xsvnic_tap_set_offload(struct xsvnic_tap *tap, unsigned int offloads);
unsigned int xsvnic_tap_offload(const struct xsvnic_tap *tap);
/* TUNSETCARRIER: the interface shows NO-CARRIER while off. */
int xsvnic_tap_set_carrier(struct xsvnic_tap *tap, bool on);
/* rtnetlink: MAC (unicast, not zero: else -EINVAL), MTU (68..65280: else
 * -EINVAL), admin up/down. */
int xsvnic_tap_set_mac(struct xsvnic_tap *tap, const uint8_t mac[XSVNIC_MAC_LEN]);
int xsvnic_tap_set_mtu(struct xsvnic_tap *tap, unsigned int mtu);
int xsvnic_tap_set_up(struct xsvnic_tap *tap, bool up);

/* What rtnetlink reports for the interface now. */
struct xsvnic_link_info {
	uint8_t mac[XSVNIC_MAC_LEN];
	unsigned int mtu;
	bool admin_up;     /* IFF_UP */
	bool carrier;      /* IFF_LOWER_UP */
	bool all_multi;    /* IFF_ALLMULTI or IFF_PROMISC */
};
int xsvnic_tap_link_info(struct xsvnic_tap *tap, struct xsvnic_link_info *li);

/*
 * The interface's multicast MACs: the IPv4 and IPv6 groups it has joined,
 * read with RTM_GETMULTICAST dumps (IPv6 on every kernel; IPv4 on recent
 * ones such as the 6.18 this was tested on; where the IPv4 dump is refused
 * only IPv6 groups are listed), mapped to MACs (01:00:5e + low 23 bits;
 * 33:33 + low 32 bits), sorted, without duplicates. Fills up to @cap MACs and returns how many there are (which
 * may be more than @cap). *all_multi is set when the interface is
 * all-multicast or promiscuous. Link-layer-only memberships (ip maddr add,
 * PACKET_ADD_MEMBERSHIP) are not exposed by rtnetlink and are not listed.
 */
int xsvnic_tap_get_mcast(struct xsvnic_tap *tap, uint8_t (*macs)[XSVNIC_MAC_LEN], size_t cap,
			 bool *all_multi);

/*
 * Change notifications for the multicast list: a netlink socket subscribed
 * to IPv4 and IPv6 group membership changes (RTNLGRP_IPV4_MCADDR and
 * RTNLGRP_IPV6_MCADDR, 37 and 38 in recent kernels) and to link changes (the
 * ALLMULTI/PROMISC flags). Poll its fd; when readable, call
 * xsvnic_mcast_watch_poll and, if it says the interface changed, read the
 * list again with xsvnic_tap_get_mcast.
 * Kernels before Linux 6.3 have no multicast address notifications: there
 * the watch follows link changes only and xsvnic_mcast_watch_polling() is
 * true, telling the caller to re-read the list periodically instead.
 */
struct xsvnic_mcast_watch;
/* NULL + errno. */
struct xsvnic_mcast_watch *xsvnic_mcast_watch_open(void);
void xsvnic_mcast_watch_close(struct xsvnic_mcast_watch *w);
int xsvnic_mcast_watch_fd(const struct xsvnic_mcast_watch *w);
/* Drain what is pending: 1 if anything concerned @ifindex, 0 if not, or a
 * negative errno. A receive-buffer overrun (-ENOBUFS from the kernel)
 * returns 1: notifications were lost, so the list must be read again. */
int xsvnic_mcast_watch_poll(struct xsvnic_mcast_watch *w, int ifindex);
/* True when the kernel can't notify group changes (see above). */
bool xsvnic_mcast_watch_polling(const struct xsvnic_mcast_watch *w);

/* Group address -> multicast MAC (RFC 1112 section 6.4, RFC 2464 section 7). */
void xsvnic_mcast_ip4_mac(const uint8_t group[4], uint8_t mac[XSVNIC_MAC_LEN]);
void xsvnic_mcast_ip6_mac(const uint8_t group[16], uint8_t mac[XSVNIC_MAC_LEN]);

/*
 * One frame out of the kernel: the vnet header into *vh, the frame into
 * @buf. Returns the frame length, -EAGAIN when none is waiting, -EMSGSIZE
 * when the frame filled all of @cap (it may have been cut short; pass
 * XSVNIC_FRAME_BUF bytes to never see this), -EBADMSG on a read shorter
 * than the vnet header.
 */
ssize_t xsvnic_tap_read(struct xsvnic_tap *tap, struct virtio_net_hdr *vh, void *buf, size_t cap);
/* One frame into the kernel with its vnet header (NULL = no offload). */
ssize_t xsvnic_tap_write(struct xsvnic_tap *tap, const struct virtio_net_hdr *vh,
			 const void *frame, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* XSVNIC_TAP_H */
