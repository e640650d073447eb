/* SPDX-License-Identifier: MIT */
/*
 * fabric_provider.h - the backend author's API (not installed).
 *
 * A backend is a const struct xs_fabric_ops plus an entry in the table in
 * fabric.c. Each backend embeds the generic objects below in its own and
 * gets back to them with xs_container_of. Operations left NULL fall back to
 * stubs that return -EOPNOTSUPP (or NULL with errno = EOPNOTSUPP), so the
 * front end never tests for NULL.
 */
#ifndef XS_FABRIC_PROVIDER_H
#define XS_FABRIC_PROVIDER_H

#include <xscore/common.h>
#include <xscore/fabric.h>

struct xs_fabric_ops;

struct xs_fabric {
	const struct xs_fabric_ops *ops;
};

struct xs_pd {
	struct xs_fabric *fabric;
};

struct xs_mr {
	struct xs_pd *pd;
	void *addr;
	size_t len;
	int access;
	uint32_t lkey;
	uint32_t rkey;
};

struct xs_cq {
	struct xs_fabric *fabric;
	int depth;
};

struct xs_qp {
	struct xs_fabric *fabric;
	struct xs_qp_attr attr;
	uint32_t qpn;
	enum xs_qp_state state; /* maintained by the backend */
};

struct xs_cm_listener {
	struct xs_fabric *fabric;
	uint64_t service_id;
};

struct xs_cm_request {
	struct xs_fabric *fabric;
	struct xs_cm_req_info info;
};

/* MADs that xs_mad_rpc received while waiting for its reply, kept for the
 * next xs_mad_recv. */
#define XS_MAD_STASH 16
struct xs_mad_stashed {
	struct xs_mad_addr src;
	uint16_t len;
	uint8_t mad[XS_MAD_SIZE];
};

struct xs_mad_agent {
	struct xs_fabric *fabric;
	uint8_t mgmt_class;
	uint8_t class_version;
	uint8_t oui[3];
	bool has_oui;
	unsigned int flags;
	struct xs_mad_stashed stash[XS_MAD_STASH];
	unsigned int stash_head, stash_count;
};

struct xs_fabric_ops {
	const char *name;
	/* args: the spec after "name:" ("" when absent). Allocates the backend
	 * object, sets base.ops, returns it, or NULL with errno. */
	struct xs_fabric *(*open)(const char *args, const struct xs_fabric_opts *opts);
	void (*close)(struct xs_fabric *f);
	int (*query_port)(struct xs_fabric *f, struct xs_port_attr *attr);
	int (*event_fd)(struct xs_fabric *f);
	int (*get_event)(struct xs_fabric *f, struct xs_event *ev);

	struct xs_pd *(*pd_alloc)(struct xs_fabric *f);
	int (*pd_free)(struct xs_pd *pd);
	struct xs_mr *(*mr_reg)(struct xs_pd *pd, void *addr, size_t len, int access);
	int (*mr_dereg)(struct xs_mr *mr);

	struct xs_cq *(*cq_create)(struct xs_fabric *f, int depth);
	int (*cq_destroy)(struct xs_cq *cq);
	int (*cq_fd)(struct xs_cq *cq);
	int (*cq_poll)(struct xs_cq *cq, struct xs_wc *wc, int n);

	/* attr arrives with defaults filled in */
	struct xs_qp *(*qp_create)(struct xs_fabric *f, const struct xs_qp_attr *attr);
	int (*qp_destroy)(struct xs_qp *qp);
	int (*post_send)(struct xs_qp *qp, const struct xs_send_wr *wr);
	int (*post_recv)(struct xs_qp *qp, const struct xs_recv_wr *wr);

	struct xs_cm_listener *(*cm_listen)(struct xs_fabric *f, uint64_t service_id);
	int (*cm_listener_close)(struct xs_cm_listener *l);
	int (*qp_connect)(struct xs_qp *qp, const struct xs_cm_dest *dest, uint64_t service_id,
			  const void *pdata, size_t plen, int timeout_ms);
	int (*qp_accept)(struct xs_qp *qp, struct xs_cm_request *req, const void *pdata,
			 size_t plen);
	int (*cm_reject)(struct xs_cm_request *req, uint16_t reason, const void *pdata,
			 size_t plen);
	int (*qp_disconnect)(struct xs_qp *qp);

	struct xs_mad_agent *(*mad_agent_register)(struct xs_fabric *f, uint8_t mgmt_class,
						   uint8_t class_version, const uint8_t oui[3],
						   unsigned int flags);
	int (*mad_agent_unregister)(struct xs_mad_agent *a);
	int (*mad_agent_fd)(struct xs_mad_agent *a);
	int (*mad_send)(struct xs_mad_agent *a, const struct xs_mad_addr *dst, const void *mad,
			size_t len);
	/* timeout_ms: 0 = don't wait (-EAGAIN), < 0 = forever */
	int (*mad_recv)(struct xs_mad_agent *a, struct xs_mad_addr *src, void *mad, size_t cap,
			int timeout_ms);
};

/* Backends known to the front end (fabric.c). */
extern const struct xs_fabric_ops xs_soft_ops;
#ifdef XS_HAVE_VERBS
extern const struct xs_fabric_ops xs_verbs_ops;
extern const struct xs_fabric_ops xs_umad_ops;
#endif

/* Fill the base fields of an agent (front end and backends share this). */
void xs_mad_agent_init(struct xs_mad_agent *a, struct xs_fabric *f, uint8_t mgmt_class,
		       uint8_t class_version, const uint8_t oui[3], unsigned int flags);

#endif /* XS_FABRIC_PROVIDER_H */
