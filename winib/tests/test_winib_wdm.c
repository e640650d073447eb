/* SPDX-License-Identifier: MIT */
/*
 * test_winib_wdm.c - the WDM glue itself (wdm/driver.c, pdo.c, regload.c)
 * run on Linux over a fake kernel (fakewdm/ntddk.h, fake_wdm.c), the way
 * the PnP manager would drive it: DriverEntry, AddDevice, START_DEVICE
 * reading the registry, port IOCTLs, BusRelations, the child PDOs' IRPs,
 * P_Key and port removal, special modes, and FDO removal with no leaks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_wdm.h"
#include "winib_ioctl.h"
#include "winib_wdm.h"

DRIVER_INITIALIZE DriverEntry;

#define GUID1 WINIB_U64(0x0002c90300a1b2c1)
#define GUID2 WINIB_U64(0x0002c90300a1b2c2)

static DRIVER_EXTENSION drv_ext;

/* WDM returns buffers in the ULONG_PTR Information field. */
static void *info_ptr(ULONG_PTR v)
{
	return (void *)v; /* NOLINT(performance-no-int-to-ptr) */
}
static DRIVER_OBJECT drv;

/* The issue's stanza, as the INF's AddReg lines leave it in the registry. */
static void registry_from_issue(void)
{
	fake_reg_sz("Parameters", "StaticChild", "XsigoBus");
	fake_reg_sz("Parameters\\IPoIB", "DeviceId", "IBA\\IPoIB");
	fake_reg_sz("Parameters\\IPoIB", "CompatibleId", "IBA\\SID_1000066a00020000");
	fake_reg_sz("Parameters\\IPoIB", "HardwareId", "IBA\\IPoIB");
	fake_reg_sz("Parameters\\IPoIB", "Description", "OpenIB IPoIB Adapter");
	fake_reg_sz("Parameters\\XsigoBus", "DeviceId", "IBA\\XsigoBus");
	fake_reg_sz("Parameters\\XsigoBus", "CompatibleId", "IBA\\SID_0000000002139702");
	fake_reg_sz("Parameters\\XsigoBus", "HardwareId", "IBA\\XsigoBus");
	fake_reg_sz("Parameters\\XsigoBus", "Description", "Xsigo Virtual Bus");
}

static NTSTATUS send(PDEVICE_OBJECT dev, UCHAR major, UCHAR minor, IRP *irp)
{
	irp->stack.MajorFunction = major;
	irp->stack.MinorFunction = minor;
	return drv.MajorFunction[major](dev, irp);
}

static NTSTATUS pnp(PDEVICE_OBJECT dev, UCHAR minor)
{
	IRP irp;

	memset(&irp, 0, sizeof(irp));
	irp.IoStatus.Status = STATUS_NOT_SUPPORTED;
	return send(dev, IRP_MJ_PNP, minor, &irp);
}

static NTSTATUS ioctl(PDEVICE_OBJECT fdo, ULONG code, void *buf, ULONG len)
{
	IRP irp;
	NTSTATUS st;

	memset(&irp, 0, sizeof(irp));
	irp.AssociatedIrp.SystemBuffer = buf;
	irp.stack.Parameters.DeviceIoControl.IoControlCode = code;
	irp.stack.Parameters.DeviceIoControl.InputBufferLength = len;
	st = send(fdo, IRP_MJ_DEVICE_CONTROL, 0, &irp);
	assert_int_equal(irp.completed, 1);
	assert_int_equal(irp.IoStatus.Status, st);
	return st;
}

static NTSTATUS port_ioctl(PDEVICE_OBJECT fdo, ULONG code, uint64_t guid, uint8_t num)
{
	struct winib_ioctl_port p;

	memset(&p, 0, sizeof(p));
	p.port_guid = guid;
	p.port_num = num;
	return ioctl(fdo, code, &p, sizeof(p));
}

static NTSTATUS pkey_ioctl(PDEVICE_OBJECT fdo, ULONG code, const char *child, uint64_t guid,
			   uint16_t pkey, const char *name)
{
	struct winib_ioctl_pkey p;

	memset(&p, 0, sizeof(p));
	p.port_guid = guid;
	p.pkey = pkey;
	(void)snprintf(p.child, sizeof(p.child), "%s", child);
	(void)snprintf(p.name, sizeof(p.name), "%s", name);
	return ioctl(fdo, code, &p, sizeof(p));
}

/* BusRelations on the FDO, as PnP asks: returns the PDOs (caller frees). */
static PDEVICE_RELATIONS bus_relations(PDEVICE_OBJECT fdo)
{
	IRP irp;
	NTSTATUS st;

	memset(&irp, 0, sizeof(irp));
	irp.IoStatus.Status = STATUS_NOT_SUPPORTED;
	irp.stack.Parameters.QueryDeviceRelations.Type = BusRelations;
	st = send(fdo, IRP_MJ_PNP, IRP_MN_QUERY_DEVICE_RELATIONS, &irp);
	assert_int_equal(st, STATUS_SUCCESS);
	assert_int_equal(irp.passed_down, 1); /* an FDO passes PnP IRPs down */
	return info_ptr(irp.IoStatus.Information);
}

/* UTF-16 pool answer to ASCII with NULs kept; returns bytes; frees the buffer. */
static int take_wide(ULONG_PTR info, char *out, size_t cap, bool multi)
{
	const WCHAR *w = info_ptr(info);
	size_t i = 0;

	for (;;) {
		assert_true(i < cap);
		assert_true(w[i] < 0x80);
		out[i] = (char)w[i];
		if (w[i] == 0 && (!multi || (i > 0 && w[i - 1] == 0)))
			break;
		i++;
	}
	ExFreePool(info_ptr(info));
	return (int)i + 1;
}

static int query_id(PDEVICE_OBJECT pdo, BUS_QUERY_ID_TYPE t, char *out, size_t cap)
{
	IRP irp;
	NTSTATUS st;

	memset(&irp, 0, sizeof(irp));
	irp.IoStatus.Status = STATUS_NOT_SUPPORTED;
	irp.stack.Parameters.QueryId.IdType = t;
	st = send(pdo, IRP_MJ_PNP, IRP_MN_QUERY_ID, &irp);
	assert_int_equal(irp.completed, 1);
	assert_int_equal(irp.passed_down, 0); /* a PDO completes its IRPs */
	if (st != STATUS_SUCCESS)
		return -1;
	return take_wide(irp.IoStatus.Information, out, cap,
			 t == BusQueryHardwareIDs || t == BusQueryCompatibleIDs);
}

static void query_text(PDEVICE_OBJECT pdo, DEVICE_TEXT_TYPE t, char *out, size_t cap)
{
	IRP irp;

	memset(&irp, 0, sizeof(irp));
	irp.IoStatus.Status = STATUS_NOT_SUPPORTED;
	irp.stack.Parameters.QueryDeviceText.DeviceTextType = t;
	assert_int_equal(send(pdo, IRP_MJ_PNP, IRP_MN_QUERY_DEVICE_TEXT, &irp), STATUS_SUCCESS);
	(void)take_wide(irp.IoStatus.Information, out, cap, false);
}

/* Find the PDO whose DeviceID\InstanceID is path. */
static PDEVICE_OBJECT find_pdo(PDEVICE_RELATIONS rel, const char *path)
{
	ULONG i;

	for (i = 0; i < rel->Count; i++) {
		char dev[256], inst[64], full[320];

		assert_true(query_id(rel->Objects[i], BusQueryDeviceID, dev, sizeof(dev)) > 0);
		assert_true(query_id(rel->Objects[i], BusQueryInstanceID, inst, sizeof(inst)) > 0);
		(void)snprintf(full, sizeof(full), "%s\\%s", dev, inst);
		if (strcmp(full, path) == 0)
			return rel->Objects[i];
	}
	return NULL;
}

/* What the PnP manager does with a relations answer it has processed. */
static void drop_relations(PDEVICE_RELATIONS rel)
{
	ULONG i;

	for (i = 0; i < rel->Count; i++)
		rel->Objects[i]->ReferenceCount--;
	ExFreePool(rel);
}

static PDEVICE_OBJECT bring_up(void)
{
	PDEVICE_OBJECT fdo;

	drv.DriverExtension = &drv_ext;
	assert_int_equal(DriverEntry(&drv, NULL), STATUS_SUCCESS);
	assert_non_null(drv.MajorFunction[IRP_MJ_PNP]);
	assert_non_null(drv.DriverUnload);
	assert_int_equal(drv_ext.AddDevice(&drv, &fake.root_pdo), STATUS_SUCCESS);
	fdo = fake.last_created;
	assert_int_equal(fdo->Flags & DO_DEVICE_INITIALIZING, 0);
	assert_non_null(fake.bugcheck);
	/* Before START the bus is not there: control requests wait. */
	assert_int_equal(port_ioctl(fdo, WINIB_IOCTL_PORT_ADD, GUID1, 1), STATUS_DEVICE_NOT_READY);
	assert_int_equal(pnp(fdo, IRP_MN_START_DEVICE), STATUS_SUCCESS);
	assert_int_equal(fake.keys_open, 0);
	assert_true(fake.interface_on);
	return fdo;
}

static void tear_down(PDEVICE_OBJECT fdo)
{
	assert_int_equal(pnp(fdo, IRP_MN_REMOVE_DEVICE), STATUS_SUCCESS);
	assert_null(fake.bugcheck);
	assert_false(fake.interface_on);
	/* Every device object deleted, every pool block and key handle back. */
	assert_int_equal(fake.devices_created, fake.devices_deleted);
	assert_int_equal(fake.pool_live, 0);
	assert_int_equal(fake.keys_open, 0);
}

static void test_glue_issue_stanza(void **state)
{
	PDEVICE_OBJECT fdo, pdo, gone;
	PDEVICE_RELATIONS rel;
	char buf[256];
	IRP irp;
	DEVICE_CAPABILITIES caps;
	unsigned long deleted;

	(void)state;
	fake_reset();
	registry_from_issue();
	fdo = bring_up();
	assert_int_equal(port_ioctl(fdo, WINIB_IOCTL_PORT_ADD, GUID1, 1), STATUS_SUCCESS);
	assert_int_equal(port_ioctl(fdo, WINIB_IOCTL_PORT_ADD, GUID2, 2), STATUS_SUCCESS);
	assert_int_equal(fake.invalidations, 2);
	assert_int_equal(port_ioctl(fdo, WINIB_IOCTL_PORT_ADD, GUID2, 2),
			 STATUS_OBJECT_NAME_COLLISION);

	rel = bus_relations(fdo);
	assert_int_equal(rel->Count, 4);
	assert_int_equal(rel->Objects[0]->ReferenceCount, 1);
	pdo = find_pdo(rel, "IBA\\XsigoBus\\0002c90300a1b2c2_ffff");
	assert_non_null(pdo);
	assert_int_equal(pdo->Flags & DO_DEVICE_INITIALIZING, 0);
	assert_int_equal(query_id(pdo, BusQueryHardwareIDs, buf, sizeof(buf)), 14);
	assert_memory_equal(buf, "IBA\\XsigoBus\0", 14);
	assert_int_equal(query_id(pdo, BusQueryCompatibleIDs, buf, sizeof(buf)), 26);
	assert_memory_equal(buf, "IBA\\SID_0000000002139702\0", 26);
	assert_int_equal(query_id(pdo, BusQueryDeviceSerialNumber, buf, sizeof(buf)), -1);
	query_text(pdo, DeviceTextDescription, buf, sizeof(buf));
	assert_string_equal(buf, "Xsigo Virtual Bus");
	query_text(pdo, DeviceTextLocationInformation, buf, sizeof(buf));
	assert_string_equal(buf, "IB port 2, GUID 0002c90300a1b2c2, P_Key 0xffff");
	pdo = find_pdo(rel, "IBA\\IPoIB\\0002c90300a1b2c1_ffff");
	assert_non_null(pdo);
	assert_int_equal(query_id(pdo, BusQueryCompatibleIDs, buf, sizeof(buf)), 26);
	assert_memory_equal(buf, "IBA\\SID_1000066a00020000\0", 26);

	memset(&caps, 0, sizeof(caps));
	caps.Version = 1;
	caps.Size = sizeof(caps);
	memset(&irp, 0, sizeof(irp));
	irp.stack.Parameters.DeviceCapabilities.Capabilities = &caps;
	assert_int_equal(send(pdo, IRP_MJ_PNP, IRP_MN_QUERY_CAPABILITIES, &irp), STATUS_SUCCESS);
	assert_int_equal(caps.SurpriseRemovalOK, 1);
	assert_int_equal(caps.UniqueID, 0);
	assert_int_equal(caps.Address, 1);
	assert_int_equal(caps.DeviceState[PowerSystemWorking], PowerDeviceD0);
	assert_int_equal(caps.DeviceState[PowerSystemHibernate], PowerDeviceD3);

	memset(&irp, 0, sizeof(irp));
	irp.stack.Parameters.QueryDeviceRelations.Type = TargetDeviceRelation;
	assert_int_equal(send(pdo, IRP_MJ_PNP, IRP_MN_QUERY_DEVICE_RELATIONS, &irp),
			 STATUS_SUCCESS);
	{
		PDEVICE_RELATIONS t = info_ptr(irp.IoStatus.Information);

		assert_int_equal(t->Count, 1);
		assert_ptr_equal(t->Objects[0], pdo);
		pdo->ReferenceCount--;
		ExFreePool(t);
	}
	memset(&irp, 0, sizeof(irp));
	assert_int_equal(send(pdo, IRP_MJ_PNP, IRP_MN_QUERY_BUS_INFORMATION, &irp),
			 STATUS_SUCCESS);
	{
		PPNP_BUS_INFORMATION bi = info_ptr(irp.IoStatus.Information);

		assert_int_equal(bi->LegacyBusType, PNPBus);
		ExFreePool(bi);
	}
	for (ULONG i = 0; i < rel->Count; i++)
		assert_int_equal(pnp(rel->Objects[i], IRP_MN_START_DEVICE), STATUS_SUCCESS);
	drop_relations(rel);

	/* Run-time P_Key child: appears, then goes; PnP's REMOVE deletes its PDO. */
	assert_int_equal(pkey_ioctl(fdo, WINIB_IOCTL_PKEY_ADD, "IPoIB", GUID1, 0x8001, "storage"),
			 STATUS_SUCCESS);
	assert_int_equal(pkey_ioctl(fdo, WINIB_IOCTL_PKEY_ADD, "IPoIB", GUID1, 0x0001, ""),
			 STATUS_OBJECT_NAME_COLLISION);
	assert_int_equal(pkey_ioctl(fdo, WINIB_IOCTL_PKEY_ADD, "Nope", GUID1, 0x0002, ""),
			 STATUS_NOT_FOUND);
	rel = bus_relations(fdo);
	assert_int_equal(rel->Count, 5);
	gone = find_pdo(rel, "IBA\\IPoIB\\0002c90300a1b2c1_8001");
	assert_non_null(gone);
	query_text(gone, DeviceTextDescription, buf, sizeof(buf));
	assert_string_equal(buf, "OpenIB IPoIB Adapter (P_Key 0x8001, storage)");
	assert_int_equal(pnp(gone, IRP_MN_START_DEVICE), STATUS_SUCCESS);
	drop_relations(rel);
	assert_int_equal(pkey_ioctl(fdo, WINIB_IOCTL_PKEY_REMOVE, "IPoIB", GUID1, 0x8001, ""),
			 STATUS_SUCCESS);
	rel = bus_relations(fdo);
	assert_int_equal(rel->Count, 4);
	assert_null(find_pdo(rel, "IBA\\IPoIB\\0002c90300a1b2c1_8001"));
	drop_relations(rel);
	deleted = fake.devices_deleted;
	assert_int_equal(pnp(gone, IRP_MN_SURPRISE_REMOVAL), STATUS_SUCCESS);
	assert_int_equal(pnp(gone, IRP_MN_REMOVE_DEVICE), STATUS_SUCCESS);
	assert_int_equal(fake.devices_deleted, deleted + 1);

	/* A child still on the bus keeps its PDO through REMOVE_DEVICE. */
	assert_int_equal(pnp(pdo, IRP_MN_REMOVE_DEVICE), STATUS_SUCCESS);
	assert_int_equal(fake.devices_deleted, deleted + 1);
	assert_int_equal(pnp(pdo, IRP_MN_START_DEVICE), STATUS_SUCCESS);

	/* Port 2 leaves: its two PDOs are removed and deleted. */
	assert_int_equal(port_ioctl(fdo, WINIB_IOCTL_PORT_REMOVE, GUID2, 0), STATUS_SUCCESS);
	assert_int_equal(port_ioctl(fdo, WINIB_IOCTL_PORT_REMOVE, GUID2, 0), STATUS_NOT_FOUND);
	rel = bus_relations(fdo);
	assert_int_equal(rel->Count, 2);
	drop_relations(rel);

	/* Bad requests. */
	{
		struct winib_ioctl_port p = { 0 };

		assert_int_equal(ioctl(fdo, WINIB_IOCTL_PORT_ADD, &p, sizeof(p) - 1),
				 STATUS_BUFFER_TOO_SMALL);
		assert_int_equal(ioctl(fdo, WINIB_IOCTL_PORT_ADD, &p, sizeof(p)),
				 STATUS_INVALID_PARAMETER);
		assert_int_equal(ioctl(fdo, 0x12345, &p, sizeof(p)),
				 STATUS_INVALID_DEVICE_REQUEST);
	}
	tear_down(fdo);
	/* PDOs of port 2 were deleted on FDO removal (PnP never sent them
	 * REMOVE in this test); none is left behind. */
}

static void test_glue_special_modes(void **state)
{
	PDEVICE_OBJECT fdo, pdo;
	PDEVICE_RELATIONS rel;
	struct wdm_fdo *fe;
	unsigned long spins, allocs;
	IRP irp;

	(void)state;
	fake_reset();
	registry_from_issue();
	fdo = bring_up();
	fe = fdo->DeviceExtension;
	assert_int_equal(port_ioctl(fdo, WINIB_IOCTL_PORT_ADD, GUID1, 1), STATUS_SUCCESS);
	rel = bus_relations(fdo);
	pdo = rel->Objects[0];
	drop_relations(rel);

	/* A child on the paging path: boot-device mode until it leaves. */
	memset(&irp, 0, sizeof(irp));
	irp.stack.Parameters.UsageNotification.InPath = TRUE;
	irp.stack.Parameters.UsageNotification.Type = DeviceUsageTypePaging;
	assert_int_equal(send(pdo, IRP_MJ_PNP, IRP_MN_DEVICE_USAGE_NOTIFICATION, &irp),
			 STATUS_SUCCESS);
	assert_int_equal(fe->env.mode, WINIB_MODE_BOOT);
	irp.stack.Parameters.UsageNotification.InPath = FALSE;
	assert_int_equal(send(pdo, IRP_MJ_PNP, IRP_MN_DEVICE_USAGE_NOTIFICATION, &irp),
			 STATUS_SUCCESS);
	assert_int_equal(fe->env.mode, WINIB_MODE_NORMAL);

	/* S4 with PowerActionHibernate: hibernation mode until S0. */
	memset(&irp, 0, sizeof(irp));
	irp.stack.Parameters.Power.Type = SystemPowerState;
	irp.stack.Parameters.Power.State.SystemState = PowerSystemHibernate;
	irp.stack.Parameters.Power.ShutdownType = PowerActionHibernate;
	assert_int_equal(send(fdo, IRP_MJ_POWER, IRP_MN_SET_POWER, &irp), STATUS_SUCCESS);
	assert_int_equal(irp.passed_down, 1);
	assert_int_equal(fe->env.mode, WINIB_MODE_HIBERNATE);
	irp.stack.Parameters.Power.State.SystemState = PowerSystemWorking;
	assert_int_equal(send(fdo, IRP_MJ_POWER, IRP_MN_SET_POWER, &irp), STATUS_SUCCESS);
	assert_int_equal(fe->env.mode, WINIB_MODE_NORMAL);
	memset(&irp, 0, sizeof(irp));
	irp.IoStatus.Status = STATUS_NOT_SUPPORTED;
	assert_int_equal(send(pdo, IRP_MJ_POWER, IRP_MN_SET_POWER, &irp), STATUS_SUCCESS);

	/* Bugcheck at HIGH_LEVEL: counted without a spinlock or an allocation. */
	spins = fake.spins;
	allocs = fake.pool_allocs;
	fake.irql = 15;
	fake.bugcheck->CallbackRoutine(fake.bugcheck->Buffer, fake.bugcheck->Length);
	assert_int_equal(fe->env.mode, WINIB_MODE_CRASHDUMP);
	assert_int_equal(fe->dump_children, 2);
	assert_int_equal(fake.spins, spins);
	assert_int_equal(fake.pool_allocs, allocs);
	assert_true(fe->env.stats.locks_elided >= 1);
	fake.irql = 0;
	fe->in_bugcheck = FALSE; /* a test can come back from a bugcheck */
	wdm_update_mode(fe);
	tear_down(fdo);
}

/* No Parameters key at all: IPoIB alone with the original built-in IDs. */
static void test_glue_empty_registry(void **state)
{
	PDEVICE_OBJECT fdo;
	PDEVICE_RELATIONS rel;
	char buf[128];

	(void)state;
	fake_reset();
	fdo = bring_up();
	assert_int_equal(port_ioctl(fdo, WINIB_IOCTL_PORT_ADD, GUID1, 1), STATUS_SUCCESS);
	rel = bus_relations(fdo);
	assert_int_equal(rel->Count, 1);
	assert_int_equal(query_id(rel->Objects[0], BusQueryDeviceID, buf, sizeof(buf)), 10);
	assert_string_equal(buf, "IBA\\IPoIB");
	query_text(rel->Objects[0], DeviceTextDescription, buf, sizeof(buf));
	assert_string_equal(buf, "OpenIB IPoIB Adapter");
	drop_relations(rel);
	tear_down(fdo);
}

/* REG_MULTI_SZ values read from the (UTF-16) registry; a child without
 * DeviceId skipped; StaticChild naming IPoIB; an oversized value ignored. */
static void test_glue_multi_sz_registry(void **state)
{
	static const char kids[] = "IPoIB\0XsigoBus\0NoId\0";
	static const char hw[] = "IBA\\XsigoBus_v2\0IBA\\XsigoBus\0";
	static char huge[5000];
	PDEVICE_OBJECT fdo, pdo;
	PDEVICE_RELATIONS rel;
	char buf[128];

	(void)state;
	fake_reset();
	fake_reg_multi("Parameters", "StaticChild", kids, sizeof(kids));
	fake_reg_sz("Parameters\\XsigoBus", "DeviceId", "IBA\\XsigoBus");
	fake_reg_multi("Parameters\\XsigoBus", "HardwareId", hw, sizeof(hw));
	fake_reg_sz("Parameters\\NoId", "Description", "nothing else");
	fake_reg_sz("Parameters\\IPoIB", "PartitionKey", "0002c90300a1b2c1:0x8002-b");
	/* Too long to hold: ignored, the child keeps its default text. */
	memset(huge, 'x', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	fake_reg_sz("Parameters\\XsigoBus", "Description", huge);
	fdo = bring_up();
	assert_int_equal(port_ioctl(fdo, WINIB_IOCTL_PORT_ADD, GUID1, 1), STATUS_SUCCESS);
	rel = bus_relations(fdo);
	assert_int_equal(rel->Count, 3);
	pdo = find_pdo(rel, "IBA\\XsigoBus\\0002c90300a1b2c1_ffff");
	assert_non_null(pdo);
	assert_int_equal(query_id(pdo, BusQueryHardwareIDs, buf, sizeof(buf)), 30);
	assert_memory_equal(buf, hw, 30);
	assert_int_equal(query_id(pdo, BusQueryCompatibleIDs, buf, sizeof(buf)), -1);
	query_text(pdo, DeviceTextDescription, buf, sizeof(buf));
	assert_string_equal(buf, "XsigoBus");
	assert_non_null(find_pdo(rel, "IBA\\IPoIB\\0002c90300a1b2c1_8002"));
	drop_relations(rel);
	tear_down(fdo);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_glue_issue_stanza),
		cmocka_unit_test(test_glue_special_modes),
		cmocka_unit_test(test_glue_empty_registry),
		cmocka_unit_test(test_glue_multi_sz_registry),
	};

	return cmocka_run_group_tests_name("winib_wdm_glue", tests, NULL, NULL);
}
