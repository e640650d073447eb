/* SPDX-License-Identifier: MIT */
/*
 * evloop.c - epoll event loop with millisecond timers and signalfd signals.
 *
 * Why not libevent: every fd we wait on is one of our own (fabric event fds,
 * CQ fds, sockets); we need only fds, timers and signals, and a ~300-line
 * loop keeps the daemons free of a second callback model. Timers are kept in
 * a binary min-heap keyed by expiry, so thousands of session timers cost
 * O(log n) each.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <xscore/common.h>
#include <xscore/evloop.h>
#include <xscore/log.h>

#define COMP "loop"

struct io_slot {
	int fd;
	xs_io_cb cb;
	void *arg;
	bool live;
};

struct xs_timer {
	struct xs_loop *loop;
	xs_timer_cb cb;
	void *arg;
	uint64_t expiry;
	uint64_t period;
	int heap_idx; /* -1 when disarmed */
};

struct sig_slot {
	int signo;
	xs_signal_cb cb;
	void *arg;
};

struct xs_loop {
	int epfd;
	bool stop;
	uint64_t now;
	/* fd -> slot, indexed by fd number */
	struct io_slot *slots;
	int nslots;
	/* timer heap */
	struct xs_timer **heap;
	int nheap, capheap;
	/* signals */
	int sigfd;
	sigset_t sigmask;
	struct sig_slot sigs[16];
	int nsigs;
	/* wake-up */
	int wakefd;
	xs_wake_cb wake_cb;
	void *wake_arg;
};

static void update_now(struct xs_loop *l) { l->now = xs_now_ms(); }

struct xs_loop *xs_loop_new(void)
{
	struct xs_loop *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		goto err_free;
	l->sigfd = -1;
	l->wakefd = -1;
	sigemptyset(&l->sigmask);
	update_now(l);
	return l;

err_free:
	{
		int e = errno;

		free(l);
		errno = e;
	}
	return NULL;
}

void xs_loop_free(struct xs_loop *l)
{
	if (!l)
		return;
	for (int i = 0; i < l->nheap; i++)
		l->heap[i]->heap_idx = -1;
	free(l->heap);
	free(l->slots);
	if (l->sigfd >= 0)
		close(l->sigfd);
	if (l->wakefd >= 0)
		close(l->wakefd);
	close(l->epfd);
	free(l);
}

uint64_t xs_loop_now(struct xs_loop *l) { return l->now; }
void xs_loop_stop(struct xs_loop *l) { l->stop = true; }

static uint32_t to_epoll(unsigned int ev)
{
	uint32_t e = 0;

	if (ev & XS_IO_IN)
		e |= EPOLLIN;
	if (ev & XS_IO_OUT)
		e |= EPOLLOUT;
	return e;
}

static int ensure_slot(struct xs_loop *l, int fd)
{
	if (fd < l->nslots)
		return 0;
	int n = l->nslots ? l->nslots : 64;

	while (n <= fd)
		n *= 2;
	struct io_slot *s = realloc(l->slots, (size_t)n * sizeof(*s));

	if (!s)
		return -ENOMEM;
	memset(s + l->nslots, 0, (size_t)(n - l->nslots) * sizeof(*s));
	l->slots = s;
	l->nslots = n;
	return 0;
}

int xs_loop_add_fd(struct xs_loop *l, int fd, unsigned int events, xs_io_cb cb, void *arg)
{
	struct epoll_event ee = { .events = to_epoll(events), .data.fd = fd };
	int rc;

	if (fd < 0 || !cb)
		return -EINVAL;
	rc = ensure_slot(l, fd);
	if (rc < 0)
		return rc;
	if (l->slots[fd].live)
		return -EEXIST;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ee) < 0)
		return -errno;
	l->slots[fd] = (struct io_slot){ .fd = fd, .cb = cb, .arg = arg, .live = true };
	return 0;
}

int xs_loop_mod_fd(struct xs_loop *l, int fd, unsigned int events)
{
	struct epoll_event ee = { .events = to_epoll(events), .data.fd = fd };

	if (fd < 0 || fd >= l->nslots || !l->slots[fd].live)
		return -ENOENT;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ee) < 0)
		return -errno;
	return 0;
}

int xs_loop_del_fd(struct xs_loop *l, int fd)
{
	if (fd < 0 || fd >= l->nslots || !l->slots[fd].live)
		return -ENOENT;
	l->slots[fd].live = false;
	if (epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL) < 0 && errno != EBADF)
		return -errno;
	return 0;
}

/* ----------------------------------------------------------------- timers */

static void heap_swap(struct xs_loop *l, int a, int b)
{
	struct xs_timer *t = l->heap[a];

	l->heap[a] = l->heap[b];
	l->heap[b] = t;
	l->heap[a]->heap_idx = a;
	l->heap[b]->heap_idx = b;
}

static void heap_up(struct xs_loop *l, int i)
{
	while (i > 0) {
		int p = (i - 1) / 2;

		if (l->heap[p]->expiry <= l->heap[i]->expiry)
			break;
		heap_swap(l, p, i);
		i = p;
	}
}

static void heap_down(struct xs_loop *l, int i)
{
	for (;;) {
		int c = 2 * i + 1, m = i;

		if (c < l->nheap && l->heap[c]->expiry < l->heap[m]->expiry)
			m = c;
		if (c + 1 < l->nheap && l->heap[c + 1]->expiry < l->heap[m]->expiry)
			m = c + 1;
		if (m == i)
			return;
		heap_swap(l, i, m);
		i = m;
	}
}

static void heap_remove(struct xs_loop *l, struct xs_timer *t)
{
	int i = t->heap_idx;

	if (i < 0)
		return;
	l->nheap--;
	if (i != l->nheap) {
		l->heap[i] = l->heap[l->nheap];
		l->heap[i]->heap_idx = i;
		heap_down(l, i);
		heap_up(l, i);
	}
	t->heap_idx = -1;
}

struct xs_timer *xs_timer_new(struct xs_loop *l, xs_timer_cb cb, void *arg)
{
	struct xs_timer *t;

	if (!cb) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->loop = l;
	t->cb = cb;
	t->arg = arg;
	t->heap_idx = -1;
	return t;
}

void xs_timer_arm(struct xs_timer *t, uint64_t delay_ms, uint64_t period_ms)
{
	struct xs_loop *l = t->loop;

	heap_remove(l, t);
	if (l->nheap == l->capheap) {
		int n = l->capheap ? l->capheap * 2 : 64;
		struct xs_timer **h = realloc(l->heap, (size_t)n * sizeof(*h));

		if (!h) {
			XS_ERR(COMP, "timer heap: out of memory; timer not armed");
			return;
		}
		l->heap = h;
		l->capheap = n;
	}
	t->expiry = xs_now_ms() + delay_ms;
	t->period = period_ms;
	t->heap_idx = l->nheap;
	l->heap[l->nheap++] = t;
	heap_up(l, t->heap_idx);
}

void xs_timer_disarm(struct xs_timer *t)
{
	if (t)
		heap_remove(t->loop, t);
}

int xs_timer_armed(const struct xs_timer *t) { return t && t->heap_idx >= 0; }

void xs_timer_free(struct xs_timer *t)
{
	if (!t)
		return;
	heap_remove(t->loop, t);
	free(t);
}

static void run_timers(struct xs_loop *l)
{
	update_now(l);
	while (l->nheap && l->heap[0]->expiry <= l->now && !l->stop) {
		struct xs_timer *t = l->heap[0];

		heap_remove(l, t);
		if (t->period)
			xs_timer_arm(t, t->period, t->period);
		t->cb(l, t, t->arg); /* may free or re-arm t */
	}
}

static int next_timeout(struct xs_loop *l)
{
	if (!l->nheap)
		return -1;
	update_now(l);
	if (l->heap[0]->expiry <= l->now)
		return 0;
	uint64_t d = l->heap[0]->expiry - l->now;

	return d > 60000 ? 60000 : (int)d;
}

/* ---------------------------------------------------------------- signals */

static void on_signalfd(struct xs_loop *l, int fd, unsigned int ev, void *arg)
{
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		for (int i = 0; i < l->nsigs; i++)
			if (l->sigs[i].signo == (int)si.ssi_signo)
				l->sigs[i].cb(l, (int)si.ssi_signo, l->sigs[i].arg);
	}
}

int xs_loop_add_signal(struct xs_loop *l, int signo, xs_signal_cb cb, void *arg)
{
	int fd;

	if (!cb || l->nsigs == (int)XS_ARRAY_SIZE(l->sigs))
		return -EINVAL;
	sigaddset(&l->sigmask, signo);
	if (pthread_sigmask(SIG_BLOCK, &l->sigmask, NULL) != 0)
		return -EINVAL;
	fd = signalfd(l->sigfd, &l->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (l->sigfd < 0) {
		int rc = xs_loop_add_fd(l, fd, XS_IO_IN, on_signalfd, NULL);

		if (rc < 0) {
			close(fd);
			return rc;
		}
		l->sigfd = fd;
	}
	l->sigs[l->nsigs++] = (struct sig_slot){ .signo = signo, .cb = cb, .arg = arg };
	return 0;
}

/* ---------------------------------------------------------------- wake-up */

static void on_wakefd(struct xs_loop *l, int fd, unsigned int ev, void *arg)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v) && l->wake_cb)
		l->wake_cb(l, l->wake_arg);
}

int xs_loop_set_wake(struct xs_loop *l, xs_wake_cb cb, void *arg)
{
	if (l->wakefd < 0) {
		int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), rc;

		if (fd < 0)
			return -errno;
		rc = xs_loop_add_fd(l, fd, XS_IO_IN, on_wakefd, NULL);
		if (rc < 0) {
			close(fd);
			return rc;
		}
		l->wakefd = fd;
	}
	l->wake_cb = cb;
	l->wake_arg = arg;
	return 0;
}

void xs_loop_wake(struct xs_loop *l)
{
	uint64_t one = 1;

	if (l->wakefd >= 0 && write(l->wakefd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		XS_WARN(COMP, "wake-up write failed: %s", strerror(errno));
}

/* ------------------------------------------------------------------- run */

int xs_loop_run(struct xs_loop *l)
{
	struct epoll_event evs[64];

	l->stop = false;
	while (!l->stop) {
		int n = epoll_wait(l->epfd, evs, (int)XS_ARRAY_SIZE(evs), next_timeout(l));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		update_now(l);
		for (int i = 0; i < n && !l->stop; i++) {
			int fd = evs[i].data.fd;
			unsigned int ev = 0;

			if (fd >= l->nslots || !l->slots[fd].live)
				continue; /* removed by an earlier callback */
			if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				ev |= XS_IO_IN;
			if (evs[i].events & EPOLLOUT)
				ev |= XS_IO_OUT;
			if (evs[i].events & (EPOLLERR | EPOLLHUP))
				ev |= XS_IO_HUP;
			l->slots[fd].cb(l, fd, ev, l->slots[fd].arg);
		}
		run_timers(l);
	}
	return 0;
}
