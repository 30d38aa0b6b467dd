/* vmm's threads on stacks of their own; see thread.h. */
#include "thread.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

int vmm_thread_start(struct vmm_thread *t, void *(*fn)(void *), void *arg)
{
	size_t guard = (size_t)sysconf(_SC_PAGESIZE);
	size_t size = VMM_THREAD_STACK + guard;
	pthread_attr_t attr;
	void *map;
	int r;

	t->map = NULL;
	/* Without MAP_STACK, which means MADV_NOHUGEPAGE only from Linux 6.8
	 * on (Debian 12 has 6.1): the advice below says it on every kernel,
	 * and test_thread sees the difference wherever it runs. */
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		return errno;
	/* Before anything touches it: pthread_create writes the thread's
	 * descriptor and TLS at the top. The guard stays its own mapping. */
	if (madvise(map, size, MADV_NOHUGEPAGE) < 0 ||
	    mprotect(map, guard, PROT_NONE) < 0) {
		r = errno;
		munmap(map, size);
		return r;
	}
	r = pthread_attr_init(&attr);
	if (!r) {
		r = pthread_attr_setstack(&attr, (char *)map + guard, VMM_THREAD_STACK);
		if (!r)
			r = pthread_create(&t->id, &attr, fn, arg);
		pthread_attr_destroy(&attr);
	}
	if (r) {
		munmap(map, size);
		return r;
	}
	t->map = map;
	t->map_size = size;
	return 0;
}

void vmm_thread_join(struct vmm_thread *t)
{
	pthread_join(t->id, NULL);
	if (t->map)
		munmap(t->map, t->map_size);
	t->map = NULL;
}
