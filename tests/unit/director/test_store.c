/* SPDX-License-Identifier: MIT */
/* Unit tests of the director's SQLite store: CRUD, constraints, pools,
 * audit rows, schema versions, persistence across reopen. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store/store.h"

static const struct xsd_actor alice = { .uid = 1000, .user = "alice" };

static struct xsd_store *mem_store(void)
{
	struct xsd_err err = { "" };
	struct xsd_store *st = xsd_store_open(":memory:", &err);

	if (!st)
		fail_msg("open: %s", err.msg);
	return st;
}

static void add_profile(struct xsd_store *st, const char *name, const char *host, uint64_t guid)
{
	struct xsd_profile p = { 0 };
	struct xsd_err err = { "" };

	snprintf(p.name, sizeof(p.name), "%s", name);
	snprintf(p.hostname, sizeof(p.hostname), "%s", host ? host : "");
	if (guid)
		p.guids[p.n_guids++] = guid;
	if (xsd_store_profile_add(st, &alice, &p, &err))
		fail_msg("profile add: %s", err.msg);
}

static int add_vnic(struct xsd_store *st, const char *name, const char *profile,
		    struct xsd_vnic *out, struct xsd_err *err)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", name);
	snprintf(out->profile, sizeof(out->profile), "%s", profile);
	return xsd_store_vnic_add(st, &alice, out, 0, err);
}

static void add_target(struct xsd_store *st, const char *name, uint64_t wwpn)
{
	struct xsd_target t = { .wwpn = wwpn };
	struct xsd_err err = { "" };

	snprintf(t.name, sizeof(t.name), "%s", name);
	if (xsd_store_target_add(st, &alice, &t, wwpn != 0, &err))
		fail_msg("target add: %s", err.msg);
}

static void test_fresh_schema(void **state)
{
	struct xsd_store *st = mem_store();
	struct xsd_config cfg;
	struct xsd_err err;

	assert_int_equal(xsd_store_schema_version(st), 3);
	assert_int_equal(xsd_store_get_config(st, &cfg, &err), 0);
	assert_false(cfg.auto_accept);
	assert_int_equal(cfg.hello_interval, 5);
	xsd_store_close(st);
}

static void test_wal_and_reopen(void **state)
{
	char dir[] = "/tmp/xsd-store-XXXXXX", path[128];
	struct xsd_err err;
	struct xsd_store *st;
	struct xsd_vnic v;
	sqlite3 *db;
	sqlite3_stmt *s;
	uint64_t rid;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/director.db", dir);
	st = xsd_store_open(path, &err);
	assert_non_null(st);
	add_profile(st, "p1", "host1", 0);
	assert_int_equal(add_vnic(st, "eth0", "p1", &v, &err), 0);
	rid = v.resource_id;
	xsd_store_close(st);

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	sqlite3_close(db);

	st = xsd_store_open(path, &err);
	assert_non_null(st);
	assert_int_equal(xsd_store_vnic_get(st, "eth0", &v, &err), 0);
	assert_int_equal(v.resource_id, rid);
	assert_string_equal(v.profile, "p1");
	xsd_store_close(st);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
}

static void test_future_schema_refused(void **state)
{
	char dir[] = "/tmp/xsd-store-XXXXXX", path[128];
	struct xsd_err err = { "" };
	sqlite3 *db;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/director.db", dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE schema_version(version INTEGER NOT NULL);"
					  "INSERT INTO schema_version VALUES(99)", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_null(xsd_store_open(path, &err));
	assert_string_equal(err.msg,
			    "database schema version 99 is newer than this director supports (3)");
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
}

static int collect_host(const struct xsd_host_rec *h, void *arg)
{
	struct xsd_host_rec *out = arg;
	int i = 0;

	while (out[i].name[0])
		i++;
	if (i >= 3)
		return -E2BIG;
	out[i] = *h;
	return 0;
}

/* A version-1 database (as the previous director left it) is migrated to
 * the current version in place: configuration kept, an empty hosts table
 * (v2) and the storage tables (v3) added. */
static void test_migration_v1_to_v2(void **state)
{
	char dir[] = "/tmp/xsd-store-XXXXXX", path[128];
	struct xsd_host_rec got[4];
	struct xsd_err err = { "" };
	struct xsd_store *st;
	struct xsd_vnic v;
	sqlite3 *db;
	uint64_t rid;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/director.db", dir);
	st = xsd_store_open(path, &err);
	assert_non_null(st);
	add_profile(st, "p1", "host1", 0);
	assert_int_equal(add_vnic(st, "eth0", "p1", &v, &err), 0);
	rid = v.resource_id;
	xsd_store_close(st);
	/* make it what a v1 director wrote */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP TABLE hosts; DROP TABLE luns; DROP TABLE targets;"
				      " DROP TABLE storage; UPDATE schema_version SET version = 1",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);

	st = xsd_store_open(path, &err);
	assert_non_null(st);
	assert_int_equal(xsd_store_schema_version(st), 3);
	assert_int_equal(xsd_store_vnic_get(st, "eth0", &v, &err), 0);
	assert_int_equal(v.resource_id, rid);
	memset(got, 0, sizeof(got));
	assert_int_equal(xsd_store_host_each(st, collect_host, got, &err), 0);
	xsd_store_close(st);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
}

/* Host records: replaced as a whole, read back by name, across a reopen. */
static void test_host_records(void **state)
{
	char dir[] = "/tmp/xsd-store-XXXXXX", path[128];
	struct xsd_host_rec recs[3] = {
		{ .name = "zeta", .port_guid = 0x0013970000000002ull, .lid = 7, .profile = "pz",
		  .state = "up", .accepted = 3, .reconnects = 2, .last_change = 1700000000 },
		{ .name = "alpha", .port_guid = 0x0013970000000001ull, .lid = 5,
		  .state = "rejected",
		  .reason = "unknown host: no profile binds it and auto-accept is off",
		  .last_change = 1700000001 },
	};
	struct xsd_host_rec got[4];
	struct xsd_err err = { "" };
	struct xsd_store *st;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/director.db", dir);
	st = xsd_store_open(path, &err);
	assert_non_null(st);
	assert_int_equal(xsd_store_hosts_replace(st, recs, 2, &err), 0);
	xsd_store_close(st);

	st = xsd_store_open(path, &err);
	assert_non_null(st);
	memset(got, 0, sizeof(got));
	assert_int_equal(xsd_store_host_each(st, collect_host, got, &err), 2);
	assert_string_equal(got[0].name, "alpha");
	assert_string_equal(got[0].state, "rejected");
	assert_string_equal(got[0].reason, "unknown host: no profile binds it and auto-accept is off");
	assert_int_equal(got[0].lid, 5);
	assert_string_equal(got[1].name, "zeta");
	assert_int_equal(got[1].port_guid, 0x0013970000000002ull);
	assert_string_equal(got[1].profile, "pz");
	assert_int_equal(got[1].accepted, 3);
	assert_int_equal(got[1].reconnects, 2);
	assert_int_equal(got[1].last_change, 1700000000);
	/* replace drops what is not in the new list */
	snprintf(recs[2].name, sizeof(recs[2].name), "mid");
	assert_int_equal(xsd_store_hosts_replace(st, &recs[2], 1, &err), 0);
	memset(got, 0, sizeof(got));
	assert_int_equal(xsd_store_host_each(st, collect_host, got, &err), 1);
	assert_string_equal(got[0].name, "mid");
	assert_int_equal(xsd_store_hosts_replace(st, NULL, 0, &err), 0);
	assert_int_equal(xsd_store_host_each(st, collect_host, got, &err), 0);
	xsd_store_close(st);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
}

static void test_profiles(void **state)
{
	struct xsd_store *st = mem_store();
	struct xsd_profile p = { .name = "p2", .hostname = "host2" };
	struct xsd_err err;
	uint64_t g2[2] = { 0x1111, 0x2222 };

	add_profile(st, "p1", "host1", 0x0002c90300001234ull);
	assert_int_equal(xsd_store_profile_add(st, &alice, &p, &err), 0);
	assert_int_equal(xsd_store_profile_add(st, &alice, &p, &err), -EEXIST);
	assert_string_equal(err.msg, "profile 'p2' already exists");

	snprintf(p.name, sizeof(p.name), "p3");
	assert_int_equal(xsd_store_profile_add(st, &alice, &p, &err), -EEXIST);
	assert_string_equal(err.msg, "hostname 'host2' is already bound to profile 'p2'");

	p.hostname[0] = 0;
	p.guids[0] = 0x0002c90300001234ull;
	p.n_guids = 1;
	assert_int_equal(xsd_store_profile_add(st, &alice, &p, &err), -EEXIST);
	assert_string_equal(err.msg,
			    "host GUID 0x0002c90300001234 is already bound to profile 'p1'");

	/* a failed add leaves nothing behind */
	assert_int_equal(xsd_store_profile_get(st, "p3", &p, &err), -ENOENT);
	assert_string_equal(err.msg, "profile 'p3' does not exist");

	assert_int_equal(xsd_store_profile_set(st, &alice, "p2", false, NULL, true, g2, 2, &err), 0);
	assert_int_equal(xsd_store_profile_get(st, "p2", &p, &err), 0);
	assert_int_equal(p.n_guids, 2);
	assert_int_equal(p.guids[1], 0x2222);
	assert_string_equal(p.hostname, "host2");

	/* lookup for a host: GUID wins, then hostname */
	assert_int_equal(xsd_store_profile_for_host(st, 0x2222, "host1", &p, &err), 0);
	assert_string_equal(p.name, "p2");
	assert_int_equal(xsd_store_profile_for_host(st, 0x9999, "host1", &p, &err), 0);
	assert_string_equal(p.name, "p1");
	assert_int_equal(xsd_store_profile_for_host(st, 0x9999, "nosuch", &p, &err), -ENOENT);

	assert_int_equal(xsd_store_profile_delete(st, &alice, "p2", &err), 0);
	assert_int_equal(xsd_store_profile_for_host(st, 0x2222, NULL, &p, &err), -ENOENT);
	xsd_store_close(st);
}

static void test_vnic_crud_and_pool(void **state)
{
	struct xsd_store *st = mem_store();
	struct xsd_vnic v, w;
	struct xsd_err err;
	char mac[18];

	add_profile(st, "p1", "host1", 0);
	assert_int_equal(add_vnic(st, "eth0", "p1", &v, &err), 0);
	xsd_format_mac(v.mac, mac);
	assert_string_equal(mac, "02:58:53:00:00:01");
	assert_int_equal(v.mtu, 1500);
	assert_true(v.admin_up);
	assert_int_equal(add_vnic(st, "eth1", "p1", &w, &err), 0);
	xsd_format_mac(w.mac, mac);
	assert_string_equal(mac, "02:58:53:00:00:02");
	assert_int_not_equal(v.resource_id, w.resource_id);

	assert_int_equal(add_vnic(st, "eth1", "p1", &w, &err), -EEXIST);
	assert_string_equal(err.msg, "vnic 'eth1' already exists");
	assert_int_equal(add_vnic(st, "eth2", "nosuch", &w, &err), -ENOENT);
	assert_string_equal(err.msg, "profile 'nosuch' does not exist");

	/* given MAC already used */
	memset(&w, 0, sizeof(w));
	snprintf(w.name, sizeof(w.name), "eth2");
	snprintf(w.profile, sizeof(w.profile), "p1");
	memcpy(w.mac, v.mac, 6);
	assert_int_equal(xsd_store_vnic_add(st, &alice, &w, XSD_VNIC_MAC, &err), -EEXIST);
	assert_string_equal(err.msg, "MAC 02:58:53:00:00:01 is already used by vnic 'eth0'");

	/* MTU range, VLAN canonical form, access with a list */
	memset(&w, 0, sizeof(w));
	snprintf(w.name, sizeof(w.name), "eth2");
	snprintf(w.profile, sizeof(w.profile), "p1");
	w.mtu = 70000;
	assert_int_equal(xsd_store_vnic_add(st, &alice, &w, XSD_VNIC_MTU, &err), -EINVAL);
	assert_string_equal(err.msg, "MTU 70000 out of range; allowed 68..65280");
	w.mtu = 9000;
	snprintf(w.vlans, sizeof(w.vlans), "20-30,10,25");
	assert_int_equal(xsd_store_vnic_add(st, &alice, &w, XSD_VNIC_MTU | XSD_VNIC_VLANS, &err),
			 -EINVAL);
	assert_string_equal(err.msg, "access mode carries one VLAN, 12 were given; use --vlan-mode trunk for a list");
	w.trunk = 1;
	assert_int_equal(xsd_store_vnic_add(st, &alice, &w,
					    XSD_VNIC_MTU | XSD_VNIC_VLANS | XSD_VNIC_VLAN_MODE,
					    &err), 0);
	assert_int_equal(xsd_store_vnic_get(st, "eth2", &w, &err), 0);
	assert_string_equal(w.vlans, "10,20-30");
	assert_int_equal(w.mtu, 9000);
	assert_int_equal(w.trunk, 1);
	/* a failed add consumed no pool address */
	xsd_format_mac(w.mac, mac);
	assert_string_equal(mac, "02:58:53:00:00:03");

	/* set: generation bumps, resource id stays */
	memset(&w, 0, sizeof(w));
	snprintf(w.name, sizeof(w.name), "eth0");
	w.mtu = 4000;
	w.admin_up = false;
	assert_int_equal(xsd_store_vnic_set(st, &alice, &w, XSD_VNIC_MTU | XSD_VNIC_ADMIN, &err), 0);
	assert_int_equal(xsd_store_vnic_get(st, "eth0", &w, &err), 0);
	assert_int_equal(w.mtu, 4000);
	assert_false(w.admin_up);
	assert_int_equal(w.generation, 2);
	assert_int_equal(w.resource_id, v.resource_id);

	/* profile delete refused while devices exist */
	assert_int_equal(xsd_store_profile_delete(st, &alice, "p1", &err), -EBUSY);
	assert_string_equal(err.msg,
			    "profile 'p1' still has 3 vNIC(s) and 0 vHBA(s); delete them first");

	/* delete; a re-added vnic gets a new resource id */
	assert_int_equal(xsd_store_vnic_delete(st, &alice, "eth0", &w, &err), 0);
	assert_int_equal(w.resource_id, v.resource_id);
	assert_int_equal(xsd_store_vnic_delete(st, &alice, "eth0", &w, &err), -ENOENT);
	assert_string_equal(err.msg, "vnic 'eth0' does not exist");
	assert_int_equal(add_vnic(st, "eth0", "p1", &w, &err), 0);
	assert_true(w.resource_id > v.resource_id);
	xsd_store_close(st);
}

static void test_uplink_reference(void **state)
{
	struct xsd_store *st = mem_store();
	struct xsd_vnic v = { .name = "eth0", .profile = "p1", .uplink = "u1" };
	struct xsd_err err;

	add_profile(st, "p1", NULL, 0);
	assert_int_equal(xsd_store_vnic_add(st, &alice, &v, XSD_VNIC_UPLINK, &err), -ENOENT);
	assert_string_equal(err.msg, "uplink 'u1' does not exist");
	assert_int_equal(xsd_store_name_add(st, &alice, "uplink", "u1", &err), 0);
	assert_int_equal(xsd_store_name_add(st, &alice, "uplink", "u1", &err), -EEXIST);
	assert_string_equal(err.msg, "uplink 'u1' already exists");
	assert_int_equal(xsd_store_vnic_add(st, &alice, &v, XSD_VNIC_UPLINK, &err), 0);
	assert_int_equal(xsd_store_name_delete(st, &alice, "uplink", "u1", &err), -EBUSY);
	assert_string_equal(err.msg, "uplink 'u1' is used by 1 vNIC(s); move or delete them first");
	xsd_store_close(st);
}

static void test_vhba_pool(void **state)
{
	struct xsd_store *st = mem_store();
	struct xsd_vhba v = { .name = "fc0", .profile = "p1" }, w;
	struct xsd_err err;
	char a[24];

	add_profile(st, "p1", NULL, 0);
	assert_int_equal(xsd_store_vhba_add(st, &alice, &v, 0, &err), 0);
	xsd_format_wwn(v.wwnn, a);
	assert_string_equal(a, "30:00:58:53:00:00:00:00");
	xsd_format_wwn(v.wwpn, a);
	assert_string_equal(a, "30:00:58:53:00:00:00:01");
	assert_int_equal(v.queue_depth, 32);

	memset(&w, 0, sizeof(w));
	snprintf(w.name, sizeof(w.name), "fc1");
	snprintf(w.profile, sizeof(w.profile), "p1");
	w.wwnn = 0x5001438000000001ull;
	w.wwpn = v.wwpn;
	assert_int_equal(xsd_store_vhba_add(st, &alice, &w, XSD_VHBA_WWNN | XSD_VHBA_WWPN, &err),
			 -EEXIST);
	assert_string_equal(err.msg, "WWN 30:00:58:53:00:00:00:01 is already used by vhba 'fc0'");
	w.wwpn = 0x5001438000000002ull;
	w.queue_depth = 2000;
	assert_int_equal(xsd_store_vhba_add(st, &alice, &w,
					    XSD_VHBA_WWNN | XSD_VHBA_WWPN | XSD_VHBA_QDEPTH, &err),
			 -EINVAL);
	assert_string_equal(err.msg, "queue depth 2000 out of range; allowed 1..1024");
	w.queue_depth = 64;
	snprintf(w.lun_mask, sizeof(w.lun_mask), "7,0-3");
	snprintf(w.targets, sizeof(w.targets), "tgtA,tgtB");
	/* targets must exist: nothing is stored until they do */
	assert_int_equal(xsd_store_vhba_add(st, &alice, &w,
					    XSD_VHBA_WWNN | XSD_VHBA_WWPN | XSD_VHBA_QDEPTH |
						    XSD_VHBA_LUNS | XSD_VHBA_TARGETS,
					    &err), -ENOENT);
	assert_string_equal(err.msg, "target 'tgtA' does not exist");
	assert_int_equal(xsd_store_vhba_get(st, "fc1", &w, &err), -ENOENT);
	snprintf(w.name, sizeof(w.name), "fc1");
	snprintf(w.targets, sizeof(w.targets), "tgtA,tgtB");
	add_target(st, "tgtA", 0x5001397000000001ull);
	add_target(st, "tgtB", 0x5001397000000002ull);
	assert_int_equal(xsd_store_vhba_add(st, &alice, &w,
					    XSD_VHBA_WWNN | XSD_VHBA_WWPN | XSD_VHBA_QDEPTH |
						    XSD_VHBA_LUNS | XSD_VHBA_TARGETS,
					    &err), 0);
	assert_int_equal(xsd_store_vhba_get(st, "fc1", &w, &err), 0);
	assert_string_equal(w.lun_mask, "0-3,7");
	assert_string_equal(w.targets, "tgtA,tgtB");
	memset(&w, 0, sizeof(w));
	snprintf(w.name, sizeof(w.name), "fc2");
	snprintf(w.profile, sizeof(w.profile), "p1");
	assert_int_equal(xsd_store_vhba_add(st, &alice, &w, 0, &err), 0);
	xsd_format_wwn(w.wwnn, a);
	assert_string_equal(a, "30:00:58:53:00:00:00:02");
	xsd_store_close(st);
}

struct audit_rows {
	int n;
	char what[8][512];
	char user[8][64];
};

static int collect_audit(const struct xsd_audit *a, void *arg)
{
	struct audit_rows *r = arg;

	if (r->n < 8) {
		snprintf(r->what[r->n], sizeof(r->what[0]), "%s", a->what);
		snprintf(r->user[r->n], sizeof(r->user[0]), "%s", a->user);
	}
	r->n++;
	return 0;
}

static void test_audit(void **state)
{
	struct xsd_store *st = mem_store();
	struct audit_rows r = { 0 };
	struct xsd_vnic v;
	struct xsd_err err;

	add_profile(st, "p1", "host1", 0x1234);
	assert_int_equal(add_vnic(st, "eth0", "p1", &v, &err), 0);
	assert_int_equal(add_vnic(st, "eth0", "p1", &v, &err), -EEXIST); /* no audit row */
	assert_int_equal(xsd_store_set_config(st, &alice, "auto-accept", "on", &err), 0);
	assert_int_equal(xsd_store_set_config(st, &alice, "colour", "on", &err), -EINVAL);
	assert_string_equal(err.msg, "unknown setting 'colour'; known: auto-accept, hello-interval, max-sessions, mac-pool, wwn-pool");
	assert_int_equal(xsd_store_audit_each(st, 10, collect_audit, &r, &err), 0);
	assert_int_equal(r.n, 3);
	assert_string_equal(r.what[0], "config set auto-accept on");
	assert_string_equal(r.what[1],
			    "vnic add eth0 profile=p1 mac=02:58:53:00:00:01 mtu=1500 vlan-mode=access vlans=none uplink=none cir=0 pir=0 ha-group=none admin=up");
	assert_string_equal(r.what[2], "profile add p1 hostname=host1 host-guids=0x0000000000001234");
	assert_string_equal(r.user[2], "alice");
	memset(&r, 0, sizeof(r));
	assert_int_equal(xsd_store_audit_each(st, 1, collect_audit, &r, &err), 0);
	assert_int_equal(r.n, 1);
	xsd_store_close(st);
}

static void test_config(void **state)
{
	struct xsd_store *st = mem_store();
	struct xsd_config cfg;
	struct xsd_vnic v;
	struct xsd_err err;
	char mac[18];

	assert_int_equal(xsd_store_set_config(st, &alice, "hello-interval", "0", &err), -EINVAL);
	assert_string_equal(err.msg, "hello interval 0 out of range; allowed 1..300");
	assert_int_equal(xsd_store_set_config(st, &alice, "hello-interval", "2", &err), 0);
	assert_int_equal(xsd_store_set_config(st, &alice, "mac-pool",
					      "02:00:00:00:00:10-02:00:00:00:00:11", &err), 0);
	assert_int_equal(xsd_store_get_config(st, &cfg, &err), 0);
	assert_int_equal(cfg.hello_interval, 2);
	add_profile(st, "p1", NULL, 0);
	assert_int_equal(add_vnic(st, "a", "p1", &v, &err), 0);
	xsd_format_mac(v.mac, mac);
	assert_string_equal(mac, "02:00:00:00:00:10");
	assert_int_equal(add_vnic(st, "b", "p1", &v, &err), 0);
	assert_int_equal(add_vnic(st, "c", "p1", &v, &err), -ENOSPC);
	assert_string_equal(err.msg, "MAC pool 02:00:00:00:00:10-02:00:00:00:00:11 is exhausted; give --mac or widen it with 'xcm config set mac-pool'");
	/* freed addresses are reused */
	assert_int_equal(xsd_store_vnic_delete(st, &alice, "a", &v, &err), 0);
	assert_int_equal(add_vnic(st, "c", "p1", &v, &err), 0);
	xsd_format_mac(v.mac, mac);
	assert_string_equal(mac, "02:00:00:00:00:10");
	xsd_store_close(st);
}

/* ------------------------------------------------------------ storage */

static int count_row(const void *row, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

static int count_of(struct xsd_store *st, enum xsd_obj type, const char *filter)
{
	struct xsd_err err;
	int n = 0;

	assert_int_equal(xsd_store_each(st, type, filter, count_row, &n, &err), 0);
	return n;
}

static int storage_file(struct xsd_store *st, const char *name, const char *path, uint64_t size,
			struct xsd_err *err)
{
	struct xsd_storage s = { .type = XSD_STORAGE_FILE, .size = size };

	snprintf(s.name, sizeof(s.name), "%s", name);
	snprintf(s.location, sizeof(s.location), "%s", path);
	return xsd_store_storage_add(st, &alice, &s, err);
}

static int lun_add(struct xsd_store *st, const char *target, unsigned int lun,
		   const char *storage, struct xsd_err *err)
{
	struct xsd_lun l = { .lun = (uint16_t)lun };

	snprintf(l.target, sizeof(l.target), "%s", target);
	snprintf(l.storage, sizeof(l.storage), "%s", storage);
	return xsd_store_lun_add(st, &alice, &l, err);
}

/* Storage objects: each type's checks with their exact text, the file made
 * (or extended) by --size, and nothing created or stored on any error. */
static void test_storage_add(void **state)
{
	char dir[] = "/tmp/xsd-stor-XXXXXX", path[128], p2[256], cmd[256];
	struct xsd_store *st = mem_store();
	struct xsd_storage s = { 0 }, got;
	struct xsd_err err;
	struct stat sb;
	FILE *fp;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/d0.img", dir);
	assert_int_equal(storage_file(st, "d0", path, 0, &err), -ENOENT);
	snprintf(p2, sizeof(p2), "file '%s' does not exist; give --size to create it", path);
	assert_string_equal(err.msg, p2);
	assert_int_equal(storage_file(st, "d0", "rel/d0.img", 0, &err), -EINVAL);
	assert_string_equal(err.msg, "file 'rel/d0.img' must be an absolute path");
	assert_int_equal(storage_file(st, "d0", path, 1000, &err), -EINVAL);
	assert_string_equal(err.msg,
			    "size 1000 out of range; a file is at least 4096 bytes, a multiple of 512");
	assert_int_equal(storage_file(st, "bad name", path, 1 << 20, &err), -EINVAL);
	assert_int_equal(stat(path, &sb), -1); /* none of these made it */
	assert_int_equal(storage_file(st, "d0", path, 1 << 20, &err), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, 1 << 20);
	/* a name or a location taken: refused, the other file is not made */
	snprintf(p2, sizeof(p2), "%s/d1.img", dir);
	assert_int_equal(storage_file(st, "d0", p2, 1 << 20, &err), -EEXIST);
	assert_string_equal(err.msg, "storage 'd0' already exists");
	assert_int_equal(stat(p2, &sb), -1);
	assert_int_equal(storage_file(st, "d1", path, 0, &err), -EEXIST);
	snprintf(cmd, sizeof(cmd), "'%s' is already storage 'd0'", path);
	assert_string_equal(err.msg, cmd);
	/* an existing smaller file is extended, a larger one never shrunk */
	fp = fopen(p2, "w");
	assert_non_null(fp);
	fputs("hello", fp);
	fclose(fp);
	assert_int_equal(storage_file(st, "d1", p2, 8192, &err), 0);
	assert_int_equal(stat(p2, &sb), 0);
	assert_int_equal(sb.st_size, 8192);
	snprintf(path, sizeof(path), "%s/d2.img", dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(ftruncate(fileno(fp), 16384), 0);
	fclose(fp);
	assert_int_equal(storage_file(st, "d2", path, 8192, &err), -EINVAL);
	snprintf(cmd, sizeof(cmd),
		 "file '%s' is 16384 bytes, more than --size 8192; a file is never shrunk", path);
	assert_string_equal(err.msg, cmd);
	assert_int_equal(storage_file(st, "d2", path, 0, &err), 0);
	/* other types */
	snprintf(s.name, sizeof(s.name), "m0");
	s.type = XSD_STORAGE_RAM;
	s.size = 1024;
	assert_int_equal(xsd_store_storage_add(st, &alice, &s, &err), -EINVAL);
	assert_string_equal(err.msg,
			    "ram size 1024 out of range; allowed 4096 bytes to 16 GiB, a multiple of 512");
	s.size = 1 << 20;
	s.direct = true;
	assert_int_equal(xsd_store_storage_add(st, &alice, &s, &err), -EINVAL);
	assert_string_equal(err.msg, "--direct goes with --file or --block");
	s.direct = false;
	assert_int_equal(xsd_store_storage_add(st, &alice, &s, &err), 0);
	memset(&s, 0, sizeof(s));
	snprintf(s.name, sizeof(s.name), "i0");
	s.type = XSD_STORAGE_ISCSI;
	snprintf(s.location, sizeof(s.location), "iscsi://10.0.0.1:3260/iqn.2026-01.com.x:t1");
	assert_int_equal(xsd_store_storage_add(st, &alice, &s, &err), -EINVAL);
	assert_string_equal(err.msg,
			    "bad iSCSI URL 'iscsi://10.0.0.1:3260/iqn.2026-01.com.x:t1'; expected iscsi://HOST[:PORT]/IQN/LUN");
	snprintf(s.location, sizeof(s.location), "iscsi://10.0.0.1:3260/iqn.2026-01.com.x:t1/0");
	assert_int_equal(xsd_store_storage_add(st, &alice, &s, &err), 0);
	snprintf(s.name, sizeof(s.name), "b0");
	s.type = XSD_STORAGE_BLOCK;
	snprintf(s.location, sizeof(s.location), "/dev/null");
	assert_int_equal(xsd_store_storage_add(st, &alice, &s, &err), -EINVAL);
	assert_string_equal(err.msg, "'/dev/null' is not a block device");
	s.type = XSD_STORAGE_SG;
	s.size = 4096;
	assert_int_equal(xsd_store_storage_add(st, &alice, &s, &err), -EINVAL);
	assert_string_equal(err.msg, "--size goes with --file");
	assert_int_equal(count_of(st, XSD_OBJ_STORAGE, NULL), 5); /* d0 d1 d2 m0 i0 */
	assert_int_equal(xsd_store_get(st, XSD_OBJ_STORAGE, "d1", &got, &err), 0);
	assert_int_equal(got.type, XSD_STORAGE_FILE);
	assert_string_equal(got.location, p2);
	assert_int_equal(got.size, 8192);
	assert_string_equal(got.lun_target, "");
	assert_int_equal(xsd_store_get(st, XSD_OBJ_STORAGE, "zz", &got, &err), -ENOENT);
	assert_string_equal(err.msg, "storage 'zz' does not exist");
	xsd_store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* Targets and LUNs: references both ways, refusals with their text, the
 * audit rows, and WWNs unique across targets and vHBAs. */
static void test_targets_luns(void **state)
{
	struct xsd_store *st = mem_store();
	struct xsd_storage s = { .name = "m0", .type = XSD_STORAGE_RAM, .size = 1 << 20 };
	struct xsd_target t = { .name = "t1" };
	struct xsd_vhba v = { .name = "fc0", .profile = "p1", .targets = "t1" };
	struct audit_rows r = { 0 };
	struct xsd_lun old;
	struct xsd_err err;
	char w[24];

	add_profile(st, "p1", NULL, 0);
	assert_int_equal(xsd_store_storage_add(st, &alice, &s, &err), 0);
	snprintf(s.name, sizeof(s.name), "m1");
	assert_int_equal(xsd_store_storage_add(st, &alice, &s, &err), 0);
	/* WWPN from the pool: a pair's odd half, as for vHBAs */
	assert_int_equal(xsd_store_target_add(st, &alice, &t, false, &err), 0);
	xsd_format_wwn(t.wwpn, w);
	assert_string_equal(w, "30:00:58:53:00:00:00:01");
	assert_int_equal(xsd_store_target_add(st, &alice, &t, false, &err), -EEXIST);
	assert_string_equal(err.msg, "target 't1' already exists");
	assert_int_equal(xsd_store_vhba_add(st, &alice, &v, XSD_VHBA_TARGETS, &err), 0);
	xsd_format_wwn(v.wwpn, w);
	assert_string_equal(w, "30:00:58:53:00:00:00:03");
	snprintf(t.name, sizeof(t.name), "t2");
	t.wwpn = v.wwpn;
	assert_int_equal(xsd_store_target_add(st, &alice, &t, true, &err), -EEXIST);
	assert_string_equal(err.msg, "WWN 30:00:58:53:00:00:00:03 is already used by vhba 'fc0'");
	assert_int_equal(count_of(st, XSD_OBJ_TARGET, NULL), 1);

	assert_int_equal(lun_add(st, "t1", 16384, "m0", &err), -EINVAL);
	assert_string_equal(err.msg, "LUN 16384 out of range; allowed 0..16383");
	assert_int_equal(lun_add(st, "t9", 0, "m0", &err), -ENOENT);
	assert_string_equal(err.msg, "target 't9' does not exist");
	assert_int_equal(lun_add(st, "t1", 0, "m9", &err), -ENOENT);
	assert_string_equal(err.msg, "storage 'm9' does not exist");
	assert_int_equal(lun_add(st, "t1", 3, "m0", &err), 0);
	assert_int_equal(lun_add(st, "t1", 3, "m1", &err), -EEXIST);
	assert_string_equal(err.msg, "target 't1' already has LUN 3 (storage 'm0')");
	assert_int_equal(lun_add(st, "t1", 4, "m0", &err), -EBUSY);
	assert_string_equal(err.msg, "storage 'm0' is already LUN 3 of target 't1'");
	assert_int_equal(lun_add(st, "t1", 0, "m1", &err), 0);
	assert_int_equal(count_of(st, XSD_OBJ_LUN, "t1"), 2);
	assert_int_equal(count_of(st, XSD_OBJ_LUN, "t2"), 0);

	assert_int_equal(xsd_store_delete(st, &alice, XSD_OBJ_STORAGE, "m0", NULL, &err), -EBUSY);
	assert_string_equal(err.msg, "storage 'm0' is used by LUN 3 of target 't1'; delete the LUN first");
	assert_int_equal(xsd_store_delete(st, &alice, XSD_OBJ_TARGET, "t1", NULL, &err), -EBUSY);
	assert_string_equal(err.msg, "target 't1' is used by vhba 'fc0'; take it out of the vhba first");
	v.targets[0] = 0;
	assert_int_equal(xsd_store_vhba_set(st, &alice, &v, XSD_VHBA_TARGETS, &err), 0);
	assert_int_equal(xsd_store_delete(st, &alice, XSD_OBJ_TARGET, "t1", NULL, &err), -EBUSY);
	assert_string_equal(err.msg, "target 't1' still has 2 LUN(s); delete them first");
	assert_int_equal(xsd_store_lun_delete(st, &alice, "t1", 7, &old, &err), -ENOENT);
	assert_string_equal(err.msg, "target 't1' has no LUN 7");
	assert_int_equal(xsd_store_lun_delete(st, &alice, "t1", 3, &old, &err), 0);
	assert_string_equal(old.storage, "m0");
	assert_int_equal(xsd_store_lun_delete(st, &alice, "t1", 0, &old, &err), 0);
	assert_int_equal(xsd_store_delete(st, &alice, XSD_OBJ_LUN, "t1", NULL, &err), -EINVAL);
	assert_int_equal(xsd_store_delete(st, &alice, XSD_OBJ_TARGET, "t1", NULL, &err), 0);
	assert_int_equal(xsd_store_delete(st, &alice, XSD_OBJ_STORAGE, "m0", NULL, &err), 0);
	assert_int_equal(count_of(st, XSD_OBJ_TARGET, NULL), 0);
	assert_int_equal(count_of(st, XSD_OBJ_STORAGE, NULL), 1);
	assert_int_equal(xsd_store_audit_each(st, 8, collect_audit, &r, &err), 0);
	assert_string_equal(r.what[0], "storage delete m0");
	assert_string_equal(r.what[1], "target delete t1");
	assert_string_equal(r.what[2], "lun delete t1 0");
	assert_string_equal(r.what[3], "lun delete t1 3");
	assert_string_equal(r.what[5], "lun add t1 0 storage=m1");
	assert_string_equal(r.what[6], "lun add t1 3 storage=m0");
	assert_string_equal(r.what[7], "vhba add fc0 profile=p1 wwnn=30:00:58:53:00:00:00:02"
				       " wwpn=30:00:58:53:00:00:00:03 targets=t1 lun-mask=none"
				       " queue-depth=32 link-down-timeout=30 admin=up");
	xsd_store_close(st);
}

/* A version-2 database whose vHBAs name targets freely: version 3 makes a
 * target (WWPN from the pool) for every name, once. */
static void test_migration_v2_to_v3(void **state)
{
	char dir[] = "/tmp/xsd-store-XXXXXX", path[128];
	struct xsd_err err = { "" };
	struct xsd_store *st;
	struct xsd_vhba v = { .name = "fc0", .profile = "p1" };
	struct xsd_target a, b;
	sqlite3 *db;
	char w[24];

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/director.db", dir);
	st = xsd_store_open(path, &err);
	assert_non_null(st);
	add_profile(st, "p1", NULL, 0);
	assert_int_equal(xsd_store_vhba_add(st, &alice, &v, 0, &err), 0);
	snprintf(v.name, sizeof(v.name), "fc1");
	assert_int_equal(xsd_store_vhba_add(st, &alice, &v, 0, &err), 0);
	xsd_store_close(st);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP TABLE luns; DROP TABLE targets; DROP TABLE storage;"
				      " UPDATE vhbas SET targets = 'arrA,arrB' WHERE name = 'fc0';"
				      " UPDATE vhbas SET targets = 'arrB' WHERE name = 'fc1';"
				      " UPDATE schema_version SET version = 2", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	st = xsd_store_open(path, &err);
	assert_non_null(st);
	assert_int_equal(xsd_store_schema_version(st), 3);
	assert_int_equal(count_of(st, XSD_OBJ_TARGET, NULL), 2);
	assert_int_equal(xsd_store_target_get(st, "arrA", &a, &err), 0);
	assert_int_equal(xsd_store_target_get(st, "arrB", &b, &err), 0);
	/* the pool's next pairs after the two vHBAs' */
	xsd_format_wwn(a.wwpn, w);
	assert_string_equal(w, "30:00:58:53:00:00:00:05");
	xsd_format_wwn(b.wwpn, w);
	assert_string_equal(w, "30:00:58:53:00:00:00:07");
	assert_int_equal(xsd_store_delete(st, &alice, XSD_OBJ_TARGET, "arrB", NULL, &err), -EBUSY);
	assert_string_equal(err.msg,
			    "target 'arrB' is used by vhba 'fc0', 'fc1'; take it out of the vhba first");
	xsd_store_close(st);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fresh_schema),
		cmocka_unit_test(test_wal_and_reopen),
		cmocka_unit_test(test_future_schema_refused),
		cmocka_unit_test(test_migration_v1_to_v2),
		cmocka_unit_test(test_host_records),
		cmocka_unit_test(test_profiles),
		cmocka_unit_test(test_vnic_crud_and_pool),
		cmocka_unit_test(test_uplink_reference),
		cmocka_unit_test(test_vhba_pool),
		cmocka_unit_test(test_audit),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_storage_add),
		cmocka_unit_test(test_targets_luns),
		cmocka_unit_test(test_migration_v2_to_v3),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
