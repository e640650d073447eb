/* SPDX-License-Identifier: MIT */
/*
 * The LUN file system (xsvhba/fs.c) over a fake LUN source that can hold
 * requests: a LUN the source drops while a read of it is in flight stays
 * listed (gone, new I/O to it EIO) until that read ends, then disappears;
 * the held read completes with the source's data. Every file access is made
 * from a child process (this process serves the files). Needs root and
 * /dev/fuse.
 */
#include <dirent.h>
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <xscore/log.h>

#include "xsvhba/fs.h"

#define LUN_BYTES (1u << 20)

static pthread_mutex_t src_lock = PTHREAD_MUTEX_INITIALIZER;
static struct xsvhba_lun luns[4];
static int n_luns;
static bool hold;
static struct xsvhba_fs_io *held[16];
static int n_held;
static char dir[64], mnt[100];
static struct xsvhba_fs *fs;
static char *shared_list;      /* children write their directory listing here */

static int src_get_luns(void *ctx, struct xsvhba_lun *out, unsigned int max)
{
	int n;

	(void)ctx;
	pthread_mutex_lock(&src_lock);
	n = n_luns;
	memcpy(out, luns, (size_t)(n < (int)max ? n : (int)max) * sizeof(*out));
	pthread_mutex_unlock(&src_lock);
	return n;
}

/* Reads return the LUN id + 'A' in every byte. */
static void serve(struct xsvhba_fs_io *io)
{
	if (io->op == XSVHBA_FS_READ)
		memset(io->buf, 'A' + io->lun.id, io->len);
	xsvhba_fs_io_done(io, 0);
}

static int src_submit(void *ctx, struct xsvhba_fs_io *io)
{
	bool now;

	(void)ctx;
	pthread_mutex_lock(&src_lock);
	now = !hold || n_held == 16;
	if (!now)
		held[n_held++] = io;
	pthread_mutex_unlock(&src_lock);
	if (now)
		serve(io);
	return 0;
}

static const struct xsvhba_fs_ops src_ops = { .get_luns = src_get_luns, .submit = src_submit };

static void set_luns(int n)
{
	pthread_mutex_lock(&src_lock);
	n_luns = n;
	pthread_mutex_unlock(&src_lock);
}

/* ------------------------------------------------------------ children */

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

/* 4 KiB at 0 of a LUN file: 0 when every byte is what the source serves
 * for that LUN, the errno otherwise (200: wrong bytes). */
static int c_read(const char *path)
{
	static char buf[4096] __attribute__((aligned(4096)));
	int fd = open(path, O_RDONLY), rc = 0;
	char want = 'A' + (char)(path[strlen(path) - 1] - '0');

	if (fd < 0)
		return errno;
	if (pread(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
		rc = errno ? errno : 201;
	else
		for (size_t i = 0; i < sizeof(buf); i++)
			if (buf[i] != want)
				rc = 200;
	close(fd);
	return rc;
}

/* The directory's entries, sorted by the kernel's order, space separated. */
static int c_list(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	size_t off = 0;

	if (!d)
		return errno;
	shared_list[0] = '\0';
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			off += (size_t)snprintf(shared_list + off, 256 - off, "%s%s", off ? " " : "",
						e->d_name);
	closedir(d);
	return 0;
}

static const char *list(void)
{
	assert_int_equal(in_child(c_list, mnt, 10000), 0);
	return shared_list;
}

/* ------------------------------------------------------------- tests */

static int setup(void **state)
{
	struct xsvhba_fs_opts o = { .size = sizeof(o), .threads = 2 };

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/xs-vhbafs-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(mnt, sizeof(mnt), "%s/mnt", dir);
	shared_list = mmap(NULL, 256, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared_list == MAP_FAILED)
		return -1;
	xs_log_open("test_fs", XS_LOG_STDERR, XS_LOG_WARN);
	for (int i = 0; i < 2; i++) {
		luns[i].id = (uint16_t)i;
		luns[i].wire = (uint64_t)i << 48;
		luns[i].blocks = LUN_BYTES / 512;
		luns[i].block_size = 512;
		luns[i].max_xfer_bytes = 1u << 20;
		snprintf(luns[i].vendor, sizeof(luns[i].vendor), "FAKE");
	}
	set_luns(2);
	o.mountpoint = mnt;
	fs = xsvhba_fs_mount(&o, &src_ops, NULL);
	return fs ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	xsvhba_fs_free(fs);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_drain(void **state)
{
	struct xsvhba_fs_lun_stats st[4];
	char p1[128];
	pid_t reader;
	int rs;

	(void)state;
	snprintf(p1, sizeof(p1), "%s/lun1", mnt);
	assert_string_equal(list(), "lun0 lun1");
	assert_int_equal(in_child(c_read, p1, 10000), 0);
	/* a read of lun1 held by the source */
	pthread_mutex_lock(&src_lock);
	hold = true;
	pthread_mutex_unlock(&src_lock);
	reader = fork();
	if (reader == 0)
		_exit(c_read(p1));
	for (int i = 0; i < 500; i++) {
		pthread_mutex_lock(&src_lock);
		rs = n_held;
		pthread_mutex_unlock(&src_lock);
		if (rs)
			break;
		usleep(10000);
	}
	assert_int_equal(rs, 1);
	pthread_mutex_lock(&src_lock);
	hold = false;
	pthread_mutex_unlock(&src_lock);
	/* the target drops lun1: still listed while its read is in flight */
	set_luns(1);
	assert_string_equal(list(), "lun0 lun1");
	assert_int_equal(xsvhba_fs_lun_stats(fs, st, 4), 2);
	assert_int_equal(st[1].lun.id, 1);
	assert_false(st[1].present);
	assert_int_equal(st[1].inflight, 1);
	assert_true(st[0].present);
	assert_int_equal(in_child(c_read, p1, 10000), EIO);  /* no new I/O to it */
	assert_int_equal(waitpid(reader, &rs, WNOHANG), 0); /* still waiting */
	/* the read ends: the reader gets the data, lun1 goes */
	serve(held[0]);
	n_held = 0;
	assert_int_equal(waitpid(reader, &rs, 0), reader);
	assert_true(WIFEXITED(rs));
	assert_int_equal(WEXITSTATUS(rs), 0);
	assert_string_equal(list(), "lun0");
	assert_int_equal(xsvhba_fs_lun_stats(fs, st, 4), 1);
	assert_int_equal(in_child(c_read, p1, 10000), ENOENT);
	/* and comes back when the target lists it again */
	set_luns(2);
	assert_string_equal(list(), "lun0 lun1");
	assert_int_equal(in_child(c_read, p1, 10000), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_drain),
	};

	if (geteuid() != 0 || access("/dev/fuse", R_OK | W_OK) != 0) {
		fprintf(stderr, "test_fs: needs root and /dev/fuse (FUSE mounts)\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
