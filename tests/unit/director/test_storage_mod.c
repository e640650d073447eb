/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the director's storage module (director/storage/storage.c,
 * included), with the SRP target and the SCSI layer faked: every call the
 * module makes to them is recorded as a line, so the tests assert exactly
 * what reaches the SRP target on each configuration change (masks only
 * when they differ, LUN changes announced once, targets logged out when
 * deleted). The store is the real one, in memory.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "storage/storage.c"

/* ------------------------------------------------------------- fakes */

static char calls[4096];

static void rec(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void rec(const char *fmt, ...)
{
	size_t n = strlen(calls);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(calls + n, sizeof(calls) - n, fmt, ap);
	va_end(ap);
	n = strlen(calls);
	snprintf(calls + n, sizeof(calls) - n, "\n");
}

struct xsd_srpt {
	uint64_t sid;
};
struct xsd_scsi_target {
	int n;
};
struct xsd_scsi_bdev {
	uint64_t size;
};
struct xsd_scsi_lun {
	struct xsd_scsi_bdev *be;
};

static uint64_t busy_sid; /* a service ID "taken by another service" */

struct xsd_srpt *xsd_srpt_new(struct xs_fabric *f, struct xs_loop *loop,
			      struct xsd_scsi_target *t, const struct xsd_srpt_opts *o)
{
	struct xsd_srpt *s;

	if (o->service_id == busy_sid || o->default_visible) {
		errno = EADDRINUSE;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	s->sid = o->service_id;
	rec("listen %016" PRIx64, o->service_id);
	return s;
}

void xsd_srpt_free(struct xsd_srpt *s)
{
	rec("logout %016" PRIx64, s->sid);
	free(s);
}

int xsd_srpt_handle_event(struct xsd_srpt *s, const struct xs_event *ev) { return 0; }

int xsd_srpt_set_mask(struct xsd_srpt *s, uint64_t wwpn, const uint16_t *ids, unsigned int count)
{
	char l[256] = "";
	size_t off = 0;

	for (unsigned int i = 0; i < count && off < sizeof(l); i++)
		off += (size_t)snprintf(l + off, sizeof(l) - off, "%s%u", i ? "," : "", ids[i]);
	rec("mask %016" PRIx64 " %s", wwpn, ids ? (count ? l : "nothing") : "removed");
	return 0;
}

int xsd_srpt_luns_changed(struct xsd_srpt *s)
{
	rec("aer");
	return 1;
}

void xsd_srpt_get_stats(const struct xsd_srpt *s, struct xsd_srpt_stats *st)
{
	memset(st, 0, sizeof(*st));
}

/* No initiator ever logs in to the fake target. */
int xsd_srpt_list_channels(const struct xsd_srpt *s, struct xsd_srpt_channel *out,
			   unsigned int max)
{
	return 0;
}

struct xsd_scsi_target *xsd_scsi_target_new(void) { return calloc(1, sizeof(struct xsd_scsi_target)); }
void xsd_scsi_target_free(struct xsd_scsi_target *t) { free(t); }

int xsd_scsi_target_add_lun(struct xsd_scsi_target *t, uint16_t id, struct xsd_scsi_lun *lun)
{
	rec("add lun %u", id);
	free(lun->be);
	free(lun);
	return 0;
}

int xsd_scsi_target_remove_lun(struct xsd_scsi_target *t, uint16_t id)
{
	rec("remove lun %u", id);
	return 0;
}

struct xsd_scsi_lun *xsd_scsi_lun_new(struct xsd_scsi_bdev *be,
				      const struct xsd_scsi_lun_opts *o)
{
	struct xsd_scsi_lun *l = calloc(1, sizeof(*l));

	l->be = be;
	return l;
}

void xsd_scsi_lun_free(struct xsd_scsi_lun *lun)
{
	free(lun->be);
	free(lun);
}

uint64_t xsd_scsi_lun_blocks(const struct xsd_scsi_lun *lun) { return lun->be->size / 512; }
uint32_t xsd_scsi_lun_block_size(const struct xsd_scsi_lun *lun) { return 512; }

struct xsd_scsi_bdev *xsd_scsi_ram_new(uint64_t size)
{
	struct xsd_scsi_bdev *b = calloc(1, sizeof(*b));

	b->size = size;
	return b;
}

struct xsd_scsi_bdev *xsd_scsi_file_open(const char *path, const struct xsd_scsi_file_opts *o)
{
	errno = ENOENT;
	return NULL;
}

struct xsd_scsi_bdev *xsd_scsi_sg_open(const char *path, const struct xsd_scsi_sg_opts *o)
{
	errno = ENOTTY;
	return NULL;
}

struct xsd_scsi_bdev *xsd_scsi_iscsi_open(const char *url, const struct xsd_scsi_iscsi_opts *o)
{
	errno = ECONNREFUSED;
	return NULL;
}

/* ----------------------------------------------------------- helpers */

static const struct xsd_actor op = { .uid = 0, .user = "test" };

struct t {
	struct xs_loop *loop;
	struct xsd_store *st;
	struct xsd_stor *m;
};

static bool any_opening(struct xsd_stor *m)
{
	for (struct stgt *g = m->targets; g; g = g->next)
		for (unsigned int i = 0; i < g->n_luns; i++)
			if (g->luns[i].job)
				return true;
	return false;
}

/* Sync, then let every open thread finish and the loop side take it. */
static const char *sync_all(struct t *t)
{
	calls[0] = 0;
	xsd_stor_sync(t->m);
	while (any_opening(t->m)) {
		struct pollfd p = { .fd = t->m->op->efd, .events = POLLIN };

		assert_true(poll(&p, 1, 5000) == 1);
		on_open_done(t->loop, p.fd, POLLIN, t->m);
	}
	return calls;
}

static void ram(struct t *t, const char *name)
{
	struct xsd_storage s = { .type = XSD_STORAGE_RAM, .size = 1 << 20 };
	struct xsd_err err;

	snprintf(s.name, sizeof(s.name), "%s", name);
	assert_int_equal(xsd_store_storage_add(t->st, &op, &s, &err), 0);
}

static void lun(struct t *t, const char *target, unsigned int id, const char *storage)
{
	struct xsd_lun l = { .lun = (uint16_t)id };
	struct xsd_err err;

	snprintf(l.target, sizeof(l.target), "%s", target);
	snprintf(l.storage, sizeof(l.storage), "%s", storage);
	assert_int_equal(xsd_store_lun_add(t->st, &op, &l, &err), 0);
}

static void vhba(struct t *t, const char *name, uint64_t wwpn, const char *mask)
{
	struct xsd_vhba v = { .wwnn = wwpn - 1, .wwpn = wwpn, .targets = "t1" };
	struct xsd_err err;

	snprintf(v.name, sizeof(v.name), "%s", name);
	snprintf(v.profile, sizeof(v.profile), "p1");
	snprintf(v.lun_mask, sizeof(v.lun_mask), "%s", mask);
	assert_int_equal(xsd_store_vhba_add(t->st, &op, &v,
					    XSD_VHBA_WWNN | XSD_VHBA_WWPN | XSD_VHBA_TARGETS |
						    (mask[0] ? XSD_VHBA_LUNS : 0),
					    &err), 0);
}

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	struct xsd_profile p = { .name = "p1" };
	struct xsd_target tg = { .name = "t1", .wwpn = UINT64_C(0x5001397000000010) };
	struct xsd_err err;

	xs_log_set_level(XS_LOG_ERR);
	t->loop = xs_loop_new();
	t->st = xsd_store_open(":memory:", &err);
	assert_non_null(t->loop);
	assert_non_null(t->st);
	assert_int_equal(xsd_store_profile_add(t->st, &op, &p, &err), 0);
	assert_int_equal(xsd_store_target_add(t->st, &op, &tg, true, &err), 0);
	calls[0] = 0;
	t->m = xsd_stor_new(t->loop, NULL, t->st);
	assert_non_null(t->m);
	assert_string_equal(calls, "listen 5001397000000010\n");
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;

	xsd_stor_free(t->m);
	xsd_store_close(t->st);
	xs_loop_free(t->loop);
	free(t);
	return 0;
}

/* ------------------------------------------------------------- tests */

/* LUNs and masks: a vHBA without a mask gets every LUN id, one with a
 * mask its list; a sync that finds nothing new sends nothing. */
static void test_masks_follow_luns(void **state)
{
	struct t *t = *state;
	struct xsd_vhba v;
	struct xsd_err err;

	ram(t, "m0");
	ram(t, "m1");
	ram(t, "m2");
	lun(t, "t1", 0, "m0");
	vhba(t, "h1", UINT64_C(0x5001397000000021), "");
	vhba(t, "h2", UINT64_C(0x5001397000000031), "0");
	/* masks at once, the LUN when its back end is open (then announced) */
	assert_string_equal(sync_all(t),
			    "mask 5001397000000021 0\n"
			    "mask 5001397000000031 0\n"
			    "add lun 0\naer\n");
	lun(t, "t1", 1, "m1");
	assert_string_equal(sync_all(t), "mask 5001397000000021 0,1\nadd lun 1\naer\n");
	assert_string_equal(sync_all(t), ""); /* nothing changed, nothing sent */
	/* a LUN added: h1 (no mask) gets the new id, h2 (mask 0) nothing */
	lun(t, "t1", 2, "m2");
	assert_string_equal(sync_all(t), "mask 5001397000000021 0,1,2\nadd lun 2\naer\n");
	/* a mask changed: only that vHBA's */
	memset(&v, 0, sizeof(v));
	snprintf(v.name, sizeof(v.name), "h2");
	snprintf(v.lun_mask, sizeof(v.lun_mask), "0,2-3");
	assert_int_equal(xsd_store_vhba_set(t->st, &op, &v, XSD_VHBA_LUNS, &err), 0);
	assert_string_equal(sync_all(t), "mask 5001397000000031 0,2,3\n");
	/* a LUN deleted: removed from the SCSI target, announced, h1's list */
	assert_int_equal(xsd_store_lun_delete(t->st, &op, "t1", 1, NULL, &err), 0);
	assert_string_equal(sync_all(t), "remove lun 1\nmask 5001397000000021 0,2\naer\n");
	/* a vHBA deleted: its WWPN loses its mask (sees nothing) */
	assert_int_equal(xsd_store_vhba_delete(t->st, &op, "h2", NULL, &err), 0);
	assert_string_equal(sync_all(t), "mask 5001397000000031 removed\n");
}

/* Back ends that fail: the reason is kept and shown, the LUN stays out,
 * and the retry tries again (logging only a new reason). */
static void test_open_failure(void **state)
{
	struct t *t = *state;
	struct xsd_storage s = { .name = "f0", .type = XSD_STORAGE_ISCSI,
				 .location = "iscsi://127.0.0.1/iqn.x:y/0" };
	struct xsd_err err;
	json_t *j;

	assert_int_equal(xsd_store_storage_add(t->st, &op, &s, &err), 0);
	lun(t, "t1", 4, "f0");
	assert_string_equal(sync_all(t), "");
	j = xsd_stor_status_json(t->m, XSD_OBJ_STORAGE, "f0");
	assert_string_equal(json_string_value(json_object_get(j, "state")), "error");
	assert_string_equal(json_string_value(json_object_get(j, "reason")),
			    "cannot open iscsi iscsi://127.0.0.1/iqn.x:y/0: Connection refused");
	json_decref(j);
	assert_int_equal(t->m->open_failures, 1);
	on_retry(t->loop, NULL, t->m);
	assert_true(any_opening(t->m));
	j = xsd_stor_status_json(t->m, XSD_OBJ_STORAGE, "f0");
	assert_string_equal(json_string_value(json_object_get(j, "state")), "opening");
	json_decref(j);
	assert_string_equal(sync_all(t), "");
	assert_int_equal(t->m->open_failures, 2);
	j = xsd_stor_status_json(t->m, XSD_OBJ_STORAGE, "nosuch");
	assert_string_equal(json_string_value(json_object_get(j, "state")), "unused");
	json_decref(j);
}

/* Targets: a deleted one logs its initiators out; one whose service ID is
 * taken is shown as an error and listens once it is free (retry), with its
 * masks given anew. */
static void test_targets(void **state)
{
	struct t *t = *state;
	struct xsd_target t2 = { .name = "t2", .wwpn = UINT64_C(0x5001397000000040) };
	struct xsd_err err;
	json_t *j;

	busy_sid = t2.wwpn;
	assert_int_equal(xsd_store_target_add(t->st, &op, &t2, true, &err), 0);
	assert_string_equal(sync_all(t), "");
	j = xsd_stor_status_json(t->m, XSD_OBJ_TARGET, "t2");
	assert_string_equal(json_string_value(json_object_get(j, "state")), "error");
	assert_string_equal(json_string_value(json_object_get(j, "reason")),
			    "cannot listen on service ID 0x5001397000000040: taken by another service");
	json_decref(j);
	busy_sid = 0;
	calls[0] = 0;
	on_retry(t->loop, NULL, t->m);
	assert_string_equal(calls, "listen 5001397000000040\n");
	j = xsd_stor_status_json(t->m, XSD_OBJ_TARGET, "t2");
	assert_string_equal(json_string_value(json_object_get(j, "state")), "serving");
	json_decref(j);
	assert_int_equal(xsd_store_delete(t->st, &op, XSD_OBJ_TARGET, "t2", NULL, &err), 0);
	assert_string_equal(sync_all(t), "logout 5001397000000040\n");
	assert_null(xsd_stor_status_json(t->m, XSD_OBJ_TARGET, "t2"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_masks_follow_luns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_targets, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
