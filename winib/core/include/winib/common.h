/* SPDX-License-Identifier: MIT */
/*
 * winib/common.h - conventions of the winib portable core.
 *
 * The core is plain C with no Windows and no OS headers: it builds into the
 * Linux unit tests and, unchanged, into the kernel-mode .sys cross-built
 * with mingw-w64. It never calls the C library's allocator, stdio or string
 * functions; everything it needs from the OS comes through the environment
 * ops table below, which the WDM glue and the test harness each fill in.
 *
 * Error convention (same as the rest of the project):
 *   - int functions return 0 (or a non-negative count) on success and a
 *     negative errno value on failure (-EINVAL, -ENOMEM, -ENOSPC, ...);
 *   - constructors return a pointer, or NULL with *err (an int out
 *     parameter) set to a negative errno. The core does not touch the C
 *     library's errno because in kernel mode there is none.
 */
#ifndef WINIB_COMMON_H
#define WINIB_COMMON_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * 64-bit constants: one macro for every compiler. gcc, clang and mingw-w64
 * take UINT64_C from <stdint.h>; old Microsoft compilers (before VS2010)
 * had neither <stdint.h>'s macro nor reliable ULL suffixes, so they get the
 * ui64 suffix. Writing 0x...ULL by hand, or a bare 0x1234567890, is what
 * made the original driver trip -Wlong-long / C4305 / static analysers.
 */
#if defined(_MSC_VER) && _MSC_VER < 1600
#define WINIB_U64(c) (c##ui64)
#else
#define WINIB_U64(c) UINT64_C(c)
#endif

#define WINIB_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define winib_container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* printf-style format checking where the compiler knows the attribute.
 * winib_fmt is our own (C99 %zu, %llx), so mingw-gcc must check against
 * gnu_printf rather than its default Microsoft printf rules. */
#if defined(__MINGW32__) && defined(__GNUC__) && !defined(__clang__)
#define WINIB_PRINTF(f, a) __attribute__((format(gnu_printf, f, a)))
#elif defined(__GNUC__) || defined(__clang__)
#define WINIB_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define WINIB_PRINTF(f, a)
#endif

/* Windows IRQL values the lock policy reasons about (same numbers as WDM). */
#define WINIB_PASSIVE_LEVEL 0u
#define WINIB_APC_LEVEL 1u
#define WINIB_DISPATCH_LEVEL 2u
#define WINIB_HIGH_LEVEL 15u

enum winib_log_level {
	WINIB_LOG_ERR = 0,
	WINIB_LOG_WARN = 1,
	WINIB_LOG_INFO = 2,
	WINIB_LOG_DEBUG = 3,
};

/*
 * What the core needs from its host. Every member must be set.
 *   alloc:  zero-filled memory from a non-paged pool, or NULL.
 *   log:    one finished line of text, no trailing newline.
 *   irql:   the caller's current IRQL (Linux tests simulate it).
 *   lock/unlock: a spinlock, raising to DISPATCH_LEVEL; *old_irql is what
 *           unlock restores.
 */
struct winib_env_ops {
	void *(*alloc)(void *ctx, size_t size);
	void (*free)(void *ctx, void *p);
	void (*log)(void *ctx, enum winib_log_level level, const char *line);
	unsigned (*irql)(void *ctx);
	void (*lock)(void *ctx, void *os_lock, unsigned *old_irql);
	void (*unlock)(void *ctx, void *os_lock, unsigned old_irql);
};

/* Operating modes; everything but NORMAL is a "special" mode. */
enum winib_mode {
	WINIB_MODE_NORMAL = 0,
	WINIB_MODE_CRASHDUMP,
	WINIB_MODE_HIBERNATE,
	WINIB_MODE_BOOT,
};

/* Counters kept by the lock policy; tests and the debugger read them. */
struct winib_policy_stats {
	uint64_t locks_taken;    /* real spinlock acquisitions */
	uint64_t locks_elided;   /* special mode above DISPATCH: no spinlock */
	uint64_t locks_busy;     /* special mode found the lock already held */
	uint64_t locks_refused;  /* normal mode asked for a lock above DISPATCH */
	uint64_t allocs;         /* allocations passed to the host */
	uint64_t allocs_denied;  /* allocations refused by the policy */
};

/*
 * The environment: host ops plus the lock policy state. Embed or allocate
 * one per driver; every core object keeps a pointer to it.
 */
struct winib_env {
	const struct winib_env_ops *ops;
	void *ctx;
	enum winib_log_level log_level; /* lines above this level are dropped */
	enum winib_mode mode;
	struct winib_policy_stats stats;
	uint64_t log_dropped;           /* lines cut because they were too long */
};

/* Initialise an environment in NORMAL mode with logging at INFO. */
void winib_env_init(struct winib_env *env, const struct winib_env_ops *ops, void *ctx);

/* Format and log one line (bounded to WINIB_LOG_LINE_MAX bytes). */
#define WINIB_LOG_LINE_MAX 256
void winib_log(struct winib_env *env, enum winib_log_level level, const char *fmt, ...)
	WINIB_PRINTF(3, 4);

/*
 * Tiny freestanding helpers (the core links against no C library).
 * winib_fmt understands %s %c %d %u %x %X %p %% with optional '0' flag,
 * width, and the l / ll / z length modifiers. It always NUL-terminates
 * and returns the length it wanted to write (like snprintf).
 */
size_t winib_fmt(char *buf, size_t cap, const char *fmt, ...) WINIB_PRINTF(3, 4);
size_t winib_vfmt(char *buf, size_t cap, const char *fmt, va_list ap);

size_t winib_strlen(const char *s);
size_t winib_strnlen(const char *s, size_t max);
int winib_strcasecmp(const char *a, const char *b);
int winib_strncasecmp(const char *a, const char *b, size_t n);
void winib_memcpy(void *dst, const void *src, size_t n);
void winib_memset(void *dst, int c, size_t n);
int winib_tolower(int c);
bool winib_isspace(int c);
/* Copy at most cap-1 bytes and NUL-terminate; returns -ENAMETOOLONG if cut. */
int winib_strlcpy(char *dst, const char *src, size_t cap);
/* Duplicate [s, s+len) into env memory, NUL-terminated; NULL if refused. */
char *winib_strndup(struct winib_env *env, const char *s, size_t len);

/* Parse an unsigned number: decimal, or hex with 0x. Whole string must match. */
int winib_parse_u64(const char *s, size_t len, uint64_t *out);

#endif /* WINIB_COMMON_H */
