#!/bin/bash
# boot_1cpu: a 1-vCPU guest boots to /init, sees one processor and powers off; its
# init's write to the boot timer shows in vmm's log (docs/lifecycle.md).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_vmm boot_1cpu
make_config boot_1cpu 1 "vmmtest=cpus" >"$WORKDIR/vm.toml"
rc=0
run_vmm "$WORKDIR/vm.toml" "$WORKDIR/console.log" || rc=$?
check_run boot_1cpu "$rc" "$VMM_EXIT_POWEROFF" "$WORKDIR/console.log" VMMTEST-INIT VMMTEST-CPUS=1 \
	"boot: guest userspace ready at"
