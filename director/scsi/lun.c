/* SPDX-License-Identifier: MIT */
/*
 * lun.c - LUN objects: options, capacity, identifiers.
 *
 * The NAA designator is type 6 (IEEE Registered Extended): NAA nibble 6,
 * the IEEE company id 00-13-97, 36 bits of vendor specific identifier and
 * a 64-bit extension, both derived from the serial number with FNV-1a so
 * a LUN keeps its identity across director restarts as long as its serial
 * does (the store keeps serials).
 */
#include <stdlib.h>
#include <string.h>

#include "scsi_int.h"

#define XSIGO_OUI UINT64_C(0x001397)

static uint64_t fnv1a(const char *s, uint64_t h)
{
	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

/* Copy a printable ASCII string of at most @max chars; -EINVAL otherwise. */
static int copy_ascii(char *dst, const char *src, const char *dflt, size_t max)
{
	size_t n;

	if (!src)
		src = dflt;
	n = strlen(src);
	if (n == 0 || n > max)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (src[i] < 0x20 || src[i] > 0x7e)
			return -EINVAL;
	memcpy(dst, src, n + 1);
	return 0;
}

struct xsd_scsi_lun *xsd_scsi_lun_new(struct xsd_scsi_bdev *be,
				      const struct xsd_scsi_lun_opts *opts)
{
	struct xsd_scsi_lun *lu;
	uint64_t bytes, hi, lo;
	uint32_t bs;
	int rc;

	if (!be) {
		errno = EINVAL;
		return NULL;
	}
	rc = -EINVAL;
	if (!opts || opts->size != sizeof(*opts))
		goto err_free_be;
	bs = opts->block_size ? opts->block_size : 512;
	if (bs != 512 && bs != 1024 && bs != 2048 && bs != 4096)
		goto err_free_be;
	rc = -ENOMEM;
	lu = calloc(1, sizeof(*lu));
	if (!lu)
		goto err_free_be;
	rc = -EINVAL;
	if (copy_ascii(lu->vendor, opts->vendor, "XSIGO", 8) ||
	    copy_ascii(lu->product, opts->product, "VIRTUAL-DISK", 16) ||
	    copy_ascii(lu->revision, opts->revision, "0001", 4) ||
	    copy_ascii(lu->serial, opts->serial, "", 32))
		goto err_free_lu;
	rc = xsd_bdev_capacity(be, &bytes);
	if (rc < 0)
		goto err_free_lu;
	rc = -EINVAL;
	if (bytes / bs == 0)
		goto err_free_lu;
	lu->be = be;
	lu->be_fd = -1;
	lu->block_size = bs;
	lu->blocks = bytes / bs;
	lu->read_only = opts->read_only || (be->caps & XSD_BDEV_CAP_READ_ONLY);
	lu->write_through = opts->write_through;
	lu->max_xfer_blocks = opts->max_xfer_blocks ? opts->max_xfer_blocks : (1u << 20) / bs;
	lu->max_unmap_blocks = opts->max_unmap_blocks ? opts->max_unmap_blocks : (1u << 30) / bs;
	lu->max_unmap_descs = opts->max_unmap_descs ? opts->max_unmap_descs : 64;
	lu->unmap_granularity = opts->unmap_granularity ? opts->unmap_granularity
							 : XS_MAX(4096u / bs, 1u);
	lu->rotation_rate = opts->rotation_rate ? opts->rotation_rate : 1;
	/* one command's data must stay countable in 32 bits (SRP residuals) */
	if ((uint64_t)lu->max_xfer_blocks * bs > XSD_SCSI_MAX_XFER_BYTES)
		goto err_free_lu;
	hi = UINT64_C(6) << 60 | XSIGO_OUI << 36 |
	     (fnv1a(lu->serial, UINT64_C(0xcbf29ce484222325)) & UINT64_C(0xfffffffff));
	lo = fnv1a(lu->serial, fnv1a("xsigo-lun", UINT64_C(0xcbf29ce484222325)));
	xs_put64(lu->naa, hi);
	xs_put64(lu->naa + 8, lo);
	return lu;

err_free_lu:
	free(lu);
err_free_be:
	xsd_scsi_bdev_free(be);
	errno = -rc;
	return NULL;
}

uint64_t xsd_scsi_lun_blocks(const struct xsd_scsi_lun *lun)
{
	return lun->blocks;
}

uint32_t xsd_scsi_lun_block_size(const struct xsd_scsi_lun *lun)
{
	return lun->block_size;
}

void xsd_scsi_lun_naa(const struct xsd_scsi_lun *lun, uint8_t naa[16])
{
	memcpy(naa, lun->naa, 16);
}
