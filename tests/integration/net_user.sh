#!/bin/bash
# net_user: the user-mode NIC ([[net]] mode = "user", passt behind it) with vmm running as
# nobody without capabilities. The guest (vmmtest=usernet) takes its address by DHCP,
# serves a token on its port 22 (reached from the host at 127.0.0.1:2201 through passt's
# forward) and fetches files from a server on the host's loopback at its gateway address.
# Midway passt is killed: vmm must live, log it, start a new passt, and the guest's next
# fetch and the forward must work through it. The stand-in uplink and the mount
# namespace passt needs in the test host: lib.sh (passt_uplink_up, start_vmm_in_mountns).
# Tools: passt (the harness puts the build machine's into the test host), busybox brctl,
# ip, nc, httpd, su, unshare, chroot, mount.
GUEST_MEMORY_MIB=${GUEST_MEMORY_MIB:-256}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

tests=(net_user_nonroot net_user_dhcp net_user_fetch net_user_forward net_user_passt_restart
	net_user_poweroff net_user_passt_fails)
require_vmm "${tests[@]}"
w=$WORKDIR
export LC_ALL=C

require_tools passt brctl ip nc httpd su unshare chroot mount md5sum
[ "$(id -u)" = 0 ] || skip_all "setting up the stand-in uplink needs root"

kvm_mode=$(stat -c %a /dev/kvm)
cleanup() {
	[ -z "${vmm_pid-}" ] || kill -KILL "$vmm_pid" 2>/dev/null || true
	[ -z "${httpd_pid-}" ] || kill "$httpd_pid" 2>/dev/null || true
	chmod "$kvm_mode" /dev/kvm 2>/dev/null || true
	passt_uplink_down
}
trap cleanup EXIT

passt_uplink_up || skip_all "cannot make the stand-in uplink (bridge vmmup0)"
dns=$(awk '$1 == "nameserver" { print $2; exit }' /etc/resolv.conf)

# The host's server, on its loopback only: the guest reaches it as its gateway.
mkdir -p "$w/www"
head -c 200000 /dev/urandom >"$w/www/one.txt"
httpd -f -p 127.0.0.1:8081 -h "$w/www" &
httpd_pid=$!

# vmm as nobody: /dev/kvm opened to it for this test, its files readable.
chmod o+rw /dev/kvm
chmod 755 "$w"
make_config usernet 1 "vmmtest=usernet net.ifnames=0" >"$w/vm.toml"
mkdir -p "$w/run" && chown 65534:65534 "$w/run"
sed -i "/^\[vm\]/a control_socket = $(toml_string "$w/run/ctl.sock")" "$w/vm.toml"
cat >>"$w/vm.toml" <<EOT

[[net]]
mode = "user"
forward = ["2201:22"]
EOT
chmod 644 "$w/vm.toml"
start_vmm_in_mountns "$w/vm.toml" "$w/console.log" nobody
vmm_pid=$VMM_PID

show_log() { tr -d '\r' <"$w/console.log" | grep -a -E 'VMMTEST|vmm:|passt|virtio' | sed 's/^/| /' | tail -n 30; }
md5() { md5sum <"$1" | cut -d' ' -f1; }
# guest_token: what the guest's port 22 serves, fetched at 127.0.0.1:2201.
guest_token() {
	{ printf 'GET /token.txt HTTP/1.0\r\n\r\n' | nc -w 10 "$1" 2201 2>/dev/null || true; } |
		tr -d '\r' | tail -n 1
}
# passt_pid: the passt vmm runs (its child: vmm is the launcher's subreaper).
passt_pid() {
	local s
	for s in /proc/[0-9]*/stat; do
		read -r -a f <"$s" 2>/dev/null || continue
		if [ "${f[3]}" = "$vmm_pid" ] && [[ ${f[1]} == "(passt"* ]]; then
			echo "${f[0]}"
		fi
	done
}

if ! wait_for_log "$w/console.log" "VMMTEST-USERNET-SSHPORT" "$BOOT_TIMEOUT" "$vmm_pid"; then
	for n in "${tests[@]}"; do
		fail "$n" "the guest did not come up with its lease and server"
	done
	show_log
	exit 0
fi

uid=$(awk '$1 == "Uid:" { print $2 }' "/proc/$vmm_pid/status")
capeff=$(awk '$1 == "CapEff:" { print $2 }' "/proc/$vmm_pid/status")
if [ "$uid" = 65534 ] && [ "$capeff" = 0000000000000000 ]; then
	pass net_user_nonroot
else
	fail net_user_nonroot "vmm runs as uid $uid with CapEff $capeff"
fi

log=$(tr -d '\r' <"$w/console.log")
lease=$(grep -o 'VMMTEST-USERNET-LEASE .*' <<<"$log" | head -n 1 || true)
features=$(sed -n 's/.*VMMTEST-USERNET-NIC features=\([01]*\).*/\1/p' <<<"$log")
# The address and gateway passt copies from the host, its DNS, our MTU; and no checksum
# offload offered (feature bits 0 and 1, the first characters of the guest's list).
if [[ $lease == *"ip=10.0.2.15 mask=24 router=10.0.2.2 dns=$dns"* ]] &&
	[[ $lease == *"mtu=1500"* ]] && [ "${features:0:2}" = 00 ]; then
	pass net_user_dhcp
else
	fail net_user_dhcp "lease '$lease', features '${features:0:16}', want dns $dns, mtu 1500, no csum"
fi

if wait_for_log "$w/console.log" "VMMTEST-USERNET-FETCH one md5=$(md5 "$w/www/one.txt")" 60 "$vmm_pid"; then
	pass net_user_fetch
else
	fail net_user_fetch "$(grep -a -E 'VMMTEST-USERNET-(FETCH|RETRY|DONE)' "$w/console.log" | tr -d '\r' | tr '\n' ';');
		the host's own fetch: $({ printf 'GET /one.txt HTTP/1.0\r\n\r\n' | nc -w 5 127.0.0.1 8081 || true; } | head -n 1);
		$("$VMM" ctl "$w/run/ctl.sock" queues 2>&1 | tr '\n' ';')"
	show_log
fi

token=$(sed -n 's/.*VMMTEST-USERNET-SSHPORT token=\([0-9a-f]*\).*/\1/p' <<<"$log")
got=$(guest_token 127.0.0.1)
# Forwards listen on 127.0.0.1 only (forward_address's default).
other=$(guest_token 10.0.2.15)
if [ -n "$token" ] && [ "$got" = "$token" ] && [ -z "$other" ]; then
	pass net_user_forward
else
	fail net_user_forward "127.0.0.1:2201 gave '$got', 10.0.2.15:2201 gave '$other', the guest's token is '$token'"
fi

# passt dies: vmm must live, say so, and start a new one that serves the guest's next
# fetch and the forward again.
old=$(passt_pid)
why=""
if [ -z "$old" ]; then
	why="no passt among vmm's children"
else
	kill -KILL "$old"
	wait_for_log "$w/console.log" "passt (pid $old) was killed by signal 9" 30 "$vmm_pid" ||
		why="no log line about passt $old's death"
fi
head -c 300000 /dev/urandom >"$w/www/two.txt"
if [ -z "$why" ] &&
	! wait_for_log "$w/console.log" "VMMTEST-USERNET-FETCH two md5=$(md5 "$w/www/two.txt")" 120 "$vmm_pid"; then
	why="the guest's fetch after the restart did not arrive"
fi
new=$(passt_pid)
if [ -z "$why" ] && [ -n "$new" ] && [ "$new" != "$old" ] && kill -0 "$vmm_pid" 2>/dev/null &&
	expect_in_log "$w/console.log" "restarting passt" &&
	[ "$(guest_token 127.0.0.1)" = "$token" ]; then
	pass net_user_passt_restart
else
	alive=no
	! kill -0 "$vmm_pid" 2>/dev/null || alive=yes
	fail net_user_passt_restart "${why:-passt $old -> \"$new\", vmm alive: $alive, forward after: \"$(guest_token 127.0.0.1)\"}"
	show_log
fi

: >"$w/www/poweroff.txt"
rc=0
wait_pid "$vmm_pid" 120 || rc=$?
vmm_pid=""
if [ "$rc" = 0 ] && expect_in_log "$w/console.log" "VMMTEST-USERNET-DONE fetched=2"; then
	pass net_user_poweroff
else
	fail net_user_poweroff "exit $(describe_exit "$rc")"
	show_log
fi

# A passt that exits at once, every time: vmm restarts it a bounded number of times,
# then gives up with the link down, and the guest still runs and powers off.
make_config failing 1 "vmmtest=poweroff" >"$w/fail.toml"
printf '#!/bin/sh\necho "fake passt: giving up" >&2\nexit 1\n' >"$w/bad-passt"
chmod 755 "$w/bad-passt"
printf '\n[[net]]\nmode = "user"\npasst = %s\n' "$(toml_string "$w/bad-passt")" >>"$w/fail.toml"
rc=0
run_vmm "$w/fail.toml" "$w/fail.log" 120 || rc=$?
starts=$(grep -c 'started .*bad-passt' "$w/fail.log" || true)
if [ "$rc" = 0 ] && [ "$starts" = 6 ] &&
	expect_in_log "$w/fail.log" "passt ended 5 times within 60 s; not restarting it"; then
	pass net_user_passt_fails
else
	fail net_user_passt_fails "exit $(describe_exit "$rc"), $starts starts: $(grep -a 'vmm:' "$w/fail.log" | tail -n 4 | tr '\n' ';')"
fi
