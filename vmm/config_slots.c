/* Key pci_slot of [[disk]], [[net]], [[fs]], [rng], [vsock] and [balloon]: read and range-checked
 * per entry, checked across entries once all are loaded, and turned into
 * each virtio device's slot (config_devices, slots_place). A device with a
 * slot keeps it whatever else is added; the others fill the gaps. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "arch.h"
#include "config-internal.h"
#include "toml.h"

void cfg_get_slot(struct ctx *c, const struct toml_value *tab, const char *table,
		  struct dev_slot *out)
{
	const struct toml_value *v = toml_get(tab, "pci_slot");
	unsigned first, last;
	const char *what = arch_device_slots(&first, &last);

	out->given = false;
	out->line = cfg_table_line(tab);
	if (!v || !cfg_type_ok(c, v, table, TOML_INTEGER))
		return;
	if (v->u.integer < first || v->u.integer > last) {
		cfg_err(c, v->line, table, "pci_slot", "%lld is out of range: %u to %u (%s)",
			(long long)v->u.integer, first, last, what);
		return;
	}
	out->given = true;
	out->slot = (unsigned)v->u.integer;
	out->line = v->line;
}

/* The devices in creation order, with their slot keys; returns how many. */
static size_t list_devices(const struct vm_config *cfg, struct vm_dev_ref *ref,
			   const struct dev_slot **key)
{
	size_t n = 0;

	for (size_t i = 0; i < cfg->n_disk; i++, n++) {
		ref[n] = (struct vm_dev_ref){ .kind = VM_DEV_DISK, .index = i };
		key[n] = &cfg->disk[i].pci_slot;
	}
	for (size_t i = 0; i < cfg->n_net; i++, n++) {
		ref[n] = (struct vm_dev_ref){ .kind = VM_DEV_NET, .index = i };
		key[n] = &cfg->net[i].pci_slot;
	}
	if (cfg->rng_enabled) {
		ref[n] = (struct vm_dev_ref){ .kind = VM_DEV_RNG };
		key[n++] = &cfg->rng_pci_slot;
	}
	for (size_t i = 0; i < cfg->n_fs; i++, n++) {
		ref[n] = (struct vm_dev_ref){ .kind = VM_DEV_FS, .index = i };
		key[n] = &cfg->fs[i].pci_slot;
	}
	if (cfg->vsock_cid) {
		ref[n] = (struct vm_dev_ref){ .kind = VM_DEV_VSOCK };
		key[n++] = &cfg->vsock_pci_slot;
	}
	if (cfg->balloon_enabled) {
		ref[n] = (struct vm_dev_ref){ .kind = VM_DEV_BALLOON };
		key[n++] = &cfg->balloon_pci_slot;
	}
	return n;
}

int slots_place(const int *want, size_t n, unsigned first, unsigned last,
		unsigned *out, size_t *bad)
{
	bool used[VM_SLOTS_MAX] = { false };
	unsigned next = first;

	if (first > last || last >= VM_SLOTS_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (want[i] < 0)
			continue;
		if (want[i] < (int)first || want[i] > (int)last) {
			if (bad)
				*bad = i;
			return -EINVAL;
		}
		if (used[want[i]]) {
			if (bad)
				*bad = i;
			return -EEXIST;
		}
		used[want[i]] = true;
		out[i] = (unsigned)want[i];
	}
	for (size_t i = 0; i < n; i++) {
		if (want[i] >= 0)
			continue;
		while (next <= last && used[next])
			next++;
		if (next > last) {
			if (bad)
				*bad = i;
			return -ENOSPC;
		}
		used[next] = true;
		out[i] = next;
	}
	return 0;
}

int config_devices(const struct vm_config *cfg, struct vm_dev_ref out[VM_DEVICES_MAX])
{
	const struct dev_slot *key[VM_DEVICES_MAX];
	int want[VM_DEVICES_MAX];
	unsigned slot[VM_DEVICES_MAX], first, last;
	size_t n = list_devices(cfg, out, key);
	int ret;

	arch_device_slots(&first, &last);
	for (size_t i = 0; i < n; i++)
		want[i] = key[i]->given ? (int)key[i]->slot : -1;
	ret = slots_place(want, n, first, last, slot, NULL);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < n; i++)
		out[i].slot = slot[i];
	return (int)n;
}

/* "disk[0]", "net[1]", "rng", "fs[0]", "vsock", "balloon": how messages name a device. */
static const char *dev_name(const struct vm_dev_ref *r, char *buf, size_t len)
{
	static const char *const kinds[] = { "disk", "net", "rng", "fs", "vsock", "balloon" };

	if (r->kind == VM_DEV_RNG || r->kind == VM_DEV_VSOCK || r->kind == VM_DEV_BALLOON)
		snprintf(buf, len, "%s", kinds[r->kind]);
	else
		snprintf(buf, len, "%s[%zu]", kinds[r->kind], r->index);
	return buf;
}

void cfg_check_slots(struct ctx *c, const struct vm_config *cfg)
{
	struct vm_dev_ref ref[VM_DEVICES_MAX];
	const struct dev_slot *key[VM_DEVICES_MAX];
	int want[VM_DEVICES_MAX];
	unsigned slot[VM_DEVICES_MAX], first, last;
	size_t n = list_devices(cfg, ref, key), bad = 0;
	char name[32], other[32];

	arch_device_slots(&first, &last);
	/* Every clash, not just the first one slots_place would find. */
	for (size_t i = 0; i < n; i++) {
		want[i] = key[i]->given ? (int)key[i]->slot : -1;
		for (size_t k = 0; k < i && key[i]->given; k++) {
			if (!key[k]->given || key[k]->slot != key[i]->slot)
				continue;
			/* disk errors name the table "disk", as the loader's do. */
			cfg_err(c, key[i]->line,
				ref[i].kind == VM_DEV_DISK ? "disk" : dev_name(&ref[i], name, sizeof(name)),
				"pci_slot", "slot %u is taken already by %s (line %u)",
				key[i]->slot, dev_name(&ref[k], other, sizeof(other)), key[k]->line);
			want[i] = -1;
			break;
		}
	}
	if (slots_place(want, n, first, last, slot, &bad) == -ENOSPC)
		cfg_err(c, key[bad]->line,
			ref[bad].kind == VM_DEV_DISK ? "disk" : dev_name(&ref[bad], name, sizeof(name)),
			NULL, "%zu virtio devices, but this machine has %u slots for them (%s)",
			n, last - first + 1, arch_device_slots(&first, &last));
}
