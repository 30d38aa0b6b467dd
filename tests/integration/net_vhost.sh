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
# net_vhost_mq: a 2-vCPU guest with vhost = true and queues = 2 on a multi-queue TAP
# (tests/tools/mqtap), its driver rebound first (every pair reset and handed over
# again): two combined channels in the guest, pings from each CPU with XPS pinning it
# to its own transmit queue, the MSI-X interrupts of rx1 and tx1 counted by the guest
# (virtio-pci; vmm counts no frames on vhost-net, and virtio-mmio has one line for
# all queues), four parallel fetches checked, `queues` showing pairs=2 active=2 with
# p1.vhost=running, two vhost-PID workers (one per /dev/vhost-net), a clean power-off
# (VQ_PAIRS_SET's VHOST_NET_SET_BACKEND ran under the I/O thread's filter).
# With /dev/vhost-net renamed away, vmm refuses to start and says what is missing.
# Tools: busybox brctl, tunctl, ip, nc, taskset; mqtap; the tun, bridge and vhost_net
# modules.
GUEST_MEMORY_MIB=${GUEST_MEMORY_MIB:-512}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

tests=(net_vhost_reset net_vhost_ping net_vhost_http net_vhost_stream net_vhost_ctl net_vhost_poweroff
	net_vhost_mq net_vhost_missing)
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
	[ -z "$MQTAP" ] || "$MQTAP" del vmmvmq0 >/dev/null 2>&1 || true
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

# The vhost-PID workers of process $1: kernel threads (before Linux 6.4) or threads
# of vmm itself (vhost_task, since 6.4), which /proc does not list at its top level.
vhost_workers() {
	local t n=0
	for t in /proc/[0-9]*/comm "/proc/$1"/task/*/comm; do
		[ "$(cat "$t" 2>/dev/null)" != "vhost-$1" ] || n=$((n + 1))
	done
	echo "$n"
}

# Two queue pairs on vhost-net: a /dev/vhost-net and a TAP queue each, the control
# queue vmm's. Run in this shell (it waits for vmm, its child); on failure `why` says
# what was wrong.
mq_check() {
	local log q want ok i workers irqs
	irq_of() { sed -n "s/.*$1=\([0-9]*\).*/\1/p" <<<"$irqs" | grep . || echo 0; }
	if ! wait_for_log "$w/mq.log" "VMMTEST-NET-HTTPD ready" "$BOOT_TIMEOUT" "$main_pid"; then
		why="the guest did not come up with its server"
		return 1
	fi
	log=$(tr -d '\r' <"$w/mq.log")
	grep -q "VMMTEST-NET-RESET eth0 .* ok" <<<"$log" || { why="rebind: $(grep VMMTEST-NET-RESET <<<"$log")"; return 1; }
	grep -q "VMMTEST-NET-MQ queues=rx-0 rx-1 tx-0 tx-1 $" <<<"$log" ||
		{ why="channels: $(grep 'VMMTEST-NET-MQ ' <<<"$log")"; return 1; }
	for i in 0 1; do
		grep -q "VMMTEST-NET-MQ-PING cpu$i ok" <<<"$log" ||
			{ why="pings: $(grep VMMTEST-NET-MQ-PING <<<"$log" | tr '\n' ';')"; return 1; }
	done
	# Per-queue interrupts where the guest has them (virtio-pci): each pair used
	# buffers (a frame received or sent), which on pair 1 only the kernel's worker of
	# pair 1's /dev/vhost-net can have done. Whether a sent frame interrupts is the
	# driver's choice (event index), so the pair's two queues are summed.
	irqs=$(sed -n 's/.*VMMTEST-NET-MQ-IRQS //p' <<<"$log")
	echo "net_vhost_mq: guest interrupts per queue: $irqs"
	if [ -n "$irqs" ] && [ "$irqs" != none ]; then
		for i in 0 1; do
			[ $(($(irq_of "input.$i") + $(irq_of "output.$i"))) -gt 0 ] ||
				{ why="no interrupt on pair $i's queues: $irqs"; return 1; }
		done
	fi
	want=$(sed -n 's/.*VMMTEST-NET-BLOB md5=\([0-9a-f]*\).*/\1/p' <<<"$log")
	[ -n "$want" ] || { why="no VMMTEST-NET-BLOB line"; return 1; }
	ok=$(http_get_all 10.203.0.2 8080 /blob "$w/mqblob" 4 "$want")
	[ "$ok" = 4 ] || { why="$ok of 4 fetches matched md5 '$want'"; return 1; }
	q=$("$VMM" ctl vhostmq queues 2>&1) || true
	workers=$(vhost_workers "$main_pid")
	echo "net_vhost_mq: queues: $q"
	echo "net_vhost_mq: vhost-$main_pid workers: $workers"
	[[ $q == *" tap=vmmvmq0 vhost=running pairs=2 active=2 "*" p1.vhost=running"* ]] ||
		{ why="queues: $q"; return 1; }
	# The data queues are the kernel's (no kick read by vmm), the control queue vmm's.
	[ "$(grep -o -E 'net0\.q[0-3]=[^ ]*backend=1[^ ]*kicks=0([, ]|$)' <<<"$q" | wc -l)" = 4 ] ||
		{ why="data queues not all the kernel's: $q"; return 1; }
	[ "$workers" = 2 ] || { why="$workers vhost-$main_pid workers, wanted 2"; return 1; }
	# The guest still waits for a stream (port 9000) before its power-off port
	# listens: a graceful stop through the control socket ends it instead. The
	# arm64 guest's init does not answer the power button in that wait, so vmm
	# stops it after shutdown_timeout (exit 5, its forced stop); either way vmm
	# must end by itself, closing every pair's vhost-net.
	"$VMM" ctl vhostmq shutdown >/dev/null 2>&1 || true
	rc=0
	wait_pid "$main_pid" 120 || rc=$?
	main_pid=""
	[ "$rc" = 0 ] || [ "$rc" = "$VMM_EXIT_FORCED" ] ||
		{ why="vmm exit $(describe_exit "$rc") after ctl shutdown"; return 1; }
}

if [ -z "$MQTAP" ]; then
	fail net_vhost_mq "no tests/tools/mqtap in the test host (tests/testhost/run builds it)"
elif ! { "$MQTAP" add vmmvmq0 && brctl addif vmmvbr0 vmmvmq0 && ip link set vmmvmq0 up; }; then
	fail net_vhost_mq "cannot make multi-queue TAP vmmvmq0 on bridge vmmvbr0"
else
	# The first guest had the same address and another MAC.
	ip neigh flush dev vmmvbr0 2>/dev/null || true
	make_config vhostmq 2 "vmmtest=net net.ifnames=0 vmmtest.mq=1 vmmtest.netreset=1" >"$w/mq.toml"
	cat >>"$w/mq.toml" <<EOT

[[net]]
tap = "vmmvmq0"
bridge = "vmmvbr0"
subnet = "10.203.0.0/24"
vhost = true
queues = 2
EOT
	start_vmm "$w/mq.toml" "$w/mq.log"
	main_pid=$VMM_PID
	why=""
	if mq_check; then
		pass net_vhost_mq
	else
		fail net_vhost_mq "$why"
		tr -d '\r' <"$w/mq.log" | grep -a -E 'VMMTEST|vmm:|virtio|net' | sed 's/^/| /' | tail -n 40
	fi
	[ -z "${main_pid-}" ] || kill -KILL "$main_pid" 2>/dev/null || true
	main_pid=""
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
