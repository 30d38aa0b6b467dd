#!/bin/bash
# smoke: the smoke scripts (tests/smoke/run.sh, ops.sh, seccomp.sh: the tiny guest, no
# Linux) on a real KVM. meson runs them on this machine's own /dev/kvm; where that is
# missing or kvm_pvm they skip there, and run here instead: inside the test host, as
# root, against the same build's vmm, vmm-seccomp-test and smoke-guest.elf.
# Each of their "PASS name" / "FAIL name: why" / "SKIP what: why" lines becomes a
# "TEST smoke_SCRIPT_name" line; a script that ends without its closing line, or
# skips as a whole, fails.
#
# Environment (set by tests/testhost/run):
#   SMOKE_DIR          the smoke scripts and their lib.sh (test host: /opt/vmmtest/smoke)
#   SMOKE_GUEST        smoke-guest.elf (BUILD/tests/smoke), or empty
#   VMM_SECCOMP_TEST   vmm-seccomp-test (BUILD/tests/smoke), or empty
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_vmm smoke_run smoke_ops smoke_seccomp
SMOKE_DIR=${SMOKE_DIR-}
SMOKE_GUEST=${SMOKE_GUEST-}
VMM_SECCOMP_TEST=${VMM_SECCOMP_TEST-}
if [ -z "$SMOKE_DIR" ] || [ -z "$SMOKE_GUEST" ] || [ -z "$VMM_SECCOMP_TEST" ]; then
	for n in smoke_run smoke_ops smoke_seccomp; do
		skip "$n" "no smoke-guest.elf and vmm-seccomp-test next to --vmm (BUILD/tests/smoke; x86_64 builds only)"
	done
	exit 0
fi

# slug TEXT: a TEST name part, the same from run to run: without (...), where the
# scripts put counts; lower case, runs of other characters as one _, at most 60 characters.
slug() {
	printf '%s' "$1" | sed 's/([^)]*)//g' | tr '[:upper:]' '[:lower:]' | tr -c 'a-z0-9' '_' | tr -s '_' |
		sed 's/^_//; s/_$//' | cut -c1-60 | sed 's/_$//'
}

# smoke SCRIPT ARGS...: runs tests/smoke/SCRIPT.sh, its output to WORKDIR/SCRIPT.log,
# and prints a TEST line for each of its PASS, FAIL and SKIP lines.
smoke() {
	local script=$1 log=$WORKDIR/$1.log rc=0 line what why n_pass n_fail n_skip whole=0
	shift
	echo "--- tests/smoke/$script.sh $*"
	# Sockets and scratch files in this test's directory (as meson's VMM_RUNTIME_DIR
	# does for run.sh; ops.sh and seccomp.sh set their own).
	mkdir -p "$WORKDIR/$script.tmp" "$WORKDIR/$script.run"
	TMPDIR=$WORKDIR/$script.tmp VMM_RUNTIME_DIR=$WORKDIR/$script.run \
		bash "$SMOKE_DIR/$script.sh" "$@" </dev/null >"$log" 2>&1 || rc=$?
	n_pass=0 n_fail=0 n_skip=0
	# (A file, not <(...): the test host has no /dev/fd.)
	tr -d '\r' <"$log" >"$WORKDIR/$script.lines"
	while IFS= read -r line; do
		case $line in
		"PASS "*)
			pass "smoke_${script}_$(slug "${line#PASS }")"
			n_pass=$((n_pass + 1))
			;;
		"FAIL "*)
			what=${line#FAIL }
			fail "smoke_${script}_$(slug "${what%%: *}")" "${what#*: }"
			n_fail=$((n_fail + 1))
			;;
		"SKIP: "*)
			# The script skipped as a whole (exit 77): here, where KVM works, a failure.
			fail "smoke_$script" "skipped where it must run: ${line#SKIP: }"
			n_fail=$((n_fail + 1))
			whole=1
			;;
		"SKIP "*)
			what=${line#SKIP }
			why=${what#*: }
			skip "smoke_${script}_$(slug "${what%%: *}")" "$why"
			n_skip=$((n_skip + 1))
			;;
		esac
	done <"$WORKDIR/$script.lines"
	echo "--- tests/smoke/$script.sh: exit $rc, $n_pass passed, $n_fail failed, $n_skip skipped"
	if [ "$rc" != 0 ] && [ "$n_fail" = 0 ]; then
		fail "smoke_$script" "exit $rc without a FAIL line: $(tail -n 3 "$log" | tr '\n' ' ')"
	elif [ "$n_pass" = 0 ] && [ "$n_fail" = 0 ]; then
		fail "smoke_$script" "no PASS line: $(tail -n 3 "$log" | tr '\n' ' ')"
	elif [ "$whole" = 0 ] && ! grep -q '^[a-z]*: [0-9]* passed, [0-9]* failed$' "$log"; then
		fail "smoke_$script" "no closing line (the script ended early): $(tail -n 3 "$log" | tr '\n' ' ')"
	fi
	# run-tests prints the end of WORKDIR/*.log of a failed test.
	grep '^[a-z]*: [0-9]* passed, [0-9]* failed$' "$log" || true
}

smoke run "$VMM" "$SMOKE_GUEST"
smoke ops "$VMM" "$SMOKE_GUEST"
smoke seccomp "$VMM" "$VMM_SECCOMP_TEST" "$SMOKE_GUEST"
