/* libFuzzer target for the virtio-vsock packet path (devices/virtio/vsock.c,
 * vsock_host.c): the input is a script of driver and host actions, the
 * packet headers (every field), payload lengths, rx buffer sizes, host
 * writes, reads and closes, host clients' CONNECT lines, polls and device
 * resets. Checks: no access outside guest RAM (ASan), no undefined
 * behaviour (UBSan), no leak (LSan), and the credit rule: the device never
 * sends a connection more payload than the credit the driver gave it
 * (buf_alloc - (sent - fwd_cnt), from the driver's last packet), never
 * more than 64 KiB or its buffer in one packet, and nothing for a
 * connection it reset.
 *
 * Built by meson in a clang build directory set up with -Dfuzz=true
 * (docs/testing.md, "Fuzzing"); from the repository root:
 *   mkdir -p corpus-vsock && build-fuzz/tests/fuzz/fuzz_vsock -max_total_time=60 -max_len=4096 corpus-vsock
 *
 * Guest connections to ports 5000 and 5002 get a socket pair (the fuzzer
 * plays the host end), others are refused. One device per input.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fake_vq.h"
#include "log.h"
#include "memory.h"
#include "virtio/vsock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM		(1 << 20)
#define QSIZE		64
#define RING(q)		(0x1000ULL * 4 * (q))
#define RXBUF(i)	(0x10000ULL + 0x1100ULL * (i))	/* 64 of 4352 bytes */
#define TXBUF		0x80000ULL
#define TXBUF_LEN	0x12000
#define CID		3
#define MAX_PEERS	32
#define MAX_TRACK	64

static void sig_queue(struct virtio_dev *d, unsigned q) { }
static void sig_config(struct virtio_dev *d) { }
static const struct virtio_transport_ops tops = { .signal_queue = sig_queue,
						  .signal_config = sig_config };

static struct guest_mem gm;
static struct virtio_dev *vd;
static char sock_path[64];
static int peers[MAX_PEERS], npeers;
static uint16_t rx_avail, rx_used, tx_avail;

/* What the driver told the device of each connection (by its ports, from
 * the driver's side), and what the device sent it. */
struct track {
	bool used, open;
	uint32_t gport, hport;
	uint32_t buf_alloc, fwd_cnt, sent;
};
static struct track tr[MAX_TRACK];

static void trap_unless(bool ok)
{
	if (!ok)
		__builtin_trap();
}

static struct track *track(uint32_t gport, uint32_t hport, bool create)
{
	struct track *free_slot = NULL;

	for (unsigned i = 0; i < MAX_TRACK; i++) {
		if (tr[i].used && tr[i].gport == gport && tr[i].hport == hport)
			return &tr[i];
		if (!tr[i].used && !free_slot)
			free_slot = &tr[i];
	}
	if (!create || !free_slot)
		return NULL;
	*free_slot = (struct track){ .used = true, .gport = gport, .hport = hport };
	return free_slot;
}

static int fake_connect(void *ctx, uint32_t port, int *fd)
{
	int sv[2];

	if ((port != 5000 && port != 5002) || npeers >= MAX_PEERS)
		return -ECONNREFUSED;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
		return -errno;
	peers[npeers++] = sv[1];
	*fd = sv[0];
	return 0;
}

static void init(void)
{
	uint8_t *ram = malloc(RAM);

	trap_unless(ram != NULL);
	gm.memfd = -1;
	gm.total = RAM;
	gm.nregions = 1;
	gm.regions[0] = (struct guest_region){ 0, RAM, 0, ram };
	log_set_level((enum log_level)0);
	snprintf(sock_path, sizeof(sock_path), "/tmp/fuzz-vsock-%d.sock", (int)getpid());
}

struct in {
	const uint8_t *p;
	size_t n;
};

static uint32_t take(struct in *in, unsigned bytes)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < bytes && in->n; i++, in->n--)
		v |= (uint32_t)*in->p++ << (8 * i);
	return v;
}

static void put_desc(unsigned q, uint16_t i, uint64_t addr, uint32_t len, bool write)
{
	fake_vq_desc(&vd->vq[q], i, addr, len, write ? VRING_DESC_F_WRITE : 0, 0);
}

/* Reads what the device gave back on rx and checks it. */
static void drain_rx(void)
{
	uint16_t used;

	fake_vq_used_idx(&vd->vq[0], &used);
	while (rx_used != used) {
		struct virtq_used_elem e;
		struct virtio_vsock_hdr h;
		struct track *t;

		fake_vq_used_elem(&vd->vq[0], rx_used, &e);
		rx_used++;
		trap_unless(e.id < QSIZE);
		if (e.len == 0)
			continue;	/* a buffer too short for a header */
		trap_unless(e.len >= 44 && e.len <= 0x1100);
		gm_read(&gm, RXBUF(e.id), &h, 44);
		trap_unless(h.len == e.len - 44 && h.len <= 65536);
		trap_unless(h.src_cid == 2 && h.dst_cid == CID &&
			    h.type == VIRTIO_VSOCK_TYPE_STREAM);
		t = track(h.dst_port, h.src_port, h.op == VIRTIO_VSOCK_OP_REQUEST);
		if (getenv("FUZZ_VSOCK_TRACE"))
			fprintf(stderr, "rx op %u %u->%u len %u fwd %u t %d\n", h.op, h.src_port,
				h.dst_port, h.len, h.fwd_cnt, t ? t->open : -1);
		switch (h.op) {
		case VIRTIO_VSOCK_OP_REQUEST:	/* host-initiated: credit from 0 */
			if (t)
				*t = (struct track){ .used = true, .gport = h.dst_port,
						     .hport = h.src_port };
			break;
		case VIRTIO_VSOCK_OP_RESPONSE:
			if (t)
				t->open = true;
			break;
		case VIRTIO_VSOCK_OP_RST:
			if (t)
				t->used = false;
			break;
		case VIRTIO_VSOCK_OP_RW:
			/* Only on an open connection, within the credit. */
			trap_unless(t && t->open);
			t->sent += h.len;
			trap_unless(t->sent - t->fwd_cnt <= t->buf_alloc);
			break;
		default:
			break;
		}
	}
}

static void rx_post(unsigned n, bool small)
{
	for (unsigned k = 0; k < n && (uint16_t)(rx_avail - rx_used) < QSIZE; k++) {
		uint16_t i = rx_avail % QSIZE;

		put_desc(0, i, RXBUF(i), small ? 20 : 0x1100, true);
		fake_vq_publish(&vd->vq[0], &rx_avail, i);
	}
	fake_vq_kick(vd, 0);
}

/* A tx packet, every field from the input. */
static void tx_packet(struct in *in)
{
	uint32_t sel = take(in, 1), plen = take(in, 2) % 0x1000;
	struct virtio_vsock_hdr h = {
		.src_cid = (sel & 0x80) ? take(in, 1) : CID,
		.dst_cid = (sel & 0x40) ? take(in, 1) : 2,
		.src_port = 1000 + (sel & 3),
		.dst_port = (sel & 0x20) ? (1u << 30) + (sel & 3) : 5000 + ((sel >> 2) & 3),
		.type = (sel & 0x10) ? (uint16_t)take(in, 1) : VIRTIO_VSOCK_TYPE_STREAM,
		.op = (uint16_t)(take(in, 1) % 9),
		.flags = (sel & 8) ? take(in, 1) : 0,
		.buf_alloc = take(in, 3),
		.len = plen,
	};
	uint32_t how = take(in, 1), chain;
	struct track *t;
	uint16_t i = (uint16_t)(tx_avail % QSIZE);

	if (how & 1)
		h.len = take(in, 4);	/* len that may lie */
	if (h.op == VIRTIO_VSOCK_OP_RW && !(how & 2))
		plen = h.len <= 0x1000 ? h.len : plen;
	chain = (how & 8) ? take(in, 1) % 44 : 44 + plen;
	/* A chain shorter than a header is dropped unread: it tells nothing. */
	t = chain < 44 ? NULL : track(h.src_port, h.dst_port, h.op == VIRTIO_VSOCK_OP_REQUEST);
	/* fwd_cnt: honest (what was sent, or less), or anything. */
	if (how & 4)
		h.fwd_cnt = take(in, 4);
	else
		h.fwd_cnt = t ? t->sent - (take(in, 1) & 0x7f) * (t->sent >= 0x7f) : 0;
	if (h.op == VIRTIO_VSOCK_OP_REQUEST && t)
		*t = (struct track){ .used = true, .open = true, .gport = h.src_port,
				     .hport = h.dst_port, .sent = h.fwd_cnt };
	if (h.op == VIRTIO_VSOCK_OP_RESPONSE && t)
		t->open = true;		/* host-initiated: the driver accepts */
	if (t) {
		t->buf_alloc = h.buf_alloc;
		t->fwd_cnt = h.fwd_cnt;
	}
	if (getenv("FUZZ_VSOCK_TRACE"))
		fprintf(stderr, "tx op %u %u->%u len %u cid %u/%u type %u flags %u ba %u fwd %u\n",
			h.op, h.src_port, h.dst_port, h.len, (unsigned)h.src_cid,
			(unsigned)h.dst_cid, h.type, h.flags, h.buf_alloc, h.fwd_cnt);
	gm_write(&gm, TXBUF, &h, 44);
	put_desc(1, i, TXBUF, chain, false);
	fake_vq_publish(&vd->vq[1], &tx_avail, i);
	fake_vq_kick(vd, 1);
}

static void host_action(struct in *in, unsigned what)
{
	static char buf[8192];
	unsigned k = take(in, 1);
	int fd = npeers ? peers[k % npeers] : -1;

	if (getenv("FUZZ_VSOCK_TRACE"))
		fprintf(stderr, "host %u on peer %d\n", what, npeers ? (int)(k % npeers) : -1);

	switch (what) {
	case 0:		/* a host write */
		if (fd >= 0 && send(fd, buf, take(in, 2) % sizeof(buf), MSG_NOSIGNAL) < 0) {
		}
		break;
	case 1:		/* a host read */
		if (fd >= 0 && read(fd, buf, sizeof(buf)) < 0) {
		}
		break;
	case 2:		/* a half or full close */
		if (fd >= 0)
			shutdown(fd, (k & 0x80) ? SHUT_RDWR : SHUT_WR);
		break;
	case 3: {	/* a host client with a CONNECT line (or not) */
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		char line[40];
		int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		int n;

		strcpy(sa.sun_path, sock_path);
		if (c < 0 || npeers >= MAX_PEERS ||
		    connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			if (c >= 0)
				close(c);
			break;
		}
		peers[npeers++] = c;
		n = (k & 0x80) ? snprintf(line, sizeof(line), "CONNEKT %u\n", k) :
			snprintf(line, sizeof(line), "CONNECT %u\n", 1000 + (k & 3));
		if (send(c, line, (size_t)n, MSG_NOSIGNAL) < 0) {
		}
		break;
	}
	}
	virtio_vsock_poll(vd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool inited;
	struct in in = { data, size };

	if (!inited) {
		init();
		inited = true;
	}
	trap_unless(virtio_vsock_new(CID, sock_path, fake_connect, NULL, NULL, &vd) == 0);
	pthread_mutex_init(&vd->lock, NULL);
	vd->tops = &tops;
	memset(gm.regions[0].hva, 0, 0x3000 * 4);
	trap_unless(fake_vq_start(vd, &gm, RING(0), RING(1), QSIZE, 1ULL << VIRTIO_F_VERSION_1) == 0);
	rx_avail = rx_used = tx_avail = 0;
	memset(tr, 0, sizeof(tr));
	npeers = 0;

	while (in.n) {
		unsigned op = take(&in, 1);

		switch (op % 8) {
		case 0:
		case 1:
		case 2:
			tx_packet(&in);
			break;
		case 3:
			rx_post(take(&in, 1) % 16 + 1, (op & 0x80) != 0);
			break;
		case 4:
		case 5:
		case 6:
			host_action(&in, (op >> 3) % 4);
			break;
		case 7:
			if (op & 0x80) {
				/* A device reset: connections dropped, queues anew. */
				vd->ops->reset(vd);
				trap_unless(fake_vq_start(vd, &gm, RING(0), RING(1), QSIZE,
							  1ULL << VIRTIO_F_VERSION_1) == 0);
				memset(gm.regions[0].hva, 0, 0x3000 * 4);
				rx_avail = rx_used = tx_avail = 0;
				memset(tr, 0, sizeof(tr));
			} else {
				virtio_vsock_poll(vd);
			}
			break;
		}
		drain_rx();
		/* A broken ring ends the input: the device waits for a reset. */
		if (vd->status & VIRTIO_CONFIG_S_NEEDS_RESET)
			break;
	}
	virtio_vsock_stop(vd);
	pthread_mutex_destroy(&vd->lock);
	virtio_vsock_free(vd);
	for (int i = 0; i < npeers; i++)
		close(peers[i]);
	return 0;
}
