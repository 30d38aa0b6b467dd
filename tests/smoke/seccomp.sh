#!/usr/bin/env bash
# Seccomp smoke tests with the tiny guest: every thread of a running VM has
# its filter (Seccomp: 2), and a thread that makes a forbidden syscall kills
# vmm with SIGSYS after a log line naming it (vmm-seccomp-test, built with
# the debug trigger, VMM_SECCOMP_TRIGGER=main|io|vcpu).
# Usage: seccomp.sh VMM VMM_SECCOMP_TEST SMOKE_GUEST_ELF
set -uo pipefail

VMM=$(realpath "$1")
VMM_TEST=$(realpath "$2")
GUEST=$(realpath "$3")
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

config() { # NAME CMDLINE [EXTRA [vm] LINES]
	smoke_config "$1" "$2" 2 5 "${3:-}"
}

# --- every thread of a running VM is filtered --------------------------------
config filtered l
"$VMM" --config "$WORK/filtered.toml" 2> "$WORK/filtered.err" &
pid=$!
pids+=("$pid")
wait_for "$WORK/filtered.out" SMOKE-TICKING || bad "VM starts" "$(cat "$WORK/filtered.err")"
sleep 0.2
all=true
n=0
for t in /proc/"$pid"/task/*; do
	n=$((n + 1))
	v=$(awk '$1 == "Seccomp:" { print $2 }' "$t/status")
	[ "$v" = 2 ] || { all=false; echo "  $t ($(cat "$t/comm")): Seccomp: $v"; }
done
# main, the I/O thread and two vCPUs at least
[ "$n" -ge 4 ] && $all && ok "Seccomp: 2 in every thread ($n threads)" ||
	bad "Seccomp: 2 in every thread" "$n threads; see above"
"$VMM" ctl filtered status > /dev/null && ok "control socket works under the filter" ||
	bad "control socket under the filter" "$(tail -n 3 "$WORK/filtered.err")"
kill -TERM "$pid"
wait "$pid"
rc=$?
# The tiny guest has no keyboard: shutdown_timeout stops it (5, forced).
if [ "$rc" -eq 0 ] || [ "$rc" -eq 5 ]; then
	ok "SIGTERM and teardown under the filter (exit $rc)"
else
	bad "teardown under the filter" "exit $rc: $(tail -n 3 "$WORK/filtered.err")"
fi
grep -q "seccomp:" "$WORK/filtered.err" &&
	bad "no forbidden syscall" "$(grep seccomp: "$WORK/filtered.err")"

# --- [vm] seccomp = false: no filter, and a warning ---------------------------
config off l "seccomp = false"
"$VMM" --config "$WORK/off.toml" 2> "$WORK/off.err" &
pid=$!
pids+=("$pid")
wait_for "$WORK/off.out" SMOKE-TICKING
v=$(awk '$1 == "Seccomp:" { print $2 }' "/proc/$pid/status")
[ "$v" = 0 ] && grep -q "seccomp is off" "$WORK/off.err" &&
	ok "[vm] seccomp = false: no filter, a warning" || bad "seccomp = false" "Seccomp: $v"
kill -KILL "$pid"
wait "$pid" 2>/dev/null

# --- a forbidden syscall kills vmm with SIGSYS and a named log line ----------
"$VMM" --print-seccomp | grep -q '^\[vcpu thread\]' && ok "vmm --print-seccomp" ||
	bad "--print-seccomp" "no [vcpu thread] table"
for kind in main io vcpu; do
	config "trigger-$kind" l
	# perl (perl-base, always there) tells a death by signal from an exit status.
	sig=$(VMM_SECCOMP_TRIGGER=$kind timeout 20 perl -e 'system @ARGV; print $? & 127' \
		"$VMM_TEST" --config "$WORK/trigger-$kind.toml" 2> "$WORK/trigger-$kind.err")
	# SIGSYS is 31 on x86_64 and arm64; the line comes once, from the first thread.
	if [ "$sig" = 31 ] &&
	   [ "$(grep -c "^vmm: seccomp: thread $kind called forbidden syscall getppid (nr [0-9]*)$" \
		"$WORK/trigger-$kind.err")" = 1 ]; then
		ok "forbidden syscall in the $kind thread: SIGSYS and a named log line"
	else
		bad "forbidden syscall in the $kind thread" \
			"signal '$sig': $(tail -n 3 "$WORK/trigger-$kind.err" | tr '\n' ' ')"
	fi
done
# The release vmm ignores the variable.
config release-ignores l
VMM_SECCOMP_TRIGGER=vcpu "$VMM" --config "$WORK/release-ignores.toml" 2> "$WORK/ri.err" &
pid=$!
pids+=("$pid")
wait_for "$WORK/release-ignores.out" SMOKE-TICKING && sleep 0.3 && kill -0 "$pid" 2>/dev/null &&
	ok "the release vmm has no trigger" || bad "release vmm trigger" "$(tail -n 3 "$WORK/ri.err")"
kill -KILL "$pid"
wait "$pid" 2>/dev/null

echo "seccomp: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
