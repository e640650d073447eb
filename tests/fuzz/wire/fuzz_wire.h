/* SPDX-License-Identifier: MIT */
/*
 * fuzz_wire.h - shared by the wire codec fuzz targets: field-by-field
 * equality of decoded structs (padding and bytes after a string's NUL are
 * not part of the value) and the failure path.
 *
 * Each target checks the round-trip property: whatever the decoder accepts,
 * the encoder must write back, and decoding that again must give the same
 * value. Any difference abort()s, which libFuzzer reports as a crash.
 */
#ifndef XS_FUZZ_WIRE_H
#define XS_FUZZ_WIRE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xscore/wire.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                          \
	do {                                                                      \
		if (!(cond)) {                                                    \
			fprintf(stderr, "%s:%d: round-trip property failed: %s\n", \
				__FILE__, __LINE__, #cond);                       \
			abort();                                                  \
		}                                                                 \
	} while (0)

#define EQ(f) (a->f == b->f)
#define EQ_MEM(f) (memcmp(a->f, b->f, sizeof(a->f)) == 0)
#define EQ_STR(f) (strncmp(a->f, b->f, sizeof(a->f)) == 0)

static inline bool mad_hdr_eq(const struct xs_mad_hdr *a, const struct xs_mad_hdr *b)
{
	return EQ(base_version) && EQ(mgmt_class) && EQ(class_version) && EQ(method) &&
	       EQ(status) && EQ(class_specific) && EQ(tid) && EQ(attr_id) && EQ(attr_mod);
}

static inline bool sa_hdr_eq(const struct xs_sa_hdr *a, const struct xs_sa_hdr *b)
{
	return mad_hdr_eq(&a->mad, &b->mad) && EQ(rmpp_version) && EQ(rmpp_type) &&
	       EQ(rmpp_rtime_flags) && EQ(rmpp_status) && EQ(rmpp_data1) && EQ(rmpp_data2) &&
	       EQ(sm_key) && EQ(attr_offset) && EQ(comp_mask);
}

static inline bool sr_eq(const struct xs_service_record *a, const struct xs_service_record *b)
{
	return EQ(id) && EQ_MEM(gid) && EQ(pkey) && EQ(lease) && EQ_MEM(key) && EQ_STR(name) &&
	       EQ_MEM(data8) && EQ_MEM(data16) && EQ_MEM(data32) && EQ_MEM(data64);
}

static inline bool pr_eq(const struct xs_path_record *a, const struct xs_path_record *b)
{
	return EQ(service_id) && EQ_MEM(dgid) && EQ_MEM(sgid) && EQ(dlid) && EQ(slid) &&
	       EQ(raw_traffic) && EQ(flow_label) && EQ(hop_limit) && EQ(tclass) &&
	       EQ(reversible) && EQ(numb_path) && EQ(pkey) && EQ(qos_class) && EQ(sl) &&
	       EQ(mtu_selector) && EQ(mtu) && EQ(rate_selector) && EQ(rate) &&
	       EQ(pkt_life_selector) && EQ(pkt_life) && EQ(preference);
}

static inline bool xcpm_request_eq(const struct xs_xcpm_request *a,
				   const struct xs_xcpm_request *b)
{
	return EQ(server.vm_id) && EQ(server.port_guid) && EQ_STR(hostname) &&
	       EQ_STR(os_version) && EQ_STR(os_arch) && EQ(os_type) && EQ(fw_version) &&
	       EQ(hw_version) && EQ(driver_version) && EQ(system_id_l) && EQ(system_id_h) &&
	       EQ(capabilities) && EQ_STR(build_version);
}

static inline bool xcpm_reply_eq(const struct xs_xcpm_reply *a, const struct xs_xcpm_reply *b)
{
	unsigned int i;

	if (!(EQ(server.vm_id) && EQ(server.port_guid) && EQ(count) && EQ(xcm_version)))
		return false;
	for (i = 0; i < XS_XCPM_MAX_XCMS; i++)
		if (!(EQ(xcms[i].port_guid) && EQ(xcms[i].lid)))
			return false;
	return true;
}

static inline bool xsmp_hdr_eq(const struct xs_xsmp_hdr *a, const struct xs_xsmp_hdr *b)
{
	return EQ(type) && EQ(code) && EQ(length) && EQ(seq) && EQ(src.aux) &&
	       EQ(src.primary) && EQ(dst.aux) && EQ(dst.primary);
}

static inline bool xsmp_session_eq(const struct xs_xsmp_session *a,
				   const struct xs_xsmp_session *b)
{
	return EQ(type) && EQ(code) && EQ(length) && EQ(resource_flags) && EQ(version) &&
	       EQ(chassis_version) && EQ(boot_flags) && EQ(fw_ver) && EQ(hw_ver) &&
	       EQ(vendor_part_id) && EQ(xsmp_version) && EQ_STR(chassis_name) &&
	       EQ_STR(session_name) && EQ(reason) && EQ_STR(reason_text);
}

#undef EQ
#undef EQ_MEM
#undef EQ_STR

/* Every decoded string must be NUL-terminated inside its array. */
#define FUZZ_CHECK_STR(s) FUZZ_CHECK(memchr((s), '\0', sizeof(s)) != NULL)

#endif /* XS_FUZZ_WIRE_H */
