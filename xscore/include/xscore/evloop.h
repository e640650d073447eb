/* SPDX-License-Identifier: MIT */
/*
 * xscore/evloop.h - the single-threaded event loop every daemon runs:
 * file descriptors (epoll), one-shot/periodic timers in milliseconds, and
 * signals (signalfd) delivered as ordinary callbacks.
 *
 * Callbacks run on the loop's thread. A callback may add or remove fds and
 * timers (including its own). xs_loop_stop() makes xs_loop_run() return
 * after the current callback. Not thread-safe except xs_loop_wake(), which
 * may be called from any thread to run the wake callback on the loop.
 */
#ifndef XSCORE_EVLOOP_H
#define XSCORE_EVLOOP_H

#include <stdint.h>

struct xs_loop;
struct xs_timer;

/* events: XS_EV_IN / XS_EV_OUT bits; on error/hangup IN is reported too. */
#define XS_IO_IN 0x1u
#define XS_IO_OUT 0x4u
#define XS_IO_HUP 0x10u

typedef void (*xs_io_cb)(struct xs_loop *loop, int fd, unsigned int events, void *arg);
typedef void (*xs_timer_cb)(struct xs_loop *loop, struct xs_timer *t, void *arg);
typedef void (*xs_signal_cb)(struct xs_loop *loop, int signo, void *arg);
typedef void (*xs_wake_cb)(struct xs_loop *loop, void *arg);

struct xs_loop *xs_loop_new(void);
void xs_loop_free(struct xs_loop *loop);
/* Run until xs_loop_stop(); returns 0, or -errno if epoll fails. */
int xs_loop_run(struct xs_loop *loop);
void xs_loop_stop(struct xs_loop *loop);
/* Milliseconds on the monotonic clock, cached per loop iteration. */
uint64_t xs_loop_now(struct xs_loop *loop);

int xs_loop_add_fd(struct xs_loop *loop, int fd, unsigned int events, xs_io_cb cb, void *arg);
int xs_loop_mod_fd(struct xs_loop *loop, int fd, unsigned int events);
int xs_loop_del_fd(struct xs_loop *loop, int fd);

/* Timers: created disarmed; arm with a delay (and period 0 = one shot). */
struct xs_timer *xs_timer_new(struct xs_loop *loop, xs_timer_cb cb, void *arg);
void xs_timer_arm(struct xs_timer *t, uint64_t delay_ms, uint64_t period_ms);
void xs_timer_disarm(struct xs_timer *t);
int xs_timer_armed(const struct xs_timer *t);
void xs_timer_free(struct xs_timer *t);

/* Block the signal in the calling thread and deliver it through the loop. */
int xs_loop_add_signal(struct xs_loop *loop, int signo, xs_signal_cb cb, void *arg);

/* Cross-thread wake-up: cb runs on the loop after xs_loop_wake(). */
int xs_loop_set_wake(struct xs_loop *loop, xs_wake_cb cb, void *arg);
void xs_loop_wake(struct xs_loop *loop);

#endif /* XSCORE_EVLOOP_H */
