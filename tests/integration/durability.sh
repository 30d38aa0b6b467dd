#!/bin/bash
# durability: no fsynced byte is lost when vmm dies. The guest (vmmtest=durblk, durfs)
# writes 64 KiB blocks of a known pattern, one after another, fsyncs each and prints
# "VMMTEST-DUR-SYNCED N" once the fsync of block N-1 returned; vmm is SIGKILLed right
# after the DURABILITY_KILL_AFTER-th marker, while the guest goes on writing. Then every
# block the console shows as fsynced must be in the image (buffered disk; direct = true)
# or in the shared file on the host (virtio-fs, vmm's own virtiofsd), byte for byte.
# METRIC durability_*_lost_bytes is the number of fsynced bytes missing (goal 0).
# SIGKILL loses no page cache of the host: this checks that vmm answers a flush (and
# virtiofsd an fsync) only after the data reached the host kernel, not a power cut.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

tests=(durability_blk_buffered durability_blk_direct durability_fs)
require_vmm "${tests[@]}"
w=$WORKDIR
VIRTIOFSD=${VIRTIOFSD:-/usr/lib/qemu/virtiofsd}
KILL_AFTER=${DURABILITY_KILL_AFTER:-24}
BLOCK=65536

cleanup() {
	[ -z "${vmm_pid-}" ] || kill -KILL "$vmm_pid" 2>/dev/null || true
	if [ -n "${ext4_dir-}" ]; then
		umount "$ext4_dir" 2>/dev/null || true
	fi
	[ -z "${loop_dev-}" ] || losetup -d "$loop_dev" 2>/dev/null || true
}
trap cleanup EXIT

# synced_blocks LOG: the highest VMMTEST-DUR-SYNCED count among LOG's whole lines (the
# kill may cut the last line short).
synced_blocks() {
	head -n "$(wc -l <"$1")" "$1" | tr -d '\r' |
		sed -n 's/.*VMMTEST-DUR-SYNCED \([0-9][0-9]*\)$/\1/p' | tail -n 1
}

# lost_bytes FILE N: how many bytes of the first N blocks of FILE differ from what the
# guest wrote; bytes missing from a short FILE count as lost.
lost_bytes() {
	local f=$1 n=$2 i=0 want have differ
	: >"$w/expect"
	while [ "$i" -lt "$n" ]; do
		(yes "vmmtest-dur-$i" || true) | head -c "$BLOCK" >>"$w/expect"
		i=$((i + 1))
	done
	want=$((n * BLOCK))
	head -c "$want" "$f" >"$w/actual" 2>/dev/null || true
	have=$(stat -c %s "$w/actual")
	differ=$(cmp -l "$w/expect" "$w/actual" 2>/dev/null | wc -l)
	echo $((differ + want - have))
}

# vfsd_pid LOG: the pid of the virtiofsd vmm started, from its log.
vfsd_pid() {
	tr -d '\r' <"$1" | sed -n 's/.*started .* (pid \([0-9][0-9]*\)).*/\1/p' | head -n 1
}

# kill_and_check NAME DIR FILE: runs DIR/vm.toml, SIGKILLs vmm after KILL_AFTER fsynced
# blocks and compares FILE with what the guest fsynced.
kill_and_check() {
	local name=$1 d=$2 file=$3 n rc=0 lost vfsd i
	start_vmm "$d/vm.toml" "$d/console.log"
	vmm_pid=$VMM_PID
	if ! wait_for_log "$d/console.log" "VMMTEST-DUR-SYNCED $KILL_AFTER" "$BOOT_TIMEOUT" "$vmm_pid"; then
		kill -KILL "$vmm_pid" 2>/dev/null || true
		wait "$vmm_pid" 2>/dev/null || true
		vmm_pid=""
		fail "$name" "the guest did not fsync $KILL_AFTER blocks: $(tr -d '\r' <"$d/console.log" |
			grep -a -E 'VMMTEST-DUR-(START|ERROR|MOUNT|END)|vmm:' | tail -n 4 | tr '\n' ';')"
		return 0
	fi
	vfsd=$(vfsd_pid "$d/console.log")
	kill -KILL "$vmm_pid" 2>/dev/null || true
	wait "$vmm_pid" 2>/dev/null || rc=$?
	vmm_pid=""
	# vmm's virtiofsd may still finish a write the guest sent; the file is read after it
	# is gone.
	if [ -n "$vfsd" ]; then
		i=0
		while kill -0 "$vfsd" 2>/dev/null && [ "$i" -lt 50 ]; do
			sleep 0.2
			i=$((i + 1))
		done
		if kill -0 "$vfsd" 2>/dev/null; then
			echo "$name: virtiofsd $vfsd still runs 10 s after vmm's SIGKILL; killing it"
			kill -KILL "$vfsd" 2>/dev/null || true
		fi
	fi
	n=$(synced_blocks "$d/console.log")
	if [ "$rc" != 137 ]; then
		fail "$name" "vmm ended with $(describe_exit "$rc") before the SIGKILL"
		return 0
	fi
	lost=$(lost_bytes "$file" "$n")
	echo "METRIC ${name}_synced_bytes $((n * BLOCK))"
	echo "METRIC ${name}_lost_bytes $lost"
	if [ "$lost" = 0 ]; then
		pass "$name"
	else
		fail "$name" "$lost of $((n * BLOCK)) fsynced bytes ($n blocks) are not in $file after vmm's SIGKILL"
		cmp "$w/expect" "$w/actual" 2>&1 | head -n 2
	fi
}

# direct_dir: sets ddir to a directory on a file system with O_DIRECT: the work
# directory, or else (tmpfs before Linux 6.6, the test host's root) an ext4 on a loop
# device.
direct_dir() {
	ddir=$w
	if dd if=/dev/zero of="$w/odirect" bs=4096 count=1 oflag=direct 2>/dev/null; then
		rm -f "$w/odirect"
		return 0
	fi
	rm -f "$w/odirect"
	command -v losetup >/dev/null 2>&1 && command -v mke2fs >/dev/null 2>&1 || return 1
	dd if=/dev/zero of="$w/ext4.img" bs=1048576 count=80 2>/dev/null || return 1
	mke2fs -q -F -t ext4 "$w/ext4.img" >/dev/null 2>&1 || return 1
	loop_dev=$(losetup -f 2>/dev/null) || return 1
	losetup "$loop_dev" "$w/ext4.img" || { loop_dev=""; return 1; }
	ext4_dir=$w/ext4
	mkdir -p "$ext4_dir"
	mount -t ext4 "$loop_dev" "$ext4_dir" || { ext4_dir=""; return 1; }
	ddir=$ext4_dir
}

# The buffered disk and the direct one.
for mode in buffered direct; do
	name=durability_blk_$mode
	d=$w/$mode
	mkdir -p "$d"
	img=$d/disk.img
	if [ "$mode" = direct ]; then
		if ! direct_dir; then
			skip "$name" "no file system with O_DIRECT here (needs losetup, mke2fs, loop)"
			continue
		fi
		img=$ddir/disk.img
		echo "$name: the image is in $ddir${loop_dev:+ (ext4 on $loop_dev)}"
	fi
	make_config "dur-$mode" 1 "vmmtest=durblk" >"$d/vm.toml"
	printf '\n[[disk]]\npath = %s\nsize_mib = 64\ndirect = %s\n' "$(toml_string "$img")" \
		"$([ "$mode" = direct ] && echo true || echo false)" >>"$d/vm.toml"
	kill_and_check "$name" "$d" "$img"
done

# virtio-fs, vmm's own virtiofsd.
name=durability_fs
if [ ! -x "$VIRTIOFSD" ]; then
	skip "$name" "no $VIRTIOFSD"
else
	d=$w/fs
	mkdir -p "$d/share"
	make_config dur-fs 1 "vmmtest=durfs" >"$d/vm.toml"
	cat >>"$d/vm.toml" <<EOT

[[fs]]
tag = "data"
source = "share"
sandbox = "chroot"
virtiofsd = $(toml_string "$VIRTIOFSD")
EOT
	kill_and_check "$name" "$d" "$d/share/dur.bin"
fi
