/* SPDX-License-Identifier: MIT */
/*
 * xscore/log.h - levelled logging with per-component debug switches.
 *
 * Daemons log to stderr in foreground mode and to syslog otherwise
 * (xs_log_open). Debug output of a component is off unless switched on at run
 * time (xs_log_set_debug("fabric,sa") or the XS_DEBUG environment variable,
 * a comma list of component names or "all"). Logging never changes errno.
 * XS_DLOG (data-path debug) compiles out unless XS_DATAPATH_DEBUG is defined.
 */
#ifndef XSCORE_LOG_H
#define XSCORE_LOG_H

#include <stdbool.h>

enum xs_log_level {
	XS_LOG_ERR = 3,
	XS_LOG_WARN = 4,
	XS_LOG_NOTICE = 5,
	XS_LOG_INFO = 6,
	XS_LOG_DEBUG = 7,
};

enum xs_log_target {
	XS_LOG_STDERR,
	XS_LOG_SYSLOG,
};

/* Set up logging for a program; ident is the syslog ident / stderr prefix. */
void xs_log_open(const char *ident, enum xs_log_target target, enum xs_log_level level);
void xs_log_set_level(enum xs_log_level level);
/* Enable debug for a comma separated list of components ("all" for every one). */
void xs_log_set_debug(const char *components);
bool xs_log_debug_enabled(const char *component);

void xs_log(enum xs_log_level level, const char *component, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define XS_ERR(comp, ...) xs_log(XS_LOG_ERR, comp, __VA_ARGS__)
#define XS_WARN(comp, ...) xs_log(XS_LOG_WARN, comp, __VA_ARGS__)
#define XS_NOTICE(comp, ...) xs_log(XS_LOG_NOTICE, comp, __VA_ARGS__)
#define XS_INFO(comp, ...) xs_log(XS_LOG_INFO, comp, __VA_ARGS__)
#define XS_DEBUG(comp, ...)                                      \
	do {                                                     \
		if (xs_log_debug_enabled(comp))                  \
			xs_log(XS_LOG_DEBUG, comp, __VA_ARGS__); \
	} while (0)
#ifdef XS_DATAPATH_DEBUG
#define XS_DLOG(comp, ...) XS_DEBUG(comp, __VA_ARGS__)
#else
#define XS_DLOG(comp, ...) do { } while (0)
#endif

#endif /* XSCORE_LOG_H */
