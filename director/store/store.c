/* SPDX-License-Identifier: MIT */
/*
 * store.c - SQLite configuration store of the director.
 *
 * Durability: WAL journal with synchronous=FULL, so a commit that returned
 * is on disk and a process killed mid-transaction leaves only the previous
 * committed state (SQLite rolls the WAL tail back on next open). Every
 * mutating call is BEGIN IMMEDIATE ... its checks ... its rows ... the audit
 * row ... COMMIT; any failure rolls the whole thing back.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include <xscore/log.h>

#include "store.h"

#define COMP "store"

struct xsd_store {
	sqlite3 *db;
	int version;
};

/* ------------------------------------------------------------- schema */

static const char schema_v1[] =
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
	"CREATE TABLE config(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE uplinks(name TEXT PRIMARY KEY);"
	"CREATE TABLE storage_pools(name TEXT PRIMARY KEY);"
	"CREATE TABLE profiles(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
	"  hostname TEXT UNIQUE, created INTEGER NOT NULL);"
	"CREATE TABLE profile_ports(guid INTEGER PRIMARY KEY,"
	"  profile_id INTEGER NOT NULL REFERENCES profiles(id) ON DELETE CASCADE);"
	"CREATE INDEX profile_ports_by_profile ON profile_ports(profile_id);"
	"CREATE TABLE vnics(id INTEGER PRIMARY KEY,"
	"  resource_id INTEGER NOT NULL UNIQUE, generation INTEGER NOT NULL,"
	"  name TEXT NOT NULL UNIQUE CHECK(length(name) BETWEEN 1 AND 15),"
	"  profile_id INTEGER NOT NULL REFERENCES profiles(id) ON DELETE RESTRICT,"
	"  mac INTEGER NOT NULL UNIQUE,"
	"  mtu INTEGER NOT NULL CHECK(mtu BETWEEN 68 AND 65280),"
	"  vlan_mode TEXT NOT NULL CHECK(vlan_mode IN ('access','trunk')),"
	"  vlans TEXT NOT NULL,"
	"  uplink TEXT REFERENCES uplinks(name) ON DELETE RESTRICT,"
	"  cir INTEGER NOT NULL CHECK(cir >= 0), pir INTEGER NOT NULL CHECK(pir >= 0),"
	"  ha_group TEXT,"
	"  admin_up INTEGER NOT NULL CHECK(admin_up IN (0,1)));"
	"CREATE INDEX vnics_by_profile ON vnics(profile_id);"
	"CREATE TABLE vhbas(id INTEGER PRIMARY KEY,"
	"  resource_id INTEGER NOT NULL UNIQUE, generation INTEGER NOT NULL,"
	"  name TEXT NOT NULL UNIQUE CHECK(length(name) BETWEEN 1 AND 15),"
	"  profile_id INTEGER NOT NULL REFERENCES profiles(id) ON DELETE RESTRICT,"
	"  wwnn INTEGER NOT NULL UNIQUE, wwpn INTEGER NOT NULL UNIQUE,"
	"  targets TEXT NOT NULL, lun_mask TEXT NOT NULL,"
	"  queue_depth INTEGER NOT NULL CHECK(queue_depth BETWEEN 1 AND 1024),"
	"  link_down_timeout INTEGER NOT NULL CHECK(link_down_timeout BETWEEN 0 AND 3600),"
	"  admin_up INTEGER NOT NULL CHECK(admin_up IN (0,1)));"
	"CREATE INDEX vhbas_by_profile ON vhbas(profile_id);"
	"CREATE TABLE audit_log(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  at INTEGER NOT NULL, uid INTEGER NOT NULL, user TEXT NOT NULL, what TEXT NOT NULL);";

/* v2: the XCM's host records (xcm show hosts across restarts). */
static const char schema_v2[] =
	"CREATE TABLE hosts(name TEXT PRIMARY KEY, port_guid INTEGER NOT NULL,"
	"  lid INTEGER NOT NULL, profile TEXT NOT NULL, state TEXT NOT NULL,"
	"  reason TEXT NOT NULL, accepted INTEGER NOT NULL, reconnects INTEGER NOT NULL,"
	"  last_change INTEGER NOT NULL);";

/* v3: storage back ends, SRP targets (WWPN = their SRP service ID) and
 * LUNs. vhbas.targets stays a comma list of target names; every name in it
 * must be a row of targets (checked on every vhba add/set; the migration
 * creates a target for each name older versions stored). */
static const char schema_v3[] =
	"CREATE TABLE storage(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
	"  type TEXT NOT NULL CHECK(type IN ('file','block','sg','iscsi','ram')),"
	"  location TEXT NOT NULL, size INTEGER NOT NULL CHECK(size >= 0),"
	"  direct INTEGER NOT NULL CHECK(direct IN (0,1)));"
	"CREATE TABLE targets(id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE CHECK(length(name) BETWEEN 1 AND 24),"
	"  wwpn INTEGER NOT NULL UNIQUE);"
	"CREATE TABLE luns(target_id INTEGER NOT NULL REFERENCES targets(id) ON DELETE RESTRICT,"
	"  lun INTEGER NOT NULL CHECK(lun BETWEEN 0 AND 16383),"
	"  storage_id INTEGER NOT NULL UNIQUE REFERENCES storage(id) ON DELETE RESTRICT,"
	"  read_only INTEGER NOT NULL CHECK(read_only IN (0,1)),"
	"  PRIMARY KEY(target_id, lun));";

/* Migration i brings the schema from version i to i + 1 (a migration that
 * rebuilds tables turns foreign keys off around it, as the SQLite manual
 * describes). */
static const struct {
	int to_version;
	const char *sql;
} migrations[] = {
	{ 1, schema_v1 },
	{ 2, schema_v2 },
	{ 3, schema_v3 },
};

static int migrate_v3_targets(struct xsd_store *st, struct xsd_err *err);

/* ------------------------------------------------------------- helpers */

static int db_fail(struct xsd_store *st, struct xsd_err *err, const char *what)
{
	XS_ERR(COMP, "%s: %s", what, sqlite3_errmsg(st->db));
	return xsd_fail(err, -EIO, "database error while %s: %s", what, sqlite3_errmsg(st->db));
}

static int exec(struct xsd_store *st, const char *sql, struct xsd_err *err)
{
	char *msg = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		XS_ERR(COMP, "'%.60s': %s", sql, msg ? msg : "?");
		xsd_fail(err, -EIO, "database error: %s", msg ? msg : "unknown");
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

static sqlite3_stmt *prep(struct xsd_store *st, const char *sql, struct xsd_err *err)
{
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		db_fail(st, err, "preparing a statement");
		return NULL;
	}
	return s;
}

static int begin(struct xsd_store *st, struct xsd_err *err)
{
	return exec(st, "BEGIN IMMEDIATE", err);
}

static int commit(struct xsd_store *st, struct xsd_err *err)
{
	return exec(st, "COMMIT", err);
}

static void rollback(struct xsd_store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Run a statement that returns no row; binds are done by the caller. */
static int step_done(struct xsd_store *st, sqlite3_stmt *s, struct xsd_err *err,
		     const char *what)
{
	int rc = sqlite3_step(s);

	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		rc = db_fail(st, err, what);
		sqlite3_finalize(s);
		return rc;
	}
	sqlite3_finalize(s);
	return 0;
}

static void bind_text_or_null(sqlite3_stmt *s, int i, const char *t)
{
	if (t && *t)
		sqlite3_bind_text(s, i, t, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s, i);
}

static void col_text(sqlite3_stmt *s, int i, char *out, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	snprintf(out, cap, "%s", t ? (const char *)t : "");
}

/* One integer from a query with up to two bound values (text or int64).
 * Returns 1 found, 0 none, <0 error. */
static int query_int(struct xsd_store *st, const char *sql, const char *t1, int64_t i1,
		     int64_t *out, struct xsd_err *err)
{
	sqlite3_stmt *s = prep(st, sql, err);
	int rc;

	if (!s)
		return -EIO;
	if (t1)
		sqlite3_bind_text(s, 1, t1, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_int64(s, 1, i1);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		if (out)
			*out = sqlite3_column_int64(s, 0);
		rc = 1;
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		rc = db_fail(st, err, "reading");
	}
	sqlite3_finalize(s);
	return rc;
}

static int meta_get(struct xsd_store *st, const char *key, int64_t *v, struct xsd_err *err)
{
	return query_int(st, "SELECT value FROM meta WHERE key = ?", key, 0, v, err);
}

static int meta_set(struct xsd_store *st, const char *key, int64_t v, struct xsd_err *err)
{
	sqlite3_stmt *s = prep(st, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", err);

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, v);
	return step_done(st, s, err, "writing meta");
}

static int audit(struct xsd_store *st, const struct xsd_actor *who, struct xsd_err *err,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int audit(struct xsd_store *st, const struct xsd_actor *who, struct xsd_err *err,
		 const char *fmt, ...)
{
	char what[512];
	va_list ap;
	sqlite3_stmt *s;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	s = prep(st, "INSERT INTO audit_log(at, uid, user, what) VALUES(?, ?, ?, ?)", err);
	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, (int64_t)time(NULL));
	sqlite3_bind_int64(s, 2, who ? who->uid : 0);
	sqlite3_bind_text(s, 3, who && who->user[0] ? who->user : "?", -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 4, what, -1, SQLITE_TRANSIENT);
	return step_done(st, s, err, "writing the audit log");
}

/* Finish a mutating call: commit on success, roll back otherwise. */
static int finish(struct xsd_store *st, int rc, struct xsd_err *err)
{
	if (rc == 0)
		rc = commit(st, err);
	if (rc)
		rollback(st);
	return rc;
}

/* A 64-bit resource id, assigned once and never reused: the high 32 bits are
 * this store's random instance number (two directors never collide), the
 * low 32 bits a counter kept in meta. */
static int next_resource_id(struct xsd_store *st, uint64_t *id, struct xsd_err *err)
{
	int64_t inst = 0, seq = 0;
	int rc;

	rc = meta_get(st, "instance", &inst, err);
	if (rc < 0)
		return rc;
	rc = meta_get(st, "next_seq", &seq, err);
	if (rc < 0)
		return rc;
	if (seq < 1)
		seq = 1;
	if (seq > 0xffffffffll)
		return xsd_fail(err, -ENOSPC, "resource ids exhausted");
	*id = (uint64_t)inst << 32 | (uint64_t)seq;
	return meta_set(st, "next_seq", seq + 1, err);
}

/* ---------------------------------------------------------- open/close */

static int schema_version_read(struct xsd_store *st, struct xsd_err *err)
{
	sqlite3_stmt *s;
	int64_t v;
	int rc;

	rc = exec(st, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)", err);
	if (rc)
		return rc;
	s = prep(st, "SELECT coalesce(max(version), 0) FROM schema_version", err);
	if (!s)
		return -EIO;
	if (sqlite3_step(s) != SQLITE_ROW) {
		sqlite3_finalize(s);
		return db_fail(st, err, "reading the schema version");
	}
	v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return (int)v;
}

static int migrate(struct xsd_store *st, struct xsd_err *err)
{
	int cur = schema_version_read(st, err);

	if (cur < 0)
		return cur;
	if (cur > XSD_SCHEMA_VERSION)
		return xsd_fail(err, -EPROTO,
				"database schema version %d is newer than this director supports (%d)",
				cur, XSD_SCHEMA_VERSION);
	for (size_t i = 0; i < sizeof(migrations) / sizeof(migrations[0]); i++) {
		int rc;

		if (migrations[i].to_version <= cur)
			continue;
		rc = begin(st, err);
		if (rc)
			return rc;
		rc = exec(st, migrations[i].sql, err);
		if (!rc && migrations[i].to_version == 1) {
			uint32_t inst = 0;

			if (getrandom(&inst, sizeof(inst), 0) != sizeof(inst))
				inst = (uint32_t)time(NULL);
			inst = (inst & 0x7fffffffu) | 1u; /* non-zero, fits int64 shifted */
			rc = meta_set(st, "instance", inst, err);
			if (!rc)
				rc = meta_set(st, "next_seq", 1, err);
		}
		if (!rc && migrations[i].to_version == 3)
			rc = migrate_v3_targets(st, err);
		if (!rc) {
			char sql[96];

			snprintf(sql, sizeof(sql),
				 "DELETE FROM schema_version; INSERT INTO schema_version VALUES(%d)",
				 migrations[i].to_version);
			rc = exec(st, sql, err);
		}
		rc = finish(st, rc, err);
		if (rc)
			return rc;
		XS_INFO(COMP, "schema migrated from version %d to %d", cur,
			migrations[i].to_version);
		cur = migrations[i].to_version;
	}
	st->version = cur;
	return 0;
}

struct xsd_store *xsd_store_open(const char *path, struct xsd_err *err)
{
	struct xsd_store *st;
	sqlite3_stmt *s;
	int rc;

	st = calloc(1, sizeof(*st));
	if (!st) {
		xsd_fail(err, -ENOMEM, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		xsd_fail(err, -EIO, "cannot open database %s: %s", path,
			 st->db ? sqlite3_errmsg(st->db) : "out of memory");
		errno = EIO;
		goto close_db;
	}
	sqlite3_busy_timeout(st->db, 5000);
	/* journal_mode answers with the mode it is in: insist on WAL for files */
	s = prep(st, "PRAGMA journal_mode=WAL", err);
	if (!s)
		goto fail;
	if (sqlite3_step(s) == SQLITE_ROW && strcmp(path, ":memory:") != 0 &&
	    strcmp((const char *)sqlite3_column_text(s, 0), "wal") != 0) {
		xsd_fail(err, -EIO, "database %s refused WAL mode (journal_mode %s)", path,
			 (const char *)sqlite3_column_text(s, 0));
		sqlite3_finalize(s);
		goto fail;
	}
	sqlite3_finalize(s);
	if (exec(st, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON", err))
		goto fail;
	rc = migrate(st, err);
	if (rc)
		goto fail;
	/* Uplink interfaces (vNIC I/O module): added without a schema bump so
	 * that version-1 databases gain the table in place; a later migration
	 * can fold it into the versioned schema. */
	if (exec(st, "CREATE TABLE IF NOT EXISTS uplink_ifs(name TEXT PRIMARY KEY"
		     " REFERENCES uplinks(name) ON DELETE CASCADE, interface TEXT NOT NULL)",
		 err))
		goto fail;
	return st;
fail:
	errno = EIO;
close_db:
	sqlite3_close(st->db);
	free(st);
	return NULL;
}

void xsd_store_close(struct xsd_store *st)
{
	if (!st)
		return;
	if (sqlite3_close(st->db) != SQLITE_OK)
		XS_WARN(COMP, "closing the database: %s", sqlite3_errmsg(st->db));
	free(st);
}

int xsd_store_schema_version(struct xsd_store *st)
{
	return st->version;
}

/* ------------------------------------------------------------ config */

static const char *config_keys[] = { "auto-accept", "hello-interval", "max-sessions",
				     "mac-pool", "wwn-pool" };

static uint64_t mac_to_u64(const uint8_t m[6])
{
	uint64_t v = 0;

	for (int i = 0; i < 6; i++)
		v = v << 8 | m[i];
	return v;
}

static void u64_to_mac(uint64_t v, uint8_t m[6])
{
	for (int i = 5; i >= 0; i--, v >>= 8)
		m[i] = (uint8_t)v;
}

static int parse_pool(const char *key, const char *value, bool mac, uint64_t *lo, uint64_t *hi,
		      struct xsd_err *err)
{
	char a[64], b[64];
	const char *dash = strchr(value, '-');
	uint8_t m[6];
	int rc;

	if (!dash || (size_t)(dash - value) >= sizeof(a) || strlen(dash + 1) >= sizeof(b))
		return xsd_fail(err, -EINVAL, "bad %s '%s'; expected FIRST-LAST", key, value);
	memcpy(a, value, (size_t)(dash - value));
	a[dash - value] = 0;
	snprintf(b, sizeof(b), "%s", dash + 1);
	if (mac) {
		rc = xsd_parse_mac(a, m, err);
		if (rc)
			return rc;
		*lo = mac_to_u64(m);
		rc = xsd_parse_mac(b, m, err);
		if (rc)
			return rc;
		*hi = mac_to_u64(m);
		if ((*lo >> 24) != (*hi >> 24))
			return xsd_fail(err, -EINVAL,
					"mac-pool %s must stay within one OUI (first three octets)",
					value);
	} else {
		rc = xsd_parse_wwn(a, lo, err);
		if (rc)
			return rc;
		rc = xsd_parse_wwn(b, hi, err);
		if (rc)
			return rc;
	}
	if (*hi < *lo + 1)
		return xsd_fail(err, -EINVAL, "%s '%s' must hold at least two addresses, first < last",
				key, value);
	return 0;
}

int xsd_store_get_config(struct xsd_store *st, struct xsd_config *cfg, struct xsd_err *err)
{
	sqlite3_stmt *s;
	uint64_t lo, hi;

	memset(cfg, 0, sizeof(*cfg));
	cfg->auto_accept = false;
	cfg->hello_interval = 5;
	cfg->max_sessions = 4096;
	u64_to_mac(UINT64_C(0x025853000001), cfg->mac_pool_lo);
	u64_to_mac(UINT64_C(0x025853ffffff), cfg->mac_pool_hi);
	cfg->wwn_pool_lo = UINT64_C(0x3000585300000000);
	cfg->wwn_pool_hi = UINT64_C(0x30005853ffffffff);
	s = prep(st, "SELECT key, value FROM config", err);
	if (!s)
		return -EIO;
	while (sqlite3_step(s) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(s, 0);
		const char *v = (const char *)sqlite3_column_text(s, 1);

		if (!k || !v)
			continue;
		if (!strcmp(k, "auto-accept"))
			cfg->auto_accept = !strcmp(v, "on");
		else if (!strcmp(k, "hello-interval"))
			cfg->hello_interval = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(k, "max-sessions"))
			cfg->max_sessions = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(k, "mac-pool") && !parse_pool(k, v, true, &lo, &hi, NULL)) {
			u64_to_mac(lo, cfg->mac_pool_lo);
			u64_to_mac(hi, cfg->mac_pool_hi);
		} else if (!strcmp(k, "wwn-pool") && !parse_pool(k, v, false, &lo, &hi, NULL)) {
			cfg->wwn_pool_lo = lo;
			cfg->wwn_pool_hi = hi;
		}
	}
	sqlite3_finalize(s);
	return 0;
}

int xsd_store_set_config(struct xsd_store *st, const struct xsd_actor *who, const char *key,
			 const char *value, struct xsd_err *err)
{
	char canon[128];
	uint64_t v, lo, hi;
	bool on;
	size_t i;
	sqlite3_stmt *s;
	int rc;

	for (i = 0; i < sizeof(config_keys) / sizeof(config_keys[0]); i++)
		if (!strcmp(key, config_keys[i]))
			break;
	if (i == sizeof(config_keys) / sizeof(config_keys[0]))
		return xsd_fail(err, -EINVAL,
				"unknown setting '%.40s'; known: auto-accept, hello-interval, max-sessions, mac-pool, wwn-pool",
				key);
	if (!strcmp(key, "auto-accept")) {
		rc = xsd_parse_onoff("auto-accept", value, &on, err);
		snprintf(canon, sizeof(canon), "%s", on ? "on" : "off");
	} else if (!strcmp(key, "hello-interval")) {
		rc = xsd_parse_uint("hello interval", value, 1, 300, &v, err);
		snprintf(canon, sizeof(canon), "%" PRIu64, v);
	} else if (!strcmp(key, "max-sessions")) {
		rc = xsd_parse_uint("max sessions", value, 1, 65536, &v, err);
		snprintf(canon, sizeof(canon), "%" PRIu64, v);
	} else {
		bool mac = !strcmp(key, "mac-pool");

		rc = parse_pool(key, value, mac, &lo, &hi, err);
		if (!rc && mac) {
			uint8_t a[6], b[6];
			char sa[18], sb[18];

			u64_to_mac(lo, a);
			u64_to_mac(hi, b);
			xsd_format_mac(a, sa);
			xsd_format_mac(b, sb);
			snprintf(canon, sizeof(canon), "%s-%s", sa, sb);
		} else if (!rc) {
			char sa[24], sb[24];

			xsd_format_wwn(lo, sa);
			xsd_format_wwn(hi, sb);
			snprintf(canon, sizeof(canon), "%s-%s", sa, sb);
		}
	}
	if (rc)
		return rc;
	rc = begin(st, err);
	if (rc)
		return rc;
	s = prep(st, "INSERT OR REPLACE INTO config(key, value) VALUES(?, ?)", err);
	rc = s ? 0 : -EIO;
	if (s) {
		sqlite3_bind_text(s, 1, key, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 2, canon, -1, SQLITE_TRANSIENT);
		rc = step_done(st, s, err, "writing config");
	}
	if (!rc)
		rc = audit(st, who, err, "config set %s %s", key, canon);
	return finish(st, rc, err);
}

/* -------------------------------------------------------- plain names */

static const char *kind_table(const char *kind)
{
	if (!strcmp(kind, "uplink"))
		return "uplinks";
	if (!strcmp(kind, "storage-pool"))
		return "storage_pools";
	return NULL;
}

static const char *kind_human(const char *kind)
{
	return !strcmp(kind, "uplink") ? "uplink" : "storage pool";
}

int xsd_store_name_add(struct xsd_store *st, const struct xsd_actor *who, const char *kind,
		       const char *name, struct xsd_err *err)
{
	const char *table = kind_table(kind);
	char sql[96];
	sqlite3_stmt *s;
	int rc;

	if (!table)
		return xsd_fail(err, -EINVAL, "unknown kind '%.40s'", kind);
	rc = xsd_check_name(kind_human(kind), name,
			    !strcmp(kind, "uplink") ? XSD_UPLINK_MAX : XSD_NAME_MAX, err);
	if (rc)
		return rc;
	rc = begin(st, err);
	if (rc)
		return rc;
	snprintf(sql, sizeof(sql), "SELECT 1 FROM %s WHERE name = ?", table);
	rc = query_int(st, sql, name, 0, NULL, err);
	if (rc == 1)
		rc = xsd_fail(err, -EEXIST, "%s '%s' already exists", kind_human(kind), name);
	if (rc == 0) {
		snprintf(sql, sizeof(sql), "INSERT INTO %s(name) VALUES(?)", table);
		s = prep(st, sql, err);
		rc = s ? 0 : -EIO;
		if (s) {
			sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
			rc = step_done(st, s, err, "adding a name");
		}
	}
	if (!rc)
		rc = audit(st, who, err, "%s add %s", kind, name);
	return finish(st, rc, err);
}

int xsd_store_name_delete(struct xsd_store *st, const struct xsd_actor *who, const char *kind,
			  const char *name, struct xsd_err *err)
{
	const char *table = kind_table(kind);
	char sql[96];
	int64_t users = 0;
	int rc;

	if (!table)
		return xsd_fail(err, -EINVAL, "unknown kind '%.40s'", kind);
	rc = begin(st, err);
	if (rc)
		return rc;
	snprintf(sql, sizeof(sql), "SELECT 1 FROM %s WHERE name = ?", table);
	rc = query_int(st, sql, name, 0, NULL, err);
	if (rc == 0)
		rc = xsd_fail(err, -ENOENT, "%s '%.63s' does not exist", kind_human(kind), name);
	else if (rc == 1)
		rc = 0;
	if (!rc && table[0] == 'u') {
		rc = query_int(st, "SELECT count(*) FROM vnics WHERE uplink = ?", name, 0, &users,
			       err);
		if (rc == 1 && users > 0)
			rc = xsd_fail(err, -EBUSY, "uplink '%s' is used by %" PRId64
				      " vNIC(s); move or delete them first", name, users);
		else if (rc == 1)
			rc = 0;
	}
	if (!rc) {
		sqlite3_stmt *s;

		snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE name = ?", table);
		s = prep(st, sql, err);
		rc = s ? 0 : -EIO;
		if (s) {
			sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
			rc = step_done(st, s, err, "deleting a name");
		}
	}
	if (!rc)
		rc = audit(st, who, err, "%s delete %s", kind, name);
	return finish(st, rc, err);
}

static int check_ifname(const char *ifname, struct xsd_err *err)
{
	size_t n = strlen(ifname), i;

	if (n < 1 || n > 15)
		return xsd_fail(err, -EINVAL, "interface name '%.40s' must be 1 to 15 characters",
				ifname);
	for (i = 0; i < n; i++) {
		char c = ifname[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return xsd_fail(err, -EINVAL,
					"interface name '%.40s': only letters, digits, '-', '_', '.'",
					ifname);
	}
	return 0;
}

int xsd_store_uplink_add(struct xsd_store *st, const struct xsd_actor *who, const char *name,
			 const char *ifname, struct xsd_err *err)
{
	sqlite3_stmt *s;
	int rc;

	if (!ifname || !ifname[0])
		return xsd_store_name_add(st, who, "uplink", name, err);
	rc = xsd_check_name("uplink", name, XSD_UPLINK_MAX, err);
	if (!rc)
		rc = check_ifname(ifname, err);
	if (rc)
		return rc;
	rc = begin(st, err);
	if (rc)
		return rc;
	rc = query_int(st, "SELECT 1 FROM uplinks WHERE name = ?", name, 0, NULL, err);
	if (rc == 1)
		rc = xsd_fail(err, -EEXIST, "uplink '%s' already exists", name);
	if (rc == 0) {
		rc = query_int(st, "SELECT 1 FROM uplink_ifs WHERE interface = ?", ifname, 0, NULL,
			       err);
		if (rc == 1)
			rc = xsd_fail(err, -EEXIST, "interface '%s' is already an uplink", ifname);
	}
	if (rc == 0) {
		s = prep(st, "INSERT INTO uplinks(name) VALUES(?)", err);
		rc = s ? 0 : -EIO;
		if (s) {
			sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
			rc = step_done(st, s, err, "adding an uplink");
		}
	}
	if (rc == 0) {
		s = prep(st, "INSERT INTO uplink_ifs(name, interface) VALUES(?, ?)", err);
		rc = s ? 0 : -EIO;
		if (s) {
			sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(s, 2, ifname, -1, SQLITE_TRANSIENT);
			rc = step_done(st, s, err, "adding an uplink interface");
		}
	}
	if (!rc)
		rc = audit(st, who, err, "uplink add %s interface %s", name, ifname);
	return finish(st, rc, err);
}

int xsd_store_uplink_interface(struct xsd_store *st, const char *name, char *ifname, size_t cap,
			       struct xsd_err *err)
{
	sqlite3_stmt *s;
	int rc;

	rc = query_int(st, "SELECT 1 FROM uplinks WHERE name = ?", name, 0, NULL, err);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return xsd_fail(err, -ENOENT, "uplink '%.63s' does not exist", name);
	ifname[0] = 0;
	s = prep(st, "SELECT interface FROM uplink_ifs WHERE name = ?", err);
	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(s) == SQLITE_ROW)
		col_text(s, 0, ifname, cap);
	sqlite3_finalize(s);
	return 0;
}

int xsd_store_name_each(struct xsd_store *st, const char *kind, xsd_name_cb cb, void *arg,
			struct xsd_err *err)
{
	const char *table = kind_table(kind);
	char sql[96];
	sqlite3_stmt *s;
	int rc = 0;

	if (!table)
		return xsd_fail(err, -EINVAL, "unknown kind '%.40s'", kind);
	snprintf(sql, sizeof(sql), "SELECT name FROM %s ORDER BY name", table);
	s = prep(st, sql, err);
	if (!s)
		return -EIO;
	while (!rc && sqlite3_step(s) == SQLITE_ROW)
		rc = cb((const char *)sqlite3_column_text(s, 0), arg);
	sqlite3_finalize(s);
	return rc;
}

/* ------------------------------------------------------------ profiles */

static int profile_id(struct xsd_store *st, const char *name, int64_t *id, struct xsd_err *err)
{
	int rc = query_int(st, "SELECT id FROM profiles WHERE name = ?", name, 0, id, err);

	if (rc == 0)
		return xsd_fail(err, -ENOENT, "profile '%.63s' does not exist", name);
	return rc < 0 ? rc : 0;
}

/* Bind guids to profile id; each GUID may belong to one profile only. */
static int profile_bind(struct xsd_store *st, int64_t id, const char *pname,
			const uint64_t *guids, int n, struct xsd_err *err)
{
	for (int i = 0; i < n; i++) {
		sqlite3_stmt *s;
		char g[20];
		int rc;

		xsd_format_guid(guids[i], g);
		s = prep(st, "SELECT p.name FROM profile_ports pp JOIN profiles p"
			     " ON p.id = pp.profile_id WHERE pp.guid = ?", err);
		if (!s)
			return -EIO;
		sqlite3_bind_int64(s, 1, (int64_t)guids[i]);
		if (sqlite3_step(s) == SQLITE_ROW) {
			char owner[XSD_NAME_MAX + 1];

			col_text(s, 0, owner, sizeof(owner));
			sqlite3_finalize(s);
			if (!strcmp(owner, pname))
				return xsd_fail(err, -EEXIST, "host GUID %s is given twice", g);
			return xsd_fail(err, -EEXIST,
					"host GUID %s is already bound to profile '%s'", g, owner);
		}
		sqlite3_finalize(s);
		s = prep(st, "INSERT INTO profile_ports(guid, profile_id) VALUES(?, ?)", err);
		if (!s)
			return -EIO;
		sqlite3_bind_int64(s, 1, (int64_t)guids[i]);
		sqlite3_bind_int64(s, 2, id);
		rc = step_done(st, s, err, "binding a host GUID");
		if (rc)
			return rc;
	}
	return 0;
}

static int hostname_free(struct xsd_store *st, const char *hostname, const char *self,
			 struct xsd_err *err)
{
	sqlite3_stmt *s;
	int rc = 0;

	if (!hostname || !*hostname)
		return 0;
	s = prep(st, "SELECT name FROM profiles WHERE hostname = ?", err);
	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, hostname, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(s) == SQLITE_ROW) {
		char owner[XSD_NAME_MAX + 1];

		col_text(s, 0, owner, sizeof(owner));
		if (!self || strcmp(owner, self))
			rc = xsd_fail(err, -EEXIST, "hostname '%s' is already bound to profile '%s'",
				      hostname, owner);
	}
	sqlite3_finalize(s);
	return rc;
}

static void guid_list_text(const uint64_t *g, int n, char *out, size_t cap)
{
	size_t off = 0;

	out[0] = 0;
	for (int i = 0; i < n && off + 20 < cap; i++) {
		char t[20];

		xsd_format_guid(g[i], t);
		off += (size_t)snprintf(out + off, cap - off, "%s%s", i ? "," : "", t);
	}
}

int xsd_store_profile_add(struct xsd_store *st, const struct xsd_actor *who,
			  const struct xsd_profile *p, struct xsd_err *err)
{
	char gl[XSD_PROFILE_GUIDS_MAX * 20 + 1];
	sqlite3_stmt *s;
	int rc;

	rc = xsd_check_name("profile", p->name, XSD_NAME_MAX, err);
	if (!rc && p->hostname[0])
		rc = xsd_check_hostname(p->hostname, err);
	if (!rc && (p->n_guids < 0 || p->n_guids > XSD_PROFILE_GUIDS_MAX))
		rc = xsd_fail(err, -EINVAL, "a profile binds at most %d host GUIDs",
			      XSD_PROFILE_GUIDS_MAX);
	if (rc)
		return rc;
	rc = begin(st, err);
	if (rc)
		return rc;
	rc = query_int(st, "SELECT 1 FROM profiles WHERE name = ?", p->name, 0, NULL, err);
	if (rc == 1)
		rc = xsd_fail(err, -EEXIST, "profile '%s' already exists", p->name);
	if (!rc)
		rc = hostname_free(st, p->hostname, NULL, err);
	if (!rc) {
		s = prep(st, "INSERT INTO profiles(name, hostname, created) VALUES(?, ?, ?)", err);
		rc = s ? 0 : -EIO;
		if (s) {
			sqlite3_bind_text(s, 1, p->name, -1, SQLITE_TRANSIENT);
			bind_text_or_null(s, 2, p->hostname);
			sqlite3_bind_int64(s, 3, (int64_t)time(NULL));
			rc = step_done(st, s, err, "adding a profile");
		}
	}
	if (!rc)
		rc = profile_bind(st, sqlite3_last_insert_rowid(st->db), p->name, p->guids,
				  p->n_guids, err);
	guid_list_text(p->guids, p->n_guids, gl, sizeof(gl));
	if (!rc)
		rc = audit(st, who, err, "profile add %s%s%s%s%s", p->name,
			   p->hostname[0] ? " hostname=" : "", p->hostname,
			   p->n_guids ? " host-guids=" : "", gl);
	return finish(st, rc, err);
}

int xsd_store_profile_set(struct xsd_store *st, const struct xsd_actor *who, const char *name,
			  bool set_hostname, const char *hostname, bool set_guids,
			  const uint64_t *guids, int n_guids, struct xsd_err *err)
{
	char gl[XSD_PROFILE_GUIDS_MAX * 20 + 1];
	int64_t id;
	int rc;

	if (!set_hostname && !set_guids)
		return xsd_fail(err, -EINVAL, "nothing to change; give --hostname or --host-guid");
	if (set_hostname && hostname && hostname[0]) {
		rc = xsd_check_hostname(hostname, err);
		if (rc)
			return rc;
	}
	if (set_guids && (n_guids < 0 || n_guids > XSD_PROFILE_GUIDS_MAX))
		return xsd_fail(err, -EINVAL, "a profile binds at most %d host GUIDs",
				XSD_PROFILE_GUIDS_MAX);
	rc = begin(st, err);
	if (rc)
		return rc;
	rc = profile_id(st, name, &id, err);
	if (!rc && set_hostname) {
		sqlite3_stmt *s;

		rc = hostname_free(st, hostname, name, err);
		s = rc ? NULL : prep(st, "UPDATE profiles SET hostname = ? WHERE id = ?", err);
		if (!rc && !s)
			rc = -EIO;
		if (s) {
			bind_text_or_null(s, 1, hostname);
			sqlite3_bind_int64(s, 2, id);
			rc = step_done(st, s, err, "updating a profile");
		}
	}
	if (!rc && set_guids) {
		sqlite3_stmt *s = prep(st, "DELETE FROM profile_ports WHERE profile_id = ?", err);

		rc = s ? 0 : -EIO;
		if (s) {
			sqlite3_bind_int64(s, 1, id);
			rc = step_done(st, s, err, "updating a profile");
		}
		if (!rc)
			rc = profile_bind(st, id, name, guids, n_guids, err);
	}
	if (set_guids)
		guid_list_text(guids, n_guids, gl, sizeof(gl));
	if (!rc)
		rc = audit(st, who, err, "profile set %s%s%s%s%s", name,
			   set_hostname ? " hostname=" : "",
			   set_hostname ? (hostname && *hostname ? hostname : "none") : "",
			   set_guids ? " host-guids=" : "",
			   set_guids ? (n_guids ? gl : "none") : "");
	return finish(st, rc, err);
}

int xsd_store_profile_delete(struct xsd_store *st, const struct xsd_actor *who,
			     const char *name, struct xsd_err *err)
{
	int64_t id, nv = 0, nh = 0;
	sqlite3_stmt *s;
	int rc;

	rc = begin(st, err);
	if (rc)
		return rc;
	rc = profile_id(st, name, &id, err);
	if (!rc)
		rc = query_int(st, "SELECT count(*) FROM vnics WHERE profile_id = ?", NULL, id, &nv,
			       err) < 0 ? -EIO : 0;
	if (!rc)
		rc = query_int(st, "SELECT count(*) FROM vhbas WHERE profile_id = ?", NULL, id, &nh,
			       err) < 0 ? -EIO : 0;
	if (!rc && (nv || nh))
		rc = xsd_fail(err, -EBUSY,
			      "profile '%s' still has %" PRId64 " vNIC(s) and %" PRId64
			      " vHBA(s); delete them first", name, nv, nh);
	if (!rc) {
		s = prep(st, "DELETE FROM profiles WHERE id = ?", err);
		rc = s ? 0 : -EIO;
		if (s) {
			sqlite3_bind_int64(s, 1, id);
			rc = step_done(st, s, err, "deleting a profile");
		}
	}
	if (!rc)
		rc = audit(st, who, err, "profile delete %s", name);
	return finish(st, rc, err);
}

static int profile_fill(struct xsd_store *st, sqlite3_stmt *row, struct xsd_profile *p,
			struct xsd_err *err)
{
	int64_t id = sqlite3_column_int64(row, 0);
	sqlite3_stmt *s;

	memset(p, 0, sizeof(*p));
	col_text(row, 1, p->name, sizeof(p->name));
	col_text(row, 2, p->hostname, sizeof(p->hostname));
	p->created = (uint64_t)sqlite3_column_int64(row, 3);
	s = prep(st, "SELECT guid FROM profile_ports WHERE profile_id = ? ORDER BY rowid", err);
	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, id);
	while (sqlite3_step(s) == SQLITE_ROW && p->n_guids < XSD_PROFILE_GUIDS_MAX)
		p->guids[p->n_guids++] = (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return 0;
}

#define PROFILE_COLS "SELECT id, name, hostname, created FROM profiles "

int xsd_store_profile_get(struct xsd_store *st, const char *name, struct xsd_profile *p,
			  struct xsd_err *err)
{
	sqlite3_stmt *s = prep(st, PROFILE_COLS "WHERE name = ?", err);
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(s) == SQLITE_ROW)
		rc = profile_fill(st, s, p, err);
	else
		rc = xsd_fail(err, -ENOENT, "profile '%.63s' does not exist", name);
	sqlite3_finalize(s);
	return rc;
}

int xsd_store_profile_each(struct xsd_store *st, xsd_profile_cb cb, void *arg,
			   struct xsd_err *err)
{
	sqlite3_stmt *s = prep(st, PROFILE_COLS "ORDER BY name", err);
	struct xsd_profile p;
	int rc = 0;

	if (!s)
		return -EIO;
	while (!rc && sqlite3_step(s) == SQLITE_ROW) {
		rc = profile_fill(st, s, &p, err);
		if (!rc)
			rc = cb(&p, arg);
	}
	sqlite3_finalize(s);
	return rc;
}

int xsd_store_profile_for_host(struct xsd_store *st, uint64_t port_guid, const char *hostname,
			       struct xsd_profile *p, struct xsd_err *err)
{
	sqlite3_stmt *s;
	int rc = -ENOENT;

	s = prep(st, PROFILE_COLS "WHERE id = (SELECT profile_id FROM profile_ports WHERE guid = ?)",
		 err);
	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, (int64_t)port_guid);
	if (sqlite3_step(s) == SQLITE_ROW)
		rc = profile_fill(st, s, p, err);
	sqlite3_finalize(s);
	if (rc != -ENOENT || !hostname || !*hostname)
		goto out;
	s = prep(st, PROFILE_COLS "WHERE hostname = ?", err);
	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, hostname, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(s) == SQLITE_ROW)
		rc = profile_fill(st, s, p, err);
	sqlite3_finalize(s);
out:
	if (rc == -ENOENT)
		xsd_fail(err, -ENOENT, "no profile binds this host");
	return rc;
}

/* --------------------------------------------------------------- vNICs */

static int check_rates(uint32_t cir, uint32_t pir, struct xsd_err *err)
{
	int rc = xsd_check_range("CIR", cir, 0, XSD_RATE_MAX, err);

	if (!rc)
		rc = xsd_check_range("PIR", pir, 0, XSD_RATE_MAX, err);
	if (!rc && cir && pir && pir < cir)
		rc = xsd_fail(err, -EINVAL, "PIR %u is below CIR %u; PIR must be at least CIR", pir,
			      cir);
	return rc;
}

/* Validate a complete vNIC row and canonicalise its VLAN list. */
static int vnic_check(void *row, struct xsd_err *err)
{
	struct xsd_vnic *v = row;
	char canon[XSD_VLANS_TEXT];
	unsigned int n = 0;
	int rc;

	rc = xsd_check_name("vnic", v->name, XSD_DEV_NAME_MAX, err);
	if (!rc)
		rc = xsd_check_range("MTU", v->mtu, XSD_MTU_MIN, XSD_MTU_MAX, err);
	if (!rc && v->vlans[0])
		rc = xsd_parse_vlans(v->vlans, canon, sizeof(canon), &n, err);
	if (!rc && !v->trunk && n > 1)
		rc = xsd_fail(err, -EINVAL,
			      "access mode carries one VLAN, %u were given; use --vlan-mode trunk for a list",
			      n);
	if (!rc && v->ha_group[0])
		rc = xsd_check_name("HA group", v->ha_group, XSD_HA_GROUP_MAX, err);
	if (!rc)
		rc = check_rates(v->cir_mbps, v->pir_mbps, err);
	if (!rc)
		snprintf(v->vlans, sizeof(v->vlans), "%s", v->vlans[0] ? canon : "");
	return rc;
}

static int vnic_mac_owner(struct xsd_store *st, uint64_t mac, const char *self,
			  struct xsd_err *err)
{
	sqlite3_stmt *s = prep(st, "SELECT name FROM vnics WHERE mac = ?", err);
	int rc = 0;

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, (int64_t)mac);
	if (sqlite3_step(s) == SQLITE_ROW) {
		char owner[XSD_DEV_NAME_MAX + 1], m[18];
		uint8_t b[6];

		col_text(s, 0, owner, sizeof(owner));
		if (!self || strcmp(owner, self)) {
			u64_to_mac(mac, b);
			xsd_format_mac(b, m);
			rc = xsd_fail(err, -EEXIST, "MAC %s is already used by vnic '%s'", m, owner);
		}
	}
	sqlite3_finalize(s);
	return rc;
}

static int mac_alloc(struct xsd_store *st, uint8_t mac[6], struct xsd_err *err)
{
	struct xsd_config cfg;
	uint64_t lo, hi, size;
	int64_t cursor = 0;
	int rc;

	rc = xsd_store_get_config(st, &cfg, err);
	if (rc)
		return rc;
	lo = mac_to_u64(cfg.mac_pool_lo);
	hi = mac_to_u64(cfg.mac_pool_hi);
	size = hi - lo + 1;
	rc = meta_get(st, "mac_cursor", &cursor, err);
	if (rc < 0)
		return rc;
	if ((uint64_t)cursor < lo || (uint64_t)cursor > hi)
		cursor = (int64_t)lo;
	for (uint64_t i = 0; i < size; i++) {
		uint64_t cand = lo + ((uint64_t)cursor - lo + i) % size;

		rc = query_int(st, "SELECT 1 FROM vnics WHERE mac = ?", NULL, (int64_t)cand, NULL,
			       err);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			u64_to_mac(cand, mac);
			return meta_set(st, "mac_cursor", (int64_t)(cand + 1), err);
		}
	}
	{
		char a[18], b[18];

		xsd_format_mac(cfg.mac_pool_lo, a);
		xsd_format_mac(cfg.mac_pool_hi, b);
		return xsd_fail(err, -ENOSPC, "MAC pool %s-%s is exhausted; give --mac or widen it with 'xcm config set mac-pool'",
				a, b);
	}
}

static int uplink_exists(struct xsd_store *st, const char *uplink, struct xsd_err *err)
{
	int rc;

	if (!uplink[0])
		return 0;
	rc = query_int(st, "SELECT 1 FROM uplinks WHERE name = ?", uplink, 0, NULL, err);
	if (rc == 0)
		return xsd_fail(err, -ENOENT, "uplink '%.63s' does not exist", uplink);
	return rc < 0 ? rc : 0;
}

#define VNIC_COLS                                                                    \
	"SELECT v.resource_id, v.generation, v.name, p.name, v.mac, v.mtu, v.vlan_mode," \
	" v.vlans, v.uplink, v.cir, v.pir, v.ha_group, v.admin_up"                       \
	" FROM vnics v JOIN profiles p ON p.id = v.profile_id "

static void vnic_fill(sqlite3_stmt *s, void *row)
{
	struct xsd_vnic *v = row;
	char mode[8];

	memset(v, 0, sizeof(*v));
	v->resource_id = (uint64_t)sqlite3_column_int64(s, 0);
	v->generation = (uint64_t)sqlite3_column_int64(s, 1);
	col_text(s, 2, v->name, sizeof(v->name));
	col_text(s, 3, v->profile, sizeof(v->profile));
	u64_to_mac((uint64_t)sqlite3_column_int64(s, 4), v->mac);
	v->mtu = (uint32_t)sqlite3_column_int64(s, 5);
	col_text(s, 6, mode, sizeof(mode));
	v->trunk = !strcmp(mode, "trunk");
	col_text(s, 7, v->vlans, sizeof(v->vlans));
	col_text(s, 8, v->uplink, sizeof(v->uplink));
	v->cir_mbps = (uint32_t)sqlite3_column_int64(s, 9);
	v->pir_mbps = (uint32_t)sqlite3_column_int64(s, 10);
	col_text(s, 11, v->ha_group, sizeof(v->ha_group));
	v->admin_up = sqlite3_column_int(s, 12) != 0;
}

/* Text of the fields in `have` for the audit log. */
static void vnic_desc(const void *row, unsigned int have, char *out, size_t cap)
{
	const struct xsd_vnic *v = row;
	char m[18];
	size_t off = 0;

#define APP(...)                                                                   \
	do {                                                                       \
		if (off < cap)                                                     \
			off += (size_t)snprintf(out + off, cap - off, __VA_ARGS__); \
	} while (0)
	out[0] = 0;
	xsd_format_mac(v->mac, m);
	if (have & XSD_VNIC_PROFILE)
		APP(" profile=%s", v->profile);
	if (have & XSD_VNIC_MAC)
		APP(" mac=%s", m);
	if (have & XSD_VNIC_MTU)
		APP(" mtu=%u", v->mtu);
	if (have & XSD_VNIC_VLAN_MODE)
		APP(" vlan-mode=%s", v->trunk ? "trunk" : "access");
	if (have & XSD_VNIC_VLANS)
		APP(" vlans=%.100s", v->vlans[0] ? v->vlans : "none");
	if (have & XSD_VNIC_UPLINK)
		APP(" uplink=%s", v->uplink[0] ? v->uplink : "none");
	if (have & XSD_VNIC_CIR)
		APP(" cir=%u", v->cir_mbps);
	if (have & XSD_VNIC_PIR)
		APP(" pir=%u", v->pir_mbps);
	if (have & XSD_VNIC_HA_GROUP)
		APP(" ha-group=%s", v->ha_group[0] ? v->ha_group : "none");
	if (have & XSD_VNIC_ADMIN)
		APP(" admin=%s", v->admin_up ? "up" : "down");
#undef APP
}

static int vnic_write(struct xsd_store *st, const void *row, int64_t pid, bool insert,
		      struct xsd_err *err)
{
	const struct xsd_vnic *v = row;
	sqlite3_stmt *s;

	s = prep(st, insert ? "INSERT INTO vnics(profile_id, mac, mtu, vlan_mode, vlans, uplink,"
			      " cir, pir, ha_group, admin_up, generation, resource_id, name)"
			      " VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
			    : "UPDATE vnics SET profile_id = ?, mac = ?, mtu = ?, vlan_mode = ?,"
			      " vlans = ?, uplink = ?, cir = ?, pir = ?, ha_group = ?, admin_up = ?,"
			      " generation = ? WHERE resource_id = ? AND name = ?", err);
	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, pid);
	sqlite3_bind_int64(s, 2, (int64_t)mac_to_u64(v->mac));
	sqlite3_bind_int64(s, 3, v->mtu);
	sqlite3_bind_text(s, 4, v->trunk ? "trunk" : "access", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, v->vlans, -1, SQLITE_TRANSIENT);
	bind_text_or_null(s, 6, v->uplink);
	sqlite3_bind_int64(s, 7, v->cir_mbps);
	sqlite3_bind_int64(s, 8, v->pir_mbps);
	bind_text_or_null(s, 9, v->ha_group);
	sqlite3_bind_int(s, 10, v->admin_up);
	sqlite3_bind_int64(s, 11, (int64_t)v->generation);
	sqlite3_bind_int64(s, 12, (int64_t)v->resource_id);
	sqlite3_bind_text(s, 13, v->name, -1, SQLITE_TRANSIENT);
	return step_done(st, s, err, insert ? "adding a vnic" : "updating a vnic");
}

/* --------------------------------------------------------------- vHBAs */

static int vhba_check(void *row, struct xsd_err *err)
{
	struct xsd_vhba *v = row;
	char canon[XSD_LUNS_TEXT], canon_t[XSD_TARGETS_TEXT];
	unsigned int n;
	int rc;

	rc = xsd_check_name("vhba", v->name, XSD_DEV_NAME_MAX, err);
	if (!rc)
		rc = xsd_check_range("queue depth", v->queue_depth, XSD_QDEPTH_MIN, XSD_QDEPTH_MAX,
				     err);
	if (!rc)
		rc = xsd_check_range("link-down timeout", v->link_down_timeout, 0, XSD_LDTO_MAX,
				     err);
	if (!rc && v->lun_mask[0]) {
		rc = xsd_parse_luns(v->lun_mask, canon, sizeof(canon), &n, err);
		if (!rc)
			snprintf(v->lun_mask, sizeof(v->lun_mask), "%s", canon);
	}
	if (!rc && v->targets[0]) {
		rc = xsd_parse_targets(v->targets, canon_t, sizeof(canon_t), err);
		if (!rc)
			memcpy(v->targets, canon_t, sizeof(v->targets));
	}
	if (!rc && v->wwnn == v->wwpn)
		rc = xsd_fail(err, -EINVAL, "WWNN and WWPN must differ");
	return rc;
}

/* Is wwn in use as a WWNN or WWPN of a vHBA, or the WWPN of a target,
 * other than self (kind "vhba" or "target" and its name)? */
static int wwn_owner(struct xsd_store *st, uint64_t wwn, const char *self_kind, const char *self,
		     struct xsd_err *err)
{
	sqlite3_stmt *s = prep(st, "SELECT 'vhba', name FROM vhbas WHERE wwnn = ?1 OR wwpn = ?1"
				   " UNION ALL SELECT 'target', name FROM targets WHERE wwpn = ?1",
			       err);
	int rc = 0;

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, (int64_t)wwn);
	while (!rc && sqlite3_step(s) == SQLITE_ROW) {
		char kind[8], owner[XSD_NAME_MAX + 1], w[24];

		col_text(s, 0, kind, sizeof(kind));
		col_text(s, 1, owner, sizeof(owner));
		if (!self || strcmp(kind, self_kind) || strcmp(owner, self)) {
			xsd_format_wwn(wwn, w);
			rc = xsd_fail(err, -EEXIST, "WWN %s is already used by %s '%s'", w, kind,
				      owner);
		}
	}
	sqlite3_finalize(s);
	return rc;
}

static int vhba_wwn_owner(struct xsd_store *st, uint64_t wwn, const char *self,
			  struct xsd_err *err)
{
	return wwn_owner(st, wwn, "vhba", self, err);
}

/* A WWNN/WWPN pair from the pool: even offset = WWNN, next = WWPN. A
 * target takes a pair too and uses its WWPN, so vHBA and target port
 * names come from one pool and never collide. */
static int wwn_alloc(struct xsd_store *st, uint64_t *wwnn, uint64_t *wwpn, struct xsd_err *err)
{
	struct xsd_config cfg;
	uint64_t pairs;
	int64_t cursor = 0;
	int rc;

	rc = xsd_store_get_config(st, &cfg, err);
	if (rc)
		return rc;
	pairs = (cfg.wwn_pool_hi - cfg.wwn_pool_lo + 1) / 2;
	rc = meta_get(st, "wwn_cursor", &cursor, err);
	if (rc < 0)
		return rc;
	if ((uint64_t)cursor >= pairs)
		cursor = 0;
	for (uint64_t i = 0; i < pairs; i++) {
		uint64_t k = ((uint64_t)cursor + i) % pairs;
		uint64_t a = cfg.wwn_pool_lo + 2 * k, b = a + 1;

		rc = wwn_owner(st, a, NULL, NULL, NULL);
		if (!rc)
			rc = wwn_owner(st, b, NULL, NULL, NULL);
		if (rc == -EIO)
			return db_fail(st, err, "allocating a WWN");
		if (rc == 0) {
			*wwnn = a;
			*wwpn = b;
			return meta_set(st, "wwn_cursor", (int64_t)(k + 1), err);
		}
	}
	return xsd_fail(err, -ENOSPC,
			"WWN pool is exhausted; give --wwnn/--wwpn or widen it with 'xcm config set wwn-pool'");
}

/* Every name of a canonical target list must be a target. */
static int targets_exist(struct xsd_store *st, const char *list, struct xsd_err *err)
{
	char t[XSD_TARGETS_TEXT], *save = NULL;
	int rc;

	snprintf(t, sizeof(t), "%s", list);
	for (char *n = strtok_r(t, ",", &save); n; n = strtok_r(NULL, ",", &save)) {
		rc = query_int(st, "SELECT 1 FROM targets WHERE name = ?", n, 0, NULL, err);
		if (rc == 0)
			return xsd_fail(err, -ENOENT, "target '%s' does not exist", n);
		if (rc < 0)
			return rc;
	}
	return 0;
}

#define VHBA_COLS                                                                     \
	"SELECT v.resource_id, v.generation, v.name, p.name, v.wwnn, v.wwpn, v.targets,"  \
	" v.lun_mask, v.queue_depth, v.link_down_timeout, v.admin_up"                     \
	" FROM vhbas v JOIN profiles p ON p.id = v.profile_id "

static void vhba_fill(sqlite3_stmt *s, void *row)
{
	struct xsd_vhba *v = row;

	memset(v, 0, sizeof(*v));
	v->resource_id = (uint64_t)sqlite3_column_int64(s, 0);
	v->generation = (uint64_t)sqlite3_column_int64(s, 1);
	col_text(s, 2, v->name, sizeof(v->name));
	col_text(s, 3, v->profile, sizeof(v->profile));
	v->wwnn = (uint64_t)sqlite3_column_int64(s, 4);
	v->wwpn = (uint64_t)sqlite3_column_int64(s, 5);
	col_text(s, 6, v->targets, sizeof(v->targets));
	col_text(s, 7, v->lun_mask, sizeof(v->lun_mask));
	v->queue_depth = (uint32_t)sqlite3_column_int64(s, 8);
	v->link_down_timeout = (uint32_t)sqlite3_column_int64(s, 9);
	v->admin_up = sqlite3_column_int(s, 10) != 0;
}

static void vhba_desc(const void *row, unsigned int have, char *out, size_t cap)
{
	const struct xsd_vhba *v = row;
	char a[24], b[24];
	size_t off = 0;

#define APP(...)                                                                   \
	do {                                                                       \
		if (off < cap)                                                     \
			off += (size_t)snprintf(out + off, cap - off, __VA_ARGS__); \
	} while (0)
	out[0] = 0;
	xsd_format_wwn(v->wwnn, a);
	xsd_format_wwn(v->wwpn, b);
	if (have & XSD_VHBA_PROFILE)
		APP(" profile=%s", v->profile);
	if (have & XSD_VHBA_WWNN)
		APP(" wwnn=%s", a);
	if (have & XSD_VHBA_WWPN)
		APP(" wwpn=%s", b);
	if (have & XSD_VHBA_TARGETS)
		APP(" targets=%.100s", v->targets[0] ? v->targets : "none");
	if (have & XSD_VHBA_LUNS)
		APP(" lun-mask=%.100s", v->lun_mask[0] ? v->lun_mask : "none");
	if (have & XSD_VHBA_QDEPTH)
		APP(" queue-depth=%u", v->queue_depth);
	if (have & XSD_VHBA_LDTO)
		APP(" link-down-timeout=%u", v->link_down_timeout);
	if (have & XSD_VHBA_ADMIN)
		APP(" admin=%s", v->admin_up ? "up" : "down");
#undef APP
}

static int vhba_write(struct xsd_store *st, const void *row, int64_t pid, bool insert,
		      struct xsd_err *err)
{
	const struct xsd_vhba *v = row;
	sqlite3_stmt *s;

	s = prep(st, insert ? "INSERT INTO vhbas(profile_id, wwnn, wwpn, targets, lun_mask,"
			      " queue_depth, link_down_timeout, admin_up, generation, resource_id,"
			      " name) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
			    : "UPDATE vhbas SET profile_id = ?, wwnn = ?, wwpn = ?, targets = ?,"
			      " lun_mask = ?, queue_depth = ?, link_down_timeout = ?, admin_up = ?,"
			      " generation = ? WHERE resource_id = ? AND name = ?", err);
	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, pid);
	sqlite3_bind_int64(s, 2, (int64_t)v->wwnn);
	sqlite3_bind_int64(s, 3, (int64_t)v->wwpn);
	sqlite3_bind_text(s, 4, v->targets, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 5, v->lun_mask, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 6, v->queue_depth);
	sqlite3_bind_int64(s, 7, v->link_down_timeout);
	sqlite3_bind_int(s, 8, v->admin_up);
	sqlite3_bind_int64(s, 9, (int64_t)v->generation);
	sqlite3_bind_int64(s, 10, (int64_t)v->resource_id);
	sqlite3_bind_text(s, 11, v->name, -1, SQLITE_TRANSIENT);
	return step_done(st, s, err, insert ? "adding a vhba" : "updating a vhba");
}

/* ---------------------------------------- vNIC and vHBA: add and set */

/* What differs between adding and changing a vNIC and a vHBA; dev_add()
 * and dev_set() below do the rest, once for both. */
static int vnic_prepare(void *row, unsigned int have, struct xsd_err *err)
{
	struct xsd_vnic *v = row;

	if (!(have & XSD_VNIC_MTU))
		v->mtu = XSD_MTU_DEFAULT;
	if (!(have & XSD_VNIC_VLAN_MODE))
		v->trunk = 0;
	if (!(have & XSD_VNIC_VLANS))
		v->vlans[0] = 0;
	if (!(have & XSD_VNIC_UPLINK))
		v->uplink[0] = 0;
	if (!(have & XSD_VNIC_CIR))
		v->cir_mbps = 0;
	if (!(have & XSD_VNIC_PIR))
		v->pir_mbps = 0;
	if (!(have & XSD_VNIC_HA_GROUP))
		v->ha_group[0] = 0;
	if (!(have & XSD_VNIC_ADMIN))
		v->admin_up = true;
	if (!(have & XSD_VNIC_MAC))
		memset(v->mac, 0, 6);
	return 0;
}

/* After the row checks, in the transaction: references and addresses. */
static int vnic_add_refs(struct xsd_store *st, void *row, unsigned int have, struct xsd_err *err)
{
	struct xsd_vnic *v = row;
	int rc = uplink_exists(st, v->uplink, err);

	if (!rc && (have & XSD_VNIC_MAC))
		rc = vnic_mac_owner(st, mac_to_u64(v->mac), NULL, err);
	else if (!rc)
		rc = mac_alloc(st, v->mac, err);
	return rc;
}

static void vnic_merge(void *row, const void *from, unsigned int have)
{
	struct xsd_vnic *cur = row;
	const struct xsd_vnic *v = from;

	if (have & XSD_VNIC_PROFILE)
		snprintf(cur->profile, sizeof(cur->profile), "%s", v->profile);
	if (have & XSD_VNIC_MAC)
		memcpy(cur->mac, v->mac, 6);
	if (have & XSD_VNIC_MTU)
		cur->mtu = v->mtu;
	if (have & XSD_VNIC_VLAN_MODE)
		cur->trunk = v->trunk;
	if (have & XSD_VNIC_VLANS)
		snprintf(cur->vlans, sizeof(cur->vlans), "%s", v->vlans);
	if (have & XSD_VNIC_UPLINK)
		snprintf(cur->uplink, sizeof(cur->uplink), "%s", v->uplink);
	if (have & XSD_VNIC_CIR)
		cur->cir_mbps = v->cir_mbps;
	if (have & XSD_VNIC_PIR)
		cur->pir_mbps = v->pir_mbps;
	if (have & XSD_VNIC_HA_GROUP)
		snprintf(cur->ha_group, sizeof(cur->ha_group), "%s", v->ha_group);
	if (have & XSD_VNIC_ADMIN)
		cur->admin_up = v->admin_up;
}

static int vnic_set_refs(struct xsd_store *st, void *row, unsigned int have, struct xsd_err *err)
{
	struct xsd_vnic *cur = row;
	int rc = 0;

	if (have & XSD_VNIC_UPLINK)
		rc = uplink_exists(st, cur->uplink, err);
	if (!rc && (have & XSD_VNIC_MAC))
		rc = vnic_mac_owner(st, mac_to_u64(cur->mac), cur->name, err);
	return rc;
}

static int vhba_prepare(void *row, unsigned int have, struct xsd_err *err)
{
	struct xsd_vhba *v = row;

	if (!(have & XSD_VHBA_TARGETS))
		v->targets[0] = 0;
	if (!(have & XSD_VHBA_LUNS))
		v->lun_mask[0] = 0;
	if (!(have & XSD_VHBA_QDEPTH))
		v->queue_depth = XSD_QDEPTH_DEFAULT;
	if (!(have & XSD_VHBA_LDTO))
		v->link_down_timeout = XSD_LDTO_DEFAULT;
	if (!(have & XSD_VHBA_ADMIN))
		v->admin_up = true;
	if ((have & XSD_VHBA_WWNN) != ((have & XSD_VHBA_WWPN) ? XSD_VHBA_WWNN : 0))
		return xsd_fail(err, -EINVAL, "give both --wwnn and --wwpn, or neither (pool)");
	if (!(have & XSD_VHBA_WWNN))
		v->wwnn = v->wwpn = 0;
	return 0;
}

static int vhba_add_refs(struct xsd_store *st, void *row, unsigned int have, struct xsd_err *err)
{
	struct xsd_vhba *v = row;
	int rc;

	if (have & XSD_VHBA_WWNN) {
		rc = vhba_wwn_owner(st, v->wwnn, NULL, err);
		if (!rc)
			rc = vhba_wwn_owner(st, v->wwpn, NULL, err);
	} else {
		rc = wwn_alloc(st, &v->wwnn, &v->wwpn, err);
		if (!rc)
			rc = vhba_check(v, err);
	}
	if (!rc && v->targets[0])
		rc = targets_exist(st, v->targets, err);
	return rc;
}

static void vhba_merge(void *row, const void *from, unsigned int have)
{
	struct xsd_vhba *cur = row;
	const struct xsd_vhba *v = from;

	if (have & XSD_VHBA_PROFILE)
		snprintf(cur->profile, sizeof(cur->profile), "%s", v->profile);
	if (have & XSD_VHBA_WWNN)
		cur->wwnn = v->wwnn;
	if (have & XSD_VHBA_WWPN)
		cur->wwpn = v->wwpn;
	if (have & XSD_VHBA_TARGETS)
		snprintf(cur->targets, sizeof(cur->targets), "%s", v->targets);
	if (have & XSD_VHBA_LUNS)
		snprintf(cur->lun_mask, sizeof(cur->lun_mask), "%s", v->lun_mask);
	if (have & XSD_VHBA_QDEPTH)
		cur->queue_depth = v->queue_depth;
	if (have & XSD_VHBA_LDTO)
		cur->link_down_timeout = v->link_down_timeout;
	if (have & XSD_VHBA_ADMIN)
		cur->admin_up = v->admin_up;
}

static int vhba_set_refs(struct xsd_store *st, void *row, unsigned int have, struct xsd_err *err)
{
	struct xsd_vhba *cur = row;
	int rc = 0;

	if (have & XSD_VHBA_TARGETS)
		rc = targets_exist(st, cur->targets, err);
	if (!rc && (have & XSD_VHBA_WWNN))
		rc = vhba_wwn_owner(st, cur->wwnn, cur->name, err);
	if (!rc && (have & XSD_VHBA_WWPN))
		rc = vhba_wwn_owner(st, cur->wwpn, cur->name, err);
	return rc;
}

/* ----------------------------------------------------------- audit log */

int xsd_store_audit_each(struct xsd_store *st, int limit, xsd_audit_cb cb, void *arg,
			 struct xsd_err *err)
{
	sqlite3_stmt *s = prep(st, "SELECT seq, at, uid, user, what FROM audit_log"
				   " ORDER BY seq DESC LIMIT ?", err);
	struct xsd_audit a;
	int rc = 0;

	if (!s)
		return -EIO;
	sqlite3_bind_int(s, 1, limit > 0 ? limit : -1);
	while (!rc && sqlite3_step(s) == SQLITE_ROW) {
		a.seq = sqlite3_column_int64(s, 0);
		a.when = (uint64_t)sqlite3_column_int64(s, 1);
		a.uid = (uint32_t)sqlite3_column_int64(s, 2);
		col_text(s, 3, a.user, sizeof(a.user));
		col_text(s, 4, a.what, sizeof(a.what));
		rc = cb(&a, arg);
	}
	sqlite3_finalize(s);
	return rc;
}

/* ------------------------------------------------------- host records */

int xsd_store_hosts_replace(struct xsd_store *st, const struct xsd_host_rec *recs, size_t n,
			    struct xsd_err *err)
{
	sqlite3_stmt *s = NULL;
	int rc;

	rc = begin(st, err);
	if (rc)
		return rc;
	rc = exec(st, "DELETE FROM hosts", err);
	if (!rc) {
		s = prep(st, "INSERT INTO hosts(name, port_guid, lid, profile, state, reason,"
			     " accepted, reconnects, last_change) VALUES(?,?,?,?,?,?,?,?,?)", err);
		if (!s)
			rc = -EIO;
	}
	for (size_t i = 0; !rc && i < n; i++) {
		const struct xsd_host_rec *h = &recs[i];

		sqlite3_reset(s);
		sqlite3_bind_text(s, 1, h->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)h->port_guid);
		sqlite3_bind_int64(s, 3, h->lid);
		sqlite3_bind_text(s, 4, h->profile, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 5, h->state, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 6, h->reason, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 7, h->accepted);
		sqlite3_bind_int64(s, 8, h->reconnects);
		sqlite3_bind_int64(s, 9, (sqlite3_int64)h->last_change);
		if (sqlite3_step(s) != SQLITE_DONE)
			rc = db_fail(st, err, "saving the host records");
	}
	sqlite3_finalize(s);
	return finish(st, rc, err);
}

int xsd_store_host_each(struct xsd_store *st, xsd_host_cb cb, void *arg, struct xsd_err *err)
{
	sqlite3_stmt *s;
	int rc = 0, n = 0;

	s = prep(st, "SELECT name, port_guid, lid, profile, state, reason, accepted, reconnects,"
		     " last_change FROM hosts ORDER BY name", err);
	if (!s)
		return -EIO;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct xsd_host_rec h;

		memset(&h, 0, sizeof(h));
		col_text(s, 0, h.name, sizeof(h.name));
		h.port_guid = (uint64_t)sqlite3_column_int64(s, 1);
		h.lid = (uint32_t)sqlite3_column_int64(s, 2);
		col_text(s, 3, h.profile, sizeof(h.profile));
		col_text(s, 4, h.state, sizeof(h.state));
		col_text(s, 5, h.reason, sizeof(h.reason));
		h.accepted = (uint32_t)sqlite3_column_int64(s, 6);
		h.reconnects = (uint32_t)sqlite3_column_int64(s, 7);
		h.last_change = (uint64_t)sqlite3_column_int64(s, 8);
		n++;
		rc = cb(&h, arg);
		if (rc) {
			sqlite3_finalize(s);
			return rc < 0 ? rc : n;
		}
	}
	if (rc != SQLITE_DONE) {
		rc = db_fail(st, err, "reading the host records");
		sqlite3_finalize(s);
		return rc;
	}
	sqlite3_finalize(s);
	return n;
}

/* ------------------------------------------------------------- storage */

static const char *const storage_types[] = {
	[XSD_STORAGE_FILE] = "file", [XSD_STORAGE_BLOCK] = "block", [XSD_STORAGE_SG] = "sg",
	[XSD_STORAGE_ISCSI] = "iscsi", [XSD_STORAGE_RAM] = "ram",
};
#define N_STORAGE_TYPES (sizeof(storage_types) / sizeof(storage_types[0]))

const char *xsd_storage_type_name(enum xsd_storage_type t)
{
	return (unsigned int)t < N_STORAGE_TYPES ? storage_types[t] : NULL;
}

static enum xsd_storage_type storage_type_parse(const char *s)
{
	for (unsigned int i = 1; i < N_STORAGE_TYPES; i++)
		if (!strcmp(s, storage_types[i]))
			return (enum xsd_storage_type)i;
	return 0;
}

static int check_path(const char *what, const char *p, struct xsd_err *err)
{
	if (p[0] != '/')
		return xsd_fail(err, -EINVAL, "%s '%.200s' must be an absolute path", what, p);
	if (strlen(p) > XSD_LOCATION_MAX)
		return xsd_fail(err, -EINVAL, "%s path is longer than %d characters", what,
				XSD_LOCATION_MAX);
	for (const unsigned char *c = (const unsigned char *)p; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			return xsd_fail(err, -EINVAL, "%s path contains a control character", what);
	return 0;
}

/* iscsi://HOST[:PORT]/IQN/LUN, the form libiscsi takes. */
static int check_iscsi_url(const char *u, struct xsd_err *err)
{
	const char *host = u + 8, *slash, *last;
	char *end;
	unsigned long lun;

	if (strncmp(u, "iscsi://", 8) || strlen(u) > XSD_LOCATION_MAX)
		goto bad;
	for (const unsigned char *c = (const unsigned char *)u; *c; c++)
		if (*c <= 0x20 || *c == 0x7f)
			goto bad;
	slash = strchr(host, '/');
	if (!slash || slash == host)
		goto bad;
	last = strrchr(slash, '/');
	if (last == slash + 0 || last == slash + 1 || !last[1])
		goto bad;
	lun = strtoul(last + 1, &end, 10);
	if (*end || last[1] < '0' || last[1] > '9' || lun > XSD_LUN_MAX)
		goto bad;
	return 0;
bad:
	return xsd_fail(err, -EINVAL, "bad iSCSI URL '%.200s'; expected iscsi://HOST[:PORT]/IQN/LUN",
			u);
}

/* Everything about a storage row that needs no database; *exists tells
 * whether a file back end's file is there already. */
static int storage_check(const struct xsd_storage *s, bool *exists, struct xsd_err *err)
{
	const char *loc = s->location;
	struct stat sb;
	int rc;

	*exists = false;
	rc = xsd_check_name("storage", s->name, XSD_NAME_MAX, err);
	if (rc)
		return rc;
	if (!xsd_storage_type_name(s->type))
		return xsd_fail(err, -EINVAL, "unknown storage type %d", (int)s->type);
	if (s->direct && s->type != XSD_STORAGE_FILE && s->type != XSD_STORAGE_BLOCK)
		return xsd_fail(err, -EINVAL, "--direct goes with --file or --block");
	if (s->size && s->type != XSD_STORAGE_FILE && s->type != XSD_STORAGE_RAM)
		return xsd_fail(err, -EINVAL, "--size goes with --file");
	if (s->type == XSD_STORAGE_RAM) {
		if (s->location[0])
			return xsd_fail(err, -EINVAL, "a ram storage has no location");
		if (s->size < 4096 || s->size > XSD_RAM_MAX || s->size % 512)
			return xsd_fail(err, -EINVAL,
					"ram size %" PRIu64 " out of range; allowed 4096 bytes to 16 GiB, a multiple of 512",
					s->size);
		return 0;
	}
	if (s->type == XSD_STORAGE_ISCSI)
		return check_iscsi_url(loc, err);
	rc = check_path(s->type == XSD_STORAGE_FILE ? "file" : s->type == XSD_STORAGE_BLOCK
			? "block device" : "SCSI device", loc, err);
	if (rc)
		return rc;
	if (s->type == XSD_STORAGE_FILE && s->size && (s->size < 4096 || s->size % 512))
		return xsd_fail(err, -EINVAL,
				"size %" PRIu64 " out of range; a file is at least 4096 bytes, a multiple of 512",
				s->size);
	if (stat(loc, &sb) < 0) {
		if (errno != ENOENT)
			return xsd_fail(err, -EINVAL, "cannot use '%.200s': %s", loc, strerror(errno));
		if (s->type == XSD_STORAGE_FILE && s->size)
			return 0;
		if (s->type == XSD_STORAGE_FILE)
			return xsd_fail(err, -ENOENT, "file '%.200s' does not exist; give --size to create it",
					loc);
		return xsd_fail(err, -ENOENT, "device '%.200s' does not exist", loc);
	}
	*exists = true;
	switch (s->type) {
	case XSD_STORAGE_FILE:
		if (!S_ISREG(sb.st_mode))
			return xsd_fail(err, -EINVAL,
					"'%.200s' is not a regular file; use --block for a block device",
					loc);
		if (s->size && (uint64_t)sb.st_size > s->size)
			return xsd_fail(err, -EINVAL,
					"file '%.200s' is %lld bytes, more than --size %" PRIu64 "; a file is never shrunk",
					loc, (long long)sb.st_size, s->size);
		break;
	case XSD_STORAGE_BLOCK:
		if (!S_ISBLK(sb.st_mode))
			return xsd_fail(err, -EINVAL, "'%.200s' is not a block device", loc);
		break;
	default: /* sg */
		if (!S_ISCHR(sb.st_mode) && !S_ISBLK(sb.st_mode))
			return xsd_fail(err, -EINVAL,
					"'%.200s' is not a SCSI device node (/dev/sgN or /dev/sdX)", loc);
		break;
	}
	return 0;
}

/* Create the file or extend it to s->size; *created when it was new. */
static int file_prepare(const struct xsd_storage *s, bool *created, struct xsd_err *err)
{
	struct stat sb;
	int fd;

	fd = open(s->location, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0)
		*created = true;
	else if (errno == EEXIST)
		fd = open(s->location, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return xsd_fail(err, -EINVAL, "cannot create file '%.200s': %s", s->location,
				strerror(errno));
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) ||
	    ((uint64_t)sb.st_size < s->size && ftruncate(fd, (off_t)s->size) < 0)) {
		int e = errno;

		close(fd);
		if (*created)
			unlink(s->location);
		*created = false;
		return xsd_fail(err, -EINVAL, "cannot size file '%.200s' to %" PRIu64 " bytes: %s",
				s->location, s->size, strerror(e));
	}
	close(fd);
	return 0;
}

int xsd_store_storage_add(struct xsd_store *st, const struct xsd_actor *who,
			  const struct xsd_storage *s, struct xsd_err *err)
{
	bool exists, created = false;
	sqlite3_stmt *q;
	int rc;

	rc = storage_check(s, &exists, err);
	if (rc)
		return rc;
	rc = begin(st, err);
	if (rc)
		return rc;
	rc = query_int(st, "SELECT 1 FROM storage WHERE name = ?", s->name, 0, NULL, err);
	if (rc == 1)
		rc = xsd_fail(err, -EEXIST, "storage '%s' already exists", s->name);
	if (!rc && s->location[0]) {
		q = prep(st, "SELECT name FROM storage WHERE location = ?", err);
		rc = q ? 0 : -EIO;
		if (q) {
			sqlite3_bind_text(q, 1, s->location, -1, SQLITE_TRANSIENT);
			if (sqlite3_step(q) == SQLITE_ROW) {
				char owner[XSD_NAME_MAX + 1];

				col_text(q, 0, owner, sizeof(owner));
				rc = xsd_fail(err, -EEXIST, "'%.200s' is already storage '%s'",
					      s->location, owner);
			}
			sqlite3_finalize(q);
		}
	}
	if (!rc && s->type == XSD_STORAGE_FILE && s->size)
		rc = file_prepare(s, &created, err);
	if (!rc) {
		q = prep(st, "INSERT INTO storage(name, type, location, size, direct)"
			     " VALUES(?, ?, ?, ?, ?)", err);
		rc = q ? 0 : -EIO;
		if (q) {
			sqlite3_bind_text(q, 1, s->name, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(q, 2, xsd_storage_type_name(s->type), -1, SQLITE_STATIC);
			sqlite3_bind_text(q, 3, s->location, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(q, 4, (int64_t)s->size);
			sqlite3_bind_int(q, 5, s->direct);
			rc = step_done(st, q, err, "adding storage");
		}
	}
	if (!rc)
		rc = audit(st, who, err, "storage add %s type=%s%s%.300s size=%" PRIu64 "%s", s->name,
			   xsd_storage_type_name(s->type), s->location[0] ? " location=" : "",
			   s->location, s->size, s->direct ? " direct" : "");
	rc = finish(st, rc, err);
	if (rc && created)
		unlink(s->location);
	return rc;
}

/* ------------------------------------------------------------- targets */

static int target_write(struct xsd_store *st, const struct xsd_target *t, struct xsd_err *err)
{
	sqlite3_stmt *q = prep(st, "INSERT INTO targets(name, wwpn) VALUES(?, ?)", err);

	if (!q)
		return -EIO;
	sqlite3_bind_text(q, 1, t->name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(q, 2, (int64_t)t->wwpn);
	return step_done(st, q, err, "adding a target");
}

int xsd_store_target_add(struct xsd_store *st, const struct xsd_actor *who, struct xsd_target *t,
			 bool have_wwpn, struct xsd_err *err)
{
	uint64_t wwnn;
	char w[24];
	int rc;

	rc = xsd_check_name("target", t->name, XSD_TARGET_NAME_MAX, err);
	if (rc)
		return rc;
	rc = begin(st, err);
	if (rc)
		return rc;
	rc = query_int(st, "SELECT 1 FROM targets WHERE name = ?", t->name, 0, NULL, err);
	if (rc == 1)
		rc = xsd_fail(err, -EEXIST, "target '%s' already exists", t->name);
	if (!rc)
		rc = have_wwpn ? wwn_owner(st, t->wwpn, NULL, NULL, err)
			       : wwn_alloc(st, &wwnn, &t->wwpn, err);
	if (!rc)
		rc = target_write(st, t, err);
	xsd_format_wwn(t->wwpn, w);
	if (!rc)
		rc = audit(st, who, err, "target add %s wwpn=%s", t->name, w);
	t->n_luns = 0;
	return finish(st, rc, err);
}

/* Schema v3: a target for every name the vHBAs of older versions named. */
static int migrate_v3_targets(struct xsd_store *st, struct xsd_err *err)
{
	sqlite3_stmt *q = prep(st, "SELECT targets FROM vhbas WHERE targets != ''", err);
	char (*names)[XSD_TARGETS_TEXT] = NULL;
	size_t n = 0;
	int rc = 0;

	if (!q)
		return -EIO;
	while (!rc && sqlite3_step(q) == SQLITE_ROW) {
		void *nn = realloc(names, (n + 1) * sizeof(*names));

		if (!nn) {
			rc = xsd_fail(err, -ENOMEM, "out of memory");
			break;
		}
		names = nn;
		col_text(q, 0, names[n++], sizeof(names[0]));
	}
	sqlite3_finalize(q);
	for (size_t i = 0; !rc && i < n; i++) {
		char *save = NULL;

		for (char *t = strtok_r(names[i], ",", &save); !rc && t;
		     t = strtok_r(NULL, ",", &save)) {
			struct xsd_target tg = { 0 };
			uint64_t wwnn;

			if (strlen(t) > XSD_TARGET_NAME_MAX) {
				XS_WARN(COMP, "schema 3: vhba target name '%s' is longer than %d characters;"
					" no target made for it", t, XSD_TARGET_NAME_MAX);
				continue;
			}
			rc = query_int(st, "SELECT 1 FROM targets WHERE name = ?", t, 0, NULL, err);
			if (rc == 1) {
				rc = 0;
				continue;
			}
			snprintf(tg.name, sizeof(tg.name), "%s", t);
			if (!rc)
				rc = wwn_alloc(st, &wwnn, &tg.wwpn, err);
			if (!rc)
				rc = target_write(st, &tg, err);
			if (!rc)
				XS_INFO(COMP, "schema 3: target '%s' made for the vhbas that name it", t);
		}
	}
	free(names);
	return rc;
}

/* ---------------------------------------------------------------- LUNs */

static int id_of(struct xsd_store *st, const char *kind, const char *name, int64_t *id,
		 struct xsd_err *err)
{
	char sql[64];
	int rc;

	snprintf(sql, sizeof(sql), "SELECT id FROM %s WHERE name = ?",
		 !strcmp(kind, "target") ? "targets" : "storage");
	rc = query_int(st, sql, name, 0, id, err);
	if (rc == 0)
		return xsd_fail(err, -ENOENT, "%s '%.63s' does not exist", kind, name);
	return rc < 0 ? rc : 0;
}

static void lun_fill(sqlite3_stmt *s, void *row)
{
	struct xsd_lun *l = row;

	memset(l, 0, sizeof(*l));
	col_text(s, 0, l->target, sizeof(l->target));
	l->lun = (uint16_t)sqlite3_column_int(s, 1);
	col_text(s, 2, l->storage, sizeof(l->storage));
	l->read_only = sqlite3_column_int(s, 3) != 0;
}

#define LUN_COLS                                                                          \
	"SELECT t.name, l.lun, s.name, l.read_only FROM luns l"                            \
	" JOIN targets t ON t.id = l.target_id JOIN storage s ON s.id = l.storage_id "

/* The LUN (target tid, lun) into *l: 1 found, 0 none, <0 error. */
static int lun_find(struct xsd_store *st, int64_t tid, unsigned int lun, struct xsd_lun *l,
		    struct xsd_err *err)
{
	sqlite3_stmt *q = prep(st, LUN_COLS "WHERE l.target_id = ? AND l.lun = ?", err);
	int rc = 0;

	if (!q)
		return -EIO;
	sqlite3_bind_int64(q, 1, tid);
	sqlite3_bind_int(q, 2, (int)lun);
	if (sqlite3_step(q) == SQLITE_ROW) {
		lun_fill(q, l);
		rc = 1;
	}
	sqlite3_finalize(q);
	return rc;
}

int xsd_store_lun_add(struct xsd_store *st, const struct xsd_actor *who, const struct xsd_lun *l,
		      struct xsd_err *err)
{
	int64_t tid = 0, sid = 0;
	struct xsd_lun cur;
	sqlite3_stmt *q;
	int rc;

	rc = xsd_check_name("target", l->target, XSD_TARGET_NAME_MAX, err);
	if (!rc)
		rc = xsd_check_range("LUN", l->lun, 0, XSD_LUN_MAX, err);
	if (!rc)
		rc = xsd_check_name("storage", l->storage, XSD_NAME_MAX, err);
	if (rc)
		return rc;
	rc = begin(st, err);
	if (rc)
		return rc;
	rc = id_of(st, "target", l->target, &tid, err);
	if (!rc)
		rc = id_of(st, "storage", l->storage, &sid, err);
	if (!rc) {
		rc = lun_find(st, tid, l->lun, &cur, err);
		if (rc == 1)
			rc = xsd_fail(err, -EEXIST, "target '%s' already has LUN %u (storage '%s')",
				      l->target, l->lun, cur.storage);
	}
	if (!rc) {
		q = prep(st, LUN_COLS "WHERE l.storage_id = ?", err);
		rc = q ? 0 : -EIO;
		if (q) {
			sqlite3_bind_int64(q, 1, sid);
			if (sqlite3_step(q) == SQLITE_ROW) {
				lun_fill(q, &cur);
				rc = xsd_fail(err, -EBUSY, "storage '%s' is already LUN %u of target '%s'",
					      l->storage, cur.lun, cur.target);
			}
			sqlite3_finalize(q);
		}
	}
	if (!rc) {
		q = prep(st, "INSERT INTO luns(target_id, lun, storage_id, read_only) VALUES(?, ?, ?, ?)",
			 err);
		rc = q ? 0 : -EIO;
		if (q) {
			sqlite3_bind_int64(q, 1, tid);
			sqlite3_bind_int(q, 2, l->lun);
			sqlite3_bind_int64(q, 3, sid);
			sqlite3_bind_int(q, 4, l->read_only);
			rc = step_done(st, q, err, "adding a LUN");
		}
	}
	if (!rc)
		rc = audit(st, who, err, "lun add %s %u storage=%s%s", l->target, l->lun, l->storage,
			   l->read_only ? " read-only" : "");
	return finish(st, rc, err);
}

int xsd_store_lun_delete(struct xsd_store *st, const struct xsd_actor *who, const char *target,
			 uint16_t lun, struct xsd_lun *old, struct xsd_err *err)
{
	struct xsd_lun cur;
	int64_t tid = 0;
	sqlite3_stmt *q;
	int rc;

	rc = begin(st, err);
	if (rc)
		return rc;
	rc = id_of(st, "target", target, &tid, err);
	if (!rc) {
		rc = lun_find(st, tid, lun, &cur, err);
		if (rc == 0)
			rc = xsd_fail(err, -ENOENT, "target '%s' has no LUN %u", target, lun);
		else if (rc == 1)
			rc = 0;
	}
	if (!rc) {
		q = prep(st, "DELETE FROM luns WHERE target_id = ? AND lun = ?", err);
		rc = q ? 0 : -EIO;
		if (q) {
			sqlite3_bind_int64(q, 1, tid);
			sqlite3_bind_int(q, 2, lun);
			rc = step_done(st, q, err, "deleting a LUN");
		}
	}
	if (!rc)
		rc = audit(st, who, err, "lun delete %s %u", target, lun);
	if (!rc && old)
		*old = cur;
	return finish(st, rc, err);
}

/* --------------------------------------------------- the object table */

static void storage_fill(sqlite3_stmt *s, void *row)
{
	struct xsd_storage *o = row;
	char type[8];

	memset(o, 0, sizeof(*o));
	col_text(s, 0, o->name, sizeof(o->name));
	col_text(s, 1, type, sizeof(type));
	o->type = storage_type_parse(type);
	col_text(s, 2, o->location, sizeof(o->location));
	o->size = (uint64_t)sqlite3_column_int64(s, 3);
	o->direct = sqlite3_column_int(s, 4) != 0;
	col_text(s, 5, o->lun_target, sizeof(o->lun_target));
	o->lun = (uint16_t)sqlite3_column_int(s, 6);
}

static void target_fill(sqlite3_stmt *s, void *row)
{
	struct xsd_target *t = row;

	memset(t, 0, sizeof(*t));
	col_text(s, 0, t->name, sizeof(t->name));
	t->wwpn = (uint64_t)sqlite3_column_int64(s, 1);
	t->n_luns = (unsigned int)sqlite3_column_int(s, 2);
}

static int storage_in_use(struct xsd_store *st, const void *row, struct xsd_err *err)
{
	const struct xsd_storage *o = row;

	(void)st;
	if (o->lun_target[0])
		return xsd_fail(err, -EBUSY, "storage '%s' is used by LUN %u of target '%s'; delete the LUN first",
				o->name, o->lun, o->lun_target);
	return 0;
}

static int target_in_use(struct xsd_store *st, const void *row, struct xsd_err *err)
{
	const struct xsd_target *t = row;
	sqlite3_stmt *q;
	char users[200] = "";
	size_t off = 0;
	int n = 0;

	q = prep(st, "SELECT name FROM vhbas WHERE instr(',' || targets || ',', ',' || ? || ',') > 0"
		     " ORDER BY name", err);
	if (!q)
		return -EIO;
	sqlite3_bind_text(q, 1, t->name, -1, SQLITE_TRANSIENT);
	while (sqlite3_step(q) == SQLITE_ROW) {
		if (n++ < 4 && off < sizeof(users))
			off += (size_t)snprintf(users + off, sizeof(users) - off, "%s'%s'",
						n > 1 ? ", " : "", sqlite3_column_text(q, 0));
	}
	sqlite3_finalize(q);
	if (n)
		return xsd_fail(err, -EBUSY, "target '%s' is used by vhba %s%s; take it out of the vhba first",
				t->name, users, n > 4 ? " and more" : "");
	if (t->n_luns)
		return xsd_fail(err, -EBUSY, "target '%s' still has %u LUN(s); delete them first",
				t->name, t->n_luns);
	return 0;
}

/*
 * One row per object type: how to read it (columns and the fill function),
 * how to find it by name and filter it, and what stops its deletion. Every
 * get, walk and delete goes through here; only add and set, whose checks
 * differ per type, are written per type.
 */
static const struct obj_type {
	const char *kind;          /* messages and audit rows: "vnic" */
	const char *select;        /* SELECT ... FROM ... (ends with a space) */
	const char *name_col;      /* NULL: no get/delete by name */
	const char *filter_col;    /* the filter of xsd_store_each */
	const char *order;
	const char *table;         /* DELETE FROM table WHERE name = ? */
	size_t row_size;
	void (*fill)(sqlite3_stmt *s, void *row);
	int (*in_use)(struct xsd_store *st, const void *row, struct xsd_err *err);
} obj_types[] = {
	[XSD_OBJ_VNIC] = { "vnic", VNIC_COLS, "v.name", "p.name", "v.name", "vnics",
			   sizeof(struct xsd_vnic), vnic_fill, NULL },
	[XSD_OBJ_VHBA] = { "vhba", VHBA_COLS, "v.name", "p.name", "v.name", "vhbas",
			   sizeof(struct xsd_vhba), vhba_fill, NULL },
	[XSD_OBJ_STORAGE] = { "storage",
			      "SELECT s.name, s.type, s.location, s.size, s.direct, t.name, l.lun"
			      " FROM storage s LEFT JOIN luns l ON l.storage_id = s.id"
			      " LEFT JOIN targets t ON t.id = l.target_id ",
			      "s.name", NULL, "s.name", "storage", sizeof(struct xsd_storage),
			      storage_fill, storage_in_use },
	[XSD_OBJ_TARGET] = { "target",
			     "SELECT t.name, t.wwpn, (SELECT count(*) FROM luns l"
			     " WHERE l.target_id = t.id) FROM targets t ",
			     "t.name", NULL, "t.name", "targets", sizeof(struct xsd_target),
			     target_fill, target_in_use },
	[XSD_OBJ_LUN] = { "lun", LUN_COLS, NULL, "t.name", "t.name, l.lun", NULL,
			  sizeof(struct xsd_lun), lun_fill, NULL },
};

static const struct obj_type *obj_type(enum xsd_obj type)
{
	return (unsigned int)type < sizeof(obj_types) / sizeof(obj_types[0]) ? &obj_types[type]
									   : NULL;
}

int xsd_store_get(struct xsd_store *st, enum xsd_obj type, const char *name, void *row,
		  struct xsd_err *err)
{
	const struct obj_type *o = obj_type(type);
	char sql[512];
	sqlite3_stmt *s;
	int rc = 0;

	if (!o || !o->name_col)
		return xsd_fail(err, -EINVAL, "no lookup by name for this object type");
	snprintf(sql, sizeof(sql), "%sWHERE %s = ?", o->select, o->name_col);
	s = prep(st, sql, err);
	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(s) == SQLITE_ROW)
		o->fill(s, row);
	else
		rc = xsd_fail(err, -ENOENT, "%s '%.63s' does not exist", o->kind, name);
	sqlite3_finalize(s);
	return rc;
}

int xsd_store_each(struct xsd_store *st, enum xsd_obj type, const char *filter, xsd_row_cb cb,
		   void *arg, struct xsd_err *err)
{
	const struct obj_type *o = obj_type(type);
	char sql[512];
	sqlite3_stmt *s;
	void *row;
	int rc = 0;

	if (!o)
		return xsd_fail(err, -EINVAL, "unknown object type");
	if (filter && !o->filter_col)
		filter = NULL;
	snprintf(sql, sizeof(sql), "%s%s%s%sORDER BY %s", o->select, filter ? "WHERE " : "",
		 filter ? o->filter_col : "", filter ? " = ? " : "", o->order);
	s = prep(st, sql, err);
	if (!s)
		return -EIO;
	row = malloc(o->row_size);
	if (!row) {
		sqlite3_finalize(s);
		return xsd_fail(err, -ENOMEM, "out of memory");
	}
	if (filter)
		sqlite3_bind_text(s, 1, filter, -1, SQLITE_TRANSIENT);
	while (!rc && sqlite3_step(s) == SQLITE_ROW) {
		o->fill(s, row);
		rc = cb(row, arg);
	}
	free(row);
	sqlite3_finalize(s);
	return rc;
}

int xsd_store_delete(struct xsd_store *st, const struct xsd_actor *who, enum xsd_obj type,
		     const char *name, void *old, struct xsd_err *err)
{
	const struct obj_type *o = obj_type(type);
	char sql[96];
	sqlite3_stmt *s;
	void *row;
	int rc;

	if (!o || !o->table)
		return xsd_fail(err, -EINVAL, "no delete by name for this object type");
	row = old ? old : malloc(o->row_size);
	if (!row)
		return xsd_fail(err, -ENOMEM, "out of memory");
	rc = begin(st, err);
	if (rc)
		goto free_row;
	rc = xsd_store_get(st, type, name, row, err);
	if (!rc && o->in_use)
		rc = o->in_use(st, row, err);
	if (!rc) {
		snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE name = ?", o->table);
		s = prep(st, sql, err);
		rc = s ? 0 : -EIO;
		if (s) {
			sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
			rc = step_done(st, s, err, "deleting");
		}
	}
	if (!rc)
		rc = audit(st, who, err, "%s delete %s", o->kind, name);
	rc = finish(st, rc, err);
free_row:
	if (row != old)
		free(row);
	return rc;
}

int xsd_store_target_get(struct xsd_store *st, const char *name, struct xsd_target *t,
			 struct xsd_err *err)
{
	return xsd_store_get(st, XSD_OBJ_TARGET, name, t, err);
}

/* The typed vNIC/vHBA calls of store.h, on the table. */
int xsd_store_vnic_get(struct xsd_store *st, const char *name, struct xsd_vnic *v,
		       struct xsd_err *err)
{
	return xsd_store_get(st, XSD_OBJ_VNIC, name, v, err);
}

int xsd_store_vhba_get(struct xsd_store *st, const char *name, struct xsd_vhba *v,
		       struct xsd_err *err)
{
	return xsd_store_get(st, XSD_OBJ_VHBA, name, v, err);
}

int xsd_store_vnic_delete(struct xsd_store *st, const struct xsd_actor *who, const char *name,
			  struct xsd_vnic *old, struct xsd_err *err)
{
	return xsd_store_delete(st, who, XSD_OBJ_VNIC, name, old, err);
}

int xsd_store_vhba_delete(struct xsd_store *st, const struct xsd_actor *who, const char *name,
			  struct xsd_vhba *old, struct xsd_err *err)
{
	return xsd_store_delete(st, who, XSD_OBJ_VHBA, name, old, err);
}

struct vnic_walk {
	xsd_vnic_cb cb;
	void *arg;
};

static int vnic_walk_cb(const void *row, void *arg)
{
	const struct vnic_walk *w = arg;

	return w->cb(row, w->arg);
}

int xsd_store_vnic_each(struct xsd_store *st, const char *profile, xsd_vnic_cb cb, void *arg,
			struct xsd_err *err)
{
	struct vnic_walk w = { cb, arg };

	return xsd_store_each(st, XSD_OBJ_VNIC, profile, vnic_walk_cb, &w, err);
}

struct vhba_walk {
	xsd_vhba_cb cb;
	void *arg;
};

static int vhba_walk_cb(const void *row, void *arg)
{
	const struct vhba_walk *w = arg;

	return w->cb(row, w->arg);
}

int xsd_store_vhba_each(struct xsd_store *st, const char *profile, xsd_vhba_cb cb, void *arg,
			struct xsd_err *err)
{
	struct vhba_walk w = { cb, arg };

	return xsd_store_each(st, XSD_OBJ_VHBA, profile, vhba_walk_cb, &w, err);
}

/*
 * vNIC and vHBA add/set: one path for both, the differences in dev_ops[].
 * add: defaults and row checks (prepare, check; a vHBA with pool WWNs is
 * checked once they are allocated), then in one transaction the profile,
 * the name, references and addresses (add_refs), a resource id, the row and
 * its audit line. set: the stored row, the fields in `have` merged in, the
 * same checks, generation + 1, the row and its audit line.
 */
static const struct dev_ops {
	enum xsd_obj obj;
	unsigned int pre_check_unless; /* add: skip check() before the pool when
					* have lacks these bits (vHBA WWNs) */
	int (*prepare)(void *row, unsigned int have, struct xsd_err *err);
	int (*check)(void *row, struct xsd_err *err);
	int (*add_refs)(struct xsd_store *st, void *row, unsigned int have, struct xsd_err *err);
	void (*merge)(void *row, const void *from, unsigned int have);
	int (*set_refs)(struct xsd_store *st, void *row, unsigned int have, struct xsd_err *err);
	int (*write)(struct xsd_store *st, const void *row, int64_t pid, bool insert,
		     struct xsd_err *err);
	void (*desc)(const void *row, unsigned int have, char *out, size_t cap);
	size_t name_off, profile_off, rid_off, gen_off;
} dev_ops[] = {
	{ XSD_OBJ_VNIC, 0, vnic_prepare, vnic_check, vnic_add_refs, vnic_merge, vnic_set_refs,
	  vnic_write, vnic_desc, offsetof(struct xsd_vnic, name),
	  offsetof(struct xsd_vnic, profile), offsetof(struct xsd_vnic, resource_id),
	  offsetof(struct xsd_vnic, generation) },
	{ XSD_OBJ_VHBA, XSD_VHBA_WWNN, vhba_prepare, vhba_check, vhba_add_refs, vhba_merge,
	  vhba_set_refs, vhba_write, vhba_desc, offsetof(struct xsd_vhba, name),
	  offsetof(struct xsd_vhba, profile), offsetof(struct xsd_vhba, resource_id),
	  offsetof(struct xsd_vhba, generation) },
};

#define ROW_AT(row, off, type) ((type)((char *)(row) + (off)))

static int dev_add(struct xsd_store *st, const struct xsd_actor *who, const struct dev_ops *o,
		   void *v, unsigned int have, struct xsd_err *err)
{
	const struct obj_type *t = &obj_types[o->obj];
	const char *name = ROW_AT(v, o->name_off, char *);
	const char *profile = ROW_AT(v, o->profile_off, char *);
	char desc[600], sql[64];
	int64_t pid;
	int rc;

	rc = o->prepare(v, have, err);
	if (!rc)
		rc = xsd_check_name(t->kind, name, XSD_DEV_NAME_MAX, err);
	if (!rc && !profile[0])
		rc = xsd_fail(err, -EINVAL, "a %s needs a profile (--profile NAME)", t->kind);
	if (!rc && (!o->pre_check_unless || (have & o->pre_check_unless)))
		rc = o->check(v, err);
	if (rc)
		return rc;
	rc = begin(st, err);
	if (rc)
		return rc;
	rc = profile_id(st, profile, &pid, err);
	if (!rc) {
		snprintf(sql, sizeof(sql), "SELECT 1 FROM %s WHERE name = ?", t->table);
		rc = query_int(st, sql, name, 0, NULL, err);
		if (rc == 1)
			rc = xsd_fail(err, -EEXIST, "%s '%s' already exists", t->kind, name);
	}
	if (!rc)
		rc = o->add_refs(st, v, have, err);
	if (!rc)
		rc = next_resource_id(st, ROW_AT(v, o->rid_off, uint64_t *), err);
	*ROW_AT(v, o->gen_off, uint64_t *) = 1;
	if (!rc)
		rc = o->write(st, v, pid, true, err);
	o->desc(v, ~0u, desc, sizeof(desc));
	if (!rc)
		rc = audit(st, who, err, "%s add %s%s", t->kind, name, desc);
	return finish(st, rc, err);
}

static int dev_set(struct xsd_store *st, const struct xsd_actor *who, const struct dev_ops *o,
		   void *v, unsigned int have, struct xsd_err *err)
{
	const struct obj_type *t = &obj_types[o->obj];
	char desc[600];
	int64_t pid;
	void *cur;
	int rc;

	if (!have)
		return xsd_fail(err, -EINVAL, "nothing to change; give at least one option");
	cur = malloc(t->row_size);
	if (!cur)
		return xsd_fail(err, -ENOMEM, "out of memory");
	rc = begin(st, err);
	if (rc)
		goto free_cur;
	rc = xsd_store_get(st, o->obj, ROW_AT(v, o->name_off, char *), cur, err);
	if (rc)
		goto done;
	o->merge(cur, v, have);
	rc = o->check(cur, err);
	if (!rc)
		rc = profile_id(st, ROW_AT(cur, o->profile_off, char *), &pid, err);
	if (!rc)
		rc = o->set_refs(st, cur, have, err);
	(*ROW_AT(cur, o->gen_off, uint64_t *))++;
	if (!rc)
		rc = o->write(st, cur, pid, false, err);
	o->desc(cur, have, desc, sizeof(desc));
	if (!rc)
		rc = audit(st, who, err, "%s set %s%s", t->kind, ROW_AT(cur, o->name_off, char *),
			   desc);
	if (!rc)
		memcpy(v, cur, t->row_size);
done:
	rc = finish(st, rc, err);
free_cur:
	free(cur);
	return rc;
}

int xsd_store_vnic_add(struct xsd_store *st, const struct xsd_actor *who, struct xsd_vnic *v,
		       unsigned int have, struct xsd_err *err)
{
	return dev_add(st, who, &dev_ops[0], v, have, err);
}

int xsd_store_vnic_set(struct xsd_store *st, const struct xsd_actor *who, struct xsd_vnic *v,
		       unsigned int have, struct xsd_err *err)
{
	return dev_set(st, who, &dev_ops[0], v, have, err);
}

int xsd_store_vhba_add(struct xsd_store *st, const struct xsd_actor *who, struct xsd_vhba *v,
		       unsigned int have, struct xsd_err *err)
{
	return dev_add(st, who, &dev_ops[1], v, have, err);
}

int xsd_store_vhba_set(struct xsd_store *st, const struct xsd_actor *who, struct xsd_vhba *v,
		       unsigned int have, struct xsd_err *err)
{
	return dev_set(st, who, &dev_ops[1], v, have, err);
}
