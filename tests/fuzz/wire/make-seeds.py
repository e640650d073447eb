#!/usr/bin/env python3
"""Write the seed corpora for the wire fuzz targets (seeds/<target>/*).

Each seed is a small valid or near-valid input laid out from the specs (see
docs/protocol.md). Run from this directory; the output is committed.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def mad_hdr(cls=0x03, method=0x81, attr=0x0031, status=0, tid=0x2a00001007, ver=2):
    return struct.pack(">BBBBHHQHHI", 1, cls, ver, method, status, 0, tid, attr, 0, 0)


def sa_hdr(method=0x81, attr=0x0031, attr_off=22, comp=0x40, rmpp=(0, 0, 0, 0, 0, 0)):
    return mad_hdr(0x03, method, attr) + struct.pack(">BBBBII", *rmpp) + \
        struct.pack(">QHHQ", 0, attr_off, 0, comp)


def sr(name=b"XSIGOXDS", lid=5, guid=0x0002c90300a1b2c3):
    gid = bytes([0xfe, 0x80] + [0] * 6) + guid.to_bytes(8, "big")
    rec = struct.pack(">Q16sHHI16s64s", 0x10000ce100415453, gid, 0xffff, 0,
                      0xffffffff, bytes(16), name.ljust(64, b"\0")[:64])
    rec += bytes(16)
    rec += struct.pack(">8H", lid, *([0] * 7))
    rec += struct.pack(">4I", 0, 0, 0, 0)
    rec += struct.pack(">2Q", guid, 0)
    assert len(rec) == 176
    return rec


def pr():
    rec = struct.pack(">Q16s16sHH", 0x02139701, bytes([0xfe, 0x80] + [0] * 13 + [7]),
                      bytes([0xfe, 0x80] + [0] * 13 + [3]), 7, 3)
    rec += struct.pack(">IBBHHBBBB", 0x8abcde40, 0x12, 0x81, 0xffff, 0xabcd,
                       0x84, 0x83, 0x92, 7) + bytes(6)
    assert len(rec) == 64
    return rec


def xcpm_request(host=b"host-a.example"):
    body = struct.pack(">IQ", 42, 0x0002c903000a0b0c)
    body += host.ljust(65, b"\0")[:65] + b"6.1.0-18-amd64:xg-0.1.0".ljust(32, b"\0")
    body += b"x86_64".ljust(16, b"\0")
    body += struct.pack(">IQIIQQI", 0x01000000, 0x1000020003, 0xa0, 0x10000,
                        0x1111111122222222, 0x3333333344444444, 0x80030000)
    body += b"xg-0.1.0".ljust(16, b"\0")
    assert len(body) == 181
    return body.ljust(200, b"\0")


def xcpm_reply(count=2, version=1):
    body = struct.pack(">IQBBH", 42, 0x0002c903000a0b0c, count, version, 0)
    for i in range(8):
        if i < min(count, 8):
            body += struct.pack(">QH", 0x0013970100000001 + i, 9 + i) + bytes(10)
        else:
            body += bytes(20)
    assert len(body) == 176
    return body.ljust(200, b"\0")


def xsmp_hdr(length=256, type_=1):
    return struct.pack(">BBHIIQIQ", type_, 0, length, 7, 0, 0x0002c903000a0b0c,
                       5, 0x0013970100000001)


def xsmp_session(code=4, reason=17, text=b"host not in any server profile"):
    body = struct.pack(">BBHIIIIQIII", code, 0, 224, 0x01000003, 10, 0x30000, 2,
                       0x2000c07d0, 0xa0, 26418, 2)
    body += b"director-1".ljust(32, b"\0") + b"host-a".ljust(32, b"\0")
    body += struct.pack(">I", reason) + text.ljust(64, b"\0")[:64]
    body = body.ljust(224, b"\0")
    assert len(body) == 224
    return body


SEEDS = {
    "mad_hdr": {
        "getresp": mad_hdr() + bytes(232),
        "xcpm-get": mad_hdr(0x0b, 0x01, 0xb002),
        "bad-version": b"\x02" + mad_hdr()[1:],
        "short": mad_hdr()[:23],
    },
    "sa_hdr": {
        "sr-getresp": sa_hdr() + sr(),
        "pr-gettable-rmpp": sa_hdr(0x92, 0x0035, 8, 0x30, (1, 1, 0x47, 0, 1, 352)),
        "wrong-class": mad_hdr(0x0b) + bytes(32),
    },
    "sr": {
        "xsigoxds": sr(),
        "name-no-nul": sr(name=b"N" * 64),
        "with-mask": sr() + struct.pack("<Q", 0x40 | 1 << 23 | 1 << 35),
        "short": sr()[:100],
    },
    "pr": {
        "path": pr(),
        "reserved-set": pr()[:44] + bytes([0xfa]) + pr()[45:58] + b"\xff" * 6,
    },
    "xcpm_request": {
        "request": xcpm_request(),
        "host-no-nul": xcpm_request(b"h" * 65),
        "exact": xcpm_request()[:181],
    },
    "xcpm_reply": {
        "two": xcpm_reply(),
        "eight": xcpm_reply(8),
        "none": xcpm_reply(0, 0),
        "count-9": xcpm_reply(9),
    },
    "xsmp_hdr": {
        "session-256": xsmp_hdr() + xsmp_session(),
        "hdr-only": xsmp_hdr(32),
        "too-long": xsmp_hdr(2000) + bytes(100),
    },
    "xsmp_session": {
        "reg-reject": xsmp_session(),
        "hello": xsmp_session(1, 0, b""),
        "text-no-nul": xsmp_session(5, 3, b"R" * 64),
        "bad-length": xsmp_session()[:2] + b"\x00\x68" + xsmp_session()[4:],
    },
}

for target, seeds in SEEDS.items():
    d = os.path.join(HERE, "seeds", target)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
