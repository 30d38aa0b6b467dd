/* Split virtqueue, device side: everything the driver writes into the rings
 * is treated as hostile; a malformed ring breaks the queue (NEEDS_RESET)
 * instead of reaching memory outside guest RAM. */
#include "virtio/virtq.h"

#include <errno.h>
#include <string.h>

#include "log.h"

_Static_assert(sizeof(struct virtq_desc) == 16, "virtq_desc layout");
_Static_assert(sizeof(struct virtq_used_elem) == 8, "virtq_used_elem layout");
_Static_assert(sizeof(struct virtq_avail) == 4, "virtq_avail layout");
_Static_assert(sizeof(struct virtq_used) == 4, "virtq_used layout");
_Static_assert(sizeof(struct virtq_desc) == sizeof(struct vring_desc) &&
	       offsetof(struct virtq_desc, len) == offsetof(struct vring_desc, len) &&
	       offsetof(struct virtq_desc, flags) == offsetof(struct vring_desc, flags) &&
	       offsetof(struct virtq_desc, next) == offsetof(struct vring_desc, next),
	       "virtq_desc is the kernel's vring_desc");
_Static_assert(sizeof(struct virtq_used_elem) == sizeof(struct vring_used_elem),
	       "virtq_used_elem is the kernel's vring_used_elem");

static uint64_t desc_bytes(uint16_t size) { return 16ULL * size; }
/* flags, idx, ring[size], used_event: the event field is part of the layout
 * whether or not EVENT_IDX is negotiated (spec 2.7, alignment table). */
static uint64_t avail_bytes(uint16_t size) { return 6 + 2ULL * size; }
static uint64_t used_bytes(uint16_t size) { return 6 + 8ULL * size; }

static uint16_t *used_event_p(const struct virtq *q)
{
	return &q->avail_hva->ring[q->size];
}

static uint16_t *avail_event_p(const struct virtq *q)
{
	return (uint16_t *)&q->used_hva->ring[q->size];
}

/* Marks the queue broken once; the first reason is the one worth logging. */
static int fail(struct virtq *q, const char *why, unsigned head)
{
	if (!q->broken) {
		q->broken = true;
		q->error = why;
		log_warn_limited("%s: driver broke the virtqueue: %s (head %u)",
			 q->name ? q->name : "virtq", why, head);
	}
	return -EIO;
}

void virtq_set_features(struct virtq *q, uint64_t features)
{
	q->indirect = features & (1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	q->event_idx = features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
}

int virtq_validate(const struct virtq *q)
{
	if (!q->mem || q->size == 0 || q->size > VIRTQ_MAX_SIZE ||
	    (q->size & (q->size - 1)))
		return -EINVAL;
	if ((q->desc & 15) || (q->avail & 1) || (q->used & 3))
		return -EINVAL;
	if (!gm_ptr(q->mem, q->desc, desc_bytes(q->size)) ||
	    !gm_ptr(q->mem, q->avail, avail_bytes(q->size)) ||
	    !gm_ptr(q->mem, q->used, used_bytes(q->size)))
		return -EINVAL;
	return 0;
}

int virtq_enable(struct virtq *q)
{
	int r;

	q->ready = false;
	r = virtq_validate(q);
	if (r < 0)
		return r;
	q->desc_hva = gm_ptr(q->mem, q->desc, desc_bytes(q->size));
	q->avail_hva = gm_ptr(q->mem, q->avail, avail_bytes(q->size));
	q->used_hva = gm_ptr(q->mem, q->used, used_bytes(q->size));
	q->last_avail = q->shadow_avail = 0;
	q->used_idx = 0;
	q->signalled_used = 0;
	q->signalled_used_valid = false;
	q->broken = false;
	q->error = NULL;
	q->ready = true;
	return 0;
}

void virtq_reset(struct virtq *q)
{
	const struct guest_mem *mem = q->mem;
	const char *name = q->name;

	memset(q, 0, sizeof(*q));
	q->mem = mem;
	q->name = name;
}

/*
 * One read of a descriptor into our own copy. The driver may rewrite the
 * table while we parse it; the compiler barrier keeps the compiler from
 * re-reading guest memory in place of the copy, so the values we check are
 * the values we use. Indirect tables need not be aligned, hence memcpy.
 */
static void read_desc(const uint8_t *table, unsigned i, struct virtq_desc *d)
{
	memcpy(d, table + 16 * (size_t)i, sizeof(*d));
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

static int add_buffer(struct virtq *q, struct virtq_chain *c,
		      const struct virtq_desc *d, bool *seen_write)
{
	bool write = d->flags & VRING_DESC_F_WRITE;
	struct virtq_iov *v;
	void *hva;

	/* Spec 2.7.4: device-readable buffers precede device-writable ones;
	 * devices rely on that to split request header from response. */
	if (write)
		*seen_write = true;
	else if (*seen_write)
		return fail(q, "readable descriptor after a writable one", c->head);
	if (d->len == 0)
		return 0;
	/* The whole buffer in one RAM region: this also refuses addr+len
	 * overflow, the MMIO hole and a range across a region's end. */
	hva = gm_ptr(q->mem, d->addr, d->len);
	if (!hva)
		return fail(q, "buffer outside guest RAM", c->head);
	if (c->read_bytes + c->write_bytes + d->len > VIRTQ_MAX_BYTES)
		return fail(q, "chain longer than 4 GiB", c->head);
	/* n < VIRTQ_MAX_CHAIN: every iov costs a visited descriptor and the
	 * walk stops at VIRTQ_MAX_CHAIN of those. */
	v = &c->iov[c->n++];
	v->gpa = d->addr;
	v->hva = hva;
	v->len = d->len;
	v->write = write;
	if (write) {
		c->nwrite++;
		c->write_bytes += d->len;
	} else {
		c->nread++;
		c->read_bytes += d->len;
	}
	return 0;
}

/*
 * Walks the chain starting at `head`. Two bounds stop it: a table of N
 * descriptors cannot hold a loop-free run longer than N, so visiting more
 * is a loop; and the whole chain, indirect table included, stops at
 * VIRTQ_MAX_CHAIN descriptors.
 */
static int walk_chain(struct virtq *q, uint16_t head, struct virtq_chain *c)
{
	const uint8_t *table = (const uint8_t *)q->desc_hva;
	uint32_t tsize = q->size, budget = q->size;
	bool in_indirect = false, seen_write = false;
	unsigned visited = 0;
	uint32_t i = head;
	struct virtq_desc d;
	int r;

	c->head = head;
	c->n = c->nread = c->nwrite = 0;
	c->read_bytes = c->write_bytes = 0;

	for (;;) {
		if (i >= tsize)
			return fail(q, "descriptor index out of range", head);
		if (++visited > VIRTQ_MAX_CHAIN)
			return fail(q, "descriptor chain too long", head);
		if (budget-- == 0)
			return fail(q, "descriptor loop", head);
		read_desc(table, i, &d);

		if (d.flags & VRING_DESC_F_INDIRECT) {
			if (!q->indirect)
				return fail(q, "indirect descriptor not negotiated", head);
			if (in_indirect)
				return fail(q, "nested indirect descriptor", head);
			/* The table ends the chain (spec 2.7.5.3.1); its own
			 * WRITE flag is ignored (2.7.5.3.2). */
			if (d.flags & VRING_DESC_F_NEXT)
				return fail(q, "indirect descriptor with NEXT", head);
			if (d.len == 0 || d.len % 16)
				return fail(q, "bad indirect table length", head);
			table = gm_ptr(q->mem, d.addr, d.len);
			if (!table)
				return fail(q, "indirect table outside guest RAM", head);
			tsize = budget = d.len / 16;
			in_indirect = true;
			i = 0;
			continue;
		}

		r = add_buffer(q, c, &d, &seen_write);
		if (r < 0)
			return r;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		i = d.next;
	}
}

/* Reads avail->idx; the acquire orders it before our reads of the ring
 * entries and descriptors the driver published with it. */
static int refresh_avail(struct virtq *q)
{
	uint16_t idx = __atomic_load_n(&q->avail_hva->idx, __ATOMIC_ACQUIRE);

	/* More than a ring's worth ahead of us cannot be real entries. */
	if ((uint16_t)(idx - q->last_avail) > q->size)
		return fail(q, "available index ran ahead by more than the queue size",
			    q->last_avail);
	q->shadow_avail = idx;
	return 0;
}

int virtq_pop(struct virtq *q, struct virtq_chain *c)
{
	uint16_t head;
	int r;

	if (q->broken)
		return -EIO;
	if (!q->ready)
		return 0;
	/* The index is read once per batch: the entries up to it are
	 * published, and rereading per chain would only cost cache misses. */
	if (q->last_avail == q->shadow_avail) {
		r = refresh_avail(q);
		if (r < 0)
			return r;
		if (q->last_avail == q->shadow_avail)
			return 0;
	}
	head = __atomic_load_n(&q->avail_hva->ring[q->last_avail & (q->size - 1)],
			       __ATOMIC_RELAXED);
	if (head >= q->size)
		return fail(q, "available ring entry out of range", head);
	r = walk_chain(q, head, c);
	if (r < 0)
		return r;
	q->last_avail++;
	return 1;
}

int virtq_push(struct virtq *q, uint16_t head, uint32_t written)
{
	struct virtq_used_elem *e;

	if (q->broken)
		return -EIO;
	if (!q->ready || head >= q->size)
		return -EINVAL;
	/* Never more used entries than chains taken: a device bug, and one
	 * that would let the driver's view of the ring go wrong. */
	if (q->used_idx == q->last_avail)
		return -EINVAL;
	e = &q->used_hva->ring[q->used_idx & (q->size - 1)];
	__atomic_store_n(&e->id, head, __ATOMIC_RELAXED);
	__atomic_store_n(&e->len, written, __ATOMIC_RELAXED);
	q->used_idx++;
	/* The element, and the data written into the buffers, must be
	 * visible before the driver can see the new index. */
	__atomic_store_n(&q->used_hva->idx, q->used_idx, __ATOMIC_RELEASE);
	return 0;
}

bool virtq_should_notify(struct virtq *q)
{
	uint16_t old, event;
	bool valid;

	if (!q->ready || q->broken)
		return false;
	/* Store-load ordering: our used->idx store must be visible before we
	 * read the driver's suppression state, or we could miss the update it
	 * made after checking our index. Only a full fence orders that. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!q->event_idx)
		return !(__atomic_load_n(&q->avail_hva->flags, __ATOMIC_RELAXED) &
			 VRING_AVAIL_F_NO_INTERRUPT);
	event = __atomic_load_n(used_event_p(q), __ATOMIC_RELAXED);
	old = q->signalled_used;
	valid = q->signalled_used_valid;
	q->signalled_used = q->used_idx;
	q->signalled_used_valid = true;
	/* Before the first decision we do not know what the driver saw. */
	/* vring_need_event (virtio_ring.h): event lies in [old, used_idx). */
	return !valid || vring_need_event(event, q->used_idx, old);
}

void virtq_suppress_notify(struct virtq *q)
{
	if (!q->ready || q->broken)
		return;
	/* With EVENT_IDX the driver kicks only when its index crosses
	 * avail_event; leaving that behind us is suppression enough. */
	if (!q->event_idx)
		__atomic_store_n(&q->used_hva->flags, VRING_USED_F_NO_NOTIFY,
				 __ATOMIC_RELAXED);
}

void virtq_set_avail_event(struct virtq *q)
{
	if (!q->ready || q->broken)
		return;
	if (q->event_idx)
		__atomic_store_n(avail_event_p(q), q->last_avail, __ATOMIC_RELAXED);
	else
		__atomic_store_n(&q->used_hva->flags, 0, __ATOMIC_RELAXED);
	/* Publication before the re-read in virtq_pending (store-load). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

int virtq_pending(struct virtq *q)
{
	int r;

	if (q->broken)
		return -EIO;
	if (!q->ready)
		return 0;
	r = refresh_avail(q);
	if (r < 0)
		return r;
	return q->shadow_avail != q->last_avail;
}

int virtq_drain(struct virtq *q, struct virtq_chain *c,
		int (*each)(struct virtq_chain *c, void *opaque), void *opaque)
{
	int r;

	do {
		while ((r = virtq_pop(q, c)) > 0) {
			r = each(c, opaque);
			if (r != 0)
				return r;
		}
		if (r < 0)
			return r;
		virtq_set_avail_event(q);
		r = virtq_pending(q);
	} while (r > 0);
	return r;
}

size_t virtq_describe(const struct virtq *q, bool ours, char *buf, size_t len)
{
	if (!q->ready)
		return fmt_into(buf, len, "size=%u,ready=0", q->size);
	if (!ours)	/* a backend (vhost-user) serves it: only the rings tell */
		return fmt_into(buf, len, "size=%u,backend=1,avail=%u,used=%u,used_event=%u",
				q->size, __atomic_load_n(&q->avail_hva->idx, __ATOMIC_RELAXED),
				__atomic_load_n(&q->used_hva->idx, __ATOMIC_RELAXED),
				__atomic_load_n(used_event_p(q), __ATOMIC_RELAXED));
	return fmt_into(buf, len, "size=%u,last_avail=%u,avail=%u,used=%u,used_event=%u,"
			"avail_event=%u,avail_flags=%u,event_idx=%d%s",
			q->size, q->last_avail,
			__atomic_load_n(&q->avail_hva->idx, __ATOMIC_RELAXED),
			q->used_idx, __atomic_load_n(used_event_p(q), __ATOMIC_RELAXED),
			__atomic_load_n(avail_event_p(q), __ATOMIC_RELAXED),
			__atomic_load_n(&q->avail_hva->flags, __ATOMIC_RELAXED),
			q->event_idx, q->broken ? ",broken=1" : "");
}

int virtq_chain_iov(const struct virtq_chain *c, bool write, uint64_t off,
		    uint64_t len, struct iovec *iov, unsigned max, uint64_t *bytes)
{
	unsigned k = write ? c->nread : 0, end = write ? c->n : c->nread;
	uint64_t got = 0;
	unsigned n = 0;
	int ret = 0;

	/* off and len are the caller's and may be anything: only subtract,
	 * never add them, so nothing wraps. */
	for (; k < end && len > 0; k++) {
		uint64_t l = c->iov[k].len;

		if (off >= l) {
			off -= l;
			continue;
		}
		if (n == max) {
			ret = -E2BIG;
			break;
		}
		l -= off;
		if (l > len)
			l = len;
		iov[n].iov_base = (uint8_t *)c->iov[k].hva + off;
		iov[n].iov_len = (size_t)l;
		n++;
		got += l;
		len -= l;
		off = 0;
	}
	if (bytes)
		*bytes = got;
	return ret < 0 ? ret : (int)n;
}

/* Iovecs per round of a copy: a small stack array. A chain wider than that
 * is sought again from its start each round, at most
 * VIRTQ_MAX_CHAIN / COPY_BATCH rounds. */
#define COPY_BATCH	64

/* Shared by the two copy directions; exactly one of `out` (from guest) and
 * `in` (to guest) is set. */
static size_t chain_copy(const struct virtq_chain *c, bool write, uint64_t off,
			 uint8_t *out, const uint8_t *in, size_t len)
{
	struct iovec iov[COPY_BATCH];
	size_t done = 0;

	/* off + done stays below 2^33: done only grows while off lies inside
	 * the chain, which holds at most VIRTQ_MAX_BYTES. */
	while (done < len) {
		int n = virtq_chain_iov(c, write, off + done, len - done, iov, COPY_BATCH,
					NULL);

		for (int k = 0; k < (n < 0 ? COPY_BATCH : n); k++) {
			if (in)
				memcpy(iov[k].iov_base, in + done, iov[k].iov_len);
			else
				memcpy(out + done, iov[k].iov_base, iov[k].iov_len);
			done += iov[k].iov_len;
		}
		if (n >= 0)	/* the whole range, or all the chain had */
			break;
	}
	return done;
}

size_t virtq_chain_read(const struct virtq_chain *c, uint64_t off, void *dst,
			size_t len)
{
	return chain_copy(c, false, off, dst, NULL, len);
}

size_t virtq_chain_write(const struct virtq_chain *c, uint64_t off,
			 const void *src, size_t len)
{
	return chain_copy(c, true, off, NULL, src, len);
}
