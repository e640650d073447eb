/* SPDX-License-Identifier: MIT */
/* fabricd.h - xs-fabricd internals shared by the switch/SM/CM part and the SA. */
#ifndef XS_FABRICD_H
#define XS_FABRICD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <xscore/evloop.h>
#include <xscore/fabric.h>

#include "soft/soft_proto.h"

#define FD_COMP "fabricd"
#define SA_COMP "sa"

struct client;

/* A port name's identity: kept for the daemon's lifetime (LID, GUID stable). */
struct fd_port {
	struct fd_port *next;
	char name[64];
	uint16_t lid;
	uint64_t guid;
	uint8_t gid[16];
	uint16_t pkeys[XS_MAX_PKEYS];
	int n_pkeys;
	struct client *client; /* attached client, or NULL */
};

struct fd_counters {
	uint64_t bad_msgs;          /* garbage/short/oversized/unknown on a client socket */
	uint64_t clients_dropped;   /* clients dropped for bad input or not reading */
	uint64_t attaches;
	uint64_t mads_routed;
	uint64_t mads_drop_pkey;    /* no shared P_Key */
	uint64_t mads_drop_nolid;   /* DLID unknown or port detached */
	uint64_t mads_drop_noagent; /* no agent for the class at the destination */
	uint64_t mads_drop_qpn;     /* destination QP not the GSI */
	uint64_t mads_drop_full;    /* destination's socket full */
	uint64_t sa_requests;
	uint64_t sa_bad;
	uint64_t cm_reqs;
	uint64_t cm_established;
	uint64_t cm_rejected;
	uint64_t cm_timeouts;
	uint64_t cm_unreachable;
};

struct fabricd {
	struct xs_loop *loop;
	const char *sock_path;
	int lfd;
	struct fd_port *ports;
	uint16_t next_lid;
	uint8_t sm_gid[16];
	uint64_t sm_guid;
	struct client *clients;
	struct conn *conns;
	uint32_t next_conn_id;
	struct xs_timer *reap_timer;
	struct sa *sa;
	struct fd_counters cnt;
	const char *state_path; /* -S */
	FILE *state;
};

/* Port lookup for the SA. */
struct fd_port *fd_port_by_lid(struct fabricd *d, uint16_t lid);
struct fd_port *fd_port_by_gid(struct fabricd *d, const uint8_t gid[16]);
/* P_Key shared by a and b (full member on at least one side), or 0. With
 * want != 0 only that P_Key is considered. The SM (port NULL) shares all. */
uint16_t fd_shared_pkey(const struct fd_port *a, const struct fd_port *b, uint16_t want);

/* The SA (sa.c). */
struct sa *fd_sa_new(struct fabricd *d);
void fd_sa_free(struct sa *sa);
/* Handle one SA MAD from port src; fills resp (MAD_RECV bodies) and returns the
 * number of responses (0 = nothing to answer), at most max. */
int fd_sa_handle(struct sa *sa, struct fd_port *src, const struct xs_softp_mad_send *req,
		 struct xs_softp_mad_recv *resp, int max);
void fd_sa_port_detached(struct sa *sa, struct fd_port *p);

#endif /* XS_FABRICD_H */
