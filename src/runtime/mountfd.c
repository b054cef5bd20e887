#include "runtime/mountfd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "util/cleanup.h"

uint64_t
mountfd_attr_from_ms (unsigned long f)
{
  uint64_t a = 0;

  if (f & MS_RDONLY)
    a |= MOUNT_ATTR_RDONLY;
  if (f & MS_NOSUID)
    a |= MOUNT_ATTR_NOSUID;
  if (f & MS_NODEV)
    a |= MOUNT_ATTR_NODEV;
  if (f & MS_NOEXEC)
    a |= MOUNT_ATTR_NOEXEC;
  if (f & MS_NODIRATIME)
    a |= MOUNT_ATTR_NODIRATIME;
#ifdef MS_NOSYMFOLLOW
  if (f & MS_NOSYMFOLLOW)
    a |= MOUNT_ATTR_NOSYMFOLLOW;
#endif
  /* atime modes are one field: the last one written wins in mount(8) too. */
  if (f & MS_NOATIME)
    a |= MOUNT_ATTR_NOATIME;
  else if (f & MS_STRICTATIME)
    a |= MOUNT_ATTR_STRICTATIME;
  else if (f & MS_RELATIME)
    a |= MOUNT_ATTR_RELATIME;
  return a;
}

/* Setting one atime mode requires clearing the whole atime field. */
static void
fix_atime (uint64_t *set, uint64_t *clr)
{
  if (*set & (MOUNT_ATTR_NOATIME | MOUNT_ATTR_STRICTATIME | MOUNT_ATTR_RELATIME))
    *clr |= MOUNT_ATTR__ATIME;
  else if (*clr & (MOUNT_ATTR_NOATIME | MOUNT_ATTR_STRICTATIME))
    *clr |= MOUNT_ATTR__ATIME;
}

int
mountfd_setattr (int fd, bool recursive, uint64_t set, uint64_t clr, unsigned long propagation, const char *what,
                 berth_err *err)
{
  struct mount_attr attr = { 0 };
  unsigned int flags = AT_EMPTY_PATH;

  fix_atime (&set, &clr);
  attr.attr_set = set;
  attr.attr_clr = clr;
  attr.propagation = propagation & (MS_SHARED | MS_SLAVE | MS_PRIVATE | MS_UNBINDABLE);
  if (recursive || (propagation & MS_REC))
    flags |= AT_RECURSIVE;
  if (attr.attr_set == 0 && attr.attr_clr == 0 && attr.propagation == 0)
    return 0;
  if (mount_setattr (fd, "", flags, &attr, sizeof (attr)) < 0)
    return berth_fail (err, errno, "set mount attributes of `%s`", what);
  return 0;
}

int
mountfd_bind_onto (const struct mountfd_bind *b, int target_fd, const char *what, berth_err *err)
{
  unsigned int flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC;
  cleanup_close int tree = -1;

  if (b->recursive)
    flags |= AT_RECURSIVE;
  if (b->source)
    tree = open_tree (AT_FDCWD, b->source, flags);
  else
    tree = open_tree (b->source_fd, "", flags | AT_EMPTY_PATH);
  if (tree < 0)
    return berth_fail (err, errno, "bind mount source `%s` of `%s`", b->source ? b->source : "(fd)", what);
  /* The tree is still detached: nothing is visible before its attributes are
     set.  An id mapping can only be set on a detached tree. */
  if (b->userns_fd >= 0)
    {
      struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)b->userns_fd };
      if (mount_setattr (tree, "", AT_EMPTY_PATH | (b->idmap_recursive ? AT_RECURSIVE : 0), &attr, sizeof (attr)) < 0)
        return berth_fail (err, errno, "idmap mount of `%s`", what);
    }
  if (mountfd_setattr (tree, true, b->rattr_set, b->rattr_clr, 0, what, err) < 0)
    return -1;
  if (mountfd_setattr (tree, false, b->attr_set, b->attr_clr, 0, what, err) < 0)
    return -1;
  if (move_mount (tree, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
    return berth_fail (err, errno, "bind mount `%s` onto `%s`", b->source ? b->source : "(fd)", what);
  /* Propagation of the mount as attached (a detached tree cannot be shared). */
  if (b->propagation && mountfd_setattr (tree, false, 0, 0, b->propagation, what, err) < 0)
    return -1;
  return 0;
}

/* Superblock flags, given to the filesystem as fsconfig flags. */
static int
set_sb_flags (int fsfd, unsigned long flags, const char *what, berth_err *err)
{
  static const struct
  {
    unsigned long ms;
    const char *name;
  } table[] = {
    { MS_SYNCHRONOUS, "sync" },
    { MS_DIRSYNC, "dirsync" },
    { MS_LAZYTIME, "lazytime" },
    { MS_MANDLOCK, "mand" },
  };
  for (size_t i = 0; i < sizeof (table) / sizeof (table[0]); i++)
    if ((flags & table[i].ms) && fsconfig (fsfd, FSCONFIG_SET_FLAG, table[i].name, NULL, 0) < 0)
      return berth_fail (err, errno, "mount option `%s` of `%s`", table[i].name, what);
  return 0;
}

static int
set_fs_data (int fsfd, const char *data, const char *what, berth_err *err)
{
  cleanup_free char *copy = NULL;
  char *save = NULL;

  if (data == NULL || *data == '\0')
    return 0;
  copy = strdup (data);
  for (char *opt = strtok_r (copy, ",", &save); opt; opt = strtok_r (NULL, ",", &save))
    {
      char *eq = strchr (opt, '=');
      int r;
      if (eq)
        {
          *eq = '\0';
          r = fsconfig (fsfd, FSCONFIG_SET_STRING, opt, eq + 1, 0);
          *eq = '=';
        }
      else
        r = fsconfig (fsfd, FSCONFIG_SET_FLAG, opt, NULL, 0);
      if (r < 0)
        return berth_fail (err, errno, "mount option `%s` of `%s`", opt, what);
    }
  return 0;
}

int
mountfd_fs_onto (const char *type, const char *source, const char *data, unsigned long flags, unsigned long propagation,
                 int target_fd, const char *what, berth_err *err)
{
  int mnt = mountfd_fs_attach (type, source, data, flags, propagation, target_fd, what, err);
  if (mnt < 0)
    return -1;
  close (mnt);
  return 0;
}

int
mountfd_fs_create (const char *type, const char *source, const char *data, unsigned long flags, const char *what,
                   berth_err *err)
{
  cleanup_close int fsfd = -1;
  int mnt;

  fsfd = fsopen (type, FSOPEN_CLOEXEC);
  if (fsfd < 0)
    return berth_fail (err, errno, "mount `%s`: filesystem type `%s`", what, type);
  if (source && *source && fsconfig (fsfd, FSCONFIG_SET_STRING, "source", source, 0) < 0)
    return berth_fail (err, errno, "mount `%s`: source `%s`", what, source);
  if (set_fs_data (fsfd, data, what, err) < 0 || set_sb_flags (fsfd, flags, what, err) < 0)
    return -1;
  if (fsconfig (fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
    return berth_fail (err, errno, "mount `%s` (type %s, options `%s`)", what, type, data ? data : "");
  mnt = fsmount (fsfd, FSMOUNT_CLOEXEC, (unsigned int)mountfd_attr_from_ms (flags));
  if (mnt < 0)
    return berth_fail (err, errno, "mount `%s` (type %s)", what, type);
  return mnt;
}

int
mountfd_attach (int mnt, unsigned long propagation, int target_fd, const char *what, berth_err *err)
{
  if (move_mount (mnt, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
    return berth_fail (err, errno, "attach `%s`", what);
  /* Propagation of the mount as attached (a detached tree cannot be shared). */
  if (propagation && mountfd_setattr (mnt, false, 0, 0, propagation, what, err) < 0)
    return -1;
  return 0;
}

int
mountfd_fs_attach (const char *type, const char *source, const char *data, unsigned long flags,
                   unsigned long propagation, int target_fd, const char *what, berth_err *err)
{
  cleanup_close int mnt = mountfd_fs_create (type, source, data, flags, what, err);

  if (mnt < 0 || mountfd_attach (mnt, propagation, target_fd, what, err) < 0)
    return -1;
  return steal_fd (&mnt);
}
