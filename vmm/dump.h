/* `vmm --dump-acpi DIR` (x86_64) and `vmm --dump-dtb FILE` (aarch64): the
 * firmware tables vmm would give the guest of a config, written to files
 * for acpidump-style tools (iasl -d) or dtc, without starting a VM. */
#ifndef VMM_DUMP_H
#define VMM_DUMP_H

#include <stddef.h>

struct vm_config;

/* The option this architecture's dump answers to ("dump-acpi", "dump-dtb"),
 * and what it takes ("DIR", "FILE"). */
extern const char *const arch_dump_option;
extern const char *const arch_dump_arg;

/* Builds the tables for `cfg` with the code a VM start uses and writes them
 * to `path` (a directory, made when missing, or a file), printing one line
 * per file written on stdout. Needs no /dev/kvm. Returns 0 or -errno after
 * logging why. */
int arch_dump_firmware(const struct vm_config *cfg, const char *path);

/* Writes `len` bytes to `path` (created or truncated, mode 0644; a symbolic
 * link at `path` is refused). Returns 0 or -errno after logging why. */
int dump_write(const char *path, const void *buf, size_t len);

#endif
