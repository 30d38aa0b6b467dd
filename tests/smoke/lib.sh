# shellcheck shell=bash
# Shared by the smoke scripts that run the tiny guest in the background
# (ops.sh, seccomp.sh): scratch directory and cleanup, PASS/FAIL counting,
# the /dev/kvm check, a config writer and a log poller. Source it after
# setting VMM and GUEST.

WORK=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
pass=0
fail=0
# Sockets go here, not to /run/vmm: tests running side by side must not meet.
export VMM_RUNTIME_DIR=$WORK/run

if [ ! -w /dev/kvm ] || [ ! -r /dev/kvm ]; then
	echo "SKIP: /dev/kvm is not usable by this user; tools/check runs these in the test host (tests/integration/smoke.sh)"
	exit 77
fi

ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }

# smoke_config NAME CMDLINE VCPUS TIMEOUT [EXTRA [vm] LINES]: $WORK/NAME.toml,
# console to $WORK/NAME.out.
smoke_config() {
	cat > "$WORK/$1.toml" <<EOT
[vm]
name = "$1"
vcpus = $3
memory_mib = 64
shutdown_timeout = $4
${5:-}

[boot]
kernel = "$GUEST"
cmdline = "$2"

[console]
mode = "file"
path = "$WORK/$1.out"
EOT
}

wait_for() { # FILE PATTERN: up to 5 s
	for _ in $(seq 50); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
