#!/bin/bash
# pci_slot: devices with pci_slot sit where the config says, the others fill the lowest
# free slots. One guest with disk d0 (pci_slot = 7), disk d1 (no slot), a NIC on a TAP
# (pci_slot = 5) and the rng (no slot) lists its virtio devices (guest/init, vmmtest=slots):
# on x86_64 the NIC is PCI 0000:00:05.0 (1af4:1041, its interface under that device), d1
# 00:01.0, the rng 00:02.0, d0 00:07.0; on aarch64 the same slot numbers are virtio-mmio
# windows 0x0a000000 + n * 0x200 from slot 0 (a000a00.virtio_mmio for the NIC, its
# device-tree node virtio_mmio@a000a00). Disks are named in slot order, not config order:
# d1 vda, d0 vdb. And vmm --check refuses two devices on one slot, naming file, line and
# key.
# Tools: busybox tunctl and ip; the tun module.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

tests=(pci_slot_nic pci_slot_auto pci_slot_disk_order pci_slot_clash)
require_vmm "${tests[@]}"
w=$WORKDIR
MAC=02:00:00:00:05:05

# at N: where the guest sees the device in slot N (guest/init's at=), on the transport vmm
# says it chose ($transport: arm64 has PCI with a GICv3 ITS, virtio-mmio without).
transport=pci
at() {
	case $transport in
	mmio) printf '%x.virtio_mmio' $((0x0a000000 + $1 * 0x200)) ;;
	*) printf '0000:00:%02x.0' "$1" ;;
	esac
}
show_log() { tr -d '\r' <"$w/console.log" | grep -a -E 'VMMTEST|vmm:|virtio' | sed 's/^/| /' | tail -n 30; }

# The clash needs no guest: vmm --check on a config with two devices on slot 5.
make_config clash 1 "vmmtest=poweroff" >"$w/clash.toml"
cat >>"$w/clash.toml" <<EOT

[[disk]]
path = "c.img"
size_mib = 1
pci_slot = 5

[rng]
pci_slot = 5
EOT
line=$(grep -n 'pci_slot' "$w/clash.toml" | tail -n 1 | cut -d: -f1)
rc=0
"$VMM" --config "$w/clash.toml" --check >"$w/clash.log" 2>&1 || rc=$?
if [ "$rc" = "$VMM_EXIT_ERROR" ] &&
	expect_in_log "$w/clash.log" "$w/clash.toml:$line: rng.pci_slot: slot 5 is taken already by disk[0] (line $((line - 3)))"; then
	pass pci_slot_clash
else
	fail pci_slot_clash "exit $(describe_exit "$rc"): $(grep -a 'vmm:' "$w/clash.log" | head -n 3 | tr '\n' ';')"
fi

tests=(pci_slot_nic pci_slot_auto pci_slot_disk_order)
skip_guest() {
	local n
	for n in "${tests[@]}"; do skip "$n" "$1"; done
	exit 0
}
for t in tunctl ip; do
	command -v "$t" >/dev/null 2>&1 || skip_guest "no $t in the test host"
done
[ -c /dev/net/tun ] || skip_guest "no /dev/net/tun (tun module)"
[ "$(id -u)" = 0 ] || skip_guest "making a TAP needs root"
cleanup() { tunctl -d vmmslot0 >/dev/null 2>&1 || true; }
trap cleanup EXIT
{ tunctl -t vmmslot0 >/dev/null && ip link set vmmslot0 up; } || skip_guest "cannot make TAP vmmslot0"

make_config slots 1 "vmmtest=slots" >"$w/vm.toml"
cat >>"$w/vm.toml" <<EOT

[[disk]]
path = "d0.img"
size_mib = 1
serial = "d0"
pci_slot = 7

[[disk]]
path = "d1.img"
size_mib = 1
serial = "d1"

[[net]]
tap = "vmmslot0"
mac = "$MAC"
pci_slot = 5
EOT
rc=0
run_vmm "$w/vm.toml" "$w/console.log" || rc=$?
transport=$(virtio_transport "$w/console.log")
echo "pci_slot: virtio devices on $transport"
log=$(tr -d '\r' <"$w/console.log" | grep -a '^VMMTEST-SLOT')
# slot_line N: the guest's line for the device in slot N (empty when none).
slot_line() { grep -F "VMMTEST-SLOT at=$(at "$1") " <<<"$log" || true; }
if [ "$rc" != 0 ] || ! grep -q '^VMMTEST-SLOTS-DONE count=4$' <<<"$log"; then
	for n in "${tests[@]}"; do
		fail "$n" "exit $(describe_exit "$rc"), want 4 devices: $(tr '\n' ';' <<<"$log")"
	done
	show_log
	exit 0
fi

nic=$(slot_line 5)
case $transport in
mmio) want_nic="virtio=0x0001 of=virtio_mmio@$(printf '%x' $((0x0a000000 + 5 * 0x200))) net=" ;;
*) want_nic="virtio=0x0001 pci=0x1af4:0x1041 net=" ;;
esac
if [[ $nic == *" $want_nic"* && $nic == *" mac=$MAC"* ]]; then
	pass pci_slot_nic
	echo "pci_slot: NIC: $nic"
else
	fail pci_slot_nic "slot 5 ($(at 5)): want '$want_nic... mac=$MAC', got '$nic'; all: $(tr '\n' ';' <<<"$log")"
fi

# Without a slot: d1 takes the first slot, the rng the next one free.
first=1
[ "$(uname -m)" != aarch64 ] || first=0
d1=$(slot_line "$first")
rng=$(slot_line $((first + 1)))
if [[ $d1 == *" virtio=0x0002"*" serial=d1"* && $rng == *" virtio=0x0004"* ]]; then
	pass pci_slot_auto
else
	fail pci_slot_auto "slot $first: '$d1'; slot $((first + 1)): '$rng'; want disk d1 and the rng"
fi

# The guest names disks in slot order: d1 (slot $first) is vda although d0 comes first in
# the config.
d0=$(slot_line 7)
if [[ $d0 == *" blk=vdb serial=d0"* && $d1 == *" blk=vda serial=d1"* ]]; then
	pass pci_slot_disk_order
else
	fail pci_slot_disk_order "slot 7: '$d0', slot $first: '$d1'; want d0 (vdb) on 7, d1 (vda) first"
fi
