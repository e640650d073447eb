/* SPDX-License-Identifier: MIT */
#ifndef VSW_TEST_FRAMES_H
#define VSW_TEST_FRAMES_H
#include <stddef.h>
#include <stdint.h>

extern const uint8_t arp_req_a[42];
extern const size_t arp_req_a_len;
extern const uint8_t arp_rep_b_to_a[42];
extern const size_t arp_rep_b_to_a_len;
extern const uint8_t udp4_a_to_b[55];
extern const size_t udp4_a_to_b_len;
extern const uint8_t tcp4_a_to_lan[54];
extern const size_t tcp4_a_to_lan_len;
extern const uint8_t udp4_padded[60];
extern const size_t udp4_padded_len;
extern const uint8_t ns6_a[86];
extern const size_t ns6_a_len;
extern const uint8_t udp6_a_to_b[79];
extern const size_t udp6_a_to_b_len;
extern const uint8_t tcp6_a_to_lan[92];
extern const size_t tcp6_a_to_lan_len;
extern const uint8_t udp6_hbh[73];
extern const size_t udp6_hbh_len;
extern const uint8_t udp4_vlan10_lan_to_a[52];
extern const size_t udp4_vlan10_lan_to_a_len;

#endif
