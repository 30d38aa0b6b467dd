#!/bin/bash
# net_basic: virtio-net on TAPs attached to two bridges of the test host (10.201.0.1/24,
# 10.202.0.1/24). The guest takes eth0's address from the kernel's ip= parameter, which
# vmm adds from [[net]] subnet, and eth1's from vmmtest.addr; it pings both bridges,
# serves a file over HTTP that the host fetches through both NICs and checks against the
# guest's checksum, and echoes a stream the host sends it (checksummed both ways). While
# it runs, a second vmm on the same TAP is refused as busy; a missing TAP is refused too.
# Tools: busybox brctl, tunctl, ip, nc; the tun and bridge modules.
GUEST_MEMORY_MIB=${GUEST_MEMORY_MIB:-512}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

tests=(net_ping net_two_nics net_http net_stream net_tap_busy net_tap_missing)
require_vmm "${tests[@]}"
w=$WORKDIR
STREAM_MIB=${NET_STREAM_MIB:-8}

export LC_ALL=C	# http_get counts bytes
for t in brctl tunctl ip nc md5sum; do
	command -v "$t" >/dev/null 2>&1 || skip_all "no $t in the test host"
done
[ -c /dev/net/tun ] || skip_all "no /dev/net/tun (tun module)"
[ "$(id -u)" = 0 ] || skip_all "making TAPs and bridges needs root"

cleanup() {
	local i
	[ -z "${main_pid-}" ] || kill -KILL "$main_pid" 2>/dev/null || true
	for i in 0 1; do
		tunctl -d "vmmtap$i" >/dev/null 2>&1 || true
		ip link set "vmmbr$i" down 2>/dev/null || true
		brctl delbr "vmmbr$i" 2>/dev/null || true
	done
}
trap cleanup EXIT
net_host vmmbr0 vmmtap0 10.201.0.1/24 || skip_all "cannot make bridge vmmbr0 and TAP vmmtap0"
net_host vmmbr1 vmmtap1 10.202.0.1/24 || skip_all "cannot make bridge vmmbr1 and TAP vmmtap1"

show_log() { tr -d '\r' <"$w/console.log" | grep -a -E 'VMMTEST|vmm:|virtio|net' | sed 's/^/| /' | tail -n 40; }

make_config net 1 "vmmtest=net net.ifnames=0 vmmtest.addr=eth1:10.202.0.2/24:10.202.0.1" >"$w/vm.toml"
cat >>"$w/vm.toml" <<EOT

[[net]]
tap = "vmmtap0"
mac = "02:00:00:00:01:01"
bridge = "vmmbr0"
subnet = "10.201.0.0/24"

[[net]]
tap = "vmmtap1"
EOT

start_vmm "$w/vm.toml" "$w/console.log"
main_pid=$VMM_PID	# run_vmm below sets VMM_PID to its own vmm
if ! wait_for_log "$w/console.log" "VMMTEST-NET-HTTPD ready" "$BOOT_TIMEOUT" "$main_pid"; then
	for n in net_ping net_two_nics net_http net_stream net_tap_busy; do
		fail "$n" "the guest did not come up with its server"
	done
	show_log
	tests=(net_tap_missing)
	kill -KILL "$main_pid" 2>/dev/null || true
	main_pid=""
else
	log=$(tr -d '\r' <"$w/console.log")

	if grep -q "VMMTEST-NET-PING eth0 10.201.0.1 ok" <<<"$log" &&
		grep -q "VMMTEST-NET-PING eth1 10.202.0.1 ok" <<<"$log"; then
		pass net_ping
	else
		fail net_ping "$(grep -E 'VMMTEST-NET-(PING|ADDR)' <<<"$log" | tr '\n' ';')"
	fi

	# The second vmm wants the TAP the first one holds.
	make_config busy 1 "vmmtest=poweroff" >"$w/busy.toml"
	printf '\n[[net]]\ntap = "vmmtap0"\n' >>"$w/busy.toml"
	rc=0
	run_vmm "$w/busy.toml" "$w/busy.log" 60 || rc=$?
	if [ "$rc" = 1 ] && expect_in_log "$w/busy.log" "net[0]: TAP vmmtap0 is busy"; then
		pass net_tap_busy
	else
		fail net_tap_busy "exit $(describe_exit "$rc"): $(grep -a 'vmm:' "$w/busy.log" | head -n 3 | tr '\n' ';')"
	fi

	want=$(sed -n 's/.*VMMTEST-NET-BLOB md5=\([0-9a-f]*\).*/\1/p' <<<"$log")
	ok=0
	for a in 10.201.0.2 10.202.0.2; do
		rm -f "$w/blob"
		if http_get "$a" 8080 /blob "$w/blob" 2>"$w/wget.err" &&
			[ "$(md5sum <"$w/blob" | cut -d' ' -f1)" = "$want" ] &&
			[ "$(stat -c %s "$w/blob")" = 1048576 ]; then
			ok=$((ok + 1))
		else
			echo "net_http: fetch from $a: $(cat "$w/wget.err") size=$(stat -c %s "$w/blob" 2>/dev/null)"
		fi
	done
	if [ "$ok" = 2 ] && [ -n "$want" ]; then
		pass net_http
	else
		fail net_http "$ok of 2 fetches matched the guest's md5 $want"
	fi
	if [ "$ok" = 2 ] &&
		grep -q "VMMTEST-NET-ADDR eth0 10.201.0.2/24 mac=02:00:00:00:01:01 mtu=1500" <<<"$log" &&
		grep -q "VMMTEST-NET-ADDR eth1 10.202.0.2/24 mac=02:" <<<"$log" &&
		! grep -q "VMMTEST-NET-ADDR eth1 .*mac=02:00:00:00:01:01" <<<"$log"; then
		pass net_two_nics
	else
		fail net_two_nics "$(grep VMMTEST-NET-ADDR <<<"$log" | tr '\n' ';')"
	fi

	# The stream: host to guest (timed here), back to the host (timed by the guest).
	net_stream_check net_stream net 10.201.0.2 "$w/console.log" "$main_pid" "$STREAM_MIB"

	# Let the guest power off.
	nc 10.201.0.2 9002 </dev/null >/dev/null 2>&1 || true
	rc=0
	wait_pid "$main_pid" 120 || rc=$?
	main_pid=""
	[ "$rc" = 0 ] || { echo "net_basic: vmm exit $(describe_exit "$rc")"; show_log; }
fi

make_config missing 1 "vmmtest=poweroff" >"$w/missing.toml"
printf '\n[[net]]\ntap = "vmmnosuch0"\n' >>"$w/missing.toml"
rc=0
run_vmm "$w/missing.toml" "$w/missing.log" 60 || rc=$?
if [ "$rc" = 1 ] && expect_in_log "$w/missing.log" "net[0]: TAP vmmnosuch0 does not exist"; then
	pass net_tap_missing
else
	fail net_tap_missing "exit $(describe_exit "$rc"): $(grep -a 'vmm:' "$w/missing.log" | head -n 3 | tr '\n' ';')"
fi
