/* The virtio-mmio transport, version 2 (virtio 1.2, 4.2). Every register
 * value comes from the guest and is checked here; devices see only
 * validated queues and in-range config offsets. Register accesses arrive
 * on vCPU threads, kicks and backend completions in the I/O thread;
 * vd->lock serialises them all, the interrupt line's level included.
 *
 * Interrupts: one level-triggered line per device, high while
 * InterruptStatus is not zero, lowered when the driver acknowledges the
 * last bit. Linux's handler reads InterruptStatus to learn what happened,
 * so a vhost-user backend cannot interrupt the guest directly as it does
 * through an MSI-X irqfd on PCI: its call eventfd is ours, and the I/O
 * thread turns each signal into InterruptStatus bit 0 and the line. */
#include "virtio/mmio.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bus.h"
#include "host.h"
#include "iothread.h"
#include "log.h"

struct vmmio_queue {
	struct virtio_mmio *m;
	unsigned index;
	int kick_fd;
	int call_fd;		/* backend completions (queues not ours, virtio.h) */
	uint64_t kicks;		/* kick eventfd reads, for `queues` */
	uint64_t signals;	/* used-buffer interrupts asked for, for `queues` */
};

struct virtio_mmio {
	struct virtio_dev *vd;
	struct dev_host *host;
	uint64_t base;
	uint32_t irq;
	bool line;		/* the level we last gave the interrupt line */
	uint64_t offered;	/* device features, VERSION_1 included */
	uint64_t driver_features;	/* as written, until FEATURES_OK */
	uint32_t dfsel, gfsel, queue_sel, shm_sel;
	uint32_t isr;
	struct vmmio_queue q[VIRTIO_MAX_QUEUES];
};

/* ---- interrupts ---- */

static void update_line(struct virtio_mmio *m)
{
	bool want = m->isr != 0;

	if (want == m->line)
		return;
	if (dev_host_set_irq(m->host, m->irq, want) == 0)
		m->line = want;
}

static void vmmio_signal_queue(struct virtio_dev *vd, unsigned q)
{
	struct virtio_mmio *m = vd->transport;

	m->q[q].signals++;
	m->isr |= VIRTIO_MMIO_INT_VRING;
	update_line(m);
}

static void vmmio_signal_config(struct virtio_dev *vd)
{
	struct virtio_mmio *m = vd->transport;

	m->isr |= VIRTIO_MMIO_INT_CONFIG;
	update_line(m);
}

static void vmmio_queue_fds(struct virtio_dev *vd, unsigned q, int *kick_fd, int *call_fd)
{
	struct virtio_mmio *m = vd->transport;

	*kick_fd = m->q[q].kick_fd;
	*call_fd = m->q[q].call_fd;
}

static size_t vmmio_describe_queue(struct virtio_dev *vd, unsigned q, char *buf, size_t len)
{
	struct virtio_mmio *m = vd->transport;

	return fmt_into(buf, len, ",kicks=%llu,irqs=%llu,isr=%u,line=%d",
			(unsigned long long)m->q[q].kicks,
			(unsigned long long)m->q[q].signals, m->isr, m->line);
}

static const struct virtio_transport_ops vmmio_tops = {
	.signal_queue = vmmio_signal_queue,
	.signal_config = vmmio_signal_config,
	.queue_fds = vmmio_queue_fds,
	.describe_queue = vmmio_describe_queue,
};

/* ---- registers ---- */

static void device_reset(struct virtio_mmio *m)
{
	virtio_dev_reset(m->vd);
	m->driver_features = 0;
	m->dfsel = m->gfsel = m->queue_sel = m->shm_sel = 0;
	m->isr = 0;
	update_line(m);
}

static void kick_all(struct virtio_mmio *m)
{
	for (unsigned i = 0; i < m->vd->nqueues; i++)
		virtio_kick(m->vd, i, m->q[i].kick_fd);
}

static struct virtq *selected(struct virtio_mmio *m)
{
	return m->queue_sel < m->vd->nqueues ? &m->vd->vq[m->queue_sel] : NULL;
}

static uint32_t reg_read(struct virtio_mmio *m, uint32_t off)
{
	struct virtio_dev *vd = m->vd;
	struct virtq *q = selected(m);

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return VMMIO_MAGIC_VALUE;
	case VIRTIO_MMIO_VERSION:
		return 2;
	case VIRTIO_MMIO_DEVICE_ID:
		return vd->id;
	case VIRTIO_MMIO_VENDOR_ID:
		return VMMIO_VENDOR_VALUE;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		return m->dfsel < 2 ? (uint32_t)(m->offered >> (32 * m->dfsel)) : 0;
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return q ? vd->queue_max : 0;
	case VIRTIO_MMIO_QUEUE_READY:
		return q ? q->ready : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return m->isr;
	case VIRTIO_MMIO_STATUS:
		return vd->status;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
		return q ? (uint32_t)q->desc : 0;
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		return q ? (uint32_t)(q->desc >> 32) : 0;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
		return q ? (uint32_t)q->avail : 0;
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		return q ? (uint32_t)(q->avail >> 32) : 0;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
		return q ? (uint32_t)q->used : 0;
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		return q ? (uint32_t)(q->used >> 32) : 0;
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
	case VIRTIO_MMIO_SHM_BASE_LOW:
	case VIRTIO_MMIO_SHM_BASE_HIGH:
		return 0xffffffffu;	/* no shared memory regions: length -1 */
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return vd->config_gen;
	default:	/* write-only or reserved */
		return 0;
	}
}

/* Sets the low or high half of a ring address, while the queue is set up. */
static void set_half(uint64_t *addr, uint32_t v, bool high)
{
	if (high)
		*addr = (*addr & 0xffffffffULL) | (uint64_t)v << 32;
	else
		*addr = (*addr & ~0xffffffffULL) | v;
}

static void reg_write(struct virtio_mmio *m, uint32_t off, uint32_t v)
{
	struct virtio_dev *vd = m->vd;
	struct virtq *q = selected(m);
	bool setup = q && !q->ready;	/* queue fields are frozen once enabled */

	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		m->dfsel = v;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		if (m->gfsel < 2 && !(vd->status & VIRTIO_CONFIG_S_FEATURES_OK)) {
			unsigned sh = 32 * m->gfsel;

			m->driver_features &= ~(0xffffffffULL << sh);
			m->driver_features |= (uint64_t)v << sh;
		}
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		m->gfsel = v;
		break;
	case VIRTIO_MMIO_QUEUE_SEL:
		m->queue_sel = v;
		break;
	case VIRTIO_MMIO_QUEUE_NUM:
		if (setup)
			q->size = (uint16_t)(v > 0xffff ? 0 : v);	/* 0: invalid at enable */
		break;
	case VIRTIO_MMIO_QUEUE_READY:
		if (q && v == 1) {
			virtio_dev_queue_enable(vd, m->queue_sel);
		} else if (q && v == 0 && q->ready &&
			   (vd->status & VIRTIO_CONFIG_S_DRIVER_OK)) {
			/* The device may be using the queue (requests in flight,
			 * RX buffers held): it cannot be taken back under it.
			 * Without VIRTIO_F_RING_RESET (not offered) only a device
			 * reset does that, which drains the device first. */
			virtio_dev_needs_reset(vd);
		} else if (q && v == 0 && q->ready) {
			/* Before DRIVER_OK the device has not used the queue:
			 * the driver may take it back (Linux does, on a failed
			 * queue setup). */
			uint16_t size = q->size;

			virtq_reset(q);
			q->size = size;
		}
		break;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		/* A kick KVM's ioeventfd did not catch. Without
		 * VIRTIO_F_NOTIFICATION_DATA the value is the queue index. */
		if (v < vd->nqueues)
			virtio_kick(vd, v, m->q[v].kick_fd);
		break;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		m->isr &= ~v;
		update_line(m);
		break;
	case VIRTIO_MMIO_STATUS:
		if (v == 0)
			device_reset(m);
		else if (virtio_dev_set_status(vd, m->offered, m->driver_features, (uint8_t)v))
			kick_all(m);
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		if (setup)
			set_half(&q->desc, v, off == VIRTIO_MMIO_QUEUE_DESC_HIGH);
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		if (setup)
			set_half(&q->avail, v, off == VIRTIO_MMIO_QUEUE_AVAIL_HIGH);
		break;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		if (setup)
			set_half(&q->used, v, off == VIRTIO_MMIO_QUEUE_USED_HIGH);
		break;
	case VIRTIO_MMIO_SHM_SEL:
		m->shm_sel = v;
		break;
	default:	/* read-only, reserved, or QueueReset (not offered) */
		break;
	}
}

/* One access inside the window (the bus checked off + len <= VMMIO_SIZE). */
static void vmmio_access(void *opaque, uint64_t off, uint8_t *data, uint32_t len,
			 bool is_write)
{
	struct virtio_mmio *m = opaque;
	struct virtio_dev *vd = m->vd;

	if (!is_write)
		memset(data, 0, len);
	pthread_mutex_lock(&vd->lock);
	if (off >= VIRTIO_MMIO_CONFIG) {
		uint32_t o = (uint32_t)(off - VIRTIO_MMIO_CONFIG);

		if (len <= 8 && o + len <= vd->config_size) {
			if (!is_write)
				vd->ops->config_read(vd, o, data, len);
			else if (vd->ops->config_write)
				vd->ops->config_write(vd, o, data, len);
		}
	} else if (len == 4 && !(off & 3)) {
		uint32_t reg;

		if (is_write) {
			memcpy(&reg, data, 4);
			reg_write(m, (uint32_t)off, le32toh(reg));
		} else {
			reg = htole32(reg_read(m, (uint32_t)off));
			memcpy(data, &reg, 4);
		}
	}
	/* Anything else (a register access of another width, config space past
	 * its end): reads 0, writes are dropped. */
	pthread_mutex_unlock(&vd->lock);
}

/* ---- construction ---- */

static void kick(void *opaque, uint32_t events)
{
	struct vmmio_queue *q = opaque;
	struct virtio_dev *vd = q->m->vd;
	uint64_t n;

	(void)events;
	if (read(q->kick_fd, &n, sizeof(n)) != sizeof(n))
		return;
	pthread_mutex_lock(&vd->lock);
	q->kicks++;
	if (virtio_dev_queue_live(vd, q->index))
		vd->ops->queue_notify(vd, q->index);
	pthread_mutex_unlock(&vd->lock);
}

/* The backend used buffers of this queue and wants the guest told. */
static void backend_call(void *opaque, uint32_t events)
{
	struct vmmio_queue *q = opaque;
	struct virtio_dev *vd = q->m->vd;
	uint64_t n;

	(void)events;
	if (read(q->call_fd, &n, sizeof(n)) != sizeof(n))
		return;
	pthread_mutex_lock(&vd->lock);
	vmmio_signal_queue(vd, q->index);
	pthread_mutex_unlock(&vd->lock);
}

static void vmmio_free(void *opaque)
{
	struct virtio_mmio *m = opaque;

	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		if (m->q[i].kick_fd >= 0)
			close(m->q[i].kick_fd);
		if (m->q[i].call_fd >= 0)
			close(m->q[i].call_fd);
	}
	pthread_mutex_destroy(&m->vd->lock);
	free(m);
}

static int queue_fds_init(struct virtio_mmio *m, unsigned i)
{
	struct virtio_dev *vd = m->vd;
	struct vmmio_queue *q = &m->q[i];
	int ret;

	q->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->kick_fd < 0)
		return -errno;
	ret = dev_host_ioeventfd(m->host, m->base + VIRTIO_MMIO_QUEUE_NOTIFY, 4, true, i,
				 q->kick_fd);
	if (ret < 0)
		return ret;
	if (virtio_dev_queue_ours(vd, i))
		return iothread_add(m->host->io, q->kick_fd, kick, q);
	/* Served outside the VMM (vhost-user, vhost-net): the backend signals
	 * call_fd. */
	q->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->call_fd < 0)
		return -errno;
	return iothread_add(m->host->io, q->call_fd, backend_call, q);
}

int virtio_mmio_attach(struct dev_host *host, uint64_t base, uint32_t irq,
		       struct virtio_dev *vd)
{
	struct virtio_mmio *m;
	int ret;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		m->q[i].kick_fd = m->q[i].call_fd = -1;
	m->vd = vd;
	m->host = host;
	m->base = base;
	m->irq = irq;
	ret = virtio_transport_attach(vd, host, VMMIO_SIZE - VIRTIO_MMIO_CONFIG, &vmmio_tops, m,
				      vmmio_free, &m->offered);
	if (ret < 0) {
		free(m);
		return ret;
	}
	for (unsigned i = 0; i < vd->nqueues; i++) {
		m->q[i].m = m;
		m->q[i].index = i;
	}
	device_reset(m);
	ret = bus_register(host->mmio, base, VMMIO_SIZE, vmmio_access, m, vd->name);
	if (ret < 0) {
		log_err("%s: registering virtio-mmio at 0x%llx: %s", vd->name,
			(unsigned long long)base, strerror(-ret));
		return ret;
	}
	for (unsigned i = 0; i < vd->nqueues; i++) {
		ret = queue_fds_init(m, i);
		if (ret < 0) {
			log_err("%s: queue %u notification: %s", vd->name, i, strerror(-ret));
			return ret;
		}
	}
	log_debug("%s: virtio-mmio at 0x%llx", vd->name, (unsigned long long)base);
	return 0;
}
