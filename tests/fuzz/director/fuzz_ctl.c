/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: one control request line through the dispatcher, run
 * against an in-memory store with hooks that hold some requests and finish
 * them later (as the XCM does). Asserts every reply is one JSON object with
 * a boolean "ok" and, when false, an "error" string.
 *
 * storage.add --file with a size creates the file: any "file" field of a
 * request that parses is pointed into a scratch directory first, so the
 * fuzzer never writes elsewhere (every other field is fuzzed as given).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xscore/log.h>

#include "ctl/ctl.h"

static struct xsd_ctl_ctx ctx;
static unsigned int runs;
static struct xsd_ctl_req *held;

static void check_reply(struct xsd_ctl_req *req, void *arg)
{
	json_t *ok = json_object_get(req->reply, "ok");

	if (!json_is_boolean(ok))
		abort();
	if (json_is_false(ok) && !json_is_string(json_object_get(req->reply, "error")))
		abort();
	char *s = json_dumps(req->reply, JSON_COMPACT);
	if (!s || strchr(s, '\n'))
		abort();
	free(s);
}

static void hook_changed(void *arg, const struct xsd_change *c, struct xsd_ctl_req *req)
{
	if (held) {
		xsd_ctl_req_push_result(held, "vnic x", c->name, "install", "acknowledged", NULL);
		xsd_ctl_req_put(held);
		held = NULL;
	}
	if (c->resource_id & 1) {
		xsd_ctl_req_get(req);
		held = req;
	}
}

static json_t *hook_status(void *arg, uint64_t rid)
{
	return json_pack("[{s:s, s:s}]", "host", "h", "state", (rid & 2) ? "acked" : "pending");
}

static const struct xsd_ctl_hooks hooks = {
	.changed = hook_changed,
	.device_status = hook_status,
};

static char scratch[64];

static void scratch_remove(void)
{
	char path[96];

	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/f%d", scratch, i);
		unlink(path);
	}
	rmdir(scratch);
}

/* A copy of the request with "file" inside the scratch directory, or NULL
 * when the request has no string "file" (then it goes as it came). */
static char *confine_file(const uint8_t *data, size_t size)
{
	json_t *in = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	json_t *f = json_object_get(in, "file");
	char path[96], *out = NULL;

	if (json_is_string(f)) {
		snprintf(path, sizeof(path), "%s/f%zu", scratch, json_string_length(f) % 4);
		json_object_set_new(in, "file", json_string(path));
		out = json_dumps(in, JSON_COMPACT);
	}
	json_decref(in);
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xsd_actor who = { .uid = 0, .user = "fuzz" };
	struct xsd_ctl_req *req;
	struct xsd_err err;
	char *confined;

	if (!ctx.store || ++runs % 2000 == 0) {
		if (held) {
			xsd_ctl_req_put(held);
			held = NULL;
		}
		xsd_store_close(ctx.store);
		xs_log_set_level(XS_LOG_ERR);
		ctx.store = xsd_store_open(":memory:", &err);
		if (!ctx.store)
			abort();
		ctx.hooks = &hooks;
	}
	if (size > XSD_CTL_MAX_LINE)
		return 0;
	if (!scratch[0]) {
		snprintf(scratch, sizeof(scratch), "/tmp/fuzz-ctl-XXXXXX");
		if (!mkdtemp(scratch))
			abort();
		atexit(scratch_remove);
	}
	confined = confine_file(data, size);
	if (confined) {
		data = (const uint8_t *)confined;
		size = strlen(confined);
	}
	req = xsd_ctl_dispatch(&ctx, (const char *)data, size, &who);
	free(confined);
	if (!req)
		return 0;
	req->complete = check_reply;
	xsd_ctl_req_put(req);
	return 0;
}
