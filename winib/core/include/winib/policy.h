/* SPDX-License-Identifier: MIT */
/*
 * winib/policy.h - the lock and allocation policy for special modes.
 *
 * Crash-dump, hibernation and boot-device paths run with other processors
 * frozen, often at HIGH_LEVEL. A spinlock held by a frozen processor would
 * never be released, and pool allocation is not allowed there. The policy
 * makes the rules one place:
 *
 *   mode      IRQL <= DISPATCH        IRQL > DISPATCH
 *   NORMAL    take the spinlock       refuse (-EPERM, locks_refused++)
 *   special   take the spinlock       no spinlock: single-threaded; if the
 *                                     lock is marked held (by a frozen CPU)
 *                                     the data is unsafe: -EBUSY
 *
 *   allocation: allowed only in NORMAL mode at IRQL <= DISPATCH; otherwise
 *   NULL and allocs_denied++. The bus preallocates its pools so that port
 *   and P_Key operations never allocate.
 */
#ifndef WINIB_POLICY_H
#define WINIB_POLICY_H

#include "winib/common.h"

struct winib_lock {
	void *os_lock;      /* host spinlock (KSPIN_LOCK in the driver) */
	volatile int held;  /* set while any holder (real or elided) is inside */
};

/* What an acquire did, so release can undo exactly that. */
struct winib_lock_ctx {
	unsigned old_irql;
	bool spun;          /* a real spinlock was taken */
};

static inline bool winib_mode_is_special(enum winib_mode m)
{
	return m != WINIB_MODE_NORMAL;
}

const char *winib_mode_name(enum winib_mode m);

/* Switch mode (the glue does this on bugcheck, hibernate, boot paths). */
void winib_policy_set_mode(struct winib_env *env, enum winib_mode mode);

void winib_lock_init(struct winib_lock *lk, void *os_lock);
/* 0 on success; -EPERM or -EBUSY as in the table above. */
int winib_lock_acquire(struct winib_env *env, struct winib_lock *lk, struct winib_lock_ctx *lc);
void winib_lock_release(struct winib_env *env, struct winib_lock *lk, const struct winib_lock_ctx *lc);

/* Policy-checked allocation: zeroed memory, or NULL (denied or host failed). */
void *winib_alloc(struct winib_env *env, size_t size);
void winib_free(struct winib_env *env, void *p);

#endif /* WINIB_POLICY_H */
