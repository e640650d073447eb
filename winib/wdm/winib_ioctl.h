/* SPDX-License-Identifier: MIT */
/*
 * winib_ioctl.h - control codes of the bus FDO (device interface
 * GUID_WINIB_BUS_INTERFACE). The HCA/access-layer side reports ports with
 * PORT_ADD / PORT_REMOVE; a partition tool adds and removes P_Key children.
 * Needs CTL_CODE (winioctl.h in user mode, wdm.h in the driver).
 */
#ifndef WINIB_IOCTL_H
#define WINIB_IOCTL_H

#include <stdint.h>

#define WINIB_IOCTL_PORT_ADD \
	CTL_CODE(FILE_DEVICE_BUS_EXTENDER, 0x800, METHOD_BUFFERED, FILE_WRITE_ACCESS)
#define WINIB_IOCTL_PORT_REMOVE \
	CTL_CODE(FILE_DEVICE_BUS_EXTENDER, 0x801, METHOD_BUFFERED, FILE_WRITE_ACCESS)
#define WINIB_IOCTL_PKEY_ADD \
	CTL_CODE(FILE_DEVICE_BUS_EXTENDER, 0x802, METHOD_BUFFERED, FILE_WRITE_ACCESS)
#define WINIB_IOCTL_PKEY_REMOVE \
	CTL_CODE(FILE_DEVICE_BUS_EXTENDER, 0x803, METHOD_BUFFERED, FILE_WRITE_ACCESS)

struct winib_ioctl_port {
	uint64_t port_guid;
	uint8_t port_num;
	uint8_t reserved[7];
};

struct winib_ioctl_pkey {
	uint64_t port_guid;
	uint16_t pkey;
	uint16_t reserved[3];
	char child[64];       /* child type, e.g. "IPoIB"; NUL-terminated */
	char name[32];        /* optional P_Key child name; NUL-terminated */
};

/* Fixed layouts: user mode and kernel must agree. */
_Static_assert(sizeof(struct winib_ioctl_port) == 16, "winib_ioctl_port layout");
_Static_assert(sizeof(struct winib_ioctl_pkey) == 112, "winib_ioctl_pkey layout");

#endif /* WINIB_IOCTL_H */
