/* The guest kernel command line, built from the config at boot. */
#ifndef VMM_CMDLINE_H
#define VMM_CMDLINE_H

struct vm_config;

/* The guest kernel command line: `boot.cmdline`, plus
 * " ip=GUEST::GATEWAY:MASK::ethN:off" for the first [[net]] entry with a
 * subnet (N = its index), unless cmdline already has an ip= parameter.
 * The loader has checked that it fits in VM_CMDLINE_MAX. Caller frees;
 * NULL on ENOMEM. */
char *config_kernel_cmdline(const struct vm_config *cfg);

#endif
