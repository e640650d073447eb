/* SPDX-License-Identifier: MIT */
/*
 * inf.c - INF reader: sections, comments, quotes, line continuation,
 * [Strings] substitution, and AddReg lines applied to a winib_reg.
 * Syntax accepted is described in winib/inf.h.
 */
#include "winib/bus.h" /* winib_utf16_to_utf8 */
#include "winib/inf.h"
#include "winib/policy.h"

#define INF_MAX_LINE 4096     /* logical line, after joining continuations */
#define INF_MAX_FIELDS 32

struct inf_line {
	struct inf_line *next;
	unsigned lineno;
	char *text;
};

struct inf_section {
	struct inf_section *next;
	char *name;
	struct inf_line *lines;
	struct inf_line **tail;
};

struct inf_string {
	struct inf_string *next;
	char *key;
	char *value;
};

struct winib_inf {
	struct winib_env *env;
	char *file;
	struct inf_section *sections;
	struct inf_string *strings;
	char *work;               /* INF_MAX_LINE bytes: field output buffer */
};

struct inf_fields {
	size_t n;
	const char *f[INF_MAX_FIELDS];
};

static void inf_error(const struct winib_inf *inf, struct winib_inf_error *einfo, unsigned line,
		      const char *fmt, ...) WINIB_PRINTF(4, 5);

static void inf_error(const struct winib_inf *inf, struct winib_inf_error *einfo, unsigned line,
		      const char *fmt, ...)
{
	struct winib_inf_error local;
	size_t n;

	if (einfo == NULL)
		einfo = &local;
	einfo->line = line;
	n = winib_fmt(einfo->text, sizeof(einfo->text), "%s:%u: ", inf->file, line);
	if (n < sizeof(einfo->text)) {
		va_list ap;

		va_start(ap, fmt);
		(void)winib_vfmt(einfo->text + n, sizeof(einfo->text) - n, fmt, ap);
		va_end(ap);
	}
	winib_log(inf->env, WINIB_LOG_ERR, "%s", einfo->text);
}

void winib_inf_destroy(struct winib_inf *inf)
{
	struct inf_section *s, *sn;
	struct inf_line *l, *ln;
	struct inf_string *st, *stn;

	if (inf == NULL)
		return;
	for (s = inf->sections; s != NULL; s = sn) {
		sn = s->next;
		for (l = s->lines; l != NULL; l = ln) {
			ln = l->next;
			winib_free(inf->env, l->text);
			winib_free(inf->env, l);
		}
		winib_free(inf->env, s->name);
		winib_free(inf->env, s);
	}
	for (st = inf->strings; st != NULL; st = stn) {
		stn = st->next;
		winib_free(inf->env, st->key);
		winib_free(inf->env, st->value);
		winib_free(inf->env, st);
	}
	winib_free(inf->env, inf->work);
	winib_free(inf->env, inf->file);
	winib_free(inf->env, inf);
}

static struct inf_section *section_find(const struct winib_inf *inf, const char *name, size_t n)
{
	struct inf_section *s;

	for (s = inf->sections; s != NULL; s = s->next)
		if (winib_strlen(s->name) == n && winib_strncasecmp(s->name, name, n) == 0)
			return s;
	return NULL;
}

bool winib_inf_has_section(const struct winib_inf *inf, const char *section)
{
	return section_find(inf, section, winib_strlen(section)) != NULL;
}

static struct inf_string *string_find(const struct winib_inf *inf, const char *key, size_t n)
{
	struct inf_string *st;

	for (st = inf->strings; st != NULL; st = st->next)
		if (winib_strlen(st->key) == n && winib_strncasecmp(st->key, key, n) == 0)
			return st;
	return NULL;
}

const char *winib_inf_string(const struct winib_inf *inf, const char *token)
{
	const struct inf_string *st = string_find(inf, token, winib_strlen(token));

	return st != NULL ? st->value : NULL;
}

/* Remove the comment from one physical line; -EBADMSG if a quote is open. */
static int strip_comment(const char *p, size_t n, size_t *out_n)
{
	bool quoted = false;
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == '"')
			quoted = !quoted;
		else if (p[i] == ';' && !quoted)
			break;
	}
	if (quoted)
		return -EBADMSG;
	*out_n = i;
	return 0;
}

static int add_line(struct winib_inf *inf, struct inf_section *sec, unsigned lineno,
		    const char *text, size_t n)
{
	struct inf_line *l = winib_alloc(inf->env, sizeof(*l));

	if (l == NULL)
		return -ENOMEM;
	l->text = winib_strndup(inf->env, text, n);
	if (l->text == NULL) {
		winib_free(inf->env, l);
		return -ENOMEM;
	}
	l->lineno = lineno;
	l->next = NULL;
	*sec->tail = l;
	sec->tail = &l->next;
	return 0;
}

static int open_section(struct winib_inf *inf, const char *name, size_t n,
			struct inf_section **out)
{
	struct inf_section *s = section_find(inf, name, n);

	/* A section named twice is one section, as SetupAPI merges them. */
	if (s != NULL) {
		*out = s;
		return 0;
	}
	s = winib_alloc(inf->env, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->name = winib_strndup(inf->env, name, n);
	if (s->name == NULL) {
		winib_free(inf->env, s);
		return -ENOMEM;
	}
	s->lines = NULL;
	s->tail = &s->lines;
	s->next = inf->sections;
	inf->sections = s;
	*out = s;
	return 0;
}

/*
 * Split text into comma-separated fields with quotes, "" and %token%
 * handled; fields are NUL-terminated strings in inf->work. stop_at_eq
 * splits "key = value" instead: field 0 is the key, the rest the value.
 */
static int split_fields(struct winib_inf *inf, const char *text, bool substitute,
			struct inf_fields *fl, unsigned lineno, struct winib_inf_error *einfo)
{
	char *out = inf->work;
	size_t o = 0;
	const char *p = text;

	fl->n = 0;
	for (;;) {
		size_t start, keep;
		bool quoted = false;

		while (*p == ' ' || *p == '\t')
			p++;
		if (fl->n == INF_MAX_FIELDS) {
			inf_error(inf, einfo, lineno, "more than %u fields", INF_MAX_FIELDS);
			return -EBADMSG;
		}
		start = o;
		keep = o;
		while (*p != '\0' && (quoted || *p != ',')) {
			if (*p == '"') {
				if (quoted && p[1] == '"') {
					if (o + 1 >= INF_MAX_LINE)
						goto too_long;
					out[o++] = '"';
					keep = o;
					p += 2;
					continue;
				}
				quoted = !quoted;
				keep = o;
				p++;
				continue;
			}
			if (*p == '%' && substitute) {
				const char *end;
				const struct inf_string *st;
				size_t vlen;

				if (p[1] == '%') {
					if (o + 1 >= INF_MAX_LINE)
						goto too_long;
					out[o++] = '%';
					keep = o;
					p += 2;
					continue;
				}
				end = p + 1;
				while (*end != '\0' && *end != '%')
					end++;
				if (*end != '%') {
					inf_error(inf, einfo, lineno, "unterminated %%token%% in \"%s\"",
						  text);
					return -EBADMSG;
				}
				st = string_find(inf, p + 1, (size_t)(end - p - 1));
				if (st == NULL) {
					char tok[64];
					size_t tl = (size_t)(end - p + 1);

					if (tl >= sizeof(tok))
						tl = sizeof(tok) - 1;
					winib_memcpy(tok, p, tl);
					tok[tl] = '\0';
					inf_error(inf, einfo, lineno,
						  "unknown string token %s (not in [Strings])", tok);
					return -EBADMSG;
				}
				vlen = winib_strlen(st->value);
				if (o + vlen >= INF_MAX_LINE)
					goto too_long;
				winib_memcpy(out + o, st->value, vlen);
				o += vlen;
				keep = o;
				p = end + 1;
				continue;
			}
			if (o + 1 >= INF_MAX_LINE)
				goto too_long;
			out[o++] = *p;
			if (quoted || (*p != ' ' && *p != '\t'))
				keep = o;
			p++;
		}
		/* Unquoted trailing blanks are not part of the field. */
		o = keep;
		if (o + 1 >= INF_MAX_LINE)
			goto too_long;
		out[o++] = '\0';
		fl->f[fl->n++] = out + start;
		if (*p != ',')
			break;
		p++;
	}
	return 0;

too_long:
	inf_error(inf, einfo, lineno, "line longer than %u bytes after substitution",
		  INF_MAX_LINE - 1);
	return -EBADMSG;
}

/* Find '=' outside quotes; NULL if none. */
static const char *find_eq(const char *s)
{
	bool quoted = false;

	for (; *s != '\0'; s++) {
		if (*s == '"')
			quoted = !quoted;
		else if (*s == '=' && !quoted)
			return s;
	}
	return NULL;
}

static void trim_span(const char **p, size_t *n)
{
	while (*n > 0 && winib_isspace((unsigned char)**p)) {
		(*p)++;
		(*n)--;
	}
	while (*n > 0 && winib_isspace((unsigned char)(*p)[*n - 1]))
		(*n)--;
}

static int load_strings(struct winib_inf *inf, struct winib_inf_error *einfo)
{
	const struct inf_section *sec = section_find(inf, "Strings", 7);
	const struct inf_line *l;

	if (sec == NULL)
		return 0;
	for (l = sec->lines; l != NULL; l = l->next) {
		const char *eq = find_eq(l->text), *key = l->text;
		size_t klen;
		struct inf_fields fl;
		struct inf_string *st;
		int rc;

		if (eq == NULL) {
			inf_error(inf, einfo, l->lineno, "expected key = value in [Strings]");
			return -EBADMSG;
		}
		klen = (size_t)(eq - key);
		trim_span(&key, &klen);
		if (klen == 0) {
			inf_error(inf, einfo, l->lineno, "empty key in [Strings]");
			return -EBADMSG;
		}
		if (string_find(inf, key, klen) != NULL) {
			char k[64];

			winib_memcpy(k, key, klen < sizeof(k) ? klen : sizeof(k) - 1);
			k[klen < sizeof(k) ? klen : sizeof(k) - 1] = '\0';
			inf_error(inf, einfo, l->lineno, "string key \"%s\" defined twice", k);
			return -EBADMSG;
		}
		/* The whole right-hand side is one value: commas included. */
		rc = split_fields(inf, eq + 1, false, &fl, l->lineno, einfo);
		if (rc < 0)
			return rc;
		st = winib_alloc(inf->env, sizeof(*st));
		if (st == NULL)
			return -ENOMEM;
		st->key = winib_strndup(inf->env, key, klen);
		/* Re-join fields the comma split apart: "a, b" is one string. */
		{
			size_t total = 0, i;

			for (i = 0; i < fl.n; i++)
				total += winib_strlen(fl.f[i]) + 1;
			st->value = winib_alloc(inf->env, total + 1);
			if (st->value != NULL) {
				size_t o = 0;

				for (i = 0; i < fl.n; i++) {
					size_t fn = winib_strlen(fl.f[i]);

					if (i > 0)
						st->value[o++] = ',';
					winib_memcpy(st->value + o, fl.f[i], fn);
					o += fn;
				}
				st->value[o] = '\0';
			}
		}
		if (st->key == NULL || st->value == NULL) {
			winib_free(inf->env, st->key);
			winib_free(inf->env, st->value);
			winib_free(inf->env, st);
			return -ENOMEM;
		}
		st->next = inf->strings;
		inf->strings = st;
	}
	return 0;
}

static struct winib_inf *parse_utf8(struct winib_env *env, const char *file, const char *text,
				     size_t len, struct winib_inf_error *einfo, int *err);

/*
 * INF files saved by Windows tools are often UTF-16LE with a BOM: convert
 * to UTF-8 and parse that. Odd byte counts and broken surrogates are errors.
 */
static struct winib_inf *parse_utf16le(struct winib_env *env, const char *file, const char *text,
				       size_t len, struct winib_inf_error *einfo, int *err)
{
	size_t units = (len - 2) / 2, i;
	struct winib_inf *inf = NULL;
	uint16_t *w;
	char *u8;
	int n;

	if ((len & 1u) != 0 || units > ((size_t)16 << 20)) {
		if (einfo != NULL) {
			einfo->line = 0;
			(void)winib_fmt(einfo->text, sizeof(einfo->text),
					"%s:0: UTF-16 text with an odd number of bytes", file);
			winib_log(env, WINIB_LOG_ERR, "%s", einfo->text);
		}
		*err = -EBADMSG;
		return NULL;
	}
	w = winib_alloc(env, (units + 1) * sizeof(*w));
	if (w == NULL) {
		*err = -ENOMEM;
		return NULL;
	}
	for (i = 0; i < units; i++)
		w[i] = (uint16_t)((unsigned char)text[2 + 2 * i] |
				  ((unsigned)(unsigned char)text[3 + 2 * i] << 8));
	n = winib_utf16_to_utf8(w, units, NULL, 0);
	if (n < 0) {
		if (einfo != NULL) {
			einfo->line = 0;
			(void)winib_fmt(einfo->text, sizeof(einfo->text),
					"%s:0: UTF-16 text with a broken surrogate pair", file);
			winib_log(env, WINIB_LOG_ERR, "%s", einfo->text);
		}
		*err = -EBADMSG;
		goto out_free_w;
	}
	u8 = winib_alloc(env, (size_t)n + 1);
	if (u8 == NULL) {
		*err = -ENOMEM;
		goto out_free_w;
	}
	(void)winib_utf16_to_utf8(w, units, u8, (size_t)n);
	inf = parse_utf8(env, file, u8, (size_t)n, einfo, err);
	winib_free(env, u8);
out_free_w:
	winib_free(env, w);
	return inf;
}

struct winib_inf *winib_inf_parse(struct winib_env *env, const char *file, const char *text,
				  size_t len, struct winib_inf_error *einfo, int *err)
{
	if (len >= 2 && (unsigned char)text[0] == 0xff && (unsigned char)text[1] == 0xfe)
		return parse_utf16le(env, file, text, len, einfo, err);
	return parse_utf8(env, file, text, len, einfo, err);
}

static struct winib_inf *parse_utf8(struct winib_env *env, const char *file, const char *text,
				     size_t len, struct winib_inf_error *einfo, int *err)
{
	struct winib_inf *inf;
	struct inf_section *cur = NULL;
	char *logical = NULL;
	size_t pos = 0;
	unsigned lineno = 1;
	int rc = -ENOMEM;

	if (einfo != NULL) {
		einfo->line = 0;
		einfo->text[0] = '\0';
	}
	inf = winib_alloc(env, sizeof(*inf));
	if (inf == NULL)
		goto err_out;
	inf->env = env;
	inf->file = winib_strndup(env, file, winib_strlen(file));
	inf->work = winib_alloc(env, INF_MAX_LINE);
	logical = winib_alloc(env, INF_MAX_LINE);
	if (inf->file == NULL || inf->work == NULL || logical == NULL)
		goto err_free_logical;

	if (len >= 3 && (unsigned char)text[0] == 0xef && (unsigned char)text[1] == 0xbb &&
	    (unsigned char)text[2] == 0xbf)
		pos = 3;

	while (pos < len) {
		unsigned first = lineno;
		size_t ln = 0, i;

		for (;;) {
			size_t eol = pos, n, keep;

			while (eol < len && text[eol] != '\n')
				eol++;
			for (i = pos; i < eol; i++) {
				if (text[i] == '\0') {
					inf_error(inf, einfo, lineno, "NUL byte in text");
					rc = -EBADMSG;
					goto err_free_logical;
				}
			}
			if (strip_comment(text + pos, eol - pos, &n) < 0) {
				inf_error(inf, einfo, lineno, "unterminated quoted string");
				rc = -EBADMSG;
				goto err_free_logical;
			}
			keep = n;
			while (keep > 0 && winib_isspace((unsigned char)text[pos + keep - 1]))
				keep--;
			if (ln + keep >= INF_MAX_LINE) {
				inf_error(inf, einfo, first, "line longer than %u bytes",
					  INF_MAX_LINE - 1);
				rc = -EBADMSG;
				goto err_free_logical;
			}
			winib_memcpy(logical + ln, text + pos, keep);
			ln += keep;
			pos = eol < len ? eol + 1 : eol;
			lineno++;
			if (ln > 0 && logical[ln - 1] == '\\') {
				ln--;
				if (pos >= len) {
					inf_error(inf, einfo, first,
						  "line continuation '\\' at end of file");
					rc = -EBADMSG;
					goto err_free_logical;
				}
				continue;
			}
			break;
		}
		logical[ln] = '\0';
		i = 0;
		while (i < ln && winib_isspace((unsigned char)logical[i]))
			i++;
		if (i == ln)
			continue;
		if (logical[i] == '[') {
			const char *name = logical + i + 1;
			const char *close = name;
			size_t nl;

			while (*close != '\0' && *close != ']')
				close++;
			if (*close != ']') {
				inf_error(inf, einfo, first, "section header without ']'");
				rc = -EBADMSG;
				goto err_free_logical;
			}
			if (close[1] != '\0') {
				inf_error(inf, einfo, first, "text after section header");
				rc = -EBADMSG;
				goto err_free_logical;
			}
			nl = (size_t)(close - name);
			trim_span(&name, &nl);
			if (nl == 0) {
				inf_error(inf, einfo, first, "empty section name");
				rc = -EBADMSG;
				goto err_free_logical;
			}
			rc = open_section(inf, name, nl, &cur);
			if (rc < 0)
				goto err_free_logical;
			continue;
		}
		if (cur == NULL) {
			inf_error(inf, einfo, first, "line outside any [section]");
			rc = -EBADMSG;
			goto err_free_logical;
		}
		rc = add_line(inf, cur, first, logical + i, ln - i);
		if (rc < 0)
			goto err_free_logical;
	}
	winib_free(env, logical);
	logical = NULL;
	rc = load_strings(inf, einfo);
	if (rc < 0)
		goto err_free_inf;
	*err = 0;
	return inf;

err_free_logical:
	winib_free(env, logical);
err_free_inf:
	if (rc == -ENOMEM)
		inf_error(inf, einfo, 0, "out of memory");
	winib_inf_destroy(inf);
err_out:
	*err = rc;
	return NULL;
}

static int parse_root(const char *s, enum winib_reg_root *root)
{
	unsigned r;

	for (r = 0; r < WINIB_ROOT_COUNT; r++) {
		if (winib_strcasecmp(s, winib_reg_root_name((enum winib_reg_root)r)) == 0) {
			*root = (enum winib_reg_root)r;
			return 0;
		}
	}
	return -EINVAL;
}

static const char *reg_errtext(int rc)
{
	switch (rc) {
	case -ENOMEM:
		return "out of memory";
	case -E2BIG:
		return "value data too large";
	case -ENAMETOOLONG:
		return "key path too long";
	default:
		return "value has another type";
	}
}

#define FLG_TYPE_MASK 0xffff0001u
#define FLG_KNOWN_MODS (WINIB_INF_FLG_NOCLOBBER | WINIB_INF_FLG_DELVAL | WINIB_INF_FLG_APPEND | \
			WINIB_INF_FLG_KEYONLY)

static int apply_line(struct winib_inf *inf, const struct inf_line *l, struct winib_reg *reg,
		      struct winib_inf_error *einfo)
{
	struct inf_fields fl;
	enum winib_reg_root root;
	const char *subkey, *name;
	uint64_t flags64 = 0;
	uint32_t flags, type, mods;
	size_t nvals, i;
	int rc;

	rc = split_fields(inf, l->text, true, &fl, l->lineno, einfo);
	if (rc < 0)
		return rc;
	if (parse_root(fl.f[0], &root) < 0) {
		inf_error(inf, einfo, l->lineno,
			  "unknown registry root \"%s\" (expected HKR, HKLM, HKCU, HKCR or HKU)",
			  fl.f[0]);
		return -EBADMSG;
	}
	subkey = fl.n > 1 ? fl.f[1] : "";
	name = fl.n > 2 ? fl.f[2] : "";
	if (fl.n > 3 && fl.f[3][0] != '\0' &&
	    (winib_parse_u64(fl.f[3], winib_strlen(fl.f[3]), &flags64) < 0 ||
	     flags64 > 0xffffffffu)) {
		inf_error(inf, einfo, l->lineno, "bad flags \"%s\" (expected a number)", fl.f[3]);
		return -EBADMSG;
	}
	flags = (uint32_t)flags64;
	type = flags & FLG_TYPE_MASK;
	mods = flags & ~FLG_TYPE_MASK;
	nvals = fl.n > 4 ? fl.n - 4 : 0;

	if ((mods & ~FLG_KNOWN_MODS) != 0) {
		inf_error(inf, einfo, l->lineno, "unsupported flags 0x%08x", flags);
		return -EBADMSG;
	}
	if (fl.n <= 2 || (mods & WINIB_INF_FLG_KEYONLY) != 0) {
		rc = winib_reg_create_key(reg, root, subkey);
		goto check;
	}
	if ((mods & WINIB_INF_FLG_DELVAL) != 0) {
		rc = winib_reg_delete_value(reg, root, subkey, name);
		if (rc == -ENOENT)
			rc = 0;
		goto check;
	}
	if ((mods & WINIB_INF_FLG_NOCLOBBER) != 0 &&
	    winib_reg_get(reg, root, subkey, name) != NULL)
		return 0;
	if ((mods & WINIB_INF_FLG_APPEND) != 0 && type != WINIB_INF_FLG_MULTI_SZ) {
		inf_error(inf, einfo, l->lineno,
			  "append flag 0x00000008 needs REG_MULTI_SZ (flags 0x%08x)", flags);
		return -EBADMSG;
	}

	switch (type) {
	case 0:
	case WINIB_INF_FLG_EXPAND_SZ:
		if (nvals > 1) {
			inf_error(inf, einfo, l->lineno, "%s takes one value, got %zu",
				  type == 0 ? "REG_SZ" : "REG_EXPAND_SZ", nvals);
			return -EBADMSG;
		}
		rc = winib_reg_set_string(reg, root, subkey, name,
					  type == 0 ? WINIB_REG_SZ : WINIB_REG_EXPAND_SZ,
					  nvals == 1 ? fl.f[4] : "");
		break;
	case WINIB_INF_FLG_MULTI_SZ: {
		size_t total = 1, o = 0;
		char *buf;

		for (i = 0; i < nvals; i++) {
			if (fl.f[4 + i][0] == '\0') {
				inf_error(inf, einfo, l->lineno,
					  "empty string in REG_MULTI_SZ (value %zu)", i + 1);
				return -EBADMSG;
			}
			total += winib_strlen(fl.f[4 + i]) + 1;
		}
		if ((mods & WINIB_INF_FLG_APPEND) != 0) {
			rc = 0;
			for (i = 0; i < nvals && rc == 0; i++)
				rc = winib_reg_append_multi(reg, root, subkey, name, fl.f[4 + i]);
			if (rc == -EINVAL) {
				inf_error(inf, einfo, l->lineno,
					  "cannot append to %s\\%s \"%s\": not REG_MULTI_SZ",
					  winib_reg_root_name(root), subkey, name);
				return -EBADMSG;
			}
			break;
		}
		buf = winib_alloc(inf->env, total);
		if (buf == NULL) {
			rc = -ENOMEM;
			break;
		}
		for (i = 0; i < nvals; i++) {
			size_t n = winib_strlen(fl.f[4 + i]) + 1;

			winib_memcpy(buf + o, fl.f[4 + i], n);
			o += n;
		}
		buf[o] = '\0';
		rc = winib_reg_set_multi(reg, root, subkey, name, buf, total);
		winib_free(inf->env, buf);
		break;
	}
	case WINIB_INF_FLG_DWORD: {
		uint64_t v;

		if (nvals != 1 || winib_parse_u64(fl.f[4], winib_strlen(fl.f[4]), &v) < 0 ||
		    v > 0xffffffffu) {
			inf_error(inf, einfo, l->lineno,
				  "REG_DWORD needs one number up to 0xffffffff");
			return -EBADMSG;
		}
		rc = winib_reg_set_dword(reg, root, subkey, name, (uint32_t)v);
		break;
	}
	default:
		inf_error(inf, einfo, l->lineno, "unsupported value type in flags 0x%08x", flags);
		return -EBADMSG;
	}
check:
	if (rc < 0) {
		inf_error(inf, einfo, l->lineno, "%s", reg_errtext(rc));
		return rc == -ENOMEM ? -ENOMEM : -EBADMSG;
	}
	return 0;
}

int winib_inf_apply_addreg(struct winib_inf *inf, const char *section, struct winib_reg *reg,
			   struct winib_inf_error *einfo)
{
	const struct inf_section *sec = section_find(inf, section, winib_strlen(section));
	const struct inf_line *l;
	int n = 0;

	if (sec == NULL) {
		inf_error(inf, einfo, 0, "no section [%s]", section);
		return -ENOENT;
	}
	for (l = sec->lines; l != NULL; l = l->next) {
		int rc = apply_line(inf, l, reg, einfo);

		if (rc < 0)
			return rc;
		n++;
	}
	return n;
}

int winib_inf_apply_install(struct winib_inf *inf, const char *install, struct winib_reg *reg,
			    struct winib_inf_error *einfo)
{
	const struct inf_section *sec = section_find(inf, install, winib_strlen(install));
	const struct inf_line *l;
	char *names;
	int total = 0, rc = 0;

	if (sec == NULL) {
		inf_error(inf, einfo, 0, "no section [%s]", install);
		return -ENOENT;
	}
	/* Section names are copied out of inf->work: applying reuses it. */
	names = winib_alloc(inf->env, INF_MAX_LINE);
	if (names == NULL)
		return -ENOMEM;
	for (l = sec->lines; l != NULL && rc >= 0; l = l->next) {
		const char *eq = find_eq(l->text), *key = l->text;
		size_t klen, i;
		struct inf_fields fl;

		if (eq == NULL)
			continue;
		klen = (size_t)(eq - key);
		trim_span(&key, &klen);
		if (klen != 6 || winib_strncasecmp(key, "AddReg", 6) != 0)
			continue;
		rc = split_fields(inf, eq + 1, true, &fl, l->lineno, einfo);
		if (rc < 0)
			break;
		winib_memcpy(names, inf->work, INF_MAX_LINE);
		for (i = 0; i < fl.n; i++) {
			const char *name = names + (fl.f[i] - inf->work);

			if (name[0] == '\0')
				continue;
			if (section_find(inf, name, winib_strlen(name)) == NULL) {
				inf_error(inf, einfo, l->lineno, "AddReg section [%s] not found",
					  name);
				rc = -EBADMSG;
				break;
			}
			rc = winib_inf_apply_addreg(inf, name, reg, einfo);
			if (rc < 0)
				break;
			total += rc;
		}
	}
	winib_free(inf->env, names);
	return rc < 0 ? rc : total;
}
