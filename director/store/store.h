/* SPDX-License-Identifier: MIT */
/*
 * store.h - the director's configuration store (SQLite, WAL, foreign keys).
 *
 * One file, <state-dir>/director.db. Every operator change is one
 * transaction together with its audit_log row, so a director killed at any
 * moment restarts with each committed change and nothing half-written.
 *
 * Error convention: int functions return 0 (or a count) or a negative errno,
 * and then err->msg holds one line for the operator:
 *   -EINVAL  a value out of range or malformed
 *   -ENOENT  a named object does not exist
 *   -EEXIST  a name, MAC, WWN, GUID or hostname is already in use
 *   -EBUSY   an object is still referenced (profile with devices, storage
 *            behind a LUN, target named by a vHBA, ...)
 *   -ENOSPC  an address pool is exhausted
 *   -EIO     SQLite failed (message says how)
 * Constructors return NULL with errno set and err->msg filled.
 */
#ifndef XSD_STORE_H
#define XSD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/xsd_valid.h"

#define XSD_SCHEMA_VERSION 3

struct xsd_store;

/* Who made a change: from SO_PEERCRED on the control socket. */
struct xsd_actor {
	uint32_t uid;
	char user[64];
};

struct xsd_profile {
	char name[XSD_NAME_MAX + 1];
	char hostname[XSD_HOSTNAME_MAX + 1]; /* "" = none */
	uint64_t guids[XSD_PROFILE_GUIDS_MAX];
	int n_guids;
	uint64_t created;                    /* unix seconds */
};

enum xsd_vnic_field {
	XSD_VNIC_MAC = 1u << 0,
	XSD_VNIC_MTU = 1u << 1,
	XSD_VNIC_VLAN_MODE = 1u << 2,
	XSD_VNIC_VLANS = 1u << 3,
	XSD_VNIC_UPLINK = 1u << 4,
	XSD_VNIC_CIR = 1u << 5,
	XSD_VNIC_PIR = 1u << 6,
	XSD_VNIC_HA_GROUP = 1u << 7,
	XSD_VNIC_ADMIN = 1u << 8,
	XSD_VNIC_PROFILE = 1u << 9,
};

struct xsd_vnic {
	uint64_t resource_id;
	uint64_t generation;       /* bumped by every change */
	char name[XSD_DEV_NAME_MAX + 1];
	char profile[XSD_NAME_MAX + 1];
	uint8_t mac[6];
	uint32_t mtu;
	int trunk;                 /* 0 access, 1 trunk */
	char vlans[XSD_VLANS_TEXT];/* canonical "10,20-30"; "" = untagged */
	char uplink[XSD_UPLINK_MAX + 1];
	uint32_t cir_mbps, pir_mbps; /* 0 = unlimited */
	char ha_group[XSD_HA_GROUP_MAX + 1];
	bool admin_up;
};

enum xsd_vhba_field {
	XSD_VHBA_WWNN = 1u << 0,
	XSD_VHBA_WWPN = 1u << 1,
	XSD_VHBA_TARGETS = 1u << 2,
	XSD_VHBA_LUNS = 1u << 3,
	XSD_VHBA_QDEPTH = 1u << 4,
	XSD_VHBA_LDTO = 1u << 5,
	XSD_VHBA_ADMIN = 1u << 6,
	XSD_VHBA_PROFILE = 1u << 7,
};

struct xsd_vhba {
	uint64_t resource_id;
	uint64_t generation;
	char name[XSD_DEV_NAME_MAX + 1];
	char profile[XSD_NAME_MAX + 1];
	uint64_t wwnn, wwpn;
	char targets[XSD_TARGETS_TEXT];
	char lun_mask[XSD_LUNS_TEXT]; /* "" = no masking, all LUNs */
	uint32_t queue_depth;
	uint32_t link_down_timeout;   /* seconds */
	bool admin_up;
};

struct xsd_audit {
	int64_t seq;
	uint64_t when;                /* unix seconds */
	uint32_t uid;
	char user[64];
	char what[512];
};

/* Director settings (table config); defaults when unset. */
struct xsd_config {
	bool auto_accept;             /* default off */
	uint32_t hello_interval;      /* seconds, default 5, 1..300 */
	uint32_t max_sessions;        /* default 4096 */
	uint8_t mac_pool_lo[6], mac_pool_hi[6];  /* default 02:58:53:00:00:01 .. 02:58:53:ff:ff:ff */
	uint64_t wwn_pool_lo, wwn_pool_hi;       /* default 0x3000585300000000 .. +0xffffffff */
};

/* A host the XCM has seen (schema v2): kept across director restarts so
 * that `xcm show hosts` lists known hosts (as down) and reconnect counts
 * go on. The director's bookkeeping, not an operator change: not audited. */
struct xsd_host_rec {
	char name[33];
	uint64_t port_guid;
	uint32_t lid;
	char profile[XSD_NAME_MAX + 1];
	char state[16];               /* up / down / rejected / new */
	char reason[128];
	uint32_t accepted;            /* sessions accepted, ever */
	uint32_t reconnects;
	uint64_t last_change;         /* unix seconds */
};

/* ---- storage (schema v3): back ends, SRP targets and their LUNs.
 * A storage object backs at most one LUN; a target is served by the
 * director's SRP target on service ID = its WWPN (docs/vhba.md). */
enum xsd_storage_type {
	XSD_STORAGE_FILE = 1,   /* a regular file through io_uring */
	XSD_STORAGE_BLOCK,      /* a block device through io_uring */
	XSD_STORAGE_SG,         /* a SCSI device through SG_IO (pass-through) */
	XSD_STORAGE_ISCSI,      /* an iSCSI LUN through libiscsi (pass-through) */
	XSD_STORAGE_RAM,        /* memory, lost when the director stops */
};
#define XSD_LOCATION_MAX 1023
#define XSD_RAM_MAX (UINT64_C(16) << 30)

/* "file", "block", "sg", "iscsi", "ram"; NULL for anything else. */
const char *xsd_storage_type_name(enum xsd_storage_type t);

struct xsd_storage {
	char name[XSD_NAME_MAX + 1];
	enum xsd_storage_type type;
	char location[XSD_LOCATION_MAX + 1]; /* path, device node or URL; "" for ram */
	uint64_t size;          /* ram: its size; file: --size it was created or
				 * extended to (0 = used as found) */
	bool direct;            /* O_DIRECT (file, block) */
	/* read back by get/each: the LUN using it, if any */
	char lun_target[XSD_TARGET_NAME_MAX + 1]; /* "" = not used */
	uint16_t lun;
};

struct xsd_target {
	char name[XSD_TARGET_NAME_MAX + 1];
	uint64_t wwpn;
	unsigned int n_luns;    /* read back by get/each */
};

struct xsd_lun {
	char target[XSD_TARGET_NAME_MAX + 1];
	uint16_t lun;
	char storage[XSD_NAME_MAX + 1];
	bool read_only;
};

/* Add a storage object. A file without size must exist (a regular file);
 * with size the file is created, or extended to size when it is smaller
 * (never shrunk). Nothing is created or stored when any check fails. */
int xsd_store_storage_add(struct xsd_store *st, const struct xsd_actor *who,
			  const struct xsd_storage *s, struct xsd_err *err);
/* WWPN from the WWN pool unless have_wwpn. On success *t is the stored row. */
int xsd_store_target_add(struct xsd_store *st, const struct xsd_actor *who, struct xsd_target *t,
			 bool have_wwpn, struct xsd_err *err);
int xsd_store_lun_add(struct xsd_store *st, const struct xsd_actor *who, const struct xsd_lun *l,
		      struct xsd_err *err);
int xsd_store_lun_delete(struct xsd_store *st, const struct xsd_actor *who, const char *target,
			 uint16_t lun, struct xsd_lun *old, struct xsd_err *err);
int xsd_store_target_get(struct xsd_store *st, const char *name, struct xsd_target *t,
			 struct xsd_err *err);

/* ---- every object type through one table (store.c, obj_types[]):
 * get by name, walk (filter: the profile for vnic/vhba, the target for
 * lun, unused otherwise; NULL = all), delete by name (not lun: see
 * xsd_store_lun_delete). row points to the type's struct (xsd_vnic, ...).
 * A non-zero return from cb stops the walk and is returned. */
enum xsd_obj {
	XSD_OBJ_VNIC,
	XSD_OBJ_VHBA,
	XSD_OBJ_STORAGE,
	XSD_OBJ_TARGET,
	XSD_OBJ_LUN,
};
typedef int (*xsd_row_cb)(const void *row, void *arg);
int xsd_store_get(struct xsd_store *st, enum xsd_obj type, const char *name, void *row,
		  struct xsd_err *err);
int xsd_store_each(struct xsd_store *st, enum xsd_obj type, const char *filter, xsd_row_cb cb,
		   void *arg, struct xsd_err *err);
int xsd_store_delete(struct xsd_store *st, const struct xsd_actor *who, enum xsd_obj type,
		     const char *name, void *old, struct xsd_err *err);

/* path: a file name, or ":memory:" (tests, fuzzing). */
struct xsd_store *xsd_store_open(const char *path, struct xsd_err *err);
void xsd_store_close(struct xsd_store *st);
int xsd_store_schema_version(struct xsd_store *st);

/* ---- configuration */
int xsd_store_get_config(struct xsd_store *st, struct xsd_config *cfg, struct xsd_err *err);
/* key: auto-accept, hello-interval, max-sessions, mac-pool, wwn-pool. */
int xsd_store_set_config(struct xsd_store *st, const struct xsd_actor *who, const char *key,
			 const char *value, struct xsd_err *err);

/* ---- plain names: kind "uplink" or "storage-pool" */
int xsd_store_name_add(struct xsd_store *st, const struct xsd_actor *who, const char *kind,
		       const char *name, struct xsd_err *err);
int xsd_store_name_delete(struct xsd_store *st, const struct xsd_actor *who, const char *kind,
			  const char *name, struct xsd_err *err);
typedef int (*xsd_name_cb)(const char *name, void *arg);
int xsd_store_name_each(struct xsd_store *st, const char *kind, xsd_name_cb cb, void *arg,
			struct xsd_err *err);

/* ---- uplinks with their interface (the vNIC I/O module's frame I/O).
 * ifname NULL or "" = a plain name (as xsd_store_name_add). -EEXIST when the
 * name exists or the interface already belongs to another uplink. */
int xsd_store_uplink_add(struct xsd_store *st, const struct xsd_actor *who, const char *name,
			 const char *ifname, struct xsd_err *err);
/* The uplink's interface into ifname ("" when it has none); -ENOENT when
 * there is no such uplink. */
int xsd_store_uplink_interface(struct xsd_store *st, const char *name, char *ifname, size_t cap,
			       struct xsd_err *err);

/* ---- host records: replace all stored ones by recs[0..n) (one
 * transaction), or walk them by name. */
int xsd_store_hosts_replace(struct xsd_store *st, const struct xsd_host_rec *recs, size_t n,
			    struct xsd_err *err);
typedef int (*xsd_host_cb)(const struct xsd_host_rec *h, void *arg);
int xsd_store_host_each(struct xsd_store *st, xsd_host_cb cb, void *arg, struct xsd_err *err);

/* ---- profiles */
int xsd_store_profile_add(struct xsd_store *st, const struct xsd_actor *who,
			  const struct xsd_profile *p, struct xsd_err *err);
/* Replace hostname (set_hostname) and/or the GUID list (set_guids). */
int xsd_store_profile_set(struct xsd_store *st, const struct xsd_actor *who, const char *name,
			  bool set_hostname, const char *hostname, bool set_guids,
			  const uint64_t *guids, int n_guids, struct xsd_err *err);
int xsd_store_profile_delete(struct xsd_store *st, const struct xsd_actor *who,
			     const char *name, struct xsd_err *err);
int xsd_store_profile_get(struct xsd_store *st, const char *name, struct xsd_profile *p,
			  struct xsd_err *err);
typedef int (*xsd_profile_cb)(const struct xsd_profile *p, void *arg);
int xsd_store_profile_each(struct xsd_store *st, xsd_profile_cb cb, void *arg,
			   struct xsd_err *err);
/* The profile bound to a host: by port GUID first, then by hostname.
 * -ENOENT when none. */
int xsd_store_profile_for_host(struct xsd_store *st, uint64_t port_guid, const char *hostname,
			       struct xsd_profile *p, struct xsd_err *err);

/* ---- vNICs. add: fields not in `have` get defaults; MAC from the pool
 * unless XSD_VNIC_MAC. On success *v is the stored row. (vNICs and vHBAs
 * share one add/set path in store.c, dev_ops[]; get/each/delete are
 * xsd_store_get/each/delete of the object table.) */
int xsd_store_vnic_add(struct xsd_store *st, const struct xsd_actor *who, struct xsd_vnic *v,
		       unsigned int have, struct xsd_err *err);
/* set: fields in `have` are taken from *v (name identifies the row). */
int xsd_store_vnic_set(struct xsd_store *st, const struct xsd_actor *who, struct xsd_vnic *v,
		       unsigned int have, struct xsd_err *err);
int xsd_store_vnic_delete(struct xsd_store *st, const struct xsd_actor *who, const char *name,
			  struct xsd_vnic *old, struct xsd_err *err);
int xsd_store_vnic_get(struct xsd_store *st, const char *name, struct xsd_vnic *v,
		       struct xsd_err *err);
typedef int (*xsd_vnic_cb)(const struct xsd_vnic *v, void *arg);
/* profile NULL = all. A non-zero return from cb stops and is returned. */
int xsd_store_vnic_each(struct xsd_store *st, const char *profile, xsd_vnic_cb cb, void *arg,
			struct xsd_err *err);

/* ---- vHBAs, same shape. WWNN/WWPN from the pool unless given. Every
 * name in targets must be a target (-ENOENT "target 'T' does not exist"). */
int xsd_store_vhba_add(struct xsd_store *st, const struct xsd_actor *who, struct xsd_vhba *v,
		       unsigned int have, struct xsd_err *err);
int xsd_store_vhba_set(struct xsd_store *st, const struct xsd_actor *who, struct xsd_vhba *v,
		       unsigned int have, struct xsd_err *err);
int xsd_store_vhba_delete(struct xsd_store *st, const struct xsd_actor *who, const char *name,
			  struct xsd_vhba *old, struct xsd_err *err);
int xsd_store_vhba_get(struct xsd_store *st, const char *name, struct xsd_vhba *v,
		       struct xsd_err *err);
typedef int (*xsd_vhba_cb)(const struct xsd_vhba *v, void *arg);
int xsd_store_vhba_each(struct xsd_store *st, const char *profile, xsd_vhba_cb cb, void *arg,
			struct xsd_err *err);

/* ---- audit log, newest first, at most limit rows. */
typedef int (*xsd_audit_cb)(const struct xsd_audit *a, void *arg);
int xsd_store_audit_each(struct xsd_store *st, int limit, xsd_audit_cb cb, void *arg,
			 struct xsd_err *err);

#endif /* XSD_STORE_H */
