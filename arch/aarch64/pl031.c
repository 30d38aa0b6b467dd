/* ARM PL031 real-time clock (DDI 0224): the counter runs from the host's
 * wall clock plus whatever offset the guest set through the load register.
 * The match interrupt is not modelled (Linux uses it only for alarms). */
#include "pl031.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RTC_DR		0x00	/* data: current count (read-only) */
#define RTC_MR		0x04	/* match */
#define RTC_LR		0x08	/* load: sets the count */
#define RTC_CR		0x0c	/* control: bit 0 starts the counter (stays 1) */
#define RTC_IMSC	0x10	/* interrupt mask */
#define RTC_RIS		0x14	/* raw interrupt status */
#define RTC_MIS		0x18	/* masked interrupt status */
#define RTC_ICR		0x1c	/* interrupt clear */
#define RTC_ID		0xfe0	/* PeriphID0-3, PCellID0-3: AMBA identification */

/* Part 0x031, designer ARM (0x41), revision 1; the PrimeCell signature. */
static const uint8_t pl031_id[8] = { 0x31, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1 };

struct pl031 {
	pthread_mutex_t lock;
	int64_t offset;		/* guest count - host seconds */
	uint32_t mr, imsc;
};

struct pl031 *pl031_new(void)
{
	struct pl031 *rtc = calloc(1, sizeof(*rtc));

	if (rtc)
		pthread_mutex_init(&rtc->lock, NULL);
	return rtc;
}

void pl031_free(struct pl031 *rtc)
{
	if (!rtc)
		return;
	pthread_mutex_destroy(&rtc->lock);
	free(rtc);
}

static int64_t host_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

void pl031_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct pl031 *rtc = opaque;
	uint32_t v = 0;

	/* Registers are 32 bits wide and word-aligned; other accesses read 0
	 * and are ignored when written. */
	if (len != 4 || offset % 4) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	if (is_write)
		memcpy(&v, data, 4);
	pthread_mutex_lock(&rtc->lock);
	if (is_write) {
		switch (offset) {
		case RTC_MR: rtc->mr = v; break;
		case RTC_LR: rtc->offset = (int64_t)v - host_seconds(); break;
		case RTC_IMSC: rtc->imsc = v & 1; break;
		default: break;	/* CR (always started), ICR (nothing pending) */
		}
	} else {
		switch (offset) {
		case RTC_DR: v = (uint32_t)(host_seconds() + rtc->offset); break;
		case RTC_MR: v = rtc->mr; break;
		case RTC_LR: v = (uint32_t)(host_seconds() + rtc->offset); break;
		case RTC_CR: v = 1; break;
		case RTC_IMSC: v = rtc->imsc; break;
		default:
			if (offset >= RTC_ID && offset < RTC_ID + 8 * 4)
				v = pl031_id[(offset - RTC_ID) / 4];
			break;	/* RIS, MIS: no interrupt is ever raised */
		}
		memcpy(data, &v, 4);
	}
	pthread_mutex_unlock(&rtc->lock);
}
