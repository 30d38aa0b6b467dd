#!/bin/bash
# net_vhost: virtio-net with `vhost = true`: the test host's kernel (vhost_net module)
# moves the frames between the guest's rings and the TAP (10.203.0.1/24 bridge). The
# guest (vmmtest=net) first unbinds and binds its driver again (vmmtest.netreset=1: a
# device reset takes the rings back from the kernel, a second DRIVER_OK hands them over
# again), then pings the bridge, serves a file over HTTP that the host fetches and
# checks against the guest's md5, and echoes a stream the host sends it (md5 both ways).
# Meanwhile `vmm ctl NAME status` answers, `queues` shows the NIC served by vhost-net
# with no kick read by vmm, and the kernel's vhost-PID worker exists; the guest powers
# off and vmm exits 0 (seccomp on: the DRIVER_OK ioctls ran under the vCPU filter).
# With /dev/vhost-net renamed away, vmm refuses to start and says what is missing.
# Tools: busybox brctl, tunctl, ip, nc; the tun, bridge and vhost_net modules.
GUEST_MEMORY_MIB=${GUEST_MEMORY_MIB:-512}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

tests=(net_vhost_reset net_vhost_ping net_vhost_http net_vhost_stream net_vhost_ctl net_vhost_poweroff
	net_vhost_missing)
require_vmm "${tests[@]}"
w=$WORKDIR
STREAM_MIB=${NET_STREAM_MIB:-8}

export LC_ALL=C	# http_get counts bytes
require_tools brctl tunctl ip nc md5sum
[ -c /dev/net/tun ] || skip_all "no /dev/net/tun (tun module)"
[ -c /dev/vhost-net ] || skip_all "no /dev/vhost-net (vhost_net module)"
[ "$(id -u)" = 0 ] || skip_all "making TAPs and bridges needs root"

cleanup() {
	[ -z "${main_pid-}" ] || kill -KILL "$main_pid" 2>/dev/null || true
	[ ! -e /dev/vhost-net.hidden ] || mv /dev/vhost-net.hidden /dev/vhost-net
	tunctl -d vmmvtap0 >/dev/null 2>&1 || true
	ip link set vmmvbr0 down 2>/dev/null || true
	brctl delbr vmmvbr0 2>/dev/null || true
}
trap cleanup EXIT
net_host vmmvbr0 vmmvtap0 10.203.0.1/24 || skip_all "cannot make bridge vmmvbr0 and TAP vmmvtap0"
show_log() { tr -d '\r' <"$w/console.log" | grep -a -E 'VMMTEST|vmm:|virtio|net' | sed 's/^/| /' | tail -n 40; }

make_config vhost 1 "vmmtest=net net.ifnames=0 vmmtest.netreset=1" >"$w/vm.toml"
cat >>"$w/vm.toml" <<EOT

[[net]]
tap = "vmmvtap0"
bridge = "vmmvbr0"
subnet = "10.203.0.0/24"
vhost = true
EOT

start_vmm "$w/vm.toml" "$w/console.log"
main_pid=$VMM_PID
if ! wait_for_log "$w/console.log" "VMMTEST-NET-HTTPD ready" "$BOOT_TIMEOUT" "$main_pid"; then
	for n in net_vhost_reset net_vhost_ping net_vhost_http net_vhost_stream net_vhost_ctl net_vhost_poweroff; do
		fail "$n" "the guest did not come up with its server"
	done
	show_log
	kill -KILL "$main_pid" 2>/dev/null || true
	main_pid=""
else
	log=$(tr -d '\r' <"$w/console.log")
	# What follows runs on the rings handed over the second time.
	if grep -q "VMMTEST-NET-RESET eth0 .* ok" <<<"$log"; then
		pass net_vhost_reset
	else
		fail net_vhost_reset "$(grep VMMTEST-NET-RESET <<<"$log")"
	fi
	if grep -q "VMMTEST-NET-PING eth0 10.203.0.1 ok" <<<"$log"; then
		pass net_vhost_ping
	else
		fail net_vhost_ping "$(grep -E 'VMMTEST-NET-(PING|ADDR)' <<<"$log" | tr '\n' ';')"
	fi

	want=$(sed -n 's/.*VMMTEST-NET-BLOB md5=\([0-9a-f]*\).*/\1/p' <<<"$log")
	if http_get 10.203.0.2 8080 /blob "$w/blob" 2>"$w/get.err" && [ -n "$want" ] &&
		[ "$(md5sum <"$w/blob" | cut -d' ' -f1)" = "$want" ] &&
		[ "$(stat -c %s "$w/blob")" = 1048576 ]; then
		pass net_vhost_http
	else
		fail net_vhost_http "$(cat "$w/get.err") size=$(stat -c %s "$w/blob" 2>/dev/null)," \
			"guest md5 '$want'"
	fi

	# The stream: host to guest (timed here), back to the host (timed by the guest).
	net_stream_check net_vhost_stream net_vhost 10.203.0.2 "$w/console.log" "$main_pid" "$STREAM_MIB"

	# The control socket still answers; the NIC's queues are the kernel's: vmm read
	# none of their kicks, and vhost-net's worker for this vmm runs.
	st=$("$VMM" ctl vhost status 2>&1) || true
	q=$("$VMM" ctl vhost queues 2>&1) || true
	echo "net_vhost: status: $st"
	echo "net_vhost: queues: $q"
	worker=""
	for p in /proc/[0-9]*; do
		[ "$(cat "$p/comm" 2>/dev/null)" != "vhost-$main_pid" ] || worker=${p#/proc/}
	done
	served='net0\.q[01]=[^ ]*backend=1[^ ]*kicks=0([, ]|$)'
	if [[ $st == "ok name=vhost state=running "* ]] &&
		[[ $q == *" tap=vmmvtap0 vhost=running"* ]] &&
		[ "$(grep -o -E "$served" <<<"$q" | wc -l)" = 2 ] && [ -n "$worker" ]; then
		pass net_vhost_ctl
	else
		fail net_vhost_ctl "status '$st'; queues '$q'; vhost-$main_pid worker '${worker}'"
	fi

	# Let the guest power off.
	nc 10.203.0.2 9002 </dev/null >/dev/null 2>&1 || true
	rc=0
	wait_pid "$main_pid" 120 || rc=$?
	main_pid=""
	if [ "$rc" = 0 ]; then
		pass net_vhost_poweroff
	else
		fail net_vhost_poweroff "vmm exit $(describe_exit "$rc")"
		show_log
	fi
fi

# No /dev/vhost-net: vmm says so and does not start.
mv /dev/vhost-net /dev/vhost-net.hidden
make_config missing 1 "vmmtest=poweroff" >"$w/missing.toml"
printf '\n[[net]]\ntap = "vmmvtap0"\nvhost = true\n' >>"$w/missing.toml"
rc=0
run_vmm "$w/missing.toml" "$w/missing.log" 60 || rc=$?
mv /dev/vhost-net.hidden /dev/vhost-net
if [ "$rc" = 1 ] && expect_in_log "$w/missing.log" \
	"net[0]: vhost: /dev/vhost-net: No such file or directory (the host kernel's vhost-net is not loaded: modprobe vhost_net"; then
	pass net_vhost_missing
else
	fail net_vhost_missing "exit $(describe_exit "$rc"): $(grep -a 'vmm:' "$w/missing.log" | head -n 3 | tr '\n' ';')"
fi
