/* SPDX-License-Identifier: MIT */
/*
 * xs-vm-xcpm - ask an XDS for a host's XCMs with an XCPM XCM_REQUEST (class
 * 0x0B version 2, attribute 0xB002) sent over QP1 to a GID, as a RoCE host
 * must (no LIDs, no SA): the MAD carries a GRH, the reply comes back by the
 * requester's GID.
 *
 *   xs-vm-xcpm [-v] [-g GID_INDEX] SPEC XDS_GID HOSTNAME
 *
 * Prints one line per XCM in the reply ("xcm PORT_GUID lid LID") after a
 * summary line, exit 0; exit 1 with the reason when no valid reply came
 * (3 attempts of 2 s).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xscore/common.h>
#include <xscore/fabric.h>
#include <xscore/log.h>
#include <xscore/wire.h>

int main(int argc, char **argv)
{
	struct xs_fabric_opts fo = { .size = sizeof(fo) };
	struct xs_mad_addr dst = { .qpn = 1, .qkey = XS_GSI_QKEY, .has_grh = true };
	uint8_t req[XS_MAD_LEN] = { 0 }, resp[XS_MAD_LEN];
	struct xs_xcpm_request rq = { 0 };
	struct xs_xcpm_reply rep;
	struct xs_mad_hdr mh = { 0 };
	struct xs_port_attr pa;
	struct xs_mad_agent *agent;
	struct xs_fabric *f;
	int a = 1, rc, ret = 1;

	xs_log_open("xs-vm-xcpm", XS_LOG_STDERR, XS_LOG_WARN);
	while (a < argc && argv[a][0] == '-') {
		if (!strcmp(argv[a], "-v")) {
			xs_log_set_level(XS_LOG_DEBUG);
			xs_log_set_debug("all");
			a++;
		} else if (!strcmp(argv[a], "-g") && a + 1 < argc) {
			fo.gid_index = atoi(argv[a + 1]);
			a += 2;
		} else {
			break;
		}
	}
	if (argc - a != 3 || inet_pton(AF_INET6, argv[a + 1], dst.gid) != 1) {
		fprintf(stderr, "usage: xs-vm-xcpm [-v] [-g GID_INDEX] SPEC XDS_GID HOSTNAME\n");
		return 2;
	}
	f = xs_fabric_open(argv[a], &fo);
	if (!f) {
		fprintf(stderr, "xs-vm-xcpm: cannot open %s: %s\n", argv[a], strerror(errno));
		return 1;
	}
	if (xs_fabric_query_port(f, &pa) < 0) {
		fprintf(stderr, "xs-vm-xcpm: cannot query the port\n");
		goto close_fabric;
	}
	agent = xs_mad_agent_register(f, XS_XCPM_CLASS, XS_XCPM_CLASS_VERSION, NULL, 0);
	if (!agent) {
		fprintf(stderr, "xs-vm-xcpm: no XCPM MAD agent: %s\n", strerror(errno));
		goto close_fabric;
	}
	mh.base_version = XS_MAD_BASE_VERSION;
	mh.mgmt_class = XS_XCPM_CLASS;
	mh.class_version = XS_XCPM_CLASS_VERSION;
	mh.method = XS_MAD_METHOD_GET;
	mh.tid = 0x5e1f0000u | (uint32_t)(xs_now_us() & 0xffff);
	mh.attr_id = XS_XCPM_ATTR_XCM_REQUEST;
	rq.server.port_guid = pa.port_guid;
	snprintf(rq.hostname, sizeof(rq.hostname), "%.65s", argv[a + 2]);
	rq.os_type = XS_XCPM_OS_LINUX;
	rq.capabilities = XS_XCPM_CAP_PRESENT;
	snprintf(rq.build_version, sizeof(rq.build_version), "xs-vm-xcpm");
	if (xs_mad_hdr_encode(&mh, req, sizeof(req)) < 0 ||
	    xs_xcpm_request_encode(&rq, req + XS_XCPM_DATA_OFF, sizeof(req) - XS_XCPM_DATA_OFF) < 0) {
		fprintf(stderr, "xs-vm-xcpm: cannot encode the XCM_REQUEST\n");
		goto unregister;
	}
	rc = xs_mad_rpc(agent, &dst, req, sizeof(req), resp, sizeof(resp), 2000, 2);
	if (rc < 0) {
		fprintf(stderr, "xs-vm-xcpm: no XCM_REQUEST reply from GID %s: %s\n", argv[a + 1],
			xs_strerror(rc));
		goto unregister;
	}
	if (xs_mad_hdr_decode(resp, (size_t)rc, &mh) < 0 ||
	    mh.method != (XS_MAD_METHOD_GET | XS_MAD_METHOD_RESP) ||
	    mh.attr_id != XS_XCPM_ATTR_XCM_REQUEST || mh.status != 0 ||
	    (size_t)rc < XS_XCPM_DATA_OFF ||
	    xs_xcpm_reply_decode(resp + XS_XCPM_DATA_OFF, (size_t)rc - XS_XCPM_DATA_OFF, &rep) < 0) {
		fprintf(stderr, "xs-vm-xcpm: the reply is not a valid XCM_REQUEST GetResp "
			"(%d bytes, method 0x%02x, attribute 0x%04x, status 0x%04x)\n", rc,
			mh.method, mh.attr_id, mh.status);
		goto unregister;
	}
	if (rep.server.port_guid != pa.port_guid) {
		fprintf(stderr, "xs-vm-xcpm: the reply names port 0x%016" PRIx64 ", not ours "
			"(0x%016" PRIx64 ")\n", rep.server.port_guid, pa.port_guid);
		goto unregister;
	}
	printf("XCM_REQUEST GetResp from %s: %u XCM%s\n", argv[a + 1], rep.count,
	       rep.count == 1 ? "" : "s");
	for (unsigned int i = 0; i < rep.count; i++)
		printf("xcm 0x%016" PRIx64 " lid %u\n", rep.xcms[i].port_guid, rep.xcms[i].lid);
	ret = 0;
unregister:
	xs_mad_agent_unregister(agent);
close_fabric:
	xs_fabric_close(f);
	return ret;
}
