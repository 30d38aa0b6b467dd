#!/bin/bash
# boot_vmlinux: the same stock kernel, as an uncompressed vmlinux ELF (extracted from the
# bzImage by tests/testhost/extract-vmlinux), boots through vmm's ELF loader to /init.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_vmm boot_vmlinux
if [ -z "${GUEST_VMLINUX:-}" ] || [ ! -r "$GUEST_VMLINUX" ]; then
	skip boot_vmlinux "no vmlinux (the harness extracts one when lz4 is installed)"
	exit 0
fi
make_config boot_vmlinux 2 "vmmtest=cpus" |
	sed "s|^kernel = .*|kernel = $(toml_string "$GUEST_VMLINUX")|" >"$WORKDIR/vm.toml"
rc=0
run_vmm "$WORKDIR/vm.toml" "$WORKDIR/console.log" || rc=$?
check_run boot_vmlinux "$rc" "$VMM_EXIT_POWEROFF" "$WORKDIR/console.log" VMMTEST-INIT VMMTEST-CPUS=2
