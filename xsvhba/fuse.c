/* SPDX-License-Identifier: MIT */
/*
 * xsvhba-fuse: the LUNs of one SRP target as regular files through FUSE.
 *
 *   <mountpoint>/lun<N>   sized to the LUN; read/write map to READ(16) /
 *                         WRITE(16) split at the LUN's maximum transfer size;
 *                         fsync is SYNCHRONIZE CACHE(16).
 *
 * Threads: the initiator runs on its own event-loop thread; FUSE runs
 * multithreaded (up to -T threads, default 64), each request a blocking
 * call into the initiator, so up to that many commands are in flight.
 * Files are opened direct_io (no page cache: what a read returns comes
 * from the target). Entry and attribute timeouts are 0, so hot-added LUNs
 * show up and removed ones go at the next lookup. SIGTERM / SIGINT unmount.
 * See docs/man/xsvhba-fuse.8.
 */
#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 12)
#include <arpa/inet.h>
#include <errno.h>
#include <fuse.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xscore/common.h>
#include <xscore/evloop.h>
#include <xscore/fabric.h>
#include <xscore/log.h>

#include "xsvhba/vhba.h"

#define COMP "xsvhba-fuse"

static struct xsvhba *g_v;

static int parse_lun(const char *path, uint16_t *id)
{
	char *end;
	unsigned long v;

	if (strncmp(path, "/lun", 4) || !path[4])
		return -ENOENT;
	v = strtoul(path + 4, &end, 10);
	if (*end || v > 16383)
		return -ENOENT;
	*id = (uint16_t)v;
	return 0;
}

static void *fs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	cfg->entry_timeout = 0;
	cfg->attr_timeout = 0;
	cfg->negative_timeout = 0;
	cfg->direct_io = 1;
	cfg->use_ino = 0;
	conn->max_write = 1u << 20;
	/* Asynchronous direct I/O counts as background requests, of which the
	 * kernel allows 12 by default: allow 32 (a QD32 job reaches the
	 * initiator). More measured slower on 2 cores: more FUSE threads
	 * awake, more context switches. */
	conn->max_background = 32;
	conn->congestion_threshold = 24;
	return NULL;
}

static int fs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct xsvhba_lun l;
	uint16_t id;

	memset(st, 0, sizeof(*st));
	if (!strcmp(path, "/")) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return 0;
	}
	if (parse_lun(path, &id) < 0 || xsvhba_get_lun(g_v, id, &l) < 0)
		return -ENOENT;
	st->st_mode = S_IFREG | 0600;
	st->st_nlink = 1;
	st->st_size = (off_t)(l.blocks * l.block_size);
	st->st_blksize = l.block_size;
	st->st_blocks = (blkcnt_t)(l.blocks * l.block_size / 512);
	return 0;
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct xsvhba_lun *luns = calloc(XSVHBA_MAX_LUNS, sizeof(*luns));
	int n;

	if (strcmp(path, "/"))
		return -ENOENT;
	if (!luns)
		return -ENOMEM;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	n = xsvhba_get_luns(g_v, luns, XSVHBA_MAX_LUNS);
	for (int i = 0; i < n && i < XSVHBA_MAX_LUNS; i++) {
		char name[16];

		snprintf(name, sizeof(name), "lun%u", luns[i].id);
		fill(buf, name, NULL, 0, 0);
	}
	free(luns);
	return 0;
}

static int fs_open(const char *path, struct fuse_file_info *fi)
{
	struct xsvhba_lun l;
	uint16_t id;

	if (parse_lun(path, &id) < 0 || xsvhba_get_lun(g_v, id, &l) < 0)
		return -ENOENT;
	fi->direct_io = 1;
	fi->fh = id;
	return 0;
}

static int fs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct xsvhba_lun l;
	uint16_t id;

	if (parse_lun(path, &id) < 0 || xsvhba_get_lun(g_v, id, &l) < 0)
		return -ENOENT;
	/* A LUN has the size it has: O_TRUNC and same-size truncates are fine. */
	return (uint64_t)size == l.blocks * l.block_size ? 0 : -EPERM;
}

/* Block-aligned I/O straight on the caller's buffer, else through a
 * bounce buffer (reads) or read-modify-write of the edge blocks (writes). */
static int do_io(uint16_t id, bool write, char *buf, size_t size, off_t off)
{
	struct xsvhba_lun l;
	uint64_t end, cap, a0, a1;
	uint8_t *bounce;
	int rc;

	if (xsvhba_get_lun(g_v, id, &l) < 0)
		return -ENXIO;
	cap = l.blocks * l.block_size;
	if (off < 0)
		return -EINVAL;
	if ((uint64_t)off >= cap)
		return write ? -ENOSPC : 0;
	end = XS_MIN((uint64_t)off + size, cap);
	size = (size_t)(end - (uint64_t)off);
	if (size == 0)
		return 0;
	if ((uint64_t)off % l.block_size == 0 && size % l.block_size == 0) {
		rc = write ? xsvhba_write(g_v, id, buf, (uint64_t)off, size)
			   : xsvhba_read(g_v, id, buf, (uint64_t)off, size);
		return rc < 0 ? rc : (int)size;
	}
	a0 = (uint64_t)off - (uint64_t)off % l.block_size;
	a1 = (end + l.block_size - 1) / l.block_size * l.block_size;
	bounce = aligned_alloc(4096, (size_t)((a1 - a0 + 4095) & ~UINT64_C(4095)));
	if (!bounce)
		return -ENOMEM;
	rc = xsvhba_read(g_v, id, bounce, a0, (size_t)(a1 - a0));
	if (rc == 0) {
		if (write) {
			memcpy(bounce + ((uint64_t)off - a0), buf, size);
			rc = xsvhba_write(g_v, id, bounce, a0, (size_t)(a1 - a0));
		} else {
			memcpy(buf, bounce + ((uint64_t)off - a0), size);
		}
	}
	free(bounce);
	return rc < 0 ? rc : (int)size;
}

static int fs_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	return do_io((uint16_t)fi->fh, false, buf, size, off);
}

static int fs_write(const char *path, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	return do_io((uint16_t)fi->fh, true, (char *)buf, size, off);
}

static int fs_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	return xsvhba_sync(g_v, (uint16_t)fi->fh);
}

static const struct fuse_operations fs_ops = {
	.init = fs_init,
	.getattr = fs_getattr,
	.readdir = fs_readdir,
	.open = fs_open,
	.truncate = fs_truncate,
	.read = fs_read,
	.write = fs_write,
	.fsync = fs_fsync,
};

/* ------------------------------------------------------------------ main */

static void *loop_main(void *arg)
{
	xs_loop_run(arg);
	return NULL;
}

static void on_stop(struct xs_loop *loop, void *arg)
{
	xs_loop_stop(loop);
}

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: xsvhba-fuse -t LID | -g GID [-F FABRIC] [-p PORT-NAME] [-s SERVICE-ID]\n"
		"                   [-x ID-EXT] [-i IU-LEN] [-w WWPN] [-q QUEUE-DEPTH] [-l LINK-DOWN-MS]\n"
		"                   [-T THREADS] [-V VHBA] [-N TARGET] [-m MOUNTPOINT]\n"
		"                   [-W SECONDS] [-d COMPONENTS]\n"
		"  -t LID          the target port's LID\n"
		"  -g GID          the target port's GID (RoCE: its IPv4-mapped or link-local GID)\n"
		"  -F FABRIC       fabric spec (default \"soft\")\n"
		"  -p PORT-NAME    soft fabric port name (default xsvhba-<vhba>)\n"
		"  -s SERVICE-ID   default 0x%016" PRIx64 "\n"
		"  -x ID-EXT       target port ID bytes 0..7 (hex; default 0; Linux ib_srpt:\n"
		"                  its service GUID, as -s)\n"
		"  -i IU-LEN       largest initiator->target IU asked for at login (default 1024;\n"
		"                  Linux ib_srpt answers it as its target->initiator limit: 512)\n"
		"  -w WWPN         this vHBA port's WWPN (hex, default 0x2100001397000001)\n"
		"  -q QUEUE-DEPTH  commands in flight (default %u)\n"
		"  -l LINK-DOWN-MS hold I/O this long when the target is gone (default %u)\n"
		"  -T THREADS      FUSE worker threads (default 64)\n"
		"  -V VHBA, -N TARGET  names in the default mount point\n"
		"  -m MOUNTPOINT   default /run/xsigo/vhba/<vhba>/<target>\n"
		"  -W SECONDS      wait this long for the first login (default 30)\n"
		"  -d COMPONENTS   debug log (\"vhba\", \"all\")\n",
		XSVHBA_DEFAULT_SERVICE_ID, XSVHBA_DEFAULT_QUEUE_DEPTH, XSVHBA_DEFAULT_LINK_DOWN_MS);
}

static int mkdir_p(const char *path)
{
	char tmp[512];

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int main(int argc, char **argv)
{
	struct xsvhba_opts vo = { .size = sizeof(vo), .own_fabric_events = true,
				  .wwpn = UINT64_C(0x2100001397000001) };
	struct xs_fabric_opts fo = { .size = sizeof(fo) };
	const char *spec = "soft", *vhba = "vhba0", *target = "target0", *mnt = NULL;
	char mbuf[512], pname[80];
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_loop_config *lc;
	struct xs_loop *loop;
	struct xs_fabric *f;
	struct fuse *fu;
	pthread_t th;
	unsigned int threads = 64;
	int wait_s = 30, opt, rc = 1;
	bool have_lid = false;

	xs_log_open("xsvhba-fuse", XS_LOG_STDERR, XS_LOG_INFO);
	while ((opt = getopt(argc, argv, "t:g:x:i:F:p:s:w:q:l:T:V:N:m:W:d:h")) != -1) {
		switch (opt) {
		case 't': vo.dest.lid = (uint16_t)strtoul(optarg, NULL, 0); have_lid = true; break;
		case 'g':
			if (inet_pton(AF_INET6, optarg, vo.dest.gid) != 1) {
				XS_ERR(COMP, "-g %s: not a GID", optarg);
				return 2;
			}
			vo.dest.has_gid = true;
			have_lid = true;
			break;
		case 'x': xs_put64(vo.target_id_ext, strtoull(optarg, NULL, 16)); break;
		case 'i': vo.it_iu_len = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'F': spec = optarg; break;
		case 'p': fo.port_name = optarg; break;
		case 's': vo.service_id = strtoull(optarg, NULL, 0); break;
		case 'w': vo.wwpn = strtoull(optarg, NULL, 16); break;
		case 'q': vo.queue_depth = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'l': vo.link_down_ms = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'T': threads = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 'V': vhba = optarg; break;
		case 'N': target = optarg; break;
		case 'm': mnt = optarg; break;
		case 'W': wait_s = atoi(optarg); break;
		case 'd': xs_log_set_debug(optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!have_lid) {
		usage(stderr);
		return 2;
	}
	if (!mnt) {
		snprintf(mbuf, sizeof(mbuf), "/run/xsigo/vhba/%s/%s", vhba, target);
		mnt = mbuf;
	}
	if (!fo.port_name) {
		snprintf(pname, sizeof(pname), "xsvhba-%s", vhba);
		fo.port_name = pname;
	}
	if (mkdir_p(mnt) < 0) {
		XS_ERR(COMP, "cannot create %s: %s", mnt, strerror(errno));
		return 1;
	}
	loop = xs_loop_new();
	if (!loop)
		return 1;
	xs_loop_set_wake(loop, on_stop, NULL);
	f = xs_fabric_open(spec, &fo);
	if (!f) {
		XS_ERR(COMP, "cannot open fabric %s: %s", spec, strerror(errno));
		goto out_loop;
	}
	g_v = xsvhba_new(f, loop, &vo);
	if (!g_v) {
		XS_ERR(COMP, "cannot create the initiator: %s", strerror(errno));
		goto out_fabric;
	}
	xsvhba_start(g_v);
	if (pthread_create(&th, NULL, loop_main, loop) != 0)
		goto out_vhba;
	rc = xsvhba_wait_ready(g_v, wait_s * 1000);
	if (rc < 0) {
		XS_ERR(COMP, "no login to the target within %d s: %s", wait_s, xs_strerror(rc));
		rc = 1;
		goto out_thread;
	}
	XS_INFO(COMP, "%d LUN(s); mounting on %s", xsvhba_get_luns(g_v, NULL, 0), mnt);
	fuse_opt_add_arg(&args, argv[0]);
	fuse_opt_add_arg(&args, "-o");
	fuse_opt_add_arg(&args, "fsname=xsvhba,subtype=xsvhba,default_permissions");
	rc = 1;
	fu = fuse_new(&args, &fs_ops, sizeof(fs_ops), NULL);
	if (!fu)
		goto out_thread;
	if (fuse_mount(fu, mnt) != 0)
		goto out_fuse;
	if (fuse_set_signal_handlers(fuse_get_session(fu)) != 0)
		goto out_unmount;
	lc = fuse_loop_cfg_create();
	fuse_loop_cfg_set_max_threads(lc, threads);
	fuse_loop_cfg_set_idle_threads(lc, threads);
	/* 0, or the signal that ended the loop (a clean stop); < 0 is an error. */
	rc = fuse_loop_mt(fu, lc) < 0 ? 1 : 0;
	fuse_loop_cfg_destroy(lc);
	fuse_remove_signal_handlers(fuse_get_session(fu));
	XS_INFO(COMP, "unmounting %s", mnt);
out_unmount:
	fuse_unmount(fu);
out_fuse:
	fuse_destroy(fu);
out_thread:
	xs_loop_wake(loop);
	pthread_join(th, NULL);
out_vhba:
	xsvhba_free(g_v);
out_fabric:
	xs_fabric_close(f);
out_loop:
	xs_loop_free(loop);
	fuse_opt_free_args(&args);
	return rc;
}
