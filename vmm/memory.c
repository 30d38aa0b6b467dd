/* Guest memory: anonymous, or memfd-backed and MAP_SHARED where a vhost-user
 * backend must map the same pages; in transparent huge pages where the host
 * allows; with one bounds-checked accessor family. */
#include "memory.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Guest RAM starts on a 2 MiB boundary of our address space: KVM maps a
 * host huge page as one nested-paging entry only when guest-physical and
 * host-virtual addresses agree modulo 2 MiB, and mmap() gives no such
 * alignment for anonymous memory (QEMU aligns its RAM the same way). */
#define GUEST_MEM_ALIGN (2ULL << 20)

/* Maps `size` bytes of RAM (from `fd`, or anonymous for fd < 0) at a
 * GUEST_MEM_ALIGN-aligned address; MAP_FAILED with errno on failure. */
static void *map_aligned(uint64_t size, int fd)
{
	uint8_t *resv, *p, *want;
	uint64_t head, tail;

	resv = mmap(NULL, size + GUEST_MEM_ALIGN, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (resv == MAP_FAILED)
		return MAP_FAILED;
	want = (uint8_t *)(((uintptr_t)resv + GUEST_MEM_ALIGN - 1) & ~(uintptr_t)(GUEST_MEM_ALIGN - 1));
	if (fd >= 0)
		p = mmap(want, size, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_NORESERVE | MAP_FIXED, fd, 0);
	else
		p = mmap(want, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
	if (p == MAP_FAILED) {
		int e = errno;

		munmap(resv, size + GUEST_MEM_ALIGN);
		errno = e;
		return MAP_FAILED;
	}
	head = (uint64_t)(want - resv);
	tail = GUEST_MEM_ALIGN - head;
	if (head)
		munmap(resv, head);
	if (tail)
		munmap(want + size, tail);
	return p;
}

int gm_init(struct guest_mem *m, uint64_t base_gpa, uint64_t size,
	    uint64_t hole_start, uint64_t hole_end)
{
	return gm_init_kind(m, base_gpa, size, hole_start, hole_end, true, true);
}

int gm_init_kind(struct guest_mem *m, uint64_t base_gpa, uint64_t size,
		 uint64_t hole_start, uint64_t hole_end, bool shared, bool huge)
{
	uint64_t low;
	void *p;
	int fd = -1;

	memset(m, 0, sizeof(*m));
	m->memfd = -1;
	if (size == 0 || size & 0xfff || base_gpa & 0xfff)
		return -EINVAL;
	if (base_gpa + size < base_gpa)
		return -EINVAL;
	if (shared) {
		fd = memfd_create("guest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (fd < 0)
			return -errno;
		if (ftruncate(fd, (off_t)size) < 0) {
			int e = errno;
			close(fd);
			return -e;
		}
		/* The size is fixed for the VM's life: a backend mapping it must
		 * never see it shrink under it. */
		(void)fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	}
	p = map_aligned(size, fd);
	if (p == MAP_FAILED) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return -e;
	}
	(void)madvise(p, size, MADV_DONTDUMP);
	/* Not in children: vmm forks its process launcher (vmm/sandbox.c) after
	 * the kernel is loaded, and a private mapping shared with a child turns
	 * every later write to those pages into a copy-on-write copy, the
	 * child keeping the originals (tens of MiB per VM). */
	if (madvise(p, size, MADV_DONTFORK) < 0) {
		int e = errno;

		munmap(p, size);
		if (fd >= 0)
			close(fd);
		return -e;
	}
	/* Huge pages: one nested-paging fault and one TLB entry per 2 MiB
	 * instead of per 4 KiB. A guest's boot touches tens of MiB: with 4 KiB
	 * pages that is thousands of EPT/NPT faults more (3-5x slower to the
	 * kernel's first line in the nested test host, docs/performance.md).
	 * Anonymous memory gets them with THP "always" or "madvise"; shared
	 * memory only where shmem_enabled allows ("advise" or more; Debian's
	 * default is "never"). Advice, not a requirement: failure is harmless.
	 * Without `huge`, the opposite advice: 4 KiB pages even where THP is
	 * "always" (a host short of memory, a test host whose nested paging
	 * is unreliable with 2 MiB pages: docs/performance.md). */
	(void)madvise(p, size, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	m->memfd = fd;
	m->base = p;
	m->total = size;

	low = size;
	if (hole_start < hole_end && base_gpa + size > hole_start) {
		if (hole_start <= base_gpa) {
			munmap(p, size);
			close(fd);
			memset(m, 0, sizeof(*m));
			m->memfd = -1;
			return -EINVAL;
		}
		low = hole_start - base_gpa;
	}
	m->regions[0] = (struct guest_region){ base_gpa, low, 0, m->base };
	m->nregions = 1;
	if (low < size) {
		m->regions[1] = (struct guest_region){ hole_end, size - low, low,
						       m->base + low };
		m->nregions = 2;
	}
	return 0;
}

int gm_merge(const struct guest_mem *m)
{
	/* KSM takes the advice on a MAP_SHARED mapping and ignores it. */
	if (m->memfd >= 0)
		return -EOPNOTSUPP;
	if (madvise(m->base, m->total, MADV_MERGEABLE) < 0)
		return -errno;
	return 0;
}

void gm_destroy(struct guest_mem *m)
{
	if (m->base)
		munmap(m->base, m->total);
	if (m->memfd >= 0)
		close(m->memfd);
	memset(m, 0, sizeof(*m));
	m->memfd = -1;
}

void *gm_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < m->nregions; i++) {
		const struct guest_region *r = &m->regions[i];

		if (gpa < r->gpa)
			continue;
		uint64_t off = gpa - r->gpa;
		if (off >= r->size || len > r->size - off)
			continue;
		return r->hva + off;
	}
	return NULL;
}

int gm_valid(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	return gm_ptr(m, gpa, len ? len : 1) != NULL;
}

int gm_read(const struct guest_mem *m, uint64_t gpa, void *dst, size_t len)
{
	void *p = gm_ptr(m, gpa, len ? len : 1);

	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}

int gm_write(const struct guest_mem *m, uint64_t gpa, const void *src, size_t len)
{
	void *p = gm_ptr(m, gpa, len ? len : 1);

	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}

int gm_zero(const struct guest_mem *m, uint64_t gpa, size_t len)
{
	void *p = gm_ptr(m, gpa, len ? len : 1);

	if (!p)
		return -EFAULT;
	memset(p, 0, len);
	return 0;
}

uint64_t gm_low_end(const struct guest_mem *m)
{
	return m->regions[0].gpa + m->regions[0].size;
}

int gm_discard(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	const struct guest_region *r = NULL;
	uint8_t *p;

	if (len == 0 || (gpa | len) & 0xfff)
		return -EINVAL;
	p = gm_ptr(m, gpa, len);
	if (!p)
		return -EFAULT;
	for (unsigned i = 0; i < m->nregions && !r; i++)
		if (p >= m->regions[i].hva && p < m->regions[i].hva + m->regions[i].size)
			r = &m->regions[i];
	/* Shared memfd: free the file's pages, which every mapping (a
	 * vhost-user backend's too) then reads as zeroes; MADV_DONTNEED would
	 * only drop our page table entries and free nothing. */
	if (m->memfd >= 0) {
		off_t off = (off_t)(r->fd_offset + (uint64_t)(p - r->hva));

		if (fallocate(m->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off,
			      (off_t)len) < 0)
			return -errno;
		return 0;
	}
	if (madvise(p, len, MADV_DONTNEED) < 0)
		return -errno;
	return 0;
}
