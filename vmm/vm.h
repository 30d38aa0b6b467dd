/* One virtual machine: KVM handles, guest memory, buses, vCPUs and the
 * lifecycle state that decides how the process ends. vm.c builds it,
 * vcpu.c and eventloop.c run it, console.c wires its console. */
#ifndef VMM_VM_H
#define VMM_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "config.h"
#include "host.h"
#include "iothread.h"
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
	struct vmm_thread thread;
	bool started;
};

struct serial;
struct i8042;
struct boot_timer;
struct kvm_irq_routing;
struct control;
struct ready_guest;

/* What `vmm ctl NAME status` and `vmm list` report. */
enum vm_state {
	VM_STATE_STARTING,	/* built; vCPU 0 has not entered the guest yet */
	VM_STATE_RUNNING,
	VM_STATE_PAUSED,	/* every vCPU parked by vm_pause */
	VM_STATE_STOPPING,	/* a graceful stop or the exit has begun */
};

/* Something built with the VM and torn down with it: the virtio devices and
 * their transports (PCI functions, MMIO windows). */
struct vm_cleanup {
	void (*fn)(void *opaque);
	void *opaque;
};

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
	struct boot_timer *boot_timer;	/* NULL where the arch has none */
	int console_out;		/* fd the serial port writes to */
	struct console_ring *console_ring; /* its last output, for console attach */

	struct arch_vm arch;

	/* Device work off the vCPU threads: kicks, completions. */
	struct iothread io;
	/* What the device transports get instead of the VM (vm_host_init). */
	struct dev_host host;
	/* Interrupt routing: the architecture's default routes, then one MSI
	 * route per vector handed out by vm_msi_alloc. Replaced as a whole
	 * with KVM_SET_GSI_ROUTING, under routes_lock. */
	pthread_mutex_t routes_lock;
	struct kvm_irq_routing *routes;
	uint32_t next_gsi;
	/* MSI routes carry the sender's requester ID (KVM_MSI_VALID_DEVID):
	 * set by the arch where an arm64 GICv3 ITS translates MSIs. */
	bool msi_devid;
	/* KVM_IRQFD waits for vm_irqfds_ready (set by the arch, arm64). */
	bool irqfd_defer;
	struct { int fd; uint32_t gsi; } *irqfd_deferred;
	unsigned nirqfd_deferred;

	/* The virtio devices, for `vmm ctl NAME queues` (owned by cleanups). */
	struct vm_vdev { struct virtio_dev *vd; char tag[12]; } *vdevs;
	unsigned nvdevs;
	struct virtio_dev *balloon;	/* one of vdevs, or NULL */

	struct vm_cleanup *cleanups;	/* run in reverse order by vm_destroy */
	unsigned ncleanups;

	/* Lifecycle: the first exit request wins; the main loop is woken
	 * through `wake_fd` (an eventfd). */
	int wake_fd;
	atomic_int exit_code;		/* -1 while running */
	atomic_bool stopping;		/* vCPU threads leave KVM_RUN */
	atomic_bool graceful_stop;	/* SIGTERM was received */

	/* Pause: vCPU threads park on pause_cond outside KVM_RUN while
	 * pause_requested is set; nparked/nactive under pause_lock. */
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond;
	atomic_bool pause_requested;
	unsigned nparked;		/* vCPU threads parked */
	unsigned nactive;		/* vCPU threads inside their run loop */
	atomic_bool ready;		/* vCPU 0 reached its first KVM_RUN */
	int stop_timer_fd;		/* the event loop's shutdown timer, or -1 */
	struct control *ctl;		/* the control socket, or NULL */
	struct ready_guest *ready_guest;	/* [vm] ready = "guest": the listener */

	uint64_t t_start_us;		/* CLOCK_MONOTONIC at process start */
	atomic_uint_least64_t t_first_serial_us;	/* since t_start_us */
	/* Boot phases since t_start_us, 0 until reached; `vmm ctl status`. */
	atomic_uint_least64_t t_first_run_us;		/* vCPU 0's first KVM_RUN */
	atomic_uint_least64_t t_userspace_ready_us;	/* boot-timer write */
	atomic_uint_least64_t t_shutdown_us;		/* the end was decided */
	atomic_bool notified_ready;	/* READY=1 sent ([vm] ready says when) */
};

uint64_t vmm_now_us(void);

/* Builds the VM in `vm` (in place) from a validated config; on failure the
 * caller still calls vm_destroy. `t_start_us` is vmm_now_us() at process
 * start, for boot-phase logs. */
int vm_init(struct vm *vm, const struct vm_config *cfg, uint64_t t_start_us);
void vm_destroy(struct vm *vm);
/* Starts vCPU threads and runs the event loop until the guest ends; returns
 * the process exit code. */
int vm_run(struct vm *vm);

/* The boot timer's callback (ctx is the vm): records and logs the moment
 * the guest's init reported userspace ready. vCPU thread. */
void vm_userspace_ready(void *ctx);

/* Called from any thread (vCPU or device) to end the VM with `code`. The
 * first call wins; `why` is logged. */
void vm_request_exit(struct vm *vm, int code, const char *why);

enum vm_state vm_get_state(struct vm *vm);
const char *vm_state_name(enum vm_state state);

/* Main thread, inside vm_run. vm_pause kicks every vCPU out of KVM_RUN and
 * returns once all are parked (-ETIMEDOUT after 2 s: it then resumes them);
 * vm_resume lets them run on. Both are idempotent; -EBUSY once stopping. */
int vm_pause(struct vm *vm);
int vm_resume(struct vm *vm);

/* Main thread, inside vm_run: asks the guest to shut down, as SIGTERM does
 * (a paused VM is resumed first), and arms the shutdown_timeout. */
void vm_shutdown(struct vm *vm, const char *why);

/* Main thread: every virtio device's queue state as one line of words
 * (" blk0.q0=size=..,last_avail=..,..."), what a stuck device waits for.
 * Returns the length written (at most len - 1). */
size_t vm_describe_queues(struct vm *vm, char *buf, size_t len);
/* `vmm ctl NAME balloon MIB`: the balloon's new target, main thread.
 * -ENODEV without a [balloon], -EINVAL for MIB >= guest memory. */
int vm_balloon_set(struct vm *vm, uint64_t mib);
/* The balloon's words for `vmm ctl NAME status` ("" without one). */
size_t vm_balloon_status(struct vm *vm, char *buf, size_t len);

/* Raise/lower a GSI on the in-kernel interrupt controller. */
int vm_set_irq(struct vm *vm, uint32_t gsi, int level);

/* A new GSI delivered as an MSI, and an eventfd bound to it with
 * KVM_IRQFD: writing the eventfd interrupts the guest without a vCPU exit.
 * The route starts out pointing nowhere useful; set it with vm_msi_route
 * before signalling. Returns 0 or -errno. */
int vm_msi_alloc(struct vm *vm, int *fd, uint32_t *gsi);
/* Points `gsi` (from vm_msi_alloc) at the MSI address/data pair, sent by
 * PCI requester `devid` (passed to KVM only where vm->msi_devid). */
int vm_msi_route(struct vm *vm, uint32_t gsi, uint64_t addr, uint32_t data,
		 uint32_t devid);
/* Where vm->irqfd_defer (arm64: KVM refuses KVM_IRQFD with EAGAIN until
 * the GIC is initialised, which waits for the last vCPU), vm_msi_alloc
 * keeps the eventfds it hands out unbound; this binds them, after handing
 * KVM the whole routing table again (the GIC's initialisation replaced it
 * with its default routes), and ends the deferral. */
int vm_irqfds_ready(struct vm *vm);
/* KVM_IOEVENTFD: guest writes of `len` bytes to MMIO `addr` signal `fd`
 * in the kernel instead of exiting to us. */
int vm_ioeventfd(struct vm *vm, uint64_t addr, uint32_t len, int fd);
/* The same, for writes of exactly `data` only (KVM_IOEVENTFD_FLAG_DATAMATCH):
 * several queues share one notify register on virtio-mmio. */
int vm_ioeventfd_data(struct vm *vm, uint64_t addr, uint32_t len, uint64_t data, int fd);
struct virtio_dev;
/* Puts one virtio device on the machine's transport, in device slot `slot`
 * (arch_device_slots: a PCI device number, a virtio-mmio window). */
typedef int (*vm_virtio_attach_fn)(struct vm *vm, struct virtio_dev *vd, unsigned slot);
/* From arch_devices_init: creates the config's virtio devices (disks, NICs,
 * the entropy device, the shares; config_devices) and attaches each to the
 * slot config_devices gives it; all are freed with the VM. Returns 0 or
 * -errno. */
int vm_add_virtio_devices(struct vm *vm, vm_virtio_attach_fn attach);
/* From arch_devices_init: the serial port that carries the console, writing
 * to vm->console_out, its interrupt raised with set_irq(vm, level); freed
 * with the VM. NULL when out of memory. */
struct serial *vm_console_serial_new(struct vm *vm, void (*set_irq)(void *vm, int level));
/* Runs fn(opaque) in vm_destroy, after the I/O thread stopped. */
int vm_add_cleanup(struct vm *vm, void (*fn)(void *opaque), void *opaque);
/* Fills vm->host: the helpers above, guest memory, the MMIO bus and the I/O
 * thread, for the device transports (devices/host.h). vm_host.c. */
void vm_host_init(struct vm *vm);

#endif
