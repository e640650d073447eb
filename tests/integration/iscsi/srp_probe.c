/* SPDX-License-Identifier: MIT */
/*
 * srp_probe: a test client on the xsvhba SRP initiator library. Logs in to
 * an SRP target and runs the commands given, printing what it saw:
 *
 *   srp_probe FABRIC TARGET-LID LUN-ID COMMAND...
 *     inquiry              "inquiry vendor=<v> product=<p>" (standard INQUIRY,
 *                          as the device answered it)
 *     capacity             "capacity blocks=<n> block_size=<b>"
 *     write OFF FILE       write FILE's bytes at byte OFF (block multiples)
 *     read OFF LEN FILE    read LEN bytes at OFF into FILE
 *     oor                  READ(16) of one block just past the end:
 *                          "oor status=<s> sense=<key>/<asc>/<ascq>"
 *     sync                 SYNCHRONIZE CACHE(16)
 *
 * Exit status 0 when every command ran (an oor answer is printed, not
 * judged), 1 otherwise.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static int load(const char *path, uint8_t **buf, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	long n;

	if (!fp)
		return -errno;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	*buf = aligned_alloc(4096, ((size_t)n + 4095) & ~(size_t)4095);
	if (!*buf || fread(*buf, 1, (size_t)n, fp) != (size_t)n) {
		fclose(fp);
		free(*buf);
		return -EIO;
	}
	fclose(fp);
	*len = (size_t)n;
	return 0;
}

static int run(struct xsvhba *v, const struct xsvhba_lun *l, int argc, char **argv)
{
	int i = 0;

	while (i < argc) {
		const char *c = argv[i++];
		int rc;

		if (!strcmp(c, "inquiry")) {
			uint8_t d[96] = { 0 };
			struct iovec iov = { d, sizeof(d) };
			struct xsvhba_cmd cmd = { .lun = l->wire, .cdb = { 0x12, 0, 0, 0, sizeof(d) },
						  .cdb_len = 6, .dir = XSVHBA_DIR_READ, .iov = &iov,
						  .iovcnt = 1 };

			/* a unit attention left from the login is retried */
			for (int t = 0; t < 3; t++) {
				rc = xsvhba_scsi(v, &cmd);
				if (rc < 0 || cmd.status != 2 || (cmd.sense[2] & 0xf) != 6)
					break;
			}
			if (rc < 0 || cmd.status) {
				fprintf(stderr, "inquiry failed: %d status %u\n", rc, cmd.status);
				return 1;
			}
			printf("inquiry vendor=%.8s product=%.16s\n", (char *)d + 8, (char *)d + 16);
		} else if (!strcmp(c, "capacity")) {
			printf("capacity blocks=%llu block_size=%u\n", (unsigned long long)l->blocks,
			       l->block_size);
		} else if (!strcmp(c, "write") && i + 2 <= argc) {
			uint64_t off = strtoull(argv[i], NULL, 0);
			uint8_t *buf = NULL;
			size_t len = 0;

			rc = load(argv[i + 1], &buf, &len);
			i += 2;
			if (rc < 0) {
				fprintf(stderr, "cannot read %s: %s\n", argv[i - 1], strerror(-rc));
				return 1;
			}
			rc = xsvhba_write(v, l->id, buf, off, len);
			free(buf);
			if (rc < 0) {
				fprintf(stderr, "write: %s\n", strerror(-rc));
				return 1;
			}
			printf("wrote %zu bytes at %llu\n", len, (unsigned long long)off);
		} else if (!strcmp(c, "read") && i + 3 <= argc) {
			uint64_t off = strtoull(argv[i], NULL, 0);
			size_t len = strtoull(argv[i + 1], NULL, 0);
			const char *out = argv[i + 2];
			uint8_t *buf = aligned_alloc(4096, (len + 4095) & ~(size_t)4095);
			FILE *fp;

			i += 3;
			if (!buf)
				return 1;
			rc = xsvhba_read(v, l->id, buf, off, len);
			if (rc < 0) {
				fprintf(stderr, "read: %s\n", strerror(-rc));
				free(buf);
				return 1;
			}
			fp = fopen(out, "wb");
			if (!fp || fwrite(buf, 1, len, fp) != len) {
				fprintf(stderr, "cannot write %s\n", out);
				free(buf);
				if (fp)
					fclose(fp);
				return 1;
			}
			fclose(fp);
			free(buf);
			printf("read %zu bytes at %llu\n", len, (unsigned long long)off);
		} else if (!strcmp(c, "oor")) {
			uint8_t *d = aligned_alloc(4096, (l->block_size + 4095) & ~(size_t)4095);
			struct iovec iov = { d, l->block_size };
			struct xsvhba_cmd cmd = { .lun = l->wire, .cdb = { 0x88 }, .cdb_len = 16,
						  .dir = XSVHBA_DIR_READ, .iov = &iov, .iovcnt = 1 };

			if (!d)
				return 1;
			xs_put64(&cmd.cdb[2], l->blocks);
			xs_put32(&cmd.cdb[10], 1);
			for (int t = 0; t < 3; t++) {
				rc = xsvhba_scsi(v, &cmd);
				if (rc < 0 || cmd.status != 2 || (cmd.sense[2] & 0xf) != 6)
					break;
			}
			free(d);
			if (rc < 0) {
				fprintf(stderr, "oor: %s\n", strerror(-rc));
				return 1;
			}
			printf("oor status=%u sense=%x/%02x/%02x\n", cmd.status,
			       cmd.sense_len > 2 ? cmd.sense[2] & 0xf : 0,
			       cmd.sense_len > 12 ? cmd.sense[12] : 0,
			       cmd.sense_len > 13 ? cmd.sense[13] : 0);
		} else if (!strcmp(c, "sync")) {
			rc = xsvhba_sync(v, l->id);
			if (rc < 0) {
				fprintf(stderr, "sync: %s\n", strerror(-rc));
				return 1;
			}
			printf("sync ok\n");
		} else {
			fprintf(stderr, "bad command \"%s\"\n", c);
			return 1;
		}
		fflush(stdout);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct xsvhba_opts vo = { .size = sizeof(vo), .own_fabric_events = true,
				  .wwpn = UINT64_C(0x2100001397000009), .link_down_ms = 5000 };
	struct xs_fabric_opts fo = { .size = sizeof(fo) };
	struct xsvhba_lun l;
	struct xs_loop *loop;
	struct xs_fabric *f;
	struct xsvhba *v;
	pthread_t th;
	char pname[64];
	int rc = 1;

	if (argc < 5) {
		fprintf(stderr, "usage: srp_probe FABRIC TARGET-LID LUN-ID COMMAND...\n");
		return 2;
	}
	xs_log_open("srp_probe", XS_LOG_STDERR, XS_LOG_WARN);
	vo.dest.lid = (uint16_t)strtoul(argv[2], NULL, 0);
	snprintf(pname, sizeof(pname), "srp-probe-%d", (int)getpid());
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
	if (xsvhba_wait_ready(v, 20000) < 0) {
		fprintf(stderr, "no login to the target\n");
	} else if (xsvhba_get_lun(v, (uint16_t)strtoul(argv[3], NULL, 0), &l) < 0) {
		fprintf(stderr, "no LUN %s\n", argv[3]);
	} else {
		rc = run(v, &l, argc - 4, argv + 4);
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
