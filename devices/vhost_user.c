/* vhost-user frontend messages. One request at a time, under the caller's
 * lock; every reply is read whole and checked (header, size, no stray
 * descriptors) before any of it is used. A backend that stops answering
 * fails the request after vu->timeout_ms instead of hanging the caller. */
#include "vhost_user.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

#define VHU_DEFAULT_TIMEOUT_MS	10000

struct vring_state {
	uint32_t index;
	uint32_t num;
};

struct vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc, used, avail, log;
};

static const char *req_name(uint32_t r)
{
	static const char *const names[] = {
		[VHU_GET_FEATURES] = "GET_FEATURES", [VHU_SET_FEATURES] = "SET_FEATURES",
		[VHU_SET_OWNER] = "SET_OWNER", [VHU_RESET_OWNER] = "RESET_OWNER",
		[VHU_SET_MEM_TABLE] = "SET_MEM_TABLE",
		[VHU_SET_VRING_NUM] = "SET_VRING_NUM", [VHU_SET_VRING_ADDR] = "SET_VRING_ADDR",
		[VHU_SET_VRING_BASE] = "SET_VRING_BASE", [VHU_GET_VRING_BASE] = "GET_VRING_BASE",
		[VHU_SET_VRING_KICK] = "SET_VRING_KICK", [VHU_SET_VRING_CALL] = "SET_VRING_CALL",
		[VHU_SET_VRING_ERR] = "SET_VRING_ERR",
		[VHU_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
		[VHU_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
		[VHU_GET_QUEUE_NUM] = "GET_QUEUE_NUM", [VHU_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
	};

	return r < sizeof(names) / sizeof(names[0]) && names[r] ? names[r] : "?";
}

void vhu_init(struct vhost_user *vu, const char *name, int fd)
{
	*vu = (struct vhost_user){
		.fd = fd, .name = name, .timeout_ms = VHU_DEFAULT_TIMEOUT_MS,
	};
}

void vhu_close(struct vhost_user *vu)
{
	if (vu->fd >= 0)
		close(vu->fd);
	vu->fd = -1;
	vu->features = vu->protocol = 0;
}

int vhu_check_reply(const struct vhu_hdr *h, uint32_t request, uint32_t size)
{
	if (h->request != request)
		return -EPROTO;
	if ((h->flags & VHU_VERSION_MASK) != VHU_VERSION || !(h->flags & VHU_FLAG_REPLY))
		return -EPROTO;
	if (h->size != size)
		return -EPROTO;
	return 0;
}

/* ---- socket I/O ---- */

static int send_msg(struct vhost_user *vu, uint32_t req, uint32_t flags,
		    const void *payload, uint32_t len, const int *fds, unsigned nfds)
{
	uint8_t buf[VHU_HDR_SIZE + VHU_MAX_PAYLOAD];
	struct vhu_hdr h = { req, VHU_VERSION | flags, len };
	union {
		char raw[CMSG_SPACE(sizeof(int) * VHU_MAX_REGIONS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	size_t total = VHU_HDR_SIZE + len, done = 0;

	if (vu->fd < 0)
		return -ENOTCONN;
	if (len > VHU_MAX_PAYLOAD || nfds > VHU_MAX_REGIONS)
		return -EINVAL;
	memcpy(buf, &h, VHU_HDR_SIZE);
	if (len)
		memcpy(buf + VHU_HDR_SIZE, payload, len);
	if (nfds) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.raw;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	while (done < total) {
		ssize_t n;

		iov.iov_base = buf + done;
		iov.iov_len = total - done;
		n = sendmsg(vu->fd, &mh, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		done += (size_t)n;
		mh.msg_control = NULL;	/* the descriptors went with the first byte */
		mh.msg_controllen = 0;
	}
	return 0;
}

/* Exactly `len` bytes, or an error: -ETIMEDOUT, -ECONNRESET on EOF, -EPROTO
 * when the backend sends descriptors (no reply we ask for carries any; they
 * are closed, never used). */
static int recv_exact(struct vhost_user *vu, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		union {
			char raw[CMSG_SPACE(sizeof(int) * VHU_MAX_REGIONS)];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = { (uint8_t *)buf + done, len - done };
		struct msghdr mh = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = ctl.raw, .msg_controllen = sizeof(ctl.raw),
		};
		struct pollfd p = { .fd = vu->fd, .events = POLLIN };
		bool stray = false;
		ssize_t n;
		int r;

		r = poll(&p, 1, (int)vu->timeout_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		n = recvmsg(vu->fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			for (size_t i = 0; (i + 1) * sizeof(int) <= c->cmsg_len - CMSG_LEN(0); i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				close(fd);
			}
			stray = true;
		}
		if (stray || (mh.msg_flags & MSG_CTRUNC))
			return -EPROTO;
		if (n == 0)
			return -ECONNRESET;
		done += (size_t)n;
	}
	return 0;
}

/* Reads the reply to `req` with a payload of exactly `size` bytes. */
static int recv_reply(struct vhost_user *vu, uint32_t req, void *payload, uint32_t size)
{
	struct vhu_hdr h;
	int ret;

	ret = recv_exact(vu, &h, sizeof(h));
	if (ret == 0 && vhu_check_reply(&h, req, size) < 0) {
		log_warn("%s: vhost-user backend answered %s with request %u, flags 0x%x, "
			 "%u bytes (expected %u)", vu->name, req_name(req), h.request,
			 h.flags, h.size, size);
		return -EPROTO;
	}
	if (ret == 0)
		ret = recv_exact(vu, payload, size);
	return ret;
}

static void fail(struct vhost_user *vu, uint32_t req, int err)
{
	log_warn("%s: vhost-user %s: %s", vu->name, req_name(req), strerror(-err));
}

/* A request without a reply of its own; with REPLY_ACK it gets a u64 status. */
static int set(struct vhost_user *vu, uint32_t req, const void *payload, uint32_t len,
	       const int *fds, unsigned nfds)
{
	bool ack = vu->protocol & (1ULL << VHU_PROTOCOL_F_REPLY_ACK);
	uint64_t status;
	int ret;

	ret = send_msg(vu, req, ack ? VHU_FLAG_NEED_REPLY : 0, payload, len, fds, nfds);
	if (ret == 0 && ack)
		ret = recv_reply(vu, req, &status, sizeof(status));
	if (ret == 0 && ack && status != 0) {
		log_warn("%s: vhost-user backend refused %s (status %llu)", vu->name,
			 req_name(req), (unsigned long long)status);
		return -EIO;
	}
	if (ret < 0)
		fail(vu, req, ret);
	return ret;
}

/* A request whose reply carries a payload of `size` bytes. */
static int get(struct vhost_user *vu, uint32_t req, const void *payload, uint32_t len,
	       void *reply, uint32_t size)
{
	int ret = send_msg(vu, req, 0, payload, len, NULL, 0);

	if (ret == 0)
		ret = recv_reply(vu, req, reply, size);
	if (ret < 0)
		fail(vu, req, ret);
	return ret;
}

static int set_u64(struct vhost_user *vu, uint32_t req, uint64_t v)
{
	return set(vu, req, &v, sizeof(v), NULL, 0);
}

static int get_u64(struct vhost_user *vu, uint32_t req, uint64_t *v)
{
	return get(vu, req, NULL, 0, v, sizeof(*v));
}

/* ---- requests ---- */

int vhu_handshake(struct vhost_user *vu, uint64_t want_protocol)
{
	uint64_t pf;
	int ret;

	vu->protocol = 0;
	ret = get_u64(vu, VHU_GET_FEATURES, &vu->features);
	if (ret < 0)
		return ret;
	if (vu->features & (1ULL << VHU_F_PROTOCOL_FEATURES)) {
		ret = get_u64(vu, VHU_GET_PROTOCOL_FEATURES, &pf);
		if (ret < 0)
			return ret;
		pf &= want_protocol;
		/* Sent without NEED_REPLY: REPLY_ACK is not in force yet. */
		ret = set_u64(vu, VHU_SET_PROTOCOL_FEATURES, pf);
		if (ret < 0)
			return ret;
		vu->protocol = pf;
	}
	return set(vu, VHU_SET_OWNER, NULL, 0, NULL, 0);
}

int vhu_get_queue_num(struct vhost_user *vu, uint64_t *n)
{
	return get_u64(vu, VHU_GET_QUEUE_NUM, n);
}

int vhu_set_features(struct vhost_user *vu, uint64_t features)
{
	return set_u64(vu, VHU_SET_FEATURES, features);
}

int vhu_set_mem_table(struct vhost_user *vu, const struct vhu_region *r, unsigned n,
		      int memfd)
{
	uint8_t p[VHU_MAX_PAYLOAD] = { 0 };
	int fds[VHU_MAX_REGIONS];
	uint32_t nr = n;

	if (n == 0 || n > VHU_MAX_REGIONS)
		return -EINVAL;
	memcpy(p, &nr, sizeof(nr));		/* then 4 bytes of padding */
	for (unsigned i = 0; i < n; i++) {
		memcpy(p + 8 + 32 * i, &r[i], 32);
		fds[i] = memfd;
	}
	return set(vu, VHU_SET_MEM_TABLE, p, 8 + 32 * n, fds, n);
}

static int set_state(struct vhost_user *vu, uint32_t req, unsigned q, unsigned num)
{
	struct vring_state s = { q, num };

	if (q >= VHU_MAX_QUEUES)
		return -EINVAL;
	return set(vu, req, &s, sizeof(s), NULL, 0);
}

int vhu_set_vring_num(struct vhost_user *vu, unsigned q, unsigned num)
{
	return set_state(vu, VHU_SET_VRING_NUM, q, num);
}

int vhu_set_vring_base(struct vhost_user *vu, unsigned q, unsigned base)
{
	return set_state(vu, VHU_SET_VRING_BASE, q, base);
}

int vhu_set_vring_enable(struct vhost_user *vu, unsigned q, bool on)
{
	return set_state(vu, VHU_SET_VRING_ENABLE, q, on);
}

int vhu_get_vring_base(struct vhost_user *vu, unsigned q, unsigned *base)
{
	struct vring_state s = { q, 0 }, r;
	int ret;

	if (q >= VHU_MAX_QUEUES)
		return -EINVAL;
	ret = get(vu, VHU_GET_VRING_BASE, &s, sizeof(s), &r, sizeof(r));
	if (ret == 0 && (r.index != q || r.num > 0xffff)) {
		log_warn("%s: vhost-user backend answered GET_VRING_BASE of queue %u "
			 "with queue %u, index %u", vu->name, q, r.index, r.num);
		return -EPROTO;
	}
	if (ret == 0)
		*base = r.num;
	return ret;
}

int vhu_set_vring_addr(struct vhost_user *vu, unsigned q, uint64_t desc, uint64_t used,
		       uint64_t avail)
{
	struct vring_addr a = { .index = q, .desc = desc, .used = used, .avail = avail };

	if (q >= VHU_MAX_QUEUES)
		return -EINVAL;
	return set(vu, VHU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
}

int vhu_set_vring_fd(struct vhost_user *vu, enum vhu_request req, unsigned q, int fd)
{
	uint64_t v = q & VHU_VRING_IDX_MASK;

	if (q >= VHU_MAX_QUEUES ||
	    (req != VHU_SET_VRING_KICK && req != VHU_SET_VRING_CALL && req != VHU_SET_VRING_ERR))
		return -EINVAL;
	if (fd < 0)
		v |= VHU_VRING_NOFD;
	return set(vu, req, &v, sizeof(v), fd < 0 ? NULL : &fd, fd < 0 ? 0 : 1);
}
