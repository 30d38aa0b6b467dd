/* A fake driver's split virtqueues over real guest memory, for the device
 * tests and fuzzers: each queue's rings lie a page apart from its ring
 * address (descriptor table, available ring at +FAKE_VQ_AVAIL, used ring at
 * +FAKE_VQ_USED; up to 256 entries fit). Every function returns 0 or -errno
 * (-EINVAL for a queue never set up): tests assert it, fuzzers trap or
 * ignore it. */
#ifndef VMM_TESTS_FAKE_VQ_H
#define VMM_TESTS_FAKE_VQ_H

#include <stdint.h>

#include "memory.h"
#include "virtio/virtio.h"

#define FAKE_VQ_AVAIL	0x1000ULL
#define FAKE_VQ_USED	0x2000ULL

/* What a driver and the transport do to set up `vq`: reset it, give it
 * `gm`, `size` entries and its rings at `ring`, the ring features of
 * `features`, and enable it. The rings' memory is left as it is. */
int fake_vq_enable(struct virtq *vq, const struct guest_mem *gm, uint64_t ring, uint16_t size,
		   uint64_t features);

/* Every queue of `vd` as fake_vq_enable, queue q's rings at
 * ring0 + q * stride, then the device's features and DRIVER_OK set. */
int fake_vq_start(struct virtio_dev *vd, const struct guest_mem *gm, uint64_t ring0,
		  uint64_t stride, uint16_t size, uint64_t features);

/* Writes descriptor `i` (taken modulo the size) of vq's table. */
int fake_vq_desc(const struct virtq *vq, uint16_t i, uint64_t addr, uint32_t len,
		 uint16_t flags, uint16_t next);

/* Makes chain `head` available: into slot *idx of the available ring, then
 * the ring's idx becomes ++*idx. */
int fake_vq_publish(const struct virtq *vq, uint16_t *idx, uint16_t head);

/* The used ring's idx. */
int fake_vq_used_idx(const struct virtq *vq, uint16_t *idx);

/* Element `i` (taken modulo the size) of the used ring. */
int fake_vq_used_elem(const struct virtq *vq, uint16_t i, struct virtq_used_elem *e);

/* The kick: queue_notify under the device lock, as the transport calls it. */
void fake_vq_kick(struct virtio_dev *vd, unsigned q);

#endif
