/* vmm: one KVM guest per process. Command line, config, then the VM. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build-config.h"
#include "config.h"
#include "log.h"
#include "vm.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: vmm --config FILE [--check] [--verbose]\n"
		"       vmm --help | --version\n"
		"\n"
		"Runs one KVM virtual machine described by a TOML file.\n"
		"\n"
		"  -c, --config FILE  the VM's configuration (see docs/config.md)\n"
		"      --check        validate the configuration, print it, exit\n"
		"  -v, --verbose      log debug messages (overrides [log] level)\n"
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

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'k' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	uint64_t t0 = vmm_now_us();
	const char *config = NULL;
	bool check = false, verbose = false;
	struct vm_config cfg;
	struct vm vm;
	int c, code;

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
	if (verbose)
		log_set_level(LOG_LVL_DEBUG);
	if (config_load(config, &cfg) < 0)
		return VM_EXIT_ERROR;
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
	log_info("boot: config parsed at %llu us",
		 (unsigned long long)(vmm_now_us() - t0));

	if (vm_create(&vm, &cfg, t0) < 0) {
		vm_destroy(&vm);
		config_free(&cfg);
		return VM_EXIT_ERROR;
	}
	log_info("starting VM '%s': %u vCPU(s), %llu MiB", cfg.name, cfg.vcpus,
		 (unsigned long long)cfg.memory_mib);
	code = vm_run(&vm);
	vm_destroy(&vm);
	config_free(&cfg);
	return code;
}
