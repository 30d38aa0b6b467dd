#!/bin/bash
# boot_time: time from exec of the VMM to the guest's first /init line (VMMTEST-INIT),
# and the VMM's memory at that moment without the guest RAM mapping, for vmm and, when
# $QEMU is set, for QEMU's microvm machine (arm64: virt; lib.sh's qemu_machine) with the
# same kernel, initramfs and cmdline (but for the console's name on arm64).
# Then the time from exec to the guest kernel's first console line ("Linux version",
# with an early console and without quiet; the VMM is killed there). Medians over
# BOOT_TIME_RUNS runs (default 3), vmm and QEMU alternating run by run. Nested guests in the test host run at emulation
# speed: compare the two figures with each other, not with native numbers.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

runs=${BOOT_TIME_RUNS:-3}
# The first-line runs: every kernel message on an early console (arm64's base line
# has earlycon already), so the first one comes out as soon as the kernel can print.
early_cmdline=${GUEST_CMDLINE_BASE/ quiet/}
case $(uname -m) in
x86_64) early_cmdline="$early_cmdline earlyprintk=serial,ttyS0,115200" ;;
esac
early_cmdline="$early_cmdline vmmtest=poweroff"
# QEMU's: the same but for arm64's console (lib.sh).
qemu_cmdline="$QEMU_CMDLINE_BASE vmmtest=poweroff"
qemu_early_cmdline=${QEMU_CMDLINE_BASE/ quiet/}${early_cmdline#"${GUEST_CMDLINE_BASE/ quiet/}"}
FIRST_LINE="Linux version"

# Each test's runs, and its first failure ("" while none): keyed by test name.
declare -A times rsss hwms failed
# Where the RSS outside guest RAM is (tests/tools/timestamp.c): the Rss of each kind, then
# the private part and the Pss of the whole, as "KIND=kB ..." keyed by "NAME RSS", RSS
# being that run's rss-minus-guest: the median run's breakdown is printed.
MEM_FIELDS="rss-text-libs rss-heap rss-stacks rss-io-uring rss-other private-minus-guest pss-minus-guest"
declare -A breakdowns

# init_run NAME PREFIX I CMD...: run I of CMD to VMMTEST-INIT under the timestamp tool;
# records the time and memory, or the failure.
init_run() {
	local name=$1 prefix=$2 i=$3 rc=0 log t rss hwm found field v bd=""
	shift 3
	log=$WORKDIR/$prefix-$i.log
	"$TIMESTAMP" --marker VMMTEST-INIT --guest-mib "$GUEST_MEMORY_MIB" \
		--timeout "$BOOT_TIMEOUT" -- "$@" </dev/null >"$log" 2>&1 || rc=$?
	t=$(timestamp_field "$log" "marker at")
	rss=$(timestamp_field "$log" rss-minus-guest)
	hwm=$(timestamp_field "$log" vmhwm)
	found=$(sed -n 's/^timestamp: guest-mapping //p' "$log" | head -n 1)
	if [ -z "$t" ]; then
		failed[$name]="run $i: VMMTEST-INIT not seen (exit $(describe_exit "$rc"))"
		return
	fi
	if [ "$rc" != 0 ]; then
		failed[$name]="run $i: exit $(describe_exit "$rc"), expected 0"
		return
	fi
	if [ "$found" != found ]; then
		echo "$name: run $i: no mapping of exactly $GUEST_MEMORY_MIB MiB; rss-minus-guest is the whole RSS"
	fi
	echo "$name: run $i: exec->VMMTEST-INIT $t us, rss-minus-guest ${rss:-?} kB, VmHWM ${hwm:-?} kB"
	for field in $MEM_FIELDS; do
		v=$(timestamp_field "$log" "$field")
		[ -z "$v" ] || bd+=" $field=$v"
	done
	if [ -n "$bd" ] && [ -n "$rss" ]; then
		echo "$name: run $i: kB:$bd"
		breakdowns["$name $rss"]=$bd
	fi
	times[$name]+=" $t"
	[ -z "$rss" ] || rsss[$name]+=" $rss"
	[ -z "$hwm" ] || hwms[$name]+=" $hwm"
}

# first_run NAME PREFIX I CMD...: run I of CMD until the guest kernel's first console
# line, where the timestamp tool kills it.
first_run() {
	local name=$1 prefix=$2 i=$3 rc=0 log t
	shift 3
	log=$WORKDIR/$prefix-first-$i.log
	"$TIMESTAMP" --marker "$FIRST_LINE" --kill-at-marker --timeout "$BOOT_TIMEOUT" \
		-- "$@" </dev/null >"$log" 2>&1 || rc=$?
	t=$(timestamp_field "$log" "marker at")
	if [ -z "$t" ]; then
		failed[$name]="run $i: '$FIRST_LINE' not seen (exit $(describe_exit "$rc"))"
		return
	fi
	echo "$name: run $i: exec->'$FIRST_LINE' $t us"
	times[$name]+=" $t"
}

# verdict NAME METRIC: the test's PASS and its median METRIC lines, or its FAIL.
verdict() {
	local name=$1 metric=$2 m kv prefix
	if [ -n "${failed[$name]-}" ]; then
		fail "$name" "${failed[$name]}"
		return
	fi
	# shellcheck disable=SC2086 # the lists are words
	echo "METRIC ${metric} $(median ${times[$name]})"
	case $metric in *_exec_to_init_us)
		prefix=${metric%_exec_to_init_us}
		# shellcheck disable=SC2086
		m=$(median ${rsss[$name]-})
		if [ -n "$m" ]; then
			echo "METRIC ${prefix}_rss_minus_guest_kb $m"
			# The median run's breakdown: METRIC vmm_rss_text_libs_kb ... (the rss_*
			# add up to its rss_minus_guest), vmm_private_minus_guest_kb, vmm_pss_...
			for kv in ${breakdowns["$name $m"]-}; do
				echo "METRIC ${prefix}_$(echo "${kv%%=*}" | tr - _)_kb ${kv#*=}"
			done
		fi
		# shellcheck disable=SC2086
		[ -z "${hwms[$name]-}" ] || echo "METRIC ${metric%_exec_to_init_us}_vmhwm_kb $(median ${hwms[$name]})"
		;;
	esac
	pass "$name"
}

if [ -z "$TIMESTAMP" ]; then
	skip boot_time "no timestamp tool (tests/tools/timestamp.c; needs gcc)"
	[ -z "$QEMU" ] || skip boot_time_qemu "no timestamp tool"
	exit 0
fi
if [ -z "$VMM" ]; then
	skip boot_time "no vmm binary (pass --vmm BUILD/vmm/vmm)"
else
	make_config boot_time 1 "vmmtest=poweroff" >"$WORKDIR/vm.toml"
	make_config boot_time_first_line 1 >"$WORKDIR/first.toml"
	sed -i "s|^cmdline = .*|cmdline = $(toml_string "$early_cmdline")|" "$WORKDIR/first.toml"
fi
qemu_machine microvm
qemu_cmd=("${qemu_base[@]}" -m "$GUEST_MEMORY_MIB" -smp 1 -nographic
	-no-reboot -kernel "$GUEST_KERNEL" -initrd "$GUEST_INITRD")

# vmm and QEMU take turns, run by run, so that a change in the test host's speed
# (another guest, the host's load) falls on both alike.
for i in $(seq "$runs"); do
	[ -z "$VMM" ] || [ -n "${failed[boot_time]-}" ] ||
		init_run boot_time vmm "$i" "$VMM" --config "$WORKDIR/vm.toml"
	[ -z "$QEMU" ] || [ -n "${failed[boot_time_qemu]-}" ] ||
		init_run boot_time_qemu "$QEMU_PREFIX" "$i" "${qemu_cmd[@]}" -append "$qemu_cmdline"
done
for i in $(seq "$runs"); do
	[ -z "$VMM" ] || [ -n "${failed[boot_time_first_line]-}" ] ||
		first_run boot_time_first_line vmm "$i" "$VMM" --config "$WORKDIR/first.toml"
	[ -z "$QEMU" ] || [ -n "${failed[boot_time_first_line_qemu]-}" ] ||
		first_run boot_time_first_line_qemu "$QEMU_PREFIX" "$i" "${qemu_cmd[@]}" \
			-append "$qemu_early_cmdline"
done
if [ -n "$VMM" ]; then
	verdict boot_time vmm_exec_to_init_us
	verdict boot_time_first_line vmm_exec_to_first_line_us
fi
if [ -n "$QEMU" ]; then
	verdict boot_time_qemu "${QEMU_PREFIX}_exec_to_init_us"
	verdict boot_time_first_line_qemu "${QEMU_PREFIX}_exec_to_first_line_us"
fi
