/* SPDX-License-Identifier: MIT */
/* stats.c - per-codec rejection counters and the shared reject path. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

#include "wire_int.h"

static _Atomic uint64_t wire_rejects[XS_WIRE_N_CODECS];

static const char *const codec_names[XS_WIRE_N_CODECS] = {
	[XS_WIRE_MAD_HDR] = "mad_hdr",
	[XS_WIRE_SA_HDR] = "sa_hdr",
	[XS_WIRE_SERVICE_RECORD] = "service_record",
	[XS_WIRE_PATH_RECORD] = "path_record",
	[XS_WIRE_XCPM_REQUEST] = "xcpm_request",
	[XS_WIRE_XCPM_REPLY] = "xcpm_reply",
	[XS_WIRE_XSMP_HDR] = "xsmp_hdr",
	[XS_WIRE_XSMP_SESSION] = "xsmp_session",
};

uint64_t xs_wire_rejects(enum xs_wire_codec codec)
{
	if ((unsigned int)codec >= XS_WIRE_N_CODECS)
		return 0;
	return atomic_load_explicit(&wire_rejects[codec], memory_order_relaxed);
}

const char *xs_wire_codec_name(enum xs_wire_codec codec)
{
	/* a codec added to the enum without a name here still gets a string */
	if ((unsigned int)codec >= XS_WIRE_N_CODECS || !codec_names[codec])
		return "unknown";
	return codec_names[codec];
}

int xs_wire_reject(enum xs_wire_codec codec, int err, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if ((unsigned int)codec < XS_WIRE_N_CODECS)
		atomic_fetch_add_explicit(&wire_rejects[codec], 1, memory_order_relaxed);
	if (!xs_log_debug_enabled(XS_WIRE_LOG))
		return err;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	xs_log(XS_LOG_DEBUG, XS_WIRE_LOG, "rejected %s input (%s): %s",
	       xs_wire_codec_name(codec), xs_strerror(err), msg);
	return err;
}
