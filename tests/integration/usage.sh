#!/bin/bash
# usage: an unknown command-line option is a usage error (exit 2), before any guest runs.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_vmm usage
rc=0
"$VMM" --no-such-option </dev/null >"$WORKDIR/out.log" 2>&1 || rc=$?
if [ "$rc" = "$VMM_EXIT_USAGE" ]; then
	pass usage
else
	fail usage "vmm --no-such-option: exit $(describe_exit "$rc"), expected 2"
fi
