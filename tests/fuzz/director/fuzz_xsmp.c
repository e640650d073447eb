/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the XCM's handling of XSMP messages from a host
 * (director/xcm/xcm.c through the unit tests' harness, fabric faked).
 * Input = records {u8 op; u16 len (big-endian); len bytes}:
 *   op 0: deliver the bytes as one XSMP message
 *   op 1: deliver the bytes as an XSMP message with a valid header of the
 *         type in byte 0 (so bodies are reached more often)
 *   op 2: answer sent message #byte0 with ACK (byte1 even) or NACK
 *   op 3: change vnic eth0's MTU in the store and push it (an operator)
 *   op 4: run the session timer (HELLO / timeout)
 * Every run starts with a registered host whose profile holds two vNICs
 * and a vHBA. Checks: no crash, no leak, no sanitizer report, and the
 * session state stays one of the four.
 */
#include <stdint.h>
#include <stdlib.h>

#include "../../unit/director/xcm_harness.h"

static struct xsd_store *st;
static struct xs_loop *loop;
static const struct xsd_actor who = { .uid = 0, .user = "fuzz" };

static void init(void)
{
	struct xsd_err err;
	struct xsd_profile p = { .name = "p1", .hostname = "host1" };
	struct xsd_vnic v = { .name = "eth0", .profile = "p1" };
	struct xsd_vnic w = { .name = "eth1", .profile = "p1", .trunk = 1, .vlans = "10,20-30" };
	struct xsd_vhba h = { .name = "fc0", .profile = "p1", .targets = "t1,t2" };
	struct xsd_target t1 = { .name = "t1" }, t2 = { .name = "t2" };

	xs_log_set_level(XS_LOG_ERR);
	loop = xs_loop_new();
	st = xsd_store_open(":memory:", &err);
	/* targets first: a vHBA names targets that exist (schema 3) */
	if (!loop || !st || xsd_store_profile_add(st, &who, &p, &err) ||
	    xsd_store_target_add(st, &who, &t1, false, &err) ||
	    xsd_store_target_add(st, &who, &t2, false, &err) ||
	    xsd_store_vnic_add(st, &who, &v, 0, &err) ||
	    xsd_store_vnic_add(st, &who, &w, XSD_VNIC_VLANS | XSD_VNIC_VLAN_MODE, &err) ||
	    xsd_store_vhba_add(st, &who, &h, XSD_VHBA_TARGETS, &err) ||
	    xsd_store_set_config(st, &who, "auto-accept", "on", &err))
		abort();
}

static void done_cb(struct xsd_ctl_req *req, void *arg) { (void)req, (void)arg; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t m[XS_XSMP_MAX_MSG];
	struct xsd_xcm *x;
	struct sess *s;
	size_t off = 0, n;
	uint32_t idx;

	if (!st)
		init();
	x = h_xcm_new(loop, st);
	h_n_sent = 0;
	s = h_connect(x, 0x2222, 9);
	idx = s->idx; /* s may be freed by the run; compare pointers only */
	n = h_session_msg(m, XS_XSMP_REGISTER, 0, XS_XSMP_VERSION, "host1", 3, 0x2222);
	on_message(s, m, n);
	h_complete_sends(x);
	while (off + 3 <= size && x->slots[idx] == s) {
		uint8_t op = data[off];
		size_t len = (size_t)data[off + 1] << 8 | data[off + 2];
		const uint8_t *b = data + off + 3;

		off += 3;
		if (len > size - off)
			len = size - off;
		off += len;
		switch (op % 5) {
		case 0:
			if (len <= XS_XSMP_MAX_MSG) {
				memcpy(m, b, len);
				on_message(s, m, len);
			}
			break;
		case 1:
			if (len >= 1 && len - 1 <= XS_XSMP_MAX_MSG - XS_XSMP_HDR_LEN) {
				n = h_build(m, b[0], b + 1, len - 1, 0x2222);
				on_message(s, m, n);
			}
			break;
		case 2:
			if (len >= 2 && h_n_sent > 0) {
				int i = b[0] % h_n_sent;

				if (h_sent[i].type == XS_XSMP_VNIC || h_sent[i].type == XS_XSMP_VHBA) {
					n = h_reply(m, i, !(b[1] & 1), b[1] >> 1,
						    len > 2 ? "fuzz" : NULL);
					on_message(s, m, n);
				}
			}
			break;
		case 3: {
			struct xsd_vnic v = { .name = "eth0" };
			struct xsd_change c = { .kind = XSD_CHANGE_VNIC, .action = XSD_CHANGE_SET,
						.name = "eth0", .profile = "p1", .old_profile = "p1" };
			struct xsd_ctl_req *req = calloc(1, sizeof(*req));
			struct xsd_err err;

			v.mtu = 1000 + (len ? b[0] : 0);
			if (!req || xsd_store_vnic_set(st, &who, &v, XSD_VNIC_MTU, &err)) {
				free(req);
				break;
			}
			c.resource_id = v.resource_id;
			req->refs = 1;
			req->reply = json_object();
			req->complete = done_cb;
			hook_changed(x, &c, req);
			xsd_ctl_req_put(req);
			break;
		}
		case 4:
			sess_timer(loop, s->timer, s);
			break;
		}
		if (x->slots[idx] == s && s->state > S_CLOSING)
			abort();
		{ /* whatever the host sent, the operator's views stay complete */
			json_t *a = hook_sessions(x), *h = hook_hosts(x);
			char *js = json_dumps(a, 0), *jh = json_dumps(h, 0);

			if (!js || !jh || json_array_size(a) > 1 || strstr(js, "null"))
				abort();
			free(js);
			free(jh);
			json_decref(a);
			json_decref(h);
		}
		if (x->slots[idx] == s)
			h_complete_sends(x);
		if (h_n_sent > H_MAX_MSGS - 64)
			h_n_sent = 0;
	}
	h_xcm_free(x);
	return 0;
}
