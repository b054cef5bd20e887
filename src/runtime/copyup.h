/* Copying a directory tree between two directory fds: tmpcopyup (a tmpfs
 * filled with what the image has at its mount point) and berthd's image
 * volumes (a volume dir filled with what the image has at the volume's
 * path, as containerd's WithVolumes). */
#ifndef BERTH_RUNTIME_COPYUP_H
#define BERTH_RUNTIME_COPYUP_H

#include "util/error.h"

/* Copy extended attributes of files and directories too (not of symlinks),
 * less security.selinux (the copy gets its own label, as containerd) and
 * trusted.overlay.* (overlayfs' own).  A namespace the destination
 * filesystem does not support (EOPNOTSUPP) is skipped. */
#define COPYUP_XATTRS 0x1u

struct copyup_opts
{
  const char *op;   /* first word of error messages: "tmpcopyup", "image volume" */
  const char *what; /* names the tree in errors: the mount point, the volume */
  unsigned flags;   /* COPYUP_* */
};

/* Copy everything under src_dir into dst_dir (both directory fds, O_PATH
 * allowed) with owners, modes and times; dst_dir's own owner and mode become
 * src_dir's.  Symlinks are copied, never followed; files hard linked
 * together inside the tree stay linked in the copy.  dst_dir should be
 * empty: an existing name is an error (EEXIST). */
int copyup_tree_opts (int src_dir, int dst_dir, const struct copyup_opts *o, berth_err *err);

/* copyup_tree_opts for tmpcopyup: op "tmpcopyup", `what` the mount point,
 * no xattrs (as runc and crun). */
int copyup_tree (int src_dir, int dst_dir, const char *what, berth_err *err);

/* The tree at `path` inside the root `rootfd` (util/path.h's resolver: a
 * symlink anywhere along `path` resolves inside the root, never to the
 * host), copied into dst_dir as copyup_tree_opts does.  Returns 1 when it
 * copied, 0 when the root has nothing at `path` (dst_dir is left as it
 * is), -1 on error (ENOTDIR: `path` is not a directory). */
int safe_copyup_from_root (int rootfd, const char *path, int dst_dir, const struct copyup_opts *o, berth_err *err);

#endif
