/* Boot timer, as in Firecracker: one MMIO page where the guest's init writes
 * BOOT_TIMER_MAGIC once userspace is up, so the VMM can log how long the
 * whole boot took from its own exec. Reads return 0. */
#ifndef VMM_BOOT_TIMER_H
#define VMM_BOOT_TIMER_H

#include <stdbool.h>
#include <stdint.h>

#define BOOT_TIMER_MAGIC	123u
#define BOOT_TIMER_SIZE		0x1000ULL

struct boot_timer;

/* Called once, from the vCPU thread, on the first magic write. */
typedef void (*boot_timer_fn)(void *ctx);

struct boot_timer *boot_timer_new(boot_timer_fn ready, void *ctx);
void boot_timer_free(struct boot_timer *bt);

/* The bus handler: a write of BOOT_TIMER_MAGIC at offset 0 (any width,
 * low byte) fires `ready`; everything else is ignored. */
void boot_timer_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		   bool is_write);

#endif
