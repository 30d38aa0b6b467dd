/* The VM configuration: parsed from TOML and validated completely before any
 * KVM call. Everything downstream trusts these values. */
#ifndef VMM_CONFIG_H
#define VMM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define VM_NAME_MAX 63
#define VM_VCPUS_MAX 64
#define VM_CMDLINE_MAX 4096
/* [console] max_size_mib: the console file is cut and started over there. */
#define CONSOLE_MAX_SIZE_MIB_DEFAULT 64
#define CONSOLE_MAX_SIZE_MIB_MAX (1024 * 1024)
#define VM_NET_MAX 8		/* [[net]] entries per VM */
#define VM_IFNAME_MAX 15	/* IFNAMSIZ - 1: tap and bridge names */
#define VM_FORWARD_MAX 64	/* port forwards per [[net]] entry */

enum console_mode {
	CONSOLE_STDIO,	/* guest serial on stdout; stdin feeds it when a tty or pipe */
	CONSOLE_FILE,	/* guest serial appended to `console.path` */
	CONSOLE_OFF,	/* discarded */
};

/* [vm] ready: when vmm tells systemd READY=1 (docs/config.md). */
enum ready_mark {
	READY_STARTED,		/* vCPU 0's first KVM_RUN (the default) */
	READY_USERSPACE,	/* the guest's init wrote the boot timer */
	READY_GUEST,		/* the guest's READY=1 over vsock (vmm/ready_guest.c) */
};

/* [vm] ready = "guest": the vsock port vmm listens on (guest side: CID 2,
 * this port), and how long it waits before saying the guest is late. */
#define READY_PORT_DEFAULT 8888		/* as microvm.nix uses with cloud-hypervisor */
#define READY_TIMEOUT_DEFAULT_S 120
#define READY_TIMEOUT_MAX_S 86400

/* [vm] virtio_transport: how virtio devices reach the guest. */
enum virtio_transport {
	VIRTIO_TRANSPORT_AUTO,	/* PCI where it can be (arm64: a GICv3 ITS), else MMIO */
	VIRTIO_TRANSPORT_PCI,	/* virtio-pci with MSI-X */
	VIRTIO_TRANSPORT_MMIO,	/* virtio-mmio with a wired interrupt (aarch64 only) */
};

enum cpu_template {
	CPU_TEMPLATE_HOST,	/* what KVM supports on this host */
	CPU_TEMPLATE_BASELINE,	/* x86-64-v2 level feature set, stable across hosts */
};

enum net_proto {
	NET_PROTO_TCP,
	NET_PROTO_UDP,
};

/* Key `pci_slot` of [[disk]], [[net]], [[fs]] and [rng]: where the virtio
 * device sits (a PCI device number on bus 0 on x86_64, a virtio-mmio window
 * on aarch64; arch_device_slots). Not given: the lowest slot left free. */
struct dev_slot {
	bool given;
	unsigned slot;		/* when given */
	unsigned line;		/* of the key, else of the table, for messages */
};

/* How a [[net]] entry reaches the host: a TAP (netsetup's, or anyone's), or
 * passt in user mode (no TAP, no root: devices/virtio/net_passt.c). */
enum net_mode {
	NET_MODE_TAP,
	NET_MODE_USER,
};

#define NET_PASST_DEFAULT "passt"	/* Debian 12: passt, looked up in PATH */

/* One `forward` item: host port -> guest port, set up by tools/netsetup
 * (mode "tap") or by passt (mode "user"). */
struct net_forward {
	enum net_proto proto;
	uint16_t host_port;
	uint16_t guest_port;
	unsigned line;
};

/* One [[net]] entry. The vmm side (tap, mac, tap_fd) is what the VMM needs;
 * the host side (bridge .. owner) is read only by tools/netsetup, except
 * guest_ip/gateway/prefix which also become the guest's ip= parameter. */
struct net_config {
	unsigned line;			/* of the [[net]] header, for messages */
	enum net_mode mode;		/* `mode`, default NET_MODE_TAP */
	char *passt;			/* mode user: the passt binary, resolved */
	char *forward_address;		/* mode user: where forwards listen, default 127.0.0.1 */

	char tap[VM_IFNAME_MAX + 1];	/* TAP name; "" only when tap_fd is given */
	uint8_t mac[6];			/* `mac`, or derived from the VM name and index */
	bool mac_given;
	int tap_fd;			/* an inherited open TAP, or -1 */
	bool vhost;			/* `vhost`: the kernel's vhost-net serves the queues */

	bool has_subnet;		/* `subnet` given: netsetup builds bridge + NAT */
	/* Required with `subnet` (netsetup's bridge, maybe shared by VMs with
	 * the same subnet); without it an existing bridge the TAP joins. */
	char bridge[VM_IFNAME_MAX + 1];
	uint32_t subnet;		/* network address, host byte order */
	unsigned prefix;		/* 8..30 */
	uint32_t gateway;		/* bridge address; default network + 1 */
	uint32_t guest_ip;		/* default network + 2 */
	char *uplink;			/* NULL: the interface of the default route */
	char *owner;			/* TAP owner (user name or uid); NULL: none */
	char *group;			/* TAP group (group name or gid); NULL: none */
	struct net_forward *forward;
	size_t n_forward;
	struct dev_slot pci_slot;	/* vmm side */
	/* `interrupt_hold_us`: the most a used-buffer interrupt waits while the
	 * NIC moves a bulk of data (devices/virtio/net_irq.c); 0: never. */
	uint32_t irq_hold_us;
	/* `rx_zero_copy`: frames from a TAP read straight into the guest's
	 * buffers where they have room (devices/virtio/net_rx.c); false: always
	 * through vmm's buffer. */
	bool rx_zero_copy;
	/* `queues`: receive/transmit queue pairs, each on its own queue of a
	 * multi-queue TAP; default one per vCPU up to NET_QUEUES_MAX on a TAP
	 * by name, 1 on anything else. */
	unsigned queues;
	bool queues_given;		/* set explicitly: a single-queue TAP is an error */
};
/* One I/O thread serves every queue, so more pairs than this add guest-side
 * spreading (a TX queue and an interrupt per vCPU) but no host parallelism;
 * each pair is one more TAP fd and two more MSI-X vectors. */
#define NET_QUEUES_MAX		4
#define NET_IRQ_HOLD_US_DEFAULT	200
#define NET_IRQ_HOLD_US_MAX	1000

#define VM_DISKS_MAX 16
#define DISK_SERIAL_MAX 20	/* virtio-blk GET_ID: 20 bytes */

/* [[disk]] format: the file system vmm makes on an image it creates. */
enum disk_format { DISK_FORMAT_NONE, DISK_FORMAT_EXT4, DISK_FORMAT_XFS,
		   DISK_FORMAT_BTRFS, DISK_FORMAT_VFAT };

struct disk_config {
	char *path;		/* resolved; exists unless size_mib is set */
	bool read_only;		/* key `read_only`, default false */
	bool direct;		/* key `direct`: O_DIRECT, default false */
	char serial[DISK_SERIAL_MAX + 1];	/* key `serial`, default "" */
	uint64_t size_mib;	/* key `size_mib`: create when missing; 0 = unset */
	struct dev_slot pci_slot;	/* key `pci_slot` */
	enum disk_format format;	/* key `format`: mkfs an image vmm creates */
	char *label;		/* key `label`: the file system's label; NULL = none */
	char *mkfs;		/* the mkfs.* found for `format` when the image is
				 * missing (it will be created); NULL otherwise */
	unsigned line;		/* of the [[disk]] header, for messages */
};

#define VM_FS_MAX 8		/* [[fs]] entries per VM */
#define FS_TAG_MAX 36		/* virtio-fs config space: tag[36] */
#define FS_VIRTIOFSD_DEFAULT "/usr/lib/qemu/virtiofsd"	/* Debian 12: qemu-system-common */
#define FS_VIRTIOFSD_LIBEXEC "/usr/libexec/virtiofsd"	/* Debian 13: virtiofsd (Rust) */

enum fs_cache { FS_CACHE_AUTO, FS_CACHE_ALWAYS, FS_CACHE_NONE };
enum fs_sandbox { FS_SANDBOX_NAMESPACE, FS_SANDBOX_CHROOT };

/* One [[fs]] entry: a virtio-fs device served by a vhost-user backend,
 * either a virtiofsd that vmm starts for `source`, or one an admin runs
 * behind `socket`. Exactly one of source and socket is set. */
struct fs_config {
	char tag[FS_TAG_MAX + 1];	/* what the guest mounts: mount -t virtiofs TAG */
	char *source;			/* directory to share; vmm supervises virtiofsd */
	char *socket;			/* or: an existing backend's socket */
	bool read_only;			/* source only: shared through a read-only bind mount */
	char *virtiofsd;		/* source only: the binary; unset: FS_VIRTIOFSD_DEFAULT,
					 * FS_VIRTIOFSD_LIBEXEC or virtiofsd on PATH */
	bool virtiofsd_rust;		/* it is the Rust virtiofsd (--shared-dir
					 * options), not QEMU's C one (-o options) */
	enum fs_cache cache;		/* source only: virtiofsd -o cache=, default auto */
	enum fs_sandbox sandbox;	/* source only: virtiofsd -o sandbox=, default namespace */
	unsigned thread_pool_size;	/* source only: 0 = virtiofsd's default */
	struct dev_slot pci_slot;	/* key `pci_slot` */
	unsigned line;			/* of the [[fs]] header, for messages */
};

struct vm_config {
	char *source;		/* config file path, for messages */

	/* [vm] */
	char name[VM_NAME_MAX + 1];
	unsigned vcpus;			/* 1..VM_VCPUS_MAX, default 1 */
	uint64_t memory_mib;		/* >= 16, default 256 */
	unsigned shutdown_timeout_s;	/* SIGTERM grace period, default 30; 0 = kill at once */
	char *control_socket;		/* resolved path; NULL: none (key set to "") */
	bool control_socket_default;	/* not configured: a failure to create it is
					 * a warning, not an error */
	char *user;			/* switch to this user (name or uid); NULL: as
					 * root, "vmm" or else "nobody"; otherwise stay.
					 * "root" stays root (privileges.c) */
	char *group;			/* and group (name or gid); NULL: the user's */
	bool seccomp;			/* per-thread seccomp filters, default true */
	enum ready_mark ready;		/* key `ready`, default "started" */
	unsigned ready_line;		/* of key `ready`, else of [vm], for messages */
	uint32_t ready_port;		/* key `ready_port`, default READY_PORT_DEFAULT */
	unsigned ready_timeout_s;	/* key `ready_timeout`, default 120; 0 = none */
	bool huge_pages;		/* guest RAM in THP (MADV_HUGEPAGE), default true */
	bool merge_pages;		/* guest RAM MADV_MERGEABLE (KSM), default false */
	unsigned merge_pages_line;	/* of key `merge_pages`, for messages */
	enum virtio_transport virtio_transport;	/* key `virtio_transport`, default auto */

	/* [boot] */
	char *kernel;		/* required, absolute or relative to the config's directory */
	char *initrd;		/* optional, NULL when absent */
	char *cmdline;		/* optional, "" when absent */

	/* [console] */
	enum console_mode console_mode;	/* key `mode`, default stdio */
	char *console_path;		/* key `path`, required when mode = "file" */
	uint64_t console_max_size_mib;	/* key `max_size_mib`, mode = "file" only, default 64 */

	/* [cpu] */
	enum cpu_template cpu_template;	/* key `template`, default host */
	char **cpu_hide;		/* key `hide`: feature names, validated */
	size_t n_cpu_hide;

	/* [[disk]]: the first is /dev/vda in a Linux guest */
	struct disk_config *disk;
	size_t n_disk;

	/* [rng] */
	bool rng_enabled;		/* key `enabled`, default true */
	struct dev_slot rng_pci_slot;	/* key `pci_slot` */

	/* [vsock] */
	uint32_t vsock_cid;		/* key `cid`; 0: no [vsock] */
	char *vsock_socket;		/* key `socket`, resolved; default RUNDIR/NAME.vsock */
	struct dev_slot vsock_pci_slot;	/* key `pci_slot` */

	/* [balloon] */
	bool balloon_enabled;		/* key `enabled`; default: true with a [balloon] table */
	uint64_t balloon_target_mib;	/* key `target_mib`, < memory_mib, default 0 */
	unsigned balloon_target_line;	/* of key `target_mib`, for messages */
	bool balloon_deflate_on_oom;	/* key `deflate_on_oom`, default true */
	bool balloon_reporting;		/* key `free_page_reporting`, default true */
	unsigned balloon_stats_interval_s; /* key `stats_interval_s`, 0: none; default 5 */
	struct dev_slot balloon_pci_slot; /* key `pci_slot` */

	/* [log] */
	int log_level;			/* key `level`: "error".."debug" as LOG_LVL_*, default info */

	/* [[net]] */
	struct net_config *net;
	size_t n_net;

	/* [[fs]] */
	struct fs_config *fs;
	size_t n_fs;
};

/* Parses and validates `path`. On error prints "file:line: key: message"
 * through log_err for every problem found and returns -1; on success fills
 * `out` (caller frees with config_free) and returns 0. */
int config_load(const char *path, struct vm_config *out);

/* Same on an in-memory document; `name` is used in messages. */
int config_parse(const char *name, const char *text, size_t len,
		 struct vm_config *out);

void config_free(struct vm_config *cfg);

/* The i-th table a config may have, named without brackets ("vm", "disk"),
 * NULL past the last; and the keys the loader accepts in one of them,
 * NULL-terminated (NULL for a table it does not know). These are the lists
 * the loader checks every table against; test_config_docs holds
 * docs/config.md to them. */
const char *config_known_table(size_t i);
const char *const *config_known_keys(const char *table);

/* The virtio devices of a config, in the order vmm creates them: disks,
 * NICs, the rng, shares (each kind in config order), the vsock device, the
 * balloon. */
#define VM_SLOTS_MAX 32		/* device slots 0..31; arch_device_slots says which exist */
enum vm_dev_kind { VM_DEV_DISK, VM_DEV_NET, VM_DEV_RNG, VM_DEV_FS, VM_DEV_VSOCK, VM_DEV_BALLOON };
#define VM_DEVICES_MAX (VM_DISKS_MAX + VM_NET_MAX + 1 + VM_FS_MAX + 2)

struct vm_dev_ref {
	enum vm_dev_kind kind;
	size_t index;		/* into cfg->disk, net or fs; 0 for the rng, vsock, balloon */
	unsigned slot;		/* where it goes (config_devices) */
};

/* Fills `out` with the devices of a loaded config and the slot of each:
 * the explicit pci_slot ones where they asked, then the others on the
 * lowest free slots in device order. Returns how many, or -ENOSPC when they
 * do not fit (the loader has refused such a config already). */
int config_devices(const struct vm_config *cfg, struct vm_dev_ref out[VM_DEVICES_MAX]);

/* The placement itself, pure: `want[i]` is device i's explicit slot or -1;
 * slots are first..last. Explicit ones are placed first, the rest take the
 * lowest free slots in order. Returns 0, -EINVAL for an explicit slot out of
 * range, -EEXIST for two devices on one slot, -ENOSPC when there are more
 * devices than slots; `*bad` (may be NULL) is then the device at fault. */
int slots_place(const int *want, size_t n, unsigned first, unsigned last,
		unsigned *out, size_t *bad);

/* Human-readable dump used by `vmm --check`. */
void config_print(const struct vm_config *cfg, FILE *out);

/* 0 when this vmm can run what `cfg` describes; otherwise logs why (naming
 * the file and line) and returns -ENOTSUP. `--check` and tools/netsetup
 * may accept more than vmm can start. */
int config_check_startable(const struct vm_config *cfg);

/* Where control sockets live: $VMM_RUNTIME_DIR, else /run/vmm for root,
 * else $XDG_RUNTIME_DIR/vmm. Returns 0, or -ENOENT when none applies
 * (a user without XDG_RUNTIME_DIR) or it does not fit in `len`. */
int config_runtime_dir(char *buf, size_t len);

/* IPv4 helpers shared with tools/netsetup; addresses in host byte order. */
int config_parse_ipv4(const char *s, uint32_t *addr);		/* 0 or -EINVAL */
int config_parse_cidr(const char *s, uint32_t *addr, unsigned *prefix);
uint32_t config_prefix_mask(unsigned prefix);			/* 0..32 */
void config_format_ipv4(uint32_t addr, char buf[16]);

#endif
