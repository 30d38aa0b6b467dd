/* See fuzz_host.h. */
#include "fuzz_host.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "iothread.h"

#define WATCHES_MAX	64

static struct { int fd; io_handler_fn fn; void *opaque; } watches[WATCHES_MAX];
static unsigned nwatches;

int __real_iothread_add(struct iothread *t, int fd, io_handler_fn fn, void *opaque);
int __wrap_iothread_add(struct iothread *t, int fd, io_handler_fn fn, void *opaque);

int __wrap_iothread_add(struct iothread *t, int fd, io_handler_fn fn, void *opaque)
{
	int ret = __real_iothread_add(t, fd, fn, opaque);

	if (ret == 0 && nwatches < WATCHES_MAX) {
		watches[nwatches].fd = fd;
		watches[nwatches].fn = fn;
		watches[nwatches].opaque = opaque;
		nwatches++;
	}
	return ret;
}

int fuzz_host_init(struct fake_host *f, size_t ram)
{
	int ret = fake_host_init(f, 4096);
	uint8_t *p;

	if (ret < 0)
		return ret;
	gm_destroy(&f->mem);	/* memfd -1, nothing mapped */
	p = calloc(1, ram);
	fuzz_trap_unless(p != NULL);
	f->mem.total = ram;
	f->mem.nregions = 1;
	f->mem.regions[0] = (struct guest_region){ 0, ram, 0, p };
	return 0;
}

void fuzz_host_destroy(struct fake_host *f)
{
	uint8_t *p = f->mem.regions[0].hva;

	memset(&f->mem, 0, sizeof(f->mem));
	f->mem.memfd = -1;	/* fake_host_destroy's gm_destroy: nothing to do */
	fake_host_destroy(f);
	free(p);
	nwatches = 0;
}

unsigned fuzz_io_run(unsigned rounds)
{
	unsigned ran = 0;

	for (unsigned r = 0; r < rounds; r++) {
		struct pollfd pfd[WATCHES_MAX];
		unsigned n = nwatches;

		for (unsigned i = 0; i < n; i++)
			pfd[i] = (struct pollfd){ .fd = watches[i].fd, .events = POLLIN };
		if (poll(pfd, n, 0) <= 0)
			break;
		for (unsigned i = 0; i < n; i++) {
			if (pfd[i].revents & POLLIN) {
				watches[i].fn(watches[i].opaque, (uint32_t)pfd[i].revents);
				ran++;
			}
		}
	}
	return ran;
}
