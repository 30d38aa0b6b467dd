/* The host programs vmm runs besides the guest: mkfs.* for a [[disk]] image
 * it creates, and virtiofsd for an [[fs]] share. Found and identified when
 * the config loads (so `vmm --check` tells), run when the VM is built. */
#ifndef VMM_HOST_TOOLS_H
#define VMM_HOST_TOOLS_H

#include <stddef.h>

/* The executable `name` (no slash) in $PATH, then in /usr/sbin and /sbin,
 * which a non-root user's PATH on Debian lacks although mkfs.* live there.
 * Returns a malloc'd absolute path, or NULL (errno ENOENT, or ENOMEM). */
char *host_find_program(const char *name);

/* Runs argv[0] (an absolute path) with argv, stdin and stdout on /dev/null,
 * stderr shared with vmm, and waits for it. Returns its exit status (0..255),
 * 128 + signal when a signal ended it, or -errno when it could not start. */
int host_run(char *const argv[]);

#endif
