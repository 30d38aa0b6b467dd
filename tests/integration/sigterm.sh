#!/bin/bash
# sigterm: SIGTERM to vmm asks the guest to stop: Ctrl-Alt-Del through the i8042 on
# x86_64, the power button (PL061 + gpio-keys KEY_POWER, which the guest's acpid turns
# into VMMTEST-POWERBUTTON and a SIGINT to init) on aarch64. The guest's /init traps the
# SIGINT, prints VMMTEST-CTRLALTDEL and powers off, and vmm exits 0.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_vmm sigterm
make_config sigterm 1 "vmmtest=wait" >"$WORKDIR/vm.toml"
log=$WORKDIR/console.log
start_vmm "$WORKDIR/vm.toml" "$log"
if ! wait_for_log "$log" VMMTEST-WAITING "$BOOT_TIMEOUT" "$VMM_PID"; then
	rc=0
	kill -0 "$VMM_PID" 2>/dev/null && kill -KILL "$VMM_PID"
	wait "$VMM_PID" || rc=$?
	fail sigterm "guest never printed VMMTEST-WAITING (vmm exit $(describe_exit "$rc"))"
	exit 0
fi
kill -TERM "$VMM_PID"
# shutdown_timeout is 20 s in the config; vmm must be done well within this.
rc=0
wait_pid "$VMM_PID" 120 || rc=$?
case $(uname -m) in
aarch64) markers=(VMMTEST-POWERBUTTON VMMTEST-CTRLALTDEL) ;;
*) markers=(VMMTEST-CTRLALTDEL) ;;
esac
check_run sigterm "$rc" "$VMM_EXIT_POWEROFF" "$log" "${markers[@]}"
