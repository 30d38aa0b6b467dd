#!/usr/bin/env bash
# `systemd-analyze verify` on the installed units, with ExecStart pointing at
# the binaries just built (verify insists that commands exist) and
# vmm-config-changed (default: the one beside this script).
# Usage: verify.sh UNIT_DIR VMM [NETSETUP [VMM_CONFIG_CHANGED]]
set -uo pipefail

units=$1
vmm=$(realpath "$2")
netsetup=${3:-}
changed=$(realpath "${4:-$(dirname "$0")/vmm-config-changed}")
if ! command -v systemd-analyze > /dev/null; then
	echo "SKIP: systemd-analyze is not installed (package systemd; tools/install-deps)"
	exit 77
fi
[ -n "$netsetup" ] && [ -x "$netsetup" ] && netsetup=$(realpath "$netsetup") || netsetup=/bin/true
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
units_vm1=()
for u in vmm@.service netsetup@.service vmm-config@.path vmm-config@.service; do
	units_vm1+=("$work/${u/@./@vm1.}")
	sed -e "s|^\(Exec[A-Za-z]*=\)[^ ]*/vmm |\1$vmm |" \
	    -e "s|^\(Exec[A-Za-z]*=\)[^ ]*/netsetup |\1$netsetup |" \
	    -e "s|^\(Exec[A-Za-z]*=\)[^ ]*/vmm-config-changed [^ ]*/vmm |\1$changed $vmm |" \
	    "$units/$u" > "$work/$u"
done
# verify needs a usable manager environment; where it cannot set one up
# (some containers) it fails before looking at the units.
if ! out=$(cd "$work" && SYSTEMD_LOG_LEVEL=notice systemd-analyze verify \
		"${units_vm1[@]}" 2>&1); then
	if grep -q -e "vmm@" -e "netsetup@" -e "vmm-config@" <<< "$out"; then
		echo "$out"
		echo "FAIL: systemd-analyze verify found problems in the units"
		exit 1
	fi
	echo "$out"
	echo "SKIP: systemd-analyze verify cannot run here"
	exit 77
fi
[ -n "$out" ] && echo "$out"
if grep -q -e "vmm@" -e "netsetup@" -e "vmm-config@" <<< "$out"; then
	echo "FAIL: systemd-analyze verify warns about the units"
	exit 1
fi
echo "PASS: systemd-analyze verify ${units_vm1[*]##*/}"
