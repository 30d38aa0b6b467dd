#!/bin/bash
# console_attach: `vmm ctl NAME console` on a running VM whose vmm has stdin on /dev/null
# (as under systemd), driven through a pseudo-terminal (tests/tools/ptyrun) as a person
# would type:
#   console_attach          the replay holds the marker the guest printed before the
#                           attach; `echo $((6*7))XYZ` typed into the guest's shell shows
#                           42XYZ there and on vmm's stdout too; Ctrl-] detaches with exit
#                           0 and the terminal back in canonical mode with echo; the VM is
#                           still running (`vmm ctl NAME status`).
#   console_attach_second   a second `console` while one is attached exits 1 with the
#                           documented refusal; the first keeps working.
#   console_attach_poweroff attaching again replays the first session's output; `exit`
#                           typed into the shell powers the guest off: vmm exits 0, the
#                           client exits 0 saying that the VM closed the console.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

tests=(console_attach console_attach_second console_attach_poweroff)
require_vmm "${tests[@]}"
if [ -z "$PTYRUN" ] || [ ! -x "$PTYRUN" ]; then
	for t in "${tests[@]}"; do
		fail "$t" "no pty driver (PTYRUN; tests/testhost/run builds tests/tools/ptyrun.c)"
	done
	exit 0
fi

w=$WORKDIR
name=console
export VMM_RUNTIME_DIR=$w/run
mkdir -p "$VMM_RUNTIME_DIR"
make_config "$name" 1 "vmmtest=shell" >"$w/vm.toml"
log=$w/console.log
start_vmm "$w/vm.toml" "$log"

# stop_all REASON: fails every test not yet judged and ends the script.
judged=()
stop_all() {
	local t j seen
	for t in "${tests[@]}"; do
		seen=0
		for j in "${judged[@]}"; do [ "$j" != "$t" ] || seen=1; done
		[ "$seen" = 1 ] || fail "$t" "$1"
	done
	[ -z "${PTY_PID:-}" ] || kill -KILL "$PTY_PID" 2>/dev/null || true
	kill -KILL "$VMM_PID" 2>/dev/null || true
	wait 2>/dev/null || true
	exit 0
}
verdict() {
	judged+=("$1")
	if [ -z "$2" ]; then pass "$1"; else fail "$1" "$2"; fi
}

if ! wait_for_log "$log" VMMTEST-SHELL "$BOOT_TIMEOUT" "$VMM_PID"; then
	stop_all "the guest's shell never started (no VMMTEST-SHELL on the console)"
fi

# attach N: `vmm ctl NAME console` on a pseudo-terminal, typed into through fd 7 (a
# fifo); its screen in $w/attachN.log, ptyrun's report in $w/attachN.err.
attach() {
	local fifo=$w/in$1
	mkfifo "$fifo"
	"$PTYRUN" "$VMM" ctl "$name" console <"$fifo" >"$w/attach$1.log" 2>"$w/attach$1.err" &
	PTY_PID=$!
	exec 7>"$fifo"
	wait_for_log "$w/attach$1.log" "attached to $name; Ctrl-] detaches" 30 "$PTY_PID"
}

# --- first attach ---
attach 1 || stop_all "no 'attached to $name; Ctrl-] detaches' line: $(head -c 300 "$w/attach1.log" "$w/attach1.err" | tr -d '\r')"
problem=""
wait_for_log "$w/attach1.log" VMMTEST-SHELL 30 "$PTY_PID" ||
	problem="the replay lacks VMMTEST-SHELL, printed before the attach"

# A second client meanwhile: refused, and the first one untouched.
rc=0
out=$(timeout 30 "$VMM" ctl "$name" console </dev/null 2>&1) || rc=$?
second=""
[ "$rc" = 1 ] || second="a second client exited $rc, expected 1"
[[ $out == *"the console is attached to another client"* ]] ||
	second="${second:+$second; }its message was '$out', not the refusal"

# shellcheck disable=SC2016 # typed into the guest's shell
printf 'echo $((6*7))XYZ\r' >&7
if ! wait_for_log "$w/attach1.log" 42XYZ 60 "$PTY_PID"; then
	problem="${problem:+$problem; }typed 'echo \$((6*7))XYZ', no 42XYZ came back"
	second="${second:+$second; }the first client did not work on"
fi
verdict console_attach_second "$second"
expect_in_log "$log" 42XYZ || problem="${problem:+$problem; }42XYZ not on vmm's stdout"

printf '\035' >&7	# Ctrl-]
rc=0
wait_pid "$PTY_PID" 30 || rc=$?
exec 7>&-
PTY_PID=""
[ "$rc" = 0 ] || problem="${problem:+$problem; }Ctrl-]: the client exited $(describe_exit "$rc"), expected 0"
expect_in_log "$w/attach1.err" "icanon=1 echo=1" ||
	problem="${problem:+$problem; }terminal not restored: $(cat "$w/attach1.err")"
rc=0
out=$(timeout 30 "$VMM" ctl "$name" status 2>&1) || rc=$?
[[ $rc == 0 && $out == *"state=running"* ]] ||
	problem="${problem:+$problem; }after detaching, status answered '$out' (exit $rc)"
kill -0 "$VMM_PID" 2>/dev/null || problem="${problem:+$problem; }vmm is gone after the detach"
verdict console_attach "$problem"

# --- second attach: the replay, then power off from the shell ---
attach 2 || stop_all "the second attach printed no 'attached' line: $(head -c 300 "$w/attach2.log" | tr -d '\r')"
problem=""
wait_for_log "$w/attach2.log" 42XYZ 30 "$PTY_PID" ||
	problem="the replay lacks 42XYZ from the first session"
printf 'exit\r' >&7
rc=0
wait_pid "$VMM_PID" 120 || rc=$?
[ "$rc" = "$VMM_EXIT_POWEROFF" ] ||
	problem="${problem:+$problem; }vmm exited $(describe_exit "$rc"), expected 0 (the guest powered off)"
rc=0
wait_pid "$PTY_PID" 30 || rc=$?
exec 7>&-
PTY_PID=""
[ "$rc" = 0 ] || problem="${problem:+$problem; }the client exited $(describe_exit "$rc") when the VM stopped, expected 0"
expect_in_log "$w/attach2.log" "closed the console (the VM stopped)" ||
	problem="${problem:+$problem; }the client did not say the VM closed the console"
verdict console_attach_poweroff "$problem"
