/* Guest physical memory: one host mapping (anonymous private memory, or a
 * sealed memfd mapped MAP_SHARED when a vhost-user backend must map it too),
 * split into regions around the architecture's MMIO hole. Every
 * guest-physical access in the VMM goes through the checked accessors below
 * (gm_*: every function on a struct guest_mem carries that prefix);
 * nothing else does arithmetic on guest addresses. */
#ifndef VMM_MEMORY_H
#define VMM_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUEST_MEM_MAX_REGIONS 2

struct guest_region {
	uint64_t gpa;		/* first guest-physical address */
	uint64_t size;		/* bytes */
	uint64_t fd_offset;	/* offset of this region inside the mapping (and memfd) */
	uint8_t *hva;		/* host mapping */
};

struct guest_mem {
	int memfd;		/* the shared memfd, or -1 for private memory */
	uint64_t total;		/* sum of region sizes */
	unsigned nregions;
	struct guest_region regions[GUEST_MEM_MAX_REGIONS];
	uint8_t *base;		/* one mapping of all the regions */
};

/*
 * Creates `size` bytes of guest RAM starting at guest-physical 0. If
 * `hole_start` < `hole_end` and RAM reaches past hole_start, RAM is split:
 * [0, hole_start) and [hole_end, hole_end + rest). Pass hole_start ==
 * hole_end for no hole. `base_gpa` shifts the whole layout (aarch64 RAM
 * starts at 2 GiB). Returns 0 or -errno.
 */
int gm_init(struct guest_mem *m, uint64_t base_gpa, uint64_t size,
	    uint64_t hole_start, uint64_t hole_end);
/* The same, choosing the backing: `shared` (what gm_init does) is a
 * sealed memfd mapped MAP_SHARED, whose fd vhost-user backends map
 * (m->memfd); otherwise anonymous private memory (m->memfd = -1), which
 * hosts back with transparent huge pages by default. `huge` (what
 * gm_init does) advises MADV_HUGEPAGE, else MADV_NOHUGEPAGE. */
int gm_init_kind(struct guest_mem *m, uint64_t base_gpa, uint64_t size,
		 uint64_t hole_start, uint64_t hole_end, bool shared, bool huge);
/* Offers private (not `shared`) guest RAM to same-page merging (KSM,
 * MADV_MERGEABLE). Returns 0, -EOPNOTSUPP for shared RAM, which the kernel
 * would silently not merge, or madvise's -errno: -EINVAL on a kernel
 * without CONFIG_KSM. */
int gm_merge(const struct guest_mem *m);
void gm_destroy(struct guest_mem *m);

/* Host pointer for [gpa, gpa+len) when the whole range lies inside one
 * region; NULL otherwise (including len == 0 with an invalid gpa and any
 * overflow of gpa+len). */
void *gm_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len);

/* Copy in/out; ranges may span regions only if contiguous in guest-physical
 * space (they never are across the hole). Return 0 or -EFAULT. */
int gm_read(const struct guest_mem *m, uint64_t gpa, void *dst, size_t len);
int gm_write(const struct guest_mem *m, uint64_t gpa, const void *src, size_t len);
/* Fill with zero bytes. */
int gm_zero(const struct guest_mem *m, uint64_t gpa, size_t len);

/* True when [gpa, gpa+len) is guest RAM. */
int gm_valid(const struct guest_mem *m, uint64_t gpa, uint64_t len);

/* Gives [gpa, gpa+len) back to the host (virtio-balloon): the guest reads
 * zeroes there next time, and the host has the memory meanwhile. gpa and
 * len are 4 KiB aligned and the range lies inside one region: -EINVAL,
 * -EFAULT otherwise, nothing done. Private memory: MADV_DONTNEED; the
 * shared memfd: a hole punched in the file (FALLOC_FL_PUNCH_HOLE), so a
 * backend's mapping sees the same zeroes. Transparent huge pages: a range
 * smaller than a 2 MiB page splits it; anonymous memory frees the 4 KiB
 * pages at once, shmem may only zero them until the kernel splits the
 * huge page. Returns 0 or -errno. */
int gm_discard(const struct guest_mem *m, uint64_t gpa, uint64_t len);

/* Highest RAM address + 1 below `limit` in the region containing 0 or the
 * first region (used for "top of low memory"). */
uint64_t gm_low_end(const struct guest_mem *m);

#endif
