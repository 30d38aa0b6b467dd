/* passt (https://passt.top, Debian package passt) as the user-mode network
 * of a [[net]] entry with mode = "user": vmm starts it through the
 * sandbox's launcher, talks to it over a connected unix stream socket
 * (net_stream.h framing) and restarts it when it dies. passt gives the
 * guest DHCP, DNS and outbound TCP/UDP through the host's sockets, and
 * listens on the host ports of `forward`; no TAP, no root. */
#ifndef VMM_PASST_H
#define VMM_PASST_H

#include <sys/types.h>

#include "config.h"

/* Restarts allowed within PASST_RESTART_WINDOW_S seconds: a passt that
 * dies at start must not become a fork loop. */
#define PASST_MAX_RESTARTS	5
#define PASST_RESTART_WINDOW_S	60

struct passt;

/* Registers passt for `nc` with the sandbox's launcher (before
 * sandbox_init; `nc` must outlive it) and starts it: 0 with *p and the
 * connected socket in *fd, or -errno after logging why. */
int passt_new(const struct net_config *nc, const char *name, struct passt **p, int *fd);

/* The connection failed or passt closed it: reaps or stops the old passt,
 * logs how it ended, and starts a new one. 0 with the new socket in *fd, or
 * -errno (restarts exhausted or a failed start, logged). */
int passt_restart(struct passt *p, int *fd);

/* Stops passt (the caller closed the socket already: passt then exits by
 * itself) and frees p. */
void passt_free(struct passt *p);

#endif
