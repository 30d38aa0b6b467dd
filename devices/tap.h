/* Host TAP devices for virtio-net: attaching by name or checking an
 * inherited descriptor, the virtio-net header size, offloads and the MTU.
 * Only the TUN ioctls live here (Solo5's tap_attach.c, Firecracker's
 * net/tap.rs); the frames themselves are read and written by the device,
 * which also runs on a plain packet socket in tests. */
#ifndef VMM_TAP_H
#define VMM_TAP_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * Attaches queue `queue` of `nqueues` to the existing TAP `name` with
 * IFF_TAP | IFF_NO_PI | IFF_VNET_HDR (and IFF_MULTI_QUEUE where the TAP
 * was made with it: more than one queue needs that), non-blocking and
 * close-on-exec. A single-queue TAP asked for more queues is an error,
 * or with `single` (queue 0 only) its one queue attached and *single set.
 * Never creates one:
 * TUNSETIFF would make a fresh, unconnected TAP for a privileged caller,
 * which is never what the config meant. Returns the fd, or -errno after
 * logging why (EBUSY, EPERM, EINVAL and a TAP without multi_queue get their
 * own hints), prefixed with `who` (the config table, "net[0]").
 */
int tap_open(const char *who, const char *name, unsigned queue, unsigned nqueues,
	     bool *single);

/* TUNSETQUEUE: a multi-queue TAP's queue `fd` attached (on) or detached,
 * so that the TAP steers no flow to a queue nobody reads. 0 or -errno
 * (EINVAL: already so). */
int tap_set_queue(int fd, bool on);

/*
 * Checks an inherited descriptor: open, an attached TAP (TUNGETIFF) with
 * IFF_TAP | IFF_NO_PI | IFF_VNET_HDR; then makes it non-blocking and
 * close-on-exec and copies the interface name to `ifname` (IFNAMSIZ
 * bytes). Returns 0, or -errno after logging why.
 */
int tap_check_fd(const char *who, int fd, char *ifname);

/* Sets the virtio-net header both ways to `hdr_len` bytes
 * (TUNSETVNETHDRSZ) and clears every offload, the state before a driver
 * negotiates any. Returns 0 or -errno; the caller logs. */
int tap_set_vnet_hdr(int fd, int hdr_len);

/* TUNSETOFFLOAD: what the TAP may hand us (TUN_F_* flags). 0 or -errno. */
int tap_set_offload(int fd, unsigned offloads);

/* The interface's MTU, for the guest's config space; 1500 when unknown.
 * Warns when the interface is down. */
uint16_t tap_mtu(const char *ifname);

/* True for the errors of a read or write that mean the TAP is gone
 * (deleted, or the descriptor detached), not a frame refused. */
bool tap_gone(int err);

#endif
