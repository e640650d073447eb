/* SPDX-License-Identifier: MIT */
/* vsw_int.h - private to director/vswitch. */
#ifndef XSD_VSW_INT_H
#define XSD_VSW_INT_H

#define VSW_ETH_HLEN 14
#define VSW_TAG_LEN 4
#define VSW_ETH_P_8021Q 0x8100
#define VSW_LOG "vswitch"

#endif /* XSD_VSW_INT_H */
