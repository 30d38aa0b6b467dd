/* libFuzzer target: the vhost-user frontend reading a hostile backend's
 * replies. The input is everything the backend sends, queued on a
 * socketpair before the frontend runs the whole device start-up and
 * shutdown sequence against it (handshake, queue count, features, memory
 * table, two rings, GET_VRING_BASE); the first byte picks the protocol
 * features we ask for. Nothing it sends may crash, hang or leak.
 *
 * Built by meson in a clang build directory set up with -Dfuzz=true
 * (docs/testing.md, "Fuzzing"); from the repository root:
 *   mkdir -p corpus-vhu && build-fuzz/tests/fuzz/fuzz_vhost_user -max_total_time=120 -max_len=4096 corpus-vhu
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "vhost_user.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int memfd = -1, evfd = -1;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vhu_region r[2] = {
		{ 0, 1 << 20, 0x7f0000000000, 0 }, { 1ULL << 32, 1 << 20, 0x7f0000100000, 1 << 20 },
	};
	struct vhost_user vu;
	int sv[2], ret;
	unsigned base;
	uint64_t n;

	if (memfd < 0) {
		log_set_level(LOG_LVL_ERR - 1);	/* quiet */
		memfd = memfd_create("fuzz", MFD_CLOEXEC);
		evfd = memfd_create("fuzz-ev", MFD_CLOEXEC);
	}
	if (size < 1 || size > 65536)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	/* The replies, then EOF: a frontend waiting for more sees the end,
	 * not the timeout. */
	if (write(sv[1], data + 1, size - 1) != (ssize_t)(size - 1)) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	shutdown(sv[1], SHUT_WR);
	vhu_init(&vu, "fuzz", sv[0]);
	vu.timeout_ms = 1;
	ret = vhu_handshake(&vu, data[0]);
	if (ret == 0 && (vu.protocol & (1ULL << VHU_PROTOCOL_F_MQ)))
		ret = vhu_get_queue_num(&vu, &n);
	if (ret == 0)
		ret = vhu_set_features(&vu, vu.features);
	if (ret == 0)
		ret = vhu_set_mem_table(&vu, r, 2, memfd);
	for (unsigned q = 0; ret == 0 && q < 2; q++) {
		ret = vhu_set_vring_num(&vu, q, 256);
		if (ret == 0)
			ret = vhu_set_vring_base(&vu, q, 0);
		if (ret == 0)
			ret = vhu_set_vring_addr(&vu, q, 0x7f0000001000, 0x7f0000003000,
						 0x7f0000002000);
		if (ret == 0)
			ret = vhu_set_vring_fd(&vu, VHU_SET_VRING_CALL, q, q ? evfd : -1);
		if (ret == 0)
			ret = vhu_set_vring_fd(&vu, VHU_SET_VRING_KICK, q, evfd);
		if (ret == 0)
			ret = vhu_set_vring_enable(&vu, q, true);
	}
	for (unsigned q = 0; ret == 0 && q < 2; q++)
		ret = vhu_get_vring_base(&vu, q, &base);
	vhu_close(&vu);
	close(sv[1]);
	return 0;
}
