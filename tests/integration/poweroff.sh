#!/bin/bash
# poweroff: the guest's poweroff -f ends vmm with exit code 0.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_vmm poweroff
make_config poweroff 1 "vmmtest=poweroff" >"$WORKDIR/vm.toml"
rc=0
run_vmm "$WORKDIR/vm.toml" "$WORKDIR/console.log" || rc=$?
check_run poweroff "$rc" "$VMM_EXIT_POWEROFF" "$WORKDIR/console.log" VMMTEST-INIT VMMTEST-READY
