/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: the SA of xs-fabricd answering arbitrary MADs from one of three
 * ports (two partitions). State (registered records) carries over between
 * inputs, as in the daemon. The port table functions of fabricd.c are
 * re-implemented here for three fixed ports.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <xscore/common.h>
#include <xscore/log.h>

#include "fabricd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fabricd d;
static struct fd_port ports[3];

struct fd_port *fd_port_by_lid(struct fabricd *dd, uint16_t lid)
{
	for (int i = 0; i < 3; i++)
		if (ports[i].lid == lid)
			return &ports[i];
	return NULL;
}

struct fd_port *fd_port_by_gid(struct fabricd *dd, const uint8_t gid[16])
{
	for (int i = 0; i < 3; i++)
		if (!memcmp(ports[i].gid, gid, 16))
			return &ports[i];
	return NULL;
}

uint16_t fd_shared_pkey(const struct fd_port *a, const struct fd_port *b, uint16_t want)
{
	const uint16_t all = 0xffff;
	const uint16_t *ak = a ? a->pkeys : &all, *bk = b ? b->pkeys : &all;
	int an = a ? a->n_pkeys : 1, bn = b ? b->n_pkeys : 1;

	for (int i = 0; i < an; i++) {
		if (want && (ak[i] & 0x7fff) != (want & 0x7fff))
			continue;
		for (int j = 0; j < bn; j++)
			if ((ak[i] & 0x7fff) == (bk[j] & 0x7fff) &&
			    (!a || !b || (ak[i] & 0x8000) || (bk[j] & 0x8000)))
				return ak[i];
	}
	return 0;
}

static void init(void)
{
	xs_log_set_level(XS_LOG_ERR);
	d.loop = xs_loop_new();
	for (int i = 0; i < 3; i++) {
		ports[i].lid = (uint16_t)(2 + i);
		ports[i].guid = (UINT64_C(0x001397) << 40) | (uint64_t)(i + 1);
		xs_put64(ports[i].gid, UINT64_C(0xfe80000000000000));
		xs_put64(ports[i].gid + 8, ports[i].guid);
		ports[i].pkeys[0] = 0xffff;
		ports[i].n_pkeys = 1;
	}
	ports[0].pkeys[ports[0].n_pkeys++] = 0x8001;
	ports[1].pkeys[ports[1].n_pkeys++] = 0x8001;
	ports[2].pkeys[ports[2].n_pkeys++] = 0x8002;
	d.sa = fd_sa_new(&d);
	if (!d.loop || !d.sa)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xs_softp_mad_send m;
	struct xs_softp_mad_recv resp[8];
	int n;

	if (!d.sa)
		init();
	if (size < 1 + 24)
		return 0;
	memset(&m, 0, sizeof(m));
	m.dlid = XS_SOFT_SM_LID;
	m.dqpn = 1;
	m.mad_len = (uint16_t)XS_MIN(size - 1, (size_t)XS_MAD_SIZE);
	memcpy(m.mad, data + 1, m.mad_len);
	n = fd_sa_handle(d.sa, &ports[data[0] % 3], &m, resp, 8);
	if (n < 0 || n > 8)
		abort();
	for (int i = 0; i < n; i++)
		if (resp[i].mad_len < 24 || resp[i].mad_len > XS_MAD_SIZE ||
		    resp[i].mad[1] != 0x03 || !(resp[i].mad[3] & 0x80))
			abort();
	if (data[0] == 0xff)
		fd_sa_port_detached(d.sa, &ports[data[1] % 3]);
	return 0;
}
