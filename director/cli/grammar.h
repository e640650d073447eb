/* SPDX-License-Identifier: MIT */
/*
 * grammar.h - the xcm command grammar: a table of tokens (keywords, names,
 * typed option values) walked word by word, in the manner of OpenBSD's
 * ospfctl parser. Any unambiguous prefix of a keyword or option is accepted
 * ("sh vn" = "show vnic", "--prof" = "--profile"). Values are checked with
 * the same parsers the director uses, so a typo is a usage error here.
 */
#ifndef XCM_GRAMMAR_H
#define XCM_GRAMMAR_H

#include <jansson.h>

enum xcm_render {
	XCM_R_CHANGE,     /* add/set/delete: confirmation + push results */
	XCM_R_PROFILES,
	XCM_R_VNICS,
	XCM_R_VHBAS,
	XCM_R_SESSIONS,
	XCM_R_HOSTS,
	XCM_R_LOG,
	XCM_R_CONFIG,
	XCM_R_NAMES,      /* uplinks / storage pools */
	XCM_R_STATS,
	XCM_R_STORAGE,
	XCM_R_TARGETS,
};

struct xcm_cmd {
	json_t *req;              /* the control request to send */
	enum xcm_render render;
	const char *noun;         /* "vnic", "profile", ... */
	const char *verb;         /* "add", "set", "delete", "show" */
	const char *names_key;    /* XCM_R_NAMES: reply key */
};

/*
 * Parse argv (the words after the program name and global options).
 * Returns 0 and fills cmd (free cmd->req with json_decref), or -EINVAL with
 * one line in err (without the "xcm: " prefix).
 */
int xcm_parse(int argc, char **argv, struct xcm_cmd *cmd, char *err, size_t errlen);

#endif /* XCM_GRAMMAR_H */
