/* SPDX-License-Identifier: MIT */
/*
 * xs-sa - talk to the Subnet Administrator of a fabric: register, look up
 * and delete ServiceRecords, ask for a PathRecord, show the local port.
 * Works on every fabric backend (soft, umad, verbs); see xs-sa(8).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xscore/common.h>
#include <xscore/fabric.h>
#include <xscore/log.h>
#include <xscore/wire.h>

#define DEFAULT_SID XS_U64(0x0013970200000001)

enum cmd { CMD_REGISTER, CMD_GET, CMD_DELETE, CMD_LIST, CMD_PATH, CMD_PORT };

static const struct {
	const char *name;
	enum cmd cmd;
	int nargs; /* positional arguments after the command */
} commands[] = {
	{ "sr-register", CMD_REGISTER, 1 },
	{ "sr-get", CMD_GET, 1 },
	{ "sr-delete", CMD_DELETE, 1 },
	{ "sr-list", CMD_LIST, 0 },
	{ "path", CMD_PATH, 0 },
	{ "port", CMD_PORT, 0 },
};

struct opts {
	const char *spec;
	bool json;
	int timeout_ms;
	int retries;
	bool have_id;
	uint64_t id;
	uint32_t lease;
	uint16_t pkey;
	/* ServiceData given on the command line; "lid"/"guid" resolved later */
	uint16_t data8_set, data16_set;
	uint8_t data32_set, data64_set;
	struct xs_service_record sr;
	char data16_tok[8][8];
	char data64_tok[2][8];
	bool hold;
	uint16_t dlid;
	bool have_dgid;
	uint8_t dgid[16];
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: xs-sa [-F SPEC] [--json] [-t MS] [-r N] COMMAND ...\n"
		"  sr-register NAME [--id ID] [--lease S] [--pkey P]\n"
		"              [--data8 I=V] [--data16 I=V] [--data32 I=V] [--data64 I=V] [--hold]\n"
		"                      register (SA Set) a ServiceRecord for this port;\n"
		"                      V may be 'lid' (data16) or 'guid' (data64); --hold stays\n"
		"                      attached until SIGINT/SIGTERM (the soft fabric drops a\n"
		"                      port's records when it detaches)\n"
		"  sr-get NAME [--id ID]  look a ServiceRecord up by name (SA Get)\n"
		"  sr-delete NAME [--id ID] [--pkey P]  delete our ServiceRecord (SA Delete)\n"
		"  sr-list             all ServiceRecords (SA GetTable)\n"
		"  path --dlid N | --dgid GID   PathRecord from this port (SA Get)\n"
		"  port                the local port: LID, GID, GUID, SM LID, state\n"
		"options: -F SPEC fabric (default $XS_FABRIC or \"soft\"), --json,\n"
		"         -t MS per-try timeout (default 1000), -r N retries (default 3)\n");
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	return (errno || !*s || *end || *s == '-') ? -EINVAL : 0;
}

/* "I=V": index I < max, V kept as text (resolved once the port is known). */
static int parse_iv(const char *arg, unsigned int max, unsigned int *idx, const char **val)
{
	char *end;
	unsigned long i = strtoul(arg, &end, 10);

	if (end == arg || *end != '=' || i >= max || !end[1])
		return -EINVAL;
	*idx = (unsigned int)i;
	*val = end + 1;
	return 0;
}

static int parse_data(struct opts *o, int kind, const char *arg)
{
	static const unsigned int max[] = { 16, 8, 4, 2 };
	static const uint64_t lim[] = { 0xff, 0xffff, 0xffffffff, UINT64_MAX };
	unsigned int i;
	const char *val;
	uint64_t v = 0;

	if (parse_iv(arg, max[kind], &i, &val) < 0)
		return -EINVAL;
	if (kind == 1 && strcmp(val, "lid") == 0) {
		snprintf(o->data16_tok[i], sizeof(o->data16_tok[i]), "lid");
	} else if (kind == 3 && strcmp(val, "guid") == 0) {
		snprintf(o->data64_tok[i], sizeof(o->data64_tok[i]), "guid");
	} else {
		if (parse_u64(val, &v) < 0 || v > lim[kind])
			return -EINVAL;
	}
	switch (kind) {
	case 0: o->sr.data8[i] = (uint8_t)v; o->data8_set |= (uint16_t)(1u << i); break;
	case 1: o->sr.data16[i] = (uint16_t)v; o->data16_set |= (uint16_t)(1u << i); break;
	case 2: o->sr.data32[i] = (uint32_t)v; o->data32_set |= (uint8_t)(1u << i); break;
	default: o->sr.data64[i] = v; o->data64_set |= (uint8_t)(1u << i); break;
	}
	return 0;
}

static void gid_str(const uint8_t gid[16], char *buf, size_t len)
{
	if (!inet_ntop(AF_INET6, gid, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

static const char *sa_status_str(uint16_t st)
{
	switch (st & 0xff00) {
	case XS_SA_STATUS_NO_RESOURCES: return "SA has no resources";
	case XS_SA_STATUS_REQ_INVALID: return "request invalid";
	case XS_SA_STATUS_NO_RECORDS: return "no records";
	case XS_SA_STATUS_TOO_MANY_RECORDS: return "too many records";
	case XS_SA_STATUS_INVALID_GID: return "invalid GID";
	case XS_SA_STATUS_INSUF_COMPONENTS: return "insufficient components";
	}
	switch (st & 0x1c) {
	case XS_MAD_STATUS_BAD_VERSION: return "bad class version";
	case XS_MAD_STATUS_UNSUP_METHOD: return "method not supported";
	case XS_MAD_STATUS_UNSUP_METHOD_ATTR: return "method/attribute not supported";
	case XS_MAD_STATUS_INVALID_FIELD: return "invalid field";
	}
	return "error";
}

/* -------------------------------------------------------------- SA client */

struct sa {
	struct xs_fabric *f;
	struct xs_mad_agent *agent;
	struct xs_port_attr port;
	int timeout_ms, retries;
};

static uint64_t new_tid(void)
{
	static uint32_t seq;
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint32_t)((uint32_t)getpid() << 16 ^ (uint32_t)ts.tv_nsec ^ ++seq);
}

/* One SA request; the reply lands in resp. Returns its length, or -errno;
 * *status gets the MAD status. */
static int sa_call(struct sa *sa, uint8_t method, uint16_t attr, uint64_t comp_mask,
		   const uint8_t *rec, size_t rec_len, uint8_t *resp, size_t cap, uint16_t *status)
{
	uint8_t req[XS_MAD_LEN];
	struct xs_sa_hdr h;
	struct xs_mad_addr dst = {
		.lid = sa->port.sm_lid, .qpn = 1, .qkey = XS_GSI_QKEY, .pkey = XS_DEFAULT_PKEY,
	};
	struct xs_sa_hdr rh;
	int n, rc;

	memset(req, 0, sizeof(req));
	memset(&h, 0, sizeof(h));
	h.mad.base_version = XS_MAD_BASE_VERSION;
	h.mad.mgmt_class = XS_SA_CLASS;
	h.mad.class_version = XS_SA_CLASS_VERSION;
	h.mad.method = method;
	h.mad.tid = new_tid();
	h.mad.attr_id = attr;
	h.attr_offset = (uint16_t)(rec_len / 8);
	h.comp_mask = comp_mask;
	rc = xs_sa_hdr_encode(&h, req, sizeof(req));
	if (rc < 0)
		return rc;
	memcpy(req + XS_SA_DATA_OFF, rec, XS_MIN(rec_len, (size_t)XS_SA_DATA_LEN));
	if (!sa->port.sm_lid && sa->port.link_layer == XS_LINK_IB) {
		fprintf(stderr, "xs-sa: the port has no SM LID (no subnet manager yet?)\n");
		return -EHOSTUNREACH;
	}
	n = xs_mad_rpc(sa->agent, &dst, req, sizeof(req), resp, cap, sa->timeout_ms,
		       sa->retries);
	if (n < 0)
		return n;
	rc = xs_sa_hdr_decode(resp, (size_t)n, &rh);
	if (rc < 0)
		return rc;
	*status = rh.mad.status;
	return n;
}

/* ------------------------------------------------------------------ print */

static void print_sr_text(const struct xs_service_record *sr)
{
	char gid[INET6_ADDRSTRLEN];

	gid_str(sr->gid, gid, sizeof(gid));
	printf("ServiceRecord\n");
	printf("  name       %s\n", sr->name);
	printf("  id         0x%016" PRIx64 "\n", sr->id);
	printf("  gid        %s\n", gid);
	printf("  pkey       0x%04x\n", sr->pkey);
	if (sr->lease == XS_SR_LEASE_INFINITE)
		printf("  lease      infinite\n");
	else
		printf("  lease      %" PRIu32 " s\n", sr->lease);
	for (int i = 0; i < 16; i++)
		if (sr->data8[i])
			printf("  data8[%d]   0x%02x\n", i, sr->data8[i]);
	for (int i = 0; i < 8; i++)
		if (sr->data16[i])
			printf("  data16[%d]  0x%04x (%u)\n", i, sr->data16[i], sr->data16[i]);
	for (int i = 0; i < 4; i++)
		if (sr->data32[i])
			printf("  data32[%d]  0x%08" PRIx32 "\n", i, sr->data32[i]);
	for (int i = 0; i < 2; i++)
		if (sr->data64[i])
			printf("  data64[%d]  0x%016" PRIx64 "\n", i, sr->data64[i]);
}

static void print_json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void print_sr_json(const struct xs_service_record *sr)
{
	char gid[INET6_ADDRSTRLEN];

	gid_str(sr->gid, gid, sizeof(gid));
	printf("{\"name\":");
	print_json_str(sr->name);
	printf(",\"id\":\"0x%016" PRIx64 "\",\"gid\":\"%s\",\"pkey\":\"0x%04x\",\"lease\":%" PRIu32,
	       sr->id, gid, sr->pkey, sr->lease);
	printf(",\"data8\":[");
	for (int i = 0; i < 16; i++)
		printf("%s%u", i ? "," : "", sr->data8[i]);
	printf("],\"data16\":[");
	for (int i = 0; i < 8; i++)
		printf("%s%u", i ? "," : "", sr->data16[i]);
	printf("],\"data32\":[");
	for (int i = 0; i < 4; i++)
		printf("%s%" PRIu32, i ? "," : "", sr->data32[i]);
	printf("],\"data64\":[");
	for (int i = 0; i < 2; i++)
		printf("%s\"0x%016" PRIx64 "\"", i ? "," : "", sr->data64[i]);
	printf("]}");
}

static void print_records(const struct opts *o, const struct xs_service_record *recs, int n)
{
	if (o->json) {
		printf("{\"records\":[");
		for (int i = 0; i < n; i++) {
			if (i)
				putchar(',');
			print_sr_json(&recs[i]);
		}
		printf("]}\n");
		return;
	}
	for (int i = 0; i < n; i++)
		print_sr_text(&recs[i]);
}

static void print_port(const struct opts *o, const struct xs_port_attr *a)
{
	static const char *const states[] = { "?", "down", "init", "armed", "active" };
	const char *st = (a->state >= 1 && a->state <= 4) ? states[a->state] : "?";
	char gid[INET6_ADDRSTRLEN];

	gid_str(a->gid, gid, sizeof(gid));
	if (o->json) {
		printf("{\"device\":");
		print_json_str(a->dev_name);
		printf(",\"port\":%u,\"state\":\"%s\",\"lid\":%u,\"sm_lid\":%u,\"gid\":\"%s\","
		       "\"port_guid\":\"0x%016" PRIx64 "\",\"node_guid\":\"0x%016" PRIx64 "\"}\n",
		       a->port_num, st, a->lid, a->sm_lid, gid, a->port_guid, a->node_guid);
		return;
	}
	printf("Port\n");
	printf("  device     %s port %u\n", a->dev_name, a->port_num);
	printf("  state      %s\n", st);
	printf("  lid        %u\n", a->lid);
	printf("  sm lid     %u\n", a->sm_lid);
	printf("  gid        %s\n", gid);
	printf("  port guid  0x%016" PRIx64 "\n", a->port_guid);
	printf("  node guid  0x%016" PRIx64 "\n", a->node_guid);
}

/* --------------------------------------------------------------- commands */

static int sa_fail(const char *what, int rc, uint16_t status)
{
	if (rc < 0)
		fprintf(stderr, "xs-sa: %s: %s\n", what,
			rc == -ETIMEDOUT ? "no answer from the SA" : xs_strerror(rc));
	else
		fprintf(stderr, "xs-sa: %s: SA status 0x%04x (%s)\n", what, status,
			sa_status_str(status));
	return 1;
}

static int cmd_register(struct sa *sa, struct opts *o, const char *name)
{
	struct xs_service_record *sr = &o->sr, back;
	uint8_t rec[XS_SR_LEN], resp[XS_MAD_LEN];
	uint64_t mask = XS_SR_COMP_ID | XS_SR_COMP_GID | XS_SR_COMP_PKEY | XS_SR_COMP_LEASE |
			XS_SR_COMP_NAME;
	uint16_t status = 0;
	int n, rc;

	if (strlen(name) > XS_SR_NAME_LEN) {
		fprintf(stderr, "xs-sa: service name longer than %d bytes\n", XS_SR_NAME_LEN);
		return 2;
	}
	sr->id = o->have_id ? o->id : DEFAULT_SID;
	memcpy(sr->gid, sa->port.gid, 16);
	sr->pkey = o->pkey;
	sr->lease = o->lease;
	snprintf(sr->name, sizeof(sr->name), "%s", name);
	for (int i = 0; i < 8; i++)
		if (strcmp(o->data16_tok[i], "lid") == 0)
			sr->data16[i] = sa->port.lid;
	for (int i = 0; i < 2; i++)
		if (strcmp(o->data64_tok[i], "guid") == 0)
			sr->data64[i] = sa->port.port_guid;
	for (int i = 0; i < 16; i++)
		if (o->data8_set & (1u << i))
			mask |= XS_SR_COMP_DATA8(i);
	for (int i = 0; i < 8; i++)
		if (o->data16_set & (1u << i))
			mask |= XS_SR_COMP_DATA16(i);
	for (int i = 0; i < 4; i++)
		if (o->data32_set & (1u << i))
			mask |= XS_SR_COMP_DATA32(i);
	for (int i = 0; i < 2; i++)
		if (o->data64_set & (1u << i))
			mask |= XS_SR_COMP_DATA64(i);
	rc = xs_sr_encode(sr, rec, sizeof(rec));
	if (rc < 0)
		return sa_fail("encode", rc, 0);
	n = sa_call(sa, XS_MAD_METHOD_SET, XS_SA_ATTR_SERVICE_RECORD, mask, rec, sizeof(rec),
		    resp, sizeof(resp), &status);
	if (n < 0 || status)
		return sa_fail("register", n, status);
	rc = xs_sr_decode(resp + XS_SA_DATA_OFF, (size_t)n - XS_SA_DATA_OFF, &back);
	if (rc < 0)
		return sa_fail("decode the SA's answer", rc, 0);
	if (!o->json)
		printf("registered:\n");
	print_records(o, &back, 1);
	if (o->hold) {
		/* stay attached: the soft fabric drops a port's records when it
		 * detaches (a real SA keeps them for their lease) */
		sigset_t set;
		int sig;

		fflush(stdout);
		sigemptyset(&set);
		sigaddset(&set, SIGINT);
		sigaddset(&set, SIGTERM);
		sigwait(&set, &sig); /* blocked in main, before any thread started */
	}
	return 0;
}

static bool sr_empty(const struct xs_service_record *r)
{
	static const uint8_t zero[16];

	return !r->id && !memcmp(r->gid, zero, 16) && !r->name[0];
}

/* Records of a Get/GetTable answer. Only the first MAD of an answer is
 * read, so only the records that fit in it are decoded; *total gets the
 * number the SA announced (RMPP PayloadLength, with or without the 20-byte
 * SA header as fabrics differ) when it said. A MAD padded with zeros is
 * not a record. */
static int decode_records(const uint8_t *resp, int n, struct xs_service_record *recs, int max,
			  int *total)
{
	struct xs_sa_hdr h;
	size_t stride, off = XS_SA_DATA_OFF;
	int count = 0, avail;

	if (xs_sa_hdr_decode(resp, (size_t)n, &h) < 0)
		return -EBADMSG;
	stride = h.attr_offset ? (size_t)h.attr_offset * 8 : XS_SR_LEN;
	if (stride < XS_SR_LEN)
		return -EBADMSG;
	avail = n > XS_SA_DATA_OFF ? (int)(((size_t)n - XS_SA_DATA_OFF) / stride) : 0;
	*total = 0; /* unknown unless RMPP says */
	if ((h.rmpp_rtime_flags & 1) && h.rmpp_data2) {
		uint32_t pl = h.rmpp_data2;

		*total = (int)(pl >= 20 && (pl - 20) % stride == 0 ? (pl - 20) / stride
								   : pl / stride);
	}
	for (int i = 0; i < avail && (!*total || i < *total) && count < max; i++, off += stride) {
		if (xs_sr_decode(resp + off, XS_SR_LEN, &recs[count]) < 0)
			return -EBADMSG;
		if (!sr_empty(&recs[count]))
			count++;
	}
	if (*total < count)
		*total = count;
	return count;
}

/* A multi-MAD (RMPP-style) GetTable answer whose first segment is in buf:
 * append the data of the following segments (same TID, SegmentNumber in
 * order, until the LAST flag). A fabric whose kernel reassembles RMPP hands
 * over one MAD instead and never gets here. Returns the bytes in buf. */
static int collect_segments(struct sa *sa, uint8_t *buf, size_t cap)
{
	uint32_t tid = xs_get32(buf + 12), next = 2;
	size_t len = XS_SA_DATA_OFF + XS_SA_DATA_LEN;

	for (;;) {
		uint8_t seg[XS_MAD_LEN];
		int m = xs_mad_recv(sa->agent, NULL, seg, sizeof(seg), sa->timeout_ms);

		if (m < 0) {
			fprintf(stderr, "xs-sa: list: segment %u of the answer did not come: %s\n",
				next, xs_strerror(m));
			break;
		}
		if (m < XS_SA_HDR_LEN || xs_get32(seg + 12) != tid ||
		    seg[3] != XS_SA_METHOD_GETTABLE_RESP)
			continue;
		if (xs_get32(seg + 28) != next) {
			fprintf(stderr, "xs-sa: list: got segment %u, expected %u\n",
				xs_get32(seg + 28), next);
			break;
		}
		if (len + (size_t)(m - XS_SA_DATA_OFF) > cap)
			break;
		memcpy(buf + len, seg + XS_SA_DATA_OFF, (size_t)(m - XS_SA_DATA_OFF));
		len += (size_t)(m - XS_SA_DATA_OFF);
		next++;
		if (seg[26] & 4)
			break;
	}
	return (int)len;
}

static int cmd_get(struct sa *sa, struct opts *o, const char *name, bool table)
{
	struct xs_service_record q, recs[64];
	uint8_t rec[XS_SR_LEN];
	static uint8_t resp[64 * 1024];
	uint64_t mask = 0;
	uint16_t status = 0;
	int n, count, total = 0;

	memset(&q, 0, sizeof(q));
	if (name) {
		if (strlen(name) > XS_SR_NAME_LEN) {
			fprintf(stderr, "xs-sa: service name longer than %d bytes\n",
				XS_SR_NAME_LEN);
			return 2;
		}
		snprintf(q.name, sizeof(q.name), "%s", name);
		mask |= XS_SR_COMP_NAME;
	}
	if (o->have_id) {
		q.id = o->id;
		mask |= XS_SR_COMP_ID;
	}
	if (xs_sr_encode(&q, rec, sizeof(rec)) < 0)
		return sa_fail("encode", -EINVAL, 0);
	n = sa_call(sa, table ? XS_MAD_METHOD_GETTABLE : XS_MAD_METHOD_GET,
		    XS_SA_ATTR_SERVICE_RECORD, mask, rec, sizeof(rec), resp, sizeof(resp), &status);
	if (n < 0 || status) {
		if (n >= 0 && (status & 0xff00) == XS_SA_STATUS_NO_RECORDS && name)
			fprintf(stderr, "xs-sa: no ServiceRecord named \"%s\"\n", name);
		else
			sa_fail(table ? "list" : "lookup", n, status);
		return 1;
	}
	if (table && n >= XS_SA_HDR_LEN && (resp[26] & 1) && !(resp[26] & 4))
		n = collect_segments(sa, resp, sizeof(resp));
	count = decode_records(resp, n, recs, (int)XS_ARRAY_SIZE(recs), &total);
	if (count < 0)
		return sa_fail("decode the SA's answer", count, 0);
	if (count == 0 && name) {
		fprintf(stderr, "xs-sa: no ServiceRecord named \"%s\"\n", name);
		return 1;
	}
	print_records(o, recs, count);
	if (total > count)
		fprintf(stderr, "xs-sa: showing %d of %d records (the rest did not arrive)\n",
			count, total);
	return 0;
}

static int cmd_delete(struct sa *sa, struct opts *o, const char *name)
{
	struct xs_service_record q, back;
	uint8_t rec[XS_SR_LEN], resp[XS_MAD_LEN];
	uint64_t mask = XS_SR_COMP_ID | XS_SR_COMP_GID | XS_SR_COMP_PKEY | XS_SR_COMP_NAME;
	uint16_t status = 0;
	int n;

	memset(&q, 0, sizeof(q));
	if (strlen(name) > XS_SR_NAME_LEN) {
		fprintf(stderr, "xs-sa: service name longer than %d bytes\n", XS_SR_NAME_LEN);
		return 2;
	}
	q.id = o->have_id ? o->id : DEFAULT_SID;
	memcpy(q.gid, sa->port.gid, 16);
	q.pkey = o->pkey;
	snprintf(q.name, sizeof(q.name), "%s", name);
	if (xs_sr_encode(&q, rec, sizeof(rec)) < 0)
		return sa_fail("encode", -EINVAL, 0);
	n = sa_call(sa, XS_MAD_METHOD_DELETE, XS_SA_ATTR_SERVICE_RECORD, mask, rec, sizeof(rec),
		    resp, sizeof(resp), &status);
	if (n < 0 || status)
		return sa_fail("delete", n, status);
	if (xs_sr_decode(resp + XS_SA_DATA_OFF, (size_t)n - XS_SA_DATA_OFF, &back) < 0)
		return sa_fail("decode the SA's answer", -EBADMSG, 0);
	if (!o->json)
		printf("deleted:\n");
	print_records(o, &back, 1);
	return 0;
}

static int cmd_path(struct sa *sa, struct opts *o)
{
	struct xs_path_record pr;
	uint8_t rec[XS_PR_LEN], resp[XS_MAD_LEN];
	uint64_t mask = XS_PR_COMP_SGID | XS_PR_COMP_NUMB_PATH;
	uint16_t status = 0;
	char dgid[INET6_ADDRSTRLEN], sgid[INET6_ADDRSTRLEN];
	int n, rc;

	if (!o->dlid && !o->have_dgid) {
		fprintf(stderr, "xs-sa: path needs --dlid N or --dgid GID\n");
		return 2;
	}
	memset(&pr, 0, sizeof(pr));
	memcpy(pr.sgid, sa->port.gid, 16);
	pr.numb_path = 1;
	pr.reversible = true;
	mask |= XS_PR_COMP_REVERSIBLE;
	if (o->dlid) {
		pr.dlid = o->dlid;
		pr.slid = sa->port.lid;
		mask |= XS_PR_COMP_DLID | XS_PR_COMP_SLID;
	}
	if (o->have_dgid) {
		memcpy(pr.dgid, o->dgid, 16);
		mask |= XS_PR_COMP_DGID;
	}
	rc = xs_pr_encode(&pr, rec, sizeof(rec));
	if (rc < 0)
		return sa_fail("encode", rc, 0);
	n = sa_call(sa, XS_MAD_METHOD_GET, XS_SA_ATTR_PATH_RECORD, mask, rec, sizeof(rec), resp,
		    sizeof(resp), &status);
	if (n < 0 || status)
		return sa_fail("path", n, status);
	if (xs_pr_decode(resp + XS_SA_DATA_OFF, (size_t)n - XS_SA_DATA_OFF, &pr) < 0)
		return sa_fail("decode the SA's answer", -EBADMSG, 0);
	gid_str(pr.dgid, dgid, sizeof(dgid));
	gid_str(pr.sgid, sgid, sizeof(sgid));
	if (o->json) {
		printf("{\"dlid\":%u,\"slid\":%u,\"dgid\":\"%s\",\"sgid\":\"%s\",\"sl\":%u,"
		       "\"mtu\":%u,\"rate\":%u,\"pkey\":\"0x%04x\",\"pkt_life\":%u}\n",
		       pr.dlid, pr.slid, dgid, sgid, pr.sl, pr.mtu, pr.rate, pr.pkey, pr.pkt_life);
		return 0;
	}
	printf("PathRecord\n");
	printf("  dlid       %u\n", pr.dlid);
	printf("  slid       %u\n", pr.slid);
	printf("  dgid       %s\n", dgid);
	printf("  sgid       %s\n", sgid);
	printf("  sl         %u\n", pr.sl);
	printf("  mtu        %u (%d bytes)\n", pr.mtu,
	       pr.mtu >= 1 && pr.mtu <= 5 ? 128 << pr.mtu : 0);
	printf("  rate       %u\n", pr.rate);
	printf("  pkey       0x%04x\n", pr.pkey);
	printf("  pkt life   %u\n", pr.pkt_life);
	return 0;
}

/* ------------------------------------------------------------------- main */

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "fabric", required_argument, NULL, 'F' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "retries", required_argument, NULL, 'r' },
		{ "id", required_argument, NULL, 'i' },
		{ "lease", required_argument, NULL, 'l' },
		{ "pkey", required_argument, NULL, 'p' },
		{ "data8", required_argument, NULL, 0x100 },
		{ "data16", required_argument, NULL, 0x101 },
		{ "data32", required_argument, NULL, 0x102 },
		{ "data64", required_argument, NULL, 0x103 },
		{ "dlid", required_argument, NULL, 'd' },
		{ "dgid", required_argument, NULL, 'g' },
		{ "hold", no_argument, NULL, 'H' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o;
	struct sa sa;
	const char *cmdname;
	size_t ci;
	uint64_t v;
	int c, rc;

	memset(&o, 0, sizeof(o));
	o.spec = getenv("XS_FABRIC");
	o.timeout_ms = 1000;
	o.retries = 3;
	o.lease = XS_SR_LEASE_INFINITE;
	o.pkey = XS_DEFAULT_PKEY;
	xs_log_open("xs-sa", XS_LOG_STDERR, XS_LOG_WARN);

	while ((c = getopt_long(argc, argv, "F:jt:r:i:l:p:d:g:vh", lopts, NULL)) != -1) {
		switch (c) {
		case 'F': o.spec = optarg; break;
		case 'j': o.json = true; break;
		case 't':
			if (parse_u64(optarg, &v) < 0 || v == 0 || v > 600000)
				goto bad_arg;
			o.timeout_ms = (int)v;
			break;
		case 'r':
			if (parse_u64(optarg, &v) < 0 || v > 100)
				goto bad_arg;
			o.retries = (int)v;
			break;
		case 'i':
			if (parse_u64(optarg, &o.id) < 0)
				goto bad_arg;
			o.have_id = true;
			break;
		case 'l':
			if (strcmp(optarg, "infinite") == 0) {
				o.lease = XS_SR_LEASE_INFINITE;
				break;
			}
			if (parse_u64(optarg, &v) < 0 || v > 0xffffffff)
				goto bad_arg;
			o.lease = (uint32_t)v;
			break;
		case 'p':
			if (parse_u64(optarg, &v) < 0 || v == 0 || v > 0xffff)
				goto bad_arg;
			o.pkey = (uint16_t)v;
			break;
		case 0x100: case 0x101: case 0x102: case 0x103:
			if (parse_data(&o, c - 0x100, optarg) < 0)
				goto bad_arg;
			break;
		case 'd':
			if (parse_u64(optarg, &v) < 0 || v == 0 || v > 0xbfff)
				goto bad_arg;
			o.dlid = (uint16_t)v;
			break;
		case 'g':
			if (inet_pton(AF_INET6, optarg, o.dgid) != 1)
				goto bad_arg;
			o.have_dgid = true;
			break;
		case 'H': o.hold = true; break;
		case 'v': xs_log_set_level(XS_LOG_DEBUG); xs_log_set_debug("all"); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	cmdname = argv[optind++];
	for (ci = 0; ci < XS_ARRAY_SIZE(commands); ci++)
		if (strcmp(commands[ci].name, cmdname) == 0)
			break;
	if (ci == XS_ARRAY_SIZE(commands)) {
		fprintf(stderr, "xs-sa: unknown command '%s'\n", cmdname);
		usage(stderr);
		return 2;
	}
	if (argc - optind != commands[ci].nargs) {
		fprintf(stderr, "xs-sa: %s takes %d argument%s\n", cmdname, commands[ci].nargs,
			commands[ci].nargs == 1 ? "" : "s");
		usage(stderr);
		return 2;
	}

	if (o.hold) {
		sigset_t set;

		if (commands[ci].cmd != CMD_REGISTER) {
			fprintf(stderr, "xs-sa: --hold is for sr-register\n");
			return 2;
		}
		sigemptyset(&set);
		sigaddset(&set, SIGINT);
		sigaddset(&set, SIGTERM);
		pthread_sigmask(SIG_BLOCK, &set, NULL);
	}
	memset(&sa, 0, sizeof(sa));
	sa.timeout_ms = o.timeout_ms;
	sa.retries = o.retries;
	sa.f = xs_fabric_open(o.spec, NULL);
	if (!sa.f) {
		fprintf(stderr, "xs-sa: cannot open fabric '%s': %s\n", o.spec ? o.spec : "soft",
			strerror(errno));
		return 1;
	}
	rc = xs_fabric_query_port(sa.f, &sa.port);
	if (rc < 0) {
		fprintf(stderr, "xs-sa: cannot query the port: %s\n", xs_strerror(rc));
		rc = 1;
		goto out_close;
	}
	if (commands[ci].cmd == CMD_PORT) {
		print_port(&o, &sa.port);
		rc = 0;
		goto out_close;
	}
	sa.agent = xs_mad_agent_register(sa.f, XS_SA_CLASS, XS_SA_CLASS_VERSION, NULL, 0);
	if (!sa.agent) {
		fprintf(stderr, "xs-sa: cannot register an SA agent: %s\n", strerror(errno));
		rc = 1;
		goto out_close;
	}
	switch (commands[ci].cmd) {
	case CMD_REGISTER: rc = cmd_register(&sa, &o, argv[optind]); break;
	case CMD_GET: rc = cmd_get(&sa, &o, argv[optind], false); break;
	case CMD_DELETE: rc = cmd_delete(&sa, &o, argv[optind]); break;
	case CMD_LIST: rc = cmd_get(&sa, &o, NULL, true); break;
	case CMD_PATH: rc = cmd_path(&sa, &o); break;
	case CMD_PORT: rc = 0; break;
	}
	xs_mad_agent_unregister(sa.agent);
out_close:
	xs_fabric_close(sa.f);
	return rc;

bad_arg:
	if (c >= 0x100)
		fprintf(stderr, "xs-sa: bad value '%s' for --%s\n", optarg, lopts[7 + c - 0x100].name);
	else
		fprintf(stderr, "xs-sa: bad value '%s' for option -%c\n", optarg, c);
	usage(stderr);
	return 2;
}
