# shellcheck shell=bash
# Helpers sourced by the integration tests (tests/integration/*.sh). They run under bash,
# in the test host (busybox applets) or directly on a machine with hardware
# virtualization (GNU tools), so they keep to what both provide.
#
# Environment (set by tests/testhost/run-tests):
#   VMM           the vmm binary, or empty (tests that need it are skipped)
#   GUEST_KERNEL  guest kernel (x86_64: bzImage; aarch64: Image)
#   GUEST_INITRD  guest initramfs (guest/mkinitramfs.sh)
#   GUEST_VMLINUX the same kernel as an ELF vmlinux, or empty
#   BOOT_TIMEOUT  seconds one guest run may take (default 240)
#   WORKDIR       scratch directory of this test, empty at start
#   QEMU          qemu-system-x86_64 or qemu-system-aarch64 for comparisons (the harness's
#                 --with-qemu), or empty
#   TIMESTAMP     tests/tools/timestamp, or empty
#   PTYRUN        tests/tools/ptyrun (a command on a pseudo-terminal fed from stdin), or empty
#   MQTAP         tests/tools/mqtap (makes and removes multi-queue TAPs), or empty
#   VSOCK_TEST    tests/tools/vsock-test (static; the guest has its own copy), or empty
#   VMM_TEST_VERBOSE=1  guest kernel logs to the console (no "quiet")
#
# A test prints one or more "TEST <name>: PASS|FAIL <reason>|SKIP <reason>" lines and
# may print "METRIC <name> <value>" lines.
#
# Under set -e, call a helper whose status matters as `rc=0; run_vmm ... || rc=$?`.

set -euo pipefail

: "${WORKDIR:?WORKDIR must be set (run tests through tests/testhost/run)}"
: "${GUEST_KERNEL:?GUEST_KERNEL must be set}"
: "${GUEST_INITRD:?GUEST_INITRD must be set}"
VMM=${VMM-}
QEMU=${QEMU-}
TIMESTAMP=${TIMESTAMP-}
PTYRUN=${PTYRUN-}
MQTAP=${MQTAP-}
VSOCK_TEST=${VSOCK_TEST-}

# Guest memory of every test, in MiB (boot_time's RSS figure excludes this mapping).
GUEST_MEMORY_MIB=${GUEST_MEMORY_MIB:-256}
# Seconds a guest boot may take: the test host runs nested guests at emulation speed on
# a shared machine, so this is generous; results are judged by markers, not by time.
BOOT_TIMEOUT=${BOOT_TIMEOUT:-240}

# reboot=k: reboot through the i8042 reset line, which vmm turns into exit code 3.
# arm64 guests power off and reboot through PSCI, with no option needed (vmm runs
# guests of its own architecture: the test host's, or this machine's).
case $(uname -m) in
aarch64) GUEST_CMDLINE_BASE="console=ttyS0 earlycon=uart,mmio,0x9000000 panic=-1" ;;
*) GUEST_CMDLINE_BASE="console=ttyS0 reboot=k panic=-1" ;;
esac
if [ "${VMM_TEST_VERBOSE:-0}" != 1 ]; then
	GUEST_CMDLINE_BASE="$GUEST_CMDLINE_BASE quiet"
fi

# --- QEMU, the benchmarks' baseline ($QEMU) -----------------------------------------------
# x86_64: the microvm machine. arm64: the virt machine (arm64 has no microvm) with GICv3
# (and its ITS, for virtio-pci's MSI-X), no default devices (its default NIC would want
# an option ROM the test host has no copy of) and its PL011 on stdio; the guest's console
# is then ttyAMA0, not vmm's 16550 ttyS0. QEMU_ARM64_VIRTIO picks the arm64 devices'
# transport: pci (default: virtio-*-pci behind virt's PCIe host, MSI-X through the ITS
# by irqfd) or mmio (virtio-*-device on virt's virtio-mmio slots, one wired interrupt
# whose status QEMU answers in userspace); docs/performance.md compares the two.
# shellcheck disable=SC2034 # used by the sourcing scripts
case $(uname -m) in
aarch64)
	QEMU_CMDLINE_BASE="console=ttyAMA0 earlycon=pl011,0x9000000 panic=-1"
	[ "${VMM_TEST_VERBOSE:-0}" = 1 ] || QEMU_CMDLINE_BASE="$QEMU_CMDLINE_BASE quiet"
	QEMU_PREFIX=qemu_virt	# METRIC names: qemu_virt_exec_to_init_us, ...
	;;
*)
	QEMU_CMDLINE_BASE=$GUEST_CMDLINE_BASE
	QEMU_PREFIX=qemu_microvm
	;;
esac
QEMU_ARM64_VIRTIO=${QEMU_ARM64_VIRTIO:-pci}
case $QEMU_ARM64_VIRTIO in pci | mmio) ;; *)
	echo "QEMU_ARM64_VIRTIO takes pci or mmio, not '$QEMU_ARM64_VIRTIO'" >&2
	exit 1
	;;
esac

# qemu_machine X86_MACHINE [OPTS]: sets qemu_base, QEMU's command line up to the guest's
# size: -M X86_MACHINE[,OPTS] -enable-kvm -cpu host on x86_64, the virt machine above
# (with OPTS) on arm64.
qemu_machine() {
	# shellcheck disable=SC2034 # used by the caller
	case $(uname -m) in
	aarch64)
		qemu_base=("$QEMU" -M "virt,gic-version=3${2:+,$2}" -accel kvm -cpu host
			-nodefaults -serial stdio) ;;
	*) qemu_base=("$QEMU" -M "$1${2:+,$2}" -enable-kvm -cpu host) ;;
	esac
}

# qemu_mmio: whether QEMU's virtio devices are virtio-mmio (arm64, QEMU_ARM64_VIRTIO=mmio).
qemu_mmio() { [ "$(uname -m)" = aarch64 ] && [ "$QEMU_ARM64_VIRTIO" = mmio ]; }
# qemu_dev MODEL: the QEMU device for the virtio MODEL (virtio-blk, virtio-net,
# vhost-user-fs): MODEL-pci, or MODEL-device on virtio-mmio.
qemu_dev() { if qemu_mmio; then echo "$1-device"; else echo "$1-pci"; fi; }
# qemu_pci_opt OPT: OPT for a PCI device (",romfile=": no option ROM), nothing on mmio.
qemu_pci_opt() { qemu_mmio || echo "$1"; }

# vmm's exit codes (the tests use them by name).
# shellcheck disable=SC2034
readonly VMM_EXIT_POWEROFF=0 VMM_EXIT_ERROR=1 VMM_EXIT_USAGE=2 VMM_EXIT_REBOOT=3 \
	VMM_EXIT_PANIC=4 VMM_EXIT_FORCED=5

pass() { echo "TEST $1: PASS"; }
fail() { echo "TEST $1: FAIL ${2:-}"; }
skip() { echo "TEST $1: SKIP ${2:-}"; }

# skip_all REASON: marks every test named in the script's `tests` array skipped and ends
# the script.
skip_all() {
	local n
	# shellcheck disable=SC2154 # set by the sourcing script
	for n in "${tests[@]}"; do skip "$n" "$1"; done
	exit 0
}

# require_tools TOOL...: skip_all unless every TOOL is in PATH (passt: with where to get it).
require_tools() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 && continue
		[ "$t" != passt ] ||
			skip_all "no passt in the test host (install the Debian package passt: tools/install-deps)"
		skip_all "no $t in the test host"
	done
}

# require_vmm NAME...: marks the tests skipped and ends the script when there is no vmm.
require_vmm() {
	if [ -z "$VMM" ]; then
		local n
		for n in "$@"; do skip "$n" "no vmm binary (pass --vmm BUILD/vmm/vmm)"; done
		exit 0
	fi
	if [ ! -x "$VMM" ]; then
		local n
		for n in "$@"; do fail "$n" "vmm binary $VMM is not executable"; done
		exit 0
	fi
}

# toml_string S: S as a TOML basic string.
toml_string() {
	local s=$1
	s=${s//\\/\\\\}
	s=${s//\"/\\\"}
	printf '"%s"' "$s"
}

# Guest RAM in 2 MiB pages ([vm] huge_pages, vmm's default) only where asked: bench/run
# asks, to compare with QEMU, whose RAM is in huge pages, and huge_pages.sh checks that
# they are used. Under the test host's emulated nested virtualization (QEMU 7.2's TCG),
# guests die now and then in syscall-heavy streams (a double fault on the first
# instruction of entry_SYSCALL_64, or a triple fault), far more often with 2 MiB nested
# pages; QEMU's own guests the same way.
# The other tests must not fail for the emulator's sake (docs/performance.md).
VMM_TEST_HUGE_PAGES=${VMM_TEST_HUGE_PAGES:-false}
# [vm] virtio_transport for every guest ("pci" or "mmio"; arm64 only): unset, vmm's own
# choice (PCI where the host's KVM has a GICv3 ITS). A test may set VIRTIO_TRANSPORT
# for its own configs (hostile_guest: mmio on arm64).
VMM_TEST_VIRTIO_TRANSPORT=${VMM_TEST_VIRTIO_TRANSPORT:-}

# virtio_transport LOG: "pci" or "mmio", where vmm's log LOG (its stderr) says it put the
# virtio devices; "unknown" when it does not say. x86_64 has PCI only.
virtio_transport() {
	if [ "$(uname -m)" != aarch64 ]; then
		echo pci
	elif grep -aq 'virtio devices on PCI' "$1" 2>/dev/null; then
		echo pci
	elif grep -aq 'virtio devices on virtio-mmio' "$1" 2>/dev/null; then
		echo mmio
	else
		echo unknown
	fi
}

# make_config NAME VCPUS CMDLINE_EXTRA > file.toml
make_config() {
	local name=$1 vcpus=$2 extra=${3-} transport=${VIRTIO_TRANSPORT:-$VMM_TEST_VIRTIO_TRANSPORT}
	cat <<EOF
[vm]
name = $(toml_string "$name")
vcpus = $vcpus
memory_mib = $GUEST_MEMORY_MIB
shutdown_timeout = 20
huge_pages = $VMM_TEST_HUGE_PAGES
EOF
	[ -z "$transport" ] || echo "virtio_transport = \"$transport\""
	cat <<EOF

[boot]
kernel = $(toml_string "$GUEST_KERNEL")
initrd = $(toml_string "$GUEST_INITRD")
cmdline = $(toml_string "$GUEST_CMDLINE_BASE${extra:+ $extra}")

[console]
mode = "stdio"

[cpu]
template = "host"
EOF
}

# wait_pid PID TIMEOUT: waits for PID, a child of this shell; returns its exit status,
# or 124 after killing it with SIGKILL once TIMEOUT seconds have passed. SIGKILL, since
# vmm answers SIGTERM with a graceful stop that could end in exit 0.
# It polls instead of running a watchdog in the background: a watchdog subshell told to
# stop (SIGTERM) right after its fork, before it reset the traps it inherits, ran the
# test's EXIT trap (bash runs it on a fatal signal), i.e. the test's cleanup in the middle
# of the test: host_faults lost its tmpfs that way (docs/testing.md, fault_disk_full).
# /proc/PID/stat is read by a builtin (no fork); a zombie counts as ended.
wait_pid() {
	local pid=$1 limit=$2 i=0 st rc=0
	while [ "$i" -lt $((limit * 10)) ]; do
		st=""
		read -r st 2>/dev/null <"/proc/$pid/stat" || true
		st=${st##*) }
		case ${st%% *} in "" | Z | X) break ;; esac
		sleep 0.1
		i=$((i + 1))
	done
	if [ "$i" -ge $((limit * 10)) ]; then
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		return 124
	fi
	wait "$pid" || rc=$?
	return "$rc"
}

# start_vmm CONFIG LOGFILE: starts vmm in the background (console output to LOGFILE,
# stdin from /dev/null) and sets VMM_PID.
start_vmm() {
	local config=$1 log=$2
	"$VMM" --config "$config" </dev/null >"$log" 2>&1 &
	VMM_PID=$!
}

# run_vmm CONFIG LOGFILE TIMEOUT: runs vmm to its end; returns its exit code, or 124
# when it had to be killed after TIMEOUT seconds (noted at the end of LOGFILE).
run_vmm() {
	local config=$1 log=$2 limit=${3:-$BOOT_TIMEOUT} rc=0
	start_vmm "$config" "$log"
	wait_pid "$VMM_PID" "$limit" || rc=$?
	if [ "$rc" = 124 ]; then
		echo "[test harness] vmm killed after $limit s" >>"$log"
	fi
	return "$rc"
}

# expect_in_log FILE PATTERN: whether FILE contains the fixed string PATTERN.
expect_in_log() {
	grep -qF -- "$2" "$1" 2>/dev/null
}

# wait_for_log FILE PATTERN TIMEOUT [PID]: polls until FILE contains PATTERN; fails after
# TIMEOUT seconds, or as soon as PID (the process writing FILE) has exited.
wait_for_log() {
	local file=$1 pattern=$2 limit=$3 pid=${4-} i=0
	while [ "$i" -lt $((limit * 5)) ]; do
		expect_in_log "$file" "$pattern" && return 0
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			expect_in_log "$file" "$pattern"
			return
		fi
		sleep 0.2
		i=$((i + 1))
	done
	return 1
}

# vm_state NAME PID LOG: for a failure that looks like a stuck guest, what tells a guest
# that stopped running from a device that stopped serving it: each vmm thread's state,
# CPU ticks, wait channel and innermost kernel frames, `vmm ctl NAME queues` twice 3 s apart (do the rings still move?), and the
# guest console's last 15 lines. Printed with a "STATE" prefix, so it reaches the
# failure digest (tests/testhost/failures) with the test's logs.
vm_state() {
	local name=$1 pid=$2 log=$3 t round
	kill -0 "$pid" 2>/dev/null || { echo "STATE vmm $pid has exited"; return 0; }
	for round in 1 2; do
		[ "$round" = 1 ] || sleep 3
		for t in /proc/"$pid"/task/*; do
			# comm, state, utime, stime: fields 2, 3, 14, 15 of stat (comm has no spaces here)
			echo "STATE $round thread $(cat "$t/comm" 2>/dev/null): $(awk '{print "state=" $3 " utime=" $14 " stime=" $15}' "$t/stat" 2>/dev/null) wchan=$(cat "$t/wchan" 2>/dev/null) stack=$(head -n 4 "$t/stack" 2>/dev/null | awk '{print $2}' | tr '\n' ',')"
		done
		"$VMM" ctl "$name" queues 2>&1 | sed "s/^/STATE $round queues: /" | head -n 20
		# KVM's own counters for this VM (debugfs, where the test host has it): exits
		# that still grow mean the guest still runs.
		for t in /sys/kernel/debug/kvm/"$pid"-*; do
			[ -d "$t" ] || continue
			echo "STATE $round kvm: $(for f in exits halt_exits halt_wakeup irq_injections nmi_injections; do printf '%s=%s ' "$f" "$(cat "$t/$f" 2>/dev/null)"; done)"
		done
	done
	tr -d '\r' <"$log" | tail -n 15 | sed 's/^/STATE console: /'
}

# describe_exit RC: words for a vmm exit code, for failure messages.
describe_exit() {
	case $1 in
	0) echo "0 (guest powered off)" ;;
	1) echo "1 (vmm error)" ;;
	2) echo "2 (usage error)" ;;
	3) echo "3 (guest rebooted)" ;;
	4) echo "4 (guest panicked)" ;;
	5) echo "5 (graceful stop timed out)" ;;
	6) echo "6 (a vCPU stopped on an unrecoverable error)" ;;
	124) echo "timeout (killed by the test)" ;;
	*) if [ "$1" -gt 128 ]; then echo "$1 (signal $(($1 - 128)))"; else echo "$1"; fi ;;
	esac
}

# check_run NAME RC EXPECTED_RC LOG [PATTERN...]: one verdict for a finished vmm run.
check_run() {
	local name=$1 rc=$2 want=$3 log=$4 p
	shift 4
	if [ "$rc" != "$want" ]; then
		fail "$name" "exit $(describe_exit "$rc"), expected $(describe_exit "$want")"
		return 0
	fi
	for p in "$@"; do
		if ! expect_in_log "$log" "$p"; then
			fail "$name" "'$p' not in the console log"
			return 0
		fi
	done
	pass "$name"
}

# median N...: the middle value (the lower of the two middle ones for an even count).
median() {
	printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}

# timestamp_field LOG KEY: a number from the timestamp tool's report, e.g.
# `timestamp_field LOG "marker at"` or `timestamp_field LOG rss-minus-guest`.
timestamp_field() {
	sed -n "s/^timestamp: $2 \([0-9][0-9]*\).*/\1/p" "$1" | head -n 1
}

# --- the user-mode NIC (passt) in the test host ------------------------------------------
# The test host has no network of its own; passt copies its addresses from the interface
# of the default route, so a bridge without ports (10.0.2.15/24, default route via
# 10.0.2.2) stands in for an uplink. And its root is the initramfs, which passt's
# sandbox cannot pivot_root away from (on a normal host / is a real mount): vmm runs in
# a mount namespace of its own whose root is a bind mount of the initramfs moved onto /,
# as switch_root would leave it. Used by net_user.sh and seed000.sh.

# passt_uplink_up: makes the stand-in uplink vmmup0 and, if missing, /etc/resolv.conf
# (passt hands the host's name servers to the guest). Fails when it cannot.
passt_uplink_up() {
	PASST_MADE_RESOLV=0
	ip link set lo up
	brctl addbr vmmup0 && ip addr add 10.0.2.15/24 dev vmmup0 && ip link set vmmup0 up &&
		ip route add default via 10.0.2.2 dev vmmup0 || return 1
	if [ ! -e /etc/resolv.conf ]; then
		echo "nameserver 10.0.2.3" >/etc/resolv.conf
		PASST_MADE_RESOLV=1
	fi
}

# passt_uplink_down: undoes passt_uplink_up.
passt_uplink_down() {
	ip link set vmmup0 down 2>/dev/null || true
	brctl delbr vmmup0 2>/dev/null || true
	[ "${PASST_MADE_RESOLV:-0}" = 0 ] || rm -f /etc/resolv.conf
}

# start_vmm_in_mountns CONFIG LOG [nobody]: start_vmm in the mount namespace described
# above (a scratch directory under WORKDIR is the new root's mount point); with
# `nobody`, as user nobody, else as root (vmm then drops to nobody itself). VMM_PID is
# vmm's pid: unshare, sh, chroot, su and the inner shell all exec.
start_vmm_in_mountns() {
	local config=$1 log=$2 user=${3:-root} root script
	root=$(mktemp -d "$WORKDIR/mountns-root.XXXXXX")
	# A script per call: a second VM's call rewriting a shared one truncated it under
	# the first one's sh, which then ran nothing (seed000 on arm64, CI 2026-12-04).
	script=$(mktemp "$WORKDIR/in-mountns.XXXXXX")
	cat >"$script" <<'EOS'
# in-mountns.sh NEWROOT USER CMD...: in a new mount namespace, / a moved bind mount of
# itself; CMD runs as USER.
set -e
mount --rbind / "$1"
cd "$1"
mount --move . /
user=$2
shift 2
[ "$user" != root ] || exec chroot . "$@"
# shellcheck disable=SC2016 # for the inner shell
exec chroot . su -s /bin/sh -c 'exec "$0" "$@"' -- "$user" "$@"
EOS
	unshare -m sh "$script" "$root" "$user" "$VMM" --config "$config" \
		</dev/null >"$log" 2>&1 &
	VMM_PID=$!
}

# ---- virtio-net tests (net_basic.sh, net_vhost.sh) ----

# net_host BRIDGE TAP ADDR/PREFIX: a bridge with the host's address and a persistent TAP
# on it, as tools/netsetup would make them.
net_host() {
	brctl addbr "$1" && ip addr add "$3" dev "$1" && ip link set "$1" up &&
		tunctl -t "$2" >/dev/null && brctl addif "$1" "$2" && ip link set "$2" up
}

# http_get HOST PORT PATH FILE: the body of an HTTP/1.0 GET through nc (the test host's
# static busybox wget crashes resolving names without NSS libraries).
http_get() {
	local n=0 l
	printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$3" "$1" | nc "$1" "$2" >"$4.raw" || return 1
	head -n 1 "$4.raw" | grep -q ' 200 ' || { head -n 1 "$4.raw" >&2; return 1; }
	while IFS= read -r l; do
		n=$((n + ${#l} + 1))
		[ "$l" != $'\r' ] || break
	done <"$4.raw"
	tail -c +$((n + 1)) "$4.raw" >"$4"
}

# http_get_all ADDR PORT PATH OUT N MD5: N fetches of PATH at once, into OUT1..OUTN
# (their errors in OUTi.err), up to 120 s for all of them, polled (one that hangs is
# killed); prints how many of them have MD5.
http_get_all() {
	local i p live ok=0 pids=()
	for i in $(seq "$5"); do
		http_get "$1" "$2" "$3" "$4$i" 2>"$4$i.err" &
		pids+=($!)
	done
	for _ in $(seq 600); do
		live=0
		for p in "${pids[@]}"; do
			! kill -0 "$p" 2>/dev/null || live=1
		done
		[ "$live" = 1 ] || break
		sleep 0.2
	done
	for p in "${pids[@]}"; do
		! kill -0 "$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null || true
	done
	for i in $(seq "$5"); do
		[ "$(md5sum <"$4$i" 2>/dev/null | cut -d' ' -f1)" != "$6" ] || ok=$((ok + 1))
	done
	echo "$ok"
}

# net_stream_check TEST METRIC ADDR LOG PID MIB: MIB MiB of random bytes to the guest's
# port 9000 (guest/init's `net` action), which sends them back to this host's port 9001;
# passes TEST when both ways arrived whole (md5), with METRIC_host_to_guest_mib_s (timed
# here) and METRIC_guest_to_host_mib_s (timed by the guest), else fails it. LOG is the
# guest's console, PID its vmm.
net_stream_check() {
	local name=$1 metric=$2 addr=$3 log=$4 pid=$5 mib=$6 d=$WORKDIR sum sent=0 t0=0 t1=0 i lp rx secs out
	head -c $((mib * 1048576)) /dev/urandom >"$d/data"
	sum=$(md5sum <"$d/data" | cut -d' ' -f1)
	rm -f "$d/hold"
	mkfifo "$d/hold"
	nc -l -p 9001 >"$d/back" 0<>"$d/hold" &
	lp=$!
	for i in 1 2 3 4 5 6 7 8 9 10; do
		t0=$(cut -d' ' -f1 /proc/uptime)
		if nc "$addr" 9000 <"$d/data" 2>/dev/null; then
			t1=$(cut -d' ' -f1 /proc/uptime)
			sent=1
			break
		fi
		sleep 1
	done
	wait_for_log "$log" "VMMTEST-NET-TX " "$BOOT_TIMEOUT" "$pid" || true
	i=0
	while kill -0 "$lp" 2>/dev/null && [ "$i" -lt 300 ]; do
		sleep 0.2
		i=$((i + 1))
	done
	kill "$lp" 2>/dev/null || true
	out=$(tr -d '\r' <"$log")
	rx=$(sed -n 's/.*VMMTEST-NET-RX bytes=\([0-9]*\) md5=\([0-9a-f]*\).*/\1 \2/p' <<<"$out")
	if [ "$sent" = 1 ] && [ "$rx" = "$((mib * 1048576)) $sum" ] &&
		[ "$(md5sum <"$d/back" | cut -d' ' -f1)" = "$sum" ]; then
		pass "$name"
		echo "METRIC ${metric}_host_to_guest_mib_s $(awk "BEGIN { d = $t1 - $t0; if (d <= 0) d = 0.01; printf \"%.1f\", $mib / d }")"
		secs=$(sed -n 's/.*VMMTEST-NET-TX bytes=[0-9]* seconds=\([0-9.]*\).*/\1/p' <<<"$out")
		echo "METRIC ${metric}_guest_to_host_mib_s $(awk "BEGIN { d = ${secs:-0}; if (d <= 0) d = 0.01; printf \"%.1f\", $mib / d }")"
	else
		fail "$name" "sent=$sent guest got '$rx', want '$((mib * 1048576)) $sum';" \
			"back $(stat -c %s "$d/back" 2>/dev/null) bytes; $(grep -E 'VMMTEST-NET-(RX|TX)' <<<"$out" | tr '\n' ';')"
	fi
}
