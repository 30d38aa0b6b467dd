#!/bin/bash
# vsock_perf: vsock stream throughput, host to guest and guest to host, VSOCK_PERF_MIB
# (default 64) MiB each way with md5 checked at both ends (tests/tools/vsock-test), for
# vmm (a host client on the hybrid unix socket, CONNECT 5000) and, with the harness's
# --with-qemu, QEMU's vhost-vsock (-device vhost-vsock-pci,guest-cid=3 on microvm's
# PCIe; a host client on AF_VSOCK, CID 3 port 5000, through the test host's vhost_vsock).
# Same kernel, guest image and guest program (guest/init's `vsockserve`). VSOCK_PERF_RUNS
# (default 5) runs, each a fresh guest of vmm and then of QEMU, one at a time; the
# METRIC lines give the medians with the min and max.
# A benchmark: runs only with VMM_VSOCK_PERF=1 (vsock.sh checks correctness). Numbers are
# the test host's (nested KVM under TCG): compare them as a ratio.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

tests=(vsock_perf_vmm vsock_perf_qemu)
require_vmm "${tests[@]}"
[ -n "${VMM_VSOCK_PERF:-}" ] || skip_all "benchmark: runs with VMM_VSOCK_PERF=1 (and --with-qemu for QEMU)"
if [ -z "$VSOCK_TEST" ] || [ ! -x "$VSOCK_TEST" ]; then
	for t in "${tests[@]}"; do fail "$t" "no tests/tools/vsock-test in the test host"; done
	exit 0
fi
w=$WORKDIR
MIB=${VSOCK_PERF_MIB:-64}
N=$((MIB * 1048576))
RUNS=${VSOCK_PERF_RUNS:-5}
export VSOCK_TEST_IDLE=60
sock=$w/vm.vsock

gpid=""
cleanup() {
	[ -z "$gpid" ] || kill -KILL "$gpid" 2>/dev/null || true
}
trap cleanup EXIT

# Why QEMU cannot take part, or empty.
no_qemu=""
if [ -z "$QEMU" ]; then
	no_qemu="no QEMU (run the harness with --with-qemu)"
elif [ ! -c /dev/vhost-vsock ]; then
	no_qemu="no /dev/vhost-vsock in the test host (vhost_vsock did not load: $(grep -h vhost_vsock /proc/modules 2>/dev/null | head -n 1))"
fi

make_config vsockperf 1 "vmmtest=vsockserve" >"$w/vm.toml"
printf '\n[vsock]\ncid = 3\nsocket = %s\n' "$(toml_string "$sock")" >>"$w/vm.toml"
declare -A ep=([vmm]="hybrid:$sock:5000" [qemu]="vsock:3:5000")
declare -A why h2g g2h
names=(vmm)
[ -n "$no_qemu" ] || names+=(qemu)

# boot NAME LOG: starts that VMM's guest (gpid) and waits for its listener; false when
# it did not come up (why[NAME] says so).
boot() {
	if [ "$1" = vmm ]; then
		start_vmm "$w/vm.toml" "$2"
		gpid=$VMM_PID
	else
		# microvm with its PCIe host (ACPI, MCFG), so that the device is virtio-pci as vmm's.
		"$QEMU" -M microvm,pcie=on -enable-kvm -cpu host -m "$GUEST_MEMORY_MIB" -smp 1 \
			-nographic -no-reboot -kernel "$GUEST_KERNEL" -initrd "$GUEST_INITRD" \
			-append "$GUEST_CMDLINE_BASE vmmtest=vsockserve" \
			-device vhost-vsock-pci,guest-cid=3 </dev/null >"$2" 2>&1 &
		gpid=$!
	fi
	if ! wait_for_log "$2" VMMTEST-WAITING "$BOOT_TIMEOUT" "$gpid" ||
		! wait_for_log "$2" VMMTEST-VSOCK-LISTENING 30 "$gpid"; then
		why[$1]="${why[$1]:+${why[$1]}; }run $run: the guest did not come up: $(tr -d '\r' <"$2" | grep -a -E 'VMMTEST|vmm:|qemu' | tail -n 5 | tr '\n' ';' || true)"
		return 1
	fi
}

# one NAME OP SEED: one transfer; adds its MiB/s to h2g[NAME] or g2h[NAME], or its
# failure to why[NAME].
one() {
	local out rc=0 r
	out=$("$VSOCK_TEST" client "${ep[$1]}" "$2" "$N" "$3" 2>&1) || rc=$?
	echo "vsock_perf: $1 run $run: $2: $out"
	r=$(echo "$out" | sed -n 's/.* mib_s=\([0-9.]*\).*/\1/p')
	if [ "$rc" != 0 ] || [[ $out != *" ok bytes=$N "* ]] || [ -z "$r" ]; then
		why[$1]="${why[$1]:+${why[$1]}; }run $run $2: exit $rc: $out"
	elif [ "$2" = sink ]; then
		h2g[$1]+=" $r"
	else
		g2h[$1]+=" $r"
	fi
}

# One guest at a time (two nested guests side by side have crashed the emulated test
# host's guests, docs/testing.md), a fresh one per run, vmm and QEMU taking turns.
for run in $(seq "$RUNS"); do
	for n in "${names[@]}"; do
		if boot "$n" "$w/$n-$run.log"; then
			one "$n" sink "$run"
			one "$n" source "$run"
		fi
		# vmm's guest powers off on SIGTERM (exit 0); QEMU ends on it.
		kill -TERM "$gpid" 2>/dev/null || true
		rc=0
		wait_pid "$gpid" 120 || rc=$?
		gpid=""
		if [ "$n" = vmm ] && [ "$rc" != 0 ]; then
			why[vmm]="${why[vmm]:+${why[vmm]}; }run $run: vmm exit $(describe_exit "$rc") after SIGTERM: $(tr -d '\r' <"$w/$n-$run.log" | grep -a 'vmm:' | tail -n 2 | tr '\n' ';' || true)"
		fi
	done
done

# stats VALUES: "median min max" of the values.
stats() {
	local m vals
	read -r -a vals <<<"$1"
	m=$(median "${vals[@]}")
	printf '%s %s\n' "$m" "$(printf '%s\n' "${vals[@]}" | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo, hi }')"
}
for n in vmm qemu; do
	t=vsock_perf_$n
	if [ "$n" = qemu ] && [ -n "$no_qemu" ]; then
		skip "$t" "$no_qemu"
		continue
	fi
	if [ -n "${why[$n]-}" ]; then fail "$t" "${why[$n]}"; else pass "$t"; fi
	for dir in host_to_guest guest_to_host; do
		if [ "$dir" = host_to_guest ]; then v=${h2g[$n]-}; else v=${g2h[$n]-}; fi
		[ -n "$v" ] || continue
		read -r med lo hi <<<"$(stats "$v")"
		echo "METRIC ${t}_${dir}_mib_s $med"
		echo "METRIC ${t}_${dir}_min_mib_s $lo"
		echo "METRIC ${t}_${dir}_max_mib_s $hi"
		echo "vsock_perf: $n $dir MiB/s: median $med, min $lo, max $hi (runs:$v)"
	done
done
if [ -n "${h2g[vmm]-}" ] && [ -n "${h2g[qemu]-}" ]; then
	for dir in host_to_guest guest_to_host; do
		if [ "$dir" = host_to_guest ]; then a=${h2g[vmm]} b=${h2g[qemu]}; else a=${g2h[vmm]-} b=${g2h[qemu]-}; fi
		if [ -z "$a" ] || [ -z "$b" ]; then continue; fi
		# shellcheck disable=SC2086
		echo "METRIC vsock_perf_ratio_$dir $(awk -v a="$(median $a)" -v b="$(median $b)" 'BEGIN { printf "%.2f", a / b }')"
	done
fi
