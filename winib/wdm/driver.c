/* SPDX-License-Identifier: MIT */
/*
 * driver.c - DriverEntry, AddDevice, IRP dispatch, and the bus FDO:
 * START_DEVICE loads the child list from the registry into the core,
 * QUERY_DEVICE_RELATIONS turns the core's children into PDOs, the control
 * IOCTLs add and remove ports and P_Keys, and the bugcheck callback and
 * power/usage notifications switch the core's lock policy mode.
 */
#include "winib_wdm.h"
#include "winib_ioctl.h"

DRIVER_INITIALIZE DriverEntry;
static DRIVER_ADD_DEVICE wdm_add_device;
static DRIVER_UNLOAD wdm_unload;
_Dispatch_type_(IRP_MJ_PNP) static DRIVER_DISPATCH wdm_dispatch_pnp;
_Dispatch_type_(IRP_MJ_POWER) static DRIVER_DISPATCH wdm_dispatch_power;
_Dispatch_type_(IRP_MJ_DEVICE_CONTROL) static DRIVER_DISPATCH wdm_dispatch_ioctl;
_Dispatch_type_(IRP_MJ_CREATE) _Dispatch_type_(IRP_MJ_CLOSE)
static DRIVER_DISPATCH wdm_dispatch_create_close;
_Dispatch_type_(IRP_MJ_SYSTEM_CONTROL) static DRIVER_DISPATCH wdm_dispatch_other;
static KBUGCHECK_CALLBACK_ROUTINE wdm_bugcheck;

/* {8fc2c78b-1775-4038-b6f0-d32af3a9ae65}: the bus FDO's control interface. */
static const GUID winib_bus_interface = {
	0x8fc2c78b, 0x1775, 0x4038, { 0xb6, 0xf0, 0xd3, 0x2a, 0xf3, 0xa9, 0xae, 0x65 }
};

static UCHAR bugcheck_component[] = "winib";

/* ---- the core's environment in kernel mode ------------------------------ */

static void *wdm_env_alloc(void *ctx, size_t size)
{
	/* No-execute non-paged pool (Windows 8 and later; what HVCI wants). */
	void *p = ExAllocatePoolWithTag(NonPagedPoolNx, size, WINIB_POOL_TAG);

	(void)ctx;
	if (p != NULL)
		RtlZeroMemory(p, size);
	return p;
}

static void wdm_env_free(void *ctx, void *p)
{
	(void)ctx;
	ExFreePoolWithTag(p, WINIB_POOL_TAG);
}

static void wdm_env_log(void *ctx, enum winib_log_level level, const char *line)
{
	static const ULONG dpfltr[] = { DPFLTR_ERROR_LEVEL, DPFLTR_WARNING_LEVEL,
					DPFLTR_INFO_LEVEL, DPFLTR_TRACE_LEVEL };

	(void)ctx;
	DbgPrintEx(DPFLTR_IHVBUS_ID, dpfltr[(unsigned)level & 3u], "winib: %s\n", line);
}

static unsigned wdm_env_irql(void *ctx)
{
	(void)ctx;
	return KeGetCurrentIrql();
}

static void wdm_env_lock(void *ctx, void *os_lock, unsigned *old_irql)
{
	KIRQL old;

	(void)ctx;
	KeAcquireSpinLock((PKSPIN_LOCK)os_lock, &old);
	*old_irql = old;
}

static void wdm_env_unlock(void *ctx, void *os_lock, unsigned old_irql)
{
	(void)ctx;
	KeReleaseSpinLock((PKSPIN_LOCK)os_lock, (KIRQL)old_irql);
}

const struct winib_env_ops wdm_env_ops = {
	.alloc = wdm_env_alloc,
	.free = wdm_env_free,
	.log = wdm_env_log,
	.irql = wdm_env_irql,
	.lock = wdm_env_lock,
	.unlock = wdm_env_unlock,
};

NTSTATUS wdm_status(int neg_errno)
{
	switch (neg_errno) {
	case 0:
		return STATUS_SUCCESS;
	case -ENOMEM:
		return STATUS_INSUFFICIENT_RESOURCES;
	case -ENOSPC:
		return STATUS_QUOTA_EXCEEDED;
	case -EEXIST:
		return STATUS_OBJECT_NAME_COLLISION;
	case -ENOENT:
		return STATUS_NOT_FOUND;
	case -EBUSY:
		return STATUS_DEVICE_BUSY;
	case -EPERM:
		return STATUS_INVALID_DEVICE_STATE;
	case -ENODEV:
		return STATUS_NO_SUCH_DEVICE;
	default:
		return STATUS_INVALID_PARAMETER;
	}
}

/* Most severe condition wins: bugcheck, hibernation, then the paths. */
void wdm_update_mode(struct wdm_fdo *fdo)
{
	enum winib_mode m = WINIB_MODE_NORMAL;

	if (fdo->in_bugcheck || fdo->path_count[WDM_PATH_DUMP] > 0)
		m = WINIB_MODE_CRASHDUMP;
	else if (fdo->hibernating || fdo->path_count[WDM_PATH_HIBERNATION] > 0)
		m = WINIB_MODE_HIBERNATE;
	else if (fdo->path_count[WDM_PATH_PAGING] > 0 || fdo->path_count[WDM_PATH_BOOT] > 0)
		m = WINIB_MODE_BOOT;
	winib_policy_set_mode(&fdo->env, m);
}

/*
 * Bugcheck: other processors are frozen and we run at HIGH_LEVEL. The core
 * must not spin or allocate; the policy lets it count the children without
 * the lock so the number lands in the dump (fdo->dump_children).
 */
static VOID NTAPI wdm_bugcheck(PVOID buffer, ULONG length)
{
	struct wdm_fdo *fdo = buffer;
	int n;

	if (length < sizeof(*fdo))
		return;
	fdo->in_bugcheck = TRUE;
	wdm_update_mode(fdo);
	n = fdo->bus != NULL ? winib_bus_present_count(fdo->bus) : 0;
	fdo->dump_children = n;
}

/* ---- DriverEntry / AddDevice / Unload ----------------------------------- */

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
	(void)registry_path;
	driver->DriverExtension->AddDevice = wdm_add_device;
	driver->DriverUnload = wdm_unload;
	driver->MajorFunction[IRP_MJ_PNP] = wdm_dispatch_pnp;
	driver->MajorFunction[IRP_MJ_POWER] = wdm_dispatch_power;
	driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = wdm_dispatch_ioctl;
	driver->MajorFunction[IRP_MJ_CREATE] = wdm_dispatch_create_close;
	driver->MajorFunction[IRP_MJ_CLOSE] = wdm_dispatch_create_close;
	driver->MajorFunction[IRP_MJ_SYSTEM_CONTROL] = wdm_dispatch_other;
	return STATUS_SUCCESS;
}

static VOID NTAPI wdm_unload(PDRIVER_OBJECT driver)
{
	/* Every device object is gone by now (PnP removed them first). */
	(void)driver;
}

static NTSTATUS NTAPI wdm_add_device(PDRIVER_OBJECT driver, PDEVICE_OBJECT pdo)
{
	PDEVICE_OBJECT fdo_obj;
	struct wdm_fdo *fdo;
	NTSTATUS st;

	st = IoCreateDevice(driver, sizeof(*fdo), NULL, FILE_DEVICE_BUS_EXTENDER,
			    FILE_DEVICE_SECURE_OPEN, FALSE, &fdo_obj);
	if (!NT_SUCCESS(st))
		return st;
	fdo = fdo_obj->DeviceExtension;
	RtlZeroMemory(fdo, sizeof(*fdo));
	fdo->common.is_fdo = TRUE;
	fdo->common.self = fdo_obj;
	fdo->pdo = pdo;
	KeInitializeSpinLock(&fdo->spin);
	winib_env_init(&fdo->env, &wdm_env_ops, fdo);

	st = IoRegisterDeviceInterface(pdo, &winib_bus_interface, NULL, &fdo->interface_name);
	if (!NT_SUCCESS(st))
		goto err_delete_device;
	fdo->lower = IoAttachDeviceToDeviceStack(fdo_obj, pdo);
	if (fdo->lower == NULL) {
		st = STATUS_NO_SUCH_DEVICE;
		goto err_free_interface;
	}
	{
		/* mingw-w64's macro does not parenthesise its argument: pass a
		 * plain pointer name (the WDK macro takes either form). */
		PKBUGCHECK_CALLBACK_RECORD rec = &fdo->bugcheck;

		KeInitializeCallbackRecord(rec);
		fdo->bugcheck_on = KeRegisterBugCheckCallback(rec, wdm_bugcheck, fdo, sizeof(*fdo),
							      bugcheck_component);
	}
	fdo_obj->Flags |= DO_POWER_PAGABLE;
	fdo_obj->Flags &= ~DO_DEVICE_INITIALIZING;
	return STATUS_SUCCESS;

err_free_interface:
	RtlFreeUnicodeString(&fdo->interface_name);
err_delete_device:
	IoDeleteDevice(fdo_obj);
	return st;
}

/* ---- FDO PnP ------------------------------------------------------------ */

static NTSTATUS fdo_start(struct wdm_fdo *fdo)
{
	struct winib_bus_limits lim = { WINIB_MAX_PORTS, WINIB_MAX_CHILDREN };
	struct winib_config *cfg;
	struct winib_reg *reg;
	NTSTATUS st;
	int err;

	if (fdo->bus != NULL)
		return STATUS_SUCCESS; /* restarted after a stop: keep the children */
	reg = winib_reg_create(&fdo->env, &err);
	if (reg == NULL)
		return wdm_status(err);
	st = wdm_load_registry(fdo->pdo, reg);
	if (!NT_SUCCESS(st))
		goto out_reg;
	cfg = winib_config_load(&fdo->env, reg, WINIB_MAX_PKEYS, &err);
	if (cfg == NULL) {
		st = wdm_status(err);
		goto out_reg;
	}
	fdo->bus = winib_bus_create(&fdo->env, cfg, &lim, &fdo->spin, &err);
	if (fdo->bus == NULL) {
		st = wdm_status(err);
		goto out_reg;
	}
	if (NT_SUCCESS(IoSetDeviceInterfaceState(&fdo->interface_name, TRUE)))
		fdo->interface_on = TRUE;
	st = STATUS_SUCCESS;
out_reg:
	winib_reg_destroy(reg);
	return st;
}

static struct wdm_pdo *pdo_create(struct wdm_fdo *fdo, struct winib_child *child)
{
	PDEVICE_OBJECT obj;
	struct wdm_pdo *pe;

	if (!NT_SUCCESS(IoCreateDevice(fdo->common.self->DriverObject, sizeof(*pe), NULL,
				       FILE_DEVICE_BUS_EXTENDER,
				       FILE_AUTOGENERATED_DEVICE_NAME | FILE_DEVICE_SECURE_OPEN,
				       FALSE, &obj)))
		return NULL;
	pe = obj->DeviceExtension;
	RtlZeroMemory(pe, sizeof(*pe));
	pe->common.is_fdo = FALSE;
	pe->common.self = obj;
	pe->fdo = fdo;
	pe->child = child;
	winib_child_set_pdo(child, obj);
	obj->Flags |= DO_POWER_PAGABLE;
	obj->Flags &= ~DO_DEVICE_INITIALIZING;
	return pe;
}

/*
 * BusRelations: every child the core has on the bus, with a PDO made for
 * the new ones. Relations an upper filter already put in the IRP are kept.
 */
static NTSTATUS fdo_bus_relations(struct wdm_fdo *fdo, PIRP irp)
{
	/* WDM hands relations over in the ULONG_PTR Information field. */
	PDEVICE_RELATIONS old =
		(PDEVICE_RELATIONS)irp->IoStatus.Information, /* NOLINT(performance-no-int-to-ptr) */
		rel;
	struct winib_child **kids;
	ULONG old_count = old != NULL ? old->Count : 0, i;
	int n = -ENOSPC, tries;

	for (tries = 0; tries < 4 && n == -ENOSPC; tries++) {
		int cap = winib_bus_present_count(fdo->bus);

		if (cap < 0)
			return wdm_status(cap);
		cap += 4; /* room for a port arriving between the two calls */
		kids = ExAllocatePoolWithTag(PagedPool, (SIZE_T)cap * sizeof(struct winib_child *),
					     WINIB_POOL_TAG);
		if (kids == NULL)
			return STATUS_INSUFFICIENT_RESOURCES;
		n = winib_bus_relations(fdo->bus, kids, (size_t)cap);
		if (n >= 0)
			break;
		ExFreePoolWithTag(kids, WINIB_POOL_TAG);
	}
	if (n < 0)
		return wdm_status(n);
	rel = ExAllocatePoolWithTag(PagedPool, sizeof(DEVICE_RELATIONS) +
				    ((SIZE_T)old_count + (SIZE_T)n) * sizeof(PDEVICE_OBJECT),
				    WINIB_POOL_TAG);
	if (rel == NULL) {
		ExFreePoolWithTag(kids, WINIB_POOL_TAG);
		return STATUS_INSUFFICIENT_RESOURCES;
	}
	rel->Count = 0;
	for (i = 0; i < old_count; i++)
		rel->Objects[rel->Count++] = old->Objects[i];
	for (i = 0; i < (ULONG)n; i++) {
		PDEVICE_OBJECT obj = kids[i]->os_pdo;

		if (obj == NULL) {
			struct wdm_pdo *pe = pdo_create(fdo, kids[i]);

			if (pe == NULL)
				continue; /* tried again on the next relations query */
			obj = pe->common.self;
		}
		ObReferenceObject(obj);
		rel->Objects[rel->Count++] = obj;
	}
	ExFreePoolWithTag(kids, WINIB_POOL_TAG);
	if (old != NULL)
		ExFreePool(old);
	irp->IoStatus.Information = (ULONG_PTR)rel;
	return STATUS_SUCCESS;
}

static void fdo_remove(struct wdm_fdo *fdo)
{
	if (fdo->interface_on)
		(void)IoSetDeviceInterfaceState(&fdo->interface_name, FALSE);
	if (fdo->bugcheck_on)
		(void)KeDeregisterBugCheckCallback(&fdo->bugcheck);
	if (fdo->bus != NULL) {
		size_t i;

		/* PnP removed every child before its parent: no IRP can reach
		 * these PDOs any more, so walk the pool directly. */
		for (i = 0; i < fdo->bus->limits.max_children; i++) {
			struct winib_child *c = &fdo->bus->children[i];

			if (c->state != WINIB_CHILD_FREE && c->os_pdo != NULL)
				IoDeleteDevice((PDEVICE_OBJECT)c->os_pdo);
		}
		winib_bus_destroy(fdo->bus);
		fdo->bus = NULL;
	}
	RtlFreeUnicodeString(&fdo->interface_name);
}

static NTSTATUS fdo_pnp(struct wdm_fdo *fdo, PIRP irp)
{
	PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(irp);
	PDEVICE_OBJECT lower = fdo->lower;
	NTSTATUS st;

	switch (sp->MinorFunction) {
	case IRP_MN_START_DEVICE:
		/* Lower drivers start first. */
		if (!IoForwardIrpSynchronously(lower, irp))
			st = STATUS_UNSUCCESSFUL;
		else
			st = irp->IoStatus.Status;
		if (NT_SUCCESS(st))
			st = fdo_start(fdo);
		irp->IoStatus.Status = st;
		IoCompleteRequest(irp, IO_NO_INCREMENT);
		return st;
	case IRP_MN_QUERY_DEVICE_RELATIONS:
		if (sp->Parameters.QueryDeviceRelations.Type != BusRelations || fdo->bus == NULL)
			break;
		st = fdo_bus_relations(fdo, irp);
		if (!NT_SUCCESS(st)) {
			irp->IoStatus.Status = st;
			IoCompleteRequest(irp, IO_NO_INCREMENT);
			return st;
		}
		irp->IoStatus.Status = STATUS_SUCCESS;
		break;
	case IRP_MN_QUERY_STOP_DEVICE:
	case IRP_MN_CANCEL_STOP_DEVICE:
	case IRP_MN_STOP_DEVICE:
	case IRP_MN_QUERY_REMOVE_DEVICE:
	case IRP_MN_CANCEL_REMOVE_DEVICE:
	case IRP_MN_SURPRISE_REMOVAL:
		irp->IoStatus.Status = STATUS_SUCCESS;
		break;
	case IRP_MN_REMOVE_DEVICE:
		fdo_remove(fdo);
		irp->IoStatus.Status = STATUS_SUCCESS;
		IoSkipCurrentIrpStackLocation(irp);
		st = IoCallDriver(lower, irp);
		IoDetachDevice(lower);
		IoDeleteDevice(fdo->common.self);
		return st;
	default:
		break;
	}
	IoSkipCurrentIrpStackLocation(irp);
	return IoCallDriver(lower, irp);
}

static NTSTATUS NTAPI wdm_dispatch_pnp(PDEVICE_OBJECT dev, PIRP irp)
{
	struct wdm_common *c = dev->DeviceExtension;

	if (c->is_fdo)
		return fdo_pnp((struct wdm_fdo *)c, irp);
	return wdm_pdo_pnp((struct wdm_pdo *)c, irp);
}

/* ---- power --------------------------------------------------------------- */

static NTSTATUS NTAPI wdm_dispatch_power(PDEVICE_OBJECT dev, PIRP irp)
{
	struct wdm_common *c = dev->DeviceExtension;
	PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(irp);
	struct wdm_fdo *fdo;

	if (!c->is_fdo)
		return wdm_pdo_power((struct wdm_pdo *)c, irp);
	fdo = (struct wdm_fdo *)c;
	/* Entering S4 puts the core in hibernation mode until S0 comes back. */
	if (sp->MinorFunction == IRP_MN_SET_POWER &&
	    sp->Parameters.Power.Type == SystemPowerState) {
		SYSTEM_POWER_STATE s = sp->Parameters.Power.State.SystemState;

		if (s == PowerSystemHibernate &&
		    sp->Parameters.Power.ShutdownType == PowerActionHibernate)
			fdo->hibernating = TRUE;
		else if (s == PowerSystemWorking)
			fdo->hibernating = FALSE;
		wdm_update_mode(fdo);
	}
	PoStartNextPowerIrp(irp);
	IoSkipCurrentIrpStackLocation(irp);
	return PoCallDriver(fdo->lower, irp);
}

/* ---- control ------------------------------------------------------------- */

static NTSTATUS fdo_ioctl(struct wdm_fdo *fdo, PIRP irp)
{
	PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(irp);
	ULONG code = sp->Parameters.DeviceIoControl.IoControlCode;
	ULONG in_len = sp->Parameters.DeviceIoControl.InputBufferLength;
	void *buf = irp->AssociatedIrp.SystemBuffer;
	int rc;

	if (fdo->bus == NULL)
		return STATUS_DEVICE_NOT_READY;
	switch (code) {
	case WINIB_IOCTL_PORT_ADD:
	case WINIB_IOCTL_PORT_REMOVE: {
		const struct winib_ioctl_port *p = buf;

		if (in_len < sizeof(*p))
			return STATUS_BUFFER_TOO_SMALL;
		rc = code == WINIB_IOCTL_PORT_ADD ?
			     winib_bus_port_add(fdo->bus, p->port_guid, p->port_num) :
			     winib_bus_port_remove(fdo->bus, p->port_guid);
		break;
	}
	case WINIB_IOCTL_PKEY_ADD:
	case WINIB_IOCTL_PKEY_REMOVE: {
		struct winib_ioctl_pkey *p = buf;

		if (in_len < sizeof(*p))
			return STATUS_BUFFER_TOO_SMALL;
		p->child[sizeof(p->child) - 1] = '\0';
		p->name[sizeof(p->name) - 1] = '\0';
		rc = code == WINIB_IOCTL_PKEY_ADD ?
			     winib_bus_pkey_add(fdo->bus, p->child, p->port_guid, p->pkey, p->name) :
			     winib_bus_pkey_remove(fdo->bus, p->child, p->port_guid, p->pkey);
		break;
	}
	default:
		return STATUS_INVALID_DEVICE_REQUEST;
	}
	if (rc < 0)
		return wdm_status(rc);
	/* Children changed: PnP asks for BusRelations again. */
	IoInvalidateDeviceRelations(fdo->pdo, BusRelations);
	return STATUS_SUCCESS;
}

static NTSTATUS NTAPI wdm_dispatch_ioctl(PDEVICE_OBJECT dev, PIRP irp)
{
	struct wdm_common *c = dev->DeviceExtension;
	NTSTATUS st = STATUS_INVALID_DEVICE_REQUEST;

	if (c->is_fdo)
		st = fdo_ioctl((struct wdm_fdo *)c, irp);
	irp->IoStatus.Status = st;
	irp->IoStatus.Information = 0;
	IoCompleteRequest(irp, IO_NO_INCREMENT);
	return st;
}

static NTSTATUS NTAPI wdm_dispatch_create_close(PDEVICE_OBJECT dev, PIRP irp)
{
	struct wdm_common *c = dev->DeviceExtension;
	NTSTATUS st = c->is_fdo ? STATUS_SUCCESS : STATUS_INVALID_DEVICE_REQUEST;

	irp->IoStatus.Status = st;
	irp->IoStatus.Information = 0;
	IoCompleteRequest(irp, IO_NO_INCREMENT);
	return st;
}

/* WMI and the like: pass down on the FDO, leave untouched on a PDO. */
static NTSTATUS NTAPI wdm_dispatch_other(PDEVICE_OBJECT dev, PIRP irp)
{
	struct wdm_common *c = dev->DeviceExtension;
	NTSTATUS st;

	if (c->is_fdo) {
		IoSkipCurrentIrpStackLocation(irp);
		return IoCallDriver(((struct wdm_fdo *)c)->lower, irp);
	}
	st = irp->IoStatus.Status;
	IoCompleteRequest(irp, IO_NO_INCREMENT);
	return st;
}
