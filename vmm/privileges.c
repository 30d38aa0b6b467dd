/* Dropping capabilities and the root user before the guest runs, with
 * libcap-ng; see privileges.h. */
#include "privileges.h"

#include <cap-ng.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "host_ids.h"
#include "log.h"

/* A numeric id, or -1 when `s` is not all digits. */
static long long numeric_id(const char *s)
{
	char *end;
	long long v;

	if (!*s || strspn(s, "0123456789") != strlen(s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || v < 0 || v >= (long long)(uid_t)-1)
		return -1;
	return v;
}

/* Who a root-started vmm runs the guest as when [vm] user is not set: a
 * system user of vmm's own where the admin made one (`useradd --system
 * vmm`), else nobody. Either owns no file vmm needs after the drop (it has
 * them open by then), and nobody is shared with other daemons: the docs
 * recommend a user per VM. */
static const char *const default_users[] = { "vmm", "nobody" };

/* Looks `name` (or, when NULL, uid `id`) up in /etc/passwd: 0, -ENOENT, or
 * -errno with the reason logged. */
static int find_user(const struct vm_config *cfg, const char *name, uid_t id,
		     struct host_id *out)
{
	int ret = host_user(HOST_PASSWD_FILE, name, id, out);

	if (ret < 0 && ret != -ENOENT)
		log_err("%s: reading %s: %s", cfg->source, HOST_PASSWD_FILE, strerror(-ret));
	return ret;
}

static int default_user(const struct vm_config *cfg, struct host_id *out)
{
	for (size_t i = 0; i < sizeof(default_users) / sizeof(default_users[0]); i++) {
		int ret = find_user(cfg, default_users[i], 0, out);

		if (ret == 0 && out->id != 0)
			return 0;
		if (ret < 0 && ret != -ENOENT)
			return ret;
	}
	log_err("%s: vmm runs as root and vm.user is not set, and %s has no "
		"\"vmm\" or \"nobody\" user to run the guest as: create one, or "
		"set vm.user (\"root\" stays root)", cfg->source, HOST_PASSWD_FILE);
	return -ENOENT;
}

int privileges_resolve(const struct vm_config *cfg, struct privileges *p)
{
	const char *user = cfg->user;
	struct host_id u;
	long long id;
	int ret;

	memset(p, 0, sizeof(*p));
	if (!user && geteuid() == 0) {
		ret = default_user(cfg, &u);
		if (ret < 0)
			return ret;
		log_info("vm.user is not set: the guest runs as user %s (uid %u); "
			 "vm.user = \"root\" keeps root", u.name, u.id);
		p->switch_uid = p->switch_gid = true;
		p->uid = u.id;
		p->gid = u.gid;
	} else if (user) {
		id = numeric_id(user);
		ret = find_user(cfg, id >= 0 ? NULL : user, (uid_t)(id >= 0 ? id : 0), &u);
		if (ret < 0 && ret != -ENOENT)
			return ret;
		if (ret < 0 && id < 0) {
			log_err("%s: vm.user: no user \"%s\" in %s (vmm reads names from "
				"there only, not from LDAP or other NSS sources: give the "
				"numeric uid and vm.group)", cfg->source, user, HOST_PASSWD_FILE);
			return -ENOENT;
		}
		p->switch_uid = p->switch_gid = true;
		p->uid = ret == 0 ? u.id : (uid_t)id;
		/* A bare uid without a passwd entry has no primary group. */
		if (ret == 0)
			p->gid = u.gid;
		else if (!cfg->group) {
			log_err("%s: vm.user: uid %s has no entry in %s; give vm.group too",
				cfg->source, user, HOST_PASSWD_FILE);
			return -ENOENT;
		}
		/* The opt-out: root stays root (uid and gid 0, no supplementary
		 * groups, no capabilities). */
		if (p->uid == 0 && geteuid() == 0)
			log_warn("%s: vm.user = \"%s\": the guest runs as root (with no "
				 "capabilities); a compromised vmm could still open every file "
				 "root may through plain permissions", cfg->source, user);
	}
	if (cfg->group) {
		struct host_id g;

		id = numeric_id(cfg->group);
		ret = host_group(HOST_GROUP_FILE, id >= 0 ? NULL : cfg->group,
				 (gid_t)(id >= 0 ? id : 0), &g);
		if (ret < 0 && ret != -ENOENT) {
			log_err("%s: reading %s: %s", cfg->source, HOST_GROUP_FILE, strerror(-ret));
			return ret;
		}
		if (ret < 0 && id < 0) {
			log_err("%s: vm.group: no group \"%s\" in %s (vmm reads names from "
				"there only: give a numeric gid for a group from elsewhere)",
				cfg->source, cfg->group, HOST_GROUP_FILE);
			return -ENOENT;
		}
		p->switch_gid = true;
		p->gid = ret == 0 ? g.id : (gid_t)id;
	}
	return 0;
}

int privileges_drop(const struct privileges *p)
{
	bool can_bound;
	int ret;

	if (capng_get_caps_process() < 0) {
		log_err("reading this process's capabilities failed");
		return -EPERM;
	}
	/* Clearing the bounding set needs CAP_SETPCAP; without it (vmm run by
	 * an unprivileged user) there is nothing in the bounding set that
	 * execve could turn into privileges anyway: no_new_privs below. */
	can_bound = capng_have_capability(CAPNG_EFFECTIVE, CAP_SETPCAP);
	capng_clear(CAPNG_SELECT_ALL);
	if (p->switch_uid || p->switch_gid) {
		ret = capng_change_id(p->switch_uid ? (int)p->uid : -1,
				      p->switch_gid ? (int)p->gid : -1,
				      CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_AMBIENT |
				      (can_bound ? CAPNG_CLEAR_BOUNDING : 0));
		if (ret < 0) {
			log_err("switching to uid %d gid %d failed (libcap-ng error %d); "
				"vmm needs CAP_SETUID and CAP_SETGID for [vm] user/group",
				p->switch_uid ? (int)p->uid : (int)getuid(),
				p->switch_gid ? (int)p->gid : (int)getgid(), ret);
			return -EPERM;
		}
	} else {
		ret = capng_apply(can_bound ? CAPNG_SELECT_ALL :
				  CAPNG_SELECT_CAPS | CAPNG_SELECT_AMBIENT);
		if (ret < 0) {
			log_err("dropping capabilities failed (libcap-ng error %d)", ret);
			return -EPERM;
		}
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		log_err("PR_SET_NO_NEW_PRIVS: %m");
		return -errno;
	}
	/* Trust, but verify: the kernel's view, not libcap-ng's. */
	if (capng_get_caps_process() < 0 ||
	    capng_have_capabilities(CAPNG_SELECT_CAPS) != CAPNG_NONE) {
		log_err("capabilities are still present after dropping them");
		return -EPERM;
	}
	log_info("privileges dropped: uid %d, gid %d, no capabilities%s",
		 (int)getuid(), (int)getgid(), can_bound ? ", empty bounding set" : "");
	return 0;
}
