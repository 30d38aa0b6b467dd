/* The console's output ring; see console_ring.h. One mutex, held for a
 * memcpy at most: the vCPU thread that transmits never waits on the reader
 * for longer, and never on its client at all. */
#include "console_ring.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct console_ring {
	pthread_mutex_t lock;
	uint64_t total;			/* bytes ever put; the next one's position */
	atomic_int notify_fd;		/* -1: nobody to tell */
	atomic_bool pending;		/* notify_fd written since the last read */
	uint8_t buf[CONSOLE_RING_SIZE];
};

struct console_ring *console_ring_new(void)
{
	struct console_ring *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	pthread_mutex_init(&r->lock, NULL);
	atomic_init(&r->notify_fd, -1);
	return r;
}

void console_ring_free(struct console_ring *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->lock);
	free(r);
}

static void notify(struct console_ring *r)
{
	uint64_t one = 1;
	int fd = atomic_load(&r->notify_fd);

	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0) {
		/* eventfd counter saturation is harmless: it is readable */
	}
}

void console_ring_put(struct console_ring *r, const uint8_t *buf, size_t len)
{
	pthread_mutex_lock(&r->lock);
	if (len > CONSOLE_RING_SIZE) {	/* only the tail can be kept */
		r->total += len - CONSOLE_RING_SIZE;
		buf += len - CONSOLE_RING_SIZE;
		len = CONSOLE_RING_SIZE;
	}
	while (len) {
		size_t at = (size_t)(r->total % CONSOLE_RING_SIZE);
		size_t n = CONSOLE_RING_SIZE - at < len ? CONSOLE_RING_SIZE - at : len;

		memcpy(r->buf + at, buf, n);
		r->total += n;
		buf += n;
		len -= n;
	}
	pthread_mutex_unlock(&r->lock);
	if (atomic_load(&r->notify_fd) >= 0 && !atomic_exchange(&r->pending, true))
		notify(r);
}

size_t console_ring_read(struct console_ring *r, uint64_t *pos, uint8_t *buf, size_t len,
			 uint64_t *skipped)
{
	uint64_t oldest;
	size_t got = 0;

	/* Before the copy: a put after it notifies again. */
	atomic_store(&r->pending, false);
	pthread_mutex_lock(&r->lock);
	oldest = r->total > CONSOLE_RING_SIZE ? r->total - CONSOLE_RING_SIZE : 0;
	*skipped = 0;
	if (*pos < oldest) {
		*skipped = oldest - *pos;
		*pos = oldest;
	}
	if (*pos > r->total)	/* a caller's bug; nothing to give */
		*pos = r->total;
	while (got < len && *pos + got < r->total) {
		size_t at = (size_t)((*pos + got) % CONSOLE_RING_SIZE);
		uint64_t left = r->total - (*pos + got);
		size_t n = CONSOLE_RING_SIZE - at;

		if (n > left)
			n = (size_t)left;
		if (n > len - got)
			n = len - got;
		memcpy(buf + got, r->buf + at, n);
		got += n;
	}
	pthread_mutex_unlock(&r->lock);
	return got;
}

void console_ring_set_notify(struct console_ring *r, int fd)
{
	atomic_store(&r->notify_fd, fd);
	atomic_store(&r->pending, false);
}

void console_ring_kick(struct console_ring *r)
{
	notify(r);
}
