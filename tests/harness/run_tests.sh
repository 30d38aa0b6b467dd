#!/bin/bash
# tests/testhost/run-tests on a fake test directory, without a VM: verdict lines, the
# count, the retry of a failing script, and the line for a script that dies after a
# failure (its later tests print nothing: the run must say so, not only count one FAIL).
set -euo pipefail
runner=$(cd "$(dirname "$0")/../testhost" && pwd)/run-tests
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/t"
bad=0
no() { echo "FAIL: $*"; bad=1; }

cat >"$work/t/a_pass.sh" <<'T'
echo "TEST a_one: PASS"
T
# Fails its first test, then dies under set -e before its second.
cat >"$work/t/b_dies.sh" <<'T'
set -e
echo "TEST b_one: FAIL on purpose"
false
echo "TEST b_two: PASS"
T
# Passes its tests, then exits non-zero: a FAIL of its own.
cat >"$work/t/c_exit.sh" <<'T'
echo "TEST c_one: PASS"
exit 3
T
: >"$work/t/lib.sh"

out=$(VMM_TEST_RETRY=0 "$runner" "$work/t" "$work/w" 2>&1) || true
grep -q '^TEST a_one: PASS' <<<"$out" || no "a passing test's line is missing"
grep -q '^TEST b_one: FAIL on purpose' <<<"$out" || no "the failing test's line is missing"
grep -q '^TEST b_dies: FAIL script exited with 1 after a failure' <<<"$out" ||
	no "a script that died after a failure is not named"
! grep -q 'b_two' <<<"$out" || no "b_two ran after set -e ended its script"
grep -q '^TEST c_exit: FAIL script exited with 3' <<<"$out" ||
	no "a script that passed its tests and exited 3 is not a failure"
grep -q '^RESULT: 2 passed, 3 failed' <<<"$out" ||
	no "the result line: $(grep RESULT <<<"$out" || echo none)"

# With the retry: the dying script runs twice and fails both times.
out=$(VMM_TEST_RETRY=1 "$runner" --filter b_dies "$work/t" "$work/w2" 2>&1) || true
grep -q '^TRY1 TEST b_one: FAIL' <<<"$out" || no "the first attempt's failure is not behind TRY1"
grep -q '^TEST b_dies: FAIL script exited with 1 after a failure' <<<"$out" ||
	no "the second attempt's death is not named"

if [ "$bad" != 0 ]; then
	printf '%s\n' "--- the last run-tests output:" "$out"
	exit 1
fi
echo "run_tests: ok"
