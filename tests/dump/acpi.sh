#!/bin/bash
# acpi.sh VMM: `vmm --dump-acpi DIR` writes the guest's ACPI tables as
# `acpidump -b` would (DIR/rsdp.dat, xsdt.dat, facp.dat, dsdt.dat, apic.dat),
# each with its signature, its length and a zero byte sum; iasl (acpica-tools,
# which tools/install-deps installs) disassembles them to what vmm declares;
# the vCPU count reaches the MADT. vmm builds them without KVM.
# --dump-dtb on an x86_64 vmm is a usage error. Prints "ok"/"FAIL" lines.
set -uo pipefail
[ $# -eq 1 ] || { echo "usage: $0 VMM" >&2; exit 2; }
vmm=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bad=0
ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*"; bad=1; }

command -v iasl >/dev/null || { echo "FAIL: iasl not found (Debian package acpica-tools; tools/install-deps)"; exit 1; }
echo kernel >"$tmp/k"
printf '[vm]\nname = "d"\nvcpus = 3\n[boot]\nkernel = "k"\n' >"$tmp/vm.toml"

out=$("$vmm" --config "$tmp/vm.toml" --dump-acpi "$tmp/acpi" 2>&1)
rc=$?
[ $rc -eq 0 ] || fail "--dump-acpi exited $rc: $out"
for t in rsdp xsdt facp dsdt apic; do
	grep -qx "$tmp/acpi/$t.dat: ${t^^}, [0-9]* bytes" <<<"$out" ||
		fail "no line for $t.dat in: $out"
done
[ "$(cd "$tmp/acpi" && echo *)" = "apic.dat dsdt.dat facp.dat rsdp.dat xsdt.dat" ] ||
	fail "files: $(cd "$tmp/acpi" && echo *)"

# bytesum FILE [N]: the sum of the first N bytes (all), mod 256.
bytesum() {
	od -An -v -tu1 ${2:+-N "$2"} "$1" | awk '{ for (i = 1; i <= NF; i++) s += $i } END { print s % 256 }'
}
for t in xsdt facp dsdt apic; do
	f=$tmp/acpi/$t.dat
	sig=$(head -c 4 "$f")
	len=$(od -An -tu4 -j 4 -N 4 "$f" | tr -d ' ')
	if [ "$sig" != "${t^^}" ]; then
		fail "$t.dat: signature '$sig'"
	elif [ "$len" != "$(stat -c %s "$f")" ]; then
		fail "$t.dat: header length $len, file $(stat -c %s "$f") bytes"
	elif [ "$(bytesum "$f")" != 0 ]; then
		fail "$t.dat: bytes sum to $(bytesum "$f") mod 256, not 0"
	else
		ok "$t.dat: signature, length, checksum"
	fi
done
f=$tmp/acpi/rsdp.dat
if [ "$(head -c 8 "$f")" != "RSD PTR " ] || [ "$(stat -c %s "$f")" != 36 ] ||
	[ "$(bytesum "$f" 20)" != 0 ] || [ "$(bytesum "$f")" != 0 ]; then
	fail "rsdp.dat: signature, size 36 or checksums"
else
	ok "rsdp.dat: signature, size, both checksums"
fi

# What iasl reads in them (it does not take the RSDP, which has no table header).
(cd "$tmp/acpi" && iasl -d xsdt.dat facp.dat dsdt.dat apic.dat) >"$tmp/iasl.log" 2>&1 ||
	fail "iasl -d: $(tail -n 5 "$tmp/iasl.log")"
if grep -q 'Device (PCI0)' "$tmp/acpi/dsdt.dsl" 2>/dev/null && grep -q 'Name (_S5' "$tmp/acpi/dsdt.dsl"; then
	ok "dsdt: PCI0 and _S5"
else
	fail "dsdt.dsl lacks PCI0 or _S5"
fi
if grep -q 'Hardware Reduced (V5) : 1' "$tmp/acpi/facp.dsl" 2>/dev/null; then
	ok "facp: hardware-reduced"
else
	fail "facp.dsl: not hardware-reduced"
fi
n=$(grep -c 'Subtable Type : 00 \[Processor Local APIC\]' "$tmp/acpi/apic.dsl" 2>/dev/null)
if [ "$n" = 3 ]; then
	ok "apic: 3 local APICs for vcpus = 3"
else
	fail "apic: $n local APICs, want 3"
fi

out=$("$vmm" --config "$tmp/vm.toml" --dump-dtb "$tmp/x.dtb" 2>&1)
rc=$?
if [ $rc -eq 2 ] && [ ! -e "$tmp/x.dtb" ] &&
	grep -qF -- "--dump-dtb does not apply to x86_64 guests: use --dump-acpi DIR" <<<"$out"; then
	ok "--dump-dtb refused"
else
	fail "--dump-dtb: exit $rc: $out"
fi
exit $bad
