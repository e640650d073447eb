/* SPDX-License-Identifier: MIT */
/*
 * vhba.c - SRP initiator: connection state machine, credits, commands,
 * reconnect, discovery. See xsvhba/vhba.h and docs/vhba.md.
 *
 * Connection states (loop thread):
 *   IDLE -> CONNECTING (CM REQ with SRP_LOGIN_REQ sent)
 *   CONNECTING -> LIVE (REP with SRP_LOGIN_RSP) | DOWN (REJ, unreachable)
 *   LIVE -> DOWN (disconnect, transport error, SRP_T_LOGOUT)
 *   DOWN -> CONNECTING (reconnect timer)
 *   any -> CLOSED (xsvhba_logout / free)
 * While DOWN, commands wait in the pending queue; the link-down timer,
 * started at the first loss, fails them with -EIO when it fires and makes
 * new ones fail at once until the next login.
 *
 * Commands (slot = credit in use): pending -> slot (buffer registered,
 * SRP_CMD sent) -> SRP_RSP (deregistered, done). On link loss the
 * in-flight ones are deregistered and go back to the head of the pending
 * queue, in submission order.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <xscore/common.h>
#include <xscore/log.h>
#include <xscore/srp.h>

#include "xsvhba/vhba.h"

#define COMP "vhba"
#define RECV_IU_MIN 512
#define RECV_IU_MAX 65536   /* largest receive buffer a target's login can ask of us */
#define EXTRA_RECV 8
#define POLL_BATCH 32
#define RECONNECT_FIRST_MS 100
#define RECONNECT_MS 500
#define UA_RETRIES 10
#define BUSY_RETRIES 1000

enum vstate {
	V_IDLE = 0,
	V_CONNECTING,
	V_LIVE,
	V_DOWN,
	V_CLOSED,
};

enum wr_kind {
	WK_RECV = 1,
	WK_SEND,
	WK_MSG,
};

struct slot {
	struct xsvhba_cmd *cmd;  /* NULL: free */
	uint16_t gen;
	bool tm;
};

struct tm_req {
	struct xsvhba_cmd cmd;   /* carries the result */
	uint64_t lun;
	uint8_t func;
	uint64_t task_tag;
	int rsp_code;
};

struct xsvhba {
	struct xs_fabric *fabric;
	struct xs_loop *loop;
	struct xsvhba_opts o;
	/* shared with other threads, under lock */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct xsvhba_cmd *in_head, *in_tail;
	int efd;
	bool ready;              /* logged in and discovered at least once */
	int last_err;
	uint32_t last_reject;
	bool connected;
	struct xsvhba_lun luns[XSVHBA_MAX_LUNS];
	unsigned int n_luns;
	unsigned int scan_req, scan_done;
	bool scan_running;
	bool stopping;
	pthread_t scanner;
	bool scanner_started;
	xsvhba_luns_cb luns_cb;
	void *luns_cb_arg;
	struct xsvhba_stats st;
	pthread_t loop_thread;   /* the thread running our callbacks (atomic) */
	bool loop_thread_known;
	bool kicked;             /* efd written, incoming not taken yet */
	/* loop thread only */
	enum vstate state;
	struct xs_pd *pd;
	struct xs_cq *cq;
	struct xs_qp *qp;
	struct xs_mr *mr;
	uint8_t *mem;
	size_t mem_len;
	uint8_t *recv_ring;
	uint8_t *send_bufs;
	uint32_t n_recv;
	uint32_t n_slots;        /* queue_depth + 1 (task management) */
	struct slot *slots;
	uint32_t credits;
	uint32_t it_iu_len;
	uint32_t recv_iu_len;    /* bytes per receive buffer */
	uint32_t recv_want;      /* a login asked for larger ones: grow before the next */
	uint8_t *rx_mem;         /* grown receive ring (NULL: the ring is in mem) */
	size_t rx_len;
	struct xs_mr *rx_mr;
	struct xsvhba_cmd *pend_head, *pend_tail;
	unsigned int n_pend;
	unsigned int outstanding;
	struct tm_req *tm_pending; /* waiting for the task management slot */
	struct tm_req *tm_tail;
	struct xs_timer *reconnect;
	struct xs_timer *submit;   /* sends what the loop's own thread queued */
	struct xs_timer *linkdown;
	bool failing_fast;
	bool events_in_loop;
	bool cq_in_loop;
	bool efd_in_loop;
	bool logged_in_once;
	uint64_t next_tag_seq;
	uint64_t send_count;
	/* answered commands whose callbacks run at the end of the CQ pass */
	struct xsvhba_cmd *done_head, *done_tail;
	/* counters published to st by update_counts() */
	uint64_t n_commands, n_completed, n_timed_out;
	uint32_t peak;
};

static void dispatch(struct xsvhba *v);
static void link_lost(struct xsvhba *v, const char *why);
static void update_counts(struct xsvhba *v);

/* ----------------------------------------------------------- utilities */

static bool on_loop_thread(struct xsvhba *v)
{
	return __atomic_load_n(&v->loop_thread_known, __ATOMIC_ACQUIRE) &&
	       pthread_equal(pthread_self(), __atomic_load_n(&v->loop_thread, __ATOMIC_RELAXED));
}

/* Every entry from the loop notes its thread: the caller may run the loop
 * from another thread later (the fio engine does, once logged in). */
static void note_loop_thread(struct xsvhba *v)
{
	pthread_t self = pthread_self();

	if (!__atomic_load_n(&v->loop_thread_known, __ATOMIC_RELAXED) ||
	    !pthread_equal(self, v->loop_thread)) {
		__atomic_store_n(&v->loop_thread, self, __ATOMIC_RELAXED);
		__atomic_store_n(&v->loop_thread_known, true, __ATOMIC_RELEASE);
	}
}

/*
 * New incoming commands (v->lock held by the caller, who calls kick() after
 * unlocking when this returns true). From another thread: one eventfd write
 * per batch the loop has not taken yet. From the thread that runs the loop
 * (e.g. fio's job thread between two loop runs): a zero-delay timer, no
 * system call - the loop is not running anywhere else then.
 */
static bool kick_needed(struct xsvhba *v, bool own)
{
	bool need = own || !v->kicked;

	if (!own)
		v->kicked = true;
	return need;
}

static void kick(struct xsvhba *v, bool own)
{
	uint64_t one = 1;

	if (own) {
		if (!xs_timer_armed(v->submit))
			xs_timer_arm(v->submit, 0, 0);
		return;
	}
	if (write(v->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		XS_WARN(COMP, "eventfd write: %s", strerror(errno));
}

static void cmd_end(struct xsvhba *v, struct xsvhba_cmd *cmd, int result)
{
	for (unsigned int i = 0; i < cmd->nmr; i++)
		xs_mr_dereg(cmd->mrs[i]);
	cmd->nmr = 0;
	cmd->result = result;
	v->n_completed++;
	if (result == -EIO)
		v->n_timed_out++;
}

/* End a command now: its callback runs before this returns. */
static void cmd_complete(struct xsvhba *v, struct xsvhba_cmd *cmd, int result)
{
	cmd_end(v, cmd, result);
	update_counts(v);
	cmd->done(cmd);
}

/* End a command answered in this CQ pass: its callback runs in
 * flush_done(), after the counters are published once for the batch. */
static void cmd_complete_later(struct xsvhba *v, struct xsvhba_cmd *cmd, int result)
{
	cmd_end(v, cmd, result);
	cmd->next = NULL;
	if (v->done_tail)
		v->done_tail->next = cmd;
	else
		v->done_head = cmd;
	v->done_tail = cmd;
}

static void flush_done(struct xsvhba *v)
{
	struct xsvhba_cmd *c = v->done_head;

	if (!c)
		return;
	v->done_head = v->done_tail = NULL;
	update_counts(v);
	while (c) {
		struct xsvhba_cmd *next = c->next;

		c->next = NULL;
		c->done(c);
		c = next;
	}
}

static void pend_push_tail(struct xsvhba *v, struct xsvhba_cmd *c)
{
	c->next = NULL;
	if (v->pend_tail)
		v->pend_tail->next = c;
	else
		v->pend_head = c;
	v->pend_tail = c;
	v->n_pend++;
}

static struct xsvhba_cmd *pend_pop(struct xsvhba *v)
{
	struct xsvhba_cmd *c = v->pend_head;

	if (!c)
		return NULL;
	v->pend_head = c->next;
	if (!v->pend_head)
		v->pend_tail = NULL;
	c->next = NULL;
	v->n_pend--;
	return c;
}

static void pend_push_head(struct xsvhba *v, struct xsvhba_cmd *c)
{
	c->next = v->pend_head;
	v->pend_head = c;
	if (!v->pend_tail)
		v->pend_tail = c;
	v->n_pend++;
}

static void update_counts(struct xsvhba *v)
{
	if (v->outstanding > v->peak)
		v->peak = v->outstanding;
	pthread_mutex_lock(&v->lock);
	v->st.commands = v->n_commands;
	v->st.completed = v->n_completed;
	v->st.timed_out = v->n_timed_out;
	v->st.credits = v->credits;
	v->st.outstanding = v->outstanding;
	v->st.peak_outstanding = v->peak;
	v->st.held = v->n_pend;
	pthread_mutex_unlock(&v->lock);
}

/* ----------------------------------------------------------- sending */

static uint8_t *send_buf(struct xsvhba *v, uint32_t idx)
{
	return v->send_bufs + (size_t)idx * v->o.it_iu_len;
}

static int post_send_buf(struct xsvhba *v, uint32_t idx, size_t len)
{
	struct xs_sge sge = { .addr = (uintptr_t)send_buf(v, idx), .length = (uint32_t)len,
			      .lkey = xs_mr_lkey(v->mr) };
	struct xs_send_wr wr = {
		.wr_id = ((uint64_t)idx << 8) | WK_SEND,
		.opcode = XS_WR_SEND,
		.sg_list = &sge,
		.num_sge = 1,
		.flags = 0,
	};

	/* The slot's buffer is reused only after the target's response to it
	 * arrived, so sends need no completion; every 16th is signaled so the
	 * send queue can reclaim the entries before it. A failed one still
	 * completes, with its error. */
	if (++v->send_count % 16 == 0)
		wr.flags = XS_SEND_SIGNALED;
	return xs_qp_post_send(v->qp, &wr);
}

static int post_inline(struct xsvhba *v, const uint8_t *buf, size_t len)
{
	struct xs_sge sge = { .addr = (uintptr_t)buf, .length = (uint32_t)len };
	struct xs_send_wr wr = {
		.wr_id = WK_MSG,
		.opcode = XS_WR_SEND,
		.sg_list = &sge,
		.num_sge = 1,
		.flags = XS_SEND_SIGNALED | XS_SEND_INLINE,
	};

	return xs_qp_post_send(v->qp, &wr);
}

static uint64_t make_tag(struct xsvhba *v, uint32_t idx)
{
	v->slots[idx].gen++;
	return ((uint64_t)++v->next_tag_seq << 32) | ((uint64_t)v->slots[idx].gen << 16) | idx;
}

/* Register the command's buffer and send its SRP_CMD in slot @idx.
 * 0, or -errno with the command untouched (registrations undone). */
static int send_cmd(struct xsvhba *v, uint32_t idx, struct xsvhba_cmd *c)
{
	struct xs_srp_cmd *sc = &(struct xs_srp_cmd){ 0 };
	struct xs_srp_desc descs[XSVHBA_MAX_SEGS];
	struct xs_srp_data_buf *b = NULL;
	int access = c->dir == XSVHBA_DIR_READ
			     ? XS_ACCESS_REMOTE_WRITE | XS_ACCESS_LOCAL_WRITE
			     : XS_ACCESS_REMOTE_READ;
	uint64_t total = 0;
	int n, rc;

	sc->tag = make_tag(v, idx);
	sc->lun = c->lun;
	sc->task_attr = XS_SRP_ATTR_SIMPLE;
	sc->cdb_len = c->cdb_len <= 16 ? 16 : (uint16_t)((c->cdb_len + 3) & ~3);
	memcpy(sc->cdb, c->cdb, c->cdb_len);
	if (c->dir != XSVHBA_DIR_NONE) {
		c->nmr = 0;
		for (unsigned int i = 0; i < c->iovcnt; i++) {
			struct xs_mr *mr = xs_mr_reg(v->pd, c->iov[i].iov_base, c->iov[i].iov_len,
						     access);

			if (!mr) {
				rc = -errno;
				goto err_dereg;
			}
			c->mrs[c->nmr++] = mr;
			descs[i].va = (uintptr_t)c->iov[i].iov_base;
			descs[i].key = xs_mr_rkey(mr);
			descs[i].len = (uint32_t)c->iov[i].iov_len;
			total += c->iov[i].iov_len;
		}
		b = c->dir == XSVHBA_DIR_WRITE ? &sc->out : &sc->in;
		if (c->iovcnt == 1) {
			b->fmt = XS_SRP_FMT_DIRECT;
			b->direct = descs[0];
			b->total_len = descs[0].len;
		} else {
			/* The whole table travels in the IU: the target never
			 * fetches it, so it needs no remote key. */
			b->fmt = XS_SRP_FMT_INDIRECT;
			b->count = (uint8_t)c->iovcnt;
			b->table.va = (uintptr_t)send_buf(v, idx) + XS_SRP_CMD_MIN_LEN +
				      (sc->cdb_len - 16) + XS_SRP_INDIRECT_HDR_LEN;
			b->table.key = 0;
			b->table.len = c->iovcnt * XS_SRP_DESC_LEN;
			b->total_len = (uint32_t)total;
			b->list = descs;
		}
	}
	n = xs_srp_cmd_encode(sc, send_buf(v, idx), v->it_iu_len);
	if (n < 0) {
		rc = n;
		goto err_dereg;
	}
	rc = post_send_buf(v, idx, (size_t)n);
	if (rc < 0)
		goto err_dereg;
	c->tag = sc->tag;
	return 0;

err_dereg:
	for (unsigned int i = 0; i < c->nmr; i++)
		xs_mr_dereg(c->mrs[i]);
	c->nmr = 0;
	return rc;
}

static int send_tm(struct xsvhba *v, uint32_t idx, struct tm_req *t)
{
	struct xs_srp_tsk_mgmt m = {
		.tag = make_tag(v, idx),
		.lun = t->lun,
		.func = t->func,
		.task_tag = t->task_tag,
	};
	int n = xs_srp_tsk_mgmt_encode(&m, send_buf(v, idx), v->it_iu_len);

	if (n < 0)
		return n;
	t->cmd.tag = m.tag;
	return post_send_buf(v, idx, (size_t)n);
}

static void tm_push(struct xsvhba *v, struct tm_req *t)
{
	t->cmd.next = NULL;
	if (v->tm_tail)
		v->tm_tail->cmd.next = &t->cmd;
	else
		v->tm_pending = t;
	v->tm_tail = t;
}

static struct tm_req *tm_pop(struct xsvhba *v)
{
	struct tm_req *t = v->tm_pending;

	if (!t)
		return NULL;
	v->tm_pending = t->cmd.next ? xs_container_of(t->cmd.next, struct tm_req, cmd) : NULL;
	if (!v->tm_pending)
		v->tm_tail = NULL;
	t->cmd.next = NULL;
	return t;
}

static void take_incoming(struct xsvhba *v)
{
	struct xsvhba_cmd *c;

	pthread_mutex_lock(&v->lock);
	c = v->in_head;
	v->in_head = v->in_tail = NULL;
	v->kicked = false;
	pthread_mutex_unlock(&v->lock);
	while (c) {
		struct xsvhba_cmd *next = c->next;

		if (v->failing_fast || v->state == V_CLOSED)
			cmd_complete(v, c, v->state == V_CLOSED ? -ESHUTDOWN : -EIO);
		else if (c->cdb_len == 0)
			tm_push(v, xs_container_of(c, struct tm_req, cmd));
		else
			pend_push_tail(v, c);
		c = next;
	}
}

static void dispatch(struct xsvhba *v)
{
	uint32_t tm_idx = v->n_slots - 1;

	if (v->state != V_LIVE) {
		update_counts(v);
		return;
	}
	if (v->tm_pending && !v->slots[tm_idx].cmd && v->credits >= 1) {
		struct tm_req *t = v->tm_pending;

		if (send_tm(v, tm_idx, t) == 0) {
			tm_pop(v);
			v->slots[tm_idx].cmd = &t->cmd;
			v->slots[tm_idx].tm = true;
			v->credits--;
		}
	}
	/* One credit stays for task management. */
	while (v->pend_head && v->credits > 1) {
		uint32_t idx;
		int rc;

		for (idx = 0; idx < tm_idx; idx++)
			if (!v->slots[idx].cmd)
				break;
		if (idx == tm_idx)
			break;
		struct xsvhba_cmd *c = pend_pop(v);

		rc = send_cmd(v, idx, c);
		if (rc == -ENOMEM || rc == -ENOTCONN) {
			pend_push_head(v, c);
			break;
		}
		if (rc < 0) {
			XS_WARN(COMP, "command refused before sending: %s", xs_strerror(rc));
			cmd_complete(v, c, rc == -EMSGSIZE ? -EINVAL : rc);
			continue;
		}
		v->slots[idx].cmd = c;
		v->slots[idx].tm = false;
		v->credits--;
		v->outstanding++;
		v->n_commands++;
		if (v->outstanding > v->peak)
			v->peak = v->outstanding;
	}
	update_counts(v);
}

/* ----------------------------------------------------------- receiving */

static void send_tag_rsp(struct xsvhba *v, uint8_t type, uint64_t tag)
{
	struct xs_srp_tag_rsp r = { .tag = tag };
	uint8_t buf[16];
	int n = type == XS_SRP_AER_RSP ? xs_srp_aer_rsp_encode(&r, buf, sizeof(buf))
				       : xs_srp_cred_rsp_encode(&r, buf, sizeof(buf));

	if (n > 0)
		post_inline(v, buf, (size_t)n);
}

static void request_rescan(struct xsvhba *v)
{
	pthread_mutex_lock(&v->lock);
	v->scan_req++;
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
}

static void handle_rsp(struct xsvhba *v, const uint8_t *buf, size_t len)
{
	struct xs_srp_rsp r;
	struct slot *s;
	uint32_t idx;
	int rc = xs_srp_rsp_decode(buf, len, &r);

	if (rc < 0) {
		link_lost(v, "malformed SRP_RSP");
		return;
	}
	idx = (uint32_t)(r.tag & 0xffff);
	if (idx >= v->n_slots || !v->slots[idx].cmd || v->slots[idx].gen != ((r.tag >> 16) & 0xffff) ||
	    v->slots[idx].cmd->tag != r.tag) {
		XS_WARN(COMP, "SRP_RSP for unknown tag 0x%" PRIx64, r.tag);
		v->credits += r.req_lim_delta;
		return;
	}
	s = &v->slots[idx];
	v->credits += r.req_lim_delta;
	if (s->tm) {
		struct tm_req *t = xs_container_of(s->cmd, struct tm_req, cmd);

		t->rsp_code = (r.valid & XS_SRP_RSP_RSPVALID) ? r.rsp_code : 0;
		s->cmd = NULL;
		/* Aborted commands end without SRP_RSP: their credits came
		 * back in this response. Fail them locally. */
		if (t->rsp_code == XS_SRP_RSP_NO_FAILURE) {
			for (uint32_t i = 0; i + 1 < v->n_slots; i++) {
				struct xsvhba_cmd *c = v->slots[i].cmd;

				if (!c)
					continue;
				/* Only commands sent before the task management
				 * request (tag sequence numbers grow). */
				if ((c->tag >> 32) > (t->cmd.tag >> 32))
					continue;
				if (t->func == XS_SRP_TSK_ABORT_TASK ? c->tag != t->task_tag
								     : c->lun != t->lun)
					continue;
				v->slots[i].cmd = NULL;
				v->outstanding--;
				cmd_complete_later(v, c, -ECANCELED);
			}
		}
		cmd_complete_later(v, &t->cmd, 0);
		return;
	}
	{
		struct xsvhba_cmd *c = s->cmd;

		s->cmd = NULL;
		v->outstanding--;
		c->status = r.status;
		c->sense_len = 0;
		if ((r.valid & XS_SRP_RSP_SNSVALID) && r.sense_len) {
			c->sense_len = (uint8_t)XS_MIN(r.sense_len, (uint32_t)XSVHBA_SENSE_MAX);
			memcpy(c->sense, r.sense, c->sense_len);
		}
		c->residual = 0;
		if (r.valid & (XS_SRP_RSP_DIUNDER))
			c->residual = r.data_in_res;
		if (r.valid & (XS_SRP_RSP_DOUNDER))
			c->residual = r.data_out_res;
		if ((r.valid & XS_SRP_RSP_RSPVALID) && r.rsp_code != XS_SRP_RSP_NO_FAILURE) {
			XS_WARN(COMP, "target refused command tag 0x%" PRIx64 " (RSP_CODE 0x%02x)",
				r.tag, r.rsp_code);
			cmd_complete_later(v, c, -EINVAL);
			return;
		}
		if (c->status == 0x02 && c->sense_len >= 14 && (c->sense[2] & 0xf) == 0x6 &&
		    c->sense[12] == 0x3f && c->sense[13] == 0x0e)
			request_rescan(v);
		cmd_complete_later(v, c, 0);
	}
}

static void handle_recv(struct xsvhba *v, const uint8_t *buf, size_t len)
{
	int type = xs_srp_iu_type(buf, len);

	switch (type) {
	case XS_SRP_RSP:
		handle_rsp(v, buf, len);
		return;
	case XS_SRP_AER_REQ: {
		struct xs_srp_aer_req a;

		if (xs_srp_aer_req_decode(buf, len, &a) < 0)
			break;
		v->credits += a.req_lim_delta;
		pthread_mutex_lock(&v->lock);
		v->st.aers++;
		pthread_mutex_unlock(&v->lock);
		XS_INFO(COMP, "asynchronous event from the target: rescanning");
		send_tag_rsp(v, XS_SRP_AER_RSP, a.tag);
		request_rescan(v);
		return;
	}
	case XS_SRP_CRED_REQ: {
		struct xs_srp_cred_req cr;

		if (xs_srp_cred_req_decode(buf, len, &cr) < 0)
			break;
		v->credits += cr.req_lim_delta;
		send_tag_rsp(v, XS_SRP_CRED_RSP, cr.tag);
		return;
	}
	case XS_SRP_T_LOGOUT: {
		struct xs_srp_t_logout lo;

		if (xs_srp_t_logout_decode(buf, len, &lo) < 0)
			break;
		XS_WARN(COMP, "the target logged us out: %s",
			xs_srp_t_logout_reason_str(lo.reason));
		link_lost(v, "target logout");
		return;
	}
	default:
		break;
	}
	XS_WARN(COMP, "unexpected or malformed IU from the target (%zu bytes, type 0x%02x)", len,
		len ? buf[0] : 0);
	link_lost(v, "protocol error");
}

static int post_recv(struct xsvhba *v, uint32_t i)
{
	struct xs_sge sge = { .addr = (uintptr_t)(v->recv_ring + (size_t)i * v->recv_iu_len),
			      .length = v->recv_iu_len,
			      .lkey = xs_mr_lkey(v->rx_mr ? v->rx_mr : v->mr) };
	struct xs_recv_wr wr = { .wr_id = ((uint64_t)i << 8) | WK_RECV, .sg_list = &sge,
				 .num_sge = 1 };

	return xs_qp_post_recv(v->qp, &wr);
}

static void on_cq(struct xs_loop *loop, int fd, unsigned int events, void *arg)
{
	struct xsvhba *v = arg;
	struct xs_wc wc[POLL_BATCH];
	int n;

	note_loop_thread(v);
	do {
		n = xs_cq_poll(v->cq, wc, POLL_BATCH);
		for (int i = 0; i < n; i++) {
			uint32_t idx = (uint32_t)(wc[i].wr_id >> 8);

			if (wc[i].qp != v->qp || v->state != V_LIVE)
				continue; /* an old connection's flushes */
			if (wc[i].status != XS_WC_SUCCESS) {
				XS_WARN(COMP, "work request failed: %s",
					xs_wc_status_str(wc[i].status));
				link_lost(v, "transport error");
				continue;
			}
			if ((wc[i].wr_id & 0xff) != WK_RECV || idx >= v->n_recv)
				continue;
			handle_recv(v, v->recv_ring + (size_t)idx * v->recv_iu_len,
				    XS_MIN(wc[i].byte_len, v->recv_iu_len));
			if (v->state == V_LIVE && post_recv(v, idx) < 0)
				link_lost(v, "cannot repost a receive");
		}
	} while (n == POLL_BATCH);
	flush_done(v);
	take_incoming(v); /* what the callbacks (or other threads) queued */
	dispatch(v);
}

static void on_submit(struct xs_loop *loop, struct xs_timer *t, void *arg)
{
	struct xsvhba *v = arg;

	note_loop_thread(v);
	take_incoming(v);
	dispatch(v);
}

static void on_efd(struct xs_loop *loop, int fd, unsigned int events, void *arg)
{
	struct xsvhba *v = arg;
	uint64_t val;

	note_loop_thread(v);
	if (read(v->efd, &val, sizeof(val)) < 0 && errno != EAGAIN)
		XS_WARN(COMP, "eventfd read: %s", strerror(errno));
	take_incoming(v);
	dispatch(v);
}

/* ----------------------------------------------------------- connection */

static void set_connected(struct xsvhba *v, bool up, int err)
{
	pthread_mutex_lock(&v->lock);
	v->connected = up;
	if (err)
		v->last_err = err;
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
}

/* Destroy the QP and drop what it left in the CQ (its flushed work
 * requests): a new QP may get the same address, and those completions must
 * not be taken for its own. */
static void destroy_qp(struct xsvhba *v)
{
	struct xs_wc wc[POLL_BATCH];

	if (v->qp) {
		xs_qp_destroy(v->qp);
		v->qp = NULL;
		while (xs_cq_poll(v->cq, wc, POLL_BATCH) > 0)
			;
	}
}

/* Receive buffers of @iu_len bytes replace the current ones (called with
 * no QP, so nothing is posted on the old ones). */
static int recv_ring_grow(struct xsvhba *v, uint32_t iu_len)
{
	size_t len = (size_t)v->n_recv * iu_len;
	uint8_t *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct xs_mr *mr;
	int err;

	if (mem == MAP_FAILED)
		return -errno;
	mr = xs_mr_reg(v->pd, mem, len, XS_ACCESS_LOCAL_WRITE);
	if (!mr) {
		err = errno ? -errno : -ENOMEM;
		munmap(mem, len);
		return err;
	}
	if (v->rx_mr) {
		xs_mr_dereg(v->rx_mr);
		munmap(v->rx_mem, v->rx_len);
	}
	v->rx_mem = mem;
	v->rx_len = len;
	v->rx_mr = mr;
	v->recv_ring = mem;
	v->recv_iu_len = iu_len;
	return 0;
}

static int connect_once(struct xsvhba *v)
{
	struct xs_srp_login_req lr = {
		.tag = ++v->next_tag_seq,
		.req_it_iu_len = v->o.it_iu_len,
		.req_buf_fmt = XS_SRP_BUF_FMT_DIRECT | XS_SRP_BUF_FMT_INDIRECT,
		.req_flags = v->o.multi_channel ? XS_SRP_MCA_MULTI : XS_SRP_MCA_SINGLE,
	};
	struct xs_qp_attr qa = {
		.pd = v->pd,
		.send_cq = v->cq,
		.recv_cq = v->cq,
		.max_send_wr = v->n_slots + EXTRA_RECV * 2,
		.max_recv_wr = v->n_recv,
		.max_sge = 1,
		.max_inline = 64,
		.context = v,
	};
	uint8_t buf[XS_SRP_LOGIN_REQ_LEN];
	struct xs_port_attr pa;
	int n, rc;

	xs_put64(lr.initiator_port_id + 8, v->o.wwpn);
	memcpy(lr.target_port_id, v->o.target_id_ext, 8);
	xs_put64(lr.target_port_id + 8, v->o.service_id);
	destroy_qp(v);
	if (v->recv_want > v->recv_iu_len) {
		rc = recv_ring_grow(v, v->recv_want);
		if (rc < 0) {
			XS_ERR(COMP, "cannot allocate %u-byte receive buffers: %s", v->recv_want,
			       xs_strerror(rc));
			return rc;
		}
		XS_INFO(COMP, "receive buffers now %u bytes", v->recv_iu_len);
	}
	v->qp = xs_qp_create(v->fabric, &qa);
	if (!v->qp)
		return -errno;
	for (uint32_t i = 0; i < v->n_recv; i++) {
		rc = post_recv(v, i);
		if (rc < 0)
			return rc;
	}
	/* On RoCE the CM goes through rdma_cm over IP, whose REQ carries 56
	 * bytes of private data: the login goes in the rdma_cm form. */
	if (xs_fabric_query_port(v->fabric, &pa) == 0 && pa.link_layer == XS_LINK_ETHERNET)
		n = xs_srp_login_req_rdma_cm_encode(&lr, buf, sizeof(buf));
	else
		n = xs_srp_login_req_encode(&lr, buf, sizeof(buf));
	if (n < 0)
		return n;
	v->state = V_CONNECTING;
	rc = xs_qp_connect(v->qp, &v->o.dest, v->o.service_id, buf, (size_t)n,
			   (int)v->o.connect_timeout_ms);
	if (rc < 0)
		v->state = V_DOWN;
	return rc;
}

static void on_reconnect(struct xs_loop *loop, struct xs_timer *t, void *arg)
{
	struct xsvhba *v = arg;
	int rc;

	if (v->state != V_DOWN && v->state != V_IDLE)
		return;
	rc = connect_once(v);
	if (rc < 0) {
		XS_DEBUG(COMP, "connect attempt failed: %s", xs_strerror(rc));
		v->state = V_DOWN;
		xs_timer_arm(v->reconnect, RECONNECT_MS, 0);
	}
}

static void on_linkdown(struct xs_loop *loop, struct xs_timer *t, void *arg)
{
	struct xsvhba *v = arg;
	struct xsvhba_cmd *c;
	unsigned int n = 0;

	if (v->state == V_LIVE)
		return;
	v->failing_fast = true;
	take_incoming(v);
	while ((c = pend_pop(v))) {
		cmd_complete(v, c, -EIO);
		n++;
	}
	{
		struct tm_req *tr;

		while ((tr = tm_pop(v)))
			cmd_complete(v, &tr->cmd, -EIO);
	}
	XS_ERR(COMP, "link down for %u ms: %u commands failed with EIO, failing new I/O until "
	       "the target is back", v->o.link_down_ms, n);
	update_counts(v);
}

static int cmd_tag_cmp(const void *a, const void *b)
{
	const struct xsvhba_cmd *x = *(struct xsvhba_cmd *const *)a;
	const struct xsvhba_cmd *y = *(struct xsvhba_cmd *const *)b;

	return x->tag < y->tag ? -1 : x->tag > y->tag;
}

static void link_lost(struct xsvhba *v, const char *why)
{
	unsigned int held = 0;

	if (v->state != V_LIVE && v->state != V_CONNECTING)
		return;
	XS_WARN(COMP, "connection to the target lost (%s): holding I/O for up to %u ms", why,
		v->o.link_down_ms);
	v->state = V_DOWN;
	/* Quiesce the QP before any command's memory is released: after a
	 * target logout or a protocol error the connection may still be up,
	 * and RDMA the target posted earlier would otherwise hit memory
	 * deregistered under it (the READ source gone, or a later
	 * registration's buffer behind a reused key). */
	if (v->qp)
		xs_qp_disconnect(v->qp);
	/* In-flight commands go back to the head of the queue in submission
	 * order (the tag's upper half is a sequence number). */
	{
		struct xsvhba_cmd **tmp = calloc(v->n_slots, sizeof(*tmp));
		unsigned int k = 0;

		for (uint32_t i = 0; i + 1 < v->n_slots; i++) {
			struct xsvhba_cmd *c = v->slots[i].cmd;

			if (!c)
				continue;
			v->slots[i].cmd = NULL;
			for (unsigned int m = 0; m < c->nmr; m++)
				xs_mr_dereg(c->mrs[m]);
			c->nmr = 0;
			if (tmp)
				tmp[k++] = c;
			else
				pend_push_head(v, c);
			held++;
		}
		if (tmp) {
			qsort(tmp, k, sizeof(*tmp), cmd_tag_cmp);
			while (k)
				pend_push_head(v, tmp[--k]);
			free(tmp);
		}
	}
	if (v->slots[v->n_slots - 1].cmd) {
		struct xsvhba_cmd *c = v->slots[v->n_slots - 1].cmd;

		v->slots[v->n_slots - 1].cmd = NULL;
		cmd_complete(v, c, -ENOTCONN);
	}
	v->outstanding = 0;
	v->credits = 0;
	set_connected(v, false, 0);
	if (!xs_timer_armed(v->linkdown) && !v->failing_fast)
		xs_timer_arm(v->linkdown, v->o.link_down_ms, 0);
	xs_timer_arm(v->reconnect, RECONNECT_FIRST_MS, 0);
	update_counts(v);
	XS_DEBUG(COMP, "%u commands held", held);
}

static void logged_in(struct xsvhba *v, const uint8_t *pd, size_t len)
{
	struct xs_srp_login_rsp rsp;
	int rc = xs_srp_login_rsp_decode(pd, len, &rsp);

	if (rc < 0) {
		XS_ERR(COMP, "bad SRP_LOGIN_RSP (%s)", xs_strerror(rc));
		link_lost(v, "bad login response");
		return;
	}
	/* The target may send IUs up to its max TI IU length; our receive
	 * buffers hold recv_iu_len bytes (at first the IT IU length we asked
	 * for: LIO answers that request as its max TI IU length). Receives were
	 * posted before the login, so larger buffers take a new login: hang up,
	 * grow the ring, log in again. Beyond RECV_IU_MAX: refuse. */
	if (rsp.max_ti_iu_len > v->recv_iu_len) {
		if (rsp.max_ti_iu_len > RECV_IU_MAX) {
			XS_ERR(COMP, "login refused: the target's maximum target-to-initiator IU "
			       "length %u is above the %u bytes this initiator can receive",
			       rsp.max_ti_iu_len, RECV_IU_MAX);
			link_lost(v, "target IU length too large");
			set_connected(v, false, -EMSGSIZE);
			xs_timer_arm(v->reconnect, RECONNECT_MS * 2, 0);
			return;
		}
		XS_INFO(COMP, "the target's maximum target-to-initiator IU length is %u, our "
			"receive buffers hold %u: logging in again with %u-byte buffers",
			rsp.max_ti_iu_len, v->recv_iu_len, rsp.max_ti_iu_len);
		v->recv_want = rsp.max_ti_iu_len;
		link_lost(v, "receive buffers smaller than the target's IUs");
		xs_timer_arm(v->reconnect, 0, 0);
		return;
	}
	v->it_iu_len = XS_MIN(rsp.max_it_iu_len, v->o.it_iu_len);
	v->credits = rsp.req_lim_delta;
	v->state = V_LIVE;
	v->failing_fast = false;
	xs_timer_disarm(v->linkdown);
	pthread_mutex_lock(&v->lock);
	v->st.logins++;
	if (v->logged_in_once) {
		v->st.reconnects++;
		v->st.redriven += v->n_pend;
	}
	pthread_mutex_unlock(&v->lock);
	XS_INFO(COMP, "logged in to the target: %u credits, IU %u bytes%s", v->credits,
		v->it_iu_len, v->logged_in_once ? " (reconnected)" : "");
	v->logged_in_once = true;
	set_connected(v, true, 0);
	request_rescan(v);
	dispatch(v);
}

int xsvhba_handle_event(struct xsvhba *v, const struct xs_event *ev)
{
	note_loop_thread(v);
	if (!ev->qp || ev->qp != v->qp)
		return 0;
	switch (ev->type) {
	case XS_EV_ESTABLISHED:
		if (v->state == V_CONNECTING)
			logged_in(v, ev->private_data, ev->private_len);
		return 1;
	case XS_EV_REJECTED: {
		struct xs_srp_login_rej rej;

		if (xs_srp_login_rej_decode(ev->private_data, ev->private_len, &rej) == 0) {
			XS_WARN(COMP, "login rejected: %s", xs_srp_login_rej_reason_str(rej.reason));
			pthread_mutex_lock(&v->lock);
			v->last_reject = rej.reason;
			pthread_mutex_unlock(&v->lock);
		} else {
			XS_WARN(COMP, "connection rejected (CM reason %u)", ev->reject_reason);
		}
		v->state = V_DOWN;
		set_connected(v, false, -ECONNREFUSED);
		if (!xs_timer_armed(v->linkdown) && !v->failing_fast)
			xs_timer_arm(v->linkdown, v->o.link_down_ms, 0);
		xs_timer_arm(v->reconnect, RECONNECT_MS * 2, 0);
		return 1;
	}
	case XS_EV_UNREACHABLE:
		XS_DEBUG(COMP, "target unreachable: %s", xs_strerror(ev->status));
		v->state = V_DOWN;
		set_connected(v, false, ev->status ? ev->status : -EHOSTUNREACH);
		if (!xs_timer_armed(v->linkdown) && !v->failing_fast)
			xs_timer_arm(v->linkdown, v->o.link_down_ms, 0);
		xs_timer_arm(v->reconnect, RECONNECT_MS, 0);
		return 1;
	case XS_EV_DISCONNECTED:
		if (v->state == V_LIVE || v->state == V_CONNECTING)
			link_lost(v, "disconnected");
		return 1;
	default:
		return 0;
	}
}

static void on_fabric_event(struct xs_loop *loop, int fd, unsigned int events, void *arg)
{
	struct xsvhba *v = arg;
	struct xs_event ev;

	while (xs_fabric_get_event(v->fabric, &ev) == 0)
		if (!xsvhba_handle_event(v, &ev) && ev.type == XS_EV_PORT_CHANGE)
			XS_DEBUG(COMP, "port state %d", ev.attr.state);
}

/* ------------------------------------------------------------- blocking */

struct waiter {
	pthread_mutex_t m;
	pthread_cond_t c;
	bool done;
	int err;
};

static void waiter_init(struct waiter *w)
{
	pthread_mutex_init(&w->m, NULL);
	pthread_cond_init(&w->c, NULL);
	w->done = false;
	w->err = 0;
}

static void waiter_wake(struct waiter *w, int err)
{
	pthread_mutex_lock(&w->m);
	w->done = true;
	w->err = err;
	pthread_cond_broadcast(&w->c);
	pthread_mutex_unlock(&w->m);
}

static int waiter_wait(struct waiter *w)
{
	pthread_mutex_lock(&w->m);
	while (!w->done)
		pthread_cond_wait(&w->c, &w->m);
	pthread_mutex_unlock(&w->m);
	pthread_cond_destroy(&w->c);
	pthread_mutex_destroy(&w->m);
	return w->err;
}

static void sync_cmd_done(struct xsvhba_cmd *cmd)
{
	waiter_wake(cmd->arg, cmd->result);
}

int xsvhba_submit(struct xsvhba *v, struct xsvhba_cmd *cmd)
{
	bool own = on_loop_thread(v), need;

	if (!cmd || !cmd->done || cmd->cdb_len < 6 || cmd->cdb_len > 32 ||
	    (cmd->dir != XSVHBA_DIR_NONE &&
	     (!cmd->iov || cmd->iovcnt < 1 || cmd->iovcnt > XSVHBA_MAX_SEGS)))
		return -EINVAL;
	cmd->next = NULL;
	cmd->nmr = 0;
	cmd->result = 0;
	cmd->status = 0;
	cmd->sense_len = 0;
	cmd->tag = 0;
	pthread_mutex_lock(&v->lock);
	if (v->in_tail)
		v->in_tail->next = cmd;
	else
		v->in_head = cmd;
	v->in_tail = cmd;
	need = kick_needed(v, own);
	pthread_mutex_unlock(&v->lock);
	if (need)
		kick(v, own);
	return 0;
}

int xsvhba_scsi(struct xsvhba *v, struct xsvhba_cmd *cmd)
{
	struct waiter w;
	int rc;

	if (on_loop_thread(v))
		return -EDEADLK;
	waiter_init(&w);
	cmd->done = sync_cmd_done;
	cmd->arg = &w;
	rc = xsvhba_submit(v, cmd);
	if (rc < 0)
		return rc;
	return waiter_wait(&w);
}

/* ------------------------------------------------------------ block I/O */

struct bio;

struct bio_part {
	struct xsvhba_cmd cmd;
	struct iovec iov;
	struct bio *io;
	unsigned int ua_retries;
	unsigned int busy_retries;
};

struct bio {
	struct xsvhba *v;
	xsvhba_io_cb cb;
	void *arg;
	unsigned int remaining;
	int err;
	unsigned int nparts;
	struct bio_part parts[];
};

static void bio_part_done(struct xsvhba_cmd *cmd)
{
	struct bio_part *p = xs_container_of(cmd, struct bio_part, cmd);
	struct bio *io = p->io;
	struct xsvhba *v = io->v;
	int err = cmd->result;

	if (err == 0 && cmd->status != 0) {
		bool ua = cmd->status == 0x02 && cmd->sense_len >= 3 && (cmd->sense[2] & 0xf) == 6;
		bool busy = cmd->status == 0x08 || cmd->status == 0x28;

		if ((ua && p->ua_retries++ < UA_RETRIES) ||
		    (busy && p->busy_retries++ < BUSY_RETRIES)) {
			pthread_mutex_lock(&v->lock);
			v->st.retries++;
			pthread_mutex_unlock(&v->lock);
			/* back into the queue, on the loop thread */
			cmd->result = 0;
			cmd->nmr = 0;
			pend_push_tail(v, cmd);
			return;
		}
		if (cmd->status == 0x02 && cmd->sense_len >= 14)
			XS_WARN(COMP, "LUN I/O failed: sense key 0x%x ASC/ASCQ %02x/%02x",
				cmd->sense[2] & 0xf, cmd->sense[12], cmd->sense[13]);
		err = -EIO;
	}
	if (err && !io->err)
		io->err = err;
	if (--io->remaining)
		return;
	if (io->err) {
		pthread_mutex_lock(&v->lock);
		v->st.errors++;
		pthread_mutex_unlock(&v->lock);
	}
	io->cb(io->arg, io->err);
	free(io);
}

int xsvhba_io_submit(struct xsvhba *v, uint16_t id, bool write, void *buf, uint64_t off,
		     size_t len, xsvhba_io_cb cb, void *arg)
{
	struct xsvhba_lun l;
	struct bio *io;
	size_t chunk, n;
	unsigned int nparts;
	bool own = on_loop_thread(v), need;
	int rc = xsvhba_get_lun(v, id, &l);

	if (rc < 0)
		return -ENXIO;
	if (!cb || len == 0 || off % l.block_size || len % l.block_size)
		return -EINVAL;
	/* Beyond the capacity: the target answers LBA OUT OF RANGE. */
	chunk = l.max_xfer_bytes - l.max_xfer_bytes % l.block_size;
	if (chunk == 0)
		chunk = l.block_size;
	nparts = (unsigned int)((len + chunk - 1) / chunk);
	io = calloc(1, sizeof(*io) + (size_t)nparts * sizeof(io->parts[0]));
	if (!io)
		return -ENOMEM;
	io->v = v;
	io->cb = cb;
	io->arg = arg;
	io->remaining = nparts;
	io->nparts = nparts;
	for (unsigned int i = 0; i < nparts; i++) {
		struct bio_part *p = &io->parts[i];
		uint64_t o = off + (uint64_t)i * chunk;
		uint64_t lba = o / l.block_size;
		uint32_t blocks;

		n = XS_MIN(chunk, len - (size_t)i * chunk);
		blocks = (uint32_t)(n / l.block_size);
		p->io = io;
		p->iov.iov_base = (uint8_t *)buf + (size_t)i * chunk;
		p->iov.iov_len = n;
		p->cmd.lun = l.wire;
		p->cmd.cdb[0] = write ? 0x8a : 0x88;
		xs_put64(&p->cmd.cdb[2], lba);
		xs_put32(&p->cmd.cdb[10], blocks);
		p->cmd.cdb_len = 16;
		p->cmd.dir = write ? XSVHBA_DIR_WRITE : XSVHBA_DIR_READ;
		p->cmd.iov = &p->iov;
		p->cmd.iovcnt = 1;
		p->cmd.done = bio_part_done;
		p->cmd.arg = p;
	}
	/* All parts in one batch: no completion can free io before the last
	 * part is queued. */
	pthread_mutex_lock(&v->lock);
	for (unsigned int i = 0; i < nparts; i++) {
		struct xsvhba_cmd *c = &io->parts[i].cmd;

		c->next = NULL;
		if (v->in_tail)
			v->in_tail->next = c;
		else
			v->in_head = c;
		v->in_tail = c;
	}
	need = kick_needed(v, own);
	pthread_mutex_unlock(&v->lock);
	if (need)
		kick(v, own);
	return 0;
}

static void sync_io_done(void *arg, int err)
{
	waiter_wake(arg, err);
}

static int rw_sync(struct xsvhba *v, uint16_t id, bool write, void *buf, uint64_t off, size_t len)
{
	struct waiter w;
	int rc;

	if (on_loop_thread(v))
		return -EDEADLK;
	waiter_init(&w);
	rc = xsvhba_io_submit(v, id, write, buf, off, len, sync_io_done, &w);
	if (rc < 0) {
		pthread_cond_destroy(&w.c);
		pthread_mutex_destroy(&w.m);
		return rc;
	}
	return waiter_wait(&w);
}

int xsvhba_read(struct xsvhba *v, uint16_t id, void *buf, uint64_t off, size_t len)
{
	return rw_sync(v, id, false, buf, off, len);
}

int xsvhba_write(struct xsvhba *v, uint16_t id, const void *buf, uint64_t off, size_t len)
{
	return rw_sync(v, id, true, (void *)buf, off, len);
}

/* A command with unit attention and busy retries, blocking: 0 GOOD, 1 the
 * target answered with another status, -errno when it did not answer. */
static int scsi_retry(struct xsvhba *v, struct xsvhba_cmd *c)
{
	for (int tries = 0; tries < UA_RETRIES; tries++) {
		int rc = xsvhba_scsi(v, c);

		if (rc < 0)
			return rc;
		if (c->status == 0)
			return 0;
		if (c->status == 0x02 && c->sense_len >= 3 && (c->sense[2] & 0xf) == 6)
			continue;
		if (c->status == 0x08 || c->status == 0x28) {
			usleep(1000);
			continue;
		}
		return 1;
	}
	return 1;
}

int xsvhba_sync(struct xsvhba *v, uint16_t id)
{
	struct xsvhba_lun l;
	struct xsvhba_cmd c = { 0 };

	if (xsvhba_get_lun(v, id, &l) < 0)
		return -ENXIO;
	c.lun = l.wire;
	c.cdb[0] = 0x91;
	c.cdb_len = 16;
	c.dir = XSVHBA_DIR_NONE;
	return scsi_retry(v, &c) ? -EIO : 0;
}

int xsvhba_task_mgmt(struct xsvhba *v, uint64_t lun, uint8_t func, uint64_t task_tag)
{
	struct tm_req *t;
	struct waiter w;
	bool own = false, need; /* never on the loop thread (checked below) */
	int rc;

	if (on_loop_thread(v))
		return -EDEADLK;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->lun = lun;
	t->func = func;
	t->task_tag = task_tag;
	t->rsp_code = -1;
	waiter_init(&w);
	t->cmd.done = sync_cmd_done;
	t->cmd.arg = &w;
	/* Task management goes through the same queue, marked by cdb_len 0. */
	t->cmd.cdb_len = 0;
	pthread_mutex_lock(&v->lock);
	t->cmd.next = NULL;
	if (v->in_tail)
		v->in_tail->next = &t->cmd;
	else
		v->in_head = &t->cmd;
	v->in_tail = &t->cmd;
	need = kick_needed(v, own);
	pthread_mutex_unlock(&v->lock);
	if (need)
		kick(v, own);
	rc = waiter_wait(&w);
	if (rc == 0)
		rc = t->rsp_code;
	free(t);
	return rc;
}

/* ------------------------------------------------------------ discovery */

static int scan_once(struct xsvhba *v, struct xsvhba_lun *out, unsigned int *n_out)
{
	uint8_t *rl = malloc(8 + 8 * XSVHBA_MAX_LUNS);
	struct xsvhba_cmd c;
	struct iovec iov;
	uint32_t list_len;
	unsigned int n = 0;
	int rc;

	if (!rl)
		return -ENOMEM;
	memset(&c, 0, sizeof(c));
	iov.iov_base = rl;
	iov.iov_len = 8 + 8 * XSVHBA_MAX_LUNS;
	c.cdb[0] = 0xa0;
	xs_put32(&c.cdb[6], (uint32_t)iov.iov_len);
	c.cdb_len = 12;
	c.dir = XSVHBA_DIR_READ;
	c.iov = &iov;
	c.iovcnt = 1;
	rc = scsi_retry(v, &c);
	if (rc) {
		rc = rc < 0 ? rc : -EIO;
		goto out;
	}
	list_len = xs_get32(rl);
	list_len = XS_MIN(list_len, (uint32_t)(8 * XSVHBA_MAX_LUNS));
	XS_DEBUG(COMP, "REPORT LUNS: %u LUN(s)", list_len / 8);
	for (uint32_t off = 0; off + 8 <= list_len; off += 8) {
		struct xsvhba_lun *l = &out[n];
		uint8_t inq[36], cap[32], b0[64];
		uint64_t wire = xs_get64(rl + 8 + off);

		memset(l, 0, sizeof(*l));
		l->wire = wire;
		if ((rl[8 + off] >> 6) == 0)
			l->id = rl[9 + off];
		else
			l->id = (uint16_t)(((rl[8 + off] & 0x3f) << 8) | rl[9 + off]);
		/* TEST UNIT READY clears the unit attentions of a new nexus. */
		memset(&c, 0, sizeof(c));
		c.lun = wire;
		c.cdb_len = 6;
		rc = scsi_retry(v, &c);
		if (rc < 0)
			goto out; /* no answer: keep the LUNs we know */
		if (rc) {
			XS_DEBUG(COMP, "LUN %u: TEST UNIT READY failed (%s, status 0x%02x, "
				 "sense %x/%02x/%02x)", l->id, xs_strerror(rc), c.status,
				 c.sense[2] & 0xf, c.sense[12], c.sense[13]);
			continue;
		}
		memset(&c, 0, sizeof(c));
		iov.iov_base = inq;
		iov.iov_len = sizeof(inq);
		c.lun = wire;
		c.cdb[0] = 0x12;
		c.cdb[4] = sizeof(inq);
		c.cdb_len = 6;
		c.dir = XSVHBA_DIR_READ;
		c.iov = &iov;
		c.iovcnt = 1;
		rc = scsi_retry(v, &c);
		if (rc < 0)
			goto out;
		if (rc || (inq[0] & 0xe0) != 0)
			continue;
		memcpy(l->vendor, inq + 8, 8);
		memcpy(l->product, inq + 16, 16);
		for (int k = 7; k >= 0 && l->vendor[k] == ' '; k--)
			l->vendor[k] = 0;
		for (int k = 15; k >= 0 && l->product[k] == ' '; k--)
			l->product[k] = 0;
		memset(&c, 0, sizeof(c));
		iov.iov_base = cap;
		iov.iov_len = sizeof(cap);
		c.lun = wire;
		c.cdb[0] = 0x9e;
		c.cdb[1] = 0x10;
		xs_put32(&c.cdb[10], sizeof(cap));
		c.cdb_len = 16;
		c.dir = XSVHBA_DIR_READ;
		c.iov = &iov;
		c.iovcnt = 1;
		rc = scsi_retry(v, &c);
		if (rc < 0)
			goto out;
		if (rc)
			continue;
		l->blocks = xs_get64(cap) + 1;
		l->block_size = xs_get32(cap + 8);
		if (l->block_size == 0)
			continue;
		l->max_xfer_bytes = 1u << 20;
		memset(&c, 0, sizeof(c));
		iov.iov_base = b0;
		iov.iov_len = sizeof(b0);
		c.lun = wire;
		c.cdb[0] = 0x12;
		c.cdb[1] = 0x01;
		c.cdb[2] = 0xb0;
		c.cdb[4] = sizeof(b0);
		c.cdb_len = 6;
		c.dir = XSVHBA_DIR_READ;
		c.iov = &iov;
		c.iovcnt = 1;
		rc = scsi_retry(v, &c);
		if (rc < 0)
			goto out;
		if (rc == 0 && b0[1] == 0xb0) {
			uint32_t mx = xs_get32(b0 + 8);

			if (mx && (uint64_t)mx * l->block_size < (1u << 30))
				l->max_xfer_bytes = mx * l->block_size;
		}
		n++;
		if (n == XSVHBA_MAX_LUNS)
			break;
	}
	*n_out = n;
	rc = 0;
out:
	free(rl);
	return rc;
}

static int lun_cmp(const void *a, const void *b)
{
	const struct xsvhba_lun *x = a, *y = b;

	return (int)x->id - (int)y->id;
}

static void *scanner_main(void *arg)
{
	struct xsvhba *v = arg;
	struct xsvhba_lun *found = calloc(XSVHBA_MAX_LUNS, sizeof(*found));

	if (!found)
		return NULL;
	pthread_mutex_lock(&v->lock);
	for (;;) {
		unsigned int want, n = 0;
		bool changed;
		int rc;

		while (!v->stopping && v->scan_req == v->scan_done)
			pthread_cond_wait(&v->cond, &v->lock);
		if (v->stopping)
			break;
		want = v->scan_req;
		v->scan_running = true;
		v->st.rescans++;
		pthread_mutex_unlock(&v->lock);
		rc = scan_once(v, found, &n);
		if (rc == 0)
			qsort(found, n, sizeof(*found), lun_cmp);
		pthread_mutex_lock(&v->lock);
		v->scan_running = false;
		if (rc < 0) {
			/* Link trouble: the next login asks again. */
			XS_DEBUG(COMP, "LUN scan failed: %s", xs_strerror(rc));
			if (v->connected && !v->stopping) {
				pthread_mutex_unlock(&v->lock);
				usleep(100000);
				pthread_mutex_lock(&v->lock);
				continue;
			}
			v->scan_done = want;
			pthread_cond_broadcast(&v->cond);
			continue;
		}
		changed = n != v->n_luns || memcmp(found, v->luns, n * sizeof(*found)) != 0;
		memcpy(v->luns, found, n * sizeof(*found));
		v->n_luns = n;
		v->scan_done = want;
		v->ready = true;
		pthread_cond_broadcast(&v->cond);
		if (changed) {
			xsvhba_luns_cb cb = v->luns_cb;
			void *cb_arg = v->luns_cb_arg;

			XS_INFO(COMP, "%u LUN(s) after the scan", n);
			if (cb) {
				pthread_mutex_unlock(&v->lock);
				cb(v, cb_arg);
				pthread_mutex_lock(&v->lock);
			}
		}
	}
	pthread_mutex_unlock(&v->lock);
	free(found);
	return NULL;
}

/* ------------------------------------------------------------------ API */

struct xsvhba *xsvhba_new(struct xs_fabric *f, struct xs_loop *loop, const struct xsvhba_opts *o)
{
	struct xsvhba *v;
	size_t recv_bytes, send_bytes;
	int err = ENOMEM;

	if (!f || !loop || !o || o->size != sizeof(*o) || o->queue_depth > XSVHBA_MAX_QUEUE_DEPTH ||
	    (o->it_iu_len && (o->it_iu_len < 64 || o->it_iu_len > 8192))) {
		errno = EINVAL;
		return NULL;
	}
	v = calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	v->fabric = f;
	v->loop = loop;
	v->o = *o;
	if (!v->o.service_id)
		v->o.service_id = XSVHBA_DEFAULT_SERVICE_ID;
	if (!v->o.queue_depth)
		v->o.queue_depth = XSVHBA_DEFAULT_QUEUE_DEPTH;
	if (!v->o.link_down_ms)
		v->o.link_down_ms = XSVHBA_DEFAULT_LINK_DOWN_MS;
	if (!v->o.it_iu_len)
		v->o.it_iu_len = 1024;
	if (!v->o.connect_timeout_ms)
		v->o.connect_timeout_ms = 2000;
	v->it_iu_len = v->o.it_iu_len;
	v->recv_iu_len = XS_MAX(v->o.it_iu_len, (uint32_t)RECV_IU_MIN);
	v->n_slots = v->o.queue_depth + 1;
	v->n_recv = v->n_slots + EXTRA_RECV;
	pthread_mutex_init(&v->lock, NULL);
	pthread_cond_init(&v->cond, NULL);
	v->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (v->efd < 0) {
		err = errno;
		goto err_lock;
	}
	v->slots = calloc(v->n_slots, sizeof(*v->slots));
	if (!v->slots)
		goto err_efd;
	recv_bytes = (size_t)v->n_recv * v->recv_iu_len;
	send_bytes = (size_t)v->n_slots * v->o.it_iu_len;
	v->mem_len = recv_bytes + send_bytes;
	v->mem = mmap(NULL, v->mem_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (v->mem == MAP_FAILED)
		goto err_slots;
	v->recv_ring = v->mem;
	v->send_bufs = v->mem + recv_bytes;
	v->pd = xs_pd_alloc(f);
	if (!v->pd) {
		err = errno;
		goto err_mem;
	}
	v->mr = xs_mr_reg(v->pd, v->mem, v->mem_len, XS_ACCESS_LOCAL_WRITE);
	if (!v->mr) {
		err = errno;
		goto err_pd;
	}
	v->cq = xs_cq_create(f, (int)(v->n_recv + v->n_slots + 4 * EXTRA_RECV));
	if (!v->cq) {
		err = errno;
		goto err_mr;
	}
	v->reconnect = xs_timer_new(loop, on_reconnect, v);
	v->linkdown = xs_timer_new(loop, on_linkdown, v);
	v->submit = xs_timer_new(loop, on_submit, v);
	if (!v->reconnect || !v->linkdown || !v->submit)
		goto err_timers;
	if (xs_loop_add_fd(loop, xs_cq_fd(v->cq), XS_IO_IN, on_cq, v) < 0)
		goto err_timers;
	v->cq_in_loop = true;
	if (xs_loop_add_fd(loop, v->efd, XS_IO_IN, on_efd, v) < 0)
		goto err_loop;
	v->efd_in_loop = true;
	if (v->o.own_fabric_events) {
		if (xs_loop_add_fd(loop, xs_fabric_event_fd(f), XS_IO_IN, on_fabric_event, v) < 0)
			goto err_loop;
		v->events_in_loop = true;
	}
	if (pthread_create(&v->scanner, NULL, scanner_main, v) != 0)
		goto err_loop;
	v->scanner_started = true;
	return v;

err_loop:
	if (v->events_in_loop)
		xs_loop_del_fd(loop, xs_fabric_event_fd(f));
	if (v->efd_in_loop)
		xs_loop_del_fd(loop, v->efd);
	xs_loop_del_fd(loop, xs_cq_fd(v->cq));
err_timers:
	xs_timer_free(v->reconnect);
	xs_timer_free(v->linkdown);
	xs_timer_free(v->submit);
	xs_cq_destroy(v->cq);
err_mr:
	xs_mr_dereg(v->mr);
err_pd:
	xs_pd_free(v->pd);
err_mem:
	munmap(v->mem, v->mem_len);
err_slots:
	free(v->slots);
err_efd:
	close(v->efd);
err_lock:
	pthread_cond_destroy(&v->cond);
	pthread_mutex_destroy(&v->lock);
	free(v);
	errno = err;
	return NULL;
}

int xsvhba_start(struct xsvhba *v)
{
	if (v->state != V_IDLE)
		return -EALREADY;
	xs_timer_arm(v->reconnect, 0, 0);
	return 0;
}

int xsvhba_logout(struct xsvhba *v)
{
	struct xs_srp_i_logout lo = { .tag = ++v->next_tag_seq };
	uint8_t buf[XS_SRP_I_LOGOUT_LEN];
	int n;

	xs_timer_disarm(v->reconnect);
	if (v->state != V_LIVE) {
		v->state = V_CLOSED;
		return -ENOTCONN;
	}
	n = xs_srp_i_logout_encode(&lo, buf, sizeof(buf));
	if (n > 0)
		post_inline(v, buf, (size_t)n);
	v->state = V_CLOSED;
	set_connected(v, false, -ESHUTDOWN);
	return 0;
}

void xsvhba_free(struct xsvhba *v)
{
	struct xsvhba_cmd *c;

	if (!v)
		return;
	if (v->state == V_LIVE)
		xsvhba_logout(v);
	v->state = V_CLOSED;
	/* No RDMA may reach a command's buffer once it has ended. */
	if (v->qp)
		xs_qp_disconnect(v->qp);
	/* Everything still queued or in flight ends now. */
	for (uint32_t i = 0; i < v->n_slots; i++) {
		c = v->slots[i].cmd;
		if (!c)
			continue;
		v->slots[i].cmd = NULL;
		cmd_complete(v, c, -ESHUTDOWN);
	}
	{
		struct tm_req *tr;

		while ((tr = tm_pop(v)))
			cmd_complete(v, &tr->cmd, -ESHUTDOWN);
	}
	pthread_mutex_lock(&v->lock);
	v->stopping = true;
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
	/* The scanner may still submit a command or two before it sees
	 * stopping: fail them until it is gone. */
	for (;;) {
		struct timespec ts = { 0, 2000000 };
		bool alive;

		take_incoming(v);
		while ((c = pend_pop(v)))
			cmd_complete(v, c, -ESHUTDOWN);
		pthread_mutex_lock(&v->lock);
		alive = v->scanner_started && (v->scan_running || v->in_head);
		pthread_mutex_unlock(&v->lock);
		if (!alive)
			break;
		nanosleep(&ts, NULL);
	}
	if (v->scanner_started)
		pthread_join(v->scanner, NULL);
	take_incoming(v);
	while ((c = pend_pop(v)))
		cmd_complete(v, c, -ESHUTDOWN);
	if (v->events_in_loop)
		xs_loop_del_fd(v->loop, xs_fabric_event_fd(v->fabric));
	if (v->efd_in_loop)
		xs_loop_del_fd(v->loop, v->efd);
	if (v->cq_in_loop)
		xs_loop_del_fd(v->loop, xs_cq_fd(v->cq));
	destroy_qp(v);
	xs_timer_free(v->reconnect);
	xs_timer_free(v->linkdown);
	xs_timer_free(v->submit);
	xs_cq_destroy(v->cq);
	xs_mr_dereg(v->mr);
	if (v->rx_mr) {
		xs_mr_dereg(v->rx_mr);
		munmap(v->rx_mem, v->rx_len);
	}
	xs_pd_free(v->pd);
	munmap(v->mem, v->mem_len);
	free(v->slots);
	close(v->efd);
	pthread_cond_destroy(&v->cond);
	pthread_mutex_destroy(&v->lock);
	free(v);
}

/* Wait on v->cond for at most 10 ms (v->lock held): callers re-check their
 * condition and their own deadline after each slice. */
static void wait_slice(struct xsvhba *v)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 10 * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&v->cond, &v->lock, &ts);
}

int xsvhba_wait_ready(struct xsvhba *v, int timeout_ms)
{
	uint64_t deadline = xs_now_ms() + (uint64_t)timeout_ms;
	int rc = 0;

	pthread_mutex_lock(&v->lock);
	while (!v->ready || v->scan_req != v->scan_done) {
		uint64_t now = xs_now_ms();

		if (now >= deadline) {
			rc = v->last_err ? v->last_err : -ETIMEDOUT;
			break;
		}
		wait_slice(v);
	}
	pthread_mutex_unlock(&v->lock);
	return rc;
}

int xsvhba_wait_scan(struct xsvhba *v, int timeout_ms)
{
	uint64_t deadline = xs_now_ms() + (uint64_t)timeout_ms;
	int rc = 0;

	pthread_mutex_lock(&v->lock);
	while (v->scan_req != v->scan_done || v->scan_running) {
		if (xs_now_ms() >= deadline) {
			rc = -ETIMEDOUT;
			break;
		}
		wait_slice(v);
	}
	pthread_mutex_unlock(&v->lock);
	return rc;
}

uint32_t xsvhba_last_reject(const struct xsvhba *v)
{
	return v->last_reject;
}

bool xsvhba_connected(const struct xsvhba *v)
{
	return v->connected;
}

int xsvhba_get_luns(struct xsvhba *v, struct xsvhba_lun *out, unsigned int max)
{
	int n;

	pthread_mutex_lock(&v->lock);
	n = (int)v->n_luns;
	if (out)
		memcpy(out, v->luns, XS_MIN((unsigned int)n, max) * sizeof(*out));
	pthread_mutex_unlock(&v->lock);
	return n;
}

int xsvhba_get_lun(struct xsvhba *v, uint16_t id, struct xsvhba_lun *out)
{
	int rc = -ENOENT;

	pthread_mutex_lock(&v->lock);
	for (unsigned int i = 0; i < v->n_luns; i++) {
		if (v->luns[i].id == id) {
			*out = v->luns[i];
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&v->lock);
	return rc;
}

void xsvhba_set_luns_cb(struct xsvhba *v, xsvhba_luns_cb cb, void *arg)
{
	pthread_mutex_lock(&v->lock);
	v->luns_cb = cb;
	v->luns_cb_arg = arg;
	pthread_mutex_unlock(&v->lock);
}

void xsvhba_rescan(struct xsvhba *v)
{
	request_rescan(v);
}

void xsvhba_get_stats(struct xsvhba *v, struct xsvhba_stats *st)
{
	pthread_mutex_lock(&v->lock);
	*st = v->st;
	pthread_mutex_unlock(&v->lock);
}
