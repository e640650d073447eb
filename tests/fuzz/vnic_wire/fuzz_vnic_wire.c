/* SPDX-License-Identifier: MIT */
/*
 * fuzz_vnic_wire.c - one libFuzzer entry point per vNIC decoder, chosen at
 * build time (FUZZ_VNIC_<CODEC>). Each run checks more than "no crash":
 * whatever decodes must encode again to bytes that decode to the same value,
 * and every rejection must be counted.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_net.h>

#include <xscore/vnic_wire.h>

#define CHECK(c)                  \
	do {                      \
		if (!(c))         \
			abort();  \
	} while (0)

static void check_counted(enum xs_vnic_codec codec, uint64_t before, int rc)
{
	uint64_t after = xs_vnic_wire_rejects(codec);

	CHECK(rc >= 0 ? after == before : after == before + 1);
	CHECK(rc >= 0 || rc == -EMSGSIZE || rc == -EBADMSG);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
#if defined(FUZZ_VNIC_CM_PRIV)
	uint64_t before = xs_vnic_wire_rejects(XS_VNIC_WIRE_CM_PRIV);
	struct xs_vnic_cm_priv p, p2;
	uint8_t out[XS_VNIC_CM_PRIV_LEN];
	int rc = xs_vnic_cm_priv_decode(data, size, &p);

	check_counted(XS_VNIC_WIRE_CM_PRIV, before, rc);
	if (rc == 0) {
		CHECK(xs_vnic_cm_priv_encode(&p, out, sizeof(out)) == XS_VNIC_CM_PRIV_LEN);
		CHECK(memcmp(out, data, XS_VNIC_CM_PRIV_LEN) == 0);
		CHECK(xs_vnic_cm_priv_decode(out, sizeof(out), &p2) == 0);
		CHECK(memcmp(&p, &p2, sizeof(p)) == 0);
	}
#elif defined(FUZZ_VNIC_CTRL)
	static struct xs_vnic_ctrl m, m2;
	static uint8_t out[XS_VNIC_CTRL_MAX_LEN];
	uint64_t before = xs_vnic_wire_rejects(XS_VNIC_WIRE_CTRL);
	int rc = xs_vnic_ctrl_decode(data, size, &m), rc2;

	check_counted(XS_VNIC_WIRE_CTRL, before, rc);
	if (rc >= 0) {
		CHECK(rc >= XS_VNIC_CTRL_HDR_LEN && (size_t)rc <= size);
		rc2 = xs_vnic_ctrl_encode(&m, out, sizeof(out));
		CHECK(rc2 == rc);
		CHECK(xs_vnic_ctrl_decode(out, (size_t)rc2, &m2) == rc);
		CHECK(m2.type == m.type && m2.length == m.length);
		CHECK(memcmp(&m2.u, &m.u, sizeof(m.u)) == 0);
		/* payload bytes are reproduced exactly */
		CHECK(memcmp(out + XS_VNIC_CTRL_HDR_LEN, data + XS_VNIC_CTRL_HDR_LEN,
			     (size_t)rc - XS_VNIC_CTRL_HDR_LEN) == 0);
	}
#elif defined(FUZZ_VNIC_TSO)
	uint64_t before = xs_vnic_wire_rejects(XS_VNIC_WIRE_TSO);
	struct xs_vnic_tso t, t2;
	struct virtio_net_hdr vh;
	uint8_t out[XS_VNIC_TSO_VLAN_LEN];
	int rc = xs_vnic_tso_decode(data, size, &t);

	check_counted(XS_VNIC_WIRE_TSO, before, rc);
	if (rc >= 0) {
		CHECK(rc == 4 || rc == 8);
		CHECK(xs_vnic_tso_encode(&t, out, sizeof(out)) == rc);
		CHECK(memcmp(out, data, (size_t)rc) == 0);
		CHECK(size - (size_t)rc >= 14);
		CHECK(!t.gso || t.hdr_len < size - (size_t)rc);
		/* prefix -> vnet header -> prefix gives the same prefix */
		if (xs_vnic_tso_to_vnet(&t, data + rc, size - (size_t)rc, &vh) == 0) {
			CHECK(xs_vnic_vnet_to_tso(&vh, data + rc, size - (size_t)rc, &t2) == 0);
			CHECK(t2.gso == t.gso && t2.csum == t.csum);
			CHECK(!t.gso || (t2.mss == t.mss && t2.hdr_len == t.hdr_len));
		}
	}
#elif defined(FUZZ_VNIC_CSUM)
	uint64_t before = xs_vnic_wire_rejects(XS_VNIC_WIRE_CSUM);
	struct xs_vnic_csum c;
	uint8_t out[XS_VNIC_CSUM_LEN];
	int rc = xs_vnic_csum_decode(data, size, &c);

	check_counted(XS_VNIC_WIRE_CSUM, before, rc);
	if (rc >= 0) {
		CHECK((size_t)rc == size - XS_VNIC_CSUM_LEN);
		CHECK(xs_vnic_csum_encode(&c, out, sizeof(out)) == XS_VNIC_CSUM_LEN);
		CHECK(memcmp(out, data + rc, XS_VNIC_CSUM_LEN) == 0);
	}
#elif defined(FUZZ_VNIC_BATCH)
	/* Walk the container; rebuild it from the frames handed out and check
	 * the rebuilt message walks to the same frames. */
	static uint8_t rebuilt[65536 + 4096];
	uint64_t before = xs_vnic_wire_rejects(XS_VNIC_WIRE_BATCH);
	struct xs_vnic_batch_builder b;
	struct xs_vnic_batch_iter it, it2;
	const uint8_t *f, *f2;
	size_t fl, fl2, total = 0;
	int rc, len;

	if (size > sizeof(rebuilt))
		return 0;
	xs_vnic_batch_iter_init(&it, data, size);
	xs_vnic_batch_builder_init(&b, rebuilt, sizeof(rebuilt));
	while ((rc = xs_vnic_batch_next(&it, &f, &fl)) == 1) {
		CHECK(fl >= 1 && fl <= XS_VNIC_BATCH_MAX_FRAME);
		CHECK(f >= data && f + fl <= data + size);
		total += fl;
		CHECK(xs_vnic_batch_add(&b, f, fl) == 0);
	}
	check_counted(XS_VNIC_WIRE_BATCH, before, rc);
	CHECK(xs_vnic_batch_next(&it, &f, &fl) == rc);
	if (rc == 0) {
		CHECK(total <= size);
		len = xs_vnic_batch_finish(&b);
		CHECK(len > 0 && (size_t)len <= size);
		xs_vnic_batch_iter_init(&it, data, size);
		xs_vnic_batch_iter_init(&it2, rebuilt, (size_t)len);
		while (xs_vnic_batch_next(&it, &f, &fl) == 1) {
			CHECK(xs_vnic_batch_next(&it2, &f2, &fl2) == 1);
			CHECK(fl == fl2 && memcmp(f, f2, fl) == 0);
		}
		CHECK(xs_vnic_batch_next(&it2, &f2, &fl2) == 0);
	}
#else
#error "define one FUZZ_VNIC_<CODEC>"
#endif
	return 0;
}
