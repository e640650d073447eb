/* SPDX-License-Identifier: MIT */
/* output.h - xcm's human-readable rendering of control replies. */
#ifndef XCM_OUTPUT_H
#define XCM_OUTPUT_H

#include <stdio.h>

#include <jansson.h>

#include "cli/grammar.h"

/* Print the reply of a successful request; returns the exit status
 * (0, or 1 when a host NACKed the change). */
int xcm_render(FILE *out, const struct xcm_cmd *cmd, json_t *reply);

#endif /* XCM_OUTPUT_H */
