/* SPDX-License-Identifier: MIT */
/*
 * tap.c - the vNIC's TAP interface: creation with a vnet header, offloads
 * and carrier through tun ioctls, MAC/MTU/admin state and the multicast list
 * through rtnetlink (libnl-route-3), frame I/O with readv/writev.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/if_tun.h>
#include <linux/rtnetlink.h>

#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/socket.h>

#include <xscore/common.h>
#include <xscore/log.h>
#include <xsvnic/tap.h>

#define TAP_LOG "xsvnic"

/* rtnetlink values older userspace headers lack (enum members there, so
 * spelled out here): RTM_NEWMULTICAST 56, RTM_DELMULTICAST 57,
 * RTM_GETMULTICAST 58. */
#define XSV_RTM_NEWMULTICAST 56
#define XSV_RTM_DELMULTICAST 57
#define XSV_RTM_GETMULTICAST 58
#ifndef IFF_LOWER_UP
#define IFF_LOWER_UP 0x10000
#endif
#ifndef IFA_MULTICAST
#define IFA_MULTICAST 7
#endif

struct xsvnic_tap {
	int fd;
	int ifindex;
	unsigned int offloads;
	char name[IFNAMSIZ];
	struct nl_sock *nl;   /* link changes; dumps use their own socket */
};

/* libnl reports its own error numbers; give callers an errno. */
static int nl_to_errno(int nlerr)
{
	switch (nlerr < 0 ? -nlerr : nlerr) {
	case 0: return 0;
	case NLE_INTR: return -EINTR;
	case NLE_AGAIN: return -EAGAIN;
	case NLE_NOMEM: return -ENOMEM;
	case NLE_EXIST: return -EEXIST;
	case NLE_INVAL: return -EINVAL;
	case NLE_RANGE: return -ERANGE;
	case NLE_MSGSIZE: return -EMSGSIZE;
	case NLE_OPNOTSUPP: return -EOPNOTSUPP;
	case NLE_AF_NOSUPPORT: return -EAFNOSUPPORT;
	case NLE_OBJ_NOTFOUND: return -ENOENT;
	case NLE_BUSY: return -EBUSY;
	case NLE_NOACCESS: return -EACCES;
	case NLE_PERM: return -EPERM;
	case NLE_NODEV: return -ENODEV;
	default: return -EIO;
	}
}

static unsigned int tun_offload_flags(unsigned int off)
{
	unsigned int f = 0;

	if (off & XSVNIC_OFF_CSUM)
		f |= TUN_F_CSUM;
	if (off & XSVNIC_OFF_TSO4)
		f |= TUN_F_TSO4;
	if (off & XSVNIC_OFF_TSO6)
		f |= TUN_F_TSO6;
	if (off & XSVNIC_OFF_TSO_ECN)
		f |= TUN_F_TSO_ECN;
	return f;
}

static bool offloads_valid(unsigned int off)
{
	if (off & ~XSVNIC_OFF_ALL)
		return false;
	/* segmentation offloads need checksum offload (the kernel insists too) */
	if ((off & (XSVNIC_OFF_TSO4 | XSVNIC_OFF_TSO6 | XSVNIC_OFF_TSO_ECN)) &&
	    !(off & XSVNIC_OFF_CSUM))
		return false;
	if ((off & XSVNIC_OFF_TSO_ECN) && !(off & (XSVNIC_OFF_TSO4 | XSVNIC_OFF_TSO6)))
		return false;
	return true;
}

int xsvnic_tap_set_offload(struct xsvnic_tap *tap, unsigned int offloads)
{
	if (!offloads_valid(offloads))
		return -EINVAL;
	if (ioctl(tap->fd, TUNSETOFFLOAD, tun_offload_flags(offloads)) < 0)
		return -errno;
	tap->offloads = offloads;
	return 0;
}

unsigned int xsvnic_tap_offload(const struct xsvnic_tap *tap) { return tap->offloads; }

struct xsvnic_tap *xsvnic_tap_create(const char *name, unsigned int offloads)
{
	struct xsvnic_tap *tap;
	struct ifreq ifr;
	int hdr_len = XSVNIC_VNET_HDR_LEN, rc;

	if (!name || !*name || strlen(name) > XSVNIC_NAME_MAX || !offloads_valid(offloads)) {
		errno = EINVAL;
		return NULL;
	}
	tap = calloc(1, sizeof(*tap));
	if (!tap)
		return NULL;
	tap->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (tap->fd < 0) {
		rc = -errno;
		XS_ERR(TAP_LOG, "open /dev/net/tun: %s", strerror(-rc));
		goto err_free;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(tap->fd, TUNSETIFF, &ifr) < 0) {
		rc = -errno;
		XS_ERR(TAP_LOG, "TUNSETIFF %s: %s", name, strerror(-rc));
		goto err_close;
	}
	memcpy(tap->name, ifr.ifr_name, IFNAMSIZ);
	tap->name[IFNAMSIZ - 1] = '\0';
	if (ioctl(tap->fd, TUNSETVNETHDRSZ, &hdr_len) < 0) {
		rc = -errno;
		XS_ERR(TAP_LOG, "%s: TUNSETVNETHDRSZ: %s", tap->name, strerror(-rc));
		goto err_close;
	}
	rc = xsvnic_tap_set_offload(tap, offloads);
	if (rc) {
		XS_ERR(TAP_LOG, "%s: TUNSETOFFLOAD 0x%x: %s", tap->name, offloads, strerror(-rc));
		goto err_close;
	}
	tap->ifindex = (int)if_nametoindex(tap->name);
	if (!tap->ifindex) {
		rc = -errno;
		goto err_close;
	}
	tap->nl = nl_socket_alloc();
	if (!tap->nl) {
		rc = -ENOMEM;
		goto err_close;
	}
	rc = nl_connect(tap->nl, NETLINK_ROUTE);
	if (rc < 0) {
		rc = nl_to_errno(rc);
		XS_ERR(TAP_LOG, "%s: netlink connect: %s", tap->name, strerror(-rc));
		goto err_free_nl;
	}
	XS_INFO(TAP_LOG, "%s: TAP created (ifindex %d, offloads 0x%x)", tap->name, tap->ifindex,
		offloads);
	return tap;

err_free_nl:
	nl_socket_free(tap->nl);
err_close:
	close(tap->fd);
err_free:
	free(tap);
	errno = -rc;
	return NULL;
}

void xsvnic_tap_destroy(struct xsvnic_tap *tap)
{
	struct rtnl_link *link;
	int rc;

	if (!tap)
		return;
	/* Delete by netlink first, so the interface is gone when we return even
	 * if someone else holds the device open; closing our fd would remove a
	 * non-persistent TAP anyway. */
	link = rtnl_link_alloc();
	if (link) {
		rtnl_link_set_ifindex(link, tap->ifindex);
		rc = rtnl_link_delete(tap->nl, link);
		if (rc < 0 && rc != -NLE_NODEV && rc != -NLE_OBJ_NOTFOUND)
			XS_WARN(TAP_LOG, "%s: RTM_DELLINK: %s", tap->name, nl_geterror(rc));
		rtnl_link_put(link);
	}
	close(tap->fd);
	nl_socket_free(tap->nl);
	XS_INFO(TAP_LOG, "%s: TAP deleted", tap->name);
	free(tap);
}

int xsvnic_tap_fd(const struct xsvnic_tap *tap) { return tap->fd; }
const char *xsvnic_tap_name(const struct xsvnic_tap *tap) { return tap->name; }
int xsvnic_tap_ifindex(const struct xsvnic_tap *tap) { return tap->ifindex; }

int xsvnic_tap_set_carrier(struct xsvnic_tap *tap, bool on)
{
	int v = on ? 1 : 0;

	if (ioctl(tap->fd, TUNSETCARRIER, &v) < 0)
		return -errno;
	return 0;
}

/* Apply @chg (built by the caller) to the interface with RTM_NEWLINK. */
static int link_change(struct xsvnic_tap *tap, struct rtnl_link *chg, const char *what)
{
	struct rtnl_link *orig = NULL;
	int rc;

	rc = rtnl_link_get_kernel(tap->nl, tap->ifindex, NULL, &orig);
	if (rc < 0) {
		rc = nl_to_errno(rc);
		goto out;
	}
	rc = nl_to_errno(rtnl_link_change(tap->nl, orig, chg, 0));
	rtnl_link_put(orig);
out:
	if (rc)
		XS_ERR(TAP_LOG, "%s: set %s: %s", tap->name, what, strerror(-rc));
	return rc;
}

int xsvnic_tap_set_mac(struct xsvnic_tap *tap, const uint8_t mac[XSVNIC_MAC_LEN])
{
	static const uint8_t zero[XSVNIC_MAC_LEN];
	struct rtnl_link *chg;
	struct nl_addr *a;
	int rc;

	if ((mac[0] & 1) || memcmp(mac, zero, XSVNIC_MAC_LEN) == 0)
		return -EINVAL;
	chg = rtnl_link_alloc();
	if (!chg)
		return -ENOMEM;
	a = nl_addr_build(AF_LLC, mac, XSVNIC_MAC_LEN);
	if (!a) {
		rtnl_link_put(chg);
		return -ENOMEM;
	}
	rtnl_link_set_addr(chg, a);
	rc = link_change(tap, chg, "MAC");
	nl_addr_put(a);
	rtnl_link_put(chg);
	return rc;
}

int xsvnic_tap_set_mtu(struct xsvnic_tap *tap, unsigned int mtu)
{
	struct rtnl_link *chg;
	int rc;

	if (mtu < XSVNIC_MTU_MIN || mtu > XSVNIC_MTU_MAX)
		return -EINVAL;
	chg = rtnl_link_alloc();
	if (!chg)
		return -ENOMEM;
	rtnl_link_set_mtu(chg, mtu);
	rc = link_change(tap, chg, "MTU");
	rtnl_link_put(chg);
	return rc;
}

int xsvnic_tap_set_up(struct xsvnic_tap *tap, bool up)
{
	struct rtnl_link *chg;
	int rc;

	chg = rtnl_link_alloc();
	if (!chg)
		return -ENOMEM;
	if (up)
		rtnl_link_set_flags(chg, IFF_UP);
	else
		rtnl_link_unset_flags(chg, IFF_UP);
	rc = link_change(tap, chg, up ? "up" : "down");
	rtnl_link_put(chg);
	return rc;
}

int xsvnic_tap_link_info(struct xsvnic_tap *tap, struct xsvnic_link_info *li)
{
	struct rtnl_link *link = NULL;
	struct nl_addr *a;
	unsigned int flags;
	int rc;

	rc = rtnl_link_get_kernel(tap->nl, tap->ifindex, NULL, &link);
	if (rc < 0)
		return nl_to_errno(rc);
	memset(li, 0, sizeof(*li));
	a = rtnl_link_get_addr(link);
	if (a && nl_addr_get_len(a) == XSVNIC_MAC_LEN)
		memcpy(li->mac, nl_addr_get_binary_addr(a), XSVNIC_MAC_LEN);
	li->mtu = rtnl_link_get_mtu(link);
	flags = rtnl_link_get_flags(link);
	li->admin_up = flags & IFF_UP;
	li->carrier = flags & IFF_LOWER_UP;
	li->all_multi = flags & (IFF_ALLMULTI | IFF_PROMISC);
	rtnl_link_put(link);
	return 0;
}

/* ------------------------------------------------------ multicast list */

void xsvnic_mcast_ip4_mac(const uint8_t group[4], uint8_t mac[XSVNIC_MAC_LEN])
{
	mac[0] = 0x01;
	mac[1] = 0x00;
	mac[2] = 0x5e;
	mac[3] = group[1] & 0x7f;
	mac[4] = group[2];
	mac[5] = group[3];
}

void xsvnic_mcast_ip6_mac(const uint8_t group[16], uint8_t mac[XSVNIC_MAC_LEN])
{
	mac[0] = 0x33;
	mac[1] = 0x33;
	memcpy(mac + 2, group + 12, 4);
}

struct mc_dump {
	int ifindex;
	uint8_t (*macs)[XSVNIC_MAC_LEN];
	size_t n, cap;
	int err;
};

static int mc_add(struct mc_dump *d, const uint8_t *mac)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		if (memcmp(d->macs[i], mac, XSVNIC_MAC_LEN) == 0)
			return 0;
	if (d->n == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 32;
		void *p = realloc(d->macs, cap * XSVNIC_MAC_LEN);

		if (!p)
			return -ENOMEM;
		d->macs = p;
		d->cap = cap;
	}
	memcpy(d->macs[d->n++], mac, XSVNIC_MAC_LEN);
	return 0;
}

static int mc_parse(struct nl_msg *msg, void *arg)
{
	struct mc_dump *d = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct nlattr *tb[IFA_MULTICAST + 1];
	const struct ifaddrmsg *ifa;
	uint8_t mac[XSVNIC_MAC_LEN];
	int rc;

	if (nlh->nlmsg_type != XSV_RTM_NEWMULTICAST && nlh->nlmsg_type != XSV_RTM_GETMULTICAST)
		return NL_SKIP;
	if (nlmsg_datalen(nlh) < (int)sizeof(*ifa))
		return NL_SKIP;
	ifa = nlmsg_data(nlh);
	if ((int)ifa->ifa_index != d->ifindex)
		return NL_SKIP;
	rc = nlmsg_parse(nlh, sizeof(*ifa), tb, IFA_MULTICAST, NULL);
	if (rc < 0 || !tb[IFA_MULTICAST])
		return NL_SKIP;
	if (ifa->ifa_family == AF_INET && nla_len(tb[IFA_MULTICAST]) == 4)
		xsvnic_mcast_ip4_mac(nla_data(tb[IFA_MULTICAST]), mac);
	else if (ifa->ifa_family == AF_INET6 && nla_len(tb[IFA_MULTICAST]) == 16)
		xsvnic_mcast_ip6_mac(nla_data(tb[IFA_MULTICAST]), mac);
	else
		return NL_SKIP;
	rc = mc_add(d, mac);
	if (rc) {
		d->err = rc;
		return NL_STOP;
	}
	return NL_OK;
}

/* One RTM_GETMULTICAST dump of @family on a private socket. A family the
 * kernel cannot dump (IPv4 on older kernels) gives -EOPNOTSUPP. */
static int mc_dump_family(struct mc_dump *d, int family)
{
	struct ifaddrmsg ifa = { .ifa_family = (unsigned char)family };
	struct nl_sock *sk = nl_socket_alloc();
	int rc;

	if (!sk)
		return -ENOMEM;
	rc = nl_connect(sk, NETLINK_ROUTE);
	if (rc < 0)
		goto out;
	rc = nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, mc_parse, d);
	if (rc < 0)
		goto out;
	rc = nl_send_simple(sk, XSV_RTM_GETMULTICAST, NLM_F_DUMP, &ifa, sizeof(ifa));
	if (rc < 0)
		goto out;
	rc = nl_recvmsgs_default(sk);
out:
	nl_socket_free(sk);
	if (d->err)
		return d->err;
	return rc < 0 ? nl_to_errno(rc) : 0;
}

static int mac_cmp(const void *a, const void *b) { return memcmp(a, b, XSVNIC_MAC_LEN); }

int xsvnic_tap_get_mcast(struct xsvnic_tap *tap, uint8_t (*macs)[XSVNIC_MAC_LEN], size_t cap,
			 bool *all_multi)
{
	struct mc_dump d = { .ifindex = tap->ifindex };
	struct xsvnic_link_info li;
	int rc;

	rc = xsvnic_tap_link_info(tap, &li);
	if (rc)
		return rc;
	if (all_multi)
		*all_multi = li.all_multi;
	rc = mc_dump_family(&d, AF_INET6);
	if (rc)
		goto out;
	rc = mc_dump_family(&d, AF_INET);
	if (rc == -EOPNOTSUPP || rc == -EINVAL) {
		/* older kernels: no IPv4 dump; the IPv6 part is still right */
		XS_DEBUG(TAP_LOG, "%s: no IPv4 RTM_GETMULTICAST on this kernel", tap->name);
		rc = 0;
	}
	if (rc)
		goto out;
	if (d.n)
		qsort(d.macs, d.n, XSVNIC_MAC_LEN, mac_cmp);
	if (macs && cap)
		memcpy(macs, d.macs, XS_MIN(d.n, cap) * XSVNIC_MAC_LEN);
	rc = d.n > (size_t)INT32_MAX ? -EOVERFLOW : (int)d.n;
out:
	free(d.macs);
	if (rc < 0)
		XS_ERR(TAP_LOG, "%s: reading the multicast list: %s", tap->name, strerror(-rc));
	return rc;
}

/* ------------------------------------------------ multicast change watch */

/* Group numbers from the kernel's enum rtnetlink_groups (recent kernels); older
 * userspace headers do not have them. */
#define XSV_RTNLGRP_IPV4_MCADDR 37
#define XSV_RTNLGRP_IPV6_MCADDR 38

struct xsvnic_mcast_watch {
	struct nl_sock *sk;
	int ifindex;  /* of the poll in progress */
	bool hit;
	bool polling; /* no multicast address notifications in this kernel */
};

static int watch_parse(struct nl_msg *msg, void *arg)
{
	struct xsvnic_mcast_watch *w = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);

	if (nlh->nlmsg_type == XSV_RTM_NEWMULTICAST || nlh->nlmsg_type == XSV_RTM_DELMULTICAST) {
		const struct ifaddrmsg *ifa = nlmsg_data(nlh);

		if (nlmsg_datalen(nlh) >= (int)sizeof(*ifa) && (int)ifa->ifa_index == w->ifindex)
			w->hit = true;
	} else if (nlh->nlmsg_type == RTM_NEWLINK || nlh->nlmsg_type == RTM_DELLINK) {
		const struct ifinfomsg *ifi = nlmsg_data(nlh);

		if (nlmsg_datalen(nlh) >= (int)sizeof(*ifi) && ifi->ifi_index == w->ifindex)
			w->hit = true;
	}
	return NL_OK;
}

struct xsvnic_mcast_watch *xsvnic_mcast_watch_open(void)
{
	struct xsvnic_mcast_watch *w = calloc(1, sizeof(*w));
	int rc;

	if (!w)
		return NULL;
	w->sk = nl_socket_alloc();
	if (!w->sk) {
		rc = -ENOMEM;
		goto err_free;
	}
	nl_socket_disable_seq_check(w->sk);
	nl_socket_disable_auto_ack(w->sk);
	rc = nl_connect(w->sk, NETLINK_ROUTE);
	if (rc < 0)
		goto err_nl;
	rc = nl_socket_add_memberships(w->sk, RTNLGRP_LINK, 0);
	if (rc < 0)
		goto err_nl;
	/* The address groups exist since Linux 6.3; older kernels refuse them
	 * (EINVAL) and the caller polls the list instead. */
	if (nl_socket_add_memberships(w->sk, XSV_RTNLGRP_IPV4_MCADDR, XSV_RTNLGRP_IPV6_MCADDR, 0) <
	    0) {
		w->polling = true;
		XS_NOTICE(TAP_LOG, "this kernel sends no multicast address notifications "
				   "(Linux 6.3+); the multicast list is polled instead");
	}
	rc = nl_socket_set_nonblocking(w->sk);
	if (rc < 0)
		goto err_nl;
	rc = nl_socket_modify_cb(w->sk, NL_CB_VALID, NL_CB_CUSTOM, watch_parse, w);
	if (rc < 0)
		goto err_nl;
	return w;

err_nl:
	rc = nl_to_errno(rc);
	XS_ERR(TAP_LOG, "multicast watch: %s", strerror(-rc));
	nl_socket_free(w->sk);
err_free:
	free(w);
	errno = -rc;
	return NULL;
}

bool xsvnic_mcast_watch_polling(const struct xsvnic_mcast_watch *w)
{
	return w->polling;
}

void xsvnic_mcast_watch_close(struct xsvnic_mcast_watch *w)
{
	if (!w)
		return;
	nl_socket_free(w->sk);
	free(w);
}

int xsvnic_mcast_watch_fd(const struct xsvnic_mcast_watch *w) { return nl_socket_get_fd(w->sk); }

int xsvnic_mcast_watch_poll(struct xsvnic_mcast_watch *w, int ifindex)
{
	int rc;

	w->ifindex = ifindex;
	w->hit = false;
	for (;;) {
		rc = nl_recvmsgs_default(w->sk);
		if (rc == -NLE_AGAIN)
			break;
		if (rc == -NLE_NOMEM || rc == -NLE_MSG_OVERFLOW) {
			/* the kernel dropped notifications: assume a change */
			w->hit = true;
			continue;
		}
		if (rc < 0)
			return nl_to_errno(rc);
	}
	return w->hit ? 1 : 0;
}

/* ---------------------------------------------------------- frame I/O */

ssize_t xsvnic_tap_read(struct xsvnic_tap *tap, struct virtio_net_hdr *vh, void *buf, size_t cap)
{
	struct iovec iov[2] = {
		{ .iov_base = vh, .iov_len = sizeof(*vh) },
		{ .iov_base = buf, .iov_len = cap },
	};
	ssize_t n;

	n = readv(tap->fd, iov, 2);
	if (n < 0)
		return -errno;
	if ((size_t)n < sizeof(*vh))
		return -EBADMSG;
	n -= (ssize_t)sizeof(*vh);
	/* A read that fills the buffer cannot be told apart from a frame cut
	 * short, so it counts as one: callers pass XSVNIC_FRAME_BUF bytes. */
	if ((size_t)n == cap)
		return -EMSGSIZE;
	return n;
}

ssize_t xsvnic_tap_write(struct xsvnic_tap *tap, const struct virtio_net_hdr *vh,
			 const void *frame, size_t len)
{
	static const struct virtio_net_hdr none;
	struct iovec iov[2] = {
		{ .iov_base = (void *)(vh ? vh : &none), .iov_len = sizeof(*vh) },
		{ .iov_base = (void *)frame, .iov_len = len },
	};
	ssize_t n;

	n = writev(tap->fd, iov, 2);
	if (n < 0)
		return -errno;
	return n - (ssize_t)sizeof(*vh);
}
