#!/bin/bash
# scale: time and host memory to start 1, 4, 16 guests at once (SCALE_COUNTS), for vmm
# and, when $QEMU is set, for QEMU's microvm machine with the same kernel, initramfs and
# command line (guest/init's `wait` action). For each count N: MemAvailable is read,
# N VMMs are started back to back, and the test waits until every console shows
# VMMTEST-WAITING. start_ms is the wall time from the first start to the last guest
# ready, ms_per_vm start_ms / N; mem_mib is MemAvailable before minus MemAvailable then (rss_mib: the VMM
# processes' summed VmRSS, guest RAM they touched included); mem_per_vm_mib is
# mem_mib / N. Then all are stopped (vmm: SIGTERM, a clean guest poweroff; QEMU: SIGTERM)
# and MemAvailable must come back before the next N. vmm and QEMU take turns at each N,
# so both see the same load. A count the test host cannot hold (MemAvailable below N
# times the previous batch's per-VM cost, plus headroom), or one that would not finish in
# the time run-tests gives the test (SCALE_BUDGET_S, 570 of its 600 s), ends that VMM's
# series with a note, not a failure. Nested guests under an emulated CPU: compare vmm
# with QEMU, and N with N, not with native figures.
GUEST_MEMORY_MIB=${GUEST_MEMORY_MIB:-128}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

# A benchmark, not a test (sigterm and qemu_microvm check one guest's boot and stop): it
# runs with --with-qemu (bench/run), where its numbers have a baseline, or with
# SCALE_PERF=1 (tests/testhost/run and run-arm64 pass it, and SCALE_COUNTS, to the test host).
if [ -z "$QEMU" ] && [ -z "${SCALE_PERF:-}" ]; then
	skip scale_vmm "benchmark: runs with --with-qemu (bench/run) or SCALE_PERF=1"
	skip scale_qemu "benchmark: runs with --with-qemu (bench/run)"
	exit 0
fi

counts=${SCALE_COUNTS:-1 4 16}
# Seconds for all N guests of one batch to come up: nested guests share the test host's
# CPUs, so a batch of N takes about N times one boot.
per_vm_timeout=${SCALE_VM_TIMEOUT:-30}
# MemAvailable (MiB) a batch needs before it starts: half of each guest's RAM (guests
# touch only part of it) plus a per-VMM allowance, and a margin for the test host.
vmm_overhead_mib=${SCALE_VMM_OVERHEAD_MIB:-64}
margin_mib=${SCALE_MARGIN_MIB:-256}
w=$WORKDIR
mkdir -p "$w/vms"

now_ms() {
	local up
	read -r up _ </proc/uptime
	echo $((${up%.*} * 1000 + 10#${up#*.} * 10))
}
mem_avail_kb() { awk '$1 == "MemAvailable:" { print $2 }' /proc/meminfo; }
# rss_kb PID...: the summed VmRSS of the PIDs that still run.
rss_kb() {
	local files=() p
	for p in "$@"; do [ -r "/proc/$p/status" ] && files+=("/proc/$p/status"); done
	[ ${#files[@]} -gt 0 ] || { echo 0; return; }
	awk '$1 == "VmRSS:" { s += $2 } END { print s + 0 }' "${files[@]}" 2>/dev/null || echo 0
}
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
log_tail() { tr -d '\r' <"$1" | grep -v '^$' | tail -n 5 | tr '\n' ';'; }

# start_one KIND NAME LOG: starts one guest; sets gpid.
start_one() {
	local kind=$1 name=$2 log=$3
	if [ "$kind" = vmm ]; then
		make_config "$name" 1 "vmmtest=wait" >"$w/vms/$name.toml"
		start_vmm "$w/vms/$name.toml" "$log"
		gpid=$VMM_PID
	else
		qemu_machine microvm
		"${qemu_base[@]}" -m "$GUEST_MEMORY_MIB" -smp 1 \
			-nographic -no-reboot -kernel "$GUEST_KERNEL" -initrd "$GUEST_INITRD" \
			-append "$QEMU_CMDLINE_BASE vmmtest=wait" </dev/null >"$log" 2>&1 &
		gpid=$!
	fi
}

# stop_all KIND: SIGTERM to every guest of the batch, SIGKILL to those still there after
# 60 s; notes exit statuses other than a clean one.
stop_all() {
	local kind=$1 i left t_end rc bad=""
	for i in "${!pids[@]}"; do kill -TERM "${pids[$i]}" 2>/dev/null || true; done
	t_end=$(($(now_ms) + 60000))
	while :; do
		left=0
		for i in "${!pids[@]}"; do kill -0 "${pids[$i]}" 2>/dev/null && left=$((left + 1)); done
		if [ "$left" = 0 ] || [ "$(now_ms)" -ge "$t_end" ]; then break; fi
		sleep 0.5
	done
	if [ "$left" -gt 0 ]; then
		echo "scale: $kind N=$n: $left VMM(s) still running 60 s after SIGTERM; SIGKILL"
		for i in "${!pids[@]}"; do kill -KILL "${pids[$i]}" 2>/dev/null || true; done
	fi
	for i in "${!pids[@]}"; do
		rc=0
		wait "${pids[$i]}" 2>/dev/null || rc=$?
		# vmm: 0 is a clean poweroff; QEMU ends on the signal (143) or with 0.
		case $kind:$rc in
		vmm:0 | qemu:0 | qemu:143) ;;
		*) bad="$bad ${names[$i]}=$(describe_exit "$rc")" ;;
		esac
	done
	[ -z "$bad" ] || echo "scale: $kind N=$n: note: exits after the stop:$bad"
}

# wait_mem_back BEFORE_KB T_STOP_MS: waits up to 30 s for MemAvailable to come back within
# 32 MiB of BEFORE_KB, and says how close it got.
wait_mem_back() {
	local before=$1 t_stop=$2 i now
	for i in $(seq 60); do
		now=$(mem_avail_kb)
		[ $((before - now)) -gt 32768 ] || break
		sleep 0.5
	done
	if [ $((before - now)) -gt 32768 ]; then
		echo "scale: $kind N=$n: note: MemAvailable $(mib "$now") MiB after the stop, $(mib "$before") MiB before the start"
	else
		echo "scale: $kind N=$n: stopped in $((($(now_ms) - t_stop) / 1000)) s; MemAvailable back to $(mib "$now") MiB ($(mib "$before") before)"
	fi
}

# batch KIND N: one batch of N guests of KIND; prints its METRIC lines. Sets batch_failed
# (why a guest did not come up) or batch_skipped (why the batch did not start).
batch() {
	local kind=$1 n=$2 prefix=${prefix_of[$1]} i t0 t_end t_last now avail before need_mib
	local last_progress used rss left limit_s est_s remaining_s t_stop
	batch_failed=""
	batch_skipped=""
	before=$(mem_avail_kb)
	# MiB per guest: the previous batch's figure with 15% headroom, or a first guess.
	if [ -n "${per_vm_kb[$kind]-}" ]; then
		need_mib=$((n * per_vm_kb[$kind] * 115 / 100 / 1024 + margin_mib))
	else
		need_mib=$((n * (GUEST_MEMORY_MIB / 2 + vmm_overhead_mib) + margin_mib))
	fi
	if [ $((before / 1024)) -lt "$need_mib" ]; then
		batch_skipped="$((before / 1024)) MiB available, N=$n needs about $need_mib MiB (--memory raises it)"
		return 0
	fi
	# Time: a batch takes about N times one boot (the guests share the test host's CPUs);
	# what run-tests' watchdog leaves must cover it and the stop.
	remaining_s=$((budget_s - ($(now_ms) - script_t0) / 1000))
	est_s=$((n * per_vm_timeout / 3))
	[ -z "${last_ms[$kind]-}" ] || est_s=$((last_ms[$kind] * n / last_n[$kind] / 1000))
	if [ $((remaining_s - stop_reserve_s)) -lt "$est_s" ]; then
		batch_skipped="${remaining_s} s left of the test's $budget_s s, N=$n takes about ${est_s} s (SCALE_BUDGET_S with --test-timeout)"
		return 0
	fi
	limit_s=$((BOOT_TIMEOUT > n * per_vm_timeout ? BOOT_TIMEOUT : n * per_vm_timeout))
	[ "$limit_s" -le $((remaining_s - stop_reserve_s)) ] || limit_s=$((remaining_s - stop_reserve_s))
	echo "scale: $kind N=$n: starting $n guest(s) of $GUEST_MEMORY_MIB MiB, MemAvailable $(mib "$before") MiB"
	pids=()
	names=()
	logs=()
	ready=()
	t0=$(now_ms)
	for i in $(seq "$n"); do
		names+=("scale-$kind-$n-$i")
		logs+=("$w/vms/scale-$kind-$n-$i.log")
		start_one "$kind" "scale-$kind-$n-$i" "$w/vms/scale-$kind-$n-$i.log"
		pids+=("$gpid")
		ready+=("")
	done
	t_end=$((t0 + limit_s * 1000))
	t_last=""
	last_progress=$t0
	while :; do
		left=0
		for i in "${!pids[@]}"; do
			[ -z "${ready[$i]}" ] || continue
			if grep -qF VMMTEST-WAITING "${logs[$i]}" 2>/dev/null; then
				ready[i]=$(now_ms)
				t_last=${ready[$i]}
			elif ! kill -0 "${pids[$i]}" 2>/dev/null; then
				batch_failed="${names[$i]} exited before VMMTEST-WAITING: $(log_tail "${logs[$i]}")"
				break 2
			else
				left=$((left + 1))
			fi
		done
		[ "$left" -gt 0 ] || break
		now=$(now_ms)
		if [ "$now" -ge "$t_end" ]; then
			for i in "${!pids[@]}"; do
				[ -z "${ready[$i]}" ] || continue
				batch_failed="${names[$i]} not up after $(((now - t0) / 1000)) s ($left of $n not up): $(log_tail "${logs[$i]}")"
				break
			done
			break
		fi
		if [ $((now - last_progress)) -ge 15000 ]; then
			echo "scale: $kind N=$n: $((n - left))/$n ready after $(((now - t0) / 1000)) s, MemAvailable $(mib "$(mem_avail_kb)") MiB"
			last_progress=$now
		fi
		sleep 0.2
	done
	if [ -z "$batch_failed" ]; then
		avail=$(mem_avail_kb)
		rss=$(rss_kb "${pids[@]}")
		used=$((before - avail))
		per_vm_kb[$kind]=$((used / n))
		last_ms[$kind]=$((t_last - t0))
		last_n[$kind]=$n
		echo "scale: $kind N=$n: all ready in $((t_last - t0)) ms; MemAvailable $(mib "$avail") MiB," \
			"used $(mib "$used") MiB, VMM VmRSS sum $(mib "$rss") MiB"
		# Per VM: the batch's time over N (what a host that starts N VMs pays
		# for each), and each guest's own wait from the batch's start, which
		# grows with N as the guests share the CPUs.
		echo "scale: $kind N=$n: per VM $(((t_last - t0) / n)) ms and $(awk -v k="$used" -v n="$n" \
			'BEGIN { printf "%.1f", k / 1024 / n }') MiB; each guest ready after (ms):" \
			"$(for i in "${!ready[@]}"; do echo $((ready[i] - t0)); done | sort -n | tr '\n' ' ')"
		echo "METRIC ${prefix}_scale_${n}_start_ms $((t_last - t0))"
		echo "METRIC ${prefix}_scale_${n}_ms_per_vm $(((t_last - t0) / n))"
		echo "METRIC ${prefix}_scale_${n}_mem_mib $(mib "$used")"
		echo "METRIC ${prefix}_scale_${n}_mem_per_vm_mib $(awk -v k="$used" -v n="$n" 'BEGIN { printf "%.1f", k / 1024 / n }')"
		echo "METRIC ${prefix}_scale_${n}_rss_mib $(mib "$rss")"
	else
		for i in "${!pids[@]}"; do
			[ -n "${ready[$i]}" ] || cp "${logs[$i]}" "$w/notready-${names[$i]}.log" 2>/dev/null || true
		done
	fi
	t_stop=$(now_ms)
	stop_all "$kind"
	wait_mem_back "$before" "$t_stop"
}

# The two VMMs take turns at each N, so that both see the same load on a shared machine.
script_t0=$(now_ms)
# run-tests kills a test after its --timeout (600 s by default), which the test cannot see.
budget_s=${SCALE_BUDGET_S:-570}
stop_reserve_s=40
declare -A prefix_of=([vmm]=vmm [qemu]=$QEMU_PREFIX) test_of=([vmm]=scale_vmm [qemu]=scale_qemu)
declare -A per_vm_kb=() last_ms=() last_n=() state=() reached=() why=()
kinds=()
if [ -z "$VMM" ]; then
	skip scale_vmm "no vmm binary (pass --vmm BUILD/vmm/vmm)"
elif [ ! -x "$VMM" ]; then
	fail scale_vmm "vmm binary $VMM is not executable"
else
	kinds+=(vmm)
fi
if [ -z "$QEMU" ]; then
	skip scale_qemu "no QEMU (run the harness with --with-qemu)"
else
	kinds+=(qemu)
fi
for n in $counts; do
	for kind in "${kinds[@]}"; do
		[ -z "${state[$kind]-}" ] || continue
		batch "$kind" "$n"
		if [ -n "$batch_failed" ]; then
			state[$kind]=failed
			why[$kind]="N=$n: $batch_failed"
		elif [ -n "$batch_skipped" ]; then
			state[$kind]=stopped
			echo "scale: $kind: note: stopping at N=${reached[$kind]:-0}: $batch_skipped"
		else
			reached[$kind]=$n
		fi
	done
done
for kind in "${kinds[@]}"; do
	if [ "${state[$kind]-}" = failed ]; then
		fail "${test_of[$kind]}" "${why[$kind]}"
	elif [ -z "${reached[$kind]-}" ]; then
		fail "${test_of[$kind]}" "not even N=${counts%% *} could start"
	else
		pass "${test_of[$kind]}"
		echo "scale: $kind: reached N=${reached[$kind]}"
	fi
done
