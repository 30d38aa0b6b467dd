#!/bin/bash
# cpu_template: [cpu] template and hide change what the guest sees in /proc/cpuinfo.
# Reference run with the host template, then: hide = ["cx16"] removes exactly that flag's
# family; hide = ["xsave"] boots without XSAVE (the recipe for a KVM that cannot emulate
# xrstor) and takes AVX with it; the baseline template keeps SSE4.2 and drops what is
# newer than the baseline (BMI1/2, ADX, MOVBE, RDRAND, AVX...) when the host had it.
#
# The baseline run hides xsave too: in the QEMU TCG test host, a nested guest that really
# uses XSAVE dies at its first signal return ("bad frame in rt_sigreturn"), with QEMU's own
# `-M microvm -cpu host,-avx,...` exactly as with vmm; with every feature on, both see an
# inconsistent XSAVE size from KVM and Linux turns XSAVE off ("XSAVE consistency
# problem"), which is why the host-template runs survive. Real hardware has neither.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_vmm cpu_host cpu_hide_cx16 cpu_hide_xsave cpu_baseline

# flags_run NAME TEMPLATE HIDE_TOML_ARRAY: boots, prints nothing; sets $flags (space-padded)
# and $rc.
flags_run() {
	local name=$1 template=$2 hide=$3
	# [cpu] is the last table make_config writes.
	make_config "$name" 1 "vmmtest=cpuflags" |
		sed "s|^template = .*|template = \"$template\"|" >"$WORKDIR/$name.toml"
	echo "hide = $hide" >>"$WORKDIR/$name.toml"
	rc=0
	run_vmm "$WORKDIR/$name.toml" "$WORKDIR/$name.log" || rc=$?
	flags=" $(sed -n 's/^VMMTEST-FLAGS=//p' "$WORKDIR/$name.log" | tr -d '\r' | head -n 1) "
}
has() { case $flags in *" $1 "*) return 0 ;; esac; return 1; }

flags_run cpu_host host "[]"
host_flags=$flags
if [ "$rc" != 0 ] || ! has sse4_2 || ! has cx16; then
	fail cpu_host "exit $(describe_exit "$rc"); flags:$flags"
	exit 0
fi
pass cpu_host

flags_run cpu_hide_cx16 host '["cx16"]'
if [ "$rc" = 0 ] && ! has cx16 && has sse4_2 && has popcnt; then
	pass cpu_hide_cx16
else
	fail cpu_hide_cx16 "exit $(describe_exit "$rc"); flags:$flags"
fi

flags_run cpu_hide_xsave host '["xsave"]'
if [ "$rc" = 0 ] && ! has xsave && ! has avx && ! has avx2 && has sse4_2; then
	pass cpu_hide_xsave
else
	fail cpu_hide_xsave "exit $(describe_exit "$rc"); flags:$flags"
fi

flags_run cpu_baseline baseline '["xsave"]'
ok=1
[ "$rc" = 0 ] && has sse4_2 && has popcnt && has cx16 && has aes || ok=0
for f in avx avx2 avx512f sha_ni bmi1 bmi2 adx movbe rdrand abm sse4a; do
	case $host_flags in *" $f "*) has "$f" && ok=0 ;; esac
done
if [ $ok = 1 ]; then
	pass cpu_baseline
else
	fail cpu_baseline "exit $(describe_exit "$rc"); flags:$flags; host:$host_flags"
fi
