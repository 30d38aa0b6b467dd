/* `vmm --dump-dtb FILE`: the device tree vmm would give the guest of a
 * config, built by arch_load_kernel itself on a VM that has guest memory but
 * no KVM: the kernel and initrd are loaded into scratch memory (their sizes
 * and the Image header place the initrd and the tree), the vCPUs' MPIDRs
 * are the values KVM resets them to, and the virtio-mmio slots are the
 * ones config_devices gives vm_add_virtio_devices (pci_slot, else the lowest
 * free). One thing KVM alone can say: the GIC, and with it the transport
 * ([vm] virtio_transport: PCI needs a GICv3 ITS). Where /dev/kvm opens, a
 * throwaway VM asks it as the real start does (GICv3 and its ITS, else
 * GICv2); without it the dump names a GICv3 with an ITS, and says so. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <libfdt.h>
#include <linux/kvm.h>

#include "arch.h"
#include "config.h"
#include "dump.h"
#include "log.h"
#include "vm.h"

const char *const arch_dump_option = "dump-dtb";
const char *const arch_dump_arg = "FILE";

static bool can_create(int vm_fd, uint32_t type)
{
	struct kvm_create_device d = { .type = type, .flags = KVM_CREATE_DEVICE_TEST };

	return vm_fd >= 0 && ioctl(vm_fd, KVM_CREATE_DEVICE, &d) == 0;
}

/* The GIC this host's KVM gives a guest, asked of a VM made for the
 * question (KVM_CREATE_DEVICE_TEST creates nothing): 3, 2, or 0 when there
 * is no /dev/kvm to ask or it offers neither; and with a GICv3, whether it
 * has the ITS that PCI's MSIs need. */
static unsigned host_gic_version(bool *its)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm_fd;
	unsigned version = 0;

	*its = false;
	if (kvm < 0)
		return 0;
	do
		vm_fd = ioctl(kvm, KVM_CREATE_VM, 0);
	while (vm_fd < 0 && errno == EINTR);
	if (can_create(vm_fd, KVM_DEV_TYPE_ARM_VGIC_V3)) {
		version = 3;
		*its = can_create(vm_fd, KVM_DEV_TYPE_ARM_VGIC_ITS);
	} else if (can_create(vm_fd, KVM_DEV_TYPE_ARM_VGIC_V2)) {
		version = 2;
	}
	if (vm_fd >= 0)
		close(vm_fd);
	close(kvm);
	return version;
}

int arch_dump_firmware(const struct vm_config *cfg, const char *path)
{
	bool its, pci;
	const char *why;
	unsigned gic = host_gic_version(&its);
	uint64_t base, hole_start, hole_end, size = cfg->memory_mib << 20;
	struct vm_dev_ref dev[VM_DEVICES_MAX];
	int ndev = config_devices(cfg, dev), ret = 0;
	struct vm *vm;
	const void *fdt;

	if (ndev < 0) {
		log_err("placing the virtio devices: %s", strerror(-ndev));
		return ndev;
	}
	ret = arm64_virtio_transport(cfg->virtio_transport, gic, its, &pci, &why);
	if (ret < 0)
		return ret;
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	/* PCI devices have no nodes of their own: the guest finds them on the bus. */
	vm->arch.virtio_pci = pci;
	for (int i = 0; !pci && ret == 0 && i < ndev; i++)
		ret = arm64_virtio_slot_add(&vm->arch, dev[i].slot, "virtio device");
	if (ret < 0) {
		free(vm);
		return ret;
	}
	vm->cfg = cfg;
	vm->nvcpus = cfg->vcpus;
	vm->arch.gic_version = gic ? gic : 3;
	if (gic == 2 && cfg->vcpus > ARM64_GICV2_MAX_CPUS) {
		log_err("this host's KVM offers only a GICv2, which serves at most %u vCPUs; "
			"lower [vm] vcpus", ARM64_GICV2_MAX_CPUS);
		free(vm);
		return -EINVAL;
	}
	vm->arch.mpidr = calloc(vm->nvcpus, sizeof(*vm->arch.mpidr));
	for (unsigned i = 0; vm->arch.mpidr && i < vm->nvcpus; i++)
		vm->arch.mpidr[i] = arm64_kvm_reset_mpidr(i);
	arch_mem_layout(size, &base, &hole_start, &hole_end);
	ret = vm->arch.mpidr ? gm_init_kind(&vm->mem, base, size, hole_start, hole_end,
					   false, false) : -ENOMEM;
	if (ret < 0) {
		log_err("scratch guest memory (%llu MiB): %s",
			(unsigned long long)cfg->memory_mib, strerror(-ret));
		free(vm->arch.mpidr);
		free(vm);
		return ret;
	}
	ret = arch_load_kernel(vm);
	fdt = ret == 0 ? gm_ptr(&vm->mem, vm->arch.fdt, ARM64_FDT_MAX) : NULL;
	if (ret == 0 && (!fdt || fdt_check_header(fdt) || fdt_totalsize(fdt) > ARM64_FDT_MAX)) {
		log_err("the device tree built is not valid");
		ret = -EINVAL;
	}
	if (ret == 0)
		ret = dump_write(path, fdt, fdt_totalsize(fdt));
	if (ret == 0)
		printf("%s: device tree, %u bytes (%s; %s)\n", path, fdt_totalsize(fdt),
		       gic == 3 ? "GICv3, as this host's KVM gives" :
		       gic == 2 ? "GICv2: this host's KVM has no GICv3" :
		       "GICv3; no KVM here to ask: a host with only a GICv2 gives a GICv2 node",
		       pci ? "virtio devices on PCI, MSIs through the ITS" :
		       "virtio devices on virtio-mmio");
	gm_destroy(&vm->mem);
	free(vm->arch.mpidr);
	free(vm);
	return ret;
}
