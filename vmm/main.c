/* vmm: one KVM guest per process. Command line, config, then the VM. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/close_range.h>

#include "build-config.h"
#include "config.h"
#include "control.h"
#include "dump.h"
#include "log.h"
#include "notify.h"
#include "privileges.h"
#include "ready_guest.h"
#include "sandbox.h"
#include "vm.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: vmm --config FILE [--check] [--verbose]\n"
		"       vmm --config FILE --dump-acpi DIR   (x86_64)\n"
		"       vmm --config FILE --dump-dtb FILE   (aarch64)\n"
		"       vmm ctl NAME|SOCKET status|pause|resume|shutdown|kill|queues|help\n"
		"       vmm ctl NAME|SOCKET console   (Ctrl-] detaches)\n"
		"       vmm ctl NAME|SOCKET balloon MIB   (the balloon's target)\n"
		"       vmm list\n"
		"       vmm --print-seccomp | --help | --version\n"
		"\n"
		"Runs one KVM virtual machine described by a TOML file; `vmm ctl` and\n"
		"`vmm list` talk to running ones through their control sockets\n"
		"(docs/operations.md).\n"
		"\n"
		"  -c, --config FILE  the VM's configuration (see docs/config.md)\n"
		"      --check        validate the configuration, print it, exit\n"
		"      --dump-acpi DIR\n"
		"                     write the ACPI tables the guest would get to\n"
		"                     DIR/NAME.dat (as acpidump -b; for iasl -d), exit\n"
		"      --dump-dtb FILE\n"
		"                     write the device tree the guest would get to\n"
		"                     FILE (for dtc -I dtb), exit\n"
		"  -v, --verbose      log debug messages (overrides [log] level)\n"
		"      --print-seccomp\n"
		"                     the syscalls each thread may make, and why\n"
		"  -h, --help         this text\n"
		"  -V, --version      print the version\n"
		"\n"
		"Exit status:\n"
		"  0  the guest powered off, or stopped after SIGTERM/SIGINT\n"
		"  1  error: bad configuration, host or KVM failure\n"
		"  2  bad command line\n"
		"  3  the guest rebooted (restart it to boot again)\n"
		"  4  the guest kernel panicked\n"
		"  5  the guest did not stop within shutdown_timeout and was killed\n"
		"  6  a vCPU stopped on an error KVM could not continue from\n"
		"\n"
		"SIGTERM or SIGINT asks the guest to shut down (Ctrl-Alt-Del); a\n"
		"second one, or [vm] shutdown_timeout, stops it at once.\n");
}

/* Whatever the parent left open beyond stdio (an inherited TAP fd among
 * them) stays usable here but must not reach vmm's own children. */
static void cloexec_inherited_fds(void)
{
	DIR *d;
	struct dirent *e;

	if (syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	d = opendir("/proc/self/fd");	/* kernels before 5.11 */
	if (!d)
		return;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);

		if (fd > 2 && fd != dirfd(d))
			fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC);
	}
	closedir(d);
}

/* The moment of execve, on vmm_now_us()'s clock, estimated as `now` minus the
 * CPU time this process has used so far: before main() it has only been
 * the kernel's exec and the dynamic loader, both CPU-bound (plus the few
 * instructions between fork and exec in the parent's child). Boot-phase
 * times count from here, so "since exec" includes the loader. */
static uint64_t exec_time_us(uint64_t now)
{
	struct timespec ts;
	uint64_t used;

	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) < 0)
		return now;
	used = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	return used < now ? now - used : now;
}

/* The fds whose ioctls the filters allow (vmm/sandbox.c). */
static int set_kvm_fds(const struct vm *vm)
{
	int fds[VM_VCPUS_MAX];
	int ret;

	for (unsigned i = 0; i < vm->nvcpus && i < VM_VCPUS_MAX; i++)
		fds[i] = vm->vcpus[i].fd;
	ret = sandbox_set_kvm_fds(vm->vm_fd, fds, vm->nvcpus);
	if (ret < 0)
		log_err("seccomp: %s", strerror(-ret));
	return ret;
}

/* [vm] ready = "guest": vmm listens where the vsock device puts the guest's
 * connections to CID 2 port ready_port. */
static int open_ready_guest(const struct vm_config *cfg, const struct privileges *priv,
			    struct ready_guest **rg)
{
	char *path;
	int ret;

	if (asprintf(&path, "%s_%u", cfg->vsock_socket, cfg->ready_port) < 0)
		return -ENOMEM;
	ret = ready_guest_open(path, priv->switch_uid ? priv->uid : (uid_t)-1,
			       priv->switch_gid ? priv->gid : (gid_t)-1, cfg->ready_timeout_s, rg);
	free(path);
	return ret;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'k' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "print-seccomp", no_argument, NULL, 'S' },
		{ "dump-acpi", required_argument, NULL, 'A' },
		{ "dump-dtb", required_argument, NULL, 'D' },
		{ 0 },
	};
	uint64_t t_main = vmm_now_us(), t0 = exec_time_us(t_main);
	const char *config = NULL, *dump_opt = NULL, *dump_path = NULL;
	bool check = false, verbose = false;
	struct control *ctl = NULL;
	struct ready_guest *rg = NULL;
	struct privileges priv;
	struct vm_config cfg;
	struct vm vm;
	int c, code, ret;

	/* One malloc arena for all threads. glibc gives each thread that
	 * allocates an arena of its own, and every vCPU and I/O thread builds
	 * its seccomp filter with libseccomp (sandbox_enter): ~70 KiB of RSS
	 * per thread stayed in its arena after the build. One arena reuses
	 * those pages; the threads allocate nothing on their hot paths. */
	mallopt(M_ARENA_MAX, 1);
	if (argc >= 2 && !strcmp(argv[1], "ctl"))
		return control_main_ctl(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "list"))
		return control_main_list(argc - 1, argv + 1);
	while ((c = getopt_long(argc, argv, "c:vhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'k':
			check = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("vmm %s (%s)\n", VMM_VERSION, VMM_ARCH);
			return 0;
		case 'S':
			sandbox_print(stdout);
			return 0;
		case 'A':
		case 'D':
			dump_opt = c == 'A' ? "dump-acpi" : "dump-dtb";
			dump_path = optarg;
			break;
		default:
			usage(stderr);
			return VM_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vmm: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return VM_EXIT_USAGE;
	}
	if (!config) {
		fprintf(stderr, "vmm: --config FILE is required\n");
		usage(stderr);
		return VM_EXIT_USAGE;
	}
	/* An x86_64 guest has ACPI tables and no device tree; arm64 the reverse. */
	if (dump_opt && strcmp(dump_opt, arch_dump_option)) {
		fprintf(stderr, "vmm: --%s does not apply to %s guests: use --%s %s\n",
			dump_opt, VMM_ARCH, arch_dump_option, arch_dump_arg);
		return VM_EXIT_USAGE;
	}
	if (dump_opt && check) {
		fprintf(stderr, "vmm: --%s and --check: one at a time\n", dump_opt);
		return VM_EXIT_USAGE;
	}
	if (verbose)
		log_set_level(LOG_LVL_DEBUG);
	cloexec_inherited_fds();
	if (config_load(config, &cfg) < 0)
		return VM_EXIT_ERROR;
	if (dump_path) {
		ret = arch_dump_firmware(&cfg, dump_path);
		config_free(&cfg);
		return ret < 0 ? VM_EXIT_ERROR : 0;
	}
	if (check) {
		config_print(&cfg, stdout);
		config_free(&cfg);
		return 0;
	}
	if (config_check_startable(&cfg) < 0) {
		config_free(&cfg);
		return VM_EXIT_ERROR;
	}
	if (!verbose)
		log_set_level((enum log_level)cfg.log_level);
	log_info("boot: main() at %llu us", (unsigned long long)(t_main - t0));
	log_info("boot: config parsed at %llu us",
		 (unsigned long long)(vmm_now_us() - t0));

	/* Everything that needs root happens before privileges_drop: the
	 * notify socket, [vm] user lookup, the control socket, the VM. */
	notify_init();
	notify_send("STATUS=Building the VM");
	code = VM_EXIT_ERROR;
	if (privileges_resolve(&cfg, &priv) < 0)
		goto out;
	if (cfg.control_socket) {
		ret = control_open(cfg.control_socket, &ctl);
		if (ret < 0 && (ret == -EADDRINUSE || !cfg.control_socket_default))
			goto out;
		if (ret < 0)
			log_warn("running without a control socket ([vm] control_socket "
				 "chooses another path; \"\" turns it off)");
	} else if (cfg.control_socket_default) {
		log_warn("no control socket: no runtime directory, or the default path "
			 "is too long for a socket (set [vm] control_socket, or "
			 "VMM_RUNTIME_DIR or XDG_RUNTIME_DIR)");
	}
	if (cfg.ready == READY_GUEST && open_ready_guest(&cfg, &priv, &rg) < 0)
		goto out;
	if (vm_init(&vm, &cfg, t0) < 0) {
		vm_destroy(&vm);
		goto out;
	}
	vm.ctl = ctl;
	vm.ready_guest = rg;
	/* Each thread loads its own filter in vm_run once its setup is done;
	 * the filters name the KVM fds. The launcher forks in sandbox_init,
	 * before the drop: it keeps root for virtiofsd restarts. */
	if (!cfg.seccomp)
		log_warn("seccomp is off ([vm] seccomp = false): a compromised vmm "
			 "may make any syscall");
	if (set_kvm_fds(&vm) < 0 || sandbox_init(cfg.seccomp) < 0) {
		vm_destroy(&vm);
		goto out;
	}
	/* Still one thread: vm_run starts the I/O and vCPU threads, which
	 * inherit the empty capability sets. */
	if (privileges_drop(&priv) < 0) {
		vm_destroy(&vm);
		goto out;
	}
	log_info("starting VM '%s': %u vCPU(s), %llu MiB", cfg.name, cfg.vcpus,
		 (unsigned long long)cfg.memory_mib);
	code = vm_run(&vm);
	vm_destroy(&vm);
	goto done;
out:
	notify_send("STATUS=Failed to start; see the log");
done:
	ready_guest_close(rg);
	control_close(ctl);
	notify_close();
	config_free(&cfg);
	return code;
}
