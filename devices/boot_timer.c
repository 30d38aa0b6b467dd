/* The boot-timer MMIO device: see boot_timer.h. Needs no syscall of its own
 * (the vCPU seccomp filter applies); the callback does the logging. */
#include "boot_timer.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct boot_timer {
	boot_timer_fn ready;
	void *ctx;
	atomic_bool fired;
};

struct boot_timer *boot_timer_new(boot_timer_fn ready, void *ctx)
{
	struct boot_timer *bt = calloc(1, sizeof(*bt));

	if (!bt)
		return NULL;
	bt->ready = ready;
	bt->ctx = ctx;
	atomic_init(&bt->fired, false);
	return bt;
}

void boot_timer_free(struct boot_timer *bt)
{
	free(bt);
}

void boot_timer_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		   bool is_write)
{
	struct boot_timer *bt = opaque;

	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	if (offset != 0 || len == 0 || data[0] != BOOT_TIMER_MAGIC)
		return;
	/* Only the first write counts: a guest looping on it must not flood
	 * the log. */
	if (!atomic_exchange(&bt->fired, true) && bt->ready)
		bt->ready(bt->ctx);
}
