#!/bin/bash
# fs_perf: sequential 1 MiB reads of a 128 MiB file over virtio-fs in the guest (busybox
# dd, cold guest page cache), served by one virtiofsd (cache=none) that this test runs
# behind a socket; median of five passes as a METRIC. With --with-qemu, the same file,
# the same virtiofsd binary and options under QEMU's vhost-user-fs-pci, and the ratio.
# Nested under an emulated CPU these numbers compare VMMs, not hardware.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_vmm fs_perf
# A benchmark, not a test (fs_share checks the shares' contents on every run): it runs
# with --with-qemu (bench/run), where its number has a baseline, or with VMM_FS_PERF=1.
if [ -z "$QEMU" ] && [ -z "${VMM_FS_PERF:-}" ]; then
	skip fs_perf "benchmark: runs with --with-qemu (bench/run) or VMM_FS_PERF=1"
	exit 0
fi

w=$WORKDIR
VIRTIOFSD=${VIRTIOFSD:-/usr/lib/qemu/virtiofsd}
if [ ! -x "$VIRTIOFSD" ]; then
	skip fs_perf "no $VIRTIOFSD"
	exit 0
fi
mkdir -p "$w/data"
(yes vmmtest-fs-perf-data || true) | head -c 134217728 >"$w/data/big"

# start_virtiofsd: a fresh backend on $w/data.sock (one per VM: it serves one frontend).
start_virtiofsd() {
	rm -f "$w/data.sock"
	"$VIRTIOFSD" --socket-path="$w/data.sock" -o source="$w/data" -o sandbox=chroot \
		-o cache=none >>"$w/virtiofsd.log" 2>&1 &
	vfsd=$!
	for _ in $(seq 50); do [ -S "$w/data.sock" ] && break; sleep 0.2; done
}
stop_virtiofsd() {
	kill "$vfsd" 2>/dev/null || true
	wait "$vfsd" 2>/dev/null || true
}

# rate LOG: median MB/s (10^6 bytes) of the VMMTEST-FSPERF lines.
rate() {
	local r
	r=$(tr -d '\r' <"$1" | sed -n 's/^VMMTEST-FSPERF bytes=\([0-9]*\) seconds=\([0-9.]*\)$/\1 \2/p' |
		awk '$1 > 0 && $2 > 0 { printf "%d\n", $1 / $2 / 1000000 }')
	[ -n "$r" ] || return 1
	# shellcheck disable=SC2086 # one number per word
	median $r
}

start_virtiofsd
make_config fsperf 1 "vmmtest=fsperf" >"$w/vm.toml"
printf '\n[[fs]]\ntag = "data"\nsocket = "data.sock"\n' >>"$w/vm.toml"
rc=0
run_vmm "$w/vm.toml" "$w/console.log" || rc=$?
stop_virtiofsd
if [ "$rc" != 0 ] || ! mbs=$(rate "$w/console.log"); then
	fail fs_perf "exit $(describe_exit "$rc"); $(grep -a FSPERF "$w/console.log" | tr -d '\r' | tr '\n' ';')"
	exit 0
fi
echo "METRIC fs_seq_read_mbps $mbs"
pass fs_perf

if [ -n "$QEMU" ]; then
	start_virtiofsd
	rc=0
	qemu_machine microvm,pcie=on,acpi=on memory-backend=mem
	"${qemu_base[@]}" \
		-m "$GUEST_MEMORY_MIB" -smp 1 \
		-object "memory-backend-memfd,id=mem,size=${GUEST_MEMORY_MIB}M,share=on" \
		-nographic -no-reboot -kernel "$GUEST_KERNEL" -initrd "$GUEST_INITRD" \
		-append "$QEMU_CMDLINE_BASE vmmtest=fsperf" \
		-chardev "socket,id=vfs,path=$w/data.sock" \
		-device "$(qemu_dev vhost-user-fs)",chardev=vfs,tag=data </dev/null >"$w/qemu.log" 2>&1 &
	wait_pid $! "$BOOT_TIMEOUT" || rc=$?
	stop_virtiofsd
	if q=$(rate "$w/qemu.log"); then
		echo "METRIC qemu_fs_seq_read_mbps $q"
		echo "METRIC fs_seq_read_vmm_to_qemu_pct $((mbs * 100 / (q > 0 ? q : 1)))"
	else
		echo "fs_perf: note: QEMU run gave no rate (exit $rc): $(tail -n 3 "$w/qemu.log" | tr -d '\r' | tr '\n' ';')"
	fi
fi
