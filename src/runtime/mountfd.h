/* Mounting through file descriptors (open_tree, fsopen, mount_setattr,
 * move_mount): the target is an fd already resolved inside the rootfs, so a
 * symlink swapped in after resolution cannot redirect the mount. */
#ifndef BERTH_RUNTIME_MOUNTFD_H
#define BERTH_RUNTIME_MOUNTFD_H

#include <stdbool.h>
#include <stdint.h>

#include "util/error.h"

/* MS_* flags that describe a mount (not a superblock) as MOUNT_ATTR_*. */
uint64_t mountfd_attr_from_ms (unsigned long ms_flags);

/* Bind `source` (a host path, or "" with source_fd) onto target_fd.
 * attr_set/attr_clr apply to the top mount, rattr_* to the whole tree,
 * propagation (MS_SHARED ... maybe |MS_REC) too. `what` names it in errors. */
struct mountfd_bind
{
  const char *source;
  int source_fd; /* used when source is NULL */
  bool recursive;
  uint64_t attr_set, attr_clr;
  uint64_t rattr_set, rattr_clr;
  unsigned long propagation;
  int userns_fd; /* >= 0: an idmapped mount through this user namespace */
  bool idmap_recursive;
};
int mountfd_bind_onto (const struct mountfd_bind *b, int target_fd, const char *what, berth_err *err);

/* A new filesystem of `type` with comma-separated `data` options and MS_*
 * `flags`, attached onto target_fd. */
int mountfd_fs_onto (const char *type, const char *source, const char *data, unsigned long flags,
                     unsigned long propagation, int target_fd, const char *what, berth_err *err);

/* The same, returning an fd of the new mount's root (now attached). */
int mountfd_fs_attach (const char *type, const char *source, const char *data, unsigned long flags,
                       unsigned long propagation, int target_fd, const char *what, berth_err *err);

/* The two halves of mountfd_fs_attach: a detached mount of a new
 * filesystem (filled before anyone can see it: tmpcopyup), then attached. */
int mountfd_fs_create (const char *type, const char *source, const char *data, unsigned long flags, const char *what,
                       berth_err *err);
int mountfd_attach (int mnt, unsigned long propagation, int target_fd, const char *what, berth_err *err);

/* Change attributes of the mount at fd (recursive or not). */
int mountfd_setattr (int fd, bool recursive, uint64_t set, uint64_t clr, unsigned long propagation, const char *what,
                     berth_err *err);

#endif
