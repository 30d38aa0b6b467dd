/* Unit tests for vmm/config*.c, the device sections and what vmm derives
 * from them: [[net]] (interrupt_hold_us, queues), [[fs]] sources, [[disk]]
 * formats, [vsock] and ready = "guest", [balloon], PCI slots. The general
 * rules (defaults, types, enums, paths, the error format) are in
 * test_config.c; the fixture they share is config_fixture.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch.h"
#include "config.h"
#include "config_fixture.h"
#include "log.h"

/* [[net]] interrupt_hold_us: 200 by default, 0 turns holds off, the range
 * is bounded and a wrong value names its line. */
static void test_net_interrupt_hold(void **state __attribute__((unused)))
{
	struct vm_config cfg;

	parse_ok(BASE "[[net]]\ntap = 'tap0'\n[[net]]\ntap = 'tap1'\ninterrupt_hold_us = 0\n"
		 "[[net]]\ntap = 'tap2'\ninterrupt_hold_us = 1000\n", &cfg);
	assert_int_equal(cfg.net[0].irq_hold_us, 200);
	assert_int_equal(cfg.net[1].irq_hold_us, 0);
	assert_int_equal(cfg.net[2].irq_hold_us, 1000);
	config_free(&cfg);
	parse_bad(BASE "[[net]]\ntap = 'tap0'\ninterrupt_hold_us = 1001\n", 1, 7,
		  "net[0].interrupt_hold_us: ");
	parse_bad(BASE "[[net]]\ntap = 'tap0'\ninterrupt_hold_us = true\n", 1, 7,
		  "net[0].interrupt_hold_us: ");
	/* vhost-net interrupts the guest itself: a hold would be ignored. */
	parse_bad(BASE "[[net]]\ntap = 'tap0'\nvhost = true\ninterrupt_hold_us = 20\n", 1, 8,
		  "net[0].interrupt_hold_us: does not apply with vhost = true");
}

/* [[net]] rx_zero_copy: on by default, false turns it off, a boolean only,
 * refused with vhost (the kernel moves the frames). */
static void test_net_rx_zero_copy(void **state __attribute__((unused)))
{
	struct vm_config cfg;

	parse_ok(BASE "[[net]]\ntap = 'tap0'\n[[net]]\ntap = 'tap1'\nrx_zero_copy = false\n", &cfg);
	assert_true(cfg.net[0].rx_zero_copy);
	assert_false(cfg.net[1].rx_zero_copy);
	config_free(&cfg);
	parse_bad(BASE "[[net]]\ntap = 'tap0'\nrx_zero_copy = 1\n", 1, 7,
		  "net[0].rx_zero_copy: ");
	parse_bad(BASE "[[net]]\ntap = 'tap0'\nvhost = true\nrx_zero_copy = true\n", 1, 8,
		  "net[0].rx_zero_copy: does not apply with vhost = true");
}

/* [[net]] queues: one pair per vCPU up to NET_QUEUES_MAX on a TAP by name
 * (vhost or not), 1 elsewhere; more than 1 set explicitly only on a TAP by
 * name; each refusal names its line and says why. */
static void test_net_queues(void **state __attribute__((unused)))
{
	struct vm_config cfg;

	parse_ok("[vm]\nname = \"t\"\nvcpus = 2\n" BOOT "[[net]]\ntap = 'tap0'\n"
		 "[[net]]\ntap = 'tap1'\nqueues = 1\n[[net]]\ntap_fd = 3\n"
		 "[[net]]\ntap = 'tap3'\nvhost = true\n", &cfg);
	assert_int_equal(cfg.net[0].queues, 2);
	assert_false(cfg.net[0].queues_given);
	assert_int_equal(cfg.net[1].queues, 1);
	assert_true(cfg.net[1].queues_given);
	assert_int_equal(cfg.net[2].queues, 1);
	assert_int_equal(cfg.net[3].queues, 2);	/* a vhost-net instance per pair */
	config_free(&cfg);
	parse_ok("[vm]\nname = \"t\"\nvcpus = 16\n" BOOT "[[net]]\ntap = 'tap0'\n"
		 "[[net]]\ntap = 'tap1'\nqueues = 3\n", &cfg);
	assert_int_equal(cfg.net[0].queues, NET_QUEUES_MAX);
	assert_int_equal(cfg.net[1].queues, 3);
	config_free(&cfg);
	parse_ok(BASE "[[net]]\ntap = 'tap0'\n", &cfg);
	assert_int_equal(cfg.net[0].queues, 1);	/* one vCPU */
	config_free(&cfg);
	parse_bad(BASE "[[net]]\ntap = 'tap0'\nqueues = 5\n", 1, 7, "net[0].queues: ");
	parse_bad(BASE "[[net]]\ntap = 'tap0'\nqueues = 0\n", 1, 7, "net[0].queues: ");
	parse_bad(BASE "[[net]]\ntap = 'tap0'\nqueues = '2'\n", 1, 7, "net[0].queues: ");
	parse_bad(BASE "[[net]]\ntap_fd = 3\nqueues = 2\n", 1, 7,
		  "net[0].queues: must be 1 with tap_fd: an inherited descriptor is one queue");
	/* vhost = true: one /dev/vhost-net per pair, the default as without. */
	parse_ok(BASE "[[net]]\ntap = 'tap0'\nvhost = true\nqueues = 2\n", &cfg);
	assert_int_equal(cfg.net[0].queues, 2);
	assert_true(cfg.net[0].vhost);
	config_free(&cfg);
	parse_ok("[vm]\nname = \"t\"\nvcpus = 3\n" BOOT "[[net]]\ntap = 'tap0'\nvhost = true\n",
		 &cfg);
	assert_int_equal(cfg.net[0].queues, 3);
	assert_false(cfg.net[0].queues_given);
	config_free(&cfg);
	/* Still one queue: an inherited descriptor, with vhost too. */
	parse_bad(BASE "[[net]]\ntap_fd = 3\nvhost = true\nqueues = 2\n", 1, 8,
		  "net[0].queues: must be 1 with tap_fd: an inherited descriptor is one queue");
	parse_ok("[vm]\nname = \"t\"\nvcpus = 3\n" BOOT "[[net]]\ntap_fd = 3\nvhost = true\n",
		 &cfg);
	assert_int_equal(cfg.net[0].queues, 1);
	config_free(&cfg);
	parse_bad(BASE "[[net]]\nmode = 'user'\npasst = '/bin/true'\nqueues = 2\n", 1, 8,
		  "net[0].queues: must be 1 with mode = \"user\"");
}

/* A comma in a share's path would end virtiofsd's `-o source=` option and
 * start another one (`xattr`, or one that defeats read_only). */
static void test_fs_source_comma(void **state __attribute__((unused)))
{
	parse_bad(BASE "[[fs]]\ntag = 'x'\nsource = '/srv/a,xattr'\nread_only = true\n", 1, 7,
		  "fs[0].source: /srv/a,xattr: a comma cannot be passed to virtiofsd (it "
		  "separates its -o options); rename the directory or bind-mount it at a path "
		  "without one");
}

/* [[disk]] format and label: only for an image vmm creates (size_mib), the
 * mkfs looked up only when the image is missing, labels held to each file
 * system's limit. */
static void test_disk_format(void **state __attribute__((unused)))
{
	struct vm_config cfg;
	char p[PATH_MAX];

	parse_ok(BASE "[[disk]]\npath = 'new.img'\nsize_mib = 64\nformat = 'ext4'\n"
		 "label = 'data'\n", &cfg);
	assert_int_equal(cfg.disk[0].format, DISK_FORMAT_EXT4);
	assert_string_equal(cfg.disk[0].label, "data");
	assert_non_null(cfg.disk[0].mkfs);
	assert_non_null(strstr(cfg.disk[0].mkfs, "/mkfs.ext4"));
	config_free(&cfg);
	/* Existing image: nothing to format, no mkfs needed. */
	parse_ok(BASE "[[disk]]\npath = 'initrd.img'\nsize_mib = 64\nformat = 'ext4'\n", &cfg);
	assert_int_equal(cfg.disk[0].format, DISK_FORMAT_EXT4);
	assert_null(cfg.disk[0].mkfs);
	config_free(&cfg);

	parse_bad(BASE "[[disk]]\npath = 'initrd.img'\nformat = 'ext4'\n", 1, 7,
		  "disk.format: applies only with size_mib (vmm formats only an image it "
		  "creates)");
	parse_bad(BASE "[[disk]]\npath = 'new.img'\nsize_mib = 64\nformat = 'ntfs'\n", 1, 8,
		  "disk.format: ");
	parse_bad(BASE "[[disk]]\npath = 'new.img'\nsize_mib = 64\nlabel = 'x'\n", 1, 8,
		  "disk.label: applies only with format");
	parse_bad(BASE "[[disk]]\npath = 'new.img'\nsize_mib = 64\nformat = 'ext4'\n"
		  "label = '0123456789abcdefg'\n", 1, 9,
		  "disk.label: is 17 bytes long; ext4 takes at most 16");
	/* An existing image: the label is checked all the same. */
	parse_bad(BASE "[[disk]]\npath = 'initrd.img'\nsize_mib = 64\nformat = 'xfs'\n"
		  "label = '0123456789abc'\n", 1, 9,
		  "disk.label: is 13 bytes long; xfs takes at most 12");
	parse_bad(BASE "[[disk]]\npath = 'initrd.img'\nsize_mib = 64\nformat = 'vfat'\n"
		  "label = 'A.B'\n", 1, 9,
		  "disk.label: \"A.B\": vfat takes printable ASCII without");
	parse_bad(BASE "[[disk]]\npath = 'new.img'\nsize_mib = 64\nformat = 'ext4'\n"
		  "label = ''\n", 1, 9, "disk.label: \"\": empty, or has a control character");
	/* A missing mkfs: Debian's xfsprogs is not among tools/install-deps'
	 * packages (a host that has it skips this, visibly). */
	snprintf(p, sizeof(p), "/usr/sbin/mkfs.xfs");
	if (access(p, X_OK) == 0 || access("/sbin/mkfs.xfs", X_OK) == 0)
		skip();
	{
		char *path = getenv("PATH") ? strdup(getenv("PATH")) : NULL;

		setenv("PATH", "/nonexistent", 1);
		parse_bad(BASE "[[disk]]\npath = 'new.img'\nsize_mib = 512\nformat = 'xfs'\n",
			  1, 8, "disk.format: mkfs.xfs is not in PATH, /usr/sbin or /sbin (Debian "
			  "package xfsprogs); it formats the image vmm creates");
		if (path)
			setenv("PATH", path, 1);
		free(path);
	}
}

/* [vm] control_socket, user, group. */
/* [vm] ready = "guest" and its keys (the [vsock] cases that load: test_vsock*). */
static void test_ready_guest(void **state __attribute__((unused)))
{
	struct vm_config cfg;

	parse_ok(BASE, &cfg);
	assert_int_equal(cfg.ready_port, 8888);
	assert_int_equal(cfg.ready_timeout_s, 120);
	config_free(&cfg);
	/* Without [vsock] the guest has no way to report. */
	parse_bad(VM "ready = \"guest\"\n" BOOT, 1, 3,
		  "vm.ready: \"guest\" needs a [vsock] table (with a valid cid): the guest "
		  "reports over vsock (docs/operations.md)");
	/* The guest keys do nothing with another ready: refused, not ignored. */
	parse_bad(VM "ready_port = 9000\nready_timeout = 5\n" BOOT, 2, 3,
		  "vm.ready_port: only valid with ready = \"guest\"");
	assert_logged(4, "vm.ready_timeout: only valid with ready = \"guest\"");
	parse_bad(VM "ready = \"userspace\"\nready_timeout = 5\n" BOOT, 1, 4,
		  "vm.ready_timeout: only valid with ready = \"guest\"");
	/* Ranges: port 0 and VMADDR_PORT_ANY are no ports; a day at most. (Each
	 * config also lacks [vsock]: that error comes first, on line 3.) */
	static const struct { const char *line; const char *msg; } bad[] = {
		{ "ready_port = 0", "vm.ready_port: 0 is out of range (1 to 4294967294)" },
		{ "ready_port = 4294967295",
		  "vm.ready_port: 4294967295 is out of range (1 to 4294967294)" },
		{ "ready_timeout = 86401", "vm.ready_timeout: 86401 is out of range (0 to 86400)" },
		{ "ready_timeout = \"2m\"", "vm.ready_timeout: expected an integer, got a string" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[256];

		snprintf(text, sizeof(text), VM "ready = \"guest\"\n%s\n" BOOT, bad[i].line);
		parse_bad(text, 2, 3, "vm.ready: \"guest\" needs a [vsock] table (with a valid cid)");
		assert_logged(4, bad[i].msg);
	}
	/* With [vsock]: the defaults, or what is given. */
	parse_ok(VM "ready = \"guest\"\n" BOOT "[vsock]\ncid = 3\nsocket = \"v.vsock\"\n", &cfg);
	assert_int_equal(cfg.ready, READY_GUEST);
	assert_int_equal(cfg.ready_port, 8888);
	assert_int_equal(cfg.ready_timeout_s, 120);
	config_free(&cfg);
	parse_ok(VM "ready = \"guest\"\nready_port = 1\nready_timeout = 0\n" BOOT
		 "[vsock]\ncid = 3\nsocket = \"v.vsock\"\n", &cfg);
	assert_int_equal(cfg.ready_port, 1);
	assert_int_equal(cfg.ready_timeout_s, 0);
	config_free(&cfg);
	/* A command line that sets the credential itself would win in the guest. */
	parse_bad(VM "ready = \"guest\"\n" "[boot]\nkernel = \"bzImage\"\ncmdline = "
		  "\"systemd.set_credential=vmm.notify_socket:vsock:2:1\"\n"
		  "[vsock]\ncid = 3\nsocket = \"v.vsock\"\n", 1, 3,
		  "vm.ready: boot.cmdline sets the vmm.notify_socket credential itself");
}

/* slots_place on its own: explicit slots first, the rest on the lowest free
 * ones in order, and each way it refuses. */
static void test_slots_place(void **state __attribute__((unused)))
{
	unsigned out[8];
	size_t bad = 99;

	/* Nothing explicit: the config's order, from the first slot. */
	assert_int_equal(slots_place((int[]){ -1, -1, -1 }, 3, 1, 31, out, &bad), 0);
	assert_int_equal(out[0], 1);
	assert_int_equal(out[1], 2);
	assert_int_equal(out[2], 3);
	/* A NIC on 5 after two disks stays on 5 when a third disk comes, and
	 * the automatic ones go around it: 1 2 3 4 6. */
	assert_int_equal(slots_place((int[]){ -1, -1, 5, -1 }, 4, 1, 31, out, &bad), 0);
	assert_int_equal(out[2], 5);
	assert_int_equal(slots_place((int[]){ -1, -1, -1, 5, -1, -1, -1 }, 7, 1, 31, out,
				     &bad), 0);
	assert_int_equal(out[0], 1);
	assert_int_equal(out[1], 2);
	assert_int_equal(out[2], 3);
	assert_int_equal(out[3], 5);
	assert_int_equal(out[4], 4);
	assert_int_equal(out[5], 6);
	assert_int_equal(out[6], 7);
	/* An explicit slot later in the list is placed before the earlier
	 * automatic ones look: the automatic device does not take 1. */
	assert_int_equal(slots_place((int[]){ -1, 1 }, 2, 1, 31, out, &bad), 0);
	assert_int_equal(out[0], 2);
	assert_int_equal(out[1], 1);
	/* Slot 0 exists where first is 0 (virtio-mmio). */
	assert_int_equal(slots_place((int[]){ -1, 0 }, 2, 0, 31, out, &bad), 0);
	assert_int_equal(out[0], 1);
	assert_int_equal(out[1], 0);
	/* Refusals name the device at fault. */
	assert_int_equal(slots_place((int[]){ -1, 4, 4 }, 3, 1, 31, out, &bad), -EEXIST);
	assert_int_equal(bad, 2);
	assert_int_equal(slots_place((int[]){ -1, 0 }, 2, 1, 31, out, &bad), -EINVAL);
	assert_int_equal(bad, 1);
	assert_int_equal(slots_place((int[]){ 32 }, 1, 1, 31, out, &bad), -EINVAL);
	assert_int_equal(bad, 0);
	assert_int_equal(slots_place((int[]){ -1, 2, -1, -1 }, 4, 1, 3, out, &bad), -ENOSPC);
	assert_int_equal(bad, 3);
	assert_int_equal(slots_place((int[]){ -1 }, 1, 1, 32, out, &bad), -EINVAL);
	assert_int_equal(slots_place(NULL, 0, 1, 31, out, NULL), 0);
}

static void test_pci_slot(void **state __attribute__((unused)))
{
	struct vm_dev_ref dev[VM_DEVICES_MAX];
	struct vm_config cfg;
	unsigned first, last;
	const char *what = arch_device_slots(&first, &last);
	char text[8192], msg[256], *out = NULL;
	size_t outlen = 0, len;
	FILE *f;

	/* Lines: 5 [[disk]], 8 [[disk]], 9 pci_slot, 12 [[net]], 14 pci_slot,
	 * 15 [rng], 16 pci_slot, 17 [[fs]], 20 pci_slot. */
	parse_ok(BASE "[[disk]]\npath = 'a.img'\nsize_mib = 1\n"
		 "[[disk]]\npci_slot = 7\npath = 'b.img'\nsize_mib = 1\n"
		 "[[net]]\ntap = 't0'\npci_slot = 5\n"
		 "[rng]\npci_slot = 9\n"
		 "[[fs]]\ntag = 'x'\nsocket = '/run/x.sock'\npci_slot = 31\n", &cfg);
	assert_false(cfg.disk[0].pci_slot.given);
	assert_true(cfg.disk[1].pci_slot.given);
	assert_int_equal(cfg.disk[1].pci_slot.slot, 7);
	assert_int_equal(cfg.disk[1].pci_slot.line, 9);
	assert_int_equal(cfg.net[0].pci_slot.slot, 5);
	assert_int_equal(cfg.rng_pci_slot.slot, 9);
	assert_int_equal(cfg.fs[0].pci_slot.slot, 31);
	assert_int_equal(cfg.fs[0].pci_slot.line, 20);
	/* Creation order disks, NICs, rng, shares; the one automatic disk
	 * takes the first slot. */
	assert_int_equal(config_devices(&cfg, dev), 5);
	assert_int_equal(dev[0].kind, VM_DEV_DISK);
	assert_int_equal(dev[0].slot, first);
	assert_int_equal(dev[1].kind, VM_DEV_DISK);
	assert_int_equal(dev[1].index, 1);
	assert_int_equal(dev[1].slot, 7);
	assert_int_equal(dev[2].kind, VM_DEV_NET);
	assert_int_equal(dev[2].slot, 5);
	assert_int_equal(dev[3].kind, VM_DEV_RNG);
	assert_int_equal(dev[3].slot, 9);
	assert_int_equal(dev[4].kind, VM_DEV_FS);
	assert_int_equal(dev[4].slot, 31);
	/* --check shows every slot; automatic ones commented, so that reading
	 * the dump back keeps them automatic. */
	f = open_memstream(&out, &outlen);
	assert_non_null(f);
	config_print(&cfg, f);
	assert_int_equal(fclose(f), 0);
	snprintf(msg, sizeof(msg), "# pci_slot = %u (automatic)\n", first);
	assert_non_null(strstr(out, msg));
	assert_non_null(strstr(out, "  # derived from the VM name\npci_slot = 5\n"));
	assert_non_null(strstr(out, "enabled = true\npci_slot = 9\n"));
	assert_non_null(strstr(out, "[[fs]]\npci_slot = 31\n"));
	config_free(&cfg);
	parse_ok(out, &cfg);
	assert_false(cfg.disk[0].pci_slot.given);
	assert_int_equal(cfg.disk[1].pci_slot.slot, 7);
	assert_int_equal(cfg.net[0].pci_slot.slot, 5);
	config_free(&cfg);
	free(out);

	/* Without pci_slot: the old order, from the first slot. */
	parse_ok(BASE "[[net]]\ntap = 't0'\n[[disk]]\npath = 'a.img'\nsize_mib = 1\n", &cfg);
	assert_int_equal(config_devices(&cfg, dev), 3);
	assert_int_equal(dev[0].kind, VM_DEV_DISK);
	assert_int_equal(dev[0].slot, first);
	assert_int_equal(dev[1].kind, VM_DEV_NET);
	assert_int_equal(dev[1].slot, first + 1);
	assert_int_equal(dev[2].kind, VM_DEV_RNG);
	assert_int_equal(dev[2].slot, first + 2);
	config_free(&cfg);

	/* Two devices on one slot: the second named, with the first's line. */
	parse_bad(BASE "[[disk]]\npath = 'a.img'\nsize_mib = 1\npci_slot = 5\n"
		  "[[net]]\ntap = 't0'\npci_slot = 5\n", 1, 11,
		  "net[0].pci_slot: slot 5 is taken already by disk[0] (line 8)");
	parse_bad(BASE "[[net]]\ntap = 't0'\npci_slot = 5\n"
		  "[[net]]\ntap = 't1'\npci_slot = 5\n[rng]\npci_slot = 5\n", 2, 10,
		  "net[1].pci_slot: slot 5 is taken already by net[0] (line 7)");
	assert_logged(12, "rng.pci_slot: slot 5 is taken already by net[0] (line 7)");
	parse_bad(BASE "[[disk]]\npath = 'a.img'\nsize_mib = 1\npci_slot = 4\n"
		  "[[disk]]\npath = 'b.img'\nsize_mib = 1\npci_slot = 4\n", 1, 12,
		  "disk.pci_slot: slot 4 is taken already by disk[0] (line 8)");
	/* Out of range: past the last slot, before the first (x86_64's 0 is
	 * the host bridge), negative. */
	snprintf(text, sizeof(text), BASE "[rng]\npci_slot = %u\n", last + 1);
	snprintf(msg, sizeof(msg), "rng.pci_slot: %u is out of range: %u to %u (%s)",
		 last + 1, first, last, what);
	parse_bad(text, 1, 6, msg);
	snprintf(text, sizeof(text), BASE "[[fs]]\ntag = 'x'\nsocket = '/x'\npci_slot = -1\n");
	snprintf(msg, sizeof(msg), "fs[0].pci_slot: -1 is out of range: %u to %u (%s)",
		 first, last, what);
	parse_bad(text, 1, 8, msg);
	if (first > 0) {
		snprintf(text, sizeof(text), BASE "[[disk]]\npath = 'a.img'\nsize_mib = 1\n"
			 "pci_slot = %u\n", first - 1);
		snprintf(msg, sizeof(msg), "disk.pci_slot: %u is out of range: %u to %u (%s)",
			 first - 1, first, last, what);
		parse_bad(text, 1, 8, msg);
	}
	/* Wrong type. */
	parse_bad(BASE "[[net]]\ntap = 't0'\npci_slot = '5'\n", 1, 7,
		  "net[0].pci_slot: expected an integer, got a string");
	parse_bad(BASE "[[disk]]\npath = 'a.img'\nsize_mib = 1\npci_slot = true\n", 1, 8,
		  "disk.pci_slot: expected an integer, got a boolean");
	/* A slot for a removed rng. */
	parse_bad(BASE "[rng]\nenabled = false\npci_slot = 3\n", 1, 7,
		  "rng.pci_slot: applies only to an enabled rng");

	/* More devices than slots: 16 disks, 8 NICs, the rng and 8 shares
	 * (33) on 31 or 32 slots; the first that finds none is named. */
	len = (size_t)snprintf(text, sizeof(text), "%s", BASE);
	for (unsigned i = 0; i < VM_DISKS_MAX; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
					"[[disk]]\npath = 'd%u.img'\nsize_mib = 1\n", i);
	for (unsigned i = 0; i < VM_NET_MAX; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
					"[[net]]\ntap = 't%u'\n", i);
	for (unsigned i = 0; i < VM_FS_MAX; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
					"[[fs]]\ntag = 'f%u'\nsocket = '/f%u'\n", i, i);
	assert_true(len < sizeof(text));
	/* Lines: disks 5..52, NICs 53..68, fs[i] at 69 + 3i; the first device
	 * without a slot is fs[6] (31 slots) or fs[7] (32). */
	snprintf(msg, sizeof(msg),
		 "fs[%u]: 33 virtio devices, but this machine has %u slots for them (%s)",
		 last - first + 1 == 31 ? 6 : 7, last - first + 1, what);
	parse_bad(text, 1, 69 + 3 * (last - first + 1 == 31 ? 6 : 7), msg);
}

/* pci_slot in the loader: accepted on [[disk]], [[net]], [[fs]] and [rng],
 * placed by config_devices, printed by --check; refused out of range, of
 * the wrong type, twice on one slot, and when the devices outnumber the
 * slots. */
/* [vsock]: cid range and presence, socket default and length, slot. */
static void test_vsock(void **state __attribute__((unused)))
{
	struct vm_dev_ref dev[VM_DEVICES_MAX];
	struct vm_config cfg;
	char *out = NULL, want[PATH_MAX];
	size_t outlen = 0;
	FILE *f;

	parse_ok(BASE, &cfg);
	assert_int_equal(cfg.vsock_cid, 0);	/* no table, no device */
	assert_null(cfg.vsock_socket);
	config_free(&cfg);

	setenv("VMM_RUNTIME_DIR", "/tmp/rundir", 1);
	parse_ok(BASE "[vsock]\ncid = 3\n", &cfg);
	assert_int_equal(cfg.vsock_cid, 3);
	assert_string_equal(cfg.vsock_socket, "/tmp/rundir/t.vsock");
	/* The device comes last: after the rng. */
	assert_int_equal(config_devices(&cfg, dev), 2);
	assert_int_equal(dev[1].kind, VM_DEV_VSOCK);
	f = open_memstream(&out, &outlen);
	assert_non_null(f);
	config_print(&cfg, f);
	assert_int_equal(fclose(f), 0);
	assert_non_null(strstr(out, "[vsock]\ncid = 3\nsocket = \"/tmp/rundir/t.vsock\"\n# pci_slot = "));
	free(out);
	config_free(&cfg);

	parse_ok(BASE "[vsock]\ncid = 4294967294\nsocket = 'v.sock'\npci_slot = 9\n", &cfg);
	assert_int_equal(cfg.vsock_cid, 4294967294u);
	path_in(want, sizeof(want), "v.sock");
	assert_string_equal(cfg.vsock_socket, want);	/* from the config's directory */
	assert_int_equal(cfg.vsock_pci_slot.slot, 9);
	config_free(&cfg);

	parse_bad(BASE "[vsock]\n", 1, 5, "vsock.cid: missing required key");
	parse_bad(BASE "[vsock]\ncid = 2\n", 1, 6, "vsock.cid: 2 is out of range (3 to 4294967294)");
	parse_bad(BASE "[vsock]\ncid = 4294967295\n", 1, 6,
		  "vsock.cid: 4294967295 is out of range (3 to 4294967294)");
	parse_bad(BASE "[vsock]\ncid = '3'\n", 1, 6, "vsock.cid: expected an integer, got a string");
	parse_bad(BASE "[vsock]\ncid = 3\nsocket = ''\n", 1, 7, "vsock.socket: must not be empty");
	parse_bad(BASE "[vsock]\ncid = 3\nport = 1\n", 1, 7, "vsock.port: unknown key");
	/* 96 bytes is the most: "_4294967295" must fit after it. */
	parse_ok(BASE "[vsock]\ncid = 3\nsocket = '/" "0123456789012345678901234567890123456789"
		 "0123456789012345678901234567890123456789" "012345678901234'\n", &cfg);
	config_free(&cfg);
	parse_bad(BASE "[vsock]\ncid = 3\nsocket = '/" "0123456789012345678901234567890123456789"
		  "0123456789012345678901234567890123456789" "0123456789012345'\n", 1, 7,
		  "vsock.socket: /0123");
	parse_bad(BASE "[[vsock]]\ncid = 3\n", 1, 5, "vsock: expected a table");
	parse_bad(BASE "[vsock]\ncid = 3\npci_slot = 5\n[rng]\npci_slot = 5\n", 1, 7,
		  "vsock.pci_slot: slot 5 is taken already by rng (line 9)");
	/* No runtime directory, no default. */
	unsetenv("VMM_RUNTIME_DIR");
	if (geteuid() != 0) {
		char *xdg = getenv("XDG_RUNTIME_DIR") ? strdup(getenv("XDG_RUNTIME_DIR")) : NULL;

		unsetenv("XDG_RUNTIME_DIR");
		parse_bad(BASE "[vsock]\ncid = 3\n", 1, 5, "vsock.socket: no default");
		if (xdg) {
			setenv("XDG_RUNTIME_DIR", xdg, 1);
			free(xdg);
		}
	}
}

/* [balloon]: the table adds the device, defaults, ranges, target below
 * guest memory, --check output, slot. */
static void test_balloon(void **state __attribute__((unused)))
{
	struct vm_dev_ref dev[VM_DEVICES_MAX];
	struct vm_config cfg;
	char *out = NULL;
	size_t outlen = 0;
	FILE *f;

	parse_ok(BASE, &cfg);
	assert_false(cfg.balloon_enabled);	/* no table, no device */
	config_free(&cfg);

	parse_ok(BASE "[balloon]\n", &cfg);
	assert_true(cfg.balloon_enabled);
	assert_int_equal(cfg.balloon_target_mib, 0);
	assert_true(cfg.balloon_deflate_on_oom);
	assert_true(cfg.balloon_reporting);
	assert_int_equal(cfg.balloon_stats_interval_s, 5);
	assert_int_equal(config_devices(&cfg, dev), 2);	/* after the rng */
	assert_int_equal(dev[1].kind, VM_DEV_BALLOON);
	f = open_memstream(&out, &outlen);
	assert_non_null(f);
	config_print(&cfg, f);
	assert_int_equal(fclose(f), 0);
	assert_non_null(strstr(out, "[balloon]\nenabled = true\ntarget_mib = 0\n"
			       "deflate_on_oom = true\nfree_page_reporting = true\n"
			       "stats_interval_s = 5\n# pci_slot = "));
	free(out);
	config_free(&cfg);

	parse_ok(BASE "[balloon]\ntarget_mib = 100\ndeflate_on_oom = false\n"
		 "free_page_reporting = false\nstats_interval_s = 0\npci_slot = 9\n", &cfg);
	assert_int_equal(cfg.balloon_target_mib, 100);
	assert_false(cfg.balloon_deflate_on_oom);
	assert_false(cfg.balloon_reporting);
	assert_int_equal(cfg.balloon_stats_interval_s, 0);
	assert_int_equal(cfg.balloon_pci_slot.slot, 9);
	config_free(&cfg);

	parse_ok(BASE "[balloon]\nenabled = false\n", &cfg);
	assert_false(cfg.balloon_enabled);
	assert_int_equal(config_devices(&cfg, dev), 1);
	config_free(&cfg);

	parse_bad(BASE "[balloon]\ntarget_mib = 256\n", 1, 6,
		  "balloon.target_mib: 256 MiB is not less than the guest's memory ([vm] memory_mib = 256)");
	parse_bad(BASE "[balloon]\ntarget_mib = -1\n", 1, 6, "balloon.target_mib: -1 is out of range");
	parse_bad(BASE "[balloon]\nstats_interval_s = 86401\n", 1, 6,
		  "balloon.stats_interval_s: 86401 is out of range (0 to 86400)");
	parse_bad(BASE "[balloon]\nfree_page_reporting = 1\n", 1, 6,
		  "balloon.free_page_reporting: expected a boolean");
	parse_bad(BASE "[balloon]\nfree_page_hint = true\n", 1, 6, "balloon.free_page_hint: unknown key");
	parse_bad(BASE "[balloon]\nenabled = false\npci_slot = 4\n", 1, 7,
		  "balloon.pci_slot: applies only to an enabled balloon");
	parse_bad(BASE "[balloon]\npci_slot = 5\n[rng]\npci_slot = 5\n", 1, 6,
		  "balloon.pci_slot: slot 5 is taken already by rng (line 8)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_net_interrupt_hold),
		cmocka_unit_test(test_net_rx_zero_copy),
		cmocka_unit_test(test_net_queues),
		cmocka_unit_test(test_fs_source_comma),
		cmocka_unit_test(test_disk_format),
		cmocka_unit_test(test_ready_guest),
		cmocka_unit_test(test_slots_place),
		cmocka_unit_test(test_pci_slot),
		cmocka_unit_test(test_vsock),
		cmocka_unit_test(test_balloon),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
