/* `vmm --dump-dtb FILE`: the device tree vmm would give the guest of a
 * config, built by arch_load_kernel itself on a VM that has guest memory but
 * no KVM: the kernel and initrd are loaded into scratch memory (their sizes
 * and the Image header place the initrd and the tree), the vCPUs' MPIDRs
 * are the values KVM resets them to, and the virtio-mmio slots are the
 * ones config_devices gives vm_add_virtio_devices (pci_slot, else the lowest
 * free). One thing KVM alone could say: the GIC.
 * The dump names a GICv3; a host whose KVM has only a GICv2 gives its
 * guests a GICv2 node instead (vmm logs "trying GICv2" then). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libfdt.h>

#include "arch.h"
#include "config.h"
#include "dump.h"
#include "log.h"
#include "vm.h"

const char *const arch_dump_option = "dump-dtb";
const char *const arch_dump_arg = "FILE";

int arch_dump_firmware(const struct vm_config *cfg, const char *path)
{
	uint64_t base, hole_start, hole_end, size = cfg->memory_mib << 20;
	struct vm_dev_ref dev[VM_DEVICES_MAX];
	int ndev = config_devices(cfg, dev), ret = 0;
	struct vm *vm;
	const void *fdt;

	if (ndev < 0) {
		log_err("placing the virtio devices: %s", strerror(-ndev));
		return ndev;
	}
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	for (int i = 0; ret == 0 && i < ndev; i++)
		ret = arm64_virtio_slot_add(&vm->arch, dev[i].slot, "virtio device");
	if (ret < 0) {
		free(vm);
		return ret;
	}
	vm->cfg = cfg;
	vm->nvcpus = cfg->vcpus;
	vm->arch.gic_version = 3;
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
		printf("%s: device tree, %u bytes (GICv3; see vmm(1))\n", path,
		       fdt_totalsize(fdt));
	gm_destroy(&vm->mem);
	free(vm->arch.mpidr);
	free(vm);
	return ret;
}
