/* SPDX-License-Identifier: MIT */
/*
 * test_verbs_nodev - what a user sees when opening the rdma-core backends on
 * a machine without RDMA hardware: NULL, errno ENODEV, and exactly one log
 * line that names the soft fabric. Spec errors give EINVAL and a message.
 * On a machine that has RDMA devices the open must succeed instead.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <infiniband/verbs.h>

#include <xscore/fabric.h>
#include <xscore/log.h>

static char logbuf[4096];

/* Open spec with stderr captured into logbuf; returns the handle, *err = errno. */
static struct xs_fabric *open_captured(const char *spec, int *err)
{
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO);
	struct xs_fabric *f;
	size_t n;

	assert_non_null(tmp);
	assert_true(saved >= 0);
	fflush(stderr);
	assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
	errno = 0;
	f = xs_fabric_open(spec, NULL);
	*err = errno;
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	n = fread(logbuf, 1, sizeof(logbuf) - 1, tmp);
	logbuf[n] = '\0';
	fclose(tmp);
	return f;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* The text after "ident[comp] error: " of the only line logged. */
static const char *only_message(const char *comp)
{
	char tag[64];
	const char *p;

	assert_int_equal(count_lines(logbuf), 1);
	snprintf(tag, sizeof(tag), "[%s] error: ", comp);
	p = strstr(logbuf, tag);
	assert_non_null(p);
	return p + strlen(tag);
}

static int n_devices(void)
{
	int n = 0;
	struct ibv_device **l = ibv_get_device_list(&n);

	if (l)
		ibv_free_device_list(l);
	return n;
}

static void test_verbs_no_device(void **state)
{
	struct xs_fabric *f;
	int err;

	(void)state;
	f = open_captured("verbs", &err);
	if (n_devices() > 0) {
		/* a machine with RDMA hardware: the backend must open */
		assert_non_null(f);
		assert_string_equal(xs_fabric_backend(f), "verbs");
		xs_fabric_close(f);
		return;
	}
	assert_null(f);
	assert_int_equal(err, ENODEV);
	assert_string_equal(only_message("verbs"),
			    "no RDMA device found (ibv_get_device_list returned 0 devices); use "
			    "the soft fabric (spec \"soft\", daemon xs-fabricd) on machines "
			    "without RDMA hardware\n");
}

static void test_verbs_named_device(void **state)
{
	struct xs_fabric *f;
	int err;

	(void)state;
	if (n_devices() > 0)
		return; /* covered by test_verbs_no_device on such machines */
	f = open_captured("verbs:mlx5_0:1", &err);
	assert_null(f);
	assert_int_equal(err, ENODEV);
	assert_non_null(strstr(only_message("verbs"), "no RDMA device found"));
}

static void test_verbs_bad_spec(void **state)
{
	struct xs_fabric *f;
	int err;

	(void)state;
	f = open_captured("verbs:mlx5_0:x", &err);
	assert_null(f);
	assert_int_equal(err, EINVAL);
	assert_string_equal(only_message("verbs"),
			    "bad port number in 'verbs:mlx5_0:x' (expected verbs:DEVICE:PORT)\n");
	f = open_captured("umad:mlx5_0:300", &err);
	assert_null(f);
	assert_int_equal(err, EINVAL);
	assert_string_equal(only_message("umad"),
			    "bad port number in 'umad:mlx5_0:300' (expected umad:DEVICE:PORT)\n");
}

static void test_umad_no_device(void **state)
{
	struct xs_fabric *f;
	int err;

	(void)state;
	if (n_devices() > 0)
		return;
	f = open_captured("umad", &err);
	assert_null(f);
	assert_int_equal(err, ENODEV);
	assert_non_null(strstr(only_message("umad"),
			       "use the soft fabric (spec \"soft\", daemon xs-fabricd) on "
			       "machines without RDMA hardware"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verbs_no_device),
		cmocka_unit_test(test_verbs_named_device),
		cmocka_unit_test(test_verbs_bad_spec),
		cmocka_unit_test(test_umad_no_device),
	};

	/* under the ibsim preload the umad backend would find a device */
	unsetenv("LD_PRELOAD");
	xs_log_open("test_verbs_nodev", XS_LOG_STDERR, XS_LOG_INFO);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
