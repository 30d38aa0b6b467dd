/* netsetup's command line: options, usage, the configs it names (a directory
 * stands for its *.toml files) and dispatch to the commands (up.c,
 * down.c, status.c). */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "log.h"
#include "netsetup.h"
#include "nft.h"
#include "nl.h"
#include "plan.h"

#define EXIT_USAGE 2

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: netsetup [--verbose] up CONFIG...\n"
		"       netsetup [--verbose] down CONFIG...\n"
		"       netsetup [--verbose] status [CONFIG...]\n"
		"       netsetup rules CONFIG...\n"
		"\n"
		"Builds the host side of the [[net]] entries of vmm configs: a bridge\n"
		"with the gateway address (one per VM, or shared by VMs with the same\n"
		"subnet), a persistent TAP owned by the VM's user (on that bridge, or on\n"
		"an existing one named without subnet), IPv4 forwarding, and nftables\n"
		"NAT, isolation and port forwards.\n"
		"A CONFIG that is a directory stands for every *.toml file in it.\n"
		"\n"
		"  up      make what is missing, fix what differs; changes nothing when\n"
		"          the host is already as the configs say, or when any check fails\n"
		"  down    remove what `up` made for these VMs, and nothing else\n"
		"  status  show what exists and what is missing (exit 3 if anything is);\n"
		"          without CONFIG, list everything netsetup has made\n"
		"  rules   print the nftables table `up` would install\n"
		"\n"
		"Exit status: 0 done, 1 error (nothing changed if a check failed),\n"
		"2 bad command line, 3 status found something missing.\n");
}

/* ---- configs ---- */

static int add_path(char ***paths, size_t *n, const char *path)
{
	char **p = reallocarray(*paths, *n + 1, sizeof(**paths));

	if (!p)
		return -ENOMEM;
	*paths = p;
	p[*n] = strdup(path);
	if (!p[*n])
		return -ENOMEM;
	(*n)++;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Expands directories to their *.toml files, sorted so that messages and
 * the order of changes are the same on every run. */
static int expand_args(char **argv, int argc, char ***paths, size_t *n)
{
	for (int i = 0; i < argc; i++) {
		struct stat st;
		struct dirent *de;
		size_t first = *n;
		DIR *d;

		if (stat(argv[i], &st) < 0 || !S_ISDIR(st.st_mode)) {
			if (add_path(paths, n, argv[i]) < 0)
				return -ENOMEM;
			continue;
		}
		d = opendir(argv[i]);
		if (!d) {
			log_err("%s: %m", argv[i]);
			return -errno;
		}
		while ((de = readdir(d))) {
			size_t len = strlen(de->d_name);
			char *p;

			if (len < 6 || strcmp(de->d_name + len - 5, ".toml") || de->d_name[0] == '.')
				continue;
			if (asprintf(&p, "%s/%s", argv[i], de->d_name) < 0 ||
			    add_path(paths, n, p) < 0) {
				closedir(d);
				return -ENOMEM;
			}
			free(p);
		}
		closedir(d);
		if (*n == first) {
			log_err("%s: no *.toml files in this directory", argv[i]);
			return -ENOENT;
		}
		qsort(*paths + first, *n - first, sizeof(**paths), cmp_str);
	}
	return 0;
}

static int load_vms(char **argv, int argc, struct run *r)
{
	char **paths = NULL;
	size_t n = 0;
	int ret = 0;

	if (expand_args(argv, argc, &paths, &n) < 0) {
		ret = -1;
		goto out;
	}
	r->vms = calloc(n ? n : 1, sizeof(*r->vms));
	if (!r->vms) {
		ret = -1;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct vm *vm = &r->vms[r->n];

		if (config_load(paths[i], &vm->cfg) < 0) {
			ret = -1;
			continue;
		}
		vm->path = paths[i];
		paths[i] = NULL;
		r->n++;
	}
	if (!ret) {
		struct plan_vm *pv = calloc(r->n, sizeof(*pv));

		if (!pv)
			return -1;
		for (size_t i = 0; i < r->n; i++)
			pv[i] = (struct plan_vm){ r->vms[i].path, &r->vms[i].cfg };
		if (plan_check_configs(pv, r->n))
			ret = -1;
		free(pv);
	}
out:
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
	return ret;
}

static void run_free(struct run *r)
{
	for (size_t i = 0; i < r->n; i++) {
		config_free(&r->vms[i].cfg);
		free(r->vms[i].path);
	}
	free(r->vms);
	nl_state_free(&r->st);
	free(r->tables);
	nl_close(r->nl);
	nf_close(r->nft);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct run r = { 0 };
	const char *cmd;
	int c, ret;

	log_set_ident("netsetup");
	log_set_level(LOG_LVL_NOTICE);
	while ((c = getopt_long(argc, argv, "+vh", opts, NULL)) != -1) {
		switch (c) {
		case 'v':
			log_set_level(LOG_LVL_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[optind++];
	if (strcmp(cmd, "up") && strcmp(cmd, "down") && strcmp(cmd, "status") &&
	    strcmp(cmd, "rules")) {
		fprintf(stderr, "netsetup: unknown command '%s'\n", cmd);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (optind >= argc && strcmp(cmd, "status")) {
		fprintf(stderr, "netsetup: %s needs at least one CONFIG\n", cmd);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (load_vms(argv + optind, argc - optind, &r) < 0) {
		log_err("nothing was changed");
		ret = 1;
		goto out;
	}
	if (!strcmp(cmd, "rules")) {
		/* Needs no root: without the route dump the default uplink
		 * shows as UPLINK. */
		if (nl_open(&r.nl) < 0 || nl_read_state(r.nl, &r.st) < 0) {
			nl_close(r.nl);
			r.nl = NULL;
		}
		ret = cmd_rules(&r);
		goto out;
	}
	ret = 1;
	if (nl_open(&r.nl) < 0 || !(r.nft = nf_open()) || read_state(&r) < 0)
		goto out;
	if (!strcmp(cmd, "up"))
		ret = cmd_up(&r);
	else if (!strcmp(cmd, "down"))
		ret = cmd_down(&r);
	else if (!strcmp(cmd, "status"))
		ret = cmd_status(&r);
	else
		ret = cmd_rules(&r);
out:
	run_free(&r);
	return ret;
}
