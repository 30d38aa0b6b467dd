#!/bin/bash
# fs_kill: the virtiofsd that vmm supervises is killed (SIGKILL) while the guest has the
# share mounted. vmm must keep running, log it, set the device's NEEDS_RESET (the guest
# reads status bit 0x40 in sysfs), restart virtiofsd, and the guest must still power off
# (exit 0).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_vmm fs_backend_killed

w=$WORKDIR
VIRTIOFSD=${VIRTIOFSD:-/usr/lib/qemu/virtiofsd}
n=fs_backend_killed
if [ ! -x "$VIRTIOFSD" ]; then
	skip "$n" "no $VIRTIOFSD"
	exit 0
fi
mkdir -p "$w/data"
echo "before the kill" >"$w/data/host.txt"
make_config fskill 1 "vmmtest=fskill" >"$w/vm.toml"
cat >>"$w/vm.toml" <<EOT

[[fs]]
tag = "data"
source = "data"
sandbox = "chroot"
virtiofsd = $(toml_string "$VIRTIOFSD")
EOT

start_vmm "$w/vm.toml" "$w/console.log"
show_log() { tr -d '\r' <"$w/console.log" | grep -a -E 'VMMTEST|vmm:|virtio' | sed 's/^/| /' | tail -n 30; }
if ! wait_for_log "$w/console.log" "VMMTEST-FS-KILL-READY before the kill" "$BOOT_TIMEOUT" "$VMM_PID"; then
	kill -KILL "$VMM_PID" 2>/dev/null || true
	wait "$VMM_PID" 2>/dev/null || true
	fail "$n" "the guest never read the share"
	show_log
	exit 0
fi
pid=$(tr -d '\r' <"$w/console.log" | sed -n 's/.*started .* (pid \([0-9][0-9]*\)).*/\1/p' | head -n 1)
if [ -z "$pid" ] || ! kill -KILL "$pid" 2>/dev/null; then
	kill -KILL "$VMM_PID" 2>/dev/null || true
	wait "$VMM_PID" 2>/dev/null || true
	fail "$n" "no virtiofsd pid in vmm's log (or it is gone already): '$pid'"
	show_log
	exit 0
fi
alive=0
wait_for_log "$w/console.log" "VMMTEST-FS-NEEDS-RESET" 60 "$VMM_PID" && kill -0 "$VMM_PID" 2>/dev/null && alive=1
rc=0
wait_pid "$VMM_PID" "$BOOT_TIMEOUT" || rc=$?
log=$(tr -d '\r' <"$w/console.log")
if [ "$alive" != 1 ]; then
	fail "$n" "no NEEDS_RESET seen by the guest while vmm ran (exit $(describe_exit "$rc"))"
	show_log
elif [ "$rc" != 0 ] || ! grep -q VMMTEST-FS-POWEROFF <<<"$log"; then
	fail "$n" "exit $(describe_exit "$rc") after the kill, expected a guest power-off"
	show_log
elif ! grep -q "vhost-user backend closed the connection" <<<"$log" ||
	[ "$(grep -c 'started .*virtiofsd.* (pid' <<<"$log")" -lt 2 ]; then
	fail "$n" "vmm did not log the loss and the restart"
	show_log
else
	pass "$n"
fi
