/* hostile: a hostile guest driver, run as root inside a Linux guest of vmm
 * (tests/integration/hostile_guest.sh; docs/testing.md, "The hostile guest").
 *
 *   hostile SEED ITERATIONS TARGET
 *
 * TARGET is a comma-separated list of PCI addresses (0000:00:01.0) of virtio
 * devices to take over, or on aarch64 virtio-mmio platform devices
 * (a000400.virtio_mmio, reached through /dev/mem; the guest boots with
 * iomem=relaxed), optionally with "legacy" for the platform registers
 * (x86_64: UART, i8042, ACPI PM, pvpanic, PCI config ports, boot timer page;
 * aarch64: UART, PL031 RTC, PL061 GPIO, boot timer page, unbacked MMIO).
 * Every random choice comes from SEED (per device: SEED mixed with the device's
 * place in TARGET), so a run is reproduced by the same command line in the same
 * guest configuration.
 *
 * For each device: the guest's driver is unbound through sysfs, then for
 * ITERATIONS rounds the program drives the device itself: random and edge
 * values (0, ~0, powers of two and their neighbours) at any offset and width
 * (1/2/4/8 bytes, unaligned) in BAR 0 (common config, ISR, device config,
 * notify, MSI-X table and PBA), config space writes through sysfs and through
 * ports 0xcf8/0xcfc, and a ring round: reset, feature negotiation, queues of
 * any size (not only powers of two) at ring addresses inside and outside RAM,
 * and rings built in its own memory (a 2 MiB huge page, whose guest-physical
 * address comes from /proc/self/pagemap) holding valid requests, descriptor
 * loops, lengths up to 4 GiB, buffers outside RAM, nested and malformed
 * indirect tables, avail index jumps and garbage in the used ring.
 *
 * The program is hostile to vmm, not to its own guest: it never does what would
 * legitimately end or corrupt the VM, since the test judges vmm by a guest that
 * must still be running afterwards. So it never writes the i8042 reset command
 * (0xfe) or the output-port command (0xd1), an ACPI S5 sleep or the ACPI reset
 * value, the pvpanic PANICKED bit, or the in-kernel PIC/PIT/APIC ports; it never
 * enables MSI-X without its function mask (garbage table entries could send
 * INIT or NMI to its own CPU); it enables a queue only when the rings lie in
 * its own memory or outside RAM, with the device-readable rings in an area
 * holding nothing but safe descriptors and the used ring in an area the device
 * may write; every device-writable buffer lies in that area, outside RAM or
 * reaches past the end of RAM (which the device must refuse whole). It never
 * touches a device not in TARGET (the test's control disk).
 *
 * Output: "hostile: ..." progress lines and, per device, one line
 *   HOSTILE-DEV 0000:00:01.0 kind=blk iterations=N accesses=N kicks=N
 *     needs_reset=N ms=N
 * and "HOSTILE-LEGACY iterations=N accesses=N ms=N". With HOSTILE_TRACE=1 in
 * the environment every access is printed before it is made (for pinning down
 * the access that stops the VMM; the platform phase's go to the kernel log, since
 * it fuzzes the console UART); HOSTILE_TRACE=legacy traces that phase alone.
 * Exit status 0 when it ran to the end.
 *
 * virtio-mmio (version 2) gets the same phases through its registers: aligned
 * accesses only (a device mapping faults on unaligned ones), QueueReady gated as
 * queue_enable is (mmio_gate), no config space or MSI-X.
 *
 * Built static by tests/testhost/run and run-arm64 for the busybox guest; meson
 * builds it too (x86_64 and aarch64: the whole program; elsewhere the parts
 * without port I/O or the platform registers).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <linux/virtio_mmio.h>
#if defined(__x86_64__)
#include <sys/io.h>
#endif

/* ---- small helpers -------------------------------------------------------------- */

static bool trace, trace_legacy;
static int kmsg_fd = -1;

/* A line for the kernel log too (it reaches the console by polling the UART, also
 * while the fuzzing has the tty's transmission stalled; printk.devkmsg=on on the
 * guest's command line keeps it from being rate-limited). */
static void kmsg(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	if (kmsg_fd < 0)
		return;
	memcpy(buf, "<3>", 3);
	va_start(ap, fmt);
	n = vsnprintf(buf + 3, sizeof(buf) - 3, fmt, ap);
	va_end(ap);
	if (n > 0 && write(kmsg_fd, buf, strlen(buf)) < 0)
		kmsg_fd = -1;
}

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("hostile: error: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -EIO;
}

static int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -EIO;
	buf[n] = 0;
	return 0;
}

/* ---- the random source ----------------------------------------------------------- */

struct rng {
	uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned below(struct rng *r, unsigned n)
{
	return n ? (unsigned)(rnd(r) % n) : 0;
}

static bool chance(struct rng *r, unsigned percent)
{
	return below(r, 100) < percent;
}

/* An edge value: 0, ~0, 2^k and its neighbours, sign bits, or plain random. */
static uint64_t edge(struct rng *r)
{
	unsigned k = below(r, 64);

	switch (below(r, 10)) {
	case 0: return 0;
	case 1: return ~0ULL;
	case 2: return 1ULL << k;
	case 3: return (1ULL << k) - 1;
	case 4: return (1ULL << k) + 1;
	case 5: return ~(1ULL << k);
	case 6: return below(r, 8);
	case 7: return 0x80000000ULL | (rnd(r) & 0xffff);
	default: return rnd(r);
	}
}

static unsigned width(struct rng *r)
{
	static const unsigned w[] = { 1, 2, 4, 8 };

	return w[below(r, 4)];
}

static uint64_t mask_to(uint64_t v, unsigned w)
{
	return w >= 8 ? v : v & ((1ULL << (8 * w)) - 1);
}

/* ---- memory-mapped registers ----------------------------------------------------- */

#if defined(__aarch64__)
/* aarch64: one plain LDR/STR per access, never a pair or a writeback form (KVM
 * emulates only MMIO accesses with a valid syndrome), and aligned: the device
 * mapping faults on unaligned accesses (the callers align). */
static uint64_t mmio_read(volatile uint8_t *p, unsigned w)
{
	uint64_t v;
	uint32_t x;

	switch (w) {
	case 1: __asm__ volatile("ldrb %w0, [%1]" : "=r"(x) : "r"(p) : "memory"); return x;
	case 2: __asm__ volatile("ldrh %w0, [%1]" : "=r"(x) : "r"(p) : "memory"); return x;
	case 4: __asm__ volatile("ldr %w0, [%1]" : "=r"(x) : "r"(p) : "memory"); return x;
	default: __asm__ volatile("ldr %0, [%1]" : "=r"(v) : "r"(p) : "memory"); return v;
	}
}

static void mmio_write(volatile uint8_t *p, unsigned w, uint64_t v)
{
	switch (w) {
	case 1: __asm__ volatile("strb %w0, [%1]" : : "r"((uint32_t)v), "r"(p) : "memory"); break;
	case 2: __asm__ volatile("strh %w0, [%1]" : : "r"((uint32_t)v), "r"(p) : "memory"); break;
	case 4: __asm__ volatile("str %w0, [%1]" : : "r"((uint32_t)v), "r"(p) : "memory"); break;
	default: __asm__ volatile("str %0, [%1]" : : "r"(v), "r"(p) : "memory"); break;
	}
}
#else
static uint64_t mmio_read(volatile uint8_t *p, unsigned w)
{
	switch (w) {
	case 1: return *(volatile uint8_t *)p;
	case 2: return *(volatile uint16_t *)(volatile void *)p;
	case 4: return *(volatile uint32_t *)(volatile void *)p;
	default: return *(volatile uint64_t *)(volatile void *)p;
	}
}

static void mmio_write(volatile uint8_t *p, unsigned w, uint64_t v)
{
	switch (w) {
	case 1: *(volatile uint8_t *)p = (uint8_t)v; break;
	case 2: *(volatile uint16_t *)(volatile void *)p = (uint16_t)v; break;
	case 4: *(volatile uint32_t *)(volatile void *)p = (uint32_t)v; break;
	default: *(volatile uint64_t *)(volatile void *)p = v; break;
	}
}
#endif

/* A /dev/mem mapping of the page(s) holding [addr, addr + len); NULL on failure
 * (errno set). The guest boots with iomem=relaxed: pages a driver claimed stay
 * mappable (CONFIG_IO_STRICT_DEVMEM). */
static volatile uint8_t *devmem_map(uint64_t addr, size_t len)
{
	int fd = open("/dev/mem", O_RDWR | O_SYNC), e;
	uint64_t page = addr & ~0xfffULL;
	size_t sz = (size_t)((addr + len + 0xfff) & ~0xfffULL) - (size_t)page;
	void *p;

	if (fd < 0)
		return NULL;
	p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)page);
	e = errno;
	close(fd);
	errno = e;
	return p == MAP_FAILED ? NULL : (volatile uint8_t *)p + (addr - page);
}

/* ---- guest RAM and our own memory ------------------------------------------------ */

/* The end of guest RAM (the highest "System RAM" in /proc/iomem): everything at
 * or above it is outside RAM. Only trusted where RAM ends below the 32-bit
 * hole, which the test's guest sizes ensure (checked). */
static uint64_t ram_top, ram_base = ~0ULL;

static void find_ram_top(void)
{
	FILE *f = fopen("/proc/iomem", "r");
	char line[256];

	if (!f)
		die("/proc/iomem: %s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		unsigned long long a, b;

		if (line[0] != ' ' && strstr(line, "System RAM") &&
		    sscanf(line, "%llx-%llx", &a, &b) == 2) {
			if (b + 1 > ram_top)
				ram_top = b + 1;
			if (a < ram_base)
				ram_base = a;
		}
	}
	fclose(f);
#if !defined(__aarch64__)
	ram_base = 0;	/* x86: RAM from 0, whatever /proc/iomem reserves below 4 KiB */
#endif
	if (ram_top == 0)
		die("no System RAM in /proc/iomem (run as root)");
	if (ram_top > 0xc0000000ULL)
		die("guest RAM ends at 0x%llx: hostile needs a guest below 3 GiB",
		    (unsigned long long)ram_top);
}

/* Our 2 MiB huge page: physically contiguous, locked, never reused by the
 * kernel for anything but huge pages. Its areas:
 *   DESC   descriptor tables and indirect tables: only safe descriptors at
 *          every 16-byte slot (ours to write, never the device's)
 *   AVAIL  avail rings
 *   ZERO   always zero: rings at odd alignments read nothing but zeros
 *   DATA   device-readable buffers (request headers, frames)
 *   WR     used rings and device-writable buffers: the only part of RAM the
 *          device may write */
#define HP_SIZE		0x200000ULL
#define A_DESC		0x000000ULL	/* 3 queues x 0x40000 */
#define A_DESC_END	0x0c0000ULL
#define A_AVAIL		0x0c0000ULL	/* 3 queues x 0x10000 */
#define A_AVAIL_END	0x0f0000ULL
#define A_ZERO		0x0f0000ULL
#define A_ZERO_END	0x100000ULL
#define A_DATA		0x100000ULL
#define A_DATA_END	0x180000ULL
#define A_WR		0x180000ULL	/* used rings: 3 x 0x10000, then buffers */
#define A_WRBUF		0x1b0000ULL
#define A_WR_END	0x200000ULL
#define MAXQ		3

static uint8_t *hp;		/* our mapping */
static uint64_t hp_phys;	/* its guest-physical address */

static uint64_t virt_to_phys(const void *p)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);
	uint64_t e = 0;
	long ps = sysconf(_SC_PAGESIZE);

	if (fd < 0)
		die("/proc/self/pagemap: %s", strerror(errno));
	if (pread(fd, &e, 8, (off_t)((uintptr_t)p / (uintptr_t)ps) * 8) != 8)
		die("/proc/self/pagemap: %s", strerror(errno));
	close(fd);
	if (!(e & (1ULL << 63)) || (e & ((1ULL << 55) - 1)) == 0)
		die("page %p is not present or its frame is hidden (run as root)", p);
	return (e & ((1ULL << 55) - 1)) * (uint64_t)ps + (uintptr_t)p % (uintptr_t)ps;
}

static void hugepage_init(void)
{
	char buf[32];

	if (read_file("/proc/sys/vm/nr_hugepages", buf, sizeof(buf)) == 0 && atoi(buf) < 2)
		write_file("/proc/sys/vm/nr_hugepages", "2");
	hp = mmap(NULL, HP_SIZE, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1, 0);
	if (hp == MAP_FAILED)
		die("a 2 MiB huge page: %s (CONFIG_HUGETLBFS, vm.nr_hugepages)", strerror(errno));
	if (mlock(hp, HP_SIZE) < 0)
		die("mlock: %s", strerror(errno));
	memset(hp, 0, HP_SIZE);
	hp_phys = virt_to_phys(hp);
	if (hp_phys % HP_SIZE || virt_to_phys(hp + HP_SIZE - 4096) != hp_phys + HP_SIZE - 4096)
		die("the huge page is not one contiguous 2 MiB frame");
	if (hp_phys + HP_SIZE > ram_top)
		die("the huge page lies past the end of RAM?");
}

static bool outside_ram(uint64_t a)
{
	return a >= ram_top || a < ram_base;
}

static bool in_area(uint64_t a, uint64_t ext, uint64_t lo, uint64_t hi)
{
	return a >= hp_phys + lo && a <= hp_phys + hi && ext <= hp_phys + hi - a;
}

/* Rings the device may be given (see the top comment). */
static bool rings_safe(uint64_t size, uint64_t desc, uint64_t avail, uint64_t used)
{
	uint64_t de = 16 * size, ae = 6 + 2 * size, ue = 6 + 8 * size;

	if (size > 0x10000)
		return false;
	if (!outside_ram(desc) && !(desc % 16 == 0 && in_area(desc, de, A_DESC, A_DESC_END)) &&
	    !in_area(desc, de, A_ZERO, A_ZERO_END))
		return false;
	if (!outside_ram(avail) && !in_area(avail, ae, A_AVAIL, A_AVAIL_END) &&
	    !in_area(avail, ae, A_ZERO, A_ZERO_END))
		return false;
	if (!outside_ram(used) && !in_area(used, ue, A_WR, A_WR_END))
		return false;
	return true;
}

/* ---- port I/O (x86_64) ----------------------------------------------------------- */

#if defined(__x86_64__)
static bool have_ports;

static uint32_t port_in(uint16_t port, unsigned w)
{
	switch (w) {
	case 1: return inb(port);
	case 2: return inw(port);
	default: return inl(port);
	}
}

static void port_out(uint16_t port, unsigned w, uint32_t v)
{
	switch (w) {
	case 1: outb((uint8_t)v, port); break;
	case 2: outw((uint16_t)v, port); break;
	default: outl(v, port); break;
	}
}
#endif

/* ---- one virtio-pci device -------------------------------------------------------- */

/* virtio-pci BAR 0 layout as vmm has it (docs/virtio.md); the offsets are the
 * spec's common configuration fields. */
#define C_DFSELECT	0x00
#define C_DF		0x04
#define C_GFSELECT	0x08
#define C_GF		0x0c
#define C_MSIX_CONFIG	0x10
#define C_NUM_QUEUES	0x12
#define C_STATUS	0x14
#define C_Q_SELECT	0x16
#define C_Q_SIZE	0x18
#define C_Q_MSIX	0x1a
#define C_Q_ENABLE	0x1c
#define C_Q_DESC	0x20
#define C_Q_AVAIL	0x28
#define C_Q_USED	0x30
#define C_LEN		0x3c
#define R_ISR		0x1000
#define R_DEVCFG	0x2000
#define R_NOTIFY	0x3000
#define R_MSIX		0x4000
#define R_PBA		0x5000
#define BAR_SIZE	0x8000

#define ST_ACK		1
#define ST_DRIVER	2
#define ST_DRIVER_OK	4
#define ST_FEATURES_OK	8
#define ST_NEEDS_RESET	0x40

#define F_INDIRECT	28
#define F_EVENT_IDX	29
#define F_VERSION_1	32

#define D_NEXT		1
#define D_WRITE		2
#define D_INDIRECT	4

enum kind { K_OTHER, K_NET, K_BLK, K_RNG };
static const char *const kind_name[] = { "other", "net", "blk", "rng" };

/* virtio-mmio version 2 (<linux/virtio_mmio.h>): a 0x200 window per slot. */
#define M_SIZE		0x200
#define M_QTRACK	16

struct vdev {
	char bdf[32];			/* PCI address, or platform device name (mmio) */
	bool mmio;			/* virtio-mmio (aarch64) rather than virtio-pci */
	uint64_t mmio_base;
	uint32_t m_sel;			/* mmio: QueueSel as vmm has it */
	uint32_t m_num[M_QTRACK];	/* mmio: largest QueueNum written since the reset */
	unsigned slot;
	enum kind kind;
	int cfg_fd;
	volatile uint8_t *bar;
	uint8_t cfg_save[64];
	uint8_t msix_cap, cfg_cap;
	unsigned nq;
	uint16_t qsize[MAXQ];		/* as enabled in the current round */
	uint16_t avail_idx[MAXQ];
	uint64_t capacity;		/* blk: sectors */
	struct rng r;
	/* counts */
	unsigned long accesses, kicks, needs_reset;
};

static struct vdev *targets[32];
static unsigned ntargets;

static void bar_w(struct vdev *d, uint32_t off, unsigned w, uint64_t v)
{
	if (trace)
		say("hostile: trace %s bar+0x%x w%u = 0x%llx\n", d->bdf, off, w,
		    (unsigned long long)mask_to(v, w));
	d->accesses++;
	mmio_write(d->bar + off, w, v);
}

static uint64_t bar_r(struct vdev *d, uint32_t off, unsigned w)
{
	d->accesses++;
	return mmio_read(d->bar + off, w);
}

static void cfg_read(struct vdev *d, unsigned off, void *buf, size_t len)
{
	memset(buf, 0xff, len);
	if (pread(d->cfg_fd, buf, len, off) < 0)
		memset(buf, 0xff, len);
}

/* Makes a config-space write safe for the guest (see the top comment): MSI-X
 * enable only together with its function mask; nothing through the
 * VIRTIO_PCI_CAP_PCI_CFG window while the window covers queue_enable. Returns
 * false when the write is to be skipped. `cur` is the config space as it is. */
static bool cfg_sanitize(const struct vdev *d, const uint8_t *cur, unsigned off,
			 uint8_t *b, unsigned len)
{
	for (unsigned i = 0; i < len; i++) {
		unsigned o = off + i;

		if (d->msix_cap && o == d->msix_cap + 3u && (b[i] & 0x80))
			b[i] |= 0x40;
	}
	if (d->cfg_cap && off < d->cfg_cap + 20u && off + len > d->cfg_cap + 16u) {
		uint8_t win[4];
		uint64_t wo_old, wo_new;

		memcpy(win, cur + d->cfg_cap + 8, 4);
		wo_old = win[0] | win[1] << 8 | win[2] << 16 | (uint64_t)win[3] << 24;
		for (unsigned i = 0; i < len; i++)
			if (off + i >= d->cfg_cap + 8u && off + i < d->cfg_cap + 12u)
				win[off + i - (d->cfg_cap + 8u)] = b[i];
		wo_new = win[0] | win[1] << 8 | win[2] << 16 | (uint64_t)win[3] << 24;
		if ((wo_old < C_Q_ENABLE + 2 && wo_old + 8 > C_Q_ENABLE) ||
		    (wo_new < C_Q_ENABLE + 2 && wo_new + 8 > C_Q_ENABLE))
			return false;
	}
	return true;
}

static void cfg_fuzz_sysfs(struct vdev *d)
{
	uint8_t cur[256], b[8];
	unsigned len = 1 + below(&d->r, 8), off;
	uint64_t v = edge(&d->r);

	if (chance(&d->r, 70))
		off = below(&d->r, 0x48);	/* the header and our capabilities */
	else
		off = below(&d->r, 0x108);
	cfg_read(d, 0, cur, sizeof(cur));
	for (unsigned i = 0; i < len; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	d->accesses++;
	if (chance(&d->r, 30) || !cfg_sanitize(d, cur, off, b, len)) {
		if (pread(d->cfg_fd, b, len, off) < 0)
			return;
		return;
	}
	if (trace)
		say("hostile: trace %s config+0x%x len %u = 0x%llx (sysfs)\n", d->bdf, off, len,
		    (unsigned long long)mask_to(v, len));
	if (pwrite(d->cfg_fd, b, len, off) < 0)
		return;
}

#if defined(__x86_64__)
/* Config space through 0xcf8/0xcfc: the target's own function, its other
 * functions, the host bridge, absent slots and buses; never another device. */
static void cfg_fuzz_ports(struct vdev *d)
{
	unsigned bus = 0, slot = d->slot, fn = 0, reg, w, port;
	uint32_t addr;
	uint8_t cur[256];
	bool own = true;
	char path[64];

	if (!have_ports)
		return;
	switch (below(&d->r, 8)) {
	case 0: slot = 0; own = false; break;		/* host bridge */
	case 1: fn = 1 + below(&d->r, 7); own = false; break;
	case 2: bus = 1 + below(&d->r, 255); own = false; break;
	case 3:
		slot = 1 + below(&d->r, 31);
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/0000:00:%02x.0", slot);
		if (access(path, F_OK) == 0)
			slot = d->slot;		/* present: someone else's */
		else
			own = false;
		break;
	default: break;
	}
	reg = chance(&d->r, 75) ? below(&d->r, 0x48) : below(&d->r, 0x100);
	addr = 0x80000000u | bus << 16 | slot << 11 | fn << 8 | (reg & 0xfc);
	if (chance(&d->r, 10))
		addr |= (uint32_t)below(&d->r, 16) << 24;	/* AMD extended registers */
	if (chance(&d->r, 5))
		addr &= 0x7fffffffu;				/* disabled */
	w = 1u << below(&d->r, 3);
	port = 0xcfc + below(&d->r, 4);
	d->accesses += 2;
	port_out(0xcf8, 4, addr);
	if (chance(&d->r, 40)) {
		(void)port_in((uint16_t)port, w);
	} else {
		uint64_t v = edge(&d->r);
		uint8_t b[4];
		unsigned off = (addr & 0xfc) + (port - 0xcfc);

		for (unsigned i = 0; i < 4; i++)
			b[i] = (uint8_t)(v >> (8 * i));
		if (own && (addr & 0x80000000u) && !(addr & 0x0f000000u)) {
			cfg_read(d, 0, cur, sizeof(cur));
			if (!cfg_sanitize(d, cur, off, b, w))
				return;
		}
		v = b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
		if (trace)
			say("hostile: trace cf8=0x%08x port 0x%x w%u = 0x%llx\n", addr, port, w,
			    (unsigned long long)mask_to(v, w));
		/* Port and address are re-written back to back: the guest
		 * kernel's own config accesses take the same ports. */
		port_out(0xcf8, 4, addr);
		port_out((uint16_t)port, w, (uint32_t)v);
	}
	port_out(0xcf8, 4, 0);
}
#else
static void cfg_fuzz_ports(struct vdev *d)
{
	(void)d;
}
#endif

/* The gate for common-config writes: a write that sets queue_enable goes
 * through only when the queue's rings, before and after the write, are safe
 * (rings_safe); otherwise its queue_enable bytes are cleared. */
static void common_gate(struct vdev *d, uint32_t off, unsigned w, uint64_t *v)
{
	uint8_t cur[C_LEN], nw[C_LEN], b[8];
	uint64_t size_o, size_n, dsc[2], av[2], us[2];
	bool covers_enable = off < C_Q_ENABLE + 2 && off + w > C_Q_ENABLE;
	bool covers_select = off < C_Q_SELECT + 2 && off + w > C_Q_SELECT;

	if (!covers_enable)
		return;
	for (unsigned i = 0; i < 8; i++)
		b[i] = (uint8_t)(*v >> (8 * i));
	if (covers_select)	/* another queue's rings: unknown here */
		goto refuse;
	memset(cur, 0, sizeof(cur));
	for (unsigned o = C_Q_SIZE; o < C_Q_DESC; o += 2) {
		uint16_t x = (uint16_t)bar_r(d, o, 2);

		memcpy(cur + o, &x, 2);
	}
	for (unsigned o = C_Q_DESC; o < C_Q_USED + 8; o += 4) {
		uint32_t x = (uint32_t)bar_r(d, o, 4);

		memcpy(cur + o, &x, 4);
	}
	memcpy(nw, cur, sizeof(nw));
	for (unsigned i = 0; i < w && off + i < C_LEN; i++)
		nw[off + i] = b[i];
	if (!(nw[C_Q_ENABLE] | nw[C_Q_ENABLE + 1]))
		return;
	size_o = cur[C_Q_SIZE] | cur[C_Q_SIZE + 1] << 8;
	size_n = nw[C_Q_SIZE] | nw[C_Q_SIZE + 1] << 8;
	memcpy(&dsc[0], cur + C_Q_DESC, 8);
	memcpy(&dsc[1], nw + C_Q_DESC, 8);
	memcpy(&av[0], cur + C_Q_AVAIL, 8);
	memcpy(&av[1], nw + C_Q_AVAIL, 8);
	memcpy(&us[0], cur + C_Q_USED, 8);
	memcpy(&us[1], nw + C_Q_USED, 8);
	for (unsigned i = 0; i < 2; i++)
		for (unsigned j = 0; j < 2; j++)
			if (!rings_safe(j ? size_n : size_o, dsc[i], av[i], us[i]))
				goto refuse;
	return;
refuse:
	for (unsigned k = 0; k < w; k++)
		if (off + k == C_Q_ENABLE || off + k == C_Q_ENABLE + 1)
			b[k] = 0;
	*v = 0;
	for (unsigned k = 0; k < 8; k++)
		*v |= (uint64_t)b[k] << (8 * k);
}

/* The gate for virtio-mmio writes. vmm takes only aligned 4-byte register
 * writes (others are dropped), so it follows those: QueueSel, and QueueNum,
 * which is write-only (the largest size written since the last reset stands
 * for it: the ring extents checked are never smaller than the real ones). A
 * QueueReady = 1 goes through only when the selected queue's rings, read back,
 * are safe (rings_safe) at that size; otherwise it becomes a 2 (ignored). */
static void mmio_gate(struct vdev *d, uint32_t off, unsigned w, uint64_t *v)
{
	uint32_t x = (uint32_t)*v;
	uint64_t a[3];

	if (w != 4 || off % 4 || off >= VIRTIO_MMIO_CONFIG)
		return;
	switch (off) {
	case VIRTIO_MMIO_QUEUE_SEL:
		d->m_sel = x;
		break;
	case VIRTIO_MMIO_STATUS:
		if (x == 0) {
			d->m_sel = 0;
			memset(d->m_num, 0, sizeof(d->m_num));
		}
		break;
	case VIRTIO_MMIO_QUEUE_NUM:
		if (d->m_sel < M_QTRACK && x <= 0xffff && x > d->m_num[d->m_sel])
			d->m_num[d->m_sel] = x;
		break;
	case VIRTIO_MMIO_QUEUE_READY:
		if (x != 1)
			break;
		if (d->m_sel >= M_QTRACK)
			goto refuse;
		for (unsigned i = 0; i < 3; i++) {
			uint32_t o = VIRTIO_MMIO_QUEUE_DESC_LOW + 0x10 * i;

			a[i] = bar_r(d, o, 4) | bar_r(d, o + 4, 4) << 32;
		}
		if (!rings_safe(d->m_num[d->m_sel], a[0], a[1], a[2]))
			goto refuse;
		break;
	default:
		break;
	}
	return;
refuse:
	*v = (*v & ~0xffffffffULL) | 2;
}

static void bar_write_gated(struct vdev *d, uint32_t off, unsigned w, uint64_t v)
{
	if (d->mmio)
		mmio_gate(d, off, w, &v);
	else if (off < C_LEN)
		common_gate(d, off, w, &v);
	bar_w(d, off, w, v);
}

/* ---- the transport: virtio-pci common config or virtio-mmio registers ----------- */

static void t_status_w(struct vdev *d, uint8_t s)
{
	if (d->mmio)
		bar_write_gated(d, VIRTIO_MMIO_STATUS, 4, s);
	else
		bar_w(d, C_STATUS, 1, s);
}

static uint8_t t_status_r(struct vdev *d)
{
	return (uint8_t)(d->mmio ? bar_r(d, VIRTIO_MMIO_STATUS, 4) : bar_r(d, C_STATUS, 1));
}

static uint32_t t_dfeat(struct vdev *d, uint32_t sel)
{
	bar_write_gated(d, d->mmio ? VIRTIO_MMIO_DEVICE_FEATURES_SEL : C_DFSELECT, 4, sel);
	return (uint32_t)bar_r(d, d->mmio ? VIRTIO_MMIO_DEVICE_FEATURES : C_DF, 4);
}

static void t_gfsel(struct vdev *d, uint32_t sel)
{
	bar_write_gated(d, d->mmio ? VIRTIO_MMIO_DRIVER_FEATURES_SEL : C_GFSELECT, 4, sel);
}

static void t_gfeat(struct vdev *d, uint32_t sel, uint32_t v)
{
	t_gfsel(d, sel);
	bar_write_gated(d, d->mmio ? VIRTIO_MMIO_DRIVER_FEATURES : C_GF, 4, v);
}

static void t_qsel(struct vdev *d, uint32_t q)
{
	if (d->mmio)
		bar_write_gated(d, VIRTIO_MMIO_QUEUE_SEL, 4, q);
	else
		bar_w(d, C_Q_SELECT, 2, q);
}

static uint16_t t_qmax(struct vdev *d)
{
	if (d->mmio) {
		uint32_t m = (uint32_t)bar_r(d, VIRTIO_MMIO_QUEUE_NUM_MAX, 4);

		return m > 0xffff ? 0xffff : (uint16_t)m;
	}
	return (uint16_t)bar_r(d, C_Q_SIZE, 2);
}

static void t_qsize(struct vdev *d, uint16_t size)
{
	if (d->mmio)
		bar_write_gated(d, VIRTIO_MMIO_QUEUE_NUM, 4, size);
	else
		bar_w(d, C_Q_SIZE, 2, size);
}

static void t_qenable(struct vdev *d, uint64_t v)
{
	if (d->mmio)
		bar_write_gated(d, VIRTIO_MMIO_QUEUE_READY, 4, v);
	else
		bar_write_gated(d, C_Q_ENABLE, 2, v);
}

/* An offset in BAR 0, biased to registers and region edges. */
static uint32_t bar_offset(struct vdev *d)
{
	static const uint32_t regions[][2] = {
		{ 0, C_LEN }, { R_ISR, 4 }, { R_DEVCFG, 0x40 }, { R_NOTIFY, 4 * MAXQ + 8 },
		{ R_MSIX, 16 * (MAXQ + 1) + 16 }, { R_PBA, 16 },
	};
	unsigned k = below(&d->r, 10);

	if (k < 6) {
		uint32_t base = regions[k][0], len = regions[k][1];

		switch (below(&d->r, 4)) {
		case 0: return base + len - 1 - below(&d->r, 8);	/* at the end */
		case 1: return base + len + below(&d->r, 4);		/* just past */
		default: return base + below(&d->r, len);
		}
	}
	if (k < 8)
		return (uint32_t)(below(&d->r, 8) * 0x1000 - 1 - below(&d->r, 8)) & (BAR_SIZE - 1);
	return below(&d->r, BAR_SIZE);
}

/* An offset in a virtio-mmio window, biased to registers and the config edges. */
static uint32_t mmio_offset(struct vdev *d)
{
	static const uint16_t regs[] = {
		VIRTIO_MMIO_MAGIC_VALUE, VIRTIO_MMIO_VERSION, VIRTIO_MMIO_DEVICE_ID,
		VIRTIO_MMIO_VENDOR_ID, VIRTIO_MMIO_DEVICE_FEATURES, VIRTIO_MMIO_DEVICE_FEATURES_SEL,
		VIRTIO_MMIO_DRIVER_FEATURES, VIRTIO_MMIO_DRIVER_FEATURES_SEL,
		VIRTIO_MMIO_GUEST_PAGE_SIZE, VIRTIO_MMIO_QUEUE_SEL, VIRTIO_MMIO_QUEUE_NUM_MAX,
		VIRTIO_MMIO_QUEUE_NUM, VIRTIO_MMIO_QUEUE_ALIGN, VIRTIO_MMIO_QUEUE_PFN,
		VIRTIO_MMIO_QUEUE_READY, VIRTIO_MMIO_QUEUE_NOTIFY, VIRTIO_MMIO_INTERRUPT_STATUS,
		VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_STATUS, VIRTIO_MMIO_QUEUE_DESC_LOW,
		VIRTIO_MMIO_QUEUE_DESC_HIGH, VIRTIO_MMIO_QUEUE_AVAIL_LOW, VIRTIO_MMIO_QUEUE_AVAIL_HIGH,
		VIRTIO_MMIO_QUEUE_USED_LOW, VIRTIO_MMIO_QUEUE_USED_HIGH, VIRTIO_MMIO_SHM_SEL,
		VIRTIO_MMIO_SHM_LEN_LOW, VIRTIO_MMIO_SHM_LEN_HIGH, VIRTIO_MMIO_SHM_BASE_LOW,
		VIRTIO_MMIO_SHM_BASE_HIGH, 0x0c0 /* QueueReset */, VIRTIO_MMIO_CONFIG_GENERATION,
	};
	unsigned k = below(&d->r, 10);

	if (k < 6)
		return regs[below(&d->r, sizeof(regs) / sizeof(regs[0]))];
	if (k < 8)
		return VIRTIO_MMIO_CONFIG + below(&d->r, 0x40);
	if (k < 9)
		return M_SIZE - 1 - below(&d->r, 8);
	return below(&d->r, M_SIZE);
}

static void bar_fuzz(struct vdev *d)
{
	uint32_t off;
	unsigned w;

	if (d->mmio) {	/* aligned: the device mapping faults otherwise */
		off = mmio_offset(d);
		w = width(&d->r);
		off &= ~(w - 1);
		if (chance(&d->r, 35)) {
			(void)bar_r(d, off, w);
			return;
		}
		bar_write_gated(d, off, w, edge(&d->r));
		return;
	}
	off = bar_offset(d);
	w = width(&d->r);

	if (off + w > BAR_SIZE)
		off = BAR_SIZE - w;
	if (chance(&d->r, 35)) {
		(void)bar_r(d, off, w);
		return;
	}
	bar_write_gated(d, off, w, edge(&d->r));
}

/* ---- rings -------------------------------------------------------------------------- */

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

static uint64_t q_desc(unsigned q) { return A_DESC + q * 0x40000ULL; }
static uint64_t q_avail(unsigned q) { return A_AVAIL + q * 0x10000ULL; }
static uint64_t q_used(unsigned q) { return A_WR + q * 0x10000ULL; }
/* Indirect tables: 4 KiB each, after the queue's largest descriptor table. */
static uint64_t q_table(unsigned q, unsigned i) { return q_desc(q) + 0x10000 + (i % 48) * 0x1000ULL; }

static void *hpp(uint64_t area_off) { return hp + area_off; }
static uint64_t hpa(uint64_t area_off) { return hp_phys + area_off; }

/* An address outside RAM: past its end, in the 32-bit hole, at the APIC, past
 * 4 GiB, or near the top so that address + length wraps; on aarch64 also below
 * RAM, where the GIC, the UART and the virtio-mmio windows are. */
static uint64_t addr_outside(struct rng *r)
{
#if defined(__aarch64__)
	switch (below(r, 4)) {
	case 0: return 0x0a000000ULL + below(r, 0x4000);	/* virtio-mmio */
	case 1: return 0x08000000ULL + below(r, 0x20000);	/* GIC */
	case 2: return ram_base - 1 - below(r, 0x1000);	/* just below RAM */
	default: break;
	}
#endif
	switch (below(r, 7)) {
	case 0: return ram_top + below(r, 0x1000);
	case 1: return 0xc0000000ULL + below(r, 0x10000);
	case 2: return 0xfee00000ULL;
	case 3: return 0x100000000ULL << below(r, 20);
	case 4: return ~0ULL - below(r, 64);
	case 5: return ram_top - 1 + 2;
	default: return (rnd(r) | 0x8000000000000000ULL) & ~0xfULL;
	}
}

/* A device-writable buffer: inside WR, outside RAM, or reaching past RAM's end. */
static void wr_buf(struct rng *r, uint64_t *addr, uint32_t *len, uint32_t want)
{
	uint64_t span = A_WR_END - A_WRBUF;

	switch (below(r, 10)) {
	case 0:
		*addr = addr_outside(r);
		*len = (uint32_t)edge(r);
		return;
	case 1: {
		/* From WR to past the end of RAM: refused whole, or a bug. */
		uint64_t a = hpa(A_WRBUF + below(r, (unsigned)span));
		uint64_t need = ram_top - a + 1;

		*addr = a;
		*len = (uint32_t)(need + below(r, 1u << 20));
		if (*len < need)
			*len = 0xffffffffu;
		return;
	}
	default: {
		uint32_t l = want ? want : 1 + below(r, 8192);
		uint64_t o;

		if (l > span)
			l = (uint32_t)span;
		o = below(r, (unsigned)(span - l + 1));
		*addr = hpa(A_WRBUF + o);
		*len = l;
		return;
	}
	}
}

/* A device-readable buffer: our data area mostly, any RAM, outside RAM, or long. */
static void rd_buf(struct rng *r, uint64_t *addr, uint32_t *len, uint32_t want)
{
	uint64_t span = A_DATA_END - A_DATA;

	switch (below(r, 12)) {
	case 0:
		*addr = addr_outside(r);
		*len = (uint32_t)edge(r);
		return;
	case 1:
		*addr = ram_base +
			below(r, (unsigned)((ram_top - ram_base) >> 12)) * 4096ULL;	/* any RAM page */
		*len = 1 + below(r, 4096);
		return;
	case 2:
		*addr = hpa(A_DATA);
		*len = 0xffffffffu - below(r, 2);	/* up to 4 GiB */
		return;
	default: {
		uint32_t l = want ? want : 1 + below(r, 4096);
		uint64_t o;

		if (l > span)
			l = (uint32_t)span;
		o = below(r, (unsigned)(span - l + 1));
		*addr = hpa(A_DATA + o);
		*len = l;
		return;
	}
	}
}

/* The chain builder: descriptors go to table t (size n) from index *at. */
struct builder {
	struct vdev *d;
	unsigned q;
	struct desc *t;
	unsigned n;
	unsigned at;
	unsigned tables;	/* indirect tables used in this round */
};

static unsigned put(struct builder *b, uint64_t addr, uint32_t len, uint16_t flags)
{
	unsigned i = b->at++ % b->n;

	b->t[i] = (struct desc){ addr, len, flags, 0 };
	return i;
}

/* Links descriptors i..j (consecutive indices mod n) with NEXT. */
static void link_run(struct builder *b, unsigned first, unsigned count)
{
	for (unsigned k = 0; k + 1 < count; k++) {
		struct desc *e = &b->t[(first + k) % b->n];

		e->flags |= D_NEXT;
		e->next = (uint16_t)((first + k + 1) % b->n);
	}
}

static void rnd_fill(struct rng *r, void *p, size_t len)
{
	uint8_t *c = p;

	for (size_t i = 0; i < len; i++)
		c[i] = (uint8_t)rnd(r);
}

/* A device-readable header of `len` bytes in the data area, filled by fill(). */
static uint64_t data_slot(struct rng *r, size_t len, uint8_t **p)
{
	uint64_t o = A_DATA + below(r, (unsigned)(A_DATA_END - A_DATA - len)) / 16 * 16;

	*p = hpp(o);
	return hpa(o);
}

/* A valid(ish) request for the device kind, as a list of buffers in `out`. */
struct buf {
	uint64_t addr;
	uint32_t len;
	bool wr;
};

static unsigned request(struct vdev *d, unsigned q, struct buf *out, unsigned max)
{
	struct rng *r = &d->r;
	unsigned n = 0;

	switch (d->kind) {
	case K_BLK: {
		static const uint32_t types[] = { 0, 1, 4, 8, 11, 13, 0, 1, 2, 0xffffffff };
		uint8_t *h;
		uint32_t type = types[below(r, 10)];
		uint64_t sector;
		unsigned segs = 1 + below(r, 3);

		switch (below(r, 6)) {
		case 0: sector = d->capacity - 1; break;
		case 1: sector = d->capacity; break;
		case 2: sector = edge(r); break;
		default: sector = below(r, (unsigned)(d->capacity ? d->capacity : 1)); break;
		}
		out[n].addr = data_slot(r, 16, &h);
		out[n].len = chance(r, 90) ? 16 : below(r, 32);
		out[n++].wr = false;
		memcpy(h, &type, 4);
		memset(h + 4, 0, 4);
		memcpy(h + 8, &sector, 8);
		for (unsigned s = 0; s < segs && n + 1 < max; s++) {
			uint32_t len = chance(r, 80) ? 512 * (1 + below(r, 16)) : (uint32_t)edge(r) & 0xffff;
			bool wr = type == 0 || type == 8 ? !chance(r, 5) : chance(r, 5);

			if (type == 11 || type == 13) {
				uint8_t *seg;

				out[n].addr = data_slot(r, 64, &seg);
				out[n].len = 16 * (1 + below(r, 4));
				rnd_fill(r, seg, 64);
				if (chance(r, 70))
					memcpy(seg, &sector, 8);
				out[n++].wr = false;
				continue;
			}
			if (wr)
				wr_buf(r, &out[n].addr, &out[n].len, chance(r, 90) ? len : 0);
			else
				rd_buf(r, &out[n].addr, &out[n].len, chance(r, 90) ? len : 0);
			out[n++].wr = wr;
		}
		wr_buf(r, &out[n].addr, &out[n].len, chance(r, 90) ? 1 : 0);
		out[n++].wr = true;
		break;
	}
	case K_NET:
		if (q == 0) {	/* RX: writable buffers */
			unsigned k = 1 + below(r, 3);

			for (unsigned i = 0; i < k && n < max; i++) {
				wr_buf(r, &out[n].addr, &out[n].len,
				       chance(r, 70) ? 1526 : (uint32_t)edge(r) & 0x1ffff);
				out[n++].wr = true;
			}
		} else {	/* TX: header and frame */
			uint8_t *h;
			uint32_t flen = chance(r, 70) ? 60 + below(r, 1455) : (uint32_t)edge(r) & 0x1ffff;

			out[n].addr = data_slot(r, 12 + 64, &h);
			out[n].len = chance(r, 60) ? 12 : 12 + 64;
			memset(h, 0, 12 + 64);
			if (chance(r, 50))
				rnd_fill(r, h, 12);
			rnd_fill(r, h + 12, 64);
			h[12] = 0x02;	/* a locally administered destination */
			out[n++].wr = false;
			if (out[0].len == 12) {
				rd_buf(r, &out[n].addr, &out[n].len, flen ? flen : 1);
				out[n++].wr = false;
			}
		}
		break;
	default:	/* rng, others: writable buffers */
		for (unsigned i = 0, k = 1 + below(r, 3); i < k && n < max; i++) {
			wr_buf(r, &out[n].addr, &out[n].len,
			       chance(r, 80) ? 1 + below(r, 4096) : (uint32_t)edge(r) & 0x1ffff);
			out[n++].wr = true;
		}
		break;
	}
	return n;
}

/* One chain at b->at; returns its head. `how` picks the malformation. */
static unsigned chain(struct builder *b, unsigned how)
{
	struct rng *r = &b->d->r;
	struct buf bufs[8];
	unsigned nb = request(b->d, b->q, bufs, 8), head = b->at % b->n;

	switch (how) {
	case 0:	/* as the device wants it, direct */
	default:
		for (unsigned i = 0; i < nb; i++)
			put(b, bufs[i].addr, bufs[i].len, bufs[i].wr ? D_WRITE : 0);
		link_run(b, head, nb);
		return head;
	case 1: {	/* the same through an indirect table, maybe after direct ones */
		unsigned ti = b->tables++;
		struct desc *tab = hpp(q_table(b->q, ti));
		unsigned direct = chance(r, 20) && nb > 1 ? 1 : 0;

		for (unsigned i = 0; i < direct; i++)
			put(b, bufs[i].addr, bufs[i].len, bufs[i].wr ? D_WRITE : 0);
		for (unsigned i = direct; i < nb; i++) {
			tab[i - direct] = (struct desc){ bufs[i].addr, bufs[i].len,
				(uint16_t)((bufs[i].wr ? D_WRITE : 0) | (i + 1 < nb ? D_NEXT : 0)),
				(uint16_t)(i - direct + 1) };
			if (chance(r, 5))	/* out of order or out of the table */
				tab[i - direct].next = (uint16_t)edge(r);
		}
		put(b, hpa(q_table(b->q, ti)), 16 * (nb - direct),
		    (uint16_t)(D_INDIRECT | (chance(r, 10) ? D_WRITE : 0)));
		link_run(b, head, direct + 1);
		return head;
	}
	case 2: {	/* a loop: the last descriptor points back */
		unsigned k = 1 + below(r, 4);

		for (unsigned i = 0; i < k; i++)
			put(b, hpa(A_DATA), 16, 0);
		link_run(b, head, k);
		b->t[(head + k - 1) % b->n].flags |= D_NEXT;
		b->t[(head + k - 1) % b->n].next = (uint16_t)((head + below(r, k)) % b->n);
		return head;
	}
	case 3: {	/* a long chain in an indirect table whose links run in circles */
		unsigned ti = b->tables++;
		struct desc *tab = hpp(q_table(b->q, ti));

		for (unsigned i = 0; i < 256; i++)
			tab[i] = (struct desc){ hpa(A_DATA + 16 * i), 16, D_NEXT,
						(uint16_t)((i + 1) % 256) };
		put(b, hpa(q_table(b->q, ti)), 4096, D_INDIRECT);
		return head;
	}
	case 4:	/* next out of range */
		put(b, hpa(A_DATA), 16, D_NEXT);
		b->t[head].next = (uint16_t)(b->n + below(r, 0x10000 - b->n));
		return head;
	case 5: {	/* readable after writable */
		uint64_t a;
		uint32_t l;

		wr_buf(r, &a, &l, 64);
		put(b, a, l, D_WRITE);
		put(b, hpa(A_DATA), 16, 0);
		link_run(b, head, 2);
		return head;
	}
	case 6: {	/* nested indirect: a table naming a table */
		unsigned t1 = b->tables++, t2 = b->tables++;
		struct desc *tab1 = hpp(q_table(b->q, t1)), *tab2 = hpp(q_table(b->q, t2));

		tab2[0] = (struct desc){ hpa(A_DATA), 16, 0, 0 };
		tab1[0] = (struct desc){ hpa(A_DATA), 16, D_NEXT, 1 };
		tab1[1] = (struct desc){ hpa(q_table(b->q, t2)), 16, D_INDIRECT, 0 };
		put(b, hpa(q_table(b->q, t1)), 32, D_INDIRECT);
		return head;
	}
	case 7: {	/* indirect with NEXT */
		unsigned ti = b->tables++;
		struct desc *tab = hpp(q_table(b->q, ti));

		tab[0] = (struct desc){ hpa(A_DATA), 16, 0, 0 };
		put(b, hpa(q_table(b->q, ti)), 16, D_INDIRECT | D_NEXT);
		put(b, hpa(A_DATA), 16, 0);
		b->t[head].next = (uint16_t)((head + 1) % b->n);
		return head;
	}
	case 8: {	/* indirect table lengths: 0, odd, huge (past the end of RAM) */
		static const uint32_t lens[] = { 0, 8, 17, 4095, 0xfffffff0u, 0xffffffffu, 0x80000000u };
		unsigned ti = b->tables++;
		uint32_t l = lens[below(r, 7)];

		if (l > 4096 && l < ram_top)	/* only lengths that leave RAM */
			l = 0xfffffff0u;
		put(b, hpa(q_table(b->q, ti)), l, D_INDIRECT);
		return head;
	}
	case 9:	/* indirect table outside RAM */
		put(b, addr_outside(r), 16 * (1 + below(r, 16)), D_INDIRECT);
		return head;
	case 10: {	/* buffers outside RAM or wrapping */
		uint64_t a = addr_outside(r);

		put(b, a, (uint32_t)edge(r) | 1, chance(r, 50) ? D_WRITE : 0);
		return head;
	}
	case 11: {	/* over 4 GiB in total: readable, inside RAM each */
		unsigned k = 20 + below(r, 20);

		for (unsigned i = 0; i < k; i++)
			put(b, 0x1000, (uint32_t)(ram_top - 0x2000), 0);
		link_run(b, head, k);
		return head;
	}
	case 12: {	/* zero-length descriptors around a request */
		put(b, edge(r), 0, 0);
		for (unsigned i = 0; i < nb; i++)
			put(b, bufs[i].addr, bufs[i].len, bufs[i].wr ? D_WRITE : 0);
		put(b, edge(r), 0, D_WRITE);
		link_run(b, head, nb + 2);
		return head;
	}
	}
}

static void set_status(struct vdev *d, uint8_t s)
{
	t_status_w(d, s);
}

static void dev_reset(struct vdev *d)
{
	set_status(d, 0);
	for (unsigned i = 0; i < 100 && t_status_r(d) != 0; i++)
		sleep_us(1000);
	memset(d->qsize, 0, sizeof(d->qsize));
}

static void kick(struct vdev *d, unsigned q)
{
	struct rng *r = &d->r;
	unsigned w = chance(r, 85) ? 2 : width(r);
	uint64_t v = chance(r, 85) ? q : edge(r);

	d->kicks++;
	if (d->mmio) {	/* aligned: the mapping faults otherwise */
		w = chance(r, 85) ? 4 : width(r);
		bar_w(d, VIRTIO_MMIO_QUEUE_NOTIFY & ~(w - 1), w, v);
		return;
	}
	bar_w(d, R_NOTIFY + 4 * q + (chance(r, 3) ? 1 : 0), w, v);
}

/* One ring round: reset, negotiate, set up every queue, fill, kick, watch. */
static void ring_round(struct vdev *d, unsigned long it)
{
	struct rng *r = &d->r;
	uint64_t offered = 0, take;
	unsigned nq = d->nq > MAXQ ? MAXQ : d->nq;
	uint8_t st;

	dev_reset(d);
	for (unsigned q = 0; q < nq; q++)
		memset(hpp(q_used(q)), 0, 0x1000);
	/* Rings are written only while the device is reset: it never reads
	 * a descriptor half written. */
	set_status(d, ST_ACK);
	set_status(d, ST_ACK | ST_DRIVER);
	for (unsigned s = 0; s < 2; s++)
		offered |= (uint64_t)t_dfeat(d, s) << (32 * s);
	take = offered;
	if (chance(r, 30))
		take &= ~(1ULL << F_INDIRECT);
	if (chance(r, 30))
		take &= ~(1ULL << F_EVENT_IDX);
	if (chance(r, 5))
		take |= 1ULL << below(r, 64);	/* not offered: FEATURES_OK refused */
	if (chance(r, 3))
		take &= ~(1ULL << F_VERSION_1);
	for (unsigned s = 0; s < 2; s++)
		t_gfeat(d, s, (uint32_t)(take >> (32 * s)));
	if (chance(r, 2))
		t_gfsel(d, (uint32_t)edge(r));
	set_status(d, ST_ACK | ST_DRIVER | ST_FEATURES_OK);
	if (!(t_status_r(d) & ST_FEATURES_OK) && !chance(r, 20))
		return;

	for (unsigned q = 0; q < nq; q++) {
		uint16_t max, size;
		uint64_t da = hpa(q_desc(q)), aa = hpa(q_avail(q)), ua = hpa(q_used(q));
		struct builder b;
		unsigned chains, how;
		struct desc *t = hpp(q_desc(q));

		t_qsel(d, q);
		max = t_qmax(d);
		if (!max)
			continue;
		switch (below(r, 12)) {
		case 0: size = (uint16_t)(max + 1); break;
		case 1: size = (uint16_t)(3 + 2 * below(r, 100)); break;	/* not a power of 2 */
		case 2: size = 0; break;
		case 3: size = (uint16_t)edge(r); break;
		default: size = (uint16_t)(1u << below(r, 9)); if (size > max) size = max; break;
		}
		switch (below(r, 14)) {
		case 0: da = addr_outside(r); break;
		case 1: aa = addr_outside(r); break;
		case 2: ua = addr_outside(r); break;
		case 3: da += 8; break;				/* misaligned, in safe descriptors */
		case 4: da = hpa(A_ZERO) + 1 + below(r, 15); break;	/* misaligned, zeros */
		case 5: aa += 1; break;
		case 6: ua += 2; break;
		case 7: ua = da; break;				/* overlapping: gated off */
		default: break;
		}
		/* The rings: the whole table rewritten (only safe descriptors). */
		memset(t, 0, 16 * 256);
		memset(hpp(q_avail(q)), 0, 0x1000);
		b = (struct builder){ d, q, t, size && size <= 256 ? size : 256, 0, 0 };
		chains = 1 + below(r, 16);
		if (chains > b.n)
			chains = b.n;
		{
			volatile uint16_t *av = hpp(q_avail(q));
			uint16_t idx = 0;

			for (unsigned c = 0; c < chains && b.at < b.n; c++) {
				unsigned room = b.n - b.at;

				how = chance(r, 50) ? below(r, 2) : below(r, 13);
				if (room < 40 && (how == 11 || how == 12))
					how = 0;
				if (room < 8)
					how = 4;
				av[2 + idx % b.n] = (uint16_t)chain(&b, how);
				idx++;
			}
			if (chance(r, 8))
				av[2 + below(r, b.n)] = (uint16_t)(b.n + below(r, 0x10000 - b.n));
			if (chance(r, 10))
				av[0] = (uint16_t)edge(r);		/* flags */
			if (chance(r, 10))
				av[2 + b.n] = (uint16_t)edge(r);	/* used_event */
			d->avail_idx[q] = idx;
		}
		t_qsize(d, size);
		if (d->mmio) {	/* 32-bit halves; QueueNum is write-only */
			uint64_t a3[3] = { da, aa, ua };

			for (unsigned i = 0; i < 3; i++) {
				uint32_t o = VIRTIO_MMIO_QUEUE_DESC_LOW + 0x10 * i;

				bar_write_gated(d, o, 4, (uint32_t)a3[i]);
				bar_write_gated(d, o + 4, 4, (uint32_t)(a3[i] >> 32));
			}
			if (chance(r, 5))	/* a size the gate has not seen as last */
				t_qsize(d, (uint16_t)edge(r));
		} else if (chance(r, 20))
			bar_w(d, C_Q_MSIX, 2, edge(r));
		if (d->mmio) {
			/* the addresses went above */
		} else if (chance(r, 50)) {
			bar_write_gated(d, C_Q_DESC, 8, da);
			bar_write_gated(d, C_Q_AVAIL, 8, aa);
			bar_write_gated(d, C_Q_USED, 8, ua);
		} else {
			bar_w(d, C_Q_DESC, 4, (uint32_t)da);
			bar_w(d, C_Q_DESC + 4, 4, (uint32_t)(da >> 32));
			bar_w(d, C_Q_AVAIL, 4, (uint32_t)aa);
			bar_w(d, C_Q_AVAIL + 4, 4, (uint32_t)(aa >> 32));
			bar_w(d, C_Q_USED, 4, (uint32_t)ua);
			bar_w(d, C_Q_USED + 4, 4, (uint32_t)(ua >> 32));
		}
		t_qenable(d, chance(r, 95) ? 1 : edge(r));
		d->qsize[q] = size;
	}
	if (chance(r, 3))
		t_qsel(d, (uint32_t)edge(r));
	set_status(d, ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);

	/* Publish and kick, a few times, with index games. */
	for (unsigned k = 0, kn = 1 + below(r, 4); k < kn; k++) {
		for (unsigned q = 0; q < nq; q++) {
			volatile uint16_t *av = hpp(q_avail(q));
			uint16_t n = d->qsize[q] && d->qsize[q] <= 256 ? d->qsize[q] : 256;
			uint16_t idx;

			if (!d->qsize[q])
				continue;
			switch (k == 0 ? 0 : below(r, 6)) {
			case 0: idx = d->avail_idx[q]; break;
			case 1: idx = (uint16_t)(d->avail_idx[q] + n + 1 + below(r, 100)); break;
			case 2: idx = (uint16_t)(d->avail_idx[q] - 1 - below(r, 3)); break;
			case 3: idx = (uint16_t)edge(r); break;
			default: idx = (uint16_t)(d->avail_idx[q] + below(r, 3)); break;
			}
			__atomic_store_n(&av[1], idx, __ATOMIC_RELEASE);
			if (chance(r, 5)) {	/* garbage in the device's used ring header */
				volatile uint16_t *u = hpp(q_used(q));

				u[chance(r, 50) ? 0 : 1] = (uint16_t)edge(r);
			}
			kick(d, q);
		}
		/* Let the device work: a few hundred microseconds, less when the
		 * used index moved (a slow request finishes before the next reset). */
		for (unsigned i = 0; i < 3; i++) {
			bool moved = false;

			for (unsigned q = 0; q < nq; q++)
				if (d->qsize[q] &&
				    ((volatile uint16_t *)hpp(q_used(q)))[1] != 0)
					moved = true;
			if (moved)
				break;
			sleep_us(100);
		}
	}
	if (d->mmio) {
		uint32_t isr = (uint32_t)bar_r(d, VIRTIO_MMIO_INTERRUPT_STATUS, 4);

		bar_w(d, VIRTIO_MMIO_INTERRUPT_ACK, 4, chance(r, 80) ? isr : (uint32_t)edge(r));
	} else {
		(void)bar_r(d, R_ISR, 1);
	}
	st = t_status_r(d);
	if (st & ST_NEEDS_RESET)
		d->needs_reset++;
	if (trace)
		say("hostile: trace %s round %lu status 0x%x\n", d->bdf, it, st);
	/* The used rings are cleared for the next round's "moved" check. */
	dev_reset(d);
	for (unsigned q = 0; q < nq; q++)
		memset(hpp(q_used(q)), 0, 0x1000);
}

/* ---- device discovery and the per-device run -------------------------------------- */

/* A virtio-mmio device by its platform device name ("a000400.virtio_mmio"). */
static int open_mmio(struct vdev *d, const char *name)
{
	char path[160];
	uint32_t id;

	snprintf(d->bdf, sizeof(d->bdf), "%s", name);
	d->mmio = true;
	d->mmio_base = strtoull(name, NULL, 16);
	if (d->mmio_base < 0x0a000000ULL || d->mmio_base >= 0x0a000000ULL + 32 * M_SIZE ||
	    d->mmio_base % M_SIZE)
		return -EINVAL;
	/* Unbind the guest's driver: from now on we are the driver. */
	snprintf(path, sizeof(path), "/sys/bus/platform/devices/%s/driver/unbind", name);
	if (access(path, F_OK) == 0 && write_file(path, name) < 0)
		return -EBUSY;
	d->cfg_fd = -1;
	d->bar = devmem_map(d->mmio_base, M_SIZE);
	if (!d->bar)
		return -errno;
	if (bar_r(d, VIRTIO_MMIO_MAGIC_VALUE, 4) != 0x74726976 ||
	    bar_r(d, VIRTIO_MMIO_VERSION, 4) != 2)
		return -ENODEV;
	id = (uint32_t)bar_r(d, VIRTIO_MMIO_DEVICE_ID, 4);
	d->kind = id == 1 ? K_NET : id == 2 ? K_BLK : id == 4 ? K_RNG : K_OTHER;
	dev_reset(d);
	/* No register counts the queues: the first with QueueNumMax 0 ends them. */
	for (d->nq = 0; d->nq < M_QTRACK; d->nq++) {
		t_qsel(d, d->nq);
		if (!t_qmax(d))
			break;
	}
	t_qsel(d, 0);
	if (d->kind == K_BLK)
		d->capacity = bar_r(d, VIRTIO_MMIO_CONFIG, 4) |
			      bar_r(d, VIRTIO_MMIO_CONFIG + 4, 4) << 32;
	return 0;
}

static int open_dev(struct vdev *d, const char *bdf)
{
	char path[128], buf[256];
	int fd;
	unsigned v, dev;
	uint8_t cfg[256];

	snprintf(d->bdf, sizeof(d->bdf), "%s", bdf);
	if (sscanf(bdf, "%*x:%*x:%x.%*x", &d->slot) != 1)
		return -EINVAL;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vendor", bdf);
	if (read_file(path, buf, sizeof(buf)) < 0 || sscanf(buf, "%x", &v) != 1 || v != 0x1af4)
		return -ENODEV;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/device", bdf);
	if (read_file(path, buf, sizeof(buf)) < 0 || sscanf(buf, "%x", &dev) != 1)
		return -ENODEV;
	d->kind = dev == 0x1041 ? K_NET : dev == 0x1042 ? K_BLK : dev == 0x1044 ? K_RNG : K_OTHER;
	/* Unbind the guest's driver: from now on we are the driver. */
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver/unbind", bdf);
	if (access(path, F_OK) == 0 && write_file(path, bdf) < 0)
		return -EBUSY;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
	d->cfg_fd = open(path, O_RDWR);
	if (d->cfg_fd < 0)
		return -errno;
	cfg_read(d, 0, cfg, sizeof(cfg));
	memcpy(d->cfg_save, cfg, sizeof(d->cfg_save));
	for (unsigned p = cfg[0x34] & 0xfc, n = 0; p && n < 48; p = cfg[p + 1] & 0xfc, n++) {
		if (cfg[p] == 0x11)
			d->msix_cap = (uint8_t)p;
		if (cfg[p] == 0x09 && cfg[p + 3] == 5)
			d->cfg_cap = (uint8_t)p;
	}
	/* Memory decoding and bus mastering on. */
	{
		uint8_t cmd[2] = { 0x06, 0x00 };

		if (pwrite(d->cfg_fd, cmd, 2, 4) != 2)
			return -EIO;
	}
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource0", bdf);
	fd = open(path, O_RDWR | O_SYNC);
	if (fd < 0)
		return -errno;
	d->bar = mmap(NULL, BAR_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (d->bar == MAP_FAILED)
		return -errno;
	d->nq = (unsigned)bar_r(d, C_NUM_QUEUES, 2);
	if (d->kind == K_BLK)
		d->capacity = bar_r(d, R_DEVCFG, 8);
	return 0;
}

/* Leaves the device reset, MSI-X off and masked, config header as it was. */
static void close_dev(struct vdev *d)
{
	uint8_t cmd[2] = { 0x06, 0x00 }, z[2] = { 0, 0 };

	if (d->mmio) {
		dev_reset(d);
		bar_w(d, VIRTIO_MMIO_INTERRUPT_ACK, 4, 0xffffffffu);
		munmap((void *)((uintptr_t)d->bar & ~(uintptr_t)0xfff), 4096);
		return;
	}

	if (pwrite(d->cfg_fd, cmd, 2, 4) != 2)
		say("hostile: %s: restoring the command register failed\n", d->bdf);
	dev_reset(d);
	if (d->msix_cap && pwrite(d->cfg_fd, z, 2, d->msix_cap + 2u) != 2)
		say("hostile: %s: turning MSI-X off failed\n", d->bdf);
	for (unsigned v = 0; v <= MAXQ; v++) {
		bar_w(d, R_MSIX + 16 * v, 4, 0);
		bar_w(d, R_MSIX + 16 * v + 4, 4, 0);
		bar_w(d, R_MSIX + 16 * v + 8, 4, 0);
		bar_w(d, R_MSIX + 16 * v + 12, 4, 1);
	}
	/* BARs and the interrupt line as the kernel left them. */
	if (pwrite(d->cfg_fd, d->cfg_save + 0x10, 24, 0x10) != 24 ||
	    pwrite(d->cfg_fd, d->cfg_save + 0x3c, 1, 0x3c) != 1)
		say("hostile: %s: restoring config space failed\n", d->bdf);
	munmap((void *)d->bar, BAR_SIZE);
	close(d->cfg_fd);
}

static void run_dev(struct vdev *d, unsigned long iterations)
{
	uint64_t t0 = now_ms();

	if (d->mmio)
		say("hostile: %s kind=%s queues=%u virtio-mmio at 0x%llx: %lu iterations\n",
		    d->bdf, kind_name[d->kind], d->nq, (unsigned long long)d->mmio_base,
		    iterations);
	else
		say("hostile: %s kind=%s queues=%u msix_cap=0x%x cfg_cap=0x%x: %lu iterations\n",
		    d->bdf, kind_name[d->kind], d->nq, d->msix_cap, d->cfg_cap, iterations);
	for (unsigned long it = 0; it < iterations; it++) {
		unsigned ops = 2 + below(&d->r, 8);

		if (it % 250 == 0)
			say("hostile: %s iteration %lu (%llu ms)\n", d->bdf, it,
			    (unsigned long long)(now_ms() - t0));
		for (unsigned k = 0; k < ops; k++) {
			unsigned c = below(&d->r, 100);

			if (c < 70 || d->mmio)	/* mmio: no config space */
				bar_fuzz(d);
			else if (c < 85)
				cfg_fuzz_sysfs(d);
			else
				cfg_fuzz_ports(d);
		}
		/* Config fuzzing may have turned memory decoding off. */
		if (!d->mmio && chance(&d->r, 50)) {
			uint8_t cmd[2] = { 0x06, 0x00 };

			if (pwrite(d->cfg_fd, cmd, 2, 4) != 2)
				die("%s: config write failed", d->bdf);
		}
		ring_round(d, it);
	}
	say("HOSTILE-DEV %s kind=%s iterations=%lu accesses=%lu kicks=%lu needs_reset=%lu "
	    "ms=%llu\n", d->bdf, kind_name[d->kind], iterations, d->accesses, d->kicks,
	    d->needs_reset, (unsigned long long)(now_ms() - t0));
}

/* ---- the platform registers (per architecture) --------------------------------------- */

#if defined(__x86_64__)
/* Ports vmm handles or that lie next to them; never the in-kernel PIC (0x20,
 * 0xa0), PIT (0x40-0x43, 0x61) or ELCR (0x4d0): those belong to KVM and the
 * guest's own timekeeping. */
static const uint16_t legacy_ports[] = {
	0x3f8, 0x3f9, 0x3fa, 0x3fb, 0x3fc, 0x3fd, 0x3fe, 0x3ff, 0x3f7, 0x400,
	0x60, 0x64, 0x5f, 0x65,
	0x600, 0x601, 0x602, 0x5ff, 0x603,
	0x505, 0x504, 0x506,
	0xcf9, 0xcfa, 0xcfb, 0xcf7, 0xd00,	/* 0xcf8/0xcfc: the device phases */
	0x80, 0x70, 0x71, 0x2f8, 0x1000, 0xfffe, 0xffff,
};

/* The byte a write puts on `port`, made harmless (see the top comment). */
static uint8_t port_byte_ok(uint16_t port, uint8_t b)
{
	switch (port) {
	case 0x64:
		if (b == 0xfe || b == 0xd1)
			return 0xaa ^ 0x01;	/* 0xab: the interface test */
		return b;
	case 0x600:
		if ((b & 0x20) && ((b >> 2) & 7) == 5)
			return b ^ 0x04;	/* another sleep type: unsupported */
		return b;
	case 0x602:
		return b == 0x0f ? 0x0e : b;
	case 0x505:
		return b & (uint8_t)~1u;
	case 0xcf9:
		return b & (uint8_t)~4u;
	default:
		return b;
	}
}

struct uart_state {
	uint8_t lcr, ier, mcr, scr, dll, dlm;
};

static void uart_save(struct uart_state *s)
{
	int n = 0;

	/* Let the console finish what it is sending, for at most 200 ms. */
	for (unsigned i = 0; i < 200 && ioctl(1, TIOCOUTQ, &n) == 0 && n > 0; i++)
		sleep_us(1000);
	s->lcr = inb(0x3fb);
	s->ier = inb(0x3f9);
	s->mcr = inb(0x3fc);
	s->scr = inb(0x3ff);
	outb(s->lcr | 0x80, 0x3fb);
	s->dll = inb(0x3f8);
	s->dlm = inb(0x3f9);
	outb(s->lcr & 0x7f, 0x3fb);
}

/* Puts the console UART back for the guest's driver, IER exactly as the driver
 * keeps it (it caches IER: a THRI it did not set would swallow the rising edge of
 * its next start of transmission). A THRI it did set goes off and on: the rising
 * edge raises the THR-empty interrupt (an IIR read during the fuzzing may have
 * taken the one it waited for), so that its transmission goes on. */
static void uart_restore(const struct uart_state *s)
{
	outb(s->lcr | 0x80, 0x3fb);
	outb(s->dll, 0x3f8);
	outb(s->dlm, 0x3f9);
	outb(s->lcr & 0x7f, 0x3fb);
	outb(0x07, 0x3fa);
	outb(s->mcr, 0x3fc);
	outb(s->scr, 0x3ff);
	outb(s->ier & (uint8_t)~0x02u, 0x3f9);
	outb(s->ier, 0x3f9);
}

static volatile uint8_t *boot_timer;

static void legacy_init(void)
{
	int fd;

	if (iopl(3) < 0) {
		say("hostile: iopl(3): %s: no port I/O\n", strerror(errno));
		return;
	}
	have_ports = true;
	fd = open("/dev/mem", O_RDWR | O_SYNC);
	if (fd >= 0) {
		void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0xfea00000);

		if (p != MAP_FAILED)
			boot_timer = p;
		close(fd);
	}
	if (!boot_timer)
		say("hostile: cannot map the boot timer page at 0xfea00000: %s\n", strerror(errno));
}

static void run_legacy(uint64_t seed, unsigned long iterations)
{
	struct rng r = { seed ^ 0x6c65676163790000ULL };
	unsigned long accesses = 0;
	uint64_t t0 = now_ms();
	struct uart_state us;

	if (!have_ports) {
		say("HOSTILE-LEGACY skipped: no port I/O\n");
		return;
	}
	say("hostile: legacy registers: %lu iterations\n", iterations);
	for (unsigned long it = 0; it < iterations; it++) {
		unsigned ops = 4 + below(&r, 12);

		if (it % 250 == 0) {
			say("hostile: legacy iteration %lu (%llu ms)\n", it,
			    (unsigned long long)(now_ms() - t0));
			kmsg("hostile: legacy iteration %lu\n", it);
		}
		uart_save(&us);
		for (unsigned k = 0; k < ops; k++) {
			accesses++;
			if (boot_timer && chance(&r, 10)) {
				unsigned w = width(&r), off = chance(&r, 50) ? 0 : below(&r, 4096);
				uint64_t v = chance(&r, 20) ? 123 : edge(&r);

				if (off + w > 4096)
					off = 4096 - w;
				if (trace_legacy)
					kmsg("hostile: trace %lu boot timer +0x%x w%u = 0x%llx\n", it, off, w,
					     (unsigned long long)v);
				if (chance(&r, 30))
					(void)mmio_read(boot_timer + off, w);
				else
					mmio_write(boot_timer + off, w, v);
				continue;
			}
			{
				uint16_t port = legacy_ports[below(&r, sizeof(legacy_ports) / 2)];
				unsigned w = 1u << below(&r, 3);
				uint32_t v = (uint32_t)edge(&r);

				if (port + w > 0x10000u)	/* past the I/O bitmap: #GP */
					w = 1;
				if (chance(&r, 40)) {
					(void)port_in(port, w);
					continue;
				}
				for (unsigned i = 0; i < w; i++) {
					uint8_t b = (uint8_t)(v >> (8 * i));

					b = port_byte_ok((uint16_t)(port + i), b);
					v = (v & ~(0xffu << (8 * i))) | (uint32_t)b << (8 * i);
				}
				if (trace_legacy)
					kmsg("hostile: trace %lu port 0x%x w%u = 0x%x\n", it, port, w, v);
				port_out(port, w, v);
			}
		}
		uart_restore(&us);
	}
	say("HOSTILE-LEGACY iterations=%lu accesses=%lu ms=%llu\n", iterations, accesses,
	    (unsigned long long)(now_ms() - t0));
}
#elif defined(__aarch64__)
/* aarch64 (arch/aarch64/layout.h): the 16550 UART (the console), the PL031 RTC,
 * the PL061 GPIO, the boot timer page, and MMIO nothing backs (the gap after the
 * GPIO, empty virtio-mmio slots, past the UART's 8 bytes). Never the GIC, never
 * PSCI (no HVC/SMC at all), and never the power button's GPIO pin: its bit in
 * GPIODIR/IS/IBE/IEV/IE keeps the value the guest's gpio-keys gave it, so the
 * pin stays an input only vmm drives. GPIOIE never gains a pin the guest had
 * not enabled: with no handler, a level interrupt would hold the guest's CPU. */
#define PL_UART		0x09000000ULL
#define PL_RTC		0x09010000ULL
#define PL_GAP		0x09020000ULL
#define PL_GPIO		0x09030000ULL
#define PL_TIMER	0x09040000ULL
#define PL_AFTER	0x09050000ULL
#define GPIO_POWER_BIT	(1u << 3)	/* ARM64_GPIO_POWER_PIN */

enum { P_UART, P_RTC, P_GPIO, P_TIMER, P_GAP, P_AFTER, P_SLOT, P_N };
static const char *const plat_name[P_N] = { "uart", "rtc", "gpio", "boot-timer", "gap",
					    "after-timer", "empty-slot" };
static volatile uint8_t *plat[P_N];
static uint64_t plat_addr[P_N];

static void legacy_init(void)
{
	static const uint64_t at[P_N] = { PL_UART, PL_RTC, PL_GPIO, PL_TIMER, PL_GAP, PL_AFTER, 0 };
	char path[96];

	/* An empty virtio-mmio slot: the highest one no device has. */
	for (int n = 31; n >= 0 && !at[P_SLOT]; n--) {
		uint64_t a = 0x0a000000ULL + (uint64_t)n * M_SIZE;

		snprintf(path, sizeof(path), "/sys/bus/platform/devices/%llx.virtio_mmio",
			 (unsigned long long)a);
		if (access(path, F_OK) != 0) {
			plat_addr[P_SLOT] = a;
			break;
		}
	}
	for (unsigned i = 0; i < P_N; i++) {
		if (i != P_SLOT)
			plat_addr[i] = at[i];
		if (!plat_addr[i])
			continue;
		plat[i] = devmem_map(plat_addr[i], i == P_SLOT ? M_SIZE : 4096);
		if (!plat[i])
			say("hostile: cannot map %s at 0x%llx: %s\n", plat_name[i],
			    (unsigned long long)plat_addr[i], strerror(errno));
	}
}

struct uart_state {
	uint8_t lcr, ier, mcr, scr, dll, dlm;
};

static void uart_save(struct uart_state *s)
{
	volatile uint8_t *u = plat[P_UART];
	int n = 0;

	for (unsigned i = 0; i < 200 && ioctl(1, TIOCOUTQ, &n) == 0 && n > 0; i++)
		sleep_us(1000);
	s->lcr = (uint8_t)mmio_read(u + 3, 1);
	s->ier = (uint8_t)mmio_read(u + 1, 1);
	s->mcr = (uint8_t)mmio_read(u + 4, 1);
	s->scr = (uint8_t)mmio_read(u + 7, 1);
	mmio_write(u + 3, 1, s->lcr | 0x80);
	s->dll = (uint8_t)mmio_read(u + 0, 1);
	s->dlm = (uint8_t)mmio_read(u + 1, 1);
	mmio_write(u + 3, 1, s->lcr & 0x7f);
}

/* As on x86_64 (uart_restore there): IER as the driver keeps it, THRI off and on. */
static void uart_restore(const struct uart_state *s)
{
	volatile uint8_t *u = plat[P_UART];

	mmio_write(u + 3, 1, s->lcr | 0x80);
	mmio_write(u + 0, 1, s->dll);
	mmio_write(u + 1, 1, s->dlm);
	mmio_write(u + 3, 1, s->lcr & 0x7f);
	mmio_write(u + 2, 1, 0x07);
	mmio_write(u + 4, 1, s->mcr);
	mmio_write(u + 7, 1, s->scr);
	mmio_write(u + 1, 1, s->ier & (uint8_t)~0x02u);
	mmio_write(u + 1, 1, s->ier);
}

/* The PL061 registers the guest's drivers set up: DIR, IS, IBE, IEV, IE, AFSEL. */
static const uint16_t gpio_cfg[] = { 0x400, 0x404, 0x408, 0x40c, 0x410, 0x420 };

static void gpio_save(uint8_t *g)
{
	for (unsigned i = 0; i < 6; i++)
		g[i] = (uint8_t)mmio_read(plat[P_GPIO] + gpio_cfg[i], 1);
}

static void gpio_restore(const uint8_t *g)
{
	for (unsigned i = 0; i < 6; i++)
		mmio_write(plat[P_GPIO] + gpio_cfg[i], 1, g[i]);
}

/* An offset and a width in platform device i, aligned (the mapping faults on
 * unaligned accesses), biased to its registers. */
static uint32_t plat_offset(struct rng *r, unsigned i, unsigned *w)
{
	static const uint16_t rtc[] = { 0x00, 0x04, 0x08, 0x0c, 0x10, 0x14, 0x18, 0x1c, 0xfe0, 0xffc };
	uint32_t off;

	*w = chance(r, 60) ? (i == P_UART ? 1 : 4) : width(r);
	switch (i) {
	case P_UART: off = chance(r, 90) ? below(r, 8) : 8 + below(r, 64); break;
	case P_RTC: off = chance(r, 80) ? rtc[below(r, 10)] : below(r, 4096); break;
	case P_GPIO:
		off = chance(r, 40) ? 0x400 + 4 * below(r, 9) : chance(r, 50) ? 4 * below(r, 256) :
			  below(r, 4096);
		break;
	case P_TIMER: off = chance(r, 50) ? 0 : below(r, 4096); break;
	case P_SLOT: off = below(r, M_SIZE); break;
	default: off = below(r, 4096); break;
	}
	off &= ~(*w - 1);
	return off;
}

static void run_legacy(uint64_t seed, unsigned long iterations)
{
	struct rng r = { seed ^ 0x6c65676163790000ULL };
	unsigned long accesses = 0, per[P_N] = { 0 };
	uint64_t t0 = now_ms();
	struct uart_state us = { 0 };
	uint8_t gs[6] = { 0 };

	if (!plat[P_UART] && !plat[P_RTC] && !plat[P_GPIO]) {
		say("HOSTILE-LEGACY skipped: no platform device could be mapped\n");
		return;
	}
	say("hostile: platform registers: %lu iterations\n", iterations);
	for (unsigned long it = 0; it < iterations; it++) {
		unsigned ops = 4 + below(&r, 12);

		if (it % 250 == 0) {
			say("hostile: legacy iteration %lu (%llu ms)\n", it,
			    (unsigned long long)(now_ms() - t0));
			kmsg("hostile: legacy iteration %lu\n", it);
		}
		if (plat[P_UART])
			uart_save(&us);
		if (plat[P_GPIO])
			gpio_save(gs);
		for (unsigned k = 0; k < ops; k++) {
			static const unsigned pick[] = { P_UART, P_UART, P_UART, P_RTC, P_RTC, P_GPIO,
							 P_GPIO, P_GPIO, P_TIMER, P_GAP, P_AFTER, P_SLOT };
			unsigned i = pick[below(&r, sizeof(pick) / sizeof(pick[0]))], w;
			uint32_t off;
			uint64_t v;

			if (!plat[i])
				continue;
			off = plat_offset(&r, i, &w);
			v = i == P_TIMER && chance(&r, 20) ? 123 : edge(&r);
			accesses++;
			per[i]++;
			if (chance(&r, 35)) {
				(void)mmio_read(plat[i] + off, w);
				continue;
			}
			if (i == P_GPIO && off >= 0x400 && off <= 0x410 && off % 4 == 0) {
				/* The power pin keeps its configuration. */
				unsigned j = (off - 0x400) / 4;

				v = (v & ~(uint64_t)GPIO_POWER_BIT) | (gs[j] & GPIO_POWER_BIT);
				/* And no pin interrupts the guest did not enable: a level
				 * interrupt on a pin without a handler is a storm that stops
				 * the guest (a live-lock of its own, not vmm's). */
				if (off == 0x410)
					v &= gs[4];
			}
			if (trace_legacy)
				kmsg("hostile: trace %lu %s +0x%x w%u = 0x%llx\n", it, plat_name[i], off,
				     w, (unsigned long long)mask_to(v, w));
			mmio_write(plat[i] + off, w, v);
		}
		if (plat[P_GPIO])
			gpio_restore(gs);
		if (plat[P_UART])
			uart_restore(&us);
	}
	say("hostile: platform accesses: uart=%lu rtc=%lu gpio=%lu boot-timer=%lu unbacked=%lu\n",
	    per[P_UART], per[P_RTC], per[P_GPIO], per[P_TIMER], per[P_GAP] + per[P_AFTER] + per[P_SLOT]);
	say("HOSTILE-LEGACY iterations=%lu accesses=%lu ms=%llu\n", iterations, accesses,
	    (unsigned long long)(now_ms() - t0));
}
#else
static void legacy_init(void)
{
}

static void run_legacy(uint64_t seed, unsigned long iterations)
{
	(void)seed;
	(void)iterations;
	say("HOSTILE-LEGACY skipped: not implemented on this architecture\n");
}
#endif

int main(int argc, char **argv)
{
	uint64_t seed;
	unsigned long iterations;
	char *list, *tok, *save = NULL;
	bool legacy = false;

	if (argc != 4) {
		fprintf(stderr, "usage: hostile SEED ITERATIONS TARGET\n"
			"  TARGET: PCI addresses of virtio devices to take over and/or\n"
			"  \"legacy\", comma-separated (e.g. 0000:00:01.0,legacy)\n");
		return 2;
	}
	seed = strtoull(argv[1], NULL, 0);
	iterations = strtoul(argv[2], NULL, 0);
	trace = getenv("HOSTILE_TRACE") && strcmp(getenv("HOSTILE_TRACE"), "1") == 0;
	trace_legacy = trace || (getenv("HOSTILE_TRACE") && strcmp(getenv("HOSTILE_TRACE"), "legacy") == 0);
	kmsg_fd = open("/dev/kmsg", O_WRONLY);
	/* Bytes the fuzzing loops back into the console must not stop us. */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGTSTP, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);

	find_ram_top();
	hugepage_init();
	legacy_init();
	say("hostile: seed %llu, %lu iterations, RAM ends at 0x%llx, rings at 0x%llx\n",
	    (unsigned long long)seed, iterations, (unsigned long long)ram_top,
	    (unsigned long long)hp_phys);

	list = strdup(argv[3]);
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		struct vdev *d;
		int ret;

		if (strcmp(tok, "legacy") == 0) {
			legacy = true;
			continue;
		}
		if (ntargets == sizeof(targets) / sizeof(targets[0]))
			die("too many targets");
		d = calloc(1, sizeof(*d));
		if (!d)
			die("out of memory");
		ret = strstr(tok, "virtio_mmio") ? open_mmio(d, tok) : open_dev(d, tok);
		if (ret < 0) {
			say("HOSTILE-SKIP %s: %s\n", tok, strerror(-ret));
			free(d);
			continue;
		}
		d->r.s = seed * 0x100000001b3ULL + ntargets + 1;
		targets[ntargets++] = d;
	}
	for (unsigned i = 0; i < ntargets; i++)
		run_dev(targets[i], iterations);
	for (unsigned i = 0; i < ntargets; i++)
		close_dev(targets[i]);
	if (legacy)
		run_legacy(seed, iterations);
	say("HOSTILE-FINISHED devices=%u\n", ntargets);
	free(list);
	return 0;
}
