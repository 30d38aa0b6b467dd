#!/bin/bash
# seed000: shared/seeds/000's service VM as docs/netsetup.md writes it ("Seed 000 as one
# config"): NIC 1 on the host's LAN bridge br-vms in PCI slot 5 (the guest's enp0s5), NIC
# 2 user-mode (passt) with the forward 2201 -> 22, next to a second VM on the same LAN
# bridge. The test host plays the LAN: br-vms with the host's 192.168.50.240/24, a TAP
# per VM on it as netsetup makes them for a bridge it does not own (netsetup itself is
# tested in network namespaces, tests/netsetup); both vmms start as root, as systemd
# starts them, and drop to nobody before the guest runs.
# The guests (vmmtest=seed000) serve a random file on their LAN address (port 8000), fetch each
# other's over the bridge, and the service VM serves a token on port 22.
#  seed000_boot       both VMs boot, NIC 1 at PCI 00:05.0 (x86_64) or virtio-mmio slot 5
#                     (aarch64, a000a00.virtio_mmio), NIC 2 gets its address by DHCP
#  seed000_lan        the two VMs exchange their files over br-vms (md5 both ways)
#  seed000_host_lan   the host fetches the service VM's file at its LAN address
#  seed000_localhost  127.0.0.1:2201 on the host reaches the service VM's port 22
#  seed000_poweroff   both power off (exit 0) when asked over the LAN
# Tools: passt, busybox brctl, tunctl, ip, nc, su, unshare, chroot, mount.
GUEST_MEMORY_MIB=${GUEST_MEMORY_MIB:-256}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

tests=(seed000_boot seed000_lan seed000_host_lan seed000_localhost seed000_poweroff)
require_vmm "${tests[@]}"
w=$WORKDIR
export LC_ALL=C

require_tools passt brctl tunctl ip nc su unshare chroot mount md5sum
[ "$(id -u)" = 0 ] || skip_all "the LAN bridge and the TAPs need root"

pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	for p in vm-service vm-peer; do tunctl -d "$p" >/dev/null 2>&1 || true; done
	ip link set br-vms down 2>/dev/null || true
	brctl delbr br-vms 2>/dev/null || true
	passt_uplink_down
}
trap cleanup EXIT

passt_uplink_up || skip_all "cannot make the stand-in uplink (bridge vmmup0)"
# The LAN: the host's bridge with its LAN address, a TAP per VM owned by nobody.
make_lan() {
	local t
	brctl addbr br-vms && ip addr add 192.168.50.240/24 dev br-vms && ip link set br-vms up ||
		return 1
	for t in vm-service vm-peer; do
		tunctl -t "$t" >/dev/null && brctl addif br-vms "$t" && ip link set "$t" up ||
			return 1
	done
}
if ! make_lan 2>"$w/lan.err"; then
	for n in "${tests[@]}"; do fail "$n" "cannot make the LAN bridge br-vms and its TAPs: $(tr '\n' ' ' <"$w/lan.err")"; done
	exit 0
fi

# The service VM as in docs/netsetup.md, with the test's kernel and shares left out.
make_config service 1 "vmmtest=seed000 vmmtest.lan=192.168.50.151/24 vmmtest.lanmac=02:00:00:00:00:51 vmmtest.peer=192.168.50.152 net.ifnames=0" >"$w/service.toml"
cat >>"$w/service.toml" <<'EOT'

[[net]]
tap = "vm-service"
mac = "02:00:00:00:00:51"
bridge = "br-vms"
pci_slot = 5

[[net]]
mode = "user"
mac = "02:00:00:00:00:52"
forward = ["2201:22"]
EOT
make_config peer 1 "vmmtest=seed000 vmmtest.lan=192.168.50.152/24 vmmtest.lanmac=02:00:00:00:00:61 vmmtest.peer=192.168.50.151 net.ifnames=0" >"$w/peer.toml"
cat >>"$w/peer.toml" <<'EOT'

[[net]]
tap = "vm-peer"
mac = "02:00:00:00:00:61"
bridge = "br-vms"
EOT
for v in service peer; do
	sed -i "/^\[vm\]/a control_socket = \"\"" "$w/$v.toml"
	chmod 644 "$w/$v.toml"
done
start_vmm_in_mountns "$w/service.toml" "$w/service.log"
svc_pid=$VMM_PID
pids+=("$svc_pid")
start_vmm_in_mountns "$w/peer.toml" "$w/peer.log"
peer_pid=$VMM_PID
pids+=("$peer_pid")

show_logs() {
	local v
	for v in service peer; do
		tr -d '\r' <"$w/$v.log" | grep -a -E 'VMMTEST|vmm:|passt' | sed "s/^/| $v: /" | tail -n 15
	done
}
# marker V NAME: the rest of guest V's first VMMTEST-SEED-NAME line.
marker() { tr -d '\r' <"$w/$1.log" | sed -n "s/.*VMMTEST-SEED-$2 //p" | head -n 1; }

up=1
for v in service peer; do
	p=$svc_pid
	[ "$v" = service ] || p=$peer_pid
	wait_for_log "$w/$v.log" VMMTEST-SEED-SERVING "$BOOT_TIMEOUT" "$p" || up=0
done
if [ "$up" = 0 ]; then
	for n in "${tests[@]}"; do fail "$n" "the guests did not both come up serving"; done
	show_logs
	exit 0
fi

case $(virtio_transport "$w/service.log") in
mmio) want_at=a000a00.virtio_mmio ;;
*) want_at=0000:00:05.0 ;;
esac
lan=$(marker service LAN)
user=$(marker service USER)
if [[ $lan == *"at=$want_at"* ]] && [[ $user == *" 10.0.2.15/24" ]]; then
	pass seed000_boot
else
	fail seed000_boot "LAN NIC '$lan' (want at=$want_at), user-mode NIC '$user' (want 10.0.2.15/24 by DHCP)"
fi

svc_md5=$(marker service SERVING | sed -n 's/.*md5=\([0-9a-f]*\).*/\1/p')
peer_md5=$(marker peer SERVING | sed -n 's/.*md5=\([0-9a-f]*\).*/\1/p')
wait_for_log "$w/service.log" VMMTEST-SEED-FETCH 150 "$svc_pid" || true
wait_for_log "$w/peer.log" VMMTEST-SEED-FETCH 150 "$peer_pid" || true
got_svc=$(marker service FETCH)
got_peer=$(marker peer FETCH)
if [ -n "$svc_md5" ] && [ "$got_svc" = "md5=$peer_md5" ] && [ "$got_peer" = "md5=$svc_md5" ]; then
	pass seed000_lan
else
	fail seed000_lan "service fetched '$got_svc' (peer serves $peer_md5), peer fetched '$got_peer' (service serves $svc_md5)"
fi

# bash's /dev/tcp reads to the end (busybox nc would end the connection with its input).
rm -f "$w/host.bin"
{ timeout 30 bash -c 'exec 3<>/dev/tcp/192.168.50.151/8000 && cat <&3' >"$w/host.bin"; } 2>"$w/nc.err" || true
host_md5=$(md5sum <"$w/host.bin" | cut -d' ' -f1)
if [ "$host_md5" = "$svc_md5" ]; then
	pass seed000_host_lan
else
	fail seed000_host_lan "the host got $(stat -c %s "$w/host.bin") bytes, md5 '$host_md5' from 192.168.50.151:8000, want $svc_md5: $(cat "$w/nc.err")"
fi

token=$(marker service SERVING | sed -n 's/.*token=\([0-9a-f]*\).*/\1/p')
got=$({ printf 'GET /token.txt HTTP/1.0\r\n\r\n' | nc -w 10 127.0.0.1 2201 2>/dev/null || true; } |
	tr -d '\r' | tail -n 1)
if [ -n "$token" ] && [ "$got" = "$token" ]; then
	pass seed000_localhost
else
	fail seed000_localhost "127.0.0.1:2201 gave '$got', the service VM's port 22 serves '$token'"
fi

why=""
for a in 192.168.50.151 192.168.50.152; do
	nc -w 5 "$a" 9002 </dev/null >/dev/null 2>&1 || why="$why nothing answered on $a:9002;"
done
for p in "$svc_pid" "$peer_pid"; do
	rc=0
	wait_pid "$p" 120 || rc=$?
	[ "$rc" = 0 ] || why="$why vmm $p exit $(describe_exit "$rc");"
done
pids=()
if [ -z "$why" ]; then
	pass seed000_poweroff
else
	fail seed000_poweroff "$why"
	show_logs
fi
