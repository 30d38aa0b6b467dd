#!/bin/bash
# fs_share: two virtio-fs shares served by Debian's C virtiofsd over vhost-user. ro-store:
# read_only, vmm starts and supervises its virtiofsd; data: a virtiofsd this test runs
# behind a socket, as an admin would. The guest mounts both, reads what the host wrote,
# writes a file the host then reads, and gets EROFS writing to the read-only share.
# Also: a socket nobody serves is a clear error at start.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_vmm fs_mount fs_read fs_write fs_readonly fs_no_backend

w=$WORKDIR
VIRTIOFSD=${VIRTIOFSD:-/usr/lib/qemu/virtiofsd}
show_log() { tr -d '\r' <"$w/console.log" | grep -a -E 'VMMTEST|vmm:|virtio|fuse' | sed 's/^/| /' | tail -n 40; }

if [ ! -x "$VIRTIOFSD" ]; then
	for n in fs_mount fs_read fs_write fs_readonly; do skip "$n" "no $VIRTIOFSD"; done
	exit 0
fi

mkdir -p "$w/ro" "$w/data"
echo "read-only from the host" >"$w/ro/ro.txt"
echo "hello over virtiofs" >"$w/data/host.txt"
ro_sum=$(ls -lA "$w/ro" | md5sum)

# The admin-managed backend. sandbox=chroot: the test host's root is an initramfs,
# which namespace mode cannot pivot_root away from.
"$VIRTIOFSD" --socket-path="$w/data.sock" -o source="$w/data" -o sandbox=chroot \
	-o cache=auto >"$w/virtiofsd-data.log" 2>&1 &
vfsd=$!
for _ in $(seq 50); do [ -S "$w/data.sock" ] && break; sleep 0.2; done

make_config fs 1 "vmmtest=fs" >"$w/vm.toml"
cat >>"$w/vm.toml" <<EOT

[[fs]]
tag = "ro-store"
source = "ro"
read_only = true
sandbox = "chroot"
virtiofsd = $(toml_string "$VIRTIOFSD")

[[fs]]
tag = "data"
socket = "data.sock"
EOT

rc=0
run_vmm "$w/vm.toml" "$w/console.log" || rc=$?
kill "$vfsd" 2>/dev/null || true
wait "$vfsd" 2>/dev/null || true
log=$(tr -d '\r' <"$w/console.log")

if [ "$rc" != 0 ] || ! grep -q VMMTEST-FS-DONE <<<"$log"; then
	for n in fs_mount fs_read fs_write fs_readonly; do
		fail "$n" "exit $(describe_exit "$rc"), guest did not finish its checks"
	done
	show_log
	sed 's/^/| virtiofsd: /' "$w/virtiofsd-data.log" | tail -n 10
else
	if grep -q "VMMTEST-FS-MOUNT ro-store ok" <<<"$log" &&
		grep -q "VMMTEST-FS-MOUNT data ok" <<<"$log"; then
		pass fs_mount
	else
		fail fs_mount "$(grep VMMTEST-FS-MOUNT <<<"$log" | tr '\n' ';')"
	fi
	if grep -q "VMMTEST-FS-READ hello over virtiofs" <<<"$log" &&
		grep -q "VMMTEST-FS-RO-READ read-only from the host" <<<"$log"; then
		pass fs_read
	else
		fail fs_read "$(grep -E 'VMMTEST-FS-(RO-)?READ' <<<"$log" | tr '\n' ';')"
	fi
	if ! grep -q "VMMTEST-FS-WRITE ok" <<<"$log"; then
		fail fs_write "the guest's write failed"
	elif [ "$(cat "$w/data/guest.txt" 2>&1)" != "written by the guest" ]; then
		fail fs_write "the host reads: $(head -c 200 "$w/data/guest.txt" 2>&1)"
	else
		pass fs_write
	fi
	if ! grep -q "VMMTEST-FS-RO-WRITE .*Read-only file system" <<<"$log" ||
		! grep -q "VMMTEST-FS-RO-MKDIR .*Read-only file system" <<<"$log"; then
		fail fs_readonly "not EROFS: $(grep -E 'VMMTEST-FS-RO-(WRITE|MKDIR)' <<<"$log" | tr '\n' ';')"
	elif [ "$(ls -lA "$w/ro" | md5sum)" != "$ro_sum" ]; then
		fail fs_readonly "the read-only directory changed"
	else
		pass fs_readonly
	fi
fi

# Nobody serves the socket: vmm must refuse to start, saying which socket.
make_config fs-nobackend 1 "vmmtest=poweroff" >"$w/nb.toml"
printf '\n[[fs]]\ntag = "data"\nsocket = "nobody.sock"\n' >>"$w/nb.toml"
rc=0
run_vmm "$w/nb.toml" "$w/nb.log" 60 || rc=$?
if [ "$rc" = "$VMM_EXIT_ERROR" ] && expect_in_log "$w/nb.log" "cannot connect to the vhost-user socket" &&
	expect_in_log "$w/nb.log" "nobody.sock"; then
	pass fs_no_backend
else
	fail fs_no_backend "exit $(describe_exit "$rc"): $(tail -n 3 "$w/nb.log" | tr '\n' ';')"
fi
