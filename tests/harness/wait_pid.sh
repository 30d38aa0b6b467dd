#!/bin/bash
# wait_pid of tests/integration/lib.sh, without a VM: exit statuses, the timeout, and
# that the caller's EXIT trap never runs anywhere but in the caller. The watchdog it had
# before ran it in a subshell now and then (a stop signal right after the fork): the
# test's cleanup in the middle of the test (docs/testing.md, fault_disk_full).
set -euo pipefail
lib=$(cd "$(dirname "$0")/../integration" && pwd)/lib.sh
work=$(mktemp -d)
export WORKDIR=$work GUEST_KERNEL=/dev/null GUEST_INITRD=/dev/null
# shellcheck source-path=SCRIPTDIR source=../integration/lib.sh
. "$lib"
# The trap only notes that it ran: the main shell drops it before its own end. (In the
# subshell, bash misread even a test on $BASHPID there, so it must do nothing harmful.)
trap 'echo "$BASHPID" >>"$work/trap-ran"' EXIT
bad=0
no() { echo "FAIL: $*"; bad=1; }

# Children that ended before wait_pid: the case that ran the trap in the watchdog.
for i in $(seq 1 100); do
	true &
	p=$!
	sleep 0.01
	rc=0
	wait_pid "$p" 30 || rc=$?
	[ "$rc" = 0 ] || no "run $i: a child that exited 0: wait_pid returned $rc"
done
(exit 7) &
rc=0
wait_pid $! 30 || rc=$?
[ "$rc" = 7 ] || no "a child that exited 7: wait_pid returned $rc"
sleep 0.5 &
rc=0
wait_pid $! 30 || rc=$?
[ "$rc" = 0 ] || no "a child that ran 0.5 s: wait_pid returned $rc"
sleep 60 &
p=$!
t0=$SECONDS
rc=0
wait_pid "$p" 1 || rc=$?
[ "$rc" = 124 ] || no "a child running past the timeout: wait_pid returned $rc, expected 124"
[ $((SECONDS - t0)) -le 10 ] || no "a 1 s timeout took $((SECONDS - t0)) s"
! kill -0 "$p" 2>/dev/null || no "the child is still running after the timeout"
trap - EXIT
if [ -e "$work/trap-ran" ]; then
	no "the EXIT trap ran $(wc -l <"$work/trap-ran") times before the end (pids $(tr '\n' ' ' <"$work/trap-ran"))"
fi
rm -rf "$work"
[ "$bad" = 0 ] && echo "wait_pid: ok"
