/* SPDX-License-Identifier: MIT */
/*
 * srpt.c - SRP target: logins, RDMA channels, commands, task management,
 * logouts and asynchronous event reports. See srpt.h and docs/vhba.md.
 *
 * Per channel, memory is one anonymous mapping registered once
 * (LOCAL_WRITE): the receive ring (n_recv IUs of it_iu_len bytes), one
 * descriptor table buffer per credit slot (for external indirect tables)
 * and req_lim + SRPT_SPARE_BUFS data buffers of max_xfer bytes. A credit
 * slot (struct srpt_iu) is taken by each SRP_CMD / SRP_TSK_MGMT and given
 * back when its SRP_RSP is posted (responses go inline, so the slot is free
 * at once); the initiator cannot have more than req_lim of them busy, and
 * one that tries loses the channel.
 *
 * Data buffers are not tied to slots: a command with data takes one when
 * its data starts moving. Data-in goes out as RDMA WRITEs followed at once
 * by the SRP_RSP (the fabric delivers them in order, so the data is placed
 * before the initiator sees the response); the buffer stays retired until
 * a signaled completion at or after that SRP_RSP shows the fabric is done
 * reading it (send queue completions come in posting order). The spare
 * buffers cover the retired ones, so a new command rarely waits for one.
 *
 * Command states: TABLE (fetching an external descriptor table) ->
 * [WAIT_BUF] -> DATA_OUT (RDMA READs of the data-out buffer) -> SCSI (in
 * xsd_scsi) -> RDMA WRITEs of the data-in bytes + SRP_RSP -> FREE. Task
 * management marks commands aborted; they end without SRP_RSP and their
 * credits come back in the task management response's REQ_LIM_DELTA.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <xscore/common.h>
#include <xscore/log.h>
#include <xscore/srp.h>

#include "srpt/srpt.h"

#define COMP "srpt"
#define SRPT_EXTRA_RECV 8   /* I_LOGOUT, AER_RSP, CRED_RSP need no credit */
#define SRPT_EXTRA_SEND 32  /* AERs, T_LOGOUT */
#define SRPT_POLL_BATCH 32
#define SRPT_TABLE_BYTES (XSD_SRPT_MAX_DESCS * XS_SRP_DESC_LEN)
#define SRPT_CLOSE_GRACE_MS 200 /* to let a T_LOGOUT go out before the hang-up */
#define SRPT_SPARE_BUFS 16  /* data buffers beyond req_lim, for retired ones */
#define SRPT_RSP_SIGNAL_EVERY 16

enum wr_kind {
	WK_RECV = 1,
	WK_RSP,
	WK_MSG,
	WK_RDMA_RD,
	WK_TABLE_RD,
	WK_RDMA_WR,
};

/* wr_id: post sequence number (send queue) << 32 | slot << 8 | kind. */
static inline uint64_t wr_id_make(uint32_t idx, enum wr_kind k)
{
	return ((uint64_t)idx << 8) | (uint64_t)k;
}

static inline uint32_t wr_id_seq(uint64_t wr_id)
{
	return (uint32_t)(wr_id >> 32);
}

static inline uint32_t wr_id_idx(uint64_t wr_id)
{
	return (uint32_t)(wr_id >> 8) & 0xffffffu;
}

enum iu_state {
	IU_FREE = 0,
	IU_TABLE,
	IU_WAIT_BUF,   /* waiting for a free data buffer */
	IU_DATA_OUT,
	IU_SCSI,
	IU_TM_WAIT,
};

enum ch_state {
	CH_CONNECTING = 0,
	CH_LIVE,
	CH_CLOSING,
};

struct srpt_ch;

/* A data buffer: free, owned by a command, or retired (an RDMA WRITE from
 * it may still be read by the fabric until seq's post has completed). */
struct srpt_buf {
	uint8_t *data;
	uint32_t seq;
	struct srpt_buf *next; /* retired list */
};

struct srpt_iu {
	struct srpt_ch *ch;
	uint32_t idx;
	enum iu_state state;
	bool is_tm;
	bool aborted;
	uint64_t tag;
	uint64_t lun;
	enum xsd_scsi_dir dir;
	uint32_t total_len;           /* sum of the descriptor lengths */
	uint32_t buf_len;             /* bytes of our buffer in use */
	unsigned int ndesc;
	struct xs_srp_desc descs[XSD_SRPT_MAX_DESCS];
	struct xs_srp_desc table;     /* external table to fetch */
	unsigned int rd_pending;
	uint8_t *tbuf;                /* SRPT_TABLE_BYTES, registered */
	struct srpt_buf *buf;         /* max_xfer bytes, registered; NULL: none */
	bool wrote;                   /* RDMA WRITEs posted from buf */
	struct srpt_iu *wait_next;    /* WAIT_BUF queue */
	struct xsd_scsi_cmd sc;
	struct iovec iov;
	struct srpt_iu *tm;           /* the task management waiting on us */
	/* task management */
	uint8_t tm_func;
	unsigned int tm_wait;
	unsigned int tm_credits;
};

struct srpt_ch {
	struct xsd_srpt *s;
	struct srpt_ch *next;
	enum ch_state state;
	char name[48];
	uint8_t init_port_id[16];
	uint64_t wwpn;
	struct xs_qp *qp;
	struct xs_cq *cq;
	struct xs_mr *mr;
	uint8_t *mem;
	size_t mem_len;
	uint32_t lkey;
	uint32_t it_iu_len;
	uint32_t req_lim;
	uint32_t n_recv;
	uint8_t *ring;
	struct srpt_iu *ius;
	struct srpt_iu **free_ius;
	unsigned int n_free;
	unsigned int busy;
	unsigned int scsi_inflight;
	unsigned int sends_out;
	/* data buffers */
	struct srpt_buf *bufs;
	struct srpt_buf **free_bufs;
	unsigned int n_bufs, n_free_bufs;
	struct srpt_buf *retired_head, *retired_tail;
	unsigned int unsig_retired;   /* retired since the last signaled post */
	struct srpt_iu *wait_head, *wait_tail;
	bool starting;                /* in start_waiting() */
	/* send queue accounting */
	uint32_t post_seq;            /* sequence number of the last post */
	uint32_t sq_size;
	uint32_t unsig_posts;         /* unsignaled posts since the last signaled one */
	struct xsd_scsi_nexus *nexus;
	struct xs_timer *reap;
	uint64_t close_deadline;
	bool disconnected;
	bool cq_in_loop;
	uint64_t aer_tag;
	uint64_t rsp_count;
	int64_t login_time;           /* wall clock seconds */
	uint64_t login_ms;
	uint64_t n_commands;          /* SRP_CMDs received */
	uint64_t n_completed;         /* SRP_CMDs answered */
};

struct srpt_mask {
	uint64_t wwpn;
	uint16_t *ids;
	unsigned int count;
};

struct xsd_srpt {
	struct xs_fabric *fabric;
	struct xs_loop *loop;
	struct xsd_scsi_target *t;
	struct xsd_srpt_opts o;
	struct xs_cm_listener *listener;
	struct xs_pd *pd;
	struct srpt_ch *channels;
	unsigned int n_channels;
	struct srpt_mask *masks;
	unsigned int n_masks;
	uint8_t target_port_id[16];
	struct xsd_srpt_stats st;
	bool events_in_loop;
	bool scsi_in_loop;
};

static const uint16_t no_luns[1];

static void ch_fail(struct srpt_ch *ch, const char *why, int tlo_reason);
static void ch_destroy(struct srpt_ch *ch);

/* ---------------------------------------------------------------- sends */

/*
 * Every send queue post: numbered (the number rides in the wr_id), and
 * signaled when asked or when enough unsignaled ones went before it (the
 * send queue reclaims unsignaled entries only behind a signaled one).
 */
static int ch_post(struct srpt_ch *ch, struct xs_send_wr *wr)
{
	uint32_t seq = ch->post_seq + 1;
	int rc;

	if (!(wr->flags & XS_SEND_SIGNALED) && ch->unsig_posts + 1 >= ch->sq_size / 2)
		wr->flags |= XS_SEND_SIGNALED;
	wr->wr_id |= (uint64_t)seq << 32;
	rc = xs_qp_post_send(ch->qp, wr);
	if (rc < 0)
		return rc;
	ch->post_seq = seq;
	if (wr->flags & XS_SEND_SIGNALED) {
		ch->unsig_posts = 0;
		ch->unsig_retired = 0;
	} else {
		ch->unsig_posts++;
	}
	return 0;
}

static void start_waiting(struct srpt_ch *ch);

/* A send queue completion for post @seq: every post up to it is done, so
 * the buffers retired at or before it are free again. */
static void reclaim(struct srpt_ch *ch, uint32_t seq)
{
	bool freed = false;

	while (ch->retired_head && (int32_t)(ch->retired_head->seq - seq) <= 0) {
		struct srpt_buf *b = ch->retired_head;

		ch->retired_head = b->next;
		if (!ch->retired_head)
			ch->retired_tail = NULL;
		ch->free_bufs[ch->n_free_bufs++] = b;
		freed = true;
	}
	if (freed && ch->wait_head)
		start_waiting(ch);
}

static struct srpt_buf *buf_get(struct srpt_ch *ch)
{
	return ch->n_free_bufs ? ch->free_bufs[--ch->n_free_bufs] : NULL;
}

/* The command is done with its buffer. After RDMA WRITEs it is retired
 * until the post numbered @seq (the SRP_RSP behind them) has completed;
 * otherwise (data-out fetched, nothing sent from it) it is free at once. */
static void buf_release(struct srpt_iu *iu, uint32_t seq)
{
	struct srpt_ch *ch = iu->ch;
	struct srpt_buf *b = iu->buf;

	if (!b)
		return;
	iu->buf = NULL;
	if (!iu->wrote) {
		ch->free_bufs[ch->n_free_bufs++] = b;
		if (ch->wait_head)
			start_waiting(ch);
		return;
	}
	iu->wrote = false;
	b->seq = seq;
	b->next = NULL;
	if (ch->retired_tail)
		ch->retired_tail->next = b;
	else
		ch->retired_head = b;
	ch->retired_tail = b;
	ch->unsig_retired++;
}

static int post_inline(struct srpt_ch *ch, const uint8_t *buf, size_t len, enum wr_kind k,
		       uint32_t idx)
{
	struct xs_sge sge = { .addr = (uintptr_t)buf, .length = (uint32_t)len, .lkey = 0 };
	struct xs_send_wr wr = {
		.wr_id = wr_id_make(idx, k),
		.opcode = XS_WR_SEND,
		.sg_list = &sge,
		.num_sge = 1,
		.flags = XS_SEND_INLINE,
	};
	int rc;

	/* Responses are inline and go unsignaled but for every 16th, which
	 * lets the send queue reclaim the ones before it, and those that
	 * must bring retired data buffers back (half the spares retired
	 * without a signaled post behind them, or a command waiting for a
	 * buffer); logouts and AERs are signaled so closing can wait for
	 * them. */
	if (k != WK_RSP || ++ch->rsp_count % SRPT_RSP_SIGNAL_EVERY == 0 ||
	    ch->unsig_retired >= SRPT_SPARE_BUFS / 2 || ch->wait_head)
		wr.flags |= XS_SEND_SIGNALED;
	rc = ch_post(ch, &wr);
	if (rc == 0 && (wr.flags & XS_SEND_SIGNALED))
		ch->sends_out++;
	return rc;
}

static void send_t_logout(struct srpt_ch *ch, uint32_t reason)
{
	struct xs_srp_t_logout lo = { .reason = reason, .tag = 0 };
	uint8_t buf[XS_SRP_T_LOGOUT_LEN];
	int n = xs_srp_t_logout_encode(&lo, buf, sizeof(buf));

	if (n > 0 && post_inline(ch, buf, (size_t)n, WK_MSG, 0) == 0) {
		ch->s->st.t_logouts++;
		XS_INFO(COMP, "%s: SRP_T_LOGOUT sent (%s)", ch->name,
			xs_srp_t_logout_reason_str(reason));
	}
}

static void iu_free(struct srpt_iu *iu)
{
	struct srpt_ch *ch = iu->ch;

	assert(iu->state != IU_FREE);
	buf_release(iu, ch->post_seq);
	iu->state = IU_FREE;
	iu->aborted = false;
	iu->tm = NULL;
	ch->free_ius[ch->n_free++] = iu;
	ch->busy--;
}

/* SRP_RSP for @iu with REQ_LIM_DELTA @delta; frees the slot. */
static void send_rsp(struct srpt_iu *iu, const struct xs_srp_rsp *r)
{
	struct srpt_ch *ch = iu->ch;
	uint8_t buf[XSD_SRPT_TI_IU_LEN];
	int n = xs_srp_rsp_encode(r, buf, sizeof(buf));
	int rc;

	/* A buffer data-in was written from retires with this response's
	 * post number: the response is the next post. */
	buf_release(iu, ch->post_seq + 1);
	iu_free(iu);
	if (n < 0) {
		XS_ERR(COMP, "%s: cannot encode SRP_RSP for tag 0x%" PRIx64 ": %s", ch->name,
		       r->tag, xs_strerror(n));
		ch_fail(ch, "response encoding failed", XS_SRP_TLO_NO_REASON);
		return;
	}
	rc = post_inline(ch, buf, (size_t)n, WK_RSP, iu->idx);
	if (rc < 0) {
		XS_ERR(COMP, "%s: posting SRP_RSP failed: %s", ch->name, xs_strerror(rc));
		ch_fail(ch, "send queue failure", -1);
		return;
	}
	ch->s->st.responses++;
}

static void rsp_code(struct srpt_iu *iu, uint8_t code, uint32_t delta)
{
	struct xs_srp_rsp r = {
		.req_lim_delta = delta,
		.tag = iu->tag,
		.valid = XS_SRP_RSP_RSPVALID,
		.rsp_code = code,
	};

	send_rsp(iu, &r);
}

/* -------------------------------------------------------- task management */

static void tm_respond(struct srpt_iu *tm)
{
	uint8_t code = XS_SRP_RSP_NO_FAILURE;

	if (tm->tm_func == XS_SRP_TSK_LUN_RESET) {
		uint16_t id;

		if (xsd_scsi_lun_from_wire(tm->lun, &id) < 0 ||
		    xsd_scsi_target_lun_reset(tm->ch->s->t, id) < 0)
			code = XS_SRP_RSP_TSK_FAILED;
	}
	XS_DEBUG(COMP, "%s: task management 0x%02x tag 0x%" PRIx64 " done, %u aborted",
		 tm->ch->name, tm->tm_func, tm->tag, tm->tm_credits);
	rsp_code(tm, code, 1 + tm->tm_credits);
}

/* An aborted command has reached a point where it can end: no SRP_RSP, its
 * credit goes back with the task management response. */
static void finish_aborted(struct srpt_iu *iu)
{
	struct srpt_iu *tm = iu->tm;

	iu->ch->s->st.aborted++;
	iu_free(iu);
	if (!tm)
		return;
	tm->tm_credits++;
	if (--tm->tm_wait == 0 && tm->ch->state != CH_CLOSING)
		tm_respond(tm);
}

static void handle_tsk_mgmt(struct srpt_ch *ch, struct srpt_iu *tm, const uint8_t *buf,
			    size_t len)
{
	struct xs_srp_tsk_mgmt m;
	int rc = xs_srp_tsk_mgmt_decode(buf, len, &m);

	ch->s->st.tsk_mgmt++;
	tm->is_tm = true;
	tm->tag = xs_get64(buf + 8);
	tm->state = IU_TM_WAIT;
	tm->tm_wait = 0;
	tm->tm_credits = 0;
	if (rc < 0) {
		ch->s->st.protocol_errors++;
		rsp_code(tm, XS_SRP_RSP_FIELDS_INVALID, 1);
		return;
	}
	tm->lun = m.lun;
	tm->tm_func = m.func;
	switch (m.func) {
	case XS_SRP_TSK_ABORT_TASK:
	case XS_SRP_TSK_ABORT_TASK_SET:
	case XS_SRP_TSK_CLEAR_TASK_SET:
	case XS_SRP_TSK_LUN_RESET:
		break;
	default: /* CLEAR ACA (we have no ACA) and unknown functions */
		rsp_code(tm, XS_SRP_RSP_TSK_NOT_SUPPORTED, 1);
		return;
	}
	for (uint32_t i = 0; i < ch->req_lim; i++) {
		struct srpt_iu *iu = &ch->ius[i];

		if (iu == tm || iu->is_tm || iu->aborted || iu->state == IU_FREE)
			continue;
		if (m.func == XS_SRP_TSK_ABORT_TASK ? iu->tag != m.task_tag : iu->lun != m.lun)
			continue;
		iu->aborted = true;
		iu->tm = tm;
		tm->tm_wait++;
	}
	XS_DEBUG(COMP, "%s: task management 0x%02x: %u commands to end", ch->name, m.func,
		 tm->tm_wait);
	if (tm->tm_wait == 0) {
		tm_respond(tm);
		return;
	}
	/* Those still waiting for a data buffer end now. */
	for (struct srpt_iu **pp = &ch->wait_head; *pp;) {
		struct srpt_iu *iu = *pp;

		if (!iu->aborted) {
			pp = &iu->wait_next;
			continue;
		}
		*pp = iu->wait_next;
		if (ch->wait_tail == iu)
			ch->wait_tail = NULL;
		iu->wait_next = NULL;
		finish_aborted(iu);
	}
	if (!ch->wait_tail)
		for (struct srpt_iu *iu = ch->wait_head; iu; iu = iu->wait_next)
			ch->wait_tail = iu;
}

/* --------------------------------------------------------------- commands */

static void on_scsi_done(struct xsd_scsi_cmd *sc);

static void cmd_fields_invalid(struct srpt_iu *iu, const char *why)
{
	XS_WARN(COMP, "%s: command tag 0x%" PRIx64 " refused: %s", iu->ch->name, iu->tag, why);
	iu->ch->s->st.protocol_errors++;
	iu->ch->n_completed++;
	rsp_code(iu, XS_SRP_RSP_FIELDS_INVALID, 1);
}

static void cmd_submit(struct srpt_iu *iu)
{
	struct srpt_ch *ch = iu->ch;
	int rc;

	if (iu->aborted) {
		finish_aborted(iu);
		return;
	}
	/* No data: a zero-length iovec on registered memory all the same. */
	iu->iov.iov_base = iu->buf ? iu->buf->data : iu->tbuf;
	iu->iov.iov_len = iu->buf ? iu->buf_len : 0;
	iu->sc.nexus = ch->nexus;
	iu->sc.lun = iu->lun;
	iu->sc.dir = iu->dir;
	iu->sc.iov = &iu->iov;
	iu->sc.iovcnt = 1;
	iu->sc.done = on_scsi_done;
	iu->sc.arg = iu;
	iu->state = IU_SCSI;
	ch->scsi_inflight++;
	rc = xsd_scsi_submit(ch->s->t, &iu->sc);
	if (rc < 0) {
		ch->scsi_inflight--;
		cmd_fields_invalid(iu, "the SCSI layer refused the command");
	}
}

/* The command has its data buffer. Data-out: RDMA READ each descriptor
 * into it, never more than the descriptor says nor more than the buffer
 * holds; data-in: straight to the SCSI layer. */
static void cmd_go(struct srpt_iu *iu)
{
	struct srpt_ch *ch = iu->ch;
	uint32_t off = 0;

	if (iu->dir != XSD_SCSI_DIR_OUT) {
		cmd_submit(iu);
		return;
	}
	iu->state = IU_DATA_OUT;
	iu->rd_pending = 0;
	for (unsigned int i = 0; i < iu->ndesc && off < iu->buf_len; i++) {
		uint32_t n = XS_MIN(iu->descs[i].len, iu->buf_len - off);
		struct xs_sge sge = { .addr = (uintptr_t)(iu->buf->data + off), .length = n,
				      .lkey = ch->lkey };
		struct xs_send_wr wr = {
			.wr_id = wr_id_make(iu->idx, WK_RDMA_RD),
			.opcode = XS_WR_RDMA_READ,
			.sg_list = &sge,
			.num_sge = 1,
			.flags = XS_SEND_SIGNALED,
			.remote_addr = iu->descs[i].va,
			.rkey = iu->descs[i].key,
		};
		int rc;

		if (n == 0)
			continue;
		rc = ch_post(ch, &wr);
		if (rc < 0) {
			XS_ERR(COMP, "%s: posting RDMA READ failed: %s", ch->name, xs_strerror(rc));
			ch_fail(ch, "send queue failure", -1);
			return;
		}
		iu->rd_pending++;
		off += n;
	}
	if (iu->rd_pending == 0)
		cmd_submit(iu);
}

/* Commands waiting for a data buffer, in arrival order, while there are
 * buffers (not re-entered: the outer call goes on). */
static void start_waiting(struct srpt_ch *ch)
{
	if (ch->starting)
		return;
	ch->starting = true;
	while (ch->wait_head && ch->n_free_bufs && ch->state != CH_CLOSING) {
		struct srpt_iu *iu = ch->wait_head;

		ch->wait_head = iu->wait_next;
		if (!ch->wait_head)
			ch->wait_tail = NULL;
		iu->wait_next = NULL;
		iu->buf = buf_get(ch);
		cmd_go(iu);
	}
	ch->starting = false;
}

/* Lengths from the descriptors; a data buffer (or a place in the queue for
 * one); then the data. */
static void cmd_start_data(struct srpt_iu *iu)
{
	struct srpt_ch *ch = iu->ch;
	uint64_t total = 0;

	for (unsigned int i = 0; i < iu->ndesc; i++)
		total += iu->descs[i].len;
	if (total > UINT32_MAX) {
		cmd_fields_invalid(iu, "descriptor lengths overflow");
		return;
	}
	iu->total_len = (uint32_t)total;
	iu->buf_len = (uint32_t)XS_MIN(total, (uint64_t)ch->s->o.max_xfer);
	if (iu->dir == XSD_SCSI_DIR_NONE || iu->buf_len == 0) {
		cmd_submit(iu);
		return;
	}
	iu->buf = ch->wait_head ? NULL : buf_get(ch);
	if (!iu->buf) {
		iu->state = IU_WAIT_BUF;
		iu->wait_next = NULL;
		if (ch->wait_tail)
			ch->wait_tail->wait_next = iu;
		else
			ch->wait_head = iu;
		ch->wait_tail = iu;
		return;
	}
	cmd_go(iu);
}

static void fetch_table(struct srpt_iu *iu)
{
	struct srpt_ch *ch = iu->ch;
	struct xs_sge sge = { .addr = (uintptr_t)iu->tbuf, .length = iu->table.len,
			      .lkey = ch->lkey };
	struct xs_send_wr wr = {
		.wr_id = wr_id_make(iu->idx, WK_TABLE_RD),
		.opcode = XS_WR_RDMA_READ,
		.sg_list = &sge,
		.num_sge = 1,
		.flags = XS_SEND_SIGNALED,
		.remote_addr = iu->table.va,
		.rkey = iu->table.key,
	};
	int rc;

	iu->state = IU_TABLE;
	iu->rd_pending = 1;
	rc = ch_post(ch, &wr);
	if (rc < 0) {
		XS_ERR(COMP, "%s: posting RDMA READ (table) failed: %s", ch->name, xs_strerror(rc));
		ch_fail(ch, "send queue failure", -1);
	}
}

static void handle_cmd(struct srpt_ch *ch, struct srpt_iu *iu, const uint8_t *buf, size_t len)
{
	struct xs_srp_cmd *c = &(struct xs_srp_cmd){ 0 };
	const struct xs_srp_data_buf *b;
	int rc = xs_srp_cmd_decode(buf, len, c);

	ch->s->st.commands++;
	ch->n_commands++;
	iu->is_tm = false;
	iu->tag = xs_get64(buf + 8);
	iu->lun = 0;
	iu->state = IU_SCSI; /* busy until we know better */
	iu->ndesc = 0;
	if (rc == -EOPNOTSUPP) {
		bool out_bad = (buf[4] >> 4) > XS_SRP_FMT_INDIRECT;

		iu_free(iu);
		ch_fail(ch, "unsupported data buffer descriptor format",
			out_bad ? XS_SRP_TLO_UNSUPPORTED_DO_FMT : XS_SRP_TLO_UNSUPPORTED_DI_FMT);
		return;
	}
	if (rc == -EMSGSIZE) {
		iu_free(iu);
		ch_fail(ch, "SRP_CMD shorter than its contents", XS_SRP_TLO_INVALID_IU_LEN);
		return;
	}
	if (rc < 0) {
		cmd_fields_invalid(iu, "malformed SRP_CMD");
		return;
	}
	if (c->out.fmt != XS_SRP_FMT_NONE && c->in.fmt != XS_SRP_FMT_NONE) {
		cmd_fields_invalid(iu, "bidirectional command");
		return;
	}
	if (c->cdb_len > XSD_SCSI_CDB_MAX) {
		cmd_fields_invalid(iu, "CDB longer than 32 bytes");
		return;
	}
	iu->lun = c->lun;
	memcpy(iu->sc.cdb, c->cdb, c->cdb_len);
	iu->sc.cdb_len = c->cdb_len;
	if (c->out.fmt != XS_SRP_FMT_NONE) {
		iu->dir = XSD_SCSI_DIR_OUT;
		b = &c->out;
	} else if (c->in.fmt != XS_SRP_FMT_NONE) {
		iu->dir = XSD_SCSI_DIR_IN;
		b = &c->in;
	} else {
		iu->dir = XSD_SCSI_DIR_NONE;
		b = NULL;
	}
	if (b && b->fmt == XS_SRP_FMT_DIRECT) {
		iu->descs[0] = b->direct;
		iu->ndesc = 1;
	} else if (b && b->external) {
		if (b->table.len / XS_SRP_DESC_LEN > XSD_SRPT_MAX_DESCS) {
			cmd_fields_invalid(iu, "descriptor table too long");
			return;
		}
		iu->table = b->table;
		iu->total_len = b->total_len;
		fetch_table(iu);
		return;
	} else if (b) {
		if (b->count > XSD_SRPT_MAX_DESCS) {
			cmd_fields_invalid(iu, "too many descriptors");
			return;
		}
		for (unsigned int i = 0; i < b->count; i++)
			xs_srp_desc_get(b->list_wire + (size_t)i * XS_SRP_DESC_LEN, &iu->descs[i]);
		iu->ndesc = b->count;
	}
	cmd_start_data(iu);
}

static void table_fetched(struct srpt_iu *iu)
{
	struct xs_srp_data_buf b = {
		.fmt = XS_SRP_FMT_INDIRECT,
		.external = true,
		.table = iu->table,
		.total_len = iu->total_len,
	};

	if (iu->aborted) {
		finish_aborted(iu);
		return;
	}
	if (xs_srp_indirect_table_check(&b, iu->tbuf, iu->table.len) < 0) {
		cmd_fields_invalid(iu, "descriptor table does not match the command");
		return;
	}
	iu->ndesc = iu->table.len / XS_SRP_DESC_LEN;
	for (unsigned int i = 0; i < iu->ndesc; i++)
		xs_srp_desc_get(iu->tbuf + (size_t)i * XS_SRP_DESC_LEN, &iu->descs[i]);
	cmd_start_data(iu);
}

/* Data-in: RDMA WRITE xfer_len bytes to the descriptors in order,
 * unsignaled (a refused one completes anyway, with its error, and the QP
 * stops there: the SRP_RSP posted behind it never arrives). The fabric may
 * read our buffer until a later post has completed, so the buffer retires
 * with the SRP_RSP rather than coming free. */
static int write_data_in(struct srpt_iu *iu, uint32_t len)
{
	struct srpt_ch *ch = iu->ch;
	uint32_t off = 0;

	for (unsigned int i = 0; i < iu->ndesc && off < len; i++) {
		uint32_t n = XS_MIN(iu->descs[i].len, len - off);
		struct xs_sge sge = { .addr = (uintptr_t)(iu->buf->data + off), .length = n,
				      .lkey = ch->lkey };
		struct xs_send_wr wr = {
			.wr_id = wr_id_make(iu->idx, WK_RDMA_WR),
			.opcode = XS_WR_RDMA_WRITE,
			.sg_list = &sge,
			.num_sge = 1,
			.flags = 0,
			.remote_addr = iu->descs[i].va,
			.rkey = iu->descs[i].key,
		};
		int rc;

		if (n == 0)
			continue;
		rc = ch_post(ch, &wr);
		if (rc < 0)
			return rc;
		iu->wrote = true;
		off += n;
	}
	return 0;
}

/* SRP_RSP from the SCSI result: status, sense, residuals. */
static void cmd_respond(struct srpt_iu *iu)
{
	struct xsd_scsi_cmd *sc = &iu->sc;
	struct xs_srp_rsp r = { .req_lim_delta = 1, .tag = iu->tag };
	uint32_t res;

	r.status = sc->status;
	if (sc->sense_len) {
		r.valid |= XS_SRP_RSP_SNSVALID;
		r.sense_len = sc->sense_len;
		r.sense = sc->sense;
	}
	/* Residuals against the initiator's buffer (the descriptors). */
	if (iu->dir != XSD_SCSI_DIR_NONE) {
		bool in = iu->dir == XSD_SCSI_DIR_IN;

		if (sc->overflow && sc->residual) {
			r.valid |= in ? XS_SRP_RSP_DIOVER : XS_SRP_RSP_DOOVER;
			res = sc->residual;
		} else {
			res = iu->total_len - XS_MIN(sc->xfer_len, iu->total_len);
			if (res)
				r.valid |= in ? XS_SRP_RSP_DIUNDER : XS_SRP_RSP_DOUNDER;
		}
		if (in)
			r.data_in_res = res;
		else
			r.data_out_res = res;
	}
	iu->ch->n_completed++;
	send_rsp(iu, &r);
}

static void on_scsi_done(struct xsd_scsi_cmd *sc)
{
	struct srpt_iu *iu = sc->arg;
	struct srpt_ch *ch = iu->ch;
	int rc;

	ch->scsi_inflight--;
	if (ch->state == CH_CLOSING) {
		iu_free(iu);
		if (ch->scsi_inflight == 0)
			xs_timer_arm(ch->reap, 0, 0);
		return;
	}
	if (iu->aborted) {
		finish_aborted(iu);
		return;
	}
	if (iu->dir == XSD_SCSI_DIR_IN && sc->xfer_len && iu->buf) {
		rc = write_data_in(iu, XS_MIN(sc->xfer_len, iu->buf_len));
		if (rc < 0) {
			XS_ERR(COMP, "%s: posting RDMA WRITE failed: %s", ch->name,
			       xs_strerror(rc));
			iu_free(iu);
			ch_fail(ch, "send queue failure", -1);
			return;
		}
	}
	cmd_respond(iu);
}

/* --------------------------------------------------------------- receive */

static struct srpt_iu *iu_take(struct srpt_ch *ch)
{
	struct srpt_iu *iu;

	if (ch->n_free == 0)
		return NULL;
	iu = ch->free_ius[--ch->n_free];
	ch->busy++;
	if (ch->busy > ch->s->st.peak_outstanding)
		ch->s->st.peak_outstanding = ch->busy;
	iu->aborted = false;
	iu->tm = NULL;
	return iu;
}

static void handle_iu(struct srpt_ch *ch, const uint8_t *buf, size_t len)
{
	int type = xs_srp_iu_type(buf, len);
	struct srpt_iu *iu;

	if (type < 0) {
		ch->s->st.protocol_errors++;
		XS_WARN(COMP, "%s: bad IU (%zu bytes, first byte 0x%02x): %s", ch->name, len,
			len ? buf[0] : 0, xs_strerror(type));
		ch_fail(ch, "bad IU", type == -EMSGSIZE ? XS_SRP_TLO_INVALID_IU_LEN
							: XS_SRP_TLO_INVALID_IU_TYPE);
		return;
	}
	switch (type) {
	case XS_SRP_CMD:
	case XS_SRP_TSK_MGMT:
		iu = iu_take(ch);
		if (!iu) {
			ch->s->st.protocol_errors++;
			XS_WARN(COMP, "%s: request beyond the request limit of %u", ch->name,
				ch->req_lim);
			ch_fail(ch, "credit overrun", XS_SRP_TLO_NO_REASON);
			return;
		}
		if (type == XS_SRP_CMD)
			handle_cmd(ch, iu, buf, len);
		else
			handle_tsk_mgmt(ch, iu, buf, len);
		return;
	case XS_SRP_I_LOGOUT: {
		struct xs_srp_i_logout lo;

		if (xs_srp_i_logout_decode(buf, len, &lo) == 0) {
			ch->s->st.logouts++;
			XS_INFO(COMP, "%s: initiator logged out", ch->name);
			ch_fail(ch, "logout", -1);
			return;
		}
		break;
	}
	case XS_SRP_AER_RSP: {
		struct xs_srp_tag_rsp r;

		if (xs_srp_aer_rsp_decode(buf, len, &r) == 0)
			return;
		break;
	}
	case XS_SRP_CRED_RSP: {
		struct xs_srp_tag_rsp r;

		if (xs_srp_cred_rsp_decode(buf, len, &r) == 0)
			return;
		break;
	}
	default:
		break;
	}
	ch->s->st.protocol_errors++;
	XS_WARN(COMP, "%s: unexpected %s IU from the initiator", ch->name, xs_srp_iu_name(type));
	ch_fail(ch, "unexpected IU", XS_SRP_TLO_INVALID_IU_TYPE);
}

static int post_recv(struct srpt_ch *ch, uint32_t i)
{
	struct xs_sge sge = { .addr = (uintptr_t)(ch->ring + (size_t)i * ch->it_iu_len),
			      .length = ch->it_iu_len, .lkey = ch->lkey };
	struct xs_recv_wr wr = { .wr_id = wr_id_make(i, WK_RECV), .sg_list = &sge, .num_sge = 1 };

	return xs_qp_post_recv(ch->qp, &wr);
}

static const char *kind_name(enum wr_kind k)
{
	switch (k) {
	case WK_RECV: return "receive";
	case WK_RSP: return "SRP_RSP send";
	case WK_MSG: return "send";
	case WK_RDMA_RD: return "RDMA READ (data-out)";
	case WK_TABLE_RD: return "RDMA READ (descriptor table)";
	case WK_RDMA_WR: return "RDMA WRITE (data-in)";
	}
	return "work request";
}

static void handle_wc(struct srpt_ch *ch, const struct xs_wc *wc)
{
	enum wr_kind k = (enum wr_kind)(wc->wr_id & 0xff);
	uint32_t idx = wr_id_idx(wc->wr_id);
	struct srpt_iu *iu;

	if (k == WK_RSP || k == WK_MSG) {
		if (ch->sends_out)
			ch->sends_out--;
	}
	if (k != WK_RECV && wc->status == XS_WC_SUCCESS && ch->state != CH_CLOSING)
		reclaim(ch, wr_id_seq(wc->wr_id));
	if (wc->status != XS_WC_SUCCESS) {
		if (ch->state == CH_CLOSING || wc->status == XS_WC_WR_FLUSH_ERR) {
			ch_fail(ch, "flushed", -1);
			return;
		}
		if (wc->status == XS_WC_REM_ACCESS_ERR || wc->status == XS_WC_REM_INV_REQ_ERR) {
			ch->s->st.rdma_errors++;
			iu = idx < ch->req_lim ? &ch->ius[idx] : NULL;
			XS_ERR(COMP, "%s: %s for command tag 0x%" PRIx64 " refused by the initiator "
			       "(%s): the initiator did not register that memory; dropping the channel",
			       ch->name, kind_name(k), iu ? iu->tag : 0,
			       xs_wc_status_str(wc->status));
		} else {
			XS_ERR(COMP, "%s: %s failed: %s", ch->name, kind_name(k),
			       xs_wc_status_str(wc->status));
		}
		ch_fail(ch, "transport error", -1);
		return;
	}
	switch (k) {
	case WK_RECV:
		if (idx >= ch->n_recv)
			return;
		if (ch->state == CH_CONNECTING)
			ch->state = CH_LIVE;
		if (ch->state != CH_LIVE)
			return;
		handle_iu(ch, ch->ring + (size_t)idx * ch->it_iu_len,
			  XS_MIN(wc->byte_len, ch->it_iu_len));
		if (ch->state == CH_LIVE && post_recv(ch, idx) < 0)
			ch_fail(ch, "cannot repost a receive", -1);
		return;
	case WK_RDMA_WR: /* signaled only to let the send queue reclaim */
		return;
	case WK_RDMA_RD:
	case WK_TABLE_RD:
		if (idx >= ch->req_lim || ch->state == CH_CLOSING)
			return;
		iu = &ch->ius[idx];
		if (iu->rd_pending == 0 || (iu->state != IU_DATA_OUT && iu->state != IU_TABLE))
			return;
		if (--iu->rd_pending)
			return;
		if (iu->state == IU_TABLE)
			table_fetched(iu);
		else
			cmd_submit(iu);
		return;
	default:
		return;
	}
}

static void on_cq(struct xs_loop *loop, int fd, unsigned int events, void *arg)
{
	struct srpt_ch *ch = arg;
	struct xs_wc wc[SRPT_POLL_BATCH];
	int n;

	xsd_scsi_target_plug(ch->s->t);
	do {
		n = xs_cq_poll(ch->cq, wc, SRPT_POLL_BATCH);
		for (int i = 0; i < n; i++)
			handle_wc(ch, &wc[i]);
	} while (n == SRPT_POLL_BATCH);
	xsd_scsi_target_unplug(ch->s->t);
}

/* ------------------------------------------------------------- channels */

static void ch_unlink(struct srpt_ch *ch)
{
	struct srpt_ch **pp = &ch->s->channels;

	while (*pp && *pp != ch)
		pp = &(*pp)->next;
	if (*pp) {
		*pp = ch->next;
		ch->s->n_channels--;
	}
}

static void ch_destroy(struct srpt_ch *ch)
{
	ch_unlink(ch);
	if (ch->cq_in_loop)
		xs_loop_del_fd(ch->s->loop, xs_cq_fd(ch->cq));
	if (ch->qp)
		xs_qp_destroy(ch->qp);
	if (ch->cq)
		xs_cq_destroy(ch->cq);
	if (ch->mr)
		xs_mr_dereg(ch->mr);
	if (ch->mem && ch->mem != MAP_FAILED)
		munmap(ch->mem, ch->mem_len);
	if (ch->nexus)
		xsd_scsi_nexus_free(ch->nexus);
	if (ch->reap)
		xs_timer_free(ch->reap);
	free(ch->ius);
	free(ch->free_ius);
	free(ch->bufs);
	free(ch->free_bufs);
	free(ch);
}

static void on_reap(struct xs_loop *loop, struct xs_timer *t, void *arg)
{
	struct srpt_ch *ch = arg;

	if (ch->sends_out && xs_now_ms() < ch->close_deadline) {
		xs_timer_arm(ch->reap, 5, 0);
		return;
	}
	if (!ch->disconnected) {
		ch->disconnected = true;
		xs_qp_disconnect(ch->qp);
	}
	if (ch->scsi_inflight)
		return; /* on_scsi_done re-arms us */
	ch->s->st.channels_closed++;
	XS_INFO(COMP, "%s: channel closed", ch->name);
	ch_destroy(ch);
}

/* Stop a channel: optionally tell the initiator why (SRP_T_LOGOUT), hang up,
 * wait for commands in the SCSI layer, then free. */
static void ch_fail(struct srpt_ch *ch, const char *why, int tlo_reason)
{
	if (ch->state == CH_CLOSING)
		return;
	XS_INFO(COMP, "%s: closing channel: %s", ch->name, why);
	if (tlo_reason >= 0 && ch->state == CH_LIVE)
		send_t_logout(ch, (uint32_t)tlo_reason);
	ch->state = CH_CLOSING;
	ch->close_deadline = xs_now_ms() + SRPT_CLOSE_GRACE_MS;
	/* Task management waiting on commands: those end with the channel. */
	for (uint32_t i = 0; i < ch->req_lim; i++) {
		struct srpt_iu *iu = &ch->ius[i];

		if (iu->state == IU_TABLE || iu->state == IU_WAIT_BUF || iu->state == IU_DATA_OUT ||
		    iu->state == IU_TM_WAIT)
			iu_free(iu);
	}
	ch->wait_head = ch->wait_tail = NULL;
	xs_timer_arm(ch->reap, 0, 0);
}

static struct srpt_ch *ch_new(struct xsd_srpt *s, const struct xs_srp_login_req *lr)
{
	struct srpt_ch *ch = calloc(1, sizeof(*ch));
	struct xs_qp_attr qa = { 0 };
	size_t ring, tables, data;
	char iname[40];
	uint32_t n_bufs = s->o.req_lim + SRPT_SPARE_BUFS;

	if (!ch)
		return NULL;
	ch->s = s;
	ch->it_iu_len = lr->req_it_iu_len;
	ch->req_lim = s->o.req_lim;
	ch->n_recv = ch->req_lim + SRPT_EXTRA_RECV;
	memcpy(ch->init_port_id, lr->initiator_port_id, 16);
	ch->wwpn = xs_get64(lr->initiator_port_id + 8);
	snprintf(ch->name, sizeof(ch->name), "initiator 0x%016" PRIx64, ch->wwpn);
	ch->ius = calloc(ch->req_lim, sizeof(*ch->ius));
	ch->free_ius = calloc(ch->req_lim, sizeof(*ch->free_ius));
	ch->bufs = calloc(n_bufs, sizeof(*ch->bufs));
	ch->free_bufs = calloc(n_bufs, sizeof(*ch->free_bufs));
	ch->reap = xs_timer_new(s->loop, on_reap, ch);
	if (!ch->ius || !ch->free_ius || !ch->bufs || !ch->free_bufs || !ch->reap)
		goto err_free;
	ring = (size_t)ch->n_recv * ch->it_iu_len;
	ring = (ring + 4095) & ~(size_t)4095;
	tables = (size_t)ch->req_lim * SRPT_TABLE_BYTES;
	data = (size_t)n_bufs * s->o.max_xfer;
	ch->mem_len = ring + tables + data;
	ch->mem = mmap(NULL, ch->mem_len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (ch->mem == MAP_FAILED)
		goto err_free;
	ch->ring = ch->mem;
	ch->mr = xs_mr_reg(s->pd, ch->mem, ch->mem_len, XS_ACCESS_LOCAL_WRITE);
	if (!ch->mr)
		goto err_free;
	ch->lkey = xs_mr_lkey(ch->mr);
	for (uint32_t i = 0; i < ch->req_lim; i++) {
		struct srpt_iu *iu = &ch->ius[i];

		iu->ch = ch;
		iu->idx = i;
		iu->tbuf = ch->mem + ring + (size_t)i * SRPT_TABLE_BYTES;
		ch->free_ius[ch->req_lim - 1 - i] = iu;
	}
	ch->n_free = ch->req_lim;
	/* Buffers as a stack, the lowest on top: the same few stay warm. */
	ch->n_bufs = n_bufs;
	for (uint32_t i = 0; i < n_bufs; i++) {
		ch->bufs[i].data = ch->mem + ring + tables + (size_t)i * s->o.max_xfer;
		ch->free_bufs[n_bufs - 1 - i] = &ch->bufs[i];
	}
	ch->n_free_bufs = n_bufs;
	ch->cq = xs_cq_create(s->fabric,
			      (int)(ch->n_recv + ch->req_lim * (XSD_SRPT_MAX_DESCS + 2) +
				    SRPT_EXTRA_SEND));
	if (!ch->cq)
		goto err_free;
	qa.pd = s->pd;
	qa.send_cq = ch->cq;
	qa.recv_cq = ch->cq;
	qa.max_send_wr = ch->req_lim * (XSD_SRPT_MAX_DESCS + 2) + SRPT_EXTRA_SEND;
	ch->sq_size = qa.max_send_wr;
	qa.max_recv_wr = ch->n_recv;
	qa.max_sge = 1;
	qa.max_inline = XSD_SRPT_TI_IU_LEN;
	qa.context = ch;
	ch->qp = xs_qp_create(s->fabric, &qa);
	if (!ch->qp)
		goto err_free;
	for (uint32_t i = 0; i < ch->n_recv; i++)
		if (post_recv(ch, i) < 0)
			goto err_free;
	snprintf(iname, sizeof(iname), "0x%016" PRIx64, ch->wwpn);
	ch->nexus = xsd_scsi_nexus_new(s->t, iname);
	if (!ch->nexus)
		goto err_free;
	if (xs_loop_add_fd(s->loop, xs_cq_fd(ch->cq), XS_IO_IN, on_cq, ch) < 0)
		goto err_free;
	ch->cq_in_loop = true;
	return ch;

err_free:
	ch_destroy(ch);
	errno = ENOMEM;
	return NULL;
}

static const struct srpt_mask *mask_find(const struct xsd_srpt *s, uint64_t wwpn)
{
	for (unsigned int i = 0; i < s->n_masks; i++)
		if (s->masks[i].wwpn == wwpn)
			return &s->masks[i];
	return NULL;
}

static int apply_mask(struct xsd_srpt *s, struct srpt_ch *ch)
{
	const struct srpt_mask *m = mask_find(s, ch->wwpn);

	if (m)
		return xsd_scsi_nexus_set_luns(ch->nexus, m->count ? m->ids : no_luns, m->count);
	return xsd_scsi_nexus_set_luns(ch->nexus, s->o.default_visible ? NULL : no_luns, 0);
}

/* ---------------------------------------------------------------- login */

static void login_reject(struct xsd_srpt *s, struct xs_cm_request *req, uint64_t tag,
			 uint32_t reason, const char *who)
{
	struct xs_srp_login_rej rej = {
		.reason = reason,
		.tag = tag,
		.buf_fmt = XS_SRP_BUF_FMT_DIRECT | XS_SRP_BUF_FMT_INDIRECT,
	};
	uint8_t buf[XS_SRP_LOGIN_REJ_LEN];
	int n = xs_srp_login_rej_encode(&rej, buf, sizeof(buf));

	s->st.login_rejects++;
	XS_WARN(COMP, "login from %s rejected: %s", who, xs_srp_login_rej_reason_str(reason));
	xs_cm_reject(req, XS_CM_REJ_CONSUMER, buf, n > 0 ? (size_t)n : 0);
}

static void handle_login(struct xsd_srpt *s, struct xs_cm_request *req)
{
	struct xs_cm_req_info info;
	struct xs_srp_login_req lr;
	struct xs_srp_login_rsp rsp = { 0 };
	uint8_t buf[XS_SRP_LOGIN_RSP_LEN];
	static const uint8_t zero[16];
	struct srpt_ch *ch;
	unsigned int others = 0;
	char who[48];
	int n, rc;

	if (xs_cm_req_info(req, &info) < 0) {
		xs_cm_reject(req, XS_CM_REJ_CONSUMER, NULL, 0);
		return;
	}
	snprintf(who, sizeof(who), "LID %u", info.remote_lid);
	/* rdma_cm over IP (RoCE) hands the listener exactly 56 bytes of REQ
	 * private data, too few for the 64-byte IU: such initiators send the
	 * rdma_cm form. Any other length is the IU itself. */
	if (info.private_len == XS_SRP_LOGIN_REQ_RDMA_CM_LEN)
		rc = xs_srp_login_req_rdma_cm_decode(info.private_data, info.private_len, &lr);
	else
		rc = xs_srp_login_req_decode(info.private_data, info.private_len, &lr);
	if (rc < 0) {
		s->st.protocol_errors++;
		login_reject(s, req, 0, XS_SRP_REJ_UNABLE_ESTABLISH, who);
		return;
	}
	snprintf(who, sizeof(who), "0x%016" PRIx64 " (LID %u)",
		 xs_get64(lr.initiator_port_id + 8), info.remote_lid);
	/* INCITS 365: a requested IT IU length the target cannot receive is
	 * refused with reason 0x00010002; one too short for any SRP_CMD with a
	 * descriptor cannot establish a channel. */
	if (lr.req_it_iu_len < XSD_SRPT_MIN_IT_IU_LEN) {
		XS_WARN(COMP, "login from %s: requested IT IU length %u below %u", who,
			lr.req_it_iu_len, XSD_SRPT_MIN_IT_IU_LEN);
		login_reject(s, req, lr.tag, XS_SRP_REJ_UNABLE_ESTABLISH, who);
		return;
	}
	if (lr.req_it_iu_len > s->o.max_it_iu_len) {
		XS_WARN(COMP, "login from %s: requested IT IU length %u above this target's %u",
			who, lr.req_it_iu_len, s->o.max_it_iu_len);
		login_reject(s, req, lr.tag, XS_SRP_REJ_IT_IU_LEN_TOO_LARGE, who);
		return;
	}
	if (!(lr.req_buf_fmt & (XS_SRP_BUF_FMT_DIRECT | XS_SRP_BUF_FMT_INDIRECT))) {
		login_reject(s, req, lr.tag, XS_SRP_REJ_UNSUPPORTED_DESC_FMT, who);
		return;
	}
	if (memcmp(lr.target_port_id, zero, 16) &&
	    memcmp(lr.target_port_id, s->target_port_id, 16)) {
		login_reject(s, req, lr.tag, XS_SRP_REJ_UNABLE_ASSOCIATE, who);
		return;
	}
	/* Multi-channel action: SINGLE ends the initiator's other channels. */
	for (ch = s->channels; ch; ch = ch->next) {
		if (ch->state == CH_CLOSING || memcmp(ch->init_port_id, lr.initiator_port_id, 16))
			continue;
		others++;
		if ((lr.req_flags & XS_SRP_LOGIN_REQ_MCA_MASK) == XS_SRP_MCA_SINGLE)
			ch_fail(ch, "new single-channel login of the same initiator",
				XS_SRP_TLO_MULTI_CHANNEL_ACTION);
	}
	if (s->n_channels - ((lr.req_flags & XS_SRP_LOGIN_REQ_MCA_MASK) == XS_SRP_MCA_SINGLE ?
			     others : 0) >= s->o.max_channels) {
		login_reject(s, req, lr.tag, XS_SRP_REJ_CHANNEL_LIMIT, who);
		return;
	}
	ch = ch_new(s, &lr);
	if (!ch) {
		login_reject(s, req, lr.tag, XS_SRP_REJ_INSUFFICIENT_RESOURCES, who);
		return;
	}
	ch->next = s->channels;
	s->channels = ch;
	s->n_channels++;
	if (apply_mask(s, ch) < 0) {
		ch_destroy(ch);
		login_reject(s, req, lr.tag, XS_SRP_REJ_INSUFFICIENT_RESOURCES, who);
		return;
	}
	rsp.req_lim_delta = ch->req_lim;
	rsp.tag = lr.tag;
	rsp.max_it_iu_len = ch->it_iu_len;
	rsp.max_ti_iu_len = XSD_SRPT_TI_IU_LEN;
	rsp.buf_fmt = XS_SRP_BUF_FMT_DIRECT | XS_SRP_BUF_FMT_INDIRECT;
	if (others)
		rsp.rsp_flags = (lr.req_flags & XS_SRP_LOGIN_REQ_MCA_MASK) == XS_SRP_MCA_SINGLE
					? XS_SRP_MCR_TERMINATED : XS_SRP_MCR_CONTINUE;
	n = xs_srp_login_rsp_encode(&rsp, buf, sizeof(buf));
	rc = n < 0 ? n : xs_qp_accept(ch->qp, req, buf, (size_t)n);
	if (rc < 0) {
		XS_ERR(COMP, "accepting the login of %s failed: %s", who, xs_strerror(rc));
		ch_destroy(ch);
		return;
	}
	s->st.logins++;
	ch->login_time = (int64_t)time(NULL);
	ch->login_ms = xs_now_ms();
	XS_INFO(COMP, "%s logged in: IU %u bytes, %u credits", ch->name, ch->it_iu_len,
		ch->req_lim);
}

/* --------------------------------------------------------------- events */

static struct srpt_ch *ch_of_qp(struct xsd_srpt *s, struct xs_qp *qp)
{
	for (struct srpt_ch *ch = s->channels; ch; ch = ch->next)
		if (ch->qp == qp)
			return ch;
	return NULL;
}

int xsd_srpt_handle_event(struct xsd_srpt *s, const struct xs_event *ev)
{
	struct srpt_ch *ch;

	switch (ev->type) {
	case XS_EV_CONNECT_REQUEST:
		if (ev->listener != s->listener)
			return 0;
		handle_login(s, ev->req);
		return 1;
	case XS_EV_ESTABLISHED:
		ch = ev->qp ? ch_of_qp(s, ev->qp) : NULL;
		if (!ch)
			return 0;
		if (ch->state == CH_CONNECTING)
			ch->state = CH_LIVE;
		return 1;
	case XS_EV_DISCONNECTED:
	case XS_EV_UNREACHABLE:
	case XS_EV_REJECTED:
		ch = ev->qp ? ch_of_qp(s, ev->qp) : NULL;
		if (!ch)
			return 0;
		ch->disconnected = true;
		ch_fail(ch, "the initiator disconnected", -1);
		return 1;
	default:
		return 0;
	}
}

static void on_fabric_event(struct xs_loop *loop, int fd, unsigned int events, void *arg)
{
	struct xsd_srpt *s = arg;
	struct xs_event ev;

	while (xs_fabric_get_event(s->fabric, &ev) == 0)
		if (!xsd_srpt_handle_event(s, &ev))
			XS_DEBUG(COMP, "fabric event %d not for the SRP target", ev.type);
}

static void on_scsi_fd(struct xs_loop *loop, int fd, unsigned int events, void *arg)
{
	struct xsd_srpt *s = arg;

	xsd_scsi_target_process(s->t);
}

/* ------------------------------------------------------------------ API */

struct xsd_srpt *xsd_srpt_new(struct xs_fabric *f, struct xs_loop *loop,
			      struct xsd_scsi_target *t, const struct xsd_srpt_opts *opts)
{
	struct xsd_srpt *s;
	int err;

	if (!f || !loop || !t || (opts && opts->size != sizeof(*opts))) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	if (opts)
		s->o = *opts;
	else
		s->o = (struct xsd_srpt_opts){ .size = sizeof(s->o), .default_visible = true };
	if (!s->o.service_id)
		s->o.service_id = XSD_SRPT_DEFAULT_SERVICE_ID;
	if (!s->o.req_lim)
		s->o.req_lim = XSD_SRPT_DEFAULT_REQ_LIM;
	if (!s->o.max_it_iu_len)
		s->o.max_it_iu_len = XSD_SRPT_DEFAULT_MAX_IU;
	if (!s->o.max_xfer)
		s->o.max_xfer = XSD_SRPT_DEFAULT_MAX_XFER;
	if (!s->o.max_channels)
		s->o.max_channels = 64;
	if (s->o.req_lim > XSD_SRPT_MAX_REQ_LIM || s->o.max_it_iu_len < 64 ||
	    s->o.max_it_iu_len > XSD_SRPT_MAX_MAX_IU || s->o.max_xfer > (1u << 30)) {
		err = EINVAL;
		goto err_free;
	}
	s->fabric = f;
	s->loop = loop;
	s->t = t;
	xs_put64(s->target_port_id + 8, s->o.service_id);
	s->pd = xs_pd_alloc(f);
	if (!s->pd) {
		err = errno;
		goto err_free;
	}
	s->listener = xs_cm_listen(f, s->o.service_id);
	if (!s->listener) {
		err = errno;
		XS_ERR(COMP, "cannot listen on service ID 0x%016" PRIx64 ": %s", s->o.service_id,
		       strerror(err));
		goto err_pd;
	}
	if (xs_loop_add_fd(loop, xsd_scsi_target_fd(t), XS_IO_IN, on_scsi_fd, s) < 0) {
		err = errno ? errno : EINVAL;
		goto err_listen;
	}
	s->scsi_in_loop = true;
	if (s->o.own_fabric_events) {
		if (xs_loop_add_fd(loop, xs_fabric_event_fd(f), XS_IO_IN, on_fabric_event, s) < 0) {
			err = errno ? errno : EINVAL;
			goto err_scsi;
		}
		s->events_in_loop = true;
	}
	XS_INFO(COMP, "SRP target listening on service ID 0x%016" PRIx64 " (%u credits, "
		"IU up to %u bytes, %u bytes per command)", s->o.service_id, s->o.req_lim,
		s->o.max_it_iu_len, s->o.max_xfer);
	return s;

err_scsi:
	xs_loop_del_fd(loop, xsd_scsi_target_fd(t));
err_listen:
	xs_cm_listener_close(s->listener);
err_pd:
	xs_pd_free(s->pd);
err_free:
	free(s);
	errno = err;
	return NULL;
}

void xsd_srpt_free(struct xsd_srpt *s)
{
	if (!s)
		return;
	if (s->events_in_loop)
		xs_loop_del_fd(s->loop, xs_fabric_event_fd(s->fabric));
	xs_cm_listener_close(s->listener);
	for (struct srpt_ch *ch = s->channels; ch; ch = ch->next)
		ch_fail(ch, "target shutting down", XS_SRP_TLO_NO_REASON);
	/* Let the logouts go out, then wait for the SCSI layer. */
	for (int i = 0; i < 40; i++) {
		bool pending = false;

		for (struct srpt_ch *ch = s->channels; ch; ch = ch->next) {
			struct xs_wc wc[SRPT_POLL_BATCH];

			while (xs_cq_poll(ch->cq, wc, SRPT_POLL_BATCH) > 0)
				ch->sends_out = 0;
			pending |= ch->sends_out != 0;
		}
		if (!pending)
			break;
		xsd_scsi_target_wait(s->t, 5);
	}
	while (s->channels) {
		struct srpt_ch *ch = s->channels;

		if (!ch->disconnected) {
			ch->disconnected = true;
			xs_qp_disconnect(ch->qp);
		}
		while (ch->scsi_inflight)
			xsd_scsi_target_wait(s->t, 100);
		ch_destroy(ch);
	}
	if (s->scsi_in_loop)
		xs_loop_del_fd(s->loop, xsd_scsi_target_fd(s->t));
	xs_pd_free(s->pd);
	for (unsigned int i = 0; i < s->n_masks; i++)
		free(s->masks[i].ids);
	free(s->masks);
	free(s);
}

static void send_aer(struct srpt_ch *ch)
{
	static const uint8_t sense[XSD_SCSI_SENSE_LEN] = {
		[0] = 0x70, [2] = XSD_SK_UNIT_ATTENTION, [7] = 10, [12] = 0x3f, [13] = 0x0e,
	};
	struct xs_srp_aer_req aer = {
		.req_lim_delta = 0,
		.tag = ++ch->aer_tag,
		.lun = 0,
		.sense_len = sizeof(sense),
		.sense = sense,
	};
	uint8_t buf[XSD_SRPT_TI_IU_LEN];
	int n = xs_srp_aer_req_encode(&aer, buf, sizeof(buf));

	if (n > 0 && post_inline(ch, buf, (size_t)n, WK_MSG, 0) == 0) {
		ch->s->st.aers++;
		XS_DEBUG(COMP, "%s: SRP_AER_REQ (REPORTED LUNS DATA HAS CHANGED)", ch->name);
	}
}

int xsd_srpt_luns_changed(struct xsd_srpt *s)
{
	int sent = 0;

	for (struct srpt_ch *ch = s->channels; ch; ch = ch->next) {
		if (ch->state != CH_LIVE)
			continue;
		send_aer(ch);
		sent++;
	}
	return sent;
}

int xsd_srpt_set_mask(struct xsd_srpt *s, uint64_t wwpn, const uint16_t *ids, unsigned int count)
{
	struct srpt_mask *m = (struct srpt_mask *)mask_find(s, wwpn);

	for (unsigned int i = 0; ids && i < count; i++)
		if (ids[i] > XSD_SCSI_MAX_LUN_ID)
			return -ERANGE;
	if (!ids) {
		if (m) {
			free(m->ids);
			*m = s->masks[--s->n_masks];
		}
	} else {
		uint16_t *copy = malloc(sizeof(*copy) * (count ? count : 1));

		if (!copy)
			return -ENOMEM;
		if (count)
			memcpy(copy, ids, sizeof(*copy) * count);
		if (!m) {
			struct srpt_mask *nm = realloc(s->masks, sizeof(*nm) * (s->n_masks + 1));

			if (!nm) {
				free(copy);
				return -ENOMEM;
			}
			s->masks = nm;
			m = &s->masks[s->n_masks++];
			m->ids = NULL;
			m->wwpn = wwpn;
		}
		free(m->ids);
		m->ids = copy;
		m->count = count;
	}
	for (struct srpt_ch *ch = s->channels; ch; ch = ch->next) {
		if (ch->wwpn != wwpn || ch->state == CH_CLOSING)
			continue;
		if (apply_mask(s, ch) < 0)
			return -ENOMEM;
		if (ch->state == CH_LIVE)
			send_aer(ch);
	}
	return 0;
}

void xsd_srpt_get_stats(const struct xsd_srpt *s, struct xsd_srpt_stats *st)
{
	*st = s->st;
	st->channels = 0;
	for (const struct srpt_ch *ch = s->channels; ch; ch = ch->next)
		if (ch->state != CH_CLOSING)
			st->channels++;
}

int xsd_srpt_list_channels(const struct xsd_srpt *s, struct xsd_srpt_channel *out,
			   unsigned int max)
{
	unsigned int n = 0;

	/* New channels go to the head of the list: newest first. */
	for (const struct srpt_ch *ch = s->channels; ch; ch = ch->next) {
		struct xsd_srpt_channel *c;

		if (ch->state == CH_CLOSING)
			continue;
		if (n < max && out) {
			c = &out[n];
			memset(c, 0, sizeof(*c));
			memcpy(c->initiator_port_id, ch->init_port_id, 16);
			c->wwpn = ch->wwpn;
			c->login_time = ch->login_time;
			c->login_ms = ch->login_ms;
			c->it_iu_len = ch->it_iu_len;
			c->req_lim = ch->req_lim;
			c->outstanding = ch->busy;
			c->commands = ch->n_commands;
			c->completed = ch->n_completed;
		}
		n++;
	}
	return (int)n;
}
