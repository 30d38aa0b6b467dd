/* virtio-fs over vhost-user: this file owns the device's config space, the
 * backend connection and, for `source` shares, the virtiofsd process.
 * The rings go to the backend at DRIVER_OK (activate) and come back at
 * device reset; the transport's kick eventfds and MSI-X irqfds are handed
 * over as the backend's kick and call descriptors. A backend that dies or
 * misbehaves costs the guest this device (NEEDS_RESET), never the VMM.
 * Every function runs with vd->lock held, or before the VM runs. */
#include "virtio/fs.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/virtio_fs.h>

#include "iothread.h"
#include "log.h"
#include "memory.h"
#include "sandbox.h"
#include "vhost_user.h"

#define FS_NQUEUES		2	/* hiprio + one request queue */
#define FS_QUEUE_SIZE		1024	/* libvhost-user's limit */
#define FS_CONFIG_SIZE		sizeof(struct virtio_fs_config)	/* tag[36], le32 queues */
_Static_assert(sizeof(((struct virtio_fs_config *)0)->tag) == FS_TAG_MAX, "virtio-fs tag");
/* Restarts of vmm's virtiofsd over the VM's life: one that dies at start
 * must not become a fork loop. */
#define FS_MAX_RESTARTS		5
#define FS_OFFERED		(1ULL << VIRTIO_RING_F_INDIRECT_DESC | 1ULL << VIRTIO_RING_F_EVENT_IDX | \
				 1ULL << VIRTIO_F_VERSION_1)
#define FS_PROTOCOL		(1ULL << VHU_PROTOCOL_F_REPLY_ACK | 1ULL << VHU_PROTOCOL_F_MQ)

struct fs;

struct fs_errq {
	struct fs *fs;
	unsigned q;
	int fd;			/* the backend's SET_VRING_ERR eventfd */
};

struct fs {
	struct virtio_dev vd;
	const struct fs_config *cfg;
	const struct guest_mem *mem;
	struct iothread *io;
	char name[64];
	struct vhost_user vu;
	bool ready;		/* vu.fd is connected and past the handshake */
	unsigned started;	/* bit per queue handed to the backend */
	pid_t pid;		/* vmm's virtiofsd, or -1 */
	int op;			/* the sandbox launcher's handle: start virtiofsd,
				 * or connect to `socket` */
	unsigned restarts;
	struct fs_errq errq[FS_NQUEUES];
	struct virtio_fs_config config;
};

/* ---- vmm's own virtiofsd ---- */

/* In the new process (sandbox_start: a fork of vmm before its threads or
 * of its single-threaded launcher): async-signal-safe calls only. */
static void child(const struct fs_config *cfg, int lfd, char *const argv[])
{
	static const char ro_fail[] = "vmm: virtiofsd: cannot make the share read-only "
				      "(needs CAP_SYS_ADMIN for a mount namespace)\n";
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);	/* vmm blocks SIGTERM in its threads */
	sigaction(SIGPIPE, &dfl, NULL);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	setpgid(0, 0);				/* the terminal's ^C is for vmm */
	/* read_only: the share is a read-only bind mount in virtiofsd's own
	 * mount namespace, so the host kernel answers EROFS whatever the guest
	 * or virtiofsd try. */
	if (cfg->read_only &&
	    (unshare(CLONE_NEWNS) < 0 ||
	     mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	     mount(cfg->source, cfg->source, NULL, MS_BIND | MS_REC, NULL) < 0 ||
	     mount(NULL, cfg->source, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)) {
		if (write(2, ro_fail, sizeof(ro_fail) - 1) < 0)
			_exit(126);
		_exit(126);
	}
	if (lfd == 3)
		fcntl(3, F_SETFD, 0);
	else if (dup2(lfd, 3) < 0)
		_exit(126);
	execv(argv[0], argv);
	_exit(127);
}

void virtio_fs_virtiofsd_argv(const struct fs_config *cfg, struct virtiofsd_args *a)
{
	static const char *const caches[] = { "auto", "always", "none" };
	static const char *const sandboxes[] = { "namespace", "chroot" };
	const bool rust = cfg->virtiofsd_rust;
	int n = 0;

	/* The Rust virtiofsd calls cache=none "never" (it still reads the C
	 * spelling after -o, which it deprecates). */
	snprintf(a->src, sizeof(a->src), rust ? "--shared-dir=%s" : "source=%s", cfg->source);
	snprintf(a->cache, sizeof(a->cache), rust ? "--cache=%s" : "cache=%s",
		 rust && cfg->cache == FS_CACHE_NONE ? "never" : caches[cfg->cache]);
	snprintf(a->sandbox, sizeof(a->sandbox), rust ? "--sandbox=%s" : "sandbox=%s",
		 sandboxes[cfg->sandbox]);
	a->argv[n++] = cfg->virtiofsd;
	a->argv[n++] = "--fd=3";
	if (!rust)
		a->argv[n++] = "-o";
	a->argv[n++] = a->src;
	if (!rust)
		a->argv[n++] = "-o";
	a->argv[n++] = a->cache;
	if (!rust)
		a->argv[n++] = "-o";
	a->argv[n++] = a->sandbox;
	if (cfg->thread_pool_size) {
		snprintf(a->threads, sizeof(a->threads), "--thread-pool-size=%u",
			 cfg->thread_pool_size);
		a->argv[n++] = a->threads;
	}
	a->argv[n] = NULL;
}

/* The command line, built in the new process: `cfg` was there before
 * the launcher forked, the strings built here are not. */
static void exec_virtiofsd(const void *arg, int lfd)
{
	const struct fs_config *cfg = arg;
	struct virtiofsd_args a;

	virtio_fs_virtiofsd_argv(cfg, &a);
	child(cfg, lfd, a.argv);
}

/* How the process ended, for the log. */
static void describe(int st, char *buf, size_t n)
{
	if (WIFEXITED(st))
		snprintf(buf, n, "exited with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, n, "was killed by signal %d (%s)", WTERMSIG(st),
			 strsignal(WTERMSIG(st)));
	else
		snprintf(buf, n, "ended (status 0x%x)", st);
}

/* Ends vmm's virtiofsd (it may have ended already) and reaps it. The
 * signals go through the sandbox's launcher: it holds a pidfd of the
 * process, and keeps the privileges to signal it after vmm gave them up. */
static void stop_child(struct fs *fs)
{
	char how[96];
	int st = 0;
	pid_t r = 0;

	if (fs->pid <= 0)
		return;
	sandbox_signal(fs->op, SIGTERM);
	for (int i = 0; i < 100 && r == 0; i++) {
		r = waitpid(fs->pid, &st, WNOHANG);
		if (r == 0)
			usleep(20000);
	}
	/* Without the launcher's SIGKILL nothing else would end it: do not
	 * wait forever then (PR_SET_PDEATHSIG ends it with vmm). */
	if (r == 0 && sandbox_signal(fs->op, SIGKILL) == 0)
		r = waitpid(fs->pid, &st, 0);
	else if (r == 0)
		log_warn("%s: cannot stop virtiofsd (pid %d)", fs->name, (int)fs->pid);
	if (r == fs->pid) {
		describe(st, how, sizeof(how));
		log_info("%s: virtiofsd (pid %d) %s", fs->name, (int)fs->pid, how);
	}
	fs->pid = -1;
}

/* Starts virtiofsd and connects to it, both done by the sandbox's launcher
 * (filtered threads may neither start programs nor make sockets). */
static int spawn(struct fs *fs, int *conn)
{
	const struct fs_config *cfg = fs->cfg;
	int ret = sandbox_start(fs->op, conn, &fs->pid);

	if (ret < 0) {
		fs->pid = -1;
		log_err("%s: starting virtiofsd: %s", fs->name, strerror(-ret));
		return ret;
	}
	log_info("%s: started %s for %s%s (pid %d)", fs->name, cfg->virtiofsd, cfg->source,
		 cfg->read_only ? ", read-only" : "", (int)fs->pid);
	return 0;
}

/* ---- the backend connection ---- */

static void on_socket(void *opaque, uint32_t events);

static void backend_lost(struct fs *fs, const char *why);

/* Connects (starting vmm's virtiofsd first for a source share) and does
 * the handshake; 0 or -errno, logged. */
static int connect_backend(struct fs *fs)
{
	const char *what = fs->cfg->socket ? fs->cfg->socket : "vmm's virtiofsd";
	uint64_t nq;
	int fd, ret;

	if (fs->cfg->source) {
		ret = spawn(fs, &fd);
	} else {
		ret = sandbox_connect(fs->op, &fd);
		if (ret < 0)
			log_err("%s: cannot connect to the vhost-user socket %s: %s "
				"(is a virtiofsd serving it?)", fs->name, fs->cfg->socket,
				strerror(-ret));
	}
	if (ret < 0)
		return ret;
	vhu_init(&fs->vu, fs->name, fd);
	ret = vhu_handshake(&fs->vu, FS_PROTOCOL);
	if (ret == 0 && !(fs->vu.features & (1ULL << VIRTIO_F_VERSION_1))) {
		log_err("%s: the backend does not offer VIRTIO_F_VERSION_1", fs->name);
		ret = -EPROTO;
	}
	if (ret == 0 && (fs->vu.protocol & (1ULL << VHU_PROTOCOL_F_MQ))) {
		ret = vhu_get_queue_num(&fs->vu, &nq);
		if (ret == 0 && nq < FS_NQUEUES) {
			log_err("%s: the backend serves %llu queues; virtio-fs needs %d",
				fs->name, (unsigned long long)nq, FS_NQUEUES);
			ret = -EPROTO;
		}
	}
	if (ret == 0)
		ret = iothread_add(fs->io, fd, on_socket, fs);
	if (ret < 0) {
		char how[96] = "";
		int st;

		/* Say why when it is because virtiofsd exited. */
		if (fs->pid > 0 && waitpid(fs->pid, &st, WNOHANG) == fs->pid) {
			describe(st, how, sizeof(how));
			log_err("%s: virtiofsd (pid %d) %s before the handshake",
				fs->name, (int)fs->pid, how);
			fs->pid = -1;
		}
		log_err("%s: vhost-user handshake with %s failed: %s", fs->name, what,
			strerror(-ret));
		vhu_close(&fs->vu);
		stop_child(fs);
		return ret;
	}
	fs->ready = true;
	log_debug("%s: vhost-user backend features 0x%llx, protocol features 0x%llx",
		  fs->name, (unsigned long long)fs->vu.features,
		  (unsigned long long)fs->vu.protocol);
	return 0;
}

/* The connection is gone or can no longer be trusted (a failed or timed-out
 * request leaves the stream out of step): drop it, stop our virtiofsd, set
 * NEEDS_RESET if the driver was using the device, and restart ours. */
static void backend_lost(struct fs *fs, const char *why)
{
	log_warn("%s: vhost-user backend %s; the guest's driver must reset the device",
		 fs->name, why);
	/* One watch per connection: without this, every reconnect left one. */
	if (fs->ready)
		iothread_del(fs->io, fs->vu.fd);
	vhu_close(&fs->vu);
	fs->ready = false;
	fs->started = 0;
	stop_child(fs);
	if (fs->vd.status & VIRTIO_CONFIG_S_FEATURES_OK)
		virtio_dev_needs_reset(&fs->vd);
	if (!fs->cfg->source)
		return;		/* reconnected at the next DRIVER_OK */
	if (fs->restarts >= FS_MAX_RESTARTS) {
		log_err("%s: virtiofsd restarted %d times; giving up", fs->name,
			FS_MAX_RESTARTS);
		return;
	}
	fs->restarts++;
	connect_backend(fs);
}

/* The socket is readable or hung up while no request is in flight (we hold
 * the lock): either way the backend is gone or talking out of turn. */
static void on_socket(void *opaque, uint32_t events)
{
	struct fs *fs = opaque;
	char b;
	ssize_t n;

	pthread_mutex_lock(&fs->vd.lock);
	if (fs->vu.fd >= 0) {
		n = recv(fs->vu.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			backend_lost(fs, "closed the connection");
		else if (n > 0)
			backend_lost(fs, "sent a message nobody asked for");
	}
	pthread_mutex_unlock(&fs->vd.lock);
}

static void on_err(void *opaque, uint32_t events)
{
	struct fs_errq *e = opaque;
	uint64_t n;

	if (read(e->fd, &n, sizeof(n)) != sizeof(n))
		return;
	pthread_mutex_lock(&e->fs->vd.lock);
	log_warn("%s: the backend reported an error on queue %u", e->fs->name, e->q);
	virtio_dev_needs_reset(&e->fs->vd);
	pthread_mutex_unlock(&e->fs->vd.lock);
}

/* ---- device ops ---- */

static uint64_t fs_features(struct virtio_dev *vd)
{
	struct fs *fs = vd->priv;

	return fs->vu.features & FS_OFFERED;
}

static void fs_config_read(struct virtio_dev *vd, uint32_t off, uint8_t *data, uint32_t len)
{
	struct fs *fs = vd->priv;

	memcpy(data, (const uint8_t *)&fs->config + off, len);
}

static int start_queue(struct fs *fs, unsigned q)
{
	struct virtq *vq = &fs->vd.vq[q];
	int kick, call, ret;

	fs->vd.tops->queue_fds(&fs->vd, q, &kick, &call);
	ret = vhu_set_vring_num(&fs->vu, q, vq->size);
	if (ret == 0)
		ret = vhu_set_vring_base(&fs->vu, q, 0);
	if (ret == 0)
		ret = vhu_set_vring_addr(&fs->vu, q, (uintptr_t)vq->desc_hva,
					 (uintptr_t)vq->used_hva, (uintptr_t)vq->avail_hva);
	if (ret == 0)
		ret = vhu_set_vring_fd(&fs->vu, VHU_SET_VRING_ERR, q, fs->errq[q].fd);
	if (ret == 0)
		ret = vhu_set_vring_fd(&fs->vu, VHU_SET_VRING_CALL, q, call);
	/* The kick starts the ring in the backend: last. */
	if (ret == 0)
		ret = vhu_set_vring_fd(&fs->vu, VHU_SET_VRING_KICK, q, kick);
	if (ret == 0 && (fs->vu.features & (1ULL << VHU_F_PROTOCOL_FEATURES)))
		ret = vhu_set_vring_enable(&fs->vu, q, true);
	if (ret == 0)
		fs->started |= 1u << q;
	return ret;
}

static int fs_activate(struct virtio_dev *vd)
{
	struct fs *fs = vd->priv;
	struct vhu_region r[GUEST_MEM_MAX_REGIONS];
	uint64_t f = vd->features;
	int ret;

	if (!fs->ready && connect_backend(fs) < 0)
		return -EIO;
	/* A restarted backend may offer less than the driver took. */
	if (f & ~fs->vu.features) {
		log_warn("%s: the backend lacks features 0x%llx the driver accepted",
			 fs->name, (unsigned long long)(f & ~fs->vu.features));
		return -EIO;
	}
	if (fs->vu.features & (1ULL << VHU_F_PROTOCOL_FEATURES))
		f |= 1ULL << VHU_F_PROTOCOL_FEATURES;
	for (unsigned i = 0; i < fs->mem->nregions; i++)
		r[i] = (struct vhu_region){
			.gpa = fs->mem->regions[i].gpa, .size = fs->mem->regions[i].size,
			.hva = (uintptr_t)fs->mem->regions[i].hva,
			.fd_offset = fs->mem->regions[i].fd_offset,
		};
	ret = vhu_set_features(&fs->vu, f);
	if (ret == 0)
		ret = vhu_set_mem_table(&fs->vu, r, fs->mem->nregions, fs->mem->memfd);
	for (unsigned q = 0; ret == 0 && q < FS_NQUEUES; q++)
		if (vd->vq[q].ready)
			ret = start_queue(fs, q);
	if (ret < 0) {
		backend_lost(fs, "failed to take the rings");
		return -EIO;
	}
	log_debug("%s: rings handed to the backend (features 0x%llx)", fs->name,
		  (unsigned long long)f);
	return 0;
}

/* Takes the rings back: the backend stops them on GET_VRING_BASE. */
static void fs_reset(struct virtio_dev *vd)
{
	struct fs *fs = vd->priv;
	unsigned base;
	int ret = 0;

	for (unsigned q = 0; ret == 0 && q < FS_NQUEUES; q++) {
		if (!(fs->started & (1u << q)))
			continue;
		if (fs->vu.features & (1ULL << VHU_F_PROTOCOL_FEATURES))
			ret = vhu_set_vring_enable(&fs->vu, q, false);
		if (ret == 0)
			ret = vhu_get_vring_base(&fs->vu, q, &base);
	}
	fs->started = 0;
	if (ret < 0)
		backend_lost(fs, "failed to give the rings back");
}

static const struct virtio_dev_ops fs_ops = {
	.features = fs_features,
	.config_read = fs_config_read,
	.activate = fs_activate,
	.reset = fs_reset,
	/* no queue_notify: the backend serves the queues */
};

int virtio_fs_new(const struct fs_config *cfg, const struct guest_mem *mem,
		  struct iothread *io, struct virtio_dev **out)
{
	struct fs *fs = calloc(1, sizeof(*fs));
	int ret;

	if (!fs)
		return -ENOMEM;
	fs->cfg = cfg;
	fs->mem = mem;
	fs->io = io;
	fs->pid = -1;
	fs->op = -1;
	vhu_init(&fs->vu, fs->name, -1);
	snprintf(fs->name, sizeof(fs->name), "virtio-fs %s", cfg->tag);
	/* All the sandbox's launcher will do for this share: start this
	 * virtiofsd, with this (never changing) config, or connect to this
	 * socket path. */
	fs->op = cfg->source ? sandbox_register(fs->name, exec_virtiofsd, cfg)
			     : sandbox_register_socket(fs->name, cfg->socket);
	if (fs->op < 0) {
		ret = fs->op;
		log_err("%s: registering with the sandbox's launcher: %s", fs->name,
			strerror(-ret));
		goto err;
	}
	fs->vd = (struct virtio_dev){
		.name = fs->name, .id = VIRTIO_ID_FS, .nqueues = FS_NQUEUES,
		.queue_max = FS_QUEUE_SIZE, .config_size = FS_CONFIG_SIZE, .ops = &fs_ops,
		.priv = fs,
	};
	/* tag: not NUL-terminated when all 36 bytes are used. */
	memcpy(fs->config.tag, cfg->tag, strnlen(cfg->tag, FS_TAG_MAX));
	fs->config.num_request_queues = htole32(1);
	for (unsigned q = 0; q < FS_NQUEUES; q++) {
		fs->errq[q] = (struct fs_errq){ .fs = fs, .q = q };
		fs->errq[q].fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (fs->errq[q].fd < 0) {
			ret = -errno;
			goto err;
		}
		ret = iothread_add(io, fs->errq[q].fd, on_err, &fs->errq[q]);
		if (ret < 0)
			goto err;
	}
	ret = connect_backend(fs);
	if (ret < 0)
		goto err;
	*out = &fs->vd;
	return 0;
err:
	virtio_fs_free(&fs->vd);
	return ret;
}

void virtio_fs_free(void *p)
{
	struct virtio_dev *vd = p;
	struct fs *fs;

	if (!vd)
		return;
	fs = vd->priv;
	vhu_close(&fs->vu);
	stop_child(fs);
	for (unsigned q = 0; q < FS_NQUEUES; q++)
		if (fs->errq[q].fd > 0)
			close(fs->errq[q].fd);
	free(fs);
}
