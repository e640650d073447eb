/* SPDX-License-Identifier: MIT */
/*
 * xcm - the director's command line. Parses the command with the grammar
 * tables, sends one JSON request over the control socket, prints the reply
 * as a table (or as JSON with --json).
 *
 * Exit status: 0 done; 1 refused (by the director, or NACKed by a host) or
 * the director could not be reached; 2 usage error.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/grammar.h"
#include "cli/output.h"

#define DEFAULT_SOCKET "/run/xsigo/director.sock"
#define REPLY_TIMEOUT_MS 15000 /* the director answers within its 3 s push wait */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xcm [--json] [--socket PATH] COMMAND ...\n"
		"  profile add|set NAME [--host-guid GUID]... [--hostname H]\n"
		"  profile delete NAME\n"
		"  vnic add NAME --profile P [--mac M] [--mtu N] [--vlan-mode access|trunk]\n"
		"           [--vlans 10,20-30] [--uplink U] [--cir MBPS] [--pir MBPS]\n"
		"           [--ha-group G] [--admin up|down]\n"
		"  vnic set NAME [same options] | vnic delete NAME\n"
		"  vhba add NAME --profile P [--wwpn W --wwnn W] [--target T]... [--lun-mask LIST]\n"
		"           [--queue-depth N] [--link-down-timeout S] [--admin up|down]\n"
		"  vhba set NAME [same options] | vhba delete NAME\n"
		"  show profile|vnic|vhba [NAME] | show sessions | show hosts | show log [--limit N]\n"
		"  show config | show uplinks | show storage-pools | show stats\n"
		"  config set auto-accept on|off | hello-interval S | max-sessions N\n"
		"             | mac-pool FIRST-LAST | wwn-pool FIRST-LAST\n"
		"  uplink add NAME [--interface IF] | uplink delete NAME\n"
		"  storage-pool add|delete NAME\n"
		"Any unambiguous prefix of a word works: 'xcm sh vn' = 'xcm show vnic'.\n"
		"See xcm(8).\n");
}

/* Send line, read one reply line within the deadline. */
static int transact(const char *path, const char *line, char **reply)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	size_t len = 0, cap = 0, sent = 0, n = strlen(line);
	char *buf = NULL;
	int fd, rc = 0;
	struct timespec t0, t;

	if (strlen(path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		rc = -errno;
		goto close_fd;
	}
	while (sent < n) {
		ssize_t w = write(fd, line + sent, n - sent);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = -errno;
			goto close_fd;
		}
		sent += (size_t)w;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long left;
		ssize_t r;

		clock_gettime(CLOCK_MONOTONIC, &t);
		left = REPLY_TIMEOUT_MS - ((t.tv_sec - t0.tv_sec) * 1000 +
					   (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0) {
			rc = -ETIMEDOUT;
			goto free_buf;
		}
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR) {
			rc = -errno;
			goto free_buf;
		}
		if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		if (cap - len < 4096) {
			char *nb;

			cap = cap ? cap * 2 : 65536;
			nb = realloc(buf, cap);
			if (!nb) {
				rc = -ENOMEM;
				goto free_buf;
			}
			buf = nb;
		}
		r = read(fd, buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = r == 0 ? -ECONNRESET : -errno;
			goto free_buf;
		}
		len += (size_t)r;
		buf[len] = 0;
		if (memchr(buf, '\n', len))
			break;
	}
	*reply = buf;
	close(fd);
	return 0;
free_buf:
	free(buf);
close_fd:
	close(fd);
	return rc;
}

int main(int argc, char **argv)
{
	const char *sock = getenv("XCM_SOCKET");
	char err[512], *line, *reply = NULL;
	struct xcm_cmd cmd;
	json_error_t jerr;
	json_t *rep;
	bool json_out = false;
	char *words[argc + 1];
	int nw = 0, rc;

	if (!sock || !*sock)
		sock = DEFAULT_SOCKET;
	/* global options may appear anywhere */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "-j")) {
			json_out = true;
		} else if (!strcmp(argv[i], "--socket") || !strcmp(argv[i], "-s")) {
			if (i + 1 >= argc) {
				fprintf(stderr, "xcm: option '%s' needs a value (PATH)\n", argv[i]);
				return 2;
			}
			sock = argv[++i];
		} else if (!strncmp(argv[i], "--socket=", 9)) {
			sock = argv[i] + 9;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help") ||
			   !strcmp(argv[i], "help")) {
			usage(stdout);
			return 0;
		} else {
			words[nw++] = argv[i];
		}
	}
	if (nw == 0) {
		usage(stderr);
		return 2;
	}
	if (xcm_parse(nw, words, &cmd, err, sizeof(err))) {
		fprintf(stderr, "xcm: %s\n", err);
		return 2;
	}
	rc = 1;
	line = json_dumps(cmd.req, JSON_COMPACT);
	if (!line) {
		fprintf(stderr, "xcm: out of memory\n");
		goto free_req;
	}
	{
		size_t n = strlen(line);
		char *l2 = realloc(line, n + 2);

		if (!l2) {
			free(line);
			goto free_req;
		}
		line = l2;
		memcpy(line + n, "\n", 2);
	}
	rc = transact(sock, line, &reply);
	free(line);
	if (rc) {
		if (rc == -ETIMEDOUT)
			fprintf(stderr, "xcm: no reply from the director within %d s\n",
				REPLY_TIMEOUT_MS / 1000);
		else
			fprintf(stderr, "xcm: cannot talk to the director at %s: %s%s\n", sock,
				strerror(-rc),
				rc == -ENOENT || rc == -ECONNREFUSED ? " (is xsdirectord running?)"
								     : "");
		rc = 1;
		goto free_req;
	}
	rep = json_loads(reply, JSON_DISABLE_EOF_CHECK, &jerr);
	free(reply);
	if (!json_is_object(rep)) {
		fprintf(stderr, "xcm: the director sent a reply that is not a JSON object\n");
		json_decref(rep);
		rc = 1;
		goto free_req;
	}
	if (json_out) {
		json_dumpf(rep, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
		rc = json_is_true(json_object_get(rep, "ok")) ? 0 : 1;
	} else if (!json_is_true(json_object_get(rep, "ok"))) {
		const char *e = json_string_value(json_object_get(rep, "error"));

		fprintf(stderr, "xcm: %s\n", e ? e : "request refused");
		rc = 1;
	} else {
		rc = xcm_render(stdout, &cmd, rep);
	}
	json_decref(rep);
free_req:
	json_decref(cmd.req);
	return rc;
}
