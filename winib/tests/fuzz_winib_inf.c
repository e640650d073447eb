/* SPDX-License-Identifier: MIT */
/*
 * fuzz_winib_inf.c - libFuzzer target for everything in winib that reads
 * untrusted text: the INF reader (parse, [Strings], AddReg application),
 * the child list loader, the PartitionKey parser and the UTF-8/UTF-16
 * converters. Each input goes through all of them; the bus is then built
 * and a port added so the loaded configuration is used, not just parsed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "winib/bus.h"
#include "winib/inf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void *f_alloc(void *ctx, size_t size)
{
	(void)ctx;
	return calloc(1, size == 0 ? 1 : size);
}

static void f_free(void *ctx, void *p)
{
	(void)ctx;
	free(p);
}

static void f_log(void *ctx, enum winib_log_level level, const char *line)
{
	(void)ctx;
	(void)level;
	(void)line;
}

static unsigned f_irql(void *ctx)
{
	(void)ctx;
	return WINIB_PASSIVE_LEVEL;
}

static void f_lock(void *ctx, void *os_lock, unsigned *old)
{
	(void)ctx;
	(void)os_lock;
	*old = WINIB_PASSIVE_LEVEL;
}

static void f_unlock(void *ctx, void *os_lock, unsigned old)
{
	(void)ctx;
	(void)os_lock;
	(void)old;
}

static const struct winib_env_ops f_ops = { f_alloc, f_free, f_log, f_irql, f_lock, f_unlock };

static void run_inf(struct winib_env *env, const char *text, size_t size)
{
	static const struct winib_bus_limits lim = { 4, 32 };
	struct winib_inf_error einfo;
	struct winib_config *cfg;
	struct winib_inf *inf;
	struct winib_reg *reg;
	struct winib_bus *bus;
	int err;

	inf = winib_inf_parse(env, "fuzz.inf", text, size, &einfo, &err);
	if (inf == NULL)
		return;
	reg = winib_reg_create(env, &err);
	if (reg == NULL)
		goto out_inf;
	(void)winib_inf_apply_install(inf, "X.Install", reg, &einfo);
	(void)winib_inf_apply_addreg(inf, "Reg", reg, &einfo);
	cfg = winib_config_load(env, reg, 4, &err);
	if (cfg != NULL) {
		bus = winib_bus_create(env, cfg, &lim, NULL, &err);
		if (bus != NULL) {
			struct winib_child *rel[32];
			char buf[512];
			uint16_t w[512];
			int n, i;

			(void)winib_bus_port_add(bus, WINIB_U64(0x0002c90300a1b2c1), 1);
			n = winib_bus_relations(bus, rel, 32);
			for (i = 0; i < n; i++) {
				(void)winib_child_query_id(rel[i], WINIB_ID_HARDWARE, buf, sizeof(buf));
				(void)winib_child_query_id_w(rel[i], WINIB_ID_COMPATIBLE, w, 512);
				(void)winib_child_query_text_w(rel[i], WINIB_TEXT_DESCRIPTION, w, 512);
			}
			winib_bus_destroy(bus);
		}
	}
	winib_reg_destroy(reg);
out_inf:
	winib_inf_destroy(inf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct winib_env env;
	struct winib_pkey_entry pk[8];
	char why[128];
	uint16_t w[256];
	char back[1024];
	char *s;
	int n;

	winib_env_init(&env, &f_ops, NULL);
	run_inf(&env, (const char *)data, size);

	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	(void)winib_pkey_parse(s, pk, 8, why, sizeof(why));
	n = winib_utf8_to_utf16(s, size < 256 ? size : 256, w, 256);
	if (n > 0)
		(void)winib_utf16_to_utf8(w, (size_t)n, back, sizeof(back));
	(void)winib_utf16_to_utf8((const uint16_t *)(const void *)s, size / 2 < 128 ? size / 2 : 128,
				  back, sizeof(back));
	free(s);
	return 0;
}
