/* SPDX-License-Identifier: MIT */
/*
 * test_winib_bus.c - the winib core driven through a simulated PnP
 * manager, configured from winib/wdm/xsbus.inf (the driver's own INF).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define GUID1 WINIB_U64(0x0002c90300a1b2c1)
#define GUID2 WINIB_U64(0x0002c90300a1b2c2)
#define INSTALL "XsBus.Install.NTamd64"

struct fixture {
	struct sim_host host;
	struct sim_pnp pm;
	char *inf_text;
	size_t inf_len;
};

static int setup_from_inf(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct winib_inf_error einfo;
	struct winib_bus_limits lim = { .max_ports = 4, .max_children = 16 };
	struct winib_config *cfg;
	int err;

	assert_non_null(f);
	sim_host_init(&f->host);
	f->inf_text = sim_read_file(WINIB_INF_PATH, &f->inf_len);
	assert_non_null(f->inf_text);
	cfg = sim_config_from_inf(&f->host, "xsbus.inf", f->inf_text, INSTALL, &einfo, &err);
	if (cfg == NULL)
		(void)fprintf(stderr, "INF error: %s\n", einfo.text);
	assert_non_null(cfg);
	f->pm.bus = winib_bus_create(&f->host.env, cfg, &lim, &f->host, &err);
	assert_non_null(f->pm.bus);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (f->pm.bus != NULL)
		sim_pnp_teardown(&f->pm);
	/* Every block the core took from the host was given back. */
	assert_int_equal(f->host.live_blocks, 0);
	free(f->inf_text);
	free(f);
	return 0;
}

static void assert_multi(const char *got, int got_len, const char *want, int want_len)
{
	assert_int_equal(got_len, want_len);
	assert_memory_equal(got, want, (size_t)want_len);
}

/* The stanza, two ports: IPoIB and XsigoBus on each, exact IDs. */
static void test_stanza_two_ports(void **state)
{
	struct fixture *f = *state;
	struct sim_dev *d;

	assert_int_equal(f->pm.bus->cfg->count, 2);
	assert_string_equal(f->pm.bus->cfg->tmpl[0].name, "IPoIB");
	assert_string_equal(f->pm.bus->cfg->tmpl[1].name, "XsigoBus");
	assert_int_equal(winib_bus_port_add(f->pm.bus, GUID1, 1), 2);
	assert_int_equal(winib_bus_port_add(f->pm.bus, GUID2, 2), 2);
	assert_int_equal(winib_bus_port_add(f->pm.bus, GUID2, 2), -EEXIST);
	assert_int_equal(sim_pnp_enumerate(&f->pm), 4);
	assert_int_equal(f->pm.pdos_created, 4);

	d = sim_pnp_find(&f->pm, "IBA\\IPoIB\\0002c90300a1b2c1_ffff");
	assert_non_null(d);
	assert_string_equal(d->device_id, "IBA\\IPoIB");
	assert_multi(d->hardware_ids, d->hardware_len, "IBA\\IPoIB\0", 11);
	assert_multi(d->compatible_ids, d->compatible_len, "IBA\\SID_1000066a00020000\0", 26);
	assert_string_equal(d->instance_id, "0002c90300a1b2c1_ffff");
	assert_string_equal(d->description, "OpenIB IPoIB Adapter");
	assert_string_equal(d->location, "IB port 1, GUID 0002c90300a1b2c1, P_Key 0xffff");
	assert_true(d->started);
	assert_int_equal(d->child->state, WINIB_CHILD_STARTED);

	d = sim_pnp_find(&f->pm, "IBA\\XsigoBus\\0002c90300a1b2c2_ffff");
	assert_non_null(d);
	assert_string_equal(d->device_id, "IBA\\XsigoBus");
	assert_multi(d->hardware_ids, d->hardware_len, "IBA\\XsigoBus\0", 14);
	assert_multi(d->compatible_ids, d->compatible_len, "IBA\\SID_0000000002139702\0", 26);
	assert_string_equal(d->description, "Xsigo Virtual Bus");
	assert_string_equal(d->location, "IB port 2, GUID 0002c90300a1b2c2, P_Key 0xffff");

	assert_non_null(sim_pnp_find(&f->pm, "IBA\\XsigoBus\\0002c90300a1b2c1_ffff"));
	assert_non_null(sim_pnp_find(&f->pm, "IBA\\IPoIB\\0002c90300a1b2c2_ffff"));
	/* A second pass with nothing changed creates and removes nothing. */
	assert_int_equal(sim_pnp_enumerate(&f->pm), 4);
	assert_int_equal(f->pm.pdos_created, 4);
	assert_int_equal(f->pm.removes_sent, 0);
}

static void test_wide_answers(void **state)
{
	struct fixture *f = *state;
	struct winib_child *rel[8];
	uint16_t w[64];
	static const uint16_t want_dev[] = { 'I', 'B', 'A', '\\', 'X', 's', 'i', 'g', 'o',
					     'B', 'u', 's', 0 };
	int n;

	assert_int_equal(winib_bus_port_add(f->pm.bus, GUID1, 1), 2);
	assert_int_equal(winib_bus_relations(f->pm.bus, rel, 8), 2);
	assert_int_equal(winib_child_query_id_w(rel[1], WINIB_ID_DEVICE, NULL, 0), 13);
	assert_int_equal(winib_child_query_id(rel[1], WINIB_ID_HARDWARE, NULL, 0), 14);
	assert_int_equal(winib_child_query_text_w(rel[1], WINIB_TEXT_DESCRIPTION, NULL, 0), 18);
	n = winib_child_query_id_w(rel[1], WINIB_ID_DEVICE, w, 64);
	assert_int_equal(n, 13);
	assert_memory_equal(w, want_dev, sizeof(want_dev));
	/* Too small a buffer is -ENOSPC, not a cut string. */
	assert_int_equal(winib_child_query_id_w(rel[1], WINIB_ID_DEVICE, w, 12), -ENOSPC);
	assert_int_equal(winib_child_query_id(rel[1], WINIB_ID_INSTANCE, (char *)w, 21), -ENOSPC);
	assert_int_equal(winib_child_query_id(rel[1], (enum winib_id_type)7, (char *)w, 64),
			 -EINVAL);
	/* relations with too little room changes nothing */
	assert_int_equal(winib_bus_relations(f->pm.bus, rel, 1), -ENOSPC);
	assert_int_equal(rel[0]->state, WINIB_CHILD_REPORTED);

	/* Reported, but the glue failed to make PDOs; then the port went:
	 * no REMOVE will ever come, so the next relations frees the slots. */
	assert_int_equal(winib_bus_port_remove(f->pm.bus, GUID1), 2);
	assert_int_equal(rel[0]->state, WINIB_CHILD_MISSING);
	assert_int_equal(winib_bus_relations(f->pm.bus, rel, 8), 0);
	assert_int_equal(f->pm.bus->stats.children_freed, 2);
	assert_int_equal(winib_bus_all_children(f->pm.bus, rel, 8), 0);
}

/* Run-time P_Key child: added, enumerated with its own instance ID, removed. */
static void test_pkey_runtime(void **state)
{
	struct fixture *f = *state;
	struct sim_dev *d;
	struct winib_child *c;

	assert_int_equal(winib_bus_port_add(f->pm.bus, GUID1, 1), 2);
	assert_int_equal(winib_bus_port_add(f->pm.bus, GUID2, 2), 2);
	assert_int_equal(sim_pnp_enumerate(&f->pm), 4);

	assert_int_equal(winib_bus_pkey_add(f->pm.bus, "ipoib", GUID1, 0x8001, "storage"), 1);
	assert_true(sim_log_has(&f->host, "IPoIB P_Key 0x8001 on port 0002c90300a1b2c1 added"));
	assert_int_equal(winib_bus_pkey_add(f->pm.bus, "IPoIB", GUID1, 0x0001, NULL), -EEXIST);
	assert_int_equal(winib_bus_pkey_add(f->pm.bus, "IPoIB", GUID1, 0x8000, NULL), -EINVAL);
	assert_int_equal(winib_bus_pkey_add(f->pm.bus, "IPoIB", GUID1, 0x7fff, NULL), -EEXIST);
	assert_int_equal(winib_bus_pkey_add(f->pm.bus, "NoSuch", GUID1, 0x8002, NULL), -ENOENT);
	assert_int_equal(winib_bus_pkey_add(f->pm.bus, "IPoIB", GUID1, 0x8002, "a b"), -EINVAL);
	assert_int_equal(sim_pnp_enumerate(&f->pm), 5);

	d = sim_pnp_find(&f->pm, "IBA\\IPoIB\\0002c90300a1b2c1_8001");
	assert_non_null(d);
	assert_string_equal(d->description, "OpenIB IPoIB Adapter (P_Key 0x8001, storage)");
	assert_string_equal(d->location, "IB port 1, GUID 0002c90300a1b2c1, P_Key 0x8001");
	assert_multi(d->hardware_ids, d->hardware_len, "IBA\\IPoIB\0", 11);
	c = d->child;
	assert_true(c->pkey_child);

	assert_int_equal(winib_bus_pkey_remove(f->pm.bus, "IPoIB", GUID1, 0x8001), 1);
	assert_int_equal(c->state, WINIB_CHILD_MISSING);
	assert_int_equal(winib_bus_pkey_remove(f->pm.bus, "IPoIB", GUID1, 0x8001), -ENOENT);
	assert_int_equal(sim_pnp_enumerate(&f->pm), 4);
	assert_int_equal(f->pm.removes_sent, 1);
	assert_int_equal(f->pm.pdos_deleted, 1);
	assert_null(sim_pnp_find(&f->pm, "IBA\\IPoIB\\0002c90300a1b2c1_8001"));
	assert_int_equal(c->state, WINIB_CHILD_FREE);

	/* Recorded for an absent port: created when the port arrives. */
	assert_int_equal(winib_bus_pkey_add(f->pm.bus, "XsigoBus", WINIB_U64(0x77), 0x8005, ""), 0);
	assert_int_equal(winib_bus_port_add(f->pm.bus, WINIB_U64(0x77), 3), 3);
	assert_int_equal(sim_pnp_enumerate(&f->pm), 7);
	d = sim_pnp_find(&f->pm, "IBA\\XsigoBus\\0000000000000077_8005");
	assert_non_null(d);
	assert_string_equal(d->description, "Xsigo Virtual Bus (P_Key 0x8005)");
}

/* A port goes away: its children are removed, the other port's stay. */
static void test_port_remove(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(winib_bus_port_add(f->pm.bus, GUID1, 1), 2);
	assert_int_equal(winib_bus_port_add(f->pm.bus, GUID2, 2), 2);
	assert_int_equal(sim_pnp_enumerate(&f->pm), 4);
	assert_int_equal(winib_bus_port_remove(f->pm.bus, GUID2), 2);
	assert_int_equal(winib_bus_port_remove(f->pm.bus, GUID2), -ENOENT);
	assert_true(sim_log_has(&f->host, "port 0002c90300a1b2c2 removed: 2 children"));
	assert_int_equal(sim_pnp_enumerate(&f->pm), 2);
	assert_int_equal(f->pm.pdos_deleted, 2);
	assert_null(sim_pnp_find(&f->pm, "IBA\\IPoIB\\0002c90300a1b2c2_ffff"));
	assert_null(sim_pnp_find(&f->pm, "IBA\\XsigoBus\\0002c90300a1b2c2_ffff"));
	assert_non_null(sim_pnp_find(&f->pm, "IBA\\IPoIB\\0002c90300a1b2c1_ffff"));
	assert_non_null(sim_pnp_find(&f->pm, "IBA\\XsigoBus\\0002c90300a1b2c1_ffff"));

	/* Added and removed before PnP ever saw them: freed at once. */
	assert_int_equal(winib_bus_port_add(f->pm.bus, GUID2, 2), 2);
	assert_int_equal(winib_bus_port_remove(f->pm.bus, GUID2), 2);
	assert_int_equal(winib_bus_present_count(f->pm.bus), 2);
	assert_int_equal(sim_pnp_enumerate(&f->pm), 2);
	assert_int_equal(f->pm.removes_sent, 2);

	/* Back again: same instance IDs as before. */
	assert_int_equal(winib_bus_port_add(f->pm.bus, GUID2, 2), 2);
	assert_int_equal(sim_pnp_enumerate(&f->pm), 4);
	assert_non_null(sim_pnp_find(&f->pm, "IBA\\XsigoBus\\0002c90300a1b2c2_ffff"));
}

/* A stopped (not vanished) child keeps its PDO on REMOVE_DEVICE. */
static void test_remove_present_child_keeps_pdo(void **state)
{
	struct fixture *f = *state;
	struct sim_dev *d;

	assert_int_equal(winib_bus_port_add(f->pm.bus, GUID1, 1), 2);
	assert_int_equal(sim_pnp_enumerate(&f->pm), 2);
	d = sim_pnp_find(&f->pm, "IBA\\XsigoBus\\0002c90300a1b2c1_ffff");
	assert_non_null(d);
	assert_int_equal(winib_child_remove(d->child), WINIB_REMOVE_KEEP_PDO);
	assert_int_equal(d->child->state, WINIB_CHILD_REPORTED);
	assert_int_equal(winib_child_start(d->child), 0);
	assert_int_equal(d->child->state, WINIB_CHILD_STARTED);
}

/* The driver's own INF with one line broken: the error names that line. */
static void test_broken_line_in_real_inf(void **state)
{
	struct fixture *f = *state;
	struct sim_host h;
	struct winib_inf_error einfo;
	char *text = strdup(f->inf_text), *p, want[256];
	unsigned line = 1;
	int err;

	assert_non_null(text);
	p = strstr(text, "HKR,\"Parameters\\XsigoBus\",\"DeviceId\",%REG_SZ%");
	assert_non_null(p);
	p = strstr(p, "%REG_SZ%");
	p[6] = 'X'; /* %REG_SZ% becomes the unknown token %REG_SX% */
	for (char *q = text; q < p; q++)
		line += *q == '\n';
	sim_host_init(&h);
	assert_null(sim_config_from_inf(&h, "xsbus.inf", text, INSTALL, &einfo, &err));
	assert_int_equal(err, -EBADMSG);
	assert_int_equal(einfo.line, line);
	(void)snprintf(want, sizeof(want),
		 "xsbus.inf:%u: unknown string token %%REG_SX%% (not in [Strings])", line);
	assert_string_equal(einfo.text, want);
	assert_true(sim_log_has(&h, want));
	assert_int_equal(h.live_blocks, 0);
	free(text);
}

static void expect_inf_error(const char *text, const char *want, int want_err)
{
	struct sim_host h;
	struct winib_inf_error einfo;
	int err = 0;

	sim_host_init(&h);
	assert_null(sim_config_from_inf(&h, "broken.inf", text, "Reg", &einfo, &err));
	assert_int_equal(err, want_err);
	assert_string_equal(einfo.text, want);
	assert_true(sim_log_has(&h, want));
	assert_int_equal(h.live_blocks, 0);
}

static void test_broken_lines(void **state)
{
	(void)state;
	expect_inf_error("[Reg]\n; fine\nHKR,,A,,\"x\"\nHKX,\"Parameters\",\"B\",0,\"y\"\n",
			 "broken.inf:4: unknown registry root \"HKX\" (expected HKR, HKLM, HKCU, "
			 "HKCR or HKU)", -EBADMSG);
	expect_inf_error("[Reg]\nHKR,,A,,\"x\"\n\nHKR,,B,,\"never closed\n",
			 "broken.inf:4: unterminated quoted string", -EBADMSG);
	expect_inf_error("[Reg\nHKR,,A,,x\n", "broken.inf:1: section header without ']'",
			 -EBADMSG);
	expect_inf_error("HKR,,A,,x\n[Reg]\n", "broken.inf:1: line outside any [section]",
			 -EBADMSG);
	expect_inf_error("[Reg]\nHKR,,A,0x1z,x\n",
			 "broken.inf:2: bad flags \"0x1z\" (expected a number)", -EBADMSG);
	expect_inf_error("[Reg]\nHKR,,A,0x00000008,x\n",
			 "broken.inf:2: append flag 0x00000008 needs REG_MULTI_SZ (flags 0x00000008)",
			 -EBADMSG);
	expect_inf_error("[Reg]\nHKR,,A,0x00000000,x,y\n",
			 "broken.inf:2: REG_SZ takes one value, got 2", -EBADMSG);
	expect_inf_error("[Reg]\nHKR,,A,0x00000001,x\n",
			 "broken.inf:2: unsupported value type in flags 0x00000001", -EBADMSG);
	expect_inf_error("[Reg]\nHKR,,A,0x00004000,x\n",
			 "broken.inf:2: unsupported flags 0x00004000", -EBADMSG);
	expect_inf_error("[Reg]\nHKR,,A,0x00010001,12q\n",
			 "broken.inf:2: REG_DWORD needs one number up to 0xffffffff", -EBADMSG);
	expect_inf_error("[Reg]\nHKR,,A,%NOPE,x\n",
			 "broken.inf:2: unterminated %token% in \"HKR,,A,%NOPE,x\"", -EBADMSG);
	/* A continued line is reported by its first physical line. */
	expect_inf_error("[Reg]\nHKR,,A,,x\nHKR,\"Parameters\", \\\n  \"B\",%T%,\"y\"\n",
			 "broken.inf:3: unknown string token %T% (not in [Strings])", -EBADMSG);
	expect_inf_error("[Reg]\nHKR,,A,,x \\\n", "broken.inf:2: line continuation '\\' at end "
			 "of file", -EBADMSG);
	expect_inf_error("[Strings]\nA = 1\na = 2\n[Reg]\n",
			 "broken.inf:3: string key \"a\" defined twice", -EBADMSG);
	expect_inf_error("[Strings]\nno equals sign\n",
			 "broken.inf:2: expected key = value in [Strings]", -EBADMSG);
	expect_inf_error("[Inst]\nAddReg = Missing\n", "broken.inf:0: no section [Reg]", -ENOENT);
	expect_inf_error("[Reg]\nHKR,,A,0x00010000,a,,b\n",
			 "broken.inf:2: empty string in REG_MULTI_SZ (value 2)", -EBADMSG);
}

static void test_install_missing_addreg_section(void **state)
{
	struct sim_host h;
	struct winib_inf_error einfo;
	int err;

	(void)state;
	sim_host_init(&h);
	assert_null(sim_config_from_inf(&h, "x.inf", "[X.Install]\n\nAddReg = A, Missing\n[A]\n"
					 "HKR,,V,,1\n", "X.Install", &einfo, &err));
	assert_int_equal(err, -EBADMSG);
	assert_string_equal(einfo.text, "x.inf:3: AddReg section [Missing] not found");
	assert_int_equal(h.live_blocks, 0);
}

/* A child with no DeviceId is skipped with a reason; the others come up. */
static void test_child_without_device_id(void **state)
{
	static const char text[] =
		"[Reg]\n"
		"HKR,Parameters,StaticChild,%REG_MULTI_SZ%,XsigoBus,NoId,Other\n"
		"HKR,Parameters\\XsigoBus,DeviceId,,IBA\\XsigoBus\n"
		"HKR,Parameters\\NoId,HardwareId,,IBA\\NoId\n"
		"HKR,Parameters\\NoId,Description,,\"Has no DeviceId\"\n"
		"HKR,Parameters\\Other,DeviceId,,IBA\\Other\n"
		"HKR,Parameters\\Other,HardwareId,%REG_MULTI_SZ%,IBA\\Other_1,IBA\\Other\n"
		"[Strings]\nREG_MULTI_SZ = 0x00010000\n";
	struct sim_host h;
	struct sim_pnp pm;
	struct winib_inf_error einfo;
	struct winib_bus_limits lim = { .max_ports = 2, .max_children = 8 };
	struct winib_config *cfg;
	struct sim_dev *d;
	int err;

	(void)state;
	sim_host_init(&h);
	memset(&pm, 0, sizeof(pm));
	cfg = sim_config_from_inf(&h, "skip.inf", text, "Reg", &einfo, &err);
	assert_non_null(cfg);
	assert_int_equal(cfg->count, 3);
	assert_int_equal(cfg->skipped, 1);
	assert_true(sim_log_has(&h, "child \"NoId\" skipped: no DeviceId in "
				    "HKR\\Parameters\\NoId"));
	pm.bus = winib_bus_create(&h.env, cfg, &lim, NULL, &err);
	assert_non_null(pm.bus);
	assert_int_equal(winib_bus_port_add(pm.bus, GUID1, 1), 3);
	assert_int_equal(sim_pnp_enumerate(&pm), 3);
	/* IPoIB has no subkey here: the original driver's built-in IDs. */
	d = sim_pnp_find(&pm, "IBA\\IPoIB\\0002c90300a1b2c1_ffff");
	assert_non_null(d);
	assert_multi(d->compatible_ids, d->compatible_len, "IBA\\SID_1000066a00020000\0", 26);
	assert_string_equal(d->description, "OpenIB IPoIB Adapter");
	d = sim_pnp_find(&pm, "IBA\\XsigoBus\\0002c90300a1b2c1_ffff");
	assert_non_null(d);
	assert_int_equal(d->compatible_len, -ENOENT);
	assert_string_equal(d->description, "XsigoBus");
	d = sim_pnp_find(&pm, "IBA\\Other\\0002c90300a1b2c1_ffff");
	assert_non_null(d);
	assert_multi(d->hardware_ids, d->hardware_len, "IBA\\Other_1\0IBA\\Other\0", 23);
	sim_pnp_teardown(&pm);
	assert_int_equal(h.live_blocks, 0);
}

/* StaticChild absent: IPoIB alone, as the original driver. */
static void test_static_child_absent(void **state)
{
	struct sim_host h;
	struct winib_inf_error einfo;
	struct winib_config *cfg;
	int err;

	(void)state;
	sim_host_init(&h);
	cfg = sim_config_from_inf(&h, "none.inf", "[Reg]\nHKR,Parameters,Other,,1\n", "Reg",
				  &einfo, &err);
	assert_non_null(cfg);
	assert_int_equal(cfg->count, 1);
	assert_string_equal(cfg->tmpl[0].device_id, "IBA\\IPoIB");
	assert_memory_equal(cfg->tmpl[0].hardware_ids, "IBA\\IPoIB\0", 11);
	assert_true(sim_log_has(&h, "StaticChild not set: IPoIB only"));
	winib_config_destroy(cfg);
	assert_int_equal(h.live_blocks, 0);
}

/* StaticChild built up with REG_MULTI_SZ and the append flag. */
static void test_static_child_append(void **state)
{
	static const char text[] =
		"[Reg]\n"
		"HKR,\"Parameters\",\"StaticChild\",%REG_MULTI_SZ%,\"IPoIB\"\n"
		"HKR,\"Parameters\",\"StaticChild\",%REG_MULTI_SZ_APPEND%,\"XsigoBus\"\n"
		"HKR,\"Parameters\",\"StaticChild\",%REG_MULTI_SZ_APPEND%,\"xsigobus\"\n"
		"HKR,\"Parameters\\XsigoBus\",\"DeviceId\",%REG_SZ%,\"IBA\\XsigoBus\"\n"
		"[Strings]\nREG_SZ = 0x00000000\nREG_MULTI_SZ = 0x00010000\n"
		"REG_MULTI_SZ_APPEND = 0x00010008\n";
	struct sim_host h;
	struct winib_inf *inf;
	struct winib_reg *reg;
	const struct winib_reg_value *v;
	struct winib_inf_error einfo;
	struct winib_config *cfg;
	int err;

	(void)state;
	sim_host_init(&h);
	inf = winib_inf_parse(&h.env, "app.inf", text, strlen(text), &einfo, &err);
	assert_non_null(inf);
	reg = winib_reg_create(&h.env, &err);
	assert_non_null(reg);
	assert_int_equal(winib_inf_apply_addreg(inf, "reg", reg, &einfo), 4);
	v = winib_reg_get(reg, WINIB_HKR, "parameters", "staticchild");
	assert_non_null(v);
	assert_int_equal(v->type, WINIB_REG_MULTI_SZ);
	assert_int_equal(v->len, 16);
	assert_memory_equal(v->data, "IPoIB\0XsigoBus\0", 16);
	cfg = winib_config_load(&h.env, reg, 4, &err);
	assert_non_null(cfg);
	assert_int_equal(cfg->count, 2);
	winib_config_destroy(cfg);
	winib_reg_destroy(reg);
	winib_inf_destroy(inf);
	assert_int_equal(h.live_blocks, 0);
}

/* PartitionKey from the registry: extra children on the named ports. */
static void test_partition_key_registry(void **state)
{
	static const char text[] =
		"[Reg]\n"
		"HKR,Parameters\\IPoIB,PartitionKey,,\"0002c90300a1b2c1:0x8001-storage,0x0002;"
		"0002c90300a1b2c2:0x8003 ;\"\n";
	struct sim_host h;
	struct sim_pnp pm;
	struct winib_inf_error einfo;
	struct winib_bus_limits lim = { .max_ports = 2, .max_children = 8 };
	struct sim_dev *d;
	int err;

	(void)state;
	sim_host_init(&h);
	memset(&pm, 0, sizeof(pm));
	pm.bus = winib_bus_create(&h.env, sim_config_from_inf(&h, "pk.inf", text, "Reg", &einfo,
							      &err), &lim, NULL, &err);
	assert_non_null(pm.bus);
	assert_int_equal(winib_bus_port_add(pm.bus, GUID1, 1), 3);
	assert_int_equal(winib_bus_port_add(pm.bus, GUID2, 2), 2);
	assert_int_equal(sim_pnp_enumerate(&pm), 5);
	d = sim_pnp_find(&pm, "IBA\\IPoIB\\0002c90300a1b2c1_8001");
	assert_non_null(d);
	assert_string_equal(d->description, "OpenIB IPoIB Adapter (P_Key 0x8001, storage)");
	d = sim_pnp_find(&pm, "IBA\\IPoIB\\0002c90300a1b2c1_0002");
	assert_non_null(d);
	assert_string_equal(d->description, "OpenIB IPoIB Adapter (P_Key 0x0002)");
	assert_non_null(sim_pnp_find(&pm, "IBA\\IPoIB\\0002c90300a1b2c2_8003"));
	/* A registry P_Key can be removed at run time too. */
	assert_int_equal(winib_bus_pkey_remove(pm.bus, "IPoIB", GUID2, 0x8003), 1);
	assert_int_equal(sim_pnp_enumerate(&pm), 4);
	sim_pnp_teardown(&pm);
	assert_int_equal(h.live_blocks, 0);
}

static void expect_pkey_error(const char *s, const char *want)
{
	struct winib_pkey_entry e[4];
	char why[128];

	assert_int_equal(winib_pkey_parse(s, e, 4, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, want);
}

static void test_partition_key_parse(void **state)
{
	struct winib_pkey_entry e[4];
	char why[128];

	(void)state;
	assert_int_equal(winib_pkey_parse("", e, 4, why, sizeof(why)), 0);
	assert_int_equal(winib_pkey_parse(" 0x12:0xA-x.y ; 13:0x8001,0x02;", e, 4, why,
					  sizeof(why)), 3);
	assert_true(e[0].port_guid == WINIB_U64(0x12));
	assert_int_equal(e[0].pkey, 0xa);
	assert_string_equal(e[0].name, "x.y");
	assert_true(e[2].port_guid == WINIB_U64(0x13));
	assert_int_equal(e[2].pkey, 2);
	assert_string_equal(e[2].name, "");
	expect_pkey_error("12:8001", "offset 3: P_Key expected as 0x and 1-4 hex digits");
	expect_pkey_error("12 0x8001", "offset 3: ':' expected after port GUID");
	expect_pkey_error("xyz:0x1", "offset 0: port GUID expected (1-16 hex digits, not zero)");
	expect_pkey_error("12:0x8000", "offset 3: P_Key 0x8000 is not valid");
	expect_pkey_error("12:0xffff", "offset 3: P_Key 0xffff is the default partition, "
			  "which every child has");
	expect_pkey_error("12:0x1,0x8001", "offset 7: P_Key 0x8001 listed twice for port "
			  "0000000000000012");
	expect_pkey_error("12:0x1-", "offset 7: name after '-' must be 1-31 letters, digits, "
			  "'_' or '.'");
	expect_pkey_error("12:0x1,0x2,0x3,0x4,0x5", "offset 19: more than 4 P_Keys");
	expect_pkey_error("12:0x1 x", "offset 7: ',' or ';' expected");
	expect_pkey_error("12:0x12345", "offset 3: P_Key expected as 0x and 1-4 hex digits");
}

/* A bad PartitionKey is logged and ignored; the child still comes up. */
static void test_partition_key_bad_value_logged(void **state)
{
	struct sim_host h;
	struct winib_inf_error einfo;
	struct winib_config *cfg;
	int err;

	(void)state;
	sim_host_init(&h);
	cfg = sim_config_from_inf(&h, "pk.inf", "[Reg]\nHKR,Parameters\\IPoIB,PartitionKey,,"
				  "\"12:0x8000\"\n", "Reg", &einfo, &err);
	assert_non_null(cfg);
	assert_int_equal(cfg->count, 1);
	assert_int_equal(cfg->tmpl[0].pkey_count, 0);
	assert_true(sim_log_has(&h, "child \"IPoIB\": PartitionKey ignored: offset 3: P_Key "
				    "0x8000 is not valid"));
	winib_config_destroy(cfg);
}

/* INF syntax: comments, quotes, "", commas and ';' in quotes, %%,
 * continuation, DWORD, key-only, delete, no-clobber, case-insensitive names. */
static void test_inf_syntax(void **state)
{
	static const char text[] =
		"\xef\xbb\xbf; leading comment\n"
		"[version]\nSignature=\"$WINDOWS NT$\"\n"
		"[REG] ; trailing comment\n"
		"HKR, \"Parameters\" , \"Quoted\" , 0 , \"a, \"\"b\"\"; c\"  ; comment\n"
		"HKR,Parameters,Spaced,, un quoted  \n"
		"HKR,Parameters,Pct,,%Name%-100%%\n"
		"HKR,Parameters,Joined,%REG_MULTI_SZ%,one,\\\n"
		"    two\n"
		"HKLM,Software\\X,Num,0x00010001,0x10\n"
		"HKR,Parameters\\Empty,,0x10\n"
		"HKR,Parameters,Keep,0x00000002,new\n"
		"HKR,Parameters,Gone,,x\n"
		"HKR,Parameters,Gone,0x4\n"
		"HKR,Parameters,Exp,0x00020000,%%SystemRoot%%\\x\n"
		"[strings]\nName = \"Xsigo\"\nREG_MULTI_SZ=0x00010000\n";
	struct sim_host h;
	struct winib_inf *inf;
	struct winib_reg *reg;
	const struct winib_reg_value *v;
	struct winib_inf_error einfo;
	int err;

	(void)state;
	sim_host_init(&h);
	inf = winib_inf_parse(&h.env, "syn.inf", text, strlen(text), &einfo, &err);
	assert_non_null(inf);
	assert_true(winib_inf_has_section(inf, "Version"));
	assert_string_equal(winib_inf_string(inf, "name"), "Xsigo");
	reg = winib_reg_create(&h.env, &err);
	assert_non_null(reg);
	assert_int_equal(winib_reg_set_string(reg, WINIB_HKR, "Parameters", "Keep",
					      WINIB_REG_SZ, "old"), 0);
	assert_int_equal(winib_inf_apply_addreg(inf, "Reg", reg, &einfo), 10);

	v = winib_reg_get(reg, WINIB_HKR, "Parameters", "Quoted");
	assert_non_null(v);
	assert_string_equal(v->data, "a, \"b\"; c");
	v = winib_reg_get(reg, WINIB_HKR, "Parameters", "Spaced");
	assert_string_equal(v->data, "un quoted");
	v = winib_reg_get(reg, WINIB_HKR, "Parameters", "Pct");
	assert_string_equal(v->data, "Xsigo-100%");
	v = winib_reg_get(reg, WINIB_HKR, "\\Parameters\\", "JOINED");
	assert_int_equal(v->type, WINIB_REG_MULTI_SZ);
	assert_int_equal(v->len, 9);
	assert_memory_equal(v->data, "one\0two\0", 9);
	v = winib_reg_get(reg, WINIB_HKLM, "software\\x", "Num");
	assert_int_equal(v->type, WINIB_REG_DWORD);
	assert_int_equal(v->dword, 16);
	assert_null(winib_reg_get(reg, WINIB_HKR, "software\\x", "Num"));
	assert_true(winib_reg_key_exists(reg, WINIB_HKR, "Parameters\\Empty"));
	assert_string_equal(winib_reg_get(reg, WINIB_HKR, "Parameters", "Keep")->data, "old");
	assert_null(winib_reg_get(reg, WINIB_HKR, "Parameters", "Gone"));
	v = winib_reg_get(reg, WINIB_HKR, "Parameters", "Exp");
	assert_int_equal(v->type, WINIB_REG_EXPAND_SZ);
	assert_string_equal(v->data, "%SystemRoot%\\x");
	winib_reg_destroy(reg);
	winib_inf_destroy(inf);
	assert_int_equal(h.live_blocks, 0);
}

/* The driver's INF saved the Windows way (CRLF, or UTF-16LE with a BOM)
 * reads the same as the LF/UTF-8 file. */
static void check_saved_as(struct fixture *f, const char *text, size_t len)
{
	struct sim_host h;
	struct winib_inf *inf;
	struct winib_reg *reg;
	struct winib_inf_error einfo;
	struct winib_config *cfg;
	const struct winib_reg_value *v;
	int err;

	sim_host_init(&h);
	inf = winib_inf_parse(&h.env, "xsbus.inf", text, len, &einfo, &err);
	assert_non_null(inf);
	reg = winib_reg_create(&h.env, &err);
	assert_non_null(reg);
	assert_int_equal(winib_inf_apply_install(inf, INSTALL, reg, &einfo), 9);
	v = winib_reg_get(reg, WINIB_HKR, "Parameters\\XsigoBus", "Description");
	assert_non_null(v);
	assert_string_equal(v->data, "Xsigo Virtual Bus");
	v = winib_reg_get(reg, WINIB_HKR, "Parameters", "StaticChild");
	assert_non_null(v);
	assert_int_equal(v->type, WINIB_REG_SZ);
	assert_string_equal(v->data, "XsigoBus");
	cfg = winib_config_load(&h.env, reg, 4, &err);
	assert_non_null(cfg);
	assert_int_equal(cfg->count, f->pm.bus->cfg->count);
	assert_string_equal(cfg->tmpl[1].device_id, "IBA\\XsigoBus");
	winib_config_destroy(cfg);
	winib_reg_destroy(reg);
	winib_inf_destroy(inf);
	assert_int_equal(h.live_blocks, 0);
}

static void test_inf_crlf_and_utf16(void **state)
{
	struct fixture *f = *state;
	char *crlf = malloc(2 * f->inf_len + 2), *u16 = malloc(4 * f->inf_len + 4);
	size_t i, n = 0, m = 2;
	struct sim_host h;
	struct winib_inf_error einfo;
	int err;

	assert_non_null(crlf);
	assert_non_null(u16);
	u16[0] = (char)0xff;
	u16[1] = (char)0xfe;
	for (i = 0; i < f->inf_len; i++) {
		if (f->inf_text[i] == '\n') {
			crlf[n++] = '\r';
			u16[m++] = '\r';
			u16[m++] = 0;
		}
		crlf[n++] = f->inf_text[i];
		u16[m++] = f->inf_text[i]; /* the INF is ASCII */
		u16[m++] = 0;
	}
	check_saved_as(f, crlf, n);
	check_saved_as(f, u16, m);
	sim_host_init(&h);
	assert_null(winib_inf_parse(&h.env, "odd.inf", u16, 7, &einfo, &err));
	assert_int_equal(err, -EBADMSG);
	assert_string_equal(einfo.text, "odd.inf:0: UTF-16 text with an odd number of bytes");
	free(crlf);
	free(u16);
}

/* ---- lock policy -------------------------------------------------------- */

static void test_policy_normal_mode(void **state)
{
	struct fixture *f = *state;
	struct winib_env *env = &f->host.env;
	unsigned long locks = f->host.spin_locks;

	/* PASSIVE: a real spinlock, released again. */
	assert_int_equal(winib_bus_port_add(f->pm.bus, GUID1, 1), 2);
	assert_int_equal(f->host.spin_locks, locks + 1);
	assert_int_equal(f->host.spin_unlocks, f->host.spin_locks);
	assert_int_equal(f->host.irql, WINIB_PASSIVE_LEVEL);
	/* Above DISPATCH in normal mode: refused, nothing changed. */
	f->host.irql = WINIB_HIGH_LEVEL;
	assert_int_equal(winib_bus_port_add(f->pm.bus, GUID2, 2), -EPERM);
	assert_int_equal(env->stats.locks_refused, 1);
	assert_null(winib_alloc(env, 16));
	assert_int_equal(env->stats.allocs_denied, 1);
	f->host.irql = WINIB_PASSIVE_LEVEL;
	assert_int_equal(winib_bus_present_count(f->pm.bus), 2);
}

static void special_mode_run(struct fixture *f, enum winib_mode mode)
{
	struct winib_env *env = &f->host.env;
	struct winib_child *rel[16];
	unsigned long locks, allocs;
	uint64_t elided;
	char buf[64];
	int n;

	assert_int_equal(winib_bus_port_add(f->pm.bus, GUID1, 1), 2);
	winib_policy_set_mode(env, mode);
	f->host.irql = WINIB_HIGH_LEVEL;
	locks = f->host.spin_locks;
	allocs = f->host.host_allocs;
	elided = env->stats.locks_elided;

	/* Everything still works, from the preallocated pools, lock-free. */
	assert_int_equal(winib_bus_port_add(f->pm.bus, GUID2, 2), 2);
	assert_int_equal(winib_bus_pkey_add(f->pm.bus, "IPoIB", GUID2, 0x8001, "dump"), 1);
	n = winib_bus_relations(f->pm.bus, rel, 16);
	assert_int_equal(n, 5);
	assert_int_equal(winib_child_query_id(rel[4], WINIB_ID_INSTANCE, buf, sizeof(buf)), 22);
	assert_string_equal(buf, "0002c90300a1b2c2_8001");
	assert_int_equal(winib_bus_pkey_remove(f->pm.bus, "IPoIB", GUID2, 0x8001), 1);
	assert_int_equal(winib_bus_port_remove(f->pm.bus, GUID2), 2);

	assert_int_equal(f->host.spin_locks, locks);          /* no spinlock taken */
	assert_int_equal(f->host.host_allocs, allocs);        /* nothing allocated */
	assert_true(env->stats.locks_elided >= elided + 5);
	assert_null(winib_alloc(env, 32));
	assert_int_equal(f->host.host_allocs, allocs);

	/* A lock held by a frozen processor: the data is left alone. */
	f->pm.bus->lock.held = 1;
	assert_int_equal(winib_bus_port_add(f->pm.bus, GUID2, 2), -EBUSY);
	assert_int_equal(env->stats.locks_busy, 1);
	f->pm.bus->lock.held = 0;

	/* Back to normal operation. */
	f->host.irql = WINIB_PASSIVE_LEVEL;
	winib_policy_set_mode(env, WINIB_MODE_NORMAL);
	assert_int_equal(winib_bus_port_add(f->pm.bus, GUID2, 2), 2);
	assert_int_equal(f->host.spin_locks, locks + 1);
}

static void test_policy_crashdump(void **state)
{
	special_mode_run(*state, WINIB_MODE_CRASHDUMP);
}

static void test_policy_hibernate(void **state)
{
	special_mode_run(*state, WINIB_MODE_HIBERNATE);
}

static void test_policy_boot(void **state)
{
	struct fixture *f = *state;
	struct winib_env *env = &f->host.env;
	unsigned long allocs;
	int err;

	special_mode_run(f, WINIB_MODE_BOOT);
	/* Boot path at PASSIVE: spinlocks are fine, allocation still is not. */
	winib_policy_set_mode(env, WINIB_MODE_BOOT);
	allocs = f->host.host_allocs;
	assert_int_equal(winib_bus_port_remove(f->pm.bus, GUID2), 2);
	assert_int_equal(env->stats.locks_taken, f->host.spin_locks);
	assert_null(winib_reg_create(env, &err));
	assert_int_equal(err, -ENOMEM);
	assert_int_equal(f->host.host_allocs, allocs);
	assert_string_equal(winib_mode_name(env->mode), "boot");
	winib_policy_set_mode(env, WINIB_MODE_NORMAL);
}

/* Pools full: the port is refused whole, nothing half-made. */
static void test_pool_exhausted(void **state)
{
	struct fixture *f = *state;
	struct winib_bus_limits lim = { .max_ports = 4, .max_children = 3 };
	struct winib_inf_error einfo;
	struct winib_bus *bus;
	int err;

	bus = winib_bus_create(&f->host.env, sim_config_from_inf(&f->host, "xsbus.inf",
								 f->inf_text, INSTALL, &einfo,
								 &err), &lim, NULL, &err);
	assert_non_null(bus);
	assert_int_equal(winib_bus_port_add(bus, GUID1, 1), 2);
	assert_int_equal(winib_bus_port_add(bus, GUID2, 2), -ENOSPC);
	assert_true(sim_log_has(&f->host, "port 2 (0002c90300a1b2c2) not added: no room for 2 "
					  "more children"));
	assert_int_equal(winib_bus_present_count(bus), 2);
	assert_int_equal(winib_bus_port_remove(bus, GUID2), -ENOENT);
	assert_int_equal(winib_bus_port_add(bus, 0, 3), -EINVAL);
	winib_bus_destroy(bus);
}

/* ---- helpers ------------------------------------------------------------ */

static void test_fmt_and_u64(void **state)
{
	char buf[64];
	uint16_t w[8];
	static const char desc[] = "Bus \xc3\xa9\xf0\x9f\x98\x80";

	(void)state;
	assert_int_equal(winib_fmt(buf, sizeof(buf), "%016llx|%u|%d|%5s|%04X|%c%%",
				   (unsigned long long)WINIB_U64(0x0002c90300a1b2c1), 7u, -42,
				   "ab", 0xbeefu, 'z'), 36);
	assert_string_equal(buf, "0002c90300a1b2c1|7|-42|   ab|BEEF|z%");
	assert_int_equal(winib_fmt(buf, 5, "%s", "truncate"), 8);
	assert_string_equal(buf, "trun");
	assert_true(WINIB_U64(0xffffffffffffffff) == UINT64_MAX);
	assert_int_equal(winib_utf8_to_utf16(desc, sizeof(desc), w, 7), -ENOSPC);
	assert_int_equal(winib_utf8_to_utf16(desc, sizeof(desc), NULL, 0), 8);
	assert_int_equal(winib_utf8_to_utf16(desc, sizeof(desc), w, 8), 8);
	assert_int_equal(w[4], 0xe9);
	assert_int_equal(w[5], 0xd83d);
	assert_int_equal(w[6], 0xde00);
	assert_int_equal(w[7], 0);
	/* and back, as the driver reads REG_SZ values */
	assert_int_equal(winib_utf16_to_utf8(w, 8, NULL, 0), (int)sizeof(desc));
	assert_int_equal(winib_utf16_to_utf8(w, 8, buf, sizeof(buf)), (int)sizeof(desc));
	assert_memory_equal(buf, desc, sizeof(desc));
	assert_int_equal(winib_utf16_to_utf8(w, 8, buf, 5), -ENOSPC);
	assert_int_equal(winib_utf16_to_utf8(&w[6], 1, buf, sizeof(buf)), -EILSEQ);
	assert_int_equal(winib_utf16_to_utf8(&w[5], 1, buf, sizeof(buf)), -EILSEQ);
	assert_int_equal(winib_utf8_to_utf16("\xc0\x80", 2, w, 8), -EILSEQ);
	assert_int_equal(winib_utf8_to_utf16("\xe2\x82", 2, w, 8), -EILSEQ);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stanza_two_ports, setup_from_inf, teardown),
		cmocka_unit_test_setup_teardown(test_wide_answers, setup_from_inf, teardown),
		cmocka_unit_test_setup_teardown(test_pkey_runtime, setup_from_inf, teardown),
		cmocka_unit_test_setup_teardown(test_port_remove, setup_from_inf, teardown),
		cmocka_unit_test_setup_teardown(test_remove_present_child_keeps_pdo,
						setup_from_inf, teardown),
		cmocka_unit_test_setup_teardown(test_broken_line_in_real_inf, setup_from_inf,
						teardown),
		cmocka_unit_test_setup_teardown(test_inf_crlf_and_utf16, setup_from_inf, teardown),
		cmocka_unit_test(test_broken_lines),
		cmocka_unit_test(test_install_missing_addreg_section),
		cmocka_unit_test(test_child_without_device_id),
		cmocka_unit_test(test_static_child_absent),
		cmocka_unit_test(test_static_child_append),
		cmocka_unit_test(test_partition_key_registry),
		cmocka_unit_test(test_partition_key_parse),
		cmocka_unit_test(test_partition_key_bad_value_logged),
		cmocka_unit_test(test_inf_syntax),
		cmocka_unit_test_setup_teardown(test_policy_normal_mode, setup_from_inf, teardown),
		cmocka_unit_test_setup_teardown(test_policy_crashdump, setup_from_inf, teardown),
		cmocka_unit_test_setup_teardown(test_policy_hibernate, setup_from_inf, teardown),
		cmocka_unit_test_setup_teardown(test_policy_boot, setup_from_inf, teardown),
		cmocka_unit_test_setup_teardown(test_pool_exhausted, setup_from_inf, teardown),
		cmocka_unit_test(test_fmt_and_u64),
	};

	return cmocka_run_group_tests_name("winib_bus", tests, NULL, NULL);
}
