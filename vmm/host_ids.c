/* Users and groups from /etc/passwd and /etc/group; see host_ids.h. */
#include "host_ids.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>

static void set_id(struct host_id *out, const char *name, unsigned int id, unsigned int gid)
{
	snprintf(out->name, sizeof(out->name), "%s", name);
	out->id = id;
	out->gid = gid;
}

int host_user(const char *file, const char *name, uid_t uid, struct host_id *out)
{
	char buf[4096];
	struct passwd pw, *res;
	FILE *f = fopen(file, "re");
	int ret = -ENOENT;

	if (!f)
		return -errno;
	/* fgetpwent_r parses the file alone (no nsswitch.conf, no modules)
	 * and skips malformed lines itself; ERANGE (a line longer than buf)
	 * would be returned again for the same line, so it ends the search. */
	for (;;) {
		int err = fgetpwent_r(f, &pw, buf, sizeof(buf), &res);

		if (err || !res) {
			if (err != ENOENT)
				ret = -(err ? err : EIO);
			break;
		}
		if (name ? strcmp(pw.pw_name, name) == 0 : pw.pw_uid == uid) {
			set_id(out, pw.pw_name, pw.pw_uid, pw.pw_gid);
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

int host_group(const char *file, const char *name, gid_t gid, struct host_id *out)
{
	char buf[16384];	/* member lists run long */
	struct group gr, *res;
	FILE *f = fopen(file, "re");
	int ret = -ENOENT;

	if (!f)
		return -errno;
	for (;;) {
		int err = fgetgrent_r(f, &gr, buf, sizeof(buf), &res);

		if (err || !res) {
			if (err != ENOENT)
				ret = -(err ? err : EIO);
			break;
		}
		if (name ? strcmp(gr.gr_name, name) == 0 : gr.gr_gid == gid) {
			set_id(out, gr.gr_name, gr.gr_gid, gr.gr_gid);
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}
