#!/bin/bash
# soak: SOAK_VMS (4) VMs under blk, net and fs load (vmmtest=soak: 1 MiB fsynced to the
# disk and read back, the same through a file on a virtio-fs share served by vmm's own
# virtiofsd, pings of 1400 bytes to the host over a TAP on a bridge) for SOAK_MINUTES.
# Every SOAK_INTERVAL_S (30) seconds each vmm's RSS (VmRSS) and open file descriptors
# (/proc/PID/fd) are sampled; the growth per VM (first to last sample) and the maxima are
# METRIC lines. Then SIGTERM: each guest prints its tallies and powers off. A VM passes
# when it ran to the end, powered off (exit 0) and its guest counted no error. The
# numbers are reported, not judged.
# Skipped unless SOAK_MINUTES is set (tools/soak sets it and runs this in the test host).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

SOAK_MINUTES=${SOAK_MINUTES-}
SOAK_VMS=${SOAK_VMS:-4}
SOAK_INTERVAL_S=${SOAK_INTERVAL_S:-30}
VIRTIOFSD=${VIRTIOFSD:-/usr/lib/qemu/virtiofsd}
w=$WORKDIR

tests=()
for ((i = 0; i < SOAK_VMS; i++)); do tests+=("soak_vm$i"); done
[ -n "$SOAK_MINUTES" ] || skip_all "SOAK_MINUTES is not set (tools/soak --minutes N)"
[[ $SOAK_MINUTES =~ ^[0-9]+$ && $SOAK_INTERVAL_S =~ ^[1-9][0-9]*$ && $SOAK_VMS =~ ^[1-9]$ ]] ||
	skip_all "SOAK_MINUTES, SOAK_INTERVAL_S, SOAK_VMS must be numbers (SOAK_VMS 1-9)"
require_vmm "${tests[@]}"
[ "$(id -u)" = 0 ] || skip_all "making TAPs and bridges needs root"
for t in brctl tunctl ip; do
	command -v "$t" >/dev/null 2>&1 || skip_all "no $t in the test host"
done
[ -c /dev/net/tun ] || skip_all "no /dev/net/tun (tun module)"
[ -x "$VIRTIOFSD" ] || skip_all "no $VIRTIOFSD"

pids=()
cleanup() {
	local i
	for p in "${pids[@]}"; do [ -z "$p" ] || kill -KILL "$p" 2>/dev/null || true; done
	for ((i = 0; i < SOAK_VMS; i++)); do
		ip link del "vmmstap$i" 2>/dev/null || true
		ip link set "vmmsbr$i" down 2>/dev/null || true
		brctl delbr "vmmsbr$i" 2>/dev/null || true
	done
}
trap cleanup EXIT

for ((i = 0; i < SOAK_VMS; i++)); do
	d=$w/vm$i
	mkdir -p "$d/share"
	if ! { brctl addbr "vmmsbr$i" && ip addr add "10.21$i.0.1/24" dev "vmmsbr$i" &&
		ip link set "vmmsbr$i" up && tunctl -t "vmmstap$i" >/dev/null &&
		brctl addif "vmmsbr$i" "vmmstap$i" && ip link set "vmmstap$i" up; }; then
		skip_all "cannot make bridge vmmsbr$i and TAP vmmstap$i"
	fi
	# The guest ends its round before it powers off: more than make_config's 20 s.
	make_config "soak$i" 1 "vmmtest=soak net.ifnames=0" | sed 's/^shutdown_timeout = .*/shutdown_timeout = 120/' >"$d/vm.toml"
	cat >>"$d/vm.toml" <<EOT

[[disk]]
path = "disk.img"
size_mib = 16

[[net]]
tap = "vmmstap$i"
subnet = "10.21$i.0.0/24"
bridge = "vmmsbr$i"

[[fs]]
tag = "data"
source = "share"
sandbox = "chroot"
virtiofsd = $(toml_string "$VIRTIOFSD")
EOT
	start_vmm "$d/vm.toml" "$d/console.log"
	pids[i]=$VMM_PID
done

started=()
for ((i = 0; i < SOAK_VMS; i++)); do
	if wait_for_log "$w/vm$i/console.log" "VMMTEST-SOAK-START" "$BOOT_TIMEOUT" "${pids[i]}"; then
		started[i]=1
	else
		started[i]=0
		echo "soak: vm$i did not start its load"
	fi
done

# The samples: one line "SECONDS RSS_KB FDS" per VM and sample in vmI/samples; an
# empty RSS means the vmm was gone.
t0=$(date +%s)
end=$((t0 + SOAK_MINUTES * 60))
echo "soak: ${SOAK_VMS} VMs for $SOAK_MINUTES min, a sample every $SOAK_INTERVAL_S s"
while :; do
	now=$(date +%s)
	line="soak: t=$((now - t0))s"
	for ((i = 0; i < SOAK_VMS; i++)); do
		p=${pids[i]}
		rss=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$p/status" 2>/dev/null || true)
		# shellcheck disable=SC2012 # counting entries, names do not matter
		fds=$(ls "/proc/$p/fd" 2>/dev/null | wc -l)
		echo "$((now - t0)) ${rss:-gone} $fds" >>"$w/vm$i/samples"
		line="$line vm$i rss=${rss:-gone}kB fds=$fds"
	done
	echo "$line"
	[ "$now" -lt "$end" ] || break
	left=$((end - now))
	sleep $((left < SOAK_INTERVAL_S ? left : SOAK_INTERVAL_S))
done

for ((i = 0; i < SOAK_VMS; i++)); do kill -TERM "${pids[i]}" 2>/dev/null || true; done
for ((i = 0; i < SOAK_VMS; i++)); do
	n=soak_vm$i
	d=$w/vm$i
	rc=0
	wait_pid "${pids[i]}" 180 || rc=$?
	pids[i]=""
	# (No process substitution: the test host has no /dev/fd.)
	read -r _ rss0 fds0 <<<"$(head -n 1 "$d/samples")"
	read -r _ rss1 fds1 <<<"$(tail -n 1 "$d/samples")"
	rssmax=$(awk '$2 != "gone" && $2 > m { m = $2 } END { print m + 0 }' "$d/samples")
	fdsmax=$(awk '$3 > m { m = $3 } END { print m + 0 }' "$d/samples")
	end_line=$(tr -d '\r' <"$d/console.log" | grep -a 'VMMTEST-SOAK-END' | tail -n 1)
	rounds=$(sed -n 's/.*rounds=\([0-9]*\).*/\1/p' <<<"$end_line")
	echo "METRIC ${n}_minutes $SOAK_MINUTES"
	echo "METRIC ${n}_samples $(wc -l <"$d/samples")"
	if [ "$rss0" != gone ] && [ "$rss1" != gone ]; then
		echo "METRIC ${n}_rss_kb_first $rss0"
		echo "METRIC ${n}_rss_kb_last $rss1"
		echo "METRIC ${n}_rss_kb_max $rssmax"
		echo "METRIC ${n}_rss_kb_growth $((rss1 - rss0))"
		echo "METRIC ${n}_fds_first $fds0"
		echo "METRIC ${n}_fds_last $fds1"
		echo "METRIC ${n}_fds_max $fdsmax"
		echo "METRIC ${n}_fds_growth $((fds1 - fds0))"
	fi
	echo "METRIC ${n}_rounds ${rounds:-0}"
	echo "$n: ${end_line:-no VMMTEST-SOAK-END}"
	if [ "${started[i]}" != 1 ]; then
		fail "$n" "the guest never started its load; exit $(describe_exit "$rc")"
	elif grep -q ' gone ' "$d/samples"; then
		fail "$n" "vmm was gone at $(awk '$2 == "gone" { print $1 "s"; exit }' "$d/samples"); exit $(describe_exit "$rc")"
	elif [ "$rc" != 0 ]; then
		fail "$n" "exit $(describe_exit "$rc") after SIGTERM, expected 0"
	elif [ -z "$end_line" ]; then
		fail "$n" "the guest printed no tally (VMMTEST-SOAK-END)"
	elif ! grep -q 'errors blk=0 fs=0 net=0' <<<"$end_line"; then
		fail "$n" "the guest counted errors: $end_line"
	elif [ "${rounds:-0}" = 0 ]; then
		fail "$n" "the guest did no round of load"
	else
		pass "$n"
	fi
	if [ "$rc" != 0 ] || ! grep -q 'errors blk=0 fs=0 net=0' <<<"$end_line"; then
		tr -d '\r' <"$d/console.log" | grep -a -E 'VMMTEST|vmm:' | tail -n 15 | sed 's/^/| /'
	fi
done
