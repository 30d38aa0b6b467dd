/* The small surface generic code uses to reach architecture code. Generic
 * code never tests the architecture with #ifdef; it calls these. */
#ifndef VMM_ARCH_H
#define VMM_ARCH_H

#include <stdbool.h>
#include <stdint.h>

struct vm;
struct vcpu;
struct kvm_irq_routing_entry;

/* True when `name` is a CPU feature the `[cpu] hide` list may name on this
 * architecture (e.g. "xsave", "cx16", "avx2" on x86_64). */
bool arch_cpu_feature_known(const char *name);

/* Names accepted by arch_cpu_feature_known, NULL-terminated (for help text). */
const char *const *arch_cpu_feature_names(void);

/* The device slots `pci_slot` ([[disk]], [[net]], [[fs]], [rng]) may name,
 * *first to *last, and what a slot is here, for messages: PCI device
 * numbers on bus 0 on x86_64 (1 to 31), virtio-mmio windows on aarch64
 * (0 to 31). Devices without pci_slot take the lowest free ones. */
const char *arch_device_slots(unsigned *first, unsigned *last);

/* Guest RAM placement for `size` bytes: where it starts and the MMIO hole
 * it must skip (hole_start == hole_end for none). */
void arch_mem_layout(uint64_t size, uint64_t *base, uint64_t *hole_start,
		     uint64_t *hole_end);

/* After KVM_CREATE_VM, before memory is registered: interrupt controller,
 * timers, per-VM KVM settings. */
int arch_vm_init(struct vm *vm);

/* The GSI routes KVM sets up by itself for the in-kernel interrupt
 * controller, which KVM_SET_GSI_ROUTING would otherwise drop: fills up to
 * `max` entries and returns how many. GSIs past the highest one are free
 * for MSIs. */
unsigned arch_irq_routes(struct kvm_irq_routing_entry *e, unsigned max);

/* Registers the platform devices (serial, keyboard controller, power
 * management...) on the VM's buses. */
int arch_devices_init(struct vm *vm);

/* Loads kernel, initrd and command line into guest memory and builds the
 * firmware tables the kernel reads. */
int arch_load_kernel(struct vm *vm);

/* Per-vCPU setup after KVM_CREATE_VCPU: CPUID/features, registers. */
int arch_vcpu_init(struct vm *vm, struct vcpu *vcpu);

/* The vCPU's program counter (RIP, PC), for error messages; 0 when it
 * cannot be read. */
uint64_t arch_vcpu_pc(struct vcpu *vcpu);

/* Logs what a guest crash is read from, on KVM_EXIT_SHUTDOWN (a triple fault).
 * x86_64: RIP, RSP, RFLAGS, the general registers, CS, CR0/2/3/4, EFER, IDT,
 * GDT, TR and the exception state; where KVM has already reset the vCPU (AMD),
 * it says so and gives the last exception KVM delivered. aarch64: the pc. */
void arch_vcpu_log_crash(struct vcpu *vcpu);

/* Asks the guest to shut down the way its OS understands best
 * (Ctrl-Alt-Del on x86). Returns 0 or -errno. */
int arch_request_guest_shutdown(struct vm *vm);
/* What arch_request_guest_shutdown does, for the log: "Ctrl-Alt-Del". */
const char *arch_guest_shutdown_method(void);

void arch_vm_destroy(struct vm *vm);

#endif
