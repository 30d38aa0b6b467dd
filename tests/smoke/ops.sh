#!/usr/bin/env bash
# Operations smoke tests with the tiny guest (tests/smoke/guest.S): the
# control socket (`vmm ctl`, `vmm list`, garbage), the systemd notify
# protocol, dropped capabilities and close-on-exec fds, as a user sees them.
# Usage: ops.sh VMM SMOKE_GUEST_ELF
set -uo pipefail

VMM=$(realpath "$1")
GUEST=$(realpath "$2")
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

check() { # NAME COMMAND...: passes when the command succeeds
	local name=$1
	shift
	if "$@"; then ok "$name"; else bad "$name" "'$*' failed"; fi
}

config() { # NAME CMDLINE [TIMEOUT] [EXTRA [vm] LINES]
	smoke_config "$1" "$2" 1 "${3:-5}" "${4:-}"
}

# start NAME: runs the VM in the background, sets $pid
start() {
	"$VMM" --config "$WORK/$1.toml" 2> "$WORK/$1.err" &
	pid=$!
	pids+=("$pid")
}

size() { stat -c %s "$1"; }

have_socat=false
command -v socat > /dev/null && have_socat=true

# --- a VM under the control socket, notifying a fake service manager ------------

# As root, vmm runs the guest as an unprivileged user unless [vm] user says
# otherwise: the ops VM opts out, to remove its socket from the root-owned
# directory at exit; the others take the default.
optout=""
[ "$(id -u)" -eq 0 ] && optout='user = "root"'
config ops l 5 "$optout"
if $have_socat; then
	socat -u UNIX-RECV:"$WORK/notify.sock" OPEN:"$WORK/notify.log",creat,append &
	pids+=($!)
	for _ in $(seq 50); do [ -S "$WORK/notify.sock" ] && break; sleep 0.05; done
	NOTIFY_SOCKET=$WORK/notify.sock start ops
else
	echo "SKIP notify tests: socat is not installed (tools/install-deps)"
	start ops
fi
ops_pid=$pid
wait_for "$WORK/ops.out" SMOKE-TICKING || bad "ops VM starts" "$(cat "$WORK/ops.err")"

if $have_socat; then
	wait_for "$WORK/notify.log" "READY=1" && ok "READY=1 reaches NOTIFY_SOCKET" ||
		bad "READY=1" "notify.log: $(cat "$WORK/notify.log" 2>/dev/null)"
	grep -q "STATUS=Running" "$WORK/notify.log" && ok "STATUS= says Running" ||
		bad "STATUS=Running" "$(cat "$WORK/notify.log")"
fi

# Capabilities: none in any thread, and none to regain through execve.
caps_ok=true
for t in /proc/"$ops_pid"/task/*; do
	for f in CapEff CapPrm CapInh CapAmb; do
		v=$(awk -v f="$f:" '$1 == f { print $2 }' "$t/status")
		[ "$v" = 0000000000000000 ] || { caps_ok=false; echo "  $t $f $v"; }
	done
	if [ "$(id -u)" -eq 0 ]; then
		v=$(awk '$1 == "CapBnd:" { print $2 }' "$t/status")
		[ "$v" = 0000000000000000 ] || { caps_ok=false; echo "  $t CapBnd $v"; }
	fi
	grep -q '^NoNewPrivs:[[:space:]]*1' "$t/status" || { caps_ok=false; echo "  $t NoNewPrivs"; }
done
nthreads=$(ls "/proc/$ops_pid/task" | wc -l)
$caps_ok && ok "no capabilities in any thread, no_new_privs ($nthreads threads)" ||
	bad "capabilities" "see above"

# Every fd but stdio is close-on-exec (fdinfo flags, octal, O_CLOEXEC = 02000000),
# those inherited from this shell included: children get none of them.
leaks=""
for fd in /proc/"$ops_pid"/fdinfo/*; do
	n=${fd##*/}
	[ "$n" -le 2 ] && continue
	flags=$(awk '$1 == "flags:" { print $2 }' "$fd" 2>/dev/null) || continue
	[ -n "$flags" ] || continue
	(( (8#$flags & 8#2000000) != 0 )) || leaks+=" $n->$(readlink "/proc/$ops_pid/fd/$n")"
done
[ -z "$leaks" ] && ok "every fd is O_CLOEXEC" || bad "fds without O_CLOEXEC" "$leaks"

sock=$WORK/run/ops.sock
[ "$(stat -c %a "$sock" 2>/dev/null)" = 600 ] && [ "$(stat -c %a "$WORK/run")" = 700 ] &&
	ok "control socket 0600 in a 0700 directory" ||
	bad "control socket mode" "$(ls -la "$WORK/run")"

out=$("$VMM" ctl ops status)
[[ $out == "ok name=ops state=running pid=$ops_pid vcpus=1 memory_mib=64 uptime_s="* ]] &&
	ok "vmm ctl status" || bad "vmm ctl status" "$out"

# Pause: the guest's output stops; resume: it goes on.
out=$("$VMM" ctl ops pause)
[ "$out" = "ok state=paused" ] || bad "pause reply" "$out"
a=$(size "$WORK/ops.out"); sleep 0.3; b=$(size "$WORK/ops.out")
[ "$a" -eq "$b" ] && ok "pause stops the guest" || bad "pause" "output grew from $a to $b bytes"
"$VMM" ctl ops status | grep -q "state=paused" && ok "status says paused" ||
	bad "status when paused" "$("$VMM" ctl ops status)"
"$VMM" list > "$WORK/list.out"
grep -Eq "^ops +paused +$ops_pid +1 +64MiB" "$WORK/list.out" && ok "vmm list shows the paused VM" ||
	bad "vmm list" "$(cat "$WORK/list.out")"
$have_socat && { grep -q "STATUS=Paused" "$WORK/notify.log" && ok "STATUS=Paused" ||
	bad "STATUS=Paused" "$(cat "$WORK/notify.log")"; }
out=$("$VMM" ctl ops resume)
[ "$out" = "ok state=running" ] || bad "resume reply" "$out"
sleep 0.3
c=$(size "$WORK/ops.out")
[ "$c" -gt "$b" ] && ok "resume lets the guest run on" || bad "resume" "output stuck at $c bytes"

# Errors a user can make.
out=$("$VMM" ctl ops reboot); rc=$?
[ $rc -eq 1 ] && [ "$out" = 'error unknown command "reboot"; try "help"' ] &&
	ok "unknown command: error reply, exit 1" || bad "unknown command" "rc=$rc $out"
"$VMM" ctl nosuchvm status > /dev/null 2> "$WORK/nosuch.err"; rc=$?
[ $rc -eq 1 ] && grep -q "no VM is running there" "$WORK/nosuch.err" &&
	ok "vmm ctl on a VM that does not run" || bad "ctl nosuchvm" "rc=$rc $(cat "$WORK/nosuch.err")"
"$VMM" ctl ops > /dev/null 2>&1; rc=$?
[ $rc -eq 2 ] && ok "vmm ctl without a command is a usage error" || bad "ctl usage" "rc=$rc"

# A second VM with the same name (and so the same socket) is refused.
cp "$WORK/ops.toml" "$WORK/dup.toml"
"$VMM" --config "$WORK/dup.toml" > /dev/null 2> "$WORK/dup.err"; rc=$?
[ $rc -eq 1 ] && grep -q "held by another running vmm" "$WORK/dup.err" &&
	ok "a second vmm on the same socket is refused" || bad "duplicate" "rc=$rc $(cat "$WORK/dup.err")"

# Garbage on the socket: error replies, and the VMM keeps running.
if $have_socat; then
	out=$(printf 'bogus\n' | socat -t 2 - UNIX-CONNECT:"$sock")
	[[ $out == "error unknown command"* ]] && ok "garbage line: error reply" ||
		bad "garbage line" "$out"
	out=$(head -c 3000 /dev/urandom | tr -d 'sprkh\n' | socat -t 2 - UNIX-CONNECT:"$sock")
	[ "$out" = "error request longer than 255 bytes" ] && ok "random bytes: error reply" ||
		bad "random bytes" "$out"
	out=$(printf 'status' | socat -t 2 - UNIX-CONNECT:"$sock")
	[[ $out == "error incomplete request"* ]] && ok "partial line: error reply" ||
		bad "partial line" "$out"
	out=$(printf 'status\r\nhelp\n\x00\x01\n' | socat -t 2 - UNIX-CONNECT:"$sock" | cut -c1-15 | tr '\n' '|')
	[ "$out" = "ok name=ops sta|ok commands=sta|error request h|" ] &&
		ok "several requests on one connection: one reply each" || bad "pipelined" "$out"
	# 12 clients that hold their connection for 6 s (8 slots): at least 4 must be
	# turned away at once. Polled for up to 5 s rather than read after a fixed
	# pause: on a loaded test host the socat processes take a while to start.
	for i in $(seq 12); do
		sleep 6 | socat -t 7 - UNIX-CONNECT:"$sock" > "$WORK/client$i.out" 2>&1 &
	done
	for _ in $(seq 50); do
		busy=$(cat "$WORK"/client*.out | grep -c "error too many clients")
		[ "$busy" -lt 4 ] || break
		sleep 0.1
	done
	"$VMM" ctl ops status > /dev/null 2>&1
	busy=$(cat "$WORK"/client*.out | grep -c "error too many clients")
	[ "$busy" -ge 4 ] && ok "too many clients are told to try again ($busy of 13)" ||
		bad "many clients" "$busy clients turned away"
	sleep 6
	if kill -0 "$ops_pid" 2>/dev/null &&
	   "$VMM" ctl ops status | grep -q "state=running"; then
		ok "the VMM keeps running and answering after garbage"
	else
		bad "after garbage" "$(tail -n 3 "$WORK/ops.err")"
	fi
else
	echo "SKIP garbage tests: socat is not installed (tools/install-deps)"
fi

# kill: a forced stop, exit status 5, the socket removed.
out=$("$VMM" ctl ops kill)
[ "$out" = "ok state=stopping" ] || bad "kill reply" "$out"
wait "$ops_pid"; rc=$?
[ $rc -eq 5 ] && grep -q "kill requested on the control socket" "$WORK/ops.err" &&
	ok "vmm ctl kill: exit status 5" || bad "kill" "rc=$rc $(tail -n 2 "$WORK/ops.err")"
[ ! -e "$sock" ] && ok "socket removed at exit" || bad "socket at exit" "$(ls -la "$WORK/run")"
$have_socat && { grep -q "STOPPING=1" "$WORK/notify.log" && ok "STOPPING=1 sent" ||
	bad "STOPPING=1" "$(cat "$WORK/notify.log")"; }

# shutdown, even of a paused VM: the guest gets Ctrl-Alt-Del and powers off.
config gentle w
start gentle
wait_for "$WORK/gentle.out" SMOKE-WAITING
"$VMM" ctl gentle pause > /dev/null
out=$("$VMM" ctl gentle shutdown)
[ "$out" = "ok state=stopping" ] || bad "shutdown reply" "$out"
wait "$pid"; rc=$?
[ $rc -eq 0 ] && grep -q SMOKE-CTRLALTDEL "$WORK/gentle.out" &&
	ok "vmm ctl shutdown of a paused VM: clean power-off" ||
	bad "shutdown" "rc=$rc $(tail -n 2 "$WORK/gentle.err")"
if [ "$(id -u)" -eq 0 ]; then
	def=$(id -u vmm 2>/dev/null || id -u nobody 2>/dev/null)
	grep -q "privileges dropped: uid $def," "$WORK/gentle.err" &&
		grep -q 'vm.user = "root": the guest runs as root' "$WORK/ops.err" &&
		ok "as root: an unprivileged user by default, [vm] user = \"root\" opts out" ||
		bad "default user" "$(grep -h 'privileges dropped\|vm.user' "$WORK/gentle.err" "$WORK/ops.err")"
fi
# The boot-phase lines, in order, each with its time since exec.
phases=$(sed -n 's/.*boot: \(.*\) at [0-9][0-9]* us.*/\1/p' "$WORK/gentle.err" | tr '\n' '|')
[ "$phases" = "main()|config parsed|first KVM_RUN|guest's first serial byte|guest shutdown|" ] &&
	grep -q "boot: guest shutdown at [0-9]* us (poweroff)" "$WORK/gentle.err" &&
	ok "boot-phase lines: main(), config parsed, first KVM_RUN, first serial byte, guest shutdown (poweroff)" ||
	bad "boot-phase lines" "got '$phases'"

# [vm] ready = "userspace": READY=1 waits for the guest's boot-timer write
# (the mark a Linux guest's init makes), and comes once it is made.
if $have_socat; then
	# notify_vm NAME CMDLINE: starts NAME with ready = "userspace" and its own
	# fake service manager logging to $WORK/NAME.notify.
	notify_vm() {
		socat -u UNIX-RECV:"$WORK/$1.nsock" OPEN:"$WORK/$1.notify",creat,append &
		pids+=($!)
		for _ in $(seq 50); do [ -S "$WORK/$1.nsock" ] && break; sleep 0.05; done
		config "$1" "$2" 5 'ready = "userspace"'
		NOTIFY_SOCKET=$WORK/$1.nsock start "$1"
	}
	notify_vm unmarked l
	wait_for "$WORK/unmarked.out" SMOKE-TICKING
	wait_for "$WORK/unmarked.notify" "STATUS=Booting"
	sleep 0.5	# the guest ticks on, and never writes the boot timer
	grep -q "STATUS=Booting: waiting for the guest's userspace" "$WORK/unmarked.notify" &&
		! grep -q "READY=1" "$WORK/unmarked.notify" &&
		ok "ready = userspace: no READY=1 while the guest has not made its mark" ||
		bad "ready = userspace (no mark)" "$(tr '\n' ' ' < "$WORK/unmarked.notify")"
	"$VMM" ctl unmarked kill > /dev/null
	wait "$pid"

	notify_vm marked r
	wait_for "$WORK/marked.out" SMOKE-READY-MARK
	wait_for "$WORK/marked.notify" "READY=1" &&
		grep -q "boot: guest userspace ready at [0-9]* us" "$WORK/marked.err" &&
		ok "ready = userspace: READY=1 once the guest writes the boot timer" ||
		bad "ready = userspace (marked)" "$(tr '\n' ' ' < "$WORK/marked.notify") / $(tail -n 3 "$WORK/marked.err")"
	"$VMM" ctl marked status | grep -q " boot_userspace_ready_us=[0-9]" &&
		ok "vmm ctl status carries boot_userspace_ready_us" ||
		bad "status phases" "$("$VMM" ctl marked status)"
	"$VMM" ctl marked kill > /dev/null
	wait "$pid"
fi

# [vm] user: root switches to nobody; the socket it cannot remove from the
# root-owned directory is taken over as stale by the next start. Names come
# from /etc/passwd and /etc/group (vmm/host_ids.h); one missing there is a
# configuration error, never a crash (a static glibc's getpwnam was one).
if [ "$(id -u)" -eq 0 ] && id -u nobody > /dev/null 2>&1; then
	config nouser l 5 'user = "vmm-no-such-user"'
	"$VMM" --config "$WORK/nouser.toml" 2> "$WORK/nouser.err"
	rc=$?
	[ "$rc" -eq 1 ] &&
		grep -q 'vm.user: no user "vmm-no-such-user" in /etc/passwd' "$WORK/nouser.err" &&
		ok "[vm] user unknown: exit 1 and a message naming /etc/passwd" ||
		bad "[vm] user unknown" "exit $rc: $(cat "$WORK/nouser.err")"
	config asuser l 5 $'user = "nobody"\ngroup = "'"$(id -gn nobody)"'"'
	start asuser
	wait_for "$WORK/asuser.out" SMOKE-TICKING
	uid_ok=true
	for t in /proc/"$pid"/task/*; do
		awk '$1 == "Uid:" || $1 == "Gid:" { print $2, $3, $4, $5 }' "$t/status" |
			grep -qv "^$(id -u nobody) " && uid_ok=false
		grep -q '^CapEff:[[:space:]]*0000000000000000' "$t/status" || uid_ok=false
		grep -q '^Groups:[[:space:]]*$' "$t/status" || uid_ok=false
	done
	$uid_ok && grep -q "privileges dropped: uid $(id -u nobody)" "$WORK/asuser.err" &&
		ok "[vm] user = nobody: every thread runs as nobody, no groups, no caps" ||
		bad "[vm] user" "$(grep -E '^(Uid|Gid|Groups|CapEff)' /proc/"$pid"/status | tr '\n' ' ')"
	"$VMM" ctl asuser status | grep -q "state=running" && ok "vmm ctl works after the switch" ||
		bad "ctl after user switch" "$("$VMM" ctl asuser status 2>&1)"
	"$VMM" ctl asuser kill > /dev/null
	wait "$pid"
	start asuser
	wait_for "$WORK/asuser.err" "boot: first KVM_RUN" &&
		grep -q "removed the stale control socket" "$WORK/asuser.err" &&
		ok "a stale socket is replaced on the next start" ||
		bad "stale socket" "$(cat "$WORK/asuser.err")"
	"$VMM" ctl asuser kill > /dev/null
	wait "$pid"
else
	echo "SKIP [vm] user test: needs root and a 'nobody' user"
fi

echo "ops: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
