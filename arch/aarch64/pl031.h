/* ARM PL031 real-time clock: seconds since the epoch, settable by the guest. */
#ifndef VMM_ARM64_PL031_H
#define VMM_ARM64_PL031_H

#include <stdbool.h>
#include <stdint.h>

struct pl031;

struct pl031 *pl031_new(void);
void pl031_free(struct pl031 *rtc);
/* The bus handler for its 4 KiB page. */
void pl031_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

#endif
