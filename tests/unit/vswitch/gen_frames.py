#!/usr/bin/env python3
# gen_frames.py - writes frames.c/frames.h: real frames with checksums computed
# by this independent implementation (RFC 1071), for the vswitch and vnic_wire
# tests. Run from this directory: ./gen_frames.py
import struct
def csum(b):
    if len(b)%2: b+=b'\0'
    s=sum(struct.unpack('!%dH'%(len(b)//2),b))
    while s>>16: s=(s&0xffff)+(s>>16)
    return s
def mac(s): return bytes(int(x,16) for x in s.split(':'))
def ip4(s): return bytes(int(x) for x in s.split('.'))
def ip6(s):
    import ipaddress; return ipaddress.IPv6Address(s).packed
A=mac('02:00:00:00:00:0a'); B=mac('02:00:00:00:00:0b'); L=mac('52:54:00:12:34:56'); BC=b'\xff'*6
def eth(d,s,t,p): return d+s+struct.pack('!H',t)+p
def ipv4(src,dst,proto,payload,ident=0x1234,flags=0x4000):
    h=struct.pack('!BBHHHBBH4s4s',0x45,0,20+len(payload),ident,flags,64,proto,0,ip4(src),ip4(dst))
    c=0xffff-csum(h); h=h[:10]+struct.pack('!H',c)+h[12:]
    return h+payload
def l4sum4(src,dst,proto,seg):
    ph=ip4(src)+ip4(dst)+struct.pack('!BBH',0,proto,len(seg)); return ph
def udp4(src,dst,sp,dp,data):
    u=struct.pack('!HHHH',sp,dp,8+len(data),0)+data
    c=0xffff-csum(l4sum4(src,dst,17,u)+u); c=c or 0xffff
    return u[:6]+struct.pack('!H',c)+u[8:]
def tcp4(src,dst,sp,dp,seq,flags,data):
    t=struct.pack('!HHIIBBHHH',sp,dp,seq,0,5<<4,flags,64240,0,0)+data
    c=0xffff-csum(l4sum4(src,dst,6,t)+t)
    return t[:16]+struct.pack('!H',c)+t[18:]
def ph6(src,dst,nh,seg): return ip6(src)+ip6(dst)+struct.pack('!I',len(seg))+b'\0\0\0'+bytes([nh])
def udp6(src,dst,sp,dp,data):
    u=struct.pack('!HHHH',sp,dp,8+len(data),0)+data
    c=0xffff-csum(ph6(src,dst,17,u)+u); c=c or 0xffff
    return u[:6]+struct.pack('!H',c)+u[8:]
def tcp6(src,dst,sp,dp,seq,flags,data):
    t=struct.pack('!HHIIBBHHH',sp,dp,seq,0,5<<4,flags,64240,0,0)+data
    c=0xffff-csum(ph6(src,dst,6,t)+t)
    return t[:16]+struct.pack('!H',c)+t[18:]
def icmp6(src,dst,body):
    c=0xffff-csum(ph6(src,dst,58,body)+body)
    return body[:2]+struct.pack('!H',c)+body[4:]
def ipv6(src,dst,nh,payload,hops=64):
    return struct.pack('!IHBB',0x60000000,len(payload),nh,hops)+ip6(src)+ip6(dst)+payload
frames={}
# ARP request A (10.0.0.1) who-has 10.0.0.2
arp=struct.pack('!HHBBH',1,0x0800,6,4,1)+A+ip4('10.0.0.1')+b'\0'*6+ip4('10.0.0.2')
frames['arp_req_a']=eth(BC,A,0x0806,arp)
arpr=struct.pack('!HHBBH',1,0x0800,6,4,2)+B+ip4('10.0.0.2')+A+ip4('10.0.0.1')
frames['arp_rep_b_to_a']=eth(A,B,0x0806,arpr)
frames['udp4_a_to_b']=eth(B,A,0x0800,ipv4('10.0.0.1','10.0.0.2',17,udp4('10.0.0.1','10.0.0.2',40000,5001,b'hello vswitch')))
frames['tcp4_a_to_lan']=eth(L,A,0x0800,ipv4('10.0.0.1','10.0.0.9',6,tcp4('10.0.0.1','10.0.0.9',43210,80,0x01020304,0x02,b'')))
# UDP odd length payload with padding to 60 bytes: 14+20+8+3=45 -> padded
u=eth(B,A,0x0800,ipv4('10.0.0.1','10.0.0.2',17,udp4('10.0.0.1','10.0.0.2',1,2,b'abc')))
frames['udp4_padded']=u+b'\0'*(60-len(u))
# NS from A for fe80::b -> solicited node ff02::1:ff00:b
ns=bytes([135,0,0,0])+b'\0'*4+ip6('fe80::b')+bytes([1,1])+A
frames['ns6_a']=eth(mac('33:33:ff:00:00:0b'),A,0x86dd,ipv6('fe80::a','ff02::1:ff00:b',58,icmp6('fe80::a','ff02::1:ff00:b',ns),255))
frames['udp6_a_to_b']=eth(B,A,0x86dd,ipv6('2001:db8::a','2001:db8::b',17,udp6('2001:db8::a','2001:db8::b',5353,5353,b'ipv6 udp payload!')))
frames['tcp6_a_to_lan']=eth(L,A,0x86dd,ipv6('2001:db8::a','2001:db8::99',6,tcp6('2001:db8::a','2001:db8::99',50000,443,7,0x18,b'GET / HTTP/1.0\r\n\r\n')))
# IPv6 with hop-by-hop (router alert, 8 bytes) then UDP
hbh=bytes([17,0,5,2,0,0,1,0])
seg=udp6('2001:db8::a','2001:db8::b',7,9,b'xyz')
frames['udp6_hbh']=eth(B,A,0x86dd,ipv6('2001:db8::a','2001:db8::b',0,hbh+seg))
# 802.1Q tagged VLAN 10 PCP 5 UDP from LAN to A
p=ipv4('192.168.10.5','10.0.0.1',17,udp4('192.168.10.5','10.0.0.1',53,40000,b'tagged'))
frames['udp4_vlan10_lan_to_a']=A+L+struct.pack('!HH',0x8100,(5<<13)|10)+struct.pack('!H',0x0800)+p
out=['/* SPDX-License-Identifier: MIT */','/* frames.c - real frames for the vswitch tests. Generated once with an',
 ' * independent checksum implementation (gen_frames.py); checksums in',
 ' * these bytes are correct. */','#include "frames.h"','']
hdr=['/* SPDX-License-Identifier: MIT */','#ifndef VSW_TEST_FRAMES_H','#define VSW_TEST_FRAMES_H','#include <stddef.h>','#include <stdint.h>','']
for k,v in frames.items():
    out.append('const uint8_t %s[%d] = {'%(k,len(v)))
    for i in range(0,len(v),12):
        out.append('\t'+', '.join('0x%02x'%x for x in v[i:i+12])+',')
    out.append('};')
    out.append('const size_t %s_len = %d;'%(k,len(v)))
    hdr.append('extern const uint8_t %s[%d];'%(k,len(v)))
    hdr.append('extern const size_t %s_len;'%k)
hdr+=['','#endif']
open('frames.c','w').write('\n'.join(out)+'\n')
open('frames.h','w').write('\n'.join(hdr)+'\n')
for k,v in frames.items(): print(k,len(v))
