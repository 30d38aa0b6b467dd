#!/bin/bash
# boot_2cpu: a 2-vCPU guest boots to /init, sees two processors and powers off. (The cloud
# kernel has CONFIG_X86_MPPARSE off: the second CPU is found through the ACPI MADT only.)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_vmm boot_2cpu
make_config boot_2cpu 2 "vmmtest=cpus" >"$WORKDIR/vm.toml"
rc=0
run_vmm "$WORKDIR/vm.toml" "$WORKDIR/console.log" || rc=$?
check_run boot_2cpu "$rc" "$VMM_EXIT_POWEROFF" "$WORKDIR/console.log" VMMTEST-INIT VMMTEST-CPUS=2
