#!/bin/bash
# vsock: virtio-vsock with Firecracker's hybrid host side ([vsock] cid = 3; docs/config.md).
# Both ends are tests/tools/vsock-test (VSOCK_TEST here, /usr/bin/vsock-test in the guest,
# whose /init action `vsock` serves on vsock port 5000 and connects to the host itself;
# guest/init). A host client connects to the socket, says CONNECT 5000 and streams; the
# guest's connections to CID 2 port 5001 reach the host listener <socket>_5001. Each
# transfer is a deterministic stream whose md5 both ends compute and the client compares;
# the test compares them again with md5sum of the same stream made in the test host.
#
# VSOCK_PERF_MIB (default 64): the size of the host<->guest transfers, whose rates are the
# METRIC lines vsock_host_to_guest_mib_s and vsock_guest_to_host_mib_s (one run each;
# vsock_perf.sh compares with QEMU's vhost-vsock). VSOCK_CONCURRENT_KIB (default 1024):
# what each of the 32 concurrent connections moves.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

tests=(vsock_guest_cid vsock_host_to_guest vsock_guest_to_host vsock_concurrent
	vsock_guest_connect vsock_refused_host vsock_refused_guest vsock_host_abort vsock_stop)
require_vmm "${tests[@]}"
if [ -z "$VSOCK_TEST" ] || [ ! -x "$VSOCK_TEST" ]; then
	for t in "${tests[@]}"; do fail "$t" "no tests/tools/vsock-test in the test host (see the harness's warning)"; done
	exit 0
fi
require_tools md5sum

w=$WORKDIR
MIB=${VSOCK_PERF_MIB:-64}
N=$((MIB * 1048576))
CONC=$((${VSOCK_CONCURRENT_KIB:-1024} * 1024))
G2H_N=4194304 # what the guest's own connections move (guest/init)
sock=$w/vm.vsock
export VSOCK_TEST_IDLE=60

# The expected md5 of each stream (md5sum, not vsock-test's own md5), made while the
# guest boots: SEED N -> $w/md5.SEED.
md5_pids=()
for s in 1 2 11 12; do
	n=$N
	[ "$s" -lt 10 ] || n=$G2H_N
	"$VSOCK_TEST" gen "$n" "$s" | md5sum >"$w/md5sum.$s" &
	md5_pids+=($!)
done

hpid=""
cleanup() {
	[ -z "${VMM_PID-}" ] || kill -KILL "$VMM_PID" 2>/dev/null || true
	[ -z "$hpid" ] || kill "$hpid" 2>/dev/null || true
}
trap cleanup EXIT

# The host's listener for the guest's connections to port 5001, made by root with the
# usual umask (0755): vmm connects through its launcher, which kept root (docs/operations.md).
"$VSOCK_TEST" serve "unix:${sock}_5001" HOST >"$w/host-server.log" 2>&1 &
hpid=$!
if ! wait_for_log "$w/host-server.log" HOST-LISTENING 30 "$hpid"; then
	for t in "${tests[@]}"; do fail "$t" "the host listener did not start: $(head -c 200 "$w/host-server.log")"; done
	exit 0
fi

make_config vsock 1 "vmmtest=vsock" >"$w/vm.toml"
printf '\n[vsock]\ncid = 3\nsocket = %s\n' "$(toml_string "$sock")" >>"$w/vm.toml"
log=$w/console.log
start_vmm "$w/vm.toml" "$log"
if ! wait_for_log "$log" VMMTEST-WAITING "$BOOT_TIMEOUT" "$VMM_PID" ||
	! wait_for_log "$log" VMMTEST-VSOCK-LISTENING 30 "$VMM_PID"; then
	rc=0
	kill -0 "$VMM_PID" 2>/dev/null && kill -KILL "$VMM_PID"
	wait "$VMM_PID" || rc=$?
	why="the guest never got to VMMTEST-WAITING with its listener (vmm exit $(describe_exit "$rc")):"
	why="$why $(tr -d '\r' <"$log" | grep -a -E 'VMMTEST|vmm:' | tail -n 6 | tr '\n' ';' || true)"
	for t in "${tests[@]}"; do fail "$t" "$why"; done
	exit 0
fi
wait "${md5_pids[@]}"
md5() { cut -d' ' -f1 "$w/md5sum.$1"; }
# console LINE-START: the console's lines that begin with it, carriage returns dropped.
console() { tr -d '\r' <"$log" | grep -a -F -- "$1" || true; }
field() { sed -n "s/.* $1=\\([^ ]*\\).*/\\1/p" | head -n 1; }
# gone: for a failure message, whether vmm has exited and its last words.
gone() {
	kill -0 "$VMM_PID" 2>/dev/null ||
		echo " (vmm has exited: $(tr -d '\r' <"$log" | grep -a 'vmm:' | tail -n 2 | tr '\n' ';' || true))"
}

# vsock_guest_cid: the guest's driver came up with the configured CID.
cid=$(console "VMMTEST-VSOCK-CID" | head -n 1)
if [ "$cid" = "VMMTEST-VSOCK-CID 3" ]; then pass vsock_guest_cid; else fail vsock_guest_cid "guest says '$cid'"; fi

# transfer NAME OP SEED: a host client's request of N bytes through the hybrid socket; the
# client's line must say ok with md5sum's digest, and the guest's server line must agree.
# The client's rate is METRIC NAME_mib_s.
transfer() {
	local name=$1 op=$2 seed=$3 out rc=0 want served
	want=$(md5 "$seed")
	echo "vsock: $name: $op $N bytes"
	out=$("$VSOCK_TEST" client "hybrid:$sock:5000" "$op" "$N" "$seed" 2>&1) || rc=$?
	served=""
	wait_for_log "$log" "VMMTEST-VSOCK-SERVED $op n=$N seed=$seed " 30 "$VMM_PID" &&
		served=$(console "VMMTEST-VSOCK-SERVED $op n=$N seed=$seed " | head -n 1)
	if [ "$rc" != 0 ] || [[ $out != *" ok bytes=$N md5=$want "* ]]; then
		vm_state vsock "$VMM_PID" "$log"
		fail "$name" "client exit $rc: $out (md5sum: $want)$(gone)"
	elif [[ $served != *" bytes=$N md5=$want end=ok" ]]; then
		fail "$name" "the guest's server says '$served' (md5sum: $want)"
	else
		pass "$name"
		echo "METRIC ${name}_mib_s $(echo "$out" | field mib_s)"
	fi
}
transfer vsock_host_to_guest sink 1
transfer vsock_guest_to_host source 2

# vsock_concurrent: 32 connections open at once, each a sink, source or echo of CONC
# bytes checked by md5 at both ends, and each seen by the guest's server.
echo "vsock: 32 concurrent connections of $CONC bytes"
rc=0
out=$("$VSOCK_TEST" concurrent 32 "hybrid:$sock:5000" "$CONC" 2>&1) || rc=$?
# The guest prints a line per connection when its side has ended; on a loaded test host
# the serial console can lag the host client's end by seconds: wait up to 30 s for them.
for _ in $(seq 60); do
	served=$(console "VMMTEST-VSOCK-SERVED " | grep -c -E " n=$CONC seed=10[0-3][0-9] bytes=$CONC md5=[0-9a-f]+ end=ok\$" || true)
	[ "$served" -lt 32 ] || break
	sleep 0.5
done
if [ "$rc" != 0 ] || [[ $out != *"connections=32 open_at_once=32 ok=32 failed=0"* ]] || [ "$served" != 32 ]; then
	vm_state vsock "$VMM_PID" "$log"
fi
if [ "$rc" != 0 ] || [[ $out != *"connections=32 open_at_once=32 ok=32 failed=0"* ]]; then
	fail vsock_concurrent "exit $rc: $(echo "$out" | grep -v ' ok ' | tail -n 4 | tr '\n' ';')$(gone)"
elif [ "$served" != 32 ]; then
	fail vsock_concurrent "the guest's server finished $served of 32 connections"
else
	pass vsock_concurrent
fi

# vsock_guest_connect: the guest's own connections to CID 2 port 5001 (guest/init), both
# ways, reached the host listener at <socket>_5001; md5 checked by the guest, the host
# listener and md5sum.
g_sink=$(console "VMMTEST-VSOCK-G2H-SINK" | head -n 1)
g_source=$(console "VMMTEST-VSOCK-G2H-SOURCE" | head -n 1)
h_sink=$(grep -F "HOST-SERVED sink n=$G2H_N seed=11 " "$w/host-server.log" | head -n 1)
h_source=$(grep -F "HOST-SERVED source n=$G2H_N seed=12 " "$w/host-server.log" | head -n 1)
if [[ $g_sink != *" sink ok bytes=$G2H_N md5=$(md5 11) "* ]]; then
	fail vsock_guest_connect "guest to host: '$g_sink' (md5sum: $(md5 11))"
elif [[ $g_source != *" source ok bytes=$G2H_N md5=$(md5 12) "* ]]; then
	fail vsock_guest_connect "host to guest: '$g_source' (md5sum: $(md5 12))"
elif [[ $h_sink != *" md5=$(md5 11) end=ok" ]] || [[ $h_source != *" md5=$(md5 12) end=ok" ]]; then
	fail vsock_guest_connect "the host listener says '$h_sink' and '$h_source'"
else
	pass vsock_guest_connect
fi

# vsock_refused_host: CONNECT to a port nobody listens on in the guest: vmm closes the
# connection without an OK line, promptly.
rc=0
out=$("$VSOCK_TEST" refused "hybrid:$sock:5999" 20 2>&1) || rc=$?
if [ "$rc" = 0 ]; then
	pass vsock_refused_host
	echo "METRIC vsock_refused_host_ms $(echo "$out" | field ms)"
else
	fail vsock_refused_host "exit $rc: $out$(gone)"
fi

# vsock_refused_guest: the guest's connect to CID 2 port 5002, where no <socket>_5002
# exists, failed with ECONNRESET or ECONNREFUSED (vmm's RST) within 10 s.
g_ref=$(console "VMMTEST-VSOCK-G2H-REFUSED" | head -n 1)
if [[ $g_ref == *"refused ok how=ECONNRESET "* ]] || [[ $g_ref == *"refused ok how=ECONNREFUSED "* ]]; then
	pass vsock_refused_guest
else
	fail vsock_refused_guest "guest says '$g_ref'"
fi

# vsock_host_abort: host clients close mid-stream, one sending (seed 3), one receiving
# (seed 4). The guest's server must see each connection end (not wait for it in vain),
# and vmm and the guest go on: a new connection moves 1 MiB correctly.
echo "vsock: host clients closing mid-stream"
rc1=0
rc2=0
a1=$("$VSOCK_TEST" client "hybrid:$sock:5000" sink "$N" 3 abort=1048576 2>&1) || rc1=$?
a2=$("$VSOCK_TEST" client "hybrid:$sock:5000" source "$N" 4 abort=1048576 2>&1) || rc2=$?
wait_for_log "$log" "VMMTEST-VSOCK-SERVED sink n=$N seed=3 " 30 "$VMM_PID" || true
wait_for_log "$log" "VMMTEST-VSOCK-SERVED source n=$N seed=4 " 30 "$VMM_PID" || true
s1=$(console "VMMTEST-VSOCK-SERVED sink n=$N seed=3 " | head -n 1)
s2=$(console "VMMTEST-VSOCK-SERVED source n=$N seed=4 " | head -n 1)
rc3=0
after=$("$VSOCK_TEST" client "hybrid:$sock:5000" sink 1048576 5 2>&1) || rc3=$?
if [ "$rc1" != 0 ] || [ "$rc2" != 0 ]; then
	fail vsock_host_abort "the aborting clients: exit $rc1: $a1; exit $rc2: $a2$(gone)"
elif [[ $s1 != *" end=eof" && $s1 != *" end=reset" ]] || [[ $s2 != *" end=epipe" && $s2 != *" end=reset" ]]; then
	fail vsock_host_abort "the guest's server did not see the connections end within 30 s: '$s1'; '$s2'"
elif ! kill -0 "$VMM_PID" 2>/dev/null; then
	fail vsock_host_abort "vmm exited"
elif [ "$rc3" != 0 ] || [[ $after != *" ok bytes=1048576 "* ]]; then
	fail vsock_host_abort "the next connection: exit $rc3: $after"
else
	pass vsock_host_abort
fi

# vsock_stop: SIGTERM to vmm while two host connections stream without end (the guest
# sending on one, receiving on the other): the guest powers off, vmm exits 0, and both
# clients see their connection end (EOF, or a reset or EPIPE for the sender) within 30 s
# of vmm's exit.
echo "vsock: SIGTERM to vmm mid-stream"
"$VSOCK_TEST" client "hybrid:$sock:5000" source 0 6 >"$w/stop-source.log" 2>&1 &
c1=$!
"$VSOCK_TEST" client "hybrid:$sock:5000" sink 0 7 >"$w/stop-sink.log" 2>&1 &
c2=$!
sleep 3
streaming=1
kill -0 "$c1" 2>/dev/null && kill -0 "$c2" 2>/dev/null || streaming=0
kill -TERM "$VMM_PID" 2>/dev/null || true
rc=0
wait_pid "$VMM_PID" 120 || rc=$?
VMM_PID=""
r1=0
r2=0
wait_pid "$c1" 30 || r1=$?
wait_pid "$c2" 30 || r2=$?
o1=$(cat "$w/stop-source.log")
o2=$(cat "$w/stop-sink.log")
if [ "$streaming" = 0 ]; then
	fail vsock_stop "a client ended before SIGTERM: '$o1'; '$o2'"
elif [ "$rc" != 0 ]; then
	fail vsock_stop "vmm exit $(describe_exit "$rc"), expected 0"
elif [ "$r1" != 3 ] || [[ $o1 != *"how=eof "* ]]; then
	fail vsock_stop "the receiving client: exit $r1 (3: ended by the peer; 124: still running 30 s after vmm): $o1"
elif [ "$r2" != 3 ] || [[ $o2 != *"how=eof "* && $o2 != *"how=epipe "* && $o2 != *"how=reset "* ]]; then
	fail vsock_stop "the sending client: exit $r2 (3: ended by the peer; 124: still running 30 s after vmm): $o2"
elif ! expect_in_log "$log" VMMTEST-CTRLALTDEL; then
	fail vsock_stop "no VMMTEST-CTRLALTDEL: the guest did not power off itself"
else
	pass vsock_stop
	echo "vsock: stopped mid-stream after $(echo "$o1" | field bytes) and $(echo "$o2" | field bytes) bytes"
fi
