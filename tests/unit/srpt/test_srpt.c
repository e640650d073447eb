/* SPDX-License-Identifier: MIT */
/*
 * The SRP target (director/srpt) and the SRP initiator (xsvhba) against a
 * private xs-fabricd: an SRP target on two RAM LUNs and, in the same
 * process on another port, the xsvhba initiator; a "raw" port speaks SRP by
 * hand for the wire-level checks (login rejects, sense bytes, forged
 * descriptors, credit overrun).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <xscore/common.h>
#include <xscore/evloop.h>
#include <xscore/fabric.h>
#include <xscore/log.h>
#include <xscore/srp.h>

#include "srpt/srpt.h"
#include "xsvhba/vhba.h"

#define LUN_BYTES (16u << 20)
#define WWPN UINT64_C(0x2100001397000001)
#define TGT_REQ_LIM 16

static char tmpdir[64];
static char sock_path[100];
static char spec[160];
static pid_t daemon_pid = -1;

/* ------------------------------------------------------------ daemon */

static pid_t start_daemon(const char *path, const char *log)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd >= 0) {
			dup2(fd, 2);
			close(fd);
		}
		execl(XS_FABRICD_PATH, "xs-fabricd", "-f", "-s", path, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
		int ok;

		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
		ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		close(fd);
		if (ok)
			return pid;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

static int group_setup(void **state)
{
	char log[200];

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/xs-srpt-test-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(sock_path, sizeof(sock_path), "%s/fabric.sock", tmpdir);
	snprintf(spec, sizeof(spec), "soft:%s", sock_path);
	snprintf(log, sizeof(log), "%s/fabricd.log", tmpdir);
	daemon_pid = start_daemon(sock_path, log);
	return daemon_pid > 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
	char cmd[128];
	int st = 0;

	kill(daemon_pid, SIGTERM);
	waitpid(daemon_pid, &st, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------ fixture */

struct fx {
	struct xs_loop *loop;
	pthread_t thread;
	struct xs_fabric *tf, *hf;
	struct xsd_scsi_target *t;
	struct xsd_srpt *srpt;
	struct xsvhba *v;
	uint16_t tlid;
	/* run_on_loop */
	pthread_mutex_t m;
	pthread_cond_t c;
	void (*fn)(struct fx *, void *);
	void *fn_arg;
	bool fn_done;
	bool stop;
};

static struct xs_fabric *open_port(const char *name)
{
	struct xs_fabric_opts o = { .size = sizeof(o), .port_name = name,
				    .attach_timeout_ms = 2000 };

	return xs_fabric_open(spec, &o);
}

static uint16_t port_lid(struct xs_fabric *f)
{
	struct xs_port_attr a;

	assert_int_equal(xs_fabric_query_port(f, &a), 0);
	return a.lid;
}

static void on_wake(struct xs_loop *loop, void *arg)
{
	struct fx *x = arg;

	pthread_mutex_lock(&x->m);
	if (x->fn) {
		x->fn(x, x->fn_arg);
		x->fn = NULL;
		x->fn_done = true;
		pthread_cond_broadcast(&x->c);
	}
	if (x->stop)
		xs_loop_stop(loop);
	pthread_mutex_unlock(&x->m);
}

/* Run fn on the loop thread and wait for it. */
static void run_on_loop(struct fx *x, void (*fn)(struct fx *, void *), void *arg)
{
	pthread_mutex_lock(&x->m);
	x->fn = fn;
	x->fn_arg = arg;
	x->fn_done = false;
	pthread_mutex_unlock(&x->m);
	xs_loop_wake(x->loop);
	pthread_mutex_lock(&x->m);
	while (!x->fn_done)
		pthread_cond_wait(&x->c, &x->m);
	pthread_mutex_unlock(&x->m);
}

static void *loop_main(void *arg)
{
	struct fx *x = arg;

	xs_loop_run(x->loop);
	return NULL;
}

static struct xsd_scsi_lun *ram_lun(const char *serial)
{
	struct xsd_scsi_lun_opts lo = { .size = sizeof(lo), .serial = serial };

	return xsd_scsi_lun_new(xsd_scsi_ram_new(LUN_BYTES), &lo);
}

static struct xsd_srpt *new_srpt(struct fx *x)
{
	struct xsd_srpt_opts so = { .size = sizeof(so), .req_lim = TGT_REQ_LIM,
				    .own_fabric_events = true, .default_visible = true };

	return xsd_srpt_new(x->tf, x->loop, x->t, &so);
}

static struct fx *fx_new(uint32_t queue_depth, uint32_t link_down_ms)
{
	struct fx *x = calloc(1, sizeof(*x));
	struct xsvhba_opts vo = { .size = sizeof(vo) };

	assert_non_null(x);
	pthread_mutex_init(&x->m, NULL);
	pthread_cond_init(&x->c, NULL);
	x->loop = xs_loop_new();
	assert_non_null(x->loop);
	assert_int_equal(xs_loop_set_wake(x->loop, on_wake, x), 0);
	static int gen;
	char tn[32], hn[32];

	snprintf(tn, sizeof(tn), "tgt%d", gen);
	snprintf(hn, sizeof(hn), "host%d", gen++);
	x->tf = open_port(tn);
	x->hf = open_port(hn);
	assert_non_null(x->tf);
	assert_non_null(x->hf);
	x->tlid = port_lid(x->tf);
	x->t = xsd_scsi_target_new();
	assert_non_null(x->t);
	assert_int_equal(xsd_scsi_target_add_lun(x->t, 0, ram_lun("ram0")), 0);
	assert_int_equal(xsd_scsi_target_add_lun(x->t, 1, ram_lun("ram1")), 0);
	x->srpt = new_srpt(x);
	assert_non_null(x->srpt);
	vo.dest.lid = x->tlid;
	vo.wwpn = WWPN;
	vo.queue_depth = queue_depth;
	vo.link_down_ms = link_down_ms;
	vo.own_fabric_events = true;
	x->v = xsvhba_new(x->hf, x->loop, &vo);
	assert_non_null(x->v);
	assert_int_equal(xsvhba_start(x->v), 0);
	assert_int_equal(pthread_create(&x->thread, NULL, loop_main, x), 0);
	return x;
}

static void fx_free(struct fx *x)
{
	pthread_mutex_lock(&x->m);
	x->stop = true;
	pthread_mutex_unlock(&x->m);
	xs_loop_wake(x->loop);
	pthread_join(x->thread, NULL);
	xsvhba_free(x->v);
	xsd_srpt_free(x->srpt);
	xsd_scsi_target_free(x->t);
	xs_fabric_close(x->hf);
	xs_fabric_close(x->tf);
	xs_loop_free(x->loop);
	free(x);
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
}

static void get_stats(struct fx *x, void *arg)
{
	xsd_srpt_get_stats(x->srpt, arg);
}

static struct xsd_srpt_stats tstats(struct fx *x)
{
	struct xsd_srpt_stats st;

	run_on_loop(x, get_stats, &st);
	return st;
}

/* ------------------------------------------------------------ raw SRP */

struct raw {
	struct xs_fabric *f;
	struct xs_pd *pd;
	struct xs_cq *cq;
	struct xs_qp *qp;
	struct xs_mr *mr;
	uint8_t mem[24 * 512]; /* receive ring */
};

static void raw_init(struct raw *r, const char *name)
{
	struct xs_qp_attr a = { 0 };

	r->f = open_port(name);
	assert_non_null(r->f);
	r->pd = xs_pd_alloc(r->f);
	r->cq = xs_cq_create(r->f, 256);
	a.pd = r->pd;
	a.send_cq = r->cq;
	a.recv_cq = r->cq;
	a.max_inline = 256;
	r->qp = xs_qp_create(r->f, &a);
	r->mr = xs_mr_reg(r->pd, r->mem, sizeof(r->mem), XS_ACCESS_LOCAL_WRITE);
	assert_non_null(r->qp);
	assert_non_null(r->mr);
	for (int i = 0; i < 24; i++) {
		struct xs_sge sge = { .addr = (uintptr_t)(r->mem + i * 512), .length = 512,
				      .lkey = xs_mr_lkey(r->mr) };
		struct xs_recv_wr wr = { .wr_id = (uint64_t)i, .sg_list = &sge, .num_sge = 1 };

		assert_int_equal(xs_qp_post_recv(r->qp, &wr), 0);
	}
}

static void raw_fini(struct raw *r)
{
	xs_qp_destroy(r->qp);
	xs_mr_dereg(r->mr);
	xs_cq_destroy(r->cq);
	xs_pd_free(r->pd);
	xs_fabric_close(r->f);
}

static void login_req(uint8_t *buf, uint32_t it_iu_len, uint16_t fmt, uint64_t tag)
{
	struct xs_srp_login_req lr = { .tag = tag, .req_it_iu_len = it_iu_len, .req_buf_fmt = fmt };

	xs_put64(lr.initiator_port_id + 8, UINT64_C(0x2100001397000099));
	assert_int_equal(xs_srp_login_req_encode(&lr, buf, XS_SRP_LOGIN_REQ_LEN),
			 XS_SRP_LOGIN_REQ_LEN);
}

/* Connect with a login; returns the event. */
static void raw_login(struct raw *r, uint16_t lid, uint32_t it_iu_len, uint16_t fmt,
		      struct xs_event *ev)
{
	struct xs_cm_dest d = { .lid = lid };
	uint8_t buf[XS_SRP_LOGIN_REQ_LEN];

	login_req(buf, it_iu_len, fmt, 0x1234);
	assert_int_equal(xs_qp_connect(r->qp, &d, XSD_SRPT_DEFAULT_SERVICE_ID, buf, sizeof(buf),
				       3000), 0);
	assert_int_equal(xs_fabric_wait_event(r->f, ev, 4000), 0);
}

static int raw_wc(struct raw *r, struct xs_wc *wc, int timeout_ms)
{
	uint64_t deadline = xs_now_ms() + (uint64_t)timeout_ms;

	for (;;) {
		struct pollfd p = { .fd = xs_cq_fd(r->cq), .events = POLLIN };
		int n = xs_cq_poll(r->cq, wc, 1);
		uint64_t now;

		if (n != 0)
			return n;
		now = xs_now_ms();
		if (now >= deadline)
			return 0;
		poll(&p, 1, (int)(deadline - now));
	}
}

static void raw_send(struct raw *r, const uint8_t *iu, size_t len)
{
	struct xs_sge sge = { .addr = (uintptr_t)iu, .length = (uint32_t)len };
	struct xs_send_wr wr = { .wr_id = 1000, .opcode = XS_WR_SEND, .sg_list = &sge,
				 .num_sge = 1, .flags = XS_SEND_INLINE };

	assert_int_equal(xs_qp_post_send(r->qp, &wr), 0);
}

/* Next received IU (copied to out); returns its length or -1. */
static int raw_recv(struct raw *r, uint8_t *out)
{
	struct xs_wc wc;

	for (;;) {
		if (raw_wc(r, &wc, 3000) != 1)
			return -1;
		if (wc.opcode != XS_WC_RECV)
			continue;
		if (wc.status != XS_WC_SUCCESS)
			return -1;
		memcpy(out, r->mem + wc.wr_id * 512, wc.byte_len);
		{
			struct xs_sge sge = { .addr = (uintptr_t)(r->mem + wc.wr_id * 512),
					      .length = 512, .lkey = xs_mr_lkey(r->mr) };
			struct xs_recv_wr wr = { .wr_id = wc.wr_id, .sg_list = &sge, .num_sge = 1 };

			xs_qp_post_recv(r->qp, &wr);
		}
		return (int)wc.byte_len;
	}
}

/* One SRP_CMD with an optional direct descriptor; returns the SRP_RSP length. */
static int raw_cmd(struct raw *r, uint64_t tag, const uint8_t *cdb, bool write,
		   const struct xs_srp_desc *d, uint8_t *rsp)
{
	struct xs_srp_cmd c = { .tag = tag, .lun = 0, .cdb_len = 16 };
	uint8_t iu[128];
	int n;

	memcpy(c.cdb, cdb, 16);
	if (d) {
		struct xs_srp_data_buf *b = write ? &c.out : &c.in;

		b->fmt = XS_SRP_FMT_DIRECT;
		b->direct = *d;
		b->total_len = d->len;
	}
	n = xs_srp_cmd_encode(&c, iu, sizeof(iu));
	assert_true(n > 0);
	raw_send(r, iu, (size_t)n);
	return raw_recv(r, rsp);
}

/* ------------------------------------------------------------- tests */

static void check_reject(struct fx *x, const char *port, uint32_t it_iu_len, uint16_t fmt,
			 uint32_t reason)
{
	struct raw r;
	struct xs_event ev;

	raw_init(&r, port);
	raw_login(&r, x->tlid, it_iu_len, fmt, &ev);
	assert_int_equal(ev.type, XS_EV_REJECTED);
	assert_int_equal(ev.reject_reason, XS_CM_REJ_CONSUMER);
	assert_true(ev.private_len >= XS_SRP_LOGIN_REJ_LEN);
	/* SRP_LOGIN_REJ on the wire: type, reason, tag, buffer formats. */
	assert_int_equal(ev.private_data[0], 0xc2);
	assert_int_equal(xs_get32(ev.private_data + 4), reason);
	assert_int_equal(xs_get64(ev.private_data + 8), 0x1234);
	assert_int_equal(xs_get16(ev.private_data + 24), 0x0006);
	raw_fini(&r);
}

static void test_login_reject(void **state)
{
	struct fx *x = fx_new(8, 5000);

	/* One byte above the default maximum (8276): reason 0x00010002. */
	assert_int_equal(XSD_SRPT_DEFAULT_MAX_IU, 8276);
	check_reject(x, "raw1", 8277, 0x0006, XS_SRP_REJ_IT_IU_LEN_TOO_LARGE);
	check_reject(x, "raw2", 63, 0x0006, XS_SRP_REJ_UNABLE_ESTABLISH);
	check_reject(x, "raw3", 256, 0x0000, XS_SRP_REJ_UNSUPPORTED_DESC_FMT);
	check_reject(x, "raw5", 0x00100000, 0x0006, XS_SRP_REJ_IT_IU_LEN_TOO_LARGE);
	assert_int_equal(tstats(x).login_rejects, 4);
	/* The initiator logged in meanwhile. */
	assert_int_equal(xsvhba_wait_ready(x->v, 5000), 0);
	fx_free(x);
}

static void accept_raw(struct fx *x, const char *port, uint32_t it_iu_len)
{
	struct raw r;
	struct xs_event ev;
	struct xs_srp_login_rsp rsp;

	raw_init(&r, port);
	raw_login(&r, x->tlid, it_iu_len, 0x0006, &ev);
	assert_int_equal(ev.type, XS_EV_ESTABLISHED);
	assert_int_equal(ev.private_data[0], 0xc0);
	assert_int_equal(xs_srp_login_rsp_decode(ev.private_data, ev.private_len, &rsp), 0);
	assert_int_equal(rsp.req_lim_delta, TGT_REQ_LIM);
	assert_int_equal(rsp.tag, 0x1234);
	/* The requested length is granted as asked. */
	assert_int_equal(rsp.max_it_iu_len, it_iu_len);
	assert_int_equal(xs_get32(ev.private_data + 16), it_iu_len);
	assert_int_equal(rsp.max_ti_iu_len, XSD_SRPT_TI_IU_LEN);
	assert_int_equal(rsp.buf_fmt, 0x0006);
	raw_fini(&r);
}

static void test_login_accept_raw(void **state)
{
	struct fx *x = fx_new(8, 5000);

	accept_raw(x, "raw4", 512);
	accept_raw(x, "raw6", 64);       /* the smallest */
	accept_raw(x, "raw7", 8260);     /* Linux ib_srp's default request */
	accept_raw(x, "raw8", 8276);     /* the default maximum */
	assert_int_equal(tstats(x).login_rejects, 0);
	fx_free(x);
}

/* xsd_srpt_opts.max_it_iu_len bounds: 64..65536. */
static void test_max_iu_opts(void **state)
{
	struct fx *x = fx_new(8, 5000);
	struct xsd_srpt_opts so = { .size = sizeof(so), .service_id = UINT64_C(0x0013970053525099) };

	so.max_it_iu_len = 63;
	errno = 0;
	assert_null(xsd_srpt_new(x->tf, x->loop, x->t, &so));
	assert_int_equal(errno, EINVAL);
	so.max_it_iu_len = 65537;
	errno = 0;
	assert_null(xsd_srpt_new(x->tf, x->loop, x->t, &so));
	assert_int_equal(errno, EINVAL);
	fx_free(x);
}

static void test_rw_roundtrip(void **state)
{
	struct fx *x = fx_new(32, 5000);
	struct xsvhba_lun luns[4];
	size_t len = 3 * (1u << 20) + 8192; /* split in 4 commands */
	uint8_t *w = malloc(len), *rd = malloc(len);

	assert_int_equal(xsvhba_wait_ready(x->v, 5000), 0);
	assert_int_equal(xsvhba_get_luns(x->v, luns, 4), 2);
	assert_int_equal(luns[0].id, 0);
	assert_int_equal(luns[1].id, 1);
	assert_int_equal(luns[0].blocks, LUN_BYTES / 512);
	assert_int_equal(luns[0].block_size, 512);
	assert_int_equal(luns[0].max_xfer_bytes, 1u << 20);
	assert_string_equal(luns[0].vendor, "XSIGO");
	fill(w, len, 7);
	assert_int_equal(xsvhba_write(x->v, 1, w, 4096, len), 0);
	memset(rd, 0, len);
	assert_int_equal(xsvhba_read(x->v, 1, rd, 4096, len), 0);
	assert_memory_equal(w, rd, len);
	/* LUN 0 untouched at that place. */
	assert_int_equal(xsvhba_read(x->v, 0, rd, 4096, 65536), 0);
	for (size_t i = 0; i < 65536; i++)
		assert_int_equal(rd[i], 0);
	assert_int_equal(xsvhba_sync(x->v, 1), 0);
	/* Misaligned and unknown LUN. */
	assert_int_equal(xsvhba_read(x->v, 1, rd, 100, 512), -EINVAL);
	assert_int_equal(xsvhba_read(x->v, 9, rd, 0, 512), -ENXIO);
	free(w);
	free(rd);
	fx_free(x);
}

static void test_indirect(void **state)
{
	struct fx *x = fx_new(8, 5000);
	uint8_t a[1024], b[3072], c[512], ra[1024], rb[3072], rc[512];
	struct iovec wv[3] = { { a, sizeof(a) }, { b, sizeof(b) }, { c, sizeof(c) } };
	struct iovec rv[3] = { { rc, sizeof(rc) }, { ra, sizeof(ra) }, { rb, sizeof(rb) } };
	struct xsvhba_cmd cmd = { 0 };
	uint8_t all[4608], back[4608];

	assert_int_equal(xsvhba_wait_ready(x->v, 5000), 0);
	fill(a, sizeof(a), 1);
	fill(b, sizeof(b), 2);
	fill(c, sizeof(c), 3);
	cmd.lun = 0;
	cmd.cdb[0] = 0x8a;
	xs_put64(cmd.cdb + 2, 64);
	xs_put32(cmd.cdb + 10, 9);
	cmd.cdb_len = 16;
	cmd.dir = XSVHBA_DIR_WRITE;
	cmd.iov = wv;
	cmd.iovcnt = 3;
	assert_int_equal(xsvhba_scsi(x->v, &cmd), 0);
	assert_int_equal(cmd.status, 0);
	/* Read back contiguously and scattered differently. */
	memcpy(all, a, sizeof(a));
	memcpy(all + 1024, b, sizeof(b));
	memcpy(all + 4096, c, sizeof(c));
	assert_int_equal(xsvhba_read(x->v, 0, back, 64 * 512, sizeof(back)), 0);
	assert_memory_equal(all, back, sizeof(all));
	memset(&cmd, 0, sizeof(cmd));
	cmd.cdb[0] = 0x88;
	xs_put64(cmd.cdb + 2, 64);
	xs_put32(cmd.cdb + 10, 9);
	cmd.cdb_len = 16;
	cmd.dir = XSVHBA_DIR_READ;
	cmd.iov = rv;
	cmd.iovcnt = 3;
	assert_int_equal(xsvhba_scsi(x->v, &cmd), 0);
	assert_int_equal(cmd.status, 0);
	assert_memory_equal(rc, all, 512);
	assert_memory_equal(ra, all + 512, 1024);
	assert_memory_equal(rb, all + 1536, 3072);
	fx_free(x);
}

struct many {
	pthread_mutex_t m;
	pthread_cond_t c;
	int left;
	int errors;
};

static void many_done(void *arg, int err)
{
	struct many *mm = arg;

	pthread_mutex_lock(&mm->m);
	if (err)
		mm->errors++;
	mm->left--;
	pthread_cond_broadcast(&mm->c);
	pthread_mutex_unlock(&mm->m);
}

static void test_credits(void **state)
{
	struct fx *x = fx_new(64, 5000); /* queue depth above the target's 16 credits */
	struct many mm = { .left = 256 };
	uint8_t *buf = malloc(256 * 4096);
	uint8_t *back = malloc(256 * 4096);
	struct xsvhba_stats vs;

	pthread_mutex_init(&mm.m, NULL);
	pthread_cond_init(&mm.c, NULL);
	assert_int_equal(xsvhba_wait_ready(x->v, 5000), 0);
	fill(buf, 256 * 4096, 9);
	for (int i = 0; i < 256; i++)
		assert_int_equal(xsvhba_io_submit(x->v, 0, true, buf + i * 4096,
						  (uint64_t)((i * 37) % 256) * 4096 + (1u << 20),
						  4096, many_done, &mm), 0);
	pthread_mutex_lock(&mm.m);
	while (mm.left)
		pthread_cond_wait(&mm.c, &mm.m);
	pthread_mutex_unlock(&mm.m);
	assert_int_equal(mm.errors, 0);
	assert_int_equal(xsvhba_read(x->v, 0, back, 1u << 20, 256 * 4096), 0);
	for (int i = 0; i < 256; i++)
		assert_memory_equal(back + ((i * 37) % 256) * 4096, buf + i * 4096, 4096);
	/* 256 reads at once, each into its own buffer: the target answers each
	 * right behind its RDMA WRITE and reuses data buffers as the fabric
	 * lets go of them; every block must come back whole. */
	memset(back, 0, 256 * 4096);
	mm.left = 256;
	for (int i = 0; i < 256; i++)
		assert_int_equal(xsvhba_io_submit(x->v, 0, false, back + i * 4096,
						  (uint64_t)((i * 37) % 256) * 4096 + (1u << 20),
						  4096, many_done, &mm), 0);
	pthread_mutex_lock(&mm.m);
	while (mm.left)
		pthread_cond_wait(&mm.c, &mm.m);
	pthread_mutex_unlock(&mm.m);
	assert_int_equal(mm.errors, 0);
	assert_memory_equal(back, buf, 256 * 4096);
	/* The same with 1 MiB reads: the fabric's socket fills, so RDMA WRITEs
	 * are still reading the target's buffers after their SRP_RSP went out
	 * (a buffer handed to the next command too early shows up here). */
	{
		uint8_t *big = malloc(LUN_BYTES), *bigback = calloc(1, LUN_BYTES);

		fill(big, LUN_BYTES, 13);
		assert_int_equal(xsvhba_write(x->v, 1, big, 0, LUN_BYTES), 0);
		for (int round = 0; round < 3; round++) {
			memset(bigback, 0, LUN_BYTES);
			mm.left = 16;
			for (int i = 0; i < 16; i++)
				assert_int_equal(xsvhba_io_submit(x->v, 1, false,
								  bigback + ((i * 5) % 16) * (1u << 20),
								  (uint64_t)((i * 5) % 16) << 20, 1u << 20,
								  many_done, &mm), 0);
			pthread_mutex_lock(&mm.m);
			while (mm.left)
				pthread_cond_wait(&mm.c, &mm.m);
			pthread_mutex_unlock(&mm.m);
			assert_int_equal(mm.errors, 0);
			assert_memory_equal(bigback, big, LUN_BYTES);
		}
		free(big);
		free(bigback);
	}
	xsvhba_get_stats(x->v, &vs);
	/* Never more than the request limit at the target; one credit is kept
	 * for task management. */
	assert_true(tstats(x).peak_outstanding <= TGT_REQ_LIM);
	assert_true(vs.peak_outstanding <= TGT_REQ_LIM - 1);
	assert_true(vs.peak_outstanding >= 8);
	if (vs.credits != TGT_REQ_LIM)
		print_message("credits %u outstanding %u held %u\n", vs.credits, vs.outstanding, vs.held);
	assert_int_equal(vs.credits, TGT_REQ_LIM);
	free(buf);
	free(back);
	fx_free(x);
}

/* Raw channel helper: TEST UNIT READY until GOOD (clears POWER ON). */
static void raw_clear_ua(struct raw *r)
{
	uint8_t tur[16] = { 0 }, rsp[512];

	for (int i = 0; i < 4; i++) {
		assert_true(raw_cmd(r, 100 + (uint64_t)i, tur, false, NULL, rsp) >= 36);
		if (rsp[19] == 0)
			return;
	}
	fail_msg("unit attention did not clear");
}

static void test_out_of_range(void **state)
{
	struct fx *x = fx_new(8, 5000);
	struct raw r;
	struct xs_event ev;
	uint8_t cdb[16] = { 0x88 }, rsp[512], *buf = calloc(1, 4096), back[512];
	struct xs_mr *mr;
	struct xs_srp_desc d;
	int n;

	raw_init(&r, "raw5");
	raw_login(&r, x->tlid, 512, 0x0006, &ev);
	assert_int_equal(ev.type, XS_EV_ESTABLISHED);
	raw_clear_ua(&r);
	mr = xs_mr_reg(r.pd, buf, 4096, XS_ACCESS_LOCAL_WRITE | XS_ACCESS_REMOTE_WRITE);
	d = (struct xs_srp_desc){ .va = (uintptr_t)buf, .key = xs_mr_rkey(mr), .len = 4096 };
	xs_put64(cdb + 2, LUN_BYTES / 512 - 4); /* 8 blocks from 4 before the end */
	xs_put32(cdb + 10, 8);
	n = raw_cmd(&r, 0xabc, cdb, false, &d, rsp);
	/* SRP_RSP: type, delta 1, tag, SNSVALID, CHECK CONDITION, 18 bytes of
	 * fixed sense ILLEGAL REQUEST / LBA OUT OF RANGE (21/00). */
	assert_int_equal(n, 36 + 18);
	assert_int_equal(rsp[0], 0xc1);
	assert_int_equal(xs_get32(rsp + 4), 1);
	assert_int_equal(xs_get64(rsp + 8), 0xabc);
	assert_true(rsp[18] & XS_SRP_RSP_SNSVALID);
	assert_int_equal(rsp[19], 0x02);
	assert_int_equal(xs_get32(rsp + 28), 18);
	assert_int_equal(xs_get32(rsp + 32), 0);
	assert_int_equal(rsp[36], 0x70);
	assert_int_equal(rsp[36 + 2], 0x05);
	assert_int_equal(rsp[36 + 7], 10);
	assert_int_equal(rsp[36 + 12], 0x21);
	assert_int_equal(rsp[36 + 13], 0x00);
	xs_mr_dereg(mr);
	raw_fini(&r);
	/* The host sees EIO. */
	assert_int_equal(xsvhba_wait_ready(x->v, 5000), 0);
	assert_int_equal(xsvhba_read(x->v, 0, back, LUN_BYTES, 512), -EIO);
	assert_int_equal(xsvhba_read(x->v, 0, back, LUN_BYTES - 512, 512), 0);
	free(buf);
	fx_free(x);
}

/* A descriptor the initiator never registered (wrong rkey, or longer than
 * the registration): the fabric refuses the target's RDMA with
 * REM_ACCESS_ERR, the target drops that channel and keeps serving others. */
static void forged(struct fx *x, const char *port, bool write, bool bad_len, uint64_t want)
{
	struct raw r;
	struct xs_event ev;
	uint8_t cdb[16] = { write ? 0x8a : 0x88 }, rsp[512];
	uint8_t *buf = calloc(1, 8192), back[4096];
	struct xs_mr *mr;
	struct xs_srp_desc d;
	struct xsd_srpt_stats st;

	raw_init(&r, port);
	raw_login(&r, x->tlid, 512, 0x0006, &ev);
	assert_int_equal(ev.type, XS_EV_ESTABLISHED);
	raw_clear_ua(&r);
	mr = xs_mr_reg(r.pd, buf, 4096,
		       write ? XS_ACCESS_REMOTE_READ
			     : XS_ACCESS_LOCAL_WRITE | XS_ACCESS_REMOTE_WRITE);
	d = (struct xs_srp_desc){ .va = (uintptr_t)buf,
				  .key = bad_len ? xs_mr_rkey(mr) : xs_mr_rkey(mr) + 0x100,
				  .len = bad_len ? 8192 : 4096 };
	memset(buf, 0x5a, 8192);
	xs_put64(cdb + 2, 2048);
	xs_put32(cdb + 10, d.len / 512);
	/* No SRP_RSP comes: the channel goes down. */
	assert_int_equal(raw_cmd(&r, 0xdead, cdb, write, &d, rsp), -1);
	for (int i = 0; i < 100; i++) {
		st = tstats(x);
		if (st.rdma_errors == want && st.channels == 1)
			break;
		usleep(20000);
	}
	assert_int_equal(st.rdma_errors, want);
	assert_int_equal(st.channels, 1); /* the initiator's */
	if (!write)
		for (int i = 4096; i < 8192; i++)
			assert_int_equal(buf[i], 0x5a);
	xs_mr_dereg(mr);
	raw_fini(&r);
	/* Nothing was written to the LUN, and the other channel still works. */
	assert_int_equal(xsvhba_read(x->v, 0, back, 2048 * 512, sizeof(back)), 0);
	for (size_t i = 0; i < sizeof(back); i++)
		assert_int_equal(back[i], 0);
	free(buf);
}

static void test_forged_descriptor(void **state)
{
	struct fx *x = fx_new(8, 5000);

	assert_int_equal(xsvhba_wait_ready(x->v, 5000), 0);
	forged(x, "raw6", true, false, 1);  /* WRITE: RDMA READ with a wrong rkey */
	forged(x, "raw7", true, true, 2);   /* WRITE: longer than registered */
	forged(x, "raw8", false, false, 3); /* READ: RDMA WRITE with a wrong rkey */
	forged(x, "raw9", false, true, 4);  /* READ: RDMA WRITE past the registration */
	fx_free(x);
}

/* An indirect data-in buffer whose descriptor table stays in initiator
 * memory: the target fetches it with RDMA READ, checks it against the
 * command, and writes the data to the two buffers it names. A table whose
 * lengths do not add up to the command's total is refused (RSP_CODE 0x02). */
static void test_external_table(void **state)
{
	struct fx *x = fx_new(8, 5000);
	struct raw r;
	struct xs_event ev;
	uint8_t w[4096], *b1 = calloc(1, 1024), *b2 = calloc(1, 3072), table[32], iu[128];
	uint8_t rsp[512];
	struct xs_mr *m1, *m2, *mt;
	struct xs_srp_cmd c = { .tag = 0x51, .cdb_len = 16 };
	struct xs_srp_desc d;
	int n;

	assert_int_equal(xsvhba_wait_ready(x->v, 5000), 0);
	fill(w, sizeof(w), 11);
	assert_int_equal(xsvhba_write(x->v, 0, w, 8192, sizeof(w)), 0);
	raw_init(&r, "raw11");
	raw_login(&r, x->tlid, 512, 0x0006, &ev);
	assert_int_equal(ev.type, XS_EV_ESTABLISHED);
	raw_clear_ua(&r);
	m1 = xs_mr_reg(r.pd, b1, 1024, XS_ACCESS_LOCAL_WRITE | XS_ACCESS_REMOTE_WRITE);
	m2 = xs_mr_reg(r.pd, b2, 3072, XS_ACCESS_LOCAL_WRITE | XS_ACCESS_REMOTE_WRITE);
	mt = xs_mr_reg(r.pd, table, sizeof(table), XS_ACCESS_REMOTE_READ);
	d = (struct xs_srp_desc){ .va = (uintptr_t)b1, .key = xs_mr_rkey(m1), .len = 1024 };
	xs_srp_desc_put(table, &d);
	d = (struct xs_srp_desc){ .va = (uintptr_t)b2, .key = xs_mr_rkey(m2), .len = 3072 };
	xs_srp_desc_put(table + 16, &d);
	c.cdb[0] = 0x88;
	xs_put64(c.cdb + 2, 16);
	xs_put32(c.cdb + 10, 8);
	c.in.fmt = XS_SRP_FMT_INDIRECT;
	c.in.count = 0;
	c.in.external = true;
	c.in.table = (struct xs_srp_desc){ .va = (uintptr_t)table, .key = xs_mr_rkey(mt),
					   .len = sizeof(table) };
	c.in.total_len = 4096;
	n = xs_srp_cmd_encode(&c, iu, sizeof(iu));
	assert_true(n > 0);
	raw_send(&r, iu, (size_t)n);
	assert_int_equal(raw_recv(&r, rsp), 36);
	assert_int_equal(rsp[0], 0xc1);
	assert_int_equal(xs_get64(rsp + 8), 0x51);
	assert_int_equal(rsp[19], 0);
	assert_memory_equal(b1, w, 1024);
	assert_memory_equal(b2, w + 1024, 3072);
	/* The command claims 8192 bytes; the table holds 4096. */
	c.tag = 0x52;
	c.in.total_len = 8192;
	n = xs_srp_cmd_encode(&c, iu, sizeof(iu));
	raw_send(&r, iu, (size_t)n);
	assert_int_equal(raw_recv(&r, rsp), 40);
	assert_int_equal(xs_get64(rsp + 8), 0x52);
	assert_true(rsp[18] & XS_SRP_RSP_RSPVALID);
	assert_int_equal(xs_get32(rsp + 32), 4);
	assert_int_equal(rsp[36 + 3], XS_SRP_RSP_FIELDS_INVALID);
	xs_mr_dereg(m1);
	xs_mr_dereg(m2);
	xs_mr_dereg(mt);
	raw_fini(&r);
	free(b1);
	free(b2);
	fx_free(x);
}

static void test_credit_overrun(void **state)
{
	struct fx *x = fx_new(8, 5000);
	struct raw r;
	struct xs_event ev;
	uint8_t iu[64];
	struct xs_srp_cmd c = { .cdb_len = 16 };
	struct xsd_srpt_stats st;

	raw_init(&r, "raw10");
	raw_login(&r, x->tlid, 512, 0x0006, &ev);
	assert_int_equal(ev.type, XS_EV_ESTABLISHED);
	/* Send more requests than the request limit without waiting for
	 * responses. Either the target kept up (every one answered, never more
	 * than the limit busy) or it saw the overrun and dropped the channel. */
	for (int i = 0; i < TGT_REQ_LIM + 4; i++) {
		c.tag = (uint64_t)i;
		assert_int_equal(xs_srp_cmd_encode(&c, iu, sizeof(iu)), 48);
		raw_send(&r, iu, 48);
	}
	{
		uint8_t rsp[512];
		int got = 0;

		while (got < TGT_REQ_LIM + 4 && raw_recv(&r, rsp) > 0 && rsp[0] == 0xc1)
			got++;
		st = tstats(x);
		if (got < TGT_REQ_LIM + 4) {
			for (int i = 0; i < 100 && st.channels != 1; i++) {
				usleep(20000);
				st = tstats(x);
			}
			assert_int_equal(st.protocol_errors, 1);
			assert_int_equal(st.channels, 1);
		}
		print_message("credit overrun: %d of %d answered, %llu protocol errors\n", got,
			      TGT_REQ_LIM + 4, (unsigned long long)st.protocol_errors);
	}
	assert_true(st.peak_outstanding <= TGT_REQ_LIM);
	raw_fini(&r);
	fx_free(x);
}

static void test_task_mgmt(void **state)
{
	struct fx *x = fx_new(8, 5000);
	struct xsvhba_cmd c = { 0 };
	struct xsd_srpt_stats st;

	assert_int_equal(xsvhba_wait_ready(x->v, 5000), 0);
	/* ABORT TASK of a command that already ended: function complete. */
	assert_int_equal(xsvhba_task_mgmt(x->v, 0, XS_SRP_TSK_ABORT_TASK, 0x77), 0);
	assert_int_equal(xsvhba_task_mgmt(x->v, 0, XS_SRP_TSK_ABORT_TASK_SET, 0), 0);
	assert_int_equal(xsvhba_task_mgmt(x->v, 0, XS_SRP_TSK_CLEAR_TASK_SET, 0), 0);
	assert_int_equal(xsvhba_task_mgmt(x->v, 0, XS_SRP_TSK_CLEAR_ACA, 0),
			 XS_SRP_RSP_TSK_NOT_SUPPORTED);
	assert_int_equal(xsvhba_task_mgmt(x->v, 0, 0x20, 0), XS_SRP_RSP_TSK_NOT_SUPPORTED);
	/* LUN RESET leaves BUS DEVICE RESET FUNCTION OCCURRED (29/03). */
	assert_int_equal(xsvhba_task_mgmt(x->v, 0, XS_SRP_TSK_LUN_RESET, 0), 0);
	c.cdb_len = 6; /* TEST UNIT READY */
	assert_int_equal(xsvhba_scsi(x->v, &c), 0);
	assert_int_equal(c.status, 0x02);
	assert_int_equal(c.sense[2] & 0xf, 0x6);
	assert_int_equal(c.sense[12], 0x29);
	assert_int_equal(c.sense[13], 0x03);
	memset(&c, 0, sizeof(c));
	c.cdb_len = 6;
	assert_int_equal(xsvhba_scsi(x->v, &c), 0);
	assert_int_equal(c.status, 0);
	/* LUN RESET of a LUN that does not exist fails. */
	assert_int_equal(xsvhba_task_mgmt(x->v, UINT64_C(0x0009000000000000),
					  XS_SRP_TSK_LUN_RESET, 0), XS_SRP_RSP_TSK_FAILED);
	st = tstats(x);
	assert_int_equal(st.tsk_mgmt, 7);
	fx_free(x);
}

/* ABORT TASK of a command in flight. The raw port sends a WRITE whose
 * data-out the target must fetch with RDMA READ from us, and right behind
 * it the ABORT TASK, without polling in between (so our side of the RDMA
 * READ is served late). Aborted: no SRP_RSP for the write, the task
 * management response returns both credits (delta 2), the LUN is
 * untouched. If the write still won the race, its SRP_RSP comes first and
 * the abort returns one credit. Either way the credits add up. */
static void test_abort_in_flight(void **state)
{
	struct fx *x = fx_new(8, 5000);
	struct raw r;
	struct xs_event ev;
	uint8_t *buf = malloc(65536), rsp[512], iu[128], back[4096];
	struct xs_srp_cmd c = { .tag = 0x61, .cdb_len = 16 };
	struct xs_srp_tsk_mgmt tm = { .tag = 0x62, .func = XS_SRP_TSK_ABORT_TASK, .task_tag = 0x61 };
	struct xs_mr *mr;
	int n, aborted = 0, raced = 0;

	assert_int_equal(xsvhba_wait_ready(x->v, 5000), 0);
	raw_init(&r, "raw12");
	raw_login(&r, x->tlid, 512, 0x0006, &ev);
	assert_int_equal(ev.type, XS_EV_ESTABLISHED);
	memset(buf, 0x3c, 65536);
	mr = xs_mr_reg(r.pd, buf, 65536, XS_ACCESS_REMOTE_READ);
	for (int round = 0; round < 5; round++) {
		raw_clear_ua(&r);
		c.tag = 0x61 + (uint64_t)round * 2;
		tm.tag = c.tag + 1;
		tm.task_tag = c.tag;
		c.cdb[0] = 0x8a;
		xs_put64(c.cdb + 2, 4096 + (uint64_t)round * 128);
		xs_put32(c.cdb + 10, 128);
		c.out.fmt = XS_SRP_FMT_DIRECT;
		c.out.direct = (struct xs_srp_desc){ .va = (uintptr_t)buf, .key = xs_mr_rkey(mr),
						     .len = 65536 };
		c.out.total_len = 65536;
		n = xs_srp_cmd_encode(&c, iu, sizeof(iu));
		raw_send(&r, iu, (size_t)n);
		n = xs_srp_tsk_mgmt_encode(&tm, iu, sizeof(iu));
		raw_send(&r, iu, (size_t)n);
		usleep(5000);
		assert_true(raw_recv(&r, rsp) >= 36);
		if (xs_get64(rsp + 8) == tm.tag) {
			/* aborted: the write never answered, both credits back */
			assert_int_equal(xs_get32(rsp + 4), 2);
			assert_int_equal(rsp[36 + 3], XS_SRP_RSP_NO_FAILURE);
			aborted++;
			assert_int_equal(xsvhba_read(x->v, 0, back, (4096 + (uint64_t)round * 128) * 512,
						     sizeof(back)), 0);
			for (size_t i = 0; i < sizeof(back); i++)
				assert_int_equal(back[i], 0);
		} else {
			assert_int_equal(xs_get64(rsp + 8), c.tag);
			assert_int_equal(rsp[19], 0);
			assert_true(raw_recv(&r, rsp) >= 40);
			assert_int_equal(xs_get64(rsp + 8), tm.tag);
			assert_int_equal(xs_get32(rsp + 4), 1);
			raced++;
		}
	}
	print_message("abort in flight: %d aborted, %d completed first\n", aborted, raced);
	assert_int_equal(tstats(x).aborted, (uint64_t)aborted);
	xs_mr_dereg(mr);
	raw_fini(&r);
	free(buf);
	fx_free(x);
}

static void do_logout(struct fx *x, void *arg)
{
	*(int *)arg = xsvhba_logout(x->v);
}

static void test_logout(void **state)
{
	struct fx *x = fx_new(8, 5000);
	struct xsd_srpt_stats st;
	int rc = -1;

	assert_int_equal(xsvhba_wait_ready(x->v, 5000), 0);
	run_on_loop(x, do_logout, &rc);
	assert_int_equal(rc, 0);
	for (int i = 0; i < 100; i++) {
		st = tstats(x);
		if (st.logouts == 1 && st.channels == 0)
			break;
		usleep(20000);
	}
	assert_int_equal(st.logouts, 1);
	assert_int_equal(st.channels, 0);
	assert_false(xsvhba_connected(x->v));
	fx_free(x);
}

static void restart_target(struct fx *x, void *arg)
{
	if (x->srpt) {
		xsd_srpt_free(x->srpt); /* SRP_T_LOGOUT to the initiator */
		x->srpt = NULL;
	} else {
		x->srpt = new_srpt(x);
	}
}

struct rw_arg {
	struct fx *x;
	uint8_t *buf;
	int rc;
	uint64_t ms;
};

static void *reader(void *arg)
{
	struct rw_arg *a = arg;
	uint64_t t0 = xs_now_ms();

	a->rc = xsvhba_read(a->x->v, 0, a->buf, 0, 65536);
	a->ms = xs_now_ms() - t0;
	return NULL;
}

/* Target logout then target back within the link-down timeout: held I/O
 * completes; back too late: -EIO after the timeout. The timeout leaves room
 * for a loaded CI machine: the target is back 0.4 s after the reader starts,
 * and the -EIO bounds are the timeout less the time from link loss to the
 * reader's start, and the timeout plus scheduling slack. */
static void test_reconnect(void **state)
{
	struct fx *x = fx_new(8, 3000);
	uint8_t w[65536];
	struct rw_arg a = { .x = x, .buf = calloc(1, 65536) };
	pthread_t th;
	struct xsvhba_stats vs;

	assert_int_equal(xsvhba_wait_ready(x->v, 5000), 0);
	fill(w, sizeof(w), 5);
	assert_int_equal(xsvhba_write(x->v, 0, w, 0, sizeof(w)), 0);
	run_on_loop(x, restart_target, NULL); /* gone */
	for (int i = 0; i < 100 && xsvhba_connected(x->v); i++)
		usleep(10000);
	assert_false(xsvhba_connected(x->v));
	pthread_create(&th, NULL, reader, &a);
	usleep(400000);
	run_on_loop(x, restart_target, NULL); /* back */
	pthread_join(th, NULL);
	assert_int_equal(a.rc, 0);
	assert_memory_equal(a.buf, w, sizeof(w));
	xsvhba_get_stats(x->v, &vs);
	assert_true(vs.reconnects >= 1);
	/* Gone for longer than the timeout. */
	run_on_loop(x, restart_target, NULL);
	pthread_create(&th, NULL, reader, &a);
	pthread_join(th, NULL);
	assert_int_equal(a.rc, -EIO);
	assert_true(a.ms >= 2000 && a.ms < 8000);
	xsvhba_get_stats(x->v, &vs);
	assert_true(vs.timed_out >= 1);
	/* Fail fast while down; back to normal after the next login. */
	assert_int_equal(xsvhba_read(x->v, 0, a.buf, 0, 512), -EIO);
	run_on_loop(x, restart_target, NULL);
	for (int i = 0; i < 300 && !xsvhba_connected(x->v); i++)
		usleep(10000);
	assert_true(xsvhba_connected(x->v));
	assert_int_equal(xsvhba_read(x->v, 0, a.buf, 0, 65536), 0);
	assert_memory_equal(a.buf, w, sizeof(w));
	free(a.buf);
	fx_free(x);
}

static void add_lun2(struct fx *x, void *arg)
{
	*(int *)arg = xsd_scsi_target_add_lun(x->t, 2, ram_lun("ram2"));
	xsd_srpt_luns_changed(x->srpt);
}

static void mask_to_2(struct fx *x, void *arg)
{
	static const uint16_t ids[] = { 2 };

	*(int *)arg = xsd_srpt_set_mask(x->srpt, WWPN, ids, 1);
}

static void test_aer_and_mask(void **state)
{
	struct fx *x = fx_new(8, 5000);
	struct xsvhba_lun luns[4];
	struct xsvhba_stats vs;
	int rc = -1;

	assert_int_equal(xsvhba_wait_ready(x->v, 5000), 0);
	assert_int_equal(xsvhba_get_luns(x->v, luns, 4), 2);
	run_on_loop(x, add_lun2, &rc);
	assert_int_equal(rc, 0);
	for (int i = 0; i < 200 && xsvhba_get_luns(x->v, NULL, 0) != 3; i++)
		usleep(10000);
	assert_int_equal(xsvhba_get_luns(x->v, luns, 4), 3);
	assert_int_equal(luns[2].id, 2);
	xsvhba_get_stats(x->v, &vs);
	assert_true(vs.aers >= 1);
	run_on_loop(x, mask_to_2, &rc);
	assert_int_equal(rc, 0);
	for (int i = 0; i < 200 && xsvhba_get_luns(x->v, NULL, 0) != 1; i++)
		usleep(10000);
	assert_int_equal(xsvhba_get_luns(x->v, luns, 4), 1);
	assert_int_equal(luns[0].id, 2);
	fx_free(x);
}

struct chlist {
	struct xsd_srpt_channel c[4];
	int n;
	int n0;
};

static void list_channels(struct fx *x, void *arg)
{
	struct chlist *l = arg;

	l->n = xsd_srpt_list_channels(x->srpt, l->c, 4);
	l->n0 = xsd_srpt_list_channels(x->srpt, NULL, 0);
}

static void do_logout2(struct fx *x, void *arg)
{
	*(int *)arg = xsvhba_logout(x->v);
}

/* xsd_srpt_list_channels: who is logged in, since when, commands. */
static void test_list_channels(void **state)
{
	struct fx *x = fx_new(8, 5000);
	int64_t t0 = (int64_t)time(NULL);
	struct chlist l;
	uint64_t before;
	uint8_t buf[4096] = { 1, 2, 3 };
	struct raw r;
	struct xs_event ev;
	int rc = -1;

	assert_int_equal(xsvhba_wait_ready(x->v, 5000), 0);
	run_on_loop(x, list_channels, &l);
	assert_int_equal(l.n, 1);
	assert_true(l.c[0].wwpn == WWPN);
	assert_int_equal(xs_get64(l.c[0].initiator_port_id), 0);
	assert_true(xs_get64(l.c[0].initiator_port_id + 8) == WWPN);
	assert_true(l.c[0].login_time >= t0 && l.c[0].login_time <= (int64_t)time(NULL));
	assert_int_equal(l.c[0].it_iu_len, 1024);
	assert_int_equal(l.c[0].req_lim, TGT_REQ_LIM);
	assert_int_equal(l.c[0].outstanding, 0);
	assert_true(l.c[0].commands > 0); /* discovery */
	assert_true(l.c[0].completed == l.c[0].commands);
	before = l.c[0].commands;
	assert_int_equal(xsvhba_write(x->v, 1, buf, 0, sizeof(buf)), 0);
	run_on_loop(x, list_channels, &l);
	assert_int_equal(l.n, 1);
	assert_true(l.c[0].commands == before + 1);
	assert_true(l.c[0].completed == before + 1);

	/* A second initiator: listed first (newest), nothing done yet. */
	raw_init(&r, "rawl");
	raw_login(&r, x->tlid, 8260, 0x0006, &ev);
	assert_int_equal(ev.type, XS_EV_ESTABLISHED);
	run_on_loop(x, list_channels, &l);
	assert_int_equal(l.n, 2);
	assert_true(l.c[0].wwpn == UINT64_C(0x2100001397000099));
	assert_int_equal(l.c[0].it_iu_len, 8260);
	assert_true(l.c[0].commands == 0);
	assert_true(l.c[1].wwpn == WWPN);
	/* max 0: only the count. */
	assert_int_equal(l.n0, 2);

	/* The vHBA logs out: only the other one is left. */
	run_on_loop(x, do_logout2, &rc);
	assert_int_equal(rc, 0);
	for (int i = 0; i < 100; i++) {
		run_on_loop(x, list_channels, &l);
		if (l.n == 1)
			break;
		usleep(20000);
	}
	assert_int_equal(l.n, 1);
	assert_true(l.c[0].wwpn == UINT64_C(0x2100001397000099));
	raw_fini(&r);
	fx_free(x);
}

/* ------------------------------------------------ a fake target by hand */

#define FAKE_SID UINT64_C(0x00139700fa4e0001)

/* One RC connection of the fake target with its receive ring. */
struct fake_conn {
	struct xs_qp *qp;
	uint8_t ring[16 * 512];
	struct xs_mr *ring_mr;
};

struct fake {
	struct xs_fabric *f;
	struct xs_pd *pd;
	struct xs_cq *cq;
	struct xs_cm_listener *l;
	uint8_t sink[65536];     /* where the fake target's RDMA READs land */
	struct xs_mr *sink_mr;
};

static void fake_conn_init(struct fake *k, struct fake_conn *c)
{
	struct xs_qp_attr a = { .pd = k->pd, .send_cq = k->cq, .recv_cq = k->cq,
				.max_inline = 256 };

	c->qp = xs_qp_create(k->f, &a);
	assert_non_null(c->qp);
	c->ring_mr = xs_mr_reg(k->pd, c->ring, sizeof(c->ring), XS_ACCESS_LOCAL_WRITE);
	assert_non_null(c->ring_mr);
	for (int i = 0; i < 16; i++) {
		struct xs_sge sge = { .addr = (uintptr_t)(c->ring + i * 512), .length = 512,
				      .lkey = xs_mr_lkey(c->ring_mr) };
		struct xs_recv_wr wr = { .wr_id = (uint64_t)i, .sg_list = &sge, .num_sge = 1 };

		assert_int_equal(xs_qp_post_recv(c->qp, &wr), 0);
	}
}

static void fake_conn_fini(struct fake_conn *c)
{
	xs_qp_destroy(c->qp);
	xs_mr_dereg(c->ring_mr);
}

static void fake_accept_ti(struct fake *k, struct fake_conn *c, uint32_t max_ti,
			   uint32_t *req_it);

/* Wait for the initiator's login and accept it with 8 credits. */
static void fake_accept(struct fake *k, struct fake_conn *c)
{
	fake_accept_ti(k, c, 256, NULL);
}

/* The same with the given max TI IU length (0: the requested IT IU length
 * answered back, as LIO ib_srpt does); the request's IT IU length in *req_it. */
static void fake_accept_ti(struct fake *k, struct fake_conn *c, uint32_t max_ti,
			   uint32_t *req_it)
{
	struct xs_event ev;
	struct xs_cm_req_info info;
	struct xs_srp_login_req lr;
	struct xs_srp_login_rsp rsp = { .req_lim_delta = 8, .max_ti_iu_len = 256,
					.buf_fmt = XS_SRP_BUF_FMT_DIRECT | XS_SRP_BUF_FMT_INDIRECT };
	uint8_t buf[XS_SRP_LOGIN_RSP_LEN];

	do
		assert_int_equal(xs_fabric_wait_event(k->f, &ev, 5000), 0);
	while (ev.type != XS_EV_CONNECT_REQUEST);
	assert_int_equal(xs_cm_req_info(ev.req, &info), 0);
	assert_int_equal(xs_srp_login_req_decode(info.private_data, info.private_len, &lr), 0);
	rsp.tag = lr.tag;
	rsp.max_it_iu_len = lr.req_it_iu_len;
	rsp.max_ti_iu_len = max_ti ? max_ti : lr.req_it_iu_len;
	if (req_it)
		*req_it = lr.req_it_iu_len;
	assert_int_equal(xs_srp_login_rsp_encode(&rsp, buf, sizeof(buf)), XS_SRP_LOGIN_RSP_LEN);
	fake_conn_init(k, c);
	assert_int_equal(xs_qp_accept(c->qp, ev.req, buf, sizeof(buf)), 0);
}

/* The next completion of @qp (others are dropped: an earlier connection's
 * flushes); 0 when none came within @ms. */
static int fake_wc(struct fake *k, struct xs_qp *qp, struct xs_wc *wc, int ms)
{
	uint64_t deadline = xs_now_ms() + (uint64_t)ms;

	for (;;) {
		struct pollfd p = { .fd = xs_cq_fd(k->cq), .events = POLLIN };
		uint64_t now;

		while (xs_cq_poll(k->cq, wc, 1) == 1)
			if (wc->qp == qp)
				return 1;
		now = xs_now_ms();
		if (now >= deadline)
			return 0;
		poll(&p, 1, (int)(deadline - now));
	}
}

/* The next SRP_CMD whose CDB starts with @op (discovery commands the
 * initiator's scanner sends are left unanswered: they keep a credit each). */
static void fake_wait_cmd(struct fake *k, struct fake_conn *c, uint8_t op, struct xs_srp_cmd *cmd)
{
	struct xs_wc wc;

	for (;;) {
		assert_int_equal(fake_wc(k, c->qp, &wc, 5000), 1);
		assert_int_equal(wc.status, XS_WC_SUCCESS);
		if (wc.opcode != XS_WC_RECV)
			continue;
		assert_int_equal(xs_srp_cmd_decode(c->ring + wc.wr_id * 512, wc.byte_len, cmd), 0);
		if (cmd->cdb[0] == op)
			return;
	}
}

/* RDMA READ of the whole direct data-out descriptor into the sink. */
static void fake_read(struct fake *k, struct fake_conn *c, const struct xs_srp_desc *d,
		      struct xs_wc *wc)
{
	struct xs_sge sge = { .addr = (uintptr_t)k->sink, .length = d->len,
			      .lkey = xs_mr_lkey(k->sink_mr) };
	struct xs_send_wr wr = { .wr_id = 77, .opcode = XS_WR_RDMA_READ, .sg_list = &sge,
				 .num_sge = 1, .flags = XS_SEND_SIGNALED, .remote_addr = d->va,
				 .rkey = d->key };

	memset(k->sink, 0, sizeof(k->sink));
	assert_int_equal(xs_qp_post_send(c->qp, &wr), 0);
	do
		assert_int_equal(fake_wc(k, c->qp, wc, 5000), 1);
	while (wc->opcode == XS_WC_RECV);
}

static void cmd_flag_done(struct xsvhba_cmd *cmd)
{
	__atomic_store_n((int *)cmd->arg, 1, __ATOMIC_RELEASE);
}

/*
 * SRP_T_LOGOUT while the target still has to fetch a write's data-out. The
 * initiator holds the command for a re-drive and must close the connection
 * before it lets go of the command's registration: an RDMA READ the old
 * connection's target posts afterwards is flushed with the connection, never
 * answered with a remote access error (memory deregistered under a live
 * connection, as the 1 MiB write bench once hit). After the reconnect the
 * write is sent again and its data read back whole.
 */
static void test_logout_quiesce(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	struct xsvhba_opts vo = { .size = sizeof(vo), .service_id = FAKE_SID, .queue_depth = 4,
				  .link_down_ms = 10000, .own_fabric_events = true };
	struct fake k = { 0 };
	struct fake_conn c1, c2;
	struct xsvhba_cmd cmd = { .cdb_len = 16, .dir = XSVHBA_DIR_WRITE, .iovcnt = 1,
				  .done = cmd_flag_done };
	struct xs_srp_t_logout lo = { .reason = XS_SRP_TLO_NO_REASON };
	struct xs_srp_rsp good = { .req_lim_delta = 1 };
	struct xs_srp_cmd sc;
	uint8_t *data = malloc(65536), iu[64];
	struct iovec iov = { .iov_base = data, .iov_len = 65536 };
	struct xs_sge sge = { .addr = (uintptr_t)iu };
	struct xs_send_wr wr = { .wr_id = 5, .opcode = XS_WR_SEND, .sg_list = &sge, .num_sge = 1,
				 .flags = XS_SEND_INLINE };
	struct xs_wc wc;
	int done = 0, n;

	k.f = open_port("fake-tgt");
	assert_non_null(k.f);
	k.pd = xs_pd_alloc(k.f);
	k.cq = xs_cq_create(k.f, 256);
	k.l = xs_cm_listen(k.f, FAKE_SID);
	k.sink_mr = xs_mr_reg(k.pd, k.sink, sizeof(k.sink), XS_ACCESS_LOCAL_WRITE);
	assert_non_null(k.cq);
	assert_non_null(k.l);
	assert_non_null(k.sink_mr);

	pthread_mutex_init(&x->m, NULL);
	pthread_cond_init(&x->c, NULL);
	x->loop = xs_loop_new();
	assert_int_equal(xs_loop_set_wake(x->loop, on_wake, x), 0);
	x->hf = open_port("fake-host");
	assert_non_null(x->hf);
	vo.dest.lid = port_lid(k.f);
	vo.wwpn = WWPN;
	x->v = xsvhba_new(x->hf, x->loop, &vo);
	assert_non_null(x->v);
	assert_int_equal(xsvhba_start(x->v), 0);
	assert_int_equal(pthread_create(&x->thread, NULL, loop_main, x), 0);

	fake_accept(&k, &c1);
	fill(data, 65536, 31);
	cmd.cdb[0] = 0x8a;
	xs_put64(cmd.cdb + 2, 64);
	xs_put32(cmd.cdb + 10, 128);
	cmd.iov = &iov;
	cmd.arg = &done;
	assert_int_equal(xsvhba_submit(x->v, &cmd), 0);
	fake_wait_cmd(&k, &c1, 0x8a, &sc);
	assert_int_equal(sc.out.fmt, XS_SRP_FMT_DIRECT);
	assert_int_equal(sc.out.direct.len, 65536);
	/* While the command is live its data-out can be fetched. */
	fake_read(&k, &c1, &sc.out.direct, &wc);
	assert_int_equal(wc.status, XS_WC_SUCCESS);
	assert_memory_equal(k.sink, data, 65536);

	/* Log the initiator out; once it has seen that, fetch again. */
	n = xs_srp_t_logout_encode(&lo, iu, sizeof(iu));
	assert_true(n > 0);
	sge.length = (uint32_t)n;
	assert_int_equal(xs_qp_post_send(c1.qp, &wr), 0);
	for (int i = 0; i < 300 && xsvhba_connected(x->v); i++)
		usleep(10000);
	assert_false(xsvhba_connected(x->v));
	fake_read(&k, &c1, &sc.out.direct, &wc);
	assert_int_not_equal(wc.status, XS_WC_REM_ACCESS_ERR);
	assert_int_equal(wc.status, XS_WC_WR_FLUSH_ERR);
	assert_int_equal(__atomic_load_n(&done, __ATOMIC_ACQUIRE), 0); /* held, not failed */

	/* The initiator comes back and sends the write again. */
	fake_accept(&k, &c2);
	fake_wait_cmd(&k, &c2, 0x8a, &sc);
	fake_read(&k, &c2, &sc.out.direct, &wc);
	assert_int_equal(wc.status, XS_WC_SUCCESS);
	assert_memory_equal(k.sink, data, 65536);
	good.tag = sc.tag;
	n = xs_srp_rsp_encode(&good, iu, sizeof(iu));
	assert_true(n > 0);
	sge.length = (uint32_t)n;
	assert_int_equal(xs_qp_post_send(c2.qp, &wr), 0);
	for (int i = 0; i < 300 && !__atomic_load_n(&done, __ATOMIC_ACQUIRE); i++)
		usleep(10000);
	assert_int_equal(done, 1);
	assert_int_equal(cmd.result, 0);
	assert_int_equal(cmd.status, 0);

	pthread_mutex_lock(&x->m);
	x->stop = true;
	pthread_mutex_unlock(&x->m);
	xs_loop_wake(x->loop);
	pthread_join(x->thread, NULL);
	xsvhba_free(x->v);
	fake_conn_fini(&c1);
	fake_conn_fini(&c2);
	xs_mr_dereg(k.sink_mr);
	xs_cm_listener_close(k.l);
	xs_cq_destroy(k.cq);
	xs_pd_free(k.pd);
	xs_fabric_close(k.f);
	xs_fabric_close(x->hf);
	xs_loop_free(x->loop);
	free(x);
	free(data);
}

/*
 * The initiator's receive buffers start at its requested IT IU length (1024
 * by default). A target answering that back as its max TI IU length (LIO
 * ib_srpt) is fine as it is. One announcing 1025 gets a new login after the
 * initiator has grown its buffers, and a 1025-byte IU then arrives whole.
 * One announcing 65537 is refused: the initiator hangs up, stays logged out
 * and xsvhba_wait_ready() says -EMSGSIZE. It tries again later and logs in
 * once the answer fits.
 */
static void test_ti_iu_len(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	struct xsvhba_opts vo = { .size = sizeof(vo), .service_id = FAKE_SID, .queue_depth = 4,
				  .link_down_ms = 10000, .own_fabric_events = true };
	struct fake k = { 0 };
	struct fake_conn c1, c2, c3, c4, c5;
	struct xs_srp_t_logout lo = { .reason = XS_SRP_TLO_NO_REASON };
	uint8_t iu[64];
	struct xs_sge sge = { .addr = (uintptr_t)iu };
	struct xs_send_wr wr = { .wr_id = 5, .opcode = XS_WR_SEND, .sg_list = &sge, .num_sge = 1,
				 .flags = XS_SEND_INLINE };
	struct xs_event ev;
	struct xs_wc wc;
	uint32_t req_it = 0;
	int n;

	k.f = open_port("fake-tgt2");
	assert_non_null(k.f);
	k.pd = xs_pd_alloc(k.f);
	k.cq = xs_cq_create(k.f, 256);
	k.l = xs_cm_listen(k.f, FAKE_SID);
	k.sink_mr = xs_mr_reg(k.pd, k.sink, sizeof(k.sink), XS_ACCESS_LOCAL_WRITE);
	assert_non_null(k.cq);
	assert_non_null(k.l);
	assert_non_null(k.sink_mr);
	pthread_mutex_init(&x->m, NULL);
	pthread_cond_init(&x->c, NULL);
	x->loop = xs_loop_new();
	assert_int_equal(xs_loop_set_wake(x->loop, on_wake, x), 0);
	x->hf = open_port("fake-host2");
	assert_non_null(x->hf);
	vo.dest.lid = port_lid(k.f);
	vo.wwpn = WWPN;
	x->v = xsvhba_new(x->hf, x->loop, &vo);
	assert_non_null(x->v);
	assert_int_equal(xsvhba_start(x->v), 0);
	assert_int_equal(pthread_create(&x->thread, NULL, loop_main, x), 0);

	/* LIO's answer: max TI IU = the requested 1024. */
	fake_accept_ti(&k, &c1, 0, &req_it);
	assert_int_equal(req_it, 1024);
	for (int i = 0; i < 300 && !xsvhba_connected(x->v); i++)
		usleep(10000);
	assert_true(xsvhba_connected(x->v));

	/* Log it out; the next login is answered with 1025. */
	n = xs_srp_t_logout_encode(&lo, iu, sizeof(iu));
	assert_true(n > 0);
	sge.length = (uint32_t)n;
	assert_int_equal(xs_qp_post_send(c1.qp, &wr), 0);
	fake_accept_ti(&k, &c2, 1025, &req_it);
	assert_int_equal(req_it, 1024);
	/* The initiator hangs up and comes back with 1025-byte buffers. */
	do
		assert_int_equal(xs_fabric_wait_event(k.f, &ev, 5000), 0);
	while (ev.type != XS_EV_DISCONNECTED || ev.qp != c2.qp);
	fake_accept_ti(&k, &c3, 1025, &req_it);
	assert_int_equal(req_it, 1024);
	for (int i = 0; i < 300 && !xsvhba_connected(x->v); i++)
		usleep(10000);
	assert_true(xsvhba_connected(x->v));
	/* A 1025-byte IU (an SRP_T_LOGOUT with padding) is received whole:
	 * the send completes without error and the initiator acts on it. */
	memset(k.sink, 0, 1025);
	assert_true(xs_srp_t_logout_encode(&lo, k.sink, 1025) > 0);
	{
		struct xs_sge big = { .addr = (uintptr_t)k.sink, .length = 1025,
				      .lkey = xs_mr_lkey(k.sink_mr) };
		struct xs_send_wr bw = { .wr_id = 6, .opcode = XS_WR_SEND, .sg_list = &big,
					 .num_sge = 1, .flags = XS_SEND_SIGNALED };

		assert_int_equal(xs_qp_post_send(c3.qp, &bw), 0);
		do
			assert_int_equal(fake_wc(&k, c3.qp, &wc, 5000), 1);
		while (wc.opcode == XS_WC_RECV);
		assert_int_equal(wc.status, XS_WC_SUCCESS);
		assert_int_equal(wc.wr_id, 6);
	}
	for (int i = 0; i < 300 && xsvhba_connected(x->v); i++)
		usleep(10000);
	assert_false(xsvhba_connected(x->v));

	/* 65537: more than the initiator receives, refused. */
	fake_accept_ti(&k, &c4, 65537, &req_it);
	do
		assert_int_equal(xs_fabric_wait_event(k.f, &ev, 5000), 0);
	while (ev.type != XS_EV_DISCONNECTED || ev.qp != c4.qp);
	assert_false(xsvhba_connected(x->v));
	assert_int_equal(xsvhba_wait_ready(x->v, 200), -EMSGSIZE);

	/* Its next attempt gets an answer that fits. */
	fake_accept_ti(&k, &c5, 512, &req_it);
	for (int i = 0; i < 300 && !xsvhba_connected(x->v); i++)
		usleep(10000);
	assert_true(xsvhba_connected(x->v));

	pthread_mutex_lock(&x->m);
	x->stop = true;
	pthread_mutex_unlock(&x->m);
	xs_loop_wake(x->loop);
	pthread_join(x->thread, NULL);
	xsvhba_free(x->v);
	fake_conn_fini(&c1);
	fake_conn_fini(&c2);
	fake_conn_fini(&c3);
	fake_conn_fini(&c4);
	fake_conn_fini(&c5);
	xs_mr_dereg(k.sink_mr);
	xs_cm_listener_close(k.l);
	xs_cq_destroy(k.cq);
	xs_pd_free(k.pd);
	xs_fabric_close(k.f);
	xs_fabric_close(x->hf);
	xs_loop_free(x->loop);
	free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_login_reject),
		cmocka_unit_test(test_login_accept_raw),
		cmocka_unit_test(test_max_iu_opts),
		cmocka_unit_test(test_list_channels),
		cmocka_unit_test(test_ti_iu_len),
		cmocka_unit_test(test_rw_roundtrip),
		cmocka_unit_test(test_indirect),
		cmocka_unit_test(test_credits),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_forged_descriptor),
		cmocka_unit_test(test_external_table),
		cmocka_unit_test(test_credit_overrun),
		cmocka_unit_test(test_task_mgmt),
		cmocka_unit_test(test_abort_in_flight),
		cmocka_unit_test(test_logout),
		cmocka_unit_test(test_reconnect),
		cmocka_unit_test(test_aer_and_mask),
		cmocka_unit_test(test_logout_quiesce),
	};

	signal(SIGPIPE, SIG_IGN);
	if (getenv("XS_TEST_VERBOSE"))
		xs_log_open("test_srpt", XS_LOG_STDERR, XS_LOG_DEBUG);
	else
		xs_log_open("test_srpt", XS_LOG_STDERR, XS_LOG_ERR);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
