/* Guest memory: memfd-backed, MAP_SHARED so vhost-user backends can map the
 * same pages, with one bounds-checked accessor family. */
#include "memory.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int guest_mem_init(struct guest_mem *m, uint64_t base_gpa, uint64_t size,
		   uint64_t hole_start, uint64_t hole_end)
{
	uint64_t low;
	void *p;
	int fd;

	memset(m, 0, sizeof(*m));
	m->memfd = -1;
	if (size == 0 || size & 0xfff || base_gpa & 0xfff)
		return -EINVAL;
	if (base_gpa + size < base_gpa)
		return -EINVAL;
	fd = memfd_create("guest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	/* The size is fixed for the VM's life: a backend mapping it must never
	 * see it shrink under it. */
	(void)fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
		 fd, 0);
	if (p == MAP_FAILED) {
		int e = errno;
		close(fd);
		return -e;
	}
	(void)madvise(p, size, MADV_DONTDUMP);
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

void guest_mem_destroy(struct guest_mem *m)
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
