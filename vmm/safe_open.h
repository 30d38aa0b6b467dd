/* Opening the files a config names (disk images, kernel, initrd, the console
 * file), which vmm opens as root before it drops its privileges. */
#ifndef VMM_SAFE_OPEN_H
#define VMM_SAFE_OPEN_H

#include <sys/types.h>

/* open(2), except that when vmm runs as root a symbolic link as the last
 * component of `path` is followed only if root owns the link or the link's
 * owner owns the file it points to: a user who may write the directory of a
 * VM's disk image (its [vm] user, say) cannot point the next start of vmm
 * at a file of someone else's. This is the rule of the kernel's
 * fs.protected_symlinks, which applies only in sticky world-writable
 * directories, applied everywhere. A link is never followed to create a
 * file (O_CREAT through a dangling link fails with ENOENT). A refusal is
 * logged and fails with EPERM; -1 and errno as open(2). */
int safe_open(const char *path, int flags, mode_t mode);

#endif
