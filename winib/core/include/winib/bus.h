/* SPDX-License-Identifier: MIT */
/*
 * winib/bus.h - the IBbus flexible child list: configuration, per-port and
 * per-P_Key child devices, and the answers to the PnP queries for them.
 *
 * Configuration (HKR = the bus device's driver key):
 *   HKR\Parameters  StaticChild   REG_SZ or REG_MULTI_SZ: child names.
 *   HKR\Parameters\<name>
 *                   DeviceId      REG_SZ (required, else the child is skipped)
 *                   HardwareId    REG_SZ or REG_MULTI_SZ (default: DeviceId)
 *                   CompatibleId  REG_SZ or REG_MULTI_SZ (default: none)
 *                   Description   REG_SZ (default: the child's name)
 *                   PartitionKey  REG_SZ "<portguid>:0xPKEY[-name],...;..."
 *
 * IPoIB is the built-in child, created first on every port as the original
 * driver did; StaticChild adds children beside it (naming IPoIB there too
 * is allowed and changes nothing). Values missing from Parameters\IPoIB fall
 * back to the original driver's built-in IDs. When StaticChild is absent the
 * bus therefore creates IPoIB alone.
 *
 * Lifecycle of a child (one state machine, driven by winib_bus_* calls):
 *
 *   FREE --port/pkey add--> NEW --relations--> REPORTED --start--> STARTED
 *                            |                    ^  |               |
 *                            |                    |  +--- remove ----+ (PDO kept)
 *            port/pkey remove: freed at once      |
 *                                        port/pkey remove
 *                                                 v
 *                                    MISSING --(PnP remove)--> FREE (PDO deleted)
 *
 * All child and port storage is preallocated by winib_bus_create, so port
 * and P_Key operations, relations and queries never allocate: they work in
 * the special modes of winib/policy.h.
 */
#ifndef WINIB_BUS_H
#define WINIB_BUS_H

#include "winib/common.h"
#include "winib/policy.h"
#include "winib/reg.h"

#define WINIB_NAME_MAX 64        /* child name, NUL included */
#define WINIB_ID_MAX 200         /* MAX_DEVICE_ID_LEN of Windows, NUL included */
#define WINIB_PKEY_NAME_MAX 32   /* P_Key child name, NUL included */
#define WINIB_MAX_TEMPLATES 16   /* distinct children per port */
#define WINIB_DEFAULT_PKEY 0xffffu
#define WINIB_PORT_GUID_NONE WINIB_U64(0)

/* Same numbers as BUS_QUERY_ID_TYPE and DEVICE_TEXT_TYPE in WDM. */
enum winib_id_type {
	WINIB_ID_DEVICE = 0,
	WINIB_ID_HARDWARE = 1,
	WINIB_ID_COMPATIBLE = 2,
	WINIB_ID_INSTANCE = 3,
};

enum winib_text_type {
	WINIB_TEXT_DESCRIPTION = 0,
	WINIB_TEXT_LOCATION = 1,
};

enum winib_child_state {
	WINIB_CHILD_FREE = 0,
	WINIB_CHILD_NEW,
	WINIB_CHILD_REPORTED,
	WINIB_CHILD_STARTED,
	WINIB_CHILD_MISSING,
};

/* What the glue must do with the PDO after an IRP_MN_REMOVE_DEVICE. */
enum winib_remove_action {
	WINIB_REMOVE_KEEP_PDO = 0,  /* still on the bus: PDO stays */
	WINIB_REMOVE_DELETE_PDO,    /* gone from the bus: delete the PDO */
};

struct winib_pkey_entry {
	uint64_t port_guid;
	uint16_t pkey;
	bool runtime;                 /* added at run time, not from the registry */
	char name[WINIB_PKEY_NAME_MAX];
};

struct winib_child_tmpl {
	char name[WINIB_NAME_MAX];
	char *device_id;
	char *hardware_ids;           /* multi-string */
	size_t hardware_len;
	char *compatible_ids;         /* multi-string */
	size_t compatible_len;
	char *description;
	struct winib_pkey_entry *pkeys; /* pkey_cap entries, preallocated */
	size_t pkey_count;
	size_t pkey_cap;
};

struct winib_config {
	struct winib_env *env;
	struct winib_child_tmpl tmpl[WINIB_MAX_TEMPLATES];
	size_t count;
	unsigned skipped;             /* StaticChild entries not usable */
};

/* Load the child list from the registry model. Skipped children are logged
 * at WARN with the reason. NULL with *err = -ENOMEM when memory is refused.
 * pkey_cap is the P_Key entry capacity of each child (registry + run time). */
struct winib_config *winib_config_load(struct winib_env *env, const struct winib_reg *reg,
				       size_t pkey_cap, int *err);
void winib_config_destroy(struct winib_config *cfg);
const struct winib_child_tmpl *winib_config_find(const struct winib_config *cfg, const char *name);

/* Parse a PartitionKey string into out[0..cap). Returns the entry count or
 * -EINVAL with a reason in why ("offset 12: P_Key must start with 0x"). */
int winib_pkey_parse(const char *s, struct winib_pkey_entry *out, size_t cap, char *why,
		     size_t why_cap);

struct winib_bus_limits {
	size_t max_ports;
	size_t max_children;          /* across all ports and P_Keys */
};

struct winib_port {
	bool used;
	uint64_t guid;
	uint8_t num;
};

struct winib_bus;

struct winib_child {
	struct winib_bus *bus;
	enum winib_child_state state;
	const struct winib_child_tmpl *tmpl;
	uint64_t port_guid;
	uint8_t port_num;
	uint16_t pkey;
	bool pkey_child;              /* from PartitionKey or run time */
	char pkey_name[WINIB_PKEY_NAME_MAX];
	void *os_pdo;                 /* the glue's PDO once reported */
};

struct winib_bus_stats {
	uint64_t children_created;
	uint64_t children_freed;
	uint64_t pool_exhausted;
};

struct winib_bus {
	struct winib_env *env;
	struct winib_config *cfg;     /* owned */
	struct winib_lock lock;
	struct winib_port *ports;     /* limits.max_ports, preallocated */
	struct winib_child *children; /* limits.max_children, preallocated */
	struct winib_bus_limits limits;
	struct winib_bus_stats stats;
};

/* Takes ownership of cfg (also on failure). os_lock is the host spinlock.
 * NULL with *err = -ENOMEM / -EINVAL. */
struct winib_bus *winib_bus_create(struct winib_env *env, struct winib_config *cfg,
				   const struct winib_bus_limits *limits, void *os_lock, int *err);
void winib_bus_destroy(struct winib_bus *bus);

/* Port arrival: creates every child for the port (default P_Key and the
 * PartitionKey entries naming this GUID). Returns the number created;
 * -EEXIST (port known), -ENOSPC (pools full; nothing is left half-made),
 * -EINVAL, or the lock policy's -EPERM / -EBUSY. */
int winib_bus_port_add(struct winib_bus *bus, uint64_t guid, uint8_t port_num);
/* Port removal: returns the number of children taken off the bus, -ENOENT. */
int winib_bus_port_remove(struct winib_bus *bus, uint64_t guid);

/* Run-time P_Key children of one child type on one port. add: 1 when the
 * child was created (port present), 0 when only recorded; -EEXIST, -ENOENT
 * (no such child type), -EINVAL (bad P_Key), -ENOSPC. remove: 1 or 0 as
 * for add, -ENOENT when unknown. */
int winib_bus_pkey_add(struct winib_bus *bus, const char *child, uint64_t guid, uint16_t pkey,
		       const char *name);
int winib_bus_pkey_remove(struct winib_bus *bus, const char *child, uint64_t guid, uint16_t pkey);

/* IRP_MN_QUERY_DEVICE_RELATIONS (BusRelations): fills out with every child
 * on the bus (NEW ones become REPORTED) and returns the count, or -ENOSPC
 * when cap is too small (ask again). The glue sets each new child's PDO
 * before the next call; a MISSING child still without one is freed then. */
int winib_bus_relations(struct winib_bus *bus, struct winib_child **out, size_t cap);
/* How many children are on the bus now (not MISSING or FREE). */
int winib_bus_present_count(struct winib_bus *bus);
/* Every child slot in use, including MISSING ones (for teardown); returns count. */
int winib_bus_all_children(struct winib_bus *bus, struct winib_child **out, size_t cap);

void winib_child_set_pdo(struct winib_child *child, void *os_pdo);
/* IRP_MN_START_DEVICE: 0, or -EINVAL if the child is not reported. */
int winib_child_start(struct winib_child *child);
/* IRP_MN_REMOVE_DEVICE: the action for the PDO (child freed on DELETE). */
enum winib_remove_action winib_child_remove(struct winib_child *child);

/*
 * IRP_MN_QUERY_ID / IRP_MN_QUERY_DEVICE_TEXT. Write the answer into buf and
 * return the bytes (narrow) or UTF-16 units (wide) it takes, NULs included;
 * hardware and compatible IDs are multi-strings (double NUL at the end).
 * -ENOSPC (nothing useful written) when cap is too small, -EINVAL for an
 * unknown type, -ENOENT when there is nothing to answer (no compatible IDs),
 * -EILSEQ when a string is not valid UTF-8 (wide form). With buf NULL they
 * only return the size the answer needs.
 */
int winib_child_query_id(const struct winib_child *child, enum winib_id_type type, char *buf,
			 size_t cap);
int winib_child_query_text(const struct winib_child *child, enum winib_text_type type, char *buf,
			   size_t cap);
int winib_child_query_id_w(const struct winib_child *child, enum winib_id_type type,
			   uint16_t *buf, size_t cap);
int winib_child_query_text_w(const struct winib_child *child, enum winib_text_type type,
			     uint16_t *buf, size_t cap);

/* Convert len bytes of UTF-8 (NULs are copied) to UTF-16; returns units or
 * -EILSEQ / -ENOSPC. out NULL: only count the units. */
int winib_utf8_to_utf16(const char *s, size_t len, uint16_t *out, size_t cap);
/* The reverse, for strings read from the Windows registry; returns bytes.
 * out NULL: only count. Unpaired surrogates are -EILSEQ. */
int winib_utf16_to_utf8(const uint16_t *s, size_t units, char *out, size_t cap);

const char *winib_child_state_name(enum winib_child_state s);

#endif /* WINIB_BUS_H */
