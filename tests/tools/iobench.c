/* iobench: the guest-side block benchmark of the integration tests, static so
 * it runs in the busybox guest. O_DIRECT, one request at a time (queue depth
 * 1, like fio's psync engine at iodepth=1), timed with CLOCK_MONOTONIC.
 *
 *   iobench randread DEV BLOCKSIZE SECONDS   -> "IOBENCH randread bs=4096 ios=N seconds=S iops=I"
 *   iobench seqread  DEV BLOCKSIZE           -> "IOBENCH seqread bs=1048576 bytes=B seconds=S mbps=M"
 *   iobench seqwrite DEV BLOCKSIZE           -> same for writes (overwrites DEV!)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/fs.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

int main(int argc, char **argv)
{
	const char *mode, *dev;
	uint64_t size = 0, blocks, ops = 0, bytes = 0, seed = 0x9e3779b97f4a7c15ULL;
	size_t bs;
	double t0, t1, limit = 0;
	void *buf;
	int fd, wr;

	if (argc < 4) {
		fprintf(stderr, "usage: iobench randread|seqread|seqwrite DEV BLOCKSIZE [SECONDS]\n");
		return 2;
	}
	mode = argv[1];
	dev = argv[2];
	bs = strtoul(argv[3], NULL, 0);
	if (argc > 4)
		limit = atof(argv[4]);
	wr = !strcmp(mode, "seqwrite");
	if (bs == 0 || bs % 512 || (strcmp(mode, "randread") && strcmp(mode, "seqread") && !wr)) {
		fprintf(stderr, "iobench: bad mode or block size\n");
		return 2;
	}
	fd = open(dev, (wr ? O_RDWR : O_RDONLY) | O_DIRECT);
	if (fd >= 0 && ioctl(fd, BLKGETSIZE64, &size) < 0) {
		struct stat st;	/* a plain file, for trying it on the host */

		size = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	}
	if (fd < 0 || size < bs) {
		fprintf(stderr, "iobench: %s: %s\n", dev, strerror(errno));
		return 1;
	}
	if (posix_memalign(&buf, 4096, bs))
		return 1;
	memset(buf, 0x5a, bs);
	blocks = size / bs;

	t0 = now();
	if (!strcmp(mode, "randread")) {
		if (limit <= 0)
			limit = 5;
		do {
			for (int i = 0; i < 64; i++) {
				off_t off = (off_t)(xorshift(&seed) % blocks * bs);

				if (pread(fd, buf, bs, off) != (ssize_t)bs) {
					perror("iobench: pread");
					return 1;
				}
				ops++;
			}
			t1 = now();
		} while (t1 - t0 < limit);
		printf("IOBENCH randread bs=%zu ios=%llu seconds=%.3f iops=%.0f\n", bs,
		       (unsigned long long)ops, t1 - t0, (double)ops / (t1 - t0));
		return 0;
	}
	for (uint64_t b = 0; b < blocks; b++) {
		ssize_t r = wr ? pwrite(fd, buf, bs, (off_t)(b * bs))
			       : pread(fd, buf, bs, (off_t)(b * bs));

		if (r != (ssize_t)bs) {
			perror("iobench: transfer");
			return 1;
		}
		bytes += bs;
	}
	if (wr && fdatasync(fd) < 0) {
		perror("iobench: fdatasync");
		return 1;
	}
	t1 = now();
	printf("IOBENCH %s bs=%zu bytes=%llu seconds=%.3f mbps=%.1f\n", mode, bs,
	       (unsigned long long)bytes, t1 - t0, (double)bytes / (t1 - t0) / 1e6);
	return 0;
}
