/* Private to virtio-vsock's files: vsock.c (the device: the connection
 * table, rx, the ops), vsock_tx.c (packets from the driver, their checks)
 * and vsock_host.c (the unix sockets: the listener, the CONNECT line, data
 * to and from the host). Everything runs with vd->lock held. */
#ifndef VMM_VIRTIO_VSOCK_INTERNAL_H
#define VMM_VIRTIO_VSOCK_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "virtio/vsock.h"

#define VSOCK_RXQ		0
#define VSOCK_TXQ		1
#define VSOCK_EVQ		2
#define VSOCK_QUEUE_SIZE	256
#define VSOCK_HDR_LEN		44
_Static_assert(sizeof(struct virtio_vsock_hdr) == VSOCK_HDR_LEN, "virtio-vsock header");

/* Connections at once, host- and guest-initiated, those still reading
 * their CONNECT line included; past it a new one is refused (RST). */
#define VSOCK_CONN_MAX		1024
/* Guest-to-host bytes one connection may hold while its host socket is
 * full: our buf_alloc, advertised as is. Allocated when first needed. */
#define VSOCK_BUF_SIZE		(256 * 1024)
/* Payload of one packet, either way (Linux's VIRTIO_VSOCK_MAX_PKT_BUF_SIZE). */
#define VSOCK_PKT_MAX		(64 * 1024)
/* RSTs for packets that match no connection, waiting for an rx buffer:
 * the tx queue is not read while this is full. */
#define VSOCK_RST_MAX		64
/* Ports vmm gives host-initiated connections (the "OK <port>" line). */
#define VSOCK_LOCAL_PORT_FIRST	(1u << 30)
/* "CONNECT 4294967295\n" is 19 bytes. */
#define VSOCK_LINE_MAX		32
/* A host client's CONNECT line, the guest's answer to our REQUEST, the
 * guest's RST after our full SHUTDOWN: each within this. */
#define VSOCK_TIMEOUT_MS	5000

enum vsock_state {
	VS_FREE,
	VS_LINE,	/* host client accepted, reading its CONNECT line */
	VS_CONNECTING,	/* REQUEST (to be) sent to the guest, no answer yet */
	VS_OPEN,
	VS_CLOSING,	/* full SHUTDOWN sent: waiting for the guest's RST */
	VS_DEAD,	/* host side closed; an RST still to send, then free */
};

/* Control packets a connection owes the guest (bits of `pend`). */
enum { P_REQUEST = 1, P_RESPONSE = 2, P_CREDIT = 4, P_SHUTDOWN = 8, P_RST = 16 };

struct vsock_conn {
	enum vsock_state state;
	int fd;				/* the host's unix socket; -1 when gone */
	uint32_t local_port, peer_port;	/* ours (host side), the guest's */

	/* Host to guest: the guest's credit as it last told us. */
	uint32_t peer_buf_alloc, peer_fwd_cnt, tx_cnt;
	/* Guest to host: bytes received, written to the host socket
	 * (fwd_cnt), and the fwd_cnt the guest last heard of. */
	uint32_t rx_cnt, fwd_cnt, fwd_sent;
	uint8_t *buf;			/* VSOCK_BUF_SIZE ring (mmap), or NULL */
	uint32_t buf_off, buf_len;

	uint8_t pend;			/* P_* */
	uint8_t shut_flags;		/* for P_SHUTDOWN: VIRTIO_VSOCK_SHUTDOWN_* */
	uint8_t guest_shut;		/* what the guest shut down */
	bool host_eof;			/* the host socket read EOF */
	bool host_hup;			/* ...and the host closed it both ways */
	bool readable, writable;	/* edge-triggered state of fd */
	bool wr_shut;			/* shutdown(SHUT_WR) done */
	bool in_ctl;			/* on the control list */
	int ctl_next;
	uint64_t deadline_ms;		/* 0: none */
	char line[VSOCK_LINE_MAX];
	unsigned line_len;
};

struct vsock {
	struct virtio_dev vd;
	char name[32];
	struct virtio_vsock_config config;	/* guest_cid, little-endian */
	uint64_t cid;

	struct iothread *io;
	int ep;				/* epoll: listener, timer, connections */
	int lfd;			/* listening socket, -1 without */
	int tfd;			/* timerfd for deadlines */
	bool timer_on;
	char *path;
	dev_t dev;
	ino_t ino;
	vsock_connect_fn connect_port;
	void *connect_ctx;

	struct vsock_conn conn[VSOCK_CONN_MAX];
	unsigned nconn, hiwater;	/* in use; highest index used + 1 */
	uint32_t next_port;
	int ctl_head, ctl_tail;		/* connections owing control packets */
	struct { uint32_t src, dst; } rst[VSOCK_RST_MAX];
	unsigned rst_first, nrst;
	bool tx_stalled;		/* tx left unread: nrst was full */

	struct virtq_chain rxc, txc;
	bool rx_held;			/* rxc popped and not yet used */
	bool warned;
	struct virtio_vsock_stats st;
};

/* A packet header in host byte order. */
struct vsock_hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
};

/* ---- vsock.c ---- */
/* A driver mistake (h may be NULL): counted, logged within the rate limit. */
void vsock_guest_error(struct vsock *v, const struct vsock_hdr *h, const char *why);
/* The connection with these ports (host-side `local`, guest-side `peer`),
 * past its CONNECT line; NULL when none. */
struct vsock_conn *vsock_conn_find(struct vsock *v, uint32_t local, uint32_t peer);
/* Closes the host socket and frees the slot, with no packet to the guest. */
void vsock_conn_free(struct vsock *v, struct vsock_conn *c);
uint64_t vsock_now_ms(void);
/* A free slot, set up for `fd` (state VS_FREE still), or NULL when full. */
struct vsock_conn *vsock_conn_alloc(struct vsock *v, int fd);
/* Owes the guest `p` (P_*): queued on the control list. */
void vsock_conn_pend(struct vsock *v, struct vsock_conn *c, uint8_t p);
/* Ends a connection: host socket closed; with `rst`, an RST to the guest
 * first (state VS_DEAD until it is sent), else freed now. */
void vsock_conn_end(struct vsock *v, struct vsock_conn *c, bool rst);
/* Sends what is owed and what the host sockets have, as far as rx buffers
 * and credit go; reads the tx queue again if it was stalled. */
void vsock_pump(struct vsock *v);
/* The host closed its socket both ways: a full SHUTDOWN to the guest,
 * whose RST is awaited (VS_CLOSING). */
void vsock_conn_host_gone(struct vsock *v, struct vsock_conn *c);

/* ---- vsock_tx.c ---- */
/* Reads the tx queue while RSTs can be queued (else sets tx_stalled).
 * 0, or -EIO for a broken ring. */
int vsock_tx_all(struct vsock *v);

/* ---- vsock_host.c ---- */
int vsock_host_listen(struct vsock *v, const char *path);
void vsock_host_unlisten(struct vsock *v);
/* Watches a connection's socket (edge-triggered). 0 or -errno. */
int vsock_host_watch(struct vsock *v, struct vsock_conn *c);
void vsock_host_close(struct vsock *v, struct vsock_conn *c);
/* Unmaps c->buf, dropping what it holds. */
void vsock_host_buf_drop(struct vsock_conn *c);
/* Guest-to-host payload: the chain's readable bytes [off, off + len),
 * written to the host socket or kept in c->buf. Returns 0, or -EPIPE when
 * the host side is gone. */
int vsock_host_write(struct vsock *v, struct vsock_conn *c, const struct virtq_chain *ch,
		     uint32_t off, uint32_t len);
/* Writes what c->buf holds; the shutdown the guest asked for once empty.
 * 0 or -EPIPE. */
int vsock_host_flush(struct vsock *v, struct vsock_conn *c);
/* The guest accepted a host-initiated connection: "OK <port>\n". */
void vsock_host_ok(struct vsock *v, struct vsock_conn *c);
/* Arms the deadline timer when a connection has a deadline. */
void vsock_host_timer(struct vsock *v);
/* The ready events of the device's epoll. */
void vsock_host_events(struct vsock *v);

#endif
