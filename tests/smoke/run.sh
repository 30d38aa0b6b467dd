#!/usr/bin/env bash
# Smoke tests: vmm boots tests/smoke/guest.S on this host's /dev/kvm and we
# check what a user sees: serial output, log lines and the exit status.
# Usage: run.sh VMM SMOKE_GUEST_ELF
set -uo pipefail

VMM=$1
GUEST=$(realpath "$2")
VMM=$(realpath "$VMM")
last=none
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
pass=0
fail=0

if [ ! -w /dev/kvm ] || [ ! -r /dev/kvm ]; then
	echo "SKIP: /dev/kvm is not usable by this user; tools/check runs these in the test host (tests/integration/smoke.sh)"
	exit 77
fi

ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }

config() { # NAME CMDLINE [VCPUS] [TIMEOUT]
	cat > "$WORK/$1.toml" <<EOT
[vm]
name = "smoke-$1"
vcpus = ${3:-1}
memory_mib = 64
shutdown_timeout = ${4:-5}

[boot]
kernel = "$GUEST"
cmdline = "$2"

[console]
mode = "stdio"
EOT
}

# run NAME: runs the VM to completion; sets $rc, output in $WORK/NAME.out/.err
run() {
	last=$1
	timeout 60 "$VMM" --config "$WORK/$1.toml" > "$WORK/$1.out" 2> "$WORK/$1.err"
	rc=$?
}

expect_rc() { # NAME WANT
	if [ "$rc" -eq "$2" ]; then
		ok "$1"
	else
		bad "$1" "exit status $rc, wanted $2; stderr: $(tail -n 3 "$WORK/$last.err" 2>/dev/null | tr '\n' ' ')"
	fi
}

config poweroff "p console=ttyS0 marker-1234"
run poweroff
expect_rc poweroff 0
if grep -q "^SMOKE-START cmdline=p console=ttyS0 marker-1234$" "$WORK/poweroff.out"; then
	ok "cmdline reaches the guest through boot_params"
else
	bad "cmdline reaches the guest" "serial output: $(head -c 300 "$WORK/poweroff.out")"
fi
if grep -q "^SMOKE-E820=4" "$WORK/poweroff.out"; then
	ok "e820 table has 4 entries for 64 MiB"
else
	bad "e820 table" "$(grep E820 "$WORK/poweroff.out")"
fi
if grep -q "boot: first KVM_RUN at" "$WORK/poweroff.err" &&
   grep -q "guest powered off" "$WORK/poweroff.err"; then
	ok "log lines name the boot phase and the reason for exit"
else
	bad "log lines" "$(cat "$WORK/poweroff.err")"
fi

config smp "p" 4
run smp
expect_rc smp-4-vcpus-poweroff 0

config acpi-reset "a"
run acpi-reset
expect_rc acpi-reset 3

config kbd-reset "k"
run kbd-reset
expect_rc kbd-reset 3

config triple "t"
run triple
expect_rc triple-fault 3

config panic "x"
run panic
expect_rc pvpanic 4

# SIGTERM: the guest sees Ctrl-Alt-Del on its keyboard and powers off.
config sigterm "w"
last=sigterm
"$VMM" --config "$WORK/sigterm.toml" > "$WORK/sigterm.out" 2> "$WORK/sigterm.err" &
pid=$!
for _ in $(seq 100); do
	grep -q SMOKE-WAITING "$WORK/sigterm.out" && break
	sleep 0.1
done
kill -TERM "$pid"
wait "$pid"
rc=$?
expect_rc sigterm-graceful 0
grep -q SMOKE-CTRLALTDEL "$WORK/sigterm.out" && ok "guest received Ctrl-Alt-Del" ||
	bad "guest received Ctrl-Alt-Del" "$(cat "$WORK/sigterm.out")"

# A guest that ignores the request is stopped after shutdown_timeout.
config hang "h" 1 1
last=hang
"$VMM" --config "$WORK/hang.toml" > "$WORK/hang.out" 2> "$WORK/hang.err" &
pid=$!
for _ in $(seq 100); do
	grep -q SMOKE-E820 "$WORK/hang.out" && break
	sleep 0.1
done
kill -TERM "$pid"
wait "$pid"
rc=$?
expect_rc sigterm-timeout-forced 5

# A second signal stops at once, without waiting for the timeout.
config hang2 "h" 1 600
last=hang2
"$VMM" --config "$WORK/hang2.toml" > "$WORK/hang2.out" 2> "$WORK/hang2.err" &
pid=$!
for _ in $(seq 100); do
	grep -q SMOKE-E820 "$WORK/hang2.out" && break
	sleep 0.1
done
kill -INT "$pid"
sleep 0.3
kill -INT "$pid"
wait "$pid"
rc=$?
expect_rc second-signal-forces 5

# Command line and configuration errors.
"$VMM" --help > "$WORK/help.out" 2>&1; rc=$?
[ $rc -eq 0 ] && grep -q -- "--config" "$WORK/help.out" && ok "--help" || bad "--help" "rc=$rc"
"$VMM" --version > "$WORK/ver.out" 2>&1; rc=$?
[ $rc -eq 0 ] && grep -q "^vmm " "$WORK/ver.out" && ok "--version" || bad "--version" "rc=$rc"
"$VMM" > /dev/null 2>&1; rc=$?
[ $rc -eq 2 ] && ok "no arguments is a usage error" || bad "no arguments" "rc=$rc"
"$VMM" --bogus > /dev/null 2>&1; rc=$?
[ $rc -eq 2 ] && ok "unknown option is a usage error" || bad "unknown option" "rc=$rc"
"$VMM" --config "$WORK/missing.toml" > /dev/null 2> "$WORK/missing.err"; rc=$?
[ $rc -eq 1 ] && grep -q "missing.toml" "$WORK/missing.err" && ok "missing config file" ||
	bad "missing config file" "rc=$rc $(cat "$WORK/missing.err")"
printf '[vm]\nname = "x"\nvcpu = 2\n' > "$WORK/typo.toml"
"$VMM" --check --config "$WORK/typo.toml" > /dev/null 2> "$WORK/typo.err"; rc=$?
[ $rc -eq 1 ] && grep -q "typo.toml:3" "$WORK/typo.err" && grep -q "vcpu" "$WORK/typo.err" &&
	ok "unknown key names file:line and key" || bad "unknown key" "rc=$rc $(cat "$WORK/typo.err")"
printf 'this is not a kernel\n' > "$WORK/notkernel"
sed "s|^kernel = .*|kernel = \"$WORK/notkernel\"|" "$WORK/poweroff.toml" > "$WORK/badkernel.toml"
"$VMM" --config "$WORK/badkernel.toml" > /dev/null 2> "$WORK/badkernel.err"; rc=$?
[ $rc -eq 1 ] && grep -q "notkernel" "$WORK/badkernel.err" && ok "a file that is no kernel is refused" ||
	bad "bad kernel" "rc=$rc $(cat "$WORK/badkernel.err")"

echo "smoke: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
