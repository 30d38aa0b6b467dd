/* libFuzzer target: the vhost-user frontend (devices/vhost_user.c) reading
 * replies that carry file descriptors. As in fuzz_vhost_user.c, a fake
 * backend's replies are queued on a socketpair before the frontend runs the
 * device start-up and shutdown sequence against them, then EOF; here each
 * chunk of them goes out in its own sendmsg with 0 to 10 real descriptors
 * (eventfds or pipe ends) in an SCM_RIGHTS control message, more than the
 * frontend's control buffer takes (VHU_MAX_REGIONS) included.
 *
 * Checks: no crash, no undefined behaviour, no leak of memory (ASan, UBSan,
 * LSan) and none of descriptors: /proc/self/fd holds the same number of
 * entries after each input as before it. The frontend must close every
 * descriptor a reply brings (no reply it asks for carries any).
 *
 * Input: byte 0 the protocol features asked for; then records
 *   0  u8  bits 0-3: descriptors (mod 11); bit 7: pipe read ends, not eventfds
 *   1  u8  bits 0-6: bytes that follow from the input; bit 7: a well-formed
 *          reply header goes first (version 1, REPLY, 8-byte payload)
 *   2  u8  the request that header names
 * and then the bytes; a chunk of no bytes sends one zero byte (descriptors
 * need one to ride on).
 *
 * Built by meson in a clang build directory set up with -Dfuzz=true
 * (docs/testing.md, "Fuzzing"); from the repository root:
 *   mkdir -p corpus-vhufd && build-fuzz/tests/fuzz/fuzz_vhost_user_fds -max_total_time=120 -max_len=4096 corpus-vhufd
 */
#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "vhost_user.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FDS		10
#define MAX_SENT	64	/* descriptors in flight per input */

static int memfd = -1, evfd = -1;

static void trap_unless(bool ok)
{
	if (!ok)
		__builtin_trap();
}

static unsigned count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned n = 0;

	trap_unless(d != NULL);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Sends `len` bytes with `nfds` fresh descriptors; closes our copies. */
static bool send_chunk(int fd, const void *buf, size_t len, unsigned nfds, bool pipes)
{
	union {
		char raw[CMSG_SPACE(sizeof(int) * MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	uint8_t zero = 0;
	struct iovec iov = { len ? (void *)buf : &zero, len ? len : 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	int fds[2 * MAX_FDS], other[MAX_FDS];
	unsigned made = 0;
	bool ok;

	for (; made < nfds; made++) {
		if (pipes) {
			int p[2];

			if (pipe(p) < 0)
				break;
			fds[made] = p[0];
			other[made] = p[1];
		} else {
			fds[made] = eventfd(0, 0);
			other[made] = -1;
			if (fds[made] < 0)
				break;
		}
	}
	if (made) {
		struct cmsghdr *c;

		mh.msg_control = ctl.raw;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * made);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * made);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * made);
	}
	ok = sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)iov.iov_len;
	for (unsigned i = 0; i < made; i++) {
		close(fds[i]);
		if (other[i] >= 0)
			close(other[i]);
	}
	return ok;
}

static void run_frontend(int fd, uint8_t protocol)
{
	struct vhu_region r[2] = {
		{ 0, 1 << 20, 0x7f0000000000, 0 }, { 1ULL << 32, 1 << 20, 0x7f0000100000, 1 << 20 },
	};
	struct vhost_user vu;
	unsigned base;
	uint64_t n;
	int ret;

	vhu_init(&vu, "fuzz", fd);
	vu.timeout_ms = 1;
	ret = vhu_handshake(&vu, protocol);
	if (ret == 0 && (vu.protocol & (1ULL << VHU_PROTOCOL_F_MQ)))
		ret = vhu_get_queue_num(&vu, &n);
	if (ret == 0)
		ret = vhu_set_features(&vu, vu.features);
	if (ret == 0)
		ret = vhu_set_mem_table(&vu, r, 2, memfd);
	for (unsigned q = 0; ret == 0 && q < 2; q++) {
		ret = vhu_set_vring_num(&vu, q, 256);
		if (ret == 0)
			ret = vhu_set_vring_base(&vu, q, 0);
		if (ret == 0)
			ret = vhu_set_vring_addr(&vu, q, 0x7f0000001000, 0x7f0000003000,
						 0x7f0000002000);
		if (ret == 0)
			ret = vhu_set_vring_fd(&vu, VHU_SET_VRING_CALL, q, q ? evfd : -1);
		if (ret == 0)
			ret = vhu_set_vring_fd(&vu, VHU_SET_VRING_KICK, q, evfd);
		if (ret == 0)
			ret = vhu_set_vring_enable(&vu, q, true);
	}
	for (unsigned q = 0; ret == 0 && q < 2; q++)
		ret = vhu_get_vring_base(&vu, q, &base);
	vhu_close(&vu);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned before, sent = 0;
	size_t i;
	int sv[2];

	if (memfd < 0) {
		log_set_level(LOG_LVL_ERR - 1);	/* quiet */
		memfd = memfd_create("fuzz", MFD_CLOEXEC);
		evfd = memfd_create("fuzz-ev", MFD_CLOEXEC);
	}
	if (size < 1 || size > 65536)
		return 0;
	before = count_fds();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	for (i = 1; i + 3 <= size;) {
		const uint8_t *rec = data + i;
		unsigned nfds = (rec[0] & 0xf) % (MAX_FDS + 1);
		size_t n = rec[1] & 0x7f;
		uint8_t buf[VHU_HDR_SIZE + 0x7f];
		size_t len = 0;

		i += 3;
		if (n > size - i)
			n = size - i;
		if (rec[1] & 0x80) {
			struct vhu_hdr h = { rec[2], VHU_VERSION | VHU_FLAG_REPLY, 8 };

			memcpy(buf, &h, sizeof(h));
			len = sizeof(h);
		}
		memcpy(buf + len, data + i, n);
		len += n;
		i += n;
		if (sent + nfds > MAX_SENT)
			nfds = 0;
		if (!send_chunk(sv[1], buf, len, nfds, rec[0] & 0x80))
			break;
		sent += nfds;
	}
	/* The replies, then EOF: a frontend waiting for more sees the end,
	 * not the timeout. */
	shutdown(sv[1], SHUT_WR);
	run_frontend(sv[0], data[0]);
	close(sv[1]);
	trap_unless(count_fds() == before);
	return 0;
}
