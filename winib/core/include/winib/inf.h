/* SPDX-License-Identifier: MIT */
/*
 * winib/inf.h - reads the AddReg part of an INF file into a winib_reg.
 *
 * Accepted syntax (a subset of what SetupAPI takes, enough for bus INFs):
 *   - [Section] headers (names compare without case); ';' starts a comment
 *     outside double quotes; a '\' as the last character of a line (after
 *     comment removal) joins the next line; ASCII/UTF-8 text (a UTF-8 BOM
 *     is skipped); UTF-16LE with a BOM (as Windows tools save INFs) is
 *     converted first. CRLF and LF line ends both work. Lines are reported
 *     with the number of their first line.
 *   - fields are separated by commas outside quotes; a quoted part keeps
 *     its spaces, commas and semicolons, "" inside quotes is one '"';
 *   - %token% is replaced by its [Strings] value, both inside and outside
 *     quotes; %% is a literal '%'. An unknown token is an error.
 *   - AddReg lines: root,[subkey],[value-name],[flags],[value[,value...]]
 *     root: HKR HKLM HKCU HKCR HKU. Flags (hex 0x... or decimal):
 *       0x00000000 REG_SZ            0x00020000 REG_EXPAND_SZ
 *       0x00010000 REG_MULTI_SZ      0x00010008 REG_MULTI_SZ, append
 *       0x00010001 REG_DWORD         0x00000002 (with any) no-clobber
 *       0x00000010 key only          0x00000004 delete the value
 *   - an install section's "AddReg = a, b" names the AddReg sections.
 *
 * Every error is "file:line: reason", logged at ERR and copied to *err.
 */
#ifndef WINIB_INF_H
#define WINIB_INF_H

#include "winib/common.h"
#include "winib/reg.h"

#define WINIB_INF_FLG_NOCLOBBER 0x00000002u
#define WINIB_INF_FLG_DELVAL 0x00000004u
#define WINIB_INF_FLG_APPEND 0x00000008u
#define WINIB_INF_FLG_KEYONLY 0x00000010u
#define WINIB_INF_FLG_MULTI_SZ 0x00010000u
#define WINIB_INF_FLG_EXPAND_SZ 0x00020000u
#define WINIB_INF_FLG_DWORD 0x00010001u

struct winib_inf_error {
	unsigned line;      /* 0 when the error is not tied to a line */
	char text[WINIB_LOG_LINE_MAX];
};

struct winib_inf;

/* Parse a whole file held in memory. file is the name used in messages.
 * NULL with *err set (-EBADMSG for syntax, -ENOMEM) and einfo filled. */
struct winib_inf *winib_inf_parse(struct winib_env *env, const char *file, const char *text,
				  size_t len, struct winib_inf_error *einfo, int *err);
void winib_inf_destroy(struct winib_inf *inf);

bool winib_inf_has_section(const struct winib_inf *inf, const char *section);
/* The [Strings] value of token, or NULL. */
const char *winib_inf_string(const struct winib_inf *inf, const char *token);

/* Apply one AddReg section. Returns the number of lines applied or a
 * negative errno (-ENOENT no such section, -EBADMSG bad line, -ENOMEM). */
int winib_inf_apply_addreg(struct winib_inf *inf, const char *section, struct winib_reg *reg,
			   struct winib_inf_error *einfo);
/* Apply every AddReg section named by the install section's AddReg= lines. */
int winib_inf_apply_install(struct winib_inf *inf, const char *install, struct winib_reg *reg,
			    struct winib_inf_error *einfo);

#endif /* WINIB_INF_H */
