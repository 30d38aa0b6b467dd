#!/bin/bash
# blk_format: [[disk]] size_mib + format = "ext4" + label, as microvm.nix's autoCreate
# volumes: vmm creates and formats the missing image before the guest starts; the
# guest reads the label and mounts it; a second boot finds the guest's file there
# (an existing image is never formatted again).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_vmm blk_format

if ! PATH=$PATH:/usr/sbin:/sbin command -v mkfs.ext4 >/dev/null; then
	fail blk_format "no mkfs.ext4 in the test host (tests/testhost/run links it to mke2fs)"
	exit 0
fi
img=$WORKDIR/data.img
rm -f "$img"
{
	make_config blkfmt 1 "vmmtest=blkfmt"
	printf '\n[[disk]]\npath = "%s"\nsize_mib = 64\nformat = "ext4"\nlabel = "storage"\n' "$img"
} >"$WORKDIR/vm.toml"
check=$("$VMM" --check --config "$WORKDIR/vm.toml" 2>&1 | grep -a 'formats it with')
rc=0
run_vmm "$WORKDIR/vm.toml" "$WORKDIR/boot1.log" || rc=$?
rc2=0
run_vmm "$WORKDIR/vm.toml" "$WORKDIR/boot2.log" || rc2=$?
log1=$(grep -a 'VMMTEST-BLKFMT\|created image' "$WORKDIR/boot1.log" | tr -d '\r' | tr '\n' ' ')
if [ -z "$check" ]; then
	fail blk_format "vmm --check does not say it will format the missing image"
elif [ "$rc" != 0 ] || [ "$rc2" != 0 ]; then
	fail blk_format "exit $(describe_exit "$rc") / $(describe_exit "$rc2")"
	tail -n 20 "$WORKDIR/boot1.log" | sed 's/^/| /'
elif [ "$(stat -c %s "$img")" != $((64 << 20)) ]; then
	fail blk_format "image of $(stat -c %s "$img") bytes, want 64 MiB"
elif ! expect_in_log "$WORKDIR/boot1.log" "formatted ext4, label storage" ||
	! expect_in_log "$WORKDIR/boot1.log" "VMMTEST-BLKFMT-LABEL storage" ||
	! expect_in_log "$WORKDIR/boot1.log" "VMMTEST-BLKFMT-OLD none" ||
	! expect_in_log "$WORKDIR/boot1.log" "VMMTEST-BLKFMT-WRITE ok"; then
	fail blk_format "first boot: $log1"
elif expect_in_log "$WORKDIR/boot2.log" "created image" ||
	! expect_in_log "$WORKDIR/boot2.log" "VMMTEST-BLKFMT-OLD written-by-the-guest"; then
	fail blk_format "second boot: $(grep -a 'VMMTEST-BLKFMT\|created' "$WORKDIR/boot2.log" | tr -d '\r' | tr '\n' ' ')"
else
	pass blk_format
fi
