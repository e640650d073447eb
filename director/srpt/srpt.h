/* SPDX-License-Identifier: MIT */
/*
 * srpt/srpt.h - the director's SRP target (library xsd_srpt): SRP (INCITS
 * 365) over RC connections of the fabric API, in front of an xsd_scsi
 * target.
 *
 * The target listens on one service ID (the IOC GUID in IB SRP terms). A
 * connect request whose private data is an SRP_LOGIN_REQ becomes an RDMA
 * channel with its own QP, CQ, receive ring, credit slots and an I_T nexus
 * of the SCSI target; everything else is refused with an SRP_LOGIN_REJ in
 * the CM REJ private data. Commands are decoded, their data moved with RDMA
 * READ (data-out) / RDMA WRITE (data-in) against the initiator's
 * descriptors, executed by xsd_scsi and answered with SRP_RSP (status,
 * sense, residuals, REQ_LIM_DELTA).
 *
 * One thread: everything runs from the caller's event loop. The target
 * registers in the loop: the scsi target's fd, each channel's CQ fd and,
 * with own_fabric_events, the fabric's event fd. When the caller shares the
 * fabric with others it keeps the event fd and passes every event to
 * xsd_srpt_handle_event().
 *
 * Errors: int functions return 0 (or a count) or a negative errno,
 * constructors NULL with errno set.
 */
#ifndef XSD_SRPT_H
#define XSD_SRPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xscore/evloop.h>
#include <xscore/fabric.h>

#include "scsi/scsi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Default service ID / IOC GUID: Xsigo OUI 00:13:97, then "SRPT". */
#define XSD_SRPT_DEFAULT_SERVICE_ID UINT64_C(0x0013970053525054)
#define XSD_SRPT_DEFAULT_REQ_LIM 64
#define XSD_SRPT_MAX_REQ_LIM 1024
/*
 * Initiator -> target IU length. A login asking for more than the target's
 * max_it_iu_len is rejected with SRP_LOGIN_REJ reason 0x00010002 (requested
 * maximum initiator to target IU length too large), as INCITS 365 has it;
 * a login within it is accepted and answered with the requested length
 * (one receive buffer of that size per credit). The default covers the
 * Linux ib_srp initiator's default request of 8260 (48 + 16 + 4 + 8 KiB of
 * immediate data) with the 84-byte header room Linux ib_srpt keeps too.
 */
#define XSD_SRPT_MIN_IT_IU_LEN 64
#define XSD_SRPT_DEFAULT_MAX_IU 8276
#define XSD_SRPT_MAX_MAX_IU 65536
#define XSD_SRPT_DEFAULT_MAX_XFER (1u << 20)
#define XSD_SRPT_MAX_DESCS 64            /* descriptors per command, at most */
#define XSD_SRPT_TI_IU_LEN 256           /* target -> initiator IU bytes */

struct xsd_srpt;

/* Options that can grow: set .size = sizeof(struct xsd_srpt_opts). */
struct xsd_srpt_opts {
	size_t size;
	uint64_t service_id;     /* 0: XSD_SRPT_DEFAULT_SERVICE_ID */
	uint32_t req_lim;        /* credits per channel, 1..1024 (default 64) */
	uint32_t max_it_iu_len;  /* largest IU accepted, 64..65536 (default 8276) */
	uint32_t max_xfer;       /* data buffer per command (default 1 MiB) */
	uint32_t max_channels;   /* default 64 */
	bool own_fabric_events;  /* put the fabric's event fd in the loop */
	bool default_visible;    /* initiators without a mask see every LUN
				  * (true) or none (false) */
	uint8_t reserved[46];
};
_Static_assert(sizeof(struct xsd_srpt_opts) == 80, "srpt opts ABI");

/*
 * Start listening. @t is driven by the SRP target from then on (its fd is
 * put in @loop); the caller keeps ownership and frees it after
 * xsd_srpt_free(). NULL with errno: EINVAL (bad opts), EADDRINUSE (service
 * ID taken), ENOMEM, or what the fabric returned.
 */
struct xsd_srpt *xsd_srpt_new(struct xs_fabric *f, struct xs_loop *loop,
			      struct xsd_scsi_target *t, const struct xsd_srpt_opts *opts);
/* Log out every channel (SRP_T_LOGOUT), wait for its commands, free. */
void xsd_srpt_free(struct xsd_srpt *s);
/* Feed one fabric event: 1 when it was for this target, 0 when not. */
int xsd_srpt_handle_event(struct xsd_srpt *s, const struct xs_event *ev);

/*
 * LUN masking by initiator WWPN (bytes 8..15 of the SRP initiator port
 * identifier, big-endian): the initiator sees exactly @ids (count of them;
 * count 0 = nothing). ids NULL removes the entry (opts.default_visible then
 * applies). Live channels of that initiator get the new mask at once and an
 * SRP_AER_REQ (REPORTED LUNS DATA HAS CHANGED). -ENOMEM, -ERANGE.
 */
int xsd_srpt_set_mask(struct xsd_srpt *s, uint64_t wwpn, const uint16_t *ids, unsigned int count);
/* Call after adding or removing LUNs of the scsi target: every live channel
 * gets an SRP_AER_REQ with UNIT ATTENTION 3F/0E. Returns how many were sent. */
int xsd_srpt_luns_changed(struct xsd_srpt *s);

struct xsd_srpt_stats {
	uint64_t logins;          /* accepted */
	uint64_t login_rejects;
	uint64_t commands;        /* SRP_CMD received */
	uint64_t responses;       /* SRP_RSP sent */
	uint64_t tsk_mgmt;
	uint64_t aborted;         /* commands ended by task management */
	uint64_t rdma_errors;     /* RDMA READ/WRITE refused by the fabric */
	uint64_t protocol_errors; /* bad IUs, credit overruns */
	uint64_t aers;            /* SRP_AER_REQ sent */
	uint64_t logouts;         /* SRP_I_LOGOUT received */
	uint64_t t_logouts;       /* SRP_T_LOGOUT sent */
	uint64_t channels_closed;
	unsigned int channels;    /* live now */
	unsigned int peak_outstanding; /* most credit slots ever busy on one channel */
};
void xsd_srpt_get_stats(const struct xsd_srpt *s, struct xsd_srpt_stats *st);

/* One live RDMA channel (login) of the target. */
struct xsd_srpt_channel {
	uint8_t initiator_port_id[16]; /* as in the SRP_LOGIN_REQ */
	uint64_t wwpn;                 /* bytes 8..15 of it */
	int64_t login_time;            /* wall clock, seconds since the epoch */
	uint64_t login_ms;             /* xs_now_ms() at the login */
	uint32_t it_iu_len;            /* IU length granted */
	uint32_t req_lim;              /* credits */
	unsigned int outstanding;      /* requests (commands, task management) open now */
	uint64_t commands;             /* SRP_CMDs received on the channel */
	uint64_t completed;            /* SRP_CMDs answered with SRP_RSP */
};
/*
 * The live channels (logged in, not closing), newest login first: copies
 * up to @max of them to @out and returns how many there are (may be more
 * than @max; out may be NULL when max is 0).
 */
int xsd_srpt_list_channels(const struct xsd_srpt *s, struct xsd_srpt_channel *out,
			   unsigned int max);

#ifdef __cplusplus
}
#endif

#endif /* XSD_SRPT_H */
