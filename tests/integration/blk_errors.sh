#!/bin/bash
# blk_errors: disk problems stop vmm with a clear message before the guest starts:
# a missing image, and an image another vmm is using (OFD lock: a second read-write or
# read-only user of a read-write image is refused).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_vmm blk_missing blk_locked

w=$WORKDIR

# disk_config NAME IMAGE [EXTRA LINE]: a config with one disk.
disk_config() {
	make_config "$1" 1 "vmmtest=wait"
	printf '\n[[disk]]\npath = %s\n%s\n' "$(toml_string "$2")" "${3-}"
}

disk_config missing "$w/nope.img" >"$w/missing.toml"
rc=0
run_vmm "$w/missing.toml" "$w/missing.log" 60 || rc=$?
if [ "$rc" != "$VMM_EXIT_ERROR" ]; then
	fail blk_missing "exit $(describe_exit "$rc"), expected 1"
elif ! grep -q "disk.path: $w/nope.img: No such file or directory" "$w/missing.log"; then
	fail blk_missing "unclear message: $(head -n 3 "$w/missing.log" | tr '\n' ';')"
elif expect_in_log "$w/missing.log" VMMTEST-INIT; then
	fail blk_missing "the guest started"
else
	pass blk_missing
fi

head -c 4194304 /dev/zero >"$w/shared.img"
disk_config first "$w/shared.img" >"$w/first.toml"
start_vmm "$w/first.toml" "$w/first.log"
first=$VMM_PID
if ! wait_for_log "$w/first.log" VMMTEST-WAITING "$BOOT_TIMEOUT" "$first"; then
	fail blk_locked "the first VM did not boot"
	kill -KILL "$first" 2>/dev/null || true
	exit 0
fi
verdict=""
for mode in rw ro; do
	extra=""
	[ "$mode" = rw ] || extra="read_only = true"
	disk_config second "$w/shared.img" "$extra" >"$w/second-$mode.toml"
	rc=0
	run_vmm "$w/second-$mode.toml" "$w/second-$mode.log" 60 || rc=$?
	if [ "$rc" != "$VMM_EXIT_ERROR" ]; then
		verdict="second $mode vmm: exit $(describe_exit "$rc"), expected 1"
	elif ! grep -q "image $w/shared.img is in use by another process" "$w/second-$mode.log"; then
		verdict="second $mode vmm: unclear message: $(tr '\n' ';' <"$w/second-$mode.log" | head -c 300)"
	elif expect_in_log "$w/second-$mode.log" VMMTEST-INIT; then
		verdict="second $mode vmm: its guest started"
	fi
	[ -z "$verdict" ] || break
done
kill -TERM "$first"
rc=0
wait_pid "$first" 60 || rc=$?
if [ -n "$verdict" ]; then
	fail blk_locked "$verdict"
elif [ "$rc" != 0 ]; then
	fail blk_locked "the first vmm ended with $(describe_exit "$rc") after SIGTERM"
else
	pass blk_locked
fi
