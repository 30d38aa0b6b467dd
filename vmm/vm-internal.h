/* Private to the VM's own files (vm.c, vcpu.c, eventloop.c): what one part
 * calls in another. Devices and architecture code use vm.h only. */
#ifndef VMM_VM_INTERNAL_H
#define VMM_VM_INTERNAL_H

#include <signal.h>

#include "vm.h"

/* Interrupts a vCPU thread's KVM_RUN (immediate_exit is set first). Every
 * thread but the vCPU threads keeps it blocked. */
#define VCPU_KICK_SIGNAL SIGUSR1

/* vcpu.c. Main thread: installs the kick signal's handler, which only
 * interrupts KVM_RUN; the caller blocks the signal before starting threads. */
void vcpu_kick_setup(void);
/* Main thread: one thread per vCPU; when one cannot be started, the VM is
 * asked to exit with VM_EXIT_ERROR and the ones started run on until then. */
void vcpus_start(struct vm *vm);
/* Main thread: sets `stopping`, wakes parked vCPUs, kicks running ones out
 * of KVM_RUN and joins every started thread. */
void vcpus_stop(struct vm *vm);

/* console.c. vm_init: opens the console's output ([console] mode) into
 * vm->console_out. Returns 0 or -errno. */
int vm_console_open(struct vm *vm);
/* vm_destroy: frees the serial port and closes the console's output. */
void vm_console_close(struct vm *vm);
/* Main thread, while no vCPU runs: the eventfd the serial port signals when
 * the guest drained its input buffer (-1: none); the event loop then reads
 * console input again. */
void vm_console_set_rx_fd(int fd);
/* `vmm ctl NAME console` (main thread): eventfd `notify_fd` is written when
 * the console has new output or the guest drained its input (-1: no client
 * attached, no writes); the output ring read from *pos on (console_ring.h);
 * input for the guest, returning how much its receive buffer took. */
void vm_console_attach(struct vm *vm, int notify_fd);
size_t vm_console_read(struct vm *vm, uint64_t *pos, uint8_t *buf, size_t len,
		       uint64_t *skipped);
size_t vm_console_write(struct vm *vm, const uint8_t *buf, size_t len);

/* eventloop.c: READY=1 to the service manager, once, at the mark [vm]
 * ready names. Any thread. */
void vm_notify_ready(struct vm *vm);

#endif
