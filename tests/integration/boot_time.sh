#!/bin/bash
# boot_time: time from exec of the VMM to the guest's first /init line (VMMTEST-INIT),
# and the VMM's memory at that moment without the guest RAM mapping, for vmm and, when
# $QEMU is set, for QEMU's microvm machine with the same kernel, initramfs and cmdline.
# Then the time from exec to the guest kernel's first console line ("Linux version",
# with an early console and without quiet; the VMM is killed there). Medians over
# BOOT_TIME_RUNS runs (default 3). Nested guests in the test host run at emulation
# speed: compare the two figures with each other, not with native numbers.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

runs=${BOOT_TIME_RUNS:-3}
cmdline="$GUEST_CMDLINE_BASE vmmtest=poweroff"
# The first-line runs: every kernel message on an early console (arm64's base line
# has earlycon already), so the first one comes out as soon as the kernel can print.
early_cmdline=${GUEST_CMDLINE_BASE/ quiet/}
case $(uname -m) in
x86_64) early_cmdline="$early_cmdline earlyprintk=serial,ttyS0,115200" ;;
esac
early_cmdline="$early_cmdline vmmtest=poweroff"
FIRST_LINE="Linux version"

# measure NAME METRIC_PREFIX CMD...: runs CMD $runs times under the timestamp tool and
# prints the METRIC lines; prints a FAIL line and returns 1 on the first bad run.
measure() {
	local name=$1 prefix=$2 i rc log t rss hwm found
	shift 2
	local times=() rsss=() hwms=()
	for i in $(seq "$runs"); do
		log=$WORKDIR/$prefix-$i.log
		rc=0
		"$TIMESTAMP" --marker VMMTEST-INIT --guest-mib "$GUEST_MEMORY_MIB" \
			--timeout "$BOOT_TIMEOUT" -- "$@" </dev/null >"$log" 2>&1 || rc=$?
		t=$(timestamp_field "$log" "marker at")
		rss=$(timestamp_field "$log" rss-minus-guest)
		hwm=$(timestamp_field "$log" vmhwm)
		found=$(sed -n 's/^timestamp: guest-mapping //p' "$log" | head -n 1)
		if [ -z "$t" ]; then
			fail "$name" "run $i: VMMTEST-INIT not seen (exit $(describe_exit "$rc"))"
			return 1
		fi
		if [ "$rc" != 0 ]; then
			fail "$name" "run $i: exit $(describe_exit "$rc"), expected 0"
			return 1
		fi
		if [ "$found" != found ]; then
			echo "$name: run $i: no mapping of exactly $GUEST_MEMORY_MIB MiB; rss-minus-guest is the whole RSS"
		fi
		echo "$name: run $i: exec->VMMTEST-INIT $t us, rss-minus-guest ${rss:-?} kB, VmHWM ${hwm:-?} kB"
		times+=("$t")
		[ -z "$rss" ] || rsss+=("$rss")
		[ -z "$hwm" ] || hwms+=("$hwm")
	done
	echo "METRIC ${prefix}_exec_to_init_us $(median "${times[@]}")"
	[ ${#rsss[@]} -eq 0 ] || echo "METRIC ${prefix}_rss_minus_guest_kb $(median "${rsss[@]}")"
	[ ${#hwms[@]} -eq 0 ] || echo "METRIC ${prefix}_vmhwm_kb $(median "${hwms[@]}")"
	return 0
}

# measure_first NAME METRIC_PREFIX CMD...: runs CMD $runs times until the guest kernel's
# first console line, where the timestamp tool kills it; prints the median as
# METRIC PREFIX_exec_to_first_line_us, or a FAIL line.
measure_first() {
	local name=$1 prefix=$2 i rc log t
	shift 2
	local times=()
	for i in $(seq "$runs"); do
		log=$WORKDIR/$prefix-first-$i.log
		rc=0
		"$TIMESTAMP" --marker "$FIRST_LINE" --kill-at-marker --timeout "$BOOT_TIMEOUT" \
			-- "$@" </dev/null >"$log" 2>&1 || rc=$?
		t=$(timestamp_field "$log" "marker at")
		if [ -z "$t" ]; then
			fail "$name" "run $i: '$FIRST_LINE' not seen (exit $(describe_exit "$rc"))"
			return 1
		fi
		echo "$name: run $i: exec->'$FIRST_LINE' $t us"
		times+=("$t")
	done
	echo "METRIC ${prefix}_exec_to_first_line_us $(median "${times[@]}")"
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
	if measure boot_time vmm "$VMM" --config "$WORKDIR/vm.toml"; then
		pass boot_time
	fi
	make_config boot_time_first_line 1 >"$WORKDIR/first.toml"
	sed -i "s|^cmdline = .*|cmdline = $(toml_string "$early_cmdline")|" "$WORKDIR/first.toml"
	if measure_first boot_time_first_line vmm "$VMM" --config "$WORKDIR/first.toml"; then
		pass boot_time_first_line
	fi
fi

if [ -n "$QEMU" ]; then
	if measure boot_time_qemu qemu_microvm "$QEMU" -M microvm -enable-kvm -cpu host \
		-m "$GUEST_MEMORY_MIB" -smp 1 -nographic -no-reboot \
		-kernel "$GUEST_KERNEL" -initrd "$GUEST_INITRD" -append "$cmdline"; then
		pass boot_time_qemu
	fi
	if measure_first boot_time_first_line_qemu qemu_microvm "$QEMU" -M microvm -enable-kvm \
		-cpu host -m "$GUEST_MEMORY_MIB" -smp 1 -nographic -no-reboot \
		-kernel "$GUEST_KERNEL" -initrd "$GUEST_INITRD" -append "$early_cmdline"; then
		pass boot_time_first_line_qemu
	fi
fi
