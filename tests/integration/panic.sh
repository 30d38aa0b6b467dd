#!/bin/bash
# panic: a guest kernel panic (sysrq c), reported through pvpanic, ends vmm with exit code 4.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_vmm panic
make_config panic 1 "vmmtest=panic" >"$WORKDIR/vm.toml"
rc=0
run_vmm "$WORKDIR/vm.toml" "$WORKDIR/console.log" || rc=$?
check_run panic "$rc" "$VMM_EXIT_PANIC" "$WORKDIR/console.log" VMMTEST-INIT VMMTEST-PANICKING
