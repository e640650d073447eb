/* SPDX-License-Identifier: MIT */
/*
 * storage_probe: an SRP initiator on the xsvhba library acting as one vHBA
 * of the director: logs in on the director's port to service ID = a
 * target's WWPN with initiator port id = the vHBA's WWPN, then runs the
 * commands given and prints what it saw, one line each:
 *
 *   storage_probe FABRIC DIRECTOR-LID TARGET-WWPN VHBA-WWPN COMMAND...
 *     luns                   "luns 0,1" (ids seen, ascending) or "luns none"
 *     write ID OFF LEN SEED  write LEN bytes of pattern SEED at byte OFF
 *                            of LUN ID: "write ok" or "write error <errno name>"
 *     read ID OFF LEN SEED   read them back: "read equal", "read differs"
 *                            or "read error <errno name>"
 *     raw-read ID            READ(16) of block 0 sent to LUN ID whether or
 *                            not discovery saw it (the target must refuse a
 *                            masked LUN itself): "raw-read status=S sense=K/ASC/ASCQ"
 *     mark FILE              create FILE (tells a script we got here)
 *     wait-lun ID SECS       until LUN ID is seen (rescans follow the
 *                            target's AER; no new login): "lun ID seen"
 *                            or "lun ID not seen"
 *     logins                 "logins N" (SRP logins this probe made)
 *
 * The pattern of SEED at byte b: (b * 31 + SEED * 7 + (b >> 9)) & 0xff, so
 * a block written to the wrong place reads back different. Exit status 0
 * when every command ran (answers are printed, not judged), 1 otherwise.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xscore/common.h>
#include <xscore/evloop.h>
#include <xscore/fabric.h>
#include <xscore/log.h>
#include "xsvhba/vhba.h"

static void *loop_main(void *arg)
{
	xs_loop_run(arg);
	return NULL;
}

static void on_wake(struct xs_loop *loop, void *arg)
{
	(void)arg;
	xs_loop_stop(loop);
}

static void pattern(uint8_t *b, uint64_t off, size_t len, unsigned long seed)
{
	for (size_t i = 0; i < len; i++) {
		uint64_t at = off + i;

		b[i] = (uint8_t)((at * 31 + seed * 7 + (at >> 9)) & 0xff);
	}
}

/* SAM LUN: peripheral device addressing below 256, flat space above. */
static uint64_t lun_wire(uint16_t id)
{
	if (id < 256)
		return (uint64_t)id << 48;
	return (uint64_t)(0x40 | (id >> 8)) << 56 | (uint64_t)(id & 0xff) << 48;
}

static const char *err_name(int neg)
{
	switch (-neg) {
	case ENXIO: return "ENXIO";
	case EIO: return "EIO";
	case EINVAL: return "EINVAL";
	case ETIMEDOUT: return "ETIMEDOUT";
	default: return strerror(-neg);
	}
}

static void print_luns(struct xsvhba *v)
{
	struct xsvhba_lun l[XSVHBA_MAX_LUNS];
	int n = xsvhba_get_luns(v, l, XSVHBA_MAX_LUNS);

	printf("luns");
	for (int i = 0; i < n && i < XSVHBA_MAX_LUNS; i++)
		printf("%c%u", i ? ',' : ' ', l[i].id);
	printf("%s\n", n > 0 ? "" : " none");
}

static int io(struct xsvhba *v, bool write, char **a)
{
	uint16_t id = (uint16_t)strtoul(a[0], NULL, 0);
	uint64_t off = strtoull(a[1], NULL, 0);
	size_t len = (size_t)strtoull(a[2], NULL, 0);
	unsigned long seed = strtoul(a[3], NULL, 0);
	uint8_t *want = aligned_alloc(4096, (len + 4095) & ~(size_t)4095);
	uint8_t *got = aligned_alloc(4096, (len + 4095) & ~(size_t)4095);
	int rc;

	if (!want || !got) {
		free(want);
		free(got);
		return -ENOMEM;
	}
	pattern(want, off, len, seed);
	if (write) {
		rc = xsvhba_write(v, id, want, off, len);
		if (rc == 0)
			rc = xsvhba_sync(v, id);
		if (rc < 0)
			printf("write error %s\n", err_name(rc));
		else
			printf("write ok\n");
	} else {
		memset(got, 0, len);
		rc = xsvhba_read(v, id, got, off, len);
		if (rc < 0)
			printf("read error %s\n", err_name(rc));
		else
			printf("read %s\n", memcmp(want, got, len) ? "differs" : "equal");
	}
	free(want);
	free(got);
	return 0;
}

static int run(struct xsvhba *v, int argc, char **argv)
{
	int i = 0;

	while (i < argc) {
		const char *c = argv[i++];

		if (!strcmp(c, "luns")) {
			print_luns(v);
		} else if ((!strcmp(c, "write") || !strcmp(c, "read")) && i + 4 <= argc) {
			if (io(v, c[0] == 'w', argv + i) < 0)
				return 1;
			i += 4;
		} else if (!strcmp(c, "raw-read") && i < argc) {
			uint8_t *d = aligned_alloc(4096, 4096);
			struct iovec iov = { d, 512 };
			struct xsvhba_cmd cmd = { .cdb = { 0x88 }, .cdb_len = 16,
						  .dir = XSVHBA_DIR_READ, .iov = &iov, .iovcnt = 1 };
			int rc = 0;

			if (!d)
				return 1;
			cmd.lun = lun_wire((uint16_t)strtoul(argv[i++], NULL, 0));
			xs_put32(&cmd.cdb[10], 1);
			/* a unit attention from the login is answered first: ask again */
			for (int t = 0; t < 3; t++) {
				rc = xsvhba_scsi(v, &cmd);
				if (rc < 0 || cmd.status != 2 || (cmd.sense[2] & 0xf) != 6)
					break;
			}
			free(d);
			if (rc < 0) {
				printf("raw-read error %s\n", err_name(rc));
			} else {
				printf("raw-read status=%u sense=%x/%02x/%02x\n", cmd.status,
				       cmd.sense_len > 2 ? cmd.sense[2] & 0xf : 0,
				       cmd.sense_len > 12 ? cmd.sense[12] : 0,
				       cmd.sense_len > 13 ? cmd.sense[13] : 0);
			}
		} else if (!strcmp(c, "mark") && i < argc) {
			FILE *fp = fopen(argv[i++], "w");

			if (!fp)
				return 1;
			fclose(fp);
		} else if (!strcmp(c, "wait-lun") && i + 2 <= argc) {
			uint16_t id = (uint16_t)strtoul(argv[i], NULL, 0);
			time_t end = time(NULL) + strtol(argv[i + 1], NULL, 0);
			struct xsvhba_lun l;
			bool seen = false;

			i += 2;
			while (!seen && time(NULL) <= end) {
				xsvhba_wait_scan(v, 1000);
				seen = xsvhba_get_lun(v, id, &l) == 0;
				if (!seen)
					usleep(50000);
			}
			printf("lun %u %s\n", id, seen ? "seen" : "not seen");
		} else if (!strcmp(c, "logins")) {
			struct xsvhba_stats st;

			xsvhba_get_stats(v, &st);
			printf("logins %llu\n", (unsigned long long)st.logins);
		} else {
			fprintf(stderr, "bad command \"%s\" (or missing arguments)\n", c);
			return 1;
		}
		fflush(stdout);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct xsvhba_opts vo = { .size = sizeof(vo), .own_fabric_events = true,
				  .link_down_ms = 5000 };
	struct xs_fabric_opts fo = { .size = sizeof(fo) };
	struct xs_loop *loop;
	struct xs_fabric *f;
	struct xsvhba *v;
	pthread_t th;
	char pname[64];
	int rc = 1;

	if (argc < 6) {
		fprintf(stderr,
			"usage: storage_probe FABRIC DIRECTOR-LID TARGET-WWPN VHBA-WWPN COMMAND...\n");
		return 2;
	}
	xs_log_open("storage_probe", XS_LOG_STDERR, XS_LOG_WARN);
	vo.dest.lid = (uint16_t)strtoul(argv[2], NULL, 0);
	vo.service_id = strtoull(argv[3], NULL, 16);
	vo.wwpn = strtoull(argv[4], NULL, 16);
	snprintf(pname, sizeof(pname), "storage-probe-%d", (int)getpid());
	fo.port_name = pname;
	loop = xs_loop_new();
	if (!loop)
		return 1;
	xs_loop_set_wake(loop, on_wake, NULL);
	f = xs_fabric_open(argv[1], &fo);
	if (!f) {
		fprintf(stderr, "cannot open fabric %s: %s\n", argv[1], strerror(errno));
		goto out_loop;
	}
	v = xsvhba_new(f, loop, &vo);
	if (!v)
		goto out_fabric;
	xsvhba_start(v);
	if (pthread_create(&th, NULL, loop_main, loop) != 0)
		goto out_vhba;
	rc = xsvhba_wait_ready(v, 20000);
	if (rc < 0) {
		printf("login failed %s\n", err_name(rc));
		rc = 1;
	} else {
		rc = run(v, argc - 5, argv + 5);
	}
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
