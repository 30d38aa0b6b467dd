#!/bin/bash
# dump_tables: vmm --dump-acpi (x86_64) / --dump-dtb (aarch64) write exactly the
# tables a guest of the same config is given: their md5 sums against the guest's
# /sys/firmware/acpi/tables/{FACP,DSDT,APIC} or /sys/firmware/fdt. The rng sits in
# slot 7 (pci_slot), which on arm64 moves its virtio-mmio node.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_vmm dump_tables

{
	make_config dump 2 "vmmtest=firmware"
	printf '\n[rng]\npci_slot = 7\n'
} >"$WORKDIR/vm.toml"
case $(uname -m) in
aarch64)
	out=$("$VMM" --config "$WORKDIR/vm.toml" --dump-dtb "$WORKDIR/fdt.dtb" 2>&1)
	want=("fdt $(md5sum <"$WORKDIR/fdt.dtb" 2>/dev/null | cut -d' ' -f1)")
	;;
*)
	out=$("$VMM" --config "$WORKDIR/vm.toml" --dump-acpi "$WORKDIR/acpi" 2>&1)
	want=()
	for t in FACP DSDT APIC; do
		f=$WORKDIR/acpi/${t,,}.dat
		want+=("$t $(md5sum <"$f" 2>/dev/null | cut -d' ' -f1)")
	done
	;;
esac
rc=0
run_vmm "$WORKDIR/vm.toml" "$WORKDIR/console.log" || rc=$?
missing=""
for w in "${want[@]}"; do
	expect_in_log "$WORKDIR/console.log" "VMMTEST-FW $w" || missing="$missing [$w]"
done
if [ "$rc" != 0 ]; then
	fail dump_tables "exit $(describe_exit "$rc")"
	tail -n 20 "$WORKDIR/console.log" | sed 's/^/| /'
elif [ -n "$missing" ]; then
	fail dump_tables "the dump ($out) differs from what the guest got:$missing; guest: $(grep -a VMMTEST-FW "$WORKDIR/console.log" | tr -d '\r' | tr '\n' ' ')"
else
	pass dump_tables
fi
