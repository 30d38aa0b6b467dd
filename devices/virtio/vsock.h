/* virtio-vsock (virtio 1.2, 5.10) with Firecracker's hybrid host side:
 * stream sockets between the guest and unix sockets on the host. A host
 * process connects to the device's listening socket and writes
 * "CONNECT <port>\n"; once the guest's listener on that port accepts, it
 * reads "OK <host_port>\n" and then has a byte stream. A guest connection
 * to CID 2 port P is connected to the unix listener at "<socket>_<P>"
 * (through `connect_port`, the launcher in vmm). Three queues (rx, tx,
 * event), credit-based flow control both ways; docs/virtio.md. */
#ifndef VMM_VIRTIO_VSOCK_H
#define VMM_VIRTIO_VSOCK_H

#include <stdint.h>

/* struct virtio_vsock_hdr, _config, _event, VIRTIO_VSOCK_OP_*, _TYPE_*,
 * _SHUTDOWN_*: the kernel's. */
#include <linux/virtio_vsock.h>

#include "virtio/virtio.h"

#define VSOCK_HOST_CID		2	/* VMADDR_CID_HOST */
#define VSOCK_CID_MIN		3
#define VSOCK_CID_MAX		0xfffffffeu	/* U32_MAX is VMADDR_CID_ANY */
/* "_4294967295": what "<socket>_<port>" adds to the socket's path. */
#define VSOCK_PORT_SUFFIX_MAX	11

/* Connects to the host listener for guest connections to port `port`:
 * 0 with a connected unix stream socket in *fd (the device's from then
 * on), or -errno (the guest gets RST). */
typedef int (*vsock_connect_fn)(void *ctx, uint32_t port, int *fd);

struct iothread;

/*
 * A new device for guest CID `cid` (VSOCK_CID_MIN..VSOCK_CID_MAX). With a
 * `socket` path, listens there for host connections (mode 0600; a stale
 * socket is removed, anything else there is an error). With `io`, the
 * device's sockets are watched by that I/O thread; without, the caller
 * runs virtio_vsock_poll. Returns 0 with *out set, or -errno after logging.
 */
int virtio_vsock_new(uint64_t cid, const char *socket, vsock_connect_fn connect_port,
		     void *connect_ctx, struct iothread *io, struct virtio_dev **out);

/* The VM stops (a vm cleanup, run before the transport goes): a
 * TRANSPORT_RESET event to the driver if it can take one, every host
 * connection closed, the listening socket removed. */
void virtio_vsock_stop(void *vd);
/* Frees the device (a vm cleanup). */
void virtio_vsock_free(void *vd);

/* Handles what is ready on the device's sockets now, without waiting:
 * what the I/O thread runs; for tests and the fuzzer without one. Takes
 * vd->lock. */
void virtio_vsock_poll(struct virtio_dev *vd);

struct virtio_vsock_stats {
	uint64_t rx_packets, tx_packets;	/* to / from the driver */
	uint64_t rx_bytes, tx_bytes;		/* payload */
	uint64_t bad_packets;			/* refused headers (answered with RST) */
	uint64_t rst_sent, conns_open, conns_refused;
};
void virtio_vsock_get_stats(struct virtio_dev *vd, struct virtio_vsock_stats *st);

#endif
