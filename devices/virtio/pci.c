/* The modern virtio-pci transport (virtio 1.2, 4.1), attached through a
 * struct dev_host (host.h). Every register value comes from the guest and
 * is checked here; devices see only validated queues and in-range config
 * offsets. Register accesses arrive on vCPU threads, kicks in the I/O
 * thread; vd->lock serialises both. */
#include "virtio/pci.h"

#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <linux/virtio_pci.h>

#include "bus.h"
#include "host.h"
#include "iothread.h"
#include "log.h"
#include "../pci.h"

#define VIRTIO_PCI_VENDOR	0x1af4
#define VIRTIO_PCI_DEVICE_BASE	0x1040
#define VIRTIO_PCI_SUBSYS	0x1100

/* The ISR bit for a used-buffer interrupt; the kernel's header names only
 * the configuration-change one (VIRTIO_PCI_ISR_CONFIG). */
#define ISR_QUEUE	1

/* Where the VIRTIO_PCI_CAP_PCI_CFG window's data lies in its capability. */
#define CFG_DATA	offsetof(struct virtio_pci_cfg_cap, pci_cfg_data)

#define NVEC_MAX	(VIRTIO_MAX_QUEUES + 1)

struct vpci_queue {
	struct virtio_pci *vp;
	unsigned index;
	uint16_t vector;
	int kick_fd;
	uint64_t kicks;		/* kick eventfd reads, for `queues` */
};

struct msix_entry {
	uint32_t addr_lo, addr_hi, data, ctrl;
};

struct virtio_pci {
	struct pci_dev pci;
	struct virtio_dev *vd;
	struct dev_host *host;
	uint64_t bar;
	uint64_t offered;		/* device features, VERSION_1 included */
	uint64_t guest_features;	/* as written, until FEATURES_OK */
	uint32_t dfselect, gfselect;
	uint16_t queue_sel;
	uint16_t config_vector;
	uint8_t isr;
	struct vpci_queue q[VIRTIO_MAX_QUEUES];
	/* MSI-X state; the enable and function-mask bits live in config
	 * space and are copied here under vd->lock. */
	unsigned nvec;
	bool msix_on, msix_fmask;
	struct msix_entry msix[NVEC_MAX];
	uint64_t pba;
	int irq_fd[NVEC_MAX];
	uint64_t fired[NVEC_MAX];	/* interrupts sent, for `queues` */
	uint32_t gsi[NVEC_MAX];
	uint8_t msix_cap, cfg_cap;
};

#define COMMON(field)	offsetof(struct virtio_pci_common_cfg, field)
_Static_assert(VPCI_DFSELECT == COMMON(device_feature_select) &&
	       VPCI_DF == COMMON(device_feature) &&
	       VPCI_GFSELECT == COMMON(guest_feature_select) &&
	       VPCI_GF == COMMON(guest_feature) &&
	       VPCI_MSIX_CONFIG == COMMON(msix_config) &&
	       VPCI_NUM_QUEUES == COMMON(num_queues) &&
	       VPCI_STATUS == COMMON(device_status) &&
	       VPCI_CFG_GENERATION == COMMON(config_generation) &&
	       VPCI_Q_SELECT == COMMON(queue_select) &&
	       VPCI_Q_SIZE == COMMON(queue_size) &&
	       VPCI_Q_MSIX == COMMON(queue_msix_vector) &&
	       VPCI_Q_ENABLE == COMMON(queue_enable) &&
	       VPCI_Q_NOFF == COMMON(queue_notify_off) &&
	       VPCI_Q_DESC == COMMON(queue_desc_lo) &&
	       VPCI_Q_AVAIL == COMMON(queue_avail_lo) &&
	       VPCI_Q_USED == COMMON(queue_used_lo),
	       "the common configuration layout is the kernel's");
_Static_assert(NVEC_MAX <= 64, "the PBA is one 64-bit word");
_Static_assert(VPCI_NOTIFY_MULT * VIRTIO_MAX_QUEUES <= VPCI_MSIX_OFF - VPCI_NOTIFY_OFF,
	       "notify region fits");
_Static_assert(16 * NVEC_MAX <= VPCI_PBA_OFF - VPCI_MSIX_OFF, "MSI-X table fits");

/* The n (1..8) low bytes of a little-endian register at p. */
static uint64_t getle(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	memcpy(&v, p, n);
	return le64toh(v);
}

/* Stores the n (1..8) low bytes of v at p, little-endian. */
static void putle(uint8_t *p, uint64_t v, unsigned n)
{
	v = htole64(v);
	memcpy(p, &v, n);
}

/* ---- interrupts ---- */

static void fire(struct virtio_pci *vp, unsigned vec)
{
	uint64_t one = 1;

	if (write(vp->irq_fd[vec], &one, sizeof(one)) < 0)
		log_warn("%s: signalling MSI-X vector %u: %m", vp->vd->name, vec);
	else
		vp->fired[vec]++;
}

static void signal_vector(struct virtio_pci *vp, uint16_t vec)
{
	if (vec >= vp->nvec || !vp->msix_on)
		return;		/* no vector, or MSI-X off: no INTx pin either */
	if (vp->msix_fmask || (vp->msix[vec].ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT)) {
		vp->pba |= 1ULL << vec;
		return;
	}
	fire(vp, vec);
}

/* Delivers what became pending while masked, now that it may be. */
static void flush_pending(struct virtio_pci *vp)
{
	if (!vp->msix_on || vp->msix_fmask)
		return;
	for (unsigned v = 0; v < vp->nvec; v++) {
		if ((vp->pba & (1ULL << v)) && !(vp->msix[v].ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT)) {
			vp->pba &= ~(1ULL << v);
			fire(vp, v);
		}
	}
}

static void vpci_signal_queue(struct virtio_dev *vd, unsigned q)
{
	struct virtio_pci *vp = vd->transport;

	vp->isr |= ISR_QUEUE;
	signal_vector(vp, vp->q[q].vector);
}

static void vpci_signal_config(struct virtio_dev *vd)
{
	struct virtio_pci *vp = vd->transport;

	vp->isr |= VIRTIO_PCI_ISR_CONFIG;
	signal_vector(vp, vp->config_vector);
}

/* Interrupts from outside the VMM go straight to the irqfd: MSI-X masking
 * and the PBA are not applied to them (docs/virtio.md, virtio-fs). */
static void vpci_queue_fds(struct virtio_dev *vd, unsigned q, int *kick_fd, int *call_fd)
{
	struct virtio_pci *vp = vd->transport;
	uint16_t vec = vp->q[q].vector;

	*kick_fd = vp->q[q].kick_fd;
	*call_fd = vec < vp->nvec ? vp->irq_fd[vec] : -1;
}

static size_t vpci_describe_queue(struct virtio_dev *vd, unsigned q, char *buf, size_t len)
{
	struct virtio_pci *vp = vd->transport;
	uint16_t vec = vp->q[q].vector;

	if (vec >= vp->nvec)
		return fmt_into(buf, len, ",kicks=%llu,vector=none",
				(unsigned long long)vp->q[q].kicks);
	return fmt_into(buf, len, ",kicks=%llu,vector=%u,irqs=%llu,masked=%d,pending=%d",
			(unsigned long long)vp->q[q].kicks, vec,
			(unsigned long long)vp->fired[vec],
			vp->msix_fmask || (vp->msix[vec].ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT) || !vp->msix_on,
			(int)((vp->pba >> vec) & 1));
}

static const struct virtio_transport_ops vpci_tops = {
	.signal_queue = vpci_signal_queue,
	.signal_config = vpci_signal_config,
	.queue_fds = vpci_queue_fds,
	.describe_queue = vpci_describe_queue,
};

/* ---- common configuration ---- */

static void device_reset(struct virtio_pci *vp)
{
	virtio_dev_reset(vp->vd);
	for (unsigned i = 0; i < vp->vd->nqueues; i++)
		vp->q[i].vector = VIRTIO_NO_VECTOR;
	vp->guest_features = 0;
	vp->dfselect = vp->gfselect = 0;
	vp->queue_sel = 0;
	vp->config_vector = VIRTIO_NO_VECTOR;
	vp->isr = 0;
}

static void kick_all(struct virtio_pci *vp)
{
	for (unsigned i = 0; i < vp->vd->nqueues; i++)
		virtio_kick(vp->vd, i, vp->q[i].kick_fd);
}

static void set_status(struct virtio_pci *vp, uint8_t v)
{
	if (v == 0)
		device_reset(vp);
	else if (virtio_dev_set_status(vp->vd, vp->offered, vp->guest_features, v))
		kick_all(vp);
}

static uint16_t vector_or_none(const struct virtio_pci *vp, uint64_t v)
{
	return v < vp->nvec ? (uint16_t)v : VIRTIO_NO_VECTOR;
}

/* The register file as the driver reads it. */
static void common_image(struct virtio_pci *vp, uint8_t *img)
{
	struct virtio_dev *vd = vp->vd;
	uint16_t sel = vp->queue_sel;

	memset(img, 0, VPCI_COMMON_LEN);
	putle(img + VPCI_DFSELECT, vp->dfselect, 4);
	if (vp->dfselect < 2)
		putle(img + VPCI_DF, vp->offered >> (32 * vp->dfselect), 4);
	putle(img + VPCI_GFSELECT, vp->gfselect, 4);
	if (vp->gfselect < 2)
		putle(img + VPCI_GF, vp->guest_features >> (32 * vp->gfselect), 4);
	putle(img + VPCI_MSIX_CONFIG, vp->config_vector, 2);
	putle(img + VPCI_NUM_QUEUES, vd->nqueues, 2);
	img[VPCI_STATUS] = vd->status;
	img[VPCI_CFG_GENERATION] = vd->config_gen;
	putle(img + VPCI_Q_SELECT, sel, 2);
	if (sel < vd->nqueues) {
		const struct virtq *q = &vd->vq[sel];

		putle(img + VPCI_Q_SIZE, q->size, 2);
		putle(img + VPCI_Q_MSIX, vp->q[sel].vector, 2);
		putle(img + VPCI_Q_ENABLE, q->ready, 2);
		putle(img + VPCI_Q_NOFF, sel, 2);
		putle(img + VPCI_Q_DESC, q->desc, 8);
		putle(img + VPCI_Q_AVAIL, q->avail, 8);
		putle(img + VPCI_Q_USED, q->used, 8);
	}
}

static void common_field(struct virtio_pci *vp, unsigned off, uint64_t v)
{
	struct virtio_dev *vd = vp->vd;
	uint16_t sel = vp->queue_sel;
	struct virtq *q = sel < vd->nqueues ? &vd->vq[sel] : NULL;
	bool setup = q && !q->ready;	/* queue fields are frozen once enabled */

	switch (off) {
	case VPCI_DFSELECT:
		vp->dfselect = (uint32_t)v;
		break;
	case VPCI_GFSELECT:
		vp->gfselect = (uint32_t)v;
		break;
	case VPCI_GF:
		if (vp->gfselect < 2 && !(vd->status & VIRTIO_CONFIG_S_FEATURES_OK)) {
			unsigned sh = 32 * vp->gfselect;

			vp->guest_features &= ~(0xffffffffULL << sh);
			vp->guest_features |= (v & 0xffffffffULL) << sh;
		}
		break;
	case VPCI_MSIX_CONFIG:
		vp->config_vector = vector_or_none(vp, v);
		break;
	case VPCI_STATUS:
		set_status(vp, (uint8_t)v);
		break;
	case VPCI_Q_SELECT:
		vp->queue_sel = (uint16_t)v;
		break;
	case VPCI_Q_SIZE:
		if (setup)
			q->size = (uint16_t)v;
		break;
	case VPCI_Q_MSIX:
		if (q)
			vp->q[sel].vector = vector_or_none(vp, v);
		break;
	case VPCI_Q_ENABLE:
		/* Writing 0 is not allowed to the driver; ignore it. */
		if (q && v == 1)
			virtio_dev_queue_enable(vd, sel);
		break;
	case VPCI_Q_DESC:
		if (setup)
			q->desc = v;
		break;
	case VPCI_Q_AVAIL:
		if (setup)
			q->avail = v;
		break;
	case VPCI_Q_USED:
		if (setup)
			q->used = v;
		break;
	default:	/* read-only */
		break;
	}
}

static const struct { uint8_t off, len; } common_fields[] = {
	{ VPCI_DFSELECT, 4 }, { VPCI_DF, 4 }, { VPCI_GFSELECT, 4 }, { VPCI_GF, 4 },
	{ VPCI_MSIX_CONFIG, 2 }, { VPCI_NUM_QUEUES, 2 }, { VPCI_STATUS, 1 },
	{ VPCI_CFG_GENERATION, 1 }, { VPCI_Q_SELECT, 2 }, { VPCI_Q_SIZE, 2 },
	{ VPCI_Q_MSIX, 2 }, { VPCI_Q_ENABLE, 2 }, { VPCI_Q_NOFF, 2 },
	{ VPCI_Q_DESC, 8 }, { VPCI_Q_AVAIL, 8 }, { VPCI_Q_USED, 8 },
	{ VPCI_Q_NOTIFY_DATA, 2 }, { VPCI_Q_RESET, 2 },
};

/* A write of any width: the bytes land on the current image, and each
 * field they touch is written with its merged value, lowest first (so a
 * 32-bit write at STATUS also moves queue_select, as the layout says). */
static void common_write(struct virtio_pci *vp, uint32_t off, const uint8_t *data,
			 uint32_t len)
{
	uint8_t img[VPCI_COMMON_LEN];

	common_image(vp, img);
	memcpy(img + off, data, len);
	for (size_t i = 0; i < sizeof(common_fields) / sizeof(common_fields[0]); i++) {
		unsigned fo = common_fields[i].off, fl = common_fields[i].len;

		if (fo < off + len && off < fo + fl)
			common_field(vp, fo, getle(img + fo, fl));
	}
}

/* ---- BAR 0 ---- */

static void msix_write(struct virtio_pci *vp, uint32_t off, const uint8_t *data,
		       uint32_t len)
{
	struct msix_entry old[NVEC_MAX];
	uint8_t *tab = (uint8_t *)vp->msix;

	memcpy(old, vp->msix, sizeof(old));
	memcpy(tab + off, data, len);
	for (unsigned v = off / 16; v <= (off + len - 1) / 16; v++) {
		struct msix_entry *e = &vp->msix[v];

		e->ctrl &= PCI_MSIX_ENTRY_CTRL_MASKBIT;	/* the rest is reserved */
		if (e->addr_lo != old[v].addr_lo || e->addr_hi != old[v].addr_hi ||
		    e->data != old[v].data)
			dev_host_msi_route(vp->host, vp->gsi[v],
					   (uint64_t)e->addr_hi << 32 | e->addr_lo, e->data,
					   vp->pci.slot << 3);	/* 00:slot.0 */
	}
	flush_pending(vp);
}

/* One access to BAR 0 at `off`, wholly inside it; takes vd->lock. */
static void bar_access(struct virtio_pci *vp, uint64_t off, uint8_t *data,
		       uint32_t len, bool is_write)
{
	struct virtio_dev *vd = vp->vd;
	uint64_t end = off + len;

	if (!is_write)
		memset(data, 0, len);
	pthread_mutex_lock(&vd->lock);
	if (end <= VPCI_COMMON_OFF + VPCI_COMMON_LEN) {
		if (is_write) {
			common_write(vp, (uint32_t)off, data, len);
		} else {
			uint8_t img[VPCI_COMMON_LEN];

			common_image(vp, img);
			memcpy(data, img + off, len);
		}
	} else if (off == VPCI_ISR_OFF) {
		/* Reading the ISR acknowledges it. */
		if (!is_write) {
			data[0] = vp->isr;
			vp->isr = 0;
		}
	} else if (off >= VPCI_DEVCFG_OFF && end <= VPCI_DEVCFG_OFF + vd->config_size) {
		uint32_t o = (uint32_t)(off - VPCI_DEVCFG_OFF);

		if (!is_write)
			vd->ops->config_read(vd, o, data, len);
		else if (vd->ops->config_write)
			vd->ops->config_write(vd, o, data, len);
	} else if (off >= VPCI_NOTIFY_OFF &&
		   off < VPCI_NOTIFY_OFF + (uint64_t)VPCI_NOTIFY_MULT * vd->nqueues) {
		/* A kick KVM's ioeventfd did not catch (another width). */
		unsigned qi = (unsigned)(off - VPCI_NOTIFY_OFF) / VPCI_NOTIFY_MULT;

		if (is_write)
			virtio_kick(vd, qi, vp->q[qi].kick_fd);
	} else if (off >= VPCI_MSIX_OFF && end <= VPCI_MSIX_OFF + 16ULL * vp->nvec) {
		if (is_write)
			msix_write(vp, (uint32_t)(off - VPCI_MSIX_OFF), data, len);
		else
			memcpy(data, (uint8_t *)vp->msix + (off - VPCI_MSIX_OFF), len);
	} else if (off >= VPCI_PBA_OFF && end <= VPCI_PBA_OFF + 8) {
		if (!is_write)
			putle(data, vp->pba >> (8 * (off - VPCI_PBA_OFF)), len);
	}
	/* Anything else: reads 0, writes are dropped. */
	pthread_mutex_unlock(&vd->lock);
}

static void vpci_mmio(void *opaque, uint64_t off, uint8_t *data, uint32_t len,
		      bool is_write)
{
	struct virtio_pci *vp = opaque;

	if (!pci_dev_mem_enabled(&vp->pci)) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	bar_access(vp, off, data, len, is_write);
}

/* ---- PCI config space hooks ---- */

static bool overlaps(uint32_t off, uint32_t len, uint32_t start, uint32_t n)
{
	return off < start + n && start < off + len;
}

/* The VIRTIO_PCI_CAP_PCI_CFG window: the access its bar/offset/length
 * fields describe, when they describe a legal one. */
static bool cfg_window(struct virtio_pci *vp, uint32_t *off, uint32_t *len)
{
	const uint8_t *c = vp->pci.cfg + vp->cfg_cap;

	*off = (uint32_t)getle(c + VIRTIO_PCI_CAP_OFFSET, 4);
	*len = (uint32_t)getle(c + VIRTIO_PCI_CAP_LENGTH, 4);
	return c[VIRTIO_PCI_CAP_BAR] == 0 && (*len == 1 || *len == 2 || *len == 4) &&
	       !(*off & (*len - 1)) && *off <= VPCI_BAR_SIZE - *len;
}

static void vpci_cfg_write(struct pci_dev *d, uint32_t off, uint32_t len)
{
	struct virtio_pci *vp = d->opaque;
	uint32_t o, l;

	if (overlaps(off, len, vp->msix_cap + PCI_MSIX_FLAGS, 2)) {
		uint16_t ctl = (uint16_t)getle(d->cfg + vp->msix_cap + PCI_MSIX_FLAGS, 2);

		pthread_mutex_lock(&vp->vd->lock);
		vp->msix_on = ctl & PCI_MSIX_FLAGS_ENABLE;
		vp->msix_fmask = ctl & PCI_MSIX_FLAGS_MASKALL;
		flush_pending(vp);
		pthread_mutex_unlock(&vp->vd->lock);
	}
	if (overlaps(off, len, vp->cfg_cap + CFG_DATA, 4) && cfg_window(vp, &o, &l))
		bar_access(vp, o, d->cfg + vp->cfg_cap + CFG_DATA, l, true);
}

static void vpci_cfg_read(struct pci_dev *d, uint32_t off, uint8_t *data, uint32_t len)
{
	struct virtio_pci *vp = d->opaque;
	uint8_t win[4] = { 0 };
	uint32_t o, l;

	if (!overlaps(off, len, vp->cfg_cap + CFG_DATA, 4))
		return;
	if (cfg_window(vp, &o, &l))
		bar_access(vp, o, win, l, false);
	for (uint32_t i = 0; i < len; i++)
		if (off + i >= vp->cfg_cap + CFG_DATA && off + i < vp->cfg_cap + CFG_DATA + 4)
			data[i] = win[off + i - (vp->cfg_cap + CFG_DATA)];
}

static const struct pci_dev_ops vpci_pci_ops = {
	.cfg_write = vpci_cfg_write,
	.cfg_read = vpci_cfg_read,
};

/* ---- construction ---- */

static void kick(void *opaque, uint32_t events)
{
	struct vpci_queue *q = opaque;
	struct virtio_dev *vd = q->vp->vd;
	uint64_t n;

	if (read(q->kick_fd, &n, sizeof(n)) != sizeof(n))
		return;
	pthread_mutex_lock(&vd->lock);
	q->kicks++;
	if (virtio_dev_queue_live(vd, q->index))
		vd->ops->queue_notify(vd, q->index);
	pthread_mutex_unlock(&vd->lock);
}

static void vpci_free(void *opaque)
{
	struct virtio_pci *vp = opaque;

	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		if (vp->q[i].kick_fd >= 0)
			close(vp->q[i].kick_fd);
	for (unsigned v = 0; v < NVEC_MAX; v++)
		if (vp->irq_fd[v] >= 0)
			close(vp->irq_fd[v]);
	pthread_mutex_destroy(&vp->vd->lock);
	free(vp);
}

/* struct virtio_pci_cap (caplen VCAP), or with the 4 bytes after it that
 * hold notify_off_multiplier or pci_cfg_data (caplen VCAP_EXTRA). */
#define VCAP		sizeof(struct virtio_pci_cap)
#define VCAP_EXTRA	sizeof(struct virtio_pci_notify_cap)
_Static_assert(sizeof(struct virtio_pci_cfg_cap) == VCAP_EXTRA, "same room after the cap");

static uint8_t add_vcap(struct virtio_pci *vp, uint8_t type, uint32_t off,
			uint32_t len, uint8_t caplen, uint32_t extra)
{
	uint8_t c[VCAP_EXTRA] = { 0 };

	c[VIRTIO_PCI_CAP_VNDR] = PCI_CAP_ID_VNDR;
	c[VIRTIO_PCI_CAP_LEN] = caplen;
	c[VIRTIO_PCI_CAP_CFG_TYPE] = type;
	putle(c + VIRTIO_PCI_CAP_OFFSET, off, 4);
	putle(c + VIRTIO_PCI_CAP_LENGTH, len, 4);
	putle(c + VCAP, extra, 4);
	return pci_dev_add_cap(&vp->pci, c, caplen);
}

static int add_caps(struct virtio_pci *vp)
{
	struct virtio_dev *vd = vp->vd;
	uint8_t msix[12] = { PCI_CAP_ID_MSIX, 0 };

	putle(msix + PCI_MSIX_FLAGS, vp->nvec - 1, 2);
	putle(msix + PCI_MSIX_TABLE, VPCI_MSIX_OFF | 0, 4);	/* BIR 0 */
	putle(msix + PCI_MSIX_PBA, VPCI_PBA_OFF | 0, 4);
	vp->msix_cap = pci_dev_add_cap(&vp->pci, msix, sizeof(msix));
	if (!vp->msix_cap ||
	    !add_vcap(vp, VIRTIO_PCI_CAP_COMMON_CFG, VPCI_COMMON_OFF, VPCI_COMMON_LEN, VCAP, 0) ||
	    !add_vcap(vp, VIRTIO_PCI_CAP_NOTIFY_CFG, VPCI_NOTIFY_OFF,
		      VPCI_NOTIFY_MULT * vd->nqueues, VCAP_EXTRA, VPCI_NOTIFY_MULT) ||
	    !add_vcap(vp, VIRTIO_PCI_CAP_ISR_CFG, VPCI_ISR_OFF, 1, VCAP, 0) ||
	    (vd->config_size &&
	     !add_vcap(vp, VIRTIO_PCI_CAP_DEVICE_CFG, VPCI_DEVCFG_OFF, vd->config_size, VCAP, 0)))
		return -ENOSPC;
	vp->cfg_cap = add_vcap(vp, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, VCAP_EXTRA, 0);
	if (!vp->cfg_cap)
		return -ENOSPC;
	/* Function mask and enable; the window's bar, offset, length, data. */
	vp->pci.wmask[vp->msix_cap + PCI_MSIX_FLAGS + 1] =
		(uint8_t)((PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL) >> 8);
	vp->pci.wmask[vp->cfg_cap + VIRTIO_PCI_CAP_BAR] = 0xff;
	memset(vp->pci.wmask + vp->cfg_cap + VIRTIO_PCI_CAP_OFFSET, 0xff, 12);
	return 0;
}

static uint32_t class_of(uint16_t id)
{
	switch (id) {
	case VIRTIO_ID_BLOCK:
		return 0x010000;	/* mass storage, SCSI: what QEMU reports */
	case VIRTIO_ID_NET:
		return 0x020000;	/* network controller, Ethernet */
	default:
		return 0xff0000;	/* unassigned class */
	}
}

int virtio_pci_attach(struct dev_host *host, struct pci_bus *bus, unsigned slot,
		      struct virtio_dev *vd)
{
	struct virtio_pci *vp;
	int ret;

	vp = calloc(1, sizeof(*vp));
	if (!vp)
		return -ENOMEM;
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		vp->q[i].kick_fd = -1;
	for (unsigned v = 0; v < NVEC_MAX; v++)
		vp->irq_fd[v] = -1;
	vp->vd = vd;
	vp->host = host;
	ret = virtio_transport_attach(vd, host, VPCI_DEVCFG_MAX, &vpci_tops, vp, vpci_free,
				      &vp->offered);
	if (ret < 0) {
		free(vp);
		return ret;
	}
	vp->nvec = vd->nqueues + 1;
	for (unsigned i = 0; i < vd->nqueues; i++) {
		vp->q[i].vp = vp;
		vp->q[i].index = i;
	}
	device_reset(vp);
	for (unsigned v = 0; v < vp->nvec; v++)
		vp->msix[v].ctrl = PCI_MSIX_ENTRY_CTRL_MASKBIT;

	pci_dev_init(&vp->pci, VIRTIO_PCI_VENDOR, VIRTIO_PCI_DEVICE_BASE + vd->id,
		     class_of(vd->id), VIRTIO_PCI_VENDOR, VIRTIO_PCI_SUBSYS);
	vp->pci.ops = &vpci_pci_ops;
	vp->pci.opaque = vp;
	ret = pci_dev_add_bar64(bus, &vp->pci, 0, VPCI_BAR_SIZE);
	if (ret == 0)
		ret = add_caps(vp);
	if (ret == 0)
		ret = pci_bus_add(bus, &vp->pci, slot);
	if (ret < 0) {
		log_err("%s: no room on the PCI bus at 00:%02x.0: %s", vd->name, slot,
			strerror(-ret));
		return ret;
	}
	vp->bar = vp->pci.bar[0].addr;
	ret = bus_register(host->mmio, vp->bar, VPCI_BAR_SIZE, vpci_mmio, vp, vd->name);
	if (ret < 0) {
		log_err("%s: registering BAR 0 at 0x%llx: %s", vd->name,
			(unsigned long long)vp->bar, strerror(-ret));
		return ret;
	}
	for (unsigned v = 0; v < vp->nvec; v++) {
		ret = dev_host_msi_alloc(host, &vp->irq_fd[v], &vp->gsi[v]);
		if (ret < 0) {
			log_err("%s: MSI-X vector %u: %s", vd->name, v, strerror(-ret));
			return ret;
		}
	}
	for (unsigned i = 0; i < vd->nqueues; i++) {
		struct vpci_queue *q = &vp->q[i];

		q->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (q->kick_fd < 0)
			return -errno;
		ret = dev_host_ioeventfd(host, vp->bar + VPCI_NOTIFY_OFF +
					 VPCI_NOTIFY_MULT * i, 2, false, 0, q->kick_fd);
		if (ret == 0 && virtio_dev_queue_ours(vd, i))
			ret = iothread_add(host->io, q->kick_fd, kick, q);
		if (ret < 0) {
			log_err("%s: queue %u notification: %s", vd->name, i,
				strerror(-ret));
			return ret;
		}
	}
	log_debug("%s: PCI 00:%02x.0, BAR 0 at 0x%llx", vd->name, vp->pci.slot,
		  (unsigned long long)vp->bar);
	return 0;
}
