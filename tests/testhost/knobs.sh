# shellcheck shell=bash
# The benchmark knobs both test hosts pass on (sourced by tests/testhost/run and
# run-arm64): each one set here is exported inside the test host by host-init's
# sourcing of /etc/testhost.env. See each test for what it does.
BENCH_KNOBS=(BOOT_TIME_RUNS NET_PERF_RUNS NET_PERF_MIB NET_PERF_PROFILE NET_PERF_RR NET_PERF_HOLD_OFF NET_PERF_HOLD_US VMM_FS_PERF
	VMM_NET_PERF SCALE_PERF SCALE_COUNTS SCALE_BUDGET_S SCALE_VM_TIMEOUT VMM_TEST_HUGE_PAGES
	SOAK_MINUTES SOAK_INTERVAL_S SOAK_VMS VMM_HOSTILE
	VSOCK_PERF_MIB VSOCK_PERF_RUNS VMM_VSOCK_PERF QEMU_ARM64_VIRTIO)
# net_perf.sh: the rows it runs (NET_PERF_KINDS); NET_PERF_VHOST=1: the vhost-net rows only.
BENCH_KNOBS+=(NET_PERF_VHOST NET_PERF_KINDS)
# hostile_guest.sh: its time limit, its log limit, the guest's access trace.
BENCH_KNOBS+=(HOSTILE_TIMEOUT HOSTILE_LOG_MAX HOSTILE_LOG_PER_MIN HOSTILE_TRACE HOSTILE_KVM_TRACE)
# lib.sh: [vm] virtio_transport for every guest (arm64: pci or mmio; unset, vmm chooses).
BENCH_KNOBS+=(VMM_TEST_VIRTIO_TRANSPORT)
# run-tests: 0 runs a failed test script once only.
BENCH_KNOBS+=(VMM_TEST_RETRY)

# write_knobs FILE: appends an `export NAME=value` line for each knob that is set.
write_knobs() {
	local v
	for v in "${BENCH_KNOBS[@]}"; do
		[ -z "${!v:-}" ] || echo "export $v=$(shq "${!v}")" >>"$1"
	done
}
