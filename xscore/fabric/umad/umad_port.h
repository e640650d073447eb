/* SPDX-License-Identifier: MIT */
/*
 * umad_port.h - the libibumad MAD engine shared by the "umad" and "verbs"
 * backends (private to libxscore).
 *
 * One struct xs_umad_port owns one libibumad port (umad_open_port) and one
 * reader thread. The thread is the only reader of the umad file descriptor:
 * it takes every MAD that arrives and files it into the queue of the agent
 * it belongs to. Each agent has an eventfd that is readable exactly while
 * its queue is non-empty; that eventfd is what xs_mad_agent_fd() returns, so
 * agents can be watched from any event loop (epoll included) without ever
 * touching the umad fd. The thread is needed because:
 *   - several agents share one umad fd, and the kernel (or umad2sim) hands
 *     out MADs for all of them in one stream;
 *   - umad2sim (the ibsim preload library) fakes the umad fd: it is not a
 *     real descriptor, so it can't be given to epoll at all.
 *
 * Demultiplexing (umad2sim ignores method and OUI masks, and files requests
 * by class only): a response goes to the agent whose libibumad id it carries,
 * if that agent's class matches; otherwise, and for requests, to the agent
 * with the same class and class version (and OUI for vendor range 2,
 * classes 0x30-0x4F). Requests go only to agents registered with
 * XS_MAD_AGENT_SERVER. Everything else is dropped and counted.
 *
 * The thread also re-reads the port attributes once a second and reports
 * changes (state, LID, SM LID, P_Keys) as XS_EV_PORT_CHANGE events.
 *
 * Error convention as everywhere: negative errno, NULL + errno.
 */
#ifndef XS_UMAD_PORT_H
#define XS_UMAD_PORT_H

#include <stdbool.h>
#include <stdint.h>

#include "fabric_provider.h"

struct xs_umad_port;

/* Open ca ("" or NULL: the first CA with an active port) port (0: first
 * active port). Logs one line naming what failed. */
struct xs_umad_port *xs_umad_port_open(const char *ca, int port, int gid_index);
/* Stops the reader, unregisters every agent still registered, closes the
 * port. Waits ~100 ms when a MAD left in the last 100 ms (a simulator or
 * HCA may otherwise drop a MAD the process sent just before exit). */
void xs_umad_port_close(struct xs_umad_port *p);

/* Fill attr from libibumad's view of the port (sysfs). */
int xs_umad_port_query(struct xs_umad_port *p, struct xs_port_attr *attr);
/* Readable while port-change events are queued. */
int xs_umad_port_event_fd(struct xs_umad_port *p);
/* Take one queued port-change event; -EAGAIN when none. */
int xs_umad_port_get_event(struct xs_umad_port *p, struct xs_event *ev);

/* MAD agents: f is the fabric handle the agent belongs to (its base). */
struct xs_mad_agent *xs_umad_agent_register(struct xs_umad_port *p, struct xs_fabric *f,
					    uint8_t mgmt_class, uint8_t class_version,
					    const uint8_t oui[3], unsigned int flags);
int xs_umad_agent_unregister(struct xs_mad_agent *a);
int xs_umad_agent_fd(struct xs_mad_agent *a);
int xs_umad_mad_send(struct xs_mad_agent *a, const struct xs_mad_addr *dst, const void *mad,
		     size_t len);
int xs_umad_mad_recv(struct xs_mad_agent *a, struct xs_mad_addr *src, void *mad, size_t cap,
		     int timeout_ms);

/* Counters (for tests and tools). */
struct xs_umad_stats {
	uint64_t rx;         /* MADs filed into an agent queue */
	uint64_t tx;         /* MADs sent */
	uint64_t dropped;    /* MADs no agent wanted, or a full queue */
	uint64_t send_errors; /* kernel send completions with an error status */
};
void xs_umad_port_stats(struct xs_umad_port *p, struct xs_umad_stats *st);

/* True when this process runs under umad2sim (LD_PRELOAD of libumad2sim). */
bool xs_umad_under_sim(void);

#endif /* XS_UMAD_PORT_H */
