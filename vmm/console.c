/* The console: the serial port every architecture puts it on, where its
 * output goes ([console] mode), the ring of its last output that `vmm ctl
 * NAME console` replays and streams (whatever the mode, "off" included), and
 * the boot marks its first bytes give. */
#include "vm-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "console_ring.h"
#include "log.h"
#include "safe_open.h"
#include "serial.h"

int vm_console_open(struct vm *vm)
{
	const struct vm_config *c = vm->cfg;

	vm->console_ring = console_ring_new();
	if (!vm->console_ring)
		return -ENOMEM;
	switch (c->console_mode) {
	case CONSOLE_STDIO:
		vm->console_out = STDOUT_FILENO;
		return 0;
	case CONSOLE_FILE:
		vm->console_out = safe_open(c->console_path,
				       O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
		if (vm->console_out < 0) {
			log_err("console.path %s: %m", c->console_path);
			return -errno;
		}
		return 0;	/* its size cap is set with the serial port's */
	default:
		vm->console_out = -1;
		return 0;
	}
}

void vm_console_close(struct vm *vm)
{
	serial_free(vm->serial);
	vm->serial = NULL;
	console_ring_free(vm->console_ring);
	vm->console_ring = NULL;
	if (vm->console_out > STDERR_FILENO)
		close(vm->console_out);
	vm->console_out = -1;
}

/* Written by the main thread around its event loop only, while no vCPU
 * thread runs. */
static int rx_space_fd = -1;

void vm_console_set_rx_fd(int fd)
{
	rx_space_fd = fd;
}

/* The serial port's rx_space: a vCPU thread drained the input buffer.
 * Both feeds wait for it: stdin and an attached console client. */
static void console_rx_space(void *ctx)
{
	struct vm *vm = ctx;
	uint64_t one = 1;

	if (rx_space_fd >= 0 && write(rx_space_fd, &one, sizeof(one)) < 0) {
		/* eventfd counter saturation is harmless */
	}
	console_ring_kick(vm->console_ring);
}

static void console_output(void *ctx, uint8_t c)
{
	struct vm *vm = ctx;

	console_ring_put(vm->console_ring, &c, 1);
}

void vm_console_attach(struct vm *vm, int notify_fd)
{
	console_ring_set_notify(vm->console_ring, notify_fd);
}

size_t vm_console_read(struct vm *vm, uint64_t *pos, uint8_t *buf, size_t len,
		       uint64_t *skipped)
{
	return console_ring_read(vm->console_ring, pos, buf, len, skipped);
}

size_t vm_console_write(struct vm *vm, const uint8_t *buf, size_t len)
{
	return vm->serial ? serial_push_input(vm->serial, buf, len) : 0;
}

static void console_first_tx(void *ctx)
{
	struct vm *vm = ctx;

	atomic_store(&vm->t_first_serial_us, vmm_now_us() - vm->t_start_us);
}

/* Logged once the guest's first line is complete, so as not to split it. */
static void console_first_line(void *ctx)
{
	struct vm *vm = ctx;

	log_info("boot: guest's first serial byte at %llu us",
		 (unsigned long long)atomic_load(&vm->t_first_serial_us));
}

struct serial *vm_console_serial_new(struct vm *vm, void (*set_irq)(void *vm, int level))
{
	struct serial_ops ops = {
		.set_irq = set_irq, .rx_space = console_rx_space,
		.first_tx = console_first_tx, .first_line = console_first_line,
		.output = console_output, .ctx = vm,
	};

	const struct vm_config *c = vm->cfg;
	struct serial *s = serial_new(vm->console_out, &ops);
	struct stat st;

	/* A guest must not fill the host's disk through its console, nor
	 * restarts of a crashing one: what the file holds already counts. */
	if (s && c->console_mode == CONSOLE_FILE && fstat(vm->console_out, &st) == 0 &&
	    S_ISREG(st.st_mode))
		serial_set_out_limit(s, c->console_max_size_mib << 20, (uint64_t)st.st_size);
	return s;
}
