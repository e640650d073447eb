/* SPDX-License-Identifier: MIT */
/*
 * pdo.c - IRP_MJ_PNP and IRP_MJ_POWER for the child PDOs. The answers come
 * from the core (winib_child_query_*); the glue only puts them in pool
 * buffers the PnP manager frees, and maps the core's verdicts to NTSTATUS.
 */
#include "winib_wdm.h"

/* {3a6c1f0e-5b8d-4f53-9a0e-6e1d2c7b9f41}: bus type reported for children. */
static const GUID winib_bus_type = {
	0x3a6c1f0e, 0x5b8d, 0x4f53, { 0x9a, 0x0e, 0x6e, 0x1d, 0x2c, 0x7b, 0x9f, 0x41 }
};

/* Size, allocate (paged pool, freed by PnP) and fill a wide answer. */
static NTSTATUS answer(struct wdm_pdo *pe, bool is_text, int type, PIRP irp)
{
	int units, got;
	uint16_t *buf;

	units = is_text ? winib_child_query_text_w(pe->child, (enum winib_text_type)type, NULL, 0)
			: winib_child_query_id_w(pe->child, (enum winib_id_type)type, NULL, 0);
	if (units == -ENOENT || units == -EINVAL)
		return irp->IoStatus.Status; /* nothing to say: leave it as it came */
	if (units < 0)
		return wdm_status(units);
	buf = ExAllocatePoolWithTag(PagedPool, (SIZE_T)units * sizeof(uint16_t), WINIB_POOL_TAG);
	if (buf == NULL)
		return STATUS_INSUFFICIENT_RESOURCES;
	got = is_text ? winib_child_query_text_w(pe->child, (enum winib_text_type)type, buf,
						  (size_t)units)
		      : winib_child_query_id_w(pe->child, (enum winib_id_type)type, buf,
						(size_t)units);
	if (got != units) {
		ExFreePoolWithTag(buf, WINIB_POOL_TAG);
		return got < 0 ? wdm_status(got) : STATUS_INTERNAL_ERROR;
	}
	irp->IoStatus.Information = (ULONG_PTR)buf;
	return STATUS_SUCCESS;
}

static NTSTATUS query_id(struct wdm_pdo *pe, PIRP irp, PIO_STACK_LOCATION sp)
{
	switch (sp->Parameters.QueryId.IdType) {
	case BusQueryDeviceID:
		return answer(pe, false, WINIB_ID_DEVICE, irp);
	case BusQueryHardwareIDs:
		return answer(pe, false, WINIB_ID_HARDWARE, irp);
	case BusQueryCompatibleIDs:
		return answer(pe, false, WINIB_ID_COMPATIBLE, irp);
	case BusQueryInstanceID:
		return answer(pe, false, WINIB_ID_INSTANCE, irp);
	default:
		return irp->IoStatus.Status;
	}
}

static NTSTATUS query_text(struct wdm_pdo *pe, PIRP irp, PIO_STACK_LOCATION sp)
{
	switch (sp->Parameters.QueryDeviceText.DeviceTextType) {
	case DeviceTextDescription:
		return answer(pe, true, WINIB_TEXT_DESCRIPTION, irp);
	case DeviceTextLocationInformation:
		return answer(pe, true, WINIB_TEXT_LOCATION, irp);
	default:
		return irp->IoStatus.Status;
	}
}

static NTSTATUS query_relations(struct wdm_pdo *pe, PIRP irp, PIO_STACK_LOCATION sp)
{
	PDEVICE_RELATIONS rel;

	/* A PDO answers only TargetDeviceRelation: itself. */
	if (sp->Parameters.QueryDeviceRelations.Type != TargetDeviceRelation)
		return irp->IoStatus.Status;
	rel = ExAllocatePoolWithTag(PagedPool, sizeof(*rel), WINIB_POOL_TAG);
	if (rel == NULL)
		return STATUS_INSUFFICIENT_RESOURCES;
	rel->Count = 1;
	rel->Objects[0] = pe->common.self;
	ObReferenceObject(pe->common.self);
	irp->IoStatus.Information = (ULONG_PTR)rel;
	return STATUS_SUCCESS;
}

static NTSTATUS query_capabilities(struct wdm_pdo *pe, PIO_STACK_LOCATION sp)
{
	PDEVICE_CAPABILITIES caps = sp->Parameters.DeviceCapabilities.Capabilities;
	int i;

	if (caps->Version != 1 || caps->Size < sizeof(DEVICE_CAPABILITIES))
		return STATUS_UNSUCCESSFUL;
	/* Instance IDs are unique among this bus's children, not system-wide. */
	caps->UniqueID = FALSE;
	caps->SilentInstall = TRUE;
	caps->RawDeviceOK = FALSE;
	caps->Removable = FALSE;
	/* A port can go away under a child at any time. */
	caps->SurpriseRemovalOK = TRUE;
	caps->LockSupported = FALSE;
	caps->EjectSupported = FALSE;
	caps->DeviceD1 = FALSE;
	caps->DeviceD2 = FALSE;
	caps->WakeFromD0 = FALSE;
	caps->Address = pe->child->port_num;
	caps->UINumber = pe->child->port_num;
	caps->DeviceState[PowerSystemWorking] = PowerDeviceD0;
	for (i = PowerSystemSleeping1; i < PowerSystemMaximum; i++)
		caps->DeviceState[i] = PowerDeviceD3;
	caps->SystemWake = PowerSystemUnspecified;
	caps->DeviceWake = PowerDeviceUnspecified;
	return STATUS_SUCCESS;
}

static NTSTATUS query_bus_info(PIRP irp)
{
	PPNP_BUS_INFORMATION bi = ExAllocatePoolWithTag(PagedPool, sizeof(*bi), WINIB_POOL_TAG);

	if (bi == NULL)
		return STATUS_INSUFFICIENT_RESOURCES;
	bi->BusTypeGuid = winib_bus_type;
	bi->LegacyBusType = PNPBus;
	bi->BusNumber = 0;
	irp->IoStatus.Information = (ULONG_PTR)bi;
	return STATUS_SUCCESS;
}

/* A child on the paging, hibernation, dump or boot path switches the bus
 * into the matching special mode for as long as it stays there. */
static NTSTATUS usage_notification(struct wdm_pdo *pe, PIO_STACK_LOCATION sp)
{
	struct wdm_fdo *fdo = pe->fdo;
	enum wdm_path path;

	switch (sp->Parameters.UsageNotification.Type) {
	case DeviceUsageTypePaging:
		path = WDM_PATH_PAGING;
		break;
	case DeviceUsageTypeHibernation:
		path = WDM_PATH_HIBERNATION;
		break;
	case DeviceUsageTypeDumpFile:
		path = WDM_PATH_DUMP;
		break;
	case DeviceUsageTypeBoot:
		path = WDM_PATH_BOOT;
		break;
	default:
		return STATUS_NOT_SUPPORTED;
	}
	if (sp->Parameters.UsageNotification.InPath)
		InterlockedIncrement(&fdo->path_count[path]);
	else if (fdo->path_count[path] > 0)
		InterlockedDecrement(&fdo->path_count[path]);
	wdm_update_mode(fdo);
	return STATUS_SUCCESS;
}

NTSTATUS wdm_pdo_pnp(struct wdm_pdo *pe, PIRP irp)
{
	PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(irp);
	NTSTATUS st;
	int rc;

	switch (sp->MinorFunction) {
	case IRP_MN_START_DEVICE:
		rc = winib_child_start(pe->child);
		st = rc == 0 ? STATUS_SUCCESS : wdm_status(rc);
		break;
	case IRP_MN_QUERY_STOP_DEVICE:
	case IRP_MN_CANCEL_STOP_DEVICE:
	case IRP_MN_STOP_DEVICE:
	case IRP_MN_QUERY_REMOVE_DEVICE:
	case IRP_MN_CANCEL_REMOVE_DEVICE:
	case IRP_MN_SURPRISE_REMOVAL:
		st = STATUS_SUCCESS;
		break;
	case IRP_MN_REMOVE_DEVICE: {
		PDEVICE_OBJECT self = pe->common.self;

		/* Gone from the bus: the core frees the child, we the PDO.
		 * Still on the bus: the PDO stays for the next start. */
		if (winib_child_remove(pe->child) == WINIB_REMOVE_DELETE_PDO) {
			irp->IoStatus.Status = STATUS_SUCCESS;
			IoCompleteRequest(irp, IO_NO_INCREMENT);
			IoDeleteDevice(self);
			return STATUS_SUCCESS;
		}
		st = STATUS_SUCCESS;
		break;
	}
	case IRP_MN_QUERY_ID:
		st = query_id(pe, irp, sp);
		break;
	case IRP_MN_QUERY_DEVICE_TEXT:
		st = query_text(pe, irp, sp);
		break;
	case IRP_MN_QUERY_DEVICE_RELATIONS:
		st = query_relations(pe, irp, sp);
		break;
	case IRP_MN_QUERY_CAPABILITIES:
		st = query_capabilities(pe, sp);
		break;
	case IRP_MN_QUERY_BUS_INFORMATION:
		st = query_bus_info(irp);
		break;
	case IRP_MN_DEVICE_USAGE_NOTIFICATION:
		st = usage_notification(pe, sp);
		break;
	default:
		/* Not ours to answer (resources, interfaces...): leave as is. */
		st = irp->IoStatus.Status;
		break;
	}
	irp->IoStatus.Status = st;
	IoCompleteRequest(irp, IO_NO_INCREMENT);
	return st;
}

NTSTATUS wdm_pdo_power(struct wdm_pdo *pe, PIRP irp)
{
	PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(irp);
	NTSTATUS st = irp->IoStatus.Status;

	(void)pe;
	/* No hardware behind a child: every state change just succeeds. */
	if (sp->MinorFunction == IRP_MN_SET_POWER || sp->MinorFunction == IRP_MN_QUERY_POWER)
		st = STATUS_SUCCESS;
	PoStartNextPowerIrp(irp);
	irp->IoStatus.Status = st;
	IoCompleteRequest(irp, IO_NO_INCREMENT);
	return st;
}
