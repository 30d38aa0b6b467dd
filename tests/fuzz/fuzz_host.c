/* See fuzz_host.h. */
#include "fuzz_host.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "iothread.h"
#include "virtio/blk.h"
#include "virtio/rng.h"

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

struct virtio_dev *fuzz_dev_new(bool blk)
{
	static char img[64];	/* /proc/self/fd/N of a memfd: the image */
	static int img_fd = -1;
	struct disk_config dc = { .path = img };
	struct virtio_dev *d = NULL;

	if (!blk)
		return virtio_rng_new();
	if (img_fd < 0) {
		img_fd = memfd_create("fuzz-img", MFD_CLOEXEC);
		fuzz_trap_unless(img_fd >= 0);
		snprintf(img, sizeof(img), "/proc/self/fd/%d", img_fd);
	}
	fuzz_trap_unless(ftruncate(img_fd, 0) == 0 && ftruncate(img_fd, 64 * 1024) == 0);
	strcpy(dc.serial, "fuzz");
	fuzz_trap_unless(virtio_blk_new(&dc, 0, NULL, &d) == 0);
	return d;
}

void fuzz_dev_free(struct virtio_dev *vd, bool blk)
{
	if (blk)
		virtio_blk_free(vd);
	else
		virtio_rng_free(vd);
}
