/* SPDX-License-Identifier: MIT */
/* libFuzzer: xs_softp_decode on arbitrary records, as the daemon and as a
 * port would see them. Accepted records must have exactly their type's size. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "soft/soft_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1); /* exact-size heap copy: ASan sees over-reads */

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	for (int dir = 0; dir < 2; dir++) {
		const char *why = NULL;
		int rc = xs_softp_decode(copy, size, dir, &why);

		if (rc >= 0 && xs_softp_size(rc) != size)
			abort();
		if (rc < 0 && !why)
			abort();
	}
	free(copy);
	return 0;
}
