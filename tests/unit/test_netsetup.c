/* Unit tests for [[net]] in vmm/config.c (keys, defaults, errors, the ip=
 * parameter) and tools/netsetup/plan.c (subnet arithmetic, checks between
 * configs, the nftables text). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "cmdline.h"
#include "config.h"
#include "plan.h"

static char kernel[64];		/* an existing file for boot.kernel */
static char logbuf[16384];	/* stderr of the last parse */

static int group_setup(void **state __attribute__((unused)))
{
	int fd;

	snprintf(kernel, sizeof(kernel), "/tmp/vmm-test-netsetup-XXXXXX");
	fd = mkstemp(kernel);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int group_teardown(void **state __attribute__((unused)))
{
	unlink(kernel);
	return 0;
}

/* Parses "[vm] name = NAME, [boot] kernel" + `net`, capturing stderr. */
static int parse(const char *name, const char *net, struct vm_config *cfg)
{
	char text[8192];
	FILE *tmp = tmpfile();
	int saved, ret;
	size_t n;

	assert_non_null(tmp);
	snprintf(text, sizeof(text), "[vm]\nname = \"%s\"\n[boot]\nkernel = \"%s\"\n"
		 "cmdline = \"console=ttyS0\"\n%s", name, kernel, net);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(fileno(tmp), STDERR_FILENO);
	ret = config_parse("vm.toml", text, strlen(text), cfg);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	n = fread(logbuf, 1, sizeof(logbuf) - 1, tmp);
	logbuf[n] = '\0';
	fclose(tmp);
	return ret;
}

/* The [[net]] text must fail with `msg` at `line` (lines 1-5 are the base). */
static void net_bad(const char *net, unsigned line, const char *msg)
{
	struct vm_config cfg;
	char want[512];

	assert_int_equal(parse("t", net, &cfg), -1);
	snprintf(want, sizeof(want), "vm.toml:%u: %s", line, msg);
	if (!strstr(logbuf, want)) {
		print_error("wanted \"%s\" in:\n%s", want, logbuf);
		fail();
	}
	config_free(&cfg);
}

static void net_ok(const char *name, const char *net, struct vm_config *cfg)
{
	if (parse(name, net, cfg) < 0) {
		print_error("%s", logbuf);
		fail();
	}
}

#define NET "[[net]]\ntap = \"vm-t\"\n"	/* header on line 6 */
#define SUB NET "bridge = \"br-t\"\nsubnet = \"10.1.0.0/24\"\n"	/* next line is 10 */

static void test_defaults(void **state __attribute__((unused)))
{
	struct vm_config cfg, again;
	char *cmdline;

	net_ok("vm1", SUB, &cfg);
	assert_int_equal(cfg.n_net, 1);
	assert_string_equal(cfg.net[0].tap, "vm-t");
	assert_string_equal(cfg.net[0].bridge, "br-t");
	assert_true(cfg.net[0].has_subnet);
	assert_int_equal(cfg.net[0].subnet, 0x0a010000);
	assert_int_equal(cfg.net[0].prefix, 24);
	assert_int_equal(cfg.net[0].gateway, 0x0a010001);
	assert_int_equal(cfg.net[0].guest_ip, 0x0a010002);
	assert_null(cfg.net[0].uplink);
	assert_null(cfg.net[0].owner);
	assert_int_equal(cfg.net[0].tap_fd, -1);
	assert_int_equal(cfg.net[0].line, 6);
	/* Derived MAC: unicast, locally administered, stable, per VM name. */
	assert_false(cfg.net[0].mac_given);
	assert_int_equal(cfg.net[0].mac[0], 0x02);
	net_ok("vm1", SUB, &again);
	assert_memory_equal(cfg.net[0].mac, again.net[0].mac, 6);
	config_free(&again);
	net_ok("vm2", SUB, &again);
	assert_memory_not_equal(cfg.net[0].mac, again.net[0].mac, 6);
	config_free(&again);

	cmdline = config_kernel_cmdline(&cfg);
	assert_string_equal(cmdline, "console=ttyS0 ip=10.1.0.2::10.1.0.1:255.255.255.0::eth0:off");
	free(cmdline);
	assert_int_equal(config_check_startable(&cfg), 0);
	config_free(&cfg);
}

static void test_all_keys(void **state __attribute__((unused)))
{
	struct vm_config cfg;
	char *cmdline;

	net_ok("vm1", "[[net]]\ntap = \"vm-a\"\nmac = \"02:00:00:00:00:0A\"\nowner = \"vmm\"\n"
	       "group = \"1000\"\nvhost = true\n"
	       "[[net]]\ntap = \"vm-b\"\ntap_fd = 3\nvhost = false\nbridge = \"br-b\"\nsubnet = \"10.2.0.0/16\"\n"
	       "gateway = \"10.2.255.254\"\nguest_ip = \"10.2.3.4\"\nuplink = \"eth0\"\n"
	       "forward = [\"2201:22\", \"5353:53/udp\", \"8080:80/tcp\"]\n", &cfg);
	assert_int_equal(cfg.n_net, 2);
	assert_true(cfg.net[0].mac_given);
	assert_memory_equal(cfg.net[0].mac, ((uint8_t[]){ 2, 0, 0, 0, 0, 10 }), 6);
	assert_string_equal(cfg.net[0].owner, "vmm");
	assert_string_equal(cfg.net[0].group, "1000");
	assert_false(cfg.net[0].has_subnet);
	assert_true(cfg.net[0].vhost);
	assert_false(cfg.net[1].vhost);
	assert_int_equal(cfg.net[1].tap_fd, 3);
	assert_int_equal(cfg.net[1].gateway, 0x0a02fffe);
	assert_int_equal(cfg.net[1].guest_ip, 0x0a020304);
	assert_string_equal(cfg.net[1].uplink, "eth0");
	assert_int_equal(cfg.net[1].n_forward, 3);
	assert_int_equal(cfg.net[1].forward[0].host_port, 2201);
	assert_int_equal(cfg.net[1].forward[0].guest_port, 22);
	assert_int_equal(cfg.net[1].forward[0].proto, NET_PROTO_TCP);
	assert_int_equal(cfg.net[1].forward[1].proto, NET_PROTO_UDP);
	assert_int_equal(cfg.net[1].forward[2].guest_port, 80);
	/* ip= describes the first entry with a subnet, as the guest names it. */
	cmdline = config_kernel_cmdline(&cfg);
	assert_string_equal(cmdline, "console=ttyS0 ip=10.2.3.4::10.2.255.254:255.255.0.0::eth1:off");
	free(cmdline);
	config_free(&cfg);
}

static void test_cmdline(void **state __attribute__((unused)))
{
	struct vm_config cfg;
	char *s;

	net_ok("t", SUB, &cfg);
	free(cfg.cmdline);
	/* Before "--": what follows goes to init, not the kernel. */
	cfg.cmdline = strdup("console=ttyS0 -- single");
	s = config_kernel_cmdline(&cfg);
	assert_string_equal(s, "console=ttyS0 ip=10.1.0.2::10.1.0.1:255.255.255.0::eth0:off -- single");
	free(s);
	/* The user's own ip= wins. */
	free(cfg.cmdline);
	cfg.cmdline = strdup("ip=dhcp quiet");
	s = config_kernel_cmdline(&cfg);
	assert_string_equal(s, "ip=dhcp quiet");
	free(s);
	free(cfg.cmdline);
	cfg.cmdline = strdup("");
	s = config_kernel_cmdline(&cfg);
	assert_string_equal(s, "ip=10.1.0.2::10.1.0.1:255.255.255.0::eth0:off");
	free(s);
	config_free(&cfg);

	/* No subnet, no ip=; and no [[net]] at all is startable. */
	net_ok("t", NET, &cfg);
	s = config_kernel_cmdline(&cfg);
	assert_string_equal(s, "console=ttyS0");
	free(s);
	config_free(&cfg);
	net_ok("t", "", &cfg);
	assert_int_equal(config_check_startable(&cfg), 0);
	config_free(&cfg);
}

static void test_errors(void **state __attribute__((unused)))
{
	net_bad("[[net]]\n", 6, "net[0].tap: missing required key (or give tap_fd)");
	net_bad(NET "speed = 10\n", 8, "net[0].speed: unknown key");
	net_bad("[net]\ntap = \"x\"\n", 6, "net: expected an array of tables ([[net]]), got a table");
	net_bad("[[net]]\ntap = \"a-very-long-tap-name\"\n", 7,
		"net[0].tap: must be 1 to 15 characters, not 20");
	net_bad("[[net]]\ntap = \"vm/1\"\n", 7, "net[0].tap: \"vm/1\" has a character other than");
	net_bad("[[net]]\ntap = \"-x\"\n", 7, "net[0].tap: must not start with '.' or '-'");
	net_bad(NET "mac = \"03:00:00:00:00:01\"\n", 8, "net[0].mac: 03:00:00:00:00:01 is a multicast");
	net_bad(NET "mac = \"02:00:00:00:00\"\n", 8, "net[0].mac: \"02:00:00:00:00\" is not a MAC");
	net_bad(NET "mac = \"00:00:00:00:00:00\"\n", 8, "net[0].mac: must not be all zeros");
	net_bad(NET "tap_fd = 2\n", 8, "net[0].tap_fd: 2 is out of range (3 to ");
	net_bad(NET "owner = \"a b\"\n", 8, "net[0].owner: \"a b\" is not a user/group name");
	net_bad(NET "forward = [\"1:2\"]\n", 8, "net[0].forward: needs `subnet`");
	net_bad(NET "subnet = \"10.1.0.0/24\"\n", 6, "net[0].bridge: missing required key");
	net_bad(NET "bridge = \"vm-t\"\nsubnet = \"10.1.0.0/24\"\n", 6,
		"net[0].bridge: must differ from tap");
	net_bad(NET "bridge = \"b\"\nsubnet = \"10.1.0.0\"\n", 9,
		"net[0].subnet: \"10.1.0.0\" is not an IPv4 subnet");
	net_bad(NET "bridge = \"b\"\nsubnet = \"10.1.0.5/24\"\n", 9,
		"net[0].subnet: 10.1.0.5/24 has host bits set (the network is 10.1.0.0/24)");
	net_bad(NET "bridge = \"b\"\nsubnet = \"10.1.0.0/31\"\n", 9,
		"net[0].subnet: prefix /31 is out of range (/8 to /30)");
	net_bad(NET "bridge = \"b\"\nsubnet = \"10.0.0.0/4\"\n", 9, "net[0].subnet: prefix /4 is out of range");
	net_bad(SUB "gateway = \"10.2.0.1\"\n", 10,
		"net[0].gateway: 10.2.0.1 is outside the subnet 10.1.0.0/24");
	net_bad(SUB "guest_ip = \"10.1.0.255\"\n", 10,
		"net[0].guest_ip: 10.1.0.255 is the broadcast address of 10.1.0.0/24");
	net_bad(SUB "gateway = \"10.1.0.0\"\n", 10, "net[0].gateway: 10.1.0.0 is the network address");
	net_bad(SUB "guest_ip = \"10.1.0.1\"\n", 10,
		"net[0].guest_ip: gateway and guest_ip are both 10.1.0.1");
	net_bad(SUB "guest_ip = \"10.1.0.010\"\n", 10, "net[0].guest_ip: \"10.1.0.010\" is not an IPv4");
	net_bad(SUB "uplink = \"\"\n", 10, "net[0].uplink: must be 1 to 15 characters");
	net_bad(SUB "forward = [\"22\"]\n", 10, "net[0].forward: item 1: \"22\" is not HOST_PORT:GUEST_PORT");
	net_bad(SUB "forward = [\"0:22\"]\n", 10, "net[0].forward: item 1: \"0:22\" is not");
	net_bad(SUB "forward = [\"2201:65536\"]\n", 10, "net[0].forward: item 1: \"2201:65536\" is not");
	net_bad(SUB "forward = [\"2201:22/sctp\"]\n", 10, "net[0].forward: item 1: \"2201:22/sctp\" is not");
	net_bad(SUB "forward = [\"+1:22\"]\n", 10, "net[0].forward: item 1: \"+1:22\" is not");
	net_bad(SUB "forward = [22]\n", 10, "net[0].forward: item 1: expected a string, got an integer");
	net_bad(SUB "forward = [\"2201:22\", \"2201:23/tcp\"]\n", 10,
		"net[0].forward: item 2: host port 2201/tcp is forwarded twice");
	/* Between entries of one config. */
	net_bad(SUB "[[net]]\ntap = \"vm-t\"\n", 10, "net[1].tap: \"vm-t\" is also used by net[0]");
	net_bad(SUB "[[net]]\ntap = \"vm-u\"\nbridge = \"br-u\"\nsubnet = \"10.1.0.128/25\"\n", 10,
		"net[1].subnet: overlaps net[0]'s subnet");
}

/* `bridge` without `subnet`: the TAP joins an existing bridge. */
static void test_attach(void **state __attribute__((unused)))
{
	struct vm_config cfg;
	char *s;

	net_ok("lan1", NET "bridge = \"br-vms\"\nowner = \"vmm\"\n", &cfg);
	assert_string_equal(cfg.net[0].bridge, "br-vms");
	assert_false(cfg.net[0].has_subnet);
	assert_int_equal(cfg.net[0].n_forward, 0);
	/* No subnet: no ip= (the guest's address is the LAN's) and no table. */
	s = config_kernel_cmdline(&cfg);
	assert_string_equal(s, "console=ttyS0");
	free(s);
	errno = EINVAL;
	assert_null(plan_nft_table(&cfg, (const char *[]){ "eth0" }));
	assert_int_equal(errno, 0);
	assert_int_equal(config_check_startable(&cfg), 0);
	config_free(&cfg);

	/* What only a subnet netsetup owns gives meaning to. */
	net_bad(NET "bridge = \"br-vms\"\nforward = [\"2201:22\"]\n", 9,
		"net[0].forward: needs `subnet`: netsetup forwards host ports only to a guest "
		"on a subnet it routes");
	net_bad(NET "bridge = \"br-vms\"\nguest_ip = \"192.168.50.151\"\n", 9,
		"net[0].guest_ip: needs `subnet`: without it the guest's address is the LAN's");
	net_bad(NET "bridge = \"br-vms\"\ngateway = \"192.168.50.1\"\n", 9,
		"net[0].gateway: needs `subnet`");
	net_bad(NET "bridge = \"br-vms\"\nuplink = \"eth0\"\n", 9, "net[0].uplink: needs `subnet`");
	net_bad(NET "bridge = \"br/vms\"\n", 8, "net[0].bridge: \"br/vms\" has a character other");
	net_bad(NET "bridge = \"vm-t\"\n", 6, "net[0].bridge: must differ from tap");
	net_bad(NET "bridge = 1\n", 8, "net[0].bridge: expected a string");
	/* Two NICs of one VM on one bridge: refused as before. */
	net_bad(NET "bridge = \"br-vms\"\n[[net]]\ntap = \"vm-u\"\nbridge = \"br-vms\"\n", 9,
		"net[1].bridge: \"br-vms\" is also used by net[0]");
}

static void test_subnet_arithmetic(void **state __attribute__((unused)))
{
	uint32_t a;
	unsigned p;
	char buf[16];

	assert_int_equal(config_prefix_mask(0), 0);
	assert_int_equal(config_prefix_mask(8), 0xff000000);
	assert_int_equal(config_prefix_mask(24), 0xffffff00);
	assert_int_equal(config_prefix_mask(32), 0xffffffff);
	assert_int_equal(config_parse_cidr("192.168.50.0/24", &a, &p), 0);
	assert_int_equal(a, 0xc0a83200);
	assert_int_equal(p, 24);
	assert_int_equal(config_parse_cidr("0.0.0.0/0", &a, &p), 0);
	assert_int_equal(p, 0);
	assert_int_equal(config_parse_cidr("10.0.0.0/33", &a, &p), -EINVAL);
	assert_int_equal(config_parse_cidr("10.0.0.0/024", &a, &p), -EINVAL);
	assert_int_equal(config_parse_cidr("10.0.0.0/", &a, &p), -EINVAL);
	assert_int_equal(config_parse_cidr("10.0.0/8", &a, &p), -EINVAL);
	assert_int_equal(config_parse_cidr("10.0.0.0/8x", &a, &p), -EINVAL);
	assert_int_equal(config_parse_ipv4("256.0.0.1", &a), -EINVAL);
	assert_int_equal(config_parse_ipv4("1.2.3.4", &a), 0);
	config_format_ipv4(a, buf);
	assert_string_equal(buf, "1.2.3.4");
	config_format_ipv4(0xffffffff, buf);
	assert_string_equal(buf, "255.255.255.255");

	assert_true(plan_overlap(0x0a010000, 24, 0x0a010000, 24));
	assert_true(plan_overlap(0x0a010000, 24, 0x0a000000, 8));	/* inside */
	assert_true(plan_overlap(0x0a000000, 8, 0x0a010080, 25));
	assert_false(plan_overlap(0x0a010000, 24, 0x0a020000, 24));
	assert_false(plan_overlap(0x0a010000, 25, 0x0a010080, 25));	/* halves */
	assert_true(plan_overlap(0x0a010000, 24, 0x0a0100fe, 32));	/* a host address */
}

static void test_check_configs(void **state __attribute__((unused)))
{
	struct vm_config c[4];
	struct plan_vm v[4];
	FILE *tmp;
	int saved;
	size_t n;

	net_ok("vm1", SUB "forward = [\"2201:22\"]\n", &c[0]);
	net_ok("vm2", "[[net]]\ntap = \"vm-2\"\nbridge = \"br-2\"\nsubnet = \"10.2.0.0/24\"\n", &c[1]);
	net_ok("vm1", "[[net]]\ntap = \"vm-t\"\nbridge = \"br-t\"\nsubnet = \"10.0.0.0/8\"\n"
	       "forward = [\"2201:22\", \"2201:22/udp\"]\n", &c[2]);
	net_ok("vm4", "[[net]]\ntap = \"vm-4\"\nbridge = \"br-4\"\nsubnet = \"10.4.0.0/24\"\n", &c[3]);
	for (int i = 0; i < 4; i++)
		v[i] = (struct plan_vm){ i == 2 ? "c.toml" : i ? "b.toml" : "a.toml", &c[i] };

	assert_int_equal(plan_check_configs(v, 2), 0);
	v[3].path = "d.toml";
	assert_int_equal(plan_check_configs(&v[1], 1), 0);

	tmp = tmpfile();
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(fileno(tmp), STDERR_FILENO);
	/* c[2] against c[0]: same name, same tap, same bridge, 10/8 covers 10.1/24,
	 * same host port; against c[1]: overlap. */
	assert_int_equal(plan_check_configs(v, 3), 5);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	n = fread(logbuf, 1, sizeof(logbuf) - 1, tmp);
	logbuf[n] = '\0';
	fclose(tmp);
	assert_non_null(strstr(logbuf, "c.toml: vm.name: \"vm1\" is also the name of the VM in a.toml"));
	assert_non_null(strstr(logbuf, "c.toml:6: net[0].tap: \"vm-t\" is also used by net[0] in a.toml:6"));
	/* Same bridge, other subnet: said as such, not as an overlap. */
	assert_non_null(strstr(logbuf, "c.toml:6: net[0].subnet: 10.0.0.0/8 differs from "
			       "10.1.0.0/24 of net[0] in a.toml:6, on the same bridge br-t; VMs "
			       "sharing a bridge share its subnet"));
	assert_null(strstr(logbuf, "overlaps 10.1.0.0/24"));
	assert_non_null(strstr(logbuf, "10.0.0.0/8 overlaps 10.2.0.0/24 of net[0] in b.toml:6"));
	assert_non_null(strstr(logbuf, "c.toml:10: net[0].forward: host port 2201/tcp is also "
			       "forwarded by a.toml:10"));
	for (int i = 0; i < 4; i++)
		config_free(&c[i]);
}

/* Checks between configs on one bridge: shared by VMs with one subnet and
 * gateway and a guest_ip each; an existing bridge by any number of VMs. */
static void test_check_shared(void **state __attribute__((unused)))
{
#define SH(ip) "[[net]]\nbridge = \"br-s\"\nsubnet = \"10.5.0.0/24\"\n" ip
	static const struct {
		const char *net;
		unsigned problems;
		const char *msg;
	} cases[] = {
		{ SH("guest_ip = \"10.5.0.12\"\n"), 0, NULL },
		{ SH("guest_ip = \"10.5.0.11\"\n"), 1,
		  "b.toml:8: net[0].guest_ip: 10.5.0.11 is also the guest_ip of net[0] in "
		  "a.toml:6, on the shared bridge br-s; give each VM its own" },
		{ "[[net]]\nbridge = \"br-s\"\nsubnet = \"10.6.0.0/24\"\n", 1,
		  "b.toml:8: net[0].subnet: 10.6.0.0/24 differs from 10.5.0.0/24 of net[0] in "
		  "a.toml:6, on the same bridge br-s" },
		{ SH("gateway = \"10.5.0.254\"\nguest_ip = \"10.5.0.12\"\n"), 1,
		  "b.toml:8: net[0].gateway: 10.5.0.254 differs from 10.5.0.1 of net[0] in "
		  "a.toml:6, on the same bridge br-s; the bridge has one address" },
		{ "[[net]]\nbridge = \"br-s\"\n", 1,
		  "b.toml:8: net[0].bridge: \"br-s\" has no subnet here but a subnet in net[0] "
		  "of a.toml:6; give both the same subnet" },
		{ SH("guest_ip = \"10.5.0.12\"\nforward = [\"2201:2222\"]\n"), 1,
		  "b.toml:13: net[0].forward: host port 2201/tcp is also forwarded by a.toml:11" },
		{ "[[net]]\nbridge = \"br-x\"\nsubnet = \"10.5.0.128/25\"\n", 1,
		  "b.toml:8: net[0].subnet: 10.5.0.128/25 overlaps 10.5.0.0/24 of net[0] in a.toml:6" },
	};
	struct vm_config a, b, l1, l2;
	struct plan_vm v[2];
	char text[512];

	net_ok("s1", "[[net]]\ntap = \"vm-s1\"\nbridge = \"br-s\"\nsubnet = \"10.5.0.0/24\"\n"
	       "guest_ip = \"10.5.0.11\"\nforward = [\"2201:22\"]\n", &a);
	v[0] = (struct plan_vm){ "a.toml", &a };
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		FILE *tmp = tmpfile();
		int saved;
		size_t n;

		/* b.toml's [[net]] is on line 8, two below a.toml's, so that
		 * a message shows which file each line number is from. */
		snprintf(text, sizeof(text), "\n\n[[net]]\ntap = \"vm-s2\"\n%s",
			 cases[k].net + strlen("[[net]]\n"));
		net_ok("s2", text, &b);
		v[1] = (struct plan_vm){ "b.toml", &b };
		fflush(stderr);
		saved = dup(STDERR_FILENO);
		dup2(fileno(tmp), STDERR_FILENO);
		n = plan_check_configs(v, 2);
		fflush(stderr);
		dup2(saved, STDERR_FILENO);
		close(saved);
		rewind(tmp);
		logbuf[fread(logbuf, 1, sizeof(logbuf) - 1, tmp)] = '\0';
		fclose(tmp);
		if (n != cases[k].problems || (cases[k].msg && !strstr(logbuf, cases[k].msg))) {
			print_error("case %zu: %zu problems, wanted %u with \"%s\":\n%s", k, n,
				    cases[k].problems, cases[k].msg ? cases[k].msg : "", logbuf);
			fail();
		}
		config_free(&b);
	}
	config_free(&a);

	/* Any number of VMs on one existing bridge. */
	net_ok("l1", "[[net]]\ntap = \"vm-l1\"\nbridge = \"br-vms\"\n", &l1);
	net_ok("l2", "[[net]]\ntap = \"vm-l2\"\nbridge = \"br-vms\"\n", &l2);
	v[0] = (struct plan_vm){ "l1.toml", &l1 };
	v[1] = (struct plan_vm){ "l2.toml", &l2 };
	assert_int_equal(plan_check_configs(v, 2), 0);
	config_free(&l1);
	config_free(&l2);
#undef SH
}

static void test_nft_table(void **state __attribute__((unused)))
{
	static const char want[] =
		"table ip netsetup-vm1 {\n"
		"\tcomment \"netsetup vm1 fp=%08x\"\n"
		"\tchain forward {\n"
		"\t\ttype filter hook forward priority filter; policy accept;\n"
		"\t\tiifgroup 30317 ip saddr 127.0.0.0/8 drop\n"
		"\t\tct state established,related accept\n"
		"\t\tiifname \"br-t\" oifgroup 30317 oifname != \"br-t\" drop\n"
		"\t\toifname \"br-t\" iifgroup 30317 iifname != \"br-t\" drop\n"
		"\t}\n"
		"\tchain input {\n"
		"\t\ttype filter hook input priority filter; policy accept;\n"
		"\t\tiifgroup 30317 ip saddr 127.0.0.0/8 drop\n"
		"\t\tiifgroup 30317 ip daddr 127.0.0.0/8 ct state invalid,new,untracked drop\n"
		"\t}\n"
		"\tchain postrouting {\n"
		"\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
		"\t\tip saddr 10.1.0.0/24 oifname \"eth0\" masquerade\n"
		"\t\tip saddr 127.0.0.0/8 oifname \"br-t\" masquerade\n"
		"\t}\n"
		"\tchain prerouting {\n"
		"\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
		"\t\tiifgroup != 30317 fib daddr type local tcp dport 2201 dnat to 10.1.0.2:22\n"
		"\t\tiifgroup != 30317 fib daddr type local udp dport 5353 dnat to 10.1.0.2:53\n"
		"\t}\n"
		"\tchain output {\n"
		"\t\ttype nat hook output priority -100; policy accept;\n"
		"\t\tfib daddr type local tcp dport 2201 dnat to 10.1.0.2:22\n"
		"\t\tfib daddr type local udp dport 5353 dnat to 10.1.0.2:53\n"
		"\t}\n"
		"}\n";
	const char *eth0[] = { "eth0" }, *wlan[] = { "wlan0" };
	struct vm_config cfg;
	char c1[128], c2[128], expect[sizeof(want) + 16];
	char *t1, *t2;
	unsigned fp;

	net_ok("vm1", SUB "forward = [\"2201:22\", \"5353:53/udp\"]\n", &cfg);
	t1 = plan_nft_table(&cfg, eth0);
	assert_non_null(t1);
	assert_true(plan_table_comment(t1, c1, sizeof(c1)));
	assert_int_equal(sscanf(c1, "netsetup vm1 fp=%x", &fp), 1);
	snprintf(expect, sizeof(expect), want, fp);
	assert_string_equal(t1, expect);

	/* Same config, same text; another uplink, another fingerprint. */
	t2 = plan_nft_table(&cfg, eth0);
	assert_string_equal(t1, t2);
	free(t2);
	t2 = plan_nft_table(&cfg, wlan);
	assert_true(plan_table_comment(t2, c2, sizeof(c2)));
	assert_string_not_equal(c1, c2);
	assert_non_null(strstr(t2, "oifname \"wlan0\" masquerade"));
	free(t2);
	free(t1);
	config_free(&cfg);

	/* No forwards: no DNAT chains, no 127/8 masquerade; the guard of
	 * 127/8 stays (another VM's forwards may have set route_localnet on a
	 * bridge this VM shares). */
	net_ok("vm1", SUB, &cfg);
	t1 = plan_nft_table(&cfg, eth0);
	assert_null(strstr(t1, "prerouting"));
	assert_null(strstr(t1, "chain output"));
	assert_null(strstr(t1, "ip saddr 127.0.0.0/8 oifname"));
	assert_non_null(strstr(t1, "ip daddr 127.0.0.0/8 ct state invalid,new,untracked drop"));
	free(t1);
	config_free(&cfg);

	/* A TAP without subnet needs no table. */
	net_ok("vm1", NET, &cfg);
	errno = EINVAL;
	assert_null(plan_nft_table(&cfg, eth0));
	assert_int_equal(errno, 0);
	config_free(&cfg);

	assert_false(plan_table_comment("table ip x {\n}\n", c1, sizeof(c1)));
}

static void test_bridge_mac(void **state __attribute__((unused)))
{
	struct net_config n = { .mac = { 0x02, 1, 2, 3, 4, 5 } };
	uint8_t m[6];

	plan_bridge_mac(&n, m);
	assert_memory_equal(m, ((uint8_t[]){ 0x06, 1, 2, 3, 4, 5 }), 6);
	n.mac[0] = 0x06;
	plan_bridge_mac(&n, m);
	assert_int_equal(m[0], 0x02);
	n.mac[0] = 0x00;	/* a vendor MAC: the bridge's is still local unicast */
	plan_bridge_mac(&n, m);
	assert_int_equal(m[0] & 3, 2);
	assert_memory_not_equal(m, n.mac, 6);
	/* A TAP joining an existing bridge: above the usual port MACs. */
	plan_tap_mac(&n, m);
	assert_memory_equal(m, ((uint8_t[]){ 0xfe, 1, 2, 3, 4, 5 }), 6);
}

static void test_print(void **state __attribute__((unused)))
{
	struct vm_config cfg, again;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	char *p;

	net_ok("vm1", SUB "forward = [\"2201:22\"]\nowner = \"vmm\"\nvhost = true\n", &cfg);
	config_print(&cfg, f);
	fclose(f);
	assert_non_null(strstr(text, "[[net]]\ntap = \"vm-t\"\nvhost = true\n"));
	assert_non_null(strstr(text, "gateway = \"10.1.0.1\"\nguest_ip = \"10.1.0.2\"\n"));
	assert_non_null(strstr(text, "forward = [\"2201:22/tcp\"]\n"));
	/* The dump reads back as the same config. */
	p = strstr(text, "[[net]]");
	net_ok("vm1", p, &again);
	assert_memory_equal(cfg.net[0].mac, again.net[0].mac, 6);
	assert_int_equal(again.net[0].forward[0].host_port, 2201);
	assert_true(again.net[0].vhost);
	config_free(&again);
	config_free(&cfg);
	free(text);

	/* An existing bridge reads back as one. */
	net_ok("vm1", NET "bridge = \"br-vms\"\n", &cfg);
	text = NULL;
	f = open_memstream(&text, &len);
	config_print(&cfg, f);
	fclose(f);
	p = strstr(text, "[[net]]");
	net_ok("vm1", p, &again);
	assert_string_equal(again.net[0].bridge, "br-vms");
	assert_false(again.net[0].has_subnet);
	config_free(&again);
	config_free(&cfg);
	free(text);
}

/* mode = "user": passt instead of a TAP. Its keys, its defaults (passt
 * from PATH, forwards on 127.0.0.1), the TAP keys refused at their lines,
 * bad forwards, and a dump that reads back. */
static void test_user_mode(void **state __attribute__((unused)))
{
	char dir[] = "/tmp/vmm-test-passt-XXXXXX", path[64], *old = NULL, *text = NULL;
	struct vm_config cfg, again;
	size_t len = 0;
	FILE *f;
	int fd;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/passt", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0755);
	assert_true(fd >= 0);
	close(fd);
	if (getenv("PATH"))
		old = strdup(getenv("PATH"));
	setenv("PATH", dir, 1);

	net_ok("t", "[[net]]\nmode = \"user\"\nforward = [\"2201:22\", \"5353:53/udp\"]\n", &cfg);
	assert_int_equal(cfg.net[0].mode, NET_MODE_USER);
	assert_string_equal(cfg.net[0].passt, path);
	assert_string_equal(cfg.net[0].forward_address, "127.0.0.1");
	assert_int_equal(cfg.net[0].n_forward, 2);
	assert_int_equal(cfg.net[0].forward[1].proto, NET_PROTO_UDP);
	assert_false(cfg.net[0].has_subnet);
	assert_string_equal(cfg.net[0].tap, "");
	f = open_memstream(&text, &len);
	config_print(&cfg, f);
	fclose(f);
	assert_non_null(strstr(text, "mode = \"user\"\n"));
	net_ok("t", strstr(text, "[[net]]"), &again);
	assert_int_equal(again.net[0].mode, NET_MODE_USER);
	assert_int_equal(again.net[0].forward[0].guest_port, 22);
	config_free(&again);
	free(text);
	config_free(&cfg);
	net_ok("t", "[[net]]\nmode = \"user\"\nforward_address = \"0.0.0.0\"\n"
	       "passt = \"/bin/true\"\n", &cfg);
	assert_string_equal(cfg.net[0].forward_address, "0.0.0.0");
	assert_string_equal(cfg.net[0].passt, "/bin/true");
	config_free(&cfg);

	net_bad("[[net]]\nmode = \"user\"\ntap = \"x\"\n", 8,
		"net[0].tap: does not apply to mode = \"user\"");
	net_bad("[[net]]\nmode = \"user\"\nbridge = \"br\"\n", 8,
		"net[0].bridge: does not apply to mode = \"user\"");
	net_bad("[[net]]\nmode = \"user\"\nsubnet = \"10.1.0.0/24\"\n", 8,
		"net[0].subnet: does not apply to mode = \"user\"");
	net_bad("[[net]]\nmode = \"user\"\ntap_fd = 3\n", 8,
		"net[0].tap_fd: does not apply to mode = \"user\"");
	net_bad("[[net]]\nmode = \"user\"\nforward = [\"2201:22\", \"2201:23\"]\n", 8,
		"net[0].forward: item 2: host port 2201/tcp is forwarded twice");
	net_bad("[[net]]\nmode = \"user\"\nforward = [\"0:22\"]\n", 8,
		"net[0].forward: item 1: \"0:22\" is not HOST_PORT:GUEST_PORT");
	net_bad("[[net]]\nmode = \"user\"\nforward = [\"65536:22\"]\n", 8,
		"net[0].forward: item 1: \"65536:22\" is not HOST_PORT:GUEST_PORT");
	net_bad("[[net]]\nmode = \"user\"\nforward_address = \"localhost\"\n", 8,
		"net[0].forward_address: \"localhost\" is not an IPv4 or IPv6 address");
	net_bad("[[net]]\nmode = \"user\"\npasst = \"/nonexistent/passt\"\n", 8,
		"net[0].passt: /nonexistent/passt: No such file or directory");
	net_bad("[[net]]\nmode = \"slirp\"\ntap = \"x\"\n", 7,
		"net[0].mode: invalid value \"slirp\" (expected one of \"tap\", \"user\")");
	net_bad(NET "passt = \"/bin/true\"\n", 8, "net[0].passt: applies only to mode = \"user\"");
	/* vhost-net serves a TAP only; false is what user mode does anyway. */
	net_bad("[[net]]\nmode = \"user\"\nvhost = true\n", 8,
		"net[0].vhost: applies only to a TAP: with mode = \"user\" the frames go "
		"through passt's socket");
	net_ok("t", "[[net]]\nmode = \"user\"\nvhost = false\n", &cfg);
	assert_false(cfg.net[0].vhost);
	config_free(&cfg);
	net_bad(NET "vhost = \"yes\"\n", 8, "net[0].vhost: expected");
	net_bad(NET "forward_address = \"0.0.0.0\"\n", 8,
		"net[0].forward_address: applies only to mode = \"user\"");
	net_bad("[[net]]\nmode = \"user\"\nforward = [\"2201:22\"]\n"
		"[[net]]\nmode = \"user\"\nforward = [\"2201:22\"]\n", 11,
		"net[1].forward: host port 2201 on 127.0.0.1 is also forwarded by net[0]");
	unlink(path);
	setenv("PATH", "/nonexistent", 1);
	net_bad("[[net]]\nmode = \"user\"\n", 6,
		"net[0].passt: passt is not in PATH (install the Debian package passt");
	if (old)
		setenv("PATH", old, 1);
	else
		unsetenv("PATH");
	free(old);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_all_keys),
		cmocka_unit_test(test_cmdline),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_attach),
		cmocka_unit_test(test_subnet_arithmetic),
		cmocka_unit_test(test_check_configs),
		cmocka_unit_test(test_check_shared),
		cmocka_unit_test(test_nft_table),
		cmocka_unit_test(test_bridge_mac),
		cmocka_unit_test(test_print),
		cmocka_unit_test(test_user_mode),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
