/* A fake of devices/host.h for unit tests and fuzzers: a transport attached
 * to it gets real guest memory, an MMIO bus and an I/O thread, while the
 * KVM side (interrupt lines, MSI routes, ioeventfds) is only recorded for
 * the test to check. Cleanups run, last registered first, in
 * fake_host_destroy. */
#ifndef VMM_TESTS_FAKE_HOST_H
#define VMM_TESTS_FAKE_HOST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "host.h"
#include "iothread.h"
#include "memory.h"

#define FAKE_HOST_GSIS		256	/* lines whose level is recorded */
#define FAKE_HOST_CLEANUPS	32
#define FAKE_HOST_MSI_GSI	24	/* the first GSI msi_alloc hands out */

struct fake_host {
	struct dev_host host;		/* what the transport is given */
	struct guest_mem mem;
	struct io_bus mmio;
	struct iothread io;

	/* set_irq, possibly from the I/O thread: the last level of each line
	 * (-1 until set), and how many calls; a GSI past the table fails. */
	atomic_int irq_level[FAKE_HOST_GSIS];
	atomic_uint irq_calls;

	/* msi_alloc: 0 hands out a fresh eventfd and the next GSI; anything
	 * else is returned as the error. */
	int msi_error;
	uint32_t next_gsi;
	unsigned msi_allocs;
	unsigned msi_routes;		/* msi_route calls */
	uint32_t msi_route_devid;	/* the last one's requester ID */

	/* ioeventfd: how many, and the last registration's arguments. */
	unsigned ioeventfds;
	uint64_t ioeventfd_addr, ioeventfd_data;
	uint32_t ioeventfd_len;
	bool ioeventfd_datamatch;

	struct { void (*fn)(void *); void *opaque; } cleanups[FAKE_HOST_CLEANUPS];
	unsigned ncleanups;
};

/* `ram` bytes of guest memory from gpa 0, an empty "mmio" bus, an I/O
 * thread (not started). Returns 0 or -errno. */
int fake_host_init(struct fake_host *f, uint64_t ram);
/* Stops the I/O thread, runs the cleanups in reverse, frees the rest. */
void fake_host_destroy(struct fake_host *f);

#endif
