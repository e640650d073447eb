/* SPDX-License-Identifier: MIT */
/*
 * test_scsi_passthrough.c - what the pass-through back ends' constructors
 * answer for what they cannot use (the I/O paths need a SCSI device or an
 * iSCSI target: tests/vm/sgio and tests/integration/iscsi cover them):
 * SG_IO on nodes that do not take it, missing nodes; iSCSI urls that do
 * not parse, portals nobody listens on.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "scsi/scsi.h"

static void test_sg_not_a_scsi_node(void **state)
{
	char path[] = "/tmp/xsd-sg-XXXXXX";
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	errno = 0;
	assert_null(xsd_scsi_sg_open(path, NULL));
	assert_int_equal(errno, ENOTTY);
	errno = 0;
	assert_null(xsd_scsi_sg_open("/dev/null", NULL));
	assert_int_equal(errno, ENOTTY);
	close(fd);
	unlink(path);
}

static void test_sg_missing(void **state)
{
	(void)state;
	errno = 0;
	assert_null(xsd_scsi_sg_open("/dev/no-such-sg-node", NULL));
	assert_int_equal(errno, ENOENT);
	errno = 0;
	assert_null(xsd_scsi_sg_open(NULL, NULL));
	assert_int_equal(errno, EINVAL);
}

#ifdef XSD_HAVE_LIBISCSI
static void test_iscsi_bad_url(void **state)
{
	(void)state;
	errno = 0;
	assert_null(xsd_scsi_iscsi_open("not-an-iscsi-url", NULL));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(xsd_scsi_iscsi_open("iscsi://127.0.0.1/iqn.2026-01.x:y", NULL)); /* no LUN */
	assert_int_equal(errno, EINVAL);
}

static void test_iscsi_nobody_listening(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct xsd_scsi_iscsi_opts o = { .size = sizeof(o), .timeout_s = 2 };
	socklen_t al = sizeof(a);
	char url[128];
	int s = socket(AF_INET, SOCK_STREAM, 0);

	(void)state;
	/* a port the kernel just gave us and we closed: refused */
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &al), 0);
	close(s);
	snprintf(url, sizeof(url), "iscsi://127.0.0.1:%u/iqn.2026-01.com.xsigo:none/1",
		 ntohs(a.sin_port));
	errno = 0;
	assert_null(xsd_scsi_iscsi_open(url, &o));
	assert_int_equal(errno, ECONNREFUSED);
}
#else
static void test_iscsi_not_built(void **state)
{
	(void)state;
	errno = 0;
	assert_null(xsd_scsi_iscsi_open("iscsi://127.0.0.1/iqn.2026-01.x:y/1", NULL));
	assert_int_equal(errno, ENOTSUP);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sg_not_a_scsi_node),
		cmocka_unit_test(test_sg_missing),
#ifdef XSD_HAVE_LIBISCSI
		cmocka_unit_test(test_iscsi_bad_url),
		cmocka_unit_test(test_iscsi_nobody_listening),
#else
		cmocka_unit_test(test_iscsi_not_built),
#endif
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
