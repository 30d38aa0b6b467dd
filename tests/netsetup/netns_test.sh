#!/usr/bin/env bash
# Integration test of tools/netsetup with real traffic, entirely inside
# network namespaces this script makes, so the machine's own network is never
# touched:
#
#   [wan ns] wan0 192.0.2.1/24 (the internet)
#      |  veth
#   [host ns] up0 192.0.2.2/24, default via 192.0.2.1; netsetup runs here
#      br-vm1 10.1.0.1/24 -- vm-vm1 (TAP, no reader) + v1h (veth)
#      br-vm2 10.2.0.1/24 -- vm-vm2 (TAP, no reader) + v2h (veth)
#   [vm1 ns] eth0 10.1.0.2/24          [vm2 ns] eth0 10.2.0.2/24
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
ip netns add "$H" 2>/dev/null || skip "cannot create network namespaces"
ip netns add "$W" && ip netns add "$V1" && ip netns add "$V2" || { ip netns del "$H"; skip "netns"; }
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for n in "$H" "$W" "$V1" "$V2"; do ip netns del "$n" 2>/dev/null; done
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

echo kernel >"$tmp/kernel"
mkdir "$tmp/vms"
for i in 1 2; do
	cat >"$tmp/vms/vm$i.toml" <<-EOF
	[vm]
	name = "vm$i"
	[boot]
	kernel = "../kernel"
	[[net]]
	tap = "vm-vm$i"
	owner = "nobody"
	bridge = "br-vm$i"
	subnet = "10.$i.0.0/24"
	forward = ["220$i:22"]
	EOF
done
cfg() { cat >"$tmp/$1.toml"; echo "$tmp/$1.toml"; }
vm3=$(cfg vm3 <<-EOF
	[vm]
	name = "vm3"
	[boot]
	kernel = "kernel"
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
	[vm]
	name = "taken"
	[boot]
	kernel = "kernel"
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
	[vm]
	name = "noup"
	[boot]
	kernel = "kernel"
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

fetch() {	# fetch NS HOST PORT: what the server there says
	ip netns exec "$1" timeout 5 socat -T3 - "TCP:$2:$3,connect-timeout=2" </dev/null 2>/dev/null
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
check "the TAP's owner (nobody) attaches to it" tapns "$TAP_OPEN" vm-vm1 65534 65534
check_not "another user cannot attach to it" tapns "$TAP_OPEN" vm-vm1 1 1

# ---- idempotence and repair ----
s1=$(snapshot)
check "up again" netsetup up "$tmp/vms/vm1.toml" "$tmp/vms/vm2.toml"
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
check_not "vm1 still cannot ping vm2 after the repair" ip netns exec "$V1" ping -c1 -W1 10.2.0.2

# ---- down ----
check_not "a config's overlap with a running VM is refused" netsetup up "$vm3"
ip -n "$H" link del v1h
ip -n "$H" link del v2h
check "down" netsetup down "$tmp/vms"
check "down again" netsetup down "$tmp/vms"
[ ! -s "$tmp/out" ] && pass "down again says nothing" || fail "down again reported changes"
[ "$(snapshot)" = "$s0" ] && pass "down leaves the host as it was (links, addresses, rules, ip_forward)" ||
	{ fail "down left something behind"; diff <(echo "$s0") <(snapshot); }
[ -z "$(inh nft list ruleset)" ] && pass "no nftables rule left" || fail "rules left"
! ip -n "$H" -o link show | grep -q -e br-vm -e vm-vm && pass "no link left" || fail "links left"

echo "netsetup integration: $failures failure(s)"
[ "$failures" -eq 0 ]
