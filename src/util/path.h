/* The one resolver for paths under a container rootfs.
 *
 * Every path inside a rootfs (mount destinations, devices, files the runtime
 * creates or reads) goes through these functions, never through open() on a
 * joined host path: a symlink planted by the image or by a concurrent
 * container process (CVE-2021-30465) must not lead outside the rootfs.
 *
 * `rootfd` is an fd of the rootfs directory (O_PATH is enough).  `path` may
 * be absolute or relative; either way it is interpreted as if `rootfd` were
 * "/": absolute symlink targets restart at `rootfd`, ".." stops there.
 *
 * The kernel does this with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
 * without openat2 (ENOSYS, or blocked by a seccomp filter) a userspace walk
 * opens one component at a time with O_PATH|O_NOFOLLOW, reads symlinks
 * itself (at most 255 per lookup, then ELOOP) and treats ".." lexically.
 *
 * Every returned fd is O_CLOEXEC.  Error messages name the path as seen
 * inside the rootfs:  open "/etc/foo" in rootfs: No such file or directory
 */
#ifndef BERTH_UTIL_PATH_H
#define BERTH_UTIL_PATH_H

#include <stdbool.h>
#include <sys/types.h>

#include "util/error.h"

/* Most symlinks followed in one lookup by the userspace walk. */
#define SAFE_PATH_MAX_SYMLINKS 255

/* openat() inside the root.  `flags` are open(2) flags (O_CLOEXEC is always
 * added); `mode` is used only with O_CREAT/O_TMPFILE.  O_CREAT on a dangling
 * symlink creates its target inside the root, as open(2) would inside "/";
 * O_NOFOLLOW refers to the last component only.  Returns an fd or -1. */
int safe_openat_in_root (int rootfd, const char *path, int flags, mode_t mode, berth_err *err);

/* mkdir -p inside the root: every missing component is created with
 * mkdirat() on the fd of its already resolved parent, and symlinks along the
 * way (dangling ones included) are followed inside the root.  Returns an
 * O_PATH|O_DIRECTORY fd of the final directory or -1 (ENOTDIR when a
 * component exists and is not a directory). */
int safe_mkdir_p_in_root (int rootfd, const char *path, mode_t mode, berth_err *err);

/* Creates the parents of `path` (as safe_mkdir_p_in_root, mode 0755) and
 * the file itself (empty, `mode`) when missing; an existing file of any type
 * is kept.  Returns an O_PATH fd of it, e.g. for a bind mount target. */
int safe_create_file_in_root (int rootfd, const char *path, mode_t mode, berth_err *err);

/* The resolved path of an existing `path`, relative to the root and
 * starting with "/" (the root itself is "/").  Caller frees.  NULL on
 * error. */
char *safe_resolve_in_root (int rootfd, const char *path, berth_err *err);

/* Tests only: make every call above use the userspace walk. */
void safe_path_force_fallback (bool on);

#endif
