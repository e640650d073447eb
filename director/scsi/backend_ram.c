/* SPDX-License-Identifier: MIT */
/*
 * backend_ram.c - a LUN in anonymous memory, for tests and demos.
 *
 * The data moves at submit time, but completions are still delivered
 * asynchronously (an eventfd and process()), exactly like io_uring's, so
 * tests on RAM exercise the same paths as the file back end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "scsi_int.h"

struct ram_bdev {
	struct xsd_scsi_bdev be;
	uint8_t *mem;
	uint64_t size;
	int evfd;
	struct xsd_scsi_bio *head;
	struct xsd_scsi_bio *tail;
};

static struct ram_bdev *to_ram(struct xsd_scsi_bdev *be)
{
	return xs_container_of(be, struct ram_bdev, be);
}

static bool in_range(const struct ram_bdev *r, uint64_t off, uint64_t len)
{
	return off <= r->size && len <= r->size - off;
}

static int ram_submit(struct xsd_scsi_bdev *be, struct xsd_scsi_bio *bio)
{
	struct ram_bdev *r = to_ram(be);
	uint64_t one = 1, off = bio->off;

	switch (bio->op) {
	case XSD_BIO_READ:
	case XSD_BIO_WRITE:
		if (!in_range(r, bio->off, bio->len) || scsi_iov_len(bio->iov, bio->iovcnt) != bio->len)
			return -EINVAL;
		for (unsigned int i = 0; i < bio->iovcnt; i++) {
			if (bio->op == XSD_BIO_READ)
				memcpy(bio->iov[i].iov_base, r->mem + off, bio->iov[i].iov_len);
			else
				memcpy(r->mem + off, bio->iov[i].iov_base, bio->iov[i].iov_len);
			off += bio->iov[i].iov_len;
		}
		break;
	case XSD_BIO_FLUSH:
		break;
	case XSD_BIO_UNMAP:
		for (unsigned int i = 0; i < bio->nr_ranges; i++)
			if (!in_range(r, bio->ranges[i].off, bio->ranges[i].len))
				return -EINVAL;
		for (unsigned int i = 0; i < bio->nr_ranges; i++)
			memset(r->mem + bio->ranges[i].off, 0, bio->ranges[i].len);
		break;
	default:
		return -EINVAL;
	}
	bio->be_err = 0;
	bio->be_next = NULL;
	if (r->tail)
		r->tail->be_next = bio;
	else
		r->head = bio;
	r->tail = bio;
	if (write(r->evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		XS_ERR(SCSI_LOG, "ram back end eventfd: %s", xs_strerror(-errno));
	return 0;
}

static int ram_capacity(struct xsd_scsi_bdev *be, uint64_t *bytes)
{
	*bytes = to_ram(be)->size;
	return 0;
}

static int ram_event_fd(struct xsd_scsi_bdev *be)
{
	return to_ram(be)->evfd;
}

static int ram_process(struct xsd_scsi_bdev *be)
{
	struct ram_bdev *r = to_ram(be);
	struct xsd_scsi_bio *list = r->head;
	uint64_t v;
	int n = 0;

	if (read(r->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		XS_ERR(SCSI_LOG, "ram back end eventfd: %s", xs_strerror(-errno));
	r->head = r->tail = NULL;
	while (list) {
		struct xsd_scsi_bio *bio = list;

		list = bio->be_next;
		bio->done(bio, bio->be_err);
		n++;
	}
	return n;
}

static void ram_destroy(struct xsd_scsi_bdev *be)
{
	struct ram_bdev *r = to_ram(be);

	munmap(r->mem, r->size);
	close(r->evfd);
	free(r);
}

static const struct xsd_scsi_bdev_ops ram_ops = {
	.name = "ram",
	.submit = ram_submit,
	.capacity = ram_capacity,
	.event_fd = ram_event_fd,
	.process = ram_process,
	.destroy = ram_destroy,
};

struct xsd_scsi_bdev *xsd_scsi_ram_new(uint64_t size)
{
	struct ram_bdev *r;
	char desc[64];
	int err;

	if (size == 0 || size > (UINT64_C(1) << 40)) {
		errno = EINVAL;
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->size = size;
	r->mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		      -1, 0);
	if (r->mem == MAP_FAILED)
		goto err_free;
	r->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (r->evfd < 0)
		goto err_unmap;
	snprintf(desc, sizeof(desc), "ram %llu bytes", (unsigned long long)size);
	xsd_scsi_bdev_init(&r->be, &ram_ops, XSD_BDEV_CAP_UNMAP, desc);
	return &r->be;

err_unmap:
	err = errno;
	munmap(r->mem, size);
	errno = err;
err_free:
	err = errno;
	free(r);
	errno = err;
	return NULL;
}
