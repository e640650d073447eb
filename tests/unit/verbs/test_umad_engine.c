/* SPDX-License-Identifier: MIT */
/*
 * test_umad_engine - the libibumad MAD engine (xscore/fabric/umad/umad_port.c)
 * with libibumad faked: the file is included here and every umad_* call it
 * makes lands in the fakes below. The "umad fd" is one end of a
 * SOCK_SEQPACKET pair; the test writes struct ib_user_mad records into the
 * other end, as the kernel (or umad2sim) would, and checks where each MAD
 * ends up: per-agent queues, eventfds, drops, counters, addresses, P_Key
 * indexes and send timeouts.
 */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "../../../xscore/fabric/umad/umad_port.c"

/* ------------------------------------------------------------ the fakes */

static int sp[2] = { -1, -1 };     /* sp[0]: the engine's umad fd; sp[1]: "kernel" */
static int next_agent;
static struct { int cls, ver, rmpp; bool server; } reg[40];
static int n_reg, n_unreg;
static struct {
	int agent, len, timeout;
	ib_mad_addr_t addr;
	uint8_t mad[256];
} sent;
static int n_sent;
static char issm_path[64] = "/dev/null";

int umad_init(void) { return 0; }
size_t umad_size(void) { return sizeof(struct ib_user_mad); }

int umad_get_port(const char *ca, int portnum, umad_port_t *p)
{
	static uint16_t pk[4] = { 0xffff, 0x8001, 0, 0 };

	memset(p, 0, sizeof(*p));
	snprintf(p->ca_name, sizeof(p->ca_name), "fake0");
	p->portnum = 1;
	p->base_lid = 7;
	p->sm_lid = 1;
	p->state = 4;
	p->gid_prefix = htobe64(0xfe80000000000000ULL);
	p->port_guid = htobe64(0x0002c90300001234ULL);
	p->pkeys = pk;
	p->pkeys_size = 4;
	snprintf(p->link_layer, sizeof(p->link_layer), "InfiniBand");
	return 0;
}
int umad_release_port(umad_port_t *p) { return 0; }
int umad_get_ca(const char *ca, umad_ca_t *c)
{
	memset(c, 0, sizeof(*c));
	c->node_guid = htobe64(0x0002c90300001233ULL);
	return 0;
}
int umad_release_ca(umad_ca_t *c) { return 0; }
int umad_open_port(const char *ca, int port)
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp), 0);
	return 17;
}
int umad_close_port(int portid)
{
	close(sp[0]);
	close(sp[1]);
	sp[0] = sp[1] = -1;
	return 0;
}
int umad_get_fd(int portid) { return sp[0]; }
int umad_register(int portid, int cls, int ver, uint8_t rmpp, long mask[16 / sizeof(long)])
{
	reg[n_reg].cls = cls;
	reg[n_reg].ver = ver;
	reg[n_reg].rmpp = rmpp;
	reg[n_reg].server = mask != NULL;
	n_reg++;
	return next_agent++;
}
int umad_register_oui(int portid, int cls, uint8_t rmpp, uint8_t oui[3],
		      long mask[16 / sizeof(long)])
{
	return umad_register(portid, cls, 1, rmpp, mask);
}
int umad_unregister(int portid, int agentid)
{
	n_unreg++;
	return 0;
}
int umad_get_issm_path(const char *ca, int port, char path[], int max)
{
	snprintf(path, (size_t)max, "%s", issm_path);
	return 0;
}
int umad_set_addr(void *umad, int dlid, int dqp, int sl, int qkey)
{
	struct ib_user_mad *m = umad;

	m->addr.lid = htobe16((uint16_t)dlid);
	m->addr.qpn = htobe32((uint32_t)dqp);
	m->addr.sl = (uint8_t)sl;
	m->addr.qkey = htobe32((uint32_t)qkey);
	return 0;
}
int umad_set_pkey(void *umad, int idx)
{
	((struct ib_user_mad *)umad)->addr.pkey_index = (uint16_t)idx;
	return 0;
}
int umad_send(int portid, int agent, void *umad, int len, int timeout, int retries)
{
	struct ib_user_mad *m = umad;

	sent.agent = agent;
	sent.len = len;
	sent.timeout = timeout;
	sent.addr = m->addr;
	memcpy(sent.mad, m->data, 256);
	n_sent++;
	return 0;
}

/* --------------------------------------------------------------- helpers */

static void reset_fakes(void)
{
	next_agent = 0;
	n_reg = n_unreg = n_sent = 0;
	memset(&sent, 0, sizeof(sent));
}

static void make_mad(uint8_t *mad, uint8_t cls, uint8_t ver, uint8_t method, uint32_t tid)
{
	memset(mad, 0, 256);
	mad[0] = 1;
	mad[1] = cls;
	mad[2] = ver;
	mad[3] = method;
	xs_put32(mad + 12, tid);
	xs_put16(mad + 16, 0xb002);
	for (int i = 24; i < 256; i++)
		mad[i] = (uint8_t)(i * 7 + tid);
}

/* Deliver one MAD as the kernel would: header + 256 bytes. */
static void inject(int agent_id, uint32_t status, uint16_t slid, uint16_t pkey_index,
		   const uint8_t *mad)
{
	uint8_t buf[sizeof(struct ib_user_mad) + 256];
	struct ib_user_mad *m = (struct ib_user_mad *)buf;

	memset(buf, 0, sizeof(buf));
	m->agent_id = (uint32_t)agent_id;
	m->status = status;
	m->length = sizeof(buf);
	m->addr.lid = htobe16(slid);
	m->addr.qpn = htobe32(1);
	m->addr.qkey = htobe32(XS_GSI_QKEY);
	m->addr.pkey_index = pkey_index;
	memcpy(m->data, mad, 256);
	assert_int_equal(write(sp[1], buf, sizeof(buf)), (int)sizeof(buf));
}

static bool readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

static struct xs_fabric fake_fabric;

static struct xs_umad_port *open_port(void)
{
	struct xs_umad_port *p;

	reset_fakes();
	p = xs_umad_port_open(NULL, 0, 0);
	assert_non_null(p);
	return p;
}

/* ----------------------------------------------------------------- tests */

static void test_query(void **state)
{
	struct xs_umad_port *p = open_port();
	struct xs_port_attr a;
	static const uint8_t gid[16] = { 0xfe, 0x80, 0, 0, 0, 0, 0, 0,
					 0x00, 0x02, 0xc9, 0x03, 0x00, 0x00, 0x12, 0x34 };

	(void)state;
	assert_int_equal(xs_umad_port_query(p, &a), 0);
	assert_string_equal(a.dev_name, "fake0");
	assert_string_equal(a.port_name, "fake0/1");
	assert_int_equal(a.lid, 7);
	assert_int_equal(a.sm_lid, 1);
	assert_int_equal(a.state, XS_PORT_ACTIVE);
	assert_int_equal(a.link_layer, XS_LINK_IB);
	assert_memory_equal(a.gid, gid, 16);
	assert_true(a.port_guid == 0x0002c90300001234ULL);
	assert_true(a.node_guid == 0x0002c90300001233ULL);
	assert_int_equal(a.n_pkeys, 2);
	assert_int_equal(a.pkeys[0], 0xffff);
	assert_int_equal(a.pkeys[1], 0x8001);
	xs_umad_port_close(p);
}

static void test_request_to_server_agent(void **state)
{
	struct xs_umad_port *p = open_port();
	struct xs_mad_agent *srv, *sa;
	struct xs_mad_addr src;
	uint8_t mad[256], got[256];
	struct xs_umad_stats st;

	(void)state;
	srv = xs_umad_agent_register(p, &fake_fabric, 0x0b, 2, NULL, XS_MAD_AGENT_SERVER);
	sa = xs_umad_agent_register(p, &fake_fabric, 0x03, 2, NULL, 0);
	assert_non_null(srv);
	assert_non_null(sa);
	assert_int_equal(n_reg, 2);
	assert_true(reg[0].server);
	assert_int_equal(reg[0].rmpp, 0);
	assert_false(reg[1].server);
	assert_int_equal(reg[1].rmpp, 1); /* SA: kernel RMPP reassembly */

	assert_false(readable(xs_umad_agent_fd(srv), 0));
	make_mad(mad, 0x0b, 2, 0x01, 0x1001);
	inject(0, 0, 9, 1, mad);
	assert_true(readable(xs_umad_agent_fd(srv), 2000));
	assert_false(readable(xs_umad_agent_fd(sa), 0));
	assert_int_equal(xs_umad_mad_recv(srv, &src, got, sizeof(got), 0), 256);
	assert_memory_equal(got, mad, 256);
	assert_int_equal(src.lid, 9);
	assert_int_equal(src.qpn, 1);
	assert_int_equal(src.qkey, XS_GSI_QKEY);
	assert_int_equal(src.pkey, 0x8001); /* P_Key index 1 of the table */
	/* drained: the eventfd is quiet again, recv says so */
	assert_false(readable(xs_umad_agent_fd(srv), 0));
	assert_int_equal(xs_umad_mad_recv(srv, &src, got, sizeof(got), 0), -EAGAIN);
	assert_int_equal(xs_umad_mad_recv(srv, &src, got, sizeof(got), 50), -ETIMEDOUT);

	/* a short buffer gets the first bytes */
	inject(0, 0, 9, 0, mad);
	assert_int_equal(xs_umad_mad_recv(srv, NULL, got, 40, 2000), 40);
	assert_memory_equal(got, mad, 40);

	xs_umad_port_stats(p, &st);
	assert_int_equal(st.rx, 2);
	assert_int_equal(st.dropped, 0);
	xs_umad_agent_unregister(srv);
	xs_umad_agent_unregister(sa);
	assert_int_equal(n_unreg, 2);
	xs_umad_port_close(p);
}

static void test_response_and_drops(void **state)
{
	struct xs_umad_port *p = open_port();
	struct xs_mad_agent *a1, *a2;
	uint8_t mad[256], got[256];
	struct xs_umad_stats st;

	(void)state;
	a1 = xs_umad_agent_register(p, &fake_fabric, 0x03, 2, NULL, 0); /* umad id 0 */
	a2 = xs_umad_agent_register(p, &fake_fabric, 0x03, 2, NULL, 0); /* umad id 1 */
	assert_non_null(a1);
	assert_non_null(a2);

	/* a response goes to the agent whose id it carries */
	make_mad(mad, 0x03, 2, 0x81, 0x2002);
	inject(1, 0, 1, 0, mad);
	assert_int_equal(xs_umad_mad_recv(a2, NULL, got, sizeof(got), 2000), 256);
	assert_memory_equal(got, mad, 256);
	assert_int_equal(xs_umad_mad_recv(a1, NULL, got, sizeof(got), 0), -EAGAIN);

	/* a request for a class nobody serves, and a request to a client
	 * agent, are dropped; so is a send the kernel handed back */
	make_mad(mad, 0x0c, 1, 0x01, 0x2003);
	inject(0, 0, 1, 0, mad);
	make_mad(mad, 0x03, 2, 0x01, 0x2004);
	inject(0, 0, 1, 0, mad);
	make_mad(mad, 0x03, 2, 0x01, 0x2005);
	inject(0, ETIMEDOUT, 1, 0, mad);
	/* then one that does arrive, so we know the three were processed */
	make_mad(mad, 0x03, 2, 0x81, 0x2006);
	inject(0, 0, 1, 0, mad);
	assert_int_equal(xs_umad_mad_recv(a1, NULL, got, sizeof(got), 2000), 256);
	assert_int_equal(xs_get32(got + 12), 0x2006);
	xs_umad_port_stats(p, &st);
	assert_int_equal(st.rx, 2);
	assert_int_equal(st.dropped, 2);
	assert_int_equal(st.send_errors, 1);
	xs_umad_port_close(p); /* also unregisters a1 and a2 */
	assert_int_equal(n_unreg, 2);
}

static void test_vendor_oui_demux(void **state)
{
	struct xs_umad_port *p = open_port();
	static const uint8_t oui_a[3] = { 0x00, 0x13, 0x97 }, oui_b[3] = { 0x00, 0x02, 0xc9 };
	struct xs_mad_agent *a, *b;
	uint8_t mad[256], got[256];

	(void)state;
	assert_null(xs_umad_agent_register(p, &fake_fabric, 0x30, 1, NULL, XS_MAD_AGENT_SERVER));
	assert_int_equal(errno, EINVAL);
	a = xs_umad_agent_register(p, &fake_fabric, 0x30, 1, oui_a, XS_MAD_AGENT_SERVER);
	b = xs_umad_agent_register(p, &fake_fabric, 0x30, 1, oui_b, XS_MAD_AGENT_SERVER);
	assert_non_null(a);
	assert_non_null(b);
	make_mad(mad, 0x30, 1, 0x01, 0x3001);
	memcpy(mad + 37, oui_b, 3);
	inject(0, 0, 3, 0, mad);
	assert_int_equal(xs_umad_mad_recv(b, NULL, got, sizeof(got), 2000), 256);
	assert_memory_equal(got + 37, oui_b, 3);
	assert_int_equal(xs_umad_mad_recv(a, NULL, got, sizeof(got), 0), -EAGAIN);
	xs_umad_port_close(p);
}

static void test_send_addressing(void **state)
{
	struct xs_umad_port *p = open_port();
	struct xs_mad_agent *a;
	uint8_t mad[256];
	struct xs_mad_addr dst = { .lid = 12, .qpn = 1 };

	(void)state;
	a = xs_umad_agent_register(p, &fake_fabric, 0x0b, 2, NULL, 0);
	assert_non_null(a);
	make_mad(mad, 0x0b, 2, 0x01, 0x4001);
	assert_int_equal(xs_umad_mad_send(a, &dst, mad, 100), 0);
	assert_int_equal(n_sent, 1);
	assert_int_equal(sent.len, 256);           /* always a whole MAD */
	assert_memory_equal(sent.mad, mad, 100);
	for (int i = 100; i < 256; i++)
		assert_int_equal(sent.mad[i], 0);  /* zero padded */
	assert_int_equal(be16toh(sent.addr.lid), 12);
	assert_int_equal(be32toh(sent.addr.qpn), 1);
	assert_int_equal(be32toh(sent.addr.qkey), XS_GSI_QKEY);
	assert_int_equal(sent.addr.pkey_index, 0);
	assert_true(sent.timeout > 0);             /* a Get waits for its answer */

	mad[3] = 0x81;                             /* a response waits for nothing */
	dst.pkey = 0x0001;                         /* limited member of 0x8001 */
	assert_int_equal(xs_umad_mad_send(a, &dst, mad, 256), 0);
	assert_int_equal(sent.timeout, 0);
	assert_int_equal(sent.addr.pkey_index, 1);

	dst.pkey = 0x1234;                         /* not in the table */
	assert_int_equal(xs_umad_mad_send(a, &dst, mad, 256), -ENOENT);
	assert_int_equal(n_sent, 2);
	xs_umad_port_close(p);
}

static void test_simulator_mode(void **state)
{
	struct xs_umad_port *p;
	struct xs_mad_agent *srv;
	uint8_t mad[256], got[256];

	(void)state;
	/* Under umad2sim: a server agent takes the SMI classes, then raises
	 * IsSM; received bytes 224..255 (never carried by umad2sim) are zero. */
	setenv("LD_PRELOAD", "/usr/lib/x86_64-linux-gnu/umad2sim/libumad2sim.so", 1);
	p = open_port();
	unsetenv("LD_PRELOAD");
	srv = xs_umad_agent_register(p, &fake_fabric, 0x0b, 2, NULL, XS_MAD_AGENT_SERVER);
	assert_non_null(srv);
	assert_int_equal(n_reg, 3);
	assert_int_equal(reg[1].cls, 0x01);
	assert_int_equal(reg[2].cls, 0x81);
	assert_true(p->issm_fd >= 0);
	make_mad(mad, 0x0b, 2, 0x01, 0x5001);
	inject(0, 0, 4, 0, mad);
	assert_int_equal(xs_umad_mad_recv(srv, NULL, got, sizeof(got), 2000), 256);
	assert_memory_equal(got, mad, 224);
	for (int i = 224; i < 256; i++)
		assert_int_equal(got[i], 0);
	xs_umad_port_close(p);
	assert_int_equal(n_unreg, 3);

	/* on real hardware IsSM stays down unless XS_UMAD_ISSM=1 */
	p = open_port();
	srv = xs_umad_agent_register(p, &fake_fabric, 0x0b, 2, NULL, XS_MAD_AGENT_SERVER);
	assert_non_null(srv);
	assert_int_equal(n_reg, 1);
	assert_true(p->issm_fd < 0);
	xs_umad_port_close(p);
	setenv("XS_UMAD_ISSM", "1", 1);
	p = open_port();
	srv = xs_umad_agent_register(p, &fake_fabric, 0x0b, 2, NULL, XS_MAD_AGENT_SERVER);
	unsetenv("XS_UMAD_ISSM");
	assert_non_null(srv);
	assert_int_equal(n_reg, 1); /* no SMI dummies outside the simulator */
	assert_true(p->issm_fd >= 0);
	xs_umad_port_close(p);

	/* an IsSM device that can't be opened fails the registration */
	snprintf(issm_path, sizeof(issm_path), "/nonexistent/issm0");
	setenv("XS_UMAD_ISSM", "1", 1);
	p = open_port();
	assert_null(xs_umad_agent_register(p, &fake_fabric, 0x0b, 2, NULL, XS_MAD_AGENT_SERVER));
	assert_int_equal(errno, ENOENT);
	unsetenv("XS_UMAD_ISSM");
	snprintf(issm_path, sizeof(issm_path), "/dev/null");
	xs_umad_port_close(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_request_to_server_agent),
		cmocka_unit_test(test_response_and_drops),
		cmocka_unit_test(test_vendor_oui_demux),
		cmocka_unit_test(test_send_addressing),
		cmocka_unit_test(test_simulator_mode),
	};

	unsetenv("LD_PRELOAD");
	unsetenv("XS_UMAD_ISSM");
	xs_log_open("test_umad_engine", XS_LOG_STDERR, XS_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
