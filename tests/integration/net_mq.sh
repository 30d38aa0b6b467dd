#!/bin/bash
# net_mq: virtio-net multiqueue ([[net]] queues = 2) on a multi-queue TAP (made with
# tests/tools/mqtap, as netsetup makes them) in a 2-vCPU guest. The guest's eth0 must
# have two combined channels (queues rx-0, rx-1, tx-0, tx-1: the driver asked for both
# pairs over the control queue) and ping its gateway from each CPU with XPS pinning each
# CPU to its own transmit queue; the host fetches a file 4 times in parallel and checks
# it, then `vmm ctl NAME queues` must show pairs=2 active=2 and frames received and sent
# on both pairs (p1.rx_frames, p1.tx_frames and pair 0's). A single-queue TAP (busybox
# tunctl) with queues = 2 is refused, naming the TAP and the fix.
# Tools: busybox brctl, tunctl, ip, nc, taskset in the guest; mqtap; tun and bridge.
GUEST_MEMORY_MIB=${GUEST_MEMORY_MIB:-512}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

tests=(net_mq_channels net_mq_traffic net_mq_pairs net_mq_single_tap)
require_vmm "${tests[@]}"
w=$WORKDIR

export LC_ALL=C
for t in brctl tunctl ip nc md5sum; do
	command -v "$t" >/dev/null 2>&1 || skip_all "no $t in the test host"
done
[ -c /dev/net/tun ] || skip_all "no /dev/net/tun (tun module)"
[ "$(id -u)" = 0 ] || skip_all "making TAPs and bridges needs root"

cleanup() {
	[ -z "${main_pid-}" ] || kill -KILL "$main_pid" 2>/dev/null || true
	[ -z "$MQTAP" ] || "$MQTAP" del vmmmq0 >/dev/null 2>&1 || true
	tunctl -d vmmsq0 >/dev/null 2>&1 || true
	ip link set vmmmqbr0 down 2>/dev/null || true
	brctl delbr vmmmqbr0 2>/dev/null || true
}
trap cleanup EXIT
show_log() { tr -d '\r' <"$w/console.log" | grep -a -E 'VMMTEST|vmm:|virtio|net' | sed 's/^/| /' | tail -n 40; }

# A single-queue TAP asked for two queues: refused before the guest starts.
tunctl -t vmmsq0 >/dev/null || skip_all "cannot make TAP vmmsq0"
make_config sq 2 "vmmtest=poweroff" >"$w/sq.toml"
printf '\n[[net]]\ntap = "vmmsq0"\nqueues = 2\n' >>"$w/sq.toml"
rc=0
run_vmm "$w/sq.toml" "$w/sq.log" 60 || rc=$?
if [ "$rc" = 1 ] && expect_in_log "$w/sq.log" "net[0]: TAP vmmsq0 was made without multi_queue" &&
	expect_in_log "$w/sq.log" "ip tuntap add vmmsq0 mode tap multi_queue"; then
	pass net_mq_single_tap
else
	fail net_mq_single_tap "exit $(describe_exit "$rc"): $(grep -a 'vmm:' "$w/sq.log" | head -n 3 | tr '\n' ';')"
fi

if [ -z "$MQTAP" ]; then
	for n in net_mq_channels net_mq_traffic net_mq_pairs; do
		fail "$n" "no tests/tools/mqtap in the test host (tests/testhost/run builds it)"
	done
	exit 0
fi
if ! { brctl addbr vmmmqbr0 && ip addr add 10.203.0.1/24 dev vmmmqbr0 &&
	ip link set vmmmqbr0 up && "$MQTAP" add vmmmq0 && brctl addif vmmmqbr0 vmmmq0 &&
	ip link set vmmmq0 up; }; then
	skip_all "cannot make bridge vmmmqbr0 and multi-queue TAP vmmmq0"
fi

make_config mq 2 "vmmtest=net net.ifnames=0 vmmtest.mq=1" >"$w/vm.toml"
cat >>"$w/vm.toml" <<EOT

[[net]]
tap = "vmmmq0"
bridge = "vmmmqbr0"
subnet = "10.203.0.0/24"
queues = 2
EOT

start_vmm "$w/vm.toml" "$w/console.log"
main_pid=$VMM_PID
if ! wait_for_log "$w/console.log" "VMMTEST-NET-HTTPD ready" "$BOOT_TIMEOUT" "$main_pid"; then
	for n in net_mq_channels net_mq_traffic net_mq_pairs; do
		fail "$n" "the guest did not come up with its server"
	done
	show_log
	exit 0
fi
log=$(tr -d '\r' <"$w/console.log")

if grep -q "VMMTEST-NET-MQ queues=rx-0 rx-1 tx-0 tx-1 $" <<<"$log"; then
	pass net_mq_channels
else
	fail net_mq_channels "$(grep -E 'VMMTEST-NET-MQ' <<<"$log" | tr '\n' ';')"
fi

want=$(sed -n 's/.*VMMTEST-NET-BLOB md5=\([0-9a-f]*\).*/\1/p' <<<"$log")
ok=$(http_get_all 10.203.0.2 8080 /blob "$w/blob" 4 "$want")
if [ "$ok" = 4 ] && [ -n "$want" ] && grep -q "VMMTEST-NET-MQ-PING cpu0 ok" <<<"$log" &&
	grep -q "VMMTEST-NET-MQ-PING cpu1 ok" <<<"$log"; then
	pass net_mq_traffic
else
	fail net_mq_traffic "$ok of 4 fetches matched md5 $want; $(grep -E 'VMMTEST-NET-MQ-PING' <<<"$log" | tr '\n' ';')"
	show_log
fi

q=$("$VMM" ctl mq queues 2>&1 || true)
echo "net_mq: vmm ctl mq queues: $(grep -o ' tap=.*' <<<"$q")"
n() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$q"; }
if grep -q " pairs=2 active=2 " <<<"$q" && [ "$(n rx_frames)" -gt 0 ] && [ "$(n tx_frames)" -gt 0 ] &&
	[ "$(n p1.rx_frames)" -gt 0 ] && [ "$(n p1.tx_frames)" -gt 0 ]; then
	pass net_mq_pairs
else
	fail net_mq_pairs "pair 0 rx=$(n rx_frames) tx=$(n tx_frames), pair 1 rx=$(n p1.rx_frames) tx=$(n p1.tx_frames): $q"
	if ! kill -0 "$main_pid" 2>/dev/null; then
		rc=0
		wait "$main_pid" 2>/dev/null || rc=$?
		echo "net_mq: vmm is gone: exit $(describe_exit "$rc")"
		main_pid=""
		dmesg 2>/dev/null | tail -n 8 | sed 's/^/| dmesg: /'
	fi
	show_log
fi
echo "METRIC net_mq_p0_rx_frames $(n rx_frames)"
echo "METRIC net_mq_p1_rx_frames $(n p1.rx_frames)"
