#!/bin/bash
# blk_perf: sequential 1 MiB O_DIRECT reads of a 64 MiB image on the test host's tmpfs,
# in the guest (busybox dd), and 4 KiB random reads at queue depth 1 plus 1 MiB sequential
# reads with tests/tools/iobench, and 1 MiB sequential O_DIRECT writes (with a flush at
# the end) to a second, writable 64 MiB image; reports medians of five passes as
# METRICs and checks that the written image holds the guest's bytes. With
# --with-qemu, the same under QEMU's virtio-blk-pci (arm64: lib.sh's qemu_dev) with
# aio=io_uring for comparison.
# Nested under an emulated CPU these numbers compare VMMs, not hardware.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_vmm blk_perf

w=$WORKDIR
(yes vmmtest-blk-perf-data || true) | head -c 67108864 >"$w/perf.img"

# iobench_median LOG MODE FIELD: the median FIELD of the IOBENCH MODE lines.
iobench_median() {
	local v
	v=$(tr -d '\r' <"$1" | sed -n "s/^IOBENCH $2 .* $3=\([0-9]*\).*/\1/p")
	[ -n "$v" ] || return 1
	# shellcheck disable=SC2086 # one number per word
	median $v
}

# report_iobench WHO LOG: METRIC lines for the iobench results in LOG, if any.
report_iobench() {
	local v
	if v=$(iobench_median "$2" randread iops); then
		echo "METRIC ${1}_blk_randread_4k_iops $v"
	fi
	if v=$(iobench_median "$2" seqread mbps); then
		echo "METRIC ${1}_blk_seqread_1m_mbps $v"
	fi
	if v=$(iobench_median "$2" seqwrite mbps); then
		echo "METRIC ${1}_blk_seqwrite_1m_mbps $v"
	fi
}

# written WHO: whether the scratch image holds what iobench wrote (0x5a bytes) from its
# first to its last byte: a write path that drops or misplaces data shows here.
written() {
	local want
	want=$(head -c 67108864 /dev/zero | tr '\0' 'Z' | md5sum | cut -d' ' -f1)
	[ "$(md5sum <"$w/perfw.img" | cut -d' ' -f1)" = "$want" ] ||
		{ echo "blk_perf: $1: the scratch image does not hold the written bytes"; return 1; }
}

# rate LOG: median MB/s (10^6 bytes) of the VMMTEST-BLKPERF lines.
rate() {
	local r
	r=$(tr -d '\r' <"$1" | sed -n 's/^VMMTEST-BLKPERF bytes=\([0-9]*\) seconds=\([0-9.]*\)$/\1 \2/p' |
		awk '$2 > 0 { printf "%d\n", $1 / $2 / 1000000 }')
	[ -n "$r" ] || return 1
	# shellcheck disable=SC2086 # one number per word
	median $r
}

make_config blkperf 1 "vmmtest=blkperf" >"$w/vm.toml"
printf '\n[[disk]]\npath = "perf.img"\nread_only = true\n' >>"$w/vm.toml"
printf '\n[[disk]]\npath = "perfw.img"\n' >>"$w/vm.toml"
head -c 67108864 /dev/zero >"$w/perfw.img"
rc=0
run_vmm "$w/vm.toml" "$w/console.log" || rc=$?
if [ "$rc" != 0 ] || ! mbs=$(rate "$w/console.log"); then
	fail blk_perf "exit $(describe_exit "$rc"); $(grep -a BLKPERF "$w/console.log" | tr -d '\r' | tr '\n' ';')"
	exit 0
fi
echo "METRIC blk_seq_read_mbps $mbs"
report_iobench vmm "$w/console.log"
if ! grep -q "^IOBENCH seqwrite" "$w/console.log" && grep -q "^IOBENCH randread" "$w/console.log"; then
	fail blk_perf "no IOBENCH seqwrite line: $(grep -a iobench "$w/console.log" | tail -n 3 | tr '\n' ';')"
	exit 0
fi
if grep -q "^IOBENCH seqwrite" "$w/console.log" && ! written vmm; then
	fail blk_perf "the guest's sequential writes are not in perfw.img"
	exit 0
fi
pass blk_perf

if [ -n "$QEMU" ]; then
	rc=0
	qemu_machine microvm,pcie=on,acpi=on
	"${qemu_base[@]}" -m "$GUEST_MEMORY_MIB" -smp 1 \
		-nographic -no-reboot -kernel "$GUEST_KERNEL" -initrd "$GUEST_INITRD" \
		-append "$QEMU_CMDLINE_BASE vmmtest=blkperf" \
		-drive "file=$w/perf.img,if=none,id=d0,format=raw,readonly=on,aio=io_uring" \
		-device "$(qemu_dev virtio-blk)",drive=d0 \
		-drive "file=$w/perfw.img,if=none,id=d1,format=raw,aio=io_uring" \
		-device "$(qemu_dev virtio-blk)",drive=d1 </dev/null >"$w/qemu.log" 2>&1 &
	wait_pid $! "$BOOT_TIMEOUT" || rc=$?
	if q=$(rate "$w/qemu.log"); then
		echo "METRIC qemu_blk_seq_read_mbps $q"
		report_iobench qemu "$w/qemu.log"
	else
		echo "blk_perf: note: QEMU run gave no rate (exit $rc): $(tail -n 3 "$w/qemu.log" | tr -d '\r' | tr '\n' ';')"
	fi
fi
