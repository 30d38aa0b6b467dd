#!/bin/bash
# ksm: [vm] merge_pages = true offers guest RAM to the host's same-page merging (KSM).
# Turns KSM on in the test host (restoring its settings at the end), boots two guests
# with merge_pages = true and one without (huge pages off, as in every test: lib.sh),
# and reads /proc/PID/ksm_merging_pages of each vmm. Once booted and scanned, each
# guest is told (a line on its console) to write 64 MiB to /tmp whose 4 KiB pages
# differ from one another but are the same in both guests (guest/init, action ksm):
# only pages of the two guests can merge. Passes when KSM then keeps at least half
# that many more pages (pages_shared) and both merging vmms have more pages merged
# (ksm_merge; vmm warned at start that KSM was off, as it was then), and the vmm
# without merge_pages has none (ksm_off). A test host without KSM fails, not skips.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

tests=(ksm_merge ksm_off)
require_vmm "${tests[@]}"

KSM=/sys/kernel/mm/ksm
FILL_PAGES=16384	# guest/init's ksm action: 64 MiB
WANT=$((FILL_PAGES / 2))
MERGE_TIMEOUT=${KSM_MERGE_TIMEOUT:-300}

fail_all() {
	local n
	for n in "${tests[@]}"; do fail "$n" "$1"; done
	exit 0
}

[ -w "$KSM/run" ] ||
	fail_all "no writable $KSM/run: the test host's kernel lacks KSM (CONFIG_KSM), or this is not root"
[ -r /proc/self/ksm_merging_pages ] ||
	fail_all "no /proc/PID/ksm_merging_pages (Linux 6.1 or later): kernel $(uname -r)"

saved_run=$(cat "$KSM/run") saved_scan=$(cat "$KSM/pages_to_scan")
saved_sleep=$(cat "$KSM/sleep_millisecs")
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	echo "$saved_scan" >"$KSM/pages_to_scan"
	echo "$saved_sleep" >"$KSM/sleep_millisecs"
	echo "$saved_run" >"$KSM/run"
}
trap cleanup EXIT
echo 0 >"$KSM/run"	# on once the guests have booted, which is slow enough already

# merging PID: PID's pages merged by KSM now (0 once PID is gone).
merging() { cat "/proc/$1/ksm_merging_pages" 2>/dev/null || echo 0; }

# wait_scans N: waits until ksmd has finished N more full scans (at most MERGE_TIMEOUT s),
# saying how far it is every 30 s (the harness takes a silent test host for stuck).
wait_scans() {
	local want=$(($(cat "$KSM/full_scans") + $1)) t=0
	while [ "$(cat "$KSM/full_scans")" -lt "$want" ] && [ $t -lt "$MERGE_TIMEOUT" ]; do
		sleep 1
		t=$((t + 1))
		[ $((t % 30)) != 0 ] || echo "waiting for KSM scans: $(cat "$KSM/full_scans") of $want"
	done
}

# Each vmm reads its console input from a FIFO of its own (opened read-write, so it
# never sees an end of file): a line there starts the guest's write.
declare -A pid
for name in ksm_a ksm_b ksm_off; do
	merge=true
	[ $name != ksm_off ] || merge=false
	make_config "$name" 1 "vmmtest=ksm" | sed "/^huge_pages = /a merge_pages = $merge" \
		>"$WORKDIR/$name.toml"
	mkfifo "$WORKDIR/$name.in"
	"$VMM" --config "$WORKDIR/$name.toml" 0<>"$WORKDIR/$name.in" >"$WORKDIR/$name.log" 2>&1 &
	pid[$name]=$!
	pids+=("$!")
done

# stop_all: SIGTERM to every vmm; sets codes to their exit codes, "NAME=CODE ...".
# Not in a subshell: only this shell can wait for them.
stop_all() {
	local name rc
	codes=""
	for name in ksm_a ksm_b ksm_off; do
		echo go 1<>"$WORKDIR/$name.in"	# a guest still waiting for its line
		kill -TERM "${pid[$name]}" 2>/dev/null || true
	done
	for name in ksm_a ksm_b ksm_off; do
		rc=0
		wait_pid "${pid[$name]}" 120 || rc=$?
		codes="$codes $name=$rc"
	done
	pids=()
	codes=${codes# }
}

# wait_all MARKER: waits for MARKER in every guest's log; stops them all and fails
# both tests if one never prints it.
wait_all() {
	local name
	for name in ksm_a ksm_b ksm_off; do
		if wait_for_log "$WORKDIR/$name.log" "$1" "$BOOT_TIMEOUT" "${pid[$name]}"; then
			echo "$name: $1 after $(($(date +%s) - t_start)) s"
			continue
		fi
		tail -n 20 "$WORKDIR/$name.log" | sed "s/^/$name: /"
		stop_all
		fail_all "guest $name never printed $1"
	done
}

t_start=$(date +%s)
wait_all VMMTEST-KSM-BOOTED
echo 5000 >"$KSM/pages_to_scan"
echo 20 >"$KSM/sleep_millisecs"
echo 1 >"$KSM/run"
wait_scans 2
before_a=$(merging "${pid[ksm_a]}") before_b=$(merging "${pid[ksm_b]}")
before_shared=$(cat "$KSM/pages_shared")
echo "booted and scanned: merging pages ksm_a $before_a, ksm_b $before_b," \
	"ksm_off $(merging "${pid[ksm_off]}"); $KSM/pages_shared $before_shared"

for name in ksm_a ksm_b ksm_off; do echo go 1<>"$WORKDIR/$name.in"; done
wait_all VMMTEST-KSM-FILLED
grep -h VMMTEST-KSM-FILLED "$WORKDIR"/ksm_*.log | tr -d '\r'

# Merging takes two scans of a page whose content stays the same. The written pages
# differ from one another, so each merged pair of them adds one to pages_shared (the
# pages KSM keeps); only ksm_a and ksm_b are mergeable. Each guest's own count of merged
# pages rises by less: the write reuses free guest pages that KSM had merged already,
# which the write unmerges (seen: +4200 to +13400 for 16384 written).
t0=$(date +%s)
while :; do
	a=$(($(merging "${pid[ksm_a]}") - before_a)) b=$(($(merging "${pid[ksm_b]}") - before_b))
	shared=$(($(cat "$KSM/pages_shared") - before_shared))
	[ $shared -lt $WANT ] || break
	[ $(($(date +%s) - t0)) -lt "$MERGE_TIMEOUT" ] || break
	{ kill -0 "${pid[ksm_a]}" && kill -0 "${pid[ksm_b]}"; } 2>/dev/null || break
	sleep 2
	[ $((($(date +%s) - t0) % 30)) -gt 1 ] ||
		echo "merging: pages_shared +$shared, ksm_a +$a, ksm_b +$b pages"
done
secs=$(($(date +%s) - t0))
wait_scans 1	# the vmm without merge_pages has been scanned past too, if it could be
off=$(merging "${pid[ksm_off]}")
sharing=$(cat "$KSM/pages_sharing")
echo "after the write: ${secs}s, $KSM/pages_shared +$shared (of $FILL_PAGES written)," \
	"pages_sharing $sharing; merging pages ksm_a +$a, ksm_b +$b, ksm_off $off;" \
	"full_scans $(cat "$KSM/full_scans")"
echo "METRIC ksm_pages_shared_added $shared"
echo "METRIC ksm_merge_a_pages_added $a"
echo "METRIC ksm_merge_b_pages_added $b"
echo "METRIC ksm_merge_seconds $secs"
echo "METRIC ksm_pages_sharing $sharing"
echo "METRIC ksm_off_merging_pages $off"

stop_all
for name in ksm_a ksm_b ksm_off; do
	if grep -q "merge_pages" "$WORKDIR/$name.log"; then
		grep "merge_pages" "$WORKDIR/$name.log" | sed "s/^/$name: /"
	fi
done
if [ "$shared" -lt $WANT ]; then
	fail ksm_merge "after ${secs}s, KSM keeps $shared more pages, wanted >= $WANT of $FILL_PAGES"
elif [ "$a" -le 0 ] || [ "$b" -le 0 ]; then
	fail ksm_merge "merged pages rose by $a in ksm_a and $b in ksm_b"
elif ! grep -q "merge_pages = true, but $KSM/run is 0" "$WORKDIR/ksm_a.log"; then
	# KSM was off when the guests started.
	fail ksm_merge "vmm did not warn that $KSM/run was 0 at its start"
else
	pass ksm_merge
fi
if [ "$off" != 0 ]; then
	fail ksm_off "the vmm without merge_pages has $off merged pages"
elif grep -q merge_pages "$WORKDIR/ksm_off.log"; then
	fail ksm_off "the vmm without merge_pages logged about it"
else
	pass ksm_off
fi
# A guest that died early (the test host's emulator: docs/performance.md) shows here.
[ "$codes" = "ksm_a=0 ksm_b=0 ksm_off=0" ] || echo "note: vmm exit codes after SIGTERM: $codes"
