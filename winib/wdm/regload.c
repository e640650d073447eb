/* SPDX-License-Identifier: MIT */
/*
 * regload.c - copy HKR\Parameters (the bus device's driver key, where the
 * INF's AddReg lines landed) into the core's registry model: StaticChild
 * and, for IPoIB and every listed child, the five per-child values.
 */
#include "winib_wdm.h"

static const char *const child_values[] = {
	"DeviceId", "HardwareId", "CompatibleId", "Description", "PartitionKey",
};

/* ASCII/UTF-8 name to a counted wide string in buf (cap units). */
static NTSTATUS make_name(const char *name, WCHAR *buf, size_t cap, UNICODE_STRING *us)
{
	int n = winib_utf8_to_utf16(name, winib_strlen(name), (uint16_t *)buf, cap);

	if (n < 0)
		return STATUS_OBJECT_NAME_INVALID;
	us->Buffer = buf;
	us->Length = (USHORT)((size_t)n * sizeof(WCHAR));
	us->MaximumLength = (USHORT)(cap * sizeof(WCHAR));
	return STATUS_SUCCESS;
}

static NTSTATUS open_subkey(HANDLE parent, const char *name, HANDLE *out)
{
	WCHAR buf[WINIB_NAME_MAX];
	UNICODE_STRING us;
	OBJECT_ATTRIBUTES oa;
	NTSTATUS st;

	st = make_name(name, buf, WINIB_ARRAY_SIZE(buf), &us);
	if (!NT_SUCCESS(st))
		return st;
	InitializeObjectAttributes(&oa, &us, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, parent,
				   NULL);
	return ZwOpenKey(out, KEY_READ, &oa);
}

/*
 * UTF-16 multi-string to a well-formed UTF-8 one: empty strings dropped,
 * final double NUL guaranteed. Returns bytes, or a negative errno.
 */
static int multi_to_utf8(const uint16_t *w, size_t units, char *out, size_t cap)
{
	size_t i = 0, o = 0;

	while (i < units) {
		size_t start = i;

		while (i < units && w[i] != 0)
			i++;
		if (i > start) {
			int n = winib_utf16_to_utf8(w + start, i - start, out + o, cap - o - 1);
			if (n < 0)
				return n;
			o += (size_t)n;
			if (o + 1 >= cap)
				return -E2BIG;
			out[o++] = '\0';
		}
		i++;
	}
	out[o++] = '\0';
	return (int)o;
}

/* A value the core cannot hold (too big, bad text) is left out with a log
 * line, as if absent: one bad optional value must not stop the whole bus. */
static void skip_value(const char *path, const char *vname, const char *why)
{
	DbgPrintEx(DPFLTR_IHVBUS_ID, DPFLTR_WARNING_LEVEL, "winib: HKR\\%s\\%s ignored: %s\n",
		   path, vname, why);
}

static NTSTATUS read_value(HANDLE key, const char *path, const char *vname,
			   struct winib_reg *reg)
{
	WCHAR wname[32];
	UNICODE_STRING us;
	PKEY_VALUE_PARTIAL_INFORMATION info;
	ULONG need = 0;
	char *text = NULL;
	size_t units;
	NTSTATUS st;
	int n, rc = 0;

	st = make_name(vname, wname, WINIB_ARRAY_SIZE(wname), &us);
	if (!NT_SUCCESS(st))
		return st;
	st = ZwQueryValueKey(key, &us, KeyValuePartialInformation, NULL, 0, &need);
	if (st == STATUS_OBJECT_NAME_NOT_FOUND)
		return STATUS_SUCCESS; /* absent: the core applies its default */
	if (st != STATUS_BUFFER_TOO_SMALL && st != STATUS_BUFFER_OVERFLOW)
		return st;
	if (need > 2u * (size_t)WINIB_REG_MAX_DATA + sizeof(*info)) {
		skip_value(path, vname, "larger than the bus reads");
		return STATUS_SUCCESS;
	}
	info = ExAllocatePoolWithTag(PagedPool, need, WINIB_POOL_TAG);
	if (info == NULL)
		return STATUS_INSUFFICIENT_RESOURCES;
	st = ZwQueryValueKey(key, &us, KeyValuePartialInformation, info, need, &need);
	if (!NT_SUCCESS(st))
		goto out_info;
	units = info->DataLength / sizeof(uint16_t);
	switch (info->Type) {
	case REG_SZ:
	case REG_EXPAND_SZ:
	case REG_MULTI_SZ:
		text = ExAllocatePoolWithTag(PagedPool, WINIB_REG_MAX_DATA, WINIB_POOL_TAG);
		if (text == NULL) {
			st = STATUS_INSUFFICIENT_RESOURCES;
			goto out_info;
		}
		n = multi_to_utf8((const uint16_t *)info->Data, units, text, WINIB_REG_MAX_DATA);
		if (n < 0) {
			rc = n;
		} else if (info->Type == REG_MULTI_SZ) {
			rc = winib_reg_set_multi(reg, WINIB_HKR, path, vname, text, (size_t)n);
		} else {
			/* A string value: its first string (data past a NUL is ignored). */
			rc = winib_reg_set_string(reg, WINIB_HKR, path, vname,
						  info->Type == REG_SZ ? WINIB_REG_SZ :
									 WINIB_REG_EXPAND_SZ, text);
		}
		break;
	case REG_DWORD:
		if (info->DataLength >= sizeof(ULONG))
			rc = winib_reg_set_dword(reg, WINIB_HKR, path, vname,
						 *(const ULONG *)info->Data);
		break;
	default:
		break; /* types the bus never reads: the core reports the name missing */
	}
	if (rc == -ENOMEM)
		st = STATUS_INSUFFICIENT_RESOURCES;
	else if (rc < 0)
		skip_value(path, vname, rc == -EILSEQ ? "not valid UTF-16" : "malformed or too long");
	if (text != NULL)
		ExFreePoolWithTag(text, WINIB_POOL_TAG);
out_info:
	ExFreePoolWithTag(info, WINIB_POOL_TAG);
	return st;
}

static NTSTATUS read_child(HANDLE params, const char *name, struct winib_reg *reg)
{
	char path[16 + WINIB_NAME_MAX];
	HANDLE key;
	NTSTATUS st = STATUS_SUCCESS;
	size_t i;

	if (winib_strnlen(name, WINIB_NAME_MAX) >= WINIB_NAME_MAX)
		return STATUS_SUCCESS; /* the core logs and skips such a name */
	if (!NT_SUCCESS(open_subkey(params, name, &key)))
		return STATUS_SUCCESS; /* no subkey: the core logs the missing DeviceId */
	(void)winib_fmt(path, sizeof(path), "Parameters\\%s", name);
	for (i = 0; i < WINIB_ARRAY_SIZE(child_values) && NT_SUCCESS(st); i++)
		st = read_value(key, path, child_values[i], reg);
	ZwClose(key);
	return st;
}

NTSTATUS wdm_load_registry(PDEVICE_OBJECT pdo, struct winib_reg *reg)
{
	const struct winib_reg_value *sc;
	HANDLE drv, params;
	NTSTATUS st;

	st = IoOpenDeviceRegistryKey(pdo, PLUGPLAY_REGKEY_DRIVER, KEY_READ, &drv);
	if (!NT_SUCCESS(st))
		return st;
	st = open_subkey(drv, "Parameters", &params);
	if (st == STATUS_OBJECT_NAME_NOT_FOUND) {
		st = STATUS_SUCCESS; /* nothing configured: IPoIB alone */
		goto out_drv;
	}
	if (!NT_SUCCESS(st))
		goto out_drv;
	st = read_value(params, "Parameters", "StaticChild", reg);
	if (NT_SUCCESS(st))
		st = read_child(params, "IPoIB", reg);
	sc = winib_reg_get(reg, WINIB_HKR, "Parameters", "StaticChild");
	if (NT_SUCCESS(st) && sc != NULL && sc->type != WINIB_REG_DWORD) {
		size_t pos = 0;
		const char *name;
		/* A REG_SZ is a one-entry list: its data is one string and a NUL. */
		size_t len = sc->len;

		while (NT_SUCCESS(st) && (name = winib_multi_next(sc->data, len, &pos)) != NULL)
			st = read_child(params, name, reg);
	}
	ZwClose(params);
out_drv:
	ZwClose(drv);
	return st;
}
