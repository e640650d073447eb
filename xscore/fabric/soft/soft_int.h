/* SPDX-License-Identifier: MIT */
/*
 * soft_int.h - private to the soft backend: its objects and the functions
 * soft.c (control: daemon channel, events, CM, MADs) and soft_qp.c (PD, MR,
 * CQ, QP data path) share.
 *
 * Threads and locks: each opened fabric has one progress thread that owns
 * the daemon socket and watches every QP socket (epoll). Lock order:
 *   f->lock -> qp->lock -> { f->mr_lock (read), cq->lock, f->ev_lock, agent->lock }
 * f->dsend_lock and f->rpc_lock are leaves. The data path (post_send,
 * post_recv, cq_poll) takes only qp->lock / cq->lock.
 */
#ifndef XS_SOFT_INT_H
#define XS_SOFT_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "fabric_provider.h"
#include "soft_proto.h"

#define SOFT_COMP "soft"
#define SOFT_QPN_BASE 0x100u
#define SOFT_RNR_MS 2000u       /* a SEND waits this long for a receive */
#define SOFT_ACK_EVERY 16u      /* standalone ACK after this many requests */
#define SOFT_ACK_DELAY_MS 1u    /* ... or after this delay */
#define SOFT_MAX_MSG (1u << 30) /* largest message / RDMA length */
/* MADs waiting for an agent: the ring starts small and doubles on demand up
 * to the bound, so a director that 1000 hosts ask at once keeps every
 * request while an idle host's agents stay at a few KiB. */
#define SOFT_AGENT_QUEUE_MIN 16
#define SOFT_AGENT_QUEUE_MAX 4096
#define SOFT_SMALL 4096u        /* records up to this size are read whole */
#define SOFT_APP_ACTIVE_MS 10u  /* a CQ polled this recently is polled by its app */
#define SOFT_TICK_MS 20         /* the progress thread's longest sleep with QPs */
#define XS_MAD_METHOD_RESP_BIT 0x80

enum soft_tag {
	SOFT_TAG_DAEMON = 1,
	SOFT_TAG_WAKE,
	SOFT_TAG_QP,
};

struct soft_event {
	struct soft_event *next;
	struct xs_event ev;
};

struct soft_rpc {
	struct soft_rpc *next;
	uint32_t seq;
	uint16_t want_type;
	bool done;
	int32_t status;
	int fd;
};

struct soft_pd {
	struct xs_pd base;
};

struct soft_mr {
	struct xs_mr base;
	uint32_t idx;
};

/*
 * The CQ's fd is an epoll set holding an eventfd (written when another
 * thread makes the CQ non-empty) and the sockets of its QPs: an application
 * waiting on it wakes as soon as data arrives, and xs_cq_poll reads the
 * sockets itself - no hand-off through the progress thread. While a CQ is
 * being polled (last_poll_ms recent) the progress thread leaves its QPs'
 * sockets alone.
 */
struct soft_cq {
	struct xs_cq base;
	struct soft_cq *next;
	pthread_mutex_t lock;
	struct xs_wc *ring;
	int head, count;
	int epfd;
	int evfd;
	bool signaled;
	uint64_t overflows;
	uint64_t last_poll_ms;
	bool skip_probe;       /* the last poll read a record: let poll() probe next */
	uint64_t empty_at_us;  /* when a poll last found nothing */
	pthread_mutex_t qlock; /* qps[] */
	struct soft_qp **qps;
	int n_qps, cap_qps;
};

struct sq_ent {
	uint64_t wr_id;
	uint8_t opcode;   /* enum xs_wr_opcode */
	bool signaled;
	bool done;
	bool has_status;
	enum xs_wc_status status;
	uint32_t msn;
	uint32_t total;
	uint32_t sent;    /* bytes put on the socket (READ: request sent = total) */
	uint32_t got;     /* READ: response bytes placed */
	uint32_t imm;
	bool has_imm;
	uint64_t raddr;
	uint32_t rkey;
	int nsge;
	struct xs_sge *sge;
	uint8_t *inl;     /* inline copy (max_inline bytes, per slot) */
	bool is_inline;
};

struct rq_ent {
	uint64_t wr_id;
	int nsge;
	struct xs_sge *sge;
	uint64_t cap;
};

/* An RDMA READ we answer, sent as the socket accepts it. */
struct rresp {
	struct rresp *next;
	uint32_t msn;
	uint64_t raddr;
	uint32_t rkey;
	uint32_t len, sent;
};

struct soft_qp {
	struct xs_qp base;
	struct soft_fabric *f;
	pthread_mutex_t lock;
	uint32_t idx;
	int sock;
	bool connected_once;
	bool disc_reported;
	unsigned int ep_events; /* what epoll watches now; 0 = not added */

	/* send queue: absolute counters, slot = n % sq_size */
	struct sq_ent *sq;
	struct xs_sge *sq_sges;
	uint8_t *sq_inline;
	uint32_t sq_size, sq_head, sq_tx, sq_tail;
	uint32_t next_msn;
	bool tx_blocked;

	/* receive queue */
	struct rq_ent *rq;
	struct xs_sge *rq_sges;
	uint32_t rq_size, rq_head, rq_tail;

	/* receive side of the connection */
	bool rx_send_active;
	uint32_t rx_send_off, rx_send_total;
	uint32_t rx_done, ack_sent;
	bool ack_now;
	uint64_t ack_deadline;
	bool rnr_blocked;
	uint64_t rnr_since;
	struct rresp *rr_head, *rr_tail;
	bool small_mode;  /* last record was small: read whole into bounce */
	bool spec_send;   /* last record was a large SEND: read the next one
			     straight into the posted receive */
	uint8_t *bounce;  /* XS_SOFT_SEG bytes */
	bool pend;        /* a record read into bounce waits for a receive */
	struct xs_soft_dhdr pend_hdr;
	bool pt_disarmed; /* the progress thread leaves the socket to the app */
	unsigned int cq_events; /* what the CQ epoll sets watch */
};

struct soft_listener {
	struct xs_cm_listener base;
	struct soft_listener *next;
};

struct soft_req {
	struct xs_cm_request base;
	struct soft_req *next;
	uint32_t conn_id;
	bool cancelled;
};

struct soft_mad {
	struct xs_mad_addr src;
	uint16_t len;
	uint8_t mad[XS_MAD_SIZE];
};

struct soft_agent {
	struct xs_mad_agent base;
	struct soft_agent *next;
	uint32_t id;
	int evfd;
	pthread_mutex_t lock;
	struct soft_mad *q; /* ring of qcap entries */
	int qcap, head, count;
	bool signaled;
	uint64_t drops;
};

struct soft_fabric {
	struct xs_fabric base;
	char sock_path[108];
	char port_name[64];

	pthread_mutex_t lock;
	struct xs_port_attr attr;
	int dfd;
	pthread_mutex_t dsend_lock;
	int epfd;
	int wakefd;
	pthread_t thread;
	bool thread_started;
	volatile bool stop;

	/* events */
	pthread_mutex_t ev_lock;
	struct soft_event *ev_head, *ev_tail;
	int evfd;
	bool ev_signaled;

	/* replies to calls made from application threads */
	pthread_mutex_t rpc_lock;
	pthread_cond_t rpc_cond;
	struct soft_rpc *rpcs;
	uint32_t next_seq;

	/* memory regions by key index */
	pthread_rwlock_t mr_lock;
	struct soft_mr **mrs;
	uint32_t n_mrs;
	uint32_t mr_gen;

	/* QPs by number - SOFT_QPN_BASE */
	struct soft_qp **qps;
	uint32_t n_qps;

	struct soft_cq *cqs;
	struct soft_listener *listeners;
	struct soft_req *reqs;
	struct soft_agent *agents;
	uint32_t next_agent_id;
	uint64_t mad_drops;
};

static inline struct soft_fabric *to_sf(struct xs_fabric *f)
{
	return xs_container_of(f, struct soft_fabric, base);
}
static inline struct soft_qp *to_sqp(struct xs_qp *qp)
{
	return xs_container_of(qp, struct soft_qp, base);
}
static inline struct soft_cq *to_scq(struct xs_cq *cq)
{
	return xs_container_of(cq, struct soft_cq, base);
}
static inline struct soft_mr *to_smr(struct xs_mr *mr)
{
	return xs_container_of(mr, struct soft_mr, base);
}

/* soft.c */
void soft_push_event(struct soft_fabric *f, const struct xs_event *ev);
int soft_dsend(struct soft_fabric *f, const void *msg);
void soft_epoll_update(struct soft_qp *qp); /* qp->lock held */

/* soft_qp.c */
void soft_cq_push(struct soft_cq *cq, const struct xs_wc *wc);
/* A connection came up on qp (f->lock and qp->lock held). */
int soft_qp_attach_sock(struct soft_qp *qp, int sock);
/* The progress thread: readiness on the QP's socket (f->lock, qp->lock held). */
void soft_qp_io(struct soft_qp *qp, uint32_t epoll_events);
/* Timers (f->lock, qp->lock held); returns ms until the next deadline or -1. */
int soft_qp_timers(struct soft_qp *qp, uint64_t now);
/* End the connection: flush and report DISCONNECTED (qp->lock held). */
void soft_qp_conn_lost(struct soft_qp *qp, enum xs_qp_state state);
bool soft_qp_app_owned(struct soft_qp *qp, uint64_t now);
struct soft_qp *soft_qp_lookup(struct soft_fabric *f, uint32_t qpn); /* f->lock held */
void soft_qp_free_all(struct soft_fabric *f);

struct xs_pd *soft_pd_alloc(struct xs_fabric *f);
int soft_pd_free(struct xs_pd *pd);
struct xs_mr *soft_mr_reg(struct xs_pd *pd, void *addr, size_t len, int access);
int soft_mr_dereg(struct xs_mr *mr);
struct xs_cq *soft_cq_create(struct xs_fabric *f, int depth);
int soft_cq_destroy(struct xs_cq *cq);
int soft_cq_fd(struct xs_cq *cq);
int soft_cq_poll(struct xs_cq *cq, struct xs_wc *wc, int n);
struct xs_qp *soft_qp_create(struct xs_fabric *f, const struct xs_qp_attr *attr);
int soft_qp_destroy(struct xs_qp *qp);
int soft_post_send(struct xs_qp *qp, const struct xs_send_wr *wr);
int soft_post_recv(struct xs_qp *qp, const struct xs_recv_wr *wr);
int soft_qp_disconnect(struct xs_qp *qp);

#endif /* XS_SOFT_INT_H */
