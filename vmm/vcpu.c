/* The vCPU threads: KVM_RUN and its exits, the kick that interrupts it, and
 * parking for vm_pause / vm_resume. */
#include "vm-internal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include <linux/kvm.h>

#include "arch.h"
#include "log.h"
#include "notify.h"
#include "sandbox.h"

/* ---- vCPU threads ---- */

static void log_internal_error(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	char bytes[3 * 16 + 1] = "";

	if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION &&
	    run->emulation_failure.ndata >= 3 &&
	    (run->emulation_failure.flags &
	     KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES)) {
		unsigned n = run->emulation_failure.insn_size;

		if (n > 15)
			n = 15;
		for (unsigned i = 0; i < n; i++)
			snprintf(bytes + 3 * i, 4, " %02x",
				 run->emulation_failure.insn_bytes[i]);
	}
	log_err("vCPU %u: KVM internal error, suberror %u at pc 0x%llx%s%s%s",
		v->id, run->internal.suberror, (unsigned long long)arch_vcpu_pc(v),
		bytes[0] ? " (instruction:" : "", bytes, bytes[0] ? ")" : "");
	if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION)
		log_err("KVM could not emulate that instruction; if this host's "
			"KVM lacks hardware virtualization, hiding the feature "
			"that uses it in [cpu] hide may help (e.g. \"xsave\", \"cx16\")");
}

/* Returns false when the vCPU must stop. */
static bool handle_exit(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct kvm_run *run = v->run;

	switch (run->exit_reason) {
	case KVM_EXIT_IO: {
		uint32_t size = run->io.size;
		uint64_t end = (uint64_t)run->io.data_offset +
			       (uint64_t)run->io.count * size;

		if (size == 0 || size > 4 || end > (uint64_t)vm->run_size)
			return true;
		for (uint32_t i = 0; i < run->io.count; i++)
			bus_access(&vm->pio, run->io.port,
				   (uint8_t *)run + run->io.data_offset + i * size,
				   size, run->io.direction == KVM_EXIT_IO_OUT);
		return true;
	}
	case KVM_EXIT_MMIO:
		bus_access(&vm->mmio, run->mmio.phys_addr, run->mmio.data,
			   run->mmio.len, run->mmio.is_write);
		return true;
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_HLT:
		vm_request_exit(vm, VM_EXIT_POWEROFF, "guest halted its CPU");
		return false;
	case KVM_EXIT_SHUTDOWN:
		log_err("vCPU %u: the guest triple-faulted; its registers then:", v->id);
		arch_vcpu_log_crash(v);
		vm_request_exit(vm, VM_EXIT_REBOOT, "guest triple-faulted (reset)");
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		switch (run->system_event.type) {
		case KVM_SYSTEM_EVENT_SHUTDOWN:
			vm_request_exit(vm, VM_EXIT_POWEROFF, "guest powered off");
			break;
		case KVM_SYSTEM_EVENT_RESET:
			vm_request_exit(vm, VM_EXIT_REBOOT, "guest asked for a reset");
			break;
		case KVM_SYSTEM_EVENT_CRASH:
			vm_request_exit(vm, VM_EXIT_PANIC, "guest reported a crash");
			break;
		default:
			log_warn("vCPU %u: unknown system event %u", v->id,
				 run->system_event.type);
			return true;
		}
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		log_internal_error(v);
		vm_request_exit(vm, VM_EXIT_CRASH, "vCPU stopped on a KVM internal error");
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		log_err("vCPU %u: KVM could not enter the guest (hardware reason 0x%llx)",
			v->id, (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		vm_request_exit(vm, VM_EXIT_CRASH, "vCPU entry failed");
		return false;
	default:
		log_err("vCPU %u: unhandled KVM exit reason %u", v->id, run->exit_reason);
		vm_request_exit(vm, VM_EXIT_CRASH, "vCPU stopped on an unknown exit");
		return false;
	}
}

/* Parks the calling vCPU thread while a pause is requested. The kick that
 * brought it here may have set immediate_exit: clear it for the next run. A
 * stop wakes it too (vcpus_stop broadcasts after setting `stopping`). */
static void vcpu_park(struct vcpu *v)
{
	struct vm *vm = v->vm;

	pthread_mutex_lock(&vm->pause_lock);
	v->run->immediate_exit = 0;
	vm->nparked++;
	pthread_cond_broadcast(&vm->pause_cond);
	while (atomic_load(&vm->pause_requested) && !atomic_load(&vm->stopping))
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	vm->nparked--;
	pthread_mutex_unlock(&vm->pause_lock);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vm *vm = v->vm;
	sigset_t kick;

	sigemptyset(&kick);
	sigaddset(&kick, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &kick, NULL);
	if (sandbox_enter_vcpu(v->fd) < 0) {
		vm_request_exit(vm, VM_EXIT_ERROR, "a vCPU thread could not load its seccomp filter");
		return NULL;
	}
	pthread_mutex_lock(&vm->pause_lock);
	vm->nactive++;
	pthread_mutex_unlock(&vm->pause_lock);

	while (!atomic_load(&vm->stopping)) {
		if (atomic_load(&vm->pause_requested)) {
			vcpu_park(v);
			continue;	/* re-check `stopping` */
		}
		if (v->id == 0 && !atomic_load(&vm->ready)) {
			uint64_t t = vmm_now_us() - vm->t_start_us;

			atomic_store(&vm->t_first_run_us, t);
			log_info("boot: first KVM_RUN at %llu us", (unsigned long long)t);
			atomic_store(&vm->ready, true);
			if (vm->cfg->ready == READY_STARTED)
				vm_notify_ready(vm);
			else if (vm->cfg->ready == READY_USERSPACE)
				notify_send("STATUS=Booting: waiting for the guest's userspace");
			else
				notify_send("STATUS=Booting: waiting for the guest's READY=1");
		}
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			log_err("vCPU %u: KVM_RUN: %m", v->id);
			vm_request_exit(vm, VM_EXIT_CRASH, "KVM_RUN failed");
			break;
		}
		if (!handle_exit(v))
			break;
	}
	pthread_mutex_lock(&vm->pause_lock);
	vm->nactive--;
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	return NULL;
}

static void kick_handler(int sig)
{
	(void)sig;	/* only there to interrupt KVM_RUN */
}

void vcpu_kick_setup(void)
{
	struct sigaction sa = { .sa_handler = kick_handler };

	sigaction(VCPU_KICK_SIGNAL, &sa, NULL);
}

void vcpus_start(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		int ret = vmm_thread_start(&vm->vcpus[i].thread, vcpu_thread, &vm->vcpus[i]);

		if (ret) {
			log_err("starting vCPU %u thread: %s", i, strerror(ret));
			vm_request_exit(vm, VM_EXIT_ERROR, "could not start every vCPU");
			break;
		}
		vm->vcpus[i].started = true;
	}
}

void vcpus_stop(struct vm *vm)
{
	atomic_store(&vm->stopping, true);
	/* Parked vCPUs wake up, see `stopping` and leave. */
	pthread_mutex_lock(&vm->pause_lock);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		if (!vm->vcpus[i].started)
			continue;
		vm->vcpus[i].run->immediate_exit = 1;
		pthread_kill(vm->vcpus[i].thread.id, VCPU_KICK_SIGNAL);
	}
	for (unsigned i = 0; i < vm->nvcpus; i++)
		if (vm->vcpus[i].started)
			vmm_thread_join(&vm->vcpus[i].thread);
}

/* ---- pause and resume ---- */

int vm_pause(struct vm *vm)
{
	struct timespec deadline;
	int ret = 0;

	if (vm_get_state(vm) == VM_STATE_STOPPING)
		return -EBUSY;
	pthread_mutex_lock(&vm->pause_lock);
	if (atomic_load(&vm->pause_requested))
		goto out;
	atomic_store(&vm->pause_requested, true);
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		if (!vm->vcpus[i].started)
			continue;
		vm->vcpus[i].run->immediate_exit = 1;
		pthread_kill(vm->vcpus[i].thread.id, VCPU_KICK_SIGNAL);
	}
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 2;
	while (vm->nparked < vm->nactive && ret == 0)
		ret = pthread_cond_timedwait(&vm->pause_cond, &vm->pause_lock, &deadline);
	if (vm->nparked < vm->nactive) {
		log_warn("pause: %u of %u vCPUs did not stop; resuming", vm->nactive - vm->nparked,
			 vm->nactive);
		atomic_store(&vm->pause_requested, false);
		pthread_cond_broadcast(&vm->pause_cond);
		ret = -ETIMEDOUT;
		goto out;
	}
	ret = 0;
	log_notice("VM paused");
	notify_send("STATUS=Paused");
out:
	pthread_mutex_unlock(&vm->pause_lock);
	return ret;
}

int vm_resume(struct vm *vm)
{
	if (vm_get_state(vm) == VM_STATE_STOPPING)
		return -EBUSY;
	pthread_mutex_lock(&vm->pause_lock);
	if (atomic_load(&vm->pause_requested)) {
		atomic_store(&vm->pause_requested, false);
		pthread_cond_broadcast(&vm->pause_cond);
		log_notice("VM resumed");
		notify_send(atomic_load(&vm->ready) ? "STATUS=Running" : "STATUS=Starting");
	}
	pthread_mutex_unlock(&vm->pause_lock);
	return 0;
}
