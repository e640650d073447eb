/* SPDX-License-Identifier: MIT */
/*
 * backend.c - the generic half of the back end API: initialisation and the
 * calls the LUN layer makes, with one -EOPNOTSUPP answer for every
 * operation a back end leaves NULL.
 */
#include <stdio.h>

#include "scsi_int.h"

void xsd_scsi_bdev_init(struct xsd_scsi_bdev *be, const struct xsd_scsi_bdev_ops *ops,
			uint32_t caps, const char *desc)
{
	be->ops = ops;
	be->caps = caps;
	be->align = 1;
	be->plugged = false;
	snprintf(be->desc, sizeof(be->desc), "%s", desc ? desc : ops->name);
}

int xsd_bdev_submit(struct xsd_scsi_bdev *be, struct xsd_scsi_bio *bio)
{
	return be->ops->submit ? be->ops->submit(be, bio) : -EOPNOTSUPP;
}

int xsd_bdev_capacity(struct xsd_scsi_bdev *be, uint64_t *bytes)
{
	return be->ops->capacity ? be->ops->capacity(be, bytes) : -EOPNOTSUPP;
}

int xsd_bdev_event_fd(struct xsd_scsi_bdev *be)
{
	return be->ops->event_fd ? be->ops->event_fd(be) : -EOPNOTSUPP;
}

int xsd_bdev_process(struct xsd_scsi_bdev *be)
{
	return be->ops->process ? be->ops->process(be) : -EOPNOTSUPP;
}

int xsd_bdev_execute(struct xsd_scsi_bdev *be, struct xsd_scsi_cmd *cmd)
{
	return be->ops->execute ? be->ops->execute(be, cmd) : -EOPNOTSUPP;
}

int xsd_bdev_kick(struct xsd_scsi_bdev *be)
{
	return be->ops->kick ? be->ops->kick(be) : -EOPNOTSUPP;
}

void xsd_scsi_bdev_free(struct xsd_scsi_bdev *be)
{
	if (be && be->ops->destroy)
		be->ops->destroy(be);
}
