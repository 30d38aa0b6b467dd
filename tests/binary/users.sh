#!/usr/bin/env bash
# The vmm binary as built (static by default: meson option `static`) on this
# machine, without KVM: [vm] user and group names that /etc/passwd and
# /etc/group lack are configuration errors (exit 1, a message naming the
# file), never a crash. A static glibc's getpwnam crashed here on Debian 12
# (nsswitch.conf "files systemd": it dlopen()ed libnss_systemd.so.2).
# Also says how the binary is linked, as `file` sees it.
# Usage: users.sh VMM
set -uo pipefail
VMM=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pass=0
fail=0
ok() { echo "ok: $1"; pass=$((pass + 1)); }
bad() { echo "FAIL: $1: $2"; fail=$((fail + 1)); }

: > "$work/kernel"
run() { # NAME [vm] LINES: runs vmm on a config with them; sets $rc
	printf '[vm]\nname = "users-%s"\nmemory_mib = 64\ncontrol_socket = ""\n%s\n[boot]\nkernel = "%s"\n' \
		"$1" "$2" "$work/kernel" > "$work/$1.toml"
	timeout 10 "$VMM" --config "$work/$1.toml" > /dev/null 2> "$work/$1.err"
	rc=$?
}

command -v file > /dev/null && echo "vmm: $(file -b "$VMM" | cut -d, -f1-4)"

run user 'user = "vmm-no-such-user"'
[ "$rc" -eq 1 ] && grep -q 'vm.user: no user "vmm-no-such-user" in /etc/passwd' "$work/user.err" &&
	ok "unknown [vm] user: exit 1, message names /etc/passwd" ||
	bad "unknown [vm] user" "exit $rc: $(cat "$work/user.err")"
run group 'group = "vmm-no-such-group"'
[ "$rc" -eq 1 ] && grep -q 'vm.group: no group "vmm-no-such-group" in /etc/group' "$work/group.err" &&
	ok "unknown [vm] group: exit 1, message names /etc/group" ||
	bad "unknown [vm] group" "exit $rc: $(cat "$work/group.err")"
# A uid no passwd line has, and no group: the guest would get no primary group.
uid=4242424
while grep -q "^[^:]*:[^:]*:$uid:" /etc/passwd; do uid=$((uid + 1)); done
run uid "user = \"$uid\""
[ "$rc" -eq 1 ] && grep -q "vm.user: uid $uid has no entry in /etc/passwd; give vm.group too" "$work/uid.err" &&
	ok "[vm] user, a uid /etc/passwd lacks, no group: exit 1" ||
	bad "[vm] user uid without entry" "exit $rc: $(cat "$work/uid.err")"

echo "users: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
