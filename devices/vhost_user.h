/* The frontend side of the vhost-user protocol (QEMU docs/interop/vhost-user.rst):
 * messages to a backend over a unix stream socket, with file descriptors in
 * SCM_RIGHTS. Transport- and device-independent: virtio/fs.c drives it.
 * Everything the backend sends is checked here like guest input: a reply of
 * the wrong request, version, size, or with descriptors we did not ask for is
 * an error (-EPROTO), never a crash. */
#ifndef VMM_VHOST_USER_H
#define VMM_VHOST_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Requests, frontend -> backend. */
enum vhu_request {
	VHU_GET_FEATURES = 1,
	VHU_SET_FEATURES = 2,
	VHU_SET_OWNER = 3,
	VHU_RESET_OWNER = 4,
	VHU_SET_MEM_TABLE = 5,
	VHU_SET_VRING_NUM = 8,
	VHU_SET_VRING_ADDR = 9,
	VHU_SET_VRING_BASE = 10,
	VHU_GET_VRING_BASE = 11,
	VHU_SET_VRING_KICK = 12,
	VHU_SET_VRING_CALL = 13,
	VHU_SET_VRING_ERR = 14,
	VHU_GET_PROTOCOL_FEATURES = 15,
	VHU_SET_PROTOCOL_FEATURES = 16,
	VHU_GET_QUEUE_NUM = 17,
	VHU_SET_VRING_ENABLE = 18,
};

/* Header flags: version 1 in bits 0-1, then REPLY and NEED_REPLY. */
#define VHU_VERSION		0x1u
#define VHU_VERSION_MASK	0x3u
#define VHU_FLAG_REPLY		0x4u
#define VHU_FLAG_NEED_REPLY	0x8u

/* Feature bit that says the backend speaks GET/SET_PROTOCOL_FEATURES. */
#define VHU_F_PROTOCOL_FEATURES	30
/* Protocol features this frontend knows. */
#define VHU_PROTOCOL_F_MQ	0
#define VHU_PROTOCOL_F_REPLY_ACK 3

/* In SET_VRING_KICK/CALL/ERR: the low byte is the queue, this bit says
 * "no descriptor follows" (polling / no interrupt). */
#define VHU_VRING_IDX_MASK	0xffu
#define VHU_VRING_NOFD		0x100u

#define VHU_MAX_REGIONS		8	/* fds in one SET_MEM_TABLE */
#define VHU_MAX_QUEUES		256	/* the index is one byte */
#define VHU_HDR_SIZE		12
/* The largest payload either side sends: the memory table. */
#define VHU_MAX_PAYLOAD		(8 + 32 * VHU_MAX_REGIONS)

struct vhu_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;		/* payload bytes after the header */
};

struct vhu_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t hva;		/* this process's address: "userspace_addr" */
	uint64_t fd_offset;	/* "mmap_offset" into the fd sent along */
};

struct vhost_user {
	int fd;				/* connected socket; -1 when none */
	const char *name;		/* for logs */
	unsigned timeout_ms;		/* per reply; a hung backend is an error */
	uint64_t features;		/* the backend's, from GET_FEATURES */
	uint64_t protocol;		/* negotiated protocol features */
};

/* Adopts the connected socket `fd` (closed by vhu_close). Sockets come
 * from the sandbox's launcher (sandbox_start, sandbox_connect): the device
 * threads may not make or connect sockets themselves. */
void vhu_init(struct vhost_user *vu, const char *name, int fd);
void vhu_close(struct vhost_user *vu);

/* Checks a reply header against the request it answers and the payload
 * size that request's reply has: 0 or -EPROTO. Pure: the fuzz target's
 * first stop. */
int vhu_check_reply(const struct vhu_hdr *h, uint32_t request, uint32_t size);

/* GET_FEATURES; then, when the backend offers it, GET_PROTOCOL_FEATURES and
 * SET_PROTOCOL_FEATURES with the subset of `want_protocol` it has; then
 * SET_OWNER. Fills vu->features and vu->protocol. */
int vhu_handshake(struct vhost_user *vu, uint64_t want_protocol);
/* GET_QUEUE_NUM (only with VHU_PROTOCOL_F_MQ). */
int vhu_get_queue_num(struct vhost_user *vu, uint64_t *n);
int vhu_set_features(struct vhost_user *vu, uint64_t features);
/* SET_MEM_TABLE: n regions (1..VHU_MAX_REGIONS), all mapped from `memfd`. */
int vhu_set_mem_table(struct vhost_user *vu, const struct vhu_region *r, unsigned n,
		      int memfd);
int vhu_set_vring_num(struct vhost_user *vu, unsigned q, unsigned num);
int vhu_set_vring_base(struct vhost_user *vu, unsigned q, unsigned base);
/* Stops the ring in the backend and returns where it got to. */
int vhu_get_vring_base(struct vhost_user *vu, unsigned q, unsigned *base);
/* Ring addresses as this process's addresses (see struct vhu_region). */
int vhu_set_vring_addr(struct vhost_user *vu, unsigned q, uint64_t desc,
		       uint64_t used, uint64_t avail);
/* SET_VRING_KICK/CALL/ERR with `fd`, or with the no-descriptor flag when
 * fd < 0. */
int vhu_set_vring_fd(struct vhost_user *vu, enum vhu_request req, unsigned q, int fd);
int vhu_set_vring_enable(struct vhost_user *vu, unsigned q, bool on);

#endif
