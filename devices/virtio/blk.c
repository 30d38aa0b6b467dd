/* virtio-blk: request parsing against a hostile driver, and execution on a
 * raw image through io_uring. Every request is checked whole before any
 * I/O: layout (header, data, status byte), length, sector range, type,
 * read-only; a bad one completes at once with IOERR or UNSUPP. */
#include "virtio/blk.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "iothread.h"
#include "disk_image.h"
#include "log.h"
#include "safe_open.h"

#define BLK_MAX_IOV	(BLK_SEG_MAX + 2)	/* header/status may share a buffer */
/* The request header, and each DISCARD / WRITE_ZEROES range after it. */
#define HDR_LEN		sizeof(struct virtio_blk_outhdr)
#define SEG_LEN		sizeof(struct virtio_blk_discard_write_zeroes)
_Static_assert(HDR_LEN == 16 && SEG_LEN == 16, "virtio-blk request layout");

struct blk_seg {
	uint64_t off, len;
	int mode;		/* fallocate mode */
};

/* One request in flight, indexed by its chain head. */
struct blk_req {
	bool busy;
	uint32_t gen;		/* bumped per request: stale completions are dropped */
	uint16_t head;
	uint32_t type;
	uint8_t *status;	/* host pointer to the status byte */
	uint8_t result;		/* VIRTIO_BLK_S_* so far */
	uint32_t written;	/* used length when it completes */
	unsigned pending;	/* io_uring operations outstanding */
	uint64_t off, len;	/* IN / OUT: bytes */
	unsigned niov;
	struct iovec iov[BLK_MAX_IOV];
	unsigned nseg;
	struct blk_seg seg[BLK_MAX_DISCARD_SEG];
};

struct blk {
	struct virtio_dev vd;
	char name[32];
	char *path;
	int fd;
	bool read_only;
	uint64_t capacity;		/* 512-byte sectors */
	char serial[VIRTIO_BLK_ID_BYTES];
	struct virtio_blk_config config;	/* little-endian, as the guest reads it */

	bool uring;			/* else synchronous */
	struct io_uring ring;
	int ring_efd;
	unsigned inflight;		/* requests with pending > 0 */
	unsigned queued;		/* SQEs not yet submitted */
	bool warned;

	struct virtq_chain chain;
	struct blk_req req[BLK_QUEUE_SIZE];
};

/* One warning per device for driver mistakes: a guest must not be able to
 * flood the log. */
static void guest_error(struct blk *b, const char *why)
{
	if (b->warned)
		return;
	b->warned = true;
	log_warn("%s: bad request from the driver: %s (further ones not logged)",
		 b->name, why);
}

/* ---- parsing ---- */

static bool range_ok(const struct blk *b, uint64_t sector, uint64_t nsec)
{
	return sector <= b->capacity && nsec <= b->capacity - sector;
}

static uint8_t parse_segments(struct blk *b, const struct virtq_chain *c,
			      struct blk_req *r)
{
	uint64_t bytes = c->read_bytes - HDR_LEN;
	bool discard = r->type == VIRTIO_BLK_T_DISCARD;

	if (b->read_only)
		return VIRTIO_BLK_S_IOERR;
	if (bytes == 0 || bytes % SEG_LEN || bytes / SEG_LEN > BLK_MAX_DISCARD_SEG) {
		guest_error(b, "discard/write-zeroes segment list");
		return VIRTIO_BLK_S_IOERR;
	}
	r->nseg = (unsigned)(bytes / SEG_LEN);
	for (unsigned i = 0; i < r->nseg; i++) {
		struct virtio_blk_discard_write_zeroes s;
		uint64_t sector;
		uint32_t num, flags;

		virtq_chain_read(c, HDR_LEN + SEG_LEN * i, &s, sizeof(s));
		sector = le64toh(s.sector);
		num = le32toh(s.num_sectors);
		flags = le32toh(s.flags);
		if ((flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) || (discard && flags))
			return VIRTIO_BLK_S_UNSUPP;	/* spec 5.2.6.2 */
		if (num == 0 || num > BLK_MAX_DISCARD_SECTORS || !range_ok(b, sector, num)) {
			guest_error(b, "discard/write-zeroes range");
			return VIRTIO_BLK_S_IOERR;
		}
		r->seg[i].off = sector * VIRTIO_BLK_SECTOR;
		r->seg[i].len = (uint64_t)num * VIRTIO_BLK_SECTOR;
		/* Discarding and zeroing with unmap both punch a hole, which
		 * reads back as zeros; plain write-zeroes keeps the blocks. */
		r->seg[i].mode = FALLOC_FL_KEEP_SIZE |
				 (discard || flags ? FALLOC_FL_PUNCH_HOLE : FALLOC_FL_ZERO_RANGE);
	}
	return VIRTIO_BLK_S_OK;
}

/*
 * Fills *r from a popped chain. Returns false when the chain has no status
 * byte to answer in (the request is dropped). Otherwise r->result is
 * VIRTIO_BLK_S_OK with r->pending operations to run, or the final status.
 */
static bool parse(struct blk *b, const struct virtq_chain *c, struct blk_req *r)
{
	const struct virtq_iov *last = c->nwrite ? &c->iov[c->n - 1] : NULL;
	struct virtio_blk_outhdr hdr;
	uint64_t sector;
	int n;

	r->head = c->head;
	r->pending = 0;
	r->nseg = 0;
	r->niov = 0;
	r->written = 1;
	r->result = VIRTIO_BLK_S_IOERR;
	if (!last) {
		guest_error(b, "no device-writable status byte");
		return false;
	}
	r->status = (uint8_t *)last->hva + last->len - 1;
	if (virtq_chain_read(c, 0, &hdr, HDR_LEN) != HDR_LEN) {
		guest_error(b, "request header shorter than 16 bytes");
		return true;
	}
	r->type = le32toh(hdr.type);
	sector = le64toh(hdr.sector);	/* ioprio is ignored */

	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT: {
		bool in = r->type == VIRTIO_BLK_T_IN;
		uint64_t len = in ? c->write_bytes - 1 : c->read_bytes - HDR_LEN;

		if (!in && b->read_only)
			return true;
		if (len % VIRTIO_BLK_SECTOR || !range_ok(b, sector, len / VIRTIO_BLK_SECTOR)) {
			guest_error(b, "data length or sector range");
			return true;
		}
		n = virtq_chain_iov(c, in, in ? 0 : HDR_LEN, len, r->iov, BLK_MAX_IOV, NULL);
		if (n < 0) {
			guest_error(b, "more data buffers than seg_max");
			return true;
		}
		r->niov = (unsigned)n;
		r->off = sector * VIRTIO_BLK_SECTOR;
		r->len = len;
		r->written = in ? (uint32_t)len + 1 : 1;
		r->pending = len ? 1 : 0;
		break;
	}
	case VIRTIO_BLK_T_FLUSH:
		r->pending = 1;
		break;
	case VIRTIO_BLK_T_GET_ID: {
		uint32_t room = c->write_bytes - 1 < VIRTIO_BLK_ID_BYTES ?
				(uint32_t)c->write_bytes - 1 : VIRTIO_BLK_ID_BYTES;

		virtq_chain_write(c, 0, b->serial, room);
		r->written = room + 1;
		break;
	}
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		r->result = parse_segments(b, c, r);
		if (r->result != VIRTIO_BLK_S_OK)
			return true;
		r->pending = r->nseg;
		break;
	default:
		r->result = VIRTIO_BLK_S_UNSUPP;
		return true;
	}
	r->result = VIRTIO_BLK_S_OK;
	return true;
}

/* ---- execution ---- */

/* tmpfs and others cannot zero a range in place: punch a hole and
 * allocate it again, which reads the same. */
static int zero_fallback(int fd, const struct blk_seg *s)
{
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)s->off, (off_t)s->len) < 0 ||
	    fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)s->off, (off_t)s->len) < 0)
		return -errno;
	return 0;
}

/* Folds one operation's result (bytes or -errno) into the request. */
static void op_done(struct blk *b, struct blk_req *r, unsigned seg, int64_t res)
{
	if (res == -EOPNOTSUPP && r->type == VIRTIO_BLK_T_DISCARD)
		res = 0;	/* discard is a hint */
	if (res == -EOPNOTSUPP && r->type == VIRTIO_BLK_T_WRITE_ZEROES &&
	    seg < r->nseg && (r->seg[seg].mode & FALLOC_FL_ZERO_RANGE))
		res = zero_fallback(b->fd, &r->seg[seg]);
	if (res < 0 || ((r->type == VIRTIO_BLK_T_IN || r->type == VIRTIO_BLK_T_OUT) &&
			(uint64_t)res != r->len)) {
		if (r->result == VIRTIO_BLK_S_OK)
			log_warn_limited("%s: %s: type %u request failed: %s", b->name, b->path,
				 r->type, res < 0 ? strerror((int)-res) : "short transfer");
		r->result = VIRTIO_BLK_S_IOERR;
	}
	r->pending--;
}

static void exec_sync(struct blk *b, struct blk_req *r)
{
	ssize_t res;

	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		do {
			if (r->type == VIRTIO_BLK_T_IN)
				res = preadv(b->fd, r->iov, (int)r->niov, (off_t)r->off);
			else
				res = pwritev(b->fd, r->iov, (int)r->niov, (off_t)r->off);
		} while (res < 0 && errno == EINTR);
		op_done(b, r, 0, res < 0 ? -errno : res);
		break;
	case VIRTIO_BLK_T_FLUSH:
		op_done(b, r, 0, fdatasync(b->fd) < 0 ? -errno : 0);
		break;
	default:
		for (unsigned i = 0; i < r->nseg; i++)
			op_done(b, r, i, fallocate(b->fd, r->seg[i].mode, (off_t)r->seg[i].off,
						   (off_t)r->seg[i].len) < 0 ? -errno : 0);
		break;
	}
}

static struct io_uring_sqe *get_sqe(struct blk *b)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&b->ring);

	if (!sqe) {
		io_uring_submit(&b->ring);
		b->queued = 0;
		sqe = io_uring_get_sqe(&b->ring);
	}
	return sqe;
}

/* user_data: gen << 32 | head << 8 | segment. */
static bool queue_uring(struct blk *b, struct blk_req *r)
{
	for (unsigned i = 0; i < r->pending; i++) {
		struct io_uring_sqe *sqe = get_sqe(b);

		if (!sqe)
			return false;
		switch (r->type) {
		case VIRTIO_BLK_T_IN:
			io_uring_prep_readv(sqe, b->fd, r->iov, r->niov, r->off);
			break;
		case VIRTIO_BLK_T_OUT:
			io_uring_prep_writev(sqe, b->fd, r->iov, r->niov, r->off);
			break;
		case VIRTIO_BLK_T_FLUSH:
			io_uring_prep_fsync(sqe, b->fd, IORING_FSYNC_DATASYNC);
			break;
		default:
			io_uring_prep_fallocate(sqe, b->fd, r->seg[i].mode,
						r->seg[i].off, r->seg[i].len);
			break;
		}
		io_uring_sqe_set_data64(sqe, (uint64_t)r->gen << 32 | (uint64_t)r->head << 8 | i);
		b->queued++;
	}
	return true;
}

static void complete(struct blk *b, struct blk_req *r)
{
	*r->status = r->result;
	r->busy = false;
	if (virtq_push(&b->vd.vq[0], r->head, r->written) < 0)
		virtio_dev_needs_reset(&b->vd);
}

/* Reaps every available completion; with `discard`, results are dropped
 * (device reset). Returns whether a request completed. */
static bool reap(struct blk *b, bool discard)
{
	struct io_uring_cqe *cqe;
	bool any = false;

	while (io_uring_peek_cqe(&b->ring, &cqe) == 0) {
		uint64_t ud = io_uring_cqe_get_data64(cqe);
		struct blk_req *r = &b->req[((ud >> 8) & 0xffff) % BLK_QUEUE_SIZE];
		int res = cqe->res;

		io_uring_cqe_seen(&b->ring, cqe);
		/* A completion of an earlier request in this slot is never
		 * credited to the one there now. */
		if (!r->busy || !r->pending || (uint32_t)(ud >> 32) != r->gen)
			continue;
		op_done(b, r, (unsigned)(ud & 0xff), res);
		if (r->pending)
			continue;
		b->inflight--;
		if (discard)
			r->busy = false;
		else
			complete(b, r);
		any = true;
	}
	return any;
}

static void uring_event(void *opaque, uint32_t events)
{
	struct blk *b = opaque;
	uint64_t v;

	if (read(b->ring_efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&b->vd.lock);
	if (reap(b, false))
		virtio_dev_used(&b->vd, 0);
	pthread_mutex_unlock(&b->vd.lock);
}

/* ---- virtio device ---- */

/* One kick's state for blk_one. */
struct bkick {
	struct blk *b;
	struct virtq *q;
	bool done;		/* a request completed: the driver is told */
};

static int blk_one(struct virtq_chain *c, void *opaque)
{
	struct bkick *k = opaque;
	struct blk *b = k->b;
	struct blk_req *r = &b->req[c->head];

	/* head < q->size <= BLK_QUEUE_SIZE: checked by virtq. */
	if (r->busy) {
		guest_error(b, "a chain in flight was made available again");
		return -EIO;
	}
	if (!parse(b, c, r)) {
		k->done = true;
		return virtq_push(k->q, c->head, 0) < 0 ? -EIO : 0;
	}
	r->busy = true;
	r->gen++;
	if (r->result == VIRTIO_BLK_S_OK && r->pending && b->uring) {
		if (queue_uring(b, r)) {
			b->inflight++;
			return 0;
		}
		r->result = VIRTIO_BLK_S_IOERR;
	} else if (r->result == VIRTIO_BLK_S_OK && r->pending) {
		exec_sync(b, r);
	}
	complete(b, r);
	k->done = true;
	return 0;
}

static void blk_notify(struct virtio_dev *vd, unsigned qi)
{
	struct bkick k = { vd->priv, &vd->vq[qi], false };
	struct blk *b = k.b;
	int ret = virtq_drain(k.q, &b->chain, blk_one, &k);

	/* The whole kick's requests in one system call. */
	if (b->queued) {
		io_uring_submit(&b->ring);
		b->queued = 0;
	}
	if (ret < 0) {
		virtio_dev_needs_reset(vd);
		return;
	}
	if (k.done)
		virtio_dev_used(vd, qi);
}

static void blk_reset(struct virtio_dev *vd)
{
	struct blk *b = vd->priv;

	/* Requests in flight write into guest memory the driver is about to
	 * reuse (or that is unmapped at VM stop): wait for every one of them,
	 * and answer none. A vCPU thread gets here with the kick signal
	 * unblocked and installed without SA_RESTART: the wait returns -EINTR
	 * then, which is no reason to stop waiting. */
	while (b->uring && b->inflight) {
		struct io_uring_cqe *cqe;
		int ret = io_uring_wait_cqe(&b->ring, &cqe);

		if (ret == -EINTR || ret == -EAGAIN || ret == -ETIME)
			continue;
		if (ret < 0) {
			/* The ring itself is broken: keep the slots busy, so
			 * that the driver cannot have them back; it sees
			 * NEEDS_RESET when it tries. */
			log_err("%s: waiting for %u request(s) in flight at reset: %s", b->name,
				b->inflight, strerror(-ret));
			return;
		}
		reap(b, true);
	}
	for (unsigned i = 0; i < BLK_QUEUE_SIZE; i++)
		b->req[i].busy = false;
	b->inflight = 0;
}

static uint64_t blk_features(struct virtio_dev *vd)
{
	struct blk *b = vd->priv;
	uint64_t f = 1ULL << VIRTIO_BLK_F_SEG_MAX | 1ULL << VIRTIO_BLK_F_BLK_SIZE |
		     1ULL << VIRTIO_BLK_F_FLUSH | 1ULL << VIRTIO_RING_F_INDIRECT_DESC |
		     1ULL << VIRTIO_RING_F_EVENT_IDX;

	if (b->read_only)
		f |= 1ULL << VIRTIO_BLK_F_RO;
	else
		f |= 1ULL << VIRTIO_BLK_F_DISCARD | 1ULL << VIRTIO_BLK_F_WRITE_ZEROES;
	return f;
}

static void blk_config_read(struct virtio_dev *vd, uint32_t off, uint8_t *data,
			    uint32_t len)
{
	struct blk *b = vd->priv;

	memcpy(data, (const uint8_t *)&b->config + off, len);	/* off + len <= config_size */
}

static const struct virtio_dev_ops blk_ops = {
	.features = blk_features,
	.config_read = blk_config_read,
	.reset = blk_reset,
	.queue_notify = blk_notify,
};

/* ---- the image ---- */

static int open_image(struct blk *b, const struct disk_config *dc)
{
	int flags = O_CLOEXEC | O_NOCTTY | (dc->read_only ? O_RDONLY : O_RDWR) |
		    (dc->direct ? O_DIRECT : 0);
	struct flock lk = { .l_type = dc->read_only ? F_RDLCK : F_WRLCK,
			    .l_whence = SEEK_SET };
	struct stat st;

	b->fd = safe_open(dc->path, flags, 0);
	if (b->fd < 0 && errno == ENOENT && dc->size_mib) {
		/* O_EXCL: a file that appeared meanwhile is opened, not clobbered. */
		b->fd = open(dc->path, flags | O_CREAT | O_EXCL, 0600);
		if (b->fd >= 0) {
			int ret = disk_image_init(dc, b->fd, b->name);

			if (ret < 0) {
				b->fd = -1;	/* closed, and the file removed */
				return ret;
			}
		} else if (errno == EEXIST) {
			b->fd = safe_open(dc->path, flags, 0);
		}
	}
	if (b->fd < 0) {
		int e = errno;

		if (e == EINVAL && dc->direct)
			log_err("%s: %s: the file system does not support O_DIRECT "
				"(direct = true); set direct = false", b->name, dc->path);
		else
			log_err("%s: cannot open image %s%s: %s", b->name, dc->path,
				dc->read_only ? " read-only" : " read-write", strerror(e));
		return -e;
	}
	if (fstat(b->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		log_err("%s: %s is not a regular file", b->name, dc->path);
		return -EINVAL;
	}
	if (fcntl(b->fd, F_OFD_SETLK, &lk) < 0) {
		int e = errno;

		if (e == EAGAIN || e == EACCES)
			log_err("%s: image %s is in use by another process (it holds a "
				"conflicting lock); two VMs must not share a writable image",
				b->name, dc->path);
		else
			log_err("%s: locking %s: %s", b->name, dc->path, strerror(e));
		return -(e == EACCES ? EAGAIN : e);
	}
	if (st.st_size < VIRTIO_BLK_SECTOR) {
		log_err("%s: image %s is smaller than one 512-byte sector", b->name,
			dc->path);
		return -EINVAL;
	}
	if (st.st_size % VIRTIO_BLK_SECTOR)
		log_warn("%s: image %s: the last %lld bytes (a partial sector) are "
			 "not visible to the guest", b->name, dc->path,
			 (long long)(st.st_size % VIRTIO_BLK_SECTOR));
	b->capacity = (uint64_t)st.st_size / VIRTIO_BLK_SECTOR;
	return 0;
}

static int setup_uring(struct blk *b, struct iothread *io)
{
	int ret = io_uring_queue_init(BLK_QUEUE_SIZE, &b->ring, 0);

	if (ret < 0) {
		log_err("%s: io_uring_queue_init: %s (is io_uring disabled on this "
			"host? see sysctl kernel.io_uring_disabled)", b->name, strerror(-ret));
		return ret;
	}
	b->uring = true;
	b->ring_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (b->ring_efd < 0)
		return -errno;
	ret = io_uring_register_eventfd(&b->ring, b->ring_efd);
	if (ret == 0)
		ret = iothread_add(io, b->ring_efd, uring_event, b);
	if (ret < 0)
		log_err("%s: io_uring completion notification: %s", b->name, strerror(-ret));
	return ret;
}

static void fill_config(struct blk *b)
{
	b->config = (struct virtio_blk_config){
		.capacity = htole64(b->capacity),
		.seg_max = htole32(BLK_SEG_MAX),
		.blk_size = htole32(VIRTIO_BLK_SECTOR),
		.num_queues = htole16(1),
		.max_discard_sectors = htole32(BLK_MAX_DISCARD_SECTORS),
		.max_discard_seg = htole32(BLK_MAX_DISCARD_SEG),
		.discard_sector_alignment = htole32(1),
		.max_write_zeroes_sectors = htole32(BLK_MAX_DISCARD_SECTORS),
		.max_write_zeroes_seg = htole32(BLK_MAX_DISCARD_SEG),
		.write_zeroes_may_unmap = 1,
	};
}

void virtio_blk_free(void *opaque)
{
	struct virtio_dev *vd = opaque;
	struct blk *b;

	if (!vd)
		return;
	b = vd->priv;
	if (b->uring) {
		blk_reset(vd);
		io_uring_queue_exit(&b->ring);
	}
	if (b->ring_efd >= 0)
		close(b->ring_efd);
	if (b->fd >= 0)
		close(b->fd);
	free(b->path);
	free(b);
}

int virtio_blk_new(const struct disk_config *dc, unsigned index,
		   struct iothread *io, struct virtio_dev **out)
{
	struct blk *b = calloc(1, sizeof(*b));
	int ret;

	*out = NULL;
	if (!b)
		return -ENOMEM;
	b->fd = b->ring_efd = -1;
	snprintf(b->name, sizeof(b->name), "virtio-blk %u", index);
	b->path = strdup(dc->path);
	b->read_only = dc->read_only;
	/* GET_ID: up to 20 bytes, NUL-padded. */
	memcpy(b->serial, dc->serial, strnlen(dc->serial, sizeof(b->serial)));
	b->vd = (struct virtio_dev){
		.name = b->name, .id = VIRTIO_ID_BLOCK, .nqueues = 1,
		.queue_max = BLK_QUEUE_SIZE, .config_size = BLK_CFG_SIZE,
		.ops = &blk_ops, .priv = b,
	};
	ret = b->path ? open_image(b, dc) : -ENOMEM;
	if (ret == 0 && io)
		ret = setup_uring(b, io);
	if (ret < 0) {
		virtio_blk_free(&b->vd);
		return ret;
	}
	fill_config(b);
	log_debug("%s: %s, %llu sectors%s%s", b->name, b->path,
		  (unsigned long long)b->capacity, b->read_only ? ", read-only" : "",
		  dc->direct ? ", O_DIRECT" : "");
	*out = &b->vd;
	return 0;
}
