/* SPDX-License-Identifier: MIT */
/* umad_spec.h - spec parsing shared by the umad and verbs backends (private). */
#ifndef XS_UMAD_SPEC_H
#define XS_UMAD_SPEC_H

#include <stddef.h>

/* Split "DEV" or "DEV:PORT" (args of "umad:..." / "verbs:...") into ca and
 * port (0 when absent). Logs under component `backend`; -EINVAL when bad. */
int xs_umad_parse_spec(const char *backend, const char *args, char *ca, size_t ca_len,
		       int *port);

#endif /* XS_UMAD_SPEC_H */
