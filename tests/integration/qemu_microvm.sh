#!/bin/bash
# qemu_microvm: boots the guest kernel and initramfs under QEMU's microvm machine with KVM
# (run the harness with --with-qemu). It proves the harness without vmm: KVM works where
# the tests run, the guest's /init loads its modules, prints its markers and powers off,
# it counts its CPUs, and its panic reaches a pvpanic device.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

if [ -z "$QEMU" ]; then
	for n in qemu_poweroff qemu_cpus qemu_panic; do
		skip "$n" "no QEMU (run the harness with --with-qemu)"
	done
	exit 0
fi

# qemu_run NAME SMP ACTION [QEMU ARGS...]: sets rc; the console goes to $WORKDIR/NAME.log.
qemu_run() {
	local name=$1 smp=$2 action=$3
	shift 3
	rc=0
	"$QEMU" -M microvm -enable-kvm -cpu host -m "$GUEST_MEMORY_MIB" -smp "$smp" \
		-nographic -no-reboot -kernel "$GUEST_KERNEL" -initrd "$GUEST_INITRD" \
		-append "$GUEST_CMDLINE_BASE vmmtest=$action" "$@" \
		</dev/null >"$WORKDIR/$name.log" 2>&1 &
	wait_pid $! "$BOOT_TIMEOUT" || rc=$?
}

qemu_run qemu_poweroff 1 poweroff
check_run qemu_poweroff "$rc" 0 "$WORKDIR/qemu_poweroff.log" VMMTEST-INIT \
	"VMMTEST-READY modules="
if expect_in_log "$WORKDIR/qemu_poweroff.log" VMMTEST-MODFAIL; then
	echo "qemu_poweroff: note: $(grep -F VMMTEST-MODFAIL "$WORKDIR/qemu_poweroff.log" | tr -d '\r' | tr '\n' ';')"
fi

qemu_run qemu_cpus 2 cpus
check_run qemu_cpus "$rc" 0 "$WORKDIR/qemu_cpus.log" VMMTEST-CPUS=2

# The ISA pvpanic device (port 0x505, ACPI QEMU0001) is what pvpanic-mmio binds to;
# exit-failure makes QEMU exit with 1 when the guest reports its panic.
qemu_run qemu_panic 1 panic -device pvpanic -action panic=exit-failure
check_run qemu_panic "$rc" 1 "$WORKDIR/qemu_panic.log" VMMTEST-PANICKING "Kernel panic"
