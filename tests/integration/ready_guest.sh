#!/bin/bash
# ready_guest: [vm] ready = "guest". vmm runs under a stand-in for systemd's NOTIFY_SOCKET
# (socat receiving datagrams; each one stamped with /proc/uptime). The guest finds the
# credential systemd.set_credential=vmm.notify_socket:vsock-stream:2:8888 on its kernel
# command line and sends over vsock, exactly as systemd's PID 1 does
# (tests/tools/sd-notify-vsock): "STATUS=Guest starting" plus an assignment vmm must not
# pass on, then 3 s later "READY=1" with "STATUS=Guest ready", and at Ctrl-Alt-Del
# "STOPPING=1".
#   ready_guest: vmm's READY=1 is the guest's, after the guest's STATUS (>= 2 s later),
#     never before; STATUS relayed, the unknown assignment not; the guest saw vmm close
#     each connection (systemd 256+ waits for that); STOPPING=1 at SIGTERM; exit 0.
#   ready_guest_silent: a guest that never sends: no READY=1 at all, the ready_timeout
#     warning in vmm's log, STOPPING=1 at SIGTERM, exit 0.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

tests=(ready_guest ready_guest_silent)
require_vmm "${tests[@]}"
require_tools socat

# The receiver: one line "@UPTIME TEXT" per datagram, newlines in TEXT as '|'.
cat >"$WORKDIR/stamp.sh" <<'EOF'
#!/bin/sh
m=$(tr '\n' '|')
printf '@%s %s\n' "$(cut -d' ' -f1 /proc/uptime)" "$m"
EOF
chmod 755 "$WORKDIR/stamp.sh"

# run_one NAME ACTION TIMEOUT: boots a VM with ready = "guest" under its own receiver
# ($WORKDIR/NAME.notify), waits for the guest's VMMTEST-NOTIFY-WAITING (and, where
# WAIT_LOG is set, for that line in vmm's log), sends SIGTERM; sets RUN_RC. The console
# and vmm's log are $WORKDIR/NAME.log.
run_one() {
	local name=$1 action=$2 timeout=$3 sock=$WORKDIR/$1.sock spid
	make_config "$name" 1 "vmmtest=$action" | while IFS= read -r l; do
		printf '%s\n' "$l"
		case $l in
		shutdown_timeout*) printf 'ready = "guest"\nready_timeout = %s\n' "$timeout" ;;
		esac
	done >"$WORKDIR/$name.toml"
	printf '\n[vsock]\ncid = 3\nsocket = %s\n' "$(toml_string "$WORKDIR/$name.vsock")" \
		>>"$WORKDIR/$name.toml"
	socat -u "UNIX-RECVFROM:$sock,fork" "EXEC:$WORKDIR/stamp.sh" >"$WORKDIR/$name.notify" \
		2>"$WORKDIR/$name.socat.err" &
	spid=$!
	for _ in 1 2 3 4 5 6 7 8 9 10; do [ -S "$sock" ] && break; sleep 0.2; done
	export NOTIFY_SOCKET=$sock
	start_vmm "$WORKDIR/$name.toml" "$WORKDIR/$name.log"
	unset NOTIFY_SOCKET
	RUN_RC=0
	if ! wait_for_log "$WORKDIR/$name.log" VMMTEST-NOTIFY-WAITING "$BOOT_TIMEOUT" "$VMM_PID" ||
		{ [ -n "${WAIT_LOG-}" ] && ! wait_for_log "$WORKDIR/$name.log" "$WAIT_LOG" 60 "$VMM_PID"; }; then
		RUN_RC=timeout
		kill -KILL "$VMM_PID" 2>/dev/null || true
		wait "$VMM_PID" 2>/dev/null || true
	else
		kill -TERM "$VMM_PID"
		wait_pid "$VMM_PID" 120 || RUN_RC=$?
	fi
	sleep 0.5	# the last datagrams reach the receiver
	kill "$spid" 2>/dev/null || true
	wait "$spid" 2>/dev/null || true
}

# line_of FILE TEXT: the number of the first line of FILE whose text (after the stamp)
# is TEXT; empty when none.
line_of() {
	awk -v t="$2" '{ s = $0; sub(/^@[0-9.]* /, "", s) } s == t { print NR; exit }' "$1"
}

# stamp_of FILE LINE: that line's /proc/uptime stamp in centiseconds.
stamp_of() {
	sed -n "$2s/^@\([0-9]*\)\.\([0-9]*\) .*/\1\2/p" "$1"
}

# A datagram with the assignment READY=1 (not STATUS text that mentions it).
ready_re='^@[0-9.]* (.*[|])?READY=1([|]|$)'

# --- a guest that reports -------------------------------------------------------------
run_one ready-a notify 600
log=$WORKDIR/ready-a.log
notes=$WORKDIR/ready-a.notify
st=$(line_of "$notes" "STATUS=Guest starting")
rd=$(line_of "$notes" "READY=1|STATUS=Guest ready")
first_ready=$(grep -nE "$ready_re" "$notes" | head -n 1 | cut -d: -f1)
if [ "$RUN_RC" != 0 ]; then
	fail ready_guest "vmm exit $(describe_exit "$RUN_RC") ($(grep -m1 -E 'VMMTEST-NOTIFY-(NOTOOL|STATUS|READY)' "$log" || echo "no guest marker"))"
elif ! expect_in_log "$log" \
	"VMMTEST-NOTIFY-CRED systemd.set_credential=vmm.notify_socket:vsock-stream:2:8888"; then
	fail ready_guest "the guest's kernel command line has no vmm.notify_socket credential"
elif ! grep -q "VMMTEST-NOTIFY-READY sd-notify-vsock: sent .*; the host closed" "$log"; then
	fail ready_guest "the guest's READY=1 did not go out: $(grep -m1 VMMTEST-NOTIFY-READY "$log")"
elif [ -z "$st" ] || [ -z "$rd" ]; then
	fail ready_guest "vmm relayed STATUS line ${st:-none}, READY line ${rd:-none}: $(tr '\n' ' ' <"$notes")"
elif [ "$first_ready" != "$rd" ] || [ "$rd" -le "$st" ]; then
	fail ready_guest "READY=1 reached the service manager before the guest's message: $(tr '\n' ' ' <"$notes")"
elif [ $(($(stamp_of "$notes" "$rd") - $(stamp_of "$notes" "$st"))) -lt 200 ]; then
	fail ready_guest "READY=1 came less than 2 s after the guest's STATUS (it waits 3 s): $(tr '\n' ' ' <"$notes")"
elif grep -q X_VMMTEST "$notes"; then
	fail ready_guest "vmm relayed an assignment other than READY=1, STATUS=, STOPPING=1"
elif ! sed -n "$((rd + 1)),\$p" "$notes" | grep -q '^@[0-9.]* STOPPING=1|STATUS=Shutting down the guest'; then
	fail ready_guest "no STOPPING=1 from vmm after SIGTERM: $(tr '\n' ' ' <"$notes")"
elif [ "$(line_of "$notes" "STOPPING=1")" = "" ]; then
	fail ready_guest "the guest's STOPPING=1 was not relayed: $(tr '\n' ' ' <"$notes")"
elif ! grep -q "boot: guest READY=1 at [0-9]* us" "$log"; then
	fail ready_guest "vmm did not log the guest's READY=1"
elif expect_in_log "$log" "no READY=1 from the guest"; then
	fail ready_guest "vmm logged the ready_timeout warning although the guest was ready"
else
	pass ready_guest
	echo "METRIC ready_guest_status_to_ready_cs $(($(stamp_of "$notes" "$rd") - $(stamp_of "$notes" "$st")))"
fi

# --- a guest that never reports ------------------------------------------------------
WAIT_LOG="guest readiness: no READY=1 from the guest within 5 s" run_one ready-b notify-silent 5
log=$WORKDIR/ready-b.log
notes=$WORKDIR/ready-b.notify
if [ "$RUN_RC" = timeout ]; then
	if expect_in_log "$log" VMMTEST-NOTIFY-WAITING; then
		fail ready_guest_silent "no ready_timeout warning in vmm's log within 60 s"
	else
		fail ready_guest_silent "the guest never printed VMMTEST-NOTIFY-WAITING"
	fi
elif [ "$RUN_RC" != 0 ]; then
	fail ready_guest_silent "vmm exit $(describe_exit "$RUN_RC")"
elif grep -qE "$ready_re" "$notes"; then
	fail ready_guest_silent "READY=1 reached the service manager without the guest's: $(tr '\n' ' ' <"$notes")"
elif ! grep -q '^@[0-9.]* STOPPING=1|STATUS=Shutting down the guest' "$notes"; then
	fail ready_guest_silent "no STOPPING=1 from vmm after SIGTERM: $(tr '\n' ' ' <"$notes")"
elif [ "$(grep -c 'no READY=1 from the guest' "$log")" != 1 ]; then
	fail ready_guest_silent "the ready_timeout warning is not logged exactly once"
else
	pass ready_guest_silent
fi
