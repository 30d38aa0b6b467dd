/* One virtual machine: KVM handles, guest memory, buses, vCPUs and the
 * lifecycle state that decides how the process ends. */
#ifndef VMM_VM_H
#define VMM_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "config.h"
#include "memory.h"
#include "arch-vm.h"

/* Process exit codes; docs/lifecycle.md documents them. */
enum vm_exit_code {
	VM_EXIT_POWEROFF = 0,	/* guest powered off, or stopped gracefully */
	VM_EXIT_ERROR = 1,	/* VMM error: config, setup, host failure */
	VM_EXIT_USAGE = 2,	/* bad command line */
	VM_EXIT_REBOOT = 3,	/* guest asked for a reboot (or triple-faulted) */
	VM_EXIT_PANIC = 4,	/* guest kernel panicked (pvpanic) */
	VM_EXIT_FORCED = 5,	/* graceful stop timed out; guest was killed */
	VM_EXIT_CRASH = 6,	/* vCPU hit an error KVM cannot continue from */
};

struct vm;

struct vcpu {
	struct vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
};

struct serial;
struct i8042;

struct vm {
	const struct vm_config *cfg;
	int kvm_fd;
	int vm_fd;
	int run_size;			/* KVM_GET_VCPU_MMAP_SIZE */
	struct guest_mem mem;
	struct io_bus pio;
	struct io_bus mmio;
	unsigned nvcpus;
	struct vcpu *vcpus;

	struct serial *serial;
	struct i8042 *i8042;
	int console_out;		/* fd the serial port writes to */

	struct arch_vm arch;

	/* Lifecycle: the first exit request wins; the main loop is woken
	 * through `wake_fd` (an eventfd). */
	int wake_fd;
	atomic_int exit_code;		/* -1 while running */
	atomic_bool stopping;		/* vCPU threads leave KVM_RUN */
	atomic_bool graceful_stop;	/* SIGTERM was received */

	uint64_t t_start_us;		/* CLOCK_MONOTONIC at process start */
	atomic_bool first_serial_byte;
};

uint64_t vmm_now_us(void);

/* `t_start_us` is vmm_now_us() at process start, for boot-phase logs. */
int vm_create(struct vm *vm, const struct vm_config *cfg, uint64_t t_start_us);
void vm_destroy(struct vm *vm);
/* Starts vCPU threads and runs the event loop until the guest ends; returns
 * the process exit code. */
int vm_run(struct vm *vm);

/* Called from any thread (vCPU or device) to end the VM with `code`. The
 * first call wins; `why` is logged. */
void vm_request_exit(struct vm *vm, int code, const char *why);

/* Raise/lower a GSI on the in-kernel interrupt controller. */
int vm_set_irq(struct vm *vm, uint32_t gsi, int level);

#endif
