/* virtio-balloon (virtio 1.2, 5.5): the host asks the guest to give back
 * memory (the target, num_pages), the guest hands over 4 KiB pages on the
 * inflate queue and takes them back on the deflate queue; with
 * VIRTIO_BALLOON_F_REPORTING it also reports free memory ranges on its own
 * (free page reporting), and with VIRTIO_BALLOON_F_STATS_VQ it sends its
 * memory statistics. Pages given (inflated) or reported go back to the
 * host through gm_discard; docs/virtio.md. */
#ifndef VMM_VIRTIO_BALLOON_H
#define VMM_VIRTIO_BALLOON_H

#include <stdbool.h>
#include <stdint.h>

/* VIRTIO_BALLOON_F_*, VIRTIO_BALLOON_S_*, struct virtio_balloon_config:
 * the kernel's. */
#include <linux/virtio_balloon.h>

#include "virtio/virtio.h"

#define BALLOON_PAGE_SIZE	4096u	/* 1 << VIRTIO_BALLOON_PFN_SHIFT */
/* PFNs one inflate or deflate chain may carry; Linux sends 256 at most
 * (VIRTIO_BALLOON_ARRAY_PFNS_MAX). The rest of a longer chain is ignored. */
#define BALLOON_PFNS_MAX	4096u
/* Statistics tags kept (VIRTIO_BALLOON_S_* below this), and entries one
 * statistics buffer may carry. */
#define BALLOON_STATS_TAGS	16u
#define BALLOON_STATS_MAX	64u

struct balloon_opts {
	uint32_t target_pages;		/* initial num_pages */
	bool deflate_on_oom;		/* offer VIRTIO_BALLOON_F_DEFLATE_ON_OOM */
	bool reporting;			/* offer VIRTIO_BALLOON_F_REPORTING */
	unsigned stats_interval_s;	/* 0: no statistics queue */
};

struct iothread;

/* A new device; `io` watches its statistics timer (NULL: the caller runs
 * virtio_balloon_stats_tick). Returns 0 with *out set, or -errno. */
int virtio_balloon_new(const struct balloon_opts *o, struct iothread *io,
		       struct virtio_dev **out);
/* Frees it (a vm cleanup). */
void virtio_balloon_free(void *vd);

/* Takes vd->lock: sets the target (4 KiB pages) and tells the driver
 * (configuration change interrupt). -EINVAL when it is more than guest
 * RAM. */
int virtio_balloon_set_target(struct virtio_dev *vd, uint64_t pages);

/* Takes vd->lock: hands the driver its statistics buffer back, asking for
 * fresh numbers (what the timer does every stats_interval_s). */
void virtio_balloon_stats_tick(struct virtio_dev *vd);

struct balloon_info {
	uint32_t target_pages, actual_pages;	/* num_pages; actual as the driver wrote it */
	uint64_t inflated, deflated;		/* PFNs the driver sent */
	uint64_t reported_bytes;		/* free page reporting, returned to the host */
	uint64_t bad;				/* PFNs or ranges refused (outside RAM) */
	uint64_t stats_updates;			/* statistics buffers received */
	uint32_t stats_valid;			/* bit t: stats[t] came from the driver */
	uint64_t stats[BALLOON_STATS_TAGS];	/* by VIRTIO_BALLOON_S_* tag */
};
/* Takes vd->lock: a copy of the device's state. */
void virtio_balloon_info(struct virtio_dev *vd, struct balloon_info *out);
/* The words `vmm ctl NAME status` appends: " balloon_target_mib=N
 * balloon_actual_mib=N" and the last statistics in MiB
 * (" guest_free_mib=N", ...). Returns the length written (< len). */
size_t virtio_balloon_status_words(const struct balloon_info *bi, char *buf, size_t len);

#endif
