/* SPDX-License-Identifier: MIT */
/*
 * The host agent's vHBA module (xsvhba/module.c, included here) driven
 * through its ULP callbacks, with the host library faked (the ULP
 * registration, the loop, OPER_UP/OPER_DOWN sends) and two real SRP
 * targets (director/srpt on RAM LUNs) listening on one port of a private
 * xs-fabricd under two service IDs = their WWPNs, as the director's I/O
 * port does. The LUNs are real FUSE files under a private mount root; the
 * test reads and writes them from its own threads.
 *
 *  - INSTALL: an initiator per target logs in to service ID = target WWPN
 *    with the vHBA's WWPN; <root>/<vhba>/<target>/lun<N> appear, sized to
 *    the LUNs; data written through one file (unaligned: read-modify-write;
 *    aligned 1 MiB: from the request buffer) is read back; OPER_UP sent;
 *  - a write past the end: EIO on the file, the target's ILLEGAL REQUEST
 *    counted as an initiator error; `xsctl`'s status numbers follow;
 *  - UPDATE queue depth while a writer runs: the initiator is replaced
 *    after its I/O drained, no request fails;
 *  - execution throttle 1 with three writers: one request at the initiator
 *    at a time, the others queued in the module, no error;
 *  - UPDATE adding and removing a target: mounted / unmounted;
 *  - UPDATE admin down: OPER_DOWN, I/O fails with EIO, files stay; up again:
 *    I/O works;
 *  - a LUN hot-added and removed on the target: the file comes and goes;
 *  - the target gone and back within the link-down timeout during writes:
 *    no error;
 *  - DELETE: nothing left mounted, directories removed.
 * Needs root and /dev/fuse (FUSE mounts). Every access to the files is made
 * by a child process: this process serves them, and a client thread of the
 * server's own process would hang in the kernel for good if the server died.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../../xsvhba/module.c"

#include "srpt/srpt.h"

#define LUN_BYTES (8u << 20)
#define VH_WWPN UINT64_C(0x2100001397000077)
#define T1_WWPN UINT64_C(0x2000001397000101)
#define T2_WWPN UINT64_C(0x2000001397000202)
#define RID UINT64_C(0x00000000000000a1)

/* ------------------------------------------------------- the fake host */

static struct xs_loop *g_loop;
static const struct xs_ulp_ops *g_ops;
static void *g_ctx;
static uint8_t g_sent[64];
static unsigned int g_n_sent;
static pthread_mutex_t g_sent_lock = PTHREAD_MUTEX_INITIALIZER;

struct xs_loop *xs_host_loop(struct xs_host *h)
{
	(void)h;
	return g_loop;
}

void xs_host_port_attr(struct xs_host *h, struct xs_port_attr *attr)
{
	(void)h;
	memset(attr, 0, sizeof(*attr));
	snprintf(attr->port_name, sizeof(attr->port_name), "modhost");
}

int xs_host_register_ulp(struct xs_host *h, const struct xs_ulp_ops *ops, void *ctx)
{
	(void)h;
	g_ops = ops;
	g_ctx = ctx;
	return 0;
}

const char *xs_host_ulp_name(const struct xs_host *h, uint8_t xsmp_type)
{
	(void)h;
	return g_ops && g_ops->xsmp_type == xsmp_type ? g_ops->name : NULL;
}

int xs_ulp_send(struct xs_ulp_dev *dev, uint8_t code)
{
	(void)dev;
	pthread_mutex_lock(&g_sent_lock);
	if (g_n_sent < sizeof(g_sent))
		g_sent[g_n_sent++] = code;
	pthread_mutex_unlock(&g_sent_lock);
	return 0;
}

static uint8_t last_sent(void)
{
	uint8_t c;

	pthread_mutex_lock(&g_sent_lock);
	c = g_n_sent ? g_sent[g_n_sent - 1] : 0;
	pthread_mutex_unlock(&g_sent_lock);
	return c;
}

/* --------------------------------------------------------- environment */

/* Results of children, in memory shared with them. */
struct shared {
	long long v;
	int err;
	volatile unsigned int rounds;
	volatile unsigned int errors;
	volatile int stop;
};
static struct shared *SH;

static char tmpdir[64], sock_path[100], spec[160], root[128];
static pid_t fabricd_pid = -1;

struct env {
	struct xs_fabric *tf;            /* the director's I/O port */
	struct xsd_scsi_target *t1, *t2;
	struct xsd_srpt *s1, *s2;
	struct xsvhba_mod *m;
	struct xs_ulp_dev dev;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	void (*fn)(struct env *, void *);
	void *fn_arg;
	bool fn_done, stop;
};

static struct env E;

static pid_t start_fabricd(void)
{
	char log[160];
	pid_t pid;

	snprintf(log, sizeof(log), "%s/fabricd.log", tmpdir);
	pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd >= 0) {
			dup2(fd, 2);
			close(fd);
		}
		execl(XS_FABRICD_PATH, "xs-fabricd", "-f", "-s", sock_path, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
		int ok;

		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
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

static void on_wake(struct xs_loop *loop, void *arg)
{
	struct env *e = arg;

	pthread_mutex_lock(&e->lock);
	if (e->fn) {
		e->fn(e, e->fn_arg);
		e->fn = NULL;
		e->fn_done = true;
		pthread_cond_broadcast(&e->cond);
	}
	if (e->stop)
		xs_loop_stop(loop);
	pthread_mutex_unlock(&e->lock);
}

/* Run fn on the loop thread and wait for it (the ULP callbacks run there). */
static void on_loop(void (*fn)(struct env *, void *), void *arg)
{
	pthread_mutex_lock(&E.lock);
	E.fn = fn;
	E.fn_arg = arg;
	E.fn_done = false;
	pthread_mutex_unlock(&E.lock);
	xs_loop_wake(g_loop);
	pthread_mutex_lock(&E.lock);
	while (!E.fn_done)
		pthread_cond_wait(&E.cond, &E.lock);
	pthread_mutex_unlock(&E.lock);
}

static void *loop_main(void *arg)
{
	(void)arg;
	xs_loop_run(g_loop);
	return NULL;
}

/* Both targets share the port: events go to whichever owns the QP. */
static void tgt_events(struct xs_loop *loop, int fd, unsigned int events, void *arg)
{
	struct xs_event ev;

	(void)loop, (void)fd, (void)events, (void)arg;
	while (xs_fabric_get_event(E.tf, &ev) == 0)
		if ((!E.s1 || xsd_srpt_handle_event(E.s1, &ev) == 0) && E.s2)
			xsd_srpt_handle_event(E.s2, &ev);
}

static struct xsd_scsi_lun *ram_lun(const char *serial, uint64_t bytes)
{
	struct xsd_scsi_lun_opts lo = { .size = sizeof(lo), .serial = serial };

	return xsd_scsi_lun_new(xsd_scsi_ram_new(bytes), &lo);
}

static struct xsd_srpt *new_srpt(struct xsd_scsi_target *t, uint64_t sid)
{
	struct xsd_srpt_opts so = { .size = sizeof(so), .service_id = sid, .req_lim = 32,
				    .default_visible = true };

	return xsd_srpt_new(E.tf, g_loop, t, &so);
}

static int group_setup(void **state)
{
	struct xs_fabric_opts fo = { .size = sizeof(fo), .port_name = "director-io",
				     .attach_timeout_ms = 2000 };
	struct xs_port_attr pa;

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/xs-vhbamod-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(sock_path, sizeof(sock_path), "%s/fabric.sock", tmpdir);
	snprintf(spec, sizeof(spec), "soft:%s", sock_path);
	snprintf(root, sizeof(root), "%s/vhba", tmpdir);
	SH = mmap(NULL, sizeof(*SH), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (SH == MAP_FAILED)
		return -1;
	fabricd_pid = start_fabricd();
	if (fabricd_pid < 0)
		return -1;
	xs_log_open("test_module", XS_LOG_STDERR, XS_LOG_WARN);
	pthread_mutex_init(&E.lock, NULL);
	pthread_cond_init(&E.cond, NULL);
	g_loop = xs_loop_new();
	if (!g_loop || xs_loop_set_wake(g_loop, on_wake, &E) < 0)
		return -1;
	E.tf = xs_fabric_open(spec, &fo);
	if (!E.tf || xs_fabric_query_port(E.tf, &pa) < 0)
		return -1;
	E.t1 = xsd_scsi_target_new();
	E.t2 = xsd_scsi_target_new();
	if (!E.t1 || !E.t2 ||
	    xsd_scsi_target_add_lun(E.t1, 0, ram_lun("t1-lun0", LUN_BYTES)) < 0 ||
	    xsd_scsi_target_add_lun(E.t1, 3, ram_lun("t1-lun3", LUN_BYTES / 2)) < 0 ||
	    xsd_scsi_target_add_lun(E.t2, 0, ram_lun("t2-lun0", LUN_BYTES / 4)) < 0)
		return -1;
	E.s1 = new_srpt(E.t1, T1_WWPN);
	E.s2 = new_srpt(E.t2, T2_WWPN);
	if (!E.s1 || !E.s2 ||
	    xs_loop_add_fd(g_loop, xs_fabric_event_fd(E.tf), XS_IO_IN, tgt_events, NULL) < 0)
		return -1;
	{
		struct xsvhba_mod_opts mo = { .size = sizeof(mo), .fabric_spec = spec,
					      .mount_root = root, .fs_threads = 2, .tick_ms = 50 };

		E.m = xsvhba_mod_new((struct xs_host *)&E, &mo);
	}
	if (!E.m || !g_ops || strcmp(g_ops->name, "xsvhba"))
		return -1;
	/* the device as the host library would hold it */
	E.dev.resource_id = RID;
	E.dev.xsmp_type = XS_XSMP_VHBA;
	snprintf(E.dev.name, sizeof(E.dev.name), "vh0");
	E.dev.host = (struct xs_host *)&E;
	E.dev.cfg.vhba.resource_id = RID;
	snprintf(E.dev.cfg.vhba.name, sizeof(E.dev.cfg.vhba.name), "vh0");
	E.dev.cfg.vhba.wwpn = VH_WWPN;
	E.dev.cfg.vhba.tca_lid = pa.lid;
	E.dev.cfg.vhba.tca_guid = pa.port_guid;
	E.dev.cfg.vhba.queue_depth = 8;
	E.dev.cfg.vhba.link_down_timeout = 10;
	E.dev.cfg.vhba.admin_state = XS_ADMIN_UP;
	E.dev.cfg.vhba.target_count = 1;
	snprintf(E.dev.cfg.vhba.targets[0], sizeof(E.dev.cfg.vhba.targets[0]), "t1");
	E.dev.cfg.vhba.target_wwpn[0] = T1_WWPN;
	return pthread_create(&E.thread, NULL, loop_main, NULL) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
	char cmd[128];
	int st = 0;

	(void)state;
	pthread_mutex_lock(&E.lock);
	E.stop = true;
	pthread_mutex_unlock(&E.lock);
	xs_loop_wake(g_loop);
	pthread_join(E.thread, NULL);
	xsvhba_mod_free(E.m);
	xs_loop_del_fd(g_loop, xs_fabric_event_fd(E.tf));
	if (E.s1)
		xsd_srpt_free(E.s1);
	xsd_srpt_free(E.s2);
	xsd_scsi_target_free(E.t1);
	xsd_scsi_target_free(E.t2);
	xs_fabric_close(E.tf);
	xs_loop_free(g_loop);
	kill(fabricd_pid, SIGTERM);
	waitpid(fabricd_pid, &st, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ----------------------------------------------------------- helpers */

struct call {
	int rc;
	union xs_ulp_config old;
	struct xs_ulp_result res;
};

static void do_install(struct env *e, void *arg)
{
	struct call *c = arg;

	c->rc = g_ops->install(g_ctx, &e->dev, &c->res);
}

static void do_update(struct env *e, void *arg)
{
	struct call *c = arg;

	c->rc = g_ops->update(g_ctx, &e->dev, &c->old, 0xffffffffu, &c->res);
}

static void do_remove(struct env *e, void *arg)
{
	(void)arg;
	g_ops->remove(g_ctx, &e->dev, XS_ULP_REMOVE_DELETE);
}

/* Apply a configuration change as the host library does: the device holds
 * the new configuration, the module gets the old one. */
static int update(void (*change)(struct xs_vhba_msg *))
{
	struct call c = { 0 };

	c.old = E.dev.cfg;
	change(&E.dev.cfg.vhba);
	on_loop(do_update, &c);
	return c.rc;
}

/* ------------------------------------------ file access from children */

static uint8_t wbuf[1 << 20] __attribute__((aligned(4096)));
static uint8_t rbuf[1 << 20] __attribute__((aligned(4096)));

/* Run fn(arg) in a child; its return value is the exit status. -1 when it
 * did not end within timeout_ms (killed). */
static int in_child(int (*fn)(const char *), const char *arg, int timeout_ms)
{
	pid_t pid = fork();
	int st;

	if (pid == 0)
		_exit(fn(arg));
	for (int i = 0; i < timeout_ms / 10; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

static int c_exists(const char *path)
{
	return access(path, F_OK) == 0 ? 0 : 1;
}

static int c_size(const char *path)
{
	struct stat st;

	SH->v = stat(path, &st) == 0 ? st.st_size : -1;
	return 0;
}

static bool wait_path(const char *path, bool present, int ms)
{
	for (int i = 0; i <= ms / 20; i++) {
		if ((in_child(c_exists, path, 10000) == 0) == present)
			return true;
		usleep(20000);
	}
	return false;
}

static long long file_size(const char *path)
{
	SH->v = -2;
	assert_int_equal(in_child(c_size, path, 10000), 0);
	return SH->v;
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
}

/* A read of 4 KiB at 0: 0 ok, else the errno. */
static int c_read4k(const char *path)
{
	int fd = open(path, O_RDWR), rc = 0;

	if (fd < 0)
		return 100;
	if (pread(fd, rbuf, 4096, 0) != 4096)
		rc = errno ? errno : 101;
	close(fd);
	return rc;
}

/* Where the next writer works (children inherit it). */
static off_t g_writer_base;

/* Writer: rounds of 64 KiB writes + read-back over 4 MiB from g_writer_base
 * (16 blocks when several writers share a file), until SH->stop; counts
 * rounds and errors in SH. */
static int c_writer(const char *path)
{
	int fd = open(path, O_RDWR);
	unsigned int blocks = g_writer_base ? 16 : 64;

	if (fd < 0) {
		SH->errors++;
		SH->err = errno;
		return 1;
	}
	while (!SH->stop) {
		for (unsigned int k = 0; k < blocks && !SH->stop; k++) {
			off_t off = g_writer_base + (off_t)k * 65536;

			fill(wbuf, 65536, SH->rounds * 64 + k);
			errno = 0;
			if (pwrite(fd, wbuf, 65536, off) != 65536 ||
			    pread(fd, rbuf, 65536, off) != 65536 || memcmp(wbuf, rbuf, 65536)) {
				if (!SH->errors++)
					SH->err = errno;
			}
		}
		SH->rounds++;
	}
	close(fd);
	return SH->errors ? 1 : 0;
}

struct writer {
	pid_t pid;
};

static void writer_start(struct writer *w, const char *path)
{
	SH->rounds = 0;
	SH->errors = 0;
	SH->err = 0;
	SH->stop = 0;
	w->pid = fork();
	if (w->pid == 0)
		_exit(c_writer(path));
	assert_true(w->pid > 0);
}

static void writer_wait_rounds(unsigned int n)
{
	for (int i = 0; i < 3000 && SH->rounds < n && !SH->errors; i++)
		usleep(10000);
}

/* Stop it: 0 when it saw no error. */
static int writer_stop(struct writer *w)
{
	int st = 0;

	SH->stop = 1;
	for (int i = 0; i < 3000; i++) {
		if (waitpid(w->pid, &st, WNOHANG) == w->pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
		usleep(10000);
	}
	kill(w->pid, SIGKILL);
	waitpid(w->pid, &st, 0);
	return -1;
}

static void status(struct xsvhba_mod_status *st, struct xsvhba_mod_tgt_status *t, int want_n)
{
	assert_int_equal(xsvhba_mod_dev_status(&E.dev, st, t, XS_VHBA_MAX_TARGETS), want_n);
}

/* Is anything mounted at or under prefix? */
static bool mounted_under(const char *prefix)
{
	FILE *fp = fopen("/proc/self/mounts", "r");
	char line[1024];
	bool found = false;

	if (!fp)
		return true;
	while (fgets(line, sizeof(line), fp))
		if (strstr(line, prefix))
			found = true;
	fclose(fp);
	return found;
}

/* ------------------------------------------------------------- tests */

/* The data checks on lun0: step number that failed (errno in SH->err). */
static int c_data(const char *path)
{
	int fd = open(path, O_RDWR), step = 0;

#define STEP(cond) do { step++; if (!(cond)) { SH->err = errno; goto out; } } while (0)
	STEP(fd >= 0);
	/* 1 MiB at 1 MiB + 512 (unaligned: read-modify-write), read back */
	fill(wbuf, 1 << 20, 7);
	STEP(pwrite(fd, wbuf, 1 << 20, (1 << 20) + 512) == 1 << 20);
	STEP(pread(fd, rbuf, 1 << 20, (1 << 20) + 512) == 1 << 20);
	STEP(memcmp(wbuf, rbuf, 1 << 20) == 0);
	STEP(fsync(fd) == 0);
	/* 1 MiB aligned: written from the kernel's request buffer, no copy */
	fill(wbuf, 1 << 20, 8);
	STEP(pwrite(fd, wbuf, 1 << 20, 4 << 20) == 1 << 20);
	STEP(pread(fd, rbuf, 1 << 20, 4 << 20) == 1 << 20);
	STEP(memcmp(wbuf, rbuf, 1 << 20) == 0);
	/* reads end at the LUN's end */
	STEP(pread(fd, rbuf, 4096, LUN_BYTES) == 0);
	STEP(pread(fd, rbuf, 8192, LUN_BYTES - 4096) == 4096);
	/* a write past the end reaches the target: ILLEGAL REQUEST -> EIO */
	errno = 0;
	STEP(pwrite(fd, wbuf, 4096, LUN_BYTES) == -1 && errno == EIO);
	step = 0;
#undef STEP
out:
	if (fd >= 0)
		close(fd);
	return step;
}

static void test_install(void **state)
{
	struct call c = { 0 };
	struct xsvhba_mod_status st;
	struct xsvhba_mod_tgt_status t[XS_VHBA_MAX_TARGETS];
	char p0[200], p3[200];
	int rc;

	(void)state;
	on_loop(do_install, &c);
	assert_int_equal(c.rc, 0);
	snprintf(p0, sizeof(p0), "%s/vh0/t1/lun0", root);
	snprintf(p3, sizeof(p3), "%s/vh0/t1/lun3", root);
	assert_true(wait_path(p0, true, 10000));
	assert_int_equal(file_size(p0), LUN_BYTES);
	assert_int_equal(file_size(p3), LUN_BYTES / 2);
	rc = in_child(c_data, p0, 30000);
	if (rc)
		fail_msg("data check step %d failed: %s", rc, strerror(SH->err));
	/* OPER_UP once logged in; the counters say what happened */
	for (int i = 0; i < 100 && last_sent() != XS_VHBA_OPER_UP; i++)
		usleep(20000);
	assert_int_equal(last_sent(), XS_VHBA_OPER_UP);
	assert_int_equal(E.dev.state, XS_RES_STATE_OPER_UP);
	status(&st, t, 1);
	assert_true(st.admin_up && st.oper_up);
	assert_int_equal(st.queue_depth, 8);
	assert_string_equal(t[0].name, "t1");
	assert_string_equal(t[0].state, "up");
	assert_true(t[0].wwpn == T1_WWPN);
	assert_int_equal(t[0].st.logins, 1);
	assert_int_equal(t[0].st.errors, 1);       /* the write past the end */
	assert_true(t[0].st.completed >= 4);
	{
		struct xsvhba_fs_lun_stats ls[4];

		assert_int_equal(xsvhba_mod_dev_luns(&E.dev, 0, ls, 4), 2);
		assert_int_equal(ls[0].lun.id, 0);
		assert_int_equal(ls[1].lun.id, 3);
		assert_int_equal(ls[0].errors, 1);
		assert_int_equal(ls[0].last_error, -EIO);
		assert_true(ls[0].writes >= 1 && ls[0].reads >= 2 && ls[0].syncs == 1);
		assert_string_equal(ls[0].lun.vendor, "XSIGO");
	}
}

static void qd16(struct xs_vhba_msg *m) { m->queue_depth = 16; }

#ifdef XS_HAVE_NBD
/* ---------------------------------- the nbd back end (--vhba-nbd) */

/* What an nbd server waits for: one completion. */
struct nbd_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int err;
};

static void nbd_cb(void *arg, int err)
{
	struct nbd_wait *w = arg;

	pthread_mutex_lock(&w->lock);
	w->err = err;
	w->done = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

/* A request through the module's nbd back end, as the server thread makes
 * it: the synchronous rc when refused, else the completion's error. */
static int nbd_do(struct vexp *e, enum xsvhba_nbd_cmd cmd, void *buf, uint64_t off, size_t len)
{
	struct nbd_wait w = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	int rc = exp_io(e, cmd, buf, off, len, nbd_cb, &w);

	if (rc < 0)
		return rc;
	pthread_mutex_lock(&w.lock);
	while (!w.done)
		pthread_cond_wait(&w.cond, &w.lock);
	pthread_mutex_unlock(&w.lock);
	return w.err;
}

/* The file's 64 KiB at 3 MiB equal to wbuf (children inherit it): 0 ok. */
static int c_cmp3m(const char *path)
{
	int fd = open(path, O_RDONLY), rc = 0;

	if (fd < 0)
		return 100;
	if (pread(fd, rbuf, 65536, 3 << 20) != 65536)
		rc = 101;
	else if (memcmp(rbuf, wbuf, 65536))
		rc = 102;
	close(fd);
	return rc;
}

static void qd12(struct xs_vhba_msg *m) { m->queue_depth = 12; }

/* Placed before test_delete: the queue depth change adds a restart. */

/* The export's back end with no kernel nbd: requests go through the
 * target's queue (data equal through the file), FLUSH works, TRIM is not
 * served, a request made while the initiator is replaced is held and
 * succeeds, a dropped export fails with EIO. */
static void test_nbd_backend(void **state)
{
	struct xsvhba_mod_status st;
	struct xsvhba_mod_tgt_status t[XS_VHBA_MAX_TARGETS];
	struct vhba *vh = E.dev.priv;
	struct vexp e = { .m = E.m, .index = -1 };
	char path[200];
	uint64_t restarts;

	(void)state;
	snprintf(path, sizeof(path), "%s/vh0/t1/lun0", root);
	status(&st, t, 1);              /* t1 alone, back from its restart */
	for (int i = 0; i < 500 && strcmp(t[0].state, "up"); i++) {
		usleep(20000);
		status(&st, t, 1);
	}
	assert_string_equal(t[0].state, "up");
	assert_string_equal(vh->tgts->name, "t1");
	e.t = vh->tgts;
	pthread_mutex_lock(&E.m->lock);
	e.lun = vh->tgts->luns[0];
	pthread_mutex_unlock(&E.m->lock);
	assert_int_equal(e.lun.id, 0);
	fill(wbuf, 65536, 31);
	assert_int_equal(nbd_do(&e, XSVHBA_NBD_CMD_WRITE, wbuf, 3 << 20, 65536), 0);
	memset(rbuf, 0, 65536);
	assert_int_equal(nbd_do(&e, XSVHBA_NBD_CMD_READ, rbuf, 3 << 20, 65536), 0);
	assert_memory_equal(rbuf, wbuf, 65536);
	assert_int_equal(in_child(c_cmp3m, path, 10000), 0);
	assert_int_equal(nbd_do(&e, XSVHBA_NBD_CMD_FLUSH, NULL, 0, 0), 0);
	assert_int_equal(nbd_do(&e, XSVHBA_NBD_CMD_TRIM, NULL, 0, 4096), -EOPNOTSUPP);
	/* held while the initiator is replaced */
	status(&st, t, 1);
	restarts = t[0].restarts;
	assert_int_equal(update(qd12), 0);
	status(&st, t, 1);
	assert_string_not_equal(t[0].state, "up"); /* draining or logging in */
	fill(wbuf, 65536, 32);
	assert_int_equal(nbd_do(&e, XSVHBA_NBD_CMD_WRITE, wbuf, 3 << 20, 65536), 0);
	status(&st, t, 1);
	assert_true(t[0].restarts == restarts + 1);
	assert_int_equal(in_child(c_cmp3m, path, 10000), 0);
	/* dropped: EIO at once, nothing reaches the target */
	pthread_mutex_lock(&E.m->lock);
	e.t = NULL;
	pthread_mutex_unlock(&E.m->lock);
	assert_int_equal(nbd_do(&e, XSVHBA_NBD_CMD_READ, rbuf, 0, 4096), -EIO);
	assert_int_equal(xsvhba_mod_dev_nbd(&E.dev, 0, 0), -ENOENT);
}
#endif

static void test_queue_depth_live(void **state)
{
	struct writer wr;
	struct xsvhba_mod_status st;
	struct xsvhba_mod_tgt_status t[XS_VHBA_MAX_TARGETS];
	char path[200];
	unsigned int r0;

	(void)state;
	snprintf(path, sizeof(path), "%s/vh0/t1/lun0", root);
	writer_start(&wr, path);
	writer_wait_rounds(1);
	assert_int_equal(update(qd16), 0);
	status(&st, t, 1);
	/* replaced: a second login, while the writer keeps going */
	for (int i = 0; i < 200 && (t[0].restarts < 1 || strcmp(t[0].state, "up")); i++) {
		usleep(20000);
		status(&st, t, 1);
	}
	r0 = SH->rounds;
	writer_wait_rounds(r0 + 2);
	assert_int_equal(writer_stop(&wr), 0);
	assert_true(SH->rounds >= r0 + 2);
	assert_int_equal(t[0].restarts, 1);
	assert_int_equal(t[0].st.logins, 2);
	assert_int_equal(st.queue_depth, 16);
	assert_string_equal(t[0].state, "up");
}

static void et1(struct xs_vhba_msg *m) { m->exec_throttle = 1; }
static void et0(struct xs_vhba_msg *m) { m->exec_throttle = 0; }

/* Three writers at once through a vHBA with execution throttle 1: never more
 * than one request at the initiator, the others wait in the module. */
static void test_exec_throttle(void **state)
{
	struct writer wr[3];
	struct xsvhba_mod_status st;
	struct xsvhba_mod_tgt_status t[XS_VHBA_MAX_TARGETS];
	unsigned int max_inflight = 0, max_queued = 0;
	char path[200];

	(void)state;
	snprintf(path, sizeof(path), "%s/vh0/t1/lun0", root);
	assert_int_equal(update(et1), 0);
	SH->rounds = SH->errors = 0;
	SH->stop = 0;
	for (int i = 0; i < 3; i++) {
		g_writer_base = (off_t)(i + 1) << 20;
		wr[i].pid = fork();
		if (wr[i].pid == 0)
			_exit(c_writer(path));
		assert_true(wr[i].pid > 0);
	}
	g_writer_base = 0;
	for (int k = 0; k < 300; k++) {
		status(&st, t, 1);
		max_inflight = XS_MAX(max_inflight, st.inflight);
		max_queued = XS_MAX(max_queued, t[0].queued);
		usleep(3000);
	}
	for (int i = 0; i < 3; i++)
		assert_int_equal(writer_stop(&wr[i]), 0);
	assert_int_equal(SH->errors, 0);
	assert_true(SH->rounds >= 3);
	assert_int_equal(st.exec_throttle, 1);
	assert_true(max_inflight <= 1);
	assert_true(max_queued >= 1);   /* the others did wait in the module */
	assert_int_equal(update(et0), 0);
}

static void add_t2(struct xs_vhba_msg *m)
{
	m->target_count = 2;
	snprintf(m->targets[1], sizeof(m->targets[1]), "t2");
	m->target_wwpn[1] = T2_WWPN;
}

static void drop_t2(struct xs_vhba_msg *m)
{
	m->target_count = 1;
	memset(m->targets[1], 0, sizeof(m->targets[1]));
	m->target_wwpn[1] = 0;
}

static void test_targets_live(void **state)
{
	char p[200], d[200];

	(void)state;
	snprintf(p, sizeof(p), "%s/vh0/t2/lun0", root);
	snprintf(d, sizeof(d), "%s/vh0/t2", root);
	assert_int_equal(update(add_t2), 0);
	assert_true(wait_path(p, true, 10000));
	assert_int_equal(file_size(p), LUN_BYTES / 4);
	assert_int_equal(in_child(c_read4k, p, 10000), 0);
	assert_int_equal(update(drop_t2), 0);
	/* unmounted and removed at once */
	assert_false(mounted_under(d));
	assert_true(wait_path(d, false, 0));
}

static void admin_down(struct xs_vhba_msg *m) { m->admin_state = XS_ADMIN_DOWN; }
static void admin_up_fn(struct xs_vhba_msg *m) { m->admin_state = XS_ADMIN_UP; }

static void test_admin(void **state)
{
	struct xsvhba_mod_status st;
	struct xsvhba_mod_tgt_status t[XS_VHBA_MAX_TARGETS];
	char p[200];

	(void)state;
	snprintf(p, sizeof(p), "%s/vh0/t1/lun0", root);
	assert_int_equal(update(admin_down), 0);
	for (int i = 0; i < 100 && last_sent() != XS_VHBA_OPER_DOWN; i++)
		usleep(20000);
	assert_int_equal(last_sent(), XS_VHBA_OPER_DOWN);
	status(&st, t, 1);
	for (int i = 0; i < 100 && strcmp(t[0].state, "stopped"); i++) {
		usleep(20000);
		status(&st, t, 1);
	}
	assert_string_equal(t[0].state, "stopped");
	assert_int_equal(file_size(p), LUN_BYTES);  /* the file stays */
	assert_int_equal(in_child(c_read4k, p, 10000), EIO);
	assert_int_equal(update(admin_up_fn), 0);
	for (int i = 0; i < 200 && last_sent() != XS_VHBA_OPER_UP; i++)
		usleep(20000);
	assert_int_equal(last_sent(), XS_VHBA_OPER_UP);
	assert_int_equal(in_child(c_read4k, p, 10000), 0);
}

static void lun_add(struct env *e, void *arg)
{
	(void)arg;
	assert_int_equal(xsd_scsi_target_add_lun(e->t1, 5, ram_lun("t1-lun5", LUN_BYTES / 8)), 0);
	xsd_srpt_luns_changed(e->s1);
}

static void lun_del(struct env *e, void *arg)
{
	(void)arg;
	assert_int_equal(xsd_scsi_target_remove_lun(e->t1, 5), 0);
	xsd_srpt_luns_changed(e->s1);
}

static void test_lun_hotplug(void **state)
{
	char p[200];

	(void)state;
	snprintf(p, sizeof(p), "%s/vh0/t1/lun5", root);
	assert_true(wait_path(p, false, 0));
	on_loop(lun_add, NULL);
	assert_true(wait_path(p, true, 5000));
	assert_int_equal(file_size(p), LUN_BYTES / 8);
	on_loop(lun_del, NULL);
	assert_true(wait_path(p, false, 5000));
}

static void tgt_down(struct env *e, void *arg)
{
	(void)arg;
	xsd_srpt_free(e->s1);
	e->s1 = NULL;
}

static void tgt_back(struct env *e, void *arg)
{
	(void)arg;
	e->s1 = new_srpt(e->t1, T1_WWPN);
	assert_non_null(e->s1);
}

static void test_target_restart(void **state)
{
	struct writer wr;
	struct xsvhba_mod_status st;
	struct xsvhba_mod_tgt_status t[XS_VHBA_MAX_TARGETS];
	char path[200];
	unsigned int r0;

	(void)state;
	snprintf(path, sizeof(path), "%s/vh0/t1/lun0", root);
	writer_start(&wr, path);
	writer_wait_rounds(1);
	on_loop(tgt_down, NULL);
	usleep(1500000);
	on_loop(tgt_back, NULL);
	r0 = SH->rounds;
	writer_wait_rounds(r0 + 2);
	assert_int_equal(writer_stop(&wr), 0);
	assert_true(SH->rounds >= r0 + 2);
	status(&st, t, 1);
	assert_true(t[0].st.reconnects >= 1);
	assert_int_equal(t[0].st.timed_out, 0);
}

static void test_delete(void **state)
{
	char d[200];

	(void)state;
	on_loop(do_remove, NULL);
	snprintf(d, sizeof(d), "%s/vh0", root);
	assert_false(mounted_under(root));
	assert_int_equal(access(d, F_OK), -1);
	assert_int_equal(xsvhba_mod_dev_status(&E.dev, NULL, NULL, 0), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_install),
		cmocka_unit_test(test_queue_depth_live),
		cmocka_unit_test(test_exec_throttle),
		cmocka_unit_test(test_targets_live),
		cmocka_unit_test(test_admin),
		cmocka_unit_test(test_lun_hotplug),
		cmocka_unit_test(test_target_restart),
#ifdef XS_HAVE_NBD
		cmocka_unit_test(test_nbd_backend),
#endif
		cmocka_unit_test(test_delete),
	};

	if (geteuid() != 0 || access("/dev/fuse", R_OK | W_OK) != 0) {
		fprintf(stderr, "test_module: needs root and /dev/fuse (FUSE mounts)\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
