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

enum virtiofsd_kind {
	VIRTIOFSD_UNKNOWN,
	VIRTIOFSD_C,		/* QEMU's C virtiofsd (Debian 12's qemu-system-common):
				 * -o source=DIR -o cache=... -o sandbox=... */
	VIRTIOFSD_RUST,		/* the Rust virtiofsd (gitlab virtio-fs/virtiofsd; NixOS,
				 * Debian 13): --shared-dir=DIR --cache=... --sandbox=... */
};

/* Which virtiofsd `path` is, from its --help: the Rust one documents
 * --shared-dir, the C one -o source=. Runs it (at most 5 seconds); a
 * result is remembered per path. VIRTIOFSD_UNKNOWN with `why` filled in
 * when it cannot tell. */
enum virtiofsd_kind host_virtiofsd_kind(const char *path, char *why, size_t why_len);

/* Each kind in words, for --check and the log: "the Rust virtiofsd (...)". */
const char *host_virtiofsd_kind_name(enum virtiofsd_kind kind);

/* Runs argv[0] (an absolute path) with argv, stdin and stdout on /dev/null,
 * stderr shared with vmm, and waits for it. Returns its exit status (0..255),
 * 128 + signal when a signal ended it, or -errno when it could not start. */
int host_run(char *const argv[]);

#endif
