/* SPDX-License-Identifier: MIT */
/*
 * xs-ibsim-vendor - a vendor-class MAD exchange through the fabric API, for
 * the ibsim tier (class 0x0B version 2, attribute 0xB002: XCPM's class).
 *
 *   xs-ibsim-vendor serve [-F SPEC] [-n COUNT] [-t SECONDS]
 *       register a server agent (XS_MAD_AGENT_SERVER), print "ready lid N",
 *       answer COUNT Get requests, then exit 0 (1 on timeout)
 *   xs-ibsim-vendor ask [-F SPEC] -l DLID [-n COUNT]
 *       send COUNT Get requests with xs_mad_rpc and check every reply
 *       byte for byte; exit 0 only when all COUNT replies are exact
 *
 * The answer is a function of the request, so the asker can predict every
 * byte: method GetResp (0x81), status 0, the same TID and attribute, the
 * attribute modifier plus one, and data bytes 24..255 each XOR 0x5a.
 *
 * Under umad2sim (LD_PRELOAD) only the first 224 bytes of a MAD cross the
 * simulator; the umad backend zero-fills bytes 224..255 (see umad_port.c),
 * so there the asker expects zeros in those bytes.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xscore/common.h>
#include <xscore/fabric.h>
#include <xscore/log.h>
#include <xscore/wire.h>

#define ATTR XS_XCPM_ATTR_XCM_REQUEST
#define SIM_MAD_BYTES 224

static void make_reply(const uint8_t *req, uint8_t *rep)
{
	memcpy(rep, req, 24);
	rep[3] = XS_MAD_METHOD_GET | XS_MAD_METHOD_RESP;
	xs_put16(rep + 4, 0);
	xs_put32(rep + 20, xs_get32(req + 20) + 1);
	for (int i = 24; i < XS_MAD_LEN; i++)
		rep[i] = req[i] ^ 0x5a;
}

static void hex(const char *title, const uint8_t *p, int n)
{
	printf("%s:", title);
	for (int i = 0; i < n; i++)
		printf("%s%02x", i % 32 ? " " : "\n  ", p[i]);
	printf("\n");
}

static int serve(struct xs_fabric *f, int count, int secs)
{
	struct xs_port_attr pa;
	struct xs_mad_agent *a;
	uint64_t deadline = xs_now_ms() + (uint64_t)secs * 1000;
	int served = 0, rc;

	rc = xs_fabric_query_port(f, &pa);
	if (rc < 0) {
		fprintf(stderr, "serve: query port: %s\n", xs_strerror(rc));
		return 1;
	}
	a = xs_mad_agent_register(f, XS_XCPM_CLASS, XS_XCPM_CLASS_VERSION, NULL,
				  XS_MAD_AGENT_SERVER);
	if (!a) {
		fprintf(stderr, "serve: register agent: %s\n", strerror(errno));
		return 1;
	}
	printf("ready lid %u\n", pa.lid);
	fflush(stdout);
	while (served < count) {
		struct pollfd p = { .fd = xs_mad_agent_fd(a), .events = POLLIN };
		uint8_t req[XS_MAD_LEN], rep[XS_MAD_LEN];
		struct xs_mad_addr src;
		uint64_t now = xs_now_ms();
		int n;

		if (now >= deadline) {
			printf("serve: timeout after %d s, served %d of %d\n", secs, served, count);
			xs_mad_agent_unregister(a);
			return 1;
		}
		/* The agent's fd is an ordinary eventfd: wait on it like any fd. */
		if (poll(&p, 1, (int)(deadline - now)) <= 0)
			continue;
		while ((n = xs_mad_recv(a, &src, req, sizeof(req), 0)) > 0) {
			if (n < XS_MAD_LEN || req[1] != XS_XCPM_CLASS ||
			    req[3] != XS_MAD_METHOD_GET || xs_get16(req + 16) != ATTR) {
				printf("serve: ignored a %d-byte MAD class 0x%02x method 0x%02x\n", n,
				       req[1], req[3]);
				continue;
			}
			make_reply(req, rep);
			rc = xs_mad_send(a, &src, rep, sizeof(rep));
			if (rc < 0) {
				fprintf(stderr, "serve: send reply: %s\n", xs_strerror(rc));
				xs_mad_agent_unregister(a);
				return 1;
			}
			served++;
			printf("serve: answered tid 0x%08" PRIx32 " from lid %u qpn %u\n",
			       xs_get32(req + 12), src.lid, src.qpn);
			fflush(stdout);
		}
	}
	printf("serve: served %d\n", served);
	xs_mad_agent_unregister(a);
	return 0;
}

static int ask(struct xs_fabric *f, uint16_t dlid, int count)
{
	struct xs_mad_agent *a;
	struct xs_port_attr pa;
	const char *pre = getenv("LD_PRELOAD");
	bool sim = pre && strstr(pre, "umad2sim");
	int ok = 0, rc;

	rc = xs_fabric_query_port(f, &pa);
	if (rc < 0) {
		fprintf(stderr, "ask: query port: %s\n", xs_strerror(rc));
		return 1;
	}
	a = xs_mad_agent_register(f, XS_XCPM_CLASS, XS_XCPM_CLASS_VERSION, NULL, 0);
	if (!a) {
		fprintf(stderr, "ask: register agent: %s\n", strerror(errno));
		return 1;
	}
	for (int i = 0; i < count; i++) {
		uint8_t req[XS_MAD_LEN], rep[XS_MAD_LEN], want[XS_MAD_LEN];
		struct xs_mad_hdr h = {
			.base_version = XS_MAD_BASE_VERSION,
			.mgmt_class = XS_XCPM_CLASS,
			.class_version = XS_XCPM_CLASS_VERSION,
			.method = XS_MAD_METHOD_GET,
			.tid = ((uint64_t)getpid() << 12 ^ (uint64_t)i ^ xs_now_us()) & 0xffffffffu,
			.attr_id = ATTR,
			.attr_mod = (uint32_t)i * 7,
		};
		struct xs_mad_addr dst = { .lid = dlid, .qpn = 1 };
		int n;

		memset(req, 0, sizeof(req));
		xs_mad_hdr_encode(&h, req, sizeof(req));
		for (int b = XS_XCPM_DATA_OFF; b < XS_MAD_LEN; b++)
			req[b] = (uint8_t)(b * 31 + i);
		snprintf((char *)req + XS_XCPM_DATA_OFF, 48, "hello from lid %u #%d", pa.lid, i);
		make_reply(req, want);
		n = xs_mad_rpc(a, &dst, req, sizeof(req), rep, sizeof(rep), 1000, 2);
		if (n < 0) {
			printf("ask: #%d: no reply: %s\n", i, xs_strerror(n));
			continue;
		}
		/* Fabrics rewrite the upper 32 TID bits: compare the rest. */
		memcpy(want + 8, rep + 8, 4);
		if (sim)
			memset(want + SIM_MAD_BYTES, 0, XS_MAD_LEN - SIM_MAD_BYTES);
		if (n != XS_MAD_LEN || memcmp(rep, want, XS_MAD_LEN) != 0) {
			printf("ask: #%d: reply differs (%d bytes)\n", i, n);
			hex("got", rep, n > 0 ? n : 0);
			hex("want", want, XS_MAD_LEN);
			continue;
		}
		if (i == 0)
			hex("ask: reply #0", rep, 64);
		ok++;
	}
	printf("ask: %d/%d replies exact%s\n", ok, count,
	       sim ? " (bytes 0..223; 224..255 zero: umad2sim carries 224)" : "");
	xs_mad_agent_unregister(a);
	return ok == count ? 0 : 1;
}

int main(int argc, char **argv)
{
	const char *spec = getenv("XS_FABRIC"), *mode;
	int count = 1, secs = 20, c, rc;
	long dlid = 0;
	struct xs_fabric *f;

	if (argc < 2 || (strcmp(argv[1], "serve") && strcmp(argv[1], "ask"))) {
		fprintf(stderr, "usage: xs-ibsim-vendor serve|ask [-F SPEC] [-l DLID] [-n N] [-t S]\n");
		return 2;
	}
	mode = argv[1];
	optind = 2;
	while ((c = getopt(argc, argv, "F:l:n:t:")) != -1) {
		switch (c) {
		case 'F': spec = optarg; break;
		case 'l': dlid = strtol(optarg, NULL, 0); break;
		case 'n': count = atoi(optarg); break;
		case 't': secs = atoi(optarg); break;
		default: return 2;
		}
	}
	if (count <= 0 || secs <= 0 || (!strcmp(mode, "ask") && (dlid <= 0 || dlid > 0xbfff))) {
		fprintf(stderr, "xs-ibsim-vendor: bad arguments\n");
		return 2;
	}
	xs_log_open("xs-ibsim-vendor", XS_LOG_STDERR, XS_LOG_INFO);
	f = xs_fabric_open(spec, NULL);
	if (!f) {
		fprintf(stderr, "xs-ibsim-vendor: cannot open fabric: %s\n", strerror(errno));
		return 1;
	}
	rc = strcmp(mode, "serve") == 0 ? serve(f, count, secs) : ask(f, (uint16_t)dlid, count);
	xs_fabric_close(f);
	return rc;
}
