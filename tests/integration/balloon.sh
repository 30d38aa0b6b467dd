#!/bin/bash
# balloon: virtio-balloon ([balloon]; docs/virtio.md). A 512 MiB guest (guest/init action
# `balloon`) writes 300 MiB to its tmpfs, frees it, and free page reporting must give at
# least 250 MiB of vmm's RSS back within 10 s (VmRSS of /proc/PID/status, the peak while
# the 300 MiB were held against the lowest after the free). Then `vmm ctl NAME balloon 128`
# must take 128 MiB from the guest (with deflate_on_oom, Linux's default here, the balloon
# pages stay in MemTotal and leave MemAvailable: the test asserts exactly that, and
# `status` showing balloon_actual_mib=128), and `balloon 0` must give them back.
# balloon_fs: the same reporting check with a virtio-fs share, i.e. guest RAM in the
# shared memfd that virtiofsd maps too, and the share still works afterwards (the guest
# writes a file the host reads, and reads one the host wrote).
# METRIC balloon_returned_mib, balloon_return_s (and _fs): what came back, how fast.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

tests=(balloon_driver balloon_reporting balloon_inflate balloon_deflate balloon_status
	balloon_fs_reporting balloon_fs_share)
require_vmm "${tests[@]}"
require_tools awk

w=$WORKDIR
VIRTIOFSD=${VIRTIOFSD:-/usr/lib/qemu/virtiofsd}
vfsd=""
cleanup() {
	[ -z "${VMM_PID-}" ] || kill -KILL "$VMM_PID" 2>/dev/null || true
	[ -z "$vfsd" ] || kill "$vfsd" 2>/dev/null || true
}
trap cleanup EXIT

now_ms() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; }
rss_mib() { awk '/^VmRSS:/ {print int($2 / 1024)}' "/proc/$VMM_PID/status" 2>/dev/null || echo 0; }
console() { tr -d '\r' <"$log" | grep -a -F -- "$1" || true; }
why() { echo "$1 (vmm: $(tr -d '\r' <"$log" | grep -a -E 'VMMTEST|vmm:' | tail -n 4 | tr '\n' ';'))"; }

# start NAME CMDLINE_EXTRA [TOML]: a 512 MiB guest with [balloon]; waits for the driver.
start() {
	make_config "$1" 1 "vmmtest=balloon $2" | sed 's/^memory_mib = .*/memory_mib = 512/' >"$w/$1.toml"
	printf '\n[balloon]\nstats_interval_s = 1\n%s' "${3-}" >>"$w/$1.toml"
	log=$w/$1.log
	start_vmm "$w/$1.toml" "$log"
	wait_for_log "$log" "VMMTEST-BALLOON-DRIVER" "$BOOT_TIMEOUT" "$VMM_PID"
}

# reporting NAME: the 300 MiB round trip; passes NAME or fails it.
reporting() {
	local name=$1 peak low rss t=0 start_ms
	if ! wait_for_log "$log" "VMMTEST-BALLOON-ALLOCATED" 60 "$VMM_PID"; then
		fail "$name" "$(why "the guest did not allocate")"
		return
	fi
	peak=$(rss_mib)
	for _ in 1 2 3; do
		sleep 1
		rss=$(rss_mib)
		[ "$rss" -le "$peak" ] || peak=$rss
	done
	if ! wait_for_log "$log" "VMMTEST-BALLOON-FREED" 30 "$VMM_PID"; then
		fail "$name" "$(why "the guest did not free")"
		return
	fi
	start_ms=$(now_ms)
	low=$peak
	while [ "$t" -lt 20 ]; do
		rss=$(rss_mib)
		[ "$rss" -ge "$low" ] || low=$rss
		[ $((peak - low)) -lt 250 ] || break
		sleep 0.5
		t=$((t + 1))
	done
	local secs
	secs=$(awk -v ms=$(($(now_ms) - start_ms)) 'BEGIN {printf "%.1f", ms / 1000}')
	echo "$name: $(console VMMTEST-BALLOON-ALLOCATED); vmm RSS $peak MiB held, $low MiB after, in $secs s"
	echo "METRIC ${name/_reporting/}_returned_mib $((peak - low))"
	echo "METRIC ${name/_reporting/}_return_s $secs"
	if [ $((peak - low)) -ge 250 ]; then
		pass "$name"
	else
		fail "$name" "vmm's RSS fell by $((peak - low)) MiB within 10 s of the free ($peak -> $low MiB), not 250"
	fi
}

# mem_line: the guest's last "VMMTEST-BALLOON-MEM I TOTAL AVAIL" as "TOTAL AVAIL".
mem_line() { console "VMMTEST-BALLOON-MEM " | tail -n 1 | cut -d' ' -f3,4; }

# wait_mem TEST TIMEOUT: until the guest's memory satisfies TEST (awk on $1 total, $2 avail).
wait_mem() {
	for _ in $(seq $(($2 * 2))); do
		awk "{ exit !($1) }" <<<"$(mem_line)" && return 0
		sleep 0.5
	done
	return 1
}

# --- private guest RAM ---
if ! start balloon ""; then
	for t in "${tests[@]:0:5}"; do fail "$t" "$(why "the guest did not boot")"; done
else
	if [ "$(console VMMTEST-BALLOON-DRIVER)" = "VMMTEST-BALLOON-DRIVER 1" ]; then
		pass balloon_driver
	else
		fail balloon_driver "guest: $(console VMMTEST-BALLOON-DRIVER) (virtio_balloon bound to no device)"
	fi
	reporting balloon_reporting
	if ! wait_for_log "$log" "VMMTEST-BALLOON-MEM 3 " 60 "$VMM_PID"; then
		for t in balloon_inflate balloon_deflate balloon_status; do fail "$t" "$(why "no meminfo lines")"; done
	else
		read -r total0 avail0 <<<"$(mem_line)"
		out=$("$VMM" ctl balloon balloon 128 2>&1) || true
		echo "balloon 128: $out; guest before: MemTotal $total0 MiB, MemAvailable $avail0 MiB"
		if [ "$out" = "ok balloon_target_mib=128" ] &&
			wait_mem "\$2 <= $avail0 - 120 && \$1 == $total0" 30; then
			pass balloon_inflate
		else
			fail balloon_inflate "guest after: $(mem_line) (MemTotal MemAvailable, MiB)"
		fi
		echo "balloon 128: guest after: $(mem_line)"
		sleep 2
		st=$("$VMM" ctl balloon status 2>&1) || true
		echo "status: $st"
		if [[ $st == *" balloon_target_mib=128 balloon_actual_mib=128 "* ]] &&
			[[ $st =~ \ guest_free_mib=[0-9]+ ]] && [[ $st =~ \ guest_total_mib=$total0 ]]; then
			pass balloon_status
		else
			fail balloon_status "$st"
		fi
		out=$("$VMM" ctl balloon balloon 0 2>&1) || true
		if [ "$out" = "ok balloon_target_mib=0" ] && wait_mem "\$2 >= $avail0 - 8 && \$1 == $total0" 30; then
			pass balloon_deflate
		else
			fail balloon_deflate "'$out', guest: $(mem_line), before $total0 $avail0"
		fi
		echo "balloon 0: guest $(mem_line)"
		over=$("$VMM" ctl balloon balloon 512 2>&1) || true
		[[ $over == "error 512 MiB is not less than the guest's memory" ]] ||
			fail balloon_status "balloon 512 on a 512 MiB guest: $over"
	fi
	kill -KILL "$VMM_PID" 2>/dev/null || true
	wait "$VMM_PID" 2>/dev/null || true
fi

# --- with a virtio-fs share: guest RAM in the shared memfd ---
if [ ! -x "$VIRTIOFSD" ]; then
	fail balloon_fs_reporting "no $VIRTIOFSD in the test host"
	fail balloon_fs_share "no $VIRTIOFSD in the test host"
	exit 0
fi
mkdir -p "$w/data"
echo "from the host" >"$w/data/host.txt"
"$VIRTIOFSD" --socket-path="$w/data.sock" -o source="$w/data" -o sandbox=chroot \
	-o cache=auto >"$w/virtiofsd.log" 2>&1 &
vfsd=$!
for _ in $(seq 50); do [ -S "$w/data.sock" ] && break; sleep 0.2; done
if ! start balloon-fs "vmmtest.fs=1" "$(printf '\n[[fs]]\ntag = "data"\nsocket = %s\n' "$(toml_string "$w/data.sock")")"; then
	fail balloon_fs_reporting "$(why "the guest did not boot")"
	fail balloon_fs_share "$(why "the guest did not boot")"
	exit 0
fi
reporting balloon_fs_reporting
if wait_for_log "$log" "VMMTEST-BALLOON-FS-READ" 40 "$VMM_PID" &&
	[ "$(console VMMTEST-BALLOON-FS-WRITE)" = "VMMTEST-BALLOON-FS-WRITE written after the balloon" ] &&
	[ "$(console VMMTEST-BALLOON-FS-READ)" = "VMMTEST-BALLOON-FS-READ from the host" ] &&
	[ "$(cat "$w/data/balloon.txt" 2>&1)" = "written after the balloon" ]; then
	pass balloon_fs_share
else
	fail balloon_fs_share "$(console VMMTEST-BALLOON-FS | tr '\n' ';') host reads: $(head -c 100 "$w/data/balloon.txt" 2>&1)"
fi
