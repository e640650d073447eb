/* SPDX-License-Identifier: MIT */
/* log.c - levelled logging to stderr or syslog, per-component debug switches. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <xscore/log.h>

static char log_ident[32] = "xs";
static enum xs_log_target log_target = XS_LOG_STDERR;
static enum xs_log_level log_level = XS_LOG_INFO;
static char debug_list[256];
static bool debug_all;
static pthread_once_t env_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static void read_env(void)
{
	const char *e = getenv("XS_DEBUG");

	if (e && *e)
		xs_log_set_debug(e);
	e = getenv("XS_LOG_LEVEL");
	if (e && *e)
		log_level = (enum xs_log_level)atoi(e);
}

void xs_log_open(const char *ident, enum xs_log_target target, enum xs_log_level level)
{
	pthread_once(&env_once, read_env);
	snprintf(log_ident, sizeof(log_ident), "%s", ident ? ident : "xs");
	log_target = target;
	if (!getenv("XS_LOG_LEVEL"))
		log_level = level;
	if (target == XS_LOG_SYSLOG)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void xs_log_set_level(enum xs_log_level level) { log_level = level; }

void xs_log_set_debug(const char *components)
{
	pthread_mutex_lock(&log_lock);
	snprintf(debug_list, sizeof(debug_list), ",%s,", components ? components : "");
	debug_all = components && (strcmp(components, "all") == 0 || strcmp(components, "1") == 0);
	pthread_mutex_unlock(&log_lock);
}

bool xs_log_debug_enabled(const char *component)
{
	char key[40];

	pthread_once(&env_once, read_env);
	if (debug_all)
		return true;
	if (!debug_list[0] || !component)
		return false;
	snprintf(key, sizeof(key), ",%s,", component);
	return strstr(debug_list, key) != NULL;
}

static const char *level_name(enum xs_log_level l)
{
	switch (l) {
	case XS_LOG_ERR: return "error";
	case XS_LOG_WARN: return "warning";
	case XS_LOG_NOTICE: return "notice";
	case XS_LOG_INFO: return "info";
	case XS_LOG_DEBUG: return "debug";
	}
	return "log";
}

void xs_log(enum xs_log_level level, const char *component, const char *fmt, ...)
{
	int saved = errno;
	char msg[1024];
	va_list ap;

	pthread_once(&env_once, read_env);
	if (level > log_level && level != XS_LOG_DEBUG)
		goto out;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (log_target == XS_LOG_SYSLOG) {
		syslog((int)level, "%s: %s", component ? component : "-", msg);
	} else {
		struct timespec ts;
		struct tm tm;
		char tbuf[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(tbuf, sizeof(tbuf), "%H:%M:%S", &tm);
		pthread_mutex_lock(&log_lock);
		fprintf(stderr, "%s.%03ld %s[%s] %s: %s\n", tbuf, ts.tv_nsec / 1000000, log_ident,
			component ? component : "-", level_name(level), msg);
		pthread_mutex_unlock(&log_lock);
	}
out:
	errno = saved;
}
