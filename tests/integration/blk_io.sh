#!/bin/bash
# blk_io: three virtio-blk disks seen from inside the guest and checked from the host
# afterwards. vda: read-write, created sparse by size_mib, gets a pattern written with
# O_DIRECT + fsync that must be in the image file at 1 MiB; vdb: read-only, writes fail
# and the image is unchanged; vdc: an ext4 image built on the host (mke2fs -d) that the
# guest mounts, reads and writes to. Also: size_mib never truncates an existing image.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_vmm blk_devices blk_write blk_readonly blk_ext4

w=$WORKDIR
# text LINE BYTES: LINE repeated, BYTES long (yes dies of SIGPIPE, which pipefail sees).
text() { (yes "$1" || true) | head -c "$2"; }
show_log() { tr -d '\r' <"$w/console.log" | grep -a -E 'VMMTEST|vmm:|virtio|vd[a-z]' | sed 's/^/| /' | tail -n 40; }

# vdb: 1 MiB of a known text.
text READONLY-DISK-B 1048576 >"$w/b.img"
b_sum=$(md5sum <"$w/b.img")
# vdc: ext4 with one file; 8 MiB, and size_mib = 64 must leave it at 8 MiB.
have_e2fs=1
if command -v mke2fs >/dev/null 2>&1 && command -v debugfs >/dev/null 2>&1; then
	mkdir -p "$w/fs"
	echo "hello from the host" >"$w/fs/hello.txt"
	mke2fs -q -F -t ext4 -d "$w/fs" "$w/c.img" 8M >"$w/mke2fs.log" 2>&1 || have_e2fs=0
else
	have_e2fs=0
fi

make_config blk 1 "vmmtest=blk" >"$w/vm.toml"
cat >>"$w/vm.toml" <<EOT

[[disk]]
path = "a.img"
size_mib = 16
serial = "vmmtest-serial-a"

[[disk]]
path = "b.img"
read_only = true
EOT
if [ "$have_e2fs" = 1 ]; then
	printf '\n[[disk]]\npath = "c.img"\nsize_mib = 64\n' >>"$w/vm.toml"
fi

rc=0
run_vmm "$w/vm.toml" "$w/console.log" || rc=$?
log=$(tr -d '\r' <"$w/console.log")

if [ "$rc" != 0 ] || ! grep -q VMMTEST-BLK-DONE <<<"$log"; then
	for n in blk_devices blk_write blk_readonly blk_ext4; do
		fail "$n" "exit $(describe_exit "$rc"), guest did not finish its checks"
	done
	show_log
	exit 0
fi

if grep -q "VMMTEST-BLK-DEV vda sectors=32768 ro=0 serial=vmmtest-serial-a" <<<"$log" &&
	grep -q "VMMTEST-BLK-DEV vdb sectors=2048 ro=1" <<<"$log"; then
	pass blk_devices
else
	fail blk_devices "vda/vdb not as configured: $(grep VMMTEST-BLK-DEV <<<"$log" | tr '\n' ';')"
fi

# The pattern must be in the image file itself, at 1 MiB, and the file 16 MiB.
text vmmtest-blk-pattern 65536 >"$w/pattern"
dd if="$w/a.img" of="$w/written" bs=4096 skip=256 count=16 2>/dev/null
size_a=$(stat -c %s "$w/a.img")
if ! grep -q "VMMTEST-BLK-WRITE ok" <<<"$log"; then
	fail blk_write "the guest's write failed: $(grep VMMTEST-BLK-WRITE <<<"$log")"
elif ! cmp -s "$w/pattern" "$w/written"; then
	fail blk_write "the image does not hold the guest's pattern at 1 MiB"
elif [ "$size_a" != 16777216 ]; then
	fail blk_write "a.img is $size_a bytes, expected 16 MiB"
elif ! grep -q "VMMTEST-BLK-READBACK ok" <<<"$log"; then
	fail blk_write "the guest read back something else"
else
	pass blk_write
fi

if ! grep -q "VMMTEST-BLK-RO-WRITE failed" <<<"$log"; then
	fail blk_readonly "a write to the read-only disk: $(grep VMMTEST-BLK-RO-WRITE <<<"$log")"
elif ! grep -q "VMMTEST-BLK-RO-READ READONLY-DISK-B" <<<"$log"; then
	fail blk_readonly "the guest did not read the read-only image"
elif [ "$(md5sum <"$w/b.img")" != "$b_sum" ]; then
	fail blk_readonly "b.img changed"
else
	pass blk_readonly
fi

if [ "$have_e2fs" = 0 ]; then
	skip blk_ext4 "no mke2fs/debugfs in the test host"
elif ! grep -q "VMMTEST-BLK-FILE hello from the host" <<<"$log"; then
	fail blk_ext4 "mount/read in the guest: $(grep -E 'VMMTEST-BLK-(FILE|MOUNT)' <<<"$log")"
elif ! grep -q "VMMTEST-BLK-UMOUNT ok" <<<"$log"; then
	fail blk_ext4 "the guest could not unmount"
elif [ "$(stat -c %s "$w/c.img")" != 8388608 ]; then
	fail blk_ext4 "size_mib changed the size of an existing image: $(stat -c %s "$w/c.img")"
elif [ "$(debugfs -R 'cat /guest.txt' "$w/c.img" 2>/dev/null)" != "written by the guest" ]; then
	fail blk_ext4 "the guest's file is not in the image: $(debugfs -R 'cat /guest.txt' "$w/c.img" 2>&1 | tail -n 2)"
else
	pass blk_ext4
fi
