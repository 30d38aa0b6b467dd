/* Users and groups by name or number from /etc/passwd and /etc/group, read
 * directly rather than through glibc's NSS (getpwnam and friends).
 *
 * vmm is linked statically by default (meson option `static`), and a static
 * glibc serves NSS sources other than "files" by dlopen()ing their shared
 * modules: on Debian 12 ("passwd: files systemd") a name missing from
 * /etc/passwd made a static getpwnam() load libnss_systemd.so.2 and crash.
 * Reading the two files ourselves behaves the same in static and dynamic
 * builds, and in vmm and netsetup alike; the limitation (documented in
 * docs/config.md) is that users and groups known only to another source
 * (LDAP, sssd, systemd's dynamic users) are not found by name: give their
 * numeric ids instead. */
#ifndef VMM_HOST_IDS_H
#define VMM_HOST_IDS_H

#include <sys/types.h>

#define HOST_PASSWD_FILE "/etc/passwd"
#define HOST_GROUP_FILE "/etc/group"

struct host_id {
	char name[64];		/* for messages; truncated if longer */
	unsigned int id;	/* uid or gid */
	unsigned int gid;	/* a user's primary group; a group's own gid */
};

/* The entry of `file` (passwd(5) format) named `name`, or, when name is
 * NULL, the first with uid `uid`. 0 when found, -ENOENT when not, -errno
 * when the file cannot be opened or read (-ERANGE: a line over 4 KiB, 16 KiB
 * in a group file). Malformed lines are skipped. */
int host_user(const char *file, const char *name, uid_t uid, struct host_id *out);
/* The same in a group(5) file. */
int host_group(const char *file, const char *name, gid_t gid, struct host_id *out);

#endif
