/* SPDX-License-Identifier: MIT */
/*
 * target.c - the SCSI target: LUN table, I_T nexuses with their unit
 * attentions, command submission and the completion queue.
 *
 * Completion path: every command ends in scsi_cmd_complete(), which puts it
 * on the target's done list and bumps an eventfd (once until process()
 * reads it, however many complete meanwhile). The target's pollable fd
 * is an epoll set holding that eventfd and every back end's event fd, so
 * one descriptor wakes the caller's event loop for both emulated commands
 * and back end I/O; xsd_scsi_target_process() then reaps the back ends and
 * runs the done callbacks.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "scsi_int.h"

static void lun_destroy(struct xsd_scsi_lun *lu)
{
	if (lu->be_fd >= 0 && lu->t)
		epoll_ctl(lu->t->epfd, EPOLL_CTL_DEL, lu->be_fd, NULL);
	xsd_scsi_bdev_free(lu->be);
	free(lu);
}

void xsd_scsi_lun_free(struct xsd_scsi_lun *lun)
{
	if (!lun)
		return;
	lun->t = NULL;
	lun_destroy(lun);
}

struct xsd_scsi_target *xsd_scsi_target_new(void)
{
	struct xsd_scsi_target *t = calloc(1, sizeof(*t));
	struct epoll_event ev = { .events = EPOLLIN };
	int err;

	if (!t)
		return NULL;
	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (t->epfd < 0)
		goto err_free;
	t->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (t->evfd < 0)
		goto err_close_ep;
	ev.data.ptr = NULL;
	if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->evfd, &ev) < 0)
		goto err_close_ev;
	return t;

err_close_ev:
	err = errno;
	close(t->evfd);
	errno = err;
err_close_ep:
	err = errno;
	close(t->epfd);
	errno = err;
err_free:
	err = errno;
	free(t);
	errno = err;
	return NULL;
}

int xsd_scsi_target_fd(const struct xsd_scsi_target *t)
{
	return t->epfd;
}

unsigned int xsd_scsi_target_inflight(const struct xsd_scsi_target *t)
{
	return t->inflight;
}

void scsi_cmd_complete(struct xsd_scsi_cmd *cmd)
{
	struct xsd_scsi_target *t = cmd->nexus->t;
	uint64_t one = 1;

	cmd->priv.next = NULL;
	if (t->done_tail)
		t->done_tail->priv.next = cmd;
	else
		t->done_head = cmd;
	t->done_tail = cmd;
	/* One write until process() has read it: a batch of completions
	 * costs one system call, not one each. */
	if (t->ev_signaled)
		return;
	if (write(t->evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		XS_ERR(SCSI_LOG, "completion eventfd: %s", xs_strerror(-errno));
	t->ev_signaled = true;
}

static void lun_account(struct xsd_scsi_lun_stats *st, const struct xsd_scsi_cmd *cmd)
{
	uint8_t op = cmd->cdb[0];

	st->commands++;
	if (cmd->status == XSD_SCSI_TASK_SET_FULL) {
		st->busy++;
		return;
	}
	if (cmd->status != XSD_SCSI_GOOD) {
		st->check_conditions++;
		if (cmd->sense_len && (cmd->sense[2] & 0x0f) == XSD_SK_UNIT_ATTENTION)
			st->unit_attentions++;
		return;
	}
	switch (op) {
	case 0x08: /* READ(6) */
	case 0x28:
	case 0x88:
		st->reads++;
		st->read_bytes += cmd->xfer_len;
		break;
	case 0x0a: /* WRITE(6) */
	case 0x2a:
	case 0x8a:
		st->writes++;
		st->write_bytes += cmd->xfer_len;
		break;
	case 0x42:
		st->unmaps++;
		break;
	case 0x35:
	case 0x91:
		st->flushes++;
		break;
	}
}

int xsd_scsi_target_lun_stats(const struct xsd_scsi_target *t, uint16_t id,
			      struct xsd_scsi_lun_stats *st)
{
	const struct xsd_scsi_lun *lu = scsi_target_find((struct xsd_scsi_target *)t, id);

	if (!lu)
		return -ENOENT;
	*st = lu->stats;
	st->inflight = lu->inflight;
	return 0;
}

/* Free removed LUNs whose last command has completed. */
static void reap_removed(struct xsd_scsi_target *t)
{
	struct xsd_scsi_lun **pp = &t->removed;

	while (*pp) {
		struct xsd_scsi_lun *lu = *pp;

		if (lu->inflight) {
			pp = &lu->next_removed;
			continue;
		}
		*pp = lu->next_removed;
		XS_INFO(SCSI_LOG, "LUN %u drained and freed", lu->id);
		lun_destroy(lu);
	}
}

int xsd_scsi_target_process(struct xsd_scsi_target *t)
{
	struct xsd_scsi_cmd *list;
	uint64_t v;
	int n = 0;

	/* Back ends first: their completions land on the done list. */
	for (unsigned int i = 0; i < t->n_luns; i++) {
		if (t->plugged)
			xsd_bdev_kick(t->luns[i].lun->be);
		xsd_bdev_process(t->luns[i].lun->be);
	}
	for (struct xsd_scsi_lun *lu = t->removed; lu; lu = lu->next_removed)
		xsd_bdev_process(lu->be);
	/* Everything queued so far is handled below; only commands completed
	 * by the callbacks (re-submissions) make the fd readable again. */
	if (t->ev_signaled) {
		if (read(t->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			XS_ERR(SCSI_LOG, "completion eventfd: %s", xs_strerror(-errno));
		t->ev_signaled = false;
	}

	/* Take the list as it is: callbacks may submit again. */
	list = t->done_head;
	t->done_head = t->done_tail = NULL;
	while (list) {
		struct xsd_scsi_cmd *cmd = list;

		list = cmd->priv.next;
		cmd->priv.next = NULL;
		t->inflight--;
		cmd->nexus->inflight--;
		if (cmd->priv.lu) {
			cmd->priv.lu->inflight--;
			lun_account(&cmd->priv.lu->stats, cmd);
		}
		free(cmd->priv.iov_heap);
		cmd->priv.iov_heap = NULL;
		cmd->done(cmd);
		n++;
	}
	if (t->removed)
		reap_removed(t);
	return n;
}

void xsd_scsi_target_plug(struct xsd_scsi_target *t)
{
	t->plugged = true;
	for (unsigned int i = 0; i < t->n_luns; i++)
		t->luns[i].lun->be->plugged = true;
}

void xsd_scsi_target_unplug(struct xsd_scsi_target *t)
{
	t->plugged = false;
	for (unsigned int i = 0; i < t->n_luns; i++) {
		t->luns[i].lun->be->plugged = false;
		xsd_bdev_kick(t->luns[i].lun->be);
	}
	for (struct xsd_scsi_lun *lu = t->removed; lu; lu = lu->next_removed) {
		lu->be->plugged = false;
		xsd_bdev_kick(lu->be);
	}
}

int xsd_scsi_target_wait(struct xsd_scsi_target *t, int timeout_ms)
{
	struct pollfd pfd = { .fd = t->epfd, .events = POLLIN };
	int rc;

	do {
		rc = poll(&pfd, 1, timeout_ms);
	} while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return -errno;
	return xsd_scsi_target_process(t);
}

/* ------------------------------------------------------- unit attentions */

static struct ua_entry *ua_find(struct xsd_scsi_nexus *n, uint16_t id)
{
	for (unsigned int i = 0; i < n->n_ua; i++)
		if (n->ua[i].id == id)
			return &n->ua[i];
	return NULL;
}

static void ua_set(struct xsd_scsi_nexus *n, uint16_t id, uint8_t bits)
{
	struct ua_entry *e = ua_find(n, id);

	if (e) {
		e->bits |= bits;
		return;
	}
	if (n->n_ua == n->cap_ua) {
		unsigned int cap = n->cap_ua ? n->cap_ua * 2 : 8;
		struct ua_entry *ua = realloc(n->ua, cap * sizeof(*ua));

		if (!ua) {
			XS_ERR(SCSI_LOG, "nexus %s: no memory for a unit attention on LUN %u",
			       n->initiator, id);
			return;
		}
		n->ua = ua;
		n->cap_ua = cap;
	}
	n->ua[n->n_ua].id = id;
	n->ua[n->n_ua].bits = bits;
	n->n_ua++;
}

static void ua_drop(struct xsd_scsi_nexus *n, uint16_t id)
{
	struct ua_entry *e = ua_find(n, id);

	if (e)
		*e = n->ua[--n->n_ua];
}

uint8_t scsi_ua_pending(struct xsd_scsi_nexus *n, uint16_t id)
{
	struct ua_entry *e = ua_find(n, id);

	return e ? e->bits : 0;
}

void scsi_ua_clear(struct xsd_scsi_nexus *n, uint16_t id, uint8_t bits)
{
	struct ua_entry *e = ua_find(n, id);

	if (e)
		e->bits &= (uint8_t)~bits;
}

void scsi_ua_clear_all(struct xsd_scsi_nexus *n, uint8_t bits)
{
	for (unsigned int i = 0; i < n->n_ua; i++)
		n->ua[i].bits &= (uint8_t)~bits;
}

bool scsi_nexus_sees(const struct xsd_scsi_nexus *n, uint16_t id)
{
	unsigned int lo = 0, hi = n->n_allow;

	if (!n->masked)
		return true;
	while (lo < hi) {
		unsigned int mid = (lo + hi) / 2;

		if (n->allow[mid] == id)
			return true;
		if (n->allow[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* LUNS_CHANGED on every LUN @n sees, except @skip (-1: none). */
static void ua_luns_changed(struct xsd_scsi_nexus *n, int skip)
{
	struct xsd_scsi_target *t = n->t;

	for (unsigned int i = 0; i < t->n_luns; i++)
		if (t->luns[i].id != skip && scsi_nexus_sees(n, t->luns[i].id))
			ua_set(n, t->luns[i].id, UA_LUNS_CHANGED);
}

/* ----------------------------------------------------------------- LUNs */

struct xsd_scsi_lun *scsi_target_find(struct xsd_scsi_target *t, uint16_t id)
{
	unsigned int lo = 0, hi = t->n_luns;

	while (lo < hi) {
		unsigned int mid = (lo + hi) / 2;

		if (t->luns[mid].id == id)
			return t->luns[mid].lun;
		if (t->luns[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int xsd_scsi_target_add_lun(struct xsd_scsi_target *t, uint16_t id, struct xsd_scsi_lun *lun)
{
	struct epoll_event ev = { .events = EPOLLIN };
	unsigned int pos;
	int rc;

	if (!lun) /* so add_lun(t, id, xsd_scsi_lun_new(...)) needs no check */
		return -EINVAL;
	if (id > XSD_SCSI_MAX_LUN_ID) {
		rc = -ERANGE;
		goto err_free_lun;
	}
	if (scsi_target_find(t, id)) {
		rc = -EEXIST;
		goto err_free_lun;
	}
	if (t->n_luns == t->cap_luns) {
		unsigned int cap = t->cap_luns ? t->cap_luns * 2 : 8;
		struct lun_slot *s = realloc(t->luns, cap * sizeof(*s));

		if (!s) {
			rc = -ENOMEM;
			goto err_free_lun;
		}
		t->luns = s;
		t->cap_luns = cap;
	}
	lun->be_fd = xsd_bdev_event_fd(lun->be);
	if (lun->be_fd >= 0) {
		ev.data.ptr = lun;
		if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, lun->be_fd, &ev) < 0) {
			rc = -errno;
			lun->be_fd = -1;
			goto err_free_lun;
		}
	} else {
		lun->be_fd = -1;
	}
	lun->t = t;
	lun->id = id;
	lun->be->plugged = t->plugged;
	for (pos = 0; pos < t->n_luns && t->luns[pos].id < id; pos++)
		;
	memmove(&t->luns[pos + 1], &t->luns[pos], (t->n_luns - pos) * sizeof(t->luns[0]));
	t->luns[pos].id = id;
	t->luns[pos].lun = lun;
	t->n_luns++;
	for (struct xsd_scsi_nexus *n = t->nexuses; n; n = n->next) {
		if (!scsi_nexus_sees(n, id))
			continue;
		ua_luns_changed(n, id);
		ua_drop(n, id);
		ua_set(n, id, UA_POWER_ON);
	}
	XS_INFO(SCSI_LOG, "LUN %u: %s, %llu blocks of %u bytes%s", id, lun->be->desc,
		(unsigned long long)lun->blocks, lun->block_size,
		lun->read_only ? ", read-only" : "");
	return 0;

err_free_lun:
	XS_ERR(SCSI_LOG, "adding LUN %u: %s", id, xs_strerror(rc));
	xsd_scsi_lun_free(lun);
	return rc;
}

int xsd_scsi_target_remove_lun(struct xsd_scsi_target *t, uint16_t id)
{
	struct xsd_scsi_lun *lu = NULL;
	unsigned int pos;

	for (pos = 0; pos < t->n_luns; pos++)
		if (t->luns[pos].id == id) {
			lu = t->luns[pos].lun;
			break;
		}
	if (!lu)
		return -ENOENT;
	memmove(&t->luns[pos], &t->luns[pos + 1], (t->n_luns - pos - 1) * sizeof(t->luns[0]));
	t->n_luns--;
	lu->removed = true;
	for (struct xsd_scsi_nexus *n = t->nexuses; n; n = n->next) {
		ua_drop(n, id);
		if (scsi_nexus_sees(n, id))
			ua_luns_changed(n, -1);
	}
	if (lu->inflight) {
		XS_INFO(SCSI_LOG, "LUN %u removed, %u commands draining", id, lu->inflight);
		lu->next_removed = t->removed;
		t->removed = lu;
	} else {
		XS_INFO(SCSI_LOG, "LUN %u removed", id);
		lun_destroy(lu);
	}
	return 0;
}

int xsd_scsi_target_lun_reset(struct xsd_scsi_target *t, uint16_t id)
{
	if (!scsi_target_find(t, id))
		return -ENOENT;
	for (struct xsd_scsi_nexus *n = t->nexuses; n; n = n->next)
		if (scsi_nexus_sees(n, id))
			ua_set(n, id, UA_LUN_RESET);
	return 0;
}

int xsd_scsi_target_resize_lun(struct xsd_scsi_target *t, uint16_t id)
{
	struct xsd_scsi_lun *lu = scsi_target_find(t, id);
	uint64_t bytes, blocks;
	int rc;

	if (!lu)
		return -ENOENT;
	rc = xsd_bdev_capacity(lu->be, &bytes);
	if (rc < 0)
		return rc;
	blocks = bytes / lu->block_size;
	if (blocks == 0)
		return -EINVAL;
	if (blocks == lu->blocks)
		return 0;
	XS_INFO(SCSI_LOG, "LUN %u: capacity %llu -> %llu blocks", id,
		(unsigned long long)lu->blocks, (unsigned long long)blocks);
	lu->blocks = blocks;
	for (struct xsd_scsi_nexus *n = t->nexuses; n; n = n->next)
		if (scsi_nexus_sees(n, id))
			ua_set(n, id, UA_CAPACITY_CHANGED);
	return 1;
}

unsigned int xsd_scsi_target_luns(const struct xsd_scsi_target *t, uint16_t *ids,
				  unsigned int max)
{
	for (unsigned int i = 0; i < t->n_luns && i < max; i++)
		ids[i] = t->luns[i].id;
	return t->n_luns;
}

static int cmp_u16(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

int xsd_scsi_nexus_set_luns(struct xsd_scsi_nexus *n, const uint16_t *ids, unsigned int count)
{
	struct xsd_scsi_target *t = n->t;
	uint16_t *allow = NULL;
	unsigned int k = 0;
	bool *before;
	bool changed = false;

	if (ids && count) {
		allow = malloc(count * sizeof(*allow));
		if (!allow)
			return -ENOMEM;
		memcpy(allow, ids, count * sizeof(*allow));
		qsort(allow, count, sizeof(*allow), cmp_u16);
		for (unsigned int i = 0; i < count; i++) {
			if (allow[i] > XSD_SCSI_MAX_LUN_ID) {
				free(allow);
				return -ERANGE;
			}
			if (k == 0 || allow[k - 1] != allow[i])
				allow[k++] = allow[i];
		}
	}
	before = calloc(t->n_luns ? t->n_luns : 1, sizeof(*before));
	if (!before) {
		free(allow);
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < t->n_luns; i++)
		before[i] = scsi_nexus_sees(n, t->luns[i].id);
	free(n->allow);
	n->allow = allow;
	n->n_allow = k;
	n->masked = ids != NULL;
	for (unsigned int i = 0; i < t->n_luns; i++) {
		uint16_t id = t->luns[i].id;
		bool now = scsi_nexus_sees(n, id);

		if (now == before[i])
			continue;
		changed = true;
		ua_drop(n, id);
		if (now)
			ua_set(n, id, UA_POWER_ON); /* new to this initiator */
	}
	if (changed)
		for (unsigned int i = 0; i < t->n_luns; i++)
			if (before[i] && scsi_nexus_sees(n, t->luns[i].id))
				ua_set(n, t->luns[i].id, UA_LUNS_CHANGED);
	free(before);
	return 0;
}

/* ------------------------------------------------------------- nexuses */

struct xsd_scsi_nexus *xsd_scsi_nexus_new(struct xsd_scsi_target *t, const char *initiator)
{
	struct xsd_scsi_nexus *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->t = t;
	snprintf(n->initiator, sizeof(n->initiator), "%s", initiator ? initiator : "?");
	for (unsigned int i = 0; i < t->n_luns; i++)
		ua_set(n, t->luns[i].id, UA_POWER_ON);
	n->next = t->nexuses;
	t->nexuses = n;
	return n;
}

int xsd_scsi_nexus_free(struct xsd_scsi_nexus *n)
{
	struct xsd_scsi_nexus **pp;

	if (!n)
		return 0;
	if (n->inflight)
		return -EBUSY;
	for (pp = &n->t->nexuses; *pp; pp = &(*pp)->next)
		if (*pp == n) {
			*pp = n->next;
			break;
		}
	free(n->allow);
	free(n->ua);
	free(n);
	return 0;
}

void xsd_scsi_target_free(struct xsd_scsi_target *t)
{
	if (!t)
		return;
	while (t->inflight)
		if (xsd_scsi_target_wait(t, -1) < 0)
			break;
	while (t->n_luns)
		lun_destroy(t->luns[--t->n_luns].lun);
	while (t->removed) {
		struct xsd_scsi_lun *lu = t->removed;

		t->removed = lu->next_removed;
		lun_destroy(lu);
	}
	while (t->nexuses) {
		struct xsd_scsi_nexus *n = t->nexuses;

		t->nexuses = n->next;
		free(n->allow);
		free(n->ua);
		free(n);
	}
	free(t->luns);
	close(t->evfd);
	close(t->epfd);
	free(t);
}

/* ------------------------------------------------------------ commands */

int xsd_scsi_submit(struct xsd_scsi_target *t, struct xsd_scsi_cmd *cmd)
{
	struct xsd_scsi_lun *lu;
	uint16_t id;

	if (!t || !cmd || !cmd->nexus || cmd->nexus->t != t || !cmd->done)
		return -EINVAL;
	if (cmd->cdb_len < 6 || cmd->cdb_len > XSD_SCSI_CDB_MAX)
		return -EINVAL;
	if (cmd->dir != XSD_SCSI_DIR_NONE && cmd->iovcnt && !cmd->iov)
		return -EINVAL;
	cmd->status = XSD_SCSI_GOOD;
	cmd->sense_len = 0;
	memset(cmd->sense, 0, sizeof(cmd->sense));
	cmd->xfer_len = 0;
	cmd->residual = 0;
	cmd->overflow = false;
	memset(&cmd->priv, 0, sizeof(cmd->priv));
	t->inflight++;
	cmd->nexus->inflight++;
	if (xsd_scsi_lun_from_wire(cmd->lun, &id) < 0 || !scsi_nexus_sees(cmd->nexus, id) ||
	    !(lu = scsi_target_find(t, id))) {
		scsi_emulate_no_lun(t, cmd);
		return 0;
	}
	cmd->priv.lu = lu;
	lu->inflight++;
	scsi_emulate(t, cmd, lu, id);
	return 0;
}

void xsd_scsi_passthrough_done(struct xsd_scsi_cmd *cmd, uint8_t status, const uint8_t *sense,
			       uint8_t sense_len, uint32_t xfer_len)
{
	cmd->status = status;
	cmd->sense_len = XS_MIN(sense_len, (uint8_t)XSD_SCSI_SENSE_LEN);
	if (sense && cmd->sense_len)
		memcpy(cmd->sense, sense, cmd->sense_len);
	cmd->xfer_len = xfer_len;
	scsi_cmd_complete(cmd);
}
