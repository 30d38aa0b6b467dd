/* The vhost-user frontend (devices/vhost_user.c) against a fake backend on
 * a socketpair: each test queues the backend's replies first, runs one
 * frontend call, then reads back and checks the exact messages it sent.
 * The malformed-reply cases are the backend as an attacker. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "vhost_user.h"

static struct vhost_user vu;
static int be = -1;	/* the fake backend's end */

static int setup(void **state)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	vhu_init(&vu, "test", sv[0]);
	vu.timeout_ms = 200;
	be = sv[1];
	return 0;
}

static int teardown(void **state)
{
	vhu_close(&vu);
	close(be);
	be = -1;
	return 0;
}

/* ---- the fake backend ---- */

static void reply_raw(uint32_t req, uint32_t flags, const void *p, uint32_t claimed,
		      uint32_t len)
{
	struct vhu_hdr h = { req, flags, claimed };

	assert_int_equal(write(be, &h, sizeof(h)), sizeof(h));
	if (len)
		assert_int_equal(write(be, p, len), (ssize_t)len);
}

static void reply_u64(uint32_t req, uint64_t v)
{
	reply_raw(req, VHU_VERSION | VHU_FLAG_REPLY, &v, 8, 8);
}

struct msg {
	struct vhu_hdr h;
	uint8_t p[VHU_MAX_PAYLOAD];
	int fds[VHU_MAX_REGIONS];
	unsigned nfds;
};

/* Reads one message the frontend sent, with its descriptors. */
static void take(struct msg *m)
{
	union {
		char raw[CMSG_SPACE(sizeof(int) * VHU_MAX_REGIONS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { &m->h, sizeof(m->h) };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.raw, .msg_controllen = sizeof(ctl.raw),
	};
	struct cmsghdr *c;

	memset(m, 0, sizeof(*m));
	assert_int_equal(recvmsg(be, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC), sizeof(m->h));
	c = CMSG_FIRSTHDR(&mh);
	if (c) {
		m->nfds = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		memcpy(m->fds, CMSG_DATA(c), m->nfds * sizeof(int));
	}
	assert_true(m->h.size <= sizeof(m->p));
	if (m->h.size)
		assert_int_equal(read(be, m->p, m->h.size), (ssize_t)m->h.size);
}

static void expect_msg(struct msg *m, uint32_t req, uint32_t flags, uint32_t size)
{
	take(m);
	assert_int_equal(m->h.request, req);
	assert_int_equal(m->h.flags, VHU_VERSION | flags);
	assert_int_equal(m->h.size, size);
}

static uint64_t u64_at(const struct msg *m, size_t off)
{
	uint64_t v;

	memcpy(&v, m->p + off, 8);
	return v;
}

static uint32_t u32_at(const struct msg *m, size_t off)
{
	uint32_t v;

	memcpy(&v, m->p + off, 4);
	return v;
}

static void expect_nothing_more(void)
{
	char b;

	assert_int_equal(recv(be, &b, 1, MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
}

static unsigned open_fds(void)
{
	unsigned n = 0;

	for (int fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

/* Handshake with REPLY_ACK in force afterwards. */
static void ack_handshake(void)
{
	struct msg m;

	reply_u64(VHU_GET_FEATURES, 1ULL << 32 | 1ULL << VHU_F_PROTOCOL_FEATURES);
	reply_u64(VHU_GET_PROTOCOL_FEATURES, 1ULL << VHU_PROTOCOL_F_REPLY_ACK);
	reply_u64(VHU_SET_OWNER, 0);
	assert_int_equal(vhu_handshake(&vu, 1ULL << VHU_PROTOCOL_F_REPLY_ACK), 0);
	for (int i = 0; i < 4; i++)
		take(&m);
	expect_nothing_more();
}

/* ---- encoding ---- */

static void test_handshake(void **state)
{
	struct msg m;

	reply_u64(VHU_GET_FEATURES, 1ULL << 32 | 1ULL << VHU_F_PROTOCOL_FEATURES | 1ULL << 29);
	/* The backend offers more than we know (bit 5): we take the subset. */
	reply_u64(VHU_GET_PROTOCOL_FEATURES, 1ULL << VHU_PROTOCOL_F_REPLY_ACK |
		  1ULL << VHU_PROTOCOL_F_MQ | 1ULL << 5);
	reply_u64(VHU_SET_OWNER, 0);		/* the ack */
	assert_int_equal(vhu_handshake(&vu, 1ULL << VHU_PROTOCOL_F_REPLY_ACK |
				       1ULL << VHU_PROTOCOL_F_MQ), 0);
	assert_int_equal(vu.features, 1ULL << 32 | 1ULL << VHU_F_PROTOCOL_FEATURES | 1ULL << 29);
	assert_int_equal(vu.protocol, 1ULL << VHU_PROTOCOL_F_REPLY_ACK | 1ULL << VHU_PROTOCOL_F_MQ);

	expect_msg(&m, VHU_GET_FEATURES, 0, 0);
	expect_msg(&m, VHU_GET_PROTOCOL_FEATURES, 0, 0);
	/* Not acked: REPLY_ACK is not in force until this message is taken. */
	expect_msg(&m, VHU_SET_PROTOCOL_FEATURES, 0, 8);
	assert_int_equal(u64_at(&m, 0), 1ULL << VHU_PROTOCOL_F_REPLY_ACK | 1ULL << VHU_PROTOCOL_F_MQ);
	expect_msg(&m, VHU_SET_OWNER, VHU_FLAG_NEED_REPLY, 0);
	assert_int_equal(m.nfds, 0);
	expect_nothing_more();
}

static void test_handshake_no_protocol_features(void **state)
{
	struct msg m;

	reply_u64(VHU_GET_FEATURES, 1ULL << 32);
	assert_int_equal(vhu_handshake(&vu, 1ULL << VHU_PROTOCOL_F_REPLY_ACK), 0);
	assert_int_equal(vu.protocol, 0);
	expect_msg(&m, VHU_GET_FEATURES, 0, 0);
	expect_msg(&m, VHU_SET_OWNER, 0, 0);	/* no ack asked for */
	expect_nothing_more();
}

static void test_mem_table(void **state)
{
	struct vhu_region r[2] = {
		{ 0, 0xc0000000, 0x7f0000000000, 0 },
		{ 0x100000000, 0x40000000, 0x7f00c0000000, 0xc0000000 },
	};
	int memfd = memfd_create("guest", MFD_CLOEXEC);
	struct stat a, b;
	struct msg m;

	assert_true(memfd >= 0);
	vu.protocol = 0;
	assert_int_equal(vhu_set_mem_table(&vu, r, 2, memfd), 0);
	expect_msg(&m, VHU_SET_MEM_TABLE, 0, 8 + 64);
	assert_int_equal(u32_at(&m, 0), 2);
	assert_int_equal(u32_at(&m, 4), 0);		/* padding */
	assert_int_equal(u64_at(&m, 8), 0);
	assert_int_equal(u64_at(&m, 16), 0xc0000000);
	assert_int_equal(u64_at(&m, 24), 0x7f0000000000);
	assert_int_equal(u64_at(&m, 32), 0);
	assert_int_equal(u64_at(&m, 40), 0x100000000);
	assert_int_equal(u64_at(&m, 48), 0x40000000);
	assert_int_equal(u64_at(&m, 56), 0x7f00c0000000);
	assert_int_equal(u64_at(&m, 64), 0xc0000000);
	/* One descriptor per region, each the guest memfd. */
	assert_int_equal(m.nfds, 2);
	assert_int_equal(fstat(memfd, &a), 0);
	for (unsigned i = 0; i < m.nfds; i++) {
		assert_int_equal(fstat(m.fds[i], &b), 0);
		assert_int_equal(a.st_ino, b.st_ino);
		close(m.fds[i]);
	}
	assert_int_equal(vhu_set_mem_table(&vu, r, 0, memfd), -EINVAL);
	assert_int_equal(vhu_set_mem_table(&vu, r, VHU_MAX_REGIONS + 1, memfd), -EINVAL);
	expect_nothing_more();
	close(memfd);
}

static void test_vrings(void **state)
{
	int efd = eventfd(0, EFD_CLOEXEC);
	unsigned base = 99;
	struct msg m;

	assert_int_equal(vhu_set_vring_num(&vu, 1, 1024), 0);
	expect_msg(&m, VHU_SET_VRING_NUM, 0, 8);
	assert_int_equal(u32_at(&m, 0), 1);
	assert_int_equal(u32_at(&m, 4), 1024);

	assert_int_equal(vhu_set_vring_base(&vu, 1, 0), 0);
	expect_msg(&m, VHU_SET_VRING_BASE, 0, 8);

	assert_int_equal(vhu_set_vring_addr(&vu, 1, 0x1000, 0x3000, 0x2000), 0);
	expect_msg(&m, VHU_SET_VRING_ADDR, 0, 40);
	assert_int_equal(u32_at(&m, 0), 1);
	assert_int_equal(u32_at(&m, 4), 0);		/* flags: no logging */
	assert_int_equal(u64_at(&m, 8), 0x1000);	/* desc */
	assert_int_equal(u64_at(&m, 16), 0x3000);	/* used */
	assert_int_equal(u64_at(&m, 24), 0x2000);	/* avail */
	assert_int_equal(u64_at(&m, 32), 0);		/* log */

	assert_int_equal(vhu_set_vring_fd(&vu, VHU_SET_VRING_KICK, 1, efd), 0);
	expect_msg(&m, VHU_SET_VRING_KICK, 0, 8);
	assert_int_equal(u64_at(&m, 0), 1);
	assert_int_equal(m.nfds, 1);
	close(m.fds[0]);
	/* No vector: no descriptor, and the flag that says so. */
	assert_int_equal(vhu_set_vring_fd(&vu, VHU_SET_VRING_CALL, 0, -1), 0);
	expect_msg(&m, VHU_SET_VRING_CALL, 0, 8);
	assert_int_equal(u64_at(&m, 0), VHU_VRING_NOFD);
	assert_int_equal(m.nfds, 0);
	assert_int_equal(vhu_set_vring_fd(&vu, VHU_SET_OWNER, 0, efd), -EINVAL);
	assert_int_equal(vhu_set_vring_num(&vu, VHU_MAX_QUEUES, 8), -EINVAL);

	assert_int_equal(vhu_set_vring_enable(&vu, 1, true), 0);
	expect_msg(&m, VHU_SET_VRING_ENABLE, 0, 8);
	assert_int_equal(u32_at(&m, 4), 1);

	reply_raw(VHU_GET_VRING_BASE, VHU_VERSION | VHU_FLAG_REPLY,
		  (uint32_t[]){ 1, 77 }, 8, 8);
	assert_int_equal(vhu_get_vring_base(&vu, 1, &base), 0);
	assert_int_equal(base, 77);
	expect_msg(&m, VHU_GET_VRING_BASE, 0, 8);
	assert_int_equal(u32_at(&m, 0), 1);
	expect_nothing_more();
	close(efd);
}

static void test_reply_ack(void **state)
{
	struct msg m;

	ack_handshake();
	reply_u64(VHU_SET_FEATURES, 0);
	assert_int_equal(vhu_set_features(&vu, 1ULL << 32), 0);
	expect_msg(&m, VHU_SET_FEATURES, VHU_FLAG_NEED_REPLY, 8);
	/* A nonzero status is a refusal. */
	reply_u64(VHU_SET_VRING_NUM, 1);
	assert_int_equal(vhu_set_vring_num(&vu, 0, 256), -EIO);
	/* GET requests carry their own reply: never NEED_REPLY. */
	reply_u64(VHU_GET_QUEUE_NUM, 2);
	uint64_t n = 0;
	assert_int_equal(vhu_get_queue_num(&vu, &n), 0);
	assert_int_equal(n, 2);
}

/* ---- the backend as an attacker ---- */

static void test_check_reply(void **state)
{
	struct vhu_hdr ok = { VHU_GET_FEATURES, VHU_VERSION | VHU_FLAG_REPLY, 8 };
	struct vhu_hdr h;

	assert_int_equal(vhu_check_reply(&ok, VHU_GET_FEATURES, 8), 0);
	h = ok, h.request = VHU_GET_PROTOCOL_FEATURES;
	assert_int_equal(vhu_check_reply(&h, VHU_GET_FEATURES, 8), -EPROTO);
	h = ok, h.flags = VHU_VERSION;				/* not a reply */
	assert_int_equal(vhu_check_reply(&h, VHU_GET_FEATURES, 8), -EPROTO);
	h = ok, h.flags = 2 | VHU_FLAG_REPLY;			/* version 2 */
	assert_int_equal(vhu_check_reply(&h, VHU_GET_FEATURES, 8), -EPROTO);
	h = ok, h.size = 4;
	assert_int_equal(vhu_check_reply(&h, VHU_GET_FEATURES, 8), -EPROTO);
	h = ok, h.size = UINT32_MAX;
	assert_int_equal(vhu_check_reply(&h, VHU_GET_FEATURES, 8), -EPROTO);
}

static void test_wrong_request(void **state)
{
	reply_u64(VHU_GET_PROTOCOL_FEATURES, ~0ULL);
	assert_int_equal(vhu_handshake(&vu, ~0ULL), -EPROTO);
	assert_int_equal(vu.protocol, 0);
}

static void test_not_a_reply(void **state)
{
	uint64_t v = 1;

	reply_raw(VHU_GET_FEATURES, VHU_VERSION, &v, 8, 8);
	assert_int_equal(vhu_handshake(&vu, 0), -EPROTO);
}

static void test_bad_version(void **state)
{
	uint64_t v = 1;

	reply_raw(VHU_GET_FEATURES, 3 | VHU_FLAG_REPLY, &v, 8, 8);
	assert_int_equal(vhu_handshake(&vu, 0), -EPROTO);
}

static void test_oversized(void **state)
{
	uint8_t big[256] = { 0 };

	/* A size far beyond any reply must not be read, let alone allocated. */
	reply_raw(VHU_GET_FEATURES, VHU_VERSION | VHU_FLAG_REPLY, big, 0x7fffffff, sizeof(big));
	assert_int_equal(vhu_handshake(&vu, 0), -EPROTO);
	assert_int_equal(vu.features, 0);
}

static void test_truncated(void **state)
{
	uint32_t v = 1;

	reply_raw(VHU_GET_FEATURES, VHU_VERSION | VHU_FLAG_REPLY, &v, 8, 4);
	shutdown(be, SHUT_WR);
	assert_int_equal(vhu_handshake(&vu, 0), -ECONNRESET);
}

static void test_truncated_header(void **state)
{
	uint32_t v = VHU_GET_FEATURES;

	assert_int_equal(write(be, &v, 4), 4);
	shutdown(be, SHUT_WR);
	assert_int_equal(vhu_handshake(&vu, 0), -ECONNRESET);
}

static void test_silent_backend(void **state)
{
	vu.timeout_ms = 50;
	assert_int_equal(vhu_handshake(&vu, 0), -ETIMEDOUT);
}

static void test_dead_backend(void **state)
{
	close(be);
	be = -1;
	assert_int_equal(vhu_set_vring_num(&vu, 0, 8), -EPIPE);	/* and no SIGPIPE */
	assert_int_equal(vhu_handshake(&vu, 0), -EPIPE);
}

static void test_stray_fds(void **state)
{
	struct vhu_hdr h = { VHU_GET_FEATURES, VHU_VERSION | VHU_FLAG_REPLY, 8 };
	uint8_t buf[20];
	uint64_t v = 1ULL << 32;
	int efd[3];
	union {
		char raw[CMSG_SPACE(sizeof(efd))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.raw, .msg_controllen = sizeof(ctl.raw),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	unsigned before;

	for (int i = 0; i < 3; i++)
		efd[i] = eventfd(0, EFD_CLOEXEC);
	memcpy(buf, &h, 12);
	memcpy(buf + 12, &v, 8);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(efd));
	memcpy(CMSG_DATA(c), efd, sizeof(efd));
	assert_int_equal(sendmsg(be, &mh, 0), sizeof(buf));
	for (int i = 0; i < 3; i++)
		close(efd[i]);
	before = open_fds();
	/* Refused, and the descriptors it pushed on us are closed, not leaked. */
	assert_int_equal(vhu_handshake(&vu, 0), -EPROTO);
	assert_int_equal(open_fds(), before);
}

static void test_vring_base_lies(void **state)
{
	unsigned base = 5;

	reply_raw(VHU_GET_VRING_BASE, VHU_VERSION | VHU_FLAG_REPLY,
		  (uint32_t[]){ 0, 7 }, 8, 8);		/* another queue */
	assert_int_equal(vhu_get_vring_base(&vu, 1, &base), -EPROTO);
	reply_raw(VHU_GET_VRING_BASE, VHU_VERSION | VHU_FLAG_REPLY,
		  (uint32_t[]){ 1, 0x10000 }, 8, 8);	/* not a 16-bit index */
	assert_int_equal(vhu_get_vring_base(&vu, 1, &base), -EPROTO);
	assert_int_equal(base, 5);
}

static void test_ack_wrong_request(void **state)
{
	ack_handshake();
	reply_u64(VHU_SET_OWNER, 0);		/* an ack, but for something else */
	assert_int_equal(vhu_set_features(&vu, 1ULL << 32), -EPROTO);
}

static void test_not_connected(void **state)
{
	vhu_close(&vu);
	assert_int_equal(vhu_set_features(&vu, 0), -ENOTCONN);
	assert_int_equal(vhu_handshake(&vu, 0), -ENOTCONN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_handshake, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handshake_no_protocol_features, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mem_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vrings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_ack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_a_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_silent_backend, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dead_backend, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stray_fds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vring_base_lies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ack_wrong_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_connected, setup, teardown),
	};

	log_set_level(LOG_LVL_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
