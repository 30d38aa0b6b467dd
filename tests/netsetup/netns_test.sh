#!/usr/bin/env bash
# Integration test of tools/netsetup with real traffic, entirely inside
# network namespaces this script makes, so the machine's own network is never
# touched:
#
#   [wan ns] wan0 192.0.2.1/24 (the internet)
#      |  veth
#   [host ns] up0 192.0.2.2/24, default via 192.0.2.1; netsetup runs here
#      br-vm1 10.1.0.1/24 -- vm-vm1 (TAP, no reader) + v1h (veth)    isolated
#      br-vm2 10.2.0.1/24 -- vm-vm2 (TAP, no reader) + v2h (veth)    isolated
#      br-shared 10.5.0.1/24 -- vm-s1, vm-s2 (TAPs) + sv1h, sv2h      shared
#      br-lan 192.168.50.240/24 -- lan0 (veth, the test's) + vm-lan1, vm-lan2
#   [vm1 ns] eth0 10.1.0.2/24          [vm2 ns] eth0 10.2.0.2/24
#   [sv1 ns] eth0 10.5.0.11/24         [sv2 ns] eth0 10.5.0.12/24
#   [lan ns] eth0 192.168.50.1/24 (the LAN's router, beyond br-lan)
#
# br-lan is the host's own LAN bridge, which netsetup does not own: the
# lan VMs' configs name it without `subnet`, and netsetup only adds and
# removes their TAPs.
#
# The "VMs" are namespaces whose veth peer the test enslaves to the bridge
# next to netsetup's TAP: a TAP passes traffic only with a reader on its fd
# (vmm), and a veth puts a full kernel network stack behind the bridge port
# instead, which is what the NAT, isolation and forwarding rules see either
# way. The TAP itself is checked apart: its owner can attach to it without
# privileges (tap_open).
#
# Usage: netns_test.sh NETSETUP TAP_OPEN. Exit 77 (skip) without root or
# network namespaces.
set -u

NETSETUP=$1
TAP_OPEN=$2

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces)"
for t in ip nft socat ping setpriv timeout; do
	command -v "$t" >/dev/null || skip "$t not installed (tools/install-deps)"
done
getent passwd nobody >/dev/null || skip "no user nobody"

sfx=$$
H=nst-host-$sfx W=nst-wan-$sfx V1=nst-vm1-$sfx V2=nst-vm2-$sfx
S1=nst-sv1-$sfx S2=nst-sv2-$sfx L=nst-lan-$sfx
nss=("$H" "$W" "$V1" "$V2" "$S1" "$S2" "$L")
ip netns add "$H" 2>/dev/null || skip "cannot create network namespaces"
for n in "${nss[@]:1}"; do
	ip netns add "$n" || { for m in "${nss[@]}"; do ip netns del "$m" 2>/dev/null; done; skip "netns"; }
done
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for n in "${nss[@]}"; do ip netns del "$n" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT

failures=0
pass() { echo "ok - $*"; }
fail() { echo "not ok - $*"; failures=$((failures + 1)); }
check() {	# check DESCRIPTION COMMAND...
	local d=$1; shift
	if "$@" >"$tmp/out" 2>&1; then pass "$d"; else fail "$d"; sed 's/^/    /' "$tmp/out"; fi
}
check_not() {
	local d=$1; shift
	if "$@" >"$tmp/out" 2>&1; then fail "$d"; sed 's/^/    /' "$tmp/out"; else pass "$d"; fi
}
inh() { ip netns exec "$H" "$@"; }
netsetup() { ip netns exec "$H" "$NETSETUP" "$@"; }

# What netsetup may change in the host namespace, without counters, timers
# or IPv6 duplicate address detection flags that move on their own.
snapshot() {
	{
		# Carrier comes and goes with the veth peers (linkwatch lags):
		# not netsetup's doing.
		ip -n "$H" -o link show |
			sed -e 's/^[0-9]*: //' -e 's/NO-CARRIER,//' -e 's/LOWER_UP//' -e 's/ state [A-Z]*//'
		ip -n "$H" -o -4 addr show
		ip -n "$H" -4 route show
		inh nft list ruleset
		inh cat /proc/sys/net/ipv4/ip_forward
	} 2>&1
}

# ---- the "internet" and the host ----
ip -n "$W" link set lo up
ip -n "$H" link set lo up
ip link add up0 netns "$H" type veth peer name wan0 netns "$W"
ip -n "$W" addr add 192.0.2.1/24 dev wan0 && ip -n "$W" link set wan0 up
ip -n "$H" addr add 192.0.2.2/24 dev up0 && ip -n "$H" link set up0 up
ip -n "$H" route add default via 192.0.2.1
ip netns exec "$H" ping -c1 -W3 192.0.2.1 >/dev/null || { echo "not ok - wan setup"; exit 1; }

# The host's LAN bridge, made by someone else: a port whose MAC is above
# nearly any random one and whose MTU is 9000, which the bridge takes from
# it. A TAP joining it with its own random MAC or MTU 1500 would change the
# bridge's MAC or lower its MTU.
ip -n "$H" link add br-lan type bridge
ip link add lan0 netns "$H" type veth peer name eth0 netns "$L"
ip -n "$H" link set lan0 address fc:00:00:00:00:01 mtu 9000
ip -n "$L" link set eth0 mtu 9000
ip -n "$H" link set lan0 master br-lan up
ip -n "$H" addr add 192.168.50.240/24 dev br-lan
ip -n "$H" link set br-lan up
ip -n "$L" addr add 192.168.50.1/24 dev eth0 && ip -n "$L" link set eth0 up
ip -n "$H" -o link show br-lan | grep -q "mtu 9000 .*" &&
	ip -n "$H" -o link show br-lan | grep -q "link/ether fc:00:00:00:00:01" ||
	{ echo "not ok - LAN bridge setup: $(ip -n "$H" -o link show br-lan)"; exit 1; }
# The LAN bridge and its other ports as `ip -d link` and `bridge link` show
# them, without timers that move on their own and without the VMs' TAPs.
lan_snapshot() {
	{
		ip -n "$H" -d link show br-lan
		ip -n "$H" -d link show lan0
		ip -n "$H" -o -4 addr show dev br-lan
		inh bridge link show | grep "master br-lan " | grep -v vm-lan
	} 2>&1 | sed -E 's/ [a-z_]*timer +[0-9.]+//g'
}
# While a TAP is a port, the bridge's TSO limits are the lowest of its
# ports' (the kernel's doing, for any port; a physical NIC's are usually no
# higher than a TAP's): the same but for those.
lan_snapshot_joined() { lan_snapshot | sed -E 's/ tso_max_(size|segs) [0-9]+//g'; }
lan0=$(lan_snapshot)

echo kernel >"$tmp/kernel"
# vm_toml NAME KERNEL: a config's first four lines; its [[net]] is line 5.
vm_toml() { printf '[vm]\nname = "%s"\n[boot]\nkernel = "%s"\n' "$1" "$2"; }
mkdir "$tmp/vms"
for i in 1 2; do
	{ vm_toml "vm$i" ../kernel; cat <<-EOF; } >"$tmp/vms/vm$i.toml"
	[[net]]
	tap = "vm-vm$i"
	owner = "nobody"
	bridge = "br-vm$i"
	subnet = "10.$i.0.0/24"
	forward = ["220$i:22"]
	EOF
done
# cfg NAME <<NET: the config of VM NAME with the [[net]] lines given, in $tmp.
cfg() { { vm_toml "$1" kernel; cat; } >"$tmp/$1.toml"; echo "$tmp/$1.toml"; }
# Two VMs sharing one bridge and its NAT, each with its own guest_ip.
mkdir "$tmp/shared"
for i in 1 2; do
	{ vm_toml "s$i" ../kernel; cat <<-EOF; } >"$tmp/shared/s$i.toml"
	[[net]]
	tap = "vm-s$i"
	owner = "nobody"
	bridge = "br-shared"
	subnet = "10.5.0.0/24"
	guest_ip = "10.5.0.1$i"
	forward = ["221$i:22"]
	EOF
done
# Two VMs on the host's LAN bridge (seed 000's first NIC).
for i in 1 2; do
	{ vm_toml "lan$i" kernel; cat <<-EOF; } >"$tmp/lan$i.toml"
	[[net]]
	tap = "vm-lan$i"
	owner = "nobody"
	bridge = "br-lan"
	EOF
done
vm3=$(cfg vm3 <<-EOF
	[[net]]
	tap = "vm-vm3"
	bridge = "br-vm3"
	subnet = "10.1.0.0/16"
	EOF
)

s0=$(snapshot)

# ---- bad input: refused, nothing changed ----
check_not "overlapping subnets between configs are refused" \
	netsetup up "$tmp/vms/vm1.toml" "$vm3"
grep -q "overlaps 10.1.0.0/24 of net\[0\] in .*vm1.toml" "$tmp/out" &&
	pass "the error names both configs" || { fail "overlap message"; cat "$tmp/out"; }
ip -n "$H" link add br-taken type bridge
taken=$(cfg taken <<-EOF
	[[net]]
	tap = "vm-taken"
	bridge = "br-taken"
	subnet = "10.9.0.0/24"
	EOF
)
s_taken=$(snapshot)
check_not "a bridge name taken by something else is refused" netsetup up "$taken"
grep -q "br-taken already exists and was not made by netsetup" "$tmp/out" &&
	pass "the error says who owns the name" || { fail "taken message"; cat "$tmp/out"; }
[ "$(snapshot)" = "$s_taken" ] && pass "refused: nothing changed" || fail "refused but changed"
ip -n "$H" link del br-taken
noup=$(cfg noup <<-EOF
	[[net]]
	tap = "vm-noup"
	bridge = "br-noup"
	subnet = "10.8.0.0/24"
	uplink = "nope0"
	EOF
)
check_not "a missing uplink is refused" netsetup up "$noup" "$tmp/vms/vm1.toml"
grep -q "net\[0\].uplink: no interface nope0" "$tmp/out" &&
	pass "the error names the uplink" || { fail "uplink message"; cat "$tmp/out"; }
lanbad=$(cfg lanbad <<-EOF
	[[net]]
	tap = "vm-lanbad"
	bridge = "br-nope"
	EOF
)
check_not "joining a bridge that does not exist is refused" netsetup up "$tmp/lan1.toml" "$lanbad"
grep -q "lanbad.toml:5: net\[0\].bridge: no bridge br-nope on this host" "$tmp/out" &&
	pass "the error names FILE:LINE: net[0].bridge" || { fail "missing bridge message"; cat "$tmp/out"; }
sed -i 's/br-nope/up0/' "$lanbad"
check_not "joining an interface that is not a bridge is refused" netsetup up "$lanbad"
grep -q "net\[0\].bridge: up0 is a veth, not a bridge" "$tmp/out" &&
	pass "the error says what it is" || { fail "not-a-bridge message"; cat "$tmp/out"; }
# Between the configs given: the same guest_ip, the same bridge with another
# subnet, the same host port; `rules` checks as `up` does.
mkdir "$tmp/dup"
cp "$tmp/shared/s1.toml" "$tmp/dup/"
sed -e 's/"s1"/"s3"/' -e 's/vm-s1/vm-s3/' -e 's/2211/2213/' "$tmp/shared/s1.toml" >"$tmp/dup/s3.toml"
check_not "the same guest_ip twice on a shared bridge is refused" netsetup up "$tmp/dup"
grep -q "s3.toml:5: net\[0\].guest_ip: 10.5.0.11 is also the guest_ip of net\[0\] in .*s1.toml:5" \
	"$tmp/out" && pass "the error names both configs" || { fail "guest_ip message"; cat "$tmp/out"; }
check_not "rules refuses it too" netsetup rules "$tmp/dup"
sed -i -e 's|10.5.0.0/24|10.6.0.0/24|' -e 's/10.5.0.11/10.6.0.2/' "$tmp/dup/s3.toml"
check_not "one bridge with two subnets is refused" netsetup up "$tmp/dup"
grep -q "s3.toml:5: net\[0\].subnet: 10.6.0.0/24 differs from 10.5.0.0/24 of net\[0\] in .*s1.toml:5, on the same bridge br-shared" \
	"$tmp/out" && pass "the error says why" || { fail "two subnets message"; cat "$tmp/out"; }
sed -i -e 's/br-shared/br-s3/' -e 's/2213/2211/' "$tmp/dup/s3.toml"
check_not "one host port forwarded by two VMs is refused" netsetup up "$tmp/dup"
grep -q "s3.toml:11: net\[0\].forward: host port 2211/tcp is also forwarded by .*s1.toml:11" \
	"$tmp/out" && pass "the error names both lines" || { fail "host port message"; cat "$tmp/out"; }
[ "$(snapshot)" = "$s0" ] && pass "after refusals the host is unchanged" ||
	{ fail "refusals changed the host"; diff <(echo "$s0") <(snapshot); }

# ---- up ----
check "up (a directory of configs)" netsetup up "$tmp/vms"
check "status after up" netsetup status "$tmp/vms"

# The VM stand-ins: a veth peer on each bridge.
for i in 1 2; do
	v=V$i
	ip link add "v${i}h" netns "$H" type veth peer name eth0 netns "${!v}"
	ip -n "$H" link set "v${i}h" master "br-vm$i" up
	ip -n "${!v}" link set lo up
	ip -n "${!v}" addr add "10.$i.0.2/24" dev eth0
	ip -n "${!v}" link set eth0 up
	ip -n "${!v}" route add default via "10.$i.0.1"
done

# Servers: the wan echoes the address it sees; each VM answers with its name.
ip netns exec "$W" socat TCP-LISTEN:8080,reuseaddr,fork SYSTEM:'echo $SOCAT_PEERADDR' &
pids+=($!)
ip netns exec "$V1" socat TCP-LISTEN:22,reuseaddr,fork SYSTEM:'echo vm1' &
pids+=($!)
ip netns exec "$V2" socat TCP-LISTEN:22,reuseaddr,fork SYSTEM:'echo vm2' &
pids+=($!)
sleep 0.5

# The limits are generous: each answer forks a shell (socat SYSTEM:), which on a loaded
# 2-core machine took over 3 s now and then; a refused or dropped connection still ends
# at once, and a blackholed one (what the isolation checks expect) costs connect-timeout.
fetch() {	# fetch NS HOST PORT: what the server there says
	ip netns exec "$1" timeout 20 socat -T10 - "TCP:$2:$3,connect-timeout=4" </dev/null 2>/dev/null
}

check "vm1 pings the wan" ip netns exec "$V1" ping -c1 -W2 192.0.2.1
seen=$(fetch "$V1" 192.0.2.1 8080)
[ "$seen" = 192.0.2.2 ] && pass "vm1 reaches the wan through NAT (wan sees $seen)" ||
	fail "NAT: the wan saw '$seen', not the host's 192.0.2.2"
seen=$(fetch "$V2" 192.0.2.1 8080)
[ "$seen" = 192.0.2.2 ] && pass "vm2 reaches the wan through NAT" || fail "vm2 NAT: '$seen'"
check "the host reaches vm1" inh ping -c1 -W2 10.1.0.2
check "the host reaches vm2" inh ping -c1 -W2 10.2.0.2
[ "$(fetch "$H" 10.2.0.2 22)" = vm2 ] && pass "the host reaches vm2's port 22" ||
	fail "host -> vm2:22"
check_not "vm1 cannot ping vm2" ip netns exec "$V1" ping -c1 -W1 10.2.0.2
[ -z "$(fetch "$V1" 10.2.0.2 22)" ] && pass "vm1 cannot connect to vm2" ||
	fail "vm1 connected to vm2"
check_not "vm2 cannot ping vm1" ip netns exec "$V2" ping -c1 -W1 10.1.0.2
[ "$(fetch "$W" 192.0.2.2 2201)" = vm1 ] && pass "port forward wan -> host:2201 -> vm1:22" ||
	fail "port forward from the wan"
[ "$(fetch "$W" 192.0.2.2 2202)" = vm2 ] && pass "port forward wan -> host:2202 -> vm2:22" ||
	fail "port forward 2202"
[ "$(fetch "$H" 192.0.2.2 2201)" = vm1 ] && pass "port forward from the host itself" ||
	fail "port forward from the host"
[ -z "$(fetch "$V2" 10.2.0.1 2201)" ] && pass "vm2 cannot reach vm1 through the forward" ||
	fail "vm2 reached vm1 through the host's port"
[ "$(fetch "$H" 127.0.0.1 2201)" = vm1 ] && pass "port forward from the host's 127.0.0.1" ||
	fail "port forward from 127.0.0.1"
[ "$(fetch "$H" 10.2.0.1 2202)" = vm2 ] && pass "port forward from the host to a bridge address" ||
	fail "port forward to 10.2.0.1"

# ---- a shared bridge: two VMs, one subnet, one NAT ----
check "up of a shared bridge (a directory of two configs)" netsetup up "$tmp/shared"
i=0
for ns in "$S1" "$S2"; do
	i=$((i + 1))
	ip link add "sv${i}h" netns "$H" type veth peer name eth0 netns "$ns"
	ip -n "$H" link set "sv${i}h" master br-shared up
	ip -n "$ns" addr add "10.5.0.1$i/24" dev eth0
	ip -n "$ns" link set eth0 up
	ip -n "$ns" route add default via 10.5.0.1
	ip netns exec "$ns" socat TCP-LISTEN:22,reuseaddr,fork SYSTEM:"echo s$i" &
	pids+=($!)
done
sleep 0.5
[ "$(ip -n "$H" -o link show master br-shared | grep -c -e vm-s1 -e vm-s2)" = 2 ] &&
	pass "both TAPs are ports of br-shared" || fail "TAPs on br-shared"
check "s1 pings s2 on the shared bridge" ip netns exec "$S1" ping -c1 -W2 10.5.0.12
[ "$(fetch "$S1" 10.5.0.12 22)" = s2 ] && pass "s1 connects to s2" || fail "s1 -> s2:22"
[ "$(fetch "$S2" 10.5.0.11 22)" = s1 ] && pass "s2 connects to s1" || fail "s2 -> s1:22"
for i in 1 2; do
	ns=S$i
	seen=$(fetch "${!ns}" 192.0.2.1 8080)
	[ "$seen" = 192.0.2.2 ] && pass "s$i reaches the wan through NAT (wan sees $seen)" ||
		fail "s$i NAT: the wan saw '$seen'"
done
check_not "vm1 (another bridge) cannot ping s1" ip netns exec "$V1" ping -c1 -W1 10.5.0.11
[ -z "$(fetch "$V1" 10.5.0.12 22)" ] && pass "vm1 cannot connect to s2" || fail "vm1 connected to s2"
check_not "s1 cannot ping vm1" ip netns exec "$S1" ping -c1 -W1 10.1.0.2
[ -z "$(fetch "$S2" 10.1.0.2 22)" ] && pass "s2 cannot connect to vm1" || fail "s2 connected to vm1"
[ "$(fetch "$W" 192.0.2.2 2211)" = s1 ] && pass "port forward wan -> host:2211 -> s1:22" ||
	fail "port forward 2211 from the wan"
[ "$(fetch "$H" 127.0.0.1 2212)" = s2 ] && pass "port forward 127.0.0.1:2212 -> s2:22" ||
	fail "port forward 2212 from 127.0.0.1"
[ "$(fetch "$H" 192.0.2.2 2211)" = s1 ] && pass "port forward host address:2211 -> s1:22" ||
	fail "port forward 2211 from the host"
# route_localnet, which forwards from 127.0.0.1 need on the bridge, must not
# open the host's 127/8 to the guests: a guest that routes 127.0.0.99 to
# the gateway (and accepts loopback sources itself) gets nowhere. The
# control run without netsetup's input chains shows that the probe can get
# through when nothing stops it.
ip netns exec "$H" socat TCP-LISTEN:9999,bind=127.0.0.99,reuseaddr,fork SYSTEM:'echo host-loopback' &
pids+=($!)
ip netns exec "$S1" sysctl -qw net.ipv4.conf.all.route_localnet=1 net.ipv4.conf.eth0.route_localnet=1
ip -n "$S1" route add 127.0.0.99/32 via 10.5.0.1
sleep 0.3
[ -z "$(fetch "$S1" 127.0.0.99 9999)" ] && pass "a guest cannot reach the host's 127/8" ||
	fail "s1 reached a service on the host's 127.0.0.99"
for t in $(inh nft list tables | sed -n 's/^table ip \(netsetup-.*\)/\1/p'); do
	inh nft delete chain ip "$t" input
done
[ "$(fetch "$S1" 127.0.0.99 9999)" = host-loopback ] &&
	pass "control: without the input chains it could" || fail "control: the 127/8 probe cannot fail"
for t in $(inh nft list tables | sed -n 's/^table ip \(netsetup-.*\)/\1/p'); do
	inh nft delete table ip "$t"
done
check "up restores the tables" netsetup up "$tmp/vms" "$tmp/shared"
[ -z "$(fetch "$S1" 127.0.0.99 9999)" ] && pass "and the guard with them" || fail "guard after up"

# ---- the host's LAN bridge: netsetup adds only the TAPs ----
check_not "joining a bridge netsetup made for a subnet, without it, is refused" \
	netsetup up "$(sed 's/br-lan/br-vm1/' "$tmp/lan1.toml" >"$tmp/lanvm1.toml"; echo "$tmp/lanvm1.toml")"
grep -q "net\[0\].bridge: br-vm1 is a bridge netsetup made for a subnet" "$tmp/out" &&
	pass "the error says how to share it" || { fail "netsetup bridge message"; cat "$tmp/out"; }
check "up of two VMs on the LAN bridge" netsetup up "$tmp/lan1.toml" "$tmp/lan2.toml"
[ "$(ip -n "$H" -o link show master br-lan | grep -c -e vm-lan1 -e vm-lan2)" = 2 ] &&
	pass "both TAPs are ports of br-lan" || fail "TAPs on br-lan"
ip -n "$H" -d link show vm-lan1 | grep -q "tun type tap .* user nobody" &&
	pass "the TAP is owned by the VM's user" || fail "TAP owner: $(ip -n "$H" -d link show vm-lan1)"
[ "$(lan_snapshot_joined)" = "$(echo "$lan0" | sed -E 's/ tso_max_(size|segs) [0-9]+//g')" ] &&
	pass "br-lan (MAC, MTU, address) and its port are as they were" ||
	{ fail "joining changed br-lan"; diff <(echo "$lan0") <(lan_snapshot) | cut -c1-2000; }
! inh nft list tables | grep -q -e netsetup-lan && pass "no nftables table for the LAN VMs" ||
	fail "a table for a LAN VM"
check "status of a LAN VM" netsetup status "$tmp/lan1.toml"
grep -q "ok       lan1: existing bridge br-lan" "$tmp/out" && pass "status names the bridge" ||
	{ fail "status output"; cat "$tmp/out"; }

# The TAP: its owner attaches without privileges, nobody else can. Debian's
# /dev/net/tun is 0666, so that the TAP's owner is what decides; on a host where it
# is 0600 nobody but root could open it at all (and the second check could not
# fail), so tap_open then runs in a mount namespace that has a 0666 node of the same
# device over it. The host's own node is left as it is.
tapns() { inh "$@"; }
if [ "$(stat -c %a /dev/net/tun 2>/dev/null)" != 666 ]; then
	mknod -m 0666 "$tmp/tun" c 10 200 2>/dev/null &&
		unshare -m sh -c 'mount --bind "$1" /dev/net/tun' sh "$tmp/tun" 2>/dev/null ||
		skip "/dev/net/tun is $(stat -c %a /dev/net/tun) and no 0666 stand-in can be made"
	tapns() { unshare -m sh -c 'mount --bind "$1" /dev/net/tun && shift && exec "$@"' sh \
		"$tmp/tun" ip netns exec "$H" "$@"; }
fi
check "the TAP's owner (nobody) attaches two queues to it and detaches one" tapns "$TAP_OPEN" vm-vm1 65534 65534
check_not "another user cannot attach to it" tapns "$TAP_OPEN" vm-vm1 1 1

# ---- idempotence and repair ----
s1=$(snapshot)
check "up again" netsetup up "$tmp/vms/vm1.toml" "$tmp/vms/vm2.toml" "$tmp/shared" \
	"$tmp/lan1.toml" "$tmp/lan2.toml"
[ ! -s "$tmp/out" ] && pass "up again says nothing" || fail "up again reported changes"
[ "$(snapshot)" = "$s1" ] && pass "up twice changes nothing" ||
	{ fail "up twice changed the host"; diff <(echo "$s1") <(snapshot); }
ip -n "$H" link del vm-vm2
inh nft delete table ip netsetup-vm2
check_not "status notices what is missing" netsetup status "$tmp/vms"
grep -q "MISSING  vm2: TAP vm-vm2 does not exist" "$tmp/out" &&
	grep -q "MISSING  vm2: nftables table ip netsetup-vm2" "$tmp/out" &&
	pass "status names the missing TAP and table" || { fail "status output"; cat "$tmp/out"; }
check "up repairs it" netsetup up "$tmp/vms"
check "status is clean again" netsetup status "$tmp/vms"
# A single-queue TAP of netsetup's own (as an older netsetup made them), same owner and
# mark, unused: up makes it anew, multi-queue, for [[net]] queues = N.
al=$(inh cat /sys/class/net/vm-vm2/ifalias)
own=$(inh cat /sys/class/net/vm-vm2/owner)
grp=$(inh cat /sys/class/net/vm-vm2/group)
ip -n "$H" link del vm-vm2
args=()
[ "$own" = -1 ] || args+=(user "$own")
[ "$grp" = -1 ] || args+=(group "$grp")
ip -n "$H" tuntap add vm-vm2 mode tap "${args[@]}"
ip -n "$H" link set vm-vm2 alias "$al"
ip -n "$H" -d link show vm-vm2 | grep -q multi_queue && fail "ip tuntap made a multi-queue TAP"
check "up again after a single-queue TAP" netsetup up "$tmp/vms"
grep -q "TAP vm-vm2 was single-queue; making it anew, multi-queue" "$tmp/out" &&
	ip -n "$H" -d link show vm-vm2 | grep -q multi_queue &&
	pass "up makes a single-queue TAP of its own anew, multi-queue" ||
	{ fail "single-queue TAP not remade"; cat "$tmp/out"; ip -n "$H" -d link show vm-vm2; }
check "status is clean after that" netsetup status "$tmp/vms"
check_not "vm1 still cannot ping vm2 after the repair" ip netns exec "$V1" ping -c1 -W1 10.2.0.2

# ---- down ----
check_not "a config's overlap with a running VM is refused" netsetup up "$vm3"
sed -e 's/"s3"/"s4"/' -e 's/vm-s3/vm-s4/' -e 's/br-s3/br-shared/' -e 's/2211/2214/' \
	-e 's|"../kernel"|"kernel"|' "$tmp/dup/s3.toml" >"$tmp/s4.toml"
s_pre=$(snapshot)
check_not "joining a shared bridge with another subnet is refused" netsetup up "$tmp/s4.toml"
grep -q "s4.toml:5: net\[0\].subnet: bridge br-shared is netsetup's bridge of VM \"s[12]\" and has no address 10.6.0.1/24" \
	"$tmp/out" && pass "the error names the VM on it" || { fail "shared subnet message"; cat "$tmp/out"; }
[ "$(snapshot)" = "$s_pre" ] && pass "refused: nothing changed" || fail "refused but changed"

# The LAN VMs, in turn: the bridge and its port stay exactly as they were.
check "down of one LAN VM" netsetup down "$tmp/lan1.toml"
ip -n "$H" -o link show master br-lan | grep -q vm-lan2 && ! ip -n "$H" link show vm-lan1 >/dev/null 2>&1 &&
	pass "the other LAN VM's TAP stays" || fail "down lan1 took more than its TAP"
check "down of the other" netsetup down "$tmp/lan2.toml"
[ "$(lan_snapshot)" = "$lan0" ] && pass "br-lan and its port are as before (ip -d link, bridge link)" ||
	{ fail "down changed br-lan"; diff <(echo "$lan0") <(lan_snapshot); }
ip -n "$H" link show br-lan >/dev/null && ! ip -n "$H" -o link show | grep -q vm-lan &&
	pass "br-lan stays, the TAPs are gone" || fail "br-lan after down"

# The shared bridge outlives the first of its VMs to go, in either order.
shared_down() {	# shared_down FIRST SECOND
	local first=$1 second=$2 ns=S${2#s}
	check "down of $first" netsetup down "$tmp/shared/$first.toml"
	ip -n "$H" link show br-shared >/dev/null 2>&1 && pass "br-shared stays while $second uses it" ||
		fail "down of $first removed br-shared"
	! ip -n "$H" link show "vm-$first" >/dev/null 2>&1 && pass "$first's TAP is gone" ||
		fail "$first's TAP is left"
	seen=$(fetch "${!ns}" 192.0.2.1 8080)
	[ "$seen" = 192.0.2.2 ] && pass "$second still reaches the wan" || fail "$second NAT: '$seen'"
	[ "$(fetch "$H" 127.0.0.1 "221${second#s}")" = "$second" ] &&
		pass "$second's forward from 127.0.0.1 still works" || fail "$second's forward"
	check "status of $second is clean" netsetup status "$tmp/shared/$second.toml"
	check "down of $second" netsetup down "$tmp/shared/$second.toml"
	! ip -n "$H" link show br-shared >/dev/null 2>&1 && pass "down of the last VM removes br-shared" ||
		fail "br-shared left after both downs"
}
shared_down s1 s2
check "up of the shared bridge again" netsetup up "$tmp/shared"
ip -n "$H" link set sv1h master br-shared
ip -n "$H" link set sv2h master br-shared
shared_down s2 s1

ip -n "$H" link del v1h
ip -n "$H" link del v2h
ip -n "$H" link del sv1h
ip -n "$H" link del sv2h
check "down" netsetup down "$tmp/vms"
check "down again" netsetup down "$tmp/vms"
[ ! -s "$tmp/out" ] && pass "down again says nothing" || fail "down again reported changes"
[ "$(snapshot)" = "$s0" ] && pass "down leaves the host as it was (links, addresses, rules, ip_forward)" ||
	{ fail "down left something behind"; diff <(echo "$s0") <(snapshot); }
[ -z "$(inh nft list ruleset)" ] && pass "no nftables rule left" || fail "rules left"
! ip -n "$H" -o link show | grep -q -e br-vm -e vm- -e br-shared && pass "no link left" ||
	fail "links left"

echo "netsetup integration: $failures failure(s)"
[ "$failures" -eq 0 ]
