/* Unit tests for the event loop: fds, timer order and periods, signals, wake-up. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <unistd.h>
#include <cmocka.h>

#include <xscore/common.h>
#include <xscore/evloop.h>

struct rec {
	int order[16];
	int n;
	int reads;
	int periodic;
	struct xs_timer *per;
};

static void timer_cb(struct xs_loop *l, struct xs_timer *t, void *arg)
{
	struct rec *r = arg;

	r->order[r->n] = 99; /* must never run: this timer is disarmed */
	r->n++;
}

struct tagged {
	struct rec *r;
	int tag;
};

static void tagged_cb(struct xs_loop *l, struct xs_timer *t, void *arg)
{
	struct tagged *tg = arg;

	tg->r->order[tg->r->n++] = tg->tag;
	if (tg->tag == 3)
		xs_loop_stop(l);
}

static void test_timers_fire_in_expiry_order(void **state)
{
	struct xs_loop *l = xs_loop_new();
	struct rec r = { 0 };
	struct tagged t1 = { &r, 1 }, t2 = { &r, 2 }, t3 = { &r, 3 };
	struct xs_timer *a = xs_timer_new(l, tagged_cb, &t3);
	struct xs_timer *b = xs_timer_new(l, tagged_cb, &t1);
	struct xs_timer *c = xs_timer_new(l, tagged_cb, &t2);
	struct xs_timer *d = xs_timer_new(l, timer_cb, &r);

	xs_timer_arm(a, 60, 0);
	xs_timer_arm(b, 10, 0);
	xs_timer_arm(c, 30, 0);
	xs_timer_arm(d, 20, 0);
	xs_timer_disarm(d); /* a disarmed timer never fires */
	assert_false(xs_timer_armed(d));
	uint64_t t0 = xs_now_ms();
	assert_int_equal(xs_loop_run(l), 0);
	assert_true(xs_now_ms() - t0 >= 60);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.order[0], 1);
	assert_int_equal(r.order[1], 2);
	assert_int_equal(r.order[2], 3);
	xs_timer_free(a);
	xs_timer_free(b);
	xs_timer_free(c);
	xs_timer_free(d);
	xs_loop_free(l);
}

static void periodic_cb(struct xs_loop *l, struct xs_timer *t, void *arg)
{
	struct rec *r = arg;

	if (++r->periodic == 5) {
		xs_timer_disarm(t);
		xs_loop_stop(l);
	}
}

static void test_periodic_timer(void **state)
{
	struct xs_loop *l = xs_loop_new();
	struct rec r = { 0 };
	struct xs_timer *t = xs_timer_new(l, periodic_cb, &r);

	xs_timer_arm(t, 1, 5);
	assert_int_equal(xs_loop_run(l), 0);
	assert_int_equal(r.periodic, 5);
	assert_false(xs_timer_armed(t));
	xs_timer_free(t);
	xs_loop_free(l);
}

static void read_cb(struct xs_loop *l, int fd, unsigned int ev, void *arg)
{
	struct rec *r = arg;
	char buf[8];

	assert_true(ev & XS_IO_IN);
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n <= 0) {
		xs_loop_del_fd(l, fd);
		xs_loop_stop(l);
		return;
	}
	r->reads += (int)n;
}

static void test_fd_readable_and_hangup(void **state)
{
	struct xs_loop *l = xs_loop_new();
	struct rec r = { 0 };
	int p[2];

	assert_int_equal(pipe(p), 0);
	assert_int_equal(xs_loop_add_fd(l, p[0], XS_IO_IN, read_cb, &r), 0);
	assert_int_equal(xs_loop_add_fd(l, p[0], XS_IO_IN, read_cb, &r), -EEXIST);
	assert_int_equal(write(p[1], "hello", 5), 5);
	close(p[1]); /* EOF after the data ends the loop */
	assert_int_equal(xs_loop_run(l), 0);
	assert_int_equal(r.reads, 5);
	assert_int_equal(xs_loop_del_fd(l, p[0]), -ENOENT);
	close(p[0]);
	xs_loop_free(l);
}

static void sig_cb(struct xs_loop *l, int signo, void *arg)
{
	*(int *)arg = signo;
	xs_loop_stop(l);
}

static void test_signal_delivered_as_callback(void **state)
{
	struct xs_loop *l = xs_loop_new();
	int got = 0;

	assert_int_equal(xs_loop_add_signal(l, SIGUSR1, sig_cb, &got), 0);
	kill(getpid(), SIGUSR1);
	assert_int_equal(xs_loop_run(l), 0);
	assert_int_equal(got, SIGUSR1);
	xs_loop_free(l);
}

static void wake_cb(struct xs_loop *l, void *arg)
{
	*(int *)arg = 42;
	xs_loop_stop(l);
}

static void *waker(void *arg)
{
	usleep(20000);
	xs_loop_wake(arg);
	return NULL;
}

static void test_wake_from_other_thread(void **state)
{
	struct xs_loop *l = xs_loop_new();
	int v = 0;
	pthread_t th;

	assert_int_equal(xs_loop_set_wake(l, wake_cb, &v), 0);
	assert_int_equal(pthread_create(&th, NULL, waker, l), 0);
	assert_int_equal(xs_loop_run(l), 0);
	pthread_join(th, NULL);
	assert_int_equal(v, 42);
	xs_loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timers_fire_in_expiry_order),
		cmocka_unit_test(test_periodic_timer),
		cmocka_unit_test(test_fd_readable_and_hangup),
		cmocka_unit_test(test_signal_delivered_as_callback),
		cmocka_unit_test(test_wake_from_other_thread),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
