/* Giving up privileges once the VM is built: every capability (effective,
 * permitted, inheritable, ambient and, where allowed, the bounding set),
 * optionally the root user for [vm] user/group, and new privileges through
 * execve (PR_SET_NO_NEW_PRIVS). */
#ifndef VMM_PRIVILEGES_H
#define VMM_PRIVILEGES_H

#include <stdbool.h>
#include <sys/types.h>

#include "config.h"

struct privileges {
	bool switch_uid, switch_gid;
	uid_t uid;
	gid_t gid;
};

/* Resolves [vm] user and group (names or numeric ids) into `p`. A user
 * without a group takes the user's primary group. Logs and returns -errno
 * when one is unknown. Call early, before building the VM. */
int privileges_resolve(const struct vm_config *cfg, struct privileges *p);

/* Drops privileges as `p` says. Must run while the process has one thread:
 * capabilities are per thread, and threads started later inherit the empty
 * sets. Returns 0 once no capability is left, else -errno (logged). */
int privileges_drop(const struct privileges *p);

#endif
