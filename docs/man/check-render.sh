#!/bin/sh
# Renders each man page given (built by scdoc, docs/man/meson.build) and fails
# on any warning from groff: an undefined macro, a bad escape, a line that
# cannot be broken... Skips (77) when scdoc was not found at setup (no pages
# are given then) or when neither man nor groff is installed.
set -u

if [ $# -eq 0 ]; then
	echo "SKIP: scdoc was not found at meson setup, so no man pages were built (apt-get install scdoc)"
	exit 77
fi
if command -v man >/dev/null 2>&1; then
	render() { MANWIDTH=80 MANPAGER=cat man --warnings -l "$1"; }
	how="man --warnings -l"
elif command -v groff >/dev/null 2>&1; then
	render() { groff -ww -t -man -Tutf8 "$1"; }
	how="groff -ww -t -man -Tutf8"
else
	echo "SKIP: neither man nor groff is installed"
	exit 77
fi

err=$(mktemp) || exit 1
trap 'rm -f "$err"' EXIT
bad=0
for page in "$@"; do
	if ! render "$page" >/dev/null 2>"$err"; then
		echo "FAIL: $how $page exited with an error:"
		cat "$err"
		bad=1
	elif [ -s "$err" ]; then
		echo "FAIL: $how $page warns:"
		cat "$err"
		bad=1
	else
		echo "ok: $page"
	fi
done
exit $bad
