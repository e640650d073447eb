/* SPDX-License-Identifier: MIT */
/*
 * xscore/fabric.h - one RDMA fabric API over several backends.
 *
 * A fabric handle is one port of one device, opened from a spec string:
 *   "soft:/run/xsigo/fabric.sock"    the embedded soft fabric (xs-fabricd)
 *   "soft"                           same, default socket (XS_FABRIC_SOCK env or
 *                                    /run/xsigo/fabric.sock)
 *   "verbs:mlx5_0:1" / "verbs"        rdma-core: libibverbs + librdmacm, MADs via libibumad
 *   "umad:mlx5_0:1" / "umad"          MADs only, through libibumad (no QPs)
 *
 * Everything is asynchronous and driven from the caller's event loop through
 * two kinds of pollable file descriptors:
 *   - xs_fabric_event_fd(): port changes and connection-manager events
 *     (connect request, established, rejected, unreachable, disconnected);
 *   - xs_cq_fd(): completions of a CQ;  xs_mad_agent_fd(): MADs for an agent.
 * When such a fd is readable, drain with the matching get/poll call until it
 * returns -EAGAIN (events, MADs) or 0 (completions).
 *
 * Error convention: int functions return >= 0 on success and a negative errno
 * on failure; constructors return NULL and set errno.
 *
 * Semantics are those of InfiniBand RC on every backend: messages arrive in
 * order with boundaries kept; a SEND needs a posted receive on the peer (the
 * sender is held back, then fails with XS_WC_RNR_RETRY_EXC_ERR after a bound);
 * RDMA READ/WRITE are checked on the target against rkey, bounds, access flags
 * and PD (a violation completes with XS_WC_REM_ACCESS_ERR and the QP goes to
 * the error state); on disconnect every outstanding work request completes
 * with XS_WC_WR_FLUSH_ERR.
 */
#ifndef XSCORE_FABRIC_H
#define XSCORE_FABRIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct xs_fabric;
struct xs_pd;
struct xs_mr;
struct xs_cq;
struct xs_qp;
struct xs_cm_listener;
struct xs_cm_request;
struct xs_mad_agent;

#define XS_MAX_PKEYS 16
#define XS_CM_PRIVATE_DATA_MAX 92 /* as an IB CM REQ */
#define XS_CM_REP_PRIVATE_DATA_MAX 196
#define XS_CM_REJ_PRIVATE_DATA_MAX 148
#define XS_MAD_SIZE 256
#define XS_GSI_QKEY 0x80010000u
#define XS_DEFAULT_PKEY 0xffffu

enum xs_port_state {
	XS_PORT_DOWN = 1,
	XS_PORT_INIT = 2,
	XS_PORT_ARMED = 3,
	XS_PORT_ACTIVE = 4,
};

enum xs_link_layer {
	XS_LINK_IB = 1,
	XS_LINK_ETHERNET = 2, /* RoCE: no SA, no LIDs */
};

struct xs_port_attr {
	char dev_name[64];   /* "soft", "mlx5_0", "rxe0" */
	char port_name[64];  /* soft: the stable name the port attached with */
	uint8_t port_num;
	enum xs_port_state state;
	enum xs_link_layer link_layer;
	uint64_t node_guid;
	uint64_t port_guid;  /* host order */
	uint8_t gid[16];     /* GID index 0, wire order */
	uint16_t lid;
	uint16_t sm_lid;
	uint8_t sm_sl;
	uint16_t pkeys[XS_MAX_PKEYS]; /* P_Key table; 0 = empty slot */
	int n_pkeys;
	uint32_t max_msg_size;
};

/* Options that can grow: set .size = sizeof(struct xs_fabric_opts). */
struct xs_fabric_opts {
	size_t size;
	const char *port_name;  /* soft: stable identity (LID/GID follow it);
	                           default: "<hostname>-<pid>" */
	int attach_timeout_ms;  /* soft: attach to xs-fabricd (default 3000) */
	int gid_index;          /* verbs/umad: GID index for RoCE (default 0) */
	uint8_t reserved[64];
};

/*
 * Open a port. spec is as described above; opts may be NULL.
 * Returns NULL with errno set (ENOENT: no such device or daemon socket,
 * ETIMEDOUT: no answer, EPROTONOSUPPORT: unknown backend). A message
 * naming what was tried is logged under component "fabric".
 */
struct xs_fabric *xs_fabric_open(const char *spec, const struct xs_fabric_opts *opts);
void xs_fabric_close(struct xs_fabric *f);
/* Backend name: "soft", "verbs" or "umad". */
const char *xs_fabric_backend(const struct xs_fabric *f);
int xs_fabric_query_port(struct xs_fabric *f, struct xs_port_attr *attr);
/* Index of pkey in the port's P_Key table (full or limited membership), or -ENOENT. */
int xs_fabric_pkey_index(struct xs_fabric *f, uint16_t pkey);

/* ---------------------------------------------------------------- events */

enum xs_event_type {
	XS_EV_PORT_CHANGE = 1,     /* attr holds the new port attributes */
	XS_EV_CONNECT_REQUEST,     /* listener, req, private data */
	XS_EV_ESTABLISHED,         /* qp; private data of the REP (active side) */
	XS_EV_REJECTED,            /* qp; reject_reason, private data of the REJ */
	XS_EV_UNREACHABLE,         /* qp; status: -ETIMEDOUT, -EHOSTUNREACH, -ECONNREFUSED */
	XS_EV_DISCONNECTED,        /* qp: the peer or the fabric ended the connection */
};

struct xs_event {
	enum xs_event_type type;
	struct xs_qp *qp;
	struct xs_cm_listener *listener;
	struct xs_cm_request *req;
	int status;
	uint16_t reject_reason;
	uint8_t private_data[XS_CM_REP_PRIVATE_DATA_MAX];
	uint16_t private_len;
	struct xs_port_attr attr;
};

/* Pollable fd that becomes readable when events are pending. */
int xs_fabric_event_fd(struct xs_fabric *f);
/* Take one pending event; -EAGAIN when none. */
int xs_fabric_get_event(struct xs_fabric *f, struct xs_event *ev);
/* Wait up to timeout_ms for one event (convenience for tools and tests). */
int xs_fabric_wait_event(struct xs_fabric *f, struct xs_event *ev, int timeout_ms);

/* ------------------------------------------------------------ PD and MR */

enum xs_access {
	XS_ACCESS_LOCAL_WRITE = 1 << 0,
	XS_ACCESS_REMOTE_WRITE = 1 << 1,
	XS_ACCESS_REMOTE_READ = 1 << 2,
};

struct xs_pd *xs_pd_alloc(struct xs_fabric *f);
int xs_pd_free(struct xs_pd *pd);

/* Register [addr, addr+len) with the given XS_ACCESS_* flags. */
struct xs_mr *xs_mr_reg(struct xs_pd *pd, void *addr, size_t len, int access);
int xs_mr_dereg(struct xs_mr *mr);
uint32_t xs_mr_lkey(const struct xs_mr *mr);
uint32_t xs_mr_rkey(const struct xs_mr *mr);

/* -------------------------------------------------------------------- CQ */

enum xs_wc_status {
	/* values match enum ibv_wc_status */
	XS_WC_SUCCESS = 0,
	XS_WC_LOC_LEN_ERR = 1,
	XS_WC_LOC_QP_OP_ERR = 2,
	XS_WC_LOC_PROT_ERR = 4,
	XS_WC_WR_FLUSH_ERR = 5,
	XS_WC_BAD_RESP_ERR = 7,
	XS_WC_LOC_ACCESS_ERR = 8,
	XS_WC_REM_INV_REQ_ERR = 9,
	XS_WC_REM_ACCESS_ERR = 10,
	XS_WC_REM_OP_ERR = 11,
	XS_WC_RETRY_EXC_ERR = 12,
	XS_WC_RNR_RETRY_EXC_ERR = 13,
	XS_WC_GENERAL_ERR = 21,
};

enum xs_wc_opcode {
	XS_WC_SEND = 0,
	XS_WC_RDMA_WRITE = 1,
	XS_WC_RDMA_READ = 2,
	XS_WC_RECV = 128,
};

struct xs_wc {
	uint64_t wr_id;
	enum xs_wc_status status;
	enum xs_wc_opcode opcode;
	uint32_t byte_len;
	uint32_t imm_data; /* host order; valid when has_imm */
	bool has_imm;
	struct xs_qp *qp;
};

const char *xs_wc_status_str(enum xs_wc_status status);

struct xs_cq *xs_cq_create(struct xs_fabric *f, int depth);
int xs_cq_destroy(struct xs_cq *cq);
/* Readable when completions may be pending; drain with xs_cq_poll until 0. */
int xs_cq_fd(struct xs_cq *cq);
/* Returns the number of completions written to wc (0..n), or -errno. */
int xs_cq_poll(struct xs_cq *cq, struct xs_wc *wc, int n);

/* -------------------------------------------------------------------- QP */

struct xs_qp_attr {
	struct xs_pd *pd;
	struct xs_cq *send_cq;
	struct xs_cq *recv_cq;
	uint32_t max_send_wr;   /* default 64 */
	uint32_t max_recv_wr;   /* default 64 */
	uint32_t max_sge;       /* default 4 */
	uint32_t max_inline;    /* bytes a SEND may carry with XS_SEND_INLINE; default 256 */
	void *context;          /* returned by xs_qp_context() */
};

enum xs_qp_state {
	XS_QPS_RESET = 0,
	XS_QPS_CONNECTING,
	XS_QPS_RTS,        /* connected */
	XS_QPS_ERROR,
	XS_QPS_CLOSED,
};

enum xs_wr_opcode {
	XS_WR_SEND = 0,
	XS_WR_SEND_WITH_IMM,
	XS_WR_RDMA_WRITE,
	XS_WR_RDMA_READ,
};

enum xs_send_flags {
	XS_SEND_SIGNALED = 1 << 0, /* always generate a completion */
	XS_SEND_INLINE = 1 << 1,   /* copy the data at post time; lkey ignored */
};

struct xs_sge {
	uint64_t addr;
	uint32_t length;
	uint32_t lkey;
};

struct xs_send_wr {
	uint64_t wr_id;
	enum xs_wr_opcode opcode;
	const struct xs_sge *sg_list;
	int num_sge;
	unsigned int flags;     /* XS_SEND_* */
	uint32_t imm_data;      /* host order, XS_WR_SEND_WITH_IMM */
	uint64_t remote_addr;   /* RDMA */
	uint32_t rkey;          /* RDMA */
};

struct xs_recv_wr {
	uint64_t wr_id;
	const struct xs_sge *sg_list;
	int num_sge;
};

/* Create an unconnected RC QP. */
struct xs_qp *xs_qp_create(struct xs_fabric *f, const struct xs_qp_attr *attr);
/* Destroy: disconnects if needed; outstanding work is flushed first. */
int xs_qp_destroy(struct xs_qp *qp);
void *xs_qp_context(const struct xs_qp *qp);
enum xs_qp_state xs_qp_state(const struct xs_qp *qp);
uint32_t xs_qp_num(const struct xs_qp *qp);

/* Post one work request. -EINVAL for a bad WR, -ENOMEM when the queue is
 * full, -ENOTCONN before the QP is connected. Errors found while executing
 * are reported as completions. Unsignaled sends complete silently unless
 * they fail. */
int xs_qp_post_send(struct xs_qp *qp, const struct xs_send_wr *wr);
int xs_qp_post_recv(struct xs_qp *qp, const struct xs_recv_wr *wr);

/* ---------------------------------------------------- connection manager */

/* Where to connect: a LID (IB), or a GID, or an IP address (RoCE). */
struct xs_cm_dest {
	uint16_t lid;
	bool has_gid;
	uint8_t gid[16];
	const char *ip;   /* verbs on RoCE: "10.0.0.2" or "fe80::1%veth0" */
	uint16_t pkey;    /* 0: the port's default P_Key (first in its table) */
};

/* Listen for connection requests to service_id; requests arrive as
 * XS_EV_CONNECT_REQUEST events on the fabric's event fd. */
struct xs_cm_listener *xs_cm_listen(struct xs_fabric *f, uint64_t service_id);
int xs_cm_listener_close(struct xs_cm_listener *l);

/* About a connect request (valid until accepted or rejected). */
struct xs_cm_req_info {
	uint64_t service_id;
	uint16_t remote_lid;
	uint8_t remote_gid[16];
	uint64_t remote_port_guid;
	uint16_t pkey;
	uint8_t private_data[XS_CM_PRIVATE_DATA_MAX];
	uint16_t private_len;
};
int xs_cm_req_info(const struct xs_cm_request *req, struct xs_cm_req_info *info);

/* Start an active connection; the outcome arrives as an XS_EV_ESTABLISHED,
 * XS_EV_REJECTED or XS_EV_UNREACHABLE event for qp within timeout_ms. */
int xs_qp_connect(struct xs_qp *qp, const struct xs_cm_dest *dest, uint64_t service_id,
		  const void *private_data, size_t private_len, int timeout_ms);
/* Accept a request on qp (created unconnected). The QP is usable when
 * XS_EV_ESTABLISHED arrives for it. The request handle is consumed. */
int xs_qp_accept(struct xs_qp *qp, struct xs_cm_request *req, const void *private_data,
		 size_t private_len);
/* Reject a request with a reason (IB CM REJ reason code; 28 = consumer
 * reject) and optional private data. The request handle is consumed. */
int xs_cm_reject(struct xs_cm_request *req, uint16_t reason, const void *private_data,
		 size_t private_len);
/* Disconnect: both sides see XS_EV_DISCONNECTED; outstanding work flushes. */
int xs_qp_disconnect(struct xs_qp *qp);

#define XS_CM_REJ_CONSUMER 28
#define XS_CM_REJ_INVALID_SID 8
#define XS_CM_REJ_TIMEOUT 1

/* ------------------------------------------------------------------ MADs */

struct xs_mad_addr {
	uint16_t lid;
	uint32_t qpn;
	uint32_t qkey;     /* default XS_GSI_QKEY when 0 */
	uint16_t pkey;     /* default XS_DEFAULT_PKEY when 0 */
	uint8_t sl;
	bool has_grh;      /* RoCE: address by GID */
	uint8_t gid[16];
};

enum xs_mad_agent_flags {
	/* Also receive unsolicited requests for this class (a server). */
	XS_MAD_AGENT_SERVER = 1 << 0,
};

/* Register for (class, class_version[, oui]). oui may be NULL (vendor range 1
 * and standard classes). */
struct xs_mad_agent *xs_mad_agent_register(struct xs_fabric *f, uint8_t mgmt_class,
					   uint8_t class_version, const uint8_t oui[3],
					   unsigned int flags);
int xs_mad_agent_unregister(struct xs_mad_agent *a);
int xs_mad_agent_fd(struct xs_mad_agent *a);

/* Send a MAD (len <= XS_MAD_SIZE). */
int xs_mad_send(struct xs_mad_agent *a, const struct xs_mad_addr *dst, const void *mad,
		size_t len);
/* Receive one MAD addressed to this agent; -EAGAIN (timeout_ms == 0) or
 * -ETIMEDOUT when none came. Returns the MAD length. */
int xs_mad_recv(struct xs_mad_agent *a, struct xs_mad_addr *src, void *mad, size_t cap,
		int timeout_ms);
/* Send a request and wait for the reply whose transaction ID matches (low 32
 * bits; fabrics rewrite the high bits), retrying `retries` times with
 * timeout_ms each. Other MADs that arrive meanwhile stay queued.
 * Returns the reply length, -ETIMEDOUT when no reply came. */
int xs_mad_rpc(struct xs_mad_agent *a, const struct xs_mad_addr *dst, const void *req,
	       size_t req_len, void *resp, size_t resp_cap, int timeout_ms, int retries);

#ifdef __cplusplus
}
#endif

#endif /* XSCORE_FABRIC_H */
