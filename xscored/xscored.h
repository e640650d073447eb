/* SPDX-License-Identifier: MIT */
/* xscored.h - private to the host agent daemon and xsctl. */
#ifndef XSCORED_H
#define XSCORED_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include <xscore/evloop.h>
#include <xscore/host.h>

#define XSCORED_DEFAULT_STATE_DIR "/run/xsigo"
#define XSCORED_MAX_REQUEST 4096
#define XSCORED_IO_TIMEOUT_MS 2000

/* Configuration registry (record-only ULP modules), one per host. */
struct xscored_registry {
	uint32_t n_entries;
	uint64_t installs, updates, removes;
};
/* Registers the record-only vNIC handler when @vnic_too and the vHBA one
 * when @vhba_too (xscored --no-devices, or no vHBA module built: no TAP
 * interfaces / no LUN mounts are created). */
int xscored_registry_attach(struct xscored_registry *r, struct xs_host *h, bool vnic_too,
			    bool vhba_too);
uint32_t xscored_registry_updates(const struct xs_ulp_dev *dev);
uint64_t xscored_registry_changed_ms(const struct xs_ulp_dev *dev);

struct xsvnic_mod;
struct xsvhba_mod;
struct xscored_host {
	struct xs_host *host;
	struct xscored_registry registry;
	struct xsvnic_mod *vnic;    /* the vNIC module, NULL with --no-devices */
	struct xsvhba_mod *vhba;    /* the vHBA module, NULL with --no-devices */
};

struct xscored {
	struct xs_loop *loop;
	struct xscored_host *hosts;
	int n_hosts;
	uint64_t started_ms;
	int listen_fd;
	char sock_path[256];
	struct xs_timer *stop_timer;
	uint64_t stop_deadline_ms;
};

/* Control socket (control.c) */
int xscored_control_open(struct xscored *d);
void xscored_control_close(struct xscored *d);
/* The status document (also used by tests through the socket). */
json_t *xscored_status_json(struct xscored *d);

/* Socket path from the options, shared with xsctl. */
void xscored_sock_path(char *buf, size_t len, const char *state_dir, const char *name);

#endif /* XSCORED_H */
