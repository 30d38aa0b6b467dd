#!/bin/bash
# rng: virtio-rng is on by default and the guest's /dev/hwrng reads from it;
# [rng] enabled = false removes the device.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_vmm rng rng_disabled

show_log() {
	sed 's/^/| /' "$1" | tail -n 30
}

make_config rng 1 "vmmtest=rng" >"$WORKDIR/vm.toml"
rc=0
run_vmm "$WORKDIR/vm.toml" "$WORKDIR/console.log" || rc=$?
bytes=$(tr -d '\r' <"$WORKDIR/console.log" | sed -n 's/^VMMTEST-RNG-BYTES=//p')
if [ "$rc" != 0 ]; then
	fail rng "exit $(describe_exit "$rc")"
	show_log "$WORKDIR/console.log"
elif ! expect_in_log "$WORKDIR/console.log" "VMMTEST-RNG-CURRENT=virtio_rng"; then
	fail rng "rng_current does not name virtio_rng: $(grep -a RNG-CURRENT "$WORKDIR/console.log")"
	show_log "$WORKDIR/console.log"
elif ! [[ $bytes =~ ^[0-9a-f]{128}$ ]]; then
	fail rng "expected 64 bytes from /dev/hwrng, got '$bytes'"
elif [[ $bytes =~ ^(00)+$ ]]; then
	fail rng "/dev/hwrng gave 64 zero bytes"
else
	pass rng
fi

make_config rng-off 1 "vmmtest=rng" >"$WORKDIR/off.toml"
printf '\n[rng]\nenabled = false\n' >>"$WORKDIR/off.toml"
rc=0
run_vmm "$WORKDIR/off.toml" "$WORKDIR/off.log" || rc=$?
if [ "$rc" != 0 ]; then
	fail rng_disabled "exit $(describe_exit "$rc")"
elif expect_in_log "$WORKDIR/off.log" "VMMTEST-RNG-CURRENT=virtio_rng"; then
	fail rng_disabled "the guest still has virtio_rng"
else
	pass rng_disabled
fi

if [ "${VMM_TEST_VERBOSE:-0}" = 1 ]; then
	echo "--- rng: the guest's PCI, MMIO and virtio lines"
	tr -d '\r' <"$WORKDIR/console.log" | grep -aiE 'pci|mmio|virtio|msi' | sed 's/^/| /'
fi
