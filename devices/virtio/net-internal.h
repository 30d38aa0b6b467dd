/* Private to virtio-net's files (net.c, the device; net_backend.c, what
 * its frames travel on): the device's state and what one calls in the
 * other. Everything else uses virtio/net.h only. */
#ifndef VMM_VIRTIO_NET_INTERNAL_H
#define VMM_VIRTIO_NET_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <net/if.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "net_stream.h"
#include "virtio/virtio.h"
#include "virtio/net.h"

struct guest_mem;
struct iothread;
struct net_vhost;
struct passt;
struct vhost_memory;

/* The room a received frame is read into, header included: a TAP frame is
 * at most a 64 KiB GSO packet, and one that fills all of this room was
 * truncated. It is the guest's buffers when the stashed chains have this
 * much room (zero-copy, net_rx.c), else the bounce buffer rxbuf. */
#define RX_BUF_SIZE	(NET_HDR_LEN + NET_MAX_GSO_FRAME + 1)
/* Writable buffers kept per RX chain: Linux uses 1 (mergeable) or 19 (big
 * packets); a longer chain just offers less room. */
#define RX_SLOT_IOV	32

/* An RX chain taken from the ring and not yet used: with merged buffers a
 * frame may need more chains than the ring had when it arrived, and
 * zero-copy receive takes chains for the largest frame before it reads. */
struct rx_slot {
	uint16_t head;
	unsigned niov;
	uint64_t cap;
	struct iovec iov[RX_SLOT_IOV];
};

struct net;
struct net_pair;

/* Queue pairs a device may have ([[net]] queues): rx0, tx0, rx1, tx1, ...,
 * then the control queue when there is more than one pair. The cap and why
 * are in docs/config.md (NET_QUEUES_MAX, config.h). */
#define NET_MAX_PAIRS	NET_QUEUES_MAX
#define NET_RXQ_OF(p)	(2 * (p))
#define NET_TXQ_OF(p)	(2 * (p) + 1)
_Static_assert(2 * NET_MAX_PAIRS + 1 <= VIRTIO_MAX_QUEUES, "every pair and the control queue");

/* Interrupt moderation (net_irq.c): per data queue, what moved since its
 * last interrupt and when a held one is due. The control queue interrupts
 * at once. */
#define NET_IRQ_QUEUES	(2 * NET_MAX_PAIRS)
/* Bytes the guest sent, since a queue's last interrupt, from which that
 * interrupt is held: a bulk transfer's, not a ping's or a small request's
 * (Intel's adaptive ITR draws its "bulk" line at about 8 KB). */
#define NET_IRQ_BULK	8192
/* How long a pair stays "sending a bulk" after an interrupt that announced
 * NET_IRQ_BULK bytes or more of its frames: a stream's frames are not all
 * large (Linux's autocorking sends what the application wrote since its last
 * transmit completion), and an interrupt at once for each small one would
 * make the next one small too; while it lasts the transmit queue is polled
 * (net_irq_tx_defer). */
#define NET_IRQ_LINGER_NS	2000000ULL
struct net_irq {
	int tfd;			/* timerfd of the earliest held interrupt; -1: no holds */
	uint64_t hold_ns;
	uint64_t armed;			/* the deadline tfd is set for (CLOCK_MONOTONIC ns); 0 none */
	uint64_t sent_bytes[NET_IRQ_QUEUES];	/* the guest's frames (TX) since the queue's interrupt */
	uint64_t due[NET_IRQ_QUEUES];	/* a held interrupt's deadline; 0 none */
	uint64_t bulk_until[NET_MAX_PAIRS];	/* a pair's bulk linger ends (ns) */
	uint64_t tx_due[NET_MAX_PAIRS];	/* a pair's deferred transmit run (ns); 0 none */
	uint64_t sent, held;		/* interrupts decided, and how many of them waited */
	uint64_t tx_deferred;		/* transmit runs left to the timer */
};
uint64_t net_irq_now(void);
/* hold_us 0: every interrupt at once, no timer. 0 or -errno. */
int net_irq_init(struct net_irq *m, uint32_t hold_us);
void net_irq_free(struct net_irq *m);
/* `bytes` of frames moved through queue pair `pair`: the guest's (tx) or
 * to it. */
void net_irq_moved(struct net_irq *m, unsigned pair, uint64_t bytes, bool tx);
/* Queue q has used buffers to announce (virtio_dev_used): now, or at
 * now + hold when the guest sent a bulk on its pair since q's last
 * interrupt. */
void net_irq_used(struct net_irq *m, struct virtio_dev *vd, unsigned q, uint64_t now);
/* A transmit run of pair `pair` that sent frames, or the timer's run, while
 * the guest sends a bulk (or its linger lasts): true when the next run
 * waits for the timer (now + hold) with the queue's notifications left off,
 * so that the frames the guest adds meanwhile cost it no kick and go out,
 * and complete, together (as QEMU's tx=timer and a NIC's transmit interrupt
 * coalescing). False: run on kicks. */
bool net_irq_tx_defer(struct net_irq *m, unsigned pair, uint64_t now);
/* The pairs whose deferred transmit run is due by `now` (a bit each),
 * forgotten here: the caller runs them. */
unsigned net_irq_tx_due(struct net_irq *m, uint64_t now);
/* Queue q's interrupt goes now (a deferred transmit run's completions:
 * the wait was the hold); a bulk since its last one renews the linger. */
void net_irq_flush(struct net_irq *m, struct virtio_dev *vd, unsigned q, uint64_t now);
/* The interrupts due by `now` go; the timer is set for the next. */
void net_irq_expire(struct net_irq *m, struct virtio_dev *vd, uint64_t now);
/* The device was reset: nothing is owed. */
void net_irq_reset(struct net_irq *m);
/* tfd is readable (the I/O thread): the pairs whose deferred transmit run
 * is due (net_irq_tx_due); the caller runs them, then net_irq_expire. */
unsigned net_irq_timer(struct net_irq *m, uint64_t now);

/* What the frames travel on: a TAP or a packet socket (one frame, header
 * first, per read and write), or a stream socket (length-prefixed frames
 * without the header, to passt or a test's peer). */
struct net_backend {
	const char *kind;		/* for messages and `vmm ctl queues` */
	bool vnet_hdr;			/* frames carry the header: offloads possible */
	/* The next frame into rxbuf, header first: its length; 0 for none
	 * waiting; -EMSGSIZE for one truncated; -errno. */
	ssize_t (*recv)(struct net_pair *p);
	/* The same into iov[0..cnt) (the header into iov[0], a local buffer
	 * of NET_HDR_LEN bytes; the frame into the guest's buffers), one read:
	 * -EMSGSIZE when it filled them all. NULL where a frame does not come
	 * in one read (the stream): the bounce buffer only. */
	ssize_t (*recv_iov)(struct net_pair *p, const struct iovec *iov, int cnt);
	/* Frame `len` bytes long at iov[1..cnt), with its header at iov[0]:
	 * 0 taken, -EAGAIN not now, -errno. */
	int (*send)(struct net_pair *p, const struct iovec *iov, int cnt, size_t len);
	/* Errors that mean the other end is gone, not a frame refused. */
	bool (*gone)(int err);
	/* Stream only: sends a frame's kept tail (net_stream_flush). */
	int (*flush)(struct net_pair *p);
};

/* One receive and transmit queue pair and its own descriptor (a queue of
 * a multi-queue TAP, IFF_MULTI_QUEUE; the only one of other backends). */
struct net_pair {
	struct net *n;
	unsigned index;
	int fd;
	bool in_ep;			/* fd is in n->ep (its TAP queue attached) */
	uint32_t ep_events;		/* what n->ep asks of fd now */
	uint64_t rx_frames, tx_frames;	/* for `vmm ctl NAME queues` */
	uint64_t rx_zerocopy;		/* of rx_frames, read straight into the guest's buffers */

	/* Receive: a frame is read straight into the stashed chains when they
	 * have room for the largest (RX_BUF_SIZE); else into rxbuf, where it
	 * waits until the guest has room for it (back-pressure: the TAP is
	 * not read meanwhile). */
	uint8_t *rxbuf;
	size_t rx_len;
	bool rx_held;
	struct rx_slot stash[NET_QUEUE_SIZE];
	unsigned stash_first, nstash;
	bool stashed[NET_QUEUE_SIZE];	/* by head: taken and not yet used */
	struct virtq_chain rxc;

	/* Transmit: txc is the chain being sent; when the TAP cannot take it
	 * (EAGAIN) it stays popped until the TAP is writable again. */
	struct virtq_chain txc;
	bool tx_held;
	uint8_t *txbuf;
};

struct net {
	struct virtio_dev vd;
	char name[48];
	char ifname[IFNAMSIZ];
	const struct net_backend *be;
	struct net_stream stream;	/* stream backends */
	struct passt *passt;		/* mode = "user": restarted when it ends */
	struct net_vhost *vhost;	/* vhost = true: the kernel serves the queues */
	int ep;				/* epoll over every pair's fd, watched by the I/O thread; -1 without */
	uint16_t mtu;
	struct virtio_net_config config;	/* little-endian; NET_CFG_SIZE bytes used */
	bool link_lost;
	bool warned_guest, warned_tap;
	unsigned npairs;		/* 1..NET_MAX_PAIRS, fixed at construction */
	unsigned active;		/* pairs the driver uses (VQ_PAIRS_SET); 1 after reset */
	struct net_pair *pair;		/* npairs of them */

	struct virtq_chain ctrlc;	/* the control command being answered */
	uint64_t ctrl_cmds, ctrl_errors;	/* for `vmm ctl NAME queues` */

	struct virtio_net_stats st;
	struct net_irq irq;
	uint32_t irq_hold_us;		/* [[net]] interrupt_hold_us, before net_setup */
	bool rx_zero_copy;		/* [[net]] rx_zero_copy */
};

/* net_backend.c. A TAP: frames carry the header, offloads are set on it. */
extern const struct net_backend net_tap_backend;

/* The other end is gone: passt restarted, or the link lost. */
void net_peer_gone(struct net *n, int err);

/* net.c. What n->ep asks of the pair's fd: readable (rx), writable (tx). */
void net_watch(struct net_pair *p, bool rx, bool tx);
/* net_rx.c. Moves frames from the pair's fd to its receive queue until
 * the fd is empty, the guest is out of buffers or the budget is spent. */
void net_rx_run(struct net_pair *p);

/* net.c. The TAP went away: stop watching it, tell the guest its link is
 * down. */
void net_lose_link(struct net *n, int err);
/* A device of `npairs` queue pairs (1..NET_MAX_PAIRS) with no descriptor
 * yet, on the TAP backend until the caller says otherwise; NULL without
 * memory. */
struct net *net_alloc(int index, unsigned npairs);
/* Buffers, the virtio_dev and its config; with `io`, the epoll over the
 * pairs' fds that the I/O thread watches. 0 or -errno; the caller frees n on error. */
int net_setup(struct net *n, const uint8_t mac[6], struct iothread *io);

/* The interrupt timer went off (vd.lock held): the deferred transmit runs
 * of the pairs in `due` (a bit each, net_irq_timer), then the interrupts
 * due by `now`. */
void net_timer_run(struct net *n, unsigned due, uint64_t now);

/* The driver uses pairs 0..k-1 (1 <= k <= npairs, else -EINVAL): the
 * TAP's queues of the others are detached (TUNSETQUEUE), so that the TAP
 * steers no flow to them, and they are no longer served (by vmm, or with
 * vhost by the kernel: net_vhost_set_active). */
int net_set_active(struct net *n, unsigned k);

/* net_ctrl.c. The control queue (queue 2 * npairs) was kicked. */
void net_ctrl_run(struct net *n);
/* The longest command read, header included: a VQ_PAIRS_SET is 4 bytes, a
 * MAC table with 64 unicast and 64 multicast entries 782. */
#define NET_CTRL_MAX	1024
/* Pure, for the tests and the fuzzer: the command in buf (class, command,
 * data; len bytes) on a device of `npairs` pairs. VIRTIO_NET_OK, with
 * *pairs set for a valid VQ_PAIRS_SET (else left alone), or
 * VIRTIO_NET_ERR for anything unknown, short, overlong or out of range. */
uint8_t virtio_net_ctrl_parse(const uint8_t *buf, size_t len, unsigned npairs,
			      unsigned *pairs);

/* net_vhost.c: `vhost = true`. Opens /dev/vhost-net (path), logging why
 * not, naming `table`: an fd or -errno. */
int net_vhost_open(const char *table, const char *path);
/* Opens and owns one /dev/vhost-net per pair of n (n->npairs, each on its
 * TAP queue n->pair[i].fd), gives each the guest's memory and an error
 * eventfd `io` watches. 0 or -errno, logged; net_vhost_free undoes what
 * was done. */
int net_vhost_new(struct net *n, const char *table, const struct guest_mem *mem,
		  struct iothread *io);
void net_vhost_free(struct net *n);
/* At DRIVER_OK: the negotiated features, every enabled ring with its kick
 * and call fds, and the TAP queue of each pair in use (n->active) to the
 * kernel; 0 or -EIO (logged; nothing left started). */
int net_vhost_start(struct net *n);
/* At reset: every TAP queue detached, the rings stopped. */
void net_vhost_stop(struct net *n);
/* The driver uses pairs 0..k-1 (n->active is still the old count): the
 * kernel serves those of them it has rings for, no others (their TAP queue
 * detached from the rings, VHOST_NET_SET_BACKEND -1). 0, or -errno when a
 * pair could not be turned on (logged; those this call turned on are off
 * again). Before DRIVER_OK (no rings) nothing is asked of the kernel. */
int net_vhost_set_active(struct net *n, unsigned k);
size_t net_vhost_describe(struct net *n, char *buf, size_t len);
/* virtio_net_vhost_offered with the kernel's features. */
uint64_t net_vhost_offered(const struct net *n, uint64_t device);

/* Pure, for the tests. The features to offer the guest: the device's,
 * less the ring bits (indirect descriptors, event index, merged buffers,
 * VERSION_1) the kernel's vhost-net lacks. */
uint64_t virtio_net_vhost_offered(uint64_t device, uint64_t vhost);
/* What VHOST_SET_FEATURES gets of the driver's features: the ring bits
 * only (the offloads are the TAP's, TUNSETOFFLOAD). */
uint64_t virtio_net_vhost_acked(uint64_t driver);
/* VHOST_SET_MEM_TABLE's table for m: guest-physical ranges and vmm's
 * mapping of each. -E2BIG when m has more than `max` regions. */
int virtio_net_vhost_mem(const struct guest_mem *m, struct vhost_memory *out, unsigned max);

#endif
