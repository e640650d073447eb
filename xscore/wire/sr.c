/* SPDX-License-Identifier: MIT */
/*
 * sr.c - SA ServiceRecord (IBA 15.2.5.14), 176 bytes:
 *
 *   0 ServiceID (64)        8 ServiceGID (16 bytes)   24 ServiceP_Key (16)
 *  26 reserved (16)        28 ServiceLease (32)       32 ServiceKey (16 bytes)
 *  48 ServiceName (64 bytes, NUL-padded, not necessarily NUL-terminated)
 * 112 ServiceData8[16]    128 ServiceData16[8]       144 ServiceData32[4]
 * 160 ServiceData64[2]
 */
#include "wire_int.h"

#define SR_OFF_ID 0
#define SR_OFF_GID 8
#define SR_OFF_PKEY 24
#define SR_OFF_LEASE 28
#define SR_OFF_KEY 32
#define SR_OFF_NAME 48
#define SR_OFF_DATA8 112
#define SR_OFF_DATA16 128
#define SR_OFF_DATA32 144
#define SR_OFF_DATA64 160

int xs_sr_decode(const uint8_t *buf, size_t len, struct xs_service_record *sr)
{
	unsigned int i;
	int rc;

	rc = xs_wire_need(XS_WIRE_SERVICE_RECORD, len, XS_SR_LEN);
	if (rc)
		return rc;
	sr->id = xs_get64(buf + SR_OFF_ID);
	memcpy(sr->gid, buf + SR_OFF_GID, sizeof(sr->gid));
	sr->pkey = xs_get16(buf + SR_OFF_PKEY);
	sr->lease = xs_get32(buf + SR_OFF_LEASE);
	memcpy(sr->key, buf + SR_OFF_KEY, sizeof(sr->key));
	xs_wire_get_str(sr->name, buf + SR_OFF_NAME, XS_SR_NAME_LEN);
	memcpy(sr->data8, buf + SR_OFF_DATA8, sizeof(sr->data8));
	for (i = 0; i < XS_ARRAY_SIZE(sr->data16); i++)
		sr->data16[i] = xs_get16(buf + SR_OFF_DATA16 + 2 * i);
	for (i = 0; i < XS_ARRAY_SIZE(sr->data32); i++)
		sr->data32[i] = xs_get32(buf + SR_OFF_DATA32 + 4 * i);
	for (i = 0; i < XS_ARRAY_SIZE(sr->data64); i++)
		sr->data64[i] = xs_get64(buf + SR_OFF_DATA64 + 8 * i);
	return 0;
}

int xs_sr_encode(const struct xs_service_record *sr, uint8_t *buf, size_t cap)
{
	unsigned int i;
	int rc;

	rc = xs_wire_cap("service_record", cap, XS_SR_LEN);
	if (rc)
		return rc;
	rc = xs_wire_str_fits("service_record", "name", sr->name, sizeof(sr->name),
			      XS_SR_NAME_LEN);
	if (rc)
		return rc;
	xs_put64(buf + SR_OFF_ID, sr->id);
	memcpy(buf + SR_OFF_GID, sr->gid, sizeof(sr->gid));
	xs_put16(buf + SR_OFF_PKEY, sr->pkey);
	xs_put16(buf + SR_OFF_PKEY + 2, 0);
	xs_put32(buf + SR_OFF_LEASE, sr->lease);
	memcpy(buf + SR_OFF_KEY, sr->key, sizeof(sr->key));
	xs_wire_put_str(buf + SR_OFF_NAME, sr->name, sizeof(sr->name), XS_SR_NAME_LEN);
	memcpy(buf + SR_OFF_DATA8, sr->data8, sizeof(sr->data8));
	for (i = 0; i < XS_ARRAY_SIZE(sr->data16); i++)
		xs_put16(buf + SR_OFF_DATA16 + 2 * i, sr->data16[i]);
	for (i = 0; i < XS_ARRAY_SIZE(sr->data32); i++)
		xs_put32(buf + SR_OFF_DATA32 + 4 * i, sr->data32[i]);
	for (i = 0; i < XS_ARRAY_SIZE(sr->data64); i++)
		xs_put64(buf + SR_OFF_DATA64 + 8 * i, sr->data64[i]);
	return XS_SR_LEN;
}

bool xs_sr_match(const struct xs_service_record *rec, const struct xs_service_record *query,
		 uint64_t comp_mask)
{
	unsigned int i;

	if ((comp_mask & XS_SR_COMP_ID) && rec->id != query->id)
		return false;
	if ((comp_mask & XS_SR_COMP_GID) && memcmp(rec->gid, query->gid, sizeof(rec->gid)))
		return false;
	if ((comp_mask & XS_SR_COMP_PKEY) && rec->pkey != query->pkey)
		return false;
	if ((comp_mask & XS_SR_COMP_LEASE) && rec->lease != query->lease)
		return false;
	if ((comp_mask & XS_SR_COMP_KEY) && memcmp(rec->key, query->key, sizeof(rec->key)))
		return false;
	/*
	 * The whole 64-byte field takes part, as on the wire: "XSIGOXDS" does
	 * not match "XSIGOXDS2" nor "XSIGO". strncmp stops at the first NUL,
	 * which is where the zero padding of the wire field starts.
	 */
	if ((comp_mask & XS_SR_COMP_NAME) &&
	    strncmp(rec->name, query->name, XS_SR_NAME_LEN) != 0)
		return false;
	for (i = 0; i < XS_ARRAY_SIZE(rec->data8); i++)
		if ((comp_mask & XS_SR_COMP_DATA8(i)) && rec->data8[i] != query->data8[i])
			return false;
	for (i = 0; i < XS_ARRAY_SIZE(rec->data16); i++)
		if ((comp_mask & XS_SR_COMP_DATA16(i)) && rec->data16[i] != query->data16[i])
			return false;
	for (i = 0; i < XS_ARRAY_SIZE(rec->data32); i++)
		if ((comp_mask & XS_SR_COMP_DATA32(i)) && rec->data32[i] != query->data32[i])
			return false;
	for (i = 0; i < XS_ARRAY_SIZE(rec->data64); i++)
		if ((comp_mask & XS_SR_COMP_DATA64(i)) && rec->data64[i] != query->data64[i])
			return false;
	return true;
}
