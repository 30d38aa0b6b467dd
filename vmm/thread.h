/* vmm's own threads (vCPUs, the I/O thread) on stacks that stay out of
 * transparent huge pages. */
#ifndef VMM_THREAD_H
#define VMM_THREAD_H

#include <pthread.h>
#include <stddef.h>

/* The stack's size: glibc's default (RLIMIT_STACK, 8 MiB on Debian), which
 * the threads ran on before. Address space only: a page costs memory once
 * touched, and the threads touch tens of KiB. */
#define VMM_THREAD_STACK (8u << 20)

struct vmm_thread {
	pthread_t id;
	void *map;	/* guard page and stack; NULL when not started */
	size_t map_size;
};

/* Starts fn(arg) on a stack of VMM_THREAD_STACK bytes below a guard page,
 * advised MADV_NOHUGEPAGE before its first touch: with THP "always" (the
 * test host's setting, and many distributions'), a fresh thread stack whose
 * top 2 MiB lie aligned gets a huge page at once, 2 MiB of RSS for a few KiB
 * used; glibc's own stacks have no way to refuse it. 0, or a positive errno
 * value as pthread_create returns. */
int vmm_thread_start(struct vmm_thread *t, void *(*fn)(void *), void *arg);

/* Joins a started thread and unmaps its stack. */
void vmm_thread_join(struct vmm_thread *t);

#endif
