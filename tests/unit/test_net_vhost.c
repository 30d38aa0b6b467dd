/* Unit tests for devices/virtio/net_vhost.c (`[[net]] vhost = true`) without
 * the kernel's vhost-net: the features offered and acked, the memory table
 * built from guest memory regions, the messages for a missing or forbidden
 * /dev/vhost-net, and the ioctls DRIVER_OK, VQ_PAIRS_SET and reset make, in
 * order and on which descriptor (one /dev/vhost-net per queue pair), with
 * ioctl and open wrapped (-Wl,--wrap; open is open64 with
 * _FILE_OFFSET_BITS=64): each /dev/vhost-net is a /dev/null here, and its
 * ioctls and the TAP queues' (TUNSETOFFLOAD, TUNSETQUEUE) are recorded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <endian.h>
#include <linux/virtio_ring.h>

#include <linux/if_tun.h>
#include <linux/vhost.h>

#include "fake_vq.h"
#include "iothread.h"
#include "memory.h"
#include "virtio/net-internal.h"

#define F(b)		(1ULL << (b))
#define RING_BITS	(F(VIRTIO_RING_F_INDIRECT_DESC) | F(VIRTIO_RING_F_EVENT_IDX) | \
			 F(VIRTIO_NET_F_MRG_RXBUF) | F(VIRTIO_F_VERSION_1))

/* ---- the fake /dev/vhost-net ---- */

struct call {
	unsigned long req;
	unsigned dev;		/* which /dev/vhost-net, or which TAP queue */
	unsigned index;
	uint64_t val;		/* features, num, fd, TUNSETQUEUE flags; desc address
				 * for SET_VRING_ADDR */
};

#define FAKES	4
static int fake_fd[FAKES];	/* each /dev/vhost-net opened, in order */
static unsigned nfake;
static int fake_tap[FAKES] = { -1, -1, -1, -1 };	/* take TUNSETOFFLOAD, TUNSETQUEUE */
static struct call calls[128];
static unsigned ncalls;
static uint64_t kernel_features = RING_BITS | F(VHOST_NET_F_VIRTIO_NET_HDR);
static unsigned long fail_req;	/* this request fails with EINVAL, once on fail_index */
static unsigned fail_index;

int __real_open64(const char *path, int flags, ...);
int __wrap_open64(const char *path, int flags, ...);
int __real_ioctl(int fd, unsigned long req, ...);
int __wrap_ioctl(int fd, unsigned long req, ...);

int __wrap_open64(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;
	int fd;

	va_start(ap, flags);
	mode = (mode_t)va_arg(ap, int);
	va_end(ap);
	if (strcmp(path, "/dev/vhost-net"))
		return __real_open64(path, flags, mode);
	fd = __real_open64("/dev/null", flags);
	if (fd >= 0 && nfake < FAKES)
		fake_fd[nfake++] = fd;
	return fd;
}

static int which(const int *fds, unsigned n, int fd)
{
	for (unsigned i = 0; i < n; i++)
		if (fds[i] == fd)
			return (int)i;
	return -1;
}

int __wrap_ioctl(int fd, unsigned long req, ...)
{
	struct call c = { .req = req };
	va_list ap;
	void *arg;
	int d;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (fd >= 0 && (d = which(fake_tap, FAKES, fd)) >= 0 &&
	    (req == TUNSETOFFLOAD || req == TUNSETQUEUE)) {
		c.dev = (unsigned)d;
		c.val = req == TUNSETQUEUE ? (uint64_t)((struct ifreq *)arg)->ifr_flags :
					     (uintptr_t)arg;
		if (ncalls < sizeof(calls) / sizeof(calls[0]))
			calls[ncalls++] = c;
		return 0;
	}
	if (fd < 0 || (d = which(fake_fd, nfake, fd)) < 0)
		return __real_ioctl(fd, req, arg);
	c.dev = (unsigned)d;
	switch (req) {
	case VHOST_GET_FEATURES:
		*(uint64_t *)arg = kernel_features;
		break;
	case VHOST_SET_FEATURES:
		c.val = *(uint64_t *)arg;
		break;
	case VHOST_SET_VRING_NUM:
	case VHOST_SET_VRING_BASE:
	case VHOST_GET_VRING_BASE:
		c.index = ((struct vhost_vring_state *)arg)->index;
		c.val = ((struct vhost_vring_state *)arg)->num;
		break;
	case VHOST_SET_VRING_ADDR:
		c.index = ((struct vhost_vring_addr *)arg)->index;
		c.val = ((struct vhost_vring_addr *)arg)->desc_user_addr;
		break;
	case VHOST_SET_VRING_KICK:
	case VHOST_SET_VRING_CALL:
	case VHOST_SET_VRING_ERR:
	case VHOST_NET_SET_BACKEND:
		c.index = ((struct vhost_vring_file *)arg)->index;
		c.val = (uint64_t)(int64_t)((struct vhost_vring_file *)arg)->fd;
		break;
	case VHOST_SET_MEM_TABLE:
		c.val = ((struct vhost_memory *)arg)->nregions;
		break;
	}
	if (ncalls < sizeof(calls) / sizeof(calls[0]))
		calls[ncalls++] = c;
	if (req == fail_req && c.index == fail_index) {
		fail_req = 0;
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* Asserts the next recorded call, on /dev/vhost-net (or TAP queue) `dev`;
 * returns its value. */
static unsigned at;
static uint64_t expect_on(unsigned dev, unsigned long req, unsigned index)
{
	assert_true(at < ncalls);
	if (calls[at].req != req || calls[at].index != index || calls[at].dev != dev) {
		print_error("call %u: 0x%lx on %u queue %u, wanted 0x%lx on %u queue %u\n", at,
			    calls[at].req, calls[at].dev, calls[at].index, req, dev, index);
		fail();
	}
	return calls[at++].val;
}

static uint64_t expect(unsigned long req, unsigned index)
{
	return expect_on(0, req, index);
}

/* ---- the pure half ---- */

static void test_features(void **state __attribute__((unused)))
{
	uint64_t dev = F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_MTU) |
		       F(VIRTIO_RING_F_INDIRECT_DESC) | F(VIRTIO_RING_F_EVENT_IDX) |
		       F(VIRTIO_NET_F_MRG_RXBUF);

	/* A kernel with every ring bit: the device's features unchanged. */
	assert_int_equal(virtio_net_vhost_offered(dev, RING_BITS), dev);
	/* One without event index or merged buffers: not offered then; the
	 * device's own bits (MAC, offloads) do not depend on the kernel. */
	assert_int_equal(virtio_net_vhost_offered(dev, F(VIRTIO_RING_F_INDIRECT_DESC) |
						  F(VIRTIO_F_VERSION_1)),
			 F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_MTU) |
			 F(VIRTIO_RING_F_INDIRECT_DESC));
	/* The kernel gets the ring bits of what the driver took, never the
	 * offloads nor bit 27 (VHOST_NET_F_VIRTIO_NET_HDR: the TAP has one). */
	assert_int_equal(virtio_net_vhost_acked(dev | F(VIRTIO_F_VERSION_1) |
						F(VHOST_NET_F_VIRTIO_NET_HDR)),
			 F(VIRTIO_RING_F_INDIRECT_DESC) | F(VIRTIO_RING_F_EVENT_IDX) |
			 F(VIRTIO_NET_F_MRG_RXBUF) | F(VIRTIO_F_VERSION_1));
	assert_int_equal(virtio_net_vhost_acked(F(VIRTIO_NET_F_GUEST_TSO4)), 0);
}

static void test_mem_table(void **state __attribute__((unused)))
{
	union {
		struct vhost_memory h;
		char room[sizeof(struct vhost_memory) + 2 * sizeof(struct vhost_memory_region)];
	} t;
	struct guest_mem m;

	/* x86_64's layout with a hole: two regions, each with vmm's mapping. */
	assert_int_equal(gm_init(&m, 0, 8 << 20, 4 << 20, 6 << 20), 0);
	assert_int_equal(m.nregions, 2);
	memset(&t, 0xa5, sizeof(t));
	assert_int_equal(virtio_net_vhost_mem(&m, &t.h, 2), 0);
	assert_int_equal(t.h.nregions, 2);
	assert_int_equal(t.h.padding, 0);
	assert_int_equal(t.h.regions[0].guest_phys_addr, 0);
	assert_int_equal(t.h.regions[0].memory_size, 4 << 20);
	assert_int_equal(t.h.regions[0].userspace_addr, (uintptr_t)gm_ptr(&m, 0, 1));
	assert_int_equal(t.h.regions[1].guest_phys_addr, 6 << 20);
	assert_int_equal(t.h.regions[1].memory_size, 4 << 20);
	assert_int_equal(t.h.regions[1].userspace_addr, (uintptr_t)gm_ptr(&m, 6 << 20, 1));
	assert_int_equal(t.h.regions[0].flags_padding, 0);
	/* A table too small is refused, not overrun. */
	assert_int_equal(virtio_net_vhost_mem(&m, &t.h, 1), -E2BIG);
	gm_destroy(&m);
	/* aarch64's: one region at 2 GiB. */
	assert_int_equal(gm_init(&m, 0x80000000ULL, 4 << 20, 0, 0), 0);
	assert_int_equal(virtio_net_vhost_mem(&m, &t.h, 2), 0);
	assert_int_equal(t.h.nregions, 1);
	assert_int_equal(t.h.regions[0].guest_phys_addr, 0x80000000ULL);
	gm_destroy(&m);
}

/* ---- the messages for /dev/vhost-net ---- */

static char logbuf[4096];

/* net_vhost_open(path) with stderr captured in logbuf. */
static int open_logged(const char *path)
{
	FILE *tmp = tmpfile();
	int saved, ret;
	size_t n;

	assert_non_null(tmp);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(fileno(tmp), STDERR_FILENO);
	ret = net_vhost_open("net[0]", path);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	n = fread(logbuf, 1, sizeof(logbuf) - 1, tmp);
	logbuf[n] = '\0';
	fclose(tmp);
	return ret;
}

static void want_log(const char *s)
{
	if (!strstr(logbuf, s)) {
		print_error("wanted \"%s\" in:\n%s", s, logbuf);
		fail();
	}
}

static void test_open_errors(void **state __attribute__((unused)))
{
	char path[] = "/tmp/vmm-test-vhost-XXXXXX";
	int fd, st;
	pid_t pid;

	assert_int_equal(open_logged("/nonexistent/vhost-net"), -ENOENT);
	want_log("net[0]: vhost: /nonexistent/vhost-net: No such file or directory (the host "
		 "kernel's vhost-net is not loaded: modprobe vhost_net");
	/* Forbidden: a file vmm's user may not write. As root, in a child that
	 * became nobody (root's DAC override would open it). */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(chmod(path, 0), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (getuid() == 0 && (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
				      setresuid(65534, 65534, 65534) < 0))
			_exit(2);
		_exit(open_logged(path) == -EACCES &&
		      strstr(logbuf, "net[0]: vhost: ") &&
		      strstr(logbuf, ": Permission denied (vmm needs read and write access to it, "
			     "as to the TAP") ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	unlink(path);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* ---- the device: what DRIVER_OK and reset ask of the kernel ---- */

static void fake_queue_fds(struct virtio_dev *vd, unsigned q, int *kick, int *call)
{
	(void)vd;
	*kick = 100 + (int)q;
	*call = 200 + (int)q;
}

static void fake_signal(struct virtio_dev *vd, unsigned q)
{
	(void)vd;
	(void)q;
}

static const struct virtio_transport_ops fake_tops = {
	.queue_fds = fake_queue_fds, .signal_queue = fake_signal,
};

static struct guest_mem gm;
static struct iothread io;

/* The rings of queue q (fake_vq.h's layout). */
#define RING(q)		(0x10000ULL * ((q) + 1))

/* A device of `npairs` pairs on the fake kernel, each on a TAP queue of its
 * own (a /dev/null), its queues set up by a driver that took every feature
 * offered; DRIVER_OK not yet set. */
static struct net *vhost_dev(unsigned npairs)
{
	static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 1 };
	struct net *n = net_alloc(0, npairs);
	uint64_t err = 0;

	assert_non_null(n);
	for (unsigned p = 0; p < FAKES; p++)
		fake_tap[p] = -1;
	for (unsigned p = 0; p < npairs; p++) {
		n->pair[p].fd = fake_tap[p] = open("/dev/null", O_RDWR);
		assert_true(n->pair[p].fd >= 0);
	}
	snprintf(n->ifname, sizeof(n->ifname), "vmmtap0");
	ncalls = at = nfake = 0;
	assert_int_equal(net_vhost_new(n, "net[0]", &gm, &io), 0);
	/* Each pair its own /dev/vhost-net: owned, the same memory, the same
	 * error eventfd on both its rings. */
	assert_int_equal(nfake, npairs);
	for (unsigned p = 0; p < npairs; p++) {
		expect_on(p, VHOST_SET_OWNER, 0);
		expect_on(p, VHOST_GET_FEATURES, 0);
		assert_int_equal(expect_on(p, VHOST_SET_MEM_TABLE, 0), 1);
		if (p == 0)
			err = expect_on(p, VHOST_SET_VRING_ERR, 0);
		else
			assert_int_equal(expect_on(p, VHOST_SET_VRING_ERR, 0), err);
		assert_true((int64_t)err >= 0);
		assert_int_equal(expect_on(p, VHOST_SET_VRING_ERR, 1), err);
	}
	assert_int_equal(at, ncalls);
	assert_int_equal(net_setup(n, mac, NULL), 0);
	/* The first pair only until the driver asks for more: the others'
	 * TAP queues detached. */
	for (unsigned p = 1; p < npairs; p++)
		assert_int_equal(expect_on(p, TUNSETQUEUE, 0), IFF_DETACH_QUEUE);
	assert_int_equal(at, ncalls);
	/* The data queues are the kernel's, the control queue vmm's: the
	 * transport reads only its kicks. */
	for (unsigned q = 0; q < n->vd.nqueues; q++)
		assert_int_equal(virtio_dev_queue_ours(&n->vd, q), npairs > 1 && q == 2 * npairs);
	n->vd.tops = &fake_tops;
	n->vd.features = n->vd.ops->features(&n->vd) | F(VIRTIO_F_VERSION_1);
	assert_int_equal(fake_vq_start(&n->vd, &gm, RING(0), 0x10000, 256, n->vd.features), 0);
	/* fake_vq_start set DRIVER_OK; activate is the test's to call. */
	n->vd.status = VIRTIO_CONFIG_S_FEATURES_OK;
	ncalls = at = 0;
	return n;
}

static void activate(struct net *n)
{
	assert_int_equal(n->vd.ops->activate(&n->vd), 0);
	n->vd.status |= VIRTIO_CONFIG_S_DRIVER_OK;
}

/* Queue q is ring q % 2 of pair q / 2's /dev/vhost-net. */
static void expect_ring(struct net *n, unsigned q)
{
	unsigned p = q / 2, r = q % 2;

	assert_int_equal(expect_on(p, VHOST_SET_VRING_NUM, r), 256);
	assert_int_equal(expect_on(p, VHOST_SET_VRING_BASE, r), 0);
	assert_int_equal(expect_on(p, VHOST_SET_VRING_ADDR, r), (uintptr_t)n->vd.vq[q].desc_hva);
	assert_int_equal(expect_on(p, VHOST_SET_VRING_CALL, r), 200 + q);
	assert_int_equal(expect_on(p, VHOST_SET_VRING_KICK, r), 100 + q);
}

static void expect_backend(struct net *n, unsigned p, unsigned r, bool on)
{
	assert_int_equal((int64_t)expect_on(p, VHOST_NET_SET_BACKEND, r),
			 on ? n->pair[p].fd : -1);
}

static void expect_stopped(struct net *n, unsigned p, unsigned r)
{
	expect_backend(n, p, r, false);
	expect_on(p, VHOST_GET_VRING_BASE, r);
}

static void described(struct net *n, const char *want)
{
	char buf[256];

	n->vd.ops->describe(&n->vd, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void test_start_stop(void **state __attribute__((unused)))
{
	struct net *n = vhost_dev(1);
	uint64_t f = n->vd.features;

	assert_true(f & F(VIRTIO_RING_F_EVENT_IDX));
	assert_true(f & F(VIRTIO_NET_F_MRG_RXBUF));
	assert_true(f & F(VIRTIO_NET_F_CSUM));
	assert_false(f & F(VIRTIO_NET_F_CTRL_VQ));
	activate(n);
	/* The offloads go to the TAP, the ring bits to the kernel, then each
	 * ring and its fds, and last the TAP. */
	assert_int_equal(expect(TUNSETOFFLOAD, 0), virtio_net_tun_offloads(f));
	assert_int_equal(expect(VHOST_SET_FEATURES, 0), virtio_net_vhost_acked(f));
	expect_ring(n, 0);
	expect_ring(n, 1);
	expect_backend(n, 0, 0, true);
	expect_backend(n, 0, 1, true);
	assert_int_equal(at, ncalls);
	described(n, " tap=vmmtap0 vhost=running");

	/* Reset: the TAP detached from each ring and the rings stopped. */
	n->vd.ops->reset(&n->vd);
	n->vd.status = 0;
	expect_stopped(n, 0, 0);
	expect_stopped(n, 0, 1);
	assert_int_equal(expect(TUNSETOFFLOAD, 0), 0);
	assert_int_equal(at, ncalls);
	described(n, " tap=vmmtap0 vhost=stopped");
	/* A second reset has nothing to take back. */
	ncalls = at = 0;
	n->vd.ops->reset(&n->vd);
	assert_int_equal(expect(TUNSETOFFLOAD, 0), 0);
	assert_int_equal(at, ncalls);

	/* A driver that enabled only the TX queue: only that one goes. */
	n->vd.vq[0].ready = false;
	ncalls = at = 0;
	activate(n);
	expect(TUNSETOFFLOAD, 0);
	expect(VHOST_SET_FEATURES, 0);
	expect_ring(n, 1);
	expect_backend(n, 0, 1, true);
	assert_int_equal(at, ncalls);
	virtio_net_free(&n->vd);
}

/* The kernel refusing a ring: DRIVER_OK fails (the transport sets
 * NEEDS_RESET) and nothing is left started. */
static void test_start_fails(void **state __attribute__((unused)))
{
	struct net *n = vhost_dev(1);

	fail_req = VHOST_SET_VRING_ADDR;
	fail_index = 1;
	assert_int_equal(n->vd.ops->activate(&n->vd), -EIO);
	expect(TUNSETOFFLOAD, 0);
	expect(VHOST_SET_FEATURES, 0);
	expect_ring(n, 0);
	expect(VHOST_SET_VRING_NUM, 1);
	expect(VHOST_SET_VRING_BASE, 1);
	expect(VHOST_SET_VRING_ADDR, 1);
	/* The TAP was never attached: nothing to detach. */
	assert_int_equal(at, ncalls);
	described(n, " tap=vmmtap0 vhost=stopped");
	/* The reset that follows asks nothing more of the kernel. */
	ncalls = at = 0;
	n->vd.ops->reset(&n->vd);
	expect(TUNSETOFFLOAD, 0);
	assert_int_equal(at, ncalls);
	virtio_net_free(&n->vd);
}

/* ---- two pairs: a /dev/vhost-net each, the control queue vmm's ---- */

#define CTRLQ		4
#define CMD_GPA		0x100000ULL
#define ACK_GPA		0x100100ULL

static uint16_t ctrl_avail, ctrl_used;

/* VQ_PAIRS_SET k through the control queue, as the driver sends it: the
 * status the device wrote. */
static uint8_t pairs_set(struct net *n, uint16_t k)
{
	uint8_t cmd[4] = { VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET };
	struct virtq *vq = &n->vd.vq[CTRLQ];
	uint8_t ack = 0xee;
	uint16_t used, head = (uint16_t)(2 * ctrl_avail);

	k = htole16(k);
	memcpy(cmd + 2, &k, 2);
	assert_int_equal(gm_write(&gm, CMD_GPA, cmd, sizeof(cmd)), 0);
	assert_int_equal(gm_write(&gm, ACK_GPA, &ack, 1), 0);
	assert_int_equal(fake_vq_desc(vq, head, CMD_GPA, sizeof(cmd), VRING_DESC_F_NEXT,
				      (uint16_t)(head + 1)), 0);
	assert_int_equal(fake_vq_desc(vq, (uint16_t)(head + 1), ACK_GPA, 1, VRING_DESC_F_WRITE,
				      0), 0);
	assert_int_equal(fake_vq_publish(vq, &ctrl_avail, head), 0);
	fake_vq_kick(&n->vd, CTRLQ);
	assert_int_equal(fake_vq_used_idx(vq, &used), 0);
	assert_int_equal(used, (uint16_t)(ctrl_used + 1));
	ctrl_used = used;
	assert_int_equal(gm_read(&gm, ACK_GPA, &ack, 1), 0);
	return ack;
}

/* VQ_PAIRS_SET that turns pair 1 on (2) or off (1), and what it asked: on,
 * pair 1's TAP queue attached, then given to its rings; off, the kernel
 * stops serving pair 1 before its TAP queue is detached. Pair 0 untouched. */
static void pair1_turned(struct net *n, bool on)
{
	ncalls = at = 0;
	assert_int_equal(pairs_set(n, on ? 2 : 1), VIRTIO_NET_OK);
	if (on)
		assert_int_equal(expect_on(1, TUNSETQUEUE, 0), IFF_ATTACH_QUEUE);
	expect_backend(n, 1, 0, on);
	expect_backend(n, 1, 1, on);
	if (!on)
		assert_int_equal(expect_on(1, TUNSETQUEUE, 0), IFF_DETACH_QUEUE);
	assert_int_equal(at, ncalls);
}

/* A VQ_PAIRS_SET answered `ack` that asks nothing of the kernel or the TAP. */
static void pairs_set_idle(struct net *n, uint16_t k, uint8_t ack)
{
	ncalls = at = 0;
	assert_int_equal(pairs_set(n, k), ack);
	assert_int_equal(at, ncalls);
}

static void expect_start_2(struct net *n)
{
	uint64_t f = n->vd.features;

	assert_int_equal(expect(TUNSETOFFLOAD, 0), virtio_net_tun_offloads(f));
	/* Pair 0: its rings and its TAP queue. */
	assert_int_equal(expect_on(0, VHOST_SET_FEATURES, 0), virtio_net_vhost_acked(f));
	expect_ring(n, 0);
	expect_ring(n, 1);
	expect_backend(n, 0, 0, true);
	expect_backend(n, 0, 1, true);
	/* Pair 1: its rings on its own /dev/vhost-net, no TAP until the
	 * driver turns it on. */
	assert_int_equal(expect_on(1, VHOST_SET_FEATURES, 0), virtio_net_vhost_acked(f));
	expect_ring(n, 2);
	expect_ring(n, 3);
	assert_int_equal(at, ncalls);
}

static void test_two_pairs(void **state __attribute__((unused)))
{
	struct net *n = vhost_dev(2);

	assert_true(n->vd.features & F(VIRTIO_NET_F_CTRL_VQ));
	assert_true(n->vd.features & F(VIRTIO_NET_F_MQ));
	assert_int_equal(n->vd.nqueues, 5);
	ctrl_avail = ctrl_used = 0;
	activate(n);
	expect_start_2(n);
	described(n, " tap=vmmtap0 vhost=running pairs=2 active=1 ctrl_cmds=0 ctrl_errors=0 "
		  "p1.vhost=off");

	pair1_turned(n, true);
	described(n, " tap=vmmtap0 vhost=running pairs=2 active=2 ctrl_cmds=1 ctrl_errors=0 "
		  "p1.vhost=running");
	/* The same again: nothing to do. */
	pairs_set_idle(n, 2, VIRTIO_NET_OK);

	pair1_turned(n, false);
	described(n, " tap=vmmtap0 vhost=running pairs=2 active=1 ctrl_cmds=3 ctrl_errors=0 "
		  "p1.vhost=off");

	/* Out of range: refused, nothing asked of the kernel. */
	pairs_set_idle(n, 3, VIRTIO_NET_ERR);

	/* On again, and the kernel refusing pair 1's TAP on its TX ring: the
	 * command fails, the RX ring's attach and the TAP queue undone. */
	ncalls = at = 0;
	fail_req = VHOST_NET_SET_BACKEND;
	fail_index = 1;
	assert_int_equal(pairs_set(n, 2), VIRTIO_NET_ERR);
	assert_int_equal(expect_on(1, TUNSETQUEUE, 0), IFF_ATTACH_QUEUE);
	expect_backend(n, 1, 0, true);
	expect_backend(n, 1, 1, true);		/* refused */
	expect_backend(n, 1, 0, false);
	assert_int_equal(expect_on(1, TUNSETQUEUE, 0), IFF_DETACH_QUEUE);
	assert_int_equal(at, ncalls);
	described(n, " tap=vmmtap0 vhost=running pairs=2 active=1 ctrl_cmds=5 ctrl_errors=2 "
		  "p1.vhost=off");

	/* Both on, then a reset (the driver unbound): every ring of both
	 * pairs stopped, pair 1's TAP queue detached. */
	assert_int_equal(pairs_set(n, 2), VIRTIO_NET_OK);
	ncalls = at = 0;
	n->vd.ops->reset(&n->vd);
	n->vd.status = 0;
	expect_stopped(n, 0, 0);
	expect_stopped(n, 0, 1);
	expect_stopped(n, 1, 0);
	expect_stopped(n, 1, 1);
	assert_int_equal(expect_on(1, TUNSETQUEUE, 0), IFF_DETACH_QUEUE);
	assert_int_equal(expect(TUNSETOFFLOAD, 0), 0);
	assert_int_equal(at, ncalls);
	described(n, " tap=vmmtap0 vhost=stopped pairs=2 active=1 ctrl_cmds=6 ctrl_errors=2 "
		  "p1.vhost=stopped");

	/* Bound again: the same start as the first, then both pairs on. */
	for (unsigned q = 0; q < n->vd.nqueues; q++)
		assert_int_equal(fake_vq_enable(&n->vd.vq[q], &gm, RING(q), 256,
						n->vd.features), 0);
	memset(gm_ptr(&gm, RING(CTRLQ), 0x3000), 0, 0x3000);
	ctrl_avail = ctrl_used = 0;
	n->vd.status = VIRTIO_CONFIG_S_FEATURES_OK;
	ncalls = at = 0;
	activate(n);
	expect_start_2(n);
	pair1_turned(n, true);
	virtio_net_free(&n->vd);
}

/* A kernel without VERSION_1 would want a 10-byte header: refused. */
static void test_old_kernel(void **state __attribute__((unused)))
{
	struct net *n = net_alloc(0, 1);

	assert_non_null(n);
	kernel_features = RING_BITS & ~F(VIRTIO_F_VERSION_1);
	assert_int_equal(net_vhost_new(n, "net[0]", &gm, &io), -EOPNOTSUPP);
	kernel_features = RING_BITS;
	virtio_net_free(&n->vd);
}

static int setup(void **state __attribute__((unused)))
{
	if (gm_init(&gm, 0, 4 << 20, 0, 0) < 0 || iothread_init(&io) < 0)
		return -1;
	return 0;
}

static int teardown(void **state __attribute__((unused)))
{
	iothread_destroy(&io);
	gm_destroy(&gm);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_features),
		cmocka_unit_test(test_mem_table),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_start_stop),
		cmocka_unit_test(test_start_fails),
		cmocka_unit_test(test_two_pairs),
		cmocka_unit_test(test_old_kernel),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
