/* The guest kernel command line, built from the config at boot. */
#ifndef VMM_CMDLINE_H
#define VMM_CMDLINE_H

#include <stdbool.h>

struct vm_config;

/* [vm] ready = "guest": systemd (PID 1, 254 and later) reads the credential
 * vmm.notify_socket from this kernel parameter and sends its sd_notify
 * messages to that address: a vsock stream to the host (CID 2) on ready_port,
 * which the vsock device hands to vmm's listener (vmm/ready_guest.c). */
#define READY_CREDENTIAL_FMT "systemd.set_credential=vmm.notify_socket:vsock-stream:2:%u"

/* The guest kernel command line: `boot.cmdline`, plus
 * " ip=GUEST::GATEWAY:MASK::ethN:off" for the first [[net]] entry with a
 * subnet (N = its index), unless cmdline already has an ip= parameter, plus
 * READY_CREDENTIAL_FMT with [vm] ready = "guest"; both before a "--".
 * The loader has checked that it fits in VM_CMDLINE_MAX. Caller frees;
 * NULL on ENOMEM. */
char *config_kernel_cmdline(const struct vm_config *cfg);

/* Whether `cmdline` sets the vmm.notify_socket credential itself. */
bool config_cmdline_sets_notify_socket(const char *cmdline);

#endif
