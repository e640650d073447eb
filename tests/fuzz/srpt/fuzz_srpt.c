/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the SRP target's IU handling (director/srpt/srpt.c):
 * random IUs arrive on a logged-in channel, the initiator's side of every
 * RDMA READ/WRITE succeeds or is refused (REM_ACCESS_ERR) as the input
 * says, commands run on a RAM LUN. The file is included so its static
 * functions can be driven directly; the fabric, the event loop's fd and
 * timer calls are faked here (a fake QP records posted work, a fake CQ
 * returns completions).
 *
 * Checked: no crash or sanitizer report; every RDMA and SEND the target
 * posts uses memory of the channel's registration; no RDMA moves more than
 * a command's buffer; credit slots never exceed the request limit; a
 * closed channel is freed once its commands are done.
 *
 * Input: byte 0 selects the request limit (1..8); then records
 * [flags][len][len bytes of IU]; flags bit 0: refuse the next RDMA.
 */
#include "../../../director/srpt/srpt.c"

#include <xscore/srp.h>

/* ------------------------------------------------------------ fakes */

struct xs_fabric { int dummy; };
struct xs_pd { int dummy; };
struct xs_mr { void *addr; size_t len; };
struct xs_cq { int dummy; };
struct xs_qp { void *ctx; bool connected; };
struct xs_cm_listener { int dummy; };
struct xs_cm_request { int dummy; };
struct xs_timer { xs_timer_cb cb; void *arg; bool armed; };

#define MAXQ 4096
static struct xs_wc cq_q[MAXQ];
static unsigned int cq_head, cq_tail;
static struct { uint64_t wr_id; uint8_t *addr; uint32_t len; } recvs[2048];
static unsigned int n_recvs;
static bool refuse_next;
static struct xs_mr *ch_mr; /* the channel's registration */
static struct xs_qp *cur_qp;
static struct xs_timer *timers[64];
static unsigned int n_timers;
static struct xs_fabric fake_fabric;
static struct xs_listener_pad { struct xs_cm_listener l; } fake_listener;
static uint8_t req_pd[XS_CM_PRIVATE_DATA_MAX];

static void push_wc(uint64_t wr_id, enum xs_wc_status st, enum xs_wc_opcode op, uint32_t len)
{
	if (cq_tail - cq_head >= MAXQ)
		return;
	cq_q[cq_tail++ % MAXQ] = (struct xs_wc){ .wr_id = wr_id, .status = st, .opcode = op,
						 .byte_len = len, .qp = cur_qp };
}

static bool in_mr(uint64_t addr, uint32_t len)
{
	uint8_t *p = (uint8_t *)(uintptr_t)addr;

	return ch_mr && p >= (uint8_t *)ch_mr->addr &&
	       p + len <= (uint8_t *)ch_mr->addr + ch_mr->len;
}

struct xs_pd *xs_pd_alloc(struct xs_fabric *f) { return calloc(1, sizeof(struct xs_pd)); }
int xs_pd_free(struct xs_pd *pd) { free(pd); return 0; }

struct xs_mr *xs_mr_reg(struct xs_pd *pd, void *addr, size_t len, int access)
{
	struct xs_mr *mr = calloc(1, sizeof(*mr));

	mr->addr = addr;
	mr->len = len;
	ch_mr = mr;
	return mr;
}

int xs_mr_dereg(struct xs_mr *mr)
{
	if (mr == ch_mr)
		ch_mr = NULL;
	free(mr);
	return 0;
}

uint32_t xs_mr_lkey(const struct xs_mr *mr) { return 1; }
uint32_t xs_mr_rkey(const struct xs_mr *mr) { return 1; }
struct xs_cq *xs_cq_create(struct xs_fabric *f, int depth) { return calloc(1, sizeof(struct xs_cq)); }
int xs_cq_destroy(struct xs_cq *cq) { free(cq); return 0; }
int xs_cq_fd(struct xs_cq *cq) { return 100; }

int xs_cq_poll(struct xs_cq *cq, struct xs_wc *wc, int n)
{
	int k = 0;

	while (k < n && cq_head != cq_tail)
		wc[k++] = cq_q[cq_head++ % MAXQ];
	return k;
}

struct xs_qp *xs_qp_create(struct xs_fabric *f, const struct xs_qp_attr *attr)
{
	struct xs_qp *qp = calloc(1, sizeof(*qp));

	qp->ctx = attr->context;
	cur_qp = qp;
	n_recvs = 0;
	return qp;
}

int xs_qp_destroy(struct xs_qp *qp)
{
	if (qp == cur_qp) {
		cur_qp = NULL;
		cq_head = cq_tail = 0;
	}
	free(qp);
	return 0;
}

int xs_qp_disconnect(struct xs_qp *qp)
{
	qp->connected = false;
	return 0;
}

int xs_qp_post_recv(struct xs_qp *qp, const struct xs_recv_wr *wr)
{
	assert(wr->num_sge == 1);
	assert(in_mr(wr->sg_list[0].addr, wr->sg_list[0].length));
	if (n_recvs < XS_ARRAY_SIZE(recvs)) {
		recvs[n_recvs].wr_id = wr->wr_id;
		recvs[n_recvs].addr = (uint8_t *)(uintptr_t)wr->sg_list[0].addr;
		recvs[n_recvs].len = wr->sg_list[0].length;
		n_recvs++;
	}
	return 0;
}

int xs_qp_post_send(struct xs_qp *qp, const struct xs_send_wr *wr)
{
	const struct xs_sge *s = &wr->sg_list[0];
	enum xs_wc_opcode op = XS_WC_SEND;

	assert(wr->num_sge == 1);
	if (!(wr->flags & XS_SEND_INLINE))
		assert(in_mr(s->addr, s->length));
	assert(s->length <= (1u << 20) || wr->opcode == XS_WR_SEND);
	if (!qp->connected) {
		push_wc(wr->wr_id, XS_WC_WR_FLUSH_ERR, op, 0);
		return 0;
	}
	if (wr->opcode == XS_WR_RDMA_READ || wr->opcode == XS_WR_RDMA_WRITE) {
		op = wr->opcode == XS_WR_RDMA_READ ? XS_WC_RDMA_READ : XS_WC_RDMA_WRITE;
		if (refuse_next) {
			refuse_next = false;
			push_wc(wr->wr_id, XS_WC_REM_ACCESS_ERR, op, 0);
			qp->connected = false;
			return 0;
		}
		if (wr->opcode == XS_WR_RDMA_READ)
			memset((void *)(uintptr_t)s->addr, 0xa5, s->length);
	}
	if (wr->flags & XS_SEND_SIGNALED)
		push_wc(wr->wr_id, XS_WC_SUCCESS, op, s->length);
	return 0;
}

struct xs_cm_listener *xs_cm_listen(struct xs_fabric *f, uint64_t sid) { return &fake_listener.l; }
int xs_cm_listener_close(struct xs_cm_listener *l) { return 0; }

int xs_cm_req_info(const struct xs_cm_request *req, struct xs_cm_req_info *info)
{
	memset(info, 0, sizeof(*info));
	memcpy(info->private_data, req_pd, sizeof(req_pd));
	info->private_len = XS_SRP_LOGIN_REQ_LEN;
	info->remote_lid = 3;
	return 0;
}

int xs_qp_accept(struct xs_qp *qp, struct xs_cm_request *req, const void *pd, size_t len)
{
	qp->connected = true;
	return 0;
}

int xs_cm_reject(struct xs_cm_request *req, uint16_t reason, const void *pd, size_t len)
{
	return 0;
}

int xs_fabric_event_fd(struct xs_fabric *f) { return 101; }
int xs_fabric_get_event(struct xs_fabric *f, struct xs_event *ev) { return -EAGAIN; }
const char *xs_wc_status_str(enum xs_wc_status st) { return "status"; }

int xs_loop_add_fd(struct xs_loop *l, int fd, unsigned int ev, xs_io_cb cb, void *arg) { return 0; }
int xs_loop_del_fd(struct xs_loop *l, int fd) { return 0; }

struct xs_timer *xs_timer_new(struct xs_loop *l, xs_timer_cb cb, void *arg)
{
	struct xs_timer *t = calloc(1, sizeof(*t));

	t->cb = cb;
	t->arg = arg;
	if (n_timers < XS_ARRAY_SIZE(timers))
		timers[n_timers++] = t;
	return t;
}

void xs_timer_arm(struct xs_timer *t, uint64_t d, uint64_t p) { t->armed = true; }
void xs_timer_disarm(struct xs_timer *t) { t->armed = false; }
int xs_timer_armed(const struct xs_timer *t) { return t->armed; }

void xs_timer_free(struct xs_timer *t)
{
	for (unsigned int i = 0; i < n_timers; i++)
		if (timers[i] == t) {
			timers[i] = timers[--n_timers];
			break;
		}
	free(t);
}

static void run_timers(void)
{
	for (unsigned int i = 0; i < n_timers; i++) {
		struct xs_timer *t = timers[i];

		if (t->armed) {
			t->armed = false;
			t->cb(NULL, t, t->arg);
			return; /* the list may have changed */
		}
	}
}

/* ------------------------------------------------------------ driver */

static struct xsd_scsi_target *tgt;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct xsd_scsi_lun_opts lo = { .size = sizeof(lo), .serial = "fuzz0" };

	/* Bad input is logged at error level by design: keep the run quiet. */
	xs_log_open("fuzz_srpt", XS_LOG_STDERR, (enum xs_log_level)2);
	tgt = xsd_scsi_target_new();
	xsd_scsi_target_add_lun(tgt, 0, xsd_scsi_lun_new(xsd_scsi_ram_new(1u << 20), &lo));
	return 0;
}

static void pump(struct xsd_srpt *s)
{
	for (int i = 0; i < 64; i++) {
		bool work = false;

		xsd_scsi_target_process(tgt);
		for (struct srpt_ch *ch = s->channels; ch; ch = ch->next) {
			if (cq_head != cq_tail) {
				on_cq(NULL, 0, 0, ch);
				work = true;
			}
			assert(ch->busy <= ch->req_lim);
		}
		for (unsigned int t = 0; t < n_timers; t++)
			work |= timers[t]->armed;
		run_timers();
		if (!work && xsd_scsi_target_inflight(tgt) == 0)
			break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xsd_srpt_opts so = { .size = sizeof(so), .max_xfer = 65536, .max_it_iu_len = 512 };
	struct xs_srp_login_req lr = { .tag = 1, .req_it_iu_len = 512, .req_buf_fmt = 6 };
	struct xs_cm_request req;
	struct xs_event ev = { .type = XS_EV_CONNECT_REQUEST };
	struct xsd_srpt *s;
	size_t off = 1;

	if (size < 1)
		return 0;
	so.req_lim = 1 + (data[0] & 7);
	s = xsd_srpt_new(&fake_fabric, (struct xs_loop *)&fake_fabric, tgt, &so);
	assert(s);
	xs_srp_login_req_encode(&lr, req_pd, sizeof(req_pd));
	ev.listener = s->listener;
	ev.req = &req;
	xsd_srpt_handle_event(s, &ev);
	assert(s->channels && s->st.logins == 1);
	while (off + 2 <= size && s->channels && cur_qp && cur_qp->connected) {
		uint8_t flags = data[off];
		size_t len = data[off + 1] * 2u + (flags >> 7);
		unsigned int k;

		off += 2;
		len = XS_MIN(len, size - off);
		refuse_next = flags & 1;
		/* deliver into the oldest posted receive */
		if (n_recvs == 0)
			break;
		k = 0;
		len = XS_MIN(len, (size_t)recvs[k].len);
		memcpy(recvs[k].addr, data + off, len);
		push_wc(recvs[k].wr_id, XS_WC_SUCCESS, XS_WC_RECV, (uint32_t)len);
		memmove(&recvs[0], &recvs[1], (n_recvs - 1) * sizeof(recvs[0]));
		n_recvs--;
		off += len;
		pump(s);
	}
	xsd_srpt_free(s);
	cq_head = cq_tail = 0;
	return 0;
}
