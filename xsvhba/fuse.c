/* SPDX-License-Identifier: MIT */
/*
 * xsvhba-fuse: the LUNs of one SRP target as regular files through FUSE.
 *
 *   <mountpoint>/lun<N>   sized to the LUN; read/write map to READ(16) /
 *                         WRITE(16) split at the LUN's maximum transfer size;
 *                         fsync is SYNCHRONIZE CACHE(16).
 *
 * The file system is the xsvhba_fs library (xsvhba/fs.h), the same the host
 * agent's vHBA module mounts per target; this program gives it one
 * initiator. Threads: the initiator runs on its own event-loop thread; the
 * file system has -T worker threads (default 4) that hand requests to the
 * initiator without waiting, replies go out from the completions, so many
 * commands are in flight at once. With --nbd every LUN is also exported as
 * /dev/nbdN through the kernel's nbd (xsvhba/nbd.h). SIGTERM / SIGINT
 * disconnect the nbd devices and unmount.
 * See docs/man/xsvhba-fuse.8.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xscore/common.h>
#include <xscore/evloop.h>
#include <xscore/fabric.h>
#include <xscore/log.h>

#include "xsvhba/fs.h"
#ifdef XS_HAVE_NBD
#include "xsvhba/nbd.h"
#endif
#include "xsvhba/vhba.h"

#define COMP "xsvhba-fuse"

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
		"                   [-W SECONDS] [-d COMPONENTS] [--nbd]\n"
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
		"  -T THREADS      FUSE worker threads (default 4, at most 64)\n"
		"  -V VHBA, -N TARGET  names in the default mount point\n"
		"  -m MOUNTPOINT   default /run/xsigo/vhba/<vhba>/<target>\n"
		"  -W SECONDS      wait this long for the first login (default 30)\n"
		"  -d COMPONENTS   debug log (\"vhba\", \"nbd\", \"all\")\n"
		"  --nbd           also export every LUN as /dev/nbdN (kernel nbd, netlink);\n"
		"                  prints \"lun<N> -> /dev/nbd<M>\" for each\n",
		XSVHBA_DEFAULT_SERVICE_ID, XSVHBA_DEFAULT_QUEUE_DEPTH, XSVHBA_DEFAULT_LINK_DOWN_MS);
}

#ifdef XS_HAVE_NBD
/* Export every LUN known now as /dev/nbdN. The files work whatever happens
 * here; a kernel without nbd stops the attempt after one message. */
static unsigned int nbd_export_all(struct xsvhba *v, struct xsvhba_nbd **out, unsigned int max)
{
	struct xsvhba_lun luns[XSVHBA_MAX_LUNS];
	struct xsvhba_nbd_opts no = { .size = sizeof(no) };
	unsigned int n = 0;
	int k = xsvhba_get_luns(v, luns, XSVHBA_MAX_LUNS);

	for (int i = 0; i < k && i < XSVHBA_MAX_LUNS && n < max; i++) {
		struct xsvhba_nbd *d = xsvhba_nbd_export(v, &luns[i], &no);

		if (!d) {
			XS_ERR(COMP, "lun%u not exported as an nbd device: %s", luns[i].id,
			       strerror(errno));
			if (errno == ENODEV)
				break;
			continue;
		}
		printf("lun%u -> /dev/nbd%d\n", luns[i].id, xsvhba_nbd_index(d));
		fflush(stdout);
		out[n++] = d;
	}
	return n;
}
#endif

enum { OPT_NBD = 256 };

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "nbd", no_argument, NULL, OPT_NBD },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct xsvhba_opts vo = { .size = sizeof(vo), .own_fabric_events = true,
				  .wwpn = UINT64_C(0x2100001397000001) };
	struct xs_fabric_opts fo = { .size = sizeof(fo) };
	const char *spec = "soft", *vhba = "vhba0", *target = "target0", *mnt = NULL;
	struct xsvhba_fs_opts so = { .size = sizeof(so) };
	char mbuf[512], pname[80];
	struct xsvhba_fs *fs;
	struct xs_loop *loop;
	struct xs_fabric *f;
	struct xsvhba *v;
	sigset_t sigs;
	pthread_t th;
	unsigned int threads = 4;
	int wait_s = 30, opt, sig, rc = 1;
	bool have_lid = false, want_nbd = false;
#ifdef XS_HAVE_NBD
	static struct xsvhba_nbd *nbds[XSVHBA_MAX_LUNS];
	unsigned int nnbd = 0;
#endif

	xs_log_open("xsvhba-fuse", XS_LOG_STDERR, XS_LOG_INFO);
	while ((opt = getopt_long(argc, argv, "t:g:x:i:F:p:s:w:q:l:T:V:N:m:W:d:h", longopts,
				  NULL)) != -1) {
		switch (opt) {
		case OPT_NBD: want_nbd = true; break;
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
	if (!have_lid || threads < 1 || threads > 64) {
		usage(stderr);
		return 2;
	}
#ifndef XS_HAVE_NBD
	if (want_nbd) {
		XS_ERR(COMP, "--nbd: this build has no nbd support (libnl-genl-3 was missing)");
		return 2;
	}
#endif
	if (!mnt) {
		snprintf(mbuf, sizeof(mbuf), "/run/xsigo/vhba/%s/%s", vhba, target);
		mnt = mbuf;
	}
	if (!fo.port_name) {
		snprintf(pname, sizeof(pname), "xsvhba-%s", vhba);
		fo.port_name = pname;
	}
	/* SIGTERM / SIGINT are taken with sigwait: blocked in every thread */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	loop = xs_loop_new();
	if (!loop)
		return 1;
	xs_loop_set_wake(loop, on_stop, NULL);
	f = xs_fabric_open(spec, &fo);
	if (!f) {
		XS_ERR(COMP, "cannot open fabric %s: %s", spec, strerror(errno));
		goto out_loop;
	}
	v = xsvhba_new(f, loop, &vo);
	if (!v) {
		XS_ERR(COMP, "cannot create the initiator: %s", strerror(errno));
		goto out_fabric;
	}
	xsvhba_start(v);
	if (pthread_create(&th, NULL, loop_main, loop) != 0)
		goto out_vhba;
	rc = xsvhba_wait_ready(v, wait_s * 1000);
	if (rc < 0) {
		XS_ERR(COMP, "no login to the target within %d s: %s", wait_s, xs_strerror(rc));
		rc = 1;
		goto out_thread;
	}
	XS_INFO(COMP, "%d LUN(s); mounting on %s", xsvhba_get_luns(v, NULL, 0), mnt);
	so.mountpoint = mnt;
	so.threads = threads;
	fs = xsvhba_fs_mount(&so, &xsvhba_fs_initiator_ops, v);
	if (!fs) {
		rc = 1;
		goto out_thread;
	}
#ifdef XS_HAVE_NBD
	if (want_nbd)
		nnbd = nbd_export_all(v, nbds, XSVHBA_MAX_LUNS);
#else
	(void)want_nbd;
#endif
	if (sigwait(&sigs, &sig) == 0)
		XS_INFO(COMP, "signal %d: unmounting %s", sig, mnt);
	rc = 0;
#ifdef XS_HAVE_NBD
	/* the nbd devices first: their last requests need the loop running */
	for (unsigned int i = 0; i < nnbd; i++)
		xsvhba_nbd_free(nbds[i]);
#endif
	/* Unmount, stop the initiator's loop, free the initiator (what it
	 * still holds ends: replied EIO), then the file system. */
	xsvhba_fs_quiesce(fs);
	xs_loop_wake(loop);
	pthread_join(th, NULL);
	xsvhba_free(v);
	xsvhba_fs_free(fs);
	goto out_fabric;
out_thread:
	xs_loop_wake(loop);
	pthread_join(th, NULL);
out_vhba:
	xsvhba_free(v);
out_fabric:
	xs_fabric_close(f);
out_loop:
	xs_loop_free(loop);
	return rc;
}
