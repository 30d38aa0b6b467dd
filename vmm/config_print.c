/* `vmm --check`: the validated config printed back as TOML, defaults filled
 * in, so that it can be read back as a config. */
#include "config.h"

#include <stdio.h>

#include "config-internal.h"
#include "disk_image.h"
#include "host_tools.h"

/* TOML basic string, so that the dump can be read back as a config. */
static void print_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static const char *log_level_name(int level)
{
	for (size_t i = 0; cfg_log_levels[i]; i++)
		if (cfg_log_level_values[i] == level)
			return cfg_log_levels[i];
	return "info";
}

/* A device's pci_slot: the key when given, else where it goes, commented
 * out so that reading the dump back leaves it automatic. */
static void print_slot(FILE *f, const struct vm_config *cfg, enum vm_dev_kind kind,
		       size_t index, const struct dev_slot *key)
{
	struct vm_dev_ref dev[VM_DEVICES_MAX];
	int n = config_devices(cfg, dev);

	if (key->given) {
		fprintf(f, "pci_slot = %u\n", key->slot);
		return;
	}
	for (int i = 0; i < n; i++)
		if (dev[i].kind == kind && dev[i].index == index)
			fprintf(f, "# pci_slot = %u (automatic)\n", dev[i].slot);
}

static void print_forwards(const struct net_config *n, FILE *f)
{
	fprintf(f, "forward = [");
	for (size_t k = 0; k < n->n_forward; k++)
		fprintf(f, "%s\"%u:%u/%s\"", k ? ", " : "", n->forward[k].host_port,
			n->forward[k].guest_port,
			n->forward[k].proto == NET_PROTO_UDP ? "udp" : "tcp");
	fprintf(f, "]\n");
}

static void print_net(const struct vm_config *cfg, FILE *f)
{
	for (size_t i = 0; i < cfg->n_net; i++) {
		const struct net_config *n = &cfg->net[i];
		char a[16];

		fprintf(f, "\n[[net]]\n");
		if (n->mode == NET_MODE_USER)
			fprintf(f, "mode = \"user\"\npasst = \"%s\"\nforward_address = \"%s\"\n",
				n->passt, n->forward_address);
		if (n->tap[0])
			fprintf(f, "tap = \"%s\"\n", n->tap);
		if (n->tap_fd >= 0)
			fprintf(f, "tap_fd = %d\n", n->tap_fd);
		if (n->vhost)
			fprintf(f, "vhost = true\n");
		if (n->queues > 1)
			fprintf(f, "queues = %u\n", n->queues);
		fprintf(f, "mac = \"%02x:%02x:%02x:%02x:%02x:%02x\"%s\n", n->mac[0], n->mac[1],
			n->mac[2], n->mac[3], n->mac[4], n->mac[5],
			n->mac_given ? "" : "  # derived from the VM name");
		print_slot(f, cfg, VM_DEV_NET, i, &n->pci_slot);
		if (n->mode == NET_MODE_USER) {
			print_forwards(n, f);
			continue;
		}
		if (n->owner)
			fprintf(f, "owner = \"%s\"\n", n->owner);
		if (n->group)
			fprintf(f, "group = \"%s\"\n", n->group);
		if (!n->has_subnet && n->bridge[0]) {
			fprintf(f, "bridge = \"%s\"  # existing: netsetup adds only the TAP to it\n",
				n->bridge);
			continue;
		}
		if (!n->has_subnet) {
			fprintf(f, "# no subnet: netsetup makes only the TAP\n");
			continue;
		}
		config_format_ipv4(n->subnet, a);
		fprintf(f, "bridge = \"%s\"\nsubnet = \"%s/%u\"\n", n->bridge, a, n->prefix);
		config_format_ipv4(n->gateway, a);
		fprintf(f, "gateway = \"%s\"\n", a);
		config_format_ipv4(n->guest_ip, a);
		fprintf(f, "guest_ip = \"%s\"\n", a);
		if (n->uplink)
			fprintf(f, "uplink = \"%s\"\n", n->uplink);
		else
			fprintf(f, "# uplink: the interface of the default route\n");
		print_forwards(n, f);
	}
}

static void print_fs(const struct vm_config *cfg, FILE *f)
{
	for (size_t i = 0; i < cfg->n_fs; i++) {
		const struct fs_config *fs = &cfg->fs[i];

		fprintf(f, "\n[[fs]]\n");
		print_slot(f, cfg, VM_DEV_FS, i, &fs->pci_slot);
		fprintf(f, "tag = ");
		print_str(f, fs->tag);
		if (fs->socket) {
			fprintf(f, "\nsocket = ");
			print_str(f, fs->socket);
			fputc('\n', f);
			continue;
		}
		fprintf(f, "\nsource = ");
		print_str(f, fs->source ? fs->source : "");
		fprintf(f, "\nread_only = %s\nvirtiofsd = ", fs->read_only ? "true" : "false");
		print_str(f, fs->virtiofsd ? fs->virtiofsd : "");
		fprintf(f, "  # %s", host_virtiofsd_kind_name(
				fs->virtiofsd_rust ? VIRTIOFSD_RUST : VIRTIOFSD_C));
		fprintf(f, "\ncache = \"%s\"\nsandbox = \"%s\"\n", cfg_fs_caches[fs->cache],
			cfg_fs_sandboxes[fs->sandbox]);
		if (fs->thread_pool_size)
			fprintf(f, "thread_pool_size = %u\n", fs->thread_pool_size);
	}
}

void config_print(const struct vm_config *cfg, FILE *f)
{
	fputs("# ", f);
	for (const char *p = cfg->source ? cfg->source : "config"; *p; p++)
		fputc((unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p, f);
	fputs(": validated, defaults filled in\n", f);
	fprintf(f, "[vm]\nname = ");
	print_str(f, cfg->name);
	fprintf(f, "\nvcpus = %u\nmemory_mib = %llu\nshutdown_timeout = %u\n",
		cfg->vcpus, (unsigned long long)cfg->memory_mib, cfg->shutdown_timeout_s);
	fprintf(f, "control_socket = ");
	print_str(f, cfg->control_socket ? cfg->control_socket : "");
	fputc('\n', f);
	fprintf(f, "seccomp = %s\n", cfg->seccomp ? "true" : "false");
	fprintf(f, "ready = \"%s\"\n", cfg_ready_marks[cfg->ready]);
	if (cfg->ready == READY_GUEST)
		fprintf(f, "ready_port = %u\nready_timeout = %u\n", cfg->ready_port,
			cfg->ready_timeout_s);
	fprintf(f, "huge_pages = %s\n", cfg->huge_pages ? "true" : "false");
	fprintf(f, "merge_pages = %s\n", cfg->merge_pages ? "true" : "false");
	fprintf(f, "virtio_transport = \"%s\"\n",
		(unsigned)cfg->virtio_transport <= VIRTIO_TRANSPORT_MMIO ?
		cfg_virtio_transports[cfg->virtio_transport] : "?");
	if (cfg->user) {
		fprintf(f, "user = ");
		print_str(f, cfg->user);
		fputc('\n', f);
	}
	if (cfg->group) {
		fprintf(f, "group = ");
		print_str(f, cfg->group);
		fputc('\n', f);
	}

	fprintf(f, "\n[boot]\nkernel = ");
	print_str(f, cfg->kernel ? cfg->kernel : "");
	if (cfg->initrd) {
		fprintf(f, "\ninitrd = ");
		print_str(f, cfg->initrd);
	} else {
		fprintf(f, "\n# no initrd");
	}
	fprintf(f, "\ncmdline = ");
	print_str(f, cfg->cmdline ? cfg->cmdline : "");

	fprintf(f, "\n\n[console]\nmode = \"%s\"\n",
		(unsigned)cfg->console_mode <= CONSOLE_OFF ? cfg_console_modes[cfg->console_mode] : "?");
	if (cfg->console_path) {
		fprintf(f, "path = ");
		print_str(f, cfg->console_path);
		fprintf(f, "\nmax_size_mib = %llu\n", (unsigned long long)cfg->console_max_size_mib);
	}

	fprintf(f, "\n[cpu]\ntemplate = \"%s\"\nhide = [",
		(unsigned)cfg->cpu_template <= CPU_TEMPLATE_BASELINE ?
		cfg_cpu_templates[cfg->cpu_template] : "?");
	for (size_t i = 0; i < cfg->n_cpu_hide; i++) {
		fputs(i ? ", " : "", f);
		print_str(f, cfg->cpu_hide[i]);
	}
	fprintf(f, "]\n\n[rng]\nenabled = %s\n", cfg->rng_enabled ? "true" : "false");
	print_slot(f, cfg, VM_DEV_RNG, 0, &cfg->rng_pci_slot);
	for (size_t i = 0; i < cfg->n_disk; i++) {
		const struct disk_config *d = &cfg->disk[i];

		fprintf(f, "\n[[disk]]\npath = ");
		print_str(f, d->path ? d->path : "");
		fprintf(f, "\nread_only = %s\ndirect = %s\nserial = ",
			d->read_only ? "true" : "false", d->direct ? "true" : "false");
		print_str(f, d->serial);
		if (d->size_mib)
			fprintf(f, "\nsize_mib = %llu", (unsigned long long)d->size_mib);
		if (disk_fs_info(d->format))
			fprintf(f, "\nformat = \"%s\"", disk_fs_info(d->format)->name);
		if (d->label) {
			fprintf(f, "\nlabel = ");
			print_str(f, d->label);
		}
		if (d->mkfs) {
			fprintf(f, "\n# missing: vmm creates it and formats it with ");
			print_str(f, d->mkfs);
		}
		fputc('\n', f);
		print_slot(f, cfg, VM_DEV_DISK, i, &d->pci_slot);
	}
	if (cfg->vsock_cid) {
		fprintf(f, "\n[vsock]\ncid = %u\nsocket = ", cfg->vsock_cid);
		print_str(f, cfg->vsock_socket ? cfg->vsock_socket : "");
		fputc('\n', f);
		print_slot(f, cfg, VM_DEV_VSOCK, 0, &cfg->vsock_pci_slot);
	}
	if (cfg->balloon_enabled) {
		fprintf(f, "\n[balloon]\nenabled = true\ntarget_mib = %llu\ndeflate_on_oom = %s\n"
			"free_page_reporting = %s\nstats_interval_s = %u\n",
			(unsigned long long)cfg->balloon_target_mib,
			cfg->balloon_deflate_on_oom ? "true" : "false",
			cfg->balloon_reporting ? "true" : "false", cfg->balloon_stats_interval_s);
		print_slot(f, cfg, VM_DEV_BALLOON, 0, &cfg->balloon_pci_slot);
	}
	fprintf(f, "\n[log]\nlevel = \"%s\"\n", log_level_name(cfg->log_level));
	print_net(cfg, f);
	print_fs(cfg, f);
}
