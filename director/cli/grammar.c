/* SPDX-License-Identifier: MIT */
/*
 * grammar.c - xcm's command tables and the walker that matches argv against
 * them (see grammar.h). Each table is an array of tokens ending with a
 * zeroed entry; T_END in a table means the command may stop there.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/grammar.h"
#include "common/xsd_valid.h"

enum tok_type {
	T_NONE = 0,  /* table terminator */
	T_END,       /* the command may end here */
	T_KEYWORD,
	T_NAME,      /* a positional value (required unless T_END is also in the table) */
	T_OPTIONS,   /* --flag value ... up to the end of the words */
};

enum vkind {
	K_NAME, K_OPT_NAME, K_HOSTNAME, K_MAC, K_UINT, K_VLANS, K_LUNS, K_GUID, K_WWN,
	K_UPDOWN, K_VLANMODE, K_ONOFF, K_TEXT, K_TARGET, K_SIZE, K_FLAG,
};

struct vspec {
	enum vkind kind;
	const char *what;      /* for messages: "vnic", "MTU", ... */
	uint64_t lo, hi;       /* K_UINT */
	size_t max;            /* K_NAME */
	const char *metavar;   /* for help/errors: "NAME", "MAC", ... */
};

struct opt {
	const char *flag;      /* "--mtu" */
	const char *key;       /* request field */
	struct vspec v;
	bool repeat;           /* collects an array */
	bool required;
	bool novalue;          /* a switch: takes no value, sends true (K_FLAG) */
};

struct token {
	enum tok_type type;
	const char *word;            /* T_KEYWORD */
	const struct token *next;
	const char *op;              /* sets the request's op */
	const char *key;             /* T_NAME: request field */
	struct vspec v;              /* T_NAME */
	const struct opt *opts;      /* T_OPTIONS */
	const char *set_key, *set_val; /* T_KEYWORD: constant field */
	int render;                  /* 1 + enum xcm_render, 0 = unchanged */
	const char *noun, *verb;
	const char *names_key;
};

#define R(x) (1 + (x))
#define V_PROFILE { K_NAME, "profile", 0, 0, XSD_NAME_MAX, "NAME" }
#define V_VNIC { K_NAME, "vnic", 0, 0, XSD_DEV_NAME_MAX, "NAME" }
#define V_VHBA { K_NAME, "vhba", 0, 0, XSD_DEV_NAME_MAX, "NAME" }
#define V_STORAGE { K_NAME, "storage", 0, 0, XSD_NAME_MAX, "NAME" }
#define V_TARGET { K_TARGET, "target", .metavar = "NAME" }
#define V_LUN { K_UINT, "LUN", 0, XSD_LUN_MAX, .metavar = "LUN" }

static const struct token t_end[] = { { T_END }, { T_NONE } };

/* ---- option tables */
static const struct opt o_profile[] = {
	{ "--host-guid", "host_guids", { K_GUID, "host GUID", .metavar = "GUID" }, true },
	{ "--hostname", "hostname", { K_HOSTNAME, "hostname", .metavar = "HOST" } },
	{ NULL }
};

#define VNIC_OPTS(req)                                                                     \
	{ "--profile", "profile", V_PROFILE, false, req },                                 \
	{ "--mac", "mac", { K_MAC, "MAC", .metavar = "MAC" } },                            \
	{ "--mtu", "mtu", { K_UINT, "MTU", XSD_MTU_MIN, XSD_MTU_MAX, .metavar = "N" } },   \
	{ "--vlan-mode", "vlan_mode", { K_VLANMODE, "VLAN mode", .metavar = "access|trunk" } }, \
	{ "--vlans", "vlans", { K_VLANS, "VLAN", .metavar = "LIST" } },                    \
	{ "--uplink", "uplink", { K_OPT_NAME, "uplink", 0, 0, XSD_UPLINK_MAX, "NAME" } },  \
	{ "--cir", "cir", { K_UINT, "CIR", 0, XSD_RATE_MAX, .metavar = "MBPS" } },         \
	{ "--pir", "pir", { K_UINT, "PIR", 0, XSD_RATE_MAX, .metavar = "MBPS" } },         \
	{ "--ha-group", "ha_group", { K_OPT_NAME, "HA group", 0, 0, XSD_HA_GROUP_MAX, "G" } }, \
	{ "--admin", "admin", { K_UPDOWN, "admin state", .metavar = "up|down" } },         \
	{ NULL }
static const struct opt o_vnic_add[] = { VNIC_OPTS(true) };
static const struct opt o_vnic_set[] = { VNIC_OPTS(false) };

#define VHBA_OPTS(req)                                                                     \
	{ "--profile", "profile", V_PROFILE, false, req },                                 \
	{ "--wwpn", "wwpn", { K_WWN, "WWPN", .metavar = "WWN" } },                         \
	{ "--wwnn", "wwnn", { K_WWN, "WWNN", .metavar = "WWN" } },                         \
	{ "--target", "targets", { K_TARGET, "target", .metavar = "NAME" }, true },        \
	{ "--lun-mask", "lun_mask", { K_LUNS, "LUN", .metavar = "LIST" } },                \
	{ "--queue-depth", "queue_depth",                                                  \
	  { K_UINT, "queue depth", XSD_QDEPTH_MIN, XSD_QDEPTH_MAX, .metavar = "N" } },      \
	{ "--link-down-timeout", "link_down_timeout",                                      \
	  { K_UINT, "link-down timeout", 0, XSD_LDTO_MAX, .metavar = "S" } },              \
	{ "--admin", "admin", { K_UPDOWN, "admin state", .metavar = "up|down" } },         \
	{ NULL }
static const struct opt o_vhba_add[] = { VHBA_OPTS(true) };
static const struct opt o_vhba_set[] = { VHBA_OPTS(false) };

static const struct opt o_show_dev[] = {
	{ "--profile", "profile", V_PROFILE },
	{ NULL }
};
static const struct opt o_log[] = {
	{ "--limit", "limit", { K_UINT, "limit", 1, 100000, .metavar = "N" } },
	{ NULL }
};

static const struct opt o_storage[] = {
	{ "--file", "file", { K_TEXT, "file", .metavar = "PATH" } },
	{ "--block", "block", { K_TEXT, "block device", .metavar = "DEV" } },
	{ "--sg", "sg", { K_TEXT, "SCSI device", .metavar = "DEV" } },
	{ "--iscsi", "iscsi", { K_TEXT, "iSCSI URL", .metavar = "URL" } },
	{ "--ram", "ram", { K_SIZE, "ram size", .metavar = "SIZE" } },
	{ "--size", "size", { K_SIZE, "size", .metavar = "SIZE" } },
	{ "--direct", "direct", { K_FLAG }, .novalue = true },
	{ NULL }
};
static const struct opt o_target[] = {
	{ "--wwpn", "wwpn", { K_WWN, "WWPN", .metavar = "WWN" } },
	{ NULL }
};
static const struct opt o_lun[] = {
	{ "--storage", "storage", V_STORAGE, false, true },
	{ "--read-only", "read_only", { K_FLAG }, .novalue = true },
	{ NULL }
};

/* ---- tables, innermost first */
static const struct token t_opts_profile[] = { { T_OPTIONS, .opts = o_profile }, { T_END }, { T_NONE } };
static const struct token t_opts_vnic_add[] = { { T_OPTIONS, .opts = o_vnic_add }, { T_END }, { T_NONE } };
static const struct token t_opts_vnic_set[] = { { T_OPTIONS, .opts = o_vnic_set }, { T_END }, { T_NONE } };
static const struct token t_opts_vhba_add[] = { { T_OPTIONS, .opts = o_vhba_add }, { T_END }, { T_NONE } };
static const struct token t_opts_vhba_set[] = { { T_OPTIONS, .opts = o_vhba_set }, { T_END }, { T_NONE } };
static const struct token t_opts_log[] = { { T_OPTIONS, .opts = o_log }, { T_END }, { T_NONE } };

static const struct token t_profile_name_opts[] = { { T_NAME, .key = "name", .v = V_PROFILE, .next = t_opts_profile }, { T_NONE } };
static const struct token t_profile_name[] = { { T_NAME, .key = "name", .v = V_PROFILE, .next = t_end }, { T_NONE } };
static const struct token t_profile[] = {
	{ T_KEYWORD, "add", t_profile_name_opts, "profile.add", .verb = "add" },
	{ T_KEYWORD, "set", t_profile_name_opts, "profile.set", .verb = "set" },
	{ T_KEYWORD, "delete", t_profile_name, "profile.delete", .verb = "delete" },
	{ T_NONE }
};

static const struct token t_vnic_add[] = { { T_NAME, .key = "name", .v = V_VNIC, .next = t_opts_vnic_add }, { T_NONE } };
static const struct token t_vnic_set[] = { { T_NAME, .key = "name", .v = V_VNIC, .next = t_opts_vnic_set }, { T_NONE } };
static const struct token t_vnic_name[] = { { T_NAME, .key = "name", .v = V_VNIC, .next = t_end }, { T_NONE } };
static const struct token t_vnic[] = {
	{ T_KEYWORD, "add", t_vnic_add, "vnic.add", .verb = "add" },
	{ T_KEYWORD, "set", t_vnic_set, "vnic.set", .verb = "set" },
	{ T_KEYWORD, "delete", t_vnic_name, "vnic.delete", .verb = "delete" },
	{ T_NONE }
};

static const struct token t_vhba_add[] = { { T_NAME, .key = "name", .v = V_VHBA, .next = t_opts_vhba_add }, { T_NONE } };
static const struct token t_vhba_set[] = { { T_NAME, .key = "name", .v = V_VHBA, .next = t_opts_vhba_set }, { T_NONE } };
static const struct token t_vhba_name[] = { { T_NAME, .key = "name", .v = V_VHBA, .next = t_end }, { T_NONE } };
static const struct token t_vhba[] = {
	{ T_KEYWORD, "add", t_vhba_add, "vhba.add", .verb = "add" },
	{ T_KEYWORD, "set", t_vhba_set, "vhba.set", .verb = "set" },
	{ T_KEYWORD, "delete", t_vhba_name, "vhba.delete", .verb = "delete" },
	{ T_NONE }
};

static const struct token t_opts_storage[] = { { T_OPTIONS, .opts = o_storage }, { T_END }, { T_NONE } };
static const struct token t_storage_add[] = { { T_NAME, .key = "name", .v = V_STORAGE, .next = t_opts_storage }, { T_NONE } };
static const struct token t_storage_name[] = { { T_NAME, .key = "name", .v = V_STORAGE, .next = t_end }, { T_NONE } };
static const struct token t_storage[] = {
	{ T_KEYWORD, "add", t_storage_add, "storage.add", .verb = "add" },
	{ T_KEYWORD, "delete", t_storage_name, "storage.delete", .verb = "delete" },
	{ T_NONE }
};
static const struct token t_opts_target[] = { { T_OPTIONS, .opts = o_target }, { T_END }, { T_NONE } };
static const struct token t_target_add[] = { { T_NAME, .key = "name", .v = V_TARGET, .next = t_opts_target }, { T_NONE } };
static const struct token t_target_name[] = { { T_NAME, .key = "name", .v = V_TARGET, .next = t_end }, { T_NONE } };
static const struct token t_target[] = {
	{ T_KEYWORD, "add", t_target_add, "target.add", .verb = "add" },
	{ T_KEYWORD, "delete", t_target_name, "target.delete", .verb = "delete" },
	{ T_NONE }
};
static const struct token t_opts_lun[] = { { T_OPTIONS, .opts = o_lun }, { T_END }, { T_NONE } };
static const struct token t_lun_add_id[] = { { T_NAME, .key = "lun", .v = V_LUN, .next = t_opts_lun }, { T_NONE } };
static const struct token t_lun_add[] = { { T_NAME, .key = "target", .v = V_TARGET, .next = t_lun_add_id }, { T_NONE } };
static const struct token t_lun_del_id[] = { { T_NAME, .key = "lun", .v = V_LUN, .next = t_end }, { T_NONE } };
static const struct token t_lun_del[] = { { T_NAME, .key = "target", .v = V_TARGET, .next = t_lun_del_id }, { T_NONE } };
static const struct token t_lun[] = {
	{ T_KEYWORD, "add", t_lun_add, "lun.add", .verb = "add" },
	{ T_KEYWORD, "delete", t_lun_del, "lun.delete", .verb = "delete" },
	{ T_NONE }
};

static const struct token t_show_profile[] = { { T_NAME, .key = "name", .v = V_PROFILE, .next = t_end }, { T_END }, { T_NONE } };
static const struct token t_show_vnic[] = {
	{ T_NAME, .key = "name", .v = V_VNIC, .next = t_end },
	{ T_OPTIONS, .opts = o_show_dev }, { T_END }, { T_NONE }
};
static const struct token t_show_vhba[] = {
	{ T_NAME, .key = "name", .v = V_VHBA, .next = t_end },
	{ T_OPTIONS, .opts = o_show_dev }, { T_END }, { T_NONE }
};
static const struct token t_show_storage[] = { { T_NAME, .key = "name", .v = V_STORAGE, .next = t_end }, { T_END }, { T_NONE } };
static const struct token t_show_target[] = { { T_NAME, .key = "name", .v = V_TARGET, .next = t_end }, { T_END }, { T_NONE } };
static const struct token t_show[] = {
	{ T_KEYWORD, "profile", t_show_profile, "profile.show", .render = R(XCM_R_PROFILES) },
	{ T_KEYWORD, "vnic", t_show_vnic, "vnic.show", .render = R(XCM_R_VNICS) },
	{ T_KEYWORD, "vhba", t_show_vhba, "vhba.show", .render = R(XCM_R_VHBAS) },
	{ T_KEYWORD, "sessions", t_end, "sessions.show", .render = R(XCM_R_SESSIONS) },
	{ T_KEYWORD, "hosts", t_end, "hosts.show", .render = R(XCM_R_HOSTS) },
	{ T_KEYWORD, "log", t_opts_log, "log.show", .render = R(XCM_R_LOG) },
	{ T_KEYWORD, "config", t_end, "config.show", .render = R(XCM_R_CONFIG) },
	{ T_KEYWORD, "uplinks", t_end, "uplink.show", .render = R(XCM_R_NAMES), .names_key = "uplinks" },
	{ T_KEYWORD, "storage-pools", t_end, "storage-pool.show", .render = R(XCM_R_NAMES), .names_key = "storage_pools" },
	{ T_KEYWORD, "stats", t_end, "stats", .render = R(XCM_R_STATS) },
	{ T_KEYWORD, "storage", t_show_storage, "storage.show", .render = R(XCM_R_STORAGE) },
	{ T_KEYWORD, "targets", t_show_target, "target.show", .render = R(XCM_R_TARGETS) },
	{ T_NONE }
};

static const struct token t_val_onoff[] = { { T_NAME, .key = "value", .v = { K_ONOFF, "auto-accept", .metavar = "on|off" }, .next = t_end }, { T_NONE } };
static const struct token t_val_hello[] = { { T_NAME, .key = "value", .v = { K_UINT, "hello interval", 1, 300, .metavar = "SECONDS" }, .next = t_end }, { T_NONE } };
static const struct token t_val_maxs[] = { { T_NAME, .key = "value", .v = { K_UINT, "max sessions", 1, 65536, .metavar = "N" }, .next = t_end }, { T_NONE } };
static const struct token t_val_pool[] = { { T_NAME, .key = "value", .v = { K_TEXT, "pool", .metavar = "FIRST-LAST" }, .next = t_end }, { T_NONE } };
static const struct token t_config_keys[] = {
	{ T_KEYWORD, "auto-accept", t_val_onoff, .set_key = "key", .set_val = "auto-accept" },
	{ T_KEYWORD, "hello-interval", t_val_hello, .set_key = "key", .set_val = "hello-interval" },
	{ T_KEYWORD, "max-sessions", t_val_maxs, .set_key = "key", .set_val = "max-sessions" },
	{ T_KEYWORD, "mac-pool", t_val_pool, .set_key = "key", .set_val = "mac-pool" },
	{ T_KEYWORD, "wwn-pool", t_val_pool, .set_key = "key", .set_val = "wwn-pool" },
	{ T_NONE }
};
static const struct token t_config[] = {
	{ T_KEYWORD, "set", t_config_keys, "config.set", .verb = "set" },
	{ T_NONE }
};

static const struct token t_uplink_name[] = { { T_NAME, .key = "name", .v = { K_NAME, "uplink", 0, 0, XSD_UPLINK_MAX, "NAME" }, .next = t_end }, { T_NONE } };
static const struct opt o_uplink[] = {
	{ "--interface", "interface", { K_OPT_NAME, "interface", 0, 0, 15, "IF" } },
	{ NULL }
};
static const struct token t_opts_uplink[] = { { T_OPTIONS, .opts = o_uplink }, { T_END }, { T_NONE } };
static const struct token t_uplink_name_opts[] = { { T_NAME, .key = "name", .v = { K_NAME, "uplink", 0, 0, XSD_UPLINK_MAX, "NAME" }, .next = t_opts_uplink }, { T_NONE } };
static const struct token t_uplink[] = {
	{ T_KEYWORD, "add", t_uplink_name_opts, "uplink.add", .verb = "add" },
	{ T_KEYWORD, "delete", t_uplink_name, "uplink.delete", .verb = "delete" },
	{ T_NONE }
};
static const struct token t_pool_name[] = { { T_NAME, .key = "name", .v = { K_NAME, "storage pool", 0, 0, XSD_NAME_MAX, "NAME" }, .next = t_end }, { T_NONE } };
static const struct token t_pool[] = {
	{ T_KEYWORD, "add", t_pool_name, "storage-pool.add", .verb = "add" },
	{ T_KEYWORD, "delete", t_pool_name, "storage-pool.delete", .verb = "delete" },
	{ T_NONE }
};

static const struct token t_main[] = {
	{ T_KEYWORD, "profile", t_profile, .noun = "profile", .render = R(XCM_R_CHANGE) },
	{ T_KEYWORD, "vnic", t_vnic, .noun = "vnic", .render = R(XCM_R_CHANGE) },
	{ T_KEYWORD, "vhba", t_vhba, .noun = "vhba", .render = R(XCM_R_CHANGE) },
	{ T_KEYWORD, "show", t_show, .verb = "show" },
	{ T_KEYWORD, "config", t_config, .noun = "config", .render = R(XCM_R_CHANGE) },
	{ T_KEYWORD, "uplink", t_uplink, .noun = "uplink", .render = R(XCM_R_CHANGE) },
	{ T_KEYWORD, "storage-pool", t_pool, .noun = "storage-pool", .render = R(XCM_R_CHANGE) },
	{ T_KEYWORD, "storage", t_storage, .noun = "storage", .render = R(XCM_R_CHANGE) },
	{ T_KEYWORD, "target", t_target, .noun = "target", .render = R(XCM_R_CHANGE) },
	{ T_KEYWORD, "lun", t_lun, .noun = "lun", .render = R(XCM_R_CHANGE) },
	{ T_NONE }
};

/* ------------------------------------------------------------- walker */

struct walk {
	char *err;
	size_t errlen;
	char path[256];   /* words matched so far, full spelling */
	json_t *req;
	struct xcm_cmd *cmd;
};

static int fail(struct walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct walk *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->err, w->errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static void path_add(struct walk *w, const char *word)
{
	size_t n = strlen(w->path);

	snprintf(w->path + n, sizeof(w->path) - n, "%s%s", n ? " " : "", word);
}

/* "one of: a, b, c" for the keywords (and value kinds) of a table */
static void expected(const struct token *t, char *out, size_t cap)
{
	size_t off = 0;

	out[0] = 0;
	for (; t->type != T_NONE; t++) {
		const char *s = NULL;
		char buf[64];

		if (t->type == T_KEYWORD) {
			s = t->word;
		} else if (t->type == T_NAME) {
			snprintf(buf, sizeof(buf), "%s %s",
				 t->v.kind == K_NAME ? t->v.what : "a", t->v.metavar);
			if (t->v.kind != K_NAME)
				snprintf(buf, sizeof(buf), "%s", t->v.metavar);
			s = buf;
		} else if (t->type == T_OPTIONS) {
			s = "options";
		}
		if (s && off < cap)
			off += (size_t)snprintf(out + off, cap - off, "%s%s", off ? ", " : "", s);
	}
}

static bool table_has(const struct token *t, enum tok_type type)
{
	for (; t->type != T_NONE; t++)
		if (t->type == type)
			return true;
	return false;
}

static bool may_be_value(const char *word)
{
	return word[0] != '-' || word[1] != '-';
}

/* Check a value and store it into the request under key. */
static int put_value(struct walk *w, const char *key, const struct vspec *v, const char *s,
		     bool repeat)
{
	struct xsd_err e;
	json_t *val = NULL;
	uint8_t mac[6];
	uint64_t n;
	char buf[XSD_VLANS_TEXT];
	unsigned int cnt;
	bool b;
	int trunk, rc = 0;

	switch (v->kind) {
	case K_NAME:
		rc = xsd_check_name(v->what, s, v->max, &e);
		break;
	case K_OPT_NAME:
		if (strcmp(s, "none"))
			rc = xsd_check_name(v->what, s, v->max, &e);
		break;
	case K_TARGET:
		rc = xsd_check_name(v->what, s, XSD_TARGET_NAME_MAX, &e);
		break;
	case K_HOSTNAME:
		if (strcmp(s, "none"))
			rc = xsd_check_hostname(s, &e);
		break;
	case K_MAC:
		rc = xsd_parse_mac(s, mac, &e);
		break;
	case K_UINT:
		rc = xsd_parse_uint(v->what, s, v->lo, v->hi, &n, &e);
		if (!rc)
			val = json_integer((json_int_t)n);
		break;
	case K_VLANS:
		if (strcmp(s, "none"))
			rc = xsd_parse_vlans(s, buf, sizeof(buf), &cnt, &e);
		break;
	case K_LUNS:
		if (strcmp(s, "none"))
			rc = xsd_parse_luns(s, buf, sizeof(buf), &cnt, &e);
		break;
	case K_GUID:
		rc = xsd_parse_guid(s, &n, &e);
		if (!rc) {
			xsd_format_guid(n, buf);
			val = json_string(buf);
		}
		break;
	case K_WWN:
		rc = xsd_parse_wwn(s, &n, &e);
		break;
	case K_UPDOWN:
		rc = xsd_parse_updown(s, &b, &e);
		break;
	case K_VLANMODE:
		rc = xsd_parse_vlan_mode(s, &trunk, &e);
		break;
	case K_ONOFF:
		rc = xsd_parse_onoff(v->what, s, &b, &e);
		break;
	case K_SIZE:
		rc = xsd_parse_size(v->what, s, &n, &e);
		break;
	case K_TEXT:
	case K_FLAG:
		break;
	}
	if (rc)
		return fail(w, "%s", e.msg);
	if (!val)
		val = json_string(s);
	if (repeat) {
		json_t *arr = json_object_get(w->req, key);

		if (!arr) {
			arr = json_array();
			json_object_set_new(w->req, key, arr);
		}
		json_array_append_new(arr, val);
	} else {
		json_object_set_new(w->req, key, val);
	}
	return 0;
}

static const struct opt *match_opt(struct walk *w, const struct opt *opts, const char *word,
				   int *rc)
{
	const struct opt *found = NULL;
	char list[512];
	size_t off = 0;
	int n = 0;

	for (const struct opt *o = opts; o->flag; o++) {
		if (!strcmp(o->flag, word))
			return o;
		if (!strncmp(o->flag, word, strlen(word))) {
			found = o;
			n++;
		}
	}
	if (n == 1)
		return found;
	list[0] = 0;
	for (const struct opt *o = opts; o->flag; o++)
		if (n == 0 || !strncmp(o->flag, word, strlen(word)))
			off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
						off ? ", " : "", o->flag);
	if (n == 0)
		*rc = fail(w, "unknown option '%s' for '%s'; expected one of: %s", word, w->path,
			   list);
	else
		*rc = fail(w, "ambiguous option '%s' for '%s'; could be: %s", word, w->path, list);
	return NULL;
}

static int parse_options(struct walk *w, const struct opt *opts, int argc, char **argv)
{
	unsigned int seen = 0;
	int i = 0, rc = 0;

	while (i < argc) {
		const struct opt *o;
		const char *word = argv[i], *val;
		char flagbuf[64];
		const char *eq = strchr(word, '=');

		if (word[0] != '-' || word[1] != '-')
			return fail(w, "unexpected word '%s' after '%s'; options start with --", word,
				    w->path);
		if (eq && (size_t)(eq - word) < sizeof(flagbuf)) {
			memcpy(flagbuf, word, (size_t)(eq - word));
			flagbuf[eq - word] = 0;
			word = flagbuf;
		}
		o = match_opt(w, opts, word, &rc);
		if (!o)
			return rc;
		if (o->novalue) {
			if (eq)
				return fail(w, "option '%s' takes no value", o->flag);
			if (seen & (1u << (o - opts)))
				return fail(w, "option '%s' given twice", o->flag);
			seen |= 1u << (o - opts);
			json_object_set_new(w->req, o->key, json_true());
			i++;
			continue;
		}
		if (eq) {
			val = eq + 1;
			i++;
		} else if (i + 1 < argc) {
			val = argv[i + 1];
			i += 2;
		} else {
			return fail(w, "option '%s' needs a value (%s)", o->flag, o->v.metavar);
		}
		if (!o->repeat && (seen & (1u << (o - opts))))
			return fail(w, "option '%s' given twice", o->flag);
		seen |= 1u << (o - opts);
		rc = put_value(w, o->key, &o->v, val, o->repeat);
		if (rc)
			return rc;
	}
	for (const struct opt *o = opts; o->flag; o++)
		if (o->required && !(seen & (1u << (o - opts))))
			return fail(w, "'%s' needs %s %s", w->path, o->flag, o->v.metavar);
	return 0;
}

static void take(struct walk *w, const struct token *t)
{
	if (t->op)
		json_object_set_new(w->req, "op", json_string(t->op));
	if (t->set_key)
		json_object_set_new(w->req, t->set_key, json_string(t->set_val));
	if (t->render)
		w->cmd->render = (enum xcm_render)(t->render - 1);
	if (t->noun)
		w->cmd->noun = t->noun;
	if (t->verb)
		w->cmd->verb = t->verb;
	if (t->names_key)
		w->cmd->names_key = t->names_key;
}

static int walk(struct walk *w, const struct token *table, int argc, char **argv)
{
	const struct token *match = NULL, *t;
	char list[512];
	int n = 0;

	if (argc == 0) {
		for (t = table; t->type != T_NONE; t++)
			if (t->type == T_OPTIONS)
				return parse_options(w, t->opts, 0, argv); /* required ones */
		if (table_has(table, T_END) || table == t_end)
			return 0;
		expected(table, list, sizeof(list));
		for (t = table; t->type != T_NONE; t++)
			if (t->type == T_NAME && (t->v.kind == K_NAME || t->v.kind == K_TARGET))
				return fail(w, "missing %s name after '%s'", t->v.what, w->path);
		if (table->type == T_NAME)
			return fail(w, "missing value after '%s'; expected %s", w->path, list);
		return fail(w, "incomplete command '%s'; expected one of: %s", w->path, list);
	}
	for (t = table; t->type != T_NONE; t++) {
		if (t->type != T_KEYWORD)
			continue;
		if (!strcmp(t->word, argv[0])) {
			match = t;
			n = 1;
			break;
		}
		if (!strncmp(t->word, argv[0], strlen(argv[0]))) {
			match = t;
			n++;
		}
	}
	if (n == 1) {
		path_add(w, match->word);
		take(w, match);
		return walk(w, match->next, argc - 1, argv + 1);
	}
	if (n > 1) {
		size_t off = 0;

		list[0] = 0;
		for (t = table; t->type != T_NONE; t++)
			if (t->type == T_KEYWORD && !strncmp(t->word, argv[0], strlen(argv[0])))
				off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
							off ? ", " : "", t->word);
		if (w->path[0])
			return fail(w, "ambiguous word '%s' after '%s'; could be: %s", argv[0],
				    w->path, list);
		return fail(w, "ambiguous word '%s'; could be: %s", argv[0], list);
	}
	for (t = table; t->type != T_NONE; t++) {
		if (t->type == T_NAME && may_be_value(argv[0])) {
			int rc = put_value(w, t->key, &t->v, argv[0], false);

			if (rc)
				return rc;
			path_add(w, argv[0]);
			return walk(w, t->next, argc - 1, argv + 1);
		}
		if (t->type == T_OPTIONS)
			return parse_options(w, t->opts, argc, argv);
	}
	if (table == t_end || (table_has(table, T_END) && !table_has(table, T_KEYWORD) &&
			       !table_has(table, T_NAME)))
		return fail(w, "unexpected word '%s' after '%s'", argv[0], w->path);
	expected(table, list, sizeof(list));
	if (w->path[0])
		return fail(w, "unknown word '%s' after '%s'; expected one of: %s", argv[0], w->path,
			    list);
	return fail(w, "unknown word '%s'; expected one of: %s", argv[0], list);
}

int xcm_parse(int argc, char **argv, struct xcm_cmd *cmd, char *err, size_t errlen)
{
	struct walk w = { .err = err, .errlen = errlen, .cmd = cmd };
	int rc;

	memset(cmd, 0, sizeof(*cmd));
	w.req = json_object();
	if (!w.req) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rc = walk(&w, t_main, argc, argv);
	if (rc) {
		json_decref(w.req);
		return rc;
	}
	cmd->req = w.req;
	return 0;
}
