/* What the transport fuzzers (fuzz_virtio_pci, fuzz_virtio_mmio,
 * fuzz_pci_config) share: the fake host of tests/fake with its guest RAM
 * swapped for one heap buffer, so that ASan's redzones catch a device
 * access that leaves it, and the I/O thread's work done synchronously in
 * the fuzzer's thread. Linked with -Wl,--wrap=iothread_add, which records
 * each watch (tests/fuzz/meson.build). */
#ifndef VMM_TESTS_FUZZ_HOST_H
#define VMM_TESTS_FUZZ_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fake_host.h"

/* fake_host_init, then `ram` bytes of guest RAM from gpa 0 on the heap. */
int fuzz_host_init(struct fake_host *f, size_t ram);
/* fake_host_destroy (the transports' cleanups run), frees the RAM, forgets
 * the watches. */
void fuzz_host_destroy(struct fake_host *f);
/* Runs the handler of every watched fd that is readable, as the I/O thread
 * would, until none is (at most `rounds` passes). Returns how many ran. */
unsigned fuzz_io_run(unsigned rounds);

struct virtio_dev;
/* The device a transport fuzzer drives: virtio-rng, or with `blk` a
 * virtio-blk on a 64 KiB image (a memfd, zeroed for every input, so that
 * what one input wrote does not reach the next). fuzz_dev_free frees
 * either. */
struct virtio_dev *fuzz_dev_new(bool blk);
void fuzz_dev_free(struct virtio_dev *vd, bool blk);

static inline void fuzz_trap_unless(bool ok)
{
	if (!ok)
		__builtin_trap();
}

#endif
