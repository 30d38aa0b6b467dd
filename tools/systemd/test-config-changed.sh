#!/usr/bin/env bash
# vmm-config@.service's ExecStart, as systemd would run it for an instance,
# against a config vmm --check accepts, one it rejects and one that was
# removed, with a stand-in `systemctl` on PATH that records its arguments:
# only the accepted config may lead to a restart.
# Usage: test-config-changed.sh UNIT_DIR SCRIPT VMM
set -uo pipefail

unit=$1/vmm-config@.service
script=$(realpath "$2")
vmm=$(realpath "$3")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
check() { # check DESCRIPTION COMMAND...: a named assertion
	local what=$1
	shift
	if "$@"; then echo "ok: $what"; else echo "FAIL: $what"; fail=1; fi
}

mkdir -p "$work/bin" "$work/etc"
cat > "$work/bin/systemctl" <<EOT
#!/bin/sh
echo "\$*" >> "$work/systemctl.log"
EOT
chmod +x "$work/bin/systemctl"
: > "$work/vmlinuz"
printf '[vm]\nname = "good"\nmemory_mib = 128\n\n[boot]\nkernel = "%s"\n' \
	"$work/vmlinuz" > "$work/etc/good.toml"
printf '[vm]\nname = "bad"\nmemory_mib = "lots"\n\n[boot]\nkernel = "%s"\n' \
	"$work/vmlinuz" > "$work/etc/bad.toml"

# The unit's ExecStart with the installed paths swapped for the built ones
# and the config directory for the test's.
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
[ -n "$exec_start" ] || { echo "FAIL: no ExecStart= in $unit"; exit 1; }
read -r -a argv <<< "$exec_start"
check "ExecStart runs vmm-config-changed with vmm, /etc/vmm/%i.toml and %i" \
	test "${#argv[@]}" -eq 4 -a "${argv[0]##*/}" = vmm-config-changed \
	-a "${argv[1]##*/}" = vmm -a "${argv[2]}" = /etc/vmm/%i.toml -a "${argv[3]}" = %i
run() { # run INSTANCE: ExecStart for vmm-config@INSTANCE; status, out, err
	rm -f "$work/systemctl.log"
	local a cmd=("$script" "$vmm")
	for a in "${argv[@]:2}"; do
		a=${a//%i/$1}
		cmd+=("${a/#\/etc\/vmm\//$work/etc/}")
	done
	PATH="$work/bin:$PATH" "${cmd[@]}" > "$work/out" 2> "$work/err"
	status=$?
	cat "$work/out" "$work/err"
}
restarts() { cat "$work/systemctl.log" 2>/dev/null; }

run good
check "accepted config: exit 0" test "$status" -eq 0
check "accepted config: exactly one systemctl call, try-restart of netsetup@good and vmm@good" \
	test "$(restarts)" = "try-restart netsetup@good.service vmm@good.service"
check "accepted config: says it restarts" grep -q "vmm --check accepts it: restarting" "$work/out"

run bad
check "rejected config: exit status 1" test "$status" -eq 1
check "rejected config: no systemctl call" test -z "$(restarts)"
check "rejected config: vmm --check's error names FILE:LINE: KEY" \
	grep -q "bad.toml:3: vm.memory_mib: expected an integer" "$work/err"
check "rejected config: says the VM is not restarted" \
	grep -q "vmm@bad.service is not restarted" "$work/err"

run removed
check "removed config: exit status 1" test "$status" -eq 1
check "removed config: no systemctl call" test -z "$(restarts)"
check "removed config: says it cannot open it" grep -q "removed.toml: cannot open config" "$work/err"

if [ $fail -ne 0 ]; then
	echo "FAIL: vmm-config-changed"
	exit 1
fi
echo "PASS: vmm-config-changed restarts on an accepted config only"
