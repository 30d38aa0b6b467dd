#!/bin/bash
# reboot: the guest's reboot -f (reboot=k: i8042 reset) ends vmm with exit code 3.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_vmm reboot
make_config reboot 1 "vmmtest=reboot" >"$WORKDIR/vm.toml"
rc=0
run_vmm "$WORKDIR/vm.toml" "$WORKDIR/console.log" || rc=$?
check_run reboot "$rc" "$VMM_EXIT_REBOOT" "$WORKDIR/console.log" VMMTEST-INIT VMMTEST-REBOOTING
