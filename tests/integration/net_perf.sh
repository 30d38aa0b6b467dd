#!/bin/bash
# net_perf: TCP throughput of one NIC, host to guest and guest to host, as a checksummed
# nc transfer of NET_PERF_MIB (default 128) MiB each way, for vmm's virtio-net and, with
# the harness's --with-qemu, QEMU's virtio-net-pci on the same TAP, kernel and guest
# image. The guest side is guest/init's `net` action; host to guest is timed here, guest
# to host by the guest, which sends with `tcp-rr send` (1 KiB writes, as busybox nc)
# and reports what its TCP saw: RTT, pacing rate, the TSO frame size Linux aims at
# ("guest's TCP" lines). Before the streams: the guest's idle ping round trip to the host
# (20 pings, 0.2 s apart) and NET_PERF_RR (default 2000) 1-byte TCP request/response
# transactions (tests/tools/tcp-rr.c, as netperf's TCP_RR, the test host asking). Each
# row gets the guest's interrupts and the test host's KVM exits per MiB or per
# transaction.
#
# The rows ("kinds"), each a fresh guest per run, taking turns run by run so that a
# change of the test host's speed falls on all of them:
#   vmm            vmm's userspace virtio-net, 1 vCPU, one queue pair
#   vmm_vhost      the same with vhost = true (the kernel's vhost-net moves the frames)
#   vmm_nohold     vmm without interrupt moderation (interrupt_hold_us = 0)
#   vmm_hold       vmm with interrupt_hold_us = NET_PERF_HOLD_US (default 200)
#   vmm_bounce     vmm receiving through its own buffer (rx_zero_copy = false)
#   vmm_mmio       arm64: vmm with virtio_transport = "mmio" (the default row is PCI with
#                  MSI-X where the test host's GIC is a GICv3)
#   vmm_mq2        2 vCPUs, queues = 2, on a multi-queue TAP (tests/tools/mqtap)
#   vmm_vhost_mq2  the same with vhost = true (a /dev/vhost-net per pair)
#   qemu           QEMU, -netdev tap,vhost=off (its userspace virtio-net)
#   qemu_vhost     QEMU, vhost=on
#   qemu_mq2       QEMU, 2 vCPUs, queues=2, mq=on, vhost=off
#   qemu_vhost_mq2 QEMU, 2 vCPUs, queues=2, mq=on, vhost=on
# Default: vmm vmm_vhost vmm_mq2, and with --with-qemu qemu qemu_vhost qemu_mq2; the
# vhost rows where the test host has /dev/vhost-net (vhost_net), the mq2 rows where it
# has mqtap. NET_PERF_KINDS="..." chooses the rows (NET_PERF_HOLD_OFF=1 adds
# vmm_nohold; NET_PERF_HOLD_US sets vmm_hold's interrupt_hold_us). In the 2-queue
# rows one TCP stream still rides one queue pair: they show
# what the second vCPU and queue cost or give a single flow, not a parallel load.
# NET_PERF_RUNS (default 1) runs of each give the medians, printed with their spread
# (min-max). Numbers are those of the test host (nested KVM under TCG): compare them as
# a ratio, not as absolute figures.
#
# NET_PERF_PROFILE=perf (and/or strace; needs the tools in the test host, see
# VMM_TESTHOST_TOOLS in tests/testhost/run) counts, for each VMM and direction, its
# syscalls, KVM exits and interrupts per thread (perf stat --per-thread on tracepoints),
# the KVM debugfs counters, or strace -c -f, and prints "PROFILE" lines per MiB.
GUEST_MEMORY_MIB=${GUEST_MEMORY_MIB:-512}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_vmm net_perf_vmm net_perf_qemu
# A benchmark, not a test: 128 MiB each way against fixed waits is at the mercy of the
# machine's load, and net_basic already checks checksummed streams both ways. It runs
# with --with-qemu (bench/run, or by hand), where its numbers have a baseline to meet.
if [ -z "$QEMU" ] && [ -z "${VMM_NET_PERF:-}" ]; then
	skip net_perf_vmm "benchmark: runs with --with-qemu (bench/run) or VMM_NET_PERF=1"
	skip net_perf_qemu "benchmark: runs with --with-qemu (bench/run)"
	exit 0
fi
w=$WORKDIR
MIB=${NET_PERF_MIB:-128}
RR_N=${NET_PERF_RR:-2000}
export LC_ALL=C

skip_all() {
	skip net_perf_vmm "$1"
	skip net_perf_qemu "$1"
	exit 0
}
for t in brctl tunctl ip nc md5sum; do
	command -v "$t" >/dev/null 2>&1 || skip_all "no $t in the test host"
done
[ -c /dev/net/tun ] || skip_all "no /dev/net/tun (tun module)"
[ "$(id -u)" = 0 ] || skip_all "making TAPs and bridges needs root"

cleanup() {
	[ -z "${gpid-}" ] || kill -KILL "$gpid" 2>/dev/null || true
	[ -z "${lpid-}" ] || kill "$lpid" 2>/dev/null || true
	tunctl -d vmmtap0 >/dev/null 2>&1 || [ -z "$MQTAP" ] || "$MQTAP" del vmmtap0 >/dev/null 2>&1 || true
	ip link set vmmbr0 down 2>/dev/null || true
	brctl delbr vmmbr0 2>/dev/null || true
}
trap cleanup EXIT
{ brctl addbr vmmbr0 && ip addr add 10.201.0.1/24 dev vmmbr0 && ip link set vmmbr0 up &&
	tunctl -t vmmtap0 >/dev/null && brctl addif vmmbr0 vmmtap0 && ip link set vmmtap0 up; } ||
	skip_all "cannot make bridge vmmbr0 and TAP vmmtap0"
# use_tap sq|mq: vmmtap0 single-queue (busybox tunctl) or multi-queue (mqtap, as netsetup
# makes them). A TAP is one or the other, and QEMU with one queue cannot open a
# multi-queue TAP (TUNSETIFF without IFF_MULTI_QUEUE: EINVAL), so the 2-queue rows get
# their own, remade in their turn under the same name (all the counters read vmmtap0).
tap_kind=sq
use_tap() {
	[ "$1" != "$tap_kind" ] || return 0
	ip link set vmmtap0 down 2>/dev/null || true
	if [ "$tap_kind" = sq ]; then tunctl -d vmmtap0 >/dev/null; else "$MQTAP" del vmmtap0 >/dev/null; fi
	if [ "$1" = mq ]; then "$MQTAP" add vmmtap0 >/dev/null; else tunctl -t vmmtap0 >/dev/null; fi
	brctl addif vmmbr0 vmmtap0 && ip link set vmmtap0 up
	tap_kind=$1
}

# 1 MiB of random bytes, repeated: as good as MIB MiB of them for TCP and md5, and
# cheap on the test host's emulated CPU.
head -c 1048576 /dev/urandom >"$w/block"
for i in $(seq "$MIB"); do cat "$w/block"; done >"$w/data"
sum=$(md5sum <"$w/data" | cut -d' ' -f1)
uptime_s() { cut -d' ' -f1 /proc/uptime; }

# The test host's KVM counters (debugfs; only the guest under test runs): exits and
# injected interrupts per MiB or per transaction, for every run.
mountpoint -q /sys/kernel/debug 2>/dev/null || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null || true
# kvm_mark: every counter of /sys/kernel/debug/kvm as NAME=VALUE words.
kvm_mark() {
	local f
	for f in /sys/kernel/debug/kvm/*; do
		[ -f "$f" ] && printf '%s=%s ' "${f##*/}" "$(cat "$f" 2>/dev/null)"
	done
}
# kvm_per MARK0 MARK1 DIVISOR UNIT: exits and injected interrupts per UNIT, then every
# other counter that moved (the kinds of exits: io_exits, halt_exits, ...).
kvm_per() {
	awk -v a="$1" -v b="$2" -v d="$3" -v u="$4" 'BEGIN {
		n = split(a, x, " "); for (i = 1; i <= n; i++) { split(x[i], kv, "="); v0[kv[1]] = kv[2] }
		n = split(b, y, " "); if (d <= 0) d = 1
		printf "exits/%s=%.2f irq_injections/%s=%.2f", u, (v1("exits") - v0["exits"]) / d, u, (v1("irq_injections") - v0["irq_injections"]) / d
		for (i = 1; i <= n; i++) { split(y[i], kv, "="); k = kv[1]
			if (k != "exits" && k != "irq_injections" && k in v0 && kv[2] - v0[k] > 0 && kv[2] ~ /^[0-9]+$/)
				printf " %s=%.2f", k, (kv[2] - v0[k]) / d }
	}
	function v1(k,   j, kv2) { for (j = 1; j <= n; j++) { split(y[j], kv2, "="); if (kv2[1] == k) return kv2[2] } return 0 }'
}

# --- profiling (NET_PERF_PROFILE) ---
PROFILE=${NET_PERF_PROFILE:-}
prof_pids=()
if [ -n "$PROFILE" ]; then
	mountpoint -q /sys/kernel/debug 2>/dev/null || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null || true
	mountpoint -q /sys/kernel/tracing 2>/dev/null || mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || true
	prof_events=task-clock,context-switches
	for e in raw_syscalls:sys_enter syscalls:sys_enter_read syscalls:sys_enter_readv \
		syscalls:sys_enter_write syscalls:sys_enter_writev syscalls:sys_enter_ioctl \
		syscalls:sys_enter_epoll_wait syscalls:sys_enter_epoll_pwait syscalls:sys_enter_epoll_ctl \
		syscalls:sys_enter_ppoll syscalls:sys_enter_io_uring_enter syscalls:sys_enter_futex \
		syscalls:sys_enter_sendmsg syscalls:sys_enter_recvmsg \
		kvm:kvm_exit kvm:kvm_userspace_exit kvm:kvm_mmio kvm:kvm_pio kvm:kvm_msi_set_irq \
		kvm:kvm_set_irq kvm:kvm_apic_accept_irq kvm:kvm_inj_virq kvm:kvm_vcpu_wakeup; do
		[ -d "/sys/kernel/tracing/events/${e%%:*}/${e#*:}" ] && prof_events=$prof_events,$e
	done
fi
kvm_stats() { # FILE: the KVM debugfs counters, name value
	local f
	: >"$1"
	for f in /sys/kernel/debug/kvm/*; do
		[ -f "$f" ] && echo "${f##*/} $(cat "$f" 2>/dev/null)" >>"$1"
	done
}
# prof_start NAME PHASE PID / prof_stop NAME PHASE: counts around one transfer.
prof_start() {
	local base=$w/prof.$1.$2
	prof_pids=()
	[ -n "$PROFILE" ] || return 0
	kvm_stats "$base.kvm0"
	case $PROFILE in *perf*)
		command perf stat --per-thread -x, -e "$prof_events" -p "$3" -o "$base.perf" 2>"$base.perf.err" &
		prof_pids+=($!) ;;
	esac
	case $PROFILE in *strace*)
		strace -c -f -p "$3" -o "$base.strace" 2>"$base.strace.err" &
		prof_pids+=($!) ;;
	esac
	sleep 2 # attached (perf is slow to start on the emulated CPU) before the transfer
	tap_bytes >"$base.tap0"
}
# tap_bytes: what crossed vmmtap0 both ways, in bytes (the per-MiB divisor: the guest's
# send may start before a profiler is attached).
tap_bytes() {
	local s=/sys/class/net/vmmtap0/statistics
	echo $(($(cat $s/rx_bytes) + $(cat $s/tx_bytes)))
}
prof_stop() {
	local base=$w/prof.$1.$2 p mib
	[ -n "$PROFILE" ] || return 0
	kvm_stats "$base.kvm1"
	mib=$(awk -v a="$(cat "$base.tap0")" -v b="$(tap_bytes)" 'BEGIN { m = (b - a) / 1048576; printf "%.2f", (m > 0.01 ? m : 0.01) }')
	echo "PROFILE $1 $2 tap_mib $mib"
	for p in "${prof_pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
	for p in "${prof_pids[@]}"; do wait "$p" 2>/dev/null || true; done
	prof_pids=()
	# KVM debugfs deltas (the whole test host: only this VM runs now), per MiB.
	awk -v n="$1" -v ph="$2" -v mib="$mib" 'NR == FNR { a[$1] = $2; next }
		($2 - a[$1]) > 0 { printf "PROFILE %s %s kvm %s %.0f %.1f/MiB\n", n, ph, $1, $2 - a[$1], ($2 - a[$1]) / mib }' \
		"$base.kvm0" "$base.kvm1"
	# perf stat --per-thread -x, : thread,count,unit,event,...; the threads and the sum.
	[ ! -s "$base.perf" ] || awk -F, -v n="$1" -v ph="$2" -v mib="$mib" '
		/^#/ || NF < 4 || $2 !~ /^[0-9.]+$/ { next }
		{ key = $1 " " $4; c[key] += $2; tot[$4] += $2 }
		END { for (k in c) if (c[k] > 0) printf "PROFILE %s %s thread %s %.0f %.1f/MiB\n", n, ph, k, c[k], c[k] / mib
		      for (e in tot) printf "PROFILE %s %s total %s %.0f %.1f/MiB\n", n, ph, e, tot[e], tot[e] / mib }' \
		"$base.perf" | sort
	[ ! -s "$base.perf.err" ] || sed "s/^/PROFILE $1 $2 perf-err /" "$base.perf.err" | head -n 5
	[ ! -s "$base.strace" ] || sed "s/^/PROFILE $1 $2 strace /" "$base.strace"
	[ ! -s "$base.strace.err" ] || sed "s/^/PROFILE $1 $2 strace-err /" "$base.strace.err" | head -n 5
}
# stall_report NAME LOG: what the VMM and the TAP show while a transfer makes no progress:
# vmm's virtqueues (vmm ctl queues: indices, kicks, interrupts, held frames), the TAP's
# counters, the state of each VMM thread, the test host's KVM counters per second since
# the previous report (a vCPU thread busy in KVM_RUN: a guest spinning by itself exits
# little, one the emulator or KVM keeps faulting exits all the time), and the end of
# the guest's console.
stall_kvm=""
stall_report() {
	local t st mark
	echo "net_perf: $1: no progress for 20 s; back $(stat -c %s "$w/back" 2>/dev/null) bytes"
	if [[ $1 == net_perf_vmm* ]]; then
		"$VMM" ctl netperf queues 2>&1 | tr ' ' '\n' | sed "s/^/net_perf: $1: queues /"
	fi
	for st in rx_packets tx_packets rx_dropped tx_dropped; do
		echo "net_perf: $1: vmmtap0 $st $(cat /sys/class/net/vmmtap0/statistics/$st)"
	done
	# Each thread's state, CPU time (utime+stime ticks: a thread that runs without
	# progress is busy, not waiting) and kernel stack; and the guest's console.
	for t in /proc/"$gpid"/task/*; do
		echo "net_perf: $1: thread $(cat "$t/comm" 2>/dev/null) $(cut -d' ' -f3 "$t/stat" 2>/dev/null) wchan=$(cat "$t/wchan" 2>/dev/null) ticks=$(awk '{ print $14 + $15 }' "$t/stat" 2>/dev/null) stack=$(cut -d' ' -f2 "$t/stack" 2>/dev/null | head -n 4 | tr '\n' ' ')"
	done
	mark=$(kvm_mark)
	[ -z "$stall_kvm" ] ||
		echo "net_perf: $1: KVM per second since the last report: $(kvm_per "$stall_kvm" "$mark" 20 s)"
	stall_kvm=$mark
	tr -d '\r' <"$2" | tail -n 15 | sed "s/^/net_perf: $1: console: /"
}
# wait_g2h NAME LOG: waits for the guest's send to end (its VMMTEST-NET-TX line), up to
# BOOT_TIMEOUT; after 20 s without a byte arriving, reports the state twice, 20 s apart
# (what changed between them tells a stall from a slow transfer). 1: no byte in the 20 s
# after the second report either (60 s in all): the run is dead, not slow.
wait_g2h() {
	local name=$1 log=$2 i=0 last=-1 still=0 reports=0 size
	stall_kvm=""
	while [ "$i" -lt "$BOOT_TIMEOUT" ]; do
		expect_in_log "$log" "VMMTEST-NET-TX " && return 0
		kill -0 "$gpid" 2>/dev/null || return 0
		size=$(stat -c %s "$w/back" 2>/dev/null || echo 0)
		if [ "$size" = "$last" ]; then
			still=$((still + 1))
		else
			still=0
			last=$size
		fi
		if [ "$still" -ge 20 ] && [ "$reports" -ge 2 ]; then
			return 1
		elif [ "$still" -ge 20 ]; then
			stall_report "$name" "$log"
			reports=$((reports + 1))
			still=0
		fi
		sleep 1
		i=$((i + 1))
	done
}
# guest_costs NAME LOG PHASE DIRECTION [DIVISOR UNIT]: the guest's own costs per MiB of
# one stream (or per UNIT, DIVISOR of them), from its VMMTEST-NET-COUNTERS lines PHASE0
# and PHASE1 (guest/init): CPU in ms (USER_HZ ticks), virtio-net interrupts, softirqs
# and TCP segments.
guest_costs() {
	tr -d '\r' <"$2" | awk -v p="$3" -v mib="${5:-$MIB}" -v label="net_perf: $1: run $run: guest per ${6:-MiB} $4:" '
		$1 == "VMMTEST-NET-COUNTERS" && ($2 == p "0" || $2 == p "1") {
			for (i = 3; i <= NF; i++) {
				split($i, kv, "=")
				if ($2 == p "0") a[kv[1]] = kv[2]; else { b[kv[1]] = kv[2]; keys[++n] = kv[1] }
			}
		}
		END {
			if (!n) exit
			line = label
			for (i = 1; i <= n; i++) {
				k = keys[i]; d = b[k] - a[k]
				if (k ~ /^cpu_/) line = line sprintf(" %s_ms=%.3g", k, d * 10 / mib)
				else line = line sprintf(" %s=%.3g", k, d / mib)
			}
			print line
		}'
}
rate() { awk "BEGIN { d = $1; if (d <= 0) d = 0.01; printf \"%.2f\", $MIB / d }"; }

# rr NAME: the request/response row against the guest's tcp-rr server (port 9003): adds
# this run's transactions/s and median latency to rrs[NAME] and rrlat[NAME].
rr() {
	local name=$1 out k0 k1 rate p50
	if [ -z "${TCP_RR:-}" ] || [ ! -x "$TCP_RR" ]; then
		run_failed "$name" "run $run: no tcp-rr in the test host (tests/tools/tcp-rr.c; TCP_RR)"
		return 0
	fi
	k0=$(kvm_mark)
	out=$("$TCP_RR" client 10.201.0.2 9003 "$RR_N" 2>&1)
	k1=$(kvm_mark)
	rate=$(echo "$out" | sed -n 's/^TCP-RR .* rate=\([0-9]*\) .*/\1/p')
	p50=$(echo "$out" | sed -n 's/^TCP-RR .* p50_us=\([0-9]*\) .*/\1/p')
	if [ -z "$rate" ] || [ -z "$p50" ]; then
		run_failed "$name" "run $run: tcp-rr: $(echo "$out" | tail -n 2 | tr '\n' ' ')"
		return 0
	fi
	echo "net_perf: $name: run $run: TCP_RR $out"
	echo "net_perf: $name: run $run: host per transaction TCP_RR: $(kvm_per "$k0" "$k1" "$RR_N" transaction)"
	rrs[$name]+=" $rate"
	rrlat[$name]+=" $p50"
}

# perf NAME LOG: the transfers against the guest started as $gpid; adds this run's
# MiB/s to h2gs[NAME] and g2hs[NAME], or adds the run's failure to failed[NAME].
declare -A h2gs g2hs failed rrs rrlat rtts
run_failed() { failed[$1]+="${failed[$1]:+; }$2"; }
perf() {
	local name=$1 log=$2 t0 t1 i rx secs h2g g2h k0 k1 k2 rtt served
	if ! wait_for_log "$log" "VMMTEST-NET-HTTPD ready" "$BOOT_TIMEOUT" "$gpid"; then
		run_failed "$name" "run $run: the guest did not come up: $(tr -d '\r' <"$log" | grep -a -E 'VMMTEST|vmm:|qemu' | tail -n 5 | tr '\n' ';')"
		kill -KILL "$gpid" 2>/dev/null || true
		return 0
	fi
	# Progress on the console: the harness takes a silent test host as stuck.
	echo "net_perf: $name: guest up, $RR_N request/response transactions"
	rr "$name"
	echo "net_perf: $name: sending $MIB MiB"
	rm -f "$w/hold" "$w/back"
	mkfifo "$w/hold"
	nc -l -p 9001 >"$w/back" 0<>"$w/hold" &
	lpid=$!
	prof_start "$name" h2g "$gpid"
	k0=$(kvm_mark)
	t0=""
	for i in 1 2 3 4 5 6 7 8 9 10; do
		t0=$(uptime_s)
		nc -w 10 10.201.0.2 9000 <"$w/data" 2>/dev/null && break
		t0=""
		sleep 1
	done
	t1=$(uptime_s)
	k1=$(kvm_mark)
	prof_stop "$name" h2g
	prof_start "$name" g2h "$gpid"
	echo "net_perf: $name: host to guest done, the guest sends it back"
	if ! wait_g2h "$name" "$log"; then
		kill -KILL "$gpid" 2>/dev/null || true
		wait "$gpid" 2>/dev/null || true
		gpid=""
		kill "$lpid" 2>/dev/null || true
		lpid=""
		prof_stop "$name" g2h
		run_failed "$name" "run $run: the guest's send stalled: no byte for 60 s after $(stat -c %s "$w/back" 2>/dev/null) bytes (the state above)"
		echo "net_perf: $name: run $run: stalled, guest killed"
		return 0
	fi
	i=0
	while kill -0 "$lpid" 2>/dev/null && [ "$i" -lt 300 ]; do
		sleep 0.2
		i=$((i + 1))
	done
	# A listener left over from a failed transfer would hold this test's output open
	# (and run-tests would wait for it until the test's time limit).
	kill "$lpid" 2>/dev/null || true
	lpid=""
	k2=$(kvm_mark)
	prof_stop "$name" g2h
	if ! kill -0 "$gpid" 2>/dev/null; then
		# Gone before its send ended: nobody to knock at (a connect to a dead address
		# waits two minutes per try, in silence).
		local rc=0
		wait "$gpid" 2>/dev/null || rc=$?
		gpid=""
		echo "net_perf: $name: run $run: the guest's VMM exited ($(describe_exit "$rc")) during the guest's send; the end of its log:"
		tr -d '\r' <"$log" | tail -n 40 | sed "s/^/net_perf: $name: log: /"
		run_failed "$name" "run $run: the VMM exited ($(describe_exit "$rc")) while the guest was sending, after $(stat -c %s "$w/back" 2>/dev/null) bytes"
		return 0
	fi
	# vmm's own count of the interrupts it decided, and how many of them it held;
	# and of the frames it received, how many went straight into the guest's
	# buffers (rx_zerocopy) rather than through its bounce buffer.
	case $name in net_perf_vmm*)
		local qs
		qs=$("$VMM" ctl netperf queues 2>&1 || true)
		echo "net_perf: $name: run $run: vmm interrupts $(grep -o 'irq_sent=[0-9]* irq_held=[0-9]*\( tx_deferred=[0-9]*\)\?' <<<"$qs" | head -n 1)"
		echo "net_perf: $name: run $run: vmm frames $(grep -o 'rx_frames=[0-9]* tx_frames=[0-9]* rx_zerocopy=[0-9]*' <<<"$qs" | head -n 1)" ;;
	esac
	# The guest listens on 9002 once its send has ended: knock until it answers.
	for i in 1 2 3 4 5 6 7 8 9 10; do
		nc -w 10 10.201.0.2 9002 </dev/null >/dev/null 2>&1 && break
		kill -0 "$gpid" 2>/dev/null || break
		sleep 1
	done
	wait_pid "$gpid" 120 || true
	gpid=""
	rx=$(tr -d '\r' <"$log" | sed -n 's/.*VMMTEST-NET-RX bytes=\([0-9]*\) md5=\([0-9a-f]*\).*/\1 \2/p')
	secs=$(tr -d '\r' <"$log" | sed -n 's/.*VMMTEST-NET-TX bytes=[0-9]* seconds=\([0-9.]*\).*/\1/p')
	if [ -n "$t0" ] && [ "$rx" = "$((MIB * 1048576)) $sum" ] && [ -n "$secs" ] &&
		[ "$(md5sum <"$w/back" | cut -d' ' -f1)" = "$sum" ]; then
		h2g=$(rate "$(awk "BEGIN { print $t1 - $t0 }")")
		g2h=$(rate "$secs")
		echo "net_perf: $name: run $run: host to guest $h2g MiB/s, guest to host $g2h MiB/s"
		guest_costs "$name" "$log" rx host_to_guest
		guest_costs "$name" "$log" tx guest_to_host
		tr -d '\r' <"$log" | sed -n "s/.*VMMTEST-NET-TCP-SEND /net_perf: $name: run $run: guest's TCP guest_to_host: /p" | tail -n 1
		echo "net_perf: $name: run $run: host per MiB host_to_guest: $(kvm_per "$k0" "$k1" "$MIB" MiB)"
		echo "net_perf: $name: run $run: host per MiB guest_to_host: $(kvm_per "$k1" "$k2" "$MIB" MiB)"
		h2gs[$name]+=" $h2g"
		g2hs[$name]+=" $g2h"
	else
		run_failed "$name" "run $run: sent=${t0:+yes} guest got '$rx' (want '$((MIB * 1048576)) $sum'), back $(stat -c %s "$w/back" 2>/dev/null) bytes, guest send ${secs:-failed}"
	fi
	served=$(tr -d '\r' <"$log" | sed -n 's/.*TCP-RR served transactions=\([0-9]*\).*/\1/p' | head -n 1)
	[ -z "$served" ] || guest_costs "$name" "$log" rr TCP_RR "$served" transaction
	rtt=$(tr -d '\r' <"$log" | sed -n 's/.*VMMTEST-NET-RTT n=[0-9]* median_us=\([0-9]*\).*/\1/p')
	if [ -n "$rtt" ]; then
		echo "net_perf: $name: run $run: idle ping $(tr -d '\r' <"$log" | grep -a -o 'VMMTEST-NET-RTT.*')"
		rtts[$name]+=" $rtt"
	else
		run_failed "$name" "run $run: no idle ping round trip: $(tr -d '\r' <"$log" | grep -a -o 'VMMTEST-NET-RTT.*')"
	fi
}

# spread LIST: "min-max" of the numbers.
spread() { printf '%s\n' "$@" | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo "-" hi }'; }
# metric NAME KEY LIST: METRIC NAME_KEY MEDIAN, and the median beside its spread.
metric() {
	local n=$1 k=$2
	shift 2
	[ $# -gt 0 ] || return 0
	local sp
	sp=$(spread "$@")
	echo "METRIC ${n}_$k $(median "$@")"
	echo "METRIC ${n}_${k}_min ${sp%-*}"
	echo "METRIC ${n}_${k}_max ${sp#*-}"
	echo "net_perf: $n: $k median $(median "$@") (spread $sp, $# runs)"
}

# verdict NAME: PASS with the medians, or FAIL; the medians of the runs that passed
# either way (a benchmark: one guest lost to the test host's emulator, see
# docs/performance.md, leaves the other runs' figures standing).
verdict() {
	local ok
	ok=$(echo "${h2gs[$1]-}" | wc -w)
	if [ -n "${failed[$1]-}" ]; then
		fail "$1" "${failed[$1]}"
	else
		pass "$1"
	fi
	[ "$ok" -gt 0 ] || return 0
	echo "METRIC ${1}_runs $ok"
	# shellcheck disable=SC2086 # the lists are words
	metric "$1" host_to_guest_mib_s ${h2gs[$1]}
	# shellcheck disable=SC2086
	metric "$1" guest_to_host_mib_s ${g2hs[$1]}
	# shellcheck disable=SC2086
	metric "$1" tcp_rr_tps ${rrs[$1]-}
	# shellcheck disable=SC2086
	metric "$1" tcp_rr_p50_us ${rrlat[$1]-}
	# shellcheck disable=SC2086
	metric "$1" idle_rtt_us ${rtts[$1]-}
}

# vmm's configurations, one per kind.
make_config netperf 1 "vmmtest=net vmmtest.rr=9003 net.ifnames=0" >"$w/vmm.toml"
printf '\n[[net]]\ntap = "vmmtap0"\nbridge = "vmmbr0"\nsubnet = "10.201.0.0/24"\n' >>"$w/vmm.toml"
{ cat "$w/vmm.toml"; echo "vhost = true"; } >"$w/vmm_vhost.toml"
{ cat "$w/vmm.toml"; echo "interrupt_hold_us = 0"; } >"$w/vmm_nohold.toml"
{ cat "$w/vmm.toml"; echo "rx_zero_copy = false"; } >"$w/vmm_bounce.toml"
{ cat "$w/vmm.toml"; echo "interrupt_hold_us = ${NET_PERF_HOLD_US:-200}"; } >"$w/vmm_hold.toml"
VIRTIO_TRANSPORT=mmio make_config netperf 1 "vmmtest=net vmmtest.rr=9003 net.ifnames=0" >"$w/vmm_mmio.toml"
printf '\n[[net]]\ntap = "vmmtap0"\nbridge = "vmmbr0"\nsubnet = "10.201.0.0/24"\n' >>"$w/vmm_mmio.toml"
make_config netperf 2 "vmmtest=net vmmtest.rr=9003 net.ifnames=0" >"$w/vmm_mq2.toml"
printf '\n[[net]]\ntap = "vmmtap0"\nbridge = "vmmbr0"\nsubnet = "10.201.0.0/24"\nqueues = 2\n' >>"$w/vmm_mq2.toml"
{ cat "$w/vmm_mq2.toml"; echo "vhost = true"; } >"$w/vmm_vhost_mq2.toml"

modprobe vhost_net 2>/dev/null || true
# The rows to run (see the top): NET_PERF_KINDS, or those this test host can run.
# NET_PERF_VHOST=1 (before the vmm_vhost row existed: vmm's only row on vhost-net)
# is the vmm_vhost row alone.
if [ -n "${NET_PERF_KINDS:-}" ]; then
	kinds=${NET_PERF_KINDS//,/ }
elif [ "${NET_PERF_VHOST:-0}" = 1 ]; then
	kinds="vmm_vhost${QEMU:+ qemu_vhost}"
else
	kinds="vmm vmm_vhost vmm_mq2${QEMU:+ qemu qemu_vhost qemu_mq2}"
	[ "${NET_PERF_HOLD_OFF:-0}" = 0 ] || kinds="$kinds vmm_nohold"
fi
declare -A why_not
for k in $kinds; do
	case $k in
	vmm | vmm_vhost | vmm_nohold | vmm_hold | vmm_bounce | vmm_mmio | vmm_mq2 | vmm_vhost_mq2 | qemu | qemu_vhost | qemu_mq2 | qemu_vhost_mq2) ;;
	*) fail net_perf_vmm "NET_PERF_KINDS: unknown row '$k' (vmm vmm_vhost vmm_nohold vmm_hold vmm_bounce vmm_mmio vmm_mq2 vmm_vhost_mq2 qemu qemu_vhost qemu_mq2 qemu_vhost_mq2)"
		exit 0 ;;
	esac
	case $k in qemu*) [ -n "$QEMU" ] || why_not[$k]="no QEMU (run the harness with --with-qemu)" ;; esac
	case $k in *vhost*) [ -c /dev/vhost-net ] || why_not[$k]="no /dev/vhost-net in the test host (the vhost_net module)" ;; esac
	case $k in *mq2) [ -n "$MQTAP" ] || why_not[$k]="no tests/tools/mqtap in the test host for a multi-queue TAP" ;; esac
	[ "$k" != vmm_mmio ] || [ "$(uname -m)" = aarch64 ] || why_not[$k]="virtio-mmio is aarch64 only"
done
run_kinds=""
for k in $kinds; do [ -n "${why_not[$k]-}" ] || run_kinds="$run_kinds $k"; done
echo "net_perf: rows:$run_kinds; $MIB MiB each way, $RR_N transactions, ${NET_PERF_RUNS:-1} runs each"

# QEMU's virtio-net-pci on the same TAP and guest: KIND LOG.
qemu_start() {
	local vhost=off smp=1 netq="" devq=""
	case $1 in *vhost*) vhost=on ;; esac
	case $1 in *mq2)
		# Two pairs and their vectors (2 per pair, 1 config, 1 control), as
		# docs/multiqueue in QEMU's tree asks.
		smp=2 netq=,queues=2 devq=,mq=on$(qemu_pci_opt ,vectors=6) ;;
	esac
	# microvm with its PCIe host (ACPI, MCFG) so that the NIC is virtio-net-pci as ours
	# is; romfile= : no option ROM (no firmware runs it).
	# arm64: virt (lib.sh's qemu_machine, qemu_dev).
	qemu_machine microvm,pcie=on
	"${qemu_base[@]}" -m "$GUEST_MEMORY_MIB" -smp "$smp" \
		-nographic -no-reboot -kernel "$GUEST_KERNEL" -initrd "$GUEST_INITRD" \
		-append "$QEMU_CMDLINE_BASE vmmtest=net vmmtest.rr=9003 net.ifnames=0 ip=10.201.0.2::10.201.0.1:255.255.255.0::eth0:off" \
		-netdev tap,id=n0,ifname=vmmtap0,script=no,downscript=no,"vhost=$vhost$netq" \
		-device "$(qemu_dev virtio-net),netdev=n0,mac=02:00:00:00:01:02$(qemu_pci_opt ,romfile=)$devq" \
		</dev/null >"$2" 2>&1 &
	gpid=$!
}

# The rows take turns, NET_PERF_RUNS (default 1) runs each, a fresh guest per run; the
# figures are the medians of the runs that passed.
runs=${NET_PERF_RUNS:-1}
for run in $(seq "$runs"); do
	for k in $run_kinds; do
		case $k in *mq2) use_tap mq ;; *) use_tap sq ;; esac
		case $k in
		vmm*)
			start_vmm "$w/$k.toml" "$w/$k-$run.log"
			gpid=$VMM_PID ;;
		*) qemu_start "$k" "$w/$k-$run.log" ;;
		esac
		perf "net_perf_$k" "$w/$k-$run.log"
	done
done
for k in $kinds; do
	if [ -n "${why_not[$k]-}" ]; then
		skip "net_perf_$k" "${why_not[$k]}"
	else
		verdict "net_perf_$k"
	fi
done
# ratio KEY A B LIST_A LIST_B: METRIC net_perf_ratio_KEY, A's median over B's.
ratio() {
	[ -n "$4" ] && [ -n "$5" ] || return 0
	local r
	# shellcheck disable=SC2086 # the lists are words
	r=$(awk -v a="$(median $4)" -v b="$(median $5)" 'BEGIN { if (b > 0) printf "%.2f", a / b }')
	echo "METRIC net_perf_ratio_$1 $r"
	echo "net_perf: ratio $1: $2 / $3 = $r"
}
# best KEY max|min KIND...: the list of the kind whose median is best.
best() {
	local key=$1 how=$2 k l m bl="" bm=""
	shift 2
	for k in "$@"; do
		case $key in
		rr) l=${rrs[net_perf_$k]-} ;;
		rtt) l=${rtts[net_perf_$k]-} ;;
		esac
		[ -n "$l" ] || continue
		# shellcheck disable=SC2086
		m=$(median $l)
		if [ -z "$bm" ] || awk -v a="$m" -v b="$bm" -v h="$how" 'BEGIN { exit !(h == "max" ? a > b : a < b) }'; then
			bl=$l bm=$m
		fi
	done
	echo "$bl"
}
# Each vmm row against QEMU's like row, then request/response and idle latency of each
# VMM's best row against the other's best.
for pair in "vmm qemu" "vmm_vhost qemu_vhost" "vmm_mq2 qemu_mq2" "vmm_mq2 qemu_vhost_mq2" \
	"vmm_vhost_mq2 qemu_vhost_mq2"; do
	read -r a b <<<"$pair"
	pre=""
	[ "$a" = vmm ] || pre=${a#vmm_}_
	[ "$a $b" != "vmm_mq2 qemu_vhost_mq2" ] || pre=mq2_vs_vhost_
	ratio "${pre}host_to_guest" "$a" "$b" "${h2gs[net_perf_$a]-}" "${h2gs[net_perf_$b]-}"
	ratio "${pre}guest_to_host" "$a" "$b" "${g2hs[net_perf_$a]-}" "${g2hs[net_perf_$b]-}"
	ratio "${pre}tcp_rr" "$a" "$b" "${rrs[net_perf_$a]-}" "${rrs[net_perf_$b]-}"
	ratio "${pre}idle_rtt" "$a" "$b" "${rtts[net_perf_$a]-}" "${rtts[net_perf_$b]-}"
done
vmm_rows=$(for k in $run_kinds; do case $k in vmm*) echo "$k" ;; esac; done)
qemu_rows=$(for k in $run_kinds; do case $k in qemu*) echo "$k" ;; esac; done)
# shellcheck disable=SC2086 # the rows are words
ratio best_tcp_rr "vmm's best" "QEMU's best" "$(best rr max $vmm_rows)" "$(best rr max $qemu_rows)"
# shellcheck disable=SC2086
ratio best_idle_rtt "vmm's best" "QEMU's best" "$(best rtt min $vmm_rows)" "$(best rtt min $qemu_rows)"
