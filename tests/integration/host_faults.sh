#!/bin/bash
# host_faults: the host fails under a running VM, and vmm must pass the failure on to the
# guest, stay alive (its control socket answers `status`) and work again once the
# fault is gone.
#  fault_disk_full: the image (sparse, 64 MiB) lies on a 24 MiB tmpfs that a filler
#    file fills; the guest writes (vmmtest=diskfull) until it gets an I/O error, the
#    test deletes the filler, and the guest's next writes must succeed.
#  fault_disk_eio: the image lies on ext4 over a device-mapper device (a loop device
#    below); the guest reads the disk over and over (vmmtest=diskeio, direct = true so
#    that the host's page cache does not hide the device); the table is switched to
#    dm "error" (reads fail with EIO) and back to linear (reads work again).
#  fault_tap_removed: the TAP is deleted (ip link del) while the guest pings through
#    it (vmmtest=netdel); vmm logs it, does not spin, answers status, and the guest
#    still powers off cleanly (exit 0) after SIGTERM.
# Tools: busybox mount (tmpfs), losetup, ip, brctl, tunctl; dmsetup and mke2fs; the loop,
# dm_mod, tun and bridge modules. Root.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

tests=(fault_disk_full fault_disk_eio fault_tap_removed)
require_vmm "${tests[@]}"
w=$WORKDIR
if [ "$(id -u)" != 0 ]; then
	for n in "${tests[@]}"; do skip "$n" "needs root (mounts, device-mapper, TAPs)"; done
	exit 0
fi
# The control sockets (vmm ctl NAME status) in the work directory.
export VMM_RUNTIME_DIR=$w/run
# dmsetup without udev: it makes /dev/mapper nodes itself.
export DM_DISABLE_UDEV=1

cleanup() {
	[ -z "${vmm_pid-}" ] || kill -KILL "$vmm_pid" 2>/dev/null || true
	[ -z "${vmm_pid-}" ] || wait "$vmm_pid" 2>/dev/null || true
	umount "$w/full/fs" 2>/dev/null || true
	umount "$w/eio/mnt" 2>/dev/null || true
	dmsetup remove vmmfault 2>/dev/null || true
	[ -z "${loop_dev-}" ] || losetup -d "$loop_dev" 2>/dev/null || true
	ip link del vmmftap0 2>/dev/null || true
	ip link set vmmfbr0 down 2>/dev/null || true
	brctl delbr vmmfbr0 2>/dev/null || true
}
trap cleanup EXIT

show_log() { tr -d '\r' <"$1" | grep -a -E 'VMMTEST|vmm:|virtio|I/O error' | sed 's/^/| /' | tail -n 30; }

# status_of NAME: vmm ctl NAME status, one line ("" when nothing answers).
status_of() { "$VMM" ctl "$1" status 2>&1 | head -n 1; }

# alive NAME PID: empty when vmm PID runs and its status says running; else why not.
alive() {
	local st
	if ! kill -0 "$2" 2>/dev/null; then
		echo "vmm died"
		return 0
	fi
	st=$(status_of "$1")
	case $st in
	"ok "*state=running*) ;;
	*) echo "vmm ctl $1 status: '$st'" ;;
	esac
}

# finish_vmm PID TIMEOUT: sets rc to vmm's exit status (124: killed after TIMEOUT).
finish_vmm() {
	rc=0
	wait_pid "$1" "$2" || rc=$?
	vmm_pid=""
}

# cpu_ticks PID: user + system clock ticks of all of PID's threads.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# --- the full file system ---------------------------------------------------------------

# image_diff IMAGE CHUNK: where the 1 MiB chunks 0..CHUNK+1 of IMAGE differ from the
# guest's pattern (yes vmmtest-full), for a failure message: per bad chunk the number of
# differing bytes, the first and last differing offset and the bytes there; and the
# image's size and allocated blocks (a hole reads as zeros).
image_diff() {
	local img=$1 last=$(($2 + 1)) c
	(yes vmmtest-full || true) | head -c 1048576 >"$w/full/want"
	echo "image: $(stat -c 'size %s blocks %b' "$img"), tmpfs: $(df -k "$(dirname "$img")" | tail -n 1)"
	for c in $(seq 0 "$last"); do
		dd if="$img" of="$w/full/got" bs=1048576 skip="$c" count=1 2>/dev/null
		cmp -l "$w/full/want" "$w/full/got" 2>/dev/null | awk -v c="$c" '
			NR == 1 { first = $1; fb = $3 }
			{ last = $1; n++ }
			END { if (n) printf "chunk %d: %d bytes differ, offsets %d..%d, first got octal %s\n", c, n, first - 1, last - 1, fb }'
		[ "$(stat -c %s "$w/full/got")" = 1048576 ] ||
			echo "chunk $c: read $(stat -c %s "$w/full/got") bytes"
	done
}
disk_full() {
	local n=fault_disk_full d=$w/full why log
	mkdir -p "$d/fs"
	if ! mount -t tmpfs -o size=24m vmmfull "$d/fs" 2>"$d/mount.err"; then
		skip "$n" "cannot mount a tmpfs: $(cat "$d/mount.err")"
		return 0
	fi
	dd if=/dev/zero of="$d/fs/filler" bs=1048576 count=8 2>/dev/null
	make_config full 1 "vmmtest=diskfull" >"$d/vm.toml"
	printf '\n[[disk]]\npath = "fs/disk.img"\nsize_mib = 64\n' >>"$d/vm.toml"
	log=$d/console.log
	start_vmm "$d/vm.toml" "$log"
	vmm_pid=$VMM_PID
	if ! wait_for_log "$log" "VMMTEST-FULL-DMESG" "$BOOT_TIMEOUT" "$vmm_pid" &&
		! expect_in_log "$log" "VMMTEST-FULL-NOERROR"; then
		why=$(alive full "$vmm_pid")
		kill -KILL "$vmm_pid" 2>/dev/null || true
		finish_vmm "$vmm_pid" 10
		fail "$n" "the guest saw no I/O error${why:+ ($why)}; exit $(describe_exit "$rc")"
		show_log "$log"
		return 0
	fi
	if expect_in_log "$log" "VMMTEST-FULL-NOERROR"; then
		finish_vmm "$vmm_pid" 60
		fail "$n" "the guest wrote 64 MiB onto a 24 MiB file system without an I/O error"
		show_log "$log"
		return 0
	fi
	why=$(alive full "$vmm_pid")
	local st
	st=$(status_of full)
	echo "$n: full: $(tr -d '\r' <"$log" | grep -a -E 'VMMTEST-FULL-(ERROR|DMESG)' | tr '\n' ';')"
	echo "$n: status while full: $st"
	rm -f "$d/fs/filler"
	wait_for_log "$log" "VMMTEST-FULL-READBACK" 120 "$vmm_pid" || true
	finish_vmm "$vmm_pid" 120
	log=$(tr -d '\r' <"$d/console.log")
	local chunk
	chunk=$(sed -n 's/.*VMMTEST-FULL-RECOVERED chunk=\([0-9]*\).*/\1/p' <<<"$log")
	if [ -n "$why" ]; then
		fail "$n" "after the guest's I/O error: $why"
	elif ! grep -q "VMMTEST-FULL-ERROR .*dd: .*Input/output error" <<<"$log"; then
		fail "$n" "the guest's dd did not fail with EIO: $(grep VMMTEST-FULL-ERROR <<<"$log")"
	elif grep -q "VMMTEST-FULL-DMESG 0" <<<"$log"; then
		fail "$n" "the guest's kernel logged no I/O error on vda"
	elif [ -z "$chunk" ]; then
		fail "$n" "the guest's writes did not work again after space was freed: $(grep -E 'VMMTEST-FULL-(STUCK|RECOVERED)' <<<"$log")"
	elif ! grep -q "VMMTEST-FULL-NEXT ok" <<<"$log"; then
		fail "$n" "the write after the recovered one: $(grep VMMTEST-FULL-NEXT <<<"$log")"
	elif ! grep -q "VMMTEST-FULL-READBACK ok" <<<"$log"; then
		fail "$n" "the guest read back something else than it wrote after the recovery"
	elif [ "$(dd if="$d/fs/disk.img" bs=1048576 skip="$chunk" count=1 2>/dev/null | md5sum)" != \
		"$( (yes vmmtest-full || true) | head -c 1048576 | md5sum)" ]; then
		fail "$n" "the image does not hold the chunk written after the recovery"
		# (|| true: a failing dd or stat in it must not end the script, and the
		# other tests with it.)
		image_diff "$d/fs/disk.img" "$chunk" | sed "s/^/$n: /" || true
	elif [ "$rc" != 0 ]; then
		fail "$n" "exit $(describe_exit "$rc") at the end, expected a power-off"
	else
		pass "$n"
	fi
	grep -E 'VMMTEST-FULL-(RECOVERED|NEXT|READBACK|STUCK)' <<<"$log" | sed "s/^/$n: /"
	grep -a 'vmm:' <<<"$log" | grep -i -E 'space|error|fail' | head -n 3 | sed "s/^/$n: vmm logged: /"
	[ "$rc" = 0 ] || show_log "$d/console.log"
}

# --- the failing device -----------------------------------------------------------------
disk_eio() {
	local n=fault_disk_eio d=$w/eio sectors=65536 t log want why st good
	for t in losetup dmsetup mke2fs; do
		command -v "$t" >/dev/null 2>&1 || { skip "$n" "no $t in the test host"; return 0; }
	done
	mkdir -p "$d/mnt"
	dd if=/dev/zero of="$d/backing" bs=1048576 count=32 2>/dev/null
	if ! loop_dev=$(losetup -f 2>&1) || ! losetup "$loop_dev" "$d/backing" 2>"$d/setup.err"; then
		skip "$n" "no loop device: $loop_dev $(cat "$d/setup.err" 2>/dev/null)"
		loop_dev=""
		return 0
	fi
	if ! dmsetup create vmmfault --table "0 $sectors linear $loop_dev 0" >"$d/setup.err" 2>&1 ||
		[ ! -b /dev/mapper/vmmfault ]; then
		skip "$n" "no device-mapper device: $(tr '\n' ' ' <"$d/setup.err")"
		return 0
	fi
	if ! mke2fs -q -F -t ext4 /dev/mapper/vmmfault >"$d/setup.err" 2>&1 ||
		! mount -t ext4 /dev/mapper/vmmfault "$d/mnt" 2>>"$d/setup.err"; then
		fail "$n" "ext4 on the device-mapper device: $(tr '\n' ' ' <"$d/setup.err")"
		return 0
	fi
	(yes vmmtest-eio || true) | head -c 4194304 >"$d/mnt/disk.img"
	want=$(md5sum <"$d/mnt/disk.img" | cut -d' ' -f1)
	# Read-only from here on: nothing (atime, the journal) writes while the device fails.
	umount "$d/mnt" && mount -t ext4 -o ro /dev/mapper/vmmfault "$d/mnt"
	make_config eio 1 "vmmtest=diskeio" >"$d/vm.toml"
	printf '\n[[disk]]\npath = "mnt/disk.img"\nread_only = true\ndirect = true\n' >>"$d/vm.toml"
	log=$d/console.log
	start_vmm "$d/vm.toml" "$log"
	vmm_pid=$VMM_PID
	if ! wait_for_log "$log" "VMMTEST-EIO-PASS 2 ok" "$BOOT_TIMEOUT" "$vmm_pid"; then
		kill -KILL "$vmm_pid" 2>/dev/null || true
		finish_vmm "$vmm_pid" 10
		fail "$n" "the guest did not read its disk before the fault"
		show_log "$log"
		return 0
	fi
	dmsetup suspend vmmfault && dmsetup reload vmmfault --table "0 $sectors error" &&
		dmsetup resume vmmfault || echo "$n: switching to the error table failed"
	echo "$n: device fails from $(cut -d' ' -f1 /proc/uptime) s"
	wait_for_log "$log" "VMMTEST-EIO-DMESG" 120 "$vmm_pid" || true
	# A few more failing passes.
	sleep 3
	why=$(alive eio "$vmm_pid")
	st=$(status_of eio)
	echo "$n: status while failing: $st"
	dmsetup suspend vmmfault && dmsetup reload vmmfault --table "0 $sectors linear $loop_dev 0" &&
		dmsetup resume vmmfault || echo "$n: switching back to the linear table failed"
	echo "$n: device works again from $(cut -d' ' -f1 /proc/uptime) s"
	wait_for_log "$log" "VMMTEST-EIO-DONE" 120 "$vmm_pid" || true
	finish_vmm "$vmm_pid" 120
	log=$(tr -d '\r' <"$d/console.log")
	good=$(grep 'VMMTEST-EIO-PASS [0-9]* ok' <<<"$log" | tail -n 1 | sed -n 's/.*md5=\([0-9a-f]*\).*/\1/p')
	if ! grep -q "VMMTEST-EIO-DMESG" <<<"$log"; then
		fail "$n" "the guest's reads did not fail on the failing device${why:+ ($why)}: $(grep 'VMMTEST-EIO-PASS' <<<"$log" | tail -n 2 | tr '\n' ';')"
	elif [ -n "$why" ]; then
		fail "$n" "while the device failed: $why"
	elif ! grep -q "VMMTEST-EIO-PASS [0-9]* failed .*Input/output error" <<<"$log"; then
		fail "$n" "the guest's reads failed, but not with EIO: $(grep 'VMMTEST-EIO-PASS [0-9]* failed' <<<"$log" | head -n 1)"
	elif grep -q "VMMTEST-EIO-DMESG 0" <<<"$log"; then
		fail "$n" "the guest's kernel logged no I/O error on vda"
	elif ! grep -q "VMMTEST-EIO-DONE" <<<"$log"; then
		fail "$n" "reads did not work again after the fault cleared: $(grep 'VMMTEST-EIO-' <<<"$log" | tail -n 2 | tr '\n' ';')"
	elif [ "$good" != "$want" ]; then
		fail "$n" "the guest read $good after the fault, the image is $want"
	elif [ "$rc" != 0 ]; then
		fail "$n" "exit $(describe_exit "$rc") at the end, expected a power-off"
	else
		pass "$n"
	fi
	echo "METRIC fault_disk_eio_failed_passes $(grep -c 'VMMTEST-EIO-PASS [0-9]* failed' <<<"$log")"
	grep -E 'VMMTEST-EIO-(DMESG|DONE|GAVEUP)' <<<"$log" | sed "s/^/$n: /"
	grep -a 'vmm:' <<<"$log" | grep -i -E 'error|fail' | head -n 3 | sed "s/^/$n: vmm logged: /"
	[ "$rc" = 0 ] || show_log "$d/console.log"
	umount "$d/mnt" 2>/dev/null || true
	dmsetup remove vmmfault 2>/dev/null || true
	losetup -d "$loop_dev" 2>/dev/null || true
	loop_dev=""
}

# --- the TAP removed --------------------------------------------------------------------
tap_removed() {
	local n=fault_tap_removed d=$w/tap t log why c0 c1 c2 c3 before after
	for t in brctl tunctl ip; do
		command -v "$t" >/dev/null 2>&1 || { skip "$n" "no $t in the test host"; return 0; }
	done
	[ -c /dev/net/tun ] || { skip "$n" "no /dev/net/tun (tun module)"; return 0; }
	mkdir -p "$d"
	if ! { brctl addbr vmmfbr0 && ip addr add 10.205.0.1/24 dev vmmfbr0 && ip link set vmmfbr0 up &&
		tunctl -t vmmftap0 >/dev/null && brctl addif vmmfbr0 vmmftap0 && ip link set vmmftap0 up; }; then
		skip "$n" "cannot make bridge vmmfbr0 and TAP vmmftap0"
		return 0
	fi
	make_config tapdel 1 "vmmtest=netdel net.ifnames=0" >"$d/vm.toml"
	printf '\n[[net]]\ntap = "vmmftap0"\nbridge = "vmmfbr0"\nsubnet = "10.205.0.0/24"\n' >>"$d/vm.toml"
	log=$d/console.log
	start_vmm "$d/vm.toml" "$log"
	vmm_pid=$VMM_PID
	if ! wait_for_log "$log" "VMMTEST-NETDEL-PINGING" "$BOOT_TIMEOUT" "$vmm_pid"; then
		kill -KILL "$vmm_pid" 2>/dev/null || true
		finish_vmm "$vmm_pid" 10
		fail "$n" "the guest did not start pinging"
		show_log "$log"
		return 0
	fi
	if ! expect_in_log "$log" "VMMTEST-NETDEL-UP gw=10.205.0.1"; then
		echo "$n: warning: $(tr -d '\r' <"$log" | grep -a VMMTEST-NETDEL-UP)"
	fi
	sleep 3
	c0=$(cpu_ticks "$vmm_pid")
	sleep 5
	c1=$(cpu_ticks "$vmm_pid")
	ip link del vmmftap0 || echo "$n: ip link del vmmftap0 failed"
	echo "$n: TAP deleted at $(cut -d' ' -f1 /proc/uptime) s"
	sleep 3
	c2=$(cpu_ticks "$vmm_pid")
	sleep 5
	c3=$(cpu_ticks "$vmm_pid")
	before=$((c1 - c0))
	after=$((c3 - c2))
	echo "METRIC fault_tap_cpu_ticks_5s_before $before"
	echo "METRIC fault_tap_cpu_ticks_5s_after $after"
	why=$(alive tapdel "$vmm_pid")
	echo "$n: status after the removal: $(status_of tapdel)"
	kill -TERM "$vmm_pid" 2>/dev/null || true
	finish_vmm "$vmm_pid" 120
	log=$(tr -d '\r' <"$d/console.log")
	grep -a 'vmm:' <<<"$log" | grep -a 'vmmftap0' | head -n 5 | sed "s/^/$n: vmm logged: /"
	if [ -n "$why" ]; then
		fail "$n" "after the TAP was deleted: $why"
	elif [ "$after" -gt 350 ] && [ "$after" -gt $((before * 2 + 100)) ]; then
		fail "$n" "vmm spins after the TAP was deleted: $after CPU ticks in 5 s (before: $before)"
	elif ! grep -a 'vmm:' <<<"$log" | grep -q 'vmmftap0'; then
		fail "$n" "vmm logged nothing about the deleted TAP vmmftap0"
	elif [ "$rc" != 0 ]; then
		fail "$n" "exit $(describe_exit "$rc") after SIGTERM, expected 0 (the guest powering off)"
	elif ! grep -q "VMMTEST-NETDEL-STOP" <<<"$log"; then
		fail "$n" "the guest did not see the Ctrl-Alt-Del (no VMMTEST-NETDEL-STOP)"
	else
		pass "$n"
	fi
	grep VMMTEST-NETDEL-STOP <<<"$log" | sed "s/^/$n: /"
	[ "$rc" = 0 ] || show_log "$d/console.log"
	ip link set vmmfbr0 down 2>/dev/null || true
	brctl delbr vmmfbr0 2>/dev/null || true
}

disk_full
disk_eio
tap_removed
