/* Between vmm/sandbox.c (the seccomp filters) and vmm/launcher.c (the
 * process launcher): sandbox_init starts the launcher, and the table of
 * fds the filters name is fixed once it has forked. */
#ifndef VMM_SANDBOX_INTERNAL_H
#define VMM_SANDBOX_INTERNAL_H

#include <stdbool.h>

/* Forks the launcher (once, from sandbox_init); 0 or -errno, logged. */
int launcher_start(void);
/* Whether it has forked: the launcher's table is fixed from then on. */
bool launcher_started(void);
/* Entries registered (sandbox_register, sandbox_register_socket). */
unsigned launcher_nentries(void);

#endif
