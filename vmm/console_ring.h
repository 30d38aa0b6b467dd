/* The last CONSOLE_RING_SIZE bytes of the guest's serial output, kept for
 * `vmm ctl NAME console` to replay on attach and to stream from: written by
 * the vCPU threads, read by the main thread, never blocking the writer. */
#ifndef VMM_CONSOLE_RING_H
#define VMM_CONSOLE_RING_H

#include <stddef.h>
#include <stdint.h>

#define CONSOLE_RING_SIZE (64 * 1024)

struct console_ring;

/* NULL when out of memory. */
struct console_ring *console_ring_new(void);
void console_ring_free(struct console_ring *r);

/* Any thread: appends `len` bytes, dropping the oldest beyond
 * CONSOLE_RING_SIZE, and writes the notify eventfd if one is set and no
 * write since the last console_ring_read is pending: one wakeup per burst,
 * whatever the reader does. */
void console_ring_put(struct console_ring *r, const uint8_t *buf, size_t len);

/* The reader: copies at most `len` bytes of output from position *pos on
 * (positions count every byte ever put, from 0) and returns how many.
 * *pos is not advanced by what is copied (the caller advances it by what it
 * could pass on); a *pos older than the oldest byte kept moves there, with
 * the number of bytes passed over in *skipped (0 otherwise). A read of 0
 * bytes at *pos = 0 positions a new reader at the oldest byte kept. Re-arms
 * the notification. */
size_t console_ring_read(struct console_ring *r, uint64_t *pos, uint8_t *buf, size_t len,
			 uint64_t *skipped);

/* Sets the eventfd console_ring_put and console_ring_kick write (-1: none).
 * Any thread. */
void console_ring_set_notify(struct console_ring *r, int fd);

/* Writes the notify eventfd now, if set: the guest made room for input. */
void console_ring_kick(struct console_ring *r);

#endif
