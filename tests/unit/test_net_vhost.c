/* Unit tests for devices/virtio/net_vhost.c (`[[net]] vhost = true`) without
 * the kernel's vhost-net: the features offered and acked, the memory table
 * built from guest memory regions, the messages for a missing or forbidden
 * /dev/vhost-net, and the ioctls DRIVER_OK and reset make, in order, with
 * ioctl and open wrapped (-Wl,--wrap; open is open64 with
 * _FILE_OFFSET_BITS=64): /dev/vhost-net is /dev/null here and
 * its ioctls are recorded. */
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

#include <linux/if_tun.h>
#include <linux/vhost.h>

#include "iothread.h"
#include "memory.h"
#include "virtio/net-internal.h"

#define F(b)		(1ULL << (b))
#define RING_BITS	(F(VIRTIO_RING_F_INDIRECT_DESC) | F(VIRTIO_RING_F_EVENT_IDX) | \
			 F(VIRTIO_NET_F_MRG_RXBUF) | F(VIRTIO_F_VERSION_1))

/* ---- the fake /dev/vhost-net ---- */

struct call {
	unsigned long req;
	unsigned index;
	uint64_t val;		/* features, num, fd; desc address for SET_VRING_ADDR */
};

static int fake_fd = -1;
static int fake_tap = -1;	/* takes TUNSETOFFLOAD */
static struct call calls[64];
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

	va_start(ap, flags);
	mode = (mode_t)va_arg(ap, int);
	va_end(ap);
	if (strcmp(path, "/dev/vhost-net"))
		return __real_open64(path, flags, mode);
	fake_fd = __real_open64("/dev/null", flags);
	return fake_fd;
}

int __wrap_ioctl(int fd, unsigned long req, ...)
{
	struct call c = { .req = req };
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (fd == fake_tap && req == TUNSETOFFLOAD) {
		c.val = (uintptr_t)arg;
		calls[ncalls++] = c;
		return 0;
	}
	if (fd != fake_fd)
		return __real_ioctl(fd, req, arg);
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

/* Asserts the next recorded call; returns its value. */
static unsigned at;
static uint64_t expect(unsigned long req, unsigned index)
{
	assert_true(at < ncalls);
	if (calls[at].req != req || calls[at].index != index) {
		print_error("call %u: 0x%lx on queue %u, wanted 0x%lx on queue %u\n", at,
			    calls[at].req, calls[at].index, req, index);
		fail();
	}
	return calls[at++].val;
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

static const struct virtio_transport_ops fake_tops = { .queue_fds = fake_queue_fds };

static struct guest_mem gm;
static struct iothread io;

/* A device on the fake kernel, its queues set up by a driver that took
 * every feature offered. */
static struct net *vhost_dev(void)
{
	static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 1 };
	struct net *n = net_alloc(0, 1);
	uint64_t err;

	assert_non_null(n);
	n->pair[0].fd = fake_tap = open("/dev/null", O_RDWR);
	assert_true(n->pair[0].fd >= 0);
	snprintf(n->ifname, sizeof(n->ifname), "vmmtap0");
	ncalls = at = 0;
	assert_int_equal(net_vhost_new(n, "net[0]", &gm, &io), 0);
	expect(VHOST_SET_OWNER, 0);
	expect(VHOST_GET_FEATURES, 0);
	assert_int_equal(expect(VHOST_SET_MEM_TABLE, 0), 1);
	err = expect(VHOST_SET_VRING_ERR, 0);
	assert_true((int64_t)err >= 0);
	assert_int_equal(expect(VHOST_SET_VRING_ERR, 1), err);
	assert_int_equal(at, ncalls);
	assert_int_equal(net_setup(n, mac, NULL), 0);
	/* No notify op: the transport leaves the kick eventfds to the kernel. */
	assert_null(n->vd.ops->queue_notify);
	n->vd.tops = &fake_tops;
	n->vd.features = n->vd.ops->features(&n->vd) | F(VIRTIO_F_VERSION_1);
	for (unsigned q = 0; q < 2; q++) {
		struct virtq *vq = &n->vd.vq[q];

		vq->ready = true;
		vq->size = 256;
		vq->desc_hva = gm_ptr(&gm, 0x10000 * (q + 1), 4096);
		vq->avail_hva = gm_ptr(&gm, 0x10000 * (q + 1) + 0x1000, 512);
		vq->used_hva = gm_ptr(&gm, 0x10000 * (q + 1) + 0x2000, 2048);
	}
	ncalls = at = 0;
	return n;
}

static void expect_queue_started(struct net *n, unsigned q)
{
	assert_int_equal(expect(VHOST_SET_VRING_NUM, q), 256);
	assert_int_equal(expect(VHOST_SET_VRING_BASE, q), 0);
	assert_int_equal(expect(VHOST_SET_VRING_ADDR, q), (uintptr_t)n->vd.vq[q].desc_hva);
	assert_int_equal(expect(VHOST_SET_VRING_CALL, q), 200 + q);
	assert_int_equal(expect(VHOST_SET_VRING_KICK, q), 100 + q);
	assert_int_equal(expect(VHOST_NET_SET_BACKEND, q), n->pair[0].fd);
}

static void expect_queue_stopped(unsigned q)
{
	assert_int_equal((int64_t)expect(VHOST_NET_SET_BACKEND, q), -1);
	expect(VHOST_GET_VRING_BASE, q);
}

static void test_start_stop(void **state __attribute__((unused)))
{
	struct net *n = vhost_dev();
	uint64_t f = n->vd.features;
	char buf[128];

	assert_true(f & F(VIRTIO_RING_F_EVENT_IDX));
	assert_true(f & F(VIRTIO_NET_F_MRG_RXBUF));
	assert_true(f & F(VIRTIO_NET_F_CSUM));
	assert_int_equal(n->vd.ops->activate(&n->vd), 0);
	/* The offloads go to the TAP, the ring bits to the kernel, then each
	 * ring, its fds and last the TAP. */
	assert_int_equal(expect(TUNSETOFFLOAD, 0), virtio_net_tun_offloads(f));
	assert_int_equal(expect(VHOST_SET_FEATURES, 0), virtio_net_vhost_acked(f));
	expect_queue_started(n, 0);
	expect_queue_started(n, 1);
	assert_int_equal(at, ncalls);
	n->vd.ops->describe(&n->vd, buf, sizeof(buf));
	assert_string_equal(buf, " tap=vmmtap0 vhost=running");

	/* Reset: the TAP detached from each ring and the rings stopped. */
	n->vd.ops->reset(&n->vd);
	expect_queue_stopped(0);
	expect_queue_stopped(1);
	assert_int_equal(expect(TUNSETOFFLOAD, 0), 0);
	assert_int_equal(at, ncalls);
	n->vd.ops->describe(&n->vd, buf, sizeof(buf));
	assert_string_equal(buf, " tap=vmmtap0 vhost=stopped");
	/* A second reset has nothing to take back. */
	ncalls = at = 0;
	n->vd.ops->reset(&n->vd);
	assert_int_equal(expect(TUNSETOFFLOAD, 0), 0);
	assert_int_equal(at, ncalls);

	/* A driver that enabled only the TX queue: only that one goes. */
	n->vd.vq[0].ready = false;
	ncalls = at = 0;
	assert_int_equal(n->vd.ops->activate(&n->vd), 0);
	expect(TUNSETOFFLOAD, 0);
	expect(VHOST_SET_FEATURES, 0);
	expect_queue_started(n, 1);
	assert_int_equal(at, ncalls);
	virtio_net_free(&n->vd);
}

/* The kernel refusing a ring: DRIVER_OK fails (the transport sets
 * NEEDS_RESET) and what had started is stopped again. */
static void test_start_fails(void **state __attribute__((unused)))
{
	struct net *n = vhost_dev();

	fail_req = VHOST_SET_VRING_ADDR;
	fail_index = 1;
	assert_int_equal(n->vd.ops->activate(&n->vd), -EIO);
	expect(TUNSETOFFLOAD, 0);
	expect(VHOST_SET_FEATURES, 0);
	expect_queue_started(n, 0);
	expect(VHOST_SET_VRING_NUM, 1);
	expect(VHOST_SET_VRING_BASE, 1);
	expect(VHOST_SET_VRING_ADDR, 1);
	expect_queue_stopped(0);
	assert_int_equal(at, ncalls);
	/* The reset that follows asks nothing more of the kernel. */
	ncalls = at = 0;
	n->vd.ops->reset(&n->vd);
	expect(TUNSETOFFLOAD, 0);
	assert_int_equal(at, ncalls);
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
		cmocka_unit_test(test_old_kernel),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
