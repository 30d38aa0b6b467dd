#!/bin/bash
# hostile_guest: a guest that attacks vmm from inside (tests/tools/hostile.c, issue #18).
# The guest boots with rdinit=/usr/bin/hostile-init (tests/tools/hostile-init) and a
# target disk, a NIC (where this host can make a TAP), virtio-rng and a control disk
# (serial hostile-control) that the program leaves alone. It unbinds the drivers and
# drives every other virtio device itself with garbage registers, config space writes
# and malformed rings, then the platform registers; it rebinds the drivers, reads and
# writes the control disk, and waits for the host's go before it powers off. x86_64:
# virtio-pci and the legacy ports; aarch64: virtio-mmio and the UART, PL031, PL061 (not
# the power button's pin), boot timer and unbacked MMIO (docs/testing.md).
# Checks: the guest ran the program to its end and powered off with exit status 0
# (hostile_guest_runs); vmm answered `vmm ctl NAME status` throughout and after
# (hostile_vmm_responsive); the control disk reads and writes correctly, inside and
# from the host (hostile_control_disk); vmm's stderr stayed under its bound
# (hostile_log_bounded: guest-triggerable messages are rate-limited, at most 5 lines a
# minute per call site, so the bound grows with the run's minutes, never with the
# program's iterations: 100 + HOSTILE_LOG_PER_MIN (40) lines per started minute of the
# attack, or a fixed HOSTILE_LOG_MAX when that is set); each attacked
# device works again under its driver (hostile_rebind).
# Knobs: HOSTILE_SEED, HOSTILE_ITERATIONS (per device; default 2000, the guest's own
# default when the harness packs none), HOSTILE_LOG_MAX, HOSTILE_LOG_PER_MIN, HOSTILE_TIMEOUT (s, 480;
# 2000 iterations take about 4 minutes in an idle test host), HOSTILE_TRACE (1 or
# legacy: hostile.trace= on the guest's command line), HOSTILE_KVM_TRACE (1: the test
# host's KVM trace of the guest's last exits, printed on failure).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

tests=(hostile_guest_runs hostile_vmm_responsive hostile_control_disk hostile_log_bounded
	hostile_rebind)
require_vmm "${tests[@]}"
w=$WORKDIR
LOG_MAX=${HOSTILE_LOG_MAX:-}
LOG_PER_MIN=${HOSTILE_LOG_PER_MIN:-40}
LIMIT=${HOSTILE_TIMEOUT:-480}

arch=$(uname -m)
case $arch in
x86_64 | aarch64) ;;
*) skip_all "hostile knows virtio-pci with x86 ports (x86_64) and virtio-mmio (aarch64), not $arch" ;;
esac
# On x86_64, opt-in here: in a two-CPU test host the guest triple-faults in about 1
# of 4 runs with seed 1, in a different phase each time, although the program's
# accesses are the same in every run of a seed; a KVM trace (HOSTILE_KVM_TRACE=1)
# showed the emulator losing the guest's address translation across one port-read
# exit. With one test-host CPU it ran clean 10 times in 10, so tools/check runs it
# in a one-CPU test host of its own with VMM_HOSTILE=1 (docs/testing.md, "The
# hostile guest"). On aarch64 it runs by default.
if [ "$arch" = x86_64 ] && [ -z "${VMM_HOSTILE:-}" ]; then
	skip_all "runs in tools/check's one-CPU x86_64 test host (VMM_HOSTILE=1 --smp 1): in a two-CPU one the emulator triple-faults the guest in about 1 run of 4 (docs/testing.md)"
fi
export LC_ALL=C
text() { (yes "$1" || true) | head -c "$2"; }
show_log() {
	tr -d '\r' <"$w/console.log" | grep -a -E 'HOSTILE|hostile:|Kernel panic|BUG|Oops|vmm:' |
		grep -av 'hostile: trace' | sed 's/^/| /' | tail -n "${1:-40}"
}

# The NIC: a bridge and a TAP as net_basic makes them, where possible.
have_net=0
cleanup() {
	[ -z "${vmm_pid-}" ] || kill -KILL "$vmm_pid" 2>/dev/null || true
	if [ "$have_net" = 1 ]; then
		tunctl -d vmmtaph0 >/dev/null 2>&1 || true
		ip link set vmmbrh0 down 2>/dev/null || true
		brctl delbr vmmbrh0 2>/dev/null || true
	fi
}
trap cleanup EXIT
if [ "$(id -u)" = 0 ] && [ -c /dev/net/tun ] && command -v brctl >/dev/null 2>&1 &&
	command -v tunctl >/dev/null 2>&1 && command -v ip >/dev/null 2>&1; then
	if brctl addbr vmmbrh0 && ip addr add 10.209.0.1/24 dev vmmbrh0 && ip link set vmmbrh0 up &&
		tunctl -t vmmtaph0 >/dev/null && brctl addif vmmbrh0 vmmtaph0 && ip link set vmmtaph0 up; then
		have_net=1
	else
		echo "hostile_guest: no TAP (bridge vmmbrh0 / vmmtaph0 failed): running without a NIC"
	fi
else
	echo "hostile_guest: no TAP here (needs root, /dev/net/tun, brctl, tunctl, ip): running without a NIC"
fi

# The target disk (scratch: the program writes garbage to it) and the control disk.
text CONTROL-DISK-CONTENT 4194304 >"$w/ctrl.img"
ctrl_md5=$(head -c 1048576 "$w/ctrl.img" | md5sum | cut -d' ' -f1)

extra="rdinit=/usr/bin/hostile-init printk.devkmsg=on"
# aarch64: the program reaches virtio-mmio and the platform devices through /dev/mem,
# which Debian's arm64 kernel (CONFIG_IO_STRICT_DEVMEM) refuses for pages a driver
# claimed; the control disk's slot shares a 4 KiB page with the targets'.
[ "$arch" != aarch64 ] || extra="$extra iomem=relaxed"
[ -z "${HOSTILE_SEED-}" ] || extra="$extra hostile.seed=$HOSTILE_SEED"
[ -z "${HOSTILE_ITERATIONS-}" ] || extra="$extra hostile.iterations=$HOSTILE_ITERATIONS"
[ -z "${HOSTILE_TRACE-}" ] || extra="$extra hostile.trace=${HOSTILE_TRACE//[^a-z0-9]/}"
# On arm64 the program drives virtio-mmio registers (guest/hostile), so the guest gets
# that transport; arm64's PCI (ECAM) is fuzzed instead (fuzz_pci_ecam).
if [ "$arch" = aarch64 ]; then
	VIRTIO_TRANSPORT=mmio make_config hostile 1 "$extra" >"$w/vm.toml"
else
	make_config hostile 1 "$extra" >"$w/vm.toml"
fi
cat >>"$w/vm.toml" <<EOT

[[disk]]
path = "target.img"
size_mib = 16
serial = "hostile-target"

[[disk]]
path = "ctrl.img"
serial = "hostile-control"
EOT
if [ "$have_net" = 1 ]; then
	printf '\n[[net]]\ntap = "vmmtaph0"\n' >>"$w/vm.toml"
fi

# HOSTILE_KVM_TRACE=1: the test host's KVM records the guest's VM exits (with its RIP),
# port and MMIO accesses and the exceptions and interrupts it injects in a tracefs ring
# (4 MiB a CPU), with the test host's own events beside them; a failed run prints its
# last lines and the test host's CPU count. vmm cannot log a triple fault's
# registers where KVM runs on AMD: KVM resets the vCPU at the shutdown.
kvm_trace=""
if [ -n "${HOSTILE_KVM_TRACE-}" ]; then
	for d in /sys/kernel/tracing /sys/kernel/debug/tracing; do
		[ -e "$d/trace" ] || mount -t tracefs tracefs "$d" 2>/dev/null || true
		if [ -w "$d/events/kvm/kvm_exit/enable" ]; then
			kvm_trace=$d
			break
		fi
	done
	if [ -n "$kvm_trace" ]; then
		echo 0 >"$kvm_trace/tracing_on"
		echo >"$kvm_trace/trace"
		echo 4096 >"$kvm_trace/buffer_size_kb"
		# Besides the guest's exits: its entries and exits to vmm, KVM's zaps of nested
		# page table ranges (the test host's memory management moving guest RAM), and
		# what else the test host's CPUs did meanwhile (IPIs, TLB flushes, task switches
		# and migrations), to tell a race between its CPUs from one CPU's fault.
		for e in kvm/kvm_exit kvm/kvm_entry kvm/kvm_userspace_exit kvm/kvm_pio kvm/kvm_mmio \
			kvm/kvm_inj_exception kvm/kvm_inj_virq kvm/kvm_page_fault kvm/kvm_unmap_hva_range \
			irq_vectors/call_function_entry irq_vectors/call_function_single_entry \
			irq_vectors/reschedule_entry tlb/tlb_flush sched/sched_switch sched/sched_migrate_task; do
			echo 1 >"$kvm_trace/events/$e/enable" 2>/dev/null || true
		done
		echo 1 >"$kvm_trace/tracing_on"
	else
		echo "hostile_guest: HOSTILE_KVM_TRACE: no tracefs with KVM's events here"
	fi
fi

# vmm's own messages (stderr) apart from the console (stdout).
export VMM_RUNTIME_DIR=$w/run
mkdir -p "$VMM_RUNTIME_DIR"
"$VMM" --config "$w/vm.toml" </dev/null >"$w/console.log" 2>"$w/vmm.log" &
vmm_pid=$!

# ctl_status: one `vmm ctl hostile status` that must answer "ok ..." within 20 s.
ctl_ok=0
ctl_bad=0
ctl_first_bad=""
ctl_status() {
	local out rc=0
	out=$(timeout 20 "$VMM" ctl hostile status 2>&1) || rc=$?
	if [ "$rc" = 0 ] && [[ $out == ok* ]]; then
		ctl_ok=$((ctl_ok + 1))
	else
		ctl_bad=$((ctl_bad + 1))
		[ -n "$ctl_first_bad" ] || ctl_first_bad="$1: rc=$rc '$out'"
	fi
}

# While the program runs: vmm must keep answering.
t0=$(cut -d' ' -f1 /proc/uptime)
done_seen=0
n=0
while kill -0 "$vmm_pid" 2>/dev/null; do
	if expect_in_log "$w/console.log" "HOSTILE-WAIT"; then
		done_seen=1
		break
	fi
	elapsed=$(awk -v a="$t0" -v b="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN { print int(b - a) }')
	[ "$elapsed" -lt "$LIMIT" ] || break
	n=$((n + 1))
	if [ $((n % 25)) = 0 ] && expect_in_log "$w/console.log" "HOSTILE-INIT"; then
		ctl_status "during the attack (${elapsed} s)"
	fi
	# Progress on the console: the harness takes a silent test host as stuck.
	if [ $((n % 150)) = 0 ]; then
		echo "hostile_guest: ${elapsed} s: $(tr -d '\r' <"$w/console.log" | grep -a -E '^hostile: |^HOSTILE-' |
			grep -av 'hostile: trace' | tail -n 1 || true)"
	fi
	sleep 0.2
done
attack_s=$(awk -v a="$t0" -v b="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN { print int(b - a) }')
[ -n "$LOG_MAX" ] || LOG_MAX=$((100 + LOG_PER_MIN * ((attack_s + 59) / 60)))
alive=0
! kill -0 "$vmm_pid" 2>/dev/null || alive=1
# After it: once more, then the go for the guest to power off.
limit=120
if [ "$alive" = 1 ] && [ "$done_seen" = 1 ]; then
	ctl_status "after the program ended"
	printf 'HOSTILE-GO' | dd of="$w/ctrl.img" bs=512 seek=6144 conv=notrunc 2>/dev/null
elif [ "$alive" = 1 ]; then
	# Out of time: is vmm still there for its control socket? Then it goes.
	ctl_status "after $LIMIT s without the program's end"
	# Where vmm's threads are: a vCPU sleeping in a lock is a deadlock.
	for t in /proc/"$vmm_pid"/task/*; do
		echo "hostile_guest: vmm thread ${t##*/} $(cut -d' ' -f2,3 "$t/stat" 2>/dev/null)" \
			"wchan=$(cat "$t/wchan" 2>/dev/null)"
	done
	limit=1
fi
rc=0
wait_pid "$vmm_pid" "$limit" || rc=$?
vmm_pid=""
if [ -n "$kvm_trace" ]; then
	echo 0 >"$kvm_trace/tracing_on"
	tail -n 1000 "$kvm_trace/trace" >"$w/kvm-trace.txt" 2>/dev/null || true
	echo >"$kvm_trace/trace"
	echo "hostile_guest: HOSTILE_KVM_TRACE: kept the last $(wc -l <"$w/kvm-trace.txt") events of $(grep -c "^processor" /proc/cpuinfo) CPUs"
fi
log=$(tr -d '\r' <"$w/console.log")

seed=$(sed -n 's/.*HOSTILE-START seed=\([0-9]*\) iterations=\([0-9]*\).*/\1/p' <<<"$log" | head -n 1 || true)
iters=$(sed -n 's/.*HOSTILE-START seed=\([0-9]*\) iterations=\([0-9]*\).*/\2/p' <<<"$log" | head -n 1 || true)
repro="seed ${seed:-?}, ${iters:-?} iterations (HOSTILE_SEED=${seed:-?} HOSTILE_ITERATIONS=${iters:-?})"
# Where the program was when things went wrong: its last progress line.
last=$(grep -a -E '^hostile: |HOSTILE-(START|DEV|LEGACY|DONE)' <<<"$log" | grep -av 'hostile: trace' |
	tail -n 1 || true)
vmm_lines=$(wc -l <"$w/vmm.log" | tr -d ' ')
vmm_tail=$(tail -n 5 "$w/vmm.log" | tr '\n' ';')

while read -r l; do
	[ -n "$l" ] || continue
	kind=$(sed -n 's/.*kind=\([a-z]*\).*/\1/p' <<<"$l")
	it=$(sed -n 's/.*iterations=\([0-9]*\).*/\1/p' <<<"$l")
	echo "METRIC hostile_${kind}_iterations ${it:-0}"
	echo "METRIC hostile_${kind}_accesses $(sed -n 's/.* accesses=\([0-9]*\).*/\1/p' <<<"$l")"
	echo "METRIC hostile_${kind}_needs_reset $(sed -n 's/.* needs_reset=\([0-9]*\).*/\1/p' <<<"$l")"
	echo "METRIC hostile_${kind}_ms $(sed -n 's/.* ms=\([0-9]*\).*/\1/p' <<<"$l")"
done <<<"$(grep -a '^HOSTILE-DEV ' <<<"$log" || true)"
legacy=$(grep -a 'HOSTILE-LEGACY ' <<<"$log" | head -n 1 || true)  # the UART fuzzing may leave bytes before it
echo "METRIC hostile_legacy_iterations $(sed -n 's/.*iterations=\([0-9]*\).*/\1/p' <<<"$legacy")"
echo "METRIC hostile_vmm_log_lines $vmm_lines"
echo "METRIC hostile_vmm_log_limit $LOG_MAX"
echo "METRIC hostile_attack_s $attack_s"
echo "METRIC hostile_ctl_status_answers $ctl_ok"

if [ "$rc" = 0 ] && grep -q '^HOSTILE-DONE rc=0' <<<"$log" && grep -q '^HOSTILE-END go=HOSTILE-GO' <<<"$log"; then
	pass hostile_guest_runs
else
	why="vmm exit $(describe_exit "$rc")"
	[ "$done_seen" = 1 ] || why="$why; the guest did not get through the program and its checks in $LIMIT s"
	[ "$alive" = 1 ] || why="$why; vmm ended before the program did"
	fail hostile_guest_runs "$why; $repro; last progress: '$last'; vmm log tail: $vmm_tail"
	show_log
	echo "--- vmm's stderr (last 20 lines)"
	tail -n 20 "$w/vmm.log" | sed 's/^/| /'
	if [ -s "$w/kvm-trace.txt" ]; then
		echo "--- the test host's KVM trace, last 1000 events (HOSTILE_KVM_TRACE)"
		sed 's/^/| kvm: /' "$w/kvm-trace.txt"
	fi
fi

if [ "$ctl_bad" = 0 ] && [ "$ctl_ok" -gt 0 ] && [ "$alive" = 1 ]; then
	pass hostile_vmm_responsive
else
	fail hostile_vmm_responsive "$ctl_ok answers, $ctl_bad failures (first: ${ctl_first_bad:-none});" \
		"vmm alive after the program: $alive; $repro; last progress: '$last'"
fi

got_md5=$(sed -n 's/^HOSTILE-CTRL-READ md5=//p' <<<"$log" | head -n 1 || true)
text hostile-control-pattern 65536 >"$w/pattern"
if [ "$got_md5" != "$ctrl_md5" ]; then
	fail hostile_control_disk "the guest read md5 '${got_md5}' from the control disk, the host wrote $ctrl_md5; $repro"
elif ! grep -q '^HOSTILE-CTRL-WRITE ok' <<<"$log"; then
	fail hostile_control_disk "the guest's write to the control disk failed or read back wrong; $repro"
elif ! dd if="$w/ctrl.img" bs=65536 skip=32 count=1 2>/dev/null | cmp -s - "$w/pattern"; then
	fail hostile_control_disk "ctrl.img does not hold the guest's pattern at 2 MiB; $repro"
elif [ "$(head -c 1048576 "$w/ctrl.img" | md5sum | cut -d' ' -f1)" != "$ctrl_md5" ]; then
	fail hostile_control_disk "the first MiB of ctrl.img changed; $repro"
else
	pass hostile_control_disk
fi

# vmm's messages by kind (numbers taken out), most frequent first.
sed -E 's/0x[0-9a-f]+/0xN/g; s/[0-9]+/N/g' "$w/vmm.log" | sort | uniq -c | sort -rn >"$w/vmm-sites.txt" || true
echo "hostile_guest: vmm's stderr, $vmm_lines lines, by message:"
head -n 12 "$w/vmm-sites.txt" | sed 's/^ */|   /'
if [ "$vmm_lines" -lt "$LOG_MAX" ]; then
	pass hostile_log_bounded
else
	top=$(head -n 4 "$w/vmm-sites.txt" | sed 's/^ *//' | tr '\n' ';')
	fail hostile_log_bounded "vmm wrote $vmm_lines lines to stderr in a ${attack_s} s attack (limit $LOG_MAX); most frequent: $top $repro"
fi

rebind=$(grep -a '^HOSTILE-REBIND ' <<<"$log" || true)
if [ -z "$rebind" ]; then
	fail hostile_rebind "no device was checked after the program ($repro)"
elif grep -qv ' ok$' <<<"$rebind"; then
	fail hostile_rebind "$(grep -v ' ok$' <<<"$rebind" | tr '\n' ';') $repro"
else
	pass hostile_rebind
fi
if [ "${VMM_TEST_VERBOSE:-0}" = 1 ]; then
	show_log 200
	sed 's/^/| vmm: /' "$w/vmm.log" | tail -n 100
	[ ! -s "$w/kvm-trace.txt" ] || tail -n 30 "$w/kvm-trace.txt" | sed 's/^/| kvm: /'
fi
