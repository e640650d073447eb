/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: one control request line through the dispatcher, run
 * against an in-memory store with hooks that hold some requests and finish
 * them later (as the XCM does). Asserts every reply is one JSON object with
 * a boolean "ok" and, when false, an "error" string.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xsd_actor who = { .uid = 0, .user = "fuzz" };
	struct xsd_ctl_req *req;
	struct xsd_err err;

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
	req = xsd_ctl_dispatch(&ctx, (const char *)data, size, &who);
	if (!req)
		return 0;
	req->complete = check_reply;
	xsd_ctl_req_put(req);
	return 0;
}
