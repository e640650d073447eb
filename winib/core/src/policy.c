/* SPDX-License-Identifier: MIT */
/*
 * policy.c - spinlock and allocation rules for normal and special modes
 * (table in winib/policy.h).
 */
#include "winib/policy.h"

const char *winib_mode_name(enum winib_mode m)
{
	switch (m) {
	case WINIB_MODE_NORMAL:
		return "normal";
	case WINIB_MODE_CRASHDUMP:
		return "crash-dump";
	case WINIB_MODE_HIBERNATE:
		return "hibernation";
	case WINIB_MODE_BOOT:
		return "boot";
	}
	return "unknown";
}

void winib_policy_set_mode(struct winib_env *env, enum winib_mode mode)
{
	/* No logging here: this runs from a bugcheck callback at HIGH_LEVEL. */
	env->mode = mode;
}

void winib_lock_init(struct winib_lock *lk, void *os_lock)
{
	lk->os_lock = os_lock;
	lk->held = 0;
}

int winib_lock_acquire(struct winib_env *env, struct winib_lock *lk, struct winib_lock_ctx *lc)
{
	unsigned irql = env->ops->irql(env->ctx);

	lc->spun = false;
	lc->old_irql = irql;
	if (irql > WINIB_DISPATCH_LEVEL) {
		if (!winib_mode_is_special(env->mode)) {
			env->stats.locks_refused++;
			return -EPERM;
		}
		/*
		 * Special mode: one processor runs, the others are frozen.
		 * Spinning could wait forever on a frozen owner, so take no
		 * spinlock; if an owner was frozen inside, the data may be
		 * half-updated and the caller must leave it alone.
		 */
		if (lk->held) {
			env->stats.locks_busy++;
			return -EBUSY;
		}
		lk->held = 1;
		env->stats.locks_elided++;
		return 0;
	}
	env->ops->lock(env->ctx, lk->os_lock, &lc->old_irql);
	lc->spun = true;
	lk->held = 1;
	env->stats.locks_taken++;
	return 0;
}

void winib_lock_release(struct winib_env *env, struct winib_lock *lk, const struct winib_lock_ctx *lc)
{
	lk->held = 0;
	if (lc->spun)
		env->ops->unlock(env->ctx, lk->os_lock, lc->old_irql);
}

void *winib_alloc(struct winib_env *env, size_t size)
{
	void *p;

	if (winib_mode_is_special(env->mode) || env->ops->irql(env->ctx) > WINIB_DISPATCH_LEVEL) {
		env->stats.allocs_denied++;
		return NULL;
	}
	p = env->ops->alloc(env->ctx, size);
	if (p != NULL)
		env->stats.allocs++;
	return p;
}

void winib_free(struct winib_env *env, void *p)
{
	if (p != NULL)
		env->ops->free(env->ctx, p);
}
