#!/bin/bash
# huge_pages: [vm] huge_pages = true (the default) puts guest RAM in 2 MiB transparent
# huge pages; false keeps it in 4 KiB pages. Boots a guest each way, waits for its
# /init, and reads the guest RAM mapping's AnonHugePages from /proc/PID/smaps (the
# mapping of exactly the guest's memory size). Then SIGTERM stops it. The other tests
# run with huge pages off, for the test host's sake (lib.sh, VMM_TEST_HUGE_PAGES).
# Either way vmm's own memory (thread stacks, heap) has no huge page: the test host's
# THP setting is "always", where a thread stack took a 2 MiB page for the few KiB it
# used (docs/performance.md, "Where vmm's memory goes").
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_vmm huge_pages_on huge_pages_off
thp=/sys/kernel/mm/transparent_hugepage/enabled
if [ ! -r "$thp" ] || grep -q '\[never\]' "$thp"; then
	skip huge_pages_on "transparent huge pages are off on this host ($thp: $(cat "$thp" 2>/dev/null))"
	skip huge_pages_off "transparent huge pages are off on this host"
	exit 0
fi

# thp_kb PID: "GUEST OTHER": AnonHugePages (kB) of PID's first mapping of exactly
# GUEST_MEMORY_MIB MiB ("none" when there is no such mapping), and of all its others.
thp_kb() {
	awk -v want=$((GUEST_MEMORY_MIB * 1024)) '
		/^[0-9a-f]+-[0-9a-f]+ / { inmap = 0 }
		$1 == "Size:" { inmap = ($2 == want && !found); if (inmap) found = 1 }
		$1 == "AnonHugePages:" { if (inmap) kb += $2; else other += $2 }
		END { print (found ? kb + 0 : "none"), other + 0 }' "/proc/$1/smaps"
}

# one NAME ON|OFF: boots with huge_pages set so, checks the mapping, stops the guest.
one() {
	local name=$1 setting=$2 log=$WORKDIR/$1.log kb other rc=0
	make_config "$name" 1 "vmmtest=wait" | sed "s/^huge_pages = .*/huge_pages = $setting/" \
		>"$WORKDIR/$name.toml"
	start_vmm "$WORKDIR/$name.toml" "$log"
	if ! wait_for_log "$log" VMMTEST-WAITING "$BOOT_TIMEOUT" "$VMM_PID"; then
		kill -KILL "$VMM_PID" 2>/dev/null || true
		wait "$VMM_PID" || rc=$?
		fail "$name" "guest never printed VMMTEST-WAITING (vmm exit $(describe_exit "$rc"))"
		return
	fi
	kb=$(thp_kb "$VMM_PID")
	other=${kb#* } kb=${kb%% *}
	kill -TERM "$VMM_PID"
	wait_pid "$VMM_PID" 120 || rc=$?
	echo "$name: huge_pages = $setting: guest RAM mapping AnonHugePages $kb kB, the rest $other kB"
	if [ "$kb" = none ]; then
		fail "$name" "no mapping of exactly $GUEST_MEMORY_MIB MiB in the VMM's smaps"
	elif [ "$setting" = true ] && [ "$kb" -lt 2048 ]; then
		fail "$name" "huge_pages = true, but the booted guest's RAM has no huge page ($kb kB)"
	elif [ "$setting" = false ] && [ "$kb" != 0 ]; then
		fail "$name" "huge_pages = false, but the guest's RAM has $kb kB in huge pages"
	elif [ "$other" != 0 ]; then
		fail "$name" "vmm's own memory (outside guest RAM) has $other kB in huge pages"
	elif [ "$rc" != "$VMM_EXIT_POWEROFF" ]; then
		fail "$name" "SIGTERM: vmm exit $(describe_exit "$rc"), expected $VMM_EXIT_POWEROFF"
	else
		echo "METRIC ${name}_anon_huge_kb $kb"
		pass "$name"
	fi
}

one huge_pages_on true
one huge_pages_off false
